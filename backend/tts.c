/* The TTS stage behind one small function table: espeak-ng through its C library (local,
 * default) and an OpenAI-compatible HTTP /audio/speech provider returning raw PCM. espeak-ng
 * keeps process-global state and is not thread-safe, so every call goes through one mutex. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#ifdef AK_HAVE_ESPEAK
#include <espeak-ng/speak_lib.h>
#endif

#include "backend.h"

typedef struct tts_ops {
  int (*speak)(ak__tts *t, const char *text, ak__pcm_fn fn, ak__cancel_fn cancel, void *user,
               char *err, size_t errcap);
} tts_ops;

struct ak__tts {
  const tts_ops *ops;
  const ak__config *cfg;
  int rate;
  pthread_mutex_t mu; /* serializes espeak-ng */
};

/* ---- espeak-ng ----------------------------------------------------------------------- */
#ifdef AK_HAVE_ESPEAK
typedef struct espeak_call {
  ak__pcm_fn fn;
  ak__cancel_fn cancel;
  void *user;
  int stopped;
} espeak_call;

static int espeak_cb(short *wav, int n, espeak_EVENT *ev) {
  espeak_call *call = ev ? ev->user_data : NULL;
  if (!call) return 0;
  if (call->stopped) return 1;
  if (call->cancel && call->cancel(call->user)) {
    call->stopped = 1;
    return 1;
  }
  if (wav && n > 0 && call->fn(call->user, wav, (size_t)n)) {
    call->stopped = 1;
    return 1;
  }
  return 0;
}

static int espeak_speak(ak__tts *t, const char *text, ak__pcm_fn fn, ak__cancel_fn cancel,
                        void *user, char *err, size_t errcap) {
  espeak_call call = {.fn = fn, .cancel = cancel, .user = user};
  pthread_mutex_lock(&t->mu);
  espeak_ERROR e =
      espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, &call);
  if (e == EE_OK) e = espeak_Synchronize();
  pthread_mutex_unlock(&t->mu);
  if (call.stopped) return 1;
  if (e != EE_OK) {
    snprintf(err, errcap, "espeak-ng synthesis failed (%d)", (int)e);
    return -1;
  }
  return 0;
}

static const tts_ops espeak_ops = {espeak_speak};

static int espeak_init(ak__tts *t, const ak__config *c, char *err, size_t errcap) {
  int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, NULL, 0);
  if (rate <= 0) {
    snprintf(err, errcap, "espeak-ng initialization failed (is espeak-ng-data installed?)");
    return -1;
  }
  espeak_SetSynthCallback(espeak_cb);
  const char *voice = c->tts_voice[0] ? c->tts_voice : "en-us";
  if (espeak_SetVoiceByName(voice) != EE_OK) {
    snprintf(err, errcap, "espeak-ng voice '%s' not found", voice);
    return -1;
  }
  if (c->tts_rate_wpm > 0) espeak_SetParameter(espeakRATE, c->tts_rate_wpm, 0);
  t->rate = rate;
  t->ops = &espeak_ops;
  return 0;
}
#endif

/* ---- HTTP (OpenAI-compatible /audio/speech, response_format pcm) ------------------------- */
typedef struct http_call {
  ak__pcm_fn fn;
  ak__cancel_fn cancel;
  void *user;
  int stopped;
  long status;
  CURL *cu;
  uint8_t odd[1];
  size_t n_odd;
  ak__buf err_body;
  int16_t pcm[4096];
} http_call;

static size_t http_body(char *ptr, size_t size, size_t nmemb, void *ud) {
  http_call *h = ud;
  size_t n = size * nmemb;
  if (!h->status) curl_easy_getinfo(h->cu, CURLINFO_RESPONSE_CODE, &h->status);
  if (h->status >= 300) {
    if (h->err_body.len < 1024) ak__buf_append(&h->err_body, ptr, n < 1024 ? n : 1024);
    return n;
  }
  const uint8_t *p = (const uint8_t *)ptr;
  size_t left = n;
  while (left) {
    size_t k = 0;
    if (h->n_odd) { /* a sample split across two reads */
      h->pcm[k++] = (int16_t)(h->odd[0] | p[0] << 8);
      h->n_odd = 0;
      p++;
      left--;
    }
    while (left >= 2 && k < sizeof h->pcm / sizeof h->pcm[0]) {
      h->pcm[k++] = (int16_t)(p[0] | p[1] << 8);
      p += 2;
      left -= 2;
    }
    if (left == 1 && k < sizeof h->pcm / sizeof h->pcm[0]) {
      h->odd[0] = p[0];
      h->n_odd = 1;
      p++;
      left = 0;
    }
    if (k && h->fn(h->user, h->pcm, k)) {
      h->stopped = 1;
      return 0;
    }
  }
  return n;
}

