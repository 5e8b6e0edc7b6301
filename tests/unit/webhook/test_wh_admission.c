/* test_wh_admission.c: AdmissionReview decode / admit / encode, path
 * parameters, base64 and JSON escaping, and the error paths under failing
 * allocations. */
#include "tests/unit/harness.h"
#include "injector/injector.h"
#include "lib/b64.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jpatch.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_admission.h"
#include "webhook/wh_frag.h"

#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

/* decode base64 with lib/b64 (independent of the webhook's encoder) into b */
static int
b64dec(struct buf *b, const char *s)
{
    char *d = NULL;
    size_t n = 0;
    int rc = b64_decode(&d, &n, s, strlen(s), (size_t)1 << 24);

    if (rc == 0)
        rc = buf_add(b, d, n);
    mem_free(d);
    return rc == 0 ? 0 : -1;
}

#define POD                                                                    \
    "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"generateName\":"  \
    "\"web-7d4b9c7f8d-\",\"labels\":{\"app\":\"web\"},\"annotations\":{%s},"   \
    "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":"               \
    "\"ReplicaSet\",\"name\":\"web-7d4b9c7f8d\",\"uid\":\"x\",\"controller\":" \
    "true}]},\"spec\":{%s\"containers\":[{\"name\":\"web\",\"image\":"         \
    "\"nginx\",\"ports\":[{\"containerPort\":8080}]}]}}"

/* review builds an AdmissionReview text; annotations and extra spec
 * fields are spliced into POD. */
static char *
review(const char *api, const char *op, const char *kind, const char *ns,
       const char *annotations, const char *spec_extra)
{
    struct buf b;
    char pod[2048];

    snprintf(pod, sizeof(pod), POD, annotations ? annotations : "",
             spec_extra ? spec_extra : "");
    buf_init(&b, 0);
    buf_addf(&b,
             "{\"apiVersion\":\"admission.k8s.io/%s\",\"kind\":"
             "\"AdmissionReview\",\"request\":{\"uid\":\"uid-\\\"1\\\"\","
             "\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"%s\"},"
             "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":"
             "\"pods\"},\"namespace\":\"%s\",\"operation\":\"%s\","
             "\"object\":%s}}",
             api, kind, ns, op, pod);
    return buf_take(&b, NULL);
}

/* defcfg: the default configuration, prepared as the server prepares it
 * (pre-written template fragments attached) */
static struct inj_config *
defcfg(void)
{
    struct inj_config *c = NULL;
    if (inj_config_load(&c, NULL, 0, NULL, 0) != 0)
        return NULL;
    if (wh_frags_attach(c) != 0) {
        inj_config_free(c);
        return NULL;
    }
    return c;
}

/* encode_text: decode + admit + encode of text under cfg, the response
 * text (owned) or NULL. */
static char *
encode_text(const struct inj_config *cfg, const char *text, json_t **patch)
{
    struct wh_review rv;
    struct wh_outcome oc;
    struct buf out;

    buf_init(&out, 0);
    if (wh_review_decode(&rv, text, strlen(text), 0) != 0)
        return NULL;
    if (wh_admit(&oc, cfg, &rv, NULL) == 0) {
        if (wh_response_encode(&out, &rv, &oc) != 0)
            buf_cleanup(&out);
        if (patch != NULL)
            if (oc.to == NULL || jpatch_diff(patch, oc.from, oc.to) != 0)
                *patch = NULL; /* the patch the answer streamed */
        wh_outcome_cleanup(&oc);
    }
    wh_review_cleanup(&rv);
    return buf_take(&out, NULL);
}

/* run: decode + admit + encode; returns the parsed response (owned) or
 * NULL; *dec gets the decision. */
static json_t *
run(const struct inj_config *cfg, const char *text, const json_t *env,
    enum wh_decision *dec)
{
    struct wh_review rv;
    struct wh_outcome oc;
    struct buf out;
    json_t *resp = NULL;

