/* Plain-C inference of the streaming mouth network: normalise -> causal conv (k=3) + ReLU ->
 * GRU -> linear -> sigmoid, one 10 ms hop at a time. Shapes are checked once at bind time;
 * the matrix-vector kernel here is the reference that any SIMD variant is tested against. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_nn.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AK_HAVE_AVX2 1

/* Sum of each of eight accumulators, as one vector {sum(a[0]), ..., sum(a[7])}. */
__attribute__((target("avx2,fma"))) static __m256 hsum8(const __m256 a[8]) {
  __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  /* u0 = {rows 0-3 over lanes 0-3 | rows 0-3 over lanes 4-7}, u1 the same for rows 4-7 */
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* AVX2+FMA variant of ak__matvec_ref; same contract. Eight rows at a time, so eight
 * independent FMA chains share each load of x (one row alone waits on every FMA's latency),
 * then the rows left one at a time. Sums in another order, so results differ from the
 * reference by rounding only (tested). */
__attribute__((target("avx2,fma"))) static void matvec_avx2(const float *W, const float *x,
                                                            int rows, int cols, float *y) {
  const int c8 = cols & ~7;
  int r = 0;
  for (; r + 8 <= rows; r += 8) {
    const float *w = W + (size_t)r * (size_t)cols;
    __m256 acc[8];
    for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
    for (int c = 0; c < c8; c += 8) {
      __m256 xv = _mm256_loadu_ps(x + c);
      for (int k = 0; k < 8; k++)
        acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(w + (size_t)k * (size_t)cols + c), xv, acc[k]);
    }
    float s[8];
    _mm256_storeu_ps(s, hsum8(acc));
    for (int k = 0; k < 8; k++) {
      for (int c = c8; c < cols; c++) s[k] += w[(size_t)k * (size_t)cols + c] * x[c];
      y[r + k] += s[k];
    }
  }
  for (; r < rows; r++) {
    const float *w = W + (size_t)r * (size_t)cols;
    __m256 acc = _mm256_setzero_ps();
    for (int c = 0; c < c8; c += 8)
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + c), _mm256_loadu_ps(x + c), acc);
    __m128 lo = _mm256_castps256_ps128(acc), hi = _mm256_extractf128_ps(acc, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    float s = _mm_cvtss_f32(lo);
    for (int c = c8; c < cols; c++) s += w[c] * x[c];
    y[r] += s;
  }
}
#endif

ak__matvec_fn ak__matvec_best(void) {
#ifdef AK_HAVE_AVX2
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return matvec_avx2;
#endif
  return ak__matvec_ref;
}

/* Four independent partial sums: a single running sum would wait on each addition's
 * latency; plain C either way, and compilers may pack the four lanes into one vector. */
void ak__matvec_ref(const float *W, const float *x, int rows, int cols, float *y) {
  for (int r = 0; r < rows; r++) {
    const float *w = W + (size_t)r * (size_t)cols;
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    int c = 0;
    for (; c + 4 <= cols; c += 4) {
      a0 += w[c] * x[c];
      a1 += w[c + 1] * x[c + 1];
      a2 += w[c + 2] * x[c + 2];
      a3 += w[c + 3] * x[c + 3];
    }
    for (; c < cols; c++) a0 += w[c] * x[c];
    y[r] += (a0 + a1) + (a2 + a3);
  }
}

/* The record prefix + name; NULL when absent or when the name would not fit a record. */
static const ak__record *find(const ak_model *m, const char *prefix, const char *name) {
  char full[AK__MODEL_NAME_LEN];
  int len = snprintf(full, sizeof full, "%s%s", prefix, name);
  return m && len >= 0 && (size_t)len < sizeof full ? ak__model_find(m, full) : NULL;
}

static const float *rec(const ak_model *m, const char *prefix, const char *name, uint32_t d0,
                        uint32_t d1, uint32_t d2, int *ok) {
  const ak__record *r = find(m, prefix, name);
  uint32_t want = d0 * (d1 ? d1 : 1) * (d2 ? d2 : 1);
  if (!r || r->count != want || r->dims[0] != d0 || (d1 && r->dims[1] != d1) ||
      (d2 && r->dims[2] != d2)) {
    *ok = 0;
    return NULL;
  }
  return r->data;
}

