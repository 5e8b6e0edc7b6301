/* op_whcert.c: the webhook's serving certificate (Secret
 * mizzen-webhook-certs: tls.crt = leaf + chain, tls.key, ca.crt = the trust
 * bundle; DNS SANs <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local),
 * renewed like workload certificates, and the caBundle of every webhook
 * entry whose name ends in "sidecar-injector.istio.io" in the
 * MutatingWebhookConfiguration (Istio's WebhookCertPatcher). The caBundle is
 * the trust bundle (roots, so a renewed or re-issued serving cert stays
 * trusted); it is written only when its bytes differ, with a PUT guarded by
 * the resourceVersion just read. */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/informer.h"
#include "lib/jutil.h"
#include "lib/kubeclient.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "operator/op_ca.h"
#include "operator/op_cert.h"
#include "operator/op_run.h"
#include "operator/op_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUFFIX "sidecar-injector.istio.io"

static int
matches(const char *name)
{
    size_t n = name ? strlen(name) : 0, s = strlen(SUFFIX);

    return n >= s && strcmp(name + n - s, SUFFIX) == 0;
}

/* op_mwc_project keeps, per matching entry i, "c<i>" = its caBundle. */
int
op_mwc_project(void *ud, const json_t *obj, struct buf *blob)
{
    const json_t *hooks = json_object_get(obj, "webhooks");
    const json_t *h; /* borrowed */
    char key[32];
    size_t i;
    int rc = 0, n = 0;

    json_array_foreach(hooks, i, h)
    {
        if (!matches(jutil_str(h, "name")))
            continue;
        const char *cab = jutil_path_str(h, "clientConfig.caBundle");
        snprintf(key, sizeof(key), "c%d", n++);
        if ((rc = inf_blob_field(blob, key, cab ? cab : "")) != 0)
            return rc;
    }
    snprintf(key, sizeof(key), "%d", n);
    return inf_blob_field(blob, "n", key);
}

/* mwc_state: 1 if every matching entry carries want (base64), 0 if not;
 * *n gets the number of matching entries, *empty whether one is empty. */
static int
mwc_state(const struct inf_obj *o, const char *want, int *n, int *empty)
{
    const char *ns = inf_obj_field(o, "n");
    char key[32];
    int ok = 1;

    *n = ns ? (int)strtol(ns, NULL, 10) : 0;
    *empty = 0;
    for (int i = 0; i < *n; i++) {
        snprintf(key, sizeof(key), "c%d", i);
        const char *v = inf_obj_field(o, key);
        if (v == NULL || *v == 0)
            *empty = 1;
        if (v == NULL || strcmp(v, want) != 0)
            ok = 0;
    }
    return ok;
}

static void
names(struct op_ctx *c, char *d0, char *d1, size_t cap)
{
    snprintf(d0, cap, "%s.%s.svc", c->opts->webhook_service, c->opts->ns);
    snprintf(d1, cap, "%s.%s.svc.cluster.local", c->opts->webhook_service,
             c->opts->ns);
}

int
op_wh_reconcile(struct op_ctx *c, int64_t *requeue_ms)
{
    struct inf_obj *o = NULL;
    struct op_cert_want w = {0};
    char d0[300], d1[320];
    const char *dns[2] = {d0, d1};
    int rc;

    names(c, d0, d1, sizeof(d0));
    inf_get(c->cp_inf, c->opts->ns, c->opts->webhook_secret, &o);
    w.ns = c->opts->ns;
    w.name = c->opts->webhook_secret;
    w.type = "kubernetes.io/tls";
    w.keys = &OP_TLS_KEYS;
    w.dns = dns;
    w.ndns = 2;
    w.cn = strlen(d0) <= 64 ? d0 : NULL;
    w.comp = "whcert";
    rc = op_cert_reconcile(c, o, &w, requeue_ms);
    inf_obj_unref(o);
    return rc;
}

