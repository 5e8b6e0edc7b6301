/* test_podmeta.c: volumes, labels, annotations and the status annotation
 * the injection adds. */
#include "tests/unit/harness.h"
#include "tests/unit/injector/injtest.h"

TEST(status_annotation_exact_format)
{
    struct inj_result r;

    REQUIRE(it_inject_fixture(NULL, "hello", &r) == 0);
    CHECK_STR(it_annot(r.pod, "sidecar.istio.io/status"),
              "{\"initContainers\":[\"istio-init\"],\"containers\":"
              "[\"istio-proxy\"],\"volumes\":[\"istio-envoy\",\"istio-data\","
              "\"istio-podinfo\",\"istio-token\",\"istiod-ca-cert\","
              "\"istio-certs\"],\"imagePullSecrets\":null,"
              "\"revision\":\"default\"}");
    CHECK_STR(it_annot(r.pod, "istio.io/rev"), "default");
    inj_result_cleanup(&r);
}

static json_t *
volume(const json_t *pod, const char *name)
{
    return it_container(pod, "spec.volumes", name);
}

TEST(volumes_and_mounts)
{
    struct inj_result r;
    json_t *v, *src;

    REQUIRE(it_inject_fixture(NULL, "service-account", &r) == 0);
    /* the pod's own volume stays first */
    CHECK_STR(
        jutil_str(json_array_get(jutil_path(r.pod, "spec.volumes"), 0), "name"),
        "app-data");
    CHECK_STR(jutil_path_str(volume(r.pod, "istio-envoy"), "emptyDir.medium"),
              "Memory");
    CHECK(json_is_object(jutil_path(volume(r.pod, "istio-data"), "emptyDir")));
    v = volume(r.pod, "istio-podinfo");
    CHECK_STR(
        jutil_path_str(json_array_get(jutil_path(v, "downwardAPI.items"), 0),
                       "fieldRef.fieldPath"),
        "metadata.labels");
    CHECK_STR(
        jutil_path_str(json_array_get(jutil_path(v, "downwardAPI.items"), 1),
                       "fieldRef.fieldPath"),
        "metadata.annotations");
    src = json_array_get(
        jutil_path(volume(r.pod, "istio-token"), "projected.sources"), 0);
    CHECK_STR(jutil_path_str(src, "serviceAccountToken.audience"), "istio-ca");
    CHECK_INT(json_integer_value(
                  jutil_path(src, "serviceAccountToken.expirationSeconds")),
              43200);
    CHECK_STR(jutil_path_str(src, "serviceAccountToken.path"), "istio-token");
    CHECK_STR(jutil_path_str(volume(r.pod, "istiod-ca-cert"), "configMap.name"),
              "istio-ca-root-cert");
    /* Citadel-style certificates of the pod's service account */
    CHECK_STR(jutil_path_str(volume(r.pod, "istio-certs"), "secret.secretName"),
              "istio.reviews");
    CHECK(json_is_true(
        jutil_path(volume(r.pod, "istio-certs"), "secret.optional")));
    /* the proxy mounts every volume the agent needs */
    {
        static const char *const mounts[][2] = {
            {"istiod-ca-cert", "/var/run/secrets/istio"},
            {"istio-data", "/var/lib/istio/data"},
            {"istio-envoy", "/etc/istio/proxy"},
            {"istio-token", "/var/run/secrets/tokens"},
            {"istio-podinfo", "/etc/istio/pod"},
            {"istio-certs", "/etc/certs"}};
        json_t *vm = jutil_arr(it_proxy(r.pod), "volumeMounts");
        for (size_t i = 0; i < 6; i++) {
            json_t *e = NULL;
            size_t k;
            json_t *x;
            json_array_foreach(vm, k, x)
            {
                if (strcmp(jutil_str(x, "name"), mounts[i][0]) == 0)
                    e = x;
            }
            REQUIRE(e != NULL);
            CHECK_STR(jutil_str(e, "mountPath"), mounts[i][1]);
        }
    }
    inj_result_cleanup(&r);
    /* no service account: istio.default */
    REQUIRE(it_inject_fixture(NULL, "hello", &r) == 0);
    CHECK_STR(jutil_path_str(volume(r.pod, "istio-certs"), "secret.secretName"),
              "istio.default");
    inj_result_cleanup(&r);
}