/* A decision output's smoothstep edges: the record `name` [2] (0 <= lo < hi <= 1, only on a
 * network that has that output), else 0.4, 0.6. AK_OK or AK_EFORMAT. */
static int decision_edges(const ak_model *m, const char *prefix, const char *name, int has_output,
                          float *lo, float *hi) {
  *lo = 0.4f;
  *hi = 0.6f;
  if (!find(m, prefix, name)) return AK_OK;
  int ok = 1;
  const float *t = rec(m, prefix, name, 2, 0, 0, &ok);
  if (!ok || !has_output || !(t[0] >= 0.0f && t[0] < t[1] && t[1] <= 1.0f)) return AK_EFORMAT;
  *lo = t[0];
  *hi = t[1];
  return AK_OK;
}

int ak__nn_has(const ak_model *m, const char *prefix) {
  return find(m, prefix, "meta") != NULL;
}

int ak__nn_bind(const ak_model *m, const char *prefix, ak__nn *nn) {
  if (!m || !ak__nn_has(m, prefix)) return AK_EFORMAT;
  int ok = 1;
  const float *md = rec(m, prefix, "meta", 5, 0, 0, &ok);
  if (!ok) return AK_EFORMAT;
  for (int i = 0; i < 5; i++)
    if (!(md[i] >= 0.0f && md[i] <= 4096.0f)) return AK_EFORMAT;
  int nmel = (int)md[0], hid = (int)md[1], nt = (int)md[2];
  int la = (int)md[3], k = (int)md[4];
  if (nmel != AK__NMEL || nt < AK__NT || nt > AK__NN_MAXNT || k != 3 || hid < 1 ||
      hid > AK__NN_MAXH || la < 0 || la > 10)
    return AK_EFORMAT;
  uint32_t H = (uint32_t)hid, F = (uint32_t)nmel;
  nn->cmn = nn->cmn_init = NULL;
  if (find(m, prefix, "cmn")) {
    const float *c = rec(m, prefix, "cmn", 4, 0, 0, &ok);
    nn->cmn_init = rec(m, prefix, "cmn.init", F, 0, 0, &ok);
    if (!ok || !(c[0] > 0.0f && c[0] <= 1.0f && c[1] >= 0.0f && c[1] < 100.0f && c[2] > 0.0f &&
                 c[2] < 100.0f && c[3] > -100.0f && c[3] < 100.0f))
      return AK_EFORMAT;
    for (uint32_t i = 0; i < F; i++)
      if (!(nn->cmn_init[i] > -100.0f && nn->cmn_init[i] < 100.0f)) return AK_EFORMAT;
    nn->cmn = c;
  }
  uint32_t I = nn->cmn ? 2 * F : F;
  nn->nin = (int)I;
  nn->nmel = nmel;
  nn->hidden = hid;
  nn->nt = nt;
  nn->lookahead = la;
  nn->mean = rec(m, prefix, "feat.mean", F, 0, 0, &ok);
  nn->std = rec(m, prefix, "feat.std", F, 0, 0, &ok);
  nn->conv_w = rec(m, prefix, "conv.w", H, 3, I, &ok);
  nn->conv_b = rec(m, prefix, "conv.b", H, 0, 0, &ok);
  nn->w_ih = rec(m, prefix, "gru.w_ih", 3 * H, H, 0, &ok);
  nn->w_hh = rec(m, prefix, "gru.w_hh", 3 * H, H, 0, &ok);
  nn->b_ih = rec(m, prefix, "gru.b_ih", 3 * H, 0, 0, &ok);
  nn->b_hh = rec(m, prefix, "gru.b_hh", 3 * H, 0, 0, &ok);
  nn->out_w = rec(m, prefix, "out.w", (uint32_t)nt, H, 0, &ok);
  nn->out_b = rec(m, prefix, "out.b", (uint32_t)nt, 0, 0, &ok);
  if (!ok) return AK_EFORMAT;
  if (decision_edges(m, prefix, "lips.thr", nt > AK__T_LIPS, &nn->lips_lo, &nn->lips_hi) != AK_OK ||
      decision_edges(m, prefix, "round.thr", nt > AK__T_ROUND, &nn->round_lo, &nn->round_hi) !=
          AK_OK)
    return AK_EFORMAT;
  nn->round_funnel = nn->round_pucker = 0.45f;
  if (find(m, prefix, "round.pose")) {
    const float *t = rec(m, prefix, "round.pose", 2, 0, 0, &ok);
    if (!ok || nt <= AK__T_ROUND || !(t[0] >= 0.0f && t[0] <= 1.0f && t[1] >= 0.0f && t[1] <= 1.0f))
      return AK_EFORMAT;
    nn->round_funnel = t[0];
    nn->round_pucker = t[1];
  }
  nn->quiet_rel = nn->quiet_span = 0.0f;
  if (find(m, prefix, "quiet.db")) {
    const float *t = rec(m, prefix, "quiet.db", 2, 0, 0, &ok);
    if (!ok || !(t[0] > 0.0f && t[0] <= 60.0f && t[1] > 0.0f && t[1] <= 30.0f)) return AK_EFORMAT;
    nn->quiet_rel = t[0];
    nn->quiet_span = t[1];
  }
  nn->mv = ak__matvec_best();
  for (int i = 0; i < nmel; i++)
    if (!(nn->std[i] > 0.0f)) return AK_EFORMAT;
  return AK_OK;
}

