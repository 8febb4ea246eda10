/* The driven-ingress WebSocket: upgrade auth, the configure/confirm handshake, and per
 * session the audio pipeline (decode -> resample to 16 kHz -> motion engine + Opus encoder)
 * whose output is streamed back as SERVER_RESPONSE_ANIMATION messages as soon as produced. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

#include "avatarkit/codec.h"
#include "avatarkit/engine.h"
#include "avatarkit/protocol.h"
#include "conn.h"
#include "server.h"

#define BLOCK 4096          /* samples converted per step: bounds scratch memory */
#define OPUS_RATE 16000     /* output audio rate: the engine's rate, one resampler */
#define PKT_ARENA (64 * 1024)

enum { ST_AWAIT_CONFIG = 0, ST_ACTIVE, ST_CLOSING };

typedef struct txmsg {
  struct txmsg *next;
  char req_id[64];
  size_t len;
  unsigned char data[]; /* LWS_PRE headroom + payload */
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
  int in_rate, format, opus_bitrate;
  /* current request */
  char req_id[64];
  int req_open;
  char last_req_id[64];
  int last_interrupted;
  int have_odd;
  uint8_t odd;
  uint64_t n16;            /* 16 kHz samples fed this request */
  uint32_t frames_sent;    /* frames emitted this request */
  uint64_t packets_sent;   /* Opus packets emitted this request */
  ak_resampler *rs;        /* in_rate (PCM) or 48 kHz (Ogg) -> 16 kHz */
  ak_ogg_decoder *ogg;
  ak_engine *eng;
  ak_opus_encoder *opus;
  /* output being gathered for the next message */
  float *fw, *fh;
  uint8_t *fv;
  uint32_t n_frames;
  uint8_t *arena;
  size_t arena_len;
  const uint8_t *pkts[AK_MSG_MAX_PACKETS];
  size_t pkt_lens[AK_MSG_MAX_PACKETS];
  size_t n_pkts;
  /* scratch */
  float in_f[BLOCK];
  float out16[BLOCK * 2 + 64];
  /* tx */
  txmsg *q_head, *q_tail;
  size_t q_bytes;
  int close_code;
  char close_reason[96];
  int fatal; /* set when a pipeline error happened inside a callback */
};

int64_t ak__now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- output queue ---------------------------------------------------------------------- */

static int enqueue(ak_session *ss, const ak_message *m, const char *req_id) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = ak_message_pack(m, &buf, &len);
  if (rc != AK_OK) return rc;
  if (ss->q_bytes + len > AK_MAX_TX_QUEUE) {
    free(buf);
    ss->srv->m.slow_client_drops++;
    return AK_ETOOBIG;
  }
  txmsg *t = malloc(sizeof *t + LWS_PRE + len);
  if (!t) {
    free(buf);
    return AK_ENOMEM;
  }
  t->next = NULL;
  snprintf(t->req_id, sizeof t->req_id, "%s", req_id ? req_id : "");
  t->len = len;
  memcpy(t->data + LWS_PRE, buf, len);
  free(buf);
  if (ss->q_tail)
    ss->q_tail->next = t;
  else
    ss->q_head = t;
  ss->q_tail = t;
  ss->q_bytes += len;
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
  ak_message m = {.type = AK_MSG_SERVER_ERROR, .data = AK_DATA_ERROR,
                  .u.error = {.connection_id = ss->conn_id, .req_id = req_id, .code = code,
                              .message = msg}};
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

/* ---- pipeline -------------------------------------------------------------------------- */

/* How much gathered audio a message carries. The engine's motion trails its input by the
 * lookahead, while the Opus encoder emits packets at once, so audio is normally ahead of
 * motion. FLUSH_ALIGNED sends only the packets whose media the motion in hand covers and keeps
 * the rest for the next message: every message then holds audio and motion for the same
 * span, and a client whose jitter buffer is sized from audio arrivals has the motion too.
 * FLUSH_ALL (the packet store is full) and FLUSH_FINAL send everything. */
enum { FLUSH_ALIGNED = 0, FLUSH_ALL, FLUSH_FINAL };

