/* Internal layout of sessions and loops shared by loop.c (network side) and session.c (the
 * public calls). A loop owns one lws context; sessions hang off it in a list. Fields marked
 * [mu] are guarded by loop->mu; [net] ones are touched only by the thread servicing the loop. */
#ifndef AKS_LOOP_H
#define AKS_LOOP_H

#include <pthread.h>

#include <libwebsockets.h>

#include "avatarkit/protocol.h"
#include "internal.h"

/* Bounds of one session's outgoing queue. */
#define AKS_TXQ_MAX_BYTES (8u * 1024u * 1024u)
#define AKS_TXQ_MAX_MSGS 4096u
/* Largest audio slice in one ClientAudioInput; bigger send_audio calls are split. */
#define AKS_MAX_CHUNK_BYTES (32u * 1024u)
/* Largest message accepted from the server. */
#define AKS_RX_MAX ((size_t)AK_MAX_MESSAGE_BYTES)
#define AKS_CONN_ID_MAX 128
/* Bound of the HTTP probe that reads why an upgrade was refused, and of the probes (worker
 * threads) one loop runs at once; beyond it a refusal is classified by its status alone. */
#define AKS_PROBE_TIMEOUT_MS 2000
#define AKS_MAX_PROBES 16
/* Requests of one session sent and not yet answered to the end (the ones a lost connection
 * cuts and reports); a new request beyond it is refused with AKS_QUEUE_FULL. */
#define AKS_MAX_INFLIGHT 64
/* Distinct ca_file values one loop serves (one client vhost each). */
#define AKS_MAX_CA_VHOSTS 8

/* The one connection state of a session. Every change goes through aks__session_set_state
 * (or the pure aks__state_step), which accepts only the edges of the table in state.c:
 *
 *   IDLE -> FETCHING_TOKEN (EXTERNAL init) | HAS_TOKEN (INTERNAL init) | CLOSING
 *   FETCHING_TOKEN -> HAS_TOKEN | CONNECTING (start before the token came) | CLOSING | FAILED
 *   HAS_TOKEN -> CONNECTING | CLOSING
 *   CONNECTING -> CONFIGURING | CLOSING | FAILED
 *   CONFIGURING -> OPEN | CLOSING | FAILED
 *   OPEN -> CLOSING | FAILED | RECONNECTING
 *   CLOSING -> FAILED | CLOSED
 *   FAILED -> CLOSED
 *   CONNECTING | CONFIGURING -> RECONNECTING (a reconnect attempt failed)
 *   RECONNECTING -> CONNECTING | CLOSING | FAILED
 *
 * FAILED: an error was recorded and reported; nothing more is sent and no later close is
 * reported as a second error. CLOSING: the user asked to close (queued audio is flushed when
 * the session was confirmed). CLOSED is terminal: the wsi is gone and on_close has fired
 * (when owed). RECONNECTING (cfg.reconnect only): the connection was lost after a confirmation;
 * waiting for the backoff or a fresh token, then CONNECTING again. */
typedef enum aks__state {
  AKS__IDLE = 0,
  AKS__FETCHING_TOKEN, /* EXTERNAL: token request in flight */
  AKS__HAS_TOKEN,      /* token known, not started */
  AKS__CONNECTING,     /* start called: TCP + upgrade (EXTERNAL: maybe still fetching) */
  AKS__CONFIGURING,    /* WebSocket open, ClientConfigureSession sent, waiting for confirm */
  AKS__OPEN,           /* confirmed: audio flows */
  AKS__CLOSING,
  AKS__FAILED,
  AKS__CLOSED,
  AKS__RECONNECTING, /* lost after a confirmation: backoff, fresh token, connect again */
  AKS__STATE_COUNT
} aks__state;

/* Work the API threads hand to the network thread (bits of aks_session.work). */
enum {
  AKS__WORK_CONNECT = 1u << 0,
  AKS__WORK_WRITE = 1u << 1,
  AKS__WORK_CLOSE = 1u << 2,
  AKS__WORK_DETACH = 1u << 3, /* free() waits for the network thread to let go */
  AKS__WORK_PROBE = 1u << 4   /* the upgrade probe finished */
};

/* Which callbacks the session still owes (aks_session.notify). */
typedef enum aks__notify {
  AKS__NOTIFY_NONE = 0,   /* a blocked start() reports itself, or the session is being freed */
  AKS__NOTIFY_ERRORS = 1, /* on_error only (not started: no on_close owed) */
  AKS__NOTIFY_ALL = 2     /* started: on_error and the one on_close */
} aks__notify;

