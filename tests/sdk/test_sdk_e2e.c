/* End-to-end tests of the server SDK against the real Motion Server process on loopback:
 * every sample rate (shared speech clips when present, generated audio always), Ogg Opus
 * input, interrupt, idle timeout, token errors, refused upgrades, raw-protocol abuse,
 * abrupt disconnects, concurrent sessions, EXTERNAL mode and shared loops.
 * Usage: test_sdk_e2e SERVER_BINARY [clips DATA_DIR | generated | errors | abuse | modes] */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <opus/opus.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "avatarkit/protocol.h"
#include "avatarkit/sdk.h"
#include "../../sdk/internal.h"
#ifdef AK_HAVE_ESPEAK
#include <espeak-ng/speak_lib.h>
#endif

#include "sdk_check.h"

#define API_KEY "e2e-key"
#define APP_ID "e2e-app"
#define WAIT_MS 30000 /* bound of any single wait in these tests */

/* AKS_E2E_ONLY=name,name runs only those sub-cases of a suite (for debugging). */
static int want(const char *name) {
  const char *only = getenv("AKS_E2E_ONLY");
  return !only || strstr(only, name) != NULL;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* ---- the server process ------------------------------------------------------------------ */

static const char *g_server_bin;

typedef struct server {
  pid_t pid;
  int port;
  char base[64], console[96], ingress[96];
  const char *ca_file; /* TLS servers: the CA file that trusts them, else NULL */
} server;

/* Starts the server on port (0: any free one), with TLS when cert/key are given. */
static int server_start_on(server *srv, const char *const *extra, int port, const char *cert,
                           const char *key);

static int server_start(server *srv, const char *const *extra) {
  return server_start_on(srv, extra, 0, NULL, NULL);
}

static int server_start_on(server *srv, const char *const *extra, int want_port, const char *cert,
                           const char *key) {
  char port_file[] = "/tmp/aks-e2e-port-XXXXXX";
  int pfd = mkstemp(port_file);
  if (pfd < 0) return -1;
  close(pfd);
  unlink(port_file);
  const char *argv[40];
  int n = 0;
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", want_port);
  argv[n++] = g_server_bin;
  argv[n++] = "--listen";
  argv[n++] = listen;
  if (cert) {
    argv[n++] = "--tls-cert";
    argv[n++] = cert;
    argv[n++] = "--tls-key";
    argv[n++] = key;
  }
  argv[n++] = "--port-file";
  argv[n++] = port_file;
  argv[n++] = "--api-key";
  argv[n++] = API_KEY;
  argv[n++] = "--app-id";
  argv[n++] = APP_ID;
  argv[n++] = "--log-level";
  argv[n++] = "error";
  for (int i = 0; extra && extra[i] && n < 38; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  memset(srv, 0, sizeof *srv);
  srv->pid = fork();
  if (srv->pid < 0) return -1;
  if (srv->pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a test killed by its timeout */
    execv(g_server_bin, (char *const *)argv);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) { /* 10 s */
    FILE *f = fopen(port_file, "r");
    int port = 0;
    if (f) {
      if (fscanf(f, "%d", &port) != 1) port = 0;
      fclose(f);
    }
    if (port > 0) {
      const char *sx = cert ? "s" : "";
      srv->port = port;
      snprintf(srv->base, sizeof srv->base, "http%s://127.0.0.1:%d", sx, port);
      snprintf(srv->console, sizeof srv->console, "http%s://127.0.0.1:%d/v1/console", sx, port);
      snprintf(srv->ingress, sizeof srv->ingress, "ws%s://127.0.0.1:%d/v2/driveningress", sx, port);
      unlink(port_file);
      return 0;
    }
    int st;
    if (waitpid(srv->pid, &st, WNOHANG) == srv->pid) break;
    sleep_ms(50);
  }
  unlink(port_file);
  kill(srv->pid, SIGKILL);
  waitpid(srv->pid, NULL, 0);
  return -1;
}

/* 1 when the server process is still running. */
static int server_alive(const server *srv) {
  int st;
  return waitpid(srv->pid, &st, WNOHANG) == 0;
}

static void server_stop(server *srv) {
  if (srv->pid <= 0) return;
  kill(srv->pid, SIGTERM);
  for (int i = 0; i < 100; i++) { /* 5 s */
    int st;
    if (waitpid(srv->pid, &st, WNOHANG) == srv->pid) {
      srv->pid = 0;
      return;
    }
    sleep_ms(50);
  }
  kill(srv->pid, SIGKILL);
  waitpid(srv->pid, NULL, 0);
  srv->pid = 0;
}

/* ---- audio ------------------------------------------------------------------------------ */

typedef struct audio {
  int16_t *pcm;
  size_t n;
  int rate;
} audio;

/* Speech-like test signal: voiced bursts (harmonics + noise) with pauses. */
static audio gen_audio(int rate, double seconds, unsigned seed) {
  audio a = {NULL, (size_t)(seconds * rate), rate};
  a.pcm = malloc(a.n * sizeof *a.pcm);
  unsigned x = seed * 2654435761u + 1;
  double phase = 0;
  for (size_t i = 0; i < a.n; i++) {
    double t = (double)i / rate;
    double syl = fmod(t, 0.25);
    double env = syl < 0.16 ? sin(M_PI * syl / 0.16) : 0.0;
    double f0 = 110 + 40 * sin(2 * M_PI * 0.7 * t);
    phase += 2 * M_PI * f0 / rate;
    x = x * 1664525u + 1013904223u;
    double noise = ((double)(x >> 8) / (double)(1u << 24)) - 0.5;
    double v =
        env * (0.5 * sin(phase) + 0.25 * sin(2 * phase) + 0.12 * sin(3 * phase)) + 0.02 * noise;
    a.pcm[i] = (int16_t)(v * 20000);
  }
  return a;
}

static int load_clip(const char *dir, int rate, audio *a) {
  char path[512];
  snprintf(path, sizeof path, "%s/speech/clip_%d.pcm", dir, rate);
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (len <= 0 || len > 64L * 1024 * 1024) {
    fclose(f);
    return -1;
  }
  a->pcm = malloc((size_t)len);
  a->n = (size_t)len / 2;
  a->rate = rate;
  size_t got = fread(a->pcm, 1, (size_t)len, f);
  fclose(f);
  return got == (size_t)len ? 0 : -1;
}

/* ---- callback collector ------------------------------------------------------------------ */

#define MAX_REQ 8
#define MAX_ERR 8

typedef struct req_stats {
  char id[AK_ID_LEN + 1];
  uint32_t frames, next_frame;
  int frames_contiguous;
  int fps;
  int motion_end, audio_end, msg_last;
  int messages;
  int audio_rate, frame_samples, pre_skip;
  uint64_t total_samples, next_packet;
  int packets_contiguous;
  uint8_t *pk; /* concatenated packets */
  size_t pk_len, pk_cap;
  size_t *pk_lens; /* per packet */
  size_t n_pk, pk_lens_cap;
  double first_motion_ms, end_ms;
  float max_jaw;
  int weights_in_range;
} req_stats;

typedef struct collector {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int connected;
  char conn_id[128];
  req_stats req[MAX_REQ];
  int n_req;
  aks_error errs[MAX_ERR];
  char err_msgs[MAX_ERR][256];
  char err_reqs[MAX_ERR][AK_ID_LEN + 1]; /* req_id of each error, "" if none */
  int n_err;
  int closed, close_count, close_code;
  int external; /* EXTERNAL: waits pump this session */
  aks_session *s;
  /* payload views of the message being delivered (on_audio/on_motion fire before on_message) */
  const uint8_t *view_audio, *view_motion;
  size_t view_audio_len, view_motion_len;
} collector;

/* Payload views checked against the relayed message: they must point into its bytes. */
static _Atomic long g_views_checked;

static void col_init(collector *c) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
}

static void col_free(collector *c) {
  for (int i = 0; i < c->n_req; i++) {
    free(c->req[i].pk);
    free(c->req[i].pk_lens);
  }
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
}

static req_stats *col_req(collector *c, const char *id) {
  for (int i = 0; i < c->n_req; i++)
    if (strcmp(c->req[i].id, id) == 0) return &c->req[i];
  if (c->n_req == MAX_REQ) return NULL;
  req_stats *r = &c->req[c->n_req++];
  memset(r, 0, sizeof *r);
  snprintf(r->id, sizeof r->id, "%s", id);
  r->frames_contiguous = r->packets_contiguous = r->weights_in_range = 1;
  return r;
}

static void cb_connected(void *user, const char *id) {
  collector *c = user;
  pthread_mutex_lock(&c->mu);
  c->connected++;
  snprintf(c->conn_id, sizeof c->conn_id, "%s", id);
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void cb_message(void *user, const char *req_id, const uint8_t *msg, size_t len, int last) {
  collector *c = user;
  /* The relayed bytes must be a whole, parseable Message. */
  ak_message *m = NULL;
  int ok = ak_message_parse(msg, len, &m) == AK_OK && m->type == AK_MSG_SERVER_RESPONSE_ANIMATION;
  if (ok && getenv("AKS_E2E_DEBUG")) {
    const ak_animation *an = &m->u.animation;
    fprintf(stderr, "msg %s end=%d motion=%d(%u+%u end %d) audio=%d(%llu+%zu end %d total %llu)\n",
            req_id, an->end, an->has_motion, an->motion.first_frame, an->motion.frame_count,
            an->motion.end, an->has_audio, (unsigned long long)an->audio.first_packet,
            an->audio.n_packets, an->audio.end, (unsigned long long)an->audio.total_samples);
  }
  pthread_mutex_lock(&c->mu);
  /* The SDK decoded its payload views without re-serializing: they are slices of msg, the
   * same ones a parse of msg finds. */
  if (c->view_audio) {
    CHECK(c->view_audio >= msg && c->view_audio + c->view_audio_len <= msg + len);
    CHECK(ok && m->u.animation.audio_bytes == c->view_audio &&
          m->u.animation.audio_bytes_len == c->view_audio_len);
    g_views_checked++;
  }
  if (c->view_motion) {
    CHECK(c->view_motion >= msg && c->view_motion + c->view_motion_len <= msg + len);
    CHECK(ok && m->u.animation.motion_bytes == c->view_motion &&
          m->u.animation.motion_bytes_len == c->view_motion_len);
    g_views_checked++;
  }
  c->view_audio = c->view_motion = NULL;
  ak_message_free(m);
  req_stats *r = col_req(c, req_id);
  if (r) {
    r->messages++;
    if (!ok) r->frames_contiguous = 0;
    if (last) r->msg_last = 1;
    if (last) r->end_ms = now_ms();
  }
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void cb_motion(void *user, const aks_motion *mo) {
  collector *c = user;
  pthread_mutex_lock(&c->mu);
  c->view_motion = mo->payload;
  c->view_motion_len = mo->payload_len;
  req_stats *r = col_req(c, mo->req_id);
  if (r) {
    if (mo->first_frame != r->next_frame) r->frames_contiguous = 0;
    if (!r->frames && mo->frame_count) r->first_motion_ms = now_ms();
    r->frames += mo->frame_count;
    r->next_frame = mo->first_frame + mo->frame_count;
    r->fps = mo->fps;
    if (mo->end) r->motion_end = 1;
    for (size_t i = 0; i < (size_t)mo->frame_count * AK_BLENDSHAPE_COUNT; i++)
      if (!(mo->weights[i] >= 0.f && mo->weights[i] <= 1.f)) r->weights_in_range = 0;
    for (uint32_t f = 0; f < mo->frame_count; f++)
      if (mo->weights[f * AK_BLENDSHAPE_COUNT + AK_JAW_OPEN] > r->max_jaw)
        r->max_jaw = mo->weights[f * AK_BLENDSHAPE_COUNT + AK_JAW_OPEN];
  }
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void cb_audio(void *user, const aks_audio *au) {
  collector *c = user;
  pthread_mutex_lock(&c->mu);
  c->view_audio = au->payload;
  c->view_audio_len = au->payload_len;
  req_stats *r = col_req(c, au->req_id);
  if (r) {
    if (au->first_packet != r->next_packet) r->packets_contiguous = 0;
    r->next_packet = au->first_packet + au->packet_count;
    r->audio_rate = au->sample_rate;
    r->frame_samples = au->frame_samples;
    r->pre_skip = au->pre_skip;
    if (au->end) {
      r->audio_end = 1;
      r->total_samples = au->total_samples;
    }
    for (size_t i = 0; i < au->packet_count; i++) {
      size_t l = au->packet_lens[i];
      if (r->pk_len + l > r->pk_cap) {
        size_t cap = r->pk_cap ? r->pk_cap * 2 : 65536;
        while (cap < r->pk_len + l) cap *= 2;
        r->pk = realloc(r->pk, cap);
        r->pk_cap = cap;
      }
      if (r->n_pk == r->pk_lens_cap) {
        r->pk_lens_cap = r->pk_lens_cap ? r->pk_lens_cap * 2 : 256;
        r->pk_lens = realloc(r->pk_lens, r->pk_lens_cap * sizeof *r->pk_lens);
      }
      memcpy(r->pk + r->pk_len, au->packets[i], l);
      r->pk_len += l;
      r->pk_lens[r->n_pk++] = l;
    }
  }
  pthread_mutex_unlock(&c->mu);
}

static void cb_error(void *user, const aks_error *e) {
  collector *c = user;
  pthread_mutex_lock(&c->mu);
  if (c->n_err < MAX_ERR) {
    c->errs[c->n_err] = *e;
    snprintf(c->err_msgs[c->n_err], sizeof c->err_msgs[0], "%s", e->message ? e->message : "");
    c->errs[c->n_err].message = c->err_msgs[c->n_err];
    c->errs[c->n_err].req_id = NULL;
    snprintf(c->err_reqs[c->n_err], sizeof c->err_reqs[0], "%s", e->req_id ? e->req_id : "");
    if (getenv("AKS_E2E_DEBUG"))
      fprintf(stderr, "on_error %s (%s) req %s: %s\n", aks_error_name(e->code),
              aks_phase_name(e->phase), c->err_reqs[c->n_err], c->err_msgs[c->n_err]);
    c->n_err++;
  }
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void cb_close(void *user, int code, const char *reason) {
  collector *c = user;
  pthread_mutex_lock(&c->mu);
  c->closed = 1;
  c->close_count++;
  c->close_code = code;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static const aks_callbacks k_cbs = {cb_connected, cb_message, cb_audio,
                                    cb_motion,    cb_error,   cb_close};

typedef int (*col_pred)(collector *c, const void *arg);

/* Waits (bounded by ms) until pred holds; pumps the session in EXTERNAL mode. */
static int col_wait(collector *c, col_pred pred, const void *arg, int ms) {
  double dl = now_ms() + ms;
  for (;;) {
    pthread_mutex_lock(&c->mu);
    int ok = pred(c, arg);
    if (!ok && !c->external) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 20 * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&c->cv, &c->mu, &ts);
      ok = pred(c, arg);
    }
    pthread_mutex_unlock(&c->mu);
    if (ok) return 1;
    if (now_ms() > dl) return 0;
    if (c->external) aks_session_service(c->s, 20);
  }
}

static int p_req_done(collector *c, const void *arg) {
  for (int i = 0; i < c->n_req; i++)
    if (strcmp(c->req[i].id, (const char *)arg) == 0) return c->req[i].msg_last;
  return 0;
}
static int p_first_motion(collector *c, const void *arg) {
  for (int i = 0; i < c->n_req; i++)
    if (strcmp(c->req[i].id, (const char *)arg) == 0) return c->req[i].frames > 0;
  return 0;
}
static int p_closed(collector *c, const void *arg) {
  (void)arg;
  return c->closed;
}
static int p_error(collector *c, const void *arg) {
  (void)arg;
  return c->n_err > 0;
}
static int p_connected(collector *c, const void *arg) {
  (void)arg;
  return c->connected > 0 || c->n_err > 0;
}

static req_stats *find_req(collector *c, const char *id) {
  for (int i = 0; i < c->n_req; i++)
    if (strcmp(c->req[i].id, id) == 0) return &c->req[i];
  return NULL;
}

/* Decodes the request's Opus packets; returns samples after pre_skip (or -1). */
static long decode_opus(const req_stats *r) {
  if (!r->audio_rate) return -1;
  int err;
  OpusDecoder *d = opus_decoder_create(r->audio_rate, 1, &err);
  if (!d) return -1;
  float *out = malloc(5760 * sizeof *out);
  long total = 0;
  size_t off = 0;
  for (size_t i = 0; i < r->n_pk; i++) {
    int n = opus_decode_float(d, r->pk + off, (opus_int32)r->pk_lens[i], out, 5760, 0);
    off += r->pk_lens[i];
    if (n < 0) {
      total = -1;
      break;
    }
    total += n;
  }
  free(out);
  opus_decoder_destroy(d);
  return total < 0 ? -1 : total - r->pre_skip;
}

/* Checks one finished request against the input it was made from. */
static void check_request(collector *c, const char *req_id, size_t n_samples, int rate,
                          const char *label) {
  pthread_mutex_lock(&c->mu);
  req_stats *r = find_req(c, req_id);
  CHECK(r != NULL);
  if (!r) {
    pthread_mutex_unlock(&c->mu);
    return;
  }
  double dur = (double)n_samples / rate;
  int fps = r->fps ? r->fps : 25;
  long expect_frames = (long)ceil(dur * fps - 1e-9);
  long frames = (long)r->frames;
  long decoded = decode_opus(r);
  long expect_audio = r->audio_rate ? (long)((double)n_samples * r->audio_rate / rate) : -1;
  printf(
      "  %-22s %6.2f s in: %ld frames (expected %ld), %zu packets, opus %ld samples "
      "(total_samples %llu, expected %ld), first motion to end %.0f ms\n",
      label, dur, frames, expect_frames, r->n_pk, decoded, (unsigned long long)r->total_samples,
      expect_audio, r->first_motion_ms > 0 ? r->end_ms - r->first_motion_ms : -1.0);
  CHECK(labs(frames - expect_frames) <= 1);
  CHECK(r->frames_contiguous);
  CHECK(r->packets_contiguous);
  CHECK(r->motion_end);
  CHECK(r->audio_end);
  CHECK(r->msg_last);
  CHECK(r->weights_in_range);
  CHECK(decoded >= 0);
  CHECK(r->total_samples > 0 && labs((long)r->total_samples - expect_audio) <= r->frame_samples);
  CHECK(labs(decoded - (long)r->total_samples) <= r->frame_samples);
  pthread_mutex_unlock(&c->mu);
}

/* ---- session helpers --------------------------------------------------------------------- */

static aks_config base_config(const server *srv, int rate) {
  aks_config cfg;
  aks_config_default(&cfg);
  cfg.api_key = API_KEY;
  cfg.app_id = APP_ID;
  cfg.avatar_id = "default";
  cfg.console_url = srv->console;
  cfg.ingress_url = srv->ingress;
  cfg.sample_rate = rate;
  cfg.connect_timeout_ms = 8000;
  return cfg;
}

/* Opens an INTERNAL session; returns NULL (and records a failure) when it cannot. */
static aks_session *open_session(const aks_config *cfg, collector *c) {
  aks_session *s = NULL;
  CHECK_EQ(aks_session_new(cfg, &k_cbs, c, &s), AKS_OK);
  if (!s) return NULL;
  c->s = s;
  c->external = cfg->threading == AKS_THREAD_EXTERNAL;
  int rc = aks_session_init(s);
  CHECK_EQ(rc, AKS_OK);
  char id[128] = "";
  if (rc == AKS_OK) rc = aks_session_start(s, id, sizeof id);
  CHECK_EQ(rc, AKS_OK);
  if (rc != AKS_OK) {
    aks_error_info ei_;
    const aks_error_info *e = aks_session_last_error(s, &ei_) == 1 ? &ei_ : NULL;
    if (e)
      fprintf(stderr, "  start failed: %s (%s) %s\n", aks_error_name(e->code),
              aks_phase_name(e->phase), e->message);
    aks_session_free(s);
    return NULL;
  }
  if (!c->external) {
    CHECK(ak_id_valid(id));
    CHECK(strcmp(aks_session_connection_id(s), id) == 0);
  }
  return s;
}

/* Streams a whole clip as one request in chunks of chunk_ms (no pacing) and waits for its
 * end. Returns 0 when the end arrived. */
static int stream_request(aks_session *s, collector *c, const int16_t *pcm, size_t n, int rate,
                          int chunk_ms, char *req_out) {
  size_t chunk = (size_t)rate * (size_t)chunk_ms / 1000;
  char req[AK_ID_LEN + 1] = "";
  for (size_t off = 0; off < n || off == 0; off += chunk) {
    size_t k = n - off < chunk ? n - off : chunk;
    int last = off + k >= n;
    char id[AK_ID_LEN + 1];
    int rc = aks_session_send_audio(s, pcm + off, k * 2, last, id, sizeof id);
    CHECK_EQ(rc, AKS_OK);
    if (rc != AKS_OK) return -1;
    if (!req[0]) memcpy(req, id, sizeof req);
    CHECK(strcmp(req, id) == 0); /* one request id across chunks */
    if (c->external) aks_session_service(s, 0);
    if (last) break;
  }
  if (req_out) memcpy(req_out, req, sizeof req);
  int ok = col_wait(c, p_req_done, req, WAIT_MS);
  CHECK(ok);
  return ok ? 0 : -1;
}

static void run_clip(const server *srv, const audio *a, const char *label, int ogg, int query,
                     int threading) {
  collector c;
  col_init(&c);
  aks_config cfg = base_config(srv, a->rate);
  cfg.encode_ogg_opus = ogg;
  cfg.auth_in_query = query;
  cfg.threading = threading;
  aks_session *s = open_session(&cfg, &c);
  if (s) {
    if (threading == AKS_THREAD_EXTERNAL) CHECK(col_wait(&c, p_connected, NULL, WAIT_MS));
    char req[AK_ID_LEN + 1];
    if (stream_request(s, &c, a->pcm, a->n, a->rate, 40, req) == 0)
      check_request(&c, req, a->n, a->rate, label);
    CHECK_EQ(c.n_err, 0);
    if (c.n_err) fprintf(stderr, "  error: %s\n", c.errs[0].message);
    CHECK_EQ(aks_session_close(s), AKS_OK);
    CHECK(col_wait(&c, p_closed, NULL, WAIT_MS));
    aks_session_free(s);
    CHECK_EQ(c.close_count, 1);
    CHECK_EQ(c.connected, 1);
  }
  col_free(&c);
}

static const int k_rates[] = {8000, 16000, 22050, 24000, 32000, 44100, 48000};

/* ---- suites ---------------------------------------------------------------------------- */

static int suite_clips(const server *srv, const char *dir) {
  struct stat st;
  char sp[512];
  snprintf(sp, sizeof sp, "%s/speech", dir);
  if (stat(sp, &st) != 0) {
    printf("SKIP: shared speech clips not found at %s\n", sp);
    return 77;
  }
  int used = 0;
  for (size_t i = 0; i < 7; i++) {
    audio a;
    if (load_clip(dir, k_rates[i], &a) != 0) {
      printf("SKIP: %s/clip_%d.pcm missing\n", sp, k_rates[i]);
      continue;
    }
    char label[64];
    snprintf(label, sizeof label, "clip %d Hz", k_rates[i]);
    run_clip(srv, &a, label, 0, 0, AKS_THREAD_INTERNAL);
    if (k_rates[i] == 16000 || k_rates[i] == 44100) {
      snprintf(label, sizeof label, "clip %d Hz ogg", k_rates[i]);
      run_clip(srv, &a, label, 1, 0, AKS_THREAD_INTERNAL);
    }
    free(a.pcm);
    used++;
  }
  return used ? 0 : 77;
}

#ifdef AK_HAVE_ESPEAK
typedef struct {
  int16_t *pcm;
  size_t n, cap;
} espeak_buf;
static int espeak_cb(short *wav, int n, espeak_EVENT *ev) {
  espeak_buf *b = ev ? ev->user_data : NULL;
  if (!b || !wav || n <= 0) return 0;
  if (b->n + (size_t)n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 65536;
    while (cap < b->n + (size_t)n) cap *= 2;
    int16_t *p = realloc(b->pcm, cap * sizeof *p);
    if (!p) return 1;
    b->pcm = p;
    b->cap = cap;
  }
  memcpy(b->pcm + b->n, wav, (size_t)n * sizeof *wav);
  b->n += (size_t)n;
  return 0;
}
#endif

static void suite_generated(const server *srv) {
  unsigned seed = (unsigned)time(NULL);
  printf("generated audio seed %u\n", seed);
  for (size_t i = 0; i < 7; i++) {
    audio a = gen_audio(k_rates[i], 1.0 + 0.37 * (double)i, seed + (unsigned)i);
    char label[64];
    snprintf(label, sizeof label, "gen %d Hz", k_rates[i]);
    run_clip(srv, &a, label, 0, 0, AKS_THREAD_INTERNAL);
    if (k_rates[i] == 8000 || k_rates[i] == 24000 || k_rates[i] == 48000) {
      snprintf(label, sizeof label, "gen %d Hz ogg", k_rates[i]);
      run_clip(srv, &a, label, 1, 0, AKS_THREAD_INTERNAL);
    }
    free(a.pcm);
  }
  /* Ogg Opus bytes made by the caller (audio_format OGG_OPUS without SDK encoding), sent in
   * odd-sized slices that split Ogg pages anywhere */
  {
    audio a = gen_audio(24000, 1.7, seed + 100);
    aks__oggenc *enc = NULL;
    uint8_t *ogg = NULL;
    size_t ogg_len = 0;
    CHECK_EQ(aks__oggenc_new(24000, 0, &enc), AKS_OK);
    if (enc) {
      CHECK_EQ(aks__oggenc_write(enc, a.pcm, a.n, 1), AKS_OK);
      aks__oggenc_take(enc, &ogg, &ogg_len);
      aks__oggenc_free(enc);
    }
    collector c;
    col_init(&c);
    aks_config cfg = base_config(srv, 24000);
    cfg.audio_format = AKS_AUDIO_OGG_OPUS;
    aks_session *s = ogg ? open_session(&cfg, &c) : NULL;
    if (s) {
      char req[AK_ID_LEN + 1] = "";
      size_t off = 0, step = 997;
      while (off < ogg_len) {
        size_t k = ogg_len - off < step ? ogg_len - off : step;
        CHECK_EQ(aks_session_send_audio(s, ogg + off, k, 0, req, sizeof req), AKS_OK);
        off += k;
      }
      CHECK_EQ(aks_session_send_audio(s, NULL, 0, 1, NULL, 0), AKS_OK);
      CHECK(col_wait(&c, p_req_done, req, WAIT_MS));
      check_request(&c, req, a.n, 24000, "caller's Ogg Opus");
      CHECK_EQ(c.n_err, 0);
      aks_session_free(s);
    }
    col_free(&c);
    free(ogg);
    free(a.pcm);
  }
  /* query-parameter auth (browser style) */
  audio a = gen_audio(16000, 1.2, seed);
  run_clip(srv, &a, "gen 16000 Hz query", 0, 1, AKS_THREAD_INTERNAL);
  free(a.pcm);
#ifdef AK_HAVE_ESPEAK
  espeak_buf b = {NULL, 0, 0};
  int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, 0);
  if (rate > 0) {
    espeak_SetSynthCallback(espeak_cb);
    const char *text = "Hello there. This sentence checks the avatar kit server end to end.";
    espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_AUTO, NULL, &b);
    espeak_Synchronize();
    espeak_Terminate();
  }
  if (rate > 0 && b.n > (size_t)rate / 2 && ak_sample_rate_valid(rate)) {
    audio sp = {b.pcm, b.n, rate};
    run_clip(srv, &sp, "espeak-ng speech", 0, 0, AKS_THREAD_INTERNAL);
  } else {
    printf("SKIP: espeak-ng produced no usable audio\n");
  }
  free(b.pcm);
#else
  printf("SKIP: built without espeak-ng, speech synthesis case not run\n");
#endif
}

/* Sends a long request, interrupts it once motion flows, checks that nothing more of it
 * arrives, and that the next request on the same session completes normally. */
static void test_interrupt(const server *srv) {
  printf("interrupt\n");
  collector c;
  col_init(&c);
  aks_config cfg = base_config(srv, 16000);
  aks_session *s = open_session(&cfg, &c);
  if (!s) {
    col_free(&c);
    return;
  }
  audio a = gen_audio(16000, 8.0, 7);
  char req[AK_ID_LEN + 1] = "", id[AK_ID_LEN + 1];
  size_t chunk = 640; /* 40 ms */
  size_t off = 0;
  /* 1.2 s of audio, then wait for motion */
  for (; off < 30 * chunk; off += chunk) {
    CHECK_EQ(aks_session_send_audio(s, a.pcm + off, chunk * 2, 0, id, sizeof id), AKS_OK);
    if (!req[0]) memcpy(req, id, sizeof req);
  }
  CHECK(col_wait(&c, p_first_motion, req, WAIT_MS));
  char ireq[AK_ID_LEN + 1] = "";
  CHECK_EQ(aks_session_interrupt(s, ireq, sizeof ireq), AKS_OK);
  CHECK(strcmp(ireq, req) == 0);
  /* Messages already in flight may still land: wait until none came for 600 ms (bounded),
   * then nothing more of that request may arrive. */
  int msgs = -1, stable = 0;
  uint32_t frames = 0;
  for (int i = 0; i < 50 && stable < 2; i++) {
    sleep_ms(300);
    pthread_mutex_lock(&c.mu);
    req_stats *r = find_req(&c, req);
    int now_msgs = r ? r->messages : 0;
    frames = r ? r->frames : 0;
    pthread_mutex_unlock(&c.mu);
    stable = now_msgs == msgs ? stable + 1 : 0;
    msgs = now_msgs;
  }
  CHECK(stable >= 2);
  sleep_ms(1000);
  pthread_mutex_lock(&c.mu);
  req_stats *r = find_req(&c, req);
  CHECK(r && r->messages == msgs); /* nothing more after the interrupt settled */
  CHECK(frames <= 31);             /* never more motion than the 1.2 s of audio sent */
  pthread_mutex_unlock(&c.mu);
  printf("  interrupted after %u frames, %d messages\n", frames, msgs);
  /* The next audio starts a new request, which completes. */
  char req2[AK_ID_LEN + 1];
  if (stream_request(s, &c, a.pcm, 16000, 16000, 40, req2) == 0) {
    CHECK(strcmp(req2, req) != 0);
    check_request(&c, req2, 16000, 16000, "after interrupt");
  }
  /* Interrupting a finished request is allowed (most recent one). */
  CHECK_EQ(aks_session_interrupt(s, ireq, sizeof ireq), AKS_OK);
  CHECK(strcmp(ireq, req2) == 0);
  CHECK_EQ(c.n_err, 0);
  aks_session_free(s);
  free(a.pcm);
  col_free(&c);
}

static void test_idle_timeout(void) {
  printf("idle timeout\n");
  server srv;
  const char *extra[] = {"--idle-timeout", "1", NULL};
  if (server_start(&srv, extra) != 0) {
    CHECK(!"server with --idle-timeout 1 did not start");
    return;
  }
  collector c;
  col_init(&c);
  aks_config cfg = base_config(&srv, 16000);
  aks_session *s = open_session(&cfg, &c);
  if (s) {
    CHECK(col_wait(&c, p_error, NULL, 5000));
    CHECK(col_wait(&c, p_closed, NULL, 5000));
    CHECK(c.n_err >= 1 && c.errs[0].code == AKS_IDLE_TIMEOUT);
    CHECK(c.n_err >= 1 && c.errs[0].phase == AKS_PHASE_WEBSOCKET_RUNTIME);
    if (c.n_err) printf("  %s: %s\n", aks_error_name(c.errs[0].code), c.errs[0].message);
    CHECK_EQ(c.close_count, 1);
    int16_t z[160] = {0};
    CHECK_EQ(aks_session_send_audio(s, z, sizeof z, 0, NULL, 0), AKS_INVALID_STATE);
    aks_session_free(s);
  }
  col_free(&c);
  server_stop(&srv);
}

/* Expects start() to fail with code (phase connect for an HTTP refusal, else handshake). */
static void expect_start_fails(aks_config *cfg, int code, int http_status, const char *what) {
  collector c;
  col_init(&c);
  aks_session *s = NULL;
  CHECK_EQ(aks_session_new(cfg, &k_cbs, &c, &s), AKS_OK);
  int rc = aks_session_init(s);
  if (rc == AKS_OK) rc = aks_session_start(s, NULL, 0);
  aks_error_info ei_;
  const aks_error_info *e = aks_session_last_error(s, &ei_) == 1 ? &ei_ : NULL;
  printf("  %-28s -> %s (%s, http %d): %s\n", what, aks_error_name(rc),
         e ? aks_phase_name(e->phase) : "-", e ? e->http_status : 0, e ? e->message : "");
  CHECK_EQ(rc, code);
  CHECK(e && e->code == code);
  /* A refused upgrade is websocket_connect (as in the official SDKs), a ServerError before
   * the confirmation websocket_handshake. */
  CHECK(e &&
        e->phase == (http_status ? AKS_PHASE_WEBSOCKET_CONNECT : AKS_PHASE_WEBSOCKET_HANDSHAKE));
  if (http_status) CHECK(e && e->http_status == http_status);
  /* A failing call fires no callback. */
  CHECK_EQ(c.n_err, 0);
  CHECK_EQ(c.connected, 0);
  aks_session_free(s);
  CHECK_EQ(c.close_count, 0);
  col_free(&c);
}

static void fetch_token(const server *srv, int ttl, char *tok, size_t cap) {
  aks__http_result r;
  aks__token_fetch(srv->console, API_KEY, ttl, 5000, srv->ca_file, &r);
  CHECK_EQ(r.code, AKS_OK);
  snprintf(tok, cap, "%s", r.token);
}

static void test_errors(void) {
  printf("errors\n");
  server srv;
  const char *extra[] = {"--avatars", "default", "--app", "other-key:other-app", NULL};
  if (server_start(&srv, extra) != 0) {
    CHECK(!"server did not start");
    return;
  }
  aks_config cfg = base_config(&srv, 16000);
  cfg.avatar_id = "default";

  /* wrong API key: the token call fails */
  if (want("apikey")) {
    aks_config b = cfg;
    b.api_key = "wrong";
    aks_session *s = NULL;
    collector c;
    col_init(&c);
    CHECK_EQ(aks_session_new(&b, &k_cbs, &c, &s), AKS_OK);
    int rc = aks_session_init(s);
    aks_error_info ei_;
    const aks_error_info *e = aks_session_last_error(s, &ei_) == 1 ? &ei_ : NULL;
    printf("  %-28s -> %s (%s, http %d): %s\n", "wrong api key", aks_error_name(rc),
           e ? aks_phase_name(e->phase) : "-", e ? e->http_status : 0, e ? e->message : "");
    CHECK_EQ(rc, AKS_SESSION_TOKEN_EXPIRED); /* the official rules: 401 at the token API */
    CHECK(e && e->phase == AKS_PHASE_SESSION_TOKEN && e->http_status == 401);
    aks_session_free(s);
    CHECK_EQ(c.n_err + c.close_count, 0); /* failed call, never started: no callbacks */
    col_free(&c);
  }
  /* unknown avatar */
  if (want("avatar")) {
    aks_config b = cfg;
    b.avatar_id = "mallory";
    expect_start_fails(&b, AKS_AVATAR_NOT_FOUND, 404, "unknown avatar");
  }
  /* unknown app id */
  if (want("appid")) {
    aks_config b = cfg;
    b.app_id = "someone-else";
    expect_start_fails(&b, AKS_APP_ID_UNRECOGNIZED, 404, "unknown app id");
  }
  /* a token issued for another (known) app */
  if (want("mismatch")) {
    char tok[AKS_TOKEN_MAX];
    fetch_token(&srv, 600, tok, sizeof tok);
    aks_config b = cfg;
    b.session_token = tok;
    b.app_id = "other-app";
    expect_start_fails(&b, AKS_APP_ID_MISMATCH, 400, "app id mismatch");
  }
  /* expired token */
  if (want("expired")) {
    char tok[AKS_TOKEN_MAX];
    fetch_token(&srv, 1, tok, sizeof tok);
    sleep_ms(2100);
    aks_config b = cfg;
    b.session_token = tok;
    expect_start_fails(&b, AKS_SESSION_TOKEN_EXPIRED, 401, "expired token");
  }
  /* a token is single use */
  if (want("reuse")) {
    char tok[AKS_TOKEN_MAX];
    fetch_token(&srv, 600, tok, sizeof tok);
    aks_config b = cfg;
    b.session_token = tok;
    collector c;
    col_init(&c);
    aks_session *s = open_session(&b, &c);
    CHECK(s != NULL);
    expect_start_fails(&b, AKS_SESSION_TOKEN_INVALID, 400, "reused token");
    aks_session_free(s);
    col_free(&c);
  }
  /* garbage token, header and query styles */
  if (want("forged")) {
    aks_config b = cfg;
    b.session_token = "not-a-token";
    expect_start_fails(&b, AKS_SESSION_TOKEN_INVALID, 400, "forged token (headers)");
    b.auth_in_query = 1;
    expect_start_fails(&b, AKS_SESSION_TOKEN_INVALID, 400, "forged token (query)");
  }
  /* an open session whose token expires is closed with 4010 */
  if (want("expiring")) {
    char tok[AKS_TOKEN_MAX];
    fetch_token(&srv, 2, tok, sizeof tok);
    aks_config b = cfg;
    b.session_token = tok;
    collector c;
    col_init(&c);
    aks_session *s = open_session(&b, &c);
    if (s) {
      CHECK(col_wait(&c, p_closed, NULL, 8000));
      CHECK(c.n_err >= 1 && c.errs[0].code == AKS_SESSION_TOKEN_EXPIRED);
      CHECK_EQ(c.close_code, 4010);
      printf("  %-28s -> %s, close code %d\n", "token expiring in session",
             c.n_err ? aks_error_name(c.errs[0].code) : "no error", c.close_code);
      aks_session_free(s);
    }
    col_free(&c);
  }
  /* egress: a valid LiveKit config the server cannot serve, and an incomplete one */
  if (want("egress")) {
    aks_config b = cfg;
    b.egress_type = AKS_EGRESS_LIVEKIT;
    b.livekit.url = "wss://livekit.invalid";
    b.livekit.room_name = "room";
    b.livekit.api_token = "t";
    expect_start_fails(&b, AKS_EGRESS_UNAVAILABLE, 0, "livekit egress unavailable");
    b.livekit.room_name = NULL;
    expect_start_fails(&b, AKS_INVALID_EGRESS_CONFIG, 0, "livekit egress without room");
    aks_config g = cfg;
    g.egress_type = AKS_EGRESS_AGORA;
    g.agora.channel_name = "ch";
    expect_start_fails(&g, AKS_EGRESS_UNAVAILABLE, 0, "agora egress unavailable");
  }
  /* nothing listens: connect phase */
  if (want("refused")) {
    aks_config b = cfg;
    b.session_token = "x";
    b.ingress_url = "ws://127.0.0.1:1/v2/driveningress";
    collector c;
    col_init(&c);
    aks_session *s = NULL;
    CHECK_EQ(aks_session_new(&b, &k_cbs, &c, &s), AKS_OK);
    int rc = aks_session_start(s, NULL, 0);
    aks_error_info ei_;
    const aks_error_info *e = aks_session_last_error(s, &ei_) == 1 ? &ei_ : NULL;
    CHECK_EQ(rc, AKS_CONNECTION_FAILED);
    CHECK(e && e->phase == AKS_PHASE_WEBSOCKET_CONNECT);
    aks_session_free(s);
    col_free(&c);
  }
  CHECK(server_alive(&srv));
  server_stop(&srv);
}

/* ---- raw WebSocket client for protocol abuse ------------------------------------------- */

static int raw_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Upgrades with a fresh token; returns the socket or -1. */
static int raw_open(const server *srv) {
  char tok[AKS_TOKEN_MAX];
  fetch_token(srv, 600, tok, sizeof tok);
  int fd = raw_connect(srv->port);
  if (fd < 0) return -1;
  char req[AKS_TOKEN_MAX + 512];
  int n = snprintf(req, sizeof req,
                   "GET /v2/driveningress/websocket?id=default HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   "X-App-ID: " APP_ID "\r\nX-Session-Key: %s\r\n\r\n",
                   srv->port, tok);
  if (send_all(fd, req, (size_t)n) != 0) {
    close(fd);
    return -1;
  }
  char resp[2048];
  size_t got = 0;
  while (got < sizeof resp - 1) { /* read byte by byte up to the blank line */
    ssize_t k = recv(fd, resp + got, 1, 0);
    if (k <= 0) break;
    got++;
    resp[got] = 0;
    if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0) break;
  }
  resp[got] = 0;
  if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int raw_send_frame(int fd, int opcode, const uint8_t *data, size_t len) {
  uint8_t hdr[14];
  size_t h = 0;
  hdr[h++] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    hdr[h++] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    hdr[h++] = 0x80 | 126;
    hdr[h++] = (uint8_t)(len >> 8);
    hdr[h++] = (uint8_t)len;
  } else {
    hdr[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--) hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
  memcpy(hdr + h, mask, 4);
  h += 4;
  uint8_t *buf = malloc(h + len);
  memcpy(buf, hdr, h);
  for (size_t i = 0; i < len; i++) buf[h + i] = data[i] ^ mask[i & 3];
  int rc = send_all(fd, buf, h + len);
  free(buf);
  return rc;
}

static int recv_n(int fd, uint8_t *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = recv(fd, buf + got, n - got, 0);
    if (k <= 0) return -1;
    got += (size_t)k;
  }
  return 0;
}

/* Reads one frame (server frames are unmasked). Returns opcode, or -1 on EOF/timeout.
 * *out is malloc'd. */
static int raw_recv_frame(int fd, uint8_t **out, size_t *len) {
  uint8_t h[2];
  *out = NULL;
  *len = 0;
  if (recv_n(fd, h, 2) != 0) return -1;
  uint64_t n = h[1] & 0x7f;
  if (n == 126) {
    uint8_t e[2];
    if (recv_n(fd, e, 2) != 0) return -1;
    n = ((uint64_t)e[0] << 8) | e[1];
  } else if (n == 127) {
    uint8_t e[8];
    if (recv_n(fd, e, 8) != 0) return -1;
    n = 0;
    for (int i = 0; i < 8; i++) n = (n << 8) | e[i];
  }
  if (n > (8u << 20)) return -1;
  *out = malloc(n + 1);
  if (recv_n(fd, *out, (size_t)n) != 0) {
    free(*out);
    *out = NULL;
    return -1;
  }
  *len = (size_t)n;
  return h[0] & 0x0f;
}

/* Reads frames until a close (returns its code) or EOF (0); copies the first ServerError
 * message into err_msg. Bounded by 50 frames and the socket timeout. */
static int raw_read_until_close(int fd, char *err_msg, size_t cap) {
  if (cap) err_msg[0] = 0;
  for (int i = 0; i < 50; i++) {
    uint8_t *b;
    size_t n;
    int op = raw_recv_frame(fd, &b, &n);
    if (op < 0) return 0;
    if (op == 2) {
      ak_message *m = NULL;
      if (ak_message_parse(b, n, &m) == AK_OK && m->type == AK_MSG_SERVER_ERROR && cap &&
          !err_msg[0])
        snprintf(err_msg, cap, "%s", m->u.error.message ? m->u.error.message : "");
      ak_message_free(m);
    }
    if (op == 8) {
      int code = n >= 2 ? (b[0] << 8) | b[1] : 1005;
      free(b);
      return code;
    }
    free(b);
  }
  return 0;
}

static void pack_send(int fd, const ak_message *m) {
  uint8_t *buf;
  size_t len;
  CHECK_EQ(ak_message_pack(m, &buf, &len), AK_OK);
  CHECK_EQ(raw_send_frame(fd, 2, buf, len), 0);
  free(buf);
}

static void raw_configure(int fd, int rate) {
  ak_message m;
  memset(&m, 0, sizeof m);
  m.type = AK_MSG_CLIENT_CONFIGURE_SESSION;
  m.data = AK_DATA_CONFIGURE;
  m.u.configure.sample_rate = rate;
  pack_send(fd, &m);
}

/* After abuse, a normal SDK session must still be served. */
static void check_still_serving(const server *srv, const char *after) {
  CHECK(server_alive(srv));
  audio a = gen_audio(16000, 0.6, 3);
  char label[64];
  snprintf(label, sizeof label, "after %s", after);
  run_clip(srv, &a, label, 0, 0, AKS_THREAD_INTERNAL);
  free(a.pcm);
}

static void test_abuse(void) {
  printf("raw protocol abuse\n");
  server srv;
  const char *extra[] = {"--max-message-bytes", "65536", NULL};
  if (server_start(&srv, extra) != 0) {
    CHECK(!"server did not start");
    return;
  }
  char msg[256];
  /* bad first message: audio before ClientConfigureSession */
  int fd = raw_open(&srv);
  CHECK(fd >= 0);
  if (fd >= 0) {
    ak_message m;
    memset(&m, 0, sizeof m);
    m.type = AK_MSG_CLIENT_AUDIO_INPUT;
    m.data = AK_DATA_AUDIO_INPUT;
    uint8_t pcm[320] = {0};
    m.u.audio_input.req_id = "20260101000000_abcdefghijkl";
    m.u.audio_input.audio = pcm;
    m.u.audio_input.audio_len = sizeof pcm;
    pack_send(fd, &m);
    int code = raw_read_until_close(fd, msg, sizeof msg);
    printf("  bad first message: close %d, \"%s\"\n", code, msg);
    CHECK(strstr(msg, "expected ClientConfigureSession message") != NULL);
    CHECK_EQ(aks__classify_server_message(msg), AKS_PROTOCOL_ERROR);
    close(fd);
  }
  check_still_serving(&srv, "bad first message");
  /* unsupported sample rate, as a foreign client could send it */
  fd = raw_open(&srv);
  CHECK(fd >= 0);
  if (fd >= 0) {
    raw_configure(fd, 11025);
    int code = raw_read_until_close(fd, msg, sizeof msg);
    printf("  rate 11025: close %d, \"%s\"\n", code, msg);
    CHECK_EQ(aks__classify_server_message(msg), AKS_UNSUPPORTED_SAMPLE_RATE);
    close(fd);
  }
  /* garbage bytes as a first message */
  unsigned seed = (unsigned)time(NULL);
  printf("  garbage seed %u\n", seed);
  srand(seed);
  fd = raw_open(&srv);
  CHECK(fd >= 0);
  if (fd >= 0) {
    uint8_t junk[777];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rand();
    junk[0] = 0xff; /* an invalid wire type: never a valid Message */
    raw_send_frame(fd, 2, junk, sizeof junk);
    int code = raw_read_until_close(fd, msg, sizeof msg);
    printf("  garbage message: close %d, \"%s\"\n", code, msg);
    CHECK_EQ(aks__classify_server_message(msg), AKS_PROTOCOL_ERROR);
    close(fd);
  }
  /* garbage after a valid configure, then garbage at the TCP level */
  fd = raw_open(&srv);
  if (fd >= 0) {
    raw_configure(fd, 16000);
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rand();
    junk[0] = 0xff;
    raw_send_frame(fd, 2, junk, sizeof junk);
    int code = raw_read_until_close(fd, msg, sizeof msg);
    printf("  garbage after configure: close %d, \"%s\"\n", code, msg);
    CHECK(code != 0 || msg[0]); /* told off or closed, not ignored silently */
    close(fd);
  }
  fd = raw_connect(srv.port);
  if (fd >= 0) {
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rand();
    send_all(fd, junk, sizeof junk);
    uint8_t b[256];
    ssize_t n;
    int reads = 0;
    while ((n = recv(fd, b, sizeof b, 0)) > 0 && reads++ < 100) {
    }
    close(fd);
  }
  check_still_serving(&srv, "garbage bytes");
  /* oversized frame (limit 64 KiB) */
  fd = raw_open(&srv);
  CHECK(fd >= 0);
  if (fd >= 0) {
    raw_configure(fd, 16000);
    size_t big = 300 * 1024;
    uint8_t *pcm = calloc(1, big);
    ak_message m;
    memset(&m, 0, sizeof m);
    m.type = AK_MSG_CLIENT_AUDIO_INPUT;
    m.data = AK_DATA_AUDIO_INPUT;
    m.u.audio_input.req_id = "20260101000000_abcdefghijkl";
    m.u.audio_input.audio = pcm;
    m.u.audio_input.audio_len = big;
    uint8_t *buf;
    size_t len;
    CHECK_EQ(ak_message_pack(&m, &buf, &len), AK_OK);
    raw_send_frame(fd, 2, buf, len); /* may fail half way once the server closes */
    free(buf);
    free(pcm);
    int code = raw_read_until_close(fd, msg, sizeof msg);
    printf("  oversized frame: close %d, \"%s\"\n", code, msg);
    CHECK(code == 1009 || strstr(msg, "too large") != NULL);
    close(fd);
  }
  check_still_serving(&srv, "oversized frame");
  /* abrupt disconnect mid-request */
  fd = raw_open(&srv);
  CHECK(fd >= 0);
  if (fd >= 0) {
    raw_configure(fd, 16000);
    uint8_t *b;
    size_t n;
    CHECK_EQ(raw_recv_frame(fd, &b, &n), 2); /* the confirm */
    free(b);
    audio a = gen_audio(16000, 2.0, 5);
    for (int i = 0; i < 25; i++) {
      ak_message m;
      memset(&m, 0, sizeof m);
      m.type = AK_MSG_CLIENT_AUDIO_INPUT;
      m.data = AK_DATA_AUDIO_INPUT;
      m.u.audio_input.req_id = "20260101000000_abcdefghijkl";
      m.u.audio_input.audio = (const uint8_t *)(a.pcm + i * 640);
      m.u.audio_input.audio_len = 1280;
      pack_send(fd, &m);
    }
    free(a.pcm);
    struct linger lg = {1, 0}; /* RST, not FIN */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    sleep_ms(200);
  }
  check_still_serving(&srv, "abrupt disconnect");
  server_stop(&srv);
}

/* ---- threading modes and concurrency ------------------------------------------------------ */

typedef struct worker {
  const server *srv;
  int rate;
  unsigned seed;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  audio a = gen_audio(w->rate, 1.5, w->seed);
  char label[64];
  snprintf(label, sizeof label, "concurrent %d Hz", w->rate);
  run_clip(w->srv, &a, label, 0, 0, AKS_THREAD_INTERNAL);
  free(a.pcm);
  return NULL;
}

/* on_message that closes the session from the network thread when a request ends. */
static void cb_message_close(void *user, const char *req_id, const uint8_t *msg, size_t len,
                             int last) {
  collector *c = user;
  cb_message(user, req_id, msg, len, last);
  if (last) CHECK_EQ(aks_session_close(c->s), AKS_OK); /* must not deadlock */
}

static void test_close_in_callback(const server *srv) {
  printf("close from a callback (INTERNAL)\n");
  collector c;
  col_init(&c);
  aks_callbacks cbs = k_cbs;
  cbs.on_message = cb_message_close;
  aks_config cfg = base_config(srv, 16000);
  aks_session *s = NULL;
  CHECK_EQ(aks_session_new(&cfg, &cbs, &c, &s), AKS_OK);
  c.s = s;
  CHECK_EQ(aks_session_init(s), AKS_OK);
  CHECK_EQ(aks_session_start(s, NULL, 0), AKS_OK);
  audio a = gen_audio(16000, 0.5, 77);
  CHECK_EQ(aks_session_send_audio(s, a.pcm, a.n * 2, 1, NULL, 0), AKS_OK);
  CHECK(col_wait(&c, p_closed, NULL, WAIT_MS));
  CHECK_EQ(c.close_count, 1);
  CHECK_EQ(c.n_err, 0);
  aks_session_free(s);
  free(a.pcm);
  col_free(&c);
}

static void test_modes(const server *srv) {
  test_close_in_callback(srv);

  printf("two sessions at once (two threads)\n");
  pthread_t th[2];
  worker w[2] = {{srv, 16000, 11}, {srv, 44100, 12}};
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker_main, &w[i]);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);

  printf("EXTERNAL mode driven by the test's loop\n");
  audio a = gen_audio(24000, 1.3, 21);
  run_clip(srv, &a, "external 24000 Hz", 0, 0, AKS_THREAD_EXTERNAL);
  run_clip(srv, &a, "external ogg", 1, 0, AKS_THREAD_EXTERNAL);
  free(a.pcm);

  printf("shared EXTERNAL loop, 6 sessions interleaved\n");
  aks_loop *loop = NULL;
  CHECK_EQ(aks_loop_new(AKS_THREAD_EXTERNAL, 8, &loop), AKS_OK);
  enum { N = 6 };
  collector c[N];
  aks_session *s[N];
  audio au[N];
  char req[N][AK_ID_LEN + 1];
  for (int i = 0; i < N; i++) {
    col_init(&c[i]);
    aks_config cfg = base_config(srv, k_rates[i % 7]);
    CHECK_EQ(aks_session_new_on_loop(loop, &cfg, &k_cbs, &c[i], &s[i]), AKS_OK);
    CHECK_EQ(aks_session_init(s[i]), AKS_OK);
    CHECK_EQ(aks_session_start(s[i], NULL, 0), AKS_OK);
    au[i] = gen_audio(cfg.sample_rate, 1.0 + 0.1 * i, 30u + (unsigned)i);
    req[i][0] = 0;
  }
  /* all audio queued before the confirm arrives: sent once confirmed */
  for (int i = 0; i < N; i++) {
    size_t half = au[i].n / 2;
    CHECK_EQ(aks_session_send_audio(s[i], au[i].pcm, half * 2, 0, req[i], sizeof req[i]), AKS_OK);
    CHECK_EQ(aks_session_send_audio(s[i], au[i].pcm + half, (au[i].n - half) * 2, 1, NULL, 0),
             AKS_OK);
  }
  double dl = now_ms() + WAIT_MS;
  int done = 0;
  while (done < N && now_ms() < dl) {
    CHECK(aks_loop_service(loop, 20) >= 0);
    done = 0;
    for (int i = 0; i < N; i++) {
      pthread_mutex_lock(&c[i].mu);
      done += p_req_done(&c[i], req[i]);
      pthread_mutex_unlock(&c[i].mu);
    }
  }
  CHECK_EQ(done, N);
  for (int i = 0; i < N; i++) {
    CHECK_EQ(c[i].connected, 1);
    char label[64];
    snprintf(label, sizeof label, "shared loop #%d %d Hz", i, au[i].rate);
    check_request(&c[i], req[i], au[i].n, au[i].rate, label);
    aks_session_free(s[i]);
    CHECK_EQ(c[i].close_count, 1);
    col_free(&c[i]);
    free(au[i].pcm);
  }
  CHECK_EQ(aks_loop_free(loop), AKS_OK);

  printf("shared INTERNAL loop, 3 sessions\n");
  CHECK_EQ(aks_loop_new(AKS_THREAD_INTERNAL, 4, &loop), AKS_OK);
  for (int i = 0; i < 3; i++) {
    col_init(&c[i]);
    aks_config cfg = base_config(srv, 16000);
    CHECK_EQ(aks_session_new_on_loop(loop, &cfg, &k_cbs, &c[i], &s[i]), AKS_OK);
    CHECK_EQ(aks_session_init(s[i]), AKS_OK);
    CHECK_EQ(aks_session_start(s[i], NULL, 0), AKS_OK);
    c[i].s = s[i];
    au[i] = gen_audio(16000, 0.8, 40u + (unsigned)i);
  }
  for (int i = 0; i < 3; i++)
    if (stream_request(s[i], &c[i], au[i].pcm, au[i].n, 16000, 100, req[i]) == 0)
      check_request(&c[i], req[i], au[i].n, 16000, "shared internal");
  for (int i = 0; i < 3; i++) {
    aks_session_free(s[i]);
    col_free(&c[i]);
    free(au[i].pcm);
  }
  CHECK_EQ(aks_loop_free(loop), AKS_OK);
}

