/* The TTS stage behind one small interface: local voices (RHVoice, SVOX Pico, espeak-ng with
 * its MBROLA voices; one file each, tts_*.c) and an OpenAI-compatible HTTP /audio/speech
 * provider returning raw PCM. This file picks the voice from --tts, --tts-lang and
 * --tts-voice (natural voice first, espeak-ng as the fallback), keeps a bounded pool of engine
 * instances so each speaking thread has its own, and turns native PCM into 16 kHz chunks. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "avatarkit/codec.h"
#include "tts_internal.h"

#define AK__TTS_MAX_ENGINES 64 /* upper bound of --tts-engines */

struct ak__tts {
  const ak__config *cfg;
  int http;
  int rate;        /* output rate */
  int native_rate; /* the local voice's own rate (learned by the warm-up) */
  const ak__tts_engine_ops *ops;
  char voice[64];     /* voice name inside its family */
  char id[80];        /* family:voice */
  char fallback[400]; /* why the natural voice is not used ("" when it is) */
  pthread_mutex_t mu; /* guards the pool */
  pthread_cond_t cv;
  void *idle[AK__TTS_MAX_ENGINES];
  int n_idle, n_alive, max;
  int opening; /* an extra engine is being opened (one at a time, so a refusal stops growth) */
};

/* ---- the sink: cancel checks, resampling, fixed chunks ------------------------------------ */
enum { SINK_PIECE = 512, SINK_OUT_CAP = 4096 };

static int sink_emit(ak__tts_sink *s) {
  if (!s->n) return 0;
  /* checked per chunk too: held silence can make one engine callback emit several */
  if ((s->cancel && s->cancel(s->user)) || s->fn(s->user, s->buf, s->n)) {
    s->stopped = 1;
    s->n = 0;
    return 1;
  }
  s->out += s->n;
  s->n = 0;
  return 0;
}

/* Moves samples from (*p, *n) into dst, which holds *fill of cap; returns 1 when it is full. */
static int fill_from(int16_t *dst, size_t *fill, size_t cap, const int16_t **p, size_t *n) {
  size_t k = cap - *fill;
  if (k > *n) k = *n;
  memcpy(dst + *fill, *p, k * sizeof **p);
  *fill += k;
  *p += k;
  *n -= k;
  return *fill == cap;
}

/* Appends output-rate samples to the chunk, emitting each full one. */
static int sink_out(ak__tts_sink *s, const int16_t *p, size_t n) {
  while (n)
    if (fill_from(s->buf, &s->n, AK__TTS_CHUNK, &p, &n) && sink_emit(s)) return 1;
  return 0;
}

static int sink_release_held(ak__tts_sink *s, size_t n) {
  int rc = sink_out(s, s->held, n);
  s->nheld = 0;
  return rc;
}

/* One 20 ms frame (or the last, shorter one): quiet ones wait in held until sound follows. */
static int sink_frame(ak__tts_sink *s, const int16_t *f, size_t n) {
  int peak = 0;
  for (size_t i = 0; i < n; i++) {
    int a = f[i] < 0 ? -f[i] : f[i];
    if (a > peak) peak = a;
  }
  if (peak >= AK__TTS_QUIET_PEAK) return sink_release_held(s, s->nheld) || sink_out(s, f, n);
  if (s->nheld + n > AK__TTS_MAX_HELD && sink_release_held(s, s->nheld)) return 1;
  memcpy(s->held + s->nheld, f, n * sizeof *f);
  s->nheld += n;
  return 0;
}

/* Appends output-rate samples, frame by frame. */
static int sink_put(ak__tts_sink *s, const int16_t *p, size_t n) {
  while (n) {
    if (fill_from(s->frame, &s->nf, AK__TTS_FRAME, &p, &n)) {
      s->nf = 0;
      if (sink_frame(s, s->frame, AK__TTS_FRAME)) return 1;
    }
  }
  return 0;
}

