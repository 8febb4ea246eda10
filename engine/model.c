/* The weights blob: a self-describing, versioned, size- and CRC-checked file of named float32
 * records, parsed into a read-only ak_model shared by engines.
 *
 * Layout (little-endian): header {char magic[4] = "AKMW"; u32 version; u32 nrec;
 * u32 total_len; u32 crc32 of bytes [24, total_len); u32 reserved = 0}, then nrec records
 * {char name[32] NUL-terminated; u32 dtype = 0 (f32); u32 ndims 1..4; u32 dims[4] (unused
 * = 1); u32 nbytes = 4 * prod(dims); nbytes of data}. Nothing may follow the last record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_nn.h"
#include "alloc_internal.h"

#define HEADER_LEN 24u
#define RECORD_HEAD_LEN 60u

uint32_t ak__crc32(const void *data, size_t len) {
  const uint8_t *p = data;
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

const ak__record *ak__model_find(const ak_model *m, const char *name) {
  if (!m) return NULL;
  for (uint32_t i = 0; i < m->nrec; i++)
    if (strncmp(m->rec[i].name, name, AK__MODEL_NAME_LEN) == 0) return &m->rec[i];
  return NULL;
}

void ak_model_free(ak_model *m) {
  if (!m) return;
  ak__free(m->rec);
  ak__free(m->store);
  ak__free(m);
}

/* Validates the whole blob before allocating anything that depends on its contents. */
static int validate(const uint8_t *b, size_t len, uint32_t *nrec_out, size_t *floats_out) {
  if (len < HEADER_LEN || memcmp(b, AK__MODEL_MAGIC, 4) != 0) return AK_EFORMAT;
  if (rd32(b + 4) != AK__MODEL_VERSION) return AK_EVERSION;
  uint32_t nrec = rd32(b + 8);
  if (rd32(b + 12) != len || rd32(b + 20) != 0) return AK_ECORRUPT;
  if (nrec == 0 || nrec > AK__MODEL_MAX_RECORDS) return AK_ECORRUPT;
  if (ak__crc32(b + HEADER_LEN, len - HEADER_LEN) != rd32(b + 16)) return AK_ECORRUPT;
  size_t off = HEADER_LEN, floats = 0;
  for (uint32_t r = 0; r < nrec; r++) {
    if (len - off < RECORD_HEAD_LEN) return AK_ECORRUPT;
    const uint8_t *h = b + off;
    if (memchr(h, 0, AK__MODEL_NAME_LEN) == NULL || h[0] == 0) return AK_ECORRUPT;
    if (rd32(h + 32) != 0) return AK_EFORMAT;
    uint32_t nd = rd32(h + 36);
    if (nd < 1 || nd > AK__MODEL_MAX_DIMS) return AK_ECORRUPT;
    uint64_t count = 1;
    for (uint32_t d = 0; d < AK__MODEL_MAX_DIMS; d++) {
      uint32_t v = rd32(h + 40 + 4 * d);
      if (v == 0 || (d >= nd && v != 1)) return AK_ECORRUPT;
      count *= v;
      if (count > AK__MODEL_MAX_BYTES / 4) return AK_ECORRUPT;
    }
    uint32_t nbytes = rd32(h + 56);
    if ((uint64_t)nbytes != count * 4) return AK_ECORRUPT;
    off += RECORD_HEAD_LEN;
    if (len - off < nbytes) return AK_ECORRUPT;
    for (uint32_t q = 0; q < r; q++) { /* duplicate names are refused */
      size_t qo = HEADER_LEN;
      for (uint32_t s = 0; s < q; s++) qo += RECORD_HEAD_LEN + rd32(b + qo + 56);
      if (strncmp((const char *)b + qo, (const char *)h, AK__MODEL_NAME_LEN) == 0)
        return AK_ECORRUPT;
    }
    off += nbytes;
    floats += (size_t)count;
  }
  if (off != len) return AK_ECORRUPT;
  *nrec_out = nrec;
  *floats_out = floats;
  return AK_OK;
}

int ak_model_load_memory(const void *data, size_t len, ak_model **out) {
  if (!data || !out) return AK_EINVAL;
  if (len > AK__MODEL_MAX_BYTES) return AK_ETOOBIG;
  const uint8_t *b = data;
  uint32_t nrec = 0;
  size_t floats = 0;
  int rc = validate(b, len, &nrec, &floats);
  if (rc < 0) return rc;
  ak_model *m = ak__calloc(1, sizeof *m);
  if (!m) return AK_ENOMEM;
  m->rec = ak__calloc(nrec, sizeof *m->rec);
  m->store = ak__malloc(floats * sizeof(float));
  if (!m->rec || !m->store) {
    ak_model_free(m);
    return AK_ENOMEM;
  }
  m->nrec = nrec;
  m->store_len = floats;
  size_t off = HEADER_LEN, fo = 0;
  for (uint32_t r = 0; r < nrec; r++) {
    const uint8_t *h = b + off;
    ak__record *rec = &m->rec[r];
    memcpy(rec->name, h, AK__MODEL_NAME_LEN);
    rec->name[AK__MODEL_NAME_LEN - 1] = 0;
    rec->ndims = rd32(h + 36);
    for (int d = 0; d < AK__MODEL_MAX_DIMS; d++) rec->dims[d] = rd32(h + 40 + 4 * d);
    uint32_t nbytes = rd32(h + 56);
    rec->count = nbytes / 4;
    const uint8_t *src = h + RECORD_HEAD_LEN;
    for (uint32_t i = 0; i < rec->count; i++) {
      uint32_t u = rd32(src + 4 * i);
      memcpy(&m->store[fo + i], &u, 4);
    }
    rec->data = &m->store[fo];
    fo += rec->count;
    off += RECORD_HEAD_LEN + nbytes;
  }
  *out = m;
  return AK_OK;
}

/* The built-in model, compiled in from models/default.akmw (empty when built without it). */
extern const unsigned char ak__default_model[];
extern const size_t ak__default_model_len;

int ak_model_load_default(ak_model **out) {
  if (!out) return AK_EINVAL;
  if (ak__default_model_len == 0) return AK_EFORMAT;
  return ak_model_load_memory(ak__default_model, ak__default_model_len, out);
}

int ak_model_load(const char *path, ak_model **out) {
  if (!path || !out) return AK_EINVAL;
  FILE *fp = fopen(path, "rb");
  if (!fp) return AK_EIO;
  int rc = AK_EIO;
  uint8_t *buf = NULL;
  if (fseek(fp, 0, SEEK_END) != 0) goto done;
  long sz = ftell(fp);
  if (sz < 0 || fseek(fp, 0, SEEK_SET) != 0) goto done;
  if ((unsigned long)sz > AK__MODEL_MAX_BYTES) {
    rc = AK_ETOOBIG;
    goto done;
  }
  buf = ak__malloc(sz > 0 ? (size_t)sz : 1);
  if (!buf) {
    rc = AK_ENOMEM;
    goto done;
  }
  if (fread(buf, 1, (size_t)sz, fp) != (size_t)sz) goto done;
  rc = ak_model_load_memory(buf, (size_t)sz, out);
done:
  ak__free(buf);
  fclose(fp);
  return rc;
}
