/* Check macros shared by the SDK tests. Counters are atomic: e2e worker threads check too. */
#ifndef AK_SDK_CHECK_H
#define AK_SDK_CHECK_H
#include <stdio.h>

static _Atomic int g_fail, g_checks;
#define CHECK(cond)                                                            \
  do {                                                                         \
    g_checks++;                                                                \
    if (!(cond)) {                                                             \
      g_fail++;                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)
#define CHECK_EQ(a, b)                                                                         \
  do {                                                                                         \
    long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
    g_checks++;                                                                                \
    if (va_ != vb_) {                                                                          \
      g_fail++;                                                                                \
      fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, va_, vb_); \
    }                                                                                          \
  } while (0)
#endif
