/* Phoneme strings to visemes, and visemes to per-hop ARKit mouth targets by dominance
 * blending (Cohen-Massaro style): each phone pulls each channel group toward its pose with a
 * strength that decays with distance from the phone's core; closures and rounding have their
 * own groups so that /p b m/ reach closed lips and rounding spreads ahead across consonants. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../../engine/engine_internal.h"
#include "phones.h"

static const char *const vis_names[AK_VIS_COUNT] = {
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U", "Uc"};

const char *ak_vis_name(int v) {
  return v >= 0 && v < AK_VIS_COUNT ? vis_names[v] : "?";
}

/* Poses: jaw, stretch, lowerDown, upperUp, smile, shrugLower, tongueOut | funnel, pucker |
 * closure (0..1), press, rollLower, rollUpper. */
typedef struct pose {
  float jaw, stretch, lower, upper, smile, shrug, tongue;
  float funnel, pucker;
  float closure, press, roll_lo, roll_up;
} pose;

static const pose poses[AK_VIS_COUNT] = {
    [AK_VIS_SIL] = {0},
    [AK_VIS_PP] = {.jaw = 0.05f,
                   .shrug = 0.15f,
                   .closure = 1.0f,
                   .press = 0.45f,
                   .roll_lo = 0.25f,
                   .roll_up = 0.15f},
    [AK_VIS_FF] = {.jaw = 0.08f, .upper = 0.25f, .roll_lo = 0.55f},
    [AK_VIS_TH] = {.jaw = 0.14f, .upper = 0.1f, .tongue = 0.4f},
    [AK_VIS_DD] = {.jaw = 0.16f, .stretch = 0.1f, .lower = 0.1f, .upper = 0.05f},
    [AK_VIS_KK] = {.jaw = 0.22f, .lower = 0.1f},
    [AK_VIS_CH] = {.jaw = 0.12f, .upper = 0.2f, .funnel = 0.55f, .pucker = 0.3f},
    [AK_VIS_SS] = {.jaw = 0.07f, .stretch = 0.3f, .upper = 0.1f, .smile = 0.1f},
    [AK_VIS_NN] = {.jaw = 0.14f, .stretch = 0.05f, .lower = 0.05f},
    [AK_VIS_RR] = {.jaw = 0.16f, .funnel = 0.3f, .pucker = 0.45f},
    [AK_VIS_AA] = {.jaw = 0.7f, .lower = 0.35f, .upper = 0.15f, .stretch = 0.05f},
    [AK_VIS_E] = {.jaw = 0.42f, .stretch = 0.25f, .lower = 0.25f, .upper = 0.1f},
    [AK_VIS_I] = {.jaw = 0.2f, .stretch = 0.45f, .smile = 0.25f, .upper = 0.1f},
    [AK_VIS_O] = {.jaw = 0.45f, .lower = 0.1f, .funnel = 0.7f, .pucker = 0.35f},
    [AK_VIS_U] = {.jaw = 0.18f, .funnel = 0.4f, .pucker = 0.8f},
    [AK_VIS_UC] = {.jaw = 0.16f, .stretch = 0.05f, .funnel = 0.1f, .pucker = 0.3f},
};

float ak_ph_jaw(int v) {
  return v >= 0 && v < AK_VIS_COUNT ? poses[v].jaw : 0.0f;
}

/* Dominance strength and spread (s) per group: jaw group, rounding group, closure group. */
typedef struct dom {
  float a_jaw, t_jaw, a_round, t_round, a_close, t_close;
} dom;

