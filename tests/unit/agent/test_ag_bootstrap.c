/* test_ag_bootstrap.c: node identity, the bootstrap document, Envoy's
 * command line. */
#include "tests/unit/harness.h"
#include "agent/ag_bootstrap.h"
#include "agent/ag_opts.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

static char *env_pod[] = {"POD_NAME=reviews-v1-xyz",
                          "POD_NAMESPACE=bookinfo",
                          "INSTANCE_IP=10.244.1.7",
                          "SERVICE_ACCOUNT=bookinfo-reviews",
                          "ISTIO_META_CLUSTER_ID=east",
                          "ISTIO_META_WORKLOAD_NAME=reviews-v1",
                          "ISTIO_META_MESH_ID=mesh1",
                          "TRUST_DOMAIN=example.org",
                          "PROXY_CONFIG={\"concurrency\":2}",
                          "ISTIO_METAJSON_EXTRA={\"k\":[1,2]}",
                          "ISTIO_METAJSON_BROKEN={",
                          "HOME=/root",
                          NULL};

static int
opts(struct ag_opts *o, const char *const *extra)
{
    char *argv[16] = {"mizzen-agent", "proxy", "sidecar"};
    int argc = 3, rc;

    for (; extra && *extra && argc < 15; extra++)
        argv[argc++] = (char *)*extra;
    argv[argc] = NULL;
    rc = ag_opts_init(o);
    return rc ? rc : ag_opts_parse(o, argc, argv, NULL);
}

static const json_t *
cluster_named(const json_t *b, const char *name)
{
    const json_t *cl = jutil_path(b, "static_resources.clusters");
    size_t i;
    const json_t *c;

    json_array_foreach(cl, i, c)
    {
        if (strcmp(jutil_str(c, "name"), name) == 0)
            return c;
    }
    return NULL;
}

static const json_t *
endpoint_of(const json_t *c)
{
    return jutil_path(
        json_array_get(
            jutil_arr(
                json_array_get(jutil_path(c, "load_assignment.endpoints"), 0),
                "lb_endpoints"),
            0),
        "endpoint.address.socket_address");
}

TEST(ag_node_identity)
{
    struct ag_opts o;
    struct ag_node n;
    json_t *labels = json_pack("{s:s}", "app", "reviews");

    REQUIRE(opts(&o, NULL) == 0);
    REQUIRE(ag_node_init(&n, &o, env_pod, labels) == 0);
    CHECK_STR(n.id, "sidecar~10.244.1.7~reviews-v1-xyz.bookinfo~bookinfo.svc."
                    "cluster.local");
    CHECK_STR(n.cluster, "reviews.bookinfo");
    CHECK_INT(n.ipv6, 0);
    ag_node_cleanup(&n);
    /* no labels: the workload name; --domain wins for the id */
    ag_opts_cleanup(&o);
    {
        const char *x[] = {"--domain", "bookinfo.svc.corp.local", NULL};

        REQUIRE(opts(&o, x) == 0);
    }
    REQUIRE(ag_node_init(&n, &o, env_pod, NULL) == 0);
    CHECK_STR(n.id,
              "sidecar~10.244.1.7~reviews-v1-xyz.bookinfo~bookinfo.svc.corp."
              "local");
    CHECK_STR(n.cluster, "reviews-v1.bookinfo");
    ag_node_cleanup(&n);
    ag_opts_cleanup(&o);
    /* an explicit --serviceCluster; IPv6 pod; nothing set at all */
    {
        const char *x[] = {"--serviceCluster", "mine", NULL};
        char *env6[] = {"INSTANCE_IP=fd00::5,fd00::6", NULL};

        REQUIRE(opts(&o, x) == 0);
        REQUIRE(ag_node_init(&n, &o, env6, labels) == 0);
        CHECK_STR(n.cluster, "mine");
        CHECK_INT(n.ipv6, 1);
        CHECK_STR(n.ip, "fd00::5");
        CHECK_STR(ag_admin_host(&n), "::1");
        ag_node_cleanup(&n);
        REQUIRE(ag_node_init(&n, &o, NULL, NULL) == 0);
        CHECK_INT(n.ip_defaulted, 1);
        CHECK_STR(n.id, "sidecar~127.0.0.1~unknown.default~default.svc."
                        "cluster.local");
        ag_node_cleanup(&n);
    }
    ag_opts_cleanup(&o);
    json_decref(labels);
}

