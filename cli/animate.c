/* `avatarkit animate`: offline audio file -> motion JSON. Resamples to 16 kHz with the codec
 * resampler, runs the motion engine over the whole file and writes
 * {"fps": F, "frames": [{"t": s, "blendshapes": {...}, "head": [pitch, yaw, roll]}]}. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "avatarkit/arkit.h"
#include "avatarkit/codec.h"
#include "avatarkit/engine.h"
#include "cli.h"

#define BLOCK 4096

static int write_frame(FILE *f, const ak_motion_frame *fr, int fps, int first) {
  fprintf(f, "%s\n  {\"t\": %.4f, \"blendshapes\": {", first ? "" : ",", (double)fr->index / fps);
  for (int i = 0; i < AK_BLENDSHAPE_COUNT; i++) {
    float w = fr->weights[i];
    if (!(w > 0.f)) w = 0.f; /* the contract is 0..1: no NaN, no -0 */
    if (w > 1.f) w = 1.f;
    fprintf(f, "%s\"%s\": %.4f", i ? ", " : "", ak_blendshape_name(i), (double)w);
  }
  fprintf(f, "}, \"head\": [%.5f, %.5f, %.5f]}", (double)fr->head[0], (double)fr->head[1],
          (double)fr->head[2]);
  return ferror(f) ? -1 : 0;
}

/* Pops every ready frame into the file. Returns frames written or -1. */
static long drain(ak_engine *e, FILE *f, int fps, long written) {
  ak_motion_frame fr;
  int rc;
  while ((rc = ak_engine_pop(e, &fr)) == 1) {
    if (write_frame(f, &fr, fps, written == 0) != 0) return -1;
    written++;
  }
  return rc < 0 ? -1 : written;
}

int cli_cmd_animate(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  long rate = 0, fps = 25, seed = 0;
  ak_engine_config ec;
  ak_engine_config_default(&ec);
  long lookahead = ec.lookahead_ms;
  double expr = ec.expressiveness;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0;
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (!v) bad = 1; else out = v;
      i++;
    } else if (!strcmp(a, "--rate")) {
      bad = cli_parse_int(v, 1000, 192000, &rate);
      i++;
    } else if (!strcmp(a, "--fps")) {
      bad = cli_parse_int(v, 1, AK_ENGINE_MAX_FPS, &fps);
      i++;
    } else if (!strcmp(a, "--lookahead-ms")) {
      bad = cli_parse_int(v, 0, AK_ENGINE_MAX_LOOKAHEAD_MS, &lookahead);
      i++;
    } else if (!strcmp(a, "--expressiveness")) {
      bad = cli_parse_double(v, 0.0, 1.0, &expr);
      i++;
    } else if (!strcmp(a, "--seed")) {
      bad = cli_parse_int(v, 0, 0x7fffffffL, &seed);
      i++;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "animate: unknown flag %s\n", a);
      return 2;
    } else if (!in) {
      in = a;
    } else {
      fprintf(stderr, "animate: unexpected argument %s\n", a);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "animate: bad or missing value for %s%s%s\n", a, v ? ": " : "", v ? v : "");
      return 2;
    }
  }
  if (!in || !out) {
    fprintf(stderr, "animate: usage: avatarkit animate IN -o OUT.json [--rate N] [--fps 25] "
                    "[--lookahead-ms N] [--expressiveness X] [--seed S]\n");
    return 2;
  }
  char err[512];
  cli_audio au;
  if (cli_load_audio(in, (int)rate, &au, err, sizeof err) != 0) {
    fprintf(stderr, "animate: %s\n", err);
    return 1;
  }
  ec.fps = (int)fps;
  ec.lookahead_ms = (int)lookahead;
  ec.expressiveness = (float)expr;
  ec.seed = (uint64_t)seed;
  ak_engine *eng = NULL;
  ak_resampler *rs = NULL;
  int rc = ak_engine_new(&ec, &eng);
  if (rc != AK_OK) {
    fprintf(stderr, "animate: engine: %s\n", ak_strerror(rc));
    cli_audio_free(&au);
    return 1;
  }
  if (au.rate != AK_ENGINE_SAMPLE_RATE &&
      (rc = ak_resampler_new(au.rate, AK_ENGINE_SAMPLE_RATE, &rs)) != AK_OK) {
    fprintf(stderr, "animate: resampler %d Hz: %s\n", au.rate, ak_strerror(rc));
    ak_engine_free(eng);
    cli_audio_free(&au);
    return 1;
  }
  FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
  if (!f) {
    fprintf(stderr, "animate: cannot write %s: %s\n", out, strerror(errno));
    ak_resampler_free(rs);
    ak_engine_free(eng);
    cli_audio_free(&au);
    return 1;
  }
  fprintf(f, "{\"fps\": %ld, \"frames\": [", fps);
  float *fin = malloc(BLOCK * sizeof *fin);
  size_t cap = rs ? ak_resampler_max_out(rs, BLOCK) + 16 : BLOCK;
  float *fout = malloc(cap * sizeof *fout);
  long written = 0;
  size_t n16 = 0;
  int fail = !fin || !fout;
  for (size_t off = 0; !fail && off < au.n; off += BLOCK) {
    size_t k = au.n - off < BLOCK ? au.n - off : BLOCK;
    ak_s16le_to_float((const uint8_t *)(au.pcm + off), k, fin);
    const float *p = fin;
    int m = (int)k;
    if (rs) {
      m = ak_resampler_process(rs, fin, k, fout, cap);
      p = fout;
    }
    if (m < 0 || ak_engine_push(eng, p, (size_t)m) != AK_OK) fail = 1;
    n16 += (size_t)(m > 0 ? m : 0);
    if (!fail && (written = drain(eng, f, (int)fps, written)) < 0) fail = 1;
  }
  if (!fail && rs) {
    int m = ak_resampler_flush(rs, fout, cap);
    if (m < 0 || ak_engine_push(eng, fout, (size_t)m) != AK_OK) fail = 1;
    n16 += (size_t)(m > 0 ? m : 0);
  }
  if (!fail && ak_engine_finish(eng) != AK_OK) fail = 1;
  if (!fail && (written = drain(eng, f, (int)fps, written)) < 0) fail = 1;
  fprintf(f, "\n]}\n");
  if (f != stdout && fclose(f) != 0) fail = 1;
  long expect = (long)((n16 * (size_t)fps + AK_ENGINE_SAMPLE_RATE - 1) / AK_ENGINE_SAMPLE_RATE);
  if (!fail)
    fprintf(stderr, "animate: %ld frames at %ld fps from %.3f s of %d Hz audio -> %s\n", written,
            fps, (double)au.n / au.rate, au.rate, out);
  else
    fprintf(stderr, "animate: failed while processing %s\n", in);
  if (!fail && written != expect) {
    fprintf(stderr, "animate: expected %ld frames, engine produced %ld\n", expect, written);
    fail = 1;
  }
  free(fin);
  free(fout);
  ak_resampler_free(rs);
  ak_engine_free(eng);
  cli_audio_free(&au);
  return fail ? 1 : 0;
}
