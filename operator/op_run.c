/* op_run.c: the operator process: API clients, the informers that make the
 * slim cache, the work queue and its workers, leader election, and the
 * orderly shutdown (op_run.h).
 *
 * Start-up order: mesh config -> informers (every replica) -> wait until
 * all caches synced -> workers -> leader election. Workers never see a
 * half-listed cache, so "absent from the cache" means absent. Shutdown:
 * stop leading first (writes stop at once), then drain the queue, join the
 * workers, stop the informers. */
#include "operator/op_run.h"

#include "lib/clock.h"
#include "lib/errmsg.h"
#include "lib/informer.h"
#include "lib/jutil.h"
#include "lib/kubecfg.h"
#include "lib/kubeclient.h"
#include "lib/kubewatch.h"
#include "lib/lease.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "lib/workqueue.h"
#include "lib/yamljson.h"
#include "operator/op_ca.h"
#include "operator/op_cert.h"
#include "operator/op_metrics.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_WORKERS 64

int64_t
op_delay_ms(time_t t)
{
    int64_t d = ((int64_t)t - (int64_t)clock_now()) * 1000;

    if (d < 0)
        return 0;
    return d > 86400000 ? 86400000 : d;
}

int
op_may_write(struct op_ctx *c)
{
    if (c->lease == NULL ||
        lease_remaining_ms(c->lease, NULL) > c->write_timeout_ms)
        return 1;
    atomic_fetch_add(&c->skipped_not_leader, 1);
    return 0;
}

int
op_ns_obj_enabled(const struct inf_obj *ns)
{
    const char *inj = inf_obj_label(ns, "istio-injection");

    if (inf_obj_deleting(ns))
        return 0;
    if (inj != NULL)
        return strcmp(inj, "enabled") == 0;
    return inf_obj_label(ns, "istio.io/rev") != NULL;
}

int
op_ns_enabled(struct op_ctx *c, const char *ns)
{
    struct inf_obj *o = NULL;
    int on;

    if (inf_get(c->ns_inf, NULL, ns, &o) != 0)
        return 0;
    on = op_ns_obj_enabled(o);
    inf_obj_unref(o);
    return on;
}

static void
add_key(struct op_ctx *c, const char *prefix, const char *ns, const char *name)
{
    char key[600];

    if (ns != NULL)
        snprintf(key, sizeof(key), "%s/%s/%s", prefix, ns, name);
    else if (name != NULL)
        snprintf(key, sizeof(key), "%s/%s", prefix, name);
    else
        snprintf(key, sizeof(key), "%s", prefix);
    wq_add(c->q, key);
}

static int
visit_sa_add(void *ud, const struct inf_obj *o)
{
    add_key(ud, "sa", inf_obj_ns(o), inf_obj_name(o));
    return 0;
}

void
op_enqueue_ns(struct op_ctx *c, const char *ns)
{
    add_key(c, "ns", NULL, ns);
    inf_by_index(c->sa_inf, "namespace", ns, visit_sa_add, c);
}

static int
visit_ns_add(void *ud, const struct inf_obj *o)
{
    struct op_ctx *c = ud;

    if (op_ns_obj_enabled(o)) {
        add_key(c, "ns", NULL, inf_obj_name(o));
        inf_by_index(c->sa_inf, "namespace", inf_obj_name(o), visit_sa_add, c);
    }
    return 0;
}

void
op_enqueue_all(struct op_ctx *c)
{
    wq_add(c->q, "ca");
    wq_add(c->q, "wh");
    wq_add(c->q, "mwc");
    inf_foreach(c->ns_inf, visit_ns_add, c);
}

/* ---- informer handlers: only enqueue ---- */

static void
ns_add(void *ud, const struct inf_obj *o)
{
    if (op_ns_obj_enabled(o))
        op_enqueue_ns(ud, inf_obj_name(o));
}

