/* The driven-ingress WebSocket: sessions over lws, with their media work on the worker pool.
 *
 * Threads. The lws service thread (the "network thread") does I/O only: it reassembles
 * received messages, parses them (a copy, no media work), appends them to the session's
 * input queue and schedules the session on its worker; it writes the session's output queue
 * and closes the connection. The session's worker (worker.c; one per session for its whole
 * life, so order is kept) runs the protocol state machine and the media pipeline (the stream
 * library, include/avatarkit/stream.h), packing each message into the output queue, then asks
 * the network thread to write it: lws_cancel_service() (the one thread-safe lws call), whose
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED runs ak__ingress_wake() on the network thread.
 *
 * Sharing. Fields are owned by one side (marked "net" and "worker" below) or shared under the
 * session's mutex `mu`. A session is reference counted: the network thread holds one from
 * ESTABLISHED to CLOSED, the pool one while queued or running, the wake list one while
 * listed; whoever drops the last frees it, so a connection closed while its worker runs is
 * simply marked detached and the worker lets go after its current slice.
 *
 * Budgets. The input queue of a session is bounded (--input-queue-bytes): over it the
 * network thread stops reading that socket (lws_rx_flow_control) until the worker has drained
 * it below half. Workers process a message in slices (0.1 s of PCM, or 32 bytes of Ogg
 * decoding to at most about 0.1 s: a page's packets are decoded across steps) and round robin
 * between their sessions after each turn, so a big message or a flood delays others on that worker
 * by at most a slice. Ogg input has a decoded-samples budget per input byte and every request a
 * duration cap (the stream library enforces both). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

#include "avatarkit/protocol.h"
#include "avatarkit/stream.h"
#include "conn.h"
#include "reasm.h"
#include "server.h"

enum { ST_AWAIT_CONFIG = 0, ST_ACTIVE, ST_CLOSING };

/* Slice sizes: the most input one step of a worker feeds to the pipeline. */
#define SLICE_PCM_SECONDS_DIV 10 /* 0.1 s of PCM */
#define SLICE_OGG_BYTES 32
/* ...and the most audio one step decodes from Ogg (48 kHz samples, 0.1 s like a PCM slice):
 * one page can hold 255 packets of 120 ms each, so bytes alone do not bound a step. */
#define SLICE_OGG_DECODED 4800
/* A worker's turn on one session: at most this long (then the next session's turn). */
#define TURN_US 2000

typedef struct txmsg {
  struct txmsg *next;
  char req_id[64];
  size_t len;
  unsigned char data[]; /* LWS_PRE headroom + payload, packed in place */
} txmsg;

typedef struct rxitem {
  struct rxitem *next;
  ak_message *m; /* parsed message; NULL when parsing failed (parse_rc) */
  int parse_rc;
  size_t bytes;  /* wire size: what it counts against the input queue bound */
  int cancelled; /* an interrupt of its request arrived behind it: skip its media */
  double proc_s; /* processing time so far (the chunk histogram) */
} rxitem;

struct ak_session {
  ak_server *srv;
  ak_task task;
  _Atomic int refs;
  char conn_id[AK_ID_LEN + 1];
  char app_id[AK_MAX_STR];
  char avatar_id[AK_MAX_STR];
  int64_t token_exp;
  /* net */
  ak_session *prev, *next;
  struct lws *wsi; /* NULL once closed */
  ak_reasm rx;
  int rx_paused;
  int expiry_sent;
  char net_last_req[AK_STREAM_MAX_REQ_ID + 1]; /* req_id of the last audio message received */
  int64_t closing_since_us, stall_since_us;
  int killed, close_started;
  /* shared, under mu */
  pthread_mutex_t mu;
  int state;
  int close_code;
  char close_reason[96];
  rxitem *in_head, *in_tail;
  size_t in_bytes;  /* queued input, the message in progress included */
  size_t cur_bytes; /* of which the message in progress: not counted against the bound, so
                       an interrupt behind one big message is still read */
  txmsg *q_head, *q_tail;
  size_t q_bytes;
  int detached;        /* the connection is gone: drop everything */
  int expired;         /* the token expired: close after the message in progress */
  unsigned cancel_seq; /* fast-path interrupts: the req_id and a count */
  char cancel_req[AK_STREAM_MAX_REQ_ID + 1];
  char open_req[AK_STREAM_MAX_REQ_ID + 1]; /* the request open in the pipeline, "" if none */
  int64_t last_audio_us;                   /* last non-empty audio received (idle timer) */
  int parked; /* out of processing credit: the tick schedules it again */
  /* under srv->wake_mu */
  int wake_queued;
  ak_session *wake_next;
  /* worker */
  rxitem *cur;
  size_t cur_off;
  int cur_started;
  unsigned cancel_seen;
  char cur_req[AK_STREAM_MAX_REQ_ID + 1];
  int in_rate, format;
  ak_stream *stream;
  char req_id[AK_STREAM_MAX_REQ_ID + 1];
  int req_open;
  char last_req_id[AK_STREAM_MAX_REQ_ID + 1];
  int last_interrupted;
  double credit_s;     /* audio seconds it may still process now (--max-speed) */
  int64_t credit_t_us; /* when credit_s was last topped up */
  uint64_t samples_counted;
};

static ak_session *from_task(ak_task *t) {
  return (ak_session *)((char *)t - offsetof(ak_session, task));
}

/* ---- references ------------------------------------------------------------------------ */

static void session_ref(ak_session *ss) {
  atomic_fetch_add(&ss->refs, 1);
}

static void free_items(ak_session *ss) {
  while (ss->in_head) {
    rxitem *it = ss->in_head;
    ss->in_head = it->next;
    ak_message_free(it->m);
    free(it);
  }
  ss->in_tail = NULL;
}

static void session_unref(ak_session *ss) {
  if (atomic_fetch_sub(&ss->refs, 1) != 1) return;
  ak_server *s = ss->srv;
  free_items(ss);
  if (ss->cur) {
    ak_message_free(ss->cur->m);
    free(ss->cur);
  }
  s->m.input_queued_bytes -= ss->in_bytes;
  s->m.output_queued_bytes -= ss->q_bytes;
  while (ss->q_head) {
    txmsg *t = ss->q_head;
    ss->q_head = t->next;
    free(t);
  }
  if (s->pool) ak__pool_unassign(s->pool, &ss->task);
  ak_stream_free(ss->stream);
  ak__reasm_free(&ss->rx);
  pthread_mutex_destroy(&ss->mu);
  free(ss);
}

static void task_hold(ak_task *t) {
  session_ref(from_task(t));
}

static void task_release(ak_task *t) {
  session_unref(from_task(t));
}

