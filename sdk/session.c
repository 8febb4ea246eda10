/* The public server SDK calls: config validation and copy, session lifetime, token, start,
 * audio/interrupt queueing with request ids (and optional Ogg Opus encoding), close, and the
 * public shared-loop API. Network work is handed to loop.c through the loop's pending list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop.h"
#include "alloc_internal.h"

#define DEFAULT_TTL_S 3600
#define MAX_TTL_S 86400
#define DEFAULT_TIMEOUT_MS 10000
#define MAX_STRING 4096
#define DEFAULT_RECONNECT_ATTEMPTS 5
#define DEFAULT_RECONNECT_INITIAL_MS 200
#define DEFAULT_RECONNECT_MAX_MS 5000
#define DEFAULT_LIVENESS_MS 5000

void aks_config_default(aks_config *cfg) {
  if (!cfg) return;
  memset(cfg, 0, sizeof *cfg);
  cfg->token_ttl_s = DEFAULT_TTL_S;
  cfg->sample_rate = 16000;
  cfg->audio_format = AKS_AUDIO_PCM_S16LE;
  cfg->egress_type = AKS_EGRESS_NONE;
  cfg->connect_timeout_ms = DEFAULT_TIMEOUT_MS;
  cfg->threading = AKS_THREAD_INTERNAL;
  cfg->reconnect_max_attempts = DEFAULT_RECONNECT_ATTEMPTS;
  cfg->reconnect_initial_ms = DEFAULT_RECONNECT_INITIAL_MS;
  cfg->reconnect_max_ms = DEFAULT_RECONNECT_MAX_MS;
  cfg->liveness_timeout_ms = DEFAULT_LIVENESS_MS;
}

/* ---- config ------------------------------------------------------------------------------ */

static int own_string(aks_session *s, size_t *n_owned, const char **field) {
  if (!*field) return AKS_OK;
  size_t len = strnlen(*field, MAX_STRING + 1);
  if (len > MAX_STRING || *n_owned >= sizeof s->owned / sizeof s->owned[0])
    return AKS_INVALID_ARGUMENT;
  char *c = ak__malloc(len + 1);
  if (!c) return AKS_OUT_OF_MEMORY;
  memcpy(c, *field, len + 1);
  s->owned[(*n_owned)++] = c;
  *field = c;
  return AKS_OK;
}

static int nonempty(const char *s) {
  return s && s[0];
}

/* Checks cfg, applies defaults for zero values, parses the ingress URL. */
static int validate(aks_config *c, aks__url *ingress) {
  if (c->token_ttl_s == 0) c->token_ttl_s = DEFAULT_TTL_S;
  if (c->sample_rate == 0) c->sample_rate = 16000;
  if (c->connect_timeout_ms == 0) c->connect_timeout_ms = DEFAULT_TIMEOUT_MS;
  if (c->encode_ogg_opus) c->audio_format = AKS_AUDIO_OGG_OPUS;
  if (c->reconnect_max_attempts == 0) c->reconnect_max_attempts = DEFAULT_RECONNECT_ATTEMPTS;
  if (c->reconnect_initial_ms == 0) c->reconnect_initial_ms = DEFAULT_RECONNECT_INITIAL_MS;
  if (c->reconnect_max_ms == 0)
    c->reconnect_max_ms = c->reconnect_initial_ms > DEFAULT_RECONNECT_MAX_MS
                              ? c->reconnect_initial_ms
                              : DEFAULT_RECONNECT_MAX_MS;
  if (c->liveness_timeout_ms == 0) c->liveness_timeout_ms = DEFAULT_LIVENESS_MS;
  if (!nonempty(c->app_id) || !nonempty(c->avatar_id) || !nonempty(c->ingress_url))
    return AKS_INVALID_ARGUMENT;
  if (!nonempty(c->session_token) && (!nonempty(c->console_url) || !nonempty(c->api_key)))
    return AKS_INVALID_ARGUMENT;
  if (nonempty(c->console_url)) {
    aks__url u;
    if (aks__url_parse(c->console_url, &u) != AKS_OK) return AKS_INVALID_ARGUMENT;
  }
  if (aks__url_parse(c->ingress_url, ingress) != AKS_OK) return AKS_INVALID_ARGUMENT;
  if (c->session_token && strlen(c->session_token) >= AKS_TOKEN_MAX) return AKS_INVALID_ARGUMENT;
  if (c->token_ttl_s < 1 || c->token_ttl_s > MAX_TTL_S) return AKS_INVALID_ARGUMENT;
  if (!ak_sample_rate_valid(c->sample_rate)) return AKS_INVALID_ARGUMENT;
  if (c->audio_format != AKS_AUDIO_PCM_S16LE && c->audio_format != AKS_AUDIO_OGG_OPUS)
    return AKS_INVALID_ARGUMENT;
  if (c->bitrate < 0 || c->bitrate > 512000) return AKS_INVALID_ARGUMENT;
  if (c->egress_type < AKS_EGRESS_NONE || c->egress_type > AKS_EGRESS_AGORA)
    return AKS_INVALID_ARGUMENT;
  if (c->connect_timeout_ms < 1 || c->connect_timeout_ms > 600000) return AKS_INVALID_ARGUMENT;
  if (c->threading != AKS_THREAD_INTERNAL && c->threading != AKS_THREAD_EXTERNAL)
    return AKS_INVALID_ARGUMENT;
  if (c->reconnect != 0 && c->reconnect != 1) return AKS_INVALID_ARGUMENT;
  if (c->reconnect_max_attempts < 1 || c->reconnect_max_attempts > 1000)
    return AKS_INVALID_ARGUMENT;
  if (c->reconnect_initial_ms < 1 || c->reconnect_initial_ms > 60000) return AKS_INVALID_ARGUMENT;
  if (c->reconnect_max_ms < c->reconnect_initial_ms || c->reconnect_max_ms > 600000)
    return AKS_INVALID_ARGUMENT;
  if (c->liveness_timeout_ms != -1 &&
      (c->liveness_timeout_ms < 500 || c->liveness_timeout_ms > 600000))
    return AKS_INVALID_ARGUMENT;
  if (c->ca_file) { /* checked now: a typo would otherwise surface as a TLS failure */
    FILE *f = c->ca_file[0] ? fopen(c->ca_file, "r") : NULL;
    if (!f) return AKS_INVALID_ARGUMENT;
    fclose(f);
  }
  return AKS_OK;
}

