/* Internal cross-file interface of the server SDK: error classification, URL handling, the
 * token client, the optional Ogg Opus encoder and the network loop shared by sessions.
 * Nothing here is public API; tests link it to check the pure helpers. */
#ifndef AKS_INTERNAL_H
#define AKS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "avatarkit/sdk.h"

/* ---- errors.c ------------------------------------------------------------------------- */

/* The official SDKs' rules (PROTOCOL.md section 6; the order is in errors.c). A ServerError
 * message alone (phrases only); unknown text gives AKS_SERVER_ERROR. */
aks_error_code aks__classify_server_message(const char *message);

/* ServerError with its gRPC-style code: codes 3/16/14/4001/4002 first, then the phrases;
 * anything else -> serverError. */
aks_error_code aks__classify_server_error(int grpc_code, const char *message);

/* Maps a refused HTTP call (token API, or WebSocket upgrade with at_connect = 1): status
 * plus the JSON body {"errors":[{status,code,title,detail}]} or {"message":"..."} (may be
 * NULL or not JSON). Writes the detail (or a local explanation) into msg. status 0 means no
 * HTTP answer at all. */
aks_error_code aks__classify_http(int status, const char *body, int at_connect, char *msg,
                                  size_t msg_cap);

/* WebSocket close code received without an earlier error: AK_CLOSE_TOKEN_EXPIRED (4010) ->
 * token expired, anything else -> connection closed (the table is in errors.c). */
aks_error_code aks__classify_close(int close_code);

/* ---- url.c ---------------------------------------------------------------------------- */

#define AKS_URL_MAX 2048

typedef struct aks__url {
  int tls; /* https / wss */
  char host[256];
  int port;
  char path[AKS_URL_MAX];  /* starts with '/', no query */
  char query[AKS_URL_MAX]; /* without '?', may be empty */
} aks__url;

/* Parses http(s):// or ws(s):// URLs with an optional port; the path may be empty ("/").
 * Returns AKS_OK or AKS_INVALID_ARGUMENT. IPv6 literals in brackets are accepted. */
int aks__url_parse(const char *url, aks__url *out);

/* Appends s percent-encoded (RFC 3986 unreserved kept) to buf at *pos. Returns AKS_OK or
 * AKS_INVALID_ARGUMENT when it does not fit. */
int aks__url_escape(char *buf, size_t cap, size_t *pos, const char *s);

/* Builds the ingress path "{path}/websocket?id=<avatar>[&appId=..&sessionKey=..]" from the
 * parsed ingress URL (trailing '/' of its path tolerated). */
int aks__ingress_path(const aks__url *ingress, const char *avatar_id, const char *app_id,
                      const char *token, int auth_in_query, char *out, size_t cap);

/* ---- token.c -------------------------------------------------------------------------- */

#define AKS_TOKEN_MAX 4096
#define AKS_MSG_MAX 512

typedef struct aks__token_req aks__token_req;

/* Result of a token call or an upgrade probe. */
typedef struct aks__http_result {
  aks_error_code code; /* AKS_OK when token holds the session token */
  int http_status;
  char token[AKS_TOKEN_MAX];
  char message[AKS_MSG_MAX];
} aks__http_result;

/* Blocking POST {console}/session-tokens. ca_file: PEM CAs trusted for https instead of the
 * system store (NULL: system store). */
void aks__token_fetch(const char *console_url, const char *api_key, int ttl_s, int timeout_ms,
                      const char *ca_file, aks__http_result *res);

/* Non-blocking variant driven by aks__token_req_poll(); used by EXTERNAL sessions. */
int aks__token_req_new(const char *console_url, const char *api_key, int ttl_s, int timeout_ms,
                       const char *ca_file, aks__token_req **out);
/* Progresses the transfer, waiting at most wait_ms for network activity. Returns 0 while
 * running, 1 when done (res filled). */
int aks__token_req_poll(aks__token_req *r, int wait_ms, aks__http_result *res);
void aks__token_req_free(aks__token_req *r);

/* After a refused WebSocket upgrade: repeats the upgrade request over HTTP to read the 4xx
 * status and JSON body, and classifies them. url is http(s) form of the ws URL. */
void aks__upgrade_probe(const char *http_url, const char *app_id, const char *token,
                        int auth_in_query, int timeout_ms, const char *ca_file,
                        aks__http_result *res);

/* Parses a token response body; returns AKS_OK and fills res->token, or an error code. */
int aks__parse_token_body(const char *body, aks__http_result *res);

/* ---- oggenc.c ------------------------------------------------------------------------- */

typedef struct aks__oggenc aks__oggenc;

/* PCM s16le mono at rate in, Ogg Opus bytes out (one stream per request). */
int aks__oggenc_new(int rate, int bitrate, aks__oggenc **out);
/* Encodes n samples; the Ogg bytes produced so far are available with _take(). With
 * last = 1 the stream is drained and closed. */
int aks__oggenc_write(aks__oggenc *e, const int16_t *pcm, size_t n, int last);
/* Moves the pending Ogg bytes out (*out malloc'd, may be NULL when *len = 0). */
int aks__oggenc_take(aks__oggenc *e, uint8_t **out, size_t *len);
void aks__oggenc_free(aks__oggenc *e);

#endif
