/* Audio plumbing of a session: sample-rate conversion, streaming Ogg Opus input decoding and
 * raw Opus output encoding (libopus, libogg, speexdsp). Each object serves one stream, is
 * not thread-safe and holds no global state. Sample buffers are borrowed. */
#ifndef AVATARKIT_CODEC_H
#define AVATARKIT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "avatarkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- resampler ------------------------------------------------------------------------ */

typedef struct ak_resampler ak_resampler;

/* in_rate/out_rate 1000..192000. Output is aligned with the input (the filter delay is
 * removed) and, after ak_resampler_flush(), totals exactly floor(n_in * out_rate / in_rate)
 * samples, whatever the chunking. */
int ak_resampler_new(int in_rate, int out_rate, ak_resampler **out);
void ak_resampler_free(ak_resampler *r);
/* Resamples n samples; writes at most cap to out. Returns samples written or a negative
 * code (AK_ETOOBIG when cap could be too small: give cap >= ak_resampler_max_out(r, n)). */
int ak_resampler_process(ak_resampler *r, const float *in, size_t n, float *out, size_t cap);
/* Upper bound of samples process() can return for n input samples. */
size_t ak_resampler_max_out(const ak_resampler *r, size_t n);
/* Drains the tail at end of stream; returns samples written. Then resets for a new stream. */
int ak_resampler_flush(ak_resampler *r, float *out, size_t cap);
/* Drops all state and counters (new stream). */
void ak_resampler_reset(ak_resampler *r);

/* s16le bytes -> floats in [-1, 1); n = number of samples. */
void ak_s16le_to_float(const uint8_t *in, size_t n, float *out);

/* ---- Opus output encoder ---------------------------------------------------------------- */

typedef struct ak_opus_encoder ak_opus_encoder;

/* Called once per encoded packet; packet borrowed. Return non-zero to abort. */
typedef int (*ak_packet_cb)(void *user, const uint8_t *packet, size_t len);

/* rate: 8000, 12000, 16000, 24000 or 48000; bitrate in bits/s (6000..256000); complexity
 * 0..10. Mono, 20 ms packets, VOIP application. */
int ak_opus_encoder_new(int rate, int bitrate, int complexity, ak_opus_encoder **out);
void ak_opus_encoder_free(ak_opus_encoder *e);
/* Encodes n samples (float mono at rate), emitting every completed 20 ms packet. Returns
 * packets emitted or a negative code. */
int ak_opus_encoder_push(ak_opus_encoder *e, const float *pcm, size_t n, ak_packet_cb cb,
                         void *user);
/* Ends the stream: pads with silence so that the decoded stream, after dropping pre_skip
 * samples, holds every pushed sample. Returns packets emitted. Then ready for reset. */
int ak_opus_encoder_finish(ak_opus_encoder *e, ak_packet_cb cb, void *user);
/* New stream: fresh encoder state, counters at zero. */
void ak_opus_encoder_reset(ak_opus_encoder *e);
int ak_opus_encoder_pre_skip(const ak_opus_encoder *e); /* samples at rate */
int ak_opus_encoder_frame_samples(const ak_opus_encoder *e);
uint64_t ak_opus_encoder_samples_in(const ak_opus_encoder *e); /* pushed since reset */

/* ---- Ogg Opus input decoder ------------------------------------------------------------- */

typedef struct ak_ogg_decoder ak_ogg_decoder;

/* Called with decoded mono float PCM at 48 kHz (pre-skip removed, end trimmed by the final
 * granule position). Return non-zero to abort. */
typedef int (*ak_pcm_cb)(void *user, const float *pcm, size_t n);

/* max_bytes bounds the total compressed bytes of one stream (AK_ETOOBIG beyond). */
int ak_ogg_decoder_new(size_t max_bytes, ak_ogg_decoder **out);
void ak_ogg_decoder_free(ak_ogg_decoder *d);
/* Feeds the next slice of the stream (split anywhere). Returns AK_OK, AK_EFORMAT (not Ogg
 * Opus / unsupported channel mapping), AK_ECORRUPT (undecodable packet, or an empty audio
 * packet: RFC 6716 R1), AK_ETOOBIG. After an
 * error the stream is dead until reset. */
int ak_ogg_decoder_push(ak_ogg_decoder *d, const uint8_t *data, size_t len, ak_pcm_cb cb,
                        void *user);
/* 1 once the end-of-stream page was seen. */
int ak_ogg_decoder_done(const ak_ogg_decoder *d);
/* Audio bytes the decoder has used so far: each audio packet with its lacing values, counted
 * just before that packet is decoded (so inside the PCM callback they include the packet being
 * delivered). Page headers and the OpusHead/OpusTags packets count nothing. A decoded-audio
 * budget per input byte uses this: bytes of a page whose packets are not decoded yet earn
 * nothing, so one push of a big slice cannot pay for a page of near-empty packets, and no
 * framing overhead buys audio. */
uint64_t ak_ogg_decoder_bytes_used(const ak_ogg_decoder *d);
/* Bounds the work of one push: once the packets a push has decoded reach `samples` (48 kHz,
 * concealment included), it stops after that packet and returns AK_OK with the rest of the
 * input kept (packets of pages taken in, whole pages still buffered); ak_ogg_decoder_pending()
 * then says 1 and push(NULL, 0) goes on. A page of hundreds of tiny packets thus costs a
 * bounded slice of CPU per call instead of all of them at once. 0 = no limit (the default);
 * kept across resets. */
void ak_ogg_decoder_set_push_limit(ak_ogg_decoder *d, uint32_t samples);
/* 1 when the last push stopped at the push limit (input may be left to decode). */
int ak_ogg_decoder_pending(const ak_ogg_decoder *d);
void ak_ogg_decoder_reset(ak_ogg_decoder *d);

#ifdef __cplusplus
}
#endif
#endif
