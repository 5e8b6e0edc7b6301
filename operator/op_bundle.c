/* op_bundle.c: the trust bundle ConfigMap istio-ca-root-cert (key
 * root-cert.pem) in every namespace with injection enabled. It holds the
 * published roots (op_ca.h: one root, or old + new during a rotation) and
 * is repaired when edited or deleted (the ConfigMap informer enqueues the
 * namespace). Namespaces without injection are left alone. */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/informer.h"
#include "lib/jutil.h"
#include "lib/kubeclient.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "operator/op_ca.h"
#include "operator/op_run.h"

#include <string.h>

int
op_cm_project(void *ud, const json_t *obj, struct buf *blob)
{
    const char *pem = jutil_str(jutil_obj(obj, "data"), OP_BUNDLE_KEY);

    if (pem == NULL)
        return 0;
    return inf_blob_field(blob, "root", pem);
}

static json_t *
build(const char *ns, const struct inf_obj *cur, const char *bundle)
{
    json_t *cm =
        json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s}}", "apiVersion", "v1", "kind",
                  "ConfigMap", "metadata", "name", OP_BUNDLE_CM, "namespace",
                  ns, "data", OP_BUNDLE_KEY, bundle);
    json_t *md = cm ? json_object_get(cm, "metadata") : NULL; /* borrowed */
    json_t *labels;                                           /* owned */
    const char *k, *v;
    int fail = md == NULL;

    if (!fail && cur != NULL) {
        fail |= json_object_set_new(md, "resourceVersion",
                                    json_string(inf_obj_rv(cur))) != 0;
        labels = json_object();
        for (int i = 0; labels && inf_obj_label_at(cur, i, &k, &v) == 0; i++)
            fail |= json_object_set_new(labels, k, json_string(v)) != 0;
        fail |= labels == NULL || json_object_set_new(md, "labels", labels);
    }
    if (fail) {
        json_decref(cm);
        return NULL;
    }
    return cm;
}

int
op_bundle_reconcile(struct op_ctx *c, const char *ns, int64_t *requeue_ms)
{
    struct inf_obj *cur = NULL;
    struct op_ca_snap *s = NULL;
    const char *have, *action;
    json_t *cm = NULL;
    int rc = 0;

    if (!op_ns_enabled(c, ns))
        return 0;
    if ((s = op_ca_snap_get(c->ca)) == NULL)
        return 0; /* the CA controller enqueues every namespace later */
    inf_get(c->cm_inf, ns, OP_BUNDLE_CM, &cur);
    have = cur ? inf_obj_field(cur, "root") : NULL;
    if (have != NULL && strcmp(have, s->bundle) == 0) {
        log_kv(LOG_DEBUG, "bundle", "reconciled", "ns", ns, "name",
               OP_BUNDLE_CM, "action", "ok", NULL);
        goto done;
    }
    action = cur == NULL ? "issued" : "repaired";
    if (!op_may_write(c))
        goto done;
    if ((cm = build(ns, cur, s->bundle)) == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory");
        goto done;
    }
    if (!op_may_write(c))
        goto done;
    rc = cur ? kube_update(c->wc, &KUBE_CONFIGMAPS, ns, OP_BUNDLE_CM, NULL, cm,
                           NULL)
             : kube_create(c->wc, &KUBE_CONFIGMAPS, ns, cm, NULL);
    atomic_fetch_add(&c->writes, 1);
    if (rc == RC_CONFLICT) {
        atomic_fetch_add(&c->conflicts, 1);
        goto done; /* rate-limited retry from the newer cache */
    }
    if (rc != 0) {
        errmsg_prefix(rc, "write %s/%s", ns, OP_BUNDLE_CM);
        goto done;
    }
    atomic_fetch_add(&c->bundles_written, 1);
    log_kv(LOG_INFO, "bundle", "reconciled", "ns", ns, "name", OP_BUNDLE_CM,
           "action", action, "reason",
           cur == NULL
               ? "missing"
               : (have == NULL ? "root-cert.pem missing" : "bundle differs"),
           NULL);
done:
    (void)requeue_ms;
    json_decref(cm);
    inf_obj_unref(cur);
    op_ca_snap_unref(s);
    return rc;
}

struct pub {
    struct op_ctx *c;
    const char *bundle;
    int ok;
};

static int
visit_ns(void *ud, const struct inf_obj *nso)
{
    struct pub *p = ud;
    struct inf_obj *cm = NULL;
    const char *have;
    int good;

    if (!op_ns_obj_enabled(nso))
        return 0;
    if (inf_get(p->c->cm_inf, inf_obj_name(nso), OP_BUNDLE_CM, &cm) != 0) {
        p->ok = 0;
        return 1;
    }
    have = inf_obj_field(cm, "root");
    good = have != NULL && strcmp(have, p->bundle) == 0;
    inf_obj_unref(cm);
    if (!good) {
        p->ok = 0;
        return 1;
    }
    return 0;
}

int
op_bundle_all_published(struct op_ctx *c, const char *bundle)
{
    struct pub p = {c, bundle, 1};

    inf_foreach(c->ns_inf, visit_ns, &p);
    return p.ok;
}
