/* The LLM stage: the built-in agent (streamed word by word) and an OpenAI-compatible
 * /chat/completions client over libcurl with server-sent-event streaming. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "backend.h"

#define SSE_MAX_LINE (256 * 1024)

/* One complete event: its data lines joined by '\n'. */
static int sse_dispatch(ak__sse *p, ak__text_fn fn, void *user) {
  if (!p->data.len) return 0;
  const char *d = p->data.data;
  int rc = 0;
  if (strcmp(d, "[DONE]") == 0) {
    p->done = 1;
  } else {
    cJSON *j = cJSON_Parse(d);
    if (!j) {
      p->failed = 1;
      snprintf(p->why, sizeof p->why, "an event is not valid JSON");
      rc = -1;
    } else {
      cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
      cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
      cJSON *c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
      cJSON *delta = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "delta") : NULL;
      cJSON *content = delta ? cJSON_GetObjectItemCaseSensitive(delta, "content") : NULL;
      if (err) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
        p->failed = 1;
        snprintf(p->why, sizeof p->why, "error event: %.180s",
                 cJSON_IsString(m)     ? m->valuestring
                 : cJSON_IsString(err) ? err->valuestring
                                       : "(no message)");
        rc = -1;
      } else if (cJSON_IsString(content) && content->valuestring[0]) {
        if (fn(user, content->valuestring, strlen(content->valuestring))) rc = 1;
      }
      cJSON_Delete(j);
    }
  }
  p->data.len = 0;
  if (p->data.data) p->data.data[0] = 0;
  return rc;
}

static int sse_line(ak__sse *p, char *line, size_t n, ak__text_fn fn, void *user) {
  if (n && line[n - 1] == '\r') line[--n] = 0;
  if (n == 0) return sse_dispatch(p, fn, user);
  if (line[0] == ':') return 0; /* comment */
  if (n >= 5 && memcmp(line, "data:", 5) == 0) {
    const char *v = line + 5;
    if (*v == ' ') v++;
    if (p->data.len && ak__buf_append(&p->data, "\n", 1)) return -1;
    return ak__buf_append(&p->data, v, strlen(v)) ? -1 : 0;
  }
  return 0; /* event:, id:, retry: are not used by chat streams */
}

int ak__sse_feed(ak__sse *p, const char *data, size_t n, ak__text_fn fn, void *user) {
  p->line.max = SSE_MAX_LINE;
  p->data.max = SSE_MAX_LINE;
  for (size_t i = 0; i < n; i++) {
    if (data[i] == '\n') {
      if (!p->line.data && ak__buf_append(&p->line, "", 0)) return -1;
      int rc = sse_line(p, p->line.data, p->line.len, fn, user);
      p->line.len = 0;
      p->line.data[0] = 0;
      if (rc) {
        if (rc < 0) p->failed = 1;
        return rc;
      }
    } else {
      /* append runs up to the next newline at once */
      const char *nl = memchr(data + i, '\n', n - i);
      size_t run = nl ? (size_t)(nl - (data + i)) : n - i;
      if (ak__buf_append(&p->line, data + i, run)) {
        p->failed = 1;
        snprintf(p->why, sizeof p->why, "a line is longer than %d bytes", SSE_MAX_LINE);
        return -1;
      }
      i += run - 1;
    }
  }
  return 0;
}

void ak__sse_free(ak__sse *p) {
  ak__buf_free(&p->line);
  ak__buf_free(&p->data);
}

/* ---- built-in agent --------------------------------------------------------------------- */

static int local_run(const ak__config *c, const ak__chat_msg *h, size_t n, ak__text_fn fn,
                     ak__cancel_fn cancel, void *user) {
  char reply[1024];
  ak__agent_reply(n ? h[n - 1].content : "", time(NULL), reply, sizeof reply);
  /* stream it in word-sized deltas, like a real model */
  const char *p = reply;
  while (*p) {
    if (cancel && cancel(user)) return 1;
    const char *e = strchr(p + 1, ' ');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (fn(user, p, len)) return 1;
    p += len;
  }
  return 0;
}

/* ---- OpenAI-compatible streaming client ----------------------------------------------- */

typedef struct http_ctx {
  ak__sse sse;
  ak__text_fn fn;
  ak__cancel_fn cancel;
  void *user;
  int stopped;
  ak__buf body; /* non-SSE body kept for error messages */
} http_ctx;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
  http_ctx *h = ud;
  size_t n = size * nmemb;
  if (h->body.len < 4096) ak__buf_append(&h->body, ptr, n < 4096 ? n : 4096);
  int rc = ak__sse_feed(&h->sse, ptr, n, h->fn, h->user);
  if (rc > 0) h->stopped = 1;
  if (rc != 0 || h->sse.done) return rc < 0 ? 0 : (rc > 0 ? 0 : n);
  return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  http_ctx *h = ud;
  if (h->cancel && h->cancel(h->user)) {
    h->stopped = 1;
    return 1;
  }
  return 0;
}

