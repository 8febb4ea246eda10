// AvatarController on a fake audio clock: conversation-id rules, state sequence, audio/motion
// sync per rendered frame, pause, interrupt, fallback, and the real Opus path (opusscript
// encoder, wasm decoder).
import test from 'node:test';
import assert from 'node:assert/strict';
import OpusScript from 'opusscript';
import { audio, burstPcm, controller, errors, FakeSink, jawMotion, motion, proto } from './helpers.mjs';

const JAW = 17;
const out = new Float32Array(motion.FRAME_STRIDE);

function make(opts = {}) {
  const sink = new FakeSink();
  const c = new controller.AvatarController({ mode: 'host', sampleRate: 16000, sink, recordRenders: true, ...opts });
  const states = [];
  const errs = [];
  c.onConversationState = (s, r) => states.push(`${s}:${r}`);
  c.onError = (e) => errs.push(e);
  return { sink, c, states, errs };
}

/** Advances the fake audio clock in render-sized steps, sampling a pose each step. */
function run(sink, c, seconds, dt = 1 / 60) {
  const steps = Math.round(seconds / dt);
  for (let i = 0; i < steps; i++) {
    sink.advance(dt);
    c.samplePose(out, sink.t);
  }
}

test('host mode: one id per turn, mismatched frames dropped, idle -> playing -> idle', () => {
  const { sink, c, states } = make();
  const pcm = burstPcm(1.0, 16000);
  const id1 = c.yieldAudioData(pcm.subarray(0, 16000), false);
  assert.match(id1, /^\d{14}_/);
  assert.equal(c.yieldAudioData(pcm.subarray(16000), true), id1, 'same turn keeps its id');
  c.yieldFramesData([jawMotion(0, 25, (i) => (i % 10 < 5 ? 1 : 0), { end: true })], id1);
  c.yieldFramesData([jawMotion(0, 25, () => 1)], 'not-a-conversation');
  assert.equal(c.getStats().droppedPayloads, 1);
  assert.equal(c.getCurrentConversationId(), id1);
  run(sink, c, 1.5);
  assert.deepEqual(states, ['playing:playbackStart', 'idle:playbackEnd']);
  // frames arriving after the conversation finished are dropped too
  c.yieldFramesData([jawMotion(0, 1, () => 1)], id1);
  assert.equal(c.getStats().droppedPayloads, 2);
  const id2 = c.yieldAudioData(burstPcm(0.2, 16000), true);
  assert.notEqual(id2, id1);
  c.dispose();
});

test('rendered motion frame stays within one frame of the audio clock, audio is scheduled contiguously', () => {
  const { sink, c } = make();
  const id = c.yieldAudioData(burstPcm(2, 16000), true);
  c.yieldFramesData([jawMotion(0, 50, (i) => (i % 10) / 10, { end: true })], id);
  run(sink, c, 2.6, 1 / 50);
  const recs = c.renders.filter((r) => r.conversationId === id);
  assert.ok(recs.length > 80, `rendered ${recs.length}`);
  for (const r of recs) assert.ok(Math.abs(r.shownFrame - r.clockFrame) <= 1, JSON.stringify(r));
  // the audio was handed to the sink back to back on one timeline
  const s = [...sink.scheduled].sort((a, b) => a.when - b.when);
  let total = 0;
  for (let i = 1; i < s.length; i++) assert.ok(Math.abs(s[i].when - (s[i - 1].when + s[i - 1].n / 16000)) < 1e-6);
  for (const x of s) total += x.n;
  assert.equal(total, 32000);
  c.dispose();
});

test('mouth follows the motion of the audio clock, not arrival: a late burst catches up', () => {
  const { sink, c } = make();
  const id = c.yieldAudioData(burstPcm(2, 16000), true);
  c.yieldFramesData([jawMotion(0, 10, () => 0)], id); // first 0.4 s only
  run(sink, c, 1.0, 1 / 50);
  const held = c.renders.filter((r) => r.held);
  assert.ok(held.length > 10, 'frames beyond 0.4 s were held while missing');
  c.yieldFramesData([jawMotion(10, 40, () => 1, { end: true })], id); // burst of late frames
  c.samplePose(out, sink.t);
  const last = c.renders[c.renders.length - 1];
  assert.equal(last.held, false);
  assert.ok(Math.abs(last.shownFrame - last.clockFrame) <= 1);
  assert.ok(out[JAW] > 0.5, `jaw ${out[JAW]} after catching up`);
  c.dispose();
});

