/* Settings of the motion server: the defaults, then environment, config file and flags on
 * top (flags > config file > env > defaults), with strict value checks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "avatarkit/engine.h"
#include "avatarkit/protocol.h"
#include "avatarkit/version.h"
#include "server.h"

/* The project's avatars/ directory (CMake passes the source tree's); --builtin-avatars-dir
 * replaces it. */
#ifndef AK_BUILTIN_AVATARS_DIR
#define AK_BUILTIN_AVATARS_DIR "avatars"
#endif

void ak__server_config_defaults(ak_server_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->host, sizeof c->host, "127.0.0.1");
  c->port = 8080;
  c->idle_timeout_s = 60;
  c->fps = 25;
  c->lookahead_ms = -1;
  c->expressiveness = 0.7f;
  c->opus_bitrate = 32000;
  c->opus_complexity = 1;
  c->log_level = AK_LOG_INFO;
  c->max_message_bytes = AK_MAX_INGRESS_MESSAGE_BYTES;
  c->workers = 0;
  c->input_queue_bytes = 1024 * 1024;
  c->max_request_s = 600;
  c->write_timeout_s = 30;
  c->closing_timeout_s = 10;
  c->max_speed = 20;
  c->max_speed_burst_s = 10;
  c->max_sessions = 1000;
  c->max_token_ttl_s = 86400;
  c->token_single_use = 1;
  c->drain_timeout_s = 20;
  snprintf(c->builtin_avatars_dir, sizeof c->builtin_avatars_dir, "%s", AK_BUILTIN_AVATARS_DIR);
  c->token_table_size = 1 << 20;
  c->session_rate_ip = 20;
  c->session_burst_ip = 400;
  c->session_rate_app = 50;
  c->session_burst_app = 1000;
  c->session_rate_table_size = 16384;
#ifdef AK_HAVE_LIBEV
  c->event_loop = AK_EVENT_LOOP_LIBEV;
#else
  c->event_loop = AK_EVENT_LOOP_POLL;
