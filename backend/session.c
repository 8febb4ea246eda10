/* One browser session: its bounded outbound and inbound queues, the listener thread (commands,
 * VAD and ASR on mic audio, barge-in) and the speaker thread (one turn at a time: LLM ->
 * sentence-by-sentence TTS -> Motion Server through the C Server SDK), and the relay of the
 * Motion Server's messages back to the browser: each one once, as a binary frame holding the
 * Message bytes the SDK received, untouched (JSON text frames carry only control). A turn is
 * cancelled by bumping `gen`. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "avatarkit/protocol.h"
#include "avatarkit/sdk.h"
#include "backend.h"
#include "registry.h"

enum { CMD_TEXT, CMD_MIC, CMD_MIC_END, CMD_INTERRUPT, CMD_SET_AVATAR };

typedef struct out_msg {
  struct out_msg *next;
  char *block;
  size_t len;
  int binary;
} out_msg;
typedef struct cmd {
  struct cmd *next;
  int type;
  char *text;
  int16_t *pcm;
  size_t n, bytes;
} cmd;

struct ak__session {
  ak__session_env env;
  const ak__config *cfg;
  ak__tts *tts;
  ak__asr_pool *asr_pool;
  char id[AK_ID_LEN + 1];

  pthread_mutex_t mu;
  pthread_cond_t cv_listen, cv_speak;
  int refs;
  atomic_int closed;

  /* outbound (any thread -> lws thread) */
  out_msg *oh, *ot;
  size_t out_bytes, out_count;
  int overflow;
  /* inbound commands (lws thread -> listener) */
  cmd *ch, *ct;
  size_t cmd_bytes, cmd_count;
  int busy_reported;

  /* turn state, under mu */
  atomic_uint gen;
  char *pending_text;
  unsigned pending_gen;
  int pending_interrupt;
  int turn_running;
  int relay_turn; /* turn whose payloads are relayed, 0 = none */
  char relay_req[AK_ID_LEN + 1];
  char prev_req[AK_ID_LEN + 1]; /* the previous turn's request: never adopted */
  int relay_waiting;            /* the turn's request id is not known yet */
  int relay_cancelled;
  char avatar_id[128];
  int motion_reconnect; /* avatar changed: reconnect before the next turn */

  /* speaker thread only */
  aks_session *motion;
  atomic_int motion_dead;
  atomic_int motion_connects; /* on_connected of the current aks_session: > 1 = reconnected */
  ak__chat_msg hist[AK__MAX_HISTORY];
  size_t n_hist;
  int turn_seq;

  /* listener thread only */
  ak__asr *asr;                /* taken from the pool for the current utterance */
  ak__asr_channel asr_channel; /* what the recognizer learnt of this user's channel */
  int mic_refused;             /* no recognizer: drop mic audio until mic_end */
  ak__vad vad;
  int mic_active, speech_seen;
  size_t utt_samples;
  size_t since_partial;
  char last_partial[256];
};

/* ---- outbound --------------------------------------------------------------------------- */

static void session_unref(ak__session *s);

/* A queue entry holding a copy of data[0..len) after LWS_PRE bytes of headroom, or NULL. */
static out_msg *out_msg_new(const void *data, size_t len, int binary) {
  out_msg *m = malloc(sizeof *m);
  char *block = malloc(LWS_PRE + len + 1);
  if (!m || !block) {
    free(m);
    free(block);
    return NULL;
  }
  memcpy(block + LWS_PRE, data, len);
  block[LWS_PRE + len] = 0;
  m->next = NULL;
  m->block = block;
  m->len = len;
  m->binary = binary;
  return m;
}

static void out_msg_free(out_msg *m) {
  if (!m) return;
  free(m->block);
  free(m);
}

/* Appends m to the outbound queue, or drops it (closed, droppable under backpressure, or over
 * the hard limit, which marks the session for closing). Caller holds s->mu; m is the queue's
 * or freed on return. Returns 1 when the lws thread must be woken. */
