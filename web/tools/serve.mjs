// Static file server for web/dist (and test fixtures) on loopback, used by the e2e tests,
// the benchmark and `node tools/serve.mjs [port]` for trying the demos by hand.
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.json': 'application/json', '.glb': 'model/gltf-binary',
  '.wasm': 'application/wasm', '.map': 'application/json', '.png': 'image/png', '.pcm': 'application/octet-stream',
};

/** Request handler serving files from `roots` (first match wins); false when not found. */
export function staticHandler(roots) {
  const dirs = roots.map((r) => resolve(r));
  return (req, res) => {
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return true;
    }
    if (path.endsWith('/')) path += 'index.html';
    for (const d of dirs) {
      const f = normalize(join(d, path));
      if (!f.startsWith(d)) break;
      if (existsSync(f) && statSync(f).isFile()) {
        res.writeHead(200, { 'content-type': TYPES[extname(f)] ?? 'application/octet-stream', 'content-length': statSync(f).size, 'cache-control': 'no-store' });
        createReadStream(f).pipe(res);
        return true;
      }
    }
    return false;
  };
}

/** Serves each of `roots` (first match wins) on 127.0.0.1; resolves to {url, close}. */
export function serve(roots, port = 0) {
  const handle = staticHandler(roots);
  const server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  return new Promise((ok) => server.listen(port, '127.0.0.1', () => {
    ok({ url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)), server });
  }));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = join(fileURLToPath(import.meta.url), '../../dist');
  const s = await serve([root], Number(process.argv[2] ?? 8090));
  console.log(`serving ${root} at ${s.url}/player.html`);
}
