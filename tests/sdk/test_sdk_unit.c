/* Server SDK unit tests that need no Motion Server: error names and mapping tables, URL
 * handling, config validation, call-order rules, the token client against a canned loopback
 * HTTP responder, the connection state table, the refused-upgrade probe off the network
 * thread, and the Ogg Opus input encoder (decoded back with the codec library). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "avatarkit/codec.h"
#include "avatarkit/sdk.h"
#include "../../sdk/internal.h"
#include "../../sdk/loop.h"

#include "sdk_check.h"

/* ---- names and tables ---------------------------------------------------------------- */

static void test_names(void) {
  CHECK(strcmp(aks_error_name(AKS_OK), "ok") == 0);
  CHECK(strcmp(aks_error_name(AKS_SESSION_TOKEN_EXPIRED), "sessionTokenExpired") == 0);
  CHECK(strcmp(aks_error_name(AKS_APP_ID_MISMATCH), "appIDMismatch") == 0);
  CHECK(strcmp(aks_error_name(AKS_EGRESS_UNAVAILABLE), "egressUnavailable") == 0);
  CHECK(strcmp(aks_error_name(AKS_QUEUE_FULL), "queueFull") == 0);
  CHECK(strcmp(aks_error_name(12345), "unknown") == 0);
  /* every code has a distinct name */
  for (int a = AKS_UPSTREAM_ERROR; a <= 0; a++)
    for (int b = a + 1; b <= 0; b++) CHECK(strcmp(aks_error_name(a), aks_error_name(b)) != 0);
  CHECK(strcmp(aks_phase_name(AKS_PHASE_SESSION_TOKEN), "session_token") == 0);
  CHECK(strcmp(aks_phase_name(AKS_PHASE_WEBSOCKET_CONNECT), "websocket_connect") == 0);
  CHECK(strcmp(aks_phase_name(AKS_PHASE_WEBSOCKET_HANDSHAKE), "websocket_handshake") == 0);
  CHECK(strcmp(aks_phase_name(AKS_PHASE_WEBSOCKET_RUNTIME), "websocket_runtime") == 0);
  CHECK(strcmp(aks_phase_name(AKS_PHASE_WEBSOCKET_SEND), "websocket_send") == 0);
  CHECK(strcmp(aks_phase_name(99), "unknown") == 0);
}

/* The official SDKs' rules in their order (PROTOCOL.md section 6), one row per rule and
 * per place where the order decides. */
static void test_server_phrases(void) {
  static const struct {
    int grpc;
    const char *msg;
    int code;
  } t[] = {
      /* 1: code 3, egress words decide */
      {3, "invalid egress config: x", AKS_INVALID_EGRESS_CONFIG},
      {3, "LiveKit room missing", AKS_INVALID_EGRESS_CONFIG},
      {3, "agora channel", AKS_INVALID_EGRESS_CONFIG},
      {3, "unsupported sample rate", AKS_INVALID_REQUEST}, /* the code wins over the phrase */
      {3, "message too large", AKS_INVALID_REQUEST},
      /* 2, 3, 4: codes before phrases */
      {16, "who are you", AKS_INVALID_EGRESS_CONFIG},
      {16, "session token expired", AKS_INVALID_EGRESS_CONFIG},
      {14, "busy", AKS_EGRESS_UNAVAILABLE},
      {4001, "x", AKS_CREDITS_EXHAUSTED},
      {4002, "x", AKS_SESSION_DURATION_EXCEEDED},
      /* 5: phrases, in order */
      {0, "Credits exhausted", AKS_CREDITS_EXHAUSTED},
      {0, "session time limit reached", AKS_SESSION_DURATION_EXCEEDED},
      {0, "maximum session duration", AKS_SESSION_DURATION_EXCEEDED},
      {0, "session denied", AKS_BILLING_REQUIRED},
      {0, "Invalid session token", AKS_SESSION_TOKEN_INVALID},
      {0, "empty token", AKS_SESSION_TOKEN_INVALID},
      {0, "token is expired", AKS_SESSION_TOKEN_EXPIRED},
      {7, "session token expired", AKS_SESSION_TOKEN_EXPIRED},
      {0, "app id mismatch: token for other", AKS_APP_ID_MISMATCH},
      {0, "AppIdUnrecognized", AKS_APP_ID_UNRECOGNIZED},
      {0, "app id unrecognized", AKS_APP_ID_UNRECOGNIZED},
      {0, "avatar not found: bob", AKS_AVATAR_NOT_FOUND},
      {12, "unsupported sample rate: 11025", AKS_UNSUPPORTED_SAMPLE_RATE},
      {0, "livekit silence timeout", AKS_IDLE_TIMEOUT},
      {4, "no audio input for 60 seconds, closing", AKS_IDLE_TIMEOUT},
      {0, "livekit_egress needs url", AKS_INVALID_EGRESS_CONFIG},
      {0, "agora_egress needs channel_name", AKS_INVALID_EGRESS_CONFIG},
      {0, "missing livekit credentials", AKS_INVALID_EGRESS_CONFIG},
      {0, "Unauthorized", AKS_INVALID_EGRESS_CONFIG},
      {0, "egress client is not configured on server", AKS_EGRESS_UNAVAILABLE},
      {0, "failed to create egress connection", AKS_EGRESS_UNAVAILABLE},
      {0, "driven server returned non-200 status code", AKS_UPSTREAM_ERROR},
      {0, "driven server request failed", AKS_UPSTREAM_ERROR},
      {9, "expected ClientConfigureSession message, got type 3", AKS_PROTOCOL_ERROR},
      {9, "unexpected message type: 2", AKS_PROTOCOL_ERROR},
      {9, "failed to unmarshal initial message: bad", AKS_PROTOCOL_ERROR},
      /* order inside the phrases: the earlier phrase wins */
      {0, "invalid session token; session token expired", AKS_SESSION_TOKEN_INVALID},
      {0, "avatar not found, unsupported sample rate", AKS_AVATAR_NOT_FOUND},
      /* nothing applies */
      {0, "failed to unmarshal message", AKS_SERVER_ERROR},
      {13, "something else broke", AKS_SERVER_ERROR},
      {0, "", AKS_SERVER_ERROR},
      {0, NULL, AKS_SERVER_ERROR},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    int got = aks__classify_server_error(t[i].grpc, t[i].msg);
    if (got != t[i].code)
      printf("  row %zu (%d, %s): %s\n", i, t[i].grpc, t[i].msg ? t[i].msg : "NULL",
             aks_error_name(got));
    CHECK_EQ(got, t[i].code);
  }
  CHECK_EQ(aks__classify_server_message("unsupported sample rate"), AKS_UNSUPPORTED_SAMPLE_RATE);
  CHECK_EQ(aks__classify_server_message("nothing known"), AKS_SERVER_ERROR);
  CHECK_EQ(aks__classify_close(4010), AKS_SESSION_TOKEN_EXPIRED);
  CHECK_EQ(aks__classify_close(1000), AKS_CONNECTION_CLOSED);
  CHECK_EQ(aks__classify_close(1006), AKS_CONNECTION_CLOSED);
  /* every code of the shared close table: only TOKEN_EXPIRED has its own meaning */
#define CLOSE_CASE(name, code, meaning)                                         \
  CHECK_EQ(aks__classify_close(code), AK_CLOSE_##name == AK_CLOSE_TOKEN_EXPIRED \
                                          ? AKS_SESSION_TOKEN_EXPIRED           \
                                          : AKS_CONNECTION_CLOSED);
  AK_CLOSE_MAP(CLOSE_CASE)
#undef CLOSE_CASE
}