/* From a worker: ask the network thread to look at the session (write, resume, close). */
static void net_wake(ak_session *ss) {
  ak_server *s = ss->srv;
  int signal = 0;
  pthread_mutex_lock(&s->wake_mu);
  if (!ss->wake_queued) {
    ss->wake_queued = 1;
    session_ref(ss);
    /* one wake-up per batch: a non-empty list already has one on its way */
    signal = s->wake_head == NULL;
    ss->wake_next = s->wake_head;
    s->wake_head = ss;
  }
  pthread_mutex_unlock(&s->wake_mu);
  if (signal) lws_cancel_service(s->ctx);
}

/* ---- output queue ---------------------------------------------------------------------- */

/* Sizes the queued message once the packed length is known: bound check, one allocation
 * with LWS_PRE headroom; the message is packed straight into it. */
typedef struct tx_dest {
  ak_session *ss;
  txmsg *t;
  int force; /* the closing error: not held to the bound (the queue is dropped for it) */
} tx_dest;

static int tx_alloc(void *user, size_t len, uint8_t **buf) {
  tx_dest *d = user;
  pthread_mutex_lock(&d->ss->mu);
  size_t queued = d->ss->q_bytes;
  pthread_mutex_unlock(&d->ss->mu);
  if (!d->force && queued + len > AK_MAX_TX_QUEUE) {
    d->ss->srv->m.slow_client_drops++;
    return AK_ETOOBIG;
  }
  d->t = malloc(sizeof *d->t + LWS_PRE + len);
  if (!d->t) return AK_ENOMEM;
  *buf = d->t->data + LWS_PRE;
  return AK_OK;
}

/* Appends under mu. */
static void tx_append_locked(ak_session *ss, txmsg *t) {
  t->next = NULL;
  if (ss->q_tail)
    ss->q_tail->next = t;
  else
    ss->q_head = t;
  ss->q_tail = t;
  ss->q_bytes += t->len;
  ss->srv->m.output_queued_bytes += t->len;
}

/* Packs m into a new queue entry (outside the lock). */
static int pack_tx(ak_session *ss, const ak_message *m, const char *req_id, int force,
                   txmsg **out) {
  tx_dest d = {ss, NULL, force};
  size_t len = 0;
  int rc = ak_message_pack_to(m, tx_alloc, &d, &len);
  if (rc != AK_OK) {
    free(d.t);
    return rc;
  }
  d.t->len = len;
  snprintf(d.t->req_id, sizeof d.t->req_id, "%s", req_id ? req_id : "");
  *out = d.t;
  return AK_OK;
}

/* Queues m; a closing or closed session takes nothing more (dropped, not an error). */
static int enqueue(ak_session *ss, const ak_message *m, const char *req_id) {
  txmsg *t = NULL;
  int rc = pack_tx(ss, m, req_id, 0, &t);
  if (rc != AK_OK) return rc;
  pthread_mutex_lock(&ss->mu);
  int take = ss->state != ST_CLOSING && !ss->detached;
  if (take) tx_append_locked(ss, t);
  pthread_mutex_unlock(&ss->mu);
  if (!take) free(t);
  return AK_OK;
}

static void drop_queued_locked(ak_session *ss, const char *req_id) {
  txmsg **pp = &ss->q_head, *last = NULL;
  while (*pp) {
    txmsg *t = *pp;
    if (!req_id || strcmp(t->req_id, req_id) == 0) {
      *pp = t->next;
      ss->q_bytes -= t->len;
      ss->srv->m.output_queued_bytes -= t->len;
      free(t);
    } else {
      last = t;
      pp = &t->next;
    }
  }
  ss->q_tail = last;
}

/* Queues SERVER_ERROR (either thread); with close_code != 0 the session is closing: queued
 * output is dropped so the error goes out first, nothing else is queued after it, the worker
 * stops, and the connection closes once the error is written (or the closing timeout). */