    buf_init(&out, 0);
    if (wh_review_decode(&rv, text, strlen(text), 0) != 0)
        return NULL;
    if (wh_admit(&oc, cfg, &rv, env) == 0) {
        *dec = oc.decision;
        if (wh_response_encode(&out, &rv, &oc) == 0)
            jutil_parse(&resp, out.ptr, out.len, NULL);
        wh_outcome_cleanup(&oc);
    }
    wh_review_cleanup(&rv);
    buf_cleanup(&out);
    return resp;
}

/* patch_of decodes response.patch into a JSON value (owned) */
static json_t *
patch_of(const json_t *resp)
{
    const char *p = jutil_path_str(resp, "response.patch");
    struct buf b;
    json_t *v = NULL;

    if (p == NULL)
        return NULL;
    buf_init(&b, 0);
    if (b64dec(&b, p) == 0 && b.len > 0)
        jutil_parse(&v, b.ptr, b.len, NULL);
    buf_cleanup(&b);
    return v;
}

/* ---- base64 / escaping ------------------------------------------------- */

TEST(base64_rfc4648_vectors)
{
    static const char *const in[] = {"",     "f",     "fo",    "foo",
                                     "foob", "fooba", "foobar"};
    static const char *const want[] = {
        "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        struct buf b;
        buf_init(&b, 0);
        CHECK_INT(wh_base64_encode(&b, in[i], strlen(in[i])), 0);
        CHECK_STR(b.ptr ? b.ptr : "", want[i]);
        buf_cleanup(&b);
    }
}

TEST(base64_roundtrip_large_and_binary)
{
    size_t n = 100003; /* several 4 KiB output chunks, odd tail */
    unsigned char *p = mem_alloc(n);
    struct buf b, d;

    REQUIRE(p != NULL);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 131 + 7);
    buf_init(&b, 0);
    buf_init(&d, 0);
    CHECK_INT(wh_base64_encode(&b, p, n), 0);
    CHECK_INT(b.len, (n + 2) / 3 * 4);
    CHECK_INT(b64dec(&d, b.ptr), 0);
    CHECK_INT(d.len, n);
    CHECK(d.len == n && memcmp(d.ptr, p, n) == 0);
    buf_cleanup(&b);
    buf_cleanup(&d);
    mem_free(p);
}

TEST(base64_limit_leaves_buffer_unchanged)
{
    struct buf b;
    char big[10000];

    memset(big, 'x', sizeof(big));
    buf_init(&b, 6000);
    CHECK_INT(buf_addstr(&b, "head"), 0);
    CHECK_INT(wh_base64_encode(&b, big, sizeof(big)), RC_LIMIT);
    CHECK_STR(b.ptr, "head");
    buf_cleanup(&b);
}

TEST(json_escape_specials)
{
    struct buf b;
    json_t *v = NULL;

    buf_init(&b, 0);
    CHECK_INT(wh_json_escape(&b, "a\"b\\c\n\t\x01 \xc3\xa9"), 0);
    CHECK_STR(b.ptr, "\"a\\\"b\\\\c\\n\\t\\u0001 \xc3\xa9\"");
    REQUIRE(jutil_parse(&v, b.ptr, b.len, NULL) == 0);
    CHECK_STR(json_string_value(v), "a\"b\\c\n\t\x01 \xc3\xa9");
    json_decref(v);
    buf_cleanup(&b);
}

/* ---- decode ------------------------------------------------------------ */

TEST(decode_v1_fields)
{
    char *t = review("v1", "CREATE", "Pod", "team-a", NULL, NULL);
    struct wh_review rv;

    REQUIRE(wh_review_decode(&rv, t, strlen(t), 0) == 0);
    CHECK_STR(rv.api_version, WH_API_V1);
    CHECK_STR(rv.uid, "uid-\"1\"");
    CHECK_STR(rv.operation, "CREATE");
    CHECK_STR(rv.ns, "team-a");
    CHECK_STR(rv.kind, "Pod");
    CHECK_STR(rv.kind_group, "");
    CHECK_STR(rv.resource, "pods");
    CHECK_STR(rv.name, "");
    CHECK_STR(rv.generate_name, "web-7d4b9c7f8d-");
    CHECK(rv.object != NULL);
    wh_review_cleanup(&rv);
    mem_free(t);
}

