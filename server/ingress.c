/* The driven-ingress WebSocket: sessions over lws (receive reassembly, the bounded output
 * queue, close), the configure/confirm handshake and each request's life cycle. The media
 * pipeline of a request is the stream library (include/avatarkit/stream.h); its messages are
 * packed straight into the send buffer. Upgrade auth is auth.c's. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

#include "avatarkit/protocol.h"
#include "avatarkit/stream.h"
#include "conn.h"
#include "server.h"

enum { ST_AWAIT_CONFIG = 0, ST_ACTIVE, ST_CLOSING };

typedef struct txmsg {
  struct txmsg *next;
  char req_id[64];
  size_t len;
  unsigned char data[]; /* LWS_PRE headroom + payload, packed in place */
} txmsg;

struct ak_session {
  ak_session *prev, *next;
  ak_server *srv;
  struct lws *wsi;
  char conn_id[AK_ID_LEN + 1];
  char app_id[AK_MAX_STR];
  char avatar_id[AK_MAX_STR];
  int64_t token_exp;
  int state;
  int64_t last_activity_us;
  /* rx reassembly */
  uint8_t *rx;
  size_t rx_len, rx_cap;
  /* configuration */
  int in_rate, format;
  ak_stream *stream; /* the media pipeline, created by the configure message */
  /* current request */
  char req_id[AK_STREAM_MAX_REQ_ID + 1];
  int req_open;
  char last_req_id[AK_STREAM_MAX_REQ_ID + 1];
  int last_interrupted;
  uint64_t samples_counted; /* 16 kHz samples of this request already in the metrics */
  /* tx */
  txmsg *q_head, *q_tail;
  size_t q_bytes;
  int close_code;
  char close_reason[96];
};

/* ---- output queue ---------------------------------------------------------------------- */

/* Packs m straight into a new queue entry behind LWS_PRE headroom (one allocation, no copy).
 * AK_ETOOBIG when the client is not reading fast enough (queue over AK_MAX_TX_QUEUE). */
/* Sizes the queued message once the packed length is known: bound check, one allocation
 * with LWS_PRE headroom; the message is packed straight into it. */
typedef struct tx_dest {
  ak_session *ss;
  txmsg *t;
} tx_dest;

static int tx_alloc(void *user, size_t len, uint8_t **buf) {
  tx_dest *d = user;
  if (d->ss->q_bytes + len > AK_MAX_TX_QUEUE) {
    d->ss->srv->m.slow_client_drops++;
    return AK_ETOOBIG;
  }
  d->t = malloc(sizeof *d->t + LWS_PRE + len);
  if (!d->t) return AK_ENOMEM;
  *buf = d->t->data + LWS_PRE;
  return AK_OK;
}

static int enqueue(ak_session *ss, const ak_message *m, const char *req_id) {
  tx_dest d = {ss, NULL};
  size_t len = 0;
  int rc = ak_message_pack_to(m, tx_alloc, &d, &len);
  if (rc != AK_OK) {
    free(d.t);
    return rc;
  }
  txmsg *t = d.t;
  t->len = len;
  t->next = NULL;
  snprintf(t->req_id, sizeof t->req_id, "%s", req_id ? req_id : "");
  if (ss->q_tail)
    ss->q_tail->next = t;
  else
    ss->q_head = t;
  ss->q_tail = t;
  ss->q_bytes += t->len;
  if (ss->wsi) lws_callback_on_writable(ss->wsi);
  return AK_OK;
}

static void drop_queued(ak_session *ss, const char *req_id) {
  txmsg **pp = &ss->q_head, *last = NULL;
  while (*pp) {
    txmsg *t = *pp;
    if (!req_id || strcmp(t->req_id, req_id) == 0) {
      *pp = t->next;
      ss->q_bytes -= t->len;
      free(t);
    } else {
      last = t;
      pp = &t->next;
    }
  }
  ss->q_tail = last;
}

