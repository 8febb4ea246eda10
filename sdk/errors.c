/* Error names and phases of the server SDK, and the mapping from what a server says (HTTP
 * status + JSON error body, ServerError code and message, close codes) to stable
 * aks_error_code. The mapping follows the official Server SDKs' rules, in their order
 * (PROTOCOL.md section 6), so our SDK reports what theirs would:
 *
 *  server_code: ServerError.code as a decimal string, or the "code" of a JSON error;
 *  text: server_code + title + detail (JSON errors) or the message, case-insensitive.
 *    1. server_code "3" / "INVALID_ARGUMENT" -> AKS_INVALID_EGRESS_CONFIG if text mentions
 *       livekit, agora or egress, else AKS_INVALID_REQUEST
 *    2. "16" / "UNAUTHENTICATED" -> AKS_INVALID_EGRESS_CONFIG
 *    3. "14" / "UNAVAILABLE" -> AKS_EGRESS_UNAVAILABLE
 *    4. "4001" -> AKS_CREDITS_EXHAUSTED, "4002" -> AKS_SESSION_DURATION_EXCEEDED
 *    5. phrases in text, in the order of k_phrases below (first match wins)
 *    6. HTTP status (refused HTTP calls only): 401 -> AKS_SESSION_TOKEN_EXPIRED; 404 ->
 *       AKS_AVATAR_NOT_FOUND if text has "avatar not found", else AKS_APP_ID_UNRECOGNIZED;
 *       402 -> AKS_BILLING_REQUIRED; 400 with "app id mismatch" -> AKS_APP_ID_MISMATCH;
 *       400 at websocket connect -> AKS_SESSION_TOKEN_INVALID; other 4xx ->
 *       AKS_INVALID_REQUEST; 5xx -> AKS_SERVER_ERROR.
 *  Ours beyond the rules: a ServerError no rule matches -> AKS_SERVER_ERROR; no HTTP answer
 *  (status 0) -> AKS_CONNECTION_FAILED; 1xx/2xx/3xx where an error or a token was expected
 *  -> AKS_PROTOCOL_ERROR. JSON bodies: {"errors":[{status,code,title,detail}]} (console API)
 *  or {"message":"..."} (the ingress).
 *  Phases: a ServerError before the confirmation is websocket_handshake, after it
 *  websocket_runtime; a refused upgrade is websocket_connect; the token API session_token.
 *
 *  WebSocket close without an earlier error (phase websocket_runtime; aks__classify_close),
 *  codes from the shared table AK_CLOSE_MAP in avatarkit/protocol.h:
 *    AK_CLOSE_TOKEN_EXPIRED (4010) -> AKS_SESSION_TOKEN_EXPIRED
 *    every other code (AK_CLOSE_NORMAL 1000, GOING_AWAY 1001, PROTOCOL 1002,
 *    UNSUPPORTED_DATA 1003, INVALID_PAYLOAD 1007, POLICY 1008, TOO_BIG 1009,
 *    INTERNAL 1011, and 1006 "no close frame") -> AKS_CONNECTION_CLOSED
 *    A close that follows a reported error (ServerError, local failure) or the user's own
 *    close is not reported again.
 *
 *  Local failures: AKS_CONNECTION_FAILED (TCP/TLS/upgrade without an HTTP error, or a write
 *  that failed), AKS_TIMEOUT (no confirmation within connect_timeout_ms), AKS_PROTOCOL_ERROR
 *  (malformed or unexpected server message, text frame, message over AK_MAX_MESSAGE_BYTES),
 *  AKS_OUT_OF_MEMORY, and the call errors AKS_INVALID_ARGUMENT / INVALID_STATE / QUEUE_FULL. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "avatarkit/protocol.h"
#include "internal.h"

const char *aks_error_name(int code) {
  switch (code) {
#define AKS__NAME(name, c, str) \
  case c:                       \
    return str;
    AKS_ERROR_MAP(AKS__NAME)
#undef AKS__NAME
    default:
      return "unknown";
  }
}

const char *aks_phase_name(int phase) {
  switch (phase) {
    case AKS_PHASE_SESSION_TOKEN:
      return "session_token";
    case AKS_PHASE_WEBSOCKET_CONNECT:
      return "websocket_connect";
    case AKS_PHASE_WEBSOCKET_HANDSHAKE:
      return "websocket_handshake";
    case AKS_PHASE_WEBSOCKET_RUNTIME:
      return "websocket_runtime";
    case AKS_PHASE_WEBSOCKET_SEND:
      return "websocket_send";
    default:
      return "unknown";
  }
}

/* Case-insensitive substring test (messages are human text; be lenient about case). */
static int has_phrase(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  if (!hay) return 0;
  for (; *hay; hay++)
    if (strncasecmp(hay, needle, n) == 0) return 1;
  return 0;
}

