/* One request's media pipeline (include/avatarkit/stream.h): input bytes -> decode (Ogg) or
 * reassemble samples (PCM) -> resample to 16 kHz -> motion engine + Opus encoder -> gathered
 * motion frames and packets -> aligned SERVER_RESPONSE_ANIMATION views for the emit callback.
 * Callback failures inside the codec (Ogg PCM, Opus packets) are kept in s->err so that the
 * caller gets the callback's own code, not the codec's "aborted". */
#include <stdlib.h>
#include <string.h>

#include "avatarkit/codec.h"
#include "avatarkit/engine.h"
#include "avatarkit/stream.h"
#include "alloc_internal.h"
#include "avatarkit/alloc.h"

#define BLOCK 4096 /* input samples converted per step: bounds scratch memory */
#define OUT16_CAP (BLOCK * 2 + 64)

_Static_assert(AK_STREAM_MAX_FRAMES <= AK_MAX_PAYLOAD_FRAMES, "message frames over protocol");
_Static_assert(AK_STREAM_MAX_PACKETS <= AK_MAX_PAYLOAD_PACKETS, "message packets over protocol");
_Static_assert(AK_STREAM_OUTPUT_RATE == AK_ENGINE_SAMPLE_RATE, "one resampler feeds both");

enum { ST_IDLE = 0, ST_OPEN, ST_FAILED };

/* How much gathered audio a message carries. The engine's motion trails its input by the
 * lookahead, while the Opus encoder emits packets at once, so audio is normally ahead of
 * motion. FLUSH_ALIGNED sends only the packets whose media the motion in hand covers and keeps
 * the rest for the next message: every message then holds audio and motion for the same
 * span, and a client whose jitter buffer is sized from audio arrivals has the motion too.
 * FLUSH_ALL (the packet store is full) and FLUSH_FINAL send everything. */
enum { FLUSH_ALIGNED = 0, FLUSH_ALL, FLUSH_FINAL };

struct ak_stream {
  ak_stream_config cfg;
  char conn_id[64];
  char req_id[AK_STREAM_MAX_REQ_ID + 1];
  int state;
  ak_stream_failure_kind failure;
  int err;      /* first callback failure inside a codec call, 0 when none */
  size_t block; /* input samples resampled per step: the output fits out16 */
  int have_odd;
  uint8_t odd;
  ak_stream_counters c;
  uint64_t decoded_48k; /* samples they decoded to */
  ak_resampler *rs;     /* sample_rate (PCM) or 48 kHz (Ogg) -> 16 kHz */
  ak_ogg_decoder *ogg;
  ak_engine *eng;
  ak_opus_encoder *opus; /* NULL when opus_bitrate is 0 */
  /* output being gathered for the next message */
  float fw[AK_STREAM_MAX_FRAMES * AK_BLENDSHAPE_COUNT];
  float fh[AK_STREAM_MAX_FRAMES * 3];
  uint8_t fv[AK_STREAM_MAX_FRAMES];
  uint32_t n_frames;
  uint8_t arena[AK_STREAM_MAX_AUDIO_BYTES];
  size_t arena_len;
  const uint8_t *pkts[AK_STREAM_MAX_PACKETS];
  size_t pkt_lens[AK_STREAM_MAX_PACKETS];
  size_t n_pkts;
  /* scratch */
  float in_f[BLOCK];
  float out16[OUT16_CAP];
};

void ak_stream_config_default(ak_stream_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->format = AK_STREAM_PCM_S16LE;
  cfg->sample_rate = 16000;
  cfg->fps = 25;
  cfg->lookahead_ms = -1;
  cfg->expressiveness = 0.7f;
  cfg->opus_bitrate = 24000;
  cfg->opus_complexity = 5;
  cfg->max_ogg_bytes = AK_STREAM_DEFAULT_MAX_OGG_BYTES;
  cfg->max_decoded_per_byte = AK_STREAM_DEFAULT_MAX_DECODED_PER_BYTE;
  cfg->decoded_grace = AK_STREAM_DEFAULT_DECODED_GRACE;
}

