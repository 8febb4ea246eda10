/* SDK-mode connection to the Motion Server's driven-ingress WebSocket: query-parameter auth,
 * ClientConfigureSession handshake, audio input, interrupt, and decoded server messages. */

import { decodeMessage, encodeAudioInput, encodeConfigureSession, encodeInterrupt, MessageType, type DecodedMessage } from './proto.js';

export interface SocketLike {
  binaryType: string;
  readyState: number;
  send(data: Uint8Array | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type SocketFactory = (url: string) => SocketLike;

export interface MotionSocketEvents {
  onConfirmed(connectionId: string): void;
  onMessage(m: DecodedMessage): void;
  onClosed(code: number, reason: string, wasConfirmed: boolean): void;
  onProtocolError(err: Error): void;
}

/** Builds ws(s)://host/v2/driveningress/websocket?id=..&appId=..&sessionKey=.. from a base URL. */
export function ingressUrl(serverUrl: string, avatarId: string, appId: string, token: string): string {
  const u = new URL(serverUrl);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  let path = u.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/v2/driveningress')) path += '/v2/driveningress';
  u.pathname = path + '/websocket';
  u.search = '';
  u.searchParams.set('id', avatarId);
  u.searchParams.set('appId', appId);
  if (token) u.searchParams.set('sessionKey', token);
  return u.toString();
}

export class MotionSocket {
  private ws: SocketLike | null = null;
  connectionId = '';
  private confirmed = false;
  constructor(
    private readonly factory: SocketFactory,
    private readonly ev: MotionSocketEvents,
  ) {}

  get open(): boolean {
    return !!this.ws && this.ws.readyState === 1 && this.confirmed;
  }

  connect(url: string, sampleRate: number): void {
    const ws = this.factory(url);
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => ws.send(encodeConfigureSession(sampleRate, 0));
    ws.onmessage = (e) => {
      let bytes: Uint8Array;
      if (e.data instanceof ArrayBuffer) bytes = new Uint8Array(e.data);
      else if (ArrayBuffer.isView(e.data)) bytes = new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength);
      else {
        this.ev.onProtocolError(new Error('text frame on a binary protocol'));
        return;
      }
      let m: DecodedMessage;
      try {
        m = decodeMessage(bytes);
      } catch (err) {
        this.ev.onProtocolError(err as Error);
        return;
      }
      if (m.type === MessageType.SERVER_CONFIRM_SESSION && m.confirmSession) {
        this.confirmed = true;
        this.connectionId = m.confirmSession.connectionId;
        this.ev.onConfirmed(this.connectionId);
        return;
      }
      this.ev.onMessage(m);
    };
    ws.onerror = () => undefined; // the close event that follows carries the outcome
    ws.onclose = (e) => {
      const was = this.confirmed;
      this.confirmed = false;
      if (this.ws === ws) this.ws = null;
      this.ev.onClosed(e.code, e.reason, was);
    };
  }
  sendAudio(reqId: string, pcm: Uint8Array, end: boolean): void {
    this.ws?.send(encodeAudioInput(reqId, pcm, end));
  }
  sendInterrupt(reqId: string): void {
    if (this.open) this.ws!.send(encodeInterrupt(reqId));
  }
  close(): void {
    const ws = this.ws;
    this.ws = null;
    this.confirmed = false;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      try {
        ws.close(1000, 'client close');
      } catch {
        /* ignore */
      }
    }
  }
}
