/* test_kubeclient.c: paths and the REST client against the API server
 * emulator (e2e/apiserver/run, started once as a child process and stopped
 * at exit). Fault injection goes through the emulator's /emulator/faults. */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/kubecfg.h"
#include "lib/kubeclient.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "tests/unit/harness.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- paths ---- */

static const char *
path_of(const struct kube_res *r, const char *ns, const char *name,
        const char *sub)
{
    static char out[512];
    struct buf b;

    buf_init(&b, 0);
    if (kube_path(&b, r, ns, name, sub) != 0)
        snprintf(out, sizeof(out), "ERR %s", rc_str(RC_INVAL));
    else
        snprintf(out, sizeof(out), "%s", b.ptr);
    buf_cleanup(&b);
    return out;
}

TEST(kube_path_shapes)
{
    CHECK_STR(path_of(&KUBE_PODS, "ns1", "p", NULL),
              "/api/v1/namespaces/ns1/pods/p");
    CHECK_STR(path_of(&KUBE_PODS, NULL, NULL, NULL), "/api/v1/pods");
    CHECK_STR(path_of(&KUBE_DEPLOYMENTS, "a", "web", "status"),
              "/apis/apps/v1/namespaces/a/deployments/web/status");
    CHECK_STR(path_of(&KUBE_NAMESPACES, NULL, "kube-system", NULL),
              "/api/v1/namespaces/kube-system");
    /* a namespace is meaningless for cluster-scoped resources */
    CHECK_STR(path_of(&KUBE_CRDS, "ignored", "x.example.com", NULL),
              "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
              "x.example.com");
    CHECK_STR(path_of(&KUBE_MWCS, NULL, NULL, NULL),
              "/apis/admissionregistration.k8s.io/v1/"
              "mutatingwebhookconfigurations");
    CHECK_STR(path_of(&KUBE_LEASES, "kube-system", "mizzen", NULL),
              "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
              "mizzen");
    CHECK_STR(path_of(&KUBE_ENDPOINTSLICES, "d", NULL, NULL),
              "/apis/discovery.k8s.io/v1/namespaces/d/endpointslices");
    /* escaping, and segments that would change the path */
    CHECK_STR(path_of(&KUBE_SECRETS, "d", "a b%c:d", NULL),
              "/api/v1/namespaces/d/secrets/a%20b%25c:d");
    CHECK_STR(path_of(&KUBE_SECRETS, "d", "a/b", NULL), "ERR RC_INVAL");
    CHECK_STR(path_of(&KUBE_SECRETS, "d", "..", NULL), "ERR RC_INVAL");
    CHECK_STR(path_of(&KUBE_SECRETS, "", "x", NULL), "ERR RC_INVAL");
    CHECK_STR(path_of(&KUBE_SECRETS, "d", NULL, "status"), "ERR RC_INVAL");
}

TEST(kube_path_failure_leaves_buffer)
{
    struct buf b;

    buf_init(&b, 0);
    buf_addstr(&b, "keep");
    CHECK_INT(kube_path(&b, &KUBE_PODS, "n", "bad/name", NULL), RC_INVAL);
    CHECK_STR(b.ptr, "keep");
    buf_cleanup(&b);
    buf_init(&b, 20);
    CHECK(kube_path(&b, &KUBE_DEPLOYMENTS, "namespace", "name", NULL) != 0);
    CHECK(b.len == 0);
    buf_cleanup(&b);
}

TEST(kube_query_escaping)
{
    struct buf b;

    buf_init(&b, 0);
    buf_addstr(&b, "/api/v1/pods");
    CHECK_INT(kube_query_add(&b, "labelSelector", "app in (a,b),!x"), 0);
    CHECK_INT(kube_query_add(&b, "limit", "5"), 0);
    CHECK_STR(b.ptr, "/api/v1/pods?labelSelector=app%20in%20%28a%2Cb%29%2C%21x"
                     "&limit=5");
    buf_cleanup(&b);
}

TEST(kube_res_table)
{
    CHECK(kube_res_find("configmaps") == &KUBE_CONFIGMAPS);
    CHECK(kube_res_find("Deployment") == &KUBE_DEPLOYMENTS);
    CHECK(kube_res_find("nodes") == NULL);
    CHECK_INT(KUBE_NAMESPACES.namespaced, 0);
    CHECK_INT(KUBE_REPLICASETS.namespaced, 1);
    CHECK_STR(KUBE_MWCS.kind, "MutatingWebhookConfiguration");
}

/* ---- the emulator ---- */

static struct {
    pid_t pid;
    int port, failed;
    char dir[400], kc[512], ca[512], token[256];
} E;

static void
emu_stop(void)
{
    if (E.pid > 0) {
        kill(E.pid, SIGTERM);
        waitpid(E.pid, NULL, 0);
        E.pid = 0;
    }
}