static void session_release(aks_session *s) {
  if (!s) return;
  for (size_t i = 0; i < sizeof s->owned / sizeof s->owned[0]; i++) ak__free(s->owned[i]);
  aks__token_req_free(s->treq);
  aks__oggenc_free(s->ogg);
  aks__txq_free(s->txq_head);
  ak__free(s->cfg_msg);
  ak__free(s->rx);
  aks__scratch_free(&s->scratch);
  if (s->loop) { /* a probe still in flight stays with the loop, which joins it */
    pthread_mutex_lock(&s->loop->mu);
    aks__session_drop_probe_locked(s);
    pthread_mutex_unlock(&s->loop->mu);
  }
  pthread_mutex_destroy(&s->api_mu);
  ak__free(s);
}

static int session_create(aks_loop *loop, const aks_config *cfg, const aks_callbacks *cbs,
                          void *user, aks_session **out) {
  if (!cfg || !out) return AKS_INVALID_ARGUMENT;
  aks_session *s = ak__calloc(1, sizeof *s);
  if (!s) return AKS_OUT_OF_MEMORY;
  pthread_mutex_init(&s->api_mu, NULL);
  s->cfg = *cfg;
  s->cfg.threading = loop ? loop->threading : cfg->threading;
  if (cbs) s->cbs = *cbs;
  s->user = user;
  s->state = AKS__IDLE;
  s->notify = AKS__NOTIFY_ERRORS;
  s->rng = (uint64_t)(uintptr_t)s ^ ((uint64_t)time(NULL) << 20) ^ 0x9e3779b97f4a7c15ull;
  int rc = validate(&s->cfg, &s->ingress);
  size_t n = 0;
  const char **fields[] = {&s->cfg.api_key,
                           &s->cfg.app_id,
                           &s->cfg.avatar_id,
                           &s->cfg.console_url,
                           &s->cfg.ingress_url,
                           &s->cfg.session_token,
                           &s->cfg.livekit.url,
                           &s->cfg.livekit.api_token,
                           &s->cfg.livekit.api_key,
                           &s->cfg.livekit.api_secret,
                           &s->cfg.livekit.room_name,
                           &s->cfg.livekit.publisher_id,
                           &s->cfg.agora.channel_name,
                           &s->cfg.agora.token,
                           &s->cfg.agora.publisher_id,
                           &s->cfg.ca_file};
  for (size_t i = 0; rc == AKS_OK && i < sizeof fields / sizeof fields[0]; i++)
    rc = own_string(s, &n, fields[i]);
  if (rc == AKS_OK && nonempty(s->cfg.session_token)) {
    snprintf(s->token, sizeof s->token, "%s", s->cfg.session_token);
    s->state = AKS__HAS_TOKEN; /* initial state, not a transition */
  }
  if (rc != AKS_OK) {
    session_release(s);
    return rc;
  }
  *out = s;
  return AKS_OK;
}