#define ERRBODY(st, code, det)                                                               \
  "{\"errors\":[{\"status\":" #st ",\"code\":\"" code "\",\"title\":\"t\",\"detail\":\"" det \
  "\"}"                                                                                      \
  "]}"
#define MSGBODY(m) "{\"message\":\"" m "\"}\n"

static void test_http_classes(void) {
  static const struct {
    int status;
    const char *body;
    int at_connect;
    int code;
    const char *msg;
  } t[] = {
      /* the commercial ingress's answers */
      {400, MSGBODY("Invalid session token"), 1, AKS_SESSION_TOKEN_INVALID,
       "Invalid session token"},
      {401, MSGBODY("Session token expired"), 1, AKS_SESSION_TOKEN_EXPIRED,
       "Session token expired"},
      {404, MSGBODY("Avatar not found"), 1, AKS_AVATAR_NOT_FOUND, "Avatar not found"},
      {404, MSGBODY("App id unrecognized"), 1, AKS_APP_ID_UNRECOGNIZED, "App id unrecognized"},
      {400, MSGBODY("App id mismatch: other app"), 1, AKS_APP_ID_MISMATCH,
       "App id mismatch: other app"},
      /* rule 6 by status alone */
      {400, MSGBODY("who knows"), 1, AKS_SESSION_TOKEN_INVALID, "who knows"},
      {400, MSGBODY("who knows"), 0, AKS_INVALID_REQUEST, "who knows"},
      {401, ERRBODY(401, "invalid_api_key", "invalid api key"), 0, AKS_SESSION_TOKEN_EXPIRED,
       "invalid api key"},
      {401, NULL, 0, AKS_SESSION_TOKEN_EXPIRED, "HTTP status 401"},
      {402, ERRBODY(402, "x", "pay up"), 0, AKS_BILLING_REQUIRED, "pay up"},
      {404, ERRBODY(404, "not_found", "no such thing"), 0, AKS_APP_ID_UNRECOGNIZED,
       "no such thing"},
      {400, ERRBODY(400, "invalid_request", "expireAt out of range"), 0, AKS_INVALID_REQUEST,
       "expireAt out of range"},
      {403, "not json", 0, AKS_INVALID_REQUEST, "HTTP status 403"},
      {429, "{}", 1, AKS_INVALID_REQUEST, "HTTP status 429"},
      {500, ERRBODY(500, "internal", "boom"), 0, AKS_SERVER_ERROR, "boom"},
      {503, NULL, 1, AKS_SERVER_ERROR, "HTTP status 503"},
      /* codes and phrases before the status */
      {401, ERRBODY(401, "unauthorized", "invalid api key"), 0, AKS_INVALID_EGRESS_CONFIG,
       "invalid api key"},
      {400, ERRBODY(400, "INVALID_ARGUMENT", "bad"), 0, AKS_INVALID_REQUEST, "bad"},
      {400, ERRBODY(400, "INVALID_ARGUMENT", "bad egress"), 0, AKS_INVALID_EGRESS_CONFIG,
       "bad egress"},
      {503, ERRBODY(503, "UNAVAILABLE", "later"), 0, AKS_EGRESS_UNAVAILABLE, "later"},
      {402, ERRBODY(402, "x", "credits exhausted"), 0, AKS_CREDITS_EXHAUSTED, "credits exhausted"},
      {401, ERRBODY(401, "x", "invalid session token"), 1, AKS_SESSION_TOKEN_INVALID,
       "invalid session token"},
      {404, ERRBODY(404, "x", "avatar not found: x"), 1, AKS_AVATAR_NOT_FOUND,
       "avatar not found: x"},
      /* ours */
      {0, NULL, 1, AKS_CONNECTION_FAILED, "no HTTP response"},
      {302, NULL, 0, AKS_PROTOCOL_ERROR, "HTTP status 302"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    char msg[128] = "junk";
    int got = aks__classify_http(t[i].status, t[i].body, t[i].at_connect, msg, sizeof msg);
    if (got != t[i].code || strcmp(msg, t[i].msg) != 0)
      printf("  row %zu (%d): %s, \"%s\"\n", i, t[i].status, aks_error_name(got), msg);
    CHECK_EQ(got, t[i].code);
    CHECK(strcmp(msg, t[i].msg) == 0);
  }
  /* title is used when there is no detail */
  char msg[64];
  aks__classify_http(401, "{\"errors\":[{\"status\":401,\"title\":\"Token Gone\"}]}", 0, msg,
                     sizeof msg);
  CHECK(strcmp(msg, "Token Gone") == 0);
}

static void test_urls(void) {
  aks__url u;
  CHECK_EQ(aks__url_parse("ws://127.0.0.1:8080/v2/driveningress", &u), AKS_OK);
  CHECK(!u.tls && strcmp(u.host, "127.0.0.1") == 0 && u.port == 8080 &&
        strcmp(u.path, "/v2/driveningress") == 0 && u.query[0] == 0);
  CHECK_EQ(aks__url_parse("https://example.com", &u), AKS_OK);
  CHECK(u.tls && u.port == 443 && strcmp(u.path, "/") == 0);
  CHECK_EQ(aks__url_parse("HTTP://h:1/a?b=c#frag", &u), AKS_OK);
  CHECK(u.port == 1 && strcmp(u.path, "/a") == 0 && strcmp(u.query, "b=c") == 0);
  CHECK_EQ(aks__url_parse("wss://[::1]:9/x", &u), AKS_OK);
  CHECK(u.tls && strcmp(u.host, "::1") == 0 && u.port == 9);
  const char *bad[] = {"",           "ftp://x",      "ws://",       "ws://:80/",
                       "ws://h:0",   "ws://h:65536", "ws://h:12x/", "http://h:/",
                       "ws://[::1/", "ws://a b/",    "ws://u@h/",   "localhost:8080"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = aks__url_parse(bad[i], &u);
    if (rc != AKS_INVALID_ARGUMENT) fprintf(stderr, "accepted bad url '%s'\n", bad[i]);
    CHECK_EQ(rc, AKS_INVALID_ARGUMENT);
  }
  CHECK_EQ(aks__url_parse(NULL, &u), AKS_INVALID_ARGUMENT);

  char p[256];
  CHECK_EQ(aks__url_parse("ws://h/v2/driveningress/", &u), AKS_OK);
  CHECK_EQ(aks__ingress_path(&u, "av 1", "app", "tok", 0, p, sizeof p), AKS_OK);
  CHECK(strcmp(p, "/v2/driveningress/websocket?id=av%201") == 0);
  CHECK_EQ(aks__ingress_path(&u, "a", "my&app", "t/k=+", 1, p, sizeof p), AKS_OK);
  CHECK(strcmp(p, "/v2/driveningress/websocket?id=a&appId=my%26app&sessionKey=t%2Fk%3D%2B") == 0);
  CHECK_EQ(aks__url_parse("ws://h/?region=eu", &u), AKS_OK);
  CHECK_EQ(aks__ingress_path(&u, "a", "b", "c", 0, p, sizeof p), AKS_OK);
  CHECK(strcmp(p, "/websocket?id=a&region=eu") == 0);
  CHECK_EQ(aks__ingress_path(&u, "a", "b", "c", 0, p, 12), AKS_INVALID_ARGUMENT);

  size_t pos = 0;
  char e[8];
  CHECK_EQ(aks__url_escape(e, sizeof e, &pos, "a~-_."), AKS_OK);
  CHECK(strcmp(e, "a~-_.") == 0 && pos == 5);
  CHECK_EQ(aks__url_escape(e, sizeof e, &pos, "\xff"), AKS_INVALID_ARGUMENT); /* needs 3 */
}

static void test_token_body(void) {
  aks__http_result r;
  memset(&r, 0, sizeof r);
  CHECK_EQ(aks__parse_token_body("{\"sessionToken\":\"abc.def\"}", &r), AKS_OK);
  CHECK(strcmp(r.token, "abc.def") == 0);
  CHECK_EQ(aks__parse_token_body("{\"sessionToken\":\"\"}", &r), AKS_PROTOCOL_ERROR);
  CHECK_EQ(aks__parse_token_body("{\"sessionToken\":5}", &r), AKS_PROTOCOL_ERROR);
  CHECK_EQ(aks__parse_token_body("[", &r), AKS_PROTOCOL_ERROR);
  CHECK_EQ(aks__parse_token_body(NULL, &r), AKS_PROTOCOL_ERROR);
}

/* ---- config validation and call order ------------------------------------------------- */

static aks_config good_config(void) {
  aks_config c;
  aks_config_default(&c);
  c.api_key = "k";
  c.app_id = "app";
  c.avatar_id = "av";
  c.console_url = "http://127.0.0.1:9/v1/console";
  c.ingress_url = "ws://127.0.0.1:9/v2/driveningress";
  return c;
}

static void test_config(void) {
  aks_config c;
  aks_config_default(&c);
  CHECK_EQ(c.sample_rate, 16000);
  CHECK_EQ(c.token_ttl_s, 3600);
  CHECK_EQ(c.connect_timeout_ms, 10000);
  CHECK_EQ(c.threading, AKS_THREAD_INTERNAL);
  CHECK(c.api_key == NULL && c.session_token == NULL);
  CHECK(c.ca_file == NULL && c.token_provider == NULL);
  CHECK_EQ(c.reconnect, 0); /* off by default */
  CHECK_EQ(c.reconnect_max_attempts, 5);
  CHECK_EQ(c.reconnect_initial_ms, 200);
  CHECK_EQ(c.reconnect_max_ms, 5000);
  CHECK_EQ(c.liveness_timeout_ms, 5000);

  aks_session *s = (aks_session *)&c; /* sentinel: must stay untouched on failure */
  aks_session *const sentinel = s;
#define BAD(stmt)                                                        \
  do {                                                                   \
    aks_config b = good_config();                                        \
    stmt;                                                                \
    s = sentinel;                                                        \
    CHECK_EQ(aks_session_new(&b, NULL, NULL, &s), AKS_INVALID_ARGUMENT); \
    CHECK(s == sentinel);                                                \
  } while (0)
  BAD(b.app_id = NULL);
  BAD(b.app_id = "");
  BAD(b.avatar_id = NULL);
  BAD(b.ingress_url = NULL);
  BAD(b.ingress_url = "tcp://x");
  BAD(b.console_url = NULL);
  BAD(b.api_key = NULL);
  BAD(b.console_url = "nope");
  BAD(b.sample_rate = 11025);
  BAD(b.sample_rate = -1);
  BAD(b.token_ttl_s = -5);
  BAD(b.token_ttl_s = 86401);
  BAD(b.audio_format = 7);
  BAD(b.egress_type = 9);
  BAD(b.threading = 5);
  BAD(b.connect_timeout_ms = -1);
  BAD(b.bitrate = -1);
  BAD(b.ca_file = "/nonexistent/ca.pem");
  BAD(b.ca_file = "");
  BAD(b.reconnect = 2);
  BAD(b.reconnect_max_attempts = -1);
  BAD(b.reconnect_max_attempts = 1001);
  BAD(b.reconnect_initial_ms = -3);
  BAD((b.reconnect_initial_ms = 1000, b.reconnect_max_ms = 999));
  BAD(b.reconnect_max_ms = 600001);
  BAD(b.liveness_timeout_ms = 499);
  BAD(b.liveness_timeout_ms = -2);
  BAD(b.liveness_timeout_ms = 600001);
#undef BAD
  {
    /* the edges that are accepted: liveness off, reconnect on, a readable ca_file */
    aks_config g = good_config();
    g.liveness_timeout_ms = -1;
    g.reconnect = 1;
    g.reconnect_initial_ms = 10000; /* max defaults to at least initial */
    g.reconnect_max_ms = 0;
    char ca[] = "/tmp/aks-unit-ca-XXXXXX"; /* readable is all aks_session_new checks */
    int fd = mkstemp(ca);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    g.ca_file = ca;
    g.threading = AKS_THREAD_EXTERNAL;
    aks_session *ok = NULL;
    CHECK_EQ(aks_session_new(&g, NULL, NULL, &ok), AKS_OK);
    aks_session_free(ok);
    unlink(ca);
  }
  CHECK_EQ(aks_session_new(NULL, NULL, NULL, &s), AKS_INVALID_ARGUMENT);

  /* every accepted rate */
  const int rates[] = {8000, 16000, 22050, 24000, 32000, 44100, 48000};
  for (size_t i = 0; i < 7; i++) {
    aks_config g = good_config();
    g.sample_rate = rates[i];
    g.threading = AKS_THREAD_EXTERNAL;
    aks_session *ok = NULL;
    CHECK_EQ(aks_session_new(&g, NULL, NULL, &ok), AKS_OK);
    aks_session_free(ok);
  }
  /* a session token makes console/api key optional; the config strings are copied */
  char app[8] = "app";
  aks_config g = good_config();
  g.console_url = NULL;
  g.api_key = NULL;
  g.session_token = "tok";
  g.app_id = app;
  aks_session *ok = NULL;
  CHECK_EQ(aks_session_new(&g, NULL, NULL, &ok), AKS_OK);
  memcpy(app, "XXX", 4);
  CHECK_EQ(aks_session_init(ok), AKS_OK); /* nothing to fetch */
  CHECK(aks_session_connection_id(ok) == NULL);
  aks_error_info ei;
  CHECK_EQ(aks_session_last_error(ok, &ei), 0);
  CHECK_EQ(aks_session_last_error(ok, NULL), AKS_INVALID_ARGUMENT);
  aks_session_free(ok);
  aks_session_free(NULL);
}

static void test_call_order(void) {
  for (int mode = 0; mode < 2; mode++) {
    aks_config c = good_config();
    c.threading = mode ? AKS_THREAD_EXTERNAL : AKS_THREAD_INTERNAL;
    aks_session *s = NULL;
    CHECK_EQ(aks_session_new(&c, NULL, NULL, &s), AKS_OK);
    char id[64] = "";
    CHECK_EQ(aks_session_start(s, id, sizeof id), AKS_INVALID_STATE);
    int16_t pcm[160] = {0};
    CHECK_EQ(aks_session_send_audio(s, pcm, sizeof pcm, 0, id, sizeof id), AKS_INVALID_STATE);
    CHECK_EQ(aks_session_interrupt(s, id, sizeof id), AKS_INVALID_STATE);
    CHECK_EQ(aks_session_send_audio(s, pcm, 3, 0, NULL, 0), AKS_INVALID_ARGUMENT);
    CHECK_EQ(aks_session_send_audio(s, NULL, 4, 0, NULL, 0), AKS_INVALID_ARGUMENT);
    if (mode)
      CHECK(aks_session_service(s, 0) >= 0);
    else
      CHECK_EQ(aks_session_service(s, 0), AKS_INVALID_STATE);
    CHECK_EQ(aks_session_close(s), AKS_OK);
    aks_session_free(s);
  }
  CHECK_EQ(aks_session_init(NULL), AKS_INVALID_ARGUMENT);
  CHECK_EQ(aks_session_close(NULL), AKS_INVALID_ARGUMENT);
  aks_error_info ei;
  CHECK_EQ(aks_session_last_error(NULL, &ei), AKS_INVALID_ARGUMENT);

  aks_loop *loop = NULL;
  CHECK_EQ(aks_loop_new(AKS_THREAD_EXTERNAL, 0, &loop), AKS_INVALID_ARGUMENT);
  CHECK_EQ(aks_loop_new(AKS_THREAD_EXTERNAL, 2, &loop), AKS_OK);
  aks_config c = good_config();
  aks_session *a = NULL, *b = NULL, *x = NULL;
  CHECK_EQ(aks_session_new_on_loop(loop, &c, NULL, NULL, &a), AKS_OK);
  CHECK_EQ(aks_session_new_on_loop(loop, &c, NULL, NULL, &b), AKS_OK);
  CHECK_EQ(aks_session_new_on_loop(loop, &c, NULL, NULL, &x), AKS_QUEUE_FULL);
  CHECK_EQ(aks_loop_service(loop, 0), 2);
  CHECK_EQ(aks_loop_free(loop), AKS_INVALID_STATE);
  aks_session_free(a);
  aks_session_free(b);
  CHECK_EQ(aks_loop_free(loop), AKS_OK);
  CHECK_EQ(aks_loop_free(NULL), AKS_OK);
}

/* The outgoing queue is bounded: an EXTERNAL session that is never serviced fills up and
 * refuses more with queueFull, queueing nothing of the refused call. */
static void test_queue_bound(void) {
  aks_config c = good_config();
  c.threading = AKS_THREAD_EXTERNAL;
  c.session_token = "tok";
  aks_session *s = NULL;
  CHECK_EQ(aks_session_new(&c, NULL, NULL, &s), AKS_OK);
  CHECK_EQ(aks_session_start(s, NULL, 0), AKS_OK); /* EXTERNAL: returns at once */
  size_t mb = 1024 * 1024;
  uint8_t *pcm = calloc(1, mb);
  int rc = AKS_OK, calls = 0;
  char first[32] = "", id[32];
  while (rc == AKS_OK && calls < 64) {
    rc = aks_session_send_audio(s, pcm, mb, 0, id, sizeof id);
    if (calls == 0) memcpy(first, id, sizeof id);
    if (rc == AKS_OK) CHECK(strcmp(id, first) == 0); /* one request across calls */
    calls++;
  }
  CHECK_EQ(rc, AKS_QUEUE_FULL);
  CHECK(calls >= 7 && calls <= 9); /* 8 MiB bound, slices carry a few bytes of framing */
  /* small sends still fit while there is room; the request id is unchanged */
  CHECK_EQ(aks_session_send_audio(s, pcm, 2, 1, id, sizeof id), AKS_OK);
  CHECK(strcmp(id, first) == 0);
  CHECK_EQ(aks_session_interrupt(s, id, sizeof id), AKS_OK);
  CHECK(strcmp(id, first) == 0);
  free(pcm);
  aks_session_free(s); /* the connect to port 9 fails; free stays bounded */
}

/* ---- token client against a canned loopback responder ----------------------------------- */

typedef struct canned {
  int fd, port;
  const char *response;
  char request[8192];
  size_t req_len;
} canned;

static int canned_listen(canned *c, const char *response) {
  memset(c, 0, sizeof *c);
  c->response = response;
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(c->fd, 4) != 0 ||
      getsockname(c->fd, (struct sockaddr *)&a, &al) != 0)
    return -1;
  c->port = ntohs(a.sin_port);
  return 0;
}

