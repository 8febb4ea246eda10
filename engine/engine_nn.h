/* Engine internals, learned side: the model's output channels, the streaming mouth network
 * and its kernels (nn.c), and the weights blob of named records (model.c). Not installed; ak__
 * symbols only. */
#ifndef AK_ENGINE_NN_H
#define AK_ENGINE_NN_H

#include <stddef.h>
#include <stdint.h>

#include "avatarkit/engine.h"
#include "engine_dsp.h"

/* Model output channels per hop (targets of the training data), 0..1 each. */
enum {
  AK__T_JAW,
  AK__T_CLOSE,
  AK__T_FUNNEL,
  AK__T_PUCKER,
  AK__T_STRETCH,
  AK__T_ROLL_LO,
  AK__T_ROLL_UP,
  AK__T_PRESS,
  AK__T_LOWER,
  AK__T_UPPER,
  AK__T_SMILE,
  AK__T_SHRUG_LO,
  AK__T_TONGUE,
  AK__T_VOICE,
  AK__NT
};
/* A network may have one more output after these (meta nt = AK__NT + 1): the probability that
 * the lips are closed for /p b m/ at this hop, a yes/no decision trained with cross-entropy.
 * The engine then closes the lips (mouthClose up to jawOpen, press and rolls of the PP pose)
 * in proportion to smoothstep(lo, hi, p): regression outputs hedge at half strength on
 * voices unlike the training data, a decision does not. lo, hi: the optional record
 * "lips.thr" [2] of the network (0 <= lo < hi <= 1, picked on validation voices), else
 * 0.4, 0.6. */
#define AK__T_LIPS AK__NT
/* And one more after that (nt = AK__NT + 2): the probability that the lips are rounded (the
 * training targets' mouthFunnel + mouthPucker >= 0.7 on a voiced hop), another yes/no
 * decision: with r = smoothstep(lo, hi, p), mouthFunnel and mouthPucker move towards at least
 * the rounded pose, the record "round.pose" [2] (funnel, pucker; the median of the training
 * targets where the decision is yes), else 0.45, 0.45. lo, hi: "round.thr" [2], else 0.4, 0.6. */
#define AK__T_ROUND (AK__NT + 1)
#define AK__NN_MAXNT (AK__NT + 2)
/* Any network may have the record "quiet.db" [2] = {rel, span} (dB, rel in (0, 60], span in
 * (0, 30]): the engine then rests the mouth where the sound stays more than rel under the
 * stream's running speech level, fully at rel + span (engine_internal.h AK__QUIET_*). Without
 * it there is no such gate (networks packed before 2026-12-06). */

/* The streaming mouth network (nn.c): weights bound from a model, and per-engine state. */
#define AK__NN_MAXH 256
typedef void (*ak__matvec_fn)(const float *W, const float *x, int rows, int cols, float *y);
/* Optional per-stream normalisation (records "cmn" [4] and "cmn.init" [nmel]): the network
 * then reads 2 x nmel inputs per hop, the standardised log-mel and the log-mel minus a running
 * mean of the stream's speech hops (standardised by the same std). cmn = {alpha, decay, rel,
 * floor}: a hop whose mean log-mel e satisfies e > peak - rel and e > floor, where peak =
 * max(e, previous peak - decay) starts at floor, moves the mean by alpha towards it; the mean
 * starts at cmn.init. tools/train/train.py cmn_run() is the same arithmetic. */
typedef struct ak__nn {
  ak__matvec_fn mv;                     /* kernel chosen at bind time: SIMD when the CPU has it */
  int nmel, nin, hidden, nt, lookahead; /* nin: inputs per hop, nmel or 2 x nmel (cmn) */
  float lips_lo, lips_hi;               /* closure-decision smoothstep edges (nt > AK__T_LIPS) */
  float round_lo, round_hi, round_funnel, round_pucker; /* rounding decision (nt > AK__T_ROUND) */
  float quiet_rel, quiet_span;                          /* quiet gate ("quiet.db"); span 0: none */
  const float *mean, *std, *conv_w, *conv_b, *w_ih, *w_hh, *b_ih, *b_hh, *out_w, *out_b;
  const float *cmn, *cmn_init; /* NULL without per-stream normalisation */
} ak__nn;

typedef struct ak__nn_state {
  float hist[3 * 2 * AK__NMEL]; /* network inputs of hops j-2, j-1, j */
  float h[AK__NN_MAXH];
  float mean[AK__NMEL], peak; /* per-stream normalisation (cmn) */
} ak__nn_state;

/* Binds and shape-checks the network whose records are named prefix + "meta", prefix +
 * "conv.w", ... ("" = the main network, AK__NN_LOWLAT = the zero-lookahead one): AK_OK, or
 * AK_EFORMAT when m holds no such network (or a malformed one). */
#define AK__NN_LOWLAT "ll."
int ak__nn_bind(const ak_model *m, const char *prefix, ak__nn *nn);
/* 1 when m has a network under prefix (its meta record), well-formed or not. */
int ak__nn_has(const ak_model *m, const char *prefix);
void ak__nn_reset(const ak__nn *nn, ak__nn_state *s);
/* One hop: raw log-mel in, nn->nt (AK__NT .. AK__NN_MAXNT) sigmoid outputs for hop
 * j - lookahead out. */
void ak__nn_step(const ak__nn *nn, ak__nn_state *s, const float *feat, float *out);
/* y[r] += sum_c W[r * cols + c] * x[c]: the plain C reference kernel. */
void ak__matvec_ref(const float *W, const float *x, int rows, int cols, float *y);
/* The fastest kernel this CPU runs (AVX2+FMA on x86-64 when present, else the reference). */
ak__matvec_fn ak__matvec_best(void);
/* Weights blob. */
#define AK__MODEL_MAGIC "AKMW"
#define AK__MODEL_VERSION 1u
#define AK__MODEL_NAME_LEN 32
#define AK__MODEL_MAX_DIMS 4
#define AK__MODEL_MAX_RECORDS 256
#define AK__MODEL_MAX_BYTES (16u * 1024u * 1024u)

typedef struct ak__record {
  char name[AK__MODEL_NAME_LEN];
  uint32_t ndims;
  uint32_t dims[AK__MODEL_MAX_DIMS];
  uint32_t count;    /* number of float32 values */
  const float *data; /* aligned copy owned by the model */
} ak__record;

struct ak_model {
  uint32_t nrec;
  ak__record *rec;
  float *store; /* all record data, 4-byte aligned */
  size_t store_len;
};

/* Finds a record by name; NULL when absent. */
const ak__record *ak__model_find(const ak_model *m, const char *name);
uint32_t ak__crc32(const void *data, size_t len);

#endif
