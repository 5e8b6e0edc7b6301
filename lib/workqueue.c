/* workqueue.c: de-duplicating rate-limited work queue (see workqueue.h).
 *
 * Every known key has one item (in a kwhash by key). An item is
 *   dirty       -> wants processing (in the FIFO unless processing),
 *   processing  -> handed out by wq_get, until wq_done,
 *   heap_idx>=0 -> delayed, in the min-heap by due time,
 *   failures>0  -> remembers its backoff until wq_forget.
 * An item with none of these is freed. One mutex guards everything. */
#include "lib/workqueue.h"
#include "lib/clock.h"
#include "lib/kwhash.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

struct item {
    struct kwhash_node node;
    struct item *qnext; /* FIFO link */
    int64_t due;        /* when delayed */
    int heap_idx;       /* -1: not delayed */
    int failures;
    unsigned dirty : 1, processing : 1;
    char key[];
};

struct wq {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct kwhash items;
    struct item *head, *tail; /* ready FIFO */
    int nready;
    struct item **heap;
    int nheap, heap_cap;
    int shutting_down;
    struct wq_opts o;
    double tokens;
    int64_t tokens_at;
};

static int64_t
mono_ms(void *ud)
{
    (void)ud;
    return clock_mono_ms();
}

static int64_t
now(struct wq *q)
{
    return q->o.now_ms(q->o.clock_ud);
}

int
wq_new(struct wq **out, const struct wq_opts *opts)
{
    struct wq *q = NULL;
    pthread_condattr_t ca;

    *out = NULL;
    q = mem_calloc(1, sizeof(*q));
    if (q == NULL)
        return RC_NOMEM;
    if (opts)
        q->o = *opts;
    if (q->o.base_delay_ms <= 0)
        q->o.base_delay_ms = 5;
    if (q->o.max_delay_ms <= 0)
        q->o.max_delay_ms = 1000 * 1000;
    if (q->o.qps == 0)
        q->o.qps = 10;
    if (q->o.burst <= 0)
        q->o.burst = 100;
    if (q->o.now_ms == NULL)
        q->o.now_ms = mono_ms;
    kwhash_init(&q->items);
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    q->tokens = q->o.burst;
    q->tokens_at = now(q);
    *out = q;
    return 0;
}

void
wq_free(struct wq *q)
{
    size_t pos = 0;
    struct kwhash_node *cur = NULL, *n;

    if (q == NULL)
        return;
    while ((n = kwhash_next(&q->items, &pos, &cur)) != NULL)
        mem_free(KWHASH_ENTRY(n, struct item, node));
    kwhash_cleanup(&q->items);
    mem_free(q->heap);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mu);
    mem_free(q);
}

static struct item *
find(struct wq *q, const char *key)
{
    struct kwhash_node *n = kwhash_find(&q->items, key);

    return n ? KWHASH_ENTRY(n, struct item, node) : NULL;
}

static struct item *
find_or_new(struct wq *q, const char *key)
{
    struct item *it = find(q, key);
    size_t len;

    if (it)
        return it;
    len = strlen(key);
    it = mem_calloc(1, sizeof(*it) + len + 1);
    if (it == NULL)
        return NULL;
    memcpy(it->key, key, len + 1);
    it->heap_idx = -1;
    if (kwhash_insert(&q->items, &it->node, it->key) != 0) {
        mem_free(it);
        return NULL;
    }
    return it;
}

static void
maybe_release(struct wq *q, struct item *it)
{
    if (it->dirty || it->processing || it->heap_idx >= 0 || it->failures)
        return;
    kwhash_remove(&q->items, &it->node);
    mem_free(it);
}

static void
fifo_push(struct wq *q, struct item *it)
{
    it->qnext = NULL;
    if (q->tail)
        q->tail->qnext = it;
    else
        q->head = it;
    q->tail = it;
    q->nready++;
}

/* ---- min-heap of delayed items by due time ---- */

