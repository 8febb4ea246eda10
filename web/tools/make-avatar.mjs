// Generates the default avatar (a stylized head and shoulders) as a GLB: skin with lips,
// nose, ears, eyeballs, eyelids, brows, hair, teeth, tongue, mouth cavity, neck and torso,
// plus the 52 ARKit morph targets sculpted as functions of position. Usage:
//   node tools/make-avatar.mjs OUT.glb
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { computeNormals, writeGlb } from './glb.mjs';

// the 52 ARKit names in wire order (../src/arkit.ts holds the SDK's copy; the tools run without a build)
export const NAMES = [
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
];

// ---- small math -------------------------------------------------------------------------
const clamp = (x, a, b) => Math.min(b, Math.max(a, x));
const smooth = (e0, e1, x) => { const t = clamp((x - e0) / (e1 - e0), 0, 1); return t * t * (3 - 2 * t); };
const lerp = (a, b, t) => a + (b - a) * t;
const norm = (v) => { const l = Math.hypot(v[0], v[1], v[2]) || 1; return [v[0] / l, v[1] / l, v[2] / l]; };
const gauss = (dx, dy, sx, sy) => Math.exp(-0.5 * ((dx / sx) ** 2 + (dy / sy) ** 2));
const srgb = (r, g, b) => [r ** 2.2, g ** 2.2, b ** 2.2, 1];
const mix = (a, b, t) => a.map((x, i) => lerp(x, b[i], t));
function rotX(p, c, a) { const y = p[1] - c[1], z = p[2] - c[2]; const s = Math.sin(a), k = Math.cos(a); return [p[0], c[1] + y * k - z * s, c[2] + y * s + z * k]; }
function rotY(p, c, a) { const x = p[0] - c[0], z = p[2] - c[2]; const s = Math.sin(a), k = Math.cos(a); return [c[0] + x * k + z * s, p[1], c[2] - x * s + z * k]; }

// ---- layout (metres, y up, avatar faces +z; avatar's left is +x) ----------------------------
const HEAD_NODE = [0, 1.47, 0];
/** Stylized proportions: the head is drawn 15% larger than the body would suggest. */
const HEAD_SCALE = 1.15;
const C = [0, 0.112, 0.004]; // head centre in head-node space
const R = [0.079, 0.104, 0.094];
const mDir = norm([0, -0.40, 1]);
const right = [1, 0, 0];
const up = norm([0, mDir[2], -mDir[1]]);
const EYE_Y = C[1] + 0.006;
const EYE_X = 0.034;
const EYE_R = 0.0172;

/** Looks: colours, hair cut and face width. 'default' and a second avatar, 'mira'. */
export const STYLES = {
  default: {
    skin: [0.95, 0.76, 0.64], skinShade: [0.88, 0.64, 0.54], blush: [0.96, 0.64, 0.58],
    lip: [0.84, 0.50, 0.49], lipIn: [0.60, 0.26, 0.28], hair: [0.23, 0.14, 0.09], hairHi: [0.36, 0.23, 0.15],
    brow: [0.20, 0.12, 0.08], iris: [0.30, 0.47, 0.56], irisOut: [0.14, 0.24, 0.32],
    shirt: [0.18, 0.40, 0.55], collar: [0.93, 0.93, 0.90], hairCut: 'short', faceWidth: 1, browThick: 1,
  },
  mira: {
    skin: [0.72, 0.50, 0.38], skinShade: [0.60, 0.40, 0.30], blush: [0.78, 0.46, 0.40],
    lip: [0.66, 0.34, 0.34], lipIn: [0.45, 0.18, 0.20], hair: [0.07, 0.05, 0.05], hairHi: [0.16, 0.11, 0.09],
    brow: [0.08, 0.06, 0.05], iris: [0.36, 0.24, 0.12], irisOut: [0.16, 0.10, 0.05],
    shirt: [0.62, 0.22, 0.30], collar: [0.62, 0.22, 0.30], hairCut: 'bob', faceWidth: 0.95, browThick: 0.8,
  },
};
let COL = null;
let STYLE = null;
function useStyle(st) {
  STYLE = st;
  const c = (k) => srgb(...st[k]);
  COL = {
    skin: c('skin'), skinShade: c('skinShade'), blush: c('blush'), lip: c('lip'), lipIn: c('lipIn'),
    hair: c('hair'), hairHi: c('hairHi'), brow: c('brow'), sclera: srgb(0.96, 0.95, 0.93),
    iris: c('iris'), irisOut: c('irisOut'), pupil: srgb(0.02, 0.02, 0.03), lash: srgb(0.06, 0.04, 0.04),
    teeth: srgb(0.97, 0.96, 0.92), tongue: srgb(0.82, 0.42, 0.44), mouth: srgb(0.30, 0.08, 0.10),
    shirt: c('shirt'), collar: c('collar'),
  };
}

// ---- head skin: a sphere whose pole sits in the mouth so the rings become lip contours -----
// Lip rings: [horizontal half-angle, upper half-angle, lower half-angle, inward depth, bulge, colour t]
const LIP_RINGS = [
  [0.22, 0.030, 0.030, 0.011, 0.000, 1.0],
  [0.255, 0.016, 0.016, 0.006, 0.000, 1.0],
  [0.28, 0.002, 0.002, 0.0005, 0.0015, 0.9],
  [0.292, 0.034, 0.042, 0.000, 0.0036, 0.8],
  [0.305, 0.068, 0.082, 0.000, 0.0028, 0.7],
  [0.325, 0.092, 0.115, 0.000, 0.0012, 0.25],
];
const SEG = 72;
const SKIN_RINGS = 40;
const TH_A = 0.345;

function chartDir(qx, qy) {
  const a = Math.hypot(qx, qy);
  if (a < 1e-9) return mDir.slice();
  const s = Math.sin(a) / a, c = Math.cos(a);
  return norm([
    mDir[0] * c + (right[0] * qx + up[0] * qy) * s,
    mDir[1] * c + (right[1] * qx + up[1] * qy) * s,
    mDir[2] * c + (right[2] * qx + up[2] * qy) * s,
  ]);
}

const MOUTH = (() => { const d = mDir; return [C[0] + d[0] * R[0], C[1] + d[1] * R[1], C[2] + d[2] * R[2]]; })();