static void send_error(ak_session *ss, int code, const char *req_id, int close_code,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void send_error(ak_session *ss, int code, const char *req_id, int close_code,
                       const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ak_message m = {
      .type = AK_MSG_SERVER_ERROR,
      .data = AK_DATA_ERROR,
      .u.error = {.connection_id = ss->conn_id, .req_id = req_id, .code = code, .message = msg}};
  if (!close_code) {
    ak__log(ss->srv, AK_LOG_INFO, ss->conn_id, req_id, "server error %d: %s", code, msg);
    enqueue(ss, &m, req_id);
    return;
  }
  /* Closing: the state change and the error's place in the queue happen under one lock, so
   * the network thread never sees "closing" without the error queued. */
  txmsg *t = NULL;
  pack_tx(ss, &m, req_id, 1, &t);
  pthread_mutex_lock(&ss->mu);
  int first = ss->state != ST_CLOSING && !ss->detached;
  if (first) {
    drop_queued_locked(ss, NULL);
    ss->state = ST_CLOSING;
    ss->close_code = close_code;
    snprintf(ss->close_reason, sizeof ss->close_reason, "%.90s", msg);
    if (t) tx_append_locked(ss, t);
  }
  pthread_mutex_unlock(&ss->mu);
  if (!first) { /* one fatal error per session */
    free(t);
    return;
  }
  ak__log(ss->srv, AK_LOG_WARN, ss->conn_id, req_id, "server error %d: %s", code, msg);
}

/* ---- pipeline failures ----------------------------------------------------------------- */

/* What a client hears when its request's pipeline fails, and how the session ends: the one
 * mapping from a pipeline status (where it failed: ak_stream_failure()'s kind, or the setup
 * of the stream; and the code the call returned) to ServerError.code, message and WebSocket
 * close code. The first matching row wins; status 0 matches any code, FAIL_ANY any kind.
 * Phrases and codes are the ones clients have always seen:
 *   bad Ogg input             -> INVALID_ARGUMENT,   "invalid audio: ...",          1007
 *   Ogg decoding to far more audio than its size (packets of empty frames): the same, 1007
 *   request over --max-request-seconds -> RESOURCE_EXHAUSTED, "request too long: ...",
 *                                the request ends, the session stays (close 0)
 *   emit refused (queue full) -> RESOURCE_EXHAUSTED, "client is not reading: ...",  1008
 *   anything else             -> INTERNAL,           "internal error: <strerror>",  1011
 * AK_ETOOBIG keeps its meaning: from the input it is "too long", from the emit callback (the
 * send queue) "client is not reading", wherever in the pipeline the emit ran. */
enum { FAIL_SETUP = -1, FAIL_ANY = -2 };
enum { DETAIL_NONE = 0, DETAIL_STRERROR, DETAIL_QUEUE, DETAIL_BUDGET, DETAIL_DURATION };
static const struct pipeline_error {
  int kind;   /* ak_stream_failure_kind, FAIL_SETUP or FAIL_ANY */
  int status; /* ak_err, 0 = any */
  int grpc;   /* ServerError.code */
  int close;  /* ak_close_code, 0 = the session stays open */
  const char *phrase;
  int detail; /* what follows the phrase */
} k_pipeline_errors[] = {
    {AK_STREAM_FAIL_INPUT, AK_EFORMAT, AK_GRPC_INVALID_ARGUMENT, AK_CLOSE_INVALID_PAYLOAD,
     "invalid audio: Ogg Opus stream not recognized (need Ogg with an Opus mono/stereo stream)",
     DETAIL_NONE},
    {AK_STREAM_FAIL_INPUT, AK_ETOOBIG, AK_GRPC_INVALID_ARGUMENT, AK_CLOSE_INVALID_PAYLOAD,
     "invalid audio: Ogg Opus stream too long", DETAIL_NONE},
    {AK_STREAM_FAIL_INPUT, 0, AK_GRPC_INVALID_ARGUMENT, AK_CLOSE_INVALID_PAYLOAD,
     "invalid audio: Ogg Opus stream corrupt", DETAIL_NONE},
    {AK_STREAM_FAIL_BUDGET, 0, AK_GRPC_INVALID_ARGUMENT, AK_CLOSE_INVALID_PAYLOAD,
     "invalid audio: Ogg Opus stream decodes to more audio than its size allows (over ",
     DETAIL_BUDGET},
    {AK_STREAM_FAIL_DURATION, 0, AK_GRPC_RESOURCE_EXHAUSTED, 0,
     "request too long: over the server's limit of ", DETAIL_DURATION},
    {AK_STREAM_FAIL_EMIT, AK_ETOOBIG, AK_GRPC_RESOURCE_EXHAUSTED, AK_CLOSE_POLICY,
     "client is not reading: output queue over ", DETAIL_QUEUE},
    {FAIL_SETUP, 0, AK_GRPC_INTERNAL, AK_CLOSE_INTERNAL,
     "internal error: pipeline setup failed: ", DETAIL_STRERROR},
    {FAIL_ANY, 0, AK_GRPC_INTERNAL, AK_CLOSE_INTERNAL, "internal error: ", DETAIL_STRERROR},
};

/* Sends the error for a pipeline failure (rc < 0) and closes the session (or, for a row
 * with no close code, ends the request). */
static void pipeline_failed(ak_session *ss, int kind, int rc, const char *req_id) {
  const struct pipeline_error *e = k_pipeline_errors;
  while (!(e->kind == FAIL_ANY || (e->kind == kind && (e->status == 0 || e->status == rc)))) e++;
  if (e->detail == DETAIL_QUEUE)
    send_error(ss, e->grpc, req_id, e->close, "%s%u bytes", e->phrase, AK_MAX_TX_QUEUE);
  else if (e->detail == DETAIL_STRERROR)
    send_error(ss, e->grpc, req_id, e->close, "%s%s", e->phrase, ak_strerror(rc));
  else if (e->detail == DETAIL_BUDGET)
    send_error(ss, e->grpc, req_id, e->close, "%s%u samples per byte)", e->phrase,
               AK_STREAM_DEFAULT_MAX_DECODED_PER_BYTE);
  else if (e->detail == DETAIL_DURATION)
    send_error(ss, e->grpc, req_id, e->close, "%s%d seconds of audio", e->phrase,
               ss->srv->cfg.max_request_s);
  else
    send_error(ss, e->grpc, req_id, e->close, "%s", e->phrase);
  if (kind == AK_STREAM_FAIL_BUDGET) ss->srv->m.audio_budget_errors++;
  if (kind == AK_STREAM_FAIL_DURATION) ss->srv->m.request_too_long++;
}

/* ---- requests (worker) ----------------------------------------------------------------- */

/* The stream's emit callback: each message goes into the send queue as it is made. */
static int on_emit(void *user, const ak_stream_output *out) {
  ak_session *ss = user;
  int rc = enqueue(ss, out->message, ss->req_id);
  if (rc != AK_OK) return rc;
  const ak_animation *a = &out->message->u.animation;
  ss->srv->m.frames_total += out->n_frames;
  if (a->has_audio) ss->srv->m.packets_total += a->audio.n_packets;
  return AK_OK;
}

/* Adds the 16 kHz samples the stream consumed since the last call to the metrics. */
static void count_samples(ak_session *ss) {
  ak_stream_counters c;
  ak_stream_get_counters(ss->stream, &c);
  ss->srv->m.audio_samples_16k += c.samples_16k - ss->samples_counted;
  ss->samples_counted = c.samples_16k;
}

static void set_open(ak_session *ss, const char *req_id) {
  pthread_mutex_lock(&ss->mu);
  snprintf(ss->open_req, sizeof ss->open_req, "%s", req_id ? req_id : "");
  pthread_mutex_unlock(&ss->mu);
}

static int start_request(ak_session *ss, const char *req_id) {
  int rc = ak_stream_begin(ss->stream, req_id);
  if (rc != AK_OK) return rc;
  snprintf(ss->req_id, sizeof ss->req_id, "%s", req_id);
  snprintf(ss->last_req_id, sizeof ss->last_req_id, "%s", req_id);
  ss->last_interrupted = 0;
  ss->req_open = 1;
  ss->samples_counted = 0;
  set_open(ss, req_id);
  ss->srv->m.requests_total++;
  ak__log(ss->srv, AK_LOG_DEBUG, ss->conn_id, req_id, "request started");
  return AK_OK;
}

/* Ends the open request with its last bytes (may be none). AK_STREAM_MORE: Ogg input is left
 * after this step's share of decoding; the request stays open, call again with none. */
static int finish_request(ak_session *ss, const uint8_t *audio, size_t len) {
  int rc = ak_stream_finish(ss->stream, audio, len);
  count_samples(ss);
  if (rc == AK_STREAM_MORE) return rc;
  ak_stream_counters c;
  ak_stream_get_counters(ss->stream, &c);
  ak__log(ss->srv, AK_LOG_DEBUG, ss->conn_id, ss->req_id,
          "request done: %.3f s audio, %u frames, %llu packets", (double)c.samples_16k / 16000.0,
          c.frames_sent, (unsigned long long)c.packets_sent);
  ss->req_open = 0;
  set_open(ss, NULL);
  return rc;
}

/* A failed push/finish: the error row, and the request is over either way. */
static void request_failed(ak_session *ss, int rc, const char *req_id) {
  int kind = (int)ak_stream_failure(ss->stream);
  pipeline_failed(ss, kind, rc, req_id);
  ak_stream_abort(ss->stream);
  if (ss->req_open) {
    ss->req_open = 0;
    set_open(ss, NULL);
  }
  /* the rest of a request that ended in error is dropped, as after an interrupt */
  ss->last_interrupted = 1;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF): req_ids are echoed
 * into proto3 strings, which other clients refuse to parse otherwise. */
static int utf8_valid(const char *p) {
  const unsigned char *s = (const unsigned char *)p;
  while (*s) {
    unsigned c = *s;
    int n;
    unsigned min;
    if (c < 0x80) {
      s++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      min = 0x80;
      c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      min = 0x800;
      c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      min = 0x10000;
      c &= 0x07;
    } else {
      return 0;
    }
    s++;
    for (int i = 0; i < n; i++, s++) {
      if ((*s & 0xc0) != 0x80) return 0;
      c = (c << 6) | (*s & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
  }
  return 1;
}

/* A req_id the session cannot use: a fatal error naming the problem (never echoing it). */
static int bad_req_id(ak_session *ss, const char *req_id) {
  if (strlen(req_id) > AK_STREAM_MAX_REQ_ID) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_POLICY,
               "invalid req_id: longer than %d bytes", AK_STREAM_MAX_REQ_ID);
    return 1;
  }
  if (!utf8_valid(req_id)) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_POLICY,
               "invalid req_id: not valid UTF-8");
    return 1;
  }
  return 0;
}