TEST(ag_bootstrap_document)
{
    const char *x[] = {
        "--admin-port", "25000", "--status-port", "25020", "--certs-dir",
        "/c",           NULL};
    struct ag_opts o;
    struct ag_node n;
    json_t *labels = json_pack("{s:s,s:s}", "app", "reviews", "version", "v1");
    json_t *ann = json_pack("{s:s}", "a", "b");
    json_t *b = NULL;
    const json_t *md, *x1, *tls;

    REQUIRE(opts(&o, x) == 0);
    REQUIRE(ag_node_init(&n, &o, env_pod, labels) == 0);
    REQUIRE(ag_bootstrap_build(&b, &o, &n, env_pod, labels, ann) == 0);
    CHECK(json_object_get(b, "@type") == NULL);
    CHECK_STR(jutil_path_str(b, "node.id"), n.id);
    md = jutil_path(b, "node.metadata");
    CHECK_STR(jutil_str(md, "NAMESPACE"), "bookinfo");
    CHECK_STR(jutil_str(md, "INSTANCE_IPS"), "10.244.1.7");
    CHECK_STR(jutil_str(md, "SERVICE_ACCOUNT"), "bookinfo-reviews");
    CHECK_STR(jutil_str(md, "CLUSTER_ID"), "east"); /* ISTIO_META_ wins */
    CHECK_STR(jutil_str(md, "MESH_ID"), "mesh1");
    CHECK_STR(jutil_str(md, "WORKLOAD_NAME"), "reviews-v1");
    CHECK_STR(jutil_path_str(md, "LABELS.version"), "v1");
    CHECK_STR(jutil_path_str(md, "ANNOTATIONS.a"), "b");
    CHECK(json_integer_value(jutil_path(md, "PROXY_CONFIG.concurrency")) == 2);
    CHECK(jutil_str(md, "HOME") == NULL);
    CHECK(json_array_size(jutil_path(md, "EXTRA.k")) == 2);
    CHECK(json_object_get(md, "BROKEN") == NULL);
    CHECK_STR(jutil_path_str(b, "admin.address.socket_address.address"),
              "127.0.0.1");
    CHECK(json_integer_value(jutil_path(
              b, "admin.address.socket_address.port_value")) == 25000);
    CHECK_STR(jutil_path_str(b, "dynamic_resources.ads_config.api_type"),
              "GRPC");
    CHECK(json_is_true(jutil_path(
        b, "dynamic_resources.ads_config.set_node_on_first_message_only")));
    CHECK(json_integer_value(json_object_get(
              endpoint_of(cluster_named(b, "agent")), "port_value")) == 25020);
    CHECK(json_integer_value(
              json_object_get(endpoint_of(cluster_named(b, "prometheus_stats")),
                              "port_value")) == 25000);
    x1 = cluster_named(b, "xds-grpc");
    REQUIRE(x1 != NULL);
    CHECK_STR(jutil_str(endpoint_of(x1), "address"),
              "mizzen-operator.istio-system.svc");
    CHECK_STR(jutil_str(x1, "type"), "STRICT_DNS");
    tls = jutil_path(x1, "transport_socket.typed_config");
    CHECK_STR(jutil_str(tls, "sni"), "mizzen-operator.istio-system.svc");
    CHECK_STR(
        jutil_path_str(json_array_get(jutil_path(tls, "common_tls_context."
                                                      "tls_certificates"),
                                      0),
                       "certificate_chain.filename"),
        "/c/cert-chain.pem");
    CHECK_STR(
        jutil_path_str(json_array_get(jutil_path(tls, "common_tls_context."
                                                      "validation_context."
                                                      "match_typed_subject_alt_"
                                                      "names"),
                                      0),
                       "matcher.exact"),
        "spiffe://example.org/ns/istio-system/sa/mizzen-operator");
    json_decref(b);
    ag_node_cleanup(&n);
    ag_opts_cleanup(&o);
    json_decref(labels);
    json_decref(ann);
}

