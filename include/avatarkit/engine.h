/* Motion engine: mono speech samples in, facial motion frames out, streaming, with a bounded
 * and known lookahead. No dependencies beyond libc/libm; no global state; one engine per
 * stream, not thread-safe (use one engine from one thread at a time).
 *
 * Timeline: samples are 16 kHz mono floats in [-1, 1]. Frame i covers
 * [i/fps, (i+1)/fps) seconds of the samples pushed since the last reset. After
 * ak_engine_finish(), exactly ceil(n_samples * fps / 16000) frames have been produced in
 * total for that utterance, so motion always covers the whole audio. */
#ifndef AVATARKIT_ENGINE_H
#define AVATARKIT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "avatarkit/arkit.h"
#include "avatarkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AK_ENGINE_SAMPLE_RATE 16000
#define AK_ENGINE_MAX_FPS 120
#define AK_ENGINE_MAX_LOOKAHEAD_MS 200

typedef struct ak_engine ak_engine;

typedef struct ak_engine_config {
  int fps;                      /* frames per second, 1..AK_ENGINE_MAX_FPS; default 25 */
  int lookahead_ms;             /* audio the engine may wait for past a frame's end before emitting
                                   it, 0..AK_ENGINE_MAX_LOOKAHEAD_MS; default 80. 0 = lowest latency;
                                   under 58 ms the model's zero-lookahead network is used, if any */
  float expressiveness;         /* 0 = still face (mouth only), 1 = lively; default 0.7 */
  uint64_t seed;                /* seeds blinks, gaze and head motion: same seed + same audio = same
                                   frames */
  const struct ak_model *model; /* borrowed weights, shared by many engines; must outlive
                                   them. NULL = the built-in default model */
} ak_engine_config;

/* Read-only model weights, loaded once and shared by every engine of a process. */
typedef struct ak_model ak_model;

/* Loads a weights blob from a file. Refuses a truncated, corrupt or foreign blob with
 * AK_ECORRUPT / AK_EVERSION / AK_EFORMAT, a missing file with AK_EIO. */
int ak_model_load(const char *path, ak_model **out);
/* Same from memory (the bytes are copied). */
int ak_model_load_memory(const void *data, size_t len, ak_model **out);
/* NULL is a no-op. Only after every engine using it is freed. */
void ak_model_free(ak_model *m);
/* Parses the built-in default model (what cfg.model = NULL uses). Load it once and share it
 * through cfg.model when running many engines: each engine created with cfg.model = NULL
 * parses its own copy (~910 KB: the main and the zero-lookahead network). AK_EFORMAT when
 * the library was built without one. */
int ak_model_load_default(ak_model **out);

typedef struct ak_motion_frame {
  uint32_t index;                     /* frame index since the last reset */
  float weights[AK_BLENDSHAPE_COUNT]; /* ARKit order, each 0..1 */
  float head[3];                      /* pitch, yaw, roll in radians */
  uint8_t viseme;                     /* 0 = silence; engine-defined ids otherwise */
  uint8_t voice;                      /* 1 when the frame holds speech */
} ak_motion_frame;

/* Fills cfg with the defaults above. */
void ak_engine_config_default(ak_engine_config *cfg);

/* Creates an engine. Returns AK_OK and sets *out, or a negative ak_err (AK_EINVAL for a bad
 * config, AK_EIO/AK_ECORRUPT/AK_EVERSION for a bad weights blob, AK_ENOMEM). */
int ak_engine_new(const ak_engine_config *cfg, ak_engine **out);

/* Frees the engine; NULL is a no-op. */
void ak_engine_free(ak_engine *e);

/* Appends n samples (16 kHz mono, borrowed). Returns AK_OK or a negative code. Frames that
 * become complete (their end + lookahead is covered) can then be popped. */
int ak_engine_push(ak_engine *e, const float *samples, size_t n);

/* Marks the end of the utterance: every remaining frame becomes poppable. Further pushes
 * before ak_engine_reset() return AK_ESTATE. */
int ak_engine_finish(ak_engine *e);

/* Pops the next ready frame into *out. Returns 1 when a frame was written, 0 when none is
 * ready yet, or a negative code. */
int ak_engine_pop(ak_engine *e, ak_motion_frame *out);

/* Starts a new utterance (new request or interrupt): drops pending audio and frames and
 * restarts frame indices at 0. Slow "life" state (blink timing, gaze, head pose) carries
 * over so the face stays continuous. */
void ak_engine_reset(ak_engine *e);

/* Lookahead in samples at 16 kHz: the latency the engine adds beyond a frame's duration. */
int ak_engine_lookahead_samples(const ak_engine *e);

/* Bytes of memory owned by this engine (state and buffers, weights excluded when shared). */
size_t ak_engine_memory(const ak_engine *e);

#ifdef __cplusplus
}
#endif
#endif
