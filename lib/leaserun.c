/* leaserun.c: the leader elector's threads (see lease.h).
 *
 * The campaign thread reads and writes the Lease every retry period; the
 * watchdog thread sleeps until the leader's renew deadline and, if no renew
 * succeeded by then, ends leadership at that instant (even while a request
 * is still in flight). `mu` guards the state; `cb_mu` is held across every
 * leadership change and its callback, so started/stopped never interleave
 * (lock order: cb_mu, then mu). */
#include "lib/errmsg.h"
#include "lib/clock.h"
#include "lib/kubeclient.h"
#include "lib/lease.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct lease {
    struct lease_opts o;
    char *ns, *name, *identity;
    struct kube_client *c;
    pthread_mutex_t mu, cb_mu;
    pthread_cond_t cond;
    pthread_t thread, watchdog;
    int started, stopping;
    int leader;       /* under mu */
    int64_t renew_ok; /* start of the last successful write (mono ms) */
    int term;         /* leaseTransitions of our term */
    struct lease_observed obs; /* campaign thread */
    struct lease_record mine;  /* what we last wrote, with its rv */
    int have_mine;
    char seen_holder[256];
    uint64_t rng;
};

static int64_t
wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *
make_identity(void)
{
    char host[128], id[200];
    unsigned char r[8];

    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = 0;
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        uint64_t t = (uint64_t)wall_us() ^ (uint64_t)getpid() << 32;
        memcpy(r, &t, sizeof(r));
    }
    snprintf(id, sizeof(id), "%s_%02x%02x%02x%02x%02x%02x%02x%02x", host, r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    return mem_strdup(id);
}

int
lease_new(struct lease **out, const struct kube_config *cfg,
          const struct lease_opts *o)
{
    struct kube_client_opts co = {0};
    struct lease *l = NULL;
    pthread_condattr_t ca;
    int rc;

    *out = NULL;
    if (o == NULL || o->ns == NULL || o->name == NULL)
        return errmsg_set(RC_INVAL, "lease needs a namespace and a name");
    l = mem_calloc(1, sizeof(*l));
    if (l == NULL)
        return RC_NOMEM;
    l->o = *o;
    if (l->o.lease_duration_ms <= 0)
        l->o.lease_duration_ms = 15000;
    if (l->o.renew_deadline_ms <= 0)
        l->o.renew_deadline_ms = 10000;
    if (l->o.retry_period_ms <= 0)
        l->o.retry_period_ms = 2000;
    if (l->o.request_timeout_ms <= 0)
        l->o.request_timeout_ms = l->o.renew_deadline_ms / 4;
    if (l->o.safety_margin_ms <= 0) {
        int a = l->o.lease_duration_ms / 10;
        int b = (l->o.lease_duration_ms - l->o.renew_deadline_ms) / 2;
        l->o.safety_margin_ms = a < b ? a : b;
    }
    if (l->o.lease_duration_ms <= l->o.renew_deadline_ms ||
        l->o.safety_margin_ms >=
            l->o.lease_duration_ms - l->o.renew_deadline_ms ||
        (int64_t)l->o.renew_deadline_ms * 10 <=
            (int64_t)l->o.retry_period_ms * 12 ||
        l->o.request_timeout_ms >= l->o.renew_deadline_ms ||
        l->o.lease_duration_ms % 1000 != 0) {
        mem_free(l);
        return errmsg_set(RC_INVAL,
                          "lease timings must satisfy duration > renew "
                          "deadline > 1.2 x retry period, request timeout < "
                          "renew deadline, duration in whole seconds, "
                          "safety margin < duration - renew deadline");
    }
    l->ns = mem_strdup(o->ns);
    l->name = mem_strdup(o->name);
    l->identity = o->identity ? mem_strdup(o->identity) : make_identity();
    if (l->ns == NULL || l->name == NULL || l->identity == NULL) {
        rc = RC_NOMEM;
        goto fail;
    }
    co.timeout_ms = l->o.request_timeout_ms;
    co.max_retries = -1;
    co.user_agent = "mizzen-lease";
    if ((rc = kube_client_new(&l->c, cfg, &co)) != 0)
        goto fail;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->cb_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    l->rng = (uint64_t)wall_us() ^ ((uint64_t)(uintptr_t)l << 7) ^ 1;
    *out = l;
    return 0;
fail:
    mem_free(l->ns);
    mem_free(l->name);
    mem_free(l->identity);
    mem_free(l);
    return rc;
}

const char *
lease_identity(const struct lease *l)
{
    return l->identity;
}

static int
leader_now(struct lease *l, int64_t t)
{
    return l->leader && t - l->renew_ok < l->o.renew_deadline_ms;
}

int
lease_is_leader(struct lease *l)
{
    int v;

    pthread_mutex_lock(&l->mu);
    v = leader_now(l, clock_mono_ms());
    pthread_mutex_unlock(&l->mu);
    return v;
}

