/* Raw Opus packet encoder for the output audio payload: mono, 20 ms packets, with the
 * stream end padded so decoding (minus pre_skip) restores every input sample. */
#include <stdlib.h>
#include <string.h>

#include <opus/opus.h>

#include "avatarkit/codec.h"
#include "alloc_internal.h"

#define MAX_PACKET 1275 /* RFC 6716 section 3.2.1 */

struct ak_opus_encoder {
  OpusEncoder *enc;
  int rate, bitrate, complexity, frame, lookahead;
  float *pending; /* < frame samples waiting for a full packet */
  int n_pending;
  uint64_t samples_in;
  uint64_t samples_encoded; /* including padding */
};

static int configure(ak_opus_encoder *e) {
  if (opus_encoder_ctl(e->enc, OPUS_SET_BITRATE(e->bitrate)) != OPUS_OK ||
      opus_encoder_ctl(e->enc, OPUS_SET_COMPLEXITY(e->complexity)) != OPUS_OK ||
      opus_encoder_ctl(e->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)) != OPUS_OK)
    return AK_ECODEC;
  opus_int32 la = 0;
  if (opus_encoder_ctl(e->enc, OPUS_GET_LOOKAHEAD(&la)) != OPUS_OK) return AK_ECODEC;
  e->lookahead = (int)la;
  return AK_OK;
}

int ak_opus_encoder_new(int rate, int bitrate, int complexity, ak_opus_encoder **out) {
  if (!out || (rate != 8000 && rate != 12000 && rate != 16000 && rate != 24000 && rate != 48000) ||
      bitrate < 6000 || bitrate > 256000 || complexity < 0 || complexity > 10)
    return AK_EINVAL;
  ak_opus_encoder *e = ak__calloc(1, sizeof *e);
  if (!e) return AK_ENOMEM;
  int err = 0;
  e->rate = rate;
  e->bitrate = bitrate;
  e->complexity = complexity;
  e->frame = rate / 50;
  /* Caller-provided encoder memory (opus_encoder_get_size + init): it goes through the
   * allocator hook like everything else here. */
  int size = opus_encoder_get_size(1);
  e->enc = size > 0 ? ak__malloc((size_t)size) : NULL;
  e->pending = ak__malloc(sizeof(float) * (size_t)e->frame);
  int rc = e->enc && e->pending ? AK_OK : AK_ENOMEM;
  if (rc == AK_OK) {
    err = opus_encoder_init(e->enc, rate, 1, OPUS_APPLICATION_VOIP);
    if (err != OPUS_OK) rc = err == OPUS_ALLOC_FAIL ? AK_ENOMEM : AK_ECODEC;
  }
  if (rc == AK_OK) rc = configure(e);
  if (rc != AK_OK) {
    ak_opus_encoder_free(e);
    return rc;
  }
  *out = e;
  return AK_OK;
}

void ak_opus_encoder_free(ak_opus_encoder *e) {
  if (!e) return;
  ak__free(e->enc); /* memory of opus_encoder_init: no destroy */
  ak__free(e->pending);
  ak__free(e);
}

static int encode_frame(ak_opus_encoder *e, const float *pcm, ak_packet_cb cb, void *user) {
  uint8_t pkt[MAX_PACKET];
  opus_int32 n = opus_encode_float(e->enc, pcm, e->frame, pkt, MAX_PACKET);
  if (n < 0) return AK_ECODEC;
  e->samples_encoded += (uint64_t)e->frame;
  if (cb && cb(user, pkt, (size_t)n)) return AK_ESTATE;
  return 1;
}

int ak_opus_encoder_push(ak_opus_encoder *e, const float *pcm, size_t n, ak_packet_cb cb,
                         void *user) {
  if (!e || (n && !pcm)) return AK_EINVAL;
  int packets = 0;
  e->samples_in += n;
  while (n > 0) {
    if (e->n_pending == 0 && n >= (size_t)e->frame) {
      int rc = encode_frame(e, pcm, cb, user);
      if (rc < 0) return rc;
      packets++;
      pcm += e->frame;
      n -= (size_t)e->frame;
      continue;
    }
    size_t take = (size_t)(e->frame - e->n_pending);
    if (take > n) take = n;
    memcpy(e->pending + e->n_pending, pcm, take * sizeof *pcm);
    e->n_pending += (int)take;
    pcm += take;
    n -= take;
    if (e->n_pending == e->frame) {
      int rc = encode_frame(e, e->pending, cb, user);
      if (rc < 0) return rc;
      packets++;
      e->n_pending = 0;
    }
  }
  return packets;
}

int ak_opus_encoder_finish(ak_opus_encoder *e, ak_packet_cb cb, void *user) {
  if (!e) return AK_EINVAL;
  int packets = 0;
  /* Decoded length must reach lookahead + every input sample. */
  uint64_t need = e->samples_in + (uint64_t)e->lookahead;
  while (e->samples_encoded < need) {
    memset(e->pending + e->n_pending, 0, sizeof(float) * (size_t)(e->frame - e->n_pending));
    e->n_pending = 0;
    int rc = encode_frame(e, e->pending, cb, user);
    if (rc < 0) return rc;
    packets++;
  }
  return packets;
}

void ak_opus_encoder_reset(ak_opus_encoder *e) {
  if (!e) return;
  opus_encoder_ctl(e->enc, OPUS_RESET_STATE);
  e->n_pending = 0;
  e->samples_in = e->samples_encoded = 0;
}

int ak_opus_encoder_pre_skip(const ak_opus_encoder *e) {
  return e ? e->lookahead : 0;
}
int ak_opus_encoder_frame_samples(const ak_opus_encoder *e) {
  return e ? e->frame : 0;
}
uint64_t ak_opus_encoder_samples_in(const ak_opus_encoder *e) {
  return e ? e->samples_in : 0;
}