TEST(volume_name_clash_is_replaced_not_duplicated)
{
    struct inj_result r;

    REQUIRE(it_inject_json(NULL,
                           "{\"metadata\":{\"name\":\"p\"},\"spec\":{"
                           "\"containers\":[{\"name\":\"a\"}],"
                           "\"volumes\":[{\"name\":\"istio-envoy\","
                           "\"hostPath\":{\"path\":\"/x\"}},"
                           "{\"name\":\"mine\",\"emptyDir\":{}}]}}",
                           &r) == 0);
    CHECK_INT(it_count(r.pod, "spec.volumes", "istio-envoy"), 1);
    CHECK_STR(jutil_path_str(volume(r.pod, "istio-envoy"), "emptyDir.medium"),
              "Memory");
    CHECK_STR(
        jutil_str(json_array_get(jutil_path(r.pod, "spec.volumes"), 0), "name"),
        "mine");
    inj_result_cleanup(&r);
}

TEST(user_volumes_and_mounts)
{
    struct inj_result r;
    json_t *vm;

    REQUIRE(it_inject_fixture(NULL, "user-volume", &r) == 0);
    CHECK_STR(jutil_path_str(volume(r.pod, "user-volume-1"),
                             "persistentVolumeClaim.claimName"),
              "pvc-claim");
    CHECK_STR(jutil_path_str(volume(r.pod, "user-volume-2"), "configMap.name"),
              "configmap-volume");
    vm = jutil_arr(it_proxy(r.pod), "volumeMounts");
    CHECK_STR(jutil_str(json_array_get(vm, json_array_size(vm) - 2), "name"),
              "user-volume-1");
    CHECK(json_is_true(
        jutil_path(json_array_get(vm, json_array_size(vm) - 2), "readOnly")));
    CHECK_STR(
        jutil_str(json_array_get(vm, json_array_size(vm) - 1), "mountPath"),
        "/mnt/volume-2");
    CHECK_CONTAINS(it_annot(r.pod, "sidecar.istio.io/status"),
                   "\"istio-certs\",\"user-volume-1\",\"user-volume-2\"]");
    inj_result_cleanup(&r);
}

