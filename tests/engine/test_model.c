/* Weights blob and network tests: loader refuses corrupt, truncated, foreign and mis-shaped
 * blobs with the documented codes; the C network matches the training framework's outputs on
 * the committed fixture; the SIMD kernel matches the plain C reference.
 * Usage: test_model FIXTURE.bin [LOWLAT_FIXTURE.bin] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "test_util.h"

extern const unsigned char ak__default_model[];
extern const size_t ak__default_model_len;

/* ---- a tiny blob builder ---- */
typedef struct buf {
  unsigned char *p;
  size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}
static void put32(buf *b, uint32_t v) {
  put(b, &v, 4);
}

static void add_rec(buf *b, const char *name, uint32_t dtype, uint32_t nd, const uint32_t dims[4],
                    const float *data, uint32_t nbytes) {
  char nm[32] = {0};
  memcpy(nm, name, strlen(name) < 31 ? strlen(name) : 31);
  put(b, nm, 32);
  put32(b, dtype);
  put32(b, nd);
  for (int i = 0; i < 4; i++) put32(b, dims[i]);
  put32(b, nbytes);
  put(b, data, nbytes);
}

/* Wraps a record body into a blob with a correct header and CRC. */
static buf finish_blob(const buf *body, uint32_t nrec, uint32_t version) {
  buf b = {0};
  put(&b, "AKMW", 4);
  put32(&b, version);
  put32(&b, nrec);
  put32(&b, (uint32_t)(24 + body->n));
  put32(&b, ak__crc32(body->p, body->n));
  put32(&b, 0);
  put(&b, body->p, body->n);
  return b;
}

static buf small_blob(void) {
  buf body = {0};
  float a[6] = {1, 2, 3, 4, 5, 6}, c[1] = {7};
  uint32_t d23[4] = {2, 3, 1, 1}, d1[4] = {1, 1, 1, 1};
  add_rec(&body, "a", 0, 2, d23, a, sizeof a);
  add_rec(&body, "c", 0, 1, d1, c, sizeof c);
  buf b = finish_blob(&body, 2, 1);
  free(body.p);
  return b;
}

static int is_refusal(int rc) {
  return rc == AK_ECORRUPT || rc == AK_EFORMAT || rc == AK_EVERSION || rc == AK_ETOOBIG;
}

static void test_loader(uint64_t seed) {
  buf b = small_blob();
  ak_model *m = NULL;
  CHECK(ak_model_load_memory(b.p, b.n, &m) == AK_OK, "valid small blob loads");
  const ak__record *r = ak__model_find(m, "a");
  CHECK(r && r->count == 6 && r->dims[0] == 2 && r->dims[1] == 3 && r->data[5] == 6.0f,
        "record shape and data read back");
  CHECK(ak__model_find(m, "zz") == NULL, "absent record not found");
  ak_model_free(m);
  ak_model_free(NULL);

  int all = 1;
  for (size_t i = 0; i < b.n; i++)
    for (int bit = 0; bit < 8; bit++) {
      b.p[i] ^= (unsigned char)(1u << bit);
      m = (ak_model *)0x1;
      int rc = ak_model_load_memory(b.p, b.n, &m);
      if (!is_refusal(rc) || m != (ak_model *)0x1) all = 0;
      b.p[i] ^= (unsigned char)(1u << bit);
    }
  CHECK(all, "every single-bit flip of a blob is refused, output untouched");
  all = 1;
  for (size_t n = 0; n < b.n; n++) {
    m = NULL;
    if (!is_refusal(ak_model_load_memory(b.p, n, &m)) || m) all = 0;
  }
  CHECK(all, "every truncation is refused");
  buf longer = {0};
  put(&longer, b.p, b.n);
  put32(&longer, 0);
  CHECK(ak_model_load_memory(longer.p, longer.n, &m) == AK_ECORRUPT, "trailing bytes refused");
  free(longer.p);

  unsigned char save = b.p[0];
  b.p[0] = 'X';
  CHECK(ak_model_load_memory(b.p, b.n, &m) == AK_EFORMAT, "foreign magic = AK_EFORMAT");
  b.p[0] = save;
  b.p[4] = 2;
  CHECK(ak_model_load_memory(b.p, b.n, &m) == AK_EVERSION, "version 2 = AK_EVERSION");
  b.p[4] = 1;
  free(b.p);

  /* Structurally wrong but CRC-correct blobs. */
  float v[2] = {1, 2};
  uint32_t d2[4] = {2, 1, 1, 1}, d3[4] = {3, 1, 1, 1};
  buf body = {0};
  add_rec(&body, "x", 1, 1, d2, v, 8);
  b = finish_blob(&body, 1, 1);
  CHECK(ak_model_load_memory(b.p, b.n, &m) == AK_EFORMAT, "unknown dtype = AK_EFORMAT");
  free(b.p);
  body.n = 0;
  add_rec(&body, "x", 0, 1, d3, v, 8);
  b = finish_blob(&body, 1, 1);
  CHECK(ak_model_load_memory(b.p, b.n, &m) == AK_ECORRUPT, "dims not matching size = AK_ECORRUPT");
  free(b.p);
  body.n = 0;
  add_rec(&body, "x", 0, 1, d2, v, 8);
  add_rec(&body, "x", 0, 1, d2, v, 8);
  b = finish_blob(&body, 2, 1);
  CHECK(ak_model_load_memory(b.p, b.n, &m) == AK_ECORRUPT, "duplicate record = AK_ECORRUPT");
  free(b.p);
  body.n = 0;
  add_rec(&body, "x", 0, 1, d2, v, 8);
  b = finish_blob(&body, 3, 1);
  CHECK(ak_model_load_memory(b.p, b.n, &m) == AK_ECORRUPT, "record count too high = AK_ECORRUPT");
  free(b.p);

  /* A well-formed blob whose network records have the wrong shapes: engine refuses it. */
  body.n = 0;
  float meta[5] = {AK__NMEL, 16, AK__NT, 2, 3};
  uint32_t dm[4] = {5, 1, 1, 1};
  add_rec(&body, "meta", 0, 1, dm, meta, sizeof meta);
  add_rec(&body, "feat.mean", 0, 1, d2, v, 8);
  b = finish_blob(&body, 2, 1);
  CHECK(ak_model_load_memory(b.p, b.n, &m) == AK_OK, "blob with a partial network parses");
  ak_engine_config c;
  ak_engine_config_default(&c);
  c.model = m;
  ak_engine *e = (ak_engine *)0x1;
  CHECK(ak_engine_new(&c, &e) == AK_EFORMAT && e == (ak_engine *)0x1,
        "engine refuses a mis-shaped network with AK_EFORMAT");
  ak_model_free(m);
  free(b.p);
  free(body.p);

  CHECK(ak_model_load("/nonexistent/avatarkit/model.akmw", &m) == AK_EIO, "missing file = AK_EIO");
  CHECK(ak_model_load_memory(NULL, 4, &m) == AK_EINVAL, "NULL data = AK_EINVAL");

  if (ak__default_model_len == 0) {
    printf("skip default-model corruption checks: built without models/default.akmw\n");
    return;
  }
  /* Random bit flips and truncations of the real default blob. */
  unsigned char *d = malloc(ak__default_model_len);
  memcpy(d, ak__default_model, ak__default_model_len);
  uint64_t s = seed;
  all = 1;
  for (int i = 0; i < 300; i++) {
    size_t pos = (size_t)(ak_test_rand(&s) % ak__default_model_len);
    unsigned char bit = (unsigned char)(1u << (ak_test_rand(&s) % 8));
    d[pos] ^= bit;
    m = NULL;
    if (!is_refusal(ak_model_load_memory(d, ak__default_model_len, &m)) || m) all = 0;
    d[pos] ^= bit;
  }
  char msg[128];
  snprintf(msg, sizeof msg, "300 random bit flips of the default blob refused (seed %llu)",
           (unsigned long long)seed);
  CHECK(all, msg);
  all = 1;
  for (int i = 0; i < 40; i++) {
    size_t n = (size_t)(ak_test_rand(&s) % ak__default_model_len);
    if (!is_refusal(ak_model_load_memory(d, n, &m))) all = 0;
  }
  CHECK(all, "40 random truncations of the default blob refused");
  const char *tmp = "test_model_tmp.akmw";
  FILE *f = fopen(tmp, "wb");
  if (f) {
    fwrite(d, 1, ak__default_model_len / 2, f);
    fclose(f);
    CHECK(ak_model_load(tmp, &m) == AK_ECORRUPT, "truncated file = AK_ECORRUPT");
    remove(tmp);
  }
  free(d);
}

