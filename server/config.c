/* Default settings of the motion server, shared by main() and the fuzz/test harnesses. */
#include <stdio.h>
#include <string.h>

#include "avatarkit/protocol.h"
#include "server.h"

ak_server *ak__server_from_wsi(struct lws *wsi) {
  return lws_context_user(lws_get_context(wsi));
}

void ak__server_config_defaults(ak_server_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->host, sizeof c->host, "127.0.0.1");
  c->port = 8080;
  c->idle_timeout_s = 60;
  c->fps = 25;
  c->lookahead_ms = -1;
  c->expressiveness = 0.7f;
  c->opus_bitrate = 24000;
  c->opus_complexity = 5;
  c->log_level = AK_LOG_INFO;
  c->max_message_bytes = AK_MAX_MESSAGE_BYTES;
  c->max_sessions = 1000;
  c->max_token_ttl_s = 86400;
  c->token_single_use = 1;
  c->drain_timeout_s = 20;
}

