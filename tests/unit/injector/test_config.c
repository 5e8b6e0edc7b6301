/* test_config.c: configuration loading: the built-in defaults equal the
 * shipped ConfigMaps, every accepted input shape, unknown fields ignored,
 * wrong types refused naming the field, reference counting. */
#include "tests/unit/harness.h"
#include "tests/unit/injector/injtest.h"
#include "lib/yamljson.h"

#include <pthread.h>

/* manifest_data: data.<key> of a shipped manifest, parsed. */
static json_t *
manifest_data(const char *file, const char *key)
{
    size_t n = 0;
    char *text = it_read_file(file, &n);
    json_t *cm = NULL, *v = NULL;
    const char *s;

    if (text == NULL)
        return NULL;
    if (yj_load_one(&cm, text, n, NULL) == 0) {
        s = jutil_str(jutil_obj(cm, "data"), key);
        if (s == NULL || yj_load_one(&v, s, strlen(s), NULL) != 0)
            v = NULL;
    }
    json_decref(cm);
    free(text);
    return v;
}

TEST(config_defaults_equal_shipped_manifests)
{
    struct inj_config *cfg = it_config();
    json_t *dump, *c, *v, *m;

    REQUIRE(cfg != NULL);
    dump = inj_config_dump(cfg);
    c = manifest_data("manifests/istio-sidecar-injector.yaml", "config");
    v = manifest_data("manifests/istio-sidecar-injector.yaml", "values");
    m = manifest_data("manifests/istio-mesh.yaml", "mesh");
    REQUIRE(dump && c && v && m);
    CHECK(json_equal(json_object_get(dump, "config"), c));
    CHECK(json_equal(json_object_get(dump, "values"), v));
    CHECK(json_equal(json_object_get(dump, "mesh"), m));
    /* the facts the brief fixes */
    CHECK_STR(jutil_str(c, "policy"), "enabled");
    CHECK_STR(
        json_string_value(json_array_get(jutil_arr(c, "defaultTemplates"), 0)),
        "sidecar");
    CHECK_STR(jutil_path_str(m, "defaultConfig.discoveryAddress"),
              "mizzen-operator.istio-system.svc:15012");
    CHECK_STR(jutil_str(m, "trustDomain"), "cluster.local");
    CHECK(json_is_true(json_object_get(m, "enablePrometheusMerge")));
    CHECK(json_is_true(
        jutil_path(v, "sidecarInjectorWebhook.rewriteAppHTTPProbe")));
    CHECK_STR(jutil_path_str(v, "global.proxy.includeIPRanges"), "*");
    json_decref(m);
    json_decref(v);
    json_decref(c);
    json_decref(dump);
    inj_config_free(cfg);
}

TEST(config_dump_is_a_copy)
{
    struct inj_config *cfg = it_config();
    json_t *d1, *d2;

    REQUIRE(cfg != NULL);
    d1 = inj_config_dump(cfg);
    REQUIRE(d1 != NULL);
    json_object_set_new(jutil_obj(d1, "config"), "policy",
                        json_string("disabled"));
    d2 = inj_config_dump(cfg);
    CHECK_STR(jutil_path_str(d2, "config.policy"), "enabled");
    json_decref(d2);
    json_decref(d1);
    inj_config_free(cfg);
}

static const char *
image_of(const struct inj_config *cfg)
{
    static char img[256];
    struct inj_result r;

    img[0] = '\0';
    if (it_inject_fixture(cfg, "hello", &r) == 0 && r.pod)
        snprintf(img, sizeof(img), "%s", jutil_str(it_proxy(r.pod), "image"));
    inj_result_cleanup(&r);
    return img;
}

TEST(config_load_configmap_object_yaml)
{
    static const char cm[] =
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: istio-sidecar-injector, namespace: istio-system}\n"
        "data:\n"
        "  config: |\n"
        "    policy: enabled\n"
        "    injectedAnnotations: {example.com/team: mesh}\n"
        "  values: '{\"global\":{\"hub\":\"example.com/x\",\"tag\":\"1.2\","
        "\"imagePullSecrets\":[\"regcred\",{\"name\":\"other\"}],"
        "\"unknownField\":{\"deep\":[1,2]}},\"revision\":\"canary\"}'\n";
    struct inj_config *cfg = NULL;
    struct inj_result r;

    REQUIRE(inj_config_load(&cfg, cm, strlen(cm), NULL, 0) == 0);
    CHECK_STR(image_of(cfg), "example.com/x/proxyv2:1.2");
    REQUIRE(it_inject_fixture(cfg, "hello-image-pull-secret", &r) == 0);
    /* defaults kept for what the document does not set */
    CHECK_STR(it_arg_after(it_init(r.pod), "-d"), "15090,15021,15020");
    CHECK_STR(it_annot(r.pod, "example.com/team"), "mesh");
    CHECK_STR(it_annot(r.pod, "istio.io/rev"), "canary");
    CHECK_CONTAINS(it_annot(r.pod, "sidecar.istio.io/status"),
                   "\"imagePullSecrets\":[\"regcred\",\"other\"],"
                   "\"revision\":\"canary\"}");
    /* the pod's own secret kept first, the values' appended */
    CHECK_STR(
        jutil_str(json_array_get(jutil_path(r.pod, "spec.imagePullSecrets"), 0),
                  "name"),
        "fooSecret");
    CHECK_INT(json_array_size(jutil_path(r.pod, "spec.imagePullSecrets")), 3);
    inj_result_cleanup(&r);
    inj_config_free(cfg);
}

