// Any ARKit avatar: every generated fixture (tools/make-fixtures.mjs: Apple names, mixed
// prefixed / odd-case names, viseme-only, missing channels; plain, Draco and meshopt) loads in
// headless Chromium with the bundled decoders, binds the channels it should, reports what it
// lacks, and its mouth region visibly moves when driven by the speech recording.
import test from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from '../../tools/browser.mjs';
import { makeFixtures } from '../../tools/make-fixtures.mjs';
import { fixtures, noBrowser, root, saveJson, startStatic, waitFor } from './helpers.mjs';

let srv, browser, list;
const repoDir = join(root, '..', 'avatars');
const repoAvatars = existsSync(repoDir) ? readdirSync(repoDir).filter((id) => existsSync(join(repoDir, id, 'avatar.glb'))).sort() : [];
const dir = 'avatar-fixtures';

test.before(async () => {
  if (noBrowser) return;
  srv = await startStatic();
  list = await makeFixtures(join(fixtures, dir));
  // the repository's bundled avatars (avatars/<id>/avatar.glb, meshopt-compressed) too
  for (const id of repoAvatars) {
    copyFileSync(join(repoDir, id, 'avatar.glb'), join(fixtures, dir, `repo-${id}.glb`));
    list.push({ file: `repo-${id}.glb`, compression: 'meshopt', channels: 52, visemeMouth: false });
  }
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await srv?.close();
});

/**
 * In the page: the screen rectangle (device pixels, GL origin bottom-left) of the vertices the
 * current morph influences move by more than 0.5 mm, and how far they move at most (metres).
 */
function mouthRegion() {
  const v = window.__player.view;
  const V = v.camera.position.constructor;
  const gl = v.renderer.getContext();
  const W = gl.drawingBufferWidth, H = gl.drawingBufferHeight;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, maxMove = 0, moved = 0;
  v.scene.updateMatrixWorld(true);
  v.scene.traverse((m) => {
    if (!m.isMesh || !m.morphTargetInfluences) return;
    const pos = m.geometry.attributes.position, targets = m.geometry.morphAttributes.position ?? [];
    const inf = m.morphTargetInfluences;
    const a = new V(), b = new V();
    for (let i = 0; i < pos.count; i++) {
      let dx = 0, dy = 0, dz = 0;
      for (let k = 0; k < targets.length; k++) {
        if (!inf[k]) continue;
        dx += inf[k] * targets[k].getX(i); dy += inf[k] * targets[k].getY(i); dz += inf[k] * targets[k].getZ(i);
      }
      if (!dx && !dy && !dz) continue;
      a.set(pos.getX(i), pos.getY(i), pos.getZ(i));
      b.set(a.x + dx, a.y + dy, a.z + dz);
      m.localToWorld(a); m.localToWorld(b);
      const d = a.distanceTo(b);
      if (d < 5e-4) continue;
      moved++;
      maxMove = Math.max(maxMove, d);
      for (const p of [a, b]) {
        p.project(v.camera);
        const px = ((p.x + 1) / 2) * W, py = ((p.y + 1) / 2) * H;
        x0 = Math.min(x0, px); x1 = Math.max(x1, px); y0 = Math.min(y0, py); y1 = Math.max(y1, py);
      }
    }
  });
  if (!moved) return { moved, maxMove };
  const c = (x, hi) => Math.max(0, Math.min(hi, Math.round(x)));
  const r = { x: c(x0 - 2, W - 1), y: c(y0 - 2, H - 1) };
  r.w = Math.max(1, c(x1 + 2, W) - r.x);
  r.h = Math.max(1, c(y1 + 2, H) - r.y);
  return { moved, maxMove, rect: r, W, H };
}