static void loop_add(aks_loop *loop, aks_session *s) {
  s->loop = loop;
  s->next = loop->sessions;
  if (loop->sessions) loop->sessions->prev = s;
  loop->sessions = s;
  loop->n_sessions++;
}

int aks_session_new(const aks_config *cfg, const aks_callbacks *cbs, void *user,
                    aks_session **out) {
  aks_session *s = NULL;
  int rc = session_create(NULL, cfg, cbs, user, &s);
  if (rc != AKS_OK) return rc;
  aks_loop *loop = NULL;
  rc = aks__loop_create(s->cfg.threading, 1, s->ingress.tls, &loop);
  if (rc != AKS_OK) {
    session_release(s);
    return rc;
  }
  pthread_mutex_lock(&loop->mu);
  loop_add(loop, s);
  pthread_mutex_unlock(&loop->mu);
  s->own_loop = 1;
  *out = s;
  return AKS_OK;
}

int aks_session_new_on_loop(aks_loop *loop, const aks_config *cfg, const aks_callbacks *cbs,
                            void *user, aks_session **out) {
  if (!loop) return AKS_INVALID_ARGUMENT;
  aks_session *s = NULL;
  int rc = session_create(loop, cfg, cbs, user, &s);
  if (rc != AKS_OK) return rc;
  pthread_mutex_lock(&loop->mu);
  if (loop->n_sessions >= loop->max_sessions) {
    pthread_mutex_unlock(&loop->mu);
    session_release(s);
    return AKS_QUEUE_FULL;
  }
  loop_add(loop, s);
  pthread_mutex_unlock(&loop->mu);
  *out = s;
  return AKS_OK;
}

/* ---- errors reported by failing calls ------------------------------------------------------ */

static int call_error(aks_session *s, aks_error_code code, aks_phase phase, const char *msg,
                      int http_status) {
  pthread_mutex_lock(&s->loop->mu);
  aks__session_set_error_locked(s, code, phase, msg, NULL, http_status, 0);
  pthread_mutex_unlock(&s->loop->mu);
  return code;
}

int aks_session_last_error(aks_session *s, aks_error_info *out) {
  if (!s || !out) return AKS_INVALID_ARGUMENT;
  pthread_mutex_lock(&s->loop->mu);
  int have = s->err.code != AKS_OK;
  if (have) *out = s->err;
  pthread_mutex_unlock(&s->loop->mu);
  return have;
}

/* ---- init / start ------------------------------------------------------------------------- */

int aks_session_init(aks_session *s) {
  if (!s) return AKS_INVALID_ARGUMENT;
  aks_loop *loop = s->loop;
  pthread_mutex_lock(&loop->mu);
  aks__state st = s->state;
  pthread_mutex_unlock(&loop->mu);
  if (nonempty(s->cfg.session_token) && st == AKS__HAS_TOKEN) return AKS_OK;
  if (st != AKS__IDLE) return AKS_INVALID_STATE;
  if (s->cfg.threading == AKS_THREAD_INTERNAL) {
    aks__http_result *res = ak__malloc(sizeof *res);
    if (!res) return AKS_OUT_OF_MEMORY;
    aks__token_fetch(s->cfg.console_url, s->cfg.api_key, s->cfg.token_ttl_s,
                     s->cfg.connect_timeout_ms, s->cfg.ca_file, res);
    int rc = res->code;
    if (rc == AKS_OK) {
      snprintf(s->token, sizeof s->token, "%s", res->token);
      pthread_mutex_lock(&loop->mu);
      if (s->state == AKS__IDLE) /* else closed meanwhile */
        rc = aks__session_set_state_locked(s, AKS__HAS_TOKEN);
      else
        rc = AKS_INVALID_STATE;
      pthread_mutex_unlock(&loop->mu);
    } else {
      call_error(s, res->code, AKS_PHASE_SESSION_TOKEN, res->message, res->http_status);
    }
    ak__free(res);
    return rc;
  }
  aks__token_req *r = NULL;
  int rc = aks__token_req_new(s->cfg.console_url, s->cfg.api_key, s->cfg.token_ttl_s,
                              s->cfg.connect_timeout_ms, s->cfg.ca_file, &r);
  if (rc != AKS_OK) return call_error(s, rc, AKS_PHASE_SESSION_TOKEN, NULL, 0);
  pthread_mutex_lock(&loop->mu);
  if (s->state != AKS__IDLE) { /* another thread got here first, or closed */
    pthread_mutex_unlock(&loop->mu);
    aks__token_req_free(r);
    return AKS_INVALID_STATE;
  }
  s->treq = r;
  loop->n_token_reqs++;
  aks__session_set_state_locked(s, AKS__FETCHING_TOKEN);
  pthread_mutex_unlock(&loop->mu);
  return AKS_OK;
}