/* Packets among the gathered ones whose media ends by the end of the motion in hand. */
static size_t covered_packets(const ak_session *ss) {
  uint64_t fs = (uint64_t)ak_opus_encoder_frame_samples(ss->opus);
  uint64_t skip = (uint64_t)ak_opus_encoder_pre_skip(ss->opus);
  uint64_t fps = (uint64_t)ss->srv->cfg.fps;
  /* motion covers media [0, frames/fps); packet k ends at media ((k+1)*fs - skip) / OPUS_RATE */
  uint64_t motion_end = (uint64_t)(ss->frames_sent + ss->n_frames) * OPUS_RATE / fps;
  size_t k = 0;
  while (k < ss->n_pkts && (ss->packets_sent + k + 1) * fs <= motion_end + skip) k++;
  return k;
}

static int flush_out(ak_session *ss, int mode) {
  int final = mode == FLUSH_FINAL;
  size_t n_pkts = mode == FLUSH_ALIGNED ? covered_packets(ss) : ss->n_pkts;
  if (!final && ss->n_frames == 0 && n_pkts == 0) return AK_OK;
  ak_message m = {.type = AK_MSG_SERVER_RESPONSE_ANIMATION, .data = AK_DATA_ANIMATION};
  ak_animation *a = &m.u.animation;
  a->connection_id = ss->conn_id;
  a->req_id = ss->req_id;
  a->end = final;
  uint8_t *owned = NULL;
  int rc;
  if (ss->n_frames || final) {
    rc = ak_motion_quantize(ss->fw, ss->fh, ss->fv, ss->n_frames, ss->frames_sent,
                            (uint32_t)ss->srv->cfg.fps, final, &a->motion, &owned);
    if (rc != AK_OK) return rc;
    a->has_motion = 1;
  }
  if (n_pkts || final) {
    a->has_audio = 1;
    a->audio = (ak_audio_payload){
        .sample_rate = OPUS_RATE, .channels = 1,
        .frame_samples = (uint32_t)ak_opus_encoder_frame_samples(ss->opus),
        .pre_skip = (uint32_t)ak_opus_encoder_pre_skip(ss->opus),
        .first_packet = ss->packets_sent, .total_samples = final ? ss->n16 : 0,
        .n_packets = n_pkts, .packets = ss->pkts, .packet_lens = ss->pkt_lens,
        .end = final};
  }
  rc = enqueue(ss, &m, ss->req_id);
  free(owned);
  if (rc != AK_OK) return rc;
  ak_metrics *mt = &ss->srv->m;
  mt->frames_total += ss->n_frames;
  mt->packets_total += n_pkts;
  ss->frames_sent += ss->n_frames;
  ss->packets_sent += n_pkts;
  ss->n_frames = 0;
  /* keep the packets not sent yet at the front of the arena */
  size_t left = ss->n_pkts - n_pkts, off = 0;
  if (left) {
    size_t from = (size_t)(ss->pkts[n_pkts] - ss->arena);
    memmove(ss->arena, ss->arena + from, ss->arena_len - from);
    for (size_t i = 0; i < left; i++) {
      ss->pkt_lens[i] = ss->pkt_lens[n_pkts + i];
      ss->pkts[i] = ss->arena + off;
      off += ss->pkt_lens[i];
    }
  }
  ss->n_pkts = left;
  ss->arena_len = off;
  return AK_OK;
}

static int on_packet(void *user, const uint8_t *pkt, size_t len) {
  ak_session *ss = user;
  if (ss->n_pkts == AK_MSG_MAX_PACKETS || ss->arena_len + len > PKT_ARENA) {
    /* Keep motion and audio together: send what is gathered so far. The packet being
     * delivered is copied after the flush. */
    if (flush_out(ss, FLUSH_ALL) != AK_OK) {
      ss->fatal = 1;
      return 1;
    }
  }
  memcpy(ss->arena + ss->arena_len, pkt, len);
  ss->pkts[ss->n_pkts] = ss->arena + ss->arena_len;
  ss->pkt_lens[ss->n_pkts++] = len;
  ss->arena_len += len;
  return 0;
}

