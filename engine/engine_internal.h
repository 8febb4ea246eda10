/* Internal types shared by the engine's files: the 10 ms analysis hop, the per-hop mouth
 * parameters, the facial "life" state and the model blob. Not installed; ak__ symbols only. */
#ifndef AK_ENGINE_INTERNAL_H
#define AK_ENGINE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "avatarkit/engine.h"

#define AK__HOP 160     /* analysis hop: 10 ms at 16 kHz */
#define AK__WIN 400     /* analysis window: 25 ms */
#define AK__RING 1024   /* sample ring, power of two >= AK__WIN + AK__HOP */
#define AK__HOPRING 256 /* hop results kept; > hops in one frame at 1 fps (100) + lookahead */
#define AK__MAX_PENDING_FRAMES 32768 /* unpopped frames an engine holds before AK_ETOOBIG */
#define AK__CENTER_MS 8 /* analysis look-ahead used to centre the window when allowed */
#define AK__SMOOTH_HOPS 2 /* max hops of symmetric smoothing look-ahead */

/* Acoustic features of one hop, computed from a window that ends AK__CENTER_MS (or less)
 * after the hop's end. */
typedef struct ak__feat {
  float db;       /* window level, dBFS */
  float low;      /* fraction of energy below ~900 Hz, 0..1 */
  float centroid; /* spectral centroid proxy, Hz */
  float f0;       /* pitch estimate, Hz (70..400); 0 when the window is not periodic */
  float clarity;  /* periodicity of the window at f0, 0..1 (0 when not periodic) */
} ak__feat;

/* Pitch of one AK__WIN window: normalised autocorrelation of a 4 kHz copy over periods of
 * 2.5..14.3 ms, the shortest period within 20% of the best peak (no octave drops), refined by
 * a parabola. Sets f0 and clarity as in ak__feat. */
void ak__pitch_compute(const float *win, float *f0, float *clarity);

/* Model output channels per hop (targets of the training data), 0..1 each. */
enum {
  AK__T_JAW, AK__T_CLOSE, AK__T_FUNNEL, AK__T_PUCKER, AK__T_STRETCH, AK__T_ROLL_LO,
  AK__T_ROLL_UP, AK__T_PRESS, AK__T_LOWER, AK__T_UPPER, AK__T_SMILE, AK__T_SHRUG_LO,
  AK__T_TONGUE, AK__T_VOICE, AK__NT
};

/* Mouth and voice parameters of one hop, 0..1 each. */
typedef struct ak__mouth {
  float jaw, close, funnel, pucker, lower, upper, stretch, press, roll, roll_up, smile, shrug,
      tongue;
  float voice; /* speech probability */
  float level; /* loudness relative to the running peak, 0..1 (drives life features) */
  float pv;    /* pitch weight: clarity when periodic, else 0 (averages linearly) */
  float pst;   /* pv x pitch in semitones above 100 Hz; pst / pv is the pitch */
} ak__mouth;

/* Deterministic PRNG (xorshift64*), seeded through splitmix64. */
typedef struct ak__rng {
  uint64_t s;
} ak__rng;

void ak__rng_seed(ak__rng *r, uint64_t seed);
uint64_t ak__rng_next(ak__rng *r);
/* Uniform in [0, 1). */
float ak__rng_unit(ak__rng *r);
/* Approximately standard normal (sum of uniforms). */
float ak__rng_gauss(ak__rng *r);

/* Slow facial life: blinks, gaze, brows, head, breathing. Survives ak_engine_reset(). */
typedef struct ak__life {
  ak__rng rng;
  double t;          /* seconds of frames produced since creation */
  double next_blink; /* time of the next blink start */
  double blink_t0;   /* start of the current blink, < 0 when none */
  float blink_dur;
  double next_saccade;
  float gaze_x, gaze_y, gaze_tx, gaze_ty; /* current and target gaze, -1..1 */
  float head_s[3], head_v[3]; /* smooth random head drift (pitch, yaw, roll) and velocity */
  float nod, nod_v;           /* prosodic nod state */
  float brow;                 /* brow raise 0..1 */
  float level_avg;            /* slow average of speech level (emphasis reference) */
  float pitch_avg;            /* slow average of voiced pitch, semitones above 100 Hz */
  int pitch_seen;             /* pitch_avg holds a measurement */
  float pitch_miss;           /* seconds of voiced pitch far from pitch_avg in a row */
  float tilt;                 /* prosodic head tilt (roll), radians */
  float prev_voice;
  double silence_s; /* seconds since voice stopped (breathing, phrase-boundary blinks) */
  float smile;
} ak__life;

void ak__life_init(ak__life *l, uint64_t seed);
/* Advances life by one frame of dt seconds and writes the non-mouth channels of f, scaled
 * by expressiveness (0 = nothing but the mouth). */
