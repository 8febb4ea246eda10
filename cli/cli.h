/* Shared pieces of the avatarkit command-line tool: strict flag parsing, audio file loading
 * (WAV or raw s16le PCM), JSON/base64 output helpers, clocks, and the subcommand entry
 * points. The tool uses only avatarkit's public headers. */
#ifndef AK_CLI_H
#define AK_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Mono 16-bit audio loaded from a file. */
typedef struct cli_audio {
  int16_t *pcm;
  size_t n; /* samples */
  int rate;
} cli_audio;

/* Loads a WAV (16-bit PCM, any channel count: downmixed) or, when the file is not RIFF/WAVE,
 * raw s16le mono PCM at rate_flag (required then). rate_flag overrides nothing for WAV but
 * must match it when given. Returns 0, or -1 with a message in err. */
int cli_load_audio(const char *path, int rate_flag, cli_audio *out, char *err, size_t cap);
void cli_audio_free(cli_audio *a);

/* Strict number parsing: the whole string, within [min, max]. Return 0 or -1. */
int cli_parse_int(const char *s, long min, long max, long *out);
int cli_parse_double(const char *s, double min, double max, double *out);

/* Writes s as a JSON string literal (with quotes). */
void cli_json_str(FILE *f, const char *s);
/* Writes len bytes as a quoted base64 JSON string. */
void cli_json_base64(FILE *f, const uint8_t *buf, size_t len);

double cli_now_ms(void); /* monotonic */
void cli_sleep_ms(double ms);

/* Resolves --server / --console / --ingress into the two URLs (buffers >= 512). */
int cli_server_urls(const char *server, const char *console, const char *ingress, char *console_out,
                    char *ingress_out, size_t cap, char *err, size_t ecap);

/* The options that name a Motion Server and a session, shared by send and bench:
 * --server, --console, --ingress, --api-key, --app-id, --avatar, --ca-file. */
typedef struct cli_target_opts {
  const char *server, *console, *ingress, *api_key, *app_id, *avatar, *ca_file;
} cli_target_opts;
/* Credentials from AVATARKIT_API_KEY / AVATARKIT_APP_ID, the avatar that ships in avatars/. */
void cli_target_opts_init(cli_target_opts *o);
/* 1 when flag is one of those options (its value v stored; *bad = 1 when v is missing), else 0. */
int cli_parse_target_opt(cli_target_opts *o, const char *flag, const char *v, int *bad);

int cli_cmd_send(int argc, char **argv);
int cli_cmd_animate(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv, const char *argv0);

#endif
