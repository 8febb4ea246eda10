/* Fuzz target: the stream library, one request's media pipeline (PCM reassembly or Ogg Opus
 * decoding, resampling, engine, Opus, aligned messages). Input layout:
 *   byte 0: bit 7 = Ogg Opus input, bit 6 = decode at most 0.1 s per call (the server's
 *           max_decoded_per_push; pending input is drained with push(NULL, 0) and finish is
 *           repeated while it returns AK_STREAM_MORE), bits 0-2 = PCM rate (an index)
 *   byte 1: chunk size - 1 (the input is pushed in slices of that size, split anywhere)
 *   byte 2: bit 0 = abort half way and start a second request; bits 1-7 = fail the emit
 *           callback (AK_ETOOBIG) at that message, 0 = never
 *   rest:   the input bytes.
 * The emit callback packs and re-parses every message and checks the frame and packet
 * numbering; a failing emit must come back out of the stream call unchanged. */
#include <stdlib.h>
#include <string.h>

#include "avatarkit/engine.h"
#include "avatarkit/stream.h"

typedef struct run {
  uint32_t next_frame;
  uint64_t next_packet;
  int ended;
  unsigned messages, fail_at;
} run;

static int emit(void *user, const ak_stream_output *o) {
  run *r = user;
  if (r->fail_at && ++r->messages == r->fail_at) return AK_ETOOBIG;
  const ak_animation *a = &o->message->u.animation;
  if (r->ended || o->first_frame != r->next_frame) abort();
  if (a->has_motion && a->motion.first_frame != r->next_frame) abort();
  if (a->has_audio && a->audio.first_packet != r->next_packet) abort();
  r->next_frame += o->n_frames;
  if (a->has_audio) r->next_packet += a->audio.n_packets;
  r->ended = a->end;
  size_t n = 0, got = 0;
  if (ak_message_packed_size(o->message, &n) != AK_OK) abort();
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return AK_ENOMEM;
  if (ak_message_pack_into(o->message, buf, n, &got) != AK_OK || got != n) abort();
  ak_message *back = NULL;
  if (ak_message_parse(buf, n, &back) != AK_OK) abort();
  if (back->u.animation.end != a->end) abort();
  ak_message_free(back);
  free(buf);
  return 0;
}

static void check(int rc, ak_stream *s, const run *r) {
  if (rc == AK_OK) return;
  /* the emit's own code comes back unchanged, and only the emit is blamed for it */
  if ((ak_stream_failure(s) == AK_STREAM_FAIL_EMIT) != (r->fail_at && r->messages >= r->fail_at))
    abort();
  if (ak_stream_failure(s) == AK_STREAM_FAIL_EMIT && rc != AK_ETOOBIG) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static ak_model *model; /* parsed once for the whole run (fuzzer harness state) */
  static const int rates[8] = {8000, 16000, 22050, 24000, 32000, 44100, 48000, 16000};
  if (!model && ak_model_load_default(&model) != AK_OK) model = NULL;
  if (size < 3) return 0;
  run r;
  memset(&r, 0, sizeof r);
  r.fail_at = data[2] >> 1;
  ak_stream_config c;
  ak_stream_config_default(&c);
  c.format = (data[0] & 0x80) ? AK_STREAM_OGG_OPUS : AK_STREAM_PCM_S16LE;
  c.sample_rate = rates[data[0] & 7];
  c.max_ogg_bytes = 32768; /* small, so long inputs reach the bound */
  c.max_decoded_per_push = (data[0] & 0x40) ? 4800 : 0;
  c.seed = data[0];
  c.emit = emit;
  c.user = &r;
  size_t slice = 1 + (size_t)data[1];
  int abort_half = data[2] & 1;
  data += 3;
  size -= 3;
  ak_stream *s = NULL;
  if (ak_stream_new(&c, model, &s) != AK_OK) return 0;
  int rc = ak_stream_begin(s, "fuzz");
  for (size_t i = 0; rc == AK_OK && i < size; i += slice) {
    if (abort_half && i >= size / 2) {
      ak_stream_abort(s);
      memset(&r, 0, sizeof r);
      if (ak_stream_begin(s, "fuzz2") != AK_OK) abort();
      abort_half = 0;
    }
    size_t n = size - i < slice ? size - i : slice;
    rc = ak_stream_push(s, data + i, n);
    check(rc, s, &r);
    /* 32 KB of Ogg cannot hold more than ~2,000 calls' worth (the budget ends it sooner) */
    for (int k = 0; rc == AK_OK && ak_stream_pending(s); k++) {
      if (k > 100000) abort();
      rc = ak_stream_push(s, NULL, 0);
      check(rc, s, &r);
    }
  }
  if (rc == AK_OK) {
    int k = 0;
    while ((rc = ak_stream_finish(s, NULL, 0)) == AK_STREAM_MORE)
      if (++k > 100000) abort();
    if (rc == AK_OK && !c.max_decoded_per_push && k) abort(); /* MORE only with a limit */
    check(rc, s, &r);
    if (rc == AK_OK && !r.ended) abort(); /* a finished request always ends with end = 1 */
  }
  ak_stream_free(s);
  return 0;
}
