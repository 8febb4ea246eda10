// Compiled as C++ by the headers.cxx test: each public header must declare its functions
// with C linkage (extern "C" guards). Redeclaring a function with "C" linkage after the
// header is an error when the header gave it C++ linkage.
#include "all_headers.h"

extern "C" {
const char *ak_blendshape_name(int i);
int ak_set_allocator(const ak_allocator *a);
int ak_resampler_new(int in_rate, int out_rate, ak_resampler **out);
int ak_engine_new(const ak_engine_config *cfg, ak_engine **out);
const char *ak_strerror(int code);
int ak_message_parse(const uint8_t *buf, size_t len, ak_message **out);
int aks_session_new(const aks_config *cfg, const aks_callbacks *cbs, void *user,
                    aks_session **out);
}

int main() { return AK_VERSION_MAJOR >= 0 ? 0 : 1; }