/* ---- TLS, reconnect, liveness -------------------------------------------------------------- */

/* A self-signed certificate made now (never committed): cert.pem names `names` (an
 * openssl subjectAltName list), key.pem is its key. Returns 0 when made. */
static int make_cert(const char *dir, const char *stem, const char *names) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=avatarkit-test "
           "-addext 'subjectAltName=%s' -keyout '%s/%s.key' -out '%s/%s.pem' >/dev/null 2>&1",
           names, dir, stem, dir, stem);
  return system(cmd) == 0 ? 0 : -1;
}

static void rm_dir(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* start() must fail with a TLS error. */
static void expect_tls_failure(const server *srv, const char *ca_file, const char *what,
                               const char *why) {
  char tok[AKS_TOKEN_MAX];
  server trusted = *srv;
  fetch_token(&trusted, 60, tok, sizeof tok); /* over https with the right CA */
  collector c;
  col_init(&c);
  aks_config cfg = base_config(srv, 16000);
  cfg.api_key = NULL;
  cfg.console_url = NULL;
  cfg.session_token = tok;
  cfg.ca_file = ca_file;
  aks_session *s = NULL;
  CHECK_EQ(aks_session_new(&cfg, &k_cbs, &c, &s), AKS_OK);
  if (s) {
    CHECK_EQ(aks_session_start(s, NULL, 0), AKS_CONNECTION_FAILED);
    aks_error_info e;
    CHECK_EQ(aks_session_last_error(s, &e), 1);
    printf("  %s: %s (%s) %s\n", what, aks_error_name(e.code), aks_phase_name(e.phase), e.message);
    CHECK(strstr(e.message, "TLS") != NULL);
    CHECK(strstr(e.message, why) != NULL);
    CHECK_EQ(e.phase, AKS_PHASE_WEBSOCKET_CONNECT);
    aks_session_free(s);
  }
  col_free(&c);
}

static void test_tls(void) {
  printf("tls\n");
  char dir[] = "/tmp/aks-tls-XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(!"mkdtemp");
    return;
  }
  CHECK_EQ(make_cert(dir, "good", "DNS:localhost,IP:127.0.0.1"), 0);
  CHECK_EQ(make_cert(dir, "other", "DNS:other.example"), 0);
  char good_pem[300], good_key[300], other_pem[300], other_key[300];
  snprintf(good_pem, sizeof good_pem, "%s/good.pem", dir);
  snprintf(good_key, sizeof good_key, "%s/good.key", dir);
  snprintf(other_pem, sizeof other_pem, "%s/other.pem", dir);
  snprintf(other_key, sizeof other_key, "%s/other.key", dir);

  /* The server refuses half a TLS configuration (usage error, 2) and a key it cannot load. */
  {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' --listen 127.0.0.1:0 --tls-cert '%s' >/dev/null 2>&1",
             g_server_bin, good_pem);
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    snprintf(cmd, sizeof cmd,
             "timeout 20 '%s' --listen 127.0.0.1:0 --tls-cert '%s' --tls-key '%s/none.key' "
             ">/dev/null 2>&1",
             g_server_bin, good_pem, dir);
    st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
  }
  server srv;
  if (server_start_on(&srv, NULL, 0, good_pem, good_key) != 0) {
    CHECK(!"TLS server did not start");
    rm_dir(dir);
    return;
  }
  srv.ca_file = good_pem;
  /* Right CA file: token over https, stream over wss (INTERNAL and EXTERNAL). */
  for (int external = 0; external <= 1; external++) {
    collector c;
    col_init(&c);
    aks_config cfg = base_config(&srv, 16000);
    cfg.ca_file = good_pem;
    cfg.threading = external ? AKS_THREAD_EXTERNAL : AKS_THREAD_INTERNAL;
    aks_session *s = open_session(&cfg, &c);
    if (s) {
      CHECK(col_wait(&c, p_connected, NULL, WAIT_MS));
      audio a = gen_audio(16000, 1.0, 3);
      char req[AK_ID_LEN + 1];
      if (stream_request(s, &c, a.pcm, a.n, 16000, 40, req) == 0)
        check_request(&c, req, a.n, 16000, external ? "wss external" : "wss internal");
      free(a.pcm);
      CHECK_EQ(c.n_err, 0);
      aks_session_free(s);
    }
    col_free(&c);
  }
  /* A shared loop: sessions with and without the CA file side by side (one TLS client
   * context per ca_file); only the one that trusts the server gets in. */
  {
    aks_loop *loop = NULL;
    CHECK_EQ(aks_loop_new(AKS_THREAD_INTERNAL, 4, &loop), AKS_OK);
    collector c1, c2;
    col_init(&c1);
    col_init(&c2);
    aks_config cfg = base_config(&srv, 16000);
    cfg.ca_file = good_pem;
    aks_session *s1 = NULL, *s2 = NULL;
    CHECK_EQ(aks_session_new_on_loop(loop, &cfg, &k_cbs, &c1, &s1), AKS_OK);
    char tok[AKS_TOKEN_MAX];
    fetch_token(&srv, 60, tok, sizeof tok);
    aks_config cfg2 = base_config(&srv, 16000);
    cfg2.api_key = NULL;
    cfg2.console_url = NULL;
    cfg2.session_token = tok;
    CHECK_EQ(aks_session_new_on_loop(loop, &cfg2, &k_cbs, &c2, &s2), AKS_OK);
    if (s1 && s2) {
      CHECK_EQ(aks_session_init(s1), AKS_OK);
      CHECK_EQ(aks_session_start(s1, NULL, 0), AKS_OK);
      CHECK_EQ(aks_session_start(s2, NULL, 0), AKS_CONNECTION_FAILED);
      audio a = gen_audio(16000, 0.5, 4);
      char req[AK_ID_LEN + 1];
      if (stream_request(s1, &c1, a.pcm, a.n, 16000, 40, req) == 0)
        check_request(&c1, req, a.n, 16000, "wss shared loop");
      free(a.pcm);
    }
    aks_session_free(s1);
    aks_session_free(s2);
    CHECK_EQ(aks_loop_free(loop), AKS_OK);
    col_free(&c1);
    col_free(&c2);
  }
  /* No CA file: the system store does not trust a self-signed certificate. */
  expect_tls_failure(&srv, NULL, "no ca_file", "self-signed");
  /* A CA file that does not exist is refused at once. */
  {
    aks_config cfg = base_config(&srv, 16000);
    cfg.ca_file = "/nonexistent/ca.pem";
    aks_session *s = NULL;
    CHECK_EQ(aks_session_new(&cfg, NULL, NULL, &s), AKS_INVALID_ARGUMENT);
    CHECK(s == NULL);
  }
  CHECK(server_alive(&srv));
  server_stop(&srv);

  /* Trusted chain, wrong host name: the certificate names other.example, not 127.0.0.1. */
  server other;
  if (server_start_on(&other, NULL, 0, other_pem, other_key) == 0) {
    other.ca_file = other_pem;
    collector c;
    col_init(&c);
    aks_config cfg = base_config(&other, 16000);
    cfg.ca_file = other_pem;
    aks_session *s = NULL;
    CHECK_EQ(aks_session_new(&cfg, &k_cbs, &c, &s), AKS_OK);
    /* the token call (curl) checks the host name as well */
    CHECK_EQ(aks_session_init(s), AKS_CONNECTION_FAILED);
    aks_session_free(s);
    col_free(&c);
    /* the WebSocket: token fetched without host check is not possible here, so use a
     * token from a second server sharing the secret */
    server_stop(&other);
  } else {
    CHECK(!"second TLS server did not start");
  }
  {
    const char *secret[] = {
        "--token-secret", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NULL};
    server a, b;
    if (server_start_on(&a, secret, 0, good_pem, good_key) == 0) {
      a.ca_file = good_pem;
      if (server_start_on(&b, secret, 0, other_pem, other_key) == 0) {
        /* a token from server a (trusted) is valid at b: only b's host name is wrong */
        char tok[AKS_TOKEN_MAX];
        fetch_token(&a, 60, tok, sizeof tok);
        collector c;
        col_init(&c);
        aks_config cfg = base_config(&b, 16000);
        cfg.api_key = NULL;
        cfg.console_url = NULL;
        cfg.session_token = tok;
        cfg.ca_file = other_pem;
        aks_session *s = NULL;
        CHECK_EQ(aks_session_new(&cfg, &k_cbs, &c, &s), AKS_OK);
        if (s) {
          CHECK_EQ(aks_session_start(s, NULL, 0), AKS_CONNECTION_FAILED);
          aks_error_info e;
          CHECK_EQ(aks_session_last_error(s, &e), 1);
          printf("  wrong host name: %s (%s) %s\n", aks_error_name(e.code), aks_phase_name(e.phase),
                 e.message);
          CHECK(strstr(e.message, "TLS") != NULL);
          CHECK(strstr(e.message, "mismatch") != NULL);
          aks_session_free(s);
        }
        col_free(&c);
        server_stop(&b);
      } else {
        CHECK(!"TLS server b did not start");
      }
      server_stop(&a);
    } else {
      CHECK(!"TLS server a did not start");
    }
  }
  rm_dir(dir);
}