/* Bytes of input one step feeds: 0.1 s of PCM, or 32 bytes of Ogg. */
static size_t slice_bytes(const ak_session *ss) {
  if (ss->format == AK_FORMAT_OGG_OPUS) return SLICE_OGG_BYTES;
  size_t n = (size_t)ss->in_rate * 2 / SLICE_PCM_SECONDS_DIV;
  return n & ~(size_t)1;
}

/* One step of an audio message: the request bookkeeping first, then one slice of its audio.
 * Returns 1 when the message is done. */
static int audio_step(ak_session *ss, rxitem *it) {
  const ak_audio_input *in = &it->m->u.audio_input;
  if (!ss->cur_started) {
    ss->cur_started = 1;
    const char *req_id = in->req_id;
    char gen[AK_ID_LEN + 1];
    if (!req_id[0]) { /* lenient: a client that sends no id continues or opens a request */
      if (ss->req_open)
        req_id = ss->req_id;
      else if (ak_id_new(gen, sizeof gen, 0) == AK_OK)
        req_id = gen;
    }
    if (bad_req_id(ss, req_id)) return 1;
    snprintf(ss->cur_req, sizeof ss->cur_req, "%s", req_id);
    /* Audio of an interrupted (or failed) request is dropped until its end. */
    if (!ss->req_open && ss->last_interrupted && strcmp(req_id, ss->last_req_id) == 0) return 1;
    int rc = AK_OK;
    if (ss->req_open && strcmp(req_id, ss->req_id) != 0) {
      char prev[sizeof ss->req_id];
      snprintf(prev, sizeof prev, "%s", ss->req_id);
      /* implicit end (the previous message left no decoding pending: see below) */
      while ((rc = finish_request(ss, NULL, 0)) == AK_STREAM_MORE) {
      }
      if (rc != AK_OK) {
        request_failed(ss, rc, prev);
        return 1;
      }
    }
    if (!ss->req_open && (rc = start_request(ss, req_id)) != AK_OK) {
      pipeline_failed(ss, FAIL_ANY, rc, req_id);
      return 1;
    }
  }
  if (it->cancelled) return 1; /* the interrupt behind it ends the request */
  size_t left = in->audio_len - ss->cur_off;
  size_t n = 0; /* while Ogg decoding is pending (a page of many packets), go on with that */
  if (!ak_stream_pending(ss->stream)) {
    n = slice_bytes(ss);
    if (n == 0 || n > left) n = left;
  }
  int last = n == left;
  const uint8_t *p = n ? in->audio + ss->cur_off : NULL;
  ak_stream_counters before, after;
  ak_stream_get_counters(ss->stream, &before);
  int rc;
  if (last && in->end) {
    rc = finish_request(ss, p, n);
  } else {
    rc = ak_stream_push(ss->stream, p, n);
    count_samples(ss);
  }
  ak_stream_get_counters(ss->stream, &after);
  ss->credit_s -= (double)(after.samples_16k - before.samples_16k) / AK_STREAM_OUTPUT_RATE;
  ss->cur_off += n;
  if (rc == AK_STREAM_MORE) return 0;
  if (rc != AK_OK) {
    request_failed(ss, rc, ss->cur_req);
    return 1;
  }
  /* A message is done when its bytes are in and decoded: nothing pending carries over. */
  return last && !ak_stream_pending(ss->stream);
}

static void handle_interrupt(ak_session *ss, const char *req_id) {
  if (bad_req_id(ss, req_id)) return;
  if (!req_id[0] && ss->req_open) req_id = ss->req_id;
  if (!req_id[0] || strcmp(req_id, ss->last_req_id) != 0) {
    ak__log(ss->srv, AK_LOG_DEBUG, ss->conn_id, NULL, "interrupt for unknown request ignored");
    return;
  }
  pthread_mutex_lock(&ss->mu);
  drop_queued_locked(ss, req_id);
  pthread_mutex_unlock(&ss->mu);
  ak_stream_abort(ss->stream);
  if (ss->req_open) {
    ss->req_open = 0;
    set_open(ss, NULL);
  }
  /* One INFO line and one count per request: repeats of the same interrupt (clients may send
   * it many times) are DEBUG. */
  if (!ss->last_interrupted) {
    ss->srv->m.requests_interrupted++;
    ak__log(ss->srv, AK_LOG_INFO, ss->conn_id, req_id, "request interrupted");
  } else {
    ak__log(ss->srv, AK_LOG_DEBUG, ss->conn_id, req_id, "repeated interrupt");
  }
  ss->last_interrupted = 1;
}

/* ---- handshake (worker) ---------------------------------------------------------------- */

static const char *egress_problem(const ak_configure *c) {
  if (c->egress_type == AK_EGRESS_UNSPECIFIED)
    return (c->has_livekit || c->has_agora) ? "egress config given without egress_type" : NULL;
  if (c->egress_type == AK_EGRESS_LIVEKIT) {
    if (c->has_agora) return "agora_egress given with egress_type LIVEKIT";
    if (!c->has_livekit) return "egress_type LIVEKIT needs livekit_egress";
    const ak_livekit_egress *l = &c->livekit;
    if (!l->url[0] || !l->room_name[0]) return "livekit_egress needs url and room_name";
    if (!l->api_token[0] && !(l->api_key[0] && l->api_secret[0]))
      return "livekit_egress needs api_token (or api_key and api_secret)";
    return NULL;
  }
  if (c->egress_type == AK_EGRESS_AGORA) {
    if (c->has_livekit) return "livekit_egress given with egress_type AGORA";
    if (!c->has_agora) return "egress_type AGORA needs agora_egress";
    if (!c->agora.channel_name[0]) return "agora_egress needs channel_name";
    return NULL;
  }
  return "unknown egress_type";
}

