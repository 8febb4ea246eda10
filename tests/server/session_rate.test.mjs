// New-session rate limits (--session-rate-ip, --session-rate-app; server/session_rate.c), end
// to end against the real server over loopback: a refused upgrade is a strict HTTP/1.1 429
// with Retry-After that the official SDKs' rules (PROTOCOL.md section 6) read as
// invalidRequest, the token is not spent by a refusal, buckets refill, each client address
// (127.0.0.x source addresses) and each app has its own bucket, the address table stays
// within --session-rate-table-size, and /metrics counts refusals. No timing assertions: the
// refill is awaited in a bounded loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, token, sleep } from './harness.mjs';
import { parseStrict, upgradeRequest, classifyHttp } from './classify.mjs';

/* A raw upgrade from a chosen loopback source address; resolves { status, headers, json }. */
function upgradeFrom(srv, { tok, app = 'test-app', avatar = 'av1', from = '127.0.0.1', headers = {} }) {
  const path = `/v2/driveningress/websocket?id=${avatar}&appId=${app}&sessionKey=${encodeURIComponent(tok)}`;
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: srv.port, host: '127.0.0.1', localAddress: from });
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (f) => { if (!done) { done = true; clearTimeout(timer); s.destroy(); f(); } };
    const timer = setTimeout(() => finish(() => reject(new Error('no answer: ' + buf.toString()))), 10000);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (/^HTTP\/1\.1 101 /.test(buf.toString('latin1')) && buf.includes('\r\n\r\n')) finish(() => resolve({ status: 101 }));
    });
    s.on('error', (e) => finish(() => reject(e)));
    s.on('end', () => finish(() => { try { resolve(parseStrict(buf)); } catch (e) { reject(e); } }));
    s.write(upgradeRequest(path, headers));
  });
}

async function freshToken(srv, key = 'test-key') {
  const r = await token(srv, { key });
  assert.equal(r.status, 200);
  return r.body.sessionToken;
}

const metric = async (srv, re) => Number(re.exec(await (await fetch(`${srv.base}/metrics`)).text())?.[1]);

test('per address: burst, then a strict 429 with Retry-After (invalidRequest), token unspent, refill', async () => {
  // 1 session per second after a burst of 2; the app limit off.
  const srv = await startServer(['--session-rate-ip', '1:2', '--session-rate-app', '0']);
  try {
    assert.equal((await upgradeFrom(srv, { tok: await freshToken(srv) })).status, 101);
    assert.equal((await upgradeFrom(srv, { tok: await freshToken(srv) })).status, 101);
    const tok = await freshToken(srv);
    const r = await upgradeFrom(srv, { tok });
    assert.equal(r.status, 429);
    assert.equal(r.reason, 'Too Many Requests');
    assert.match(r.headers['retry-after'], /^[1-9]\d*$/);
    assert.match(r.json.message, /^Too many new sessions from this address: at most 1 per second \(burst 2\); retry after \d+ s$/);
    assert.equal(classifyHttp(r, 'websocket_connect'), 'invalidRequest');
    assert.equal(await metric(srv, /avatarkit_sessions_rate_limited_total\{scope="ip"\} (\d+)/), 1);
    // Another source address has its own bucket (same token: the refusal did not spend it).
    assert.equal((await upgradeFrom(srv, { tok, from: '127.0.0.2' })).status, 101);
    // The refused address gets in again once its bucket refills (bounded wait, no timing check).
    let status = 0;
    for (let i = 0; i < 60 && status !== 101; i++) {
      status = (await upgradeFrom(srv, { tok: await freshToken(srv) })).status;
      if (status !== 101) { assert.equal(status, 429); await sleep(250); }
    }
    assert.equal(status, 101);
    assert.deepEqual(await srv.stop(), { code: 0, sig: null }, srv.log());
  } finally {
    await srv.stop();
  }
});

test('per app: each API key/app has its own bucket, across addresses', async () => {
  const srv = await startServer(['--session-rate-ip', '0', '--session-rate-app', '0.01:2', '--app', 'key-b:app-b']);
  try {
    assert.equal((await upgradeFrom(srv, { tok: await freshToken(srv), from: '127.0.0.3' })).status, 101);
    assert.equal((await upgradeFrom(srv, { tok: await freshToken(srv), from: '127.0.0.4' })).status, 101);
    const r = await upgradeFrom(srv, { tok: await freshToken(srv), from: '127.0.0.5' });
    assert.equal(r.status, 429);
    assert.match(r.json.message, /^Too many new sessions for this app: at most 0\.01 per second \(burst 2\); retry after \d+ s$/);
    assert.ok(Number(r.headers['retry-after']) >= 1);
    assert.equal(classifyHttp(r, 'websocket_connect'), 'invalidRequest');
    // The other app is not affected, from the same address.
    const b = await upgradeFrom(srv, { tok: await freshToken(srv, 'key-b'), app: 'app-b', from: '127.0.0.5' });
    assert.equal(b.status, 101);
    assert.equal(await metric(srv, /avatarkit_sessions_rate_limited_total\{scope="app"\} (\d+)/), 1);
    assert.equal(await metric(srv, /avatarkit_sessions_rate_limited_total\{scope="ip"\} (\d+)/), 0);
  } finally {
    await srv.stop();
  }
});

test('the address table is bounded by --session-rate-table-size (forwarded addresses from a trusted proxy)', async () => {
  const srv = await startServer(['--session-rate-ip', '0.001:1', '--session-rate-app', '0',
    '--session-rate-table-size', '16', '--trusted-proxy', '127.0.0.1', '--max-sessions', '200']);
  try {
    for (let i = 0; i < 60; i++) {
      const r = await upgradeFrom(srv, { tok: await freshToken(srv), headers: { 'X-Forwarded-For': `198.51.100.${i}` } });
      assert.equal(r.status, 101);
    }
    assert.ok(await metric(srv, /avatarkit_session_rate_addresses (\d+)/) <= 16);
    assert.ok(await metric(srv, /avatarkit_session_rate_evictions_total (\d+)/) >= 44);
    // A forwarded address still in the table is limited; the proxy's own bucket is separate.
    const r = await upgradeFrom(srv, { tok: await freshToken(srv), headers: { 'X-Forwarded-For': '198.51.100.59' } });
    assert.equal(r.status, 429);
    assert.equal((await upgradeFrom(srv, { tok: await freshToken(srv) })).status, 101);
  } finally {
    await srv.stop();
  }
});

test('defaults let a backend open a burst of sessions from one address', async () => {
  const srv = await startServer([]);
  try {
    for (let i = 0; i < 100; i++) assert.equal((await upgradeFrom(srv, { tok: await freshToken(srv) })).status, 101);
    assert.equal(await metric(srv, /avatarkit_sessions_rate_limited_total\{scope="ip"\} (\d+)/), 0);
  } finally {
    await srv.stop();
  }
});
