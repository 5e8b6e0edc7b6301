/* fuzz_inject.c: the injector on arbitrary pods.
 *
 * Bytes -> JSON (if it parses) -> the pod as is and a few variants with
 * annotations derived from the input (interception modes, status port,
 * hold, traffic lists, a copied status). For every injection:
 *   - the rc is 0 or RC_INVAL/RC_LIMIT (never RC_NOMEM or a crash);
 *   - the output pod serialises to valid JSON that parses back equal;
 *   - the patch applied to the input gives the output;
 *   - injecting the output again gives the same pod (idempotency);
 *   - neither injection edits its input (the result shares values with it:
 *     copy on write). */
#include "injector/injector.h"
#include "lib/jpatch.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct inj_config *cfgs[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mem_init_jansson();
    if (inj_config_load(&cfgs[0], NULL, 0, NULL, 0) != 0 ||
        inj_config_load_parts(
            &cfgs[1],
            "neverInjectSelector: [{matchLabels: {security.istio.io/tlsMode: "
            "off}}]\ninjectedAnnotations: {example.com/a: b}\n",
            "{\"global\":{\"imagePullSecrets\":[\"reg\"],\"proxy\":{"
            "\"holdApplicationUntilProxyStarts\":true,"
            "\"excludeOutboundPorts\":\"25\"}},\"revision\":\"r1\"}",
            "defaultConfig: {proxyMetadata: {A: b}, concurrency: 2}\n") != 0)
        assert(!"fuzz_inject: config load failed");
    return 0;
}

static void
check_one(const struct inj_config *cfg, const json_t *pod)
{
    struct inj_input in = {.pod = pod, .ns = "fuzz"};
    struct inj_result r1, r2;
    json_t *applied = NULL, *back = NULL;
    json_t *before = json_deep_copy(pod); /* owned */
    char *text;
    int rc;

    assert(before != NULL);
    rc = inj_pod_inject(cfg, &in, &r1);
    /* the result shares values with the input: never edited */
    assert(json_equal(before, pod));
    json_decref(before);
    assert(rc == 0 || rc == RC_INVAL || rc == RC_LIMIT);
    if (rc != 0) {
        assert(r1.pod == NULL && r1.patch == NULL);
        return;
    }
    if (!r1.injected) {
        assert(r1.pod == NULL && r1.patch == NULL);
        return;
    }
    text = jutil_dumps(r1.pod, 0);
    assert(text != NULL);
    assert(jutil_parse(&back, text, strlen(text), NULL) == 0);
    assert(json_equal(back, r1.pod));
    json_decref(back);
    mem_free(text);

    assert(jpatch_apply(&applied, pod, r1.patch) == 0);
    assert(json_equal(applied, r1.pod));
    json_decref(applied);

    in.pod = r1.pod;
    before = json_deep_copy(r1.pod);
    assert(before != NULL);
    rc = inj_pod_inject(cfg, &in, &r2);
    assert(json_equal(before, r1.pod));
    json_decref(before);
    if (rc != 0 || (r2.injected && !json_equal(r1.pod, r2.pod))) {
        char *a = jutil_dumps(r1.pod, JSON_SORT_KEYS);
        char *b = r2.pod ? jutil_dumps(r2.pod, JSON_SORT_KEYS) : NULL;
        fprintf(stderr, "not idempotent (rc %d)\nfirst:  %s\nsecond: %s\n", rc,
                a, b ? b : "(none)");
        mem_free(a);
        mem_free(b);
        assert(!"injection is not idempotent");
    }
    inj_result_cleanup(&r2);
    inj_result_cleanup(&r1);
}

static uint32_t
hash(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* variant: a copy of pod with annotations chosen by bits of h */
static json_t *
variant(const json_t *pod, uint32_t h)
{
    static const char *const modes[] = {"REDIRECT", "TPROXY", "NONE",
                                        "REDIRECT"};
    static const char *const ports[] = {"15020", "0", "123", "8080"};
    json_t *v = json_deep_copy(pod);
    json_t *meta, *a;

    if (v == NULL || !json_is_object(v))
        return v;
    meta = json_object_get(v, "metadata");
    if (meta == NULL) {
        meta = json_object();
        json_object_set_new(v, "metadata", meta);
    }
    if (!json_is_object(meta))
        return v;
    a = json_object_get(meta, "annotations");
    if (a == NULL) {
        a = json_object();
        json_object_set_new(meta, "annotations", a);
    }
    if (!json_is_object(a))
        return v;
    json_object_set_new(a, "sidecar.istio.io/interceptionMode",
                        json_string(modes[h & 3]));
    json_object_set_new(a, "status.sidecar.istio.io/port",
                        json_string(ports[(h >> 2) & 3]));
    if (h & 16)
        json_object_set_new(
            a, "proxy.istio.io/config",
            json_string("holdApplicationUntilProxyStarts: true\n"
                        "proxyMetadata: {X: y}\nconcurrency: 1\n"));
    if (h & 32)
        json_object_set_new(a, "traffic.sidecar.istio.io/excludeInboundPorts",
                            json_string(" 1, 15020 ,3"));
    if (h & 64)
        json_object_set_new(a, "prometheus.io/port", json_string("9090"));
    if (h & 128)
        json_object_set_new(a, "sidecar.istio.io/rewriteAppHTTPProbers",
                            json_string("false"));
    if (h & 256)
        json_object_set_new(a, "sidecar.istio.io/userVolume",
                            json_string("{\"uv\":{\"emptyDir\":{}}}"));
    return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *pod = NULL, *v = NULL; /* owned */
    uint32_t h;

    if (size > (1 << 20) ||
        jutil_parse(&pod, (const char *)data, size, NULL) != 0)
        return 0;
    h = hash(data, size);
    check_one(cfgs[h & 1], pod);
    v = variant(pod, h >> 1);
    if (v != NULL)
        check_one(cfgs[(h >> 12) & 1], v);
    json_decref(v);
    json_decref(pod);
    return 0;
}
