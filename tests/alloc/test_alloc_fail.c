/* Allocation failure, exhaustively: a counting allocator (avatarkit/alloc.h) fails the Nth
 * allocation, for every N from 1 to the number one full request makes, while a request runs
 * through the libraries: Ogg Opus decode -> resample to 16 kHz -> engine -> Opus encode ->
 * motion quantize -> Message pack -> parse -> the SDK's payload decode and callbacks. Each
 * run must end with AK_OK or a clean out-of-memory code (never a crash) and with no live
 * allocation left (ASan/LSan check the rest in the sanitizer build). The SDK session calls
 * (new, start, send_audio, interrupt, service, free) get the same treatment. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avatarkit/alloc.h"
#include "avatarkit/codec.h"
#include "avatarkit/engine.h"
#include "avatarkit/protocol.h"
#include "avatarkit/sdk.h"
#include "../../sdk/internal.h"
#include "../../sdk/loop.h"

#include "../sdk/sdk_check.h"

/* ---- the counting allocator --------------------------------------------------------------- */

typedef struct counter {
  long calls;   /* allocation calls (malloc_fn, and realloc_fn) since reset */
  long fail_at; /* this call returns NULL (0: never) */
  int failed;   /* the planned failure happened */
  long live;    /* blocks handed out and not freed */
} counter;

static void *c_malloc(void *user, size_t n) {
  counter *c = user;
  if (++c->calls == c->fail_at) {
    c->failed = 1;
    return NULL;
  }
  void *p = malloc(n);
  if (p) c->live++;
  return p;
}

static void *c_realloc(void *user, void *ptr, size_t n) {
  counter *c = user;
  if (++c->calls == c->fail_at) {
    c->failed = 1;
    return NULL;
  }
  void *p = realloc(ptr, n);
  if (p && !ptr) c->live++;
  return p;
}

static void c_free(void *user, void *ptr) {
  counter *c = user;
  c->live--;
  free(ptr);
}

/* ---- one request ---------------------------------------------------------------------------- */

#define MAX_48K 48000
#define MAX_16K 16000
#define MAX_FRAMES 64
#define MAX_PACKETS 64

typedef struct request {
  float pcm48[MAX_48K];
  size_t n48;
  float pcm16[MAX_16K];
  size_t n16;
  float w[MAX_FRAMES * AK_BLENDSHAPE_COUNT], head[MAX_FRAMES * 3];
  uint8_t vis[MAX_FRAMES];
  uint32_t frames;
  uint8_t pkt[MAX_PACKETS][1275];
  size_t pkt_len[MAX_PACKETS];
  size_t packets;
  /* what the SDK callbacks saw */
  const uint8_t *raw;
  size_t raw_len;
  int n_audio, n_motion, n_message, views_inside;
} request;

static int take_pcm(void *user, const float *pcm, size_t n) {
  request *r = user;
  if (r->n48 + n > MAX_48K) return 1;
  memcpy(r->pcm48 + r->n48, pcm, n * sizeof *pcm);
  r->n48 += n;
  return 0;
}

static int take_packet(void *user, const uint8_t *p, size_t len) {
  request *r = user;
  if (r->packets >= MAX_PACKETS || len > sizeof r->pkt[0]) return 1;
  memcpy(r->pkt[r->packets], p, len);
  r->pkt_len[r->packets++] = len;
  return 0;
}

static int inside(const request *r, const uint8_t *p, size_t len) {
  return p >= r->raw && p + len <= r->raw + r->raw_len;
}

static void on_audio(void *user, const aks_audio *a) {
  request *r = user;
  r->n_audio++;
  r->views_inside += inside(r, a->payload, a->payload_len);
}

static void on_motion(void *user, const aks_motion *m) {
  request *r = user;
  r->n_motion++;
  r->views_inside += inside(r, m->payload, m->payload_len);
}

static void on_message(void *user, const char *req_id, const uint8_t *msg, size_t len, int last) {
  request *r = user;
  r->n_message += msg == r->raw && len == r->raw_len && last && strcmp(req_id, "req") == 0;
}

static int is_oom(int rc) {
  return rc == AK_ENOMEM || rc == AKS_OUT_OF_MEMORY;
}

