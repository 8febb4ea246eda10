/* Internal allocation calls of the avatarkit libraries: the hook of avatarkit/alloc.h, or
 * libc when none is installed. Sizes of 0 are served as 1 byte so that NULL always means
 * out of memory. */
#ifndef AK_ALLOC_INTERNAL_H
#define AK_ALLOC_INTERNAL_H

#include <stddef.h>

#include "avatarkit/alloc.h"

void *ak__malloc(size_t size);
/* Zeroed n * size bytes; NULL on overflow of the product as well. */
void *ak__calloc(size_t n, size_t size);
void *ak__realloc(void *ptr, size_t size);
void ak__free(void *ptr);

#endif
