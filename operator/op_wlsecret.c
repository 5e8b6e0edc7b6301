/* op_wlsecret.c: the workload Secrets istio.<sa> (the Citadel model): one
 * per ServiceAccount of every namespace with injection enabled, type
 * istio.io/key-and-cert, owned by the ServiceAccount (the garbage collector
 * deletes it with the ServiceAccount), SPIFFE identity
 * spiffe://<trust-domain>/ns/<ns>/sa/<sa>. Secrets in namespaces that are
 * not (or no longer) enabled are left alone: never created, never deleted
 * (running pods may still mount them), no longer renewed. */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/informer.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"
#include "operator/op_cert.h"
#include "operator/op_run.h"

#include <stdio.h>
#include <string.h>

int
op_wl_reconcile(struct op_ctx *c, const char *ns, const char *sa,
                int64_t *requeue_ms)
{
    struct inf_obj *sao = NULL, *sec = NULL;
    struct op_cert_want w = {0};
    char name[320], *uri = NULL;
    int rc = 0;

    if (!op_ns_enabled(c, ns))
        return 0;
    if (inf_get(c->sa_inf, ns, sa, &sao) != 0 || inf_obj_deleting(sao))
        goto done; /* gone: the garbage collector deletes its Secret */
    if (strlen(sa) > 253 - strlen(OP_WL_PREFIX))
        goto done;
    snprintf(name, sizeof(name), "%s%s", OP_WL_PREFIX, sa);
    if ((rc = pki_spiffe_id(&uri, c->opts->trust_domain, ns, sa)) != 0) {
        log_kv(LOG_WARN, "wlsecret", "no identity for this ServiceAccount",
               "ns", ns, "name", sa, "error", errmsg_get(), NULL);
        rc = 0;
        goto done;
    }
    inf_get(c->sec_inf, ns, name, &sec); /* absent: sec stays NULL */
    w.ns = ns;
    w.name = name;
    w.type = OP_WL_TYPE;
    w.keys = &OP_WL_KEYS;
    w.uri = uri;
    w.sa = sa;
    w.sa_uid = inf_obj_uid(sao);
    w.comp = "wlsecret";
    rc = op_cert_reconcile(c, sec, &w, requeue_ms);
done:
    mem_free(uri);
    inf_obj_unref(sec);
    inf_obj_unref(sao);
    return rc;
}

/* The rotation checks walk every ServiceAccount of the enabled namespaces
 * and look at its Secret in the cache. */
struct walk {
    struct op_ctx *c;
    const char *want; /* bundle or signing roots */
    int reissued;     /* 0: check published; 1: check reissued */
    int ok;
};

static int
visit_sa(void *ud, const struct inf_obj *sa)
{
    struct walk *w = ud;
    struct inf_obj *sec = NULL;
    char name[320];
    int good;

    if (inf_obj_deleting(sa) || !op_ns_enabled(w->c, inf_obj_ns(sa)) ||
        strlen(inf_obj_name(sa)) > 253 - strlen(OP_WL_PREFIX))
        return 0; /* no Secret can exist for it (name too long) */
    snprintf(name, sizeof(name), "%s%s", OP_WL_PREFIX, inf_obj_name(sa));
    if (inf_get(w->c->sec_inf, inf_obj_ns(sa), name, &sec) != 0) {
        w->ok = 0; /* not yet created: it will be, from the current CA */
        return 1;
    }
    good = w->reissued ? op_cert_obj_reissued(sec, w->want)
                       : op_cert_obj_published(sec, w->want);
    inf_obj_unref(sec);
    if (!good) {
        w->ok = 0;
        return 1; /* stop the walk */
    }
    return 0;
}

/* Note: inf_get on sec_inf inside sa_inf's walk takes another informer's
 * read lock; informer handlers never hold a lock of another informer while
 * taking sa_inf's, so this cannot deadlock. */
int
op_wl_all_published(struct op_ctx *c, const char *bundle)
{
    struct walk w = {c, bundle, 0, 1};

    inf_foreach(c->sa_inf, visit_sa, &w);
    return w.ok;
}

int
op_wl_all_reissued(struct op_ctx *c, const char *signing_roots)
{
    struct walk w = {c, signing_roots, 1, 1};

    inf_foreach(c->sa_inf, visit_sa, &w);
    return w.ok;
}
