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

static int add_common(struct lws *wsi, unsigned char **p, unsigned char *end) {
  static const char *const cors[][2] = {
      {"access-control-allow-origin:", "*"},
      {"access-control-allow-headers:", "content-type, x-api-key, x-app-id, x-session-key"},
      {"access-control-allow-methods:", "GET, POST, OPTIONS"},
      {"cache-control:", "no-store"},
  };
  for (size_t i = 0; i < sizeof cors / sizeof cors[0]; i++)
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)cors[i][0],
                                    (const unsigned char *)cors[i][1], (int)strlen(cors[i][1]), p,
                                    end))
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
                           size_t body_len, int close) {
  size_t cap = LWS_PRE + 1024 + body_len;
  unsigned char *buf = malloc(cap);
  if (!buf) return -1;
  unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + cap;
  int n = snprintf((char *)p, 64, "HTTP/1.1 %d %s\r\n", status, reason_of(status));
  p += n;
  if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, (const unsigned char *)ctype,
                                   (int)strlen(ctype), &p, end) ||
      lws_add_http_header_content_length(wsi, (lws_filepos_t)body_len, &p, end) ||
      (close && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                             (const unsigned char *)"close", 5, &p, end)) ||
      add_common(wsi, &p, end) || lws_finalize_http_header(wsi, &p, end)) {
    free(buf);
    return -1;
  }
  if (body_len) {
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
  return http_respond_ex(wsi, status, ctype, body, body_len, 0);
}

/* The console API's and the other HTTP routes' refusal:
 * {"errors":[{status, code, title, detail}]}. Returns what the callback should return. */
static int http_error(struct lws *wsi, int status, const char *code, const char *title,
                      const char *detail) {
  cJSON *root = cJSON_CreateObject(), *errs = cJSON_AddArrayToObject(root, "errors");
  cJSON *e = cJSON_CreateObject();
  cJSON_AddNumberToObject(e, "status", status);
  cJSON_AddStringToObject(e, "code", code);
  cJSON_AddStringToObject(e, "title", title);
  cJSON_AddStringToObject(e, "detail", detail);
  cJSON_AddItemToArray(errs, e);
  char *body = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  int rc = body ? http_respond(wsi, status, "application/json", body, strlen(body)) : -1;
  cJSON_free(body);
  return rc;
}

/* The ingress's refusal, in the commercial ingress's shape: {"message":"..."} and a newline.
 * close = 1 for a refused upgrade (the connection ends; returns 1), 0 for a plain GET. */
static int ingress_error(struct lws *wsi, int status, const char *message, int close) {
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
    rc = http_respond_ex(wsi, status, "application/json", body, n, close);
  }
  free(body);
  cJSON_free(json);
  return rc;
}

/* Auth of an upgrade request (auth.c): 0 when allowed; otherwise the refusal has been
 * written and the return value is what the callback must return (1: close, -1: failed;
 * for a plain GET, 2 when the connection may stay). */
static int refuse_upgrade(ak_server *s, struct lws *wsi, int upgrade) {
  ak__auth_verdict v;
  ak__auth_upgrade(s, wsi, upgrade, &v);
  if (v.status == 0) return 0;
  s->m.upgrades_refused++;
  ak__log(s, AK_LOG_INFO, NULL, NULL, "upgrade refused %d: %s (app %s, avatar %s)", v.status,
          v.detail, v.app_id, v.avatar_id);
  int rc = ingress_error(wsi, v.status, v.detail, upgrade);
  if (rc < 0) return -1;
  return upgrade ? 1 : 2;
}

