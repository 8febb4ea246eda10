// The generated default avatar: a valid GLB whose meshes carry all 52 ARKit targets, each of
// which moves geometry the way its name says (side, direction), read back from the file.
import test from 'node:test';
import assert from 'node:assert/strict';
import { makeAvatar } from '../../tools/make-avatar.mjs';
import { arkit } from './helpers.mjs';

function readGlb(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  assert.equal(dv.getUint32(0, true), 0x46546c67, 'glTF magic');
  assert.equal(dv.getUint32(8, true), buf.length, 'length field');
  const jlen = dv.getUint32(12, true);
  const json = JSON.parse(new TextDecoder().decode(buf.subarray(20, 20 + jlen)));
  const bin = buf.subarray(28 + jlen);
  const view = (i) => { const v = json.bufferViews[i]; return bin.subarray(v.byteOffset, v.byteOffset + v.byteLength); };
  const floats = (b) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const accessor = (i) => {
    const a = json.accessors[i];
    const out = a.bufferView === undefined ? new Float32Array(a.count * 3) : floats(view(a.bufferView));
    if (a.sparse) {
      const ib = view(a.sparse.indices.bufferView);
      const idx = new Uint32Array(ib.buffer.slice(ib.byteOffset, ib.byteOffset + ib.byteLength));
      const val = floats(view(a.sparse.values.bufferView));
      idx.forEach((v, k) => out.set(val.subarray(3 * k, 3 * k + 3), 3 * v));
    }
    return out;
  };
  return { json, accessor };
}

const glb = readGlb(makeAvatar());

/** Mean displacement of the vertices a target moves, and where they are. */
function effect(name) {
  const r = { moved: 0, dx: 0, dy: 0, dz: 0, x: 0, front: [] };
  for (const m of glb.json.meshes) {
    const names = m.extras?.targetNames ?? [];
    const t = names.indexOf(name);
    if (t < 0) continue;
    const prim = m.primitives[0];
    const pos = glb.accessor(prim.attributes.POSITION);
    const d = glb.accessor(prim.targets[t].POSITION);
    for (let i = 0; i < d.length; i += 3) {
      const len = Math.hypot(d[i], d[i + 1], d[i + 2]);
      if (len < 1e-4) continue;
      r.moved++; r.dx += d[i]; r.dy += d[i + 1]; r.dz += d[i + 2]; r.x += pos[i];
      r.front.push([pos[i + 2], d[i], d[i + 1]]);
    }
  }
  if (r.moved) for (const k of ['dx', 'dy', 'dz', 'x']) r[k] /= r.moved;
  // the most forward vertices (for rotations, whose mean displacement is ~0): the pupils
  const zmax = Math.max(...r.front.map((f) => f[0]));
  const fr = r.front.filter((f) => f[0] > zmax - 0.004);
  r.frontDx = fr.reduce((a, f) => a + f[1], 0) / (fr.length || 1);
  r.frontDy = fr.reduce((a, f) => a + f[2], 0) / (fr.length || 1);
  delete r.front;
  return r;
}

test('default avatar: valid GLB, 52 named targets, head and eye structure', () => {
  const names = new Set(glb.json.meshes.flatMap((m) => m.extras?.targetNames ?? []));
  for (const n of arkit.ARKIT_NAMES) assert.ok(names.has(n), `missing target ${n}`);
  const meshNames = glb.json.meshes.map((m) => m.name);
  for (const part of ['Head_Skin', 'Eyes', 'Eyelids', 'Brows', 'Hair', 'Teeth_Upper', 'Teeth_Lower', 'Tongue', 'Torso', 'Arms'])
    assert.ok(meshNames.includes(part), `missing part ${part}`);
  assert.ok(glb.json.nodes.some((n) => n.name === 'Head'), 'Head node for head rotation');
});

test('every target moves geometry', () => {
  for (const n of arkit.ARKIT_NAMES) assert.ok(effect(n).moved > 0, `${n} moves nothing`);
});

