/* Internal interfaces of the reference backend (avatarkit-backend): configuration, the
 * pluggable ASR/LLM/TTS providers, the per-browser session and the browser-facing server.
 * Nothing here is public API; every symbol shared across files carries the ak__ prefix. */
#ifndef AK_BACKEND_H
#define AK_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- limits (each one is documented in docs/backend.md) ---------------------------------- */
#define AK__MAX_WS_MESSAGE (512 * 1024) /* largest browser text message accepted */
#define AK__SOCKET_SNDBUF (128 * 1024)  /* kernel send buffer per browser socket */
#define AK__MAX_OUT_MSGS 4096           /* outbound queue per browser, messages */
/* Outbound bytes per browser: --out-queue-kb (default 8 MiB) is the hard limit; above an
 * eighth of it droppable messages are dropped. */
#define AK__MAX_CMD_BYTES (2 * 1024 * 1024) /* pending inbound commands per browser */
#define AK__MAX_CMDS 512
#define AK__MAX_TEXT 2000          /* characters of one text_query */
#define AK__MAX_HISTORY 20         /* chat messages kept per session (LLM) */
#define AK__MAX_REPLY 8192         /* bytes of one assistant reply kept */
#define AK__MAX_UTTERANCE_S 30     /* seconds of mic audio in one utterance */
#define AK__MIC_RATE 16000         /* mic_audio PCM rate expected from browsers */
#define AK__SHUTDOWN_DRAIN_MS 2000 /* shutdown: wait for browsers to answer the 1001 close */

/* ---- configuration ----------------------------------------------------------------------- */
typedef struct ak__config {
  char listen_host[64];
  int listen_port;
  char port_file[512];
  char motion_url[512]; /* base URL of the Motion Server */
  char api_key[256], app_id[128], avatar_id[128];
  char web_root[512]; /* the demo page */
  char sdk_dir[512];  /* web/dist, served under /sdk/ */
  int max_sessions;
  int max_recognizers; /* ASR decoders alive at once (pocketsphinx: ~95 MB each) */
  int out_queue_kb;    /* hard limit of a browser's outbound queue */
  int connect_timeout_ms;
  int motion_reconnect_attempts; /* SDK reconnects after a lost Motion Server; 0 = off */
  int motion_liveness_ms;        /* a silent Motion Server connection is dead after this */
  int log_level;                 /* 0 errors, 1 info, 2 debug */

  char llm_provider[16]; /* "local" or "openai" */
  char llm_url[512];     /* base URL, e.g. https://api.openai.com/v1 */
  char llm_api_key[256];
  char llm_model[128];
  char system_prompt[2048];
  int llm_timeout_s;

  char tts_provider[16];  /* "local" (default), "rhvoice", "pico", "espeak" or "http" */
  char tts_voice[64];     /* voice name ("slt", "pico:de-DE", "mb-us1", ...) or HTTP voice */
  char tts_lang[16];      /* language whose default voice local TTS uses ("en", "de", ...) */
  char tts_data_dir[512]; /* RHVoice data / Pico lingware directory ("" = Debian's) */
  int tts_engines;        /* local TTS engine instances at once (shared by all browsers) */
  int tts_rate_wpm;       /* espeak speaking rate */
  char tts_url[512];
  char tts_api_key[256];
  char tts_model[128];
  int tts_sample_rate; /* PCM rate the HTTP provider returns */

  char asr_provider[16]; /* "sphinx", "http" or "none" */
  char asr_url[512];
  char asr_api_key[256];
  char asr_model[128];
  char sphinx_model_dir[512];
  char sphinx_lm[512]; /* language model file, or "generic" for the model dir's en-us.lm.bin */
  char sphinx_lm_quiet[512];   /* LM for utterances that start quiet; "auto" or "none" */
  char sphinx_options[512];    /* extra "-name value" pocketsphinx arguments */
  int asr_denoise_db;          /* speexdsp noise suppression before pocketsphinx; 0 = off */
  double asr_denoise_floor_db; /* ... used while the quietest frame is louder than this */
  double vad_threshold_db;     /* frame energy (dBFS) above which a frame is speech */
  double vad_margin_db;        /* ... and above the noise floor by this much (0 = off) */
  int vad_silence_ms;          /* silence that ends an utterance */
} ak__config;

void ak__config_default(ak__config *c);
/* Applies AVATARKIT_* environment variables, then argv flags (and --config FILE, a file of
 * key = value lines with the flag names). Returns 0, 1 for --help (usage printed), or -1
 * with a message in err. */
int ak__config_load(ak__config *c, int argc, char **argv, char *err, size_t errcap);
void ak__config_usage(const char *prog);

/* ---- logging ------------------------------------------------------------------------------ */
void ak__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ak__log_set_level(int level);

