/* The browser-facing server: one libwebsockets context on one service thread that serves the
 * demo page (/) and the built web SDK (/sdk/) as static files and the browser WebSocket
 * (/ws/agent). It reassembles and bounds incoming messages, hands them to the connection's
 * session, and drains each session's outbound queue (JSON as text frames, relayed Messages as
 * binary frames) when other threads wake it. Session threads live in the registry. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libwebsockets.h>

#include "backend.h"
#include "registry.h"

typedef struct pss {
  struct pss *next;
  struct lws *wsi;
  ak__session *s;
  ak__buf rx;
  int discard; /* the current message is over the limit: skip its remaining fragments */
  int reject;  /* server full: send one error, then close */
} pss;

typedef struct server {
  const ak__config *cfg;
  ak__tts *tts;
  ak__asr_pool *asr_pool;
  ak__registry *threads; /* every session's threads */
  struct lws_context *ctx;
  pss *conns;         /* lws thread only */
  int n_conns;        /* lws thread only */
  pthread_mutex_t mu; /* guards ctx_alive */
  int ctx_alive;
  volatile sig_atomic_t stop;
  int going_away;    /* lws thread: shutting down, browsers get 1001 */
  int drain_expired; /* lws thread: the bound on the shutdown drain passed */
  lws_sorted_usec_list_t sul_drain;
} server;

/* Session wake-up (any thread): asks the lws thread to flush sessions' queues. */
static void server_wake(void *user) {
  server *srv = user;
  pthread_mutex_lock(&srv->mu);
  if (srv->ctx_alive) lws_cancel_service(srv->ctx);
  pthread_mutex_unlock(&srv->mu);
}

static void send_json_now(struct lws *wsi, const char *json) {
  size_t n = strlen(json);
  unsigned char buf[LWS_PRE + 256];
  if (n > sizeof buf - LWS_PRE) return;
  memcpy(buf + LWS_PRE, json, n);
  lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
}

static int on_agent(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
  pss *p = user;
  struct lws_context *ctx = lws_get_context(wsi);
  server *srv = ctx ? lws_context_user(ctx) : NULL;
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
      char uri[128];
      if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
          strcmp(uri, "/ws/agent") != 0)
        return 1; /* only one WebSocket path */
      return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
      /* Bound what the kernel buffers for a browser (autotuning can reach megabytes), so the
       * outbound queue limit is what decides when a slow reader is dropped. */
      int fd = lws_get_socket_fd(wsi), sndbuf = AK__SOCKET_SNDBUF;
      if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
      memset(p, 0, sizeof *p);
      p->wsi = wsi;
      p->rx.max = AK__MAX_WS_MESSAGE;
      if (srv->n_conns >= srv->cfg->max_sessions || srv->stop) {
        p->reject = 1;
        lws_callback_on_writable(wsi);
        return 0;
      }
      ak__session_env env = {.cfg = srv->cfg,
                             .tts = srv->tts,
                             .asr_pool = srv->asr_pool,
                             .threads = srv->threads,
                             .wake = server_wake,
                             .wake_user = srv};
      p->s = ak__session_new(&env);
      if (!p->s) return -1;
      p->next = srv->conns;
      srv->conns = p;
      srv->n_conns++;
      ak__log(1, "session %s: browser connected (%d open)", ak__session_id(p->s), srv->n_conns);
      lws_callback_on_writable(wsi);
      return 0;
    }

    case LWS_CALLBACK_RECEIVE:
      if (!p->s) return 0;
      if (lws_frame_is_binary(wsi)) {
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
          ak__session_send_error(p->s, "bad_request", "binary messages are not accepted");
        return 0;
      }
      if (!p->discard && ak__buf_append(&p->rx, in, len)) {
        p->discard = 1; /* over AK__MAX_WS_MESSAGE */
        ak__buf_free(&p->rx);
        p->rx.max = AK__MAX_WS_MESSAGE;
      }
      if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        if (p->discard) {
          char m[96];
          snprintf(m, sizeof m, "message larger than %d bytes", AK__MAX_WS_MESSAGE);
          ak__session_send_error(p->s, "too_large", m);
        } else {
          ak__session_on_text(p->s, p->rx.data ? p->rx.data : "", p->rx.len);
        }
        p->discard = 0;
        p->rx.len = 0;
        if (p->rx.cap > 64 * 1024) ak__buf_free(&p->rx); /* do not pin big buffers */
      }
      return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE: {
      if (srv->going_away) { /* SIGINT/SIGTERM: "going away", so browsers know to reconnect */
        static const char why[] = "server shutting down";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)why, sizeof why - 1);
        return -1;
      }
      if (p->reject) {
        send_json_now(wsi,
                      "{\"type\":\"error\",\"code\":\"server_full\","
                      "\"message\":\"too many sessions; try again later\"}");
        lws_close_reason(wsi, (enum lws_close_status)1013, (unsigned char *)"full", 4);
        return -1;
      }
      if (!p->s) return 0;
      size_t n = 0;
      int binary = 0, more = 0, overflow = 0;
      char *block = ak__session_pop(p->s, &n, &binary, &more, &overflow);
      if (overflow) {
        static const char why[] = "slow consumer";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)why,
                         sizeof why - 1);
        return -1;
      }
      if (block) {
        int w = lws_write(wsi, (unsigned char *)block + LWS_PRE, n,
                          binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        free(block);
        if (w < (int)n) return -1;
      }
      if (more) lws_callback_on_writable(wsi);
      return 0;
    }

    case LWS_CALLBACK_CLOSED:
      if (p->s) {
        for (pss **pp = &srv->conns; *pp; pp = &(*pp)->next)
          if (*pp == p) {
            *pp = p->next;
            srv->n_conns--;
            break;
          }
        ak__log(1, "session %s: browser gone (%d open)", ak__session_id(p->s), srv->n_conns);
        ak__session_release(p->s);
        p->s = NULL;
      }
      ak__buf_free(&p->rx);
      return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      if (srv)
        for (pss *q = srv->conns; q; q = q->next) lws_callback_on_writable(q->wsi);
      return 0;

    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void on_drain_expired(lws_sorted_usec_list_t *sul) {
  server *srv = lws_container_of(sul, server, sul_drain);
  srv->drain_expired = 1;
}

