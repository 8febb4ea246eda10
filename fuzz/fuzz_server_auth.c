/* Fuzz target: the ingress upgrade verdict (auth.c) from the request's strings. Input:
 * byte 0 = flags (bit 0: replace the token by a freshly issued valid one, bit 1: consume,
 * bit 2: reusable tokens, bit 3: token for the other app, bit 4: expire the set), then
 * NUL-separated "uri \0 app id \0 token \0 avatar id". Checks that a verdict is one of the
 * documented answers and that an allowed upgrade really had a valid token for the app it names. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

static const char *field(const char **p, const char *end) {
  const char *s = *p;
  const char *z = memchr(s, 0, (size_t)(end - s));
  *p = z ? z + 1 : end;
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  static ak_server s;
  if (!s.cfg.n_apps) {
    ak__server_config_defaults(&s.cfg);
    memset(s.cfg.token_secret, 0x33, sizeof s.cfg.token_secret);
    snprintf(s.cfg.apps[0].api_key, AK_MAX_STR, "%s", "k1");
    snprintf(s.cfg.apps[0].app_id, AK_MAX_STR, "%s", "app1");
    snprintf(s.cfg.apps[1].api_key, AK_MAX_STR, "%s", "k2");
    snprintf(s.cfg.apps[1].app_id, AK_MAX_STR, "%s", "app2");
    s.cfg.n_apps = 2;
    snprintf(s.cfg.avatars[0], AK_MAX_STR, "%s", "av1");
    s.cfg.n_avatars = 1;
    s.cfg.token_table_size = 1024;
  }
  char *buf = malloc(size);
  if (!buf) return 0;
  memcpy(buf, data + 1, size - 1);
  buf[size - 1] = '\0';
  const char *p = buf, *end = buf + size - 1;
  ak__auth_input in;
  in.uri = field(&p, end);
  in.app_id = field(&p, end);
  in.token = field(&p, end);
  in.avatar_id = field(&p, end);
  in.client_ip = NULL;
  char fresh[512];
  if (data[0] & 1) {
    const char *app = (data[0] & 8) ? "app2" : "app1";
    if (ak__token_issue(&s, app, (int64_t)time(NULL) + 60, fresh, sizeof fresh)) abort();
    in.token = fresh;
  }
  s.cfg.token_single_use = !(data[0] & 4);
  ak__auth_verdict v;
  ak__auth_judge(&s, &in, (data[0] >> 1) & 1, &v);
  switch (v.status) {
    case 0: {
      char app[AK_MAX_STR];
      int64_t exp;
      if (ak__token_verify(&s, in.token, (int64_t)time(NULL), app, sizeof app, &exp) !=
              AK_TOKEN_OK ||
          strcmp(app, in.app_id) != 0 || strcmp(in.avatar_id, "av1") != 0 ||
          strcmp(in.uri, "/v2/driveningress/websocket") != 0)
        abort();
      break;
    }
    case 400:
    case 401:
    case 404:
    case 503:
      if (!v.detail || !v.code || !v.title) abort();
      break;
    default:
      abort();
  }
  if (ak__token_set_count(s.seen) > 1024) abort();
  if (data[0] & 16) ak__token_gc(&s, (int64_t)time(NULL) + 3600); /* a full set empties */
  free(buf);
  return 0;
}
