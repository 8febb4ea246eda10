/* Unit tests of the backend's pure pieces: base64, sentence splitting, the SSE stream parser
 * (fed whole and one byte at a time), the built-in agent, the energy VAD, configuration and
 * the session thread registry. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/noise.h"
#include "backend.h"
#include "registry.h"

static int failures;
#define CHECK(c)                                                            \
  do {                                                                      \
    if (!(c)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                                           \
    }                                                                       \
  } while (0)

static void test_base64(void) {
  static const struct {
    const char *in, *out;
  } T[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
    char *e = ak__b64_encode((const uint8_t *)T[i].in, strlen(T[i].in));
    CHECK(e && strcmp(e, T[i].out) == 0);
    size_t n = 99;
    uint8_t *d = ak__b64_decode(T[i].out, strlen(T[i].out), &n);
    CHECK(d && n == strlen(T[i].in) && memcmp(d, T[i].in, n) == 0);
    free(e);
    free(d);
  }
  unsigned seed = (unsigned)time(NULL);
  printf("base64 random round trips, seed %u\n", seed);
  fflush(stdout);
  srand(seed);
  for (int r = 0; r < 200; r++) {
    size_t n = (size_t)(rand() % 300);
    uint8_t buf[300];
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rand();
    char *e = ak__b64_encode(buf, n);
    size_t m = 0;
    uint8_t *d = e ? ak__b64_decode(e, strlen(e), &m) : NULL;
    CHECK(d && m == n && (n == 0 || memcmp(d, buf, n) == 0));
    free(e);
    free(d);
  }
  static const char *bad[] = {
      "Z", "Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "=Zm9", "Zm=v", "Zh==", "Zm9=", "Zm+="};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t n = 0;
    uint8_t *d = ak__b64_decode(bad[i], strlen(bad[i]), &n);
    if (d) fprintf(stderr, "accepted bad base64 '%s'\n", bad[i]);
    CHECK(d == NULL);
    free(d);
  }
}

static void test_sentences(void) {
  static const struct {
    const char *in;
    int final;
    size_t want;
  } T[] = {
      {"Hello there! How", 0, 13},
      {"Hello there!", 0, 12}, /* complete at once: speech can start */
      {"It costs 3.", 0, 0},   /* not sure yet: may become 3.5 */
      {"It costs 3.", 1, 11},
      {"Hello there!", 1, 12},
      {"It costs 3.50 dollars. Ok", 0, 23},
      {"Wait... what", 0, 8},
      {"no terminator yet", 0, 0},
      {"no terminator yet", 1, 17},
      {"Line one\nLine two", 0, 9},
      {"He said \"hi.\" Then", 0, 14},
  };
  for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
    size_t got = ak__sentence_len(T[i].in, strlen(T[i].in), T[i].final, 0);
    if (got != T[i].want)
      fprintf(stderr, "sentence '%s': got %zu want %zu\n", T[i].in, got, T[i].want);
    CHECK(got == T[i].want);
  }
  /* overlong text without terminators is cut at a space after max_chars */
  char long_text[400];
  for (int i = 0; i < 399; i++) long_text[i] = i % 6 == 5 ? ' ' : 'a';
  long_text[399] = 0;
  size_t cut = ak__sentence_len(long_text, 399, 0, 100);
  CHECK(cut > 100 && cut < 110);
  CHECK(ak__has_words("  ...!", 6) == 0);
  CHECK(ak__has_words(" ok.", 4) == 1);
}

typedef struct collect {
  char text[512];
  int calls, stop_after;
} collect;
static int collect_fn(void *user, const char *t, size_t n) {
  collect *c = user;
  size_t l = strlen(c->text);
  if (l + n < sizeof c->text) {
    memcpy(c->text + l, t, n);
    c->text[l + n] = 0;
  }
  return ++c->calls == c->stop_after;
}