static int build_configure(aks_session *s) {
  ak_message m;
  memset(&m, 0, sizeof m);
  m.type = AK_MSG_CLIENT_CONFIGURE_SESSION;
  m.data = AK_DATA_CONFIGURE;
  ak_configure *c = &m.u.configure;
  c->sample_rate = s->cfg.sample_rate;
  c->bitrate = s->cfg.bitrate;
  c->audio_format =
      s->cfg.audio_format == AKS_AUDIO_OGG_OPUS ? AK_FORMAT_OGG_OPUS : AK_FORMAT_PCM_S16LE;
  c->egress_type = (int)s->cfg.egress_type;
  if (s->cfg.egress_type == AKS_EGRESS_LIVEKIT) {
    c->has_livekit = 1;
    c->livekit.url = s->cfg.livekit.url;
    c->livekit.api_key = s->cfg.livekit.api_key;
    c->livekit.api_secret = s->cfg.livekit.api_secret;
    c->livekit.room_name = s->cfg.livekit.room_name;
    c->livekit.publisher_id = s->cfg.livekit.publisher_id;
    c->livekit.api_token = s->cfg.livekit.api_token;
    c->livekit.idle_timeout = s->cfg.livekit.idle_timeout_s;
  } else if (s->cfg.egress_type == AKS_EGRESS_AGORA) {
    c->has_agora = 1;
    c->agora.channel_name = s->cfg.agora.channel_name;
    c->agora.token = s->cfg.agora.token;
    c->agora.publisher_id = s->cfg.agora.publisher_id;
    c->agora.uid = s->cfg.agora.uid;
  }
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = ak_message_pack(&m, &buf, &len);
  if (rc != AK_OK) return rc == AK_ENOMEM ? AKS_OUT_OF_MEMORY : AKS_INVALID_ARGUMENT;
  ak__free(s->cfg_msg);
  s->cfg_msg = ak__malloc(LWS_PRE + len);
  if (!s->cfg_msg) {
    ak__free(buf);
    return AKS_OUT_OF_MEMORY;
  }
  memcpy(s->cfg_msg + LWS_PRE, buf, len);
  s->cfg_len = len;
  ak__free(buf);
  return AKS_OK;
}

static int startable(const aks_session *s, aks__state st) {
  return st == AKS__HAS_TOKEN ||
         (st == AKS__FETCHING_TOKEN && s->cfg.threading == AKS_THREAD_EXTERNAL);
}

static void deadline_in(struct timespec *dl, long long ms) {
  clock_gettime(CLOCK_REALTIME, dl);
  dl->tv_sec += (time_t)(ms / 1000);
  dl->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (dl->tv_nsec >= 1000000000L) {
    dl->tv_sec++;
    dl->tv_nsec -= 1000000000L;
  }
}

int aks_session_start(aks_session *s, char *conn_id, size_t conn_id_cap) {
  if (!s) return AKS_INVALID_ARGUMENT;
  aks_loop *loop = s->loop;
  pthread_mutex_lock(&loop->mu);
  int ok = startable(s, s->state);
  pthread_mutex_unlock(&loop->mu);
  if (!ok) return AKS_INVALID_STATE;
  int rc = build_configure(s);
  if (rc != AKS_OK) return call_error(s, rc, AKS_PHASE_WEBSOCKET_CONNECT, NULL, 0);

  pthread_mutex_lock(&loop->mu);
  aks__state st = s->state;
  if (!startable(s, st)) { /* changed since the check above */
    pthread_mutex_unlock(&loop->mu);
    return AKS_INVALID_STATE;
  }
  s->notify = AKS__NOTIFY_ALL; /* lowered below when a blocking start fails */
  aks__session_set_state_locked(s, AKS__CONNECTING);
  if (st == AKS__FETCHING_TOKEN) { /* connects when the token arrives */
    pthread_mutex_unlock(&loop->mu);
    return AKS_OK;
  }
  s->work |= AKS__WORK_CONNECT;
  aks__loop_kick_locked(s);
  if (s->cfg.threading == AKS_THREAD_EXTERNAL) {
    pthread_mutex_unlock(&loop->mu);
    return AKS_OK;
  }
  /* The network thread enforces connect_timeout_ms (and the probe its own bound); the extra
   * margin only guards against a wedged thread. */
  struct timespec dl;
  deadline_in(&dl, s->cfg.connect_timeout_ms + 3000LL + AKS_PROBE_TIMEOUT_MS);
  int timed_out = 0;
  while (s->state != AKS__OPEN && s->state != AKS__FAILED && s->state != AKS__CLOSED && !timed_out)
    timed_out = pthread_cond_timedwait(&loop->cv, &loop->mu, &dl) != 0;
  if (s->state == AKS__OPEN) {
    if (conn_id && conn_id_cap) snprintf(conn_id, conn_id_cap, "%s", s->conn_id);
    pthread_mutex_unlock(&loop->mu);
    return AKS_OK;
  }
  if (s->state != AKS__FAILED && s->state != AKS__CLOSED) {
    s->notify = AKS__NOTIFY_NONE; /* this call reports the timeout itself */
    aks__session_set_error_locked(s, AKS_TIMEOUT, AKS_PHASE_WEBSOCKET_CONNECT,
                                  "network thread did not answer in time", NULL, 0, 0);
    aks__session_set_state_locked(s, AKS__FAILED);
    s->work |= AKS__WORK_CLOSE;
    aks__loop_kick_locked(s);
    pthread_mutex_unlock(&loop->mu);
    return AKS_TIMEOUT;
  }
  if (s->notify == AKS__NOTIFY_ALL) s->notify = AKS__NOTIFY_ERRORS; /* start failed */
  int code = s->err.code != AKS_OK ? (int)s->err.code : AKS_UNKNOWN;
  pthread_mutex_unlock(&loop->mu);
  return code;
}

