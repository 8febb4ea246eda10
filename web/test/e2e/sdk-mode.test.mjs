// sdk mode in headless Chromium: the live demo page connects straight to a Motion Server,
// streams PCM and plays what comes back. Against a scripted fake server always, and against
// the real avatarkit-motion-server binary when it has been built (skipped visibly otherwise).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeMotionServer } from './fake-motion-server.mjs';
import { dist, ensureDist, noBrowser, openPage, root, shot, waitFor } from './helpers.mjs';

const SERVER_BIN = [process.env.AVATARKIT_MOTION_SERVER, join(root, '..', 'build', 'bin', 'avatarkit-motion-server')].find((p) => p && existsSync(p));

async function live(url, query = '') {
  const p = await openPage(`${url}/live.html?server=${encodeURIComponent(url)}${query}`);
  await waitFor(p.page, () => window.__live?.ready, null, 60000);
  return p;
}

test('sdk mode against a scripted server: token, handshake, one request, playing -> idle, interrupt', { skip: noBrowser }, async () => {
  ensureDist();
  const recording = JSON.parse(readFileSync(join(dist, 'recordings/sync.json'), 'utf8'));
  const srv = await startFakeMotionServer({ roots: [dist], recording });
  const { page, close, log } = await live(srv.url);
  try {
    const token = await page.evaluate((u) => window.__live.getToken(u, 'test-key'), srv.url);
    assert.equal(token, 'tok-1');
    await page.fill('#token', token);
    await page.evaluate(() => window.__live.connect());
    assert.deepEqual(await page.evaluate(() => window.__live.conn), ['connecting', 'connected']);
    assert.deepEqual(srv.seen.configure, [{ sampleRate: 16000, bitrate: 0, audioFormat: 0 }]);
    const reqId = await page.evaluate(() => window.__live.sendPcm(window.__live.testSpeech(1.2), 4));
    assert.match(reqId, /^\d{14}_[A-Za-z0-9_-]{12}$/);
    await waitFor(page, () => window.__live.states.some((s) => s.state === 'idle'), null, 90000);
    assert.deepEqual(await page.evaluate(() => window.__live.states.map((s) => `${s.state}:${s.reason}`)), ['playing:playbackStart', 'idle:playbackEnd']);
    assert.ok(srv.seen.audio.every((a) => a.reqId === reqId), 'one request id for the whole utterance');
    assert.equal(srv.seen.audio.filter((a) => a.end).length, 1);
    assert.equal(srv.seen.audio.reduce((n, a) => n + a.bytes, 0), 1.2 * 16000 * 2);
    const jawMax = await page.evaluate(() => Math.max(...window.__live.view.controller.renders.map((r) => r.speechWeight)));
    assert.ok(jawMax > 0.9, 'speech drove the face');
    // second request, interrupted while it plays: the server is told which request to stop
    const req2 = await page.evaluate(() => window.__live.sendPcm(window.__live.testSpeech(0.6), 8));
    await waitFor(page, () => window.__live.states.filter((s) => s.state === 'playing').length === 2, null, 90000);
    await shot(page, 'sdk-mode-speaking');
    await page.evaluate(() => window.__live.view.controller.interrupt());
    await waitFor(page, () => window.__live.states.at(-1).reason === 'userAction', null, 10000);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(srv.seen.interrupts, [req2]);
    assert.deepEqual(await page.evaluate(() => window.__live.errors), []);
    await page.evaluate(() => window.__live.view.controller.close());
    assert.equal(await page.evaluate(() => window.__live.conn.at(-1)), 'disconnected');
  } catch (e) {
    console.log(log.join('\n'));
    throw e;
  } finally {
    await close();
    await srv.close();
  }
});

test('sdk mode: a refused session token ends in connection failed with an error code', { skip: noBrowser }, async () => {
  ensureDist();
  const recording = JSON.parse(readFileSync(join(dist, 'recordings/sync.json'), 'utf8'));
  const srv = await startFakeMotionServer({ roots: [dist], recording });
  const { page, close } = await live(srv.url, '&token=not-a-token');
  try {
    const err = await page.evaluate(() => window.__live.connect().then(() => 'connected', (e) => e.message));
    assert.match(err, /connection failed/);
    const r = await page.evaluate(() => ({ conn: window.__live.conn, errors: window.__live.errors }));
    assert.deepEqual(r.conn, ['connecting', 'failed']);
    assert.ok(r.errors.length >= 1 && ['AKS_SESSION_TOKEN_INVALID', 'AKS_CONNECTION_FAILED'].includes(r.errors[0].code), JSON.stringify(r.errors));
    assert.equal(srv.seen.refused, 1);
    // send() without a session is refused with a stable code, nothing crashes
    await page.evaluate(() => window.__live.view.controller.send(new Uint8Array(64), true));
    assert.equal(await page.evaluate(() => window.__live.errors.at(-1).code), 'AK_ESTATE');
  } finally {
    await close();
    await srv.close();
  }
});

test('sdk mode against the real avatarkit-motion-server', { skip: noBrowser || (!SERVER_BIN && 'avatarkit-motion-server not built (cmake --build build); set AVATARKIT_MOTION_SERVER to use another') }, async () => {
  ensureDist();
  const dir = mkdtempSync(join(tmpdir(), 'ak-ms-'));
  const portFile = join(dir, 'port');
  const proc = spawn(SERVER_BIN, ['--listen', '127.0.0.1:0', '--port-file', portFile, '--api-key', 'e2e-key', '--app-id', 'demo', '--static', dist, '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    for (let i = 0; i < 200 && !existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 50));
    const port = Number(readFileSync(portFile, 'utf8').trim());
    assert.ok(port > 0, 'server wrote its port');
    const url = `http://127.0.0.1:${port}`;
    const { page, close, log } = await live(url);
    try {
      const token = await page.evaluate((u) => window.__live.getToken(u, 'e2e-key'), url);
      assert.ok(token.length > 8);
      await page.fill('#token', token);
      await page.evaluate(() => window.__live.connect());
      await page.evaluate(() => window.__live.sendPcm(window.__live.testSpeech(2.0), 2));
      await waitFor(page, () => window.__live.states.some((s) => s.state === 'idle') || window.__live.errors.length, null, 90000);
      await shot(page, 'real-server-after');
      assert.deepEqual(await page.evaluate(() => window.__live.errors), []);
      assert.deepEqual(await page.evaluate(() => window.__live.states.map((s) => `${s.state}:${s.reason}`)), ['playing:playbackStart', 'idle:playbackEnd']);
      const renders = await page.evaluate(() => window.__live.view.controller.renders.slice());
      // Some frames were rendered while playing (the count depends on the machine's load: SwiftShader
      // on a busy 2-core box can fall to a few fps), and every one showed the frame being heard.
      assert.ok(renders.length >= 5, `rendered ${renders.length} frames while playing`);
      assert.ok(Math.max(...renders.map((r) => Math.abs(r.shownFrame - r.clockFrame))) <= 1);
      const jaw = await page.evaluate(() => window.__live.view.rig.influence(17));
      assert.ok(Number.isFinite(jaw));
    } catch (e) {
      console.log(log.join('\n'));
      throw e;
    } finally {
      await close();
    }
  } finally {
    proc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