static void test_sse(void) {
  const char *stream =
      ": keep-alive\r\n\r\n"
      "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n"
      "event: message\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo, w\\u00f6rld\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n";
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    ak__sse p = {0};
    collect c = {.calls = 0};
    int rc = 0;
    if (bytewise)
      for (size_t i = 0; stream[i] && rc == 0; i++)
        rc = ak__sse_feed(&p, stream + i, 1, collect_fn, &c);
    else
      rc = ak__sse_feed(&p, stream, strlen(stream), collect_fn, &c);
    CHECK(rc == 0);
    CHECK(p.done == 1);
    CHECK(strcmp(c.text, "Hello, w\xc3\xb6rld") == 0);
    CHECK(c.calls == 2);
    ak__sse_free(&p);
  }
  { /* the consumer stops the stream */
    ak__sse p = {0};
    collect c = {.stop_after = 1};
    CHECK(ak__sse_feed(&p, stream, strlen(stream), collect_fn, &c) == 1);
    CHECK(strcmp(c.text, "Hel") == 0);
    ak__sse_free(&p);
  }
  { /* malformed JSON in an event and an error object are failures */
    ak__sse p = {0};
    collect c = {.calls = 0};
    CHECK(ak__sse_feed(&p, "data: {nope\n\n", 13, collect_fn, &c) == -1);
    CHECK(p.failed && strstr(p.why, "not valid JSON"));
    ak__sse_free(&p);
    ak__sse q = {0};
    const char *e = "data: {\"error\":{\"message\":\"quota\"}}\n\n";
    CHECK(ak__sse_feed(&q, e, strlen(e), collect_fn, &c) == -1);
    CHECK(strcmp(q.why, "error event: quota") == 0);
    ak__sse_free(&q);
  }
  { /* an endless line is bounded */
    ak__sse p = {0};
    collect c = {.calls = 0};
    char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    int rc = 0;
    for (int i = 0; i < 200 && rc == 0; i++)
      rc = ak__sse_feed(&p, chunk, sizeof chunk, collect_fn, &c);
    CHECK(rc == -1);
    ak__sse_free(&p);
  }
}

static void test_agent(void) {
  struct tm tm = {.tm_year = 124, .tm_mon = 2, .tm_mday = 5, .tm_hour = 14, .tm_min = 7};
  tm.tm_isdst = -1;
  time_t now = mktime(&tm);
  char out[1024];
  ak__agent_reply("What time is it?", now, out, sizeof out);
  CHECK(strcmp(out, "It is 2:07 PM.") == 0);
  ak__agent_reply("hello!", now, out, sizeof out);
  CHECK(strstr(out, "Hello") && strstr(out, "afternoon"));
  ak__agent_reply("Who are you?", now, out, sizeof out);
  CHECK(strstr(out, "demo agent") != NULL);
  ak__agent_reply("what's the date today", now, out, sizeof out);
  CHECK(strstr(out, "March 5, 2024") != NULL);
  /* outside its topics: no echo, but what it can do and how to plug a model in */
  ak__agent_reply("  What is the capital of France?  ", now, out, sizeof out);
  CHECK(strstr(out, "France") == NULL && strstr(out, "You said") == NULL);
  CHECK(strstr(out, "time") && strstr(out, "joke") && strstr(out, "Ollama"));
  ak__agent_reply("repeat: purple elephants dance  ", now, out, sizeof out);
  CHECK(strcmp(out, "purple elephants dance") == 0);
  ak__agent_reply("echo", now, out, sizeof out);
  CHECK(strstr(out, "what to repeat") != NULL);
  ak__agent_reply("What is 12 times 7?", now, out, sizeof out);
  CHECK(strcmp(out, "12 times 7 is 84.") == 0);
  ak__agent_reply("what's twenty one plus four", now, out, sizeof out);
  CHECK(strcmp(out, "21 plus 4 is 25.") == 0);
  ak__agent_reply("ten divided by zero", now, out, sizeof out);
  CHECK(strstr(out, "zero") != NULL);
  ak__agent_reply("tell me a joke", now, out, sizeof out);
  CHECK(strstr(out, "?") != NULL);
  ak__agent_reply("how do I connect a language model?", now, out, sizeof out);
  CHECK(strstr(out, "AVATARKIT_LLM_URL") != NULL);
  ak__agent_reply("what can you do", now, out, sizeof out);
  CHECK(strstr(out, "joke") && strstr(out, "Ollama"));
  ak__agent_reply("", now, out, sizeof out);
  CHECK(strstr(out, "did not catch") != NULL);
  ak__agent_reply("this hill is high", now, out, sizeof out); /* "hi" only as a word */
  CHECK(strncmp(out, "Hello", 5) != 0);
  char big[AK__MAX_TEXT + 1];
  memset(big, 'a', AK__MAX_TEXT);
  big[AK__MAX_TEXT] = 0;
  ak__agent_reply(big, now, out, 64); /* bounded output */
  CHECK(strlen(out) == 63);
  memcpy(big, "say ", 4);
  ak__agent_reply(big, now, out, sizeof out); /* a long repeat is cut, with "..." */
  CHECK(strlen(out) == 399 && strcmp(out + 396, "...") == 0);
}

