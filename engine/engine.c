/* The streaming engine: buffers 16 kHz samples, runs the 10 ms analysis hops as soon as
 * their window (plus the allowed look-ahead) is available, smooths them, and assembles
 * frames at the session rate with the exact frame-count contract of engine.h. Everything
 * depends only on sample positions, never on how the audio was chunked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "alloc_internal.h"

struct ak_engine {
  ak_engine_config cfg;
  int la;  /* lookahead in samples */
  int ana; /* analysis look-ahead: the hop window ends this many samples after the hop */
  int dsm; /* symmetric smoothing half-width in hops (uses future hops) */
  int finished;
  uint64_t n;           /* samples of this utterance written into the ring (zeros after finish) */
  uint64_t n_real;      /* real samples pushed in this utterance */
  uint64_t n_raw;       /* hops analysed */
  uint64_t n_out;       /* hops smoothed */
  uint64_t next_frame;  /* index of the next frame to assemble */
  uint64_t frame_limit; /* after finish: total frames of the utterance */
  ak__dsp dsp;
  ak__life life;
  ak_model *own_model; /* the parsed built-in model when cfg.model was NULL */
  int use_nn;          /* 1: network mouth; 0: DSP mouth */
  int mlag;            /* hops of feature look-ahead the mouth needs (network look-ahead) */
  ak__nn nn;
  ak__nn_state nns;
  ak__mel mel;
  float ring[AK__RING];
  ak__mouth raw[AK__HOPRING];
  float hop_db[AK__HOPRING]; /* window level of each hop (network mouth: silence, quiet gate) */
  float speech_db;           /* running voice level of the quiet gate (engine_internal.h) */
  ak__mouth out[AK__HOPRING];
  ak_motion_frame *q; /* FIFO of assembled frames, grows up to AK__MAX_PENDING_FRAMES */
  size_t qcap, qhead, qlen;
};

void ak_engine_config_default(ak_engine_config *cfg) {
  if (!cfg) return;
  memset(cfg, 0, sizeof *cfg);
  cfg->fps = 25;
  cfg->lookahead_ms = 80;
  cfg->expressiveness = 0.7f;
  cfg->seed = 0;
  cfg->model = NULL;
}

/* First sample of frame i: ceil(i * 16000 / fps). */
static uint64_t frame_start(const ak_engine *e, uint64_t i) {
  uint64_t fps = (uint64_t)e->cfg.fps;
  return (i * AK_ENGINE_SAMPLE_RATE + fps - 1) / fps;
}

/* Hops [k0, k1] averaged into frame i; k1 < 0 means the frame precedes any hop (rest). The
 * last hop is the one ending at or after the frame's end, limited so that its smoothed value
 * needs no audio past the frame end + lookahead. */
static void frame_hops(const ak_engine *e, uint64_t i, int64_t *k0, int64_t *k1) {
  int64_t s = (int64_t)frame_start(e, i), end = (int64_t)frame_start(e, i + 1);
  int64_t a = (end + AK__HOP - 1) / AK__HOP - 1;
  int64_t b = (end + e->la - e->ana) / AK__HOP - 1 - e->dsm - e->mlag;
  if (end + e->la < e->ana) b = -1;
  int64_t hi = a < b ? a : b;
  int64_t lo = s / AK__HOP;
  *k1 = hi;
  *k0 = lo < hi ? lo : hi;
}

static void mouth_zero(ak__mouth *m) {
  memset(m, 0, sizeof *m);
}

/* The mouth as a flat vector, for averaging. */
#define MOUTH_N (sizeof(ak__mouth) / sizeof(float))
_Static_assert(sizeof(ak__mouth) == 17 * sizeof(float), "ak__mouth is floats only");

static void mouth_axpy(float w, const ak__mouth *x, float *acc) {
  float v[MOUTH_N];
  memcpy(v, x, sizeof v);
  for (size_t c = 0; c < MOUTH_N; c++) acc[c] += w * v[c];
}