static int enqueue_locked(ak__session *s, out_msg *m, int droppable) {
  size_t hard = (size_t)s->cfg->out_queue_kb * 1024, soft = hard / 8;
  if (atomic_load(&s->closed) || s->overflow) {
    out_msg_free(m); /* nobody to send to */
    return 0;
  }
  if (droppable && s->out_bytes > soft) {
    ak__log(2, "session %s: dropped a droppable message under backpressure", s->id);
    out_msg_free(m);
    return 0;
  }
  if (s->out_bytes + m->len > hard || s->out_count >= AK__MAX_OUT_MSGS) {
    s->overflow = 1; /* the lws thread closes the connection */
    ak__log(1, "session %s: outbound queue over its limit, closing", s->id);
    out_msg_free(m);
    return 1;
  }
  if (s->ot)
    s->ot->next = m;
  else
    s->oh = m;
  s->ot = m;
  s->out_bytes += m->len;
  s->out_count++;
  return 1;
}

void ak__session_send(ak__session *s, cJSON *obj, int droppable) {
  char *str = obj ? cJSON_PrintUnformatted(obj) : NULL;
  cJSON_Delete(obj);
  if (!str) return;
  out_msg *m = out_msg_new(str, strlen(str), 0);
  free(str);
  if (!m) return;
  pthread_mutex_lock(&s->mu);
  int wake = enqueue_locked(s, m, droppable);
  pthread_mutex_unlock(&s->mu);
  if (wake) s->env.wake(s->env.wake_user);
}

void ak__session_send_error(ak__session *s, const char *code, const char *message) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", "error");
  cJSON_AddStringToObject(o, "code", code);
  cJSON_AddStringToObject(o, "message", message);
  ak__session_send(s, o, 0);
}

static void send_event(ak__session *s, const char *event, const char *text, int droppable) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", "agent_event");
  cJSON_AddStringToObject(o, "event", event);
  cJSON_AddStringToObject(o, "text", text);
  ak__session_send(s, o, droppable);
}

static void send_status(ak__session *s, const char *msg) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", "status");
  cJSON_AddStringToObject(o, "message", msg);
  ak__session_send(s, o, 1);
}

static void send_ready(ak__session *s) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", "ready");
  cJSON_AddStringToObject(o, "sessionId", s->id);
  cJSON *av = cJSON_AddObjectToObject(o, "avatar");
  pthread_mutex_lock(&s->mu);
  cJSON_AddStringToObject(av, "avatarId", s->avatar_id);
  pthread_mutex_unlock(&s->mu);
  cJSON_AddStringToObject(av, "appId", s->cfg->app_id);
  cJSON_AddNumberToObject(av, "outputSampleRate", 16000);
  cJSON *ag = cJSON_AddObjectToObject(o, "agent");
  int local = strcmp(s->cfg->llm_provider, "local") == 0;
  cJSON_AddStringToObject(ag, "llm", s->cfg->llm_provider);
  cJSON_AddStringToObject(ag, "label",
                          local ? "Built-in local agent (rule based, no LLM)" : s->cfg->llm_model);
  cJSON_AddStringToObject(ag, "tts", ak__tts_family(s->tts));
  cJSON_AddStringToObject(ag, "ttsVoice", ak__tts_voice_id(s->tts));
  cJSON_AddStringToObject(ag, "asr", s->cfg->asr_provider);
  if (strcmp(s->cfg->asr_provider, "sphinx") == 0) {
    const char *lm = s->cfg->sphinx_lm[0] ? s->cfg->sphinx_lm : "domain";
    const char *base = strrchr(lm, '/');
    cJSON_AddStringToObject(ag, "asrModel", base ? base + 1 : lm);
  }
  cJSON_AddNumberToObject(ag, "micSampleRate", AK__MIC_RATE);
  ak__session_send(s, o, 0);
}

char *ak__session_pop(ak__session *s, size_t *len, int *binary, int *more, int *overflow) {
  char *block = NULL;
  pthread_mutex_lock(&s->mu);
  *overflow = s->overflow;
  out_msg *m = s->overflow ? NULL : s->oh;
  if (m) {
    s->oh = m->next;
    if (!s->oh) s->ot = NULL;
    s->out_bytes -= m->len;
    s->out_count--;
    block = m->block;
    *len = m->len;
    *binary = m->binary;
    free(m);
  }
  *more = s->oh != NULL;
  pthread_mutex_unlock(&s->mu);
  return block;
}

const char *ak__session_id(const ak__session *s) {
  return s->id;
}

/* ---- turn control ----------------------------------------------------------------------- */

/* Cancels whatever turn is running or pending; tells the browser when something was playing
 * or `always`. Listener thread. */
