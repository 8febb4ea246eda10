/* The SDK's HTTP side (libcurl): session-token requests to the console API, blocking or
 * non-blocking, and the probe that reads why a WebSocket upgrade was refused. Response bodies
 * are bounded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "internal.h"
#include "alloc_internal.h"

#define BODY_MAX (64 * 1024) /* token and error bodies are tiny; refuse anything larger */

typedef struct body_buf {
  char data[BODY_MAX + 1];
  size_t len;
  int overflow;
} body_buf;

struct aks__token_req {
  CURL *easy;
  CURLM *multi;
  struct curl_slist *headers;
  char post[64];
  body_buf body;
  int done;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user) {
  body_buf *b = user;
  size_t n = size * nmemb;
  if (b->len + n > BODY_MAX) {
    b->overflow = 1;
    return 0; /* aborts the transfer */
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

int aks__parse_token_body(const char *body, aks__http_result *res) {
  cJSON *root = cJSON_Parse(body ? body : "");
  cJSON *tok = root ? cJSON_GetObjectItemCaseSensitive(root, "sessionToken") : NULL;
  int rc = AKS_PROTOCOL_ERROR;
  if (cJSON_IsString(tok) && tok->valuestring[0] && strlen(tok->valuestring) < sizeof res->token) {
    snprintf(res->token, sizeof res->token, "%s", tok->valuestring);
    rc = AKS_OK;
  } else {
    snprintf(res->message, sizeof res->message, "token response without a usable sessionToken");
  }
  cJSON_Delete(root);
  res->code = rc;
  return rc;
}

/* Sets up an easy handle for POST {console}/session-tokens. */
static int setup_token(aks__token_req *r, const char *console_url, const char *api_key, int ttl_s,
                       int timeout_ms, const char *ca_file) {
  char url[AKS_URL_MAX + 32];
  size_t cl = strlen(console_url);
  while (cl > 0 && console_url[cl - 1] == '/') cl--;
  if (cl + sizeof "/session-tokens" > sizeof url) return AKS_INVALID_ARGUMENT;
  snprintf(url, sizeof url, "%.*s/session-tokens", (int)cl, console_url);
  char key_hdr[1100];
  if (strlen(api_key) > 1024) return AKS_INVALID_ARGUMENT;
  snprintf(key_hdr, sizeof key_hdr, "X-Api-Key: %s", api_key);
  snprintf(r->post, sizeof r->post, "{\"expireAt\": %lld}", (long long)time(NULL) + ttl_s);

  r->easy = curl_easy_init();
  if (!r->easy) return AKS_OUT_OF_MEMORY;
  struct curl_slist *h = curl_slist_append(NULL, key_hdr);
  struct curl_slist *h2 = h ? curl_slist_append(h, "Content-Type: application/json") : NULL;
  if (!h2) {
    curl_slist_free_all(h);
    return AKS_OUT_OF_MEMORY;
  }
  r->headers = h2;
  curl_easy_setopt(r->easy, CURLOPT_URL, url);
  curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->post);
  curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, &r->body);
  curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  if (ca_file && ca_file[0]) curl_easy_setopt(r->easy, CURLOPT_CAINFO, ca_file);
  return AKS_OK;
}

/* Turns a finished transfer into a result. */
static void finish(aks__token_req *r, CURLcode cc, aks__http_result *res) {
  long status = 0;
  memset(res, 0, sizeof *res);
  if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && r->body.overflow)) {
    res->code = cc == CURLE_OPERATION_TIMEDOUT ? AKS_TIMEOUT : AKS_CONNECTION_FAILED;
    int tls = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CONNECT_ERROR ||
              cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM;
    snprintf(res->message, sizeof res->message, "token request failed: %s%s", tls ? "TLS: " : "",
             curl_easy_strerror(cc));
    return;
  }
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  res->http_status = (int)status;
  if (r->body.overflow) {
    res->code = AKS_PROTOCOL_ERROR;
    snprintf(res->message, sizeof res->message, "token response larger than %d bytes", BODY_MAX);
    return;
  }
  if (status == 200) {
    aks__parse_token_body(r->body.data, res);
    return;
  }
  res->code = aks__classify_http((int)status, r->body.data, 0, res->message, sizeof res->message);
}

void aks__token_req_free(aks__token_req *r) {
  if (!r) return;
  if (r->multi) {
    if (r->easy) curl_multi_remove_handle(r->multi, r->easy);
    curl_multi_cleanup(r->multi);
  }
  if (r->easy) curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  ak__free(r);
}

