// Victim latency under attack: real-time sessions ("victims") stream 16 kHz speech-like PCM
// in 40 ms chunks while an attacker runs, against a fresh Motion Server per scenario:
//   baseline   no attacker
//   ogg-bomb   an attacker that reconnects and sends an Ogg Opus bomb (20 pages of 2-byte packets
//              of empty frames, 16 KB that would decode to 10 minutes of concealment) again and again
//   pcm-flood  an attacker that sends 8 kHz PCM as fast as the server takes it (64 KB messages,
//              a new request every 50), keeping 1 MB in flight
//   non-reader an attacker on a raw socket that streams 16 kHz PCM as fast as TCP takes it and
//              never reads a byte of the output (reconnects when the server cuts it)
//   slowloris  1100 connections (more than the fd limit allows) that send a partial request
//              header and one more byte every 5 s, reconnecting 50 ms after each is closed
// The server runs under `ulimit -n` (default 1024) in every scenario, with its default
// --max-connections and new-session rate limits; the attacker uses its own API key/app and
// fresh tokens (the victims' app is another), all from 127.0.0.1. Victims connect first (they
// retry a refused upgrade), then the attacker starts, then victims stream after 500 ms.
// --rounds N repeats the list, each attack next to its own baseline (A/B interleaved: the
// machine is shared). The attacker runs in its own node process, so its event loop does not
// delay the victims' timestamps. --warmup S: the attacker runs S seconds before the victims
// stream (default 0.5; longer than the rate limit's burst measures the sustained attack).
// Extra server flags after `--`.
// Per victim chunk: latency = arrival of the message that holds the last motion frame that
// chunk makes computable (frames trail input by the 80 ms engine lookahead) minus the time the
// chunk was sent. Reports p50/p95/p99/max per scenario (reported, never asserted).
//
// usage: node --experimental-websocket bench/server_attack.mjs [BUILD_DIR] [SECONDS] [VICTIMS]
//        [--workers N] [--ulimit N] [--rounds N] [--only a,b] [--warmup S] [-- server flags...]
//        (default: build-bench, 15 s, 4 victims, the server's default workers, ulimit 1024,
//        1 round, all scenarios)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { randomBytes } from 'node:crypto';

const argv0 = process.argv.slice(2);
const dd = argv0.indexOf('--');
const serverExtra = dd >= 0 ? argv0.slice(dd + 1) : [];
const args = dd >= 0 ? argv0.slice(0, dd) : argv0;
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const workers = flag('--workers');
const ULIMIT = Number(flag('--ulimit') ?? 1024);
const ROUNDS = Number(flag('--rounds') ?? 1);
const ONLY = flag('--only')?.split(',');
const WARMUP = Number(flag('--warmup') ?? 0.5);
const CHILD = flag('--attacker'); // internal: run one attacker in this (child) process
const CHILD_PORT = Number(flag('--port') ?? 0);
const BUILD = args[0] || 'build-bench';
const SECONDS = Number(args[1] || 15);
const VICTIMS = Number(args[2] || 4);
const BIN = join(BUILD, 'bin', 'avatarkit-motion-server');
const LOOKAHEAD = 0.08;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* ---- protobuf wire, just what the ingress needs ---------------------------------------- */
const varint = (n) => { const o = []; let v = BigInt(n); do { let b = Number(v & 0x7fn); v >>= 7n; if (v) b |= 0x80; o.push(b); } while (v); return o; };
const fV = (f, v) => [...varint((f << 3) | 0), ...varint(v)];
const fB = (f, b) => [...varint((f << 3) | 2), ...varint(b.length), ...b];
const configure = (rate, format = 0) => Uint8Array.from([...fV(1, 1), ...fB(2, [...fV(1, rate), ...fV(3, format)])]);
function audio(reqId, pcm, end) {
  const inner = [...fB(1, [...new TextEncoder().encode(reqId)]), ...fV(2, end ? 1 : 0), ...varint((3 << 3) | 2), ...varint(pcm.length)];
  const head = [...fV(1, 3), ...varint((4 << 3) | 2), ...varint(inner.length + pcm.length)];
  const out = new Uint8Array(head.length + inner.length + pcm.length);
  out.set(head); out.set(inner, head.length); out.set(pcm, head.length + inner.length);
  return out;
}
function fields(buf) {
  const out = []; let i = 0;
  const rv = () => { let v = 0n, s = 0n; for (;;) { const b = buf[i++]; v |= BigInt(b & 0x7f) << s; s += 7n; if (!(b & 0x80)) return v; } };
  while (i < buf.length) {
    const k = Number(rv()), f = k >> 3, t = k & 7;
    if (t === 0) out.push([f, rv()]);
    else if (t === 2) { const n = Number(rv()); out.push([f, buf.subarray(i, i + n)]); i += n; }
    else if (t === 5) i += 4; else if (t === 1) i += 8; else break;
  }
  return out;
}
const get = (fs, f) => fs.find((x) => x[0] === f)?.[1];

