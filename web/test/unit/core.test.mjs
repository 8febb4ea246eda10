// Motion track sampling, jitter sizing, the audio clock mapping, ARKit names and the
// conversation id / state machines.
import test from 'node:test';
import assert from 'node:assert/strict';
import { arkit, clock, conversation, jitter, motion, proto, seeded } from './helpers.mjs';

const { MotionTrack, FRAME_STRIDE } = motion;
const jaw = arkit.ARKIT.jawOpen;

function track(frames, { fps = 25, first = 0, end = false } = {}) {
  const t = new MotionTrack();
  const w = new Uint8Array(frames.length);
  frames.forEach((v, i) => (w[i] = Math.round(v * 255)));
  t.add(proto.decodeAvatarMotion(proto.encodeAvatarMotion({ fps, firstFrame: first, frameCount: frames.length, channelMaskLo: 1 << jaw, weights: w, end })));
  return t;
}

test('ARKit name normalisation accepts the spellings met in assets', () => {
  const cases = {
    eyeBlinkLeft: 0, eyeBlink_L: 0, EyeBlinkLeft: 0, 'blendShape1.eyeBlinkLeft': 0, EYEBLINKLEFT: 0,
    mouthUpperUp_R: 40, jawOpen: 17, JawOpen: 17, 'Head:jawOpen': 17, tongueOut: 51, browInnerUp: 43,
    mouthSmile_L: 23, cheekSquint_R: 48, viseme_aa: -1, nonsense: -1, '': -1,
  };
  for (const [name, idx] of Object.entries(cases)) assert.equal(arkit.arkitIndex(name), idx, name);
  assert.equal(arkit.ARKIT_NAMES.length, 52);
  assert.equal(new Set(arkit.ARKIT_NAMES).size, 52);
  arkit.ARKIT_NAMES.forEach((n, i) => assert.equal(arkit.arkitIndex(n), i));
});

test('motion frames expand to the right channels and head radians', () => {
  const head = new Uint8Array(6);
  const dv = new DataView(head.buffer);
  dv.setInt16(0, 1000, true); dv.setInt16(2, -2000, true); dv.setInt16(4, 30, true);
  const m = proto.decodeAvatarMotion(proto.encodeAvatarMotion({ fps: 30, frameCount: 1, channelMaskLo: (1 << 3) | (1 << 17), channelMaskHi: 1 << 19, weights: new Uint8Array([51, 255, 102]), head }));
  const [f] = motion.expandMotion(m);
  assert.equal(f.length, FRAME_STRIDE);
  assert.ok(Math.abs(f[3] - 0.2) < 1e-6);
  assert.equal(f[17], 1);
  assert.ok(Math.abs(f[51] - 0.4) < 1e-6);
  assert.equal(f[0], 0);
  assert.ok(Math.abs(f[52] - 0.1) < 1e-6);
  assert.ok(Math.abs(f[53] + 0.2) < 1e-6);
  assert.ok(Math.abs(f[54] - 0.003) < 1e-6);
});

test('sampling interpolates between frame centres and clamps at the ends', () => {
  const t = track([0, 1, 0.5], { end: true });
  const out = new Float32Array(FRAME_STRIDE);
  t.sample(0.02, out); // centre of frame 0
  assert.ok(Math.abs(out[jaw]) < 1e-6);
  let r = t.sample(0.04, out); // half way between centres of 0 and 1
  assert.ok(Math.abs(out[jaw] - 0.5) < 0.01);
  assert.equal(r.held, false);
  t.sample(0.06, out);
  assert.ok(Math.abs(out[jaw] - 1) < 1e-6);
  r = t.sample(5, out); // beyond the end: last frame, not held
  assert.ok(Math.abs(out[jaw] - 0.5) < 0.01);
  assert.equal(r.frame, 2);
  assert.equal(r.held, false);
  t.sample(-1, out);
  assert.ok(Math.abs(out[jaw]) < 1e-6);
});