test('pause freezes audio clock and motion; resume continues from the same frame', async () => {
  const { sink, c, states } = make();
  const id = c.yieldAudioData(burstPcm(2, 16000), true);
  c.yieldFramesData([jawMotion(0, 50, (i) => i / 50, { end: true })], id);
  run(sink, c, 0.6);
  c.pause();
  await Promise.resolve();
  const before = c.getStats().mediaTime;
  run(sink, c, 1.0);
  assert.equal(c.getStats().mediaTime, before, 'media time frozen while paused');
  assert.equal(c.conversationState, 'paused');
  c.resume();
  await Promise.resolve();
  run(sink, c, 0.3);
  assert.ok(c.getStats().mediaTime > before + 0.25);
  assert.deepEqual(states.slice(0, 3), ['playing:playbackStart', 'paused:userAction', 'playing:userAction']);
  c.dispose();
});

test('interrupt silences at once and the next rendered frame is back to idle', () => {
  const { sink, c, states } = make();
  const id = c.yieldAudioData(burstPcm(3, 16000), false);
  c.yieldFramesData([jawMotion(0, 75, () => 1)], id);
  run(sink, c, 0.8);
  assert.ok(out[JAW] > 0.9, 'speaking with the jaw open');
  const stopsBefore = sink.stops;
  c.interrupt();
  assert.equal(sink.stops, stopsBefore + 1, 'scheduled audio stopped');
  sink.advance(1 / 60);
  c.samplePose(out, sink.t);
  assert.ok(out[JAW] < 0.1, `jaw ${out[JAW]} one frame after interrupt`);
  assert.equal(c.getCurrentConversationId(), null);
  assert.deepEqual(states, ['playing:playbackStart', 'idle:userAction']);
  // more audio of the interrupted turn with end=false would open a new conversation, frames of the old one are dropped
  c.yieldFramesData([jawMotion(75, 1, () => 1)], id);
  assert.equal(c.getStats().droppedPayloads, 1);
  c.dispose();
});

test('empty frames put the conversation in audio-only fallback; the mouth follows loudness', () => {
  const { sink, c, states } = make();
  const id = c.yieldAudioData(burstPcm(1.6, 16000, 0.8), true);
  c.yieldFramesData([], id);
  const jaws = [];
  for (let i = 0; i < 90; i++) {
    sink.advance(1 / 50);
    c.samplePose(out, sink.t);
    jaws.push({ t: c.getStats().mediaTime, jaw: out[JAW] });
  }
  assert.equal(states[0], 'playing:fallbackMode');
  const on = jaws.filter((x) => x.t > 0.15 && x.t < 0.35).map((x) => x.jaw);
  const off = jaws.filter((x) => x.t > 0.6 && x.t < 0.75).map((x) => x.jaw);
  assert.ok(Math.min(...on) > 0.3, `open during the tone: ${Math.min(...on)}`);
  assert.ok(Math.max(...off) < 0.15, `closed in silence: ${Math.max(...off)}`);
  c.dispose();
});

test('underrun: motion holds while audio is missing and the jitter delay grows', () => {
  const { sink, c } = make({ jitter: { minDelay: 0.05 } });
  const pcm = burstPcm(2, 16000);
  const id = c.yieldAudioData(pcm.subarray(0, 8000), false); // 0.25 s
  c.yieldFramesData([jawMotion(0, 50, (i) => i / 50, { end: true })], id);
  run(sink, c, 0.6, 0.01);
  const stalled = c.getStats().mediaTime;
  assert.ok(stalled <= 0.25 + 1e-6, `media ${stalled} stops at the end of the audio`);
  run(sink, c, 0.3, 0.01);
  assert.equal(c.getStats().mediaTime, stalled);
  const o = new Float32Array(motion.FRAME_STRIDE);
  c.samplePose(o, sink.t);
  assert.ok(o[JAW] < 0.05, `a long stall relaxes the face to idle (jaw ${o[JAW]})`);
  c.yieldAudioData(pcm.subarray(8000), true);
  run(sink, c, 0.5, 0.01);
  assert.equal(c.getStats().underruns, 1);
  assert.ok(c.getStats().mediaTime > stalled + 0.3, 'resumed');
  for (const r of c.renders) assert.ok(Math.abs(r.shownFrame - r.clockFrame) <= 1);
  c.dispose();
});

