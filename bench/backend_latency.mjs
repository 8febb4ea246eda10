// Benchmark of the reference backend as a user feels it: in headless Chromium on the demo
// page, the time from submitting a text query to the first sound of the answer at the
// speaker (its first sample's scheduled start on the AudioContext clock, output latency
// included), and to the first Message (audio and motion) arriving at the browser, over
// repeated turns (median, p95, max).
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
  const questions = ['What time is it?', 'Hello!', 'Who are you?', 'What is the date today?', 'Thanks'];
  for (let i = 0; i < TURNS; i++) {
    await page.fill('#text', questions[i % questions.length]);
    await page.press('#text', 'Enter');
    await page.waitForFunction((n) => window.__avatarkitDemo.latencies.length > n, i, { timeout: 30000 })
      .catch(async (e) => { console.log(JSON.stringify(await page.evaluate(() => { const d = window.__avatarkitDemo; return { lat: d.latencies, turns: d.turns.map((t) => ({ id: t.id, start: t.start, a: t.audioAt, f: t.framesAt })), tr: d.transcript.slice(-4), errors: d.errors }; }))); throw e; });
    await page.click('#stop'); // do not wait for the whole answer to play
    await sleep(300);
  }
  const lat = await page.evaluate(() => window.__avatarkitDemo.latencies);
  const a = lat.map((l) => l.audio), f = lat.map((l) => l.frames), snd = lat.filter((l) => l.sound != null).map((l) => l.sound);
  const outLat = await page.evaluate(() => { const c = window.__avatarkitDemo.view.controller.audioContext; return c ? { out: c.outputLatency * 1000, base: c.baseLatency * 1000 } : null; });
  console.log(`backend latency at the browser, ${lat.length} turns, local agent + espeak-ng, ` +
    `${cpus().length} CPUs (${cpus()[0].model.trim()})`);
  const row = (x) => `median ${pct(x, 50).toFixed(1)} ms, p95 ${pct(x, 95).toFixed(1)} ms, max ${Math.max(...x).toFixed(1)} ms`;
  if (snd.length) console.log(`  submit -> first sound (AudioContext) : ${row(snd)} (${snd.length} turns; outputLatency ${outLat && outLat.out.toFixed(1)} ms, baseLatency ${outLat && outLat.base.toFixed(1)} ms)`);
  console.log(`  submit -> first payload arrives     : ${row(a)}`);
  console.log(`  submit -> first motion frame arrives: ${row(f)}`);
} finally {
  if (ctx) await ctx.close().catch(() => undefined);
  for (const p of procs) if (p.exitCode === null) p.kill('SIGINT');
  await sleep(500);
  rmSync(tmp, { recursive: true, force: true });
}
