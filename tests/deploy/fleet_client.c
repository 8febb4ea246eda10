/* Fleet test client (scripts/fleet-test.mjs spawns a few): one C Server SDK session with
 * reconnect on, opened through the balancer, streaming real-time requests in a loop.
 *
 *   fleet_client CONSOLE_URL INGRESS_URL API_KEY APP_ID AVATAR_ID SECONDS [PAUSE_MS]
 *
 * Each request is 1 s of 16 kHz PCM sent in 100 ms chunks at real time, then end; the next
 * starts PAUSE_MS (default 0) after the previous one completed (last message) or was aborted.
 * Prints one JSON line per event on stdout: connected (connection id), done (request completed:
 * time from end to last message, largest gap between two of its messages), error (code name, phase,
 * req_id, message), close, and a final summary. Reconnect tokens come from the console API (no
 * token_provider: the SDK's own fetch with api_key). Stops after SECONDS or on SIGTERM /
 * SIGINT, closes the session and exits 0 (1 on a setup failure). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avatarkit/sdk.h"

#define CHUNK_SAMPLES 1600 /* 100 ms at 16 kHz */
#define CHUNKS 10
#define WAIT_MS 15000
#define PI 3.14159265358979323846

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

typedef struct client {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t t0;
  char cur[AKS_REQ_ID_MAX]; /* request being waited for */
  int cur_done, cur_aborted;
  int64_t cur_last_msg, cur_max_gap;
  int connected, done, aborted, errors, closed;
} client;