/* Serves one request: reads headers + Content-Length body (bounded), answers, closes. */
static void *canned_serve(void *arg) {
  canned *c = arg;
  struct timeval tv = {5, 0};
  int fd = accept(c->fd, NULL, NULL);
  if (fd < 0) return NULL;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (int i = 0; i < 100 && c->req_len < sizeof c->request - 1; i++) {
    ssize_t n = recv(fd, c->request + c->req_len, sizeof c->request - 1 - c->req_len, 0);
    if (n <= 0) break;
    c->req_len += (size_t)n;
    c->request[c->req_len] = 0;
    char *hdr_end = strstr(c->request, "\r\n\r\n");
    if (!hdr_end) continue;
    const char *cl = strstr(c->request, "Content-Length: ");
    long want = cl ? strtol(cl + 16, NULL, 10) : 0;
    if ((long)(c->request + c->req_len - (hdr_end + 4)) >= want) break;
  }
  send(fd, c->response, strlen(c->response), MSG_NOSIGNAL);
  close(fd);
  return NULL;
}

static void run_token_case(const char *response, int expect_code, const char *expect_token,
                           int expect_status, int external) {
  canned c;
  pthread_t th;
  if (canned_listen(&c, response) != 0) {
    CHECK(!"cannot listen on loopback");
    return;
  }
  pthread_create(&th, NULL, canned_serve, &c);
  char console[128];
  snprintf(console, sizeof console, "http://127.0.0.1:%d/v1/console/", c.port);
  time_t now = time(NULL);
  if (!external) {
    aks__http_result r;
    aks__token_fetch(console, "secret-key", 120, 5000, NULL, &r);
    CHECK_EQ(r.code, expect_code);
    CHECK_EQ(r.http_status, expect_status);
    if (expect_token) CHECK(strcmp(r.token, expect_token) == 0);
  } else {
    aks_config cfg = good_config();
    cfg.console_url = console;
    cfg.api_key = "secret-key";
    cfg.token_ttl_s = 120;
    cfg.threading = AKS_THREAD_EXTERNAL;
    aks_session *s = NULL;
    CHECK_EQ(aks_session_new(&cfg, NULL, NULL, &s), AKS_OK);
    CHECK_EQ(aks_session_init(s), AKS_OK);
    /* Token arrives through service(); a failure ends the session. On success the connect to
     * port 9 (nothing listens) fails next: an error outside session_token proves the token
     * was taken. */
    int rc = 0;
    aks_error_info ei_;
    for (int i = 0; i < 500 && rc >= 0 && aks_session_last_error(s, &ei_) != 1; i++) {
      rc = aks_session_service(s, 10);
      /* start before the token: allowed in EXTERNAL mode once init ran */
      if (i == 0 && expect_code == AKS_OK) CHECK_EQ(aks_session_start(s, NULL, 0), AKS_OK);
    }
    const aks_error_info *e = aks_session_last_error(s, &ei_) == 1 ? &ei_ : NULL;
    CHECK(e != NULL);
    if (e && expect_code != AKS_OK) {
      CHECK_EQ(e->code, expect_code);
      CHECK_EQ(e->phase, AKS_PHASE_SESSION_TOKEN);
      CHECK_EQ(e->http_status, expect_status);
    } else if (e) {
      CHECK(e->phase != AKS_PHASE_SESSION_TOKEN); /* token done, the WebSocket failed */
    }
    aks_session_free(s);
  }
  pthread_join(th, NULL);
  close(c.fd);
  CHECK(strstr(c.request, "POST /v1/console/session-tokens HTTP/1.1\r\n") == c.request);
  CHECK(strstr(c.request, "\r\nX-Api-Key: secret-key\r\n") != NULL);
  CHECK(strstr(c.request, "\r\nContent-Type: application/json\r\n") != NULL);
  const char *body = strstr(c.request, "\r\n\r\n");
  long long exp = 0;
  CHECK(body && sscanf(body + 4, "{\"expireAt\": %lld}", &exp) == 1);
  CHECK(exp >= (long long)now + 119 && exp <= (long long)now + 125);
}

