/* AvatarController: takes payloads (host mode) or talks to the Motion Server (sdk mode),
 * decodes and schedules audio on the Web Audio clock, and produces the face pose for each
 * rendered frame from that same clock, blending idle life in and out of speech. It is an
 * EventTarget: 'connectionstate', 'conversationstate' and 'error' (typed, events.ts). */

import { ARKIT, ARKIT_COUNT } from './arkit.js';
import { AudioTrack } from './audiotrack.js';
import { type AudioSink, type DecoderFactory, defaultDecoderFactory, type OpusStreamDecoder, WebAudioSink } from './audio.js';
import { PlayClock } from './clock.js';
import {
  type ConnectionState, ConversationIds, type ConversationReason, type ConversationState,
  ConversationStateMachine, newConversationId,
} from './conversation.js';
import { classifyClose, classifyServerError, ErrorCode, type ErrorCodeValue } from './errors.js';
import {
  AudioStartEvent, AvatarErrorEvent, type AvatarControllerEventMap, ConnectionStateEvent,
  ConversationStateEvent, typedEventTarget,
} from './events.js';
import type { AvatarError } from './errors.js';
import { IdleMotion } from './idle.js';
import { JitterEstimator, type JitterOptions } from './jitter.js';
import { Logger } from './log.js';
import { FRAME_STRIDE, MotionTrack } from './motion.js';
import { MAX_PAYLOAD_PACKETS } from './limits.js';
import {
  type AvatarAudio, decodeAvatarAudio, decodeAvatarMotion, decodeMessage, type DecodedMessage,
  isAvatarAudio, isAvatarMotion, MessageType,
} from './proto.js';
import { ingressUrl, MotionSocket, type SocketFactory } from './transport.js';

export type DrivingServiceMode = 'host' | 'sdk';

/** Start-up lead: time between deciding to play and the first sample (scheduling slack). */
const START_LEAD = 0.03;
/** A chunk due sooner than this is late: rebuffer instead of playing it torn. */
const LATE_SAFETY = 0.005;
/** Longest wait for motion once audio is ready before starting without it (seconds). */
const MOTION_WAIT = 0.6;
/** An audio underrun longer than this (seconds) blends the face back to idle until it resumes. */
const STALL_TO_IDLE = 0.12;
/** Bound on live conversations queued for playback. */
const MAX_QUEUED = 32;
/** Bound on Opus packets waiting for an earlier one: one payload's worth (protocol limit). */
const MAX_PENDING_PACKETS = MAX_PAYLOAD_PACKETS;
const H = ARKIT_COUNT;
const BLINKS = [ARKIT.eyeBlinkLeft, ARKIT.eyeBlinkRight];

export interface ControllerConfig {
  mode: DrivingServiceMode;
  /** Rate of raw PCM handed to yieldAudioData/send, Hz. */
  sampleRate: number;
  appId?: string;
  avatarId?: string;
  /** Base URL of the Motion Server for sdk mode, e.g. http://127.0.0.1:8080. */
  serverUrl?: string;
  getSessionToken?: () => string;
  logger?: Logger;
  sink?: AudioSink;
  decoderFactory?: DecoderFactory;
  socketFactory?: SocketFactory;
  jitter?: JitterOptions;
  /** Seed of the idle motion generator. */
  idleSeed?: number;
  /** Idle life (breathing, blinks, gaze, head sway) when not speaking; default true. */
  idle?: boolean;
  /** Keep a log of every rendered frame (tests and benchmarks). */
  recordRenders?: boolean;
}

export interface RenderRecord {
  /** Audio clock (seconds, AudioSink.now()). */
  audioTime: number;
  conversationId: string;
  /** Media time on the conversation timeline. */
  mediaTime: number;
  /** Motion frame the audio clock is in: floor(mediaTime * fps). */
  clockFrame: number;
  /** Motion frame shown (dominant frame of the interpolation, or the held frame). */
  shownFrame: number;
  held: boolean;
  speechWeight: number;
  /** The audio ran dry (underrun): media time is holding until more audio arrives. */
  stalled: boolean;
}

export interface ControllerStats {
  state: ConversationState;
  connection: ConnectionState;
  conversationId: string | null;
  mediaTime: number;
  jitterDelay: number;
  underruns: number;
  droppedPayloads: number;
  decodedPackets: number;
  renderedFrames: number;
  queued: number;
}

