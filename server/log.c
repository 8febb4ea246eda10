/* Structured logs: one JSON object per line on stderr, with connection_id and req_id when
 * known, so that logs of many sessions can be filtered and joined. Also the server's clock
 * and the way from a connection to its server. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server.h"

int64_t ak__now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

ak_server *ak__server_from_wsi(struct lws *wsi) {
  return lws_context_user(lws_get_context(wsi));
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* Writes s as a JSON string body (without quotes), escaping what JSON requires. */
static void json_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
}

void ak__log(const ak_server *s, int level, const char *conn, const char *req, const char *fmt,
             ...) {
  if (s && level > s->cfg.log_level) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  flockfile(stderr);
  fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"", when, ts.tv_nsec / 1000000,
          level_names[level < 0   ? 0
                      : level > 3 ? 3
                                  : level]);
  json_escape(stderr, msg);
  fputc('"', stderr);
  if (conn && *conn) {
    fputs(",\"connection_id\":\"", stderr);
    json_escape(stderr, conn);
    fputc('"', stderr);
  }
  if (req && *req) {
    fputs(",\"req_id\":\"", stderr);
    json_escape(stderr, req);
    fputc('"', stderr);
  }
  fputs("}\n", stderr);
  funlockfile(stderr);
}
