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

/* How far before the first phone (and after the last) the mouth is fully at rest. */
#define AK_PH_REST_LEAD 0.1f

/* Fills out[n_hops][AK__NT] with targets at hop centres (k + 0.5) * 10 ms. Where no phone
 * is near (leading and trailing silence, gaps), the targets are the rest pose. */
void ak_ph_targets(const ak_phone *ph, size_t n, size_t n_hops, float *out);

/* Jaw opening of a viseme (the "phone-derived opening curve" of the evaluation). */
float ak_ph_jaw(int vis);

const char *ak_vis_name(int vis);

#endif
