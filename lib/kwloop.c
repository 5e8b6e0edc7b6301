/* kwloop.c: the watch loop - every watch of a process on one thread with
 * curl multi (see kubewatch.h for the contract).
 *
 * Ownership: the loop thread owns the `watches` list and every watch's run
 * state; other threads only touch `pending` (new watches) and `removes`
 * (removal requests) under `mu`, then wake the loop with
 * curl_multi_wakeup. While the loop is not running (`running` is 0 under
 * mu), a remover may unlink a watch itself. A watch is in one of two
 * states: running (easy != NULL, attached to the multi handle) or idle
 * waiting for next_start. */
#include "lib/kubewatch.h"
#include "lib/clock.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/kubeclient.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RV_MAX 128
#define RUN_SOFT_END 1 /* internal: end this run, re-watch (not an RC_*) */

struct watch {
    struct watch *next;
    struct kube_watch_loop *l;
    uint64_t id;
    const struct kube_res *res;
    char *ns, *lsel, *fsel;
    const struct jsel *sel;
    int (*on_event)(void *ud, struct kube_watch_event *ev);
    void (*on_stop)(void *ud, int rc);
    void *ud;
    char rv[RV_MAX];

    CURL *easy;
    void *headers;
    struct kube_watch_lines lines;
    struct buf errbody; /* body of a non-200 answer (a Status) */
    long http;
    int64_t run_start, last_byte, next_start;
    uint64_t run_events;
    int failures;
    int stop_rc;  /* end for good after this run */
    int soft_end; /* in-stream non-410 ERROR: re-watch with backoff */
    int removed;  /* the owner removed it: end without on_stop */
};

struct remove_req {
    struct remove_req *next;
    uint64_t id;
    int done;
};

struct kube_watch_loop {
    struct kube_client *c;
    struct kube_watch_opts o;
    CURLM *multi;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct watch *pending;      /* under mu */
    struct remove_req *removes; /* under mu */
    uint64_t next_id;           /* under mu */
    int stop, running;          /* under mu */
    int thread_started;
    pthread_t thread, loop_thread;
    struct watch *watches;           /* loop thread */
    struct kube_watch_stats st, pub; /* st: loop thread; pub: under mu */
    uint64_t rng;
};

static uint64_t
rnd(struct kube_watch_loop *l)
{
    /* xorshift64*: jitter only, not security */
    l->rng ^= l->rng >> 12;
    l->rng ^= l->rng << 25;
    l->rng ^= l->rng >> 27;
    return l->rng * 2685821657736338717ull;
}

int
kube_watch_loop_new(struct kube_watch_loop **out, struct kube_client *c,
                    const struct kube_watch_opts *opts)
{
    struct kube_watch_loop *l;
    struct timespec ts;

    *out = NULL;
    l = mem_calloc(1, sizeof(*l));
    if (l == NULL)
        return RC_NOMEM;
    if (opts)
        l->o = *opts;
    if (l->o.idle_timeout_ms <= 0)
        l->o.idle_timeout_ms = 130000;
    if (l->o.min_timeout_s <= 0)
        l->o.min_timeout_s = 300;
    if (l->o.max_timeout_s < l->o.min_timeout_s)
        l->o.max_timeout_s =
            l->o.min_timeout_s < 600 ? 600 : l->o.min_timeout_s;
    if (l->o.backoff_base_ms <= 0)
        l->o.backoff_base_ms = 800;
    if (l->o.backoff_max_ms <= 0)
        l->o.backoff_max_ms = 30000;
    l->c = c;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    l->multi = curl_multi_init();
    if (l->multi == NULL) {
        mem_free(l);
        return errmsg_set(RC_INTERNAL, "curl_multi_init failed");
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cond, NULL);
    clock_gettime(CLOCK_REALTIME, &ts);
    l->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
             (uint64_t)(uintptr_t)l;
    if (l->rng == 0)
        l->rng = 88172645463325252ull;
    *out = l;
    return 0;
}

static void
stop_transfer(struct kube_watch_loop *l, struct watch *w)
{
    if (w->easy != NULL) {
        curl_multi_remove_handle(l->multi, w->easy);
        curl_easy_cleanup(w->easy);
        w->easy = NULL;
    }
    curl_slist_free_all(w->headers);
    w->headers = NULL;
}