static int pop_frames(ak_session *ss) {
  ak_motion_frame f;
  int rc;
  while ((rc = ak_engine_pop(ss->eng, &f)) == 1) {
    if (ss->n_frames == AK_MSG_MAX_FRAMES && (rc = flush_out(ss, FLUSH_ALIGNED)) != AK_OK) return rc;
    uint32_t i = ss->n_frames++;
    memcpy(ss->fw + (size_t)i * AK_BLENDSHAPE_COUNT, f.weights, sizeof f.weights);
    memcpy(ss->fh + (size_t)i * 3, f.head, sizeof f.head);
    ss->fv[i] = f.viseme;
  }
  return rc < 0 ? rc : AK_OK;
}

/* 16 kHz samples into the engine and the Opus encoder. */
static int feed16(ak_session *ss, const float *x, size_t n) {
  if (!n) return AK_OK;
  int rc = ak_engine_push(ss->eng, x, n);
  if (rc < 0) return rc;
  if ((rc = pop_frames(ss)) != AK_OK) return rc;
  rc = ak_opus_encoder_push(ss->opus, x, n, on_packet, ss);
  if (rc < 0 || ss->fatal) return rc < 0 ? rc : AK_ENOMEM;
  ss->n16 += n;
  ss->srv->m.audio_samples_16k += n;
  return AK_OK;
}

static int feed_float(ak_session *ss, const float *x, size_t n) {
  while (n) {
    size_t c = n < BLOCK ? n : BLOCK;
    int got = ak_resampler_process(ss->rs, x, c, ss->out16, sizeof ss->out16 / sizeof(float));
    if (got < 0) return got;
    int rc = feed16(ss, ss->out16, (size_t)got);
    if (rc != AK_OK) return rc;
    x += c;
    n -= c;
  }
  return AK_OK;
}

static int on_ogg_pcm(void *user, const float *pcm, size_t n) {
  ak_session *ss = user;
  if (feed_float(ss, pcm, n) != AK_OK) {
    ss->fatal = 1;
    return 1;
  }
  return 0;
}

static int feed_pcm(ak_session *ss, const uint8_t *b, size_t len) {
  if (ss->have_odd && len) { /* a sample split across chunks */
    uint8_t two[2] = {ss->odd, b[0]};
    ak_s16le_to_float(two, 1, ss->in_f);
    int rc = feed_float(ss, ss->in_f, 1);
    if (rc != AK_OK) return rc;
    ss->have_odd = 0;
    b++;
    len--;
  }
  size_t n = len / 2;
  while (n) {
    size_t c = n < BLOCK ? n : BLOCK;
    ak_s16le_to_float(b, c, ss->in_f);
    int rc = feed_float(ss, ss->in_f, c);
    if (rc != AK_OK) return rc;
    b += 2 * c;
    n -= c;
  }
  if (len & 1) {
    ss->have_odd = 1;
    ss->odd = b[0];
  }
  return AK_OK;
}

static void reset_pipeline(ak_session *ss) {
  ak_engine_reset(ss->eng);
  ak_opus_encoder_reset(ss->opus);
  ak_resampler_reset(ss->rs);
  if (ss->ogg) ak_ogg_decoder_reset(ss->ogg);
  ss->have_odd = 0;
  ss->n16 = 0;
  ss->frames_sent = 0;
  ss->packets_sent = 0;
  ss->n_frames = 0;
  ss->n_pkts = 0;
  ss->arena_len = 0;
  ss->fatal = 0;
}

static void start_request(ak_session *ss, const char *req_id) {
  reset_pipeline(ss);
  snprintf(ss->req_id, sizeof ss->req_id, "%s", req_id);
  snprintf(ss->last_req_id, sizeof ss->last_req_id, "%s", req_id);
  ss->last_interrupted = 0;
  ss->req_open = 1;
  ss->srv->m.requests_total++;
  ak__log(ss->srv, AK_LOG_DEBUG, ss->conn_id, req_id, "request started");
}

