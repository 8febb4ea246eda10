/* Upgrade auth of the ingress WebSocket: endpoint, capacity, session token (verified,
 * optionally consumed), then app id and avatar id (which must be in the registry), judged into a
 * verdict. It writes nothing: http.c turns a refusal into the HTTP error response, ingress.c takes
 * the identity of an allowed one. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "server.h"

/* lws returns a pointer to the value inside its "name=value" copy: keep only the value. */
static void query_arg(struct lws *wsi, const char *name, char *out, size_t cap) {
  char tmp[700];
  const char *v = lws_get_urlarg_by_name(wsi, name, tmp, (int)sizeof tmp);
  out[0] = '\0';
  if (v && strlen(v) < cap) memcpy(out, v, strlen(v) + 1);
}

static void header_or_query(struct lws *wsi, const char *hdr, int hlen, const char *q, char *out,
                            size_t cap) {
  out[0] = '\0';
  int n = lws_hdr_custom_length(wsi, hdr, hlen);
  if (n > 0 && (size_t)n < cap && lws_hdr_custom_copy(wsi, out, (int)cap, hdr, hlen) > 0) return;
  out[0] = '\0';
  if (q) query_arg(wsi, q, out, cap);
}

static void refuse(ak__auth_verdict *v, int status, const char *code, const char *detail) {
  v->status = status;
  v->code = code;
  v->title = status == 401   ? "Unauthorized"
             : status == 404 ? "Not Found"
             : status == 503 ? "Service Unavailable"
             : status == 429 ? "Too Many Requests"
                             : "Bad Request";
  v->detail = detail;
}