/** Ellipsoid point for a direction, with the jaw narrowed and the skull fuller at the back. */
function baseShape(d) {
  let x = d[0] * R[0], y = d[1] * R[1], z = d[2] * R[2];
  const below = smooth(0.0, -0.9, d[1]);
  x *= 1 - 0.20 * below * smooth(-0.3, 0.6, d[2]);
  z *= d[2] < 0 ? 1.07 : 1;
  y *= d[1] > 0 ? 1.02 : 1;
  return [C[0] + x, C[1] + y, C[2] + z];
}

/** Sculpted features, as an offset along the outward normal. */
function features(p) {
  const [x, y, z] = p;
  if (z < C[2] - 0.02) return 0;
  const front = smooth(C[2] - 0.02, C[2] + 0.06, z);
  const ax = Math.abs(x);
  let h = 0;
  const my = MOUTH[1];
  h += 0.0175 * gauss(x, y - (my + 0.034), 0.0085, 0.0095); // nose tip
  h += 0.0045 * gauss(x, y - (my + 0.028), 0.006, 0.004); // columella under the tip
  h += 0.0095 * gauss(x, y - (my + 0.056), 0.0062, 0.019); // bridge
  h += 0.0058 * gauss(ax - 0.0112, y - (my + 0.028), 0.0055, 0.005); // nostril wings
  h -= 0.0022 * gauss(ax - 0.0072, y - (my + 0.0225), 0.0024, 0.0018); // nostrils
  h -= 0.0062 * gauss(ax - EYE_X, y - EYE_Y, 0.0135, 0.0095); // eye sockets
  h += 0.0045 * gauss(ax - 0.03, y - (EYE_Y + 0.024), 0.02, 0.008); // brow ridge
  h += 0.0055 * gauss(ax - 0.047, y - (EYE_Y - 0.026), 0.016, 0.014); // cheekbones
  h += 0.006 * gauss(x, y - (my - 0.04), 0.017, 0.013); // chin
  h += 0.0016 * gauss(ax - 0.0046, y - (my + 0.0135), 0.0018, 0.0055); // philtral columns
  h -= 0.0006 * gauss(x, y - (my + 0.0135), 0.0022, 0.005); // philtrum groove
  return h * front;
}

function shapeAt(d) {
  const p = baseShape(d);
  const n = norm([(p[0] - C[0]) / (R[0] * R[0]), (p[1] - C[1]) / (R[1] * R[1]), (p[2] - C[2]) / (R[2] * R[2])]);
  const h = features(p);
  return { p: [p[0] + n[0] * h, p[1] + n[1] * h, p[2] + n[2] * h], n };
}

function buildHeadSkin() {
  const pos = [], col = [], info = [];
  const rings = [];
  LIP_RINGS.forEach((r, k) => rings.push({ k, A: r[0], Bu: r[1], Bl: r[2], depth: r[3], bulge: r[4], lip: r[5] }));
  for (let i = 1; i <= SKIN_RINGS; i++) {
    const th = lerp(TH_A, Math.PI - 0.06, (i / SKIN_RINGS) ** 1.25);
    const s = smooth(TH_A, 1.15, th);
    const last = LIP_RINGS[LIP_RINGS.length - 1];
    rings.push({ k: -1, A: lerp(last[0] * th / TH_A, th, s), Bu: lerp(last[1] * th / TH_A, th, s), Bl: lerp(last[2] * th / TH_A, th, s), depth: 0, bulge: 0, lip: i === 1 ? 0.08 : 0, th });
  }
  for (const r of rings) {
    for (let j = 0; j < SEG; j++) {
      const phi = (j / SEG) * Math.PI * 2;
      const c = Math.cos(phi), s = Math.sin(phi);
      const qx = r.A * c, qy = (s >= 0 ? r.Bu : r.Bl) * s;
      const d = chartDir(qx, qy);
      const { p, n } = shapeAt(d);
      let q = p;
      if (r.bulge) q = [q[0] + n[0] * r.bulge, q[1] + n[1] * r.bulge, q[2] + n[2] * r.bulge];
      if (r.depth) q = [q[0] - mDir[0] * r.depth, q[1] - mDir[1] * r.depth * 0.4, q[2] - mDir[2] * r.depth];
      pos.push(...q);
      let cc = COL.skin;
      if (r.lip > 0) cc = mix(COL.skin, r.k >= 0 && r.k < 2 ? COL.lipIn : COL.lip, r.lip);
      const bl = gauss(Math.abs(q[0]) - 0.048, q[1] - (EYE_Y - 0.036), 0.014, 0.012);
      if (r.lip === 0) cc = mix(cc, COL.blush, 0.45 * bl);
      if (r.lip === 0) cc = mix(cc, COL.skinShade, 0.3 * smooth(C[2] - 0.02, C[2] - 0.06, q[2]));
      col.push(...cc);
      info.push({ k: r.k, s, c, lip: r.lip, th: r.th ?? 0.2 });
    }
  }
  // back pole
  const poleD = [-mDir[0], -mDir[1], -mDir[2]];
  const pole = shapeAt(poleD).p;
  pos.push(...pole);
  col.push(...mix(COL.skin, COL.skinShade, 0.3));
  info.push({ k: -1, s: 0, c: 0, lip: 0, th: Math.PI });
  const idx = [];
  const nr = rings.length;
  for (let i = 0; i < nr - 1; i++) {
    for (let j = 0; j < SEG; j++) {
      const a = i * SEG + j, b = i * SEG + ((j + 1) % SEG), c2 = (i + 1) * SEG + j, d2 = (i + 1) * SEG + ((j + 1) % SEG);
      idx.push(a, c2, b, b, c2, d2);
    }
  }
  const P = nr * SEG;
  for (let j = 0; j < SEG; j++) idx.push((nr - 1) * SEG + j, P, (nr - 1) * SEG + ((j + 1) % SEG));
  return { pos, col, idx, info };
}

// ---- generic parametric helpers ------------------------------------------------------------
function ellipsoid(c, r, seg = 32, rings = 20, color = () => [1, 1, 1, 1]) {
  const pos = [], col = [], idx = [];
  for (let i = 0; i <= rings; i++) {
    const v = i / rings, th = v * Math.PI;
    for (let j = 0; j < seg; j++) {
      const ph = (j / seg) * Math.PI * 2;
      const d = [Math.sin(th) * Math.sin(ph), Math.cos(th), Math.sin(th) * Math.cos(ph)];
      const p = [c[0] + d[0] * r[0], c[1] + d[1] * r[1], c[2] + d[2] * r[2]];
      pos.push(...p);
      col.push(...color(d, p));
    }
  }
  for (let i = 0; i < rings; i++) for (let j = 0; j < seg; j++) {
    const a = i * seg + j, b = i * seg + ((j + 1) % seg), c2 = (i + 1) * seg + j, d2 = (i + 1) * seg + ((j + 1) % seg);
    idx.push(a, c2, b, b, c2, d2);
  }
  return { pos, col, idx };
}

