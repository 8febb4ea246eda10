/* Sample-rate conversion on speexdsp, with its filter delay removed and an exact output
 * length, so that audio and motion of a request stay on one timeline. */
#include <stdlib.h>
#include <string.h>

#include <speex/speex_resampler.h>

#include "avatarkit/codec.h"
#include "alloc_internal.h"

#define QUALITY 5 /* speexdsp "VoIP" quality: ~1 µs/sample, plenty for speech */

struct ak_resampler {
  SpeexResamplerState *st; /* NULL when in_rate == out_rate */
  int in_rate, out_rate;
  uint64_t n_in, n_out;
};

int ak_resampler_new(int in_rate, int out_rate, ak_resampler **out) {
  if (!out || in_rate < 1000 || in_rate > 192000 || out_rate < 1000 || out_rate > 192000)
    return AK_EINVAL;
  ak_resampler *r = ak__calloc(1, sizeof *r);
  if (!r) return AK_ENOMEM;
  r->in_rate = in_rate;
  r->out_rate = out_rate;
  if (in_rate != out_rate) {
    int err = 0;
    r->st = speex_resampler_init(1, (spx_uint32_t)in_rate, (spx_uint32_t)out_rate, QUALITY, &err);
    if (!r->st) {
      ak__free(r);
      return AK_ENOMEM;
    }
    speex_resampler_skip_zeros(r->st);
  }
  *out = r;
  return AK_OK;
}

void ak_resampler_free(ak_resampler *r) {
  if (!r) return;
  if (r->st) speex_resampler_destroy(r->st);
  ak__free(r);
}

size_t ak_resampler_max_out(const ak_resampler *r, size_t n) {
  return (size_t)(((uint64_t)n * (uint64_t)r->out_rate) / (uint64_t)r->in_rate) + 16;
}

static int run(ak_resampler *r, const float *in, size_t n, float *out, size_t cap) {
  size_t done_in = 0, done_out = 0;
  while (done_in < n) {
    spx_uint32_t il = (spx_uint32_t)(n - done_in), ol = (spx_uint32_t)(cap - done_out);
    if (ol == 0) return AK_ETOOBIG;
    speex_resampler_process_float(r->st, 0, in + done_in, &il, out + done_out, &ol);
    if (il == 0 && ol == 0) return AK_ETOOBIG;
    done_in += il;
    done_out += ol;
  }
  return (int)done_out;
}

int ak_resampler_process(ak_resampler *r, const float *in, size_t n, float *out, size_t cap) {
  if (!r || (n && (!in || !out))) return AK_EINVAL;
  if (n > (1u << 24)) return AK_ETOOBIG;
  if (cap < ak_resampler_max_out(r, n)) return AK_ETOOBIG;
  int got;
  if (!r->st) {
    memcpy(out, in, n * sizeof *in);
    got = (int)n;
  } else {
    got = run(r, in, n, out, cap);
    if (got < 0) return got;
  }
  r->n_in += n;
  r->n_out += (uint64_t)got;
  return got;
}

int ak_resampler_flush(ak_resampler *r, float *out, size_t cap) {
  if (!r || !out) return AK_EINVAL;
  uint64_t target = r->n_in * (uint64_t)r->out_rate / (uint64_t)r->in_rate;
  size_t want = target > r->n_out ? (size_t)(target - r->n_out) : 0;
  if (want > cap) return AK_ETOOBIG;
  size_t written = 0;
  if (r->st && want) {
    /* Push zeros through the filter until the delayed tail is out. */
    float zeros[256] = {0}, tmp[1024];
    int guard = 0;
    while (written < want && guard++ < 1000) {
      spx_uint32_t il = 256, ol = 1024;
      speex_resampler_process_float(r->st, 0, zeros, &il, tmp, &ol);
      size_t take = ol < want - written ? ol : want - written;
      memcpy(out + written, tmp, take * sizeof *tmp);
      written += take;
    }
  }
  while (written < want) out[written++] = 0.f; /* cannot happen with a sane filter */
  ak_resampler_reset(r);
  return (int)written;
}

void ak_resampler_reset(ak_resampler *r) {
  if (!r) return;
  if (r->st) {
    speex_resampler_reset_mem(r->st);
    speex_resampler_skip_zeros(r->st);
  }
  r->n_in = r->n_out = 0;
}

void ak_s16le_to_float(const uint8_t *in, size_t n, float *out) {
  for (size_t i = 0; i < n; i++) {
    int16_t s = (int16_t)(uint16_t)(in[2 * i] | (in[2 * i + 1] << 8));
    out[i] = (float)s / 32768.f;
  }
}
