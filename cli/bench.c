/* `avatarkit bench`: N concurrent real-time sessions on one shared SDK loop (EXTERNAL mode,
 * this thread), streaming a clip (or generated speech-like audio). Measures first-frame and
 * per-chunk latency percentiles and the server's CPU seconds per audio second (/proc), and in
 * ramp mode the largest N that stays real time. Every phase is bounded in time. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "avatarkit/sdk.h"
#include "cli.h"

#define MAX_SESSIONS 4000
#define PENDING_CHUNKS 4096 /* chunks awaiting their motion, per session */
/* Real time means: p95 per-chunk latency within this bound (engine lookahead included) and
 * every request finished, no session error. */
#define REALTIME_P95_MS 250.0
#define SEND_SLACK_MS 2.0

typedef struct lat_list {
  double *v;
  size_t n, cap;
} lat_list;

static void lat_add(lat_list *l, double x) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 1024;
    double *nv = realloc(l->v, cap * sizeof *nv);
    if (!nv) return;
    l->v = nv;
    l->cap = cap;
  }
  l->v[l->n++] = x;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(lat_list *l, double p) {
  if (!l->n) return NAN;
  qsort(l->v, l->n, sizeof *l->v, cmp_double);
  size_t i = (size_t)ceil(p / 100.0 * (double)l->n);
  if (i > 0) i--;
  if (i >= l->n) i = l->n - 1;
  return l->v[i];
}

typedef struct bsess {
  struct bench *b;
  aks_session *s;
  int connected, failed, closed;
  char req[64];
  int in_request, waiting_end;
  size_t pos;    /* next sample of the clip */
  double t_next; /* when the next chunk is due */
  double t_first_sent;
  int got_first;
  uint32_t frames;
  int fps;
  struct {
    double t;
    uint32_t need;
  } pend[PENDING_CHUNKS];
  int pend_head, pend_n;
  double audio_sent_s;
  int requests_done;
} bsess;

typedef struct bench {
  const int16_t *pcm;
  size_t n;
  int rate;
  int chunk_ms;
  lat_list first, chunk;
  int errors, unfinished;
  char first_error[256];
  double max_send_lag_ms;
} bench;

static void b_connected(void *user, const char *id) {
  bsess *s = user;
  s->connected = 1;
}

static void b_motion(void *user, const aks_motion *m) {
  bsess *s = user;
  if (!s->in_request && !s->waiting_end) return;
  if (strcmp(m->req_id, s->req) != 0) return;
  double t = cli_now_ms();
  if (!s->got_first && m->frame_count) {
    s->got_first = 1;
    lat_add(&s->b->first, t - s->t_first_sent);
  }
  s->frames = m->first_frame + m->frame_count;
  s->fps = m->fps;
  while (s->pend_n && s->pend[s->pend_head].need <= s->frames) {
    lat_add(&s->b->chunk, t - s->pend[s->pend_head].t);
    s->pend_head = (s->pend_head + 1) % PENDING_CHUNKS;
    s->pend_n--;
  }
}

static void b_message(void *user, const char *req_id, const uint8_t *msg, size_t len, int last) {
  bsess *s = user;
  if (last && s->waiting_end && strcmp(req_id, s->req) == 0) {
    s->waiting_end = 0;
    s->requests_done++;
    s->pend_n = 0;
  }
}

static void b_error(void *user, const aks_error *e) {
  bsess *s = user;
  s->failed = 1;
  s->b->errors++;
  if (!s->b->first_error[0])
    snprintf(s->b->first_error, sizeof s->b->first_error, "%s (%s): %s", aks_error_name(e->code),
             aks_phase_name(e->phase), e->message ? e->message : "");
}

static void b_close(void *user, int code, const char *reason) {
  bsess *s = user;
  s->closed = 1;
}

