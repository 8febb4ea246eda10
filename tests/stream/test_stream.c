/* Stream library tests: every accepted rate, PCM split at every byte boundary and Ogg sliced
 * at many sizes give the one-shot output, each message's audio is covered by its motion,
 * abort (interrupt), emit failures come back with their own code (also from inside the Opus
 * and Ogg callbacks), bad Ogg is refused with a clear code, and the config/state contract.
 * Audio is generated here (tones + seeded noise); the seed is printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ogg/ogg.h>
#include <opus/opusenc.h>

#include "avatarkit/engine.h"
#include "avatarkit/stream.h"
#include "check.h"
#include "ogg_mem.h"

static const int k_rates[] = {8000, 16000, 22050, 24000, 32000, 44100, 48000};
#define N_RATES (sizeof k_rates / sizeof k_rates[0])

static ak_model *g_model; /* parsed once, shared by every stream of the run */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)(g_rng >> 11);
}

/* Speech-like test signal: a buzz whose loudness swells and pauses, plus noise. */
static void make_audio(int rate, double seconds, int16_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double t = (double)i / rate;
    double env = 0.5 + 0.5 * sin(2 * M_PI * 2.7 * t);
    if (fmod(t, 0.9) > 0.7) env = 0.02; /* pauses */
    double x = env * (0.5 * sin(2 * M_PI * 140 * t) + 0.25 * sin(2 * M_PI * 700 * t) +
                      0.1 * sin(2 * M_PI * 2300 * t));
    x += 0.03 * (((double)(rnd() % 2001) - 1000.0) / 1000.0);
    double v = x * 20000.0;
    out[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
  }
  (void)seconds;
}

/* ---- capture: everything the stream emitted, concatenated, and per-message checks ---------- */

typedef struct capture {
  float *w, *h;
  uint8_t *v;
  uint32_t frames, frame_cap;
  uint8_t *pk;
  size_t pk_len, pk_cap;
  size_t *lens;
  uint64_t packets, lens_cap;
  int fps, messages, ended, bad;
  int full_msgs; /* messages sent because the packet store was full (FLUSH_ALL) */
  uint64_t total_samples;
  int fail_at; /* emit returns fail_code at this call (1-based), 0 = never */
  int fail_code;
  int calls;
} capture;

static void cap_free(capture *c) {
  free(c->w);
  free(c->h);
  free(c->v);
  free(c->pk);
  free(c->lens);
}

typedef struct pack_dest {
  uint8_t *buf;
  size_t cap, asked;
  int refuse;
} pack_dest;

static int dest_fn(void *user, size_t len, uint8_t **buf) {
  pack_dest *d = user;
  d->asked = len;
  if (d->refuse != AK_OK) return d->refuse;
  if (len > d->cap) return AK_ETOOBIG;
  *buf = d->buf;
  return AK_OK;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q) return -1;
  *p = q;
  *cap = n;
  return 0;
}

static int on_emit(void *user, const ak_stream_output *o) {
  capture *c = user;
  c->calls++;
  if (c->fail_at && c->calls == c->fail_at) return c->fail_code;
  const ak_message *m = o->message;
  const ak_animation *a = &m->u.animation;
  /* numbering continues where the last message stopped; nothing after end */
  if (c->ended || o->first_frame != c->frames || m->type != AK_MSG_SERVER_RESPONSE_ANIMATION)
    c->bad++;
  if (a->has_motion && (a->motion.first_frame != c->frames || a->motion.frame_count != o->n_frames))
    c->bad++;
  if (a->has_audio && a->audio.first_packet != c->packets) c->bad++;
  size_t bytes = 0;
  for (size_t i = 0; a->has_audio && i < a->audio.n_packets; i++) bytes += a->audio.packet_lens[i];
  int full = a->has_audio && (a->audio.n_packets == AK_STREAM_MAX_PACKETS ||
                              bytes + 1275 > AK_STREAM_MAX_AUDIO_BYTES);
  c->full_msgs += full && !a->end;
  if (!a->end && !full && a->has_audio && a->audio.n_packets) {
    /* alignment: the audio of a message ends within the motion sent so far */
    uint64_t fs = a->audio.frame_samples, skip = a->audio.pre_skip;
    uint64_t motion_end = (uint64_t)(c->frames + o->n_frames) * 16000u / (uint64_t)c->fps;
    if ((a->audio.first_packet + a->audio.n_packets) * fs > motion_end + skip) c->bad++;
  }
  /* packing into a caller's buffer gives the same bytes as ak_message_pack */
  uint8_t *packed = NULL;
  size_t plen = 0, sz = 0, got = 0;
  if (ak_message_pack(m, &packed, &plen) != AK_OK || ak_message_packed_size(m, &sz) != AK_OK ||
      sz != plen)
    c->bad++;
  uint8_t *buf = malloc(plen + 1);
  if (!buf || ak_message_pack_into(m, buf, plen, &got) != AK_OK || got != plen ||
      memcmp(buf, packed, plen) != 0)
    c->bad++;
  if (buf && plen && ak_message_pack_into(m, buf, plen - 1, &got) != AK_ETOOBIG) c->bad++;
  /* and packing to a destination sized on demand (the server's path) does too; a refusing
   * destination's code comes back unchanged */
  pack_dest pd = {buf, plen + 1, 0, AK_OK};
  if (buf && plen) memset(buf, 0, plen);
  if (!buf || ak_message_pack_to(m, dest_fn, &pd, &got) != AK_OK || got != plen ||
      pd.asked != plen || memcmp(buf, packed, plen) != 0)
    c->bad++;
  pd.refuse = AK_ETOOBIG;
  if (ak_message_pack_to(m, dest_fn, &pd, &got) != AK_ETOOBIG) c->bad++;
  free(buf);
  free(packed);
  size_t nf = c->frames + o->n_frames, fc = c->frame_cap;
  if (grow((void **)&c->w, &fc, nf, sizeof(float) * AK_BLENDSHAPE_COUNT)) return AK_ENOMEM;
  fc = c->frame_cap;
  if (grow((void **)&c->h, &fc, nf, sizeof(float) * 3)) return AK_ENOMEM;
  fc = c->frame_cap;
  if (grow((void **)&c->v, &fc, nf, 1)) return AK_ENOMEM;
  c->frame_cap = (uint32_t)fc;
  if (o->n_frames) {
    memcpy(c->w + (size_t)c->frames * AK_BLENDSHAPE_COUNT, o->weights,
           sizeof(float) * AK_BLENDSHAPE_COUNT * o->n_frames);
    memcpy(c->h + (size_t)c->frames * 3, o->head, sizeof(float) * 3 * o->n_frames);
    memcpy(c->v + c->frames, o->visemes, o->n_frames);
  }
  c->frames = (uint32_t)nf;
  if (a->has_audio) {
    for (size_t i = 0; i < a->audio.n_packets; i++) {
      size_t L = a->audio.packet_lens[i];
      if (grow((void **)&c->pk, &c->pk_cap, c->pk_len + L, 1)) return AK_ENOMEM;
      size_t lc = (size_t)c->lens_cap;
      if (grow((void **)&c->lens, &lc, (size_t)c->packets + 1, sizeof(size_t))) return AK_ENOMEM;
      c->lens_cap = lc;
      memcpy(c->pk + c->pk_len, a->audio.packets[i], L);
      c->pk_len += L;
      c->lens[c->packets++] = L;
    }
    if (a->end) c->total_samples = a->audio.total_samples;
  }
  c->ended = a->end;
  c->messages++;
  return 0;
}

