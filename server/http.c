/* HTTP side of the server: the console token API, health, metrics, static files, and the
 * refusal writers: {"errors":[...]} for those routes, {"message":"..."} for the ingress
 * (WebSocket upgrades that auth.c refused), each a complete HTTP/1.1 response. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "conn.h"
#include "server.h"

/* ---- CORS: only for origins given with --cors-origin ("*" only when given explicitly). ---- */
int ak__http_cors_allowed(const ak_server_config *c, const char *origin, char *out, size_t cap) {
  for (int i = 0; i < c->n_cors_origins; i++) {
    const char *o = c->cors_origins[i];
    if (!strcmp(o, "*")) {
      snprintf(out, cap, "*");
      return 1;
    }
    if (origin && *origin && !strcmp(o, origin) && strlen(origin) < cap) {
      snprintf(out, cap, "%s", origin);
      return 1;
    }
  }
  return 0;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end) {
  return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                     (int)strlen(value), p, end);
}

/* public = 1: a public, non-secret resource (the avatar registry's assets) that any origin may
 * read, whatever --cors-origin says. */
static int add_common(struct lws *wsi, unsigned char **p, unsigned char *end, int public) {
  ak_server *s = ak__server_from_wsi(wsi);
  if (add_header(wsi, "cache-control:", public ? "public, max-age=300" : "no-store", p, end))
    return -1;
  if (public) return add_header(wsi, "access-control-allow-origin:", "*", p, end);
  if (!s || !s->cfg.n_cors_origins) return 0;
  char origin[AK_MAX_STR] = "", allow[AK_MAX_STR];
  int ol = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
  if (ol > 0 && ol < (int)sizeof origin &&
      lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
    origin[0] = '\0';
  if (!ak__http_cors_allowed(&s->cfg, origin, allow, sizeof allow)) return 0;
  if (add_header(wsi, "access-control-allow-origin:", allow, p, end) ||
      add_header(wsi, "access-control-allow-headers:",
                 "content-type, x-api-key, x-app-id, x-session-key", p, end) ||
      add_header(wsi, "access-control-allow-methods:", "GET, POST, OPTIONS", p, end) ||
      (strcmp(allow, "*") != 0 && add_header(wsi, "vary:", "Origin", p, end)))
    return -1;
  return 0;
}

static const char *reason_of(int status) {
  static const struct {
    int status;
    const char *reason;
  } k[] = {
      {200, "OK"},
      {204, "No Content"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {402, "Payment Required"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {413, "Payload Too Large"},
      {426, "Upgrade Required"},
      {429, "Too Many Requests"},
      {500, "Internal Server Error"},
      {503, "Service Unavailable"},
  };
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
    if (k[i].status == status) return k[i].reason;
  return status >= 500 ? "Server Error" : status >= 400 ? "Client Error" : "OK";
}

/* Writes a complete HTTP response (headers + body) now. The status line is ours: lws
 * formats it from the request's HTTP version, which it has not parsed yet when an upgrade
 * is refused (so it came out "HTTP/1.0", which the websockets library of the official
 * Python SDK refuses to read), and it has no reason phrase for some codes (426). lws still
 * adds the content length, which its keep-alive bookkeeping needs. close = 1 announces that
 * the connection ends after this response (a refused upgrade). Returns the value the
 * callback should return. */
static int http_respond_ex(struct lws *wsi, int status, const char *ctype, const char *body,
                           size_t body_len, int close, int retry_after, int public) {
  size_t cap = LWS_PRE + 1024 + body_len;
  unsigned char *buf = malloc(cap);
  if (!buf) return -1;
  unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + cap;
  char retry_buf[24];
  snprintf(retry_buf, sizeof retry_buf, "%d", retry_after);
  int n = snprintf((char *)p, 64, "HTTP/1.1 %d %s\r\n", status, reason_of(status));
  p += n;
  if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, (const unsigned char *)ctype,
                                   (int)strlen(ctype), &p, end) ||
      lws_add_http_header_content_length(wsi, (lws_filepos_t)body_len, &p, end) ||
      (close && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                             (const unsigned char *)"close", 5, &p, end)) ||
      add_common(wsi, &p, end, public) ||
      (retry_after > 0 && add_header(wsi, "retry-after:", retry_buf, &p, end)) ||
      lws_finalize_http_header(wsi, &p, end)) {
    free(buf);
    return -1;
  }
  if (body && body_len) { /* never memcpy from NULL (UB), even for 0 bytes */
    memcpy(p, body, body_len);
    p += body_len;
  }
  n = lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS);
  free(buf);
  if (n < 0) return -1;
  if (close) return 1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_respond(struct lws *wsi, int status, const char *ctype, const char *body,
                        size_t body_len) {
  return http_respond_ex(wsi, status, ctype, body, body_len, 0, 0, 0);
}

