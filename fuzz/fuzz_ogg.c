/* Fuzz target: the streaming Ogg Opus input decoder, fed in slices whose size comes from the
 * first input byte so that page boundaries land everywhere. */
#include <stdlib.h>

#include "avatarkit/codec.h"

static int sink(void *user, const float *pcm, size_t n) {
  size_t *total = user;
  *total += n;
  for (size_t i = 0; i < n; i++)
    if (pcm[i] != pcm[i]) abort(); /* NaN from a decoder would poison the engine */
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t slice = 1 + data[0];
  data++;
  size--;
  ak_ogg_decoder *d = NULL;
  if (ak_ogg_decoder_new(1 << 20, &d) != AK_OK) return 0;
  size_t total = 0;
  for (size_t i = 0; i < size; i += slice) {
    size_t n = size - i < slice ? size - i : slice;
    if (ak_ogg_decoder_push(d, data + i, n, sink, &total) != AK_OK) break;
  }
  ak_ogg_decoder_free(d);
  return 0;
}
