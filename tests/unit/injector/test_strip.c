/* test_strip.c: re-injection of an already injected pod: the old
 * injection is stripped, so the result has exactly one istio-init and
 * istio-proxy and equals injecting the original. */
#include "tests/unit/harness.h"
#include "tests/unit/injector/injtest.h"

static int
reinject(const struct inj_config *cfg, const json_t *pod, struct inj_result *r)
{
    return it_inject(cfg, pod, r);
}

TEST(strip_istio_injected_pod_merge_probers)
{
    struct inj_result r;
    json_t *probers, *hello;
    const char *s;

    REQUIRE(it_inject_fixture(NULL, "merge-probers", &r) == 0);
    CHECK_INT(it_count(r.pod, "spec.containers", "istio-proxy"), 1);
    CHECK_INT(it_count(r.pod, "spec.initContainers", "istio-init"), 1);
    /* Istio's old SDS volumes are gone, ours are there once */
    CHECK_INT(it_count(r.pod, "spec.volumes", "workload-socket"), 0);
    CHECK_INT(it_count(r.pod, "spec.volumes", "istio-ca-crl"), 0);
    CHECK_INT(it_count(r.pod, "spec.volumes", "istio-envoy"), 1);
    CHECK_INT(it_count(r.pod, "spec.volumes", "istio-certs"), 1);
    CHECK_STR(jutil_str(it_proxy(r.pod), "image"),
              "ghcr.io/mizzen/proxyv2:0.1.0");
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_META_APP_CONTAINERS"),
              "hello,world");
    /* old probers merged with the new container's */
    s = it_env(it_proxy(r.pod), "ISTIO_KUBE_APP_PROBERS");
    probers = s ? json_loads(s, 0, NULL) : NULL;
    REQUIRE(probers != NULL);
    CHECK_INT(json_integer_value(jutil_path(
                  json_object_get(probers, "/app-health/hello/livez"),
                  "httpGet.port")),
              80);
    CHECK_INT(json_integer_value(jutil_path(
                  json_object_get(probers, "/app-health/hello/readyz"),
                  "httpGet.port")),
              3333);
    CHECK(json_object_get(probers, "/app-health/world/livez") != NULL);
    CHECK(json_object_get(probers, "/app-health/gone/livez") != NULL);
    json_decref(probers);
    hello = it_container(r.pod, "spec.containers", "hello");
    CHECK_HTTP_GET(hello, "livenessProbe", "/app-health/hello/livez", 15020);
    CHECK_STR(it_annot(r.pod, "prometheus.io/port"), "15020");
    CHECK_STR(it_annot(r.pod, "prometheus.io/path"), "/stats/prometheus");
    /* the app had no Prometheus annotations: Istio writes no env */
    CHECK(it_env_entry(it_proxy(r.pod), "ISTIO_PROMETHEUS_ANNOTATIONS") ==
          NULL);
    inj_result_cleanup(&r);
}

/* istio_shape turns our injection of hello-probes into what Istio's
 * classic template writes: its status (SDS volumes), its volumes, its
 * istio-init and an istio-proxy whose env holds the reference
 * ISTIO_KUBE_APP_PROBERS (section 3.2) and no ISTIO_PROMETHEUS_ANNOTATIONS
 * (the app had none); the merged prometheus.io annotations stay. */
