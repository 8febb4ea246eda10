/* Request and connection ids: "YYYYMMDDHHMMSS_" (UTC) + 12 url-safe random characters. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "avatarkit/protocol.h"

static const char alphabet[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int ak_id_new(char *out, size_t cap, int64_t t) {
  if (!out || cap < AK_ID_LEN + 1) return AK_EINVAL;
  time_t tt = t ? (time_t)t : time(NULL);
  struct tm tm;
  if (!gmtime_r(&tt, &tm)) return AK_EINVAL;
  char buf[AK_ID_LEN + 1];
  if (strftime(buf, sizeof buf, "%Y%m%d%H%M%S_", &tm) != 15) return AK_EINVAL;
  unsigned char rnd[12];
  size_t got = 0;
  while (got < sizeof rnd) {
    ssize_t r = getrandom(rnd + got, sizeof rnd - got, 0);
    if (r <= 0) return AK_EIO;
    got += (size_t)r;
  }
  for (int i = 0; i < 12; i++) buf[15 + i] = alphabet[rnd[i] & 63];
  buf[AK_ID_LEN] = '\0';
  memcpy(out, buf, sizeof buf);
  return AK_OK;
}

int ak_id_valid(const char *s) {
  if (!s || strlen(s) != AK_ID_LEN) return 0;
  for (int i = 0; i < 14; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  if (s[14] != '_') return 0;
  for (int i = 15; i < AK_ID_LEN; i++)
    if (!memchr(alphabet, s[i], 64)) return 0;
  /* month 01-12, day 01-31, hour < 24, minute/second < 60 */
  int mo = (s[4] - '0') * 10 + (s[5] - '0'), d = (s[6] - '0') * 10 + (s[7] - '0');
  int h = (s[8] - '0') * 10 + (s[9] - '0'), mi = (s[10] - '0') * 10 + (s[11] - '0');
  int se = (s[12] - '0') * 10 + (s[13] - '0');
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && se < 61;
}

int ak_sample_rate_valid(int32_t rate) {
  switch (rate) {
    case 8000:
    case 16000:
    case 22050:
    case 24000:
    case 32000:
    case 44100:
    case 48000:
      return 1;
    default:
      return 0;
  }
}