/* Rule 5, in the SDKs' order. */
static const struct {
  const char *phrase;
  aks_error_code code;
} k_phrases[] = {
    {"credits exhausted", AKS_CREDITS_EXHAUSTED},
    {"session time limit reached", AKS_SESSION_DURATION_EXCEEDED},
    {"maximum session duration", AKS_SESSION_DURATION_EXCEEDED},
    {"session denied", AKS_BILLING_REQUIRED},
    {"invalid session token", AKS_SESSION_TOKEN_INVALID},
    {"empty token", AKS_SESSION_TOKEN_INVALID},
    {"token is expired", AKS_SESSION_TOKEN_EXPIRED},
    {"session token expired", AKS_SESSION_TOKEN_EXPIRED},
    {"app id mismatch", AKS_APP_ID_MISMATCH},
    {"appidunrecognized", AKS_APP_ID_UNRECOGNIZED},
    {"app id unrecognized", AKS_APP_ID_UNRECOGNIZED},
    {"avatar not found", AKS_AVATAR_NOT_FOUND},
    {"unsupported sample rate", AKS_UNSUPPORTED_SAMPLE_RATE},
    {"livekit silence timeout", AKS_IDLE_TIMEOUT},
    {"no audio input for", AKS_IDLE_TIMEOUT},
    {"livekit_egress", AKS_INVALID_EGRESS_CONFIG},
    {"agora_egress", AKS_INVALID_EGRESS_CONFIG},
    {"missing livekit credentials", AKS_INVALID_EGRESS_CONFIG},
    {"unauthorized", AKS_INVALID_EGRESS_CONFIG},
    {"egress client is not configured on server", AKS_EGRESS_UNAVAILABLE},
    {"failed to create egress connection", AKS_EGRESS_UNAVAILABLE},
    {"driven server returned non-200 status code", AKS_UPSTREAM_ERROR},
    {"driven server request failed", AKS_UPSTREAM_ERROR},
    {"expected ClientConfigureSession message", AKS_PROTOCOL_ERROR},
    {"unexpected message type", AKS_PROTOCOL_ERROR},
    {"failed to unmarshal initial message", AKS_PROTOCOL_ERROR},
};

/* Rules 1 to 5; AKS_OK when none applies. */
static aks_error_code classify_text(const char *server_code, const char *text) {
  const char *sc = server_code ? server_code : "";
  if (strcmp(sc, "3") == 0 || strcmp(sc, "INVALID_ARGUMENT") == 0)
    return has_phrase(text, "livekit") || has_phrase(text, "agora") || has_phrase(text, "egress")
               ? AKS_INVALID_EGRESS_CONFIG
               : AKS_INVALID_REQUEST;
  if (strcmp(sc, "16") == 0 || strcmp(sc, "UNAUTHENTICATED") == 0) return AKS_INVALID_EGRESS_CONFIG;
  if (strcmp(sc, "14") == 0 || strcmp(sc, "UNAVAILABLE") == 0) return AKS_EGRESS_UNAVAILABLE;
  if (strcmp(sc, "4001") == 0) return AKS_CREDITS_EXHAUSTED;
  if (strcmp(sc, "4002") == 0) return AKS_SESSION_DURATION_EXCEEDED;
  for (size_t i = 0; i < sizeof k_phrases / sizeof k_phrases[0]; i++)
    if (has_phrase(text, k_phrases[i].phrase)) return k_phrases[i].code;
  return AKS_OK;
}

