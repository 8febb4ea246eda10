/* Backend configuration: defaults, then AVATARKIT_* environment variables, then an optional
 * key = value config file (--config), then command-line flags. Secrets (API keys) are taken
 * from the environment or the config file only, never from flags. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#ifndef AK_BACKEND_WEB_DIR
#define AK_BACKEND_WEB_DIR "backend/web"
#endif
#ifndef AK_BACKEND_SDK_DIR
#define AK_BACKEND_SDK_DIR "web/dist"
#endif
#ifndef AK_BACKEND_ASR_DIR
#define AK_BACKEND_ASR_DIR "backend/asr"
#endif

enum { T_STR, T_INT, T_DBL, T_LISTEN };

typedef struct opt {
  const char *name; /* flag without "--", also the config-file key */
  const char *env;  /* environment variable */
  int type;
  size_t off, size;
  int secret;  /* env/file only */
  long lo, hi; /* bounds for T_INT */
  const char *help;
} opt;

#define S(f) T_STR, offsetof(ak__config, f), sizeof(((ak__config *)0)->f)
#define I(f) T_INT, offsetof(ak__config, f), sizeof(int)
#define D(f) T_DBL, offsetof(ak__config, f), sizeof(double)

static const opt OPTS[] = {
    {"listen", "AVATARKIT_LISTEN", T_LISTEN, 0, 0, 0, 0, 0,
     "HOST:PORT to serve (port 0 = any free)"},
    {"port-file", "AVATARKIT_PORT_FILE", S(port_file), 0, 0, 0, "write the bound port here"},
    {"motion-url", "AVATARKIT_MOTION_URL", S(motion_url), 0, 0, 0, "Motion Server base URL"},
    {"api-key", "AVATARKIT_API_KEY", S(api_key), 1, 0, 0, "Motion Server API key (secret)"},
    {"app-id", "AVATARKIT_APP_ID", S(app_id), 0, 0, 0, "app id"},
    {"avatar-id", "AVATARKIT_AVATAR_ID", S(avatar_id), 0, 0, 0, "avatar id"},
    {"web-root", "AVATARKIT_WEB_ROOT", S(web_root), 0, 0, 0, "demo page directory"},
    {"sdk-dir", "AVATARKIT_SDK_DIR", S(sdk_dir), 0, 0, 0, "built web SDK, served at /sdk/"},
    {"max-sessions", "AVATARKIT_MAX_SESSIONS", I(max_sessions), 0, 1, 4096,
     "browser sessions at once"},
    {"max-recognizers", "AVATARKIT_MAX_RECOGNIZERS", I(max_recognizers), 0, 1, 256,
     "ASR decoders at once (shared by all browsers)"},
    {"out-queue-kb", "AVATARKIT_OUT_QUEUE_KB", I(out_queue_kb), 0, 16, 1048576,
     "outbound queue limit per browser"},
    {"connect-timeout-ms", "AVATARKIT_CONNECT_TIMEOUT_MS", I(connect_timeout_ms), 0, 100, 120000,
     "network connect timeout"},
    {"motion-reconnect-attempts", "AVATARKIT_MOTION_RECONNECT_ATTEMPTS",
     I(motion_reconnect_attempts), 0, 0, 1000,
     "reconnects in a row after a lost Motion Server (0 = off)"},
    {"motion-liveness-ms", "AVATARKIT_MOTION_LIVENESS_MS", I(motion_liveness_ms), 0, 500, 600000,
     "silence after which the Motion Server connection is dead"},
    {"log-level", "AVATARKIT_LOG_LEVEL", I(log_level), 0, 0, 2, "0 errors, 1 info, 2 debug"},
    {"llm", "AVATARKIT_LLM", S(llm_provider), 0, 0, 0, "local | openai"},
    {"llm-url", "AVATARKIT_LLM_URL", S(llm_url), 0, 0, 0, "OpenAI-compatible base URL"},
    {"llm-api-key", "AVATARKIT_LLM_API_KEY", S(llm_api_key), 1, 0, 0, "LLM key (secret)"},
    {"llm-model", "AVATARKIT_LLM_MODEL", S(llm_model), 0, 0, 0, "model name"},
    {"system-prompt", "AVATARKIT_SYSTEM_PROMPT", S(system_prompt), 0, 0, 0, "system prompt"},
    {"llm-timeout-s", "AVATARKIT_LLM_TIMEOUT_S", I(llm_timeout_s), 0, 1, 600,
     "whole-reply timeout"},
    {"tts", "AVATARKIT_TTS", S(tts_provider), 0, 0, 0, "local | rhvoice | pico | espeak | http"},
    {"tts-voice", "AVATARKIT_TTS_VOICE", S(tts_voice), 0, 0, 0,
     "voice (slt, pico:de-DE, mb-us1, ...) or HTTP voice"},
    {"tts-lang", "AVATARKIT_TTS_LANG", S(tts_lang), 0, 0, 0,
     "language of the default local voice (en, en-gb, de, es, fr, it, ...)"},
    {"tts-data-dir", "AVATARKIT_TTS_DATA_DIR", S(tts_data_dir), 0, 0, 0,
     "RHVoice data or Pico lingware directory"},
    {"tts-engines", "AVATARKIT_TTS_ENGINES", I(tts_engines), 0, 1, 64,
     "local TTS engines at once (shared by all browsers)"},
    {"tts-rate-wpm", "AVATARKIT_TTS_RATE_WPM", I(tts_rate_wpm), 0, 80, 450,
     "espeak words per minute"},
    {"tts-url", "AVATARKIT_TTS_URL", S(tts_url), 0, 0, 0, "OpenAI-compatible base URL"},
    {"tts-api-key", "AVATARKIT_TTS_API_KEY", S(tts_api_key), 1, 0, 0, "TTS key (secret)"},
    {"tts-model", "AVATARKIT_TTS_MODEL", S(tts_model), 0, 0, 0, "TTS model"},
    {"tts-sample-rate", "AVATARKIT_TTS_SAMPLE_RATE", I(tts_sample_rate), 0, 8000, 48000,
     "PCM rate the HTTP TTS returns"},
    {"asr", "AVATARKIT_ASR", S(asr_provider), 0, 0, 0, "sphinx | http | none"},
    {"asr-url", "AVATARKIT_ASR_URL", S(asr_url), 0, 0, 0, "OpenAI-compatible base URL"},
    {"asr-api-key", "AVATARKIT_ASR_API_KEY", S(asr_api_key), 1, 0, 0, "ASR key (secret)"},
    {"asr-model", "AVATARKIT_ASR_MODEL", S(asr_model), 0, 0, 0, "ASR model"},
    {"sphinx-model-dir", "AVATARKIT_SPHINX_MODEL_DIR", S(sphinx_model_dir), 0, 0, 0,
     "pocketsphinx en-us models"},
    {"sphinx-lm", "AVATARKIT_SPHINX_LM", S(sphinx_lm), 0, 0, 0,
     "language model: ARPA/binary path, or 'generic' (en-us.lm.bin)"},
    {"sphinx-lm-quiet", "AVATARKIT_SPHINX_LM_QUIET", S(sphinx_lm_quiet), 0, 0, 0,
     "LM for utterances starting below --asr-denoise-floor-db: path, auto or none"},
    {"sphinx-options", "AVATARKIT_SPHINX_OPTIONS", S(sphinx_options), 0, 0, 0,
     "extra pocketsphinx arguments, '-name value' pairs"},
    {"asr-denoise-db", "AVATARKIT_ASR_DENOISE_DB", I(asr_denoise_db), 0, -60, 0,
     "noise suppression before pocketsphinx, dB (0 = off)"},
    {"asr-denoise-floor-db", "AVATARKIT_ASR_DENOISE_FLOOR_DB", D(asr_denoise_floor_db), 0, 0, 0,
     "suppress only while the quietest 20 ms frame is louder (dBFS)"},
    {"vad-threshold-db", "AVATARKIT_VAD_THRESHOLD_DB", D(vad_threshold_db), 0, 0, 0,
     "speech energy threshold, dBFS"},
    {"vad-margin-db", "AVATARKIT_VAD_MARGIN_DB", D(vad_margin_db), 0, 0, 0,
     "speech must also exceed the noise floor by this much, dB (0 = off)"},
    {"vad-silence-ms", "AVATARKIT_VAD_SILENCE_MS", I(vad_silence_ms), 0, 100, 10000,
     "silence ending an utterance"},
};
#define N_OPTS (sizeof OPTS / sizeof OPTS[0])