/* Last motion frame index + 1 in a SERVER_RESPONSE_ANIMATION, or -1. */
function motionEnd(data) {
  const m = fields(data);
  if (Number(get(m, 1) ?? 0n) !== 5) return -1;
  const mot = get(fields(get(m, 6)), 100);
  if (!mot) return -1;
  const mm = fields(mot);
  return Number(get(mm, 4) ?? 0n) + Number(get(mm, 5) ?? 0n);
}

function pcm(rate, seconds) {
  const n = Math.round(rate * seconds), b = new Uint8Array(n * 2), dv = new DataView(b.buffer);
  for (let i = 0; i < n; i++) {
    const t = i / rate, on = Math.floor(t / 0.25) % 2 === 0 ? 1 : 0;
    dv.setInt16(i * 2, Math.round(on * 9000 * Math.sin(2 * Math.PI * 140 * t) + on * 6000 * Math.sin(2 * Math.PI * 280 * t)), true);
  }
  return b;
}

/* Ogg bomb: OpusHead, OpusTags, pages of 255 2-byte packets of two empty 60 ms SILK frames
 * (valid Opus, 120 ms of concealment each; zero-length packets are refused outright). */
const CRC = (() => { const t = new Uint32Array(256); for (let i = 0; i < 256; i++) { let r = i << 24; for (let k = 0; k < 8; k++) r = r & 0x80000000 ? ((r << 1) ^ 0x04c11db7) >>> 0 : (r << 1) >>> 0; t[i] = r >>> 0; } return t; })();
function page(flags, gp, seq, segs, body) {
  const p = new Uint8Array(27 + segs.length + body.length), dv = new DataView(p.buffer);
  p.set([0x4f, 0x67, 0x67, 0x53, 0, flags]); dv.setBigInt64(6, BigInt(gp), true); dv.setUint32(14, 7, true); dv.setUint32(18, seq, true);
  p[26] = segs.length; p.set(segs, 27); p.set(body, 27 + segs.length);
  let c = 0; for (const b of p) c = ((c << 8) ^ CRC[((c >>> 24) ^ b) & 0xff]) >>> 0;
  dv.setUint32(22, c, true);
  return p;
}
function bomb(pages) {
  const head = Uint8Array.from([...Buffer.from('OpusHead'), 1, 1, 0, 0, 0x80, 0xbb, 0, 0, 0, 0, 0]);
  const tags = Uint8Array.from([...Buffer.from('OpusTags'), 0, 0, 0, 0, 0, 0, 0, 0]);
  const parts = [page(2, 0, 0, [19], head), page(0, 0, 1, [16], tags)];
  const body = Uint8Array.from(new Array(255).fill([(3 << 3) | 3, 2]).flat());
  for (let p = 0; p < pages; p++) parts.push(page(0, (p + 1) * 255 * 5760, p + 2, new Array(255).fill(2), body));
  return Buffer.concat(parts);
}

/* ---- server and sessions --------------------------------------------------------------- */
async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'akatk-'));
  const portFile = join(dir, 'port');
  const extra = workers ? ['--workers', workers] : [];
  const proc = spawn('/bin/sh', ['-c', `ulimit -n ${ULIMIT} && exec "$0" "$@"`, BIN, '--listen', '127.0.0.1:0', '--port-file', portFile, '--log-level', 'error',
    '--max-sessions', '2000', '--app', 'kb:b', ...extra, ...serverExtra], { env: { ...process.env, AVATARKIT_API_KEY: 'k', AVATARKIT_APP_ID: 'a' }, stdio: ['ignore', 'ignore', 'ignore'] });
  for (let i = 0; i < 200 && !existsSync(portFile); i++) await sleep(25);
  const port = Number(readFileSync(portFile, 'utf8'));
  return { proc, port, base: `http://127.0.0.1:${port}` };
}

async function getToken(srv, key) {
  const r = await fetch(`${srv.base}/v1/console/session-tokens`, { method: 'POST', headers: { 'X-Api-Key': key, 'Content-Type': 'application/json' }, body: JSON.stringify({ expireAt: Math.floor(Date.now() / 1000) + 3600 }) });
  return (await r.json()).sessionToken;
}
const wsPath = (app, tok) => `/v2/driveningress/websocket?id=default&appId=${app}&sessionKey=${encodeURIComponent(tok)}`;