static int setup_pipeline(ak_session *ss, int opus_bitrate) {
  ak_server *s = ss->srv;
  ak_stream_config sc;
  ak_stream_config_default(&sc);
  sc.format = ss->format;
  sc.sample_rate = ss->in_rate;
  sc.fps = s->cfg.fps;
  sc.lookahead_ms = s->cfg.lookahead_ms;
  sc.expressiveness = s->cfg.expressiveness;
  uint64_t seed = 1469598103934665603ull; /* FNV-1a of the connection id: varied, replayable */
  for (const char *p = ss->conn_id; *p; p++) seed = (seed ^ (uint8_t)*p) * 1099511628211ull;
  sc.seed = seed;
  sc.opus_bitrate = opus_bitrate;
  sc.opus_complexity = s->cfg.opus_complexity;
  sc.max_request_samples = (uint64_t)s->cfg.max_request_s * AK_STREAM_OUTPUT_RATE;
  sc.max_decoded_per_push = SLICE_OGG_DECODED;
  sc.connection_id = ss->conn_id;
  sc.emit = on_emit;
  sc.user = ss;
  return ak_stream_new(&sc, s->model, &ss->stream);
}

static void handle_configure(ak_session *ss, const ak_message *m) {
  const ak_configure *c = &m->u.configure;
  if (!ak_sample_rate_valid(c->sample_rate)) {
    send_error(ss, AK_GRPC_UNIMPLEMENTED, NULL, AK_CLOSE_POLICY,
               "unsupported sample rate: %d (accepted: 8000, 16000, 22050, 24000, 32000, "
               "44100, 48000)",
               c->sample_rate);
    return;
  }
  if (c->audio_format != AK_FORMAT_PCM_S16LE && c->audio_format != AK_FORMAT_OGG_OPUS) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_POLICY, "unsupported audio format: %d",
               c->audio_format);
    return;
  }
  if (c->transport_compression != 0) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_POLICY,
               "unsupported transport compression: %d", c->transport_compression);
    return;
  }
  const char *eg = egress_problem(c);
  if (eg) {
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_POLICY, "invalid egress config: %s",
               eg);
    return;
  }
  if (c->egress_type != AK_EGRESS_UNSPECIFIED) {
    send_error(ss, AK_GRPC_UNAVAILABLE, NULL, AK_CLOSE_INTERNAL,
               "egress client is not configured on server (%s egress requested)",
               c->egress_type == AK_EGRESS_LIVEKIT ? "LiveKit" : "Agora");
    return;
  }
  ss->in_rate = c->sample_rate;
  ss->format = c->audio_format;
  int opus_bitrate = ss->srv->cfg.opus_bitrate;
  if (c->bitrate >= 6000 && c->bitrate <= 128000) opus_bitrate = c->bitrate;
  int rc = setup_pipeline(ss, opus_bitrate);
  if (rc != AK_OK) {
    pipeline_failed(ss, FAIL_SETUP, rc, NULL);
    return;
  }
  pthread_mutex_lock(&ss->mu);
  if (ss->state == ST_AWAIT_CONFIG) ss->state = ST_ACTIVE;
  pthread_mutex_unlock(&ss->mu);
  ak_message r = {.type = AK_MSG_SERVER_CONFIRM_SESSION,
                  .data = AK_DATA_CONFIRM,
                  .u.confirm_connection_id = ss->conn_id};
  enqueue(ss, &r, NULL);
  ak__log(ss->srv, AK_LOG_INFO, ss->conn_id, NULL,
          "session configured: app %s avatar %s rate %d format %s", ss->app_id, ss->avatar_id,
          ss->in_rate, ss->format ? "ogg_opus" : "pcm_s16le");
}

/* One step of the message in progress; 1 when it is done. */
static int message_step(ak_session *ss, rxitem *it, int state) {
  if (!it->m) {
    ss->srv->m.protocol_errors++;
    if (state == ST_AWAIT_CONFIG)
      send_error(ss, AK_GRPC_FAILED_PRECONDITION, NULL, AK_CLOSE_PROTOCOL,
                 "failed to unmarshal initial message: %s", ak_strerror(it->parse_rc));
    else
      send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_PROTOCOL,
                 "failed to unmarshal message: %s", ak_strerror(it->parse_rc));
    return 1;
  }
  const ak_message *m = it->m;
  if (state == ST_AWAIT_CONFIG) {
    if (m->data != AK_DATA_CONFIGURE ||
        (m->type != AK_MSG_CLIENT_CONFIGURE_SESSION && m->type != AK_MSG_UNSPECIFIED)) {
      ss->srv->m.protocol_errors++;
      send_error(ss, AK_GRPC_FAILED_PRECONDITION, NULL, AK_CLOSE_PROTOCOL,
                 "expected ClientConfigureSession message, got type %d", (int)m->type);
    } else {
      handle_configure(ss, m);
    }
    return 1;
  }
  if (m->data == AK_DATA_AUDIO_INPUT &&
      (m->type == AK_MSG_CLIENT_AUDIO_INPUT || m->type == AK_MSG_UNSPECIFIED))
    return audio_step(ss, it);
  if (m->data == AK_DATA_INTERRUPT &&
      (m->type == AK_MSG_CLIENT_INTERRUPT || m->type == AK_MSG_UNSPECIFIED)) {
    handle_interrupt(ss, m->u.interrupt_req_id);
    return 1;
  }
  ss->srv->m.protocol_errors++;
  send_error(ss, AK_GRPC_FAILED_PRECONDITION, NULL, AK_CLOSE_PROTOCOL,
             "unexpected message type: %d", (int)m->type);
  return 1;
}

/* Done with the message in progress: its bytes leave the input queue. */
static void item_done(ak_session *ss) {
  rxitem *it = ss->cur;
  ak__metrics_observe(&ss->srv->m, it->proc_s);
  pthread_mutex_lock(&ss->mu);
  ss->cur = NULL;
  ss->cur_bytes = 0;
  ss->in_bytes -= it->bytes;
  ss->srv->m.input_queued_bytes -= it->bytes;
  pthread_mutex_unlock(&ss->mu);
  ak_message_free(it->m);
  free(it);
}

/* The worker's turn on one session (worker.c calls it): steps of its queued messages until
 * the turn's time is up. Returns 1 when work is left. */
