/* The SDK's network side: one libwebsockets client context per loop, its optional service
 * thread, the WebSocket callback (handshake headers, configure, send queue, receive and
 * dispatch to the session callbacks) and the queued cross-thread work. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "loop.h"
#include "alloc_internal.h"

#define TICK_US (200 * LWS_US_PER_MS) /* INTERNAL thread wakes at least this often */
#define PROBE_TIMEOUT_MS AKS_PROBE_TIMEOUT_MS

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);

static const struct lws_protocols k_protocols[] = {
    {"avatarkit-sdk", ws_callback, 0, 64 * 1024, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

/* ---- errors and teardown --------------------------------------------------------------- */

/* The public view of a recorded error (strings borrowed from e). */
static aks_error public_error(const aks_error_info *e) {
  return (aks_error){.code = e->code,
                     .phase = e->phase,
                     .message = e->message,
                     .req_id = e->req_id[0] ? e->req_id : NULL,
                     .http_status = e->http_status,
                     .close_code = e->close_code};
}

/* An INTERNAL aks_session_start() is blocked waiting for this session: it was started (on_close
 * owed), is not confirmed and has not failed. The blocked call reports errors itself. */
static int start_blocked_locked(const aks_session *s) {
  return s->cfg.threading == AKS_THREAD_INTERNAL && s->notify == AKS__NOTIFY_ALL &&
         !s->conn_id[0] &&
         (s->state == AKS__CONNECTING || s->state == AKS__CONFIGURING || s->state == AKS__CLOSING);
}

/* The requests a lost connection cut: taken out of the in-flight set (call with loop->mu
 * held) and later reported with report_cut(). */
typedef struct cut_list {
  char ids[AKS_MAX_INFLIGHT][AK_ID_LEN + 1];
  int n;
} cut_list;

static void take_inflight_locked(aks_session *s, cut_list *cut) {
  cut->n = s->n_inflight;
  memcpy(cut->ids, s->inflight, (size_t)cut->n * sizeof cut->ids[0]);
  s->n_inflight = 0;
}

/* One on_error AKS_REQUEST_ABORTED per cut request (never replayed). */
static void report_cut(aks_session *s, const cut_list *cut, const char *why) {
  if (!s->cbs.on_error) return;
  char msg[AKS_ERROR_MESSAGE_MAX];
  snprintf(msg, sizeof msg, "request cut by a lost connection, not replayed (%.400s)", why);
  for (int i = 0; i < cut->n; i++) {
    aks_error pe = {.code = AKS_REQUEST_ABORTED,
                    .phase = AKS_PHASE_WEBSOCKET_RUNTIME,
                    .message = msg,
                    .req_id = cut->ids[i]};
    s->cbs.on_error(s->user, &pe);
  }
}

/* Fails the session; with cut = 1 (the connection was lost) the requests in flight are
 * reported cut after the session's error. */
static void session_fail_ex(aks_session *s, aks_error_code code, aks_phase phase, const char *msg,
                            const char *req_id, int http_status, int close_code, int cut) {
  aks_loop *loop = s->loop;
  cut_list *cl = NULL;
  pthread_mutex_lock(&loop->mu);
  if (s->state == AKS__FAILED || s->state == AKS__CLOSED) {
    pthread_mutex_unlock(&loop->mu);
    return;
  }
  if (start_blocked_locked(s)) s->notify = AKS__NOTIFY_NONE;
  aks__session_set_state_locked(s, AKS__FAILED);
  aks__session_set_error_locked(s, code, phase, msg, req_id, http_status, close_code);
  int notify = s->notify != AKS__NOTIFY_NONE;
  aks_error_info e = s->err;
  if (cut && notify && s->n_inflight && (cl = ak__malloc(sizeof *cl)) != NULL)
    take_inflight_locked(s, cl);
  pthread_cond_broadcast(&loop->cv);
  pthread_mutex_unlock(&loop->mu);
  if (notify && s->cbs.on_error) {
    aks_error pe = public_error(&e);
    s->cbs.on_error(s->user, &pe);
  }
  if (cl) report_cut(s, cl, e.message);
  ak__free(cl);
  if (s->wsi) {
    s->closing = 1;
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  } else {
    aks__session_detach_net(s);
  }
}

void aks__session_fail(aks_session *s, aks_error_code code, aks_phase phase, const char *msg,
                       const char *req_id, int http_status, int close_code) {
  session_fail_ex(s, code, phase, msg, req_id, http_status, close_code, 0);
}

void aks__session_detach_net(aks_session *s) {
  aks_loop *loop = s->loop;
  lws_sul_cancel(&s->sul_timeout);
  lws_sul_cancel(&s->sul_reconnect);
  lws_sul_cancel(&s->sul_live);
  if (s->wsi) {
    lws_set_opaque_user_data(s->wsi, NULL);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    s->wsi = NULL;
  }
  pthread_mutex_lock(&loop->mu);
  aks__session_drop_probe_locked(s);
  int fire = 0;
  if (s->state != AKS__CLOSED) {
    aks__session_set_state_locked(s, AKS__CLOSED);
    fire = s->notify == AKS__NOTIFY_ALL;
  }
  aks__txmsg *q = aks__txq_take_locked(s);
  pthread_cond_broadcast(&loop->cv);
  pthread_mutex_unlock(&loop->mu);
  aks__txq_free(q);
  if (fire && s->cbs.on_close)
    s->cbs.on_close(s->user, s->close_code, s->close_reason[0] ? s->close_reason : NULL);
}

static void connection_lost(aks_session *s, aks_error_code code, const char *msg, int close_code);
static int launch_probe(aks_session *s, aks__probe *p);
static void on_live(lws_sorted_usec_list_t *sul);
static int64_t live_interval_us(const aks_session *s);

static void on_timeout(lws_sorted_usec_list_t *sul) {
  aks_session *s = lws_container_of(sul, aks_session, sul_timeout);
  if (s->in_reconnect) {
    connection_lost(s, AKS_TIMEOUT, "no session confirmation within connect_timeout_ms", 0);
    return;
  }
  pthread_mutex_lock(&s->loop->mu);
  int configuring = s->state == AKS__CONFIGURING;
  pthread_mutex_unlock(&s->loop->mu);
  aks__session_fail(s, AKS_TIMEOUT,
                    configuring ? AKS_PHASE_WEBSOCKET_HANDSHAKE : AKS_PHASE_WEBSOCKET_CONNECT,
                    "no session confirmation within connect_timeout_ms", NULL, 0, 0);
}

/* ---- connect ----------------------------------------------------------------------------- */

/* The client vhost whose TLS context trusts ca_file (created on first use; the context's
 * default vhost trusts the system store). NULL when none can be made. */
static struct lws_vhost *ca_vhost(aks_loop *loop, const char *ca_file) {
  for (int i = 0; i < loop->n_ca_vhosts; i++)
    if (strcmp(loop->ca_vhosts[i].ca_file, ca_file) == 0) return loop->ca_vhosts[i].vh;
  if (loop->n_ca_vhosts >= AKS_MAX_CA_VHOSTS) return NULL;
  size_t n = strlen(ca_file) + 1;
  char *copy = ak__malloc(n);
  if (!copy) return NULL;
  memcpy(copy, ca_file, n);
  char name[32];
  snprintf(name, sizeof name, "aks-ca-%d", loop->n_ca_vhosts);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = k_protocols;
  info.vhost_name = name;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
  info.client_ssl_ca_filepath = copy;
  info.gid = -1;
  info.uid = -1;
  struct lws_vhost *vh = lws_create_vhost(loop->ctx, &info);
  if (!vh) {
    ak__free(copy);
    return NULL;
  }
  loop->ca_vhosts[loop->n_ca_vhosts].ca_file = copy;
  loop->ca_vhosts[loop->n_ca_vhosts].vh = vh;
  loop->n_ca_vhosts++;
  return vh;
}

static void do_connect(aks_session *s) {
  char path[AKS_URL_MAX + AKS_TOKEN_MAX + 512];
  if (aks__ingress_path(&s->ingress, s->cfg.avatar_id, s->cfg.app_id, s->token,
                        s->cfg.auth_in_query, path, sizeof path) != AKS_OK) {
    aks__session_fail(s, AKS_INVALID_ARGUMENT, AKS_PHASE_WEBSOCKET_CONNECT, "ingress URL too long",
                      NULL, 0, 0);
    return;
  }
  char host[300];
  int default_port = s->ingress.tls ? 443 : 80;
  int v6 = strchr(s->ingress.host, ':') != NULL; /* IPv6 literal: brackets in Host */
  if (s->ingress.port == default_port)
    snprintf(host, sizeof host, v6 ? "[%s]" : "%s", s->ingress.host);
  else
    snprintf(host, sizeof host, v6 ? "[%s]:%d" : "%s:%d", s->ingress.host, s->ingress.port);

  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  ci.context = s->loop->ctx;
  ci.address = s->ingress.host;
  ci.port = s->ingress.port;
  ci.path = path;
  ci.host = host;
  ci.origin = host;
  /* TLS: chain and host name verified (no ALLOW_SELFSIGNED / SKIP_..._HOSTNAME_CHECK). */
  ci.ssl_connection = s->ingress.tls ? LCCSCF_USE_SSL : 0;
  if (s->ingress.tls && s->cfg.ca_file) {
    ci.vhost = ca_vhost(s->loop, s->cfg.ca_file);
    if (!ci.vhost) {
      aks__session_fail(s, AKS_CONNECTION_FAILED, AKS_PHASE_WEBSOCKET_CONNECT,
                        "TLS: cannot load ca_file", NULL, 0, 0);
      return;
    }
  }
  s->cfg_sent = 0;
  s->rx_len = 0;
  s->close_code = 0;
  s->close_reason[0] = '\0';
  s->ping_due = 0;
  s->tls_error[0] = '\0';
  pthread_mutex_lock(&s->loop->mu);
  s->confirmed = 0;
  pthread_mutex_unlock(&s->loop->mu);
  ci.local_protocol_name = k_protocols[0].name;
  ci.ietf_version_or_minus_one = -1;
  ci.opaque_user_data = s;
  ci.pwsi = &s->wsi;
  lws_sul_schedule(s->loop->ctx, 0, &s->sul_timeout, on_timeout,
                   (lws_usec_t)s->cfg.connect_timeout_ms * LWS_US_PER_MS);
  if (!lws_client_connect_via_info(&ci)) {
    s->wsi = NULL;
    pthread_mutex_lock(&s->loop->mu);
    int handled = s->state != AKS__CONNECTING; /* the error callback already ran */
    pthread_mutex_unlock(&s->loop->mu);
    if (handled) return;
    if (s->in_reconnect)
      connection_lost(s, AKS_CONNECTION_FAILED, "cannot start the WebSocket connection", 0);
    else
      aks__session_fail(s, AKS_CONNECTION_FAILED, AKS_PHASE_WEBSOCKET_CONNECT,
                        "cannot start the WebSocket connection", NULL, 0, 0);
  }
}

/* ---- liveness and reconnect ----------------------------------------------------------- */

static int64_t live_interval_us(const aks_session *s) {
  return (int64_t)s->cfg.liveness_timeout_ms * LWS_US_PER_MS / 3;
}

/* Every third of liveness_timeout_ms: a ping, or the verdict that the server went silent. */
static void on_live(lws_sorted_usec_list_t *sul) {
  aks_session *s = lws_container_of(sul, aks_session, sul_live);
  if (!s->wsi) return;
  int64_t silent = lws_now_usecs() - s->last_rx_us;
  if (silent >= (int64_t)s->cfg.liveness_timeout_ms * LWS_US_PER_MS) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "server silent for %lld ms: no message and no pong (liveness_timeout_ms %d)",
             (long long)(silent / LWS_US_PER_MS), s->cfg.liveness_timeout_ms);
    connection_lost(s, AKS_TIMEOUT, msg, 0);
    return;
  }
  s->ping_due = 1;
  lws_callback_on_writable(s->wsi);
  lws_sul_schedule(s->loop->ctx, 0, &s->sul_live, on_live, live_interval_us(s));
}