static void cancel_turn(ak__session *s, const char *reason, int always) {
  pthread_mutex_lock(&s->mu);
  int active = s->turn_running || s->pending_text || (s->relay_turn && !s->relay_cancelled);
  atomic_fetch_add(&s->gen, 1);
  free(s->pending_text);
  s->pending_text = NULL;
  if (s->relay_turn) s->relay_cancelled = 1;
  s->pending_interrupt = 1;
  pthread_cond_signal(&s->cv_speak);
  pthread_mutex_unlock(&s->mu);
  if (active || always) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "interrupt");
    cJSON_AddStringToObject(o, "reason", reason);
    ak__session_send(s, o, 0);
  }
}

static void start_turn(ak__session *s, const char *text) {
  cancel_turn(s, "new_turn", 0);
  char *copy = strdup(text);
  if (!copy) return;
  pthread_mutex_lock(&s->mu);
  s->pending_text = copy;
  s->pending_gen = atomic_load(&s->gen);
  pthread_cond_signal(&s->cv_speak);
  pthread_mutex_unlock(&s->mu);
}

/* ---- Motion Server callbacks (SDK network thread) ---------------------------------------- */

/* Whether a message of req_id belongs to the turn being relayed; adopts the id when the turn
 * has not learnt it yet. Caller holds s->mu. Returns the turn id or 0. */
static int relay_match_locked(ak__session *s, const char *req_id) {
  if (!s->relay_turn || s->relay_cancelled || !req_id) return 0;
  if (s->relay_req[0]) return strcmp(s->relay_req, req_id) == 0 ? s->relay_turn : 0;
  if (s->relay_waiting && strcmp(s->prev_req, req_id) != 0) {
    snprintf(s->relay_req, sizeof s->relay_req, "%s", req_id);
    s->relay_waiting = 0;
    return s->relay_turn;
  }
  return 0;
}

/* Relays one SERVER_RESPONSE_ANIMATION (audio and motion together) as it came. Matching and
 * queueing happen under one lock, so every message of a turn that cancel_turn() stops is
 * queued before its "interrupt": the browser can drop what it holds when the interrupt
 * arrives, and nothing of that turn follows. */
static void on_message(void *user, const char *req_id, const uint8_t *msg, size_t len, int last) {
  ak__session *s = user;
  (void)last; /* the Message carries its own end flag */
  out_msg *m = out_msg_new(msg, len, 1);
  if (!m) return;
  pthread_mutex_lock(&s->mu);
  int wake = 0;
  if (relay_match_locked(s, req_id))
    wake = enqueue_locked(s, m, 0);
  else
    out_msg_free(m);
  pthread_mutex_unlock(&s->mu);
  if (wake) s->env.wake(s->env.wake_user);
}

static void on_error(void *user, const aks_error *e) {
  ak__session *s = user;
  char msg[512];
  snprintf(msg, sizeof msg, "motion server (%s): %s", aks_phase_name(e->phase),
           e->message ? e->message : aks_error_name(e->code));
  ak__log(1, "session %s: %s", s->id, msg);
  /* An idle Motion Server session closing is routine: the next turn reconnects. */
  if (e->code != AKS_IDLE_TIMEOUT) ak__session_send_error(s, aks_error_name(e->code), msg);
}

/* Fires once per connection of the current aks_session: the SDK reconnected when it is not
 * the first, and the browser is told the avatar can speak again. */
static void on_connected(void *user, const char *connection_id) {
  ak__session *s = user;
  if (atomic_fetch_add(&s->motion_connects, 1) == 0) return;
  ak__log(1, "session %s: motion connection %s (reconnected)", s->id,
          connection_id ? connection_id : "");
  send_status(s, "Motion Server reconnected; the avatar speaks again");
}

static void on_close(void *user, int code, const char *reason) {
  ak__session *s = user;
  atomic_store(&s->motion_dead, 1);
  ak__log(2, "session %s: motion connection closed (%d %s)", s->id, code, reason ? reason : "");
}

/* ---- speaker thread ----------------------------------------------------------------------- */

