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
/* Bound of the HTTP probe that reads why an upgrade was refused. */
#define AKS_PROBE_TIMEOUT_MS 2000

typedef enum aks__state {
  S_NEW = 0,
  S_TOKEN,       /* EXTERNAL: token request in flight */
  S_READY,       /* token known */
  S_CONNECTING,  /* start called: TCP + upgrade */
  S_CONFIGURING, /* WebSocket open, ClientConfigureSession sent, waiting for the confirm */
  S_OPEN,
  S_CLOSED       /* terminal */
} aks__state;

typedef struct aks__txmsg {
  struct aks__txmsg *next;
  size_t len;
  unsigned char buf[]; /* LWS_PRE headroom + len bytes */
} aks__txmsg;

struct aks_session {
  aks_loop *loop;
  int own_loop;
  aks_session *prev, *next;  /* [mu] loop list */
  aks_session *pnext;        /* [mu] pending-work list */
  int in_pending;            /* [mu] */

  aks_config cfg;            /* strings point at owned copies */
  char *owned[24];
  aks_callbacks cbs;
  void *user;
  aks__url ingress;
  char token[AKS_TOKEN_MAX];
  aks__token_req *treq;      /* [net] EXTERNAL token request */

  pthread_mutex_t api_mu;    /* serializes send_audio / interrupt callers */
  aks__oggenc *ogg;          /* [api_mu] encoder of the current request */
  char cur_req[AK_ID_LEN + 1];  /* [api_mu] request being streamed, "" if none */
  char last_req[AK_ID_LEN + 1]; /* [api_mu] most recent request */

  /* [mu] shared state */
  aks__state state;
  int want_connect, want_write, want_close, want_detach, detached;
  int start_pending;         /* EXTERNAL start before the token arrived */
  int sync_start;            /* INTERNAL start() is blocked waiting */
  int failed;                /* an error ended (or is ending) the session */
  int user_closed;
  int quiet;                 /* callbacks suppressed (failed sync start, free) */
  int close_fired;
  int started;               /* start() succeeded: on_close is owed */
  aks__txmsg *txq_head, *txq_tail;
  size_t txq_bytes, txq_count;
  char conn_id[AKS_CONN_ID_MAX];
  aks_error err;             /* last error; strings below */
  char err_msg[AKS_MSG_MAX];
  char err_req[AK_ID_LEN + 1];
  int has_err;

  /* [net] */
  struct lws *wsi;
  uint8_t *cfg_msg; size_t cfg_len; int cfg_sent;
  int closing;               /* close once the queue is flushed */
  uint8_t *rx; size_t rx_len, rx_cap;
  float *wbuf, *hbuf; size_t scratch_frames;
  int close_code;
  char close_reason[124];
  lws_sorted_usec_list_t sul_timeout;
};

struct aks_loop {
  struct lws_context *ctx;
  aks_threading threading;
  int max_sessions, n_sessions;   /* [mu] */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int thread_started;
  int stop;                       /* [mu] */
  aks_session *sessions;          /* [mu] */
  aks_session *pending;           /* [mu] sessions with work for the network thread */
  int n_token_reqs;               /* [mu] EXTERNAL token requests in flight */
  lws_sorted_usec_list_t sul_tick;
  lws_sorted_usec_list_t sul_bound;
};

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

#endif