/* ---- VAD test signals (16 kHz, float in [-1, 1], levelled as dBFS RMS) ---- */
static uint32_t rng_state = 12345;
static void noise(float *x, size_t n, int pink, double db) {
  ak_t_noise(x, n, pink, db, &rng_state);
}
/* "speech": voiced syllables (150 Hz + harmonics, 180 ms with raised-cosine edges) separated
 * by 90 ms gaps, levelled over the syllables to db, added to x[0, n) */
static void add_speech(float *x, size_t n, double db) {
  static float s[16000 * 4];
  if (n > sizeof s / sizeof s[0]) n = sizeof s / sizeof s[0];
  double e = 0;
  size_t on = 0;
  for (size_t i = 0; i < n; i++) {
    size_t ph = i % 4320, len = 2880; /* 270 ms period, 180 ms syllable */
    double env = ph < len ? sin(M_PI * ph / len) : 0;
    double t = i / 16000.0, v = 0;
    for (int h = 1; h <= 6; h++) v += sin(2 * M_PI * 150 * h * t) / h;
    s[i] = (float)(env * v);
    if (ph < len) {
      e += (double)s[i] * s[i];
      on++;
    }
  }
  double g = pow(10.0, db / 20.0) / sqrt(e / on);
  for (size_t i = 0; i < n; i++) x[i] += (float)(s[i] * g);
}
typedef struct vad_run {
  int starts, ends;
  long first_start, first_end, last_start, last_end; /* sample positions, -1: none */
} vad_run;
/* feeds x in 20 ms pieces (the VAD's frame: events are located exactly) */
static vad_run run_vad(ak__vad *v, const float *x, size_t n) {
  vad_run r = {0, 0, -1, -1, -1, -1};
  int16_t pcm[320];
  for (size_t off = 0; off + 320 <= n; off += 320) {
    for (int i = 0; i < 320; i++) {
      double y = x[off + i] * 32768.0;
      pcm[i] = (int16_t)(y > 32767 ? 32767 : y < -32768 ? -32768 : y);
    }
    int ev = ak__vad_feed(v, pcm, 320);
    if (ev == AK__VAD_START) {
      if (r.first_start < 0) r.first_start = (long)(off + 320);
      r.last_start = (long)(off + 320);
      r.starts++;
    } else if (ev == AK__VAD_END) {
      if (r.first_end < 0) r.first_end = (long)(off + 320);
      r.last_end = (long)(off + 320);
      r.ends++;
    }
  }
  return r;
}

