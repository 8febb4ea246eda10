/* Motion server internals shared across its files: configuration, the server object, logs,
 * metrics, tokens, upgrade auth, HTTP routes and ingress sessions (whose media pipeline is
 * the stream library). One lws service thread does all network I/O and owns everything here,
 * except: the media worker pool (worker.c) runs sessions' pipelines on its own threads (the
 * session state they share is locked, see ingress.c), the metrics counters are atomics, and
 * ak__log may be called from any thread. */
#ifndef AK_SERVER_H
#define AK_SERVER_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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
/* Browser origins allowed by --cors-origin (CORS is off when none is given). */
#define AK_MAX_CORS_ORIGINS 16
/* --trusted-proxy addresses / CIDR ranges whose X-Forwarded-For is believed. */
#define AK_MAX_TRUSTED_PROXIES 16
/* Addresses the token API's per-IP rate limit remembers (least recently used evicted). */
#define AK_RATE_TABLE_SIZE 4096
/* Failed API key log lines per minute; the rest are counted in one "suppressed" line. */
#define AK_KEY_FAIL_LOG_PER_MIN 10
/* Frames / packets per SERVER_RESPONSE_ANIMATION: the stream library's bounds
 * (AK_STREAM_MAX_FRAMES / AK_STREAM_MAX_PACKETS, ~10 s of output). */

/* --event-loop: lws on poll() or on a libev (epoll) loop; libev needs a build with libev. */
enum { AK_EVENT_LOOP_POLL = 0, AK_EVENT_LOOP_LIBEV = 1 };

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
  /* media workers and per-session budgets (ingress.c, worker.c) */
  int workers;              /* media worker threads; 0 = one per online core */
  size_t input_queue_bytes; /* received audio queued per session before reading pauses */
  int max_request_s;        /* longest request, seconds of audio; 0 = no limit */
  int write_timeout_s;      /* output queued and not a byte taken for that long: cut */
  int closing_timeout_s;    /* a session closing (error sent) for that long: cut */
  int max_speed;            /* audio seconds one session may process per second; 0 = any */
  int max_speed_burst_s;    /* ... after a burst of this many seconds */
  int max_sessions;
  int max_token_ttl_s;
  int token_single_use;
  int drain_timeout_s;
  /* Hardening (docs/server.md "Limits and timeouts"). */
  char cors_origins[AK_MAX_CORS_ORIGINS][AK_MAX_STR];
  int n_cors_origins;
  int token_rate_limit; /* token API requests per minute per IP; 0 = off */
  int token_table_size; /* single-use token set capacity */
  /* New-session rate limits (session_rate.c): sessions per second and burst, 0 = off. */
  double session_rate_ip, session_burst_ip;   /* per client address */
  double session_rate_app, session_burst_app; /* per API key / app */
  int session_rate_table_size;                /* addresses remembered */
  int event_loop;                             /* AK_EVENT_LOOP_* (main.c) */
  int max_connections;                        /* 0 = derived from the fd limit at start */
  int ping_interval_s;                        /* WebSocket ping after this much silence; 0 = off */
  int http_timeout_s; /* HTTP headers / upgrade / body must complete within this */
  char model_path[512];
  uint8_t token_secret[32];
  char tls_cert[512]; /* PEM certificate chain: serve https/wss only (empty: plain) */
  char tls_key[512];  /* its PEM private key */
  struct {
    uint8_t net[16]; /* IPv4 as ::ffff:a.b.c.d */
    int bits;
  } trusted_proxies[AK_MAX_TRUSTED_PROXIES]; /* --trusted-proxy (proxy.c) */
  int n_trusted_proxies;
  char redis_url[512];  /* shared single-use token store (tokenstore_redis.c); "" = in memory */
  int redis_timeout_ms; /* Redis connect and command timeout */
} ak_server_config;

typedef struct ak_session ak_session;

/* Histogram of per-chunk processing time. */
#define AK_HIST_BUCKETS 12
/* Counters are atomics: media workers update them too. */
typedef _Atomic uint64_t ak_counter;
typedef struct ak_metrics {
  ak_counter sessions_total, sessions_active, requests_total, requests_interrupted;
  ak_counter frames_total, packets_total, audio_samples_16k, bytes_in, bytes_out;
  ak_counter http_tokens_issued, upgrades_refused, protocol_errors, idle_timeouts,
      token_expiry_closes, slow_client_drops;
  ak_counter api_key_failures, token_rate_limited, token_table_full, connections_refused;
  ak_counter session_rate_limited_ip, session_rate_limited_app; /* upgrades refused 429 */
  ak_counter hist[AK_HIST_BUCKETS + 1];                         /* last = +Inf */
  ak_counter hist_sum_ns; /* sum of observations, nanoseconds */
  ak_counter hist_count;
  /* ingress.c: budgets, timeouts and queues */
  ak_counter audio_budget_errors, request_too_long, write_timeouts, closing_timeouts, rx_pauses,
      throttled;
  ak_counter input_queued_bytes, output_queued_bytes; /* gauges: now, all sessions */
  ak_counter input_queue_peak_bytes;                  /* gauge: largest one session has held */
  ak_counter redis_failures; /* Redis connects/commands that failed (tokenstore_redis.c) */
} ak_metrics;

