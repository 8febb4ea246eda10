/* Minimal protobuf (proto3 wire format) reader and writer plus the avatarkit messages the
 * browser needs: Message envelope, ServerResponseAnimation with its AvatarAudio/AvatarMotion
 * payloads, and the client messages of the driven-ingress WebSocket. Field numbers follow
 * protocol/avatarkit.proto; unknown fields are skipped. */

import { MAX_MESSAGE_BYTES, MAX_PAYLOAD_FRAMES, MAX_PAYLOAD_PACKETS } from './limits.js';

export const MessageType = {
  UNSPECIFIED: 0,
  CLIENT_CONFIGURE_SESSION: 1,
  SERVER_CONFIRM_SESSION: 2,
  CLIENT_AUDIO_INPUT: 3,
  SERVER_ERROR: 4,
  SERVER_RESPONSE_ANIMATION: 5,
  CLIENT_INTERRUPT: 7,
} as const;

export const AUDIO_MAGIC = 0x31414b41; // "AKA1" little endian
export const MOTION_MAGIC = 0x314d4b41; // "AKM1" little endian
export const PAYLOAD_VERSION = 1;

export class ProtoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoError';
  }
}

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

const textDecoder = new TextDecoder('utf-8', { fatal: false });
const textEncoder = new TextEncoder();

/** Sequential reader over one protobuf message body. Values wider than 2^53 saturate. */
export class ProtoReader {
  pos = 0;
  constructor(readonly buf: Uint8Array, start = 0, readonly end = buf.length) {
    this.pos = start;
  }
  get done(): boolean {
    return this.pos >= this.end;
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoError('truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return result;
    }
    throw new ProtoError('varint too long');
  }
  /** int32/enum field: keeps the low 32 bits of the varint, so negative values survive. */
  int32(): number {
    let lo = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoError('truncated varint');
      const b = this.buf[this.pos++];
      if (i < 5) lo |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) === 0) return lo | 0;
    }
    throw new ProtoError('varint too long');
  }
  /** Returns [fieldNumber, wireType]. */
  tag(): [number, number] {
    const t = this.varint();
    const field = Math.floor(t / 8);
    if (field === 0) throw new ProtoError('field number 0');
    return [field, t & 7];
  }
  fixed32(): number {
    if (this.pos + 4 > this.end) throw new ProtoError('truncated fixed32');
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 0x1000000;
  }
  /** fixed64 as [lo32, hi32] unsigned halves (exact). */
  fixed64(): [number, number] {
    const lo = this.fixed32();
    const hi = this.fixed32();
    return [lo, hi];
  }
  bytes(): Uint8Array {
    const n = this.varint();
    if (n > this.end - this.pos) throw new ProtoError('length-delimited field overruns message');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  string(): string {
    return textDecoder.decode(this.bytes());
  }
  skip(wireType: number): void {
    switch (wireType) {
      case WT_VARINT:
        this.varint();
        return;
      case WT_I64:
        if (this.pos + 8 > this.end) throw new ProtoError('truncated fixed64');
        this.pos += 8;
        return;
      case WT_LEN:
        this.bytes();
        return;
      case WT_I32:
        if (this.pos + 4 > this.end) throw new ProtoError('truncated fixed32');
        this.pos += 4;
        return;
      default:
        throw new ProtoError(`unsupported wire type ${wireType}`);
    }
  }
}