static dom dominance(int v) {
  switch (v) {
    case AK_VIS_SIL:
      return (dom){1.0f, 0.05f, 1.0f, 0.05f, 1.0f, 0.05f};
    case AK_VIS_PP:
      return (dom){3.0f, 0.03f, 0.1f, 0.04f, 4.0f, 0.015f};
    case AK_VIS_FF:
      return (dom){2.0f, 0.03f, 0.1f, 0.04f, 10.0f, 0.03f};
    case AK_VIS_CH:
    case AK_VIS_RR:
      return (dom){1.0f, 0.04f, 3.0f, 0.06f, 0.5f, 0.03f};
    case AK_VIS_O:
    case AK_VIS_U:
      return (dom){1.0f, 0.06f, 3.0f, 0.07f, 0.5f, 0.04f};
    case AK_VIS_AA:
    case AK_VIS_E:
    case AK_VIS_I:
    case AK_VIS_UC:
      return (dom){1.0f, 0.06f, 3.0f, 0.05f, 0.5f, 0.04f};
    default:
      return (dom){0.6f, 0.04f, 0.1f, 0.04f, 0.5f, 0.03f};
  }
}

/* Decodes one UTF-8 code point; returns bytes used (>= 1). */
static int utf8(const unsigned char *s, uint32_t *cp) {
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  if ((s[0] & 0xE0) == 0xC0 && s[1]) {
    *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    return 2;
  }
  if ((s[0] & 0xF0) == 0xE0 && s[1] && s[2]) {
    *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    return 3;
  }
  *cp = 0xFFFD;
  return 1;
}

/* Viseme of one base symbol, -1 for marks to skip. */
static int base_vis(uint32_t c, int *vowel) {
  *vowel = 0;
  switch (c) {
    case 'p':
    case 'b':
    case 'm':
    case 0x253: /* ɓ */
      return AK_VIS_PP;
    case 'f':
    case 'v':
    case 0x271: /* ɱ */
    case 0x28B: /* ʋ */
    case 0x278: /* ɸ */
    case 0x3B2: /* β */
      return AK_VIS_FF;
    case 0x3B8: /* θ */
    case 0xF0:  /* ð */
      return AK_VIS_TH;
    case 't':
    case 'd':
    case 0x288:
    case 0x256:
    case 0x257: /* ʈ ɖ ɗ */
      return AK_VIS_DD;
    case 'n':
    case 'l':
    case 0x273:
    case 0x26D:
    case 0x27E:
    case 0x26B:
    case 0x28E:
    case 0x27A:
      /* ɳ ɭ ɾ ɫ ʎ ɺ */ return AK_VIS_NN;
    case 'k':
    case 'g':
    case 0x261:
    case 'q':
    case 'x':
    case 'h':
    case 'c':
    case 0x14B:
    case 0x263:
    case 0x266:
    case 0x294:
    case 0x3C7:
    case 0x281:
    case 0x25F:
    case 0x272:
    case 0xE7:
    case 0x29D:
    case 0x262:
    case 0x127:
      /* ɡ ŋ ɣ ɦ ʔ χ ʁ ɟ ɲ ç ʝ ɢ ħ */ return AK_VIS_KK;
    case 0x283:
    case 0x292:
    case 0x255:
    case 0x291:
    case 0x282:
    case 0x290:
      /* ʃ ʒ ɕ ʑ ʂ ʐ */ return AK_VIS_CH;
    case 's':
    case 'z':
      return AK_VIS_SS;
    case 'r':
    case 0x279:
    case 0x27B:
    case 0x280:
    case 'R': /* ɹ ɻ ʀ */
      return AK_VIS_RR;
    case 'j':
      *vowel = 1;
      return AK_VIS_I;
    case 'w':
    case 0x265: /* ɥ */
      *vowel = 1;
      return AK_VIS_U;
    case 0xE4:
    case 0xE0:
    case 0xE2:
    case 0xE3:
      *vowel = 1;
      return AK_VIS_AA;
    case 0xE9:
    case 0xE8:
    case 0xEA:
    case 0xEB:
    case 0x1EBD:
      *vowel = 1;
      return AK_VIS_E;
    case 0xEE:
    case 0xEF:
    case 0x129:
    case 0x2B2:
      *vowel = 1;
      return AK_VIS_I;
    case 0xF6:
    case 0xF4:
    case 0xF5:
      *vowel = 1;
      return AK_VIS_O;
    case 0xFC:
    case 0xF9:
    case 0xFB:
    case 0x169:
      *vowel = 1;
      return AK_VIS_U;
    case 0x27D:
      return AK_VIS_NN;
    case 'a':
    case 'A':
    case 0x251:
    case 0x250:
    case 0xE6:
    case 0x28C:
    case 0x252:
      /* ɑ ɐ æ ʌ ɒ */ *vowel = 1;
      return c == 0x252 ? AK_VIS_O : AK_VIS_AA;
    case 'e':
    case 'E':
    case '@':
    case 0x25B:
    case 0x259:
    case 0x25C:
    case 0x258:
    case 0x25A:
    case 0x25D:
    case 0x1D7B:
    case 0x264:
    case 'V': /* ɛ ə ɜ ɘ ɚ ɝ ᵻ ɤ */
      *vowel = 1;
      return AK_VIS_E;
    case 'i':
    case 'I':
    case 0x26A:
    case 0x268: /* ɪ ɨ */
      *vowel = 1;
      return AK_VIS_I;
    case 'o':
    case 'O':
    case 0x254:
    case 0xF8:
    case 0x153:
    case 0x275:
    case 0x276:
      /* ɔ ø œ ɵ ɶ */ *vowel = 1;
      return AK_VIS_O;
    case 'u':
    case 'U':
    case 0x28A:
    case 'y':
    case 'Y':
    case 0x28F:
      /* ʊ ʏ */ *vowel = 1;
      return AK_VIS_U;
    case 0x26F: /* ɯ */
      *vowel = 1;
      return AK_VIS_UC;
    default:
      return -1;
  }
}