static json_t *
istio_shape(const json_t *ours, const char *prom_env)
{
    static const char *const vols[] = {
        "workload-socket", "credential-socket", "workload-certs",
        "istio-envoy",     "istio-data",        "istio-podinfo",
        "istio-token",     "istiod-ca-cert",    "istio-ca-crl"};
    json_t *p = json_deep_copy(ours); /* owned */
    json_t *spec = jutil_obj(p, "spec");
    json_t *vl = json_array(), *env; /* owned */
    json_t *proxy;
    size_t i;
    json_t *v;

    json_array_foreach(jutil_arr(spec, "volumes"), i, v)
    {
        const char *n = jutil_str(v, "name");
        if (strncmp(n, "istio", 5) != 0 && strcmp(n, "istiod-ca-cert") != 0)
            json_array_append(vl, v);
    }
    for (i = 0; i < sizeof(vols) / sizeof(vols[0]); i++)
        json_array_append_new(
            vl, json_pack("{s:s,s:{}}", "name", vols[i], "emptyDir"));
    json_object_set_new(spec, "volumes", vl);
    env = json_pack(
        "[{s:s,s:s},{s:s,s:s}]", "name", "ISTIO_META_APP_CONTAINERS", "value",
        "hello,world", "name", "ISTIO_KUBE_APP_PROBERS", "value",
        "{\"/app-health/hello/livez\":{\"httpGet\":{\"port\":80}},"
        "\"/app-health/hello/readyz\":{\"httpGet\":{\"port\":3333}},"
        "\"/app-health/world/livez\":{\"httpGet\":{\"port\":90}},"
        "\"/app-lifecycle/hello/poststartz\":{\"tcpSocket\":{\"port\":93}},"
        "\"/app-lifecycle/hello/prestopz\":{\"httpGet\":{\"port\":91}}}");
    if (prom_env != NULL)
        json_array_append_new(env, json_pack("{s:s,s:s}", "name",
                                             "ISTIO_PROMETHEUS_ANNOTATIONS",
                                             "value", prom_env));
    proxy = it_container(p, "spec.containers", "istio-proxy");
    json_object_clear(proxy);
    json_object_set_new(proxy, "name", json_string("istio-proxy"));
    json_object_set_new(proxy, "image",
                        json_string("docker.io/istio/proxyv2:1.20.0"));
    json_object_set_new(proxy, "env", env);
    json_object_set_new(jutil_obj(jutil_obj(p, "metadata"), "annotations"),
                        "sidecar.istio.io/status",
                        json_string("{\"initContainers\":[\"istio-init\"],"
                                    "\"containers\":[\"istio-proxy\"],"
                                    "\"volumes\":[\"workload-socket\","
                                    "\"credential-socket\",\"workload-certs\","
                                    "\"istio-envoy\",\"istio-data\","
                                    "\"istio-podinfo\",\"istio-token\","
                                    "\"istiod-ca-cert\",\"istio-ca-crl\"],"
                                    "\"imagePullSecrets\":null,"
                                    "\"revision\":\"default\"}"));
    return p;
}

/* Re-injecting Istio's own classic output (probes rewritten, Prometheus
 * annotations merged to 15020 with no env, SDS volumes) gives what
 * injecting the original gives; so does an older mizzen output carrying
 * ISTIO_PROMETHEUS_ANNOTATIONS "{}" or Go's all-empty bytes. */
TEST(strip_istio_classic_output_equals_original)
{
    static const char *const envs[] = {NULL, "{}",
                                       "{\"scrape\":\"\",\"path\":\"\","
                                       "\"port\":\"\"}"};
    struct inj_config *cfg = it_config();
    json_t *pod = it_fixture("hello-probes");
    struct inj_result r1, r2;

    REQUIRE(cfg && pod);
    REQUIRE(it_inject(cfg, pod, &r1) == 0);
    CHECK(it_env_entry(it_proxy(r1.pod), "ISTIO_PROMETHEUS_ANNOTATIONS") ==
          NULL);
    for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
        json_t *istio = istio_shape(r1.pod, envs[i]);
        REQUIRE(istio != NULL);
        REQUIRE(it_inject(cfg, istio, &r2) == 0);
        if (!json_equal(r1.pod, r2.pod))
            harness_fail(__FILE__, __LINE__, "env %s: differs",
                         envs[i] ? envs[i] : "(none)");
        CHECK_INT(it_count(r2.pod, "spec.volumes", "workload-socket"), 0);
        inj_result_cleanup(&r2);
        json_decref(istio);
    }
    inj_result_cleanup(&r1);
    json_decref(pod);
    inj_config_free(cfg);
}

