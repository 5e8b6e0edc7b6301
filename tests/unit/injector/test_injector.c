/* test_injector.c: the whole pipeline over the fixture corpus
 * (tests/data/inject/): refusals and skips, exactly one istio-init and
 * istio-proxy, the patch (applied with lib/jpatch and with Debian's
 * python3-jsonpatch) gives the mutated pod, re-injection is idempotent;
 * plus fault injection and allocation counts (timings: bench/inject). */
#include "tests/unit/harness.h"
#include "tests/unit/injector/injtest.h"
#include "lib/jpatch.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static int
is_bad(const char *name)
{
    return strncmp(name, "traffic-annotations-bad-", 24) == 0 ||
           strcmp(name, "all-bad") == 0;
}

static int
is_skipped(const char *name)
{
    return strcmp(name, "hello-host-network") == 0 ||
           strcmp(name, "hello-ignore") == 0 ||
           strcmp(name, "hello-label-ignore") == 0 ||
           strcmp(name, "kube-system") == 0;
}

/* patch_ok: no op replaces or removes a whole document part */
static int
patch_ok(const json_t *patch)
{
    size_t i;
    json_t *op;

    json_array_foreach(patch, i, op)
    {
        const char *path = jutil_str(op, "path");
        const char *o = jutil_str(op, "op");
        if (path == NULL || o == NULL || strcmp(path, "") == 0 ||
            strcmp(path, "/spec") == 0 || strcmp(path, "/metadata") == 0 ||
            strcmp(path, "/spec/containers") == 0)
            return 0;
    }
    return 1;
}

TEST(inject_corpus_properties)
{
    struct inj_config *cfg = it_config();
    char **names = it_fixture_names();
    int seen = 0;

    REQUIRE(cfg != NULL);
    REQUIRE(names != NULL && names[0] != NULL);
    for (int i = 0; names[i]; i++) {
        json_t *pod = it_fixture(names[i]);
        json_t *applied = NULL;
        struct inj_result r1, r2;
        int rc;

        if (pod == NULL) {
            harness_fail(__FILE__, __LINE__, "fixture %s does not parse",
                         names[i]);
            continue;
        }
        seen++;
        json_t *before = json_deep_copy(pod); /* owned */
        rc = it_inject(cfg, pod, &r1);
        /* the result shares values with the input (copy on write): the
         * input must come out unchanged */
        if (!json_equal(pod, before))
            harness_fail(__FILE__, __LINE__, "%s: input pod modified",
                         names[i]);
        json_decref(before);
        if (is_bad(names[i])) {
            if (rc != RC_INVAL)
                harness_fail(__FILE__, __LINE__, "%s: rc %d, want RC_INVAL",
                             names[i], rc);
            CHECK(r1.pod == NULL && r1.patch == NULL);
            json_decref(pod);
            continue;
        }
        if (rc != 0) {
            harness_fail(__FILE__, __LINE__, "%s: rc %d: %s", names[i], rc,
                         errmsg_get());
            json_decref(pod);
            continue;
        }
        if (is_skipped(names[i])) {
            if (r1.injected || r1.pod || r1.patch)
                harness_fail(__FILE__, __LINE__, "%s: not skipped", names[i]);
            CHECK(r1.reason[0] != '\0');
            json_decref(pod);
            continue;
        }
        if (!r1.injected) {
            harness_fail(__FILE__, __LINE__, "%s: skipped: %s", names[i],
                         r1.reason);
            json_decref(pod);
            continue;
        }
        if (it_count(r1.pod, "spec.containers", "istio-proxy") != 1 ||
            it_count(r1.pod, "spec.initContainers", "istio-init") !=
                (strcmp(names[i], "interception-none") == 0 ? 0 : 1))
            harness_fail(__FILE__, __LINE__, "%s: wrong sidecar count",
                         names[i]);
        if (!patch_ok(r1.patch))
            harness_fail(__FILE__, __LINE__, "%s: patch replaces too much",
                         names[i]);
        if (jpatch_apply(&applied, pod, r1.patch) != 0 ||
            !json_equal(applied, r1.pod))
            harness_fail(__FILE__, __LINE__,
                         "%s: patch does not apply to "
                         "the mutated pod",
                         names[i]);
        json_decref(applied);
        /* idempotency: injecting the output gives the output (and leaves
         * the output, shared with the second result, unchanged) */
        before = json_deep_copy(r1.pod);
        rc = it_inject(cfg, r1.pod, &r2);
        if (!json_equal(r1.pod, before))
            harness_fail(__FILE__, __LINE__, "%s: re-injected pod modified",
                         names[i]);
        json_decref(before);
        if (rc != 0 || !r2.injected || !json_equal(r1.pod, r2.pod)) {
            char *a = json_dumps(r1.pod, JSON_COMPACT | JSON_SORT_KEYS);
            char *b = r2.pod ? json_dumps(r2.pod, JSON_COMPACT | JSON_SORT_KEYS)
                             : NULL;
            harness_fail(__FILE__, __LINE__,
                         "%s: not idempotent (rc %d %s)\n%s\n%s", names[i], rc,
                         errmsg_get(), a, b ? b : "");
            free(a);
            free(b);
        } else if (json_array_size(r2.patch) != 0) {
            harness_fail(__FILE__, __LINE__,
                         "%s: re-injection patch not "
                         "empty",
                         names[i]);
        }
        inj_result_cleanup(&r2);
        inj_result_cleanup(&r1);
        json_decref(pod);
    }
    CHECK(seen >= 40);
    it_names_free(names);
    inj_config_free(cfg);
}

