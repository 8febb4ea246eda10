/* Engine internals, signal side: the 10 ms analysis hop, acoustic features and pitch (dsp.c),
 * the DSP mouth state, the log-mel front end of the model (mel.c), the per-hop mouth
 * parameters every stage shares, and small clamping helpers. Not installed; ak__ symbols only. */
#ifndef AK_ENGINE_DSP_H
#define AK_ENGINE_DSP_H

#include <stddef.h>
#include <stdint.h>

#include "avatarkit/engine.h"

#define AK__HOP 160     /* analysis hop: 10 ms at 16 kHz */
#define AK__WIN 400     /* analysis window: 25 ms */
#define AK__CENTER_MS 8 /* analysis look-ahead used to centre the window when allowed */

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

/* Mouth and voice parameters of one hop, 0..1 each. */
typedef struct ak__mouth {
  float jaw, close, funnel, pucker, lower, upper, stretch, press, roll, roll_up, smile, shrug,
      tongue;
  float voice; /* speech probability */
  float level; /* loudness relative to the running peak, 0..1 (drives life features) */
  float pv;    /* pitch weight: clarity when periodic, else 0 (averages linearly) */
  float pst;   /* pv x pitch in semitones above 100 Hz; pst / pv is the pitch */
} ak__mouth;

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

/* Clamps to [lo, hi]; NaN becomes lo, so nothing non-finite reaches a frame. */
static inline float ak__clampf(float x, float lo, float hi) {
  return !(x >= lo) ? lo : (x > hi ? hi : x);
}

static inline float ak__smoothstep(float e0, float e1, float x) {
  float t = ak__clampf((x - e0) / (e1 - e0), 0.0f, 1.0f);
  return t * t * (3.0f - 2.0f * t);
}

#endif
