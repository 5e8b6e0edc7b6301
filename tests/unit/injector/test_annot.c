/* test_annot.c: every annotation error refuses the pod with a message
 * naming the annotation and the value; errors are joined; valid values
 * pass. */
#include "tests/unit/harness.h"
#include "tests/unit/injector/injtest.h"

/* inject_annot: a pod with one annotation key=value (value is JSON-escaped
 * by jansson). Returns the rc; the error message is errmsg_get(). */
static int
inject_annot(const char *key, const char *value)
{
    json_t *pod = json_pack("{s:{s:s, s:{s:s}}, s:{s:[{s:s}]}}", "metadata",
                            "name", "p", "annotations", key, value, "spec",
                            "containers", "name", "app");
    struct inj_config *cfg = it_config();
    struct inj_result r;
    int rc;

    if (pod == NULL || cfg == NULL)
        return -100;
    rc = it_inject(cfg, pod, &r);
    inj_result_cleanup(&r);
    inj_config_free(cfg);
    json_decref(pod);
    return rc;
}

static void
expect_bad(const char *key, const char *value, const char *detail, int line)
{
    char want[512];
    int rc = inject_annot(key, value);

    if (rc != RC_INVAL) {
        harness_fail(__FILE__, line, "%s=%s: rc %d, want RC_INVAL", key, value,
                     rc);
        return;
    }
    snprintf(want, sizeof(want),
             "invalid value '%s' for annotation '%s': ", value, key);
    if (strncmp(errmsg_get(), want, strlen(want)) != 0)
        harness_fail(__FILE__, line, "message \"%s\" does not start \"%s\"",
                     errmsg_get(), want);
    if (detail && strstr(errmsg_get(), detail) == NULL)
        harness_fail(__FILE__, line, "message \"%s\" lacks \"%s\"",
                     errmsg_get(), detail);
}

static void
expect_ok(const char *key, const char *value, int line)
{
    int rc = inject_annot(key, value);

    if (rc != 0)
        harness_fail(__FILE__, line, "%s=%s refused: %s", key, value,
                     errmsg_get());
}

#define BAD(k, v, d) expect_bad((k), (v), (d), __LINE__)
#define OK(k, v) expect_ok((k), (v), __LINE__)

TEST(annot_traffic_ranges_and_ports)
{
    BAD("traffic.sidecar.istio.io/includeOutboundIPRanges", "bad", NULL);
    BAD("traffic.sidecar.istio.io/includeOutboundIPRanges", "10.0.0.1", NULL);
    BAD("traffic.sidecar.istio.io/includeOutboundIPRanges", "10.0.0.0/33",
        NULL);
    OK("traffic.sidecar.istio.io/includeOutboundIPRanges", "*");
    OK("traffic.sidecar.istio.io/includeOutboundIPRanges", "");
    OK("traffic.sidecar.istio.io/includeOutboundIPRanges",
       "10.0.0.0/8,fd00::/8");
    BAD("traffic.sidecar.istio.io/excludeOutboundIPRanges", "*", NULL);
    BAD("traffic.sidecar.istio.io/excludeOutboundIPRanges", "::1", NULL);
    OK("traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.96.0.2/24");
    BAD("traffic.sidecar.istio.io/includeInboundPorts", "bad", NULL);
    BAD("traffic.sidecar.istio.io/includeInboundPorts", "70000", NULL);
    OK("traffic.sidecar.istio.io/includeInboundPorts", "*");
    OK("traffic.sidecar.istio.io/includeInboundPorts", "1, 2,3");
    BAD("traffic.sidecar.istio.io/excludeInboundPorts", "*", NULL);
    BAD("traffic.sidecar.istio.io/excludeInboundPorts", "-1", NULL);
    BAD("traffic.sidecar.istio.io/excludeOutboundPorts", "bad", NULL);
    BAD("traffic.sidecar.istio.io/excludeOutboundPorts", "*", NULL);
    BAD("traffic.sidecar.istio.io/includeOutboundPorts", "x", NULL);
    OK("traffic.sidecar.istio.io/includeOutboundPorts", "80,443");
}

