/* The corpus label conventions (tools/train/phones.c): other synthesizers' phone names
 * (MBROLA SAMPA, flite arpabet, Open JTalk) reach the right viseme and class, pauses stay
 * pauses, unknown names are reported, and espeak-ng's voiceless-stop closures move into the
 * stop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/train/phones.h"

static int fails;
#define CHECK(c, ...)                                      \
  do {                                                     \
    if (!(c)) {                                            \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, "\n");                               \
      fails++;                                             \
    }                                                      \
  } while (0)

/* Converts and parses; returns the part count (-1 unknown, 0 pause). */
static int conv(int set, const char *name, int vis[2], int cls[2]) {
  char ipa[64];
  float frac[2];
  int k = ak_ph_to_ipa(set, name, ipa, sizeof ipa);
  if (k <= 0) return k;
  return ak_ph_parse(ipa, vis, cls, frac);
}

typedef struct want {
  int set;
  const char *name;
  int parts, vis, cls; /* first part */
} want;

static void test_sets(void) {
  static const want w[] = {
      /* MBROLA SAMPA */
      {AK_PHSET_SAMPA, "p", 1, AK_VIS_PP, AK_CLS_BILABIAL},
      {AK_PHSET_SAMPA, "p_h", 1, AK_VIS_PP, AK_CLS_BILABIAL},
      {AK_PHSET_SAMPA, "b", 1, AK_VIS_PP, AK_CLS_BILABIAL},
      {AK_PHSET_SAMPA, "m", 1, AK_VIS_PP, AK_CLS_BILABIAL},
      {AK_PHSET_SAMPA, "pf", 1, AK_VIS_PP, AK_CLS_BILABIAL},
      {AK_PHSET_SAMPA, "u:", 1, AK_VIS_U, AK_CLS_ROUND},
      {AK_PHSET_SAMPA, "u1", 1, AK_VIS_U, AK_CLS_ROUND},  /* it3 stress digit */
      {AK_PHSET_SAMPA, "a1", 1, AK_VIS_AA, AK_CLS_OTHER}, /* not a diphthong a-ɨ */
      {AK_PHSET_SAMPA, "i:", 1, AK_VIS_I, AK_CLS_SPREAD},
      {AK_PHSET_SAMPA, "{", 1, AK_VIS_AA, AK_CLS_SPREAD},
      {AK_PHSET_SAMPA, "E", 1, AK_VIS_E, AK_CLS_SPREAD},
      {AK_PHSET_SAMPA, "@U", 2, AK_VIS_E, AK_CLS_OTHER},
      {AK_PHSET_SAMPA, "O", 1, AK_VIS_O, AK_CLS_OTHER},
      {AK_PHSET_SAMPA, "2:", 1, AK_VIS_O, AK_CLS_OTHER},
      {AK_PHSET_SAMPA, "y:", 1, AK_VIS_U, AK_CLS_OTHER},
      {AK_PHSET_SAMPA, "S", 1, AK_VIS_CH, AK_CLS_OTHER},
      {AK_PHSET_SAMPA, "tS", 1, AK_VIS_CH, AK_CLS_OTHER},
      {AK_PHSET_SAMPA, "T", 1, AK_VIS_TH, AK_CLS_OTHER},
      {AK_PHSET_SAMPA, "f", 1, AK_VIS_FF, AK_CLS_OTHER},
      {AK_PHSET_SAMPA, "F", 1, AK_VIS_FF, AK_CLS_OTHER}, /* Italian ɱ */
      {AK_PHSET_SAMPA, "N", 1, AK_VIS_KK, AK_CLS_OTHER},
      {AK_PHSET_SAMPA, "R", 1, AK_VIS_KK, AK_CLS_OTHER}, /* ʁ, not espeak's R */
      {AK_PHSET_SAMPA, "?e:", 1, AK_VIS_E, AK_CLS_SPREAD},
      {AK_PHSET_SAMPA, "a~", 1, AK_VIS_AA, AK_CLS_OTHER},
      {AK_PHSET_SAMPA, "_", 0, 0, 0},
      {AK_PHSET_SAMPA, "!!", -1, 0, 0},
      /* flite */
      {AK_PHSET_ARPABET, "m", 1, AK_VIS_PP, AK_CLS_BILABIAL},
      {AK_PHSET_ARPABET, "em", 1, AK_VIS_PP, AK_CLS_BILABIAL},
      {AK_PHSET_ARPABET, "uw", 1, AK_VIS_U, AK_CLS_ROUND},
      {AK_PHSET_ARPABET, "ow", 2, AK_VIS_O, AK_CLS_ROUND},
      {AK_PHSET_ARPABET, "iy", 1, AK_VIS_I, AK_CLS_SPREAD},
      {AK_PHSET_ARPABET, "ae", 1, AK_VIS_AA, AK_CLS_SPREAD},
      {AK_PHSET_ARPABET, "y", 1, AK_VIS_I, AK_CLS_OTHER},
      {AK_PHSET_ARPABET, "hh", 1, AK_VIS_KK, AK_CLS_OTHER},
      {AK_PHSET_ARPABET, "pau", 0, 0, 0},
      {AK_PHSET_ARPABET, "qq", -1, 0, 0},
      /* Open JTalk */
      {AK_PHSET_JTALK, "u", 1, AK_VIS_UC, AK_CLS_OTHER},
      {AK_PHSET_JTALK, "U", 1, AK_VIS_UC, AK_CLS_OTHER}, /* devoiced, not ʊ */
      {AK_PHSET_JTALK, "o", 1, AK_VIS_O, AK_CLS_ROUND},
      {AK_PHSET_JTALK, "b", 1, AK_VIS_PP, AK_CLS_BILABIAL},
      {AK_PHSET_JTALK, "my", 1, AK_VIS_PP, AK_CLS_BILABIAL},
      {AK_PHSET_JTALK, "f", 1, AK_VIS_FF, AK_CLS_OTHER},
      {AK_PHSET_JTALK, "sh", 1, AK_VIS_CH, AK_CLS_OTHER},
      {AK_PHSET_JTALK, "N", 1, AK_VIS_NN, AK_CLS_OTHER},
      {AK_PHSET_JTALK, "pau", 0, 0, 0},
      {AK_PHSET_JTALK, "sil", 0, 0, 0},
      {AK_PHSET_JTALK, "xx", -1, 0, 0},
      /* IPA passes through */
      {AK_PHSET_IPA, "m", 1, AK_VIS_PP, AK_CLS_BILABIAL},
      {AK_PHSET_IPA, "", 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof w / sizeof *w; i++) {
    int vis[2] = {-1, -1}, cls[2] = {-1, -1};
    int k = conv(w[i].set, w[i].name, vis, cls);
    CHECK(k == w[i].parts, "set %d '%s': %d parts, want %d", w[i].set, w[i].name, k, w[i].parts);
    if (k > 0 && w[i].parts > 0) {
      CHECK(vis[0] == w[i].vis, "set %d '%s': viseme %s, want %s", w[i].set, w[i].name,
            ak_vis_name(vis[0]), ak_vis_name(w[i].vis));
      CHECK(cls[0] == w[i].cls, "set %d '%s': class %d, want %d", w[i].set, w[i].name, cls[0],
            w[i].cls);
    }
  }
  /* espeak-ng's tables for MBROLA mx1, mx2 and vz1: the palatal lateral l^ is L (ʎ) and a
   * stressed vowel's * mark (vz1) leaves the vowel's own shape; cz2's h\ is a voiced h. */
  static const char *const same[][2] = {{"l^", "L"},
                                        {"a*", "a"},
                                        {"o*", "o"},
                                        {"u*", "u"},
                                        /* Czech (cz2): the voiced h, as h */
                                        {"h\\", "h"}};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    int va[2] = {-1, -1}, ca[2] = {-1, -1}, vb[2] = {-1, -1}, cb[2] = {-1, -1};
    int ka = conv(AK_PHSET_SAMPA, same[i][0], va, ca);
    int kb = conv(AK_PHSET_SAMPA, same[i][1], vb, cb);
    CHECK(ka == 1 && kb == 1 && va[0] == vb[0] && ca[0] == cb[0], "'%s' as '%s': %d %s, %d %s",
          same[i][0], same[i][1], ka, ak_vis_name(va[0]), kb, ak_vis_name(vb[0]));
  }
  CHECK(ak_phset_from_name("sampa") == AK_PHSET_SAMPA, "sampa");
  CHECK(ak_phset_from_name("jtalk") == AK_PHSET_JTALK, "jtalk");
  CHECK(ak_phset_from_name("bogus") == -1, "bogus set");
  char small[2];
  CHECK(ak_ph_to_ipa(AK_PHSET_SAMPA, "tS", small, sizeof small) == -1 && small[0] == 0,
        "too small output buffer is refused");
}

