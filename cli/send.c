/* `avatarkit send`: streams an audio file to a Motion Server through the server SDK, prints
 * per-request latency, frame count against the expected one and the returned audio length,
 * and can record every animation message to the replayable recording JSON. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "avatarkit/sdk.h"
#include "cli.h"

#define MAX_REPEAT 1000
#define RECORD_MAX_BYTES (512u * 1024u * 1024u)

typedef struct rec_msg {
  struct rec_msg *next;
  size_t len;
  uint8_t data[];
} rec_msg;

typedef struct req_info {
  char id[64];
  double t_first_sent, t_last_sent, t_first_motion, t_end;
  uint32_t frames;
  int fps;
  uint64_t total_samples;
  int audio_rate;
  int done;
  rec_msg *msgs, *msgs_tail;
} req_info;

typedef struct send_ctx {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  req_info *reqs;
  int n_reqs;
  int recording;
  size_t rec_bytes;
  int rec_overflow;
  int error;
  aks_error err;
  char err_msg[512];
  int closed;
} send_ctx;

static req_info *find(send_ctx *c, const char *id) {
  for (int i = 0; i < c->n_reqs; i++)
    if (!strcmp(c->reqs[i].id, id)) return &c->reqs[i];
  return NULL;
}

static void on_motion(void *user, const aks_motion *m) {
  send_ctx *c = user;
  double t = cli_now_ms();
  pthread_mutex_lock(&c->mu);
  req_info *r = find(c, m->req_id);
  if (r) {
    if (!r->frames && m->frame_count) r->t_first_motion = t;
    r->frames += m->frame_count;
    r->fps = m->fps;
  }
  pthread_mutex_unlock(&c->mu);
}

static void on_audio(void *user, const aks_audio *a) {
  send_ctx *c = user;
  pthread_mutex_lock(&c->mu);
  req_info *r = find(c, a->req_id);
  if (r && a->end) {
    r->total_samples = a->total_samples;
    r->audio_rate = a->sample_rate;
  }
  pthread_mutex_unlock(&c->mu);
}

static void on_message(void *user, const char *req_id, const uint8_t *msg, size_t len, int last) {
  send_ctx *c = user;
  double t = cli_now_ms();
  pthread_mutex_lock(&c->mu);
  req_info *r = find(c, req_id);
  if (r && c->recording) {
    if (c->rec_bytes + len > RECORD_MAX_BYTES) {
      c->rec_overflow = 1;
    } else {
      rec_msg *m = malloc(sizeof *m + len);
      if (m) {
        m->next = NULL;
        m->len = len;
        memcpy(m->data, msg, len);
        if (r->msgs_tail)
          r->msgs_tail->next = m;
        else
          r->msgs = m;
        r->msgs_tail = m;
        c->rec_bytes += len;
      } else {
        c->rec_overflow = 1;
      }
    }
  }
  if (r && last) {
    r->done = 1;
    r->t_end = t;
  }
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void on_error(void *user, const aks_error *e) {
  send_ctx *c = user;
  pthread_mutex_lock(&c->mu);
  if (!c->error) {
    c->error = 1;
    c->err = *e;
    snprintf(c->err_msg, sizeof c->err_msg, "%s", e->message ? e->message : "");
  }
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void on_close(void *user, int code, const char *reason) {
  send_ctx *c = user;
  pthread_mutex_lock(&c->mu);
  c->closed = 1;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void print_sdk_error(const char *what, int rc, const aks_error *e) {
  fprintf(stderr, "send: %s failed: %s", what, aks_error_name(rc));
  if (e) {
    fprintf(stderr, " [phase %s", aks_phase_name(e->phase));
    if (e->http_status) fprintf(stderr, ", http %d", e->http_status);
    if (e->close_code) fprintf(stderr, ", close %d", e->close_code);
    fprintf(stderr, "] %s", e->message ? e->message : "");
  }
  fputc('\n', stderr);
}

/* The session's last error, copied out (NULL passed on when there is none). */
static void print_session_error(const char *what, int rc, aks_session *s) {
  aks_error_info info;
  aks_error e = {0};
  if (aks_session_last_error(s, &info) == 1) {
    e = (aks_error){.code = info.code,
                    .phase = info.phase,
                    .message = info.message,
                    .http_status = info.http_status,
                    .close_code = info.close_code};
  }
  print_sdk_error(what, rc, e.message ? &e : NULL);
}