function merge(parts) {
  const pos = [], col = [], idx = [], tag = [];
  for (const [t, p] of parts) {
    const base = pos.length / 3;
    pos.push(...p.pos);
    col.push(...p.col);
    for (const i of p.idx) idx.push(i + base);
    for (let i = 0; i < p.pos.length / 3; i++) tag.push(t);
  }
  return { pos, col, idx, tag };
}

// ---- eyes and lids -----------------------------------------------------------------------
let EYE_Z = 0.08; // set from the sculpted skin in makeAvatar()
const eyeCentre = (side) => [side * EYE_X, EYE_Y, EYE_Z];
function eyeball(side) {
  // a sphere whose pole looks out of the eye, so pupil and iris are drawn by concentric rings
  // (round at any resolution), the rings densest around the iris
  const c = eyeCentre(side);
  const out = side * 0.05; // slight outward rest gaze
  const ax = [Math.sin(out), 0, Math.cos(out)], ux = [Math.cos(out), 0, -Math.sin(out)], uy = [0, 1, 0];
  const pos = [], col = [], idx = [];
  const SEGS = 40, RINGS = 26;
  const color = (ang, dd) => {
    const hl = Math.hypot(dd[0] - 0.17, dd[1] - 0.2); // catchlight up and to the side
    if (hl < 0.065) return srgb(1, 1, 1);
    if (ang < 0.2) return COL.pupil;
    if (ang < 0.55) return mix(mix(COL.iris, srgb(0.62, 0.72, 0.72), smooth(0.38, 0.2, ang) * 0.35), COL.irisOut, smooth(0.36, 0.55, ang));
    if (ang < 0.6) return mix(COL.irisOut, COL.sclera, smooth(0.55, 0.6, ang));
    return mix(COL.sclera, srgb(0.86, 0.78, 0.76), smooth(1.2, 1.7, ang));
  };
  pos.push(c[0] + ax[0] * EYE_R, c[1] + ax[1] * EYE_R, c[2] + ax[2] * EYE_R);
  col.push(...COL.pupil);
  for (let i = 1; i <= RINGS; i++) {
    const t = i / RINGS;
    const ang = t < 0.5 ? 0.7 * (t / 0.5) ** 1.2 : lerp(0.7, Math.PI, (t - 0.5) / 0.5);
    for (let j = 0; j < SEGS; j++) {
      const ph = (j / SEGS) * Math.PI * 2;
      const lx = Math.sin(ang) * Math.cos(ph), ly = Math.sin(ang) * Math.sin(ph), lz = Math.cos(ang);
      const d = [ux[0] * lx + uy[0] * ly + ax[0] * lz, ux[1] * lx + uy[1] * ly + ax[1] * lz, ux[2] * lx + uy[2] * ly + ax[2] * lz];
      pos.push(c[0] + d[0] * EYE_R, c[1] + d[1] * EYE_R, c[2] + d[2] * EYE_R);
      col.push(...color(ang, [lx, ly]));
    }
  }
  for (let j = 0; j < SEGS; j++) idx.push(0, 1 + j, 1 + ((j + 1) % SEGS));
  for (let i = 0; i < RINGS - 1; i++) for (let j = 0; j < SEGS; j++) {
    const a = 1 + i * SEGS + j, b = 1 + i * SEGS + ((j + 1) % SEGS), c2 = a + SEGS, d2 = b + SEGS;
    idx.push(a, c2, b, b, c2, d2);
  }
  return { pos, col, idx };
}
const LID_UP_EDGE = 0.36, LID_LO_EDGE = -0.47;
function lid(side, upper) {
  const c = eyeCentre(side);
  const pos = [], col = [], idx = [];
  const NA = 28, NE = 10;
  const e0 = upper ? LID_UP_EDGE : LID_LO_EDGE;
  const e1 = upper ? 1.85 : -1.45;
  const rows = [];
  rows.push({ e: e0, r: EYE_R * 1.005, dark: true });
  for (let i = 0; i <= NE; i++) rows.push({ e: lerp(e0, e1, (i / NE) ** 1.3), r: EYE_R * (1.06 - 0.05 * (i / NE) ** 2), dark: i === 0 });
  for (const row of rows) {
    for (let a = 0; a <= NA; a++) {
      const al = lerp(-1.45, 1.45, a / NA);
      // lid edge dips toward the corners so the eye opening is almond shaped
      const dip = (upper ? -1 : 1) * 0.28 * al * al * (row === rows[0] || row === rows[1] ? 1 : 1 - (Math.abs(row.e - e0) / Math.abs(e1 - e0)));
      const e = row.e + dip;
      const d = [Math.sin(al) * Math.cos(e), Math.sin(e), Math.cos(al) * Math.cos(e)];
      pos.push(c[0] + d[0] * row.r, c[1] + d[1] * row.r, c[2] + d[2] * row.r);
      col.push(...(row.dark && upper ? COL.lash : row.dark ? mix(COL.skin, COL.lipIn, 0.35) : mix(COL.skin, COL.skinShade, 0.12)));
    }
  }
  const W = NA + 1;
  for (let i = 0; i < rows.length - 1; i++) for (let a = 0; a < NA; a++) {
    const p0 = i * W + a, p1 = p0 + 1, p2 = p0 + W, p3 = p2 + 1;
    if (upper) idx.push(p0, p1, p2, p1, p3, p2); else idx.push(p0, p2, p1, p1, p2, p3);
  }
  if (upper) {
    // eyelashes: a curled strip along the lid edge, longest at the outer corner, two-sided
    const K = 3;
    // two copies with opposite winding and their own vertices, so each side gets a clean normal
    for (const face of [1, -1]) {
    const base = pos.length / 3;
    for (let a = 0; a <= NA; a++) {
      const al = lerp(-1.2, 1.2, a / NA);
      const e = e0 - 0.28 * al * al;
      const d = [Math.sin(al) * Math.cos(e), Math.sin(e), Math.cos(al) * Math.cos(e)];
      const outer = smooth(-1.2, 1.0, side * al);
      const len = EYE_R * (0.09 + 0.16 * outer) * Math.sin(Math.PI * (0.06 + 0.88 * a / NA)) ** 0.5;
      for (let k = 0; k <= K; k++) {
        const t = k / K;
        const r = EYE_R * 1.04 + len * t;
        pos.push(c[0] + d[0] * r + side * 0.15 * len * t * outer, c[1] + d[1] * r + len * 0.9 * t * t, c[2] + d[2] * r);
        col.push(...COL.lash);
      }
    }
    const KW = K + 1;
    for (let a = 0; a < NA; a++) for (let k = 0; k < K; k++) {
      const p0 = base + a * KW + k, p1 = p0 + KW, p2 = p0 + 1, p3 = p1 + 1;
      if (face > 0) idx.push(p0, p1, p2, p2, p1, p3); else idx.push(p0, p2, p1, p2, p3, p1);
    }
    }
  }
  return { pos, col, idx };
}

