/* The allocator hook (avatarkit/alloc.h): the one process-wide setting of avatarkit, read by
 * every library through ak__malloc/ak__calloc/ak__realloc/ak__free. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_internal.h"
#include "avatarkit/error.h"

static ak_allocator g_alloc; /* all NULL: libc */

int ak_set_allocator(const ak_allocator *a) {
  if (!a) {
    memset(&g_alloc, 0, sizeof g_alloc);
    return AK_OK;
  }
  if (!a->malloc_fn || !a->realloc_fn || !a->free_fn) return AK_EINVAL;
  g_alloc = *a;
  return AK_OK;
}

void *ak__malloc(size_t size) {
  if (!size) size = 1;
  return g_alloc.malloc_fn ? g_alloc.malloc_fn(g_alloc.user, size) : malloc(size);
}

void *ak__calloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  size_t total = n * size;
  if (!g_alloc.malloc_fn) return calloc(total ? n : 1, total ? size : 1);
  void *p = ak__malloc(total);
  if (p) memset(p, 0, total ? total : 1);
  return p;
}

void *ak__realloc(void *ptr, size_t size) {
  if (!size) size = 1;
  return g_alloc.realloc_fn ? g_alloc.realloc_fn(g_alloc.user, ptr, size) : realloc(ptr, size);
}

void ak__free(void *ptr) {
  if (!ptr) return;
  if (g_alloc.free_fn)
    g_alloc.free_fn(g_alloc.user, ptr);
  else
    free(ptr);
}

void ak_free(void *ptr) {
  ak__free(ptr);
}