static int write_recording(const char *path, send_ctx *c, const char *app, const char *avatar,
                           int rate) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "send: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  int fps = 25;
  for (int i = 0; i < c->n_reqs; i++)
    if (c->reqs[i].fps) fps = c->reqs[i].fps;
  fprintf(f, "{\"format\": \"avatarkit-recording\", \"version\": 1, \"appId\": ");
  cli_json_str(f, app);
  fprintf(f, ", \"avatarId\": ");
  cli_json_str(f, avatar);
  fprintf(f, ", \"inputSampleRate\": %d, \"fps\": %d, \"requests\": [", rate, fps);
  for (int i = 0; i < c->n_reqs; i++) {
    fprintf(f, "%s\n {\"reqId\": ", i ? "," : "");
    cli_json_str(f, c->reqs[i].id);
    fprintf(f, ", \"messages\": [");
    int k = 0;
    for (rec_msg *m = c->reqs[i].msgs; m; m = m->next, k++) {
      fprintf(f, "%s\n  ", k ? "," : "");
      cli_json_base64(f, m->data, m->len);
    }
    fprintf(f, "]}");
  }
  fprintf(f, "\n]}\n");
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    fprintf(stderr, "send: error writing %s\n", path);
    return -1;
  }
  return 0;
}

int cli_cmd_send(int argc, char **argv) {
  const char *file = NULL, *record = NULL;
  cli_target_opts o;
  cli_target_opts_init(&o);
  long rate = 0, chunk_ms = 40, repeat = 1;
  int realtime = 1, opus = 0, query = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0, takes = 1;
    if (cli_parse_target_opt(&o, a, v, &bad)) {
      /* server, credentials, avatar, CA file: stored in o */
    } else if (!strcmp(a, "--rate"))
      bad = cli_parse_int(v, 1000, 192000, &rate);
    else if (!strcmp(a, "--chunk-ms"))
      bad = cli_parse_int(v, 10, 10000, &chunk_ms);
    else if (!strcmp(a, "--record"))
      bad = !(record = v);
    else if (!strcmp(a, "--repeat"))
      bad = cli_parse_int(v, 1, MAX_REPEAT, &repeat);
    else {
      takes = 0;
      if (!strcmp(a, "--realtime"))
        realtime = 1;
      else if (!strcmp(a, "--fast"))
        realtime = 0;
      else if (!strcmp(a, "--opus"))
        opus = 1;
      else if (!strcmp(a, "--query-auth"))
        query = 1;
      else if (a[0] == '-' && a[1]) {
        fprintf(stderr, "send: unknown flag %s\n", a);
        return 2;
      } else if (!file) {
        file = a;
      } else {
        fprintf(stderr, "send: unexpected argument %s\n", a);
        return 2;
      }
    }
    if (bad) {
      fprintf(stderr, "send: bad or missing value for %s%s%s\n", a, v ? ": " : "", v ? v : "");
      return 2;
    }
    i += takes;
  }
  if (!file) {
    fprintf(stderr, "send: no input file (usage: avatarkit send FILE [--rate N] ...)\n");
    return 2;
  }
  if (!o.api_key || !*o.api_key || !o.app_id || !*o.app_id) {
    fprintf(stderr,
            "send: credentials missing: --api-key/--app-id or AVATARKIT_API_KEY/"
            "AVATARKIT_APP_ID\n");
    return 2;
  }
  char err[512], curl[512], wurl[512];
  if (cli_server_urls(o.server, o.console, o.ingress, curl, wurl, sizeof curl, err, sizeof err) !=
      0) {
    fprintf(stderr, "send: %s\n", err);
    return 2;
  }
  cli_audio au;
  if (cli_load_audio(file, (int)rate, &au, err, sizeof err) != 0) {
    fprintf(stderr, "send: %s\n", err);
    return 1;
  }
  lws_set_log_level(LLL_ERR, NULL);

  send_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  pthread_mutex_init(&ctx.mu, NULL);
  pthread_cond_init(&ctx.cv, NULL);
  ctx.reqs = calloc((size_t)repeat, sizeof *ctx.reqs);
  ctx.recording = record != NULL;
  aks_config cfg;
  aks_config_default(&cfg);
  cfg.api_key = o.api_key;
  cfg.app_id = o.app_id;
  cfg.avatar_id = o.avatar;
  cfg.console_url = curl;
  cfg.ingress_url = wurl;
  cfg.sample_rate = au.rate;
  cfg.encode_ogg_opus = opus;
  cfg.auth_in_query = query;
  cfg.ca_file = o.ca_file;
  aks_callbacks cbs = {NULL, on_message, on_audio, on_motion, on_error, on_close};
  aks_session *s = NULL;
  int exit_code = 0;
  int rc = ctx.reqs ? aks_session_new(&cfg, &cbs, &ctx, &s) : AKS_OUT_OF_MEMORY;
  if (rc != AKS_OK) {
    fprintf(stderr, "send: %s\n",
            rc == AKS_INVALID_ARGUMENT ? "invalid configuration (sample rate must be 8000, "
                                         "16000, 22050, 24000, 32000, 44100 or 48000 Hz; URLs "
                                         "must be valid; --ca-file must be readable)"
                                       : aks_error_name(rc));
    free(ctx.reqs);
    cli_audio_free(&au);
    return 1;
  }
  char conn[128] = "";
  if ((rc = aks_session_init(s)) != AKS_OK) {
    print_session_error("session token", rc, s);
    exit_code = 1;
  } else if ((rc = aks_session_start(s, conn, sizeof conn)) != AKS_OK) {
    print_session_error("connect", rc, s);
    exit_code = 1;
  } else {
    printf("connected: %s (%s, %d Hz%s)\n", conn, wurl, au.rate, opus ? ", Ogg Opus" : "");
  }
  size_t chunk = (size_t)au.rate * (size_t)chunk_ms / 1000;
  if (!chunk) chunk = 1;
  double duration = (double)au.n / au.rate;
  for (long r = 0; exit_code == 0 && r < repeat; r++) {
    req_info *ri = &ctx.reqs[r];
    double t0 = cli_now_ms();
    size_t idx = 0;
    for (size_t off = 0; off < au.n; off += chunk, idx++) {
      size_t k = au.n - off < chunk ? au.n - off : chunk;
      int last = off + k >= au.n;
      char id[64];
      if (realtime) cli_sleep_ms(t0 + (double)idx * (double)chunk_ms - cli_now_ms());
      pthread_mutex_lock(&ctx.mu);
      if (idx == 0) ctx.n_reqs++;
      pthread_mutex_unlock(&ctx.mu);
      double ts = cli_now_ms();
      rc = aks_session_send_audio(s, au.pcm + off, k * 2, last, id, sizeof id);
      if (rc != AKS_OK) {
        print_session_error("send_audio", rc, s);
        exit_code = 1;
        break;
      }
      pthread_mutex_lock(&ctx.mu);
      if (idx == 0) {
        snprintf(ri->id, sizeof ri->id, "%s", id);
        ri->t_first_sent = ts;
      }
      if (last) ri->t_last_sent = ts;
      pthread_mutex_unlock(&ctx.mu);
    }
    /* wait for the end (bounded: audio duration + 30 s) */
    double deadline = cli_now_ms() + duration * 1000 + 30000;
    pthread_mutex_lock(&ctx.mu);
    while (!ri->done && !ctx.error && !ctx.closed && cli_now_ms() < deadline) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 50 * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&ctx.cv, &ctx.mu, &ts);
    }
    req_info snap = *ri;
    int err_now = ctx.error;
    pthread_mutex_unlock(&ctx.mu);
    if (exit_code) break;
    if (!snap.done) {
      fprintf(stderr, "send: request %s did not finish%s\n", snap.id,
              err_now ? " (session error)" : " in time");
      exit_code = 1;
      break;
    }
    int fps = snap.fps ? snap.fps : 25;
    long expect = (long)ceil(duration * fps - 1e-9);
    double out_s = snap.audio_rate ? (double)snap.total_samples / snap.audio_rate : 0;
    printf(
        "request %ld/%ld %s: first frame %.1f ms after first chunk, end %.1f ms after last "
        "chunk, %u frames (expected %ld at %d fps), audio out %.3f s (in %.3f s)\n",
        r + 1, repeat, snap.id, snap.t_first_motion - snap.t_first_sent,
        snap.t_end - snap.t_last_sent, snap.frames, expect, fps, out_s, duration);
    if (labs((long)snap.frames - expect) > 1 || fabs(out_s - duration) > 0.021) {
      fprintf(stderr, "send: request %s: output does not match the input duration\n", snap.id);
      exit_code = 1;
    }
  }
  pthread_mutex_lock(&ctx.mu);
  if (ctx.error) {
    ctx.err.message = ctx.err_msg;
    ctx.err.req_id = NULL;
    print_sdk_error("session", ctx.err.code, &ctx.err);
    exit_code = 1;
  }
  pthread_mutex_unlock(&ctx.mu);
  aks_session_free(s);
  if (record && ctx.n_reqs) {
    if (ctx.rec_overflow)
      fprintf(stderr, "send: recording truncated at %u bytes\n", RECORD_MAX_BYTES);
    if (write_recording(record, &ctx, o.app_id, o.avatar, au.rate) != 0)
      exit_code = 1;
    else
      printf("recording: %s (%d requests)\n", record, ctx.n_reqs);
  }
  for (int i = 0; i < (int)repeat; i++) {
    rec_msg *m = ctx.reqs[i].msgs;
    while (m) {
      rec_msg *n = m->next;
      free(m);
      m = n;
    }
  }
  free(ctx.reqs);
  pthread_mutex_destroy(&ctx.mu);
  pthread_cond_destroy(&ctx.cv);
  cli_audio_free(&au);
  return exit_code;
}