// ---- brows ---------------------------------------------------------------------------------
function brow(side, skin) {
  const pos = [], col = [], idx = [];
  const N = 16, M = 6;
  const P = skin.pos;
  const nearest = (x, y) => {
    let best = [], bd = [];
    for (let i = 0; i < P.length / 3; i++) {
      if (P[3 * i + 2] < C[2]) continue;
      const d = (P[3 * i] - x) ** 2 + (P[3 * i + 1] - y) ** 2;
      if (best.length < 4 || d < bd[3]) {
        best.push(i); bd.push(d);
        const o = best.map((b, k) => [b, bd[k]]).sort((u, v) => u[1] - v[1]).slice(0, 4);
        best = o.map((u) => u[0]); bd = o.map((u) => u[1]);
      }
    }
    let z = 0, w = 0;
    for (let k = 0; k < best.length; k++) { const ww = 1 / (bd[k] + 1e-9); z += P[3 * best[k] + 2] * ww; w += ww; }
    return z / w;
  };
  for (let i = 0; i <= N; i++) {
    const t = i / N;
    const x = side * lerp(0.011, 0.05, t);
    const y = EYE_Y + 0.021 + 0.007 * Math.sin(Math.PI * (0.2 + 0.75 * t)) - 0.004 * t;
    const thick = lerp(0.0055, 0.0019, t ** 1.2) * STYLE.browThick;
    for (let j = 0; j <= M; j++) {
      const a = (j / M) * Math.PI;
      const yy = y + Math.cos(a) * thick;
      const z = nearest(x, yy) + 0.0012 + Math.sin(a) * 0.0016;
      pos.push(x, yy, z);
      col.push(...COL.brow);
    }
  }
  const W = M + 1;
  for (let i = 0; i < N; i++) for (let j = 0; j < M; j++) {
    const p0 = i * W + j, p1 = p0 + 1, p2 = p0 + W, p3 = p2 + 1;
    if (side > 0) idx.push(p0, p2, p1, p1, p2, p3); else idx.push(p0, p1, p2, p1, p3, p2);
  }
  return { pos, col, idx };
}

// ---- hair ----------------------------------------------------------------------------------
function hair() {
  const pos = [], col = [], idx = [];
  const NA = 180, NT = 28;
  const bob = STYLE.hairCut === 'bob';
  for (let t = 0; t <= NT; t++) {
    const v = t / NT;
    for (let a = 0; a < NA; a++) {
      const az = (a / NA) * Math.PI * 2; // 0 = front
      const fr = Math.cos(az);
      // hairline elevation: high on the forehead with a side-swept fringe, low at the nape
      const fz = Math.atan2(Math.sin(az), Math.cos(az)); // -pi..pi, 0 = front, + = avatar's left
      let line;
      if (bob) {
        // chin-length bob framing the face, parted on the avatar's left
        line = lerp(-0.78, 0.6, smooth(0.3, 0.82, fr)) + 0.05 * smooth(0.1, 0.6, fz) * smooth(1.0, 0.6, fz);
      } else {
        // short cut: the hairline high enough to show the brows, a soft side-swept fringe
        line = fr >= 0 ? lerp(0.17, 0.6, fr ** 0.8) : lerp(0.17, -0.85, smooth(0, 0.6, -fr)); // down to the nape
        line += 0.07 * smooth(0.1, 0.7, fz) * smooth(1.3, 0.8, fz) - 0.06 * smooth(0.25, -0.5, fz) * smooth(-1.4, -0.9, fz);
        // sideburns in front of the ears
        line -= 0.26 * Math.exp(-(((Math.abs(fz) - 1.22) / 0.14) ** 2));
      }
      const el = lerp(line, Math.PI / 2 - 0.05, v);
      const d = [Math.sin(az) * Math.cos(el), Math.sin(el), Math.cos(az) * Math.cos(el)];
      const base = baseShape(d);
      const fz2 = Math.atan2(Math.sin(az), Math.cos(az));
      const part = 0.006 * Math.exp(-((fz2 - 0.55) ** 2) / 0.15) * smooth(0.3, 0.7, v); // volume beside the part
      let puff = lerp(0.0, 1, smooth(0, 0.25, v)) * (0.008 + 0.016 * Math.max(0, d[1]) + 0.006 * Math.max(0, -d[2]) + 0.004 * Math.abs(d[0])) + part;
      if (bob) puff += (0.014 + 0.006 * Math.max(0, -d[2])) * smooth(0.1, -0.5, d[1]) * smooth(0.75, 0.4, fr) + 0.003 * smooth(0.8, 0.3, fr);
      const nrm = norm([(base[0] - C[0]) / R[0] ** 2, (base[1] - C[1]) / R[1] ** 2, (base[2] - C[2]) / R[2] ** 2]);
      const chunk = 0.0012 * Math.sin(az * 14 + v * 5) * smooth(0.05, 0.4, v) * smooth(1, 0.75, v);
      const off = puff + chunk - 0.0015 * (1 - smooth(0, 0.08, v));
      pos.push(base[0] + nrm[0] * off, base[1] + nrm[1] * off, base[2] + nrm[2] * off);
      col.push(...mix(COL.hair, COL.hairHi, 0.5 + 0.5 * Math.sin(az * 9 + v * 7) * smooth(0.1, 0.8, v)));
    }
  }
  const top = pos.length / 3;
  let tx = 0, ty = 0, tz = 0;
  for (let a = 0; a < NA; a++) { const k = 3 * (NT * NA + a); tx += pos[k]; ty += pos[k + 1]; tz += pos[k + 2]; }
  pos.push(tx / NA, ty / NA + 0.0015, tz / NA);
  col.push(...COL.hairHi);
  for (let t = 0; t < NT; t++) for (let a = 0; a < NA; a++) {
    const p0 = t * NA + a, p1 = t * NA + ((a + 1) % NA), p2 = p0 + NA, p3 = p1 + NA;
    idx.push(p0, p1, p2, p1, p3, p2);
  }
  for (let a = 0; a < NA; a++) idx.push(NT * NA + a, NT * NA + ((a + 1) % NA), top);
  return { pos, col, idx };
}