static void test_vad(void) {
  ak__vad v;
  ak__vad_init(&v, -40.0, 8.0, 300);
  int16_t buf[16000];
  memset(buf, 0, sizeof buf);
  CHECK(ak__vad_feed(&v, buf, 8000) == AK__VAD_NONE); /* silence */
  for (int i = 0; i < 16000; i++) buf[i] = (int16_t)(8000 * sin(2 * M_PI * 220 * i / 16000.0));
  int saw_start = 0;
  for (int i = 0; i < 16000; i += 160) saw_start |= ak__vad_feed(&v, buf + i, 160) == AK__VAD_START;
  CHECK(saw_start && v.in_speech);
  memset(buf, 0, sizeof buf);
  CHECK(ak__vad_feed(&v, buf, 3200) == AK__VAD_NONE); /* 200 ms: not yet */
  CHECK(ak__vad_feed(&v, buf, 3200) == AK__VAD_END);  /* 400 ms > 300 ms */
  /* a short click is not speech */
  ak__vad_init(&v, -40.0, 8.0, 300);
  for (int i = 0; i < 480; i++) buf[i] = 20000;
  CHECK(ak__vad_feed(&v, buf, 480) == AK__VAD_NONE);

  /* adaptive floor: signals of up to 12 s */
  enum { R = 16000, N = 12 * R };
  static float x[N];
  vad_run r;
  /* stationary noise at -36 dBFS (10 dB under -26 dBFS speech) never starts, white or pink;
   * without the floor (margin 0, the old VAD) the same noise starts at once */
  for (int pink = 0; pink <= 1; pink++) {
    noise(x, N, pink, -36.0);
    ak__vad_init(&v, -40.0, 8.0, 700);
    r = run_vad(&v, x, N);
    CHECK(r.starts == 0 && r.ends == 0);
    CHECK(v.floor_db > -42.0 && v.floor_db < -36.0); /* the floor sits just under the noise */
    ak__vad_init(&v, -40.0, 0.0, 700);
    r = run_vad(&v, x, N);
    CHECK(r.starts == 1 && r.first_start <= R / 5 && r.ends == 0);
  }
  /* speech in pink noise at 10 and 20 dB SNR: 1 s noise, 2 s speech, noise: one START in the
   * speech, one END the configured silence after it (700 ms, plus at most the 90 ms gap and
   * the syllable's quiet edge) */
  for (int snr = 10; snr <= 20; snr += 10) {
    noise(x, N, 1, -26.0 - snr);
    add_speech(x + R, 2 * R, -26.0);
    ak__vad_init(&v, -40.0, 8.0, 700);
    r = run_vad(&v, x, 6 * R);
    CHECK(r.starts == 1 && r.ends == 1);
    CHECK(r.first_start > R && r.first_start < R + R / 4);
    CHECK(r.first_end >= 3 * R + 7 * R / 10 - R / 5 && r.first_end <= 3 * R + R);
  }
  /* speech right after init (no noise seen before it) still starts, and ends */
  noise(x, N, 1, -36.0);
  add_speech(x, 2 * R, -26.0);
  ak__vad_init(&v, -40.0, 8.0, 700);
  r = run_vad(&v, x, 4 * R);
  CHECK(r.starts == 1 && r.first_start < R / 2 && r.ends == 1 && r.first_end <= 3 * R);
  /* a step in the noise, -56 to -36 dBFS at 3 s: it looks like speech until the floor's window
   * (at most 2.2 s) has forgotten the quiet part, then ends; the louder noise never starts
   * again, and speech in it does */
  noise(x, 3 * R, 1, -56.0);
  noise(x + 3 * R, N - 3 * R, 1, -36.0);
  add_speech(x + 9 * R, 2 * R, -26.0);
  ak__vad_init(&v, -40.0, 8.0, 700);
  r = run_vad(&v, x, 9 * R);
  CHECK(r.starts == 1 && r.ends == 1 && r.first_start >= 3 * R);
  CHECK(r.first_end <= 3 * R + 22 * R / 10 + 7 * R / 10 + R / 10);
  r = run_vad(&v, x + 9 * R, 3 * R);
  CHECK(r.starts == 1 && r.first_start < R / 4);
  /* a step down re-adapts at once: speech 1 s after -36 -> -56 dBFS starts */
  noise(x, 3 * R, 1, -36.0);
  noise(x + 3 * R, N - 3 * R, 1, -56.0);
  add_speech(x + 4 * R, 2 * R, -30.0);
  ak__vad_init(&v, -40.0, 8.0, 700);
  r = run_vad(&v, x, 8 * R);
  CHECK(r.starts == 1 && r.first_start > 4 * R && r.first_start < 4 * R + R / 4 && r.ends == 1);
  /* speech after digital silence and after quiet noise: START, then END in the silence */
  for (int quiet = 0; quiet <= 1; quiet++) {
    if (quiet)
      noise(x, N, 0, -65.0);
    else
      memset(x, 0, sizeof x);
    add_speech(x + 3 * R, 2 * R, -26.0);
    ak__vad_init(&v, -40.0, 8.0, 700);
    r = run_vad(&v, x, 8 * R);
    CHECK(r.starts == 1 && r.first_start > 3 * R && r.first_start < 3 * R + R / 4);
    CHECK(r.ends == 1 && r.first_end <= 5 * R + R);
  }
  /* quiet speech is still under the absolute threshold */
  memset(x, 0, sizeof x);
  add_speech(x + R, 2 * R, -50.0);
  ak__vad_init(&v, -40.0, 8.0, 700);
  r = run_vad(&v, x, 4 * R);
  CHECK(r.starts == 0);
}

