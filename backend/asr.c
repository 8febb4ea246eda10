/* The ASR stage: an energy voice-activity detector for end of utterance, pocketsphinx
 * (local, default: the demo's domain language model backend/asr/demo.lm, speexdsp noise
 * suppression gated by the noise floor) and an OpenAI-compatible HTTP /audio/transcriptions
 * provider. Input is always 16 kHz mono s16le; recognizers come from a bounded pool.
 * Accuracy: bench/asr/ (word error rate by voice and noise level). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <speex/speex_preprocess.h>
#ifdef AK_HAVE_POCKETSPHINX
#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/feat.h>
#endif

#include "backend.h"

/* ---- VAD: 20 ms frames, speech when frame energy exceeds the threshold and the floor ----- */
#define VAD_FRAME 320
#define VAD_HP_POLE 0.98 /* high-pass before the energy: cutoff (1 - pole) * 16 kHz / 2 pi */
#define ASR_MAIN_SEARCH "_default" /* pocketsphinx 5prealpha's name of the -lm search */
#define ASR_CEPLEN 13              /* cepstra of the en-us model (feat.params) */
#define ASR_COLD_SAMPLES 32000     /* 2 s: what a cold utterance's mean is taken from */
#define ASR_COLD_MIN_FRAMES 30     /* fewer 10 ms frames: keep the carried mean */

void ak__vad_init(ak__vad *v, double threshold_db, double margin_db, int silence_ms) {
  memset(v, 0, sizeof *v);
  v->threshold_db = threshold_db;
  v->margin_db = margin_db;
  v->silence_ms = silence_ms > 0 ? silence_ms : 700;
  v->min_speech_ms = 100;
  v->cur_min = 1e9;
  v->floor_db = -1e9;
}

/* Adds a frame to the floor's window and returns the floor: the quietest frame of the last
 * AK__VAD_BLOCKS finished blocks and the current one (this frame included, so the first
 * frames after init judge each other: stationary noise never clears the margin). */
static double vad_floor(ak__vad *v, double db) {
  if (db < v->cur_min) v->cur_min = db;
  double f = v->cur_min;
  for (int b = 0; b < v->nblocks; b++)
    if (v->block_min[b] < f) f = v->block_min[b];
  if (++v->cur_frames == AK__VAD_BLOCK_FRAMES) { /* the block is full: it joins the ring */
    v->block_min[v->next_block] = v->cur_min;
    v->next_block = (v->next_block + 1) % AK__VAD_BLOCKS;
    if (v->nblocks < AK__VAD_BLOCKS) v->nblocks++;
    v->cur_min = 1e9;
    v->cur_frames = 0;
  }
  return f;
}

int ak__vad_feed(ak__vad *v, const int16_t *pcm, size_t n) {
  int event = AK__VAD_NONE;
  for (size_t i = 0; i < n; i++) {
    /* one-pole high-pass at ~50 Hz: DC, rumble and the slow swings of 1/f noise, which hold
     * little speech, would otherwise swing the frame energy by several dB */
    double in = pcm[i] / 32768.0, x = in - v->hp_in + VAD_HP_POLE * v->hp_out;
    v->hp_in = in;
    v->hp_out = x;
    v->acc_energy += x * x;
    if (++v->acc < VAD_FRAME) continue;
    double db = 10.0 * log10(v->acc_energy / VAD_FRAME + 1e-12);
    v->acc = 0;
    v->acc_energy = 0;
    v->floor_db = vad_floor(v, db);
    int speech = db > v->threshold_db && (v->margin_db <= 0 || db > v->floor_db + v->margin_db);
    if (!v->in_speech) {
      v->speech_ms = speech ? v->speech_ms + 20 : 0;
      if (v->speech_ms >= v->min_speech_ms) {
        v->in_speech = 1;
        v->silence_run_ms = 0;
        event = AK__VAD_START;
      }
    } else {
      v->silence_run_ms = speech ? 0 : v->silence_run_ms + 20;
      if (v->silence_run_ms >= v->silence_ms) {
        v->in_speech = 0;
        v->speech_ms = 0;
        event = AK__VAD_END;
      }
    }
  }
  return event;
}

