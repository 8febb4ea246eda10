/* `avatarkit animate`: offline audio file -> motion JSON. Runs the file through the same
 * media pipeline as the Motion Server (the stream library, motion only: no Opus) and writes
 * {"fps": F, "frames": [{"t": s, "blendshapes": {...}, "head": [pitch, yaw, roll]}]}. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "avatarkit/arkit.h"
#include "avatarkit/engine.h"
#include "avatarkit/stream.h"
#include "cli.h"

static int write_frame(FILE *f, uint32_t index, const float *weights, const float *head, int fps,
                       int first) {
  fprintf(f, "%s\n  {\"t\": %.4f, \"blendshapes\": {", first ? "" : ",", (double)index / fps);
  for (int i = 0; i < AK_BLENDSHAPE_COUNT; i++) {
    float w = weights[i];
    if (!(w > 0.f)) w = 0.f; /* the contract is 0..1: no NaN, no -0 */
    if (w > 1.f) w = 1.f;
    fprintf(f, "%s\"%s\": %.4f", i ? ", " : "", ak_blendshape_name(i), (double)w);
  }
  fprintf(f, "}, \"head\": [%.5f, %.5f, %.5f]}", (double)head[0], (double)head[1], (double)head[2]);
  return ferror(f) ? -1 : 0;
}

typedef struct sink {
  FILE *f;
  int fps;
  long written;
} sink;

/* The stream's emit callback: every frame of the message into the file. */
static int on_emit(void *user, const ak_stream_output *o) {
  sink *k = user;
  for (uint32_t i = 0; i < o->n_frames; i++, k->written++)
    if (write_frame(k->f, o->first_frame + i, o->weights + (size_t)i * AK_BLENDSHAPE_COUNT,
                    o->head + (size_t)i * 3, k->fps, k->written == 0) != 0)
      return AK_EIO;
  return 0;
}

int cli_cmd_animate(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *model_path = NULL;
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
      if (!v)
        bad = 1;
      else
        out = v;
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
    } else if (!strcmp(a, "--model")) {
      if (!v)
        bad = 1;
      else
        model_path = v;
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
    fprintf(stderr,
            "animate: usage: avatarkit animate IN -o OUT.json [--rate N] [--fps 25] "
            "[--lookahead-ms N] [--expressiveness X] [--seed S] [--model FILE]\n");
    return 2;
  }
  /* --model: a weights blob instead of the built-in one (as the server's --model), e.g. a
   * training checkpoint to try before it is packed as models/default.akmw. */
  ak_model *model = NULL;
  if (model_path) {
    int mrc = ak_model_load(model_path, &model);
    if (mrc != AK_OK) {
      fprintf(stderr, "animate: cannot load model %s: %s\n", model_path, ak_strerror(mrc));
      return 1;
    }
  }
  char err[512];
  cli_audio au;
  if (cli_load_audio(in, (int)rate, &au, err, sizeof err) != 0) {
    fprintf(stderr, "animate: %s\n", err);
    ak_model_free(model);
    return 1;
  }
  ak_stream_config sc;
  ak_stream_config_default(&sc);
  sc.sample_rate = au.rate;
  sc.fps = (int)fps;
  sc.lookahead_ms = (int)lookahead;
  sc.expressiveness = (float)expr;
  sc.seed = (uint64_t)seed;
  sc.opus_bitrate = 0; /* motion only */
  sink k = {.fps = (int)fps};
  sc.emit = on_emit;
  sc.user = &k;
  ak_stream *st = NULL;
  int rc = ak_stream_new(&sc, model, &st);
  if (rc != AK_OK) {
    fprintf(stderr, "animate: pipeline for %d Hz audio: %s\n", au.rate, ak_strerror(rc));
    cli_audio_free(&au);
    ak_model_free(model);
    return 1;
  }
  FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
  if (!f) {
    fprintf(stderr, "animate: cannot write %s: %s\n", out, strerror(errno));
    ak_stream_free(st);
    cli_audio_free(&au);
    ak_model_free(model);
    return 1;
  }
  k.f = f;
  fprintf(f, "{\"fps\": %ld, \"frames\": [", fps);
  /* cli_audio holds host-order int16: little-endian on every platform we build for */
  int fail = ak_stream_begin(st, "animate") != AK_OK ||
             ak_stream_finish(st, (const uint8_t *)au.pcm, au.n * 2) != AK_OK;
  ak_stream_counters cnt;
  ak_stream_get_counters(st, &cnt);
  long written = k.written;
  fprintf(f, "\n]}\n");
  if (f != stdout && fclose(f) != 0) fail = 1;
  long expect =
      (long)((cnt.samples_16k * (uint64_t)fps + AK_ENGINE_SAMPLE_RATE - 1) / AK_ENGINE_SAMPLE_RATE);
  if (!fail)
    fprintf(stderr, "animate: %ld frames at %ld fps from %.3f s of %d Hz audio -> %s\n", written,
            fps, (double)au.n / au.rate, au.rate, out);
  else
    fprintf(stderr, "animate: failed while processing %s\n", in);
  if (!fail && written != expect) {
    fprintf(stderr, "animate: expected %ld frames, engine produced %ld\n", expect, written);
    fail = 1;
  }
  ak_stream_free(st);
  cli_audio_free(&au);
  ak_model_free(model); /* after the stream that borrowed it */
  return fail ? 1 : 0;
}