static void test_config(void) {
  ak__config c;
  char err[600];
  ak__config_default(&c);
  char *a1[] = {"x",
                "--listen",
                "127.0.0.1:0",
                "--app-id",
                "demo",
                "--llm",
                "openai",
                "--motion-url",
                "http://h:1/",
                "--vad-threshold-db=-35.5",
                "--vad-margin-db",
                "6.5",
                NULL};
  CHECK(ak__config_load(&c, 12, a1, err, sizeof err) == 0);
  CHECK(c.vad_margin_db == 6.5);
  CHECK(c.listen_port == 0 && strcmp(c.listen_host, "127.0.0.1") == 0);
  CHECK(strcmp(c.motion_url, "http://h:1") == 0);
  CHECK(strcmp(c.llm_provider, "openai") == 0 && c.vad_threshold_db == -35.5);
  ak__config_default(&c);
  char *a2[] = {"x", "--app-id", "demo", "--llm-api-key", "sk-secret", NULL};
  CHECK(ak__config_load(&c, 5, a2, err, sizeof err) == -1 && strstr(err, "secret"));
  ak__config_default(&c);
  char *a3[] = {"x", "--app-id", "demo", "--max-sessions", "0", NULL};
  CHECK(ak__config_load(&c, 5, a3, err, sizeof err) == -1);
  ak__config_default(&c);
  char *a4[] = {"x", "--app-id", "demo", "--listen", "h:99999", NULL};
  CHECK(ak__config_load(&c, 5, a4, err, sizeof err) == -1);
  ak__config_default(&c);
  char *a5[] = {"x", "--app-id", "demo", "--bogus", "1", NULL};
  CHECK(ak__config_load(&c, 5, a5, err, sizeof err) == -1 && strstr(err, "bogus"));
  /* a config file may carry secrets; a key alone switches the LLM to openai */
  char path[] = "/tmp/ak-backend-cfg-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fprintf(f, "# test\napp-id = fromfile\nllm-api-key = \"sk-file\"\ntts-rate-wpm = 200\n");
  fclose(f);
  ak__config_default(&c);
  char *a6[] = {"x", "--config", path, "--tts-rate-wpm", "190", NULL};
  CHECK(ak__config_load(&c, 5, a6, err, sizeof err) == 0);
  CHECK(strcmp(c.app_id, "fromfile") == 0 && strcmp(c.llm_api_key, "sk-file") == 0);
  CHECK(strcmp(c.llm_provider, "openai") == 0 && c.tts_rate_wpm == 190); /* flag wins */
  f = fopen(path, "w");
  fprintf(f, "nonsense line\n");
  fclose(f);
  ak__config_default(&c);
  CHECK(ak__config_load(&c, 3, a6, err, sizeof err) == -1);
  remove(path);
}

/* A registered thread: waits until released, counts itself, signs off as its last act. */
typedef struct reg_job {
  ak__registry *r;
  atomic_int *go, *ran;
} reg_job;

static void *reg_thread(void *arg) {
  reg_job *j = arg;
  while (!atomic_load(j->go)) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  atomic_fetch_add(j->ran, 1);
  ak__registry_done(j->r);
  return NULL;
}

static void test_registry(void) {
  ak__registry *r = ak__registry_new();
  CHECK(r != NULL);
  if (!r) return;
  CHECK(ak__registry_wait(r, 0) == 0); /* empty: nothing to wait for */
  atomic_int go = 0, ran = 0;
  enum { N = 100 }; /* more than one reap batch and than the first list capacity */
  reg_job job = {r, &go, &ran};
  int started = 0;
  for (int i = 0; i < N; i++) started += ak__registry_start(r, reg_thread, &job) == 0;
  CHECK(started == N);
  CHECK(ak__registry_wait(r, 50) == N); /* all still running: the wait times out */
  atomic_store(&go, 1);
  CHECK(ak__registry_wait(r, 10000) == 0); /* every one joined */
  CHECK(atomic_load(&ran) == N);
  ak__registry_free(r);
  ak__registry_free(NULL);
}

int main(void) {
  test_registry();
  test_base64();
  test_sentences();
  test_sse();
  test_agent();
  test_vad();
  test_config();
  if (failures) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("backend units: all checks passed\n");
  return 0;
}