/* ---- audio and interrupt ------------------------------------------------------------------- */

/* Queues one packed message (takes buf). Call with loop->mu held. */
static int enqueue_locked(aks_session *s, uint8_t *buf, size_t len) {
  if (s->txq_bytes + len > AKS_TXQ_MAX_BYTES || s->txq_count >= AKS_TXQ_MAX_MSGS) {
    ak__free(buf);
    return AKS_QUEUE_FULL;
  }
  aks__txmsg *m = ak__malloc(sizeof *m + LWS_PRE + len);
  if (!m) {
    ak__free(buf);
    return AKS_OUT_OF_MEMORY;
  }
  m->next = NULL;
  m->len = len;
  memcpy(m->buf + LWS_PRE, buf, len);
  ak__free(buf);
  if (s->txq_tail)
    s->txq_tail->next = m;
  else
    s->txq_head = m;
  s->txq_tail = m;
  s->txq_bytes += len;
  s->txq_count++;
  return AKS_OK;
}

/* Usable for sending: started and not over (while reconnecting, audio waits in the queue for
 * the next connection). */
static int sendable_locked(const aks_session *s) {
  return s->state == AKS__CONNECTING || s->state == AKS__CONFIGURING || s->state == AKS__OPEN ||
         s->state == AKS__RECONNECTING;
}

/* Packs audio slices [audio, audio+len) of request req (the last one carrying end) and
 * queues them all or none. epoch: the connection epoch the request belongs to (a request
 * cut by a lost connection is refused with AKS_REQUEST_ABORTED, never continued). */
static int queue_audio(aks_session *s, const char *req, const uint8_t *audio, size_t len, int end,
                       unsigned epoch) {
  size_t n_slices = len ? (len + AKS_MAX_CHUNK_BYTES - 1) / AKS_MAX_CHUNK_BYTES : 1;
  aks_loop *loop = s->loop;
  uint8_t **bufs = ak__calloc(n_slices, sizeof *bufs);
  size_t *lens = ak__calloc(n_slices, sizeof *lens);
  int rc = bufs && lens ? AKS_OK : AKS_OUT_OF_MEMORY;
  for (size_t i = 0; rc == AKS_OK && i < n_slices; i++) {
    ak_message m;
    memset(&m, 0, sizeof m);
    m.type = AK_MSG_CLIENT_AUDIO_INPUT;
    m.data = AK_DATA_AUDIO_INPUT;
    size_t off = i * AKS_MAX_CHUNK_BYTES;
    size_t n = len - off < AKS_MAX_CHUNK_BYTES ? len - off : AKS_MAX_CHUNK_BYTES;
    m.u.audio_input.req_id = req;
    m.u.audio_input.end = end && i + 1 == n_slices;
    m.u.audio_input.audio = len ? audio + off : NULL;
    m.u.audio_input.audio_len = len ? n : 0;
    int prc = ak_message_pack(&m, &bufs[i], &lens[i]);
    if (prc != AK_OK) rc = prc == AK_ENOMEM ? AKS_OUT_OF_MEMORY : AKS_INVALID_ARGUMENT;
  }
  if (rc == AKS_OK) {
    pthread_mutex_lock(&loop->mu);
    size_t total = 0;
    for (size_t i = 0; i < n_slices; i++) total += lens[i];
    if (!sendable_locked(s)) {
      rc = AKS_INVALID_STATE;
    } else if (epoch != s->epoch) {
      rc = AKS_REQUEST_ABORTED;
    } else if (s->txq_bytes + total > AKS_TXQ_MAX_BYTES ||
               s->txq_count + n_slices > AKS_TXQ_MAX_MSGS) {
      rc = AKS_QUEUE_FULL;
    } else if (aks__inflight_add_locked(s, req) != AKS_OK) {
      rc = AKS_QUEUE_FULL; /* AKS_MAX_INFLIGHT requests unanswered */
    } else {
      for (size_t i = 0; i < n_slices; i++) {
        int qrc = enqueue_locked(s, bufs[i], lens[i]);
        bufs[i] = NULL;
        if (qrc != AKS_OK && rc == AKS_OK) rc = qrc;
      }
      s->work |= AKS__WORK_WRITE;
      aks__loop_kick_locked(s);
    }
    pthread_mutex_unlock(&loop->mu);
  }
  if (bufs)
    for (size_t i = 0; i < n_slices; i++) ak__free(bufs[i]);
  ak__free(bufs);
  ak__free(lens);
  return rc;
}

