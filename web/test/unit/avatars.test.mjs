// The repository's bundled avatars (avatars/<id>/): layout as the registry reads it, small
// files, and the committed GLBs exactly what tools/make-avatars.mjs makes from the generator
// (so the sculpt in the repository and the file people load cannot drift apart).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AVATARS, buildAvatars } from '../../tools/make-avatars.mjs';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../../avatars');

test('every bundled avatar directory follows the layout', () => {
  const ids = readdirSync(dir).filter((d) => existsSync(join(dir, d, 'avatar.json')));
  for (const a of AVATARS) assert.ok(ids.includes(a.id), `avatars/${a.id}/ missing`);
  assert.ok(ids.length >= 2, 'a default and at least one other avatar');
  let defaults = 0;
  for (const id of ids) {
    assert.match(id, /^[a-z0-9][a-z0-9_-]{0,63}$/);
    const j = JSON.parse(readFileSync(join(dir, id, 'avatar.json'), 'utf8'));
    assert.equal(j.id, id);
    assert.equal(typeof j.name, 'string');
    assert.equal(typeof j.description, 'string');
    const glb = readFileSync(join(dir, id, j.model));
    assert.equal(glb.readUInt32LE(0), 0x46546c67, `${id}: GLB magic`);
    assert.ok(glb.length < 2 * 1024 * 1024, `${id}: ${glb.length} bytes (target < 2 MB)`);
    if (j.default) defaults++;
  }
  assert.equal(defaults, 1);
  assert.equal(JSON.parse(readFileSync(join(dir, 'default', 'avatar.json'), 'utf8')).default, true);
});

test('committed avatars are what the generator makes (run: node tools/make-avatars.mjs)', async () => {
  for (const [id, { json, glb }] of Object.entries(await buildAvatars())) {
    assert.deepEqual(JSON.parse(readFileSync(join(dir, id, 'avatar.json'), 'utf8')), json, `avatars/${id}/avatar.json`);
    assert.ok(Buffer.from(glb).equals(readFileSync(join(dir, id, 'avatar.glb'))), `avatars/${id}/avatar.glb is stale: rerun node tools/make-avatars.mjs`);
  }
});
