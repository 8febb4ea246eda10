/* Single-use token set micro-benchmark: checks per second with N live tokens (default
 * 100,000), for replays (the token is present) and for fresh tokens (inserted, with the set
 * kept at N by expiry), and the cost of the expiry pass. Reports; asserts nothing.
 * Usage: ak_bench_token_set [LIVE_TOKENS] [CHECKS] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void key_of(uint64_t i, uint8_t key[16]) {
  uint64_t a = i * 0x9e3779b97f4a7c15ull, b = ~i;
  memcpy(key, &a, 8);
  memcpy(key + 8, &b, 8);
}

int main(int argc, char **argv) {
  long live = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
  long checks = argc > 2 ? strtol(argv[2], NULL, 10) : 2000000;
  if (live < 1 || checks < 1) {
    fprintf(stderr, "usage: ak_bench_token_set [LIVE_TOKENS] [CHECKS]\n");
    return 2;
  }
  const int64_t t0 = 1700000000, ttl = 600;
  ak_token_set *t = ak__token_set_new((size_t)live * 3, 86400);
  if (!t) return 1;
  uint8_t k[16];
  double a = now_s();
  /* live tokens: one issued per (ttl / live) s, so expiry keeps about `live` present */
  for (long i = 0; i < live; i++) {
    key_of((uint64_t)i, k);
    ak__token_set_insert(t, k, t0 + ttl + i * ttl / live, t0);
  }
  double fill = now_s() - a;
  a = now_s();
  long reused = 0;
  for (long i = 0; i < checks; i++) {
    key_of((uint64_t)(i % live), k);
    reused += ak__token_set_insert(t, k, t0 + ttl, t0) == AK_TOKEN_REUSED;
  }
  double replay = now_s() - a;
  /* fresh tokens at a steady state: time advances so that as many expire as are added */
  a = now_s();
  double expire_time = 0;
  long ok = 0;
  for (long i = 0; i < checks; i++) {
    int64_t now = t0 + (int64_t)((double)i * (double)ttl / (double)live);
    if (i % 1000 == 0) {
      double e = now_s();
      ak__token_set_expire(t, now);
      expire_time += now_s() - e;
    }
    key_of((uint64_t)(live + i), k);
    ok += ak__token_set_insert(t, k, now + ttl, now) == AK_TOKEN_OK;
  }
  double fresh = now_s() - a;
  printf("token set: %ld live tokens (filled in %.1f ms)\n", live, fill * 1e3);
  printf("  replay checks: %.2f M/s (%ld refused of %ld)\n", (double)checks / replay / 1e6, reused,
         checks);
  printf("  fresh checks:  %.2f M/s incl. expiry (%ld accepted, %zu live at end)\n",
         (double)checks / fresh / 1e6, ok, ak__token_set_count(t));
  printf("  expiry passes: %.3f us per call (%ld calls)\n",
         expire_time / (double)(checks / 1000) * 1e6, checks / 1000);
  ak__token_set_free(t);
  return 0;
}