/* Shutdown: every browser is sent a close frame with 1001 (going away) and the loop runs until
 * they are closed, bounded by AK__SHUTDOWN_DRAIN_MS; lws_context_destroy() drops the rest. */
static void close_browsers(server *srv, struct lws_context *ctx) {
  srv->going_away = 1;
  if (!srv->conns) return;
  for (pss *q = srv->conns; q; q = q->next) lws_callback_on_writable(q->wsi);
  lws_sul_schedule(ctx, 0, &srv->sul_drain, on_drain_expired,
                   (lws_usec_t)AK__SHUTDOWN_DRAIN_MS * LWS_US_PER_MS);
  for (int i = 0; i < 10000 && srv->conns && !srv->drain_expired; i++)
    if (lws_service(ctx, 0) < 0) break;
  lws_sul_cancel(&srv->sul_drain);
  ak__log(1, "closed browsers with 1001 (%d left)", srv->n_conns);
}

static const struct lws_protocols PROTOCOLS[] = {
    {"avatarkit-agent", on_agent, sizeof(pss), 64 * 1024, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static const struct lws_protocol_vhost_options MIME_MAP = {NULL, NULL, ".map", "application/json"};
static const struct lws_protocol_vhost_options MIME_GLB = {&MIME_MAP, NULL, ".glb",
                                                           "model/gltf-binary"};
static const struct lws_protocol_vhost_options MIME_WASM = {&MIME_GLB, NULL, ".wasm",
                                                            "application/wasm"};
static const struct lws_protocol_vhost_options MIME_MJS = {&MIME_WASM, NULL, ".mjs",
                                                           "text/javascript"};
static const struct lws_protocol_vhost_options MIME_JS = {&MIME_MJS, NULL, ".js",
                                                          "text/javascript"};

static int write_port_file(const char *path, int port) {
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return -1;
  fprintf(f, "%d\n", port);
  if (fclose(f)) return -1;
  return rename(tmp, path);
}

/* Signals: a handler (some library threads exist before main and do not block signals, so
 * sigwait alone is not reliable) writes to a pipe; a small thread turns that into a wake-up. */
static int g_sig_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  unsigned char b = (unsigned char)sig;
  ssize_t w = write(g_sig_pipe[1], &b, 1);
  (void)w;
}

static void *signal_main(void *arg) {
  server *srv = arg;
  unsigned char b = 0;
  while (read(g_sig_pipe[0], &b, 1) < 0) {
  }
  ak__log(1, "signal %d: shutting down", b);
  srv->stop = 1;
  server_wake(srv);
  return NULL;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (pipe(g_sig_pipe)) {
    perror("avatarkit-backend: pipe");
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  static ak__config cfg;
  ak__config_default(&cfg);
  char err[600];
  int rc = ak__config_load(&cfg, argc, argv, err, sizeof err);
  if (rc > 0) return 0;
  if (rc < 0) {
    fprintf(stderr, "avatarkit-backend: %s\n", err);
    return 2;
  }
  ak__log_set_level(cfg.log_level);
  lws_set_log_level(cfg.log_level >= 2 ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR, NULL);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  ak__tts *tts = ak__tts_new(&cfg, err, sizeof err);
  if (!tts) {
    fprintf(stderr, "avatarkit-backend: %s\n", err);
    return 1;
  }

  static server srv;
  srv.cfg = &cfg;
  srv.tts = tts;
  srv.asr_pool = ak__asr_pool_new(&cfg);
  srv.threads = ak__registry_new();
  if (!srv.asr_pool || !srv.threads) {
    fprintf(stderr, "avatarkit-backend: out of memory\n");
    return 1;
  }
  pthread_mutex_init(&srv.mu, NULL);

  struct lws_context_creation_info ci;
  memset(&ci, 0, sizeof ci);
  ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  ci.user = &srv;
  struct lws_context *ctx = lws_create_context(&ci);
  if (!ctx) {
    fprintf(stderr, "avatarkit-backend: cannot create the libwebsockets context\n");
    return 1;
  }
  struct lws_http_mount sdk_mount = {
      .mountpoint = "/sdk",
      .origin = cfg.sdk_dir,
      .def = "avatarkit.js",
      .origin_protocol = LWSMPRO_FILE,
      .mountpoint_len = 4,
      .extra_mimetypes = &MIME_JS,
  };
  struct lws_http_mount root_mount = {
      .mount_next = &sdk_mount,
      .mountpoint = "/",
      .origin = cfg.web_root,
      .def = "index.html",
      .origin_protocol = LWSMPRO_FILE,
      .mountpoint_len = 1,
      .extra_mimetypes = &MIME_JS,
  };
  struct lws_context_creation_info vi;
  memset(&vi, 0, sizeof vi);
  vi.port = cfg.listen_port;
  vi.protocols = PROTOCOLS;
  vi.mounts = &root_mount;
  vi.vhost_name = "backend";
  int any = strcmp(cfg.listen_host, "0.0.0.0") == 0 || strcmp(cfg.listen_host, "*") == 0;
  if (!any) {
    vi.iface = strcmp(cfg.listen_host, "localhost") == 0 ? "127.0.0.1" : cfg.listen_host;
    vi.options |= LWS_SERVER_OPTION_DISABLE_IPV6; /* else lws listens on every interface */
  }
  struct lws_vhost *vh = lws_create_vhost(ctx, &vi);
  if (!vh) {
    fprintf(stderr, "avatarkit-backend: cannot listen on %s:%d\n", cfg.listen_host,
            cfg.listen_port);
    lws_context_destroy(ctx);
    return 1;
  }
  int port = lws_get_vhost_listen_port(vh);
  if (cfg.port_file[0] && write_port_file(cfg.port_file, port)) {
    fprintf(stderr, "avatarkit-backend: cannot write %s\n", cfg.port_file);
    lws_context_destroy(ctx);
    return 1;
  }
  pthread_mutex_lock(&srv.mu);
  srv.ctx = ctx;
  srv.ctx_alive = 1;
  pthread_mutex_unlock(&srv.mu);
  pthread_t sig_th;
  pthread_create(&sig_th, NULL, signal_main, &srv);
  pthread_detach(sig_th);

  ak__log(1,
          "listening on http://%s:%d (ws /ws/agent); motion server %s; llm=%s tts=%s(%d Hz) asr=%s",
          cfg.listen_host, port, cfg.motion_url, cfg.llm_provider, ak__tts_voice_id(tts),
          ak__tts_sample_rate(tts), cfg.asr_provider);
  while (!srv.stop) {
    if (lws_service(ctx, 0) < 0) break;
    ak__registry_reap(srv.threads);
  }

  close_browsers(&srv, ctx);
  pthread_mutex_lock(&srv.mu);
  srv.ctx_alive = 0;
  pthread_mutex_unlock(&srv.mu);
  lws_context_destroy(ctx); /* closes any browser left: sessions are released */

  /* Sessions end their threads (turns are cancelled; SDK sessions close) and each thread is
   * joined, so none is still exiting when the process does. Bounded wait. */
  int left = ak__registry_wait(srv.threads, cfg.connect_timeout_ms + 5000);
  if (left) {
    ak__log(0, "%d session threads still busy at exit", left);
    return 0; /* threads still use tts: do not free it under them */
  }
  ak__registry_free(srv.threads);
  ak__asr_pool_free(srv.asr_pool);
  ak__tts_free(tts);
  curl_global_cleanup();
  ak__log(1, "stopped");
  return 0;
}