/* The quiet gate for the network's hop k (engine_internal.h, "quiet.db" in engine_nn.h): 1
 * where some hop near k is within rel of the running speech level, 0 where all stay span
 * further down. Sound far under the speech just heard (a faint voice behind the speaker, a
 * reverberant or synthetic tail, breath before the first word) then leaves the mouth at rest;
 * the window bridges the quiet consonants and closures inside speech. */
static float quiet_gate(const ak_engine *e, int64_t k) {
  float mx = -1e9f;
  for (int64_t j = k - AK__QUIET_BACK; j <= k + AK__QUIET_FWD && j <= (int64_t)e->n_raw; j++)
    if (j >= 0 && e->hop_db[(uint64_t)j % AK__HOPRING] > mx)
      mx = e->hop_db[(uint64_t)j % AK__HOPRING];
  float top = e->speech_db - e->nn.quiet_rel;
  return ak__smoothstep(top - e->nn.quiet_span, top, mx);
}

/* Analyses hop n_raw from the ring, whose window ends at (k + 1) * HOP + ana. */
static void run_hop(ak_engine *e) {
  float win[AK__WIN];
  uint64_t end = (e->n_raw + 1) * AK__HOP + (uint64_t)e->ana;
  for (int i = 0; i < AK__WIN; i++) {
    uint64_t pos = end - AK__WIN + (uint64_t)i; /* wraps for negative positions: ring is 0 */
    win[i] = e->ring[pos & (AK__RING - 1)];
  }
  ak__feat f;
  ak__feat_compute(win, &f);
  ak__mouth *cur = &e->raw[e->n_raw % AK__HOPRING];
  ak__dsp_mouth(&e->dsp, &f, cur);
  e->hop_db[e->n_raw % AK__HOPRING] = f.db;
  if (e->use_nn) {
    float mel[AK__NMEL], y[AK__NN_MAXNT];
    ak__mel_compute(&e->mel, win, mel);
    ak__nn_step(&e->nn, &e->nns, mel, y);
    int64_t k = (int64_t)e->n_raw - e->mlag; /* the hop this output describes */
    if (k >= 0) {
      ak__mouth *m = &e->raw[(uint64_t)k % AK__HOPRING];
      /* Voice activity from the network gates the mouth: pauses rest. */
      float gate = ak__smoothstep(0.3f, 0.6f, y[AK__T_VOICE]);
      /* Digital silence (a window under -95 dBFS, e.g. exact zeros) rests whatever the network
       * says: trained with noise floors everywhere, it has no reason to know exact zeros. */
      float kdb = e->hop_db[(uint64_t)k % AK__HOPRING];
      int silent = kdb < AK__SILENT_DB;
      if (silent) gate = 0.0f;
      /* The quiet gate's speech level: voiced hops louder than it raise it, by at most
       * AK__QUIET_RISE_DB a hop (a knock or a noise burst is not voice, or too short to lift it
       * far even where the network hears voice in it), else it falls. */
      if (y[AK__T_VOICE] >= 0.5f && kdb > e->speech_db)
        e->speech_db += fminf(0.5f * (kdb - e->speech_db), AK__QUIET_RISE_DB);
      else
        e->speech_db = fmaxf(e->speech_db - 0.03f, AK__QUIET_FLOOR_DB);
      float quiet = e->nn.quiet_span > 0.0f ? quiet_gate(e, k) : 1.0f;
      gate *= quiet;
      m->jaw = gate * y[AK__T_JAW];
      m->close = gate * y[AK__T_CLOSE];
      m->funnel = gate * y[AK__T_FUNNEL];
      m->pucker = gate * y[AK__T_PUCKER];
      m->stretch = gate * y[AK__T_STRETCH];
      m->roll = gate * y[AK__T_ROLL_LO];
      m->roll_up = gate * y[AK__T_ROLL_UP];
      m->press = gate * y[AK__T_PRESS];
      m->lower = gate * y[AK__T_LOWER];
      m->upper = gate * y[AK__T_UPPER];
      m->smile = gate * y[AK__T_SMILE];
      m->shrug = gate * y[AK__T_SHRUG_LO];
      m->tongue = gate * y[AK__T_TONGUE];
      if (e->nn.nt > AK__T_LIPS) { /* the closure decision (engine_nn.h) */
        float lips = gate * ak__smoothstep(e->nn.lips_lo, e->nn.lips_hi, y[AK__T_LIPS]);
        m->close += lips * (m->jaw - m->close);
        if (m->close < 0.0f) m->close = 0.0f;
        m->press += lips * (fmaxf(m->press, 0.45f) - m->press);
        m->roll += lips * (fmaxf(m->roll, 0.25f) - m->roll);
        m->roll_up += lips * (fmaxf(m->roll_up, 0.15f) - m->roll_up);
      }
      if (e->nn.nt > AK__T_ROUND) { /* the rounding decision (engine_nn.h) */
        float rnd = gate * ak__smoothstep(e->nn.round_lo, e->nn.round_hi, y[AK__T_ROUND]);
        m->funnel += rnd * (fmaxf(m->funnel, e->nn.round_funnel) - m->funnel);
        m->pucker += rnd * (fmaxf(m->pucker, e->nn.round_pucker) - m->pucker);
      }
      /* Voiced: the network hears voice and the quiet gate is open (a faint voice behind the
       * speaker is not the avatar speaking; the gate's window bridges pauses inside words). */
      m->voice = y[AK__T_VOICE] >= 0.5f && quiet >= 0.5f ? 1.0f : 0.0f;
      /* m->level keeps the DSP loudness: it drives the facial life. */
    }
  }
  e->n_raw++;
  /* Smooth hop k = n_raw - 1 - dsm with a triangular window over [k - dsm, k + dsm]. */
  while ((int64_t)e->n_out <= (int64_t)e->n_raw - 1 - e->dsm - e->mlag) {
    int64_t k = (int64_t)e->n_out;
    float acc[MOUTH_N] = {0};
    float wsum = 0.0f;
    for (int j = -e->dsm; j <= e->dsm; j++) {
      float w = (float)(e->dsm + 1 - abs(j));
      wsum += w;
      if (k + j < 0) continue; /* before the utterance: rest */
      mouth_axpy(w, &e->raw[(uint64_t)(k + j) % AK__HOPRING], acc);
    }
    for (size_t c = 0; c < MOUTH_N; c++) acc[c] /= wsum;
    ak__mouth *o = &e->out[(uint64_t)k % AK__HOPRING];
    memcpy(o, acc, sizeof *o);
    o->voice = o->voice >= 0.5f ? 1.0f : 0.0f;
    e->n_out++;
  }
}