TEST(decode_rejects_bad_reviews)
{
    static const struct {
        const char *text;
        int rc;
        const char *msg;
    } cases[] = {
        {"", RC_PARSE, "invalid JSON"},
        {"{\"kind\":", RC_PARSE, "invalid JSON"},
        {"[1]", RC_INVAL, "not a JSON object"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\"}", RC_INVAL,
         "kind must be AdmissionReview"},
        {"{\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\"}}", RC_INVAL,
         "unsupported apiVersion ''"},
        {"{\"apiVersion\":\"admission.k8s.io/v2\",\"kind\":"
         "\"AdmissionReview\",\"request\":{\"uid\":\"u\"}}",
         RC_INVAL, "unsupported apiVersion 'admission.k8s.io/v2'"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":"
         "\"AdmissionReview\"}",
         RC_INVAL, "no request"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":"
         "\"AdmissionReview\",\"request\":null}",
         RC_INVAL, "no request"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":"
         "\"AdmissionReview\",\"request\":{}}",
         RC_INVAL, "request.uid is missing"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":"
         "\"AdmissionReview\",\"request\":{\"uid\":\"\"}}",
         RC_INVAL, "request.uid is missing"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":"
         "\"AdmissionReview\",\"request\":{\"uid\":7}}",
         RC_INVAL, "request.uid is missing"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wh_review rv;
        int rc = wh_review_decode(&rv, cases[i].text, strlen(cases[i].text), 0);
        CHECK_INT(rc, cases[i].rc);
        CHECK_CONTAINS(errmsg_get(), cases[i].msg);
        CHECK(rv.doc == NULL);
    }
}

TEST(decode_limits)
{
    struct buf b;
    struct wh_review rv;
    char *t = review("v1", "CREATE", "Pod", "ns", NULL, NULL);

    CHECK_INT(wh_review_decode(&rv, t, strlen(t), 100), RC_LIMIT);
    buf_init(&b, 0);
    buf_addstr(&b, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":"
                   "\"AdmissionReview\",\"request\":{\"uid\":\"u\",\"x\":");
    for (int i = 0; i < 200; i++)
        buf_addc(&b, '[');
    for (int i = 0; i < 200; i++)
        buf_addc(&b, ']');
    buf_addstr(&b, "}}");
    CHECK_INT(wh_review_decode(&rv, b.ptr, b.len, 0), RC_LIMIT);
    CHECK_CONTAINS(errmsg_get(), "deeper");
    buf_cleanup(&b);
    mem_free(t);
}

/* ---- admit + encode ---------------------------------------------------- */

TEST(inject_v1_response_shape_and_patch)
{
    struct inj_config *cfg = defcfg();
    char *t = review("v1", "CREATE", "Pod", "team-a", NULL, NULL);
    enum wh_decision d = WH_ERROR;
    json_t *resp, *patch;
    char *dump;

    REQUIRE(cfg != NULL);
    resp = run(cfg, t, NULL, &d);
    REQUIRE(resp != NULL);
    CHECK_INT(d, WH_INJECTED);
    CHECK_STR(jutil_str(resp, "apiVersion"), "admission.k8s.io/v1");
    CHECK_STR(jutil_str(resp, "kind"), "AdmissionReview");
    CHECK_STR(jutil_path_str(resp, "response.uid"), "uid-\"1\"");
    CHECK(json_is_true(jutil_path(resp, "response.allowed")));
    CHECK_STR(jutil_path_str(resp, "response.patchType"), "JSONPatch");
    patch = patch_of(resp);
    REQUIRE(patch != NULL);
    CHECK(json_is_array(patch) && json_array_size(patch) > 0);
    dump = jutil_dumps(patch, 0);
    CHECK_CONTAINS(dump, "istio-proxy");
    CHECK_CONTAINS(dump, "istio-init");
    mem_free(dump);
    json_decref(patch);
    json_decref(resp);
    mem_free(t);
    inj_config_free(cfg);
}

TEST(v1beta1_answered_in_v1beta1)
{
    struct inj_config *cfg = defcfg();
    char *t = review("v1beta1", "CREATE", "Pod", "team-a", NULL, NULL);
    enum wh_decision d = WH_ERROR;
    json_t *resp;

    REQUIRE(cfg != NULL);
    resp = run(cfg, t, NULL, &d);
    REQUIRE(resp != NULL);
    CHECK_INT(d, WH_INJECTED);
    CHECK_STR(jutil_str(resp, "apiVersion"), "admission.k8s.io/v1beta1");
    json_decref(resp);
    mem_free(t);
    inj_config_free(cfg);
}

TEST(skipped_and_ignored_have_no_patch)
{
    struct inj_config *cfg = defcfg();
    static const struct {
        const char *op, *kind, *ns, *ann, *spec;
        enum wh_decision want;
    } cases[] = {
        {"CREATE", "Pod", "team-a", "\"sidecar.istio.io/inject\":\"false\"",
         NULL, WH_SKIPPED},
        {"CREATE", "Pod", "team-a", NULL, "\"hostNetwork\":true,", WH_SKIPPED},
        {"CREATE", "Pod", "kube-system", NULL, NULL, WH_SKIPPED},
        {"UPDATE", "Pod", "team-a", NULL, NULL, WH_IGNORED},
        {"DELETE", "Pod", "team-a", NULL, NULL, WH_IGNORED},
        {"CREATE", "Service", "team-a", NULL, NULL, WH_IGNORED},
    };
    REQUIRE(cfg != NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = review("v1", cases[i].op, cases[i].kind, cases[i].ns,
                         cases[i].ann, cases[i].spec);
        enum wh_decision d = WH_ERROR;
        json_t *resp = run(cfg, t, NULL, &d);
        REQUIRE(resp != NULL);
        CHECK_INT(d, cases[i].want);
        CHECK(json_is_true(jutil_path(resp, "response.allowed")));
        CHECK(jutil_path(resp, "response.patch") == NULL);
        CHECK(jutil_path(resp, "response.patchType") == NULL);
        CHECK_STR(jutil_path_str(resp, "response.uid"), "uid-\"1\"");
        json_decref(resp);
        mem_free(t);
    }
    inj_config_free(cfg);
}

TEST(subresource_is_ignored)
{
    struct inj_config *cfg = defcfg();
    const char *t = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":"
                    "\"AdmissionReview\",\"request\":{\"uid\":\"u\","
                    "\"kind\":{\"group\":\"\",\"kind\":\"Pod\"},"
                    "\"subResource\":\"status\",\"operation\":\"CREATE\","
                    "\"object\":{\"spec\":{\"containers\":[]}}}}";
    enum wh_decision d = WH_ERROR;
    json_t *resp;

    REQUIRE(cfg != NULL);
    resp = run(cfg, t, NULL, &d);
    REQUIRE(resp != NULL);
    CHECK_INT(d, WH_IGNORED);
    json_decref(resp);
    inj_config_free(cfg);
}

TEST(refused_names_the_annotation)
{
    struct inj_config *cfg = defcfg();
    char *t = review("v1", "CREATE", "Pod", "team-a",
                     "\"traffic.sidecar.istio.io/includeInboundPorts\":"
                     "\"bad\"",
                     NULL);
    enum wh_decision d = WH_ERROR;
    json_t *resp;

    REQUIRE(cfg != NULL);
    resp = run(cfg, t, NULL, &d);
    REQUIRE(resp != NULL);
    CHECK_INT(d, WH_REFUSED);
    CHECK(json_is_false(jutil_path(resp, "response.allowed")));
    CHECK_CONTAINS(jutil_path_str(resp, "response.status.message"),
                   "traffic.sidecar.istio.io/includeInboundPorts");
    CHECK_INT(json_integer_value(jutil_path(resp, "response.status.code")),
              400);
    CHECK_STR(jutil_path_str(resp, "response.status.status"), "Failure");
    CHECK(jutil_path(resp, "response.patch") == NULL);
    json_decref(resp);
    mem_free(t);
    inj_config_free(cfg);
}

TEST(pod_without_object_is_refused)
{
    struct inj_config *cfg = defcfg();
    const char *t = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":"
                    "\"AdmissionReview\",\"request\":{\"uid\":\"u\","
                    "\"kind\":{\"group\":\"\",\"kind\":\"Pod\"},"
                    "\"operation\":\"CREATE\",\"object\":null}}";
    enum wh_decision d = WH_ERROR;
    json_t *resp;

    REQUIRE(cfg != NULL);
    resp = run(cfg, t, NULL, &d);
    REQUIRE(resp != NULL);
    CHECK_INT(d, WH_REFUSED);
    CHECK_CONTAINS(jutil_path_str(resp, "response.status.message"),
                   "request.object");
    json_decref(resp);
    inj_config_free(cfg);
}

TEST(namespace_from_request_and_env_from_path)
{
    struct inj_config *cfg = defcfg();
    char *t = review("v1", "CREATE", "Pod", "team-zz", NULL, NULL);
    json_t *env = NULL, *resp, *patch;
    enum wh_decision d = WH_ERROR;
    char *dump;

    REQUIRE(cfg != NULL);
    REQUIRE(wh_path_parse(&env, "/inject/cluster/c-77/net/n-88") == 0);
    resp = run(cfg, t, env, &d);
    REQUIRE(resp != NULL);
    CHECK_INT(d, WH_INJECTED);
    patch = patch_of(resp);
    REQUIRE(patch != NULL);
    dump = jutil_dumps(patch, 0);
    CHECK_CONTAINS(dump, "team-zz");
    CHECK_CONTAINS(dump, "c-77");
    CHECK_CONTAINS(dump, "n-88");
    mem_free(dump);
    json_decref(patch);
    json_decref(resp);
    json_decref(env);
    mem_free(t);
    inj_config_free(cfg);
}

/* ---- path parameters --------------------------------------------------- */

static const char *
envs(const json_t *env, const char *k)
{
    return json_string_value(json_object_get(env, k));
}

TEST(path_parse_istio_forms)
{
    json_t *env = (json_t *)1;

    CHECK_INT(wh_path_parse(&env, "/inject"), 0);
    CHECK(env == NULL);
    CHECK_INT(wh_path_parse(&env, "/inject/"), 0);
    CHECK(env == NULL);
    CHECK_INT(wh_path_parse(&env, "/injectx"), RC_NOTFOUND);
    CHECK_INT(wh_path_parse(&env, "/"), RC_NOTFOUND);
    CHECK_INT(wh_path_parse(&env, "/healthz"), RC_NOTFOUND);

    REQUIRE(wh_path_parse(&env, "/inject/cluster/c1/net/n1") == 0);
    CHECK_STR(envs(env, "ISTIO_META_CLUSTER_ID"), "c1");
    CHECK_STR(envs(env, "ISTIO_META_NETWORK"), "n1");
    CHECK_INT(json_object_size(env), 2);
    json_decref(env);

    REQUIRE(wh_path_parse(&env, "/inject/foo_bar/a--slash--b--slash--c/") == 0);
    CHECK_STR(envs(env, "FOO_BAR"), "a/b/c");
    json_decref(env);

    /* a last key without a value is ignored */
    REQUIRE(wh_path_parse(&env, "/inject/net/n1/lonely") == 0);
    CHECK_STR(envs(env, "ISTIO_META_NETWORK"), "n1");
    CHECK(envs(env, "LONELY") == NULL);
    json_decref(env);
    CHECK_INT(wh_path_parse(&env, "/inject/lonely"), 0);
    CHECK(env == NULL);

    /* deprecated :ENV: form; "=v" and a pair without "=" are ignored */
    REQUIRE(wh_path_parse(&env, "/inject/:ENV:cluster=c2:ENV:X=y=z:ENV:=v"
                                ":ENV:novalue") == 0);
    CHECK_STR(envs(env, "ISTIO_META_CLUSTER_ID"), "c2");
    CHECK_STR(envs(env, "X"), "y=z");
    CHECK_INT(json_object_size(env), 2);
    json_decref(env);

    /* empty values are values */
    REQUIRE(wh_path_parse(&env, "/inject/net//cluster/c") == 0);
    CHECK_STR(envs(env, "ISTIO_META_NETWORK"), "");
    json_decref(env);
}

TEST(path_parse_rejects_bad_names_and_too_many)
{
    json_t *env = NULL;
    struct buf b;

    CHECK_INT(wh_path_parse(&env, "/inject/bad key/x"), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "BAD KEY");
    CHECK_INT(wh_path_parse(&env, "/inject/9lives/x"), RC_INVAL);
    CHECK(env == NULL);
    buf_init(&b, 0);
    buf_addstr(&b, "/inject");
    for (int i = 0; i < WH_MAX_PATH_ENV + 1; i++)
        buf_addf(&b, "/k%d/v", i);
    CHECK_INT(wh_path_parse(&env, b.ptr), RC_LIMIT);
    CHECK(env == NULL);
    buf_cleanup(&b);
}

/* ---- allocation failures ----------------------------------------------- */

/* Every allocation along decode -> admit -> encode is failed in turn: each
 * run must end in RC_NOMEM (or a clean success once the failure point is
 * past the end), never crash, leak or turn into another answer. */
TEST(allocation_failures_end_cleanly)
{
    struct inj_config *cfg = defcfg();
    char *t = review("v1", "CREATE", "Pod", "team-a", NULL, NULL);
    struct buf want;
    int done = 0;

    REQUIRE(cfg != NULL);
    buf_init(&want, 0);
    {
        struct wh_review rv;
        struct wh_outcome oc;
        REQUIRE(wh_review_decode(&rv, t, strlen(t), 0) == 0);
        REQUIRE(wh_admit(&oc, cfg, &rv, NULL) == 0);
        REQUIRE(wh_response_encode(&want, &rv, &oc) == 0);
        wh_outcome_cleanup(&oc);
        wh_review_cleanup(&rv);
    }
    for (long n = 1; n < 100000 && !done; n++) {
        struct wh_review rv;
        struct wh_outcome oc;
        struct buf out;
        int rc;

        buf_init(&out, 0);
        mem_fail_set(n);
        rc = wh_review_decode(&rv, t, strlen(t), 0);
        if (rc == 0) {
            rc = wh_admit(&oc, cfg, &rv, NULL);
            if (rc == 0) {
                rc = wh_response_encode(&out, &rv, &oc);
                wh_outcome_cleanup(&oc);
            }
            wh_review_cleanup(&rv);
        }
        mem_fail_set(0);
        if (rc == 0) {
            CHECK_STR(out.ptr, want.ptr);
            if (mem_fail_hits() == 0)
                done = 1;
        } else if (rc != RC_NOMEM) {
            harness_fail(__FILE__, __LINE__,
                         "failing allocation %ld gave %s: %s", n, rc_str(rc),
                         errmsg_get());
            done = 1;
        }
        buf_cleanup(&out);
    }
    CHECK(done);
    buf_cleanup(&want);
    mem_free(t);
    inj_config_free(cfg);
}

/* ---- the patch serializer ---------------------------------------------- */

TEST(json_write_matches_jansson)
{
    static const char *const docs[] = {
        "[]",
        "{}",
        ("[{\"op\":\"add\",\"path\":\"/spec/containers/-\",\"value\":{\"name\":"
         "\"istio-proxy\",\"args\":[\"proxy\",\"sidecar\"],\"port\":15090,"
         "\"neg\":-9223372036854775807,\"ok\":true,\"no\":false,\"n\":null}}]"),
        "[1.5, 1e300, -0.25, 3.0, 100000000000000000000.0, 1e-7]",
        ("[\"a\\\"b\\\\c\\/d\\n\\r\\t\\b\\f\\u0001\\u001f \\u00e9 \\u2028 "
         "\\ud83d\\ude00\"]"),
        "{\"k\\\"ey\\n\":{\"~1/\":[[[]]],\"\":\"\"}}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *v = NULL, *back = NULL;
        struct buf b;
        char *want;

        REQUIRE(jutil_parse(&v, docs[i], strlen(docs[i]), NULL) == 0);
        buf_init(&b, 0);
        CHECK_INT(wh_json_write(&b, v), 0);
        want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        REQUIRE(want != NULL);
        /* same text as jansson, except that jansson also escapes the
         * U+2028/U+2029 and "\b\f" spellings differently: compare values */
        REQUIRE(jutil_parse(&back, b.ptr, b.len, NULL) == 0);
        CHECK(json_equal(v, back));
        if (i < 3)
            CHECK_STR(b.ptr, want);
        free(want);
        json_decref(back);
        json_decref(v);
        buf_cleanup(&b);
    }
}

TEST(json_write_embedded_nul)
{
    json_t *v = json_stringn("a\0b", 3);
    struct buf b;

    REQUIRE(v != NULL);
    buf_init(&b, 0);
    CHECK_INT(wh_json_write(&b, v), 0);
    CHECK_STR(b.ptr, "\"a\\u0000b\"");
    buf_cleanup(&b);
    json_decref(v);
}

TEST(json_write_limit_leaves_buffer_unchanged)
{
    json_t *v = json_pack("[s,s]", "0123456789", "abcdefghij");
    struct buf b;

    REQUIRE(v != NULL);
    buf_init(&b, 20);
    CHECK_INT(buf_addstr(&b, "pre"), 0);
    CHECK_INT(wh_json_write(&b, v), RC_LIMIT);
    CHECK_STR(b.ptr, "pre");
    buf_cleanup(&b);
    json_decref(v);
}

/* frag_hits: nodes of v (v included) that the patch writer copies from
 * f instead of walking them */
static size_t
frag_hits(const struct wh_frags *f, const json_t *v)
{
    size_t n, hits = 0;

    if (wh_frags_find(f, v, &n) != NULL)
        return 1;
    if (json_is_array(v))
        for (size_t i = 0; i < json_array_size(v); i++)
            hits += frag_hits(f, json_array_get(v, i));
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) hits += frag_hits(f, x);
    }
    return hits;
}

