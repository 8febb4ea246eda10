/* Unit tests of the fleet helpers: --redis URL parsing (tokenstore_redis.c), --trusted-proxy
 * ranges and the client address from X-Forwarded-For (proxy.c), IPv4 and IPv6, the Redis
 * store's answer when nothing listens (refuse, counted, no wait during the backoff), and its
 * answers when a Redis (a small fake speaking RESP on loopback) executes a SET but its reply is
 * lost, refuses a command, or never answers. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* ---- a fake Redis: SET key value NX ..., GET, PING over RESP; one thread, loopback ------- */

#define FAKE_KEYS 16
#define FAKE_CONNS 8
typedef struct {
  int lfd;
  atomic_int stop;
  atomic_int swallow_sets; /* SETs executed whose reply is never sent (a lost reply) */
  atomic_int refuse_sets;  /* SETs answered with an error reply, not executed */
  atomic_int sets_seen;
  char keys[FAKE_KEYS][64], vals[FAKE_KEYS][64];
  int n_keys;
  pthread_t th;
} fake_redis;

static const char *fake_get(fake_redis *f, const char *k) {
  for (int i = 0; i < f->n_keys; i++)
    if (!strcmp(f->keys[i], k)) return f->vals[i];
  return NULL;
}

static void fake_reply(int fd, const char *s) {
  (void)!send(fd, s, strlen(s), MSG_NOSIGNAL);
}

/* Parses one RESP array of bulk strings from buf[0..len); returns the bytes used, 0 when
 * incomplete, -1 when malformed. */
static int fake_parse(const char *buf, int len, char argv[8][64], int *argc) {
  int i = 0;
  if (len < 1 || buf[0] != '*') return len ? -1 : 0;
  int n = (int)strtol(buf + 1, NULL, 10);
  const char *e = memchr(buf, '\n', (size_t)len);
  if (!e) return 0;
  i = (int)(e - buf) + 1;
  if (n < 1 || n > 8) return -1;
  for (int a = 0; a < n; a++) {
    if (i >= len) return 0;
    if (buf[i] != '$') return -1;
    int l = (int)strtol(buf + i + 1, NULL, 10);
    e = memchr(buf + i, '\n', (size_t)(len - i));
    if (!e) return 0;
    i = (int)(e - buf) + 1;
    if (l < 0 || l > 63) return -1;
    if (i + l + 2 > len) return 0;
    memcpy(argv[a], buf + i, (size_t)l);
    argv[a][l] = '\0';
    i += l + 2;
  }
  *argc = n;
  return i;
}

static void fake_command(fake_redis *f, int fd, char argv[8][64], int argc) {
  char out[160];
  if (!strcmp(argv[0], "PING")) {
    fake_reply(fd, "+PONG\r\n");
  } else if (!strcmp(argv[0], "GET") && argc == 2) {
    const char *v = fake_get(f, argv[1]);
    if (v) {
      snprintf(out, sizeof out, "$%zu\r\n%s\r\n", strlen(v), v);
      fake_reply(fd, out);
    } else {
      fake_reply(fd, "$-1\r\n");
    }
  } else if (!strcmp(argv[0], "SET") && argc >= 4 && !strcmp(argv[3], "NX")) {
    atomic_fetch_add(&f->sets_seen, 1);
    if (atomic_load(&f->refuse_sets) > 0) {
      atomic_fetch_sub(&f->refuse_sets, 1);
      fake_reply(fd, "-OOM command not allowed when used memory > 'maxmemory'\r\n");
      return;
    }
    int taken = fake_get(f, argv[1]) != NULL;
    if (!taken && f->n_keys < FAKE_KEYS) {
      snprintf(f->keys[f->n_keys], sizeof f->keys[0], "%s", argv[1]);
      snprintf(f->vals[f->n_keys], sizeof f->vals[0], "%s", argv[2]);
      f->n_keys++;
    }
    if (atomic_load(&f->swallow_sets) > 0) {
      atomic_fetch_sub(&f->swallow_sets, 1);
      return; /* executed; the reply is lost */
    }
    fake_reply(fd, taken ? "$-1\r\n" : "+OK\r\n");
  } else {
    fake_reply(fd, "-ERR unknown command\r\n");
  }
}