/* espeak-ng: vowel [0.0, 0.2) then /t/ whose event (release) is at 0.2 s; the audio is
 * silent over [0.14, 0.2): the closure. After the fix the /t/ starts at 0.14. A /b/ (voiced)
 * and a /k/ with no silence before it stay where they are; a closure longer than 150 ms is
 * capped. */
static void test_closures(void) {
  const int fs = 22050;
  size_t n = (size_t)fs;
  float *pcm = malloc(n * sizeof *pcm);
  for (size_t i = 0; i < n; i++) pcm[i] = 0.3f * sinf(0.07f * (float)i);
  for (size_t i = (size_t)(0.14 * fs); i < (size_t)(0.2 * fs); i++) pcm[i] = 0.0f;
  for (size_t i = (size_t)(0.40 * fs); i < (size_t)(0.45 * fs); i++) pcm[i] = 0.0f;
  for (size_t i = (size_t)(0.55 * fs); i < (size_t)(0.80 * fs); i++) pcm[i] = 0.0f;
  ak_phone ph[] = {
      {0.00f, 0.20f, AK_VIS_AA, AK_CLS_OTHER},    {0.20f, 0.30f, AK_VIS_DD, AK_CLS_OTHER},
      {0.30f, 0.45f, AK_VIS_AA, AK_CLS_OTHER},    {0.45f, 0.50f, AK_VIS_PP, AK_CLS_BILABIAL},
      {0.50f, 0.52f, AK_VIS_KK, AK_CLS_OTHER},    {0.52f, 0.80f, AK_VIS_SIL, AK_CLS_SIL},
      {0.80f, 0.90f, AK_VIS_PP, AK_CLS_BILABIAL},
  };
  static const char names[][16] = {"a", "t", "a", "b", "k", "", "p"};
  ak_ph_fix_closures(ph, names, 7, pcm, n, fs);
  CHECK(fabsf(ph[1].start - 0.14f) < 0.002f, "t starts at %.3f, want 0.14", ph[1].start);
  CHECK(ph[0].end == ph[1].start, "vowel ends where the stop starts");
  CHECK(fabsf(ph[3].start - 0.45f) < 1e-6f, "voiced b unchanged (%.3f)", ph[3].start);
  CHECK(fabsf(ph[4].start - 0.50f) < 1e-6f, "k without closure unchanged (%.3f)", ph[4].start);
  /* p after a 250 ms pause: at most 150 ms (and 80 % of the pause) move. */
  CHECK(fabsf(ph[6].start - 0.65f) < 0.002f, "p after a pause starts at %.3f, want 0.65",
        ph[6].start);
  free(pcm);
}

int main(void) {
  test_sets();
  test_closures();
  if (fails) {
    fprintf(stderr, "%d failure(s)\n", fails);
    return 1;
  }
  printf("corpus labels: ok\n");
  return 0;
}