/* Pulls a short error text out of an OpenAI-style error body. */
static void error_text(const char *body, char *out, size_t cap) {
  cJSON *j = body ? cJSON_Parse(body) : NULL;
  cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
  cJSON *m = e ? cJSON_GetObjectItemCaseSensitive(e, "message") : NULL;
  if (cJSON_IsString(m))
    snprintf(out, cap, "%s", m->valuestring);
  else if (cJSON_IsString(e))
    snprintf(out, cap, "%s", e->valuestring);
  else
    snprintf(out, cap, "%.200s", body ? body : "");
  cJSON_Delete(j);
}

static int openai_run(const ak__config *c, const ak__chat_msg *h, size_t n, ak__text_fn fn,
                      ak__cancel_fn cancel, void *user, char *err, size_t errcap) {
  cJSON *req = cJSON_CreateObject();
  cJSON_AddStringToObject(req, "model", c->llm_model);
  cJSON_AddBoolToObject(req, "stream", 1);
  cJSON *msgs = cJSON_AddArrayToObject(req, "messages");
  if (c->system_prompt[0]) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "system");
    cJSON_AddStringToObject(m, "content", c->system_prompt);
    cJSON_AddItemToArray(msgs, m);
  }
  for (size_t i = 0; i < n; i++) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", h[i].role);
    cJSON_AddStringToObject(m, "content", h[i].content ? h[i].content : "");
    cJSON_AddItemToArray(msgs, m);
  }
  char *body = cJSON_PrintUnformatted(req);
  cJSON_Delete(req);
  if (!body) {
    snprintf(err, errcap, "out of memory");
    return -1;
  }

  char url[600], auth[300];
  snprintf(url, sizeof url, "%s/chat/completions", c->llm_url);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->llm_api_key);
  struct curl_slist *hdr = NULL;
  hdr = curl_slist_append(hdr, "Content-Type: application/json");
  hdr = curl_slist_append(hdr, "Accept: text/event-stream");
  if (c->llm_api_key[0]) hdr = curl_slist_append(hdr, auth);

  http_ctx hc = {.fn = fn, .cancel = cancel, .user = user};
  CURL *cu = curl_easy_init();
  int rc = -1;
  if (!cu) {
    snprintf(err, errcap, "curl init failed");
    goto out;
  }
  curl_easy_setopt(cu, CURLOPT_URL, url);
  curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(cu, CURLOPT_WRITEDATA, &hc);
  curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(cu, CURLOPT_XFERINFODATA, &hc);
  curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
  curl_easy_setopt(cu, CURLOPT_TIMEOUT, (long)c->llm_timeout_s);
  CURLcode cr = curl_easy_perform(cu);
  long status = 0;
  curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
  if (hc.stopped && !hc.sse.failed) {
    rc = 1;
  } else if (status >= 400) {
    char e[256];
    error_text(hc.body.data, e, sizeof e);
    snprintf(err, errcap, "LLM HTTP %ld: %s", status, e);
  } else if (hc.sse.failed) { /* before the curl error: the parser stopped the transfer */
    snprintf(err, errcap, "LLM stream failed: %s", hc.sse.why[0] ? hc.sse.why : "malformed");
  } else if (cr != CURLE_OK && !(cr == CURLE_WRITE_ERROR && hc.sse.done)) {
    snprintf(err, errcap, "LLM request failed: %s", curl_easy_strerror(cr));
  } else {
    /* a clean end without [DONE] is accepted: some servers just close the stream */
    ak__sse_feed(&hc.sse, "\n\n", 2, fn, user);
    rc = 0;
  }
out:
  if (cu) curl_easy_cleanup(cu);
  curl_slist_free_all(hdr);
  free(body);
  ak__sse_free(&hc.sse);
  ak__buf_free(&hc.body);
  return rc;
}

int ak__llm_run(const ak__config *c, const ak__chat_msg *history, size_t n, ak__text_fn fn,
                ak__cancel_fn cancel, void *user, char *err, size_t errcap) {
  if (strcmp(c->llm_provider, "openai") == 0)
    return openai_run(c, history, n, fn, cancel, user, err, errcap);
  return local_run(c, history, n, fn, cancel, user);
}
