// A small user-style GLB that is not our default avatar: one sphere "head" with a handful of
// ARKit targets in foreign spellings (Apple, ARKit raw _L, PascalCase, prefixed) plus a
// non-ARKit viseme target, to check that any such asset loads and animates.
import { writeFileSync } from 'node:fs';
import { computeNormals, writeGlb } from './glb.mjs';

export function makeTestGlb() {
  const pos = [], col = [], idx = [];
  const S = 32, Rr = 20;
  for (let i = 0; i <= Rr; i++) for (let j = 0; j < S; j++) {
    const th = (i / Rr) * Math.PI, ph = (j / S) * Math.PI * 2;
    pos.push(0.1 * Math.sin(th) * Math.sin(ph), 1.6 + 0.12 * Math.cos(th), 0.1 * Math.sin(th) * Math.cos(ph));
    const front = Math.sin(th) * Math.cos(ph) > 0.85 && Math.cos(th) < -0.2 && Math.cos(th) > -0.6;
    col.push(...(front ? [0.05, 0.02, 0.02, 1] : [0.9, 0.55, 0.3, 1]));
  }
  for (let i = 0; i < Rr; i++) for (let j = 0; j < S; j++) {
    const a = i * S + j, b = i * S + ((j + 1) % S), c = a + S, d = b + S;
    idx.push(a, c, b, b, c, d);
  }
  const P = Float32Array.from(pos);
  const target = (name, f) => {
    const d = new Float32Array(P.length);
    for (let i = 0; i < P.length / 3; i++) {
      const r = f(P[3 * i], P[3 * i + 1] - 1.6, P[3 * i + 2]);
      d.set(r, 3 * i);
    }
    return { name, positions: d };
  };
  const mouth = (x, y, z) => (z > 0.05 && y < -0.02 && y > -0.09 ? 1 : 0);
  const targets = [
    target('jawOpen', (x, y, z) => (z > 0.02 && y < -0.03 ? [0, -0.04, 0.01] : [0, 0, 0])),
    target('eyeBlink_L', (x, y, z) => (x > 0 && y > 0.02 && z > 0.05 ? [0, -0.01, 0] : [0, 0, 0])),
    target('blendShape1.MouthSmileLeft', (x, y, z) => [0, 0.01 * mouth(x, y, z) * (x > 0 ? 1 : 0), 0]),
    target('viseme_aa', (x, y, z) => [0, -0.02 * mouth(x, y, z), 0]),
  ];
  const meshes = [{ name: 'UserHead', positions: P, normals: computeNormals(P, idx), colors: Float32Array.from(col), indices: idx, material: 0, targets }];
  return writeGlb({ nodes: [{ name: 'UserHead', mesh: 0, root: true }], meshes, materials: [{ name: 'm', roughness: 0.6 }] });
}

if (process.argv[1]?.endsWith('make-test-glb.mjs')) writeFileSync(process.argv[2] ?? 'user.glb', makeTestGlb());