static void test_fixture(const char *path, const char *prefix) {
  ak_model *m = NULL;
  if (ak_model_load_default(&m) != AK_OK) {
    CHECK(0, "default model loads");
    return;
  }
  ak__nn nn;
  CHECK(ak__nn_bind(m, prefix, &nn) == AK_OK, "default model has a well-formed network");
  FILE *f = fopen(path, "rb");
  if (!f) {
    CHECK(0, "fixture file present");
    ak_model_free(m);
    return;
  }
  char magic[4];
  uint32_t h[3];
  int ok = fread(magic, 1, 4, f) == 4 && !memcmp(magic, "AKFX", 4) && fread(h, 4, 3, f) == 3 &&
           h[1] == AK__NMEL && (int)h[2] == nn.nt && h[0] > 0 && h[0] < 100000;
  CHECK(ok, "fixture header (outputs as many as the network's)");
  if (!ok) {
    fclose(f);
    ak_model_free(m);
    return;
  }
  size_t T = h[0], NT = (size_t)nn.nt;
  float *in = malloc(T * AK__NMEL * sizeof *in), *want = malloc(T * NT * sizeof *want);
  ok = fread(in, sizeof *in, T * AK__NMEL, f) == T * AK__NMEL &&
       fread(want, sizeof *want, T * NT, f) == T * NT;
  fclose(f);
  CHECK(ok, "fixture body");
  for (int simd = 0; simd < 2; simd++) {
    nn.mv = simd ? ak__matvec_best() : ak__matvec_ref;
    ak__nn_state st;
    ak__nn_reset(&nn, &st);
    float maxerr = 0, y[AK__NN_MAXNT];
    for (size_t t = 0; t < T; t++) {
      ak__nn_step(&nn, &st, in + t * AK__NMEL, y);
      for (size_t k = 0; k < NT; k++) {
        float d = fabsf(y[k] - want[t * NT + k]);
        if (!(d <= maxerr)) maxerr = d;
      }
    }
    char msg[160];
    snprintf(msg, sizeof msg,
             "%s network (%zu outputs), %s kernel matches torch on %zu fixed hops (max |err| "
             "%.2e <= 1e-4)",
             *prefix ? "zero-lookahead" : "main", NT, simd ? "best" : "reference", T, maxerr);
    CHECK(maxerr <= 1e-4f, msg);
  }
  free(in);
  free(want);
  ak_model_free(m);
}

/* The front end's power spectrum (half-size complex FFT) equals a direct DFT of the
 * Hann-windowed, zero-padded window. */
static void test_power_spectrum(uint64_t seed) {
  ak__mel m;
  ak__mel_init(&m);
  uint64_t s = seed;
  float win[AK__WIN], pw[AK__FFT / 2 + 1];
  double maxrel = 0;
  for (int it = 0; it < 4; it++) {
    for (int i = 0; i < AK__WIN; i++)
      win[i] = 0.3f * ak_test_gauss(&s) + 0.5f * sinf(0.07f * (float)(i * (it + 1)));
    ak__mel_power(&m, win, pw);
    double total = 0;
    for (int k = 0; k <= AK__FFT / 2; k++) total += pw[k];
    for (int k = 0; k <= AK__FFT / 2; k++) {
      double re = 0, im = 0;
      for (int i = 0; i < AK__WIN; i++) {
        double a = -2.0 * 3.14159265358979323846 * k * i / AK__FFT;
        double xw = (double)win[i] * m.win[i];
        re += xw * cos(a);
        im += xw * sin(a);
      }
      double d = fabs(re * re + im * im - pw[k]) / (total / (AK__FFT / 2 + 1));
      if (d > maxrel) maxrel = d;
    }
  }
  char msg[128];
  snprintf(msg, sizeof msg,
           "power spectrum = direct DFT on 4 random windows (max err %.1e of "
           "the mean bin power)",
           maxrel);
  CHECK(maxrel < 1e-4, msg);
}