#endif
  c->redis_timeout_ms = 200;
  c->ping_interval_s = 20;
  c->http_timeout_s = 15;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: avatarkit-motion-server [options]\n"
          "  --listen HOST:PORT      listen address (default 127.0.0.1:8080; port 0 = any free)\n"
          "  --port-file PATH        write the bound port there once listening\n"
          "  --api-key KEY           console API key   (env AVATARKIT_API_KEY)\n"
          "  --app-id APP            app id of that key (env AVATARKIT_APP_ID)\n"
          "  --app KEY:APP           one more key/app pair (repeatable)\n"
          "  --avatars-dir DIR       one more avatar registry directory (repeatable; env\n"
          "                          AVATARKIT_AVATARS_DIR, ':'-separated)\n"
          "  --builtin-avatars-dir DIR  the project's avatars (default " AK_BUILTIN_AVATARS_DIR
          "; 'none' = off)\n"
          "  --avatars A,B,...       only these registered avatar ids (default: all; env "
          "AVATARKIT_AVATARS)\n"
          "  --idle-timeout SECONDS  close sessions without audio that long (default 60)\n"
          "  --fps N                 motion frames per second (default 25)\n"
          "  --lookahead-ms N        engine lookahead (default: engine default)\n"
          "  --expressiveness X      0 = still face .. 1 = lively (default 0.7)\n"
          "  --opus-bitrate BPS      output Opus bitrate (default 32000)\n"
          "  --opus-complexity N     0..10 (default 1)\n"
          "  --max-sessions N        refuse upgrades beyond N sessions (default 1000)\n"
          "  --max-message-bytes N   largest client message (default 8388608, at most 64 MiB)\n"
          "  --workers N             media worker threads (default 0 = one per online core)\n"
          "  --input-queue-bytes N   received audio queued per session before reading pauses\n"
          "                          (default 1048576)\n"
          "  --max-request-seconds S longest request, seconds of audio (default 600; 0 = none)\n"
          "  --write-timeout S       cut a client that takes no output for S (default 30)\n"
          "  --closing-timeout S     cut a session whose close does not complete (default 10)\n"
          "  --max-speed X           audio seconds one session may process per second, after\n"
          "                          a 10 s burst (default 20; 0 = no limit)\n"
          "  --max-token-ttl S       longest token lifetime (default 86400)\n"
          "  --token-secret HEX      64 hex chars; share it between nodes (env "
          "AVATARKIT_TOKEN_SECRET)\n"
          "  --reusable-tokens       accept a token for more than one connection until it\n"
          "                          expires (default: single use)\n"
          "  --token-table-size N    single-use tokens remembered (default 1048576)\n"
          "  --trusted-proxy CIDR    believe X-Forwarded-For from this proxy address or\n"
          "                          range (repeatable or comma list, up to 16; default none)\n"
          "  --redis URL             share single-use tokens between nodes through Redis:\n"
          "                          redis://[[user]:pass@]host[:port][/db] or host:port\n"
          "                          (env AVATARKIT_REDIS; default: in memory, this node)\n"
          "  --redis-timeout MS      Redis connect/command timeout (default 200)\n"
          "  --token-rate-limit N    token API requests per minute per IP (default 0 = off)\n"
          "  --event-loop poll|libev network event loop (default libev when built with it)\n"
          "  --session-rate-ip R[:B] new sessions per second per client address, burst B\n"
          "                          (default 20:400; 0 = off; 429 + Retry-After beyond)\n"
          "  --session-rate-app R[:B] new sessions per second per API key/app, burst B\n"
          "                          (default 50:1000; 0 = off)\n"
          "  --session-rate-table-size N  client addresses the per-address limit remembers\n"
          "                          (default 16384)\n"
          "  --cors-origin ORIGIN    let this browser origin call the HTTP API (repeatable\n"
          "                          or comma list; '*' = any; default: no CORS headers)\n"
          "  --max-connections N     open connections at most (default: fd limit - 64)\n"
          "  --ping-interval S       WebSocket ping after S s of silence, close after 2*S\n"
          "                          without an answer (default 20; 0 = off)\n"
          "  --http-timeout S        HTTP request headers, body and upgrade must complete\n"
          "                          within S s (default 15)\n"
          "  --drain-timeout S       on SIGTERM, wait this long for requests (default 20)\n"
          "  --model PATH            engine weights blob (default: built in)\n"
          "  --static DIR            serve files from DIR for other GET paths\n"
          "  --tls-cert FILE         PEM certificate (chain): serve https/wss only\n"
          "  --tls-key FILE          PEM private key of --tls-cert\n"
          "  --config FILE           key = value lines with the long option names\n"
          "  --log-level LEVEL       error|warn|info|debug (default info)\n"
          "  --version, --help\n");
}

static int parse_int(const char *v, long lo, long hi, int *out) {
  char *end = NULL;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || !end || *end || end == v || x < lo || x > hi) return -1;
  *out = (int)x;
  return 0;
}

/* RATE[:BURST] for the new-session rate limits: RATE sessions per second (0 = off, fractions
 * allowed), BURST whole sessions (default: max(1, 10 * RATE)). */
static int parse_rate(const char *v, double *rate, double *burst) {
  char *end = NULL;
  errno = 0;
  double r = strtod(v, &end);
  if (errno || end == v || !(r >= 0) || r > 1e6) return -1;
  double b = r * 10 < 1 ? 1 : r * 10;
  if (*end == ':') {
    int bi = 0;
    if (parse_int(end + 1, 1, 1000000, &bi)) return -1;
    b = bi;
  } else if (*end) {
    return -1;
  }
  *rate = r;
  *burst = b;
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int add_app(ak_server_config *c, const char *key, const char *app) {
  if (c->n_apps >= AK_MAX_APPS || !*key || !*app || strlen(key) >= AK_MAX_STR ||
      strlen(app) >= AK_MAX_STR)
    return -1;
  snprintf(c->apps[c->n_apps].api_key, AK_MAX_STR, "%s", key);
  snprintf(c->apps[c->n_apps].app_id, AK_MAX_STR, "%s", app);
  c->n_apps++;
  return 0;
}

static int add_cors(ak_server_config *c, const char *list) {
  const char *p = list;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    while (n && *p == ' ') {
      p++;
      n--;
    }
    while (n && p[n - 1] == ' ') n--;
    if (n) {
      if (c->n_cors_origins >= AK_MAX_CORS_ORIGINS || n >= AK_MAX_STR) return -1;
      memcpy(c->cors_origins[c->n_cors_origins], p, n);
      c->cors_origins[c->n_cors_origins++][n] = '\0';
    }
    p += n;
    while (*p == ' ') p++;
    if (*p == ',') p++;
  }
  return 0;
}

