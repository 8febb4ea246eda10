/* Status codes shared by avatarkit's core libraries (protocol, codec, engine).
 * Functions return a count >= 0 or one of these negative codes; outputs stay untouched on
 * failure. The table is append-only: codes never change meaning. */
#ifndef AVATARKIT_ERROR_H
#define AVATARKIT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define AK_ERRNO_MAP(X)                                 \
  X(OK, 0, "success")                                   \
  X(ENOMEM, -1, "out of memory")                        \
  X(EINVAL, -2, "invalid argument")                     \
  X(ERANGE, -3, "value out of range")                   \
  X(EPROTO, -4, "malformed message")                    \
  X(EVERSION, -5, "unsupported version")                \
  X(ECORRUPT, -6, "corrupt data")                       \
  X(ETOOBIG, -7, "input exceeds a configured limit")    \
  X(ERATE, -8, "unsupported sample rate")               \
  X(ECODEC, -9, "audio codec failure")                  \
  X(EIO, -10, "i/o error")                              \
  X(ESTATE, -11, "call not valid in the current state") \
  X(EFORMAT, -12, "unsupported format")                 \
  X(EAGAIN, -13, "no data available yet")

typedef enum ak_err {
#define AK__ERR_ENUM(name, code, msg) AK_##name = code,
  AK_ERRNO_MAP(AK__ERR_ENUM)
#undef AK__ERR_ENUM
} ak_err;

/* Human-readable message for a code; never NULL ("unknown error" for unknown codes). */
const char *ak_strerror(int code);
/* Stable name of a code, e.g. "AK_EPROTO"; never NULL. */
const char *ak_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif
