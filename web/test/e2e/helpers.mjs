// Shared e2e plumbing: built dist (built on demand), a loopback static server, headless
// Chromium, the in-page probe that records every rendered frame, and artifacts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasChromium, launch } from '../../tools/browser.mjs';
import { serve } from '../../tools/serve.mjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const dist = join(root, 'dist');
export const fixtures = join(root, 'node_modules', '.cache', 'avatarkit-e2e');
export const artifacts = join(root, 'test-artifacts');
export const noBrowser = hasChromium() ? false : 'no Chromium at /usr/bin/chromium (set CHROMIUM_PATH)';

export function ensureDist() {
  if (!existsSync(join(dist, 'avatarkit.standalone.js')) || !existsSync(join(dist, 'avatars/default.glb')) ||
      !existsSync(join(dist, 'avatars/default/avatar.json')))
    execFileSync(process.execPath, [join(root, 'tools/build.mjs'), '--quiet'], { stdio: 'inherit' });
  mkdirSync(fixtures, { recursive: true });
  mkdirSync(artifacts, { recursive: true });
}

export async function startStatic() {
  ensureDist();
  return serve([dist, fixtures]);
}

export async function openPage(url, { log = [] } = {}) {
  const browser = await launch();
  const page = await browser.ctx.newPage();
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  await page.goto(url);
  return { page, close: browser.close, log };
}

/**
 * Installs a probe in the page that, after every rendered frame, records the audio clock,
 * the loudness of what the SDK is outputting (AnalyserNode on its output), the jawOpen
 * influence on the mesh and (with pixels, every other frame) the mean luminance of the mouth
 * region read back from the canvas.
 */
export async function installProbe(page, { hookName = '__player', pixels = false } = {}) {
  await page.evaluate(async ({ hookName, pixels }) => {
    const v = window[hookName].view;
    const c = v.controller;
    await c.initializeAudioContext();
    const ctx = c.audioContext;
    const an = ctx.createAnalyser();
    an.fftSize = 256;
    c.audioOutput.connect(an);
    const buf = new Float32Array(an.fftSize);
    const rec = [];
    const gl = v.renderer.getContext();
    const px = new Uint8Array(4 * 24 * 14);
    const THREE_V = v.camera.position.constructor;
    const mouthWorld = () => {
      let o = null;
      v.scene.traverse((x) => { if (!o && /mouth_inside/i.test(x.name)) o = x; });
      if (!o) return null;
      o.geometry.computeBoundingBox();
      const p = new THREE_V();
      o.geometry.boundingBox.getCenter(p);
      p.z = o.geometry.boundingBox.max.z; // front of the cavity, just behind the lips
      return o.localToWorld(p);
    };
    const orig = v.renderOnce.bind(v);
    let n = 0;
    v.renderOnce = () => {
      orig();
      n++;
      an.getFloatTimeDomainData(buf);
      let s = 0;
      for (const x of buf) s += x * x;
      let lum = NaN;
      // readPixels stalls the main thread on the GPU: every other frame, only when asked
      const m = pixels && (n % 2 === 0 || window.__probeAllPixels) ? mouthWorld() : null;
      if (m) {
        const q = m.clone().project(v.camera);
        const W = gl.drawingBufferWidth, H = gl.drawingBufferHeight;
        const x = Math.round((q.x + 1) / 2 * W) - 12, y = Math.round((q.y + 1) / 2 * H) - 9;
        gl.readPixels(x, y, 24, 14, gl.RGBA, gl.UNSIGNED_BYTE, px);
        let L = 0;
        for (let i = 0; i < px.length; i += 4) L += 0.2126 * px[i] + 0.7152 * px[i + 1] + 0.0722 * px[i + 2];
        lum = L / (px.length / 4);
      }
      rec.push({ t: ctx.currentTime, rms: Math.sqrt(s / buf.length), jaw: v.rig.influence(17), lum, state: c.conversationState, lat: ctx.outputLatency || 0 });
      if (rec.length > 20000) rec.shift();
    };
    window.__probe = rec;
  }, { hookName, pixels });
}

export const probe = (page) => page.evaluate(() => window.__probe.slice());

export async function waitFor(page, fn, arg, timeout = 90000) {
  await page.waitForFunction(fn, arg, { timeout, polling: 50 });
}

export async function shot(page, name) {
  const f = join(artifacts, `${name}.png`);
  await page.locator('#stage').screenshot({ path: f });
  return f;
}

export function saveJson(name, data) {
  writeFileSync(join(artifacts, `${name}.json`), JSON.stringify(data, null, 1));
}

/** Times (audio clock) where `key(sample)` crosses `thr` upward. */
export function risingEdges(rec, key, thr) {
  const out = [];
  for (let i = 1; i < rec.length; i++) if (key(rec[i - 1]) < thr && key(rec[i]) >= thr) out.push(rec[i].t);
  return out;
}
