/* The web SDK's one error vocabulary: stable codes reported through the 'error' event, and the
 * mapping from what the Motion Server sends (close codes, ServerError messages) onto them.
 *
 * Each value is the name of the C constant with the same meaning: AK_* from
 * include/avatarkit/error.h (core status codes), AKS_* from include/avatarkit/sdk.h (the C
 * Server SDK's session codes). Codes with no C counterpart (browser-only concepts: avatar
 * assets, WebGL, Web Audio, initialization) keep an AK_E* name that C never uses. The table is
 * append-only. */

export const ErrorCode = {
  /** Argument of the wrong type or value (AK_EINVAL). */
  INVALID_ARGUMENT: 'AK_EINVAL',
  /** A payload could not be parsed, or the server could not parse ours (AK_EPROTO). */
  MALFORMED_PAYLOAD: 'AK_EPROTO',
  /** Payload layout version not understood (AK_EVERSION). */
  UNSUPPORTED_VERSION: 'AK_EVERSION',
  /** Call not valid in the current state, e.g. send() before start() (AK_ESTATE). */
  INVALID_STATE: 'AK_ESTATE',
  /** Audio decoding failed (AK_ECODEC). */
  AUDIO_DECODE_FAILED: 'AK_ECODEC',
  /** A limit was exceeded: buffered audio or frames, or a message too large (AK_ETOOBIG). */
  BUFFER_OVERFLOW: 'AK_ETOOBIG',
  /** Sample rate not accepted (AK_ERATE). */
  UNSUPPORTED_SAMPLE_RATE: 'AK_ERATE',
  /** The connection could not be opened or was lost before the session was confirmed
   *  (AKS_CONNECTION_FAILED). A refused upgrade (bad token, unknown app) also ends here:
   *  browsers do not show the HTTP status of a refused WebSocket. */
  CONNECTION_FAILED: 'AKS_CONNECTION_FAILED',
  /** A confirmed session's connection ended abnormally or the server went away
   *  (AKS_CONNECTION_CLOSED). */
  CONNECTION_CLOSED: 'AKS_CONNECTION_CLOSED',
  /** The Motion Server refused the session token or app id (AKS_SESSION_TOKEN_INVALID). */
  UNAUTHORIZED: 'AKS_SESSION_TOKEN_INVALID',
  /** The session token expired during the session (close 4010; AKS_SESSION_TOKEN_EXPIRED). */
  SESSION_TOKEN_EXPIRED: 'AKS_SESSION_TOKEN_EXPIRED',
  /** The server refused our configuration or request (close 1008; AKS_INVALID_REQUEST). */
  INVALID_REQUEST: 'AKS_INVALID_REQUEST',
  /** The server does not know the avatar id (AKS_AVATAR_NOT_FOUND). */
  AVATAR_NOT_FOUND: 'AKS_AVATAR_NOT_FOUND',
  /** The Motion Server failed or reported an error for a request (AKS_SERVER_ERROR). */
  SERVER_ERROR: 'AKS_SERVER_ERROR',
  /** Avatar assets could not be fetched or parsed (browser only). */
  AVATAR_LOAD_FAILED: 'AK_EAVATAR',
  /** WebGL could not be initialised (browser only). */
  RENDER_FAILED: 'AK_ERENDER',
  /** Web Audio could not be started, e.g. autoplay policy (browser only). */
  AUDIO_CONTEXT_FAILED: 'AK_EAUDIO',
  /** The SDK was used before initialize() (browser only). */
  NOT_INITIALIZED: 'AK_EINIT',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface AvatarError {
  code: ErrorCodeValue;
  message: string;
}

export class AvatarKitError extends Error implements AvatarError {
  constructor(readonly code: ErrorCodeValue, message: string) {
    super(message);
    this.name = 'AvatarKitError';
  }
}

/**
 * The WebSocket close codes the Motion Server sends: AK_CLOSE_MAP in
 * include/avatarkit/protocol.h, name for name and code for code (test/unit/limits.test.mjs
 * checks it). No other code comes from the server; 1005/1006 are made up by the browser when
 * a connection ends without a close frame.
 */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL: 1002,
  UNSUPPORTED_DATA: 1003,
  INVALID_PAYLOAD: 1007,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  TOKEN_EXPIRED: 4010,
} as const;

