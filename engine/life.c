/* Facial life driven by the voice track and a seeded PRNG: blinks (more at phrase ends),
 * gaze with saccades, brow raises on pitch accents and loud syllables, head drift, prosodic
 * nods and tilts, and idle breathing.
 * Everything here is scaled by the session's expressiveness; 0 leaves only the mouth. */
#include <math.h>

#include "engine_life.h"

#define TWO_PI 6.28318530717958647692f

void ak__rng_seed(ak__rng *r, uint64_t seed) {
  /* splitmix64 step, so nearby seeds give unrelated streams; never zero. */
  uint64_t z = seed + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  r->s = z ? z : 0x2545F4914F6CDD1Dull;
}

uint64_t ak__rng_next(ak__rng *r) {
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

float ak__rng_unit(ak__rng *r) {
  return (float)(ak__rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

float ak__rng_gauss(ak__rng *r) {
  float s = 0.0f;
  for (int i = 0; i < 4; i++) s += ak__rng_unit(r);
  return (s - 2.0f) * 1.7320508f; /* variance of 4 uniforms is 1/3 */
}

/* Seconds to the next spontaneous blink: 1.2 s minimum plus an exponential tail (mean
 * ~2.8 s), capped at 9 s: about 15-20 blinks a minute as in conversation. */
static double blink_interval(ak__rng *r) {
  float u = ak__rng_unit(r);
  double t = 1.2 - 2.8 * log(1.0 - (double)u * 0.999);
  return t > 9.0 ? 9.0 : t;
}

void ak__life_init(ak__life *l, uint64_t seed) {
  ak__rng_seed(&l->rng, seed);
  l->t = 0.0;
  l->next_blink = 0.4 + 2.5 * ak__rng_unit(&l->rng);
  l->blink_t0 = -1.0;
  l->blink_dur = 0.2f;
  l->next_saccade = 0.3 + ak__rng_unit(&l->rng);
  l->gaze_x = l->gaze_y = l->gaze_tx = l->gaze_ty = 0.0f;
  for (int i = 0; i < 3; i++) l->head_s[i] = l->head_v[i] = 0.0f;
  l->nod = l->nod_v = 0.0f;
  l->brow = 0.0f;
  l->level_avg = 0.5f;
  l->pitch_avg = 0.0f;
  l->pitch_seen = 0;
  l->pitch_miss = 0.0f;
  l->tilt = 0.0f;
  l->prev_voice = 0.0f;
  l->silence_s = 10.0;
  l->smile = 0.0f;
}

static float blink_shape(double p) {
  /* Fast close (35%), short hold, slower open. */
  if (p < 0.0 || p >= 1.0) return 0.0f;
  if (p < 0.35) return ak__smoothstep(0.0f, 0.35f, (float)p);
  if (p < 0.45) return 1.0f;
  return 1.0f - ak__smoothstep(0.45f, 1.0f, (float)p);
}

void ak__life_frame(ak__life *l, float dt, float expr, const ak__mouth *m, ak_motion_frame *f) {
  ak__rng *r = &l->rng;
  const double t = l->t;
  const float voice = m->voice;

  /* Phrase boundaries: voice just stopped. */
  int phrase_end = l->prev_voice >= 0.5f && voice < 0.5f;
  if (voice >= 0.5f)
    l->silence_s = 0.0;
  else
    l->silence_s += dt;

  /* Blinks. */
  if (phrase_end && l->blink_t0 < 0.0 && ak__rng_unit(r) < 0.6f) {
    double soon = t + 0.05 + 0.25 * ak__rng_unit(r);
    if (soon < l->next_blink) l->next_blink = soon;
  }
  if (l->blink_t0 < 0.0 && t >= l->next_blink) {
    l->blink_t0 = t;
    l->blink_dur = 0.15f + 0.12f * ak__rng_unit(r);
    if (ak__rng_unit(r) < 0.08f) /* occasional double blink */
      l->next_blink = t + l->blink_dur + 0.12;
    else
      l->next_blink = t + l->blink_dur + blink_interval(r);
  }
  float blink = 0.0f;
  if (l->blink_t0 >= 0.0) {
    double p = (t - l->blink_t0) / l->blink_dur;
    blink = blink_shape(p);
    if (p >= 1.0) l->blink_t0 = -1.0;
  }

  /* Gaze: saccades to a new target every 0.5-3 s, nearer the listener while speaking, with
   * micro-saccade jitter in between. */
  if (t >= l->next_saccade) {
    float spread = voice >= 0.5f ? 0.35f : 0.7f;
    l->gaze_tx = ak__clampf(ak__rng_gauss(r) * 0.35f * spread, -1.0f, 1.0f);
    l->gaze_ty = ak__clampf(ak__rng_gauss(r) * 0.2f * spread, -1.0f, 1.0f);
    l->next_saccade = t + 0.5 + 2.5 * ak__rng_unit(r);
  } else if (ak__rng_unit(r) < dt * 1.5f) {
    l->gaze_tx = ak__clampf(l->gaze_tx + ak__rng_gauss(r) * 0.04f, -1.0f, 1.0f);
    l->gaze_ty = ak__clampf(l->gaze_ty + ak__rng_gauss(r) * 0.03f, -1.0f, 1.0f);
  }
  float ga = ak__clampf(dt / 0.03f, 0.0f, 1.0f); /* saccades take ~30 ms */
  l->gaze_x += (l->gaze_tx - l->gaze_x) * ga;
  l->gaze_y += (l->gaze_ty - l->gaze_y) * ga;

  /* Emphasis: loud voiced frames above the running level raise the brows and kick a nod. */
  float emph = 0.0f;
  if (voice >= 0.5f) {
    emph = ak__smoothstep(0.1f, 0.3f, m->level - l->level_avg);
    float a = ak__clampf(dt / 1.5f, 0.0f, 1.0f);
    l->level_avg += (m->level - l->level_avg) * a;
  }
  /* Pitch accents: voiced frames well above the speaker's running pitch (a per-speaker
   * reference, so low and high voices behave alike). They raise the brows, kick nods and tilt
   * the head slightly with the melody. */
  float accent = 0.0f, rise = 0.0f;
  if (voice >= 0.5f && m->pv > 0.3f) {
    float st = m->pst / m->pv;
    if (!l->pitch_seen) {
      l->pitch_avg = st;
      l->pitch_seen = 1;
    }
    rise = st - l->pitch_avg;
    if (fabsf(rise) > 9.0f) {
      /* Most likely an octave error of the tracker: ignore the frame, unless it lasts (then
       * the reference itself was wrong, or the speaker changed): start again from here. */
      l->pitch_miss += dt;
      if (l->pitch_miss > 0.3f) l->pitch_avg = st;
      rise = 0.0f;
    } else {
      l->pitch_miss = 0.0f;
      accent = ak__smoothstep(1.5f, 4.0f, rise);
      l->pitch_avg += rise * ak__clampf(dt / 2.0f, 0.0f, 1.0f);
    }
  }
  float tilt_target = voice >= 0.5f ? 0.05f * ak__clampf(rise / 6.0f, -1.0f, 1.0f) : 0.0f;
  l->tilt += (tilt_target - l->tilt) * ak__clampf(dt / 0.25f, 0.0f, 1.0f);
  float prom = accent > emph ? accent : emph; /* prominence: pitch or loudness */
  float brow_target = ak__clampf(accent + 0.6f * emph, 0.0f, 1.0f);
  float ba = brow_target > l->brow ? ak__clampf(dt / 0.08f, 0.0f, 1.0f)
                                   : ak__clampf(dt / 0.45f, 0.0f, 1.0f);
  l->brow += (brow_target - l->brow) * ba;

  /* Head: damped springs driven by white noise (drift), louder while speaking, plus a nod
   * spring kicked by emphasis. */
  static const float w0 = 0.95f, zeta = 0.7f, wn = 9.0f, zn = 0.8f;
  static const float sigma[3] = {0.05f, 0.08f, 0.035f}; /* ~0.035/0.05/0.023 rad std */
  float sd = sqrtf(dt);
  for (int i = 0; i < 3; i++)
    l->head_v[i] += sigma[i] * (1.0f + 0.8f * voice) * sd * ak__rng_gauss(r);
  if (prom > 0.5f && l->nod < 0.01f) l->nod_v += 0.25f * prom;
  /* Integrate the springs in <= 10 ms sub-steps so any frame rate stays stable. */
  int nsub = (int)ceilf(dt / 0.01f);
  if (nsub < 1) nsub = 1;
  float h = dt / (float)nsub;
  for (int s = 0; s < nsub; s++) {
    for (int i = 0; i < 3; i++) {
      l->head_v[i] += (-w0 * w0 * l->head_s[i] - 2.0f * zeta * w0 * l->head_v[i]) * h;
      l->head_s[i] += l->head_v[i] * h;
    }
    l->nod_v += (-wn * wn * l->nod - 2.0f * zn * wn * l->nod_v) * h;
    l->nod += l->nod_v * h;
  }
  float breath = 0.0f;
  if (l->silence_s > 0.4) {
    float fade = ak__smoothstep(0.4f, 1.5f, (float)l->silence_s);
    breath = fade * sinf(TWO_PI * 0.25f * (float)t);
  }
  float slow = 0.5f + 0.5f * sinf(TWO_PI * 0.03f * (float)t + 1.3f);
  l->smile = 0.04f + 0.06f * slow;

  /* Write the non-mouth channels. */
  const float e = ak__clampf(expr, 0.0f, 1.0f);
  const float be = ak__clampf(3.0f * e, 0.0f, 1.0f); /* blinks stay full-size down to 0.33 */
  float *w = f->weights;
  w[AK_EYE_BLINK_LEFT] = w[AK_EYE_BLINK_RIGHT] = blink * be;
  float gx = l->gaze_x * e, gy = l->gaze_y * e;
  /* gx > 0: looking to the avatar's left (left eye out, right eye in). */
  w[AK_EYE_LOOK_OUT_LEFT] = ak__clampf(gx, 0.0f, 1.0f);
  w[AK_EYE_LOOK_IN_RIGHT] = ak__clampf(gx, 0.0f, 1.0f);
  w[AK_EYE_LOOK_IN_LEFT] = ak__clampf(-gx, 0.0f, 1.0f);
  w[AK_EYE_LOOK_OUT_RIGHT] = ak__clampf(-gx, 0.0f, 1.0f);
  w[AK_EYE_LOOK_UP_LEFT] = w[AK_EYE_LOOK_UP_RIGHT] = ak__clampf(gy, 0.0f, 1.0f);
  w[AK_EYE_LOOK_DOWN_LEFT] = w[AK_EYE_LOOK_DOWN_RIGHT] =
      ak__clampf(-gy + 0.15f * blink * be, 0.0f, 1.0f);
  w[AK_BROW_INNER_UP] = ak__clampf(0.45f * l->brow * e, 0.0f, 1.0f);
  w[AK_BROW_OUTER_UP_LEFT] = w[AK_BROW_OUTER_UP_RIGHT] = ak__clampf(0.3f * l->brow * e, 0.0f, 1.0f);
  w[AK_MOUTH_SMILE_LEFT] = w[AK_MOUTH_SMILE_RIGHT] = ak__clampf(l->smile * e, 0.0f, 1.0f);
  w[AK_CHEEK_SQUINT_LEFT] = w[AK_CHEEK_SQUINT_RIGHT] = ak__clampf(0.3f * l->smile * e, 0.0f, 1.0f);

  /* Head pitch > 0 lowers the chin (nod), yaw > 0 turns to the avatar's left, roll > 0 tilts
   * toward the avatar's left shoulder. */
  f->head[0] = e * (l->head_s[0] + l->nod + 0.012f * breath);
  f->head[1] = e * l->head_s[1];
  f->head[2] = e * (l->head_s[2] + l->tilt);

  l->prev_voice = voice;
  l->t += dt;
}
