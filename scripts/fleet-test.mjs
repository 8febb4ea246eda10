// Fleet test (scripts/fleet-test.sh runs it): Redis + 3 Motion Server nodes + HAProxy with
// the shipped deploy/haproxy.cfg, all on loopback, real processes.
//  1. K sessions of the real C Server SDK (tests/deploy/fleet_client.c, reconnect on) and N
//     raw WebSocket sessions stream requests through the balancer; the node holding the most
//     SDK sessions is killed with SIGKILL: sessions on the other nodes see no error and keep
//     completing requests; the SDK sessions on the killed node get requestAborted for their
//     cut requests (never replayed), reconnect by themselves with a fresh token to a live
//     node and complete a new request; the raw sessions there see their close and reconnect
//     (fresh token) through the balancer. Failover times and the request times of the
//     surviving sessions around the kill are printed (reported, not asserted).
//  2. A token used on node A is refused on node B (and replayed through the balancer).
//  3. Rolling restart with drain (SIGTERM each node in turn, start it again) while clients
//     keep opening sessions and sending requests: no request is lost.
// Prints the figures and exits 1 on any failed check. Env: AK_SERVER_BIN, AK_FLEET_CLIENT,
// FLEET_SESSIONS, FLEET_SDK_SESSIONS, FLEET_SDK_PAUSE_MS.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, freePort, token, connect, handshake, sendAudio, animationOf, makePcm, typeOf, sleep } from '../tests/server/harness.mjs';
import { strictRequest, upgradeRequest } from '../tests/server/classify.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.env.FLEET_SESSIONS || 12);
const K = Number(process.env.FLEET_SDK_SESSIONS || 6);
const FLEET_CLIENT = process.env.AK_FLEET_CLIENT;
// Pause between two requests of an SDK session during the rolling restart (0: back to back).
const ROLL_PAUSE_MS = Number(process.env.FLEET_SDK_PAUSE_MS ?? 500);
const SECRET = 'f1ee7'.repeat(12) + 'f1ee';
const HAPROXY = process.env.AK_HAPROXY || 'haproxy';
const REDIS = process.env.AK_REDIS_SERVER || 'redis-server';
const checks = [];
const check = (ok, what) => { checks.push({ ok: !!ok, what }); console.log(`${ok ? 'PASS' : 'FAIL'}: ${what}`); };
const tmp = mkdtempSync(join(tmpdir(), 'akfleet-'));
const procs = [];

function spawnLogged(bin, args) {
  const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  p.stdout.on('data', (d) => (log += d));
  p.stderr.on('data', (d) => (log += d));
  p.exited = new Promise((r) => p.on('exit', r));
  p.log = () => log;
  procs.push(p);
  return p;
}

async function waitFor(pred, ms, step = 50) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) { if (await pred()) return true; await sleep(step); }
  return false;
}

const redisPort = await freePort();
spawnLogged(REDIS, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp]);
await waitFor(() => new Promise((r) => {
  const s = net.connect(redisPort, '127.0.0.1');
  s.on('connect', () => s.write('PING\r\n'));
  s.on('data', (d) => { s.destroy(); r(d.toString().startsWith('+PONG')); });
  s.on('error', () => r(false));
}), 10000);

const nodePorts = [await freePort(), await freePort(), await freePort()];
const nodeArgs = (port) => ['--listen', `127.0.0.1:${port}`, '--token-secret', SECRET, '--redis', `127.0.0.1:${redisPort}`,
  '--trusted-proxy', '127.0.0.1', '--drain-timeout', '10'];
const nodes = [];
for (const port of nodePorts) nodes.push(await startServer(nodeArgs(port)));

// The shipped config with loopback addresses.
const hport = await freePort(), sport = await freePort();
let cfg = readFileSync(join(ROOT, 'deploy/haproxy.cfg'), 'utf8')
  .replace(/^\s*bind :8080$/m, `    bind 127.0.0.1:${hport}`)
  .replace(/^\s*bind 127\.0\.0\.1:8404$/m, `    bind 127.0.0.1:${sport}`)
  .replace(/^\s*maxconn 50000$/m, '    maxconn 4000') // fd limit of a test machine
  .replace(/^\s*server node\d .*\n/gm, '');
