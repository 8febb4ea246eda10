// --trusted-proxy (server/proxy.c): behind a load balancer the token API's per-IP rate limit
// and its logs use the client address from X-Forwarded-For, but only when the connection
// comes from a trusted proxy; anyone else's header is ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './harness.mjs';

async function tokenFrom(srv, xff, key = 'test-key') {
  const headers = { 'X-Api-Key': key, 'Content-Type': 'application/json' };
  if (xff !== undefined) headers['X-Forwarded-For'] = xff;
  const res = await fetch(`${srv.base}/v1/console/session-tokens`, {
    method: 'POST', headers, body: JSON.stringify({ expireAt: Math.floor(Date.now() / 1000) + 600 }),
  });
  await res.arrayBuffer();
  return res.status;
}

test('from a trusted proxy, X-Forwarded-For picks the rate-limit bucket (rightmost untrusted entry)', async () => {
  const srv = await startServer(['--token-rate-limit', '2', '--trusted-proxy', '10.9.0.0/16,127.0.0.1']);
  try {
    assert.equal(await tokenFrom(srv, '198.51.100.1'), 200);
    assert.equal(await tokenFrom(srv, '198.51.100.1'), 200);
    assert.equal(await tokenFrom(srv, '198.51.100.1'), 429);
    // Another client behind the same proxy has its own bucket.
    assert.equal(await tokenFrom(srv, '198.51.100.2'), 200);
    // A forged left part does not help: the entry the proxy appended counts; trusted
    // hops (10.9.x.x) on the right are skipped.
    assert.equal(await tokenFrom(srv, '203.0.113.7, 198.51.100.1'), 429);
    assert.equal(await tokenFrom(srv, '198.51.100.1, 10.9.3.4'), 429);
    assert.equal(await tokenFrom(srv, '203.0.113.8, 198.51.100.3, 10.9.3.4'), 200);
    // A malformed header falls back to the proxy's own address (bucket 127.0.0.1).
    assert.equal(await tokenFrom(srv, 'not-an-ip'), 200);
    assert.equal(await tokenFrom(srv, 'not-an-ip'), 200);
    assert.equal(await tokenFrom(srv), 429);
    // Logs name the forwarded client of a wrong API key.
    assert.equal(await tokenFrom(srv, '192.0.2.55', 'wrong'), 401);
    for (let i = 0; i < 100 && !srv.log().includes('from 192.0.2.55'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(srv.log(), /wrong API key from 192\.0\.2\.55/);
    assert.deepEqual(await srv.stop(), { code: 0, sig: null }, srv.log());
  } finally {
    await srv.stop();
  }
});

test('without --trusted-proxy X-Forwarded-For is ignored; bad values are refused at start', async () => {
  const srv = await startServer(['--token-rate-limit', '2']);
  try {
    assert.equal(await tokenFrom(srv, '198.51.100.1'), 200);
    assert.equal(await tokenFrom(srv, '198.51.100.2'), 200);
    assert.equal(await tokenFrom(srv, '198.51.100.3'), 429); // one bucket: the peer 127.0.0.1
  } finally {
    await srv.stop();
  }
  const { spawnSync } = await import('node:child_process');
  for (const bad of ['10.0.0.0/33', 'nope', '::1/129', '']) {
    const r = spawnSync(process.env.AK_SERVER_BIN, ['--listen', '127.0.0.1:0', '--trusted-proxy', bad], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--trusted-proxy/);
  }
});
