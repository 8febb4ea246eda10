/* Test helpers for the engine tests: counted CHECK, a seeded PRNG and synthetic speech-like
 * signals (formant-shaped harmonic vowels, noise fricatives, closures and pauses). */
#ifndef AK_TEST_ENGINE_UTIL_H
#define AK_TEST_ENGINE_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int ak_test_pass, ak_test_fail;

#define CHECK(cond, msg)                                       \
  do {                                                         \
    if (cond) {                                                \
      ak_test_pass++;                                          \
      printf("ok   %s\n", (msg));                              \
    } else {                                                   \
      ak_test_fail++;                                          \
      printf("FAIL %s  (%s:%d)\n", (msg), __FILE__, __LINE__); \
    }                                                          \
  } while (0)

static inline int ak_test_summary(const char *name) {
  printf("%s: %d passed, %d failed\n", name, ak_test_pass, ak_test_fail);
  return ak_test_fail ? 1 : 0;
}

static inline uint32_t ak_test_rand(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(*s >> 33);
}

static inline float ak_test_unit(uint64_t *s) {
  return (float)ak_test_rand(s) / 2147483648.0f;
}

static inline float ak_test_gauss(uint64_t *s) {
  float a = 0;
  for (int i = 0; i < 4; i++) a += ak_test_unit(s);
  return (a - 2.0f) * 1.7320508f;
}

/* Adds a vowel-like harmonic tone: harmonics of f0 weighted by two formant resonances, 10 ms
 * fades, peak amplitude amp. */
static inline void ak_test_vowel(float *x, size_t n, float f0, float f1, float f2, float amp) {
  const float pi2 = 6.2831853f;
  float w[40];
  int nh = 0;
  float norm = 0;
  for (int h = 1; h <= 40 && h * f0 < 5000.0f; h++, nh++) {
    float f = h * f0;
    float d1 = (f - f1) / 90.0f, d2 = (f - f2) / 120.0f;
    w[h - 1] = 1.0f / (1.0f + d1 * d1) + 0.5f / (1.0f + d2 * d2) + 0.02f;
    norm += w[h - 1];
  }
  for (size_t i = 0; i < n; i++) {
    float t = (float)i / 16000.0f, s = 0;
    for (int h = 0; h < nh; h++) s += w[h] * sinf(pi2 * f0 * (float)(h + 1) * t);
    float fade = 1.0f;
    if (i < 160) fade = (float)i / 160.0f;
    if (n - i < 160) fade = (float)(n - i) / 160.0f;
    x[i] += amp * fade * s / norm * 2.0f;
  }
}

/* A deterministic speech-like signal: syllables of vowels, stop closures, fricative noise
 * and phrase pauses. Caller frees. */
static inline float *ak_test_speechlike(size_t n, uint64_t seed) {
  static const float formants[][2] = {{750, 1200}, {320, 800},  {300, 2300}, {500, 1800},
                                      {450, 900},  {650, 1700}, {400, 2000}};
  float *x = calloc(n ? n : 1, sizeof *x);
  uint64_t s = seed * 2654435761u + 1;
  size_t pos = 4000; /* 250 ms leading silence */
  int syl = 0;
  while (pos < n) {
    size_t len;
    int kind = (int)(ak_test_rand(&s) % 10);
    if (syl > 0 && syl % 7 == 0) { /* phrase pause */
      len = 4800 + ak_test_rand(&s) % 6400;
      syl++;
    } else if (kind < 2) { /* fricative */
      len = 960 + ak_test_rand(&s) % 1000;
      float prev = 0;
      for (size_t i = 0; i < len && pos + i < n; i++) {
        float g = ak_test_gauss(&s);
        x[pos + i] = 0.04f * (g - prev); /* high-passed noise */
        prev = g;
      }
    } else if (kind < 4) { /* stop closure */
      len = 640 + ak_test_rand(&s) % 640;
    } else { /* vowel */
      const float *f = formants[ak_test_rand(&s) % 7];
      len = 1300 + ak_test_rand(&s) % 2400;
      float f0 = 100.0f + (float)(ak_test_rand(&s) % 120);
      float amp = 0.1f + 0.25f * ak_test_unit(&s);
      size_t m = pos + len <= n ? len : n - pos;
      ak_test_vowel(x + pos, m, f0, f[0], f[1], amp);
      syl++;
    }
    pos += len;
  }
  return x;
}

/* Loads a model blob holding no network ("dsp" record only): engines using it run the DSP
 * mouth of step 1. Built by hand: magic, version 1, 1 record, length, CRC-32 of the body. */
#include <string.h>
#include "avatarkit/engine.h"
static inline ak_model *ak_test_dsp_model(void) {
  unsigned char b[24 + 60 + 4] = {0};
  memcpy(b, "AKMW", 4);
  unsigned char *r = b + 24;
  memcpy(r, "dsp", 3);
  uint32_t rh[] = {0, 1, 1, 1, 1, 1, 4};
  memcpy(r + 32, rh, sizeof rh);
  float one = 1.0f;
  memcpy(r + 60, &one, 4);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 24; i < sizeof b; i++) {
    c ^= b[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  uint32_t v[] = {1, 1, sizeof b, c ^ 0xFFFFFFFFu, 0};
  memcpy(b + 4, v, sizeof v);
  ak_model *m = NULL;
  return ak_model_load_memory(b, sizeof b, &m) == AK_OK ? m : NULL;
}

#endif