/** In the page: luminance of `rect` rendered with the driven pose, then with the rest pose. */
function drivenVsRest(rect) {
  const v = window.__player.view;
  const gl = v.renderer.getContext();
  const px = new Uint8Array(4 * rect.w * rect.h);
  const lum = () => {
    gl.readPixels(rect.x, rect.y, rect.w, rect.h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    const out = new Float32Array(rect.w * rect.h);
    for (let i = 0; i < out.length; i++) out[i] = 0.2126 * px[4 * i] + 0.7152 * px[4 * i + 1] + 0.0722 * px[4 * i + 2];
    return out;
  };
  v.renderOnce();
  const driven = lum();
  v.rig.apply(new Float32Array(64)); // rest pose: every channel 0, head straight
  v.renderer.render(v.scene, v.camera);
  const rest = lum();
  let sum = 0, changed = 0;
  for (let i = 0; i < rest.length; i++) {
    const d = Math.abs(driven[i] - rest[i]);
    sum += d;
    if (d > 8) changed++;
  }
  return { meanDiff: sum / rest.length, changedFrac: changed / rest.length, pixels: rest.length };
}

for (const name of ['arkit-plain', 'arkit-draco', 'odd-names-plain', 'odd-names-meshopt', 'visemes-only-draco', 'visemes-only-meshopt', 'missing-channels-plain', 'default-draco', 'default-meshopt', ...repoAvatars.map((id) => `repo-${id}`)]) {
  test(`fixture ${name}: loads, binds, reports missing channels, mouth moves with speech`, { skip: noBrowser }, async () => {
    const f = list.find((x) => x.file === `${name}.glb`);
    const page = await browser.ctx.newPage();
    const log = [];
    page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
    const draco = [];
    page.on('request', (r) => /\/draco\/|gstatic\.com|unpkg\.com|jsdelivr/.test(r.url()) && draco.push(r.url()));
    try {
      await page.goto(`${srv.url}/player.html?recording=recordings/sync.json&pacing=burst&idle=0&avatar=/${dir}/${f.file}`);
      await waitFor(page, () => window.__player?.ready || window.__player?.fatal, null, 60000);
      const fatal = await page.evaluate(() => window.__player.fatal);
      assert.equal(fatal, undefined, `player failed: ${fatal}\n${log.join('\n')}`);
      const rig = await page.evaluate(() => {
        const r = window.__player.view.rig;
        return { channels: r.channels.size, visemeMouth: r.visemeMouth, visemes: r.visemes.size, missing: r.missing, line: r.describe() };
      });
      assert.equal(rig.channels, f.channels, rig.line);
      assert.equal(rig.visemeMouth, f.visemeMouth, rig.line);
      assert.equal(rig.missing.length, 52 - f.channels, rig.line);
      if (f.visemeMouth) assert.equal(rig.visemes, 15);
      if (f.channels < 52) {
        assert.ok(rig.missing.includes('tongueOut') && !rig.missing.includes('eyeBlinkLeft'), rig.missing.join(' '));
        assert.ok(log.some((l) => l.startsWith('warning:') && l.includes('missing') && l.includes('tongueOut')), `a console warning names the missing channels:\n${log.join('\n')}`);
      }
      // decoders: Draco from the SDK's own dist/draco/, never a CDN; meshopt bundled
      if (f.compression === 'draco') assert.ok(draco.length >= 1 && draco.every((u) => u.startsWith(`${srv.url}/draco/`)), draco.join(' '));
      else assert.deepEqual(draco, []);
      // drive with speech: play the recording, freeze when the mouth is open
      await page.evaluate(() => { window.__player.play(); });
      await waitFor(page, () => {
        const v = window.__player.view, r = v.rig;
        const open = r.visemeMouth ? r.visemeInfluence(10) : r.influence(17);
        if (open > 0.5) { v.controller.pause(); return true; }
        return false;
      }, null, 90000);
      await page.waitForTimeout(150);
      const region = await page.evaluate(mouthRegion);
      assert.ok(region.moved > 10 && region.maxMove > 0.005, `vertices moved: ${JSON.stringify(region)}`);
      // the region lies in the lower part of the face and is not the whole frame
      assert.ok(region.rect.w < region.W * 0.8 && region.rect.h < region.H * 0.8, JSON.stringify(region));
      const px = await page.evaluate(drivenVsRest, region.rect);
      saveJson(`fixture-${name}`, { rig, region, px, bytes: f.bytes });
      assert.ok(px.meanDiff > 3 && px.changedFrac > 0.05, `mouth region pixels: ${JSON.stringify(px)}`);
      await page.evaluate(() => window.__player.view.controller.resume());
      await waitFor(page, () => window.__player.done, null, 90000);
      assert.deepEqual(await page.evaluate(() => window.__player.errors), []);
      assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
    } catch (e) {
      console.log(log.join('\n'));
      throw e;
    } finally {
      await page.close();
    }
  });
}