/* Runs the request; returns AK_OK or the first error. Everything is released either way. */
static int run_request(const uint8_t *ogg, size_t ogg_len, request *r) {
  memset(r, 0, sizeof *r);
  ak_ogg_decoder *dec = NULL;
  ak_resampler *rs = NULL;
  ak_engine *eng = NULL;
  ak_opus_encoder *enc = NULL;
  uint8_t *owned = NULL, *wire = NULL;
  size_t wire_len = 0;
  ak_message *parsed = NULL;
  aks__scratch sc = {0};

  int rc = ak_ogg_decoder_new(1 << 20, &dec);
  for (size_t off = 0; rc == AK_OK && off < ogg_len; off += 200) {
    size_t n = ogg_len - off < 200 ? ogg_len - off : 200;
    rc = ak_ogg_decoder_push(dec, ogg + off, n, take_pcm, r);
  }
  if (rc == AK_OK) rc = ak_resampler_new(48000, AK_ENGINE_SAMPLE_RATE, &rs);
  if (rc == AK_OK) {
    int n = ak_resampler_process(rs, r->pcm48, r->n48, r->pcm16, MAX_16K);
    int m = n >= 0 ? ak_resampler_flush(rs, r->pcm16 + n, MAX_16K - (size_t)n) : n;
    if (n < 0 || m < 0)
      rc = n < 0 ? n : m;
    else
      r->n16 = (size_t)n + (size_t)m;
  }
  ak_engine_config ec;
  ak_engine_config_default(&ec);
  if (rc == AK_OK) rc = ak_engine_new(&ec, &eng);
  for (size_t off = 0; rc == AK_OK && off < r->n16; off += 320)
    rc = ak_engine_push(eng, r->pcm16 + off, r->n16 - off < 320 ? r->n16 - off : 320);
  if (rc == AK_OK) rc = ak_engine_finish(eng);
  while (rc == AK_OK && r->frames < MAX_FRAMES) {
    ak_motion_frame f;
    int got = ak_engine_pop(eng, &f);
    if (got < 0) rc = got;
    if (got <= 0) break;
    memcpy(r->w + r->frames * AK_BLENDSHAPE_COUNT, f.weights, sizeof f.weights);
    memcpy(r->head + r->frames * 3, f.head, sizeof f.head);
    r->vis[r->frames++] = f.viseme;
  }
  if (rc == AK_OK) rc = ak_opus_encoder_new(16000, 24000, 5, &enc);
  if (rc == AK_OK) {
    int n = ak_opus_encoder_push(enc, r->pcm16, r->n16, take_packet, r);
    if (n >= 0) n = ak_opus_encoder_finish(enc, take_packet, r);
    if (n < 0) rc = n;
  }
  ak_motion_payload mp;
  if (rc == AK_OK) rc = ak_motion_quantize(r->w, r->head, r->vis, r->frames, 0, 25, 1, &mp, &owned);
  if (rc == AK_OK) {
    const uint8_t *pk[MAX_PACKETS];
    for (size_t i = 0; i < r->packets; i++) pk[i] = r->pkt[i];
    ak_message m = {.type = AK_MSG_SERVER_RESPONSE_ANIMATION, .data = AK_DATA_ANIMATION};
    m.u.animation =
        (ak_animation){.connection_id = "conn",
                       .req_id = "req",
                       .end = 1,
                       .has_motion = 1,
                       .motion = mp,
                       .has_audio = 1,
                       .audio = {.sample_rate = 16000,
                                 .channels = 1,
                                 .frame_samples = (uint32_t)ak_opus_encoder_frame_samples(enc),
                                 .pre_skip = (uint32_t)ak_opus_encoder_pre_skip(enc),
                                 .first_packet = 0,
                                 .total_samples = r->n16,
                                 .n_packets = r->packets,
                                 .packets = pk,
                                 .packet_lens = r->pkt_len,
                                 .end = 1}};
    rc = ak_message_pack(&m, &wire, &wire_len);
  }
  if (rc == AK_OK) rc = ak_message_parse(wire, wire_len, &parsed);
  if (rc == AK_OK) {
    aks_callbacks cbs = {.on_audio = on_audio, .on_motion = on_motion, .on_message = on_message};
    r->raw = wire;
    r->raw_len = wire_len;
    rc = aks__deliver_animation(&sc, &cbs, r, &parsed->u.animation, wire, wire_len);
  }
  aks__scratch_free(&sc);
  ak_message_free(parsed);
  ak_free(wire);
  ak_free(owned);
  ak_opus_encoder_free(enc);
  ak_engine_free(eng);
  ak_resampler_free(rs);
  ak_ogg_decoder_free(dec);
  return rc;
}

/* 400 ms of a voiced-ish generated signal at 24 kHz, as Ogg Opus (the SDK's encoder). */
static int make_ogg(uint8_t **out, size_t *len) {
  enum { RATE = 24000, N = RATE * 4 / 10 };
  static int16_t pcm[N];
  uint32_t seed = 12345;
  for (int i = 0; i < N; i++) {
    seed = seed * 1664525u + 1013904223u;
    double t = (double)i / RATE;
    double env = sin(M_PI * t / 0.4);
    double v = env * (0.4 * sin(2 * M_PI * 140 * t) + 0.2 * sin(2 * M_PI * 700 * t)) +
               0.02 * ((double)(seed >> 8) / (1u << 24) - 0.5);
    pcm[i] = (int16_t)lrint(v * 32000);
  }
  aks__oggenc *e = NULL;
  int rc = aks__oggenc_new(RATE, 32000, &e);
  if (rc == AKS_OK) rc = aks__oggenc_write(e, pcm, N, 1);
  if (rc == AKS_OK) rc = aks__oggenc_take(e, out, len);
  aks__oggenc_free(e);
  return rc;
}

