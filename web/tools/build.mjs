// Builds web/dist: the ES module (three.js and opus-decoder left to the consumer's bundler),
// a standalone bundle for plain <script type="module"> pages and the demos, type
// declarations, the avatars (a copy of ../avatars), demo pages and recordings.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const quiet = process.argv.includes('--quiet');
const log = (...a) => quiet || console.log(...a);

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'avatars'), { recursive: true });
mkdirSync(join(dist, 'recordings'), { recursive: true });

const common = { bundle: true, format: 'esm', target: 'es2022', minify: true, sourcemap: true, legalComments: 'linked', logLevel: 'warning' };

// 1. the package module: dependencies stay imports
await build({ ...common, entryPoints: { avatarkit: join(root, 'src/index.ts') }, outdir: dist, external: ['three', 'three/*', 'opus-decoder'] });

// 2. standalone: three.js bundled, the wasm Opus fallback split into a lazily loaded chunk
await build({
  ...common,
  entryPoints: { 'avatarkit.standalone': join(root, 'src/index.ts') },
  outdir: dist, splitting: true, chunkNames: 'chunks/[name]-[hash]',
});

// 3. declarations
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', join(dist, 'types')], { stdio: 'inherit' });
writeFileSync(join(dist, 'avatarkit.d.ts'), "export * from './types/index.js';\n");
writeFileSync(join(dist, 'avatarkit.standalone.d.ts'), "export * from './types/index.js';\n");

// 4. avatars: a static copy of the project's avatar registry (../avatars/<id>/avatar.json and
// the files it names) in dist/avatars/<id>/, so any static host of dist is a registry for
// `AvatarManager.load({ avatarId, registryUrl })`; and dist/avatars/default.glb, the default
// avatar's model at the URL that plain `load('default')` uses. Without ../avatars (the package
// built on its own), the default avatar is generated as before.
const registry = join(root, '..', 'avatars');
const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/, FILE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,126}$/;
let copied = 0;
if (existsSync(registry)) {
  for (const id of readdirSync(registry).sort()) {
    const meta = join(registry, id, 'avatar.json');
    if (!ID.test(id) || !existsSync(meta)) continue;
    const j = JSON.parse(readFileSync(meta, 'utf8'));
    const files = [j.model, j.preview].filter((f) => typeof f === 'string');
    if (j.id !== id || !files.every((f) => FILE.test(f) && existsSync(join(registry, id, f))))
      throw new Error(`avatars/${id}/avatar.json: id or files invalid (see avatars/README.md)`);
    mkdirSync(join(dist, 'avatars', id), { recursive: true });
    for (const f of ['avatar.json', ...files]) copyFileSync(join(registry, id, f), join(dist, 'avatars', id, f));
    // and dist/avatars/<id>.glb, the URL plain ids resolve to (`load('mira')`, `?avatar=mira`)
    copyFileSync(join(registry, id, j.model), join(dist, 'avatars', `${id}.glb`));
    copied++;
  }
}
if (!existsSync(join(dist, 'avatars/default.glb')))
  execFileSync(process.execPath, [join(root, 'tools/make-avatar.mjs'), join(dist, 'avatars/default.glb')], { stdio: quiet ? 'ignore' : 'inherit' });

// 4a. the Draco decoder (three.js's, from npm), fetched by the SDK from dist/draco/ only for
// Draco-compressed avatars (src/loader.ts)
mkdirSync(join(dist, 'draco'), { recursive: true });
for (const f of ['draco_wasm_wrapper.js', 'draco_decoder.wasm']) copyFileSync(join(root, 'node_modules/three/examples/jsm/libs/draco', f), join(dist, 'draco', f));

// 5. demo pages and recordings (the captured sample.json when present, else a generated one)
for (const f of readdirSync(join(root, 'demo'))) {
  const p = join(root, 'demo', f);
  if (statSync(p).isFile()) copyFileSync(p, join(dist, f));
}
if (existsSync(join(root, 'demo/recordings'))) cpSync(join(root, 'demo/recordings'), join(dist, 'recordings'), { recursive: true });
if (!existsSync(join(dist, 'recordings/sample.json'))) {
  execFileSync(process.execPath, [join(root, 'tools/make-recording.mjs'), '--kind', 'speech', '--out', join(dist, 'recordings/sample.json')], { stdio: quiet ? 'ignore' : 'inherit' });
}
execFileSync(process.execPath, [join(root, 'tools/make-recording.mjs'), '--kind', 'sync', '--out', join(dist, 'recordings/sync.json')], { stdio: quiet ? 'ignore' : 'inherit' });

const size = (f) => {
  const b = readFileSync(join(dist, f));
  return `${(b.length / 1024).toFixed(1)} KiB min, ${(gzipSync(b).length / 1024).toFixed(1)} KiB gzip`;
};
log(`dist/avatarkit.js (SDK without three.js): ${size('avatarkit.js')}`);
log(`dist/avatarkit.standalone.js (with three.js): ${size('avatarkit.standalone.js')}`);
log(`dist/avatars/default.glb: ${(statSync(join(dist, 'avatars/default.glb')).size / 1024).toFixed(0)} KiB; registry copy: ${copied} avatar(s) in dist/avatars/<id>/`);