static uint8_t viseme_of(const ak__mouth *m) {
  if (m->voice < 0.5f) return 0;
  if (m->press > 0.2f && m->jaw < 0.1f) return 3;     /* closed lips */
  if (m->pucker + m->funnel > 0.35f) return 2;        /* rounded */
  if (m->stretch > 0.18f && m->jaw < 0.25f) return 4; /* spread / fricative */
  return 1;                                           /* open */
}

static void assemble_frame(ak_engine *e, ak_motion_frame *f) {
  int64_t k0, k1;
  frame_hops(e, e->next_frame, &k0, &k1);
  ak__mouth m;
  mouth_zero(&m);
  if (k1 >= 0) {
    float acc[MOUTH_N] = {0};
    float inv = 1.0f / (float)(k1 - k0 + 1);
    for (int64_t k = k0; k <= k1; k++) mouth_axpy(inv, &e->out[(uint64_t)k % AK__HOPRING], acc);
    memcpy(&m, acc, sizeof m);
    m.voice = m.voice >= 0.5f ? 1.0f : 0.0f;
  }
  memset(f, 0, sizeof *f);
  f->index = (uint32_t)e->next_frame;
  ak__life_frame(&e->life, 1.0f / (float)e->cfg.fps, e->cfg.expressiveness, &m, f);
  float *w = f->weights;
  w[AK_JAW_OPEN] = ak__clampf(m.jaw, 0.0f, 1.0f);
  w[AK_MOUTH_CLOSE] = ak__clampf(m.close, 0.0f, 1.0f);
  w[AK_MOUTH_FUNNEL] = ak__clampf(m.funnel, 0.0f, 1.0f);
  w[AK_MOUTH_PUCKER] = ak__clampf(m.pucker, 0.0f, 1.0f);
  w[AK_MOUTH_LOWER_DOWN_LEFT] = w[AK_MOUTH_LOWER_DOWN_RIGHT] = ak__clampf(m.lower, 0.0f, 1.0f);
  w[AK_MOUTH_UPPER_UP_LEFT] = w[AK_MOUTH_UPPER_UP_RIGHT] = ak__clampf(m.upper, 0.0f, 1.0f);
  w[AK_MOUTH_STRETCH_LEFT] = w[AK_MOUTH_STRETCH_RIGHT] = ak__clampf(m.stretch, 0.0f, 1.0f);
  w[AK_MOUTH_PRESS_LEFT] = w[AK_MOUTH_PRESS_RIGHT] = ak__clampf(m.press, 0.0f, 1.0f);
  w[AK_MOUTH_ROLL_LOWER] = ak__clampf(m.roll, 0.0f, 1.0f);
  w[AK_MOUTH_ROLL_UPPER] = ak__clampf(m.roll_up, 0.0f, 1.0f);
  w[AK_MOUTH_SHRUG_LOWER] = ak__clampf(m.shrug, 0.0f, 1.0f);
  w[AK_TONGUE_OUT] = ak__clampf(m.tongue, 0.0f, 1.0f);
  /* Rounded or spread lips take over from the idle smile. */
  float smile_keep = 1.0f - ak__clampf(2.0f * (m.funnel + m.pucker), 0.0f, 1.0f);
  for (int side = 0; side < 2; side++) {
    float *sm = &w[side ? AK_MOUTH_SMILE_RIGHT : AK_MOUTH_SMILE_LEFT];
    *sm *= smile_keep;
    if (m.smile > *sm) *sm = ak__clampf(m.smile, 0.0f, 1.0f);
  }
  f->viseme = viseme_of(&m);
  f->voice = m.voice >= 0.5f ? 1 : 0;
  e->next_frame++;
}