test('bad input is reported with stable codes and does not break playback', () => {
  const { c, errs } = make();
  c.yieldAudioData(12, false);
  assert.equal(errs.pop().code, errors.ErrorCode.INVALID_ARGUMENT);
  const broken = proto.encodeAvatarAudio({ packets: [] }).slice(0, 7);
  c.yieldAudioData(broken, false);
  assert.equal(errs.pop().code, errors.ErrorCode.MALFORMED_PAYLOAD);
  const id = c.yieldAudioData(burstPcm(0.1, 16000), false);
  c.yieldFramesData([new Uint8Array([0x0d, 0x41, 0x4b, 0x4d, 0x31, 0xff])], id);
  assert.equal(errs.pop().code, errors.ErrorCode.MALFORMED_PAYLOAD);
  c.send(new Uint8Array(2), true);
  assert.equal(errs.pop().code, errors.ErrorCode.INVALID_STATE);
  c.setVolume(0.3);
  assert.equal(c.getVolume(), 0.3);
  c.setVolume(7);
  assert.equal(c.getVolume(), 1);
  c.dispose();
});

/** Encodes PCM as our AvatarAudio payloads with a real Opus encoder. */
function opusPayloads(pcmBytes, perPayload = 5) {
  const enc = new OpusScript(16000, 1, OpusScript.Application.VOIP);
  const preSkip = 104;
  const n = pcmBytes.length / 2;
  const total = Math.ceil((n + preSkip) / 320);
  const padded = new Uint8Array(total * 640);
  padded.set(pcmBytes);
  const packets = [];
  for (let i = 0; i < total; i++) packets.push(new Uint8Array(enc.encode(Buffer.from(padded.subarray(i * 640, (i + 1) * 640)), 320)));
  enc.delete();
  const out = [];
  for (let p = 0; p < total; p += perPayload) {
    const last = p + perPayload >= total;
    out.push(proto.encodeAvatarAudio({ sampleRate: 16000, frameSamples: 320, preSkip, firstPacket: p, packets: packets.slice(p, p + perPayload), totalSamples: last ? n : 0, end: last }));
  }
  return out;
}

test('Opus payloads decode (wasm fallback) to exactly total_samples, loud where the input was loud', async () => {
  const { sink, c } = make({ decoderFactory: audio.wasmDecoderFactory });
  const pcm = burstPcm(1.0, 16000, 0.5); // tone 0..0.25, silence 0.25..0.5, ...
  const payloads = opusPayloads(pcm);
  let id;
  for (const p of payloads) id = c.yieldAudioData(p, false);
  // duplicates (the same packets again inside Messages) are ignored
  c.yieldFramesData([proto.encodeAnimationMessage({ reqId: 'x', audio: payloads[0], motion: jawMotion(0, 25, () => 0.5, { end: true }) })], id);
  for (let i = 0; i < 50 && c.getStats().decodedPackets < 51; i++) await new Promise((r) => setTimeout(r, 10));
  run(sink, c, 1.3, 0.01);
  const s = [...sink.scheduled].sort((a, b) => a.when - b.when);
  const samples = s.reduce((a, x) => a + x.n, 0);
  assert.equal(samples, 16000, 'pre-skip dropped and tail cut to total_samples');
  const all = new Float32Array(samples);
  let o = 0;
  for (const x of s) { all.set(x.pcm, o); o += x.n; }
  const rms = (a, b) => Math.sqrt(all.subarray(a, b).reduce((q, v) => q + v * v, 0) / (b - a));
  assert.ok(rms(800, 3200) > 0.1, `tone loud after decode: ${rms(800, 3200)}`);
  assert.ok(rms(5000, 7200) < 0.02, `silence quiet after decode: ${rms(5000, 7200)}`);
  assert.equal(c.conversationState, 'idle');
  c.dispose();
});

test('idle blinks continue during speech only when the motion has no blink channel', () => {
  const maxBlink = (withBlinkChannel) => {
    const { sink, c } = make();
    const id = c.yieldAudioData(burstPcm(8, 16000), true);
    const n = 200;
    const lo = (1 << 17) | (withBlinkChannel ? 1 : 0);
    const weights = new Uint8Array(n * (withBlinkChannel ? 2 : 1)).fill(0);
    c.yieldFramesData([proto.encodeAvatarMotion({ fps: 25, frameCount: n, channelMaskLo: lo, weights, end: true })], id);
    let m = 0;
    for (let i = 0; i < 7.5 * 50; i++) {
      sink.advance(0.02);
      c.samplePose(out, sink.t);
      if (c.conversationState === 'playing' && sink.t > 0.5) m = Math.max(m, out[0]);
    }
    c.dispose();
    return m;
  };
  assert.ok(maxBlink(false) > 0.5, 'idle blinks while the server sends no blinks');
  assert.ok(maxBlink(true) < 0.05, 'the server owns blinking when it sends the channel');
});