/* Backoff before the next attempt: initial * 2^attempts capped at max, drawn in
 * [half, whole] so that clients dropped together do not come back together. */
static lws_usec_t backoff_us(aks_session *s) {
  long long d = s->cfg.reconnect_initial_ms;
  for (int i = 0; i < s->attempts && d < s->cfg.reconnect_max_ms; i++) d *= 2;
  if (d > s->cfg.reconnect_max_ms) d = s->cfg.reconnect_max_ms;
  s->rng ^= s->rng << 13; /* xorshift64 */
  s->rng ^= s->rng >> 7;
  s->rng ^= s->rng << 17;
  long long half = d / 2;
  long long wait = half + (long long)(s->rng % (uint64_t)(d - half + 1));
  if (s->retry_after_ms > wait) wait = s->retry_after_ms; /* the server's word comes first */
  s->retry_after_ms = 0;
  return (lws_usec_t)wait * LWS_US_PER_MS;
}

/* A refusal's Retry-After in milliseconds (the delay-seconds form; an HTTP date is not
 * expected from a Motion Server), capped at RETRY_AFTER_MAX_MS; 0 when absent. */
#define RETRY_AFTER_MAX_MS 60000
static int retry_after_ms(struct lws *wsi) {
  char v[32];
  if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_RETRY_AFTER) <= 0) return 0;
  char *end = NULL;
  long sec = strtol(v, &end, 10);
  if (end == v || sec <= 0) return 0;
  return sec >= RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS : (int)sec * 1000;
}

