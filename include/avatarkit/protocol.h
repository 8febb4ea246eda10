/* Driven-ingress wire protocol (PROTOCOL.md + protocol/avatarkit.proto): plain C views of
 * every message, pack/parse, the audio/motion payload codecs and the id generator.
 * Parsing never trusts its input: any malformed, truncated or inconsistent buffer returns
 * AK_EPROTO and leaves outputs untouched. */
#ifndef AVATARKIT_PROTOCOL_H
#define AVATARKIT_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "avatarkit/arkit.h"
#include "avatarkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest serialized Message a client SDK accepts from the Motion Server (the receive limit of
 * the C and web SDKs). The server's messages stay far below it: the stream library bounds each
 * to 250 frames and 64 KiB of Opus. */
#define AK_MAX_MESSAGE_BYTES (1024 * 1024)
/* Default largest Message the Motion Server accepts from a client (--max-message-bytes): a
 * whole request in one message, e.g. 60 s of 48 kHz s16le PCM (5.76 MB), as the official
 * Server SDKs send it. */
#define AK_MAX_INGRESS_MESSAGE_BYTES (8 * 1024 * 1024)
/* Ceiling of --max-message-bytes and the largest buffer ak_message_parse() accepts. */
#define AK_MAX_PARSE_BYTES (64 * 1024 * 1024)
/* Ids: "YYYYMMDDHHMMSS_" + 12 url-safe random characters. */
#define AK_ID_LEN 27
#define AK_AUDIO_MAGIC 0x31414B41u  /* "AKA1" */
#define AK_MOTION_MAGIC 0x314D4B41u /* "AKM1" */
/* Bounds on one payload, enforced by parse and build. */
#define AK_MAX_PAYLOAD_FRAMES 1024
#define AK_MAX_PAYLOAD_PACKETS 1024

/* WebSocket close codes the Motion Server sends, with the meaning a client should take from
 * each (RFC 6455 section 7.4.1; 4010 is the commercial service's "session token expired").
 * The one table: the server, the C SDK and the web SDK (web/src/errors.ts, checked by a test)
 * use these and no others. Append-only. */
#define AK_CLOSE_MAP(X)                                                  \
  X(NORMAL, 1000, "normal close (idle timeout or client close)")         \
  X(GOING_AWAY, 1001, "server shutting down or draining")                \
  X(PROTOCOL, 1002, "protocol error: malformed or unexpected message")   \
  X(UNSUPPORTED_DATA, 1003, "unsupported data: text frame")              \
  X(INVALID_PAYLOAD, 1007, "invalid audio payload")                      \
  X(POLICY, 1008, "policy: invalid configuration or client not reading") \
  X(TOO_BIG, 1009, "message too large")                                  \
  X(INTERNAL, 1011, "internal server error")                             \
  X(TOKEN_EXPIRED, 4010, "session token expired")

typedef enum ak_close_code {
#define AK__CLOSE_ENUM(name, code, meaning) AK_CLOSE_##name = code,
  AK_CLOSE_MAP(AK__CLOSE_ENUM)
#undef AK__CLOSE_ENUM
} ak_close_code;

typedef enum ak_msg_type {
  AK_MSG_UNSPECIFIED = 0,
  AK_MSG_CLIENT_CONFIGURE_SESSION = 1,
  AK_MSG_SERVER_CONFIRM_SESSION = 2,
  AK_MSG_CLIENT_AUDIO_INPUT = 3,
  AK_MSG_SERVER_ERROR = 4,
  AK_MSG_SERVER_RESPONSE_ANIMATION = 5,
  AK_MSG_CLIENT_INTERRUPT = 7
} ak_msg_type;

/* Which member of the oneof `data` is set (field numbers of Message). */
typedef enum ak_msg_data {
  AK_DATA_NONE = 0,
  AK_DATA_CONFIGURE = 2,
  AK_DATA_CONFIRM = 3,
  AK_DATA_AUDIO_INPUT = 4,
  AK_DATA_ERROR = 5,
  AK_DATA_ANIMATION = 6,
  AK_DATA_INTERRUPT = 8
} ak_msg_data;

