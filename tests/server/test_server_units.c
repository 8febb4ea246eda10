/* Unit tests of the server's pure parts: the single-use token set (many tokens, expiry,
 * replay refused, full behaviour), token issue/verify/consume, constant-time API key
 * lookup, the per-IP rate table, the log rate limiter, the static path checks, the token
 * body parser, CORS matching, the upgrade judgement and the new-session token buckets. */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "server.h"

static void key_of(uint32_t i, uint8_t key[16]) {
  memset(key, 0, 16);
  memcpy(key, &i, sizeof i);
  key[15] = 0x5a;
}

static void test_token_set(void) {
  const int64_t now = 1700000000;
  ak_token_set *t = ak__token_set_new(100000, 86400);
  CHECK(t != NULL);
  uint8_t k[16];
  /* many tokens with spread expiries */
  for (uint32_t i = 0; i < 100000; i++) {
    key_of(i, k);
    CHECK_EQ_INT(ak__token_set_insert(t, k, now + 1 + (int64_t)(i % 3600), now), AK_TOKEN_OK);
  }
  CHECK_EQ_INT(ak__token_set_count(t), 100000);
  /* replay of every one is refused */
  int reused = 0;
  for (uint32_t i = 0; i < 100000; i++) {
    key_of(i, k);
    reused += ak__token_set_insert(t, k, now + 100, now) == AK_TOKEN_REUSED;
  }
  CHECK_EQ_INT(reused, 100000);
  /* full: a new token is refused, never let through unrecorded */
  key_of(200000, k);
  CHECK_EQ_INT(ak__token_set_insert(t, k, now + 10, now), AK_TOKEN_FULL);
  CHECK_EQ_INT(ak__token_set_insert(t, k, now + 10, now), AK_TOKEN_FULL);
  /* expiry frees room in whole slots: after an hour and a slot all are gone */
  ak__token_set_expire(t, now + 1800);
  size_t half = ak__token_set_count(t);
  CHECK(half > 40000 && half < 60000);
  /* those still live are still refused */
  key_of(3599, k);
  CHECK_EQ_INT(ak__token_set_insert(t, k, now + 3600, now + 1800), AK_TOKEN_REUSED);
  key_of(200000, k);
  CHECK_EQ_INT(ak__token_set_insert(t, k, now + 4000, now + 1800), AK_TOKEN_OK);
  ak__token_set_expire(t, now + 3600 + 200);
  CHECK_EQ_INT(ak__token_set_count(t), 1);
  ak__token_set_expire(t, now + 5000);
  CHECK_EQ_INT(ak__token_set_count(t), 0);
  /* a token expiring beyond one turn of the wheel (another node's longer TTL) is kept
   * until its own expiry */
  key_of(7, k);
  CHECK_EQ_INT(ak__token_set_insert(t, k, now + 5000 + 10 * 86400, now + 5000), AK_TOKEN_OK);
  for (int64_t d = 0; d <= 10 * 86400; d += 3000) ak__token_set_expire(t, now + 5000 + d);
  CHECK_EQ_INT(ak__token_set_count(t), 1);
  CHECK_EQ_INT(ak__token_set_insert(t, k, now + 5000 + 10 * 86400, now + 5000 + 9 * 86400),
               AK_TOKEN_REUSED);
  ak__token_set_expire(t, now + 5000 + 10 * 86400 + 200);
  CHECK_EQ_INT(ak__token_set_count(t), 0);
  /* a long jump (server suspended) expires everything in one call */
  for (uint32_t i = 0; i < 1000; i++) {
    key_of(i, k);
    CHECK_EQ_INT(ak__token_set_insert(t, k, now + 20 * 86400 + (int64_t)i, now + 20 * 86400 - 5),
                 AK_TOKEN_OK);
  }
  ak__token_set_expire(t, now + 400 * 86400);
  CHECK_EQ_INT(ak__token_set_count(t), 0);
  ak__token_set_free(t);
  CHECK(ak__token_set_new(0, 60) == NULL);
}

static ak_server *new_server(void) {
  ak_server *s = calloc(1, sizeof *s);
  ak__server_config_defaults(&s->cfg);
  snprintf(s->cfg.apps[0].api_key, AK_MAX_STR, "key-one");
  snprintf(s->cfg.apps[0].app_id, AK_MAX_STR, "app-one");
  snprintf(s->cfg.apps[1].api_key, AK_MAX_STR, "key-two");
  snprintf(s->cfg.apps[1].app_id, AK_MAX_STR, "app-two");
  s->cfg.n_apps = 2;
  memset(s->cfg.token_secret, 0x42, sizeof s->cfg.token_secret);
  s->cfg.token_table_size = 64;
  /* a registry with one avatar, av1: the upgrade verdict refuses ids it does not hold */
  s->avatars.items = calloc(1, sizeof *s->avatars.items);
  if (s->avatars.items) {
    snprintf(s->avatars.items[0].id, sizeof s->avatars.items[0].id, "av1");
    s->avatars.n = 1;
  }
  return s;
}

