/* Training/evaluation data generator: synthesizes utterances with libespeak-ng (phoneme
 * events give exact phone timing) in several languages, voices, rates and pitches, or reads
 * labelled utterances of other synthesizers (tools/corpus: MBROLA, flite, Open JTalk, SVOX
 * pico, RHVoice), augments the audio (vocal-tract warp, input sample rates, band limits,
 * telephone band, reverberation, noise, noise floor, loudness, Opus round trips), and writes
 * engine front-end features plus coarticulated mouth targets per 10 ms hop.
 *
 * Usage: ak_gen_data --out FILE --n N --seed S --split train|eval [--audio] [--clean]
 *                    [--cond clean|reverb|telephone|noise10]
 *        ak_gen_data --out FILE --list MANIFEST [--reps K] --seed S [--audio] [--clean|--cond C]
 *        ak_gen_data --print-text LANG --n N --seed S      (one text per line, for tools/corpus)
 *        ak_gen_data --retarget IN --out FILE  (IN's utterances with their targets recomputed
 *                    from their stored phones by this build's tools/train/phones.c)
 * MANIFEST lines: wav-path TAB label-path TAB lang-id TAB voice-id TAB phone-set (ipa, sampa,
 * arpabet, jtalk); label lines: start-s end-s phone-name. WAV: 16-bit PCM mono, any rate.
 * Output (little-endian): "AKDS" u32 version=1, u32 nmel, u32 nt; then per utterance
 * u32 "UTT1", u32 lang, u32 voice, u32 flags, u32 n_samples, u32 n_hops, u32 n_phones,
 * [float audio[n_samples] when flags & 1], phones {f32 start, f32 end, u32 vis, u32 cls},
 * f32 feat[n_hops][nmel], f32 target[n_hops][nt]. Deterministic for a given seed.
 * lang: en 0 es 1 de 2 fr 3 it 4 cmn 5 ja 6 yue 7 nl 8 cs 9 (nl, cs: MBROLA voices only).
 * voice: espeak train variants 0-13, held-out (eval) variants 50-55, other synthesizers' ids
 * from tools/corpus/voices.tsv (>= 100).
 * flags: 1 audio present, 2 low-pass, 4 high-pass, 8 reverb, 16 noise (5-30 dB SNR; exactly
 * 10 dB in --cond noise10), 32 Opus round trip, 64 telephone band (300-3400 Hz at 8 kHz),
 * 128 vocal-tract warp (0.82-1.18), 256 noise floor (45-70 dB below speech). --clean and
 * --cond sets carry 1 plus at most the one condition bit (8, 16 or 64). */
#include <espeak-ng/speak_lib.h>
#include <math.h>
#include <opus.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/engine_internal.h"
#include "avatarkit/codec.h"
#include "phones.h"

#define MAX_TEXT 2048
#define ESPEAK_RATE 22050
#define MAX_EVENTS 4096
#define MAX_SAMPLES (ESPEAK_RATE * 30)

/* ---- PRNG ---- */
static uint64_t rnd_next(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  uint64_t x = *s;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 32);
}
static double rnd_unit(uint64_t *s) {
  return (double)(rnd_next(s) >> 11) / 9007199254740992.0;
}
static int rnd_int(uint64_t *s, int n) {
  return (int)(rnd_unit(s) * n);
}
static float rnd_gauss(uint64_t *s) {
  double a = 0;
  for (int i = 0; i < 4; i++) a += rnd_unit(s);
  return (float)((a - 2.0) * 1.7320508);
}

/* ---- languages and text ---- */
typedef struct lang {
  const char *code;
  const char *const *on;
  int non;
  const char *const *nu;
  int nnu;
  const char *const *co;
  int nco;
} lang;

#define L(x) x, (int)(sizeof x / sizeof *x)
static const char *const en_on[] = {"",   "b",  "d",  "f",  "g",  "h",  "k", "l",  "m",
                                    "n",  "p",  "r",  "s",  "t",  "w",  "y", "th", "sh",
                                    "ch", "br", "pl", "st", "bl", "fr", "wh"};
static const char *const en_nu[] = {"a",  "e",  "i",  "o",  "u",  "ee",
                                    "oo", "ay", "ow", "oy", "ai", "oa"};
static const char *const en_co[] = {"",  "",  "n", "m", "t", "p",  "b",
                                    "s", "k", "d", "l", "r", "ng", "st"};
static const char *const es_on[] = {"",  "b", "c", "d", "f",  "g",  "j",  "l",  "m",  "n", "p",
                                    "r", "s", "t", "v", "ch", "ll", "br", "pl", "tr", "qu"};
static const char *const es_nu[] = {"a", "e", "i", "o", "u", "ue", "ie", "io", "ua"};
static const char *const es_co[] = {"", "", "", "n", "s", "r", "l"};
static const char *const de_on[] = {"",  "b", "d", "f", "g", "h",   "k",  "l",  "m",  "n",  "p",
                                    "r", "s", "t", "w", "z", "sch", "st", "sp", "pf", "br", "kl"};
static const char *const de_nu[] = {"a",        "e",        "i",  "o",  "u",  "\xc3\xa4",
                                    "\xc3\xb6", "\xc3\xbc", "ei", "au", "eu", "ie"};
static const char *const de_co[] = {"", "", "n", "m", "t", "s", "r", "l", "ch", "ng", "k"};
static const char *const fr_on[] = {"",  "b", "d", "f", "g", "j",  "l",  "m",  "n",
                                    "p", "r", "s", "t", "v", "ch", "br", "pl", "tr"};
static const char *const fr_nu[] = {"a",  "e",  "i",  "o",        "u",        "ou", "eu", "oi",
                                    "an", "on", "in", "\xc3\xa9", "\xc3\xa8", "ai", "au"};
