/* Every accepted input rate gives the same motion: speech synthesized here with espeak-ng
 * (no shared data needed) is converted to each rate the server accepts, brought back to
 * 16 kHz by the codec's resampler as the server does, and animated; the frames must match
 * the directly converted 16 kHz reference (frame count exactly, jaw and voice closely). */
#include <espeak-ng/speak_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avatarkit/codec.h"
#include "avatarkit/engine.h"
#include "test_util.h"

typedef struct pcm {
  float *x;
  size_t n, cap;
} pcm;

static int on_synth(short *wav, int n, espeak_EVENT *ev) {
  pcm *p = ev ? (pcm *)ev->user_data : NULL;
  if (!p || !wav || n <= 0) return 0;
  if (p->n + (size_t)n > p->cap) {
    p->cap = (p->n + (size_t)n) * 2;
    p->x = realloc(p->x, p->cap * sizeof *p->x);
  }
  for (int i = 0; i < n; i++) p->x[p->n + (size_t)i] = (float)wav[i] / 32768.0f;
  p->n += (size_t)n;
  return 0;
}

static float *resample(const float *x, size_t n, int from, int to, size_t *nout) {
  ak_resampler *r;
  *nout = 0;
  if (ak_resampler_new(from, to, &r) != AK_OK) return NULL;
  size_t cap = ak_resampler_max_out(r, n) + 8192;
  float *y = malloc(cap * sizeof *y);
  for (size_t p = 0; p < n; p += 777) { /* odd chunks, as a network delivers them */
    int w = ak_resampler_process(r, x + p, n - p < 777 ? n - p : 777, y + *nout, cap - *nout);
    if (w < 0) break;
    *nout += (size_t)w;
  }
  int w = ak_resampler_flush(r, y + *nout, cap - *nout);
  if (w > 0) *nout += (size_t)w;
  ak_resampler_free(r);
  return y;
}

static ak_motion_frame *animate(const ak_model *m, const float *x, size_t n, size_t *nf) {
  ak_engine_config c;
  ak_engine_config_default(&c);
  c.model = m;
  ak_engine *e;
  *nf = 0;
  if (ak_engine_new(&c, &e) != AK_OK) return NULL;
  size_t cap = n / 640 + 4;
  ak_motion_frame *f = malloc(cap * sizeof *f);
  for (size_t p = 0; p < n; p += 320) {
    ak_engine_push(e, x + p, n - p < 320 ? n - p : 320);
    while (*nf < cap && ak_engine_pop(e, &f[*nf]) == 1) (*nf)++;
  }
  ak_engine_finish(e);
  while (*nf < cap && ak_engine_pop(e, &f[*nf]) == 1) (*nf)++;
  ak_engine_free(e);
  return f;
}

static double jaw_corr(const ak_motion_frame *a, const ak_motion_frame *b, size_t n) {
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (size_t i = 0; i < n; i++) {
    double x = a[i].weights[AK_JAW_OPEN], y = b[i].weights[AK_JAW_OPEN];
    sa += x, sb += y, saa += x * x, sbb += y * y, sab += x * y;
  }
  double va = saa / n - sa / n * sa / n, vb = sbb / n - sb / n * sb / n;
  return va > 0 && vb > 0 ? (sab / n - sa / n * sb / n) / sqrt(va * vb) : 0;
}

int main(void) {
  int sr = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT);
  if (sr <= 0) {
    printf("SKIP: espeak-ng could not start\n");
    return 77;
  }
  espeak_SetSynthCallback(on_synth);
  pcm sp = {0};
  static const char text[] = "Maybe the blue boat will move when the wind comes back. "
                             "Please bring me a cup of warm soup, and put it over there.";
  espeak_SetVoiceByName("en");
  espeak_Synth(text, sizeof text, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, &sp);
  espeak_Synchronize();
  espeak_Terminate();
  char msg[200];
  snprintf(msg, sizeof msg, "espeak-ng speech: %.1f s at %d Hz", (double)sp.n / sr, sr);
  CHECK(sp.n > (size_t)sr * 3, msg);

  ak_model *model = NULL;
  if (ak_model_load_default(&model) != AK_OK) model = NULL; /* NULL: engines parse their own */
  size_t n16;
  float *ref16 = resample(sp.x, sp.n, sr, 16000, &n16);
  size_t nref;
  ak_motion_frame *fref = animate(model, ref16, n16, &nref);
  static const int rates[] = {8000, 16000, 22050, 24000, 32000, 44100, 48000}; /* accepted */
  for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
    size_t nr = 0, nb = 0, nf = 0;
    float *xr = resample(ref16, n16, 16000, rates[r], &nr); /* the client's rate */
    float *back = xr ? resample(xr, nr, rates[r], 16000, &nb) : NULL; /* the server's step */
    ak_motion_frame *f = back ? animate(model, back, nb, &nf) : NULL;
    size_t expect = (nr * 25 + (size_t)rates[r] - 1) / (size_t)rates[r]; /* ceil(dur * fps) */
    size_t m = f && nf < nref ? nf : nref;
    int agree = 0;
    for (size_t i = 0; f && i < m; i++) agree += f[i].voice == fref[i].voice;
    double cj = f ? jaw_corr(fref, f, m) : 0, va = m ? (double)agree / m : 0;
    /* 8 kHz keeps nothing above 4 kHz: allow it a little less agreement. */
    double need = rates[r] == 8000 ? 0.85 : 0.95;
    snprintf(msg, sizeof msg, "%5d Hz input: %zu frames (%zu for its duration, %zu at 16 kHz), "
             "jaw r=%.3f, voice agreement %.3f (need >= %.2f)", rates[r], nf, expect, nref, cj,
             va, need);
    CHECK(f && (nf == expect || nf == expect - 1) && (nf + 1 >= nref && nf <= nref + 1) &&
              cj >= need && va >= need,
          msg);
    free(f);
    free(back);
    free(xr);
  }
  free(fref);
  free(ref16);
  free(sp.x);
  ak_model_free(model);
  return ak_test_summary("engine rates");
}