static void
ns_update(void *ud, const struct inf_obj *old, const struct inf_obj *cur)
{
    if (op_ns_obj_enabled(cur) && !op_ns_obj_enabled(old))
        op_enqueue_ns(ud, inf_obj_name(cur));
}

static void
sa_add(void *ud, const struct inf_obj *o)
{
    add_key(ud, "sa", inf_obj_ns(o), inf_obj_name(o));
}

static void
sa_update(void *ud, const struct inf_obj *old, const struct inf_obj *cur)
{
    sa_add(ud, cur);
}

static void
sa_delete(void *ud, const struct inf_obj *o, int unknown)
{
    sa_add(ud, o);
}

static void
sec_add(void *ud, const struct inf_obj *o)
{
    const char *name = inf_obj_name(o);
    size_t n = strlen(OP_WL_PREFIX);

    if (strncmp(name, OP_WL_PREFIX, n) == 0 && name[n] != 0)
        add_key(ud, "sa", inf_obj_ns(o), name + n);
}

static void
sec_update(void *ud, const struct inf_obj *old, const struct inf_obj *cur)
{
    sec_add(ud, cur);
}

static void
sec_delete(void *ud, const struct inf_obj *o, int unknown)
{
    sec_add(ud, o);
}

static void
cp_add(void *ud, const struct inf_obj *o)
{
    struct op_ctx *c = ud;
    const char *name = inf_obj_name(o);

    if (strcmp(name, OP_CA_SECRET) == 0 || strcmp(name, OP_CACERTS) == 0)
        wq_add(c->q, "ca");
    else if (strcmp(name, c->opts->webhook_secret) == 0)
        wq_add(c->q, "wh");
}

static void
cp_update(void *ud, const struct inf_obj *old, const struct inf_obj *cur)
{
    cp_add(ud, cur);
}

static void
cp_delete(void *ud, const struct inf_obj *o, int unknown)
{
    cp_add(ud, o);
}

static void
cm_add(void *ud, const struct inf_obj *o)
{
    add_key(ud, "ns", NULL, inf_obj_ns(o));
}

static void
cm_update(void *ud, const struct inf_obj *old, const struct inf_obj *cur)
{
    cm_add(ud, cur);
}

static void
cm_delete(void *ud, const struct inf_obj *o, int unknown)
{
    cm_add(ud, o);
}

static void
mwc_any(void *ud, const struct inf_obj *o)
{
    wq_add(((struct op_ctx *)ud)->q, "mwc");
}

static void
mwc_update(void *ud, const struct inf_obj *old, const struct inf_obj *cur)
{
    mwc_any(ud, cur);
}

/* ---- workers ---- */

static int
dispatch(struct op_ctx *c, const char *key, int64_t *rq)
{
    char buf[600], *slash;

    if (strcmp(key, "ca") == 0)
        return op_ca_reconcile(c, rq);
    if (strcmp(key, "wh") == 0)
        return op_wh_reconcile(c, rq);
    if (strcmp(key, "mwc") == 0)
        return op_mwc_reconcile(c, rq);
    if (strncmp(key, "ns/", 3) == 0)
        return op_bundle_reconcile(c, key + 3, rq);
    if (strncmp(key, "sa/", 3) == 0) {
        snprintf(buf, sizeof(buf), "%s", key + 3);
        slash = strchr(buf, '/');
        if (slash == NULL)
            return 0;
        *slash = 0;
        return op_wl_reconcile(c, buf, slash + 1, rq);
    }
    return 0;
}