static void test_kernels(uint64_t seed) {
  uint64_t s = seed;
  float maxrel = 0;
  for (int it = 0; it < 50; it++) {
    int rows = 1 + (int)(ak_test_rand(&s) % 200), cols = 1 + (int)(ak_test_rand(&s) % 200);
    float *W = malloc((size_t)rows * cols * sizeof *W), *x = malloc(cols * sizeof *x);
    float *a = calloc(rows, sizeof *a), *b = calloc(rows, sizeof *b);
    for (int i = 0; i < rows * cols; i++) W[i] = ak_test_gauss(&s);
    for (int i = 0; i < cols; i++) x[i] = ak_test_gauss(&s);
    ak__matvec_ref(W, x, rows, cols, a);
    ak__matvec_best()(W, x, rows, cols, b);
    for (int r = 0; r < rows; r++) {
      float d = fabsf(a[r] - b[r]) / (1.0f + fabsf(a[r]));
      if (!(d <= maxrel)) maxrel = d;
    }
    free(W);
    free(x);
    free(a);
    free(b);
  }
  char msg[160];
  snprintf(msg, sizeof msg,
           "SIMD matvec (%s) matches the reference on 50 random shapes "
           "(max rel err %.1e, seed %llu)",
           ak__matvec_best() == ak__matvec_ref ? "not available: reference" : "AVX2+FMA", maxrel,
           (unsigned long long)seed);
  CHECK(maxrel < 1e-5f, msg);
}

static void test_shared_model(void) {
  ak_model *m = NULL;
  if (ak_model_load_default(&m) != AK_OK) return;
  float *x = ak_test_speechlike(16000 * 3, 8);
  ak_motion_frame fa[80], fb[80];
  size_t na = 0, nb = 0;
  for (int t = 0; t < 2; t++) {
    ak_engine_config c;
    ak_engine_config_default(&c);
    c.model = t ? m : NULL;
    ak_engine *e;
    if (ak_engine_new(&c, &e) != AK_OK) {
      CHECK(0, "engine with shared model");
      break;
    }
    if (t) CHECK(ak_engine_memory(e) < 64 * 1024, "engine sharing a model stays small");
    ak_engine_push(e, x, 16000 * 3);
    ak_engine_finish(e);
    ak_motion_frame *f = t ? fb : fa;
    size_t *n = t ? &nb : &na;
    while (*n < 80 && ak_engine_pop(e, &f[*n]) == 1) (*n)++;
    ak_engine_free(e);
  }
  CHECK(na == 75 && na == nb && memcmp(fa, fb, na * sizeof *fa) == 0,
        "shared default model = built-in default, frame for frame");
  free(x);
  ak_model_free(m);
}

/* Jaw track of x at 100 fps with lookahead la through model m. Caller frees. */
static float *jaw_track(const ak_model *m, const float *x, size_t n, int la, size_t *nf) {
  ak_engine_config c;
  ak_engine_config_default(&c);
  c.fps = 100;
  c.lookahead_ms = la;
  c.expressiveness = 0.0f;
  c.model = m;
  ak_engine *e;
  *nf = 0;
  if (ak_engine_new(&c, &e) != AK_OK) return NULL;
  float *j = malloc((n / 160 + 2) * sizeof *j);
  ak_motion_frame f;
  for (size_t p = 0; p < n; p += 320) {
    ak_engine_push(e, x + p, n - p < 320 ? n - p : 320);
    while (ak_engine_pop(e, &f) == 1) j[(*nf)++] = f.weights[AK_JAW_OPEN];
  }
  ak_engine_finish(e);
  while (ak_engine_pop(e, &f) == 1) j[(*nf)++] = f.weights[AK_JAW_OPEN];
  ak_engine_free(e);
  return j;
}

/* Lag (frames, > 0: b is late) in -12..12 that best correlates b with a. */
static int best_lag(const float *a, const float *b, size_t n) {
  int best = 0;
  double br = -2;
  for (int l = -12; l <= 12; l++) {
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, k = 0;
    for (size_t i = 12; i + 12 < n; i++) {
      double x = a[i], y = b[(size_t)((long)i + l)];
      sa += x, sb += y, saa += x * x, sbb += y * y, sab += x * y, k++;
    }
    double r = (sab / k - sa / k * sb / k) /
               sqrt((saa / k - sa / k * sa / k) * (sbb / k - sb / k * sb / k) + 1e-12);
    if (r > br) br = r, best = l;
  }
  return best;
}

/* The zero-lookahead network: at lookahead 0 the default model's mouth keeps time with the
 * 80 ms mouth, where the main network alone (the same blob without the ll. records) lags. */
