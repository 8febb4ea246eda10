/* --trusted-proxy: the client address behind a load balancer. A connection from a trusted
 * proxy (an address or CIDR range) is attributed to the address its X-Forwarded-For names:
 * the rightmost entry that is not itself a trusted proxy (entries further left are whatever
 * the client sent and are never believed). From any other peer the header is ignored. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* IPv4 as ::ffff:a.b.c.d so one comparison covers both families. */
static int ip16(const char *s, size_t n, uint8_t out[16]) {
  char buf[64];
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  uint8_t v4[4];
  if (inet_pton(AF_INET, buf, v4) == 1) {
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, v4, 4);
    return 4;
  }
  return inet_pton(AF_INET6, buf, out) == 1 ? 6 : -1;
}

int ak__proxy_add(ak_server_config *c, const char *spec) {
  if (c->n_trusted_proxies >= AK_MAX_TRUSTED_PROXIES) return -1;
  const char *slash = strchr(spec, '/');
  size_t n = slash ? (size_t)(slash - spec) : strlen(spec);
  uint8_t *net = c->trusted_proxies[c->n_trusted_proxies].net;
  int fam = ip16(spec, n, net);
  if (fam < 0) return -1;
  int bits = fam == 4 ? 32 : 128;
  if (slash) {
    char *end = NULL;
    long b = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end || b < 0 || b > bits) return -1;
    bits = (int)b;
  }
  c->trusted_proxies[c->n_trusted_proxies].bits = fam == 4 ? 96 + bits : bits;
  c->n_trusted_proxies++;
  return 0;
}

static int trusted16(const ak_server_config *c, const uint8_t a[16]) {
  for (int i = 0; i < c->n_trusted_proxies; i++) {
    const uint8_t *net = c->trusted_proxies[i].net;
    int bits = c->trusted_proxies[i].bits, full = bits / 8, rest = bits % 8;
    if (memcmp(net, a, (size_t)full) != 0) continue;
    if (rest && ((net[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest)))) continue;
    return 1;
  }
  return 0;
}

void ak__proxy_client_ip(const ak_server_config *c, const char *peer, const char *xff, char *out,
                         size_t cap) {
  snprintf(out, cap, "%s", peer);
  uint8_t a[16];
  if (!c->n_trusted_proxies || !xff || !*xff || ip16(peer, strlen(peer), a) < 0 || !trusted16(c, a))
    return;
  /* Walk the list from the right: skip trusted hops, take the first other address. */
  const char *end = xff + strlen(xff);
  while (end > xff) {
    const char *start = end;
    while (start > xff && start[-1] != ',') start--;
    const char *s = start, *e = end;
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if (ip16(s, (size_t)(e - s), a) < 0) return; /* garbage: keep the proxy's address */
    if (!trusted16(c, a) || start == xff) {
      snprintf(out, cap, "%.*s", (int)(e - s), s);
      return;
    }
    end = start - 1;
  }
}

void ak__client_ip(const ak_server *s, struct lws *wsi, char *out, size_t cap) {
  char peer[64] = "", xff[512] = "";
  lws_get_peer_simple(wsi, peer, sizeof peer);
  if (s->cfg.n_trusted_proxies &&
      lws_hdr_copy(wsi, xff, (int)sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) <= 0)
    xff[0] = '\0';
  ak__proxy_client_ip(&s->cfg, peer, xff, out, cap);
}