static const char *const fr_co[] = {"", "", "", "r", "l", "s", "t"};
static const char *const it_on[] = {"",  "b", "c", "d", "f", "g",  "l",  "m",  "n", "p",
                                    "r", "s", "t", "v", "z", "ch", "gl", "pr", "tr"};
static const char *const it_nu[] = {"a", "e", "i", "o", "u", "ia", "io", "uo"};
static const char *const it_co[] = {"", "", "", "n", "l", "r", "s"};
/* Languages only other synthesizers speak in the corpus (tools/corpus, --print-text): the
 * espeak-ng training data keeps the first NLANG_ESPEAK languages. */
static const char *const nl_on[] = {"",  "b", "d", "f", "g", "h", "k", "l",   "m",  "n",  "p",
                                    "r", "s", "t", "v", "w", "z", "j", "sch", "st", "br", "kl"};
static const char *const nl_nu[] = {"a",  "e",  "i",  "o",  "u",  "aa", "ee",
                                    "oo", "uu", "ie", "oe", "eu", "ui", "ij"};
static const char *const nl_co[] = {"", "", "n", "m", "t", "s", "r", "l", "k", "ng", "p"};
static const char *const cs_on[] = {
    "",  "b",        "c", "\xc4\x8d", "d", "f", "h", "ch",       "k", "l",  "m",  "n", "p",
    "r", "\xc5\x99", "s", "\xc5\xa1", "t", "v", "z", "\xc5\xbe", "j", "br", "pr", "st"};
static const char *const cs_nu[] = {"a",        "e",        "i",        "o", "u", "\xc3\xa1",
                                    "\xc3\xa9", "\xc3\xad", "\xc3\xba", "y", "ou"};
static const char *const cs_co[] = {"", "", "", "n", "m", "t", "s", "l", "k"};
/* Hiragana CV syllables (UTF-8). */
static const char *const ja_kana[] = {
    "\xe3\x81\x82", "\xe3\x81\x84", "\xe3\x81\x86", "\xe3\x81\x88", "\xe3\x81\x8a", "\xe3\x81\x8b",
    "\xe3\x81\x8d", "\xe3\x81\x8f", "\xe3\x81\x91", "\xe3\x81\x93", "\xe3\x81\x95", "\xe3\x81\x97",
    "\xe3\x81\x99", "\xe3\x81\x9b", "\xe3\x81\x9d", "\xe3\x81\x9f", "\xe3\x81\xa1", "\xe3\x81\xa4",
    "\xe3\x81\xa6", "\xe3\x81\xa8", "\xe3\x81\xaa", "\xe3\x81\xab", "\xe3\x81\xac", "\xe3\x81\xad",
    "\xe3\x81\xae", "\xe3\x81\xaf", "\xe3\x81\xb2", "\xe3\x81\xb5", "\xe3\x81\xb8", "\xe3\x81\xbb",
    "\xe3\x81\xbe", "\xe3\x81\xbf", "\xe3\x82\x80", "\xe3\x82\x81", "\xe3\x82\x82", "\xe3\x82\x84",
    "\xe3\x82\x86", "\xe3\x82\x88", "\xe3\x82\x89", "\xe3\x82\x8a", "\xe3\x82\x8b", "\xe3\x82\x8c",
    "\xe3\x82\x8d", "\xe3\x82\x8f", "\xe3\x82\x93", "\xe3\x81\x8c", "\xe3\x81\x96", "\xe3\x81\xa0",
    "\xe3\x81\xb0", "\xe3\x81\xb1"};

static const lang langs[] = {
    {"en", L(en_on), L(en_nu), L(en_co)}, {"es", L(es_on), L(es_nu), L(es_co)},
    {"de", L(de_on), L(de_nu), L(de_co)}, {"fr", L(fr_on), L(fr_nu), L(fr_co)},
    {"it", L(it_on), L(it_nu), L(it_co)}, {"cmn", NULL, 0, NULL, 0, NULL, 0},
    {"ja", NULL, 0, NULL, 0, NULL, 0},    {"yue", NULL, 0, NULL, 0, NULL, 0},
    {"nl", L(nl_on), L(nl_nu), L(nl_co)}, {"cs", L(cs_on), L(cs_nu), L(cs_co)},
};
#define NLANG (int)(sizeof langs / sizeof *langs)
#define NLANG_ESPEAK 8 /* en .. yue: the languages of the espeak-ng training data */

static const char *const train_variants[] = {"m1",     "m2",     "m3",   "m4",  "m5",
                                             "m6",     "f1",     "f2",   "f3",  "klatt",
                                             "klatt3", "klatt4", "iven", "john"};
static const char *const eval_variants[] = {"m7", "m8", "f4", "f5", "klatt2", "klatt6"};

typedef struct hanzi {
  char (*ch)[4];
  int n;
} hanzi;

