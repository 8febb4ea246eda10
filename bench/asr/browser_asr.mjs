// Speech input through the browser: each WAV of a list is played by headless Chromium's fake
// microphone into the demo page's push-to-talk (getUserMedia with the page's constraints, the
// browser's audio processing, a 16 kHz AudioContext, mic_audio messages to the backend, the
// backend's VAD and recognizer), and what the page shows as the user's words is printed.
// Driven by bench/asr/browser_wer.py, which scores it beside the direct path (ak_bench_asr on
// the same files). Not a test.
//
//   node bench/asr/browser_asr.mjs BIN_DIR LIST [--apm on|off] [-- backend flags]
//
// LIST: one WAV path a line (16-bit mono). stdout: path TAB transcript, one line a file.
// --apm off: the page's getUserMedia asks for no echo cancellation, noise suppression or
// automatic gain (the page itself asks for all three).
// Chromium loops the file, so the button is held from the moment capture starts for exactly
// the file's length (the files carry their own silence before and after the speech).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const backendExtra = dd >= 0 ? argv.slice(dd + 1) : [];
const args = dd >= 0 ? argv.slice(0, dd) : argv;
const ai = args.indexOf('--apm');
const APM = ai >= 0 ? args.splice(ai, 2)[1] : 'on';
const [BIN, LIST] = args;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!BIN || !LIST) {
  console.error('usage: node bench/asr/browser_asr.mjs BIN_DIR LIST [--apm on|off] [-- backend flags]');
  process.exit(2);
}
const chromium = createRequire(join(ROOT, 'web/package.json'))('playwright-core').chromium;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = mkdtempSync(join(tmpdir(), 'ak-browser-asr-'));
const procs = [];

async function start(name, extra, env) {
  const portFile = join(tmp, name + '.port');
  const p = spawn(join(BIN, name), [...extra, '--port-file', portFile], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  p.stderr.on('data', (d) => { log = (log + d).slice(-4000); });
  procs.push(p);
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

function wavSeconds(path) {
  const b = readFileSync(path);
  let at = 12, rate = 16000, data = 0;
  while (at + 8 <= b.length) { // walk the chunks: fmt gives the rate, data the length
    const id = b.toString('latin1', at, at + 4), len = b.readUInt32LE(at + 4);
    if (id === 'fmt ') rate = b.readUInt32LE(at + 12);
    if (id === 'data') { data = Math.min(len, b.length - at - 8); break; }
    at += 8 + len + (len & 1);
  }
  return data / 2 / rate;
}

// Turns the page's constraints off for --apm off (before any page script runs).
const NO_APM = `(() => {
  const md = navigator.mediaDevices, orig = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => orig({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
})()`;

// Counts the microphone audio the page sends (base64 PCM s16le at 16 kHz in mic_audio).
const COUNT_MIC = `(() => {
  window.__micSent = 0;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) {
    if (typeof d === 'string' && d.includes('"mic_audio"')) {
      try { window.__micSent += atob(JSON.parse(d).audio).length / 2; } catch {}
    }
    return send.call(this, d);
  };
})()`;

async function hear(port, wav) {
  const ctx = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1000, height: 760 },
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
      '--autoplay-policy=no-user-gesture-required', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`],
  });
  try {
    if (APM === 'off') await ctx.addInitScript(NO_APM);
    await ctx.addInitScript(COUNT_MIC);
    const page = ctx.pages()[0] || await ctx.newPage();
    await page.goto(`http://127.0.0.1:${port}/`, { timeout: 30000 });
    await page.waitForFunction(() => window.__avatarkitDemo.ready, null, { timeout: 30000 });
    const before = await page.evaluate(() => window.__avatarkitDemo.transcript.length);
    const box = await page.locator('#mic').boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.waitForFunction(() => window.__avatarkitDemo.micStarted, null, { timeout: 10000 });
    await sleep(Math.round(wavSeconds(wav) * 1000));
    await page.mouse.up();
    // the user's words are in once an answer follows them (or nothing came for 10 s)
    const t0 = Date.now();
    let words = [];
    while (Date.now() - t0 < 15000) {
      const tr = (await page.evaluate(() => window.__avatarkitDemo.transcript)).slice(before);
      words = tr.filter((m) => m.kind === 'user' && m.voice).map((m) => m.text);
      const lastUser = tr.map((m) => m.kind === 'user' && m.voice).lastIndexOf(true);
      if (lastUser >= 0 && tr.slice(lastUser + 1).some((m) => m.kind === 'agent')) break;
      if (!words.length && Date.now() - t0 > 10000) break;
      await sleep(100);
    }
    const sent = await page.evaluate(() => window.__micSent);
    console.error(`${wav}: ${wavSeconds(wav).toFixed(2)} s file, ${(sent / 16000).toFixed(2)} s sent by the page`);
    return words.join(' ');
  } finally {
    await ctx.close();
    rmSync(join(tmp, 'profile'), { recursive: true, force: true });
  }
}

try {
  const env = { ...process.env, AVATARKIT_API_KEY: 'b-' + Math.random().toString(36).slice(2), AVATARKIT_APP_ID: 'bench' };
  const mport = await start('avatarkit-motion-server', ['--listen', '127.0.0.1:0', '--log-level', 'error'], env);
  const bport = await start('avatarkit-backend', ['--listen', '127.0.0.1:0', '--motion-url', `http://127.0.0.1:${mport}`,
    '--web-root', join(ROOT, 'backend/web'), '--sdk-dir', join(ROOT, 'web/dist'), '--tts', 'espeak', ...backendExtra], env);
  const wavs = readFileSync(LIST, 'utf8').split('\n').filter((l) => l.trim());
  // one turn before the measured ones, not printed: the backend's recognizers adapt their
  // cepstral mean over turns, as in a demo that has been running (ak_bench_asr gets the same)
  if (wavs.length) await hear(bport, wavs[0]).catch(() => '');
  for (const wav of wavs) {
    let text = '';
    try { text = await hear(bport, wav); } catch (e) { console.error(`${wav}: ${e.message}`); }
    console.log(`${wav}\t${text.replace(/\s+/g, ' ').trim()}`);
  }
} finally {
  for (const p of procs.reverse()) if (p.exitCode === null) p.kill('SIGINT');
  await sleep(500);
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