// ---- mouth interior ------------------------------------------------------------------------
function teethRow(upper) {
  const pos = [], col = [], idx = [];
  const cz = MOUTH[2] - 0.036, cy = MOUTH[1] + (upper ? 0.0045 : -0.0055);
  const rad = 0.028, N = 24, h = 0.0065;
  for (let i = 0; i <= N; i++) {
    const a = lerp(-1.15, 1.15, i / N);
    const ring = [[rad, 0], [rad, upper ? -h : h], [rad - 0.003, upper ? -h : h], [rad - 0.003, 0]];
    for (const [r, dy] of ring) {
      pos.push(Math.sin(a) * r, cy + dy, cz + Math.cos(a) * r);
      col.push(...mix(COL.teeth, srgb(0.85, 0.82, 0.76), Math.abs(a) / 1.15 * 0.6));
    }
  }
  for (let i = 0; i < N; i++) for (let k = 0; k < 4; k++) {
    const a = i * 4 + k, b = i * 4 + ((k + 1) % 4), c = a + 4, d = b + 4;
    if (upper) idx.push(a, c, b, b, c, d); else idx.push(a, b, c, b, d, c);
  }
  return { pos, col, idx };
}

// ---- body ----------------------------------------------------------------------------------
function torso() {
  const pos = [], col = [], idx = [];
  const NA = 64;
  const prof = [];
  // [y, half width, half depth, colour]: neck base into shoulders and chest (body-node space)
  const rows = [
    [1.47, 0.053, 0.05, 'skin'], [1.458, 0.06, 0.055, 'collar'], [1.448, 0.08, 0.064, 'collar'],
    [1.44, 0.105, 0.07, 'shirt'], [1.427, 0.14, 0.08, 'shirt'], [1.41, 0.165, 0.088, 'shirt'],
    [1.388, 0.18, 0.094, 'shirt'], [1.355, 0.186, 0.097, 'shirt'], [1.3, 0.178, 0.1, 'shirt'],
    [1.2, 0.162, 0.1, 'shirt'], [1.08, 0.152, 0.095, 'shirt'], [0.98, 0.15, 0.093, 'shirt'],
  ];
  for (const r of rows) prof.push(r);
  prof.forEach(([y, w, d, c], i) => {
    for (let a = 0; a < NA; a++) {
      const az = (a / NA) * Math.PI * 2;
      const sx = Math.sin(az), cz = Math.cos(az);
      const e = 2.25; // superellipse: slightly square shoulders
      const x = Math.sign(sx) * Math.abs(sx) ** (2 / e) * w;
      const z = Math.sign(cz) * Math.abs(cz) ** (2 / e) * d + 0.005;
      pos.push(x, y, z);
      const collar = c === 'collar';
      col.push(...(c === 'skin' ? COL.skin : collar ? COL.collar : COL.shirt));
    }
  });
  for (let i = 0; i < prof.length - 1; i++) for (let a = 0; a < NA; a++) {
    const p0 = i * NA + a, p1 = i * NA + ((a + 1) % NA), p2 = p0 + NA, p3 = p1 + NA;
    idx.push(p0, p1, p2, p1, p3, p2);
  }
  return { pos, col, idx };
}

/** Arms at rest: sleeved upper arms hanging from the shoulders, slightly out and back. */
function arms() {
  const parts = [];
  for (const s of [1, -1]) {
    const pos = [], col = [], idx = [];
    const NA = 28, NL = 14;
    const top = [s * 0.163, 1.372, -0.004], bot = [s * 0.2, 0.98, -0.018];
    for (let i = 0; i <= NL; i++) {
      const t = i / NL;
      const c = [lerp(top[0], bot[0], t), lerp(top[1], bot[1], t), lerp(top[2], bot[2], t)];
      const r = lerp(0.05, 0.037, t) * (1 + 0.1 * Math.sin(Math.PI * Math.min(1, t * 2.5)));
      for (let a = 0; a < NA; a++) {
        const az = (a / NA) * Math.PI * 2;
        pos.push(c[0] + Math.sin(az) * r * 0.92, c[1], c[2] + Math.cos(az) * r);
        col.push(...mix(COL.shirt, srgb(0, 0, 0), 0.12 * smooth(0.3, 1, Math.abs(Math.sin(az)) * (s * Math.sin(az) < 0 ? 1 : 0))));
      }
    }
    for (let i = 0; i < NL; i++) for (let a = 0; a < NA; a++) {
      const p0 = i * NA + a, p1 = i * NA + ((a + 1) % NA), p2 = p0 + NA, p3 = p1 + NA;
      idx.push(p0, p2, p1, p1, p2, p3);
    }
    // a rounded shoulder (deltoid) dome closing the top
    const r0 = 0.05, DOME = 5, domeBase = pos.length / 3;
    for (let k = 1; k <= DOME; k++) {
      const an = (k / (DOME + 1)) * Math.PI / 2;
      for (let a = 0; a < NA; a++) {
        const az = (a / NA) * Math.PI * 2;
        pos.push(top[0] + Math.sin(az) * r0 * 0.92 * Math.cos(an), top[1] + r0 * 0.85 * Math.sin(an), top[2] + Math.cos(az) * r0 * Math.cos(an));
        col.push(...COL.shirt);
      }
    }
    const apex = pos.length / 3;
    pos.push(top[0], top[1] + r0 * 0.85, top[2]);
    col.push(...COL.shirt);
    const ring = (k, a) => (k === 0 ? a % NA : domeBase + (k - 1) * NA + (a % NA));
    for (let k = 0; k < DOME; k++) for (let a = 0; a < NA; a++) {
      const p0 = ring(k, a), p1 = ring(k, a + 1), p2 = ring(k + 1, a), p3 = ring(k + 1, a + 1);
      idx.push(p0, p1, p2, p1, p3, p2);
    }
    for (let a = 0; a < NA; a++) idx.push(ring(DOME, a), ring(DOME, a + 1), apex);
    parts.push([s, { pos, col, idx }]);
  }
  return merge(parts);
}

