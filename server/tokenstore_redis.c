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
 * Consuming a token is one atomic `SET ak:tok:<hex of the signature's first 16 bytes> <nonce>
 * NX EXAT <expiry>`: "OK" = first use; nil = taken, and a GET tells this call's own earlier
 * write (its reply lost to a timeout, the SET repeated on a new connection) from an earlier
 * use (on any node); an error reply or no connection = the store is down, nothing written, the
 * upgrade is refused (503) and the token stays usable; no reply at all after a SET was sent =
 * unsure, the token may be spent, refused with 500 (which balancers do not replay with the same
 * token). Never let through unrecorded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "avatarkit/protocol.h"
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

/* No reply because the command timed out (Redis alive but slow: the command may have been
 * executed), as opposed to a connection found closed or reset (nothing executed there). */
static int timed_out(const redisContext *c) {
#ifdef REDIS_ERR_TIMEOUT
  if (c->err == REDIS_ERR_TIMEOUT) return 1;
#endif
  return c->err == REDIS_ERR_IO &&
         (!strcmp(c->errstr, strerror(EAGAIN)) || !strcmp(c->errstr, strerror(ETIMEDOUT)));
}

/* One attempt at marking the key used with this call's nonce: AK_TOKEN_OK when the key holds
 * the nonce (set now, or by an earlier attempt of this call whose reply was lost),
 * AK_TOKEN_REUSED when it holds anything else (used before, on any node), AK_TOKEN_STORE_DOWN
 * when Redis refused the command (an error reply: nothing was written); NO_REPLY when the
 * connection failed. *maybe: in, an earlier SET of this call may have been executed (only then
 * is a nil checked with GET); out, set when this one timed out. */
#define NO_REPLY 1
static int set_nonce(ak_redis *r, const char *k, const char *nonce, int64_t expire_at,
                     int64_t now_us, int *maybe) {
  redisReply *x = redisCommand(r->c, "SET %s %s NX EXAT %lld", k, nonce, (long long)expire_at);
  if (!x) {
    *maybe |= timed_out(r->c);
    return NO_REPLY;
  }
  if (!(x = ok_reply(r, x, now_us))) return AK_TOKEN_STORE_DOWN;
  int nil = x->type == REDIS_REPLY_NIL;
  int ok = x->type == REDIS_REPLY_STATUS && !strcmp(x->str, "OK");
  freeReplyObject(x);
  if (ok) return AK_TOKEN_OK;
  if (!nil) {
    failed(r, now_us, "unexpected reply to SET");
    return AK_TOKEN_STORE_DOWN;
  }
  /* Taken: by an earlier use, or by this call's own earlier SET whose reply was lost. */
  if (!*maybe) return AK_TOKEN_REUSED;
  x = redisCommand(r->c, "GET %s", k);
  if (!x) return NO_REPLY;
  if (!(x = ok_reply(r, x, now_us))) return AK_TOKEN_STORE_DOWN;
  int ours = x->type == REDIS_REPLY_STRING && !strcmp(x->str, nonce);
  freeReplyObject(x);
  return ours ? AK_TOKEN_OK : AK_TOKEN_REUSED;
}

int ak__redis_consume(ak_redis *r, const uint8_t key[16], int64_t expire_at, int64_t now_us) {
  static const char hx[] = "0123456789abcdef";
  char k[7 + 33] = "ak:tok:";
  for (int i = 0; i < 16; i++) {
    k[7 + 2 * i] = hx[key[i] >> 4];
    k[8 + 2 * i] = hx[key[i] & 15];
  }
  k[39] = '\0';
  /* The value is this call's nonce, so that a SET repeated after a lost reply recognises its
   * own write instead of reading it as an earlier use of the token. */
  char nonce[AK_ID_LEN + 1];
  if (ak_id_new(nonce, sizeof nonce, 0) != AK_OK) return AK_TOKEN_STORE_DOWN;
  /* A kept connection may be dead (Redis restarted) or a reply lost (a timeout): connect once
   * more at once (no backoff) and repeat the same SET, so neither costs a refusal. */
  int maybe = 0; /* a SET may have been executed without our seeing its answer */
  for (int attempt = 0; attempt < 2; attempt++) {
    if (ensure(r, now_us)) break;
    int rc = set_nonce(r, k, nonce, expire_at, now_us, &maybe);
    if (rc == AK_TOKEN_OK || rc == AK_TOKEN_REUSED) {
      succeeded(r, now_us);
      return rc;
    }
    if (rc == AK_TOKEN_STORE_DOWN) break; /* failed() already dropped the connection */
    if (attempt == 1) {
      failed(r, now_us, NULL);
      break;
    }
    redisFree(r->c);
    r->c = NULL;
  }
  return maybe ? AK_TOKEN_STORE_UNSURE : AK_TOKEN_STORE_DOWN;
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