TEST(ag_bootstrap_plaintext_ip_and_bad_address)
{
    const char *x[] = {"--discovery-address", "10.0.0.1:15010",
                       "--control-plane-auth", "NONE", NULL};
    const char *bad[] = {"--discovery-address", "nohostport", NULL};
    struct ag_opts o;
    struct ag_node n;
    json_t *b = NULL;
    const json_t *c;

    REQUIRE(opts(&o, x) == 0);
    REQUIRE(ag_node_init(&n, &o, env_pod, NULL) == 0);
    REQUIRE(ag_bootstrap_build(&b, &o, &n, env_pod, NULL, NULL) == 0);
    c = cluster_named(b, "xds-grpc");
    CHECK_STR(jutil_str(c, "type"), "STATIC");
    CHECK(json_object_get(c, "transport_socket") == NULL);
    CHECK(jutil_path(b, "node.metadata.LABELS") == NULL);
    json_decref(b);
    ag_node_cleanup(&n);
    ag_opts_cleanup(&o);

    REQUIRE(opts(&o, bad) == 0);
    REQUIRE(ag_node_init(&n, &o, env_pod, NULL) == 0);
    b = (json_t *)1;
    CHECK_INT(ag_bootstrap_build(&b, &o, &n, env_pod, NULL, NULL), RC_INVAL);
    CHECK(b == NULL);
    CHECK_CONTAINS(errmsg_get(), "discovery address");
    ag_node_cleanup(&n);
    ag_opts_cleanup(&o);
}

TEST(ag_split_hostport_forms)
{
    char h[64];
    int p = 0;

    CHECK(ag_split_hostport("a.b:15012", h, sizeof h, &p) == 0);
    CHECK_STR(h, "a.b");
    CHECK_INT(p, 15012);
    CHECK(ag_split_hostport("[fd00::1]:15010", h, sizeof h, &p) == 0);
    CHECK_STR(h, "fd00::1");
    CHECK_INT(p, 15010);
    CHECK_INT(ag_split_hostport("fd00::1:15010", h, sizeof h, &p), RC_INVAL);
    CHECK_INT(ag_split_hostport("a.b:0", h, sizeof h, &p), RC_INVAL);
    CHECK_INT(ag_split_hostport("a.b:", h, sizeof h, &p), RC_INVAL);
    CHECK_INT(ag_split_hostport(":80", h, sizeof h, &p), RC_INVAL);
    CHECK_INT(ag_split_hostport("a b:80", h, sizeof h, &p), RC_INVAL);
    CHECK_INT(ag_split_hostport("[::1:80", h, sizeof h, &p), RC_INVAL);
}

TEST(ag_envoy_argv_2019_form)
{
    const char *x[] = {
        "--envoy-binary", "/e", "--concurrency", "3", "--proxyLogLevel",
        "debug",          NULL};
    struct ag_opts o;
    struct ag_node n;
    char **argv;
    struct buf b;

    REQUIRE(opts(&o, x) == 0);
    REQUIRE(ag_node_init(&n, &o, env_pod, NULL) == 0);
    argv = ag_envoy_argv(&o, &n, "/cfg/envoy-rev2.json", 2, "a: b");
    REQUIRE(argv != NULL);
    buf_init(&b, 0);
    for (char **a = argv; *a; a++)
        buf_addf(&b, "%s%s", a == argv ? "" : " ", *a);
    CHECK_STR(b.ptr, "/e -c /cfg/envoy-rev2.json --restart-epoch 2 "
                     "--drain-time-s 45 --parent-shutdown-time-s 60 "
                     "--local-address-ip-version v4 -l debug "
                     "--component-log-level misc:error --concurrency 3 "
                     "--config-yaml a: b");
    buf_cleanup(&b);
    ag_argv_free(argv);
    ag_node_cleanup(&n);
    ag_opts_cleanup(&o);
}

TEST(ag_bootstrap_oom)
{
    struct ag_opts o;
    struct ag_node n;
    json_t *labels = json_pack("{s:s}", "app", "r");
    int done = 0;

    REQUIRE(opts(&o, NULL) == 0);
    for (long k = 1; k < 2000 && !done; k++) {
        json_t *b = NULL;
        int rc;

        mem_fail_set(k);
        rc = ag_node_init(&n, &o, env_pod, labels);
        if (rc == 0) {
            rc = ag_bootstrap_build(&b, &o, &n, env_pod, labels, labels);
            ag_node_cleanup(&n);
        }
        mem_fail_set(0);
        if (rc == 0) {
            CHECK(b != NULL);
            json_decref(b);
            done = 1;
        } else {
            CHECK_INT(rc, RC_NOMEM);
            CHECK(b == NULL);
        }
    }
    CHECK(done);
    ag_opts_cleanup(&o);
    json_decref(labels);
}