static void *fake_main(void *arg) {
  fake_redis *f = arg;
  struct pollfd pf[1 + FAKE_CONNS];
  char buf[FAKE_CONNS][1024];
  int used[FAKE_CONNS] = {0};
  int n = 0;
  pf[0].fd = f->lfd;
  pf[0].events = POLLIN;
  while (!atomic_load(&f->stop)) {
    if (poll(pf, (nfds_t)(1 + n), 20) <= 0) continue;
    if ((pf[0].revents & POLLIN) && n < FAKE_CONNS) {
      int c = accept(f->lfd, NULL, NULL);
      if (c >= 0) {
        pf[1 + n].fd = c;
        pf[1 + n].events = POLLIN;
        pf[1 + n].revents = 0;
        used[n++] = 0;
      }
    }
    for (int i = 0; i < n; i++) {
      if (!(pf[1 + i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = recv(pf[1 + i].fd, buf[i] + used[i], sizeof buf[i] - (size_t)used[i], 0);
      int drop = r <= 0;
      if (!drop) used[i] += (int)r;
      char argv[8][64];
      int argc = 0, k;
      while (!drop && (k = fake_parse(buf[i], used[i], argv, &argc)) != 0) {
        if (k < 0) {
          drop = 1;
          break;
        }
        fake_command(f, pf[1 + i].fd, argv, argc);
        memmove(buf[i], buf[i] + k, (size_t)(used[i] - k));
        used[i] -= k;
      }
      if (drop || used[i] == (int)sizeof buf[i]) {
        close(pf[1 + i].fd);
        if (i != n - 1) { /* the last one takes its place */
          pf[1 + i] = pf[n];
          memcpy(buf[i], buf[n - 1], (size_t)used[n - 1]);
          used[i] = used[n - 1];
        }
        n--;
        i--;
      }
    }
  }
  for (int i = 0; i < n; i++) close(pf[1 + i].fd);
  return NULL;
}

static int fake_start(fake_redis *f, int *port) {
  memset(f, 0, sizeof *f);
  f->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof a) || listen(f->lfd, 8) ||
      getsockname(f->lfd, (struct sockaddr *)&a, &al))
    return -1;
  *port = ntohs(a.sin_port);
  return pthread_create(&f->th, NULL, fake_main, f) ? -1 : 0;
}

static void fake_stop(fake_redis *f) {
  atomic_store(&f->stop, 1);
  pthread_join(f->th, NULL);
  close(f->lfd);
}

/* The outcomes a balancer and a client act on: a SET whose reply was lost and that is
 * repeated recognises its own write (first use, not "already used"); an error reply writes
 * nothing (503 STORE_DOWN, the token stays usable); no reply at all is "unsure" (the token
 * may be spent: 500, never 503, which balancers replay with the same token). */
static void test_redis_lost_replies(void) {
  static fake_redis f; /* big: off the stack */
  int port = 0;
  if (fake_start(&f, &port)) {
    CHECK(!"fake redis did not start");
    return;
  }
  char url[64];
  snprintf(url, sizeof url, "127.0.0.1:%d", port);
  ak_counter failures = 0;
  ak_redis *r = ak__redis_new(NULL, url, 100, &failures);
  CHECK(r != NULL);
  if (r) {
    int64_t t = 1000000; /* each call 10 s after the last: never inside a backoff */
    uint8_t a[16] = {0xa}, b[16] = {0xb}, c[16] = {0xc}, d[16] = {0xd};
    CHECK_EQ_INT(ak__redis_consume(r, a, 4000000000ll, t += 10000000), AK_TOKEN_OK);
    CHECK_EQ_INT(ak__redis_consume(r, a, 4000000000ll, t += 10000000), AK_TOKEN_REUSED);
    /* The kept connection's SET is executed, its reply lost: repeated on a new connection,
     * the key holds this call's own nonce: first use. */
    atomic_store(&f.swallow_sets, 1);
    int sets = atomic_load(&f.sets_seen);
    CHECK_EQ_INT(ak__redis_consume(r, b, 4000000000ll, t += 10000000), AK_TOKEN_OK);
    CHECK_EQ_INT(atomic_load(&f.sets_seen) - sets, 2);
    CHECK_EQ_INT(ak__redis_up(r), 1);
    CHECK_EQ_INT(ak__redis_consume(r, b, 4000000000ll, t += 10000000), AK_TOKEN_REUSED);
    /* An error reply: nothing written, 503 now and the token usable later. */
    atomic_store(&f.refuse_sets, 1);
    CHECK_EQ_INT(ak__redis_consume(r, c, 4000000000ll, t += 10000000), AK_TOKEN_STORE_DOWN);
    CHECK_EQ_INT(ak__redis_up(r), 0);
    CHECK_EQ_INT(ak__redis_consume(r, c, 4000000000ll, t += 10000000), AK_TOKEN_OK);
    /* No reply to either SET: unsure (the token was in fact spent, as the next call shows). */
    atomic_store(&f.swallow_sets, 2);
    uint64_t before = failures;
    CHECK_EQ_INT(ak__redis_consume(r, d, 4000000000ll, t += 10000000), AK_TOKEN_STORE_UNSURE);
    CHECK(failures > before);
    CHECK_EQ_INT(ak__redis_up(r), 0);
    CHECK_EQ_INT(ak__redis_consume(r, d, 4000000000ll, t += 10000000), AK_TOKEN_REUSED);
    ak__redis_free(r);
  }
  fake_stop(&f);
}

int main(void) {
  test_redis_url();
  test_trusted_proxy();
  if (ak__redis_available()) test_redis_down();
  if (ak__redis_available()) test_redis_lost_replies();
  return TEST_SUMMARY();
}
