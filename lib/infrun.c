/* infrun.c: the informer's thread - LIST into the store, WATCH through the
 * shared watch loop, relist when the loop gives the watch up, resync.
 *
 * Lock order: inf->mu before run_mu; nothing here holds run_mu while
 * calling into the store, the client or the loop. */
#include "lib/errmsg.h"
#include "lib/clock.h"
#include "lib/infpriv.h"
#include "lib/kubeclient.h"
#include "lib/kubewatch.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t
rnd(struct informer *inf)
{
    inf->rng ^= inf->rng >> 12;
    inf->rng ^= inf->rng << 25;
    inf->rng ^= inf->rng >> 27;
    return inf->rng * 2685821657736338717ull;
}

void
infrun_init(struct informer *inf)
{
    pthread_condattr_t ca;
    struct timespec ts;

    pthread_mutex_init(&inf->run_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->run_cond, &ca);
    pthread_condattr_destroy(&ca);
    clock_gettime(CLOCK_REALTIME, &ts);
    inf->rng = ((uint64_t)ts.tv_nsec << 16) ^ (uint64_t)(uintptr_t)inf ^ 1;
}

void
infrun_cleanup(struct informer *inf)
{
    pthread_cond_destroy(&inf->run_cond);
    pthread_mutex_destroy(&inf->run_mu);
    mem_free(inf->list_rv);
    inf->list_rv = NULL;
}

void
infrun_mark_synced(struct informer *inf)
{
    pthread_mutex_lock(&inf->run_mu);
    inf->synced = 1;
    pthread_cond_broadcast(&inf->run_cond);
    pthread_mutex_unlock(&inf->run_mu);
}

int
inf_has_synced(struct informer *inf)
{
    int v;

    pthread_mutex_lock(&inf->run_mu);
    v = inf->synced;
    pthread_mutex_unlock(&inf->run_mu);
    return v;
}

int
inf_wait_synced(struct informer *inf, int timeout_ms)
{
    struct timespec ts;
    int rc = 0;

    clock_mono_deadline(&ts, timeout_ms);
    pthread_mutex_lock(&inf->run_mu);
    while (!inf->synced && rc == 0)
        rc = pthread_cond_timedwait(&inf->run_cond, &inf->run_mu, &ts);
    rc = inf->synced ? 0 : RC_TIMEOUT;
    pthread_mutex_unlock(&inf->run_mu);
    return rc;
}

/* ---- watch callbacks (loop thread) ---- */

static int
on_event(void *ud, struct kube_watch_event *ev)
{
    struct informer *inf = ud;
    int rc;

    if (ev->type == KUBE_WATCH_BOOKMARK)
        return 0;
    rc = inf_apply(inf, ev->type, ev->object);
    if (rc == RC_INVAL) { /* an object without a name: skip it */
        pthread_mutex_lock(&inf->mu);
        inf->st.bad_events++;
        pthread_mutex_unlock(&inf->mu);
        return 0;
    }
    return rc;
}

static void
on_stop(void *ud, int rc)
{
    struct informer *inf = ud;

    pthread_mutex_lock(&inf->run_mu);
    inf->watch_id = 0;
    inf->need_list = 1;
    pthread_cond_broadcast(&inf->run_cond);
    pthread_mutex_unlock(&inf->run_mu);
    (void)rc;
}

/* ---- list ---- */

static int
stopping(struct informer *inf)
{
    int v;

    pthread_mutex_lock(&inf->run_mu);
    v = inf->stopping;
    pthread_mutex_unlock(&inf->run_mu);
    return v;
}

static int
list_item(void *ud, json_t *item)
{
    struct informer *inf = ud;
    int rc;

    if (stopping(inf))
        return errmsg_set(RC_AGAIN, "informer stopping");
    rc = inf_replace_item(inf, item);
    return rc == RC_INVAL ? 0 : rc;
}

static int
do_list(struct informer *inf, const char *rv)
{
    struct kube_list_opts lo = {0};
    char *list_rv = NULL;
    int64_t t0 = clock_mono_ms();
    char ms[32], n[32];
    int rc;

    lo.label_selector = inf->o.label_selector;
    lo.field_selector = inf->o.field_selector;
    lo.resource_version = rv;
    lo.limit = inf->o.list_limit;
    inf_replace_begin(inf);
    rc = kube_list(inf->client, inf->o.res, inf->o.ns, &lo, list_item, inf,
                   &list_rv);
    pthread_mutex_lock(&inf->mu);
    if (rc == 0)
        inf->st.lists++;
    else
        inf->st.list_errors++;
    pthread_mutex_unlock(&inf->mu);
    if (rc != 0) {
        log_kv(LOG_WARN, "informer", "list failed", "resource",
               inf->o.res->resource, "rc", rc_str(rc), "error", errmsg_get(),
               NULL);
        mem_free(list_rv);
        return rc;
    }
    if (list_rv == NULL || *list_rv == 0) {
        mem_free(list_rv);
        return errmsg_set(RC_PARSE, "list without a resourceVersion");
    }
    inf_replace_end(inf);
    mem_free(inf->list_rv);
    inf->list_rv = list_rv;
    snprintf(ms, sizeof(ms), "%lld", (long long)(clock_mono_ms() - t0));
    snprintf(n, sizeof(n), "%zu", inf_count(inf));
    log_kv(LOG_INFO, "informer", "listed", "resource", inf->o.res->resource,
           "rv", list_rv, "objects", n, "ms", ms, NULL);
    return 0;
}