/* The console API's and the other HTTP routes' refusal:
 * {"errors":[{status, code, title, detail}]}. Returns what the callback should return. */
static int http_error_full(struct lws *wsi, int status, const char *code, const char *title,
                           const char *detail, int retry_after, int public) {
  cJSON *root = cJSON_CreateObject(), *errs = cJSON_AddArrayToObject(root, "errors");
  cJSON *e = cJSON_CreateObject();
  cJSON_AddNumberToObject(e, "status", status);
  cJSON_AddStringToObject(e, "code", code);
  cJSON_AddStringToObject(e, "title", title);
  cJSON_AddStringToObject(e, "detail", detail);
  cJSON_AddItemToArray(errs, e);
  char *body = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  int rc = body ? http_respond_ex(wsi, status, "application/json", body, strlen(body), 0,
                                  retry_after, public)
                : -1;
  cJSON_free(body);
  return rc;
}

static int http_error_ex(struct lws *wsi, int status, const char *code, const char *title,
                         const char *detail, int retry_after) {
  return http_error_full(wsi, status, code, title, detail, retry_after, 0);
}

static int http_error(struct lws *wsi, int status, const char *code, const char *title,
                      const char *detail) {
  return http_error_ex(wsi, status, code, title, detail, 0);
}

/* The ingress's refusal, in the commercial ingress's shape: {"message":"..."} and a newline.
 * close = 1 for a refused upgrade (the connection ends; returns 1), 0 for a plain GET. */
static int ingress_error_ex(struct lws *wsi, int status, const char *message, int close,
                            int retry_after) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "message", message);
  char *json = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!json) return -1;
  size_t n = strlen(json);
  char *body = malloc(n + 2);
  int rc = -1;
  if (body) {
    memcpy(body, json, n);
    body[n++] = '\n';
    rc = http_respond_ex(wsi, status, "application/json", body, n, close, retry_after, 0);
  }
  free(body);
  cJSON_free(json);
  return rc;
}

static int ingress_error(struct lws *wsi, int status, const char *message, int close) {
  return ingress_error_ex(wsi, status, message, close, 0);
}

/* Auth of an upgrade request (auth.c): 0 when allowed; otherwise the refusal has been
 * written and the return value is what the callback must return (1: close, -1: failed;
 * for a plain GET, 2 when the connection may stay). */
static int refuse_upgrade(ak_server *s, struct lws *wsi, int upgrade) {
  ak__auth_verdict v;
  ak__auth_upgrade(s, wsi, upgrade, &v);
  if (v.status == 0) return 0;
  s->m.upgrades_refused++;
  /* A client can repeat this as fast as it connects: at most 20 lines per 10 s. */
  ak__log_limited(s, &s->refused_log, ak__now_us(), 10 * 1000000ll, 20, AK_LOG_INFO, NULL, NULL,
                  "upgrade refused %d: %s (app %s, avatar %s)", v.status, v.detail, v.app_id,
                  v.avatar_id);
  int rc = ingress_error_ex(wsi, v.status, v.detail, upgrade, v.retry_after);
  if (rc < 0) return -1;
  return upgrade ? 1 : 2;
}

/* ---- Token API ---------------------------------------------------------------------------- */
int ak__http_parse_token_body(const char *body, size_t len, int64_t now, int max_ttl_s,
                              int64_t *expire_at, char *err, size_t err_cap) {
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *exp = root ? cJSON_GetObjectItemCaseSensitive(root, "expireAt") : NULL;
  if (!root || !cJSON_IsObject(root) || !cJSON_IsNumber(exp)) {
    cJSON_Delete(root);
    snprintf(err, err_cap, "body must be a JSON object with a numeric expireAt (unix seconds)");
    return -1;
  }
  double v = exp->valuedouble;
  cJSON_Delete(root);
  if (!(v > (double)now) || v > (double)(now + max_ttl_s)) {
    snprintf(err, err_cap, "expireAt must be in the future and at most %d seconds ahead",
             max_ttl_s);
    return -1;
  }
  *expire_at = (int64_t)v;
  return 0;
}

