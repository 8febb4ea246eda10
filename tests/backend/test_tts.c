/* Tests of the backend's local TTS stage against the real voice libraries: which voice answers
 * by default (a natural one where built and installed), that it is speech of a plausible length
 * and loudness, delivered in chunks; the espeak-ng fallback when the natural voice's data is
 * missing; configuration errors for unknown voices; cancel and stop bounded by samples, not
 * time; engines reused after a cancel; several threads speaking at once. No wall-clock
 * assertions. Families not built in are skipped with a note. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backend.h"
#include "tts_internal.h"

static int failures;
#define CHECK(c)                                                            \
  do {                                                                      \
    if (!(c)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                                           \
    }                                                                       \
  } while (0)

static const char *LONG_TEXT =
    "Once upon a time, in a small village between two rivers, there lived a clockmaker who "
    "repaired every clock in the valley, and every evening he walked along the water to "
    "listen to the birds, the bells and the wind in the tall grass.";

typedef struct capture {
  int16_t *pcm;
  size_t n, cap;
  int calls;
  size_t max_chunk;
  size_t cancel_after; /* cancel() answers 1 once n >= this (0 = never) */
  int stop_on_call;    /* fn answers 1 on this call (1-based; 0 = never) */
  int cancel_asks;
} capture;

static int cap_fn(void *user, const int16_t *pcm, size_t n) {
  capture *c = user;
  c->calls++;
  if (n > c->max_chunk) c->max_chunk = n;
  if (c->stop_on_call && c->calls == c->stop_on_call) return 1;
  if (c->n + n > c->cap) {
    size_t cap = (c->n + n) * 2;
    int16_t *p = realloc(c->pcm, cap * sizeof *p);
    if (!p) return 1;
    c->pcm = p;
    c->cap = cap;
  }
  memcpy(c->pcm + c->n, pcm, n * sizeof *pcm);
  c->n += n;
  return 0;
}

static int cap_cancel(void *user) {
  capture *c = user;
  c->cancel_asks++;
  return c->cancel_after && c->n >= c->cancel_after;
}

/* Speech, not silence or noise bursts: RMS well above silence and most 20 ms frames voiced
 * (energy within 30 dB of the loudest frame). */
static void check_speech(const capture *c, int rate, double min_s, double max_s, const char *what) {
  double dur = (double)c->n / rate, sum = 0, peak = 0;
  for (size_t i = 0; i < c->n; i++) sum += (double)c->pcm[i] * c->pcm[i];
  double rms = c->n ? sqrt(sum / (double)c->n) : 0;
  size_t fl = (size_t)rate / 50, frames = c->n / fl, voiced = 0;
  for (size_t f = 0; f < frames; f++) {
    double e = 0;
    for (size_t i = 0; i < fl; i++) e += (double)c->pcm[f * fl + i] * c->pcm[f * fl + i];
    if (e > peak) peak = e;
  }
  for (size_t f = 0; f < frames; f++) {
    double e = 0;
    for (size_t i = 0; i < fl; i++) e += (double)c->pcm[f * fl + i] * c->pcm[f * fl + i];
    if (e > peak * 1e-3) voiced++;
  }
  double vf = frames ? (double)voiced / (double)frames : 0;
  /* trailing silence is cut to 200 ms (sentence by sentence it would add up) */
  size_t tail = 0;
  while (tail < c->n && c->pcm[c->n - 1 - tail] > -AK__TTS_QUIET_PEAK &&
         c->pcm[c->n - 1 - tail] < AK__TTS_QUIET_PEAK)
    tail++;
  printf(
      "  %s: %.2f s, rms %.0f, %.0f%% voiced frames, %d chunks (max %zu samples), %zu ms "
      "silence at the end\n",
      what, dur, rms, vf * 100, c->calls, c->max_chunk, tail * 1000 / (size_t)rate);
  CHECK(tail <= AK__TTS_KEEP_TAIL + AK__TTS_FRAME);
  CHECK(dur >= min_s && dur <= max_s);
  CHECK(rms > 300); /* about -40 dBFS */
  CHECK(vf > 0.4);  /* mostly sound (Pico pauses half a second at sentence ends) */
  CHECK(c->calls >= 3 && c->max_chunk <= AK__TTS_CHUNK); /* streamed in chunks */
}

static ak__config base_config(void) {
  ak__config c;
  ak__config_default(&c);
  return c;
}