void aks__token_fetch(const char *console_url, const char *api_key, int ttl_s, int timeout_ms,
                      const char *ca_file, aks__http_result *res) {
  aks__token_req *r = ak__calloc(1, sizeof *r);
  memset(res, 0, sizeof *res);
  if (!r) {
    res->code = AKS_OUT_OF_MEMORY;
    snprintf(res->message, sizeof res->message, "out of memory");
    return;
  }
  int rc = setup_token(r, console_url, api_key, ttl_s, timeout_ms, ca_file);
  if (rc != AKS_OK) {
    res->code = rc;
    snprintf(res->message, sizeof res->message, "cannot prepare the token request");
  } else {
    finish(r, curl_easy_perform(r->easy), res);
  }
  aks__token_req_free(r);
}

int aks__token_req_new(const char *console_url, const char *api_key, int ttl_s, int timeout_ms,
                       const char *ca_file, aks__token_req **out) {
  aks__token_req *r = ak__calloc(1, sizeof *r);
  if (!r) return AKS_OUT_OF_MEMORY;
  int rc = setup_token(r, console_url, api_key, ttl_s, timeout_ms, ca_file);
  if (rc == AKS_OK) {
    r->multi = curl_multi_init();
    if (!r->multi || curl_multi_add_handle(r->multi, r->easy) != CURLM_OK) rc = AKS_OUT_OF_MEMORY;
  }
  if (rc != AKS_OK) {
    aks__token_req_free(r);
    return rc;
  }
  *out = r;
  return AKS_OK;
}

int aks__token_req_poll(aks__token_req *r, int wait_ms, aks__http_result *res) {
  int running = 0;
  if (r->done) return 1;
  curl_multi_perform(r->multi, &running);
  if (running && wait_ms > 0) {
    curl_multi_poll(r->multi, NULL, 0, wait_ms, NULL);
    curl_multi_perform(r->multi, &running);
  }
  int left;
  CURLMsg *m;
  while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
    if (m->msg == CURLMSG_DONE) {
      finish(r, m->data.result, res);
      r->done = 1;
    }
  }
  return r->done;
}

void aks__upgrade_probe(const char *http_url, const char *app_id, const char *token,
                        int auth_in_query, int timeout_ms, const char *ca_file,
                        aks__http_result *res) {
  aks__token_req r;
  memset(&r, 0, sizeof r);
  memset(res, 0, sizeof *res);
  res->code = AKS_CONNECTION_FAILED;
  r.easy = curl_easy_init();
  if (!r.easy) return;
  char h1[1100], h2[AKS_TOKEN_MAX + 32];
  struct curl_slist *h = NULL, *t;
  const char *fixed[] = {"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
                         "Sec-WebSocket-Key: YXZhdGFya2l0LXByb2JlIQ=="};
  int ok = 1;
  for (size_t i = 0; i < 4 && ok; i++) {
    t = curl_slist_append(h, fixed[i]);
    if (t)
      h = t;
    else
      ok = 0;
  }
  if (ok && !auth_in_query) {
    snprintf(h1, sizeof h1, "X-App-ID: %.1000s", app_id);
    snprintf(h2, sizeof h2, "X-Session-Key: %s", token);
    t = curl_slist_append(h, h1);
    if (t)
      h = t;
    else
      ok = 0;
    t = ok ? curl_slist_append(h, h2) : NULL;
    if (t)
      h = t;
    else
      ok = 0;
  }
  if (ok) {
    curl_easy_setopt(r.easy, CURLOPT_URL, http_url);
    curl_easy_setopt(r.easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(r.easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r.easy, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(r.easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(r.easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r.easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (ca_file && ca_file[0]) curl_easy_setopt(r.easy, CURLOPT_CAINFO, ca_file);
    CURLcode cc = curl_easy_perform(r.easy);
    long status = 0;
    curl_easy_getinfo(r.easy, CURLINFO_RESPONSE_CODE, &status);
    res->http_status = (int)status;
    if (status >= 400 && (cc == CURLE_OK || r.body.len > 0))
      res->code =
          aks__classify_http((int)status, r.body.data, 1, res->message, sizeof res->message);
    else
      snprintf(res->message, sizeof res->message, "upgrade refused (probe: %s, status %ld)",
               curl_easy_strerror(cc), status);
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(r.easy);
}