__attribute__((destructor)) static void
emu_atexit(void)
{
    emu_stop();
}

static int
read_small(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        return -1;
    n = fread(out, 1, cap - 1, f);
    fclose(f);
    out[n] = '\0';
    return 0;
}

/* Starts the emulator once; 0 when it is listening. */
static int
emu_start(void)
{
    const char *root = getenv("MZ_ROOT");
    char run[512], out[600], err[600], line[600];

    if (E.pid > 0)
        return 0;
    if (E.failed)
        return -1;
    E.failed = 1;
    if (root == NULL)
        root = ".";
    snprintf(run, sizeof(run), "%s/e2e/apiserver/run", root);
    if (access(run, X_OK) != 0) {
        printf("emulator not found at %s (set MZ_ROOT)\n", run);
        return -1;
    }
    snprintf(E.dir, sizeof(E.dir), "%s/emu", harness_tmpdir());
    mkdir(E.dir, 0700);
    snprintf(E.kc, sizeof(E.kc), "%s/kubeconfig", E.dir);
    snprintf(E.ca, sizeof(E.ca), "%s/ca.crt", E.dir);
    snprintf(out, sizeof(out), "%s/out", E.dir);
    snprintf(err, sizeof(err), "%s/err", E.dir);
    snprintf(line, sizeof(line), "%s/token", E.dir);
    fflush(stdout);
    E.pid = fork();
    if (E.pid == 0) {
        if (freopen(out, "w", stdout) == NULL ||
            freopen(err, "w", stderr) == NULL)
            _exit(126);
        execl(run, run, "--port", "0", "--kubeconfig-out", E.kc, "--token-out",
              line, "--ca-out", E.ca, (char *)NULL);
        _exit(127);
    }
    if (E.pid < 0)
        return -1;
    for (int i = 0; i < 300; i++) {
        char buf[256];
        if (read_small(out, buf, sizeof(buf)) == 0 &&
            sscanf(buf, "listening on 127.0.0.1:%d", &E.port) == 1)
            break;
        if (waitpid(E.pid, NULL, WNOHANG) == E.pid) {
            E.pid = 0;
            printf("emulator exited at start (see %s)\n", err);
            return -1;
        }
        usleep(50000);
    }
    if (E.port == 0 || read_small(line, E.token, sizeof(E.token)) != 0) {
        emu_stop();
        return -1;
    }
    E.failed = 0;
    return 0;
}

static struct kube_client *
client_opts(const struct kube_client_opts *o)
{
    struct kube_config *cfg = NULL;
    struct kube_client *c = NULL;

    if (emu_start() != 0)
        return NULL;
    if (kube_config_from_file(&cfg, E.kc, NULL) != 0)
        return NULL;
    if (kube_client_new(&c, cfg, o) != 0)
        printf("kube_client_new: %s\n", errmsg_get());
    kube_config_free(cfg);
    return c;
}

static struct kube_client *
client(void)
{
    struct kube_client_opts o = {
        .backoff_base_ms = 20, .backoff_max_ms = 500, .timeout_ms = 10000};
    return client_opts(&o);
}

/* POSTs a fault rule (JSON text) to the emulator's control endpoint. */
static int
fault(struct kube_client *c, const char *spec)
{
    return kube_request(c, "POST", "/emulator/faults", "application/json", spec,
                        strlen(spec), NULL);
}

static int
clear_faults(struct kube_client *c)
{
    return kube_request(c, "DELETE", "/emulator/faults", NULL, NULL, 0, NULL);
}

static json_t *
cm(const char *name, const char *key, const char *val)
{
    return json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind",
                     "ConfigMap", "metadata", "name", name, "data", key, val);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
ensure_ns(struct kube_client *c, const char *ns)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind",
                          "Namespace", "metadata", "name", ns);
    int rc = kube_create(c, &KUBE_NAMESPACES, NULL, o, NULL);
    json_decref(o);
    return rc == RC_CONFLICT ? 0 : rc;
}