TEST(inject_refused_pod_leaves_result_empty)
{
    struct inj_config *cfg = it_config();
    json_t *pod = it_fixture("traffic-annotations-bad-includeipranges");
    struct inj_result res;

    REQUIRE(cfg && pod);
    memset(&res, 0x5a, sizeof(res));
    CHECK_INT(it_inject(cfg, pod, &res), RC_INVAL);
    CHECK(res.pod == NULL && res.patch == NULL && res.injected == 0);
    CHECK_CONTAINS(errmsg_get(),
                   "for annotation "
                   "'traffic.sidecar.istio.io/includeOutboundIPRanges'");
    json_decref(pod);
    inj_config_free(cfg);
}

TEST(inject_malformed_pods_refused)
{
    static const char *const bad[] = {
        "[]",
        "{\"spec\":{}}",
        "{\"spec\":{\"containers\":{}}}",
        "{\"metadata\":[],\"spec\":{\"containers\":[]}}",
        "{\"metadata\":{\"annotations\":{\"a\":1}},"
        "\"spec\":{\"containers\":[]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"a\"}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"a\"}],"
        "\"initContainers\":[{\"name\":\"a\"}]}}",
        "{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"a\"}],\"volumes\":[1]}}",
    };
    struct inj_config *cfg = it_config();

    REQUIRE(cfg != NULL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *pod = json_loads(bad[i], 0, NULL);
        struct inj_result res;
        REQUIRE(pod != NULL);
        if (it_inject(cfg, pod, &res) != RC_INVAL)
            harness_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
        CHECK(res.pod == NULL);
        json_decref(pod);
    }
    inj_config_free(cfg);
}

TEST(inject_env_overrides_from_webhook_path)
{
    struct inj_config *cfg = it_config();
    json_t *pod = it_fixture("hello");
    json_t *ov = json_pack("{s:s, s:s}", "ISTIO_META_CLUSTER_ID", "east",
                           "ISTIO_META_NETWORK", "net1");
    struct inj_input in = {.pod = pod, .ns = "default", .env_overrides = ov};
    struct inj_result res;

    REQUIRE(cfg && pod && ov);
    REQUIRE(inj_pod_inject(cfg, &in, &res) == 0);
    CHECK_STR(it_env(it_proxy(res.pod), "ISTIO_META_CLUSTER_ID"), "east");
    CHECK_STR(it_env(it_proxy(res.pod), "ISTIO_META_NETWORK"), "net1");
    /* replaced in place, not duplicated */
    CHECK_INT(it_count(res.pod, "spec.containers", "istio-proxy"), 1);
    {
        int n = 0;
        size_t i;
        json_t *e;
        json_array_foreach(jutil_arr(it_proxy(res.pod), "env"), i, e) n +=
            strcmp(jutil_str(e, "name"), "ISTIO_META_CLUSTER_ID") == 0;
        CHECK_INT(n, 1);
    }
    inj_result_cleanup(&res);
    json_decref(ov);
    json_decref(pod);
    inj_config_free(cfg);
}

/* Fault injection: fail the n-th allocation for every n until the
 * injection needs no more; each failure is a clean RC_NOMEM with an empty
 * result, each success equals the reference (no silent degradation). */
