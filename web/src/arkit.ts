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
// Spellings that are not a case/separator variant of Apple's name: split or merged channels
// and typos met in exported assets (all keys already normalised: lower case, no separators).
const ALIASES: Record<string, ArkitName> = {
  browinnerupleft: 'browInnerUp', browinnerupright: 'browInnerUp',
  cheekpuffleft: 'cheekPuff', cheekpuffright: 'cheekPuff',
  tongueoutleft: 'tongueOut', tongueoutright: 'tongueOut',
  mouthclosed: 'mouthClose', jawopened: 'jawOpen', mouthopen: 'jawOpen',
  mouthrolllowerlip: 'mouthRollLower', mouthrollupperlip: 'mouthRollUpper',
  mouthshruglowerlip: 'mouthShrugLower', mouthshrugupperlip: 'mouthShrugUpper',
};
for (const [k, v] of Object.entries(ALIASES)) byKey.set(k, ARKIT[v]);

/**
 * Strips what exporters put around a target name: namespaces (`blendShape1.`, `Head:`,
 * `Armature|`), a Blender duplicate suffix (`.001`), and leading tags (`ARKit_`, `arkit-`,
 * `A01_`...`A52_` as Character Creator writes them, `BS_`, `bs_`).
 */
function stripAffixes(name: string): string {
  let n = name.trim().replace(/\.\d{3,}$/, '');
  const cut = Math.max(n.lastIndexOf('.'), n.lastIndexOf(':'), n.lastIndexOf('|'), n.lastIndexOf('/'));
  if (cut >= 0) n = n.slice(cut + 1);
  n = n.replace(/^(arkit|apple|bs|blendshape|shape|morph|target)[_\s-]*/i, '');
  n = n.replace(/^[A-Z]\d{2}[_\s-]+/i, '');
  return n;
}

/**
 * Maps a morph target name as found in an asset to an ARKit channel index, or -1.
 * Accepts Apple names, ARKit raw strings (`eyeBlink_L`), PascalCase, snake_case, upper case,
 * any `prefix.`/`prefix:`/`prefix|` namespace, `ARKit_`/`A01_`-style tags and a few known
 * split or misspelt channels; case-insensitive.
 */
