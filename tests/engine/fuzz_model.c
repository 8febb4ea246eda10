/* Fuzz target for the weights loader and the network binding: any bytes go through
 * ak_model_load_memory(); a blob that loads drives an engine over a short fixed signal, and
 * every frame must stay finite and in range. Built as a corpus replayer by
 * tests/engine/CMakeLists.txt (fuzz/replay.c); usable as a libFuzzer target as is. */
#include <math.h>
#include <stdlib.h>

#include "avatarkit/engine.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  ak_model *m = NULL;
  if (ak_model_load_memory(data, size, &m) != AK_OK) return 0;
  ak_engine_config c;
  ak_engine_config_default(&c);
  c.model = m;
  for (int la = 0; la <= 80; la += 80) { /* 0 binds the zero-lookahead network if present */
    c.lookahead_ms = la;
    ak_engine *e = NULL;
    if (ak_engine_new(&c, &e) != AK_OK) continue;
    float x[1600];
    for (int i = 0; i < 1600; i++) x[i] = 0.3f * sinf(0.05f * (float)i) * (float)(i % 400 < 200);
    ak_engine_push(e, x, 1600);
    ak_engine_finish(e);
    ak_motion_frame f;
    while (ak_engine_pop(e, &f) == 1)
      for (int k = 0; k < AK_BLENDSHAPE_COUNT; k++)
        if (!(f.weights[k] >= 0.0f && f.weights[k] <= 1.0f)) abort();
    ak_engine_free(e);
  }
  ak_model_free(m);
  return 0;
}