static void test_lowlat(void) {
  ak_model *def = NULL;
  if (ak_model_load_default(&def) != AK_OK) return;
  if (!ak__nn_has(def, AK__NN_LOWLAT)) {
    printf("skip zero-lookahead network checks: the default model has none\n");
    ak_model_free(def);
    return;
  }
  buf body = {0};
  uint32_t nrec = 0;
  for (uint32_t i = 0; i < def->nrec; i++) {
    const ak__record *r = &def->rec[i];
    if (!strncmp(r->name, AK__NN_LOWLAT, strlen(AK__NN_LOWLAT))) continue;
    add_rec(&body, r->name, 0, r->ndims, r->dims, r->data, r->count * 4);
    nrec++;
  }
  buf b = finish_blob(&body, nrec, 1);
  /* The default blob with a broken zero-lookahead network: one record of the wrong shape,
   * or one that looks ahead as far as the main network. Refused at every lookahead. */
  for (int variant = 0; variant < 2; variant++) {
    buf bb = {0};
    for (uint32_t i = 0; i < def->nrec; i++) {
      const ak__record *r = &def->rec[i];
      float meta[5];
      if (variant == 0 && !strcmp(r->name, "ll.out.b")) {
        uint32_t d[4] = {r->dims[0] - 1, 1, 1, 1};
        add_rec(&bb, r->name, 0, 1, d, r->data, (r->count - 1) * 4);
      } else if (variant == 1 && !strcmp(r->name, "ll.meta")) {
        memcpy(meta, r->data, sizeof meta);
        meta[3] = ak__model_find(def, "meta")->data[3];
        add_rec(&bb, r->name, 0, r->ndims, r->dims, meta, sizeof meta);
      } else {
        add_rec(&bb, r->name, 0, r->ndims, r->dims, r->data, r->count * 4);
      }
    }
    buf blob = finish_blob(&bb, def->nrec, 1);
    ak_model *bad = NULL;
    int refused = ak_model_load_memory(blob.p, blob.n, &bad) == AK_OK;
    for (int la = 0; la <= 80 && refused; la += 80) {
      ak_engine_config c;
      ak_engine_config_default(&c);
      c.lookahead_ms = la;
      c.model = bad;
      ak_engine *e = NULL;
      if (ak_engine_new(&c, &e) != AK_EFORMAT || e) refused = 0;
      ak_engine_free(e);
    }
    CHECK(refused, variant ? "a zero-lookahead network that looks ahead as far as the main one "
                             "is refused (AK_EFORMAT) at lookahead 0 and 80"
                           : "a mis-shaped zero-lookahead network is refused (AK_EFORMAT) at "
                             "lookahead 0 and 80");
    ak_model_free(bad);
    free(blob.p);
    free(bb.p);
  }
  ak_model *main_only = NULL;
  CHECK(ak_model_load_memory(b.p, b.n, &main_only) == AK_OK,
        "default blob minus ll. records loads");
  const size_t n = 16000 * 12;
  float *x = ak_test_speechlike(n, 31);
  size_t n80, n0, nm;
  float *j80 = jaw_track(def, x, n, 80, &n80), *j0 = jaw_track(def, x, n, 0, &n0);
  float *jm = jaw_track(main_only, x, n, 0, &nm);
  CHECK(j80 && j0 && jm && n80 == 1200 && n0 == 1200 && nm == 1200, "three tracks of 1200 frames");
  if (j80 && j0 && jm && n80 == n0 && n0 == nm) {
    int lag_ll = best_lag(j80, j0, n0), lag_main = best_lag(j80, jm, nm);
    char msg[200];
    snprintf(msg, sizeof msg,
             "lookahead 0: zero-lookahead network %+d ms vs the 80 ms mouth, "
             "main network alone %+d ms",
             lag_ll * 10, lag_main * 10);
    CHECK(abs(lag_ll) <= 3 && lag_main >= 5 && lag_main - lag_ll >= 3, msg);
  }
  free(x);
  free(j80);
  free(j0);
  free(jm);
  free(b.p);
  free(body.p);
  ak_model_free(main_only);
  ak_model_free(def);
}

/* The rounding decision's settings of a constant network (net_blob_h): the 16th output's
 * logit, and the "round.thr" and "round.pose" records when not NULL; and the quiet gate's
 * "quiet.db" record (quiet_n floats, 2 when well formed) when quiet is not NULL. */
typedef struct {
  float logit;
  const float *thr, *pose;
  const float *quiet;
  uint32_t quiet_n;
} round_opts;

/* A constant network (all weights 0, the outputs set by their biases): nt outputs, the closure
 * decision (15th output) at logit `lips` when present, a "lips.thr" record when thr; with cmn
 * also the per-stream normalisation records ("cmn" = cmn[0..3], "cmn.init" = cmn_init) and
 * conv.w as wide as conv_in inputs per hop (2 x nmel is right for it); the rounding decision
 * (16th output) and its records from ro (logit -8 when NULL). */
static buf net_blob_h(int nt, float lips, const float *thr, const float *cmn, const float *cmn_init,
                      int conv_in, uint32_t H, const round_opts *ro) {
  enum { F = AK__NMEL };
  size_t nz = 3 * (size_t)H * (H > 2 * F ? H : 2 * F);
  float *zero = calloc(nz, sizeof *zero);
  float meta[5] = {F, (float)H, (float)nt, 0, 3}, ones[F], ob[AK__NN_MAXNT + 1] = {0};
  for (int i = 0; i < F; i++) ones[i] = 1.0f;
  for (int i = 0; i < nt; i++) ob[i] = -8.0f;
  ob[AK__T_JAW] = 1.0f;    /* jaw 0.73 */
  ob[AK__T_CLOSE] = -3.0f; /* mouthClose 0.05: lips apart */
  ob[AK__T_VOICE] = 8.0f;
  if (nt > AK__T_LIPS) ob[AK__T_LIPS] = lips;
  if (nt > AK__T_ROUND && ro) ob[AK__T_ROUND] = ro->logit;
  buf body = {0};
  uint32_t d5[4] = {5, 1, 1, 1}, dF[4] = {F, 1, 1, 1}, dc[4] = {H, 3, (uint32_t)conv_in, 1},
           dH[4] = {H, 1, 1, 1}, dg[4] = {3 * H, H, 1, 1}, dg1[4] = {3 * H, 1, 1, 1},
           dow[4] = {(uint32_t)nt, H, 1, 1}, dob[4] = {(uint32_t)nt, 1, 1, 1};
  add_rec(&body, "meta", 0, 1, d5, meta, sizeof meta);
  add_rec(&body, "feat.mean", 0, 1, dF, zero, F * 4);
  add_rec(&body, "feat.std", 0, 1, dF, ones, F * 4);
  add_rec(&body, "conv.w", 0, 3, dc, zero, H * 3 * (uint32_t)conv_in * 4);
  add_rec(&body, "conv.b", 0, 1, dH, zero, H * 4);
  add_rec(&body, "gru.w_ih", 0, 2, dg, zero, 3 * H * H * 4);
  add_rec(&body, "gru.w_hh", 0, 2, dg, zero, 3 * H * H * 4);
  add_rec(&body, "gru.b_ih", 0, 1, dg1, zero, 3 * H * 4);
  add_rec(&body, "gru.b_hh", 0, 1, dg1, zero, 3 * H * 4);
  add_rec(&body, "out.w", 0, 2, dow, zero, (uint32_t)nt * H * 4);
  add_rec(&body, "out.b", 0, 1, dob, ob, (uint32_t)nt * 4);
  uint32_t d2[4] = {2, 1, 1, 1}, d4[4] = {4, 1, 1, 1}, nrec = 11;
  if (thr) add_rec(&body, "lips.thr", 0, 1, d2, thr, 8), nrec++;
  if (cmn) add_rec(&body, "cmn", 0, 1, d4, cmn, 16), nrec++;
  if (cmn_init) add_rec(&body, "cmn.init", 0, 1, dF, cmn_init, F * 4), nrec++;
  if (ro && ro->thr) add_rec(&body, "round.thr", 0, 1, d2, ro->thr, 8), nrec++;
  if (ro && ro->pose) add_rec(&body, "round.pose", 0, 1, d2, ro->pose, 8), nrec++;
  if (ro && ro->quiet) {
    uint32_t dq[4] = {ro->quiet_n, 1, 1, 1};
    add_rec(&body, "quiet.db", 0, 1, dq, ro->quiet, ro->quiet_n * 4), nrec++;
  }
  buf b = finish_blob(&body, nrec, 1);
  free(body.p);
  free(zero);
  return b;
}