static void reconnect_now(aks_session *s) {
  pthread_mutex_lock(&s->loop->mu);
  int go =
      s->state == AKS__RECONNECTING && aks__session_set_state_locked(s, AKS__CONNECTING) == AKS_OK;
  pthread_mutex_unlock(&s->loop->mu);
  if (go) do_connect(s);
}

/* The backoff is over: get a fresh token on a worker thread (token_provider, or the console
 * API), or reuse the configured session_token when there is no other source. */
static void on_reconnect_due(lws_sorted_usec_list_t *sul) {
  aks_session *s = lws_container_of(sul, aks_session, sul_reconnect);
  pthread_mutex_lock(&s->loop->mu);
  int waiting = s->state == AKS__RECONNECTING;
  pthread_mutex_unlock(&s->loop->mu);
  if (!waiting) return;
  int console = s->cfg.console_url && s->cfg.console_url[0] && s->cfg.api_key && s->cfg.api_key[0];
  if (!s->cfg.token_provider && !console) {
    reconnect_now(s);
    return;
  }
  aks__probe *p = ak__calloc(1, sizeof *p);
  if (!p) {
    connection_lost(s, AKS_OUT_OF_MEMORY, "cannot start the token worker", 0);
    return;
  }
  p->kind = AKS__PROBE_TOKEN;
  p->provider = s->cfg.token_provider;
  p->provider_user = s->cfg.token_provider_user;
  if (console) {
    snprintf(p->console_url, sizeof p->console_url, "%s", s->cfg.console_url);
    snprintf(p->api_key, sizeof p->api_key, "%s", s->cfg.api_key);
  }
  p->ttl_s = s->cfg.token_ttl_s;
  p->timeout_ms = s->cfg.connect_timeout_ms;
  if (s->cfg.ca_file) snprintf(p->ca_file, sizeof p->ca_file, "%s", s->cfg.ca_file);
  int rc = launch_probe(s, p);
  if (rc != AKS_OK) connection_lost(s, (aks_error_code)rc, "cannot start the token worker", 0);
}

/* The fresh token of a reconnect arrived (or did not: that attempt failed). */
static void finish_token(aks_session *s, aks__probe *p) {
  pthread_mutex_lock(&s->loop->mu);
  int waiting = s->state == AKS__RECONNECTING;
  pthread_mutex_unlock(&s->loop->mu);
  if (!waiting) return;
  if (p->res.code != AKS_OK) {
    char msg[AKS_MSG_MAX + 32];
    snprintf(msg, sizeof msg, "fresh session token: %s", p->res.message);
    connection_lost(s, p->res.code, msg, 0);
    return;
  }
  snprintf(s->token, sizeof s->token, "%s", p->res.token);
  reconnect_now(s);
}

/* The connection is gone without the user asking (no close frame, close 1001, a failed
 * write, the liveness bound, or a failed reconnect attempt). With cfg.reconnect, after a
 * confirmation and attempts left: report the loss (first time only) and the cut requests,
 * drop the queue (never replayed) and schedule the next attempt. Otherwise fail the session
 * (the cut requests are reported too). Network thread only. */
static void connection_lost(aks_session *s, aks_error_code code, const char *msg, int close_code) {
  aks_loop *loop = s->loop;
  pthread_mutex_lock(&loop->mu);
  aks__state st = s->state;
  int live =
      st == AKS__CONNECTING || st == AKS__CONFIGURING || st == AKS__OPEN || st == AKS__RECONNECTING;
  int first = !s->in_reconnect;
  int failed = first ? 0 : s->attempts + 1; /* failed attempts counting this one */
  int retry =
      live && s->cfg.reconnect && s->conn_id[0] != '\0' && failed < s->cfg.reconnect_max_attempts;
  if (!retry) {
    pthread_mutex_unlock(&loop->mu);
    char gave_up[AKS_ERROR_MESSAGE_MAX];
    if (!first)
      snprintf(gave_up, sizeof gave_up, "reconnect gave up after %d attempts: %s", failed, msg);
    else
      snprintf(gave_up, sizeof gave_up, "%s", msg);
    s->in_reconnect = 0;
    session_fail_ex(s, code, AKS_PHASE_WEBSOCKET_RUNTIME, gave_up, NULL, 0, close_code, 1);
    return;
  }
  if (st != AKS__RECONNECTING) aks__session_set_state_locked(s, AKS__RECONNECTING);
  s->attempts = failed;
  s->in_reconnect = 1;
  s->confirmed = 0;
  s->epoch++; /* a request begun before this is never continued */
  int notify = s->notify != AKS__NOTIFY_NONE;
  cut_list *cl = NULL;
  if (notify && s->n_inflight && (cl = ak__malloc(sizeof *cl)) != NULL) take_inflight_locked(s, cl);
  s->n_inflight = 0;
  aks__txmsg *q = aks__txq_take_locked(s); /* never replayed */
  aks_error_info e;
  if (first) {
    char m2[AKS_ERROR_MESSAGE_MAX];
    snprintf(m2, sizeof m2, "connection lost, reconnecting: %s", msg);
    aks__session_set_error_locked(s, code, AKS_PHASE_WEBSOCKET_RUNTIME, m2, NULL, 0, close_code);
    e = s->err;
  }
  pthread_cond_broadcast(&loop->cv);
  pthread_mutex_unlock(&loop->mu);
  aks__txq_free(q);
  if (first && notify && s->cbs.on_error) {
    aks_error pe = public_error(&e);
    s->cbs.on_error(s->user, &pe);
  }
  if (cl) report_cut(s, cl, msg);
  ak__free(cl);
  if (s->wsi) {
    lws_set_opaque_user_data(s->wsi, NULL);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    s->wsi = NULL;
  }
  lws_sul_cancel(&s->sul_timeout);
  lws_sul_cancel(&s->sul_live);
  lws_sul_schedule(loop->ctx, 0, &s->sul_reconnect, on_reconnect_due, backoff_us(s));
}

