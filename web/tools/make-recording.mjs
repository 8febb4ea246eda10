// Writes a recording (avatarkit-recording v1 JSON) of a synthetic Motion Server session:
// Opus audio (real encoder, 16 kHz, 20 ms, pre-skip 104) and motion at 25 fps, chunked into
// SERVER_RESPONSE_ANIMATION messages the way the server streams them. Deterministic.
//   --kind speech  formant-synthesised syllables, motion from the known vowel timing
//   --kind sync    tone bursts (0.4 s on / 0.4 s off) with jawOpen exactly on during tones
//   --out FILE     (default: stdout)
import OpusScript from 'opusscript';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { load, transpile } from './transpile.mjs';

await transpile();
const proto = await load('proto');
const { prng } = await load('idle');

const RATE = 16000, FRAME = 320, PRE_SKIP = 104, FPS = 25;
const SPF = RATE / FPS; // samples per motion frame (640)
const ARK = Object.fromEntries((await load('arkit')).ARKIT_NAMES.map((n, i) => [n, i]));

const VOWELS = {
  a: { f: [800, 1200, 2500], open: 0.75, funnel: 0.05, smile: 0.1, stretch: 0.15 },
  e: { f: [500, 1800, 2500], open: 0.45, funnel: 0, smile: 0.35, stretch: 0.3 },
  i: { f: [300, 2200, 2900], open: 0.22, funnel: 0, smile: 0.55, stretch: 0.35 },
  o: { f: [500, 900, 2400], open: 0.5, funnel: 0.6, smile: 0, stretch: 0 },
  u: { f: [350, 800, 2300], open: 0.25, funnel: 0.45, pucker: 0.6, smile: 0, stretch: 0 },
};

function resonate(x, f, bw) {
  const r = Math.exp(-Math.PI * bw / RATE), th = 2 * Math.PI * f / RATE;
  const a1 = 2 * r * Math.cos(th), a2 = -r * r, g = 1 - r;
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = g * x[i] + a1 * (y[i - 1] ?? 0) + a2 * (y[i - 2] ?? 0);
  return y;
}

/** Syllable plan and audio for `seconds` of speech-like sound. */
function speech(seconds, seed) {
  const rnd = prng(seed);
  const n = Math.round(seconds * RATE);
  const audio = new Float32Array(n);
  const plan = [];
  let t = 0.35; // starts with a short silence
  const keys = Object.keys(VOWELS);
  while (t < seconds - 0.5) {
    const words = 2 + Math.floor(rnd() * 4);
    for (let w = 0; w < words && t < seconds - 0.5; w++) {
      const syl = 1 + Math.floor(rnd() * 3);
      for (let s = 0; s < syl; s++) {
        const v = keys[Math.floor(rnd() * keys.length)];
        const dur = 0.12 + rnd() * 0.14;
        const lips = rnd() < 0.3; // a bilabial onset (m/b/p): lips closed before the vowel
        plan.push({ v, start: t, dur, lips, stress: s === 0 && rnd() < 0.5 });
        t += dur + 0.03 + rnd() * 0.05;
      }
      t += 0.06 + rnd() * 0.12;
    }
    t += 0.35 + rnd() * 0.4; // phrase pause
  }
  for (const p of plan) {
    const V = VOWELS[p.v];
    const a = Math.round(p.start * RATE), len = Math.round(p.dur * RATE);
    const src = new Float32Array(len);
    const f0 = 125 + (p.stress ? 35 : 0) + 15 * Math.sin(p.start * 3);
    let ph = 0;
    for (let i = 0; i < len; i++) {
      ph += (f0 * (1 - 0.1 * i / len)) / RATE;
      if (ph >= 1) { ph -= 1; src[i] = 1; }
    }
    let y = new Float32Array(len);
    for (const [k, f] of V.f.entries()) {
      const r = resonate(src, f, 80 + 40 * k);
      for (let i = 0; i < len; i++) y[i] += r[i] * [1, 0.6, 0.3][k];
    }
    let peak = 0;
    for (const v of y) peak = Math.max(peak, Math.abs(v));
    for (let i = 0; i < len; i++) {
      const env = Math.min(1, i / (0.02 * RATE), (len - i) / (0.03 * RATE));
      if (a + i < n) audio[a + i] += (y[i] / (peak || 1)) * 0.45 * env * (p.stress ? 1 : 0.8);
    }
  }
  return { audio, plan };
}

