/* Motion server internals shared across its files: configuration, the server object, logs,
 * metrics, tokens, HTTP routes and the ingress session pipeline. One lws service thread owns
 * everything here; nothing is touched from other threads except the stop flag. */
#ifndef AK_SERVER_H
#define AK_SERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#define AK_MAX_APPS 16
#define AK_MAX_AVATARS 256
#define AK_MAX_STR 128
/* Output queued for one slow client before it is cut off (bytes). */
#define AK_MAX_TX_QUEUE (8u * 1024u * 1024u)
/* Token API request body limit (PROTOCOL.md: a tiny JSON object). */
#define AK_MAX_HTTP_BODY 4096
/* Frames / packets per SERVER_RESPONSE_ANIMATION: bounds one message to ~10 s of output. */
#define AK_MSG_MAX_FRAMES 250
#define AK_MSG_MAX_PACKETS 500

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
  int n_avatars; /* 0 = any avatar id */
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
  lws_sorted_usec_list_t tick;
  int draining;
  int64_t drain_deadline_us;
  int stop;
  volatile sig_atomic_t *signalled;
} ak_server;

/* log.c */
void ak__log(const ak_server *s, int level, const char *conn, const char *req, const char *fmt,
             ...) __attribute__((format(printf, 5, 6)));

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

/* http.c */
int ak__http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);
/* Writes a complete HTTP response (headers + body) now. Returns the value the callback
 * should return. */
int ak__http_respond(struct lws *wsi, int status, const char *ctype, const char *body,
                     size_t body_len);
/* {"errors":[{status, code, title, detail}]} */
int ak__http_error(struct lws *wsi, int status, const char *code, const char *title,
                   const char *detail);

/* ingress.c */
int ak__ingress_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len);
/* Auth of an upgrade request: 0 when allowed; otherwise the HTTP error has been written and
 * the return value is what CONFIRM_UPGRADE must return. */
int ak__ingress_check_upgrade(ak_server *s, struct lws *wsi);
void ak__ingress_tick(ak_server *s, int64_t now_us);
/* Number of sessions with a request in flight. */
int ak__ingress_busy(const ak_server *s);
void ak__ingress_close_all(ak_server *s, int code, const char *reason);

/* Socket-less sessions (fuzz targets, tests): input one whole client message, get the number
 * of output bytes it produced. */
ak_session *ak__session_new_detached(ak_server *s);
size_t ak__session_input(ak_session *ss, const uint8_t *buf, size_t len);
int ak__session_closing(const ak_session *ss);
void ak__session_free_detached(ak_session *ss);
/* Defaults of every setting (what main() starts from). */
void ak__server_config_defaults(ak_server_config *c);

int64_t ak__now_us(void);
ak_server *ak__server_from_wsi(struct lws *wsi);

#endif