class Conversation {
  audio = new AudioTrack();
  motion = new MotionTrack();
  clock = new PlayClock();
  decoder: OpusStreamDecoder | null = null;
  decoderPending = false;
  packets = new Map<number, Uint8Array>();
  nextSubmit = 0;
  fallback = false;
  started = false;
  readySince = -1;
  rebuffering = false;
  networkLost = false;
  serverFailed = false;
  scheduleQueue: { start: number; rate: number; pcm: Float32Array }[] = [];
  stallSince = -1;
  flushed = false;
  /** endConversation(): the stream is over with this error; nothing more is accepted. */
  endReason: 'networkError' | 'serverError' | null = null;
  audioStarted = false;
  constructor(readonly id: string) {}
  get decoding(): number {
    return (this.decoder?.outstanding ?? 0) + this.packets.size + (this.decoderPending ? 1 : 0);
  }
  /** All audio of the conversation is decoded and on the timeline. */
  get audioComplete(): boolean {
    return this.audio.ended && this.decoding === 0 && this.audio.complete;
  }
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'string') {
    const bin = atob(data);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  throw new TypeError('expected ArrayBuffer, a typed array or a base64 string');
}

export class AvatarController extends typedEventTarget<AvatarControllerEventMap>() {
  /** Shorthand for a 'connectionstate' listener (Motion Server connection, sdk mode; host
   *  mode stays 'disconnected'). Called after the event's listeners. */
  onConnectionState: ((state: ConnectionState) => void) | null = null;
  /** Shorthand for a 'conversationstate' listener: playback state with the reason. */
  onConversationState: ((state: ConversationState, reason: ConversationReason, conversationId: string | null) => void) | null = null;
  /** Shorthand for an 'error' listener. */
  onError: ((error: AvatarError) => void) | null = null;

  readonly config: ControllerConfig;
  private sink: AudioSink | null;
  private readonly decoderFactory: DecoderFactory;
  private readonly log: Logger;
  private readonly ids = new ConversationIds();
  private readonly machine: ConversationStateMachine;
  private readonly jitter: JitterEstimator;
  private readonly idle: IdleMotion;
  private queue: Conversation[] = [];
  private byId = new Map<string, Conversation>();
  private connection: ConnectionState = 'disconnected';
  private socket: MotionSocket | null = null;
  private sendReqId: string | null = null;
  private lastReqId: string | null = null;
  private volume = 1;
  private userPaused = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private disposed = false;
  // render state
  private idlePose = new Float32Array(FRAME_STRIDE);
  private speechPose = new Float32Array(FRAME_STRIDE);
  private lastSpeech = new Float32Array(FRAME_STRIDE);
  private speechW = 0;
  private lastWall = -1;
  private current: { id: string; media: number } = { id: '', media: 0 };
  private counters = { underruns: 0, dropped: 0, decoded: 0, rendered: 0 };
  /** Rendered-frame log (only with recordRenders), bounded. */
  readonly renders: RenderRecord[] = [];

  constructor(config: ControllerConfig) {
    super();
    this.config = { ...config };
    this.sink = config.sink ?? null;
    this.decoderFactory = config.decoderFactory ?? defaultDecoderFactory;
    this.log = config.logger ?? new Logger();
    this.jitter = new JitterEstimator(config.jitter);
    this.idle = new IdleMotion(config.idleSeed ?? 7);
    this.machine = new ConversationStateMachine((state, reason) => {
      this.log.info('conversation', state, reason);
      const id = this.current.id || this.ids.current();
      this.dispatchEvent(new ConversationStateEvent(state, reason, id));
      this.onConversationState?.(state, reason, id);
    });
  }

  // ---- shared API -------------------------------------------------------------------------

  /** Creates (or resumes) the AudioContext; call from a user gesture in real pages. */
  async initializeAudioContext(): Promise<void> {
    try {
      const s = this.ensureSink();
      await s.resume();
    } catch (e) {
      this.fail(ErrorCode.AUDIO_CONTEXT_FAILED, `audio context: ${(e as Error).message}`);
      throw e;
    }
  }

  /** The Web Audio output node (GainNode) when running in a browser, for analysers. */
  get audioOutput(): AudioNode | null {
    return this.sink instanceof WebAudioSink ? this.sink.output : null;
  }
  get audioContext(): AudioContext | null {
    return this.sink instanceof WebAudioSink ? this.sink.ctx : null;
  }

  /** The logger this controller writes to (ControllerConfig.logger). */
  get logger(): Logger {
    return this.log;
  }

  getCurrentConversationId(): string | null {
    return this.ids.current();
  }
  get conversationState(): ConversationState {
    return this.machine.state;
  }
  get connectionState(): ConnectionState {
    return this.connection;
  }