static int digest(const char *key, size_t n, uint8_t out[32]) {
  unsigned int len = 0;
  return EVP_Digest(key, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

/* SHA-256 of both sides, compared with CRYPTO_memcmp: the time taken does not depend on
 * where the keys differ or on their lengths; every app is compared (no early exit). */
const ak_app *ak__auth_api_key(const ak_server *s, const char *key, size_t key_len) {
  uint8_t want[32], have[32];
  if (!key || key_len == 0 || key_len >= AK_MAX_STR || digest(key, key_len, have)) return NULL;
  const ak_app *found = NULL;
  for (int i = 0; i < s->cfg.n_apps; i++) {
    const char *k = s->cfg.apps[i].api_key;
    if (digest(k, strlen(k), want)) continue;
    int eq = CRYPTO_memcmp(want, have, sizeof want) == 0;
    if (eq && !found) found = &s->cfg.apps[i];
  }
  return found;
}

void ak__auth_upgrade(ak_server *s, struct lws *wsi, int consume, ak__auth_verdict *v) {
  char token[600] = "", uri[256] = "", app_id[AK_MAX_STR], avatar_id[AK_MAX_STR];
  if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0) uri[0] = '\0';
  header_or_query(wsi, "x-app-id:", 9, "appId=", app_id, sizeof app_id);
  header_or_query(wsi, "x-session-key:", 14, "sessionKey=", token, sizeof token);
  query_arg(wsi, "id=", avatar_id, sizeof avatar_id);
  char ip[64] = "";
  if (s->session_ip_rate) ak__client_ip(s, wsi, ip, sizeof ip);
  ak__auth_input in = {uri, app_id, token, avatar_id, ip};
  ak__auth_judge(s, &in, consume, v);
}

void ak__auth_judge(ak_server *s, const ak__auth_input *in, int consume, ak__auth_verdict *v) {
  const char *token = in->token;
  char token_app[AK_MAX_STR] = "";
  memset(v, 0, sizeof *v);
  snprintf(v->app_id, sizeof v->app_id, "%s", in->app_id);
  snprintf(v->avatar_id, sizeof v->avatar_id, "%s", in->avatar_id);
  if (strcmp(in->uri, "/v2/driveningress/websocket") != 0) {
    refuse(v, 404, "not_found", "no such endpoint: use /v2/driveningress/websocket");
    return;
  }
  if (s->draining) {
    refuse(v, 503, "unavailable", "server shutting down");
    return;
  }
  if (s->cfg.max_sessions && s->n_sessions >= s->cfg.max_sessions) {
    refuse(v, 503, "unavailable", "server at its session limit");
    return;
  }
  /* The token is judged before the app id, as the commercial ingress does: a bogus token
   * with any app id is 400 "Invalid session token" (the SDKs' sessionTokenInvalid). */
  if (!token[0]) {
    refuse(v, 400, "invalid_session_token",
           "Invalid session token: empty token (X-Session-Key header or sessionKey query)");
    return;
  }
  int64_t now = (int64_t)time(NULL), exp = 0;
  int t = ak__token_verify(s, token, now, token_app, sizeof token_app, &exp);
  if (t == AK_TOKEN_EXPIRED) {
    refuse(v, 401, "session_token_expired", "Session token expired");
    return;
  }
  if (t != AK_TOKEN_OK) {
    refuse(v, 400, "invalid_session_token", "Invalid session token");
    return;
  }
  if (!v->app_id[0]) {
    refuse(v, 400, "app_id_mismatch",
           "App id mismatch: no app id given (X-App-ID header or appId query parameter)");
    return;
  }
  int known = 0, app_index = -1;
  for (int i = 0; i < s->cfg.n_apps; i++)
    if (strcmp(s->cfg.apps[i].app_id, v->app_id) == 0) {
      known = 1;
      if (app_index < 0) app_index = i;
    }
  if (!known) {
    refuse(v, 404, "app_id_unrecognized", "App id unrecognized");
    return;
  }
  if (strcmp(token_app, v->app_id) != 0) {
    refuse(v, 400, "app_id_mismatch",
           "App id mismatch: the session token was issued for another app");
    return;
  }
  /* 404 and not 400: a 400 at connect reads as sessionTokenInvalid to the SDKs. */
  if (!v->avatar_id[0]) {
    refuse(v, 404, "avatar_not_found", "Avatar not found: no avatar id (id query parameter)");
    return;
  }
  /* The registry (avatars.c), narrowed by the --avatars allowlist. */
  if (!ak__avatars_find(s, v->avatar_id)) {
    refuse(v, 404, "avatar_not_found", "Avatar not found");
    return;
  }
  /* New-session rate limits, before the token is spent: a refused client may retry with
   * the same token after Retry-After. Only real upgrades (consume) are charged. The text
   * avoids every phrase of PROTOCOL.md section 6, so the SDKs read the 429 as
   * invalidRequest ("other 4xx") and show the detail. */
  if (consume) {
    int scope = 0;
    int wait = ak__session_rate_check(s, in->client_ip, app_index, ak__now_us(), &scope);
    if (wait > 0) {
      if (scope == 1)
        s->m.session_rate_limited_ip++;
      else
        s->m.session_rate_limited_app++;
      snprintf(v->detail_buf, sizeof v->detail_buf,
               "Too many new sessions %s: at most %g per second (burst %g); retry after %d s",
               scope == 1 ? "from this address" : "for this app",
               scope == 1 ? s->cfg.session_rate_ip : s->cfg.session_rate_app,
               scope == 1 ? s->cfg.session_burst_ip : s->cfg.session_burst_app, wait);
      refuse(v, 429, "rate_limited", v->detail_buf);
      v->retry_after = wait;
      return;
    }
  }
  int used = consume ? ak__token_consume(s, token, exp, now) : AK_TOKEN_OK;
  if (used == AK_TOKEN_FULL) {
    /* Never let a token through unrecorded: that would allow replay. */
    refuse(v, 503, "unavailable",
           "server busy: the single-use token table is full (see --token-table-size)");
    return;
  }
  if (used == AK_TOKEN_STORE_DOWN) {
    /* --redis: without the shared store a replay on another node could not be ruled out. */
    refuse(v, 503, "unavailable",
           "Service unavailable: the shared session token store (Redis) is unreachable, "
           "try again later");
    return;
  }
  if (used == AK_TOKEN_STORE_UNSURE) {
    /* Not 503: a balancer that retries 503 (deploy/haproxy.cfg) would replay this token on
     * another node, which may then find it used. The client gets a fresh one. */
    refuse(v, 500, "internal",
           "Internal error: the shared session token store (Redis) did not confirm in time and "
           "the token may be spent: get a new token and connect again");
    return;
  }
  if (used != AK_TOKEN_OK) {
    refuse(v, 400, "invalid_session_token",
           "Invalid session token: already used (tokens are single use)");
    return;
  }
  v->token_exp = exp;
}
