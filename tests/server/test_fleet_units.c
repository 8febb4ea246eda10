/* Unit tests of the fleet helpers: --redis URL parsing (tokenstore_redis.c), --trusted-proxy
 * ranges and the client address from X-Forwarded-For (proxy.c), IPv4 and IPv6, and the Redis
 * store's answer when nothing listens (refuse, counted, no wait during the backoff). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "server.h"

static void test_redis_url(void) {
  char host[256], user[AK_MAX_STR], pass[AK_MAX_STR];
  int port = 0, db = -1;
#define PARSE(u) ak__redis_parse_url(u, host, sizeof host, &port, &db, user, pass, sizeof user)
  CHECK_EQ_INT(PARSE("redis://127.0.0.1:6380/2"), 0);
  CHECK(!strcmp(host, "127.0.0.1") && port == 6380 && db == 2 && !user[0] && !pass[0]);
  CHECK_EQ_INT(PARSE("redis.internal"), 0);
  CHECK(!strcmp(host, "redis.internal") && port == 6379 && db == 0);
  CHECK_EQ_INT(PARSE("10.0.0.5:7000"), 0);
  CHECK(!strcmp(host, "10.0.0.5") && port == 7000);
  CHECK_EQ_INT(PARSE("redis://:s3cret@h:1/"), 0);
  CHECK(!strcmp(host, "h") && port == 1 && db == 0 && !user[0] && !strcmp(pass, "s3cret"));
  CHECK_EQ_INT(PARSE("redis://app:pw@h/3"), 0);
  CHECK(!strcmp(user, "app") && !strcmp(pass, "pw") && db == 3);
  CHECK_EQ_INT(PARSE("redis://pw@h"), 0);
  CHECK(!user[0] && !strcmp(pass, "pw"));
  const char *bad[] = {"",     "redis://", "h:0",   "h:65536",          "h:12x",
                       "h/db", "h:1/2/3",  ":6379", "redis://h:6379/-1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int rc = PARSE(bad[i]);
    if (rc != -1) fprintf(stderr, "accepted bad URL '%s'\n", bad[i]);
    CHECK_EQ_INT(rc, -1);
  }
#undef PARSE
}

static void client(const ak_server_config *c, const char *peer, const char *xff, const char *want) {
  char out[64];
  ak__proxy_client_ip(c, peer, xff, out, sizeof out);
  if (strcmp(out, want))
    fprintf(stderr, "peer %s xff '%s': got %s, want %s\n", peer, xff ? xff : "(none)", out, want);
  CHECK(!strcmp(out, want));
}

static void test_trusted_proxy(void) {
  static ak_server_config c; /* large: not on the stack */
  memset(&c, 0, sizeof c);
  client(&c, "192.0.2.1", "198.51.100.7", "192.0.2.1"); /* no trusted proxy: header ignored */
  CHECK_EQ_INT(ak__proxy_add(&c, "10.0.0.0/8"), 0);
  CHECK_EQ_INT(ak__proxy_add(&c, "192.0.2.1"), 0);
  CHECK_EQ_INT(ak__proxy_add(&c, "2001:db8::/32"), 0);
  CHECK_EQ_INT(ak__proxy_add(&c, "::1"), 0);
  const char *bad[] = {"",     "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "2001:db8::/129",
                       "host", "1.2.3.4/8/8"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK_EQ_INT(ak__proxy_add(&c, bad[i]), -1);
  CHECK_EQ_INT(c.n_trusted_proxies, 4);
  client(&c, "192.0.2.1", NULL, "192.0.2.1");
  client(&c, "192.0.2.1", "", "192.0.2.1");
  client(&c, "192.0.2.1", "198.51.100.7", "198.51.100.7");
  client(&c, "192.0.2.1", " 198.51.100.7 ", "198.51.100.7");
  client(&c, "192.0.2.1", "6.6.6.6, 198.51.100.7", "198.51.100.7");      /* forged left part */
  client(&c, "192.0.2.1", "198.51.100.7, 10.1.2.3", "198.51.100.7");     /* trusted hop */
  client(&c, "192.0.2.1", "10.9.9.9,10.1.2.3", "10.9.9.9");              /* all trusted */
  client(&c, "192.0.2.1", "198.51.100.7, garbage", "192.0.2.1");         /* malformed */
  client(&c, "192.0.2.2", "198.51.100.7", "192.0.2.2");                  /* peer not trusted */
  client(&c, "11.0.0.1", "198.51.100.7", "11.0.0.1");                    /* outside /8 */
  client(&c, "10.255.0.1", "2001:db8:1::5, 2001:db9::1", "2001:db9::1"); /* IPv6 entries */
  client(&c, "::1", "203.0.113.9", "203.0.113.9");                       /* IPv6 peer */
  client(&c, "2001:db8:ffff::1", "2001:db8::2, 203.0.113.4", "203.0.113.4");
  client(&c, "2001:db9::1", "203.0.113.4", "2001:db9::1");
  /* partial-byte prefix */
  static ak_server_config d;
  memset(&d, 0, sizeof d);
  CHECK_EQ_INT(ak__proxy_add(&d, "172.16.0.0/12"), 0);
  client(&d, "172.31.255.255", "1.2.3.4", "1.2.3.4");
  client(&d, "172.32.0.1", "1.2.3.4", "172.32.0.1");
}

static void test_redis_down(void) {
  ak_counter failures = 0;
  /* Port 1 on loopback: nothing listens, the connect is refused at once. */
  ak_redis *r = ak__redis_new(NULL, "127.0.0.1:1", 200, &failures);
  CHECK(r != NULL);
  if (!r) return;
  uint8_t key[16] = {1, 2, 3};
  int rc = ak__redis_consume(r, key, 4000000000ll, 1000000);
  CHECK_EQ_INT(rc, AK_TOKEN_STORE_DOWN);
  CHECK_EQ_INT(ak__redis_up(r), 0);
  uint64_t f = failures;
  CHECK(f >= 1);
  /* Inside the backoff: answered at once, no new attempt, nothing counted. */
  CHECK_EQ_INT(ak__redis_consume(r, key, 4000000000ll, 1000001), AK_TOKEN_STORE_DOWN);
  CHECK_EQ_INT(failures, f);
  ak__redis_free(r);
  CHECK(ak__redis_new(NULL, "h:0", 200, &failures) == NULL);
}

int main(void) {
  test_redis_url();
  test_trusted_proxy();
  if (ak__redis_available()) test_redis_down();
  return TEST_SUMMARY();
}
