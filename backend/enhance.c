/* A learnt cleaner for the recognizer's cepstra in noise (--asr-enhance): a small GRU that
 * reads each 10 ms frame of the 13 cepstra pocketsphinx's front end makes from the
 * suppressor's output and adds its estimate of the correction that brings them to what the
 * same speech gives without noise. Trained by tools/asr/train_enhance.py; file layout there
 * and below. Plain C, no allocation after load, no state but the caller's. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define ENH_MAGIC "AKEN"
#define ENH_VERSION 1
#define ENH_MAXH 256

struct ak__enh {
  int n, h;
  float *mu, *sd;       /* input normalisation, n each */
  float *wih, *whh;     /* GRU, PyTorch gate order r, z, n: 3h x n, 3h x h */
  float *bih, *bhh;     /* 3h each */
  float *wo, *bo, *osd; /* output: n x h, n, and the scale of each cepstrum's correction */
  float *blob;
};

static int rd_u32(FILE *f, uint32_t *v) {
  uint8_t b[4];
  if (fread(b, 1, 4, f) != 4) return -1;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return 0;
}

ak__enh *ak__enh_load(const char *path, char *err, size_t errcap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errcap, "cannot open the ASR enhancer %s", path);
    return NULL;
  }
  char magic[4];
  uint32_t ver = 0, n = 0, h = 0;
  ak__enh *e = NULL;
  if (fread(magic, 1, 4, f) != 4 || memcmp(magic, ENH_MAGIC, 4) || rd_u32(f, &ver) ||
      rd_u32(f, &n) || rd_u32(f, &h) || ver != ENH_VERSION || n != 13 || h < 1 || h > ENH_MAXH) {
    snprintf(err, errcap, "%s is not an ASR enhancer file (version %d, 13 cepstra, hidden <= %d)",
             path, ENH_VERSION, ENH_MAXH);
    goto fail;
  }
  size_t total = 2 * n + 3 * h * n + 3 * h * h + 6 * h + n * h + 2 * n;
  if (!(e = calloc(1, sizeof *e)) || !(e->blob = malloc(total * sizeof *e->blob))) {
    snprintf(err, errcap, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < total; i++) {
    uint32_t u;
    if (rd_u32(f, &u)) {
      snprintf(err, errcap, "%s is truncated", path);
      goto fail;
    }
    memcpy(&e->blob[i], &u, 4);
    if (!isfinite(e->blob[i])) {
      snprintf(err, errcap, "%s holds a value that is not finite", path);
      goto fail;
    }
  }
  if (fgetc(f) != EOF) {
    snprintf(err, errcap, "%s is longer than its header says", path);
    goto fail;
  }
  fclose(f);
  e->n = (int)n;
  e->h = (int)h;
  float *p = e->blob;
  e->mu = p, p += n;
  e->sd = p, p += n;
  e->wih = p, p += 3 * h * n;
  e->whh = p, p += 3 * h * h;
  e->bih = p, p += 3 * h;
  e->bhh = p, p += 3 * h;
  e->wo = p, p += n * h;
  e->bo = p, p += n;
  e->osd = p;
  for (size_t i = 0; i < n; i++)
    if (!(e->sd[i] > 0)) {
      snprintf(err, errcap, "%s has a scale that is not positive", path);
      ak__enh_free(e);
      return NULL;
    }
  return e;
fail:
  fclose(f);
  ak__enh_free(e);
  return NULL;
}

void ak__enh_free(ak__enh *e) {
  if (!e) return;
  free(e->blob);
  free(e);
}

int ak__enh_hidden(const ak__enh *e) {
  return e->h;
}

static float sigm(float x) {
  return 1.0f / (1.0f + expf(-x));
}

void ak__enh_run(const ak__enh *e, float *state, float *cep) {
  const int n = e->n, h = e->h;
  float x[13], gi[3 * ENH_MAXH], gh[3 * ENH_MAXH];
  for (int i = 0; i < n; i++) x[i] = (cep[i] - e->mu[i]) / e->sd[i];
  for (int r = 0; r < 3 * h; r++) {
    const float *wi = e->wih + (size_t)r * n, *wh = e->whh + (size_t)r * h;
    float a = e->bih[r], b = e->bhh[r];
    for (int i = 0; i < n; i++) a += wi[i] * x[i];
    for (int j = 0; j < h; j++) b += wh[j] * state[j];
    gi[r] = a;
    gh[r] = b;
  }
  for (int j = 0; j < h; j++) {
    float r = sigm(gi[j] + gh[j]), z = sigm(gi[h + j] + gh[h + j]);
    float c = tanhf(gi[2 * h + j] + r * gh[2 * h + j]);
    state[j] = (1.0f - z) * c + z * state[j];
  }
  for (int i = 0; i < n; i++) {
    const float *w = e->wo + (size_t)i * h;
    float y = e->bo[i];
    for (int j = 0; j < h; j++) y += w[j] * state[j];
    cep[i] += y * e->osd[i];
  }
}