static int same_output(const capture *a, const capture *b) {
  return a->frames == b->frames && a->packets == b->packets && a->pk_len == b->pk_len &&
         (!a->frames ||
          (!memcmp(a->w, b->w, sizeof(float) * AK_BLENDSHAPE_COUNT * a->frames) &&
           !memcmp(a->h, b->h, sizeof(float) * 3 * a->frames) && !memcmp(a->v, b->v, a->frames))) &&
         (!a->pk_len || !memcmp(a->pk, b->pk, a->pk_len)) &&
         (!a->packets || !memcmp(a->lens, b->lens, sizeof(size_t) * a->packets)) &&
         a->total_samples == b->total_samples && a->ended && b->ended;
}

/* The tests' config: seed 42, a fixed connection id, emit into c. */
static ak_stream_config stream_config(int format, int rate, capture *c) {
  ak_stream_config cfg;
  ak_stream_config_default(&cfg);
  cfg.format = format;
  cfg.sample_rate = rate;
  cfg.seed = 42;
  cfg.connection_id = "20260101000000_testconnAAAA";
  cfg.emit = on_emit;
  cfg.user = c;
  c->fps = cfg.fps;
  return cfg;
}

static ak_stream *open_stream(const ak_stream_config *cfg) {
  ak_stream *s = NULL;
  CHECK_EQ_INT(ak_stream_new(cfg, g_model, &s), AK_OK);
  return s;
}

static ak_stream *new_stream(int format, int rate, capture *c, int bitrate) {
  ak_stream_config cfg = stream_config(format, rate, c);
  if (bitrate >= 0) cfg.opus_bitrate = bitrate;
  return open_stream(&cfg);
}

