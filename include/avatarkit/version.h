/* avatarkit version. Same major = same ABI and wire layout. */
#ifndef AVATARKIT_VERSION_H
#define AVATARKIT_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define AK_VERSION_MAJOR 0
#define AK_VERSION_MINOR 1
#define AK_VERSION_PATCH 0
#define AK_VERSION_STRING "0.1.0"
#define AK_VERSION_NUM(a, b, c) (((a) << 16) | ((b) << 8) | (c))
#define AK_VERSION AK_VERSION_NUM(AK_VERSION_MAJOR, AK_VERSION_MINOR, AK_VERSION_PATCH)
/* True when the headers are at least version a.b.c. */
#define AK_VERSION_AT_LEAST(a, b, c) (AK_VERSION >= AK_VERSION_NUM(a, b, c))

/* Layout version of the AvatarAudio / AvatarMotion payloads (protocol/avatarkit.proto). */
#define AK_PAYLOAD_VERSION 1

#ifdef __cplusplus
}
#endif
#endif