/* Connects (or reconnects) to the Motion Server. Returns 0 or -1 with err. */
static int ensure_motion(ak__session *s, char *err, size_t errcap) {
  /* err must hold a URL and a name: callers pass 700 bytes */
  pthread_mutex_lock(&s->mu);
  int reconnect = s->motion_reconnect;
  s->motion_reconnect = 0;
  char avatar[128];
  snprintf(avatar, sizeof avatar, "%s", s->avatar_id);
  pthread_mutex_unlock(&s->mu);
  if (s->motion && !atomic_load(&s->motion_dead) && !reconnect) return 0;
  aks_session_free(s->motion);
  s->motion = NULL;
  atomic_store(&s->motion_dead, 0);
  atomic_store(&s->motion_connects, 0);

  const ak__config *c = s->cfg;
  char console[560], ingress[560];
  snprintf(console, sizeof console, "%s/v1/console", c->motion_url);
  snprintf(ingress, sizeof ingress, "%s/v2/driveningress", c->motion_url);
  aks_config mc;
  aks_config_default(&mc);
  mc.api_key = c->api_key;
  mc.app_id = c->app_id;
  mc.avatar_id = avatar;
  mc.console_url = console;
  mc.ingress_url = ingress;
  mc.sample_rate = ak__tts_sample_rate(s->tts);
  mc.connect_timeout_ms = c->connect_timeout_ms;
  /* A Motion Server that dies or restarts (demo.sh supervises it) is reconnected by the SDK
   * with backoff and a fresh token from the console API (the SDK's default token source with
   * api_key); the request in flight ends with requestAborted (relayed to the browser), the
   * next turn is queued for the new connection. A silent connection (a hung server, a dead
   * peer without FIN) is found by the liveness bound. When the SDK gives up, on_close marks
   * the session dead and the next turn connects afresh. */
  mc.reconnect = c->motion_reconnect_attempts > 0;
  if (mc.reconnect) mc.reconnect_max_attempts = c->motion_reconnect_attempts;
  mc.liveness_timeout_ms = c->motion_liveness_ms;
  aks_callbacks cbs = {.on_connected = on_connected,
                       .on_message = on_message,
                       .on_error = on_error,
                       .on_close = on_close};
  aks_session *m = NULL;
  int rc = aks_session_new(&mc, &cbs, s, &m);
  if (rc == AKS_OK) rc = aks_session_init(m);
  char conn[128] = "";
  if (rc == AKS_OK) rc = aks_session_start(m, conn, sizeof conn);
  if (rc != AKS_OK) {
    snprintf(err, errcap, "cannot reach the Motion Server at %s: %s", c->motion_url,
             aks_error_name(rc));
    aks_session_free(m);
    return -1;
  }
  ak__log(1, "session %s: motion connection %s (avatar %s, %d Hz)", s->id, conn, avatar,
          mc.sample_rate);
  s->motion = m;
  return 0;
}

typedef struct turn_ctx {
  ak__session *s;
  unsigned gen;
  ak__buf reply;   /* the whole reply text (bounded) */
  ak__buf pending; /* text not yet spoken */
  int req_open;    /* audio of this turn was sent and not yet ended */
  int no_audio;    /* motion unavailable: text only */
  int failed;
  char err[700];
} turn_ctx;

static int turn_cancelled(void *user) {
  turn_ctx *t = user;
  return atomic_load(&t->s->gen) != t->gen || atomic_load(&t->s->closed);
}

static int on_pcm(void *user, const int16_t *pcm, size_t n) {
  turn_ctx *t = user;
  ak__session *s = t->s;
  if (turn_cancelled(t)) return 1;
  char req[AK_ID_LEN + 1] = "";
  int rc = aks_session_send_audio(s->motion, pcm, n * sizeof *pcm, 0, req, sizeof req);
  if (rc != AKS_OK) {
    snprintf(t->err, sizeof t->err, "sending audio to the Motion Server failed: %s",
             aks_error_name(rc));
    t->failed = 1;
    return 1;
  }
  if (!t->req_open) {
    t->req_open = 1;
    pthread_mutex_lock(&s->mu);
    /* the id send_audio returns is authoritative (an adopted one can only be this one) */
    if (req[0]) snprintf(s->relay_req, sizeof s->relay_req, "%s", req);
    s->relay_waiting = 0;
    pthread_mutex_unlock(&s->mu);
  }
  return 0;
}