/* Token provider of the reconnect tests: a fresh token from the console API for each call. */
typedef struct provider_ctx {
  const server *srv;
  _Atomic int calls, ok;
  char last[AKS_TOKEN_MAX];
} provider_ctx;

static int provide_token(void *user, char *buf, size_t cap) {
  provider_ctx *p = user;
  p->calls++;
  aks__http_result *r = malloc(sizeof *r);
  if (!r) return -1;
  aks__token_fetch(p->srv->console, API_KEY, 60, 2000, p->srv->ca_file, r);
  int rc = -1;
  if (r->code == AKS_OK && strlen(r->token) < cap) {
    snprintf(buf, cap, "%s", r->token);
    snprintf(p->last, sizeof p->last, "%s", r->token);
    p->ok++;
    rc = 0;
  }
  free(r);
  return rc;
}

static int p_connected2(collector *c, const void *arg) {
  (void)arg;
  return c->connected >= 2;
}
static int p_err_code(collector *c, const void *arg) {
  for (int i = 0; i < c->n_err; i++)
    if ((int)c->errs[i].code == *(const int *)arg) return 1;
  return 0;
}
static int find_err(collector *c, int code, const char *req) {
  pthread_mutex_lock(&c->mu);
  int at = -1;
  for (int i = 0; i < c->n_err && at < 0; i++)
    if ((int)c->errs[i].code == code && (!req || strcmp(c->err_reqs[i], req) == 0)) at = i;
  pthread_mutex_unlock(&c->mu);
  return at;
}

