/* The network mouth's quiet gate (engine.c quiet_gate), on speech synthesized here with
 * espeak-ng (no shared data needed), for both networks (lookahead 80 and 0 ms):
 *   - the same words 40 dB under the speaker, after a short pause (a faint voice or a tail
 *     behind the speaker), leave the mouth at rest and unvoiced for their first 1.5 s, and the
 *     speaker's own frames do not change;
 *   - a quiet speaker alone in a stream (about -50 dBFS) still moves the mouth as at a normal
 *     level: the gate follows the stream's own level, not a fixed one;
 *   - so does the quiet speaker after a loud knock (white noise at about -6 dBFS): the level
 *     follows voice, not any sound. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_audio.h"
#include "test_espeak.h"
#include "test_util.h"

static float max_jaw(const ak_motion_frame *f, size_t i0, size_t i1) {
  float m = 0;
  for (size_t i = i0; i < i1; i++) m = fmaxf(m, f[i].weights[AK_JAW_OPEN]);
  return m;
}

static int voiced(const ak_motion_frame *f, size_t i0, size_t i1) {
  int v = 0;
  for (size_t i = i0; i < i1; i++) v += f[i].voice;
  return v;
}

int main(void) {
  static const char text[] =
      "Maybe the blue boat will move when the wind comes back. "
      "Please bring me a cup of warm soup.";
  ak_test_pcm sp;
  int sr = ak_test_espeak_say("en", text, &sp);
  if (sr <= 0) {
    printf("SKIP: espeak-ng could not start\n");
    return 77;
  }
  char msg[240];
  snprintf(msg, sizeof msg, "espeak-ng speech: %.1f s at %d Hz", (double)sp.n / sr, sr);
  CHECK(sp.n > (size_t)sr * 3, msg);
  if (sp.n <= (size_t)sr * 3) return ak_test_summary("engine quiet gate");

  size_t n;
  float *x = ak_test_resample(sp.x, sp.n, sr, 16000, 777, &n);
  /* The speaker at -26 dBFS RMS over the whole clip (pauses included). */
  double e = 0;
  for (size_t i = 0; i < n; i++) e += (double)x[i] * x[i];
  float g = (float)(pow(10.0, -26.0 / 20.0) / sqrt(e / (double)n + 1e-20));
  for (size_t i = 0; i < n; i++) x[i] *= g;

  /* Speaker, a 0.3 s pause, then the same words 40 dB down; and the speaker alone 24 dB down. */
  const size_t gap = 4800, nb = 2 * n + gap;
  const float faint = powf(10.0f, -40.0f / 20.0f), quiet = powf(10.0f, -24.0f / 20.0f);
  float *behind = calloc(nb, sizeof *behind), *low = malloc(n * sizeof *low);
  for (size_t i = 0; i < n; i++) {
    behind[i] = x[i];
    behind[n + gap + i] = faint * x[i];
    low[i] = quiet * x[i];
  }
  /* A 50 ms knock, 0.19 s of silence, then the quiet speaker: 0.24 s = 6 frames before it. */
  const size_t lead = 3840, nk = n + lead;
  float *knock = calloc(nk, sizeof *knock);
  uint64_t seed = 9;
  for (size_t i = 0; i < 800; i++) knock[i] = 0.5f * ak_test_gauss(&seed);
  memcpy(knock + lead, low, n * sizeof *low);

  ak_model *model = NULL;
  if (ak_model_load_default(&model) != AK_OK) model = NULL; /* NULL: engines parse their own */
  static const int las[] = {80, 0};
  for (int t = 0; t < 2; t++) {
    int la = las[t];
    size_t nr, nfb, nq;
    ak_motion_frame *r = ak_test_animate_la(model, x, n, 320, la, &nr);
    ak_motion_frame *fb = ak_test_animate_la(model, behind, nb, 320, la, &nfb);
    ak_motion_frame *q = ak_test_animate_la(model, low, n, 320, la, &nq);
    int ok = r && fb && q && nr > 75 && nfb > nr + 100 && nq == nr;
    CHECK(ok, "all three streams animate");
    if (!ok) {
      free(r), free(fb), free(q);
      continue;
    }
    /* The speaker's frames (but the last 4, whose lookahead reaches past the clip). */
    size_t same = 0, m = nr - 4;
    for (size_t i = 0; i < m; i++)
      same += memcmp(r[i].weights, fb[i].weights, sizeof r[i].weights) == 0;
    float speak = max_jaw(r, 0, nr);
    /* The faint words: from 0.1 s into them to 1.6 s (the speaker's level falls 3 dB/s: after
     * several seconds of nothing louder, the faint voice is the one to follow). */
    size_t f0 = (n + gap + 1600) * 25 / 16000, f1 = f0 + 75;
    float fj = max_jaw(fb, f0, f1);
    int fv = voiced(fb, f0, f1);
    snprintf(msg, sizeof msg,
             "lookahead %d ms: the same words 40 dB under the speaker leave the mouth at rest "
             "(max jaw %.3f, %d voiced frames of %zu; the speaker's own max jaw %.3f), the "
             "speaker's %zu frames unchanged (%zu)",
             la, fj, fv, f1 - f0, speak, m, same);
    CHECK(speak > 0.3f && fj < 0.05f && fv == 0 && same == m, msg);
    /* The quiet speaker alone: the mouth follows the words as at -26 dBFS. */
    double cj = ak_test_corr(r, q, nr, AK_JAW_OPEN);
    int vr = voiced(r, 0, nr), vq = voiced(q, 0, nr);
    float qj = max_jaw(q, 0, nr);
    snprintf(msg, sizeof msg,
             "lookahead %d ms: a speaker alone at -50 dBFS moves the mouth (jaw r %.3f with "
             "-26 dBFS, max jaw %.3f against %.3f, voiced frames %d against %d)",
             la, cj, qj, speak, vq, vr);
    CHECK(cj > 0.9 && qj > 0.7f * speak && vq > vr * 9 / 10, msg);
    /* The quiet speaker after the knock, frame for frame against the quiet speaker alone. */
    size_t nk_f;
    ak_motion_frame *fk = ak_test_animate_la(model, knock, nk, 320, la, &nk_f);
    if (fk && nk_f >= nq + 6) {
      double ck = ak_test_corr(q, fk + 6, nq - 4, AK_JAW_OPEN);
      int vk = voiced(fk, 6, nq + 6);
      snprintf(msg, sizeof msg,
               "lookahead %d ms: the -50 dBFS speaker after a -6 dBFS knock moves the mouth as "
               "alone (jaw r %.3f, voiced frames %d against %d)",
               la, ck, vk, vq);
      CHECK(ck > 0.95 && abs(vk - vq) <= vq / 20, msg);
    } else {
      CHECK(0, "the knock stream animates");
    }
    free(fk);
    free(r);
    free(fb);
    free(q);
  }
  ak_model_free(model);
  free(behind);
  free(low);
  free(knock);
  free(x);
  free(sp.x);
  return ak_test_summary("engine quiet gate");
}