void ak__config_default(ak__config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
  c->listen_port = 8080;
  snprintf(c->motion_url, sizeof c->motion_url, "http://127.0.0.1:8081");
  snprintf(c->avatar_id, sizeof c->avatar_id, "default");
  snprintf(c->web_root, sizeof c->web_root, "%s", AK_BACKEND_WEB_DIR);
  snprintf(c->sdk_dir, sizeof c->sdk_dir, "%s", AK_BACKEND_SDK_DIR);
  c->max_sessions = 64;
  c->out_queue_kb = 8192;
  c->max_recognizers = 4;
  c->connect_timeout_ms = 5000;
  c->motion_reconnect_attempts = 8;
  c->motion_liveness_ms = 5000;
  c->log_level = 1;
  snprintf(c->llm_provider, sizeof c->llm_provider, "local");
  snprintf(c->llm_url, sizeof c->llm_url, "https://api.openai.com/v1");
  snprintf(c->llm_model, sizeof c->llm_model, "gpt-4o-mini");
  snprintf(c->system_prompt, sizeof c->system_prompt,
           "You are a friendly talking avatar. Answer in one to three short spoken sentences, "
           "without lists, markdown or emoji.");
  c->llm_timeout_s = 60;
  snprintf(c->tts_provider, sizeof c->tts_provider, "local");
  c->tts_voice[0] = 0; /* local: the --tts-lang default (rhvoice:slt for en); http: alloy */
  snprintf(c->tts_lang, sizeof c->tts_lang, "en");
  c->tts_engines = 4;
  c->tts_rate_wpm = 165;
  snprintf(c->tts_model, sizeof c->tts_model, "tts-1");
  c->tts_sample_rate = 24000;
  snprintf(c->asr_provider, sizeof c->asr_provider, "sphinx");
  snprintf(c->asr_model, sizeof c->asr_model, "whisper-1");
  snprintf(c->sphinx_model_dir, sizeof c->sphinx_model_dir, "/usr/share/pocketsphinx/model/en-us");
  snprintf(c->sphinx_lm, sizeof c->sphinx_lm, "%s/demo.lm", AK_BACKEND_ASR_DIR);
  snprintf(c->sphinx_lm_quiet, sizeof c->sphinx_lm_quiet, "auto");
  c->asr_denoise_db = -15;
  c->asr_denoise_floor_db = -50.0;
  c->vad_threshold_db = -40.0;
  c->vad_margin_db = 8.0;
  c->vad_silence_ms = 700;
}