static inline int dir_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int have_rhvoice(void) {
#ifdef AK_HAVE_RHVOICE
  return dir_exists("/usr/share/RHVoice/voices/slt");
#else
  return 0;
#endif
}

static int have_pico(void) {
#ifdef AK_HAVE_PICO
  return dir_exists("/usr/share/pico/lang");
#else
  return 0;
#endif
}

static void test_default_voice(void) {
  ak__config c = base_config();
  char err[600] = "";
  ak__tts *t = ak__tts_new(&c, err, sizeof err);
  CHECK(t != NULL);
  if (!t) {
    fprintf(stderr, "  default tts: %s\n", err);
    return;
  }
  printf("  default voice: %s\n", ak__tts_voice_id(t));
  if (have_rhvoice()) {
    CHECK(strcmp(ak__tts_family(t), "rhvoice") == 0);
    CHECK(strcmp(ak__tts_voice_id(t), "rhvoice:slt") == 0);
    CHECK(ak__tts_fallback(t)[0] == 0);
  } else {
    printf("  (RHVoice not built or slt not installed: the default is espeak-ng)\n");
    CHECK(strcmp(ak__tts_family(t), "espeak") == 0);
  }
  CHECK(ak__tts_sample_rate(t) == AK__TTS_OUT_RATE);
  capture cp = {0};
  /* 11 words: between 0.15 and 0.6 s per word */
  int rc = ak__tts_speak(t, "Hello, I am your avatar. How can I help you today?", cap_fn,
                         cap_cancel, &cp, err, sizeof err);
  CHECK(rc == 0);
  check_speech(&cp, ak__tts_sample_rate(t), 1.6, 6.6, ak__tts_voice_id(t));
  CHECK(cp.cancel_asks >= cp.calls); /* cancel is asked at least once per chunk */
  free(cp.pcm);
  ak__tts_free(t);
}

static void test_languages(void) {
  if (!have_pico()) {
    printf("  (SVOX Pico not built or not installed: language voices skipped)\n");
    return;
  }
  static const struct {
    const char *lang, *id, *text;
  } L[] = {
      {"de", "pico:de-DE", "Guten Tag, ich bin Ihr Avatar. Wie kann ich helfen?"},
      {"fr", "pico:fr-FR", "Bonjour, je suis votre avatar. Comment puis-je vous aider?"},
      {"en-gb", "pico:en-GB", "Good afternoon, I am your avatar. How can I help?"},
  };
  for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
    ak__config c = base_config();
    snprintf(c.tts_lang, sizeof c.tts_lang, "%s", L[i].lang);
    char err[600] = "";
    ak__tts *t = ak__tts_new(&c, err, sizeof err);
    CHECK(t && strcmp(ak__tts_voice_id(t), L[i].id) == 0);
    if (!t) continue;
    capture cp = {0};
    CHECK(ak__tts_speak(t, L[i].text, cap_fn, NULL, &cp, err, sizeof err) == 0);
    check_speech(&cp, ak__tts_sample_rate(t), 1.2, 6.0, L[i].id);
    free(cp.pcm);
    ak__tts_free(t);
  }
}

static void test_fallback(void) {
#ifdef AK_HAVE_ESPEAK
  /* the natural voice's data is missing: espeak-ng speaks, and says why */
  static const char *voices[] = {"", "pico:de-DE"};
  static const char *want[] = {"espeak:en-us", "espeak:de"};
  for (int i = 0; i < 2; i++) {
    ak__config c = base_config();
    snprintf(c.tts_voice, sizeof c.tts_voice, "%s", voices[i]);
    snprintf(c.tts_data_dir, sizeof c.tts_data_dir, "/nonexistent/avatarkit-voices");
    char err[600] = "";
    ak__tts *t = ak__tts_new(&c, err, sizeof err);
    CHECK(t != NULL);
    if (!t) {
      fprintf(stderr, "  fallback: %s\n", err);
      continue;
    }
    CHECK(strcmp(ak__tts_voice_id(t), want[i]) == 0);
    CHECK(strstr(ak__tts_fallback(t), "unavailable") != NULL);
    printf("  fallback %s: %s\n", ak__tts_voice_id(t), ak__tts_fallback(t));
    capture cp = {0};
    CHECK(ak__tts_speak(t,
                        i ? "Guten Tag, wie geht es Ihnen heute?" : "How are you today, my friend?",
                        cap_fn, NULL, &cp, err, sizeof err) == 0);
    check_speech(&cp, ak__tts_sample_rate(t), 0.9, 5.0, ak__tts_voice_id(t));
    free(cp.pcm);
    ak__tts_free(t);
  }
  /* an explicit family does not fall back: the error names the missing data */
  ak__config c = base_config();
  snprintf(c.tts_provider, sizeof c.tts_provider, "pico");
  snprintf(c.tts_data_dir, sizeof c.tts_data_dir, "/nonexistent/avatarkit-voices");
  char err[600] = "";
  ak__tts *t = ak__tts_new(&c, err, sizeof err);
  CHECK(t == NULL && (strstr(err, "not found") || strstr(err, "built without")));
  ak__tts_free(t);
#endif
}