/* Frames whose hops are all analysed and that are due: before finish, frame i is due once
 * its end + lookahead is covered by real audio; after finish, every frame of the utterance. */
static int frame_due(const ak_engine *e) {
  uint64_t i = e->next_frame;
  if (e->finished) {
    if (i >= e->frame_limit) return 0;
  } else if (frame_start(e, i + 1) + (uint64_t)e->la > e->n_real) {
    return 0;
  }
  int64_t k0, k1;
  frame_hops(e, i, &k0, &k1);
  return k1 < (int64_t)e->n_out;
}

static int emit_frames(ak_engine *e) {
  while (frame_due(e)) {
    if (e->qlen == e->qcap) {
      size_t nc = e->qcap ? e->qcap * 2 : 16;
      if (nc > AK__MAX_PENDING_FRAMES) nc = AK__MAX_PENDING_FRAMES;
      if (nc <= e->qcap) return AK_ETOOBIG; /* unreachable: push checks first */
      ak_motion_frame *nq = ak__malloc(nc * sizeof *nq);
      if (!nq) return AK_ENOMEM;
      for (size_t j = 0; j < e->qlen; j++) nq[j] = e->q[(e->qhead + j) % e->qcap];
      ak__free(e->q);
      e->q = nq;
      e->qcap = nc;
      e->qhead = 0;
    }
    assemble_frame(e, &e->q[(e->qhead + e->qlen) % e->qcap]);
    e->qlen++;
  }
  return AK_OK;
}