static int cls_of(uint32_t c, int vis) {
  if (c == 'p' || c == 'b' || c == 'm') return AK_CLS_BILABIAL;
  if (c == 'u' || c == 0x28A || c == 'o' || c == 'w') return AK_CLS_ROUND; /* /uw ow w/ */
  if (c == 'i' || c == 0x26A || c == 0xE6 || c == 'e' || c == 0x25B)
    return AK_CLS_SPREAD; /* /iy ih ae eh/ */
  return vis == AK_VIS_SIL ? AK_CLS_SIL : AK_CLS_OTHER;
}

int ak_ph_parse(const char *ph, int vis[2], int cls[2], float frac[2]) {
  uint32_t cps[8];
  int v[8], isv[8], n = 0;
  const unsigned char *s = (const unsigned char *)ph;
  if (*s == '(') return 0; /* "(en)": a language-switch marker, not a sound */
  while (*s && n < 8) {
    uint32_t c;
    s += utf8(s, &c);
    int vw, b = base_vis(c, &vw);
    if (b < 0) continue;
    cps[n] = c;
    v[n] = b;
    isv[n] = vw;
    n++;
  }
  if (n == 0) return 0;
  /* Affricates are one gesture. */
  if (n >= 2 && !isv[0] && !isv[1] && (cps[0] == 't' || cps[0] == 'd' || cps[0] == 0x288)) {
    if (v[1] == AK_VIS_CH || v[1] == AK_VIS_SS) {
      vis[0] = v[1];
      cls[0] = AK_CLS_OTHER;
      frac[0] = 1.0f;
      return 1;
    }
  }
  vis[0] = v[0];
  cls[0] = cls_of(cps[0], v[0]);
  frac[0] = 1.0f;
  if (n >= 2 && isv[0] && isv[1] && v[1] != v[0]) { /* diphthong: two targets */
    vis[1] = v[1];
    cls[1] = AK_CLS_OTHER;
    cls[0] = cps[0] == 'o' && cps[1] == 0x28A ? AK_CLS_ROUND : AK_CLS_OTHER; /* oʊ = /ow/ */
    frac[0] = 0.55f;
    frac[1] = 0.45f;
    return 2;
  }
  if (n >= 2 && isv[0] && isv[1]) cls[0] = cls_of(cps[0], v[0]);
  return 1;
}