static void test_config_errors(void) {
  static const struct {
    const char *provider, *voice, *lang, *msg;
  } E[] = {
      {"local", "nosuch-voice", "en", "unknown tts voice 'nosuch-voice'"},
      {"local", "bad:slt", "en", "unknown family 'bad'"},
      {"local", "pico:xx-XX", "en", "unknown tts voice 'xx-XX'"},
      {"local", "rhvoice:nosuch", "en", "voice 'nosuch'"}, /* no fallback: not a known voice */
      {"local", "", "xx-nowhere", "unknown tts language 'xx-nowhere'"},
      {"pico", "rhvoice:slt", "en", "is not a pico voice"},
      {"festival", "", "en", "unknown tts provider 'festival'"},
      {"espeak", "nosuch-voice", "en", "unknown tts voice 'nosuch-voice'"},
  };
  for (size_t i = 0; i < sizeof E / sizeof E[0]; i++) {
    ak__config c = base_config();
    snprintf(c.tts_provider, sizeof c.tts_provider, "%s", E[i].provider);
    snprintf(c.tts_voice, sizeof c.tts_voice, "%s", E[i].voice);
    snprintf(c.tts_lang, sizeof c.tts_lang, "%s", E[i].lang);
    char err[600] = "";
    ak__tts *t = ak__tts_new(&c, err, sizeof err);
    CHECK(t == NULL);
    int named = strstr(err, E[i].msg) != NULL;
    if (!named) fprintf(stderr, "  error for %s/%s: '%s'\n", E[i].provider, E[i].voice, err);
    CHECK(named);
    ak__tts_free(t);
  }
  /* the ones decidable without loading are refused by the configuration already */
  ak__config c = base_config();
  char err[600] = "";
  char *a1[] = {"x", "--app-id", "a", "--tts-voice", "bad:slt", NULL};
  CHECK(ak__config_load(&c, 5, a1, err, sizeof err) == -1 && strstr(err, "unknown family"));
  c = base_config();
  char *a2[] = {"x", "--app-id", "a", "--tts", "festival", NULL};
  CHECK(ak__config_load(&c, 5, a2, err, sizeof err) == -1 && strstr(err, "unknown tts provider"));
  c = base_config();
  char *a3[] = {"x", "--app-id", "a", "--tts-lang", "de", "--tts-engines", "2", NULL};
  CHECK(ak__config_load(&c, 7, a3, err, sizeof err) == 0 && !strcmp(c.tts_lang, "de") &&
        c.tts_engines == 2 && !strcmp(c.tts_provider, "local"));
}