static int session_run(ak_task *t) {
  ak_session *ss = from_task(t);
  ak_server *s = ss->srv;
  int64_t t0 = ak__now_us();
  int more = 0, steps = 0;
  for (;;) {
    pthread_mutex_lock(&ss->mu);
    int state = ss->state, detached = ss->detached, expired = ss->expired;
    if (detached || state == ST_CLOSING) {
      /* closing or gone: the rest of the input is dropped */
      free_items(ss);
      if (ss->cur) {
        ak_message_free(ss->cur->m);
        free(ss->cur);
        ss->cur = NULL;
      }
      s->m.input_queued_bytes -= ss->in_bytes;
      ss->in_bytes = 0;
      ss->cur_bytes = 0;
      ss->open_req[0] = '\0';
      pthread_mutex_unlock(&ss->mu);
      if (ss->stream) ak_stream_abort(ss->stream);
      ss->req_open = 0;
      break;
    }
    if (ss->cancel_seq != ss->cancel_seen) {
      ss->cancel_seen = ss->cancel_seq;
      if (ss->cur && ss->cur_started && ss->cur->m && ss->cur->m->data == AK_DATA_AUDIO_INPUT &&
          strcmp(ss->cur_req, ss->cancel_req) == 0)
        ss->cur->cancelled = 1;
    }
    if (!ss->cur && expired) {
      pthread_mutex_unlock(&ss->mu);
      /* the token expired: close after the message in progress (PROTOCOL.md: 4010) */
      s->m.token_expiry_closes++;
      send_error(ss, AK_GRPC_PERMISSION_DENIED, ss->req_open ? ss->req_id : NULL,
                 AK_CLOSE_TOKEN_EXPIRED, "session token expired");
      steps++;
      continue;
    }
    if ((ss->cur || ss->in_head) && s->cfg.max_speed > 0) {
      /* processing credit: at most max_speed seconds of audio per second, after a burst */
      int64_t now = ak__now_us();
      double burst = (double)s->cfg.max_speed_burst_s;
      ss->credit_s += (double)(now - ss->credit_t_us) / 1e6 * s->cfg.max_speed;
      if (ss->credit_s > burst) ss->credit_s = burst;
      ss->credit_t_us = now;
      if (ss->credit_s <= 0) {
        ss->parked = 1;
        pthread_mutex_unlock(&ss->mu);
        s->m.throttled++;
        break;
      }
    }
    if (!ss->cur && ss->in_head) {
      ss->cur = ss->in_head;
      ss->cur_bytes = ss->cur->bytes;
      ss->in_head = ss->cur->next;
      if (!ss->in_head) ss->in_tail = NULL;
      ss->cur->next = NULL;
      ss->cur_off = 0;
      ss->cur_started = 0;
    }
    rxitem *it = ss->cur;
    pthread_mutex_unlock(&ss->mu);
    if (!it) break;
    steps++;
    int64_t a = ak__now_us();
    int done = message_step(ss, it, state);
    int64_t b = ak__now_us();
    it->proc_s += (double)(b - a) / 1e6;
    if (done) item_done(ss);
    if (b - t0 >= TURN_US) {
      more = 1;
      break;
    }
    if (ak__pool_fresh_waiting(s->pool, t)) { /* another session's new input: its turn now */
      pthread_mutex_lock(&ss->mu);
      more = ss->cur || ss->in_head;
      pthread_mutex_unlock(&ss->mu);
      break;
    }
  }
  /* output queued, input room freed or closing: the network thread acts on it */
  if (steps) net_wake(ss);
  return more;
}

/* ---- session lifecycle (network thread) ------------------------------------------------ */

static ak_session *session_new(ak_server *s, struct lws *wsi) {
  ak_session *ss = calloc(1, sizeof *ss);
  if (!ss) return NULL;
  ss->srv = s;
  ss->wsi = wsi;
  ak__auth_verdict v;
  /* The upgrade was authorized (and the token consumed) in CONFIRM_UPGRADE; read it again. */
  ak__auth_upgrade(s, wsi, 0, &v);
  if (v.status != 0 || ak_id_new(ss->conn_id, sizeof ss->conn_id, 0) != AK_OK) {
    free(ss);
    return NULL;
  }
  pthread_mutex_init(&ss->mu, NULL);
  atomic_init(&ss->refs, 1); /* the network thread's, until CLOSED */
  ak__pool_assign(s->pool, &ss->task);
  snprintf(ss->app_id, sizeof ss->app_id, "%s", v.app_id);
  snprintf(ss->avatar_id, sizeof ss->avatar_id, "%s", v.avatar_id);
  ss->token_exp = v.token_exp;
  ss->last_audio_us = ak__now_us();
  ss->credit_s = (double)s->cfg.max_speed_burst_s;
  ss->credit_t_us = ss->last_audio_us;
  ss->next = s->sessions;
  if (s->sessions) s->sessions->prev = ss;
  s->sessions = ss;
  s->n_sessions++;
  s->m.sessions_total++;
  return ss;
}

static void session_closed(ak_session *ss) {
  ak_server *s = ss->srv;
  if (ss->prev)
    ss->prev->next = ss->next;
  else
    s->sessions = ss->next;
  if (ss->next) ss->next->prev = ss->prev;
  s->n_sessions--;
  ss->wsi = NULL;
  pthread_mutex_lock(&ss->mu);
  ss->detached = 1;
  drop_queued_locked(ss, NULL);
  int work = ss->cur || ss->in_head;
  pthread_mutex_unlock(&ss->mu);
  if (work && s->pool) ak__pool_schedule(s->pool, &ss->task); /* the worker drops it */
  session_unref(ss);
}

/* Hands a complete message to the session's worker. */
static void deliver(ak_session *ss, struct lws *wsi, const uint8_t *buf, size_t len) {
  ak_server *s = ss->srv;
  rxitem *it = calloc(1, sizeof *it);
  if (!it) {
    send_error(ss, AK_GRPC_INTERNAL, NULL, AK_CLOSE_INTERNAL, "internal error: %s",
               ak_strerror(AK_ENOMEM));
    return;
  }
  it->bytes = len;
  it->parse_rc = ak_message_parse(buf, len, &it->m);
  if (it->parse_rc != AK_OK) it->m = NULL;
  const ak_message *m = it->m;
  const char *fast_req = NULL; /* an interrupt of the latest request: cancel its queued audio */
  if (m && m->data == AK_DATA_AUDIO_INPUT) {
    if (m->u.audio_input.req_id[0] && strlen(m->u.audio_input.req_id) < sizeof ss->net_last_req)
      snprintf(ss->net_last_req, sizeof ss->net_last_req, "%s", m->u.audio_input.req_id);
  } else if (m && m->data == AK_DATA_INTERRUPT && m->u.interrupt_req_id[0] &&
             strcmp(m->u.interrupt_req_id, ss->net_last_req) == 0) {
    fast_req = m->u.interrupt_req_id;
  }
  int64_t now = ak__now_us();
  pthread_mutex_lock(&ss->mu);
  if (m && m->data == AK_DATA_AUDIO_INPUT && m->u.audio_input.audio_len > 0)
    ss->last_audio_us = now; /* the idle timer: real audio only */
  if (fast_req) {
    for (rxitem *q = ss->in_head; q; q = q->next)
      if (q->m && q->m->data == AK_DATA_AUDIO_INPUT &&
          !strcmp(q->m->u.audio_input.req_id, fast_req))
        q->cancelled = 1;
    snprintf(ss->cancel_req, sizeof ss->cancel_req, "%s", fast_req);
    ss->cancel_seq++;
    drop_queued_locked(ss, fast_req);
  }
  if (ss->in_tail)
    ss->in_tail->next = it;
  else
    ss->in_head = it;
  ss->in_tail = it;
  ss->in_bytes += len;
  size_t held = ss->in_bytes, waiting = ss->in_bytes - ss->cur_bytes;
  pthread_mutex_unlock(&ss->mu);
  s->m.input_queued_bytes += len;
  uint64_t peak = s->m.input_queue_peak_bytes;
  while (held > peak && !atomic_compare_exchange_weak(&s->m.input_queue_peak_bytes, &peak, held)) {
  }
  ak__pool_schedule(s->pool, &ss->task);
  if (waiting > s->cfg.input_queue_bytes && !ss->rx_paused) {
    /* back-pressure: read no more from this client until its worker caught up */
    ss->rx_paused = 1;
    s->m.rx_pauses++;
    lws_rx_flow_control(wsi, 0);
  }
}