/* Sends the first second of a request without its end and waits for its first motion: the
 * request is in flight. */
static int start_inflight(aks_session *s, collector *c, char *req) {
  audio a = gen_audio(16000, 1.0, 7);
  int rc = aks_session_send_audio(s, a.pcm, a.n * 2, 0, req, AK_ID_LEN + 1);
  free(a.pcm);
  CHECK_EQ(rc, AKS_OK);
  if (rc != AKS_OK) return -1;
  int ok = col_wait(c, p_first_motion, req, WAIT_MS);
  CHECK(ok);
  return ok ? 0 : -1;
}

static void kill_server(server *srv, int sig) {
  kill(srv->pid, sig);
  if (sig == SIGKILL) {
    waitpid(srv->pid, NULL, 0);
    srv->pid = 0;
  }
}

/* A token provider that takes its time and then fails. */
typedef struct slow_ctx {
  _Atomic int entered, finished;
} slow_ctx;

static int slow_provider(void *user, char *buf, size_t cap) {
  slow_ctx *p = user;
  (void)buf;
  (void)cap;
  p->entered = 1;
  sleep_ms(500);
  p->finished = 1;
  return -1;
}

static void test_reconnect(void) {
  printf("reconnect\n");
  server srv;
  if (server_start(&srv, NULL) != 0) {
    CHECK(!"server did not start");
    return;
  }
  int port = srv.port;
  /* 1. reconnect on: kill -9 mid-request, restart on the same port. */
  {
    provider_ctx pc = {.srv = &srv};
    collector c;
    col_init(&c);
    aks_config cfg = base_config(&srv, 16000);
    cfg.reconnect = 1;
    cfg.reconnect_initial_ms = 50;
    cfg.reconnect_max_ms = 400;
    cfg.reconnect_max_attempts = 200; /* bounded: ~80 s at most, the restart takes < 10 s */
    cfg.token_provider = provide_token;
    cfg.token_provider_user = &pc;
    aks_session *s = open_session(&cfg, &c);
    char first_token[AKS_TOKEN_MAX] = "";
    char cut[AK_ID_LEN + 1] = "";
    if (s && start_inflight(s, &c, cut) == 0) {
      snprintf(first_token, sizeof first_token, "%s", c.conn_id);
      kill_server(&srv, SIGKILL);
      int code = AKS_REQUEST_ABORTED;
      CHECK(col_wait(&c, p_err_code, &code, WAIT_MS));
      int at = find_err(&c, AKS_REQUEST_ABORTED, cut);
      CHECK(at >= 0); /* the cut request ends with an error carrying its id */
      if (at >= 0) printf("  cut %s: %s\n", cut, c.err_msgs[at]);
      CHECK(find_err(&c, AKS_CONNECTION_CLOSED, NULL) >= 0); /* the loss itself */
      /* continuing the cut request is refused, never replayed */
      int16_t pcm[320] = {0};
      CHECK_EQ(aks_session_send_audio(s, pcm, sizeof pcm, 1, NULL, 0), AKS_REQUEST_ABORTED);
      /* the server comes back on the same port with a new token secret: only a fresh token
       * gets in */
      CHECK_EQ(server_start_on(&srv, NULL, port, NULL, NULL), 0);
      CHECK(col_wait(&c, p_connected2, NULL, WAIT_MS));
      CHECK(pc.ok >= 1);
      printf("  reconnected after %d token call(s) (%d ok), connection %s\n", (int)pc.calls,
             (int)pc.ok, c.conn_id);
      CHECK(strcmp(first_token, c.conn_id) != 0);
      /* a request started after the reconnect streams */
      audio a = gen_audio(16000, 1.0, 9);
      char req[AK_ID_LEN + 1];
      if (stream_request(s, &c, a.pcm, a.n, 16000, 40, req) == 0)
        check_request(&c, req, a.n, 16000, "after reconnect");
      free(a.pcm);
      CHECK(strcmp(req, cut) != 0);
      pthread_mutex_lock(&c.mu);
      req_stats *r = find_req(&c, cut);
      CHECK(r && !r->msg_last); /* the cut request never finished anywhere */
      CHECK_EQ(c.close_count, 0);
      pthread_mutex_unlock(&c.mu);
      CHECK_EQ(aks_session_close(s), AKS_OK);
      CHECK(col_wait(&c, p_closed, NULL, WAIT_MS)); /* on_close may run just after close() */
      CHECK_EQ(c.close_count, 1);
    }
    aks_session_free(s);
    col_free(&c);
  }
  /* 2. reconnect off: the session reports the loss, closes and stays closed. */
  {
    collector c;
    col_init(&c);
    aks_config cfg = base_config(&srv, 16000);
    aks_session *s = open_session(&cfg, &c);
    char cut[AK_ID_LEN + 1] = "";
    if (s && start_inflight(s, &c, cut) == 0) {
      kill_server(&srv, SIGKILL);
      CHECK(col_wait(&c, p_closed, NULL, WAIT_MS));
      CHECK(find_err(&c, AKS_CONNECTION_CLOSED, NULL) >= 0);
      int aborted = AKS_REQUEST_ABORTED;
      CHECK(col_wait(&c, p_err_code, &aborted, WAIT_MS));
      CHECK(find_err(&c, AKS_REQUEST_ABORTED, cut) >= 0);
      CHECK_EQ(server_start_on(&srv, NULL, port, NULL, NULL), 0);
      CHECK(!col_wait(&c, p_connected2, NULL, 1500)); /* nothing comes back */
      int16_t pcm[320] = {0};
      CHECK_EQ(aks_session_send_audio(s, pcm, sizeof pcm, 1, NULL, 0), AKS_INVALID_STATE);
      CHECK_EQ(c.connected, 1);
      CHECK_EQ(c.close_count, 1);
    }
    aks_session_free(s);
    col_free(&c);
  }
  /* 3. reconnect on, server gone for good: gives up after the attempts, then closes. */
  {
    collector c;
    col_init(&c);
    aks_config cfg = base_config(&srv, 16000); /* console fetch for the fresh token */
    cfg.reconnect = 1;
    cfg.reconnect_initial_ms = 20;
    cfg.reconnect_max_ms = 80;
    cfg.reconnect_max_attempts = 3;
    cfg.threading = AKS_THREAD_EXTERNAL;
    aks_session *s = open_session(&cfg, &c);
    if (s) {
      CHECK(col_wait(&c, p_connected, NULL, WAIT_MS));
      kill_server(&srv, SIGKILL);
      CHECK(col_wait(&c, p_closed, NULL, WAIT_MS));
      pthread_mutex_lock(&c.mu);
      CHECK(c.n_err >= 2);
      if (c.n_err >= 2) printf("  gave up: %s\n", c.err_msgs[c.n_err - 1]);
      CHECK(c.n_err >= 2 && strstr(c.err_msgs[c.n_err - 1], "gave up after 3") != NULL);
      pthread_mutex_unlock(&c.mu);
      CHECK_EQ(c.close_count, 1);
      CHECK_EQ(c.connected, 1);
    }
    aks_session_free(s);
    col_free(&c);
  }
  /* 4. free() while the token provider runs (shared loop): it waits for the call to end. */
  if (server_start(&srv, NULL) == 0) {
    slow_ctx sc = {0};
    aks_loop *loop = NULL;
    CHECK_EQ(aks_loop_new(AKS_THREAD_INTERNAL, 2, &loop), AKS_OK);
    collector c;
    col_init(&c);
    aks_config cfg = base_config(&srv, 16000);
    cfg.reconnect = 1;
    cfg.reconnect_initial_ms = 10;
    cfg.reconnect_max_ms = 10;
    cfg.token_provider = slow_provider;
    cfg.token_provider_user = &sc;
    aks_session *s = NULL;
    CHECK_EQ(aks_session_new_on_loop(loop, &cfg, &k_cbs, &c, &s), AKS_OK);
    if (s && aks_session_init(s) == AKS_OK && aks_session_start(s, NULL, 0) == AKS_OK) {
      kill_server(&srv, SIGKILL);
      for (int i = 0; i < 1500 && !sc.entered; i++) sleep_ms(20);
      CHECK(sc.entered);
      aks_session_free(s);
      CHECK(sc.finished); /* the provider's user pointer may go away now */
    } else {
      CHECK(!"session on a shared loop did not start");
      aks_session_free(s);
    }
    CHECK_EQ(aks_loop_free(loop), AKS_OK);
    col_free(&c);
  } else {
    CHECK(!"server did not start");
  }
  server_stop(&srv);
}