/* ---- recognizers -------------------------------------------------------------------------- */
struct ak__asr {
  const ak__config *cfg;
  int kind; /* 0 sphinx, 1 http */
#ifdef AK_HAVE_POCKETSPHINX
  cmd_ln_t *ps_cfg;
  ps_decoder_t *ps;
  int in_utt;
  char hmm[600], lm[600], dict[600]; /* the decoder's arguments, alive as long as it */
  int have_quiet; /* a "quiet" search (--sphinx-lm-quiet) beside the default one */
  int in_quiet;   /* the quiet search is the current one */
  char opts[sizeof(((ak__config *)0)->sphinx_options)];
  /* --asr-denoise-db: speexdsp noise suppression in 20 ms frames before the decoder */
  SpeexPreprocessState *pre;
  int16_t frame[VAD_FRAME], clean[VAD_FRAME];
  size_t nframe;
  double floor_db; /* quietest 20 ms frame of the utterance so far */
  /* Cepstral mean: pocketsphinx normalises each utterance by a mean carried over from the
   * utterances before it, updated only at their ends. ch (the session's, bound by
   * ak__asr_bind) brings that mean from the session's last utterance; without one the
   * utterance starts cold: its first ASR_COLD_SAMPLES are decoded, their own mean is set
   * (in noise, from a second hearing through the adapted suppressor: channel_settle), and
   * they are decoded again with it. */
  ak__asr_channel *ch;
  int cold;
  int own_mean; /* this utterance's mean is the session's (carried or its own cold part's) */
  int32 cold_n0;
  mfcc_t cold_sum0[ASR_CEPLEN];
  int16_t *cold_buf;
  size_t ncold;
#endif
  ak__buf pcm; /* http: the utterance so far */
};

#ifdef AK_HAVE_POCKETSPHINX
/* A fresh speexdsp suppressor (--asr-denoise-db): it learns the noise from scratch. */
static int suppressor_start(ak__asr *a) {
  if (a->pre) speex_preprocess_state_destroy(a->pre);
  a->pre = speex_preprocess_state_init(VAD_FRAME, AK__MIC_RATE);
  int on = 1, db = a->cfg->asr_denoise_db;
  return a->pre && !speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_DENOISE, &on) &&
                 !speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &db)
             ? 0
             : -1;
}
#endif

