/* ak_bench_asr: feeds WAV files through the backend's speech input path and prints what it
 * heard, for the WER benchmark (bench/asr/wer.py). Not a test.
 *
 *   ak_bench_asr [--cold] [backend flags: --sphinx-lm, --sphinx-options, --vad-*, --asr ...] < list
 *
 * stdin: one WAV path a line (16-bit PCM mono, any rate). stdout, one line a file:
 *   path TAB transcript TAB utterances TAB vad_ended TAB audio_ms TAB decode_ms TAB speech_utts
 * (speech_utts: utterances in which the VAD saw a start of speech; more than one means the
 * turn was cut at a pause.)
 *
 * Each file is one push-to-talk turn as the demo page sends it: resampled to 16 kHz with a
 * proper filter (the page's 16 kHz AudioContext), cut into the page's 4096-sample
 * mic_audio blocks, and handled as backend/session.c handle_mic() does: a recognizer from
 * the shared pool, the energy VAD on every block, partial hypotheses every 0.3 s of speech,
 * the utterance finished at the VAD's end of speech (later audio starts a new one) or at
 * mic_end after the last block. Transcripts of all utterances of a file are joined. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <speex/speex_resampler.h>

#include "backend.h"

#define BLOCK 4096 /* ScriptProcessor buffer of backend/web/app.js at 16 kHz */

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static uint32_t rd32(const uint8_t *p) {
  return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads a 16-bit PCM mono WAV; returns malloc'd samples or NULL. */
static int16_t *read_wav(const char *path, size_t *n, uint32_t *rate) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *d = len > 44 ? malloc((size_t)len) : NULL;
  int ok = d && fread(d, 1, (size_t)len, f) == (size_t)len;
  fclose(f);
  int16_t *out = NULL;
  if (!ok || memcmp(d, "RIFF", 4) || memcmp(d + 8, "WAVE", 4)) goto done;
  int fmt_ok = 0;
  for (size_t off = 12; off + 8 <= (size_t)len;) {
    uint32_t sz = rd32(d + off + 4);
    const uint8_t *body = d + off + 8;
    if (!memcmp(d + off, "fmt ", 4) && sz >= 16 && off + 8 + 16 <= (size_t)len) {
      fmt_ok = (body[0] | body[1] << 8) == 1 && (body[2] | body[3] << 8) == 1 &&
               (body[14] | body[15] << 8) == 16;
      *rate = rd32(body + 4);
    } else if (!memcmp(d + off, "data", 4) && fmt_ok) {
      size_t avail = (size_t)len - off - 8;
      if (sz > avail || sz == 0xffffffffu) sz = (uint32_t)avail; /* streamed WAVs */
      *n = sz / 2;
      out = malloc(*n * 2 + 2);
      if (out)
        for (size_t i = 0; i < *n; i++) out[i] = (int16_t)(body[2 * i] | body[2 * i + 1] << 8);
      break;
    }
    off += 8 + sz + (sz & 1);
  }
done:
  free(d);
  return out;
}

static int16_t *to_16k(const int16_t *x, size_t n, uint32_t rate, size_t *out_n) {
  size_t cap = (size_t)((double)n * AK__MIC_RATE / rate) + 64;
  int16_t *y = malloc(cap * 2);
  if (!y) return NULL;
  if (rate == AK__MIC_RATE) {
    memcpy(y, x, n * 2);
    *out_n = n;
    return y;
  }
  int e = 0;
  SpeexResamplerState *r = speex_resampler_init(1, rate, AK__MIC_RATE, 10, &e);
  if (!r) {
    free(y);
    return NULL;
  }
  /* prime with the filter's input latency of silence, then drop as much output */
  int lat = speex_resampler_get_input_latency(r);
  size_t tot = n + (size_t)lat;
  int16_t *in = calloc(tot + (size_t)lat, 2);
  int16_t *tmp = malloc((cap + (size_t)lat * 2 + 64) * 2);
  spx_uint32_t il = (spx_uint32_t)(tot + (size_t)lat), ol = (spx_uint32_t)(cap + (size_t)lat * 2);
  if (in && tmp) {
    memcpy(in, x, n * 2);
    speex_resampler_process_int(r, 0, in, &il, tmp, &ol);
    int skip = speex_resampler_get_output_latency(r);
    size_t m = ol > (spx_uint32_t)skip ? ol - (spx_uint32_t)skip : 0;
    size_t want = (size_t)((double)n * AK__MIC_RATE / rate);
    if (m > want) m = want;
    memcpy(y, tmp + skip, m * 2);
    *out_n = m;
  } else {
    free(y);
    y = NULL;
  }
  free(in);
  free(tmp);
  speex_resampler_destroy(r);
  return y;
}