/**
 * What each server close code means to an app (null: not an error):
 *
 *   1000 NORMAL            -> none (idle timeout or our own close: state 'disconnected')
 *   1001 GOING_AWAY        -> CONNECTION_CLOSED  (server shutting down or draining; reconnect)
 *   1002 PROTOCOL          -> MALFORMED_PAYLOAD  (the server could not parse our message)
 *   1003 UNSUPPORTED_DATA  -> MALFORMED_PAYLOAD  (we sent a text frame)
 *   1007 INVALID_PAYLOAD   -> INVALID_ARGUMENT   (our audio payload was invalid)
 *   1008 POLICY            -> INVALID_REQUEST    (configuration refused, or we did not read)
 *   1009 TOO_BIG           -> BUFFER_OVERFLOW    (our message was over AK_MAX_MESSAGE_BYTES)
 *   1011 INTERNAL          -> SERVER_ERROR
 *   4010 TOKEN_EXPIRED     -> SESSION_TOKEN_EXPIRED
 *
 * Any other code (1005/1006 from the browser itself) is a lost connection: CONNECTION_FAILED
 * before the session was confirmed, CONNECTION_CLOSED after.
 */
export const CLOSE_ERRORS: Readonly<Record<number, ErrorCodeValue | null>> = {
  [CloseCode.NORMAL]: null,
  [CloseCode.GOING_AWAY]: ErrorCode.CONNECTION_CLOSED,
  [CloseCode.PROTOCOL]: ErrorCode.MALFORMED_PAYLOAD,
  [CloseCode.UNSUPPORTED_DATA]: ErrorCode.MALFORMED_PAYLOAD,
  [CloseCode.INVALID_PAYLOAD]: ErrorCode.INVALID_ARGUMENT,
  [CloseCode.POLICY]: ErrorCode.INVALID_REQUEST,
  [CloseCode.TOO_BIG]: ErrorCode.BUFFER_OVERFLOW,
  [CloseCode.INTERNAL]: ErrorCode.SERVER_ERROR,
  [CloseCode.TOKEN_EXPIRED]: ErrorCode.SESSION_TOKEN_EXPIRED,
};

/** The error a close means (see CLOSE_ERRORS), or null for a normal close. */
export function classifyClose(code: number, confirmed: boolean): ErrorCodeValue | null {
  if (code in CLOSE_ERRORS) return CLOSE_ERRORS[code];
  return confirmed ? ErrorCode.CONNECTION_CLOSED : ErrorCode.CONNECTION_FAILED;
}

/**
 * Maps a ServerError (gRPC-style code + message) to a stable code, using the phrases
 * PROTOCOL.md fixes: unsupported sample rate -> UNSUPPORTED_SAMPLE_RATE; session token or app
 * id problems and gRPC 16 (UNAUTHENTICATED) -> UNAUTHORIZED, or SESSION_TOKEN_EXPIRED when the
 * token expired; avatar not found -> AVATAR_NOT_FOUND; anything else -> SERVER_ERROR.
 */
export function classifyServerError(code: number, message: string): ErrorCodeValue {
  const m = message.toLowerCase();
  if (m.includes('unsupported sample rate')) return ErrorCode.UNSUPPORTED_SAMPLE_RATE;
  if (m.includes('session token expired')) return ErrorCode.SESSION_TOKEN_EXPIRED;
  if (m.includes('session token') || m.includes('app id mismatch') || code === 16)
    return ErrorCode.UNAUTHORIZED;
  if (m.includes('avatar not found')) return ErrorCode.AVATAR_NOT_FOUND;
  return ErrorCode.SERVER_ERROR;
}
