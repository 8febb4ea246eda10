/* Unit tests: pack/parse round trip of every message, payload validation, quantization,
 * ids, and robustness against truncated and mutated input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avatarkit/protocol.h"
#include "check.h"

static ak_message *roundtrip(const ak_message *in) {
  uint8_t *buf = NULL;
  size_t len = 0;
  CHECK_EQ_INT(ak_message_pack(in, &buf, &len), AK_OK);
  ak_message *out = NULL;
  CHECK_EQ_INT(ak_message_parse(buf, len, &out), AK_OK);
  free(buf);
  return out;
}

static void test_configure(void) {
  ak_kv attrs[2] = {{"k1", "v1"}, {"k2", "v2"}};
  ak_message m = {.type = AK_MSG_CLIENT_CONFIGURE_SESSION, .data = AK_DATA_CONFIGURE};
  m.u.configure = (ak_configure){.sample_rate = 24000,
                                 .bitrate = 32000,
                                 .audio_format = AK_FORMAT_OGG_OPUS,
                                 .egress_type = AK_EGRESS_LIVEKIT,
                                 .has_livekit = 1,
                                 .livekit = {.url = "wss://lk",
                                             .room_name = "room",
                                             .api_token = "tok",
                                             .idle_timeout = 30,
                                             .extra_attributes = attrs,
                                             .n_extra_attributes = 2},
                                 .has_agora = 1,
                                 .agora = {.channel_name = "ch", .uid = 42}};
  ak_message *p = roundtrip(&m);
  if (!p) return;
  CHECK_EQ_INT(p->type, AK_MSG_CLIENT_CONFIGURE_SESSION);
  CHECK_EQ_INT(p->data, AK_DATA_CONFIGURE);
  CHECK_EQ_INT(p->u.configure.sample_rate, 24000);
  CHECK_EQ_INT(p->u.configure.bitrate, 32000);
  CHECK_EQ_INT(p->u.configure.audio_format, AK_FORMAT_OGG_OPUS);
  CHECK_EQ_INT(p->u.configure.egress_type, AK_EGRESS_LIVEKIT);
  CHECK(p->u.configure.has_livekit && p->u.configure.has_agora);
  CHECK(strcmp(p->u.configure.livekit.url, "wss://lk") == 0);
  CHECK(strcmp(p->u.configure.livekit.api_token, "tok") == 0);
  CHECK(strcmp(p->u.configure.livekit.api_key, "") == 0);
  CHECK_EQ_INT(p->u.configure.livekit.idle_timeout, 30);
  CHECK_EQ_INT(p->u.configure.livekit.n_extra_attributes, 2);
  CHECK(strcmp(p->u.configure.livekit.extra_attributes[1].value, "v2") == 0);
  CHECK(strcmp(p->u.configure.agora.channel_name, "ch") == 0);
  CHECK_EQ_INT(p->u.configure.agora.uid, 42);
  ak_message_free(p);
}

static void test_simple_messages(void) {
  ak_message m = {.type = AK_MSG_SERVER_CONFIRM_SESSION,
                  .data = AK_DATA_CONFIRM,
                  .u.confirm_connection_id = "20261122040000_abcdefghijkl"};
  ak_message *p = roundtrip(&m);
  CHECK(p && strcmp(p->u.confirm_connection_id, "20261122040000_abcdefghijkl") == 0);
  ak_message_free(p);

  uint8_t pcm[640];
  for (size_t i = 0; i < sizeof pcm; i++) pcm[i] = (uint8_t)(i * 7);
  m = (ak_message){
      .type = AK_MSG_CLIENT_AUDIO_INPUT,
      .data = AK_DATA_AUDIO_INPUT,
      .u.audio_input = {.req_id = "r1", .end = 1, .audio = pcm, .audio_len = sizeof pcm}};
  p = roundtrip(&m);
  CHECK(p && p->u.audio_input.end == 1 && p->u.audio_input.audio_len == sizeof pcm &&
        memcmp(p->u.audio_input.audio, pcm, sizeof pcm) == 0 &&
        strcmp(p->u.audio_input.req_id, "r1") == 0);
  ak_message_free(p);

  m = (ak_message){.type = AK_MSG_SERVER_ERROR,
                   .data = AK_DATA_ERROR,
                   .u.error = {.connection_id = "c",
                               .req_id = "r",
                               .code = 3,
                               .message = "unsupported sample rate: 11025"}};
  p = roundtrip(&m);
  CHECK(p && p->u.error.code == 3 && strstr(p->u.error.message, "unsupported sample rate"));
  ak_message_free(p);

  m = (ak_message){
      .type = AK_MSG_CLIENT_INTERRUPT, .data = AK_DATA_INTERRUPT, .u.interrupt_req_id = "rq"};
  p = roundtrip(&m);
  CHECK(p && p->type == AK_MSG_CLIENT_INTERRUPT && strcmp(p->u.interrupt_req_id, "rq") == 0);
  ak_message_free(p);

  /* An empty buffer is a valid proto3 message with nothing set. */
  CHECK_EQ_INT(ak_message_parse((const uint8_t *)"", 0, &p), AK_OK);
  CHECK(p && p->type == AK_MSG_UNSPECIFIED && p->data == AK_DATA_NONE);
  ak_message_free(p);
}