static buf net_blob(int nt, float lips, const float *thr, const float *cmn, const float *cmn_init,
                    int conv_in) {
  return net_blob_h(nt, lips, thr, cmn, cmn_init, conv_in, 4, NULL);
}

static buf const_net(int nt, float lips, const float *thr) {
  return net_blob(nt, lips, thr, NULL, NULL, AK__NMEL);
}

/* Mean of every blendshape over the middle frames of 1 s of a 200 Hz tone run through an
 * engine on blob b; returns the engine_new code. */
static int const_net_weights(const buf *b, float w[AK_BLENDSHAPE_COUNT]) {
  ak_model *m = NULL;
  int rc = ak_model_load_memory(b->p, b->n, &m);
  if (rc != AK_OK) return rc;
  ak_engine_config c;
  ak_engine_config_default(&c);
  c.model = m;
  c.expressiveness = 0.0f;
  ak_engine *e = NULL;
  rc = ak_engine_new(&c, &e);
  if (rc == AK_OK) {
    static float x[16000];
    for (int i = 0; i < 16000; i++) x[i] = 0.3f * sinf(2.0f * 3.14159265f * 200.0f * i / 16000.0f);
    ak_engine_push(e, x, 16000);
    ak_engine_finish(e);
    ak_motion_frame f;
    int n = 0;
    memset(w, 0, AK_BLENDSHAPE_COUNT * sizeof *w);
    for (int i = 0; ak_engine_pop(e, &f) == 1; i++)
      if (i >= 8 && i < 17) {
        for (int k = 0; k < AK_BLENDSHAPE_COUNT; k++) w[k] += f.weights[k];
        n++;
      }
    for (int k = 0; n && k < AK_BLENDSHAPE_COUNT; k++) w[k] /= (float)n;
    ak_engine_free(e);
  }
  ak_model_free(m);
  return rc;
}

/* Mean jawOpen, mouthClose and mouthPress of const_net_weights. */
static int const_net_frame(const buf *b, float *jaw, float *close, float *press) {
  float w[AK_BLENDSHAPE_COUNT];
  int rc = const_net_weights(b, w);
  *jaw = w[AK_JAW_OPEN];
  *close = w[AK_MOUTH_CLOSE];
  *press = w[AK_MOUTH_PRESS_LEFT];
  return rc;
}

/* The optional closure-decision output: a network with AK__NT + 1 outputs binds, one with more
 * than AK__NN_MAXNT is refused; when the decision says "closed" the lips meet (mouthClose =
 * jawOpen, pressed), when it says "open" the regression outputs stand. */
static void test_lips_output(void) {
  float j, cl, pr;
  buf b = const_net(AK__NN_MAXNT + 1, 0.0f, NULL);
  CHECK(const_net_frame(&b, &j, &cl, &pr) == AK_EFORMAT, "network with 17 outputs refused");
  free(b.p);
  b = const_net(AK__NT, 0.0f, NULL);
  int rc = const_net_frame(&b, &j, &cl, &pr);
  CHECK(rc == AK_OK && j > 0.5f && cl < 0.1f, "14-output network: lips apart (regression only)");
  free(b.p);
  b = const_net(AK__NT + 1, -8.0f, NULL);
  rc = const_net_frame(&b, &j, &cl, &pr);
  char msg[160];
  snprintf(msg, sizeof msg, "decision 'open': jaw %.2f, mouthClose %.2f stays apart", j, cl);
  CHECK(rc == AK_OK && j > 0.5f && cl < 0.1f, msg);
  free(b.p);
  b = const_net(AK__NT + 1, 8.0f, NULL);
  rc = const_net_frame(&b, &j, &cl, &pr);
  snprintf(msg, sizeof msg, "decision 'closed': jaw %.2f, mouthClose %.2f, press %.2f", j, cl, pr);
  CHECK(rc == AK_OK && j > 0.5f && fabsf(cl - j) < 0.01f && pr > 0.4f, msg);
  free(b.p);
  /* p = 0.5: half way with the default edges (0.4, 0.6), closed with lips.thr (0.1, 0.2). */
  b = const_net(AK__NT + 1, 0.0f, NULL);
  rc = const_net_frame(&b, &j, &cl, &pr);
  snprintf(msg, sizeof msg, "p 0.5, default edges: mouthClose %.2f half of jaw %.2f", cl, j);
  CHECK(rc == AK_OK && fabsf(cl - 0.05f - 0.5f * (j - 0.05f)) < 0.03f, msg);
  free(b.p);
  const float low[2] = {0.1f, 0.2f}, bad[2] = {0.6f, 0.4f};
  b = const_net(AK__NT + 1, 0.0f, low);
  rc = const_net_frame(&b, &j, &cl, &pr);
  snprintf(msg, sizeof msg, "p 0.5, lips.thr 0.1..0.2: mouthClose %.2f = jaw %.2f", cl, j);
  CHECK(rc == AK_OK && fabsf(cl - j) < 0.01f, msg);
  free(b.p);
  b = const_net(AK__NT + 1, 0.0f, bad);
  CHECK(const_net_frame(&b, &j, &cl, &pr) == AK_EFORMAT, "lips.thr with lo >= hi refused");
  free(b.p);
  b = const_net(AK__NT, 0.0f, low);
  CHECK(const_net_frame(&b, &j, &cl, &pr) == AK_EFORMAT,
        "lips.thr on a network without the decision output refused");
  free(b.p);
}