static int speak(turn_ctx *t, const char *text, size_t len) {
  if (t->no_audio || t->failed || !ak__has_words(text, len)) return 0;
  char *sentence = strndup(text, len);
  if (!sentence) return 1;
  char err[256] = "";
  int rc = ak__tts_speak(t->s->tts, sentence, on_pcm, turn_cancelled, t, err, sizeof err);
  free(sentence);
  if (rc < 0) {
    snprintf(t->err, sizeof t->err, "TTS failed: %s", err);
    t->failed = 1;
  }
  return rc != 0;
}

/* Speaks every complete sentence in t->pending (all of it when final). */
static int flush_sentences(turn_ctx *t, int final) {
  size_t off = 0;
  for (;;) {
    size_t n = ak__sentence_len(t->pending.data + off, t->pending.len - off, final, 240);
    if (!n) break;
    if (speak(t, t->pending.data + off, n)) return 1;
    off += n;
    if (off >= t->pending.len) break;
  }
  memmove(t->pending.data, t->pending.data + off, t->pending.len - off + 1);
  t->pending.len -= off;
  return 0;
}

static int on_llm_text(void *user, const char *text, size_t len) {
  turn_ctx *t = user;
  if (turn_cancelled(t)) return 1;
  char *delta = strndup(text, len);
  if (delta) {
    send_event(t->s, "llm_text", delta, 0);
    free(delta);
  }
  if (t->reply.len < AK__MAX_REPLY) ak__buf_append(&t->reply, text, len);
  if (ak__buf_append(&t->pending, text, len)) return 1;
  return flush_sentences(t, 0);
}

static void history_add(ak__session *s, const char *role, const char *content) {
  if (s->n_hist == AK__MAX_HISTORY) {
    free(s->hist[0].content);
    memmove(s->hist, s->hist + 1, (AK__MAX_HISTORY - 1) * sizeof s->hist[0]);
    s->n_hist--;
  }
  char *c = strdup(content ? content : "");
  if (!c) return;
  snprintf(s->hist[s->n_hist].role, sizeof s->hist[0].role, "%s", role);
  s->hist[s->n_hist++].content = c;
}

static void run_turn(ak__session *s, const char *text, unsigned gen) {
  turn_ctx t = {.s = s, .gen = gen};
  t.reply.max = AK__MAX_REPLY + 1024;
  t.pending.max = AK__MAX_REPLY + 1024;
  pthread_mutex_lock(&s->mu);
  int live = atomic_load(&s->gen) == gen;
  if (live) {
    s->turn_running = 1;
    s->relay_turn = ++s->turn_seq;
    if (s->relay_req[0]) snprintf(s->prev_req, sizeof s->prev_req, "%s", s->relay_req);
    s->relay_req[0] = 0;
    s->relay_waiting = 1;
    s->relay_cancelled = 0;
  }
  pthread_mutex_unlock(&s->mu);
  if (!live) return; /* cancelled while queued */
  if (ak__buf_append(&t.pending, "", 0)) return;

  char err[700];
  if (ensure_motion(s, err, sizeof err)) {
    t.no_audio = 1;
    ak__session_send_error(s, "motion_unavailable", err);
  }
  history_add(s, "user", text);
  char lerr[512] = "";
  int rc =
      ak__llm_run(s->cfg, s->hist, s->n_hist, on_llm_text, turn_cancelled, &t, lerr, sizeof lerr);
  if (rc == 0 && !turn_cancelled(&t)) flush_sentences(&t, 1);
  if (rc < 0 && !turn_cancelled(&t)) {
    /* The model failed (HTTP error, malformed stream, timeout): the avatar says so, and the
     * browser gets llm_failed with the reason below, so the turn ends instead of hanging.
     * The apology is not kept in the history. */
    const char *sorry = t.reply.len ? " Sorry, my language model stopped answering."
                                    : "Sorry, my language model did not answer.";
    send_event(s, "llm_text", sorry, 0);
    speak(&t, sorry, strlen(sorry));
  }
  int cancelled = turn_cancelled(&t);
  if (t.req_open) {
    aks_session_send_audio(s->motion, NULL, 0, 1, NULL, 0);
    if (cancelled) aks_session_interrupt(s->motion, NULL, 0);
  }
  if (rc < 0) {
    ak__session_send_error(s, "llm_failed", lerr);
  } else if (t.failed) {
    ak__session_send_error(s, "tts_failed", t.err);
  }
  if (!cancelled) send_event(s, "llm_done", t.reply.data ? t.reply.data : "", 0);
  if (t.reply.len)
    history_add(s, "assistant", t.reply.data);
  else if (s->n_hist) { /* keep user/assistant alternation */
    free(s->hist[s->n_hist - 1].content);
    s->n_hist--;
  }
  pthread_mutex_lock(&s->mu);
  s->turn_running = 0;
  if (!t.req_open) s->relay_waiting = 0;
  pthread_mutex_unlock(&s->mu);
  ak__buf_free(&t.reply);
  ak__buf_free(&t.pending);
}