static int
start_watch(struct informer *inf)
{
    struct kube_watch_spec s = {0};
    uint64_t id = 0;
    int rc;

    s.res = inf->o.res;
    s.ns = inf->o.ns;
    s.label_selector = inf->o.label_selector;
    s.field_selector = inf->o.field_selector;
    s.rv = inf->list_rv;
    s.sel = inf->sel;
    s.on_event = on_event;
    s.on_stop = on_stop;
    s.ud = inf;
    if ((rc = kube_watch_add(inf->loop, &s, &id)) != 0)
        return rc;
    pthread_mutex_lock(&inf->run_mu);
    if (inf->stopping) {
        pthread_mutex_unlock(&inf->run_mu);
        kube_watch_remove(inf->loop, id);
        return 0;
    }
    inf->watch_id = id;
    inf->need_list = 0;
    pthread_mutex_unlock(&inf->run_mu);
    return 0;
}

/* sleep_ms waits, returning early when the informer stops. */
static void
sleep_ms(struct informer *inf, int64_t ms)
{
    struct timespec ts;

    clock_mono_deadline(&ts, ms);
    pthread_mutex_lock(&inf->run_mu);
    while (!inf->stopping &&
           pthread_cond_timedwait(&inf->run_cond, &inf->run_mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&inf->run_mu);
}

static int64_t
jitter(struct informer *inf, int64_t d, int pct)
{
    int64_t span = d * pct / 100;

    if (span <= 0)
        return d;
    return d - span + (int64_t)(rnd(inf) % (uint64_t)(2 * span + 1));
}

static void *
run(void *arg)
{
    struct informer *inf = arg;
    int first = 1, failures = 0;
    int64_t next_resync =
        inf->o.resync_ms > 0
            ? clock_mono_ms() + jitter(inf, inf->o.resync_ms, 10)
            : INT64_MAX;

    for (;;) {
        int need, resync;

        pthread_mutex_lock(&inf->run_mu);
        for (;;) {
            if (inf->stopping || inf->need_list ||
                clock_mono_ms() >= next_resync)
                break;
            if (next_resync == INT64_MAX) {
                pthread_cond_wait(&inf->run_cond, &inf->run_mu);
            } else {
                struct timespec ts;
                clock_mono_deadline(&ts, next_resync - clock_mono_ms());
                pthread_cond_timedwait(&inf->run_cond, &inf->run_mu, &ts);
            }
        }
        need = inf->need_list;
        resync = clock_mono_ms() >= next_resync;
        if (inf->stopping) {
            pthread_mutex_unlock(&inf->run_mu);
            break;
        }
        pthread_mutex_unlock(&inf->run_mu);
        if (need) {
            /* first list from the watch cache ("0"), relists consistent */
            int rc = do_list(inf, first ? "0" : NULL);
            if (!first) {
                pthread_mutex_lock(&inf->mu);
                inf->st.relists++;
                pthread_mutex_unlock(&inf->mu);
            }
            if (rc == 0)
                rc = start_watch(inf);
            if (rc != 0) {
                int64_t d = 800;
                int cap =
                    inf->o.backoff_max_ms > 0 ? inf->o.backoff_max_ms : 30000;
                for (int i = 0; i < failures && d < cap; i++)
                    d *= 2;
                if (d > cap)
                    d = cap;
                failures++;
                sleep_ms(inf, jitter(inf, d, 50));
                continue;
            }
            first = 0;
            failures = 0;
        }
        if (resync) {
            inf_resync(inf);
            next_resync = clock_mono_ms() + jitter(inf, inf->o.resync_ms, 10);
        }
    }
    return NULL;
}

int
inf_start(struct informer *inf, struct kube_client *c,
          struct kube_watch_loop *loop)
{
    pthread_mutex_lock(&inf->run_mu);
    if (inf->running) {
        pthread_mutex_unlock(&inf->run_mu);
        return 0;
    }
    inf->client = c;
    inf->loop = loop;
    inf->need_list = 1;
    inf->stopping = 0;
    if (pthread_create(&inf->thread, NULL, run, inf) != 0) {
        pthread_mutex_unlock(&inf->run_mu);
        return errmsg_set(RC_INTERNAL, "cannot start the informer thread");
    }
    inf->running = 1;
    pthread_mutex_unlock(&inf->run_mu);
    return 0;
}

void
inf_stop(struct informer *inf)
{
    uint64_t id;

    pthread_mutex_lock(&inf->run_mu);
    if (!inf->running) {
        pthread_mutex_unlock(&inf->run_mu);
        return;
    }
    inf->stopping = 1;
    id = inf->watch_id;
    inf->watch_id = 0;
    pthread_cond_broadcast(&inf->run_cond);
    pthread_mutex_unlock(&inf->run_mu);
    if (id)
        kube_watch_remove(inf->loop, id);
    pthread_join(inf->thread, NULL);
    pthread_mutex_lock(&inf->run_mu);
    id = inf->watch_id; /* added by the thread just before it saw stopping */
    inf->watch_id = 0;
    inf->running = 0;
    pthread_mutex_unlock(&inf->run_mu);
    if (id)
        kube_watch_remove(inf->loop, id);
}
