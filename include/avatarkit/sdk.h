/* avatarkit C Server SDK: what a backend links to reach a Motion Server.
 *
 *   aks_session_new -> aks_session_init (fetch session token) -> aks_session_start (open the
 *   ingress WebSocket, configure, get the connection id) -> aks_session_send_audio /
 *   aks_session_interrupt ... -> aks_session_close -> aks_session_free
 *
 * Threading: the SDK never owns the process. Pick one of two modes in aks_config.threading:
 *  - AKS_THREAD_INTERNAL (default): the session runs its own network thread; every aks_ call
 *    is thread-safe; callbacks run on that network thread.
 *  - AKS_THREAD_EXTERNAL: no thread is created; the caller pumps the session with
 *    aks_session_service() from its own loop (init/start then return at once and report
 *    through callbacks); all calls and callbacks happen on the caller's thread.
 * Callbacks must not call aks_session_free(). A call that fails never fires a callback for
 * that call. Buffers passed to callbacks are borrowed: valid only during the callback. */
#ifndef AVATARKIT_SDK_H
#define AVATARKIT_SDK_H

#include <stddef.h>
#include <stdint.h>

#include "avatarkit/arkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: stable numbers, and names equal to the commercial SDKs' codes. Append-only. */
#define AKS_ERROR_MAP(X)                                       \
  X(OK, 0, "ok")                                               \
  X(SESSION_TOKEN_EXPIRED, -1, "sessionTokenExpired")          \
  X(SESSION_TOKEN_INVALID, -2, "sessionTokenInvalid")          \
  X(APP_ID_UNRECOGNIZED, -3, "appIDUnrecognized")              \
  X(AVATAR_NOT_FOUND, -4, "avatarNotFound")                    \
  X(UNSUPPORTED_SAMPLE_RATE, -5, "unsupportedSampleRate")      \
  X(PROTOCOL_ERROR, -6, "protocolError")                       \
  X(CONNECTION_FAILED, -7, "connectionFailed")                 \
  X(CONNECTION_CLOSED, -8, "connectionClosed")                 \
  X(IDLE_TIMEOUT, -9, "idleTimeout")                           \
  X(SERVER_ERROR, -10, "serverError")                          \
  X(INVALID_REQUEST, -11, "invalidRequest")                    \
  X(BILLING_REQUIRED, -12, "billingRequired")                  \
  X(APP_ID_MISMATCH, -13, "appIDMismatch")                     \
  X(EGRESS_UNAVAILABLE, -14, "egressUnavailable")              \
  X(INVALID_ARGUMENT, -15, "invalidArgument")                  \
  X(INVALID_STATE, -16, "invalidState")                        \
  X(OUT_OF_MEMORY, -17, "outOfMemory")                         \
  X(TIMEOUT, -18, "timeout")                                   \
  X(UNKNOWN, -19, "unknown")                                   \
  X(QUEUE_FULL, -20, "queueFull")                              \
  X(INVALID_EGRESS_CONFIG, -21, "invalidEgressConfig")         \
  X(CREDITS_EXHAUSTED, -22, "creditsExhausted")                \
  X(SESSION_DURATION_EXCEEDED, -23, "sessionDurationExceeded") \
  X(UPSTREAM_ERROR, -24, "upstreamError")                      \
  X(REQUEST_ABORTED, -25, "requestAborted")

typedef enum aks_error_code {
#define AKS__ENUM(name, code, str) AKS_##name = code,
  AKS_ERROR_MAP(AKS__ENUM)
#undef AKS__ENUM
} aks_error_code;

/* Where an error happened (commercial SDK phase names). */
typedef enum aks_phase {
  AKS_PHASE_SESSION_TOKEN = 0,   /* "session_token" */
  AKS_PHASE_WEBSOCKET_CONNECT,   /* "websocket_connect" */
  AKS_PHASE_WEBSOCKET_HANDSHAKE, /* "websocket_handshake" */
  AKS_PHASE_WEBSOCKET_RUNTIME,   /* "websocket_runtime" */
  AKS_PHASE_WEBSOCKET_SEND       /* "websocket_send" */
} aks_phase;

