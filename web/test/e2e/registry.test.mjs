// Loading avatars by id from a registry in headless Chromium: the static copy of the registry
// in web/dist (what the reference backend serves at /sdk/), and the real Motion Server's
// /avatars/<id>/ routes from another origin (skipped visibly when the server is not built).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noBrowser, openPage, root, startStatic } from './helpers.mjs';

const SERVER_BIN = [process.env.AVATARKIT_MOTION_SERVER, join(root, '..', 'build', 'bin', 'avatarkit-motion-server')].find((p) => p && existsSync(p));

/* In a page of the static server: loads {avatarId, registryUrl} with the built SDK, renders it
 * in an AvatarView and reports what it got (or the error). */
async function loadInPage(page, avatarId, registryUrl) {
  return page.evaluate(async ({ avatarId, registryUrl }) => {
    const { AvatarSDK, AvatarManager, AvatarView } = await import('/avatarkit.standalone.js');
    if (!AvatarSDK.isInitialized()) await AvatarSDK.initialize('registry-test', { drivingServiceMode: 'host' });
    const progress = [];
    try {
      const a = await AvatarManager.shared.load({ avatarId, registryUrl }, (p) => progress.push(p.type));
      const box = document.createElement('div');
      box.style.cssText = 'width:320px;height:320px';
      document.body.append(box);
      const view = new AvatarView(a, box, { sdk: AvatarSDK });
      await view.ready;
      const magic = String.fromCharCode(...new Uint8Array(a.data, 0, 4));
      const out = { id: a.id, name: a.name, url: a.url, bytes: a.data.byteLength, magic, isDefault: a.entry?.isDefault, channels: view.rig.channels.size, progress };
      view.dispose();
      return out;
    } catch (e) {
      return { error: e.code, message: e.message, progress };
    }
  }, { avatarId, registryUrl });
}

test('registry: the default avatar loads by id from the static registry in web/dist', { skip: noBrowser }, async () => {
  const srv = await startStatic();
  const { page, close, log } = await openPage(`${srv.url}/recordings/sync.json`);
  try {
    const meta = JSON.parse(readFileSync(join(root, 'dist/avatars/default/avatar.json'), 'utf8'));
    const got = await loadInPage(page, 'default', srv.url);
    assert.equal(got.error, undefined, `${got.message}\n${log.join('\n')}`);
    assert.equal(got.id, 'default');
    assert.equal(got.name, meta.name);
    assert.equal(got.url, `${srv.url}/avatars/default/${meta.model}`);
    assert.equal(got.magic, 'glTF');
    assert.equal(got.isDefault, true);
    assert.ok(got.channels > 0, 'the model has ARKit channels');
    assert.deepEqual([got.progress[0], got.progress.at(-1)], ['downloading', 'completed']);
    const missing = await loadInPage(page, 'no-such-avatar', srv.url);
    assert.equal(missing.error, 'AKS_AVATAR_NOT_FOUND', missing.message);
    assert.deepEqual(missing.progress, ['failed']);
  } finally {
    await close();
    await srv.close();
  }
});

test('registry: the default avatar loads by id from a running Motion Server (another origin)', { skip: noBrowser || (!SERVER_BIN && 'avatarkit-motion-server not built (cmake --build build); set AVATARKIT_MOTION_SERVER to use another') }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ak-reg-'));
  const portFile = join(dir, 'port');
  const proc = spawn(SERVER_BIN, ['--listen', '127.0.0.1:0', '--port-file', portFile, '--api-key', 'reg-key', '--app-id', 'reg-app', '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const srv = await startStatic();
  try {
    for (let i = 0; i < 200 && !existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 50));
    const motion = `http://127.0.0.1:${Number(readFileSync(portFile, 'utf8').trim())}`;
    const list = await (await fetch(`${motion}/v1/console/avatars`, { headers: { 'X-Api-Key': 'reg-key' } })).json();
    const entry = list.avatars.find((a) => a.id === 'default');
    assert.ok(entry, 'the server lists the default avatar');
    const { page, close, log } = await openPage(`${srv.url}/recordings/sync.json`);
    try {
      const got = await loadInPage(page, 'default', motion);
      assert.equal(got.error, undefined, `${got.message}\n${log.join('\n')}`);
      assert.equal(got.url, `${motion}${entry.modelUrl}`);
      assert.equal(got.bytes, entry.modelBytes);
      assert.equal(got.name, entry.name);
      assert.ok(got.channels > 0);
      const missing = await loadInPage(page, 'no-such-avatar', motion);
      assert.equal(missing.error, 'AKS_AVATAR_NOT_FOUND', missing.message);
    } finally {
      await close();
    }
  } finally {
    proc.kill('SIGTERM');
    await srv.close();
  }
});