static void
heap_swap(struct wq *q, int a, int b)
{
    struct item *t = q->heap[a];

    q->heap[a] = q->heap[b];
    q->heap[b] = t;
    q->heap[a]->heap_idx = a;
    q->heap[b]->heap_idx = b;
}

static void
heap_up(struct wq *q, int i)
{
    while (i > 0 && q->heap[(i - 1) / 2]->due > q->heap[i]->due) {
        heap_swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void
heap_down(struct wq *q, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->nheap && q->heap[l]->due < q->heap[m]->due)
            m = l;
        if (r < q->nheap && q->heap[r]->due < q->heap[m]->due)
            m = r;
        if (m == i)
            return;
        heap_swap(q, i, m);
        i = m;
    }
}

static void
heap_remove(struct wq *q, struct item *it)
{
    int i = it->heap_idx;

    q->nheap--;
    if (i != q->nheap) {
        q->heap[i] = q->heap[q->nheap];
        q->heap[i]->heap_idx = i;
        heap_down(q, i);
        heap_up(q, i);
    }
    it->heap_idx = -1;
}

/* add_locked: the plain add on an existing item. */
static void
add_locked(struct wq *q, struct item *it)
{
    if (it->dirty)
        return;
    it->dirty = 1;
    if (!it->processing) {
        fifo_push(q, it);
        pthread_cond_signal(&q->cond);
    }
}

/* promote moves due delayed items to the FIFO. */
static void
promote(struct wq *q)
{
    int64_t t = now(q);

    while (q->nheap > 0 && q->heap[0]->due <= t) {
        struct item *it = q->heap[0];
        heap_remove(q, it);
        add_locked(q, it);
    }
}

