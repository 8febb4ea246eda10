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
#define NLANG 10
static const char *const lang_names[NLANG] = {"en",  "es", "de",  "fr", "it",
                                              "cmn", "ja", "yue", "nl", "cs"};
/* Augmentation flags of ak_gen_data (bit 0 = audio present). */
#define NCOND 6
static const char *const cond_names[NCOND] = {"clean",  "low-pass", "high-pass",
                                              "reverb", "noise",    "opus"};
#define NGROUP (NLANG > NCOND ? NLANG : NCOND)

typedef struct utt {
  uint32_t lang, voice, flags, n, nph;
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
  /* The issue-11 definitions (per-utterance threshold, see score()): /p b m/ closed and open
   * vowels opened. */
  long iclos_n, iclos_ok, ovow_n, ovow_ok;
  long fcl_n, fcl; /* vowels (>= 30 ms) whose lips close: false closures */
} acc;

static void acc_add(acc *d, const acc *s) {
  const double *a[2][6] = {{s->co.sx, s->co.sy, s->co.sxx, s->co.syy, s->co.sxy, s->co.cnt},
                           {s->st.sx, s->st.sy, s->st.sxx, s->st.syy, s->st.sxy, s->st.cnt}};
  double *b[2][6] = {{d->co.sx, d->co.sy, d->co.sxx, d->co.syy, d->co.sxy, d->co.cnt},
                     {d->st.sx, d->st.sy, d->st.sxx, d->st.syy, d->st.sxy, d->st.cnt}};
  for (int c = 0; c < 2; c++)
    for (int k = 0; k < 6; k++)
      for (int l = 0; l < 2 * MAX_LAG + 1; l++) b[c][k][l] += a[c][k][l];
  d->clos_n += s->clos_n;
  d->clos_ok += s->clos_ok;
  d->sil_n += s->sil_n;
  d->sil_ok += s->sil_ok;
  d->rnd_n += s->rnd_n;
  d->spr_n += s->spr_n;
  d->rnd_s += s->rnd_s;
  d->spr_s += s->spr_s;
  d->iclos_n += s->iclos_n;
  d->iclos_ok += s->iclos_ok;
  d->ovow_n += s->ovow_n;
  d->ovow_ok += s->ovow_ok;
  d->fcl_n += s->fcl_n;
  d->fcl += s->fcl;
}

/* A system's output for one utterance: per-frame jaw, lip opening, rounding. */
typedef struct track {
  float *jaw, *open, *round;
  size_t n;
} track;

static int read_u32(FILE *f, uint32_t *v) {
  return fread(v, 4, 1, f) == 1 ? 0 : -1;
}

/* Reads the utterances of path and appends them to u[*count] (cap *cap); NULL on a file that
 * cannot be read or is not AKDS v1. */
static utt *load(const char *path, utt *u, size_t *count, size_t *capp) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char magic[4];
  uint32_t ver, nmel, nt;
  if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "AKDS", 4) || read_u32(f, &ver) ||
      read_u32(f, &nmel) || read_u32(f, &nt) || ver != 1) {
    fclose(f);
    return NULL;
  }
  size_t cap = *capp, n = *count;
  if (!u) u = malloc((cap = 64) * sizeof *u);
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
    x->voice = h[2];
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
  *capp = cap;
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
  /* Issue 11: lips count as closed in a /p b m/ (>= 30 ms) when the opening (jawOpen -
   * mouthClose) falls below a quarter of its 95th percentile over the utterance anywhere in the
   * central half of the phone; an open vowel (viseme aa) counts as opened when the mean
   * opening over its central half is above that threshold and above 0.05 (so a mouth that
   * never opens cannot pass). */
  {
    float *so = malloc((t->n + 1) * sizeof *so);
    memcpy(so, t->open, t->n * sizeof *so);
    qsort(so, t->n, sizeof *so, cmpf);
    float thr = t->n ? 0.25f * so[(t->n * 95) / 100] : 0.0f;
    free(so);
    for (uint32_t k = 0; k < u->nph; k++) {
      const ak_phone *p = &u->ph[k];
      float q = 0.25f * (p->end - p->start);
      long i0 = (long)ceilf((p->start + q) / dt - 0.5f),
           i1 = (long)floorf((p->end - q) / dt - 0.5f);
      if (i1 >= (long)t->n) i1 = (long)t->n - 1;
      if (i0 < 0) i0 = 0;
      if (i1 < i0) { /* a short phone: its middle frame */
        i0 = i1 = (long)((p->start + p->end) * 0.5f / dt);
        if (i0 >= (long)t->n) continue;
      }
      if (p->cls == AK_CLS_BILABIAL && p->end - p->start >= 0.03f) {
        float mn = 1e9f;
        for (long i = i0; i <= i1; i++) mn = t->open[i] < mn ? t->open[i] : mn;
        a->iclos_n++;
        if (mn < thr) a->iclos_ok++;
      } else if (p->vis >= AK_VIS_AA && p->vis <= AK_VIS_UC) {
        float mn = 1e9f;
        double m = 0;
        for (long i = i0; i <= i1; i++) {
          m += t->open[i];
          mn = t->open[i] < mn ? t->open[i] : mn;
        }
        m /= (double)(i1 - i0 + 1);
        if (p->vis == AK_VIS_AA) {
          a->ovow_n++;
          if (m > thr && m > 0.05) a->ovow_ok++;
        }
        if (p->end - p->start >= 0.03f) {
          a->fcl_n++;
          if (mn < thr) a->fcl++;
        }
      }
    }
  }
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