  setVolume(v: number): void {
    if (typeof v !== 'number' || Number.isNaN(v)) {
      this.fail(ErrorCode.INVALID_ARGUMENT, 'volume must be a number in 0..1');
      return;
    }
    this.volume = Math.min(1, Math.max(0, v));
    this.sink?.setVolume(this.volume);
  }
  getVolume(): number {
    return this.volume;
  }

  /** Freezes audio and motion where they are; buffers are kept. */
  pause(): void {
    if (this.machine.state !== 'playing') return;
    this.userPaused = true;
    void this.sink?.suspend();
    this.machine.pause();
  }
  resume(): void {
    if (this.machine.state !== 'paused') return;
    this.userPaused = false;
    void this.sink?.resume();
    this.machine.resume();
  }

  /** Stops the current conversation now: audio silenced, face back to idle in one frame. */
  interrupt(): void {
    const req = this.sendReqId ?? this.lastReqId;
    if (this.config.mode === 'sdk' && req && this.socket) this.socket.sendInterrupt(req);
    this.sendReqId = null;
    this.dropAll();
    this.machine.stop('userAction');
  }

  /** Drops every buffered and queued conversation without telling the server. */
  clear(): void {
    this.sendReqId = null;
    this.dropAll();
    this.machine.stop('userAction');
  }

  /**
   * Host mode: the stream of a conversation ended with an error the host learnt of (the
   * backend relayed an error, the host's socket dropped). Audio already playing plays out
   * and the conversation then ends with `reason` (a 'conversationstate' idle event); one
   * that has not started yet is dropped at once, with no state change (a cut answer never
   * starts late). Later payloads of it are dropped. Returns false when the id is unknown or
   * already finished.
   */
  endConversation(conversationId: string, reason: 'networkError' | 'serverError' = 'networkError'): boolean {
    const c = this.byId.get(conversationId);
    if (!c || this.disposed) return false;
    if (reason !== 'networkError' && reason !== 'serverError') {
      this.fail(ErrorCode.INVALID_ARGUMENT, `endConversation reason must be networkError or serverError, got ${String(reason)}`);
      return false;
    }
    c.endReason = reason;
    if (!c.started) {
      // never heard: dropped (no state change, the avatar was not playing it)
      c.decoder?.close();
      this.ids.finish(c.id);
      this.byId.delete(c.id);
      this.queue = this.queue.filter((x) => x !== c);
      this.stopTimerIfIdle();
    }
    this.pump();
    return true;
  }

  private dropAll(): void {
    this.sink?.stopAll();
    if (this.userPaused) {
      this.userPaused = false;
      void this.sink?.resume();
    }
    for (const c of this.queue) c.decoder?.close();
    this.queue = [];
    this.byId.clear();
    this.ids.finishAll();
    this.speechW = 0;
    this.lastSpeech.fill(0);
    this.current = { id: '', media: 0 };
  }

  // ---- host mode ----------------------------------------------------------------------------

  /**
   * Feeds one audio payload: the Motion Server's encoded AvatarAudio bytes, or raw PCM s16le
   * mono at the configured sample rate. Returns the conversation id the audio belongs to
   * (a new one after the previous conversation's end=true).
   */
  yieldAudioData(data: ArrayBuffer | ArrayBufferView | string, end = false): string | null {
    if (this.disposed) return null;
    let bytes: Uint8Array;
    try {
      bytes = toBytes(data);
    } catch (e) {
      this.fail(ErrorCode.INVALID_ARGUMENT, (e as Error).message);
      return null;
    }
    let payload: AvatarAudio | null = null;
    if (isAvatarAudio(bytes)) {
      try {
        payload = decodeAvatarAudio(bytes);
      } catch (e) {
        this.fail(ErrorCode.MALFORMED_PAYLOAD, `audio payload: ${(e as Error).message}`);
        return this.ids.current();
      }
    }
    const { id, isNew } = this.ids.forAudio(end || !!payload?.end);
    let c: Conversation | null | undefined = this.byId.get(id);
    if (isNew || !c) c = this.openConversation(id);
    if (!c) return id;
    try {
      if (payload) this.ingestEncodedAudio(c, payload);
      else if (bytes.length) {
        if (c.audio.source === 'opus') throw new Error('raw PCM after encoded audio in one conversation');
        const before = c.audio.availableUntil;
        c.audio.addPcm(bytes, this.config.sampleRate);
        this.noteArrival(c, before);
      }
      if (end) c.audio.end();
    } catch (e) {
      this.fail(e instanceof RangeError ? ErrorCode.BUFFER_OVERFLOW : ErrorCode.INVALID_ARGUMENT, (e as Error).message);
    }
    this.pump();
    return id;
  }