/* Runs bytes through a new stream in the given pieces (cuts: sorted split offsets). */
static int run_split(int format, int rate, const uint8_t *b, size_t n, const size_t *cuts,
                     size_t ncuts, capture *c) {
  ak_stream *s = new_stream(format, rate, c, -1);
  if (!s) return -1;
  int rc = ak_stream_begin(s, "req-1");
  size_t at = 0;
  for (size_t i = 0; rc == AK_OK && i < ncuts; i++) {
    rc = ak_stream_push(s, b + at, cuts[i] - at);
    at = cuts[i];
  }
  if (rc == AK_OK) rc = ak_stream_finish(s, b + at, n - at);
  ak_stream_free(s);
  return rc;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_rates(void) {
  for (size_t r = 0; r < N_RATES; r++) {
    int rate = k_rates[r];
    size_t n = (size_t)(rate * 1.3);
    int16_t *pcm = malloc(n * 2);
    make_audio(rate, 1.3, pcm, n);
    capture one = {0}, many = {0};
    CHECK_EQ_INT(run_split(AK_STREAM_PCM_S16LE, rate, (const uint8_t *)pcm, n * 2, NULL, 0, &one),
                 AK_OK);
    /* 16 kHz samples, frames and audio follow from the input length exactly */
    uint64_t n16 = (uint64_t)n * 16000u / (uint64_t)rate;
    CHECK_EQ_INT(one.total_samples, n16);
    CHECK_EQ_INT(one.frames, (n16 * 25 + 15999) / 16000);
    CHECK(one.packets * 320 >= n16 && one.packets > 0); /* Opus holds every sample */
    CHECK_EQ_INT(one.bad, 0);
    CHECK(one.ended);
    /* 20 ms pieces (a client streaming in real time): same output, aligned messages */
    size_t step = (size_t)rate / 50 * 2, ncuts = 0;
    size_t *cuts = malloc(sizeof *cuts * (n * 2 / step + 1));
    for (size_t at = step; at < n * 2; at += step) cuts[ncuts++] = at;
    CHECK_EQ_INT(
        run_split(AK_STREAM_PCM_S16LE, rate, (const uint8_t *)pcm, n * 2, cuts, ncuts, &many),
        AK_OK);
    CHECK(same_output(&one, &many));
    CHECK(many.messages > 10); /* streamed: output came while the input did */
    CHECK_EQ_INT(many.bad, 0);
    if (!same_output(&one, &many)) fprintf(stderr, "  rate %d: chunked output differs\n", rate);
    free(cuts);
    free(pcm);
    cap_free(&one);
    cap_free(&many);
  }
}

/* A short input split in two at every byte boundary (odd ones split a sample). */
static void test_every_split(void) {
  int rate = 22050;
  size_t n = 1200; /* 54 ms */
  int16_t *pcm = malloc(n * 2);
  make_audio(rate, 0.054, pcm, n);
  capture one = {0};
  CHECK_EQ_INT(run_split(AK_STREAM_PCM_S16LE, rate, (const uint8_t *)pcm, n * 2, NULL, 0, &one),
               AK_OK);
  int diffs = 0;
  for (size_t k = 0; k <= n * 2; k++) {
    capture c = {0};
    size_t cut = k;
    if (run_split(AK_STREAM_PCM_S16LE, rate, (const uint8_t *)pcm, n * 2, &cut, 1, &c) != AK_OK ||
        !same_output(&one, &c) || c.bad)
      diffs++;
    cap_free(&c);
  }
  CHECK_EQ_INT(diffs, 0);
  /* and in random pieces of 1..300 bytes */
  for (int t = 0; t < 20; t++) {
    size_t cuts[4096], nc = 0;
    for (size_t at = 1 + rnd() % 300; at < n * 2 && nc < 4096; at += 1 + rnd() % 300)
      cuts[nc++] = at;
    capture c = {0};
    CHECK_EQ_INT(run_split(AK_STREAM_PCM_S16LE, rate, (const uint8_t *)pcm, n * 2, cuts, nc, &c),
                 AK_OK);
    CHECK(same_output(&one, &c));
    cap_free(&c);
  }
  cap_free(&one);
  free(pcm);
}

/* Ogg Opus of seconds of the test signal at rate (libopusenc). */
static membuf make_ogg(int rate, double seconds) {
  size_t n = (size_t)(rate * seconds);
  int16_t *pcm = malloc(n * 2);
  float *x = malloc(n * sizeof *x);
  make_audio(rate, seconds, pcm, n);
  for (size_t i = 0; i < n; i++) x[i] = pcm[i] / 32768.0f;
  membuf m = make_ogg_float(rate, x, n);
  free(x);
  free(pcm);
  return m;
}

static void page_out(ogg_stream_state *os, membuf *m, int flush) {
  ogg_page og;
  while (flush ? ogg_stream_flush(os, &og) : ogg_stream_pageout(os, &og)) {
    mem_write(m, og.header, (opus_int32)og.header_len);
    mem_write(m, og.body, (opus_int32)og.body_len);
  }
}

/* OpusHead + OpusTags (RFC 7845), then an audio packet whose TOC says "code 3" without the
 * frame count byte: the Ogg layer is fine, libopus refuses the packet. */
static membuf ogg_with_bad_packet(void) {
  membuf m = {0};
  ogg_stream_state os;
  ogg_stream_init(&os, 1234);
  unsigned char head[19] = {'O',  'p',  'u',  's',  'H', 'e', 'a', 'd', 1, 1,
                            0x38, 0x01, 0x80, 0xbb, 0,   0,   0,   0,   0};
  unsigned char tags[16] = {'O', 'p', 'u', 's', 'T', 'a', 'g', 's', 0, 0, 0, 0, 0, 0, 0, 0};
  unsigned char bad[1] = {0x03};
  ogg_packet op = {.packet = head, .bytes = sizeof head, .b_o_s = 1, .granulepos = 0};
  ogg_stream_packetin(&os, &op);
  page_out(&os, &m, 1);
  op = (ogg_packet){.packet = tags, .bytes = sizeof tags, .granulepos = 0, .packetno = 1};
  ogg_stream_packetin(&os, &op);
  page_out(&os, &m, 1);
  op = (ogg_packet){
      .packet = bad, .bytes = sizeof bad, .granulepos = 960, .packetno = 2, .e_o_s = 1};
  ogg_stream_packetin(&os, &op);
  page_out(&os, &m, 1);
  ogg_stream_clear(&os);
  return m;
}

static void test_ogg(void) {
  membuf ogg = make_ogg(48000, 1.5);
  capture one = {0};
  CHECK_EQ_INT(run_split(AK_STREAM_OGG_OPUS, 0, ogg.data, ogg.len, NULL, 0, &one), AK_OK);
  /* 1.5 s in: 24000 samples at 16 kHz after the decoder's end trim */
  CHECK_EQ_INT(one.total_samples, 24000);
  CHECK_EQ_INT(one.frames, 38);
  CHECK_EQ_INT(one.bad, 0);
  size_t sizes[] = {1, 7, 100, 4096};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t nc = 0, *cuts = malloc(sizeof *cuts * (ogg.len / sizes[i] + 1));
    for (size_t at = sizes[i]; at < ogg.len; at += sizes[i]) cuts[nc++] = at;
    capture c = {0};
    CHECK_EQ_INT(run_split(AK_STREAM_OGG_OPUS, 0, ogg.data, ogg.len, cuts, nc, &c), AK_OK);
    CHECK(same_output(&one, &c));
    CHECK_EQ_INT(c.bad, 0);
    cap_free(&c);
    free(cuts);
  }
  cap_free(&one);

  /* bad Ogg: clear codes, blamed on the input */
  capture c = {0};
  ak_stream *s = new_stream(AK_STREAM_OGG_OPUS, 0, &c, -1);
  uint8_t junk[300];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rnd();
  CHECK_EQ_INT(ak_stream_begin(s, "bad"), AK_OK);
  int rc = ak_stream_push(s, junk, sizeof junk);
  CHECK_EQ_INT(rc, AK_EFORMAT);
  CHECK_EQ_INT(ak_stream_failure(s), AK_STREAM_FAIL_INPUT);
  CHECK_EQ_INT(ak_stream_push(s, junk, 10), AK_ESTATE); /* dead until begin */
  CHECK(!ak_stream_active(s));
  /* corrupt: valid Ogg pages and Opus headers, then an undecodable Opus packet */
  CHECK_EQ_INT(ak_stream_begin(s, "corrupt"), AK_OK);
  membuf bad = ogg_with_bad_packet();
  rc = ak_stream_finish(s, bad.data, bad.len);
  CHECK_EQ_INT(rc, AK_ECORRUPT);
  CHECK_EQ_INT(ak_stream_failure(s), AK_STREAM_FAIL_INPUT);
  ak_stream_free(s);
  cap_free(&c);
  free(bad.data);

  /* over max_ogg_bytes: AK_ETOOBIG from the input, not from the emit */
  ak_stream_config cfg;
  ak_stream_config_default(&cfg);
  capture c2 = {0};
  cfg.format = AK_STREAM_OGG_OPUS;
  cfg.max_ogg_bytes = ogg.len / 2;
  cfg.emit = on_emit;
  cfg.user = &c2;
  c2.fps = cfg.fps;
  CHECK_EQ_INT(ak_stream_new(&cfg, g_model, &s), AK_OK);
  CHECK_EQ_INT(ak_stream_begin(s, "long"), AK_OK);
  CHECK_EQ_INT(ak_stream_push(s, ogg.data, ogg.len), AK_ETOOBIG);
  CHECK_EQ_INT(ak_stream_failure(s), AK_STREAM_FAIL_INPUT);
  ak_stream_free(s);
  cap_free(&c2);
  free(ogg.data);
}

