/* Lip-sync evaluation: runs systems over held-out utterances with exact phone timing (AKDS
 * files from ak_gen_data --split eval --audio) and prints, per language, the opening
 * correlation with the phone-derived jaw curve and its best lag, /p b m/ closure recall,
 * silence precision and rounding contrast. Systems: the network engine (default lookahead
 * and zero lookahead), the DSP engine, and a loudness-envelope baseline.
 *
 * --by-condition groups the utterances by augmentation (ak_gen_data without --clean) instead
 * of by language: an utterance counts in every condition it went through.
 *
 * Usage: ak_eval FILE.bin [--fps N] [--model PATH] [--markdown] [--by-condition] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../train/phones.h"
#include "engine_internal.h"
#include "avatarkit/engine.h"

#define MAX_LAG 10 /* frames either side */
#define NLANG 8
static const char *const lang_names[NLANG] = {"en", "es", "de", "fr", "it", "cmn", "ja", "yue"};
/* Augmentation flags of ak_gen_data (bit 0 = audio present). */
#define NCOND 6
static const char *const cond_names[NCOND] = {"clean",  "low-pass", "high-pass",
                                              "reverb", "noise",    "opus"};
#define NGROUP (NLANG > NCOND ? NLANG : NCOND)

typedef struct utt {
  uint32_t lang, flags, n, nph;
  float *audio;
  ak_phone *ph;
} utt;

typedef struct corr {
  /* correlation sums per lag */
  double sx[2 * MAX_LAG + 1], sy[2 * MAX_LAG + 1], sxx[2 * MAX_LAG + 1], syy[2 * MAX_LAG + 1],
      sxy[2 * MAX_LAG + 1], cnt[2 * MAX_LAG + 1];
} corr;

typedef struct acc {
  corr co, st; /* against the coarticulated jaw curve and the raw per-phone step curve */
  long clos_n, clos_ok, sil_n, sil_ok, rnd_n, spr_n;
  double rnd_s, spr_s;
} acc;

/* A system's output for one utterance: per-frame jaw, lip opening, rounding. */
typedef struct track {
  float *jaw, *open, *round;
  size_t n;
} track;

static int read_u32(FILE *f, uint32_t *v) {
  return fread(v, 4, 1, f) == 1 ? 0 : -1;
}

static utt *load(const char *path, size_t *count) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char magic[4];
  uint32_t ver, nmel, nt;
  if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "AKDS", 4) || read_u32(f, &ver) ||
      read_u32(f, &nmel) || read_u32(f, &nt) || ver != 1) {
    fclose(f);
    return NULL;
  }
  size_t cap = 64, n = 0;
  utt *u = malloc(cap * sizeof *u);
  for (;;) {
    uint32_t h[7];
    if (fread(h, 4, 7, f) != 7) break;
    if (h[0] != 0x31545455u || !(h[3] & 1u)) {
      fprintf(stderr, "%s: not an eval file with audio\n", path);
      exit(1);
    }
    if (n == cap) u = realloc(u, (cap *= 2) * sizeof *u);
    utt *x = &u[n++];
    x->lang = h[1];
    x->flags = h[3];
    x->n = h[4];
    x->nph = h[6];
    x->audio = malloc(x->n * sizeof *x->audio);
    x->ph = malloc((x->nph ? x->nph : 1) * sizeof *x->ph);
    if (fread(x->audio, 4, x->n, f) != x->n) exit(1);
    for (uint32_t i = 0; i < x->nph; i++) {
      uint32_t v[4];
      if (fread(v, 4, 4, f) != 4) exit(1);
      memcpy(&x->ph[i].start, &v[0], 4);
      memcpy(&x->ph[i].end, &v[1], 4);
      x->ph[i].vis = (int)v[2];
      x->ph[i].cls = (int)v[3];
    }
    if (fseek(f, (long)(h[5] * (nmel + nt) * 4), SEEK_CUR) != 0) exit(1);
  }
  fclose(f);
  *count = n;
  return u;
}

static void track_alloc(track *t, size_t n) {
  t->n = n;
  t->jaw = calloc(n + 1, sizeof(float));
  t->open = calloc(n + 1, sizeof(float));
  t->round = calloc(n + 1, sizeof(float));
}

static void track_free(track *t) {
  free(t->jaw);
  free(t->open);
  free(t->round);
}