  /**
   * Feeds motion for a conversation: each item is a whole serialized Message
   * (SERVER_RESPONSE_ANIMATION) or bare AvatarMotion bytes (base64 strings accepted). Frames
   * of an unknown, finished or interrupted conversation are dropped; an empty array puts the
   * conversation in audio-only fallback.
   */
  yieldFramesData(frames: readonly (ArrayBuffer | ArrayBufferView | string)[], conversationId: string): void {
    if (this.disposed) return;
    if (!Array.isArray(frames)) {
      this.fail(ErrorCode.INVALID_ARGUMENT, 'frames must be an array');
      return;
    }
    const c = this.byId.get(conversationId);
    if (!c || !this.ids.accepts(conversationId) || c.endReason) {
      this.counters.dropped++;
      this.log.debug('dropping frames of conversation', conversationId);
      return;
    }
    if (frames.length === 0) {
      this.enterFallback(c);
      return;
    }
    for (const f of frames) {
      try {
        const bytes = toBytes(f);
        if (isAvatarMotion(bytes)) {
          c.motion.add(decodeAvatarMotion(bytes));
          continue;
        }
        const m = decodeMessage(bytes);
        if (m.type !== MessageType.SERVER_RESPONSE_ANIMATION || !m.animation) continue;
        this.ingestAnimation(c, m.animation, false);
      } catch (e) {
        this.fail(ErrorCode.MALFORMED_PAYLOAD, `motion payload: ${(e as Error).message}`);
      }
    }
    this.pump();
  }

  /**
   * Feeds one whole serialized Message as a backend relays it (the bytes of one binary
   * WebSocket frame, untouched): a SERVER_RESPONSE_ANIMATION brings audio and motion of the
   * request req_id, which is its conversation id (the request's first message opens it; its
   * end flag closes it); a SERVER_ERROR fails that request's conversation. Messages of a
   * request that was interrupted or has finished are dropped. Returns the conversation id,
   * or null when the bytes are not a Message (an 'error' event says why).
   */
  yieldMessage(data: ArrayBuffer | ArrayBufferView): string | null {
    if (this.disposed) return null;
    let m: DecodedMessage;
    try {
      m = decodeMessage(toBytes(data));
    } catch (e) {
      this.fail(ErrorCode.MALFORMED_PAYLOAD, `message: ${(e as Error).message}`);
      return null;
    }
    if (m.type === MessageType.SERVER_ERROR && m.serverError) {
      this.onServerMessage(m);
      return m.serverError.reqId || null;
    }
    if (m.type !== MessageType.SERVER_RESPONSE_ANIMATION || !m.animation) return null;
    const id = m.animation.reqId;
    if (!id) {
      this.fail(ErrorCode.MALFORMED_PAYLOAD, 'animation message without a req_id');
      return null;
    }
    if (this.byId.get(id)?.endReason) {
      this.counters.dropped++;
      return id;
    }
    if (!this.byId.has(id)) {
      if (this.ids.ended(id)) {
        this.counters.dropped++;
        return id;
      }
      this.ids.adopt(id);
      if (!this.openConversation(id)) return null;
    }
    this.onServerMessage(m);
    return id;
  }

  private enterFallback(c: Conversation): void {
    if (c.fallback) return;
    c.fallback = true;
    this.log.info('conversation', c.id, 'in audio-only fallback');
    if (c.started && this.queue[0] === c) this.machine.play('fallbackMode');
  }

  private openConversation(id: string): Conversation | null {
    if (this.queue.length >= MAX_QUEUED) {
      this.ids.finish(id);
      this.fail(ErrorCode.BUFFER_OVERFLOW, 'too many queued conversations');
      return null;
    }
    const c = new Conversation(id);
    this.queue.push(c);
    this.byId.set(id, c);
    if (this.queue.length === 1) this.jitter.beginStream();
    this.ensureTimer();
    return c;
  }

  private ingestAnimation(c: Conversation, a: { motion?: unknown; audio?: AvatarAudio; end: boolean }, fromServer: boolean): void {
    if (a.motion) {
      const m = a.motion as Parameters<MotionTrack['add']>[0];
      c.motion.add(m);
      // the face must be there in time as much as the sound: motion arrivals size the buffer too
      if (m.fps > 0) this.noteArrival(c, m.firstFrame / m.fps);
    }
    if (a.audio && c.audio.source !== 'pcm') this.ingestEncodedAudio(c, a.audio);
    if (fromServer && a.end && !c.audio.ended) {
      c.audio.end();
    }
  }

