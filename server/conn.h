/* Per-connection data lws allocates for every connection of the one protocol: the HTTP
 * request state before an upgrade, the ingress session pointer after it. */
#ifndef AK_CONN_H
#define AK_CONN_H

#include <stddef.h>

#include "server.h"

enum { AK_ROUTE_NONE = 0, AK_ROUTE_TOKENS };

typedef struct ak_conn {
  struct {
    int route;
    char api_key[AK_MAX_STR];
    int api_key_state; /* 0 missing, 1 present, 2 present but too long (invalid) */
    int rate_wait;     /* > 0: over the per-IP token rate limit, retry after that many s */
    char body[AK_MAX_HTTP_BODY];
    size_t body_len;
    int body_too_big;
  } http;
  ak_session *session; /* set once the WebSocket is established */
} ak_conn;

#endif