async function open(srv, rate, format = 0, who = 'victim') {
  const [key, app] = who === 'victim' ? ['k', 'a'] : ['kb', 'b'];
  const tok = await getToken(srv, key);
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}${wsPath(app, tok)}`);
  ws.binaryType = 'arraybuffer';
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = rej; });
  const confirmed = new Promise((res) => { ws.onmessage = (ev) => { if (Number(get(fields(new Uint8Array(ev.data)), 1) ?? 0n) === 2) res(); }; });
  ws.send(configure(rate, format));
  await confirmed;
  return ws;
}

async function openVictim(srv) {
  for (let i = 0; ; i++) {
    try { return await open(srv, 16000); } catch (e) { if (i >= 60) throw e; await sleep(1000); }
  }
}

async function victim(ws, seconds, out) {
  const clip = pcm(16000, seconds);
  const chunk = 1280; // 40 ms
  const sent = []; // per chunk: send time, frame needed
  let have = 0, next = 0;
  const t0 = performance.now();
  ws.onmessage = (ev) => {
    const e = motionEnd(new Uint8Array(ev.data));
    if (e < 0) return;
    have = Math.max(have, e);
    const now = performance.now();
    while (next < sent.length && sent[next].need <= have) { out.push(now - sent[next].t); next++; }
  };
  const n = Math.floor(clip.length / chunk);
  for (let i = 0; i < n; i++) {
    const due = t0 + i * 40;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const endMedia = ((i + 1) * chunk / 2) / 16000;
    sent.push({ t: performance.now(), need: Math.floor((endMedia - LOOKAHEAD) * 25) });
    ws.send(audio('v', clip.subarray(i * chunk, (i + 1) * chunk), i === n - 1));
  }
  for (let i = 0; i < 100 && next < sent.length; i++) await sleep(100);
  ws.close();
}

async function bomber(srv, stop, stats) {
  const b = bomb(20);
  while (!stop.done) {
    try {
      const ws = await open(srv, 48000, 1, 'attacker');
      const closed = new Promise((res) => (ws.onclose = res));
      ws.send(audio(`b${stats.n}`, b, true));
      stats.n++;
      await Promise.race([closed, sleep(5000)]);
      ws.close();
    } catch { await sleep(50); }
  }
}

async function flooder(srv, stop, stats) {
  const ws = await open(srv, 8000, 0, 'attacker');
  const c = pcm(8000, 4); // 64 KB
  let i = 0;
  while (!stop.done) {
    while (ws.bufferedAmount < 1 << 20 && !stop.done) { ws.send(audio(`f${Math.floor(i / 50)}`, c, i % 50 === 49)); i++; stats.bytes += c.length; }
    await sleep(10);
  }
  ws.close();
}

/* A raw WebSocket client that writes masked binary frames and never reads. */
function wsFrame(payload) {
  const n = payload.length, mask = randomBytes(4);
  const head = n < 126 ? Buffer.from([0x82, 0x80 | n]) : n < 65536 ? Buffer.from([0x82, 0x80 | 126, n >> 8, n & 255])
    : (() => { const b = Buffer.alloc(10); b[0] = 0x82; b[1] = 0x80 | 127; b.writeBigUInt64BE(BigInt(n), 2); return b; })();
  const body = Buffer.from(payload);
  for (let i = 0; i < n; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

async function nonReader(srv, stop, stats) {
  const c = pcm(16000, 1); // 32 KB per message
  while (!stop.done) {
    try {
      const tok = await getToken(srv, 'kb');
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      let head = Buffer.alloc(0);
      const up = await new Promise((res) => {
        s.on('data', (d) => { head = Buffer.concat([head, d]); if (head.includes('\r\n\r\n')) { s.removeAllListeners('data'); s.pause(); res(/^HTTP\/1\.1 101/.test(head.toString('latin1'))); } });
        s.on('close', () => res(false));
        s.write(`GET ${wsPath('b', tok)} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      if (!up) { s.destroy(); await sleep(200); continue; }
      stats.n++;
      s.write(wsFrame(configure(16000)));
      let i = 0;
      while (!stop.done && !s.destroyed && s.writable) {
        if (s.writableLength < 1 << 20) { s.write(wsFrame(audio(`n${Math.floor(i / 50)}`, c, i % 50 === 49))); i++; stats.bytes += c.length; }
        else await sleep(10);
      }
      s.destroy();
    } catch { await sleep(100); }
  }
}

async function slowloris(srv, stop, stats) {
  const socks = new Set();
  const openOne = () => {
    if (stop.done) return;
    const s = net.connect(srv.port, '127.0.0.1');
    s.on('error', () => {});
    s.on('connect', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
    s.on('close', () => { socks.delete(s); stats.n++; setTimeout(openOne, 50); });
    socks.add(s);
  };
  for (let i = 0; i < 1100; i++) openOne();
  while (!stop.done) {
    for (const s of socks) if (s.writable) s.write('X');
    for (let k = 0; k < 50 && !stop.done; k++) await sleep(100);
  }
  for (const s of socks) s.destroy();
}

const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };

