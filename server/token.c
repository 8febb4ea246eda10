/* Session tokens: "v1.<app_id b64url>.<expireAt>.<nonce>.<HMAC-SHA256 b64url>", signed with the
 * server secret so any node sharing the secret can verify them; single use is tracked per
 * node in a bounded expiring set (below) until each token's expiry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "server.h"

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

/* ---- The single-use set ------------------------------------------------------------------
 * Entries live in one array allocated at start (calloc: pages are only touched as the set
 * fills). A hash table of chains (bucket heads and next links are indices, 0 = none) finds a
 * key in O(1); an expiry wheel of WHEEL_SLOTS lists, each covering `gran` seconds, drops
 * entries as their slot passes, so expiry costs what expires and never scans live entries.
 * An entry whose expiry lies beyond one turn of the wheel (a token from a node with a longer
 * --max-token-ttl) is parked in the last slot of the turn and re-filed when it comes round. */
#define WHEEL_SLOTS 4096u

typedef struct ts_entry {
  uint8_t key[16];
  int64_t exp;
  uint32_t hnext; /* next in hash chain (index + 1), or next free */
  uint32_t wnext; /* next in wheel slot (index + 1) */
} ts_entry;

struct ak_token_set {
  ts_entry *e;
  uint32_t cap, count, free_head; /* free_head: index + 1 of the first freed entry */
  uint32_t used_hw;               /* entries ever handed out: the rest are untouched pages */
  uint32_t nbuckets;              /* power of two */
  uint32_t *buckets;
  uint32_t wheel[WHEEL_SLOTS];
  int64_t gran;     /* seconds per wheel slot */
  int64_t cursor;   /* first absolute slot (exp / gran) not yet expired */
  uint64_t seed[2]; /* hash key: random per set, so chains cannot be steered */
};

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

static uint32_t ts_bucket(const ak_token_set *t, const uint8_t key[16]) {
  uint64_t a, b;
  memcpy(&a, key, 8);
  memcpy(&b, key + 8, 8);
  return (uint32_t)(mix64(mix64(a ^ t->seed[0]) ^ b ^ t->seed[1]) & (t->nbuckets - 1));
}

ak_token_set *ak__token_set_new(size_t capacity, int max_ttl_s) {
  if (capacity < 1 || capacity > (1u << 26)) return NULL;
  ak_token_set *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->cap = (uint32_t)capacity;
  t->nbuckets = 1;
  while (t->nbuckets < t->cap) t->nbuckets <<= 1;
  t->e = calloc(capacity, sizeof *t->e);
  t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
  if (!t->e || !t->buckets || getrandom(t->seed, sizeof t->seed, 0) != (ssize_t)sizeof t->seed) {
    ak__token_set_free(t);
    return NULL;
  }
  /* Entries come from the high-water mark first, so pages are touched only as it fills. */
  int64_t ttl = max_ttl_s > 0 ? max_ttl_s : 1;
  t->gran = (ttl + WHEEL_SLOTS - 2) / (WHEEL_SLOTS - 1);
  if (t->gran < 1) t->gran = 1;
  t->cursor = -1; /* set by the first insert or expire */
  return t;
}

void ak__token_set_free(ak_token_set *t) {
  if (!t) return;
  free(t->e);
  free(t->buckets);
  free(t);
}

size_t ak__token_set_count(const ak_token_set *t) {
  return t ? t->count : 0;
}

static void ts_file(ak_token_set *t, uint32_t idx1) {
  int64_t slot = t->e[idx1 - 1].exp / t->gran;
  if (slot < t->cursor) slot = t->cursor;
  if (slot > t->cursor + (int64_t)WHEEL_SLOTS - 1) slot = t->cursor + WHEEL_SLOTS - 1;
  uint32_t w = (uint32_t)(slot % WHEEL_SLOTS);
  t->e[idx1 - 1].wnext = t->wheel[w];
  t->wheel[w] = idx1;
}

static void ts_unhash(ak_token_set *t, uint32_t idx1) {
  uint32_t *pp = &t->buckets[ts_bucket(t, t->e[idx1 - 1].key)];
  while (*pp && *pp != idx1) pp = &t->e[*pp - 1].hnext;
  if (*pp) *pp = t->e[idx1 - 1].hnext;
}