static void run_engine(const utt *u, int fps, int la, const ak_model *m, track *t) {
  ak_engine_config c;
  ak_engine_config_default(&c);
  c.fps = fps;
  c.lookahead_ms = la;
  c.model = m;
  c.expressiveness = 0.0f;
  ak_engine *e;
  int rc = ak_engine_new(&c, &e);
  if (rc != AK_OK) {
    fprintf(stderr, "ak_engine_new: %s\n", ak_err_name(rc));
    exit(1);
  }
  size_t nf = ((size_t)u->n * (size_t)fps + 15999) / 16000, got = 0;
  track_alloc(t, nf);
  ak_motion_frame f;
  for (size_t p = 0; p <= u->n; p += 480) {
    size_t k = u->n - p < 480 ? u->n - p : 480;
    if (k) ak_engine_push(e, u->audio + p, k);
    if (p + 480 >= u->n) ak_engine_finish(e);
    while (ak_engine_pop(e, &f) == 1 && got < nf) {
      const float *w = f.weights;
      t->jaw[got] = w[AK_JAW_OPEN];
      t->open[got] = w[AK_JAW_OPEN] - w[AK_MOUTH_CLOSE];
      float r = w[AK_MOUTH_FUNNEL] + w[AK_MOUTH_PUCKER];
      t->round[got] = r > 1.0f ? 1.0f : r;
      got++;
    }
  }
  ak_engine_free(e);
}

/* Loudness envelope baseline: 25 ms RMS amplitude at each frame centre, divided by the
 * utterance's 95th percentile of voiced RMS and clipped to 1 (an offline normalisation, in its
 * favour). It has no rounding and no closure channel. */