static const opt *find(const char *name, size_t len) {
  for (size_t i = 0; i < N_OPTS; i++)
    if (strlen(OPTS[i].name) == len && strncmp(OPTS[i].name, name, len) == 0) return &OPTS[i];
  return NULL;
}

static int set(ak__config *c, const opt *o, const char *v, const char *src, char *err,
               size_t errcap) {
  char *base = (char *)c;
  if (o->type == T_STR) {
    if (strlen(v) >= o->size) {
      snprintf(err, errcap, "%s: value of %s too long (max %zu)", src, o->name, o->size - 1);
      return -1;
    }
    snprintf(base + o->off, o->size, "%s", v);
    return 0;
  }
  if (o->type == T_DBL) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end) {
      snprintf(err, errcap, "%s: %s wants a number, got '%s'", src, o->name, v);
      return -1;
    }
    memcpy(base + o->off, &d, sizeof d);
    return 0;
  }
  if (o->type == T_INT) {
    char *end;
    errno = 0;
    long l = strtol(v, &end, 10);
    if (errno || end == v || *end || l < o->lo || l > o->hi) {
      snprintf(err, errcap, "%s: %s wants an integer in %ld..%ld, got '%s'", src, o->name, o->lo,
               o->hi, v);
      return -1;
    }
    int iv = (int)l;
    memcpy(base + o->off, &iv, sizeof iv);
    return 0;
  }
  /* T_LISTEN: HOST:PORT or :PORT or PORT */
  const char *colon = strrchr(v, ':');
  const char *port = colon ? colon + 1 : v;
  char *end;
  errno = 0;
  long p = strtol(port, &end, 10);
  if (errno || end == port || *end || p < 0 || p > 65535) {
    snprintf(err, errcap, "%s: listen wants HOST:PORT, got '%s'", src, v);
    return -1;
  }
  if (colon) {
    size_t hl = (size_t)(colon - v);
    if (hl >= sizeof c->listen_host) {
      snprintf(err, errcap, "%s: listen host too long", src);
      return -1;
    }
    if (hl) {
      memcpy(c->listen_host, v, hl);
      c->listen_host[hl] = 0;
    }
  }
  c->listen_port = (int)p;
  return 0;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
  return s;
}

static int load_file(ak__config *c, const char *path, char *err, size_t errcap) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errcap, "config file %s: %s", path, strerror(errno));
    return -1;
  }
  char line[4096];
  int ln = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    ln++;
    char *s = trim(line);
    if (!*s || *s == '#') continue;
    char *eq = strchr(s, '=');
    char src[600];
    snprintf(src, sizeof src, "%s:%d", path, ln);
    if (!eq) {
      snprintf(err, errcap, "%s: expected key = value", src);
      rc = -1;
      break;
    }
    *eq = 0;
    char *k = trim(s), *v = trim(eq + 1);
    size_t vl = strlen(v);
    if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
      v[vl - 1] = 0;
      v++;
    }
    const opt *o = find(k, strlen(k));
    if (!o) {
      snprintf(err, errcap, "%s: unknown key '%s'", src, k);
      rc = -1;
      break;
    }
    if ((rc = set(c, o, v, src, err, errcap))) break;
  }
  fclose(f);
  return rc;
}

