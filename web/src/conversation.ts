/* Conversation bookkeeping that needs no browser: the id rules of host mode (which payloads
 * belong to which conversation, which are dropped) and the idle/playing/paused state machine
 * with the reason of every transition. */

export type ConversationState = 'idle' | 'playing' | 'paused';
export type ConversationReason =
  | 'playbackStart'
  | 'userAction'
  | 'playbackEnd'
  | 'networkError'
  | 'serverError'
  | 'fallbackMode';

export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'failed';

/** Finished conversation ids remembered to drop their late payloads. */
const MAX_GONE = 256;
const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Id shaped like the server's req ids: YYYYMMDDHHMMSS_<12 url-safe random chars> (UTC). */
export function newConversationId(now = new Date(), rand: (n: number) => Uint8Array = randomBytes): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const ts =
    p(now.getUTCFullYear(), 4) + p(now.getUTCMonth() + 1) + p(now.getUTCDate()) +
    p(now.getUTCHours()) + p(now.getUTCMinutes()) + p(now.getUTCSeconds());
  const r = rand(12);
  let s = '';
  for (let i = 0; i < 12; i++) s += ID_CHARS[r[i] & 63];
  return `${ts}_${s}`;
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(b);
  else for (let i = 0; i < n; i++) b[i] = Math.floor(Math.random() * 256);
  return b;
}

/**
 * Host-mode id rules. Audio opens a conversation: the first yieldAudioData after none is open
 * (or after the open one received end=true) starts a new id. Motion is accepted only for ids
 * that are still live (open, queued or playing); frames for an unknown, interrupted or
 * finished id are dropped.
 */
export class ConversationIds {
  private open: string | null = null;
  private live = new Set<string>();
  private order: string[] = [];
  /** Recently finished or interrupted ids (bounded), so late payloads cannot reopen them. */
  private gone = new Set<string>();
  constructor(private readonly makeId: () => string = () => newConversationId()) {}

  /** Id that receives the next audio; opens a new conversation when none is open. */
  forAudio(end: boolean): { id: string; isNew: boolean } {
    let isNew = false;
    if (this.open === null) {
      this.open = this.makeId();
      this.live.add(this.open);
      this.order.push(this.open);
      isNew = true;
    }
    const id = this.open;
    if (end) this.open = null;
    return { id, isNew };
  }
  /** The conversation currently receiving audio, else the newest live one, else null. */
  current(): string | null {
    if (this.open) return this.open;
    return this.order.length ? this.order[this.order.length - 1] : null;
  }
  accepts(id: string): boolean {
    return this.live.has(id);
  }
  /** Marks a conversation finished (played out): later payloads for it are dropped. */
  finish(id: string): void {
    this.remember(id);
    this.live.delete(id);
    this.order = this.order.filter((x) => x !== id);
    if (this.open === id) this.open = null;
  }
  /** Interrupt/clear: every live conversation is finished. */
  finishAll(): string[] {
    const ids = [...this.order];
    for (const id of ids) this.remember(id);
    this.live.clear();
    this.order = [];
    this.open = null;
    return ids;
  }
  /** Whether id was finished or interrupted recently (the last MAX_GONE ids). */
  ended(id: string): boolean {
    return this.gone.has(id);
  }
  private remember(id: string): void {
    this.gone.delete(id);
    this.gone.add(id);
    if (this.gone.size > MAX_GONE) this.gone.delete(this.gone.values().next().value as string);
  }
  /** Registers an id chosen elsewhere (sdk mode and yieldMessage use the server's req_id). */
  adopt(id: string): void {
    if (this.live.has(id)) return;
    this.live.add(id);
    this.order.push(id);
  }
  get liveCount(): number {
    return this.live.size;
  }
}

export type StateListener = (state: ConversationState, reason: ConversationReason) => void;

/**
 * idle -> playing (playbackStart | fallbackMode), playing <-> paused (userAction),
 * playing|paused -> idle (playbackEnd | userAction | networkError | serverError).
 * Transitions to the same state are ignored except playing(fallbackMode), which announces
 * that the current conversation fell back to audio only.
 */
export class ConversationStateMachine {
  state: ConversationState = 'idle';
  /** Every transition taken, newest last (bounded). */
  readonly history: { state: ConversationState; reason: ConversationReason }[] = [];
  constructor(private readonly listener?: StateListener) {}

  private go(state: ConversationState, reason: ConversationReason): boolean {
    this.state = state;
    this.history.push({ state, reason });
    if (this.history.length > 256) this.history.shift();
    this.listener?.(state, reason);
    return true;
  }
  /** Playback of a conversation began. */
  play(reason: 'playbackStart' | 'fallbackMode' = 'playbackStart'): boolean {
    if (this.state === 'idle') return this.go('playing', reason);
    if (this.state === 'playing' && reason === 'fallbackMode') return this.go('playing', reason);
    return false;
  }
  pause(): boolean {
    return this.state === 'playing' ? this.go('paused', 'userAction') : false;
  }
  resume(): boolean {
    return this.state === 'paused' ? this.go('playing', 'userAction') : false;
  }
  /** Playback stopped: ran out (playbackEnd), interrupted (userAction) or failed. */
  stop(reason: Exclude<ConversationReason, 'playbackStart' | 'fallbackMode'>): boolean {
    return this.state === 'idle' ? false : this.go('idle', reason);
  }
}
