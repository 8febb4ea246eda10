/* Real-speech checks on the shared clips (skips with 77 when ../shared/data is absent): the
 * mouth moves with syllables and rests in silence, and the same clip at every accepted input
 * rate, resampled to 16 kHz by the codec library, gives nearly the same motion.
 * Usage: test_engine_speech DATA_DIR */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_audio.h"
#include "test_util.h"

static float *load(const char *dir, const char *name, size_t *n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/speech/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (len <= 0) {
    fclose(f);
    return NULL;
  }
  *n = (size_t)len / 2;
  uint8_t *b = malloc((size_t)len);
  float *x = malloc(*n * sizeof *x);
  if (fread(b, 1, (size_t)len, f) != (size_t)len) *n = 0;
  fclose(f);
  ak_s16le_to_float(b, *n, x);
  free(b);
  return x;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "../shared/data";
  size_t n;
  float *x = load(dir, "demo1_12s_16k.pcm", &n);
  if (!x) {
    printf("SKIP: shared speech clips not found under %s\n", dir);
    return 77;
  }
  size_t nf;
  ak_motion_frame *f = ak_test_animate(NULL, x, n, 640, &nf);
  size_t voiced = 0;
  int peaks = 0;
  float maxjaw = 0, unvoiced_jaw = 0;
  for (size_t i = 0; i < nf; i++) {
    float j = f[i].weights[AK_JAW_OPEN];
    voiced += f[i].voice;
    if (j > maxjaw) maxjaw = j;
    if (!f[i].voice && j > unvoiced_jaw) unvoiced_jaw = j;
    if (i > 0 && i + 1 < nf && j > 0.15f && j >= f[i - 1].weights[AK_JAW_OPEN] &&
        j > f[i + 1].weights[AK_JAW_OPEN])
      peaks++;
  }
  double secs = (double)n / 16000.0;
  char msg[200];
  snprintf(msg, sizeof msg, "12 s clip: %zu frames, %.0f%% voiced, jaw max %.2f, %.1f jaw peaks/s",
           nf, 100.0 * (double)voiced / (double)nf, maxjaw, peaks / secs);
  CHECK(nf == (n * 25 + 15999) / 16000 && voiced > nf / 3 && voiced < nf * 98 / 100 &&
            maxjaw > 0.3f && peaks / secs > 1.5 && peaks / secs < 8.0,
        msg);
  snprintf(msg, sizeof msg, "frames marked silent keep the jaw nearly closed (max %.3f)",
           unvoiced_jaw);
  CHECK(unvoiced_jaw < 0.15f, msg);
  free(f);
  free(x);

  static const int rates[] = {8000, 16000, 22050, 24000, 32000, 44100, 48000};
  size_t nref;
  float *ref = load(dir, "clip_16000.pcm", &nref);
  size_t nfr;
  ak_motion_frame *fr = ref ? ak_test_animate(NULL, ref, nref, 640, &nfr) : NULL;
  for (size_t r = 0; fr && r < sizeof rates / sizeof *rates; r++) {
    char name[64];
    snprintf(name, sizeof name, "clip_%d.pcm", rates[r]);
    size_t nr, n16;
    float *xr = load(dir, name, &nr);
    float *x16 = xr ? ak_test_resample(xr, nr, rates[r], 16000, 960, &n16) : NULL;
    size_t nfx = 0;
    ak_motion_frame *fx = x16 ? ak_test_animate(NULL, x16, n16, 640, &nfx) : NULL;
    size_t m = nfx < nfr ? nfx : nfr;
    double cj = fx ? ak_test_corr(fr, fx, m, AK_JAW_OPEN) : 0;
    int agree = 0;
    for (size_t i = 0; i < m; i++) agree += fx[i].voice == fr[i].voice;
    double va = m ? (double)agree / m : 0;
    /* 8 kHz input has no energy above 4 kHz: allow it a little less agreement. */
    double need = rates[r] == 8000 ? 0.85 : 0.95;
    snprintf(msg, sizeof msg,
             "%5d Hz clip via resampler: %zu frames (16 kHz: %zu), jaw r=%.3f, "
             "voice agreement %.3f (need >= %.2f)",
             rates[r], nfx, nfr, cj, va, need);
    CHECK(fx && (nfx + 1 >= nfr && nfx <= nfr + 1) && cj >= need && va >= need - 0.05, msg);
    free(fx);
    free(x16);
    free(xr);
  }
  if (!fr) CHECK(0, "clip_16000.pcm present with the other clips");
  free(fr);
  free(ref);
  return ak_test_summary("engine speech");
}