/** Growable writer; fields with default values are omitted as proto3 does. */
export class ProtoWriter {
  private buf = new Uint8Array(64);
  private len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
  }
  private rawVarint(v: number): void {
    if (!(v >= 0) || !Number.isFinite(v)) throw new ProtoError('varint must be a non-negative number');
    this.ensure(10);
    v = Math.floor(v);
    while (v >= 128) {
      this.buf[this.len++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
  }
  private tag(field: number, wt: number): void {
    this.rawVarint(field * 8 + wt);
  }
  uint(field: number, v: number | undefined): this {
    if (v) {
      this.tag(field, WT_VARINT);
      this.rawVarint(v);
    }
    return this;
  }
  /** int32 field: negative values use the 10-byte two's complement form. */
  int32(field: number, v: number | undefined): this {
    if (!v) return this;
    if (v >= 0) return this.uint(field, v);
    this.tag(field, WT_VARINT);
    // two's complement of a negative 32-bit value, sign-extended to 64 bits
    const lo = v >>> 0;
    this.ensure(10);
    let l = lo;
    for (let i = 0; i < 4; i++) {
      this.buf[this.len++] = (l & 0x7f) | 0x80;
      l >>>= 7;
    }
    this.buf[this.len++] = (l & 0x0f) | 0x70 | 0x80;
    for (let i = 0; i < 4; i++) this.buf[this.len++] = 0xff;
    this.buf[this.len++] = 0x01;
    return this;
  }
  bool(field: number, v: boolean | undefined): this {
    return this.uint(field, v ? 1 : 0);
  }
  fixed32(field: number, v: number | undefined, always = false): this {
    if (!v && !always) return this;
    this.tag(field, WT_I32);
    this.ensure(4);
    const x = (v ?? 0) >>> 0;
    this.buf[this.len++] = x & 0xff;
    this.buf[this.len++] = (x >>> 8) & 0xff;
    this.buf[this.len++] = (x >>> 16) & 0xff;
    this.buf[this.len++] = (x >>> 24) & 0xff;
    return this;
  }
  fixed64(field: number, lo: number, hi: number): this {
    if (!lo && !hi) return this;
    this.tag(field, WT_I64);
    this.ensure(8);
    for (const x0 of [lo >>> 0, hi >>> 0]) {
      this.buf[this.len++] = x0 & 0xff;
      this.buf[this.len++] = (x0 >>> 8) & 0xff;
      this.buf[this.len++] = (x0 >>> 16) & 0xff;
      this.buf[this.len++] = (x0 >>> 24) & 0xff;
    }
    return this;
  }
  bytes(field: number, v: Uint8Array | undefined, always = false): this {
    if ((!v || v.length === 0) && !always) return this;
    const b = v ?? new Uint8Array(0);
    this.tag(field, WT_LEN);
    this.rawVarint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  string(field: number, v: string | undefined): this {
    if (!v) return this;
    return this.bytes(field, textEncoder.encode(v));
  }
  message(field: number, w: ProtoWriter | undefined): this {
    if (!w) return this;
    return this.bytes(field, w.finish(), true);
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export interface AvatarAudio {
  version: number;
  sampleRate: number;
  channels: number;
  frameSamples: number;
  preSkip: number;
  firstPacket: number;
  packets: Uint8Array[];
  totalSamples: number;
  end: boolean;
}

export interface AvatarMotion {
  version: number;
  fps: number;
  firstFrame: number;
  frameCount: number;
  /** Channel mask as two unsigned 32-bit halves (bit k of the 64-bit mask = ARKit channel k). */
  channelMaskLo: number;
  channelMaskHi: number;
  weights: Uint8Array;
  head: Uint8Array;
  visemes: Uint8Array;
  end: boolean;
}

export interface ServerResponseAnimation {
  connectionId: string;
  reqId: string;
  end: boolean;
  motion?: AvatarMotion;
  audio?: AvatarAudio;
}

export interface ServerError {
  connectionId: string;
  reqId: string;
  code: number;
  message: string;
}

export interface DecodedMessage {
  type: number;
  confirmSession?: { connectionId: string };
  serverError?: ServerError;
  animation?: ServerResponseAnimation;
  /** Client-side messages are decoded too (used by tests and recording tools). */
  audioInput?: { reqId: string; end: boolean; audio: Uint8Array };
  configureSession?: { sampleRate: number; bitrate: number; audioFormat: number };
  interrupt?: { reqId: string };
}

function hasMagic(buf: Uint8Array, magic: number): boolean {
  return (
    buf.length >= 5 &&
    buf[0] === 0x0d &&
    (buf[1] | (buf[2] << 8) | (buf[3] << 16) | (buf[4] << 24)) >>> 0 === magic
  );
}
/** True when bytes begin with the encoded AvatarAudio magic (0x0D "AKA1"). */
export function isAvatarAudio(buf: Uint8Array): boolean {
  return hasMagic(buf, AUDIO_MAGIC);
}
/** True when bytes begin with the encoded AvatarMotion magic (0x0D "AKM1"). */
export function isAvatarMotion(buf: Uint8Array): boolean {
  return hasMagic(buf, MOTION_MAGIC);
}

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
export function channelCount(m: Pick<AvatarMotion, 'channelMaskLo' | 'channelMaskHi'>): number {
  return popcount32(m.channelMaskLo >>> 0) + popcount32(m.channelMaskHi >>> 0);
}

export function decodeAvatarAudio(buf: Uint8Array, start = 0, end = buf.length): AvatarAudio {
  const r = new ProtoReader(buf, start, end);
  const a: AvatarAudio = {
    version: 0, sampleRate: 0, channels: 1, frameSamples: 0, preSkip: 0,
    firstPacket: 0, packets: [], totalSamples: 0, end: false,
  };
  let magic = 0;
  while (!r.done) {
    const [f, wt] = r.tag();
    if (f === 1 && wt === WT_I32) magic = r.fixed32();
    else if (f === 2 && wt === WT_VARINT) a.version = r.varint();
    else if (f === 3 && wt === WT_VARINT) a.sampleRate = r.varint();
    else if (f === 4 && wt === WT_VARINT) a.channels = r.varint();
    else if (f === 5 && wt === WT_VARINT) a.frameSamples = r.varint();
    else if (f === 6 && wt === WT_VARINT) a.preSkip = r.varint();
    else if (f === 7 && wt === WT_VARINT) a.firstPacket = r.varint();
    else if (f === 8 && wt === WT_LEN) {
      if (a.packets.length >= MAX_PAYLOAD_PACKETS) throw new ProtoError('too many packets');
      a.packets.push(r.bytes());
    } else if (f === 9 && wt === WT_VARINT) a.totalSamples = r.varint();
    else if (f === 10 && wt === WT_VARINT) a.end = r.varint() !== 0;
    else r.skip(wt);
  }
  if (magic !== AUDIO_MAGIC) throw new ProtoError('AvatarAudio: bad magic');
  if (a.version !== PAYLOAD_VERSION) throw new ProtoError(`AvatarAudio: unsupported version ${a.version}`);
  if (![8000, 12000, 16000, 24000, 48000].includes(a.sampleRate))
    throw new ProtoError(`AvatarAudio: unsupported sample rate ${a.sampleRate}`);
  if (a.channels !== 1) throw new ProtoError('AvatarAudio: only mono is supported');
  if (a.frameSamples <= 0 || a.frameSamples > a.sampleRate / 10)
    throw new ProtoError('AvatarAudio: bad frame_samples');
  return a;
}

export function decodeAvatarMotion(buf: Uint8Array, start = 0, end = buf.length): AvatarMotion {
  const r = new ProtoReader(buf, start, end);
  const m: AvatarMotion = {
    version: 0, fps: 0, firstFrame: 0, frameCount: 0, channelMaskLo: 0, channelMaskHi: 0,
    weights: new Uint8Array(0), head: new Uint8Array(0), visemes: new Uint8Array(0), end: false,
  };
  let magic = 0;
  while (!r.done) {
    const [f, wt] = r.tag();
    if (f === 1 && wt === WT_I32) magic = r.fixed32();
    else if (f === 2 && wt === WT_VARINT) m.version = r.varint();
    else if (f === 3 && wt === WT_VARINT) m.fps = r.varint();
    else if (f === 4 && wt === WT_VARINT) m.firstFrame = r.varint();
    else if (f === 5 && wt === WT_VARINT) m.frameCount = r.varint();
    else if (f === 6 && wt === WT_I64) [m.channelMaskLo, m.channelMaskHi] = r.fixed64();
    else if (f === 7 && wt === WT_LEN) m.weights = r.bytes();
    else if (f === 8 && wt === WT_LEN) m.head = r.bytes();
    else if (f === 9 && wt === WT_LEN) m.visemes = r.bytes();
    else if (f === 10 && wt === WT_VARINT) m.end = r.varint() !== 0;
    else r.skip(wt);
  }
  if (magic !== MOTION_MAGIC) throw new ProtoError('AvatarMotion: bad magic');
  if (m.version !== PAYLOAD_VERSION) throw new ProtoError(`AvatarMotion: unsupported version ${m.version}`);
  if (m.fps < 1 || m.fps > 240) throw new ProtoError('AvatarMotion: bad fps');
  if (m.frameCount > MAX_PAYLOAD_FRAMES) throw new ProtoError('AvatarMotion: too many frames');
  if ((m.channelMaskHi >>> 0) >>> 20 !== 0) throw new ProtoError('AvatarMotion: channel bit above 51');
  const nch = channelCount(m);
  if (m.weights.length !== m.frameCount * nch)
    throw new ProtoError('AvatarMotion: weights length does not match frame_count x channels');
  if (m.head.length !== 0 && m.head.length !== m.frameCount * 6)
    throw new ProtoError('AvatarMotion: head length does not match frame_count');
  if (m.visemes.length !== 0 && m.visemes.length !== m.frameCount)
    throw new ProtoError('AvatarMotion: visemes length does not match frame_count');
  return m;
}

function decodeAnimation(r: ProtoReader, start: number, end: number): ServerResponseAnimation {
  const sub = new ProtoReader(r.buf, start, end);
  const a: ServerResponseAnimation = { connectionId: '', reqId: '', end: false };
  while (!sub.done) {
    const [f, wt] = sub.tag();
    if (f === 1 && wt === WT_LEN) a.connectionId = sub.string();
    else if (f === 2 && wt === WT_LEN) a.reqId = sub.string();
    else if (f === 3 && wt === WT_VARINT) a.end = sub.varint() !== 0;
    else if (f === 100 && wt === WT_LEN) {
      const b = sub.bytes();
      a.motion = decodeAvatarMotion(b);
    } else if (f === 101 && wt === WT_LEN) {
      const b = sub.bytes();
      a.audio = decodeAvatarAudio(b);
    } else sub.skip(wt);
  }
  return a;
}

/** Decodes one WebSocket `Message`. Throws ProtoError on malformed input. */
export function decodeMessage(buf: Uint8Array): DecodedMessage {
  if (buf.length > MAX_MESSAGE_BYTES) throw new ProtoError('message too large');
  const r = new ProtoReader(buf);
  const m: DecodedMessage = { type: 0 };
  while (!r.done) {
    const [f, wt] = r.tag();
    if (f === 1 && wt === WT_VARINT) {
      m.type = r.varint();
      continue;
    }
    if (wt !== WT_LEN || f < 2 || f > 8) {
      r.skip(wt);
      continue;
    }
    const body = r.bytes();
    const sub = new ProtoReader(body);
    if (f === 3) {
      let connectionId = '';
      while (!sub.done) {
        const [g, w] = sub.tag();
        if (g === 1 && w === WT_LEN) connectionId = sub.string();
        else sub.skip(w);
      }
      m.confirmSession = { connectionId };
    } else if (f === 5) {
      const e: ServerError = { connectionId: '', reqId: '', code: 0, message: '' };
      while (!sub.done) {
        const [g, w] = sub.tag();
        if (g === 1 && w === WT_LEN) e.connectionId = sub.string();
        else if (g === 2 && w === WT_LEN) e.reqId = sub.string();
        else if (g === 3 && w === WT_VARINT) e.code = sub.int32();
        else if (g === 4 && w === WT_LEN) e.message = sub.string();
        else sub.skip(w);
      }
      m.serverError = e;
    } else if (f === 6) {
      m.animation = decodeAnimation(sub, 0, body.length);
    } else if (f === 4) {
      const a = { reqId: '', end: false, audio: new Uint8Array(0) as Uint8Array };
      while (!sub.done) {
        const [g, w] = sub.tag();
        if (g === 1 && w === WT_LEN) a.reqId = sub.string();
        else if (g === 2 && w === WT_VARINT) a.end = sub.varint() !== 0;
        else if (g === 3 && w === WT_LEN) a.audio = sub.bytes();
        else sub.skip(w);
      }
      m.audioInput = a;
    } else if (f === 2) {
      const c = { sampleRate: 0, bitrate: 0, audioFormat: 0 };
      while (!sub.done) {
        const [g, w] = sub.tag();
        if (g === 1 && w === WT_VARINT) c.sampleRate = sub.int32();
        else if (g === 2 && w === WT_VARINT) c.bitrate = sub.int32();
        else if (g === 3 && w === WT_VARINT) c.audioFormat = sub.varint();
        else sub.skip(w);
      }
      m.configureSession = c;
    } else if (f === 8) {
      let reqId = '';
      while (!sub.done) {
        const [g, w] = sub.tag();
        if (g === 1 && w === WT_LEN) reqId = sub.string();
        else sub.skip(w);
      }
      m.interrupt = { reqId };
    }
  }
  return m;
}

// ---- writers ----------------------------------------------------------------------------

export function encodeConfigureSession(sampleRate: number, audioFormat = 0, bitrate = 0): Uint8Array {
  const body = new ProtoWriter().int32(1, sampleRate).int32(2, bitrate).uint(3, audioFormat);
  return new ProtoWriter().uint(1, MessageType.CLIENT_CONFIGURE_SESSION).message(2, body).finish();
}

export function encodeAudioInput(reqId: string, audio: Uint8Array, end: boolean): Uint8Array {
  const body = new ProtoWriter().string(1, reqId).bool(2, end).bytes(3, audio);
  return new ProtoWriter().uint(1, MessageType.CLIENT_AUDIO_INPUT).message(4, body).finish();
}

export function encodeInterrupt(reqId: string): Uint8Array {
  const body = new ProtoWriter().string(1, reqId);
  return new ProtoWriter().uint(1, MessageType.CLIENT_INTERRUPT).message(8, body).finish();
}

export function encodeConfirmSession(connectionId: string): Uint8Array {
  const body = new ProtoWriter().string(1, connectionId);
  return new ProtoWriter().uint(1, MessageType.SERVER_CONFIRM_SESSION).message(3, body).finish();
}

export function encodeServerError(e: ServerError): Uint8Array {
  const body = new ProtoWriter()
    .string(1, e.connectionId).string(2, e.reqId).int32(3, e.code).string(4, e.message);
  return new ProtoWriter().uint(1, MessageType.SERVER_ERROR).message(5, body).finish();
}

export function encodeAvatarAudio(a: Partial<AvatarAudio> & { packets: Uint8Array[] }): Uint8Array {
  const w = new ProtoWriter()
    .fixed32(1, AUDIO_MAGIC, true)
    .uint(2, a.version ?? PAYLOAD_VERSION)
    .uint(3, a.sampleRate ?? 16000)
    .uint(4, a.channels ?? 1)
    .uint(5, a.frameSamples ?? 320)
    .uint(6, a.preSkip ?? 0)
    .uint(7, a.firstPacket ?? 0);
  for (const p of a.packets) w.bytes(8, p, true);
  return w.uint(9, a.totalSamples ?? 0).bool(10, a.end ?? false).finish();
}

export function encodeAvatarMotion(m: Partial<AvatarMotion>): Uint8Array {
  return new ProtoWriter()
    .fixed32(1, MOTION_MAGIC, true)
    .uint(2, m.version ?? PAYLOAD_VERSION)
    .uint(3, m.fps ?? 25)
    .uint(4, m.firstFrame ?? 0)
    .uint(5, m.frameCount ?? 0)
    .fixed64(6, m.channelMaskLo ?? 0, m.channelMaskHi ?? 0)
    .bytes(7, m.weights)
    .bytes(8, m.head)
    .bytes(9, m.visemes)
    .bool(10, m.end ?? false)
    .finish();
}

/** Builds a whole SERVER_RESPONSE_ANIMATION Message (used by tools, tests and fake servers). */
export function encodeAnimationMessage(a: {
  connectionId?: string;
  reqId: string;
  end?: boolean;
  motion?: Uint8Array;
  audio?: Uint8Array;
}): Uint8Array {
  const body = new ProtoWriter()
    .string(1, a.connectionId)
    .string(2, a.reqId)
    .bool(3, a.end)
    .bytes(100, a.motion)
    .bytes(101, a.audio);
  return new ProtoWriter()
    .uint(1, MessageType.SERVER_RESPONSE_ANIMATION)
    .message(6, body)
    .finish();
}

/** What an app relaying Messages may want to know about one without decoding it itself. */
export interface MessageSummary {
  /** 'animation' (SERVER_RESPONSE_ANIMATION), 'error' (SERVER_ERROR) or 'other'. */
  kind: 'animation' | 'error' | 'other';
  reqId: string;
  /** The request's last message. */
  end: boolean;
  /** Media time (seconds) up to which this message carries motion, else audio; 0 if neither. */
  mediaEnd: number;
}

/** Summarizes one serialized Message (throws ProtoError when it is malformed). */
export function describeMessage(bytes: Uint8Array): MessageSummary {
  const m = decodeMessage(bytes);
  if (m.serverError) return { kind: 'error', reqId: m.serverError.reqId, end: true, mediaEnd: 0 };
  const a = m.animation;
  if (!a) return { kind: 'other', reqId: '', end: false, mediaEnd: 0 };
  let mediaEnd = 0;
  if (a.motion && a.motion.fps > 0) mediaEnd = (a.motion.firstFrame + a.motion.frameCount) / a.motion.fps;
  else if (a.audio && a.audio.sampleRate > 0)
    mediaEnd = ((a.audio.firstPacket + a.audio.packets.length) * a.audio.frameSamples) / a.audio.sampleRate;
  return { kind: 'animation', reqId: a.reqId, end: a.end, mediaEnd };
}