enum { AK_FORMAT_PCM_S16LE = 0, AK_FORMAT_OGG_OPUS = 1 };
enum { AK_EGRESS_UNSPECIFIED = 0, AK_EGRESS_LIVEKIT = 1, AK_EGRESS_AGORA = 2 };
/* gRPC-style codes used in ServerError.code. The official SDKs read 3, 14 and 16 (and 4001,
 * 4002) before the message text (PROTOCOL.md section 6), so an error the SDKs know by its
 * phrase carries another code: 4 (idle timeout), 7 (token expired), 9 (protocol errors),
 * 12 (unsupported sample rate). */
enum {
  AK_GRPC_INVALID_ARGUMENT = 3,
  AK_GRPC_DEADLINE_EXCEEDED = 4,
  AK_GRPC_PERMISSION_DENIED = 7,
  AK_GRPC_RESOURCE_EXHAUSTED = 8,
  AK_GRPC_FAILED_PRECONDITION = 9,
  AK_GRPC_UNIMPLEMENTED = 12,
  AK_GRPC_INTERNAL = 13,
  AK_GRPC_UNAVAILABLE = 14,
  AK_GRPC_UNAUTHENTICATED = 16
};

/* All strings and byte ranges in these views are borrowed: from the caller when packing,
 * from the ak_message when parsed. Strings are NUL-terminated; NULL reads as "". */
typedef struct ak_kv {
  const char *key, *value;
} ak_kv;

typedef struct ak_livekit_egress {
  const char *url, *api_key, *api_secret, *room_name, *publisher_id, *api_token;
  const ak_kv *extra_attributes;
  size_t n_extra_attributes;
  int32_t idle_timeout;
} ak_livekit_egress;

typedef struct ak_agora_egress {
  const char *channel_name, *token, *publisher_id;
  uint32_t uid;
} ak_agora_egress;

typedef struct ak_configure {
  int32_t sample_rate, bitrate;
  int audio_format, transport_compression, egress_type;
  int has_livekit, has_agora;
  ak_livekit_egress livekit;
  ak_agora_egress agora;
} ak_configure;

typedef struct ak_audio_input {
  const char *req_id;
  int end;
  const uint8_t *audio;
  size_t audio_len;
} ak_audio_input;

typedef struct ak_server_error {
  const char *connection_id, *req_id;
  int32_t code;
  const char *message;
} ak_server_error;

/* AvatarAudio: Opus packets of one request's output audio. */
typedef struct ak_audio_payload {
  uint32_t sample_rate, channels, frame_samples, pre_skip;
  uint64_t first_packet, total_samples;
  size_t n_packets;
  const uint8_t *const *packets;
  const size_t *packet_lens;
  int end;
} ak_audio_payload;

/* AvatarMotion in quantized form (as on the wire). */
typedef struct ak_motion_payload {
  uint32_t fps, first_frame, frame_count;
  uint64_t channel_mask;
  const uint8_t *weights;
  size_t weights_len; /* frame_count * popcount(mask) */
  const uint8_t *head;
  size_t head_len; /* frame_count * 6 */
  const uint8_t *visemes;
  size_t visemes_len; /* 0 or frame_count */
  int end;
} ak_motion_payload;

typedef struct ak_animation {
  const char *connection_id, *req_id;
  int end;
  int has_motion, has_audio;
  ak_motion_payload motion;
  ak_audio_payload audio;
  /* When parsed: the serialized AvatarMotion / AvatarAudio exactly as received (what a
   * backend relays), pointing INTO the buffer given to ak_message_parse (valid while that
   * buffer is; never re-serialized). Else NULL/0. */
  const uint8_t *motion_bytes;
  size_t motion_bytes_len;
  const uint8_t *audio_bytes;
  size_t audio_bytes_len;
} ak_animation;

typedef struct ak_message {
  ak_msg_type type;
  ak_msg_data data;
  union {
    ak_configure configure;
    const char *confirm_connection_id;
    ak_audio_input audio_input;
    ak_server_error error;
    ak_animation animation;
    const char *interrupt_req_id;
  } u;
} ak_message;

/* Serializes m into a new malloc'd buffer (*out, *out_len; free() it). Returns AK_OK,
 * AK_EINVAL (inconsistent view, e.g. payload sizes not matching counts) or AK_ENOMEM. */