/* Cancel mid-sentence and stop from the PCM callback, per family; the engine is reused. */
static void test_cancel(const char *provider, const char *voice) {
  ak__config c = base_config();
  snprintf(c.tts_provider, sizeof c.tts_provider, "%s", provider);
  snprintf(c.tts_voice, sizeof c.tts_voice, "%s", voice);
  c.tts_engines = 1; /* one engine: the reuse after a cancel is certain */
  char err[600] = "";
  ak__tts *t = ak__tts_new(&c, err, sizeof err);
  CHECK(t != NULL);
  if (!t) {
    fprintf(stderr, "  cancel %s: %s\n", provider, err);
    return;
  }
  int rate = ak__tts_sample_rate(t);
  capture full = {0};
  CHECK(ak__tts_speak(t, LONG_TEXT, cap_fn, cap_cancel, &full, err, sizeof err) == 0);
  CHECK(full.n > (size_t)rate * 8); /* the long text is long */

  /* cancel after half a second: at most one more chunk reaches the caller */
  capture cc = {.cancel_after = (size_t)rate / 2};
  int rc = ak__tts_speak(t, LONG_TEXT, cap_fn, cap_cancel, &cc, err, sizeof err);
  printf("  %s: full %zu samples; cancelled at %zu, delivered %zu\n", ak__tts_voice_id(t), full.n,
         cc.cancel_after, cc.n);
  CHECK(rc == 1);
  CHECK(cc.n >= cc.cancel_after && cc.n <= cc.cancel_after + AK__TTS_CHUNK);
  CHECK(cc.n < full.n / 4);

  /* the callback says stop on its third call: nothing more is delivered */
  capture cs = {.stop_on_call = 3};
  rc = ak__tts_speak(t, LONG_TEXT, cap_fn, cap_cancel, &cs, err, sizeof err);
  CHECK(rc == 1 && cs.calls == 3 && cs.n == 2 * (size_t)AK__TTS_CHUNK);

  /* cancelled before the first sample (cancel answers 1 from the start): nothing at all */
  capture cn = {.cancel_after = 1, .n = 1};
  rc = ak__tts_speak(t, LONG_TEXT, cap_fn, cap_cancel, &cn, err, sizeof err);
  CHECK(rc == 1 && cn.calls == 0);

  /* the same (single) engine speaks the whole text again (espeak-ng carries a few samples of
   * state from one utterance to the next: within 50 ms) */
  capture again = {0};
  CHECK(ak__tts_speak(t, LONG_TEXT, cap_fn, cap_cancel, &again, err, sizeof err) == 0);
  size_t d = again.n > full.n ? again.n - full.n : full.n - again.n;
  if (d)
    printf("  %s: %zu samples after a cancel, %zu before\n", ak__tts_voice_id(t), again.n, full.n);
  CHECK(d <= (size_t)rate / 20);
  free(full.pcm);
  free(cc.pcm);
  free(cs.pcm);
  free(cn.pcm);
  free(again.pcm);
  ak__tts_free(t);
}

typedef struct worker {
  ak__tts *t;
  const char *text;
  capture cp;
  int rc;
  char err[256];
} worker;

static void *speak_thread(void *arg) {
  worker *w = arg;
  w->rc = ak__tts_speak(w->t, w->text, cap_fn, cap_cancel, &w->cp, w->err, sizeof w->err);
  return NULL;
}

/* n threads, each speaking text through t into its own capture. */
static void start_workers(worker *w, pthread_t *th, int n, ak__tts *t, const char *text) {
  for (int i = 0; i < n; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].t = t;
    w[i].text = text;
    CHECK(pthread_create(&th[i], NULL, speak_thread, &w[i]) == 0);
  }
}

/* What a thread got, beside the solo render, when they differ. */
static void report_worker(int i, const worker *w, const capture *solo) {
  size_t k = 0;
  while (k < w->cp.n && k < solo->n && w->cp.pcm[k] == solo->pcm[k]) k++;
  if (w->rc == 0 && k == w->cp.n && k == solo->n) return;
  printf("  thread %d: rc %d (%s), %zu samples vs %zu alone, first difference at %zu\n", i, w->rc,
         w->err, w->cp.n, solo->n, k);
}

/* Four threads through a pool of two engines (espeak-ng: one): every one gets the same audio
 * as alone. */
static void test_threads(void) {
  ak__config c = base_config();
  c.tts_engines = 2;
  char err[600] = "";
  ak__tts *t = ak__tts_new(&c, err, sizeof err);
  CHECK(t != NULL);
  if (!t) return;
  const char *text = "The quick brown fox jumps over the lazy dog.";
  capture solo = {0};
  CHECK(ak__tts_speak(t, text, cap_fn, NULL, &solo, err, sizeof err) == 0);
  worker w[4];
  pthread_t th[4];
  start_workers(w, th, 4, t, text);
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    if (strcmp(ak__tts_family(t), "espeak") == 0) {
      /* espeak-ng carries a little state between utterances: the length within 50 ms */
      size_t d = w[i].cp.n > solo.n ? w[i].cp.n - solo.n : solo.n - w[i].cp.n;
      CHECK(w[i].rc == 0 && d <= (size_t)ak__tts_sample_rate(t) / 20);
    } else {
      report_worker(i, &w[i], &solo);
      CHECK(w[i].rc == 0 && w[i].cp.n == solo.n);
      CHECK(w[i].cp.n == solo.n && memcmp(w[i].cp.pcm, solo.pcm, solo.n * sizeof *solo.pcm) == 0);
    }
    free(w[i].cp.pcm);
  }
  printf("  %s: 4 threads, %d engines: %zu samples each\n", ak__tts_voice_id(t),
         strcmp(ak__tts_family(t), "espeak") ? 2 : 1, solo.n);
  free(solo.pcm);
  ak__tts_free(t);
}