/* the patch writer copies pre-written template parts (wh_frag.h): the
 * answer is byte for byte the one written node by node, for pods that
 * share many parts with the template and pods that share few */
TEST(template_fragments_do_not_change_the_answer)
{
    struct inj_config *with = defcfg(), *without = NULL;
    const char *annots[] = {
        "",
        "\"sidecar.istio.io/interceptionMode\":\"TPROXY\"",
        "\"sidecar.istio.io/proxyCPU\":\"300m\",\"status.sidecar.istio.io/"
        "port\":\"15030\"",
        "\"traffic.sidecar.istio.io/includeOutboundIPRanges\":\"10.0.0.0/8\","
        "\"sidecar.istio.io/rewriteAppHTTPProbers\":\"false\"",
    };
    size_t hits = 0;

    REQUIRE(with != NULL);
    REQUIRE(inj_config_load(&without, NULL, 0, NULL, 0) == 0);
    CHECK(wh_frags_count(wh_frags_of(with)) > 10);
    CHECK(wh_frags_of(without) == NULL);
    for (size_t i = 0; i < sizeof(annots) / sizeof(annots[0]); i++) {
        char *text = review("v1", "CREATE", "Pod", "team-a", annots[i], NULL);
        json_t *patch = NULL;
        char *a = encode_text(with, text, &patch);
        char *b = encode_text(without, text, NULL);
        REQUIRE(a != NULL && b != NULL && patch != NULL);
        CHECK_STR(a, b);
        CHECK_CONTAINS(a, "\"patchType\":\"JSONPatch\"");
        /* parts of the patch written from fragments */
        hits += frag_hits(wh_frags_of(with), patch);
        json_decref(patch);
        mem_free(a);
        mem_free(b);
        mem_free(text);
    }
    CHECK(hits > 10); /* istio-init, volumes, probes, env entries, ... */
    inj_config_free(with);
    inj_config_free(without);
}
