/* URL handling for the SDK: parsing console/ingress URLs (http, https, ws, wss), percent
 * encoding, and building the ingress WebSocket path with its query. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

int aks__url_parse(const char *url, aks__url *out) {
  aks__url u;
  memset(&u, 0, sizeof u);
  if (!url || !out) return AKS_INVALID_ARGUMENT;
  const char *p;
  if (strncasecmp(url, "ws://", 5) == 0) {
    p = url + 5;
    u.port = 80;
  } else if (strncasecmp(url, "http://", 7) == 0) {
    p = url + 7;
    u.port = 80;
  } else if (strncasecmp(url, "wss://", 6) == 0) {
    p = url + 6;
    u.port = 443;
    u.tls = 1;
  } else if (strncasecmp(url, "https://", 8) == 0) {
    p = url + 8;
    u.port = 443;
    u.tls = 1;
  } else
    return AKS_INVALID_ARGUMENT;

  const char *host_end;
  const char *h = p;
  if (*p == '[') { /* IPv6 literal: keep it without brackets */
    host_end = strchr(p, ']');
    if (!host_end) return AKS_INVALID_ARGUMENT;
    h = p + 1;
    p = host_end + 1;
  } else {
    p += strcspn(p, ":/?#");
    host_end = p;
  }
  size_t hl = (size_t)(host_end - h);
  if (hl == 0 || hl >= sizeof u.host) return AKS_INVALID_ARGUMENT;
  memcpy(u.host, h, hl);
  u.host[hl] = '\0';
  for (size_t i = 0; i < hl; i++)
    if ((unsigned char)u.host[i] <= ' ' || u.host[i] == '@') return AKS_INVALID_ARGUMENT;

  if (*p == ':') {
    char *end;
    long port = strtol(p + 1, &end, 10);
    if (end == p + 1 || port < 1 || port > 65535) return AKS_INVALID_ARGUMENT;
    u.port = (int)port;
    p = end;
  }
  if (*p && *p != '/' && *p != '?' && *p != '#') return AKS_INVALID_ARGUMENT;
  size_t pl = strcspn(p, "?#");
  if (pl + 2 > sizeof u.path) return AKS_INVALID_ARGUMENT;
  if (pl == 0) {
    u.path[0] = '/';
    u.path[1] = '\0';
  } else {
    memcpy(u.path, p, pl);
    u.path[pl] = '\0';
  }
  p += pl;
  if (*p == '?') {
    p++;
    size_t ql = strcspn(p, "#");
    if (ql + 1 > sizeof u.query) return AKS_INVALID_ARGUMENT;
    memcpy(u.query, p, ql);
    u.query[ql] = '\0';
  }
  for (const char *c = u.path; *c; c++)
    if ((unsigned char)*c <= ' ') return AKS_INVALID_ARGUMENT;
  *out = u;
  return AKS_OK;
}

int aks__url_escape(char *buf, size_t cap, size_t *pos, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t at = *pos;
  for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
    int plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                *c == '-' || *c == '_' || *c == '.' || *c == '~';
    size_t need = plain ? 1 : 3;
    if (at + need >= cap) return AKS_INVALID_ARGUMENT;
    if (plain) {
      buf[at++] = (char)*c;
    } else {
      buf[at++] = '%';
      buf[at++] = hex[*c >> 4];
      buf[at++] = hex[*c & 15];
    }
  }
  buf[at] = '\0';
  *pos = at;
  return AKS_OK;
}

static int append(char *buf, size_t cap, size_t *pos, const char *s) {
  size_t n = strlen(s);
  if (*pos + n >= cap) return AKS_INVALID_ARGUMENT;
  memcpy(buf + *pos, s, n + 1);
  *pos += n;
  return AKS_OK;
}

int aks__ingress_path(const aks__url *ingress, const char *avatar_id, const char *app_id,
                      const char *token, int auth_in_query, char *out, size_t cap) {
  size_t pos = 0;
  if (!cap) return AKS_INVALID_ARGUMENT;
  out[0] = '\0';
  size_t pl = strlen(ingress->path);
  while (pl > 0 && ingress->path[pl - 1] == '/') pl--;
  if (pl + 1 >= cap) return AKS_INVALID_ARGUMENT;
  memcpy(out, ingress->path, pl);
  out[pl] = '\0';
  pos = pl;
  int rc = append(out, cap, &pos, "/websocket?id=");
  if (!rc) rc = aks__url_escape(out, cap, &pos, avatar_id);
  if (!rc && auth_in_query) {
    rc = append(out, cap, &pos, "&appId=");
    if (!rc) rc = aks__url_escape(out, cap, &pos, app_id);
    if (!rc) rc = append(out, cap, &pos, "&sessionKey=");
    if (!rc) rc = aks__url_escape(out, cap, &pos, token);
  }
  if (!rc && ingress->query[0]) {
    rc = append(out, cap, &pos, "&");
    if (!rc) rc = append(out, cap, &pos, ingress->query);
  }
  return rc;
}