export function arkitIndex(name: string): number {
  let n = stripAffixes(name);
  const side = (_m: string, x: string) => (x.toUpperCase() === 'L' ? 'Left' : 'Right');
  // "_L"/"-R"/" L"/".L" with a separator, or a bare capital after a lower-case letter
  // ("eyeBlinkL"); never a lower-case final letter ("mouthFunnel" ends in l).
  n = n.replace(/[_\s.-](L|R)$/i, side).replace(/(?<=[a-z])(L|R)$/, side);
  n = n.replace(/[_\s.-]/g, '').toLowerCase();
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

/** ARKit names of the channels not in `present` (a set of channel indices), in index order. */
export function missingChannels(present: ReadonlySet<number>): ArkitName[] {
  return ARKIT_NAMES.filter((_, i) => !present.has(i));
}

/** The 15 Oculus / Ready Player Me viseme targets, in their customary order. */
export const VISEME_NAMES = [
  'viseme_sil', 'viseme_PP', 'viseme_FF', 'viseme_TH', 'viseme_DD', 'viseme_kk', 'viseme_CH',
  'viseme_SS', 'viseme_nn', 'viseme_RR', 'viseme_aa', 'viseme_E', 'viseme_I', 'viseme_O', 'viseme_U',
] as const;
export const VISEME_COUNT = 15;
export type VisemeName = (typeof VISEME_NAMES)[number];
/** Index of each viseme by name, e.g. VISEME.viseme_aa === 10. */
export const VISEME: Record<VisemeName, number> = Object.fromEntries(
  VISEME_NAMES.map((n, i) => [n, i]),
) as Record<VisemeName, number>;
const visemeByKey = new Map<string, number>(VISEME_NAMES.map((n, i) => [n.slice(7).toLowerCase(), i]));

/** Maps a viseme target name (`viseme_aa`, `Viseme_AA`, `mesh.viseme_PP`, `V_aa`) to 0..14, or -1. */
export function visemeIndex(name: string): number {
  let n = name.trim().replace(/\.\d{3,}$/, '');
  const cut = Math.max(n.lastIndexOf('.'), n.lastIndexOf(':'), n.lastIndexOf('|'), n.lastIndexOf('/'));
  if (cut >= 0) n = n.slice(cut + 1);
  const m = /^(?:viseme|vis|v)[_\s-]*([a-z]{1,3})$/i.exec(n);
  if (!m) return -1;
  return visemeByKey.get(m[1].toLowerCase()) ?? -1;
}

const c01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/**
 * Viseme weights for an avatar that has viseme targets but no ARKit mouth: derived from the
 * ARKit mouth channels of `pose` (what the engine sends), written into `out` (15 values) and
 * scaled so that they sum to at most 1 (viseme shapes are sculpted to be shown one at a time).
 *
 *   open  = max(0, jawOpen - mouthClose)            spread = mean(mouthStretch L/R, mouthSmile L/R)
 *   PP    = max(mouthPress, mouthRoll lower+upper / 2) * (1 - open / 0.25)     lips closed
 *   FF    = (mouthRollLower - mouthRollUpper) * (1 - open / 0.25)              lower lip tucked
 *   TH    = tongueOut
 *   O     = mouthFunnel * (0.4 + open)                U = mouthPucker * (1 - mouthFunnel / 2)
 *   CH    = mouthFunnel * spread-free small opening (funnel with open < 0.2)
 *   aa    = open * (1 - max(funnel, pucker)) * (1 - spread)
 *   E     = open * spread                             I = spread * (1 - open / 0.25)
 *   SS    = mouthStretch * (1 - open / 0.15) / 2      DD = nn = kk = small openings (0.05..0.3)
 *   RR    = mouthPucker * open
 *   sil   = 1 - (sum of the others), floored at 0
 */
export function visemeWeights(pose: ArrayLike<number>, out: Float32Array | number[]): void {
  const p = (n: ArkitName) => c01(pose[ARKIT[n]] ?? 0);
  const open = c01(p('jawOpen') - p('mouthClose'));
  const funnel = p('mouthFunnel'), pucker = p('mouthPucker');
  const stretch = (p('mouthStretchLeft') + p('mouthStretchRight')) / 2;
  const smile = (p('mouthSmileLeft') + p('mouthSmileRight')) / 2;
  const spread = c01(Math.max(stretch, smile));
  const press = (p('mouthPressLeft') + p('mouthPressRight')) / 2;
  const rollL = p('mouthRollLower'), rollU = p('mouthRollUpper');
  const shut = c01(1 - open / 0.25);
  const small = c01(open / 0.05) * c01((0.3 - open) / 0.15) * (1 - Math.max(funnel, pucker)) * (1 - spread);
  const w = out;
  w[VISEME.viseme_PP] = c01(Math.max(press, (rollL + rollU) / 2)) * shut;
  w[VISEME.viseme_FF] = c01(rollL - rollU) * shut;
  w[VISEME.viseme_TH] = p('tongueOut');
  w[VISEME.viseme_O] = c01(funnel * (0.4 + open));
  w[VISEME.viseme_U] = c01(pucker * (1 - funnel / 2));
  w[VISEME.viseme_CH] = funnel * c01((0.2 - open) / 0.2) * 0.5;
  w[VISEME.viseme_aa] = open * (1 - Math.max(funnel, pucker)) * (1 - spread);
  w[VISEME.viseme_E] = open * spread;
  w[VISEME.viseme_I] = spread * shut * (1 - Math.max(funnel, pucker));
  w[VISEME.viseme_SS] = (stretch * c01(1 - open / 0.15)) / 2;
  w[VISEME.viseme_DD] = small * 0.4;
  w[VISEME.viseme_nn] = small * 0.2;
  w[VISEME.viseme_kk] = small * 0.2;
  w[VISEME.viseme_RR] = pucker * open;
  let sum = 0;
  for (let i = 1; i < VISEME_COUNT; i++) sum += w[i];
  if (sum > 1) for (let i = 1; i < VISEME_COUNT; i++) w[i] /= sum;
  w[VISEME.viseme_sil] = c01(1 - sum);
}
