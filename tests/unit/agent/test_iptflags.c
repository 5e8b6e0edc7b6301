/* test_iptflags.c: istio-iptables' command line and environment. */
#include "tests/unit/harness.h"
#include "agent/iptflags.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

/* parse: argv without the program name, NULL-terminated. */
static int
parse(struct iptf_opts *o, const char *const *args, char **envp)
{
    char *argv[64];
    int argc = 0;

    argv[argc++] = "mizzen-iptables";
    while (args[argc - 1] && argc < 63) {
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    argv[argc] = NULL;
    iptf_opts_init(o);
    return iptf_parse(o, argc, argv, envp);
}

TEST(iptf_injector_default_args)
{
    const char *args[] = {"istio-iptables",
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
                          "--log_output_level=default:info",
                          NULL};
    struct iptf_opts o;

    REQUIRE(parse(&o, args, NULL) == 0);
    CHECK_INT(o.cfg.proxy_port, 15001);
    CHECK_INT(o.cfg.inbound_port, 15006);
    CHECK_INT(o.cfg.uids.n, 1);
    CHECK_INT(o.cfg.uids.v[0], 1337);
    CHECK_INT(o.cfg.gids.n, 0);
    CHECK_INT(o.cfg.mode, IPTR_MODE_REDIRECT);
    CHECK_INT(o.cfg.outbound_all, 1);
    CHECK_INT(o.cfg.outbound_cidrs.n, 0);
    CHECK_INT(o.cfg.exclude_cidrs.n, 0);
    CHECK_INT(o.cfg.inbound_all, 1);
    CHECK_INT(o.cfg.inbound_exclude_ports.n, 3);
    CHECK_INT(o.cfg.inbound_exclude_ports.v[2], 15020);
    CHECK_INT(o.uid_defaulted, 0);
    CHECK_INT(o.dry_run, 0);
    CHECK_INT(o.log_level, LOG_INFO);
    iptf_opts_cleanup(&o);
}

TEST(iptf_defaults_without_flags)
{
    const char *args[] = {NULL};
    struct iptf_opts o;

    REQUIRE(parse(&o, args, NULL) == 0);
    CHECK_INT(o.cfg.proxy_port, 15001);
    CHECK_INT(o.cfg.inbound_port, 15006);
    CHECK_INT(o.cfg.tunnel_port, 15008);
    CHECK_INT(o.cfg.tproxy_mark, 1337);
    CHECK_INT(o.cfg.tproxy_table, 133);
    CHECK_INT(o.cfg.inbound_all, 0);
    CHECK_INT(o.cfg.outbound_all, 0);
    CHECK_INT(o.uid_defaulted, 1);
    iptf_opts_cleanup(&o);
}

TEST(iptf_long_forms_and_equals)
{
    const char *args[] = {"--envoy-port=16001",
                          "--inbound-capture-port",
                          "16006",
                          "--proxy-uid=1000,1001",
                          "--proxy-gid",
                          "2000",
                          "--istio-inbound-interception-mode=TPROXY",
                          "--istio-service-cidr",
                          "10.0.0.0/8",
                          "--istio-service-exclude-cidr=10.1.0.0/16",
                          "--istio-inbound-ports=8080",
                          "--istio-local-exclude-ports=9090",
                          "--istio-outbound-ports=3306",
                          "--istio-local-outbound-ports-exclude=53",
                          "--kube-virt-interfaces=net1",
                          "--istio-exclude-interfaces=eth1",
                          "--istio-inbound-tproxy-mark=0x10",
                          "--istio-inbound-tproxy-route-table=200",
                          "--inbound-tunnel-port=16008",
                          "--dry-run",
                          "--log_as_json",
                          "--log_output_level=default:debug,ads:warn",
                          NULL};
    struct iptf_opts o;

    REQUIRE(parse(&o, args, NULL) == 0);
    CHECK_INT(o.cfg.proxy_port, 16001);
    CHECK_INT(o.cfg.inbound_port, 16006);
    CHECK_INT(o.cfg.tunnel_port, 16008);
    CHECK_INT(o.cfg.uids.n, 2);
    CHECK_INT(o.cfg.uids.v[1], 1001);
    CHECK_INT(o.cfg.gids.v[0], 2000);
    CHECK_INT(o.cfg.mode, IPTR_MODE_TPROXY);
    CHECK_INT(o.cfg.outbound_all, 0);
    CHECK_INT(o.cfg.outbound_cidrs.n, 1);
    CHECK_INT(o.cfg.exclude_cidrs.v[0].prefix, 16);
    CHECK_INT(o.cfg.inbound_ports.v[0], 8080);
    CHECK_INT(o.cfg.inbound_exclude_ports.v[0], 9090);
    CHECK_INT(o.cfg.outbound_ports.v[0], 3306);
    CHECK_INT(o.cfg.outbound_exclude_ports.v[0], 53);
    CHECK_STR(o.cfg.kubevirt_ifaces.v[0], "net1");
    CHECK_STR(o.cfg.exclude_ifaces.v[0], "eth1");
    CHECK_INT(o.cfg.tproxy_mark, 16);
    CHECK_INT(o.cfg.tproxy_table, 200);
    CHECK_INT(o.dry_run, 1);
    CHECK_INT(o.log_json, 1);
    CHECK_INT(o.log_level, LOG_DEBUG);
    iptf_opts_cleanup(&o);
}

TEST(iptf_short_attached_values_and_bools)
{
    const char *args[] = {"-p16001",
                          "-z=16006",
                          "-n",
                          "--dry-run=false",
                          "--dual-stack=true",
                          "--drop-invalid",
                          "-k",
                          "net1, net2",
                          NULL};
    struct iptf_opts o;

    REQUIRE(parse(&o, args, NULL) == 0);
    CHECK_INT(o.cfg.proxy_port, 16001);
    CHECK_INT(o.cfg.inbound_port, 16006);
    CHECK_INT(o.dry_run, 0); /* the later --dry-run=false wins */
    CHECK_INT(o.cfg.dual_stack, 1);
    CHECK_INT(o.cfg.drop_invalid, 1);
    CHECK_INT(o.cfg.kubevirt_ifaces.n, 2);
    CHECK_STR(o.cfg.kubevirt_ifaces.v[1], "net2");
    iptf_opts_cleanup(&o);
}

TEST(iptf_environment_and_flag_precedence)
{
    char *envp[] = {"ENVOY_PORT=17001",
                    "INBOUND_CAPTURE_PORT=17006",
                    "PROXY_UID=1500",
                    "PROXY_GID=1600",
                    "ISTIO_INBOUND_INTERCEPTION_MODE=TPROXY",
                    "ISTIO_SERVICE_CIDR=*",
                    "ISTIO_SERVICE_EXCLUDE_CIDR=10.0.0.0/8",
                    "ISTIO_INBOUND_PORTS=*",
                    "ISTIO_LOCAL_EXCLUDE_PORTS=15020",
                    "ISTIO_DUAL_STACK=true",
                    "INVALID_DROP=1",
                    "ISTIO_META_DNS_CAPTURE=true",
                    "UNRELATED=x",
                    NULL};
    const char *none[] = {NULL};
    const char *over[] = {"-p", "18001", "-x", "", NULL};
    struct iptf_opts o;

    REQUIRE(parse(&o, none, envp) == 0);
    CHECK_INT(o.cfg.proxy_port, 17001);
    CHECK_INT(o.cfg.inbound_port, 17006);
    CHECK_INT(o.cfg.uids.v[0], 1500);
    CHECK_INT(o.uid_defaulted, 0);
    CHECK_INT(o.cfg.gids.v[0], 1600);
    CHECK_INT(o.cfg.mode, IPTR_MODE_TPROXY);
    CHECK_INT(o.cfg.outbound_all, 1);
    CHECK_INT(o.cfg.exclude_cidrs.n, 1);
    CHECK_INT(o.cfg.inbound_all, 1);
    CHECK_INT(o.cfg.inbound_exclude_ports.v[0], 15020);
    CHECK_INT(o.cfg.dual_stack, 1);
    CHECK_INT(o.cfg.drop_invalid, 1);
    CHECK_INT(o.dns_requested, 1);
    iptf_opts_cleanup(&o);

    REQUIRE(parse(&o, over, envp) == 0);
    CHECK_INT(o.cfg.proxy_port, 18001);
    CHECK_INT(o.cfg.exclude_cidrs.n, 0); /* -x "" replaced the env list */
    CHECK_INT(o.cfg.inbound_port, 17006);
    iptf_opts_cleanup(&o);
}

/* expect_error: parsing fails with rc and the message contains needle. */
static void
expect_error(const char *const *args, char **envp, int rc, const char *needle)
{
    struct iptf_opts o;

    errmsg_clear();
    CHECK_INT(parse(&o, args, envp), rc);
    CHECK_CONTAINS(errmsg_get(), needle);
    iptf_opts_cleanup(&o);
}

TEST(iptf_bad_values_name_the_flag)
{
    const char *a1[] = {"-p", "abc", NULL};
    const char *a2[] = {"-z", "70000", NULL};
    const char *a3[] = {"--envoy-port", "0", NULL};
    const char *a4[] = {"-x", "*", NULL};
    const char *a5[] = {"-x", "10.0.0.0/40", NULL};
    const char *a6[] = {"-i", "10.0.0.0/8,nonsense", NULL};
    const char *a7[] = {"-m", "redirect", NULL};
    const char *a8[] = {"-b", "80,*", NULL};
    const char *a9[] = {"-d", "15020,x", NULL};
    const char *a10[] = {"-u", "istio", NULL};
    const char *a11[] = {"-u", "", NULL};
    const char *a12[] = {"-o", "-1", NULL};
    const char *a13[] = {"-c", "eth0 -j ACCEPT", NULL};
    const char *a14[] = {"-k", "averyveryverylongname", NULL};
    const char *a15[] = {"-t", "0", NULL};
    const char *a16[] = {"-r", "254", NULL};
    const char *a17[] = {"--dry-run=maybe", NULL};
    const char *a18[] = {"--log_output_level=default:loud", NULL};
    const char *a19[] = {"-q", "3306,", "-q", "99999", NULL};

    expect_error(a1, NULL, RC_INVAL, "-p/--envoy-port: 'abc'");
    expect_error(a2, NULL, RC_INVAL, "-z/--inbound-capture-port: '70000'");
    expect_error(a3, NULL, RC_INVAL, "-p/--envoy-port: '0'");
    expect_error(a4, NULL, RC_INVAL, "-x/--istio-service-exclude-cidr");
    expect_error(a5, NULL, RC_INVAL, "-x/--istio-service-exclude-cidr");
    expect_error(a6, NULL, RC_INVAL, "-i/--istio-service-cidr");
    expect_error(a7, NULL, RC_INVAL, "-m/--istio-inbound-interception-mode");
    expect_error(a8, NULL, RC_INVAL, "-b/--istio-inbound-ports");
    expect_error(a9, NULL, RC_INVAL, "-d/--istio-local-exclude-ports: 'x'");
    expect_error(a10, NULL, RC_INVAL, "-u/--proxy-uid: 'istio'");
    expect_error(a11, NULL, RC_INVAL, "-u/--proxy-uid");
    expect_error(a12, NULL, RC_INVAL, "-o/--istio-local-outbound-ports");
    expect_error(a13, NULL, RC_INVAL, "-c/--istio-exclude-interfaces");
    expect_error(a14, NULL, RC_INVAL, "-k/--kube-virt-interfaces");
    expect_error(a15, NULL, RC_INVAL, "-t/--istio-inbound-tproxy-mark");
    expect_error(a16, NULL, RC_INVAL, "-r/--istio-inbound-tproxy-route-table");
    expect_error(a17, NULL, RC_INVAL, "-n/--dry-run: 'maybe'");
    expect_error(a18, NULL, RC_INVAL, "--log_output_level");
    expect_error(a19, NULL, RC_INVAL, "-q/--istio-outbound-ports: '99999'");
}

TEST(iptf_bad_environment_names_the_variable)
{
    const char *none[] = {NULL};
    char *e1[] = {"ENVOY_PORT=http", NULL};
    char *e2[] = {"ISTIO_SERVICE_EXCLUDE_CIDR=*", NULL};
    char *e3[] = {"INVALID_DROP=yes please", NULL};
    char *e4[] = {"ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=::1/128", NULL};

    expect_error(none, e1, RC_INVAL, "env ENVOY_PORT: 'http'");
    expect_error(none, e2, RC_INVAL, "env ISTIO_SERVICE_EXCLUDE_CIDR");
    expect_error(none, e3, RC_INVAL, "env INVALID_DROP");
    expect_error(none, e4, RC_INVAL, "env ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR");
}

TEST(iptf_unknown_missing_and_unsupported)
{
    const char *a1[] = {"--no-such-flag", NULL};
    const char *a2[] = {"-Z", "1", NULL};
    const char *a3[] = {"-p", NULL};
    const char *a4[] = {"-p", "15001", "stray", NULL};
    const char *a5[] = {"--run-validation", NULL};
    const char *a6[] = {"--native-nftables=true", NULL};
    const char *a7[] = {"-p", "15001", "istio-iptables", NULL};
    char *e1[] = {"ISTIO_OUTBOUND_OWNER_GROUPS=1000", NULL};
    const char *none[] = {NULL};

    expect_error(a1, NULL, RC_INVAL, "unknown flag '--no-such-flag'");
    expect_error(a2, NULL, RC_INVAL, "unknown flag '-Z'");
    expect_error(a3, NULL, RC_INVAL, "-p/--envoy-port needs a value");
    expect_error(a4, NULL, RC_INVAL, "unexpected argument 'stray'");
    expect_error(a5, NULL, RC_UNSUPPORTED, "--run-validation");
    expect_error(a6, NULL, RC_UNSUPPORTED, "--native-nftables");
    /* the program word is accepted only in first position */
    expect_error(a7, NULL, RC_INVAL, "unexpected argument 'istio-iptables'");
    expect_error(none, e1, RC_UNSUPPORTED, "ISTIO_OUTBOUND_OWNER_GROUPS");
}

TEST(iptf_compat_flags_accepted)
{
    const char *args[] = {"--run-validation=false",
                          "--reconcile",
                          "--force-apply",
                          "--restore-format=true",
                          "--iptables-probe-port=15002",
                          "--probe-timeout=5s",
                          "--capture-all-dns",
                          "--log_caller=default",
                          "--skip-rule-apply",
                          "--cleanup-only",
                          "--force-iptables-binary=iptables-legacy",
                          NULL};
    const char *b1[] = {"--iptables-backend=nft", NULL};
    const char *b2[] = {"--iptables-backend", "iptables", NULL};
    struct iptf_opts o;

    REQUIRE(parse(&o, args, NULL) == 0);
    CHECK_INT(o.skip_apply, 1);
    CHECK_INT(o.cleanup_only, 1);
    CHECK_INT(o.backend, IPTF_BACKEND_LEGACY);
    iptf_opts_cleanup(&o);
    REQUIRE(parse(&o, b1, NULL) == 0);
    CHECK_INT(o.backend, IPTF_BACKEND_NFT);
    iptf_opts_cleanup(&o);
    expect_error(b2, NULL, RC_INVAL, "--iptables-backend: 'iptables'");
}

TEST(iptf_help)
{
    const char *args[] = {"-h", NULL};
    struct iptf_opts o;

    REQUIRE(parse(&o, args, NULL) == 0);
    CHECK_INT(o.help, 1);
    CHECK_CONTAINS(iptf_usage(), "--envoy-port");
    iptf_opts_cleanup(&o);
}

TEST(iptf_list_cap)
{
    static char big[IPTR_LIST_MAX * 7 + 16];
    const char *args[] = {"-o", big, NULL};
    size_t off = 0;

    for (int i = 0; i <= IPTR_LIST_MAX; i++)
        off += (size_t)snprintf(big + off, sizeof(big) - off, "%d,",
                                1 + i % 60000);
    expect_error(args, NULL, RC_LIMIT, "-o/--istio-local-outbound-ports");
}

TEST(iptf_out_of_memory_every_allocation)
{
    const char *args[] = {"-u", "1,2,3",     "-x", "10.0.0.0/8,fd00::/8",
                          "-k", "net1,net2", "-c", "eth1",
                          "-b", "80,81",     "-o", "53",
                          NULL};
    struct iptf_opts o;
    int failures = 0, ok = 0;

    for (long n = 1; n < 200; n++) {
        int rc;
        mem_fail_set(n);
        rc = parse(&o, args, NULL);
        mem_fail_set(0);
        iptf_opts_cleanup(&o); /* partial values are released */
        if (rc == 0) {
            ok = 1;
            break;
        }
        CHECK_INT(rc, RC_NOMEM);
        failures++;
    }
    CHECK(ok);
    CHECK(failures >= 6);
}