/* ---- small helpers (util.c) --------------------------------------------------------------- */
typedef struct ak__buf {
  char *data;
  size_t len, cap, max;
} ak__buf;
/* Appends n bytes keeping a NUL after them; returns 0 or -1 (out of memory or above max). */
int ak__buf_append(ak__buf *b, const void *p, size_t n);
void ak__buf_free(ak__buf *b);

/* Base64 (RFC 4648, padded). encode: returns a malloc'd NUL-terminated string or NULL.
 * decode: returns a malloc'd buffer and its length, NULL on malformed input. */
char *ak__b64_encode(const uint8_t *p, size_t n);
uint8_t *ak__b64_decode(const char *s, size_t n, size_t *out_len);

/* Length of the first complete sentence at the start of s[0..n) (terminator and trailing
 * spaces included), or 0 when none is complete yet. With final=1 the rest counts as one.
 * Overlong runs are cut at a space or comma after max_chars. */
size_t ak__sentence_len(const char *s, size_t n, int final, size_t max_chars);
/* 1 when s holds anything but whitespace and punctuation. */
int ak__has_words(const char *s, size_t n);

/* ---- LLM ----------------------------------------------------------------------------------- */
typedef struct ak__chat_msg {
  char role[12];
  char *content;
} ak__chat_msg;
/* Receives reply text as it streams; return non-zero to stop. */
typedef int (*ak__text_fn)(void *user, const char *text, size_t len);
/* Checked while blocking; returns non-zero when the turn is cancelled. */
typedef int (*ak__cancel_fn)(void *user);

/* Built-in agent: writes its reply to out. now: wall clock for "what time is it". */
void ak__agent_reply(const char *input, time_t now, char *out, size_t cap);
/* Runs one chat turn with the configured provider; history holds earlier messages, the last
 * one the user's. Returns 0, 1 when cancelled, or -1 with err. */
int ak__llm_run(const ak__config *c, const ak__chat_msg *history, size_t n, ak__text_fn fn,
                ak__cancel_fn cancel, void *user, char *err, size_t errcap);

/* Incremental server-sent-events parser for OpenAI-style streams. */
typedef struct ak__sse {
  ak__buf line;  /* the current, incomplete line */
  ak__buf data;  /* data: lines of the current event */
  int done;      /* [DONE] seen */
  int failed;    /* line too long, malformed event, or an error event */
  char why[200]; /* what failed, for the browser */
} ak__sse;
/* Feeds bytes split anywhere; calls fn with each content delta. Returns 0, 1 when fn asked
 * to stop, -1 on a malformed stream. */
int ak__sse_feed(ak__sse *p, const char *data, size_t n, ak__text_fn fn, void *user);
void ak__sse_free(ak__sse *p);

/* ---- TTS ----------------------------------------------------------------------------------- */
typedef int (*ak__pcm_fn)(void *user, const int16_t *pcm, size_t samples);
typedef struct ak__tts ak__tts;
/* The TTS stage shared by all sessions: the voice chosen by --tts/--tts-lang/--tts-voice
 * (a natural local voice, espeak-ng when that one is unavailable, or HTTP), loaded and tried
 * once here. Local engines live in a pool of up to --tts-engines instances, one per speaking
 * thread (espeak-ng: one, its state is process-global). NULL with err on a configuration
 * error (unknown provider, family or voice; no usable voice). */
ak__tts *ak__tts_new(const ak__config *c, char *err, size_t errcap);
void ak__tts_free(ak__tts *t);
/* Rate of the PCM ak__tts_speak() produces: 16000 for local voices (resampled from the
 * voice's own rate), --tts-sample-rate for HTTP. */
int ak__tts_sample_rate(const ak__tts *t);
/* The voice that answers, "family:name" ("rhvoice:slt", "espeak:en-us", "http:alloy"). */
const char *ak__tts_voice_id(const ak__tts *t);
/* "rhvoice", "pico", "espeak" or "http". */
const char *ak__tts_family(const ak__tts *t);
/* Why the configured natural voice was replaced by espeak-ng ("" when it was not). */
const char *ak__tts_fallback(const ak__tts *t);
/* Picks family, voice and espeak-ng fallback voice ("" = none) from the configuration without
 * loading anything. Returns 0, or -1 with err (unknown provider, family or Pico voice). */
int ak__tts_choose(const ak__config *c, char *family, size_t fcap, char *voice, size_t vcap,
                   char *fallback, size_t fbcap, char *err, size_t errcap);
/* Synthesizes text, calling fn with PCM s16le mono as it is produced. Returns 0, 1 when fn
 * or cancel stopped it, -1 with err. Thread-safe. */
int ak__tts_speak(ak__tts *t, const char *text, ak__pcm_fn fn, ak__cancel_fn cancel, void *user,
                  char *err, size_t errcap);

/* ---- ASR + VAD ----------------------------------------------------------------------------- */
/* Energy VAD on 20 ms frames of high-passed (~50 Hz) audio. A frame is speech when its energy
 * is above threshold_db AND above the noise floor + margin_db (margin_db <= 0: the threshold
 * alone). The floor is the quietest frame of the last AK__VAD_BLOCKS blocks of
 * AK__VAD_BLOCK_FRAMES frames plus the current block (2.0 to 2.2 s), kept as per-block minima:
 * bounded state, no allocation. */
