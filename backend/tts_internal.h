/* Inside the TTS stage: the sink every local engine writes its native PCM into (cancel
 * checks, resampling to the output rate, fixed-size chunks to the caller), and the function
 * table each local engine family (RHVoice, SVOX Pico, espeak-ng) implements in its own file. */
#ifndef AK_BACKEND_TTS_INTERNAL_H
#define AK_BACKEND_TTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

struct ak_resampler;

/* Output rate of the local engines: the Motion Server's engine runs at 16 kHz, so voices at
 * other rates are resampled here once (ak_resampler) instead of there. */
#define AK__TTS_OUT_RATE 16000
/* Samples handed to the caller at once (100 ms at 16 kHz); the last chunk may be shorter. */
#define AK__TTS_CHUNK 1600
/* Trailing silence: engines end a sentence with up to half a second of it (Pico), which
 * sentence-by-sentence speech would add between sentences. Quiet 20 ms frames (peak below
 * -50 dBFS) are held back and sent when sound follows; at the end at most 200 ms of them are
 * kept. A pause longer than 2 s inside a sentence is sent as it is. */
#define AK__TTS_FRAME 320
#define AK__TTS_QUIET_PEAK 100
#define AK__TTS_KEEP_TAIL 3200
#define AK__TTS_MAX_HELD 32000

/* One synthesis call's destination. Engines call ak__tts_sink_rate() before their first
 * samples (again if the rate changes) and ak__tts_sink_push() as samples appear; both return
 * non-zero when synthesis must stop (cancelled, caller said stop, or an error). */
typedef struct ak__tts_sink {
  ak__pcm_fn fn;
  ak__cancel_fn cancel;
  void *user;
  int in_rate; /* the engine's current rate; 0 until told */
  struct ak_resampler *rs;
  int stopped;      /* fn or cancel asked to stop */
  int failed;       /* resampler error */
  size_t in, out;   /* samples received from the engine / handed to fn */
  size_t n;         /* samples in buf */
  size_t trimmed;   /* trailing silence dropped */
  size_t nf, nheld; /* samples in frame / held */
  int16_t buf[AK__TTS_CHUNK];
  int16_t frame[AK__TTS_FRAME];
  int16_t held[AK__TTS_MAX_HELD];
} ak__tts_sink;

int ak__tts_sink_rate(ak__tts_sink *s, int rate);
int ak__tts_sink_push(ak__tts_sink *s, const int16_t *pcm, size_t n);

/* A local engine family. An instance serves one call at a time; the pool in tts.c gives each
 * thread its own. open: NULL with err when the voice or its data is missing. synth: returns 0
 * done, 1 stopped by the sink, -1 with err (the instance is then closed, not reused). */
typedef struct ak__tts_engine_ops {
  const char *family; /* "rhvoice", "pico", "espeak" */
  const char *label;  /* "RHVoice", "SVOX Pico", "espeak-ng" */
  void *(*open)(const char *voice, const ak__config *c, char *err, size_t errcap);
  void (*close)(void *inst);
  int (*synth)(void *inst, const char *text, ak__tts_sink *sink, char *err, size_t errcap);
  int max_instances; /* 0 = no limit of the library's own (espeak-ng: 1, global state) */
} ak__tts_engine_ops;

/* A pool of one given family's instances (ak__tts_new picks the family from the
 * configuration; tests hand in their own table). */
ak__tts *ak__tts_new_ops(const ak__config *c, const ak__tts_engine_ops *ops, const char *voice,
                         char *err, size_t errcap);

#ifdef AK_HAVE_RHVOICE
extern const ak__tts_engine_ops ak__tts_rhvoice;
#endif
#ifdef AK_HAVE_PICO
extern const ak__tts_engine_ops ak__tts_pico;
/* 1 when name is one of the Pico languages (en-US, en-GB, de-DE, es-ES, fr-FR, it-IT). */
int ak__tts_pico_known(const char *name);
#endif
#ifdef AK_HAVE_ESPEAK
extern const ak__tts_engine_ops ak__tts_espeak;
#endif

#endif