static int finish_request(ak_session *ss) {
  int rc = AK_OK;
  float tail[512];
  int got = ak_resampler_flush(ss->rs, tail, sizeof tail / sizeof tail[0]);
  if (got < 0) rc = got;
  if (rc == AK_OK) rc = feed16(ss, tail, (size_t)got);
  if (rc == AK_OK) rc = ak_engine_finish(ss->eng);
  if (rc == AK_OK) rc = pop_frames(ss);
  if (rc == AK_OK) {
    int p = ak_opus_encoder_finish(ss->opus, on_packet, ss);
    if (p < 0 || ss->fatal) rc = p < 0 ? p : AK_ENOMEM;
  }
  if (rc == AK_OK) rc = flush_out(ss, FLUSH_FINAL);
  ak__log(ss->srv, AK_LOG_DEBUG, ss->conn_id, ss->req_id,
          "request done: %.3f s audio, %u frames, %llu packets", (double)ss->n16 / 16000.0,
          ss->frames_sent, (unsigned long long)ss->packets_sent);
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
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1008, "invalid req_id: longer than %zu",
               sizeof ss->req_id - 1);
    return;
  }
  /* Audio of an interrupted request is dropped until its end. */
  if (!ss->req_open && ss->last_interrupted && strcmp(req_id, ss->last_req_id) == 0) return;
  ss->last_activity_us = ak__now_us();
  int rc = AK_OK;
  if (ss->req_open && strcmp(req_id, ss->req_id) != 0) rc = finish_request(ss); /* implicit end */
  if (rc == AK_OK && !ss->req_open) start_request(ss, req_id);
  if (rc == AK_OK && in->audio_len) {
    if (ss->format == AK_FORMAT_OGG_OPUS) {
      rc = ak_ogg_decoder_push(ss->ogg, in->audio, in->audio_len, on_ogg_pcm, ss);
      if (rc == AK_OK && ss->fatal) rc = AK_ENOMEM;
      if (rc == AK_EFORMAT || rc == AK_ECORRUPT || rc == AK_ETOOBIG) {
        send_error(ss, AK_GRPC_INVALID_ARGUMENT, req_id, 1007,
                   "invalid audio: Ogg Opus stream %s",
                   rc == AK_EFORMAT ? "not recognized (need Ogg with an Opus mono/stereo stream)"
                   : rc == AK_ETOOBIG ? "too long"
                                      : "corrupt");
        return;
      }
    } else {
      rc = feed_pcm(ss, in->audio, in->audio_len);
    }
  }
  if (rc == AK_OK) rc = in->end ? finish_request(ss) : flush_out(ss, FLUSH_ALIGNED);
  if (rc == AK_ETOOBIG) {
    send_error(ss, 8, req_id, 1008, "client is not reading: output queue over %u bytes",
               AK_MAX_TX_QUEUE);
  } else if (rc != AK_OK) {
    send_error(ss, 13, req_id, 1011, "internal error: %s", ak_strerror(rc));
  }
}

static void handle_interrupt(ak_session *ss, const char *req_id) {
  ss->last_activity_us = ak__now_us();
  if (!req_id[0] && ss->req_open) req_id = ss->req_id;
  if (!req_id[0] || strcmp(req_id, ss->last_req_id) != 0) {
    ak__log(ss->srv, AK_LOG_DEBUG, ss->conn_id, req_id, "interrupt for unknown request ignored");
    return;
  }
  drop_queued(ss, req_id);
  if (ss->req_open) reset_pipeline(ss);
  ss->req_open = 0;
  ss->last_interrupted = 1;
  ss->srv->m.requests_interrupted++;
  ak__log(ss->srv, AK_LOG_INFO, ss->conn_id, req_id, "request interrupted");
}

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

