/* Shared single-use token state in Redis (--redis URL), so a token consumed on one node is
 * refused on every node sharing --token-secret and the same Redis.
 *
 * Design: hiredis' synchronous API with a short connect and command timeout, called on the lws
 * service thread (the upgrade check and the tick). Loopback or LAN Redis answers a SET in well
 * under a millisecond, so the loop is held for that; an unreachable Redis holds it for at most
 * the timeout once, then a backoff (doubling up to AK_REDIS_BACKOFF_MAX_MS) answers "down" at
 * once without touching the network, so a dead Redis never stalls the loop repeatedly. A
 * dedicated thread or hiredis async would never hold the loop at all, at the price of turning
 * the upgrade into a deferred answer; not needed at the timeouts used here.
 *
 * Consuming a token is one atomic `SET ak:tok:<hex of the signature's first 16 bytes> 1 NX
 * EXAT <expiry>`: "OK" = first use, nil = already used (on any node), anything else = the
 * store is down and the upgrade is refused (503), never let through unrecorded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "server.h"

#ifdef AK_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

#define AK_REDIS_BACKOFF_MIN_MS 100
#define AK_REDIS_BACKOFF_MAX_MS 2000
/* A PING from the tick when the store was idle this long (keeps /healthz current). */
#define AK_REDIS_PROBE_US 1000000ll

struct ak_redis {
  char host[256];
  int port, db;
  char user[AK_MAX_STR], pass[AK_MAX_STR];
  int timeout_ms;
  int up;               /* last call succeeded */
  int64_t retry_at_us;  /* no network attempt before this while down */
  int backoff_ms;       /* next backoff */
  int64_t last_used_us; /* last command sent */
  ak_counter *failures; /* the server's metric */
  const ak_server *srv; /* for the up/down log lines */
  int reported;         /* state last logged: -1 none, 0 down, 1 up */
#ifdef AK_HAVE_HIREDIS
  redisContext *c;
#endif
};

int ak__redis_parse_url(const char *url, char *host, size_t host_cap, int *port, int *db,
                        char *user, char *pass, size_t cred_cap) {
  const char *p = url;
  *port = 6379;
  *db = 0;
  user[0] = pass[0] = '\0';
  if (!strncmp(p, "redis://", 8)) p += 8;
  const char *at = strrchr(p, '@');
  if (at) { /* [user]:pass@ or pass@ */
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *pw = colon ? colon + 1 : p;
    size_t ul = colon ? (size_t)(colon - p) : 0, pl = (size_t)(at - pw);
    if (ul >= cred_cap || pl >= cred_cap) return -1;
    memcpy(user, p, ul);
    user[ul] = '\0';
    memcpy(pass, pw, pl);
    pass[pl] = '\0';
    p = at + 1;
  }
  const char *end = p + strcspn(p, ":/");
  size_t hl = (size_t)(end - p);
  if (hl == 0 || hl >= host_cap) return -1;
  memcpy(host, p, hl);
  host[hl] = '\0';
  p = end;
  if (*p == ':') {
    char *e = NULL;
    long v = strtol(p + 1, &e, 10);
    if (e == p + 1 || v < 1 || v > 65535) return -1;
    *port = (int)v;
    p = e;
  }
  if (*p == '/') {
    if (p[1]) {
      char *e = NULL;
      long v = strtol(p + 1, &e, 10);
      if (e == p + 1 || *e || v < 0 || v > 1000000) return -1;
      *db = (int)v;
    }
    p += strlen(p);
  }
  return *p ? -1 : 0;
}

ak_redis *ak__redis_new(const ak_server *srv, const char *url, int timeout_ms,
                        ak_counter *failures) {
  ak_redis *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  if (ak__redis_parse_url(url, r->host, sizeof r->host, &r->port, &r->db, r->user, r->pass,
                          sizeof r->user)) {
    free(r);
    return NULL;
  }
  r->timeout_ms = timeout_ms > 0 ? timeout_ms : 200;
  r->backoff_ms = AK_REDIS_BACKOFF_MIN_MS;
  r->failures = failures;
  r->srv = srv;
  r->reported = -1;
  return r;
}

void ak__redis_free(ak_redis *r) {
  if (!r) return;
#ifdef AK_HAVE_HIREDIS
  if (r->c) redisFree(r->c);
#endif
  free(r);
}

int ak__redis_up(const ak_redis *r) {
  return r && r->up;
}

#ifdef AK_HAVE_HIREDIS
/* One log line per change of state (not per failed call). */
static void report(ak_redis *r, const char *why) {
  if (r->reported == r->up) return;
  r->reported = r->up;
  if (r->up)
    ak__log(r->srv, AK_LOG_INFO, NULL, NULL, "redis %s:%d reachable: single-use tokens shared",
            r->host, r->port);
  else
    ak__log(r->srv, AK_LOG_ERROR, NULL, NULL,
            "redis %s:%d unreachable (%s): new sessions refused with 503 until it answers", r->host,
            r->port, why);
}