static void *speaker_main(void *arg) {
  ak__session *s = arg;
  char err[700];
  if (ensure_motion(s, err, sizeof err)) { /* early connect: first turn starts faster */
    ak__log(1, "session %s: %s", s->id, err);
    send_status(s, "Motion Server not reachable yet; will retry on the next turn");
  }
  for (;;) {
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->closed) && !s->pending_text && !s->pending_interrupt)
      pthread_cond_wait(&s->cv_speak, &s->mu);
    if (atomic_load(&s->closed)) {
      pthread_mutex_unlock(&s->mu);
      break;
    }
    int do_interrupt = s->pending_interrupt;
    s->pending_interrupt = 0;
    char *text = s->pending_text;
    s->pending_text = NULL;
    unsigned gen = s->pending_gen;
    pthread_mutex_unlock(&s->mu);
    if (do_interrupt && s->motion && !atomic_load(&s->motion_dead))
      aks_session_interrupt(s->motion, NULL, 0); /* INVALID_STATE when nothing was sent */
    if (text) run_turn(s, text, gen);
    free(text);
  }
  aks_session_free(s->motion);
  s->motion = NULL;
  for (size_t i = 0; i < s->n_hist; i++) free(s->hist[i].content);
  s->n_hist = 0;
  ak__registry *threads = s->env.threads;
  session_unref(s);
  ak__registry_done(threads);
  return NULL;
}

/* ---- listener thread ----------------------------------------------------------------------- */

static void finish_utterance(ak__session *s) {
  if (!s->mic_active) return;
  s->mic_active = 0;
  char text[1024], err[512] = "";
  int rc = ak__asr_finish(s->asr, text, sizeof text, err, sizeof err);
  ak__asr_pool_put(s->asr_pool, s->asr);
  s->asr = NULL;
  if (rc) {
    ak__session_send_error(s, "asr_failed", err);
    return;
  }
  send_event(s, "asr_final", text, 0);
  if (ak__has_words(text, strlen(text)))
    start_turn(s, text);
  else
    send_status(s, "No speech recognized");
}

static void handle_mic(ak__session *s, const int16_t *pcm, size_t n) {
  if (s->mic_refused) return;
  if (!s->mic_active) {
    char err[512] = "";
    s->asr = ak__asr_pool_get(s->asr_pool, err, sizeof err);
    if (!s->asr) {
      s->mic_refused = 1;
      ak__session_send_error(s, "asr_unavailable", err);
      return;
    }
    ak__asr_bind(s->asr, &s->asr_channel);
    s->mic_active = 1;
    s->utt_samples = 0;
    s->speech_seen = 0;
    s->since_partial = 0;
    s->last_partial[0] = 0;
    ak__vad_init(&s->vad, s->cfg->vad_threshold_db, s->cfg->vad_margin_db, s->cfg->vad_silence_ms);
  }
  int ev = ak__vad_feed(&s->vad, pcm, n);
  if (ev == AK__VAD_START) {
    s->speech_seen = 1;
    cancel_turn(s, "barge_in", 0); /* the user talks over the avatar */
  }
  s->utt_samples += n;
  if (ak__asr_feed(s->asr, pcm, n) ||
      s->utt_samples >= (size_t)AK__MAX_UTTERANCE_S * AK__MIC_RATE) { /* too long: end it */
    finish_utterance(s);
    return;
  }
  s->since_partial += n;
  if (s->speech_seen && s->since_partial >= AK__MIC_RATE * 3 / 10) {
    s->since_partial = 0;
    char part[256];
    ak__asr_partial(s->asr, part, sizeof part);
    if (part[0] && strcmp(part, s->last_partial)) {
      snprintf(s->last_partial, sizeof s->last_partial, "%s", part);
      send_event(s, "asr_partial", part, 1);
    }
  }
  if (ev == AK__VAD_END) finish_utterance(s);
}