/* Writes n samples (or zeros when s is NULL) into the ring, analysing hops and assembling
 * frames at every boundary they become possible. */
static int feed(ak_engine *e, const float *s, size_t n, int real) {
  while (n > 0) {
    uint64_t hop_need = (e->n_raw + 1) * AK__HOP + (uint64_t)e->ana;
    uint64_t take = hop_need - e->n;
    if (take > n) take = n;
    if (real) {
      uint64_t frame_need = frame_start(e, e->next_frame + 1) + (uint64_t)e->la;
      if (frame_need > e->n && frame_need - e->n < take) take = frame_need - e->n;
    }
    for (uint64_t j = 0; j < take; j++) {
      float x = 0.0f;
      if (s) {
        x = s[j];
        if (!isfinite(x)) x = 0.0f;
        x = ak__clampf(x, -4.0f, 4.0f);
      }
      e->ring[(e->n + j) & (AK__RING - 1)] = x;
    }
    e->n += take;
    if (real) e->n_real += take;
    if (s) s += take;
    n -= (size_t)take;
    if (e->n == hop_need) run_hop(e);
    int rc = emit_frames(e);
    if (rc < 0) return rc;
  }
  return AK_OK;
}

int ak_engine_new(const ak_engine_config *cfg, ak_engine **out) {
  ak_engine_config def;
  if (!out) return AK_EINVAL;
  if (!cfg) {
    ak_engine_config_default(&def);
    cfg = &def;
  }
  if (cfg->fps < 1 || cfg->fps > AK_ENGINE_MAX_FPS) return AK_EINVAL;
  if (cfg->lookahead_ms < 0 || cfg->lookahead_ms > AK_ENGINE_MAX_LOOKAHEAD_MS) return AK_EINVAL;
  if (!(cfg->expressiveness >= 0.0f && cfg->expressiveness <= 1.0f)) return AK_EINVAL;
  ak_engine *e = ak__calloc(1, sizeof *e);
  if (!e) return AK_ENOMEM;
  e->cfg = *cfg;
  const ak_model *model = cfg->model;
  if (!model) {
    int rc = ak_model_load_default(&e->own_model);
    if (rc < 0 && rc != AK_EFORMAT) { /* EFORMAT: built without a default network */
      ak__free(e);
      return rc;
    }
    model = e->own_model;
  }
  e->la = cfg->lookahead_ms * (AK_ENGINE_SAMPLE_RATE / 1000);
  if (model && ak__nn_has(model, "")) {
    int rc = ak__nn_bind(model, "", &e->nn);
    /* A lookahead too short for the main network's acoustic look-ahead would make its mouth
     * lag; the zero-lookahead network, when the model has one, keeps it on time. It is
     * checked whatever the lookahead, so a malformed one is refused consistently. */
    if (rc == AK_OK && ak__nn_has(model, AK__NN_LOWLAT)) {
      ak__nn ll;
      rc = ak__nn_bind(model, AK__NN_LOWLAT, &ll);
      if (rc == AK_OK && ll.lookahead >= e->nn.lookahead) rc = AK_EFORMAT;
      if (rc == AK_OK && e->la < AK__CENTER_MS * 16 + e->nn.lookahead * AK__HOP) e->nn = ll;
    }
    if (rc < 0) {
      ak_model_free(e->own_model);
      ak__free(e);
      return rc;
    }
    e->use_nn = 1;
    e->mlag = e->nn.lookahead;
    ak__mel_init(&e->mel);
  }
  if (e->use_nn) {
    /* The network was trained on windows ending 8 ms past the hop: keep that alignment and
     * let a short lookahead lag instead. Light smoothing when there is room. */
    e->ana = AK__CENTER_MS * 16;
    e->dsm = (e->la - e->ana) / AK__HOP - e->mlag - 1 >= 1 ? 1 : 0;
  } else {
    e->ana = e->la < AK__CENTER_MS * 16 ? e->la : AK__CENTER_MS * 16;
    e->dsm = (e->la - e->ana) / AK__HOP;
    if (e->dsm > AK__SMOOTH_HOPS) e->dsm = AK__SMOOTH_HOPS;
  }
  ak__life_init(&e->life, cfg->seed);
  ak_engine_reset(e);
  *out = e;
  return AK_OK;
}