#if AK_HAVE_STREAM
#include "avatarkit/stream.h"

/* The stream library's request (when it is built): Ogg Opus in, every emitted message
 * packed, parsed and delivered through the SDK's payload decode, as a relay would. */
typedef struct stream_sink {
  aks__scratch sc;
  request *r;
  int messages;
} stream_sink;

static int stream_emit(void *user, const ak_stream_output *o) {
  stream_sink *k = user;
  uint8_t *wire = NULL;
  size_t len = 0;
  ak_message *m = NULL;
  int rc = ak_message_pack(o->message, &wire, &len);
  if (rc == AK_OK) rc = ak_message_parse(wire, len, &m);
  if (rc == AK_OK) {
    aks_callbacks cbs = {.on_audio = on_audio, .on_motion = on_motion};
    k->r->raw = wire;
    k->r->raw_len = len;
    rc = aks__deliver_animation(&k->sc, &cbs, k->r, &m->u.animation, wire, len);
    if (rc == AKS_OUT_OF_MEMORY) rc = AK_ENOMEM;
  }
  ak_message_free(m);
  ak_free(wire);
  if (rc == AK_OK) k->messages++;
  return rc;
}

static int run_stream(const uint8_t *ogg, size_t ogg_len, request *r, int *messages) {
  memset(r, 0, sizeof *r);
  stream_sink k = {.r = r};
  ak_stream_config cfg;
  ak_stream_config_default(&cfg);
  cfg.format = AK_STREAM_OGG_OPUS;
  cfg.connection_id = "conn";
  cfg.emit = stream_emit;
  cfg.user = &k;
  ak_stream *st = NULL;
  int rc = ak_stream_new(&cfg, NULL, &st);
  if (rc == AK_OK) rc = ak_stream_begin(st, "req");
  for (size_t off = 0; rc == AK_OK && off < ogg_len; off += 300)
    rc = ak_stream_push(st, ogg + off, ogg_len - off < 300 ? ogg_len - off : 300);
  if (rc == AK_OK) rc = ak_stream_finish(st, NULL, 0);
  ak_stream_free(st);
  aks__scratch_free(&k.sc);
  *messages = k.messages;
  return rc;
}
#endif

/* The SDK's own allocations: a session (EXTERNAL, no thread) is created, started (its
 * ClientConfigureSession packed), fed audio (packed and queued) and an interrupt, then freed
 * after its connect to a closed loopback port fails. Returns the first code that is not
 * AKS_OK; every call must answer AKS_OK or AKS_OUT_OF_MEMORY. */
static int run_session(void) {
  aks_config cfg;
  aks_config_default(&cfg);
  cfg.app_id = "app";
  cfg.avatar_id = "avatar";
  cfg.session_token = "token";
  cfg.ingress_url = "ws://127.0.0.1:9/v2/driveningress";
  cfg.threading = AKS_THREAD_EXTERNAL;
  cfg.connect_timeout_ms = 2000;
  static int16_t pcm[1600];
  aks_session *s = NULL;
  int rc = aks_session_new(&cfg, NULL, NULL, &s);
  if (rc == AKS_OK) rc = aks_session_start(s, NULL, 0);
  if (rc == AKS_OK) rc = aks_session_send_audio(s, pcm, sizeof pcm, 0, NULL, 0);
  if (rc == AKS_OK) rc = aks_session_send_audio(s, pcm, sizeof pcm, 1, NULL, 0);
  if (rc == AKS_OK) rc = aks_session_interrupt(s, NULL, 0);
  for (int i = 0; rc == AKS_OK && s && i < 5; i++) {
    int sv = aks_session_service(s, 5);
    if (sv < 0 && sv != AKS_CONNECTION_CLOSED) rc = sv;
  }
  aks_session_free(s);
  return rc;
}