static void *
worker(void *arg)
{
    struct op_ctx *c = arg;
    char *key = NULL;

    for (;;) {
        int64_t rq = 0;
        int rc = wq_get(c->q, &key, -1);
        if (rc == RC_AGAIN)
            break;
        if (rc != 0)
            continue;
        errmsg_clear();
        rc = dispatch(c, key, &rq);
        if (rc == 0) {
            wq_forget(c->q, key);
            if (rq > 0)
                wq_add_after(c->q, key, rq);
        } else {
            atomic_fetch_add(&c->errors, 1);
            log_kv(rc == RC_CONFLICT ? LOG_DEBUG : LOG_WARN, "operator",
                   "reconcile failed; will retry", "key", key, "rc", rc_str(rc),
                   "error", errmsg_get(), NULL);
            wq_add_rate_limited(c->q, key);
        }
        wq_done(c->q, key);
        mem_free(key);
        key = NULL;
    }
    return NULL;
}

/* ---- leadership ---- */

static void
started_leading(void *ud)
{
    struct op_ctx *c = ud;

    log_kv(LOG_INFO, "operator", "started leading", "identity",
           lease_identity(c->lease), NULL);
    op_enqueue_all(c);
}

static void
stopped_leading(void *ud)
{
    struct op_ctx *c = ud;

    log_kv(LOG_INFO, "operator", "stopped leading", "identity",
           lease_identity(c->lease), NULL);
}

/* ---- start-up ---- */

static int
stop_requested(const sigset_t *set, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int sig = sigtimedwait(set, NULL, &ts);

    return sig == SIGTERM || sig == SIGINT;
}

/* read_mesh: the mesh config (ConfigMap, key mesh), retried until read or
 * absent. 0, 1 (stop requested) or RC_INVAL (bad settings in it). */
static int
read_mesh(struct op_ctx *c, const sigset_t *set)
{
    json_t *cm = NULL, *mesh = NULL;
    const char *text;
    int rc;

    for (;;) {
        rc = kube_get(c->rc, &KUBE_CONFIGMAPS, c->opts->ns,
                      c->opts->mesh_configmap, &cm);
        if (rc == 0 || rc == RC_NOTFOUND)
            break;
        log_kv(LOG_WARN, "operator", "cannot read the mesh config; retrying",
               "ns", c->opts->ns, "name", c->opts->mesh_configmap, "error",
               errmsg_get(), NULL);
        if (stop_requested(set, 2000))
            return 1;
    }
    if (rc == RC_NOTFOUND) {
        log_kv(LOG_INFO, "operator", "no mesh config; using defaults", "ns",
               c->opts->ns, "name", c->opts->mesh_configmap, NULL);
        return 0;
    }
    text = jutil_str(jutil_obj(cm, "data"), "mesh");
    rc = 0;
    if (text != NULL &&
        (rc = yj_load_one(&mesh, text, strlen(text), NULL)) == 0)
        rc = op_opts_apply_mesh(c->opts, mesh);
    else if (text != NULL)
        errmsg_prefix(rc, "mesh config");
    json_decref(mesh);
    json_decref(cm);
    return rc;
}

struct infdef {
    struct informer **slot;
    const struct kube_res *res;
    const char *ns, *fsel;
    const char *const *paths;
    inf_project_fn project;
    void *project_ud;
    int no_labels;
    struct inf_handlers h;
    const char *what;
};

