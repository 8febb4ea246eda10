/* The model's acoustic front end: 25 ms Hann window, 512-point FFT, 32 mel bands from 50 Hz
 * to 7800 Hz, natural-log energies. The training data generator links this same code, so the
 * model sees bit-identical features at training and inference. */
#include <math.h>
#include <string.h>

#include "engine_dsp.h"

static double hz_to_mel(double f) {
  return 2595.0 * log10(1.0 + f / 700.0);
}
static double mel_to_hz(double m) {
  return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
}

void ak__mel_init(ak__mel *m) {
  const double pi = 3.14159265358979323846;
  memset(m, 0, sizeof *m);
  for (int i = 0; i < AK__WIN; i++)
    m->win[i] = (float)(0.5 - 0.5 * cos(2.0 * pi * (i + 0.5) / AK__WIN));
  for (int i = 0; i < AK__FFT / 2; i++) {
    m->cs[i] = (float)cos(2.0 * pi * i / AK__FFT);
    m->sn[i] = (float)-sin(2.0 * pi * i / AK__FFT);
  }
  double lo = hz_to_mel(50.0), hi = hz_to_mel(7800.0);
  double edges[AK__NMEL + 2];
  for (int b = 0; b < AK__NMEL + 2; b++)
    edges[b] = mel_to_hz(lo + (hi - lo) * b / (AK__NMEL + 1)) * AK__FFT / 16000.0;
  int fo = 0;
  for (int b = 0; b < AK__NMEL; b++) {
    double l = edges[b], c = edges[b + 1], r = edges[b + 2];
    int s = (int)ceil(l), e = (int)floor(r);
    if (s < 0) s = 0;
    if (e > AK__FFT / 2) e = AK__FFT / 2;
    m->bstart[b] = (uint16_t)s;
    int n = 0;
    for (int k = s; k <= e && fo < AK__MEL_FW; k++, n++) {
      double w = k <= c ? (k - l) / (c - l) : (r - k) / (r - c);
      m->fw[fo++] = (float)(w < 0.0 ? 0.0 : w);
    }
    if (n == 0 && fo < AK__MEL_FW) { /* narrow low band: take the nearest bin */
      m->bstart[b] = (uint16_t)lround(c);
      m->fw[fo++] = 1.0f;
      n = 1;
    }
    m->blen[b] = (uint16_t)n;
  }
}

/* In-place iterative radix-2 FFT of n complex points (n a power of two dividing AK__FFT);
 * twiddles come from the AK__FFT-point tables. */
static void fft(const ak__mel *m, float *re, float *im, int n) {
  for (int i = 1, j = 0; i < n; i++) {
    int bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      float t = re[i];
      re[i] = re[j];
      re[j] = t;
      t = im[i];
      im[i] = im[j];
      im[j] = t;
    }
  }
  for (int len = 2; len <= n; len <<= 1) {
    int step = AK__FFT / len, half = len >> 1;
    for (int i = 0; i < n; i += len)
      for (int k = 0; k < half; k++) {
        float wr = m->cs[k * step], wi = m->sn[k * step];
        float xr = re[i + k + half], xi = im[i + k + half];
        float tr = xr * wr - xi * wi, ti = xr * wi + xi * wr;
        re[i + k + half] = re[i + k] - tr;
        im[i + k + half] = im[i + k] - ti;
        re[i + k] += tr;
        im[i + k] += ti;
      }
  }
}

/* Power spectrum pw[0..AK__FFT/2] of the real, zero-padded window xw: the even and odd
 * samples form one AK__FFT/2-point complex FFT, whose halves are then separated
 * (X[k] = E[k] + W^k O[k]), half the work of a full complex transform. */
static void power_spectrum(const ak__mel *m, const float *xw, float *pw) {
  enum { N = AK__FFT / 2 };
  float zr[N], zi[N];
  for (int n = 0; n < N; n++) {
    zr[n] = 2 * n < AK__WIN ? xw[2 * n] : 0.0f;
    zi[n] = 2 * n + 1 < AK__WIN ? xw[2 * n + 1] : 0.0f;
  }
  fft(m, zr, zi, N);
  for (int k = 0; k <= N; k++) {
    int k1 = k & (N - 1), k2 = (N - k) & (N - 1);
    float ar = zr[k1], ai = zi[k1], br = zr[k2], bi = -zi[k2]; /* Z[k], conj(Z[N-k]) */
    float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);        /* even-sample spectrum */
    float orr = 0.5f * (ai - bi), oi = -0.5f * (ar - br);      /* odd-sample spectrum */
    float wr = k < N ? m->cs[k] : -1.0f, wi = k < N ? m->sn[k] : 0.0f;
    float xr = er + wr * orr - wi * oi, xi = ei + wr * oi + wi * orr;
    pw[k] = xr * xr + xi * xi;
  }
}

void ak__mel_power(const ak__mel *m, const float *win, float *pw) {
  float xw[AK__WIN];
  for (int i = 0; i < AK__WIN; i++) xw[i] = win[i] * m->win[i];
  power_spectrum(m, xw, pw);
}

void ak__mel_compute(const ak__mel *m, const float *win, float *out) {
  float pw[AK__FFT / 2 + 1];
  ak__mel_power(m, win, pw);
  int fo = 0;
  for (int b = 0; b < AK__NMEL; b++) {
    float s = 0.0f;
    for (int j = 0; j < m->blen[b]; j++) s += m->fw[fo + j] * pw[m->bstart[b] + j];
    fo += m->blen[b];
    out[b] = logf(s + 1e-7f);
  }
}