/* Queues SERVER_ERROR; with close_code != 0 the connection closes once the queue drains. */
static void send_error(ak_session *ss, int code, const char *req_id, int close_code,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void send_error(ak_session *ss, int code, const char *req_id, int close_code,
                       const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ak__log(ss->srv, close_code ? AK_LOG_WARN : AK_LOG_INFO, ss->conn_id, req_id,
          "server error %d: %s", code, msg);
  ak_message m = {
      .type = AK_MSG_SERVER_ERROR,
      .data = AK_DATA_ERROR,
      .u.error = {.connection_id = ss->conn_id, .req_id = req_id, .code = code, .message = msg}};
  if (close_code) {
    drop_queued(ss, NULL); /* the error goes out first: nothing else will follow */
    ss->state = ST_CLOSING;
    ss->close_code = close_code;
    snprintf(ss->close_reason, sizeof ss->close_reason, "%.90s", msg);
  }
  if (enqueue(ss, &m, req_id) != AK_OK && close_code && ss->wsi) lws_callback_on_writable(ss->wsi);
}

static void close_with(ak_session *ss, int close_code, const char *reason) {
  ss->state = ST_CLOSING;
  ss->close_code = close_code;
  snprintf(ss->close_reason, sizeof ss->close_reason, "%s", reason);
  if (ss->wsi) lws_callback_on_writable(ss->wsi);
}

/* ---- pipeline failures ----------------------------------------------------------------- */

/* What a client hears when its request's pipeline fails, and how the session ends: the one
 * mapping from a pipeline status (where it failed: ak_stream_failure()'s kind, or the setup
 * of the stream; and the code the call returned) to ServerError.code, message and WebSocket
 * close code. The first matching row wins; status 0 matches any code, FAIL_ANY any kind.
 * Phrases and codes are the ones clients have always seen:
 *   bad Ogg input             -> INVALID_ARGUMENT,   "invalid audio: ...",          1007
 *   emit refused (queue full) -> RESOURCE_EXHAUSTED, "client is not reading: ...",  1008
 *   anything else             -> INTERNAL,           "internal error: <strerror>",  1011
 * AK_ETOOBIG keeps its meaning: from the input it is "too long", from the emit callback (the
 * send queue) "client is not reading", wherever in the pipeline the emit ran. */
enum { FAIL_SETUP = -1, FAIL_ANY = -2 };
enum { DETAIL_NONE = 0, DETAIL_STRERROR, DETAIL_QUEUE };
static const struct pipeline_error {
  int kind;   /* ak_stream_failure_kind, FAIL_SETUP or FAIL_ANY */
  int status; /* ak_err, 0 = any */
  int grpc;   /* ServerError.code */
  ak_close_code close;
  const char *phrase;
  int detail; /* what follows the phrase */
} k_pipeline_errors[] = {
    {AK_STREAM_FAIL_INPUT, AK_EFORMAT, AK_GRPC_INVALID_ARGUMENT, AK_CLOSE_INVALID_PAYLOAD,
     "invalid audio: Ogg Opus stream not recognized (need Ogg with an Opus mono/stereo stream)",
     DETAIL_NONE},
    {AK_STREAM_FAIL_INPUT, AK_ETOOBIG, AK_GRPC_INVALID_ARGUMENT, AK_CLOSE_INVALID_PAYLOAD,
     "invalid audio: Ogg Opus stream too long", DETAIL_NONE},
    {AK_STREAM_FAIL_INPUT, 0, AK_GRPC_INVALID_ARGUMENT, AK_CLOSE_INVALID_PAYLOAD,
     "invalid audio: Ogg Opus stream corrupt", DETAIL_NONE},
    {AK_STREAM_FAIL_EMIT, AK_ETOOBIG, AK_GRPC_RESOURCE_EXHAUSTED, AK_CLOSE_POLICY,
     "client is not reading: output queue over ", DETAIL_QUEUE},
    {FAIL_SETUP, 0, AK_GRPC_INTERNAL, AK_CLOSE_INTERNAL,
     "internal error: pipeline setup failed: ", DETAIL_STRERROR},
    {FAIL_ANY, 0, AK_GRPC_INTERNAL, AK_CLOSE_INTERNAL, "internal error: ", DETAIL_STRERROR},
};

/* Sends the error for a pipeline failure (rc < 0) and closes the session. */
static void pipeline_failed(ak_session *ss, int kind, int rc, const char *req_id) {
  const struct pipeline_error *e = k_pipeline_errors;
  while (!(e->kind == FAIL_ANY || (e->kind == kind && (e->status == 0 || e->status == rc)))) e++;
  if (e->detail == DETAIL_QUEUE)
    send_error(ss, e->grpc, req_id, e->close, "%s%u bytes", e->phrase, AK_MAX_TX_QUEUE);
  else if (e->detail == DETAIL_STRERROR)
    send_error(ss, e->grpc, req_id, e->close, "%s%s", e->phrase, ak_strerror(rc));
  else
    send_error(ss, e->grpc, req_id, e->close, "%s", e->phrase);
}

/* ---- requests -------------------------------------------------------------------------- */

/* The stream's emit callback: each message goes into the send queue as it is made. */
static int on_emit(void *user, const ak_stream_output *out) {
  ak_session *ss = user;
  int rc = enqueue(ss, out->message, ss->req_id);
  if (rc != AK_OK) return rc;
  const ak_animation *a = &out->message->u.animation;
  ss->srv->m.frames_total += out->n_frames;
  if (a->has_audio) ss->srv->m.packets_total += a->audio.n_packets;
  return AK_OK;
}

/* Adds the 16 kHz samples the stream consumed since the last call to the metrics. */
static void count_samples(ak_session *ss) {
  ak_stream_counters c;
  ak_stream_get_counters(ss->stream, &c);
  ss->srv->m.audio_samples_16k += c.samples_16k - ss->samples_counted;
  ss->samples_counted = c.samples_16k;
}

static int start_request(ak_session *ss, const char *req_id) {
  int rc = ak_stream_begin(ss->stream, req_id);
  if (rc != AK_OK) return rc;
  snprintf(ss->req_id, sizeof ss->req_id, "%s", req_id);
  snprintf(ss->last_req_id, sizeof ss->last_req_id, "%s", req_id);
  ss->last_interrupted = 0;
  ss->req_open = 1;
  ss->samples_counted = 0;
  ss->srv->m.requests_total++;
  ak__log(ss->srv, AK_LOG_DEBUG, ss->conn_id, req_id, "request started");
  return AK_OK;
}

/* Ends the open request with its last bytes (may be none). */
static int finish_request(ak_session *ss, const uint8_t *audio, size_t len) {
  int rc = ak_stream_finish(ss->stream, audio, len);
  count_samples(ss);
  ak_stream_counters c;
  ak_stream_get_counters(ss->stream, &c);
  ak__log(ss->srv, AK_LOG_DEBUG, ss->conn_id, ss->req_id,
          "request done: %.3f s audio, %u frames, %llu packets", (double)c.samples_16k / 16000.0,
          c.frames_sent, (unsigned long long)c.packets_sent);
  ss->req_open = 0;
  return rc;
}

static void handle_audio(ak_session *ss, const ak_audio_input *in) {
  const char *req_id = in->req_id;
  char gen[AK_ID_LEN + 1];
  if (!req_id[0]) { /* lenient: a client that sends no id continues or opens a request */
    if (ss->req_open)
      req_id = ss->req_id;
    else if (ak_id_new(gen, sizeof gen, 0) == AK_OK)
      req_id = gen;
  }
  if (strlen(req_id) >= sizeof ss->req_id) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_POLICY,
               "invalid req_id: longer than %zu", sizeof ss->req_id - 1);
    return;
  }
  /* Audio of an interrupted request is dropped until its end. */
  if (!ss->req_open && ss->last_interrupted && strcmp(req_id, ss->last_req_id) == 0) return;
  ss->last_activity_us = ak__now_us();
  int rc = AK_OK;
  if (ss->req_open && strcmp(req_id, ss->req_id) != 0)
    rc = finish_request(ss, NULL, 0); /* implicit end */
  if (rc == AK_OK && !ss->req_open) rc = start_request(ss, req_id);
  if (rc == AK_OK) {
    if (in->end) {
      rc = finish_request(ss, in->audio, in->audio_len);
    } else {
      rc = ak_stream_push(ss->stream, in->audio, in->audio_len);
      count_samples(ss);
    }
  }
  if (rc != AK_OK) pipeline_failed(ss, (int)ak_stream_failure(ss->stream), rc, req_id);
}