TEST(kubeclient_crud_and_errors)
{
    struct kube_client *c = client();
    json_t *o = NULL, *got = NULL, *stale = NULL, *p = NULL;
    const char *rv1;
    int rc;

    REQUIRE(c != NULL);
    CHECK_STR(kube_client_namespace(c), "default");
    o = cm("crud", "a", "1");
    REQUIRE(kube_create(c, &KUBE_CONFIGMAPS, "default", o, &got) == 0);
    CHECK_STR(jutil_path_str(got, "data.a"), "1");
    rv1 = jutil_path_str(got, "metadata.resourceVersion");
    CHECK(rv1 != NULL);
    /* AlreadyExists */
    CHECK_INT(kube_create(c, &KUBE_CONFIGMAPS, "default", o, NULL),
              RC_CONFLICT);
    CHECK_INT(kube_last_status()->http_code, 409);
    CHECK_STR(kube_last_status()->reason, "AlreadyExists");
    CHECK_CONTAINS(errmsg_get(), "configmaps \"crud\" already exists");
    /* update with the RV; then the stale copy conflicts */
    stale = json_deep_copy(got);
    json_object_set_new(jutil_obj(got, "data"), "a", json_string("2"));
    json_decref(o);
    o = NULL;
    REQUIRE(kube_update(c, &KUBE_CONFIGMAPS, "default", "crud", NULL, got,
                        &o) == 0);
    CHECK_STR(jutil_path_str(o, "data.a"), "2");
    rc = kube_update(c, &KUBE_CONFIGMAPS, NULL, NULL, NULL, stale, NULL);
    CHECK_INT(rc, RC_CONFLICT);
    CHECK_STR(kube_last_status()->reason, "Conflict");
    CHECK_CONTAINS(errmsg_get(), "the object has been modified");
    json_decref(o);
    o = NULL;
    /* patches: merge, JSON (test failure -> 422), strategic, apply */
    p = json_pack("{s:{s:s}}", "data", "m", "x");
    REQUIRE(kube_patch(c, &KUBE_CONFIGMAPS, "default", "crud", NULL,
                       KUBE_PATCH_MERGE, p, NULL, 0, &o) == 0);
    CHECK_STR(jutil_path_str(o, "data.m"), "x");
    json_decref(p);
    json_decref(o);
    o = NULL;
    p = json_pack("[{s:s,s:s,s:s}]", "op", "test", "path", "/data/a", "value",
                  "nope");
    CHECK_INT(kube_patch(c, &KUBE_CONFIGMAPS, "default", "crud", NULL,
                         KUBE_PATCH_JSON, p, NULL, 0, NULL),
              RC_INVAL);
    CHECK_INT(kube_last_status()->http_code, 422);
    CHECK_STR(kube_last_status()->reason, "Invalid");
    json_decref(p);
    p = json_pack("{s:{s:s}}", "data", "s", "y");
    REQUIRE(kube_patch(c, &KUBE_CONFIGMAPS, "default", "crud", NULL,
                       KUBE_PATCH_STRATEGIC, p, NULL, 0, NULL) == 0);
    json_decref(p);
    p = cm("crud", "applied", "z");
    CHECK_INT(kube_patch(c, &KUBE_CONFIGMAPS, "default", "crud", NULL,
                         KUBE_PATCH_APPLY, p, NULL, 0, NULL),
              RC_INVAL); /* no field manager: refused locally */
    REQUIRE(kube_patch(c, &KUBE_CONFIGMAPS, "default", "crud", NULL,
                       KUBE_PATCH_APPLY, p, "unit-test", 1, &o) == 0);
    CHECK_STR(jutil_path_str(o, "data.applied"), "z");
    CHECK_STR(jutil_path_str(o, "data.m"), "x");
    json_decref(p);
    /* delete with a stale precondition, then for real, then again */
    CHECK_INT(kube_delete(c, &KUBE_CONFIGMAPS, "default", "crud", rv1),
              RC_CONFLICT);
    REQUIRE(kube_delete(c, &KUBE_CONFIGMAPS, "default", "crud",
                        jutil_path_str(o, "metadata.resourceVersion")) == 0);
    CHECK_INT(kube_delete(c, &KUBE_CONFIGMAPS, "default", "crud", NULL),
              RC_NOTFOUND);
    CHECK_INT(kube_get(c, &KUBE_CONFIGMAPS, "default", "crud", NULL),
              RC_NOTFOUND);
    CHECK_INT(kube_last_status()->http_code, 404);
    CHECK_STR(errmsg_get(), "configmaps \"crud\" not found");
    /* 400: namespace mismatch between object and URL */
    json_decref(o);
    o = json_pack("{s:{s:s,s:s}}", "metadata", "name", "x", "namespace",
                  "other");
    CHECK_INT(kube_create(c, &KUBE_CONFIGMAPS, "default", o, NULL), RC_INVAL);
    CHECK_INT(kube_last_status()->http_code, 400);
    CHECK_CONTAINS(errmsg_get(), "does not match");
    json_decref(o);
    json_decref(got);
    json_decref(stale);
    kube_client_free(c);
}