static void
fault_sweep(const char *fixture, int reinject)
{
    struct inj_config *cfg = it_config();
    json_t *pod = it_fixture(fixture);
    struct inj_result ref, res;
    long n;
    int failures = 0;

    REQUIRE(cfg && pod);
    REQUIRE(it_inject(cfg, pod, &ref) == 0 && ref.injected);
    if (reinject) {
        json_decref(pod);
        pod = json_incref(ref.pod);
    }
    for (n = 1; n < 100000; n++) {
        int rc;
        mem_fail_set(n);
        rc = it_inject(cfg, pod, &res);
        long hits = mem_fail_hits();
        mem_fail_set(0);
        if (rc == 0) {
            if (!res.injected || !json_equal(res.pod, ref.pod)) {
                harness_fail(__FILE__, __LINE__,
                             "%s: allocation %ld failed silently", fixture, n);
                inj_result_cleanup(&res);
                break;
            }
            inj_result_cleanup(&res);
            if (hits == 0)
                break;
            continue;
        }
        failures++;
        if (rc != RC_NOMEM)
            harness_fail(__FILE__, __LINE__,
                         "%s: allocation %ld: rc %d (%s), want RC_NOMEM",
                         fixture, n, rc, errmsg_get());
        if (res.pod || res.patch || res.injected)
            harness_fail(__FILE__, __LINE__, "%s: result not empty", fixture);
    }
    CHECK(failures > 50);
    inj_result_cleanup(&ref);
    json_decref(pod);
    inj_config_free(cfg);
}

TEST(inject_fault_injection_typical_pod)
{
    fault_sweep("hello", 0);
}

TEST(inject_fault_injection_annotated_pod)
{
    fault_sweep("traffic-annotations", 0);
    fault_sweep("hello-probes", 0);
    /* the image built per pod (proxyImageType): no suffix dropped */
    fault_sweep("proxy-image-type", 0);
}

TEST(inject_fault_injection_reinjection)
{
    fault_sweep("hello-probes", 1);
    fault_sweep("proxy-override-runas", 1);
}

TEST(inject_config_load_fault_injection)
{
    for (long n = 1; n < 100000; n++) {
        struct inj_config *cfg = NULL;
        int rc;
        mem_fail_set(n);
        rc = inj_config_load(&cfg, NULL, 0, NULL, 0);
        long hits = mem_fail_hits();
        mem_fail_set(0);
        if (rc == 0) {
            CHECK(cfg != NULL);
            inj_config_free(cfg);
            if (hits == 0)
                break;
            continue;
        }
        if (rc != RC_NOMEM)
            harness_fail(__FILE__, __LINE__, "config alloc %ld: rc %d (%s)", n,
                         rc, errmsg_get());
        CHECK(cfg == NULL);
    }
}

/* An independent RFC 6902 implementation (Debian's python3-jsonpatch)
 * applies every patch of the corpus and must give the mutated pod. */
