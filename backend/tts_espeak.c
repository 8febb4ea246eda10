/* espeak-ng (Debian main) through its C library: the fallback voice for every language, and
 * the MBROLA voices (mb-us1, mb-de6, ...) where mbrola and its voices are installed.
 * espeak-ng keeps process-global state (one current voice, one callback, one synthesis at a
 * time), so this file holds the only global mutable state of the TTS stage: a mutex that
 * serializes every espeak-ng call, whether the library is initialized, and the voice and rate
 * last set. espeak-ng is initialized once per process and never terminated (after
 * espeak_Terminate a second espeak_Initialize leaves its synchronizer waiting forever). The
 * engine table says one instance at a time, so the pool in tts.c serializes speakers. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>

#include "tts_internal.h"

static pthread_mutex_t g_espeak_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_espeak_ready;      /* espeak_Initialize done; guarded by g_espeak_mu */
static char g_espeak_voice[64]; /* voice last set; guarded by g_espeak_mu */
static int g_espeak_wpm;        /* rate last set; guarded by g_espeak_mu */

typedef struct es_inst {
  char voice[64];
  int wpm;
} es_inst;

static int es_cb(short *wav, int n, espeak_EVENT *ev) {
  ak__tts_sink *sink = ev ? ev->user_data : NULL;
  if (!sink) return 1;
  if (sink->stopped || sink->failed) return 1;
  if (wav && n > 0) return ak__tts_sink_push(sink, wav, (size_t)n) ? 1 : 0;
  /* no audio in this callback (events only): still honour a cancel promptly */
  return sink->cancel && sink->cancel(sink->user) ? (sink->stopped = 1) : 0;
}

/* With g_espeak_mu held: makes inst's voice and rate current. */
static int es_select(const es_inst *e) {
  if (strcmp(g_espeak_voice, e->voice) != 0) {
    if (espeak_SetVoiceByName(e->voice) != EE_OK) {
      g_espeak_voice[0] = 0;
      return -1;
    }
    snprintf(g_espeak_voice, sizeof g_espeak_voice, "%s", e->voice);
    g_espeak_wpm = 0; /* a new voice resets the rate */
  }
  if (e->wpm > 0 && g_espeak_wpm != e->wpm) {
    espeak_SetParameter(espeakRATE, e->wpm, 0);
    g_espeak_wpm = e->wpm;
  }
  return 0;
}

static void es_close(void *inst) {
  free(inst);
}

static void *es_open(const char *voice, const ak__config *c, char *err, size_t errcap) {
  es_inst *e = calloc(1, sizeof *e);
  if (!e) {
    snprintf(err, errcap, "out of memory");
    return NULL;
  }
  snprintf(e->voice, sizeof e->voice, "%s", voice);
  e->wpm = c->tts_rate_wpm;
  pthread_mutex_lock(&g_espeak_mu);
  if (!g_espeak_ready) {
    /* 60 ms buffers: the callback (and so a cancel check) comes every 60 ms of audio */
    if (espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 60, NULL, 0) <= 0) {
      pthread_mutex_unlock(&g_espeak_mu);
      free(e);
      snprintf(err, errcap, "espeak-ng initialization failed (is espeak-ng-data installed?)");
      return NULL;
    }
    espeak_SetSynthCallback(es_cb);
    g_espeak_voice[0] = 0;
    g_espeak_ready = 1;
  }
  int bad = es_select(e);
  pthread_mutex_unlock(&g_espeak_mu);
  if (bad) {
    snprintf(err, errcap, "espeak-ng has no voice '%s' (see espeak-ng --voices)", voice);
    es_close(e);
    return NULL;
  }
  return e;
}

static int es_synth(void *inst, const char *text, ak__tts_sink *sink, char *err, size_t errcap) {
  es_inst *e = inst;
  pthread_mutex_lock(&g_espeak_mu);
  espeak_ERROR r = es_select(e) ? EE_NOT_FOUND : EE_OK;
  /* the rate follows the voice (MBROLA voices run at 16000 or 22050 Hz) */
  if (r == EE_OK && ak__tts_sink_rate(sink, espeak_ng_GetSampleRate())) r = EE_INTERNAL_ERROR;
  if (r == EE_OK)
    r = espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, sink);
  if (r == EE_OK) r = espeak_Synchronize();
  pthread_mutex_unlock(&g_espeak_mu);
  if (sink->stopped || sink->failed) return 1;
  if (r != EE_OK) {
    snprintf(err, errcap, "espeak-ng synthesis failed (%d, voice '%s')", (int)r, e->voice);
    return -1;
  }
  return 0;
}

const ak__tts_engine_ops ak__tts_espeak = {"espeak", "espeak-ng", es_open, es_close, es_synth, 1};
