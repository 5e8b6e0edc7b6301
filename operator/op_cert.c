/* op_cert.c: certificate Secrets: cache projection, decision input,
 * issuing, and the shared reconcile (op_cert.h). */
#include "operator/op_cert.h"

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/errmsg.h"
#include "lib/informer.h"
#include "lib/jpatch.h"
#include "lib/jutil.h"
#include "lib/kubeclient.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"
#include "operator/op_ca.h"
#include "operator/op_decide.h"
#include "operator/op_run.h"
#include "operator/op_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct op_cert_keys OP_WL_KEYS = {"cert-chain.pem", "key.pem",
                                        "root-cert.pem"};
const struct op_cert_keys OP_TLS_KEYS = {"tls.crt", "tls.key", "ca.crt"};

const char *const OP_SECRET_PATHS[] = {"type", "data", "metadata.annotations",
                                       "metadata.ownerReferences", NULL};

/* join: "a,b,c" of v into buf (capped). */
static int
join(struct buf *b, char **v)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && v != NULL && v[i] != NULL; i++)
        rc = buf_addf(b, "%s%s", i ? "," : "", v[i]);
    return rc;
}

/* check: the verdict on a Secret's content; fills the fields of a healthy
 * cert into blob. Returns the problem (static) or NULL; *rc_out gets an
 * allocation failure. */
static const char *
check(const json_t *obj, const struct op_cert_keys *k, struct buf *blob,
      int *rc_out)
{
    char *chain = NULL, *key = NULL, **uris = NULL, **dns = NULL;
    size_t chain_len = 0, key_len = 0;
    struct pki_bundle *b = NULL;
    struct pki_key *pk = NULL;
    const struct pki_cert *leaf;
    const char *problem = NULL;
    struct buf tmp;
    char num[32];
    int rc;

    buf_init(&tmp, 1 << 16);
    rc = op_data_get(&chain, &chain_len, obj, k->chain, PKI_PEM_MAX);
    if (rc != 0) {
        problem = rc == RC_NOTFOUND ? "certificate missing"
                                    : "certificate not base64";
        goto done;
    }
    if (pki_bundle_decode(&b, chain, chain_len) != 0) {
        problem = "certificate unreadable";
        goto done;
    }
    rc = op_data_get(&key, &key_len, obj, k->key, PKI_PEM_MAX);
    if (rc != 0) {
        problem = rc == RC_NOTFOUND ? "key missing" : "key not base64";
        goto done;
    }
    if (pki_key_decode(&pk, key, key_len) != 0) {
        problem = "key unreadable";
        goto done;
    }
    leaf = pki_bundle_get(b, 0);
    if (!pki_cert_key_matches(leaf, pk)) {
        problem = "key does not match certificate";
        goto done;
    }
    if (pki_cert_uri_sans(&uris, NULL, leaf) != 0 ||
        pki_cert_dns_sans(&dns, NULL, leaf) != 0) {
        problem = "SANs unreadable";
        goto done;
    }
    rc = 0;
    snprintf(num, sizeof(num), "%" PRId64, (int64_t)pki_cert_not_before(leaf));
    rc = rc ? rc : inf_blob_field(blob, "nb", num);
    snprintf(num, sizeof(num), "%" PRId64, (int64_t)pki_cert_not_after(leaf));
    rc = rc ? rc : inf_blob_field(blob, "na", num);
    rc = rc ? rc : inf_blob_field(blob, "uri", uris[0] ? uris[0] : "");
    rc = rc ? rc : join(&tmp, dns);
    rc = rc ? rc : inf_blob_field(blob, "dns", tmp.ptr ? tmp.ptr : "");
    rc = rc ? rc : inf_blob_field(blob, "chain", chain);
done:
    if (rc == RC_NOMEM || rc == RC_LIMIT)
        *rc_out = rc;
    buf_cleanup(&tmp);
    pki_strv_free(uris);
    pki_strv_free(dns);
    pki_key_free(pk);
    pki_bundle_free(b);
    pki_secret_free(key, key_len);
    mem_free(chain);
    return problem;
}