static int http_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  http_call *h = ud;
  if (h->cancel && h->cancel(h->user)) {
    h->stopped = 1;
    return 1;
  }
  return 0;
}

static int http_speak(ak__tts *t, const char *text, ak__pcm_fn fn, ak__cancel_fn cancel, void *user,
                      char *err, size_t errcap) {
  const ak__config *c = t->cfg;
  cJSON *req = cJSON_CreateObject();
  cJSON_AddStringToObject(req, "model", c->tts_model);
  cJSON_AddStringToObject(req, "input", text);
  cJSON_AddStringToObject(req, "voice", c->tts_voice[0] ? c->tts_voice : "alloy");
  cJSON_AddStringToObject(req, "response_format", "pcm");
  char *body = cJSON_PrintUnformatted(req);
  cJSON_Delete(req);
  if (!body) {
    snprintf(err, errcap, "out of memory");
    return -1;
  }
  char url[600], auth[300];
  snprintf(url, sizeof url, "%s/audio/speech", c->tts_url);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->tts_api_key);
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
  if (c->tts_api_key[0]) hdr = curl_slist_append(hdr, auth);
  http_call *h = calloc(1, sizeof *h);
  CURL *cu = curl_easy_init();
  int rc = -1;
  if (!h || !cu) {
    snprintf(err, errcap, "out of memory");
    goto out;
  }
  h->fn = fn;
  h->cancel = cancel;
  h->user = user;
  h->cu = cu;
  curl_easy_setopt(cu, CURLOPT_URL, url);
  curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, http_body);
  curl_easy_setopt(cu, CURLOPT_WRITEDATA, h);
  curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, http_progress);
  curl_easy_setopt(cu, CURLOPT_XFERINFODATA, h);
  curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
  curl_easy_setopt(cu, CURLOPT_TIMEOUT, 60L);
  CURLcode cr = curl_easy_perform(cu);
  long status = 0;
  curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
  if (h->stopped) {
    rc = 1;
  } else if (status >= 300) {
    snprintf(err, errcap, "TTS HTTP %ld: %.200s", status, h->err_body.data ? h->err_body.data : "");
  } else if (cr != CURLE_OK) {
    snprintf(err, errcap, "TTS request failed: %s", curl_easy_strerror(cr));
  } else {
    rc = 0;
  }
out:
  if (cu) curl_easy_cleanup(cu);
  curl_slist_free_all(hdr);
  free(body);
  if (h) ak__buf_free(&h->err_body);
  free(h);
  return rc;
}

static const tts_ops http_ops = {http_speak};

/* ---- public ----------------------------------------------------------------------------- */
ak__tts *ak__tts_new(const ak__config *c, char *err, size_t errcap) {
  ak__tts *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errcap, "out of memory");
    return NULL;
  }
  t->cfg = c;
  pthread_mutex_init(&t->mu, NULL);
  if (strcmp(c->tts_provider, "http") == 0) {
    if (!c->tts_url[0]) {
      snprintf(err, errcap, "tts provider http needs --tts-url");
      goto fail;
    }
    t->ops = &http_ops;
    t->rate = c->tts_sample_rate;
    return t;
  }
  if (strcmp(c->tts_provider, "espeak") == 0) {
#ifdef AK_HAVE_ESPEAK
    if (espeak_init(t, c, err, errcap)) goto fail;
    return t;
#else
    snprintf(err, errcap, "built without espeak-ng; use --tts http");
    goto fail;
#endif
  }
  snprintf(err, errcap, "unknown tts provider '%s' (espeak or http)", c->tts_provider);
fail:
  pthread_mutex_destroy(&t->mu);
  free(t);
  return NULL;
}

void ak__tts_free(ak__tts *t) {
  if (!t) return;
#ifdef AK_HAVE_ESPEAK
  if (t->ops == &espeak_ops) espeak_Terminate();
#endif
  pthread_mutex_destroy(&t->mu);
  free(t);
}

int ak__tts_sample_rate(const ak__tts *t) {
  return t->rate;
}

int ak__tts_speak(ak__tts *t, const char *text, ak__pcm_fn fn, ak__cancel_fn cancel, void *user,
                  char *err, size_t errcap) {
  return t->ops->speak(t, text, fn, cancel, user, err, errcap);
}