/* Keeps the CJK characters that espeak's `voice` reads natively (no language switch). */
static void hanzi_init(hanzi *h, const char *voice) {
  h->ch = malloc(21000 * sizeof *h->ch);
  h->n = 0;
  espeak_SetVoiceByName(voice);
  for (uint32_t c = 0x4E00; c <= 0x9FA5 && h->ch; c++) {
    char s[8];
    s[0] = (char)(0xE0 | (c >> 12));
    s[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    s[2] = (char)(0x80 | (c & 0x3F));
    s[3] = 0;
    const void *p = s;
    const char *ph = espeak_TextToPhonemes(&p, espeakCHARS_UTF8, 0);
    if (ph && ph[0] && !strchr(ph, '(')) memcpy(h->ch[h->n++], s, 4);
  }
}

static void append(char *buf, size_t *len, const char *s) {
  size_t n = strlen(s);
  if (*len + n + 1 >= MAX_TEXT) return;
  memcpy(buf + *len, s, n);
  *len += n;
  buf[*len] = 0;
}

static void make_text(const lang *l, const hanzi *hzs, uint64_t *r, char *buf) {
  const hanzi *hz = &hzs[strcmp(l->code, "yue") == 0 ? 1 : 0];
  size_t len = 0;
  buf[0] = 0;
  int nclauses = 1 + rnd_int(r, 3);
  for (int c = 0; c < nclauses; c++) {
    int nwords = 2 + rnd_int(r, 7);
    for (int w = 0; w < nwords; w++) {
      if (l->on) {
        int nsyl = 1 + rnd_int(r, 3);
        for (int s = 0; s < nsyl; s++) {
          append(buf, &len, l->on[rnd_int(r, l->non)]);
          append(buf, &len, l->nu[rnd_int(r, l->nnu)]);
          append(buf, &len, l->co[rnd_int(r, l->nco)]);
        }
        append(buf, &len, " ");
      } else if (!strcmp(l->code, "ja")) {
        int nsyl = 2 + rnd_int(r, 3);
        for (int s = 0; s < nsyl; s++)
          append(buf, &len, ja_kana[rnd_int(r, (int)(sizeof ja_kana / sizeof *ja_kana))]);
      } else if (hz->n > 0) {
        int nsyl = 1 + rnd_int(r, 3);
        for (int s = 0; s < nsyl; s++) append(buf, &len, hz->ch[rnd_int(r, hz->n)]);
      }
    }
    static const char *const ends[] = {". ", ", ", "? ", "! ", ", "};
    static const char *const cjk_ends[] = {"\xe3\x80\x82", "\xef\xbc\x8c"};
    if (l->on)
      append(buf, &len, ends[rnd_int(r, 5)]);
    else
      append(buf, &len, cjk_ends[rnd_int(r, 2)]);
  }
}

/* ---- synthesis ---- */
typedef struct synth {
  float *pcm;
  size_t n, cap;
  struct {
    int ms;
    char ph[16];
  } ev[MAX_EVENTS];
  int nev;
} synth;

static synth *g_synth; /* espeak's callback has no user pointer; tool-only, single thread */

static int synth_cb(short *wav, int n, espeak_EVENT *ev) {
  synth *s = g_synth;
  for (int i = 0; i < n && s->n < s->cap; i++) s->pcm[s->n++] = wav[i] / 32768.0f;
  for (; ev && ev->type != espeakEVENT_LIST_TERMINATED; ev++) {
    if (ev->type == espeakEVENT_PHONEME && s->nev < MAX_EVENTS) {
      s->ev[s->nev].ms = ev->audio_position;
      memcpy(s->ev[s->nev].ph, ev->id.string, 8);
      s->ev[s->nev].ph[8] = 0;
      s->nev++;
    }
  }
  return 0;
}

/* ---- augmentation ---- */
typedef struct biquad {
  float b0, b1, b2, a1, a2, z1, z2;
} biquad;

static void bq_init(biquad *q, int high, float fc, float fs) {
  float w = 2.0f * 3.14159265f * fc / fs, cw = cosf(w), al = sinf(w) / (2.0f * 0.7071f);
  float a0 = 1.0f + al;
  if (high) {
    q->b0 = (1.0f + cw) / 2.0f / a0;
    q->b1 = -(1.0f + cw) / a0;
  } else {
    q->b0 = (1.0f - cw) / 2.0f / a0;
    q->b1 = (1.0f - cw) / a0;
  }
  q->b2 = q->b0;
  q->a1 = -2.0f * cw / a0;
  q->a2 = (1.0f - al) / a0;
  q->z1 = q->z2 = 0;
}

static float bq_run(biquad *q, float x) {
  float y = q->b0 * x + q->z1;
  q->z1 = q->b1 * x - q->a1 * y + q->z2;
  q->z2 = q->b2 * x - q->a2 * y;
  return y;
}

static void reverb(float *x, size_t n, float fs, float rt60, float wet, uint64_t *r) {
  size_t m = (size_t)(rt60 * fs);
  float *ir = malloc(m * sizeof *ir), *y = calloc(n, sizeof *y);
  float decay = -6.9078f / (rt60 * fs);
  for (size_t i = 0; i < m; i++) ir[i] = rnd_gauss(r) * expf(decay * (float)i) * 0.05f;
  /* Sparse convolution: every 4th tap keeps the cost low; it is noise anyway. */
  for (size_t i = 0; i < n; i++) {
    if (x[i] == 0.0f) continue;
    for (size_t j = 0; j < m && i + j < n; j += 4) y[i + j] += x[i] * ir[j];
  }
  for (size_t i = 0; i < n; i++) x[i] = x[i] + wet * y[i];
  free(ir);
  free(y);
}

static void add_noise(float *x, size_t n, float snr_db, int kind, uint64_t *r) {
  double ps = 0;
  size_t active = 0;
  for (size_t i = 0; i < n; i++)
    if (fabsf(x[i]) > 1e-4f) {
      ps += (double)x[i] * x[i];
      active++;
    }
  if (!active) return;
  ps /= (double)active;
  float *nz = malloc(n * sizeof *nz);
  float p1 = 0, env = 1;
  double pn = 0;
  for (size_t i = 0; i < n; i++) {
    float g = rnd_gauss(r);
    if (kind == 1) { /* pink-ish */
      p1 = 0.97f * p1 + 0.03f * g * 4.0f;
      g = p1;
    } else if (kind == 2) { /* babble-like: modulated low-passed noise */
      p1 = 0.8f * p1 + 0.2f * g;
      if (i % 800 == 0) env = 0.3f + (float)rnd_unit(r);
      g = p1 * env;
    }
    nz[i] = g;
    pn += (double)g * g;
  }
  pn /= (double)n;
  float k = (float)sqrt(ps / (pn * pow(10.0, snr_db / 10.0)));
  for (size_t i = 0; i < n; i++) x[i] += k * nz[i];
  free(nz);
}

static float *resample(const float *x, size_t n, int in, int out, size_t *nout) {
  if (in == out) {
    float *y = malloc(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    *nout = n;
    return y;
  }
  ak_resampler *rs;
  if (ak_resampler_new(in, out, &rs) != AK_OK) return NULL;
  size_t cap = ak_resampler_max_out(rs, n) + 4096;
  float *y = malloc(cap * sizeof *y);
  int a = ak_resampler_process(rs, x, n, y, cap);
  int b = a >= 0 ? ak_resampler_flush(rs, y + a, cap - (size_t)a) : -1;
  ak_resampler_free(rs);
  if (a < 0 || b < 0) {
    free(y);
    return NULL;
  }
  *nout = (size_t)a + (size_t)b;
  return y;
}

/* Opus round trip at 16 kHz, delay-compensated, same length. */
static void opus_trip(float *x, size_t n, int bitrate) {
  int err;
  OpusEncoder *enc = opus_encoder_create(16000, 1, OPUS_APPLICATION_VOIP, &err);
  OpusDecoder *dec = opus_decoder_create(16000, 1, &err);
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
  opus_int32 la = 0;
  opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(&la));
  size_t total = n + (size_t)la + 320;
  float *in = calloc(total + 320, sizeof *in), *out = calloc(total + 320, sizeof *out);
  memcpy(in, x, n * sizeof *in);
  unsigned char pkt[1500];
  size_t got = 0;
  for (size_t p = 0; p + 320 <= total + 320 && got < total; p += 320) {
    int len = opus_encode_float(enc, in + p, 320, pkt, sizeof pkt);
    if (len < 0) break;
    int d = opus_decode_float(dec, pkt, len, out + got, 320, 0);
    if (d < 0) break;
    got += (size_t)d;
  }
  for (size_t i = 0; i < n; i++) x[i] = (size_t)la + i < got ? out[la + i] : 0.0f;
  opus_encoder_destroy(enc);
  opus_decoder_destroy(dec);
  free(in);
  free(out);
}

static const int rates[] = {8000, 16000, 22050, 24000, 32000, 44100, 48000};

static void put32(FILE *f, uint32_t v) {
  fwrite(&v, 4, 1, f);
}

enum { COND_NONE, COND_CLEAN, COND_REVERB, COND_TELE, COND_NOISE10 };

typedef struct gen_opts {
  int clean, cond, with_audio;
} gen_opts;

/* Band-limits to 300-3400 Hz (two second-order sections each side). */
static void telephone(float *x, size_t n, float fs) {
  biquad q[4];
  bq_init(&q[0], 1, 300.0f, fs);
  bq_init(&q[1], 1, 300.0f, fs);
  bq_init(&q[2], 0, 3400.0f, fs);
  bq_init(&q[3], 0, 3400.0f, fs);
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < 4; k++) x[i] = bq_run(&q[k], x[i]);
}

