/* Motion frames of one conversation: stores decoded AvatarMotion frames by index and samples
 * them at any media time, interpolating between frame centres and holding the last known
 * frame when later ones are late. */

import { ARKIT_COUNT } from './arkit.js';
import { type AvatarMotion, ProtoError } from './proto.js';

/** Floats per frame: 52 weights then head pitch, yaw, roll in radians. */
export const FRAME_STRIDE = ARKIT_COUNT + 3;
/** Bound on frames kept per conversation (10 minutes at 25 fps). */
export const MAX_TRACK_FRAMES = 15000;
const HOLD_SEARCH = 512;

export interface SampleResult {
  /** Whether any frame was available for this time. */
  ok: boolean;
  /** Index of the frame whose value dominates the output (the one being held, if held). */
  frame: number;
  /** True when the wanted frame had not arrived and an earlier one was held. */
  held: boolean;
}

/** Expands one payload into per-frame float arrays (weights 0..1, head in radians). */
export function expandMotion(m: AvatarMotion): Float32Array[] {
  const channels: number[] = [];
  for (let k = 0; k < ARKIT_COUNT; k++) {
    const bit = k < 32 ? (m.channelMaskLo >>> k) & 1 : (m.channelMaskHi >>> (k - 32)) & 1;
    if (bit) channels.push(k);
  }
  const nch = channels.length;
  const out: Float32Array[] = [];
  const hv = m.head.length ? new DataView(m.head.buffer, m.head.byteOffset, m.head.byteLength) : null;
  for (let f = 0; f < m.frameCount; f++) {
    const fr = new Float32Array(FRAME_STRIDE);
    for (let c = 0; c < nch; c++) fr[channels[c]] = m.weights[f * nch + c] / 255;
    if (hv) {
      fr[ARKIT_COUNT] = hv.getInt16(f * 6, true) * 1e-4;
      fr[ARKIT_COUNT + 1] = hv.getInt16(f * 6 + 2, true) * 1e-4;
      fr[ARKIT_COUNT + 2] = hv.getInt16(f * 6 + 4, true) * 1e-4;
    }
    out.push(fr);
  }
  return out;
}

export class MotionTrack {
  fps = 0;
  /** Frame count of the whole conversation once the end payload arrived, else -1. */
  endFrame = -1;
  /** Highest index n such that frames 0..n-1 are all present. */
  contiguous = 0;
  private frames: (Float32Array | undefined)[] = [];
  private stored = 0;
  /** Media time of the newest frame end seen, in seconds (for readiness checks). */
  get availableUntil(): number {
    return this.fps ? this.contiguous / this.fps : 0;
  }
  get frameCountStored(): number {
    return this.stored;
  }
  /** Adds a decoded payload; returns frames added. Throws ProtoError on inconsistent input. */
  add(m: AvatarMotion): number {
    if (this.fps && m.fps !== this.fps) throw new ProtoError('AvatarMotion: fps changed within a request');
    this.fps = m.fps;
    if (m.firstFrame + m.frameCount > MAX_TRACK_FRAMES)
      throw new ProtoError('AvatarMotion: frame index beyond the track limit');
    this.maskLo = (this.maskLo | m.channelMaskLo) >>> 0;
    this.maskHi = (this.maskHi | m.channelMaskHi) >>> 0;
    const frames = expandMotion(m);
    let added = 0;
    for (let i = 0; i < frames.length; i++) {
      const idx = m.firstFrame + i;
      if (!this.frames[idx]) {
        this.stored++;
        added++;
      }
      this.frames[idx] = frames[i];
    }
    while (this.frames[this.contiguous]) this.contiguous++;
    if (m.end) this.endFrame = m.firstFrame + m.frameCount;
    return added;
  }
  has(i: number): boolean {
    return !!this.frames[i];
  }
  private trimmed = 0;
  private maskLo = 0;
  private maskHi = 0;
  /** Whether any payload so far carried channel k (0..51). */
  hasChannel(k: number): boolean {
    return k < 32 ? ((this.maskLo >>> k) & 1) === 1 : ((this.maskHi >>> (k - 32)) & 1) === 1;
  }
  /** Drops frames before index i (already shown) to bound memory in long conversations. */
  trimBefore(i: number): void {
    const end = Math.min(i, this.contiguous - 2, this.frames.length);
    for (; this.trimmed < end; this.trimmed++) {
      if (this.frames[this.trimmed]) {
        this.frames[this.trimmed] = undefined;
        this.stored--;
      }
    }
  }
  private holdFrom(i: number): number {
    for (let k = i, n = 0; k >= 0 && n < HOLD_SEARCH; k--, n++) if (this.frames[k]) return k;
    return -1;
  }
  /**
   * Samples the track at media time t (seconds) into out[0..FRAME_STRIDE). Frame i is the pose
   * of [i/fps, (i+1)/fps): values are interpolated between frame centres, held on late frames,
   * and clamped at both ends of the track.
   */
  sample(t: number, out: Float32Array): SampleResult {
    if (!this.fps) return { ok: false, frame: -1, held: false };
    let f = t * this.fps - 0.5;
    if (f < 0) f = 0;
    if (this.endFrame > 0 && f > this.endFrame - 1) f = this.endFrame - 1;
    const i0 = Math.floor(f);
    const a = f - i0;
    const f0 = this.frames[i0];
    if (f0) {
      const f1 = this.frames[i0 + 1];
      if (f1 && a > 0) {
        for (let k = 0; k < FRAME_STRIDE; k++) out[k] = f0[k] + (f1[k] - f0[k]) * a;
        return { ok: true, frame: a < 0.5 ? i0 : i0 + 1, held: false };
      }
      out.set(f0);
      const wantNext = a > 0 && !(this.endFrame > 0 && i0 + 1 >= this.endFrame);
      return { ok: true, frame: i0, held: wantNext };
    }
    const h = this.holdFrom(i0);
    if (h < 0) return { ok: false, frame: -1, held: true };
    out.set(this.frames[h]!);
    return { ok: true, frame: h, held: true };
  }
}
