/* ak_strerror / ak_err_name: messages and names from the one table in error.h. */
#include "avatarkit/error.h"

const char *ak_strerror(int code) {
  switch (code) {
#define AK__ERR_MSG(name, c, msg) \
  case c:                         \
    return msg;
    AK_ERRNO_MAP(AK__ERR_MSG)
#undef AK__ERR_MSG
    default:
      return "unknown error";
  }
}

const char *ak_err_name(int code) {
  switch (code) {
#define AK__ERR_NAME(name, c, msg) \
  case c:                          \
    return "AK_" #name;
    AK_ERRNO_MAP(AK__ERR_NAME)
#undef AK__ERR_NAME
    default:
      return "AK_UNKNOWN";
  }
}