static int on_receive(ak_session *ss, struct lws *wsi, const void *in, size_t len) {
  ak_server *s = ss->srv;
  s->m.bytes_in += len;
  pthread_mutex_lock(&ss->mu);
  int closing = ss->state == ST_CLOSING;
  pthread_mutex_unlock(&ss->mu);
  if (closing) return 0;
  if (!lws_frame_is_binary(wsi)) {
    s->m.protocol_errors++;
    send_error(ss, AK_GRPC_FAILED_PRECONDITION, NULL, AK_CLOSE_UNSUPPORTED_DATA,
               "unexpected message type: text frame (messages are binary protobuf)");
    lws_callback_on_writable(wsi);
    return 0;
  }
  int r = ak__reasm_add(&ss->rx, in, len,
                        lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi),
                        s->cfg.max_message_bytes);
  if (r == AK_REASM_TOO_BIG) {
    s->m.protocol_errors++;
    send_error(ss, AK_GRPC_INVALID_ARGUMENT, NULL, AK_CLOSE_TOO_BIG,
               "message too large: over %zu bytes", s->cfg.max_message_bytes);
    lws_callback_on_writable(wsi);
    return 0;
  }
  if (r == AK_REASM_NOMEM) return -1;
  if (r == AK_REASM_MESSAGE) {
    deliver(ss, wsi, ss->rx.buf, ss->rx.len);
    ak__reasm_next(&ss->rx); /* a huge message's buffer is given back: the parse copied it */
  }
  return 0;
}

static int on_writeable(ak_session *ss, struct lws *wsi) {
  if (ss->close_started) return 0;
  pthread_mutex_lock(&ss->mu);
  txmsg *t = ss->q_head;
  if (t) {
    ss->q_head = t->next;
    if (!ss->q_head) ss->q_tail = NULL;
    ss->q_bytes -= t->len;
    ss->srv->m.output_queued_bytes -= t->len;
  }
  int more = ss->q_head != NULL, closing = ss->state == ST_CLOSING;
  int code = ss->close_code;
  char reason[sizeof ss->close_reason];
  memcpy(reason, ss->close_reason, sizeof reason);
  pthread_mutex_unlock(&ss->mu);
  if (t) {
    int n = lws_write(wsi, t->data + LWS_PRE, t->len, LWS_WRITE_BINARY);
    ss->srv->m.bytes_out += t->len;
    free(t);
    if (n < 0) return -1;
    ss->stall_since_us = more ? ak__now_us() : 0;
    if (more || closing) lws_callback_on_writable(wsi);
    return 0;
  }
  if (closing) {
    lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    /* lws now sends the close frame and waits for the client's (reading meanwhile);
     * asking for more here would cut that short */
    ss->close_started = 1;
    return -1;
  }
  return 0;
}

int ak__ingress_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len) {
  ak_conn *c = user;
  switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
      ak_server *s = ak__server_from_wsi(wsi);
      c->session = session_new(s, wsi);
      if (!c->session) return -1;
      ak__log(s, AK_LOG_INFO, c->session->conn_id, NULL, "session opened: app %s avatar %s",
              c->session->app_id, c->session->avatar_id);
      return 0;
    }
    case LWS_CALLBACK_RECEIVE:
      return c->session ? on_receive(c->session, wsi, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return c->session ? on_writeable(c->session, wsi) : 0;
    case LWS_CALLBACK_CLOSED:
      if (c->session) {
        ak_session *ss = c->session;
        pthread_mutex_lock(&ss->mu);
        char open[sizeof ss->open_req];
        memcpy(open, ss->open_req, sizeof open);
        pthread_mutex_unlock(&ss->mu);
        ak__log(ss->srv, AK_LOG_INFO, ss->conn_id, open[0] ? open : NULL, "session closed%s",
                open[0] ? " with a request in flight" : "");
        session_closed(ss);
        c->session = NULL;
      }
      return 0;
    default:
      return 0;
  }
}

/* What the network thread does for a session after a worker woke it, and on each tick. */
static void net_service(ak_session *ss, int64_t now_us) {
  ak_server *s = ss->srv;
  if (!ss->wsi || ss->killed || ss->close_started) return;
  pthread_mutex_lock(&ss->mu);
  if (s->draining && ss->state != ST_CLOSING && !ss->open_req[0] && !ss->in_bytes) {
    /* Draining: each session goes (1001, its output flushed first) as soon as it has no
     * request open, so that a client sending requests back to back is not held until
     * --drain-timeout and then cut mid-request. */
    ss->state = ST_CLOSING;
    ss->close_code = AK_CLOSE_GOING_AWAY;
    snprintf(ss->close_reason, sizeof ss->close_reason, "%s", "server shutting down");
  }
  int closing = ss->state == ST_CLOSING, has_tx = ss->q_head != NULL;
  size_t waiting = ss->in_bytes - ss->cur_bytes;
  pthread_mutex_unlock(&ss->mu);
  if (has_tx || closing) lws_callback_on_writable(ss->wsi);
  /* Resume once the worker drained half the bound; and when closing, to discard what the
   * client still sends: a socket closed with unread input is reset, and the reset would
   * destroy the error and close frame still on their way to the client. */
  if (ss->rx_paused && (closing || waiting <= s->cfg.input_queue_bytes / 2)) {
    ss->rx_paused = 0;
    lws_rx_flow_control(ss->wsi, 1);
  }
  if (closing && !ss->closing_since_us) ss->closing_since_us = now_us;
  if (has_tx && !ss->stall_since_us) ss->stall_since_us = now_us;
  if (!has_tx) ss->stall_since_us = 0;
}

void ak__ingress_wake(ak_server *s) {
  pthread_mutex_lock(&s->wake_mu);
  ak_session *list = s->wake_head;
  s->wake_head = NULL;
  for (ak_session *ss = list; ss; ss = ss->wake_next) ss->wake_queued = 0;
  pthread_mutex_unlock(&s->wake_mu);
  int64_t now = ak__now_us();
  while (list) {
    ak_session *ss = list;
    list = ss->wake_next;
    net_service(ss, now);
    session_unref(ss);
  }
}