TEST(annot_interfaces_and_mode)
{
    BAD("traffic.sidecar.istio.io/excludeInterfaces", "a/b", NULL);
    BAD("traffic.sidecar.istio.io/kubevirtInterfaces", "has space", NULL);
    BAD("istio.io/reroute-virtual-interfaces", "waytoolonginterfacename", NULL);
    OK("traffic.sidecar.istio.io/kubevirtInterfaces", "net1,net2");
    BAD("sidecar.istio.io/interceptionMode", "redirect", NULL);
    BAD("sidecar.istio.io/interceptionMode", "", NULL);
    OK("sidecar.istio.io/interceptionMode", "REDIRECT");
}

TEST(annot_status_port_and_reserved_ports)
{
    static const char *const reserved[] = {"15000", "15001", "15004",
                                           "15006", "15008", "15009",
                                           "15021", "15053", "15090"};

    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        BAD("status.sidecar.istio.io/port", reserved[i], "reserved");
    OK("status.sidecar.istio.io/port", "15020");
    OK("status.sidecar.istio.io/port", "0");
    OK("status.sidecar.istio.io/port", "123");
    BAD("status.sidecar.istio.io/port", "70000", NULL);
    BAD("status.sidecar.istio.io/port", "abc", NULL);
}

TEST(annot_readiness_numbers)
{
    static const char *const keys[] = {
        "readiness.status.sidecar.istio.io/initialDelaySeconds",
        "readiness.status.sidecar.istio.io/periodSeconds",
        "readiness.status.sidecar.istio.io/failureThreshold"};

    for (size_t i = 0; i < 3; i++) {
        BAD(keys[i], "-1", NULL);
        BAD(keys[i], "abc", NULL);
        BAD(keys[i], "4294967296", NULL);
        OK(keys[i], "30");
    }
    BAD("readiness.status.sidecar.istio.io/applicationPorts", "x", NULL);
    OK("readiness.status.sidecar.istio.io/applicationPorts", "8080");
}

TEST(annot_resource_quantities)
{
    static const char *const keys[] = {
        "sidecar.istio.io/proxyCPU", "sidecar.istio.io/proxyMemory",
        "sidecar.istio.io/proxyCPULimit", "sidecar.istio.io/proxyMemoryLimit"};

    for (size_t i = 0; i < 4; i++) {
        BAD(keys[i], "lots", NULL);
        BAD(keys[i], "1\n", NULL);
        OK(keys[i], "100m");
        OK(keys[i], "1Gi");
    }
}

TEST(annot_proxy_config)
{
    BAD("proxy.istio.io/config", "foo: bar", "unknown field \"foo\"");
    BAD("proxy.istio.io/config", "concurrency: abc", "concurrency");
    BAD("proxy.istio.io/config", "holdApplicationUntilProxyStarts: maybe",
        "holdApplicationUntilProxyStarts");
    BAD("proxy.istio.io/config", "terminationDrainDuration: 5 seconds",
        "terminationDrainDuration");
    BAD("proxy.istio.io/config", "proxyMetadata: {A: [1]}", "proxyMetadata");
    BAD("proxy.istio.io/config", "interceptionMode: MAGIC", "interceptionMode");
    BAD("proxy.istio.io/config", "[1, 2]", "object");
    BAD("proxy.istio.io/config", "{", NULL);
    OK("proxy.istio.io/config", "");
    OK("proxy.istio.io/config",
       "{\"holdApplicationUntilProxyStarts\": true, \"concurrency\": 2}");
    OK("proxy.istio.io/config", "terminationDrainDuration: 1m30s\n"
                                "tracing: {zipkin: {address: z:9411}}\n"
                                "proxyMetadata: {ISTIO_META_DNS_CAPTURE: "
                                "\"true\"}\n");
}

TEST(annot_user_volumes_and_templates)
{
    BAD("sidecar.istio.io/userVolume", "not json", NULL);
    BAD("sidecar.istio.io/userVolume", "{\"a\": 1}", "'a'");
    BAD("sidecar.istio.io/userVolume", "{\"istio-envoy\": {\"emptyDir\":{}}}",
        "istio-envoy");
    BAD("sidecar.istio.io/userVolumeMount", "{\"m\": {\"readOnly\": true}}",
        "mountPath");
    OK("sidecar.istio.io/userVolume", "{\"v\": {\"emptyDir\": {}}}");
    BAD("inject.istio.io/templates", "custom", "sidecar");
    BAD("inject.istio.io/templates", "sidecar,custom", NULL);
    OK("inject.istio.io/templates", "sidecar");
    OK("inject.istio.io/templates", " sidecar ");
}