/* Wire bytes of the fixed parts, as a commercial SDK would produce them. */
static void test_wire_compat(void) {
  /* type=1 (field 1 varint), client_configure_session (field 2) {sample_rate=16000} */
  const uint8_t cfg[] = {0x08, 0x01, 0x12, 0x03, 0x08, 0x80, 0x7d};
  ak_message *p = NULL;
  CHECK_EQ_INT(ak_message_parse(cfg, sizeof cfg, &p), AK_OK);
  CHECK(p && p->type == AK_MSG_CLIENT_CONFIGURE_SESSION && p->data == AK_DATA_CONFIGURE &&
        p->u.configure.sample_rate == 16000);
  ak_message_free(p);
  /* interrupt: type=7, field 8 {req_id="a"} */
  const uint8_t intr[] = {0x08, 0x07, 0x42, 0x03, 0x0a, 0x01, 'a'};
  CHECK_EQ_INT(ak_message_parse(intr, sizeof intr, &p), AK_OK);
  CHECK(p && p->data == AK_DATA_INTERRUPT && strcmp(p->u.interrupt_req_id, "a") == 0);
  ak_message_free(p);
  /* Unknown fields (e.g. the commercial field 4 of an animation) are skipped. */
  const uint8_t anim[] = {0x08, 0x05, 0x32, 0x07, 0x18, 0x01, 0x22, 0x03, 0x01, 0x02, 0x03};
  CHECK_EQ_INT(ak_message_parse(anim, sizeof anim, &p), AK_OK);
  CHECK(p && p->data == AK_DATA_ANIMATION && p->u.animation.end == 1 &&
        !p->u.animation.has_motion && !p->u.animation.has_audio);
  ak_message_free(p);
}