static int sink_put_float(ak__tts_sink *s, const float *f, size_t n) {
  int16_t tmp[SINK_PIECE];
  while (n) {
    size_t k = n < SINK_PIECE ? n : SINK_PIECE;
    for (size_t i = 0; i < k; i++) {
      float v = f[i] * 32768.0f;
      tmp[i] = (int16_t)(v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : (int)v);
    }
    if (sink_put(s, tmp, k)) return 1;
    f += k;
    n -= k;
  }
  return 0;
}

/* Drains the resampler (end of a stretch at one rate). */
static int sink_drain(ak__tts_sink *s) {
  if (!s->rs) return 0;
  float out[SINK_OUT_CAP];
  int w = ak_resampler_flush(s->rs, out, SINK_OUT_CAP);
  if (w < 0) {
    s->failed = 1;
    return 1;
  }
  return sink_put_float(s, out, (size_t)w);
}

int ak__tts_sink_rate(ak__tts_sink *s, int rate) {
  if (rate == s->in_rate) return 0;
  if (rate < 1000 || rate > 192000) {
    s->failed = 1;
    return 1;
  }
  if (sink_drain(s)) return 1;
  ak_resampler_free(s->rs);
  s->rs = NULL;
  s->in_rate = rate;
  if (rate != AK__TTS_OUT_RATE && ak_resampler_new(rate, AK__TTS_OUT_RATE, &s->rs) != AK_OK) {
    s->failed = 1;
    return 1;
  }
  return 0;
}

int ak__tts_sink_push(ak__tts_sink *s, const int16_t *pcm, size_t n) {
  if (s->stopped || s->failed) return 1;
  if (s->cancel && s->cancel(s->user)) {
    s->stopped = 1;
    return 1;
  }
  if (!s->in_rate && ak__tts_sink_rate(s, AK__TTS_OUT_RATE)) return 1;
  s->in += n;
  if (!s->rs) return sink_put(s, pcm, n);
  float in[SINK_PIECE], out[SINK_OUT_CAP];
  while (n) {
    size_t k = n < SINK_PIECE ? n : SINK_PIECE;
    for (size_t i = 0; i < k; i++) in[i] = (float)pcm[i] / 32768.0f;
    int w = ak_resampler_process(s->rs, in, k, out, SINK_OUT_CAP);
    if (w < 0) {
      s->failed = 1;
      return 1;
    }
    if (sink_put_float(s, out, (size_t)w)) return 1;
    pcm += k;
    n -= k;
  }
  return 0;
}

/* End of synthesis: the resampler's tail, at most AK__TTS_KEEP_TAIL of trailing silence and
 * the last partial chunk. */
static int sink_finish(ak__tts_sink *s) {
  if (s->stopped || s->failed) return 1;
  if (sink_drain(s)) return 1;
  if (s->nf) {
    size_t n = s->nf;
    s->nf = 0;
    if (sink_frame(s, s->frame, n)) return 1;
  }
  size_t keep = s->nheld < AK__TTS_KEEP_TAIL ? s->nheld : AK__TTS_KEEP_TAIL;
  s->trimmed = s->nheld - keep;
  if (sink_release_held(s, keep)) return 1;
  return sink_emit(s);
}

/* ---- voices ------------------------------------------------------------------------------- */
/* The natural voices we know by name: family, name, the espeak-ng voice of their language
 * (the fallback). RHVoice names are case-insensitive, Pico names are language tags. */
static const struct known_voice {
  const char *family, *name, *espeak;
} KNOWN[] = {
    {"rhvoice", "slt", "en-us"},
    {"rhvoice", "bdl", "en-us"},
    {"rhvoice", "clb", "en-us"},
    {"rhvoice", "alan", "en-gb-scotland"},
    {"rhvoice", "evgeniy-eng", "en-us"},
    {"rhvoice", "lyubov", "en-us"},
    {"pico", "en-US", "en-us"},
    {"pico", "en-GB", "en-gb"},
    {"pico", "de-DE", "de"},
    {"pico", "es-ES", "es"},
    {"pico", "fr-FR", "fr"},
    {"pico", "it-IT", "it"},
};
#define N_KNOWN (sizeof KNOWN / sizeof KNOWN[0])