static int set_avatars(ak_server_config *c, const char *list) {
  c->n_avatars = 0;
  const char *p = list;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n) {
      if (c->n_avatars >= AK_MAX_AVATARS || n >= AK_MAX_STR) return -1;
      memcpy(c->avatars[c->n_avatars], p, n);
      c->avatars[c->n_avatars++][n] = '\0';
    }
    p += n + (e ? 1 : 0);
  }
  return 0;
}

static int add_avatars_dir(ak_server_config *c, const char *dir, size_t n) {
  if (c->n_avatars_dirs >= AK_MAX_AVATAR_DIRS || n == 0 || n >= sizeof c->avatars_dirs[0])
    return -1;
  memcpy(c->avatars_dirs[c->n_avatars_dirs], dir, n);
  c->avatars_dirs[c->n_avatars_dirs++][n] = '\0';
  return 0;
}

/* Applies one option; returns 0, or -1 with a message printed. */
static int apply(ak_server_config *c, const char *key, const char *val, char *api_key, char *app_id,
                 char *config_file) {
  int bad = 0;
#define NEEDVAL                                          \
  if (!val) {                                            \
    fprintf(stderr, "error: --%s needs a value\n", key); \
    return -1;                                           \
  }
  if (!strcmp(key, "listen")) {
    NEEDVAL;
    const char *colon = strrchr(val, ':');
    if (!colon || colon == val || (size_t)(colon - val) >= sizeof c->host ||
        parse_int(colon + 1, 0, 65535, &c->port))
      bad = 1;
    else
      snprintf(c->host, sizeof c->host, "%.*s", (int)(colon - val), val);
  } else if (!strcmp(key, "port-file")) {
    NEEDVAL;
    snprintf(c->port_file, sizeof c->port_file, "%s", val);
  } else if (!strcmp(key, "api-key")) {
    NEEDVAL;
    snprintf(api_key, AK_MAX_STR, "%s", val);
  } else if (!strcmp(key, "app-id")) {
    NEEDVAL;
    snprintf(app_id, AK_MAX_STR, "%s", val);
  } else if (!strcmp(key, "app")) {
    NEEDVAL;
    char tmp[2 * AK_MAX_STR];
    snprintf(tmp, sizeof tmp, "%s", val);
    char *colon = strchr(tmp, ':');
    if (!colon)
      bad = 1;
    else {
      *colon = '\0';
      bad = add_app(c, tmp, colon + 1) != 0;
    }
  } else if (!strcmp(key, "avatars")) {
    NEEDVAL;
    bad = set_avatars(c, val) != 0;
  } else if (!strcmp(key, "avatars-dir")) {
    NEEDVAL;
    bad = add_avatars_dir(c, val, strlen(val)) != 0;
  } else if (!strcmp(key, "builtin-avatars-dir")) {
    NEEDVAL;
    if (strlen(val) >= sizeof c->builtin_avatars_dir)
      bad = 1;
    else
      snprintf(c->builtin_avatars_dir, sizeof c->builtin_avatars_dir, "%s",
               strcmp(val, "none") ? val : "");
  } else if (!strcmp(key, "idle-timeout")) {
    NEEDVAL;
    bad = parse_int(val, 0, 86400, &c->idle_timeout_s) != 0;
  } else if (!strcmp(key, "fps")) {
    NEEDVAL;
    bad = parse_int(val, 1, AK_ENGINE_MAX_FPS, &c->fps) != 0;
  } else if (!strcmp(key, "lookahead-ms")) {
    NEEDVAL;
    bad = parse_int(val, 0, AK_ENGINE_MAX_LOOKAHEAD_MS, &c->lookahead_ms) != 0;
  } else if (!strcmp(key, "expressiveness")) {
    NEEDVAL;
    char *end = NULL;
    double x = strtod(val, &end);
    bad = !end || *end || !(x >= 0.0 && x <= 1.0);
    if (!bad) c->expressiveness = (float)x;
  } else if (!strcmp(key, "opus-bitrate")) {
    NEEDVAL;
    bad = parse_int(val, 6000, 128000, &c->opus_bitrate) != 0;
  } else if (!strcmp(key, "opus-complexity")) {
    NEEDVAL;
    bad = parse_int(val, 0, 10, &c->opus_complexity) != 0;
  } else if (!strcmp(key, "max-sessions")) {
    NEEDVAL;
    bad = parse_int(val, 1, 100000, &c->max_sessions) != 0;
  } else if (!strcmp(key, "max-message-bytes")) {
    NEEDVAL;
    int v = 0;
    bad = parse_int(val, 1024, AK_MAX_PARSE_BYTES, &v) != 0;
    c->max_message_bytes = (size_t)v;
  } else if (!strcmp(key, "workers")) {
    NEEDVAL;
    bad = parse_int(val, 0, AK_MAX_WORKERS, &c->workers) != 0;
  } else if (!strcmp(key, "input-queue-bytes")) {
    NEEDVAL;
    int v = 0;
    bad = parse_int(val, 4096, AK_MAX_PARSE_BYTES, &v) != 0;
    c->input_queue_bytes = (size_t)v;
  } else if (!strcmp(key, "max-request-seconds")) {
    NEEDVAL;
    bad = parse_int(val, 0, 86400, &c->max_request_s) != 0;
  } else if (!strcmp(key, "max-speed")) {
    NEEDVAL;
    bad = parse_int(val, 0, 10000, &c->max_speed) != 0;
  } else if (!strcmp(key, "write-timeout")) {
    NEEDVAL;
    bad = parse_int(val, 1, 3600, &c->write_timeout_s) != 0;
  } else if (!strcmp(key, "closing-timeout")) {
    NEEDVAL;
    bad = parse_int(val, 1, 3600, &c->closing_timeout_s) != 0;
  } else if (!strcmp(key, "max-token-ttl")) {
    NEEDVAL;
    bad = parse_int(val, 1, 30 * 86400, &c->max_token_ttl_s) != 0;
  } else if (!strcmp(key, "token-secret")) {
    NEEDVAL;
    if (strlen(val) != 64) bad = 1;
    for (int i = 0; !bad && i < 32; i++) {
      int hi = hexval(val[2 * i]), lo = hexval(val[2 * i + 1]);
      if (hi < 0 || lo < 0)
        bad = 1;
      else
        c->token_secret[i] = (uint8_t)(hi << 4 | lo);
    }
  } else if (!strcmp(key, "reusable-tokens")) {
    c->token_single_use = 0;
  } else if (!strcmp(key, "cors-origin")) {
    NEEDVAL;
    bad = add_cors(c, val) != 0;
  } else if (!strcmp(key, "token-rate-limit")) {
    NEEDVAL;
    bad = parse_int(val, 0, 1000000, &c->token_rate_limit) != 0;
  } else if (!strcmp(key, "event-loop")) {
    NEEDVAL;
    if (!strcmp(val, "poll")) c->event_loop = AK_EVENT_LOOP_POLL;
#ifdef AK_HAVE_LIBEV
    else if (!strcmp(val, "libev"))
      c->event_loop = AK_EVENT_LOOP_LIBEV;
#endif
    else
      bad = 1;
  } else if (!strcmp(key, "session-rate-ip")) {
    NEEDVAL;
    bad = parse_rate(val, &c->session_rate_ip, &c->session_burst_ip) != 0;
  } else if (!strcmp(key, "session-rate-app")) {
    NEEDVAL;
    bad = parse_rate(val, &c->session_rate_app, &c->session_burst_app) != 0;
  } else if (!strcmp(key, "session-rate-table-size")) {
    NEEDVAL;
    bad = parse_int(val, 8, 1 << 22, &c->session_rate_table_size) != 0;
  } else if (!strcmp(key, "token-table-size")) {
    NEEDVAL;
    bad = parse_int(val, 16, 1 << 26, &c->token_table_size) != 0;
  } else if (!strcmp(key, "max-connections")) {
    NEEDVAL;
    bad = parse_int(val, 8, 1 << 22, &c->max_connections) != 0;
  } else if (!strcmp(key, "ping-interval")) {
    NEEDVAL;
    bad = parse_int(val, 0, 3600, &c->ping_interval_s) != 0;
  } else if (!strcmp(key, "http-timeout")) {
    NEEDVAL;
    bad = parse_int(val, 1, 3600, &c->http_timeout_s) != 0;
  } else if (!strcmp(key, "trusted-proxy")) {
    NEEDVAL;
    char one[64];
    for (const char *p = val; !bad && *p;) {
      size_t n = strcspn(p, ",");
      bad = n == 0 || n >= sizeof one;
      if (!bad) {
        memcpy(one, p, n);
        one[n] = '\0';
        bad = ak__proxy_add(c, one) != 0;
      }
      p += n + (p[n] == ',');
    }
    bad = bad || !*val;
  } else if (!strcmp(key, "redis")) {
    NEEDVAL;
    char h[256], u[AK_MAX_STR], pw[AK_MAX_STR];
    int port, db;
    bad = strlen(val) >= sizeof c->redis_url ||
          (*val && ak__redis_parse_url(val, h, sizeof h, &port, &db, u, pw, sizeof u) != 0);
    if (!bad && *val && !ak__redis_available()) {
      fprintf(stderr, "error: --redis: this build has no Redis support (install libhiredis-dev)\n");
      return -1;
    }
    if (!bad) snprintf(c->redis_url, sizeof c->redis_url, "%s", val);
  } else if (!strcmp(key, "redis-timeout")) {
    NEEDVAL;
    bad = parse_int(val, 10, 10000, &c->redis_timeout_ms) != 0;
  } else if (!strcmp(key, "drain-timeout")) {
    NEEDVAL;
    bad = parse_int(val, 0, 3600, &c->drain_timeout_s) != 0;
  } else if (!strcmp(key, "model")) {
    NEEDVAL;
    snprintf(c->model_path, sizeof c->model_path, "%s", val);
  } else if (!strcmp(key, "static")) {
    NEEDVAL;
    snprintf(c->static_dir, sizeof c->static_dir, "%s", val);
  } else if (!strcmp(key, "tls-cert") || !strcmp(key, "tls-key")) {
    NEEDVAL;
    char *dst = key[4] == 'c' ? c->tls_cert : c->tls_key;
    bad = !*val || strlen(val) >= sizeof c->tls_cert;
    if (!bad) snprintf(dst, sizeof c->tls_cert, "%s", val);
  } else if (!strcmp(key, "config")) {
    NEEDVAL;
    if (!config_file) {
      fprintf(stderr, "error: config files cannot include others\n");
      return -1;
    }
    snprintf(config_file, 512, "%s", val);
  } else if (!strcmp(key, "log-level")) {
    NEEDVAL;
    static const char *const lv[] = {"error", "warn", "info", "debug"};
    bad = 1;
    for (int i = 0; i < 4; i++)
      if (!strcmp(val, lv[i])) {
        c->log_level = i;
        bad = 0;
      }
  } else {
    fprintf(stderr, "error: unknown option --%s (see --help)\n", key);
    return -1;
  }
  if (bad) {
    fprintf(stderr, "error: invalid value for --%s: '%s'\n", key, val ? val : "");
    return -1;
  }
  return 0;
#undef NEEDVAL
}