int
lease_term(struct lease *l)
{
    int v;

    pthread_mutex_lock(&l->mu);
    v = leader_now(l, clock_mono_ms()) ? l->term : -1;
    pthread_mutex_unlock(&l->mu);
    return v;
}

int64_t
lease_remaining_ms(struct lease *l, int *term)
{
    int64_t left = 0;

    pthread_mutex_lock(&l->mu);
    if (l->leader)
        left = lease_window_left_ms(
            l->renew_ok, clock_mono_ms(), l->o.lease_duration_ms,
            l->o.renew_deadline_ms, l->o.safety_margin_ms);
    if (term)
        *term = left > 0 ? l->term : -1;
    pthread_mutex_unlock(&l->mu);
    return left;
}

/* ---- one attempt ---- */

/* stored: the server's answer to our write becomes `mine`. */
static int
stored(struct lease *l, json_t *resp)
{
    struct lease_record r;
    int rc = lease_record_from_json(&r, resp);

    json_decref(resp);
    if (rc != 0)
        return rc;
    l->mine = r;
    l->have_mine = 1;
    return 1;
}

static void
note_holder(struct lease *l, const char *holder)
{
    if (strcmp(l->seen_holder, holder) == 0)
        return;
    snprintf(l->seen_holder, sizeof(l->seen_holder), "%s", holder);
    log_kv(LOG_INFO, "lease", "leader observed", "lease", l->name, "holder",
           holder, "self", l->identity, NULL);
    if (l->o.new_leader) {
        pthread_mutex_lock(&l->cb_mu); /* never alongside stopped_leading */
        l->o.new_leader(l->o.ud, holder);
        pthread_mutex_unlock(&l->cb_mu);
    }
}

/* try_once: 1 we hold the lease now, 0 we do not, < 0 an error. */
static int
try_once(struct lease *l)
{
    struct lease_record cur, next;
    json_t *got = NULL, *body = NULL, *resp = NULL; /* owned */
    enum lease_decision d;
    int rc;

    /* fast path: renew what we wrote last, without a GET */
    if (l->have_mine && strcmp(l->mine.holder, l->identity) == 0) {
        next = l->mine;
        next.renew_us = wall_us();
        next.duration_s = l->o.lease_duration_ms / 1000;
        body = lease_record_to_json(&next, l->ns, l->name);
        if (body == NULL)
            return RC_NOMEM;
        rc = kube_update(l->c, &KUBE_LEASES, l->ns, l->name, NULL, body, &resp);
        json_decref(body);
        if (rc == 0)
            return stored(l, resp);
        if (rc != RC_CONFLICT && rc != RC_NOTFOUND)
            return rc; /* no time for a slow path after a timeout */
        l->have_mine = 0;
    }
    rc = kube_get(l->c, &KUBE_LEASES, l->ns, l->name, &got);
    if (rc != 0 && rc != RC_NOTFOUND)
        return rc;
    rc = lease_record_from_json(&cur, got);
    json_decref(got);
    if (rc != 0)
        return rc;
    d = lease_decide(&l->obs, &cur, l->identity, l->o.lease_duration_ms / 1000,
                     clock_mono_ms(), wall_us(), &next);
    if (cur.exists)
        note_holder(l, cur.holder);
    if (d == LEASE_WAIT)
        return 0;
    body = lease_record_to_json(&next, l->ns, l->name);
    if (body == NULL)
        return RC_NOMEM;
    if (d == LEASE_CREATE)
        rc = kube_create(l->c, &KUBE_LEASES, l->ns, body, &resp);
    else
        rc = kube_update(l->c, &KUBE_LEASES, l->ns, l->name, NULL, body, &resp);
    json_decref(body);
    if (rc == RC_CONFLICT)
        return 0; /* another candidate won the race */
    if (rc != 0)
        return rc;
    rc = stored(l, resp);
    if (rc == 1)
        note_holder(l, l->identity);
    return rc;
}

/* ---- threads ---- */

static void
become(struct lease *l, int lead)
{
    /* caller holds cb_mu, not mu */
    char term[16];

    snprintf(term, sizeof(term), "%d", l->term);
    log_kv(lead ? LOG_INFO : LOG_WARN, "lease",
           lead ? "started leading" : "stopped leading", "lease", l->name,
           "self", l->identity, "term", term, NULL);
    if (lead && l->o.started_leading)
        l->o.started_leading(l->o.ud);
    if (!lead && l->o.stopped_leading)
        l->o.stopped_leading(l->o.ud);
}