int
op_secret_project(void *ud, const json_t *obj, struct buf *blob)
{
    const char *type = jutil_str(obj, "type");
    const char *name = jutil_path_str(obj, "metadata.name");
    const json_t *refs = jutil_path(obj, "metadata.ownerReferences");
    const struct op_cert_keys *k;
    const char *problem, *sa, *owner = "";
    char *root = NULL;
    size_t root_len = 0, i;
    json_t *ref; /* borrowed */
    int rc = 0;

    if (type != NULL && strcmp(type, OP_WL_TYPE) == 0)
        k = &OP_WL_KEYS;
    else if (ud != NULL && name != NULL && strcmp(name, ud) == 0)
        k = &OP_TLS_KEYS;
    else
        return 0; /* not a certificate Secret of ours: keep nothing */
    sa = jutil_str(jutil_path(obj, "metadata.annotations"), OP_SA_ANNOTATION);
    json_array_foreach(refs, i, ref)
    {
        const char *kind = jutil_str(ref, "kind");
        if (kind != NULL && strcmp(kind, "ServiceAccount") == 0 &&
            jutil_str(ref, "uid") != NULL) {
            owner = jutil_str(ref, "uid");
            break;
        }
    }
    rc = inf_blob_field(blob, "type", type ? type : "");
    rc = rc ? rc : inf_blob_field(blob, "sa", sa ? sa : "");
    rc = rc ? rc : inf_blob_field(blob, "owner", owner);
    if (rc != 0)
        return rc;
    mem_oom_reset();
    problem = check(obj, k, blob, &rc);
    if (rc == 0 && problem != NULL && mem_oom_seen())
        rc = RC_NOMEM; /* not the Secret's fault: never judge it under OOM */
    if (rc != 0)
        return rc;
    if ((rc = inf_blob_field(blob, "st", problem ? problem : "")) != 0)
        return rc;
    rc = op_data_get(&root, &root_len, obj, k->root, PKI_PEM_MAX);
    if (rc == 0)
        rc = inf_blob_field(blob, "root", root);
    else if (rc != RC_NOMEM)
        rc = 0; /* absent or unreadable: "root" missing = differs */
    mem_free(root);
    return rc;
}

static time_t
field_time(const struct inf_obj *o, const char *name)
{
    const char *v = inf_obj_field(o, name);

    return v ? (time_t)strtoll(v, NULL, 10) : 0;
}

static int
dns_equal(const char *have, const char *const *want, size_t n)
{
    size_t off = 0;

    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(want[i]);
        if (i > 0 && have[off++] != ',')
            return 0;
        if (strncmp(have + off, want[i], l) != 0)
            return 0;
        off += l;
    }
    return have[off] == 0;
}

void
op_cert_view_build(struct op_cert_view *v, const struct inf_obj *o,
                   const struct op_ca_snap *s, const struct op_cert_want *w,
                   time_t now)
{
    const char *st, *chain, *root, *f;

    memset(v, 0, sizeof(*v));
    if (o == NULL)
        return;
    v->present = 1;
    st = inf_obj_field(o, "st");
    chain = inf_obj_field(o, "chain");
    if (st == NULL || *st != 0 || chain == NULL) {
        v->problem = st && *st ? st : "unreadable";
        return;
    }
    v->not_before = field_time(o, "nb");
    v->not_after = field_time(o, "na");
    f = inf_obj_field(o, "uri");
    v->san_ok =
        (w->uri ? f != NULL && strcmp(f, w->uri) == 0 : f != NULL && *f == 0) &&
        dns_equal(inf_obj_field(o, "dns") ? inf_obj_field(o, "dns") : "",
                  w->dns, w->ndns);
    v->chain_ok = pki_verify(chain, strlen(chain), s->bundle, s->bundle_len,
                             now, NULL) == 0;
    v->current_ca = pki_verify(chain, strlen(chain), s->signing_roots,
                               s->signing_roots_len, now, NULL) == 0;
    root = inf_obj_field(o, "root");
    v->root_ok = root != NULL && strcmp(root, s->bundle) == 0;
    v->meta_ok = 1;
    if (w->sa != NULL) {
        f = inf_obj_field(o, "sa");
        v->meta_ok = f != NULL && strcmp(f, w->sa) == 0;
        f = inf_obj_field(o, "owner");
        if (w->sa_uid != NULL && (f == NULL || strcmp(f, w->sa_uid) != 0))
            v->meta_ok = 0;
    }
}