TEST(config_load_data_map_and_structured_values)
{
    static const char data[] = "{\"config\":\"policy: disabled\","
                               "\"values\":{\"global\":{\"proxy\":{\"image\":"
                               "\"registry.local/mizzen/proxy:dev\"}}}}";
    struct inj_config *cfg = NULL;
    json_t *d;

    REQUIRE(inj_config_load(&cfg, data, strlen(data), NULL, 0) == 0);
    d = inj_config_dump(cfg);
    CHECK_STR(jutil_path_str(d, "config.policy"), "disabled");
    json_decref(d);
    /* an image with a '/' is used as is */
    {
        struct inj_config *on =
            it_config_parts(NULL,
                            "{\"global\":{\"proxy\":{\"image\":"
                            "\"registry.local/mizzen/proxy:dev\"}}}",
                            NULL);
        REQUIRE(on != NULL);
        CHECK_STR(image_of(on), "registry.local/mizzen/proxy:dev");
        inj_config_free(on);
    }
    inj_config_free(cfg);
}

TEST(config_mesh_shapes)
{
    static const char *const docs[] = {
        /* the ConfigMap */
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\n"
         "data:\n  mesh: |\n    trustDomain: a.example\n"),
        /* its data */
        "{\"mesh\": \"trustDomain: a.example\"}",
        /* the mesh config itself */
        "trustDomain: a.example\ndefaultConfig: {}\n",
        "trustDomain: a.example\n",
    };

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct inj_config *cfg = NULL;
        struct inj_result r;
        REQUIRE(inj_config_load(&cfg, NULL, 0, docs[i], strlen(docs[i])) == 0);
        REQUIRE(it_inject_fixture(cfg, "hello", &r) == 0);
        CHECK_STR(it_env(it_proxy(r.pod), "TRUST_DOMAIN"), "a.example");
        /* the rest of the mesh defaults stays (objects merge) */
        CHECK_STR(it_env(it_proxy(r.pod), "CA_ADDR"),
                  "mizzen-operator.istio-system.svc:15012");
        inj_result_cleanup(&r);
        inj_config_free(cfg);
    }
}

TEST(config_load_parts)
{
    struct inj_config *cfg = it_config_parts(
        "policy: enabled\n", "{\"global\":{\"tag\":\"9.9\"}}",
        "defaultConfig:\n  discoveryAddress: d:1\n  concurrency: 3\n"
        "enablePrometheusMerge: false\nproxyListenPort: 15111\n");
    struct inj_result r;

    REQUIRE(cfg != NULL);
    REQUIRE(it_inject_fixture(cfg, "hello", &r) == 0);
    CHECK_STR(jutil_str(it_proxy(r.pod), "image"),
              "ghcr.io/mizzen/proxyv2:9.9");
    CHECK_STR(it_env(it_proxy(r.pod), "CA_ADDR"), "d:1");
    CHECK_STR(it_arg_after(it_proxy(r.pod), "--concurrency"), "3");
    CHECK_STR(it_arg_after(it_init(r.pod), "-p"), "15111");
    /* mesh enablePrometheusMerge false: no merge */
    CHECK(it_annot(r.pod, "prometheus.io/port") == NULL);
    CHECK(it_env_entry(it_proxy(r.pod), "ISTIO_PROMETHEUS_ANNOTATIONS") ==
          NULL);
    inj_result_cleanup(&r);
    inj_config_free(cfg);
    /* empty texts are the defaults too */
    cfg = it_config_parts("", " \n", "");
    CHECK(cfg != NULL);
    inj_config_free(cfg);
}

