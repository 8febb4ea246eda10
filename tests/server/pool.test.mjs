// End-to-end tests of the server's media worker pool and per-session budgets, against the real
// server process over loopback: a whole request in one big message, an Ogg bomb and a PCM
// flood that must not stop another session, back-pressure with a bounded input queue,
// timeouts that free the slot of a client that does not read, the idle timer, token expiry
// during a request, req_id validation, and session churn (run it under the ASan build too).
// No wall-clock assertions: every wait is a bounded loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import * as w from './wire.mjs';
import { startServer, token, connect, typeOf, errorOf, animationOf, makePcm, handshake, sendAudio, sleep, waitLog } from './harness.mjs';

const now = () => Math.floor(Date.now() / 1000);

/* ClientAudioInput built straight into one buffer (the spread-based helper is too slow for
 * megabytes). reqId may be a string or raw bytes. */
function audioMsg(reqId, pcm, end) {
  const id = typeof reqId === 'string' ? new TextEncoder().encode(reqId) : reqId;
  const inner = [...w.fBytes(1, [...id]), ...w.fVarint(2, end ? 1 : 0), ...w.varint((3 << 3) | 2), ...w.varint(pcm.length)];
  const innerLen = inner.length + pcm.length;
  const head = [...w.fVarint(1, 3), ...w.varint((4 << 3) | 2), ...w.varint(innerLen)];
  const out = new Uint8Array(head.length + innerLen);
  out.set(head, 0);
  out.set(inner, head.length);
  out.set(pcm, head.length + inner.length);
  return out;
}

async function metric(srv, re) {
  const text = await (await fetch(`${srv.base}/metrics`)).text();
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
}

const sessions = async (srv) => (await (await fetch(`${srv.base}/healthz`)).json()).sessions;

/* ---- Ogg pages (RFC 3533), enough to build an Ogg Opus bomb ---------------------------- */
const CRC = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? ((r << 1) ^ 0x04c11db7) >>> 0 : (r << 1) >>> 0;
    t[i] = r >>> 0;
  }
  return t;
})();
function oggPage(flags, granule, seq, segments, body) {
  const h = new Uint8Array(27 + segments.length);
  h.set([0x4f, 0x67, 0x67, 0x53, 0, flags]);
  const dv = new DataView(h.buffer);
  dv.setBigInt64(6, BigInt(granule), true);
  dv.setUint32(14, 0x1234, true);
  dv.setUint32(18, seq, true);
  h[26] = segments.length;
  h.set(segments, 27);
  const page = new Uint8Array(h.length + body.length);
  page.set(h);
  page.set(body, h.length);
  let crc = 0;
  for (const b of page) crc = ((crc << 8) ^ CRC[((crc >>> 24) ^ b) & 0xff]) >>> 0;
  new DataView(page.buffer).setUint32(22, crc, true);
  return page;
}
/* OpusHead, OpusTags, then `pages` pages of 255 Opus packets of `pkt` (default: 2 bytes, two
 * empty 60 ms SILK frames, valid Opus): each packet decodes to 120 ms of concealment, so each
 * ~790-byte page would be 30 s of audio. pkt = [] makes zero-length packets (not Opus). */
function oggBomb(pages, pkt = [(3 << 3) | 3, 2]) {
  const head = Uint8Array.from([...new TextEncoder().encode('OpusHead'), 1, 1, 0, 0, 0x80, 0xbb, 0, 0, 0, 0, 0]);
  const tags = Uint8Array.from([...new TextEncoder().encode('OpusTags'), 0, 0, 0, 0, 0, 0, 0, 0]);
  const parts = [oggPage(2, 0, 0, [head.length], head), oggPage(0, 0, 1, [tags.length], tags)];
  const body = Uint8Array.from(new Array(255).fill(pkt).flat());
  for (let p = 0; p < pages; p++) parts.push(oggPage(0, (p + 1) * 255 * 5760, p + 2, new Array(255).fill(pkt.length), body));
  return Buffer.concat(parts);
}