TEST(kubeclient_status_subresource)
{
    struct kube_client *c = client();
    json_t *svc = NULL, *got = NULL, *o = NULL;

    REQUIRE(c != NULL);
    svc = json_pack("{s:s,s:s,s:{s:s},s:{s:[{s:i}]}}", "apiVersion", "v1",
                    "kind", "Service", "metadata", "name", "st", "spec",
                    "ports", "port", 80);
    REQUIRE(kube_create(c, &KUBE_SERVICES, "default", svc, &got) == 0);
    json_object_set_new(got, "status",
                        json_pack("{s:{s:[{s:s}]}}", "loadBalancer", "ingress",
                                  "ip", "1.2.3.4"));
    /* the main resource ignores status ... */
    REQUIRE(kube_update(c, &KUBE_SERVICES, "default", "st", NULL, got, &o) ==
            0);
    CHECK(jutil_path(o, "status.loadBalancer.ingress") == NULL);
    json_object_set(o, "status", json_object_get(got, "status"));
    json_decref(got);
    got = NULL;
    /* ... the status subresource takes it */
    REQUIRE(kube_update(c, &KUBE_SERVICES, "default", "st", "status", o,
                        &got) == 0);
    CHECK(json_array_size(jutil_path(got, "status.loadBalancer.ingress")) == 1);
    kube_delete(c, &KUBE_SERVICES, "default", "st", NULL);
    json_decref(svc);
    json_decref(got);
    json_decref(o);
    kube_client_free(c);
}

struct collect {
    int n;
    json_t *names; /* owned */
    struct kube_client *c;
    int compact_at; /* compact history when n reaches this (0: never) */
    int compact_every;
};

static int
collect(void *ud, json_t *item)
{
    struct collect *s = ud;

    s->n++;
    json_object_set_new(s->names, jutil_path_str(item, "metadata.name"),
                        json_true());
    if ((s->compact_at && s->n == s->compact_at) ||
        (s->compact_every && s->n % s->compact_every == 0))
        fault(s->c, "{\"action\":\"compact\"}");
    return 0;
}

static int
stop_at_3(void *ud, json_t *item)
{
    int *n = ud;
    return ++*n == 3 ? 42 : 0;
}

TEST(kubeclient_list_pages_and_expired_continue)
{
    struct kube_client *c = client();
    /* the selector skips the namespace's kube-root-ca.crt */
    struct kube_list_opts lo = {.limit = 7, .label_selector = "parity"};
    struct collect s = {0};
    char name[32], *rv = NULL;
    int n = 0;

    REQUIRE(c != NULL);
    REQUIRE(ensure_ns(c, "pages") == 0);
    for (int i = 0; i < 25; i++) {
        json_t *o;
        snprintf(name, sizeof(name), "p%02d", i);
        o = cm(name, "k", i % 2 ? "odd" : "even");
        json_object_set_new(
            jutil_obj(o, "metadata"), "labels",
            json_pack("{s:s}", "parity", i % 2 ? "odd" : "even"));
        REQUIRE(kube_create(c, &KUBE_CONFIGMAPS, "pages", o, NULL) == 0);
        json_decref(o);
    }
    s.names = json_object();
    s.c = c;
    REQUIRE(kube_list(c, &KUBE_CONFIGMAPS, "pages", &lo, collect, &s, &rv) ==
            0);
    CHECK_INT(s.n, 25);
    CHECK_INT(json_object_size(s.names), 25);
    CHECK(rv != NULL && strtol(rv, NULL, 10) > 0);
    mem_free(rv);
    rv = NULL;
    /* label selector */
    json_object_clear(s.names);
    s.n = 0;
    lo.label_selector = "parity=odd";
    REQUIRE(kube_list(c, &KUBE_CONFIGMAPS, "pages", &lo, collect, &s, NULL) ==
            0);
    CHECK_INT(s.n, 12);
    lo.label_selector = "parity";
    /* the callback stops the list with its code */
    CHECK_INT(kube_list(c, &KUBE_CONFIGMAPS, "pages", &lo, stop_at_3, &n, NULL),
              42);
    /* the continue token expires after the first page: restart once */
    json_object_clear(s.names);
    s.n = 0;
    s.compact_at = 3;
    REQUIRE(kube_list(c, &KUBE_CONFIGMAPS, "pages", &lo, collect, &s, NULL) ==
            0);
    CHECK_INT(s.n, 25 + 7);
    CHECK_INT(json_object_size(s.names), 25);
    /* expiring every page: RC_GONE on the second expiry */
    s.n = 0;
    s.compact_at = 0;
    s.compact_every = 7;
    CHECK_INT(kube_list(c, &KUBE_CONFIGMAPS, "pages", &lo, collect, &s, NULL),
              RC_GONE);
    CHECK_INT(kube_last_status()->http_code, 410);
    CHECK_CONTAINS(errmsg_get(), "continue");
    json_decref(s.names);
    kube_client_free(c);
}