/* OpusHead + OpusTags, then n_pages pages of 255 zero-length audio packets each: every empty
 * packet decodes to concealment of the last frame size (up to 120 ms), so ~280 bytes a page
 * would be 30 s of audio without a decoded-samples budget. */
static membuf ogg_bomb_of(int n_pages, const unsigned char *pkt, long pkt_len);
static membuf ogg_empty_bomb(int n_pages) {
  return ogg_bomb_of(n_pages, NULL, 0);
}
/* 2-byte packets of two empty 60 ms SILK frames (code 3): valid Opus, 120 ms of concealment
 * each for 3 bytes with their lacing. */
static const unsigned char two_empty[2] = {(3 << 3) | 3, 2};
static membuf ogg_bomb(int n_pages) {
  return ogg_bomb_of(n_pages, two_empty, 2);
}

/* The same with each audio packet pkt_len bytes of pkt. */
static membuf ogg_bomb_of(int n_pages, const unsigned char *pkt, long pkt_len) {
  membuf m = {0};
  ogg_stream_state os;
  ogg_stream_init(&os, 99);
  unsigned char head[19] = {'O', 'p', 'u',  's',  'H', 'e', 'a', 'd', 1, 1,
                            0,   0,   0x80, 0xbb, 0,   0,   0,   0,   0};
  unsigned char tags[16] = {'O', 'p', 'u', 's', 'T', 'a', 'g', 's', 0, 0, 0, 0, 0, 0, 0, 0};
  ogg_packet op = {.packet = head, .bytes = sizeof head, .b_o_s = 1, .granulepos = 0};
  ogg_stream_packetin(&os, &op);
  page_out(&os, &m, 1);
  op = (ogg_packet){.packet = tags, .bytes = sizeof tags, .granulepos = 0, .packetno = 1};
  ogg_stream_packetin(&os, &op);
  page_out(&os, &m, 1);
  int64_t gp = 0, no = 2;
  for (int p = 0; p < n_pages; p++) {
    for (int k = 0; k < 255; k++) {
      gp += 5760;
      op = (ogg_packet){.packet = pkt_len ? (unsigned char *)pkt : tags,
                        .bytes = pkt_len,
                        .granulepos = gp,
                        .packetno = no++};
      ogg_stream_packetin(&os, &op);
    }
    page_out(&os, &m, 1);
  }
  ogg_stream_clear(&os);
  return m;
}