/* ---- Unseen-voice report (--voices FILE): per voice, family, language and condition. ---- */

typedef struct vinfo {
  uint32_t id;
  char name[48], fam[16], lang[8], split[8];
} vinfo;

#define MAX_COND 32
typedef struct vgroup {
  char split[8], kind[8], name[64];
  long utts;
  acc a[5];
} vgroup;

typedef struct vreport {
  vgroup *g;
  size_t n, cap;
} vreport;

/* The index of a group, created when new (an index: r->g moves as it grows). */
static size_t vgroup_get(vreport *r, const char *split, const char *kind, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (!strcmp(r->g[i].split, split) && !strcmp(r->g[i].kind, kind) && !strcmp(r->g[i].name, name))
      return i;
  if (r->n == r->cap) r->g = realloc(r->g, (r->cap = r->cap ? 2 * r->cap : 4) * sizeof *r->g);
  vgroup *g = &r->g[r->n++];
  memset(g, 0, sizeof *g);
  snprintf(g->split, sizeof g->split, "%s", split);
  snprintf(g->kind, sizeof g->kind, "%s", kind);
  snprintf(g->name, sizeof g->name, "%s", name);
  return r->n - 1;
}

/* voices.tsv: id, name, family, lang, split (tab-separated; lines not starting with a number
 * are skipped). Returns the count; *out is malloc'd. */
static size_t load_voices(const char *path, vinfo **out) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = 0, cap = 64;
  vinfo *v = malloc(cap * sizeof *v);
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char *fld[5] = {0};
    int k = 0;
    char *p = line;
    while (k < 5) {
      fld[k++] = p;
      char *t = strchr(p, '\t');
      if (!t) break;
      *t = 0;
      p = t + 1;
    }
    if (k < 5 || line[0] < '0' || line[0] > '9') continue;
    fld[4][strcspn(fld[4], "\r\n")] = 0;
    if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
    vinfo *x = &v[n++];
    x->id = (uint32_t)strtoul(fld[0], NULL, 10);
    snprintf(x->name, sizeof x->name, "%s", fld[1]);
    snprintf(x->fam, sizeof x->fam, "%s", fld[2]);
    snprintf(x->lang, sizeof x->lang, "%s", fld[3]);
    snprintf(x->split, sizeof x->split, "%s", fld[4]);
  }
  fclose(f);
  *out = v;
  return n;
}

enum { V_NEW, V_NEW0, V_PREV, V_PREV0, V_LOUD, V_NSYS };

static double ratio(long a, long b) {
  return b ? (double)a / (double)b : NAN;
}