static void test_animation_payloads(void) {
  enum { N = 10 };
  float w[N * AK_BLENDSHAPE_COUNT] = {0}, head[N * 3];
  for (int f = 0; f < N; f++) {
    w[f * AK_BLENDSHAPE_COUNT + AK_JAW_OPEN] = (float)f / (N - 1);
    w[f * AK_BLENDSHAPE_COUNT + AK_EYE_BLINK_LEFT] = f == 3 ? 1.f : 0.f;
    head[f * 3 + 0] = 0.01f * f;
    head[f * 3 + 1] = -0.02f * f;
    head[f * 3 + 2] = 3.5f; /* saturates at 3.2767 rad */
  }
  ak_motion_payload mp;
  uint8_t *owned = NULL;
  CHECK_EQ_INT(ak_motion_quantize(w, head, NULL, N, 25, 25, 1, &mp, &owned), AK_OK);
  CHECK_EQ_INT(mp.channel_mask, (1ull << AK_JAW_OPEN) | (1ull << AK_EYE_BLINK_LEFT));
  CHECK_EQ_INT(mp.weights_len, N * 2);

  uint8_t pk[3][4] = {{0xf8, 1, 2, 3}, {0xf8, 4, 5, 6}, {0xf8, 7, 8, 9}};
  const uint8_t *pkts[3] = {pk[0], pk[1], pk[2]};
  size_t lens[3] = {4, 4, 3};
  ak_message m = {.type = AK_MSG_SERVER_RESPONSE_ANIMATION, .data = AK_DATA_ANIMATION};
  m.u.animation = (ak_animation){.connection_id = "c",
                                 .req_id = "r",
                                 .end = 1,
                                 .has_motion = 1,
                                 .motion = mp,
                                 .has_audio = 1,
                                 .audio = {.sample_rate = 16000,
                                           .channels = 1,
                                           .frame_samples = 320,
                                           .pre_skip = 104,
                                           .first_packet = 7,
                                           .total_samples = 960,
                                           .n_packets = 3,
                                           .packets = pkts,
                                           .packet_lens = lens,
                                           .end = 1}};
  uint8_t *wire = NULL;
  size_t wire_len = 0;
  CHECK_EQ_INT(ak_message_pack(&m, &wire, &wire_len), AK_OK);
  ak_message *p = NULL;
  CHECK_EQ_INT(ak_message_parse(wire, wire_len, &p), AK_OK);
  if (!p) {
    free(owned);
    free(wire);
    return;
  }
  const ak_animation *a = &p->u.animation;
  /* The relayable payload bytes are the received ones: pointers into wire, not copies, and
   * equal to the bare payloads packed on their own. */
  CHECK(a->motion_bytes > wire && a->motion_bytes + a->motion_bytes_len <= wire + wire_len);
  CHECK(a->audio_bytes > wire && a->audio_bytes + a->audio_bytes_len <= wire + wire_len);
  uint8_t *bare = NULL;
  size_t bare_len = 0;
  CHECK_EQ_INT(ak_motion_payload_pack(&m.u.animation.motion, &bare, &bare_len), AK_OK);
  CHECK(bare_len == a->motion_bytes_len && memcmp(bare, a->motion_bytes, bare_len) == 0);
  free(bare);
  CHECK_EQ_INT(ak_audio_payload_pack(&m.u.animation.audio, &bare, &bare_len), AK_OK);
  CHECK(bare_len == a->audio_bytes_len && memcmp(bare, a->audio_bytes, bare_len) == 0);
  free(bare);
  ak_span ms, as;
  CHECK_EQ_INT(ak_animation_payload_spans(wire, wire_len, &ms, &as), AK_OK);
  CHECK(ms.present && as.present && wire + ms.off == a->motion_bytes &&
        wire + as.off == a->audio_bytes && ms.len == a->motion_bytes_len);
  free(owned);
  CHECK(a->has_motion && a->has_audio && a->end);
  CHECK_EQ_INT(a->motion.first_frame, 25);
  CHECK_EQ_INT(a->motion.frame_count, N);
  CHECK(a->motion.end);
  float w2[N * AK_BLENDSHAPE_COUNT], h2[N * 3];
  CHECK_EQ_INT(ak_motion_dequantize(&a->motion, w2, h2), N);
  float maxerr = 0;
  for (int i = 0; i < N * AK_BLENDSHAPE_COUNT; i++) maxerr = fmaxf(maxerr, fabsf(w2[i] - w[i]));
  CHECK(maxerr <= 0.5f / 255.f + 1e-6f);
  CHECK(fabsf(h2[9 * 3 + 1] - head[9 * 3 + 1]) < 1e-4f);
  CHECK(fabsf(h2[0 * 3 + 2] - 3.2767f) < 1e-4f);
  CHECK_EQ_INT(a->audio.n_packets, 3);
  CHECK_EQ_INT(a->audio.packet_lens[2], 3);
  CHECK(memcmp(a->audio.packets[1], pk[1], 4) == 0);
  CHECK_EQ_INT(a->audio.pre_skip, 104);
  CHECK_EQ_INT(a->audio.first_packet, 7);
  CHECK_EQ_INT(a->audio.total_samples, 960);
  /* The relayable sub-message bytes parse on their own and start with the magic. */
  CHECK(a->audio_bytes_len > 5 && memcmp(a->audio_bytes,
                                         "\x0d"
                                         "AKA1",
                                         5) == 0);
  CHECK(a->motion_bytes_len > 5 && memcmp(a->motion_bytes,
                                          "\x0d"
                                          "AKM1",
                                          5) == 0);
  ak_audio_payload av;
  ak_message *hold = NULL;
  CHECK_EQ_INT(ak_audio_payload_parse(a->audio_bytes, a->audio_bytes_len, &av, &hold), AK_OK);
  CHECK(hold && av.n_packets == 3 && av.frame_samples == 320);
  ak_message_free(hold);
  ak_motion_payload mv;
  CHECK_EQ_INT(ak_motion_payload_parse(a->motion_bytes, a->motion_bytes_len, &mv, &hold), AK_OK);
  CHECK(hold && mv.frame_count == N);
  ak_message_free(hold);
  /* Raw PCM never parses as a payload (no magic). */
  const uint8_t pcm[8] = {1, 0, 2, 0, 3, 0, 4, 0};
  CHECK_EQ_INT(ak_motion_payload_parse(pcm, sizeof pcm, &mv, &hold), AK_EPROTO);
  ak_message_free(p);
  free(wire);
}