/* Per-IP fixed one-minute windows in a fixed table (open addressing over a short probe
 * run; when the run is full, the entry with the oldest window is reused). */
#define RATE_PROBES 8
typedef struct rate_entry {
  char ip[48];
  int64_t window; /* minute number */
  int count;
} rate_entry;
struct ak_rate_table {
  rate_entry e[AK_RATE_TABLE_SIZE];
};

ak_rate_table *ak__rate_new(void) {
  return calloc(1, sizeof(ak_rate_table));
}
void ak__rate_free(ak_rate_table *r) {
  free(r);
}

int ak__rate_check(ak_rate_table *r, const char *ip, int64_t now_s, int per_minute) {
  if (!r || per_minute <= 0) return 0;
  uint32_t h = 2166136261u;
  for (const char *p = ip; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
  int64_t win = now_s / 60;
  rate_entry *slot = NULL;
  for (int k = 0; k < RATE_PROBES; k++) {
    rate_entry *e = &r->e[(h + (uint32_t)k) % AK_RATE_TABLE_SIZE];
    if (e->ip[0] && !strncmp(e->ip, ip, sizeof e->ip - 1)) {
      slot = e;
      break;
    }
    if (!slot || !e->ip[0] || e->window < slot->window) slot = e;
  }
  if (strncmp(slot->ip, ip, sizeof slot->ip - 1) != 0 || !slot->ip[0]) {
    snprintf(slot->ip, sizeof slot->ip, "%s", ip);
    slot->window = win;
    slot->count = 0;
  }
  if (slot->window != win) {
    slot->window = win;
    slot->count = 0;
  }
  if (slot->count >= per_minute) return (int)(60 - now_s % 60);
  slot->count++;
  return 0;
}

static int issue_token(ak_server *s, struct lws *wsi, ak_conn *c) {
  if (c->http.rate_wait > 0) {
    s->m.token_rate_limited++;
    char detail[128];
    snprintf(detail, sizeof detail, "too many token requests from this address; retry after %d s",
             c->http.rate_wait);
    return http_error_ex(wsi, 429, "rate_limited", "Too Many Requests", detail, c->http.rate_wait);
  }
  const ak_app *app = ak__auth_api_key(s, c->http.api_key, strlen(c->http.api_key));
  if (!app) { /* Never "unauthorized": the SDKs read that word as an egress (LiveKit) error. */
    s->m.api_key_failures++;
    char ip[64] = "";
    ak__client_ip(s, wsi, ip, sizeof ip);
    ak__log_limited(s, &s->key_fail_log, ak__now_us(), 60 * 1000000ll, AK_KEY_FAIL_LOG_PER_MIN,
                    AK_LOG_WARN, NULL, NULL, "token API: %s API key from %s",
                    c->http.api_key_state == 0   ? "missing"
                    : c->http.api_key_state == 2 ? "oversized"
                                                 : "wrong",
                    ip);
    return http_error(wsi, 401, "invalid_api_key", "Invalid API key",
                      c->http.api_key_state ? "invalid api key" : "missing X-Api-Key header");
  }
  if (c->http.body_too_big)
    return http_error(wsi, 413, "payload_too_large", "Payload Too Large",
                      "request body exceeds 4096 bytes");
  c->http.body[c->http.body_len] = '\0';
  int64_t now = (int64_t)time(NULL), v = 0;
  char detail[160];
  if (ak__http_parse_token_body(c->http.body, c->http.body_len, now, s->cfg.max_token_ttl_s, &v,
                                detail, sizeof detail))
    return http_error(wsi, 400, "invalid_request", "Bad Request", detail);
  char token[512];
  if (ak__token_issue(s, app->app_id, v, token, sizeof token))
    return http_error(wsi, 500, "internal", "Internal Server Error", "token signing failed");
  s->m.http_tokens_issued++;
  ak__log(s, AK_LOG_DEBUG, NULL, NULL, "session token issued for app %s, expires %lld", app->app_id,
          (long long)v);
  char body[700];
  int n = snprintf(body, sizeof body, "{\"sessionToken\":\"%s\",\"expireAt\":%lld}", token,
                   (long long)v);
  return http_respond(wsi, 200, "application/json", body, (size_t)n);
}

static const char *mime_of(const char *path) {
  static const char *const map[][2] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript"},
      {".mjs", "text/javascript"},
      {".css", "text/css"},
      {".json", "application/json"},
      {".glb", "model/gltf-binary"},
      {".gltf", "model/gltf+json"},
      {".wasm", "application/wasm"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".svg", "image/svg+xml"},
      {".ts", "text/plain"},
      {".map", "application/json"},
      {".wav", "audio/wav"},
      {".txt", "text/plain"},
      {".ico", "image/x-icon"},
  };
  const char *dot = strrchr(path, '.');
  if (dot)
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
      if (strcmp(dot, map[i][0]) == 0) return map[i][1];
  return "application/octet-stream";
}

