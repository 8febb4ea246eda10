/* Streaming Ogg Opus input: pages arrive in arbitrary slices; OpusHead is validated, OpusTags
 * skipped, audio packets decoded to mono 48 kHz with pre-skip and end trimming applied. */
#include <stdlib.h>
#include <string.h>

#include <ogg/ogg.h>
#include <opus/opus.h>

#include "avatarkit/codec.h"
#include "alloc_internal.h"

#define MAX_FRAME_48K 5760 /* 120 ms at 48 kHz: the longest Opus packet */

enum { ST_HEAD, ST_TAGS, ST_AUDIO, ST_DONE, ST_DEAD };

struct ak_ogg_decoder {
  ogg_sync_state sync;
  ogg_stream_state stream;
  int have_stream;
  int state;
  int channels;
  int pre_skip_left;
  uint32_t pre_skip;
  uint64_t decoded; /* samples output (after pre-skip) */
  size_t bytes, max_bytes;
  uint64_t used;       /* ak_ogg_decoder_bytes_used() */
  uint32_t push_limit; /* ak_ogg_decoder_set_push_limit(); 0 = none */
  uint64_t push_work;  /* samples decoded by the running push (pre-skip included) */
  int pending;         /* the last push stopped at push_limit: packets may be left */
  OpusDecoder *dec;
  float pcm[MAX_FRAME_48K * 2];
  float mono[MAX_FRAME_48K];
};

int ak_ogg_decoder_new(size_t max_bytes, ak_ogg_decoder **out) {
  if (!out || max_bytes == 0) return AK_EINVAL;
  ak_ogg_decoder *d = ak__calloc(1, sizeof *d);
  if (!d) return AK_ENOMEM;
  ogg_sync_init(&d->sync);
  d->max_bytes = max_bytes;
  *out = d;
  return AK_OK;
}

void ak_ogg_decoder_reset(ak_ogg_decoder *d) {
  if (!d) return;
  ogg_sync_reset(&d->sync);
  if (d->have_stream) ogg_stream_clear(&d->stream);
  d->have_stream = 0;
  ak__free(d->dec); /* memory of opus_decoder_init: no destroy */
  d->dec = NULL;
  d->state = ST_HEAD;
  d->channels = 0;
  d->pre_skip = 0;
  d->pre_skip_left = 0;
  d->decoded = 0;
  d->bytes = 0;
  d->used = 0;
  d->pending = 0;
}

void ak_ogg_decoder_free(ak_ogg_decoder *d) {
  if (!d) return;
  ak_ogg_decoder_reset(d);
  ogg_sync_clear(&d->sync);
  ak__free(d);
}

int ak_ogg_decoder_done(const ak_ogg_decoder *d) {
  return d && d->state == ST_DONE;
}

uint64_t ak_ogg_decoder_bytes_used(const ak_ogg_decoder *d) {
  return d ? d->used : 0;
}

void ak_ogg_decoder_set_push_limit(ak_ogg_decoder *d, uint32_t samples) {
  if (d) d->push_limit = samples;
}

int ak_ogg_decoder_pending(const ak_ogg_decoder *d) {
  return d && d->pending && d->state != ST_DEAD;
}

static int parse_head(ak_ogg_decoder *d, const ogg_packet *op) {
  const unsigned char *p = op->packet;
  if (op->bytes < 19 || memcmp(p, "OpusHead", 8) != 0) return AK_EFORMAT;
  if ((p[8] & 0xf0) != 0) return AK_EFORMAT; /* major version 0 only (RFC 7845 5.1) */
  int ch = p[9];
  uint32_t pre_skip = (uint32_t)p[10] | ((uint32_t)p[11] << 8);
  int mapping = p[18];
  if (ch < 1 || ch > 2 || mapping != 0) return AK_EFORMAT;
  int err = 0;
  /* Caller-provided decoder memory, through the allocator hook. */
  int size = opus_decoder_get_size(ch);
  if (size <= 0) return AK_ECODEC;
  OpusDecoder *dec = ak__malloc((size_t)size);
  if (!dec) return AK_ENOMEM;
  err = opus_decoder_init(dec, 48000, ch);
  if (err != OPUS_OK) {
    ak__free(dec);
    return err == OPUS_ALLOC_FAIL ? AK_ENOMEM : AK_ECODEC;
  }
  d->dec = dec;
  d->channels = ch;
  d->pre_skip = pre_skip;
  d->pre_skip_left = (int)pre_skip;
  return AK_OK;
}