int main(void) {
  lws_set_log_level(LLL_ERR, NULL);
  counter c = {0};
  ak_allocator a = {.malloc_fn = c_malloc, .realloc_fn = c_realloc, .free_fn = c_free, .user = &c};
  ak_allocator bad = a;
  bad.free_fn = NULL;
  CHECK(ak_set_allocator(&bad) == AK_EINVAL);
  CHECK(ak_set_allocator(&a) == AK_OK); /* before any other avatarkit call */

  uint8_t *ogg = NULL;
  size_t ogg_len = 0;
  CHECK(make_ogg(&ogg, &ogg_len) == AKS_OK && ogg_len > 100);
  if (!ogg) return 1;
  long base_live = c.live; /* the Ogg input buffer */

  /* The reference run: no failure. It must produce real output through every stage. */
  static request r;
  c.calls = 0;
  c.fail_at = 0;
  int rc = run_request(ogg, ogg_len, &r);
  long total = c.calls;
  CHECK(rc == AK_OK);
  CHECK(c.live == base_live);
  CHECK(r.n16 > 6000 && r.frames >= 9 && r.packets >= 20);
  CHECK(r.n_audio == 1 && r.n_motion == 1 && r.n_message == 1 && r.views_inside == 2);
  printf(
      "reference request: %zu samples at 16 kHz, %u frames, %zu Opus packets, %ld "
      "allocations through the hook\n",
      r.n16, r.frames, r.packets, total);
  CHECK(total > 20);

  long clean = 0, ok_anyway = 0;
  for (long n = 1; n <= total; n++) {
    c.calls = 0;
    c.fail_at = n;
    c.failed = 0;
    rc = run_request(ogg, ogg_len, &r);
    int good = is_oom(rc) || rc == AK_OK;
    if (!good) fprintf(stderr, "N=%ld: unexpected code %d\n", n, rc);
    CHECK(good);
    CHECK(c.failed); /* the request reached its Nth allocation */
    if (c.failed && rc == AK_OK) {
      ok_anyway++; /* tolerated: the library had a fallback */
      fprintf(stderr, "N=%ld: allocation failed but the request succeeded\n", n);
    }
    if (c.live != base_live) fprintf(stderr, "N=%ld: %ld blocks leaked\n", n, c.live - base_live);
    CHECK(c.live == base_live);
    if (good && c.live == base_live) clean++;
  }
  CHECK(ok_anyway == 0);

#if AK_HAVE_STREAM
  /* The same request through the stream library. */
  int msgs = 0;
  c.calls = 0;
  c.fail_at = 0;
  rc = run_stream(ogg, ogg_len, &r, &msgs);
  long total_st = c.calls;
  CHECK(rc == AK_OK && msgs >= 1 && r.n_motion >= 1 && r.n_audio >= 1);
  CHECK(r.views_inside == r.n_motion + r.n_audio);
  CHECK(c.live == base_live);
  long clean_st = 0;
  for (long n = 1; n <= total_st; n++) {
    c.calls = 0;
    c.fail_at = n;
    c.failed = 0;
    rc = run_stream(ogg, ogg_len, &r, &msgs);
    int good = is_oom(rc) || (rc == AK_OK && !c.failed);
    if (!good) fprintf(stderr, "stream N=%ld: code %d (allocation failed: %d)\n", n, rc, c.failed);
    CHECK(good);
    if (c.live != base_live)
      fprintf(stderr, "stream N=%ld: %ld blocks leaked\n", n, c.live - base_live);
    CHECK(c.live == base_live);
    if (good && c.live == base_live) clean_st++;
  }
  printf("stream library request: %d messages; N = 1..%ld exercised, %ld clean\n", msgs, total_st,
         clean_st);
#else
  printf("stream library not built: its request is not exercised here\n");
#endif

  /* The SDK session calls, the same way. */
  c.calls = 0;
  c.fail_at = 0;
  rc = run_session();
  long total_s = c.calls;
  CHECK(rc == AKS_OK);
  CHECK(c.live == base_live);
  CHECK(total_s > 5);
  long clean_s = 0;
  for (long n = 1; n <= total_s; n++) {
    c.calls = 0;
    c.fail_at = n;
    c.failed = 0;
    rc = run_session();
    int good = rc == AKS_OUT_OF_MEMORY || (rc == AKS_OK && !c.failed);
    if (!good) fprintf(stderr, "session N=%ld: code %d (allocation failed: %d)\n", n, rc, c.failed);
    CHECK(good);
    if (c.live != base_live)
      fprintf(stderr, "session N=%ld: %ld blocks leaked\n", n, c.live - base_live);
    CHECK(c.live == base_live);
    if (good && c.live == base_live) clean_s++;
  }
  printf("SDK session calls: N = 1..%ld exercised, %ld clean\n", total_s, clean_s);
  ak_free(ogg);
  CHECK(c.live == 0);
  CHECK(ak_set_allocator(NULL) == AK_OK);
  printf("allocation failure: N = 1..%ld exercised, %ld clean (error code, nothing leaked)\n",
         total, clean);
  printf("alloc: %d checks, %d failed\n", g_checks, g_fail);
  return g_fail ? 1 : 0;
}