/* The optional rounding-decision output (16th): "no" leaves mouthFunnel and mouthPucker to the
 * regression outputs (near 0 here), "yes" moves them to the rounded pose (round.pose, else
 * 0.45 each), p = 0.5 half way with the default edges and all the way with round.thr below
 * it; the closure decision still works beside it; malformed or misplaced records refused. */
static void test_round_output(void) {
  float w[AK_BLENDSHAPE_COUNT];
  char msg[160];
  const float pose[2] = {0.3f, 0.6f}, low[2] = {0.1f, 0.2f}, bad[2] = {0.6f, 0.4f},
              big[2] = {0.3f, 1.5f};
  round_opts no = {-8.0f, NULL, NULL, NULL, 0}, yes = {8.0f, NULL, NULL, NULL, 0},
             half = {0.0f, NULL, NULL, NULL, 0}, posed = {8.0f, NULL, pose, NULL, 0},
             half_low = {0.0f, low, NULL, NULL, 0};
  buf b = net_blob_h(AK__NT + 2, -8.0f, NULL, NULL, NULL, AK__NMEL, 4, &no);
  int rc = const_net_weights(&b, w);
  snprintf(msg, sizeof msg, "decision 'not rounded': funnel %.2f pucker %.2f", w[AK_MOUTH_FUNNEL],
           w[AK_MOUTH_PUCKER]);
  CHECK(rc == AK_OK && w[AK_MOUTH_FUNNEL] < 0.05f && w[AK_MOUTH_PUCKER] < 0.05f, msg);
  free(b.p);
  b = net_blob_h(AK__NT + 2, -8.0f, NULL, NULL, NULL, AK__NMEL, 4, &yes);
  rc = const_net_weights(&b, w);
  snprintf(msg, sizeof msg, "decision 'rounded', default pose: funnel %.2f pucker %.2f, jaw %.2f",
           w[AK_MOUTH_FUNNEL], w[AK_MOUTH_PUCKER], w[AK_JAW_OPEN]);
  CHECK(rc == AK_OK && fabsf(w[AK_MOUTH_FUNNEL] - 0.45f) < 0.02f &&
            fabsf(w[AK_MOUTH_PUCKER] - 0.45f) < 0.02f && w[AK_JAW_OPEN] > 0.5f &&
            w[AK_MOUTH_CLOSE] < 0.1f,
        msg);
  free(b.p);
  b = net_blob_h(AK__NT + 2, -8.0f, NULL, NULL, NULL, AK__NMEL, 4, &posed);
  rc = const_net_weights(&b, w);
  snprintf(msg, sizeof msg, "round.pose 0.3/0.6: funnel %.2f pucker %.2f", w[AK_MOUTH_FUNNEL],
           w[AK_MOUTH_PUCKER]);
  CHECK(rc == AK_OK && fabsf(w[AK_MOUTH_FUNNEL] - 0.3f) < 0.02f &&
            fabsf(w[AK_MOUTH_PUCKER] - 0.6f) < 0.02f,
        msg);
  free(b.p);
  b = net_blob_h(AK__NT + 2, -8.0f, NULL, NULL, NULL, AK__NMEL, 4, &half);
  rc = const_net_weights(&b, w);
  snprintf(msg, sizeof msg, "p 0.5, default edges: funnel %.2f half way", w[AK_MOUTH_FUNNEL]);
  CHECK(rc == AK_OK && fabsf(w[AK_MOUTH_FUNNEL] - 0.225f) < 0.03f, msg);
  free(b.p);
  b = net_blob_h(AK__NT + 2, -8.0f, NULL, NULL, NULL, AK__NMEL, 4, &half_low);
  rc = const_net_weights(&b, w);
  snprintf(msg, sizeof msg, "p 0.5, round.thr 0.1..0.2: funnel %.2f all the way",
           w[AK_MOUTH_FUNNEL]);
  CHECK(rc == AK_OK && fabsf(w[AK_MOUTH_FUNNEL] - 0.45f) < 0.02f, msg);
  free(b.p);
  b = net_blob_h(AK__NT + 2, 8.0f, NULL, NULL, NULL, AK__NMEL, 4, &yes);
  rc = const_net_weights(&b, w);
  snprintf(msg, sizeof msg, "both decisions 'yes': mouthClose %.2f = jaw %.2f, funnel %.2f",
           w[AK_MOUTH_CLOSE], w[AK_JAW_OPEN], w[AK_MOUTH_FUNNEL]);
  CHECK(rc == AK_OK && fabsf(w[AK_MOUTH_CLOSE] - w[AK_JAW_OPEN]) < 0.01f &&
            fabsf(w[AK_MOUTH_FUNNEL] - 0.45f) < 0.02f,
        msg);
  free(b.p);
  round_opts r_bad = {0.0f, bad, NULL, NULL, 0}, r_big = {0.0f, NULL, big, NULL, 0},
             r_thr = {0.0f, low, NULL, NULL, 0}, r_pose = {0.0f, NULL, pose, NULL, 0};
  b = net_blob_h(AK__NT + 2, 0.0f, NULL, NULL, NULL, AK__NMEL, 4, &r_bad);
  CHECK(const_net_weights(&b, w) == AK_EFORMAT, "round.thr with lo >= hi refused");
  free(b.p);
  b = net_blob_h(AK__NT + 2, 0.0f, NULL, NULL, NULL, AK__NMEL, 4, &r_big);
  CHECK(const_net_weights(&b, w) == AK_EFORMAT, "round.pose outside 0..1 refused");
  free(b.p);
  b = net_blob_h(AK__NT + 1, 0.0f, NULL, NULL, NULL, AK__NMEL, 4, &r_thr);
  CHECK(const_net_weights(&b, w) == AK_EFORMAT,
        "round.thr on a network without the rounding output refused");
  free(b.p);
  b = net_blob_h(AK__NT + 1, 0.0f, NULL, NULL, NULL, AK__NMEL, 4, &r_pose);
  CHECK(const_net_weights(&b, w) == AK_EFORMAT,
        "round.pose on a network without the rounding output refused");
  free(b.p);
}

