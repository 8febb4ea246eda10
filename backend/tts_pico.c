/* SVOX Pico (Debian non-free: libttspico0, libttspico-data) through its C API. Each instance
 * is a whole Pico system in its own memory area (Pico allows one engine per system and keeps
 * no process-global state), so instances run in parallel without locks. 16 kHz output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <picoapi.h>
#include <picodefs.h>

#include "tts_internal.h"

#define PICO_LANG_DIR "/usr/share/pico/lang"
#define PICO_MEM_BYTES (2500 * 1000) /* what pico2wave gives one system */

/* The lingware Debian ships: text analysis (_ta) and signal generation (_sg) per language. */
static const struct {
  const char *lang, *sg;
} PICO_LANGS[] = {
    {"en-US", "lh0"}, {"en-GB", "kh0"}, {"de-DE", "gl0"},
    {"es-ES", "zl0"}, {"fr-FR", "nk0"}, {"it-IT", "cm0"},
};
#define N_PICO_LANGS (sizeof PICO_LANGS / sizeof PICO_LANGS[0])

typedef struct pico_inst {
  void *mem;
  pico_System sys;
  pico_Resource ta, sg;
  pico_Engine engine;
  int voice_defined;
} pico_inst;

int ak__tts_pico_known(const char *name) {
  for (size_t i = 0; i < N_PICO_LANGS; i++)
    if (strcmp(PICO_LANGS[i].lang, name) == 0) return 1;
  return 0;
}

static void pico_close(void *inst) {
  pico_inst *p = inst;
  if (!p) return;
  if (p->sys) {
    if (p->engine) pico_disposeEngine(p->sys, &p->engine);
    if (p->voice_defined) pico_releaseVoiceDefinition(p->sys, (const pico_Char *)"ak");
    if (p->sg) pico_unloadResource(p->sys, &p->sg);
    if (p->ta) pico_unloadResource(p->sys, &p->ta);
    pico_terminate(&p->sys);
  }
  free(p->mem);
  free(p);
}

static int pico_fail(pico_inst *p, pico_Status st, const char *what, char *err, size_t errcap) {
  pico_Retstring msg = "";
  if (p->sys) pico_getSystemStatusMessage(p->sys, st, msg);
  snprintf(err, errcap, "SVOX Pico: %s: %s (%d)", what, msg, (int)st);
  return -1;
}

static void *pico_open(const char *voice, const ak__config *c, char *err, size_t errcap) {
  size_t li = N_PICO_LANGS;
  for (size_t i = 0; i < N_PICO_LANGS; i++)
    if (strcmp(PICO_LANGS[i].lang, voice) == 0) li = i;
  if (li == N_PICO_LANGS) {
    snprintf(err, errcap, "SVOX Pico has no voice '%s' (en-US, en-GB, de-DE, es-ES, fr-FR, it-IT)",
             voice);
    return NULL;
  }
  const char *dir = c->tts_data_dir[0] ? c->tts_data_dir : PICO_LANG_DIR;
  char ta[600], sg[600];
  snprintf(ta, sizeof ta, "%s/%s_ta.bin", dir, voice);
  snprintf(sg, sizeof sg, "%s/%s_%s_sg.bin", dir, voice, PICO_LANGS[li].sg);
  /* Pico's own error for a missing file is vague: check first for a clear message. */
  const char *files[] = {ta, sg};
  for (int i = 0; i < 2; i++) {
    FILE *f = fopen(files[i], "rb");
    if (!f) {
      snprintf(err, errcap, "SVOX Pico lingware %s not found", files[i]);
      return NULL;
    }
    fclose(f);
  }
  pico_inst *p = calloc(1, sizeof *p);
  if (!p || !(p->mem = calloc(1, PICO_MEM_BYTES))) { /* Pico reads parts it never wrote */
    free(p);
    snprintf(err, errcap, "out of memory");
    return NULL;
  }
  pico_Status st = pico_initialize(p->mem, PICO_MEM_BYTES, &p->sys);
  if (st) {
    p->sys = NULL;
    snprintf(err, errcap, "SVOX Pico: initialization failed (%d)", (int)st);
    goto fail;
  }
  if ((st = pico_loadResource(p->sys, (const pico_Char *)ta, &p->ta))) {
    pico_fail(p, st, ta, err, errcap);
    goto fail;
  }
  if ((st = pico_loadResource(p->sys, (const pico_Char *)sg, &p->sg))) {
    pico_fail(p, st, sg, err, errcap);
    goto fail;
  }
  pico_Retstring ta_name, sg_name;
  if ((st = pico_getResourceName(p->sys, p->ta, ta_name)) ||
      (st = pico_getResourceName(p->sys, p->sg, sg_name)) ||
      (st = pico_createVoiceDefinition(p->sys, (const pico_Char *)"ak"))) {
    pico_fail(p, st, "voice definition", err, errcap);
    goto fail;
  }
  p->voice_defined = 1;
  if ((st = pico_addResourceToVoiceDefinition(p->sys, (const pico_Char *)"ak",
                                              (const pico_Char *)ta_name)) ||
      (st = pico_addResourceToVoiceDefinition(p->sys, (const pico_Char *)"ak",
                                              (const pico_Char *)sg_name)) ||
      (st = pico_newEngine(p->sys, (const pico_Char *)"ak", &p->engine))) {
    p->engine = NULL;
    pico_fail(p, st, "engine", err, errcap);
    goto fail;
  }
  return p;
fail:
  pico_close(p);
  return NULL;
}

static int pico_synth(void *inst, const char *text, ak__tts_sink *sink, char *err, size_t errcap) {
  pico_inst *p = inst;
  if (ak__tts_sink_rate(sink, 16000)) return 1;
  /* The text with its NUL: the NUL ends the input, so everything put is synthesized. */
  const pico_Char *in = (const pico_Char *)text;
  size_t left = strlen(text) + 1;
  pico_Status st = PICO_STEP_IDLE;
  int stop = 0;
  while (left && !stop) {
    pico_Int16 put = 0;
    st = pico_putTextUtf8(p->engine, in, (pico_Int16)(left > 32767 ? 32767 : left), &put);
    if (st) break;
    in += put;
    left -= (size_t)put;
    do {
      int16_t buf[256];
      pico_Int16 got = 0, type = 0;
      st = pico_getData(p->engine, buf, (pico_Int16)sizeof buf, &got, &type);
      if (got > 0 && ak__tts_sink_push(sink, buf, (size_t)got / 2)) stop = 1;
    } while (st == PICO_STEP_BUSY && !stop);
    if (st != PICO_STEP_BUSY && st != PICO_STEP_IDLE) break;
    if (!put && !stop && st == PICO_STEP_IDLE && left) { /* no progress: refuse to spin */
      st = PICO_STEP_ERROR;
      break;
    }
    st = PICO_STEP_IDLE;
  }
  if (stop) {
    pico_resetEngine(p->engine, PICO_RESET_SOFT); /* drop the rest; ready for the next call */
    return 1;
  }
  if (st != PICO_STEP_IDLE) {
    pico_Retstring msg = "";
    pico_getEngineStatusMessage(p->engine, st, msg);
    snprintf(err, errcap, "SVOX Pico synthesis failed: %s (%d)", msg, (int)st);
    pico_resetEngine(p->engine, PICO_RESET_FULL);
    return -1;
  }
  return 0;
}

const ak__tts_engine_ops ak__tts_pico = {"pico", "SVOX Pico", pico_open, pico_close, pico_synth, 0};
