/* workqueue.h: a de-duplicating, rate-limited work queue of string keys.
 *
 * Semantics (those of client-go's workqueue, which controllers expect):
 * - A key is queued at most once: adding a key that is already waiting to be
 *   processed does nothing.
 * - Per-key serialization: a key handed out by wq_get is "processing" until
 *   wq_done; adding it meanwhile marks it dirty, and wq_done queues it again,
 *   so it is processed once more after, never twice at the same time.
 * - wq_add_after queues a key later (the earliest request wins).
 * - wq_add_rate_limited delays by max(per-key exponential backoff
 *   base * 2^failures capped at max, the global token bucket's wait);
 *   wq_forget resets the key's failure count (call it on success).
 * - wq_shutdown: adds are ignored, delayed keys dropped, wq_get drains what
 *   is queued and then returns RC_AGAIN to every worker.
 * The clock is injectable (opts.now_ms) so tests run on a fake clock; with
 * a fake clock, use wq_get with timeout 0 (non-blocking).
 * All functions are thread-safe. Keys are copied. */
#ifndef MZ_WORKQUEUE_H
#define MZ_WORKQUEUE_H

#include <stdint.h>

struct wq;

typedef int64_t (*wq_clock_fn)(void *ud); /* monotonic milliseconds */

struct wq_opts {
    int64_t base_delay_ms; /* per-key backoff start; 0: 5 */
    int64_t max_delay_ms;  /* per-key backoff cap; 0: 1000 s */
    double qps;            /* token bucket rate; 0: 10/s; < 0: no bucket */
    int burst;             /* token bucket size; 0: 100 */
    wq_clock_fn now_ms;    /* NULL: CLOCK_MONOTONIC */
    void *clock_ud;
};

/* wq_new: opts may be NULL. *out only on success; RC_NOMEM. */
int wq_new(struct wq **out, const struct wq_opts *opts);
/* wq_free: the queue must have no blocked getters (shut down and join the
 * workers first). Frees every key. wq_free(NULL) is a no-op. */
void wq_free(struct wq *q);

/* 0, RC_NOMEM (the key is not queued) or RC_AGAIN (shutting down). */
int wq_add(struct wq *q, const char *key);
int wq_add_after(struct wq *q, const char *key, int64_t delay_ms);
int wq_add_rate_limited(struct wq *q, const char *key);
void wq_forget(struct wq *q, const char *key);
/* wq_num_requeues: the key's current failure count. */
int wq_num_requeues(struct wq *q, const char *key);

/* wq_get waits up to timeout_ms (< 0: forever, 0: do not wait) for a key.
 * *key_out (caller frees with mem_free) is set only on success. Returns 0,
 * RC_TIMEOUT (nothing ready in time) or RC_AGAIN (shut down and drained). */
int wq_get(struct wq *q, char **key_out, int timeout_ms);
/* wq_done ends the processing of key (from wq_get). */
void wq_done(struct wq *q, const char *key);

void wq_shutdown(struct wq *q);
int wq_shutting_down(struct wq *q);
/* wq_len: keys queued and ready now (not processing, not delayed). */
int wq_len(struct wq *q);
/* wq_next_delay_ms: ms until the earliest delayed key is due, -1: none. */
int64_t wq_next_delay_ms(struct wq *q);

#endif
