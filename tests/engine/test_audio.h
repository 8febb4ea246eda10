/* Helpers for the engine tests that need the codec library: streamed resampling, animating
 * a whole signal at the default config, and correlating one channel of two frame tracks. */
#ifndef AK_TEST_ENGINE_AUDIO_H
#define AK_TEST_ENGINE_AUDIO_H

#include <math.h>
#include <stdlib.h>

#include "avatarkit/codec.h"
#include "avatarkit/engine.h"

/* Resamples x from one rate to another in chunks of `chunk` samples, as a stream arrives.
 * Caller frees; NULL when the resampler refuses the rates. */
static inline float *ak_test_resample(const float *x, size_t n, int from, int to, size_t chunk,
                                      size_t *nout) {
  ak_resampler *r;
  *nout = 0;
  if (ak_resampler_new(from, to, &r) != AK_OK) return NULL;
  size_t cap = ak_resampler_max_out(r, n) + 8192;
  float *y = malloc(cap * sizeof *y);
  for (size_t p = 0; p < n; p += chunk) {
    int w = ak_resampler_process(r, x + p, n - p < chunk ? n - p : chunk, y + *nout, cap - *nout);
    if (w < 0) break;
    *nout += (size_t)w;
  }
  int w = ak_resampler_flush(r, y + *nout, cap - *nout);
  if (w > 0) *nout += (size_t)w;
  ak_resampler_free(r);
  return y;
}

/* Animates 16 kHz x with the default config (25 fps) but lookahead la ms and model m (NULL:
 * built-in), pushing `chunk` samples at a time. Caller frees; NULL when the engine cannot be
 * made. */
static inline ak_motion_frame *ak_test_animate_la(const ak_model *m, const float *x, size_t n,
                                                  size_t chunk, int la, size_t *nf) {
  ak_engine_config c;
  ak_engine_config_default(&c);
  c.model = m;
  c.lookahead_ms = la;
  ak_engine *e;
  *nf = 0;
  if (ak_engine_new(&c, &e) != AK_OK) return NULL;
  size_t cap = n / 640 + 4;
  ak_motion_frame *f = malloc(cap * sizeof *f);
  for (size_t p = 0; p < n; p += chunk) {
    ak_engine_push(e, x + p, n - p < chunk ? n - p : chunk);
    while (*nf < cap && ak_engine_pop(e, &f[*nf]) == 1) (*nf)++;
  }
  ak_engine_finish(e);
  while (*nf < cap && ak_engine_pop(e, &f[*nf]) == 1) (*nf)++;
  ak_engine_free(e);
  return f;
}

/* ak_test_animate_la at the default lookahead (80 ms). */
static inline ak_motion_frame *ak_test_animate(const ak_model *m, const float *x, size_t n,
                                               size_t chunk, size_t *nf) {
  return ak_test_animate_la(m, x, n, chunk, 80, nf);
}

/* Pearson correlation of blendshape ch over the first n frames of a and b (0 if flat). */
static inline double ak_test_corr(const ak_motion_frame *a, const ak_motion_frame *b, size_t n,
                                  int ch) {
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (size_t i = 0; i < n; i++) {
    double x = a[i].weights[ch], y = b[i].weights[ch];
    sa += x, sb += y, saa += x * x, sbb += y * y, sab += x * y;
  }
  double va = saa / n - sa / n * sa / n, vb = sbb / n - sb / n * sb / n;
  return va > 0 && vb > 0 ? (sab / n - sa / n * sb / n) / sqrt(va * vb) : 0;
}

#endif
