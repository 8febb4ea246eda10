/* Codec tests: exact resampler lengths, alignment and chunking invariance at every accepted
 * rate; Opus encode -> decode length; Ogg Opus input from libopusenc split at every size;
 * refusal of foreign and corrupt streams. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <opus/opus.h>
#include <opus/opusenc.h>

#include "avatarkit/codec.h"
#include "check.h"
#include "ogg_mem.h"

static const int rates[] = {8000, 16000, 22050, 24000, 32000, 44100, 48000};

/* 0.5 s silence, 0.3 s 440 Hz tone, 0.2 s silence: an onset whose position must survive. */
static float *make_signal(int rate, size_t *n) {
  *n = (size_t)rate; /* 1 s */
  float *x = calloc(*n, sizeof *x);
  for (size_t i = (size_t)rate / 2; i < (size_t)rate * 8 / 10; i++)
    x[i] = 0.5f * sinf(2.f * (float)M_PI * 440.f * (float)i / (float)rate);
  return x;
}

static size_t onset(const float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (fabsf(x[i]) > 0.1f) return i;
  return n;
}

static float *resample_chunked(int in_rate, int out_rate, const float *x, size_t n, size_t chunk,
                               size_t *out_n) {
  ak_resampler *r = NULL;
  CHECK_EQ_INT(ak_resampler_new(in_rate, out_rate, &r), AK_OK);
  size_t cap = (size_t)((uint64_t)n * out_rate / in_rate) + 4096;
  float *y = calloc(cap, sizeof *y);
  size_t got = 0;
  for (size_t i = 0; i < n; i += chunk) {
    size_t c = n - i < chunk ? n - i : chunk;
    int k = ak_resampler_process(r, x + i, c, y + got, cap - got);
    CHECK(k >= 0);
    if (k > 0) got += (size_t)k;
  }
  int k = ak_resampler_flush(r, y + got, cap - got);
  CHECK(k >= 0);
  if (k > 0) got += (size_t)k;
  ak_resampler_free(r);
  *out_n = got;
  return y;
}

static void test_resampler(void) {
  for (size_t i = 0; i < 7; i++) {
    size_t n, n1, n2;
    float *x = make_signal(rates[i], &n);
    float *a = resample_chunked(rates[i], 16000, x, n, 320, &n1);
    float *b = resample_chunked(rates[i], 16000, x, n, 7, &n2);
    CHECK_EQ_INT(n1, 16000);
    CHECK_EQ_INT(n2, 16000);
    /* Onset at 0.5 s stays at 0.5 s (filter delay removed) within 1 ms. */
    long on = (long)onset(a, n1);
    CHECK(labs(on - 8000) <= 16);
    float maxdiff = 0;
    for (size_t k = 0; k < n1 && k < n2; k++) maxdiff = fmaxf(maxdiff, fabsf(a[k] - b[k]));
    CHECK(maxdiff < 1e-4f); /* chunking does not change the output */
    free(x);
    free(a);
    free(b);
  }
  ak_resampler *r = NULL;
  CHECK_EQ_INT(ak_resampler_new(44100, 0, &r), AK_EINVAL);
  CHECK(r == NULL);
  CHECK_EQ_INT(ak_resampler_new(48000, 16000, &r), AK_OK);
  float in[480] = {0}, out[8];
  CHECK_EQ_INT(ak_resampler_process(r, in, 480, out, 8), AK_ETOOBIG);
  ak_resampler_free(r);
  ak_resampler_free(NULL);
}

typedef struct sink {
  OpusDecoder *dec;
  float *pcm;
  size_t n, cap;
  int packets;
} sink;

static int on_packet(void *user, const uint8_t *pkt, size_t len) {
  sink *s = user;
  float buf[960];
  int n = opus_decode_float(s->dec, pkt, (opus_int32)len, buf, 960, 0);
  CHECK(n == 320);
  if (n > 0 && s->n + (size_t)n <= s->cap) {
    memcpy(s->pcm + s->n, buf, (size_t)n * sizeof *buf);
    s->n += (size_t)n;
  }
  s->packets++;
  return 0;
}