int ak_stream_new(const ak_stream_config *cfg, const ak_model *model, ak_stream **out) {
  if (!cfg || !out || !cfg->emit) return AK_EINVAL;
  if (cfg->format != AK_STREAM_PCM_S16LE && cfg->format != AK_STREAM_OGG_OPUS) return AK_EINVAL;
  if (cfg->format == AK_STREAM_PCM_S16LE && (cfg->sample_rate < 1000 || cfg->sample_rate > 192000))
    return AK_ERATE;
  if (cfg->opus_bitrate != 0 && (cfg->opus_bitrate < 6000 || cfg->opus_bitrate > 128000))
    return AK_EINVAL;
  if (cfg->opus_complexity < 0 || cfg->opus_complexity > 10) return AK_EINVAL;
  if (cfg->format == AK_STREAM_OGG_OPUS && cfg->max_ogg_bytes == 0) return AK_EINVAL;
  if (cfg->connection_id && strlen(cfg->connection_id) >= 64) return AK_EINVAL;
  ak_stream *s = ak__calloc(1, sizeof *s);
  if (!s) return AK_ENOMEM;
  s->cfg = *cfg;
  if (cfg->connection_id) memcpy(s->conn_id, cfg->connection_id, strlen(cfg->connection_id) + 1);
  s->cfg.connection_id = s->conn_id;
  ak_engine_config ec;
  ak_engine_config_default(&ec);
  ec.fps = cfg->fps;
  if (cfg->lookahead_ms >= 0) ec.lookahead_ms = cfg->lookahead_ms;
  ec.expressiveness = cfg->expressiveness;
  ec.seed = cfg->seed;
  ec.model = model;
  int rc = ak_engine_new(&ec, &s->eng);
  if (rc == AK_OK && cfg->opus_bitrate)
    rc = ak_opus_encoder_new(AK_STREAM_OUTPUT_RATE, cfg->opus_bitrate, cfg->opus_complexity,
                             &s->opus);
  int src = cfg->format == AK_STREAM_OGG_OPUS ? 48000 : cfg->sample_rate;
  if (rc == AK_OK) rc = ak_resampler_new(src, AK_STREAM_OUTPUT_RATE, &s->rs);
  s->block = BLOCK;
  while (rc == AK_OK && ak_resampler_max_out(s->rs, s->block) > OUT16_CAP) s->block /= 2;
  if (rc == AK_OK && cfg->format == AK_STREAM_OGG_OPUS)
    rc = ak_ogg_decoder_new(cfg->max_ogg_bytes, &s->ogg);
  if (rc == AK_OK && s->ogg) ak_ogg_decoder_set_push_limit(s->ogg, cfg->max_decoded_per_push);
  if (rc != AK_OK) {
    ak_stream_free(s);
    return rc;
  }
  *out = s;
  return AK_OK;
}

void ak_stream_free(ak_stream *s) {
  if (!s) return;
  ak_engine_free(s->eng);
  ak_opus_encoder_free(s->opus);
  ak_resampler_free(s->rs);
  ak_ogg_decoder_free(s->ogg);
  ak__free(s);
}

/* ---- output ---------------------------------------------------------------------------- */

/* Packets among the gathered ones whose media ends by the end of the motion in hand. */
static size_t covered_packets(const ak_stream *s) {
  uint64_t fs = (uint64_t)ak_opus_encoder_frame_samples(s->opus);
  uint64_t skip = (uint64_t)ak_opus_encoder_pre_skip(s->opus);
  uint64_t fps = (uint64_t)s->cfg.fps;
  /* motion covers media [0, frames/fps); packet k ends at media ((k+1)*fs - skip) / rate */
  uint64_t motion_end = (uint64_t)(s->c.frames_sent + s->n_frames) * AK_STREAM_OUTPUT_RATE / fps;
  size_t k = 0;
  while (k < s->n_pkts && (s->c.packets_sent + k + 1) * fs <= motion_end + skip) k++;
  return k;
}