/* worker.c: the media worker pool. A task is one session's unit of scheduling. */
#define AK_MAX_WORKERS 256
typedef struct ak_task {
  struct ak_task *next;
  int worker;                  /* the one worker it is pinned to */
  int in_runq, running, rerun; /* under that worker's lock */
} ak_task;
typedef struct ak_pool ak_pool;
typedef int (*ak_task_fn)(ak_task *t); /* one bounded turn of work; 1 = more is left */
typedef void (*ak_task_ref_fn)(ak_task *t);
int ak__pool_default_size(void);
/* Starts n threads. hold/release: the pool takes/drops its reference on a queued task. */
int ak__pool_new(int n, ak_task_fn run, ak_task_ref_fn hold, ak_task_ref_fn release, ak_pool **out);
/* Stops and joins the threads (each finishes its current turn); releases queued tasks. */
void ak__pool_free(ak_pool *p);
int ak__pool_size(const ak_pool *p);
/* Pins a new task to the least loaded worker; unassign when the task is gone. */
void ak__pool_assign(ak_pool *p, ak_task *t);
void ak__pool_unassign(ak_pool *p, ak_task *t);
/* 1 when a task made runnable by new input waits on t's worker: a running turn of t should
 * end after its current step (called from t's run callback, no lock). */
int ak__pool_fresh_waiting(const ak_pool *p, const ak_task *t);
/* Makes the task runnable (any thread): queued once; if running, it runs again after. */
void ak__pool_schedule(ak_pool *p, ak_task *t);

typedef struct ak_token_set ak_token_set;
typedef struct ak_redis ak_redis;
typedef struct ak_rate_table ak_rate_table;
typedef struct ak_bucket_table ak_bucket_table;
/* A token bucket (session_rate.c); all zero = full at first use. */
typedef struct ak_bucket {
  double tokens;
  int64_t last_us;
  int init;
} ak_bucket;
typedef struct ak_log_queue ak_log_queue;

/* At most max lines per window_us, then one "suppressed K similar lines" line when the next
 * window opens (log.c: ak__log_limited). */
typedef struct ak_log_limiter {
  int64_t window_start_us;
  int count;
  uint64_t suppressed;
} ak_log_limiter;

typedef struct ak_server {
  ak_server_config cfg;
  struct lws_context *ctx;
  struct lws_vhost *vhost;
  ak_metrics m;
  ak_session *sessions; /* doubly linked list of live sessions */
  int n_sessions;
  ak_pool *pool;           /* media workers (ingress.c starts and stops it) */
  pthread_mutex_t wake_mu; /* sessions the workers want the network thread to look at */
  ak_session *wake_head;
  ak_token_set *seen;  /* single-use tokens, until their expiry (token.c) */
  ak_redis *redis;     /* shared single-use store (--redis), NULL when not configured */
  ak_rate_table *rate; /* token API per-IP rate limit (http.c), NULL when off */
  ak_bucket_table *session_ip_rate;        /* --session-rate-ip buckets, NULL when off */
  ak_bucket session_app_rate[AK_MAX_APPS]; /* --session-rate-app, by index in cfg.apps */
  ak_log_queue *logq;                      /* log lines waiting for the writer thread (log.c) */
  ak_log_limiter key_fail_log;
  int max_connections; /* effective connection cap (main.c) */
  int n_wsi;           /* lws connection objects alive (WSI_CREATE - WSI_DESTROY) */
  int n_wsi_base;      /* of those, lws's own (listen socket...) at startup */
  ak_log_limiter conn_cap_log;
  ak_log_limiter refused_log; /* "upgrade refused" lines (http.c) */
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

/* Rate-limited log line for events a client can trigger repeatedly: logs at most max lines
 * per window_us through lim, then says how many it suppressed. */
void ak__log_limited(const ak_server *s, ak_log_limiter *lim, int64_t now_us, int64_t window_us,
                     int max, int level, const char *conn, const char *req, const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));
/* Writes the "suppressed K" line of a window that has ended even when no further event
 * came (called from the tick). A limiter belongs to one thread (or is guarded by its user). */