typedef struct turn {
  const ak__config *cfg;
  ak__asr_pool *pool;
  ak__asr *asr;
  ak__asr_channel *channel;
  ak__vad vad;
  int mic_active, speech_seen, utterances, vad_ended, speech_utts;
  size_t utt_samples, since_partial;
  char text[4096];
  char err[512];
} turn;

static void finish(turn *t) { /* session.c finish_utterance() */
  if (!t->mic_active) return;
  t->mic_active = 0;
  char text[1024], err[512] = "";
  int rc = ak__asr_finish(t->asr, text, sizeof text, err, sizeof err);
  ak__asr_pool_put(t->pool, t->asr);
  t->asr = NULL;
  t->utterances++;
  t->speech_utts += t->speech_seen;
  if (rc) {
    snprintf(t->err, sizeof t->err, "%s", err);
    return;
  }
  size_t l = strlen(t->text);
  if (text[0]) snprintf(t->text + l, sizeof t->text - l, "%s%s", l ? " " : "", text);
}

static void mic(turn *t, const int16_t *pcm, size_t n) { /* session.c handle_mic() */
  if (!t->mic_active) {
    t->asr = ak__asr_pool_get(t->pool, t->err, sizeof t->err);
    if (!t->asr) return;
    ak__asr_bind(t->asr, t->channel);
    t->mic_active = 1;
    t->utt_samples = 0;
    t->speech_seen = 0;
    t->since_partial = 0;
    ak__vad_init(&t->vad, t->cfg->vad_threshold_db, t->cfg->vad_margin_db, t->cfg->vad_silence_ms);
  }
  int ev = ak__vad_feed(&t->vad, pcm, n);
  if (ev == AK__VAD_START) t->speech_seen = 1;
  t->utt_samples += n;
  if (ak__asr_feed(t->asr, pcm, n) ||
      t->utt_samples >= (size_t)AK__MAX_UTTERANCE_S * AK__MIC_RATE) {
    finish(t);
    return;
  }
  t->since_partial += n;
  if (t->speech_seen && t->since_partial >= AK__MIC_RATE * 3 / 10) {
    t->since_partial = 0;
    char part[256];
    ak__asr_partial(t->asr, part, sizeof part);
  }
  if (ev == AK__VAD_END) {
    t->vad_ended = 1;
    finish(t);
  }
}

int main(int argc, char **argv) {
  static ak__config cfg;
  char err[512];
  int cold = argc > 1 && strcmp(argv[1], "--cold") == 0;
  if (cold) {
    argv[1] = argv[0];
    argv++;
    argc--;
  }
  ak__config_default(&cfg);
  /* no Motion Server is contacted: satisfy the checks that want its credentials */
  setenv("AVATARKIT_APP_ID", "ak-bench-asr", 0);
  setenv("AVATARKIT_API_KEY", "unused", 0);
  int rc = ak__config_load(&cfg, argc, argv, err, sizeof err);
  if (rc) {
    if (rc < 0) fprintf(stderr, "ak_bench_asr: %s\n", err);
    return rc < 0 ? 2 : 0;
  }
  ak__asr_pool *pool = ak__asr_pool_new(&cfg);
  if (!pool) return 2;
  char line[4096];
  int status = 0;
  /* all files are one user's turns in one session; --cold: each file is the first turn of
   * a new session (what the recognizer knows of a channel is forgotten) */
  ak__asr_channel channel = {0};
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) continue;
    size_t n = 0, m = 0;
    uint32_t rate = 0;
    int16_t *raw = read_wav(line, &n, &rate);
    int16_t *pcm = raw && rate ? to_16k(raw, n, rate, &m) : NULL;
    free(raw);
    if (!pcm) {
      fprintf(stderr, "ak_bench_asr: %s: not a 16-bit mono PCM WAV\n", line);
      status = 1;
      continue;
    }
    if (cold) memset(&channel, 0, sizeof channel);
    turn t = {.cfg = &cfg, .pool = pool, .channel = &channel};
    double t0 = now_ms();
    for (size_t off = 0; off < m; off += BLOCK)
      mic(&t, pcm + off, m - off < BLOCK ? m - off : BLOCK);
    finish(&t); /* mic_end */
    double dt = now_ms() - t0;
    if (t.err[0]) {
      fprintf(stderr, "ak_bench_asr: %s: %s\n", line, t.err);
      status = 1;
    }
    printf("%s\t%s\t%d\t%d\t%.0f\t%.0f\t%d\n", line, t.text, t.utterances, t.vad_ended,
           m * 1000.0 / AK__MIC_RATE, dt, t.speech_utts);
    fflush(stdout);
    free(pcm);
  }
  ak__asr_pool_free(pool);
  return status;
}
