/* op_ca.c: the CA Secret (cacerts or istio-ca-secret), its snapshot, and
 * the root rotation state machine (op_ca.h). Only the "ca" work item
 * touches struct op_ca's doc, so the queue's per-key serialization is the
 * lock for it; the snapshot pointer is swapped under mu for readers. */
#include "operator/op_ca.h"

#include "lib/clock.h"
#include "lib/errmsg.h"
#include "lib/informer.h"
#include "lib/jutil.h"
#include "lib/kubeclient.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"
#include "operator/op_decide.h"
#include "operator/op_run.h"
#include "operator/op_util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct op_ca {
    pthread_mutex_t mu;
    struct op_ca_snap *snap; /* under mu */
    json_t *doc;             /* the CA Secret as last read (ca item only) */
    unsigned long gen;
    char bad_rv[64]; /* a Secret version that failed to load (log once) */
};

void
op_ca_snap_ref(struct op_ca_snap *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void
op_ca_snap_unref(struct op_ca_snap *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pki_ca_free(s->ca);
    mem_free(s->bundle);
    mem_free(s->signing_roots);
    mem_free(s);
}

/* bundle_add_pem decodes the certificates of pem and adds them (unique). */
static int
bundle_add_pem(struct pki_bundle *b, const char *pem, size_t len,
               const char *what)
{
    struct pki_bundle *in = NULL;
    int rc = pki_bundle_decode(&in, pem, len);

    if (rc != 0)
        return errmsg_prefix(rc, "%s", what);
    for (size_t i = 0; rc == 0 && i < pki_bundle_count(in); i++)
        rc = pki_bundle_add_unique(b, pki_bundle_get(in, i));
    pki_bundle_free(in);
    return rc;
}

int
op_ca_snap_from_secret(struct op_ca_snap **out, const json_t *secret,
                       int plugged, time_t now)
{
    static const char *const KEYS[] = {
        "ca-cert.pem",    "ca-key.pem",       "root-cert.pem",
        "cert-chain.pem", "next-ca-cert.pem", "previous-ca-cert.pem"};
    char *pem[6] = {0};
    size_t len[6] = {0};
    const json_t *ann = jutil_path(secret, "metadata.annotations");
    struct op_ca_snap *s = NULL;
    struct pki_bundle *bundle = NULL;
    struct pki_ca_pem in = {0};
    const char *rv = jutil_path_str(secret, "metadata.resourceVersion");
    const char *since;
    int rc = 0;

    *out = NULL;
    for (int i = 0; i < 6; i++) {
        rc = op_data_get(&pem[i], &len[i], secret, KEYS[i], PKI_PEM_MAX);
        if (rc == RC_NOTFOUND && i >= 2)
            rc = 0;
        if (rc != 0)
            goto done;
    }
    s = mem_calloc(1, sizeof(*s));
    if (s != NULL)
        atomic_init(&s->refs, 1);
    if (s == NULL || (rc = pki_bundle_new(&bundle)) != 0) {
        rc = rc ? rc : errmsg_set(RC_NOMEM, "out of memory");
        goto done;
    }
    s->plugged = plugged;
    snprintf(s->source_rv, sizeof(s->source_rv), "%s", rv ? rv : "");
    in.ca_cert = pem[0];
    in.ca_cert_len = len[0];
    in.ca_key = pem[1];
    in.ca_key_len = len[1];
    if (plugged) {
        in.root_cert = pem[2];
        in.root_cert_len = len[2];
        in.cert_chain = pem[3];
        in.cert_chain_len = len[3];
    } else {
        s->requested =
            jutil_str(ann, OP_ROTATE_ANNOTATION) != NULL &&
            strcmp(jutil_str(ann, OP_ROTATE_ANNOTATION), "true") == 0;
        if ((rc = op_root_phase_parse(
                 &s->phase, jutil_str(ann, OP_PHASE_ANNOTATION))) != 0)
            goto done;
        since = jutil_str(ann, OP_SINCE_ANNOTATION);
        if (s->phase == OP_ROOT_OVERLAP &&
            (since == NULL || op_time_parse(&s->overlap_since, since) != 0))
            s->overlap_since = now; /* damaged: restart the overlap */
    }
    if ((rc = pki_ca_load(&s->ca, &in, now)) != 0)
        goto done;
    /* the bundle: old root first during a rotation */
    if (plugged) {
        const struct pki_bundle *roots = pki_ca_roots_get(s->ca);
        for (size_t i = 0; rc == 0 && i < pki_bundle_count(roots); i++)
            rc = pki_bundle_add_unique(bundle, pki_bundle_get(roots, i));
    } else {
        if (s->phase >= OP_ROOT_REISSUE && pem[5] != NULL)
            rc = bundle_add_pem(bundle, pem[5], len[5], "previous-ca-cert.pem");
        rc = rc ? rc : bundle_add_pem(bundle, pem[0], len[0], "ca-cert.pem");
        if (rc == 0 && s->phase == OP_ROOT_PUBLISH) {
            if (pem[4] == NULL)
                rc = errmsg_set(RC_INVAL, "phase publish without "
                                          "next-ca-cert.pem");
            else
                rc = bundle_add_pem(bundle, pem[4], len[4], "next-ca-cert.pem");
        }
    }
    if (rc != 0 ||
        (rc = pki_bundle_encode(&s->bundle, &s->bundle_len, bundle)) != 0)
        goto done;
    /* the signing CA's roots, to tell "issued by the current CA" */
    {
        struct pki_bundle *sr = NULL;
        const struct pki_bundle *roots = pki_ca_roots_get(s->ca);
        rc = pki_bundle_new(&sr);
        for (size_t i = 0; rc == 0 && i < pki_bundle_count(roots); i++)
            rc = pki_bundle_add(sr, pki_bundle_get(roots, i));
        if (rc == 0)
            rc =
                pki_bundle_encode(&s->signing_roots, &s->signing_roots_len, sr);
        if (rc == 0 && pki_bundle_count(roots) > 0) {
            s->root_nb = pki_cert_not_before(pki_bundle_get(roots, 0));
            s->root_na = pki_cert_not_after(pki_bundle_get(roots, 0));
        }
        pki_bundle_free(sr);
    }
done:
    for (int i = 0; i < 6; i++)
        pki_secret_free(pem[i], len[i]);
    pki_bundle_free(bundle);
    if (rc != 0) {
        op_ca_snap_unref(s);
        return rc;
    }
    *out = s;
    return 0;
}

int
op_ca_root_new(char **cert_pem, size_t *cert_len, char **key_pem,
               size_t *key_len, int key_type, int64_t ttl, const char *org,
               time_t now)
{
    struct pki_key *key = NULL;
    struct pki_cert *cert = NULL;
    int rc;

    *cert_pem = NULL;
    *key_pem = NULL;
    if ((rc = pki_key_generate(&key, key_type)) != 0 ||
        (rc = pki_ca_self_signed(&cert, key, "mizzen root CA", org, ttl,
                                 now)) != 0 ||
        (rc = pki_cert_encode(cert_pem, cert_len, cert)) != 0 ||
        (rc = pki_key_encode(key_pem, key_len, key)) != 0) {
        mem_free(*cert_pem);
        *cert_pem = NULL;
    }
    pki_cert_free(cert);
    pki_key_free(key);
    return rc;
}

int
op_ca_secret_build(json_t **out, const char *ns, const char *cert_pem,
                   size_t cert_len, const char *key_pem, size_t key_len)
{
    json_t *s; /* owned */
    int rc;

    *out = NULL;
    s = json_pack("{s:s,s:s,s:{s:s,s:s},s:s}", "apiVersion", "v1", "kind",
                  "Secret", "metadata", "name", OP_CA_SECRET, "namespace", ns,
                  "type", OP_CA_TYPE);
    if (s == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    if ((rc = op_data_set(s, "ca-cert.pem", cert_pem, cert_len)) != 0 ||
        (rc = op_data_set(s, "ca-key.pem", key_pem, key_len)) != 0) {
        json_decref(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* move: data[to] = data[from] (a JSON string copy); absent from: error. */
static int
move_data(json_t *data, const char *to, const char *from)
{
    json_t *v = json_object_get(data, from); /* borrowed */

    if (!json_is_string(v))
        return errmsg_set(RC_INVAL, "%s: missing", from);
    if (json_object_set_new(data, to, json_string(json_string_value(v))) != 0)
        return errmsg_set(RC_NOMEM, "out of memory");
    return 0;
}

int
op_ca_secret_step(json_t **out, const json_t *secret, int step,
                  const char *new_cert, size_t new_cert_len,
                  const char *new_key, size_t new_key_len, time_t now)
{
    json_t *s = json_deep_copy(secret); /* owned */
    json_t *md, *ann, *data;            /* borrowed */
    char ts[32];
    int rc = 0;

    *out = NULL;
    if (s == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    md = jutil_obj_ensure(s, "metadata");
    ann = md ? jutil_obj_ensure(md, "annotations") : NULL;
    data = jutil_obj_ensure(s, "data");
    if (ann == NULL || data == NULL) {
        json_decref(s);
        return errmsg_set(RC_NOMEM, "out of memory");
    }
    json_object_del(md, "managedFields");
    switch (step) {
    case OP_ROOT_START:
        rc = op_data_set(s, "next-ca-cert.pem", new_cert, new_cert_len);
        rc = rc ? rc : op_data_set(s, "next-ca-key.pem", new_key, new_key_len);
        rc = rc ? rc : jutil_set_str(ann, OP_PHASE_ANNOTATION, "publish");
        json_object_del(ann, OP_ROTATE_ANNOTATION);
        json_object_del(ann, OP_SINCE_ANNOTATION);
        json_object_del(data, "previous-ca-cert.pem");
        break;
    case OP_ROOT_SWITCH:
        rc = move_data(data, "previous-ca-cert.pem", "ca-cert.pem");
        rc = rc ? rc : move_data(data, "ca-cert.pem", "next-ca-cert.pem");
        rc = rc ? rc : move_data(data, "ca-key.pem", "next-ca-key.pem");
        rc = rc ? rc : jutil_set_str(ann, OP_PHASE_ANNOTATION, "reissue");
        json_object_del(data, "next-ca-cert.pem");
        json_object_del(data, "next-ca-key.pem");
        break;
    case OP_ROOT_SETTLE:
        op_time_format(ts, now);
        rc = jutil_set_str(ann, OP_PHASE_ANNOTATION, "overlap");
        rc = rc ? rc : jutil_set_str(ann, OP_SINCE_ANNOTATION, ts);
        break;
    case OP_ROOT_FINISH:
        json_object_del(data, "previous-ca-cert.pem");
        json_object_del(ann, OP_PHASE_ANNOTATION);
        json_object_del(ann, OP_SINCE_ANNOTATION);
        break;
    default:
        rc = errmsg_set(RC_INVAL, "unknown rotation step %d", step);
    }
    if (rc != 0) {
        json_decref(s);
        return rc;
    }
    *out = s;
    return 0;
}

int
op_ca_new(struct op_ca **out)
{
    struct op_ca *ca = mem_calloc(1, sizeof(*ca));

    *out = NULL;
    if (ca == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    pthread_mutex_init(&ca->mu, NULL);
    *out = ca;
    return 0;
}

void
op_ca_free(struct op_ca *ca)
{
    if (ca == NULL)
        return;
    op_ca_snap_unref(ca->snap);
    json_decref(ca->doc);
    pthread_mutex_destroy(&ca->mu);
    mem_free(ca);
}

struct op_ca_snap *
op_ca_snap_get(struct op_ca *ca)
{
    struct op_ca_snap *s;

    pthread_mutex_lock(&ca->mu);
    s = ca->snap;
    if (s != NULL)
        op_ca_snap_ref(s);
    pthread_mutex_unlock(&ca->mu);
    return s;
}

/* install: make doc (taken) and a snapshot built from it current. */
static int
install(struct op_ctx *c, json_t *doc, int plugged)
{
    struct op_ca *ca = c->ca;
    struct op_ca_snap *s = NULL, *old;
    const char *name = plugged ? OP_CACERTS : OP_CA_SECRET;
    const char *rv = jutil_path_str(doc, "metadata.resourceVersion");
    int rc = op_ca_snap_from_secret(&s, doc, plugged, clock_now());

    if (rc != 0) {
        if (rv == NULL || strcmp(ca->bad_rv, rv) != 0) {
            log_kv(LOG_ERROR, "ca", "CA Secret unusable; not issuing from it",
                   "ns", c->opts->ns, "name", name, "error", errmsg_get(),
                   NULL);
            snprintf(ca->bad_rv, sizeof(ca->bad_rv), "%s", rv ? rv : "");
        }
        json_decref(doc);
        return rc;
    }
    pthread_mutex_lock(&ca->mu);
    old = ca->snap;
    s->gen = ++ca->gen;
    ca->snap = s;
    pthread_mutex_unlock(&ca->mu);
    if (old == NULL || strcmp(old->bundle, s->bundle) != 0 ||
        old->phase != s->phase || old->plugged != s->plugged)
        log_kv(LOG_INFO, "ca", "CA loaded", "ns", c->opts->ns, "name", name,
               "phase", op_root_phase_name(s->phase), "roots",
               s->phase == OP_ROOT_IDLE || plugged ? "1" : "2", NULL);
    json_decref(ca->doc);
    ca->doc = plugged ? NULL : doc;
    if (plugged)
        json_decref(doc);
    op_ca_snap_unref(old);
    op_enqueue_all(c);
    return 0;
}

/* create_root: the leader creates istio-ca-secret (again from memory when
 * it was deleted, so the trust of every workload survives). */
static int
create_root(struct op_ctx *c, int64_t *requeue_ms)
{
    const struct op_opts *o = c->opts;
    json_t *obj = NULL, *got = NULL;
    char *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;
    const char *action = "issued";
    int rc;

    if (!op_may_write(c)) {
        *requeue_ms = 2000;
        return 0;
    }
    if (c->ca->doc != NULL) {
        obj = json_deep_copy(c->ca->doc);
        json_t *md = obj ? json_object_get(obj, "metadata") : NULL;
        if (md == NULL) {
            json_decref(obj);
            return errmsg_set(RC_NOMEM, "out of memory");
        }
        json_object_del(md, "resourceVersion");
        json_object_del(md, "uid");
        json_object_del(md, "creationTimestamp");
        json_object_del(md, "managedFields");
        action = "repaired";
    } else {
        rc = op_ca_root_new(&cert, &cl, &key, &kl, o->key_type, o->root_ttl,
                            o->trust_domain, clock_now());
        if (rc == 0)
            rc = op_ca_secret_build(&obj, o->ns, cert, cl, key, kl);
        mem_free(cert);
        pki_secret_free(key, kl);
        if (rc != 0)
            return rc;
    }
    if (!op_may_write(c)) {
        json_decref(obj);
        *requeue_ms = 2000;
        return 0;
    }
    rc = kube_create(c->wc, &KUBE_SECRETS, o->ns, obj, &got);
    json_decref(obj);
    atomic_fetch_add(&c->writes, 1);
    if (rc == RC_CONFLICT) { /* someone made it: read it next time */
        atomic_fetch_add(&c->conflicts, 1);
        *requeue_ms = 300;
        return 0;
    }
    if (rc != 0)
        return errmsg_prefix(rc, "create %s", OP_CA_SECRET);
    log_kv(LOG_INFO, "ca", "root CA Secret written", "ns", o->ns, "name",
           OP_CA_SECRET, "action", action, "key",
           pki_key_type_name(o->key_type), NULL);
    return install(c, got, 0);
}

/* rotate: one step of the root rotation state machine (leader only). */
static int
rotate(struct op_ctx *c, struct op_ca_snap *s, int64_t *requeue_ms)
{
    const struct op_opts *o = c->opts;
    struct op_root_policy pol = {o->root_grace_ratio, o->root_grace,
                                 o->root_overlap};
    struct op_root_view v = {0};
    time_t now = clock_now(), next = 0;
    json_t *upd = NULL, *got = NULL;
    char *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;
    int step, rc;

    v.phase = s->phase;
    v.requested = s->requested;
    v.root_nb = s->root_nb;
    v.root_na = s->root_na;
    v.overlap_since = s->overlap_since;
    if (s->phase == OP_ROOT_PUBLISH)
        v.published = op_bundle_all_published(c, s->bundle) &&
                      op_wl_all_published(c, s->bundle) &&
                      op_wh_published(c, s->bundle);
    if (s->phase >= OP_ROOT_REISSUE)
        v.reissued = op_wl_all_reissued(c, s->signing_roots) &&
                     op_wh_reissued(c, s->signing_roots);
    step = op_root_decide(&v, &pol, now, &next);
    if (step == OP_ROOT_WAIT) {
        if (s->phase == OP_ROOT_PUBLISH || s->phase == OP_ROOT_REISSUE)
            *requeue_ms = 500; /* the cache is polled while rotating */
        else if (next != 0)
            *requeue_ms = op_delay_ms(next) + 10;
        return 0;
    }
    if (step == OP_ROOT_START &&
        (rc = op_ca_root_new(&cert, &cl, &key, &kl, o->key_type, o->root_ttl,
                             o->trust_domain, now)) != 0)
        return rc;
    rc = op_ca_secret_step(&upd, c->ca->doc, step, cert, cl, key, kl, now);
    mem_free(cert);
    pki_secret_free(key, kl);
    if (rc != 0)
        return rc;
    if (!op_may_write(c)) {
        json_decref(upd);
        return 0;
    }
    rc =
        kube_update(c->wc, &KUBE_SECRETS, o->ns, OP_CA_SECRET, NULL, upd, &got);
    json_decref(upd);
    atomic_fetch_add(&c->writes, 1);
    if (rc != 0) {
        if (rc == RC_CONFLICT)
            atomic_fetch_add(&c->conflicts, 1);
        return errmsg_prefix(rc, "update %s", OP_CA_SECRET);
    }
    {
        static const char *const STEP[] = {"wait", "started", "switched",
                                           "settled", "finished"};
        log_kv(LOG_INFO, "ca", "root rotation", "ns", o->ns, "name",
               OP_CA_SECRET, "action", "rotated", "step", STEP[step], "reason",
               step == OP_ROOT_START ? (s->requested ? "requested by annotation"
                                                     : "root nears expiry")
                                     : "",
               NULL);
    }
    *requeue_ms = 100;
    return install(c, got, 0);
}

int
op_ca_reconcile(struct op_ctx *c, int64_t *requeue_ms)
{
    const char *ns = c->opts->ns;
    struct inf_obj *o = NULL;
    struct op_ca_snap *s;
    json_t *doc = NULL;
    int plugged = 0, rc = 0;

    if (inf_get(c->cp_inf, ns, OP_CACERTS, &o) == 0)
        plugged = 1;
    else if (inf_get(c->cp_inf, ns, OP_CA_SECRET, &o) != 0)
        return create_root(c, requeue_ms);
    s = op_ca_snap_get(c->ca);
    if (s == NULL || s->plugged != plugged ||
        strcmp(s->source_rv, inf_obj_rv(o)) != 0) {
        if (strcmp(c->ca->bad_rv, inf_obj_rv(o)) == 0) {
            rc = 0; /* known bad version: wait for a change */
            goto done;
        }
        rc = kube_get(c->wc, &KUBE_SECRETS, ns, inf_obj_name(o), &doc);
        if (rc == RC_NOTFOUND) { /* the cache lags; events will follow */
            rc = 0;
            *requeue_ms = 500;
            goto done;
        }
        if (rc != 0)
            goto done;
        if ((rc = install(c, doc, plugged)) != 0) {
            rc = 0; /* logged; retried when the Secret changes */
            goto done;
        }
        op_ca_snap_unref(s);
        s = op_ca_snap_get(c->ca);
    }
    if (!plugged && s != NULL && c->ca->doc != NULL && op_may_write(c))
        rc = rotate(c, s, requeue_ms);
    else if (!plugged && s != NULL && s->phase != OP_ROOT_IDLE)
        *requeue_ms = 2000; /* a standby keeps watching the rotation */
done:
    op_ca_snap_unref(s);
    inf_obj_unref(o);
    return rc;
}