TEST(strip_restores_prometheus_annotations)
{
    struct inj_config *cfg = it_config();
    json_t *pod = it_fixture("prometheus-merge");
    struct inj_result r1, r2;
    json_t *env;

    REQUIRE(cfg && pod);
    REQUIRE(it_inject(cfg, pod, &r1) == 0);
    REQUIRE(reinject(cfg, r1.pod, &r2) == 0);
    env = json_loads(it_env(it_proxy(r2.pod), "ISTIO_PROMETHEUS_ANNOTATIONS"),
                     0, NULL);
    /* the app's own values, not the merged ones, in Go's bytes */
    CHECK_STR(jutil_str(env, "port"), "8080");
    CHECK_STR(jutil_str(env, "path"), "/metrics");
    CHECK_STR(it_env(it_proxy(r1.pod), "ISTIO_PROMETHEUS_ANNOTATIONS"),
              "{\"scrape\":\"true\",\"path\":\"/metrics\",\"port\":"
              "\"8080\"}");
    CHECK(json_equal(r1.pod, r2.pod));
    json_decref(env);
    inj_result_cleanup(&r2);
    inj_result_cleanup(&r1);
    json_decref(pod);
    inj_config_free(cfg);
}

TEST(strip_restores_probes_for_a_new_status_port)
{
    struct inj_config *cfg = it_config();
    json_t *pod = it_fixture("tcp-probes");
    struct inj_result r1, r2;
    json_t *hello;

    REQUIRE(cfg && pod);
    REQUIRE(it_inject(cfg, pod, &r1) == 0);
    /* re-inject with another status port: the probes follow it */
    json_object_set_new(jutil_path(r1.pod, "metadata.annotations"),
                        "status.sidecar.istio.io/port", json_string("4444"));
    REQUIRE(reinject(cfg, r1.pod, &r2) == 0);
    hello = it_container(r2.pod, "spec.containers", "hello");
    CHECK_INT(
        json_integer_value(jutil_path(hello, "readinessProbe.httpGet.port")),
        4444);
    CHECK_INT(
        json_integer_value(jutil_path(hello, "startupProbe.httpGet.port")),
        4444);
    CHECK_INT(
        json_integer_value(jutil_path(hello, "readinessProbe.timeoutSeconds")),
        5);
    CHECK_STR(it_arg_after(it_init(r2.pod), "-d"), "15090,15021,4444");
    CHECK_CONTAINS(it_env(it_proxy(r2.pod), "ISTIO_KUBE_APP_PROBERS"),
                   "\"/app-health/hello/startupz\":{\"grpc\":{\"port\":5555,"
                   "\"service\":null}}");
    inj_result_cleanup(&r2);
    inj_result_cleanup(&r1);
    json_decref(pod);
    inj_config_free(cfg);
}

TEST(strip_reinserts_user_overrides)
{
    struct inj_config *cfg = it_config();
    json_t *pod = it_fixture("proxy-override-runas");
    struct inj_result r1, r2;
    json_t *ov;

    REQUIRE(cfg && pod);
    REQUIRE(it_inject(cfg, pod, &r1) == 0);
    REQUIRE(reinject(cfg, r1.pod, &r2) == 0);
    CHECK(json_equal(r1.pod, r2.pod));
    CHECK_INT(it_count(r2.pod, "spec.containers", "istio-proxy"), 1);
    ov = json_loads(it_annot(r2.pod, "proxy.istio.io/overrides"), 0, NULL);
    /* the record is still the user's original container */
    CHECK(json_equal(json_array_get(jutil_arr(ov, "containers"), 0),
                     it_container(pod, "spec.containers", "istio-proxy")));
    json_decref(ov);
    inj_result_cleanup(&r2);
    inj_result_cleanup(&r1);
    json_decref(pod);
    inj_config_free(cfg);
}

