/* Fuzz target: session token verification and the single-use set (token.c). The input is
 * verified as a token; byte 0 also picks an app id to issue a real token for, which must
 * verify back to that app. Keys from the input go through the bounded set: a key just
 * inserted must then be refused as reused. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  static ak_server s;
  static ak_token_set *set;
  if (!set) {
    ak__server_config_defaults(&s.cfg);
    memset(s.cfg.token_secret, 0x5a, sizeof s.cfg.token_secret);
    set = ak__token_set_new(4096, 3600);
    if (!set) abort();
  }
  char *tok = malloc(size + 1);
  if (!tok) return 0;
  memcpy(tok, data, size);
  tok[size] = '\0';
  char app[AK_MAX_STR];
  int64_t exp = 0, now = 1700000000;
  int rc = ak__token_verify(&s, tok, now, app, sizeof app, &exp);
  if (rc != AK_TOKEN_OK && rc != AK_TOKEN_INVALID && rc != AK_TOKEN_EXPIRED) abort();
  if (rc == AK_TOKEN_OK && (exp <= now || !memchr(app, 0, sizeof app))) abort();

  /* round trip: an app id from the input (printable, bounded) */
  char want[64];
  size_t n = 0;
  for (size_t i = 0; i < size && n < sizeof want - 1; i++)
    if (data[i] > 32 && data[i] < 127) want[n++] = (char)data[i];
  want[n] = '\0';
  if (n) {
    char real[512];
    if (ak__token_issue(&s, want, now + 60, real, sizeof real) != 0) abort();
    if (ak__token_verify(&s, real, now, app, sizeof app, &exp) != AK_TOKEN_OK ||
        strcmp(app, want) != 0 || exp != now + 60)
      abort();
  }

  /* the set: insert keys taken from the input, with expiries from it too */
  for (size_t off = 0; off + 17 <= size; off += 17) {
    int64_t e = now + 1 + data[off + 16] * 20;
    int r = ak__token_set_insert(set, data + off, e, now);
    if (r == AK_TOKEN_OK && ak__token_set_insert(set, data + off, e, now) != AK_TOKEN_REUSED)
      abort();
    if (r != AK_TOKEN_OK && r != AK_TOKEN_REUSED && r != AK_TOKEN_FULL) abort();
  }
  if (size && data[0] == 0xff) ak__token_set_expire(set, now + 4000); /* empties it */
  if (ak__token_set_count(set) > 4096) abort();
  free(tok);
  return 0;
}
