/* Stable error codes reported through onError({code, message}). Names reuse the C libraries'
 * AK_* spellings where the meaning is the same; the table is append-only. */

export const ErrorCode = {
  /** Argument of the wrong type or value (maps to AK_EINVAL). */
  INVALID_ARGUMENT: 'AK_EINVAL',
  /** A payload could not be parsed (AK_EPROTO). */
  MALFORMED_PAYLOAD: 'AK_EPROTO',
  /** Payload layout version not understood (AK_EVERSION). */
  UNSUPPORTED_VERSION: 'AK_EVERSION',
  /** Call not valid in the current state, e.g. send() before start() (AK_ESTATE). */
  INVALID_STATE: 'AK_ESTATE',
  /** Audio decoding failed (AK_ECODEC). */
  AUDIO_DECODE_FAILED: 'AK_ECODEC',
  /** A configured limit was exceeded: buffered audio or frames (AK_ETOOBIG). */
  BUFFER_OVERFLOW: 'AK_ETOOBIG',
  /** Sample rate not accepted (AK_ERATE). */
  UNSUPPORTED_SAMPLE_RATE: 'AK_ERATE',
  /** Network failure talking to the Motion Server (AK_EIO). */
  NETWORK_ERROR: 'AK_EIO',
  /** The Motion Server refused the session token. */
  UNAUTHORIZED: 'AK_EAUTH',
  /** The Motion Server reported an error for a request (ServerError message). */
  SERVER_ERROR: 'AK_ESERVER',
  /** Avatar assets could not be fetched or parsed. */
  AVATAR_LOAD_FAILED: 'AK_EAVATAR',
  /** WebGL could not be initialised. */
  RENDER_FAILED: 'AK_ERENDER',
  /** Web Audio could not be started (e.g. autoplay policy). */
  AUDIO_CONTEXT_FAILED: 'AK_EAUDIO',
  /** The SDK was used before AvatarSDK.initialize(). */
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

/** Maps a ServerError message to a stable code using the phrases PROTOCOL.md fixes. */
export function classifyServerError(code: number, message: string): ErrorCodeValue {
  const m = message.toLowerCase();
  if (m.includes('unsupported sample rate')) return ErrorCode.UNSUPPORTED_SAMPLE_RATE;
  if (m.includes('session token') || m.includes('app id mismatch') || code === 16)
    return ErrorCode.UNAUTHORIZED;
  if (m.includes('avatar not found')) return ErrorCode.AVATAR_LOAD_FAILED;
  return ErrorCode.SERVER_ERROR;
}
