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
/* Quiet gate of the network mouth (engine.c quiet_gate, on a network with the record
 * "quiet.db", engine_nn.h): hops whose neighbourhood, QUIET_BACK hops before to QUIET_FWD after
 * (as far as analysed), stays far under the stream's running speech level rest. That level
 * rises towards louder hops the network calls voiced (half the gap, at most QUIET_RISE_DB a
 * hop, so a knock or a noise burst hardly lifts it) and falls 3 dB/s, from QUIET_INIT_DB at
 * the start of a stream and never under QUIET_FLOOR_DB, so a quiet speaker alone still moves
 * the mouth. */
#define AK__QUIET_BACK 15
#define AK__QUIET_FWD 5
#define AK__QUIET_RISE_DB 1.5f
#define AK__QUIET_INIT_DB -35.0f
#define AK__QUIET_FLOOR_DB -50.0f

/* Selects the engine's kernel: 1 = best available, 0 = plain C reference (tests, bench). */
void ak__engine_use_simd(ak_engine *e, int simd);

#endif
