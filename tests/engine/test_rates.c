/* Every accepted input rate gives the same motion: speech synthesized here with espeak-ng
 * (no shared data needed) is converted to each rate the server accepts, brought back to
 * 16 kHz by the codec's resampler as the server does, and animated; the frames must match
 * the directly converted 16 kHz reference (frame count exactly, jaw and voice closely). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_audio.h"
#include "test_espeak.h"
#include "test_util.h"

int main(void) {
  static const char text[] =
      "Maybe the blue boat will move when the wind comes back. "
      "Please bring me a cup of warm soup, and put it over there.";
  ak_test_pcm sp;
  int sr = ak_test_espeak_say("en", text, &sp);
  if (sr <= 0) {
    printf("SKIP: espeak-ng could not start\n");
    return 77;
  }
  char msg[200];
  snprintf(msg, sizeof msg, "espeak-ng speech: %.1f s at %d Hz", (double)sp.n / sr, sr);
  CHECK(sp.n > (size_t)sr * 3, msg);

  ak_model *model = NULL;
  if (ak_model_load_default(&model) != AK_OK) model = NULL; /* NULL: engines parse their own */
  size_t n16;
  float *ref16 = ak_test_resample(sp.x, sp.n, sr, 16000, 777, &n16);
  size_t nref;
  ak_motion_frame *fref = ak_test_animate(model, ref16, n16, 320, &nref);
  static const int rates[] = {8000, 16000, 22050, 24000, 32000, 44100, 48000}; /* accepted */
  for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
    size_t nr = 0, nb = 0, nf = 0;
    float *xr = ak_test_resample(ref16, n16, 16000, rates[r], 777, &nr);           /* client rate */
    float *back = xr ? ak_test_resample(xr, nr, rates[r], 16000, 777, &nb) : NULL; /* server */
    ak_motion_frame *f = back ? ak_test_animate(model, back, nb, 320, &nf) : NULL;
    size_t expect = (nr * 25 + (size_t)rates[r] - 1) / (size_t)rates[r]; /* ceil(dur * fps) */
    size_t m = f && nf < nref ? nf : nref;
    int agree = 0;
    for (size_t i = 0; f && i < m; i++) agree += f[i].voice == fref[i].voice;
    double cj = f ? ak_test_corr(fref, f, m, AK_JAW_OPEN) : 0, va = m ? (double)agree / m : 0;
    /* 8 kHz keeps nothing above 4 kHz: allow it a little less agreement. */
    double need = rates[r] == 8000 ? 0.85 : 0.95;
    snprintf(msg, sizeof msg,
             "%5d Hz input: %zu frames (%zu for its duration, %zu at 16 kHz), "
             "jaw r=%.3f, voice agreement %.3f (need >= %.2f)",
             rates[r], nf, expect, nref, cj, va, need);
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
