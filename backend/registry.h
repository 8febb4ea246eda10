/* The backend's registry of session threads: sessions start their threads here and each
 * thread signs off as its very last act; the service thread joins the ones that have signed
 * off, and shutdown waits (bounded) until every one has really exited. It knows nothing of
 * sessions or of the server, so both depend on it and neither on the other. */
#ifndef AK_BACKEND_REGISTRY_H
#define AK_BACKEND_REGISTRY_H

typedef struct ak__registry ak__registry;

/* A new, empty registry, or NULL when out of memory. */
ak__registry *ak__registry_new(void);
/* Frees the registry. Call only once ak__registry_wait() returned 0 (no thread left); a
 * NULL registry is a no-op. */
void ak__registry_free(ak__registry *r);

/* Starts a joinable thread running fn(arg). Returns 0, or -1 when it could not be started
 * (fn is then never called). Any thread. */
int ak__registry_start(ak__registry *r, void *(*fn)(void *), void *arg);
/* Called by a registered thread as its very last act (after its last use of anything the
 * registry's owner may free): the thread is then joined by ak__registry_reap(). */
void ak__registry_done(ak__registry *r);
/* Joins the threads that have signed off (a batch per call; never blocks on a running one).
 * A joined thread has run its thread-exit handlers (OpenSSL's, used by libcurl, among them). */
void ak__registry_reap(ak__registry *r);
/* Reaps until no thread is left or timeout_ms has passed. Returns the threads still running. */
int ak__registry_wait(ak__registry *r, int timeout_ms);

#endif