void ak__log_limiter_flush(const ak_server *s, ak_log_limiter *lim, int64_t now_us,
                           int64_t window_us);
/* Starts the writer thread (log lines go through a bounded queue, never blocking the caller;
 * lines that do not fit are dropped and counted). Without it ak__log writes directly. */
int ak__log_start(ak_server *s, size_t queue_bytes);
/* Flushes what is queued and stops the writer thread. */
void ak__log_stop(ak_server *s);
uint64_t ak__log_dropped(const ak_server *s);

/* metrics.c */
void ak__metrics_observe(ak_metrics *m, double seconds);
/* Writes the Prometheus text exposition into buf; returns length or -1 if it did not fit. */
int ak__metrics_render(const ak_server *s, char *buf, size_t cap);

/* token.c */
enum {
  AK_TOKEN_OK = 0,
  AK_TOKEN_INVALID = -1,
  AK_TOKEN_EXPIRED = -2,
  AK_TOKEN_REUSED = -3,
  AK_TOKEN_FULL = -4,
  AK_TOKEN_STORE_DOWN = -5,  /* the shared store (--redis) is down, nothing written: refuse, 503 */
  AK_TOKEN_STORE_UNSURE = -6 /* a SET was sent, no reply: the token may be spent; refuse, 500 */
};
int ak__token_issue(const ak_server *s, const char *app_id, int64_t expire_at, char *out,
                    size_t cap);
/* Verifies signature and expiry; fills app_id and expire_at. Does not consume it. */
int ak__token_verify(const ak_server *s, const char *token, int64_t now, char *app_id,
                     size_t app_cap, int64_t *expire_at);
/* Marks a verified token used (single use); AK_TOKEN_REUSED when it already was,
 * AK_TOKEN_FULL when the set is full (the upgrade is refused, never let through). */
int ak__token_consume(ak_server *s, const char *token, int64_t expire_at, int64_t now);
void ak__token_gc(ak_server *s, int64_t now);
void ak__token_free_all(ak_server *s);

/* The single-use set: a hash table of 16-byte keys with an expiry wheel; O(1) per check,
 * expiry work proportional to what expires. Bounded: at most capacity live entries. */
ak_token_set *ak__token_set_new(size_t capacity, int max_ttl_s);
void ak__token_set_free(ak_token_set *t);
/* AK_TOKEN_OK (inserted), AK_TOKEN_REUSED (present and not expired), AK_TOKEN_FULL. */
int ak__token_set_insert(ak_token_set *t, const uint8_t key[16], int64_t expire_at, int64_t now);
/* Drops entries whose expiry has passed (in whole wheel slots). */
void ak__token_set_expire(ak_token_set *t, int64_t now);
size_t ak__token_set_count(const ak_token_set *t);

/* tokenstore_redis.c: the shared single-use store. All calls on the service thread; each
 * blocks at most the timeout, and not at all during the reconnect backoff. */
/* "redis://[[user]:pass@]host[:port][/db]" or "host:port"; 0 or -1. */
int ak__redis_parse_url(const char *url, char *host, size_t host_cap, int *port, int *db,
                        char *user, char *pass, size_t cred_cap);
ak_redis *ak__redis_new(const ak_server *srv, const char *url, int timeout_ms,
                        ak_counter *failures);
void ak__redis_free(ak_redis *r);
/* AK_TOKEN_OK (first use anywhere), AK_TOKEN_REUSED, AK_TOKEN_STORE_DOWN (nothing written),
 * AK_TOKEN_STORE_UNSURE (written or not: no reply). */
int ak__redis_consume(ak_redis *r, const uint8_t key[16], int64_t expire_at, int64_t now_us);
/* Probes an idle or down store (PING) so its state stays current for /healthz. */
void ak__redis_tick(ak_redis *r, int64_t now_us);
int ak__redis_up(const ak_redis *r);
int ak__redis_available(void); /* 0 when built without hiredis */

/* proxy.c: --trusted-proxy. Adds "IP" or "IP/BITS"; 0 or -1. */
int ak__proxy_add(ak_server_config *c, const char *spec);
/* The client's address: peer, or from a trusted peer the rightmost X-Forwarded-For entry that
 * is not a trusted proxy (the peer when the header is absent or malformed). */
void ak__proxy_client_ip(const ak_server_config *c, const char *peer, const char *xff, char *out,
                         size_t cap);
void ak__client_ip(const ak_server *s, struct lws *wsi, char *out, size_t cap);

/* session_rate.c: token buckets. wait returns 0 when a token is there, else the whole seconds
 * until one is; take spends one. rate <= 0: no limit. */