static int setup_pipeline(ak_session *ss) {
  ak_server *s = ss->srv;
  ak_engine_config ec;
  ak_engine_config_default(&ec);
  ec.fps = s->cfg.fps;
  if (s->cfg.lookahead_ms >= 0) ec.lookahead_ms = s->cfg.lookahead_ms;
  ec.expressiveness = s->cfg.expressiveness;
  ec.model = s->model;
  uint64_t seed = 1469598103934665603ull; /* FNV-1a of the connection id: varied, replayable */
  for (const char *p = ss->conn_id; *p; p++) seed = (seed ^ (uint8_t)*p) * 1099511628211ull;
  ec.seed = seed;
  int rc = ak_engine_new(&ec, &ss->eng);
  if (rc != AK_OK) return rc;
  rc = ak_opus_encoder_new(OPUS_RATE, ss->opus_bitrate, s->cfg.opus_complexity, &ss->opus);
  if (rc != AK_OK) return rc;
  int src = ss->format == AK_FORMAT_OGG_OPUS ? 48000 : ss->in_rate;
  if ((rc = ak_resampler_new(src, 16000, &ss->rs)) != AK_OK) return rc;
  if (ss->format == AK_FORMAT_OGG_OPUS &&
      (rc = ak_ogg_decoder_new(64u * 1024u * 1024u, &ss->ogg)) != AK_OK)
    return rc;
  ss->fw = malloc(sizeof(float) * AK_BLENDSHAPE_COUNT * AK_MSG_MAX_FRAMES);
  ss->fh = malloc(sizeof(float) * 3 * AK_MSG_MAX_FRAMES);
  ss->fv = malloc(AK_MSG_MAX_FRAMES);
  ss->arena = malloc(PKT_ARENA);
  return (ss->fw && ss->fh && ss->fv && ss->arena) ? AK_OK : AK_ENOMEM;
}

static void handle_configure(ak_session *ss, const ak_message *m) {
  const ak_configure *c = &m->u.configure;
  if (!ak_sample_rate_valid(c->sample_rate)) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1008,
               "unsupported sample rate: %d (accepted: 8000, 16000, 22050, 24000, 32000, "
               "44100, 48000)",
               c->sample_rate);
    return;
  }
  if (c->audio_format != AK_FORMAT_PCM_S16LE && c->audio_format != AK_FORMAT_OGG_OPUS) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1008, "unsupported audio format: %d",
               c->audio_format);
    return;
  }
  if (c->transport_compression != 0) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1008,
               "unsupported transport compression: %d", c->transport_compression);
    return;
  }
  const char *eg = egress_problem(c);
  if (eg) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1008, "invalid egress config: %s", eg);
    return;
  }
  if (c->egress_type != AK_EGRESS_UNSPECIFIED) {
    send_error(ss, AK_GRPC_UNAVAILABLE, NULL, 1011,
               "egress client is not configured on server (%s egress requested)",
               c->egress_type == AK_EGRESS_LIVEKIT ? "LiveKit" : "Agora");
    return;
  }
  ss->in_rate = c->sample_rate;
  ss->format = c->audio_format;
  ss->opus_bitrate = ss->srv->cfg.opus_bitrate;
  if (c->bitrate >= 6000 && c->bitrate <= 128000) ss->opus_bitrate = c->bitrate;
  int rc = setup_pipeline(ss);
  if (rc != AK_OK) {
    send_error(ss, 13, NULL, 1011, "internal error: pipeline setup failed: %s", ak_strerror(rc));
    return;
  }
  ss->state = ST_ACTIVE;
  ak_message r = {.type = AK_MSG_SERVER_CONFIRM_SESSION, .data = AK_DATA_CONFIRM,
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
      send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1002,
                 "failed to unmarshal initial message: %s", ak_strerror(rc));
    else
      send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1002, "failed to unmarshal message: %s",
                 ak_strerror(rc));
    return;
  }
  if (ss->state == ST_AWAIT_CONFIG) {
    if (m->data != AK_DATA_CONFIGURE ||
        (m->type != AK_MSG_CLIENT_CONFIGURE_SESSION && m->type != AK_MSG_UNSPECIFIED)) {
      ss->srv->m.protocol_errors++;
      send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1002,
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
      send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1002, "unexpected message type: %d",
                 (int)m->type);
    }
  }
  ak_message_free(m);
}

/* ---- upgrade auth ---------------------------------------------------------------------- */

typedef struct auth {
  char app_id[AK_MAX_STR], avatar_id[AK_MAX_STR], token[600], token_app[AK_MAX_STR];
  int64_t exp;
} auth;

