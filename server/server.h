/* Motion server internals shared across its files: configuration, the server object, logs,
 * metrics, tokens, upgrade auth, HTTP routes and ingress sessions (whose media pipeline is
 * the stream library). One lws service thread owns everything here; nothing is touched from
 * other threads except the stop flag. */
#ifndef AK_SERVER_H
#define AK_SERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "avatars.h"

#define AK_MAX_APPS 16
#define AK_MAX_AVATARS 256
/* --avatars-dir given at most this often. */
#define AK_MAX_AVATAR_DIRS 16
#define AK_MAX_STR 128
/* Output queued for one slow client before it is cut off (bytes). */
#define AK_MAX_TX_QUEUE (8u * 1024u * 1024u)
/* Token API request body limit (PROTOCOL.md: a tiny JSON object). */
#define AK_MAX_HTTP_BODY 4096
/* Frames / packets per SERVER_RESPONSE_ANIMATION: the stream library's bounds
 * (AK_STREAM_MAX_FRAMES / AK_STREAM_MAX_PACKETS, ~10 s of output). */

enum ak_log_level { AK_LOG_ERROR = 0, AK_LOG_WARN, AK_LOG_INFO, AK_LOG_DEBUG };

typedef struct ak_app {
  char api_key[AK_MAX_STR];
  char app_id[AK_MAX_STR];
} ak_app;

typedef struct ak_server_config {
  char host[AK_MAX_STR];
  int port;
  char port_file[512];
  char static_dir[512];
  ak_app apps[AK_MAX_APPS];
  int n_apps;
  int generated_credentials;
  char avatars[AK_MAX_AVATARS][AK_MAX_STR];
  int n_avatars; /* allowlist over the registry: 0 = every registered avatar */
  /* Avatar registry directories (avatars.c): the built-in one ("" = none), then
   * --avatars-dir in order, later ones replacing avatars of the same id. */
  char avatars_dirs[AK_MAX_AVATAR_DIRS][512];
  int n_avatars_dirs;
  char builtin_avatars_dir[512];
  int idle_timeout_s;
  int fps;
  int lookahead_ms;
  float expressiveness;
  int opus_rate, opus_bitrate, opus_complexity;
  int log_level;
  size_t max_message_bytes;
  int max_sessions;
  int max_token_ttl_s;
  int token_single_use;
  int drain_timeout_s;
  char model_path[512];
  uint8_t token_secret[32];
  char tls_cert[512]; /* PEM certificate chain: serve https/wss only (empty: plain) */
  char tls_key[512];  /* its PEM private key */
} ak_server_config;

typedef struct ak_session ak_session;

/* Histogram of per-chunk processing time. */
#define AK_HIST_BUCKETS 12
typedef struct ak_metrics {
  uint64_t sessions_total, sessions_active, requests_total, requests_interrupted;
  uint64_t frames_total, packets_total, audio_samples_16k, bytes_in, bytes_out;
  uint64_t http_tokens_issued, upgrades_refused, protocol_errors, idle_timeouts,
      token_expiry_closes, slow_client_drops;
  uint64_t hist[AK_HIST_BUCKETS + 1]; /* last = +Inf */
  double hist_sum;
  uint64_t hist_count;
} ak_metrics;

typedef struct ak_token_seen ak_token_seen;

typedef struct ak_server {
  ak_server_config cfg;
  struct lws_context *ctx;
  struct lws_vhost *vhost;
  ak_metrics m;
  ak_session *sessions; /* doubly linked list of live sessions */
  int n_sessions;
  ak_token_seen *seen; /* single-use token nonces, until their expiry */
  const struct ak_model *model;
  ak_avatar_registry avatars; /* loaded at startup, read-only after */
  lws_sorted_usec_list_t tick;
  int draining;
  int64_t drain_deadline_us;
  int stop;
  volatile sig_atomic_t *signalled;
} ak_server;

/* log.c */
void ak__log(const ak_server *s, int level, const char *conn, const char *req, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* metrics.c */
void ak__metrics_observe(ak_metrics *m, double seconds);
/* Writes the Prometheus text exposition into buf; returns length or -1 if it did not fit. */
int ak__metrics_render(const ak_server *s, char *buf, size_t cap);

/* token.c */
enum { AK_TOKEN_OK = 0, AK_TOKEN_INVALID = -1, AK_TOKEN_EXPIRED = -2, AK_TOKEN_REUSED = -3 };
int ak__token_issue(const ak_server *s, const char *app_id, int64_t expire_at, char *out,
                    size_t cap);
/* Verifies signature and expiry; fills app_id and expire_at. Does not consume it. */
int ak__token_verify(const ak_server *s, const char *token, int64_t now, char *app_id,
                     size_t app_cap, int64_t *expire_at);
/* Marks a verified token used (single use); AK_TOKEN_REUSED when it already was. */
int ak__token_consume(ak_server *s, const char *token, int64_t expire_at, int64_t now);
void ak__token_gc(ak_server *s, int64_t now);
void ak__token_free_all(ak_server *s);

/* auth.c: who may open an ingress WebSocket. */
typedef struct ak__auth_verdict {
  int status;       /* 0 = allowed; else the HTTP status to refuse with */
  const char *code; /* refusal: stable machine code, title and detail (static strings) */
  const char *title;
  const char *detail;
  char app_id[AK_MAX_STR], avatar_id[AK_MAX_STR]; /* as presented (also when refused) */
  int64_t token_exp;                              /* allowed: the token's expiry, unix seconds */
} ak__auth_verdict;
/* Judges the upgrade request on wsi (endpoint, capacity, app, token, avatar). consume = 1
 * marks a single-use token used when allowed. Writes nothing to the connection. */
void ak__auth_upgrade(ak_server *s, struct lws *wsi, int consume, ak__auth_verdict *v);

/* http.c */
int ak__http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

/* ingress.c */
int ak__ingress_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len);
void ak__ingress_tick(ak_server *s, int64_t now_us);
/* Number of sessions with a request in flight. */
int ak__ingress_busy(const ak_server *s);
void ak__ingress_close_all(ak_server *s, int code, const char *reason);

/* config.c: defaults of every setting, then env, config file and flags on top. Returns 0;
 * 1 when --help/--version was printed (exit 0); -1 after printing an error (exit 2). */
void ak__server_config_defaults(ak_server_config *c);
int ak__server_configure(ak_server_config *c, int argc, char **argv);

int64_t ak__now_us(void);
ak_server *ak__server_from_wsi(struct lws *wsi);

#endif