static void test_budgets(void) {
  /* an Ogg bomb fails on the decoded-samples budget, blamed on its own failure kind */
  membuf bomb = ogg_bomb(8);
  capture c = {0};
  ak_stream *s = new_stream(AK_STREAM_OGG_OPUS, 0, &c, -1);
  CHECK_EQ_INT(ak_stream_begin(s, "bomb"), AK_OK);
  int rc = AK_OK;
  for (size_t at = 0; rc == AK_OK && at < bomb.len; at += 64) {
    size_t n = bomb.len - at < 64 ? bomb.len - at : 64;
    rc = ak_stream_push(s, bomb.data + at, n);
  }
  CHECK_EQ_INT(rc, AK_ETOOBIG);
  CHECK_EQ_INT(ak_stream_failure(s), AK_STREAM_FAIL_BUDGET);
  ak_stream_counters k;
  ak_stream_get_counters(s, &k);
  /* what it got through is bounded by grace + per-byte budget, not the bomb's ~4 minutes */
  CHECK(k.samples_16k <= (AK_STREAM_DEFAULT_DECODED_GRACE +
                          (uint64_t)AK_STREAM_DEFAULT_MAX_DECODED_PER_BYTE * bomb.len) /
                                 3 +
                             16000);
  ak_stream_free(s);
  cap_free(&c);
  /* with the budget off the same bytes decode to minutes of audio (what the cap prevents) */
  ak_stream_config cfg;
  ak_stream_config_default(&cfg);
  capture c2 = {0};
  cfg.format = AK_STREAM_OGG_OPUS;
  cfg.opus_bitrate = 0;
  cfg.max_decoded_per_byte = 0;
  cfg.emit = on_emit;
  cfg.user = &c2;
  c2.fps = cfg.fps;
  CHECK_EQ_INT(ak_stream_new(&cfg, g_model, &s), AK_OK);
  CHECK_EQ_INT(ak_stream_begin(s, "bomb"), AK_OK);
  rc = ak_stream_finish(s, bomb.data, bomb.len);
  ak_stream_get_counters(s, &k);
  CHECK(rc == AK_OK);
  CHECK(k.samples_16k > 16000u * 60u);
  ak_stream_free(s);
  cap_free(&c2);
  free(bomb.data);
  /* honest Ogg passes the default budget (tested in test_ogg); max_request_samples ends a
   * request that runs past it, blamed on the duration */
  ak_stream_config_default(&cfg);
  capture c3 = {0};
  cfg.sample_rate = 16000;
  cfg.max_request_samples = 16000;
  cfg.emit = on_emit;
  cfg.user = &c3;
  c3.fps = cfg.fps;
  CHECK_EQ_INT(ak_stream_new(&cfg, g_model, &s), AK_OK);
  int16_t pcm[8000];
  make_audio(16000, 0.5, pcm, 8000);
  CHECK_EQ_INT(ak_stream_begin(s, "long"), AK_OK);
  CHECK_EQ_INT(ak_stream_push(s, (const uint8_t *)pcm, sizeof pcm), AK_OK);
  CHECK_EQ_INT(ak_stream_push(s, (const uint8_t *)pcm, sizeof pcm), AK_OK);
  CHECK_EQ_INT(ak_stream_push(s, (const uint8_t *)pcm, sizeof pcm), AK_ETOOBIG);
  CHECK_EQ_INT(ak_stream_failure(s), AK_STREAM_FAIL_DURATION);
  CHECK(!ak_stream_active(s));
  /* the next request starts afresh */
  CHECK_EQ_INT(ak_stream_begin(s, "next"), AK_OK);
  CHECK_EQ_INT(ak_stream_finish(s, (const uint8_t *)pcm, sizeof pcm), AK_OK);
  ak_stream_free(s);
  cap_free(&c3);
}

/* One Ogg request through a fresh stream at the defaults, in one push (then abandoned) or in
 * one finish: its return code, failure kind and the 16 kHz samples it fed (m is freed). */
static int ogg_once(membuf m, int finish, ak_stream_failure_kind *fail, uint64_t *samples) {
  capture c = {0};
  ak_stream *s = new_stream(AK_STREAM_OGG_OPUS, 0, &c, -1);
  int rc = ak_stream_begin(s, "once");
  if (rc == AK_OK)
    rc = finish ? ak_stream_finish(s, m.data, m.len) : ak_stream_push(s, m.data, m.len);
  ak_stream_counters k;
  ak_stream_get_counters(s, &k);
  *fail = ak_stream_failure(s);
  *samples = k.samples_16k;
  ak_stream_free(s);
  cap_free(&c);
  free(m.data);
  return rc;
}

/* The budget pays for the audio packets the decoder has used (with their lacing), not for
 * bytes pushed, page headers or Opus headers: a whole bomb in one push (15 KB, which would buy
 * 150 s of audio at 480 samples a byte) stops after its first packet. */