function neck() {
  const pos = [], col = [], idx = [];
  const NA = 40, NY = 8;
  for (let i = 0; i <= NY; i++) {
    const y = lerp(1.44, 1.58, i / NY);
    for (let a = 0; a < NA; a++) {
      const az = (a / NA) * Math.PI * 2;
      const r = 0.052 + 0.007 * smooth(1.47, 1.44, y);
      pos.push(Math.sin(az) * r, y, Math.cos(az) * r * 1.05 - 0.006);
      col.push(...mix(COL.skin, COL.skinShade, 0.35 * smooth(1.54, 1.5, y)));
    }
  }
  for (let i = 0; i < NY; i++) for (let a = 0; a < NA; a++) {
    const p0 = i * NA + a, p1 = i * NA + ((a + 1) % NA), p2 = p0 + NA, p3 = p1 + NA;
    idx.push(p0, p1, p2, p1, p3, p2);
  }
  return { pos, col, idx };
}

// ---- morph targets ---------------------------------------------------------------------------
const JAW_PIVOT = [0, C[1] - 0.004, C[2] - 0.04];
const JAW_ANGLE = 0.30;
const MX = MOUTH[0], MY = MOUTH[1];
const CORNER_X = 0.0235;

/** How much a skin vertex follows the jaw (1 lower lip and chin, 0 upper face). */
function jawWeight(p, inf) {
  let w = smooth(MY + 0.008, MY - 0.016, p[1]);
  if (inf && inf.th < 0.75) {
    const chart = smooth(0.18, -0.18, inf.s);
    const t = inf.k >= 0 ? 1 : smooth(0.75, 0.45, inf.th);
    w = lerp(w, chart, t);
  }
  w *= smooth(C[2] - 0.075, C[2] + 0.0, p[2]);
  w *= 1 - 0.6 * smooth(0.05, 0.075, Math.abs(p[0])) * smooth(C[2] + 0.03, C[2] - 0.02, p[2]);
  return w;
}
const lipW = (inf) => (!inf ? 0 : inf.k >= 0 ? 1 : inf.lip > 0 ? 0.5 : 0);
const upperW = (p, inf) => (inf && (inf.k >= 0 || inf.th < 0.6) ? smooth(-0.25, 0.25, inf.s) : smooth(MY - 0.004, MY + 0.004, p[1]));
const mouthRegion = (p, sx = 0.034, sy = 0.03) => gauss(p[0] - MX, p[1] - MY, sx, sy) * smooth(C[2], C[2] + 0.05, p[2]);
const corner = (p, side, sx = 0.013, sy = 0.012) => gauss(p[0] - side * CORNER_X, p[1] - MY, sx, sy) * smooth(C[2], C[2] + 0.05, p[2]);
const side = (p, s) => smooth(-0.006, 0.012, s * p[0]);
const near = (p, x, y, sx, sy) => gauss(p[0] - x, p[1] - y, sx, sy) * smooth(C[2] - 0.01, C[2] + 0.05, p[2]);
const add = (d, v, w) => { d[0] += v[0] * w; d[1] += v[1] * w; d[2] += v[2] * w; };
const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];

/** Displacement of a skin vertex for one target. */
function skinDelta(name, p, n, inf) {
  const d = [0, 0, 0];
  const L = lipW(inf);
  const U = upperW(p, inf);
  const Lo = 1 - U;
  const sideOf = /Left$/.test(name) ? 1 : /Right$/.test(name) ? -1 : 0;
  const base = name.replace(/(Left|Right)$/, '');
  const lipNear = Math.max(L, mouthRegion(p, 0.02, 0.014));
  switch (base) {
    case 'jawOpen': {
      const w = jawWeight(p, inf);
      add(d, sub(rotX(p, JAW_PIVOT, JAW_ANGLE), p), 1);
      d[0] *= w; d[1] *= w; d[2] *= w;
      // the corners draw in and the opening rounds as the jaw drops
      add(d, [-(p[0] - MX) * 0.16, 0, 0], Math.max(L, mouthRegion(p, 0.02, 0.012)) * (1 - Math.abs(inf?.s ?? 0)));
      add(d, [0, -0.003, 0.001], Lo * L * Math.abs(inf?.s ?? 0));
      break;
    }
    case 'jawForward': add(d, [0, 0, 0.009], jawWeight(p, inf)); break;
    case 'jaw': add(d, [sideOf * 0.011, 0, 0], jawWeight(p, inf)); break;
    case 'mouthClose': {
      const w = Lo * lipNear;
      add(d, sub(rotX(p, JAW_PIVOT, -JAW_ANGLE * 0.92), p), w);
      add(d, [0, -0.0025, 0.001], U * L);
      break;
    }
    case 'mouthFunnel': {
      const w = Math.max(L, mouthRegion(p, 0.024, 0.02));
      add(d, [-(p[0] - MX) * 0.32, 0, 0.0075], w);
      const inner = inf && inf.k >= 0 && inf.k <= 3 ? 1 : 0.3;
      add(d, [0, (U - Lo) * 0.0055, 0], L * inner * (1 - Math.abs(inf?.c ?? 0) * 0.6));
      break;
    }
    case 'mouthPucker': {
      const w = Math.max(L, mouthRegion(p, 0.026, 0.022));
      add(d, [-(p[0] - MX) * 0.45, 0, 0.011], w);
      add(d, [0, (Lo - U) * 0.0012, 0], L);
      break;
    }
    case 'mouth':
      if (sideOf) add(d, [sideOf * 0.011, 0, -0.001], mouthRegion(p));
      break;
    case 'mouthSmile': add(d, [sideOf * 0.006, 0.0095, -0.0045], corner(p, sideOf, 0.015, 0.013)); add(d, [0, 0.004, 0.002], near(p, sideOf * 0.045, MY + 0.022, 0.015, 0.015)); break;
    case 'mouthFrown': add(d, [sideOf * 0.002, -0.0085, -0.001], corner(p, sideOf, 0.014, 0.013)); break;
    case 'mouthDimple': add(d, [sideOf * 0.004, 0.001, -0.005], corner(p, sideOf, 0.012, 0.011)); break;
    case 'mouthStretch': add(d, [sideOf * 0.009, -0.003, -0.002], corner(p, sideOf, 0.016, 0.014)); break;
    case 'mouthRollLower': add(d, [0, 0.0035, -0.0065], Lo * L); break;
    case 'mouthRollUpper': add(d, [0, -0.0035, -0.006], U * L); break;
    case 'mouthShrugLower': add(d, [0, 0.0055, 0.003], Lo * Math.max(L, mouthRegion(p, 0.024, 0.03) * smooth(MY, MY - 0.02, p[1]))); break;
    case 'mouthShrugUpper': add(d, [0, 0.0035, 0.0025], U * Math.max(L * 1, mouthRegion(p, 0.02, 0.015))); break;
    case 'mouthPress': { const w = L * side(p, sideOf); add(d, [0, (Lo - U) * 0.0018, -0.0028], w); break; }
    case 'mouthLowerDown': add(d, [0, -0.0085, 0.0008], Lo * Math.max(L, mouthRegion(p, 0.02, 0.012)) * side(p, sideOf)); break;
    case 'mouthUpperUp': add(d, [0, 0.0075, 0.0008], U * Math.max(L, mouthRegion(p, 0.02, 0.012)) * side(p, sideOf)); break;
    case 'cheekPuff': for (const s of [1, -1]) add(d, [n[0] * 0.013, n[1] * 0.004, n[2] * 0.006 + 0.002], near(p, s * 0.043, MY + 0.006, 0.017, 0.016)); add(d, [0, 0, 0.002], L); break;
    case 'cheekSquint': add(d, [0, 0.0065, 0.002], near(p, sideOf * 0.04, EYE_Y - 0.021, 0.016, 0.01)); break;
    case 'noseSneer': add(d, [sideOf * 0.001, 0.0045, -0.0015], near(p, sideOf * 0.012, MY + 0.03, 0.008, 0.01)); add(d, [0, 0.002, 0], U * L * side(p, sideOf)); break;
    case 'browDown': add(d, [-sideOf * 0.0025, -0.0045, 0.0005], near(p, sideOf * 0.027, EYE_Y + 0.024, 0.017, 0.009)); break;
    case 'browInnerUp': for (const s of [1, -1]) add(d, [0, 0.0065, 0], near(p, s * 0.016, EYE_Y + 0.026, 0.012, 0.012)); break;
    case 'browOuterUp': add(d, [0, 0.0065, 0], near(p, sideOf * 0.045, EYE_Y + 0.024, 0.012, 0.012)); break;
    case 'eyeSquint': add(d, [0, 0.0025, 0.001], near(p, sideOf * EYE_X, EYE_Y - 0.015, 0.013, 0.006)); break;
    case 'eyeWide': add(d, [0, 0.002, 0], near(p, sideOf * EYE_X, EYE_Y + 0.016, 0.014, 0.006)); break;
    case 'tongueOut': add(d, [0, -0.004, 0.001], Lo * L); break;
    default: break;
  }
  return d;
}

