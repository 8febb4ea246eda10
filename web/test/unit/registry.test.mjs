// The avatar registry client (src/registry.ts) against a fake fetch, and the project's
// registry (../avatars) as the build copies it: whatever the default avatar's content, its
// entry must be valid and its model a GLB.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from '../../tools/transpile.mjs';
import './helpers.mjs'; // transpiles src/

const registry = await load('registry');
const { ErrorCode } = await load('errors');
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const fakeFetch = (routes, seen = []) => async (url) => {
  seen.push(url);
  const r = routes[url];
  if (r instanceof Error) throw r;
  if (!r) return new Response('{"errors":[]}', { status: 404 });
  return new Response(typeof r === 'string' ? r : JSON.stringify(r), { status: 200 });
};

test('registry: resolves avatar.json and the model next to it', async () => {
  const seen = [];
  const f = fakeFetch({ 'http://reg.example/base/avatars/amy/avatar.json': { id: 'amy', name: 'Amy', description: 'd', model: 'amy.glb', preview: 'p.png', default: true, extra: 1 } }, seen);
  const e = await registry.fetchAvatarEntry('http://reg.example/base', 'amy', f);
  assert.deepEqual(seen, ['http://reg.example/base/avatars/amy/avatar.json']);
  assert.deepEqual(e, {
    id: 'amy', name: 'Amy', description: 'd', model: 'amy.glb',
    metadataUrl: 'http://reg.example/base/avatars/amy/avatar.json',
    modelUrl: 'http://reg.example/base/avatars/amy/amy.glb',
    previewUrl: 'http://reg.example/base/avatars/amy/p.png', isDefault: true,
  });
  // A trailing slash on the registry URL changes nothing; defaults for missing fields.
  const g = fakeFetch({ 'http://reg.example/base/avatars/bob/avatar.json': { id: 'bob', model: 'm.glb' } });
  const b = await registry.fetchAvatarEntry('http://reg.example/base/', 'bob', g);
  assert.equal(b.name, 'bob');
  assert.equal(b.description, '');
  assert.equal(b.isDefault, false);
  assert.equal(b.previewUrl, undefined);
});

test('registry: refuses bad ids, unknown avatars and entries that point elsewhere', async () => {
  const routes = {
    'http://r/avatars/wrongid/avatar.json': { id: 'other', model: 'a.glb' },
    'http://r/avatars/escape/avatar.json': { id: 'escape', model: '../../secret.glb' },
    'http://r/avatars/abs/avatar.json': { id: 'abs', model: 'http://evil.example/x.glb' },
    'http://r/avatars/dot/avatar.json': { id: 'dot', model: '.x.glb' },
    'http://r/avatars/notjson/avatar.json': 'not json',
    'http://r/avatars/array/avatar.json': [1],
    'http://r/avatars/big/avatar.json': JSON.stringify({ id: 'big', model: 'a.glb', pad: 'x'.repeat(70000) }),
    'http://r/avatars/down/avatar.json': new Error('connection refused'),
  };
  const f = fakeFetch(routes);
  for (const id of ['', 'Amy', '../x', 'a/b', 'x'.repeat(65), 7]) {
    await assert.rejects(registry.fetchAvatarEntry('http://r', id, f), (e) => e.code === ErrorCode.INVALID_ARGUMENT, String(id));
  }
  await assert.rejects(registry.fetchAvatarEntry('http://r', 'missing', f), (e) => e.code === ErrorCode.AVATAR_NOT_FOUND && /Avatar not found/.test(e.message));
  for (const id of ['wrongid', 'escape', 'abs', 'dot', 'notjson', 'array', 'big', 'down']) {
    await assert.rejects(registry.fetchAvatarEntry('http://r', id, f), (e) => e.code === ErrorCode.AVATAR_LOAD_FAILED, id);
  }
});

test('registry: the project ships a valid default avatar in avatars/default', { skip: !existsSync(join(REPO, 'avatars')) && 'no ../avatars' }, () => {
  const meta = JSON.parse(readFileSync(join(REPO, 'avatars/default/avatar.json'), 'utf8'));
  assert.equal(meta.id, 'default');
  assert.equal(meta.default, true);
  assert.match(meta.model, /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/);
  const glb = readFileSync(join(REPO, 'avatars/default', meta.model));
  assert.equal(glb.subarray(0, 4).toString('latin1'), 'glTF');
  assert.equal(glb.readUInt32LE(8), glb.length, 'GLB length field');
});