TEST(bootstrap_override_volume)
{
    struct inj_result r;

    REQUIRE(it_inject_json(NULL,
                           "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                           "\"sidecar.istio.io/bootstrapOverride\":\"my-bs\"}"
                           "},\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                           &r) == 0);
    CHECK_STR(jutil_path_str(volume(r.pod, "custom-bootstrap-volume"),
                             "configMap.name"),
              "my-bs");
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_BOOTSTRAP_OVERRIDE"),
              "/etc/istio/custom-bootstrap/custom_bootstrap.json");
    inj_result_cleanup(&r);
}

TEST(labels_tls_mode_and_canonical)
{
    struct inj_result r;

    REQUIRE(it_inject_fixture(NULL, "hello", &r) == 0);
    CHECK_STR(it_label(r.pod, "security.istio.io/tlsMode"), "istio");
    CHECK_STR(it_label(r.pod, "service.istio.io/canonical-name"), "hello");
    CHECK_STR(it_label(r.pod, "service.istio.io/canonical-revision"), "latest");
    inj_result_cleanup(&r);
    /* an existing tlsMode is kept */
    REQUIRE(it_inject_fixture(NULL, "hello-mtls-not-ready", &r) == 0);
    CHECK_STR(it_label(r.pod, "security.istio.io/tlsMode"), "disabled");
    inj_result_cleanup(&r);
}

static const char *
canonical(const char *labels, const char *which)
{
    static char out[128];
    char pod[1024];
    struct inj_result r;

    snprintf(pod, sizeof(pod),
             "{\"metadata\":{\"name\":\"podname\",\"labels\":%s},"
             "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
             labels);
    out[0] = '\0';
    if (it_inject_json(NULL, pod, &r) != 0)
        return "(error)";
    snprintf(out, sizeof(out), "%s", it_label(r.pod, which));
    inj_result_cleanup(&r);
    return out;
}

TEST(canonical_name_and_revision_rules)
{
    const char *n = "service.istio.io/canonical-name";
    const char *v = "service.istio.io/canonical-revision";

    CHECK_STR(canonical("{\"service.istio.io/canonical-name\":\"c\","
                        "\"app.kubernetes.io/name\":\"k\",\"app\":\"a\"}",
                        n),
              "c");
    CHECK_STR(canonical("{\"app.kubernetes.io/name\":\"k\",\"app\":\"a\"}", n),
              "k");
    CHECK_STR(canonical("{\"app.kubernetes.io/name\":\"\",\"app\":\"a\"}", n),
              "a");
    CHECK_STR(canonical("{}", n), "podname");
    CHECK_STR(canonical("{\"service.istio.io/canonical-revision\":\"r\","
                        "\"app.kubernetes.io/version\":\"k\","
                        "\"version\":\"v1\"}",
                        v),
              "r");
    CHECK_STR(canonical("{\"app.kubernetes.io/version\":\"k\","
                        "\"version\":\"v1\"}",
                        v),
              "k");
    CHECK_STR(canonical("{\"version\":\"v1\"}", v), "v1");
    CHECK_STR(canonical("{}", v), "latest");
    /* trimmed of -_. at both ends */
    CHECK_STR(canonical("{\"app\":\"-_.name._-\"}", n), "name");
}

TEST(canonical_name_truncated_to_63)
{
    struct inj_result r;
    const char *c;

    REQUIRE(it_inject_fixture(NULL, "truncate-canonical-name-pod", &r) == 0);
    c = it_label(r.pod, "service.istio.io/canonical-name");
    REQUIRE(c != NULL);
    /* 63 bytes cut ends in '-' which is trimmed */
    CHECK_STR(c, "a-very-long-name-that-goes-over-the-sixty-three-character-"
                 "limit");
    CHECK(strlen(c) <= 63);
    inj_result_cleanup(&r);
}

TEST(default_container_annotations_only_if_unset)
{
    struct inj_result r;

    REQUIRE(it_inject_fixture(NULL, "two-container-defaults", &r) == 0);
    CHECK_STR(it_annot(r.pod, "kubectl.kubernetes.io/default-container"),
              "sidecar-app");
    CHECK_STR(it_annot(r.pod, "kubectl.kubernetes.io/default-logs-container"),
              "main");
    inj_result_cleanup(&r);
    /* with hold the proxy is first; the default is still the app */
    REQUIRE(it_inject_fixture(NULL, "hello-hold", &r) == 0);
    CHECK_STR(it_annot(r.pod, "kubectl.kubernetes.io/default-container"),
              "hello");
    inj_result_cleanup(&r);
}

TEST(injected_annotations_from_config)
{
    struct inj_config *cfg = it_config_parts(
        "injectedAnnotations:\n"
        "  container.apparmor.security.beta.kubernetes.io/istio-proxy: "
        "runtime/default\n",
        NULL, NULL);
    struct inj_result r;

    REQUIRE(cfg != NULL);
    REQUIRE(it_inject_fixture(cfg, "hello", &r) == 0);
    CHECK_STR(it_annot(r.pod, "container.apparmor.security.beta.kubernetes.io/"
                              "istio-proxy"),
              "runtime/default");
    inj_result_cleanup(&r);
    inj_config_free(cfg);
}

TEST(prometheus_merge_annotations)
{
    struct inj_result r;
    json_t *pe;

    REQUIRE(it_inject_fixture(NULL, "prometheus-merge", &r) == 0);
    CHECK_STR(it_annot(r.pod, "prometheus.io/port"), "15020");
    CHECK_STR(it_annot(r.pod, "prometheus.io/path"), "/stats/prometheus");
    CHECK_STR(it_annot(r.pod, "prometheus.io/scrape"), "true");
    pe = json_loads(it_env(it_proxy(r.pod), "ISTIO_PROMETHEUS_ANNOTATIONS"), 0,
                    NULL);
    CHECK_STR(jutil_str(pe, "port"), "8080");
    CHECK_STR(jutil_str(pe, "path"), "/metrics");
    CHECK_STR(jutil_str(pe, "scrape"), "true");
    json_decref(pe);
    inj_result_cleanup(&r);
    /* scrape "false": annotations untouched, no env */
    REQUIRE(it_inject_fixture(NULL, "prometheus-scrape-false", &r) == 0);
    CHECK_STR(it_annot(r.pod, "prometheus.io/scrape"), "false");
    CHECK_STR(it_annot(r.pod, "prometheus.io/port"), "8080");
    CHECK(it_env_entry(it_proxy(r.pod), "ISTIO_PROMETHEUS_ANNOTATIONS") ==
          NULL);
    inj_result_cleanup(&r);
    /* the status port annotation does not change the merged port */
    REQUIRE(it_inject_fixture(NULL, "status_annotations", &r) == 0);
    CHECK_STR(it_annot(r.pod, "prometheus.io/port"), "15020");
    inj_result_cleanup(&r);
}

TEST(probe_rewriting_and_probers_env)
{
    struct inj_result r;
    json_t *hello;

    REQUIRE(it_inject_fixture(NULL, "hello-probes", &r) == 0);
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_KUBE_APP_PROBERS"),
              "{\"/app-health/hello/livez\":{\"httpGet\":{\"port\":80}},"
              "\"/app-health/hello/readyz\":{\"httpGet\":{\"port\":3333}},"
              "\"/app-health/world/livez\":{\"httpGet\":{\"port\":90}},"
              "\"/app-lifecycle/hello/poststartz\":{\"tcpSocket\":"
              "{\"port\":93}},\"/app-lifecycle/hello/prestopz\":"
              "{\"httpGet\":{\"port\":91}}}");
    hello = it_container(r.pod, "spec.containers", "hello");
    CHECK_HTTP_GET(hello, "readinessProbe", "/app-health/hello/readyz", 15020);
    /* exec probes left alone */
    CHECK(jutil_path(it_container(r.pod, "spec.containers", "world"),
                     "readinessProbe.exec") != NULL);
    inj_result_cleanup(&r);
    /* disabled by annotation */
    REQUIRE(
        it_inject_json(NULL,
                       "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                       "\"sidecar.istio.io/rewriteAppHTTPProbers\":\"false\"}},"
                       "\"spec\":{\"containers\":[{\"name\":\"a\","
                       "\"readinessProbe\":{\"httpGet\":{\"port\":8080}}}]}}",
                       &r) == 0);
    CHECK_INT(json_integer_value(
                  jutil_path(it_container(r.pod, "spec.containers", "a"),
                             "readinessProbe.httpGet.port")),
              8080);
    CHECK(it_env_entry(it_proxy(r.pod), "ISTIO_KUBE_APP_PROBERS") == NULL);
    inj_result_cleanup(&r);
    /* status port 123: probes point there */
    REQUIRE(
        it_inject_json(NULL,
                       "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                       "\"status.sidecar.istio.io/port\":\"123\"}},"
                       "\"spec\":{\"containers\":[{\"name\":\"a\","
                       "\"livenessProbe\":{\"tcpSocket\":{\"port\":8080}}}]}}",
                       &r) == 0);
    CHECK_INT(json_integer_value(
                  jutil_path(it_container(r.pod, "spec.containers", "a"),
                             "livenessProbe.httpGet.port")),
              123);
    inj_result_cleanup(&r);
}

