/* Fuzz target: the server SDK's parsers of untrusted text - URLs from configuration, the
 * console API's token and JSON error bodies, ServerError phrases. Input: first byte picks the
 * HTTP status class, the rest is the text. Results must stay within the documented codes and
 * every written message must be NUL-terminated within its buffer. */
#include <stdlib.h>
#include <string.h>

#include "../sdk/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 65536) return 0;
  static const int statuses[] = {0, 200, 400, 401, 402, 403, 404, 429, 500, 503};
  int status = statuses[data[0] % (sizeof statuses / sizeof statuses[0])];
  char *text = malloc(size);
  if (!text) return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';

  char msg[AKS_MSG_MAX];
  memset(msg, 'x', sizeof msg);
  int code = aks__classify_http(status, text, data[0] & 1, msg, sizeof msg);
  if (code > 0 || code < AKS_UPSTREAM_ERROR || !memchr(msg, 0, sizeof msg)) abort();

  code = aks__classify_server_error(data[0], text);
  if (code > 0 || code < AKS_UPSTREAM_ERROR) abort();

  aks__http_result *res = calloc(1, sizeof *res);
  if (res && aks__parse_token_body(text, res) == AKS_OK &&
      (!res->token[0] || !memchr(res->token, 0, sizeof res->token)))
    abort();
  free(res);

  aks__url u;
  if (aks__url_parse(text, &u) == AKS_OK) {
    if (!u.host[0] || u.port < 1 || u.port > 65535 || u.path[0] != '/') abort();
    char path[AKS_URL_MAX * 2];
    if (aks__ingress_path(&u, text, "app", "tok", data[0] & 1, path, sizeof path) == AKS_OK &&
        strncmp(path, u.path, 1) != 0)
      abort();
  }
  free(text);
  return 0;
}