static int
start_informers(struct op_ctx *c, const sigset_t *set)
{
    static const char *const cm_paths[] = {"data", NULL};
    static const char *const mwc_paths[] = {"webhooks", NULL};
    char mwc_sel[300];
    snprintf(mwc_sel, sizeof(mwc_sel), "metadata.name=%s",
             c->opts->webhook_config);
    struct infdef defs[] = {
        {&c->ns_inf,
         &KUBE_NAMESPACES,
         NULL,
         NULL,
         NULL,
         NULL,
         NULL,
         0,
         {ns_add, ns_update, NULL, c},
         "namespaces"},
        {&c->sa_inf,
         &KUBE_SERVICEACCOUNTS,
         NULL,
         NULL,
         NULL,
         NULL,
         NULL,
         1,
         {sa_add, sa_update, sa_delete, c},
         "serviceaccounts"},
        {&c->sec_inf,
         &KUBE_SECRETS,
         NULL,
         "type=" OP_WL_TYPE,
         OP_SECRET_PATHS,
         op_secret_project,
         NULL,
         0,
         {sec_add, sec_update, sec_delete, c},
         "workload secrets"},
        {&c->cp_inf,
         &KUBE_SECRETS,
         c->opts->ns,
         NULL,
         OP_SECRET_PATHS,
         op_secret_project,
         c->opts->webhook_secret,
         0, /* keep labels: a rewrite preserves them */
         {cp_add, cp_update, cp_delete, c},
         "control-plane secrets"},
        {&c->cm_inf,
         &KUBE_CONFIGMAPS,
         NULL,
         "metadata.name=" OP_BUNDLE_CM,
         cm_paths,
         op_cm_project,
         NULL,
         0,
         {cm_add, cm_update, cm_delete, c},
         "bundle configmaps"},
        {&c->mwc_inf,
         &KUBE_MWCS,
         NULL,
         mwc_sel,
         mwc_paths,
         op_mwc_project,
         NULL,
         1,
         {mwc_any, mwc_update, NULL, c},
         "webhook configuration"},
    };
    int rc;

    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        struct inf_opts io = {0};
        io.res = defs[i].res;
        io.ns = defs[i].ns;
        io.field_selector = defs[i].fsel;
        io.paths = defs[i].paths;
        io.project = defs[i].project;
        io.project_ud = defs[i].project_ud;
        io.no_labels = defs[i].no_labels;
        if ((rc = inf_new(defs[i].slot, &io)) != 0)
            return errmsg_prefix(rc, "informer %s", defs[i].what);
        inf_set_handlers(*defs[i].slot, &defs[i].h);
        if ((rc = inf_start(*defs[i].slot, c->rc, c->loop)) != 0)
            return errmsg_prefix(rc, "informer %s", defs[i].what);
    }
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        while (inf_wait_synced(*defs[i].slot, 500) != 0) {
            if (stop_requested(set, 0))
                return 1;
        }
    }
    return 0;
}

static void
stop_all(struct op_ctx *c)
{
    struct informer *infs[] = {c->ns_inf, c->sa_inf, c->sec_inf,
                               c->cp_inf, c->cm_inf, c->mwc_inf};

    for (size_t i = 0; i < sizeof(infs) / sizeof(infs[0]); i++)
        if (infs[i] != NULL)
            inf_stop(infs[i]);
    if (c->loop != NULL)
        kube_watch_loop_stop(c->loop);
    for (size_t i = 0; i < sizeof(infs) / sizeof(infs[0]); i++)
        inf_free(infs[i]);
    kube_watch_loop_free(c->loop);
}