ak__asr *ak__asr_new(const ak__config *c, char *err, size_t errcap) {
  ak__asr *a = calloc(1, sizeof *a);
  if (!a) {
    snprintf(err, errcap, "out of memory");
    return NULL;
  }
  a->cfg = c;
  a->pcm.max = (size_t)AK__MAX_UTTERANCE_S * AK__MIC_RATE * 2;
  if (strcmp(c->asr_provider, "http") == 0) {
    a->kind = 1;
    return a;
  }
  if (strcmp(c->asr_provider, "sphinx") != 0) {
    snprintf(err, errcap, "speech input is disabled (asr provider '%s')", c->asr_provider);
    free(a);
    return NULL;
  }
#ifdef AK_HAVE_POCKETSPHINX
  snprintf(a->hmm, sizeof a->hmm, "%s/en-us", c->sphinx_model_dir);
  snprintf(a->dict, sizeof a->dict, "%s/cmudict-en-us.dict", c->sphinx_model_dir);
  if (!c->sphinx_lm[0] || strcmp(c->sphinx_lm, "generic") == 0)
    snprintf(a->lm, sizeof a->lm, "%s/en-us.lm.bin", c->sphinx_model_dir);
  else
    snprintf(a->lm, sizeof a->lm, "%s", c->sphinx_lm);
  /* Our defaults, each replaced by the same "-name value" pair in --sphinx-options, then the
   * other pairs of --sphinx-options. argv[0] is a program name, skipped by the parser. */
  static const char *const names[] = {"-hmm", "-lm", "-dict", "-logfn"};
  const char *vals[] = {a->hmm, a->lm, a->dict, "/dev/null"};
  char *tok[64], *argv[64 + 2 * sizeof names / sizeof names[0] + 1];
  int ntok = 0, argc = 0;
  snprintf(a->opts, sizeof a->opts, "%s", c->sphinx_options);
  for (char *p = a->opts; *p;) {
    while (*p == ' ') *p++ = 0;
    if (!*p) break;
    if (ntok == 64) break;
    tok[ntok++] = p;
    while (*p && *p != ' ') p++;
  }
  if (ntok % 2 || ntok == 64) {
    snprintf(err, errcap, "--sphinx-options wants at most 32 '-name value' pairs");
    free(a);
    return NULL;
  }
  argv[argc++] = "pocketsphinx";
  for (size_t j = 0; j < sizeof names / sizeof names[0]; j++) {
    int replaced = 0;
    for (int i = 0; i < ntok; i += 2) replaced |= strcmp(tok[i], names[j]) == 0;
    if (!replaced) {
      argv[argc++] = (char *)names[j];
      argv[argc++] = (char *)vals[j];
    }
  }
  for (int i = 0; i < ntok; i++) argv[argc++] = tok[i];
  a->ps_cfg = cmd_ln_parse_r(NULL, ps_args(), argc, argv, FALSE);
  a->ps = a->ps_cfg ? ps_init(a->ps_cfg) : NULL;
  if (!a->ps) {
    snprintf(err, errcap, "pocketsphinx failed to load models from %s (language model %s)",
             c->sphinx_model_dir, a->lm);
    ak__asr_free(a);
    return NULL;
  }
  /* --sphinx-lm-quiet: a second search over a wider vocabulary, used for utterances that
   * start quiet (clean input): it recognises more words there, but confuses more of them in
   * noise, where the --sphinx-lm search stays (bench/asr/README.md). */
  char quiet[600] = "";
  if (strcmp(c->sphinx_lm_quiet, "auto") == 0) {
    char def[600];
    snprintf(def, sizeof def, "%s/demo.lm", AK_BACKEND_ASR_DIR);
    if (strcmp(c->sphinx_lm, def) == 0)
      snprintf(quiet, sizeof quiet, "%s/demo_wide.lm", AK_BACKEND_ASR_DIR);
  } else if (c->sphinx_lm_quiet[0] && strcmp(c->sphinx_lm_quiet, "none") != 0) {
    snprintf(quiet, sizeof quiet, "%s", c->sphinx_lm_quiet);
  }
  /* The -lm search is pocketsphinx's "_default" (5prealpha). Named here rather than asked
   * for: ps_get_search() of 5prealpha leaks its hash iterator (24 bytes a call; LeakSanitizer
   * in CI), so the current search is tracked in in_quiet instead. */
  if (quiet[0]) {
    if (ps_set_lm_file(a->ps, "quiet", quiet) < 0) {
      snprintf(err, errcap, "pocketsphinx failed to load the quiet-input language model %s", quiet);
      ak__asr_free(a);
      return NULL;
    }
    if (ps_set_search(a->ps, ASR_MAIN_SEARCH) < 0) {
      snprintf(err, errcap, "pocketsphinx has no search named %s", ASR_MAIN_SEARCH);
      ak__asr_free(a);
      return NULL;
    }
    a->have_quiet = 1;
    a->in_quiet = 0;
  }
  if (!(a->cold_buf = malloc(ASR_COLD_SAMPLES * sizeof *a->cold_buf))) {
    snprintf(err, errcap, "out of memory");
    ak__asr_free(a);
    return NULL;
  }
  if (c->asr_denoise_db < 0 && suppressor_start(a) < 0) {
    snprintf(err, errcap, "speexdsp noise suppression failed to start");
    ak__asr_free(a);
    return NULL;
  }
  return a;
#else
  snprintf(err, errcap, "built without pocketsphinx; use --asr http");
  free(a);
  return NULL;
#endif
}

void ak__asr_free(ak__asr *a) {
  if (!a) return;
#ifdef AK_HAVE_POCKETSPHINX
  if (a->ps) ps_free(a->ps);
  if (a->pre) speex_preprocess_state_destroy(a->pre);
  if (a->ps_cfg) cmd_ln_free_r(a->ps_cfg);
  free(a->cold_buf);
#endif
  ak__buf_free(&a->pcm);
  free(a);
}

void ak__asr_bind(ak__asr *a, ak__asr_channel *ch) {
#ifdef AK_HAVE_POCKETSPHINX
  a->ch = ch;
#else
  (void)a;
  (void)ch;
#endif
}