static void test_liveness(void) {
  printf("liveness\n");
  {
    /* a live but quiet server answers the pings: no false alarm over several bounds */
    server srv;
    if (server_start(&srv, NULL) != 0) {
      CHECK(!"server did not start");
      return;
    }
    collector c;
    col_init(&c);
    aks_config cfg = base_config(&srv, 16000);
    cfg.liveness_timeout_ms = 2000; /* margin for a loaded machine */
    aks_session *s = open_session(&cfg, &c);
    if (s) {
      CHECK(!col_wait(&c, p_error, NULL, 5000)); /* 2.5 bounds of silence from the app */
      audio a = gen_audio(16000, 0.5, 5);
      char req[AK_ID_LEN + 1];
      if (stream_request(s, &c, a.pcm, a.n, 16000, 40, req) == 0)
        check_request(&c, req, a.n, 16000, "quiet, then audio");
      free(a.pcm);
      CHECK_EQ(c.n_err, 0);
    }
    aks_session_free(s);
    col_free(&c);
    server_stop(&srv);
  }
  for (int reconnect = 0; reconnect <= 1; reconnect++) {
    server srv;
    if (server_start(&srv, NULL) != 0) {
      CHECK(!"server did not start");
      return;
    }
    collector c;
    col_init(&c);
    aks_config cfg = base_config(&srv, 16000);
    cfg.liveness_timeout_ms = 2000;
    cfg.reconnect = reconnect;
    cfg.reconnect_initial_ms = 50;
    cfg.reconnect_max_ms = 200;
    cfg.reconnect_max_attempts = 100;
    cfg.connect_timeout_ms = 2000;
    aks_session *s = open_session(&cfg, &c);
    char cut[AK_ID_LEN + 1] = "";
    if (s && start_inflight(s, &c, cut) == 0) {
      kill(srv.pid, SIGSTOP); /* the TCP peer stays up and answers nothing */
      int code = AKS_TIMEOUT;
      CHECK(col_wait(&c, p_err_code, &code, WAIT_MS));
      int at = find_err(&c, AKS_TIMEOUT, NULL);
      CHECK(at >= 0);
      if (at >= 0) {
        printf("  silent server (reconnect %d): %s\n", reconnect, c.err_msgs[at]);
        CHECK(strstr(c.err_msgs[at], "silent") != NULL);
        CHECK_EQ(c.errs[at].phase, AKS_PHASE_WEBSOCKET_RUNTIME);
      }
      /* the cut request is reported after the session's error: wait for it too */
      int aborted = AKS_REQUEST_ABORTED;
      CHECK(col_wait(&c, p_err_code, &aborted, WAIT_MS));
      CHECK(find_err(&c, AKS_REQUEST_ABORTED, cut) >= 0);
      if (!reconnect) CHECK(col_wait(&c, p_closed, NULL, WAIT_MS));
      kill(srv.pid, SIGCONT);
      if (reconnect) {
        CHECK(col_wait(&c, p_connected2, NULL, WAIT_MS));
        int16_t pcm[320] = {0}; /* the cut request is not continued... */
        CHECK_EQ(aks_session_send_audio(s, pcm, sizeof pcm, 0, NULL, 0), AKS_REQUEST_ABORTED);
        audio a = gen_audio(16000, 0.5, 11); /* ...a new one streams */
        char req[AK_ID_LEN + 1];
        if (stream_request(s, &c, a.pcm, a.n, 16000, 40, req) == 0)
          check_request(&c, req, a.n, 16000, "after silence");
        free(a.pcm);
      }
    } else {
      kill(srv.pid, SIGCONT);
    }
    aks_session_free(s);
    CHECK_EQ(c.close_count, 1);
    col_free(&c);
    CHECK(server_alive(&srv));
    server_stop(&srv);
  }
}