static void test_budget_per_packet(void) {
  ak_stream_failure_kind fail;
  uint64_t n16;
  /* zero-length packets are not Opus (RFC 6716 R1): refused as corrupt before any concealment */
  CHECK_EQ_INT(ogg_once(ogg_empty_bomb(60), 0, &fail, &n16), AK_ECORRUPT);
  CHECK_EQ_INT(fail, AK_STREAM_FAIL_INPUT);
  CHECK_EQ_INT(n16, 0);
  /* all-DTX: 1-byte packets (a TOC byte, SILK WB 20 ms, an empty frame) for 5.1 s pass: 1
   * byte + 1 lacing a packet pays for its 20 ms */
  static const unsigned char dtx[1] = {(9 << 3) | 0};
  CHECK_EQ_INT(ogg_once(ogg_bomb_of(1, dtx, 1), 1, &fail, &n16), AK_OK);
  CHECK(n16 >= 255u * 320u - 320u); /* all 255 x 20 ms */
  /* 2-byte packets of two empty 60 ms SILK frames (valid Opus, 120 ms of concealment each)
   * earn only their 3 bytes: the first packet spends the grace, the second fails */
  for (int pages = 20; pages <= 40; pages += 20) {
    membuf bomb = ogg_bomb(pages);
    CHECK(bomb.len > 10000);
    CHECK_EQ_INT(ogg_once(bomb, 0, &fail, &n16), AK_ETOOBIG);
    CHECK_EQ_INT(fail, AK_STREAM_FAIL_BUDGET);
    /* one 120 ms packet, at 16 kHz (less the resampler's delay) */
    CHECK(n16 <= 5760u / 3u);
    CHECK(n16 >= 5760u / 3u - 160u);
  }
}

/* max_decoded_per_push: no call decodes more than the limit plus one packet, whatever one
 * push holds; the rest stays pending and the output is the same as without a limit. */
static ak_stream *new_limited(capture *c, uint32_t limit, uint32_t per_byte) {
  ak_stream_config cfg = stream_config(AK_STREAM_OGG_OPUS, 16000, c);
  cfg.max_decoded_per_push = limit;
  cfg.max_decoded_per_byte = per_byte;
  return open_stream(&cfg);
}

/* 16 kHz samples one call may add: the limit and one 120 ms packet, at a third of 48 kHz,
 * plus the resampler's block slack */
#define LIMITED_STEP_MAX(limit) (((limit) + 5760u) / 3u + 64u)

static void test_push_limit(void) {
  const uint32_t limit = 4800;
  membuf ogg = make_ogg(48000, 1.5);
  capture one = {0};
  CHECK_EQ_INT(run_split(AK_STREAM_OGG_OPUS, 0, ogg.data, ogg.len, NULL, 0, &one), AK_OK);
  capture c = {0};
  ak_stream *s = new_limited(&c, limit, AK_STREAM_DEFAULT_MAX_DECODED_PER_BYTE);
  CHECK_EQ_INT(ak_stream_begin(s, "limited"), AK_OK);
  ak_stream_counters k0, k1;
  int rc = AK_OK, calls = 0, pending_seen = 0;
  uint64_t most = 0;
  /* the whole stream but its last 10 bytes in one push, then the rest with finish */
  size_t head = ogg.len - 10;
  ak_stream_get_counters(s, &k0);
  rc = ak_stream_push(s, ogg.data, head);
  for (;;) {
    ak_stream_get_counters(s, &k1);
    if (k1.samples_16k - k0.samples_16k > most) most = k1.samples_16k - k0.samples_16k;
    k0 = k1;
    calls++;
    if (rc != AK_OK || !ak_stream_pending(s) || calls > 1000) break;
    pending_seen = 1;
    rc = ak_stream_push(s, NULL, 0);
  }
  CHECK_EQ_INT(rc, AK_OK);
  CHECK(pending_seen);
  CHECK(calls >= 1.5 * 48000 / (limit + 5760)); /* 1.5 s cannot fit in fewer calls */
  rc = ak_stream_finish(s, ogg.data + head, 10);
  while (rc == AK_STREAM_MORE && calls++ < 1000) rc = ak_stream_finish(s, NULL, 0);
  CHECK_EQ_INT(rc, AK_OK);
  CHECK(most <= LIMITED_STEP_MAX(limit));
  CHECK(same_output(&one, &c)); /* same motion, same Opus packets, same total */
  CHECK(!ak_stream_pending(s));
  cap_free(&c);
  cap_free(&one);

  /* finish with everything at once also goes step by step: MORE until the end */
  capture c2 = {0};
  capture ref = {0};
  CHECK_EQ_INT(run_split(AK_STREAM_OGG_OPUS, 0, ogg.data, ogg.len, NULL, 0, &ref), AK_OK);
  ak_stream_free(s);
  s = new_limited(&c2, limit, AK_STREAM_DEFAULT_MAX_DECODED_PER_BYTE);
  CHECK_EQ_INT(ak_stream_begin(s, "limited-finish"), AK_OK);
  int more = 0;
  rc = ak_stream_finish(s, ogg.data, ogg.len);
  while (rc == AK_STREAM_MORE && more < 1000) {
    CHECK(ak_stream_active(s)); /* the request stays open between the calls */
    more++;
    rc = ak_stream_finish(s, NULL, 0);
  }
  CHECK_EQ_INT(rc, AK_OK);
  CHECK(more >= 2);
  CHECK(!ak_stream_active(s));
  CHECK(same_output(&ref, &c2));
  cap_free(&c2);
  cap_free(&ref);
  free(ogg.data);

  /* a page of 255 packets of 120 ms concealment in one push, with the budget off: each call
   * decodes a bounded share (one packet), whatever the page holds */
  ak_stream_free(s);
  membuf bomb = ogg_bomb(1);
  capture c3 = {0};
  s = new_limited(&c3, limit, 0);
  CHECK_EQ_INT(ak_stream_begin(s, "bomb"), AK_OK);
  calls = 0;
  most = 0;
  ak_stream_get_counters(s, &k0);
  rc = ak_stream_push(s, bomb.data, bomb.len);
  while (rc == AK_OK && ak_stream_pending(s) && calls < 1000) {
    ak_stream_get_counters(s, &k1);
    if (k1.samples_16k - k0.samples_16k > most) most = k1.samples_16k - k0.samples_16k;
    k0 = k1;
    calls++;
    rc = ak_stream_push(s, NULL, 0);
  }
  CHECK_EQ_INT(rc, AK_OK);
  CHECK(calls >= 200); /* 255 x 120 ms: one packet reaches the limit */
  CHECK(most <= LIMITED_STEP_MAX(limit));
  ak_stream_get_counters(s, &k1);
  CHECK(k1.samples_16k >= 255u * 1920u - 1920u); /* and all of it is decoded in the end */
  ak_stream_free(s);
  cap_free(&c3);
  free(bomb.data);
}