static int issue_token(ak_server *s, struct lws *wsi, ak_conn *c) {
  const ak_app *app = NULL;
  for (int i = 0; i < s->cfg.n_apps; i++)
    if (c->http.api_key[0] && strcmp(s->cfg.apps[i].api_key, c->http.api_key) == 0)
      app = &s->cfg.apps[i];
  if (!app) /* Never "unauthorized": the SDKs read that word as an egress (LiveKit) error. */
    return http_error(wsi, 401, "invalid_api_key", "Invalid API key",
                      c->http.api_key[0] ? "invalid api key" : "missing X-Api-Key header");
  if (c->http.body_too_big)
    return http_error(wsi, 413, "payload_too_large", "Payload Too Large",
                      "request body exceeds 4096 bytes");
  c->http.body[c->http.body_len] = '\0';
  cJSON *root = cJSON_ParseWithLength(c->http.body, c->http.body_len);
  const cJSON *exp = root ? cJSON_GetObjectItemCaseSensitive(root, "expireAt") : NULL;
  int64_t now = (int64_t)time(NULL);
  if (!root || !cJSON_IsObject(root) || !cJSON_IsNumber(exp)) {
    cJSON_Delete(root);
    return http_error(wsi, 400, "invalid_request", "Bad Request",
                      "body must be a JSON object with a numeric expireAt (unix seconds)");
  }
  double v = exp->valuedouble;
  cJSON_Delete(root);
  if (!(v > (double)now) || v > (double)(now + s->cfg.max_token_ttl_s)) {
    char detail[160];
    snprintf(detail, sizeof detail, "expireAt must be in the future and at most %d seconds ahead",
             s->cfg.max_token_ttl_s);
    return http_error(wsi, 400, "invalid_request", "Bad Request", detail);
  }
  char token[512];
  if (ak__token_issue(s, app->app_id, (int64_t)v, token, sizeof token))
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

static int serve_static(ak_server *s, struct lws *wsi, const char *uri) {
  if (!s->cfg.static_dir[0] || strstr(uri, "..") || uri[0] != '/')
    return http_error(wsi, 404, "not_found", "Not Found", "no such resource");
  char path[PATH_MAX], real[PATH_MAX], root[PATH_MAX];
  int n = snprintf(path, sizeof path, "%s%s%s", s->cfg.static_dir, uri,
                   uri[strlen(uri) - 1] == '/' ? "index.html" : "");
  struct stat st;
  if (n < 0 || (size_t)n >= sizeof path || !realpath(path, real) ||
      !realpath(s->cfg.static_dir, root) || strncmp(real, root, strlen(root)) != 0 ||
      stat(real, &st) != 0 || !S_ISREG(st.st_mode))
    return http_error(wsi, 404, "not_found", "Not Found", "no such resource");
  int rc = lws_serve_http_file(wsi, real, mime_of(real), NULL, 0);
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

static int respond_json(struct lws *wsi, cJSON *root) {
  char *body = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  int rc = body ? http_respond(wsi, 200, "application/json", body, strlen(body))
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
  int ok = 0;
  for (int i = 0; i < s->cfg.n_apps; i++) ok |= key[0] && !strcmp(s->cfg.apps[i].api_key, key);
  if (!ok)
    return http_error(wsi, 401, "invalid_api_key", "Invalid API key",
                      key[0] ? "invalid api key" : "missing X-Api-Key header");
  cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "avatars");
  for (int i = 0; i < s->avatars.n; i++) {
    const ak_avatar *a = &s->avatars.items[i];
    if (!ak__avatars_find(s, a->id)) continue; /* not in the --avatars allowlist */
    cJSON *o = cJSON_CreateObject();
    avatar_json_fields(o, a);
    cJSON_AddItemToArray(list, o);
  }
  return respond_json(wsi, root);
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
  if (!a) return http_error(wsi, 404, "avatar_not_found", "Not Found", "Avatar not found");
  if (!strcmp(file, "avatar.json")) {
    cJSON *root = cJSON_CreateObject();
    avatar_json_fields(root, a);
    return respond_json(wsi, root);
  }
  if (strcmp(file, a->model) != 0 && (!a->preview[0] || strcmp(file, a->preview) != 0))
    return http_error(wsi, 404, "not_found", "Not Found", "no such avatar file");
  char path[1024];
  struct stat st;
  int n = snprintf(path, sizeof path, "%s/%s", a->dir, file);
  if (n < 0 || (size_t)n >= sizeof path || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return http_error(wsi, 404, "not_found", "Not Found", "avatar file missing on the server");
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
    char body[128];
    int n = snprintf(body, sizeof body, "{\"status\":\"%s\",\"sessions\":%d}",
                     s->draining ? "draining" : "ok", s->n_sessions);
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
      if (is_options) return http_respond(wsi, 204, "text/plain", "", 0);
      if (is_post) {
        if (strcmp(uri, "/v1/console/session-tokens") != 0)
          return http_error(wsi, 404, "not_found", "Not Found", "no such resource");
        memset(&c->http, 0, sizeof c->http);
        c->http.route = AK_ROUTE_TOKENS;
        int kl = lws_hdr_custom_length(wsi, "x-api-key:", 10);
        if (kl > 0 && kl < (int)sizeof c->http.api_key)
          lws_hdr_custom_copy(wsi, c->http.api_key, sizeof c->http.api_key, "x-api-key:", 10);
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
      if (c->http.route != AK_ROUTE_TOKENS) return 0;
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
