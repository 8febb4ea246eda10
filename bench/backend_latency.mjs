// Benchmark of the reference backend as a user feels it: in headless Chromium on the demo
// page, from submitting a text query to
//   - first sound: the answer's first sample at the speaker (its scheduled start on the
//     AudioContext clock, output latency included),
//   - first motion: the first rendered frame whose face pose holds the answer's motion while
//     its audio is heard,
//   - end of turn: the answer's last sample at the speaker (it includes the answer's length;
//     "stretch" is end of turn minus first sound minus the audio's duration: time lost to
//     underruns),
//   - first payload: the first Message (audio and motion) arriving at the page,
// over repeated turns, each played to its end (median, p95, max).
//
//   node bench/backend_latency.mjs [BUILD/bin] [turns=20]
//
// Starts its own Motion Server and backend on loopback. Timings come from the page's
// performance.now() marks (window.__avatarkitDemo.latencies), i.e. measured in the browser.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, cpus } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = process.argv[2] || join(ROOT, 'build/bin');
const TURNS = parseInt(process.argv[3] || '20', 10);
const { chromium } = createRequire(join(ROOT, 'web/package.json'))('playwright-core');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = mkdtempSync(join(tmpdir(), 'ak-backend-bench-'));
const procs = [];

async function start(name, args, env) {
  const portFile = join(tmp, name + '.port');
  const p = spawn(join(BIN, name), [...args, '--port-file', portFile], { env, stdio: 'ignore' });
  procs.push(p);
  for (let i = 0; i < 150; i++) {
    if (existsSync(portFile)) return parseInt(readFileSync(portFile, 'utf8'), 10);
    await sleep(100);
  }
  throw new Error(name + ' did not start');
}
function pct(a, p) { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]; }

const env = { ...process.env, AVATARKIT_API_KEY: 'bench-key', AVATARKIT_APP_ID: 'bench-app' };
let ctx;
try {
  const mport = await start('avatarkit-motion-server', ['--listen', '127.0.0.1:0', '--log-level', 'error'], env);
  const bport = await start('avatarkit-backend', ['--listen', '127.0.0.1:0', '--log-level', '0',
    '--motion-url', `http://127.0.0.1:${mport}`, '--web-root', join(ROOT, 'backend/web'),
    '--sdk-dir', join(ROOT, 'web/dist')], env);
  ctx = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
      '--autoplay-policy=no-user-gesture-required', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(`http://127.0.0.1:${bport}/`);
  await page.waitForFunction(() => window.__avatarkitDemo.sdk === 'ready', null, { timeout: 30000 });
  // short answers, each played to its end (the end of turn needs the last sample)
  const questions = ['What time is it?', 'Thanks', 'What is the date today?', 'What is 12 times 7?', 'Nice to meet you'];
  for (let i = 0; i < TURNS; i++) {
    await page.fill('#text', questions[i % questions.length]);
    await page.press('#text', 'Enter');
    await page.waitForFunction((n) => { const l = window.__avatarkitDemo.latencies[n]; return l && l.end != null && l.motion != null; }, i, { timeout: 30000 })
      .catch(async (e) => { console.log(JSON.stringify(await page.evaluate(() => { const d = window.__avatarkitDemo; return { lat: d.latencies, turns: d.turns.map((t) => ({ id: t.id, start: t.start, a: t.audioAt, f: t.framesAt })), tr: d.transcript.slice(-4), errors: d.errors }; }))); throw e; });
    await sleep(300);
  }
  const lat = await page.evaluate(() => window.__avatarkitDemo.latencies);
  const a = lat.map((l) => l.audio), snd = lat.map((l) => l.sound), mot = lat.map((l) => l.motion), end = lat.map((l) => l.end);
  const stretch = lat.map((l) => l.end - l.sound - l.audioSeconds * 1000);
  // the render rate bounds how soon motion can be seen (headless Chromium draws with SwiftShader)
  const fps = await page.evaluate(async () => { const c = window.__avatarkitDemo.view.controller; const n0 = c.getStats().renderedFrames, t0 = performance.now(); await new Promise((r) => setTimeout(r, 2000)); return (c.getStats().renderedFrames - n0) / ((performance.now() - t0) / 1000); });
  const outLat = await page.evaluate(() => { const c = window.__avatarkitDemo.view.controller.audioContext; return c ? { out: c.outputLatency * 1000, base: c.baseLatency * 1000 } : null; });
  console.log(`backend latency at the browser, ${lat.length} turns played to the end, local agent + default TTS, ` +
    `${cpus().length} CPUs (${cpus()[0].model.trim()}); outputLatency ${outLat && outLat.out.toFixed(1)} ms, baseLatency ${outLat && outLat.base.toFixed(1)} ms, idle render rate ${fps.toFixed(1)} fps`);
  const row = (x) => `median ${pct(x, 50).toFixed(1)} ms, p95 ${pct(x, 95).toFixed(1)} ms, max ${Math.max(...x).toFixed(1)} ms`;
  console.log(`  submit -> first sound (AudioContext)   : ${row(snd)}`);
  console.log(`  submit -> first visible motion (render): ${row(mot)}`);
  console.log(`  submit -> end of turn (last sample)    : ${row(end)}  (answers of ${pct(lat.map((l) => l.audioSeconds), 50).toFixed(2)} s median)`);
  console.log(`  end of turn - first sound - audio length: ${row(stretch)}`);
  console.log(`  submit -> first payload arrives        : ${row(a)}`);
} finally {
  if (ctx) await ctx.close().catch(() => undefined);
  for (const p of procs) if (p.exitCode === null) p.kill('SIGINT');
  await sleep(500);
  rmSync(tmp, { recursive: true, force: true });
}