void ak__config_usage(const char *prog) {
  printf(
      "usage: %s [--flag value]...\n\n"
      "Reference avatarkit backend: serves the demo page at / and the browser WebSocket at\n"
      "/ws/agent, runs ASR -> LLM -> TTS per browser and relays avatar audio and motion from\n"
      "the Motion Server. Every flag has an environment variable; secrets come only from\n"
      "the environment or --config FILE (key = value lines, keys as flag names).\n\n",
      prog);
  for (size_t i = 0; i < N_OPTS; i++)
    printf("  %s%-20s %-30s %s\n", OPTS[i].secret ? "  " : "--", OPTS[i].name, OPTS[i].env,
           OPTS[i].help);
  printf("  --config FILE\n  --help\n");
}

int ak__config_load(ak__config *c, int argc, char **argv, char *err, size_t errcap) {
  int llm_explicit = 0;
  for (size_t i = 0; i < N_OPTS; i++) {
    const char *v = getenv(OPTS[i].env);
    if (v && *v) {
      if (set(c, &OPTS[i], v, OPTS[i].env, err, errcap)) return -1;
      if (OPTS[i].off == offsetof(ak__config, llm_provider) && OPTS[i].type == T_STR)
        llm_explicit = 1;
    }
  }
  /* the config file comes before the other flags so flags win */
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--config") == 0) {
      if (i + 1 >= argc) {
        snprintf(err, errcap, "--config needs a file");
        return -1;
      }
      if (load_file(c, argv[i + 1], err, errcap)) return -1;
    }
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      ak__config_usage(argv[0]);
      return 1;
    }
    if (strcmp(a, "--config") == 0) {
      i++;
      continue;
    }
    if (strncmp(a, "--", 2) != 0) {
      snprintf(err, errcap, "unexpected argument '%s'", a);
      return -1;
    }
    a += 2;
    const char *eq = strchr(a, '=');
    size_t nl = eq ? (size_t)(eq - a) : strlen(a);
    const opt *o = find(a, nl);
    if (!o) {
      snprintf(err, errcap, "unknown flag --%.*s (see --help)", (int)nl, a);
      return -1;
    }
    if (o->secret) {
      snprintf(err, errcap, "--%s is a secret: set %s or use --config FILE", o->name, o->env);
      return -1;
    }
    const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!v) {
      snprintf(err, errcap, "--%s needs a value", o->name);
      return -1;
    }
    if (set(c, o, v, "flag", err, errcap)) return -1;
    if (o->off == offsetof(ak__config, llm_provider) && o->type == T_STR) llm_explicit = 1;
  }
  /* A key alone switches the LLM to the OpenAI-compatible client. */
  if (!llm_explicit && c->llm_api_key[0])
    snprintf(c->llm_provider, sizeof c->llm_provider, "openai");
  if (strcmp(c->llm_provider, "local") && strcmp(c->llm_provider, "openai")) {
    snprintf(err, errcap, "unknown llm provider '%s' (local or openai)", c->llm_provider);
    return -1;
  }
  if (strcmp(c->asr_provider, "sphinx") && strcmp(c->asr_provider, "http") &&
      strcmp(c->asr_provider, "none")) {
    snprintf(err, errcap, "unknown asr provider '%s' (sphinx, http or none)", c->asr_provider);
    return -1;
  }
  if (!strcmp(c->asr_provider, "http") && !c->asr_url[0]) {
    snprintf(err, errcap, "asr provider http needs --asr-url");
    return -1;
  }
  if (strcmp(c->tts_provider, "http")) { /* provider, family and Pico names: before loading */
    char fam[16], voice[64], fb[64];
    if (ak__tts_choose(c, fam, sizeof fam, voice, sizeof voice, fb, sizeof fb, err, errcap))
      return -1;
  }
  if (!c->app_id[0]) {
    snprintf(err, errcap, "no app id: set AVATARKIT_APP_ID (or --app-id)");
    return -1;
  }
  size_t ml = strlen(c->motion_url);
  while (ml && c->motion_url[ml - 1] == '/') c->motion_url[--ml] = 0;
  ml = strlen(c->llm_url);
  while (ml && c->llm_url[ml - 1] == '/') c->llm_url[--ml] = 0;
  ml = strlen(c->tts_url);
  while (ml && c->tts_url[ml - 1] == '/') c->tts_url[--ml] = 0;
  ml = strlen(c->asr_url);
  while (ml && c->asr_url[ml - 1] == '/') c->asr_url[--ml] = 0;
  return 0;
}
