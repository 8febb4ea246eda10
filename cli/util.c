/* Helpers of the avatarkit CLI: audio files, strict number flags, JSON and base64 output,
 * clocks and server URL resolution. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define MAX_AUDIO_BYTES (1024L * 1024L * 1024L) /* 1 GiB: far above any sane clip */

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint16_t rd16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}

static int read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, cap, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    snprintf(err, cap, "%s is not a regular file", path);
    return -1;
  }
  long l = ftell(f);
  if (l < 0 || l > MAX_AUDIO_BYTES) {
    fclose(f);
    snprintf(err, cap, "%s: size %ld not supported (max %ld bytes)", path, l, MAX_AUDIO_BYTES);
    return -1;
  }
  rewind(f);
  *buf = malloc(l ? (size_t)l : 1);
  if (!*buf) {
    fclose(f);
    snprintf(err, cap, "out of memory reading %s", path);
    return -1;
  }
  size_t got = fread(*buf, 1, (size_t)l, f);
  fclose(f);
  if (got != (size_t)l) {
    free(*buf);
    snprintf(err, cap, "short read on %s", path);
    return -1;
  }
  *len = (size_t)l;
  return 0;
}

static int parse_wav(const uint8_t *b, size_t len, int rate_flag, cli_audio *out, char *err,
                     size_t cap) {
  size_t pos = 12;
  int have_fmt = 0, channels = 0, bits = 0, rate = 0, fmt = 0;
  while (pos + 8 <= len) {
    uint32_t id = rd32(b + pos), sz = rd32(b + pos + 4);
    size_t body = pos + 8;
    if (sz > len - body) sz = (uint32_t)(len - body); /* tolerate a truncated last chunk */
    if (id == 0x20746d66u) {                          /* "fmt " */
      if (sz < 16) break;
      fmt = rd16(b + body);
      channels = rd16(b + body + 2);
      rate = (int)rd32(b + body + 4);
      bits = rd16(b + body + 14);
      if (fmt == 0xFFFE && sz >= 26) fmt = rd16(b + body + 24); /* extensible: subformat */
      have_fmt = 1;
    } else if (id == 0x61746164u) { /* "data" */
      if (!have_fmt) break;
      if (fmt != 1 || bits != 16) {
        snprintf(err, cap, "WAV format %d with %d bits not supported: use 16-bit PCM", fmt, bits);
        return -1;
      }
      if (channels < 1 || channels > 16 || rate < 1000 || rate > 192000) {
        snprintf(err, cap, "WAV with %d channels at %d Hz not supported", channels, rate);
        return -1;
      }
      if (rate_flag && rate_flag != rate) {
        snprintf(err, cap, "--rate %d does not match the WAV header (%d Hz)", rate_flag, rate);
        return -1;
      }
      size_t frames = sz / (2u * (size_t)channels);
      out->pcm = malloc(frames ? frames * 2 : 2);
      if (!out->pcm) {
        snprintf(err, cap, "out of memory");
        return -1;
      }
      for (size_t i = 0; i < frames; i++) {
        long acc = 0;
        for (int c = 0; c < channels; c++)
          acc += (int16_t)rd16(b + body + (i * (size_t)channels + (size_t)c) * 2);
        out->pcm[i] = (int16_t)(acc / channels);
      }
      out->n = frames;
      out->rate = rate;
      return 0;
    }
    pos = body + sz + (sz & 1);
  }
  snprintf(err, cap, "malformed WAV: no fmt/data chunk");
  return -1;
}

int cli_load_audio(const char *path, int rate_flag, cli_audio *out, char *err, size_t cap) {
  uint8_t *b;
  size_t len;
  memset(out, 0, sizeof *out);
  if (read_file(path, &b, &len, err, cap) != 0) return -1;
  int rc;
  if (len >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WAVE", 4) == 0) {
    rc = parse_wav(b, len, rate_flag, out, err, cap);
  } else if (!rate_flag) {
    snprintf(err, cap, "%s is not a WAV file: raw s16le PCM needs --rate", path);
    rc = -1;
  } else if (len & 1) {
    snprintf(err, cap, "%s: odd byte count %zu is not 16-bit PCM", path, len);
    rc = -1;
  } else {
    out->n = len / 2;
    out->pcm = malloc(len ? len : 2);
    out->rate = rate_flag;
    rc = out->pcm ? 0 : -1;
    if (out->pcm)
      for (size_t i = 0; i < out->n; i++) out->pcm[i] = (int16_t)rd16(b + 2 * i);
    else
      snprintf(err, cap, "out of memory");
  }
  free(b);
  if (rc == 0 && out->n == 0) {
    snprintf(err, cap, "%s holds no audio", path);
    cli_audio_free(out);
    rc = -1;
  }
  return rc;
}