/* Augments one utterance (x: n samples at fs, modified in place; phones in seconds, rescaled
 * by a vocal-tract warp), computes features and targets and appends it to f. */
static int emit(FILE *f, ak__mel *mel, float *x, size_t n, int fs, ak_phone *ph, size_t nph,
                uint32_t lang_id, uint32_t voice, const gen_opts *o, uint64_t *r, double *total_s) {
  uint32_t flags = o->with_audio ? 1u : 0u;
  int aug = !o->clean && o->cond == COND_NONE;
  float fse = (float)fs;
  int tele = 0;
  if (aug) {
    /* Vocal-tract warp: the samples are read as if recorded at fs * a, which scales every
     * frequency (formants and pitch) by a and every duration by 1 / a. */
    if (rnd_unit(r) < 0.7) {
      float a = 0.82f + 0.36f * (float)rnd_unit(r);
      fse = (float)fs * a;
      for (size_t i = 0; i < nph; i++) {
        ph[i].start /= a;
        ph[i].end /= a;
      }
      flags |= 128;
    }
    /* A noise floor, so that digital silence (espeak closures, padding) is never a cue. */
    add_noise(x, n, 45.0f + 25.0f * (float)rnd_unit(r), rnd_int(r, 2), r);
    flags |= 256;
    if (rnd_unit(r) < 0.12) {
      telephone(x, n, fse);
      tele = 1;
      flags |= 64;
    }
    if (!tele && rnd_unit(r) < 0.3) {
      biquad q;
      bq_init(&q, 0, 2800.0f + 4500.0f * (float)rnd_unit(r), fse);
      for (size_t i = 0; i < n; i++) x[i] = bq_run(&q, x[i]);
      flags |= 2;
    }
    if (!tele && rnd_unit(r) < 0.2) {
      biquad q;
      bq_init(&q, 1, 80.0f + 250.0f * (float)rnd_unit(r), fse);
      for (size_t i = 0; i < n; i++) x[i] = bq_run(&q, x[i]);
      flags |= 4;
    }
    if (rnd_unit(r) < 0.3) {
      reverb(x, n, fse, 0.15f + 0.5f * (float)rnd_unit(r), 0.1f + 0.4f * (float)rnd_unit(r), r);
      flags |= 8;
    }
    if (rnd_unit(r) < 0.5) {
      add_noise(x, n, 5.0f + 25.0f * (float)rnd_unit(r), rnd_int(r, 3), r);
      flags |= 16;
    }
  } else if (o->cond == COND_REVERB) {
    reverb(x, n, fse, 0.3f + 0.4f * (float)rnd_unit(r), 0.3f + 0.2f * (float)rnd_unit(r), r);
    flags |= 8;
  } else if (o->cond == COND_TELE) {
    telephone(x, n, fse);
    tele = 1;
    flags |= 64;
  } else if (o->cond == COND_NOISE10) {
    add_noise(x, n, 10.0f, rnd_int(r, 3), r);
    flags |= 16;
  }
  float gain_db = aug ? -28.0f + 30.0f * (float)rnd_unit(r) : -6.0f;
  float g = powf(10.0f, gain_db / 20.0f) * 2.0f;
  /* Normalise the source's peak first so that the level range means the same per family. */
  float peak = 1e-6f;
  for (size_t i = 0; i < n; i++)
    if (fabsf(x[i]) > peak) peak = fabsf(x[i]);
  g *= 0.5f / peak;
  for (size_t i = 0; i < n; i++) x[i] = ak__clampf(x[i] * g, -1.0f, 1.0f);

  /* Through a random accepted input rate (8 kHz for the telephone band), then to 16 kHz as
   * the server does. */
  int rate = tele ? 8000 : aug ? rates[rnd_int(r, 7)] : rates[rnd_int(r, 7)];
  int fsi = (int)lroundf(fse);
  size_t nr = 0, n16 = 0;
  float *xr = resample(x, n, fsi, rate, &nr);
  float *x16 = xr ? resample(xr, nr, rate, 16000, &n16) : NULL;
  free(xr);
  if (!x16) {
    fprintf(stderr, "resample failed\n");
    return -1;
  }
  if (aug && rnd_unit(r) < 0.25) {
    opus_trip(x16, n16, 10000 + rnd_int(r, 30000));
    flags |= 32;
  }

  /* Features exactly as the engine computes them (hop window ends 8 ms past the hop). */
  size_t n_hops = n16 / AK__HOP;
  float *feat = malloc(n_hops * AK__NMEL * sizeof *feat);
  float *tgt = malloc(n_hops * AK__NT * sizeof *tgt);
  float win[AK__WIN];
  for (size_t k = 0; k < n_hops; k++) {
    long end = (long)((k + 1) * AK__HOP) + AK__CENTER_MS * 16;
    for (int i = 0; i < AK__WIN; i++) {
      long p = end - AK__WIN + i;
      win[i] = p >= 0 && p < (long)n16 ? x16[p] : 0.0f;
    }
    ak__mel_compute(mel, win, feat + k * AK__NMEL);
  }
  ak_ph_targets(ph, nph, n_hops, tgt);

  put32(f, 0x31545455u);
  put32(f, lang_id);
  put32(f, voice);
  put32(f, flags);
  put32(f, (uint32_t)n16);
  put32(f, (uint32_t)n_hops);
  put32(f, (uint32_t)nph);
  if (o->with_audio) fwrite(x16, sizeof *x16, n16, f);
  for (size_t i = 0; i < nph; i++) {
    fwrite(&ph[i].start, 4, 1, f);
    fwrite(&ph[i].end, 4, 1, f);
    put32(f, (uint32_t)ph[i].vis);
    put32(f, (uint32_t)ph[i].cls);
  }
  fwrite(feat, sizeof *feat, n_hops * AK__NMEL, f);
  fwrite(tgt, sizeof *tgt, n_hops * AK__NT, f);
  free(feat);
  free(tgt);
  free(x16);
  *total_s += (double)n16 / 16000.0;
  return 0;
}

