/* Session tokens: "v1.<app_id b64url>.<expireAt>.<nonce>.<HMAC-SHA256 b64url>", signed with the
 * server secret so any node sharing the secret can verify them; single use is tracked per
 * node in a bounded table until each token's expiry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "server.h"

#define MAX_SEEN 65536 /* tokens remembered for single use; oldest expiring dropped first */

struct ak_token_seen {
  char nonce[24];
  int64_t exp;
  ak_token_seen *next;
};

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64u_encode(const uint8_t *in, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < n) v |= in[i + 2];
    int chars = i + 2 < n ? 4 : (i + 1 < n ? 3 : 2);
    for (int k = 0; k < chars; k++) {
      if (o + 1 >= cap) return 0;
      out[o++] = b64u[(v >> (18 - 6 * k)) & 63];
    }
  }
  out[o] = '\0';
  return o;
}

static int b64u_decode(const char *in, size_t n, uint8_t *out, size_t cap) {
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    const char *p = memchr(b64u, in[i], 64);
    if (!p || !in[i]) return -1;
    acc = (acc << 6) | (uint32_t)(p - b64u);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o >= cap) return -1;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  return (int)o;
}

static int sign(const ak_server *s, const char *msg, size_t n, char *out, size_t cap) {
  uint8_t mac[32];
  unsigned int mlen = 0;
  if (!HMAC(EVP_sha256(), s->cfg.token_secret, sizeof s->cfg.token_secret, (const uint8_t *)msg, n,
            mac, &mlen) ||
      mlen != 32)
    return -1;
  return b64u_encode(mac, 32, out, cap) ? 0 : -1;
}

int ak__token_issue(const ak_server *s, const char *app_id, int64_t expire_at, char *out,
                    size_t cap) {
  char app64[2 * AK_MAX_STR], nonce[24], sig[64], body[512];
  uint8_t rnd[12];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) return -1;
  if (!b64u_encode((const uint8_t *)app_id, strlen(app_id), app64, sizeof app64)) return -1;
  b64u_encode(rnd, sizeof rnd, nonce, sizeof nonce);
  int n = snprintf(body, sizeof body, "v1.%s.%lld.%s", app64, (long long)expire_at, nonce);
  if (n < 0 || (size_t)n >= sizeof body || sign(s, body, (size_t)n, sig, sizeof sig)) return -1;
  int m = snprintf(out, cap, "%s.%s", body, sig);
  return (m < 0 || (size_t)m >= cap) ? -1 : 0;
}

/* Splits the token; returns pointers to the nonce inside token via *nonce. */
int ak__token_verify(const ak_server *s, const char *token, int64_t now, char *app_id,
                     size_t app_cap, int64_t *expire_at) {
  size_t n = strlen(token);
  if (n < 10 || n > 600 || strncmp(token, "v1.", 3) != 0) return AK_TOKEN_INVALID;
  const char *sig = strrchr(token, '.');
  if (!sig || sig == token) return AK_TOKEN_INVALID;
  char want[64];
  if (sign(s, token, (size_t)(sig - token), want, sizeof want)) return AK_TOKEN_INVALID;
  if (strlen(sig + 1) != strlen(want) || CRYPTO_memcmp(sig + 1, want, strlen(want)) != 0)
    return AK_TOKEN_INVALID;
  /* Signed, so the layout is ours: v1.<app64>.<exp>.<nonce> */
  const char *a = token + 3, *dot1 = strchr(a, '.');
  if (!dot1) return AK_TOKEN_INVALID;
  char *end = NULL;
  long long exp = strtoll(dot1 + 1, &end, 10);
  if (!end || *end != '.') return AK_TOKEN_INVALID;
  uint8_t app[AK_MAX_STR];
  int alen = b64u_decode(a, (size_t)(dot1 - a), app, sizeof app - 1);
  if (alen <= 0 || (size_t)alen >= app_cap) return AK_TOKEN_INVALID;
  memcpy(app_id, app, (size_t)alen);
  app_id[alen] = '\0';
  *expire_at = exp;
  return exp <= now ? AK_TOKEN_EXPIRED : AK_TOKEN_OK;
}

static void nonce_of(const char *token, char *out, size_t cap) {
  const char *sig = strrchr(token, '.');
  const char *p = sig;
  while (p > token && p[-1] != '.') p--;
  size_t n = (size_t)(sig - p);
  if (n >= cap) n = cap - 1;
  memcpy(out, p, n);
  out[n] = '\0';
}

void ak__token_gc(ak_server *s, int64_t now) {
  ak_token_seen **pp = &s->seen;
  while (*pp) {
    if ((*pp)->exp <= now) {
      ak_token_seen *dead = *pp;
      *pp = dead->next;
      free(dead);
    } else {
      pp = &(*pp)->next;
    }
  }
}

int ak__token_consume(ak_server *s, const char *token, int64_t expire_at, int64_t now) {
  if (!s->cfg.token_single_use) return AK_TOKEN_OK;
  char nonce[24];
  nonce_of(token, nonce, sizeof nonce);
  size_t count = 0;
  for (ak_token_seen *t = s->seen; t; t = t->next, count++)
    if (strcmp(t->nonce, nonce) == 0) return AK_TOKEN_REUSED;
  if (count >= MAX_SEEN) ak__token_gc(s, now);
  ak_token_seen *t = calloc(1, sizeof *t);
  if (!t) return AK_TOKEN_INVALID;
  snprintf(t->nonce, sizeof t->nonce, "%s", nonce);
  t->exp = expire_at;
  t->next = s->seen;
  s->seen = t;
  return AK_TOKEN_OK;
}

void ak__token_free_all(ak_server *s) {
  while (s->seen) {
    ak_token_seen *t = s->seen;
    s->seen = t->next;
    free(t);
  }
}