static void
watch_free(struct kube_watch_loop *l, struct watch *w)
{
    if (w == NULL)
        return;
    stop_transfer(l, w);
    kube_watch_lines_cleanup(&w->lines);
    buf_cleanup(&w->errbody);
    mem_free(w->ns);
    mem_free(w->lsel);
    mem_free(w->fsel);
    mem_free(w);
}

void
kube_watch_loop_free(struct kube_watch_loop *l)
{
    struct watch *w, *next;

    if (l == NULL)
        return;
    kube_watch_loop_stop(l);
    for (w = l->watches; w; w = next) {
        next = w->next;
        watch_free(l, w);
    }
    for (w = l->pending; w; w = next) {
        next = w->next;
        watch_free(l, w);
    }
    curl_multi_cleanup(l->multi);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mu);
    mem_free(l);
}

int
kube_watch_add(struct kube_watch_loop *l, const struct kube_watch_spec *s,
               uint64_t *id_out)
{
    struct watch *w;

    if (id_out)
        *id_out = 0;
    if (s == NULL || s->res == NULL || s->rv == NULL || s->on_event == NULL)
        return errmsg_set(RC_INVAL, "watch without resource, version or "
                                    "event callback");
    if (strlen(s->rv) >= RV_MAX)
        return errmsg_set(RC_INVAL, "resourceVersion too long");
    w = mem_calloc(1, sizeof(*w));
    if (w == NULL)
        return RC_NOMEM;
    w->l = l;
    w->res = s->res;
    w->sel = s->sel;
    w->on_event = s->on_event;
    w->on_stop = s->on_stop;
    w->ud = s->ud;
    snprintf(w->rv, sizeof(w->rv), "%s", s->rv);
    kube_watch_lines_init(&w->lines, l->o.max_line);
    buf_init(&w->errbody, 65536);
    if ((s->ns && (w->ns = mem_strdup(s->ns)) == NULL) ||
        (s->label_selector &&
         (w->lsel = mem_strdup(s->label_selector)) == NULL) ||
        (s->field_selector &&
         (w->fsel = mem_strdup(s->field_selector)) == NULL)) {
        watch_free(l, w);
        return RC_NOMEM;
    }
    pthread_mutex_lock(&l->mu);
    w->id = ++l->next_id;
    w->next = l->pending;
    l->pending = w;
    pthread_mutex_unlock(&l->mu);
    if (id_out)
        *id_out = w->id;
    curl_multi_wakeup(l->multi);
    return 0;
}

static int
in_loop_thread(struct kube_watch_loop *l)
{
    return l->running && pthread_equal(pthread_self(), l->loop_thread);
}

/* unlink_id removes a watch by id from a list; returns it or NULL. */
static struct watch *
unlink_id(struct watch **list, uint64_t id)
{
    for (struct watch **pp = list; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct watch *w = *pp;
            *pp = w->next;
            return w;
        }
    }
    return NULL;
}

void
kube_watch_remove(struct kube_watch_loop *l, uint64_t id)
{
    struct remove_req req = {NULL, id, 0};
    struct watch *w;

    if (id == 0)
        return;
    pthread_mutex_lock(&l->mu);
    if ((w = unlink_id(&l->pending, id)) != NULL) {
        pthread_mutex_unlock(&l->mu);
        watch_free(l, w);
        return;
    }
    if (!l->running) {
        w = unlink_id(&l->watches, id);
        pthread_mutex_unlock(&l->mu);
        watch_free(l, w);
        return;
    }
    if (in_loop_thread(l)) {
        for (w = l->watches; w; w = w->next)
            if (w->id == id)
                w->removed = 1;
        pthread_mutex_unlock(&l->mu);
        return;
    }
    req.next = l->removes;
    l->removes = &req;
    curl_multi_wakeup(l->multi);
    while (!req.done && l->running)
        pthread_cond_wait(&l->cond, &l->mu);
    if (!req.done) { /* the loop stopped first: remove it here */
        struct remove_req **pp = &l->removes;
        while (*pp && *pp != &req)
            pp = &(*pp)->next;
        if (*pp)
            *pp = req.next;
        w = unlink_id(&l->watches, id);
        pthread_mutex_unlock(&l->mu);
        watch_free(l, w);
        return;
    }
    pthread_mutex_unlock(&l->mu);
}