void ak__nn_reset(const ak__nn *nn, ak__nn_state *s) {
  memset(s, 0, sizeof *s); /* normalised 0 = the mean feature, as the training padding */
  if (nn->cmn) {
    memcpy(s->mean, nn->cmn_init, (size_t)nn->nmel * sizeof *s->mean);
    s->peak = nn->cmn[3];
  }
}

static float sigm(float x) {
  return 1.0f / (1.0f + expf(-x));
}

/* tanh through one expf: libm's tanhf (expm1f inside) cost a third of a hop's time, the
 * matrix products included. Absolute error ~1e-7 near 0, exact +-1 in the tails
 * (expf overflows to inf, or underflows to 0). */
static float tanh_fast(float x) {
  return 1.0f - 2.0f / (1.0f + expf(2.0f * x));
}

void ak__nn_step(const ak__nn *nn, ak__nn_state *s, const float *feat, float *out) {
  const int F = nn->nmel, I = nn->nin, H = nn->hidden;
  memmove(s->hist, s->hist + I, 2 * (size_t)I * sizeof *s->hist);
  float *x = s->hist + 2 * I;
  for (int i = 0; i < F; i++) x[i] = (feat[i] - nn->mean[i]) / nn->std[i];
  if (nn->cmn) {
    float e = 0.0f;
    for (int i = 0; i < F; i++) e += feat[i];
    e /= (float)F;
    float pk = s->peak - nn->cmn[1];
    if (e > pk) pk = e;
    s->peak = pk;
    if (e > pk - nn->cmn[2] && e > nn->cmn[3])
      for (int i = 0; i < F; i++) s->mean[i] += nn->cmn[0] * (feat[i] - s->mean[i]);
    for (int i = 0; i < F; i++) x[F + i] = (feat[i] - s->mean[i]) / nn->std[i];
  }
  float c[AK__NN_MAXH], gi[3 * AK__NN_MAXH], gh[3 * AK__NN_MAXH];
  memcpy(c, nn->conv_b, (size_t)H * sizeof *c);
  nn->mv(nn->conv_w, s->hist, H, 3 * I, c);
  for (int i = 0; i < H; i++) c[i] = c[i] > 0.0f ? c[i] : 0.0f;
  memcpy(gi, nn->b_ih, 3 * (size_t)H * sizeof *gi);
  memcpy(gh, nn->b_hh, 3 * (size_t)H * sizeof *gh);
  nn->mv(nn->w_ih, c, 3 * H, H, gi);
  nn->mv(nn->w_hh, s->h, 3 * H, H, gh);
  for (int i = 0; i < H; i++) {
    float r = sigm(gi[i] + gh[i]);
    float z = sigm(gi[H + i] + gh[H + i]);
    float n = tanh_fast(gi[2 * H + i] + r * gh[2 * H + i]);
    s->h[i] = (1.0f - z) * n + z * s->h[i];
  }
  float o[AK__NN_MAXNT];
  memcpy(o, nn->out_b, (size_t)nn->nt * sizeof *o);
  nn->mv(nn->out_w, s->h, nn->nt, H, o);
  for (int i = 0; i < nn->nt; i++) out[i] = sigm(o[i]);
}