#ifdef AK_HAVE_POCKETSPHINX
static cmn_t *asr_cmn(ak__asr *a) {
  feat_t *f = ps_get_feat(a->ps);
  cmn_t *c = f ? f->cmn_struct : NULL;
  return c && c->veclen == ASR_CEPLEN ? c : NULL;
}

/* The mean of the cepstra the decoder has taken in since the mark (frame count n0, sums s0),
 * into m; 0 if that is fewer than ASR_COLD_MIN_FRAMES (m unchanged). */
static int mean_since(const cmn_t *c, int32 n0, const mfcc_t *s0, mfcc_t *m) {
  int32 nf = c->nframe - n0;
  if (nf < ASR_COLD_MIN_FRAMES) return 0;
  for (int j = 0; j < ASR_CEPLEN; j++) m[j] = (c->sum[j] - s0[j]) / nf;
  return 1;
}

/* At the start of an utterance: the session's mean, or a cold start (which also forgets the
 * noise the suppressor learnt from whoever used this recognizer before). */
static int channel_begin(ak__asr *a) {
  cmn_t *c = asr_cmn(a);
  a->cold = 0;
  a->own_mean = 0;
  if (!c) return 0;
  mfcc_t m[ASR_CEPLEN];
  if (a->ch && a->ch->valid) {
    for (int j = 0; j < ASR_CEPLEN; j++) m[j] = FLOAT2MFCC(a->ch->mean[j]);
    cmn_live_set(c, m);
    a->own_mean = 1;
    return 0;
  }
  if (a->pre && suppressor_start(a) < 0) return -1;
  /* cold: restart the running window from the current mean (so it cannot shift while the
   * first second is counted), then remember where the sums stand */
  cmn_live_get(c, m);
  cmn_live_set(c, m);
  a->cold = 1;
  a->ncold = 0;
  a->cold_n0 = c->nframe;
  memcpy(a->cold_sum0, c->sum, sizeof a->cold_sum0);
  return 0;
}

/* The suppressor hears every whole 20 ms frame (it tracks the noise); the decoder gets its
 * output only where denoise says so, otherwise the frame as it came. out: VAD_FRAME samples. */
static const int16_t *suppress(ak__asr *a, const int16_t *frame, int16_t *out, int denoise) {
  memcpy(out, frame, VAD_FRAME * sizeof *out);
  speex_preprocess_run(a->pre, out);
  return denoise ? out : frame;
}

/* The cold part again, from the input as it came: through the suppressor, which has learnt
 * the noise by now, where the utterance is noisy (see ak__asr_feed). */
static int channel_replay(ak__asr *a) {
  int denoise = a->floor_db > a->cfg->asr_denoise_floor_db;
  int16_t clean[VAD_FRAME]; /* not a->clean: the caller may still be decoding from it */
  for (size_t off = 0; off < a->ncold; off += VAD_FRAME) {
    size_t m = a->ncold - off < VAD_FRAME ? a->ncold - off : VAD_FRAME;
    const int16_t *use = a->cold_buf + off;
    if (a->pre && m == VAD_FRAME) use = suppress(a, use, clean, denoise);
    if (ps_process_raw(a->ps, use, m, FALSE, FALSE) < 0) return -1;
  }
  return 0;
}

/* The cold part heard: its own mean replaces the carried one and it is decoded again. With
 * restart 0 (at the end of a short utterance) the decoder is left stopped. */
static int channel_settle(ak__asr *a, int restart) {
  cmn_t *c = asr_cmn(a);
  mfcc_t m[ASR_CEPLEN];
  a->cold = 0;
  if (!c || !mean_since(c, a->cold_n0, a->cold_sum0, m))
    return restart ? 0 : ps_end_utt(a->ps) < 0 ? -1 : 0;
  if (ps_end_utt(a->ps) < 0) return -1; /* the first pass's result is dropped */
  /* Where the suppressor's output is decoded, the first pass heard it while it was still
   * learning the noise (restarted for this session), so its mean is not the mean of what the
   * suppressor gives now: hear the cold part once more, for the mean alone. */
  if (a->pre && a->floor_db > a->cfg->asr_denoise_floor_db) {
    cmn_live_set(c, m);
    int32 n0 = c->nframe;
    mfcc_t s0[ASR_CEPLEN];
    memcpy(s0, c->sum, sizeof s0);
    if (ps_start_utt(a->ps) < 0 || channel_replay(a) < 0) return -1;
    mean_since(c, n0, s0, m);
    if (ps_end_utt(a->ps) < 0) return -1;
  }
  cmn_live_set(c, m);
  a->own_mean = 1;
  if (ps_start_utt(a->ps) < 0 || channel_replay(a) < 0) return -1;
  return restart || ps_end_utt(a->ps) >= 0 ? 0 : -1;
}