int ak_message_pack(const ak_message *m, uint8_t **out, size_t *out_len);
/* Packs m into the caller's buffer (e.g. behind transport headroom): no allocation of the
 * output and no copy. *out_len = bytes written. AK_ETOOBIG when cap is short (size it with
 * ak_message_packed_size), else as ak_message_pack. buf untouched on failure. */
int ak_message_pack_into(const ak_message *m, uint8_t *buf, size_t cap, size_t *out_len);
/* Where ak_message_pack_to() writes: called once with the exact serialized size; set *buf to
 * at least len writable bytes and return AK_OK, or return a negative code (e.g. AK_ETOOBIG for
 * a full queue) that pack_to then returns unchanged. */
typedef int (*ak_pack_dest_fn)(void *user, size_t len, uint8_t **buf);
/* Packs m into a buffer the caller provides once the size is known (size and bytes from one
 * build of the message: the cheap way to pack behind transport headroom). */
int ak_message_pack_to(const ak_message *m, ak_pack_dest_fn dest, void *user, size_t *out_len);
/* Serialized size of m, in *out_len. Same errors as ak_message_pack. */
int ak_message_packed_size(const ak_message *m, size_t *out_len);

/* Parses one serialized Message. On success *out owns all memory it points to (free with
 * ak_message_free), except animation.motion_bytes / audio_bytes, which borrow from buf. Returns
 * AK_OK, AK_EPROTO (malformed or inconsistent, including payloads with bad magic/sizes),
 * AK_EVERSION (payload layout from a newer version), AK_ETOOBIG (len over AK_MAX_PARSE_BYTES;
 * receivers enforce their own, smaller limit first), AK_ENOMEM. */
int ak_message_parse(const uint8_t *buf, size_t len, ak_message **out);
void ak_message_free(ak_message *m);

/* Where a field sits in a serialized buffer: bytes [off, off + len), when present. */
typedef struct ak_span {
  size_t off, len;
  int present;
} ak_span;
/* Finds the serialized AvatarMotion and AvatarAudio of a serialized ServerResponseAnimation
 * Message without decoding or copying them (absent ones: present = 0). Returns AK_OK, or
 * AK_EPROTO for broken framing or a payload that occurs twice; outputs untouched then. */
int ak_animation_payload_spans(const uint8_t *buf, size_t len, ak_span *motion, ak_span *audio);

/* Parses a bare serialized AvatarAudio / AvatarMotion (as relayed to clients). Views point
 * into *holder, freed with ak_message_free. */
int ak_audio_payload_parse(const uint8_t *buf, size_t len, ak_audio_payload *view,
                           ak_message **holder);
int ak_motion_payload_parse(const uint8_t *buf, size_t len, ak_motion_payload *view,
                            ak_message **holder);
/* Serializes a bare payload (malloc'd). */
int ak_audio_payload_pack(const ak_audio_payload *p, uint8_t **out, size_t *out_len);
int ak_motion_payload_pack(const ak_motion_payload *p, uint8_t **out, size_t *out_len);

/* Quantizes n frames (weights: n * AK_BLENDSHAPE_COUNT floats 0..1, head: n * 3 radians,
 * visemes: n bytes or NULL) into a motion payload whose buffers are malloc'd into *owned
 * (free() it). Channels that are 0 in every frame are left out of the mask. */
int ak_motion_quantize(const float *weights, const float *head, const uint8_t *visemes, uint32_t n,
                       uint32_t first_frame, uint32_t fps, int end, ak_motion_payload *out,
                       uint8_t **owned);
/* Dequantizes into weights (frame_count * 52, absent channels 0) and head (frame_count * 3). */
int ak_motion_dequantize(const ak_motion_payload *p, float *weights, float *head);

/* Writes a new id for unix time t (0 = now, UTC) into out (cap >= AK_ID_LEN + 1), random part
 * from getrandom(). Returns AK_OK or AK_EINVAL/AK_EIO. */
int ak_id_new(char *out, size_t cap, int64_t t);
/* 1 when s has the id shape, else 0. */
int ak_id_valid(const char *s);

/* Accepted input sample rates: 8000, 16000, 22050, 24000, 32000, 44100, 48000. */
int ak_sample_rate_valid(int32_t rate);

#ifdef __cplusplus
}
#endif
#endif
