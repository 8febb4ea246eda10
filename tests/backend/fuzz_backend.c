/* Fuzz target for the backend's parsers of untrusted bytes: the SSE stream parser (fed in
 * chunks whose sizes come from the input), base64 decoding, sentence splitting and the
 * built-in agent. Built as a libFuzzer target with -DAK_FUZZ=ON (clang); otherwise a replay
 * driver runs the committed corpus plus seeded random inputs (the seed is printed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"

static int sink(void *user, const char *t, size_t n) {
  size_t *total = user;
  *total += n;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  /* SSE: chunk sizes from the first byte */
  ak__sse p = {0};
  size_t total = 0, step = (size_t)(data[0] % 17) + 1;
  for (size_t off = 1; off < size; off += step) {
    size_t n = size - off < step ? size - off : step;
    if (ak__sse_feed(&p, (const char *)data + off, n, sink, &total) < 0) break;
  }
  ak__sse_free(&p);

  /* base64: decode, and round trip whatever decodes */
  size_t n = 0;
  uint8_t *d = ak__b64_decode((const char *)data, size, &n);
  if (d) {
    char *e = ak__b64_encode(d, n);
    if (!e || strlen(e) != size || memcmp(e, data, size) != 0) abort(); /* canonical only */
    free(e);
    free(d);
  }

  /* sentences: the splitter always makes progress and stays in bounds */
  size_t off = 0;
  while (off < size) {
    size_t k = ak__sentence_len((const char *)data + off, size - off, 1, 64);
    if (k == 0 || k > size - off) abort();
    off += k;
  }

  /* the agent on a NUL-terminated copy */
  char *text = malloc(size + 1);
  if (text) {
    memcpy(text, data, size);
    text[size] = 0;
    char out[512];
    ak__agent_reply(text, 0, out, sizeof out);
    if (strlen(out) >= sizeof out) abort();
    free(text);
  }
  return 0;
}

#ifndef AK_LIBFUZZER
static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  uint8_t buf[65536];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  LLVMFuzzerTestOneInput(buf, n);
  return 0;
}

int main(int argc, char **argv) {
  int files = 0;
  for (int i = 1; i < argc; i++) files += run_file(argv[i]) == 0;
  unsigned seed = (unsigned)time(NULL);
  printf("replayed %d corpus files; random inputs with seed %u\n", files, seed);
  srand(seed);
  static const char *frag[] = {"data: ", "{\"choices\":[{\"delta\":{\"content\":\"",
                               "\"}}]}", "\n",
                               "\r\n",   "\n\n",
                               "[DONE]", ": c",
                               "==",     "Zm9v",
                               ". ",     "!"};
  uint8_t buf[2048];
  for (int r = 0; r < 3000; r++) {
    size_t n = 0;
    while (n < sizeof buf - 64 && rand() % 40) {
      if (rand() % 2) {
        const char *s = frag[rand() % (int)(sizeof frag / sizeof frag[0])];
        memcpy(buf + n, s, strlen(s));
        n += strlen(s);
      } else {
        buf[n++] = (uint8_t)rand();
      }
    }
    LLVMFuzzerTestOneInput(buf, n);
  }
  printf("fuzz replay: no crash\n");
  return 0;
}
#endif