/* lws returns a pointer to the value inside its "name=value" copy: keep only the value. */
static void query_arg(struct lws *wsi, const char *name, char *out, size_t cap) {
  char tmp[700];
  const char *v = lws_get_urlarg_by_name(wsi, name, tmp, (int)sizeof tmp);
  out[0] = '\0';
  if (v && strlen(v) < cap) memcpy(out, v, strlen(v) + 1);
}

static void header_or_query(struct lws *wsi, const char *hdr, int hlen, const char *q, char *out,
                            size_t cap) {
  out[0] = '\0';
  int n = lws_hdr_custom_length(wsi, hdr, hlen);
  if (n > 0 && (size_t)n < cap && lws_hdr_custom_copy(wsi, out, (int)cap, hdr, hlen) > 0) return;
  out[0] = '\0';
  if (q) query_arg(wsi, q, out, cap);
}

/* Returns 0 or the HTTP status to refuse with; *detail says why. */
static int authenticate(ak_server *s, struct lws *wsi, auth *a, int consume, const char **code,
                        const char **detail) {
  char uri[256] = "";
  if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
      strcmp(uri, "/v2/driveningress/websocket") != 0) {
    *code = "not_found";
    *detail = "no such endpoint: use /v2/driveningress/websocket";
    return 404;
  }
  if (s->draining) {
    *code = "unavailable";
    *detail = "server shutting down";
    return 503;
  }
  if (s->cfg.max_sessions && s->n_sessions >= s->cfg.max_sessions) {
    *code = "unavailable";
    *detail = "server at its session limit";
    return 503;
  }
  header_or_query(wsi, "x-app-id:", 9, "appId=", a->app_id, sizeof a->app_id);
  header_or_query(wsi, "x-session-key:", 14, "sessionKey=", a->token, sizeof a->token);
  query_arg(wsi, "id=", a->avatar_id, sizeof a->avatar_id);
  if (!a->app_id[0]) {
    *code = "invalid_request";
    *detail = "missing app id (X-App-ID header or appId query parameter)";
    return 400;
  }
  int known = 0;
  for (int i = 0; i < s->cfg.n_apps; i++) known |= strcmp(s->cfg.apps[i].app_id, a->app_id) == 0;
  if (!known) {
    *code = "app_not_found";
    *detail = "app id unrecognized";
    return 404;
  }
  if (!a->token[0]) {
    *code = "unauthorized";
    *detail = "invalid session token: missing (X-Session-Key header or sessionKey query)";
    return 401;
  }
  int64_t now = (int64_t)time(NULL);
  int v = ak__token_verify(s, a->token, now, a->token_app, sizeof a->token_app, &a->exp);
  if (v == AK_TOKEN_EXPIRED) {
    *code = "token_expired";
    *detail = "session token expired";
    return 401;
  }
  if (v != AK_TOKEN_OK) {
    *code = "unauthorized";
    *detail = "invalid session token";
    return 401;
  }
  if (strcmp(a->token_app, a->app_id) != 0) {
    *code = "app_id_mismatch";
    *detail = "app id mismatch: the session token was issued for another app";
    return 400;
  }
  if (!a->avatar_id[0]) {
    *code = "invalid_request";
    *detail = "missing avatar id (id query parameter)";
    return 400;
  }
  if (s->cfg.n_avatars) {
    int ok = 0;
    for (int i = 0; i < s->cfg.n_avatars; i++) ok |= strcmp(s->cfg.avatars[i], a->avatar_id) == 0;
    if (!ok) {
      *code = "avatar_not_found";
      *detail = "avatar not found";
      return 404;
    }
  }
  if (consume && ak__token_consume(s, a->token, a->exp, now) != AK_TOKEN_OK) {
    *code = "unauthorized";
    *detail = "invalid session token: already used (tokens are single use)";
    return 401;
  }
  return 0;
}