/* --tts-lang -> default voice (docs/backend.md has this table). */
static const struct lang_default {
  const char *lang, *family, *voice, *espeak;
} LANGS[] = {
    {"en", "rhvoice", "slt", "en-us"},   {"en-us", "rhvoice", "slt", "en-us"},
    {"en-gb", "pico", "en-GB", "en-gb"}, {"de", "pico", "de-DE", "de"},
    {"es", "pico", "es-ES", "es"},       {"fr", "pico", "fr-FR", "fr"},
    {"it", "pico", "it-IT", "it"},
};
#define N_LANGS (sizeof LANGS / sizeof LANGS[0])

static const ak__tts_engine_ops *family_ops(const char *family) {
#ifdef AK_HAVE_RHVOICE
  if (!strcmp(family, "rhvoice")) return &ak__tts_rhvoice;
#endif
#ifdef AK_HAVE_PICO
  if (!strcmp(family, "pico")) return &ak__tts_pico;
#endif
#ifdef AK_HAVE_ESPEAK
  if (!strcmp(family, "espeak")) return &ak__tts_espeak;
#endif
  return NULL;
}

static const struct known_voice *find_known(const char *family, const char *name) {
  for (size_t i = 0; i < N_KNOWN; i++) {
    if (family && strcmp(KNOWN[i].family, family)) continue;
    int rh = !strcmp(KNOWN[i].family, "rhvoice");
    if (rh ? !strcasecmp(KNOWN[i].name, name) : !strcmp(KNOWN[i].name, name)) return &KNOWN[i];
  }
  return NULL;
}

static const struct lang_default *find_lang(const char *lang) {
  for (size_t i = 0; i < N_LANGS; i++)
    if (!strcasecmp(LANGS[i].lang, lang)) return &LANGS[i];
  return NULL;
}

int ak__tts_choose(const ak__config *c, char *family, size_t fcap, char *voice, size_t vcap,
                   char *fallback, size_t fbcap, char *err, size_t errcap) {
  const char *p = c->tts_provider, *v = c->tts_voice, *lang = c->tts_lang[0] ? c->tts_lang : "en";
  const struct lang_default *ld = find_lang(lang);
  const char *lang_espeak = ld ? ld->espeak : lang;
  const char *fam = NULL, *name = NULL, *fb = "";
  char prefix[16] = "";
  const char *colon = strchr(v, ':');
  if (colon) {
    size_t pl = (size_t)(colon - v);
    if (pl >= sizeof prefix) pl = sizeof prefix - 1;
    memcpy(prefix, v, pl);
    prefix[pl] = 0;
    if (strcmp(prefix, "rhvoice") && strcmp(prefix, "pico") && strcmp(prefix, "espeak")) {
      snprintf(err, errcap, "tts voice '%s': unknown family '%s' (rhvoice, pico or espeak)", v,
               prefix);
      return -1;
    }
    if (!colon[1]) {
      snprintf(err, errcap, "tts voice '%s' names no voice", v);
      return -1;
    }
    if (strcmp(p, "local") && strcmp(p, prefix)) {
      snprintf(err, errcap, "tts voice '%s' is not a %s voice", v, p);
      return -1;
    }
  }
  if (!strcmp(p, "local")) {
    if (colon) {
      fam = prefix;
      name = colon + 1;
    } else if (v[0]) {
      const struct known_voice *k = find_known(NULL, v);
      fam = k ? k->family : "espeak";
      name = k ? k->name : v;
    } else if (ld) {
      fam = ld->family;
      name = ld->voice;
    } else {
      fam = "espeak";
      name = lang;
    }
    /* a voice we know falls back when absent; one we do not know is an error when absent */
    const struct known_voice *k = find_known(fam, name);
    fb = k ? k->espeak : "";
  } else if (!strcmp(p, "rhvoice") || !strcmp(p, "pico") || !strcmp(p, "espeak")) {
    fam = p;
    name = colon ? colon + 1 : v;
    if (!name[0]) {
      if (!strcmp(p, "espeak")) {
        name = lang_espeak;
      } else if (ld && !strcmp(ld->family, p)) {
        name = ld->voice;
      } else {
        /* the family's voice of this language, if it has one */
        for (size_t i = 0; i < N_KNOWN && !name[0]; i++)
          if (!strcmp(KNOWN[i].family, p) && !strcmp(KNOWN[i].espeak, lang_espeak))
            name = KNOWN[i].name;
        if (!name[0]) {
          snprintf(err, errcap, "tts %s has no voice for language '%s': set --tts-voice", p, lang);
          return -1;
        }
      }
    }
  } else {
    snprintf(err, errcap, "unknown tts provider '%s' (local, rhvoice, pico, espeak or http)", p);
    return -1;
  }
  if (!strcmp(fam, "pico") && !find_known("pico", name)) {
    snprintf(err, errcap,
             "unknown tts voice '%s' (SVOX Pico voices: en-US, en-GB, de-DE, es-ES, fr-FR, it-IT)",
             name);
    return -1;
  }
  snprintf(family, fcap, "%s", fam);
  snprintf(voice, vcap, "%s", name);
  snprintf(fallback, fbcap, "%s", fb);
  return 0;
}