/* ---- espeak label hygiene ---- */

/* ---- labelled utterances of other synthesizers ---- */

static float *read_wav(const char *path, size_t *n, int *fs) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char h[12];
  float *x = NULL;
  int ch = 0, bits = 0;
  *fs = 0;
  if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) goto done;
  for (;;) {
    unsigned char c[8];
    if (fread(c, 1, 8, f) != 8) break;
    uint32_t len =
        (uint32_t)c[4] | (uint32_t)c[5] << 8 | (uint32_t)c[6] << 16 | (uint32_t)c[7] << 24;
    if (!memcmp(c, "fmt ", 4)) {
      unsigned char fm[16];
      if (len < 16 || fread(fm, 1, 16, f) != 16) break;
      ch = fm[2] | fm[3] << 8;
      *fs = (int)((uint32_t)fm[4] | (uint32_t)fm[5] << 8 | (uint32_t)fm[6] << 16 |
                  (uint32_t)fm[7] << 24);
      bits = fm[14] | fm[15] << 8;
      if (len > 16) fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR);
    } else if (!memcmp(c, "data", 4)) {
      if (ch != 1 || bits != 16 || *fs < 1000) break;
      /* Some writers leave the length 0 or huge when streaming: read to the end then. */
      size_t cap = len && len < 0x7FFFFFF0u ? len / 2 : (size_t)*fs * 120;
      int16_t *buf = malloc(cap * sizeof *buf);
      size_t got = buf ? fread(buf, 2, cap, f) : 0;
      x = malloc((got ? got : 1) * sizeof *x);
      for (size_t i = 0; x && i < got; i++) x[i] = buf[i] / 32768.0f;
      *n = got;
      free(buf);
      break;
    } else {
      fseek(f, (long)(len + (len & 1)), SEEK_CUR);
    }
  }
done:
  fclose(f);
  return x;
}

/* Reads a label file and converts its phone names; returns the count, -1 on error. Names
 * the phone set does not know are reported once per call and labelled as "other" (never as
 * silence, which would teach a closed mouth mid-word). */