static void handle_interrupt(ak_session *ss, const char *req_id) {
  ss->last_activity_us = ak__now_us();
  if (!req_id[0] && ss->req_open) req_id = ss->req_id;
  if (!req_id[0] || strcmp(req_id, ss->last_req_id) != 0) {
    ak__log(ss->srv, AK_LOG_DEBUG, ss->conn_id, req_id, "interrupt for unknown request ignored");
    return;
  }
  drop_queued(ss, req_id);
  ak_stream_abort(ss->stream);
  ss->req_open = 0;
  ss->last_interrupted = 1;
  ss->srv->m.requests_interrupted++;
  ak__log(ss->srv, AK_LOG_INFO, ss->conn_id, req_id, "request interrupted");
}

/* ---- handshake ------------------------------------------------------------------------- */

static const char *egress_problem(const ak_configure *c) {
  if (c->egress_type == AK_EGRESS_UNSPECIFIED)
    return (c->has_livekit || c->has_agora) ? "egress config given without egress_type" : NULL;
  if (c->egress_type == AK_EGRESS_LIVEKIT) {
    if (c->has_agora) return "agora_egress given with egress_type LIVEKIT";
    if (!c->has_livekit) return "egress_type LIVEKIT needs livekit_egress";
    const ak_livekit_egress *l = &c->livekit;
    if (!l->url[0] || !l->room_name[0]) return "livekit_egress needs url and room_name";
    if (!l->api_token[0] && !(l->api_key[0] && l->api_secret[0]))
      return "livekit_egress needs api_token (or api_key and api_secret)";
    return NULL;
  }
  if (c->egress_type == AK_EGRESS_AGORA) {
    if (c->has_livekit) return "livekit_egress given with egress_type AGORA";
    if (!c->has_agora) return "egress_type AGORA needs agora_egress";
    if (!c->agora.channel_name[0]) return "agora_egress needs channel_name";
    return NULL;
  }
  return "unknown egress_type";
}