/* The span finder: absent payloads, broken framing, and a repeated payload field (protobuf
 * merges the copies, so parse falls back to packing the merged payload). */
static void test_payload_spans(void) {
  ak_span ms, as;
  CHECK_EQ_INT(ak_animation_payload_spans((const uint8_t *)"", 0, &ms, &as), AK_OK);
  CHECK(!ms.present && !as.present);
  CHECK_EQ_INT(ak_animation_payload_spans(NULL, 1, &ms, &as), AK_EINVAL);
  /* Message{type=5, animation{req_id="r"}}: no payloads */
  const uint8_t none[] = {0x08, 0x05, 0x32, 0x03, 0x12, 0x01, 'r'};
  CHECK_EQ_INT(ak_animation_payload_spans(none, sizeof none, &ms, &as), AK_OK);
  CHECK(!ms.present && !as.present);
  /* animation length running past the end */
  const uint8_t cut[] = {0x08, 0x05, 0x32, 0x09, 0x12, 0x01, 'r'};
  ms.present = 7;
  CHECK_EQ_INT(ak_animation_payload_spans(cut, sizeof cut, &ms, &as), AK_EPROTO);
  CHECK_EQ_INT(ms.present, 7); /* untouched on failure */
  /* A real motion payload, then the animation with the motion field twice. */
  uint8_t w[2] = {10, 20}, hd[12] = {0};
  ak_motion_payload mp = {.fps = 25,
                          .frame_count = 2,
                          .channel_mask = 1,
                          .weights = w,
                          .weights_len = 2,
                          .head = hd,
                          .head_len = 12};
  uint8_t *bare = NULL;
  size_t bare_len = 0;
  CHECK_EQ_INT(ak_motion_payload_pack(&mp, &bare, &bare_len), AK_OK);
  CHECK(bare && bare_len <= 55); /* one-byte lengths below */
  if (!bare || bare_len > 55) {
    free(bare);
    return;
  }
  uint8_t anim[256], msg[300];
  size_t n = 0;
  for (int copy = 0; copy < 2; copy++) { /* field 100, wire type 2: tag 0xa2 0x06 */
    anim[n++] = 0xa2;
    anim[n++] = 0x06;
    anim[n++] = (uint8_t)bare_len;
    memcpy(anim + n, bare, bare_len);
    n += bare_len;
  }
  size_t mn = 0;
  msg[mn++] = 0x08;
  msg[mn++] = 0x05;
  msg[mn++] = 0x32;
  msg[mn++] = (uint8_t)n;
  memcpy(msg + mn, anim, n);
  mn += n;
  CHECK_EQ_INT(ak_animation_payload_spans(msg, mn, &ms, &as), AK_EPROTO);
  ak_message *p = NULL;
  CHECK_EQ_INT(ak_message_parse(msg, mn, &p), AK_OK);
  if (p) {
    const ak_animation *a = &p->u.animation;
    CHECK(a->has_motion && !a->has_audio);
    CHECK(a->motion_bytes && (a->motion_bytes < msg || a->motion_bytes >= msg + mn)); /* packed */
    ak_motion_payload mv;
    ak_message *hold = NULL;
    CHECK_EQ_INT(ak_motion_payload_parse(a->motion_bytes, a->motion_bytes_len, &mv, &hold), AK_OK);
    ak_message_free(hold);
    ak_message_free(p);
  }
  /* One copy: the span is the bytes as sent. */
  msg[3] = (uint8_t)(3 + bare_len);
  mn = 4 + 3 + bare_len;
  CHECK_EQ_INT(ak_animation_payload_spans(msg, mn, &ms, &as), AK_OK);
  CHECK(ms.present && !as.present && ms.off == 7 && ms.len == bare_len);
  CHECK(memcmp(msg + ms.off, bare, bare_len) == 0);
  free(bare);
}