/* jawOpen and voice of every frame of x (16 kHz) through an engine on blob b (80 ms
 * lookahead, no facial life); returns the frame count, 0 when the blob is refused. */
static size_t const_net_track(const buf *b, const float *x, size_t n, float *jaw, int *voice,
                              size_t cap) {
  ak_model *m = NULL;
  if (ak_model_load_memory(b->p, b->n, &m) != AK_OK) return 0;
  ak_engine_config c;
  ak_engine_config_default(&c);
  c.model = m;
  c.expressiveness = 0.0f;
  ak_engine *e = NULL;
  size_t nf = 0;
  if (ak_engine_new(&c, &e) == AK_OK) {
    ak_engine_push(e, x, n);
    ak_engine_finish(e);
    ak_motion_frame f;
    while (nf < cap && ak_engine_pop(e, &f) == 1) {
      jaw[nf] = f.weights[AK_JAW_OPEN];
      voice[nf++] = f.voice;
    }
    ak_engine_free(e);
  }
  ak_model_free(m);
  return nf;
}

/* The quiet gate ("quiet.db" = rel, span dB): a constant network says "voice, jaw 0.73"
 * whatever it hears, so what rests the mouth is the gate alone. A 200 Hz tone at -13.5 dBFS
 * for 1 s, then the same tone 50 dB down for 1 s: with the record the faint second rests
 * (jaw 0, unvoiced), without it the mouth stays open; a tone alone at -45 dBFS (a quiet
 * stream) stays open with the record; malformed records are refused. */
static void test_quiet_record(void) {
  enum { N = 32000, CAP = 60 };
  static float x[N], q[N / 2];
  for (int i = 0; i < N; i++) {
    float t = sinf(2.0f * 3.14159265f * 200.0f * (float)i / 16000.0f);
    x[i] = (i < N / 2 ? 0.3f : 0.3f * 0.00316f) * t; /* -50 dB */
    if (i < N / 2) q[i] = 0.3f * 0.01f * t;          /* -40 dB: about -53.5 dBFS */
  }
  const float q20[2] = {20.0f, 10.0f};
  round_opts on = {-8.0f, NULL, NULL, q20, 2};
  float jaw[CAP];
  int voice[CAP];
  char msg[200];
  for (int with = 0; with < 2; with++) {
    buf b = net_blob_h(AK__NT + 2, -8.0f, NULL, NULL, NULL, AK__NMEL, 4, with ? &on : NULL);
    size_t nf = const_net_track(&b, x, N, jaw, voice, CAP);
    float loud = 1, faint = 0;
    int fv = 0;
    for (size_t i = 5; i < 22 && i < nf; i++) loud = fminf(loud, jaw[i]);
    for (size_t i = 30; i < nf; i++) faint = fmaxf(faint, jaw[i]), fv += voice[i];
    snprintf(msg, sizeof msg,
             "%s quiet.db 20/10: loud tone jaw >= %.2f, 50 dB down max jaw %.2f, %d voiced "
             "frames (of %zu)",
             with ? "with" : "without", loud, faint, fv, nf > 30 ? nf - 30 : 0);
    if (with)
      CHECK(nf == 50 && loud > 0.6f && faint < 0.01f && fv == 0, msg);
    else
      CHECK(nf == 50 && loud > 0.6f && faint > 0.6f && fv == 20, msg);
    free(b.p);
  }
  buf b = net_blob_h(AK__NT + 2, -8.0f, NULL, NULL, NULL, AK__NMEL, 4, &on);
  size_t nf = const_net_track(&b, q, N / 2, jaw, voice, CAP);
  float lo = 1;
  for (size_t i = 5; i + 3 < nf; i++) lo = fminf(lo, jaw[i]);
  snprintf(msg, sizeof msg, "a tone alone at -53.5 dBFS stays open with quiet.db (jaw >= %.2f)",
           lo);
  CHECK(nf == 25 && lo > 0.6f, msg);
  free(b.p);
  const float bad[][3] = {
      {0.0f, 10.0f}, {61.0f, 10.0f}, {20.0f, 0.0f}, {20.0f, 31.0f}, {20.0f, 10.0f, 5.0f}};
  for (int k = 0; k < 5; k++) {
    round_opts r = {-8.0f, NULL, NULL, bad[k], k == 4 ? 3 : 2};
    b = net_blob_h(AK__NT, -8.0f, NULL, NULL, NULL, AK__NMEL, 4, &r);
    snprintf(msg, sizeof msg, "quiet.db {%g, %g%s} refused", bad[k][0], bad[k][1],
             k == 4 ? ", 5" : "");
    CHECK(const_net_track(&b, x, N, jaw, voice, CAP) == 0, msg);
    free(b.p);
  }
}

/* Hidden sizes: the constant network behaves the same at 4, 192 and AK__NN_MAXH units (the
 * outputs come from the biases), and one unit more than AK__NN_MAXH is refused. */
static void test_hidden_sizes(void) {
  const uint32_t ok_h[] = {4, 192, AK__NN_MAXH};
  for (size_t i = 0; i < sizeof ok_h / sizeof *ok_h; i++) {
    float j, cl, pr;
    buf b = net_blob_h(AK__NT, 0.0f, NULL, NULL, NULL, AK__NMEL, ok_h[i], NULL);
    int rc = const_net_frame(&b, &j, &cl, &pr);
    char msg[128];
    snprintf(msg, sizeof msg, "hidden %u binds and runs (jaw %.2f, mouthClose %.2f)",
             (unsigned)ok_h[i], j, cl);
    CHECK(rc == AK_OK && j > 0.5f && cl < 0.1f, msg);
    free(b.p);
  }
  float j, cl, pr;
  buf b = net_blob_h(AK__NT, 0.0f, NULL, NULL, NULL, AK__NMEL, AK__NN_MAXH + 1, NULL);
  CHECK(const_net_frame(&b, &j, &cl, &pr) == AK_EFORMAT, "hidden AK__NN_MAXH + 1 refused");
  free(b.p);
}

/* Per-stream normalisation (engine_nn.h "cmn"): the running mean starts at cmn.init, moves by
 * alpha towards each hop loud enough (above the floor and within rel of the falling peak), and
 * the network's second half of inputs is the hop minus that mean; malformed records refused. */