static void handle_cmd(ak__session *s, cmd *c) {
  switch (c->type) {
    case CMD_TEXT:
      start_turn(s, c->text);
      break;
    case CMD_MIC:
      handle_mic(s, c->pcm, c->n);
      break;
    case CMD_MIC_END:
      s->mic_refused = 0;
      finish_utterance(s);
      break;
    case CMD_INTERRUPT:
      cancel_turn(s, "user", 1);
      break;
    case CMD_SET_AVATAR:
      cancel_turn(s, "avatar_changed", 0);
      pthread_mutex_lock(&s->mu);
      snprintf(s->avatar_id, sizeof s->avatar_id, "%s", c->text);
      s->motion_reconnect = 1;
      pthread_mutex_unlock(&s->mu);
      send_ready(s);
      break;
  }
}

static void *listener_main(void *arg) {
  ak__session *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->closed) && !s->ch) pthread_cond_wait(&s->cv_listen, &s->mu);
    if (atomic_load(&s->closed)) {
      pthread_mutex_unlock(&s->mu);
      break;
    }
    cmd *c = s->ch;
    s->ch = c->next;
    if (!s->ch) s->ct = NULL;
    s->cmd_bytes -= c->bytes;
    s->cmd_count--;
    if (!s->cmd_count) s->busy_reported = 0;
    pthread_mutex_unlock(&s->mu);
    handle_cmd(s, c);
    free(c->text);
    free(c->pcm);
    free(c);
  }
  ak__asr_pool_put(s->asr_pool, s->asr);
  s->asr = NULL;
  ak__registry *threads = s->env.threads;
  session_unref(s);
  ak__registry_done(threads);
  return NULL;
}

/* ---- inbound (lws thread) ----------------------------------------------------------------- */

static void push_cmd(ak__session *s, cmd *c) {
  c->bytes = sizeof *c + (c->text ? strlen(c->text) : 0) + c->n * 2;
  int full = 0, report = 0;
  pthread_mutex_lock(&s->mu);
  if (s->cmd_count >= AK__MAX_CMDS || s->cmd_bytes + c->bytes > AK__MAX_CMD_BYTES) {
    full = 1;
    report = !s->busy_reported;
    s->busy_reported = 1;
  } else {
    if (s->ct)
      s->ct->next = c;
    else
      s->ch = c;
    s->ct = c;
    s->cmd_count++;
    s->cmd_bytes += c->bytes;
    pthread_cond_signal(&s->cv_listen);
  }
  pthread_mutex_unlock(&s->mu);
  if (full) {
    free(c->text);
    free(c->pcm);
    free(c);
    if (report) ak__session_send_error(s, "busy", "too many pending messages; input dropped");
  }
}

static int avatar_id_ok(const char *id) {
  size_t n = strlen(id);
  if (!n || n >= 128) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = id[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '-' || ch == '_' || ch == '.'))
      return 0;
  }
  return 1;
}