static void test_payload_validation(void) {
  uint8_t w[4] = {1, 2, 3, 4}, h[12] = {0};
  ak_motion_payload mp = {.fps = 25,
                          .frame_count = 2,
                          .channel_mask = 3,
                          .weights = w,
                          .weights_len = 4,
                          .head = h,
                          .head_len = 12};
  uint8_t *buf;
  size_t len;
  CHECK_EQ_INT(ak_motion_payload_pack(&mp, &buf, &len), AK_OK);
  ak_motion_payload v;
  ak_message *hold;
  CHECK_EQ_INT(ak_motion_payload_parse(buf, len, &v, &hold), AK_OK);
  ak_message_free(hold);
  /* Flip the version byte (field 2 follows the 5 magic bytes: 0x10 <version>). */
  CHECK(buf[5] == 0x10 && buf[6] == 1);
  buf[6] = 9;
  CHECK_EQ_INT(ak_motion_payload_parse(buf, len, &v, &hold), AK_EVERSION);
  buf[6] = 1;
  buf[1] = 'X';
  CHECK_EQ_INT(ak_motion_payload_parse(buf, len, &v, &hold), AK_EPROTO);
  free(buf);
  /* Inconsistent sizes are refused at pack time. */
  mp.weights_len = 3;
  CHECK_EQ_INT(ak_motion_payload_pack(&mp, &buf, &len), AK_EINVAL);
  mp.weights_len = 4;
  mp.channel_mask = 1ull << 52;
  CHECK_EQ_INT(ak_motion_payload_pack(&mp, &buf, &len), AK_EINVAL);
  ak_audio_payload ap = {.sample_rate = 11025, .channels = 1, .frame_samples = 220};
  CHECK_EQ_INT(ak_audio_payload_pack(&ap, &buf, &len), AK_OK);
  ak_audio_payload av;
  CHECK_EQ_INT(ak_audio_payload_parse(buf, len, &av, &hold), AK_EPROTO); /* not an Opus rate */
  free(buf);
}

