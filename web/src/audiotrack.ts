/* Audio of one conversation as it arrives: decoded Opus packets or raw PCM placed on the
 * conversation timeline (pre-skip dropped, total length applied), handed out in media order,
 * plus a coarse loudness envelope used by the audio-only fallback. */

/** Bound on buffered audio per conversation, in seconds. */
export const MAX_TRACK_SECONDS = 600;
const ENV_STEP = 0.01; // loudness envelope resolution, seconds

export interface AudioChunk {
  /** Media time of the first sample, seconds. */
  start: number;
  rate: number;
  pcm: Float32Array;
}

export class AudioTrack {
  /** Payload parameters (encoded input) or the PCM rate (raw input). */
  sampleRate = 0;
  frameSamples = 0;
  preSkip = 0;
  /** Exact duration in seconds once known (end of input), else -1. */
  duration = -1;
  ended = false;
  source: 'none' | 'opus' | 'pcm' = 'none';
  private decoded = new Map<number, { pcm: Float32Array; rate: number }>();
  private nextPacket = 0;
  private pcmPos = 0; // raw PCM: media samples appended so far
  private ready: AudioChunk[] = [];
  /** Media time up to which audio is contiguous (ready or already taken). */
  availableUntil = 0;
  private env: number[] = [];
  private totalSamples = 0;

  /** Raw PCM s16le mono at `rate`; appended at the end of the timeline. */
  addPcm(bytes: Uint8Array, rate: number): void {
    if (this.source === 'opus') throw new Error('conversation already carries encoded audio');
    this.source = 'pcm';
    this.sampleRate = rate;
    const n = bytes.length >> 1;
    if ((this.pcmPos + n) / rate > MAX_TRACK_SECONDS) throw new RangeError('audio exceeds the conversation limit');
    const dv = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
    const pcm = new Float32Array(n);
    for (let i = 0; i < n; i++) pcm[i] = dv.getInt16(i * 2, true) / 32768;
    if (n) this.push({ start: this.pcmPos / rate, rate, pcm });
    this.pcmPos += n;
  }

  /** Declares the encoded stream's parameters (from the first AvatarAudio payload). */
  setEncoded(sampleRate: number, frameSamples: number, preSkip: number): void {
    this.source = 'opus';
    this.sampleRate = sampleRate;
    this.frameSamples = frameSamples;
    this.preSkip = preSkip;
  }

  /** Exact length (samples at sampleRate, after pre-skip) from the last payload. */
  setTotal(totalSamples: number): void {
    this.totalSamples = totalSamples;
    if (totalSamples > 0 && this.sampleRate) this.duration = totalSamples / this.sampleRate;
  }

  /** Marks the end of input; for raw PCM the duration is what arrived. */
  end(): void {
    this.ended = true;
    if (this.source === 'pcm' || this.source === 'none') this.duration = this.pcmPos / (this.sampleRate || 1);
    this.drain();
  }

  /** Decoded PCM of packet `index` (decoder output rate `rate`). Out-of-order input waits. */
  addDecoded(index: number, pcm: Float32Array, rate: number): void {
    if (index < this.nextPacket || this.decoded.has(index)) return;
    if ((index * this.frameSamples) / this.sampleRate > MAX_TRACK_SECONDS)
      throw new RangeError('audio exceeds the conversation limit');
    this.decoded.set(index, { pcm, rate });
    this.drain();
  }

  /** Index of the next packet the timeline waits for. */
  get expectedPacket(): number {
    return this.nextPacket;
  }

  private drain(): void {
    if (this.source !== 'opus') return;
    for (;;) {
      const d = this.decoded.get(this.nextPacket);
      if (!d) break;
      this.decoded.delete(this.nextPacket);
      const i = this.nextPacket++;
      // packet i starts at decoder sample i*frameSamples; pre-skip samples are dropped
      let start = (i * this.frameSamples - this.preSkip) / this.sampleRate;
      let pcm = d.pcm;
      if (start < 0) {
        const cut = Math.min(pcm.length, Math.round(-start * d.rate));
        pcm = pcm.subarray(cut);
        start = 0;
      }
      if (this.duration >= 0) {
        const keep = Math.max(0, Math.round((this.duration - start) * d.rate));
        if (keep < pcm.length) pcm = pcm.subarray(0, keep);
      }
      if (pcm.length) this.push({ start, rate: d.rate, pcm });
    }
  }

  private push(c: AudioChunk): void {
    this.ready.push(c);
    const end = c.start + c.pcm.length / c.rate;
    if (end > this.availableUntil) this.availableUntil = end;
    // loudness envelope (RMS per 10 ms)
    const per = Math.max(1, Math.round(ENV_STEP * c.rate));
    for (let o = 0; o < c.pcm.length; o += per) {
      let s = 0;
      const e = Math.min(c.pcm.length, o + per);
      for (let k = o; k < e; k++) s += c.pcm[k] * c.pcm[k];
      const slot = Math.floor((c.start + o / c.rate) / ENV_STEP + 1e-6);
      if (slot < MAX_TRACK_SECONDS / ENV_STEP) this.env[slot] = Math.sqrt(s / (e - o));
    }
  }

  /** Removes and returns the chunks ready to schedule, in media order. */
  take(): AudioChunk[] {
    const r = this.ready;
    this.ready = [];
    return r;
  }

  get pending(): number {
    return this.ready.length;
  }

  /** True when every sample of the conversation is known and handed out. */
  get complete(): boolean {
    if (!this.ended) return false;
    if (this.source === 'opus' && this.duration >= 0) return this.availableUntil >= this.duration - 1e-6 || this.decoded.size === 0;
    return true;
  }

  /** RMS loudness (0..1) around media time t, for the audio-only fallback. */
  loudness(t: number): number {
    const i = Math.floor(t / ENV_STEP);
    let s = 0, n = 0;
    for (let k = i - 2; k <= i + 2; k++) {
      const v = this.env[k];
      if (v !== undefined) { s += v; n++; }
    }
    return n ? s / n : 0;
  }

  get totalSamplesHint(): number {
    return this.totalSamples;
  }
}