/* A raw WebSocket client that can stop reading (the socket is paused) while it sends. */
function rawClient(port, query) {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  s.write(`GET /v2/driveningress/websocket?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const frame = (payload) => {
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x82, 0x80 | n])
      : n < 65536 ? Buffer.from([0x82, 0x80 | 126, n >> 8, n & 255])
      : Buffer.concat([Buffer.from([0x82, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
    const body = Buffer.from(payload); // mask 0: XOR with zero leaves the payload as is
    return Buffer.concat([head, Buffer.alloc(4), body]);
  };
  return { s, send: (p) => s.write(frame(p)) };
}

const query = (tok) => `id=av1&appId=test-app&sessionKey=${encodeURIComponent(tok)}`;

test('a whole 60 s 48 kHz PCM request in one message streams completely; over the limit is refused', async () => {
  const srv = await startServer();
  try {
    const c = await handshake(srv, 48000);
    const pcm = makePcm(48000, 60); // 5.76 MB in one message
    c.ws.send(audioMsg('whole', pcm, true));
    assert.ok(await c.until((ib) => animationOf(ib, 'whole').end, 120000), 'the request ends');
    const a = animationOf(c.inbox, 'whole');
    assert.equal(a.totalSamples, 960000);
    assert.equal(a.frames, 1500);
    assert.equal(a.endCount, 1);
    let expect = 0;
    for (const [i, f] of a.firstFrames.entries()) { assert.equal(f, expect, `message ${i}`); expect = f + a.counts[i]; }
    assert.ok(a.packets.length * 320 >= 960000 + a.preSkip, 'Opus covers the audio');
    // Processed in slices: motion streams in many messages (the first long before the end).
    assert.ok(a.messages >= 60, `sliced into ${a.messages} messages`);
    assert.equal(a.spans[0].final, false);
    // The input was held once: the queue never held more than that one message.
    const peak = await metric(srv, /avatarkit_input_queue_peak_bytes (\d+)/);
    assert.ok(peak >= pcm.length && peak < pcm.length + 1024, `input queue peak ${peak}`);
    // Over the (default 8 MiB) limit: the existing clear error, this session only.
    const big = await handshake(srv, 48000);
    big.ws.send(audioMsg('big', new Uint8Array(8 * 1024 * 1024), true));
    const closed = await big.waitClose(30000);
    assert.equal(closed?.code, 1009);
    assert.match(errorOf(big.inbox.find((m) => typeOf(m) === 4)).message, /^message too large: over 8388608 bytes$/);
    sendAudio(c, 'after', makePcm(48000, 0.4), 3840);
    assert.ok(await c.until((ib) => animationOf(ib, 'after').end));
  } finally {
    await srv.stop();
  }
});

test('an Ogg bomb gets a clear error for its session only; another session on the same worker gets all its frames', async () => {
  const srv = await startServer(['--workers', '1']);
  try {
    const victim = await handshake(srv, 16000);
    const bomber = await handshake(srv, 48000, 1);
    const bomb = oggBomb(20); // ~16 KB, 10 minutes of concealment without the budget
    assert.ok(bomb.length < 20000);
    bomber.ws.send(audioMsg('bomb', bomb, true));
    const pcm = makePcm(16000, 2);
    sendAudio(victim, 'v', pcm, 1280);
    assert.ok(await victim.until((ib) => animationOf(ib, 'v').end, 60000), 'the victim completes');
    assert.equal(animationOf(victim.inbox, 'v').frames, 50);
    const closed = await bomber.waitClose(30000);
    assert.equal(closed?.code, 1007);
    const err = errorOf(bomber.inbox.find((m) => typeOf(m) === 4));
    assert.equal(err.code, 3);
    assert.match(err.message, /^invalid audio: Ogg Opus stream decodes to more audio than its size allows/);
    assert.equal(await metric(srv, /avatarkit_session_limits_total\{kind="audio_budget"\} (\d+)/), 1);
    // far less audio than the bomb holds was decoded
    assert.ok((await metric(srv, /avatarkit_audio_seconds_total ([\d.]+)/)) < 60);
    // zero-length packets are not Opus at all: refused as corrupt, nothing decoded
    const empty = await handshake(srv, 48000, 1);
    empty.ws.send(audioMsg('empty', oggBomb(60, []), true));
    assert.equal((await empty.waitClose(30000))?.code, 1007);
    const err2 = errorOf(empty.inbox.find((m) => typeOf(m) === 4));
    assert.equal(err2.code, 3);
    assert.match(err2.message, /^invalid audio: Ogg Opus stream corrupt/);
  } finally {
    await srv.stop();
  }
});

test('an interrupt behind one big message is read and stops it mid-message', async () => {
  const srv = await startServer(['--max-speed', '2']); // 10 s at once, then 2x real time
  try {
    const c = await handshake(srv, 48000);
    c.ws.send(audioMsg('big', makePcm(48000, 30), true)); // 2.9 MB, over the input bound
    assert.ok(await c.until((ib) => animationOf(ib, 'big').frames > 0, 60000));
    c.ws.send(w.interrupt('big'));
    sendAudio(c, 'next', makePcm(48000, 0.4), 3840);
    assert.ok(await c.until((ib) => animationOf(ib, 'next').end, 60000));
    const a = animationOf(c.inbox, 'big');
    assert.equal(a.end, false, 'no end for the interrupted request');
    assert.ok(a.frames < 750, `stopped inside the message (${a.frames} of 750 frames)`);
    assert.equal(animationOf(c.inbox, 'next').frames, 10);
  } finally {
    await srv.stop();
  }
});

test('--max-speed throttles a session past its burst; its request still completes', async () => {
  const srv = await startServer(['--max-speed', '5']);
  try {
    const c = await handshake(srv, 16000);
    c.ws.send(audioMsg('whole', makePcm(16000, 20), true)); // 10 s burst, then 5x real time
    assert.ok(await c.until((ib) => animationOf(ib, 'whole').end, 60000));
    assert.equal(animationOf(c.inbox, 'whole').frames, 500);
    assert.ok((await metric(srv, /avatarkit_throttled_total (\d+)/)) >= 1, 'throttled');
  } finally {
    await srv.stop();
  }
});

test('a PCM flood is back-pressured: its input queue stays bounded and a session on the same worker completes', async () => {
  const bound = 262144;
  const srv = await startServer(['--workers', '1', '--input-queue-bytes', String(bound)]);
  try {
    const victim = await handshake(srv, 16000);
    const flood = await handshake(srv, 8000);
    const chunk = makePcm(8000, 4); // 64 KB, 4 s of audio per message
    for (let i = 0; i < 60; i++) flood.ws.send(audioMsg(`f${Math.floor(i / 20)}`, chunk, i % 20 === 19)); // 4 minutes
    sendAudio(victim, 'v', makePcm(16000, 1), 1280);
    assert.ok(await victim.until((ib) => animationOf(ib, 'v').end, 120000), 'the victim completes');
    assert.equal(animationOf(victim.inbox, 'v').frames, 25);
    assert.ok(await flood.until((ib) => animationOf(ib, 'f2').end, 240000), 'the flood is processed in the end');
    assert.equal(animationOf(flood.inbox, 'f0').frames, 2000);
    const peak = await metric(srv, /avatarkit_input_queue_peak_bytes (\d+)/);
    // the bound, plus the message in progress (not counted, so that an interrupt behind it is
    // read) and the message that crossed the bound
    assert.ok(peak <= bound + 2 * (chunk.length + 64), `input queue peak ${peak} bytes within the bound plus two messages`);
    assert.ok((await metric(srv, /avatarkit_rx_pauses_total (\d+)/)) >= 1, 'reading paused');
    assert.equal(await metric(srv, /avatarkit_input_queued_bytes (\d+)/), 0);
  } finally {
    await srv.stop();
  }
});

/* Makes a raw client that does not read produce output until the server gives up on it. */
async function floodNonReader(srv, messages) {
  const t = await token(srv);
  const c = rawClient(srv.port, query(t.body.sessionToken));
  c.send(Uint8Array.from([...w.fVarint(1, 1), ...w.fBytes(2, [...w.fVarint(1, 16000), ...w.fVarint(2, 128000)])]));
  await sleep(200);
  c.s.pause();
  const pcm = new Uint8Array(1000000);
  let x = 12345;
  for (let i = 0; i < pcm.length; i++) { x = (x * 1103515245 + 12345) >>> 0; pcm[i] = x >>> 24; }
  for (let i = 0; i < messages; i++) c.send(audioMsg(`r${i}`, pcm, true));
  return c;
}

test('a client that does not read after its fatal error is cut off by the closing timeout', async () => {
  // no write timeout and no dead-peer timeout here (a client that never reads never answers a
  // ping: at 2 x 20 s it would be cut first on a slow ASan run): only the fatal error and then
  // the closing timeout may end it
  const srv = await startServer(['--closing-timeout', '1', '--write-timeout', '3600', '--ping-interval', '3600', '--max-speed', '0']);
  try {
    const c = await floodNonReader(srv, 40); // output over 8 MiB: "client is not reading"
    let n = 1;
    for (let i = 0; i < 1800 && n !== 0; i++) { await sleep(100); n = await sessions(srv); }
    assert.equal(n, 0, 'the slot is freed');
    assert.ok((await metric(srv, /avatarkit_errors_total\{kind="slow_client"\} (\d+)/)) >= 1, `fatal error first; server log:\n${srv.log().slice(-3000)}`);
    assert.equal(await metric(srv, /avatarkit_session_limits_total\{kind="closing_timeout"\} (\d+)/), 1);
    c.s.destroy();
  } finally {
    await srv.stop();
  }
});

test('a client that takes no output is cut off by the write timeout', async () => {
  const srv = await startServer(['--write-timeout', '1']);
  try {
    const c = await floodNonReader(srv, 20);
    let n = 1;
    for (let i = 0; i < 600 && n !== 0; i++) { await sleep(100); n = await sessions(srv); }
    assert.equal(n, 0, 'the slot is freed');
    assert.equal(await metric(srv, /avatarkit_session_limits_total\{kind="write_timeout"\} (\d+)/), 1);
    c.s.destroy();
  } finally {
    await srv.stop();
  }
});

test('interrupts and empty audio do not keep a session alive; a repeated interrupt is logged once', async () => {
  const srv = await startServer(['--idle-timeout', '1']);
  try {
    const c = await handshake(srv);
    const d = await handshake(srv);
    sendAudio(c, 'r', makePcm(16000, 0.2), 1280);
    assert.ok(await c.until((ib) => animationOf(ib, 'r').end));
    for (let i = 0; i < 100 && !(c.closed && d.closed); i++) {
      if (!c.closed) {
        c.ws.send(w.interrupt('r')); // the last request, again and again
        c.ws.send(w.interrupt(`unknown${i}`));
        c.ws.send(w.audio('r', new Uint8Array(0), false)); // empty audio of it (dropped)
      }
      if (!d.closed) d.ws.send(w.audio('e', new Uint8Array(0), false)); // empty chunks of an open request
      await sleep(100);
    }
    for (const s of [c, d]) {
      assert.ok(s.closed, 'closed by the idle timeout');
      assert.match(errorOf(s.inbox.find((m) => typeOf(m) === 4)).message, /no audio input for 1 seconds/);
    }
    assert.equal((await waitLog(srv, /"request interrupted"/)).length, 1, 'one INFO line');
    assert.match(await (await fetch(`${srv.base}/metrics`)).text(), /avatarkit_requests_interrupted_total 1\b/);
  } finally {
    await srv.stop();
  }
});

test('token expiry closes a session with 4010 in the middle of a request', async () => {
  const srv = await startServer();
  try {
    const t = await token(srv, { expireAt: now() + 2 });
    const c = connect(srv, { tok: t.body.sessionToken });
    await c.opened;
    c.ws.send(w.configure(16000));
    assert.ok(await c.until((ib) => ib.some((m) => typeOf(m) === 2)));
    const pcm = makePcm(16000, 0.04);
    for (let i = 0; i < 300 && !c.closed; i++) { // a request that never ends, in real time
      c.ws.send(w.audio('endless', pcm, false));
      await sleep(40);
    }
    assert.equal(c.closed?.code, 4010);
    const err = errorOf(c.inbox.find((m) => typeOf(m) === 4));
    assert.match(err.message, /session token expired/);
    assert.equal(err.code, 7);
    assert.equal(animationOf(c.inbox, 'endless').end, false);
  } finally {
    await srv.stop();
  }
});

test('a request over --max-request-seconds ends with an error; the session goes on', async () => {
  const srv = await startServer(['--max-request-seconds', '2']);
  try {
    const c = await handshake(srv);
    sendAudio(c, 'long', makePcm(16000, 3), 16000, true);
    assert.ok(await c.until((ib) => ib.some((m) => typeOf(m) === 4)));
    const errMsg = c.inbox.find((m) => typeOf(m) === 4);
    const err = errorOf(errMsg);
    assert.match(err.message, /^request too long: over the server's limit of 2 seconds of audio$/);
    assert.equal(new TextDecoder().decode(w.get(w.decode(w.get(errMsg, 5)), 2)), 'long');
    sendAudio(c, 'next', makePcm(16000, 0.6), 1280);
    assert.ok(await c.until((ib) => animationOf(ib, 'next').end));
    assert.equal(animationOf(c.inbox, 'next').frames, 15);
    assert.equal(animationOf(c.inbox, 'long').end, false);
    assert.equal(c.closed, null);
  } finally {
    await srv.stop();
  }
});

test('req_id must be valid UTF-8; an empty first message gets the handshake error', async () => {
  const srv = await startServer();
  try {
    const c = await handshake(srv);
    c.ws.send(audioMsg(Uint8Array.from([0x61, 0xff, 0xfe, 0x62]), makePcm(16000, 0.1), true));
    const closed = await c.waitClose();
    assert.equal(closed?.code, 1008);
    const errMsg = c.inbox.find((m) => typeOf(m) === 4);
    assert.match(errorOf(errMsg).message, /^invalid req_id: not valid UTF-8$/);
    assert.equal(w.get(w.decode(w.get(errMsg, 5)), 2), undefined, 'the bad id is not echoed');
    for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
      const d = await handshake(srv);
      d.ws.send(w.interrupt(''));
      d.ws.send(audioMsg(Uint8Array.from(bad), new Uint8Array(2), true));
      assert.equal((await d.waitClose())?.code, 1008, `bytes ${bad}`);
    }
    const ok = await handshake(srv);
    sendAudio(ok, 'ünïcødé-✓', makePcm(16000, 0.2), 1280);
    assert.ok(await ok.until((ib) => animationOf(ib, 'ünïcødé-✓').end));
    // An empty first WebSocket message: parsed as an empty Message, not a crash.
    const t = await token(srv);
    const e = connect(srv, { tok: t.body.sessionToken });
    await e.opened;
    e.ws.send(new Uint8Array(0));
    assert.equal((await e.waitClose())?.code, 1002);
    assert.match(errorOf(e.inbox.find((m) => typeOf(m) === 4)).message, /expected ClientConfigureSession message/);
    assert.equal(srv.proc.exitCode, null, 'server still running');
  } finally {
    await srv.stop();
  }
});

test('sessions opening and closing in churn, mid-request and mid-interrupt, leave the server clean', async () => {
  const srv = await startServer(['--workers', '2', '--input-queue-bytes', '65536']);
  try {
    const pcm = makePcm(16000, 1);
    for (let round = 0; round < 4; round++) {
      const cs = await Promise.all(Array.from({ length: 12 }, () => handshake(srv)));
      cs.forEach((c, i) => {
        for (let k = 0; k < 5; k++) c.ws.send(audioMsg(`q${k}`, pcm, k % 2 === 1));
        if (i % 3 === 0) c.ws.send(w.interrupt('q4'));
      });
      await sleep(20 * round);
      cs.forEach((c, i) => (i % 2 ? c.ws.close() : null));
      const keep = cs.filter((_, i) => i % 2 === 0);
      await Promise.all(keep.map((c) => c.until((ib) => animationOf(ib, 'q3').end, 60000)));
      keep.forEach((c) => c.ws.close());
    }
    let n = -1;
    for (let i = 0; i < 100 && n !== 0; i++) { await sleep(100); n = await sessions(srv); }
    assert.equal(n, 0);
    assert.equal(await metric(srv, /avatarkit_media_workers (\d+)/), 2);
    for (let i = 0; i < 50 && (await metric(srv, /avatarkit_input_queued_bytes (\d+)/)) !== 0; i++) await sleep(100);
    assert.equal(await metric(srv, /avatarkit_input_queued_bytes (\d+)/), 0);
    assert.equal(await metric(srv, /avatarkit_output_queued_bytes (\d+)/), 0);
    const c = await handshake(srv);
    sendAudio(c, 'last', makePcm(16000, 0.4), 1280);
    assert.ok(await c.until((ib) => animationOf(ib, 'last').end));
    c.ws.close();
    const r = await srv.stop();
    assert.equal(r.code, 0, `clean exit (${srv.log().split('\n').filter((l) => /ERROR|Sanitizer/.test(l)).join('\n')})`);
  } finally {
    await srv.stop();
  }
});

test('SIGTERM with sessions mid-work and a client that reads nothing still exits cleanly', async () => {
  const srv = await startServer(['--drain-timeout', '1', '--workers', '1']);
  try {
    const stuck = await floodNonReader(srv, 6); // its close can never complete
    const busy = await handshake(srv, 48000);
    busy.ws.send(audioMsg('long', makePcm(48000, 30), true));
    assert.ok(await busy.until((ib) => animationOf(ib, 'long').messages > 0, 60000));
    const r = await srv.stop();
    assert.equal(r.code, 0, `exit code (${srv.log().split('\n').filter((l) => /Sanitizer|ERROR/.test(l)).join('\n')})`);
    stuck.s.destroy();
  } finally {
    await srv.stop();
  }
});
