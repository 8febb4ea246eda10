/* Internals of the engine object (engine.c): its ring and queue bounds and kernel choice,
 * plus every topic header (signal side, network + weights, facial life), so engine.c and the
 * tools and tests built against the engine's internals include one file. Not installed;
 * ak__ symbols only. */
#ifndef AK_ENGINE_INTERNAL_H
#define AK_ENGINE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "avatarkit/engine.h"
#include "engine_dsp.h"
#include "engine_life.h"
#include "engine_nn.h"

#define AK__RING 1024        /* sample ring, power of two >= AK__WIN + AK__HOP */
#define AK__SILENT_DB -95.0f /* hop level under which the network mouth rests */
#define AK__HOPRING 256      /* hop results kept; > hops in one frame at 1 fps (100) + lookahead */
#define AK__MAX_PENDING_FRAMES 32768 /* unpopped frames an engine holds before AK_ETOOBIG */
#define AK__SMOOTH_HOPS 2            /* max hops of symmetric smoothing look-ahead */

/* Selects the engine's kernel: 1 = best available, 0 = plain C reference (tests, bench). */
void ak__engine_use_simd(ak_engine *e, int simd);

#endif
