/* Typed DOM events of the web SDK. AvatarController and AvatarView are EventTargets whose
 * addEventListener knows each event's name and class, so listeners are type-checked:
 *   controller.addEventListener('error', (e) => console.log(e.code, e.message));
 */

import type { ConnectionState, ConversationReason, ConversationState } from './conversation.js';
import type { AvatarError, ErrorCodeValue } from './errors.js';

/** The Motion Server connection changed state (sdk mode). */
export class ConnectionStateEvent extends Event {
  constructor(readonly state: ConnectionState) {
    super('connectionstate');
  }
}

/** Playback changed state, with the reason and the conversation it concerns. */
export class ConversationStateEvent extends Event {
  constructor(
    readonly state: ConversationState,
    readonly reason: ConversationReason,
    readonly conversationId: string | null,
  ) {
    super('conversationstate');
  }
}

/** Something failed: a stable code (errors.ts) and a human-readable message. */
export class AvatarErrorEvent extends Event implements AvatarError {
  constructor(
    readonly code: ErrorCodeValue,
    readonly message: string,
  ) {
    super('error');
  }
}

/** A conversation's first audio sample was scheduled: `contextTime` is when it is heard on
 *  the controller's audio clock (AudioContext time minus output latency), `performanceTime`
 *  the matching performance.now() (from getOutputTimestamp where the browser has it). Fires
 *  once per conversation, before the sample is heard: use it for first-sound readouts. */
export class AudioStartEvent extends Event {
  constructor(
    readonly conversationId: string,
    readonly contextTime: number,
    readonly performanceTime: number,
  ) {
    super('audiostart');
  }
}

/** The first frame with the avatar on screen was rendered (AvatarView). */
export class FirstRenderEvent extends Event {
  constructor() {
    super('firstrender');
  }
}

export interface AvatarControllerEventMap {
  audiostart: AudioStartEvent;
  connectionstate: ConnectionStateEvent;
  conversationstate: ConversationStateEvent;
  error: AvatarErrorEvent;
}

export interface AvatarViewEventMap {
  firstrender: FirstRenderEvent;
}

type Listener<E> = ((ev: E) => void) | { handleEvent(ev: E): void };

/** EventTarget whose add/removeEventListener are typed by an event map M. */
export interface TypedEventTarget<M> extends EventTarget {
  addEventListener<K extends keyof M & string>(type: K, listener: Listener<M[K]> | null, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof M & string>(type: K, listener: Listener<M[K]> | null, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** The EventTarget constructor seen as making a TypedEventTarget<M>: `class X extends typedEventTarget<Map>()`. */
export function typedEventTarget<M>(): { new (): TypedEventTarget<M> } {
  return EventTarget as unknown as { new (): TypedEventTarget<M> };
}