/* ---- pending work -------------------------------------------------------------------- */

void aks__loop_kick_locked(aks_session *s) {
  if (!s->in_pending) {
    s->in_pending = 1;
    s->pnext = s->loop->pending;
    s->loop->pending = s;
  }
  lws_cancel_service(s->loop->ctx);
}

static void finish_probe(aks_session *s, aks__probe *p);
static void finish_token(aks_session *s, aks__probe *p);

void aks__loop_run_pending(aks_loop *loop) {
  pthread_mutex_lock(&loop->mu);
  aks_session *list = loop->pending;
  loop->pending = NULL;
  pthread_mutex_unlock(&loop->mu);
  while (list) {
    aks_session *s = list;
    pthread_mutex_lock(&loop->mu);
    list = s->pnext;
    s->pnext = NULL;
    s->in_pending = 0;
    unsigned work = s->work;
    s->work = 0;
    aks__state state = s->state;
    int token_known = s->treq == NULL;
    aks__probe *probe = NULL;
    if ((work & AKS__WORK_PROBE) && s->probe && s->probe->done) {
      probe = s->probe; /* reaped below, once read */
      aks__session_drop_probe_locked(s);
    }
    pthread_mutex_unlock(&loop->mu);

    if ((work & AKS__WORK_CONNECT) && state == AKS__CONNECTING && token_known && !s->wsi)
      do_connect(s);
    if (probe && probe->kind == AKS__PROBE_TOKEN)
      finish_token(s, probe);
    else if (probe)
      finish_probe(s, probe);
    if (work & AKS__WORK_CLOSE) {
      if (s->wsi) {
        s->closing = 1;
        lws_callback_on_writable(s->wsi);
      } else if (state != AKS__CLOSED) {
        aks__session_detach_net(s);
      }
    } else if ((work & AKS__WORK_WRITE) && s->wsi) {
      lws_callback_on_writable(s->wsi);
    }
    if (work & AKS__WORK_DETACH) {
      aks__session_detach_net(s);
      pthread_mutex_lock(&loop->mu);
      s->detached = 1; /* s may be freed by its owner from here on */
      pthread_cond_broadcast(&loop->cv);
      pthread_mutex_unlock(&loop->mu);
    }
  }
  aks__loop_reap_probes(loop, 0);
}

/* ---- receive ---------------------------------------------------------------------------- */

static int ensure_scratch(aks__scratch *sc, size_t frames) {
  if (frames <= sc->frames) return 0;
  if (frames > SIZE_MAX / (AK_BLENDSHAPE_COUNT * sizeof(float))) return -1;
  float *w = ak__realloc(sc->w, frames * AK_BLENDSHAPE_COUNT * sizeof(float));
  if (!w) return -1;
  sc->w = w;
  float *h = ak__realloc(sc->h, frames * 3 * sizeof(float));
  if (!h) return -1;
  sc->h = h;
  sc->frames = frames;
  return 0;
}

void aks__scratch_free(aks__scratch *sc) {
  ak__free(sc->w);
  ak__free(sc->h);
  memset(sc, 0, sizeof *sc);
}

int aks__deliver_animation(aks__scratch *sc, const aks_callbacks *cbs, void *user,
                           const ak_animation *a, const uint8_t *raw, size_t len) {
  if (a->has_audio && cbs->on_audio) {
    aks_audio au;
    memset(&au, 0, sizeof au);
    au.req_id = a->req_id;
    au.payload = a->audio_bytes; /* a slice of raw: relayed untouched, never re-packed */
    au.payload_len = a->audio_bytes_len;
    au.sample_rate = (int)a->audio.sample_rate;
    au.frame_samples = (int)a->audio.frame_samples;
    au.pre_skip = (int)a->audio.pre_skip;
    au.first_packet = a->audio.first_packet;
    au.packet_count = a->audio.n_packets;
    au.packets = a->audio.packets;
    au.packet_lens = a->audio.packet_lens;
    au.total_samples = a->audio.total_samples;
    au.end = a->audio.end;
    cbs->on_audio(user, &au);
  }
  if (a->has_motion && cbs->on_motion) {
    size_t n = a->motion.frame_count;
    if (ensure_scratch(sc, n ? n : 1) != 0) return AKS_OUT_OF_MEMORY;
    if (ak_motion_dequantize(&a->motion, sc->w, sc->h) < 0) return AKS_PROTOCOL_ERROR;
    aks_motion mo;
    memset(&mo, 0, sizeof mo);
    mo.req_id = a->req_id;
    mo.payload = a->motion_bytes; /* a slice of raw */
    mo.payload_len = a->motion_bytes_len;
    mo.fps = (int)a->motion.fps;
    mo.first_frame = a->motion.first_frame;
    mo.frame_count = a->motion.frame_count;
    mo.weights = sc->w;
    mo.head = sc->h;
    mo.end = a->motion.end;
    cbs->on_motion(user, &mo);
  }
  /* Last, so that last = 1 means everything of the request has been delivered. */
  if (cbs->on_message) cbs->on_message(user, a->req_id, raw, len, a->end);
  return AKS_OK;
}

static void on_animation(aks_session *s, const ak_animation *a, const uint8_t *raw, size_t len) {
  int rc = aks__deliver_animation(&s->scratch, &s->cbs, s->user, a, raw, len);
  if (rc == AKS_OUT_OF_MEMORY)
    aks__session_fail(s, rc, AKS_PHASE_WEBSOCKET_RUNTIME, "cannot allocate motion frames",
                      a->req_id, 0, 0);
  else if (rc != AKS_OK)
    aks__session_fail(s, rc, AKS_PHASE_WEBSOCKET_RUNTIME, "malformed motion payload", a->req_id, 0,
                      0);
}

