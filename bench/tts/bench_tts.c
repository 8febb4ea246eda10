/* Local TTS benchmark: per voice, the time from ak__tts_speak() to the first audio chunk the
 * backend would send (100 ms of 16 kHz PCM, so resampling and chunking are included), the
 * real-time factor (synthesis wall time / audio duration) and the CPU time per second of
 * audio, through the same code path, engine pool and warm-up as the backend. Voices and
 * sentences are interleaved (rep -> voice -> sentence) so load changes hit all voices alike.
 *
 * Usage: ak_bench_tts [--reps N (default 5, max 100)] [--voice family:name]...
 * Voices not built in or not installed are reported and skipped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"

static const char *EN[] = {
    "Hello! I am your avatar.",
    "It is a quarter past three in the afternoon, and the sun is still shining.",
    "I can answer questions, tell you the time, or just have a chat with you.",
    "Sorry, I did not catch that. Could you say it again?",
};
static const char *DE[] = {"Hallo! Ich bin Ihr Avatar.",
                           "Es ist Viertel nach drei am Nachmittag, und die Sonne scheint noch.",
                           "Ich kann Fragen beantworten oder Ihnen die Uhrzeit sagen.",
                           "Entschuldigung, das habe ich nicht verstanden."};
static const char *ES[] = {"¡Hola! Soy tu avatar.",
                           "Son las tres y cuarto de la tarde, y todavía hace sol.",
                           "Puedo responder preguntas o decirte la hora.",
                           "Perdón, no lo he entendido. ¿Puedes repetirlo?"};
static const char *FR[] = {
    "Bonjour ! Je suis votre avatar.",
    "Il est trois heures et quart de l'après-midi, et le soleil brille encore.",
    "Je peux répondre à vos questions ou vous donner l'heure.",
    "Pardon, je n'ai pas compris. Pouvez-vous répéter ?"};
static const char *IT[] = {
    "Ciao! Sono il tuo avatar.", "Sono le tre e un quarto del pomeriggio, e c'è ancora il sole.",
    "Posso rispondere alle domande o dirti che ore sono.", "Scusa, non ho capito. Puoi ripetere?"};
#define N_SENT 4

static const char *DEFAULT_VOICES[] = {
    "rhvoice:slt", "rhvoice:bdl", "rhvoice:clb", "rhvoice:alan", "pico:en-US",   "pico:en-GB",
    "pico:de-DE",  "pico:es-ES",  "pico:fr-FR",  "pico:it-IT",   "espeak:en-us", "espeak:mb-us1",
};
#define MAX_VOICES 32
#define MAX_REPS 100

static double now(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct run {
  double t0, first;
  size_t samples;
} run;

static int on_pcm(void *user, const int16_t *pcm, size_t n) {
  run *r = user;
  (void)pcm;
  if (!r->samples) r->first = now(CLOCK_MONOTONIC) - r->t0;
  r->samples += n;
  return 0;
}

static const char **sentences_for(const char *voice) {
  if (strstr(voice, "de")) return DE;
  if (strstr(voice, "es")) return ES;
  if (strstr(voice, "fr")) return FR;
  if (strstr(voice, ":it")) return IT;
  return EN;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) {
  qsort(v, n, sizeof *v, cmp);
  size_t i = (size_t)ceil(p * (double)n) - 1;
  return v[i < n ? i : n - 1];
}

typedef struct voice {
  const char *name;
  ak__config cfg;
  ak__tts *t;
  double init_s;
  double ttfa[MAX_REPS * N_SENT];
  size_t n;
  double wall, cpu, audio;
} voice;

int main(int argc, char **argv) {
  int reps = 5;
  const char *names[MAX_VOICES];
  size_t nv = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = (int)strtol(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--voice") && i + 1 < argc && nv < MAX_VOICES) {
      names[nv++] = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--reps N] [--voice family:name]...\n", argv[0]);
      return 2;
    }
  }
  if (reps < 1 || reps > MAX_REPS) {
    fprintf(stderr, "--reps wants 1..%d\n", MAX_REPS);
    return 2;
  }
  if (!nv)
    for (; nv < sizeof DEFAULT_VOICES / sizeof DEFAULT_VOICES[0]; nv++)
      names[nv] = DEFAULT_VOICES[nv];
  ak__log_set_level(0);
  static voice V[MAX_VOICES];
  size_t live = 0;
  for (size_t i = 0; i < nv; i++) {
    voice *v = &V[live];
    memset(v, 0, sizeof *v);
    v->name = names[i];
    ak__config_default(&v->cfg);
    snprintf(v->cfg.tts_voice, sizeof v->cfg.tts_voice, "%s", names[i]);
    /* no fallback: an explicit family */
    const char *colon = strchr(names[i], ':');
    if (colon && (size_t)(colon - names[i]) < sizeof v->cfg.tts_provider)
      snprintf(v->cfg.tts_provider, sizeof v->cfg.tts_provider, "%.*s", (int)(colon - names[i]),
               names[i]);
    char err[600] = "";
    double t0 = now(CLOCK_MONOTONIC);
    v->t = ak__tts_new(&v->cfg, err, sizeof err);
    v->init_s = now(CLOCK_MONOTONIC) - t0;
    if (!v->t) {
      printf("skip %-15s %s\n", names[i], err);
      continue;
    }
    live++;
  }
  for (int r = 0; r < reps; r++)
    for (size_t i = 0; i < live; i++) {
      voice *v = &V[i];
      const char **sent = sentences_for(v->name);
      for (int s = 0; s < N_SENT; s++) {
        run rn = {.t0 = now(CLOCK_MONOTONIC)};
        double c0 = now(CLOCK_THREAD_CPUTIME_ID);
        char err[300];
        if (ak__tts_speak(v->t, sent[s], on_pcm, NULL, &rn, err, sizeof err) != 0) {
          printf("%s: %s\n", v->name, err);
          continue;
        }
        v->cpu += now(CLOCK_THREAD_CPUTIME_ID) - c0;
        v->wall += now(CLOCK_MONOTONIC) - rn.t0;
        v->audio += (double)rn.samples / ak__tts_sample_rate(v->t);
        v->ttfa[v->n++] = rn.first;
      }
    }
  printf("%d reps x %d sentences per voice; first audio = the first 100 ms chunk at 16 kHz\n", reps,
         N_SENT);
  printf("%-15s %8s %13s %13s %13s %8s %10s\n", "voice", "init ms", "first p50 ms", "first p95 ms",
         "first max ms", "RTF", "CPU ms/s");
  for (size_t i = 0; i < live; i++) {
    voice *v = &V[i];
    if (!v->n) continue;
    double mx = pct(v->ttfa, v->n, 1.0);
    printf("%-15s %8.1f %13.1f %13.1f %13.1f %8.4f %10.1f\n", ak__tts_voice_id(v->t),
           v->init_s * 1e3, pct(v->ttfa, v->n, 0.5) * 1e3, pct(v->ttfa, v->n, 0.95) * 1e3, mx * 1e3,
           v->wall / v->audio, v->cpu / v->audio * 1e3);
    ak__tts_free(v->t);
  }
  return 0;
}
