// End-to-end test of the demo in headless Chromium: Motion Server + backend on loopback, the
// demo page with the real web SDK. (1) A typed question: the answer's Messages arrive as
// binary frames that the SDK reads (bytes per second of speech are printed), the avatar goes
// idle -> playing -> idle and its jawOpen morph target moves while playing. (2) Chromium's fake microphone plays
// a question synthesized by espeak-ng into push-to-talk: a transcript and an answer appear.
// Exit 0 pass, 1 fail, 77 skip (Chromium, playwright-core, web/dist or binaries missing).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const BIN = process.argv[2] || join(ROOT, 'build/bin');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SKIP = 77;

function skip(why) { console.log('SKIP: ' + why); process.exit(SKIP); }
for (const exe of ['avatarkit-backend', 'avatarkit-motion-server'])
  if (!existsSync(join(BIN, exe))) skip(`${exe} not built in ${BIN}`);
if (!existsSync(CHROMIUM)) skip('chromium not installed');
if (!existsSync(join(ROOT, 'web/dist/avatarkit.js'))) skip('web SDK not built (web/dist)');
let chromium;
try {
  chromium = createRequire(join(ROOT, 'web/package.json'))('playwright-core').chromium;
} catch { skip('playwright-core not installed in web/node_modules'); }

const failures = [];
function check(cond, what) { console.log((cond ? '  ok   ' : '  FAIL ') + what); if (!cond) failures.push(what); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const tmp = mkdtempSync(join(tmpdir(), 'ak-backend-e2e-'));
const procs = [];
async function start(name, args, env, tag = name) {
  const portFile = join(tmp, tag + '.port');
  const p = spawn(join(BIN, name), [...args, '--port-file', portFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  p.stdout.on('data', (d) => { log += d; });
  p.stderr.on('data', (d) => { log += d; });
  procs.push({ p, name, log: () => log });
  for (let i = 0; i < 150; i++) {
    if (existsSync(portFile)) {
      const port = parseInt(readFileSync(portFile, 'utf8'), 10);
      if (port > 0) return port;
    }
    if (p.exitCode !== null) throw new Error(`${name} exited: ${log}`);
    await sleep(100);
  }
  throw new Error(`${name} did not start`);
}
async function stopAll() {
  for (const { p } of procs.reverse()) {
    if (p.exitCode === null) p.kill('SIGINT');
    for (let i = 0; i < 100 && p.exitCode === null; i++) await sleep(100);
    if (p.exitCode === null) p.kill('SIGKILL');
  }
}

// Polls in the page: jawOpen of every morph-target mesh in the avatar scene.
const JAW_PROBE = `(() => {
  const v = window.__avatarkitDemo.view; if (!v) return null;
  let best = null;
  v.scene.traverse((o) => {
    const d = o.morphTargetDictionary, w = o.morphTargetInfluences;
    if (d && w) { const k = Object.keys(d).find((n) => /jawopen/i.test(n)); if (k !== undefined) best = Math.max(best ?? 0, w[d[k]]); }
  });
  return best;
})()`;

let ctx;
let code = 0;
try {
  const env = { ...process.env, AVATARKIT_API_KEY: 'e2e-' + Math.random().toString(36).slice(2), AVATARKIT_APP_ID: 'e2e-app' };
  const mport = await start('avatarkit-motion-server', ['--listen', '127.0.0.1:0', '--log-level', 'warn'], env);
  globalThis.akStart = () => start('avatarkit-backend', ['--listen', '127.0.0.1:0', '--motion-url', `http://127.0.0.1:${mport}`,
    '--web-root', join(ROOT, 'backend/web'), '--sdk-dir', join(tmp, 'no-sdk-here')], env, 'backend-nosdk');
  const bport = await start('avatarkit-backend', ['--listen', '127.0.0.1:0', '--motion-url', `http://127.0.0.1:${mport}`,
    '--web-root', join(ROOT, 'backend/web'), '--sdk-dir', join(ROOT, 'web/dist')], env);

  // the spoken question for the fake microphone
  const wav = join(tmp, 'question.wav');
  execFileSync('espeak-ng', ['-v', 'en-us', '-s', '140', '-w', wav, 'what time is it'], { timeout: 30000 });
  const wavBytes = readFileSync(wav);
  const wavSeconds = wavBytes.readUInt32LE(40) / (wavBytes.readUInt32LE(24) * 2);

  const profile = join(tmp, 'profile');
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1000, height: 760 },
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
      '--autoplay-policy=no-user-gesture-required', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`http://127.0.0.1:${bport}/`, { timeout: 30000 });
  await page.waitForFunction(() => window.__avatarkitDemo.sdk !== 'loading' && window.__avatarkitDemo.ready, null, { timeout: 30000 });
  const sdkState = await page.evaluate(() => window.__avatarkitDemo.sdk);
  check(sdkState === 'ready', `the SDK loads and the avatar view is created (${sdkState})`);
  check(await page.evaluate(() => /local/i.test(document.getElementById('agent-label').textContent)),
    'the built-in agent is labelled in the UI');

  // (1) typed question
  const initial = await page.evaluate(() => window.__avatarkitDemo.view.controller.conversationState);
  check(initial === 'idle', `the avatar starts idle (${initial})`);
  await page.fill('#text', 'What time is it?');
  await page.press('#text', 'Enter');
  const jaw = [];
  const t0 = Date.now();
  let sawPlaying = false, backIdle = false;
  while (Date.now() - t0 < 30000) {
    const st = await page.evaluate(() => window.__avatarkitDemo.states.map((s) => s.state));
    const j = await page.evaluate(JAW_PROBE);
    const playingNow = st.length && st[st.length - 1] === 'playing';
    if (playingNow) { sawPlaying = true; if (j != null) jaw.push(j); }
    if (sawPlaying && st.length && st[st.length - 1] === 'idle') { backIdle = true; break; }
    await sleep(40);
  }
  const states = await page.evaluate(() => window.__avatarkitDemo.states.map((s) => s.state));
  check(sawPlaying && backIdle, `conversation state goes idle -> playing -> idle (${states.join(' ')})`);
  const jmax = Math.max(0, ...jaw), jmin = Math.min(1, ...jaw);
  check(jaw.length >= 5 && jmax > 0.15 && jmax - jmin > 0.1,
    `the mouth moves while playing (jawOpen ${jmin.toFixed(2)}..${jmax.toFixed(2)} over ${jaw.length} samples)`);
  await sleep(800); // the mouth eases back over a few hundred ms
  const idleJaw = await page.evaluate(JAW_PROBE);
  check(idleJaw != null && idleJaw < 0.15, `the mouth rests when idle (jawOpen ${idleJaw})`);
  const lat = await page.evaluate(() => window.__avatarkitDemo.latencies);
  check(lat.length === 1 && lat[0].audio > 0 && lat[0].frames > 0,
    `latency readout recorded (audio ${lat[0] && lat[0].audio.toFixed(0)} ms, frames ${lat[0] && lat[0].frames.toFixed(0)} ms)`);
  const shown = await page.textContent('#lat-audio');
  check(/\d+ ms/.test(shown), `latency shown on the page (${shown})`);
  const relay = await page.evaluate(() => {
    const d = window.__avatarkitDemo;
    const st = d.states;
    const play = st.find((s) => s.state === 'playing'), idle = st.slice().reverse().find((s) => s.state === 'idle');
    return { wire: d.wire, turns: d.turns.map((t) => ({ id: t.id, messages: t.messages, bytes: t.bytes })),
      seconds: play && idle ? (idle.t - play.t) / 1000 : 0 };
  });
  const w = relay.wire;
  check(relay.turns.length === 1 && /^\d{14}_/.test(relay.turns[0].id) && relay.turns[0].messages > 0,
    `the SDK reads each binary frame as a Message of the turn's request (${JSON.stringify(relay.turns)})`);
  check(w.binaryMessages === relay.turns[0].messages && w.binary > 0 && w.text < w.binary / 2,
    `payloads arrive as binary frames, JSON only for control (${w.binaryMessages} binary frames ${w.binary} B, ${w.textMessages} text frames ${w.text} B)`);
  if (relay.seconds > 0)
    console.log(`  info browser socket: ${w.binary + w.text} bytes over ${relay.seconds.toFixed(2)} s of playback = ${((w.binary + w.text) / relay.seconds).toFixed(0)} bytes/s (binary ${(w.binary / relay.seconds).toFixed(0)} bytes/s)`);

  // (2) push-to-talk with the fake microphone
  const before = await page.evaluate(() => window.__avatarkitDemo.transcript.length);
  const box = await page.locator('#mic').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await sleep(Math.round(wavSeconds * 1000) + 900);
  await page.mouse.up();
  let heard = null, answered = null;
  const t1 = Date.now();
  while (Date.now() - t1 < 30000 && !(heard && answered)) {
    const tr = await page.evaluate(() => window.__avatarkitDemo.transcript);
    const rest = tr.slice(before);
    heard = rest.find((m) => m.kind === 'user' && m.voice);
    answered = heard && rest.slice(rest.indexOf(heard) + 1).find((m) => m.kind === 'agent' && m.text.length > 0);
    await sleep(100);
  }
  check(!!heard, `the spoken question is transcribed (${heard && heard.text})`);
  check(!!answered, `and answered (${answered && answered.text})`);
  check(pageErrors.length === 0, `no page errors (${pageErrors.join('; ')})`);
  const errs = await page.evaluate(() => window.__avatarkitDemo.errors);
  check(errs.length === 0, `no errors reported to the page (${errs.join(', ')})`);

  // (3) without a built SDK the page says so and the conversation still works
  const port2 = await globalThis.akStart();
  const page2 = await ctx.newPage();
  await page2.goto(`http://127.0.0.1:${port2}/`, { timeout: 30000 });
  await page2.waitForFunction(() => window.__avatarkitDemo.sdk === 'missing' && window.__avatarkitDemo.ready, null, { timeout: 30000 });
  check(/SDK not built/.test(await page2.textContent('#avatar')), 'a missing SDK is shown as "SDK not built"');
  await page2.fill('#text', 'hello');
  await page2.press('#text', 'Enter');
  await page2.waitForFunction(() => window.__avatarkitDemo.transcript.some((m) => m.kind === 'agent' && /Hello/.test(m.text)), null, { timeout: 30000 })
    .then(() => check(true, 'text conversation works without the SDK'), () => check(false, 'text conversation works without the SDK'));
} catch (e) {
  failures.push(String(e));
  console.log('  FAIL ' + (e && e.stack || e));
} finally {
  if (ctx) await ctx.close().catch(() => undefined);
  await stopAll();
  if (failures.length) for (const { name, log } of procs) console.log(`--- ${name} log ---\n${log().slice(-2000)}`);
  rmSync(tmp, { recursive: true, force: true });
}
if (failures.length) { console.log(`${failures.length} checks failed`); code = 1; } else console.log('all checks passed');
process.exit(code);