static int setup_pipeline(ak_session *ss, int opus_bitrate) {
  ak_server *s = ss->srv;
  ak_stream_config sc;
  ak_stream_config_default(&sc);
  sc.format = ss->format;
  sc.sample_rate = ss->in_rate;
  sc.fps = s->cfg.fps;
  sc.lookahead_ms = s->cfg.lookahead_ms;
  sc.expressiveness = s->cfg.expressiveness;
  uint64_t seed = 1469598103934665603ull; /* FNV-1a of the connection id: varied, replayable */
  for (const char *p = ss->conn_id; *p; p++) seed = (seed ^ (uint8_t)*p) * 1099511628211ull;
  sc.seed = seed;
  sc.opus_bitrate = opus_bitrate;
  sc.opus_complexity = s->cfg.opus_complexity;
  sc.connection_id = ss->conn_id;
  sc.emit = on_emit;
  sc.user = ss;
  return ak_stream_new(&sc, s->model, &ss->stream);
}

static void handle_configure(ak_session *ss, const ak_message *m) {
  const ak_configure *c = &m->u.configure;
  if (!ak_sample_rate_valid(c->sample_rate)) {
    send_error(ss, AK_GRPC_UNIMPLEMENTED, NULL, AK_CLOSE_POLICY,
               "unsupported sample rate: %d (accepted: 8000, 16000, 22050, 24000, 32000, "
               "44100, 48000)",
               c->sample_rate);
    return;
  }
  if (c->audio_format != AK_FORMAT_PCM_S16LE && c->audio_format != AK_FORMAT_OGG_OPUS) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_POLICY, "unsupported audio format: %d",
               c->audio_format);
    return;
  }
  if (c->transport_compression != 0) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_POLICY,
               "unsupported transport compression: %d", c->transport_compression);
    return;
  }
  const char *eg = egress_problem(c);
  if (eg) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_POLICY, "invalid egress config: %s",
               eg);
    return;
  }
  if (c->egress_type != AK_EGRESS_UNSPECIFIED) {
    send_error(ss, AK_GRPC_UNAVAILABLE, NULL, AK_CLOSE_INTERNAL,
               "egress client is not configured on server (%s egress requested)",
               c->egress_type == AK_EGRESS_LIVEKIT ? "LiveKit" : "Agora");
    return;
  }
  ss->in_rate = c->sample_rate;
  ss->format = c->audio_format;
  int opus_bitrate = ss->srv->cfg.opus_bitrate;
  if (c->bitrate >= 6000 && c->bitrate <= 128000) opus_bitrate = c->bitrate;
  int rc = setup_pipeline(ss, opus_bitrate);
  if (rc != AK_OK) {
    pipeline_failed(ss, FAIL_SETUP, rc, NULL);
    return;
  }
  ss->state = ST_ACTIVE;
  ak_message r = {.type = AK_MSG_SERVER_CONFIRM_SESSION,
                  .data = AK_DATA_CONFIRM,
                  .u.confirm_connection_id = ss->conn_id};
  enqueue(ss, &r, NULL);
  ak__log(ss->srv, AK_LOG_INFO, ss->conn_id, NULL,
          "session configured: app %s avatar %s rate %d format %s", ss->app_id, ss->avatar_id,
          ss->in_rate, ss->format ? "ogg_opus" : "pcm_s16le");
}