/* Everything the decoder hears goes through here: use, made from raw (the input as it came;
 * the same samples where nothing was suppressed). */
static int decode(ak__asr *a, const int16_t *raw, const int16_t *use, size_t n) {
  while (a->cold && n) {
    size_t k = ASR_COLD_SAMPLES - a->ncold < n ? ASR_COLD_SAMPLES - a->ncold : n;
    memcpy(a->cold_buf + a->ncold, raw, k * sizeof *raw);
    a->ncold += k;
    if (ps_process_raw(a->ps, use, k, FALSE, FALSE) < 0) return -1;
    raw += k;
    use += k;
    n -= k;
    if (a->ncold == ASR_COLD_SAMPLES && channel_settle(a, 1) < 0) return -1;
  }
  return n && ps_process_raw(a->ps, use, n, FALSE, FALSE) < 0 ? -1 : 0;
}
#endif

int ak__asr_feed(ak__asr *a, const int16_t *pcm, size_t n) {
  if (a->kind == 1) return ak__buf_append(&a->pcm, pcm, n * 2) ? -1 : 0;
#ifdef AK_HAVE_POCKETSPHINX
  if (!a->in_utt) {
    if (a->have_quiet) { /* the first block's quietest 20 ms frame: the room's noise floor */
      double lo = 0;
      for (size_t off = 0; off < n; off += VAD_FRAME) {
        size_t m = n - off < VAD_FRAME ? n - off : VAD_FRAME;
        double e = 0;
        for (size_t i = 0; i < m; i++) e += (double)pcm[off + i] * pcm[off + i];
        double db = 10.0 * log10(e / (double)m / (32768.0 * 32768.0) + 1e-12);
        if (db < lo) lo = db;
      }
      int quiet = lo <= a->cfg->asr_denoise_floor_db;
      if (n && quiet != a->in_quiet) {
        if (ps_set_search(a->ps, quiet ? "quiet" : ASR_MAIN_SEARCH) < 0) return -1;
        a->in_quiet = quiet;
      }
    }
    if (ps_start_utt(a->ps) < 0) return -1;
    a->in_utt = 1;
    a->floor_db = 0;
    if (channel_begin(a) < 0) return -1;
  }
  if (!a->pre) return decode(a, pcm, pcm, n);
  while (n) { /* whole 20 ms frames through the suppressor; the rest waits for more */
    size_t k = VAD_FRAME - a->nframe < n ? VAD_FRAME - a->nframe : n;
    memcpy(a->frame + a->nframe, pcm, k * 2);
    a->nframe += k;
    pcm += k;
    n -= k;
    if (a->nframe < VAD_FRAME) break;
    a->nframe = 0;
    /* The suppressor tracks every frame; the decoder gets its output only while the
     * utterance's quietest frame is above --asr-denoise-floor-db (there is noise to take
     * away): on clean input it would only distort the speech. */
    double e = 0;
    for (int i = 0; i < VAD_FRAME; i++) e += (double)a->frame[i] * a->frame[i];
    double db = 10.0 * log10(e / VAD_FRAME / (32768.0 * 32768.0) + 1e-12);
    if (db < a->floor_db) a->floor_db = db;
    const int16_t *use =
        suppress(a, a->frame, a->clean, a->floor_db > a->cfg->asr_denoise_floor_db);
    if (decode(a, a->frame, use, VAD_FRAME) < 0) return -1;
  }
  return 0;
#else
  return -1;
#endif
}