/* Dominance of a gesture whose core (full strength) is [core0, core1]; it falls off with
 * distance d (in units of tau, scaled by antic before the core) as exp(-d^1.5). */
static float dom_core(float t, float core0, float core1, float a, float tau, float antic) {
  float d;
  if (t < core0)
    d = (core0 - t) / (tau * antic);
  else if (t > core1)
    d = (t - core1) / tau;
  else
    d = 0.0f;
  if (d > 8.0f) return 0.0f;
  return a * expf(-powf(d, 1.5f));
}

/* A phone's core is the middle half of its duration. */
static float dom_at(float t, const ak_phone *p, float a, float tau, float antic) {
  float len = p->end - p->start;
  return dom_core(t, p->start + 0.25f * len, p->end - 0.25f * len, a, tau, antic);
}

/* Running dominance-weighted sums for one hop. */
typedef struct blend {
  float wj, wr, wc;
  float jaw, stretch, lower, upper, smile, shrug, tongue;
  float funnel, pucker, closure, press, rlo, rup;
} blend;

/* Adds the pose of viseme vis with the three group dominances aj, ar, ac. */
static void blend_add(blend *b, int vis, float aj, float ar, float ac) {
  const pose *q = &poses[vis];
  b->wj += aj;
  b->jaw += aj * q->jaw;
  b->stretch += aj * q->stretch;
  b->lower += aj * q->lower;
  b->upper += aj * q->upper;
  b->smile += aj * q->smile;
  b->shrug += aj * q->shrug;
  b->tongue += aj * q->tongue;
  b->wr += ar;
  b->funnel += ar * q->funnel;
  b->pucker += ar * q->pucker;
  b->wc += ac;
  b->closure += ac * q->closure;
  b->press += ac * q->press;
  b->rlo += ac * q->roll_lo;
  b->rup += ac * q->roll_up;
}

/* Rest (the silence pose) where no phone is: before the first phone, after the last and in
 * any gap between phones. Without it the normalised blend would stretch the nearest phone's
 * pose over the whole silence (the mouth would open long before speech starts). */
static void blend_rest(blend *b, float t, float core0, float core1) {
  dom d = dominance(AK_VIS_SIL);
  blend_add(b, AK_VIS_SIL, dom_core(t, core0, core1, d.a_jaw, d.t_jaw, 1.0f),
            dom_core(t, core0, core1, d.a_round, d.t_round, 1.0f),
            dom_core(t, core0, core1, d.a_close, d.t_close, 1.0f));
}

void ak_ph_targets(const ak_phone *ph, size_t n, size_t n_hops, float *out) {
  size_t first = 0;
  for (size_t k = 0; k < n_hops; k++) {
    float t = ((float)k + 0.5f) * 0.01f;
    float *o = out + k * AK__NT;
    memset(o, 0, AK__NT * sizeof *o);
    if (n == 0) continue; /* nothing said: rest */
    blend b;
    memset(&b, 0, sizeof b);
    int voice = 0;
    /* Leading and trailing silence rest fully until AK_PH_REST_LEAD before the first phone
     * and from AK_PH_REST_LEAD after the last one (like the core of a long pause). */
    blend_rest(&b, t, -1e9f, ph[0].start - AK_PH_REST_LEAD);
    blend_rest(&b, t, ph[n - 1].end + AK_PH_REST_LEAD, 1e9f);
    while (first < n && ph[first].end < t - 0.5f) first++;
    for (size_t i = first; i < n && ph[i].start < t + 0.5f; i++) {
      const ak_phone *p = &ph[i];
      dom d = dominance(p->vis);
      if (p->vis != AK_VIS_SIL && t >= p->start - 0.02f && t < p->end + 0.02f) voice = 1;
      blend_add(&b, p->vis, dom_at(t, p, d.a_jaw, d.t_jaw, 1.0f),
                dom_at(t, p, d.a_round, d.t_round, 1.3f), /* rounding is anticipated */
                dom_at(t, p, d.a_close, d.t_close, 1.2f));
      float gap = i + 1 < n ? ph[i + 1].start - p->end : 0.0f;
      if (gap > 0.001f) /* an unmarked gap rests like a pause phone there (middle half) */
        blend_rest(&b, t, p->end + 0.25f * gap, ph[i + 1].start - 0.25f * gap);
    }
    if (b.wj > 1e-6f) {
      o[AK__T_JAW] = b.jaw / b.wj;
      o[AK__T_STRETCH] = b.stretch / b.wj;
      o[AK__T_LOWER] = b.lower / b.wj;
      o[AK__T_UPPER] = b.upper / b.wj;
      o[AK__T_SMILE] = b.smile / b.wj;
      o[AK__T_SHRUG_LO] = b.shrug / b.wj;
      o[AK__T_TONGUE] = b.tongue / b.wj;
    }
    if (b.wr > 1e-6f) {
      o[AK__T_FUNNEL] = b.funnel / b.wr;
      o[AK__T_PUCKER] = b.pucker / b.wr;
    }
    if (b.wc > 1e-6f) {
      float c = b.closure / b.wc;
      o[AK__T_CLOSE] = c * o[AK__T_JAW]; /* lips meet while the jaw stays slightly open */
      o[AK__T_PRESS] = b.press / b.wc;
      o[AK__T_ROLL_LO] = b.rlo / b.wc;
      o[AK__T_ROLL_UP] = b.rup / b.wc;
    }
    o[AK__T_VOICE] = (float)voice;
  }
}

