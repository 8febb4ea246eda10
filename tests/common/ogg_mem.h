/* Test helper: an Ogg Opus stream encoded in memory with libopusenc, from float mono samples.
 * Include after check.h (or another header that defines CHECK). */
#ifndef AK_TEST_OGG_MEM_H
#define AK_TEST_OGG_MEM_H
#include <opus/opusenc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct membuf {
  uint8_t *data;
  size_t len, cap;
} membuf;

static int mem_write(void *user, const unsigned char *ptr, opus_int32 len) {
  membuf *m = user;
  if (m->len + (size_t)len > m->cap) {
    size_t cap = m->cap ? m->cap : 4096;
    while (cap < m->len + (size_t)len) cap *= 2;
    uint8_t *d = realloc(m->data, cap);
    if (!d) return 1;
    m->data = d;
    m->cap = cap;
  }
  memcpy(m->data + m->len, ptr, (size_t)len);
  m->len += (size_t)len;
  return 0;
}

static int mem_close(void *user) {
  (void)user;
  return 0;
}

/* n samples of x at rate (Hz) as one complete Ogg Opus stream; free .data when done. */
static membuf make_ogg_float(int rate, const float *x, size_t n) {
  membuf m = {0};
  OpusEncCallbacks cbs = {mem_write, mem_close};
  OggOpusComments *c = ope_comments_create();
  int err = 0;
  OggOpusEnc *enc = ope_encoder_create_callbacks(&cbs, &m, c, rate, 1, 0, &err);
  CHECK(enc != NULL);
  if (enc) {
    ope_encoder_write_float(enc, x, (int)n);
    ope_encoder_drain(enc);
    ope_encoder_destroy(enc);
  }
  ope_comments_destroy(c);
  return m;
}
#endif