static void handle_message(ak_session *ss, const uint8_t *buf, size_t len) {
  ak_message *m = NULL;
  int rc = ak_message_parse(buf, len, &m);
  if (rc != AK_OK) {
    ss->srv->m.protocol_errors++;
    if (ss->state == ST_AWAIT_CONFIG)
      send_error(ss, AK_GRPC_FAILED_PRECONDITION, NULL, AK_CLOSE_PROTOCOL,
                 "failed to unmarshal initial message: %s", ak_strerror(rc));
    else
      send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_PROTOCOL,
                 "failed to unmarshal message: %s", ak_strerror(rc));
    return;
  }
  if (ss->state == ST_AWAIT_CONFIG) {
    if (m->data != AK_DATA_CONFIGURE ||
        (m->type != AK_MSG_CLIENT_CONFIGURE_SESSION && m->type != AK_MSG_UNSPECIFIED)) {
      ss->srv->m.protocol_errors++;
      send_error(ss, AK_GRPC_FAILED_PRECONDITION, NULL, AK_CLOSE_PROTOCOL,
                 "expected ClientConfigureSession message, got type %d", (int)m->type);
    } else {
      handle_configure(ss, m);
    }
  } else if (ss->state == ST_ACTIVE) {
    if (m->data == AK_DATA_AUDIO_INPUT &&
        (m->type == AK_MSG_CLIENT_AUDIO_INPUT || m->type == AK_MSG_UNSPECIFIED)) {
      handle_audio(ss, &m->u.audio_input);
    } else if (m->data == AK_DATA_INTERRUPT &&
               (m->type == AK_MSG_CLIENT_INTERRUPT || m->type == AK_MSG_UNSPECIFIED)) {
      handle_interrupt(ss, m->u.interrupt_req_id);
    } else {
      ss->srv->m.protocol_errors++;
      send_error(ss, AK_GRPC_FAILED_PRECONDITION, NULL, AK_CLOSE_PROTOCOL,
                 "unexpected message type: %d", (int)m->type);
    }
  }
  ak_message_free(m);
}

/* ---- session lifecycle ----------------------------------------------------------------- */

static void session_free(ak_session *ss) {
  ak_server *s = ss->srv;
  if (ss->prev)
    ss->prev->next = ss->next;
  else
    s->sessions = ss->next;
  if (ss->next) ss->next->prev = ss->prev;
  s->n_sessions--;
  drop_queued(ss, NULL);
  ak_stream_free(ss->stream);
  free(ss->rx);
  free(ss);
}

static ak_session *session_new(ak_server *s, struct lws *wsi) {
  ak_session *ss = calloc(1, sizeof *ss);
  if (!ss) return NULL;
  ss->srv = s;
  ss->wsi = wsi;
  ak__auth_verdict v;
  /* The upgrade was authorized (and the token consumed) in CONFIRM_UPGRADE; read it again. */
  ak__auth_upgrade(s, wsi, 0, &v);
  if (v.status != 0 || ak_id_new(ss->conn_id, sizeof ss->conn_id, 0) != AK_OK) {
    free(ss);
    return NULL;
  }
  snprintf(ss->app_id, sizeof ss->app_id, "%s", v.app_id);
  snprintf(ss->avatar_id, sizeof ss->avatar_id, "%s", v.avatar_id);
  ss->token_exp = v.token_exp;
  ss->last_activity_us = ak__now_us();
  ss->next = s->sessions;
  if (s->sessions) s->sessions->prev = ss;
  s->sessions = ss;
  s->n_sessions++;
  s->m.sessions_total++;
  return ss;
}

