/* RHVoice (statistical parametric voices; Debian non-free: librhvoice5, rhvoice-english)
 * through its C API. One RHVoice engine per instance: an engine loads its voice data lazily
 * and is not shared between threads; the library keeps no process-global state we touch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <RHVoice.h>

#include "tts_internal.h"

#define RHVOICE_DATA_DIR "/usr/share/RHVoice"
#define RHVOICE_CONFIG_DIR "/etc/RHVoice"

typedef struct rh_inst {
  RHVoice_tts_engine engine;
  char voice[64];
} rh_inst;

static int rh_set_rate(int rate, void *user) {
  return ak__tts_sink_rate(user, rate) ? 0 : 1;
}

static int rh_play(const short *samples, unsigned int count, void *user) {
  return ak__tts_sink_push(user, samples, count) ? 0 : 1;
}

static void *rh_open(const char *voice, const ak__config *c, char *err, size_t errcap) {
  RHVoice_init_params ip;
  memset(&ip, 0, sizeof ip);
  ip.data_path = c->tts_data_dir[0] ? c->tts_data_dir : RHVOICE_DATA_DIR;
  ip.config_path = RHVOICE_CONFIG_DIR;
  ip.callbacks.set_sample_rate = rh_set_rate;
  ip.callbacks.play_speech = rh_play;
  RHVoice_tts_engine e = RHVoice_new_tts_engine(&ip);
  if (!e) {
    snprintf(err, errcap, "RHVoice found no voice data in %s", ip.data_path);
    return NULL;
  }
  unsigned n = RHVoice_get_number_of_voices(e);
  const RHVoice_voice_info *vi = RHVoice_get_voices(e);
  char names[256] = "";
  size_t used = 0;
  for (unsigned i = 0; i < n; i++) {
    if (vi[i].name && strcasecmp(vi[i].name, voice) == 0) {
      rh_inst *r = calloc(1, sizeof *r);
      if (!r) break;
      r->engine = e;
      snprintf(r->voice, sizeof r->voice, "%s", voice);
      return r;
    }
    if (vi[i].name && used < sizeof names) {
      int w = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", vi[i].name);
      if (w > 0) used += (size_t)w;
    }
  }
  snprintf(err, errcap, "RHVoice has no voice '%s' in %s (installed: %s)", voice, ip.data_path,
           n ? names : "none");
  RHVoice_delete_tts_engine(e);
  return NULL;
}

static void rh_close(void *inst) {
  rh_inst *r = inst;
  if (!r) return;
  RHVoice_delete_tts_engine(r->engine);
  free(r);
}

static int rh_synth(void *inst, const char *text, ak__tts_sink *sink, char *err, size_t errcap) {
  rh_inst *r = inst;
  RHVoice_synth_params sp;
  memset(&sp, 0, sizeof sp);
  sp.voice_profile = r->voice;
  sp.relative_rate = sp.relative_pitch = sp.relative_volume = 1.0;
  sp.punctuation_mode = RHVoice_punctuation_default;
  sp.capitals_mode = RHVoice_capitals_default;
  RHVoice_message m =
      RHVoice_new_message(r->engine, text, (unsigned)strlen(text), RHVoice_message_text, &sp, sink);
  if (!m) {
    snprintf(err, errcap, "RHVoice could not start voice '%s'", r->voice);
    return -1;
  }
  int ok = RHVoice_speak(m);
  RHVoice_delete_message(m);
  if (sink->stopped || sink->failed) return 1;
  if (!ok) {
    snprintf(err, errcap, "RHVoice synthesis failed (voice '%s')", r->voice);
    return -1;
  }
  return 0;
}

const ak__tts_engine_ops ak__tts_rhvoice = {"rhvoice", "RHVoice", rh_open, rh_close, rh_synth, 0};