TEST(probe_rewriting_https_and_tcp)
{
    struct inj_result r;
    json_t *hello;

    REQUIRE(it_inject_fixture(NULL, "https-probes", &r) == 0);
    hello = it_container(r.pod, "spec.containers", "hello");
    /* HTTPS becomes HTTP towards the agent; the record keeps HTTPS */
    CHECK_STR(jutil_path_str(hello, "readinessProbe.httpGet.scheme"), "HTTP");
    CHECK_STR(jutil_path_str(hello, "readinessProbe.httpGet.path"),
              "/app-health/hello/readyz");
    CHECK_CONTAINS(it_env(it_proxy(r.pod), "ISTIO_KUBE_APP_PROBERS"),
                   "\"/app-health/hello/readyz\":{\"httpGet\":{\"path\":"
                   "\"/ready\",\"port\":3333,\"scheme\":\"HTTPS\"}}");
    CHECK_CONTAINS(it_env(it_proxy(r.pod), "ISTIO_KUBE_APP_PROBERS"),
                   "\"/app-health/hello/livez\":{\"httpGet\":{\"port\":80,"
                   "\"scheme\":\"HTTPS\"}}");
    inj_result_cleanup(&r);

    REQUIRE(it_inject_fixture(NULL, "tcp-probes", &r) == 0);
    hello = it_container(r.pod, "spec.containers", "hello");
    CHECK(jutil_path(hello, "livenessProbe.tcpSocket") == NULL);
    CHECK_STR(jutil_path_str(hello, "livenessProbe.httpGet.path"),
              "/app-health/hello/livez");
    CHECK(jutil_path(hello, "startupProbe.grpc") == NULL);
    CHECK_CONTAINS(it_env(it_proxy(r.pod), "ISTIO_KUBE_APP_PROBERS"),
                   "\"/app-health/hello/livez\":{\"tcpSocket\":{\"port\":80}}");
    CHECK_CONTAINS(
        it_env(it_proxy(r.pod), "ISTIO_KUBE_APP_PROBERS"),
        "\"/app-health/hello/readyz\":{\"tcpSocket\":{\"port\":3333},"
        "\"timeoutSeconds\":5}");
    inj_result_cleanup(&r);
}