/* "sessionTokenExpired" etc.; never NULL. */
const char *aks_error_name(int code);
/* "session_token" etc.; never NULL. */
const char *aks_phase_name(int phase);

typedef enum aks_audio_format { AKS_AUDIO_PCM_S16LE = 0, AKS_AUDIO_OGG_OPUS = 1 } aks_audio_format;
typedef enum aks_egress_type {
  AKS_EGRESS_NONE = 0,
  AKS_EGRESS_LIVEKIT = 1,
  AKS_EGRESS_AGORA = 2
} aks_egress_type;
typedef enum aks_threading { AKS_THREAD_INTERNAL = 0, AKS_THREAD_EXTERNAL = 1 } aks_threading;

typedef struct aks_config {
  const char *api_key;       /* X-Api-Key for the console API (not needed with session_token) */
  const char *app_id;        /* required */
  const char *avatar_id;     /* required */
  const char *console_url;   /* e.g. "http://127.0.0.1:8080/v1/console" */
  const char *ingress_url;   /* e.g. "ws://127.0.0.1:8080/v2/driveningress" (http(s) is
                                turned into ws(s)) */
  const char *session_token; /* optional: use this token, skip the console call in init */
  int token_ttl_s;           /* lifetime asked for in init; default 3600 */
  int auth_in_query;         /* 0: X-App-ID / X-Session-Key headers (default); 1: query */
  int sample_rate;           /* 8000, 16000, 22050, 24000, 32000, 44100 or 48000; default 16000 */
  aks_audio_format audio_format; /* what goes on the wire; default PCM_S16LE */
  int bitrate;                   /* bits/s sent in ClientConfigureSession; 0 = server default */
  int encode_ogg_opus;           /* 1: send_audio takes PCM s16le and the SDK encodes it to Ogg Opus
                                    on the wire (audio_format is then OGG_OPUS) */
  aks_egress_type egress_type;
  struct { /* LIVEKIT egress */
    const char *url, *api_token, *api_key, *api_secret, *room_name, *publisher_id;
    int idle_timeout_s;
  } livekit;
  struct { /* AGORA egress */
    const char *channel_name, *token, *publisher_id;
    uint32_t uid;
  } agora;
  int connect_timeout_ms;  /* init and start give up after this; default 10000 */
  aks_threading threading; /* default AKS_THREAD_INTERNAL */

  /* ---- avatarkit 0.2: TLS trust, reconnect, liveness (0 / NULL = default) ---------------- */
  /* PEM file of CA certificates trusted for https:// and wss:// instead of the system store
   * (NULL: the system store). Certificate chain and host name are always verified; a failure
   * is AKS_CONNECTION_FAILED with a message naming TLS. Must be readable at aks_session_new. */
  const char *ca_file;
  /* 1: a session dropped by the network (no close frame, close 1001, a failed write, or the
   * liveness bound) reconnects with backoff and a fresh token; on_connected fires again with
   * the new connection id. Requests in flight at the drop are never replayed: each ends with
   * on_error AKS_REQUEST_ABORTED (req_id set). An attempt refused with 5xx or 429 (the
   * server's new-session rate limit, e.g. in a reconnect storm) is retried after the backoff or
   * the server's Retry-After (capped at 60 s), whichever is longer; other refusals (token, app,
   * avatar) are final. Default 0: the session fails and closes. */
  int reconnect;
  int reconnect_max_attempts; /* consecutive failed attempts before giving up; default 5 (1..1000)
                               */
  int reconnect_initial_ms; /* first backoff; doubles per failed attempt; default 200 (1..60000) */
  int reconnect_max_ms;     /* backoff cap; default 5000 (>= initial, <= 600000); the wait is
                               drawn in [backoff/2, backoff] (jitter) */
  /* Yields a fresh session token for each reconnect: writes a NUL-terminated token (< cap bytes)
   * into buf and returns 0, or returns non-zero (the attempt fails). Runs on an SDK worker
   * thread, one call at a time per session; aks_session_free waits for a call in progress.
   * NULL: fetch one from console_url with api_key, or reuse session_token without api_key. */
  int (*token_provider)(void *user, char *buf, size_t cap);
  void *token_provider_user;
  /* A connection that receives nothing (no message, no pong) for this long is dead: reported
   * as AKS_TIMEOUT (phase websocket_runtime), then reconnected when configured. A ping goes
   * out every third of it. Default 5000 ms; 500..600000; -1 turns it off. */
  int liveness_timeout_ms;
} aks_config;