/* One markdown row: each metric as "new / prev / envelope" (prev, envelope when present). */
static void vrow(const vgroup *g, int sn, int sp, int have_prev, int fps) {
  const acc *an = &g->a[sn], *ap = &g->a[sp], *al = &g->a[V_LOUD];
  int ln, lp, ll;
  double rn = best_r(&an->co, &ln), rp = best_r(&ap->co, &lp), rl = best_r(&al->co, &ll);
  double rnd_n = (an->rnd_n ? an->rnd_s / an->rnd_n : 0) - (an->spr_n ? an->spr_s / an->spr_n : 0);
  double rnd_p = (ap->rnd_n ? ap->rnd_s / ap->rnd_n : 0) - (ap->spr_n ? ap->spr_s / ap->spr_n : 0);
  printf("| %s | %s | %ld | %ld |", g->split, g->name, g->utts, an->iclos_n);
  if (have_prev) {
    printf(" %.2f / %.2f / %.2f |", ratio(an->iclos_ok, an->iclos_n),
           ratio(ap->iclos_ok, ap->iclos_n), ratio(al->iclos_ok, al->iclos_n));
    printf(" %.2f / %.2f / %.2f |", ratio(an->ovow_ok, an->ovow_n), ratio(ap->ovow_ok, ap->ovow_n),
           ratio(al->ovow_ok, al->ovow_n));
    printf(" %.2f / %.2f / %.2f |", rn, rp, rl);
    printf(" %+d / %+d |", ln * 1000 / fps, lp * 1000 / fps);
    printf(" %.3f / %.3f / %.3f |", ratio(an->sil_ok, an->sil_n), ratio(ap->sil_ok, ap->sil_n),
           ratio(al->sil_ok, al->sil_n));
    printf(" %+.2f / %+.2f | %.2f / %.2f / %.2f |\n", rnd_n, rnd_p, ratio(an->fcl, an->fcl_n),
           ratio(ap->fcl, ap->fcl_n), ratio(al->fcl, al->fcl_n));
  } else {
    printf(" %.2f / %.2f |", ratio(an->iclos_ok, an->iclos_n), ratio(al->iclos_ok, al->iclos_n));
    printf(" %.2f / %.2f |", ratio(an->ovow_ok, an->ovow_n), ratio(al->ovow_ok, al->ovow_n));
    printf(" %.2f / %.2f |", rn, rl);
    printf(" %+d |", ln * 1000 / fps);
    printf(" %.3f / %.3f |", ratio(an->sil_ok, an->sil_n), ratio(al->sil_ok, al->sil_n));
    printf(" %+.2f | %.2f / %.2f |\n", rnd_n, ratio(an->fcl, an->fcl_n), ratio(al->fcl, al->fcl_n));
  }
}

static void vtable(const vreport *r, const char *kind, const char *title, int sn, int sp,
                   int have_prev, int fps) {
  int any = 0;
  for (size_t i = 0; i < r->n; i++) any |= !strcmp(r->g[i].kind, kind);
  if (!any) return;
  const char *who = have_prev ? "new / prev / envelope" : "model / envelope";
  printf(
      "\n#### %s\n\n| split | group | utts | /p b m/ | closure recall (%s) | open-vowel opening "
      "| opening r | lag ms | silence precision | rounding contrast | false closures (%s) |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n",
      title, who, who);
  static const char *const order[] = {"train", "valid", "test", "?"};
  for (int o = 0; o < 4; o++)
    for (size_t i = 0; i < r->n; i++)
      if (!strcmp(r->g[i].kind, kind) && !strcmp(r->g[i].split, order[o]))
        vrow(&r->g[i], sn, sp, have_prev, fps);
}

static int cmp_group(const void *a, const void *b) {
  const vgroup *x = a, *y = b;
  int c = strcmp(x->kind, y->kind);
  return c ? c : strcmp(x->name, y->name);
}

typedef struct vopts {
  const char *voices;
  const char *cond_name[MAX_COND]; /* by flag bit; NULL = not a named condition */
  int lowlat;                      /* also score the zero-lookahead networks */
  const char *only_split;          /* NULL = every split */
} vopts;