TEST(kubeclient_retries_500_then_success)
{
    struct kube_client *c = client();
    struct kube_client_opts none = {.max_retries = -1};
    struct kube_client *c0 = client_opts(&none);
    json_t *o = cm("r500", "a", "1"), *faults = NULL;

    REQUIRE(c != NULL && c0 != NULL);
    REQUIRE(kube_create(c, &KUBE_CONFIGMAPS, "default", o, NULL) == 0);
    REQUIRE(fault(c, "{\"action\":\"fail\",\"code\":500,\"count\":2,"
                     "\"path\":\"configmaps/r500$\"}") == 0);
    CHECK_INT(kube_get(c, &KUBE_CONFIGMAPS, "default", "r500", NULL), 0);
    /* both injected failures were consumed by the retries */
    REQUIRE(kube_request(c, "GET", "/emulator/faults", NULL, NULL, 0,
                         &faults) == 0);
    CHECK_INT(json_array_size(jutil_arr(faults, "faults")), 0);
    json_decref(faults);
    /* without retries the 500 comes back as RC_AGAIN with the message */
    REQUIRE(fault(c, "{\"action\":\"fail\",\"code\":503,\"count\":1,"
                     "\"path\":\"configmaps/r500$\"}") == 0);
    CHECK_INT(kube_get(c0, &KUBE_CONFIGMAPS, "default", "r500", NULL),
              RC_AGAIN);
    CHECK_INT(kube_last_status()->http_code, 503);
    CHECK_CONTAINS(errmsg_get(), "unable to handle the request");
    /* more failures than retries: RC_AGAIN after max_retries + 1 calls */
    REQUIRE(fault(c, "{\"action\":\"fail\",\"code\":500,\"count\":100,"
                     "\"path\":\"configmaps/r500$\"}") == 0);
    CHECK_INT(kube_get(c, &KUBE_CONFIGMAPS, "default", "r500", NULL), RC_AGAIN);
    REQUIRE(kube_request(c, "GET", "/emulator/faults", NULL, NULL, 0,
                         &faults) == 0);
    CHECK_INT(json_integer_value(jutil_path(
                  json_array_get(jutil_arr(faults, "faults"), 0), "hits")),
              6);
    json_decref(faults);
    clear_faults(c);
    /* 4xx other than 409/429 are not retried */
    REQUIRE(fault(c, "{\"action\":\"fail\",\"code\":403,\"count\":1,"
                     "\"path\":\"configmaps/r500$\"}") == 0);
    CHECK_INT(kube_get(c, &KUBE_CONFIGMAPS, "default", "r500", NULL),
              RC_DENIED);
    CHECK_INT(kube_get(c, &KUBE_CONFIGMAPS, "default", "r500", NULL), 0);
    kube_delete(c, &KUBE_CONFIGMAPS, "default", "r500", NULL);
    json_decref(o);
    kube_client_free(c0);
    kube_client_free(c);
}

TEST(kubeclient_429_honours_retry_after)
{
    struct kube_client_opts opts = {.backoff_base_ms = 10,
                                    .backoff_max_ms = 20};
    struct kube_client_opts none = {.max_retries = -1};
    struct kube_client *c = client_opts(&opts), *c0 = client_opts(&none);
    int64_t t0, dt;

    REQUIRE(c != NULL && c0 != NULL);
    REQUIRE(fault(c, "{\"action\":\"fail\",\"code\":429,\"count\":1,"
                     "\"retryAfter\":2,\"path\":\"^/api/v1/namespaces/"
                     "default$\"}") == 0);
    t0 = mono_ms();
    CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL), 0);
    dt = mono_ms() - t0;
    /* the backoff alone would wait <= 20 ms */
    if (dt < 2000 || dt > 8000)
        harness_fail(__FILE__, __LINE__, "waited %lld ms for Retry-After 2",
                     (long long)dt);
    REQUIRE(fault(c, "{\"action\":\"fail\",\"code\":429,\"count\":1,"
                     "\"retryAfter\":3,\"path\":\"^/api/v1/namespaces/"
                     "default$\"}") == 0);
    CHECK_INT(kube_get(c0, &KUBE_NAMESPACES, NULL, "default", NULL), RC_AGAIN);
    CHECK_INT(kube_last_status()->http_code, 429);
    CHECK_INT(kube_last_status()->retry_after_s, 3);
    CHECK_STR(kube_last_status()->reason, "TooManyRequests");
    kube_client_free(c0);
    kube_client_free(c);
}

struct incr_arg {
    struct kube_client *c;
    int n, conflicts, err;
};

static void *
incr_thread(void *ud)
{
    struct incr_arg *a = ud;

    for (int i = 0; i < a->n && !a->err; i++) {
        for (int tries = 0; tries < 100; tries++) {
            json_t *o = NULL; /* owned */
            char num[32];
            const char *v;
            int rc = kube_get(a->c, &KUBE_CONFIGMAPS, "default", "counter", &o);
            if (rc != 0) {
                a->err = rc;
                break;
            }
            v = jutil_path_str(o, "data.count");
            snprintf(num, sizeof(num), "%ld",
                     (v ? strtol(v, NULL, 10) : 0) + 1);
            json_object_set_new(jutil_obj(o, "data"), "count",
                                json_string(num));
            rc = kube_update(a->c, &KUBE_CONFIGMAPS, "default", "counter", NULL,
                             o, NULL);
            json_decref(o);
            if (rc == RC_CONFLICT) {
                a->conflicts++;
                continue;
            }
            if (rc != 0)
                a->err = rc;
            break;
        }
    }
    return NULL;
}

