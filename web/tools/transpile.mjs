// Transpiles src/*.ts one file per module into node_modules/.cache/avatarkit-node so node
// tools and unit tests can import the SDK's pure modules without a bundle.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const nodeOut = join(root, 'node_modules', '.cache', 'avatarkit-node');

export async function transpile() {
  const entries = readdirSync(join(root, 'src'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(root, 'src', f));
  await build({
    entryPoints: entries,
    outdir: nodeOut,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    bundle: false,
    logLevel: 'warning',
  });
  return nodeOut;
}

/** Imports one transpiled module by its base name, e.g. load('proto'). */
export async function load(name) {
  return import(pathToFileURL(join(nodeOut, `${name}.js`)).href);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await transpile();
  console.log(nodeOut);
}
