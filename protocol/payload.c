/* Motion payload quantization: floats <-> bytes (weights /255) and int16 (head, 1e-4 rad). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "avatarkit/protocol.h"
#include "alloc_internal.h"

static uint8_t q8(float w) {
  if (!(w > 0.f)) return 0; /* also maps NaN to 0 */
  if (w >= 1.f) return 255;
  return (uint8_t)lrintf(w * 255.f);
}

static int16_t q16(float rad) {
  if (isnan(rad)) return 0;
  float v = rad * 10000.f;
  if (v > 32767.f) v = 32767.f;
  if (v < -32767.f) v = -32767.f;
  return (int16_t)lrintf(v);
}

int ak_motion_quantize(const float *weights, const float *head, const uint8_t *visemes, uint32_t n,
                       uint32_t first_frame, uint32_t fps, int end, ak_motion_payload *out,
                       uint8_t **owned) {
  if (!out || !owned || (n && (!weights || !head)) || n > AK_MAX_PAYLOAD_FRAMES || fps < 1 ||
      fps > 240)
    return AK_EINVAL;
  uint64_t mask = 0;
  for (uint32_t f = 0; f < n; f++)
    for (int c = 0; c < AK_BLENDSHAPE_COUNT; c++)
      if (q8(weights[(size_t)f * AK_BLENDSHAPE_COUNT + c])) mask |= 1ull << c;
  size_t ch = (size_t)__builtin_popcountll(mask);
  size_t wlen = (size_t)n * ch, hlen = (size_t)n * 6, vlen = visemes ? n : 0;
  uint8_t *buf = ak__malloc(wlen + hlen + vlen + 1);
  if (!buf) return AK_ENOMEM;
  uint8_t *w = buf, *h = buf + wlen, *v = h + hlen;
  for (uint32_t f = 0; f < n; f++) {
    for (int c = 0; c < AK_BLENDSHAPE_COUNT; c++)
      if (mask >> c & 1) *w++ = q8(weights[(size_t)f * AK_BLENDSHAPE_COUNT + c]);
    for (int k = 0; k < 3; k++) {
      uint16_t u = (uint16_t)q16(head[(size_t)f * 3 + k]);
      h[(size_t)f * 6 + 2 * k] = (uint8_t)(u & 0xff);
      h[(size_t)f * 6 + 2 * k + 1] = (uint8_t)(u >> 8);
    }
  }
  if (vlen) memcpy(v, visemes, vlen);
  *out = (ak_motion_payload){.fps = fps,
                             .first_frame = first_frame,
                             .frame_count = n,
                             .channel_mask = mask,
                             .weights = buf,
                             .weights_len = wlen,
                             .head = buf + wlen,
                             .head_len = hlen,
                             .visemes = vlen ? v : NULL,
                             .visemes_len = vlen,
                             .end = end ? 1 : 0};
  *owned = buf;
  return AK_OK;
}

int ak_motion_dequantize(const ak_motion_payload *p, float *weights, float *head) {
  if (!p || !weights || !head) return AK_EINVAL;
  if (p->channel_mask >> AK_BLENDSHAPE_COUNT) return AK_EPROTO;
  size_t ch = (size_t)__builtin_popcountll(p->channel_mask);
  if (p->weights_len != (size_t)p->frame_count * ch || p->head_len != (size_t)p->frame_count * 6)
    return AK_EPROTO;
  const uint8_t *w = p->weights;
  for (uint32_t f = 0; f < p->frame_count; f++) {
    float *row = weights + (size_t)f * AK_BLENDSHAPE_COUNT;
    for (int c = 0; c < AK_BLENDSHAPE_COUNT; c++)
      row[c] = (p->channel_mask >> c & 1) ? (float)*w++ / 255.f : 0.f;
    for (int k = 0; k < 3; k++) {
      const uint8_t *b = p->head + (size_t)f * 6 + 2 * k;
      int16_t s = (int16_t)(uint16_t)(b[0] | (b[1] << 8));
      head[(size_t)f * 3 + k] = (float)s / 10000.f;
    }
  }
  return (int)p->frame_count;
}