/* Sends the session's due chunk, if any. */
static void pump_send(bsess *s, double now) {
  bench *b = s->b;
  /* chunks due within SEND_SLACK_MS go now: fewer, fuller loop passes (less poll() work
   * with hundreds of sockets) for at most that much earliness */
  if (!s->connected || s->failed || s->waiting_end || now + SEND_SLACK_MS < s->t_next) return;
  size_t chunk = (size_t)b->rate * (size_t)b->chunk_ms / 1000;
  size_t k = b->n - s->pos < chunk ? b->n - s->pos : chunk;
  int last = s->pos + k >= b->n;
  char id[64];
  if (now - s->t_next > b->max_send_lag_ms) b->max_send_lag_ms = now - s->t_next;
  if (aks_session_send_audio(s->s, b->pcm + s->pos, k * 2, last, id, sizeof id) != AKS_OK) {
    s->failed = 1;
    b->errors++;
    return;
  }
  if (!s->in_request) {
    s->in_request = 1;
    snprintf(s->req, sizeof s->req, "%s", id);
    s->t_first_sent = now;
    s->got_first = 0;
    s->frames = 0;
    s->pend_n = s->pend_head = 0;
  }
  s->pos += k;
  s->audio_sent_s += (double)k / b->rate;
  int fps = s->fps ? s->fps : 25;
  /* motion for this chunk: every frame that ends within the audio sent so far */
  uint32_t need = (uint32_t)floor((double)s->pos / b->rate * fps);
  if (last) need = (uint32_t)ceil((double)s->pos / b->rate * fps - 1e-9);
  if (s->pend_n < PENDING_CHUNKS && need > 0) {
    int at = (s->pend_head + s->pend_n) % PENDING_CHUNKS;
    s->pend[at].t = now;
    s->pend[at].need = need;
    s->pend_n++;
  }
  s->t_next += b->chunk_ms;
  if (last) {
    s->in_request = 0;
    s->waiting_end = 1;
    s->pos = 0;
  }
}

/* Ends the request being streamed with an empty end=1 chunk. */
static void end_request(bsess *s) {
  if (aks_session_send_audio(s->s, NULL, 0, 1, NULL, 0) != AKS_OK) {
    s->failed = 1;
    s->b->errors++;
    return;
  }
  int fps = s->fps ? s->fps : 25;
  uint32_t need = (uint32_t)ceil((double)s->pos / s->b->rate * fps - 1e-9);
  if (s->pend_n < PENDING_CHUNKS && need > 0) {
    int at = (s->pend_head + s->pend_n) % PENDING_CHUNKS;
    s->pend[at].t = cli_now_ms();
    s->pend[at].need = need;
    s->pend_n++;
  }
  s->in_request = 0;
  s->waiting_end = 1;
  s->pos = 0;
}