test('yieldMessage: relayed Messages play once by req_id, interrupted requests stay dropped, typed events', async () => {
  const { sink, c, errs } = make({ decoderFactory: audio.wasmDecoderFactory });
  const events = [];
  c.addEventListener('conversationstate', (e) => {
    assert.ok(e instanceof Event && e.type === 'conversationstate');
    events.push(`${e.state}:${e.reason}:${e.conversationId}`);
  });
  const errEvents = [];
  c.addEventListener('error', (e) => errEvents.push(e.code));
  const messages = (reqId, seconds) => {
    const audioPayloads = opusPayloads(burstPcm(seconds, 16000, 0.5));
    const frames = Math.round(seconds * 25);
    return audioPayloads.map((a, i) => proto.encodeAnimationMessage({
      reqId, audio: a, end: i === audioPayloads.length - 1,
      motion: i === 0 ? jawMotion(0, frames, (k) => (k % 10 < 5 ? 1 : 0), { end: true }) : undefined,
    }));
  };
  const r1 = messages('req-one', 1.0);
  assert.deepEqual(r1.map((m) => c.yieldMessage(m)), r1.map(() => 'req-one'), 'the conversation id is the req_id');
  assert.equal(c.getStats().queued, 1);
  for (let i = 0; i < 100 && c.getStats().decodedPackets < 51; i++) await new Promise((r) => setTimeout(r, 10));
  run(sink, c, 1.4, 0.01);
  assert.deepEqual(events, ['playing:playbackStart:req-one', 'idle:playbackEnd:req-one']);
  assert.equal(sink.scheduled.reduce((a, x) => a + x.n, 0), 16000, 'every sample once: the audio came in the Messages only');
  // a late duplicate of a finished request does not reopen it
  assert.equal(c.yieldMessage(r1[0]), 'req-one');
  assert.equal(c.getStats().queued, 0);
  assert.equal(c.getStats().droppedPayloads, 1);

  // interrupt mid-request: the rest of that request is dropped
  const r2 = messages('req-two', 1.0);
  for (const m of r2.slice(0, 3)) c.yieldMessage(m);
  assert.equal(c.getStats().queued, 1);
  c.interrupt();
  for (const m of r2.slice(3)) c.yieldMessage(m);
  assert.equal(c.getStats().queued, 0, 'nothing of the interrupted request comes back');
  assert.equal(c.getStats().droppedPayloads, 1 + r2.length - 3);

  // bytes that are not a Message, and a server error: stable codes through events and onError
  assert.equal(c.yieldMessage(new Uint8Array([0x0a, 0xff])), null);
  assert.equal(c.yieldMessage(proto.encodeServerError({ connectionId: 'c', reqId: 'req-3', code: 5, message: 'avatar not found' })), 'req-3');
  assert.deepEqual(errEvents, ['AK_EPROTO', 'AKS_AVATAR_NOT_FOUND']);
  assert.deepEqual(errs.map((e) => e.code), errEvents, 'the onError shorthand sees the same errors');
  c.dispose();
});

test('audiostart fires once per conversation with the first sample\'s time on the audio clock', () => {
  const { sink, c, states } = make();
  const starts = [];
  c.addEventListener('audiostart', (e) => starts.push({ id: e.conversationId, when: e.contextTime, perf: e.performanceTime, state: states.at(-1) }));
  const id = c.yieldAudioData(burstPcm(0.6, 16000), true);
  c.yieldFramesData([jawMotion(0, 15, () => 1, { end: true })], id);
  run(sink, c, 1.0);
  const first = [...sink.scheduled].sort((a, b) => a.when - b.when)[0];
  assert.equal(starts.length, 1, JSON.stringify(starts));
  assert.equal(starts[0].id, id);
  assert.equal(starts[0].when, first.when, 'the first scheduled sample');
  assert.ok(Number.isFinite(starts[0].perf), 'a performance.now() time (estimated without getOutputTimestamp)');
  assert.equal(starts[0].state, 'playing:playbackStart', 'after the conversation started playing');
  const id2 = c.yieldAudioData(burstPcm(0.3, 16000), true);
  c.yieldFramesData([jawMotion(0, 8, () => 1, { end: true })], id2);
  run(sink, c, 0.6);
  assert.deepEqual(starts.map((x) => x.id), [id, id2], 'one per conversation');
  c.dispose();
});

