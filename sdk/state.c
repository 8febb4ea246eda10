/* The session's connection state machine: the table of allowed transitions (loop.h draws it),
 * the one function that moves a session along it, and the error record kept under the
 * loop's lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

#define BIT(st) (1u << (st))

/* k_next[from]: the states `from` may move to. */
static const unsigned k_next[AKS__STATE_COUNT] = {
    [AKS__IDLE] = BIT(AKS__FETCHING_TOKEN) | BIT(AKS__HAS_TOKEN) | BIT(AKS__CLOSING),
    [AKS__FETCHING_TOKEN] =
        BIT(AKS__HAS_TOKEN) | BIT(AKS__CONNECTING) | BIT(AKS__CLOSING) | BIT(AKS__FAILED),
    [AKS__HAS_TOKEN] = BIT(AKS__CONNECTING) | BIT(AKS__CLOSING),
    [AKS__CONNECTING] =
        BIT(AKS__CONFIGURING) | BIT(AKS__CLOSING) | BIT(AKS__FAILED) | BIT(AKS__RECONNECTING),
    [AKS__CONFIGURING] =
        BIT(AKS__OPEN) | BIT(AKS__CLOSING) | BIT(AKS__FAILED) | BIT(AKS__RECONNECTING),
    [AKS__OPEN] = BIT(AKS__CLOSING) | BIT(AKS__FAILED) | BIT(AKS__RECONNECTING),
    [AKS__CLOSING] = BIT(AKS__FAILED) | BIT(AKS__CLOSED),
    [AKS__FAILED] = BIT(AKS__CLOSED),
    [AKS__CLOSED] = 0,
    [AKS__RECONNECTING] = BIT(AKS__CONNECTING) | BIT(AKS__CLOSING) | BIT(AKS__FAILED),
};

_Static_assert(AKS__STATE_COUNT <= 32, "state bits fit an unsigned");

int aks__state_allowed(aks__state from, aks__state to) {
  if ((unsigned)from >= AKS__STATE_COUNT || (unsigned)to >= AKS__STATE_COUNT) return 0;
  return (k_next[from] & BIT(to)) != 0;
}

int aks__state_step(aks__state *st, aks__state to) {
  if (!st || !aks__state_allowed(*st, to)) return AKS_INVALID_STATE;
  *st = to;
  return AKS_OK;
}

const char *aks__state_name(aks__state st) {
  static const char *const names[AKS__STATE_COUNT] = {
      "IDLE", "FETCHING_TOKEN", "HAS_TOKEN", "CONNECTING", "CONFIGURING",
      "OPEN", "CLOSING",        "FAILED",    "CLOSED",     "RECONNECTING"};
  return (unsigned)st < AKS__STATE_COUNT ? names[st] : "?";
}

int aks__session_set_state_locked(aks_session *s, aks__state to) {
  aks__state from = s->state;
  int rc = aks__state_step(&s->state, to);
  if (rc != AKS_OK) {
    fprintf(stderr, "avatarkit sdk: refused state change %s -> %s\n", aks__state_name(from),
            aks__state_name(to));
#ifndef NDEBUG
    abort();
#endif
  }
  return rc;
}

void aks__session_set_error_locked(aks_session *s, aks_error_code code, aks_phase phase,
                                   const char *msg, const char *req_id, int http_status,
                                   int close_code) {
  aks_error_info *e = &s->err;
  e->code = code;
  e->phase = phase;
  snprintf(e->message, sizeof e->message, "%s", msg ? msg : aks_error_name(code));
  snprintf(e->req_id, sizeof e->req_id, "%s", req_id ? req_id : "");
  e->http_status = http_status;
  e->close_code = close_code;
}

void aks__session_drop_probe_locked(aks_session *s) {
  if (!s->probe) return;
  s->probe->s = NULL;
  s->probe = NULL;
}

int aks__inflight_add_locked(aks_session *s, const char *req) {
  for (int i = 0; i < s->n_inflight; i++)
    if (strcmp(s->inflight[i], req) == 0) return AKS_OK;
  if (s->n_inflight >= AKS_MAX_INFLIGHT) return AKS_QUEUE_FULL;
  snprintf(s->inflight[s->n_inflight++], sizeof s->inflight[0], "%s", req);
  return AKS_OK;
}

void aks__inflight_remove_locked(aks_session *s, const char *req) {
  if (!req) return;
  for (int i = 0; i < s->n_inflight; i++)
    if (strcmp(s->inflight[i], req) == 0) {
      memmove(s->inflight[i], s->inflight[i + 1],
              (size_t)(s->n_inflight - i - 1) * sizeof s->inflight[0]);
      s->n_inflight--;
      return;
    }
}