void cli_audio_free(cli_audio *a) {
  free(a->pcm);
  a->pcm = NULL;
  a->n = 0;
}

int cli_parse_int(const char *s, long min, long max, long *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

int cli_parse_double(const char *s, double min, double max, double *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v) || v < min || v > max) return -1;
  *out = v;
  return 0;
}

void cli_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

void cli_json_base64(FILE *f, const uint8_t *buf, size_t len) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  fputc('"', f);
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = ((uint32_t)buf[i] << 16) | ((uint32_t)buf[i + 1] << 8) | buf[i + 2];
    fputc(tbl[v >> 18], f);
    fputc(tbl[(v >> 12) & 63], f);
    fputc(tbl[(v >> 6) & 63], f);
    fputc(tbl[v & 63], f);
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)buf[i] << 16;
    fprintf(f, "%c%c==", tbl[v >> 18], tbl[(v >> 12) & 63]);
  } else if (len - i == 2) {
    uint32_t v = ((uint32_t)buf[i] << 16) | ((uint32_t)buf[i + 1] << 8);
    fprintf(f, "%c%c%c=", tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63]);
  }
  fputc('"', f);
}

double cli_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void cli_sleep_ms(double ms) {
  if (ms <= 0) return;
  struct timespec t;
  t.tv_sec = (time_t)(ms / 1000);
  t.tv_nsec = (long)((ms - (double)t.tv_sec * 1000) * 1e6);
  nanosleep(&t, NULL);
}

int cli_server_urls(const char *server, const char *console, const char *ingress, char *console_out,
                    char *ingress_out, size_t cap, char *err, size_t ecap) {
  if ((console && !ingress) || (!console && ingress)) {
    snprintf(err, ecap, "--console and --ingress go together");
    return -1;
  }
  if (console) {
    snprintf(console_out, cap, "%s", console);
    snprintf(ingress_out, cap, "%s", ingress);
    return 0;
  }
  const char *base = server ? server : "http://127.0.0.1:8080";
  size_t l = strlen(base);
  while (l > 0 && base[l - 1] == '/') l--;
  if (l == 0 || l > cap - 64 ||
      (strncmp(base, "http://", 7) && strncmp(base, "https://", 8) && strncmp(base, "ws://", 5) &&
       strncmp(base, "wss://", 6))) {
    snprintf(err, ecap, "--server must be an http(s):// or ws(s):// base URL, got '%s'", base);
    return -1;
  }
  const char *rest = strstr(base, "://") + 3;
  int tls = strncmp(base, "https", 5) == 0 || strncmp(base, "wss", 3) == 0;
  int hl = (int)(l - (size_t)(rest - base));
  snprintf(console_out, cap, "%s://%.*s/v1/console", tls ? "https" : "http", hl, rest);
  snprintf(ingress_out, cap, "%s://%.*s/v2/driveningress", tls ? "wss" : "ws", hl, rest);
  return 0;
}

void cli_target_opts_init(cli_target_opts *o) {
  memset(o, 0, sizeof *o);
  o->api_key = getenv("AVATARKIT_API_KEY");
  o->app_id = getenv("AVATARKIT_APP_ID");
  o->avatar = "default";
}

int cli_parse_target_opt(cli_target_opts *o, const char *flag, const char *v, int *bad) {
  static const struct {
    const char *flag;
    size_t field;
  } k[] = {
      {"--server", offsetof(cli_target_opts, server)},
      {"--console", offsetof(cli_target_opts, console)},
      {"--ingress", offsetof(cli_target_opts, ingress)},
      {"--api-key", offsetof(cli_target_opts, api_key)},
      {"--app-id", offsetof(cli_target_opts, app_id)},
      {"--avatar", offsetof(cli_target_opts, avatar)},
      {"--ca-file", offsetof(cli_target_opts, ca_file)},
  };
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    if (strcmp(flag, k[i].flag) != 0) continue;
    if (v) *(const char **)(void *)((char *)o + k[i].field) = v;
    *bad = v == NULL;
    return 1;
  }
  return 0;
}
