/* The 52 ARKit blendshape names in wire index order (ARKIT.md) and the name normaliser that
 * maps the spellings met in real assets (eyeBlink_L, EyeBlinkLeft, blendShape1.jawOpen) onto
 * channel indices. */

export const ARKIT_NAMES = [
  'eyeBlinkLeft', 'eyeLookDownLeft', 'eyeLookInLeft', 'eyeLookOutLeft', 'eyeLookUpLeft',
  'eyeSquintLeft', 'eyeWideLeft', 'eyeBlinkRight', 'eyeLookDownRight', 'eyeLookInRight',
  'eyeLookOutRight', 'eyeLookUpRight', 'eyeSquintRight', 'eyeWideRight', 'jawForward',
  'jawLeft', 'jawRight', 'jawOpen', 'mouthClose', 'mouthFunnel',
  'mouthPucker', 'mouthLeft', 'mouthRight', 'mouthSmileLeft', 'mouthSmileRight',
  'mouthFrownLeft', 'mouthFrownRight', 'mouthDimpleLeft', 'mouthDimpleRight', 'mouthStretchLeft',
  'mouthStretchRight', 'mouthRollLower', 'mouthRollUpper', 'mouthShrugLower', 'mouthShrugUpper',
  'mouthPressLeft', 'mouthPressRight', 'mouthLowerDownLeft', 'mouthLowerDownRight', 'mouthUpperUpLeft',
  'mouthUpperUpRight', 'browDownLeft', 'browDownRight', 'browInnerUp', 'browOuterUpLeft',
  'browOuterUpRight', 'cheekPuff', 'cheekSquintLeft', 'cheekSquintRight', 'noseSneerLeft',
  'noseSneerRight', 'tongueOut',
] as const;

export type ArkitName = (typeof ARKIT_NAMES)[number];
export const ARKIT_COUNT = 52;

/** Index of each channel by name, e.g. ARKIT.jawOpen === 17. */
export const ARKIT: Record<ArkitName, number> = Object.fromEntries(
  ARKIT_NAMES.map((n, i) => [n, i]),
) as Record<ArkitName, number>;

const byKey = new Map<string, number>(ARKIT_NAMES.map((n, i) => [n.toLowerCase(), i]));

/**
 * Maps a morph target name as found in an asset to an ARKit channel index, or -1.
 * Accepts Apple names, ARKit raw strings (`eyeBlink_L`), PascalCase, any `prefix.` or
 * `prefix:` namespace, and is case-insensitive.
 */
export function arkitIndex(name: string): number {
  let n = name.trim();
  const dot = Math.max(n.lastIndexOf('.'), n.lastIndexOf(':'), n.lastIndexOf('|'));
  if (dot >= 0) n = n.slice(dot + 1);
  const side = (_m: string, x: string) => (x.toUpperCase() === 'L' ? 'Left' : 'Right');
  // "_L"/"-R"/" L" with a separator, or a bare capital after a lower-case letter ("eyeBlinkL");
  // never a lower-case final letter ("mouthFunnel" ends in l).
  n = n.replace(/[_\s-](L|R)$/i, side).replace(/(?<=[a-z])(L|R)$/, side);
  n = n.replace(/[_\s-]/g, '').toLowerCase();
  const direct = byKey.get(n);
  if (direct !== undefined) return direct;
  // Some exporters put the side in front: "leftEyeBlink" / "Left_eyeBlink".
  const m = /^(left|right)(.+)$/.exec(n);
  if (m) {
    const moved = byKey.get(m[2] + m[1]);
    if (moved !== undefined) return moved;
  }
  return -1;
}
