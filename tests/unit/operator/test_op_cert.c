/* test_op_cert.c: certificate Secrets: the Secret the operator writes, the
 * slim cache's projection of it (no private key kept), and the decision
 * input built from the cache for healthy, tampered, foreign and outdated
 * Secrets. */
#include "tests/unit/harness.h"

#include "lib/buf.h"
#include "lib/informer.h"
#include "lib/jutil.h"
#include "lib/kubeclient.h"
#include "lib/kubewatch.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"
#include "operator/op_ca.h"
#include "operator/op_cert.h"
#include "operator/op_decide.h"
#include "operator/op_run.h"
#include "operator/op_util.h"

#include <string.h>

#define NOW ((time_t)1767225600)
#define URI "spiffe://cluster.local/ns/app/sa/alpha"

static struct op_ca_snap *
snap_new(void)
{
    char *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;
    json_t *sec = NULL;
    struct op_ca_snap *s = NULL;

    if (op_ca_root_new(&cert, &cl, &key, &kl, PKI_EC_P256, 86400 * 3650,
                       "cluster.local", NOW - 86400) == 0 &&
        op_ca_secret_build(&sec, "istio-system", cert, cl, key, kl) == 0)
        op_ca_snap_from_secret(&s, sec, 0, NOW);
    json_decref(sec);
    mem_free(cert);
    pki_secret_free(key, kl);
    return s;
}

static struct op_cert_want
want_wl(const char **uri)
{
    struct op_cert_want w = {0};

    w.ns = "app";
    w.name = "istio.alpha";
    w.type = OP_WL_TYPE;
    w.keys = &OP_WL_KEYS;
    w.uri = *uri;
    w.sa = "alpha";
    w.sa_uid = "uid-alpha";
    w.comp = "test";
    return w;
}

static struct informer *
store(const char *wh_name)
{
    struct informer *inf = NULL;
    struct inf_opts io = {0};

    io.res = &KUBE_SECRETS;
    io.paths = OP_SECRET_PATHS;
    io.project = op_secret_project;
    io.project_ud = (void *)wh_name;
    inf_new(&inf, &io);
    return inf;
}

/* put: store the Secret (with a resourceVersion) and return the cached
 * slim object. */
static struct inf_obj *
put(struct informer *inf, json_t *sec, const char *rv)
{
    struct inf_obj *o = NULL;
    json_t *md = json_object_get(sec, "metadata");

    json_object_set_new(md, "resourceVersion", json_string(rv));
    if (inf_apply(inf, KUBE_WATCH_ADDED, sec) != 0)
        return NULL;
    inf_get(inf, jutil_str(md, "namespace"), jutil_str(md, "name"), &o);
    return o;
}

TEST(cert_secret_written)
{
    struct op_ca_snap *s = snap_new();
    const char *uri = URI;
    struct op_cert_want w = want_wl(&uri);
    json_t *sec = NULL;
    char *serial = NULL, *chain = NULL, *root = NULL;
    size_t n = 0;
    time_t na = 0;

    REQUIRE(s != NULL);
    REQUIRE(op_cert_build(&sec, &serial, &na, NULL, s, &w, PKI_EC_P256,
                          2160 * 3600, NOW) == 0);
    CHECK_STR(jutil_str(sec, "type"), "istio.io/key-and-cert");
    CHECK_STR(
        jutil_str(jutil_path(sec, "metadata.annotations"), OP_SA_ANNOTATION),
        "alpha");
    json_t *ref =
        json_array_get(jutil_path(sec, "metadata.ownerReferences"), 0);
    CHECK_STR(jutil_str(ref, "kind"), "ServiceAccount");
    CHECK_STR(jutil_str(ref, "uid"), "uid-alpha");
    CHECK(jutil_path(sec, "metadata.resourceVersion") == NULL);
    CHECK_INT(na, NOW + 2160 * 3600);
    CHECK(serial != NULL && strlen(serial) >= 30);
    REQUIRE(op_data_get(&chain, &n, sec, "cert-chain.pem", 1 << 20) == 0);
    REQUIRE(op_data_get(&root, NULL, sec, "root-cert.pem", 1 << 20) == 0);
    CHECK_STR(root, s->bundle);
    CHECK_INT(pki_verify(chain, n, root, strlen(root), NOW, NULL), 0);
    mem_free(chain);
    mem_free(root);
    mem_free(serial);
    json_decref(sec);
    op_ca_snap_unref(s);
}