/* why: a Redis error reply, or NULL for the connection's own error. */
static void failed(ak_redis *r, int64_t now_us, const char *why) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", why ? why : r->c && r->c->err ? r->c->errstr : "cannot connect");
  if (r->c) redisFree(r->c);
  r->c = NULL;
  r->up = 0;
  if (r->failures) (*r->failures)++;
  r->retry_at_us = now_us + (int64_t)r->backoff_ms * 1000;
  report(r, buf);
  r->backoff_ms =
      r->backoff_ms * 2 > AK_REDIS_BACKOFF_MAX_MS ? AK_REDIS_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/* A reply that is not an error; NULL (and the connection dropped) otherwise. */
static redisReply *ok_reply(ak_redis *r, void *rep, int64_t now_us) {
  redisReply *x = rep;
  if (!x || x->type == REDIS_REPLY_ERROR) {
    char why[128];
    snprintf(why, sizeof why, "%s", x && x->str ? x->str : "no reply");
    int replied = x != NULL;
    if (x) freeReplyObject(x);
    failed(r, now_us, replied ? why : NULL);
    return NULL;
  }
  return x;
}

/* Connected (and authenticated, db selected), or -1 while down / in backoff. */
static int ensure(ak_redis *r, int64_t now_us) {
  if (r->c) return 0;
  if (now_us < r->retry_at_us) return -1;
  struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
  r->c = redisConnectWithTimeout(r->host, r->port, tv);
  if (!r->c || r->c->err || redisSetTimeout(r->c, tv) != REDIS_OK) {
    failed(r, now_us, NULL);
    return -1;
  }
  redisEnableKeepAlive(r->c);
  redisReply *x;
  if (r->pass[0]) {
    x = r->user[0] ? redisCommand(r->c, "AUTH %s %s", r->user, r->pass)
                   : redisCommand(r->c, "AUTH %s", r->pass);
    if (!(x = ok_reply(r, x, now_us))) return -1;
    freeReplyObject(x);
  }
  if (r->db) {
    if (!(x = ok_reply(r, redisCommand(r->c, "SELECT %d", r->db), now_us))) return -1;
    freeReplyObject(x);
  }
  return 0;
}

static void succeeded(ak_redis *r, int64_t now_us) {
  r->up = 1;
  report(r, "");
  r->backoff_ms = AK_REDIS_BACKOFF_MIN_MS;
  r->last_used_us = now_us;
}

int ak__redis_consume(ak_redis *r, const uint8_t key[16], int64_t expire_at, int64_t now_us) {
  static const char hx[] = "0123456789abcdef";
  char k[7 + 33] = "ak:tok:";
  for (int i = 0; i < 16; i++) {
    k[7 + 2 * i] = hx[key[i] >> 4];
    k[8 + 2 * i] = hx[key[i] & 15];
  }
  k[39] = '\0';
  /* A connection kept from before a Redis restart fails at its first command: then connect
   * once more at once (no backoff), so a restarted Redis does not cost a refused upgrade. */
  int reused = r->c != NULL;
  if (ensure(r, now_us)) return AK_TOKEN_STORE_DOWN;
  void *raw = redisCommand(r->c, "SET %s 1 NX EXAT %lld", k, (long long)expire_at);
  if (!raw && reused) {
    redisFree(r->c);
    r->c = NULL;
    if (ensure(r, now_us)) return AK_TOKEN_STORE_DOWN;
    raw = redisCommand(r->c, "SET %s 1 NX EXAT %lld", k, (long long)expire_at);
  }
  redisReply *x = ok_reply(r, raw, now_us);
  if (!x) return AK_TOKEN_STORE_DOWN;
  int rc = x->type == REDIS_REPLY_NIL                               ? AK_TOKEN_REUSED
           : x->type == REDIS_REPLY_STATUS && !strcmp(x->str, "OK") ? AK_TOKEN_OK
                                                                    : AK_TOKEN_STORE_DOWN;
  freeReplyObject(x);
  if (rc == AK_TOKEN_STORE_DOWN) {
    failed(r, now_us, "unexpected reply to SET");
    return rc;
  }
  succeeded(r, now_us);
  return rc;
}

void ak__redis_tick(ak_redis *r, int64_t now_us) {
  if (!r || (r->up && now_us - r->last_used_us < AK_REDIS_PROBE_US)) return;
  if (ensure(r, now_us)) return;
  redisReply *x = ok_reply(r, redisCommand(r->c, "PING"), now_us);
  if (!x) return;
  freeReplyObject(x);
  succeeded(r, now_us);
}

int ak__redis_available(void) {
  return 1;
}
#else
int ak__redis_consume(ak_redis *r, const uint8_t key[16], int64_t expire_at, int64_t now_us) {
  (void)key;
  (void)expire_at;
  (void)now_us;
  if (r && r->failures) (*r->failures)++;
  return AK_TOKEN_STORE_DOWN;
}

void ak__redis_tick(ak_redis *r, int64_t now_us) {
  (void)r;
  (void)now_us;
}

int ak__redis_available(void) {
  return 0;
}
#endif