int ak__bucket_wait(ak_bucket *b, double rate, double burst, int64_t now_us);
void ak__bucket_take(ak_bucket *b, double rate, double burst, int64_t now_us);
/* A fixed table of n buckets by key (a client address, up to 47 chars): get finds or makes
 * the key's bucket, reusing an expired (refilled) slot or evicting the least recently used
 * one of its probe run. */
ak_bucket_table *ak__bucket_table_new(size_t n);
void ak__bucket_table_free(ak_bucket_table *t);
ak_bucket *ak__bucket_table_get(ak_bucket_table *t, const char *key, double rate, double burst,
                                int64_t now_us);
size_t ak__bucket_table_live(const ak_bucket_table *t, double rate, double burst, int64_t now_us);
uint64_t ak__bucket_table_evictions(const ak_bucket_table *t);
size_t ak__bucket_table_size(const ak_bucket_table *t);
/* One new session from address ip (may be NULL) for app cfg.apps[app_index]: 0 = allowed
 * (both buckets charged); else seconds to wait and *scope = 1 (address) or 2 (app), nothing
 * charged. */
int ak__session_rate_check(ak_server *s, const char *ip, int app_index, int64_t now_us, int *scope);

/* auth.c: who may open an ingress WebSocket. */
typedef struct ak__auth_verdict {
  int status;       /* 0 = allowed; else the HTTP status to refuse with */
  const char *code; /* refusal: stable machine code, title and detail (static strings) */
  const char *title;
  const char *detail;
  char app_id[AK_MAX_STR], avatar_id[AK_MAX_STR]; /* as presented (also when refused) */
  int64_t token_exp;                              /* allowed: the token's expiry, unix seconds */
  int retry_after;                                /* refusal 429: seconds, for Retry-After */
  char detail_buf[192];                           /* a refusal detail built at run time */
} ak__auth_verdict;
/* Judges the upgrade request on wsi (endpoint, capacity, app, token, avatar). consume = 1
 * marks a single-use token used when allowed. Writes nothing to the connection. */
void ak__auth_upgrade(ak_server *s, struct lws *wsi, int consume, ak__auth_verdict *v);

/* auth.c, without lws: the judgement from the request's strings (fuzzed directly). */
typedef struct ak__auth_input {
  const char *uri, *app_id, *token, *avatar_id;
  const char *client_ip; /* for --session-rate-ip; NULL = not limited by address */
} ak__auth_input;
void ak__auth_judge(ak_server *s, const ak__auth_input *in, int consume, ak__auth_verdict *v);
/* Finds the app of an API key in constant time (no early exit, no length leak). Returns the
 * app or NULL; key_len >= AK_MAX_STR never matches. */
const ak_app *ak__auth_api_key(const ak_server *s, const char *key, size_t key_len);

/* http.c pure helpers (fuzzed directly). */
/* 0 when uri is a path whose components are all servable (no empty-dot, dot or dotdot
 * component, no dotfile); -1 otherwise. */
int ak__http_static_uri_ok(const char *uri);
/* 0 when real (a realpath) lies inside root (a realpath) by path components. */
int ak__http_path_inside(const char *root, const char *real);
/* Parses the token API body: fills *expire_at, or returns -1 with a detail in err. */
int ak__http_parse_token_body(const char *body, size_t len, int64_t now, int max_ttl_s,
                              int64_t *expire_at, char *err, size_t err_cap);
/* 1 when origin may read responses (--cors-origin), writing the allow-origin value. */
int ak__http_cors_allowed(const ak_server_config *c, const char *origin, char *out, size_t cap);
/* Per-IP fixed-window rate limit: 0 = allowed, else seconds until the next window. */
ak_rate_table *ak__rate_new(void);
void ak__rate_free(ak_rate_table *r);
int ak__rate_check(ak_rate_table *r, const char *ip, int64_t now_s, int per_minute);

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
/* Starts / stops the media worker pool (after the lws context exists / before it is
 * destroyed). Start returns 0 or -1. */
int ak__ingress_start(ak_server *s);
void ak__ingress_stop(ak_server *s);
/* LWS_CALLBACK_EVENT_WAIT_CANCELLED: workers queued output or freed input room. */
void ak__ingress_wake(ak_server *s);
/* Appends the ingress gauges and counters to a /metrics body; length or -1. */
int ak__ingress_metrics_render(const ak_server *s, char *buf, size_t cap);

/* config.c: defaults of every setting, then env, config file and flags on top. Returns 0;
 * 1 when --help/--version was printed (exit 0); -1 after printing an error (exit 2). */
void ak__server_config_defaults(ak_server_config *c);
int ak__server_configure(ak_server_config *c, int argc, char **argv);

int64_t ak__now_us(void);
ak_server *ak__server_from_wsi(struct lws *wsi);

#endif