function eyeRotation(name, eyeSide) {
  // eyeball rotation (x = pitch down positive, y = yaw toward +x positive) for a target
  const s = /Left$/.test(name) ? 1 : /Right$/.test(name) ? -1 : 0;
  if (s !== eyeSide) return null;
  const base = name.replace(/(Left|Right)$/, '');
  const yawIn = -s * 0.42; // toward the nose
  switch (base) {
    case 'eyeLookUp': return [-0.34, 0];
    case 'eyeLookDown': return [0.36, 0];
    case 'eyeLookIn': return [0, yawIn];
    case 'eyeLookOut': return [0, -yawIn];
    default: return null;
  }
}
function lidRotation(name, eyeSide, upper) {
  const s = /Left$/.test(name) ? 1 : /Right$/.test(name) ? -1 : 0;
  if (s !== eyeSide) return 0;
  const base = name.replace(/(Left|Right)$/, '');
  const t = {
    eyeBlink: [0.55, -0.29], eyeSquint: [0.1, -0.2], eyeWide: [-0.26, 0.08],
    eyeLookUp: [-0.16, -0.06], eyeLookDown: [0.28, 0.07],
  }[base];
  return t ? t[upper ? 0 : 1] : 0;
}
function browDelta(name, p, browSide, t) {
  const s = /Left$/.test(name) ? 1 : /Right$/.test(name) ? -1 : 0;
  const base = name.replace(/(Left|Right)$/, '');
  if (base === 'browInnerUp') return [0, 0.0085 * (1 - t) ** 1.2 + 0.0015, 0.0005];
  if (s !== browSide) return [0, 0, 0];
  if (base === 'browDown') return [-s * 0.003 * (1 - t), -0.0055 - 0.002 * (1 - t), 0.001];
  if (base === 'browOuterUp') return [0, 0.0085 * t ** 1.1 + 0.001, 0];
  if (base === 'eyeSquint') return [0, -0.0012, 0];
  if (base === 'eyeWide') return [0, 0.002, 0];
  return [0, 0, 0];
}

// ---- assemble -------------------------------------------------------------------------------
function targetsFor(pos, idx, deltaFn) {
  const baseN = computeNormals(pos, idx);
  const out = [];
  for (const name of NAMES) {
    const dp = new Float32Array(pos.length);
    let any = false;
    for (let i = 0; i < pos.length / 3; i++) {
      const d = deltaFn(name, i, [pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]], [baseN[3 * i], baseN[3 * i + 1], baseN[3 * i + 2]]);
      if (!d) continue;
      for (let k = 0; k < 3; k++) {
        const v = Math.abs(d[k]) < 2e-5 ? 0 : d[k];
        dp[3 * i + k] = v;
        if (v) any = true;
      }
    }
    if (!any) continue;
    const moved = Float32Array.from(pos, (v, i) => v + dp[i]);
    const mn = computeNormals(moved, idx);
    const dn = Float32Array.from(mn, (v, i) => (Math.abs(v - baseN[i]) < 4e-3 ? 0 : v - baseN[i]));
    out.push({ name, positions: dp, normals: dn });
  }
  return { normals: baseN, targets: out };
}

function meshOut(name, part, material, deltaFn, scale = 1) {
  const pos = Float32Array.from(part.pos);
  const idx = part.idx;
  const { normals, targets } = deltaFn ? targetsFor(pos, idx, deltaFn) : { normals: computeNormals(pos, idx), targets: [] };
  if (scale !== 1) {
    for (let i = 0; i < pos.length; i++) pos[i] *= scale;
    for (const t of targets) for (let i = 0; i < t.positions.length; i++) t.positions[i] *= scale;
  }
  return { name, positions: pos, normals, colors: Float32Array.from(part.col), indices: idx, material, targets };
}

function scaleMesh(m, k) {
  for (let i = 0; i < m.positions.length; i++) m.positions[i] *= k;
  for (const t of m.targets) for (let i = 0; i < t.positions.length; i++) t.positions[i] *= k;
}

