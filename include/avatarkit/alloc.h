/* The allocator hook: every avatarkit library (util, protocol, codec, engine, sdk, stream)
 * takes its memory through one malloc/realloc/free triple, so that an embedding program can
 * account for it, place it, or fail it on purpose in tests.
 *
 * This is the one process-wide setting of avatarkit: call ak_set_allocator() before any other
 * avatarkit call (and before starting threads that make them), and do not change it while
 * avatarkit objects or buffers exist. It is not synchronized.
 *
 * What it cannot cover: memory that third-party libraries allocate internally with libc
 * malloc: speexdsp (resampler state), libogg (Ogg sync/stream buffers), libwebsockets,
 * OpenSSL, libcurl, libopusenc and cJSON. libopus encoder/decoder state and protobuf-c's
 * decoded messages do go through the hook.
 *
 * Out of memory is never fatal: every allocation is checked and the call that needed it
 * returns AK_ENOMEM (AKS_OUT_OF_MEMORY in the SDK) with nothing leaked. */
#ifndef AVATARKIT_ALLOC_H
#define AVATARKIT_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ak_allocator {
  /* Returns size bytes aligned like malloc, or NULL. size is never 0. */
  void *(*malloc_fn)(void *user, size_t size);
  /* realloc semantics: ptr may be NULL (then like malloc_fn); returns NULL on failure and
   * leaves ptr valid. size is never 0. */
  void *(*realloc_fn)(void *user, void *ptr, size_t size);
  /* Releases ptr (never NULL). */
  void (*free_fn)(void *user, void *ptr);
  void *user; /* passed back to the three functions */
} ak_allocator;

/* Installs a (copied); NULL restores libc malloc/realloc/free. Returns AK_OK, or AK_EINVAL
 * when one of the three functions is NULL (nothing changes then). */
int ak_set_allocator(const ak_allocator *a);

/* Releases a buffer that an avatarkit call handed to the caller to free (ak_message_pack,
 * ak_audio_payload_pack, ak_motion_payload_pack, ak_motion_quantize's *owned). Equal to
 * free() while no allocator is installed. NULL is a no-op. */
void ak_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
