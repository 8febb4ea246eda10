/* avatarkit-motion-server: the lws context with one vhost, the service loop with its
 * periodic tick, and graceful shutdown on SIGTERM/SIGINT that lets in-flight requests finish.
 * Settings come from config.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifdef AK_HAVE_LIBEV
#include <ev.h>
#endif

#include "avatarkit/engine.h"
#include "avatarkit/protocol.h"
#include "avatarkit/version.h"
#include "conn.h"
#include "server.h"

#define TICK_US 100000
/* File descriptors kept free below the fd limit for what is not a connection: stdio, the
 * listen socket, lws's cancel pipe, static files being served, the model file, log output. */
#define FD_MARGIN 64

/* Raises the soft fd limit to the hard one and returns the connection cap: --max-connections
 * if given (lowered to fit), else the limit minus FD_MARGIN (connection_gate enforces it). */
static int connection_cap(const ak_server_config *c, rlim_t *limit_out) {
  struct rlimit rl;
  rlim_t lim = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    if (rl.rlim_cur < rl.rlim_max) {
      rlim_t want =
          rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 20) ? (1u << 20) : rl.rlim_max;
      if (want > rl.rlim_cur) {
        struct rlimit nr = {want, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nr) == 0) rl.rlim_cur = want;
      }
    }
    lim = rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : rl.rlim_cur;
  }
  *limit_out = lim;
  long margin = (long)lim / 8 < FD_MARGIN ? (long)lim / 8 : FD_MARGIN;
  long room = (long)lim - margin;
  if (room < 8) room = 8;
  long cap = c->max_connections > 0 ? c->max_connections : room;
  if (cap > room) cap = room;
  return (int)cap;
}

static volatile sig_atomic_t g_signalled; /* the only process-global: set by the signal handler */
static struct lws_context *g_ctx_for_signal;

/* lws_context_destroy, then the libev loop it ran on (if any). */
static void destroy_loop(struct lws_context *ctx, void *evloop) {
  lws_context_destroy(ctx);
#ifdef AK_HAVE_LIBEV
  if (evloop) ev_loop_destroy((struct ev_loop *)evloop);
#else
  (void)evloop;
#endif
}

static void on_signal(int sig) {
  (void)sig;
  g_signalled = 1;
  if (g_ctx_for_signal) lws_cancel_service(g_ctx_for_signal);
}

/* The connection cap: every connection is counted from lws's first to its last notice; one
 * accepted beyond the cap is closed at once (before any read), with a rate-limited log line
 * and a counter. The cap lies below the fd limit by a margin, so accept never meets EMFILE
 * (which made lws's accept loop spin and log per attempt), and lws keeps its fd-indexed
 * lookup (a smaller fd_limit_per_thread would pause accept but switch lws to a linear scan
 * of all connections on every event). */
static int connection_gate(struct lws *wsi, enum lws_callback_reasons reason) {
  ak_server *s = ak__server_from_wsi(wsi);
  if (!s) return 0;
  if (reason == LWS_CALLBACK_WSI_CREATE) {
    s->n_wsi++;
  } else if (reason == LWS_CALLBACK_WSI_DESTROY) {
    s->n_wsi--;
  } else if (s->n_wsi - s->n_wsi_base >= s->max_connections) {
    s->m.connections_refused++;
    ak__log_limited(s, &s->conn_cap_log, ak__now_us(), 10 * 1000000ll, 5, AK_LOG_WARN, NULL, NULL,
                    "connection refused: %d open connections (--max-connections)",
                    s->n_wsi - s->n_wsi_base);
    return 1; /* lws closes the new socket */
  }
  return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
  switch (reason) {
    case LWS_CALLBACK_WSI_CREATE:
    case LWS_CALLBACK_WSI_DESTROY:
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
      return connection_gate(wsi, reason);
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
      return ak__ingress_callback(wsi, reason, user, in, len);
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: /* a media worker queued output (or a signal) */
      ak__ingress_wake(ak__server_from_wsi(wsi));
      return 0;
    default:
      return ak__http_callback(wsi, reason, user, in, len);
  }
}

