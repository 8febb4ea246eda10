// `npm test`: unit tests, then the headless Chromium end-to-end tests (which build dist when
// it is missing), in one node:test run so it ends with one "# pass N / # fail N" summary.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transpile } from './transpile.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const want = process.argv.slice(2);
const dirs = want.includes('--unit') ? ['unit'] : want.includes('--e2e') ? ['e2e'] : ['unit', 'e2e'];
await transpile();
const files = dirs.flatMap((d) => readdirSync(join(root, 'test', d)).filter((f) => f.endsWith('.test.mjs')).map((f) => join('test', d, f)));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
