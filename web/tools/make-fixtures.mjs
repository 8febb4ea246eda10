// Test avatars in the shapes third-party ARKit avatars come in, for the web fixture tests:
// several rigs (Apple names; a mix of prefixed / PascalCase / snake_case / upper-case / _L
// spellings; Ready Player Me style viseme-only; a rig missing most channels), stored plain,
// Draco-compressed and meshopt-compressed (with @gltf-transform and the draco3d /
// meshoptimizer encoders from npm), plus the default avatar compressed both ways.
//   node tools/make-fixtures.mjs OUTDIR      writes OUTDIR/*.glb and OUTDIR/fixtures.json
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Logger, NodeIO } from '@gltf-transform/core';
import { ALL_EXTENSIONS } from '@gltf-transform/extensions';
import { draco, meshopt } from '@gltf-transform/functions';
import draco3d from 'draco3d';
import { MeshoptDecoder, MeshoptEncoder } from 'meshoptimizer';
import { computeNormals, writeGlb } from './glb.mjs';
import { makeAvatar, NAMES } from './make-avatar.mjs';

export const ARKIT_NAMES = NAMES;
export const VISEMES = ['viseme_sil', 'viseme_PP', 'viseme_FF', 'viseme_TH', 'viseme_DD', 'viseme_kk', 'viseme_CH',
  'viseme_SS', 'viseme_nn', 'viseme_RR', 'viseme_aa', 'viseme_E', 'viseme_I', 'viseme_O', 'viseme_U'];

// ---- spellings ---------------------------------------------------------------------------
const words = (n) => n.replace(/([A-Z])/g, ' $1').trim().split(' ');
const pascal = (n) => n[0].toUpperCase() + n.slice(1);
const rawSide = (n) => n.replace(/Left$/, '_L').replace(/Right$/, '_R'); // ARKit raw strings
/** A different real-world spelling for each channel, cycling through the schemes. */
export function oddName(n, i) {
  const w = words(n);
  switch (i % 7) {
    case 0: return `blendShape1.${n}`; // Maya blend shape node namespace
    case 1: return `ARKit_${pascal(n)}`;
    case 2: return `A${String(i + 1).padStart(2, '0')}_${w.map(pascal).join('_')}`; // Character Creator
    case 3: return w.join('_').toLowerCase(); // snake_case
    case 4: return n.toUpperCase();
    case 5: return rawSide(n); // eyeBlink_L
    default: return `Head_Mesh:${pascal(rawSide(n))}`; // namespace + PascalCase + _L
  }
}

// ---- a simple head: sphere with eyes and lips in vertex colour, mouth at the front --------
const HEAD_Y = 1.6, RAD = 0.1, LIP_Y = -0.045;
const smooth = (e0, e1, x) => { const t = Math.min(1, Math.max(0, (x - e0) / (e1 - e0))); return t * t * (3 - 2 * t); };

function sphere(seg = 56, rings = 48) {
  const pos = [], col = [], idx = [];
  for (let i = 0; i <= rings; i++) for (let j = 0; j < seg; j++) {
    const th = (i / rings) * Math.PI, ph = (j / seg) * Math.PI * 2;
    const x = RAD * 0.85 * Math.sin(th) * Math.sin(ph), y = RAD * 1.1 * Math.cos(th), z = RAD * Math.sin(th) * Math.cos(ph);
    pos.push(x, HEAD_Y + y, z);
    const front = z > 0.06;
    const ax = Math.abs(x);
    let c = [0.85, 0.6, 0.48];
    if (front && ax < 0.036 && Math.abs(y - LIP_Y) < 0.012) c = [0.7, 0.25, 0.25]; // lips
    if (front && ax < 0.03 && Math.abs(y - LIP_Y) < 0.004) c = [0.08, 0.02, 0.03]; // lip line
    if (front && Math.hypot(ax - 0.035, y - 0.025) < 0.012) c = [0.05, 0.05, 0.07]; // eyes
    if (front && ax > 0.015 && ax < 0.055 && Math.abs(y - 0.05) < 0.005) c = [0.2, 0.12, 0.08]; // brows
    col.push(c[0] ** 2.2, c[1] ** 2.2, c[2] ** 2.2, 1);
  }
  for (let i = 0; i < rings; i++) for (let j = 0; j < seg; j++) {
    const a = i * seg + j, b = i * seg + ((j + 1) % seg), c = a + seg, d = b + seg;
    idx.push(a, c, b, b, c, d);
  }
  return { pos: Float32Array.from(pos), col: Float32Array.from(col), idx };
}