/* protocols[0] serves both HTTP and the ingress WebSocket: commercial SDKs ask for no
 * subprotocol, and lws binds such clients to the first protocol. */
static const struct lws_protocols protocols[] = {
    {"avatarkit-ingress", callback, sizeof(ak_conn), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static void tick(lws_sorted_usec_list_t *sul) {
  ak_server *s = lws_container_of(sul, ak_server, tick);
  int64_t now = ak__now_us();
  if (*s->signalled && !s->draining) {
    s->draining = 1;
    s->drain_deadline_us = now + (int64_t)s->cfg.drain_timeout_s * 1000000;
    ak__log(s, AK_LOG_INFO, NULL, NULL,
            "shutdown requested: refusing new sessions, finishing %d in-flight request(s)",
            ak__ingress_busy(s));
  }
  /* Also while draining: the sessions finishing their requests still need their parked work
   * released (--max-speed), their output serviced and their timeouts; and each one closes
   * with 1001 once it has no request open (net_service in ingress.c). At the deadline the
   * rest go, requests cut. */
  ak__ingress_tick(s, now);
  if (s->draining) {
    if (now >= s->drain_deadline_us)
      ak__ingress_close_all(s, AK_CLOSE_GOING_AWAY, "server shutting down");
    if (s->n_sessions == 0 || now >= s->drain_deadline_us + 2000000) s->stop = 1;
  }
  ak__token_gc(s, (int64_t)time(NULL));
  ak__redis_tick(s->redis, now);
  ak__log_limiter_flush(s, &s->key_fail_log, now, 60 * 1000000ll);
  ak__log_limiter_flush(s, &s->conn_cap_log, now, 10 * 1000000ll);
  ak__log_limiter_flush(s, &s->refused_log, now, 10 * 1000000ll);
  lws_sul_schedule(s->ctx, 0, &s->tick, tick, TICK_US);
}

/* Exits before the loop ran: what main allocated by then goes back (ASan checks every exit). */
static int early_exit(ak_server *s, ak_model *model, int rc) {
  ak_model_free(model);
  free(s);
  return rc;
}

int main(int argc, char **argv) {
  ak_server *s = calloc(1, sizeof *s);
  if (!s) return 1;
  int crc = ak__server_configure(&s->cfg, argc, argv);
  if (crc != 0) {
    free(s);
    return crc > 0 ? 0 : 2;
  }
  s->signalled = &g_signalled;
  ak_model *model = NULL;
  if (s->cfg.model_path[0]) {
    int rc = ak_model_load(s->cfg.model_path, &model);
    if (rc != AK_OK) {
      fprintf(stderr, "error: cannot load model %s: %s\n", s->cfg.model_path, ak_strerror(rc));
      free(s);
      return 2;
    }
    s->model = model;
  } else {
    /* Parse the built-in weights once and share them: otherwise each engine loads its own. */
    int rc = ak_model_load_default(&model);
    if (rc == AK_OK)
      s->model = model;
    else if (rc != AK_EFORMAT) {
      fprintf(stderr, "error: built-in model unusable: %s\n", ak_strerror(rc));
      free(s);
      return 2;
    }
  }
  /* Check once that engines can be created with this configuration. */
  {
    ak_engine_config ec;
    ak_engine_config_default(&ec);
    ec.fps = s->cfg.fps;
    if (s->cfg.lookahead_ms >= 0) ec.lookahead_ms = s->cfg.lookahead_ms;
    ec.model = model;
    ak_engine *e = NULL;
    int rc = ak_engine_new(&ec, &e);
    if (rc != AK_OK) {
      fprintf(stderr, "error: motion engine refused the configuration: %s\n", ak_strerror(rc));
      return early_exit(s, model, 2);
    }
    ak_engine_free(e);
  }
  lws_set_log_level(s->cfg.log_level >= AK_LOG_DEBUG ? LLL_ERR | LLL_WARN : LLL_ERR, NULL);

  rlim_t fd_limit = 0;
  s->max_connections = connection_cap(&s->cfg, &fd_limit);
  if (s->cfg.max_connections > s->max_connections)
    fprintf(stderr, "warning: --max-connections %d lowered to %d (fd limit %llu)\n",
            s->cfg.max_connections, s->max_connections, (unsigned long long)fd_limit);
  /* Dead-peer detection: lws sends a PING after ping_interval s without valid traffic and
   * hangs up after twice that without any (the PONG counts). */
  lws_retry_bo_t retry;
  memset(&retry, 0, sizeof retry);
  retry.secs_since_valid_ping = (uint16_t)s->cfg.ping_interval_s;
  retry.secs_since_valid_hangup = (uint16_t)(2 * s->cfg.ping_interval_s);

  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  void *evloop_any = NULL; /* the libev loop, when lws runs on one */
#ifdef AK_HAVE_LIBEV
  /* --event-loop libev: lws runs on our own libev loop (epoll), which we iterate below. With
   * poll() every wake-up (each client message, each batch of worker output) scans every
   * socket: at 200 sessions that was a fifth of the server's CPU. */
  struct ev_loop *evloop = NULL;
  void *foreign_loops[1] = {NULL};
  if (s->cfg.event_loop == AK_EVENT_LOOP_LIBEV) {
    evloop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!evloop) {
      fprintf(stderr, "error: cannot create the libev loop (try --event-loop poll)\n");
      return early_exit(s, model, 1);
    }
    foreign_loops[0] = evloop;
    evloop_any = evloop;
    info.foreign_loops = foreign_loops;
    info.options |= LWS_SERVER_OPTION_LIBEV;
  }
#endif
  int tls = s->cfg.tls_cert[0] != '\0';
  if (tls) info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.user = s;
  info.pt_serv_buf_size = 32 * 1024;
  /* TCP keepalive on accepted sockets: a peer that vanished without FIN/RST is found. */
  info.ka_time = 60;
  info.ka_probes = 3;
  info.ka_interval = 10;
  info.timeout_secs = (unsigned int)s->cfg.http_timeout_s;
  info.timeout_secs_ah_idle = (unsigned int)s->cfg.http_timeout_s;
  info.keepalive_timeout = s->cfg.http_timeout_s;
  if (s->cfg.ping_interval_s > 0) info.retry_and_idle_policy = &retry;
  s->ctx = lws_create_context(&info);
  if (!s->ctx) {
    fprintf(stderr, "error: cannot create the event loop context\n");
    destroy_loop(NULL, evloop_any);
    return early_exit(s, model, 1);
  }
  info.port = s->cfg.port;
  info.protocols = protocols;
  info.vhost_name = "avatarkit";
  int loopback = !strcmp(s->cfg.host, "127.0.0.1") || !strcmp(s->cfg.host, "localhost");
  if (loopback) {
    info.iface = "lo"; /* an address here would listen on every interface (lws 4.1) */
    info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  } else if (strcmp(s->cfg.host, "0.0.0.0") != 0 && strcmp(s->cfg.host, "::") != 0) {
    info.iface = s->cfg.host;
  }
  if (tls) { /* --tls-cert/--tls-key: this vhost speaks only TLS (https, wss) */
    info.ssl_cert_filepath = s->cfg.tls_cert;
    info.ssl_private_key_filepath = s->cfg.tls_key;
    info.alpn = "http/1.1"; /* lws would offer h2, which our HTTP layer does not speak */
  }
  s->vhost = lws_create_vhost(s->ctx, &info);
  if (!s->vhost) {
    fprintf(stderr, "error: cannot listen on %s:%d (in use?%s)\n", s->cfg.host, s->cfg.port,
            tls ? " or --tls-cert/--tls-key unusable" : "");
    destroy_loop(s->ctx, evloop_any);
    return early_exit(s, model, 1);
  }
  s->n_wsi_base = s->n_wsi; /* the listen socket and other lws-internal connections */
  if (ak__ingress_start(s) != 0) {
    fprintf(stderr, "error: cannot start the media workers\n");
    destroy_loop(s->ctx, evloop_any);
    return early_exit(s, model, 1);
  }
  int port = lws_get_vhost_listen_port(s->vhost);
  if (s->cfg.port_file[0]) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->cfg.port_file);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, s->cfg.port_file)) {
      fprintf(stderr, "error: cannot write port file %s\n", s->cfg.port_file);
      ak__ingress_stop(s);
      destroy_loop(s->ctx, evloop_any);
      return early_exit(s, model, 1);
    }
  }
  ak__avatars_load(s); /* after the last early exit; nothing is served before the loop */
  const char *sx = tls ? "s" : "";
  fprintf(stderr,
          "avatarkit-motion-server %s listening on http%s://%s:%d\n"
          "  console API: http%s://%s:%d/v1/console\n"
          "  ingress:     ws%s://%s:%d/v2/driveningress\n",
          AK_VERSION_STRING, sx, s->cfg.host, port, sx, s->cfg.host, port, sx, s->cfg.host, port);
  if (s->cfg.generated_credentials)
    fprintf(stderr,
            "  dev credentials (generated; set AVATARKIT_API_KEY/AVATARKIT_APP_ID to choose):\n"
            "    AVATARKIT_API_KEY=%s\n    AVATARKIT_APP_ID=%s\n",
            s->cfg.apps[0].api_key, s->cfg.apps[0].app_id);
  fflush(stderr);
  /* From here on log lines go through the writer thread: never blocking the event loop. */
  if (ak__log_start(s, 1u << 20))
    fprintf(stderr, "warning: log writer thread not started; logging to stderr directly\n");
  ak__log(s, AK_LOG_INFO, NULL, NULL, "connection cap %d (fd limit %llu), ping interval %d s",
          s->max_connections, (unsigned long long)fd_limit, s->cfg.ping_interval_s);

  if (s->cfg.redis_url[0]) {
    s->redis = ak__redis_new(s, s->cfg.redis_url, s->cfg.redis_timeout_ms, &s->m.redis_failures);
    if (!s->redis) {
      ak__log(s, AK_LOG_ERROR, NULL, NULL, "out of memory: --redis");
      s->stop = 1;
    } else {
      ak__redis_tick(s->redis, ak__now_us()); /* logs reachable or unreachable */
    }
  }
  if (s->cfg.token_rate_limit > 0 && !(s->rate = ak__rate_new()))
    ak__log(s, AK_LOG_ERROR, NULL, NULL, "out of memory: token API rate limit off");
  if (s->cfg.session_rate_ip > 0 &&
      !(s->session_ip_rate = ak__bucket_table_new((size_t)s->cfg.session_rate_table_size))) {
    ak__log(s, AK_LOG_ERROR, NULL, NULL, "out of memory: --session-rate-ip");
    s->stop = 1;
  }
  g_ctx_for_signal = s->ctx;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  lws_sul_schedule(s->ctx, 0, &s->tick, tick, TICK_US);
  while (!s->stop) {
#ifdef AK_HAVE_LIBEV
    if (evloop) {
      ev_run(evloop, EVRUN_ONCE);
      continue;
    }
#endif
    if (lws_service(s->ctx, 0) < 0) break;
  }
  ak__log(s, AK_LOG_INFO, NULL, NULL, "stopped: %llu sessions, %llu requests served",
          (unsigned long long)s->m.sessions_total, (unsigned long long)s->m.requests_total);
  g_ctx_for_signal = NULL;
  ak__ingress_stop(s); /* workers first: they wake the loop through the context */
  destroy_loop(s->ctx, evloop_any);
  ak__token_free_all(s);
  ak__avatars_free(s);
  ak__log_stop(s);
  ak__rate_free(s->rate);
  ak__bucket_table_free(s->session_ip_rate);
  ak_model_free(model);
  free(s);
  return 0;
}