static void test_abort(void) {
  int rate = 16000;
  size_t n = 16000;
  int16_t *pcm = malloc(n * 2);
  make_audio(rate, 1.0, pcm, n);
  capture c = {0};
  ak_stream *s = new_stream(AK_STREAM_PCM_S16LE, rate, &c, -1);
  CHECK_EQ_INT(ak_stream_begin(s, "first"), AK_OK);
  CHECK_EQ_INT(ak_stream_begin(s, "again"), AK_ESTATE);            /* one request at a time */
  CHECK_EQ_INT(ak_stream_push(s, (const uint8_t *)pcm, n), AK_OK); /* half, odd-free */
  int before = c.messages;
  CHECK(before > 0);
  ak_stream_abort(s);
  CHECK(!ak_stream_active(s));
  CHECK_EQ_INT(c.messages, before); /* nothing more for an interrupted request */
  CHECK_EQ_INT(ak_stream_push(s, (const uint8_t *)pcm, 2), AK_ESTATE);
  CHECK_EQ_INT(ak_stream_finish(s, NULL, 0), AK_ESTATE);
  ak_stream_abort(s); /* idle: no-op */
  /* the next request starts from frame 0 and packet 0 */
  capture c2 = {0};
  c2.fps = c.fps;
  cap_free(&c);
  memset(&c, 0, sizeof c);
  c.fps = c2.fps;
  CHECK_EQ_INT(ak_stream_begin(s, "second"), AK_OK);
  ak_stream_counters k;
  ak_stream_get_counters(s, &k);
  CHECK_EQ_INT(k.frames_sent, 0);
  CHECK_EQ_INT(k.samples_16k, 0);
  CHECK_EQ_INT(ak_stream_finish(s, (const uint8_t *)pcm, n * 2), AK_OK);
  CHECK_EQ_INT(c.bad, 0);
  CHECK_EQ_INT(c.frames, 25);
  ak_stream_get_counters(s, &k);
  CHECK_EQ_INT(k.frames_sent, 25);
  CHECK_EQ_INT(k.samples_16k, 16000);
  CHECK_EQ_INT(k.messages, (uint32_t)c.messages);
  CHECK(!ak_stream_active(s));
  ak_stream_free(s);
  cap_free(&c);
  cap_free(&c2);
  free(pcm);
}