TEST(inject_patches_apply_with_python_jsonpatch)
{
    const char *py = "/usr/bin/python3";
    struct inj_config *cfg = it_config();
    char **names = it_fixture_names();
    char path[1024];
    FILE *list;
    int count = 0, status = 0;
    pid_t pid;

    REQUIRE(cfg && names);
    if (access(py, X_OK) != 0) {
        printf("skip: %s not found\n", py);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/patches.txt", harness_tmpdir());
    list = fopen(path, "w");
    REQUIRE(list != NULL);
    for (int i = 0; names[i]; i++) {
        json_t *pod = it_fixture(names[i]);
        struct inj_result res;
        char f[1024];
        if (pod && it_inject(cfg, pod, &res) == 0 && res.injected) {
            static const char *const parts[] = {"in", "patch", "out"};
            json_t *docs[] = {pod, res.patch, res.pod};
            for (int k = 0; k < 3; k++) {
                snprintf(f, sizeof(f), "%s/%s.%s.json", harness_tmpdir(),
                         names[i], parts[k]);
                json_dump_file(docs[k], f, JSON_COMPACT);
            }
            fprintf(list, "%s/%s\n", harness_tmpdir(), names[i]);
            count++;
            inj_result_cleanup(&res);
        }
        json_decref(pod);
    }
    fclose(list);
    pid = fork();
    if (pid == 0) {
        static const char script[] =
            "import json,sys\n"
            "try:\n import jsonpatch\n"
            "except ImportError:\n print('skip: no jsonpatch'); sys.exit(0)\n"
            "bad=0\n"
            "for b in open(sys.argv[1]).read().split():\n"
            " d=[json.load(open(b+'.'+k+'.json')) for k in "
            "('in','patch','out')]\n"
            " if jsonpatch.apply_patch(d[0],d[1])!=d[2]:\n"
            "  print('python jsonpatch mismatch:',b); bad=1\n"
            "sys.exit(bad)\n";
        execl(py, py, "-c", script, path, (char *)NULL);
        _exit(127);
    }
    REQUIRE(pid > 0);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(count >= 30);
out:
    it_names_free(names);
    inj_config_free(cfg);
}

/* allocs: how many allocations op(arg) makes, found with the fault
 * injector (allocation n fails iff n <= the count): deterministic, unlike
 * timings, which belong in bench/inject. */
static long
allocs(int (*op)(const void *), const void *arg)
{
    long lo = 0, hi = 1, h;

    for (;;) { /* find hi with no failure */
        mem_fail_set(hi);
        op(arg);
        h = mem_fail_hits();
        mem_fail_set(0);
        if (h == 0)
            break;
        lo = hi;
        hi *= 2;
    }
    while (hi - lo > 1) { /* lo fails (or is 0), hi does not */
        long mid = lo + (hi - lo) / 2;
        mem_fail_set(mid);
        op(arg);
        h = mem_fail_hits();
        mem_fail_set(0);
        if (h > 0)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static const struct inj_config *alloc_cfg;

static int
op_inject(const void *pod)
{
    struct inj_result res;
    int rc = it_inject(alloc_cfg, pod, &res);

    inj_result_cleanup(&res);
    return rc;
}

static int
op_copy(const void *pod)
{
    json_t *c = json_deep_copy(pod);
    int rc = c ? 0 : RC_NOMEM;

    json_decref(c);
    return rc;
}

/* The cost of a pod's own content is linear and small: 2000 extra env vars
 * cost the injection at most about one deep copy of them, and nothing per
 * env var beyond it (no copy per step, no quadratic behaviour). Counted in
 * allocations, which are deterministic. */
TEST(inject_allocations_linear_in_pod_size)
{
    struct inj_config *cfg = it_config();
    json_t *pod = it_fixture("hello");
    json_t *big = it_fixture("hello");
    json_t *env = json_array();
    long inj_small, inj_big, copy_small, copy_big;

    REQUIRE(cfg && pod && big && env);
    for (int i = 0; i < 2000; i++) {
        char n[32], v[64];
        snprintf(n, sizeof(n), "VAR_%d", i);
        snprintf(v, sizeof(v), "value-%d-with-some-length", i);
        json_array_append_new(env,
                              json_pack("{s:s, s:s}", "name", n, "value", v));
    }
    json_object_set_new(json_array_get(jutil_path(big, "spec.containers"), 0),
                        "env", env);
    alloc_cfg = cfg;
    inj_small = allocs(op_inject, pod);
    inj_big = allocs(op_inject, big);
    copy_small = allocs(op_copy, pod);
    copy_big = allocs(op_copy, big);
    printf("allocations: inject %ld (2000-env pod %ld), deep copy %ld "
           "(2000-env pod %ld)\n",
           inj_small, inj_big, copy_small, copy_big);
    CHECK(inj_small > 0 && copy_big > copy_small);
    CHECK(inj_big - inj_small <= (copy_big - copy_small) * 11 / 10);
    json_decref(big);
    json_decref(pod);
    inj_config_free(cfg);
}

struct thr {
    const struct inj_config *cfg;
    const json_t *pod, *want;
    int bad;
};

static void *
inject_worker(void *arg)
{
    struct thr *t = arg;

    for (int i = 0; i < 200; i++) {
        struct inj_result r;
        if (it_inject(t->cfg, t->pod, &r) != 0 || !json_equal(r.pod, t->want))
            t->bad++;
        inj_result_cleanup(&r);
    }
    return NULL;
}

/* One configuration shared by concurrent injections (the webhook's use):
 * the configuration is only read, every result is the same. */
TEST(inject_concurrent_with_shared_config)
{
    struct inj_config *cfg = it_config();
    json_t *pod = it_fixture("traffic-annotations");
    struct inj_result ref;
    struct thr t[4];
    pthread_t th[4];

    REQUIRE(cfg && pod);
    REQUIRE(it_inject(cfg, pod, &ref) == 0);
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){cfg, pod, ref.pod, 0};
        pthread_create(&th[i], NULL, inject_worker, &t[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(t[i].bad, 0);
    }
    inj_result_cleanup(&ref);
    json_decref(pod);
    inj_config_free(cfg);
}