static long read_labels(const char *path, int set, ak_phone *ph, size_t cap, long *unknown) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[256];
  struct {
    float s, e;
    char name[32];
  } raw[2048];
  size_t nr = 0;
  while (fgets(line, sizeof line, f) && nr < 2048) {
    char *p = line, *q;
    float s = strtof(p, &q);
    if (q == p) continue;
    p = q;
    float e = strtof(p, &q);
    if (q == p) continue;
    p = q;
    while (*p == ' ' || *p == '\t') p++;
    size_t l = strcspn(p, " \t\r\n");
    if (l >= sizeof raw[0].name) l = sizeof raw[0].name - 1;
    raw[nr].s = s;
    raw[nr].e = e;
    memcpy(raw[nr].name, p, l);
    raw[nr].name[l] = 0;
    nr++;
  }
  fclose(f);
  size_t n = 0;
  for (size_t i = 0; i < nr && n + 2 <= cap; i++) {
    if (raw[i].e <= raw[i].s) continue;
    const char *name = raw[i].name;
    /* A geminate closure (Open JTalk "cl") has the mouth of the consonant it closes for. */
    if (set == AK_PHSET_JTALK && !strcmp(name, "cl") && i + 1 < nr) name = raw[i + 1].name;
    char ipa[64];
    int k = ak_ph_to_ipa(set, name, ipa, sizeof ipa);
    int vis[2], cls[2];
    float frac[2];
    int m = k > 0 ? ak_ph_parse(ipa, vis, cls, frac) : 0;
    if (k < 0 || (k > 0 && m == 0)) {
      if (getenv("AK_GEN_DEBUG")) fprintf(stderr, "unknown phone '%s' in %s\n", name, path);
      (*unknown)++;
      ph[n++] = (ak_phone){raw[i].s, raw[i].e, AK_VIS_DD, AK_CLS_OTHER};
      continue;
    }
    if (m == 0) {
      ph[n++] = (ak_phone){raw[i].s, raw[i].e, AK_VIS_SIL, AK_CLS_SIL};
      continue;
    }
    float mid = m == 2 ? raw[i].s + frac[0] * (raw[i].e - raw[i].s) : raw[i].e;
    ph[n++] = (ak_phone){raw[i].s, mid, vis[0], cls[0]};
    if (m == 2) ph[n++] = (ak_phone){mid, raw[i].e, vis[1], cls[1]};
  }
  return (long)n;
}

/* Leading/trailing pauses as labelled phones make the rest pose start too early: the rest
 * is implied around the first and last sound, so labelled edge pauses are dropped. */
static size_t trim_edges(ak_phone *ph, size_t n) {
  size_t a = 0;
  while (a < n && ph[a].vis == AK_VIS_SIL) a++;
  while (n > a && ph[n - 1].vis == AK_VIS_SIL) n--;
  if (a) memmove(ph, ph + a, (n - a) * sizeof *ph);
  return n - a;
}

static int run_list(FILE *f, const char *list, long reps, const gen_opts *o, uint64_t *r) {
  FILE *m = fopen(list, "r");
  if (!m) {
    perror(list);
    return 1;
  }
  ak__mel mel;
  ak__mel_init(&mel);
  static ak_phone ph[4096];
  char line[2048];
  long written = 0, unknown = 0, bad = 0;
  double total_s = 0;
  while (fgets(line, sizeof line, m)) {
    char *fld[5];
    int nf = 0;
    char *p = line;
    while (nf < 5) {
      fld[nf++] = p;
      char *t = strchr(p, '\t');
      if (!t) break;
      *t = 0;
      p = t + 1;
    }
    if (nf < 5 || line[0] == '#') continue;
    fld[4][strcspn(fld[4], "\r\n")] = 0;
    int set = ak_phset_from_name(fld[4]);
    uint32_t lang_id = (uint32_t)strtoul(fld[2], NULL, 10),
             voice = (uint32_t)strtoul(fld[3], NULL, 10);
    size_t n = 0;
    int fs = 0;
    float *src = set >= 0 ? read_wav(fld[0], &n, &fs) : NULL;
    long nl = src ? read_labels(fld[1], set, ph, sizeof ph / sizeof *ph, &unknown) : -1;
    if (!src || nl <= 0 || n < (size_t)fs / 10) {
      fprintf(stderr, "skipping %s (%s)\n", fld[0], !src ? "audio" : "labels");
      free(src);
      bad++;
      continue;
    }
    if (fs > 24000) { /* Open JTalk writes 48 kHz: augment at 24 kHz (features use 8 kHz) */
      size_t n24 = 0;
      float *y = resample(src, n, fs, 24000, &n24);
      if (y) {
        free(src);
        src = y;
        n = n24;
        fs = 24000;
      }
    }
    size_t nph = trim_edges(ph, (size_t)nl);
    /* Lead and tail silence (0.1-0.7 s, 0.2-0.8 s) as in the espeak path. */
    size_t lead = (size_t)((0.1 + 0.6 * rnd_unit(r)) * fs);
    size_t tail = (size_t)((0.2 + 0.6 * rnd_unit(r)) * fs);
    float *x = calloc(lead + n + tail, sizeof *x);
    for (long k = 0; k < reps; k++) {
      memset(x, 0, (lead + n + tail) * sizeof *x);
      memcpy(x + lead, src, n * sizeof *x);
      ak_phone *q = malloc((nph ? nph : 1) * sizeof *q);
      for (size_t i = 0; i < nph; i++) {
        q[i] = ph[i];
        q[i].start += (float)lead / (float)fs;
        q[i].end += (float)lead / (float)fs;
      }
      int rc = emit(f, &mel, x, lead + n + tail, fs, q, nph, lang_id, voice, o, r, &total_s);
      free(q);
      if (rc) {
        free(x);
        free(src);
        fclose(m);
        return 1;
      }
      written++;
    }
    free(x);
    free(src);
  }
  fclose(m);
  fprintf(stderr, "%ld utterances, %.1f s of audio -> (list %s), %ld unknown phones, %ld skipped\n",
          written, total_s, list, unknown, bad);
  return 0;
}

/* --retarget: copies the AKDS shard at inp to f with every utterance's targets recomputed from
 * its stored phones by ak_ph_targets, so a change of the coarticulation tables reaches an
 * existing corpus without rendering and augmenting it again (audio, phones and features are
 * copied unchanged; the output is what generation with this phones.c would have written). */
