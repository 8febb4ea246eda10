/* ARKit blendshape names in canonical order, and a forgiving name -> index lookup. */
#include <ctype.h>
#include <string.h>

#include "avatarkit/arkit.h"
#include "avatarkit/error.h"

static const char *const names[AK_BLENDSHAPE_COUNT] = {
    "eyeBlinkLeft",      "eyeLookDownLeft",    "eyeLookInLeft",
    "eyeLookOutLeft",    "eyeLookUpLeft",      "eyeSquintLeft",
    "eyeWideLeft",       "eyeBlinkRight",      "eyeLookDownRight",
    "eyeLookInRight",    "eyeLookOutRight",    "eyeLookUpRight",
    "eyeSquintRight",    "eyeWideRight",       "jawForward",
    "jawLeft",           "jawRight",           "jawOpen",
    "mouthClose",        "mouthFunnel",        "mouthPucker",
    "mouthLeft",         "mouthRight",         "mouthSmileLeft",
    "mouthSmileRight",   "mouthFrownLeft",     "mouthFrownRight",
    "mouthDimpleLeft",   "mouthDimpleRight",   "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower",     "mouthRollUpper",
    "mouthShrugLower",   "mouthShrugUpper",    "mouthPressLeft",
    "mouthPressRight",   "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft",  "mouthUpperUpRight",  "browDownLeft",
    "browDownRight",     "browInnerUp",        "browOuterUpLeft",
    "browOuterUpRight",  "cheekPuff",          "cheekSquintLeft",
    "cheekSquintRight",  "noseSneerLeft",      "noseSneerRight",
    "tongueOut",
};

const char *ak_blendshape_name(int i) {
  return (i >= 0 && i < AK_BLENDSHAPE_COUNT) ? names[i] : NULL;
}

/* Lower-cases name into out, drops '_' and maps trailing "_l"/"_r" to "left"/"right". */
static int normalise(const char *name, char *out, size_t cap) {
  const char *dot = strrchr(name, '.');
  if (dot) name = dot + 1; /* "blendShape1.eyeBlinkLeft" */
  size_t n = strlen(name);
  if (n == 0 || n + 8 >= cap) return -1;
  const char *suffix = "";
  if (n > 2 && name[n - 2] == '_' && (name[n - 1] == 'L' || name[n - 1] == 'l')) {
    suffix = "left";
    n -= 2;
  } else if (n > 2 && name[n - 2] == '_' && (name[n - 1] == 'R' || name[n - 1] == 'r')) {
    suffix = "right";
    n -= 2;
  }
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (name[i] == '_' || name[i] == '-' || name[i] == ' ') continue;
    out[o++] = (char)tolower((unsigned char)name[i]);
  }
  for (size_t i = 0; suffix[i]; i++) out[o++] = suffix[i];
  out[o] = '\0';
  return 0;
}

int ak_blendshape_index(const char *name) {
  char want[64], have[64];
  if (!name || normalise(name, want, sizeof want) != 0) return AK_EINVAL;
  for (int i = 0; i < AK_BLENDSHAPE_COUNT; i++) {
    normalise(names[i], have, sizeof have);
    if (strcmp(want, have) == 0) return i;
  }
  return AK_EINVAL;
}