static void test_cmn(void) {
  enum { F = AK__NMEL };
  const float prm[4] = {0.1f, 0.01f, 4.6f, -5.0f};
  float init[F], hop[F];
  for (int i = 0; i < F; i++) init[i] = -2.0f + 0.1f * (float)i;
  buf b = net_blob(AK__NT, 0.0f, NULL, prm, init, 2 * F);
  ak_model *m = NULL;
  ak__nn nn;
  int ok = ak_model_load_memory(b.p, b.n, &m) == AK_OK && ak__nn_bind(m, "", &nn) == AK_OK;
  CHECK(ok && nn.nin == 2 * F && nn.cmn, "network with cmn records binds with 2 x nmel inputs");
  if (!ok) {
    ak_model_free(m);
    free(b.p);
    return;
  }
  ak__nn_state st;
  float y[AK__NN_MAXNT];
  ak__nn_reset(&nn, &st);
  int same = st.peak == prm[3];
  for (int i = 0; i < F; i++) same &= st.mean[i] == init[i];
  CHECK(same, "reset: the running mean is cmn.init, the peak the floor");
  for (int i = 0; i < F; i++) hop[i] = logf(1e-7f); /* digital silence */
  for (int t = 0; t < 200; t++) ak__nn_step(&nn, &st, hop, y);
  same = 1;
  for (int i = 0; i < F; i++) same &= st.mean[i] == init[i];
  CHECK(same, "2 s of digital silence leave the mean where it was");
  /* Loud hops (mean log-mel 1.0): mean_i = hop_i + (init_i - hop_i) (1 - alpha)^n. */
  for (int i = 0; i < F; i++) hop[i] = 1.0f + (i % 2 ? 0.5f : -0.5f);
  for (int t = 0; t < 10; t++) ak__nn_step(&nn, &st, hop, y);
  float err = 0.0f, k = powf(1.0f - prm[0], 10.0f);
  for (int i = 0; i < F; i++) {
    float want = hop[i] + (init[i] - hop[i]) * k, d = fabsf(st.mean[i] - want);
    err = d > err ? d : err;
  }
  char msg[160];
  snprintf(msg, sizeof msg, "10 loud hops move the mean by alpha each (max |err| %.1e)", err);
  CHECK(err < 1e-4f, msg);
  err = 0.0f;
  for (int i = 0; i < F; i++) {
    float d = fabsf(st.hist[2 * nn.nin + F + i] - (hop[i] - st.mean[i]));
    err = d > err ? d : err;
  }
  CHECK(err < 1e-6f, "the second half of the inputs is the hop minus the running mean");
  /* 5 ln units (22 dB) under the peak but above the floor: ignored; once the peak has fallen
   * (0.01 per hop) to within 4.6 of it, heard again. */
  float before = st.mean[0];
  for (int i = 0; i < F; i++) hop[i] = -4.0f + (i % 2 ? 0.3f : -0.3f);
  ak__nn_step(&nn, &st, hop, y);
  CHECK(st.mean[0] == before, "a hop 22 dB under the recent peak does not move the mean");
  for (int t = 0; t < 200; t++) ak__nn_step(&nn, &st, hop, y);
  CHECK(st.mean[0] < before - 0.1f, "after 2 s of it the peak has fallen and it does");
  ak__nn_reset(&nn, &st);
  CHECK(st.mean[5] == init[5] && st.peak == prm[3], "reset forgets the stream");
  ak_model_free(m);
  free(b.p);

  struct {
    const char *what;
    float p[4];
    int with_init, conv_in;
  } bad[] = {
      {"alpha 0", {0.0f, 0.01f, 4.6f, -5.0f}, 1, 2 * F},
      {"alpha above 1", {1.5f, 0.01f, 4.6f, -5.0f}, 1, 2 * F},
      {"negative decay", {0.1f, -1.0f, 4.6f, -5.0f}, 1, 2 * F},
      {"rel 0", {0.1f, 0.01f, 0.0f, -5.0f}, 1, 2 * F},
      {"NaN floor", {0.1f, 0.01f, 4.6f, NAN}, 1, 2 * F},
      {"no cmn.init", {0.1f, 0.01f, 4.6f, -5.0f}, 0, 2 * F},
      {"conv.w one nmel wide", {0.1f, 0.01f, 4.6f, -5.0f}, 1, F},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    b = net_blob(AK__NT, 0.0f, NULL, bad[i].p, bad[i].with_init ? init : NULL, bad[i].conv_in);
    m = NULL;
    int rc = ak_model_load_memory(b.p, b.n, &m);
    if (rc == AK_OK) rc = ak__nn_bind(m, "", &nn);
    snprintf(msg, sizeof msg, "cmn network with %s refused (AK_EFORMAT)", bad[i].what);
    CHECK(rc == AK_EFORMAT, msg);
    ak_model_free(m);
    free(b.p);
  }
  b = net_blob(AK__NT, 0.0f, NULL, NULL, NULL, 2 * F);
  m = NULL;
  ok = ak_model_load_memory(b.p, b.n, &m) == AK_OK && ak__nn_bind(m, "", &nn) == AK_EFORMAT;
  CHECK(ok, "conv.w two nmel wide without cmn records refused");
  ak_model_free(m);
  free(b.p);
}

int main(int argc, char **argv) {
  uint64_t seed = 20261122;
  printf("seed %llu\n", (unsigned long long)seed);
  test_loader(seed);
  test_kernels(seed);
  test_power_spectrum(seed);
  test_lips_output();
  test_round_output();
  test_quiet_record();
  test_hidden_sizes();
  test_cmn();
  if (ak__default_model_len > 0 && argc > 1) {
    test_fixture(argv[1], "");
    if (argc > 2) {
      ak_model *d = NULL;
      int has_ll = ak_model_load_default(&d) == AK_OK && ak__nn_has(d, AK__NN_LOWLAT);
      ak_model_free(d);
      if (has_ll)
        test_fixture(argv[2], AK__NN_LOWLAT);
      else
        printf("skip zero-lookahead fixture: the default model has no such network\n");
    }
    test_shared_model();
    test_lowlat();
  } else {
    printf("skip network fixture: no default model or fixture path\n");
  }
  return ak_test_summary("model");
}