aks_error_code aks__classify_server_message(const char *message) {
  aks_error_code c = classify_text(NULL, message);
  return c != AKS_OK ? c : AKS_SERVER_ERROR;
}

aks_error_code aks__classify_server_error(int grpc_code, const char *message) {
  char sc[16];
  snprintf(sc, sizeof sc, "%d", grpc_code);
  aks_error_code c = classify_text(sc, message);
  return c != AKS_OK ? c : AKS_SERVER_ERROR;
}

/* Reads a JSON error body: {"errors":[{code,title,detail}]} or {"message":"..."}. Writes
 * the server code, the text the rules read (code + title + detail, or the message) and the
 * human detail (detail, else title, else code; or the message). */
static void read_body(const char *body, char *sc, size_t sc_cap, char *text, size_t text_cap,
                      char *detail, size_t detail_cap) {
  sc[0] = text[0] = detail[0] = '\0';
  if (!body) return;
  cJSON *root = cJSON_Parse(body);
  if (!root) return;
  cJSON *errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
  cJSON *e0 = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
  cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");
  if (cJSON_IsObject(e0)) {
    const char *v[3] = {"", "", ""}, *keys[3] = {"code", "title", "detail"};
    for (size_t i = 0; i < 3; i++) {
      cJSON *x = cJSON_GetObjectItemCaseSensitive(e0, keys[i]);
      if (cJSON_IsString(x)) v[i] = x->valuestring;
    }
    snprintf(sc, sc_cap, "%s", v[0]);
    snprintf(text, text_cap, "%s %s %s", v[0], v[1], v[2]);
    snprintf(detail, detail_cap, "%s", v[2][0] ? v[2] : v[1][0] ? v[1] : v[0]);
  } else if (cJSON_IsString(m)) {
    snprintf(text, text_cap, "%s", m->valuestring);
    snprintf(detail, detail_cap, "%s", m->valuestring);
  }
  cJSON_Delete(root);
}

aks_error_code aks__classify_http(int status, const char *body, int at_connect, char *msg,
                                  size_t msg_cap) {
  char sc[64], text[AKS_MSG_MAX + 160], detail[AKS_MSG_MAX];
  aks_error_code code = AKS_OK;
  read_body(body, sc, sizeof sc, text, sizeof text, detail, sizeof detail);
  if (status <= 0)
    code = AKS_CONNECTION_FAILED;
  else if (status < 400)
    code = AKS_PROTOCOL_ERROR; /* 1xx/2xx/3xx where an error or a token was expected */
  else
    code = classify_text(sc, text);
  if (code == AKS_OK) {
    if (status == 401)
      code = AKS_SESSION_TOKEN_EXPIRED;
    else if (status == 404)
      code = has_phrase(text, "avatar not found") ? AKS_AVATAR_NOT_FOUND : AKS_APP_ID_UNRECOGNIZED;
    else if (status == 402)
      code = AKS_BILLING_REQUIRED;
    else if (status == 400 && has_phrase(text, "app id mismatch"))
      code = AKS_APP_ID_MISMATCH;
    else if (status == 400 && at_connect)
      code = AKS_SESSION_TOKEN_INVALID;
    else if (status < 500)
      code = AKS_INVALID_REQUEST;
    else
      code = AKS_SERVER_ERROR;
  }
  if (msg && msg_cap) {
    if (detail[0])
      snprintf(msg, msg_cap, "%s", detail);
    else if (status > 0)
      snprintf(msg, msg_cap, "HTTP status %d", status);
    else
      snprintf(msg, msg_cap, "no HTTP response");
  }
  return code;
}

aks_error_code aks__classify_close(int close_code) {
  return close_code == AK_CLOSE_TOKEN_EXPIRED ? AKS_SESSION_TOKEN_EXPIRED : AKS_CONNECTION_CLOSED;
}