static void on_message(aks_session *s, const uint8_t *buf, size_t len) {
  ak_message *m = NULL;
  int rc = ak_message_parse(buf, len, &m);
  if (rc != AK_OK) {
    char msg[128];
    snprintf(msg, sizeof msg, "malformed message from server (%s)", ak_strerror(rc));
    aks__session_fail(s, AKS_PROTOCOL_ERROR, AKS_PHASE_WEBSOCKET_RUNTIME, msg, NULL, 0, 0);
    return;
  }
  aks_loop *loop = s->loop;
  pthread_mutex_lock(&loop->mu);
  aks__state state = s->state;
  int confirmed = s->confirmed;
  pthread_mutex_unlock(&loop->mu);

  if (m->type == AK_MSG_SERVER_CONFIRM_SESSION && m->data == AK_DATA_CONFIRM) {
    const char *id = m->u.confirm_connection_id ? m->u.confirm_connection_id : "";
    if ((state != AKS__CONFIGURING && state != AKS__CLOSING) || confirmed || !id[0] ||
        strlen(id) >= AKS_CONN_ID_MAX) {
      aks__session_fail(s, AKS_PROTOCOL_ERROR, AKS_PHASE_WEBSOCKET_HANDSHAKE,
                        "unexpected or empty session confirmation", NULL, 0, 0);
    } else {
      lws_sul_cancel(&s->sul_timeout);
      pthread_mutex_lock(&loop->mu);
      snprintf(s->conn_id, sizeof s->conn_id, "%s", id);
      s->confirmed = 1;
      /* Closed by the user while configuring: remember the id, stay CLOSING. */
      int open =
          s->state == AKS__CONFIGURING && aks__session_set_state_locked(s, AKS__OPEN) == AKS_OK;
      if (open) { /* (re)connected: the backoff starts over at the next loss */
        s->in_reconnect = 0;
        s->attempts = 0;
      }
      int pending = s->txq_head != NULL;
      pthread_cond_broadcast(&loop->cv);
      pthread_mutex_unlock(&loop->mu);
      if (pending && s->wsi) lws_callback_on_writable(s->wsi);
      if (open && s->cbs.on_connected) s->cbs.on_connected(s->user, s->conn_id);
    }
  } else if (m->type == AK_MSG_SERVER_ERROR && m->data == AK_DATA_ERROR) {
    const ak_server_error *e = &m->u.error;
    aks_error_code code = aks__classify_server_error(e->code, e->message);
    const char *rid = e->req_id && e->req_id[0] ? e->req_id : NULL;
    pthread_mutex_lock(&loop->mu);
    aks__inflight_remove_locked(s, rid); /* ended by this error: not cut later */
    pthread_mutex_unlock(&loop->mu);
    if (!confirmed) {
      aks__session_fail(s, code, AKS_PHASE_WEBSOCKET_HANDSHAKE, e->message, rid, 0, 0);
    } else {
      /* Reported now; the server decides whether the connection goes on (answers already
       * queued still go out and arrive). A close that follows is not reported again. */
      pthread_mutex_lock(&loop->mu);
      aks__session_set_error_locked(s, code, AKS_PHASE_WEBSOCKET_RUNTIME, e->message, rid, 0, 0);
      if (s->state == AKS__OPEN || s->state == AKS__CLOSING)
        aks__session_set_state_locked(s, AKS__FAILED);
      aks_error_info copy = s->err;
      int notify = s->notify != AKS__NOTIFY_NONE;
      pthread_cond_broadcast(&loop->cv);
      pthread_mutex_unlock(&loop->mu);
      if (notify && s->cbs.on_error) {
        aks_error pe = public_error(&copy);
        s->cbs.on_error(s->user, &pe);
      }
    }
  } else if (m->type == AK_MSG_SERVER_RESPONSE_ANIMATION && m->data == AK_DATA_ANIMATION) {
    if (confirmed && m->u.animation.end) { /* answered to the end: no longer in flight */
      pthread_mutex_lock(&loop->mu);
      aks__inflight_remove_locked(s, m->u.animation.req_id);
      pthread_mutex_unlock(&loop->mu);
    }
    if (confirmed) on_animation(s, &m->u.animation, buf, len);
  } else {
    aks__session_fail(s, AKS_PROTOCOL_ERROR,
                      confirmed ? AKS_PHASE_WEBSOCKET_RUNTIME : AKS_PHASE_WEBSOCKET_HANDSHAKE,
                      "unexpected message type from server", NULL, 0, 0);
  }
  ak_message_free(m);
}

static int on_receive(aks_session *s, struct lws *wsi, const void *in, size_t len) {
  if (s->rx_len + len > AKS_RX_MAX) {
    aks__session_fail(s, AKS_PROTOCOL_ERROR, AKS_PHASE_WEBSOCKET_RUNTIME,
                      "server message larger than the limit", NULL, 0, 0);
    return -1;
  }
  if (s->rx_len + len > s->rx_cap) {
    size_t cap = s->rx_cap ? s->rx_cap : 16384;
    while (cap < s->rx_len + len) cap *= 2;
    uint8_t *nb = ak__realloc(s->rx, cap);
    if (!nb) {
      aks__session_fail(s, AKS_OUT_OF_MEMORY, AKS_PHASE_WEBSOCKET_RUNTIME,
                        "cannot buffer a server message", NULL, 0, 0);
      return -1;
    }
    s->rx = nb;
    s->rx_cap = cap;
  }
  if (len) memcpy(s->rx + s->rx_len, in, len);
  s->rx_len += len;
  if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
    size_t n = s->rx_len;
    s->rx_len = 0;
    if (!lws_frame_is_binary(wsi)) {
      aks__session_fail(s, AKS_PROTOCOL_ERROR, AKS_PHASE_WEBSOCKET_RUNTIME,
                        "text frame from server", NULL, 0, 0);
      return 0;
    }
    on_message(s, s->rx, n);
  }
  return 0;
}

/* ---- write ---------------------------------------------------------------------------- */

