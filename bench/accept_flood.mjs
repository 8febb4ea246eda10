// Accept-flood benchmark (issue 12, finding 3): N slow connections (default 1100) against a
// server at a low fd limit (default ulimit -n 1024). Each connection sends a partial request
// header and then one byte every few seconds (slowloris). Reports the server's CPU use over
// the run, its stderr lines (an accept loop that spins logs per failed accept), /healthz
// latency samples, and whether it serves again after the flood. Measures; asserts nothing.
//   node bench/accept_flood.mjs [BUILD_DIR] [--conns N] [--seconds S] [--ulimit N] [--reconnect] [-- server args...]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const serverArgs = dd >= 0 ? argv.slice(dd + 1) : [];
const args = dd >= 0 ? argv.slice(0, dd) : argv;
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : def; };
const build = args[0] && !args[0].startsWith('--') ? args[0] : 'build';
const CONNS = opt('--conns', 1100), SECONDS = opt('--seconds', 30), ULIMIT = opt('--ulimit', 1024);
const bin = join(build, 'bin', 'avatarkit-motion-server');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ticks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, clock ticks (100/s)
};

const dir = mkdtempSync(join(tmpdir(), 'akflood-'));
const portFile = join(dir, 'port');
const proc = spawn('/bin/sh', ['-c', `ulimit -n ${ULIMIT} && exec "$0" "$@"`, bin, '--listen', '127.0.0.1:0',
  '--port-file', portFile, '--log-level', 'info', ...serverArgs],
{ env: { ...process.env, AVATARKIT_API_KEY: 'k', AVATARKIT_APP_ID: 'a' }, stdio: ['ignore', 'ignore', 'pipe'] });
let lines = 0, sample = '';
proc.stderr.on('data', (d) => { const s = d.toString(); lines += s.split('\n').length - 1; if (sample.length < 400) sample += s; });
for (let i = 0; i < 200 && !existsSync(portFile); i++) await sleep(25);
const port = Number(readFileSync(portFile, 'utf8'));

async function health(ms = 20000) {
  const t0 = performance.now();
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(Math.round(ms)) });
    await r.text();
    return performance.now() - t0;
  } catch (e) { if (process.env.AK_DEBUG) console.log(String(e.cause ?? e)); return Infinity; }
}

const before = await health();
const linesBefore = lines;
const socks = [];
const RECONNECT = args.includes('--reconnect');
let stopping = false, reconnects = 0;
function open(i) {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  s.on('connect', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
  // --reconnect: an attacker that opens a new connection 50 ms after each one is closed
  s.on('close', () => { if (RECONNECT && !stopping) { reconnects++; setTimeout(() => { if (!stopping) open(i); }, 50); } });
  socks[i] = s;
}
for (let i = 0; i < CONNS; i++) open(i);
const timer = setInterval(() => { for (const s of socks) if (s.writable) s.write('X'); }, 5000);
const t0 = ticks(proc.pid), w0 = performance.now();
const lat = [];
while (performance.now() - w0 < SECONDS * 1000) {
  const l = await health(Math.max(1000, SECONDS * 1000 - (performance.now() - w0)));
  lat.push(l);
  await sleep(1000);
}
const cpu = (ticks(proc.pid) - t0) / 100 / ((performance.now() - w0) / 1000);
clearInterval(timer);
stopping = true;
for (const s of socks) s.destroy();
await sleep(500);
const after = await health();
lat.sort((a, b) => a - b);
const fmt = (x) => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : 'no answer');
console.log(`accept flood: ${CONNS} slow connections, ulimit -n ${ULIMIT}, ${SECONDS} s, server args [${serverArgs.join(' ')}]`);
if (RECONNECT) console.log(`  reconnects by the client: ${reconnects}`);
console.log(`  server CPU: ${(cpu * 100).toFixed(1)} % of a core`);
console.log(`  server log lines during the flood: ${lines - linesBefore}`);
console.log(`  /healthz before: ${fmt(before)}; during (${lat.length} samples) p50 ${fmt(lat[Math.floor(lat.length / 2)])}, max ${fmt(lat[lat.length - 1])}; after: ${fmt(after)}`);
proc.kill('SIGTERM');
await new Promise((r) => proc.on('exit', r));