test('late frames are held, and sampling catches up when they arrive', () => {
  const t = track([0.2, 0.4]);
  const out = new Float32Array(FRAME_STRIDE);
  let r = t.sample(0.3, out); // frame 7 wanted, only 0..1 known
  assert.equal(r.held, true);
  assert.equal(r.frame, 1);
  assert.ok(Math.abs(out[jaw] - 0.4) < 0.01);
  // a burst of late frames arrives: sampling jumps straight to the clock's frame
  const w = new Uint8Array(10).fill(255);
  t.add(proto.decodeAvatarMotion(proto.encodeAvatarMotion({ fps: 25, firstFrame: 2, frameCount: 10, channelMaskLo: 1 << jaw, weights: w })));
  r = t.sample(0.3, out);
  assert.equal(r.held, false);
  assert.equal(r.frame, 7);
  assert.equal(t.contiguous, 12);
  assert.ok(Math.abs(out[jaw] - 1) < 1e-6);
});

test('the track remembers which channels its payloads carried', () => {
  const t = track([0.5]);
  assert.ok(t.hasChannel(jaw));
  assert.ok(!t.hasChannel(0));
  assert.ok(!t.hasChannel(51));
});

test('frames already shown can be trimmed without changing what is sampled now', () => {
  const t = track(Array.from({ length: 200 }, (_, i) => (i % 2 ? 1 : 0)));
  const out = new Float32Array(FRAME_STRIDE);
  t.trimBefore(150);
  assert.equal(t.frameCountStored, 50);
  const r = t.sample(180.5 / 25, out);
  assert.equal(r.frame, 180);
  assert.equal(r.held, false);
  t.trimBefore(150); // idempotent
  assert.equal(t.frameCountStored, 50);
});

test('a gap in the middle holds the newest frame before it', () => {
  const t = new MotionTrack();
  const enc = (first, n, v) => proto.decodeAvatarMotion(proto.encodeAvatarMotion({ fps: 25, firstFrame: first, frameCount: n, channelMaskLo: 1 << jaw, weights: new Uint8Array(n).fill(v) }));
  t.add(enc(0, 5, 10));
  t.add(enc(10, 5, 200));
  const out = new Float32Array(FRAME_STRIDE);
  const r = t.sample(8 / 25 + 0.02, out);
  assert.equal(r.frame, 4);
  assert.equal(r.held, true);
  assert.equal(t.contiguous, 5);
  assert.throws(() => t.add(proto.decodeAvatarMotion(proto.encodeAvatarMotion({ fps: 30, frameCount: 0 }))), /fps/);
});

test('jitter: bursty delivery keeps the minimum delay', () => {
  const j = new jitter.JitterEstimator({ minDelay: 0.08 });
  j.beginStream();
  for (let i = 0; i < 100; i++) j.arrival(1 + i * 0.002, i * 0.04); // 20x faster than real time
  assert.equal(j.targetDelay(), 0.08);
});

test('jitter: real-time delivery with random lateness covers the 95th percentile', () => {
  const { rnd } = seeded('jitter');
  const j = new jitter.JitterEstimator({ minDelay: 0.05, maxDelay: 2 });
  j.beginStream();
  j.arrival(0, 0);
  const lates = [];
  for (let i = 1; i < 120; i++) {
    const late = rnd() * 0.3; // 0..300 ms late
    lates.push(late);
    j.arrival(i * 0.04 + late, i * 0.04);
  }
  lates.sort((a, b) => a - b);
  const p95 = lates[Math.floor(0.95 * (lates.length - 1))];
  const d = j.targetDelay();
  assert.ok(d >= p95 && d <= p95 + 0.1, `delay ${d} vs p95 ${p95}`);
  // and an underrun pushes it up at once, relax() lets it come down
  const before = d;
  j.underrun(0.2);
  assert.ok(j.targetDelay() >= before + 0.19);
  const grown = j.targetDelay();
  j.underrun(5); // a very long stall grows the delay by a bounded step only
  assert.ok(j.targetDelay() <= grown + 0.25 + 1e-9);
  for (let i = 0; i < 20; i++) j.relax();
  assert.ok(Math.abs(j.targetDelay() - before) < 1e-9);
});

test('jitter: a late first arrival does not hide the lateness of the rest', () => {
  const { rnd } = seeded('jitter-first');
  const j = new jitter.JitterEstimator({ minDelay: 0.05, maxDelay: 2 });
  j.beginStream();
  j.arrival(0.25, 0); // the first payload is 250 ms late
  const lates = [];
  for (let i = 1; i < 120; i++) {
    const late = rnd() * 0.2;
    lates.push(late);
    j.arrival(i * 0.04 + late, i * 0.04);
  }
  lates.sort((a, b) => a - b);
  const p95 = lates[Math.floor(0.95 * (lates.length - 1))];
  // measured against the first arrival every later payload would look early (delay 0.05)
  assert.ok(j.targetDelay() >= p95 - 0.02, `delay ${j.targetDelay()} vs p95 ${p95}`);
});