/* A stand-in engine family: a tone whose pitch follows the text, pushed in 10 ms blocks with
 * a short sleep each (threads overlap); opens fail after fake_open_limit. */
static int fake_opens, fake_open_limit;
static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;

static void *fake_open(const char *voice, const ak__config *c, char *err, size_t errcap) {
  (void)c;
  pthread_mutex_lock(&fake_mu);
  int n = ++fake_opens;
  pthread_mutex_unlock(&fake_mu);
  /* an open takes a while, as a real voice's does: long enough for callers that arrive
   * together to overlap, were the pool to open several engines at once */
  nanosleep(&(struct timespec){0, 30 * 1000000L}, NULL);
  if (n > fake_open_limit) {
    snprintf(err, errcap, "fake voice '%s': no more instances", voice);
    return NULL;
  }
  return calloc(1, 1);
}

static void fake_close(void *inst) {
  free(inst);
}

static int fake_synth(void *inst, const char *text, ak__tts_sink *sink, char *err, size_t errcap) {
  (void)inst;
  (void)err;
  (void)errcap;
  if (ak__tts_sink_rate(sink, AK__TTS_OUT_RATE)) return 1;
  double hz = 100.0 + 10.0 * (double)strlen(text);
  int16_t blk[160];
  for (int b = 0; b < 30; b++) {
    for (int i = 0; i < 160; i++)
      blk[i] = (int16_t)(8000.0 * sin(6.283185307179586 * hz * (b * 160 + i) / AK__TTS_OUT_RATE));
    if (ak__tts_sink_push(sink, blk, 160)) return 1;
    struct timespec ts = {0, 2000000L};
    nanosleep(&ts, NULL);
  }
  return 0;
}

static const ak__tts_engine_ops fake_ops = {"fake",     "fake engine", fake_open,
                                            fake_close, fake_synth,    0};

/* An engine past the first that will not open does not fail the call that asked for it: the
 * pool goes on with the engines it has and stops trying. */
static void test_pool_open_failure(int limit) {
  ak__config c = base_config();
  c.tts_engines = 3;
  fake_opens = 0;
  fake_open_limit = limit;
  char err[300] = "";
  ak__tts *t = ak__tts_new_ops(&c, &fake_ops, "x", err, sizeof err);
  CHECK(t != NULL);
  if (!t) return;
  const char *text = "six threads";
  capture solo = {0};
  CHECK(ak__tts_speak(t, text, cap_fn, NULL, &solo, err, sizeof err) == 0);
  CHECK(solo.n == 30 * 160);
  worker w[6];
  pthread_t th[6];
  for (int round = 0; round < 2; round++) {
    start_workers(w, th, 6, t, text);
    for (int i = 0; i < 6; i++) {
      pthread_join(th[i], NULL);
      report_worker(i, &w[i], &solo);
      CHECK(w[i].rc == 0 && w[i].cp.n == solo.n);
      CHECK(w[i].cp.n == solo.n && memcmp(w[i].cp.pcm, solo.pcm, solo.n * sizeof *solo.pcm) == 0);
      free(w[i].cp.pcm);
    }
  }
  /* the warm-up, the extra engines that opened and one refusal; none after it */
  printf("  %d engine%s would open: %d opens tried for 12 calls\n", limit, limit == 1 ? "" : "s",
         fake_opens);
  CHECK(fake_opens == limit + 1);
  free(solo.pcm);
  ak__tts_free(t);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("default voice\n");
  test_default_voice();
  printf("languages\n");
  test_languages();
  printf("fallback\n");
  test_fallback();
  printf("configuration errors\n");
  test_config_errors();
  printf("pool: an engine that will not open\n");
  test_pool_open_failure(1);
  test_pool_open_failure(2);
  printf("cancel\n");
  if (have_rhvoice()) test_cancel("rhvoice", "slt");
  if (have_pico()) test_cancel("pico", "en-US");
#ifdef AK_HAVE_ESPEAK
  test_cancel("espeak", "en-us");
#endif
  printf("threads\n");
  test_threads();
  if (failures) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("tts: all checks passed\n");
  return 0;
}
