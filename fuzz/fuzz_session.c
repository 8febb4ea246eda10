/* Fuzz target: the server's input path. The input is a sequence of client messages, each
 * prefixed by a 16-bit little-endian length, run through a socket-less ingress session
 * (handshake state machine, PCM/Ogg decoding, resampling, engine, Opus, output queue). */
#include <stdlib.h>
#include <string.h>

#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static ak_server *s; /* one server config for the whole run (fuzzer harness state) */
  if (!s) {
    s = calloc(1, sizeof *s);
    ak__server_config_defaults(&s->cfg);
    s->cfg.log_level = -1;
    s->cfg.max_message_bytes = 65536;
  }
  ak_session *ss = ak__session_new_detached(s);
  if (!ss) return 0;
  size_t i = 0;
  while (i + 2 <= size && !ak__session_closing(ss)) {
    size_t n = (size_t)data[i] | ((size_t)data[i + 1] << 8);
    i += 2;
    if (n > size - i) n = size - i;
    ak__session_input(ss, data + i, n);
    i += n;
  }
  ak__session_free_detached(ss);
  return 0;
}