/* ---- Static files ------------------------------------------------------------------------- */
int ak__http_static_uri_ok(const char *uri) {
  if (!uri || uri[0] != '/') return -1;
  for (const char *p = uri; *p;) {
    while (*p == '/') p++;
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n && p[0] == '.') return -1; /* ".", "..", ".git", ".env": never served */
    if (memchr(p, '\\', n)) return -1;
    p += n;
  }
  return 0;
}

int ak__http_path_inside(const char *root, const char *real) {
  size_t rl = strlen(root);
  while (rl > 1 && root[rl - 1] == '/') rl--;
  if (rl == 1 && root[0] == '/') return real[0] == '/' ? 0 : -1;
  if (strncmp(real, root, rl) != 0 || (real[rl] != '/' && real[rl] != '\0')) return -1;
  /* The resolved path must not lead through a dot component either (a symlink inside the
   * root that points at root/.git). */
  return ak__http_static_uri_ok(real[rl] ? real + rl : "/");
}

static int serve_static(ak_server *s, struct lws *wsi, const char *uri) {
  if (!s->cfg.static_dir[0] || ak__http_static_uri_ok(uri))
    return http_error(wsi, 404, "not_found", "Not Found", "no such resource");
  char path[PATH_MAX], real[PATH_MAX], root[PATH_MAX];
  int n = snprintf(path, sizeof path, "%s%s%s", s->cfg.static_dir, uri,
                   uri[strlen(uri) - 1] == '/' ? "index.html" : "");
  struct stat st;
  if (n < 0 || (size_t)n >= sizeof path || !realpath(path, real) ||
      !realpath(s->cfg.static_dir, root) || ak__http_path_inside(root, real) ||
      stat(real, &st) != 0 || !S_ISREG(st.st_mode))
    return http_error(wsi, 404, "not_found", "Not Found", "no such resource");
  /* --cors-origin covers static files too (the web SDK fetches avatars from serverUrl). */
  char origin[AK_MAX_STR] = "", allow[AK_MAX_STR], extra[2 * AK_MAX_STR + 64];
  int ol = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN), xl = 0;
  if (ol > 0 && ol < (int)sizeof origin &&
      lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
    origin[0] = '\0';
  if (ak__http_cors_allowed(&s->cfg, origin, allow, sizeof allow))
    xl = snprintf(extra, sizeof extra, "access-control-allow-origin: %s\r\n%s", allow,
                  strcmp(allow, "*") ? "vary: Origin\r\n" : "");
  if (xl < 0 || xl >= (int)sizeof extra) xl = 0;
  int rc = lws_serve_http_file(wsi, real, mime_of(real), xl ? extra : NULL, xl);
  if (rc < 0) return -1;
  if (rc > 0 && lws_http_transaction_completed(wsi)) return -1;
  return 0;
}

/* Avatar registry routes (avatars.c) --------------------------------------------------- */

/* Adds an avatar's public fields (what GET /avatars/<id>/avatar.json and the console list
 * show) to o; URLs are absolute paths on this server. */
static void avatar_json_fields(cJSON *o, const ak_avatar *a) {
  char url[64 + 2 * AK_AVATAR_FILENAME_MAX];
  cJSON_AddStringToObject(o, "id", a->id);
  cJSON_AddStringToObject(o, "name", a->name);
  cJSON_AddStringToObject(o, "description", a->description);
  cJSON_AddStringToObject(o, "model", a->model);
  snprintf(url, sizeof url, "/avatars/%s/%s", a->id, a->model);
  cJSON_AddStringToObject(o, "modelUrl", url);
  cJSON_AddNumberToObject(o, "modelBytes", (double)a->model_bytes);
  if (a->preview[0]) {
    cJSON_AddStringToObject(o, "preview", a->preview);
    snprintf(url, sizeof url, "/avatars/%s/%s", a->id, a->preview);
    cJSON_AddStringToObject(o, "previewUrl", url);
  }
  if (a->license[0]) cJSON_AddStringToObject(o, "license", a->license);
  cJSON_AddBoolToObject(o, "default", a->is_default);
}