int
wq_add(struct wq *q, const char *key)
{
    struct item *it;
    int rc = 0;

    pthread_mutex_lock(&q->mu);
    if (q->shutting_down) {
        rc = RC_AGAIN;
    } else if ((it = find_or_new(q, key)) == NULL) {
        rc = RC_NOMEM;
    } else {
        add_locked(q, it);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static int
add_after_locked(struct wq *q, struct item *it, int64_t delay_ms)
{
    int64_t due;

    if (delay_ms <= 0) {
        add_locked(q, it);
        return 0;
    }
    due = now(q) + delay_ms;
    if (it->heap_idx >= 0) {
        if (due < it->due) { /* the earliest request wins */
            it->due = due;
            heap_up(q, it->heap_idx);
        }
        return 0;
    }
    if (q->nheap == q->heap_cap) {
        int nc = q->heap_cap ? q->heap_cap * 2 : 16;
        struct item **h = mem_realloc(q->heap, (size_t)nc * sizeof(*h));
        if (h == NULL)
            return RC_NOMEM;
        q->heap = h;
        q->heap_cap = nc;
    }
    it->due = due;
    it->heap_idx = q->nheap;
    q->heap[q->nheap++] = it;
    heap_up(q, it->heap_idx);
    /* a waiting getter may need to wake earlier than it planned */
    pthread_cond_broadcast(&q->cond);
    return 0;
}

int
wq_add_after(struct wq *q, const char *key, int64_t delay_ms)
{
    struct item *it;
    int rc;

    pthread_mutex_lock(&q->mu);
    if (q->shutting_down) {
        rc = RC_AGAIN;
    } else if ((it = find_or_new(q, key)) == NULL) {
        rc = RC_NOMEM;
    } else {
        rc = add_after_locked(q, it, delay_ms);
        maybe_release(q, it);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* bucket_delay reserves one token; returns how long to wait for it. */
static int64_t
bucket_delay(struct wq *q)
{
    int64_t t = now(q);

    if (q->o.qps < 0)
        return 0;
    q->tokens += (double)(t - q->tokens_at) * q->o.qps / 1000.0;
    q->tokens_at = t;
    if (q->tokens > q->o.burst)
        q->tokens = q->o.burst;
    q->tokens -= 1;
    if (q->tokens >= 0)
        return 0;
    return (int64_t)(-q->tokens * 1000.0 / q->o.qps + 0.999);
}

int
wq_add_rate_limited(struct wq *q, const char *key)
{
    struct item *it;
    int64_t d, b;
    int rc;

    pthread_mutex_lock(&q->mu);
    if (q->shutting_down) {
        rc = RC_AGAIN;
    } else if ((it = find_or_new(q, key)) == NULL) {
        rc = RC_NOMEM;
    } else {
        d = q->o.base_delay_ms;
        for (int i = 0; i < it->failures && d < q->o.max_delay_ms; i++)
            d *= 2;
        if (d > q->o.max_delay_ms)
            d = q->o.max_delay_ms;
        if (it->failures < 1000000)
            it->failures++;
        b = bucket_delay(q);
        rc = add_after_locked(q, it, b > d ? b : d);
        maybe_release(q, it);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void
wq_forget(struct wq *q, const char *key)
{
    struct item *it;

    pthread_mutex_lock(&q->mu);
    if ((it = find(q, key)) != NULL) {
        it->failures = 0;
        maybe_release(q, it);
    }
    pthread_mutex_unlock(&q->mu);
}

int
wq_num_requeues(struct wq *q, const char *key)
{
    struct item *it;
    int n;

    pthread_mutex_lock(&q->mu);
    it = find(q, key);
    n = it ? it->failures : 0;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int
wq_get(struct wq *q, char **key_out, int timeout_ms)
{
    int64_t end = timeout_ms >= 0 ? mono_ms(NULL) + timeout_ms : 0;
    struct item *it;
    char *k;
    int rc = 0;

    *key_out = NULL;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        promote(q);
        if (q->head != NULL)
            break;
        if (q->shutting_down) {
            rc = RC_AGAIN;
            goto out;
        }
        int64_t wait = -1; /* ms; -1 forever */
        if (q->nheap > 0) {
            wait = q->heap[0]->due - now(q);
            if (wait < 1)
                wait = 1;
        }
        if (timeout_ms >= 0) {
            int64_t left = end - mono_ms(NULL);
            if (left <= 0) {
                rc = RC_TIMEOUT;
                goto out;
            }
            if (wait < 0 || left < wait)
                wait = left;
        }
        if (wait < 0) {
            pthread_cond_wait(&q->cond, &q->mu);
        } else {
            struct timespec ts;
            clock_mono_deadline(&ts, wait);
            pthread_cond_timedwait(&q->cond, &q->mu, &ts);
        }
    }
    it = q->head;
    k = mem_strdup(it->key);
    if (k == NULL) {
        rc = RC_NOMEM;
        goto out;
    }
    q->head = it->qnext;
    if (q->head == NULL)
        q->tail = NULL;
    q->nready--;
    it->qnext = NULL;
    it->dirty = 0;
    it->processing = 1;
    *key_out = k;
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void
wq_done(struct wq *q, const char *key)
{
    struct item *it;

    pthread_mutex_lock(&q->mu);
    if ((it = find(q, key)) != NULL && it->processing) {
        it->processing = 0;
        if (it->dirty) {
            fifo_push(q, it);
            pthread_cond_signal(&q->cond);
        }
        maybe_release(q, it);
    }
    pthread_mutex_unlock(&q->mu);
}

void
wq_shutdown(struct wq *q)
{
    pthread_mutex_lock(&q->mu);
    q->shutting_down = 1;
    while (q->nheap > 0) {
        struct item *it = q->heap[0];
        heap_remove(q, it);
        maybe_release(q, it);
    }
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

int
wq_shutting_down(struct wq *q)
{
    int v;

    pthread_mutex_lock(&q->mu);
    v = q->shutting_down;
    pthread_mutex_unlock(&q->mu);
    return v;
}

int
wq_len(struct wq *q)
{
    int n;

    pthread_mutex_lock(&q->mu);
    promote(q);
    n = q->nready;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int64_t
wq_next_delay_ms(struct wq *q)
{
    int64_t d = -1;

    pthread_mutex_lock(&q->mu);
    if (q->nheap > 0) {
        d = q->heap[0]->due - now(q);
        if (d < 0)
            d = 0;
    }
    pthread_mutex_unlock(&q->mu);
    return d;
}