static int cmpf(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

static void run_loudness(const utt *u, int fps, track *t) {
  size_t nf = ((size_t)u->n * (size_t)fps + 15999) / 16000;
  track_alloc(t, nf);
  float *rms = malloc((nf + 1) * sizeof *rms), *sorted = malloc((nf + 1) * sizeof *sorted);
  for (size_t i = 0; i < nf; i++) {
    long c = (long)(((double)i + 0.5) * 16000.0 / fps);
    double s = 0;
    for (long j = c - 200; j < c + 200; j++)
      if (j >= 0 && j < (long)u->n) s += (double)u->audio[j] * u->audio[j];
    rms[i] = sorted[i] = (float)sqrt(s / 400.0);
  }
  qsort(sorted, nf, sizeof *sorted, cmpf);
  float p95 = nf ? sorted[(nf * 95) / 100] : 1.0f;
  if (p95 <= 0.0f) p95 = 1.0f;
  for (size_t i = 0; i < nf; i++) {
    float v = rms[i] / p95;
    t->jaw[i] = t->open[i] = 0.7f * (v > 1.0f ? 1.0f : v);
  }
  free(rms);
  free(sorted);
}

static const ak_phone *phone_at(const utt *u, float t) {
  for (uint32_t i = 0; i < u->nph; i++)
    if (t >= u->ph[i].start && t < u->ph[i].end) return &u->ph[i];
  return NULL;
}

static void corr_add(corr *c, const track *t, const float *ref, float dt, float sp0, float sp1) {
  for (int l = -MAX_LAG; l <= MAX_LAG; l++) {
    int li = l + MAX_LAG;
    for (size_t i = 0; i < t->n; i++) {
      long j = (long)i + l; /* system frame compared with reference frame i */
      if (j < 0 || j >= (long)t->n) continue;
      float tc = ((float)i + 0.5f) * dt;
      if (tc < sp0 - 0.2f || tc > sp1 + 0.2f) continue;
      double x = t->jaw[j], y = ref[i];
      c->sx[li] += x;
      c->sy[li] += y;
      c->sxx[li] += x * x;
      c->syy[li] += y * y;
      c->sxy[li] += x * y;
      c->cnt[li] += 1;
    }
  }
}

static void score(const utt *u, int fps, const track *t, acc *a) {
  float dt = 1.0f / (float)fps;
  float *step = calloc(t->n + 1, sizeof *step), *co = calloc(t->n + 1, sizeof *co);
  for (size_t i = 0; i < t->n; i++) {
    const ak_phone *p = phone_at(u, ((float)i + 0.5f) * dt);
    step[i] = p ? ak_ph_jaw(p->vis) : 0.0f;
  }
  /* The coarticulated curve: the training targets' jawOpen (10 ms hops) at frame centres. */
  size_t nh = u->n / 160 + 1;
  float *tg = malloc(nh * AK__NT * sizeof *tg);
  ak_ph_targets(u->ph, u->nph, nh, tg);
  for (size_t i = 0; i < t->n; i++) {
    size_t h = (size_t)(((double)i + 0.5) * dt / 0.01);
    co[i] = h < nh ? tg[h * AK__NT + AK__T_JAW] : 0.0f;
  }
  free(tg);
  /* Correlation restricted to the speech span (first to last non-silent phone). */
  float sp0 = 1e9f, sp1 = -1.0f;
  for (uint32_t i = 0; i < u->nph; i++)
    if (u->ph[i].vis != AK_VIS_SIL) {
      if (u->ph[i].start < sp0) sp0 = u->ph[i].start;
      if (u->ph[i].end > sp1) sp1 = u->ph[i].end;
    }
  corr_add(&a->co, t, co, dt, sp0, sp1);
  corr_add(&a->st, t, step, dt, sp0, sp1);
  free(step);
  free(co);
  for (uint32_t k = 0; k < u->nph; k++) {
    const ak_phone *p = &u->ph[k];
    size_t mid = (size_t)((p->start + p->end) * 0.5f / dt);
    if (mid >= t->n) continue;
    if (p->cls == AK_CLS_BILABIAL && p->end - p->start >= 0.03f) {
      a->clos_n++;
      if (t->open[mid] < 0.1f) a->clos_ok++;
    } else if (p->cls == AK_CLS_ROUND) {
      a->rnd_n++;
      a->rnd_s += t->round[mid];
    } else if (p->cls == AK_CLS_SPREAD) {
      a->spr_n++;
      a->spr_s += t->round[mid];
    }
  }
  /* Pauses: frames >= 60 ms away from any speech phone. */
  for (size_t i = 0; i < t->n; i++) {
    float tc = ((float)i + 0.5f) * dt;
    int near = 0;
    for (uint32_t k = 0; k < u->nph && !near; k++)
      if (u->ph[k].vis != AK_VIS_SIL && tc > u->ph[k].start - 0.06f && tc < u->ph[k].end + 0.06f)
        near = 1;
    if (near) continue;
    a->sil_n++;
    if (t->jaw[i] < 0.05f) a->sil_ok++;
  }
}

static double best_r(const corr *c, int *lag) {
  double best = -2;
  *lag = 0;
  for (int l = 0; l < 2 * MAX_LAG + 1; l++) {
    double n = c->cnt[l];
    if (n < 10) continue;
    double cov = c->sxy[l] / n - (c->sx[l] / n) * (c->sy[l] / n);
    double vx = c->sxx[l] / n - (c->sx[l] / n) * (c->sx[l] / n);
    double vy = c->syy[l] / n - (c->sy[l] / n) * (c->sy[l] / n);
    double r = vx > 1e-12 && vy > 1e-12 ? cov / sqrt(vx * vy) : 0;
    if (r > best) {
      best = r;
      *lag = l - MAX_LAG;
    }
  }
  return best;
}

static void report(const char *sys, const char *lang, const acc *a, int fps, int md) {
  int lc, ls;
  double rc = best_r(&a->co, &lc), rs = best_r(&a->st, &ls);
  double clos = a->clos_n ? (double)a->clos_ok / a->clos_n : NAN;
  double sil = a->sil_n ? (double)a->sil_ok / a->sil_n : NAN;
  double rnd = (a->rnd_n ? a->rnd_s / a->rnd_n : 0) - (a->spr_n ? a->spr_s / a->spr_n : 0);
  if (md)
    printf("| %s | %s | %.3f | %+d | %.3f | %+d | %.3f | %.3f | %.3f |\n", lang, sys, rc,
           lc * 1000 / fps, rs, ls * 1000 / fps, clos, sil, rnd);
  else
    printf(
        "%-4s %-24s r=%.3f lag=%+4d ms  r_step=%.3f lag=%+4d ms  closure=%.3f (n=%ld)  "
        "silence=%.3f  rounding=%.3f\n",
        lang, sys, rc, lc * 1000 / fps, rs, ls * 1000 / fps, clos, a->clos_n, sil, rnd);
}

int main(int argc, char **argv) {
  const char *path = NULL, *model_path = NULL;
  int fps = 100, md = 0, by_cond = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--fps") && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 1 || v > AK_ENGINE_MAX_FPS) return 2;
      fps = (int)v;
    } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
      model_path = argv[++i];
    } else if (!strcmp(argv[i], "--markdown")) {
      md = 1;
    } else if (!strcmp(argv[i], "--by-condition")) {
      by_cond = 1;
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    fprintf(stderr,
            "usage: ak_eval FILE.bin [--fps N] [--model PATH] [--markdown] [--by-condition]\n");
    return 2;
  }
  size_t n;
  utt *u = load(path, &n);
  if (!u) {
    fprintf(stderr, "cannot read %s\n", path);
    return 1;
  }
  ak_model *nn = NULL, *dsp = NULL;
  int rc = model_path ? ak_model_load(model_path, &nn) : ak_model_load_default(&nn);
  if (rc < 0) {
    fprintf(stderr, "model: %s\n", ak_err_name(rc));
    return 1;
  }
  /* A blob without network records selects the DSP mouth. */
  {
    unsigned char b[24 + 60 + 4] = {0};
    memcpy(b, "AKMW", 4);
    uint32_t v[] = {1, 1, sizeof b, 0, 0};
    unsigned char *r = b + 24;
    memcpy(r, "dsp", 3);
    uint32_t rh[] = {0, 1, 1, 1, 1, 1, 4};
    memcpy(r + 32, rh, sizeof rh);
    float one = 1.0f;
    memcpy(r + 60, &one, 4);
    /* CRC-32 of the body. */
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 24; i < sizeof b; i++) {
      c ^= b[i];
      for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    v[3] = c ^ 0xFFFFFFFFu;
    memcpy(b + 4, v, sizeof v);
    if (ak_model_load_memory(b, sizeof b, &dsp) < 0) {
      fprintf(stderr, "dsp blob refused\n");
      return 1;
    }
  }
  enum { S_NN, S_NN0, S_DSP, S_LOUD, NSYS };
  static const char *const sys_names[NSYS] = {"model (lookahead 80 ms)", "model (lookahead 0)",
                                              "DSP engine (step 1)", "loudness envelope"};
  const int ng = by_cond ? NCOND : NLANG;
  const char *const *gnames = by_cond ? cond_names : lang_names;
  acc *a = calloc((size_t)NSYS * (NGROUP + 1), sizeof *a);
