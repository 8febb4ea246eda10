/* Small helpers of the backend: bounded growable buffers, base64, sentence splitting for
 * streaming TTS, and leveled logging to stderr. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"

static int g_log_level = 1; /* set once at start-up, before any thread exists */

void ak__log_set_level(int level) {
  g_log_level = level;
}

void ak__log(int level, const char *fmt, ...) {
  if (level > g_log_level) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  static const char *names[] = {"error", "info", "debug"};
  fprintf(stderr, "%02d:%02d:%02d.%03ld backend %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
          ts.tv_nsec / 1000000,
          names[level < 0   ? 0
                : level > 2 ? 2
                            : level],
          msg);
}

int ak__buf_append(ak__buf *b, const void *p, size_t n) {
  if (b->max && (b->len + n > b->max || b->len + n < b->len)) return -1;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) {
      if (cap > ((size_t)-1) / 2) return -1;
      cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
  return 0;
}

void ak__buf_free(ak__buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *ak__b64_encode(const uint8_t *p, size_t n) {
  if (n > ((size_t)-1) / 4 * 3 - 3) return NULL;
  size_t out_len = (n + 2) / 3 * 4;
  char *out = malloc(out_len + 1);
  if (!out) return NULL;
  size_t o = 0, i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = B64[v >> 18];
    out[o++] = B64[(v >> 12) & 63];
    out[o++] = B64[(v >> 6) & 63];
    out[o++] = B64[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    out[o++] = B64[v >> 18];
    out[o++] = B64[(v >> 12) & 63];
    out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = 0;
  return out;
}

static int b64_val(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

uint8_t *ak__b64_decode(const char *s, size_t n, size_t *out_len) {
  if (n % 4) return NULL;
  uint8_t *out = malloc(n / 4 * 3 + 1);
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    int v[4], pad = 0;
    for (int k = 0; k < 4; k++) {
      if (s[i + k] == '=' && i + 4 == n && k >= 2) {
        v[k] = 0;
        pad++;
      } else {
        if (pad) goto bad; /* data after padding */
        v[k] = b64_val((unsigned char)s[i + k]);
        if (v[k] < 0) goto bad;
      }
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    if ((pad == 1 && (w & 0xFF)) || (pad == 2 && (w & 0xFFFF))) goto bad; /* non-canonical */
    out[o++] = (uint8_t)(w >> 16);
    if (pad < 2) out[o++] = (uint8_t)(w >> 8);
    if (pad < 1) out[o++] = (uint8_t)w;
  }
  *out_len = o;
  return out;
bad:
  free(out);
  return NULL;
}

size_t ak__sentence_len(const char *s, size_t n, int final, size_t max_chars) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int term = c == '.' || c == '!' || c == '?' || c == ';' || c == ':' || c == '\n';
    if (term) {
      size_t j = i + 1;
      /* closing quotes/brackets and repeated terminators belong to the sentence */
      while (j < n && strchr(".!?\"')]", s[j])) j++;
      /* At the end of what arrived so far: "3." may still become "3.5", so wait after a
       * digit; any other terminator ends the sentence now (speech starts sooner). */
      if (j == n && !final && c == '.' && i > 0 && isdigit((unsigned char)s[i - 1])) return 0;
      if (j < n && !isspace((unsigned char)s[j]) && c != '\n') continue; /* "3.5", "e.g" */
      while (j < n && isspace((unsigned char)s[j])) j++;
      return j;
    }
    if (max_chars && i >= max_chars && (c == ' ' || c == ',')) {
      size_t j = i + 1;
      while (j < n && isspace((unsigned char)s[j])) j++;
      return j;
    }
  }
  return final ? n : 0;
}

int ak__has_words(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (isalnum((unsigned char)s[i]) || ((unsigned char)s[i] & 0x80)) return 1;
  return 0;
}
