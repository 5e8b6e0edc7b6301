/* test_ag_inputs.c: ISTIO_KUBE_APP_PROBERS, ISTIO_PROMETHEUS_ANNOTATIONS and
 * downward API parsing. */
#include "tests/unit/harness.h"
#include "agent/ag_inputs.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

static int
probers(struct ag_probers *p, const char *json)
{
    return ag_probers_parse(p, json, strlen(json));
}

TEST(ag_probers_istio_golden_example)
{
    /* hello-probes.yaml.injected from Istio's golden files */
    const char *j =
        "{\"/app-health/hello/livez\":{\"httpGet\":{\"port\":80}},"
        "\"/app-health/hello/readyz\":{\"httpGet\":{\"port\":3333}},"
        "\"/app-health/world/livez\":{\"httpGet\":{\"port\":90}},"
        "\"/app-lifecycle/hello/poststartz\":{\"tcpSocket\":{\"port\":93}},"
        "\"/app-lifecycle/hello/prestopz\":{\"httpGet\":{\"port\":91}}}";
    struct ag_probers p;
    const struct ag_prober *x;

    REQUIRE(probers(&p, j) == 0);
    CHECK_INT(p.n, 5);
    x = ag_probers_find(&p, "/app-health/hello/readyz");
    REQUIRE(x != NULL);
    CHECK_INT(x->kind, AG_PROBE_HTTP);
    CHECK_INT(x->port, 3333);
    CHECK_STR(x->http_path, "/");
    CHECK_STR(x->host, "");
    CHECK_INT(x->timeout_s, 1);
    x = ag_probers_find(&p, "/app-lifecycle/hello/poststartz");
    REQUIRE(x != NULL);
    CHECK_INT(x->kind, AG_PROBE_TCP);
    CHECK_INT(x->port, 93);
    CHECK(ag_probers_find(&p, "/app-health/world/readyz") == NULL);
    CHECK(ag_probers_find(&p, "/app-health/zzz/livez") == NULL);
    ag_probers_cleanup(&p);
}

TEST(ag_probers_webhook_defaulted_fields)
{
    const char *j =
        "{\"/app-health/c/readyz\":{\"httpGet\":{\"path\":\"healthz\","
        "\"port\":\"8080\",\"scheme\":\"HTTPS\",\"host\":\"10.0.0.5\","
        "\"httpHeaders\":[{\"name\":\"X-A\",\"value\":\"b c\"}]},"
        "\"timeoutSeconds\":3},"
        "\"/app-health/c/startupz\":{\"grpc\":{\"port\":9000,\"service\":"
        "\"svc.v1\"},\"timeoutSeconds\":0}}";
    struct ag_probers p;
    const struct ag_prober *x;

    REQUIRE(probers(&p, j) == 0);
    x = ag_probers_find(&p, "/app-health/c/readyz");
    REQUIRE(x != NULL);
    CHECK_STR(x->http_path, "/healthz");
    CHECK_INT(x->port, 8080);
    CHECK_INT(x->https, 1);
    CHECK_STR(x->host, "10.0.0.5");
    CHECK_INT(x->timeout_s, 3);
    REQUIRE(x->nheaders == 1);
    CHECK_STR(x->headers[0].name, "X-A");
    CHECK_STR(x->headers[0].value, "b c");
    x = ag_probers_find(&p, "/app-health/c/startupz");
    REQUIRE(x != NULL);
    CHECK_INT(x->kind, AG_PROBE_GRPC);
    CHECK_STR(x->grpc_service, "svc.v1");
    CHECK_INT(x->timeout_s, 1);
    ag_probers_cleanup(&p);
}

TEST(ag_probers_refuses_bad_input)
{
    const char *bad[] = {
        "[]",
        "{\"/app-health/c/ready\":{\"httpGet\":{\"port\":1}}}",
        "{\"/app-health//readyz\":{\"httpGet\":{\"port\":1}}}",
        "{\"/other/c/readyz\":{\"httpGet\":{\"port\":1}}}",
        "{\"/app-health/c/readyz\":{}}",
        "{\"/app-health/c/readyz\":{\"httpGet\":{\"port\":1},"
        "\"tcpSocket\":{\"port\":1}}}",
        "{\"/app-health/c/readyz\":{\"httpGet\":{\"port\":0}}}",
        "{\"/app-health/c/readyz\":{\"httpGet\":{\"port\":\"http\"}}}",
        "{\"/app-health/c/readyz\":{\"httpGet\":{\"port\":65536}}}",
        "{\"/app-health/c/readyz\":{\"httpGet\":{\"port\":1,\"path\":"
        "\"/a b\"}}}",
        "{\"/app-health/c/readyz\":{\"httpGet\":{\"port\":1,\"scheme\":"
        "\"FTP\"}}}",
        "{\"/app-health/c/readyz\":{\"httpGet\":{\"port\":1,\"host\":"
        "\"a/b\"}}}",
        "{\"/app-health/c/readyz\":{\"httpGet\":{\"port\":1,\"httpHeaders\":"
        "[{\"name\":\"X\",\"value\":\"a\\r\\nInjected: 1\"}]}}}",
        "{\"/app-health/c/readyz\":{\"httpGet\":{\"port\":1,\"httpHeaders\":"
        "[{\"name\":\"X Y\",\"value\":\"a\"}]}}}",
        "{\"/app-health/c/readyz\":{\"httpGet\":{\"port\":1},"
        "\"timeoutSeconds\":-1}}",
        "{\"/app-health/c/readyz\":{\"tcpSocket\":[1]}}",
        "{\"/app-health/c/readyz\":{\"grpc\":{\"port\":1,\"service\":5}}}",
        "{\"/app-health/c/readyz\":{\"exec\":{\"command\":[\"true\"]}}}",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ag_probers p;
        int rc = probers(&p, bad[i]);

        if (rc == 0)
            harness_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
        CHECK(rc == RC_INVAL || rc == RC_PARSE);
        CHECK(p.n == 0 && p.v == NULL);
    }
}

