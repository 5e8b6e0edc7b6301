/* test_sidecar.c: the istio-init and istio-proxy containers (Istio's
 * template, classic mode), one rule per test, on Istio-shaped fixtures. */
#include "tests/unit/harness.h"
#include "tests/unit/injector/injtest.h"

static char argbuf[4096];

#define ARGS(c) it_args((c), argbuf, sizeof(argbuf))

TEST(init_default_args_exactly_as_istio)
{
    static const char *const want[] = {"istio-iptables",
                                       "-p",
                                       "15001",
                                       "-z",
                                       "15006",
                                       "-u",
                                       "1337",
                                       "-m",
                                       "REDIRECT",
                                       "-i",
                                       "*",
                                       "-x",
                                       "",
                                       "-b",
                                       "*",
                                       "-d",
                                       "15090,15021,15020",
                                       "--log_output_level=default:info"};
    struct inj_result r;
    json_t *args;

    REQUIRE(it_inject_fixture(NULL, "hello", &r) == 0);
    args = jutil_arr(it_init(r.pod), "args");
    REQUIRE(args != NULL);
    CHECK_INT(json_array_size(args), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        CHECK_STR(json_string_value(json_array_get(args, i)), want[i]);
    CHECK_STR(jutil_str(it_init(r.pod), "image"),
              "ghcr.io/mizzen/proxyv2:0.1.0");
    inj_result_cleanup(&r);
}

TEST(init_traffic_annotations)
{
    struct inj_result r;
    json_t *init;

    REQUIRE(it_inject_fixture(NULL, "traffic-annotations", &r) == 0);
    init = it_init(r.pod);
    CHECK_STR(ARGS(init),
              "istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT "
              "-i 127.0.0.1/24,10.96.0.1/24 -x 10.96.0.2/24,10.96.0.3/24 "
              "-b 1,2,3 -d 15090,15021,4,5,6,15020 -o 7,8,9 "
              "--log_output_level=default:info");
    CHECK(it_arg_after(init, "-q") == NULL);
    /* proxyMetadata of proxy.istio.io/config reaches istio-iptables */
    CHECK_STR(it_env(init, "FOO"), "bar");
    inj_result_cleanup(&r);
}

TEST(init_wildcards_and_empty_includes)
{
    struct inj_result r;

    REQUIRE(it_inject_fixture(NULL, "traffic-annotations-wildcards", &r) == 0);
    CHECK_STR(it_arg_after(it_init(r.pod), "-i"), "*");
    CHECK_STR(it_arg_after(it_init(r.pod), "-b"), "*");
    CHECK_STR(it_arg_after(it_init(r.pod), "-d"), "15090,15021,4,5,6,15020");
    inj_result_cleanup(&r);

    REQUIRE(it_inject_fixture(NULL, "traffic-annotations-empty-includes", &r) ==
            0);
    CHECK_STR(it_arg_after(it_init(r.pod), "-i"), "");
    CHECK_STR(it_arg_after(it_init(r.pod), "-x"), "");
    CHECK_STR(it_arg_after(it_init(r.pod), "-b"), "");
    CHECK_STR(it_arg_after(it_init(r.pod), "-d"), "15090,15021,15020");
    inj_result_cleanup(&r);
}

static const char *
d_arg_for(const char *annots, char *out, size_t n)
{
    char pod[1024];
    struct inj_result r;

    snprintf(pod, sizeof(pod),
             "{\"metadata\":{\"name\":\"p\",\"annotations\":%s},"
             "\"spec\":{\"containers\":[{\"name\":\"app\"}]}}",
             annots);
    out[0] = '\0';
    if (it_inject_json(NULL, pod, &r) != 0)
        return "(error)";
    snprintf(out, n, "%s", it_arg_after(it_init(r.pod), "-d"));
    inj_result_cleanup(&r);
    return out;
}

TEST(init_exclude_inbound_port_rule)
{
    char b[256];

    /* status port already listed (raw element): the list is kept as is */
    CHECK_STR(d_arg_for("{\"traffic.sidecar.istio.io/excludeInboundPorts\":"
                        "\"4,15020\"}",
                        b, sizeof(b)),
              "15090,15021,4,15020");
    /* else trimmed non-empty elements plus the status port */
    CHECK_STR(d_arg_for("{\"traffic.sidecar.istio.io/excludeInboundPorts\":"
                        "\" 4 , 5\"}",
                        b, sizeof(b)),
              "15090,15021,4,5,15020");
    /* status port 0: the list unchanged */
    CHECK_STR(d_arg_for("{\"traffic.sidecar.istio.io/excludeInboundPorts\":"
                        "\"4, 5\",\"status.sidecar.istio.io/port\":\"0\"}",
                        b, sizeof(b)),
              "15090,15021,4, 5");
    CHECK_STR(
        d_arg_for("{\"status.sidecar.istio.io/port\":\"0\"}", b, sizeof(b)),
        "15090,15021");
    CHECK_STR(
        d_arg_for("{\"status.sidecar.istio.io/port\":\"123\"}", b, sizeof(b)),
        "15090,15021,123");
}

TEST(init_optional_flags_only_when_set)
{
    struct inj_result r;
    struct inj_config *cfg;

    REQUIRE(it_inject_json(
                NULL,
                "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                "\"traffic.sidecar.istio.io/includeOutboundPorts\":\"80,443\","
                "\"traffic.sidecar.istio.io/excludeOutboundPorts\":\"\"}},"
                "\"spec\":{\"containers\":[{\"name\":\"app\"}]}}",
                &r) == 0);
    CHECK_STR(it_arg_after(it_init(r.pod), "-q"), "80,443");
    /* an annotation set to "" still emits the flag, as Istio's isset */
    CHECK_STR(it_arg_after(it_init(r.pod), "-o"), "");
    CHECK(it_arg_after(it_init(r.pod), "-k") == NULL);
    CHECK(it_arg_after(it_init(r.pod), "-c") == NULL);
    inj_result_cleanup(&r);

    cfg = it_config_parts(NULL,
                          "{\"global\":{\"proxy\":{"
                          "\"includeOutboundPorts\":\"8080\","
                          "\"excludeOutboundPorts\":\"9090\"}}}",
                          NULL);
    REQUIRE(cfg != NULL);
    REQUIRE(it_inject_fixture(cfg, "hello", &r) == 0);
    CHECK_STR(it_arg_after(it_init(r.pod), "-q"), "8080");
    CHECK_STR(it_arg_after(it_init(r.pod), "-o"), "9090");
    inj_result_cleanup(&r);
    inj_config_free(cfg);
}

TEST(init_kubevirt_reroute_and_exclude_interfaces)
{
    struct inj_result r;

    REQUIRE(it_inject_fixture(NULL, "kubevirtInterfaces", &r) == 0);
    CHECK_STR(it_arg_after(it_init(r.pod), "-k"), "net1");
    CHECK_STR(it_arg_after(it_init(r.pod), "-c"), "eth9");
    inj_result_cleanup(&r);
    /* istio.io/reroute-virtual-interfaces wins over the old name */
    REQUIRE(it_inject_fixture(NULL, "reroute-virtual-interfaces", &r) == 0);
    CHECK_STR(it_arg_after(it_init(r.pod), "-k"), "net2,net3");
    inj_result_cleanup(&r);
}

TEST(init_security_context_and_resources)
{
    struct inj_result r;
    json_t *sc, *init;

    REQUIRE(it_inject_fixture(NULL, "hello", &r) == 0);
    init = it_init(r.pod);
    sc = jutil_obj(init, "securityContext");
    CHECK_INT(json_integer_value(json_object_get(sc, "runAsUser")), 0);
    CHECK_INT(json_integer_value(json_object_get(sc, "runAsGroup")), 0);
    CHECK(json_is_false(json_object_get(sc, "runAsNonRoot")));
    CHECK(json_is_false(json_object_get(sc, "allowPrivilegeEscalation")));
    CHECK(json_is_false(json_object_get(sc, "privileged")));
    CHECK(json_is_false(json_object_get(sc, "readOnlyRootFilesystem")));
    CHECK_STR(json_string_value(
                  json_array_get(jutil_path(sc, "capabilities.add"), 0)),
              "NET_ADMIN");
    CHECK_STR(json_string_value(
                  json_array_get(jutil_path(sc, "capabilities.add"), 1)),
              "NET_RAW");
    CHECK_STR(json_string_value(
                  json_array_get(jutil_path(sc, "capabilities.drop"), 0)),
              "ALL");
    /* same resources as istio-proxy */
    CHECK(json_equal(json_object_get(init, "resources"),
                     json_object_get(it_proxy(r.pod), "resources")));
    CHECK(json_object_get(init, "env") == NULL); /* no proxyMetadata */
    inj_result_cleanup(&r);
}

TEST(init_placed_last_among_init_containers)
{
    struct inj_result r;
    json_t *ic;

    REQUIRE(it_inject_fixture(NULL, "multi-init", &r) == 0);
    ic = jutil_path(r.pod, "spec.initContainers");
    REQUIRE(json_array_size(ic) == 3);
    CHECK_STR(jutil_str(json_array_get(ic, 0), "name"), "init-one");
    CHECK_STR(jutil_str(json_array_get(ic, 1), "name"), "init-two");
    CHECK_STR(jutil_str(json_array_get(ic, 2), "name"), "istio-init");
    inj_result_cleanup(&r);
}

TEST(interception_none_has_no_init)
{
    struct inj_result r;

    REQUIRE(it_inject_fixture(NULL, "interception-none", &r) == 0);
    CHECK(jutil_path(r.pod, "spec.initContainers") == NULL);
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_META_INTERCEPTION_MODE"), "NONE");
    CHECK_CONTAINS(it_annot(r.pod, "sidecar.istio.io/status"),
                   "{\"initContainers\":null,\"containers\":[\"istio-proxy\"]");
    inj_result_cleanup(&r);
}

TEST(tproxy_mode)
{
    struct inj_result r;
    json_t *sc;

    REQUIRE(it_inject_fixture(NULL, "hello-tproxy", &r) == 0);
    CHECK_STR(it_arg_after(it_init(r.pod), "-m"), "TPROXY");
    CHECK_STR(it_arg_after(it_init(r.pod), "-u"), "1337");
    sc = jutil_obj(it_proxy(r.pod), "securityContext");
    CHECK_INT(json_integer_value(json_object_get(sc, "runAsUser")), 0);
    CHECK_INT(json_integer_value(json_object_get(sc, "runAsGroup")), 1337);
    CHECK(json_is_false(json_object_get(sc, "runAsNonRoot")));
    CHECK_STR(json_string_value(
                  json_array_get(jutil_path(sc, "capabilities.add"), 0)),
              "NET_ADMIN");
    CHECK_STR(json_string_value(
                  json_array_get(jutil_path(sc, "capabilities.drop"), 0)),
              "ALL");
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_META_INTERCEPTION_MODE"),
              "TPROXY");
    inj_result_cleanup(&r);
}