int
op_cert_obj_published(const struct inf_obj *o, const char *bundle)
{
    const char *root = o ? inf_obj_field(o, "root") : NULL;

    return root != NULL && strcmp(root, bundle) == 0;
}

int
op_cert_obj_reissued(const struct inf_obj *o, const char *roots)
{
    const char *chain = o ? inf_obj_field(o, "chain") : NULL;
    const char *st = o ? inf_obj_field(o, "st") : NULL;

    if (chain == NULL || st == NULL || *st != 0)
        return 0;
    return pki_verify(chain, strlen(chain), roots, strlen(roots), clock_now(),
                      NULL) == 0;
}

/* meta: metadata of the Secret to write. */
static json_t *
meta(const struct inf_obj *cur, const struct op_cert_want *w)
{
    json_t *md = json_pack("{s:s,s:s}", "name", w->name, "namespace", w->ns);
    json_t *labels = NULL; /* owned */
    const char *k, *v;
    int fail = md == NULL;

    if (!fail && cur != NULL) {
        fail |= json_object_set_new(md, "resourceVersion",
                                    json_string(inf_obj_rv(cur))) != 0;
        if (inf_obj_nlabels(cur) > 0) {
            labels = json_object();
            for (int i = 0; labels && inf_obj_label_at(cur, i, &k, &v) == 0;
                 i++)
                fail |= json_object_set_new(labels, k, json_string(v)) != 0;
            fail |= labels == NULL ||
                    json_object_set_new(md, "labels", labels) != 0;
        }
    }
    if (!fail && w->sa != NULL) {
        fail |= json_object_set_new(
                    md, "annotations",
                    json_pack("{s:s}", OP_SA_ANNOTATION, w->sa)) != 0;
        if (w->sa_uid != NULL)
            fail |= json_object_set_new(
                        md, "ownerReferences",
                        json_pack("[{s:s,s:s,s:s,s:s,s:b}]", "apiVersion", "v1",
                                  "kind", "ServiceAccount", "name", w->sa,
                                  "uid", w->sa_uid, "controller", 1)) != 0;
    }
    if (fail) {
        json_decref(md);
        return NULL;
    }
    return md;
}

int
op_cert_build(json_t **out, char **serial_out, time_t *na_out,
              const struct inf_obj *cur, const struct op_ca_snap *s,
              const struct op_cert_want *w, int key_type, int64_t ttl,
              time_t now)
{
    struct pki_key *key = NULL;
    struct pki_cert *cert = NULL;
    struct pki_issue_req req = {0};
    char *key_pem = NULL, *chain = NULL;
    size_t key_len = 0, chain_len = 0;
    const char *type = w->type;
    json_t *sec = NULL, *md; /* owned */
    int rc;

    *out = NULL;
    *serial_out = NULL;
    if (cur != NULL && inf_obj_field(cur, "type") != NULL &&
        *inf_obj_field(cur, "type") != 0)
        type = inf_obj_field(cur, "type"); /* a Secret's type is immutable */
    req.cn = w->cn;
    req.uris = w->uri ? &w->uri : NULL;
    req.n_uris = w->uri ? 1 : 0;
    req.dns = w->dns;
    req.n_dns = w->ndns;
    req.ttl = ttl;
    if ((rc = pki_key_generate(&key, key_type)) != 0)
        goto done;
    req.key = key;
    if ((rc = pki_issue(&cert, &req, s->ca, now)) != 0 ||
        (rc = pki_ca_chain_encode(&chain, &chain_len, cert, s->ca)) != 0 ||
        (rc = pki_key_encode(&key_pem, &key_len, key)) != 0 ||
        (rc = pki_cert_serial(serial_out, cert)) != 0)
        goto done;
    md = meta(cur, w);
    sec = md ? json_pack("{s:s,s:s,s:o,s:s}", "apiVersion", "v1", "kind",
                         "Secret", "metadata", md, "type", type)
             : NULL;
    if (sec == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = op_data_set(sec, w->keys->chain, chain, chain_len)) != 0 ||
        (rc = op_data_set(sec, w->keys->key, key_pem, key_len)) != 0 ||
        (rc = op_data_set(sec, w->keys->root, s->bundle, s->bundle_len)) != 0)
        goto done;
    *na_out = pki_cert_not_after(cert);
    *out = sec;
    sec = NULL;