int aks_session_send_audio(aks_session *s, const void *audio, size_t len, int end, char *req_id,
                           size_t req_id_cap) {
  if (!s || (len && !audio)) return AKS_INVALID_ARGUMENT;
  int encode = s->cfg.encode_ogg_opus;
  if ((encode || s->cfg.audio_format == AKS_AUDIO_PCM_S16LE) && (len & 1))
    return AKS_INVALID_ARGUMENT; /* PCM s16le: whole samples only */
  if (len > 64u * 1024u * 1024u) return AKS_INVALID_ARGUMENT;
  pthread_mutex_lock(&s->loop->mu);
  int ok = sendable_locked(s);
  unsigned epoch = s->epoch;
  pthread_mutex_unlock(&s->loop->mu);
  if (!ok) return AKS_INVALID_STATE;

  pthread_mutex_lock(&s->api_mu);
  if (s->cur_req[0] && s->cur_epoch != epoch) {
    /* The connection that carried this request was lost: it was reported cut (on_error
     * AKS_REQUEST_ABORTED) and is never continued; the next call starts a new one. */
    s->cur_req[0] = '\0';
    aks__oggenc_free(s->ogg);
    s->ogg = NULL;
    pthread_mutex_unlock(&s->api_mu);
    return AKS_REQUEST_ABORTED;
  }
  int fresh = !s->cur_req[0];
  if (fresh) s->cur_epoch = epoch;
  char req[AK_ID_LEN + 1];
  int rc = AKS_OK;
  if (fresh) {
    if (ak_id_new(req, sizeof req, 0) != AK_OK) rc = AKS_UNKNOWN;
  } else {
    memcpy(req, s->cur_req, sizeof req);
  }
  const uint8_t *wire = audio;
  size_t wire_len = len;
  uint8_t *ogg = NULL;
  if (rc == AKS_OK && encode) {
    if (!s->ogg) rc = aks__oggenc_new(s->cfg.sample_rate, s->cfg.bitrate, &s->ogg);
    if (rc == AKS_OK) rc = aks__oggenc_write(s->ogg, audio, len / 2, end);
    if (rc == AKS_OK) rc = aks__oggenc_take(s->ogg, &ogg, &wire_len);
    wire = ogg;
    if (rc == AKS_OK && wire_len == 0 && !end) {
      /* No complete Ogg page yet: nothing to send now, the request still starts here. */
      memcpy(s->cur_req, req, sizeof req);
      if (req_id && req_id_cap) snprintf(req_id, req_id_cap, "%s", req);
      pthread_mutex_unlock(&s->api_mu);
      return AKS_OK;
    }
  }
  if (rc == AKS_OK) rc = queue_audio(s, req, wire, wire_len, end, s->cur_epoch);
  ak__free(ogg);
  if (rc == AKS_OK) {
    if (end) {
      memcpy(s->last_req, req, sizeof req);
      s->cur_req[0] = '\0';
      aks__oggenc_free(s->ogg);
      s->ogg = NULL;
    } else {
      memcpy(s->cur_req, req, sizeof req);
      memcpy(s->last_req, req, sizeof req);
    }
    if (req_id && req_id_cap) snprintf(req_id, req_id_cap, "%s", req);
  } else if (encode && fresh) {
    aks__oggenc_free(s->ogg); /* the request never started: drop its encoder */
    s->ogg = NULL;
  }
  pthread_mutex_unlock(&s->api_mu);
  return rc;
}