static int respond_json(struct lws *wsi, cJSON *root, int public) {
  char *body = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  int rc = body ? http_respond_ex(wsi, 200, "application/json", body, strlen(body), 0, 0, public)
                : http_error(wsi, 500, "internal", "Internal Server Error", "out of memory");
  cJSON_free(body);
  return rc;
}

/* GET /v1/console/avatars (X-Api-Key, as the token API): {"avatars":[...]} of every avatar a
 * session may use (registry and --avatars allowlist). */
static int console_avatars(ak_server *s, struct lws *wsi) {
  char key[AK_MAX_STR] = "";
  int kl = lws_hdr_custom_length(wsi, "x-api-key:", 10);
  if (kl > 0 && kl < (int)sizeof key) lws_hdr_custom_copy(wsi, key, sizeof key, "x-api-key:", 10);
  /* The same constant-time check and failure count as the token API; an oversized key is
   * "invalid", not "missing". */
  if (!ak__auth_api_key(s, key, strlen(key))) {
    s->m.api_key_failures++;
    return http_error(wsi, 401, "invalid_api_key", "Invalid API key",
                      kl > 0 ? "invalid api key" : "missing X-Api-Key header");
  }
  cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "avatars");
  for (int i = 0; i < s->avatars.n; i++) {
    const ak_avatar *a = &s->avatars.items[i];
    if (!ak__avatars_find(s, a->id)) continue; /* not in the --avatars allowlist */
    cJSON *o = cJSON_CreateObject();
    avatar_json_fields(o, a);
    cJSON_AddItemToArray(list, o);
  }
  return respond_json(wsi, root, 0);
}

/* GET /avatars/<id>/<file>: a registered avatar's avatar.json (its public fields) or one of
 * the files it names (model, preview), with CORS so pages of any origin can load them. Never
 * any other file: no listing, no traversal, no dotfiles. Returns 1 (nothing written) when uri
 * does not have that shape, so other routes can take it. */
