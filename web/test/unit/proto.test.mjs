import test from 'node:test';
import assert from 'node:assert/strict';
import { proto, seeded } from './helpers.mjs';

test('AvatarAudio round trip and magic bytes', () => {
  const packets = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(200).fill(7)];
  const b = proto.encodeAvatarAudio({ sampleRate: 16000, frameSamples: 320, preSkip: 104, firstPacket: 5, packets, totalSamples: 12345, end: true });
  assert.deepEqual([...b.subarray(0, 5)], [0x0d, 0x41, 0x4b, 0x41, 0x31]);
  assert.ok(proto.isAvatarAudio(b));
  assert.ok(!proto.isAvatarMotion(b));
  const a = proto.decodeAvatarAudio(b);
  assert.equal(a.sampleRate, 16000);
  assert.equal(a.frameSamples, 320);
  assert.equal(a.preSkip, 104);
  assert.equal(a.firstPacket, 5);
  assert.equal(a.totalSamples, 12345);
  assert.equal(a.end, true);
  assert.equal(a.packets.length, 3);
  assert.deepEqual([...a.packets[0]], [1, 2, 3]);
  assert.equal(a.packets[1].length, 0);
  assert.equal(a.packets[2].length, 200);
});

test('AvatarMotion round trip with a 64-bit channel mask', () => {
  // channels 0, 17, 40 and 51 present (51 lives in the high word)
  const lo = (1 << 0) | (1 << 17);
  const hi = (1 << (40 - 32)) | (1 << (51 - 32));
  const weights = new Uint8Array([10, 20, 30, 40, 50, 60, 70, 80]);
  const head = new Uint8Array(12);
  new DataView(head.buffer).setInt16(0, -1234, true);
  const b = proto.encodeAvatarMotion({ fps: 25, firstFrame: 100, frameCount: 2, channelMaskLo: lo, channelMaskHi: hi, weights, head });
  assert.deepEqual([...b.subarray(0, 5)], [0x0d, 0x41, 0x4b, 0x4d, 0x31]);
  const m = proto.decodeAvatarMotion(b);
  assert.equal(m.firstFrame, 100);
  assert.equal(m.frameCount, 2);
  assert.equal(proto.channelCount(m), 4);
  assert.equal(m.channelMaskHi >>> 0, hi >>> 0);
  assert.deepEqual([...m.weights], [...weights]);
});

test('Message envelope: animation with both payloads, errors with negative codes', () => {
  const motion = proto.encodeAvatarMotion({ fps: 25, frameCount: 1, channelMaskLo: 1, weights: new Uint8Array([255]) });
  const audio = proto.encodeAvatarAudio({ packets: [new Uint8Array([9])] });
  const msg = proto.encodeAnimationMessage({ connectionId: 'c1', reqId: 'r1', end: true, motion, audio });
  const d = proto.decodeMessage(msg);
  assert.equal(d.type, proto.MessageType.SERVER_RESPONSE_ANIMATION);
  assert.equal(d.animation.reqId, 'r1');
  assert.equal(d.animation.connectionId, 'c1');
  assert.equal(d.animation.end, true);
  assert.equal(d.animation.motion.frameCount, 1);
  assert.equal(d.animation.audio.packets.length, 1);
  const e = proto.decodeMessage(proto.encodeServerError({ connectionId: 'c', reqId: 'r', code: -7, message: 'no audio input for 10s' }));
  assert.equal(e.serverError.code, -7);
  assert.equal(e.serverError.message, 'no audio input for 10s');
  const cfg = proto.decodeMessage(proto.encodeConfigureSession(44100, 0));
  assert.equal(cfg.type, 1);
  assert.equal(cfg.configureSession.sampleRate, 44100);
  const ai = proto.decodeMessage(proto.encodeAudioInput('req', new Uint8Array([1, 2]), true));
  assert.equal(ai.audioInput.reqId, 'req');
  assert.equal(ai.audioInput.end, true);
  assert.equal(proto.decodeMessage(proto.encodeInterrupt('r9')).interrupt.reqId, 'r9');
});

test('known wire bytes: ClientInterrupt', () => {
  // type=7 (08 07), field 8 len 4 (42 04) { field 1 len 2 "ab" (0a 02 61 62) }
  assert.deepEqual([...proto.encodeInterrupt('ab')], [0x08, 0x07, 0x42, 0x04, 0x0a, 0x02, 0x61, 0x62]);
});

test('unknown fields are skipped, including field 4 of ServerResponseAnimation', () => {
  const w = new proto.ProtoWriter().string(2, 'r').bytes(4, new Uint8Array([1, 2, 3])).uint(77, 5).fixed32(78, 1).fixed64(79, 1, 2);
  const msg = new proto.ProtoWriter().uint(1, 5).message(6, w).uint(99, 1).finish();
  const d = proto.decodeMessage(msg);
  assert.equal(d.animation.reqId, 'r');
  assert.equal(d.animation.motion, undefined);
});

test('inconsistent payloads are refused', () => {
  const bad = [
    proto.encodeAvatarMotion({ fps: 25, frameCount: 2, channelMaskLo: 3, weights: new Uint8Array(3) }), // 2x2 expected
    proto.encodeAvatarMotion({ fps: 0, frameCount: 0 }),
    proto.encodeAvatarMotion({ fps: 25, frameCount: 1, channelMaskHi: 1 << 20, weights: new Uint8Array(1) }), // bit 52
    proto.encodeAvatarMotion({ version: 2, fps: 25 }),
    proto.encodeAvatarMotion({ fps: 25, frameCount: 1, head: new Uint8Array(5) }),
  ];
  for (const b of bad) assert.throws(() => proto.decodeAvatarMotion(b), proto.ProtoError);
  assert.throws(() => proto.decodeAvatarAudio(proto.encodeAvatarAudio({ sampleRate: 44100, packets: [] })), proto.ProtoError);
  assert.throws(() => proto.decodeAvatarAudio(proto.encodeAvatarAudio({ channels: 2, packets: [] })), proto.ProtoError);
  assert.throws(() => proto.decodeAvatarAudio(proto.encodeAvatarMotion({ fps: 25 })), proto.ProtoError);
});

test('every truncation of a valid message fails cleanly', () => {
  const motion = proto.encodeAvatarMotion({ fps: 25, frameCount: 3, channelMaskLo: 7, weights: new Uint8Array(9) });
  const msg = proto.encodeAnimationMessage({ reqId: 'req', motion, audio: proto.encodeAvatarAudio({ packets: [new Uint8Array(10)] }) });
  let threw = 0;
  for (let n = 0; n < msg.length; n++) {
    try {
      proto.decodeMessage(msg.subarray(0, n));
    } catch (e) {
      assert.ok(e instanceof proto.ProtoError, `cut at ${n}: ${e}`);
      threw++;
    }
  }
  assert.ok(threw > msg.length / 2, 'most truncations must be detected');
});

test('random bytes never throw anything but ProtoError', () => {
  const { rnd } = seeded('proto fuzz');
  const base = proto.encodeAnimationMessage({ reqId: 'x', motion: proto.encodeAvatarMotion({ fps: 25, frameCount: 1, channelMaskLo: 1, weights: new Uint8Array(1) }) });
  for (let iter = 0; iter < 3000; iter++) {
    const b = iter % 2 ? new Uint8Array(Math.floor(rnd() * 64)).map(() => Math.floor(rnd() * 256)) : base.slice();
    if (iter % 2 === 0) for (let k = 0; k < 3; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    try {
      proto.decodeMessage(b);
    } catch (e) {
      assert.ok(e instanceof proto.ProtoError, String(e));
    }
  }
});
