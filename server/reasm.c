/* Ingress message reassembly (reasm.h). */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

/* A buffer grown past this for a big message is freed once the message is used. */
#define KEEP_CAP 262144

int ak__reasm_add(ak_reasm *r, const void *in, size_t len, int last, size_t max) {
  if (len > max || r->len > max - len) {
    r->len = 0;
    return AK_REASM_TOO_BIG;
  }
  if (len) { /* an empty message or fragment may come with in == NULL: no copy */
    if (r->len + len > r->cap) {
      size_t cap = r->cap ? r->cap : 16384;
      while (cap < r->len + len) cap *= 2;
      uint8_t *n = realloc(r->buf, cap);
      if (!n) return AK_REASM_NOMEM;
      r->buf = n;
      r->cap = cap;
    }
    memcpy(r->buf + r->len, in, len);
    r->len += len;
  }
  return last ? AK_REASM_MESSAGE : AK_REASM_MORE;
}

void ak__reasm_next(ak_reasm *r) {
  r->len = 0;
  if (r->cap > KEEP_CAP) {
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
  }
}

void ak__reasm_free(ak_reasm *r) {
  free(r->buf);
  r->buf = NULL;
  r->len = r->cap = 0;
}
