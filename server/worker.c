/* The media worker pool: N threads, each with two FIFO run queues of tasks (ingress sessions).
 * A task is pinned to one worker for its whole life, so its work runs in order on one thread;
 * a task is in its worker's queues at most once. The worker runs one task for one short turn
 * (the task's run callback does a bounded slice of work and says whether more is left), then
 * puts it at the back of the backlog queue: sessions on one worker share it round robin, so a
 * session with a lot of queued audio cannot starve the others. A task made runnable by new
 * input (it was idle, or new input came while it ran and its work was done) goes to the fresh
 * queue, which is served first: a real-time session's small chunk waits for at most the turn
 * in progress, not for a turn of every session with a backlog (an attacker's big message, a
 * flood). Every FRESH_RUN-th turn goes to the backlog when both queues hold tasks, so a
 * stream of fresh work cannot starve it. A running turn ends after its current step as soon
 * as a fresh task waits (ak__pool_fresh_waiting()), so that wait is one step, not a turn. The pool
 * holds a reference on every task it has queued or is running (hold/release callbacks). Nothing
 * here touches lws. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "server.h"

typedef struct worker {
  ak_pool *pool;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  ak_task *head, *tail;   /* backlog: tasks that used a whole turn and have more */
  ak_task *fhead, *ftail; /* fresh: tasks made runnable by new input */
  int fresh_run;          /* fresh turns taken in a row while the backlog waited */
  atomic_int fresh_n;     /* tasks in the fresh queue: read by running turns, no lock */
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

#define FRESH_RUN 4

static void push(ak_task **head, ak_task **tail, ak_task *t) {
  t->next = NULL;
  if (*tail)
    (*tail)->next = t;
  else
    *head = t;
  *tail = t;
}

static ak_task *pop(ak_task **head, ak_task **tail) {
  ak_task *t = *head;
  *head = t->next;
  if (!*head) *tail = NULL;
  t->next = NULL;
  return t;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  ak_pool *p = w->pool;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->head && !w->fhead && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
    if (w->stop) break;
    ak_task *t;
    if (w->fhead && (!w->head || w->fresh_run < FRESH_RUN - 1)) {
      t = pop(&w->fhead, &w->ftail);
      atomic_fetch_sub_explicit(&w->fresh_n, 1, memory_order_relaxed);
      w->fresh_run = w->head ? w->fresh_run + 1 : 0;
    } else {
      t = pop(&w->head, &w->tail);
      w->fresh_run = 0;
    }
    t->in_runq = 0;
    t->running = 1;
    t->rerun = 0;
    pthread_mutex_unlock(&w->mu);
    int more = p->run(t);
    pthread_mutex_lock(&w->mu);
    t->running = 0;
    if (more || t->rerun) {
      if (more)
        push(&w->head, &w->tail, t);
      else { /* only new input since its turn began */
        push(&w->fhead, &w->ftail, t);
        atomic_fetch_add_explicit(&w->fresh_n, 1, memory_order_relaxed);
      }
      t->rerun = 0;
      t->in_runq = 1;
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
    atomic_init(&w->fresh_n, 0);
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
    while (w->head || w->fhead) { /* queued, never run again: drop the pool's references */
      ak_task *t = w->fhead ? pop(&w->fhead, &w->ftail) : pop(&w->head, &w->tail);
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

int ak__pool_fresh_waiting(const ak_pool *p, const ak_task *t) {
  return atomic_load_explicit(&p->w[t->worker].fresh_n, memory_order_relaxed) > 0;
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
    push(&w->fhead, &w->ftail, t);
    atomic_fetch_add_explicit(&w->fresh_n, 1, memory_order_relaxed);
    pthread_cond_signal(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
}
