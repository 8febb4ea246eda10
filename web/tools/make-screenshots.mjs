// Renders the documentation pictures of the bundled avatars headless (Chromium + SwiftShader,
// the inspector page of web/dist) and writes small contact sheets into docs/images/:
//   avatars.png             every bundled avatar, neutral
//   avatar-visemes.png      the default avatar in each viseme class the engine produces
//   avatar-expressions.png  a few expressions
// Usage (after `npm run build`): node tools/make-screenshots.mjs [OUTDIR]   (default ../docs/images)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AVATARS } from './make-avatars.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, '../../docs/images');
mkdirSync(out, { recursive: true });

const Z = 'zoom@1.25;y@-0.22;background@studio';
// Pose = ARKit weights the engine sends for that class (see docs/avatars.md).
export const SHEETS = {
  avatars: AVATARS.map((a) => `${a.name} (${a.id})==${Z};avatar@${a.id}`),
  'avatar-visemes': [
    `silence=`,
    `open (aa)=jawOpen:0.55,mouthLowerDownLeft:0.3,mouthLowerDownRight:0.3,mouthUpperUpLeft:0.15,mouthUpperUpRight:0.15`,
    `rounded (O)=jawOpen:0.25,mouthFunnel:0.8`,
    `rounded (U)=jawOpen:0.08,mouthPucker:0.9`,
    `closed lips (M P B)=mouthPressLeft:0.6,mouthPressRight:0.6,mouthRollLower:0.35,mouthRollUpper:0.35`,
    `spread (E S)=jawOpen:0.15,mouthStretchLeft:0.6,mouthStretchRight:0.6`,
    `F V=mouthRollLower:0.7,mouthUpperUpLeft:0.25,mouthUpperUpRight:0.25`,
    `TH=jawOpen:0.2,tongueOut:0.55`,
    `I (smile-spread)=jawOpen:0.1,mouthSmileLeft:0.5,mouthSmileRight:0.5,mouthStretchLeft:0.3,mouthStretchRight:0.3`,
  ].map((s) => `${s}=${Z}`),
  'avatar-expressions': [
    `smile=mouthSmileLeft:0.9,mouthSmileRight:0.9,cheekSquintLeft:0.4,cheekSquintRight:0.4,eyeSquintLeft:0.3,eyeSquintRight:0.3`,
    `surprise=browInnerUp:0.9,browOuterUpLeft:0.8,browOuterUpRight:0.8,eyeWideLeft:0.8,eyeWideRight:0.8,jawOpen:0.35,mouthFunnel:0.3`,
    `sad=browInnerUp:0.8,mouthFrownLeft:0.8,mouthFrownRight:0.8,mouthShrugLower:0.4,eyeLookDownLeft:0.3,eyeLookDownRight:0.3`,
    `angry=browDownLeft:0.9,browDownRight:0.9,noseSneerLeft:0.6,noseSneerRight:0.6,mouthPressLeft:0.5,mouthPressRight:0.5,eyeSquintLeft:0.4,eyeSquintRight:0.4`,
    `wink=eyeBlinkLeft:1,mouthSmileLeft:0.7,cheekSquintLeft:0.5,browDownLeft:0.3`,
    `look aside=eyeLookOutLeft:0.8,eyeLookInRight:0.8,mouthLeft:0.4`,
  ].map((s) => `${s}=${Z}`),
};

const tmp = mkdtempSync(join(tmpdir(), 'ak-shots-'));
try {
  for (const [sheet, specs] of Object.entries(SHEETS)) {
    const dir = join(tmp, sheet);
    execFileSync(process.execPath, [join(here, 'shot.mjs'), dir, ...specs], { stdio: 'inherit', env: { ...process.env, AK_VIEWPORT: '300', AK_GRID_W: '250' } });
    copyFileSync(join(dir, 'grid.png'), join(out, `${sheet}.png`));
    console.log(`${join(out, sheet)}.png`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
