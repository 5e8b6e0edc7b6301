/* test_ag_opts.c: mizzen-agent's flags, environment and PROXY_CONFIG. */
#include "tests/unit/harness.h"
#include "agent/ag_opts.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

/* parse: args without the program name, NULL-terminated. */
static int
parse(struct ag_opts *o, const char *const *args, char **envp)
{
    char *argv[64];
    int argc = 0, rc;

    argv[argc++] = "mizzen-agent";
    while (args[argc - 1] && argc < 63) {
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    argv[argc] = NULL;
    rc = ag_opts_init(o);
    return rc ? rc : ag_opts_parse(o, argc, argv, envp);
}

TEST(ag_opts_istio_defaults)
{
    const char *args[] = {"proxy", "sidecar", NULL};
    struct ag_opts o;

    REQUIRE(parse(&o, args, NULL) == 0);
    CHECK_INT(o.cmd, AG_CMD_PROXY);
    CHECK_STR(o.envoy_binary, "/usr/local/bin/envoy");
    CHECK_STR(o.certs_dir, "/etc/certs");
    CHECK_STR(o.config_dir, "/etc/istio/proxy");
    CHECK_STR(o.discovery_address, "mizzen-operator.istio-system.svc:15012");
    CHECK_INT(o.status_port, 15020);
    CHECK_INT(o.admin_port, 15000);
    CHECK_INT(o.envoy_prom_port, 15090);
    CHECK_INT(o.envoy_ready_port, 15021);
    CHECK_INT(o.drain_ms, 5000);
    CHECK_INT(o.envoy_drain_ms, 45000);
    CHECK_INT(o.parent_shutdown_ms, 60000);
    CHECK_INT(o.backoff_initial_ms, 1000);
    CHECK_INT(o.backoff_max_ms, 30000);
    CHECK_INT(o.concurrency, -1);
    CHECK_INT(o.xds_mtls, 1);
    CHECK_STR(o.proxy_log_level, "warning");
    CHECK_STR(o.component_log_level, "misc:error");
    CHECK_INT(o.log_level, LOG_INFO);
    ag_opts_cleanup(&o);
}

TEST(ag_opts_injector_args)
{
    /* exactly what injector/sidecar.c writes */
    const char *args[] = {"proxy",
                          "sidecar",
                          "--domain",
                          "ns1.svc.cluster.local",
                          "--proxyLogLevel=debug",
                          "--proxyComponentLogLevel=misc:error,upstream:warn",
                          "--log_output_level=default:warn",
                          "--log_as_json",
                          "--concurrency",
                          "2",
                          NULL};
    struct ag_opts o;

    REQUIRE(parse(&o, args, NULL) == 0);
    CHECK_STR(o.domain, "ns1.svc.cluster.local");
    CHECK_STR(o.proxy_log_level, "debug");
    CHECK_STR(o.component_log_level, "misc:error,upstream:warn");
    CHECK_INT(o.log_level, LOG_WARN);
    CHECK_INT(o.log_json, 1);
    CHECK_INT(o.concurrency, 2);
    ag_opts_cleanup(&o);
}

TEST(ag_opts_precedence_flag_env_proxyconfig)
{
    const char *args[] = {"proxy", "sidecar", "-status-port", "1234", NULL};
    char *env[] = {
        "MIZZEN_AGENT_STATUS_PORT=999", "MIZZEN_AGENT_ADMIN_PORT=2000",
        "ENVOY_BINARY=/opt/envoy",
        "PROXY_CONFIG={\"proxyAdminPort\":3000,\"statusPort\":4000,"
        "\"drainDuration\":\"1m30s\",\"terminationDrainDuration\":\"250ms\","
        "\"discoveryAddress\":\"op.ns.svc:15010\",\"controlPlaneAuthPolicy\":"
        "\"NONE\",\"concurrency\":{\"value\":4},\"binaryPath\":\"/x\","
        "\"unknownField\":{\"a\":1}}",
        NULL};
    struct ag_opts o;

    REQUIRE(parse(&o, args, env) == 0);
    CHECK_INT(o.status_port, 1234); /* flag over env and PROXY_CONFIG */
    CHECK_INT(o.admin_port, 2000);  /* env over PROXY_CONFIG */
    CHECK_STR(o.envoy_binary, "/opt/envoy");
    CHECK_INT(o.envoy_drain_ms, 90000); /* PROXY_CONFIG over default */
    CHECK_INT(o.drain_ms, 250);
    CHECK_STR(o.discovery_address, "op.ns.svc:15010");
    CHECK_INT(o.xds_mtls, 0);
    CHECK_INT(o.concurrency, 4);
    ag_opts_cleanup(&o);
}

TEST(ag_opts_errors_name_the_culprit)
{
    struct {
        const char *args[6];
        char *env[3];
        const char *msg;
    } cases[] = {
        {{"proxy", "sidecar", "--bogus", NULL}, {NULL}, "--bogus"},
        {{"proxy", "sidecar", "--status-port", "70000", NULL},
         {NULL},
         "--status-port"},
        {{"proxy", "sidecar", "--drain-duration", "5 s", NULL},
         {NULL},
         "--drain-duration"},
        {{"proxy", "sidecar", "--proxyLogLevel", "loud", NULL},
         {NULL},
         "proxyLogLevel"},
        {{"proxy", "sidecar", "--admin-port", NULL}, {NULL}, "needs a value"},
        {{"proxy", "sidecar", NULL},
         {"MIZZEN_AGENT_BACKOFF_MAX=forever", NULL},
         "MIZZEN_AGENT_BACKOFF_MAX"},
        {{"proxy", "sidecar", NULL},
         {"PROXY_CONFIG={\"statusPort\":\"x\"}", NULL},
         "statusPort"},
        {{"proxy", "sidecar", NULL},
         {"PROXY_CONFIG={\"drainDuration\":45}", NULL},
         "drainDuration"},
        {{"proxy", "sidecar", NULL}, {"PROXY_CONFIG=[1]", NULL}, "object"},
        {{"proxy", "sidecar", NULL}, {"PROXY_CONFIG={", NULL}, "PROXY_CONFIG"},
        {{"proxy", NULL}, {NULL}, "usage"},
        {{"wait", "--status-port", "1", NULL}, {NULL}, "not valid"},
        {{"proxy", "sidecar", "--log_output_level=default:chatty", NULL},
         {NULL},
         "log level"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ag_opts o;
        int rc = parse(&o, cases[i].args, cases[i].env);

        CHECK(rc == RC_INVAL || rc == RC_PARSE);
        CHECK_CONTAINS(errmsg_get(), cases[i].msg);
        ag_opts_cleanup(&o);
    }
}

TEST(ag_opts_router_unsupported_and_wait)
{
    const char *router[] = {"proxy", "router", NULL};
    const char *wait[] = {"wait", "--timeoutSeconds=5", "--periodMillis", "100",
                          NULL};
    const char *help[] = {"--help", NULL};
    struct ag_opts o;

    CHECK_INT(parse(&o, router, NULL), RC_UNSUPPORTED);
    ag_opts_cleanup(&o);
    REQUIRE(parse(&o, wait, NULL) == 0);
    CHECK_INT(o.cmd, AG_CMD_WAIT);
    CHECK_INT(o.wait_timeout_s, 5);
    CHECK_INT(o.wait_period_ms, 100);
    CHECK_STR(o.wait_url, "http://127.0.0.1:15021/healthz/ready");
    ag_opts_cleanup(&o);
    REQUIRE(parse(&o, help, NULL) == 0);
    CHECK_INT(o.help, 1);
    ag_opts_cleanup(&o);
}

TEST(ag_duration_forms)
{
    long ms = -1;

    CHECK(ag_duration_ms("5s", &ms) == 0 && ms == 5000);
    CHECK(ag_duration_ms("1m30s", &ms) == 0 && ms == 90000);
    CHECK(ag_duration_ms("250ms", &ms) == 0 && ms == 250);
    CHECK(ag_duration_ms("1.5s", &ms) == 0 && ms == 1500);
    CHECK(ag_duration_ms("2h", &ms) == 0 && ms == 7200000);
    CHECK(ag_duration_ms("10", &ms) == 0 && ms == 10000);
    CHECK(ag_duration_ms("1500us", &ms) == 0 && ms == 2); /* rounded up */
    CHECK(ag_duration_ms("0", &ms) == 0 && ms == 0);
    CHECK_INT(ag_duration_ms("", &ms), RC_INVAL);
    CHECK_INT(ag_duration_ms("-1s", &ms), RC_INVAL);
    CHECK_INT(ag_duration_ms("5x", &ms), RC_INVAL);
    CHECK_INT(ag_duration_ms("1s5", &ms), RC_INVAL);
    CHECK_INT(ag_duration_ms("1000h", &ms), RC_INVAL); /* over 30 days */
    CHECK_INT(ag_duration_ms("s", &ms), RC_INVAL);
}

TEST(ag_opts_usage_lists_every_flag)
{
    char *u = ag_opts_usage();

    REQUIRE(u != NULL);
    CHECK_CONTAINS(u, "--envoy-binary");
    CHECK_CONTAINS(u, "ENVOY_BINARY");
    CHECK_CONTAINS(u, "--drain-duration");
    CHECK_CONTAINS(u, "terminationDrainDuration");
    CHECK_CONTAINS(u, "--backoff-max");
    CHECK_CONTAINS(u, "--parent-shutdown-duration");
    mem_free(u);
}

TEST(ag_opts_oom_paths)
{
    const char *args[] = {"proxy", "sidecar", "--config-dir", "/x", NULL};
    char *env[] = {"PROXY_CONFIG={\"binaryPath\":\"/b\",\"drainDuration\":"
                   "\"3s\"}",
                   NULL};
    int ok = 0;

    for (long n = 1; n < 200 && !ok; n++) {
        struct ag_opts o;
        int rc;

        mem_fail_set(n);
        rc = parse(&o, args, env);
        mem_fail_set(0);
        if (rc == 0) {
            CHECK_STR(o.envoy_binary, "/b");
            ok = 1;
        } else {
            CHECK_INT(rc, RC_NOMEM);
        }
        ag_opts_cleanup(&o);
    }
    CHECK(ok);
}
