/* The network mouth's quiet gate (engine.c quiet_gate), on speech synthesized here with
 * espeak-ng (no shared data needed), for both networks (lookahead 80 and 0 ms):
 *   - the same words 40 dB under the speaker, after a short pause (a faint voice or a tail
 *     behind the speaker), leave the mouth at rest and unvoiced for their first 1.5 s, and the
 *     speaker's own frames do not change;
 *   - a quiet speaker alone in a stream (about -50 dBFS) still moves the mouth as at a normal
 *     level: the gate follows the stream's own level, not a fixed one. */
#include <espeak-ng/speak_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_audio.h"
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

/* Animates 16 kHz x at 25 fps with the given lookahead, 20 ms pushes. Caller frees. */
static ak_motion_frame *animate(const ak_model *m, const float *x, size_t n, int la, size_t *nf) {
  ak_engine_config c;
  ak_engine_config_default(&c);
  c.model = m;
  c.lookahead_ms = la;
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
  int sr = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT);
  if (sr <= 0) {
    printf("SKIP: espeak-ng could not start\n");
    return 77;
  }
  espeak_SetSynthCallback(on_synth);
  pcm sp = {0};
  static const char text[] =
      "Maybe the blue boat will move when the wind comes back. "
      "Please bring me a cup of warm soup.";
  espeak_SetVoiceByName("en");
  espeak_Synth(text, sizeof text, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, &sp);
  espeak_Synchronize();
  espeak_Terminate();
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

  ak_model *model = NULL;
  if (ak_model_load_default(&model) != AK_OK) model = NULL; /* NULL: engines parse their own */
  static const int las[] = {80, 0};
  for (int t = 0; t < 2; t++) {
    int la = las[t];
    size_t nr, nfb, nq;
    ak_motion_frame *r = animate(model, x, n, la, &nr);
    ak_motion_frame *fb = animate(model, behind, nb, la, &nfb);
    ak_motion_frame *q = animate(model, low, n, la, &nq);
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
    free(r);
    free(fb);
    free(q);
  }
  ak_model_free(model);
  free(behind);
  free(low);
  free(x);
  free(sp.x);
  return ak_test_summary("engine quiet gate");
}