static int on_writeable(aks_session *s, struct lws *wsi) {
  aks_loop *loop = s->loop;
  if (s->ping_due) { /* liveness: the server's pong (or anything else) proves it alive */
    unsigned char ping[LWS_PRE + 1];
    s->ping_due = 0;
    if (lws_write(wsi, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0) {
      connection_lost(s, AKS_CONNECTION_CLOSED, "WebSocket ping write failed", 0);
      return -1;
    }
    lws_callback_on_writable(wsi);
    return 0;
  }
  if (!s->cfg_sent) {
    /* lws masks client frames in place: send a copy, the original serves every reconnect */
    uint8_t *copy = ak__malloc(LWS_PRE + s->cfg_len);
    int n = -1;
    if (copy) {
      memcpy(copy + LWS_PRE, s->cfg_msg + LWS_PRE, s->cfg_len);
      n = lws_write(wsi, copy + LWS_PRE, s->cfg_len, LWS_WRITE_BINARY);
      ak__free(copy);
    }
    if (n < (int)s->cfg_len) {
      if (s->in_reconnect) { /* a server gone again right after the upgrade: one more try */
        connection_lost(s, AKS_CONNECTION_FAILED, "cannot send ClientConfigureSession", 0);
        return -1;
      }
      aks__session_fail(s, AKS_CONNECTION_FAILED, AKS_PHASE_WEBSOCKET_SEND,
                        "cannot send ClientConfigureSession", NULL, 0, 0);
      return -1;
    }
    s->cfg_sent = 1;
    if (s->closing) lws_callback_on_writable(wsi);
    return 0;
  }
  pthread_mutex_lock(&loop->mu);
  /* The queue goes out once the session is confirmed (also while closing or after a
   * runtime ServerError, as long as the connection lasts). */
  int confirmed = s->confirmed;
  aks__txmsg *m = confirmed ? s->txq_head : NULL;
  if (m) {
    s->txq_head = m->next;
    if (!s->txq_head) s->txq_tail = NULL;
    s->txq_bytes -= m->len;
    s->txq_count--;
  }
  int more = s->txq_head != NULL && confirmed;
  pthread_mutex_unlock(&loop->mu);
  if (m) {
    int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_BINARY);
    size_t want = m->len;
    ak__free(m);
    if (n < (int)want) {
      connection_lost(s, AKS_CONNECTION_FAILED, "WebSocket write failed", 0);
      return -1;
    }
  }
  if (more) {
    lws_callback_on_writable(wsi);
  } else if (s->closing) {
    lws_close_reason(wsi, (enum lws_close_status)AK_CLOSE_NORMAL, (unsigned char *)"bye", 3);
    return -1;
  }
  return 0;
}

/* ---- the lws callback ------------------------------------------------------------------ */

/* Worker thread of one probe: the blocking HTTP request, then a wake-up for the session's
 * network thread (which fails the session with the probe's verdict). */
static void *probe_main(void *arg) {
  aks__probe *p = arg;
  if (p->kind == AKS__PROBE_TOKEN) {
    memset(&p->res, 0, sizeof p->res);
    if (p->provider) {
      char *buf = p->res.token;
      buf[0] = '\0';
      int rc = p->provider(p->provider_user, buf, sizeof p->res.token);
      buf[sizeof p->res.token - 1] = '\0';
      p->res.code = rc == 0 && buf[0] ? AKS_OK : AKS_SESSION_TOKEN_INVALID;
      if (p->res.code != AKS_OK)
        snprintf(p->res.message, sizeof p->res.message, "token_provider gave no token (%d)", rc);
    } else {
      aks__token_fetch(p->console_url, p->api_key, p->ttl_s, p->timeout_ms,
                       p->ca_file[0] ? p->ca_file : NULL, &p->res);
    }
  } else {
    aks__upgrade_probe(p->url, p->app_id, p->token, p->auth_in_query, PROBE_TIMEOUT_MS,
                       p->ca_file[0] ? p->ca_file : NULL, &p->res);
  }
  aks_loop *loop = p->loop;
  pthread_mutex_lock(&loop->mu);
  p->done = 1;
  pthread_cond_broadcast(&loop->cv); /* aks_session_free may wait for a token call */
  if (p->s) {
    p->s->work |= AKS__WORK_PROBE;
    aks__loop_kick_locked(p->s);
  }
  pthread_mutex_unlock(&loop->mu);
  return NULL;
}

/* The upgrade was refused with an HTTP error: ask again over plain HTTP on a worker thread
 * to read the JSON body. Returns AKS_OK when the probe runs (its verdict arrives as
 * AKS__WORK_PROBE), else an error (AKS_QUEUE_FULL: AKS_MAX_PROBES already run) and nothing
 * started. */
static int start_probe(aks_session *s, int status) {
  char path[AKS_URL_MAX + AKS_TOKEN_MAX + 512];
  if (aks__ingress_path(&s->ingress, s->cfg.avatar_id, s->cfg.app_id, s->token,
                        s->cfg.auth_in_query, path, sizeof path) != AKS_OK)
    return AKS_INVALID_ARGUMENT;
  aks__probe *p = ak__calloc(1, sizeof *p);
  if (!p) return AKS_OUT_OF_MEMORY;
  int v6 = strchr(s->ingress.host, ':') != NULL;
  snprintf(p->url, sizeof p->url, v6 ? "%s://[%s]:%d%s" : "%s://%s:%d%s",
           s->ingress.tls ? "https" : "http", s->ingress.host, s->ingress.port, path);
  snprintf(p->app_id, sizeof p->app_id, "%s", s->cfg.app_id);
  snprintf(p->token, sizeof p->token, "%s", s->token);
  p->auth_in_query = s->cfg.auth_in_query;
  p->status = status;
  if (s->cfg.ca_file) snprintf(p->ca_file, sizeof p->ca_file, "%s", s->cfg.ca_file);
  /* The probe is bounded by PROBE_TIMEOUT_MS itself; connect_timeout_ms does not cut it. */
  lws_sul_cancel(&s->sul_timeout);
  return launch_probe(s, p);
}

/* Starts p's worker thread (takes p). AKS_OK, or an error and p freed. */
static int launch_probe(aks_session *s, aks__probe *p) {
  p->loop = s->loop;
  p->s = s;
  p->owner = s;
  aks_loop *loop = s->loop;
  pthread_mutex_lock(&loop->mu);
  int rc = AKS_QUEUE_FULL;
  if (loop->n_probes < AKS_MAX_PROBES)
    rc = pthread_create(&p->thread, NULL, probe_main, p) == 0 ? AKS_OK : AKS_OUT_OF_MEMORY;
  if (rc == AKS_OK) {
    p->next = loop->probes;
    loop->probes = p;
    loop->n_probes++;
    s->probe = p;
  }
  pthread_mutex_unlock(&loop->mu);
  if (rc != AKS_OK) ak__free(p);
  return rc;
}

/* The probe's verdict: trusted only when it saw the same status as the refused upgrade. */
static void finish_probe(aks_session *s, aks__probe *p) {
  char msg[AKS_MSG_MAX];
  aks_error_code code = aks__classify_http(p->status, NULL, 1, msg, sizeof msg);
  if (p->res.http_status == p->status) {
    code = p->res.code;
    snprintf(msg, sizeof msg, "%s", p->res.message);
  }
  /* refused while reconnecting: final, and the requests queued meanwhile are cut */
  session_fail_ex(s, code, AKS_PHASE_WEBSOCKET_CONNECT, msg, NULL, p->status, 0, s->in_reconnect);
  aks__session_detach_net(s);
}

