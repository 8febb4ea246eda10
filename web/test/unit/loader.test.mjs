// The glTF loader (src/loader.ts) in node, no browser: which compression a GLB uses, and the
// meshopt path end to end (bundled MeshoptDecoder -> three.js scene -> AvatarRig bindings,
// missing channels, viseme mouth). Draco needs web workers and runs in the e2e fixture test.
import test from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../tools/transpile.mjs';
import { compress, fixtureHead, oddName, ARKIT_NAMES, VISEMES } from '../../tools/make-fixtures.mjs';
import './helpers.mjs';

const loader = await load('loader');
const { AvatarRig } = await load('rig');
const ab = (u8) => u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength);

const odd = fixtureHead(ARKIT_NAMES.map((n, i) => [oddName(n, i), n]));
const vis = fixtureHead([...VISEMES.map((n) => [n, n]), ['eyeBlink_L', 'eyeBlinkLeft']]);

test('glbExtensions names the compression a GLB uses', async () => {
  assert.deepEqual(loader.glbExtensions(ab(odd)), []);
  assert.ok(loader.glbExtensions(ab(await compress(odd, 'draco'))).includes('KHR_draco_mesh_compression'));
  assert.ok(loader.glbExtensions(ab(await compress(odd, 'meshopt'))).includes('EXT_meshopt_compression'));
  assert.deepEqual(loader.glbExtensions(new ArrayBuffer(8)), []);
  assert.deepEqual(loader.glbExtensions(ab(new TextEncoder().encode('glTF not really a glb file at all'))), []);
});

test('a meshopt GLB with odd names parses and binds all 52 channels', async () => {
  const gltf = await loader.parseAvatarModel(ab(await compress(odd, 'meshopt')));
  const rig = new AvatarRig(gltf.scene);
  assert.equal(rig.channels.size, 52, rig.describe());
  assert.deepEqual(rig.missing, []);
  assert.equal(rig.visemeMouth, false);
  const pose = new Float32Array(55);
  pose[17] = 0.7;
  rig.apply(pose);
  assert.ok(Math.abs(rig.influence(17) - 0.7) < 1e-6);
});

test('a viseme-only meshopt GLB speaks through its visemes and reports 51 missing channels', async () => {
  const gltf = await loader.parseAvatarModel(ab(await compress(vis, 'meshopt')));
  const rig = new AvatarRig(gltf.scene);
  assert.equal(rig.visemeMouth, true);
  assert.equal(rig.visemes.size, 15);
  assert.equal(rig.missing.length, 51);
  assert.match(rig.describe(), /1\/52 ARKit channels.*15 viseme targets.*missing 51: eyeLookDownLeft/);
  const pose = new Float32Array(55);
  pose[17] = 0.8; // jawOpen
  rig.apply(pose);
  assert.ok(rig.visemeInfluence(10) > 0.6, `viseme_aa ${rig.visemeInfluence(10)}`);
  pose[17] = 0;
  rig.apply(pose);
  assert.equal(rig.visemeInfluence(10), 0);
  assert.equal(rig.visemeInfluence(0), 1);
});