static int voice_mode(const utt *u, size_t n, const vopts *o, const ak_model *nn,
                      const ak_model *prev, int fps) {
  vinfo *vi = NULL;
  size_t nv = load_voices(o->voices, &vi);
  if (!nv) {
    fprintf(stderr, "cannot read voices from %s\n", o->voices);
    return 1;
  }
  vreport r = {0};
  long skipped = 0;
  for (size_t i = 0; i < n; i++) {
    const vinfo *v = NULL;
    for (size_t k = 0; k < nv && !v; k++)
      if (vi[k].id == u[i].voice) v = &vi[k];
    char vname[80], fam[16], lang[8], split[8];
    snprintf(fam, sizeof fam, "%s", v ? v->fam : "?");
    snprintf(split, sizeof split, "%s", v ? v->split : "?");
    snprintf(lang, sizeof lang, "%s",
             v && v->lang[0] && strcmp(v->lang, "multi") && strcmp(v->lang, "-")
                 ? v->lang
                 : (u[i].lang < NLANG ? lang_names[u[i].lang] : "?"));
    if (v)
      snprintf(vname, sizeof vname, "%s", v->name);
    else
      snprintf(vname, sizeof vname, "voice %u", u[i].voice);
    if (o->only_split && strcmp(o->only_split, split)) {
      skipped++;
      continue;
    }
    /* Conditions: clean (no augmentation bit), else every named bit it went through. */
    const char *conds[MAX_COND];
    int nc = 0;
    uint32_t aug = u[i].flags & ~1u;
    if (!aug) conds[nc++] = "clean";
    for (int b = 1; b < MAX_COND; b++)
      if ((aug & (1u << b)) && o->cond_name[b]) conds[nc++] = o->cond_name[b];
    if (aug && nc == 0) conds[nc++] = "other";
    size_t gs[5 + 2 * MAX_COND];
    int ng = 0;
    char key[96];
    if (!aug) {
      gs[ng++] = vgroup_get(&r, split, "voice", vname);
      gs[ng++] = vgroup_get(&r, split, "family", fam);
      gs[ng++] = vgroup_get(&r, split, "lang", lang);
      snprintf(key, sizeof key, "%s %s", fam, lang);
      gs[ng++] = vgroup_get(&r, split, "famlang", key);
      gs[ng++] = vgroup_get(&r, split, "family", "(all)");
    }
    for (int c = 0; c < nc; c++) {
      gs[ng++] = vgroup_get(&r, split, "cond", conds[c]);
      snprintf(key, sizeof key, "%s, %s", conds[c], fam);
      gs[ng++] = vgroup_get(&r, split, "famcond", key);
    }
    for (int g = 0; g < ng; g++) r.g[gs[g]].utts++;
    for (int s = 0; s < V_NSYS; s++) {
      if ((s == V_PREV || s == V_PREV0) && !prev) continue;
      if ((s == V_NEW0 || s == V_PREV0) && !o->lowlat) continue;
      track t;
      if (s == V_NEW) run_engine(&u[i], fps, 80, nn, &t);
      if (s == V_NEW0) run_engine(&u[i], fps, 0, nn, &t);
      if (s == V_PREV) run_engine(&u[i], fps, 80, prev, &t);
      if (s == V_PREV0) run_engine(&u[i], fps, 0, prev, &t);
      if (s == V_LOUD) run_loudness(&u[i], fps, &t);
      acc one;
      memset(&one, 0, sizeof one);
      score(&u[i], fps, &t, &one);
      for (int g = 0; g < ng; g++) acc_add(&r.g[gs[g]].a[s], &one);
      track_free(&t);
    }
  }
  if (r.n) qsort(r.g, r.n, sizeof *r.g, cmp_group);
  int hp = prev != NULL;
  printf(
      "Unseen-voice evaluation: %zu utterances (%ld outside the split filter), %d fps. Each "
      "cell: %s. Closure and open-vowel opening as defined in tools/eval/eval.c (issue 11).\n",
      n - (size_t)skipped, skipped, fps,
      hp ? "new model / previous model / 25 ms loudness envelope" : "model / envelope");
  for (int pass = 0; pass < (o->lowlat ? 2 : 1); pass++) {
    int sn = pass ? V_NEW0 : V_NEW, sp = pass ? V_PREV0 : V_PREV;
    printf("\n### %s\n",
           pass ? "Zero-lookahead network (lookahead 0)" : "Main network (lookahead 80 ms)");
    vtable(&r, "voice", "By voice (clean)", sn, sp, hp, fps);
    vtable(&r, "family", "By family (clean)", sn, sp, hp, fps);
    vtable(&r, "lang", "By language (clean)", sn, sp, hp, fps);
    vtable(&r, "famlang", "By family and language (clean)", sn, sp, hp, fps);
    vtable(&r, "cond", "By condition (all voices of the split)", sn, sp, hp, fps);
    vtable(&r, "famcond", "By condition and family", sn, sp, hp, fps);
  }
  free(r.g);
  free(vi);
  return 0;
}