cfg = cfg.replace(/(default-server .*\n)/, (m) => m + nodePorts.map((p, i) => `    server node${i + 1} 127.0.0.1:${p}\n`).join(''));
writeFileSync(join(tmp, 'haproxy.cfg'), cfg);
const hap = spawnLogged(HAPROXY, ['-db', '-f', join(tmp, 'haproxy.cfg')]);
const bal = { port: hport, base: `http://127.0.0.1:${hport}` };

/* Status and body of an upgrade through the balancer (which keeps the client connection
 * open after a refusal, so the answer ends at Content-Length, not at the close). */
function upgradeStatus(port, req, ms = 5000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer: ' + buf)); }, ms);
    const done = (v) => { clearTimeout(timer); s.destroy(); resolve(v); };
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      const head = buf.subarray(0, i).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]);
      if (status === 101) return done({ status });
      const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length >= i + 4 + len) done({ status, body: buf.subarray(i + 4, i + 4 + len).toString() });
    });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.write(req);
  });
}

async function upCount() {
  try {
    const csv = await (await fetch(`http://127.0.0.1:${sport}/stats;csv`)).text();
    return csv.split('\n').filter((l) => l.startsWith('motion,node') && l.split(',')[17] === 'UP').length;
  } catch { return 0; }
}
async function sessionsOn(node) {
  try {
    const t = await (await fetch(`${node.base}/metrics`)).text();
    return Number(/^avatarkit_sessions_active (\d+)$/m.exec(t)[1]);
  } catch { return -1; }
}

/* One C SDK client process: its JSON event lines, each stamped with the arrival time here. */
function sdkClient(seconds, pauseMs = 0) {
  const p = spawn(FLEET_CLIENT, [`${bal.base}/v1/console`, `ws://127.0.0.1:${hport}/v2/driveningress`,
    'test-key', 'test-app', 'av1', String(seconds), String(pauseMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const cl = { p, ev: [], err: '', exited: new Promise((r) => p.on('exit', (code, sig) => r({ code, sig }))) };
  let buf = '';
  p.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try { cl.ev.push({ at: Date.now(), ...JSON.parse(line) }); } catch { cl.err += `bad line: ${line}\n`; }
    }
  });
  p.stderr.on('data', (d) => (cl.err += d));
  procs.push(p);
  return cl;
}
let sdkLog;
const pct = (a, q) => (a.length ? a[Math.min(a.length - 1, Math.floor(a.length * q))] : '-');
const sorted = (a) => [...a].sort((x, y) => x - y);