TEST(ag_probers_caps)
{
    struct buf b;
    struct ag_probers p;

    buf_init(&b, 0);
    buf_addc(&b, '{');
    for (int i = 0; i <= AG_PROBERS_MAX; i++)
        buf_addf(&b, "%s\"/app-health/c%d/livez\":{\"tcpSocket\":{\"port\":1}}",
                 i ? "," : "", i);
    buf_addc(&b, '}');
    CHECK_INT(ag_probers_parse(&p, b.ptr, b.len), RC_LIMIT);
    buf_cleanup(&b);
    CHECK_INT(probers(&p, ""), 0);
    CHECK_INT(p.n, 0);
}

TEST(ag_probers_oom)
{
    const char *j =
        "{\"/app-health/a/livez\":{\"httpGet\":{\"port\":80,\"path\":\"/x\","
        "\"httpHeaders\":[{\"name\":\"A\",\"value\":\"b\"}]}},"
        "\"/app-health/b/livez\":{\"grpc\":{\"port\":81}}}";
    int done = 0;

    for (long n = 1; n < 300 && !done; n++) {
        struct ag_probers p;
        int rc;

        mem_fail_set(n);
        rc = probers(&p, j);
        mem_fail_set(0);
        if (rc == 0) {
            CHECK_INT(p.n, 2);
            ag_probers_cleanup(&p);
            done = 1;
        } else {
            CHECK_INT(rc, RC_NOMEM);
        }
    }
    CHECK(done);
}

TEST(ag_prom_annotations)
{
    struct ag_prom p;
    const char *j1 = "{\"scrape\":\"true\",\"path\":\"/stats\",\"port\":"
                     "\"9090\"}";
    const char *j2 = "{\"scrape\":\"true\",\"port\":9091}";
    const char *j3 = "{\"scrape\":\"false\",\"port\":\"9091\"}";
    const char *j4 = "{\"scrape\":\"true\"}";

    REQUIRE(ag_prom_parse(&p, j1, strlen(j1)) == 0);
    CHECK_INT(p.scrape, 1);
    CHECK_INT(p.port, 9090);
    CHECK_STR(p.path, "/stats");
    ag_prom_cleanup(&p);
    REQUIRE(ag_prom_parse(&p, j2, strlen(j2)) == 0);
    CHECK_INT(p.scrape, 1);
    CHECK_STR(p.path, "/metrics");
    ag_prom_cleanup(&p);
    REQUIRE(ag_prom_parse(&p, j3, strlen(j3)) == 0);
    CHECK_INT(p.scrape, 0);
    ag_prom_cleanup(&p);
    REQUIRE(ag_prom_parse(&p, j4, strlen(j4)) == 0);
    CHECK_INT(p.scrape, 0); /* no port: nothing to scrape */
    ag_prom_cleanup(&p);
    /* fuzz finding: an empty variable is "no scraping", path NULL */
    REQUIRE(ag_prom_parse(&p, "", 0) == 0);
    CHECK_INT(p.scrape, 0);
    CHECK(p.path == NULL);
    ag_prom_cleanup(&p);
    CHECK_INT(ag_prom_parse(&p, "{\"port\":\"x\"}", 12), RC_INVAL);
    CHECK_INT(ag_prom_parse(&p, "{\"path\":\"nos\"}", 14), RC_INVAL);
    CHECK_INT(ag_prom_parse(&p, "{\"path\":\"/a b\"}", 15), RC_INVAL);
    CHECK_INT(ag_prom_parse(&p, "[", 1), RC_PARSE);
}

TEST(ag_podinfo_downward_api)
{
    const char *t =
        "app=\"reviews\"\n"
        "version=\"v1\"\r\n"
        "\n"
        "note=\"a \\\"q\\\" \\\\ \\n\\u00e9\\U0001F600\\x41\\101\"\n"
        "empty=\"\"";
    json_t *o = NULL;

    REQUIRE(ag_podinfo_parse(&o, t, strlen(t)) == 0);
    CHECK_STR(json_string_value(json_object_get(o, "app")), "reviews");
    CHECK_STR(json_string_value(json_object_get(o, "version")), "v1");
    CHECK_STR(json_string_value(json_object_get(o, "note")),
              "a \"q\" \\ \n\xc3\xa9\xf0\x9f\x98\x80"
              "AA");
    CHECK_STR(json_string_value(json_object_get(o, "empty")), "");
    CHECK_INT(json_object_size(o), 4);
    json_decref(o);
}

TEST(ag_podinfo_malformed)
{
    const char *bad[] = {"app=reviews",  "=\"x\"",          "app=\"x",
                         "app=\"a\"b\"", "app=\"\\q\"",     "app=\"\\u12\"",
                         "app",          "app=\"\\ud800\"", "a=\"\\xff\""};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *o = (json_t *)1;

        if (ag_podinfo_parse(&o, bad[i], strlen(bad[i])) != RC_PARSE)
            harness_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
        CHECK(o == NULL);
    }
}