TEST(annot_all_errors_joined)
{
    struct inj_result r;
    const char *m;

    CHECK_INT(it_inject_json(
                  NULL,
                  "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                  "\"status.sidecar.istio.io/port\":\"15090\","
                  "\"sidecar.istio.io/interceptionMode\":\"x\","
                  "\"traffic.sidecar.istio.io/excludeInboundPorts\":\"*\"}},"
                  "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                  &r),
              RC_INVAL);
    m = errmsg_get();
    /* fixed order: interception, ports..., status port */
    CHECK(strncmp(m,
                  "invalid value 'x' for annotation "
                  "'sidecar.istio.io/interceptionMode': ",
                  70) == 0);
    CHECK_CONTAINS(m, "; invalid value '*' for annotation "
                      "'traffic.sidecar.istio.io/excludeInboundPorts': ");
    CHECK_CONTAINS(m, "; invalid value '15090' for annotation "
                      "'status.sidecar.istio.io/port': port 15090 is "
                      "reserved by Istio");
    CHECK(r.pod == NULL);

    /* the five Istio golden negative cases, each refused */
    static const char *const golden[] = {
        "traffic-annotations-bad-includeipranges",
        "traffic-annotations-bad-excludeipranges",
        "traffic-annotations-bad-includeinboundports",
        "traffic-annotations-bad-excludeinboundports",
        "traffic-annotations-bad-excludeoutboundports"};
    for (size_t i = 0; i < 5; i++) {
        CHECK_INT(it_inject_fixture(NULL, golden[i], &r), RC_INVAL);
        CHECK_CONTAINS(errmsg_get(),
                       "for annotation 'traffic.sidecar.istio.io/");
    }
    CHECK_INT(it_inject_fixture(NULL, "all-bad", &r), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "'sidecar.istio.io/interceptionMode'");
    CHECK_CONTAINS(errmsg_get(), "; invalid value '10.0.0.1' for annotation "
                                 "'traffic.sidecar.istio.io/"
                                 "includeOutboundIPRanges'");
}

TEST(annot_long_value_is_shortened_in_message)
{
    char v[300];

    memset(v, '9', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    CHECK_INT(inject_annot("status.sidecar.istio.io/port", v), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "...' for annotation "
                                 "'status.sidecar.istio.io/port'");
}

/* The joined message is capped by errmsg (ERRMSG_MAX bytes with the NUL),
 * not by a smaller buffer: long values of many annotations fill it. */
TEST(annot_joined_errors_fill_errmsg)
{
    static const char *const keys[] = {
        "traffic.sidecar.istio.io/includeOutboundIPRanges",
        "traffic.sidecar.istio.io/excludeOutboundIPRanges",
        "traffic.sidecar.istio.io/includeInboundPorts",
        "traffic.sidecar.istio.io/excludeInboundPorts",
        "traffic.sidecar.istio.io/includeOutboundPorts",
        "traffic.sidecar.istio.io/excludeOutboundPorts",
        "readiness.status.sidecar.istio.io/initialDelaySeconds",
        "readiness.status.sidecar.istio.io/periodSeconds",
        "readiness.status.sidecar.istio.io/failureThreshold",
        "sidecar.istio.io/proxyCPU",
        "sidecar.istio.io/proxyMemory",
        "sidecar.istio.io/proxyCPULimit",
        "sidecar.istio.io/proxyMemoryLimit"};
    json_t *a = json_object(); /* owned */
    json_t *pod;
    struct inj_result r;
    char v[100];

    memset(v, 'x', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        json_object_set_new(a, keys[i], json_string(v));
    pod = json_pack("{s:{s:s,s:o},s:{s:[{s:s}]}}", "metadata", "name", "p",
                    "annotations", a, "spec", "containers", "name", "app");
    struct inj_config *cfg = it_config();
    REQUIRE(pod != NULL && cfg != NULL);
    CHECK_INT(it_inject(cfg, pod, &r), RC_INVAL);
    CHECK_INT((long)strlen(errmsg_get()), ERRMSG_MAX - 1);
    CHECK(strncmp(errmsg_get(), "invalid value 'xxx", 18) == 0);
    inj_config_free(cfg);
    json_decref(pod);
}

/* image_of: the images of istio-proxy and istio-init for a pod with the
 * given annotations (JSON object text), under values `values` (NULL:
 * defaults). Returns a static copy of the proxy's image, "" on error. */
static const char *
image_of(const char *values, const char *annots, int *same_as_init)
{
    static char out[256];
    struct inj_config *cfg = it_config_parts(NULL, values, NULL);
    json_t *a = json_loads(annots, 0, NULL);
    json_t *pod =
        json_pack("{s:{s:s,s:o},s:{s:[{s:s}]}}", "metadata", "name", "p",
                  "annotations", a, "spec", "containers", "name", "app");
    struct inj_result r;

    out[0] = '\0';
    if (cfg && pod && it_inject(cfg, pod, &r) == 0) {
        const char *img = jutil_str(it_proxy(r.pod), "image");
        snprintf(out, sizeof(out), "%s", img ? img : "(none)");
        *same_as_init = img && jutil_str(it_init(r.pod), "image") &&
                        strcmp(img, jutil_str(it_init(r.pod), "image")) == 0;
        inj_result_cleanup(&r);
    }
    json_decref(pod);
    inj_config_free(cfg);
    return out;
}

/* Istio's template uses sidecar.istio.io/proxyImage only when it contains
 * a '/', else ProxyImage: hub/image:tag with proxyImageType (which first
 * drops a -distroless/-debug ending of the tag; "default": none). */
TEST(annot_proxy_image_and_type)
{
    static const struct {
        const char *values, *annots, *want;
    } cases[] = {
        {NULL, "{\"sidecar.istio.io/proxyImage\":\"example.com/p:v9\"}",
         "example.com/p:v9"},
        {NULL, "{\"sidecar.istio.io/proxyImage\":\"proxyv3:latest\"}",
         "ghcr.io/mizzen/proxyv2:0.1.0"},
        {NULL, "{\"sidecar.istio.io/proxyImage\":\"\"}",
         "ghcr.io/mizzen/proxyv2:0.1.0"},
        {NULL,
         "{\"sidecar.istio.io/proxyImage\":\"myproxy\","
         "\"sidecar.istio.io/proxyImageType\":\"debug\"}",
         "ghcr.io/mizzen/proxyv2:0.1.0-debug"},
        {NULL, "{\"sidecar.istio.io/proxyImageType\":\"default\"}",
         "ghcr.io/mizzen/proxyv2:0.1.0"},
        {"global: {variant: distroless}", "{}",
         "ghcr.io/mizzen/proxyv2:0.1.0-distroless"},
        {"global: {variant: distroless}",
         "{\"sidecar.istio.io/proxyImageType\":\"default\"}",
         "ghcr.io/mizzen/proxyv2:0.1.0"},
        {"global: {variant: distroless}",
         "{\"sidecar.istio.io/proxyImageType\":\"\"}",
         "ghcr.io/mizzen/proxyv2:0.1.0"},
        {"global: {tag: 1.2-debug}",
         "{\"sidecar.istio.io/proxyImageType\":\"distroless\"}",
         "ghcr.io/mizzen/proxyv2:1.2-distroless"},
        {"global: {tag: 1.2-distroless, variant: debug}", "{}",
         "ghcr.io/mizzen/proxyv2:1.2-debug"},
        {"global: {tag: 1.2-debug}", "{}", "ghcr.io/mizzen/proxyv2:1.2-debug"},
        {"global: {proxy: {image: reg.io/x/proxy:7}}",
         "{\"sidecar.istio.io/proxyImage\":\"noslash\"}", "reg.io/x/proxy:7"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int same = 0;
        const char *got = image_of(cases[i].values, cases[i].annots, &same);
        if (strcmp(got, cases[i].want) != 0)
            harness_fail(__FILE__, __LINE__,
                         "case %zu (%s): image '%s', want "
                         "'%s'",
                         i, cases[i].annots, got, cases[i].want);
        CHECK(same);
    }
}
