/* test_op_ca.c: the CA Secret: snapshot loading, the trust bundle in every
 * rotation phase (old root first, bytes unchanged at the switch), the
 * rotation steps as JSON transforms, and refusal of broken Secrets. */
#include "tests/unit/harness.h"

#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"
#include "operator/op_ca.h"
#include "operator/op_decide.h"
#include "operator/op_run.h"
#include "operator/op_util.h"

#include <string.h>

#define NOW ((time_t)1767225600)

struct root {
    char *cert, *key;
    size_t cl, kl;
};

static void
mkroot(struct root *r)
{
    memset(r, 0, sizeof(*r));
    if (op_ca_root_new(&r->cert, &r->cl, &r->key, &r->kl, PKI_EC_P256,
                       (int64_t)3650 * 86400, "cluster.local", NOW) != 0)
        harness_fail(__FILE__, __LINE__, "root: %s", errmsg_get());
}

static void
freeroot(struct root *r)
{
    mem_free(r->cert);
    pki_secret_free(r->key, r->kl);
}

static json_t *
ca_secret(const struct root *r)
{
    json_t *s = NULL;

    if (op_ca_secret_build(&s, "istio-system", r->cert, r->cl, r->key, r->kl) !=
        0)
        return NULL;
    json_object_set_new(json_object_get(s, "metadata"), "resourceVersion",
                        json_string("7"));
    return s;
}

static int
count(const char *pem)
{
    int n = 0;

    for (const char *p = pem; (p = strstr(p, "BEGIN CERTIFICATE")); p++)
        n++;
    return n;
}

TEST(ca_idle_snapshot)
{
    struct root r;
    struct op_ca_snap *s = NULL;
    json_t *sec;

    mkroot(&r);
    REQUIRE((sec = ca_secret(&r)) != NULL);
    CHECK_STR(jutil_str(sec, "type"), "istio.io/ca-root");
    REQUIRE(op_ca_snap_from_secret(&s, sec, 0, NOW) == 0);
    CHECK_INT(s->phase, OP_ROOT_IDLE);
    CHECK_INT(s->plugged, 0);
    CHECK_INT(s->requested, 0);
    CHECK_STR(s->source_rv, "7");
    CHECK_STR(s->bundle, r.cert);
    CHECK_STR(s->signing_roots, r.cert);
    CHECK_INT(s->root_na - s->root_nb, (int64_t)3650 * 86400 + 300);
    op_ca_snap_unref(s);
    json_decref(sec);
    freeroot(&r);
}

TEST(ca_rotation_steps)
{
    struct root old, nu;
    struct op_ca_snap *s = NULL;
    json_t *sec, *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    char *bundle2 = NULL;

    mkroot(&old);
    mkroot(&nu);
    REQUIRE((sec = ca_secret(&old)) != NULL);
    json_object_set_new(
        jutil_obj_ensure(json_object_get(sec, "metadata"), "annotations"),
        OP_ROTATE_ANNOTATION, json_string("true"));
    REQUIRE(op_ca_snap_from_secret(&s, sec, 0, NOW) == 0);
    CHECK_INT(s->requested, 1);
    op_ca_snap_unref(s);

    /* START: publish old + new, still signing with the old root */
    REQUIRE(op_ca_secret_step(&a, sec, OP_ROOT_START, nu.cert, nu.cl, nu.key,
                              nu.kl, NOW) == 0);
    CHECK(jutil_str(jutil_path(a, "metadata.annotations"),
                    OP_ROTATE_ANNOTATION) == NULL);
    CHECK_STR(jutil_path_str(a, "metadata.resourceVersion"), "7");
    REQUIRE(op_ca_snap_from_secret(&s, a, 0, NOW) == 0);
    CHECK_INT(s->phase, OP_ROOT_PUBLISH);
    CHECK_INT(count(s->bundle), 2);
    CHECK(strncmp(s->bundle, old.cert, old.cl) == 0); /* old first */
    CHECK_STR(s->signing_roots, old.cert);
    bundle2 = mem_strdup(s->bundle);
    op_ca_snap_unref(s);

    /* SWITCH: sign with the new root; the bundle's bytes do not change */
    REQUIRE(op_ca_secret_step(&b, a, OP_ROOT_SWITCH, NULL, 0, NULL, 0, NOW) ==
            0);
    CHECK(jutil_str(json_object_get(b, "data"), "next-ca-key.pem") == NULL);
    REQUIRE(op_ca_snap_from_secret(&s, b, 0, NOW) == 0);
    CHECK_INT(s->phase, OP_ROOT_REISSUE);
    CHECK_STR(s->bundle, bundle2);
    CHECK_STR(s->signing_roots, nu.cert);
    op_ca_snap_unref(s);

    /* SETTLE: the overlap starts now */
    REQUIRE(op_ca_secret_step(&c, b, OP_ROOT_SETTLE, NULL, 0, NULL, 0,
                              NOW + 60) == 0);
    REQUIRE(op_ca_snap_from_secret(&s, c, 0, NOW + 61) == 0);
    CHECK_INT(s->phase, OP_ROOT_OVERLAP);
    CHECK_INT(s->overlap_since, NOW + 60);
    CHECK_STR(s->bundle, bundle2);
    op_ca_snap_unref(s);

    /* FINISH: only the new root remains */
    REQUIRE(op_ca_secret_step(&d, c, OP_ROOT_FINISH, NULL, 0, NULL, 0, NOW) ==
            0);
    REQUIRE(op_ca_snap_from_secret(&s, d, 0, NOW) == 0);
    CHECK_INT(s->phase, OP_ROOT_IDLE);
    CHECK_STR(s->bundle, nu.cert);
    CHECK_INT(json_object_size(json_object_get(d, "data")), 2);
    CHECK(jutil_str(jutil_path(d, "metadata.annotations"),
                    OP_PHASE_ANNOTATION) == NULL);
    op_ca_snap_unref(s);

    mem_free(bundle2);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
    json_decref(sec);
    freeroot(&old);
    freeroot(&nu);
}