static void test_opus_encoder(void) {
  ak_opus_encoder *e = NULL;
  CHECK_EQ_INT(ak_opus_encoder_new(16000, 24000, 5, &e), AK_OK);
  CHECK_EQ_INT(ak_opus_encoder_frame_samples(e), 320);
  int pre = ak_opus_encoder_pre_skip(e);
  CHECK(pre > 0 && pre < 320);
  for (int round = 0; round < 2; round++) { /* second round after reset: a new stream */
    size_t n;
    float *x = make_signal(16000, &n);
    n -= 123; /* not a multiple of a packet */
    int err;
    sink s = {.dec = opus_decoder_create(16000, 1, &err), .cap = n + 4000};
    s.pcm = calloc(s.cap, sizeof(float));
    for (size_t i = 0; i < n; i += 333) {
      size_t c = n - i < 333 ? n - i : 333;
      CHECK(ak_opus_encoder_push(e, x + i, c, on_packet, &s) >= 0);
    }
    CHECK(ak_opus_encoder_finish(e, on_packet, &s) >= 1);
    CHECK_EQ_INT(ak_opus_encoder_samples_in(e), n);
    /* Decoded minus pre_skip covers the input, by less than one packet of padding. */
    CHECK(s.n >= n + (size_t)pre);
    CHECK(s.n < n + (size_t)pre + 320);
    /* Energy envelope: the tone sits at 0.5..0.8 s after removing pre_skip. */
    double e_in = 0, e_out = 0;
    for (size_t k = 9000; k < 12000; k++) {
      e_in += x[k] * x[k];
      e_out += s.pcm[k + (size_t)pre] * s.pcm[k + (size_t)pre];
    }
    CHECK(e_out > 0.5 * e_in && e_out < 2.0 * e_in);
    double quiet = 0;
    for (size_t k = 1000; k < 7000; k++) quiet += s.pcm[k + (size_t)pre] * s.pcm[k + (size_t)pre];
    CHECK(quiet < 0.01 * e_in);
    opus_decoder_destroy(s.dec);
    free(s.pcm);
    free(x);
    ak_opus_encoder_reset(e);
  }
  ak_opus_encoder_free(e);
  CHECK_EQ_INT(ak_opus_encoder_new(22050, 24000, 5, &e), AK_EINVAL);
}

typedef struct pcmsink {
  float *pcm;
  size_t n, cap;
} pcmsink;

static int on_pcm(void *user, const float *pcm, size_t n) {
  pcmsink *s = user;
  if (s->n + n > s->cap) return 1;
  memcpy(s->pcm + s->n, pcm, n * sizeof *pcm);
  s->n += n;
  return 0;
}

static void test_ogg_decoder(void) {
  size_t n;
  float *x = make_signal(16000, &n);
  membuf ogg = make_ogg_float(16000, x, n);
  CHECK(ogg.len > 100 && memcmp(ogg.data, "OggS", 4) == 0);
  const size_t slices[] = {1, 13, 200, 4096, 1 << 20};
  for (size_t si = 0; si < 5; si++) {
    ak_ogg_decoder *d = NULL;
    CHECK_EQ_INT(ak_ogg_decoder_new(1 << 20, &d), AK_OK);
    pcmsink s = {.cap = 48000 * 2};
    s.pcm = calloc(s.cap, sizeof(float));
    for (size_t i = 0; i < ogg.len; i += slices[si]) {
      size_t c = ogg.len - i < slices[si] ? ogg.len - i : slices[si];
      CHECK_EQ_INT(ak_ogg_decoder_push(d, ogg.data + i, c, on_pcm, &s), AK_OK);
    }
    CHECK(ak_ogg_decoder_done(d));
    CHECK_EQ_INT(s.n, 48000); /* exactly 1 s at 48 kHz: pre-skip and end trim applied */
    long on = (long)onset(s.pcm, s.n);
    CHECK(labs(on - 24000) <= 48 * 3);
    free(s.pcm);
    ak_ogg_decoder_free(d);
  }
  /* Foreign data: raw PCM is not Ogg. */
  ak_ogg_decoder *d = NULL;
  CHECK_EQ_INT(ak_ogg_decoder_new(1 << 20, &d), AK_OK);
  uint8_t junk[4096];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 31 + 7);
  int rc = AK_OK;
  for (int k = 0; k < 20 && rc == AK_OK; k++)
    rc = ak_ogg_decoder_push(d, junk, sizeof junk, on_pcm, NULL);
  CHECK(rc == AK_EFORMAT);
  CHECK_EQ_INT(ak_ogg_decoder_push(d, junk, 1, on_pcm, NULL), AK_ESTATE);
  ak_ogg_decoder_reset(d);
  /* Size limit. */
  ak_ogg_decoder_free(d);
  CHECK_EQ_INT(ak_ogg_decoder_new(100, &d), AK_OK);
  CHECK_EQ_INT(ak_ogg_decoder_push(d, ogg.data, ogg.len, on_pcm, NULL), AK_ETOOBIG);
  ak_ogg_decoder_free(d);
  /* Random corruption after the headers never crashes. */
  unsigned seed = (unsigned)time(NULL);
  printf("ogg corruption seed %u\n", seed);
  srand(seed);
  for (int iter = 0; iter < 300; iter++) {
    uint8_t *copy = malloc(ogg.len);
    memcpy(copy, ogg.data, ogg.len);
    for (int k = 0; k < 8; k++) copy[rand() % ogg.len] ^= (uint8_t)(1 + rand() % 255);
    CHECK_EQ_INT(ak_ogg_decoder_new(1 << 20, &d), AK_OK);
    pcmsink s = {.cap = 48000 * 3};
    s.pcm = calloc(s.cap, sizeof(float));
    (void)ak_ogg_decoder_push(d, copy, ogg.len, on_pcm, &s);
    CHECK(s.n <= 48000 * 3);
    free(s.pcm);
    free(copy);
    ak_ogg_decoder_free(d);
  }
  free(ogg.data);
  free(x);
}

int main(void) {
  test_resampler();
  test_opus_encoder();
  test_ogg_decoder();
  return TEST_SUMMARY();
}