/** The avatar GLB for a style name (STYLES) or a style object. */
export function makeAvatar(style = 'default') {
  useStyle(typeof style === 'string' ? STYLES[style] : style);
  const materials = [
    { name: 'Skin', roughness: 0.62 }, { name: 'Eyes', roughness: 0.12 }, { name: 'Hair', roughness: 0.75 },
    { name: 'Cloth', roughness: 0.88 }, { name: 'Teeth', roughness: 0.35 }, { name: 'MouthInside', roughness: 0.9 },
    { name: 'Brows', roughness: 0.95, doubleSided: true },
  ];
  const skin = buildHeadSkin();
  // seat the eyeballs in the sculpted sockets: about 40% of the ball in front of the skin
  {
    let best = 1, z = 0.09;
    for (let i = 0; i < skin.pos.length / 3; i++) {
      const d = Math.hypot(skin.pos[3 * i] - EYE_X, skin.pos[3 * i + 1] - EYE_Y);
      if (skin.pos[3 * i + 2] > C[2] && d < best) { best = d; z = skin.pos[3 * i + 2]; }
    }
    EYE_Z = z - EYE_R * 0.30;
  }
  const meshes = [];
  meshes.push(meshOut('Head_Skin', skin, 0, (name, i, p, n) => skinDelta(name, p, n, skin.info[i])));
  const eyes = merge([[1, eyeball(1)], [-1, eyeball(-1)]]);
  meshes.push(meshOut('Eyes', eyes, 1, (name, i, p) => {
    const s = eyes.tag[i];
    const r = eyeRotation(name, s);
    if (!r) return null;
    const c = eyeCentre(s);
    let q = rotX(p, c, r[0]);
    q = rotY(q, c, r[1]);
    return sub(q, p);
  }));
  const lids = merge([[[1, 1], lid(1, true)], [[1, 0], lid(1, false)], [[-1, 1], lid(-1, true)], [[-1, 0], lid(-1, false)]]);
  meshes.push(meshOut('Eyelids', lids, 0, (name, i, p) => {
    const [s, u] = lids.tag[i];
    const a = lidRotation(name, s, !!u);
    if (!a) return null;
    return sub(rotX(p, eyeCentre(s), a), p);
  }));
  const brows = merge([[1, brow(1, skin)], [-1, brow(-1, skin)]]);
  meshes.push(meshOut('Brows', brows, 6, (name, i, p) => {
    const s = brows.tag[i];
    const t = clamp((Math.abs(p[0]) - 0.011) / (0.05 - 0.011), 0, 1);
    return browDelta(name, p, s, t);
  }));
  const ears = merge([[1, ellipsoid([R[0] - 0.004, EYE_Y - 0.01, C[2] - 0.008], [0.009, 0.021, 0.013], 20, 14, () => COL.skin)],
    [-1, ellipsoid([-(R[0] - 0.004), EYE_Y - 0.01, C[2] - 0.008], [0.009, 0.021, 0.013], 20, 14, () => COL.skin)]]);
  meshes.push(meshOut('Ears', ears, 0, null));
  meshes.push(meshOut('Hair', hair(), 2, null));
  meshes.push(meshOut('Teeth_Upper', teethRow(true), 4, null));
  const jawFollow = (weightFn) => (name, i, p) => {
    const w = weightFn(p);
    if (name === 'jawOpen') return sub(rotX(p, JAW_PIVOT, JAW_ANGLE), p).map((v) => v * w);
    if (name === 'jawForward') return [0, 0, 0.009 * w];
    if (name === 'jawLeft') return [0.011 * w, 0, 0];
    if (name === 'jawRight') return [-0.011 * w, 0, 0];
    return null;
  };
  meshes.push(meshOut('Teeth_Lower', teethRow(false), 4, jawFollow(() => 1)));
  const tongueC = [0, MY - 0.009, MOUTH[2] - 0.03];
  const tongue = ellipsoid(tongueC, [0.0155, 0.0055, 0.021], 24, 14, (d) => mix(COL.tongue, srgb(0.6, 0.25, 0.28), smooth(0.2, -0.6, d[1])));
  const tj = jawFollow(() => 1);
  meshes.push(meshOut('Tongue', tongue, 5, (name, i, p) => {
    if (name === 'tongueOut') {
      const front = smooth(tongueC[2] - 0.02, tongueC[2] + 0.021, p[2]);
      return [0, -0.003 - 0.003 * front, 0.021 + 0.006 * front];
    }
    return tj(name, i, p);
  }));
  const cavity = ellipsoid([0, MY - 0.006, MOUTH[2] - 0.036], [0.021, 0.017, 0.021], 24, 16, () => COL.mouth);
  meshes.push(meshOut('Mouth_Inside', cavity, 5, jawFollow((p) => smooth(MY, MY - 0.02, p[1]))));
  for (const m of meshes) scaleMesh(m, HEAD_SCALE);
  if (STYLE.faceWidth !== 1) for (const m of meshes) {
    for (let i = 0; i < m.positions.length; i += 3) m.positions[i] *= STYLE.faceWidth;
    for (const t of m.targets) for (let i = 0; i < t.positions.length; i += 3) t.positions[i] *= STYLE.faceWidth;
  }
  meshes.push(meshOut('Neck', neck(), 0, null));
  meshes.push(meshOut('Torso', torso(), 3, null));
  meshes.push(meshOut('Arms', arms(), 3, null));

  const nodes = [];
  const headChildren = [];
  const bodyChildren = [];
  meshes.forEach((m, i) => {
    nodes.push({ name: m.name, mesh: i });
    (m.name === 'Neck' || m.name === 'Torso' || m.name === 'Arms' ? bodyChildren : headChildren).push(nodes.length - 1);
  });
  nodes.push({ name: 'Head', translation: HEAD_NODE, children: headChildren });
  const headIdx = nodes.length - 1;
  nodes.push({ name: 'Body', children: bodyChildren });
  const bodyIdx = nodes.length - 1;
  nodes.push({ name: 'AvatarRoot', root: true, children: [bodyIdx, headIdx] });
  return writeGlb({ nodes, meshes, materials });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const out = process.argv[2] ?? 'dist/avatars/default.glb';
  mkdirSync(dirname(out), { recursive: true });
  const glb = makeAvatar();
  writeFileSync(out, glb);
  console.log(`wrote ${out} (${(glb.length / 1024).toFixed(0)} KiB)`);
}