/* A counter from the server's /metrics (plain GET over loopback); -1 when it cannot be read. */
static long metric_value(const server *srv, const char *name) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  long v = -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
    static char body[1 << 17];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof body - 1 && (n = read(fd, body + got, sizeof body - 1 - got)) > 0)
      got += (size_t)n;
    body[got] = '\0';
    const char *at = strstr(body, name);
    if (at) v = strtol(at + strlen(name), NULL, 10);
  }
  close(fd);
  return v;
}

/* A reconnect refused by the server's new-session rate limit (429 + Retry-After, as in a
 * reconnect storm) is tried again after the Retry-After, not given up on and not hammered. */
static void test_reconnect_rate_limited(void) {
  printf("reconnect refused by the session rate limit\n");
  /* one session at once per address, then one per 10 s: the reconnect comes too early */
  const char *const extra[] = {"--session-rate-ip", "0.1:1", NULL};
  server srv;
  if (server_start(&srv, extra) != 0) {
    CHECK(!"server did not start");
    return;
  }
  provider_ctx pc = {.srv = &srv};
  collector c;
  col_init(&c);
  aks_config cfg = base_config(&srv, 16000);
  cfg.liveness_timeout_ms = 600;
  cfg.reconnect = 1;
  cfg.reconnect_initial_ms = 50;
  cfg.reconnect_max_ms = 200; /* without Retry-After: an attempt every 0.1-0.2 s */
  cfg.reconnect_max_attempts = 1000;
  cfg.connect_timeout_ms = 2000;
  cfg.token_provider = provide_token;
  cfg.token_provider_user = &pc;
  aks_session *s = open_session(&cfg, &c);
  if (s) {
    kill(srv.pid, SIGSTOP); /* silent: the session reconnects */
    int code = AKS_TIMEOUT;
    CHECK(col_wait(&c, p_err_code, &code, WAIT_MS));
    kill(srv.pid, SIGCONT);
    CHECK(col_wait(&c, p_connected2, NULL, WAIT_MS)); /* it got back in */
    long refused = metric_value(&srv, "avatarkit_sessions_rate_limited_total{scope=\"ip\"} ");
    printf("  reconnected after %d token call(s); upgrades refused with 429: %ld\n", (int)pc.calls,
           refused);
    CHECK(refused >= 1); /* the limit did refuse it on the way */
    /* it waited for the Retry-After (seconds) instead of trying every 0.1-0.2 s */
    CHECK(refused <= 3);
    CHECK(pc.calls <= 8);
    pthread_mutex_lock(&c.mu);
    CHECK_EQ(c.close_count, 0);
    pthread_mutex_unlock(&c.mu);
  } else {
    kill(srv.pid, SIGCONT);
  }
  aks_session_free(s);
  col_free(&c);
  server_stop(&srv);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s SERVER_BINARY clips DIR|generated|errors|abuse|modes\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  lws_set_log_level(LLL_ERR, NULL);
  g_server_bin = argv[1];
  const char *suite = argv[2];
  int rc = 0;
  if (strcmp(suite, "errors") == 0) {
    test_errors();
  } else if (strcmp(suite, "abuse") == 0) {
    test_abuse();
  } else if (strcmp(suite, "idle") == 0) {
    test_idle_timeout();
  } else if (strcmp(suite, "tls") == 0) {
    test_tls();
  } else if (strcmp(suite, "reconnect") == 0) {
    test_reconnect();
    test_reconnect_rate_limited();
  } else if (strcmp(suite, "liveness") == 0) {
    test_liveness();
  } else {
    server srv;
    if (server_start(&srv, NULL) != 0) {
      fprintf(stderr, "cannot start %s\n", g_server_bin);
      return 1;
    }
    if (strcmp(suite, "clips") == 0)
      rc = suite_clips(&srv, argc > 3 ? argv[3] : "../shared/data");
    else if (strcmp(suite, "generated") == 0) {
      suite_generated(&srv);
      printf("payload views checked against the relayed bytes: %ld\n", (long)g_views_checked);
      CHECK(g_views_checked > 0);
    } else if (strcmp(suite, "interrupt") == 0)
      test_interrupt(&srv);
    else if (strcmp(suite, "modes") == 0)
      test_modes(&srv);
    else
      fprintf(stderr, "unknown suite %s\n", suite), rc = 2;
    CHECK(server_alive(&srv));
    server_stop(&srv);
  }
  printf("sdk e2e %s: %d checks, %d failed\n", suite, g_checks, g_fail);
  if (g_fail) return 1;
  return rc;
}
