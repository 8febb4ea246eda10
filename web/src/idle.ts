/* Idle life: breathing, blinks, small head sway and eye saccades, generated from a seeded
 * random source as a pure function of time so it is reproducible in tests. */

import { ARKIT, ARKIT_COUNT } from './arkit.js';
import { FRAME_STRIDE } from './motion.js';

/** Small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const H = ARKIT_COUNT;

export class IdleMotion {
  private rnd: () => number;
  private nextBlink: number;
  private blinkStart = -10;
  private doubleBlink = false;
  private nextSaccade: number;
  private gazeFrom = [0, 0];
  private gazeTo = [0, 0];
  private saccadeStart = -10;
  private phase: number[];

  constructor(seed = 1) {
    this.rnd = prng(seed);
    this.nextBlink = 0.8 + this.rnd() * 2;
    this.nextSaccade = 0.5 + this.rnd() * 1.5;
    this.phase = [0, 1, 2, 3].map(() => this.rnd() * Math.PI * 2);
  }

  /** Writes the idle pose at time t (seconds, monotonic) into out[0..FRAME_STRIDE). */
  sample(t: number, out: Float32Array): void {
    out.fill(0, 0, FRAME_STRIDE);
    // blinks: ~every 2-6 s, 180 ms close-open, sometimes double
    if (t >= this.nextBlink) {
      this.blinkStart = this.nextBlink;
      this.doubleBlink = this.rnd() < 0.15;
      this.nextBlink = t + 2 + this.rnd() * 4;
    }
    const bt = t - this.blinkStart;
    let blink = 0;
    const one = (x: number) => (x >= 0 && x < 0.18 ? Math.sin((x / 0.18) * Math.PI) : 0);
    blink = Math.max(one(bt), this.doubleBlink ? one(bt - 0.24) : 0);
    blink = Math.min(1, blink * 1.1);
    out[ARKIT.eyeBlinkLeft] = blink;
    out[ARKIT.eyeBlinkRight] = blink;
    // gaze saccades every 1-3.5 s, settling in 60 ms
    if (t >= this.nextSaccade) {
      this.gazeFrom = this.gaze(t);
      this.gazeTo = [(this.rnd() - 0.5) * 0.5, (this.rnd() - 0.5) * 0.3];
      if (this.rnd() < 0.4) this.gazeTo = [0, 0];
      this.saccadeStart = t;
      this.nextSaccade = t + 1 + this.rnd() * 2.5;
    }
    const [gx, gy] = this.gaze(t);
    setGaze(out, gx, gy);
    // breathing ~0.25 Hz and slow head sway
    const br = Math.sin(t * 2 * Math.PI * 0.24 + this.phase[0]);
    out[ARKIT.jawOpen] = 0.015 + 0.01 * br;
    out[ARKIT.browInnerUp] = 0.04 + 0.03 * Math.sin(t * 0.37 + this.phase[1]);
    out[ARKIT.mouthSmileLeft] = out[ARKIT.mouthSmileRight] = 0.12;
    out[H] = 0.02 * br + 0.015 * Math.sin(t * 0.31 + this.phase[2]);
    out[H + 1] = 0.04 * Math.sin(t * 0.21 + this.phase[3]) + 0.015 * Math.sin(t * 0.53);
    out[H + 2] = 0.015 * Math.sin(t * 0.17 + this.phase[1]);
  }

  private gaze(t: number): number[] {
    const k = Math.min(1, Math.max(0, (t - this.saccadeStart) / 0.06));
    const s = k * k * (3 - 2 * k);
    return [this.gazeFrom[0] + (this.gazeTo[0] - this.gazeFrom[0]) * s,
      this.gazeFrom[1] + (this.gazeTo[1] - this.gazeFrom[1]) * s];
  }
}

/** Writes a gaze direction (x right, y up, in -1..1 of the look range) as eyeLook weights. */
export function setGaze(out: Float32Array, x: number, y: number): void {
  const r = Math.max(0, x), l = Math.max(0, -x), u = Math.max(0, y), d = Math.max(0, -y);
  // avatar's left eye looks "out" when gazing to the avatar's left (viewer's right = -x here)
  out[ARKIT.eyeLookOutLeft] = l;
  out[ARKIT.eyeLookInLeft] = r;
  out[ARKIT.eyeLookInRight] = l;
  out[ARKIT.eyeLookOutRight] = r;
  out[ARKIT.eyeLookUpLeft] = out[ARKIT.eyeLookUpRight] = u;
  out[ARKIT.eyeLookDownLeft] = out[ARKIT.eyeLookDownRight] = d;
}