let failed = false;
try {
  check(await waitFor(async () => (await upCount()) === 3, 15000), 'HAProxy sees 3 nodes UP');

  // ---- 1. kill -9 one node mid-stream --------------------------------------------------
  const pcm = makePcm(16000, 0.4, 3);
  // The SDK sessions first, alone, so that /metrics tells which node holds how many.
  const sdk = Array.from({ length: K }, () => sdkClient(90));
  sdkLog = () => sdk.map((s, i) => `client ${i}: ${JSON.stringify(s.ev.slice(-12))} ${s.err.slice(-800)}`).join('\n');
  check(await waitFor(() => sdk.every((s) => s.ev.some((e) => e.ev === 'connected')), 20000),
    `${K} C SDK session(s) connected through the balancer`);
  const sdkPerNode = await Promise.all(nodes.map(sessionsOn));
  const clients = [];
  for (let i = 0; i < N; i++) {
    const c = await handshake(bal);
    clients.push({ c, done: 0, errors: 0, reqLatency: [], reqs: [], n: 0, stopped: false });
  }
  const perNode = await Promise.all(nodes.map(sessionsOn));
  const rawPerNode = perNode.map((n, i) => n - sdkPerNode[i]);
  console.log(`sessions per node: ${perNode.join(' ')} (C SDK ${sdkPerNode.join(' ')})`);
  check(perNode.reduce((a, b) => a + b, 0) === N + K, `${N + K} sessions held across the nodes`);
  let stop = false;
  const loop = async (cl) => {
    while (!stop && !cl.c.closed) {
      const id = `r${cl.n++}`;
      const t0 = Date.now();
      sendAudio(cl.c, id, pcm, 3200);
      const ok = await cl.c.until((ib) => animationOf(ib, id).end, 15000);
      if (ok) { cl.done++; cl.reqLatency.push(Date.now() - t0); cl.reqs.push({ t0, t1: Date.now() }); }
      if (cl.c.inbox.some((m) => typeOf(m) === 4)) cl.errors++;
      await sleep(50);
    }
  };
  const loops = clients.map(loop);
  await sleep(1500);
  // The node holding the most SDK sessions (then the most sessions).
  const victim = [0, 1, 2].sort((a, b) => sdkPerNode[b] - sdkPerNode[a] || perNode[b] - perNode[a])[0];
  const before = clients.map((cl) => cl.done);
  const sdkBefore = sdk.map((s) => s.ev.length);
  const tKill = Date.now();
  nodes[victim].proc.kill('SIGKILL');
  await nodes[victim].exited;
  await waitFor(() => clients.filter((cl) => cl.c.closed).length >= rawPerNode[victim], 10000);
  const tClosed = Date.now() - tKill;
  await sleep(500); // a moment for any unexpected close elsewhere to show
  const closed = clients.filter((cl) => cl.c.closed);
  const alive = clients.filter((cl) => !cl.c.closed);
  check(closed.length === rawPerNode[victim], `the killed node's ${rawPerNode[victim]} raw session(s) closed (saw ${closed.length})`);
  check(alive.every((cl) => cl.errors === 0), 'sessions on the other nodes saw no error');
  // Bounded wait (a loaded machine is slow), then every surviving session must have
  // completed a request after the kill, with no error.
  await waitFor(() => alive.every((cl) => cl.done > before[clients.indexOf(cl)]), 20000);
  check(alive.every((cl) => cl.done > before[clients.indexOf(cl)]), 'sessions on the other nodes kept completing requests');
  check(alive.every((cl) => !cl.c.closed && cl.errors === 0), 'and stayed open without error');
  // The C SDK sessions: those that saw an error after the kill were on the killed node.
  const after = (s) => s.ev.slice(sdkBefore[sdk.indexOf(s)]);
  const hit = sdk.filter((s) => after(s).some((e) => e.ev === 'error'));
  const safe = sdk.filter((s) => !hit.includes(s));
  check(hit.length === sdkPerNode[victim], `the killed node's ${sdkPerNode[victim]} C SDK session(s) saw the loss (saw ${hit.length})`);
  const reconnectedSdk = (s) => {
    const ev = after(s);
    const i = ev.findIndex((e) => e.ev === 'connected');
    return i >= 0 && ev.slice(i).some((e) => e.ev === 'done');
  };
  await waitFor(() => hit.every(reconnectedSdk), 30000);
  const cuts = [];
  const sdkFail = [];
  for (const s of hit) {
    const ev = after(s);
    const all = s.ev;
    const conns = all.filter((e) => e.ev === 'connected').map((e) => e.conn);
    const aborted = ev.filter((e) => e.ev === 'error' && e.code === 'requestAborted').map((e) => e.req);
    cuts.push(...aborted);
    const doneIds = new Set(all.filter((e) => e.ev === 'done').map((e) => e.req));
    if (aborted.some((r) => !r || doneIds.has(r))) sdkFail.push('a cut request has no id or completed later (replayed)');
    if (all.some((e) => e.ev === 'stray' || e.ev === 'close' || e.ev === 'timeout')) sdkFail.push('stray completion, close or timeout');
    if (!reconnectedSdk(s)) sdkFail.push('no reconnect followed by a completed request');
    if (new Set(conns).size !== conns.length || conns.length < 2) sdkFail.push(`connection ids ${conns.join(',')}`);
    const lost = ev.find((e) => e.ev === 'error');
    const conn2 = ev.find((e) => e.ev === 'connected');
    const done2 = conn2 && ev.find((e) => e.ev === 'done' && e.at >= conn2.at);
    s.fig = { lost: lost ? lost.at - tKill : null, conn: conn2 ? conn2.at - tKill : null, done: done2 ? done2.at - tKill : null, aborted: aborted.length, codes: [...new Set(ev.filter((e) => e.ev === 'error').map((e) => e.code))] };
  }
  check(sdkFail.length === 0, `the killed node's C SDK sessions: cut requests ended with requestAborted and were never replayed, the SDK reconnected by itself (new connection id, fresh token from the console API) and completed a new request${sdkFail.length ? ': ' + sdkFail.join('; ') : ''}`);
  check(cuts.length >= 1, `the kill cut ${cuts.length} SDK request(s) mid-stream, each ended with requestAborted`);
  // Surviving SDK sessions: no error, no reconnect, requests completing after the kill.
  await waitFor(() => safe.every((s) => after(s).some((e) => e.ev === 'done')), 20000);
  check(safe.every((s) => !s.ev.some((e) => e.ev !== 'connected' && e.ev !== 'done') && s.ev.filter((e) => e.ev === 'connected').length === 1 && after(s).some((e) => e.ev === 'done')),
    `the ${safe.length} C SDK session(s) on the other nodes saw no error, no reconnect, and kept completing requests`);
  // Reconnect the closed ones through the balancer with fresh tokens.
  let reconnected = 0;
  const tRe = Date.now();
  for (const cl of closed) {
    try {
      const c = await handshake(bal);
      const id = 'again';
      sendAudio(c, id, pcm, 3200);
      if (await c.until((ib) => animationOf(ib, id).end, 15000)) reconnected++;
      c.ws.close();
    } catch (e) { console.log('reconnect failed: ' + e.message); }
  }
  const reconnectMs = Date.now() - tRe;
  check(reconnected === closed.length, `${reconnected}/${closed.length} closed session(s) reconnected through the balancer and completed a request`);
  stop = true;
  await Promise.all(loops);
  const lat = alive.flatMap((cl) => cl.reqLatency).sort((a, b) => a - b);
  console.log(`measured: ${N} raw sessions, killed node held ${rawPerNode[victim]} of them, they saw the close ${tClosed} ms after the kill, ` +
    `reconnecting them one after another (token + upgrade + one request each) took ${reconnectMs} ms, requests completed on surviving sessions: ${alive.reduce((a, cl) => a + cl.done, 0)}, ` +
    `request time p50 ${lat[lat.length >> 1]} ms max ${lat[lat.length - 1]} ms (0.4 s of audio each)`);
  // Around the kill on the surviving sessions (reported, not asserted: a loaded 2-core machine
  // makes any wall-clock bound flaky): request time of raw requests in flight at the kill or
  // started within 2 s after it, against those finished before; and for the SDK sessions the
  // largest gap between two messages of a request, before the kill and for requests ending
  // within 3 s after it.
  const rawB = sorted(alive.flatMap((cl) => cl.reqs.filter((r) => r.t1 < tKill).map((r) => r.t1 - r.t0)));
  const rawK = sorted(alive.flatMap((cl) => cl.reqs.filter((r) => r.t1 >= tKill && r.t0 < tKill + 2000).map((r) => r.t1 - r.t0)));
  const gapB = sorted(safe.flatMap((s) => s.ev.filter((e) => e.ev === 'done' && e.at < tKill).map((e) => e.max_gap_ms)));
  const gapK = sorted(safe.flatMap((s) => s.ev.filter((e) => e.ev === 'done' && e.at >= tKill && e.at < tKill + 3000).map((e) => e.max_gap_ms)));
  console.log(`measured: surviving raw sessions, request time before the kill p50 ${pct(rawB, 0.5)} max ${pct(rawB, 1)} ms (${rawB.length}), ` +
    `in flight at / started within 2 s of the kill p50 ${pct(rawK, 0.5)} max ${pct(rawK, 1)} ms (${rawK.length})`);
  console.log(`measured: surviving C SDK sessions, largest gap between two messages of a request before the kill max ${pct(gapB, 1)} ms (${gapB.length} requests), ` +
    `requests ending within 3 s after it max ${pct(gapK, 1)} ms (${gapK.length})`);
  for (const s of hit) console.log(`measured: C SDK session on the killed node: loss reported ${s.fig.lost} ms after the kill (${s.fig.codes.join(', ')}; ${s.fig.aborted} request(s) aborted), ` +
    `reconnected (fresh token, new connection) after ${s.fig.conn} ms, first new request completed after ${s.fig.done} ms (1 s of audio sent in real time)`);
  for (const s of sdk) s.p.kill('SIGTERM');
  const sdkExit = await Promise.all(sdk.map((s) => Promise.race([s.exited, sleep(15000).then(() => ({ code: 'hung' }))])));
  check(sdkExit.every((r) => r.code === 0), `C SDK clients closed their sessions and exited 0 on SIGTERM (${sdkExit.map((r) => r.code).join(' ')})`);
  for (const cl of clients) cl.c.ws.close();
  nodes[victim] = await startServer(nodeArgs(nodePorts[victim]));
  check(await waitFor(async () => (await upCount()) === 3, 15000), 'the killed node is back UP after a restart');

  // ---- 2. token replay across nodes ----------------------------------------------------
  const q = (t) => `/v2/driveningress/websocket?id=av1&appId=test-app&sessionKey=${encodeURIComponent(t)}`;
  const t1 = (await token(bal)).body.sessionToken;
  const a = await strictRequest(nodes[0].port, upgradeRequest(q(t1)));
  const b = await strictRequest(nodes[1].port, upgradeRequest(q(t1)));
  check(a.status === 101 && b.status === 400 && /already used/.test(b.json?.message), `token used on node A is refused on node B (${a.status}, ${b.status})`);
  const t2 = (await token(bal)).body.sessionToken;
  const r1 = await upgradeStatus(hport, upgradeRequest(q(t2)));
  const r2 = await upgradeStatus(hport, upgradeRequest(q(t2)));
  const r3 = await upgradeStatus(hport, upgradeRequest(q(t2)));
  check(r1.status === 101 && r2.status === 400 && r3.status === 400 && /already used/.test(r3.body), `token replayed through the balancer refused (${r1.status}, ${r2.status}, ${r3.status})`);

  // ---- 3. rolling restart with drain ----------------------------------------------------
  let rstop = false;
  const stats = { ok: 0, lost: 0, retried: 0, detail: [] };
  const worker = async () => {
    while (!rstop) {
      // A client retries like a real one: with backoff (0.1 s doubling to 1 s) for up to 10 s
      // while nodes drain and restart (5 quick tries once ran out while the balancer still
      // sent upgrades to a node on its way down); a request is lost only when that runs out
      // or when it fails after it was sent (an error, or a close other than a drain's 1001).
      let done = false;
      const until = Date.now() + 10000;
      let backoff = 100;
      const retry = async () => {
        stats.retried++;
        await sleep(backoff);
        backoff = Math.min(1000, backoff * 2);
      };
      for (let attempt = 0; attempt < 40 && !done && Date.now() < until; attempt++) {
        let c;
        try {
          c = await handshake(bal);
        } catch (e) { await retry(); continue; }
        const id = 'roll';
        sendAudio(c, id, pcm, 3200);
        const ok = await c.until((ib) => animationOf(ib, id).end, 15000);
        const err = c.inbox.some((m) => typeOf(m) === 4);
        c.ws.close();
        if (ok && !err) done = true;
        else if (c.closed?.code === 1001 && !err) await retry(); // drained before the request
        else { stats.detail.push(`close ${c.closed?.code} err ${err}`); break; }
      }
      if (done) stats.ok++; else stats.lost++;
    }
  };
  // C SDK sessions (reconnect on) stay open through the whole rolling restart.
  const rsdk = Array.from({ length: K }, () => sdkClient(120, ROLL_PAUSE_MS));
  sdkLog = () => rsdk.map((s, i) => `client ${i}: ${JSON.stringify(s.ev.slice(-12))} ${s.err.slice(-800)}`).join('\n');
  check(await waitFor(() => rsdk.every((s) => s.ev.some((e) => e.ev === 'connected')), 20000), `${K} C SDK session(s) connected for the rolling restart`);
  const drainMs = [];
  const workers = Array.from({ length: 6 }, worker);
  await sleep(1000);
  for (let i = 0; i < 3; i++) {
    nodes[i].proc.kill('SIGTERM');
    const tTerm = Date.now();
    const r = await nodes[i].exited;
    drainMs.push(Date.now() - tTerm);
    check(r.code === 0, `node ${i + 1} drained and exited 0 (${JSON.stringify(r)})`);
    nodes[i] = await startServer(nodeArgs(nodePorts[i]));
    check(await waitFor(async () => (await upCount()) === 3, 15000), `node ${i + 1} back UP`);
  }
  await sleep(1000);
  rstop = true;
  await Promise.all(workers);
  const tUp = Date.now();
  await waitFor(() => rsdk.every((s) => s.ev.some((e) => e.ev === 'done' && e.at > tUp)), 20000);
  const tTerm = Date.now();
  for (const s of rsdk) s.p.kill('SIGTERM');
  const rExit = await Promise.all(rsdk.map((s) => Promise.race([s.exited, sleep(15000).then(() => ({ code: 'hung' }))])));
  const evs = rsdk.flatMap((s) => s.ev);
  const count = (f) => evs.filter(f).length;
  const codes = [...new Set(evs.filter((e) => e.ev === 'error').map((e) => e.code))];
  const rAborted = evs.filter((e) => e.ev === 'error' && e.code === 'requestAborted').map((e) => e.req);
  const rDone = new Set(evs.filter((e) => e.ev === 'done').map((e) => e.req));
  console.log(`measured: rolling restart, ${K} C SDK sessions: ${count((e) => e.ev === 'done')} requests completed, ${rAborted.length} aborted, ` +
    `${count((e) => e.ev === 'connected') - K} reconnect(s) (each after a 1001 from a draining node), error codes seen: ${codes.join(', ') || 'none'}`);
  console.log(`measured: rolling restart, SIGTERM to exit per node (the drain closes each session with 1001 once it has no request open, at most --drain-timeout 10 s): ${drainMs.join(' ')} ms`);
  // Each way the check can fail is named in its line: CI keeps only the FAIL lines.
  const why = [];
  rsdk.forEach((s, i) => {
    if (rExit[i].code !== 0) why.push(`client ${i} exit ${JSON.stringify(rExit[i])}`);
    const bad = s.ev.filter((e) => (e.ev === 'close' && e.at < tTerm) || ['timeout', 'stray', 'setup_failed', 'send_failed'].includes(e.ev));
    if (bad.length) why.push(`client ${i} ${JSON.stringify(bad[0])}${bad.length > 1 ? ` (+${bad.length - 1})` : ''}`);
    if (!s.ev.some((e) => e.ev === 'done' && e.at > tUp)) why.push(`client ${i} no request done after the restart, last ${JSON.stringify(s.ev.slice(-2))}`);
  });
  const replayed = rAborted.filter((r) => !r || rDone.has(r));
  if (replayed.length) why.push(`aborted request(s) without id or completed later: ${JSON.stringify(replayed)}`);
  check(why.length === 0, `C SDK sessions stayed usable through the rolling restart${why.length ? ': ' + why.join('; ') :
    ' (reconnected by themselves, completed requests after it, nothing replayed)'}`);
  console.log(`measured: rolling restart of 3 nodes, ${stats.ok} requests completed, ${stats.lost} lost, ` +
    `${stats.retried} session(s) reconnected (closed 1001 before their request, or upgrade failed) ${stats.detail.join('; ')}`);
  check(stats.lost === 0 && stats.ok > 0, 'rolling restart with drain lost no request');
} catch (e) {
  console.log('FAIL: ' + (e.stack || e));
  failed = true;
} finally {
  for (const n of nodes) await n.stop().catch(() => {});
  for (const p of procs) if (p.exitCode === null) { p.kill('SIGKILL'); await p.exited; }
}
const bad = checks.filter((c) => !c.ok).length;
console.log(`fleet-test: ${checks.length - bad} passed, ${bad + (failed ? 1 : 0)} failed`);
if (bad || failed) {
  console.log('--- haproxy log tail ---\n' + hap.log().slice(-2000));
  if (typeof sdkLog === 'function') console.log('--- C SDK clients ---\n' + sdkLog());
  process.exit(1);
}
