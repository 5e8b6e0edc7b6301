/* test_op_opts.c: operator settings: defaults, flags, environment, mesh
 * config, their precedence, and bad values. */
#include "tests/unit/harness.h"

#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "lib/yamljson.h"
#include "operator/op_opts.h"

#include <string.h>

static const char *const *fake_env;

static const char *
env(const char *name)
{
    for (int i = 0; fake_env && fake_env[i]; i += 2)
        if (strcmp(fake_env[i], name) == 0)
            return fake_env[i + 1];
    return NULL;
}

static int
parse(struct op_opts *o, const char *const *argv, const char *const *e)
{
    int argc = 0;

    while (argv[argc])
        argc++;
    fake_env = e;
    if (op_opts_init(o) != 0)
        return -100;
    return op_opts_parse(o, argc, (char **)argv, env);
}

TEST(opts_defaults)
{
    struct op_opts o;
    const char *argv[] = {"op", NULL};

    CHECK_INT(parse(&o, argv, NULL), 0);
    CHECK_STR(o.ns, "istio-system");
    CHECK_STR(o.trust_domain, "cluster.local");
    CHECK(o.kubeconfig == NULL);
    CHECK_INT(o.workload_ttl, 2160 * 3600);
    CHECK(o.grace_ratio == 0.5);
    CHECK_INT(o.min_grace, 600);
    CHECK_INT(o.window.set, 0);
    CHECK_INT(o.clock_offset, 0);
    CHECK_INT(o.root_ttl, 87600LL * 3600);
    CHECK_INT(o.key_type, PKI_EC_P256);
    CHECK(o.root_grace_ratio == 0.2);
    CHECK_INT(o.root_overlap, 3600);
    CHECK_INT(o.leader_elect, 1);
    CHECK_INT(o.lease_duration_ms, 15000);
    CHECK_INT(o.renew_deadline_ms, 10000);
    CHECK_INT(o.retry_period_ms, 2000);
    CHECK_STR(o.webhook_secret, "mizzen-webhook-certs");
    CHECK_STR(o.webhook_config, "istio-sidecar-injector");
    op_opts_cleanup(&o);
}

TEST(opts_flags)
{
    struct op_opts o;
    const char *argv[] = {"op",
                          "--kubeconfig",
                          "/tmp/kc",
                          "--namespace=mesh",
                          "--workload-cert-ttl",
                          "24h",
                          "--cert-grace-ratio",
                          "25%",
                          "--cert-min-grace",
                          "1m30s",
                          "--cert-rotation-window",
                          "22:30-01:15",
                          "--clock-offset",
                          "-1100h",
                          "--key-algorithm",
                          "rsa-2048",
                          "--root-rotation-grace",
                          "720h",
                          "--root-rotation-overlap",
                          "5s",
                          "--leader-elect",
                          "false",
                          "--log-format",
                          "json",
                          "--workers",
                          "4",
                          NULL};

    REQUIRE(parse(&o, argv, NULL) == 0);
    CHECK_STR(o.kubeconfig, "/tmp/kc");
    CHECK_STR(o.ns, "mesh");
    CHECK_INT(o.workload_ttl, 86400);
    CHECK(o.grace_ratio == 0.25);
    CHECK_INT(o.min_grace, 90);
    CHECK_INT(o.window.set, 1);
    CHECK_INT(o.window.start_min, 22 * 60 + 30);
    CHECK_INT(o.window.end_min, 75);
    CHECK_INT(o.clock_offset, -1100LL * 3600);
    CHECK_INT(o.key_type, PKI_RSA_2048);
    CHECK_INT(o.root_grace, 720 * 3600);
    CHECK(o.root_grace_ratio == 0);
    CHECK_INT(o.root_overlap, 5);
    CHECK_INT(o.leader_elect, 0);
    CHECK_INT(o.log_format, LOG_FMT_JSON);
    CHECK_INT(o.workers, 4);
    op_opts_cleanup(&o);
}