int ak__ingress_check_upgrade(ak_server *s, struct lws *wsi) {
  auth a;
  memset(&a, 0, sizeof a);
  const char *code = NULL, *detail = NULL;
  int consume = lws_hdr_total_length(wsi, WSI_TOKEN_UPGRADE) > 0;
  int status = authenticate(s, wsi, &a, consume, &code, &detail);
  if (status == 0) return 0;
  s->m.upgrades_refused++;
  ak__log(s, AK_LOG_INFO, NULL, NULL, "upgrade refused %d: %s (app %s, avatar %s)", status,
          detail, a.app_id, a.avatar_id);
  const char *title = status == 401 ? "Unauthorized" : status == 404 ? "Not Found"
                      : status == 503 ? "Service Unavailable" : "Bad Request";
  if (ak__http_error(wsi, status, code, title, detail) < 0) return -1;
  return 1;
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
  ak_engine_free(ss->eng);
  ak_opus_encoder_free(ss->opus);
  ak_resampler_free(ss->rs);
  ak_ogg_decoder_free(ss->ogg);
  free(ss->fw);
  free(ss->fh);
  free(ss->fv);
  free(ss->arena);
  free(ss->rx);
  free(ss);
}

static ak_session *session_new(ak_server *s, struct lws *wsi) {
  ak_session *ss = calloc(1, sizeof *ss);
  if (!ss) return NULL;
  ss->srv = s;
  ss->wsi = wsi;
  auth a;
  memset(&a, 0, sizeof a);
  const char *code, *detail;
  /* The upgrade was authorized (and the token consumed) in CONFIRM_UPGRADE; read it again. */
  if (authenticate(s, wsi, &a, 0, &code, &detail) != 0 ||
      ak_id_new(ss->conn_id, sizeof ss->conn_id, 0) != AK_OK) {
    free(ss);
    return NULL;
  }
  snprintf(ss->app_id, sizeof ss->app_id, "%s", a.app_id);
  snprintf(ss->avatar_id, sizeof ss->avatar_id, "%s", a.avatar_id);
  ss->token_exp = a.exp;
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
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1003,
               "unexpected message type: text frame (messages are binary protobuf)");
    return 0;
  }
  if (ss->rx_len + len > s->cfg.max_message_bytes) {
    s->m.protocol_errors++;
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1009,
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
      send_error(ss, AK_GRPC_UNAUTHENTICATED, NULL, 4010, "session token expired");
      continue;
    }
    if (s->cfg.idle_timeout_s > 0 &&
        now_us - ss->last_activity_us > (int64_t)s->cfg.idle_timeout_s * 1000000) {
      s->m.idle_timeouts++;
      send_error(ss, 4, ss->req_open ? ss->req_id : NULL, 1000,
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

/* ---- detached sessions: the input path without a socket, for fuzzing and tests ---------- */

ak_session *ak__session_new_detached(ak_server *s) {
  ak_session *ss = calloc(1, sizeof *ss);
  if (!ss) return NULL;
  ss->srv = s;
  snprintf(ss->conn_id, sizeof ss->conn_id, "20260101000000_detachedAAAA");
  snprintf(ss->app_id, sizeof ss->app_id, "fuzz");
  snprintf(ss->avatar_id, sizeof ss->avatar_id, "fuzz");
  ss->token_exp = INT64_MAX;
  ss->last_activity_us = ak__now_us();
  ss->next = s->sessions;
  if (s->sessions) s->sessions->prev = ss;
  s->sessions = ss;
  s->n_sessions++;
  return ss;
}

size_t ak__session_input(ak_session *ss, const uint8_t *buf, size_t len) {
  if (ss->state != ST_CLOSING) {
    if (len > ss->srv->cfg.max_message_bytes)
      send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, 1009, "message too large");
    else
      handle_message(ss, buf, len);
  }
  size_t n = 0; /* consume the output as a socket would */
  while (ss->q_head) {
    txmsg *t = ss->q_head;
    ss->q_head = t->next;
    ss->q_bytes -= t->len;
    n += t->len;
    free(t);
  }
  ss->q_tail = NULL;
  return n;
}

int ak__session_closing(const ak_session *ss) { return ss->state == ST_CLOSING; }

void ak__session_free_detached(ak_session *ss) {
  if (ss) session_free(ss);
}