/* Opens an instance and speaks a word into nowhere: proves the voice works, loads its data
 * before the first turn and learns its native rate. */
static int discard_pcm(void *user, const int16_t *pcm, size_t n) {
  (void)user;
  (void)pcm;
  (void)n;
  return 0;
}

static void *open_warm(const ak__tts_engine_ops *ops, const char *voice, const ak__config *c,
                       int *native_rate, char *err, size_t errcap) {
  void *inst = ops->open(voice, c, err, errcap);
  if (!inst) return NULL;
  ak__tts_sink *s = calloc(1, sizeof *s);
  if (!s) {
    ops->close(inst);
    snprintf(err, errcap, "out of memory");
    return NULL;
  }
  s->fn = discard_pcm;
  int rc = ops->synth(inst, "OK.", s, err, errcap);
  if (rc == 0) rc = sink_finish(s);
  if (rc == 0 && s->in == 0) {
    snprintf(err, errcap, "%s voice '%s' produced no audio", ops->label, voice);
    rc = -1;
  } else if (rc > 0) {
    snprintf(err, errcap, "%s voice '%s' failed to produce audio", ops->label, voice);
    rc = -1;
  }
  *native_rate = s->in_rate;
  ak_resampler_free(s->rs);
  free(s);
  if (rc) {
    ops->close(inst);
    return NULL;
  }
  return inst;
}

/* The pool around its first (warmed) instance. */
static void pool_init(ak__tts *t, const ak__config *c, const ak__tts_engine_ops *ops,
                      const char *voice, void *inst) {
  t->ops = ops;
  snprintf(t->voice, sizeof t->voice, "%s", voice);
  snprintf(t->id, sizeof t->id, "%s:%s", ops->family, voice);
  t->rate = AK__TTS_OUT_RATE;
  t->max = c->tts_engines > 0 ? c->tts_engines : 1;
  if (t->max > AK__TTS_MAX_ENGINES) t->max = AK__TTS_MAX_ENGINES;
  if (ops->max_instances && t->max > ops->max_instances) t->max = ops->max_instances;
  t->idle[t->n_idle++] = inst;
  t->n_alive = 1;
  ak__log(1, "tts: %s (%s, %d Hz, sent at %d Hz; up to %d engine%s)", t->id, ops->label,
          t->native_rate, t->rate, t->max, t->max == 1 ? "" : "s");
}