void
kube_watch_loop_stats(struct kube_watch_loop *l, struct kube_watch_stats *out)
{
    pthread_mutex_lock(&l->mu);
    *out = l->pub;
    pthread_mutex_unlock(&l->mu);
}

/* ---- one run (one HTTP request) of a watch ---- */

static int
on_line(void *ud, const char *line, size_t n)
{
    struct watch *w = ud;
    struct kube_watch_loop *l = w->l;
    struct kube_watch_event ev;
    char rv[RV_MAX];
    int rc, type;

    rc = kube_watch_event_parse(&ev, line, n, w->sel, l->o.max_depth);
    if (rc != 0)
        return rc;
    rv[0] = 0;
    if (ev.rv != NULL && ev.rv[0] != 0) {
        if (strlen(ev.rv) >= sizeof(rv)) {
            kube_watch_event_cleanup(&ev);
            return errmsg_set(RC_LIMIT, "resourceVersion too long");
        }
        snprintf(rv, sizeof(rv), "%s", ev.rv);
    }
    if (ev.type == KUBE_WATCH_ERROR) {
        rc = ev.gone ? RC_GONE : RUN_SOFT_END;
        if (ev.gone)
            errmsg_set(RC_GONE, "watch expired: %s",
                       ev.message ? ev.message : "410 Gone");
        else
            log_kv(LOG_WARN, "kubewatch", "error event in watch stream",
                   "resource", w->res->resource, "reason",
                   ev.reason ? ev.reason : "", "message",
                   ev.message ? ev.message : "", NULL);
        kube_watch_event_cleanup(&ev);
        return rc;
    }
    type = ev.type;
    rc = w->on_event(w->ud, &ev);
    kube_watch_event_cleanup(&ev);
    if (rc != 0)
        return rc;
    if (rv[0])
        memcpy(w->rv, rv, strlen(rv) + 1);
    w->run_events++;
    if (type == KUBE_WATCH_BOOKMARK)
        l->st.bookmarks++;
    else
        l->st.events++;
    return 0;
}

static size_t
on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct watch *w = ud;
    size_t n = size * nmemb;
    int rc;

    w->last_byte = clock_mono_ms();
    w->l->st.bytes += n;
    if (w->removed || w->stop_rc)
        return 0;
    if (w->http == 0)
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->http);
    if (w->http != 200) {
        buf_add(&w->errbody, p, n); /* a Status; the cap just truncates */
        return n;
    }
    rc = kube_watch_lines_feed(&w->lines, p, n, on_line, w);
    if (rc == 0)
        return n;
    if (rc == RUN_SOFT_END) {
        w->soft_end = 1;
        return 0;
    }
    w->stop_rc = rc;
    return 0; /* abort the transfer */
}

static int
add_query(struct buf *b, CURL *h, const char *key, const char *val)
{
    char *e = curl_easy_escape(h, val, 0);
    int rc;

    if (e == NULL)
        return RC_NOMEM;
    rc = buf_addf(b, "&%s=%s", key, e);
    curl_free(e);
    return rc;
}

static int
start_run(struct kube_watch_loop *l, struct watch *w)
{
    struct buf path;
    int timeout_s, rc;
    CURL *h = NULL;

    buf_init(&path, 1 << 16);
    timeout_s =
        l->o.min_timeout_s +
        (int)(rnd(l) % (uint64_t)(l->o.max_timeout_s - l->o.min_timeout_s + 1));
    h = curl_easy_init();
    if (h == NULL) {
        rc = errmsg_set(RC_NOMEM, "curl_easy_init failed");
        goto fail;
    }
    if ((rc = kube_path(&path, w->res, w->ns, NULL, NULL)) != 0 ||
        (rc = buf_addstr(&path, "?watch=1")) != 0 ||
        (rc = add_query(&path, h, "resourceVersion", w->rv)) != 0 ||
        (rc = buf_addf(&path, "&allowWatchBookmarks=true&timeoutSeconds=%d",
                       timeout_s)) != 0 ||
        (w->lsel && (rc = add_query(&path, h, "labelSelector", w->lsel))) ||
        (w->fsel && (rc = add_query(&path, h, "fieldSelector", w->fsel))))
        goto fail;
    if ((rc = kube_client_setup_easy(l->c, h, path.ptr, &w->headers)) != 0)
        goto fail;
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(h, CURLOPT_PRIVATE, w);
    /* a hard stop a little after the server's own timeout */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_s + 30) * 1000L);
    if (curl_multi_add_handle(l->multi, h) != CURLM_OK) {
        rc = errmsg_set(RC_INTERNAL, "curl_multi_add_handle failed");
        goto fail;
    }
    w->easy = h;
    w->http = 0;
    w->soft_end = 0;
    w->run_events = 0;
    buf_reset(&w->errbody);
    kube_watch_lines_reset(&w->lines);
    w->run_start = w->last_byte = clock_mono_ms();
    l->st.starts++;
    buf_cleanup(&path);
    return 0;