#define MAX_FILES 64
int main(int argc, char **argv) {
  const char *paths[MAX_FILES], *model_path = NULL, *prev_path = NULL;
  int npath = 0, fps = 100, md = 0, by_cond = 0;
  vopts vo;
  memset(&vo, 0, sizeof vo);
  vo.lowlat = 1;
  static const char *const gen_conds[] = {NULL, "low-pass", "high-pass", "reverb", "noise", "opus"};
  for (int b = 1; b < 6; b++) vo.cond_name[b] = gen_conds[b];
  int cond_set = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--fps") && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 1 || v > AK_ENGINE_MAX_FPS) return 2;
      fps = (int)v;
    } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
      model_path = argv[++i];
    } else if (!strcmp(argv[i], "--prev") && i + 1 < argc) {
      prev_path = argv[++i];
    } else if (!strcmp(argv[i], "--voices") && i + 1 < argc) {
      vo.voices = argv[++i];
    } else if (!strcmp(argv[i], "--split") && i + 1 < argc) {
      vo.only_split = argv[++i];
    } else if (!strcmp(argv[i], "--no-lowlat")) {
      vo.lowlat = 0;
    } else if (!strcmp(argv[i], "--cond") && i + 1 < argc) {
      /* FLAG:NAME, an augmentation's AKDS flag value (2, 4, ... 2^31) and its name; the first
       * --cond replaces the generator's default names. */
      char *end;
      long f = strtol(argv[++i], &end, 10);
      if (f < 2 || f > 0x80000000L || (f & (f - 1)) || *end != ':' || !end[1]) return 2;
      int b = 0;
      while ((1L << b) != f) b++;
      if (!cond_set) memset(vo.cond_name, 0, sizeof vo.cond_name);
      cond_set = 1;
      vo.cond_name[b] = end + 1;
    } else if (!strcmp(argv[i], "--markdown")) {
      md = 1;
    } else if (!strcmp(argv[i], "--by-condition")) {
      by_cond = 1;
    } else if (argv[i][0] == '-' || npath == MAX_FILES) {
      npath = 0;
      break;
    } else {
      paths[npath++] = argv[i];
    }
  }
  if (!npath) {
    fprintf(stderr,
            "usage: ak_eval FILE.bin... [--fps N] [--model PATH] [--markdown] [--by-condition]\n"
            "       ak_eval FILE.bin... --voices voices.tsv [--model PATH] [--prev PATH]\n"
            "               [--split NAME] [--no-lowlat] [--cond FLAG:NAME]... [--fps N]\n");
    return 2;
  }
  size_t n = 0, cap = 0;
  utt *u = NULL;
  for (int k = 0; k < npath; k++) {
    utt *nu = load(paths[k], u, &n, &cap);
    if (!nu) {
      fprintf(stderr, "cannot read %s\n", paths[k]);
      return 1;
    }
    u = nu;
  }
  ak_model *nn = NULL, *dsp = NULL;
  int rc = model_path ? ak_model_load(model_path, &nn) : ak_model_load_default(&nn);
  if (rc < 0) {
    fprintf(stderr, "model: %s\n", ak_err_name(rc));
    return 1;
  }
  if (vo.voices) {
    ak_model *prev = NULL;
    if (prev_path && (rc = ak_model_load(prev_path, &prev)) < 0) {
      fprintf(stderr, "previous model: %s\n", ak_err_name(rc));
      return 1;
    }
    rc = voice_mode(u, n, &vo, nn, prev, fps);
    for (size_t i = 0; i < n; i++) {
      free(u[i].audio);
      free(u[i].ph);
    }
    free(u);
    ak_model_free(nn);
    ak_model_free(prev);
    return rc;
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
    if (g < ng && !by_cond && !ACC(S_NN, gi)->co.cnt[MAX_LAG]) continue; /* not in the files */
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
