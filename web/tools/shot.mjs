// Screenshots of the avatar in given poses (inspector page), for looking at the sculpt, plus
// a contact sheet (grid.png) of all of them:
//   node tools/shot.mjs OUTDIR [name=pose[=query] ...]
//   e.g. smile=mouthSmileLeft:1,mouthSmileRight:1   side==head@0,0.7,0;zoom@1.5
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { serve } from './serve.mjs';

const [out = '/tmp/shots', ...specs] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const poses = specs.length ? specs : ['neutral='];
const shots = [];
const srv = await serve([new URL('../dist', import.meta.url).pathname]);
const { ctx, close } = await launch();
const page = await ctx.newPage();
page.on('console', (m) => m.type() === 'error' && console.log('page:', m.text()));
for (const spec of poses) {
  const [name, pose = '', extra = ''] = spec.split('=');
  await page.goto(`${srv.url}/inspector.html?pose=${pose}${extra ? '&' + extra.replace(/@/g, '=').replace(/;/g, '&') : ''}`);
  await page.waitForFunction(() => window.__inspector?.ready || window.__inspector?.fatal, null, { timeout: 60000 });
  await page.waitForTimeout(300);
  const png = await page.locator('#stage').screenshot({ path: join(out, `${name}.png`) });
  shots.push({ name, data: png.toString('base64') });
}
// contact sheet: 3 columns, labelled
await page.setViewportSize({ width: 1200, height: 1200 });
await page.setContent('<canvas id=c></canvas>');
if (process.env.AK_GRID_W) await page.evaluate((w) => { window.__gridW = w; }, Number(process.env.AK_GRID_W));
const grid = await page.evaluate(async (shots) => {
  const imgs = await Promise.all(shots.map((s) => new Promise((ok) => { const i = new Image(); i.onload = () => ok(i); i.src = 'data:image/png;base64,' + s.data; })));
  const cols = Math.min(3, imgs.length), W = Number(window.__gridW ?? 380), H = Math.round(W * imgs[0].height / imgs[0].width);
  const c = document.getElementById('c');
  c.width = cols * W; c.height = Math.ceil(imgs.length / cols) * H;
  const g = c.getContext('2d');
  imgs.forEach((im, k) => {
    const x = (k % cols) * W, y = Math.floor(k / cols) * H;
    g.drawImage(im, x, y, W, H);
    g.fillStyle = '#000a'; g.fillRect(x, y + H - 22, W, 22);
    g.fillStyle = '#fff'; g.font = '14px sans-serif'; g.fillText(shots[k].name, x + 6, y + H - 6);
  });
  return c.toDataURL('image/png').split(',')[1];
}, shots);
writeFileSync(join(out, 'grid.png'), Buffer.from(grid, 'base64'));
console.log(join(out, 'grid.png'));
await close();
await srv.close();
