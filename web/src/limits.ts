/* Protocol limits of the web SDK: the values of include/avatarkit/protocol.h, defined once
 * here (test/unit/limits.test.mjs parses that header and fails when the two differ). */

/** Largest serialized Message accepted (AK_MAX_MESSAGE_BYTES, 1 MiB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Motion frames in one AvatarMotion payload (AK_MAX_PAYLOAD_FRAMES). */
export const MAX_PAYLOAD_FRAMES = 1024;
/** Opus packets in one AvatarAudio payload (AK_MAX_PAYLOAD_PACKETS). */
export const MAX_PAYLOAD_PACKETS = 1024;