void ak__token_set_expire(ak_token_set *t, int64_t now) {
  if (!t || now < 0) return;
  int64_t cur = now / t->gran; /* slots before cur hold only entries with exp < cur*gran <= now */
  if (t->cursor < 0) {
    t->cursor = cur;
    return;
  }
  /* A jump of more than one turn visits each slot once (entries re-filed ahead of cursor). */
  int64_t steps = cur - t->cursor;
  if (steps > (int64_t)WHEEL_SLOTS) steps = WHEEL_SLOTS;
  for (int64_t k = 0; k < steps; k++) {
    uint32_t w = (uint32_t)((t->cursor + k) % WHEEL_SLOTS);
    uint32_t i1 = t->wheel[w];
    t->wheel[w] = 0;
    while (i1) {
      ts_entry *e = &t->e[i1 - 1];
      uint32_t next = e->wnext;
      if (e->exp <= now) {
        ts_unhash(t, i1);
        e->hnext = t->free_head;
        t->free_head = i1;
        t->count--;
      } else {
        /* parked (beyond a turn): file again from the new cursor */
        int64_t save = t->cursor;
        t->cursor = cur;
        ts_file(t, i1);
        t->cursor = save;
      }
      i1 = next;
    }
  }
  if (cur > t->cursor) t->cursor = cur;
}

int ak__token_set_insert(ak_token_set *t, const uint8_t key[16], int64_t expire_at, int64_t now) {
  if (t->cursor < 0) t->cursor = now / t->gran;
  uint32_t b = ts_bucket(t, key);
  for (uint32_t i1 = t->buckets[b]; i1; i1 = t->e[i1 - 1].hnext)
    if (memcmp(t->e[i1 - 1].key, key, 16) == 0)
      return AK_TOKEN_REUSED; /* expired ones never verify, so no replay */
  if (!t->free_head && t->used_hw >= t->cap) {
    ak__token_set_expire(t, now);
    if (!t->free_head) return AK_TOKEN_FULL;
  }
  uint32_t i1;
  if (t->free_head) {
    i1 = t->free_head;
    t->free_head = t->e[i1 - 1].hnext;
  } else {
    i1 = ++t->used_hw;
  }
  ts_entry *e = &t->e[i1 - 1];
  memcpy(e->key, key, 16);
  e->exp = expire_at;
  e->hnext = t->buckets[b];
  t->buckets[b] = i1;
  ts_file(t, i1);
  t->count++;
  return AK_TOKEN_OK;
}

/* The key of a verified token: the first 16 bytes of its (unique, canonical) signature. */
static int key_of(const char *token, uint8_t key[16]) {
  const char *sig = strrchr(token, '.');
  uint8_t mac[33];
  if (!sig || b64u_decode(sig + 1, strlen(sig + 1), mac, sizeof mac) < 16) return -1;
  memcpy(key, mac, 16);
  return 0;
}

void ak__token_gc(ak_server *s, int64_t now) {
  ak__token_set_expire(s->seen, now);
}

int ak__token_consume(ak_server *s, const char *token, int64_t expire_at, int64_t now) {
  if (!s->cfg.token_single_use) return AK_TOKEN_OK;
  uint8_t key[16];
  if (key_of(token, key)) return AK_TOKEN_INVALID;
  /* Shared store first (--redis): single use across nodes. A refusal there burns nothing
   * here; the local set below still holds per node should Redis lose its data. */
  if (s->redis) {
    int r = ak__redis_consume(s->redis, key, expire_at, ak__now_us());
    if (r != AK_TOKEN_OK) return r;
  }
  if (!s->seen) {
    s->seen = ak__token_set_new((size_t)s->cfg.token_table_size, s->cfg.max_token_ttl_s);
    if (!s->seen) return AK_TOKEN_FULL;
  }
  int rc = ak__token_set_insert(s->seen, key, expire_at, now);
  if (rc == AK_TOKEN_FULL) s->m.token_table_full++;
  return rc;
}

void ak__token_free_all(ak_server *s) {
  ak__token_set_free(s->seen);
  s->seen = NULL;
  ak__redis_free(s->redis);
  s->redis = NULL;
}