static int on_receive(ak_session *ss, struct lws *wsi, const void *in, size_t len) {
  ak_server *s = ss->srv;
  s->m.bytes_in += len;
  if (ss->state == ST_CLOSING) return 0;
  if (!lws_frame_is_binary(wsi)) {
    s->m.protocol_errors++;
    send_error(ss, AK_GRPC_FAILED_PRECONDITION, NULL, AK_CLOSE_UNSUPPORTED_DATA,
               "unexpected message type: text frame (messages are binary protobuf)");
    return 0;
  }
  if (ss->rx_len + len > s->cfg.max_message_bytes) {
    s->m.protocol_errors++;
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_TOO_BIG,
               "message too large: over %zu bytes", s->cfg.max_message_bytes);
    return 0;
  }
  if (ss->rx_len + len > ss->rx_cap) {
    size_t cap = ss->rx_cap ? ss->rx_cap : 16384;
    while (cap < ss->rx_len + len) cap *= 2;
    uint8_t *n = realloc(ss->rx, cap);
    if (!n) return -1;
    ss->rx = n;
    ss->rx_cap = cap;
  }
  memcpy(ss->rx + ss->rx_len, in, len);
  ss->rx_len += len;
  if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
  int64_t t0 = ak__now_us();
  handle_message(ss, ss->rx, ss->rx_len);
  ak__metrics_observe(&s->m, (double)(ak__now_us() - t0) / 1e6);
  ss->rx_len = 0;
  if (ss->rx_cap > 262144) { /* give back memory after a huge message */
    free(ss->rx);
    ss->rx = NULL;
    ss->rx_cap = 0;
  }
  return 0;
}

static int on_writeable(ak_session *ss, struct lws *wsi) {
  txmsg *t = ss->q_head;
  if (t) {
    ss->q_head = t->next;
    if (!ss->q_head) ss->q_tail = NULL;
    ss->q_bytes -= t->len;
    int n = lws_write(wsi, t->data + LWS_PRE, t->len, LWS_WRITE_BINARY);
    ss->srv->m.bytes_out += t->len;
    free(t);
    if (n < 0) return -1;
    if (ss->q_head || ss->state == ST_CLOSING) lws_callback_on_writable(wsi);
    return 0;
  }
  if (ss->state == ST_CLOSING) {
    lws_close_reason(wsi, (enum lws_close_status)ss->close_code, (unsigned char *)ss->close_reason,
                     strlen(ss->close_reason));
    return -1;
  }
  return 0;
}

int ak__ingress_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len) {
  ak_conn *c = user;
  switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
      ak_server *s = ak__server_from_wsi(wsi);
      c->session = session_new(s, wsi);
      if (!c->session) return -1;
      ak__log(s, AK_LOG_INFO, c->session->conn_id, NULL, "session opened: app %s avatar %s",
              c->session->app_id, c->session->avatar_id);
      return 0;
    }
    case LWS_CALLBACK_RECEIVE:
      return c->session ? on_receive(c->session, wsi, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return c->session ? on_writeable(c->session, wsi) : 0;
    case LWS_CALLBACK_CLOSED:
      if (c->session) {
        ak_session *ss = c->session;
        ak__log(ss->srv, AK_LOG_INFO, ss->conn_id, ss->req_open ? ss->req_id : NULL,
                "session closed%s", ss->req_open ? " with a request in flight" : "");
        session_free(ss);
        c->session = NULL;
      }
      return 0;
    default:
      return 0;
  }
}

void ak__ingress_tick(ak_server *s, int64_t now_us) {
  int64_t now = (int64_t)time(NULL);
  for (ak_session *ss = s->sessions; ss; ss = ss->next) {
    if (ss->state == ST_CLOSING) continue;
    if (!ss->req_open && ss->token_exp <= now) {
      s->m.token_expiry_closes++;
      send_error(ss, AK_GRPC_PERMISSION_DENIED, NULL, AK_CLOSE_TOKEN_EXPIRED,
                 "session token expired");
      continue;
    }
    if (s->cfg.idle_timeout_s > 0 &&
        now_us - ss->last_activity_us > (int64_t)s->cfg.idle_timeout_s * 1000000) {
      s->m.idle_timeouts++;
      send_error(ss, AK_GRPC_DEADLINE_EXCEEDED, ss->req_open ? ss->req_id : NULL, AK_CLOSE_NORMAL,
                 "no audio input for %d seconds, closing session", s->cfg.idle_timeout_s);
    }
  }
}

int ak__ingress_busy(const ak_server *s) {
  int n = 0;
  for (const ak_session *ss = s->sessions; ss; ss = ss->next) n += ss->req_open || ss->q_head;
  return n;
}

void ak__ingress_close_all(ak_server *s, int code, const char *reason) {
  for (ak_session *ss = s->sessions; ss; ss = ss->next)
    if (ss->state != ST_CLOSING) close_with(ss, code, reason);
}