int aks_session_interrupt(aks_session *s, char *req_id, size_t req_id_cap) {
  if (!s) return AKS_INVALID_ARGUMENT;
  pthread_mutex_lock(&s->api_mu);
  if (!s->last_req[0]) {
    pthread_mutex_unlock(&s->api_mu);
    return AKS_INVALID_STATE;
  }
  char req[AK_ID_LEN + 1];
  memcpy(req, s->last_req, sizeof req);
  ak_message m;
  memset(&m, 0, sizeof m);
  m.type = AK_MSG_CLIENT_INTERRUPT;
  m.data = AK_DATA_INTERRUPT;
  m.u.interrupt_req_id = req;
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = ak_message_pack(&m, &buf, &len);
  if (rc != AK_OK) {
    pthread_mutex_unlock(&s->api_mu);
    return rc == AK_ENOMEM ? AKS_OUT_OF_MEMORY : AKS_UNKNOWN;
  }
  aks_loop *loop = s->loop;
  pthread_mutex_lock(&loop->mu);
  if (!sendable_locked(s)) {
    ak__free(buf);
    rc = AKS_INVALID_STATE;
  } else {
    rc = enqueue_locked(s, buf, len);
    if (rc == AKS_OK) {
      aks__inflight_remove_locked(s, req); /* interrupted: no answer and no error owed */
      s->work |= AKS__WORK_WRITE;
      aks__loop_kick_locked(s);
    }
  }
  pthread_mutex_unlock(&loop->mu);
  if (rc == AKS_OK) {
    s->cur_req[0] = '\0'; /* the next audio starts a new request */
    aks__oggenc_free(s->ogg);
    s->ogg = NULL;
    if (req_id && req_id_cap) snprintf(req_id, req_id_cap, "%s", req);
  }
  pthread_mutex_unlock(&s->api_mu);
  return rc;
}

/* ---- service / close / free ---------------------------------------------------------------- */

int aks_session_service(aks_session *s, int timeout_ms) {
  if (!s) return AKS_INVALID_ARGUMENT;
  if (s->cfg.threading != AKS_THREAD_EXTERNAL) return AKS_INVALID_STATE;
  pthread_mutex_lock(&s->loop->mu);
  int closed = s->state == AKS__CLOSED;
  pthread_mutex_unlock(&s->loop->mu);
  if (!closed) {
    aks__loop_service_once(s->loop, timeout_ms);
    pthread_mutex_lock(&s->loop->mu);
    closed = s->state == AKS__CLOSED;
    pthread_mutex_unlock(&s->loop->mu);
  }
  return closed ? AKS_CONNECTION_CLOSED : 0;
}

int aks_loop_service(aks_loop *loop, int timeout_ms) {
  if (!loop) return AKS_INVALID_ARGUMENT;
  if (loop->threading != AKS_THREAD_EXTERNAL) return AKS_INVALID_STATE;
  aks__loop_service_once(loop, timeout_ms);
  int alive = 0;
  pthread_mutex_lock(&loop->mu);
  for (aks_session *s = loop->sessions; s; s = s->next)
    if (s->state != AKS__CLOSED) alive++;
  pthread_mutex_unlock(&loop->mu);
  return alive;
}

int aks_session_close(aks_session *s) {
  if (!s) return AKS_INVALID_ARGUMENT;
  aks_loop *loop = s->loop;
  pthread_mutex_lock(&loop->mu);
  if (s->state == AKS__CLOSED) {
    pthread_mutex_unlock(&loop->mu);
    return AKS_OK;
  }
  if (s->state != AKS__CLOSING && s->state != AKS__FAILED)
    aks__session_set_state_locked(s, AKS__CLOSING);
  s->work |= AKS__WORK_CLOSE;
  aks__loop_kick_locked(s);
  /* EXTERNAL, or called from a callback on the network thread: the close completes later
   * (on_close), waiting here would block the thread that does it. */
  if (s->cfg.threading == AKS_THREAD_EXTERNAL ||
      (loop->thread_started && pthread_equal(pthread_self(), loop->thread))) {
    pthread_mutex_unlock(&loop->mu);
    return AKS_OK;
  }
  struct timespec dl;
  deadline_in(&dl, s->cfg.connect_timeout_ms);
  int timed_out = 0;
  while (s->state != AKS__CLOSED && !timed_out)
    timed_out = pthread_cond_timedwait(&loop->cv, &loop->mu, &dl) != 0;
  int closed = s->state == AKS__CLOSED;
  pthread_mutex_unlock(&loop->mu);
  return closed ? AKS_OK : AKS_TIMEOUT;
}

