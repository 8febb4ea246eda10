/* New-session rate limits (--session-rate-ip, --session-rate-app): token buckets.
 *
 * A bucket holds up to `burst` tokens and gains `rate` tokens per second; opening a session
 * takes one. The per-app buckets are a fixed array (one per configured key/app pair); the
 * per-address buckets live in a fixed-size table (open addressing over a short probe run).
 * An entry whose bucket has refilled to its burst is expired: it is indistinguishable from a
 * fresh one, so its slot is reused. When the probe run holds no expired or empty slot, the
 * entry updated longest ago is evicted (and counted), so the table never grows and an
 * address can at worst get a fresh burst after that many other addresses have come by.
 * Only the network thread (upgrade auth) uses these. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define SESSION_RATE_PROBES 8

typedef struct rate_slot {
  char key[48]; /* client address; "" = empty */
  ak_bucket b;
} rate_slot;

struct ak_bucket_table {
  rate_slot *e;
  size_t n;
  uint64_t evictions;
};

static void refill(ak_bucket *b, double rate, double burst, int64_t now_us) {
  if (!b->init) {
    b->tokens = burst;
    b->last_us = now_us;
    b->init = 1;
    return;
  }
  if (now_us > b->last_us) {
    b->tokens += rate * (double)(now_us - b->last_us) / 1e6;
    if (b->tokens > burst) b->tokens = burst;
    b->last_us = now_us;
  }
}

int ak__bucket_wait(ak_bucket *b, double rate, double burst, int64_t now_us) {
  if (rate <= 0) return 0;
  refill(b, rate, burst, now_us);
  if (b->tokens >= 1.0) return 0;
  int s = (int)ceil((1.0 - b->tokens) / rate);
  return s < 1 ? 1 : s;
}

void ak__bucket_take(ak_bucket *b, double rate, double burst, int64_t now_us) {
  if (rate <= 0) return;
  refill(b, rate, burst, now_us);
  b->tokens -= 1.0;
}

ak_bucket_table *ak__bucket_table_new(size_t n) {
  if (n < SESSION_RATE_PROBES) n = SESSION_RATE_PROBES;
  ak_bucket_table *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->e = calloc(n, sizeof *t->e);
  if (!t->e) {
    free(t);
    return NULL;
  }
  t->n = n;
  return t;
}

void ak__bucket_table_free(ak_bucket_table *t) {
  if (!t) return;
  free(t->e);
  free(t);
}

static int expired(const ak_bucket *b, double rate, double burst, int64_t now_us) {
  return b->tokens + rate * (double)(now_us - b->last_us) / 1e6 >= burst;
}

ak_bucket *ak__bucket_table_get(ak_bucket_table *t, const char *key, double rate, double burst,
                                int64_t now_us) {
  uint32_t h = 2166136261u;
  for (const char *p = key; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
  rate_slot *free_slot = NULL, *oldest = NULL;
  for (size_t k = 0; k < SESSION_RATE_PROBES; k++) {
    rate_slot *e = &t->e[(h + k) % t->n];
    if (!e->key[0]) {
      if (!free_slot) free_slot = e;
      continue;
    }
    if (!strncmp(e->key, key, sizeof e->key - 1)) return &e->b;
    if (expired(&e->b, rate, burst, now_us)) {
      if (!free_slot) free_slot = e;
      continue;
    }
    if (!oldest || e->b.last_us < oldest->b.last_us) oldest = e;
  }
  rate_slot *slot = free_slot;
  if (!slot) {
    slot = oldest;
    t->evictions++;
  }
  snprintf(slot->key, sizeof slot->key, "%s", key);
  memset(&slot->b, 0, sizeof slot->b);
  return &slot->b;
}

size_t ak__bucket_table_live(const ak_bucket_table *t, double rate, double burst, int64_t now_us) {
  size_t live = 0;
  for (size_t i = 0; i < t->n; i++)
    if (t->e[i].key[0] && !expired(&t->e[i].b, rate, burst, now_us)) live++;
  return live;
}

uint64_t ak__bucket_table_evictions(const ak_bucket_table *t) {
  return t->evictions;
}
size_t ak__bucket_table_size(const ak_bucket_table *t) {
  return t->n;
}

int ak__session_rate_check(ak_server *s, const char *ip, int app_index, int64_t now_us,
                           int *scope) {
  const ak_server_config *c = &s->cfg;
  ak_bucket *bi = NULL, *ba = NULL;
  if (c->session_rate_ip > 0 && s->session_ip_rate && ip && ip[0])
    bi = ak__bucket_table_get(s->session_ip_rate, ip, c->session_rate_ip, c->session_burst_ip,
                              now_us);
  if (c->session_rate_app > 0 && app_index >= 0 && app_index < AK_MAX_APPS)
    ba = &s->session_app_rate[app_index];
  int wi = bi ? ak__bucket_wait(bi, c->session_rate_ip, c->session_burst_ip, now_us) : 0;
  int wa = ba ? ak__bucket_wait(ba, c->session_rate_app, c->session_burst_app, now_us) : 0;
  if (wi || wa) { /* refused: neither bucket is charged */
    *scope = wi >= wa ? 1 : 2;
    return wi > wa ? wi : wa;
  }
  if (bi) ak__bucket_take(bi, c->session_rate_ip, c->session_burst_ip, now_us);
  if (ba) ak__bucket_take(ba, c->session_rate_app, c->session_burst_app, now_us);
  *scope = 0;
  return 0;
}
