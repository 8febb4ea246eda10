/* Engine benchmark: CPU time per second of audio (process CPU clock) for the network mouth
 * (the main one at the default lookahead, the zero-lookahead one at 0 ms) with the SIMD kernel
 * and with the plain C reference, and for the DSP mouth, at a given fps;
 * plus memory per stream. Audio: a real 16 kHz clip when given, else a synthetic signal.
 *
 * Usage: ak_bench_engine [--fps N] [--seconds S] [--pcm FILE.s16le16k] [--model FILE.akmw]
 * (--model: another weights blob than the built-in one, e.g. a wider network before it ships) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float *synth(size_t n) {
  float *x = malloc(n * sizeof *x);
  uint64_t s = 12345;
  for (size_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    float noise = (float)((s >> 40) & 0xFFFF) / 32768.0f - 1.0f;
    double t = (double)i / 16000.0;
    float env = (float)(0.5 + 0.5 * __builtin_sin(2 * 3.14159 * 3.0 * t));
    x[i] = env * (0.2f * (float)__builtin_sin(2 * 3.14159 * 150.0 * t) + 0.02f * noise);
  }
  return x;
}

static float *load_pcm(const char *path, size_t *n) {
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
  int16_t *s = malloc(*n * sizeof *s);
  float *x = malloc(*n * sizeof *x);
  if (fread(s, 2, *n, f) != *n) *n = 0;
  fclose(f);
  for (size_t i = 0; i < *n; i++) x[i] = s[i] / 32768.0f;
  free(s);
  return x;
}

/* Streams x in 20 ms chunks through one engine `reps` times (lookahead_ms < 0: the default);
 * returns CPU s per audio s. */
static double run(const ak_model *m, int fps, int lookahead_ms, int simd, const float *x, size_t n,
                  int reps, size_t *mem) {
  ak_engine_config c;
  ak_engine_config_default(&c);
  c.fps = fps;
  if (lookahead_ms >= 0) c.lookahead_ms = lookahead_ms;
  c.model = m;
  ak_engine *e;
  if (ak_engine_new(&c, &e) != AK_OK) return -1;
  ak__engine_use_simd(e, simd);
  ak_motion_frame f;
  double t0 = cpu_now();
  for (int r = 0; r < reps; r++) {
    for (size_t p = 0; p < n; p += 320) {
      size_t k = n - p < 320 ? n - p : 320;
      ak_engine_push(e, x + p, k);
      while (ak_engine_pop(e, &f) == 1) {
      }
    }
    ak_engine_finish(e);
    while (ak_engine_pop(e, &f) == 1) {
    }
    ak_engine_reset(e);
  }
  double dt = cpu_now() - t0;
  *mem = ak_engine_memory(e);
  ak_engine_free(e);
  return dt / ((double)n * reps / 16000.0);
}

int main(int argc, char **argv) {
  int fps = 25;
  double seconds = 60;
  const char *pcm = NULL, *model = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--fps") && i + 1 < argc)
      fps = (int)strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = strtod(argv[++i], NULL);
    else if (!strcmp(argv[i], "--pcm") && i + 1 < argc)
      pcm = argv[++i];
    else if (!strcmp(argv[i], "--model") && i + 1 < argc)
      model = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--fps N] [--seconds S] [--pcm FILE] [--model FILE]\n", argv[0]);
      return 2;
    }
  }
  size_t n = 0;
  float *x = pcm ? load_pcm(pcm, &n) : NULL;
  if (!x) {
    n = 16000 * 20;
    x = synth(n);
  }
  int reps = (int)(seconds * 16000.0 / (double)n) + 1;
  ak_model *def = NULL;
  if (model) {
    int rc = ak_model_load(model, &def);
    if (rc != AK_OK) {
      fprintf(stderr, "%s: %s\n", model, ak_strerror(rc));
      free(x);
      return 1;
    }
    printf("weights: %s\n", model);
  } else if (ak_model_load_default(&def) != AK_OK) {
    fprintf(stderr, "no built-in network\n");
  }
  ak_model *dsp = NULL;
  {
    /* A blob without network records selects the DSP mouth. */
    unsigned char b[24 + 60 + 4] = {0};
    memcpy(b, "AKMW", 4);
    memcpy(b + 24, "dsp", 3);
    uint32_t rh[] = {0, 1, 1, 1, 1, 1, 4};
    memcpy(b + 24 + 32, rh, sizeof rh);
    float one = 1.0f;
    memcpy(b + 24 + 60, &one, 4);
    uint32_t v[] = {1, 1, sizeof b, ak__crc32(b + 24, sizeof b - 24), 0};
    memcpy(b + 4, v, sizeof v);
    ak_model_load_memory(b, sizeof b, &dsp);
  }
  printf("audio: %s, %.1f s x %d, %d fps, 20 ms chunks\n", pcm && n ? pcm : "synthetic",
         (double)n / 16000.0, reps, fps);
  printf("%-28s %14s %16s\n", "mouth", "CPU ms / s", "bytes / stream");
  size_t mem;
  if (def) {
    /* The default lookahead binds the main network; 0 ms the zero-lookahead one (when the
     * blob has it), which may have another hidden size. */
    static const struct {
      int ms;
      const char *name;
    } net[] = {{-1, "network"}, {0, "zero-lookahead"}};
    for (size_t k = 0; k < sizeof net / sizeof net[0]; k++) {
      char label[64];
      double a = run(def, fps, net[k].ms, 1, x, n, reps, &mem);
      snprintf(label, sizeof label, "%s, %s", net[k].name,
               ak__matvec_best() == ak__matvec_ref ? "no SIMD on CPU" : "AVX2+FMA");
      printf("%-28s %14.3f %16zu\n", label, a * 1000, mem);
      double b = run(def, fps, net[k].ms, 0, x, n, reps, &mem);
      snprintf(label, sizeof label, "%s, plain C", net[k].name);
      printf("%-28s %14.3f %16zu\n", label, b * 1000, mem);
    }
  }
  double d = run(dsp, fps, -1, 0, x, n, reps, &mem);
  printf("%-28s %14.3f %16zu\n", "DSP (step 1)", d * 1000, mem);
  if (def) {
    size_t wbytes = def->store_len * sizeof(float);
    printf("shared weights: %zu bytes once per process (%s + cfg.model)\n", wbytes,
           model ? "ak_model_load" : "ak_model_load_default");
  }
  ak_model_free(def);
  ak_model_free(dsp);
  free(x);
  return 0;
}