void aks_session_free(aks_session *s) {
  if (!s) return;
  aks_loop *loop = s->loop;
  int external = s->cfg.threading == AKS_THREAD_EXTERNAL;
  aks_session_close(s);
  /* A token provider call in progress finishes before free returns (its user pointer may go
   * away right after); it is bounded by the provider itself. Looked up by owner: closing has
   * already let go of the probe. */
  pthread_mutex_lock(&loop->mu);
  for (;;) {
    int running = 0;
    for (aks__probe *p = loop->probes; p; p = p->next)
      running |= p->owner == s && p->kind == AKS__PROBE_TOKEN && !p->done;
    if (!running) break;
    struct timespec dl;
    deadline_in(&dl, 200);
    pthread_cond_timedwait(&loop->cv, &loop->mu, &dl);
  }
  pthread_mutex_unlock(&loop->mu);
  if (external) {
    /* Pump until the close completes, bounded by connect_timeout_ms. */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
      pthread_mutex_lock(&loop->mu);
      int closed = s->state == AKS__CLOSED;
      pthread_mutex_unlock(&loop->mu);
      if (closed) break;
      clock_gettime(CLOCK_MONOTONIC, &t);
      long long el = (t.tv_sec - t0.tv_sec) * 1000LL + (t.tv_nsec - t0.tv_nsec) / 1000000;
      if (el > s->cfg.connect_timeout_ms) break;
      aks__loop_service_once(loop, 20);
    }
  }
  pthread_mutex_lock(&loop->mu);
  s->notify = AKS__NOTIFY_NONE;
  pthread_mutex_unlock(&loop->mu);
  if (s->own_loop) {
    aks__loop_destroy(loop); /* stops the thread; the context takes the wsi down quietly */
    s->loop = NULL;          /* gone, with any probe it held */
    session_release(s);
    return;
  }
  /* Shared loop: the network thread drops the wsi and unlinks nothing else; wait for it. */
  pthread_mutex_lock(&loop->mu);
  s->work |= AKS__WORK_DETACH;
  aks__loop_kick_locked(s);
  if (external) {
    pthread_mutex_unlock(&loop->mu);
    aks__loop_run_pending(loop);
    pthread_mutex_lock(&loop->mu);
  }
  while (!s->detached) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 1;
    pthread_cond_timedwait(&loop->cv, &loop->mu, &dl);
    if (!s->detached) lws_cancel_service(loop->ctx);
  }
  /* unlink */
  if (s->prev)
    s->prev->next = s->next;
  else
    loop->sessions = s->next;
  if (s->next) s->next->prev = s->prev;
  loop->n_sessions--;
  if (s->treq) loop->n_token_reqs--;
  if (s->in_pending) { /* still listed for work: take it out */
    aks_session **pp = &loop->pending;
    while (*pp && *pp != s) pp = &(*pp)->pnext;
    if (*pp) *pp = s->pnext;
  }
  pthread_mutex_unlock(&loop->mu);
  session_release(s);
}

const char *aks_session_connection_id(const aks_session *s) {
  if (!s) return NULL;
  aks_session *m = (aks_session *)s; /* the lock only; conn_id is written once */
  pthread_mutex_lock(&m->loop->mu);
  int set = s->conn_id[0] != '\0';
  pthread_mutex_unlock(&m->loop->mu);
  return set ? s->conn_id : NULL;
}

int aks_loop_new(aks_threading threading, int max_sessions, aks_loop **out) {
  if (!out || max_sessions < 1 || max_sessions > 65536 ||
      (threading != AKS_THREAD_INTERNAL && threading != AKS_THREAD_EXTERNAL))
    return AKS_INVALID_ARGUMENT;
  return aks__loop_create(threading, max_sessions, 1, out);
}

int aks_loop_free(aks_loop *loop) {
  if (!loop) return AKS_OK;
  pthread_mutex_lock(&loop->mu);
  int n = loop->n_sessions;
  pthread_mutex_unlock(&loop->mu);
  if (n) return AKS_INVALID_STATE;
  aks__loop_destroy(loop);
  return AKS_OK;
}

aks__txmsg *aks__txq_take_locked(aks_session *s) {
  aks__txmsg *q = s->txq_head;
  s->txq_head = s->txq_tail = NULL;
  s->txq_bytes = s->txq_count = 0;
  return q;
}

void aks__txq_free(aks__txmsg *q) {
  while (q) {
    aks__txmsg *n = q->next;
    ak__free(q);
    q = n;
  }
}
