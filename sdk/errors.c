/* Error names and phases of the server SDK, and the mapping from what a server says (HTTP
 * status + JSON error body, ServerError phrases, close codes) to stable aks_error_code.
 *
 * The mapping, in the order it is applied (today's rules; PROTOCOL.md section 3):
 *
 *  ServerError message (any phase; aks__classify_server_error):
 *    1. phrase, case-insensitive substring of ServerError.message (k_phrases below):
 *       "unsupported sample rate"                    -> AKS_UNSUPPORTED_SAMPLE_RATE
 *       "invalid session token"                      -> AKS_SESSION_TOKEN_INVALID
 *       "session token expired"                      -> AKS_SESSION_TOKEN_EXPIRED
 *       "app id mismatch"                            -> AKS_APP_ID_MISMATCH
 *       "avatar not found"                           -> AKS_AVATAR_NOT_FOUND
 *       "no audio input for"                         -> AKS_IDLE_TIMEOUT
 *       "expected ClientConfigureSession message",
 *       "unexpected message type", "failed to unmarshal" -> AKS_PROTOCOL_ERROR
 *       "egress client is not configured on server"  -> AKS_EGRESS_UNAVAILABLE
 *    2. else ServerError.code (gRPC style): 3 INVALID_ARGUMENT -> AKS_INVALID_REQUEST,
 *       16 UNAUTHENTICATED -> AKS_SESSION_TOKEN_INVALID, 14 UNAVAILABLE and anything
 *       else -> AKS_SERVER_ERROR.
 *    Phase: websocket_handshake before the confirmation, websocket_runtime after it.
 *
 *  Refused HTTP call (token API, phase session_token; WebSocket upgrade and its probe,
 *  phase websocket_handshake; aks__classify_http), detail = errors[0].detail|title|code:
 *    no answer (status 0)          -> AKS_CONNECTION_FAILED
 *    401                           -> AKS_SESSION_TOKEN_EXPIRED if detail says "expired",
 *                                     else AKS_SESSION_TOKEN_INVALID
 *    402                           -> AKS_BILLING_REQUIRED
 *    404                           -> AKS_AVATAR_NOT_FOUND if detail says "avatar",
 *                                     else AKS_APP_ID_UNRECOGNIZED
 *    other 4xx                     -> the phrase table on detail, else AKS_INVALID_REQUEST
 *    5xx                           -> AKS_SERVER_ERROR
 *    1xx/2xx/3xx where an error or a token was expected -> AKS_PROTOCOL_ERROR
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

static const struct {
  const char *phrase;
  aks_error_code code;
} k_phrases[] = {
    {"unsupported sample rate", AKS_UNSUPPORTED_SAMPLE_RATE},
    {"invalid session token", AKS_SESSION_TOKEN_INVALID},
    {"session token expired", AKS_SESSION_TOKEN_EXPIRED},
    {"app id mismatch", AKS_APP_ID_MISMATCH},
    {"avatar not found", AKS_AVATAR_NOT_FOUND},
    {"no audio input for", AKS_IDLE_TIMEOUT},
    {"expected ClientConfigureSession message", AKS_PROTOCOL_ERROR},
    {"unexpected message type", AKS_PROTOCOL_ERROR},
    {"failed to unmarshal", AKS_PROTOCOL_ERROR},
    {"egress client is not configured on server", AKS_EGRESS_UNAVAILABLE},
};

aks_error_code aks__classify_server_message(const char *message) {
  for (size_t i = 0; i < sizeof k_phrases / sizeof k_phrases[0]; i++)
    if (has_phrase(message, k_phrases[i].phrase)) return k_phrases[i].code;
  return AKS_SERVER_ERROR;
}

aks_error_code aks__classify_server_error(int grpc_code, const char *message) {
  aks_error_code c = aks__classify_server_message(message);
  if (c != AKS_SERVER_ERROR) return c;
  switch (grpc_code) {
    case 3:
      return AKS_INVALID_REQUEST; /* invalid argument */
    case 16:
      return AKS_SESSION_TOKEN_INVALID; /* unauthenticated */
    default:
      return AKS_SERVER_ERROR;
  }
}

static int phrase_code(const char *text, aks_error_code *out) {
  for (size_t i = 0; i < sizeof k_phrases / sizeof k_phrases[0]; i++)
    if (has_phrase(text, k_phrases[i].phrase)) {
      *out = k_phrases[i].code;
      return 1;
    }
  return 0;
}

/* Copies the first error's detail (else title, else code) of a JSON error body into msg. */
static void body_detail(const char *body, char *msg, size_t cap) {
  msg[0] = '\0';
  if (!body) return;
  cJSON *root = cJSON_Parse(body);
  if (!root) return;
  cJSON *errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
  cJSON *e0 = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
  if (cJSON_IsObject(e0)) {
    const char *keys[] = {"detail", "title", "code"};
    for (size_t i = 0; i < 3 && !msg[0]; i++) {
      cJSON *v = cJSON_GetObjectItemCaseSensitive(e0, keys[i]);
      if (cJSON_IsString(v) && v->valuestring[0]) snprintf(msg, cap, "%s", v->valuestring);
    }
  }
  cJSON_Delete(root);
}

aks_error_code aks__classify_http(int status, const char *body, char *msg, size_t msg_cap) {
  char detail[AKS_MSG_MAX];
  aks_error_code code;
  body_detail(body, detail, sizeof detail);
  if (status <= 0) {
    code = AKS_CONNECTION_FAILED;
  } else if (status == 401) {
    code = has_phrase(detail, "expired") ? AKS_SESSION_TOKEN_EXPIRED : AKS_SESSION_TOKEN_INVALID;
  } else if (status == 402) {
    code = AKS_BILLING_REQUIRED;
  } else if (status == 404) {
    code = has_phrase(detail, "avatar") ? AKS_AVATAR_NOT_FOUND : AKS_APP_ID_UNRECOGNIZED;
  } else if (status >= 400 && status < 500) {
    if (!phrase_code(detail, &code) || code == AKS_SERVER_ERROR) code = AKS_INVALID_REQUEST;
  } else if (status >= 500) {
    code = AKS_SERVER_ERROR;
  } else {
    code = AKS_PROTOCOL_ERROR; /* 1xx/2xx/3xx where an error or a token was expected */
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