function speechMotion(plan, frames, seed) {
  const rnd = prng(seed + 1);
  const W = [];
  for (let f = 0; f < frames; f++) W.push(new Float32Array(52));
  const head = [];
  for (const p of plan) {
    const V = VOWELS[p.v];
    for (let f = Math.floor((p.start - 0.12) * FPS); f <= Math.ceil((p.start + p.dur + 0.1) * FPS); f++) {
      if (f < 0 || f >= frames) continue;
      const tc = (f + 0.5) / FPS;
      // attack/decay around the vowel; lips close just before a bilabial onset
      const x = (tc - p.start) / p.dur;
      const env = x < 0 ? Math.max(0, 1 + x * p.dur / 0.08) : x > 1 ? Math.max(0, 1 - (x - 1) * p.dur / 0.08) : 1;
      const w = W[f];
      const open = V.open * env * (p.stress ? 1 : 0.85);
      w[ARK.jawOpen] = Math.max(w[ARK.jawOpen], open);
      w[ARK.mouthFunnel] = Math.max(w[ARK.mouthFunnel], V.funnel * env);
      w[ARK.mouthPucker] = Math.max(w[ARK.mouthPucker], (V.pucker ?? 0) * env);
      w[ARK.mouthSmileLeft] = w[ARK.mouthSmileRight] = Math.max(w[ARK.mouthSmileLeft], V.smile * env);
      w[ARK.mouthStretchLeft] = w[ARK.mouthStretchRight] = Math.max(w[ARK.mouthStretchLeft], V.stretch * env);
      w[ARK.mouthLowerDownLeft] = w[ARK.mouthLowerDownRight] = Math.max(w[ARK.mouthLowerDownLeft], open * 0.35);
      w[ARK.mouthUpperUpLeft] = w[ARK.mouthUpperUpRight] = Math.max(w[ARK.mouthUpperUpLeft], open * 0.2);
      if (p.lips && tc < p.start + 0.02 && tc > p.start - 0.1) {
        w[ARK.mouthClose] = Math.max(w[ARK.mouthClose], w[ARK.jawOpen]);
        w[ARK.mouthPressLeft] = w[ARK.mouthPressRight] = 0.4;
      }
      if (p.stress) w[ARK.browInnerUp] = Math.max(w[ARK.browInnerUp], 0.35 * env);
    }
  }
  // blinks, gaze and head motion so the recorded session looks alive on its own
  let nextBlink = 1 + rnd() * 2;
  for (let f = 0; f < frames; f++) {
    const t = f / FPS;
    if (t >= nextBlink) {
      for (let k = 0; k < 5 && f + k < frames; k++) W[f + k][ARK.eyeBlinkLeft] = W[f + k][ARK.eyeBlinkRight] = [0.4, 1, 1, 0.6, 0.2][k];
      nextBlink = t + 2.5 + rnd() * 3;
    }
    W[f][ARK.mouthSmileLeft] = Math.max(W[f][ARK.mouthSmileLeft], 0.15);
    W[f][ARK.mouthSmileRight] = Math.max(W[f][ARK.mouthSmileRight], 0.15);
    head.push([0.03 * Math.sin(t * 1.7) + 0.015 * Math.sin(t * 4.1), 0.05 * Math.sin(t * 0.9), 0.02 * Math.sin(t * 1.3)]);
  }
  return { W, head };
}

function tones(seconds) {
  const n = Math.round(seconds * RATE);
  const audio = new Float32Array(n);
  const on = (t) => t >= 0.4 && (t - 0.4) % 0.8 < 0.4 && t < seconds - 0.2;
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    if (on(t)) audio[i] = 0.35 * (Math.sin(2 * Math.PI * 220 * t) + 0.4 * Math.sin(2 * Math.PI * 440 * t));
  }
  const frames = Math.ceil(n / SPF);
  const W = [], head = [];
  for (let f = 0; f < frames; f++) {
    const w = new Float32Array(52);
    w[ARK.jawOpen] = on((f + 0.5) / FPS) ? 0.85 : 0;
    W.push(w);
    head.push([0, 0, 0]);
  }
  return { audio, W, head };
}

