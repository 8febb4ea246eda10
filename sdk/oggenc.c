/* Optional PCM -> Ogg Opus encoding for sessions with encode_ogg_opus: one libopusenc stream
 * per request, tuned for low latency (pages flushed every 20 ms). Output bytes are buffered
 * until taken. */
#include <stdlib.h>
#include <string.h>

#include <opus/opusenc.h>

#include "internal.h"
#include "alloc_internal.h"

#define OGG_PENDING_MAX (4 * 1024 * 1024) /* bytes not yet taken; far above one chunk */

struct aks__oggenc {
  OggOpusEnc *enc;
  OggOpusComments *comments;
  uint8_t *buf;
  size_t len, cap;
  int overflow;
  int closed;
};

static int on_write(void *user, const unsigned char *ptr, opus_int32 len) {
  aks__oggenc *e = user;
  size_t n = (size_t)len;
  if (e->len + n > OGG_PENDING_MAX) {
    e->overflow = 1;
    return 1;
  }
  if (e->len + n > e->cap) {
    size_t cap = e->cap ? e->cap : 4096;
    while (cap < e->len + n) cap *= 2;
    uint8_t *nb = ak__realloc(e->buf, cap);
    if (!nb) {
      e->overflow = 1;
      return 1;
    }
    e->buf = nb;
    e->cap = cap;
  }
  memcpy(e->buf + e->len, ptr, n);
  e->len += n;
  return 0;
}

static int on_close(void *user) {
  (void)user;
  return 0;
}

int aks__oggenc_new(int rate, int bitrate, aks__oggenc **out) {
  static const OpusEncCallbacks cbs = {on_write, on_close};
  aks__oggenc *e = ak__calloc(1, sizeof *e);
  if (!e) return AKS_OUT_OF_MEMORY;
  e->comments = ope_comments_create();
  int err = OPE_OK;
  if (e->comments) e->enc = ope_encoder_create_callbacks(&cbs, e, e->comments, rate, 1, 0, &err);
  if (!e->enc) {
    aks__oggenc_free(e);
    return err == OPE_BAD_ARG ? AKS_INVALID_ARGUMENT : AKS_OUT_OF_MEMORY;
  }
  /* Low latency: decide each packet at once and close a page every 20 ms (a muxing delay
   * of 0 would mean "no limit"). */
  ope_encoder_ctl(e->enc, OPE_SET_DECISION_DELAY(0));
  ope_encoder_ctl(e->enc, OPE_SET_MUXING_DELAY(960));
  if (bitrate > 0) ope_encoder_ctl(e->enc, OPUS_SET_BITRATE(bitrate));
  ope_encoder_ctl(e->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  if (ope_encoder_flush_header(e->enc) != OPE_OK || e->overflow) {
    aks__oggenc_free(e);
    return AKS_OUT_OF_MEMORY;
  }
  *out = e;
  return AKS_OK;
}

int aks__oggenc_write(aks__oggenc *e, const int16_t *pcm, size_t n, int last) {
  if (e->closed) return AKS_INVALID_STATE;
  while (n > 0) {
    int k = n > 48000 ? 48000 : (int)n;
    if (ope_encoder_write(e->enc, pcm, k) != OPE_OK) return AKS_UNKNOWN;
    pcm += k;
    n -= (size_t)k;
  }
  if (last) {
    if (ope_encoder_drain(e->enc) != OPE_OK) return AKS_UNKNOWN;
    e->closed = 1;
  }
  return e->overflow ? AKS_OUT_OF_MEMORY : AKS_OK;
}

int aks__oggenc_take(aks__oggenc *e, uint8_t **out, size_t *len) {
  *out = e->len ? e->buf : NULL;
  *len = e->len;
  if (e->len) {
    e->buf = NULL;
    e->len = e->cap = 0;
  }
  return AKS_OK;
}

void aks__oggenc_free(aks__oggenc *e) {
  if (!e) return;
  if (e->enc) ope_encoder_destroy(e->enc);
  if (e->comments) ope_comments_destroy(e->comments);
  ak__free(e->buf);
  ak__free(e);
}
