/* Engine internals, slow facial life (life.c): blinks, gaze, brows, head and breathing,
 * driven by a deterministic PRNG and the per-hop mouth parameters. Not installed; ak__ symbols
 * only. */
#ifndef AK_ENGINE_LIFE_H
#define AK_ENGINE_LIFE_H

#include <stdint.h>

#include "avatarkit/engine.h"
#include "engine_dsp.h"

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

#endif
