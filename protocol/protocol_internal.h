/* Internal constants shared by the protocol sources. */
#ifndef AK_PROTOCOL_INTERNAL_H
#define AK_PROTOCOL_INTERNAL_H
#include "avatarkit/version.h"
/* Newest payload layout this build can read. */
#define AK_PAYLOAD_VERSION_MAX AK_PAYLOAD_VERSION
#endif