TEST(strip_follows_config_changes)
{
    struct inj_config *cfg = it_config();
    struct inj_config *none = it_config_parts(
        NULL, NULL, "defaultConfig: {interceptionMode: NONE}\n");
    json_t *pod = it_fixture("multi-init");
    struct inj_result r1, r2;

    REQUIRE(cfg && none && pod);
    REQUIRE(it_inject(cfg, pod, &r1) == 0);
    REQUIRE(reinject(none, r1.pod, &r2) == 0);
    CHECK_INT(it_count(r2.pod, "spec.initContainers", "istio-init"), 0);
    CHECK_INT(json_array_size(jutil_path(r2.pod, "spec.initContainers")), 2);
    CHECK_CONTAINS(it_annot(r2.pod, "sidecar.istio.io/status"),
                   "\"initContainers\":null");
    inj_result_cleanup(&r2);
    inj_result_cleanup(&r1);
    json_decref(pod);
    inj_config_free(none);
    inj_config_free(cfg);
}

TEST(strip_ignores_malformed_status)
{
    struct inj_result r;

    /* bad status JSON: ignored (as Istio); the declared istio-proxy is
     * then a user override */
    REQUIRE(it_inject_json(NULL,
                           "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                           "\"sidecar.istio.io/status\":\"not json\"}},"
                           "\"spec\":{\"containers\":[{\"name\":\"a\"},"
                           "{\"name\":\"istio-proxy\",\"image\":\"x/y:1\"}]}}",
                           &r) == 0);
    CHECK_INT(it_count(r.pod, "spec.containers", "istio-proxy"), 1);
    CHECK_STR(jutil_str(it_proxy(r.pod), "image"), "x/y:1");
    CHECK(it_annot(r.pod, "proxy.istio.io/overrides") != NULL);
    CHECK_CONTAINS(it_annot(r.pod, "sidecar.istio.io/status"),
                   "{\"initContainers\":[\"istio-init\"]");
    inj_result_cleanup(&r);
}

TEST(strip_twice_injected_many_times)
{
    struct inj_config *cfg = it_config();
    json_t *pod = it_fixture("hello-probes");
    struct inj_result r1;

    REQUIRE(cfg && pod);
    REQUIRE(it_inject(cfg, pod, &r1) == 0);
    for (int i = 0; i < 5; i++) {
        struct inj_result r2;
        REQUIRE(reinject(cfg, r1.pod, &r2) == 0);
        CHECK(json_equal(r1.pod, r2.pod));
        CHECK_INT(json_array_size(r2.patch), 0);
        inj_result_cleanup(&r1);
        r1 = r2;
    }
    inj_result_cleanup(&r1);
    json_decref(pod);
    inj_config_free(cfg);
}

/* found by fuzz_inject: a stale proxy.istio.io/overrides (no user
 * istio-proxy, other names) must neither survive nor be re-inserted */
TEST(strip_stale_overrides_annotation)
{
    struct inj_config *cfg = it_config();
    json_t *pod = json_loads(
        "{\"metadata\":{\"annotations\":{\"proxy.istio.io/overrides\":"
        "\"{\\\"containers\\\":[{\\\"name\\\":\\\"istiO-proxy\\\"},"
        "{\\\"name\\\":\\\"istio-proxy\\\",\\\"image\\\":\\\"auto\\\"}]}\"}},"
        "\"spec\":{\"containers\":[{\"name\":\"app\"}]}}",
        0, NULL);
    struct inj_result r1, r2;

    REQUIRE(cfg && pod);
    REQUIRE(it_inject(cfg, pod, &r1) == 0);
    CHECK(it_annot(r1.pod, "proxy.istio.io/overrides") == NULL);
    REQUIRE(it_inject(cfg, r1.pod, &r2) == 0);
    CHECK(json_equal(r1.pod, r2.pod));
    CHECK_INT(it_count(r2.pod, "spec.containers", "istiO-proxy"), 0);
    CHECK_INT(json_array_size(jutil_path(r2.pod, "spec.containers")), 2);
    inj_result_cleanup(&r2);
    inj_result_cleanup(&r1);
    json_decref(pod);
    inj_config_free(cfg);
}