done:
    if (rc != 0) {
        mem_free(*serial_out);
        *serial_out = NULL;
    }
    json_decref(sec);
    pki_secret_free(key_pem, key_len);
    mem_free(chain);
    pki_cert_free(cert);
    pki_key_free(key);
    return rc;
}

/* patch_root: keep key and cert; replace the bundle, guarded by the
 * resourceVersion the decision was made on (JSON patch test op). */
static int
patch_root(struct op_ctx *c, const struct inf_obj *o,
           const struct op_cert_want *w, const struct op_ca_snap *s)
{
    json_t *p = json_array(), *v = NULL; /* owned */
    struct buf path;
    char *b64 = NULL;
    int rc;

    buf_init(&path, 4096);
    if (p == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    rc = buf_addstr(&path, "/data/");
    rc = rc ? rc : jpatch_escape(&path, w->keys->root);
    rc = rc ? rc : op_b64_encode(&b64, s->bundle, s->bundle_len);
    if (rc == 0 && (v = json_string(inf_obj_rv(o))) == NULL)
        rc = errmsg_set(RC_NOMEM, "out of memory");
    rc = rc ? rc : jpatch_op(p, "test", "/metadata/resourceVersion", v);
    v = NULL;
    if (rc == 0 && (v = json_string(b64)) == NULL)
        rc = errmsg_set(RC_NOMEM, "out of memory");
    rc = rc ? rc : jpatch_op(p, "add", path.ptr, v);
    if (rc == 0 && !op_may_write(c))
        rc = RC_AGAIN;
    else if (rc == 0)
        rc = kube_patch(c->wc, &KUBE_SECRETS, w->ns, w->name, NULL,
                        KUBE_PATCH_JSON, p, NULL, 0, NULL);
    mem_free(b64);
    buf_cleanup(&path);
    json_decref(p);
    return rc;
}

/* owner_alive: before creating a workload Secret, confirm with the API
 * server that its ServiceAccount still exists with that uid. The Secret
 * and ServiceAccount informers are separate watches: when an SA is deleted,
 * the garbage collector's deletion of its Secret may reach us before the
 * SA's own deletion, and re-creating the Secret then would leave an orphan
 * (the real garbage collector removes it later; the emulator's does not).
 * One GET per create (creates are rare); on any doubt, skip: the SA's
 * event brings the item back. */
static int
owner_alive(struct op_ctx *c, const struct op_cert_want *w)
{
    json_t *sa = NULL;
    const char *uid;
    int alive;

    if (kube_get(c->wc, &KUBE_SERVICEACCOUNTS, w->ns, w->sa, &sa) != 0) {
        log_kv(LOG_DEBUG, w->comp, "owner not confirmed; not creating", "ns",
               w->ns, "name", w->name, "error", errmsg_get(), NULL);
        return 0;
    }
    uid = jutil_path_str(sa, "metadata.uid");
    alive = uid != NULL && strcmp(uid, w->sa_uid) == 0 &&
            jutil_path(sa, "metadata.deletionTimestamp") == NULL;
    json_decref(sa);
    return alive;
}

int
op_cert_reconcile(struct op_ctx *c, const struct inf_obj *o,
                  const struct op_cert_want *w, int64_t *requeue_ms)
{
    const struct op_opts *op = c->opts;
    struct op_cert_policy pol = {op->grace_ratio, op->min_grace, op->window};
    struct op_cert_view v;
    struct op_cert_decision d;
    struct op_ca_snap *s = op_ca_snap_get(c->ca);
    time_t now = clock_now(), na = 0;
    json_t *sec = NULL;
    char *serial = NULL, ts[32], until[32];
    int rc = 0;

    if (s == NULL) /* no CA yet: the CA controller enqueues all later */
        return 0;
    op_cert_view_build(&v, o, s, w, now);
    op_cert_decide(&d, &v, &pol, now);
    if (d.action == OP_CERT_NONE) {
        if (strcmp(d.verb, "deferred") == 0)
            atomic_fetch_add(&c->deferred, 1);
        if (d.next != 0)
            *requeue_ms = op_delay_ms(d.next) + 10;
        op_time_format(until, d.next);
        log_kv(strcmp(d.verb, "deferred") == 0 ? LOG_INFO : LOG_DEBUG, w->comp,
               "reconciled", "ns", w->ns, "name", w->name, "action", d.verb,
               "reason", d.why, "next", until, NULL);
        goto done;
    }
    if (!op_may_write(c)) /* a standby only keeps its cache warm */
        goto done;
    if (d.action == OP_CERT_UPDATE_ROOT) {
        rc = patch_root(c, o, w, s);
        if (rc == RC_AGAIN) {
            rc = 0;
            goto done;
        }
    } else {
        if (o == NULL && w->sa_uid != NULL && !owner_alive(c, w))
            goto done;
        rc = op_cert_build(&sec, &serial, &na, o, s, w, op->key_type,
                           op->workload_ttl, now);
        if (rc != 0)
            goto done;
        if (!op_may_write(c))
            goto done;
        if (o != NULL)
            rc = kube_update(c->wc, &KUBE_SECRETS, w->ns, w->name, NULL, sec,
                             NULL);
        else
            rc = kube_create(c->wc, &KUBE_SECRETS, w->ns, sec, NULL);
    }
    atomic_fetch_add(&c->writes, 1);
    if (rc == RC_CONFLICT || rc == RC_INVAL) {
        /* stale cache (409, or the patch's test op failed: 422): the
         * informer brings the new version; retry from it */
        atomic_fetch_add(&c->conflicts, 1);
        /* AlreadyExists for a Secret the cache does not show: usually the
         * cache lags; if it lasts, a Secret of another type has the name
         * (the workload informer selects by type) and needs a human */
        log_kv(o == NULL && rc == RC_CONFLICT ? LOG_WARN : LOG_DEBUG, w->comp,
               o == NULL && rc == RC_CONFLICT
                   ? "Secret exists but is not in the cache (another type?); "
                     "will retry"
                   : "write conflict; will re-read",
               "ns", w->ns, "name", w->name, NULL);
        goto done;
    }
    if (rc != 0) {
        errmsg_prefix(rc, "%s %s/%s", o ? "update" : "create", w->ns, w->name);
        goto done;
    }
    if (na != 0)
        op_time_format(ts, na);
    if (strcmp(d.verb, "issued") == 0)
        atomic_fetch_add(&c->issued, 1);
    else if (strcmp(d.verb, "renewed") == 0)
        atomic_fetch_add(&c->renewed, 1);
    else if (strcmp(d.verb, "repaired") == 0)
        atomic_fetch_add(&c->repaired, 1);
    else
        atomic_fetch_add(&c->rotated, 1);
    log_kv(LOG_INFO, w->comp, "reconciled", "ns", w->ns, "name", w->name,
           "action", d.verb, "reason", d.why, "serial", serial ? serial : "",
           "not_after", na ? ts : "", NULL);
done:
    if (rc == RC_CONFLICT || rc == RC_INVAL)
        rc = RC_CONFLICT; /* rate-limited retry */
    json_decref(sec);
    mem_free(serial);
    op_ca_snap_unref(s);
    return rc;
}
