/* Protocol limits of the web SDK: the values of include/avatarkit/protocol.h, defined once
 * here (test/unit/limits.test.mjs parses that header and fails when the two differ). */

/** Largest serialized Message accepted from the Motion Server (AK_MAX_MESSAGE_BYTES, 1 MiB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/**
 * Largest Message the Motion Server accepts from a client by default (its
 * `--max-message-bytes`, AK_MAX_INGRESS_MESSAGE_BYTES, 8 MiB): a whole request of 60 s of
 * 48 kHz PCM fits in one message. A different limit for the other direction.
 */
export const MAX_INGRESS_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Motion frames in one AvatarMotion payload (AK_MAX_PAYLOAD_FRAMES). */
export const MAX_PAYLOAD_FRAMES = 1024;
/** Opus packets in one AvatarAudio payload (AK_MAX_PAYLOAD_PACKETS). */
export const MAX_PAYLOAD_PACKETS = 1024;
