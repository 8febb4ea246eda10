/* Minimal test harness: CHECK records a failure with file/line and keeps going; main
 * returns non-zero if anything failed. Each test binary prints "N passed, M failed". */
#ifndef AK_TEST_CHECK_H
#define AK_TEST_CHECK_H
#include <stdio.h>

static int ak_t_pass, ak_t_fail;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      ak_t_pass++;                                                             \
    } else {                                                                   \
      ak_t_fail++;                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)
#define CHECK_EQ_INT(a, b)                                                                        \
  do {                                                                                            \
    long long _a = (long long)(a), _b = (long long)(b);                                           \
    if (_a == _b) {                                                                               \
      ak_t_pass++;                                                                                \
    } else {                                                                                      \
      ak_t_fail++;                                                                                \
      fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, _a, #b, \
              _b);                                                                                \
    }                                                                                             \
  } while (0)
#define TEST_SUMMARY() (printf("%d passed, %d failed\n", ak_t_pass, ak_t_fail), ak_t_fail ? 1 : 0)
#endif