TEST(kubeclient_conflict_retry_loop_two_writers)
{
    struct kube_client *c = client();
    struct incr_arg a = {0}, b = {0};
    pthread_t ta, tb;
    json_t *o = cm("counter", "count", "0");
    json_t *got = NULL;

    REQUIRE(c != NULL);
    kube_delete(c, &KUBE_CONFIGMAPS, "default", "counter", NULL);
    REQUIRE(kube_create(c, &KUBE_CONFIGMAPS, "default", o, NULL) == 0);
    a.c = b.c = c; /* one client shared by two threads */
    a.n = b.n = 20;
    pthread_create(&ta, NULL, incr_thread, &a);
    pthread_create(&tb, NULL, incr_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_INT(a.err, 0);
    CHECK_INT(b.err, 0);
    REQUIRE(kube_get(c, &KUBE_CONFIGMAPS, "default", "counter", &got) == 0);
    CHECK_STR(jutil_path_str(got, "data.count"), "40");
    printf("    (409 conflicts seen by the writers: %d)\n",
           a.conflicts + b.conflicts);
    json_decref(got);
    json_decref(o);
    kube_client_free(c);
}

static int
write_file(const char *path, const char *text)
{
    char tmp[600];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    fclose(f);
    return rename(tmp, path); /* atomic, like the kubelet's swap */
}

TEST(kubeclient_token_file_rotation)
{
    struct kube_client *admin = client(), *c = NULL;
    struct kube_config *cfg = NULL;
    struct kube_client_opts o = {.backoff_base_ms = 10};
    char tokpath[600], spec[300];

    REQUIRE(admin != NULL);
    REQUIRE(fault(admin, "{\"action\":\"add-token\",\"token\":\"rot-one\","
                         "\"groups\":[\"system:masters\"]}") == 0);
    snprintf(tokpath, sizeof(tokpath), "%s/rot-token", E.dir);
    REQUIRE(write_file(tokpath, "rot-one\n") == 0);
    REQUIRE(kube_config_from_file(&cfg, E.kc, NULL) == 0);
    mem_free(cfg->token);
    cfg->token = NULL;
    cfg->token_file = mem_strdup(tokpath);
    REQUIRE(kube_client_new(&c, cfg, &o) == 0);
    CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL), 0);
    /* rotate: the new token is written, the old one stops working */
    REQUIRE(fault(admin, "{\"action\":\"add-token\",\"token\":\"rot-two\","
                         "\"groups\":[\"system:masters\"]}") == 0);
    REQUIRE(write_file(tokpath, "rot-two") == 0);
    REQUIRE(fault(admin,
                  "{\"action\":\"remove-token\",\"token\":\"rot-one\"}") == 0);
    /* within 60 s the client still sends rot-one: 401, re-read, retry */
    CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL), 0);
    CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL), 0);
    /* a token file with a token the server does not know: RC_DENIED */
    REQUIRE(write_file(tokpath, "rot-unknown") == 0);
    snprintf(spec, sizeof(spec),
             "{\"action\":\"remove-token\",\"token\":\"rot-two\"}");
    REQUIRE(fault(admin, spec) == 0);
    CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL), RC_DENIED);
    CHECK_INT(kube_last_status()->http_code, 401);
    /* a missing token file at start is an error */
    mem_free(cfg->token_file);
    cfg->token_file = mem_strdup("/nonexistent/token");
    kube_client_free(c);
    c = NULL;
    CHECK_INT(kube_client_new(&c, cfg, &o), RC_IO);
    CHECK(c == NULL);
    kube_config_free(cfg);
    kube_client_free(admin);
}

/* A client for the emulator with TLS settings changed by `edit`. */
static int
tls_client_rc(void (*edit)(struct kube_config *))
{
    struct kube_config *cfg = NULL;
    struct kube_client *c = NULL;
    struct kube_client_opts o = {.max_retries = -1};
    int rc;

    if (emu_start() != 0 || kube_config_from_file(&cfg, E.kc, NULL) != 0)
        return RC_INTERNAL;
    edit(cfg);
    rc = kube_client_new(&c, cfg, &o);
    if (rc == 0)
        rc = kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL);
    kube_client_free(c);
    kube_config_free(cfg);
    return rc;
}

static void
edit_none(struct kube_config *cfg)
{
}

static void
edit_sni_ok(struct kube_config *cfg)
{
    cfg->tls_server_name = mem_strdup("kubernetes.default.svc");
}

static void
edit_sni_bad(struct kube_config *cfg)
{
    cfg->tls_server_name = mem_strdup("not-the-apiserver.example");
}

static void
edit_no_ca(struct kube_config *cfg)
{
    mem_free(cfg->ca_pem);
    cfg->ca_pem = NULL;
}

