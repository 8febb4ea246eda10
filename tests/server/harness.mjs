// Starts the real motion server binary on a free loopback port and talks to it like a
// third-party client would: fetch for the console API, the WebSocket global for ingress.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as w from './wire.mjs';

export const BIN = process.env.AK_SERVER_BIN;
/* Test avatar registry (av1, av2, ...) that every server started here loads besides the
 * built-in avatars/ (which holds `default`). */
export const TEST_AVATARS = join(dirname(fileURLToPath(import.meta.url)), '../avatars');

export async function startServer(args = [], env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'aksrv-'));
  const portFile = join(dir, 'port');
  const proc = spawn(BIN, ['--listen', '127.0.0.1:0', '--port-file', portFile, '--avatars-dir', TEST_AVATARS, ...args], {
    env: { ...process.env, AVATARKIT_API_KEY: 'test-key', AVATARKIT_APP_ID: 'test-app', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stderr.on('data', (d) => (log += d));
  proc.stdout.on('data', (d) => (log += d));
  const exited = new Promise((res) => proc.on('exit', (code, sig) => res({ code, sig })));
  for (let i = 0; i < 200 && !existsSync(portFile); i++) await sleep(25);
  if (!existsSync(portFile)) throw new Error('server did not start: ' + log);
  const port = Number(readFileSync(portFile, 'utf8'));
  const base = `http://127.0.0.1:${port}`;
  return {
    proc, port, base, exited, log: () => log,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

/* A port for a process a test starts later (and may restart on the same port): free now,
 * and below the kernel's ephemeral range, where no outgoing connection (a node's to Redis,
 * HAProxy's to a node) can take it in the meantime. listen(0) would hand out a port inside
 * that range: on 2026-12-05 a fleet node's port was taken that way before it started. */
const EPHEMERAL_LOW = (() => {
  try { return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]) || 32768; } catch { return 32768; }
})();
const tryListen = (port) => new Promise((res) => {
  const s = net.createServer();
  s.on('error', () => res(false));
  s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
});
const usedPorts = new Set();
export async function freePort() {
  const lo = Math.max(1024, EPHEMERAL_LOW - 12000), span = EPHEMERAL_LOW - lo;
  for (let i = 0; i < 200; i++) {
    const port = lo + Math.floor(Math.random() * span);
    if (!usedPorts.has(port) && await tryListen(port)) { usedPorts.add(port); return port; }
  }
  throw new Error(`no free port in ${lo}-${EPHEMERAL_LOW - 1}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* The server logs through a writer thread (server/log.c), so a line can reach the pipe after
 * the HTTP answer that followed the event: wait (bounded, 5 s) until `re` matches at least `n`
 * lines of srv's log, then return the matching lines (fewer if the wait ran out). */
export async function waitLog(srv, re, n = 1, ms = 5000) {
  const lines = () => srv.log().split('\n').filter((l) => re.test(l));
  for (let t = Date.now(); lines().length < n && Date.now() - t < ms; ) await sleep(20);
  return lines();
}

export async function token(srv, { key = 'test-key', expireAt } = {}) {
  const res = await fetch(`${srv.base}/v1/console/session-tokens`, {
    method: 'POST',
    headers: { 'X-Api-Key': key, 'Content-Type': 'application/json' },
    body: JSON.stringify({ expireAt: expireAt ?? Math.floor(Date.now() / 1000) + 600 }),
  });
  return { status: res.status, body: await res.json() };
}

/* Opens a session with query auth; resolves once open (or rejects with the close/error). */
export function connect(srv, { app = 'test-app', avatar = 'av1', tok, path = '/v2/driveningress/websocket' } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}${path}?id=${encodeURIComponent(avatar)}&appId=${encodeURIComponent(app)}&sessionKey=${encodeURIComponent(tok)}`);
  ws.binaryType = 'arraybuffer';
  const inbox = [];
  const raw = []; // the exact bytes of every message, for recordings
  const waiters = [];
  let closed = null;
  ws.onmessage = (ev) => {
    raw.push(new Uint8Array(ev.data));
    inbox.push(w.decode(new Uint8Array(ev.data)));
    waiters.splice(0).forEach((f) => f());
  };
  ws.onclose = (ev) => {
    closed = { code: ev.code, reason: ev.reason };
    waiters.splice(0).forEach((f) => f());
  };
  const opened = new Promise((res, rej) => {
    ws.onopen = () => res();
    ws.onerror = () => setTimeout(() => rej(new Error('connect failed')), 10);
  });
  return {
    ws, inbox, raw, opened,
    get closed() { return closed; },
    /* Waits until pred(inbox) is true or the socket closed; bounded by ms. */
    async until(pred, ms = 10000) {
      const t0 = Date.now();
      while (!pred(inbox) && !closed && Date.now() - t0 < ms)
        await new Promise((r) => { waiters.push(r); setTimeout(r, 50); });
      return pred(inbox);
    },
    async waitClose(ms = 10000) {
      const t0 = Date.now();
      while (!closed && Date.now() - t0 < ms) await new Promise((r) => { waiters.push(r); setTimeout(r, 50); });
      return closed;
    },
  };
}

export const typeOf = (m) => Number(w.get(m, 1) ?? 0n);
export const errorOf = (m) => {
  const e = w.decode(w.get(m, 5));
  return { code: Number(w.get(e, 3) ?? 0n), message: new TextDecoder().decode(w.get(e, 4) ?? new Uint8Array()) };
};

/* Summarises the SERVER_RESPONSE_ANIMATION messages of one req_id. */
export function animationOf(inbox, reqId) {
  const out = { messages: 0, frames: 0, packets: [], end: false, totalSamples: 0, preSkip: 0, firstFrames: [], counts: [], endCount: 0, jaw: [], spans: [] };
  for (const m of inbox) {
    if (typeOf(m) !== 5) continue;
    const a = w.decode(w.get(m, 6));
    if (new TextDecoder().decode(w.get(a, 2) ?? new Uint8Array()) !== reqId) continue;
    out.messages++;
    const final = !!w.get(a, 3);
    if (final) { out.end = true; out.endCount++; }
    // per message: media end (s) of the motion and of the audio received so far
    const span = { final, motionEnd: NaN, audioEnd: NaN };
    out.spans.push(span);
    const mot = w.get(a, 100);
    if (mot) {
      const mm = w.decode(mot);
      const n = Number(w.get(mm, 5) ?? 0n);
      out.firstFrames.push(Number(w.get(mm, 4) ?? 0n));
      out.counts.push(n);
      out.frames += n;
      span.motionEnd = (Number(w.get(mm, 4) ?? 0n) + n) / Number(w.get(mm, 3) ?? 25n);
      const mask = w.get(mm, 6) ?? 0n;
      const weights = w.get(mm, 7) ?? new Uint8Array();
      const chans = [];
      for (let c = 0; c < 52; c++) if ((mask >> BigInt(c)) & 1n) chans.push(c);
      const jawIdx = chans.indexOf(17);
      for (let f = 0; f < n; f++) out.jaw.push(jawIdx >= 0 ? weights[f * chans.length + jawIdx] / 255 : 0);
    }
    const au = w.get(a, 101);
    if (au) {
      const aa = w.decode(au);
      const pk = w.getAll(aa, 8);
      out.packets.push(...pk);
      out.preSkip = Number(w.get(aa, 6) ?? 0n);
      const fs = Number(w.get(aa, 5) ?? 0n), sr = Number(w.get(aa, 3) ?? 0n);
      if (pk.length && sr) span.audioEnd = ((Number(w.get(aa, 7) ?? 0n) + pk.length) * fs - out.preSkip) / sr;
      const ts = Number(w.get(aa, 9) ?? 0n);
      if (ts) out.totalSamples = ts;
    }
  }
  return out;
}

/* Deterministic test speech stand-in: voiced bursts (harmonics) separated by silence. */
export function makePcm(rate, seconds, seed = 1) {
  const n = Math.round(rate * seconds);
  const buf = new Uint8Array(n * 2);
  const dv = new DataView(buf.buffer);
  let s = seed;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const on = Math.floor(t / 0.25) % 2 === 0 ? 1 : 0;
    s = (s * 1103515245 + 12345) >>> 0;
    const noise = ((s >>> 16) / 65536 - 0.5) * 0.02;
    const v = on * (0.3 * Math.sin(2 * Math.PI * 140 * t) + 0.2 * Math.sin(2 * Math.PI * 280 * t) + 0.1 * Math.sin(2 * Math.PI * 700 * t)) + noise;
    dv.setInt16(i * 2, Math.max(-32767, Math.min(32767, Math.round(v * 32767))), true);
  }
  return buf;
}

export async function handshake(srv, rate = 16000, format = 0, opts = {}) {
  const t = await token(srv);
  const c = connect(srv, { tok: t.body.sessionToken, ...opts });
  await c.opened;
  c.ws.send(w.configure(rate, format));
  await c.until((ib) => ib.some((m) => typeOf(m) === 2));
  return c;
}

export function sendAudio(c, reqId, pcm, chunkBytes, end = true) {
  for (let off = 0; off < pcm.length; off += chunkBytes) {
    const last = off + chunkBytes >= pcm.length;
    c.ws.send(w.audio(reqId, pcm.subarray(off, off + chunkBytes), end && last));
  }
  if (pcm.length === 0) c.ws.send(w.audio(reqId, new Uint8Array(), end));
}