/* 1 when from -> to is an edge of the table. */
int aks__state_allowed(aks__state from, aks__state to);
/* Moves *st to `to` when allowed (returns AKS_OK), else leaves it and returns
 * AKS_INVALID_STATE. Pure: the unit test walks the whole table through it. */
int aks__state_step(aks__state *st, aks__state to);
const char *aks__state_name(aks__state st);

typedef struct aks__txmsg {
  struct aks__txmsg *next;
  size_t len;
  unsigned char buf[]; /* LWS_PRE headroom + len bytes */
} aks__txmsg;

/* Takes the session's send queue (caller holds the loop lock) and returns its head, to be freed
 * with aks__txq_free once the lock is released. */
aks__txmsg *aks__txq_take_locked(aks_session *s);
/* Frees a taken send queue. */
void aks__txq_free(aks__txmsg *q);

/* A blocking job on a short-lived worker thread, so that the network thread (shared by every
 * session of the loop) never blocks on it: the HTTP probe of a refused upgrade, or the fresh
 * token of a reconnect. Owned by the loop (listed in loop->probes until joined); the session
 * only points at it. */
enum { AKS__PROBE_UPGRADE = 0, AKS__PROBE_TOKEN = 1 };
typedef struct aks__probe {
  int kind;                /* AKS__PROBE_* */
  struct aks__probe *next; /* [mu] loop->probes */
  aks_loop *loop;
  aks_session *s;           /* [mu] NULL once the session let go of it */
  const aks_session *owner; /* the session that started it: compared, never dereferenced */
  pthread_t thread;
  int done;   /* [mu] the worker finished; joining is immediate */
  int status; /* HTTP status of the refused upgrade */
  char url[AKS_URL_MAX + AKS_TOKEN_MAX + 900];
  char app_id[1024];
  char token[AKS_TOKEN_MAX];
  int auth_in_query;
  char ca_file[1024];
  /* AKS__PROBE_TOKEN: provider, or console fetch (console_url + api_key) */
  int (*provider)(void *user, char *buf, size_t cap);
  void *provider_user;
  char console_url[AKS_URL_MAX];
  char api_key[1100];
  int ttl_s, timeout_ms;
  aks__http_result res; /* written by the worker before done */
} aks__probe;

/* Dequantized motion frames, grown to the largest payload seen. */
typedef struct aks__scratch {
  float *w, *h;
  size_t frames;
} aks__scratch;

struct aks_session {
  aks_loop *loop;
  int own_loop;
  aks_session *prev, *next; /* [mu] loop list */
  aks_session *pnext;       /* [mu] pending-work list */
  int in_pending;           /* [mu] */

  aks_config cfg; /* strings point at owned copies */
  char *owned[24];
  aks_callbacks cbs;
  void *user;
  aks__url ingress;
  char token[AKS_TOKEN_MAX];
  aks__token_req *treq; /* [mu] EXTERNAL token request (polled on the network side) */

  /* Serializes send_audio / interrupt callers. Separate from loop->mu on purpose: Opus
   * encoding runs under it, and loop->mu is shared by every session of the loop. */
  pthread_mutex_t api_mu;
  aks__oggenc *ogg;             /* [api_mu] encoder of the current request */
  char cur_req[AK_ID_LEN + 1];  /* [api_mu] request being streamed, "" if none */
  char last_req[AK_ID_LEN + 1]; /* [api_mu] most recent request */
  unsigned cur_epoch;           /* [api_mu] epoch in which cur_req started */

  /* [mu] shared state: the state, the work mailbox, what is owed, the queue, the error */
  aks__state state;
  unsigned work; /* AKS__WORK_* bits for the network thread */
  int detached;  /* the network thread let go (answer to AKS__WORK_DETACH) */
  aks__notify notify;
  aks__probe *probe; /* upgrade probe in flight, or NULL */
  aks__txmsg *txq_head, *txq_tail;
  size_t txq_bytes, txq_count;
  char conn_id[AKS_CONN_ID_MAX]; /* set by each confirmation (again after a reconnect) */
  aks_error_info err;            /* last error; err.code == AKS_OK: none */
  int confirmed;                 /* the current connection is confirmed */
  unsigned epoch;                /* connections lost so far: a request of an older epoch was cut */
  char inflight[AKS_MAX_INFLIGHT][AK_ID_LEN + 1]; /* requests sent, not answered to the end */
  int n_inflight;