TEST(opts_bare_bool_and_help)
{
    struct op_opts o;
    const char *a1[] = {"op", "--leader-elect", "--namespace", "x", NULL};
    const char *a2[] = {"op", "--help", NULL};

    CHECK_INT(parse(&o, a1, NULL), 0);
    CHECK_INT(o.leader_elect, 1);
    CHECK_STR(o.ns, "x");
    op_opts_cleanup(&o);
    CHECK_INT(parse(&o, a2, NULL), 1);
    op_opts_cleanup(&o);
    CHECK_CONTAINS(op_opts_usage(), "--cert-rotation-window");
    CHECK_CONTAINS(op_opts_usage(), "MIZZEN_WORKLOAD_CERT_TTL");
}

TEST(opts_bad_values)
{
    static const char *const bad[][3] = {
        {"--workload-cert-ttl", "90d", "workload-cert-ttl"},
        {"--workload-cert-ttl", "-1h", "negative"},
        {"--cert-grace-ratio", "1.5", "ratio"},
        {"--cert-grace-ratio", "abc", "number"},
        {"--cert-rotation-window", "25:00-01:00", ""},
        {"--cert-rotation-window", "02:00-02:00", ""},
        {"--key-algorithm", "dsa", ""},
        {"--leader-elect=maybe", NULL, "true or false"},
        {"--workers", "0", "1..64"},
        {"--trust-domain", "a/b", "bad character"},
        {"--lease-duration", "0s", "> 0"},
        {"--no-such-flag", "1", "unknown flag"},
        {"--namespace", NULL, "needs a value"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct op_opts o;
        const char *argv[] = {"op", bad[i][0], bad[i][1], NULL};
        int rc = parse(&o, argv, NULL);
        if (rc != RC_INVAL)
            harness_fail(__FILE__, __LINE__, "%s %s: rc %d", bad[i][0],
                         bad[i][1] ? bad[i][1] : "", rc);
        CHECK_CONTAINS(errmsg_get(), bad[i][2]);
        op_opts_cleanup(&o);
    }
}

TEST(opts_precedence_flag_env_mesh_default)
{
    struct op_opts o;
    const char *argv[] = {"op", "--workload-cert-ttl", "1h", NULL};
    const char *e[] = {"MIZZEN_WORKLOAD_CERT_TTL", "2h",
                       "MIZZEN_CERT_MIN_GRACE", "3m", NULL};
    const char *mesh_yaml = "trustDomain: example.org\n"
                            "mizzenOperator:\n"
                            "  workloadCertTTL: 3h\n"
                            "  certMinGrace: 4m\n"
                            "  certGraceRatio: 0.3\n"
                            "  certRotationWindow: \"02:00-05:00\"\n";
    json_t *mesh = NULL;

    REQUIRE(parse(&o, argv, e) == 0);
    REQUIRE(yj_load_one(&mesh, mesh_yaml, strlen(mesh_yaml), NULL) == 0);
    CHECK_INT(op_opts_apply_mesh(&o, mesh), 0);
    CHECK_INT(o.workload_ttl, 3600); /* flag beats env and mesh */
    CHECK_INT(o.min_grace, 180);     /* env beats mesh */
    CHECK(o.grace_ratio == 0.3);     /* mesh beats default (a number) */
    CHECK_INT(o.window.start_min, 120);
    CHECK_STR(o.trust_domain, "example.org"); /* top-level trustDomain */
    json_decref(mesh);
    op_opts_cleanup(&o);
}

TEST(opts_mesh_bad_value_named)
{
    struct op_opts o;
    const char *argv[] = {"op", NULL};
    json_t *mesh =
        json_pack("{s:{s:s}}", "mizzenOperator", "keyAlgorithm", "rot13");

    REQUIRE(parse(&o, argv, NULL) == 0);
    CHECK_INT(op_opts_apply_mesh(&o, mesh), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "keyAlgorithm");
    CHECK_INT(o.key_type, PKI_EC_P256);
    CHECK_INT(op_opts_apply_mesh(&o, NULL), 0);
    json_decref(mesh);
    op_opts_cleanup(&o);
}

TEST(opts_out_of_memory)
{
    for (long n = 1; n < 40; n++) {
        struct op_opts o;
        const char *argv[] = {"op", "--namespace", "abc", NULL};
        int rc;
        mem_fail_set(n);
        rc = parse(&o, argv, NULL);
        mem_fail_set(0);
        CHECK(rc == 0 || rc == RC_NOMEM || rc == -100);
        op_opts_cleanup(&o);
    }
}