/** Displacement of a head-local point (x, y, z) for an ARKit channel or a viseme. */
function shape(name, x, y, z) {
  if (z < 0.03) return [0, 0, 0];
  const side = /Left$/.test(name) ? 1 : /Right$/.test(name) ? -1 : 0;
  const onSide = side === 0 ? 1 : smooth(-0.005, 0.01, side * x);
  const mouth = smooth(0.05, 0.025, Math.hypot(x / 1.4, y - LIP_Y)); // 1 in the mouth area
  const below = smooth(LIP_Y + 0.001, LIP_Y - 0.004, y); // under the lip line
  const chin = below * smooth(0.075, 0.03, Math.abs(x)) * smooth(-0.115, -0.06, y);
  const eye = smooth(0.03, 0.012, Math.hypot(Math.abs(x) - 0.035, y - 0.025)) * onSide;
  const brow = smooth(0.03, 0.01, Math.hypot(Math.abs(x) - 0.035, y - 0.05)) * onSide;
  const s = (k, v) => v.map((q) => q * k);
  switch (name) {
    case 'jawOpen': case 'viseme_aa': return s(chin, [0, -0.035, -0.004]);
    case 'viseme_E': case 'viseme_DD': case 'viseme_nn': case 'viseme_kk': return s(chin, [0, -0.018, 0]);
    case 'viseme_I': case 'viseme_SS': return s(chin, [0, -0.008, 0]).map((v, i) => v + (i === 0 ? 0.008 * Math.sign(x) * mouth : 0));
    case 'viseme_O': case 'viseme_CH': case 'viseme_RR': case 'mouthFunnel': return [-0.25 * x * mouth, -0.012 * chin, 0.01 * mouth];
    case 'viseme_U': case 'mouthPucker': return [-0.4 * x * mouth, 0, 0.012 * mouth];
    case 'viseme_PP': case 'viseme_FF': case 'mouthClose': case 'mouthRollLower': case 'mouthRollUpper':
      return [0, 0.003 * mouth * (below ? 1 : -1), -0.003 * mouth];
    case 'viseme_TH': case 'tongueOut': return s(chin, [0, -0.01, 0.004]);
    case 'viseme_sil': return [0, 0, 0];
    case 'jawForward': return s(chin, [0, 0, 0.01]);
    case 'jawLeft': return s(chin, [0.01, 0, 0]);
    case 'jawRight': return s(chin, [-0.01, 0, 0]);
  }
  if (name.startsWith('eye')) return s(eye, [0, /Blink|Squint|Down/.test(name) ? -0.006 : 0.006, 0.001]);
  if (name.startsWith('brow')) return s(name === 'browInnerUp' ? smooth(0.03, 0.0, Math.abs(x)) * smooth(0.08, 0.04, y) : brow, [0, /Down/.test(name) ? -0.005 : 0.006, 0]);
  if (/^mouth(Smile|Dimple|Stretch|UpperUp|Left$|Right$)/.test(name)) return s(mouth * onSide, [side * 0.006 || (name === 'mouthLeft' ? 0.008 : -0.008), /Smile|UpperUp/.test(name) ? 0.006 : 0, 0]);
  if (/^mouth(Frown|LowerDown|Press|Shrug)/.test(name)) return s(mouth * onSide, [0, /Shrug/.test(name) ? 0.004 : -0.005, 0]);
  // cheeks and nose
  return s(smooth(0.04, 0.01, Math.hypot(Math.abs(x) - 0.04, y + 0.01)) * onSide, [0, 0.004, 0.004]);
}

/**
 * A fixture head GLB. targets: [[assetName, semanticName], ...]; the Teeth mesh (an extra
 * mesh, as real avatars have) carries the jaw channel under the same asset name when present.
 */
export function fixtureHead(targets) {
  const { pos, col, idx } = sphere();
  const mk = (sem) => {
    const d = new Float32Array(pos.length);
    for (let i = 0; i < pos.length / 3; i++) d.set(shape(sem, pos[3 * i], pos[3 * i + 1] - HEAD_Y, pos[3 * i + 2]), 3 * i);
    return d;
  };
  const head = { name: 'Head_Mesh', positions: pos, normals: computeNormals(pos, idx), colors: col, indices: idx, material: 0,
    targets: targets.map(([asset, sem]) => ({ name: asset, positions: mk(sem) })) };
  // lower teeth: a small white bar behind the lower lip that follows the jaw
  const tp = [], ti = [];
  for (const [x, y, z] of [[-0.02, -0.05, 0.075], [0.02, -0.05, 0.075], [-0.02, -0.058, 0.075], [0.02, -0.058, 0.075]]) tp.push(x, HEAD_Y + y, z);
  ti.push(0, 2, 1, 1, 2, 3);
  const TP = Float32Array.from(tp);
  const jaw = targets.find(([, sem]) => sem === 'jawOpen' || sem === 'viseme_aa');
  const teeth = { name: 'Teeth_Lower', positions: TP, normals: computeNormals(TP, ti), colors: new Float32Array(16).fill(0.9), indices: ti, material: 0,
    targets: jaw ? [{ name: jaw[0], positions: Float32Array.from([0, -0.03, 0, 0, -0.03, 0, 0, -0.03, 0, 0, -0.03, 0]) }] : [] };
  return writeGlb({
    nodes: [
      { name: 'Avatar', root: true, children: [1] },
      { name: 'Head', children: [2, 3] },
      { name: 'Head_Mesh', mesh: 0 },
      { name: 'Teeth_Lower', mesh: 1 },
    ],
    meshes: [head, teeth],
    materials: [{ name: 'skin', roughness: 0.6 }],
  });
}