TEST(cert_cache_keeps_no_key_and_judges)
{
    struct op_ca_snap *s = snap_new(), *other = snap_new();
    const char *uri = URI, *wrong = "spiffe://cluster.local/ns/app/sa/beta";
    struct op_cert_want w = want_wl(&uri);
    struct informer *inf = store(NULL);
    struct op_cert_view v;
    struct op_cert_decision d;
    struct op_cert_policy pol = {0.5, 600, {0}};
    json_t *sec = NULL, *sec2 = NULL;
    struct inf_obj *o;
    char *serial = NULL;
    size_t bl = 0;
    time_t na;

    REQUIRE(s && other && inf);
    REQUIRE(op_cert_build(&sec, &serial, &na, NULL, s, &w, PKI_EC_P256,
                          2160 * 3600, NOW) == 0);
    mem_free(serial);
    REQUIRE((o = put(inf, sec, "1")) != NULL);
    /* no private key in the slim object */
    const char *blob = inf_obj_blob(o, &bl);
    CHECK(memmem(blob, bl, "PRIVATE KEY", 11) == NULL);
    CHECK_STR(inf_obj_field(o, "st"), "");
    op_cert_view_build(&v, o, s, &w, NOW + 60);
    CHECK(v.present && v.problem == NULL && v.san_ok && v.chain_ok &&
          v.current_ca && v.root_ok && v.meta_ok);
    op_cert_decide(&d, &v, &pol, NOW + 60);
    CHECK_INT(d.action, OP_CERT_NONE);
    CHECK_INT(d.next, NOW + 1080 * 3600 - 150); /* nb = NOW - 5 min skew */
    /* wrong identity expected -> SAN mismatch */
    w.uri = wrong;
    op_cert_view_build(&v, o, s, &w, NOW + 60);
    CHECK_INT(v.san_ok, 0);
    w.uri = uri;
    /* another CA: the chain does not verify against its bundle */
    op_cert_view_build(&v, o, other, &w, NOW + 60);
    CHECK_INT(v.chain_ok, 0);
    CHECK_INT(v.current_ca, 0);
    CHECK_INT(v.root_ok, 0);
    /* a new owner incarnation */
    w.sa_uid = "uid-new";
    op_cert_view_build(&v, o, s, &w, NOW + 60);
    CHECK_INT(v.meta_ok, 0);
    w.sa_uid = "uid-alpha";
    inf_obj_unref(o);

    /* swapped key: the key of another cert */
    REQUIRE(op_cert_build(&sec2, &serial, &na, NULL, s, &w, PKI_EC_P256, 3600,
                          NOW) == 0);
    mem_free(serial);
    json_object_set(json_object_get(sec, "data"), "key.pem",
                    json_object_get(json_object_get(sec2, "data"), "key.pem"));
    REQUIRE((o = put(inf, sec, "2")) != NULL);
    op_cert_view_build(&v, o, s, &w, NOW + 60);
    CHECK_STR(v.problem, "key does not match certificate");
    op_cert_decide(&d, &v, &pol, NOW + 60);
    CHECK_STR(d.verb, "repaired");
    inf_obj_unref(o);

    /* garbage certificate */
    op_data_set(sec, "cert-chain.pem", "garbage", 7);
    REQUIRE((o = put(inf, sec, "3")) != NULL);
    op_cert_view_build(&v, o, s, &w, NOW + 60);
    CHECK_STR(v.problem, "certificate unreadable");
    inf_obj_unref(o);

    /* not base64 / missing */
    json_object_set_new(json_object_get(sec, "data"), "cert-chain.pem",
                        json_string("@@@"));
    REQUIRE((o = put(inf, sec, "4")) != NULL);
    op_cert_view_build(&v, o, s, &w, NOW + 60);
    CHECK_STR(v.problem, "certificate not base64");
    inf_obj_unref(o);
    json_object_del(json_object_get(sec, "data"), "cert-chain.pem");
    REQUIRE((o = put(inf, sec, "5")) != NULL);
    op_cert_view_build(&v, o, s, &w, NOW + 60);
    CHECK_STR(v.problem, "certificate missing");
    inf_obj_unref(o);

    op_cert_view_build(&v, NULL, s, &w, NOW);
    CHECK_INT(v.present, 0);

    json_decref(sec);
    json_decref(sec2);
    inf_free(inf);
    op_ca_snap_unref(s);
    op_ca_snap_unref(other);
}