int
op_run(struct op_opts *o)
{
    struct op_ctx ctx = {0}, *c = &ctx;
    struct kube_client_opts ro = {0}, wo = {0};
    struct wq_opts qo = {0};
    struct lease_opts lo = {0};
    pthread_t th[MAX_WORKERS];
    int nth = 0, rc, status = 1;
    int64_t wt;
    sigset_t set;
    char desc[1024];

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    c->opts = o;
    tzset();
    ro.user_agent = wo.user_agent = "mizzen-operator";
    /* a write must end well inside lease - renew deadline, so that a
     * deposed leader's last write cannot overlap the next leader's */
    wt = o->lease_duration_ms - o->renew_deadline_ms - 200;
    wo.timeout_ms = (int)(wt < 500 ? 500 : wt > 3000 ? 3000 : wt);
    c->write_timeout_ms = wo.timeout_ms;
    wo.max_retries = -1;
    if ((rc = kube_config_auto(&c->cfg, o->kubeconfig)) != 0 ||
        (rc = kube_client_new(&c->rc, c->cfg, &ro)) != 0 ||
        (rc = kube_client_new(&c->wc, c->cfg, &wo)) != 0)
        goto done;
    rc = read_mesh(c, &set);
    if (rc == 1) {
        status = 0;
        goto done;
    }
    if (rc != 0)
        goto done;
    clock_set_offset(o->clock_offset); /* may come from the mesh config */
    op_opts_describe(o, desc, sizeof(desc));
    log_kv(LOG_INFO, "operator", "starting", "config", desc, NULL);
    qo.base_delay_ms = 100;
    qo.max_delay_ms = 30000;
    qo.qps = 50;
    qo.burst = 200;
    if ((rc = wq_new(&c->q, &qo)) != 0 || (rc = op_ca_new(&c->ca)) != 0 ||
        (rc = kube_watch_loop_new(&c->loop, c->rc, NULL)) != 0 ||
        (rc = kube_watch_loop_start(c->loop)) != 0)
        goto done;
    if (o->metrics_addr != NULL && *o->metrics_addr != 0) {
        char port[16];
        if ((rc = op_metrics_start(&c->metrics, c, o->metrics_addr)) != 0)
            goto done;
        snprintf(port, sizeof(port), "%d", op_metrics_port(c->metrics));
        log_kv(LOG_INFO, "operator", "serving /metrics /healthz /readyz",
               "addr", o->metrics_addr, "port", port, NULL);
    }
    rc = start_informers(c, &set);
    if (rc == 1) {
        status = 0;
        goto done;
    }
    if (rc != 0)
        goto done;
    atomic_store(&c->synced, 1);
    log_kv(LOG_INFO, "operator", "caches synced", NULL);
    if (o->leader_elect) {
        lo.ns = o->ns;
        lo.name = o->lease_name;
        lo.lease_duration_ms = (int)o->lease_duration_ms;
        lo.renew_deadline_ms = (int)o->renew_deadline_ms;
        lo.retry_period_ms = (int)o->retry_period_ms;
        lo.started_leading = started_leading;
        lo.stopped_leading = stopped_leading;
        lo.ud = c;
        if ((rc = lease_new(&c->lease, c->cfg, &lo)) != 0)
            goto done;
    }
    for (; nth < o->workers && nth < MAX_WORKERS; nth++)
        if (pthread_create(&th[nth], NULL, worker, c) != 0) {
            rc = errmsg_set(RC_INTERNAL, "cannot start a worker thread");
            goto done;
        }
    wq_add(c->q, "ca"); /* every replica loads the CA (reads only) */
    if (c->lease != NULL && (rc = lease_start(c->lease)) != 0)
        goto done;
    if (c->lease == NULL)
        op_enqueue_all(c);
    while (!stop_requested(&set, 1000))
        ;
    log_kv(LOG_INFO, "operator", "shutting down", NULL);
    status = 0;
    rc = 0;
done:
    if (rc != 0)
        log_kv(LOG_ERROR, "operator", "fatal", "rc", rc_str(rc), "error",
               errmsg_get(), NULL);
    if (c->lease != NULL)
        lease_stop(c->lease); /* writes stop here */
    if (c->q != NULL)
        wq_shutdown(c->q);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    op_metrics_stop(c->metrics); /* reads the informers: stop it first */
    c->metrics = NULL;
    stop_all(c);
    {
        char w[32], k[32], s[32];
        snprintf(w, sizeof(w), "%lu", atomic_load(&c->writes));
        snprintf(k, sizeof(k), "%lu", atomic_load(&c->conflicts));
        snprintf(s, sizeof(s), "%lu", atomic_load(&c->skipped_not_leader));
        log_kv(LOG_INFO, "operator", "stopped", "writes", w, "conflicts", k,
               "standby_skips", s, NULL);
    }
    lease_free(c->lease);
    wq_free(c->q);
    op_ca_free(c->ca);
    kube_client_free(c->wc);
    kube_client_free(c->rc);
    kube_config_free(c->cfg);
    return status;
}