void ak__life_frame(ak__life *l, float dt, float expressiveness, const ak__mouth *m,
                    ak_motion_frame *f);

/* Model front end (mel.c): log-mel energies of one AK__WIN window. */
#define AK__FFT 512
#define AK__NMEL 32
#define AK__MEL_FW 640
typedef struct ak__mel {
  float win[AK__WIN];
  float cs[AK__FFT / 2], sn[AK__FFT / 2];
  uint16_t bstart[AK__NMEL], blen[AK__NMEL];
  float fw[AK__MEL_FW];
} ak__mel;
void ak__mel_init(ak__mel *m);
void ak__mel_compute(const ak__mel *m, const float *win, float *out);
/* Power spectrum (AK__FFT / 2 + 1 bins) of one Hann-windowed AK__WIN window. */
void ak__mel_power(const ak__mel *m, const float *win, float *pw);

/* DSP front end. */
void ak__feat_compute(const float *win, ak__feat *out);

/* DSP mouth state: level tracking and voicing hysteresis, reset per utterance. */
typedef struct ak__dsp {
  float peak_db;
  float floor_db;
  float voice_hold; /* hops of voicing hang-over left */
} ak__dsp;

void ak__dsp_init(ak__dsp *d);
void ak__dsp_mouth(ak__dsp *d, const ak__feat *f, ak__mouth *out);

/* The streaming mouth network (nn.c): weights bound from a model, and per-engine state. */
#define AK__NN_MAXH 128
typedef void (*ak__matvec_fn)(const float *W, const float *x, int rows, int cols, float *y);
typedef struct ak__nn {
  ak__matvec_fn mv; /* kernel chosen at bind time: SIMD when the CPU has it */
  int nmel, hidden, nt, lookahead;
  const float *mean, *std, *conv_w, *conv_b, *w_ih, *w_hh, *b_ih, *b_hh, *out_w, *out_b;
} ak__nn;

typedef struct ak__nn_state {
  float hist[3 * AK__NMEL]; /* normalised features of hops j-2, j-1, j */
  float h[AK__NN_MAXH];
} ak__nn_state;

/* Binds and shape-checks the network whose records are named prefix + "meta", prefix +
 * "conv.w", ... ("" = the main network, AK__NN_LOWLAT = the zero-lookahead one): AK_OK, or
 * AK_EFORMAT when m holds no such network (or a malformed one). */
#define AK__NN_LOWLAT "ll."
int ak__nn_bind(const ak_model *m, const char *prefix, ak__nn *nn);
/* 1 when m has a network under prefix (its meta record), well-formed or not. */
int ak__nn_has(const ak_model *m, const char *prefix);
void ak__nn_reset(const ak__nn *nn, ak__nn_state *s);
/* One hop: raw log-mel in, AK__NT sigmoid outputs for hop j - lookahead out. */
void ak__nn_step(const ak__nn *nn, ak__nn_state *s, const float *feat, float *out);
/* y[r] += sum_c W[r * cols + c] * x[c]: the plain C reference kernel. */
void ak__matvec_ref(const float *W, const float *x, int rows, int cols, float *y);
/* The fastest kernel this CPU runs (AVX2+FMA on x86-64 when present, else the reference). */
ak__matvec_fn ak__matvec_best(void);
/* Selects the engine's kernel: 1 = best available, 0 = plain C reference (tests, bench). */
void ak__engine_use_simd(ak_engine *e, int simd);

/* Weights blob. */
#define AK__MODEL_MAGIC "AKMW"
#define AK__MODEL_VERSION 1u
#define AK__MODEL_NAME_LEN 32
#define AK__MODEL_MAX_DIMS 4
#define AK__MODEL_MAX_RECORDS 256
#define AK__MODEL_MAX_BYTES (16u * 1024u * 1024u)

typedef struct ak__record {
  char name[AK__MODEL_NAME_LEN];
  uint32_t ndims;
  uint32_t dims[AK__MODEL_MAX_DIMS];
  uint32_t count;    /* number of float32 values */
  const float *data; /* aligned copy owned by the model */
} ak__record;

struct ak_model {
  uint32_t nrec;
  ak__record *rec;
  float *store; /* all record data, 4-byte aligned */
  size_t store_len;
};

/* Finds a record by name; NULL when absent. */
const ak__record *ak__model_find(const ak_model *m, const char *name);
uint32_t ak__crc32(const void *data, size_t len);

/* Clamps to [lo, hi]; NaN becomes lo, so nothing non-finite reaches a frame. */
static inline float ak__clampf(float x, float lo, float hi) {
  return !(x >= lo) ? lo : (x > hi ? hi : x);
}

static inline float ak__smoothstep(float e0, float e1, float x) {
  float t = ak__clampf((x - e0) / (e1 - e0), 0.0f, 1.0f);
  return t * t * (3.0f - 2.0f * t);
}

#endif
