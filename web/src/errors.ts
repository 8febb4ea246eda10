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
  /** ServerError code 16 or 3 with egress words, or an egress phrase (AKS_INVALID_EGRESS_CONFIG). */
  INVALID_EGRESS_CONFIG: 'AKS_INVALID_EGRESS_CONFIG',
  /** ServerError code 14, or egress not configured / not reachable (AKS_EGRESS_UNAVAILABLE). */
  EGRESS_UNAVAILABLE: 'AKS_EGRESS_UNAVAILABLE',
  /** ServerError code 4001 or "credits exhausted" (AKS_CREDITS_EXHAUSTED). */
  CREDITS_EXHAUSTED: 'AKS_CREDITS_EXHAUSTED',
  /** ServerError code 4002 or a session time limit phrase (AKS_SESSION_DURATION_EXCEEDED). */
  SESSION_DURATION_EXCEEDED: 'AKS_SESSION_DURATION_EXCEEDED',
  /** "session denied" (AKS_BILLING_REQUIRED). */
  BILLING_REQUIRED: 'AKS_BILLING_REQUIRED',
  /** "app id mismatch" (AKS_APP_ID_MISMATCH). */
  APP_ID_MISMATCH: 'AKS_APP_ID_MISMATCH',
  /** "app id unrecognized" (AKS_APP_ID_UNRECOGNIZED). */
  APP_ID_UNRECOGNIZED: 'AKS_APP_ID_UNRECOGNIZED',
  /** "no audio input for" / "livekit silence timeout" (AKS_IDLE_TIMEOUT). */
  IDLE_TIMEOUT: 'AKS_IDLE_TIMEOUT',
  /** "driven server ..." upstream failures (AKS_UPSTREAM_ERROR). */
  UPSTREAM_ERROR: 'AKS_UPSTREAM_ERROR',
  /** The server could not use our handshake: "expected ClientConfigureSession message",
   *  "unexpected message type", "failed to unmarshal initial message" (AKS_PROTOCOL_ERROR). */
  PROTOCOL_ERROR: 'AKS_PROTOCOL_ERROR',
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
 * Rule 5 of PROTOCOL.md section 6: phrases in the message, in this order (the first that
 * appears wins, case-insensitive). The C SDK's table (sdk/errors.c, k_phrases) is the same.
 */
const SERVER_PHRASES: ReadonlyArray<readonly [readonly string[], ErrorCodeValue]> = [
  [['credits exhausted'], ErrorCode.CREDITS_EXHAUSTED],
  [['session time limit reached', 'maximum session duration'], ErrorCode.SESSION_DURATION_EXCEEDED],
  [['session denied'], ErrorCode.BILLING_REQUIRED],
  [['invalid session token', 'empty token'], ErrorCode.UNAUTHORIZED],
  [['token is expired', 'session token expired'], ErrorCode.SESSION_TOKEN_EXPIRED],
  [['app id mismatch'], ErrorCode.APP_ID_MISMATCH],
  [['appidunrecognized', 'app id unrecognized'], ErrorCode.APP_ID_UNRECOGNIZED],
  [['avatar not found'], ErrorCode.AVATAR_NOT_FOUND],
  [['unsupported sample rate'], ErrorCode.UNSUPPORTED_SAMPLE_RATE],
  [['livekit silence timeout', 'no audio input for'], ErrorCode.IDLE_TIMEOUT],
  [['livekit_egress', 'agora_egress', 'missing livekit credentials', 'unauthorized'], ErrorCode.INVALID_EGRESS_CONFIG],
  [['egress client is not configured on server', 'failed to create egress connection'], ErrorCode.EGRESS_UNAVAILABLE],
  [['driven server returned non-200 status code', 'driven server request failed'], ErrorCode.UPSTREAM_ERROR],
  [['expected clientconfiguresession message', 'unexpected message type', 'failed to unmarshal initial message'], ErrorCode.PROTOCOL_ERROR],
];

/**
 * Maps a ServerError (gRPC-style code + message) to a stable code by the official Server SDKs'
 * rules, in their order (PROTOCOL.md section 6; the C SDK's sdk/errors.c does the same):
 *   1. code 3: INVALID_EGRESS_CONFIG if the message mentions livekit, agora or egress, else
 *      INVALID_REQUEST (the code wins over any phrase: "unsupported sample rate" with code 3
 *      is INVALID_REQUEST);
 *   2. code 16: INVALID_EGRESS_CONFIG (always);  3. code 14: EGRESS_UNAVAILABLE;
 *   4. code 4001: CREDITS_EXHAUSTED, 4002: SESSION_DURATION_EXCEEDED;
 *   5. the phrases of SERVER_PHRASES, in order;
 * and SERVER_ERROR when no rule applies. (Rule 6, HTTP statuses, needs the refused upgrade's
 * status, which browsers never show: a refused WebSocket is CONNECTION_FAILED.)
 */
export function classifyServerError(code: number, message: string): ErrorCodeValue {
  const text = (message ?? '').toLowerCase();
  if (code === 3)
    return /livekit|agora|egress/.test(text) ? ErrorCode.INVALID_EGRESS_CONFIG : ErrorCode.INVALID_REQUEST;
  if (code === 16) return ErrorCode.INVALID_EGRESS_CONFIG;
  if (code === 14) return ErrorCode.EGRESS_UNAVAILABLE;
  if (code === 4001) return ErrorCode.CREDITS_EXHAUSTED;
  if (code === 4002) return ErrorCode.SESSION_DURATION_EXCEEDED;
  for (const [phrases, c] of SERVER_PHRASES) if (phrases.some((p) => text.includes(p))) return c;
  return ErrorCode.SERVER_ERROR;
}