/* JSON string body: escapes quotes, backslashes and control bytes. */
static void put_json_str(const char *s) {
  putchar('"');
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void on_connected(void *user, const char *conn_id) {
  client *c = user;
  pthread_mutex_lock(&c->mu);
  c->connected++;
  printf("{\"ev\":\"connected\",\"t\":%lld,\"n\":%d,\"conn\":", (long long)(now_ms() - c->t0),
         c->connected);
  put_json_str(conn_id);
  printf("}\n");
  fflush(stdout);
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void on_message(void *user, const char *req_id, const uint8_t *msg, size_t len, int last) {
  client *c = user;
  (void)msg;
  (void)len;
  pthread_mutex_lock(&c->mu);
  if (req_id && strcmp(req_id, c->cur) == 0) {
    int64_t t = now_ms();
    if (c->cur_last_msg && t - c->cur_last_msg > c->cur_max_gap)
      c->cur_max_gap = t - c->cur_last_msg;
    c->cur_last_msg = t;
    if (last) {
      c->cur_done = 1;
      pthread_cond_broadcast(&c->cv);
    }
  } else if (req_id && last) {
    /* a request completing that is not the one waited for: a replay would show here */
    printf("{\"ev\":\"stray\",\"t\":%lld,\"req\":", (long long)(now_ms() - c->t0));
    put_json_str(req_id);
    printf("}\n");
    fflush(stdout);
  }
  pthread_mutex_unlock(&c->mu);
}

static void on_error(void *user, const aks_error *err) {
  client *c = user;
  pthread_mutex_lock(&c->mu);
  if (err->code == AKS_REQUEST_ABORTED)
    c->aborted++;
  else
    c->errors++;
  printf("{\"ev\":\"error\",\"t\":%lld,\"code\":", (long long)(now_ms() - c->t0));
  put_json_str(aks_error_name(err->code));
  printf(",\"phase\":");
  put_json_str(aks_phase_name(err->phase));
  printf(",\"req\":");
  put_json_str(err->req_id ? err->req_id : "");
  printf(",\"close\":%d,\"http\":%d,\"msg\":", err->close_code, err->http_status);
  put_json_str(err->message);
  printf("}\n");
  fflush(stdout);
  if (err->req_id && strcmp(err->req_id, c->cur) == 0) {
    c->cur_aborted = 1;
    pthread_cond_broadcast(&c->cv);
  }
  pthread_mutex_unlock(&c->mu);
}

static void on_close(void *user, int code, const char *reason) {
  client *c = user;
  pthread_mutex_lock(&c->mu);
  c->closed = 1;
  printf("{\"ev\":\"close\",\"t\":%lld,\"code\":%d,\"reason\":", (long long)(now_ms() - c->t0),
         code);
  put_json_str(reason);
  printf("}\n");
  fflush(stdout);
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

/* Waits (bounded) until the current request completed or was aborted, the session closed or a
 * stop was asked for. Returns 1 completed, 0 otherwise. */
static int wait_request(client *c, int64_t deadline) {
  pthread_mutex_lock(&c->mu);
  while (!c->cur_done && !c->cur_aborted && !c->closed && !stop_flag && now_ms() < deadline) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
  }
  int ok = c->cur_done;
  pthread_mutex_unlock(&c->mu);
  return ok;
}

int main(int argc, char **argv) {
  if (argc != 7 && argc != 8) {
    fprintf(stderr,
            "usage: %s CONSOLE_URL INGRESS_URL API_KEY APP_ID AVATAR_ID SECONDS [PAUSE_MS]\n",
            argv[0]);
    return 2;
  }
  char *endp = NULL;
  long seconds = strtol(argv[6], &endp, 10);
  if (!endp || *endp || seconds < 1 || seconds > 3600) {
    fprintf(stderr, "SECONDS: 1..3600\n");
    return 2;
  }
  long pause_ms = 0;
  if (argc == 8) {
    pause_ms = strtol(argv[7], &endp, 10);
    if (!endp || *endp || pause_ms < 0 || pause_ms > 60000) {
      fprintf(stderr, "PAUSE_MS: 0..60000\n");
      return 2;
    }
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  client c;
  memset(&c, 0, sizeof c);
  pthread_mutex_init(&c.mu, NULL);
  pthread_cond_init(&c.cv, NULL);
  c.t0 = now_ms();

  aks_config cfg;
  aks_config_default(&cfg);
  cfg.console_url = argv[1];
  cfg.ingress_url = argv[2];
  cfg.api_key = argv[3];
  cfg.app_id = argv[4];
  cfg.avatar_id = argv[5];
  cfg.sample_rate = 16000;
  cfg.token_ttl_s = 600;
  cfg.reconnect = 1;
  cfg.reconnect_initial_ms = 100;
  cfg.reconnect_max_ms = 1000;
  cfg.reconnect_max_attempts = 60; /* bounded: about a minute; the balancer needs < 3 s */
  cfg.liveness_timeout_ms = 10000; /* generous: a loaded 2-core machine must not trip it */
  aks_callbacks cbs = {.on_connected = on_connected,
                       .on_message = on_message,
                       .on_error = on_error,
                       .on_close = on_close};
  aks_session *s = NULL;
  int rc = aks_session_new(&cfg, &cbs, &c, &s);
  if (rc == AKS_OK) rc = aks_session_init(s);
  if (rc == AKS_OK) rc = aks_session_start(s, NULL, 0);
  if (rc != AKS_OK) {
    printf("{\"ev\":\"setup_failed\",\"code\":");
    put_json_str(aks_error_name(rc));
    printf("}\n");
    aks_session_free(s);
    return 1;
  }

  int16_t pcm[CHUNK_SAMPLES * CHUNKS];
  for (int i = 0; i < CHUNK_SAMPLES * CHUNKS; i++) /* a voiced-ish tone, amplitude-modulated */
    pcm[i] = (int16_t)(8000.0 * sin(2 * PI * 180.0 * i / 16000.0) *
                       (0.6 + 0.4 * sin(2 * PI * 3.0 * i / 16000.0)));

  int64_t end_at = c.t0 + seconds * 1000;
  int sent = 0;
  while (!stop_flag && now_ms() < end_at) {
    pthread_mutex_lock(&c.mu);
    int closed = c.closed;
    c.cur[0] = '\0';
    c.cur_done = c.cur_aborted = 0;
    c.cur_last_msg = c.cur_max_gap = 0;
    pthread_mutex_unlock(&c.mu);
    if (closed) break;
    char req[AKS_REQ_ID_MAX] = "";
    int cut = 0;
    for (int k = 0; k < CHUNKS && !stop_flag; k++) {
      char id[AKS_REQ_ID_MAX];
      /* never call the SDK under c.mu: its network thread holds its own lock while it runs
       * the callbacks, which take c.mu */
      rc = aks_session_send_audio(s, pcm + k * CHUNK_SAMPLES, CHUNK_SAMPLES * 2, k == CHUNKS - 1,
                                  id, sizeof id);
      pthread_mutex_lock(&c.mu);
      if (rc == AKS_OK && k == 0) {
        memcpy(req, id, sizeof req);
        memcpy(c.cur, id, sizeof c.cur);
      }
      int aborted = c.cur_aborted;
      pthread_mutex_unlock(&c.mu);
      if (rc != AKS_OK || aborted) {
        if (rc != AKS_OK && rc != AKS_REQUEST_ABORTED) {
          printf("{\"ev\":\"send_failed\",\"t\":%lld,\"code\":", (long long)(now_ms() - c.t0));
          put_json_str(aks_error_name(rc));
          printf("}\n");
          fflush(stdout);
        }
        cut = 1;
        break;
      }
      if (k < CHUNKS - 1) sleep_ms(100);
    }
    if (stop_flag) break;
    if (cut) {
      sleep_ms(50);
      continue;
    }
    sent++;
    int64_t t_end = now_ms();
    if (wait_request(&c, t_end + WAIT_MS)) {
      pthread_mutex_lock(&c.mu);
      c.done++;
      printf("{\"ev\":\"done\",\"t\":%lld,\"req\":", (long long)(now_ms() - c.t0));
      put_json_str(req);
      printf(",\"ms\":%lld,\"max_gap_ms\":%lld}\n", (long long)(now_ms() - t_end),
             (long long)c.cur_max_gap);
      fflush(stdout);
      pthread_mutex_unlock(&c.mu);
      for (long w = 0; w < pause_ms && !stop_flag; w += 50) sleep_ms(50);
    } else {
      pthread_mutex_lock(&c.mu);
      int timed_out = !c.cur_done && !c.cur_aborted && !c.closed && !stop_flag;
      pthread_mutex_unlock(&c.mu);
      if (timed_out) {
        printf("{\"ev\":\"timeout\",\"t\":%lld,\"req\":", (long long)(now_ms() - c.t0));
        put_json_str(req);
        printf("}\n");
        fflush(stdout);
      }
    }
  }
  aks_session_close(s);
  aks_session_free(s);
  printf(
      "{\"ev\":\"summary\",\"sent\":%d,\"done\":%d,\"aborted\":%d,\"errors\":%d,"
      "\"connected\":%d}\n",
      sent, c.done, c.aborted, c.errors, c.connected);
  fflush(stdout);
  pthread_cond_destroy(&c.cv);
  pthread_mutex_destroy(&c.mu);
  return 0;
}