test('targets do what their names say (side and direction)', () => {
  const e = Object.fromEntries(arkit.ARKIT_NAMES.map((n) => [n, effect(n)]));
  const left = (n) => assert.ok(e[n].x > 0.005, `${n} should act on the avatar's left (+x), mean x ${e[n].x}`);
  const right = (n) => assert.ok(e[n].x < -0.005, `${n} should act on the avatar's right (-x), mean x ${e[n].x}`);
  for (const side of ['Left', 'Right']) {
    const f = side === 'Left' ? left : right;
    for (const b of ['eyeBlink', 'eyeSquint', 'eyeWide', 'mouthSmile', 'mouthFrown', 'mouthDimple', 'mouthStretch', 'mouthPress', 'mouthLowerDown', 'mouthUpperUp', 'browDown', 'browOuterUp', 'cheekSquint', 'noseSneer', 'eyeLookUp', 'eyeLookDown', 'eyeLookIn', 'eyeLookOut']) f(b + side);
  }
  const down = (n) => assert.ok(e[n].dy < -0.001, `${n} should move down (dy ${e[n].dy})`);
  const up = (n) => assert.ok(e[n].dy > 0.001, `${n} should move up (dy ${e[n].dy})`);
  down('jawOpen'); down('eyeBlinkLeft'); down('mouthFrownLeft'); down('mouthLowerDownRight'); down('browDownLeft');
  up('mouthSmileLeft'); up('mouthUpperUpLeft'); up('browInnerUp'); up('browOuterUpRight'); up('cheekSquintLeft'); up('noseSneerLeft'); up('mouthShrugLower');
  assert.ok(e.eyeWideLeft.dy > 0, 'upper lid opens (net upward)');
  assert.ok(e.tongueOut.dz > 0.005, 'tongue comes forward');
  assert.ok(e.jawForward.dz > 0.003, 'jaw forward');
  assert.ok(e.mouthPucker.dz > 0.003 && e.mouthFunnel.dz > 0.003, 'lips push forward');
  assert.ok(e.jawLeft.dx > 0.003 && e.jawRight.dx < -0.003, 'jaw sideways');
  assert.ok(e.mouthLeft.dx > 0.003 && e.mouthRight.dx < -0.003, 'mouth sideways');
  assert.ok(e.mouthRollLower.dz < -0.002 && e.mouthRollUpper.dz < -0.002, 'lips roll in');
  assert.ok(e.mouthClose.dy > 0.001, 'mouthClose lifts the lower lip against an open jaw');
  // gaze: the avatar's left eye looks out (+x) with eyeLookOutLeft, in (-x) with eyeLookInLeft
  assert.ok(e.eyeLookOutLeft.frontDx > 0.002 && e.eyeLookInLeft.frontDx < -0.002, 'left eye gaze');
  assert.ok(e.eyeLookOutRight.frontDx < -0.002 && e.eyeLookInRight.frontDx > 0.002, 'right eye gaze');
  assert.ok(e.eyeLookUpLeft.frontDy > 0.002 && e.eyeLookDownRight.frontDy < -0.002, 'vertical gaze');
});

test('every style (the second avatar too) carries all 52 targets and two-sided brows', async () => {
  const { STYLES } = await import('../../tools/make-avatar.mjs');
  for (const style of Object.keys(STYLES)) {
    const g = readGlb(makeAvatar(style));
    const names = new Set(g.json.meshes.flatMap((m) => m.extras?.targetNames ?? []));
    for (const n of arkit.ARKIT_NAMES) assert.ok(names.has(n), `${style}: missing target ${n}`);
    // the brows face the camera (a single-sided sheet wound backwards is invisible)
    const brows = g.json.materials[g.json.meshes.find((m) => m.name === 'Brows').primitives[0].material];
    assert.equal(brows.doubleSided, true, `${style}: brows drawn from both sides`);
  }
});
