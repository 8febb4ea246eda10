/* Fuzz target: the ingress's WebSocket message reassembly (server/reasm.c), fed as client
 * frames the way libwebsockets hands them over, then the message parser on each complete
 * message. Input: byte 0 picks the piece size lws delivers frames in (its rx buffer), byte 1
 * the message limit (64 B .. 128 KiB), the rest is a stream of RFC 6455 frames (FIN/opcode,
 * mask bit and 7/16/64-bit length, mask key, payload); it stops at a truncated frame or where
 * lws would close (a protocol violation, a close frame, a text message, a message over the
 * limit). Checks: every complete message is exactly its frames' payloads concatenated, a
 * message is complete only on the last piece of a FIN frame, "too big" comes exactly when the
 * frames pass the limit, and empty pieces arrive as (NULL, 0) as lws passes them. */
#include <stdlib.h>
#include <string.h>

#include "avatarkit/protocol.h"
#include "../server/reasm.h"

static const size_t k_pieces[] = {1, 3, 7, 64, 1000, 4096, 65536};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2 || size > (1u << 20)) return 0;
  size_t piece = k_pieces[data[0] % (sizeof k_pieces / sizeof k_pieces[0])];
  size_t max = (size_t)64 << (data[1] % 12);
  const uint8_t *p = data + 2, *end = data + size;
  ak_reasm r = {0};
  uint8_t *expect = malloc(max + 1); /* what the current message must be */
  size_t elen = 0, total = 0;
  int in_msg = 0;
  uint8_t *payload = malloc(size);
  if (!expect || !payload) goto out;
  while (end - p >= 2) {
    int fin = p[0] >> 7, op = p[0] & 0x0f, masked = p[1] >> 7;
    uint64_t n = p[1] & 0x7f;
    p += 2;
    if (n == 126) {
      if (end - p < 2) break;
      n = (uint64_t)p[0] << 8 | p[1];
      p += 2;
    } else if (n == 127) {
      if (end - p < 8) break;
      n = 0;
      for (int i = 0; i < 8; i++) n = n << 8 | p[i];
      p += 8;
    }
    uint8_t key[4] = {0, 0, 0, 0};
    if (masked) {
      if (end - p < 4) break;
      memcpy(key, p, 4);
      p += 4;
    }
    if (n > (uint64_t)(end - p)) break;
    for (uint64_t i = 0; i < n; i++) payload[i] = p[i] ^ key[i & 3];
    p += n;
    if (op >= 8) { /* control: close ends it; ping/pong are answered by lws, never data */
      if (op == 8 || n > 125 || !fin) break;
      continue;
    }
    if (op == 0 ? !in_msg : in_msg) break; /* continuation without a start, or a start inside */
    if (op == 1) break;                    /* text: the server refuses it and closes */
    if (op != 0 && op != 2) break;         /* reserved opcodes: lws closes */
    in_msg = !fin;
    /* lws delivers the frame in pieces; an empty frame as one (NULL, 0) callback */
    size_t off = 0;
    int rc = AK_REASM_MORE;
    do {
      size_t k = n - off < piece ? (size_t)(n - off) : piece;
      int last = fin && off + k == n;
      total += k;
      if (total <= max) {
        memcpy(expect + elen, payload + off, k);
        elen += k;
      }
      rc = ak__reasm_add(&r, k ? payload + off : NULL, k, last, max);
      off += k;
      if (rc == AK_REASM_TOO_BIG) {
        if (total <= max) abort(); /* refused within the limit */
        goto out;
      }
      if (total > max) abort(); /* over the limit, not refused */
      if (rc == AK_REASM_NOMEM) goto out;
      if (rc == AK_REASM_MESSAGE) {
        if (!last || r.len != elen || (elen && memcmp(r.buf, expect, elen) != 0)) abort();
        ak_message *m = NULL;
        if (ak_message_parse(r.buf, r.len, &m) == AK_OK) ak_message_free(m);
        ak__reasm_next(&r);
        elen = total = 0;
      } else if (last) {
        abort(); /* the last piece of a FIN frame completes the message */
      }
    } while (off < n);
  }
out:
  ak__reasm_free(&r);
  free(expect);
  free(payload);
  return 0;
}