static int avatar_asset(ak_server *s, struct lws *wsi, const char *uri) {
  if (strncmp(uri, "/avatars/", 9) != 0) return 1;
  const char *id0 = uri + 9, *slash = strchr(id0, '/');
  if (!slash || slash == id0 || strchr(slash + 1, '/') || !slash[1]) return 1;
  char id[AK_AVATAR_ID_MAX + 1], file[AK_AVATAR_FILENAME_MAX + 1];
  size_t idn = (size_t)(slash - id0), fn = strlen(slash + 1);
  const ak_avatar *a = NULL;
  if (idn < sizeof id && fn < sizeof file) {
    memcpy(id, id0, idn);
    id[idn] = '\0';
    memcpy(file, slash + 1, fn + 1);
    a = ak__avatars_find(s, id);
  }
  if (!a)
    return http_error_full(wsi, 404, "avatar_not_found", "Not Found", "Avatar not found", 0, 1);
  if (!strcmp(file, "avatar.json")) {
    cJSON *root = cJSON_CreateObject();
    avatar_json_fields(root, a);
    return respond_json(wsi, root, 1);
  }
  if (strcmp(file, a->model) != 0 && (!a->preview[0] || strcmp(file, a->preview) != 0))
    return http_error_full(wsi, 404, "not_found", "Not Found", "no such avatar file", 0, 1);
  char path[1024];
  struct stat st;
  int n = snprintf(path, sizeof path, "%s/%s", a->dir, file);
  if (n < 0 || (size_t)n >= sizeof path || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return http_error_full(wsi, 404, "not_found", "Not Found", "avatar file missing on the server",
                           0, 1);
  static const char hdrs[] =
      "access-control-allow-origin: *\x0d\x0a"
      "cache-control: public, max-age=300\x0d\x0a";
  int rc = lws_serve_http_file(wsi, path, mime_of(path), hdrs, (int)sizeof hdrs - 1);
  if (rc < 0) return -1;
  if (rc > 0 && lws_http_transaction_completed(wsi)) return -1;
  return 0;
}

static int route_get(ak_server *s, struct lws *wsi, const char *uri) {
  if (strcmp(uri, "/healthz") == 0) {
    /* With --redis the store's state is reported but does not fail the check: every node
     * shares it, so taking nodes out helps nobody (docs/server.md, "Several nodes"). */
    char body[160];
    int n = snprintf(body, sizeof body, "{\"status\":\"%s\",\"sessions\":%d%s%s}",
                     s->draining ? "draining" : "ok", s->n_sessions, s->redis ? ",\"redis\":" : "",
                     s->redis ? (ak__redis_up(s->redis) ? "\"up\"" : "\"down\"") : "");
    return http_respond(wsi, s->draining ? 503 : 200, "application/json", body, (size_t)n);
  }
  if (strcmp(uri, "/metrics") == 0) {
    size_t cap = 16384;
    char *body = malloc(cap);
    int n = body ? ak__metrics_render(s, body, cap) : -1;
    int rc = n >= 0 ? http_respond(wsi, 200, "text/plain; version=0.0.4", body, (size_t)n)
                    : http_error(wsi, 500, "internal", "Internal Server Error", "metrics");
    free(body);
    return rc;
  }
  if (strcmp(uri, "/v2/driveningress/websocket") == 0) {
    /* A plain GET (no upgrade): answer auth errors as for an upgrade, else 426. */
    int rc = refuse_upgrade(s, wsi, 0);
    if (rc != 0) return rc == 2 ? 0 : -1;
    return ingress_error(wsi, 426,
                         "Upgrade required: this endpoint only accepts WebSocket upgrades", 0);
  }
  if (strcmp(uri, "/v1/console/avatars") == 0) return console_avatars(s, wsi);
  int arc = avatar_asset(s, wsi, uri);
  if (arc != 1) return arc;
  return serve_static(s, wsi, uri);
}

int ak__http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len) {
  ak_server *s = ak__server_from_wsi(wsi);
  ak_conn *c = user;
  switch (reason) {
    case LWS_CALLBACK_HTTP: {
      const char *uri = in;
      char method_uri[512];
      int is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
      int is_options = lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0;
      (void)method_uri;
      if (is_options) return http_respond(wsi, 204, "text/plain", NULL, 0);
      if (is_post) {
        if (strcmp(uri, "/v1/console/session-tokens") != 0)
          return http_error(wsi, 404, "not_found", "Not Found", "no such resource");
        memset(&c->http, 0, sizeof c->http);
        c->http.route = AK_ROUTE_TOKENS;
        if (s->rate) {
          char ip[64] = "";
          ak__client_ip(s, wsi, ip, sizeof ip);
          int wait = ak__rate_check(s->rate, ip, (int64_t)time(NULL), s->cfg.token_rate_limit);
          c->http.rate_wait = wait; /* answered 429 once the body is read */
        }
        int kl = lws_hdr_custom_length(wsi, "x-api-key:", 10);
        if (kl > 0 && kl < (int)sizeof c->http.api_key &&
            lws_hdr_custom_copy(wsi, c->http.api_key, sizeof c->http.api_key, "x-api-key:", 10) > 0)
          c->http.api_key_state = 1;
        else if (kl >= (int)sizeof c->http.api_key)
          c->http.api_key_state = 2; /* present but too long: invalid, not missing */
        else
          c->http.api_key[0] = '\0';
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
            lws_http_is_redirected_to_get(wsi))
          return issue_token(s, wsi, c); /* no body: answered as a bad request */
        return 0;                        /* wait for the body */
      }
      if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return http_error(wsi, 405, "method_not_allowed", "Method Not Allowed", "use GET or POST");
      return route_get(s, wsi, uri);
    }
    case LWS_CALLBACK_HTTP_BODY:
      if (c->http.route != AK_ROUTE_TOKENS || !in || !len) return 0; /* Content-Length: 0 */
      if (c->http.body_len + len >= sizeof c->http.body)
        c->http.body_too_big = 1;
      else {
        memcpy(c->http.body + c->http.body_len, in, len);
        c->http.body_len += len;
      }
      return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      if (c->http.route != AK_ROUTE_TOKENS) return -1;
      return issue_token(s, wsi, c);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
      return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      return refuse_upgrade(s, wsi, 1);
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}
