/* Session thread registry (see registry.h): a count of started threads and a list of the ones
 * that have signed off and wait to be joined, under one mutex. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "registry.h"

#define REAP_BATCH 64

struct ak__registry {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int threads;       /* started and not joined yet */
  pthread_t *exited; /* threads that called ak__registry_done, to join */
  size_t n_exited, cap_exited;
};

ak__registry *ak__registry_new(void) {
  ak__registry *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  return r;
}

void ak__registry_free(ak__registry *r) {
  if (!r) return;
  free(r->exited);
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

int ak__registry_start(ak__registry *r, void *(*fn)(void *), void *arg) {
  pthread_t th;
  pthread_mutex_lock(&r->mu);
  r->threads++;
  pthread_mutex_unlock(&r->mu);
  if (pthread_create(&th, NULL, fn, arg) == 0) return 0;
  pthread_mutex_lock(&r->mu);
  r->threads--;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  return -1;
}

void ak__registry_done(ak__registry *r) {
  pthread_mutex_lock(&r->mu);
  if (r->n_exited == r->cap_exited) {
    size_t cap = r->cap_exited ? r->cap_exited * 2 : 16;
    pthread_t *l = realloc(r->exited, cap * sizeof *l);
    if (!l) { /* cannot be joined: let it go, and stop counting it */
      pthread_detach(pthread_self());
      r->threads--;
      pthread_cond_broadcast(&r->cv);
      pthread_mutex_unlock(&r->mu);
      return;
    }
    r->exited = l;
    r->cap_exited = cap;
  }
  r->exited[r->n_exited++] = pthread_self();
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

void ak__registry_reap(ak__registry *r) {
  pthread_t batch[REAP_BATCH];
  pthread_mutex_lock(&r->mu);
  size_t n = r->n_exited < REAP_BATCH ? r->n_exited : REAP_BATCH;
  r->n_exited -= n;
  for (size_t i = 0; i < n; i++) batch[i] = r->exited[r->n_exited + i];
  pthread_mutex_unlock(&r->mu);
  if (!n) return;
  for (size_t i = 0; i < n; i++) pthread_join(batch[i], NULL);
  pthread_mutex_lock(&r->mu);
  r->threads -= (int)n;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

int ak__registry_wait(ak__registry *r, int timeout_ms) {
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += timeout_ms / 1000;
  dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (dl.tv_nsec >= 1000000000L) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000L;
  }
  int left, ready, timed_out = 0;
  do {
    ak__registry_reap(r);
    pthread_mutex_lock(&r->mu);
    while (r->threads > 0 && r->n_exited == 0 && !timed_out)
      timed_out = pthread_cond_timedwait(&r->cv, &r->mu, &dl) != 0;
    left = r->threads;
    ready = r->n_exited > 0;
    pthread_mutex_unlock(&r->mu);
  } while (ready);
  return left;
}