#define AK__VAD_BLOCKS 10
#define AK__VAD_BLOCK_FRAMES 10
typedef struct ak__vad {
  double threshold_db, margin_db;
  int silence_ms, min_speech_ms;
  int in_speech, speech_ms, silence_run_ms, acc;
  double acc_energy;
  double hp_in, hp_out;             /* the high-pass filter's last input and output */
  double block_min[AK__VAD_BLOCKS]; /* ring of finished blocks' quietest frame, dBFS */
  double cur_min;                   /* quietest frame of the block being filled */
  int cur_frames, nblocks, next_block;
  double floor_db; /* the noise floor the last frame was judged against */
} ak__vad;
enum { AK__VAD_NONE = 0, AK__VAD_START = 1, AK__VAD_END = 2 };
void ak__vad_init(ak__vad *v, double threshold_db, double margin_db, int silence_ms);
/* Feeds 16 kHz PCM; returns the last event seen in this chunk (START, END or NONE). */
int ak__vad_feed(ak__vad *v, const int16_t *pcm, size_t n);

typedef struct ak__asr ak__asr;
/* What a session's recognizer learnt about its channel (level, microphone, room: the
 * cepstral mean), carried from one of its utterances to the next even when they are heard
 * by different recognizers of the pool. Zeroed: nothing yet. */
typedef struct ak__asr_channel {
  float mean[13];
  int valid;
} ak__asr_channel;
/* A per-session recognizer (16 kHz s16le input). NULL with err on failure. */
ak__asr *ak__asr_new(const ak__config *c, char *err, size_t errcap);
void ak__asr_free(ak__asr *a);
int ak__asr_feed(ak__asr *a, const int16_t *pcm, size_t n);
/* Current partial hypothesis ("" if none or unsupported). */
void ak__asr_partial(ak__asr *a, char *out, size_t cap);
/* Binds the session's channel state for the utterances to come (until ak__asr_pool_put):
 * the next utterance starts from ch when ch->valid, else cold (its first 2 s set the
 * mean); each finished utterance with a mean of its own updates ch. NULL: every utterance starts
 * cold. */
void ak__asr_bind(ak__asr *a, ak__asr_channel *ch);
/* Ends the utterance and writes the final text. Returns 0, or -1 with err. */
int ak__asr_finish(ak__asr *a, char *out, size_t cap, char *err, size_t errcap);

/* A bounded pool of recognizers shared by all sessions: one is taken for an utterance and
 * given back at its end, so memory stays bounded however many browsers are connected. */
typedef struct ak__asr_pool ak__asr_pool;
ak__asr_pool *ak__asr_pool_new(const ak__config *c);
void ak__asr_pool_free(ak__asr_pool *p);
/* A ready recognizer, or NULL with err (all busy, or the provider failed to load). */
ak__asr *ak__asr_pool_get(ak__asr_pool *p, char *err, size_t errcap);
/* Gives a recognizer back (any unfinished utterance is dropped). NULL is a no-op. */
void ak__asr_pool_put(ak__asr_pool *p, ak__asr *a);

/* ---- sessions ------------------------------------------------------------------------------ */
typedef struct ak__session ak__session;
struct ak__registry;

/* What a session needs from whoever owns it (the server): shared engines, where to start its
 * threads, and how to ask the service thread to drain its outbound queue. */
typedef struct ak__session_env {
  const ak__config *cfg;
  ak__tts *tts;
  ak__asr_pool *asr_pool;
  struct ak__registry *threads; /* its two threads are started here (registry.h) */
  void (*wake)(void *user);     /* any thread: the outbound queue has something to send */
  void *wake_user;
} ak__session_env;

/* Creates a session for a new browser and starts its threads. NULL on failure. */
ak__session *ak__session_new(const ak__session_env *env);
/* The browser is gone: stops the threads; the session frees itself when they end. */
void ak__session_release(ak__session *s);
/* Handles one complete text message from the browser (lws thread). */
void ak__session_on_text(ak__session *s, const char *msg, size_t len);
/* Queues a JSON object for the browser as a text frame (takes ownership of the cJSON tree).
 * droppable: may be dropped under backpressure. Any thread. */
struct cJSON;
void ak__session_send(ak__session *s, struct cJSON *obj, int droppable);
void ak__session_send_error(ak__session *s, const char *code, const char *message);
/* Outbound queue access for the lws thread: pops one message (with LWS_PRE headroom before
 * its payload), or returns NULL. *binary: send it as a binary frame (a relayed Message),
 * else as text (JSON). *overflow is set when the hard limit was hit. */
char *ak__session_pop(ak__session *s, size_t *len, int *binary, int *more, int *overflow);
const char *ak__session_id(const ak__session *s);

#endif