static int flush_out(ak_stream *s, int mode) {
  int final = mode == FLUSH_FINAL;
  size_t n_pkts = mode == FLUSH_ALIGNED && s->n_pkts ? covered_packets(s) : s->n_pkts;
  if (!final && s->n_frames == 0 && n_pkts == 0) return AK_OK;
  ak_message m = {.type = AK_MSG_SERVER_RESPONSE_ANIMATION, .data = AK_DATA_ANIMATION};
  ak_animation *a = &m.u.animation;
  a->connection_id = s->conn_id;
  a->req_id = s->req_id;
  a->end = final;
  uint8_t *owned = NULL;
  int rc;
  if (s->n_frames || final) {
    rc = ak_motion_quantize(s->fw, s->fh, s->fv, s->n_frames, s->c.frames_sent,
                            (uint32_t)s->cfg.fps, final, &a->motion, &owned);
    if (rc != AK_OK) {
      s->failure = AK_STREAM_FAIL_INTERNAL;
      return rc;
    }
    a->has_motion = 1;
  }
  if (s->opus && (n_pkts || final)) {
    a->has_audio = 1;
    a->audio = (ak_audio_payload){.sample_rate = AK_STREAM_OUTPUT_RATE,
                                  .channels = 1,
                                  .frame_samples = (uint32_t)ak_opus_encoder_frame_samples(s->opus),
                                  .pre_skip = (uint32_t)ak_opus_encoder_pre_skip(s->opus),
                                  .first_packet = s->c.packets_sent,
                                  .total_samples = final ? s->c.samples_16k : 0,
                                  .n_packets = n_pkts,
                                  .packets = s->pkts,
                                  .packet_lens = s->pkt_lens,
                                  .end = final};
  }
  ak_stream_output o = {.message = &m,
                        .first_frame = s->c.frames_sent,
                        .n_frames = s->n_frames,
                        .weights = s->n_frames ? s->fw : NULL,
                        .head = s->n_frames ? s->fh : NULL,
                        .visemes = s->n_frames ? s->fv : NULL};
  rc = s->cfg.emit(s->cfg.user, &o);
  ak_free(owned);
  if (rc != 0) {
    s->failure = AK_STREAM_FAIL_EMIT;
    return rc < 0 ? rc : AK_EINVAL;
  }
  s->c.messages++;
  s->c.frames_sent += s->n_frames;
  s->c.packets_sent += n_pkts;
  s->n_frames = 0;
  /* keep the packets not sent yet at the front of the arena */
  size_t left = s->n_pkts - n_pkts, off = 0;
  if (left) {
    size_t from = (size_t)(s->pkts[n_pkts] - s->arena);
    memmove(s->arena, s->arena + from, s->arena_len - from);
    for (size_t i = 0; i < left; i++) {
      s->pkt_lens[i] = s->pkt_lens[n_pkts + i];
      s->pkts[i] = s->arena + off;
      off += s->pkt_lens[i];
    }
  }
  s->n_pkts = left;
  s->arena_len = off;
  return AK_OK;
}

/* Opus packet callback: gathers the packet; a full store sends what is gathered first. */
static int on_packet(void *user, const uint8_t *pkt, size_t len) {
  ak_stream *s = user;
  if (len > sizeof s->arena) {
    s->err = AK_ECODEC;
    s->failure = AK_STREAM_FAIL_INTERNAL;
    return 1;
  }
  if (s->n_pkts == AK_STREAM_MAX_PACKETS || s->arena_len + len > sizeof s->arena) {
    /* Keep motion and audio together: send what is gathered so far. The packet being
     * delivered is copied after the flush. */
    int rc = flush_out(s, FLUSH_ALL);
    if (rc != AK_OK) {
      s->err = rc;
      return 1;
    }
  }
  memcpy(s->arena + s->arena_len, pkt, len);
  s->pkts[s->n_pkts] = s->arena + s->arena_len;
  s->pkt_lens[s->n_pkts++] = len;
  s->arena_len += len;
  return 0;
}

static int pop_frames(ak_stream *s) {
  ak_motion_frame f;
  int rc;
  while ((rc = ak_engine_pop(s->eng, &f)) == 1) {
    if (s->n_frames == AK_STREAM_MAX_FRAMES && (rc = flush_out(s, FLUSH_ALIGNED)) != AK_OK)
      return rc;
    uint32_t i = s->n_frames++;
    memcpy(s->fw + (size_t)i * AK_BLENDSHAPE_COUNT, f.weights, sizeof f.weights);
    memcpy(s->fh + (size_t)i * 3, f.head, sizeof f.head);
    s->fv[i] = f.viseme;
  }
  if (rc < 0) s->failure = AK_STREAM_FAIL_INTERNAL;
  return rc < 0 ? rc : AK_OK;
}

