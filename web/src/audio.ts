/* Browser audio plumbing: the Web Audio output (scheduling decoded chunks on the audio clock,
 * volume, pause by suspending the context) and Opus packet decoders (WebCodecs AudioDecoder,
 * with the wasm `opus-decoder` package loaded on demand where WebCodecs is missing). */

/** Where decoded audio goes; the controller only talks to this interface (tests fake it). */
export interface AudioSink {
  /** Audio clock in seconds: the context time of the sample being heard now. */
  now(): number;
  /** Plays `pcm` (mono, `rate` Hz) starting at context time `when`. */
  schedule(pcm: Float32Array, rate: number, when: number): void;
  /** Silences everything scheduled, at once. */
  stopAll(): void;
  /** performance.now() at which a sample scheduled at `when` (this clock) reaches the
   *  speaker; optional (the controller estimates it from now() without it). */
  speakerTime?(when: number): number;
  suspend(): Promise<void>;
  resume(): Promise<void>;
  setVolume(v: number): void;
  readonly running: boolean;
}

const MAX_SCHEDULED_SOURCES = 4096;

export class WebAudioSink implements AudioSink {
  readonly ctx: AudioContext;
  /** Final node: connect an AnalyserNode here to visualise or measure what plays. */
  readonly output: GainNode;
  private sources = new Set<AudioBufferSourceNode>();
  private volume = 1;

  constructor(ctx?: AudioContext) {
    this.ctx = ctx ?? new AudioContext({ latencyHint: 'interactive' });
    this.output = this.ctx.createGain();
    this.output.connect(this.ctx.destination);
  }
  get running(): boolean {
    return this.ctx.state === 'running';
  }
  now(): number {
    const lat = Math.min(0.25, Math.max(0, (this.ctx as AudioContext).outputLatency || 0));
    return this.ctx.currentTime - lat;
  }
  /** Latency between the graph's clock and the speaker, seconds. */
  get outputLatency(): number {
    return Math.min(0.25, Math.max(0, this.ctx.outputLatency || 0));
  }
  schedule(pcm: Float32Array, rate: number, when: number): void {
    if (this.sources.size >= MAX_SCHEDULED_SOURCES) return;
    const buf = this.ctx.createBuffer(1, pcm.length, rate);
    buf.copyToChannel(pcm as Float32Array<ArrayBuffer>, 0);
    const src = this.ctx.createBufferSource();
    src.buffer = buf;
    src.connect(this.output);
    src.onended = () => {
      this.sources.delete(src);
      src.disconnect();
    };
    this.sources.add(src);
    // when is on the clock of now(); the graph runs outputLatency ahead of it
    src.start(this.graphTime(when));
  }
  private graphTime(when: number): number {
    return Math.max(this.ctx.currentTime, when + this.outputLatency);
  }
  speakerTime(when: number): number {
    // getOutputTimestamp pairs the context time at the speaker with performance.now()
    const g = this.graphTime(when);
    const ts = typeof this.ctx.getOutputTimestamp === 'function' ? this.ctx.getOutputTimestamp() : null;
    if (ts && ts.performanceTime && ts.contextTime && ts.performanceTime > 0 && ts.contextTime > 0) {
      return ts.performanceTime + (g - ts.contextTime) * 1000;
    }
    const base = Math.min(0.25, Math.max(0, this.ctx.baseLatency || 0));
    return performance.now() + (g - this.ctx.currentTime + this.outputLatency + base) * 1000;
  }
  stopAll(): void {
    // Mute first so nothing already queued in the render quantum is heard, then stop.
    const g = this.output.gain;
    g.cancelScheduledValues(0);
    g.setValueAtTime(0, this.ctx.currentTime);
    for (const s of this.sources) {
      try {
        s.onended = null;
        s.stop();
        s.disconnect();
      } catch {
        /* already stopped */
      }
    }
    this.sources.clear();
    g.setValueAtTime(this.volume, this.ctx.currentTime + 0.005);
  }
  async suspend(): Promise<void> {
    if (this.ctx.state === 'running') await this.ctx.suspend();
  }
  async resume(): Promise<void> {
    if (this.ctx.state !== 'running' && this.ctx.state !== 'closed') await this.ctx.resume();
  }
  setVolume(v: number): void {
    this.volume = Math.min(1, Math.max(0, v));
    this.output.gain.setValueAtTime(this.volume, this.ctx.currentTime);
  }
  close(): void {
    this.stopAll();
    void this.ctx.close().catch(() => undefined);
  }
}

export type DecodedCallback = (index: number, pcm: Float32Array, rate: number) => void;
export type DecodeErrorCallback = (err: Error) => void;

/** Decodes one continuous Opus stream (packets fed in order, each with its index). */
export interface OpusStreamDecoder {
  decode(packet: Uint8Array, index: number): void;
  /** Packets submitted but not yet delivered. */
  readonly outstanding: number;
  /** Emits whatever the decoder still holds (called once the stream's last packet is in). */
  flush(): void;
  close(): void;
}