/* Fills cfg with defaults (all strings NULL). */
void aks_config_default(aks_config *cfg);

typedef struct aks_error {
  aks_error_code code;
  aks_phase phase;
  const char *message; /* server phrase or local explanation */
  const char *req_id;  /* request concerned, or NULL */
  int http_status;     /* status of a refused HTTP call/upgrade, else 0 */
  int close_code;      /* WebSocket close code where one was received, else 0 */
} aks_error;

/* Decoded AvatarAudio payload (protocol/avatarkit.proto): Opus packets of one request. */
typedef struct aks_audio {
  const char *req_id;
  const uint8_t *payload;
  size_t payload_len; /* the serialized AvatarAudio: what to relay */
  int sample_rate;    /* Opus decode rate */
  int frame_samples;  /* samples per packet */
  int pre_skip;
  uint64_t first_packet;
  size_t packet_count;
  const uint8_t *const *packets;
  const size_t *packet_lens;
  uint64_t total_samples; /* exact length, on the last payload only */
  int end;
} aks_audio;

/* Decoded AvatarMotion payload: frames dequantized. */
typedef struct aks_motion {
  const char *req_id;
  const uint8_t *payload;
  size_t payload_len; /* the serialized AvatarMotion */
  int fps;
  uint32_t first_frame;
  uint32_t frame_count;
  const float *weights; /* frame_count * AK_BLENDSHAPE_COUNT, ARKit order */
  const float *head;    /* frame_count * 3: pitch, yaw, roll, radians */
  int end;
} aks_motion;

typedef struct aks_callbacks {
  /* Session confirmed (useful in EXTERNAL mode; also fired in INTERNAL mode). */
  void (*on_connected)(void *user, const char *connection_id);
  /* Every SERVER_RESPONSE_ANIMATION as received: the whole serialized Message, to relay to
   * clients untouched. last = 1 on the request's final message. For each message, on_audio
   * and on_motion (when it carries those payloads) fire first, then on_message. */
  void (*on_message)(void *user, const char *req_id, const uint8_t *msg, size_t len, int last);
  void (*on_audio)(void *user, const aks_audio *audio);
  void (*on_motion)(void *user, const aks_motion *motion);
  void (*on_error)(void *user, const aks_error *err);
  /* The connection is gone (after close, a server close or a failure); fired once for every
   * session whose aks_session_start() returned AKS_OK, never for one that was not started. */
  void (*on_close)(void *user, int close_code, const char *reason);
} aks_callbacks;

typedef struct aks_session aks_session;

/* Validates cfg (copied) and creates a session. cbs is copied; user is passed back. Returns
 * AKS_OK or AKS_INVALID_ARGUMENT / AKS_OUT_OF_MEMORY; on failure *out is untouched. */
int aks_session_new(const aks_config *cfg, const aks_callbacks *cbs, void *user, aks_session **out);

/* Fetches a session token from the console API (blocking in INTERNAL mode, up to
 * connect_timeout_ms). Returns AKS_OK or an error code (phase session_token); skip when
 * cfg.session_token is set. */
int aks_session_init(aks_session *s);

/* Opens the WebSocket, sends ClientConfigureSession and waits for the confirmation. INTERNAL:
 * blocks; on success copies the connection id into conn_id (if not NULL). EXTERNAL: returns
 * AKS_OK at once, completion comes through on_connected / on_error. */
int aks_session_start(aks_session *s, char *conn_id, size_t conn_id_cap);