/* ---- other synthesizers' phone sets ---- */

int ak_phset_from_name(const char *name) {
  if (!strcmp(name, "ipa")) return AK_PHSET_IPA;
  if (!strcmp(name, "sampa")) return AK_PHSET_SAMPA;
  if (!strcmp(name, "arpabet")) return AK_PHSET_ARPABET;
  if (!strcmp(name, "jtalk")) return AK_PHSET_JTALK;
  return -1;
}

typedef struct ph_map {
  const char *from, *to;
} ph_map;

/* SAMPA symbols (longest match first within the scan) to IPA. Length and nasality marks are
 * dropped: they do not change the mouth shape class. espeak-ng's tables for MBROLA mx1, mx2
 * and vz1 write the palatal lateral l^ and a stressed vowel with * (vz1: a* e* o*); Czech
 * (cz2) the voiced h as h\ (backslash). */
static const ph_map sampa_map[] = {
    {"tS", "t\xca\x83"}, {"dZ", "d\xca\x92"}, {"ts", "ts"},       {"dz", "dz"},
    {"pf", "pf"},        {"rr", "r"},         {"jj", "\xca\x9d"}, {"gj", "\xc9\x9f"},
    {"{", "\xc3\xa6"},   {"@", "\xc9\x99"},   {"V", "\xca\x8c"},  {"Q", "\xc9\x92"},
    {"A", "\xc9\x91"},   {"O", "\xc9\x94"},   {"E", "\xc9\x9b"},  {"I", "\xc9\xaa"},
    {"U", "\xca\x8a"},   {"Y", "\xca\x8f"},   {"2", "\xc3\xb8"},  {"9", "\xc5\x93"},
    {"6", "\xc9\x90"},   {"3", "\xc9\x9c"},   {"N", "\xc5\x8b"},  {"J", "\xc9\xb2"},
    {"S", "\xca\x83"},   {"Z", "\xca\x92"},   {"T", "\xce\xb8"},  {"D", "\xc3\xb0"},
    {"R", "\xca\x81"},   {"H", "\xc9\xa5"},   {"L", "\xca\x8e"},  {"C", "\xc3\xa7"},
    {"B", "\xce\xb2"},   {"G", "\xc9\xa3"},   {"?", "\xca\x94"},  {"4", "\xc9\xbe"},
    {"h\\", "\xc9\xa6"}, {"r\\", "\xc9\xb9"}, {"M", "\xc9\xaf"},  {"1", "\xc9\xa8"},
    {"8", "\xc9\xb5"},   {"&", "\xc9\xb6"},   {"}", "\xca\x89"},  {"P", "\xca\x8b"},
    {"X", "\xcf\x87"},   {"K", "\xca\x8e"},   {"F", "\xc9\xb1"},  {"5", "\xc9\xab"},
    {"l^", "\xca\x8e"},  {"_h", ""},          {"_0", ""},         {"/", ""},
    {":", ""},           {"~", ""},           {"'", ""},          {"\"", ""},
    {"%", ""},           {"=", ""},           {"`", ""},          {"*", ""},
};