void aks__loop_reap_probes(aks_loop *loop, int all) {
  aks__probe *reap = NULL;
  pthread_mutex_lock(&loop->mu);
  aks__probe **pp = &loop->probes;
  while (*pp) {
    aks__probe *p = *pp;
    if (all || (p->done && !p->s)) {
      *pp = p->next;
      loop->n_probes--;
      if (p->s) aks__session_drop_probe_locked(p->s);
      p->next = reap;
      reap = p;
    } else {
      pp = &p->next;
    }
  }
  pthread_mutex_unlock(&loop->mu);
  while (reap) { /* finished (or, at teardown, bounded by PROBE_TIMEOUT_MS) */
    aks__probe *n = reap->next;
    pthread_join(reap->thread, NULL);
    ak__free(reap);
    reap = n;
  }
}

/* lws's connection error text names a TLS problem (its wording varies: "ssl", "tls",
 * "certificate", "verify"). */
static int tls_failure(const char *why) {
  static const char *const words[] = {"ssl", "tls", "certificate", "verif", "x509"};
  if (!why) return 0;
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    for (const char *p = why; *p; p++)
      if (strncasecmp(p, words[i], strlen(words[i])) == 0) return 1;
  return 0;
}

static void on_connection_error(aks_session *s, struct lws *wsi, const char *why) {
  /* Why OpenSSL refused the server certificate (lws only says "SSL err 1"). */
  SSL *ssl = s->ingress.tls ? lws_get_ssl(wsi) : NULL;
  long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (verify != X509_V_OK)
    snprintf(s->tls_error, sizeof s->tls_error, "%s", X509_verify_cert_error_string(verify));
  int status = (int)lws_http_client_http_response(wsi);
  char msg[AKS_MSG_MAX];
  snprintf(msg, sizeof msg, "%s", why ? why : "connection failed");
  s->wsi = NULL;
  lws_set_opaque_user_data(wsi, NULL);
  /* While reconnecting, a server not ready yet (5xx) or one that limits the rate of new
   * sessions (429: a reconnect storm) is tried again later, after its Retry-After if it gave
   * one; refusals of the credentials stay final. */
  if ((status >= 500 || status == 429) && s->in_reconnect) {
    s->retry_after_ms = retry_after_ms(wsi);
    if (s->retry_after_ms)
      snprintf(msg, sizeof msg, "upgrade refused with HTTP %d (Retry-After %d s)", status,
               s->retry_after_ms / 1000);
    else
      snprintf(msg, sizeof msg, "upgrade refused with HTTP %d", status);
    aks_error_code code =
        status == 429 ? aks__classify_http(status, NULL, 1, NULL, 0) : AKS_SERVER_ERROR;
    connection_lost(s, code, msg, 0);
    return;
  }
  if (status >= 400) {
    if (start_probe(s, status) == AKS_OK) return; /* the verdict comes back later */
    aks_error_code code = aks__classify_http(status, NULL, 1, msg, sizeof msg);
    aks__session_fail(s, code, AKS_PHASE_WEBSOCKET_CONNECT, msg, NULL, status, 0);
  } else {
    if (s->ingress.tls && status <= 0 && (s->tls_error[0] || tls_failure(why))) {
      char tmsg[AKS_MSG_MAX];
      if (s->tls_error[0])
        snprintf(tmsg, sizeof tmsg, "TLS: server certificate not trusted: %s", s->tls_error);
      else
        snprintf(tmsg, sizeof tmsg, "TLS handshake failed: %.400s", msg);
      snprintf(msg, sizeof msg, "%s", tmsg);
    }
    if (s->in_reconnect) { /* one failed attempt: the next one is scheduled */
      connection_lost(s, AKS_CONNECTION_FAILED, msg, 0);
      return;
    }
    aks__session_fail(s, AKS_CONNECTION_FAILED,
                      status > 0 ? AKS_PHASE_WEBSOCKET_HANDSHAKE : AKS_PHASE_WEBSOCKET_CONNECT, msg,
                      NULL, status, 0);
  }
  aks__session_detach_net(s);
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len) {
  (void)user;
  aks_session *s = wsi ? lws_get_opaque_user_data(wsi) : NULL;
  switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
      aks_loop *loop = lws_context_user(lws_get_context(wsi));
      if (loop) aks__loop_run_pending(loop);
      return 0;
    }
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
      if (!s || s->cfg.auth_in_query) return 0;
      unsigned char **p = (unsigned char **)in, *end = *p + len;
      if (lws_add_http_header_by_name(
              wsi, (const unsigned char *)"X-App-ID:", (const unsigned char *)s->cfg.app_id,
              (int)strlen(s->cfg.app_id), p, end) ||
          lws_add_http_header_by_name(
              wsi, (const unsigned char *)"X-Session-Key:", (const unsigned char *)s->token,
              (int)strlen(s->token), p, end))
        return -1;
      return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      if (s) on_connection_error(s, wsi, in ? (const char *)in : NULL);
      return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      if (!s) return -1;
      pthread_mutex_lock(&s->loop->mu);
      if (s->state == AKS__CONNECTING) aks__session_set_state_locked(s, AKS__CONFIGURING);
      pthread_mutex_unlock(&s->loop->mu);
      s->last_rx_us = lws_now_usecs();
      if (s->cfg.liveness_timeout_ms > 0)
        lws_sul_schedule(s->loop->ctx, 0, &s->sul_live, on_live, live_interval_us(s));
      lws_callback_on_writable(wsi);
      return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
      if (s) s->last_rx_us = lws_now_usecs();
      return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
      if (!s) return -1;
      s->last_rx_us = lws_now_usecs();
      return on_receive(s, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      if (!s) return -1;
      return on_writeable(s, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (s && len >= 2) {
        const unsigned char *b = in;
        s->close_code = (b[0] << 8) | b[1];
        size_t rl = len - 2 < sizeof s->close_reason - 1 ? len - 2 : sizeof s->close_reason - 1;
        memcpy(s->close_reason, b + 2, rl);
        s->close_reason[rl] = '\0';
      }
      return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
      if (s && s->wsi == wsi) {
        lws_set_opaque_user_data(wsi, NULL);
        s->wsi = NULL;
        pthread_mutex_lock(&s->loop->mu);
        int report = s->state != AKS__FAILED && s->state != AKS__CLOSING && s->state != AKS__CLOSED;
        pthread_mutex_unlock(&s->loop->mu);
        if (report) {
          char msg[256];
          if (s->close_code == 0)
            snprintf(msg, sizeof msg, "connection lost without a close frame");
          else
            snprintf(msg, sizeof msg, "connection closed by the server (code %d%s%s)",
                     s->close_code, s->close_reason[0] ? ": " : "", s->close_reason);
          /* Lost by the network (no close frame) or a server going away: may reconnect. */
          if (s->close_code == 0 || s->close_code == 1006 || s->close_code == AK_CLOSE_GOING_AWAY) {
            connection_lost(s, aks__classify_close(s->close_code), msg, s->close_code);
            return 0;
          }
          aks__session_fail(s, aks__classify_close(s->close_code), AKS_PHASE_WEBSOCKET_RUNTIME, msg,
                            NULL, 0, s->close_code);
        }
        aks__session_detach_net(s);
      }
      return 0;
    default:
      return 0;
  }
}

