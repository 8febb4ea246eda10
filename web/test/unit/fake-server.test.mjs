// The scripted fake Motion Server the browser tests use answers refusals like the real server:
// read with the wire suite's strict HTTP/1.1 parser and classified by its section-6 rules.
import test from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startFakeMotionServer } from '../e2e/fake-motion-server.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const wire = await import(pathToFileURL(join(repo, 'tests', 'server', 'classify.mjs')).href);

test('fake server: refusals are strict HTTP/1.1 with the real bodies and classify as the SDKs would', async () => {
  const srv = await startFakeMotionServer({ roots: [], recording: { requests: [{ messages: [] }] }, apiKey: 'k', appId: 'demo' });
  const port = Number(new URL(srv.url).port);
  try {
    const bad = await wire.strictRequest(port, wire.upgradeRequest('/v2/driveningress/websocket?id=a&appId=demo&sessionKey=bogus'));
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json, { message: 'Invalid session token' });
    assert.ok(bad.text.endsWith('\n'));
    assert.equal(wire.classifyHttp(bad, 'websocket_connect'), 'sessionTokenInvalid');

    const key = await wire.strictRequest(port, wire.postRequest('/v1/console/session-tokens', { 'X-Api-Key': 'wrong' }, '{"expireAt":1}'));
    assert.equal(key.status, 401);
    assert.equal(key.json.errors[0].code, 'invalid_api_key');
    assert.ok(!/unauthorized/i.test(key.text), 'never the word the SDKs read as an egress error');
    assert.equal(wire.classifyHttp(key, 'session_token'), 'sessionTokenExpired');

    const ok = await wire.strictRequest(port, wire.postRequest('/v1/console/session-tokens', { 'X-Api-Key': 'k' }, '{"expireAt":1}'));
    const tok = JSON.parse(ok.text).sessionToken;
    const app = await wire.strictRequest(port, wire.upgradeRequest(`/v2/driveningress/websocket?id=a&appId=other&sessionKey=${tok}`));
    assert.equal(app.status, 404);
    assert.equal(wire.classifyHttp(app, 'websocket_connect'), 'appIDUnrecognized');
  } finally {
    await srv.close();
  }
});
