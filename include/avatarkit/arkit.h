/* The 52 ARKit blendshape channels in their canonical index order (ARKIT.md). */
#ifndef AVATARKIT_ARKIT_H
#define AVATARKIT_ARKIT_H

#ifdef __cplusplus
extern "C" {
#endif

#define AK_BLENDSHAPE_COUNT 52

typedef enum ak_blendshape {
  AK_EYE_BLINK_LEFT = 0,
  AK_EYE_LOOK_DOWN_LEFT,
  AK_EYE_LOOK_IN_LEFT,
  AK_EYE_LOOK_OUT_LEFT,
  AK_EYE_LOOK_UP_LEFT,
  AK_EYE_SQUINT_LEFT,
  AK_EYE_WIDE_LEFT,
  AK_EYE_BLINK_RIGHT,
  AK_EYE_LOOK_DOWN_RIGHT,
  AK_EYE_LOOK_IN_RIGHT,
  AK_EYE_LOOK_OUT_RIGHT,
  AK_EYE_LOOK_UP_RIGHT,
  AK_EYE_SQUINT_RIGHT,
  AK_EYE_WIDE_RIGHT,
  AK_JAW_FORWARD,
  AK_JAW_LEFT,
  AK_JAW_RIGHT,
  AK_JAW_OPEN,
  AK_MOUTH_CLOSE,
  AK_MOUTH_FUNNEL,
  AK_MOUTH_PUCKER,
  AK_MOUTH_LEFT,
  AK_MOUTH_RIGHT,
  AK_MOUTH_SMILE_LEFT,
  AK_MOUTH_SMILE_RIGHT,
  AK_MOUTH_FROWN_LEFT,
  AK_MOUTH_FROWN_RIGHT,
  AK_MOUTH_DIMPLE_LEFT,
  AK_MOUTH_DIMPLE_RIGHT,
  AK_MOUTH_STRETCH_LEFT,
  AK_MOUTH_STRETCH_RIGHT,
  AK_MOUTH_ROLL_LOWER,
  AK_MOUTH_ROLL_UPPER,
  AK_MOUTH_SHRUG_LOWER,
  AK_MOUTH_SHRUG_UPPER,
  AK_MOUTH_PRESS_LEFT,
  AK_MOUTH_PRESS_RIGHT,
  AK_MOUTH_LOWER_DOWN_LEFT,
  AK_MOUTH_LOWER_DOWN_RIGHT,
  AK_MOUTH_UPPER_UP_LEFT,
  AK_MOUTH_UPPER_UP_RIGHT,
  AK_BROW_DOWN_LEFT,
  AK_BROW_DOWN_RIGHT,
  AK_BROW_INNER_UP,
  AK_BROW_OUTER_UP_LEFT,
  AK_BROW_OUTER_UP_RIGHT,
  AK_CHEEK_PUFF,
  AK_CHEEK_SQUINT_LEFT,
  AK_CHEEK_SQUINT_RIGHT,
  AK_NOSE_SNEER_LEFT,
  AK_NOSE_SNEER_RIGHT,
  AK_TONGUE_OUT
} ak_blendshape;

/* Apple's name of channel i ("eyeBlinkLeft"), or NULL when i is out of 0..51. */
const char *ak_blendshape_name(int i);

/* Index of a blendshape name as met in real assets: Apple names, ARKit raw strings
 * ("eyeBlink_L"), PascalCase, prefixed ("blendShape1.eyeBlinkLeft"), any case.
 * Returns 0..51, or AK_EINVAL when the name is not one of the 52. */
int ak_blendshape_index(const char *name);

#ifdef __cplusplus
}
#endif
#endif