static const ph_map arpabet_map[] = {
    {"aa", "\xc9\x91"},  {"ae", "\xc3\xa6"},  {"ah", "\xca\x8c"},  {"ao", "\xc9\x94"},
    {"aw", "a\xca\x8a"}, {"ax", "\xc9\x99"},  {"axr", "\xc9\x9a"}, {"ay", "a\xc9\xaa"},
    {"eh", "\xc9\x9b"},  {"er", "\xc9\x9d"},  {"ey", "e\xc9\xaa"}, {"ih", "\xc9\xaa"},
    {"ix", "\xc9\xa8"},  {"iy", "i"},         {"ow", "o\xca\x8a"}, {"oy", "\xc9\x94\xc9\xaa"},
    {"uh", "\xca\x8a"},  {"uw", "u"},         {"b", "b"},          {"ch", "t\xca\x83"},
    {"d", "d"},          {"dh", "\xc3\xb0"},  {"dx", "\xc9\xbe"},  {"el", "l"},
    {"em", "m"},         {"en", "n"},         {"f", "f"},          {"g", "g"},
    {"hh", "h"},         {"jh", "d\xca\x92"}, {"k", "k"},          {"l", "l"},
    {"m", "m"},          {"n", "n"},          {"ng", "\xc5\x8b"},  {"nx", "\xc5\x8b"},
    {"p", "p"},          {"r", "\xc9\xb9"},   {"s", "s"},          {"sh", "\xca\x83"},
    {"t", "t"},          {"th", "\xce\xb8"},  {"v", "v"},          {"w", "w"},
    {"y", "j"},          {"z", "z"},          {"zh", "\xca\x92"},  {"pau", ""},
    {"h#", ""},          {"sil", ""},
};

/* Open JTalk: capitals are devoiced vowels (same mouth shape); "cl" is a geminate closure
 * whose shape the caller takes from the next phone. */
static const ph_map jtalk_map[] = {
    {"a", "a"},          {"i", "i"},         {"u", "\xc9\xaf"},  {"e", "e"},
    {"o", "o"},          {"A", "a"},         {"I", "i"},         {"U", "\xc9\xaf"},
    {"E", "e"},          {"O", "o"},         {"N", "n"},         {"k", "k"},
    {"g", "g"},          {"s", "s"},         {"z", "z"},         {"t", "t"},
    {"d", "d"},          {"n", "n"},         {"h", "h"},         {"b", "b"},
    {"p", "p"},          {"m", "m"},         {"y", "j"},         {"r", "\xc9\xbe"},
    {"w", "w"},          {"f", "\xc9\xb8"},  {"v", "v"},         {"ts", "ts"},
    {"ch", "t\xc9\x95"}, {"sh", "\xc9\x95"}, {"j", "d\xca\x91"}, {"ky", "k"},
    {"gy", "g"},         {"ny", "\xc9\xb2"}, {"hy", "\xc3\xa7"}, {"by", "b"},
    {"py", "p"},         {"my", "m"},        {"ry", "\xc9\xbe"}, {"dy", "d"},
    {"ty", "t"},         {"cl", "\xca\x94"}, {"pau", ""},        {"sil", ""},
};

static int map_exact(const ph_map *m, size_t n, const char *name, char *out, size_t cap) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(m[i].from, name)) {
      size_t l = strlen(m[i].to);
      if (l + 1 > cap) return -1;
      memcpy(out, m[i].to, l + 1);
      return l ? 1 : 0;
    }
  return -1;
}