  private ingestEncodedAudio(c: Conversation, a: AvatarAudio): void {
    if (c.audio.source === 'pcm') throw new Error('encoded audio after raw PCM in one conversation');
    if (c.audio.source === 'none') {
      c.audio.setEncoded(a.sampleRate, a.frameSamples, a.preSkip);
      if (c === this.queue[0]) this.jitter.beginStream();
    } else if (a.sampleRate !== c.audio.sampleRate || a.frameSamples !== c.audio.frameSamples) {
      throw new Error('audio parameters changed within a conversation');
    }
    const mediaStart = (a.firstPacket * a.frameSamples - c.audio.preSkip) / a.sampleRate;
    this.noteArrival(c, Math.max(0, mediaStart));
    for (let i = 0; i < a.packets.length; i++) {
      const idx = a.firstPacket + i;
      if (idx < c.nextSubmit || c.packets.has(idx)) continue; // duplicate
      if (c.packets.size >= MAX_PENDING_PACKETS) throw new RangeError('too many out-of-order audio packets');
      c.packets.set(idx, a.packets[i]);
    }
    if (a.totalSamples) c.audio.setTotal(a.totalSamples);
    if (a.end) c.audio.end();
    this.submitPackets(c);
  }

  private submitPackets(c: Conversation): void {
    if (!c.decoder) {
      if (c.decoderPending) return;
      c.decoderPending = true;
      this.decoderFactory(
        c.audio.sampleRate,
        c.audio.frameSamples,
        (index, pcm, rate) => {
          if (!this.byId.has(c.id)) return;
          this.counters.decoded++;
          try {
            c.audio.addDecoded(index, pcm, rate);
          } catch (e) {
            this.fail(ErrorCode.BUFFER_OVERFLOW, (e as Error).message);
          }
          this.pump();
        },
        (err) => this.fail(ErrorCode.AUDIO_DECODE_FAILED, `opus decode: ${err.message}`),
      ).then(
        (d) => {
          c.decoderPending = false;
          if (!this.byId.has(c.id)) {
            d.close();
            return;
          }
          c.decoder = d;
          this.submitPackets(c);
          this.pump();
        },
        (e: Error) => {
          c.decoderPending = false;
          this.fail(ErrorCode.AUDIO_DECODE_FAILED, `no Opus decoder: ${e.message}`);
          c.packets.clear();
        },
      );
      return;
    }
    for (;;) {
      const p = c.packets.get(c.nextSubmit);
      if (!p) break;
      c.packets.delete(c.nextSubmit);
      c.decoder.decode(p, c.nextSubmit);
      c.nextSubmit++;
    }
    if (c.audio.ended && c.packets.size === 0 && !c.flushed) {
      c.flushed = true;
      c.decoder.flush();
    }
  }

  // ---- sdk mode -----------------------------------------------------------------------------

