// The shape-key name mapping table (src/arkit.ts): every spelling scheme met in real assets
// lands on the right ARKit channel, viseme names map to the 15 Oculus visemes, nothing else
// maps, and viseme weights derived from ARKit mouth channels pick the right mouth shape.
import test from 'node:test';
import assert from 'node:assert/strict';
import { arkit } from './helpers.mjs';
import { oddName } from '../../tools/make-fixtures.mjs';

const { ARKIT_NAMES, ARKIT, arkitIndex, visemeIndex, visemeWeights, VISEME_NAMES, missingChannels } = arkit;

const words = (n) => n.replace(/([A-Z])/g, ' $1').trim().split(' ');
const pascal = (n) => n[0].toUpperCase() + n.slice(1);
const schemes = {
  apple: (n) => n,
  pascal: (n) => pascal(n),
  snake: (n) => words(n).join('_').toLowerCase(),
  upperSnake: (n) => words(n).join('_').toUpperCase(),
  upper: (n) => n.toUpperCase(),
  lower: (n) => n.toLowerCase(),
  raw: (n) => n.replace(/Left$/, '_L').replace(/Right$/, '_R'),
  rawLower: (n) => n.replace(/Left$/, '_l').replace(/Right$/, '_r'),
  maya: (n) => `blendShape1.${n}`,
  mayaPascal: (n) => `blendShape2.${pascal(n)}`,
  arkitPrefix: (n) => `ARKit_${pascal(n)}`,
  arkitLower: (n) => `arkit-${n}`,
  cc: (n) => `A${String(ARKIT_NAMES.indexOf(n) + 1).padStart(2, '0')}_${words(n).map(pascal).join('_')}`,
  namespace: (n) => `Wolf3D_Head:${n}`,
  blenderDup: (n) => `${n}.001`,
  pipe: (n) => `Armature|Face|${n}`,
};

test('every naming scheme maps all 52 channels onto their index', () => {
  for (const [scheme, f] of Object.entries(schemes)) {
    ARKIT_NAMES.forEach((n, i) => assert.equal(arkitIndex(f(n)), i, `${scheme}: ${f(n)}`));
  }
  ARKIT_NAMES.forEach((n, i) => assert.equal(arkitIndex(oddName(n, i)), i, `fixture spelling ${oddName(n, i)}`));
});

test('known split or misspelt channels', () => {
  assert.equal(arkitIndex('browInnerUp_L'), ARKIT.browInnerUp);
  assert.equal(arkitIndex('browInnerUpRight'), ARKIT.browInnerUp);
  assert.equal(arkitIndex('cheekPuff_R'), ARKIT.cheekPuff);
  assert.equal(arkitIndex('mouthClosed'), ARKIT.mouthClose);
  assert.equal(arkitIndex('leftEyeBlink'), ARKIT.eyeBlinkLeft);
  assert.equal(arkitIndex('Right_mouthSmile'), ARKIT.mouthSmileRight);
});

test('non-ARKit names do not map', () => {
  for (const n of ['', 'viseme_aa', 'viseme_PP', 'Basis', 'Key 1', 'mouthFunnelX', 'eyeBlink', 'smile', 'jaw', 'A01_Smile', 'EyeBlinkLeftRight'])
    assert.equal(arkitIndex(n), -1, n);
  // a final lower-case l is part of the word, not a side
  assert.equal(arkitIndex('mouthFunnel'), ARKIT.mouthFunnel);
});

test('viseme names: Oculus / Ready Player Me spellings, case and namespaces', () => {
  VISEME_NAMES.forEach((n, i) => {
    assert.equal(visemeIndex(n), i, n);
    assert.equal(visemeIndex(n.toUpperCase()), i, n.toUpperCase());
    assert.equal(visemeIndex(`Wolf3D_Head.${n}`), i);
    assert.equal(arkitIndex(n), -1, `${n} is no ARKit channel`);
  });
  assert.equal(visemeIndex('Viseme_AA'), VISEME_NAMES.indexOf('viseme_aa'));
  assert.equal(visemeIndex('viseme_xx'), -1);
  assert.equal(visemeIndex('jawOpen'), -1);
});

test('missing channels are listed by name in index order', () => {
  assert.deepEqual(missingChannels(new Set(ARKIT_NAMES.map((_, i) => i))), []);
  const m = missingChannels(new Set([ARKIT.jawOpen, ARKIT.eyeBlinkLeft]));
  assert.equal(m.length, 50);
  assert.equal(m[0], 'eyeLookDownLeft');
  assert.ok(!m.includes('jawOpen') && m.includes('tongueOut'));
});

test('viseme weights from ARKit mouth channels', () => {
  const V = Object.fromEntries(VISEME_NAMES.map((n, i) => [n, i]));
  const pose = (w) => { const p = new Float32Array(55); for (const [k, v] of Object.entries(w)) p[ARKIT[k]] = v; return p; };
  const top = (w) => { const out = new Float32Array(15); visemeWeights(pose(w), out); const s = out.reduce((a, b) => a + b, 0); assert.ok(s <= 1.0001, `sum ${s}`); const rest = [...out.subarray(1)]; const m = Math.max(...rest); return [m > 0 ? VISEME_NAMES[1 + rest.indexOf(m)] : 'viseme_sil', out]; };
  // the strongest viseme other than sil (sil takes what the others leave, up to 1)
  assert.equal(top({})[0], 'viseme_sil');
  assert.equal(top({})[1][V.viseme_sil], 1);
  assert.equal(top({ jawOpen: 0.8 })[0], 'viseme_aa');
  assert.ok(top({ jawOpen: 0.8 })[1][V.viseme_aa] > 0.6);
  assert.equal(top({ jawOpen: 0.3, mouthFunnel: 0.8 })[0], 'viseme_O');
  assert.equal(top({ mouthPucker: 0.9 })[0], 'viseme_U');
  assert.equal(top({ mouthPressLeft: 0.8, mouthPressRight: 0.8, mouthRollLower: 0.5, mouthRollUpper: 0.5 })[0], 'viseme_PP');
  assert.equal(top({ mouthRollLower: 0.8, mouthUpperUpLeft: 0.3 })[0], 'viseme_FF');
  assert.equal(top({ jawOpen: 0.1, tongueOut: 0.7 })[0], 'viseme_TH');
  assert.equal(top({ jawOpen: 0.45, mouthStretchLeft: 0.6, mouthStretchRight: 0.6 })[0], 'viseme_E');
  assert.equal(top({ jawOpen: 0.05, mouthSmileLeft: 0.7, mouthSmileRight: 0.7 })[0], 'viseme_I');
  // mouthClose against an open jaw closes the lips: no open viseme
  assert.ok(top({ jawOpen: 0.6, mouthClose: 0.6 })[1][V.viseme_aa] < 0.05);
});