test('jitter: each conversation is measured on its own timeline', () => {
  const j = new jitter.JitterEstimator({ minDelay: 0.05 });
  j.beginStream();
  for (let i = 0; i < 50; i++) j.arrival(i * 0.04, i * 0.04);
  j.beginStream(); // the next conversation starts at media 0 ten seconds later
  for (let i = 0; i < 50; i++) j.arrival(10 + i * 0.04, i * 0.04);
  assert.equal(j.targetDelay(), 0.05);
  j.arrival(Number.NaN, 0); // a bad stamp is ignored
  assert.equal(j.targetDelay(), 0.05);
});

test('jitter: delay is capped', () => {
  const j = new jitter.JitterEstimator({ maxDelay: 0.5 });
  j.beginStream();
  j.arrival(0, 0);
  for (let i = 1; i < 20; i++) j.arrival(i * 10, i * 0.04);
  assert.equal(j.targetDelay(), 0.5);
});

test('play clock: linear, holds at the scheduled end, rebuffer anchors', () => {
  const c = new clock.PlayClock();
  c.start(10, 0);
  c.scheduledUntil = 1;
  assert.ok(Math.abs(c.mediaAt(10.5) - 0.5) < 1e-9);
  assert.ok(c.mediaAt(9.9) < 0);
  assert.equal(c.mediaAt(12), 1, 'audio ran out: media time holds');
  assert.equal(c.ctxFor(0.75), 10.75);
  c.rebuffer(13, 1); // resumed after 2 s of gap
  c.scheduledUntil = 2;
  assert.equal(c.mediaAt(12.5), 1);
  assert.ok(Math.abs(c.mediaAt(13.25) - 1.25) < 1e-9);
  assert.equal(c.ctxFor(1.5), 13.5);
});

test('conversation ids: server-shaped, new after end, only live ids accepted', () => {
  const id = conversation.newConversationId(new Date(Date.UTC(2025, 0, 2, 3, 4, 5)));
  assert.match(id, /^20250102030405_[A-Za-z0-9_-]{12}$/);
  let n = 0;
  const ids = new conversation.ConversationIds(() => `c${++n}`);
  assert.equal(ids.current(), null);
  const a = ids.forAudio(false);
  assert.deepEqual(a, { id: 'c1', isNew: true });
  assert.deepEqual(ids.forAudio(false), { id: 'c1', isNew: false });
  assert.deepEqual(ids.forAudio(true), { id: 'c1', isNew: false });
  assert.deepEqual(ids.forAudio(false), { id: 'c2', isNew: true });
  assert.ok(ids.accepts('c1') && ids.accepts('c2'));
  assert.ok(!ids.accepts('c3'));
  ids.finish('c1');
  assert.ok(!ids.accepts('c1'));
  assert.equal(ids.current(), 'c2');
  assert.deepEqual(ids.finishAll(), ['c2']);
  assert.ok(!ids.accepts('c2'));
  assert.equal(ids.current(), null);
});

test('state machine: legal transitions only, each with its reason', () => {
  const seen = [];
  const m = new conversation.ConversationStateMachine((s, r) => seen.push(`${s}:${r}`));
  assert.equal(m.pause(), false);
  assert.equal(m.resume(), false);
  assert.equal(m.stop('playbackEnd'), false);
  assert.equal(m.play(), true);
  assert.equal(m.play(), false);
  assert.equal(m.pause(), true);
  assert.equal(m.pause(), false);
  assert.equal(m.resume(), true);
  assert.equal(m.play('fallbackMode'), true);
  assert.equal(m.stop('networkError'), true);
  assert.equal(m.stop('userAction'), false);
  assert.equal(m.play('fallbackMode'), true);
  assert.equal(m.stop('serverError'), true);
  assert.deepEqual(seen, [
    'playing:playbackStart', 'paused:userAction', 'playing:userAction', 'playing:fallbackMode',
    'idle:networkError', 'playing:fallbackMode', 'idle:serverError',
  ]);
});