test('endConversation (host mode): a started answer plays what it has and ends with the reason; an unstarted one is dropped', async () => {
  const { sink, c, states, errs } = make({ decoderFactory: audio.wasmDecoderFactory });
  const msgs = (reqId, seconds, last) => opusPayloads(burstPcm(seconds, 16000, 0.5)).map((a, i, all) => proto.encodeAnimationMessage({
    reqId, audio: a, end: last && i === all.length - 1,
    motion: i === 0 ? jawMotion(0, Math.round(seconds * 25), () => 1) : undefined,
  }));
  // started: 0.6 s received of a longer answer (no end), then the stream is cut
  const m1 = msgs('req-cut', 0.6, false);
  for (const m of m1) c.yieldMessage(m);
  for (let i = 0; i < 100 && c.getStats().decodedPackets < m1.length; i++) await new Promise((r) => setTimeout(r, 10));
  run(sink, c, 0.3, 0.01);
  assert.deepEqual(states, ['playing:playbackStart']);
  assert.equal(c.endConversation('req-cut', 'serverError'), true);
  // later payloads of it are dropped, not played
  const dropped = c.getStats().droppedPayloads;
  c.yieldMessage(msgs('req-cut', 0.2, true)[0]);
  assert.equal(c.getStats().droppedPayloads, dropped + 1);
  run(sink, c, 0.3, 0.01);
  assert.deepEqual(states, ['playing:playbackStart'], 'what was received still plays');
  run(sink, c, 0.5, 0.01);
  assert.deepEqual(states, ['playing:playbackStart', 'idle:serverError'], 'then it ends with the reason');
  assert.ok(Math.abs(sink.scheduled.reduce((a, x) => a + x.n, 0) - 0.6 * 16000) < 400, 'all received audio was played');
  // not started: dropped at once, no state change; unknown ids and bad reasons refused
  c.yieldMessage(msgs('req-early', 0.04, false)[0]);
  assert.equal(c.getStats().queued, 1);
  assert.equal(c.endConversation('req-early'), true);
  assert.equal(c.getStats().queued, 0);
  run(sink, c, 0.5, 0.01);
  assert.deepEqual(states, ['playing:playbackStart', 'idle:serverError'], 'a cut answer never starts late');
  assert.equal(c.endConversation('req-early'), false, 'already ended');
  assert.equal(c.endConversation('nope'), false);
  c.yieldMessage(msgs('req-x', 0.04, false)[0]);
  assert.equal(c.endConversation('req-x', 'bogus'), false);
  assert.equal(errs.at(-1).code, 'AK_EINVAL');
  c.dispose();
});

test('sdk mode: each server close code becomes its documented error and connection state', async () => {
  /** A socket the test drives by hand. */
  function fakeSocket() {
    const s = { binaryType: '', readyState: 0, sent: [], send(d) { this.sent.push(d); }, close() {}, onopen: null, onclose: null, onerror: null, onmessage: null };
    return s;
  }
  const cases = [
    // [close code, confirmed first, expected error code or null, expected final connection state]
    [1000, true, null, 'disconnected'],
    [1001, true, 'AKS_CONNECTION_CLOSED', 'failed'],
    [1002, true, 'AK_EPROTO', 'failed'],
    [1007, true, 'AK_EINVAL', 'failed'],
    [1008, false, 'AKS_INVALID_REQUEST', 'failed'],
    [1009, true, 'AK_ETOOBIG', 'failed'],
    [1011, true, 'AKS_SERVER_ERROR', 'failed'],
    [4010, true, 'AKS_SESSION_TOKEN_EXPIRED', 'failed'],
    [1006, true, 'AKS_CONNECTION_CLOSED', 'failed'],
    [1006, false, 'AKS_CONNECTION_FAILED', 'failed'],
    [4001, false, 'AKS_CONNECTION_FAILED', 'failed'], // never sent by the server: no special meaning
  ];
  for (const [code, confirmed, want, state] of cases) {
    let sock = null;
    const { c } = make({ mode: 'sdk', serverUrl: 'http://127.0.0.1:1', socketFactory: () => (sock = fakeSocket()) });
    const errs = [];
    const conn = [];
    c.addEventListener('error', (e) => errs.push(e.code));
    c.addEventListener('connectionstate', (e) => conn.push(e.state));
    const started = c.start().then(() => 'ok', () => 'rejected');
    sock.readyState = 1;
    sock.onopen({});
    assert.equal(proto.decodeMessage(sock.sent[0]).type, proto.MessageType.CLIENT_CONFIGURE_SESSION);
    if (confirmed) sock.onmessage({ data: proto.encodeConfirmSession('conn-1').buffer });
    sock.onclose({ code, reason: '' });
    assert.equal(await started, confirmed ? 'ok' : 'rejected');
    assert.deepEqual(errs, want ? [want] : [], `close ${code} (confirmed ${confirmed})`);
    assert.equal(conn.at(-1), state, `close ${code}: connection ${state}`);
    c.dispose();
  }
});