/* Queues audio for the current request (PCM s16le at sample_rate, or Ogg Opus bytes when
 * audio_format is OGG_OPUS without encode_ogg_opus). end = 1 closes the request; the next call
 * starts a new one. Copies the request id (27 chars + NUL) into req_id if not NULL. len may be
 * 0 with end = 1. Returns AKS_OK or an error. */
int aks_session_send_audio(aks_session *s, const void *audio, size_t len, int end, char *req_id,
                           size_t req_id_cap);

/* Interrupts the most recent request (even after its end). Copies its id into req_id if not
 * NULL. Returns AKS_OK, or AKS_INVALID_STATE when nothing was sent yet. */
int aks_session_interrupt(aks_session *s, char *req_id, size_t req_id_cap);

/* EXTERNAL mode: runs the session's network work for at most timeout_ms. Returns >= 0 while
 * the session is alive, AKS_CONNECTION_CLOSED once it is closed. INTERNAL mode: AKS_INVALID_STATE.
 */
int aks_session_service(aks_session *s, int timeout_ms);

/* Closes the WebSocket gracefully, after the queued audio is sent (INTERNAL: waits up to
 * connect_timeout_ms, except when called from a callback). on_close fires. */
int aks_session_close(aks_session *s);

/* Releases everything; closes first if needed. NULL is a no-op. */
void aks_session_free(aks_session *s);

/* Connection id once confirmed, else NULL. Borrowed, valid until free. */
const char *aks_session_connection_id(const aks_session *s);

/* ---- Additions (avatarkit 0.1): error details and shared network loops ---------------- */

/* Longest error message kept (bytes, NUL included; longer ones are cut) and the size of a
 * request id with its NUL. */
#define AKS_ERROR_MESSAGE_MAX 512
#define AKS_REQ_ID_MAX 28

/* A copy of an error, owned by the caller (aks_session_last_error fills it). */
typedef struct aks_error_info {
  aks_error_code code;
  aks_phase phase;
  char message[AKS_ERROR_MESSAGE_MAX]; /* server phrase or local explanation */
  char req_id[AKS_REQ_ID_MAX];         /* request concerned, or "" */
  int http_status;                     /* status of a refused HTTP call/upgrade, else 0 */
  int close_code;                      /* WebSocket close code where one was received, else 0 */
} aks_error_info;

/* Copies the most recent error of this session (also one a failing call returned without
 * firing a callback) into *out, under the session's lock: safe from any thread while the
 * network thread records new errors. Returns 1 when there is one (out filled), 0 when there
 * is none (out untouched), AKS_INVALID_ARGUMENT when s or out is NULL. */
int aks_session_last_error(aks_session *s, aks_error_info *out);

/* A network loop shared by many sessions: one WebSocket context and (INTERNAL) one network
 * thread for all of them, instead of one each. Use it for hundreds of sessions in a process.
 * EXTERNAL loops are pumped with aks_loop_service(); aks_session_service() on one of its
 * sessions pumps the whole loop. max_sessions bounds the sessions (1..65536). */
typedef struct aks_loop aks_loop;
int aks_loop_new(aks_threading threading, int max_sessions, aks_loop **out);
/* Like aks_session_new, on loop: cfg->threading is ignored (the loop's applies). Returns
 * AKS_QUEUE_FULL when the loop already holds max_sessions sessions. */
int aks_session_new_on_loop(aks_loop *loop, const aks_config *cfg, const aks_callbacks *cbs,
                            void *user, aks_session **out);
/* EXTERNAL loops: services every session of the loop for at most timeout_ms (0 = do not
 * wait). Returns the number of sessions still alive, or AKS_INVALID_STATE for INTERNAL loops. */
int aks_loop_service(aks_loop *loop, int timeout_ms);
/* Frees the loop; every session on it must have been freed first (else AKS_INVALID_STATE is
 * returned and nothing is freed). NULL is a no-op returning AKS_OK. */
int aks_loop_free(aks_loop *loop);

#ifdef __cplusplus
}
#endif
#endif