void ak_engine_free(ak_engine *e) {
  if (!e) return;
  ak__free(e->q);
  ak_model_free(e->own_model);
  ak__free(e);
}

void ak_engine_reset(ak_engine *e) {
  if (!e) return;
  e->finished = 0;
  e->n = e->n_real = e->n_raw = e->n_out = e->next_frame = e->frame_limit = 0;
  e->qhead = e->qlen = 0;
  memset(e->ring, 0, sizeof e->ring);
  memset(e->raw, 0, sizeof e->raw);
  memset(e->hop_db, 0, sizeof e->hop_db);
  e->speech_db = AK__QUIET_INIT_DB;
  ak__dsp_init(&e->dsp);
  if (e->use_nn) ak__nn_reset(&e->nn, &e->nns);
}

/* Frames due once `total` real samples have arrived (before finish). */
static uint64_t frames_due_at(const ak_engine *e, uint64_t total) {
  if (total < (uint64_t)e->la) return 0;
  return (total - (uint64_t)e->la) * (uint64_t)e->cfg.fps / AK_ENGINE_SAMPLE_RATE;
}

int ak_engine_push(ak_engine *e, const float *samples, size_t n) {
  if (!e || (!samples && n > 0)) return AK_EINVAL;
  if (e->finished) return AK_ESTATE;
  if (n == 0) return AK_OK;
  uint64_t popped = e->next_frame - e->qlen;
  if (frames_due_at(e, e->n_real + n) - popped > AK__MAX_PENDING_FRAMES) return AK_ETOOBIG;
  return feed(e, samples, n, 1);
}

int ak_engine_finish(ak_engine *e) {
  if (!e) return AK_EINVAL;
  if (e->finished) return AK_ESTATE;
  uint64_t fps = (uint64_t)e->cfg.fps;
  uint64_t total = (e->n_real * fps + AK_ENGINE_SAMPLE_RATE - 1) / AK_ENGINE_SAMPLE_RATE;
  uint64_t popped = e->next_frame - e->qlen;
  if (total - popped > AK__MAX_PENDING_FRAMES) return AK_ETOOBIG;
  e->finished = 1;
  e->frame_limit = total;
  int rc = emit_frames(e);
  /* Pad with silence until the last frame's hops exist. */
  while (rc == AK_OK && e->next_frame < e->frame_limit) {
    uint64_t hop_need = (e->n_raw + 1) * AK__HOP + (uint64_t)e->ana;
    rc = feed(e, NULL, (size_t)(hop_need - e->n), 0);
  }
  return rc;
}

int ak_engine_pop(ak_engine *e, ak_motion_frame *out) {
  if (!e || !out) return AK_EINVAL;
  if (e->qlen == 0) return 0;
  *out = e->q[e->qhead];
  e->qhead = (e->qhead + 1) % e->qcap;
  e->qlen--;
  return 1;
}

int ak_engine_lookahead_samples(const ak_engine *e) {
  return e ? e->la : 0;
}

size_t ak_engine_memory(const ak_engine *e) {
  if (!e) return 0;
  size_t own = 0;
  if (e->own_model)
    own = sizeof *e->own_model + e->own_model->nrec * sizeof(ak__record) +
          e->own_model->store_len * sizeof(float);
  return sizeof *e + e->qcap * sizeof(ak_motion_frame) + own;
}

void ak__engine_use_simd(ak_engine *e, int simd) {
  if (e && e->use_nn) e->nn.mv = simd ? ak__matvec_best() : ak__matvec_ref;
}