/* CPU seconds (user + system) of a process from /proc/PID/stat, or -1. */
static double proc_cpu_s(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* comm may hold spaces */
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  /* after ") ": state(3) ... utime is field 14, stime 15 */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Seconds spent waiting for a CPU while runnable (/proc/PID/schedstat field 2), or -1: shows
 * when a loaded machine, not the code, is why a run fell behind. */
static double proc_wait_s(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  unsigned long long run = 0, wait = 0;
  int ok = fscanf(f, "%llu %llu", &run, &wait) == 2;
  fclose(f);
  return ok ? (double)wait / 1e9 : -1;
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

typedef struct run_result {
  int sessions, connected;
  double first_p50, first_p95, first_p99, chunk_p50, chunk_p95, chunk_p99;
  size_t n_first, n_chunk;
  double audio_s, server_cpu_s, client_cpu_s, wall_s, max_lag, server_wait_s, client_wait_s;
  int errors, requests;
  int realtime;
  char first_error[256];
} run_result;

typedef struct target {
  const char *console, *ingress, *api_key, *app_id, *avatar;
  pid_t server_pid;
  const char *ca_file; /* --ca-file, or NULL: the system store */
} target;

/* One measured run of n sessions for duration_s. */
static int run_once(const target *t, bench *b, int n, double duration_s, run_result *res) {
  memset(res, 0, sizeof *res);
  b->first.n = b->chunk.n = 0;
  b->errors = 0;
  b->first_error[0] = 0;
  b->max_send_lag_ms = 0;
  aks_loop *loop = NULL;
  if (aks_loop_new(AKS_THREAD_EXTERNAL, n, &loop) != AKS_OK) return -1;
  bsess *ss = calloc((size_t)n, sizeof *ss);
  if (!ss) {
    aks_loop_free(loop);
    return -1;
  }
  aks_callbacks cbs = {b_connected, b_message, NULL, b_motion, b_error, b_close};
  aks_config cfg;
  aks_config_default(&cfg);
  cfg.api_key = t->api_key;
  cfg.app_id = t->app_id;
  cfg.avatar_id = t->avatar;
  cfg.console_url = t->console;
  cfg.ingress_url = t->ingress;
  cfg.ca_file = t->ca_file;
  cfg.sample_rate = b->rate;
  cfg.connect_timeout_ms = 20000;
  for (int i = 0; i < n; i++) {
    ss[i].b = b;
    if (aks_session_new_on_loop(loop, &cfg, &cbs, &ss[i], &ss[i].s) != AKS_OK ||
        aks_session_init(ss[i].s) != AKS_OK || aks_session_start(ss[i].s, NULL, 0) != AKS_OK) {
      ss[i].failed = 1;
      b->errors++;
    }
  }
  /* connect phase, bounded */
  double t_conn = cli_now_ms() + 30000;
  int connected = 0;
  while (cli_now_ms() < t_conn) {
    aks_loop_service(loop, 5);
    connected = 0;
    int settled = 0;
    for (int i = 0; i < n; i++) {
      connected += ss[i].connected;
      settled += ss[i].connected || ss[i].failed;
    }
    if (settled == n) break;
  }
  res->connected = connected;
  /* streaming phase: staggered starts over one chunk period x 4 */
  double t0 = cli_now_ms();
  for (int i = 0; i < n; i++) ss[i].t_next = t0 + (double)i * (4.0 * b->chunk_ms) / n;
  double srv0 = t->server_pid > 0 ? proc_cpu_s(t->server_pid) : -1, me0 = self_cpu_s();
  double sw0 = t->server_pid > 0 ? proc_wait_s(t->server_pid) : -1, mw0 = proc_wait_s(getpid());
  double t_stop = t0 + duration_s * 1000;
  for (;;) {
    double now = cli_now_ms();
    int active = 0;
    for (int i = 0; i < n; i++) {
      bsess *s = &ss[i];
      if (s->failed || !s->connected) continue;
      if (now < t_stop && !s->waiting_end) pump_send(s, now);
      /* at the stop time a request being streamed is ended where it is */
      if (now >= t_stop && s->in_request) end_request(s);
      if (s->in_request || s->waiting_end) active++;
    }
    if (now >= t_stop && !active) break;
    if (now > t_stop + 15000) break; /* drain bound */
    double next = t_stop;
    for (int i = 0; i < n; i++)
      if (ss[i].connected && !ss[i].failed && !ss[i].waiting_end && ss[i].t_next < next)
        next = ss[i].t_next;
    int wait = (int)(next - SEND_SLACK_MS - cli_now_ms());
    aks_loop_service(loop, wait < 1 ? 1 : wait > 5 ? 5 : wait);
  }
  double t1 = cli_now_ms();
  double srv1 = t->server_pid > 0 ? proc_cpu_s(t->server_pid) : -1, me1 = self_cpu_s();
  double sw1 = t->server_pid > 0 ? proc_wait_s(t->server_pid) : -1, mw1 = proc_wait_s(getpid());
  res->server_wait_s = sw0 >= 0 && sw1 >= 0 ? sw1 - sw0 : -1;
  res->client_wait_s = mw0 >= 0 && mw1 >= 0 ? mw1 - mw0 : -1;
  for (int i = 0; i < n; i++) {
    res->audio_s += ss[i].audio_sent_s;
    res->requests += ss[i].requests_done;
    if (ss[i].in_request || ss[i].waiting_end) b->unfinished++, res->errors++;
  }
  for (int i = 0; i < n; i++) aks_session_free(ss[i].s);
  aks_loop_free(loop);
  free(ss);
  res->sessions = n;
  res->n_first = b->first.n;
  res->n_chunk = b->chunk.n;
  res->first_p50 = pct(&b->first, 50);
  res->first_p95 = pct(&b->first, 95);
  res->first_p99 = pct(&b->first, 99);
  res->chunk_p50 = pct(&b->chunk, 50);
  res->chunk_p95 = pct(&b->chunk, 95);
  res->chunk_p99 = pct(&b->chunk, 99);
  res->server_cpu_s = srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1;
  res->client_cpu_s = me1 - me0;
  res->wall_s = (t1 - t0) / 1000;
  res->max_lag = b->max_send_lag_ms;
  res->errors += b->errors;
  snprintf(res->first_error, sizeof res->first_error, "%s", b->first_error);
  res->realtime =
      res->errors == 0 && connected == n && res->n_chunk > 0 && res->chunk_p95 <= REALTIME_P95_MS;
  return 0;
}

static void print_result(const run_result *r) {
  printf(
      "sessions %d (connected %d): first-frame latency p50 %.1f / p95 %.1f / p99 %.1f ms "
      "(%zu requests); per-chunk latency p50 %.1f / p95 %.1f / p99 %.1f ms (%zu chunks)\n",
      r->sessions, r->connected, r->first_p50, r->first_p95, r->first_p99, r->n_first, r->chunk_p50,
      r->chunk_p95, r->chunk_p99, r->n_chunk);
  printf("  audio streamed %.1f s in %.1f s wall; ", r->audio_s, r->wall_s);
  if (r->server_cpu_s >= 0)
    printf("server CPU %.2f s = %.3f%% of a core per real-time session; ", r->server_cpu_s,
           r->audio_s > 0 ? 100.0 * r->server_cpu_s / r->audio_s : 0.0);
  printf("bench client CPU %.2f s; max send lag %.1f ms; errors %d; %s\n", r->client_cpu_s,
         r->max_lag, r->errors, r->realtime ? "REAL TIME" : "NOT real time");
  if (r->server_wait_s >= 0 || r->client_wait_s >= 0)
    printf(
        "  waiting for a CPU while runnable: server %.1f s, bench client %.1f s (of %.1f s; "
        "high values mean a loaded machine)\n",
        r->server_wait_s, r->client_wait_s, r->wall_s);
  if (r->first_error[0]) printf("  first error: %s\n", r->first_error);
  fflush(stdout);
}

/* Starts the motion server next to this binary on a free loopback port. */
static pid_t spawn_server(const char *argv0, const char *key, const char *app, int max_sessions,
                          int *port) {
  char bin[1024], port_file[] = "/tmp/avatarkit-bench-XXXXXX";
  const char *slash = strrchr(argv0, '/');
  if (slash)
    snprintf(bin, sizeof bin, "%.*s/avatarkit-motion-server", (int)(slash - argv0), argv0);
  else
    snprintf(bin, sizeof bin, "avatarkit-motion-server");
  int fd = mkstemp(port_file);
  if (fd < 0) return -1;
  close(fd);
  unlink(port_file);
  char maxs[32];
  snprintf(maxs, sizeof maxs, "%d", max_sessions + 16);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1);
    execl(bin, bin, "--listen", "127.0.0.1:0", "--port-file", port_file, "--api-key", key,
          "--app-id", app, "--log-level", "error", "--max-sessions", maxs, (char *)NULL);
    if (!slash)
      execlp(bin, bin, "--listen", "127.0.0.1:0", "--port-file", port_file, "--api-key", key,
             "--app-id", app, "--log-level", "error", "--max-sessions", maxs, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) {
    FILE *f = fopen(port_file, "r");
    if (f) {
      int p = 0;
      int ok = fscanf(f, "%d", &p) == 1 && p > 0;
      fclose(f);
      if (ok) {
        unlink(port_file);
        *port = p;
        return pid;
      }
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) break;
    cli_sleep_ms(50);
  }
  unlink(port_file);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

/* Speech-like signal when no clip is given: voiced bursts with pauses. */
static int16_t *gen_audio(int rate, double seconds, size_t *n) {
  *n = (size_t)(rate * seconds);
  int16_t *p = malloc(*n * sizeof *p);
  if (!p) return NULL;
  double ph = 0;
  unsigned x = 12345;
  for (size_t i = 0; i < *n; i++) {
    double t = (double)i / rate, syl = fmod(t, 0.3);
    double env = syl < 0.2 ? sin(M_PI * syl / 0.2) : 0;
    ph += 2 * M_PI * (120 + 30 * sin(2 * M_PI * 0.5 * t)) / rate;
    x = x * 1664525u + 1013904223u;
    double v =
        env * (0.5 * sin(ph) + 0.2 * sin(2 * ph)) + 0.01 * ((double)(x >> 8) / 16777216.0 - 0.5);
    p[i] = (int16_t)(v * 20000);
  }
  return p;
}

int cli_cmd_bench(int argc, char **argv, const char *argv0) {
  long sessions = 10, rate = 0, chunk_ms = 40, max_sessions = 400, server_pid = 0;
  double duration = 10;
  int ramp = 0, spawn = 0;
  const char *clip = NULL;
  cli_target_opts o;
  cli_target_opts_init(&o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0, takes = 1;
    if (cli_parse_target_opt(&o, a, v, &bad)) {
      /* server, credentials, avatar, CA file: stored in o */
    } else if (!strcmp(a, "--sessions"))
      bad = cli_parse_int(v, 1, MAX_SESSIONS, &sessions);
    else if (!strcmp(a, "--duration"))
      bad = cli_parse_double(v, 1, 3600, &duration);
    else if (!strcmp(a, "--clip"))
      bad = !(clip = v);
    else if (!strcmp(a, "--rate"))
      bad = cli_parse_int(v, 1000, 192000, &rate);
    else if (!strcmp(a, "--server-pid"))
      bad = cli_parse_int(v, 1, 0x7fffffffL, &server_pid);
    else if (!strcmp(a, "--max-sessions"))
      bad = cli_parse_int(v, 1, MAX_SESSIONS, &max_sessions);
    else if (!strcmp(a, "--chunk-ms"))
      bad = cli_parse_int(v, 10, 1000, &chunk_ms);
    else {
      takes = 0;
      if (!strcmp(a, "--ramp"))
        ramp = 1;
      else if (!strcmp(a, "--spawn"))
        spawn = 1;
      else {
        fprintf(stderr, "bench: unknown argument %s\n", a);
        return 2;
      }
    }
    if (bad) {
      fprintf(stderr, "bench: bad or missing value for %s%s%s\n", a, v ? ": " : "", v ? v : "");
      return 2;
    }
    i += takes;
  }
  if (spawn && (o.server || o.console || server_pid)) {
    fprintf(stderr, "bench: --spawn starts its own server: no --server/--console/--server-pid\n");
    return 2;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(2 * max_sessions + 64)) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)(2 * max_sessions + 64) ? rl.rlim_max
                                                                : (rlim_t)(2 * max_sessions + 64);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  lws_set_log_level(LLL_ERR, NULL);

  bench b;
  memset(&b, 0, sizeof b);
  b.chunk_ms = (int)chunk_ms;
  cli_audio au = {NULL, 0, 0};
  char err[512];
  if (clip) {
    if (cli_load_audio(clip, (int)rate, &au, err, sizeof err) != 0) {
      fprintf(stderr, "bench: %s\n", err);
      return 1;
    }
  } else {
    /* the shared 16 kHz clip when present, else generated audio */
    const char *shared = "../shared/data/speech/clip_16000.pcm";
    struct stat st;
    if (stat(shared, &st) == 0 && cli_load_audio(shared, 16000, &au, err, sizeof err) == 0) {
      clip = shared;
    } else {
      au.rate = 16000;
      au.pcm = gen_audio(16000, 4.0, &au.n);
      if (!au.pcm) return 1;
    }
  }
  b.pcm = au.pcm;
  b.n = au.n;
  b.rate = au.rate;

  char key[64], app[64], curl[512], wurl[512];
  pid_t spawned = -1;
  target t = {NULL, NULL, o.api_key, o.app_id, o.avatar, (pid_t)server_pid, o.ca_file};
  if (spawn) {
    snprintf(key, sizeof key, "bench-key-%d", (int)getpid());
    snprintf(app, sizeof app, "bench-app");
    int port = 0;
    spawned = spawn_server(argv0, key, app, ramp ? (int)max_sessions : (int)sessions, &port);
    if (spawned < 0) {
      fprintf(stderr, "bench: cannot start avatarkit-motion-server next to %s\n", argv0);
      cli_audio_free(&au);
      return 1;
    }
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    cli_server_urls(base, NULL, NULL, curl, wurl, sizeof curl, err, sizeof err);
    t.api_key = key;
    t.app_id = app;
    t.server_pid = spawned;
  } else if (cli_server_urls(o.server, o.console, o.ingress, curl, wurl, sizeof curl, err,
                             sizeof err) != 0) {
    fprintf(stderr, "bench: %s\n", err);
    cli_audio_free(&au);
    return 2;
  }
  if (!t.api_key || !t.app_id) {
    fprintf(stderr, "bench: credentials missing (--api-key/--app-id or env), or use --spawn\n");
    cli_audio_free(&au);
    return 2;
  }
  t.console = curl;
  t.ingress = wurl;
  printf("bench: %s, %.2f s clip at %d Hz (%s), chunks of %ld ms, %.0f s per run%s\n", wurl,
         (double)au.n / au.rate, au.rate, clip ? clip : "generated", chunk_ms, duration,
         t.server_pid > 0 ? "" : " (no server pid: CPU not measured)");
  int rc = 0;
  run_result r;
  if (!ramp) {
    if (run_once(&t, &b, (int)sessions, duration, &r) != 0)
      rc = 1;
    else
      print_result(&r);
    if (!rc && r.errors) rc = 1;
  } else {
    int best = 0;
    for (long n = sessions; n <= max_sessions; n = n * 2) {
      if (run_once(&t, &b, (int)n, duration, &r) != 0) {
        rc = 1;
        break;
      }
      print_result(&r);
      if (!r.realtime) break;
      best = (int)n;
      if (n == max_sessions) break;
      if (n * 2 > max_sessions) n = max_sessions / 2; /* last step: exactly max */
    }
    printf(
        "ramp: largest real-time session count %d (criterion: no errors, per-chunk p95 <= "
        "%.0f ms)\n",
        best, REALTIME_P95_MS);
  }
  if (spawned > 0) {
    kill(spawned, SIGTERM);
    for (int i = 0; i < 100; i++) {
      int st;
      if (waitpid(spawned, &st, WNOHANG) == spawned) {
        spawned = -1;
        break;
      }
      cli_sleep_ms(50);
    }
    if (spawned > 0) {
      kill(spawned, SIGKILL);
      waitpid(spawned, NULL, 0);
    }
  }
  free(b.first.v);
  free(b.chunk.v);
  cli_audio_free(&au);
  return rc;
}
