/* ak_asr_feats: the training pairs for the recognizer's cepstral cleaner (--asr-enhance,
 * backend/asr/train_enhance.py). For each line "NOISY.raw CLEAN.raw OUT.bin" on stdin
 * (16 kHz mono s16le, the same speech with and without noise) it writes OUT.bin: int32
 * frames of NOISY, int32 frames of CLEAN, then 13 float32 cepstra per frame of each, made by
 * the backend's own front end (backend/asr.c ak__asr_features): NOISY through a fresh
 * speexdsp suppressor as the backend suppresses noisy input, CLEAN as it is.
 *   ak_asr_feats [backend flags] < LIST */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define MAX_SAMPLES (16000 * 60)

static int16_t *read_raw(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  int16_t *x = malloc(MAX_SAMPLES * sizeof *x);
  *n = x ? fread(x, sizeof *x, MAX_SAMPLES, f) : 0;
  fclose(f);
  return x;
}

static int feats(ak__asr *a, const char *path, int suppress, float **out, int *nf) {
  size_t n;
  int16_t *x = read_raw(path, &n);
  if (!x) return -1;
  size_t max = n / 160 + 4;
  *out = malloc(max * 13 * sizeof **out);
  *nf = *out ? ak__asr_features(a, x, n, suppress, *out, max) : -1;
  free(x);
  return *nf < 0 ? -1 : 0;
}

int main(int argc, char **argv) {
  static ak__config c;
  char err[512];
  ak__config_default(&c);
  setenv("AVATARKIT_APP_ID", "ak-asr-feats", 0); /* no Motion Server is contacted */
  setenv("AVATARKIT_API_KEY", "unused", 0);
  int rc = ak__config_load(&c, argc, argv, err, sizeof err);
  if (rc) {
    if (rc < 0) fprintf(stderr, "ak_asr_feats: %s\n", err);
    return rc < 0 ? 2 : 0;
  }
  ak__asr *a = ak__asr_new(&c, err, sizeof err);
  if (!a) {
    fprintf(stderr, "ak_asr_feats: %s\n", err);
    return 1;
  }
  char line[3 * 1024], noisy[1024], clean[1024], outp[1024];
  int files = 0;
  rc = 0;
  while (fgets(line, sizeof line, stdin)) {
    if (sscanf(line, "%1023s %1023s %1023s", noisy, clean, outp) != 3) continue;
    float *fn = NULL, *fc = NULL;
    int nn = 0, nc = 0;
    FILE *o = NULL;
    if (feats(a, noisy, 1, &fn, &nn) || feats(a, clean, 0, &fc, &nc) || !(o = fopen(outp, "wb"))) {
      fprintf(stderr, "ak_asr_feats: failed on %s / %s -> %s\n", noisy, clean, outp);
      rc = 1;
    } else {
      int32_t h[2] = {nn, nc};
      fwrite(h, sizeof h, 1, o);
      fwrite(fn, sizeof *fn, (size_t)nn * 13, o);
      fwrite(fc, sizeof *fc, (size_t)nc * 13, o);
      files++;
    }
    if (o && fclose(o)) rc = 1;
    free(fn);
    free(fc);
  }
  ak__asr_free(a);
  fprintf(stderr, "ak_asr_feats: %d pairs\n", files);
  return rc;
}
