/* Stream pipeline benchmark: CPU time per second of audio of one request through the stream
 * library (resample -> engine + Opus -> aligned messages), each message packed to protobuf as
 * the server does, on one thread at full speed. Run it with parts switched off to see where the
 * time goes: --bitrate 0 (no Opus), --no-pack (no protobuf packing). --quality (16 kHz clips
 * only) decodes the Opus packets of the last repetition and prints the SNR and segmental SNR
 * of the decoded audio against the input: a crude waveform measure, only for comparing encoder
 * settings with each other.
 *
 * Usage: ak_bench_stream --pcm FILE.s16le [--rate HZ] [--chunk-ms MS] [--reps N]
 *                        [--bitrate BPS] [--complexity C] [--no-pack] [--quality] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avatarkit/protocol.h"
#include "avatarkit/stream.h"
#include <opus/opus.h>

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
  int pack;
  uint8_t *buf;
  size_t cap;
  uint64_t bytes;
  OpusDecoder *dec; /* --quality */
  float *out;
  size_t n_out, cap_out, skip;
} sink;

static int decode_packets(sink *k, const ak_audio_payload *a) {
  k->skip = a->pre_skip;
  for (size_t i = 0; i < a->n_packets; i++) {
    if (k->n_out + 960 > k->cap_out) {
      k->cap_out = (k->n_out + 960) * 2;
      float *o = realloc(k->out, k->cap_out * sizeof *o);
      if (!o) return AK_ENOMEM;
      k->out = o;
    }
    int n = opus_decode_float(k->dec, a->packets[i], (opus_int32)a->packet_lens[i],
                              k->out + k->n_out, 960, 0);
    if (n < 0) return AK_ECODEC;
    k->n_out += (size_t)n;
  }
  return 0;
}

/* SNR and segmental SNR (20 ms segments with signal, each clamped to [-10, 35] dB). */
static void quality(const sink *k, const uint8_t *pcm, size_t n, size_t skip) {
  double sig = 0, err = 0, seg = 0;
  int segs = 0;
  for (size_t at = 0; at + 320 <= n && skip + at + 320 <= k->n_out; at += 320) {
    double s2 = 0, e2 = 0;
    for (size_t i = at; i < at + 320; i++) {
      float x = (float)(int16_t)(uint16_t)(pcm[2 * i] | (pcm[2 * i + 1] << 8)) / 32768.f;
      float d = x - k->out[skip + i];
      s2 += (double)x * x;
      e2 += (double)d * d;
    }
    sig += s2;
    err += e2;
    if (s2 > 320 * 1e-6) {
      double db = 10 * log10(s2 / (e2 + 1e-12));
      seg += db < -10 ? -10 : db > 35 ? 35 : db;
      segs++;
    }
  }
  printf("quality: SNR %.2f dB, segmental SNR %.2f dB (%d segments)\n",
         10 * log10(sig / (err + 1e-12)), segs ? seg / segs : 0.0, segs);
}

static int on_emit(void *user, const ak_stream_output *o) {
  sink *k = user;
  if (k->dec && o->message->u.animation.has_audio) {
    int rc = decode_packets(k, &o->message->u.animation.audio);
    if (rc) return rc;
  }
  if (!k->pack) return 0;
  size_t n = 0;
  if (ak_message_packed_size(o->message, &n) != AK_OK) return AK_EINVAL;
  if (n > k->cap) {
    free(k->buf);
    k->cap = n * 2;
    k->buf = malloc(k->cap);
    if (!k->buf) return AK_ENOMEM;
  }
  if (ak_message_pack_into(o->message, k->buf, k->cap, &n) != AK_OK) return AK_EINVAL;
  k->bytes += n;
  return 0;
}

int main(int argc, char **argv) {
  const char *path = NULL;
  int rate = 16000, chunk_ms = 40, reps = 3, bitrate = 24000, complexity = 5, pack = 1,
      want_quality = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--no-pack")) {
      pack = 0;
      continue;
    }
    if (!strcmp(a, "--quality")) {
      want_quality = 1;
      continue;
    }
    if (!v) {
      fprintf(stderr, "usage: see the file header\n");
      return 2;
    }
    i++;
    if (!strcmp(a, "--pcm"))
      path = v;
    else if (!strcmp(a, "--rate"))
      rate = (int)strtol(v, NULL, 10);
    else if (!strcmp(a, "--chunk-ms"))
      chunk_ms = (int)strtol(v, NULL, 10);
    else if (!strcmp(a, "--reps"))
      reps = (int)strtol(v, NULL, 10);
    else if (!strcmp(a, "--bitrate"))
      bitrate = (int)strtol(v, NULL, 10);
    else if (!strcmp(a, "--complexity"))
      complexity = (int)strtol(v, NULL, 10);
    else {
      fprintf(stderr, "unknown option %s\n", a);
      return 2;
    }
  }
  if (!path || rate < 1000 || chunk_ms < 1 || reps < 1) {
    fprintf(stderr, "usage: ak_bench_stream --pcm FILE.s16le [--rate HZ] ...\n");
    return 2;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *pcm = len > 0 ? malloc((size_t)len) : NULL;
  if (!pcm || fread(pcm, 1, (size_t)len, f) != (size_t)len) {
    fprintf(stderr, "cannot read %s\n", path);
    return 1;
  }
  fclose(f);
  size_t chunk = (size_t)rate * 2 * (size_t)chunk_ms / 1000;
  sink k = {.pack = pack};
  ak_stream_config cfg;
  ak_stream_config_default(&cfg);
  cfg.sample_rate = rate;
  cfg.opus_bitrate = bitrate;
  cfg.opus_complexity = complexity;
  cfg.emit = on_emit;
  cfg.user = &k;
  ak_stream *s;
  if (ak_stream_new(&cfg, NULL, &s) != AK_OK) {
    fprintf(stderr, "ak_stream_new failed\n");
    return 1;
  }
  double t0 = cpu_now();
  for (int r = 0; r < reps; r++) {
    if (want_quality && r == reps - 1 && rate == 16000 && bitrate) {
      int err = 0;
      k.dec = opus_decoder_create(16000, 1, &err);
      if (!k.dec) return 1;
    }
    if (ak_stream_begin(s, "bench") != AK_OK) return 1;
    size_t at = 0;
    while ((size_t)len - at > chunk) {
      if (ak_stream_push(s, pcm + at, chunk) != AK_OK) return 1;
      at += chunk;
    }
    if (ak_stream_finish(s, pcm + at, (size_t)len - at) != AK_OK) return 1;
  }
  double cpu = cpu_now() - t0;
  double audio = (double)len / 2.0 / rate * reps;
  printf(
      "stream: %.3f ms CPU per audio second (%.1f s of %d Hz audio, bitrate %d, complexity "
      "%d, %s, %llu bytes packed)\n",
      cpu * 1000.0 / audio, audio, rate, bitrate, complexity, pack ? "packed" : "not packed",
      (unsigned long long)k.bytes);
  if (k.dec) {
    quality(&k, pcm, (size_t)len / 2, k.skip);
    opus_decoder_destroy(k.dec);
  }
  ak_stream_free(s);
  free(k.buf);
  free(k.out);
  free(pcm);
  return 0;
}