int ak_ph_to_ipa(int set, const char *name, char *out, size_t cap) {
  if (cap == 0) return -1;
  out[0] = 0;
  if (set == AK_PHSET_ARPABET)
    return map_exact(arpabet_map, sizeof arpabet_map / sizeof *arpabet_map, name, out, cap);
  if (set == AK_PHSET_JTALK)
    return map_exact(jtalk_map, sizeof jtalk_map / sizeof *jtalk_map, name, out, cap);
  if (set == AK_PHSET_IPA) {
    size_t l = strlen(name);
    if (l + 1 > cap) return -1;
    memcpy(out, name, l + 1);
    return l ? 1 : 0;
  }
  if (set != AK_PHSET_SAMPA) return -1;
  if (!name[0] || !strcmp(name, "_") || !strcmp(name, "#")) return 0;
  size_t o = 0;
  /* A glottal onset before a vowel ("?e:") is not its mouth shape. */
  if (name[0] == '?' && name[1]) name++;
  for (const char *s = name; *s;) {
    /* Digits after the first symbol are stress or variant marks of some voices (it3 "a1",
     * es3 "R2"), not the SAMPA vowels 1 2 3 6 8 9. */
    if (s != name && *s >= '0' && *s <= '9') {
      s++;
      continue;
    }
    const ph_map *best = NULL;
    size_t bl = 0;
    for (size_t i = 0; i < sizeof sampa_map / sizeof *sampa_map; i++) {
      size_t l = strlen(sampa_map[i].from);
      if (l > bl && !strncmp(s, sampa_map[i].from, l)) {
        best = &sampa_map[i];
        bl = l;
      }
    }
    const char *to;
    char one[2] = {0, 0};
    if (best) {
      to = best->to;
      s += bl;
    } else {
      unsigned char c = (unsigned char)*s;
      /* Plain lowercase letters are the same in SAMPA and IPA (except g, which is). */
      if (!((c >= 'a' && c <= 'z'))) {
        out[0] = 0;
        return -1;
      }
      one[0] = (char)c;
      to = one;
      s++;
    }
    size_t l = strlen(to);
    if (o + l + 1 > cap) {
      out[0] = 0;
      return -1;
    }
    memcpy(out + o, to, l);
    o += l;
  }
  out[o] = 0;
  return o ? 1 : 0;
}

/* ---- espeak label hygiene ---- */

/* A voiceless stop (or affricate starting with one): its closure belongs to it. */
static int voiceless_stop(const char *ph) {
  const unsigned char *s = (const unsigned char *)ph;
  uint32_t c = s[0];
  if (c == 'p' || c == 't' || c == 'k' || c == 'c' || c == 'q') return 1;
  if (s[0] == 0xCA && s[1] == 0x88) return 1; /* ʈ */
  return 0;
}

/* espeak-ng's event for a voiceless stop comes at the release, so its (digitally silent)
 * closure was labelled as the previous phone. Moves each such boundary back over the silent
 * run before it (at most 150 ms and 80 % of the previous phone); pcm is at rate fs. */
void ak_ph_fix_closures(ak_phone *ph, const char (*names)[16], size_t nph, const float *pcm,
                        size_t n, int fs) {
  for (size_t i = 1; i < nph; i++) {
    if (!voiceless_stop(names[i])) continue;
    long b = (long)(ph[i].start * (float)fs);
    if (b <= 0 || b > (long)n) continue;
    long lim = (long)((ph[i - 1].end - ph[i - 1].start) * 0.8f * (float)fs);
    if (lim > (long)(0.15f * (float)fs)) lim = (long)(0.15f * (float)fs);
    long k = 0;
    while (k < lim && b - k - 1 >= 0 && fabsf(pcm[b - k - 1]) < 1e-3f) k++;
    if (k < fs / 100) continue; /* under 10 ms: no closure to move */
    float t = ph[i].start - (float)k / (float)fs;
    ph[i - 1].end = t;
    ph[i].start = t;
  }
}