static int local_init(ak__tts *t, const ak__config *c, char *err, size_t errcap) {
  char family[16], voice[64], fb[64];
  if (ak__tts_choose(c, family, sizeof family, voice, sizeof voice, fb, sizeof fb, err, errcap))
    return -1;
  const ak__tts_engine_ops *ops = family_ops(family);
  char why[300] = "";
  void *inst = NULL;
  if (!ops)
    snprintf(why, sizeof why, "built without %s", family);
  else if (!(inst = open_warm(ops, voice, c, &t->native_rate, why, sizeof why)) && !fb[0]) {
    if (!strcmp(family, "espeak") && c->tts_voice[0])
      snprintf(err, errcap,
               "unknown tts voice '%s': not a natural voice (rhvoice: slt, bdl, clb, alan, "
               "evgeniy-eng, lyubov; pico: en-US, en-GB, de-DE, es-ES, fr-FR, it-IT) nor an "
               "espeak-ng voice (espeak-ng --voices)",
               c->tts_voice);
    else if (!strcmp(family, "espeak") && !c->tts_voice[0] && !find_lang(c->tts_lang))
      snprintf(err, errcap,
               "unknown tts language '%s' (natural voices: en, en-us, en-gb, de, es, "
               "fr, it; espeak-ng languages: espeak-ng --voices)",
               c->tts_lang);
    else
      snprintf(err, errcap, "tts: %s", why);
    return -1;
  }
  if (!inst) {
    if (!fb[0]) {
      snprintf(err, errcap, "tts: %s voice '%s' unavailable: %s", family, voice, why);
      return -1;
    }
    snprintf(t->fallback, sizeof t->fallback, "%s:%s unavailable (%s)", family, voice, why);
    ops = family_ops("espeak");
    char e2[300] = "built without espeak-ng";
    if (ops) inst = open_warm(ops, fb, c, &t->native_rate, e2, sizeof e2);
    if (!inst) {
      snprintf(err, errcap, "tts: %s; the espeak-ng fallback failed too: %s", t->fallback, e2);
      return -1;
    }
    ak__log(0, "tts: natural voice %s; falling back to espeak-ng voice %s", t->fallback, fb);
    snprintf(voice, sizeof voice, "%s", fb);
  }
  pool_init(t, c, ops, voice, inst);
  return 0;
}

/* Takes an idle instance or opens one; waits while all max are busy (cancel honoured).
 * Extra engines open one at a time: a caller that finds another open in flight waits for it, so
 * an engine that is refused stops the pool's growth before a second open is tried.
 * Returns 1 when cancelled, -1 with err. */
static int pool_take(ak__tts *t, void **inst, ak__cancel_fn cancel, void *user, char *err,
                     size_t errcap) {
  pthread_mutex_lock(&t->mu);
  while (!t->n_idle && (t->n_alive >= t->max || t->opening)) {
    if (cancel && cancel(user)) {
      pthread_mutex_unlock(&t->mu);
      return 1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&t->cv, &t->mu, &ts);
  }
  if (t->n_idle) {
    *inst = t->idle[--t->n_idle];
    pthread_mutex_unlock(&t->mu);
    return 0;
  }
  t->n_alive++;
  t->opening = 1;
  pthread_mutex_unlock(&t->mu);
  char why[300] = "";
  *inst = t->ops->open(t->voice, t->cfg, why, sizeof why);
  pthread_mutex_lock(&t->mu);
  t->opening = 0;
  pthread_cond_broadcast(&t->cv); /* callers held back by the open may open the next one */
  if (*inst) {
    pthread_mutex_unlock(&t->mu);
    return 0;
  }
  t->n_alive--;
  if (t->n_alive > 0) {
    /* An extra engine would not open (memory, the library): the ones already open serve
     * every call, in turn, from now on; this call waits for one instead of failing. */
    int keep = t->max = t->n_alive;
    pthread_mutex_unlock(&t->mu);
    ak__log(0, "tts: engine %d of %s would not open (%s): continuing with %d", keep + 1, t->id, why,
            keep);
    return pool_take(t, inst, cancel, user, err, errcap);
  }
  pthread_mutex_unlock(&t->mu);
  snprintf(err, errcap, "%s", why);
  return -1;
}