/* Cuts a connection that will not finish by itself (lws closes it from its own loop). */
static void kill_session(ak_session *ss, const char *why) {
  ak__log(ss->srv, AK_LOG_WARN, ss->conn_id, NULL, "dropping connection: %s", why);
  ss->killed = 1;
  lws_set_timeout(ss->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void ak__ingress_tick(ak_server *s, int64_t now_us) {
  int64_t now = (int64_t)time(NULL);
  for (ak_session *ss = s->sessions; ss; ss = ss->next) {
    if (ss->killed) continue;
    net_service(ss, now_us);
    pthread_mutex_lock(&ss->mu);
    int closing = ss->state == ST_CLOSING;
    int queued = ss->in_bytes > 0; /* audio received, not yet through the worker */
    int parked = ss->parked;
    ss->parked = 0;
    int64_t last_audio = ss->last_audio_us;
    char open[sizeof ss->open_req];
    memcpy(open, ss->open_req, sizeof open);
    pthread_mutex_unlock(&ss->mu);
    if (parked) ak__pool_schedule(s->pool, &ss->task); /* its credit has grown */
    /* Slots are bounded in every state: output nobody takes, and a close nobody completes. */
    if (ss->stall_since_us &&
        now_us - ss->stall_since_us > (int64_t)s->cfg.write_timeout_s * 1000000) {
      s->m.write_timeouts++;
      kill_session(ss, "write timeout (the client takes no output)");
      continue;
    }
    if (closing) {
      if (now_us - ss->closing_since_us > (int64_t)s->cfg.closing_timeout_s * 1000000) {
        s->m.closing_timeouts++;
        kill_session(ss, "closing timeout (the close did not complete)");
      }
      continue;
    }
    if (ss->token_exp <= now && !ss->expiry_sent) {
      /* the worker closes it with 4010 after the message in progress */
      ss->expiry_sent = 1;
      pthread_mutex_lock(&ss->mu);
      ss->expired = 1;
      pthread_mutex_unlock(&ss->mu);
      ak__pool_schedule(s->pool, &ss->task);
      continue;
    }
    /* Not while draining: an idle session gets the drain's 1001 (reconnect), not this. */
    if (s->cfg.idle_timeout_s > 0 && !s->draining && !queued &&
        now_us - last_audio > (int64_t)s->cfg.idle_timeout_s * 1000000) {
      s->m.idle_timeouts++;
      send_error(ss, AK_GRPC_DEADLINE_EXCEEDED, open[0] ? open : NULL, AK_CLOSE_NORMAL,
                 "no audio input for %d seconds, closing session", s->cfg.idle_timeout_s);
      net_service(ss, now_us);
    }
  }
}

int ak__ingress_busy(const ak_server *s) {
  int n = 0;
  for (ak_session *ss = s->sessions; ss; ss = ss->next) {
    pthread_mutex_lock(&ss->mu);
    n += ss->open_req[0] || ss->in_bytes || ss->q_head;
    pthread_mutex_unlock(&ss->mu);
  }
  return n;
}

void ak__ingress_close_all(ak_server *s, int code, const char *reason) {
  int64_t now = ak__now_us();
  for (ak_session *ss = s->sessions; ss; ss = ss->next) {
    pthread_mutex_lock(&ss->mu);
    if (ss->state != ST_CLOSING) {
      ss->state = ST_CLOSING;
      ss->close_code = code;
      snprintf(ss->close_reason, sizeof ss->close_reason, "%s", reason);
    }
    pthread_mutex_unlock(&ss->mu);
    net_service(ss, now);
  }
}

int ak__ingress_start(ak_server *s) {
  pthread_mutex_init(&s->wake_mu, NULL);
  int n = s->cfg.workers > 0 ? s->cfg.workers : ak__pool_default_size();
  if (ak__pool_new(n, session_run, task_hold, task_release, &s->pool) != 0) {
    pthread_mutex_destroy(&s->wake_mu);
    return -1;
  }
  return 0;
}

void ak__ingress_stop(ak_server *s) {
  if (!s->pool) return;
  ak__pool_free(s->pool); /* no worker runs after this */
  ak__ingress_wake(s);    /* drop the wake list's references */
  /* Sessions still open are freed by their CLOSED callbacks during lws_context_destroy;
   * with the pool gone, unassign must not touch it. */
  s->pool = NULL;
}

int ak__ingress_metrics_render(const ak_server *s, char *buf, size_t cap) {
  const ak_metrics *m = &s->m;
  int n = snprintf(
      buf, cap,
      "# HELP avatarkit_media_workers Media worker threads.\n"
      "# TYPE avatarkit_media_workers gauge\navatarkit_media_workers %d\n"
      "# HELP avatarkit_input_queued_bytes Received audio waiting for the media workers, all "
      "sessions.\n# TYPE avatarkit_input_queued_bytes gauge\navatarkit_input_queued_bytes %llu\n"
      "# HELP avatarkit_input_queue_peak_bytes Most received input one session has held "
      "queued.\n# TYPE avatarkit_input_queue_peak_bytes gauge\n"
      "avatarkit_input_queue_peak_bytes %llu\n"
      "# HELP avatarkit_output_queued_bytes Output waiting to be written, all sessions.\n"
      "# TYPE avatarkit_output_queued_bytes gauge\navatarkit_output_queued_bytes %llu\n"
      "# HELP avatarkit_rx_pauses_total Times a session's reading paused (input queue full).\n"
      "# TYPE avatarkit_rx_pauses_total counter\navatarkit_rx_pauses_total %llu\n"
      "# HELP avatarkit_throttled_total Times a session ran out of processing credit "
      "(--max-speed).\n# TYPE avatarkit_throttled_total counter\navatarkit_throttled_total %llu\n"
      "# HELP avatarkit_session_limits_total Sessions or requests ended by a budget or "
      "timeout.\n# TYPE avatarkit_session_limits_total counter\n"
      "avatarkit_session_limits_total{kind=\"audio_budget\"} %llu\n"
      "avatarkit_session_limits_total{kind=\"request_too_long\"} %llu\n"
      "avatarkit_session_limits_total{kind=\"write_timeout\"} %llu\n"
      "avatarkit_session_limits_total{kind=\"closing_timeout\"} %llu\n",
      ak__pool_size(s->pool), (unsigned long long)m->input_queued_bytes,
      (unsigned long long)m->input_queue_peak_bytes, (unsigned long long)m->output_queued_bytes,
      (unsigned long long)m->rx_pauses, (unsigned long long)m->throttled,
      (unsigned long long)m->audio_budget_errors, (unsigned long long)m->request_too_long,
      (unsigned long long)m->write_timeouts, (unsigned long long)m->closing_timeouts);
  return n < 0 || (size_t)n >= cap ? -1 : n;
}
