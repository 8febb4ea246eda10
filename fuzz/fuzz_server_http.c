/* Fuzz target: the motion server's HTTP request handling, as pure functions of the request's
 * strings (http.c): the static file path checks, the token API body parser, CORS origin
 * matching, the per-IP rate table and the API key lookup. Input: NUL-separated fields
 * "uri \0 body \0 api-key \0 origin". Checks the documented invariants. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const char *field(const char **p, const char *end) {
  const char *s = *p;
  const char *z = memchr(s, 0, (size_t)(end - s));
  *p = z ? z + 1 : end;
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 16384) return 0;
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = '\0';
  const char *p = buf, *end = buf + size;
  const char *uri = field(&p, end), *body = field(&p, end), *key = field(&p, end);
  const char *origin = field(&p, end);

  /* A servable uri has no dot component and no backslash. */
  if (ak__http_static_uri_ok(uri) == 0) {
    if (uri[0] != '/' || strstr(uri, "/.") || strchr(uri, '\\')) abort();
  }
  /* Inside by components: the root, then end or a separator. */
  if (ak__http_path_inside("/srv/site", uri) == 0) {
    if (strncmp(uri, "/srv/site", 9) != 0 || (uri[9] != '\0' && uri[9] != '/')) abort();
  }
  int64_t exp = 0;
  char err[160];
  size_t blen = strlen(body);
  if (ak__http_parse_token_body(body, blen, 1000000, 86400, &exp, err, sizeof err) == 0) {
    if (exp < 1000000 || exp > 1000000 + 86400) abort();
  } else if (!memchr(err, 0, sizeof err) || !err[0]) {
    abort();
  }

  static ak_server s;
  if (!s.cfg.n_apps) {
    ak__server_config_defaults(&s.cfg);
    snprintf(s.cfg.apps[0].api_key, AK_MAX_STR, "%s", "the-key");
    snprintf(s.cfg.apps[0].app_id, AK_MAX_STR, "%s", "the-app");
    s.cfg.n_apps = 1;
    snprintf(s.cfg.cors_origins[0], AK_MAX_STR, "%s", "https://ok.example");
    s.cfg.n_cors_origins = 1;
  }
  const ak_app *app = ak__auth_api_key(&s, key, strlen(key));
  if (app != NULL && strcmp(key, "the-key") != 0) abort();
  char allow[AK_MAX_STR];
  if (ak__http_cors_allowed(&s.cfg, origin, allow, sizeof allow) &&
      strcmp(origin, "https://ok.example") != 0)
    abort();

  static ak_rate_table *rate;
  if (!rate) rate = ak__rate_new();
  int wait = ak__rate_check(rate, key, (int64_t)size, 3);
  if (wait < 0 || wait > 60) abort();
  free(buf);
  return 0;
}