static int decode_packet(ak_ogg_decoder *d, const ogg_packet *op, ak_pcm_cb cb, void *user) {
  int n = opus_decode_float(d->dec, op->packet, (opus_int32)op->bytes, d->pcm, MAX_FRAME_48K, 0);
  if (n < 0) return AK_ECORRUPT;
  float *mono = d->mono;
  for (int i = 0; i < n; i++)
    mono[i] = d->channels == 2 ? 0.5f * (d->pcm[2 * i] + d->pcm[2 * i + 1]) : d->pcm[i];
  int start = 0;
  if (d->pre_skip_left > 0) {
    start = d->pre_skip_left < n ? d->pre_skip_left : n;
    d->pre_skip_left -= start;
  }
  d->push_work += (uint64_t)n;
  int count = n - start;
  /* The final granule position says how many samples the stream really holds. */
  if (op->e_o_s && op->granulepos >= 0) {
    int64_t total = op->granulepos - (int64_t)d->pre_skip;
    if (total < 0) total = 0;
    int64_t room = total - (int64_t)d->decoded;
    if (room < count) count = room < 0 ? 0 : (int)room;
  }
  if (count > 0) {
    d->decoded += (uint64_t)count;
    if (cb && cb(user, mono + start, (size_t)count)) return AK_ESTATE;
  }
  return AK_OK;
}

/* Takes out and handles the packets of the pages taken in, until none is left or the push's
 * decoded samples reach push_limit (then d->pending: the rest stays in the stream state). */
static int drain_packets(ak_ogg_decoder *d, ak_pcm_cb cb, void *user) {
  if (!d->have_stream || d->state == ST_DONE) return AK_OK;
  ogg_packet op;
  for (;;) {
    if (d->push_limit && d->push_work >= d->push_limit) {
      d->pending = 1;
      return AK_OK;
    }
    int r = ogg_stream_packetout(&d->stream, &op);
    if (r == 0) return AK_OK;
    if (r < 0) continue; /* a hole in the data: skip, as RFC 7845 decoders do */
    int rc = AK_OK;
    if (d->state == ST_HEAD) {
      if ((rc = parse_head(d, &op)) != AK_OK) return rc;
      d->state = ST_TAGS;
    } else if (d->state == ST_TAGS) {
      if (op.bytes < 8 || memcmp(op.packet, "OpusTags", 8) != 0) return AK_EFORMAT;
      d->state = ST_AUDIO;
    } else if (d->state == ST_AUDIO) {
      /* An Opus packet is at least one byte (RFC 6716 3.1, R1). libopus would conceal 120 ms
       * for an empty one (its API's "packet lost"): free audio, and no muxer writes them
       * (RFC 7845 4.1 repairs gaps with a TOC byte). */
      if (op.bytes == 0) return AK_ECORRUPT;
      d->used += (uint64_t)op.bytes + (uint64_t)op.bytes / 255 + 1; /* with its lacing */
      if ((rc = decode_packet(d, &op, cb, user)) != AK_OK) return rc;
      if (op.e_o_s) {
        d->state = ST_DONE;
        return AK_OK;
      }
    }
  }
}

int ak_ogg_decoder_push(ak_ogg_decoder *d, const uint8_t *data, size_t len, ak_pcm_cb cb,
                        void *user) {
  if (!d || (len && !data)) return AK_EINVAL;
  if (d->state == ST_DEAD) return AK_ESTATE;
  if (len > d->max_bytes - d->bytes) {
    d->state = ST_DEAD;
    return AK_ETOOBIG;
  }
  d->bytes += len;
  if (len) {
    char *buf = ogg_sync_buffer(&d->sync, (long)len);
    if (!buf) return AK_ENOMEM;
    memcpy(buf, data, len);
    ogg_sync_wrote(&d->sync, (long)len);
  }
  int rc = AK_OK;
  d->pending = 0;
  d->push_work = 0;
  ogg_page og;
  for (;;) {
    /* The packets of the pages taken in so far first, then the next page. */
    if ((rc = drain_packets(d, cb, user)) != AK_OK) goto fail;
    if (d->pending) return AK_OK; /* at the limit: the rest waits for the next push */
    int pr = ogg_sync_pageout(&d->sync, &og);
    if (pr == 0) break;
    if (pr < 0) { /* bytes skipped: garbage before/between pages */
      if (d->state == ST_HEAD && !d->have_stream) {
        rc = AK_EFORMAT;
        goto fail;
      }
      continue;
    }
    if (d->state == ST_DONE) continue; /* ignore anything after end of stream */
    if (!d->have_stream) {
      if (!ogg_page_bos(&og)) {
        rc = AK_EFORMAT;
        goto fail;
      }
      ogg_stream_init(&d->stream, ogg_page_serialno(&og));
      d->have_stream = 1;
    }
    if (ogg_page_serialno(&og) != d->stream.serialno) continue; /* other logical streams */
    if (ogg_stream_pagein(&d->stream, &og) != 0) {
      rc = AK_ECORRUPT;
      goto fail;
    }
  }
  /* A stream that never starts with a page (e.g. raw PCM sent as Ogg) is caught early. */
  if (d->state == ST_HEAD && !d->have_stream && d->bytes > 65536) {
    rc = AK_EFORMAT;
    goto fail;
  }
  return AK_OK;
fail:
  d->state = ST_DEAD;
  return rc;
}