#define ACC(s, g) (&a[(s) * (NGROUP + 1) + (g)])
  for (size_t i = 0; i < n; i++) {
    int grp[NGROUP], ngrp = 0;
    if (!by_cond) {
      grp[ngrp++] = u[i].lang < NLANG ? (int)u[i].lang : 0;
    } else {
      if (!(u[i].flags & ~1u)) grp[ngrp++] = 0;
      for (int c = 1; c < NCOND; c++)
        if (u[i].flags & (1u << c)) grp[ngrp++] = c;
    }
    for (int s = 0; s < NSYS; s++) {
      track t;
      if (s == S_NN) run_engine(&u[i], fps, 80, nn, &t);
      if (s == S_NN0) run_engine(&u[i], fps, 0, nn, &t);
      if (s == S_DSP) run_engine(&u[i], fps, 80, dsp, &t);
      if (s == S_LOUD) run_loudness(&u[i], fps, &t);
      for (int g = 0; g < ngrp; g++) score(&u[i], fps, &t, ACC(s, grp[g]));
      score(&u[i], fps, &t, ACC(s, NGROUP));
      track_free(&t);
    }
  }
  if (md) {
    printf(
        "| %s | system | opening r | lag ms | r vs step curve | lag ms | /p b m/ closure "
        "recall | silence precision | rounding contrast |\n"
        "|---|---|---|---|---|---|---|---|---|\n",
        by_cond ? "condition" : "lang");
  }
  for (int g = 0; g <= ng; g++) {
    int gi = g < ng ? g : NGROUP;
    for (int s = 0; s < NSYS; s++)
      report(sys_names[s], g < ng ? gnames[g] : "all", ACC(s, gi), fps, md);
  }
#undef ACC
  printf("%s%zu utterances, %d fps\n", md ? "\n" : "", n, fps);
  for (size_t i = 0; i < n; i++) {
    free(u[i].audio);
    free(u[i].ph);
  }
  free(u);
  free(a);
  ak_model_free(nn);
  ak_model_free(dsp);
  return 0;
}