static void
edit_insecure(struct kube_config *cfg)
{
    edit_no_ca(cfg);
    cfg->insecure = 1;
}

/* a different, real CA (the first one of the system bundle): the
 * emulator's certificate does not chain to it */
static void
edit_other_ca(struct kube_config *cfg)
{
    char *all = NULL, *end;

    mem_free(cfg->ca_pem);
    cfg->ca_pem = NULL;
    if (kube_read_file(&all, NULL, "/etc/ssl/certs/ca-certificates.crt",
                       (size_t)4 << 20, "bundle") != 0)
        return;
    end = strstr(all, "-----END CERTIFICATE-----\n");
    if (end != NULL) {
        end[strlen("-----END CERTIFICATE-----\n")] = '\0';
        cfg->ca_pem = mem_strdup(strstr(all, "-----BEGIN CERTIFICATE-----"));
    }
    mem_free(all);
}

static void
edit_bad_client_key(struct kube_config *cfg)
{
    cfg->client_cert_pem = mem_strdup(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    cfg->client_key_pem = mem_strdup(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
}

TEST(kubeclient_tls_variants)
{
    CHECK_INT(tls_client_rc(edit_none), 0);
    CHECK_INT(tls_client_rc(edit_sni_ok), 0);
    CHECK_INT(tls_client_rc(edit_sni_bad), RC_TLS);
    CHECK_CONTAINS(errmsg_get(), "not-the-apiserver.example");
    /* the emulator's CA is not in the system store */
    CHECK_INT(tls_client_rc(edit_no_ca), RC_TLS);
    CHECK_INT(tls_client_rc(edit_insecure), 0);
    if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
        CHECK_INT(tls_client_rc(edit_other_ca), RC_TLS);
    CHECK_INT(tls_client_rc(edit_bad_client_key), RC_TLS);
}

TEST(kubeclient_connection_errors_retried)
{
    struct kube_client_opts o = {
        .backoff_base_ms = 100, .backoff_max_ms = 1000, .max_retries = 8};
    struct kube_client *c = client_opts(&o);
    struct kube_client_opts none = {.max_retries = -1, .timeout_ms = 2000};
    struct kube_client *c0 = client_opts(&none);
    struct kube_config *cfg = NULL;
    struct kube_client *dead = NULL;

    REQUIRE(c != NULL && c0 != NULL);
    /* the server drops every connection for 1 s */
    REQUIRE(fault(c, "{\"action\":\"restart\",\"downSeconds\":1}") == 0);
    usleep(300000);
    CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL), 0);
    /* nothing listens: RC_IO without retries */
    REQUIRE(kube_config_from_file(&cfg, E.kc, NULL) == 0);
    mem_free(cfg->server);
    cfg->server = mem_strdup("https://127.0.0.1:1");
    REQUIRE(kube_client_new(&dead, cfg, &none) == 0);
    CHECK_INT(kube_get(dead, &KUBE_NAMESPACES, NULL, "default", NULL), RC_IO);
    CHECK_INT(kube_last_status()->http_code, 0);
    kube_client_free(dead);
    kube_config_free(cfg);
    /* a slow answer past the timeout: RC_TIMEOUT */
    REQUIRE(fault(c, "{\"action\":\"delay\",\"delayMs\":3000,\"count\":1,"
                     "\"path\":\"namespaces/kube-system$\"}") == 0);
    CHECK_INT(kube_get(c0, &KUBE_NAMESPACES, NULL, "kube-system", NULL),
              RC_TIMEOUT);
    clear_faults(c);
    kube_client_free(c0);
    kube_client_free(c);
}

TEST(kubeclient_response_cap)
{
    struct kube_client_opts o = {.max_body = 300, .max_retries = -1};
    struct kube_client *c = client_opts(&o);

    REQUIRE(c != NULL);
    CHECK_INT(
        kube_list(c, &KUBE_NAMESPACES, NULL, NULL, stop_at_3, &(int){0}, NULL),
        RC_LIMIT);
    CHECK_CONTAINS(errmsg_get(), "larger than 300");
    kube_client_free(c);
}

static size_t
sink(char *p, size_t size, size_t n, void *ud)
{
    buf_add(ud, p, size * n);
    return size * n;
}