TEST(cert_webhook_form_and_others_ignored)
{
    struct op_ca_snap *s = snap_new();
    struct informer *inf = store("mizzen-webhook-certs");
    const char *dns[] = {"mizzen-webhook.istio-system.svc",
                         "mizzen-webhook.istio-system.svc.cluster.local"};
    struct op_cert_want w = {0};
    struct op_cert_view v;
    json_t *sec = NULL, *other;
    struct inf_obj *o;
    char *serial = NULL;
    time_t na;

    REQUIRE(s && inf);
    w.ns = "istio-system";
    w.name = "mizzen-webhook-certs";
    w.type = "kubernetes.io/tls";
    w.keys = &OP_TLS_KEYS;
    w.dns = dns;
    w.ndns = 2;
    w.cn = dns[0];
    w.comp = "test";
    REQUIRE(op_cert_build(&sec, &serial, &na, NULL, s, &w, PKI_EC_P256, 3600,
                          NOW) == 0);
    mem_free(serial);
    CHECK(jutil_str(json_object_get(sec, "data"), "tls.crt") != NULL);
    CHECK(jutil_str(json_object_get(sec, "data"), "ca.crt") != NULL);
    REQUIRE((o = put(inf, sec, "1")) != NULL);
    op_cert_view_build(&v, o, s, &w, NOW + 1);
    CHECK(v.problem == NULL && v.san_ok && v.chain_ok && v.root_ok);
    w.ndns = 1; /* a SAN list that differs */
    op_cert_view_build(&v, o, s, &w, NOW + 1);
    CHECK_INT(v.san_ok, 0);
    inf_obj_unref(o);
    /* a CA Secret in the same namespace: nothing kept */
    other = json_pack("{s:{s:s,s:s},s:s,s:{s:s}}", "metadata", "name",
                      "istio-ca-secret", "namespace", "istio-system", "type",
                      "istio.io/ca-root", "data", "ca-key.pem", "c2VjcmV0");
    REQUIRE((o = put(inf, other, "2")) != NULL);
    size_t bl = 99;
    inf_obj_blob(o, &bl);
    CHECK_INT(bl, 0);
    inf_obj_unref(o);
    json_decref(other);
    json_decref(sec);
    inf_free(inf);
    op_ca_snap_unref(s);
}

TEST(cert_projection_out_of_memory)
{
    /* under allocation failure the projection fails (the informer then
     * relists) instead of judging a healthy Secret broken */
    struct op_ca_snap *s = snap_new();
    const char *uri = URI;
    struct op_cert_want w = want_wl(&uri);
    json_t *sec = NULL;
    char *serial = NULL;
    time_t na;
    int done = 0;

    REQUIRE(s != NULL);
    REQUIRE(op_cert_build(&sec, &serial, &na, NULL, s, &w, PKI_EC_P256, 3600,
                          NOW) == 0);
    mem_free(serial);
    for (long n = 1; n < 2000 && !done; n++) {
        struct buf b;
        int rc;
        buf_init(&b, 1 << 20);
        mem_fail_set(n);
        rc = op_secret_project(NULL, sec, &b);
        mem_fail_set(0);
        if (rc == 0) {
            /* success: the verdict is the true one */
            struct buf t;
            buf_init(&t, 1 << 20);
            REQUIRE(op_secret_project(NULL, sec, &t) == 0);
            CHECK_INT(b.len, t.len);
            CHECK(b.len == t.len && memcmp(b.ptr, t.ptr, b.len) == 0);
            buf_cleanup(&t);
            done = 1;
        } else {
            CHECK(rc == RC_NOMEM || rc == RC_LIMIT);
        }
        buf_cleanup(&b);
    }
    CHECK(done);
    json_decref(sec);
    op_ca_snap_unref(s);
}