int
op_wh_published(struct op_ctx *c, const char *bundle)
{
    struct inf_obj *o = NULL;
    char *b64 = NULL;
    int ok, n, empty;

    if (inf_get(c->cp_inf, c->opts->ns, c->opts->webhook_secret, &o) != 0)
        return 0;
    ok = op_cert_obj_published(o, bundle);
    inf_obj_unref(o);
    o = NULL;
    if (ok && inf_get(c->mwc_inf, NULL, c->opts->webhook_config, &o) == 0) {
        if (op_b64_encode(&b64, bundle, strlen(bundle)) != 0)
            ok = 0;
        else
            ok = mwc_state(o, b64, &n, &empty);
        inf_obj_unref(o);
    }
    mem_free(b64);
    return ok;
}

int
op_wh_reissued(struct op_ctx *c, const char *signing_roots)
{
    struct inf_obj *o = NULL;
    int ok;

    if (inf_get(c->cp_inf, c->opts->ns, c->opts->webhook_secret, &o) != 0)
        return 0;
    ok = op_cert_obj_reissued(o, signing_roots);
    inf_obj_unref(o);
    return ok;
}

int
op_mwc_reconcile(struct op_ctx *c, int64_t *requeue_ms)
{
    const char *name = c->opts->webhook_config;
    struct inf_obj *o = NULL;
    struct op_ca_snap *s = NULL;
    json_t *mwc = NULL, *h; /* owned, borrowed */
    char *b64 = NULL;
    int rc = 0, n = 0, empty = 0, changed = 0;
    size_t i;

    if (inf_get(c->mwc_inf, NULL, name, &o) != 0)
        return 0; /* not installed (yet): its ADDED event brings us back */
    if ((s = op_ca_snap_get(c->ca)) == NULL)
        goto done;
    if ((rc = op_b64_encode(&b64, s->bundle, s->bundle_len)) != 0)
        goto done;
    if (mwc_state(o, b64, &n, &empty)) {
        if (n == 0)
            log_kv(LOG_WARN, "mwc", "no webhook entry ends in " SUFFIX, "name",
                   name, NULL);
        goto done;
    }
    if (!op_may_write(c))
        goto done;
    /* read the whole object (the cache is slim) and PUT it back with the
     * resourceVersion just read: no lost update */
    if ((rc = kube_get(c->wc, &KUBE_MWCS, NULL, name, &mwc)) != 0)
        goto done;
    json_array_foreach(jutil_arr(mwc, "webhooks"), i, h)
    {
        json_t *cc; /* borrowed */
        const char *cur;
        if (!matches(jutil_str(h, "name")))
            continue;
        if ((cc = jutil_obj_ensure(h, "clientConfig")) == NULL) {
            rc = errmsg_set(RC_NOMEM, "out of memory");
            goto done;
        }
        cur = jutil_str(cc, "caBundle");
        if (cur != NULL && strcmp(cur, b64) == 0)
            continue;
        if ((rc = jutil_set_str(cc, "caBundle", b64)) != 0)
            goto done;
        changed++;
    }
    if (changed == 0) /* the cache lagged: nothing to do */
        goto done;
    if (!op_may_write(c))
        goto done;
    rc = kube_update(c->wc, &KUBE_MWCS, NULL, name, NULL, mwc, NULL);
    atomic_fetch_add(&c->writes, 1);
    if (rc == RC_CONFLICT) {
        atomic_fetch_add(&c->conflicts, 1);
        goto done;
    }
    if (rc != 0) {
        errmsg_prefix(rc, "update MutatingWebhookConfiguration %s", name);
        goto done;
    }
    atomic_fetch_add(&c->cabundles_written, 1);
    log_kv(LOG_INFO, "mwc", "reconciled", "name", name, "action",
           empty ? "issued" : "repaired", "reason",
           empty ? "caBundle empty" : "caBundle differs", NULL);
done:
    (void)requeue_ms;
    mem_free(b64);
    json_decref(mwc);
    op_ca_snap_unref(s);
    inf_obj_unref(o);
    return rc;
}
