/* One request's media pipeline: input audio bytes (s16le PCM at any rate, or an Ogg Opus
 * stream, sliced anywhere) -> 16 kHz -> motion engine + Opus encoder -> SERVER_RESPONSE_ANIMATION
 * messages whose audio is covered by their motion, handed to an emit callback as soon as
 * they are ready. This is the step the Motion Server exists for; `avatarkit animate` and the
 * stream fuzz target run the same code.
 *
 * An ak_stream lives as long as a session: ak_stream_begin() opens a request,
 * ak_stream_push() feeds it, ak_stream_finish() ends it (the last message has end = 1) and
 * ak_stream_abort() drops it (interrupt). Not thread-safe; no global state. */
#ifndef AVATARKIT_STREAM_H
#define AVATARKIT_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "avatarkit/engine.h"
#include "avatarkit/error.h"
#include "avatarkit/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-message bounds: one message carries at most this many motion frames (10 s at 25 fps)
 * and Opus packets (10 s of 20 ms packets) or AK_STREAM_MAX_AUDIO_BYTES of packet data. */
#define AK_STREAM_MAX_FRAMES 250
#define AK_STREAM_MAX_PACKETS 500
#define AK_STREAM_MAX_AUDIO_BYTES (64 * 1024)
/* Longest request id ak_stream_begin() accepts (bytes, without the NUL). */
#define AK_STREAM_MAX_REQ_ID 63
/* Default bound of one request's compressed Ogg Opus input (bytes). */
#define AK_STREAM_DEFAULT_MAX_OGG_BYTES (64u * 1024u * 1024u)
/* Default decoded-audio budget of Ogg input: 48 kHz samples allowed per audio byte the decoder
 * has used so far (ak_ogg_decoder_bytes_used(): audio packets with their lacing; page headers
 * and OpusHead/OpusTags earn nothing), on top of a grace of AK_STREAM_DEFAULT_DECODED_GRACE
 * samples (0.1 s). 480 a byte is an average of at least 800 bit/s: Opus speech is 6000+, its
 * silence without DTX 2400+, and all-DTX 20 ms packets (1 byte + 1 lacing) break even. Valid
 * 2-byte packets of empty frames decode to 120 ms of concealment each (1920 samples a byte),
 * so without the budget a few KB become minutes of audio; with it a stream of them stops after
 * its first packet. (Empty packets, which libopus would also conceal, are refused as corrupt:
 * RFC 6716 R1.) */
#define AK_STREAM_DEFAULT_MAX_DECODED_PER_BYTE 480u
#define AK_STREAM_DEFAULT_DECODED_GRACE 4800u
/* ak_stream_finish() stopped at max_decoded_per_push with input left: call it again (NULL, 0). */
#define AK_STREAM_MORE 1
/* Output audio rate: the engine's rate, so one resampler serves both. */
#define AK_STREAM_OUTPUT_RATE 16000

typedef struct ak_stream ak_stream;

/* What one emit hands out. Everything is borrowed and valid only during the callback. */
typedef struct ak_stream_output {
  /* The message, ready for ak_message_pack_into(): type SERVER_RESPONSE_ANIMATION, req_id of
   * the request, connection_id as configured; has_motion / has_audio say which payloads it
   * carries (a final message always has both, possibly empty). */
  const ak_message *message;
  /* The same motion unquantized, straight from the engine: n_frames frames numbered from
   * first_frame; weights n_frames * AK_BLENDSHAPE_COUNT (0..1), head n_frames * 3 (pitch,
   * yaw, roll in radians), visemes n_frames. NULL pointers when n_frames is 0. */
  uint32_t first_frame, n_frames;
  const float *weights, *head;
  const uint8_t *visemes;
} ak_stream_output;

/* Called for every message of the request, in order, from inside ak_stream_push() /
 * ak_stream_finish(). Return 0 to go on, or a negative code (e.g. AK_ETOOBIG: the caller's
 * send queue is full): the running call then stops and returns exactly that code, and the
 * stream is failed (ak_stream_failure() = AK_STREAM_FAIL_EMIT) until the next begin. The
 * callback must not call back into the stream. */
typedef int (*ak_stream_emit_fn)(void *user, const ak_stream_output *out);

enum { AK_STREAM_PCM_S16LE = AK_FORMAT_PCM_S16LE, AK_STREAM_OGG_OPUS = AK_FORMAT_OGG_OPUS };

typedef struct ak_stream_config {
  int format;                    /* AK_STREAM_PCM_S16LE (default) or AK_STREAM_OGG_OPUS */
  int sample_rate;               /* PCM input rate, 1000..192000 Hz (default 16000); ignored for
                                    Ogg, whose decoder outputs 48 kHz */
  int fps;                       /* motion frames per second, 1..AK_ENGINE_MAX_FPS (default 25) */
  int lookahead_ms;              /* engine lookahead, 0..AK_ENGINE_MAX_LOOKAHEAD_MS; -1 = engine
                                    default */
  float expressiveness;          /* 0..1 (default 0.7) */
  uint64_t seed;                 /* engine seed: same seed + same audio = same motion */
  int opus_bitrate;              /* output Opus bits/s, 6000..128000 (default 24000); 0 = motion
                                    only (no Opus encoder; messages carry no audio) */
  int opus_complexity;           /* 0..10 (default 5) */
  size_t max_ogg_bytes;          /* bound of one request's Ogg input, > 0 (default
                                    AK_STREAM_DEFAULT_MAX_OGG_BYTES); beyond it push fails */
  uint32_t max_decoded_per_byte; /* Ogg: decoded 48 kHz samples allowed per input byte of the
                                    request used so far, beyond decoded_grace (default
                                    AK_STREAM_DEFAULT_MAX_DECODED_PER_BYTE); 0 = no cap. Over
                                    it push/finish fail with AK_ETOOBIG, AK_STREAM_FAIL_BUDGET */
  uint32_t decoded_grace;        /* Ogg: samples decoded before that cap applies (default
                                   AK_STREAM_DEFAULT_DECODED_GRACE) */
  uint32_t max_decoded_per_push; /* Ogg: 48 kHz samples one push or finish call decodes at most
                                   (it stops after the packet that reaches it, the rest of the
                                   input stays buffered): ak_stream_pending() says so and
                                   push(NULL, 0) goes on; finish then returns AK_STREAM_MORE.
                                   Bounds the CPU of one call whatever one page holds. 0 = no
                                   limit (default) */
  uint64_t max_request_samples;  /* longest request in 16 kHz samples fed to the engine; 0 = no
                                   cap (default). Past it push/finish fail with AK_ETOOBIG,
                                   AK_STREAM_FAIL_DURATION */
  const char *connection_id;     /* copied (at most 63 bytes); NULL = "" */
  ak_stream_emit_fn emit;        /* required */
  void *user;                    /* passed to emit */
} ak_stream_config;

