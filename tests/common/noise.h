/* Seeded test noise shared by the C tests: signals are float, 16 kHz, [-1, 1], levelled as
 * dBFS RMS. The caller keeps the generator's state (any non-zero seed). */
#ifndef AK_TEST_NOISE_H
#define AK_TEST_NOISE_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>

static double ak_t_gauss(uint32_t *st) { /* sum of 4 uniforms, xorshift32: unit variance */
  double s = 0;
  for (int k = 0; k < 4; k++) {
    *st ^= *st << 13;
    *st ^= *st >> 17;
    *st ^= *st << 5;
    s += *st / 4294967296.0 - 0.5;
  }
  return s * sqrt(3.0);
}

/* Scales x[0, n) to db dBFS RMS. */
static void ak_t_level(float *x, size_t n, double db) {
  double e = 0;
  for (size_t i = 0; i < n; i++) e += (double)x[i] * x[i];
  double g = pow(10.0, db / 20.0) / sqrt(e / n + 1e-30);
  for (size_t i = 0; i < n; i++) x[i] = (float)(x[i] * g);
}

/* White or pink (Voss: 12 rows, row k redrawn every 2^k samples, summed) noise at db. */
static void ak_t_noise(float *x, size_t n, int pink, double db, uint32_t *st) {
  double row[12] = {0}, sum = 0;
  for (size_t i = 0; i < n; i++) {
    if (!pink) {
      x[i] = (float)ak_t_gauss(st);
      continue;
    }
    for (int k = 0; k < 12; k++)
      if (i % ((size_t)1 << k) == 0) {
        double r = ak_t_gauss(st);
        sum += r - row[k];
        row[k] = r;
      }
    x[i] = (float)(sum + ak_t_gauss(st));
  }
  ak_t_level(x, n, db);
}
#endif
