/* test_tmpl.c: the per-configuration template cache (injector/tmpl.c)
 * changes no byte of any result, and nothing an injection does edits it. */
#include "tests/unit/harness.h"
#include "tests/unit/injector/injtest.h"
#include "injector/inj_internal.h"

static const char *const configs[][3] = {
    {NULL, NULL, NULL},
    {"neverInjectSelector: [{matchLabels: {x: y}}]\n",
     "{\"global\":{\"imagePullSecrets\":[\"reg\"],\"variant\":\"debug\","
     "\"proxy\":{\"holdApplicationUntilProxyStarts\":true,"
     "\"excludeOutboundPorts\":\"25\",\"lifecycle\":{\"preStop\":{\"exec\":"
     "{\"command\":[\"sleep\",\"5\"]}}}}},\"revision\":\"r1\"}",
     "defaultConfig: {proxyMetadata: {A: b}, concurrency: 2, "
     "discoveryAddress: d:15012}\n"},
    {NULL, NULL, "defaultConfig: {interceptionMode: TPROXY}\n"},
    {NULL, NULL, "defaultConfig: {interceptionMode: NONE}\n"},
    {NULL, "{\"global\":{\"proxy\":{\"resources\":null,\"statusPort\":0}}}",
     NULL},
};

/* dump: the compact JSON text in document order (order is part of the
 * output), or "" */
static char *
dump(const json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

    return s ? s : strdup("");
}

/* same_without_cache: inject pod with and without the cache; both must
 * give the same rc, bytes of pod and patch. Returns the result (with the
 * cache) through *out when it injected. */
static void
same_without_cache(struct inj_config *cfg, const json_t *pod, const char *what,
                   json_t **out)
{
    struct inj_cache *saved = cfg->cache;
    struct inj_result a, b;
    int ra, rb;

    *out = NULL;
    ra = it_inject(cfg, pod, &a);
    cfg->cache = NULL;
    rb = it_inject(cfg, pod, &b);
    cfg->cache = saved;
    if (ra != rb) {
        harness_fail(__FILE__, __LINE__, "%s: rc %d with cache, %d without",
                     what, ra, rb);
    } else if (ra == 0) {
        char *pa = dump(a.pod), *pb = dump(b.pod);
        char *xa = dump(a.patch), *xb = dump(b.patch);
        if (strcmp(pa, pb) != 0 || strcmp(xa, xb) != 0)
            harness_fail(__FILE__, __LINE__,
                         "%s: differs with the cache\n%s\n%s", what, pa, pb);
        free(pa);
        free(pb);
        free(xa);
        free(xb);
        if (a.injected)
            *out = json_incref(a.pod);
    }
    inj_result_cleanup(&b);
    inj_result_cleanup(&a);
}

static char *
cache_dump(const struct inj_cache *c)
{
    json_t *all = json_pack("[O?,O?,O?,O?,O?,O?,O?,O?,O?,O?,O?,O?,O?,O?,O?,O?]",
                            c->init, c->proxy_args, c->ready, c->startup,
                            c->security, c->mounts, c->resources, c->lifecycle,
                            c->hold_lifecycle, c->ports, c->env, c->volumes,
                            c->names[0], c->names[1], c->names[2], c->names[3]);
    char *s = dump(all);

    json_decref(all);
    return s;
}

TEST(tmpl_cache_changes_no_byte)
{
    char **names = it_fixture_names();
    int compared = 0;

    REQUIRE(names != NULL);
    for (size_t k = 0; k < sizeof(configs) / sizeof(configs[0]); k++) {
        struct inj_config *cfg =
            it_config_parts(configs[k][0], configs[k][1], configs[k][2]);
        char *before;
        REQUIRE(cfg != NULL && cfg->cache != NULL);
        before = cache_dump(cfg->cache);
        for (int i = 0; names[i]; i++) {
            json_t *pod = it_fixture(names[i]), *r1 = NULL, *r2 = NULL;
            char what[256];
            if (pod == NULL)
                continue;
            snprintf(what, sizeof(what), "config %zu, %s", k, names[i]);
            same_without_cache(cfg, pod, what, &r1);
            if (r1 != NULL) { /* and its re-injection */
                snprintf(what, sizeof(what), "config %zu, %s again", k,
                         names[i]);
                same_without_cache(cfg, r1, what, &r2);
                compared++;
            }
            json_decref(r2);
            json_decref(r1);
            json_decref(pod);
        }
        /* overrides, env overrides, annotations: nothing edited the cache */
        char *after = cache_dump(cfg->cache);
        CHECK_STR(after, before);
        free(after);
        free(before);
        inj_config_free(cfg);
    }
    CHECK(compared > 100);
    it_names_free(names);
}

/* A pod without annotations under the default configuration takes its
 * sidecar parts from the cache (shared, not rebuilt). */
TEST(tmpl_default_pod_shares_cached_parts)
{
    struct inj_config *cfg = it_config();
    struct inj_result r;
    json_t *proxy;

    REQUIRE(cfg != NULL);
    REQUIRE(it_inject_fixture(cfg, "hello", &r) == 0);
    proxy = it_proxy(r.pod);
    CHECK(it_init(r.pod) == cfg->cache->init);
    CHECK(json_object_get(proxy, "args") == cfg->cache->proxy_args);
    CHECK(json_object_get(proxy, "securityContext") == cfg->cache->security);
    CHECK(json_object_get(proxy, "volumeMounts") == cfg->cache->mounts);
    CHECK_STR(it_annot(r.pod, "sidecar.istio.io/status"), cfg->cache->status);
    inj_result_cleanup(&r);
    /* an annotation that changes istio-init: built for the pod */
    REQUIRE(it_inject_fixture(cfg, "traffic-annotations", &r) == 0);
    CHECK(it_init(r.pod) != cfg->cache->init);
    inj_result_cleanup(&r);
    inj_config_free(cfg);
}