TEST(kubeclient_setup_easy_for_watchers)
{
    struct kube_client_opts o = {.gzip = 1};
    struct kube_client *c = client_opts(&o);
    CURL *h = curl_easy_init();
    void *hdrs = NULL;
    struct buf b;
    long code = 0;

    REQUIRE(c != NULL && h != NULL);
    buf_init(&b, 0);
    REQUIRE(kube_client_setup_easy(c, h, "/api/v1/namespaces?limit=1", &hdrs) ==
            0);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    CHECK_INT(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    CHECK_INT(code, 200);
    CHECK_CONTAINS(b.ptr, "NamespaceList");
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    buf_cleanup(&b);
    kube_client_free(c);
}

/* Sequential calls reuse the pooled keep-alive connection; the counters
 * add up. */
TEST(kubeclient_connection_reuse_and_stats)
{
    struct kube_client *c = client();
    struct kube_client_stats st;

    REQUIRE(c != NULL);
    for (int i = 0; i < 30; i++)
        CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL), 0);
    CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "nope", NULL), RC_NOTFOUND);
    kube_client_stats(c, &st);
    CHECK_INT(st.attempts, 31);
    CHECK_INT(st.connects, 1);
    CHECK_INT(st.retries, 0);
    CHECK_INT(st.failures, 1);
    REQUIRE(fault(c, "{\"action\":\"fail\",\"code\":500,\"count\":2,"
                     "\"path\":\"namespaces/default$\"}") == 0);
    CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL), 0);
    kube_client_stats(c, &st);
    CHECK_INT(st.attempts, 35);
    CHECK_INT(st.retries, 2);
    kube_client_free(c);
}

struct hammer {
    struct kube_client *c;
    int ok;
};

static void *
hammer_thread(void *ud)
{
    struct hammer *h = ud;

    for (int i = 0; i < 25; i++) {
        json_t *o = NULL;
        if (kube_get(h->c, &KUBE_NAMESPACES, NULL, "default", &o) == 0 &&
            strcmp(jutil_path_str(o, "metadata.name"), "default") == 0)
            h->ok++;
        json_decref(o);
    }
    return NULL;
}

/* One client, eight threads: the pool, share locks and token lock hold. */
TEST(kubeclient_threads_share_a_client)
{
    struct kube_client *c = client();
    struct hammer h[8];
    pthread_t t[8];

    REQUIRE(c != NULL);
    for (int i = 0; i < 8; i++) {
        h[i] = (struct hammer){c, 0};
        pthread_create(&t[i], NULL, hammer_thread, &h[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(h[i].ok, 25);
    }
    kube_client_free(c);
}

/* In-cluster: ca.crt rotates after the client was made; a verification
 * failure re-reads it and the call succeeds. */
TEST(kubeclient_in_cluster_ca_rotation)
{
    struct kube_client *c = NULL, *admin = client();
    struct kube_config *cfg = NULL;
    struct kube_client_opts o = {.max_retries = -1};
    char root[600], sa[700], path[800], port[16], *ca = NULL, *host = NULL;
    char *portenv = NULL;
    const char *tmp;

    REQUIRE(admin != NULL);
    tmp = getenv("KUBERNETES_SERVICE_HOST");
    host = tmp ? mem_strdup(tmp) : NULL;
    tmp = getenv("KUBERNETES_SERVICE_PORT");
    portenv = tmp ? mem_strdup(tmp) : NULL;
    snprintf(root, sizeof(root), "%s/icrot", E.dir);
    snprintf(sa, sizeof(sa), "%s/var/run/secrets/kubernetes.io/serviceaccount",
             root);
    for (char *p = sa + strlen(E.dir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(sa, 0700);
            *p = '/';
        }
    mkdir(sa, 0700);
    snprintf(path, sizeof(path), "%s/token", sa);
    REQUIRE(write_file(path, E.token) == 0);
    /* first a CA that does not match the server */
    snprintf(path, sizeof(path), "%s/ca.crt", sa);
    REQUIRE(kube_config_from_file(&cfg, E.kc, NULL) == 0);
    edit_other_ca(cfg);
    REQUIRE(write_file(path, cfg->ca_pem ? cfg->ca_pem
                                         : "-----BEGIN CERTIFICATE-----\n"
                                           "-----END CERTIFICATE-----\n") == 0);
    kube_config_free(cfg);
    cfg = NULL;
    snprintf(port, sizeof(port), "%d", E.port);
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    REQUIRE(kube_config_in_cluster(&cfg, root) == 0);
    CHECK(cfg->ca_file != NULL);
    REQUIRE(kube_client_new(&c, cfg, &o) == 0);
    CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL), RC_TLS);
    /* the kubelet writes the real CA */
    REQUIRE(kube_read_file(&ca, NULL, E.ca, 1 << 20, "ca") == 0);
    REQUIRE(write_file(path, ca) == 0);
    CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL), 0);
    CHECK_INT(kube_get(c, &KUBE_NAMESPACES, NULL, "default", NULL), 0);
    kube_client_free(c);
    kube_config_free(cfg);
    mem_free(ca);
    if (host)
        setenv("KUBERNETES_SERVICE_HOST", host, 1);
    else
        unsetenv("KUBERNETES_SERVICE_HOST");
    if (portenv)
        setenv("KUBERNETES_SERVICE_PORT", portenv, 1);
    else
        unsetenv("KUBERNETES_SERVICE_PORT");
    mem_free(host);
    mem_free(portenv);
    kube_client_free(admin);
}