void ak__asr_partial(ak__asr *a, char *out, size_t cap) {
  out[0] = 0;
#ifdef AK_HAVE_POCKETSPHINX
  if (a->kind == 0 && a->in_utt) {
    int32 score;
    const char *h = ps_get_hyp(a->ps, &score);
    if (h) snprintf(out, cap, "%s", h);
  }
#endif
}

/* Writes a 44-byte WAV header for n bytes of 16 kHz mono s16le. */
static void wav_header(uint8_t *h, uint32_t n) {
  uint32_t rate = AK__MIC_RATE, byte_rate = rate * 2;
  memcpy(h, "RIFF", 4);
  uint32_t v = 36 + n;
  memcpy(h + 4, &v, 4); /* little-endian host (x86_64, aarch64) */
  memcpy(h + 8, "WAVEfmt ", 8);
  v = 16;
  memcpy(h + 16, &v, 4);
  uint16_t s = 1;
  memcpy(h + 20, &s, 2); /* PCM */
  memcpy(h + 22, &s, 2); /* mono */
  memcpy(h + 24, &rate, 4);
  memcpy(h + 28, &byte_rate, 4);
  s = 2;
  memcpy(h + 32, &s, 2);
  s = 16;
  memcpy(h + 34, &s, 2);
  memcpy(h + 36, "data", 4);
  memcpy(h + 40, &n, 4);
}

static int http_finish(ak__asr *a, char *out, size_t cap, char *err, size_t errcap) {
  const ak__config *c = a->cfg;
  size_t n = a->pcm.len;
  uint8_t *wav = malloc(44 + n);
  if (!wav) {
    snprintf(err, errcap, "out of memory");
    return -1;
  }
  wav_header(wav, (uint32_t)n);
  if (n) memcpy(wav + 44, a->pcm.data, n);
  a->pcm.len = 0;

  char url[600], auth[300];
  snprintf(url, sizeof url, "%s/audio/transcriptions", c->asr_url);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->asr_api_key);
  struct curl_slist *hdr = c->asr_api_key[0] ? curl_slist_append(NULL, auth) : NULL;
  ak__buf body = {.max = 1 << 20};
  int rc = -1;
  CURL *cu = curl_easy_init();
  curl_mime *mime = cu ? curl_mime_init(cu) : NULL;
  if (!mime) {
    snprintf(err, errcap, "curl init failed");
    goto out;
  }
  curl_mimepart *part = curl_mime_addpart(mime);
  curl_mime_name(part, "file");
  curl_mime_filename(part, "speech.wav");
  curl_mime_type(part, "audio/wav");
  curl_mime_data(part, (const char *)wav, 44 + n);
  part = curl_mime_addpart(mime);
  curl_mime_name(part, "model");
  curl_mime_data(part, c->asr_model, CURL_ZERO_TERMINATED);
  part = curl_mime_addpart(mime);
  curl_mime_name(part, "response_format");
  curl_mime_data(part, "json", CURL_ZERO_TERMINATED);
  curl_easy_setopt(cu, CURLOPT_URL, url);
  curl_easy_setopt(cu, CURLOPT_MIMEPOST, mime);
  if (hdr) curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, (curl_write_callback)NULL);
  curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
  curl_easy_setopt(cu, CURLOPT_TIMEOUT, 60L);
  {
    FILE *mem = NULL; /* collect the body through a memory stream */
    char *mbuf = NULL;
    size_t mlen = 0;
    mem = open_memstream(&mbuf, &mlen);
    if (!mem) {
      snprintf(err, errcap, "out of memory");
      goto out;
    }
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, mem);
    CURLcode cr = curl_easy_perform(cu);
    fclose(mem);
    if (mbuf) ak__buf_append(&body, mbuf, mlen < body.max ? mlen : body.max);
    free(mbuf);
    long status = 0;
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
    if (cr != CURLE_OK) {
      snprintf(err, errcap, "ASR request failed: %s", curl_easy_strerror(cr));
      goto out;
    }
    if (status >= 300) {
      snprintf(err, errcap, "ASR HTTP %ld: %.200s", status, body.data ? body.data : "");
      goto out;
    }
  }
  {
    cJSON *j = body.data ? cJSON_Parse(body.data) : NULL;
    cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, "text") : NULL;
    if (cJSON_IsString(t)) {
      snprintf(out, cap, "%s", t->valuestring);
      rc = 0;
    } else {
      snprintf(err, errcap, "ASR response has no text field");
    }
    cJSON_Delete(j);
  }