static void test_tokens_and_auth(void) {
  ak_server *s = new_server();
  int64_t now = (int64_t)time(NULL), exp = 0;
  char tok[512], app[AK_MAX_STR];
  CHECK_EQ_INT(ak__token_issue(s, "app-one", now + 60, tok, sizeof tok), 0);
  CHECK_EQ_INT(ak__token_verify(s, tok, now, app, sizeof app, &exp), AK_TOKEN_OK);
  CHECK(strcmp(app, "app-one") == 0);
  CHECK_EQ_INT(exp, now + 60);
  CHECK_EQ_INT(ak__token_verify(s, tok, now + 61, app, sizeof app, &exp), AK_TOKEN_EXPIRED);
  char bad[512];
  snprintf(bad, sizeof bad, "%s", tok);
  bad[strlen(bad) - 1] ^= 1;
  CHECK_EQ_INT(ak__token_verify(s, bad, now, app, sizeof app, &exp), AK_TOKEN_INVALID);
  CHECK_EQ_INT(ak__token_consume(s, tok, exp, now), AK_TOKEN_OK);
  CHECK_EQ_INT(ak__token_consume(s, tok, exp, now), AK_TOKEN_REUSED);
  /* the upgrade judgement: single use, then reusable */
  ak__auth_input in = {"/v2/driveningress/websocket", "app-one", tok, "av1", NULL};
  ak__auth_verdict v;
  ak__auth_judge(s, &in, 1, &v);
  CHECK_EQ_INT(v.status, 400);
  CHECK(strstr(v.detail, "Invalid session token") != NULL);
  char tok2[512];
  CHECK_EQ_INT(ak__token_issue(s, "app-one", now + 60, tok2, sizeof tok2), 0);
  in.token = tok2;
  ak__auth_judge(s, &in, 1, &v);
  CHECK_EQ_INT(v.status, 0);
  s->cfg.token_single_use = 0;
  ak__auth_judge(s, &in, 1, &v);
  CHECK_EQ_INT(v.status, 0);
  s->cfg.token_single_use = 1;
  /* a full table refuses with 503, counted */
  for (int i = 0; i < 70; i++) {
    char t3[512];
    ak__token_issue(s, "app-one", now + 60, t3, sizeof t3);
    in.token = t3;
    ak__auth_judge(s, &in, 1, &v);
  }
  CHECK_EQ_INT(v.status, 503);
  CHECK(s->m.token_table_full > 0);
  ak__token_free_all(s);
  /* API keys */
  CHECK(ak__auth_api_key(s, "key-two", 7) == &s->cfg.apps[1]);
  CHECK(ak__auth_api_key(s, "key-one", 7) == &s->cfg.apps[0]);
  CHECK(ak__auth_api_key(s, "key-on", 6) == NULL);
  CHECK(ak__auth_api_key(s, "key-one!", 8) == NULL);
  CHECK(ak__auth_api_key(s, "", 0) == NULL);
  char big[300];
  memset(big, 'k', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  CHECK(ak__auth_api_key(s, big, strlen(big)) == NULL);
  ak__avatars_free(s);
  free(s);
}

static void test_http_helpers(void) {
  CHECK_EQ_INT(ak__http_static_uri_ok("/index.html"), 0);
  CHECK_EQ_INT(ak__http_static_uri_ok("/a/b/c.js"), 0);
  CHECK_EQ_INT(ak__http_static_uri_ok("/"), 0);
  const char *bad[] = {"/.git/config", "/.env", "/a/../b", "/a/./b",
                       "/..",          "rel",   "/a/.x/y", "/a\\b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_EQ_INT(ak__http_static_uri_ok(bad[i]), -1);
  CHECK_EQ_INT(ak__http_path_inside("/srv/site", "/srv/site/a.html"), 0);
  CHECK_EQ_INT(ak__http_path_inside("/srv/site", "/srv/site"), 0);
  CHECK_EQ_INT(ak__http_path_inside("/srv/site", "/srv/site-evil/a.html"), -1);
  CHECK_EQ_INT(ak__http_path_inside("/srv/site", "/srv/sit"), -1);
  CHECK_EQ_INT(ak__http_path_inside("/srv/site", "/srv/site/.git/config"), -1);
  CHECK_EQ_INT(ak__http_path_inside("/", "/etc/passwd"), 0);
  int64_t exp = 0;
  char err[160];
  const char ok[] = "{\"expireAt\": 1000060}";
  CHECK_EQ_INT(ak__http_parse_token_body(ok, strlen(ok), 1000000, 3600, &exp, err, sizeof err), 0);
  CHECK_EQ_INT(exp, 1000060);
  CHECK_EQ_INT(ak__http_parse_token_body(NULL, 0, 1000000, 3600, &exp, err, sizeof err), -1);
  CHECK_EQ_INT(ak__http_parse_token_body("", 0, 1000000, 3600, &exp, err, sizeof err), -1);
  const char far[] = "{\"expireAt\": 9000060}";
  CHECK_EQ_INT(ak__http_parse_token_body(far, strlen(far), 1000000, 3600, &exp, err, sizeof err),
               -1);
  CHECK(strstr(err, "3600") != NULL);
  ak_server_config c;
  ak__server_config_defaults(&c);
  char out[AK_MAX_STR];
  CHECK_EQ_INT(ak__http_cors_allowed(&c, "https://a", out, sizeof out), 0);
  snprintf(c.cors_origins[0], AK_MAX_STR, "https://a");
  c.n_cors_origins = 1;
  CHECK_EQ_INT(ak__http_cors_allowed(&c, "https://a", out, sizeof out), 1);
  CHECK(strcmp(out, "https://a") == 0);
  CHECK_EQ_INT(ak__http_cors_allowed(&c, "https://b", out, sizeof out), 0);
  CHECK_EQ_INT(ak__http_cors_allowed(&c, "", out, sizeof out), 0);
  /* rate table: per IP, per minute window, bounded */
  ak_rate_table *r = ak__rate_new();
  int64_t t0 = 6000000; /* a minute boundary */
  for (int i = 0; i < 5; i++) CHECK_EQ_INT(ak__rate_check(r, "10.0.0.1", t0 + i, 5), 0);
  CHECK_EQ_INT(ak__rate_check(r, "10.0.0.1", t0 + 10, 5), 50);
  CHECK_EQ_INT(ak__rate_check(r, "10.0.0.2", t0 + 10, 5), 0);
  CHECK_EQ_INT(ak__rate_check(r, "10.0.0.1", t0 + 60, 5), 0);
  /* many addresses: the table stays bounded and keeps working */
  char ip[48];
  for (int i = 0; i < 100000; i++) {
    snprintf(ip, sizeof ip, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    ak__rate_check(r, ip, t0 + 61, 5);
  }
  for (int i = 0; i < 5; i++) CHECK_EQ_INT(ak__rate_check(r, "192.168.1.1", t0 + 62, 5), 0);
  CHECK(ak__rate_check(r, "192.168.1.1", t0 + 62, 5) > 0);
  ak__rate_free(r);
}

static void test_log_limiter(void) {
  ak_server *s = new_server();
  s->cfg.log_level = AK_LOG_INFO;
  ak_log_limiter lim = {0, 0, 0};
  /* into a queue that is never drained here: count what got through */
  CHECK_EQ_INT(ak__log_start(s, 1 << 16), 0);
  for (int i = 0; i < 1000; i++)
    ak__log_limited(s, &lim, 1000000 + i, 60000000, 5, AK_LOG_WARN, NULL, NULL, "event %d", i);
  CHECK_EQ_INT(lim.count, 5);
  CHECK_EQ_INT(lim.suppressed, 995);
  ak__log_limited(s, &lim, 1000000 + 60000000, 60000000, 5, AK_LOG_WARN, NULL, NULL, "next");
  CHECK_EQ_INT(lim.suppressed, 0);
  CHECK_EQ_INT(lim.count, 1);
  for (int i = 0; i < 10; i++)
    ak__log_limited(s, &lim, 61000000 + i, 60000000, 5, AK_LOG_WARN, NULL, NULL, "again %d", i);
  CHECK_EQ_INT(lim.suppressed, 6);
  ak__log_limiter_flush(s, &lim, 61000000 + 30000000, 60000000); /* window still open */
  CHECK_EQ_INT(lim.suppressed, 6);
  ak__log_limiter_flush(s, &lim, 61000000 + 60000000, 60000000); /* ended: "suppressed 6" */
  CHECK_EQ_INT(lim.suppressed, 0);
  /* stderr that nobody reads (a pipe): a flood larger than pipe + queue never blocks the
   * caller; the excess is dropped and counted */
  int p[2], saved = dup(2);
  signal(SIGPIPE, SIG_IGN);
  CHECK_EQ_INT(pipe(p), 0);
  dup2(p[1], 2);
  for (int i = 0; i < 20000; i++) ak__log(s, AK_LOG_INFO, "c", "r", "flood line %d", i);
  CHECK(ak__log_dropped(s) > 0);
  close(p[0]); /* the blocked writer now fails fast (EPIPE) and can stop */
  ak__log_stop(s);
  dup2(saved, 2);
  close(saved);
  close(p[1]);
  ak__avatars_free(s);
  free(s);
}

/* Token buckets (session_rate.c) with explicit clocks: burst, refill, the fixed table's
 * expiry and eviction, and the upgrade judgement's 429 that leaves the token unspent. */
static void test_session_rate(void) {
  ak_bucket b = {0};
  int64_t t0 = 1000000000;
  for (int i = 0; i < 3; i++) {
    CHECK_EQ_INT(ak__bucket_wait(&b, 2, 3, t0), 0);
    ak__bucket_take(&b, 2, 3, t0);
  }
  CHECK_EQ_INT(ak__bucket_wait(&b, 2, 3, t0), 1);          /* empty: 0.5 s to the next */
  CHECK_EQ_INT(ak__bucket_wait(&b, 2, 3, t0 + 400000), 1); /* 0.8 tokens */
  CHECK_EQ_INT(ak__bucket_wait(&b, 2, 3, t0 + 500000), 0); /* refilled one */
  ak_bucket slow = {0};
  ak__bucket_take(&slow, 0.1, 1, t0);
  CHECK_EQ_INT(ak__bucket_wait(&slow, 0.1, 1, t0), 10);
  CHECK_EQ_INT(ak__bucket_wait(&b, 0, 0, t0), 0); /* rate 0 = no limit */

  ak_bucket_table *t = ak__bucket_table_new(16);
  CHECK(t != NULL);
  char ip[48];
  for (int i = 0; i < 100; i++) { /* 100 addresses, slow refill: the table stays at 16 */
    snprintf(ip, sizeof ip, "10.0.0.%d", i);
    ak_bucket *x = ak__bucket_table_get(t, ip, 0.001, 1, t0);
    CHECK(x != NULL);
    CHECK_EQ_INT(ak__bucket_wait(x, 0.001, 1, t0), 0);
    ak__bucket_take(x, 0.001, 1, t0);
  }
  CHECK(ak__bucket_table_live(t, 0.001, 1, t0) <= 16);
  CHECK(ak__bucket_table_evictions(t) >= 84);
  /* the same address finds its own (empty) bucket */
  ak_bucket *last = ak__bucket_table_get(t, "10.0.0.99", 0.001, 1, t0);
  CHECK(ak__bucket_wait(last, 0.001, 1, t0) > 0);
  /* refilled entries are expired: reused without an eviction */
  uint64_t ev = ak__bucket_table_evictions(t);
  for (int i = 0; i < 100; i++) {
    snprintf(ip, sizeof ip, "10.1.0.%d", i);
    ak__bucket_take(ak__bucket_table_get(t, ip, 0.001, 1, t0 + 2000000000), 0.001, 1,
                    t0 + 2000000000);
    ak__bucket_table_get(t, ip, 0.001, 1, t0 + 2000000000); /* found again */
  }
  CHECK(ak__bucket_table_live(t, 0.001, 1, t0 + 2000000000) <= 16);
  CHECK(ak__bucket_table_evictions(t) > ev); /* 100 live ones do not fit in 16 */
  ak__bucket_table_free(t);

  /* the judgement: per-address and per-app buckets, 429 with the token left unspent */
  ak_server *s = new_server();
  s->cfg.session_rate_ip = 0.001;
  s->cfg.session_burst_ip = 2;
  s->cfg.session_rate_app = 0.001;
  s->cfg.session_burst_app = 3;
  s->session_ip_rate = ak__bucket_table_new(64);
  int64_t now = (int64_t)time(NULL);
  char tok[512];
  ak__auth_verdict v;
  ak__auth_input in = {"/v2/driveningress/websocket", "app-one", tok, "av1", "192.0.2.1"};
  for (int i = 0; i < 2; i++) {
    CHECK_EQ_INT(ak__token_issue(s, "app-one", now + 60, tok, sizeof tok), 0);
    ak__auth_judge(s, &in, 1, &v);
    CHECK_EQ_INT(v.status, 0);
  }
  CHECK_EQ_INT(ak__token_issue(s, "app-one", now + 60, tok, sizeof tok), 0);
  ak__auth_judge(s, &in, 1, &v);
  CHECK_EQ_INT(v.status, 429);
  CHECK(v.retry_after > 0);
  CHECK(strstr(v.detail, "from this address") != NULL);
  CHECK_EQ_INT((int)s->m.session_rate_limited_ip, 1);
  in.client_ip = "192.0.2.2"; /* another address, same token: it was not spent */
  ak__auth_judge(s, &in, 1, &v);
  CHECK_EQ_INT(v.status, 0);
  in.client_ip = "192.0.2.3"; /* the app's burst of 3 is gone */
  CHECK_EQ_INT(ak__token_issue(s, "app-one", now + 60, tok, sizeof tok), 0);
  ak__auth_judge(s, &in, 1, &v);
  CHECK_EQ_INT(v.status, 429);
  CHECK(strstr(v.detail, "for this app") != NULL);
  CHECK_EQ_INT((int)s->m.session_rate_limited_app, 1);
  in.app_id = "app-two"; /* the other app has its own bucket */
  CHECK_EQ_INT(ak__token_issue(s, "app-two", now + 60, tok, sizeof tok), 0);
  ak__auth_judge(s, &in, 1, &v);
  CHECK_EQ_INT(v.status, 0);
  ak__auth_judge(s, &in, 0, &v); /* a plain GET (consume 0) is never charged */
  CHECK(v.status != 429);
  ak__bucket_table_free(s->session_ip_rate);
  ak__token_free_all(s);
  ak__avatars_free(s);
  free(s);
}

/* The worker pool's order (worker.c): a task made runnable by new input runs before tasks
 * with a backlog, and the backlog still gets every FRESH_RUN-th turn. One worker, so the
 * order is deterministic; waits are bounded loops. */
#define POOL_TASKS 8
typedef struct pool_task {
  ak_task t; /* first member */
  int id;
  int turns_left; /* turns with more work after this one */
} pool_task;
static pool_task g_pt[POOL_TASKS];
static ak_pool *g_pool;
static _Atomic int g_order[64];
static _Atomic int g_n_order;
static _Atomic int g_chain; /* task 0's first turn schedules tasks 1..g_chain */

static int pool_run(ak_task *t) {
  pool_task *pt = (pool_task *)t;
  int i = atomic_fetch_add(&g_n_order, 1);
  if (i < 64) g_order[i] = pt->id;
  if (pt->id == 0 && i == 0)
    for (int k = 1; k <= g_chain; k++) ak__pool_schedule(g_pool, &g_pt[k].t);
  return pt->turns_left-- > 0;
}
static void pool_ref(ak_task *t) {
  (void)t;
}

static void test_pool_fresh_first(void) {
  for (int round = 0; round < 2; round++) {
    memset(g_pt, 0, sizeof g_pt);
    atomic_store(&g_n_order, 0);
    /* round 0: task 0 has 2 more turns; task 1 gets fresh input during its first turn.
     * round 1: task 0 has 3 more turns; 6 fresh tasks arrive at once. */
    g_chain = round == 0 ? 1 : 6;
    CHECK_EQ_INT(ak__pool_new(1, pool_run, pool_ref, pool_ref, &g_pool), 0);
    for (int i = 0; i < POOL_TASKS; i++) {
      g_pt[i].id = i;
      g_pt[i].turns_left = i == 0 ? 2 + round : 0;
      ak__pool_assign(g_pool, &g_pt[i].t);
    }
    ak__pool_schedule(g_pool, &g_pt[0].t);
    int want = round == 0 ? 4 : 10;
    for (int i = 0; i < 5000 && atomic_load(&g_n_order) < want; i++) usleep(1000);
    CHECK_EQ_INT(atomic_load(&g_n_order), want);
    if (round == 0) {
      /* 0 (schedules 1), then fresh 1 before 0's backlog turns */
      CHECK_EQ_INT(g_order[0], 0);
      CHECK_EQ_INT(g_order[1], 1);
      CHECK_EQ_INT(g_order[2], 0);
      CHECK_EQ_INT(g_order[3], 0);
    } else {
      /* 0, three fresh turns, then the waiting backlog (0), three fresh, 0, the last fresh */
      const int exp[10] = {0, 1, 2, 3, 0, 4, 5, 6, 0, 0};
      for (int i = 0; i < 10; i++) CHECK_EQ_INT(g_order[i], exp[i]);
    }
    for (int i = 0; i < POOL_TASKS; i++) ak__pool_unassign(g_pool, &g_pt[i].t);
    ak__pool_free(g_pool);
  }
}

int main(void) {
  test_token_set();
  test_pool_fresh_first();
  test_session_rate();
  test_tokens_and_auth();
  test_http_helpers();
  test_log_limiter();
  return TEST_SUMMARY();
}