export type DecoderFactory = (
  sampleRate: number,
  frameSamples: number,
  onDecoded: DecodedCallback,
  onError: DecodeErrorCallback,
) => Promise<OpusStreamDecoder>;

class WebCodecsOpusDecoder implements OpusStreamDecoder {
  outstanding = 0;
  private dec: AudioDecoder;
  private closed = false;
  constructor(
    private readonly sampleRate: number,
    private readonly frameUs: number,
    onDecoded: DecodedCallback,
    onError: DecodeErrorCallback,
  ) {
    this.dec = new AudioDecoder({
      output: (data: AudioData) => {
        this.outstanding = Math.max(0, this.outstanding - 1);
        try {
          const n = data.numberOfFrames;
          const pcm = new Float32Array(n);
          data.copyTo(pcm, { planeIndex: 0, format: 'f32-planar' });
          const index = Math.round(data.timestamp / this.frameUs);
          const rate = data.sampleRate;
          data.close();
          if (!this.closed) onDecoded(index, pcm, rate);
        } catch (e) {
          data.close();
          onError(e as Error);
        }
      },
      error: (e: DOMException) => {
        if (!this.closed) onError(new Error(e.message));
      },
    });
    this.dec.configure({ codec: 'opus', sampleRate: this.sampleRate, numberOfChannels: 1 });
  }
  decode(packet: Uint8Array, index: number): void {
    if (this.closed || this.dec.state !== 'configured') return;
    this.outstanding++;
    this.dec.decode(
      new EncodedAudioChunk({ type: 'key', timestamp: index * this.frameUs, data: packet }),
    );
  }
  flush(): void {
    if (this.closed || this.dec.state !== 'configured') return;
    this.dec.flush().catch(() => undefined);
  }
  close(): void {
    this.closed = true;
    try {
      if (this.dec.state !== 'closed') this.dec.close();
    } catch {
      /* ignore */
    }
  }
}

interface WasmOpus {
  ready: Promise<void>;
  decodeFrame(p: Uint8Array): { channelData: Float32Array[]; samplesDecoded: number; sampleRate: number };
  free(): void;
}

class WasmOpusDecoder implements OpusStreamDecoder {
  outstanding = 0;
  private closed = false;
  constructor(
    private readonly dec: WasmOpus,
    private readonly onDecoded: DecodedCallback,
    private readonly onError: DecodeErrorCallback,
  ) {}
  decode(packet: Uint8Array, index: number): void {
    if (this.closed) return;
    try {
      const r = this.dec.decodeFrame(packet);
      this.onDecoded(index, r.channelData[0].slice(0, r.samplesDecoded), r.sampleRate);
    } catch (e) {
      this.onError(e as Error);
    }
  }
  flush(): void {
    /* synchronous: nothing held back */
  }
  close(): void {
    if (!this.closed) this.dec.free();
    this.closed = true;
  }
}

let webCodecsOk: Promise<boolean> | null = null;
async function webCodecsSupportsOpus(rate: number): Promise<boolean> {
  if (typeof AudioDecoder === 'undefined' || typeof EncodedAudioChunk === 'undefined') return false;
  try {
    const r = await AudioDecoder.isConfigSupported({ codec: 'opus', sampleRate: rate, numberOfChannels: 1 });
    return !!r.supported;
  } catch {
    return false;
  }
}

/** Loads the wasm fallback decoder (a separate chunk, fetched only when needed). */
export async function createWasmOpusDecoder(
  sampleRate: number,
  onDecoded: DecodedCallback,
  onError: DecodeErrorCallback,
): Promise<OpusStreamDecoder> {
  const mod = (await import('opus-decoder')) as unknown as {
    OpusDecoder: new (o: { sampleRate: number; channels: number; preSkip: number }) => WasmOpus;
  };
  const rate = [8000, 12000, 16000, 24000, 48000].includes(sampleRate) ? sampleRate : 48000;
  const dec = new mod.OpusDecoder({ sampleRate: rate, channels: 1, preSkip: 0 });
  await dec.ready;
  return new WasmOpusDecoder(dec, onDecoded, onError);
}

/** Default factory: WebCodecs where it decodes Opus, else the wasm decoder. */
export const defaultDecoderFactory: DecoderFactory = async (sampleRate, frameSamples, onDecoded, onError) => {
  if (!webCodecsOk) webCodecsOk = webCodecsSupportsOpus(sampleRate);
  if (await webCodecsOk) {
    return new WebCodecsOpusDecoder(sampleRate, (frameSamples / sampleRate) * 1e6, onDecoded, onError);
  }
  return createWasmOpusDecoder(sampleRate, onDecoded, onError);
};

/** Forces the wasm fallback (tests and browsers with broken WebCodecs). */
export const wasmDecoderFactory: DecoderFactory = (sampleRate, _fs, onDecoded, onError) =>
  createWasmOpusDecoder(sampleRate, onDecoded, onError);