// ---- compression --------------------------------------------------------------------------
let ioPromise = null;
function io() {
  ioPromise ??= (async () => new NodeIO().setLogger(new Logger(Logger.Verbosity.WARN)).registerExtensions(ALL_EXTENSIONS).registerDependencies({
    'draco3d.encoder': await draco3d.createEncoderModule(),
    'draco3d.decoder': await draco3d.createDecoderModule(),
    'meshopt.encoder': MeshoptEncoder,
    'meshopt.decoder': MeshoptDecoder,
  }))();
  return ioPromise;
}

/** Re-encodes a GLB: 'draco' (KHR_draco_mesh_compression) or 'meshopt' (EXT_meshopt_compression). */
export async function compress(glb, how) {
  const nio = await io();
  const doc = await nio.readBinary(glb);
  if (how === 'draco') await doc.transform(draco({ method: 'edgebreaker' }));
  else if (how === 'meshopt') {
    await MeshoptEncoder.ready;
    await doc.transform(meshopt({ encoder: MeshoptEncoder, level: 'medium' }));
  } else throw new Error(`unknown compression ${how}`);
  return nio.writeBinary(doc);
}

// ---- the set --------------------------------------------------------------------------------
const CAMEL = ARKIT_NAMES.map((n) => [n, n]);
const ODD = ARKIT_NAMES.map((n, i) => [oddName(n, i), n]);
const VIS = [...VISEMES.map((n) => [n, n]), ['eyeBlink_L', 'eyeBlinkLeft'], ['eyeBlink_R', 'eyeBlinkRight']];
const FEW = ['jawOpen', 'mouthFunnel', 'mouthPucker', 'eyeBlinkLeft', 'eyeBlinkRight', 'mouthSmileLeft', 'mouthSmileRight'].map((n) => [pascal(n), n]);

/** Every fixture: file, how it was made and what a loader must find in it. */
export const FIXTURES = [
  { file: 'arkit-plain.glb', rig: CAMEL, compression: null, channels: 52, visemeMouth: false },
  { file: 'arkit-draco.glb', rig: CAMEL, compression: 'draco', channels: 52, visemeMouth: false },
  { file: 'odd-names-plain.glb', rig: ODD, compression: null, channels: 52, visemeMouth: false },
  { file: 'odd-names-meshopt.glb', rig: ODD, compression: 'meshopt', channels: 52, visemeMouth: false },
  { file: 'visemes-only-draco.glb', rig: VIS, compression: 'draco', channels: 2, visemeMouth: true },
  { file: 'visemes-only-meshopt.glb', rig: VIS, compression: 'meshopt', channels: 2, visemeMouth: true },
  { file: 'missing-channels-plain.glb', rig: FEW, compression: null, channels: 7, visemeMouth: false },
  { file: 'default-draco.glb', rig: 'default', compression: 'draco', channels: 52, visemeMouth: false },
  { file: 'default-meshopt.glb', rig: 'default', compression: 'meshopt', channels: 52, visemeMouth: false },
];

/** Writes every fixture (and fixtures.json describing them) into `out`; returns the list. */
export async function makeFixtures(out) {
  mkdirSync(out, { recursive: true });
  let def = null;
  for (const f of FIXTURES) {
    let glb = f.rig === 'default' ? (def ??= makeAvatar()) : fixtureHead(f.rig);
    if (f.compression) glb = await compress(glb, f.compression);
    writeFileSync(join(out, f.file), glb);
    f.bytes = glb.length;
  }
  const desc = FIXTURES.map(({ rig, ...f }) => ({ ...f, names: rig === 'default' ? 'default avatar' : rig.map((r) => r[0]) }));
  writeFileSync(join(out, 'fixtures.json'), JSON.stringify(desc, null, 1));
  return desc;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2] ?? 'fixtures';
  for (const f of await makeFixtures(out)) console.log(`${join(out, f.file)}: ${(f.bytes / 1024).toFixed(0)} KiB, ${f.compression ?? 'uncompressed'}`);
}