fail:
    curl_slist_free_all(w->headers);
    w->headers = NULL;
    if (h)
        curl_easy_cleanup(h);
    buf_cleanup(&path);
    return rc;
}

static int64_t
backoff(struct kube_watch_loop *l, int failures)
{
    int64_t d = l->o.backoff_base_ms;

    for (int i = 1; i < failures && d < l->o.backoff_max_ms; i++)
        d *= 2;
    if (d > l->o.backoff_max_ms)
        d = l->o.backoff_max_ms;
    return d / 2 + (int64_t)(rnd(l) % (uint64_t)(d / 2 + 1));
}

static void publish(struct kube_watch_loop *l);

/* finish ends a watch for good: unlink, on_stop, free. */
static void
finish(struct kube_watch_loop *l, struct watch *w, int rc)
{
    for (struct watch **pp = &l->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    if (rc == RC_GONE)
        l->st.gone++;
    publish(l); /* the owner may look at the stats from on_stop */
    if (!w->removed && w->on_stop)
        w->on_stop(w->ud, rc);
    watch_free(l, w);
}

/* end_run: the current request is over (res from curl, or a stall); decide
 * what comes next. */
static void
end_run(struct kube_watch_loop *l, struct watch *w, CURLcode res, int stalled)
{
    int64_t t = clock_mono_ms(), delay = 0;
    long http = w->http;
    char rvs[RV_MAX];

    if (http == 0 && w->easy)
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &http);
    stop_transfer(l, w);
    kube_watch_lines_reset(&w->lines); /* a cut line is replayed later */
    snprintf(rvs, sizeof(rvs), "%s", w->rv);
    if (w->removed) {
        finish(l, w, 0);
        return;
    }
    if (w->stop_rc != 0) {
        log_kv(LOG_WARN, "kubewatch", "watch ended, relist needed", "resource",
               w->res->resource, "ns", w->ns ? w->ns : "", "rv", rvs, "rc",
               rc_str(w->stop_rc), "error", errmsg_get(), NULL);
        finish(l, w, w->stop_rc);
        return;
    }
    if (http == 410) {
        log_kv(LOG_INFO, "kubewatch", "watch expired (410), relist needed",
               "resource", w->res->resource, "rv", rvs, NULL);
        finish(l, w, RC_GONE);
        return;
    }
    /* a healthy run resets the failure count */
    if (http == 200 && (w->run_events > 0 || t - w->run_start >= 1000))
        w->failures = 0;
    if (stalled) {
        l->st.stalls++;
        log_kv(LOG_WARN, "kubewatch", "watch stalled, re-watching", "resource",
               w->res->resource, "rv", rvs, NULL);
        delay = w->failures++ ? backoff(l, w->failures) : 0;
    } else if (res == CURLE_OK && http == 200 && !w->soft_end &&
               w->failures == 0) {
        delay = 0; /* normal end (timeoutSeconds, server closing) */
    } else {
        char code[16];
        l->st.failures++;
        w->failures++;
        delay = backoff(l, w->failures);
        snprintf(code, sizeof(code), "%ld", http);
        log_kv(LOG_WARN, "kubewatch", "watch failed, retrying", "resource",
               w->res->resource, "rv", rvs, "http", code, "curl",
               res == CURLE_OK ? "" : curl_easy_strerror(res), NULL);
        if (http == 429 || http == 503)
            delay = delay < 1000 ? 1000 : delay;
    }
    w->next_start = t + delay;
}

