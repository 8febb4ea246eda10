// End-to-end tests of the motion server process over loopback, speaking the wire protocol
// directly (no avatarkit C code on the client side), as a third-party Server SDK would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as w from './wire.mjs';
import { classify, classifyHttp, strictRequest, upgradeRequest, postRequest } from './classify.mjs';
import { startServer, token, connect, typeOf, errorOf, animationOf, makePcm, handshake, sendAudio, sleep } from './harness.mjs';

const RATES = [8000, 16000, 22050, 24000, 32000, 44100, 48000];
const SHARED = process.env.AK_SHARED_DATA || join(dirname(fileURLToPath(import.meta.url)), '../../../shared/data');
const now = () => Math.floor(Date.now() / 1000);

/* Raw HTTP upgrade read by the strict HTTP/1.1 parser (classify.mjs). */
const rawUpgrade = (port, path, headers = {}) => strictRequest(port, upgradeRequest(path, headers));

test('token API: issues tokens and refuses bad requests with JSON errors', async () => {
  const srv = await startServer();
  try {
    const ok = await token(srv);
    assert.equal(ok.status, 200);
    assert.match(ok.body.sessionToken, /^v1\./);
    const bad = await token(srv, { key: 'nope' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.errors[0].status, 401);
    assert.equal(bad.body.errors[0].code, 'invalid_api_key');
    assert.match(bad.body.errors[0].detail, /api key/);
    for (const expireAt of [now() - 10, now() + 10 * 86400]) {
      const r = await token(srv, { expireAt });
      assert.equal(r.status, 400);
      assert.match(r.body.errors[0].detail, /expireAt/);
    }
    const junk = await fetch(`${srv.base}/v1/console/session-tokens`, { method: 'POST', headers: { 'X-Api-Key': 'test-key' }, body: 'not json' });
    assert.equal(junk.status, 400);
    assert.equal((await junk.json()).errors[0].code, 'invalid_request');
    const huge = await fetch(`${srv.base}/v1/console/session-tokens`, { method: 'POST', headers: { 'X-Api-Key': 'test-key' }, body: JSON.stringify({ expireAt: now() + 60, pad: 'x'.repeat(10000) }) });
    assert.equal(huge.status, 413);
    const missing = await fetch(`${srv.base}/nothing-here`);
    assert.equal(missing.status, 404);
  } finally {
    await srv.stop();
  }
});

test('upgrade auth: header and query styles, each refusal with status and phrase', async () => {
  const srv = await startServer(['--app', 'other-key:other-app', '--avatars', 'av1,av2']);
  try {
    const path = (q) => `/v2/driveningress/websocket?${q}`;
    const t1 = (await token(srv)).body.sessionToken;
    assert.equal((await rawUpgrade(srv.port, path('id=av1'), { 'X-App-ID': 'test-app', 'X-Session-Key': t1 })).status, 101);
    // Tokens are single use.
    let r = await rawUpgrade(srv.port, path('id=av1'), { 'X-App-ID': 'test-app', 'X-Session-Key': t1 });
    assert.equal(r.status, 400);
    assert.match(r.json.message, /Invalid session token/);
    const t2 = (await token(srv)).body.sessionToken;
    assert.equal((await rawUpgrade(srv.port, path(`id=av2&appId=test-app&sessionKey=${encodeURIComponent(t2)}`))).status, 101);
    const cases = [
      [path(`id=av1&appId=unknown&sessionKey=x`), 400, /^Invalid session token$/],
      [path(`id=av1&appId=test-app&sessionKey=v1.garbage.sig`), 400, /^Invalid session token$/],
      [path(`id=av1&appId=test-app`), 400, /Invalid session token: empty token/],
      [path(`id=av1&appId=unknown&sessionKey=${encodeURIComponent((await token(srv)).body.sessionToken)}`), 404, /App id unrecognized/],
      [path(`id=zzz&appId=test-app&sessionKey=${encodeURIComponent((await token(srv)).body.sessionToken)}`), 404, /^Avatar not found$/],
      [path(`appId=test-app&sessionKey=${encodeURIComponent((await token(srv)).body.sessionToken)}`), 404, /Avatar not found/],
      [path(`id=av1&appId=other-app&sessionKey=${encodeURIComponent((await token(srv)).body.sessionToken)}`), 400, /App id mismatch/],
      [path(`id=av1&sessionKey=${encodeURIComponent((await token(srv)).body.sessionToken)}`), 400, /App id mismatch/],
      [`/v2/other?id=av1&appId=test-app&sessionKey=x`, 404, /no such endpoint/],
    ];
    for (const [p, status, phrase] of cases) {
      r = await rawUpgrade(srv.port, p);
      assert.equal(r.status, status, p);
      assert.deepEqual(Object.keys(r.json), ['message'], p);
      assert.match(r.json.message, phrase, p);
      assert.equal(r.text, JSON.stringify(r.json) + '\n', 'body is the JSON and a newline');
      assert.equal(r.headers.connection, 'close');
    }
    // A token with a short life is refused once expired.
    const short = (await token(srv, { expireAt: now() + 1 })).body.sessionToken;
    await sleep(2100);
    r = await rawUpgrade(srv.port, path(`id=av1&appId=test-app&sessionKey=${encodeURIComponent(short)}`));
    assert.equal(r.status, 401);
    assert.match(r.json.message, /Session token expired/);
  } finally {
    await srv.stop();
  }
});

test('single-use tokens (default) refuse a second upgrade; --reusable-tokens accepts it until expiry', async () => {
  const single = await startServer();
  const reusable = await startServer(['--reusable-tokens']);
  try {
    const q = (t) => `/v2/driveningress/websocket?id=av1&appId=test-app&sessionKey=${encodeURIComponent(t)}`;
    const t1 = (await token(single)).body.sessionToken;
    assert.equal((await rawUpgrade(single.port, q(t1))).status, 101);
    const again = await rawUpgrade(single.port, q(t1));
    assert.equal(again.status, 400);
    assert.match(again.json.message, /^Invalid session token/);
    assert.equal(classifyHttp(again, 'websocket_connect'), 'sessionTokenInvalid');
    // Header auth is the same token: also refused.
    const hdr = await rawUpgrade(single.port, '/v2/driveningress/websocket?id=av1', { 'X-App-ID': 'test-app', 'X-Session-Key': t1 });
    assert.equal(classifyHttp(hdr, 'websocket_connect'), 'sessionTokenInvalid');

    // A prefetched token, reused by several sessions (some at once) until it expires.
    const t2 = (await token(reusable, { expireAt: now() + 3 })).body.sessionToken;
    for (let i = 0; i < 3; i++) assert.equal((await rawUpgrade(reusable.port, q(t2))).status, 101, `use ${i + 1}`);
    const c = connect(reusable, { tok: t2 });
    await c.opened;
    c.ws.send(w.configure(16000, 0));
    assert.ok(await c.until((ib) => ib.some((m) => typeOf(m) === 2)), 'session confirmed on a reused token');
    c.ws.close();
    for (let i = 0; i < 40 && now() < Number(t2.split('.')[2]) + 1; i++) await sleep(250);
    const late = await rawUpgrade(reusable.port, q(t2));
    assert.equal(late.status, 401);
    assert.equal(classifyHttp(late, 'websocket_connect'), 'sessionTokenExpired');
  } finally {
    await single.stop();
    await reusable.stop();
  }
});

for (const rate of RATES) {
  test(`streams motion and Opus for ${rate} Hz PCM, frames covering the audio`, async () => {
    const srv = await startServer();
    try {
      const c = await handshake(srv, rate);
      const confirm = c.inbox.find((m) => typeOf(m) === 2);
      const connId = new TextDecoder().decode(w.get(w.decode(w.get(confirm, 3)), 1));
      assert.match(connId, /^\d{14}_[A-Za-z0-9_-]{12}$/);
      const seconds = 1.37;
      const pcm = makePcm(rate, seconds);
      const chunk = Math.round(rate * 0.04) * 2;
      // First half without end: output must stream before the request ends.
      const half = Math.floor(pcm.length / 2 / chunk) * chunk;
      sendAudio(c, 'r1', pcm.subarray(0, half), chunk, false);
      assert.ok(await c.until((ib) => animationOf(ib, 'r1').frames > 0), 'motion streamed before end');
      assert.equal(animationOf(c.inbox, 'r1').end, false);
      sendAudio(c, 'r1', pcm.subarray(half), chunk, true);
      assert.ok(await c.until((ib) => animationOf(ib, 'r1').end));
      const a = animationOf(c.inbox, 'r1');
      const n16 = Math.floor((pcm.length / 2) * 16000 / rate);
      assert.equal(a.totalSamples, n16);
      assert.ok(Math.abs(a.frames - seconds * 25) <= 1, `frames ${a.frames} for ${seconds} s`);
      assert.equal(a.frames, Math.ceil(n16 * 25 / 16000));
      assert.equal(a.endCount, 1);
      // Frame indices are contiguous across messages.
      let expect = 0;
      for (const [i, f] of a.firstFrames.entries()) { assert.equal(f, expect, `message ${i}`); expect = f + a.counts[i]; }
      // Opus packets cover pre_skip + audio, by less than one packet of padding.
      assert.ok(a.packets.length * 320 >= n16 + a.preSkip);
      assert.ok(a.packets.length * 320 < n16 + a.preSkip + 320);
      // Each message but the last carries the audio its motion covers, not more: packets
      // ahead of the motion wait for the next message, so a client that has the audio of a
      // message also has its face (to within one 20 ms packet).
      let motionEnd = 0, audioEnd = 0;
      for (const [i, s] of a.spans.entries()) {
        if (!Number.isNaN(s.motionEnd)) motionEnd = s.motionEnd;
        if (!Number.isNaN(s.audioEnd)) audioEnd = s.audioEnd;
        if (s.final) continue;
        assert.ok(audioEnd <= motionEnd + 1e-9, `message ${i}: audio to ${audioEnd} s, motion to ${motionEnd} s`);
        assert.ok(audioEnd > motionEnd - 0.02 - 1e-9, `message ${i}: audio to ${audioEnd} s lags motion to ${motionEnd} s`);
      }
      // The mouth opens in voiced bursts and closes in the gaps.
      const maxJaw = Math.max(...a.jaw);
      assert.ok(maxJaw > 0.15, `jaw opens (max ${maxJaw})`);
      const gap = a.jaw.slice(Math.round(0.33 * 25), Math.round(0.45 * 25));
      assert.ok(Math.max(...gap) < maxJaw * 0.5, 'jaw closes in the silent gap');
      c.ws.close();
    } finally {
      await srv.stop();
    }
  });
}

test('shared speech clips at every rate (skips without ../shared/data)', async (t) => {
  if (!existsSync(join(SHARED, 'speech/clip_16000.pcm'))) { t.skip('shared data absent: ' + SHARED); return; }
  const srv = await startServer();
  try {
    for (const rate of RATES) {
      const pcm = new Uint8Array(readFileSync(join(SHARED, `speech/clip_${rate}.pcm`)));
      const c = await handshake(srv, rate);
      sendAudio(c, 'clip', pcm, Math.round(rate * 0.1) * 2, true);
      assert.ok(await c.until((ib) => animationOf(ib, 'clip').end, 20000));
      const a = animationOf(c.inbox, 'clip');
      const seconds = pcm.length / 2 / rate;
      assert.ok(Math.abs(a.frames - seconds * 25) <= 1, `${rate}: ${a.frames} frames for ${seconds} s`);
      assert.ok(a.jaw.filter((j) => j > 0.2).length > a.frames * 0.2, `${rate}: mouth moves during speech`);
      c.ws.close();
    }
  } finally {
    await srv.stop();
  }
});

test('handshake errors: rate, first message, garbage, text frame, egress', async () => {
  const srv = await startServer();
  try {
    const cases = [
      [w.configure(11025), 12, /unsupported sample rate/],
      [w.audio('r', new Uint8Array(10), false), 9, /expected ClientConfigureSession message/],
      [Uint8Array.from([0xff, 0xff, 0xff, 0x01, 0x02]), 9, /failed to unmarshal initial message/],
      // LiveKit egress, complete: refused as unavailable.
      [Uint8Array.from([...w.fVarint(1, 1), ...w.fBytes(2, [...w.fVarint(1, 16000), ...w.fVarint(5, 1),
        ...w.fBytes(6, [...w.fString(1, 'wss://lk.example'), ...w.fString(4, 'room'), ...w.fString(8, 'tok')])])]),
        14, /egress client is not configured on server/],
      // LiveKit egress without a room: invalid argument.
      [Uint8Array.from([...w.fVarint(1, 1), ...w.fBytes(2, [...w.fVarint(1, 16000), ...w.fVarint(5, 1),
        ...w.fBytes(6, [...w.fString(1, 'wss://lk.example')])])]), 3, /invalid egress config/],
      [Uint8Array.from([...w.fVarint(1, 1), ...w.fBytes(2, [...w.fVarint(1, 16000), ...w.fVarint(5, 2)])]), 3, /invalid egress config/],
    ];
    for (const [first, code, phrase] of cases) {
      const c = connect(srv, { tok: (await token(srv)).body.sessionToken });
      await c.opened;
      c.ws.send(first);
      const closed = await c.waitClose();
      assert.ok(closed, 'server closes the session');
      const err = c.inbox.find((m) => typeOf(m) === 4);
      assert.ok(err, 'a ServerError came first');
      const e = errorOf(err);
      assert.equal(e.code, code);
      assert.match(e.message, phrase);
    }
    const c = await handshake(srv);
    c.ws.send('hello');
    await c.waitClose();
    assert.match(errorOf(c.inbox.find((m) => typeOf(m) === 4)).message, /unexpected message type/);
    const c2 = await handshake(srv);
    c2.ws.send(Uint8Array.from([0x08, 0x02, 0x1a, 0x00])); // a SERVER_CONFIRM_SESSION from a client
    await c2.waitClose();
    assert.match(errorOf(c2.inbox.find((m) => typeOf(m) === 4)).message, /unexpected message type/);
  } finally {
    await srv.stop();
  }
});

/* Every refusal and error our server can produce, read the way the official Server SDKs read
 * it (classify.mjs, PROTOCOL.md section 6), must come out as the right AvatarSDKErrorCode. */
test('the official SDK rules give the right error code for every refusal and error', async () => {
  const srv = await startServer(['--app', 'other-key:other-app', '--avatars', 'av1,av2']);
  const idle = await startServer(['--idle-timeout', '1']);
  try {
    const tok = async (s = srv) => encodeURIComponent((await token(s)).body.sessionToken);
    const ws = (q) => `/v2/driveningress/websocket?${q}`;
    // Refused upgrades: {"message"} bodies, phase websocket_connect.
    const upgrades = [
      ['bogus token, unknown app', ws('id=av1&appId=nope&sessionKey=v1.bogus.sig'), 400, 'sessionTokenInvalid'],
      ['bogus token, known app', ws('id=av1&appId=test-app&sessionKey=bogus'), 400, 'sessionTokenInvalid'],
      ['no token', ws('id=av1&appId=test-app'), 400, 'sessionTokenInvalid'],
      ['app mismatch', ws(`id=av1&appId=other-app&sessionKey=${await tok()}`), 400, 'appIDMismatch'],
      ['unknown app', ws(`id=av1&appId=nope&sessionKey=${await tok()}`), 404, 'appIDUnrecognized'],
      ['unknown avatar', ws(`id=zzz&appId=test-app&sessionKey=${await tok()}`), 404, 'avatarNotFound'],
    ];
    const reused = await tok();
    assert.equal((await strictRequest(srv.port, upgradeRequest(ws(`id=av1&appId=test-app&sessionKey=${reused}`)))).status, 101);
    upgrades.push(['reused single-use token', ws(`id=av1&appId=test-app&sessionKey=${reused}`), 400, 'sessionTokenInvalid']);
    const short = encodeURIComponent((await token(srv, { expireAt: now() + 1 })).body.sessionToken);
    await sleep(2100);
    upgrades.push(['expired token', ws(`id=av1&appId=test-app&sessionKey=${short}`), 401, 'sessionTokenExpired']);
    for (const [what, p, status, code] of upgrades) {
      const r = await strictRequest(srv.port, upgradeRequest(p));
      assert.equal(r.status, status, what);
      assert.equal(typeof r.json.message, 'string', what);
      assert.equal(classifyHttp(r, 'websocket_connect'), code, `${what}: ${r.text}`);
    }
    // The commercial ingress's exact answer to a bogus token.
    const bogus = await strictRequest(srv.port, upgradeRequest(ws('id=av1&appId=anything&sessionKey=bogus')));
    assert.equal(bogus.text, '{"message":"Invalid session token"}\n');
    assert.equal(bogus.reason, 'Bad Request');
    // The same verdict in a header-auth upgrade (server SDK default).
    const h = await strictRequest(srv.port, upgradeRequest(ws('id=av1'), { 'X-App-ID': 'test-app', 'X-Session-Key': 'bogus' }));
    assert.equal(classifyHttp(h, 'websocket_connect'), 'sessionTokenInvalid');
    // Token API: {"errors":[...]} bodies, phase session_token; never the word "unauthorized".
    const tokenApi = [
      ['wrong API key', { 'X-Api-Key': 'wrong' }, { expireAt: now() + 60 }, 401, 'sessionTokenExpired'],
      ['missing API key', {}, { expireAt: now() + 60 }, 401, 'sessionTokenExpired'],
      ['bad expireAt', { 'X-Api-Key': 'test-key' }, { expireAt: 1 }, 400, 'invalidRequest'],
    ];
    for (const [what, headers, body, status, code] of tokenApi) {
      const r = await strictRequest(srv.port, postRequest('/v1/console/session-tokens', headers, JSON.stringify(body)));
      assert.equal(r.status, status, what);
      const e = r.json.errors[0];
      assert.deepEqual(Object.keys(e).sort(), ['code', 'detail', 'status', 'title'], what);
      assert.equal(e.status, status, what);
      assert.doesNotMatch(r.text.toLowerCase(), /unauthorized|egress|livekit/, what);
      assert.equal(classifyHttp(r, 'session_token'), code, what);
    }
    // In-session ServerErrors (before the confirmation: phase websocket_handshake).
    const lk = (fields) => Uint8Array.from([...w.fVarint(1, 1), ...w.fBytes(2, [...w.fVarint(1, 16000), ...w.fVarint(5, 1), ...w.fBytes(6, fields)])]);
    const ag = (fields) => Uint8Array.from([...w.fVarint(1, 1), ...w.fBytes(2, [...w.fVarint(1, 16000), ...w.fVarint(5, 2), ...(fields ? w.fBytes(7, fields) : [])])]);
    const firsts = [
      ['unsupported rate', w.configure(11025), 'unsupportedSampleRate'],
      ['wrong first message', w.audio('r', new Uint8Array(10), false), 'protocolError'],
      ['malformed first message', Uint8Array.from([0xff, 0xff, 0xff, 0x01, 0x02]), 'protocolError'],
      ['LiveKit egress not configured', lk([...w.fString(1, 'wss://lk.example'), ...w.fString(4, 'room'), ...w.fString(8, 'tok')]), 'egressUnavailable'],
      ['Agora egress not configured', ag([...w.fString(1, 'channel'), ...w.fString(2, 'tok')]), 'egressUnavailable'],
      ['invalid LiveKit egress config', lk([...w.fString(1, 'wss://lk.example')]), 'invalidEgressConfig'],
      ['invalid Agora egress config', ag(null), 'invalidEgressConfig'],
    ];
    const serverError = async (c) => {
      await c.waitClose();
      const m = c.inbox.find((x) => typeOf(x) === 4);
      assert.ok(m, 'a ServerError came');
      return errorOf(m);
    };
    for (const [what, first, code] of firsts) {
      const c = connect(srv, { tok: (await token(srv)).body.sessionToken });
      await c.opened;
      c.ws.send(first);
      const e = await serverError(c);
      assert.equal(classify({ serverCode: e.code, text: e.message }), code, `${what}: ${e.code} ${e.message}`);
    }
    const un = await handshake(srv);
    un.ws.send(Uint8Array.from([0x08, 0x02, 0x1a, 0x00]));
    let e = await serverError(un);
    assert.equal(classify({ serverCode: e.code, text: e.message }), 'protocolError', `unexpected type: ${e.code} ${e.message}`);
    const tx = await handshake(srv);
    tx.ws.send('text');
    e = await serverError(tx);
    assert.equal(classify({ serverCode: e.code, text: e.message }), 'protocolError', `text frame: ${e.code} ${e.message}`);
    const it = await handshake(idle);
    e = await serverError(it);
    assert.equal(classify({ serverCode: e.code, text: e.message }), 'idleTimeout', `idle: ${e.code} ${e.message}`);
    const ex = connect(srv, { tok: (await token(srv, { expireAt: now() + 2 })).body.sessionToken });
    await ex.opened;
    ex.ws.send(w.configure(16000));
    e = await serverError(ex);
    assert.equal(classify({ serverCode: e.code, text: e.message }), 'sessionTokenExpired', `expiry: ${e.code} ${e.message}`);
    // Other HTTP errors are well-formed HTTP/1.1 too.
    const plain = await strictRequest(srv.port, `GET ${ws('id=av1')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(plain.status, 400);
    assert.equal(classifyHttp(plain, 'websocket_connect'), 'sessionTokenInvalid');
    const notFound = await strictRequest(srv.port, 'GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(notFound.status, 404);
    assert.equal(notFound.json.errors[0].status, 404);
    const method = await strictRequest(srv.port, 'PUT /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    assert.equal(method.status, 405);
    assert.equal(method.reason, 'Method Not Allowed');
    assert.equal(method.json.errors[0].code, 'method_not_allowed');
    // An HTTP/1.0 client still gets an HTTP/1.1 answer it can read.
    const old = await strictRequest(srv.port, `GET ${ws('id=av1&appId=a&sessionKey=zz')} HTTP/1.0\r\n\r\n`);
    assert.equal(old.text, '{"message":"Invalid session token"}\n');
  } finally {
    await srv.stop();
    await idle.stop();
  }
});

test('oversized message and garbage mid-session close only that session', async () => {
  const srv = await startServer(['--max-message-bytes', '8192']);
  try {
    const other = await handshake(srv);
    const c = await handshake(srv);
    c.ws.send(w.audio('big', new Uint8Array(20000), false));
    const closed = await c.waitClose();
    assert.equal(closed.code, 1009);
    assert.match(errorOf(c.inbox.find((m) => typeOf(m) === 4)).message, /message too large/);
    const g = await handshake(srv);
    g.ws.send(Uint8Array.from([0x0a, 0xff, 0xff, 0xff]));
    await g.waitClose();
    assert.match(errorOf(g.inbox.find((m) => typeOf(m) === 4)).message, /failed to unmarshal/);
    // The bystander still works.
    sendAudio(other, 'r', makePcm(16000, 0.5), 1280);
    assert.ok(await other.until((ib) => animationOf(ib, 'r').end));
    assert.equal(animationOf(other.inbox, 'r').frames, 13);
  } finally {
    await srv.stop();
  }
});

/* A WebSocket client on a raw socket that can stop reading: frames out are masked, frames in
 * are collected only while reading. */
function rawSession(port, query) {
  const s = net.connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0), upgraded = false;
  const frames = [];
  let close = null;
  const parse = () => {
    if (!upgraded) {
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      if (!/^HTTP\/1\.1 101/.test(buf.subarray(0, i).toString())) throw new Error('no upgrade');
      upgraded = true;
      buf = buf.subarray(i + 4);
    }
    let msg = [];
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1] & 0x7f, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      if (buf.length < off + len) return;
      const op = buf[0] & 0x0f, fin = buf[0] & 0x80, body = buf.subarray(off, off + len);
      buf = buf.subarray(off + len);
      if (op === 8) close = { code: body.length >= 2 ? body.readUInt16BE(0) : 1005, reason: body.subarray(2).toString() };
      else if (op === 2 || op === 0) { msg.push(body); if (fin) { frames.push(w.decode(new Uint8Array(Buffer.concat(msg)))); msg = []; } }
    }
  };
  s.on('data', (d) => { buf = Buffer.concat([buf, d]); parse(); });
  s.on('error', () => {});
  s.write(`GET /v2/driveningress/websocket?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const frame = (payload) => {
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x82, 0x80 | n])
      : n < 65536 ? Buffer.from([0x82, 0x80 | 126, n >> 8, n & 255])
      : Buffer.concat([Buffer.from([0x82, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
    const mask = Buffer.from([1, 2, 3, 4]);
    const body = Buffer.from(payload);
    for (let i = 0; i < n; i++) body[i] ^= mask[i & 3];
    return Buffer.concat([head, mask, body]);
  };
  return { s, frames, frame, send: (payload) => s.write(frame(payload)), get close() { return close; } };
}

test('a client that stops reading is cut off with "client is not reading" (1008), also mid-encode', async () => {
  // one request of up to 30 minutes of audio: no request duration limit here
  // no ping: a slow (sanitizer, loaded) server would otherwise close the non-reader as a dead
  // peer (no PONG for 40 s) before its output queue fills
  const srv = await startServer(['--max-request-seconds', '0', '--write-timeout', '3600', '--max-speed', '0', '--ping-interval', '0']);
  try {
    const t = await token(srv);
    const c = rawSession(srv.port, `id=av1&appId=test-app&sessionKey=${encodeURIComponent(t.body.sessionToken)}`);
    // 128 kb/s: the packet store fills inside the Opus encoder's callback during each ~31 s
    // message, so most overflows happen there (they used to come out as "internal error").
    c.send(Uint8Array.from([...w.fVarint(1, 1), ...w.fBytes(2, [...w.fVarint(1, 16000), ...w.fVarint(2, 128000)])]));
    for (let i = 0; i < 100 && !c.frames.some((m) => typeOf(m) === 2); i++) await sleep(20);
    assert.ok(c.frames.some((m) => typeOf(m) === 2), 'session confirmed');
    c.s.pause(); // stop reading: the server's output backs up
    const pcm = new Uint8Array(1000000);
    let x = 12345;
    for (let i = 0; i < pcm.length; i++) { x = (x * 1103515245 + 12345) >>> 0; pcm[i] = x >>> 24; }
    const drops = async () => {
      const m = await (await fetch(`${srv.base}/metrics`)).text();
      return Number(/avatarkit_errors_total\{kind="slow_client"\} (\d+)/.exec(m)?.[1] ?? 0);
    };
    const flood = c.frame(w.audio('flood', pcm, false)); // ~31 s of audio per message
    let sent = 0;
    for (; sent < 60 && (await drops()) === 0; sent++) {
      c.s.write(flood);
      await sleep(100);
    }
    // 8 MiB of 128 kb/s Opus is about 520 s of audio to encode: allow a slow (sanitizer,
    // loaded) server a minute for it (a bounded wait, not a timing assertion).
    for (let i = 0; i < 600 && (await drops()) === 0; i++) await sleep(100);
    assert.ok((await drops()) >= 1, `queue overflow seen after ${sent} messages`);
    c.s.resume();
    for (let i = 0; i < 300 && !c.close; i++) await sleep(50);
    assert.equal(c.close?.code, 1008);
    const errs = c.frames.filter((m) => typeOf(m) === 4).map(errorOf);
    assert.equal(errs.length, 1);
    assert.equal(errs[0].code, 8);
    assert.match(errs[0].message, /^client is not reading: output queue over \d+ bytes$/);
    assert.doesNotMatch(srv.log(), /internal error/);
    c.s.destroy();
  } finally {
    await srv.stop();
  }
});

test('interrupt stops a request; the next request works', async () => {
  const srv = await startServer();
  try {
    const c = await handshake(srv);
    const pcm = makePcm(16000, 3);
    sendAudio(c, 'long', pcm.subarray(0, 32000), 1280, false);
    assert.ok(await c.until((ib) => animationOf(ib, 'long').frames > 0));
    c.ws.send(w.interrupt('long'));
    sendAudio(c, 'long', pcm.subarray(32000), 1280, true); // late audio of the interrupted request
    sendAudio(c, 'next', makePcm(16000, 0.6), 1280, true);
    assert.ok(await c.until((ib) => animationOf(ib, 'next').end));
    await sleep(200);
    const a = animationOf(c.inbox, 'long');
    assert.equal(a.end, false, 'no end for an interrupted request');
    assert.ok(a.frames < 75, `interrupted request stopped early (${a.frames} frames)`);
    const n = animationOf(c.inbox, 'next');
    assert.equal(n.frames, 15);
    assert.deepEqual(n.firstFrames[0], 0);
    const metrics = await (await fetch(`${srv.base}/metrics`)).text();
    assert.match(metrics, /avatarkit_requests_interrupted_total 1\b/);
  } finally {
    await srv.stop();
  }
});

test('idle timeout closes a silent session with "no audio input for"', async () => {
  const srv = await startServer(['--idle-timeout', '1']);
  try {
    const c = await handshake(srv);
    const closed = await c.waitClose(5000);
    assert.ok(closed);
    assert.match(errorOf(c.inbox.find((m) => typeOf(m) === 4)).message, /no audio input for 1 seconds/);
  } finally {
    await srv.stop();
  }
});

test('an open session is closed with 4010 when its token expires', async () => {
  const srv = await startServer();
  try {
    const t = await token(srv, { expireAt: now() + 2 });
    const c = connect(srv, { tok: t.body.sessionToken });
    await c.opened;
    c.ws.send(w.configure(16000));
    const closed = await c.waitClose(6000);
    assert.equal(closed?.code, 4010);
    assert.match(errorOf(c.inbox.find((m) => typeOf(m) === 4)).message, /session token expired/);
  } finally {
    await srv.stop();
  }
});

test('abrupt disconnect mid-request leaves the server serving others', async () => {
  const srv = await startServer();
  try {
    const t = (await token(srv)).body.sessionToken;
    // A child process opens a session, sends half a request and dies without a close frame.
    const script = `
      import * as w from ${JSON.stringify(new URL('./wire.mjs', import.meta.url).href)};
      const ws = new WebSocket('ws://127.0.0.1:${srv.port}/v2/driveningress/websocket?id=av1&appId=test-app&sessionKey=${encodeURIComponent(t)}');
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => ws.send(w.configure(16000));
      ws.onmessage = () => { ws.send(w.audio('x', new Uint8Array(16000), false)); setTimeout(() => process.kill(process.pid, 'SIGKILL'), 50); };`;
    const child = spawn(process.execPath, ['--experimental-websocket', '--input-type=module', '-e', script], { stdio: 'ignore' });
    await new Promise((r) => child.on('exit', r));
    let sessions = -1;
    for (let i = 0; i < 50 && sessions !== 0; i++) {
      await sleep(100);
      sessions = (await (await fetch(`${srv.base}/healthz`)).json()).sessions;
    }
    assert.equal(sessions, 0, 'the dead session is reaped');
    const metrics = await (await fetch(`${srv.base}/metrics`)).text();
    assert.match(metrics, /avatarkit_sessions_total 1\b/);
    const c = await handshake(srv);
    sendAudio(c, 'r', makePcm(16000, 0.4), 640);
    assert.ok(await c.until((ib) => animationOf(ib, 'r').end));
  } finally {
    await srv.stop();
  }
});

test('two sessions at once get their own ids and complete output', async () => {
  const srv = await startServer();
  try {
    const [a, b] = await Promise.all([handshake(srv, 16000), handshake(srv, 48000)]);
    const ida = w.get(w.decode(w.get(a.inbox.find((m) => typeOf(m) === 2), 3)), 1);
    const idb = w.get(w.decode(w.get(b.inbox.find((m) => typeOf(m) === 2), 3)), 1);
    assert.notDeepEqual(ida, idb);
    const pa = makePcm(16000, 1.0), pb = makePcm(48000, 2.0);
    for (let i = 0; i < 50; i++) {
      if (i * 1280 < pa.length) a.ws.send(w.audio('ra', pa.subarray(i * 1280, (i + 1) * 1280), (i + 1) * 1280 >= pa.length));
      if (i * 3840 < pb.length) b.ws.send(w.audio('rb', pb.subarray(i * 3840, (i + 1) * 3840), (i + 1) * 3840 >= pb.length));
    }
    assert.ok(await a.until((ib) => animationOf(ib, 'ra').end));
    assert.ok(await b.until((ib) => animationOf(ib, 'rb').end));
    assert.equal(animationOf(a.inbox, 'ra').frames, 25);
    assert.equal(animationOf(b.inbox, 'rb').frames, 50);
    assert.equal(animationOf(a.inbox, 'rb').messages, 0);
  } finally {
    await srv.stop();
  }
});

// After SIGTERM: the request ended whole (frames motion frames) before the session's 1001,
// and the server exited 0.
async function assertDrained(srv, c, id, frames, closed) {
  assert.ok(animationOf(c.inbox, id).end, 'request finished before close');
  assert.equal(animationOf(c.inbox, id).frames, frames);
  assert.equal(closed?.code, 1001);
  assert.equal((await srv.exited).code, 0);
}

test('SIGTERM finishes the in-flight request, then closes with 1001 and exits 0', async () => {
  const srv = await startServer();
  try {
    const c = await handshake(srv);
    const pcm = makePcm(16000, 1.2);
    sendAudio(c, 'inflight', pcm.subarray(0, 12800), 1280, false);
    assert.ok(await c.until((ib) => animationOf(ib, 'inflight').frames > 0));
    srv.proc.kill('SIGTERM');
    await sleep(300);
    const h = await fetch(`${srv.base}/healthz`);
    assert.equal(h.status, 503, 'health reports draining');
    sendAudio(c, 'inflight', pcm.subarray(12800), 1280, true);
    const closed = await c.waitClose(8000);
    await assertDrained(srv, c, 'inflight', 30, closed);
  } finally {
    await srv.stop();
  }
});

test('SIGTERM while --max-speed holds a request back: the drain keeps releasing it, the request ends before the 1001', async () => {
  // 14 s of audio at once against 2 audio-seconds per second after the 10 s burst: the
  // session is parked on its credit when the drain begins. The periodic tick that releases
  // parked sessions must keep running while draining, or the request waits for the drain
  // deadline and is cut.
  const srv = await startServer(['--max-speed', '2', '--drain-timeout', '12']);
  try {
    const c = await handshake(srv);
    sendAudio(c, 'fast', makePcm(16000, 14), 16000);
    assert.ok(await c.until((ib) => animationOf(ib, 'fast').frames >= 250, 30000), 'the burst was processed');
    assert.ok(!animationOf(c.inbox, 'fast').end, 'the rest is held back');
    srv.proc.kill('SIGTERM');
    const closed = await c.waitClose(20000);
    await assertDrained(srv, c, 'fast', 350, closed);
  } finally {
    await srv.stop();
  }
});

test('SIGTERM closes each session once it has no request open: an idle one at once, a busy one after its request', async () => {
  const srv = await startServer(['--drain-timeout', '12']);
  try {
    const idle = await handshake(srv);
    const busy = await handshake(srv);
    const pcm = makePcm(16000, 1.2);
    sendAudio(busy, 'slow', pcm.subarray(0, 12800), 1280, false);
    assert.ok(await busy.until((ib) => animationOf(ib, 'slow').frames > 0));
    srv.proc.kill('SIGTERM');
    // The idle session goes while the other request is still open (its end not even sent).
    const idleClosed = await idle.waitClose(8000);
    assert.equal(idleClosed?.code, 1001);
    assert.equal(busy.closed, null);
    sendAudio(busy, 'slow', pcm.subarray(12800), 1280, true);
    const busyClosed = await busy.waitClose(8000);
    await assertDrained(srv, busy, 'slow', 30, busyClosed);
  } finally {
    await srv.stop();
  }
});

test('metrics, health and static files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'akstatic-'));
  writeFileSync(join(dir, 'player.html'), '<!doctype html><title>p</title>');
  const srv = await startServer(['--static', dir]);
  try {
    const c = await handshake(srv);
    sendAudio(c, 'm', makePcm(16000, 1.0), 1280);
    assert.ok(await c.until((ib) => animationOf(ib, 'm').end));
    const text = await (await fetch(`${srv.base}/metrics`)).text();
    assert.match(text, /avatarkit_requests_total 1\b/);
    assert.match(text, /avatarkit_motion_frames_total 25\b/);
    assert.match(text, /avatarkit_sessions_active 1\b/);
    assert.match(text, /avatarkit_chunk_processing_seconds_count \d+/);
    assert.match(text, /avatarkit_chunk_processing_seconds_bucket\{le="\+Inf"\} \d+/);
    const h = await (await fetch(`${srv.base}/healthz`)).json();
    assert.equal(h.status, 'ok');
    const page = await fetch(`${srv.base}/player.html`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /text\/html/);
    assert.match(await page.text(), /<title>p<\/title>/);
    assert.equal((await fetch(`${srv.base}/../etc/passwd`)).status, 404);
    assert.equal((await fetch(`${srv.base}/%2e%2e/%2e%2e/etc/passwd`)).status, 404);
  } finally {
    await srv.stop();
  }
});

test('bad flags are refused with a message and exit code 2', async () => {
  for (const args of [['--fps', '0'], ['--listen', 'nope'], ['--bogus'], ['--token-secret', 'xyz'], ['--config', '/nonexistent']]) {
    const p = spawn(process.env.AK_SERVER_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => p.on('exit', r));
    assert.equal(code, 2, args.join(' '));
    assert.match(err, /error:/);
  }
});

/* --- Avatar registry (issue 10 item 2): avatars/ + --avatars-dir, 404 for unknown ids, console
 * list, public asset routes. -------------------------------------------------------------- */
const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..');
const rawGet = (port, path, headers = {}) => strictRequest(port,
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
  Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
const glbBytes = () => {
  const j = Buffer.from('{"asset":{"version":"2.0"}}  ');
  const h = Buffer.alloc(20);
  h.write('glTF', 0); h.writeUInt32LE(2, 4); h.writeUInt32LE(20 + j.length, 8);
  h.writeUInt32LE(j.length, 12); h.writeUInt32LE(0x4e4f534a, 16);
  return Buffer.concat([h, j]);
};
/* A registry directory: entries maps a directory name to avatar.json text (string) or an
 * object (serialised), plus files to write next to it. */
function makeRegistry(entries) {
  const dir = mkdtempSync(join(tmpdir(), 'akavatars-'));
  for (const [name, { json, files = {} }] of Object.entries(entries)) {
    mkdirSync(join(dir, name));
    if (json !== undefined) writeFileSync(join(dir, name, 'avatar.json'), typeof json === 'string' ? json : JSON.stringify(json));
    for (const [f, data] of Object.entries(files)) writeFileSync(join(dir, name, f), data);
  }
  return dir;
}
const upgradeWith = async (srv, id) => {
  const tok = encodeURIComponent((await token(srv)).body.sessionToken);
  return rawUpgrade(srv.port, `/v2/driveningress/websocket?id=${encodeURIComponent(id)}&appId=test-app&sessionKey=${tok}`);
};

test('avatar registry: the default avatar ships in avatars/ and an unknown id is 404 "Avatar not found"', async () => {
  const meta = JSON.parse(readFileSync(join(REPO, 'avatars/default/avatar.json'), 'utf8'));
  assert.equal(meta.id, 'default');
  assert.equal(meta.default, true);
  assert.ok(existsSync(join(REPO, 'avatars/default', meta.model)), 'the default model file is committed');
  const srv = await startServer();
  try {
    assert.equal((await upgradeWith(srv, 'default')).status, 101);
    assert.equal((await upgradeWith(srv, 'av1')).status, 101, 'a --avatars-dir avatar');
    for (const id of ['zzz', 'Default', '../default', 'default/', 'x'.repeat(65)]) {
      const r = await upgradeWith(srv, id);
      assert.equal(r.status, 404, id);
      assert.equal(r.reason, 'Not Found');
      assert.equal(r.text, '{"message":"Avatar not found"}\n', id);
      assert.equal(classifyHttp(r, 'websocket_connect'), 'avatarNotFound', id);
    }
  } finally {
    await srv.stop();
  }
  // --avatars narrows the registry: registered but not listed is refused; listed but not
  // registered stays refused (with a warning at startup).
  const narrow = await startServer(['--avatars', 'av2,ghost']);
  try {
    assert.equal((await upgradeWith(narrow, 'av2')).status, 101);
    for (const id of ['default', 'av1', 'ghost']) {
      const r = await upgradeWith(narrow, id);
      assert.equal(r.status, 404, id);
      assert.equal(classifyHttp(r, 'websocket_connect'), 'avatarNotFound', id);
    }
    assert.match(narrow.log(), /--avatars names ghost, which is not in the avatar registry/);
    const list = await (await fetch(`${narrow.base}/v1/console/avatars`, { headers: { 'X-Api-Key': 'test-key' } })).json();
    assert.deepEqual(list.avatars.map((a) => a.id), ['av2']);
    assert.equal((await rawGet(narrow.port, '/avatars/default/avatar.json')).status, 404);
  } finally {
    await narrow.stop();
  }
  // Without the built-in directory, `default` is unknown.
  const bare = await startServer(['--builtin-avatars-dir', 'none']);
  try {
    assert.equal((await upgradeWith(bare, 'default')).status, 404);
    assert.equal((await upgradeWith(bare, 'av1')).status, 101);
  } finally {
    await bare.stop();
  }
});

test('avatar registry: --avatars-dir adds avatars, invalid entries are skipped with one log line each', async () => {
  const model = glbBytes();
  const dir = makeRegistry({
    extra: { json: { id: 'extra', name: 'Extra', description: 'an added avatar', model: 'face.glb', preview: 'face.png', unknownField: [1, 2] }, files: { 'face.glb': model, 'face.png': 'png', 'secret.txt': 'no', '.hidden': 'no' } },
    broken: { json: '{"id": "broken", "model": ', files: { 'avatar.glb': model } },
    nomodel: { json: { id: 'nomodel', model: 'avatar.glb' } },
    mismatch: { json: { id: 'other', model: 'avatar.glb' }, files: { 'avatar.glb': model } },
    escape: { json: { id: 'escape', model: '../extra/face.glb' } },
    dotmodel: { json: { id: 'dotmodel', model: '.avatar.glb' }, files: { '.avatar.glb': model } },
    notstring: { json: { id: 'notstring', name: 7, model: 'avatar.glb' }, files: { 'avatar.glb': model } },
    longname: { json: { id: 'longname', name: 'n'.repeat(200), model: 'avatar.glb' }, files: { 'avatar.glb': model } },
    Upper: { json: { id: 'Upper', model: 'avatar.glb' }, files: { 'avatar.glb': model } },
    nojson: { files: { 'avatar.glb': model } },
    huge: { json: JSON.stringify({ id: 'huge', model: 'avatar.glb', pad: 'x'.repeat(70000) }), files: { 'avatar.glb': model } },
    default: { json: { id: 'default', name: 'Operator default', model: 'avatar.glb' }, files: { 'avatar.glb': model } },
  });
  writeFileSync(join(dir, 'README.md'), 'not an avatar');
  const srv = await startServer(['--avatars-dir', dir]);
  try {
    const list = await fetch(`${srv.base}/v1/console/avatars`, { headers: { 'X-Api-Key': 'test-key' } });
    assert.equal(list.status, 200);
    const { avatars } = await list.json();
    // the project's own avatars (avatars/<id>/avatar.json), the test registry and the valid added one
    const builtin = join(dirname(fileURLToPath(import.meta.url)), '../../avatars');
    const shipped = readdirSync(builtin).filter((id) => existsSync(join(builtin, id, 'avatar.json')));
    assert.ok(shipped.includes('default'));
    assert.deepEqual(avatars.map((a) => a.id), [...new Set([...shipped, 'av1', 'av2', 'extra', 'second-avatar'])].sort());
    const extra = avatars.find((a) => a.id === 'extra');
    assert.deepEqual(
      { name: extra.name, description: extra.description, model: extra.model, modelUrl: extra.modelUrl, modelBytes: extra.modelBytes, previewUrl: extra.previewUrl, default: extra.default },
      { name: 'Extra', description: 'an added avatar', model: 'face.glb', modelUrl: '/avatars/extra/face.glb', modelBytes: model.length, previewUrl: '/avatars/extra/face.png', default: false });
    // An operator's directory comes after the built-in one: its `default` replaces it.
    assert.equal(avatars.find((a) => a.id === 'default').name, 'Operator default');
    assert.equal((await upgradeWith(srv, 'extra')).status, 101);
    const log = srv.log();
    const skipped = { broken: /not a JSON object/, nomodel: /model file avatar\.glb is missing/, mismatch: /id.{0,3} must equal the directory name/,
      escape: /model.{0,3} must be a plain file name/, dotmodel: /model.{0,3} must be a plain file name/, notstring: /name.{0,3} is not a string/,
      longname: /name.{0,3} is longer than 127 bytes/, Upper: /id must match/, nojson: /no readable avatar\.json/, huge: /larger than 65536 bytes/ };
    for (const [id, why] of Object.entries(skipped)) {
      const lines = log.split('\n').filter((l) => l.includes(`avatar ${id} in `) && l.includes('skipped'));
      assert.equal(lines.length, 1, `one log line for ${id}: ${log}`);
      assert.match(lines[0], why, id);
      if (id !== 'Upper') assert.equal((await upgradeWith(srv, id)).status, 404, id);
    }
    assert.doesNotMatch(log, /avatar README/);
    assert.match(log, /avatar default in \/tmp\/akavatars-\w+ replaces the one in .*\/avatars\/default/);
  } finally {
    await srv.stop();
  }
  // The same directory from the environment and from a config file.
  for (const [args, env] of [[[], { AVATARKIT_AVATARS_DIR: `/nonexistent-dir:${dir}` }], [['--config', join(dir, 'server.conf')], {}]]) {
    writeFileSync(join(dir, 'server.conf'), `avatars-dir = ${dir}\n`);
    const s2 = await startServer(args, env);
    try {
      assert.equal((await upgradeWith(s2, 'extra')).status, 101, JSON.stringify(args));
    } finally {
      await s2.stop();
    }
  }
});

test('avatar registry: the console list needs the API key, answered in the {"errors"} shape', async () => {
  const srv = await startServer();
  try {
    for (const headers of [{}, { 'X-Api-Key': 'wrong' }]) {
      const r = await rawGet(srv.port, '/v1/console/avatars', headers);
      assert.equal(r.status, 401);
      assert.deepEqual(Object.keys(r.json), ['errors']);
      assert.equal(r.json.errors[0].code, 'invalid_api_key');
      assert.doesNotMatch(r.text.toLowerCase(), /unauthorized|egress|livekit/);
    }
    const ok = await rawGet(srv.port, '/v1/console/avatars', { 'X-Api-Key': 'test-key' });
    assert.equal(ok.status, 200);
    const def = ok.json.avatars.find((a) => a.id === 'default');
    assert.equal(def.default, true);
    assert.equal(def.modelUrl, '/avatars/default/avatar.glb');
  } finally {
    await srv.stop();
  }
});

test('avatar registry: public asset routes serve only the files avatar.json names', async () => {
  const dir = makeRegistry({ extra: { json: { id: 'extra', name: 'Extra', model: 'face.glb' }, files: { 'face.glb': glbBytes(), 'secret.txt': 'no', '.hidden': 'no' } } });
  const srv = await startServer(['--avatars-dir', dir]);
  try {
    const meta = await rawGet(srv.port, '/avatars/default/avatar.json');
    assert.equal(meta.status, 200);
    assert.equal(meta.headers['access-control-allow-origin'], '*');
    assert.equal(meta.json.id, 'default');
    assert.equal(meta.json.modelUrl, '/avatars/default/avatar.glb');
    const res = await fetch(`${srv.base}${meta.json.modelUrl}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'model/gltf-binary');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.ok(bytes.equals(readFileSync(join(REPO, 'avatars/default/avatar.glb'))), 'the model bytes as on disk');
    assert.equal(bytes.subarray(0, 4).toString(), 'glTF');
    const extra = await fetch(`${srv.base}/avatars/extra/face.glb`);
    assert.equal(extra.status, 200);
    assert.ok(Buffer.from(await extra.arrayBuffer()).equals(glbBytes()));
    for (const p of ['/avatars/extra/secret.txt', '/avatars/extra/.hidden', '/avatars/extra/face.glb.bak',
      '/avatars/nope/avatar.json', '/avatars/nope/avatar.glb', '/avatars/default/../../CMakeLists.txt',
      '/avatars/default/..%2f..%2fCMakeLists.txt', '/avatars/%2e%2e/%2e%2e/CMakeLists.txt',
      '/avatars/extra/../extra/secret.txt', '/avatars/default/', '/avatars/']) {
      const r = await rawGet(srv.port, p);
      assert.equal(r.status, 404, p);
      assert.ok(Array.isArray(r.json?.errors), p);
      assert.doesNotMatch(r.text, /glTF|"no"/, p);
    }
  } finally {
    await srv.stop();
  }
});