/* The emit's own code comes back out, wherever the emit ran. */
static void test_emit_errors(void) {
  /* 1. at the end of a push (the aligned flush) */
  int rate = 16000;
  size_t n = 16000 * 12;
  int16_t *pcm = malloc(n * 2);
  for (size_t i = 0; i < n; i++) pcm[i] = (int16_t)((int)(rnd() % 40001) - 20000); /* loud noise */
  capture c = {0};
  c.fail_at = 1;
  c.fail_code = AK_ETOOBIG;
  ak_stream *s = new_stream(AK_STREAM_PCM_S16LE, rate, &c, -1);
  CHECK_EQ_INT(ak_stream_begin(s, "a"), AK_OK);
  CHECK_EQ_INT(ak_stream_push(s, (const uint8_t *)pcm, 16000), AK_ETOOBIG); /* 0.5 s */
  CHECK_EQ_INT(ak_stream_failure(s), AK_STREAM_FAIL_EMIT);
  CHECK_EQ_INT(ak_stream_push(s, (const uint8_t *)pcm, 2), AK_ESTATE);
  /* any negative code, unchanged */
  c.calls = 0;
  c.fail_code = AK_EIO;
  CHECK_EQ_INT(ak_stream_begin(s, "b"), AK_OK);
  CHECK_EQ_INT(ak_stream_finish(s, (const uint8_t *)pcm, 3200), AK_EIO); /* the final one */
  CHECK_EQ_INT(ak_stream_failure(s), AK_STREAM_FAIL_EMIT);
  ak_stream_free(s);
  cap_free(&c);

  /* 2. inside the Opus packet callback: at 128 kb/s the packet store fills before 250 frames,
   * so a 12 s push emits from inside the encoder; the failure stops the feeding there. */
  capture c2 = {0};
  c2.fail_at = 1;
  c2.fail_code = AK_ETOOBIG;
  s = new_stream(AK_STREAM_PCM_S16LE, rate, &c2, 128000);
  CHECK_EQ_INT(ak_stream_begin(s, "opus"), AK_OK);
  CHECK_EQ_INT(ak_stream_push(s, (const uint8_t *)pcm, n * 2), AK_ETOOBIG);
  CHECK_EQ_INT(ak_stream_failure(s), AK_STREAM_FAIL_EMIT);
  ak_stream_counters k;
  ak_stream_get_counters(s, &k);
  CHECK(k.samples_16k < n); /* stopped mid-push: the emit ran inside the pipeline */
  ak_stream_free(s);
  /* the same stream without the failure sends a message that FLUSH_ALL made (no end, fewer
   * than 250 frames) before the push returns */
  capture c3 = {0};
  s = new_stream(AK_STREAM_PCM_S16LE, rate, &c3, 128000);
  CHECK_EQ_INT(ak_stream_begin(s, "opus"), AK_OK);
  CHECK_EQ_INT(ak_stream_push(s, (const uint8_t *)pcm, n * 2), AK_OK);
  CHECK(c3.messages >= 2);
  CHECK(c3.full_msgs >= 1);
  CHECK_EQ_INT(c3.bad, 0);
  ak_stream_free(s);
  cap_free(&c2);
  cap_free(&c3);

  /* 3. inside the Ogg PCM callback (250 frames gathered while decoding 12 s) */
  membuf ogg = make_ogg(48000, 12.0);
  capture c4 = {0};
  c4.fail_at = 1;
  c4.fail_code = AK_ETOOBIG;
  s = new_stream(AK_STREAM_OGG_OPUS, 0, &c4, -1);
  CHECK_EQ_INT(ak_stream_begin(s, "ogg"), AK_OK);
  CHECK_EQ_INT(ak_stream_push(s, ogg.data, ogg.len), AK_ETOOBIG);
  CHECK_EQ_INT(ak_stream_failure(s), AK_STREAM_FAIL_EMIT);
  ak_stream_get_counters(s, &k);
  CHECK(k.samples_16k < 16000 * 12);
  ak_stream_free(s);
  cap_free(&c4);
  free(ogg.data);
  free(pcm);
}

static void test_config(void) {
  capture c = {0};
  ak_stream_config cfg;
  ak_stream_config_default(&cfg);
  ak_stream *s = (ak_stream *)&c;                            /* must stay untouched on failure */
  CHECK_EQ_INT(ak_stream_new(&cfg, g_model, &s), AK_EINVAL); /* no emit */
  CHECK(s == (ak_stream *)&c);
  cfg.emit = on_emit;
  cfg.user = &c;
  cfg.sample_rate = 999;
  CHECK_EQ_INT(ak_stream_new(&cfg, g_model, &s), AK_ERATE);
  cfg.sample_rate = 16000;
  cfg.opus_bitrate = 5000;
  CHECK_EQ_INT(ak_stream_new(&cfg, g_model, &s), AK_EINVAL);
  cfg.opus_bitrate = 24000;
  cfg.format = 7;
  CHECK_EQ_INT(ak_stream_new(&cfg, g_model, &s), AK_EINVAL);
  cfg.format = AK_STREAM_PCM_S16LE;
  cfg.fps = 0;
  CHECK_EQ_INT(ak_stream_new(&cfg, g_model, &s), AK_EINVAL); /* the engine refuses it */
  cfg.fps = 25;
  CHECK(s == (ak_stream *)&c);
  CHECK_EQ_INT(ak_stream_new(&cfg, g_model, &s), AK_OK);
  CHECK_EQ_INT(ak_stream_push(s, (const uint8_t *)"ab", 2), AK_ESTATE); /* no request */
  char longid[AK_STREAM_MAX_REQ_ID + 2];
  memset(longid, 'x', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  CHECK_EQ_INT(ak_stream_begin(s, longid), AK_EINVAL);
  longid[AK_STREAM_MAX_REQ_ID] = '\0';
  CHECK_EQ_INT(ak_stream_begin(s, longid), AK_OK);
  CHECK(ak_stream_active(s));
  CHECK_EQ_INT(ak_stream_push(s, NULL, 3), AK_EINVAL);
  ak_stream_free(s);
  ak_stream_free(NULL);
  /* motion only: no audio payloads at all */
  capture m = {0};
  s = new_stream(AK_STREAM_PCM_S16LE, 16000, &m, 0);
  int16_t pcm[8000];
  make_audio(16000, 0.5, pcm, 8000);
  CHECK_EQ_INT(ak_stream_begin(s, "m"), AK_OK);
  CHECK_EQ_INT(ak_stream_finish(s, (const uint8_t *)pcm, sizeof pcm), AK_OK);
  CHECK_EQ_INT(m.frames, 13);
  CHECK_EQ_INT(m.packets, 0);
  ak_stream_free(s);
  cap_free(&m);
}

int main(int argc, char **argv) {
  uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x5eed5eedull;
  g_rng = seed ? seed : 1;
  printf("test_stream: seed %llu (pass it as the argument to reproduce)\n",
         (unsigned long long)seed);
  if (ak_model_load_default(&g_model) != AK_OK) g_model = NULL;
  test_config();
  test_rates();
  test_ogg();
  test_budgets();
  test_budget_per_packet();
  test_push_limit();
  test_abort();
  test_emit_errors();
  test_every_split();
  ak_model_free(g_model);
  return TEST_SUMMARY();
}