TEST(interception_mode_from_proxy_config)
{
    struct inj_result r;

    REQUIRE(it_inject_json(NULL,
                           "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                           "\"proxy.istio.io/config\":"
                           "\"interceptionMode: TPROXY\"}},"
                           "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                           &r) == 0);
    CHECK_STR(it_arg_after(it_init(r.pod), "-m"), "TPROXY");
    inj_result_cleanup(&r);
}

TEST(user_istio_proxy_overrides_template)
{
    struct inj_result r;
    json_t *proxy, *sc, *ov = NULL;
    const char *ovs;

    REQUIRE(it_inject_fixture(NULL, "proxy-override-runas", &r) == 0);
    proxy = it_proxy(r.pod);
    REQUIRE(proxy != NULL);
    CHECK_INT(it_count(r.pod, "spec.containers", "istio-proxy"), 1);
    /* image: auto keeps the template's */
    CHECK_STR(jutil_str(proxy, "image"), "ghcr.io/mizzen/proxyv2:0.1.0");
    sc = jutil_obj(proxy, "securityContext");
    CHECK_INT(json_integer_value(json_object_get(sc, "runAsUser")), 1234);
    CHECK_INT(json_integer_value(json_object_get(sc, "runAsGroup")), 4321);
    CHECK(json_is_true(json_object_get(sc, "readOnlyRootFilesystem")));
    /* objects merge: the user's request wins, the template's limits stay */
    CHECK_STR(jutil_path_str(proxy, "resources.requests.cpu"), "123m");
    CHECK_STR(jutil_path_str(proxy, "resources.limits.cpu"), "2000m");
    /* env merges by name */
    CHECK_STR(it_env(proxy, "EXTRA"), "yes");
    CHECK(it_env_entry(proxy, "POD_NAME") != NULL);
    /* the user's runAsUser goes to istio-init -u; it stays uid 0 */
    CHECK_STR(it_arg_after(it_init(r.pod), "-u"), "1234");
    CHECK_INT(json_integer_value(
                  jutil_path(it_init(r.pod), "securityContext.runAsUser")),
              0);
    ovs = it_annot(r.pod, "proxy.istio.io/overrides");
    REQUIRE(ovs != NULL);
    ov = json_loads(ovs, 0, NULL);
    CHECK_STR(
        jutil_str(json_array_get(jutil_arr(ov, "containers"), 0), "image"),
        "auto");
    json_decref(ov);
    /* istio-proxy is the app containers' list minus itself */
    CHECK_STR(it_env(proxy, "ISTIO_META_APP_CONTAINERS"), "hello");
    inj_result_cleanup(&r);
}

TEST(user_run_as_not_used_with_tproxy)
{
    struct inj_result r;

    REQUIRE(it_inject_json(NULL,
                           "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                           "\"sidecar.istio.io/interceptionMode\":\"TPROXY\"}},"
                           "\"spec\":{\"containers\":[{\"name\":\"a\"},"
                           "{\"name\":\"istio-proxy\",\"image\":\"auto\","
                           "\"securityContext\":{\"runAsUser\":1234}}]}}",
                           &r) == 0);
    CHECK_STR(it_arg_after(it_init(r.pod), "-u"), "1337");
    inj_result_cleanup(&r);
}

TEST(proxy_default_args_ports_security)
{
    struct inj_result r;
    json_t *proxy, *sc, *port;

    REQUIRE(it_inject_fixture(NULL, "hello", &r) == 0);
    proxy = it_proxy(r.pod);
    CHECK_STR(ARGS(proxy), "proxy sidecar --domain "
                           "$(POD_NAMESPACE).svc.cluster.local "
                           "--proxyLogLevel=warning "
                           "--proxyComponentLogLevel=misc:error "
                           "--log_output_level=default:info");
    port = json_array_get(jutil_arr(proxy, "ports"), 0);
    CHECK_INT(json_integer_value(json_object_get(port, "containerPort")),
              15090);
    CHECK_STR(jutil_str(port, "name"), "http-envoy-prom");
    CHECK_STR(jutil_str(port, "protocol"), "TCP");
    sc = jutil_obj(proxy, "securityContext");
    CHECK_INT(json_integer_value(json_object_get(sc, "runAsUser")), 1337);
    CHECK_INT(json_integer_value(json_object_get(sc, "runAsGroup")), 1337);
    CHECK(json_is_true(json_object_get(sc, "runAsNonRoot")));
    CHECK(json_is_true(json_object_get(sc, "readOnlyRootFilesystem")));
    CHECK(json_is_false(json_object_get(sc, "allowPrivilegeEscalation")));
    CHECK(jutil_path(sc, "capabilities.add") == NULL);
    CHECK_STR(json_string_value(
                  json_array_get(jutil_path(sc, "capabilities.drop"), 0)),
              "ALL");
    CHECK(json_object_get(proxy, "lifecycle") == NULL);
    /* last among containers */
    CHECK_STR(jutil_str(json_array_get(jutil_path(r.pod, "spec.containers"), 1),
                        "name"),
              "istio-proxy");
    inj_result_cleanup(&r);
}

TEST(proxy_args_from_annotations)
{
    struct inj_result r;
    json_t *proxy;

    REQUIRE(it_inject_fixture(NULL, "log-levels", &r) == 0);
    proxy = it_proxy(r.pod);
    CHECK_CONTAINS(ARGS(proxy), "--proxyLogLevel=debug "
                                "--proxyComponentLogLevel=upstream:trace "
                                "--log_output_level=default:debug");
    CHECK_STR(jutil_str(proxy, "image"), "example.com/custom/proxy:v9");
    CHECK_STR(jutil_str(it_init(r.pod), "image"),
              "example.com/custom/proxy:v9");
    CHECK_CONTAINS(ARGS(it_init(r.pod)), "--log_output_level=default:debug");
    inj_result_cleanup(&r);

    /* concurrency from proxy.istio.io/config, even 0 */
    REQUIRE(it_inject_fixture(NULL, "traffic-annotations", &r) == 0);
    CHECK_STR(it_arg_after(it_proxy(r.pod), "--concurrency"), "0");
    inj_result_cleanup(&r);
    REQUIRE(it_inject_fixture(NULL, "hello", &r) == 0);
    CHECK(it_arg_after(it_proxy(r.pod), "--concurrency") == NULL);
    inj_result_cleanup(&r);
}

TEST(proxy_image_type_annotation)
{
    struct inj_result r;

    REQUIRE(it_inject_json(NULL,
                           "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                           "\"sidecar.istio.io/proxyImageType\":"
                           "\"distroless\"}},"
                           "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                           &r) == 0);
    CHECK_STR(jutil_str(it_proxy(r.pod), "image"),
              "ghcr.io/mizzen/proxyv2:0.1.0-distroless");
    inj_result_cleanup(&r);
}

TEST(proxy_env_required_entries)
{
    static const char *const fields[][2] = {
        {"POD_NAME", "metadata.name"},
        {"POD_NAMESPACE", "metadata.namespace"},
        {"INSTANCE_IP", "status.podIP"},
        {"SERVICE_ACCOUNT", "spec.serviceAccountName"},
        {"HOST_IP", "status.hostIP"},
        {"ISTIO_META_NODE_NAME", "spec.nodeName"}};
    struct inj_result r;
    json_t *proxy;

    REQUIRE(it_inject_fixture(NULL, "hello", &r) == 0);
    proxy = it_proxy(r.pod);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        CHECK_STR(jutil_path_str(it_env_entry(proxy, fields[i][0]),
                                 "valueFrom.fieldRef.fieldPath"),
                  fields[i][1]);
    CHECK_STR(jutil_path_str(it_env_entry(proxy, "ISTIO_CPU_LIMIT"),
                             "valueFrom.resourceFieldRef.resource"),
              "limits.cpu");
    CHECK_STR(it_env(proxy, "CA_ADDR"),
              "mizzen-operator.istio-system.svc:15012");
    CHECK_STR(it_env(proxy, "ISTIO_META_CLUSTER_ID"), "Kubernetes");
    CHECK_STR(it_env(proxy, "ISTIO_META_INTERCEPTION_MODE"), "REDIRECT");
    CHECK_STR(it_env(proxy, "ISTIO_META_WORKLOAD_NAME"), "hello");
    CHECK_STR(it_env(proxy, "ISTIO_META_OWNER"),
              "kubernetes://apis/apps/v1/namespaces/default/deployments/"
              "hello");
    CHECK_STR(it_env(proxy, "ISTIO_META_MESH_ID"), "cluster.local");
    CHECK_STR(it_env(proxy, "TRUST_DOMAIN"), "cluster.local");
    CHECK_STR(it_env(proxy, "ISTIO_META_APP_CONTAINERS"), "hello");
    CHECK_STR(it_env(proxy, "ISTIO_META_POD_PORTS"),
              "[\n{\"name\":\"http\",\"containerPort\":80,"
              "\"protocol\":\"TCP\"}\n]");
    CHECK_STR(it_env(proxy, "PROXY_CONFIG"),
              "{\"discoveryAddress\":\"mizzen-operator.istio-system.svc:"
              "15012\",\"proxyMetadata\":{},\"terminationDrainDuration\":"
              "\"5s\"}");
    CHECK(it_env_entry(proxy, "ISTIO_META_NETWORK") == NULL);
    inj_result_cleanup(&r);
}

TEST(proxy_env_pod_ports_and_app_containers)
{
    struct inj_result r;

    REQUIRE(it_inject_fixture(NULL, "hello-probes", &r) == 0);
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_META_APP_CONTAINERS"),
              "hello,world");
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_META_POD_PORTS"),
              "[\n{\"name\":\"http\",\"containerPort\":80}\n"
              ",{\"name\":\"http\",\"containerPort\":90}\n]");
    inj_result_cleanup(&r);
    REQUIRE(it_inject_json(
                NULL,
                "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":["
                "{\"name\":\"a\",\"ports\":[{\"protocol\":\"UDP\","
                "\"containerPort\":53,\"hostIP\":\"1.2.3.4\",\"x\":1,"
                "\"hostPort\":5353,\"name\":\"dns\"}]}]}}",
                &r) == 0);
    /* Go's ContainerPort field order, unknown fields dropped */
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_META_POD_PORTS"),
              "[\n{\"name\":\"dns\",\"hostPort\":5353,\"containerPort\":53,"
              "\"protocol\":\"UDP\",\"hostIP\":\"1.2.3.4\"}\n]");
    inj_result_cleanup(&r);
    REQUIRE(it_inject_fixture(NULL, "pod", &r) == 0);
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_META_POD_PORTS"),
              "[\n{\"name\":\"http\",\"containerPort\":80,"
              "\"protocol\":\"TCP\"}\n]");
    inj_result_cleanup(&r);
}

TEST(proxy_env_proxy_config_overlay)
{
    struct inj_result r;
    json_t *proxy, *pc;

    REQUIRE(it_inject_fixture(NULL, "traffic-annotations", &r) == 0);
    proxy = it_proxy(r.pod);
    /* the annotation overlays the mesh defaultConfig */
    CHECK_STR(it_env(proxy, "CA_ADDR"), "foo:123");
    CHECK_STR(it_env(proxy, "FOO"), "bar");
    pc = json_loads(it_env(proxy, "PROXY_CONFIG"), 0, NULL);
    REQUIRE(pc != NULL);
    CHECK_STR(jutil_str(pc, "discoveryAddress"), "foo:123");
    CHECK_STR(jutil_str(pc, "terminationDrainDuration"), "5s");
    CHECK_STR(jutil_path_str(pc, "proxyMetadata.FOO"), "bar");
    CHECK_INT(json_integer_value(json_object_get(pc, "concurrency")), 0);
    json_decref(pc);
    inj_result_cleanup(&r);
}

TEST(proxy_env_values_and_labels)
{
    struct inj_config *cfg = it_config_parts(
        NULL,
        "{\"global\":{\"caAddress\":\"ca.example:15012\",\"meshID\":\"m1\","
        "\"network\":\"n1\",\"multiCluster\":{\"clusterName\":\"c1\"}}}",
        "trustDomain: example.org\n");
    struct inj_result r;
    json_t *proxy;

    REQUIRE(cfg != NULL);
    REQUIRE(it_inject_json(cfg,
                           "{\"metadata\":{\"name\":\"p\",\"labels\":{"
                           "\"service.istio.io/workload-name\":\"wl\","
                           "\"topology.istio.io/network\":\"n2\"}},"
                           "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                           &r) == 0);
    proxy = it_proxy(r.pod);
    CHECK_STR(it_env(proxy, "CA_ADDR"), "ca.example:15012");
    CHECK_STR(it_env(proxy, "ISTIO_META_MESH_ID"), "m1");
    CHECK_STR(it_env(proxy, "TRUST_DOMAIN"), "example.org");
    CHECK_STR(it_env(proxy, "ISTIO_META_CLUSTER_ID"), "c1");
    CHECK_STR(it_env(proxy, "ISTIO_META_NETWORK"), "n2");
    CHECK_STR(it_env(proxy, "ISTIO_META_WORKLOAD_NAME"), "wl");
    inj_result_cleanup(&r);
    inj_config_free(cfg);
}

TEST(proxy_readiness_and_startup_probes)
{
    struct inj_result r;
    json_t *rp, *sp;
    struct inj_config *cfg;

    REQUIRE(it_inject_fixture(NULL, "hello", &r) == 0);
    rp = jutil_obj(it_proxy(r.pod), "readinessProbe");
    CHECK_STR(jutil_path_str(rp, "httpGet.path"), "/healthz/ready");
    CHECK_INT(json_integer_value(jutil_path(rp, "httpGet.port")), 15021);
    CHECK_INT(json_integer_value(json_object_get(rp, "initialDelaySeconds")),
              0);
    CHECK_INT(json_integer_value(json_object_get(rp, "periodSeconds")), 15);
    CHECK_INT(json_integer_value(json_object_get(rp, "failureThreshold")), 4);
    CHECK_INT(json_integer_value(json_object_get(rp, "timeoutSeconds")), 3);
    sp = jutil_obj(it_proxy(r.pod), "startupProbe");
    CHECK_INT(json_integer_value(jutil_path(sp, "httpGet.port")), 15021);
    CHECK_INT(json_integer_value(json_object_get(sp, "periodSeconds")), 1);
    CHECK_INT(json_integer_value(json_object_get(sp, "failureThreshold")), 600);
    inj_result_cleanup(&r);

    REQUIRE(it_inject_fixture(NULL, "status_annotations", &r) == 0);
    rp = jutil_obj(it_proxy(r.pod), "readinessProbe");
    CHECK_INT(json_integer_value(json_object_get(rp, "initialDelaySeconds")),
              100);
    CHECK_INT(json_integer_value(json_object_get(rp, "periodSeconds")), 200);
    CHECK_INT(json_integer_value(json_object_get(rp, "failureThreshold")), 300);
    CHECK_STR(it_arg_after(it_init(r.pod), "-d"), "15090,15021,123");
    inj_result_cleanup(&r);

    REQUIRE(it_inject_fixture(NULL, "status_annotations_zeroport", &r) == 0);
    CHECK(json_object_get(it_proxy(r.pod), "readinessProbe") == NULL);
    CHECK(json_object_get(it_proxy(r.pod), "startupProbe") == NULL);
    CHECK_STR(it_arg_after(it_init(r.pod), "-d"), "15090,15021");
    inj_result_cleanup(&r);

    cfg = it_config_parts(NULL,
                          "{\"global\":{\"proxy\":{\"startupProbe\":"
                          "{\"enabled\":false},"
                          "\"readinessPeriodSeconds\":7}}}",
                          NULL);
    REQUIRE(cfg != NULL);
    REQUIRE(it_inject_fixture(cfg, "hello", &r) == 0);
    CHECK(json_object_get(it_proxy(r.pod), "startupProbe") == NULL);
    CHECK_INT(json_integer_value(
                  jutil_path(it_proxy(r.pod), "readinessProbe.periodSeconds")),
              7);
    inj_result_cleanup(&r);
    inj_config_free(cfg);
}

TEST(proxy_resources_from_annotations_only_those_set)
{
    struct inj_result r;
    json_t *res;

    REQUIRE(it_inject_fixture(NULL, "resource_annotations", &r) == 0);
    res = jutil_obj(it_proxy(r.pod), "resources");
    CHECK_STR(jutil_path_str(res, "requests.cpu"), "100m");
    CHECK_STR(jutil_path_str(res, "requests.memory"), "1Gi");
    CHECK_STR(jutil_path_str(res, "limits.cpu"), "1000m");
    CHECK_STR(jutil_path_str(res, "limits.memory"), "2Gi");
    CHECK(json_equal(res, jutil_obj(it_init(r.pod), "resources")));
    inj_result_cleanup(&r);

    /* one annotation: only that field, no values defaults at all */
    REQUIRE(it_inject_fixture(NULL, "traffic-annotations", &r) == 0);
    res = jutil_obj(it_proxy(r.pod), "resources");
    CHECK_STR(jutil_path_str(res, "requests.cpu"), "4000m");
    CHECK(jutil_path(res, "requests.memory") == NULL);
    CHECK(json_object_get(res, "limits") == NULL);
    inj_result_cleanup(&r);
}

TEST(proxy_resources_from_values_nulls_dropped)
{
    struct inj_config *cfg;
    struct inj_result r;

    cfg = it_config_parts(NULL, "{\"global\":{\"proxy\":{\"resources\":null}}}",
                          NULL);
    REQUIRE(cfg != NULL);
    REQUIRE(it_inject_fixture(cfg, "hello", &r) == 0);
    CHECK(json_object_get(it_proxy(r.pod), "resources") == NULL);
    CHECK(json_object_get(it_init(r.pod), "resources") == NULL);
    inj_result_cleanup(&r);
    inj_config_free(cfg);

    cfg = it_config_parts(NULL,
                          "{\"global\":{\"proxy\":{\"resources\":"
                          "{\"limits\":{\"memory\":null}}}}}",
                          NULL);
    REQUIRE(cfg != NULL);
    REQUIRE(it_inject_fixture(cfg, "hello", &r) == 0);
    CHECK_STR(jutil_path_str(it_proxy(r.pod), "resources.limits.cpu"), "2000m");
    CHECK(jutil_path(it_proxy(r.pod), "resources.limits.memory") == NULL);
    CHECK_STR(jutil_path_str(it_proxy(r.pod), "resources.requests.memory"),
              "128Mi");
    inj_result_cleanup(&r);
    inj_config_free(cfg);
}

TEST(hold_application_until_proxy_starts)
{
    struct inj_result r;
    struct inj_config *cfg;
    json_t *first, *cmd;

    REQUIRE(it_inject_fixture(NULL, "hello-hold", &r) == 0);
    first = json_array_get(jutil_path(r.pod, "spec.containers"), 0);
    CHECK_STR(jutil_str(first, "name"), "istio-proxy");
    cmd = jutil_path(first, "lifecycle.postStart.exec.command");
    CHECK_INT(json_array_size(cmd), 2);
    CHECK_STR(json_string_value(json_array_get(cmd, 0)), "pilot-agent");
    CHECK_STR(json_string_value(json_array_get(cmd, 1)), "wait");
    inj_result_cleanup(&r);

    /* from values; proxy config false wins over values true */
    cfg = it_config_parts(
        NULL,
        "{\"global\":{\"proxy\":{\"holdApplicationUntilProxyStarts\":true}}}",
        NULL);
    REQUIRE(cfg != NULL);
    REQUIRE(it_inject_fixture(cfg, "hello", &r) == 0);
    CHECK_STR(jutil_str(json_array_get(jutil_path(r.pod, "spec.containers"), 0),
                        "name"),
              "istio-proxy");
    inj_result_cleanup(&r);
    REQUIRE(it_inject_json(cfg,
                           "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                           "\"proxy.istio.io/config\":"
                           "\"holdApplicationUntilProxyStarts: false\"}},"
                           "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                           &r) == 0);
    CHECK_STR(jutil_str(json_array_get(jutil_path(r.pod, "spec.containers"), 1),
                        "name"),
              "istio-proxy");
    CHECK(json_object_get(it_proxy(r.pod), "lifecycle") == NULL);
    inj_result_cleanup(&r);
    inj_config_free(cfg);
}

TEST(values_lifecycle_wins)
{
    struct inj_config *cfg = it_config_parts(
        NULL,
        "{\"global\":{\"proxy\":{\"lifecycle\":{\"preStop\":{\"exec\":"
        "{\"command\":[\"sleep\",\"5\"]}}}}}}",
        NULL);
    struct inj_result r;

    REQUIRE(cfg != NULL);
    REQUIRE(it_inject_fixture(cfg, "hello-hold", &r) == 0);
    CHECK_STR(
        json_string_value(json_array_get(
            jutil_path(it_proxy(r.pod), "lifecycle.preStop.exec.command"), 0)),
        "sleep");
    CHECK(jutil_path(it_proxy(r.pod), "lifecycle.postStart") == NULL);
    inj_result_cleanup(&r);
    inj_config_free(cfg);
}

TEST(proxy_late_env_is_last)
{
    struct inj_config *cfg = it_config();
    json_t *pod = it_fixture("hello-probes");
    struct inj_result r;
    json_t *env;
    size_t n;

    REQUIRE(cfg && pod);
    json_object_set_new(
        jutil_obj_ensure(jutil_obj(pod, "metadata"), "annotations"),
        "prometheus.io/port", json_string("8080"));
    REQUIRE(it_inject(cfg, pod, &r) == 0);
    env = jutil_arr(it_proxy(r.pod), "env");
    n = json_array_size(env);
    REQUIRE(n > 2);
    CHECK_STR(jutil_str(json_array_get(env, n - 2), "name"),
              "ISTIO_KUBE_APP_PROBERS");
    CHECK_STR(jutil_str(json_array_get(env, n - 1), "name"),
              "ISTIO_PROMETHEUS_ANNOTATIONS");
    inj_result_cleanup(&r);
    /* without app Prometheus annotations there is no such env (Istio) */
    REQUIRE(it_inject_fixture(cfg, "hello-probes", &r) == 0);
    env = jutil_arr(it_proxy(r.pod), "env");
    CHECK_STR(jutil_str(json_array_get(env, json_array_size(env) - 1), "name"),
              "ISTIO_KUBE_APP_PROBERS");
    inj_result_cleanup(&r);
    json_decref(pod);
    inj_config_free(cfg);
}

TEST(cap_net_bind_service)
{
    struct inj_result r;
    json_t *sc;

    REQUIRE(it_inject_json(NULL,
                           "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                           "\"sidecar.istio.io/capNetBindService\":"
                           "\"true\"}},"
                           "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                           &r) == 0);
    sc = jutil_obj(it_proxy(r.pod), "securityContext");
    CHECK_STR(json_string_value(
                  json_array_get(jutil_path(sc, "capabilities.add"), 0)),
              "NET_BIND_SERVICE");
    CHECK_INT(json_integer_value(json_object_get(sc, "runAsUser")), 0);
    inj_result_cleanup(&r);
}

/* annots_pod: a pod whose annotations are nfill near-miss keys of
 * sidecar.istio.io/logLevel (plus that key = debug when with_key), as
 * JSON text in buf */
static const char *
annots_pod(char *buf, size_t cap, int nfill, int with_key)
{
    static const char *const fill[] = {"sidecar.istio.io/logLeve",
                                       "sidecar.istio.io/logLevelX",
                                       "sidecar.istio.io/LogLevel",
                                       "xidecar.istio.io/logLevel",
                                       "a",
                                       "example.com/note",
                                       "sidecar.istio.io/logLevel/"};
    size_t n = (size_t)snprintf(buf, cap,
                                "{\"metadata\":{\"name\":\"p\","
                                "\"annotations\":{");

    for (int i = 0; i < nfill; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\":\"trace\"",
                              i ? "," : "", fill[i]);
    if (with_key)
        n += (size_t)snprintf(buf + n, cap - n,
                              "%s\"sidecar.istio.io/logLevel\":\"debug\"",
                              nfill ? "," : "");
    snprintf(buf + n, cap - n,
             "}},\"spec\":{\"containers\":[{\"name\":\"app\"}]}}");
    return buf;
}

/* few annotations are compared one by one, many are hashed (inj_annot):
 * both find exactly the key, never a near miss */
TEST(proxy_annotation_found_among_few_and_many)
{
    char text[2048];

    for (int nfill = 0; nfill <= 7; nfill++) {
        for (int with_key = 0; with_key <= 1; with_key++) {
            struct inj_result r;

            REQUIRE(it_inject_json(
                        NULL, annots_pod(text, sizeof(text), nfill, with_key),
                        &r) == 0);
            CHECK_CONTAINS(ARGS(it_proxy(r.pod)),
                           with_key ? "--proxyLogLevel=debug "
                                    : "--proxyLogLevel=warning ");
            inj_result_cleanup(&r);
        }
    }
}