/* found by fuzz_inject: fields of an httpGet that the prober record does
 * not keep (unknown ones, verbatim headers) survive re-injection */
TEST(strip_restores_verbatim_httpget_fields)
{
    struct inj_config *cfg = it_config();
    json_t *pod = json_loads(
        "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{"
        "\"name\":\"a\",\"ports\":[{\"name\":\"http\",\"containerPort\":80}],"
        "\"livenessProbe\":{\"httpGet\":{\"port\":\"http\",\"scheke\":"
        "\"HTTPS\",\"httpHeaders\":[{\"value\":\"v\",\"name\":\"h\","
        "\"x\":1}],\"host\":\"example\"}}}]}}",
        0, NULL);
    struct inj_result r1, r2;

    REQUIRE(cfg && pod);
    REQUIRE(it_inject(cfg, pod, &r1) == 0);
    REQUIRE(it_inject(cfg, r1.pod, &r2) == 0);
    CHECK(json_equal(r1.pod, r2.pod));
    CHECK_STR(jutil_path_str(it_container(r2.pod, "spec.containers", "a"),
                             "livenessProbe.httpGet.scheke"),
              "HTTPS");
    inj_result_cleanup(&r2);
    inj_result_cleanup(&r1);
    json_decref(pod);
    inj_config_free(cfg);
}

/* A pod whose prometheus.io/port already is the status port is admitted
 * and left alone (Istio's applyPrometheusMerge: "assume user is
 * controlling this"), and re-injection keeps it so. */
TEST(strip_prometheus_status_port_pod_admitted)
{
    struct inj_config *cfg = it_config();
    json_t *pod = json_loads("{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                             "\"prometheus.io/port\":\"15020\"}},"
                             "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                             0, NULL);
    struct inj_result r1, r2;

    REQUIRE(cfg && pod);
    REQUIRE(it_inject(cfg, pod, &r1) == 0);
    CHECK(r1.injected);
    CHECK_STR(it_annot(r1.pod, "prometheus.io/port"), "15020");
    CHECK(it_annot(r1.pod, "prometheus.io/path") == NULL);
    CHECK(it_annot(r1.pod, "prometheus.io/scrape") == NULL);
    CHECK(it_env_entry(it_proxy(r1.pod), "ISTIO_PROMETHEUS_ANNOTATIONS") ==
          NULL);
    REQUIRE(it_inject(cfg, r1.pod, &r2) == 0);
    CHECK(json_equal(r1.pod, r2.pod));
    inj_result_cleanup(&r2);
    inj_result_cleanup(&r1);
    json_decref(pod);
    inj_config_free(cfg);
}

/* A damaged ISTIO_KUBE_APP_PROBERS record (no port; found by fuzz_inject)
 * for a path the pod's probe now has: restoring it would put back a
 * handler Kubernetes refuses, which the rewrite then leaves alone, so a
 * second injection differed from the first. The rewritten probe stays. */
TEST(strip_damaged_probers_record_is_not_restored)
{
    struct inj_config *cfg = it_config();
    struct inj_result r1, r2;
    json_t *hello;

    REQUIRE(cfg != NULL);
    REQUIRE(it_inject_fixture(cfg, "damaged-probers", &r1) == 0);
    hello = it_container(r1.pod, "spec.containers", "hello");
    CHECK_HTTP_GET(hello, "readinessProbe", "/app-health/hello/readyz", 123);
    memset(&r2, 0, sizeof(r2));
    REQUIRE(it_inject(cfg, r1.pod, &r2) == 0);
    CHECK(json_equal(r1.pod, r2.pod));
    inj_result_cleanup(&r2);
    inj_result_cleanup(&r1);
    inj_config_free(cfg);
}
