/* Fuzz target: the protocol parser. Any bytes: parse must either refuse or yield views that
 * are consistent (dequantize works, re-packing and re-parsing succeed). */
#include <stdlib.h>
#include <string.h>

#include "avatarkit/alloc.h"
#include "avatarkit/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ak_message *m = NULL;
  if (ak_message_parse(data, size, &m) == AK_OK) {
    if (m->data == AK_DATA_ANIMATION && m->u.animation.has_motion) {
      const ak_motion_payload *p = &m->u.animation.motion;
      float *w = malloc(sizeof(float) * AK_BLENDSHAPE_COUNT * (p->frame_count + 1));
      float *h = malloc(sizeof(float) * 3 * (p->frame_count + 1));
      if (ak_motion_dequantize(p, w, h) != (int)p->frame_count) abort();
      free(w);
      free(h);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (ak_message_pack(m, &buf, &len) == AK_OK) {
      ak_message *again = NULL;
      if (ak_message_parse(buf, len, &again) != AK_OK) abort(); /* our own output must parse */
      if (again->type != m->type || again->data != m->data) abort();
      ak_message_free(again);
      ak_free(buf);
    }
    ak_message_free(m);
  }
  ak_audio_payload a;
  ak_motion_payload mp;
  ak_message *hold = NULL;
  if (ak_audio_payload_parse(data, size, &a, &hold) == AK_OK) {
    for (size_t i = 0; i < a.n_packets; i++)
      if (!a.packets[i] || a.packet_lens[i] == 0) abort();
    ak_message_free(hold);
  }
  if (ak_motion_payload_parse(data, size, &mp, &hold) == AK_OK) ak_message_free(hold);
  return 0;
}