/* The status of a codec call whose callback may have failed: the callback's code wins. */
static int codec_status(ak_stream *s, int rc) {
  if (s->err) return s->err;
  if (rc < 0 && s->failure == AK_STREAM_FAIL_NONE) s->failure = AK_STREAM_FAIL_INTERNAL;
  return rc < 0 ? rc : AK_OK;
}

/* 16 kHz samples into the engine and the Opus encoder. */
static int feed16(ak_stream *s, const float *x, size_t n) {
  if (!n) return AK_OK;
  if (s->cfg.max_request_samples && s->c.samples_16k >= s->cfg.max_request_samples) {
    s->failure = AK_STREAM_FAIL_DURATION;
    return AK_ETOOBIG;
  }
  int rc = ak_engine_push(s->eng, x, n);
  if (rc < 0) {
    s->failure = AK_STREAM_FAIL_INTERNAL;
    return rc;
  }
  if ((rc = pop_frames(s)) != AK_OK) return rc;
  if (s->opus && (rc = codec_status(s, ak_opus_encoder_push(s->opus, x, n, on_packet, s))) != AK_OK)
    return rc;
  s->c.samples_16k += n;
  return AK_OK;
}

static int feed_float(ak_stream *s, const float *x, size_t n) {
  while (n) {
    size_t c = n < s->block ? n : s->block;
    int got = ak_resampler_process(s->rs, x, c, s->out16, OUT16_CAP);
    if (got < 0) {
      s->failure = AK_STREAM_FAIL_INTERNAL;
      return got;
    }
    int rc = feed16(s, s->out16, (size_t)got);
    if (rc != AK_OK) return rc;
    x += c;
    n -= c;
  }
  return AK_OK;
}

static int on_ogg_pcm(void *user, const float *pcm, size_t n) {
  ak_stream *s = user;
  s->decoded_48k += n;
  if (s->cfg.max_decoded_per_byte &&
      s->decoded_48k > (uint64_t)s->cfg.decoded_grace +
                           s->cfg.max_decoded_per_byte * ak_ogg_decoder_bytes_used(s->ogg)) {
    s->err = AK_ETOOBIG;
    s->failure = AK_STREAM_FAIL_BUDGET;
    return 1;
  }
  int rc = feed_float(s, pcm, n);
  if (rc != AK_OK) {
    s->err = rc;
    return 1;
  }
  return 0;
}

static int feed_pcm(ak_stream *s, const uint8_t *b, size_t len) {
  if (s->have_odd && len) { /* a sample split across chunks */
    uint8_t two[2] = {s->odd, b[0]};
    ak_s16le_to_float(two, 1, s->in_f);
    int rc = feed_float(s, s->in_f, 1);
    if (rc != AK_OK) return rc;
    s->have_odd = 0;
    b++;
    len--;
  }
  size_t n = len / 2;
  while (n) {
    size_t c = n < BLOCK ? n : BLOCK;
    ak_s16le_to_float(b, c, s->in_f);
    int rc = feed_float(s, s->in_f, c);
    if (rc != AK_OK) return rc;
    b += 2 * c;
    n -= c;
  }
  if (len & 1) {
    s->have_odd = 1;
    s->odd = b[0];
  }
  return AK_OK;
}

static int feed_ogg(ak_stream *s, const uint8_t *b, size_t len) {
  int rc = ak_ogg_decoder_push(s->ogg, b, len, on_ogg_pcm, s);
  if (s->err) return s->err;
  if (rc == AK_EFORMAT || rc == AK_ECORRUPT || rc == AK_ETOOBIG)
    s->failure = AK_STREAM_FAIL_INPUT;
  else if (rc < 0)
    s->failure = AK_STREAM_FAIL_INTERNAL;
  return rc < 0 ? rc : AK_OK;
}

/* ---- request life cycle ---------------------------------------------------------------- */