/* Where the failure of the last push/finish came from, so that one status (AK_ETOOBIG) keeps
 * its meaning: input too long is the client's input, a full send queue is the emit's. */
typedef enum ak_stream_failure_kind {
  AK_STREAM_FAIL_NONE = 0,
  AK_STREAM_FAIL_INPUT,    /* the input is bad: AK_EFORMAT (not Ogg Opus), AK_ECORRUPT
                              (undecodable), AK_ETOOBIG (over max_ogg_bytes) */
  AK_STREAM_FAIL_EMIT,     /* emit returned the code */
  AK_STREAM_FAIL_INTERNAL, /* engine, encoder or memory failure */
  AK_STREAM_FAIL_BUDGET,   /* Ogg input decodes to more audio than max_decoded_per_byte allows */
  AK_STREAM_FAIL_DURATION  /* the request passed max_request_samples */
} ak_stream_failure_kind;

/* Counters of the current (or last) request, reset by ak_stream_begin(). */
typedef struct ak_stream_counters {
  uint64_t samples_16k;  /* 16 kHz samples fed to the engine and encoder */
  uint32_t frames_sent;  /* motion frames emitted */
  uint64_t packets_sent; /* Opus packets emitted */
  uint32_t messages;     /* emit calls that succeeded */
} ak_stream_counters;

/* Fills cfg with the defaults above (emit NULL: set it). */
void ak_stream_config_default(ak_stream_config *cfg);

/* Creates a stream with every buffer it will use (about 170 KB plus the engine, encoder,
 * resampler and Ogg decoder). model: borrowed engine weights that must outlive the stream;
 * NULL = the built-in model. Returns AK_OK, AK_EINVAL (bad config, no emit), AK_ERATE,
 * AK_ENOMEM, or the engine's code for unusable weights. *out untouched on failure. */
int ak_stream_new(const ak_stream_config *cfg, const ak_model *model, ak_stream **out);
/* NULL is a no-op. */
void ak_stream_free(ak_stream *s);

/* Opens a request (req_id copied, 0..AK_STREAM_MAX_REQ_ID bytes): fresh pipeline state and
 * counters, frame and packet numbers from 0; the engine's slow "life" state carries over.
 * AK_ESTATE while a request is open (finish or abort it first), AK_EINVAL for a long id. */
int ak_stream_begin(ak_stream *s, const char *req_id);
/* Feeds len input bytes (borrowed; PCM may split a sample, Ogg may split anywhere), then
 * emits what is ready: motion, and the audio that motion covers. Returns AK_OK; AK_ESTATE
 * when no request is open or the stream failed; an input error (AK_EFORMAT, AK_ECORRUPT,
 * AK_ETOOBIG); emit's own negative code; or an internal one. After any error the request is
 * dead: ak_stream_failure() says why; abort or begin anew. */
int ak_stream_push(ak_stream *s, const uint8_t *data, size_t len);
/* Ends the request after feeding its last len bytes (borrowed; NULL/0 for none): drains
 * resampler, engine and encoder and emits the rest, the last message with end = 1 and audio
 * total_samples set. Motion then covers every input sample (a dangling odd PCM byte is
 * dropped). Unlike push(data) + finish(NULL, 0), no aligned message is emitted in between:
 * a client message {audio, end} gives the same messages as before the stream existed.
 * Same returns as push; on success the stream is idle (ready for the next begin). With
 * max_decoded_per_push set, Ogg input may be left after this call's share of decoding: it then
 * emits what is ready and returns AK_STREAM_MORE (positive; the request stays open), and
 * finish(NULL, 0) goes on until it returns AK_OK or an error. */
int ak_stream_finish(ak_stream *s, const uint8_t *data, size_t len);
/* Drops the open request (interrupt): nothing more is emitted for it. No-op when idle. */
void ak_stream_abort(ak_stream *s);

/* 1 when the last push/finish stopped at max_decoded_per_push with Ogg input left to decode
 * (push(NULL, 0) or finish(NULL, 0) go on with it); always 0 for PCM. */
int ak_stream_pending(const ak_stream *s);
/* 1 while a request is open (begun, not finished, aborted or failed). */
int ak_stream_active(const ak_stream *s);
/* What made the last push/finish fail; AK_STREAM_FAIL_NONE after a success or begin. */
ak_stream_failure_kind ak_stream_failure(const ak_stream *s);
void ak_stream_get_counters(const ak_stream *s, ak_stream_counters *out);

#ifdef __cplusplus
}
#endif

#endif