  /* [net] */
  struct lws *wsi;
  uint8_t *cfg_msg;
  size_t cfg_len;
  int cfg_sent;
  int closing; /* close the wsi once the queue is flushed */
  uint8_t *rx;
  size_t rx_len, rx_cap;
  aks__scratch scratch; /* dequantized motion of the message being delivered */
  int close_code;
  char close_reason[124];
  lws_sorted_usec_list_t sul_timeout;
  /* [net] reconnect and liveness */
  int in_reconnect;   /* lost after a confirmation, not confirmed again yet */
  int attempts;       /* failed reconnect attempts in a row */
  int retry_after_ms; /* a refusal's Retry-After: the next attempt waits at least this long */
  uint64_t rng;       /* backoff jitter */
  int64_t last_rx_us;
  int ping_due;
  char tls_error[128]; /* why OpenSSL refused the server certificate, or "" */
  lws_sorted_usec_list_t sul_reconnect, sul_live;
};

struct aks_loop {
  struct lws_context *ctx;
  aks_threading threading;
  int max_sessions, n_sessions; /* [mu] */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int thread_started;
  int stop;              /* [mu] */
  aks_session *sessions; /* [mu] */
  aks_session *pending;  /* [mu] sessions with work for the network thread */
  int n_token_reqs;      /* [mu] EXTERNAL token requests in flight */
  aks__probe *probes;    /* [mu] upgrade probes not yet joined */
  int n_probes;          /* [mu] length of that list */
  lws_sorted_usec_list_t sul_tick;
  lws_sorted_usec_list_t sul_bound;
  struct { /* [net] client vhosts trusting one ca_file each (created on first use) */
    char *ca_file;
    struct lws_vhost *vh;
  } ca_vhosts[AKS_MAX_CA_VHOSTS];
  int n_ca_vhosts; /* [net] */
};

/* state.c */
/* Moves s to `to` (call with loop->mu held). A refused edge is a bug in the SDK: it is
 * reported on stderr, aborts debug builds (NDEBUG unset) and leaves the state unchanged in
 * release builds. Returns AKS_OK or AKS_INVALID_STATE. */
int aks__session_set_state_locked(aks_session *s, aks__state to);
/* Records an error (call with loop->mu held). */
void aks__session_set_error_locked(aks_session *s, aks_error_code code, aks_phase phase,
                                   const char *msg, const char *req_id, int http_status,
                                   int close_code);
/* Adds req to the in-flight set unless there (call with loop->mu held). AKS_OK or
 * AKS_QUEUE_FULL. */
int aks__inflight_add_locked(aks_session *s, const char *req);
/* Removes req from the in-flight set (call with loop->mu held). */
void aks__inflight_remove_locked(aks_session *s, const char *req);
/* Lets go of a probe in flight (call with loop->mu held); the loop joins it later. */
void aks__session_drop_probe_locked(aks_session *s);

/* loop.c */
int aks__loop_create(aks_threading threading, int max_sessions, int tls, aks_loop **out);
void aks__loop_destroy(aks_loop *loop);
/* Marks s as having work and wakes the network thread. Call with loop->mu held. */
void aks__loop_kick_locked(aks_session *s);
/* Runs queued work now (network thread only). */
void aks__loop_run_pending(aks_loop *loop);
/* One bounded service pass (EXTERNAL). */
void aks__loop_service_once(aks_loop *loop, int timeout_ms);
/* Records an error and reports it (unless quiet); begins closing the connection. Network
 * thread only. */
void aks__session_fail(aks_session *s, aks_error_code code, aks_phase phase, const char *msg,
                       const char *req_id, int http_status, int close_code);
/* Finishes s: detaches from its wsi and fires on_close once. Network thread only. */
void aks__session_detach_net(aks_session *s);
/* The SDK's receive path for one parsed ServerResponseAnimation: fires on_audio and
 * on_motion with views decoded from a (payload pointers are a's slices of raw, the received
 * Message, never re-serialized), then on_message with raw untouched. Returns AKS_OK,
 * AKS_OUT_OF_MEMORY or AKS_PROTOCOL_ERROR (then on_motion and on_message did not fire). */
int aks__deliver_animation(aks__scratch *sc, const aks_callbacks *cbs, void *user,
                           const ak_animation *a, const uint8_t *raw, size_t len);
void aks__scratch_free(aks__scratch *sc);
/* Joins and frees the probes whose worker finished and whose session let go (all of them,
 * waiting, when all = 1: loop teardown). */
void aks__loop_reap_probes(aks_loop *loop, int all);

#endif
