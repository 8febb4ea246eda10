/* The media worker pool: N threads, each with a FIFO run queue of tasks (ingress sessions).
 * A task is pinned to one worker for its whole life, so its work runs in order on one thread;
 * a task is in its worker's queue at most once. The worker runs one task for one short turn
 * (the task's run callback does a bounded slice of work and says whether more is left), then
 * puts it at the back of the queue: sessions on one worker share it round robin, so a session
 * with a lot of queued audio cannot starve the others. The pool holds a reference on every
 * task it has queued or is running (hold/release callbacks). Nothing here touches lws. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "server.h"

typedef struct worker {
  ak_pool *pool;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  ak_task *head, *tail;
  int stop;
  int started;
  int assigned; /* tasks pinned here (under the pool's assign_mu) */
} worker;

struct ak_pool {
  worker *w;
  int n;
  pthread_mutex_t assign_mu;
  ak_task_fn run;
  ak_task_ref_fn hold, release;
};

int ak__pool_default_size(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > AK_MAX_WORKERS ? AK_MAX_WORKERS : (int)n;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  ak_pool *p = w->pool;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->head && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
    if (w->stop) break;
    ak_task *t = w->head;
    w->head = t->next;
    if (!w->head) w->tail = NULL;
    t->next = NULL;
    t->in_runq = 0;
    t->running = 1;
    t->rerun = 0;
    pthread_mutex_unlock(&w->mu);
    int more = p->run(t);
    pthread_mutex_lock(&w->mu);
    t->running = 0;
    if (more || t->rerun) {
      t->rerun = 0;
      t->in_runq = 1;
      if (w->tail)
        w->tail->next = t;
      else
        w->head = t;
      w->tail = t;
    } else {
      pthread_mutex_unlock(&w->mu);
      p->release(t);
      pthread_mutex_lock(&w->mu);
    }
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

int ak__pool_new(int n, ak_task_fn run, ak_task_ref_fn hold, ak_task_ref_fn release,
                 ak_pool **out) {
  if (n < 1 || n > AK_MAX_WORKERS || !run || !hold || !release || !out) return -1;
  ak_pool *p = calloc(1, sizeof *p);
  if (!p) return -1;
  p->w = calloc((size_t)n, sizeof *p->w);
  if (!p->w) {
    free(p);
    return -1;
  }
  p->n = n;
  p->run = run;
  p->hold = hold;
  p->release = release;
  pthread_mutex_init(&p->assign_mu, NULL);
  for (int i = 0; i < n; i++) {
    worker *w = &p->w[i];
    w->pool = p;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
  }
  for (int i = 0; i < n; i++) {
    if (pthread_create(&p->w[i].th, NULL, worker_main, &p->w[i]) != 0) {
      ak__pool_free(p);
      return -1;
    }
    p->w[i].started = 1;
  }
  *out = p;
  return 0;
}

void ak__pool_free(ak_pool *p) {
  if (!p) return;
  for (int i = 0; i < p->n; i++) {
    worker *w = &p->w[i];
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
  }
  for (int i = 0; i < p->n; i++)
    if (p->w[i].started) pthread_join(p->w[i].th, NULL);
  for (int i = 0; i < p->n; i++) {
    worker *w = &p->w[i];
    while (w->head) { /* queued, never run again: drop the pool's references */
      ak_task *t = w->head;
      w->head = t->next;
      t->next = NULL;
      t->in_runq = 0;
      p->release(t);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
  }
  pthread_mutex_destroy(&p->assign_mu);
  free(p->w);
  free(p);
}

int ak__pool_size(const ak_pool *p) {
  return p ? p->n : 0;
}

void ak__pool_assign(ak_pool *p, ak_task *t) {
  pthread_mutex_lock(&p->assign_mu);
  int best = 0;
  for (int i = 1; i < p->n; i++)
    if (p->w[i].assigned < p->w[best].assigned) best = i;
  p->w[best].assigned++;
  pthread_mutex_unlock(&p->assign_mu);
  t->worker = best;
  t->next = NULL;
  t->in_runq = t->running = t->rerun = 0;
}

void ak__pool_unassign(ak_pool *p, ak_task *t) {
  pthread_mutex_lock(&p->assign_mu);
  p->w[t->worker].assigned--;
  pthread_mutex_unlock(&p->assign_mu);
}

void ak__pool_schedule(ak_pool *p, ak_task *t) {
  worker *w = &p->w[t->worker];
  pthread_mutex_lock(&w->mu);
  if (w->stop) {
    /* shutting down: nothing runs any more */
  } else if (t->running) {
    t->rerun = 1;
  } else if (!t->in_runq) {
    t->in_runq = 1;
    p->hold(t);
    if (w->tail)
      w->tail->next = t;
    else
      w->head = t;
    w->tail = t;
    pthread_cond_signal(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
}