out:
  if (mime) curl_mime_free(mime);
  if (cu) curl_easy_cleanup(cu);
  curl_slist_free_all(hdr);
  ak__buf_free(&body);
  free(wav);
  return rc;
}

int ak__asr_finish(ak__asr *a, char *out, size_t cap, char *err, size_t errcap) {
  out[0] = 0;
  if (a->kind == 1) return http_finish(a, out, cap, err, errcap);
#ifdef AK_HAVE_POCKETSPHINX
  if (!a->in_utt) return 0;
  a->in_utt = 0;
  if (a->nframe) decode(a, a->frame, a->frame, a->nframe); /* < 20 ms left */
  a->nframe = 0;
  /* a cold utterance shorter than ASR_COLD_SAMPLES is decoded again with its own mean */
  if (a->cold ? channel_settle(a, 0) < 0 : ps_end_utt(a->ps) < 0) {
    snprintf(err, errcap, "pocketsphinx failed to end the utterance");
    return -1;
  }
  cmn_t *c = asr_cmn(a);
  /* the mean as the end of this utterance left it, for the next one; a cold utterance too
   * short to have a mean of its own leaves the session cold (its mean is someone else's) */
  if (c && a->ch && a->own_mean) {
    mfcc_t m[ASR_CEPLEN];
    cmn_live_get(c, m);
    for (int j = 0; j < ASR_CEPLEN; j++) a->ch->mean[j] = MFCC2FLOAT(m[j]);
    a->ch->valid = 1;
  }
  int32 score;
  const char *h = ps_get_hyp(a->ps, &score);
  if (h) snprintf(out, cap, "%s", h);
  return 0;
#else
  snprintf(err, errcap, "no recognizer");
  return -1;
#endif
}

/* ---- pool ---------------------------------------------------------------------------------- */
struct ak__asr_pool {
  const ak__config *cfg;
  pthread_mutex_t mu;
  ak__asr **idle;
  int n_idle, created, max;
};

ak__asr_pool *ak__asr_pool_new(const ak__config *c) {
  ak__asr_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->max = c->max_recognizers > 0 ? c->max_recognizers : 1;
  p->idle = calloc((size_t)p->max, sizeof *p->idle);
  if (!p->idle) {
    free(p);
    return NULL;
  }
  p->cfg = c;
  pthread_mutex_init(&p->mu, NULL);
  return p;
}

void ak__asr_pool_free(ak__asr_pool *p) {
  if (!p) return;
  for (int i = 0; i < p->n_idle; i++) ak__asr_free(p->idle[i]);
  pthread_mutex_destroy(&p->mu);
  free(p->idle);
  free(p);
}

ak__asr *ak__asr_pool_get(ak__asr_pool *p, char *err, size_t errcap) {
  pthread_mutex_lock(&p->mu);
  if (p->n_idle) {
    ak__asr *a = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->mu);
    return a;
  }
  if (p->created >= p->max) {
    pthread_mutex_unlock(&p->mu);
    snprintf(err, errcap, "all %d speech recognizers are busy; try again in a moment", p->max);
    return NULL;
  }
  p->created++; /* reserve the slot; loading (~0.4 s) happens outside the lock */
  pthread_mutex_unlock(&p->mu);
  ak__asr *a = ak__asr_new(p->cfg, err, errcap);
  if (!a) {
    pthread_mutex_lock(&p->mu);
    p->created--;
    pthread_mutex_unlock(&p->mu);
  }
  return a;
}

void ak__asr_pool_put(ak__asr_pool *p, ak__asr *a) {
  if (!a) return;
#ifdef AK_HAVE_POCKETSPHINX
  if (a->kind == 0 && a->in_utt) {
    ps_end_utt(a->ps);
    a->in_utt = 0;
  }
  if (a->kind == 0) {
    a->nframe = 0;
    a->cold = 0;
    a->ch = NULL;
  }
#endif
  a->pcm.len = 0;
  pthread_mutex_lock(&p->mu);
  p->idle[p->n_idle++] = a; /* n_idle < created <= max */
  pthread_mutex_unlock(&p->mu);
}
