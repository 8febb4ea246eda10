/* Structured logs: one JSON object per line on stderr, with connection_id and req_id when
 * known, so that logs of many sessions can be filtered and joined. With ak__log_start a
 * writer thread owns stderr: callers only copy the line into a bounded ring (dropped and
 * counted when full), so a blocked stderr never stalls the event loop. Also the server's
 * clock and the way from a connection to its server. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Appends s as a JSON string body (without quotes), escaping what JSON requires; stops at
 * the end of the buffer. */
static void json_escape(char *buf, size_t cap, size_t *o, const char *s) {
  for (; *s && *o + 8 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      buf[(*o)++] = '\\';
      buf[(*o)++] = (char)c;
    } else if (c < 0x20) {
      *o += (size_t)snprintf(buf + *o, cap - *o, "\\u%04x", c);
    } else {
      buf[(*o)++] = (char)c;
    }
  }
}

static void append(char *buf, size_t cap, size_t *o, const char *s) {
  size_t n = strlen(s);
  if (*o + 1 >= cap) return;
  if (n > cap - 1 - *o) n = cap - 1 - *o;
  memcpy(buf + *o, s, n);
  *o += n;
}

/* ---- Non-blocking output: a byte ring drained by one writer thread. ------------------------ */
struct ak_log_queue {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  char *ring;
  size_t cap, head, len; /* bytes from head (mod cap) */
  uint64_t dropped;
  int stop;
};

static void write_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = write(STDERR_FILENO, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

static void *writer(void *arg) {
  ak_log_queue *q = arg;
  char chunk[16384];
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (!q->len && !q->stop) pthread_cond_wait(&q->cv, &q->mu);
    if (!q->len && q->stop) break;
    size_t n = q->len < sizeof chunk ? q->len : sizeof chunk;
    size_t first = q->cap - q->head < n ? q->cap - q->head : n;
    memcpy(chunk, q->ring + q->head, first);
    memcpy(chunk + first, q->ring, n - first);
    q->head = (q->head + n) % q->cap;
    q->len -= n;
    pthread_mutex_unlock(&q->mu);
    write_all(chunk, n); /* may block: only this thread waits */
    pthread_mutex_lock(&q->mu);
  }
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

int ak__log_start(ak_server *s, size_t queue_bytes) {
  ak_log_queue *q = calloc(1, sizeof *q);
  if (!q) return -1;
  q->cap = queue_bytes < 4096 ? 4096 : queue_bytes;
  q->ring = malloc(q->cap);
  if (!q->ring) {
    free(q);
    return -1;
  }
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
  if (pthread_create(&q->thread, NULL, writer, q) != 0) {
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q->ring);
    free(q);
    return -1;
  }
  s->logq = q;
  return 0;
}

void ak__log_stop(ak_server *s) {
  ak_log_queue *q = s->logq;
  if (!q) return;
  pthread_mutex_lock(&q->mu);
  q->stop = 1;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
  pthread_join(q->thread, NULL);
  s->logq = NULL;
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->cv);
  free(q->ring);
  free(q);
}

uint64_t ak__log_dropped(const ak_server *s) {
  ak_log_queue *q = s ? s->logq : NULL;
  if (!q) return 0;
  pthread_mutex_lock(&q->mu);
  uint64_t d = q->dropped;
  pthread_mutex_unlock(&q->mu);
  return d;
}

static void emit(const ak_server *s, const char *line, size_t n) {
  ak_log_queue *q = s ? s->logq : NULL;
  if (!q) {
    write_all(line, n);
    return;
  }
  pthread_mutex_lock(&q->mu);
  if (q->cap - q->len < n || q->stop) {
    q->dropped++; /* never wait for the writer */
  } else {
    size_t tail = (q->head + q->len) % q->cap;
    size_t first = q->cap - tail < n ? q->cap - tail : n;
    memcpy(q->ring + tail, line, first);
    memcpy(q->ring, line + first, n - first);
    q->len += n;
    pthread_cond_signal(&q->cv);
  }
  pthread_mutex_unlock(&q->mu);
}

static void vlog(const ak_server *s, int level, const char *conn, const char *req, const char *fmt,
                 va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[32], line[4096];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  size_t o =
      (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"", when,
                       ts.tv_nsec / 1000000,
                       level_names[level < 0   ? 0
                                   : level > 3 ? 3
                                               : level]);
  json_escape(line, sizeof line - 64, &o, msg);
  append(line, sizeof line, &o, "\"");
  if (conn && *conn) {
    append(line, sizeof line - 64, &o, ",\"connection_id\":\"");
    json_escape(line, sizeof line - 64, &o, conn);
    append(line, sizeof line, &o, "\"");
  }
  if (req && *req) {
    append(line, sizeof line - 64, &o, ",\"req_id\":\"");
    json_escape(line, sizeof line - 64, &o, req);
    append(line, sizeof line, &o, "\"");
  }
  append(line, sizeof line, &o, "}\n");
  emit(s, line, o);
}

void ak__log(const ak_server *s, int level, const char *conn, const char *req, const char *fmt,
             ...) {
  if (s && level > s->cfg.log_level) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(s, level, conn, req, fmt, ap);
  va_end(ap);
}

void ak__log_limiter_flush(const ak_server *s, ak_log_limiter *lim, int64_t now_us,
                           int64_t window_us) {
  if (!lim->suppressed || now_us - lim->window_start_us < window_us) return;
  ak__log(s, AK_LOG_WARN, NULL, NULL, "suppressed %llu similar log line(s) in the last %lld s",
          (unsigned long long)lim->suppressed, (long long)(window_us / 1000000));
  lim->window_start_us = now_us;
  lim->count = 0;
  lim->suppressed = 0;
}

void ak__log_limited(const ak_server *s, ak_log_limiter *lim, int64_t now_us, int64_t window_us,
                     int max, int level, const char *conn, const char *req, const char *fmt, ...) {
  if (s && level > s->cfg.log_level) return;
  if (now_us - lim->window_start_us >= window_us || now_us < lim->window_start_us) {
    if (lim->suppressed)
      ak__log(s, level, NULL, NULL, "suppressed %llu similar log line(s) in the last %lld s",
              (unsigned long long)lim->suppressed, (long long)(window_us / 1000000));
    lim->window_start_us = now_us;
    lim->count = 0;
    lim->suppressed = 0;
  }
  if (lim->count >= max) {
    lim->suppressed++;
    return;
  }
  lim->count++;
  va_list ap;
  va_start(ap, fmt);
  vlog(s, level, conn, req, fmt, ap);
  va_end(ap);
}