TEST(ca_broken_secrets_refused)
{
    struct root r, other;
    struct op_ca_snap *s = NULL;
    json_t *sec;

    mkroot(&r);
    mkroot(&other);
    /* a key that is not the cert's */
    REQUIRE((sec = ca_secret(&r)) != NULL);
    REQUIRE(op_data_set(sec, "ca-key.pem", other.key, other.kl) == 0);
    CHECK(op_ca_snap_from_secret(&s, sec, 0, NOW) != 0);
    CHECK(s == NULL);
    CHECK(strstr(errmsg_get(), "PRIVATE KEY") == NULL);
    json_decref(sec);
    /* garbage PEM */
    REQUIRE((sec = ca_secret(&r)) != NULL);
    REQUIRE(op_data_set(sec, "ca-cert.pem", "junk", 4) == 0);
    CHECK(op_ca_snap_from_secret(&s, sec, 0, NOW) != 0);
    json_decref(sec);
    /* no key at all */
    REQUIRE((sec = ca_secret(&r)) != NULL);
    json_object_del(json_object_get(sec, "data"), "ca-key.pem");
    CHECK_INT(op_ca_snap_from_secret(&s, sec, 0, NOW), RC_NOTFOUND);
    json_decref(sec);
    /* a publish phase without the next root */
    REQUIRE((sec = ca_secret(&r)) != NULL);
    json_object_set_new(
        jutil_obj_ensure(json_object_get(sec, "metadata"), "annotations"),
        OP_PHASE_ANNOTATION, json_string("publish"));
    CHECK_INT(op_ca_snap_from_secret(&s, sec, 0, NOW), RC_INVAL);
    json_decref(sec);
    /* expired at load time */
    REQUIRE((sec = ca_secret(&r)) != NULL);
    CHECK(op_ca_snap_from_secret(&s, sec, 0, NOW + (time_t)3651 * 86400) != 0);
    json_decref(sec);
    freeroot(&r);
    freeroot(&other);
}

TEST(ca_plugged_self_signed_root)
{
    /* cacerts whose ca-cert is itself the root (root-cert.pem = same) */
    struct root r;
    struct op_ca_snap *s = NULL;
    json_t *sec;

    mkroot(&r);
    REQUIRE((sec = ca_secret(&r)) != NULL);
    REQUIRE(op_data_set(sec, "root-cert.pem", r.cert, r.cl) == 0);
    REQUIRE(op_ca_snap_from_secret(&s, sec, 1, NOW) == 0);
    CHECK_INT(s->plugged, 1);
    CHECK_STR(s->bundle, r.cert);
    op_ca_snap_unref(s);
    json_decref(sec);
    freeroot(&r);
}

TEST(ca_snapshot_out_of_memory)
{
    struct root r;
    json_t *sec;
    int ok = 0;

    mkroot(&r);
    REQUIRE((sec = ca_secret(&r)) != NULL);
    for (long n = 1; n < 400 && !ok; n++) {
        struct op_ca_snap *s = NULL;
        int rc;
        mem_fail_set(n);
        rc = op_ca_snap_from_secret(&s, sec, 0, NOW);
        mem_fail_set(0);
        if (rc == 0) {
            ok = 1;
            op_ca_snap_unref(s);
        } else {
            CHECK(s == NULL);
        }
    }
    CHECK(ok);
    json_decref(sec);
    freeroot(&r);
}
