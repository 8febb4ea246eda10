// The package installs cleanly: every dependency in the lockfile that has an install script
// is reviewed in package.json's allowScripts (npm 11.16+ warns about, and npm 12 blocks,
// unreviewed ones), and no allowScripts entry names a package that is not installed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));

test('every install script in the lockfile is reviewed in allowScripts', () => {
  const allow = pkg.allowScripts || {};
  const nameOf = (key) => key.replace(/^.*node_modules\//, '');
  const withScripts = Object.entries(lock.packages || {})
    .filter(([key, p]) => key && p.hasInstallScript)
    .map(([key, p]) => ({ name: nameOf(key), version: p.version }));
  for (const { name, version } of withScripts) {
    const reviewed = Object.hasOwn(allow, name) || Object.hasOwn(allow, `${name}@${version}`);
    assert.ok(reviewed, `${name}@${version} has an install script not covered by allowScripts`);
  }
  const installed = new Set(Object.keys(lock.packages || {}).filter(Boolean).map(nameOf));
  for (const key of Object.keys(allow)) {
    const name = key.replace(/(.)@[^@]*$/, '$1');
    assert.ok(installed.has(name), `allowScripts names ${key}, which is not in the lockfile`);
  }
});