static int retarget(const char *inp, FILE *f) {
  FILE *in = fopen(inp, "rb");
  if (!in) {
    perror(inp);
    return 1;
  }
  uint32_t hd[4];
  int rc = 1;
  float *buf = NULL, *tg = NULL;
  ak_phone *ph = NULL;
  long n_utt = 0;
  if (fread(hd, 4, 4, in) != 4 || memcmp(hd, "AKDS", 4) || hd[1] != 1 || hd[2] != AK__NMEL ||
      hd[3] != AK__NT) {
    fprintf(stderr, "%s: not an AKDS v1 shard with %d mel bands and %d targets\n", inp, AK__NMEL,
            AK__NT);
    goto done;
  }
  for (;;) {
    uint32_t u[7];
    size_t got = fread(u, 4, 7, in);
    if (got == 0 && feof(in)) break;
    /* Bounds: 10 minutes of 48 kHz audio, 60,000 hops, 65,536 phones per utterance. */
    if (got != 7 || u[0] != 0x31545455u || u[4] > 48000u * 600 || u[5] > 60000 || u[6] > 65536) {
      fprintf(stderr, "%s: bad utterance header after %ld utterances\n", inp, n_utt);
      goto done;
    }
    size_t ns = (u[3] & 1) ? u[4] : 0, nh = u[5], nph = u[6];
    size_t nbody = ns + 4 * nph + nh * AK__NMEL + nh * AK__NT;
    float *nb = realloc(buf, (nbody + 1) * sizeof *buf);
    ak_phone *np = realloc(ph, (nph + 1) * sizeof *ph);
    float *nt = realloc(tg, (nh * AK__NT + 1) * sizeof *tg);
    if (nb) buf = nb;
    if (np) ph = np;
    if (nt) tg = nt;
    if (!nb || !np || !nt) {
      fprintf(stderr, "%s: out of memory\n", inp);
      goto done;
    }
    if (fread(buf, sizeof *buf, nbody, in) != nbody) {
      fprintf(stderr, "%s: truncated utterance %ld\n", inp, n_utt);
      goto done;
    }
    const float *rp = buf + ns;
    for (size_t i = 0; i < nph; i++) {
      uint32_t vis, cls;
      memcpy(&vis, rp + 4 * i + 2, 4);
      memcpy(&cls, rp + 4 * i + 3, 4);
      if (vis >= AK_VIS_COUNT) {
        fprintf(stderr, "%s: utterance %ld: viseme %u out of range\n", inp, n_utt, vis);
        goto done;
      }
      ph[i] = (ak_phone){rp[4 * i], rp[4 * i + 1], (int)vis, (int)cls};
    }
    ak_ph_targets(ph, nph, nh, tg);
    memcpy(buf + ns + 4 * nph + nh * AK__NMEL, tg, nh * AK__NT * sizeof *tg);
    if (fwrite(u, 4, 7, f) != 7 || fwrite(buf, sizeof *buf, nbody, f) != nbody) {
      perror("write");
      goto done;
    }
    n_utt++;
  }
  fprintf(stderr, "%ld utterances retargeted from %s\n", n_utt, inp);
  rc = 0;
done:
  free(buf);
  free(ph);
  free(tg);
  fclose(in);
  return rc;
}

