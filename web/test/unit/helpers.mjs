// Shared helpers for unit tests: transpiled SDK modules, a fake audio sink with a manual
// clock, and a seeded PRNG whose seed every randomized test prints.
import { load, transpile } from '../../tools/transpile.mjs';

await transpile();
export const proto = await load('proto');
export const arkit = await load('arkit');
export const motion = await load('motion');
export const jitter = await load('jitter');
export const clock = await load('clock');
export const conversation = await load('conversation');
export const audiotrack = await load('audiotrack');
export const audio = await load('audio');
export const controller = await load('controller');
export const idle = await load('idle');
export const errors = await load('errors');
export const transport = await load('transport');

export class FakeSink {
  t = 0;
  paused = false;
  running = true;
  scheduled = [];
  stops = 0;
  volume = 1;
  now() { return this.t; }
  schedule(pcm, rate, when) { this.scheduled.push({ when, rate, n: pcm.length, pcm }); }
  stopAll() { this.stops++; this.scheduled = []; }
  async suspend() { this.paused = true; }
  async resume() { this.paused = false; }
  setVolume(v) { this.volume = v; }
  advance(dt) { if (!this.paused) this.t += dt; }
}

export function seeded(name) {
  const seed = Number(process.env.AK_SEED ?? Date.now() % 100000);
  console.log(`# ${name}: seed ${seed} (rerun with AK_SEED=${seed})`);
  return { seed, rnd: idle.prng(seed) };
}

/** Raw PCM s16le bytes of a tone with bursts: on for the first half of every `period`. */
export function burstPcm(seconds, rate, period = 0.4) {
  const n = Math.round(seconds * rate);
  const b = new Uint8Array(n * 2);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const on = (t % period) < period / 2;
    dv.setInt16(i * 2, on ? Math.round(12000 * Math.sin(2 * Math.PI * 220 * t)) : 0, true);
  }
  return b;
}

/** AvatarMotion bytes with jawOpen (channel 17) = value(i) for frames first..first+count. */
export function jawMotion(first, count, value, { fps = 25, end = false } = {}) {
  const weights = new Uint8Array(count);
  for (let i = 0; i < count; i++) weights[i] = Math.round(255 * value(first + i));
  return proto.encodeAvatarMotion({ fps, firstFrame: first, frameCount: count, channelMaskLo: 1 << 17, weights, end });
}