static void *
campaign(void *arg)
{
    struct lease *l = arg;

    for (;;) {
        int64_t t0 = clock_mono_ms(), wait;
        int rc, lost = 0, won = 0;

        pthread_mutex_lock(&l->mu);
        if (l->stopping) {
            pthread_mutex_unlock(&l->mu);
            break;
        }
        pthread_mutex_unlock(&l->mu);
        rc = try_once(l);
        pthread_mutex_lock(&l->cb_mu);
        pthread_mutex_lock(&l->mu);
        if (rc == 1 && !l->stopping) {
            l->renew_ok = t0;
            if (!l->leader && clock_mono_ms() - t0 < l->o.renew_deadline_ms) {
                l->leader = 1;
                l->term = l->mine.transitions;
                won = 1;
                pthread_cond_broadcast(&l->cond); /* rearm the watchdog */
            }
        } else if (l->leader &&
                   clock_mono_ms() - l->renew_ok >= l->o.renew_deadline_ms) {
            l->leader = 0;
            lost = 1;
        }
        pthread_mutex_unlock(&l->mu);
        if (rc < 0)
            log_kv(LOG_WARN, "lease", "lease request failed", "lease", l->name,
                   "rc", rc_str(rc), "error", errmsg_get(), NULL);
        if (won || lost)
            become(l, won);
        pthread_mutex_unlock(&l->cb_mu);
        /* a leader renews every retry period; a candidate adds up to 20%
         * jitter so candidates spread out */
        wait = l->o.retry_period_ms;
        pthread_mutex_lock(&l->mu);
        if (!l->leader) {
            l->rng ^= l->rng << 13;
            l->rng ^= l->rng >> 7;
            l->rng ^= l->rng << 17;
            wait += (int64_t)(l->rng % (uint64_t)(wait / 5 + 1));
        }
        wait -= clock_mono_ms() - t0;
        if (!l->stopping && wait > 0) {
            struct timespec ts;
            clock_mono_deadline(&ts, wait);
            while (!l->stopping &&
                   pthread_cond_timedwait(&l->cond, &l->mu, &ts) == 0)
                ;
        }
        pthread_mutex_unlock(&l->mu);
    }
    return NULL;
}

static void *
watchdog(void *arg)
{
    struct lease *l = arg;

    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        if (!l->leader) {
            pthread_cond_wait(&l->cond, &l->mu);
            continue;
        }
        int64_t left = l->renew_ok + l->o.renew_deadline_ms - clock_mono_ms();
        if (left > 0) {
            struct timespec ts;
            clock_mono_deadline(&ts, left);
            pthread_cond_timedwait(&l->cond, &l->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&l->mu);
        pthread_mutex_lock(&l->cb_mu);
        pthread_mutex_lock(&l->mu);
        if (l->leader &&
            clock_mono_ms() - l->renew_ok >= l->o.renew_deadline_ms) {
            l->leader = 0;
            pthread_mutex_unlock(&l->mu);
            become(l, 0);
            pthread_mutex_lock(&l->mu);
        }
        pthread_mutex_unlock(&l->cb_mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int
lease_start(struct lease *l)
{
    if (l->started)
        return 0;
    if (pthread_create(&l->thread, NULL, campaign, l) != 0)
        return errmsg_set(RC_INTERNAL, "cannot start the lease thread");
    if (pthread_create(&l->watchdog, NULL, watchdog, l) != 0) {
        pthread_mutex_lock(&l->mu);
        l->stopping = 1;
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        l->stopping = 0;
        return errmsg_set(RC_INTERNAL, "cannot start the lease watchdog");
    }
    l->started = 1;
    return 0;
}

static void
release(struct lease *l)
{
    struct lease_record r = l->mine;
    json_t *body, *resp = NULL; /* owned */
    int rc;

    r.holder[0] = 0;
    r.duration_s = 1;
    r.acquire_us = r.renew_us = wall_us();
    body = lease_record_to_json(&r, l->ns, l->name);
    if (body == NULL)
        return;
    rc = kube_update(l->c, &KUBE_LEASES, l->ns, l->name, NULL, body, &resp);
    json_decref(body);
    json_decref(resp);
    log_kv(rc == 0 ? LOG_INFO : LOG_WARN, "lease",
           rc == 0 ? "released" : "release failed", "lease", l->name, "self",
           l->identity, "rc", rc_str(rc), NULL);
}

void
lease_stop(struct lease *l)
{
    int was;

    if (l == NULL || !l->started)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_join(l->watchdog, NULL);
    l->started = 0;
    pthread_mutex_lock(&l->cb_mu);
    pthread_mutex_lock(&l->mu);
    was = leader_now(l, clock_mono_ms());
    l->leader = 0;
    pthread_mutex_unlock(&l->mu);
    if (was)
        become(l, 0);
    pthread_mutex_unlock(&l->cb_mu);
    /* writers have stopped (the flag is down): now let a standby in */
    if (was && !l->o.no_release && l->have_mine &&
        strcmp(l->mine.holder, l->identity) == 0)
        release(l);
}

void
lease_free(struct lease *l)
{
    if (l == NULL)
        return;
    lease_stop(l);
    kube_client_free(l->c);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->cb_mu);
    mem_free(l->ns);
    mem_free(l->name);
    mem_free(l->identity);
    mem_free(l);
}