static void pool_give(ak__tts *t, void *inst, int broken) {
  if (broken) t->ops->close(inst);
  pthread_mutex_lock(&t->mu);
  if (broken)
    t->n_alive--;
  else
    t->idle[t->n_idle++] = inst;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

static int local_speak(ak__tts *t, const char *text, ak__pcm_fn fn, ak__cancel_fn cancel,
                       void *user, char *err, size_t errcap) {
  ak__tts_sink *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errcap, "out of memory");
    return -1;
  }
  s->fn = fn;
  s->cancel = cancel;
  s->user = user;
  void *inst = NULL;
  int rc = pool_take(t, &inst, cancel, user, err, errcap);
  if (rc == 0) {
    rc = t->ops->synth(inst, text, s, err, errcap);
    if (rc == 0) rc = sink_finish(s);
    if (s->failed) {
      snprintf(err, errcap, "resampling %s audio from %d Hz failed", t->ops->label, s->in_rate);
      rc = -1;
    }
    pool_give(t, inst, rc < 0);
  }
  ak_resampler_free(s->rs);
  free(s);
  return rc;
}

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

/* ---- public ----------------------------------------------------------------------------- */
ak__tts *ak__tts_new(const ak__config *c, char *err, size_t errcap) {
  ak__tts *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errcap, "out of memory");
    return NULL;
  }
  t->cfg = c;
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  if (strcmp(c->tts_provider, "http") == 0) {
    if (!c->tts_url[0]) {
      snprintf(err, errcap, "tts provider http needs --tts-url");
      goto fail;
    }
    t->http = 1;
    t->rate = c->tts_sample_rate;
    snprintf(t->voice, sizeof t->voice, "%s", c->tts_voice[0] ? c->tts_voice : "alloy");
    snprintf(t->id, sizeof t->id, "http:%s", t->voice);
    ak__log(1, "tts: %s (%s, %d Hz)", t->id, c->tts_url, t->rate);
    return t;
  }
  if (local_init(t, c, err, errcap) == 0) return t;
fail:
  pthread_cond_destroy(&t->cv);
  pthread_mutex_destroy(&t->mu);
  free(t);
  return NULL;
}

ak__tts *ak__tts_new_ops(const ak__config *c, const ak__tts_engine_ops *ops, const char *voice,
                         char *err, size_t errcap) {
  ak__tts *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errcap, "out of memory");
    return NULL;
  }
  t->cfg = c;
  void *inst = open_warm(ops, voice, c, &t->native_rate, err, errcap);
  if (!inst) {
    free(t);
    return NULL;
  }
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  pool_init(t, c, ops, voice, inst);
  return t;
}

void ak__tts_free(ak__tts *t) {
  if (!t) return;
  for (int i = 0; i < t->n_idle; i++) t->ops->close(t->idle[i]);
  pthread_cond_destroy(&t->cv);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

int ak__tts_sample_rate(const ak__tts *t) {
  return t->rate;
}

const char *ak__tts_voice_id(const ak__tts *t) {
  return t->id;
}

const char *ak__tts_family(const ak__tts *t) {
  return t->http ? "http" : t->ops->family;
}

const char *ak__tts_fallback(const ak__tts *t) {
  return t->fallback;
}

int ak__tts_speak(ak__tts *t, const char *text, ak__pcm_fn fn, ak__cancel_fn cancel, void *user,
                  char *err, size_t errcap) {
  if (t->http) return http_speak(t, text, fn, cancel, user, err, errcap);
  return local_speak(t, text, fn, cancel, user, err, errcap);
}