/* ---- loop lifetime and service ------------------------------------------------------------ */

static void on_tick(lws_sorted_usec_list_t *sul) {
  aks_loop *loop = lws_container_of(sul, aks_loop, sul_tick);
  aks__loop_run_pending(loop);
  lws_sul_schedule(loop->ctx, 0, &loop->sul_tick, on_tick, TICK_US);
}

static void on_bound(lws_sorted_usec_list_t *sul) {
  (void)sul;
}

static void *loop_thread(void *arg) {
  aks_loop *loop = arg;
  lws_sul_schedule(loop->ctx, 0, &loop->sul_tick, on_tick, TICK_US);
  for (;;) {
    pthread_mutex_lock(&loop->mu);
    int stop = loop->stop;
    pthread_mutex_unlock(&loop->mu);
    if (stop) break;
    aks__loop_run_pending(loop);
    lws_service(loop->ctx, 0);
  }
  lws_sul_cancel(&loop->sul_tick);
  return NULL;
}

/* EXTERNAL sessions fetching their token: progress them without blocking. */
static int poll_tokens(aks_loop *loop) {
  int busy = 0;
  aks_session *list[64];
  size_t n = 0;
  pthread_mutex_lock(&loop->mu);
  if (loop->n_token_reqs > 0)
    for (aks_session *s = loop->sessions; s && n < 64; s = s->next)
      if (s->treq) list[n++] = s;
  pthread_mutex_unlock(&loop->mu);
  for (size_t i = 0; i < n; i++) {
    aks_session *s = list[i];
    aks__http_result *res = ak__malloc(sizeof *res);
    if (!res) return 1;
    if (aks__token_req_poll(s->treq, 0, res)) {
      aks__token_req_free(s->treq);
      if (res->code == AKS_OK) snprintf(s->token, sizeof s->token, "%s", res->token);
      pthread_mutex_lock(&loop->mu);
      s->treq = NULL;
      loop->n_token_reqs--;
      if (res->code == AKS_OK) {
        if (s->state == AKS__FETCHING_TOKEN) {
          aks__session_set_state_locked(s, AKS__HAS_TOKEN);
        } else if (s->state == AKS__CONNECTING) { /* started before the token came */
          s->work |= AKS__WORK_CONNECT;
          aks__loop_kick_locked(s);
        }
      }
      pthread_mutex_unlock(&loop->mu);
      if (res->code != AKS_OK) {
        aks__session_fail(s, res->code, AKS_PHASE_SESSION_TOKEN, res->message, NULL,
                          res->http_status, 0);
      }
    } else {
      busy = 1;
    }
    ak__free(res);
  }
  return busy;
}

void aks__loop_service_once(aks_loop *loop, int timeout_ms) {
  aks__loop_run_pending(loop);
  if (poll_tokens(loop) && (timeout_ms > 10 || timeout_ms <= 0))
    timeout_ms = 10; /* keep polling the token transfers */
  if (timeout_ms <= 0) {
    lws_service(loop->ctx, -1);
  } else {
    lws_sul_schedule(loop->ctx, 0, &loop->sul_bound, on_bound,
                     (lws_usec_t)timeout_ms * LWS_US_PER_MS);
    lws_service(loop->ctx, 0);
    lws_sul_cancel(&loop->sul_bound);
  }
  aks__loop_run_pending(loop);
}

int aks__loop_create(aks_threading threading, int max_sessions, int tls, aks_loop **out) {
  aks_loop *loop = ak__calloc(1, sizeof *loop);
  if (!loop) return AKS_OUT_OF_MEMORY;
  loop->threading = threading;
  loop->max_sessions = max_sessions;
  pthread_mutex_init(&loop->mu, NULL);
  pthread_cond_init(&loop->cv, NULL);

  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = k_protocols;
  /* TLS (a client SSL_CTX per context) only where wss may be used: plain ws contexts stay
   * cheap, and lws 4.1 was seen to leak the SSL_CTX of one of several live contexts. */
  if (tls) info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.user = loop;
  info.gid = -1;
  info.uid = -1;
  info.fd_limit_per_thread = (unsigned int)max_sessions + 16u;
  loop->ctx = lws_create_context(&info);
  if (!loop->ctx) {
    aks__loop_destroy(loop);
    return AKS_OUT_OF_MEMORY;
  }
  if (threading == AKS_THREAD_INTERNAL) {
    if (pthread_create(&loop->thread, NULL, loop_thread, loop) != 0) {
      aks__loop_destroy(loop);
      return AKS_OUT_OF_MEMORY;
    }
    loop->thread_started = 1;
  }
  *out = loop;
  return AKS_OK;
}

void aks__loop_destroy(aks_loop *loop) {
  if (!loop) return;
  if (loop->thread_started) {
    pthread_mutex_lock(&loop->mu);
    loop->stop = 1;
    pthread_mutex_unlock(&loop->mu);
    lws_cancel_service(loop->ctx);
    pthread_join(loop->thread, NULL);
  }
  if (loop->ctx) aks__loop_reap_probes(loop, 1);
  if (loop->ctx) lws_context_destroy(loop->ctx);
  for (int i = 0; i < loop->n_ca_vhosts; i++) ak__free(loop->ca_vhosts[i].ca_file);
  pthread_cond_destroy(&loop->cv);
  pthread_mutex_destroy(&loop->mu);
  ak__free(loop);
}