void ak__session_on_text(ak__session *s, const char *msg, size_t len) {
  cJSON *j = cJSON_ParseWithLength(msg, len);
  if (!j || !cJSON_IsObject(j)) {
    cJSON_Delete(j);
    ak__session_send_error(s, "bad_json", "message is not a JSON object");
    return;
  }
  cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
  const char *t = cJSON_IsString(type) ? type->valuestring : NULL;
  cmd *c = NULL;
  char emsg[160];
  if (!t) {
    ak__session_send_error(s, "bad_request", "missing string field 'type'");
  } else if (strcmp(t, "ping") == 0) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "pong");
    ak__session_send(s, o, 1);
  } else if (strcmp(t, "text_query") == 0) {
    cJSON *tx = cJSON_GetObjectItemCaseSensitive(j, "text");
    if (!cJSON_IsString(tx) || !ak__has_words(tx->valuestring, strlen(tx->valuestring))) {
      ak__session_send_error(s, "bad_request", "text_query needs a non-empty string 'text'");
    } else if (strlen(tx->valuestring) > AK__MAX_TEXT) {
      snprintf(emsg, sizeof emsg, "text longer than %d bytes", AK__MAX_TEXT);
      ak__session_send_error(s, "too_large", emsg);
    } else if ((c = calloc(1, sizeof *c)) && (c->text = strdup(tx->valuestring))) {
      c->type = CMD_TEXT;
      push_cmd(s, c);
      c = NULL;
    }
  } else if (strcmp(t, "mic_audio") == 0) {
    cJSON *au = cJSON_GetObjectItemCaseSensitive(j, "audio");
    size_t n = 0;
    uint8_t *pcm =
        cJSON_IsString(au) ? ak__b64_decode(au->valuestring, strlen(au->valuestring), &n) : NULL;
    if (!pcm || n % 2) {
      free(pcm);
      ak__session_send_error(s, "bad_request", "mic_audio needs base64 PCM s16le in 'audio'");
    } else if (n == 0) {
      free(pcm);
    } else if ((c = calloc(1, sizeof *c))) {
      c->type = CMD_MIC;
      c->pcm = (int16_t *)pcm; /* malloc'd: suitably aligned */
      c->n = n / 2;
      push_cmd(s, c);
      c = NULL;
    } else {
      free(pcm);
    }
  } else if (strcmp(t, "mic_end") == 0 || strcmp(t, "interrupt") == 0) {
    if ((c = calloc(1, sizeof *c))) {
      c->type = t[0] == 'm' ? CMD_MIC_END : CMD_INTERRUPT;
      push_cmd(s, c);
      c = NULL;
    }
  } else if (strcmp(t, "set_avatar") == 0) {
    cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "avatarId");
    if (!cJSON_IsString(id) || !avatar_id_ok(id->valuestring)) {
      ak__session_send_error(s, "bad_request",
                             "set_avatar needs 'avatarId' of letters, digits, - _ . (max 127)");
    } else if ((c = calloc(1, sizeof *c)) && (c->text = strdup(id->valuestring))) {
      c->type = CMD_SET_AVATAR;
      push_cmd(s, c);
      c = NULL;
    }
  } else {
    snprintf(emsg, sizeof emsg, "unknown message type '%.64s'", t);
    ak__session_send_error(s, "unknown_type", emsg);
  }
  free(c); /* allocation failed half way */
  cJSON_Delete(j);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void session_unref(ak__session *s) {
  pthread_mutex_lock(&s->mu);
  int last = --s->refs == 0;
  pthread_mutex_unlock(&s->mu);
  if (!last) return;
  while (s->oh) {
    out_msg *m = s->oh;
    s->oh = m->next;
    out_msg_free(m);
  }
  while (s->ch) {
    cmd *c = s->ch;
    s->ch = c->next;
    free(c->text);
    free(c->pcm);
    free(c);
  }
  free(s->pending_text);
  pthread_cond_destroy(&s->cv_listen);
  pthread_cond_destroy(&s->cv_speak);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

ak__session *ak__session_new(const ak__session_env *env) {
  ak__session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  const ak__config *c = env->cfg;
  s->env = *env;
  s->cfg = c;
  s->tts = env->tts;
  s->asr_pool = env->asr_pool;
  if (ak_id_new(s->id, sizeof s->id, 0) != AK_OK) snprintf(s->id, sizeof s->id, "session");
  snprintf(s->avatar_id, sizeof s->avatar_id, "%s", c->avatar_id);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv_listen, NULL);
  pthread_cond_init(&s->cv_speak, NULL);
  s->refs = 3; /* the lws connection, the listener, the speaker */
  send_ready(s);
  if (ak__registry_start(env->threads, listener_main, s)) s->refs--;
  if (ak__registry_start(env->threads, speaker_main, s)) s->refs--;
  if (s->refs != 3) {
    ak__log(0, "session %s: cannot start its threads", s->id);
    atomic_store(&s->closed, 1); /* threads that did start exit at once */
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->cv_listen);
    pthread_cond_broadcast(&s->cv_speak);
    pthread_mutex_unlock(&s->mu);
    session_unref(s);
    return NULL;
  }
  return s;
}

void ak__session_release(ak__session *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  atomic_store(&s->closed, 1);
  atomic_fetch_add(&s->gen, 1);
  pthread_cond_broadcast(&s->cv_listen);
  pthread_cond_broadcast(&s->cv_speak);
  pthread_mutex_unlock(&s->mu);
  session_unref(s);
}