  /** Connects to the Motion Server (sdk mode); resolves once the session is confirmed. */
  start(): Promise<void> {
    if (this.config.mode !== 'sdk') {
      const msg = 'start() is for sdk mode; host mode takes yieldMessage or yieldAudioData/yieldFramesData';
      this.fail(ErrorCode.INVALID_STATE, msg);
      return Promise.reject(new Error(msg));
    }
    if (this.socket && this.connection !== 'failed' && this.connection !== 'disconnected') return Promise.resolve();
    const token = this.config.getSessionToken?.() ?? '';
    const server = this.config.serverUrl ?? (typeof location !== 'undefined' ? location.origin : '');
    let url: string;
    try {
      url = ingressUrl(server, this.config.avatarId ?? '', this.config.appId ?? '', token);
    } catch {
      this.fail(ErrorCode.INVALID_ARGUMENT, `bad server URL ${server}`);
      return Promise.reject(new Error('bad server URL'));
    }
    const factory: SocketFactory = this.config.socketFactory ?? ((u) => new WebSocket(u) as unknown as ReturnType<SocketFactory>);
    this.setConnection('connecting');
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      this.socket = new MotionSocket(factory, {
        onConfirmed: () => {
          this.setConnection('connected');
          settled = true;
          resolve();
        },
        onMessage: (m) => this.onServerMessage(m),
        onProtocolError: (err) => this.fail(ErrorCode.MALFORMED_PAYLOAD, err.message),
        onClosed: (code, reason, was) => {
          this.socket = null;
          this.sendReqId = null;
          for (const c of this.queue) if (!c.audio.ended) c.networkLost = true;
          // close codes and their meaning: CLOSE_ERRORS in errors.ts
          const err = classifyClose(code, was);
          const why = `close ${code}${reason ? `: ${reason}` : ''}`;
          if (!was) {
            this.setConnection('failed');
            this.fail(err ?? ErrorCode.CONNECTION_FAILED, `connection refused or lost before confirmation (${why})`);
          } else if (err === null) {
            this.setConnection('disconnected');
          } else {
            this.setConnection('failed');
            this.fail(err, `connection ended (${why})`);
          }
          this.pump();
          if (!settled) {
            settled = true;
            reject(new Error(`connection failed (close ${code})`));
          }
        },
      });
      try {
        this.socket.connect(url, this.config.sampleRate);
      } catch (e) {
        this.socket = null;
        this.setConnection('failed');
        this.fail(ErrorCode.CONNECTION_FAILED, (e as Error).message);
        settled = true;
        reject(e);
      }
    });
  }

  /**
   * Streams raw PCM s16le mono at the configured rate to the Motion Server (sdk mode); end=true
   * closes the request. Returns the conversation (request) id.
   */
  send(pcm: ArrayBuffer | ArrayBufferView, end = false): string | null {
    if (this.config.mode !== 'sdk' || !this.socket || this.connection !== 'connected') {
      this.fail(ErrorCode.INVALID_STATE, 'send() needs sdk mode and a connected session (call start())');
      return null;
    }
    let bytes: Uint8Array;
    try {
      bytes = toBytes(pcm);
    } catch (e) {
      this.fail(ErrorCode.INVALID_ARGUMENT, (e as Error).message);
      return null;
    }
    if (!this.sendReqId) {
      this.sendReqId = newConversationId();
      this.ids.adopt(this.sendReqId);
      if (!this.openConversation(this.sendReqId)) return null;
    }
    const id = this.sendReqId;
    this.lastReqId = id;
    this.socket.sendAudio(id, bytes, end);
    if (end) this.sendReqId = null;
    return id;
  }

  /** Closes the Motion Server connection (sdk mode); buffered audio still plays out. */
  close(): void {
    if (this.socket) {
      this.socket.close();
      this.socket = null;
    }
    this.sendReqId = null;
    if (this.config.mode === 'sdk') this.setConnection('disconnected');
  }

  private onServerMessage(m: DecodedMessage): void {
    if (m.type === MessageType.SERVER_ERROR && m.serverError) {
      const e = m.serverError;
      this.fail(classifyServerError(e.code, e.message), e.message || `server error ${e.code}`);
      const c = e.reqId ? this.byId.get(e.reqId) : this.queue[0];
      if (c) {
        c.serverFailed = true;
        if (!c.started) this.finish(c, 'serverError');
      }
      return;
    }
    if (m.type === MessageType.SERVER_RESPONSE_ANIMATION && m.animation) {
      const a = m.animation;
      const c = this.byId.get(a.reqId);
      if (!c || !this.ids.accepts(a.reqId)) {
        this.counters.dropped++;
        return;
      }
      try {
        this.ingestAnimation(c, a, true);
      } catch (e) {
        this.fail(ErrorCode.MALFORMED_PAYLOAD, (e as Error).message);
      }
      this.pump();
    }
  }

  // ---- playback -----------------------------------------------------------------------------

  private ensureSink(): AudioSink {
    if (!this.sink) {
      const s = new WebAudioSink();
      s.setVolume(this.volume);
      this.sink = s;
    }
    return this.sink;
  }

  /**
   * Feeds the jitter estimator. Arrivals are stamped with a monotonic wall clock, not the
   * audio clock: the audio clock only runs once the AudioContext has started, so payloads
   * that arrive before then would all share one stamp and look early. Only the conversation
   * at the head of the queue counts; a queued one is buffered ahead by definition.
   */
  private noteArrival(c: Conversation, mediaStart: number): void {
    if (c === this.queue[0]) this.jitter.arrival(performance.now() / 1000, mediaStart);
  }

  private ensureTimer(): void {
    if (this.timer || this.disposed) return;
    // Keeps scheduling ahead even when no frame is rendered (hidden tab, no view).
    this.timer = setInterval(() => this.pump(), 20);
  }

  private stopTimerIfIdle(): void {
    if (this.timer && this.queue.length === 0) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Advances playback: starts conversations whose buffer is ready, schedules audio, ends them. */
  pump(): void {
    if (this.disposed) return;
    const c = this.queue[0];
    if (!c) {
      this.stopTimerIfIdle();
      return;
    }
    let sink: AudioSink;
    try {
      sink = this.ensureSink();
    } catch (e) {
      this.fail(ErrorCode.AUDIO_CONTEXT_FAILED, (e as Error).message);
      return;
    }
    const now = sink.now();
    if (!c.started) {
      if (this.userPaused) return;
      if (c.serverFailed && c.decoding === 0 && c.audio.availableUntil === 0) {
        this.finish(c, 'serverError');
        return;
      }
      const target = this.jitter.targetDelay();
      const buffered = c.audio.availableUntil;
      const complete = c.audioComplete;
      if (complete && buffered === 0 && c.audio.pending === 0) {
        this.finish(c, 'playbackEnd'); // an empty conversation
        return;
      }
      if (c.networkLost && buffered === 0 && c.decoding === 0) {
        this.finish(c, 'networkError');
        return;
      }
      if (!(buffered >= target || (complete && buffered > 0) || (c.networkLost && buffered > 0))) return;
      // Packets still in the decoder are audio we already have: when a burst arrived, start
      // only once it is decoded (or plenty is ready), so a slow decoder cannot underrun us.
      if (c.decoding > 0 && buffered < Math.max(3 * target, 2.0)) return;
      if (c.readySince < 0) c.readySince = now;
      const needMotion = Math.min(target, buffered);
      const motionReady =
        c.fallback || c.motion.endFrame >= 0 || c.motion.availableUntil >= needMotion ||
        now - c.readySince >= MOTION_WAIT;
      if (!motionReady) return;
      c.clock.start(now + START_LEAD, 0);
      c.started = true;
      this.current = { id: c.id, media: 0 };
      this.machine.play(c.fallback ? 'fallbackMode' : 'playbackStart');
    }
    for (const ch of c.audio.take()) c.scheduleQueue.push(ch);
    while (c.scheduleQueue.length) {
      const ch = c.scheduleQueue[0];
      let when = c.clock.ctxFor(ch.start);
      if (when < now + LATE_SAFETY) {
        if (!c.rebuffering) {
          c.rebuffering = true;
          this.counters.underruns++;
          this.jitter.underrun(now + LATE_SAFETY - when);
          this.log.debug('underrun at media', ch.start.toFixed(3));
        }
        const ahead = c.audio.availableUntil - ch.start;
        if (!(ahead >= this.jitter.targetDelay() || c.audioComplete || c.networkLost || c.endReason)) break;
        c.clock.rebuffer(now + START_LEAD, ch.start);
        c.rebuffering = false;
        when = c.clock.ctxFor(ch.start);
      }
      sink.schedule(ch.pcm, ch.rate, when);
      if (!c.audioStarted) {
        c.audioStarted = true;
        const perf = sink.speakerTime ? sink.speakerTime(when) : performance.now() + (when - now) * 1000;
        this.dispatchEvent(new AudioStartEvent(c.id, when, perf));
      }
      const end = ch.start + ch.pcm.length / ch.rate;
      if (end > c.clock.scheduledUntil) c.clock.scheduledUntil = end;
      c.scheduleQueue.shift();
    }
    const media = c.clock.mediaAt(now);
    const drained = c.scheduleQueue.length === 0 && media >= c.clock.scheduledUntil - 1e-4;
    if (drained && c.endReason) this.finish(c, c.endReason);
    else if (drained && c.audioComplete) this.finish(c, 'playbackEnd');
    else if (drained && c.networkLost && c.decoding === 0) this.finish(c, 'networkError');
    else if (drained && c.serverFailed && c.decoding === 0) this.finish(c, 'serverError');
  }

  private finish(c: Conversation, reason: 'playbackEnd' | 'networkError' | 'serverError'): void {
    c.decoder?.close();
    this.ids.finish(c.id);
    this.byId.delete(c.id);
    this.queue = this.queue.filter((x) => x !== c);
    this.jitter.relax();
    if (this.queue.length) this.jitter.beginStream();
    if (c.started || reason !== 'playbackEnd') this.machine.stop(reason);
    this.current = { id: '', media: 0 };
    this.stopTimerIfIdle();
  }

  /**
   * Computes the face pose to render now into out (52 weights, then head pitch/yaw/roll in
   * radians). `wallSeconds` drives idle life only; speech follows the audio clock.
   */
  samplePose(out: Float32Array, wallSeconds: number): void {
    this.pump();
    const dt = this.lastWall < 0 ? 0 : Math.min(0.1, Math.max(0, wallSeconds - this.lastWall));
    this.lastWall = wallSeconds;
    if (this.config.idle === false) this.idlePose.fill(0);
    else this.idle.sample(wallSeconds, this.idlePose);
    const c = this.queue[0];
    let target = 0;
    let rec: RenderRecord | null = null;
    if (c && c.started && this.sink) {
      const now = this.sink.now();
      const media = Math.max(0, c.clock.mediaAt(now));
      this.current = { id: c.id, media };
      // audio ran dry: hold the pose briefly (a late packet), then relax to idle until it resumes
      const dry = media >= c.clock.scheduledUntil - 1e-3 && !c.audioComplete;
      if (!dry) c.stallSince = -1;
      else if (c.stallSince < 0) c.stallSince = now;
      const stalled = dry && now - c.stallSince > STALL_TO_IDLE;
      if (stalled) {
        target = 0;
      } else if (c.fallback) {
        fallbackPose(c.audio.loudness(media), this.speechPose);
        target = 1;
        this.lastSpeech.set(this.speechPose);
      } else {
        const r = c.motion.sample(media, this.speechPose);
        if (r.frame > 64) c.motion.trimBefore(r.frame - 64);
        if (r.ok) {
          target = 1;
          this.lastSpeech.set(this.speechPose);
          const fps = c.motion.fps;
          rec = {
            audioTime: now, conversationId: c.id, mediaTime: media,
            clockFrame: Math.floor(media * fps), shownFrame: r.frame, held: r.held, speechWeight: 0, stalled: dry,
          };
        }
      }
    }
    const rate = target > this.speechW ? dt / 0.12 : dt / 0.25;
    this.speechW = target > this.speechW ? Math.min(target, this.speechW + rate) : Math.max(target, this.speechW - rate);
    if (target === 1 && this.speechW === 0 && dt === 0) this.speechW = 1;
    const w = this.speechW;
    const sp = this.lastSpeech;
    const id = this.idlePose;
    for (let k = 0; k < ARKIT_COUNT; k++) out[k] = id[k] + (sp[k] - id[k]) * w;
    // idle blinks go on during speech unless the motion brings its own
    const ownBlinks = !!c && c.started && !c.fallback && c.motion.hasChannel(ARKIT.eyeBlinkLeft);
    if (!ownBlinks) for (const b of BLINKS) out[b] = Math.max(out[b], id[b]);
    for (let k = H; k < H + 3; k++) out[k] = sp[k] * w + id[k] * (1 - 0.5 * w);
    this.counters.rendered++;
    if (rec && this.config.recordRenders) {
      rec.speechWeight = w;
      this.renders.push(rec);
      if (this.renders.length > 20000) this.renders.splice(0, 5000);
    }
  }

  getStats(): ControllerStats {
    return {
      state: this.machine.state,
      connection: this.connection,
      conversationId: this.ids.current(),
      mediaTime: this.current.media,
      jitterDelay: this.jitter.targetDelay(),
      underruns: this.counters.underruns,
      droppedPayloads: this.counters.dropped,
      decodedPackets: this.counters.decoded,
      renderedFrames: this.counters.rendered,
      queued: this.queue.length,
    };
  }

  private setConnection(s: ConnectionState): void {
    if (this.connection === s) return;
    this.connection = s;
    this.log.info('connection', s);
    this.dispatchEvent(new ConnectionStateEvent(s));
    this.onConnectionState?.(s);
  }

  /** Reports an error to 'error' listeners and onError. @internal (AvatarView reports its own through it) */
  fail(code: ErrorCodeValue, message: string): void {
    this.log.warn(code, message);
    this.dispatchEvent(new AvatarErrorEvent(code, message));
    this.onError?.({ code, message });
  }

  /** Releases audio, decoders, timers and the connection. */
  dispose(): void {
    if (this.disposed) return;
    this.close();
    this.dropAll();
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.sink instanceof WebAudioSink) this.sink.close();
    this.sink = null;
  }
}

/** Audio-only fallback: a plausible mouth from loudness when no motion is available. */
export function fallbackPose(rms: number, out: Float32Array): void {
  out.fill(0);
  const open = Math.min(0.75, Math.max(0, (rms - 0.015) * 5));
  out[ARKIT.jawOpen] = open;
  out[ARKIT.mouthFunnel] = open * 0.25;
  out[ARKIT.mouthLowerDownLeft] = out[ARKIT.mouthLowerDownRight] = open * 0.3;
  out[ARKIT.mouthUpperUpLeft] = out[ARKIT.mouthUpperUpRight] = open * 0.15;
  out[ARKIT.mouthClose] = 0;
}
