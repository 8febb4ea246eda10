/* Speech for the engine tests that need no shared data: espeak-ng synthesizes a text into
 * float samples at its own rate. */
#ifndef AK_TEST_ENGINE_ESPEAK_H
#define AK_TEST_ENGINE_ESPEAK_H

#include <espeak-ng/speak_lib.h>
#include <stdlib.h>
#include <string.h>

typedef struct ak_test_pcm {
  float *x;
  size_t n, cap;
} ak_test_pcm;

static inline int ak_test_espeak_cb(short *wav, int n, espeak_EVENT *ev) {
  ak_test_pcm *p = ev ? (ak_test_pcm *)ev->user_data : NULL;
  if (!p || !wav || n <= 0) return 0;
  if (p->n + (size_t)n > p->cap) {
    size_t cap = (p->n + (size_t)n) * 2;
    float *x = realloc(p->x, cap * sizeof *x);
    if (!x) return 1; /* stop synthesis: the caller sees what arrived */
    p->x = x;
    p->cap = cap;
  }
  for (int i = 0; i < n; i++) p->x[p->n + (size_t)i] = (float)wav[i] / 32768.0f;
  p->n += (size_t)n;
  return 0;
}

/* Synthesizes text with voice into *out (caller frees out->x); returns espeak-ng's sample
 * rate, or <= 0 when espeak-ng cannot start (the caller skips). */
static inline int ak_test_espeak_say(const char *voice, const char *text, ak_test_pcm *out) {
  memset(out, 0, sizeof *out);
  int sr = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT);
  if (sr <= 0) return sr;
  espeak_SetSynthCallback(ak_test_espeak_cb);
  espeak_SetVoiceByName(voice);
  espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, out);
  espeak_Synchronize();
  espeak_Terminate();
  return sr;
}

#endif