static void reset_pipeline(ak_stream *s) {
  ak_engine_reset(s->eng);
  if (s->opus) ak_opus_encoder_reset(s->opus);
  ak_resampler_reset(s->rs);
  if (s->ogg) ak_ogg_decoder_reset(s->ogg);
  s->have_odd = 0;
  s->n_frames = 0;
  s->n_pkts = 0;
  s->arena_len = 0;
  s->err = 0;
  s->decoded_48k = 0;
}

int ak_stream_begin(ak_stream *s, const char *req_id) {
  if (!s) return AK_EINVAL;
  if (s->state == ST_OPEN) return AK_ESTATE;
  if (!req_id) req_id = "";
  size_t n = strlen(req_id);
  if (n > AK_STREAM_MAX_REQ_ID) return AK_EINVAL;
  reset_pipeline(s);
  memcpy(s->req_id, req_id, n + 1);
  memset(&s->c, 0, sizeof s->c);
  s->failure = AK_STREAM_FAIL_NONE;
  s->state = ST_OPEN;
  return AK_OK;
}

/* Ends a call: a failure kills the request. */
static int done(ak_stream *s, int rc) {
  if (rc != AK_OK) {
    if (s->failure == AK_STREAM_FAIL_NONE) s->failure = AK_STREAM_FAIL_INTERNAL;
    s->state = ST_FAILED;
  }
  return rc;
}

int ak_stream_push(ak_stream *s, const uint8_t *data, size_t len) {
  if (!s || (len && !data)) return AK_EINVAL;
  if (s->state != ST_OPEN) return AK_ESTATE;
  s->failure = AK_STREAM_FAIL_NONE;
  int rc = AK_OK;
  if (len || ak_stream_pending(s)) rc = s->ogg ? feed_ogg(s, data, len) : feed_pcm(s, data, len);
  if (rc == AK_OK) rc = flush_out(s, FLUSH_ALIGNED);
  return done(s, rc);
}

int ak_stream_finish(ak_stream *s, const uint8_t *data, size_t len) {
  if (!s || (len && !data)) return AK_EINVAL;
  if (s->state != ST_OPEN) return AK_ESTATE;
  s->failure = AK_STREAM_FAIL_NONE;
  int rc = AK_OK;
  if (len || ak_stream_pending(s)) rc = s->ogg ? feed_ogg(s, data, len) : feed_pcm(s, data, len);
  if (rc == AK_OK && ak_stream_pending(s)) { /* this call's share of decoding is spent */
    rc = flush_out(s, FLUSH_ALIGNED);
    return rc == AK_OK ? AK_STREAM_MORE : done(s, rc);
  }
  if (rc != AK_OK) return done(s, rc);
  rc = ak_resampler_flush(s->rs, s->out16, OUT16_CAP); /* the filter's delayed tail */
  if (rc < 0) s->failure = AK_STREAM_FAIL_INTERNAL;
  if (rc >= 0) rc = feed16(s, s->out16, (size_t)rc);
  if (rc == AK_OK && (rc = ak_engine_finish(s->eng)) != AK_OK) s->failure = AK_STREAM_FAIL_INTERNAL;
  if (rc == AK_OK) rc = pop_frames(s);
  if (rc == AK_OK && s->opus) rc = codec_status(s, ak_opus_encoder_finish(s->opus, on_packet, s));
  if (rc == AK_OK) rc = flush_out(s, FLUSH_FINAL);
  done(s, rc);
  if (rc == AK_OK) s->state = ST_IDLE;
  return rc;
}

void ak_stream_abort(ak_stream *s) {
  if (!s || s->state == ST_IDLE) return;
  reset_pipeline(s);
  s->state = ST_IDLE;
}

int ak_stream_pending(const ak_stream *s) {
  return s && s->state == ST_OPEN && s->ogg && ak_ogg_decoder_pending(s->ogg);
}

int ak_stream_active(const ak_stream *s) {
  return s && s->state == ST_OPEN;
}

ak_stream_failure_kind ak_stream_failure(const ak_stream *s) {
  return s ? s->failure : AK_STREAM_FAIL_NONE;
}

void ak_stream_get_counters(const ak_stream *s, ak_stream_counters *out) {
  if (s && out) *out = s->c;
}