const ATTACKERS = { 'ogg-bomb': bomber, 'pcm-flood': flooder, 'non-reader': nonReader, slowloris };
if (CHILD) {
  const srv = { port: CHILD_PORT, base: `http://127.0.0.1:${CHILD_PORT}` };
  const stop = { done: false }, stats = { n: 0, bytes: 0 };
  process.on('SIGTERM', () => { stop.done = true; });
  await ATTACKERS[CHILD](srv, stop, stats);
  process.stdout.write(JSON.stringify(stats) + '\n');
  process.exit(0);
}

const ticks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, clock ticks (100/s)
};

const results = [];
async function scenario(name) {
  const srv = await startServer();
  let stats = { n: 0, bytes: 0 };
  const victims = [];
  for (let i = 0; i < VICTIMS; i++) victims.push(await openVictim(srv));
  let child = null, childOut = '';
  if (ATTACKERS[name]) {
    child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', process.argv[1], '--attacker', name, '--port', String(srv.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (d) => (childOut += d));
    await sleep(WARMUP * 1000);
  }
  const lat = [];
  const load0 = loadavg()[0];
  const t0 = ticks(srv.proc.pid), w0 = performance.now();
  await Promise.all(victims.map((ws) => victim(ws, SECONDS, lat)));
  const cpu = (ticks(srv.proc.pid) - t0) / 100 / ((performance.now() - w0) / 1000);
  if (child) {
    const done = new Promise((r) => child.on('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 15000);
    await done;
    clearTimeout(t);
    try { stats = JSON.parse(childOut); } catch { /* killed */ }
  }
  const metrics = await (await fetch(`${srv.base}/metrics`)).text();
  const peak = /avatarkit_input_queue_peak_bytes (\d+)/.exec(metrics)?.[1];
  const limited = ['ip', 'app'].map((k) => new RegExp(`avatarkit_sessions_rate_limited_total\\{scope="${k}"\\} (\\d+)`).exec(metrics)?.[1] ?? '-').join('/');
  const audioS = /avatarkit_audio_seconds_total ([\d.]+)/.exec(metrics)?.[1];
  srv.proc.kill('SIGTERM');
  await new Promise((r) => srv.proc.on('exit', r));
  const f = (x) => x.toFixed(1);
  const what = name === 'ogg-bomb' ? `${stats.n} bombs` : name === 'pcm-flood' ? `${(stats.bytes / 16000).toFixed(0)} s of 8 kHz audio sent`
    : name === 'non-reader' ? `${stats.n} sessions, ${(stats.bytes / 32000).toFixed(0)} s of 16 kHz audio sent` : name === 'slowloris' ? `${stats.n} connections closed by the server` : '';
  results.push({ name, p95: pct(lat, 0.95) });
  console.log(`| ${name} | ${f(pct(lat, 0.5))} / ${f(pct(lat, 0.95))} / ${f(pct(lat, 0.99))} / ${f(Math.max(...lat))} ms | ${lat.length} | ${what} | ${limited} | ${audioS} s | ${(cpu * 100).toFixed(0)} % | ${peak} | ${load0.toFixed(1)} |`);
}

console.log(`# ${new Date().toISOString()} ${cpus().length} cores, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${VICTIMS} victims x ${SECONDS} s, workers ${workers ?? 'default'}, ulimit -n ${ULIMIT}, server flags [${serverExtra.join(' ')}]`);
console.log('| scenario | victim chunk latency p50 / p95 / p99 / max | chunks | attacker | upgrades refused 429 (ip/app) | audio processed | server CPU (of one core) | input queue peak (bytes) | load at start |');
console.log('|---|---|---|---|---|---|---|---|---|');
const attacks = ['ogg-bomb', 'pcm-flood', 'non-reader', 'slowloris'].filter((a) => !ONLY || ONLY.includes(a));
for (let r = 0; r < ROUNDS; r++) for (const a of attacks) { await scenario('baseline'); await scenario(a); }
// Summary: each attack's p95 over the p95 of the baseline run just before it (A/B pairs).
console.log('\n| attack | p95 / p95 of its baseline, per round | median ratio | within 2x |');
console.log('|---|---|---|---|');
for (const a of attacks) {
  const ratios = [];
  for (let i = 1; i < results.length; i++) if (results[i].name === a && results[i - 1].name === 'baseline') ratios.push(results[i].p95 / results[i - 1].p95);
  const med = [...ratios].sort((x, y) => x - y)[Math.floor(ratios.length / 2)];
  console.log(`| ${a} | ${ratios.map((x) => x.toFixed(2)).join(', ')} | ${med.toFixed(2)} | ${med <= 2 ? 'yes' : 'no'} |`);
}