static void test_token_client(void) {
  for (int ext = 0; ext < 2; ext++) {
    run_token_case(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 25\r\n"
        "Connection: close\r\n\r\n{\"sessionToken\":\"tok-42\"}",
        AKS_OK, "tok-42", 200, ext);
    const char *b402 = ERRBODY(402, "x", "billing required");
    char resp[512];
    snprintf(resp, sizeof resp,
             "HTTP/1.1 402 Payment Required\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             strlen(b402), b402);
    run_token_case(resp, AKS_BILLING_REQUIRED, NULL, 402, ext);
    const char *b404 = ERRBODY(404, "x", "app id unrecognized");
    snprintf(resp, sizeof resp,
             "HTTP/1.1 404 Not Found\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             strlen(b404), b404);
    run_token_case(resp, AKS_APP_ID_UNRECOGNIZED, NULL, 404, ext);
    run_token_case("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                   AKS_PROTOCOL_ERROR, NULL, 200, ext);
    run_token_case("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                   AKS_SERVER_ERROR, NULL, 502, ext);
  }
}

/* Nothing listens on a port we bound and closed: init fails with connectionFailed. */
static void test_token_refused(void) {
  canned c;
  if (canned_listen(&c, "") != 0) return;
  int port = c.port;
  close(c.fd);
  char console[128];
  snprintf(console, sizeof console, "http://127.0.0.1:%d/v1/console", port);
  aks_config cfg = good_config();
  cfg.console_url = console;
  aks_session *s = NULL;
  CHECK_EQ(aks_session_new(&cfg, NULL, NULL, &s), AKS_OK);
  CHECK_EQ(aks_session_init(s), AKS_CONNECTION_FAILED);
  aks_error_info ei_;
  const aks_error_info *e = aks_session_last_error(s, &ei_) == 1 ? &ei_ : NULL;
  CHECK(e && e->code == AKS_CONNECTION_FAILED && e->phase == AKS_PHASE_SESSION_TOKEN);
  CHECK_EQ(aks_session_start(s, NULL, 0), AKS_INVALID_STATE);
  aks_session_free(s);
}

/* ---- connection state table ------------------------------------------------------------- */

/* Every (from, to) pair: allowed exactly when listed here, and aks__state_step moves the
 * state only then. The list is written from the design (loop.h), not from state.c. */
static void test_state_table(void) {
  static const struct {
    aks__state from, to;
  } allowed[] = {
      {AKS__IDLE, AKS__FETCHING_TOKEN},
      {AKS__IDLE, AKS__HAS_TOKEN},
      {AKS__IDLE, AKS__CLOSING},
      {AKS__FETCHING_TOKEN, AKS__HAS_TOKEN},
      {AKS__FETCHING_TOKEN, AKS__CONNECTING},
      {AKS__FETCHING_TOKEN, AKS__CLOSING},
      {AKS__FETCHING_TOKEN, AKS__FAILED},
      {AKS__HAS_TOKEN, AKS__CONNECTING},
      {AKS__HAS_TOKEN, AKS__CLOSING},
      {AKS__CONNECTING, AKS__CONFIGURING},
      {AKS__CONNECTING, AKS__CLOSING},
      {AKS__CONNECTING, AKS__FAILED},
      {AKS__CONFIGURING, AKS__OPEN},
      {AKS__CONFIGURING, AKS__CLOSING},
      {AKS__CONFIGURING, AKS__FAILED},
      {AKS__OPEN, AKS__CLOSING},
      {AKS__OPEN, AKS__FAILED},
      {AKS__CLOSING, AKS__FAILED},
      {AKS__CLOSING, AKS__CLOSED},
      {AKS__FAILED, AKS__CLOSED},
      {AKS__OPEN, AKS__RECONNECTING},
      {AKS__CONNECTING, AKS__RECONNECTING},
      {AKS__CONFIGURING, AKS__RECONNECTING},
      {AKS__RECONNECTING, AKS__CONNECTING},
      {AKS__RECONNECTING, AKS__CLOSING},
      {AKS__RECONNECTING, AKS__FAILED},
  };
  int n_allowed = 0, n_refused = 0;
  for (int f = 0; f < AKS__STATE_COUNT; f++) {
    for (int t = 0; t < AKS__STATE_COUNT; t++) {
      int expect = 0;
      for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (allowed[i].from == (aks__state)f && allowed[i].to == (aks__state)t) expect = 1;
      CHECK_EQ(aks__state_allowed((aks__state)f, (aks__state)t), expect);
      aks__state st = (aks__state)f;
      int rc = aks__state_step(&st, (aks__state)t);
      CHECK_EQ(rc, expect ? AKS_OK : AKS_INVALID_STATE);
      CHECK_EQ(st, expect ? t : f);
      if (expect)
        n_allowed++;
      else
        n_refused++;
    }
  }
  CHECK_EQ(n_allowed, (int)(sizeof allowed / sizeof allowed[0]));
  /* nothing leaves CLOSED, nothing returns to IDLE, no state stays put by a "transition" */
  for (int t = 0; t < AKS__STATE_COUNT; t++) {
    CHECK(!aks__state_allowed(AKS__CLOSED, (aks__state)t));
    CHECK(!aks__state_allowed((aks__state)t, AKS__IDLE));
    CHECK(!aks__state_allowed((aks__state)t, (aks__state)t));
  }
  /* out-of-range values are refused, the pointer is checked */
  aks__state st = AKS__OPEN;
  CHECK_EQ(aks__state_step(&st, AKS__STATE_COUNT), AKS_INVALID_STATE);
  CHECK_EQ(st, AKS__OPEN);
  CHECK_EQ(aks__state_step(NULL, AKS__CLOSED), AKS_INVALID_STATE);
  CHECK(!aks__state_allowed((aks__state)-1, AKS__CLOSED));
  CHECK(strcmp(aks__state_name(AKS__CONFIGURING), "CONFIGURING") == 0);
  CHECK(strcmp(aks__state_name(AKS__RECONNECTING), "RECONNECTING") == 0);
  printf("  state table: %d allowed, %d refused transitions checked\n", n_allowed, n_refused);
}

/* ---- refused-upgrade probe off the network thread ---------------------------------------- */

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* A loopback server that refuses the WebSocket upgrade at once and answers the probe that
 * follows (the second connection) only after `delay_ms`. */
typedef struct slow_refuser {
  int fd, port, delay_ms;
  _Atomic int probe_arrived;
  _Atomic double t_probe_in, t_probe_out;
} slow_refuser;

static void read_request(int fd) {
  char buf[8192];
  size_t n = 0;
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (n < sizeof buf - 1) {
    ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
    if (r <= 0) break;
    n += (size_t)r;
    buf[n] = 0;
    if (strstr(buf, "\r\n\r\n")) break;
  }
}

static void *slow_refuser_serve(void *arg) {
  slow_refuser *r = arg;
  const char *body = ERRBODY(401, "x", "session token expired");
  char resp[512];
  snprintf(resp, sizeof resp,
           "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
           "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
           strlen(body), body);
  for (int i = 0; i < 2; i++) {
    int fd = accept(r->fd, NULL, NULL);
    if (fd < 0) return NULL;
    read_request(fd);
    if (i == 1) {
      r->t_probe_in = now_ms();
      r->probe_arrived = 1;
      usleep((useconds_t)r->delay_ms * 1000u);
      r->t_probe_out = now_ms();
    }
    send(fd, resp, strlen(resp), MSG_NOSIGNAL);
    close(fd);
  }
  return NULL;
}

typedef struct {
  aks_session *s;
  int rc;
  double t_done;
} start_job;

static void *start_in_thread(void *arg) {
  start_job *j = arg;
  j->rc = aks_session_start(j->s, NULL, 0);
  j->t_done = now_ms();
  return NULL;
}

/* Listens on a loopback port for a slow refuser that answers after delay_ms; 0, or -1 (a
 * failed check) when no port could be had. */
static int slow_refuser_listen(slow_refuser *r, int delay_ms) {
  memset(r, 0, sizeof *r);
  r->delay_ms = delay_ms;
  canned tmp;
  if (canned_listen(&tmp, "") != 0) {
    CHECK(!"cannot listen on loopback");
    return -1;
  }
  r->fd = tmp.fd;
  r->port = tmp.port;
  return 0;
}

/* Two sessions share one INTERNAL loop. A's upgrade is refused and its probe is held for
 * 1.5 s by the server; meanwhile B (connecting to a closed port) must fail promptly: the
 * shared network thread is not blocked by A's probe. A still gets the probe's verdict. */
static void test_probe_off_thread(void) {
  slow_refuser r;
  if (slow_refuser_listen(&r, 1500) != 0) return;
  canned closed;
  if (canned_listen(&closed, "") != 0) {
    CHECK(!"cannot listen on loopback");
    return;
  }
  int closed_port = closed.port;
  close(closed.fd);

  pthread_t srv;
  pthread_create(&srv, NULL, slow_refuser_serve, &r);
  aks_loop *loop = NULL;
  CHECK_EQ(aks_loop_new(AKS_THREAD_INTERNAL, 4, &loop), AKS_OK);
  char url_a[128], url_b[128];
  snprintf(url_a, sizeof url_a, "ws://127.0.0.1:%d/v2/driveningress", r.port);
  snprintf(url_b, sizeof url_b, "ws://127.0.0.1:%d/v2/driveningress", closed_port);
  aks_config ca = good_config(), cb = good_config();
  ca.session_token = cb.session_token = "tok";
  ca.ingress_url = url_a;
  cb.ingress_url = url_b;
  ca.connect_timeout_ms = cb.connect_timeout_ms = 5000;
  aks_session *a = NULL, *b = NULL;
  CHECK_EQ(aks_session_new_on_loop(loop, &ca, NULL, NULL, &a), AKS_OK);
  CHECK_EQ(aks_session_new_on_loop(loop, &cb, NULL, NULL, &b), AKS_OK);
  if (!a || !b) return;

  start_job ja = {.s = a};
  pthread_t th;
  pthread_create(&th, NULL, start_in_thread, &ja);
  double t0 = now_ms();
  while (!r.probe_arrived && now_ms() - t0 < 5000) usleep(2000);
  CHECK(r.probe_arrived);
  double tb0 = now_ms();
  int rc_b = aks_session_start(b, NULL, 0); /* serviced by the same network thread */
  double tb1 = now_ms();
  pthread_join(th, NULL);
  pthread_join(srv, NULL);
  close(r.fd);

  printf(
      "  probe held %.0f ms; the other session's start took %.0f ms, ended %.0f ms before "
      "the probe answer\n",
      r.t_probe_out - r.t_probe_in, tb1 - tb0, r.t_probe_out - tb1);
  CHECK_EQ(rc_b, AKS_CONNECTION_FAILED);
  CHECK(tb1 - tb0 < 1000);                    /* not stalled behind the 1.5 s probe */
  CHECK(tb1 < r.t_probe_out);                 /* finished while the probe still waited */
  CHECK_EQ(ja.rc, AKS_SESSION_TOKEN_EXPIRED); /* the probe's body decided A's code */
  CHECK(ja.t_done >= r.t_probe_out);
  aks_error_info e;
  CHECK_EQ(aks_session_last_error(a, &e), 1);
  CHECK_EQ(e.http_status, 401);
  CHECK_EQ(e.phase, AKS_PHASE_WEBSOCKET_CONNECT);
  CHECK(strcmp(e.message, "session token expired") == 0);
  aks_session_free(a);
  aks_session_free(b);
  CHECK_EQ(aks_loop_free(loop), AKS_OK);
}

static void count_error(void *user, const aks_error *e) {
  int *n = user;
  (*n)++;
  CHECK_EQ(e->code, AKS_SESSION_TOKEN_EXPIRED);
}

/* EXTERNAL mode: the probe's wait happens on its worker, not inside the caller's service
 * calls; the verdict arrives through a later service call and on_error. */
static void test_probe_external(void) {
  slow_refuser r;
  if (slow_refuser_listen(&r, 600) != 0) return;
  pthread_t srv;
  pthread_create(&srv, NULL, slow_refuser_serve, &r);
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/v2/driveningress", r.port);
  aks_config c = good_config();
  c.session_token = "tok";
  c.ingress_url = url;
  c.threading = AKS_THREAD_EXTERNAL;
  c.connect_timeout_ms = 5000;
  int n_err = 0;
  aks_callbacks cbs = {.on_error = count_error};
  aks_session *s = NULL;
  CHECK_EQ(aks_session_new(&c, &cbs, &n_err, &s), AKS_OK);
  if (!s) return;
  CHECK_EQ(aks_session_start(s, NULL, 0), AKS_OK);
  double longest = 0, t0 = now_ms();
  aks_error_info e;
  while (aks_session_last_error(s, &e) != 1 && now_ms() - t0 < 5000) {
    double a = now_ms();
    aks_session_service(s, 20);
    if (now_ms() - a > longest) longest = now_ms() - a;
  }
  pthread_join(srv, NULL);
  close(r.fd);
  printf("  EXTERNAL: verdict after %.0f ms, longest service call %.0f ms (probe held %.0f ms)\n",
         now_ms() - t0, longest, r.t_probe_out - r.t_probe_in);
  CHECK(longest < 300); /* never waited for the 600 ms probe */
  CHECK_EQ(e.code, AKS_SESSION_TOKEN_EXPIRED);
  CHECK_EQ(e.http_status, 401);
  CHECK_EQ(n_err, 1);
  aks_session_free(s);
}

/* ---- Ogg Opus input encoder ------------------------------------------------------------ */

typedef struct {
  size_t n;
  double energy;
} pcm_count;

static int count_pcm(void *user, const float *pcm, size_t n) {
  pcm_count *c = user;
  for (size_t i = 0; i < n; i++) c->energy += (double)pcm[i] * pcm[i];
  c->n += n;
  return 0;
}

static void test_oggenc(void) {
  const int rates[] = {8000, 16000, 22050, 44100, 48000};
  for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
    int rate = rates[r];
    size_t total = (size_t)rate * 3 / 2; /* 1.5 s */
    int16_t *pcm = malloc(total * sizeof *pcm);
    for (size_t i = 0; i < total; i++)
      pcm[i] = (int16_t)(8000.0 * sin(2 * M_PI * 220.0 * (double)i / rate));
    aks__oggenc *e = NULL;
    CHECK_EQ(aks__oggenc_new(rate, 0, &e), AKS_OK);
    ak_ogg_decoder *d = NULL;
    CHECK_EQ(ak_ogg_decoder_new(1 << 20, &d), AK_OK);
    pcm_count cnt = {0, 0};
    size_t chunk = (size_t)rate / 25, got_before_end = 0; /* 40 ms chunks */
    for (size_t off = 0; off < total; off += chunk) {
      size_t n = total - off < chunk ? total - off : chunk;
      int last = off + n >= total;
      CHECK_EQ(aks__oggenc_write(e, pcm + off, n, last), AKS_OK);
      uint8_t *bytes;
      size_t len;
      aks__oggenc_take(e, &bytes, &len);
      if (!last) got_before_end += len;
      if (len) CHECK_EQ(ak_ogg_decoder_push(d, bytes, len, count_pcm, &cnt), AK_OK);
      free(bytes);
    }
    /* low-latency muxing: bytes flow before the end, not only at drain */
    CHECK(got_before_end > 1000);
    CHECK(ak_ogg_decoder_done(d));
    /* decoded at 48 kHz, trimmed by the granule position: exactly the input duration */
    size_t expect = total * 48000 / (size_t)rate;
    if (cnt.n + 2 < expect || cnt.n > expect + 2)
      fprintf(stderr, "rate %d: decoded %zu samples, expected %zu\n", rate, cnt.n, expect);
    CHECK(cnt.n + 2 >= expect && cnt.n <= expect + 2);
    double rms = sqrt(cnt.energy / (double)(cnt.n ? cnt.n : 1));
    CHECK(rms > 0.1 && rms < 0.3);                                 /* 8000/32768/sqrt(2) = 0.17 */
    CHECK_EQ(aks__oggenc_write(e, pcm, 10, 0), AKS_INVALID_STATE); /* closed */
    ak_ogg_decoder_free(d);
    aks__oggenc_free(e);
    free(pcm);
  }
  aks__oggenc *e = NULL;
  CHECK_EQ(aks__oggenc_new(0, 0, &e), AKS_INVALID_ARGUMENT);
  aks__oggenc_free(NULL);
}

int main(void) {
  lws_set_log_level(LLL_ERR, NULL);
  test_names();
  test_server_phrases();
  test_http_classes();
  test_urls();
  test_token_body();
  test_config();
  test_call_order();
  test_queue_bound();
  test_token_client();
  test_token_refused();
  test_state_table();
  test_probe_off_thread();
  test_probe_external();
  test_oggenc();
  printf("sdk unit: %d checks, %d failed\n", g_checks, g_fail);
  return g_fail ? 1 : 0;
}