/* ---- the loop ---- */

static void
take_commands(struct kube_watch_loop *l)
{
    struct watch *w, *next;
    struct remove_req *r;

    pthread_mutex_lock(&l->mu);
    for (w = l->pending; w; w = next) {
        next = w->next;
        w->next = l->watches;
        w->next_start = 0;
        l->watches = w;
    }
    l->pending = NULL;
    for (r = l->removes; r; r = r->next) {
        w = unlink_id(&l->watches, r->id);
        watch_free(l, w); /* not inside a callback: safe */
        r->done = 1;
    }
    if (l->removes)
        pthread_cond_broadcast(&l->cond);
    l->removes = NULL;
    pthread_mutex_unlock(&l->mu);
}

static void
publish(struct kube_watch_loop *l)
{
    int n = 0;

    for (struct watch *w = l->watches; w; w = w->next)
        n++;
    l->st.active = n;
    pthread_mutex_lock(&l->mu);
    l->pub = l->st;
    pthread_mutex_unlock(&l->mu);
}

static void
step(struct kube_watch_loop *l)
{
    struct watch *w, *next;
    CURLMsg *msg;
    int running, left;
    int64_t t = clock_mono_ms(), wait = 1000;

    take_commands(l);
    for (w = l->watches; w; w = next) {
        next = w->next;
        if (w->removed && w->easy == NULL) {
            finish(l, w, 0);
            continue;
        }
        if (w->easy == NULL && w->next_start <= t) {
            int rc = start_run(l, w);
            if (rc != 0) {
                w->failures++;
                w->next_start = t + backoff(l, w->failures);
                log_kv(LOG_WARN, "kubewatch", "cannot start watch", "resource",
                       w->res->resource, "error", errmsg_get(), NULL);
            }
        }
    }
    curl_multi_perform(l->multi, &running);
    while ((msg = curl_multi_info_read(l->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURLcode res = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        end_run(l, (struct watch *)(void *)priv, res, 0);
    }
    t = clock_mono_ms();
    for (w = l->watches; w; w = next) {
        next = w->next;
        if (w->easy != NULL && (w->removed || w->stop_rc ||
                                t - w->last_byte > l->o.idle_timeout_ms)) {
            end_run(l, w, CURLE_OK, !w->removed && !w->stop_rc);
            continue;
        }
        if (w->easy == NULL && w->next_start - t < wait)
            wait = w->next_start - t;
    }
    publish(l);
    if (wait < 0)
        wait = 0;
    long ct = -1;
    curl_multi_timeout(l->multi, &ct);
    if (ct >= 0 && ct < wait)
        wait = ct;
    curl_multi_poll(l->multi, NULL, 0, (int)wait, NULL);
}

int
kube_watch_loop_run(struct kube_watch_loop *l)
{
    pthread_mutex_lock(&l->mu);
    l->loop_thread = pthread_self();
    l->running = 1;
    pthread_mutex_unlock(&l->mu);
    for (;;) {
        pthread_mutex_lock(&l->mu);
        int stop = l->stop;
        pthread_mutex_unlock(&l->mu);
        if (stop)
            break;
        step(l);
    }
    pthread_mutex_lock(&l->mu);
    l->running = 0;
    l->stop = 0;
    pthread_cond_broadcast(&l->cond); /* waiting removers */
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static void *
thread_main(void *arg)
{
    kube_watch_loop_run(arg);
    return NULL;
}

int
kube_watch_loop_start(struct kube_watch_loop *l)
{
    if (l->thread_started)
        return 0;
    if (pthread_create(&l->thread, NULL, thread_main, l) != 0)
        return errmsg_set(RC_INTERNAL, "cannot start the watch thread");
    l->thread_started = 1;
    return 0;
}

void
kube_watch_loop_stop(struct kube_watch_loop *l)
{
    pthread_mutex_lock(&l->mu);
    if (l->running || l->thread_started)
        l->stop = 1;
    pthread_mutex_unlock(&l->mu);
    curl_multi_wakeup(l->multi);
    if (l->thread_started && !pthread_equal(pthread_self(), l->thread)) {
        pthread_join(l->thread, NULL);
        l->thread_started = 0;
    }
}
