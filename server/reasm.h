/* WebSocket message reassembly of the ingress: lws delivers a message as fragments (frames,
 * and pieces of frames of up to rx_buffer_size bytes); this gathers them into one buffer,
 * bounded by the message limit. Pure code without lws, so fuzz/fuzz_ws_reasm.c drives it with
 * frames. */
#ifndef AK_REASM_H
#define AK_REASM_H

#include <stddef.h>
#include <stdint.h>

typedef struct ak_reasm {
  uint8_t *buf;
  size_t len, cap;
} ak_reasm;

enum {
  AK_REASM_MORE = 0,    /* fragment taken, the message goes on */
  AK_REASM_MESSAGE = 1, /* the message is complete: buf/len, valid until ak__reasm_next */
  AK_REASM_TOO_BIG = -1,
  AK_REASM_NOMEM = -2
};

/* Adds a fragment (in may be NULL when len is 0: lws passes that for an empty message).
 * last: the final fragment of the message. Over max, nothing is kept of it. */
int ak__reasm_add(ak_reasm *r, const void *in, size_t len, int last, size_t max);
/* After a complete message was used: starts the next one, giving back a big buffer. */
void ak__reasm_next(ak_reasm *r);
void ak__reasm_free(ak_reasm *r);

#endif
