/* Phoneme -> viseme -> ARKit mouth targets with dominance-blended coarticulation, shared by
 * the training-data generator and the evaluation tool (docs/engine.md documents the tables). */
#ifndef AK_TRAIN_PHONES_H
#define AK_TRAIN_PHONES_H

#include <stddef.h>

/* Viseme ids: the 15 Oculus visemes in their order, then AK_VIS_UC, the compressed
 * (unrounded) close back vowel /ɯ/ of Japanese and others, which has no Oculus viseme: its
 * lips are drawn together without protrusion, not rounded like /u/. */
enum {
  AK_VIS_SIL,
  AK_VIS_PP,
  AK_VIS_FF,
  AK_VIS_TH,
  AK_VIS_DD,
  AK_VIS_KK,
  AK_VIS_CH,
  AK_VIS_SS,
  AK_VIS_NN,
  AK_VIS_RR,
  AK_VIS_AA,
  AK_VIS_E,
  AK_VIS_I,
  AK_VIS_O,
  AK_VIS_U,
  AK_VIS_UC,
  AK_VIS_COUNT
};

/* Evaluation classes. */
enum { AK_CLS_SIL, AK_CLS_BILABIAL, AK_CLS_ROUND, AK_CLS_SPREAD, AK_CLS_OTHER };

/* One timed phone (seconds) after parsing; a diphthong becomes two. */
typedef struct ak_phone {
  float start, end;
  int vis;
  int cls;
} ak_phone;

/* Parses one espeak phoneme string (IPA or espeak ASCII) into up to 2 (viseme, class,
 * fraction-of-duration) parts. Returns the count (0 for an empty string = pause). */
int ak_ph_parse(const char *ph, int vis[2], int cls[2], float frac[2]);

/* Phone sets of the other synthesizers' labels (tools/corpus): their phone names are
 * converted to IPA and then parsed as above. */
typedef enum ak_phset {
  AK_PHSET_IPA,     /* IPA or espeak ASCII, as ak_ph_parse takes it */
  AK_PHSET_SAMPA,   /* MBROLA voices (SAMPA per language, "_" = pause) */
  AK_PHSET_ARPABET, /* flite (CMU lowercase arpabet, "pau" = pause) */
  AK_PHSET_JTALK    /* Open JTalk / HTS Japanese (a i u e o N cl ... pau sil) */
} ak_phset;

/* Parses a set name ("ipa", "sampa", "arpabet", "jtalk"); -1 if unknown. */
int ak_phset_from_name(const char *name);

/* Converts one phone name of set to IPA in out (NUL-terminated, cap bytes). Returns 1 for a
 * sound, 0 for a pause (out = ""), -1 for a name the table does not know (out = ""). */
int ak_ph_to_ipa(int set, const char *name, char *out, size_t cap);

/* espeak-ng's event for a voiceless stop comes at the release, so its (digitally silent)
 * closure is labelled as the previous phone; MBROLA, flite and aligners put it in the stop.
 * Moves each voiceless stop's start (names[i]: the espeak phoneme of ph[i]) back over the
 * silent run before it, at most 150 ms and 80 % of the previous phone. pcm: n samples at fs,
 * on the same time axis as ph. */
void ak_ph_fix_closures(ak_phone *ph, const char (*names)[16], size_t nph, const float *pcm,
                        size_t n, int fs);

/* How far before the first phone (and after the last) the mouth is fully at rest. */
#define AK_PH_REST_LEAD 0.1f

/* Fills out[n_hops][AK__NT] with targets at hop centres (k + 0.5) * 10 ms. Where no phone
 * is near (leading and trailing silence, gaps), the targets are the rest pose. */
void ak_ph_targets(const ak_phone *ph, size_t n, size_t n_hops, float *out);

/* Jaw opening of a viseme (the "phone-derived opening curve" of the evaluation). */
float ak_ph_jaw(int vis);

const char *ak_vis_name(int vis);

#endif