function encodeOpus(audio) {
  const enc = new OpusScript(RATE, 1, OpusScript.Application.VOIP);
  enc.setBitrate(24000);
  const total = Math.ceil((audio.length + PRE_SKIP) / FRAME);
  const pcm = new Int16Array(total * FRAME);
  for (let i = 0; i < audio.length; i++) pcm[i] = Math.max(-32767, Math.min(32767, Math.round(audio[i] * 32767)));
  const packets = [];
  for (let i = 0; i < total; i++) packets.push(new Uint8Array(enc.encode(Buffer.from(pcm.buffer, i * FRAME * 2, FRAME * 2), FRAME)));
  enc.delete();
  return packets;
}

/** Chunks a request into messages: every 40 ms one motion frame and two audio packets. */
function messages(reqId, audio, W, head) {
  const packets = encodeOpus(audio);
  const frames = W.length;
  const msgs = [];
  const n = Math.max(frames, Math.ceil(packets.length / 2));
  const channels = [];
  for (let k = 0; k < 52; k++) if (W.some((w) => w[k] > 0)) channels.push(k);
  let lo = 0, hi = 0;
  for (const k of channels) k < 32 ? (lo |= 1 << k) : (hi |= 1 << (k - 32));
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    let motion, aud;
    if (i < frames) {
      const weights = new Uint8Array(channels.length);
      channels.forEach((k, c) => (weights[c] = Math.round(Math.min(1, Math.max(0, W[i][k])) * 255)));
      const hb = new Uint8Array(6);
      const dv = new DataView(hb.buffer);
      head[i].forEach((v, c) => dv.setInt16(c * 2, Math.round(v * 1e4), true));
      motion = proto.encodeAvatarMotion({ fps: FPS, firstFrame: i, frameCount: 1, channelMaskLo: lo >>> 0, channelMaskHi: hi, weights, head: hb, end: last || i === frames - 1 });
    }
    const pk = packets.slice(2 * i, 2 * i + 2);
    if (pk.length) {
      const aend = 2 * i + 2 >= packets.length;
      aud = proto.encodeAvatarAudio({ sampleRate: RATE, frameSamples: FRAME, preSkip: PRE_SKIP, firstPacket: 2 * i, packets: pk, totalSamples: aend ? audio.length : 0, end: aend });
    }
    msgs.push(Buffer.from(proto.encodeAnimationMessage({ connectionId: 'recording', reqId, end: last, motion, audio: aud })).toString('base64'));
  }
  return msgs;
}

export function makeRecording(kind = 'speech') {
  const requests = [];
  if (kind === 'sync') {
    const { audio, W, head } = tones(4.4);
    requests.push({ reqId: '20250101000000_syncsyncsync', messages: messages('20250101000000_syncsyncsync', audio, W, head) });
  } else {
    for (const [k, secs] of [[0, 6.5], [1, 4.5]]) {
      const { audio, plan } = speech(secs, 11 + k);
      const { W, head } = speechMotion(plan, Math.ceil(audio.length / SPF), 11 + k);
      const id = `20250101000000_synthspeech${k}`;
      requests.push({ reqId: id, messages: messages(id, audio, W, head) });
    }
  }
  return { format: 'avatarkit-recording', version: 1, appId: 'demo', avatarId: 'default', inputSampleRate: RATE, fps: FPS, synthetic: true, kind, requests };
}

const argv = process.argv.slice(2);
const opt = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
if (import.meta.url.endsWith('make-recording.mjs') && process.argv[1]?.endsWith('make-recording.mjs')) {
  const rec = makeRecording(opt('--kind', 'speech'));
  const json = JSON.stringify(rec);
  const out = opt('--out');
  if (out) {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, json);
    console.log(`wrote ${out}: ${rec.requests.length} request(s), ${rec.requests.reduce((a, r) => a + r.messages.length, 0)} messages, ${(json.length / 1024).toFixed(0)} KiB`);
  } else process.stdout.write(json);
}