static void test_ids(void) {
  char id[AK_ID_LEN + 1], id2[AK_ID_LEN + 1];
  CHECK_EQ_INT(ak_id_new(id, sizeof id, 1795320000), AK_OK); /* 2026-11-22 04:00:00 UTC */
  CHECK(strncmp(id, "20261122040000_", 15) == 0);
  CHECK(ak_id_valid(id));
  CHECK_EQ_INT(ak_id_new(id2, sizeof id2, 0), AK_OK);
  CHECK(ak_id_valid(id2) && strcmp(id, id2) != 0);
  CHECK_EQ_INT(ak_id_new(id, AK_ID_LEN, 0), AK_EINVAL);
  CHECK(!ak_id_valid("20261122040000_abc"));
  CHECK(!ak_id_valid("20261322040000_abcdefghijkl")); /* month 13 */
  CHECK(!ak_id_valid("20261122040000-abcdefghijkl"));
  CHECK(!ak_id_valid("20261122040000_abcdefghij!l"));
  CHECK(ak_id_valid("20261122040000_abc-_fghijkl"));
  static const int ok[] = {8000, 16000, 22050, 24000, 32000, 44100, 48000};
  for (size_t i = 0; i < 7; i++) CHECK(ak_sample_rate_valid(ok[i]));
  CHECK(!ak_sample_rate_valid(11025) && !ak_sample_rate_valid(0) && !ak_sample_rate_valid(-1));
}

/* Truncations and random mutations of valid messages never crash and never succeed with
 * inconsistent views (sanitizers catch any out-of-bounds read). */
static void test_robustness(unsigned seed) {
  printf("robustness seed %u\n", seed);
  srand(seed);
  float w[4 * AK_BLENDSHAPE_COUNT], head[12] = {0};
  for (int i = 0; i < 4 * AK_BLENDSHAPE_COUNT; i++) w[i] = (float)(i % 7) / 7.f;
  ak_motion_payload mp;
  uint8_t *owned;
  CHECK_EQ_INT(ak_motion_quantize(w, head, NULL, 4, 0, 25, 0, &mp, &owned), AK_OK);
  ak_message m = {.type = AK_MSG_SERVER_RESPONSE_ANIMATION, .data = AK_DATA_ANIMATION};
  m.u.animation = (ak_animation){.req_id = "r", .has_motion = 1, .motion = mp};
  uint8_t *buf;
  size_t len;
  CHECK_EQ_INT(ak_message_pack(&m, &buf, &len), AK_OK);
  free(owned);
  int parsed_ok = 0;
  for (size_t cut = 0; cut < len; cut++) {
    ak_message *p = NULL;
    int rc = ak_message_parse(buf, cut, &p);
    if (rc == AK_OK) {
      parsed_ok++;
      ak_message_free(p);
    }
  }
  CHECK(parsed_ok < (int)len); /* most truncations are refused */
  uint8_t *mut = malloc(len);
  for (int iter = 0; iter < 20000; iter++) {
    memcpy(mut, buf, len);
    int flips = 1 + rand() % 4;
    for (int k = 0; k < flips; k++) mut[rand() % len] = (uint8_t)rand();
    ak_message *p = NULL;
    if (ak_message_parse(mut, len, &p) == AK_OK) {
      if (p->data == AK_DATA_ANIMATION && p->u.animation.has_motion) {
        float w2[AK_MAX_PAYLOAD_FRAMES > 64 ? 64 * AK_BLENDSHAPE_COUNT : 1], h2[64 * 3];
        if (p->u.animation.motion.frame_count <= 64)
          CHECK(ak_motion_dequantize(&p->u.animation.motion, w2, h2) >= 0);
      }
      ak_message_free(p);
    }
  }
  free(mut);
  free(buf);
  ak_message *p = NULL;
  CHECK_EQ_INT(ak_message_parse(buf, AK_MAX_PARSE_BYTES + 1, &p), AK_ETOOBIG);
}

int main(void) {
  test_configure();
  test_simple_messages();
  test_wire_compat();
  test_animation_payloads();
  test_payload_validation();
  test_payload_spans();
  test_ids();
  test_robustness((unsigned)time(NULL));
  return TEST_SUMMARY();
}
