// The view's lighting modes and background (src/lighting.ts), in headless Chromium: the
// 'studio' background is opaque and brightest behind the head, the default stays transparent;
// 'soft' (default) lights the face with less contrast than 'basic'; 'studio' sets an
// environment map; every mode renders the avatar and disposes cleanly.
import test from 'node:test';
import assert from 'node:assert/strict';
import { noBrowser, openPage, startStatic, waitFor } from './helpers.mjs';

let srv;
test.before(async () => {
  if (!noBrowser) srv = await startStatic();
});
test.after(async () => srv?.close());

test('lighting modes and studio background', { skip: noBrowser }, async () => {
  const { page, close, log } = await openPage(`${srv.url}/player.html?recording=recordings/sync.json&idle=0`);
  try {
    await waitFor(page, () => window.__player?.ready || window.__player?.fatal, null, 60000);
    const r = await page.evaluate(async () => {
      const p = window.__player;
      const avatar = p.view.avatar;
      p.view.dispose();
      const box = document.createElement('div');
      box.style.cssText = 'width:320px;height:320px';
      document.body.prepend(box);
      const out = {};
      for (const [name, opts] of Object.entries({ basic: { lighting: 'basic' }, soft: {}, studio: { lighting: 'studio', background: 'studio' } })) {
        const v = new p.sdk.AvatarView(avatar, box, { sdk: p.sdk.AvatarSDK, idle: false, maxPixelRatio: 1, ...opts });
        await v.ready;
        v.renderOnce();
        const gl = v.renderer.getContext();
        const W = gl.drawingBufferWidth, H = gl.drawingBufferHeight;
        const px = new Uint8Array(4 * W * H);
        gl.readPixels(0, 0, W, H, gl.RGBA, gl.UNSIGNED_BYTE, px);
        const at = (x, y) => Array.from(px.subarray(4 * (y * W + x), 4 * (y * W + x) + 4));
        // the skin of the face: the head mesh's screen box, middle third
        let skin = null;
        v.scene.traverse((o) => { if (o.name === 'Head_Skin') skin = o; });
        const box3 = new (v.camera.position.constructor)();
        skin.geometry.computeBoundingBox();
        const bb = skin.geometry.boundingBox;
        const corners = [];
        for (const x of [bb.min.x, bb.max.x]) for (const y of [bb.min.y, bb.max.y]) {
          box3.set(x, y, bb.max.z);
          skin.localToWorld(box3).project(v.camera);
          corners.push([((box3.x + 1) / 2) * W, ((box3.y + 1) / 2) * H]);
        }
        const x0 = Math.min(...corners.map((c) => c[0])), x1 = Math.max(...corners.map((c) => c[0]));
        const y0 = Math.min(...corners.map((c) => c[1])), y1 = Math.max(...corners.map((c) => c[1]));
        const lum = [];
        for (let y = Math.round(y0 + (y1 - y0) / 3); y < y0 + (2 * (y1 - y0)) / 3; y++)
          for (let x = Math.round(x0 + (x1 - x0) / 4); x < x0 + (3 * (x1 - x0)) / 4; x++) {
            const c = at(x, y);
            if (c[3] > 250) lum.push(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]);
          }
        lum.sort((a, b) => a - b);
        out[name] = {
          corner: at(2, 2), top: at(Math.round(W / 2), H - 3),
          spread: lum[Math.floor(lum.length * 0.9)] - lum[Math.floor(lum.length * 0.1)], n: lum.length,
          env: !!v.scene.environment,
        };
        v.dispose();
      }
      return out;
    });
    assert.equal(r.basic.corner[3], 0, 'default background is transparent');
    assert.equal(r.soft.corner[3], 0);
    assert.equal(r.studio.corner[3], 255, 'studio background is opaque');
    assert.ok(r.studio.top[0] > r.studio.corner[0], `gradient brighter behind the head than in the corner: ${r.studio.top} vs ${r.studio.corner}`);
    assert.ok(r.studio.env && !r.soft.env && !r.basic.env, 'only studio lighting sets an environment');
    for (const k of ['basic', 'soft', 'studio']) assert.ok(r[k].n > 200, `${k}: face pixels rendered (${r[k].n})`);
    assert.ok(r.soft.spread < r.basic.spread, `soft lighting: less contrast on the face (p90-p10 ${r.soft.spread.toFixed(1)} vs basic ${r.basic.spread.toFixed(1)})`);
    assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
  } finally {
    await close();
  }
});