static int load_config_file(ak_server_config *c, const char *path, char *api_key, char *app_id) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "error: cannot open config file %s: %s\n", path, strerror(errno));
    return -1;
  }
  char line[1024];
  int lineno = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '#' || *p == '\n' || *p == '\0') continue;
    char *eq = strchr(p, '=');
    char *val = NULL;
    if (eq) {
      *eq = '\0';
      val = eq + 1;
      while (*val == ' ' || *val == '\t') val++;
      char *e = val + strlen(val);
      while (e > val && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ')) *--e = '\0';
    }
    char *e = p + strlen(p);
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n')) *--e = '\0';
    if (apply(c, p, val, api_key, app_id, NULL) != 0) {
      fprintf(stderr, "  (in %s line %d)\n", path, lineno);
      rc = -1;
    }
  }
  fclose(f);
  return rc;
}

static void random_token(char *out, size_t n) {
  static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  uint8_t r[64];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) memset(r, 7, sizeof r);
  for (size_t i = 0; i + 1 < n && i < sizeof r; i++) out[i] = al[r[i] % 36];
  out[n - 1] = '\0';
}

int ak__server_configure(ak_server_config *c, int argc, char **argv) {
  ak__server_config_defaults(c);
  char api_key[AK_MAX_STR] = "", app_id[AK_MAX_STR] = "", config_file[512] = "";
  const char *e;
  if ((e = getenv("AVATARKIT_API_KEY")) && *e) snprintf(api_key, sizeof api_key, "%s", e);
  if ((e = getenv("AVATARKIT_APP_ID")) && *e) snprintf(app_id, sizeof app_id, "%s", e);
  if ((e = getenv("AVATARKIT_AVATARS")) && *e && set_avatars(c, e)) return -1;
  if ((e = getenv("AVATARKIT_AVATARS_DIR")) && *e) {
    for (const char *p = e; *p;) {
      const char *colon = strchr(p, ':');
      size_t n = colon ? (size_t)(colon - p) : strlen(p);
      if (n && add_avatars_dir(c, p, n)) {
        fprintf(stderr, "error: invalid AVATARKIT_AVATARS_DIR (at most %d directories)\n",
                AK_MAX_AVATAR_DIRS);
        return -1;
      }
      p += n + (colon ? 1 : 0);
    }
  }
  if ((e = getenv("AVATARKIT_TOKEN_SECRET")) && *e &&
      apply(c, "token-secret", e, api_key, app_id, NULL))
    return -1;
  if ((e = getenv("AVATARKIT_REDIS")) && *e && apply(c, "redis", e, api_key, app_id, NULL))
    return -1;
  /* First pass: find --config so flags override the file. */
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--config") && i + 1 < argc &&
        load_config_file(c, argv[i + 1], api_key, app_id))
      return -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 1;
    }
    if (!strcmp(a, "--version")) {
      printf("avatarkit-motion-server %s\n", AK_VERSION_STRING);
      return 1;
    }
    if (strncmp(a, "--", 2) != 0) {
      fprintf(stderr, "error: unexpected argument '%s' (see --help)\n", a);
      return -1;
    }
    char key[64];
    const char *eq = strchr(a + 2, '=');
    const char *val = NULL;
    size_t kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (kl >= sizeof key) {
      fprintf(stderr, "error: unknown option %s\n", a);
      return -1;
    }
    memcpy(key, a + 2, kl);
    key[kl] = '\0';
    int takes_value = strcmp(key, "reusable-tokens") != 0;
    if (eq)
      val = eq + 1;
    else if (takes_value && i + 1 < argc)
      val = argv[++i];
    if (!strcmp(key, "config")) continue; /* done above */
    if (apply(c, key, val, api_key, app_id, config_file)) return -1;
  }
  if (!api_key[0] && !app_id[0] && c->n_apps == 0) {
    snprintf(api_key, sizeof api_key, "ak_dev_");
    random_token(api_key + 7, 25);
    snprintf(app_id, sizeof app_id, "app_dev_");
    random_token(app_id + 8, 13);
    c->generated_credentials = 1;
  }
  if (api_key[0] || app_id[0]) {
    if (!api_key[0] || !app_id[0]) {
      fprintf(stderr,
              "error: give both an API key and an app id "
              "(AVATARKIT_API_KEY/--api-key and AVATARKIT_APP_ID/--app-id)\n");
      return -1;
    }
    if (add_app(c, api_key, app_id)) return -1;
  }
  if (!c->tls_cert[0] != !c->tls_key[0]) {
    fprintf(stderr, "error: --tls-cert and --tls-key go together\n");
    return -1;
  }
  int zero = 1;
  for (int i = 0; i < 32; i++) zero &= c->token_secret[i] == 0;
  if (zero && getrandom(c->token_secret, 32, 0) != 32) return -1;
  return 0;
}