TEST(config_wrong_types_name_the_field)
{
    static const char *const values[][2] = {
        {"{\"global\":{\"proxy\":{\"statusPort\":\"abc\"}}}",
         "global.proxy.statusPort"},
        {"{\"global\":{\"proxy\":{\"statusPort\":70000}}}",
         "global.proxy.statusPort"},
        {"{\"global\":{\"hub\":5}}", "global.hub"},
        {"{\"global\":{\"tag\":1.2}}", "global.tag"},
        {"{\"global\":\"x\"}", "global"},
        {"{\"global\":{\"proxy\":{\"privileged\":\"maybe\"}}}",
         "global.proxy.privileged"},
        {"{\"global\":{\"proxy\":{\"resources\":[]}}}",
         "global.proxy.resources"},
        {"{\"global\":{\"imagePullSecrets\":[1]}}", "global.imagePullSecrets"},
        {"{\"global\":{\"proxy\":{\"includeIPRanges\":\"bad\"}}}",
         "global.proxy.includeIPRanges"},
        {"{\"global\":{\"proxy\":{\"excludeInboundPorts\":\"*\"}}}",
         "global.proxy.excludeInboundPorts"},
        {"{\"sidecarInjectorWebhook\":{\"rewriteAppHTTPProbe\":3}}",
         "sidecarInjectorWebhook.rewriteAppHTTPProbe"},
    };
    static const char *const configs[][2] = {
        {"policy: 5", "policy"},
        {"defaultTemplates: [custom]", "defaultTemplates"},
        {"injectedAnnotations: {a: [1]}", "injectedAnnotations"},
        {"injectedAnnotations: {sidecar.istio.io/inject: 'false'}",
         "injectedAnnotations"},
        {"neverInjectSelector: 3", "neverInjectSelector"},
    };
    static const char *const meshes[][2] = {
        {"enablePrometheusMerge: maybe", "enablePrometheusMerge"},
        {"defaultConfig: {concurrency: x}", "concurrency"},
        {"defaultConfig: {bogus: 1}", "bogus"},
        {"defaultConfig: []", "defaultConfig"},
        {"trustDomain: [a]", "trustDomain"},
        {"proxyListenPort: -1", "proxyListenPort"},
    };
    struct inj_config *cfg = NULL;

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        int rc = inj_config_load_parts(&cfg, NULL, values[i][0], NULL);
        if (rc != RC_INVAL || strstr(errmsg_get(), values[i][1]) == NULL)
            harness_fail(__FILE__, __LINE__, "values %s: rc %d \"%s\"",
                         values[i][0], rc, errmsg_get());
        CHECK(cfg == NULL);
    }
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        int rc = inj_config_load_parts(&cfg, configs[i][0], NULL, NULL);
        if (rc != RC_INVAL || strstr(errmsg_get(), configs[i][1]) == NULL)
            harness_fail(__FILE__, __LINE__, "config %s: rc %d \"%s\"",
                         configs[i][0], rc, errmsg_get());
        CHECK(cfg == NULL);
    }
    for (size_t i = 0; i < sizeof(meshes) / sizeof(meshes[0]); i++) {
        int rc = inj_config_load_parts(&cfg, NULL, NULL, meshes[i][0]);
        if (rc != RC_INVAL || strstr(errmsg_get(), meshes[i][1]) == NULL)
            harness_fail(__FILE__, __LINE__, "mesh %s: rc %d \"%s\"",
                         meshes[i][0], rc, errmsg_get());
        CHECK(cfg == NULL);
    }
}

TEST(config_unknown_fields_ignored_and_lenient_scalars)
{
    struct inj_config *cfg = it_config_parts(
        "policy: enabled\ntemplates: {custom: 'x'}\nfoo: 1\n",
        "{\"istio_cni\":{\"enabled\":false},\"global\":{\"proxy\":{"
        "\"statusPort\":\"15020\",\"privileged\":\"false\","
        "\"tracer\":\"zipkin\"},\"defaultPodDisruptionBudget\":{}}}",
        "accessLogFile: /dev/stdout\nextensionProviders: []\n");
    CHECK(cfg != NULL);
    inj_config_free(cfg);
}

TEST(config_parse_errors)
{
    struct inj_config *cfg = NULL;

    CHECK_INT(inj_config_load_parts(&cfg, "policy: [", NULL, NULL), RC_PARSE);
    CHECK(cfg == NULL);
    CHECK_INT(inj_config_load(&cfg, "{", 1, NULL, 0), RC_PARSE);
    CHECK_INT(inj_config_load(&cfg, "[1]", 3, NULL, 0), RC_INVAL);
    CHECK_INT(inj_config_load(&cfg, "{\"values\": 3}", 13, NULL, 0), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "values");
    CHECK_INT(inj_config_load_parts(&cfg, "a: 1\n---\nb: 2\n", NULL, NULL),
              RC_PARSE);
}

static void *
ref_worker(void *arg)
{
    struct inj_config *cfg = arg;

    for (int i = 0; i < 20000; i++)
        inj_config_free(inj_config_ref(cfg));
    return NULL;
}

TEST(config_refcount_threads)
{
    struct inj_config *cfg = it_config();
    pthread_t t[4];
    json_t *d;

    REQUIRE(cfg != NULL);
    inj_config_free(NULL);
    CHECK(inj_config_ref(NULL) == NULL);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, ref_worker, cfg);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    /* still alive with one reference */
    d = inj_config_dump(cfg);
    CHECK(d != NULL);
    json_decref(d);
    inj_config_free(cfg);
}
