// Web SDK benchmark: bundle sizes, per-frame CPU in headless Chromium (SwiftShader) while a
// recorded session plays, and the pose computation alone in node. Numbers, not assertions.
//   node bench/bench.mjs [--seconds N] [--recording recordings/sample.json]
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { launch, hasChromium } from '../tools/browser.mjs';
import { serve } from '../tools/serve.mjs';
import { load, transpile } from '../tools/transpile.mjs';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const arg = (k, d) => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : d; };
const seconds = Number(arg('--seconds', 8));
const recording = arg('--recording', 'recordings/sample.json');

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const size = (f) => { const b = readFileSync(join(dist, f)); return { min: b.length, gzip: gzipSync(b, { level: 9 }).length }; };
const sdk = size('avatarkit.js'), standalone = size('avatarkit.standalone.js');
console.log('## bundle');
console.log(`avatarkit.js (SDK, three.js external): ${kib(sdk.min)} minified, ${kib(sdk.gzip)} gzip`);
console.log(`avatarkit.standalone.js (with three.js): ${kib(standalone.min)} minified, ${kib(standalone.gzip)} gzip`);
console.log(`avatars/default.glb: ${kib(statSync(join(dist, 'avatars/default.glb')).size)}`);

// pose computation alone (controller + motion sampling + idle), node, fake audio clock
await transpile();
const { AvatarController } = await load('controller');
const proto = await load('proto');
const sink = { t: 0, running: true, now() { return this.t; }, schedule() {}, stopAll() {}, async suspend() {}, async resume() {}, setVolume() {} };
const c = new AvatarController({ mode: 'host', sampleRate: 16000, sink });
const pcm = new Uint8Array(16000 * 2 * 60);
const id = c.yieldAudioData(pcm, true);
// 1500 frames (60 s) in payloads of at most MAX_PAYLOAD_FRAMES, as the server sends them
const { MAX_PAYLOAD_FRAMES } = await load('limits');
const chunks = [];
for (let f = 0; f < 1500; f += MAX_PAYLOAD_FRAMES) {
  const n = Math.min(MAX_PAYLOAD_FRAMES, 1500 - f);
  const w = new Uint8Array(n * 52).map((_, i) => ((i + f * 52) * 37) % 256);
  chunks.push(proto.encodeAvatarMotion({ fps: 25, firstFrame: f, frameCount: n, channelMaskLo: 0xffffffff, channelMaskHi: 0xfffff, weights: w, end: f + n === 1500 }));
}
c.yieldFramesData(chunks, id);
const out = new Float32Array(55);
const N = 200000;
let t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) { sink.t += 1 / 600; c.samplePose(out, sink.t); }
const poseUs = Number(process.hrtime.bigint() - t0) / 1e3 / N;
c.dispose();
console.log('## pose (node, no rendering)');
console.log(`samplePose: ${poseUs.toFixed(2)} us per frame (52 channels + head, interpolation, idle blend)`);

if (!hasChromium()) {
  console.log('## browser: skipped (no Chromium)');
  process.exit(0);
}
const srv = await serve([dist]);
const { ctx, close } = await launch();
const page = await ctx.newPage();
const cdp = await ctx.newCDPSession(page);
await cdp.send('Performance.enable');
await page.goto(`${srv.url}/player.html?recording=${recording}&pacing=burst`);
await page.waitForFunction(() => window.__player?.ready, null, { timeout: 120000 });
await page.evaluate(() => { window.__player.play(); });
await page.waitForFunction(() => window.__player.view.controller.conversationState === 'playing', null, { timeout: 60000 });
const metric = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
const m0 = await metric();
const f0 = await page.evaluate(() => window.__player.view.cpuStats.frames);
await page.waitForTimeout(seconds * 1000);
const m1 = await metric();
const r = await page.evaluate(() => ({ cpu: window.__player.view.cpuStats, size: [window.__player.view.canvas.width, window.__player.view.canvas.height] }));
const frames = r.cpu.frames - f0;
console.log(`## browser (headless Chromium, SwiftShader WebGL, canvas ${r.size.join('x')}, ${seconds}s of ${recording})`);
console.log(`rendered: ${frames} frames, ${(frames / seconds).toFixed(1)} fps`);
console.log(`SDK CPU per frame (pose + morph targets + WebGL submit, JS main thread): mean ${r.cpu.meanMs.toFixed(2)} ms, p95 ${r.cpu.p95Ms.toFixed(2)} ms`);
console.log(`main-thread task time per frame (all page work, CDP TaskDuration): ${(((m1.TaskDuration - m0.TaskDuration) * 1000) / Math.max(1, frames)).toFixed(2)} ms`);
console.log(`script time per frame (CDP ScriptDuration): ${(((m1.ScriptDuration - m0.ScriptDuration) * 1000) / Math.max(1, frames)).toFixed(2)} ms`);

// Full frame time per lighting mode: pose + scene + WebGL draw *and* its completion (a 1-pixel
// readPixels waits for the GPU; here SwiftShader renders on the CPU), one view alone on the
// page, the default avatar speaking its idle life, same canvas size as above.
const frameTime = async (lighting, background) => {
  await page.goto(`${srv.url}/player.html?recording=${recording}&idle=0`);
  await page.waitForFunction(() => window.__player?.ready, null, { timeout: 120000 });
  return page.evaluate(async ({ lighting, background, w, h }) => {
    const p = window.__player;
    const avatar = p.view.avatar;
    p.view.dispose();
    const box = document.createElement('div');
    box.style.cssText = `width:${w}px;height:${h}px`;
    document.body.prepend(box);
    const t0 = performance.now();
    const v = new p.sdk.AvatarView(avatar, box, { sdk: p.sdk.AvatarSDK, idle: true, lighting, background, maxPixelRatio: 1 });
    await v.ready;
    v.renderOnce();
    const setupMs = performance.now() - t0;
    const gl = v.renderer.getContext();
    const px = new Uint8Array(4);
    const times = [];
    for (let i = 0; i < 150; i++) {
      await new Promise((r) => requestAnimationFrame(r));
      const a = performance.now();
      v.renderOnce();
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
      times.push(performance.now() - a);
    }
    times.sort((x, y) => x - y);
    v.dispose();
    return { setupMs, mean: times.reduce((s, x) => s + x, 0) / times.length, p50: times[75], p95: times[142] };
  }, { lighting, background, w: r.size[0], h: r.size[1] });
};
console.log(`## frame time per frame, rendered and finished (canvas ${r.size.join('x')}, 150 frames each)`);
for (const [lighting, background] of [['basic', undefined], ['soft', undefined], ['soft', 'studio'], ['studio', undefined]]) {
  const t = await frameTime(lighting, background);
  console.log(`lighting ${lighting}${background ? ', background ' + background : ''}: mean ${t.mean.toFixed(2)} ms, p50 ${t.p50.toFixed(2)} ms, p95 ${t.p95.toFixed(2)} ms (view setup incl. environment prefilter ${t.setupMs.toFixed(0)} ms)`);
}
await close();
await srv.close();