int main(int argc, char **argv) {
  const char *outp = NULL, *list = NULL, *print_lang = NULL, *retarget_in = NULL;
  long n_utt = 100, reps = 1;
  uint64_t seed = 1;
  int eval = 0;
  gen_opts o = {0, COND_NONE, 0};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--out") && i + 1 < argc)
      outp = argv[++i];
    else if (!strcmp(argv[i], "--n") && i + 1 < argc)
      n_utt = strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
      seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--split") && i + 1 < argc)
      eval = !strcmp(argv[++i], "eval");
    else if (!strcmp(argv[i], "--list") && i + 1 < argc)
      list = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--print-text") && i + 1 < argc)
      print_lang = argv[++i];
    else if (!strcmp(argv[i], "--retarget") && i + 1 < argc)
      retarget_in = argv[++i];
    else if (!strcmp(argv[i], "--cond") && i + 1 < argc) {
      const char *c = argv[++i];
      o.cond = !strcmp(c, "clean")       ? COND_CLEAN
               : !strcmp(c, "reverb")    ? COND_REVERB
               : !strcmp(c, "telephone") ? COND_TELE
               : !strcmp(c, "noise10")   ? COND_NOISE10
                                         : -1;
    } else if (!strcmp(argv[i], "--audio"))
      o.with_audio = 1;
    else if (!strcmp(argv[i], "--clean"))
      o.clean = 1;
    else {
      fprintf(stderr,
              "usage: %s --out FILE (--n N --split train|eval | --list MANIFEST [--reps K]) "
              "--seed S [--audio] [--clean] [--cond clean|reverb|telephone|noise10]\n"
              "       %s --print-text LANG --n N --seed S\n"
              "       %s --retarget IN --out FILE\n",
              argv[0], argv[0], argv[0]);
      return 2;
    }
  }
  if (o.cond < 0 || reps < 1 || reps > 100) {
    fprintf(stderr, "bad --cond or --reps\n");
    return 2;
  }
  if (o.cond != COND_NONE) o.clean = 1;
  if (!print_lang && (!outp || n_utt <= 0 || n_utt > 1000000)) {
    fprintf(stderr, "need --out and 0 < --n <= 1e6\n");
    return 2;
  }
  uint64_t r = seed * 0x9E3779B97F4A7C15ull + 7;
  if (print_lang) {
    int li = -1;
    for (int i = 0; i < NLANG; i++)
      if (!strcmp(langs[i].code, print_lang)) li = i;
    if (li < 0 || (!langs[li].on && strcmp(print_lang, "ja"))) {
      fprintf(stderr, "--print-text: en es de fr it ja nl cs\n");
      return 2;
    }
    char text[MAX_TEXT];
    hanzi none[2] = {{NULL, 0}, {NULL, 0}};
    for (long u = 0; u < n_utt; u++) {
      make_text(&langs[li], none, &r, text);
      printf("%s\n", text);
    }
    return 0;
  }
  if (retarget_in && !strcmp(retarget_in, outp)) {
    fprintf(stderr, "--retarget: write to another file than the input\n");
    return 2;
  }
  FILE *f = fopen(outp, "wb");
  if (!f) {
    perror(outp);
    return 1;
  }
  fwrite("AKDS", 1, 4, f);
  put32(f, 1);
  put32(f, AK__NMEL);
  put32(f, AK__NT);
  if (retarget_in) {
    int rc = retarget(retarget_in, f);
    if (fclose(f) != 0) rc = 1;
    if (rc) remove(outp);
    return rc;
  }
  if (list) {
    int rc = run_list(f, list, reps, &o, &r);
    if (fclose(f) != 0) rc = 1;
    return rc;
  }

  int sr = espeak_Initialize(
      AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL,
      espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_PHONEME_IPA | espeakINITIALIZE_DONT_EXIT);
  if (sr != ESPEAK_RATE) {
    fprintf(stderr, "espeak_Initialize: rate %d\n", sr);
    return 1;
  }
  espeak_SetSynthCallback(synth_cb);
  hanzi hz[2];
  hanzi_init(&hz[0], "cmn");
  hanzi_init(&hz[1], "yue");
  fprintf(stderr, "cmn: %d, yue: %d native characters\n", hz[0].n, hz[1].n);

  synth *s = calloc(1, sizeof *s);
  s->cap = MAX_SAMPLES;
  s->pcm = malloc(s->cap * sizeof *s->pcm);
  g_synth = s;
  ak__mel mel;
  ak__mel_init(&mel);
  const char *const *variants = eval ? eval_variants : train_variants;
  int nvar = eval ? (int)(sizeof eval_variants / sizeof *eval_variants)
                  : (int)(sizeof train_variants / sizeof *train_variants);
  char text[MAX_TEXT], vname[64];
  double total_s = 0;
  long written = 0;
  static ak_phone ph[2 * MAX_EVENTS];
  static char names[2 * MAX_EVENTS][16];
  for (long u = 0; u < n_utt; u++) {
    int li = (int)(u % NLANG_ESPEAK), vi = rnd_int(&r, nvar);
    const lang *l = &langs[li];
    snprintf(vname, sizeof vname, "%s+%s", l->code, variants[vi]);
    if (espeak_SetVoiceByName(vname) != EE_OK) espeak_SetVoiceByName(l->code);
    espeak_SetParameter(espeakRATE, 120 + rnd_int(&r, 150), 0);
    espeak_SetParameter(espeakPITCH, 20 + rnd_int(&r, 65), 0);
    espeak_SetParameter(espeakRANGE, 20 + rnd_int(&r, 70), 0);
    make_text(l, hz, &r, text);
    s->n = 0;
    s->nev = 0;
    /* Leading silence is added by offsetting the synth output. */
    size_t lead = (size_t)((0.1 + 0.6 * rnd_unit(&r)) * ESPEAK_RATE);
    size_t tail = (size_t)((0.2 + 0.6 * rnd_unit(&r)) * ESPEAK_RATE);
    memset(s->pcm, 0, lead * sizeof *s->pcm);
    s->n = lead;
    espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, NULL);
    if (s->nev == 0 || s->n + tail >= s->cap) continue;
    memset(s->pcm + s->n, 0, tail * sizeof *s->pcm);
    s->n += tail;
    size_t n22 = s->n;
    float lead_s = (float)lead / ESPEAK_RATE;
    float end_s = (float)(n22 - tail) / ESPEAK_RATE;

    /* Phones. */
    size_t nph = 0;
    for (int i = 0; i < s->nev; i++) {
      float st = lead_s + s->ev[i].ms / 1000.0f;
      float en = i + 1 < s->nev ? lead_s + s->ev[i + 1].ms / 1000.0f : end_s;
      if (en > end_s) en = end_s;
      if (en <= st) continue;
      int vis[2], cls[2];
      float frac[2];
      int k = ak_ph_parse(s->ev[i].ph, vis, cls, frac);
      if (k == 0 && s->ev[i].ph[0] && getenv("AK_GEN_DEBUG"))
        fprintf(stderr, "unmapped phoneme '%s' (%s)\n", s->ev[i].ph, l->code);
      if (k == 0 && !s->ev[i].ph[0] && nph > 0 && ph[nph - 1].vis != AK_VIS_SIL && en - st < 0.2f &&
          i + 1 < s->nev && s->ev[i + 1].ph[0]) {
        /* An empty-name event inside a word (espeak-ng Italian, short vocoids) is a sound,
         * not a pause: a neutral vowel. */
        memcpy(names[nph], "", 1);
        ph[nph++] = (ak_phone){st, en, AK_VIS_E, AK_CLS_OTHER};
        continue;
      }
      memcpy(names[nph], s->ev[i].ph, 16);
      if (k == 0) {
        ph[nph++] = (ak_phone){st, en, AK_VIS_SIL, AK_CLS_SIL};
      } else {
        float mid = k == 2 ? st + frac[0] * (en - st) : en;
        ph[nph++] = (ak_phone){st, mid, vis[0], cls[0]};
        if (k == 2) {
          memcpy(names[nph], "", 1);
          ph[nph++] = (ak_phone){mid, en, vis[1], cls[1]};
        }
      }
    }
    ak_ph_fix_closures(ph, (const char(*)[16])names, nph, s->pcm, n22, ESPEAK_RATE);

    uint32_t voice = (uint32_t)(eval ? 50 + vi : vi);
    if (emit(f, &mel, s->pcm, n22, ESPEAK_RATE, ph, nph, (uint32_t)li, voice, &o, &r, &total_s))
      return 1;
    written++;
  }
  fclose(f);
  fprintf(stderr, "%ld utterances, %.1f s of audio -> %s\n", written, total_s, outp);
  free(s->pcm);
  free(s);
  free(hz[0].ch);
  free(hz[1].ch);
  espeak_Terminate();
  return 0;
}
