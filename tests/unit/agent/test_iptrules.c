/* test_iptrules.c: the rule builder, asserting the exact restore text of
 * istio-iptables' defaults (reference 4.3) and of every variant in 4.2. */
#include "tests/unit/harness.h"
#include "agent/iptflags.h"
#include "agent/iptrules.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdlib.h>

/* The injector's default args (reference 2.2), as separate argv entries. */
#define DEFAULT_ARGS                                                           \
    "istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m",        \
        "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020", \
        "--log_output_level=default:info"

/* build: parse argv (NULL-terminated, argv[0] is the program) and render
 * one family; returns the text (caller frees) or NULL. */
static char *
build(int family, const char *const *args)
{
    struct iptf_opts o;
    char *argv[64];
    char *text = NULL;
    int argc = 0;

    argv[argc++] = "mizzen-iptables";
    for (; args[argc - 1] && argc < 63; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    iptf_opts_init(&o);
    if (iptf_parse(&o, argc, argv, NULL) == 0)
        iptr_build_text(&o.cfg, family, &text);
    else
        fprintf(stderr, "parse: %s\n", errmsg_get());
    iptf_opts_cleanup(&o);
    return text;
}

/* chain: the "-A <chain> ..." lines of text, in order ("" when none). */
static char *
chain(const char *text, const char *name)
{
    struct buf b;
    char prefix[64];
    const char *p = text;
    char *out;

    buf_init(&b, 0);
    snprintf(prefix, sizeof(prefix), "-A %s ", name);
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p + 1) : strlen(p);
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            buf_add(&b, p, len);
        p += len;
    }
    out = buf_take(&b, NULL);
    buf_cleanup(&b);
    return out;
}

/* ISTIO_OUTPUT of the defaults, between the uid/gid triples and the end. */
#define OWNER_RULES(kind, id)                                                  \
    "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 "   \
    "-m owner --" kind "-owner " id " -j ISTIO_IN_REDIRECT\n"                  \
    "-A ISTIO_OUTPUT -o lo -m owner ! --" kind "-owner " id " -j RETURN\n"     \
    "-A ISTIO_OUTPUT -m owner --" kind "-owner " id " -j RETURN\n"

static const char default_text[] =
    "*nat\n"
    ":ISTIO_INBOUND - [0:0]\n"
    ":ISTIO_IN_REDIRECT - [0:0]\n"
    ":ISTIO_OUTPUT - [0:0]\n"
    ":ISTIO_REDIRECT - [0:0]\n"
    "-A PREROUTING -p tcp -j ISTIO_INBOUND\n"
    "-A OUTPUT -j ISTIO_OUTPUT\n"
    "-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN\n"
    "-A ISTIO_INBOUND -p tcp -m tcp --dport 15090 -j RETURN\n"
    "-A ISTIO_INBOUND -p tcp -m tcp --dport 15021 -j RETURN\n"
    "-A ISTIO_INBOUND -p tcp -m tcp --dport 15020 -j RETURN\n"
    "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT\n"
    "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"
    "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN\n" OWNER_RULES("uid",
                                                                    "1337")
        OWNER_RULES(
            "gid",
            "1337") "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
                    "-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n"
                    "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"
                    "COMMIT\n";

TEST(iptr_defaults_exact_text)
{
    const char *args[] = {DEFAULT_ARGS, NULL};
    char *t = build(4, args);

    CHECK_STR(t, default_text);
    mem_free(t);
}

TEST(iptr_typed_config_defaults_match_flags)
{
    /* The same ruleset from a typed config, without the flag parser. */
    struct iptr_config c;
    unsigned d[] = {15090, 15021, 15020};
    unsigned long uid[] = {1337};
    char *t = NULL;

    iptr_config_init(&c);
    c.inbound_all = 1;
    c.outbound_all = 1;
    c.inbound_exclude_ports.v = d;
    c.inbound_exclude_ports.n = 3;
    c.uids.v = uid;
    c.uids.n = 1;
    CHECK_INT(iptr_build_text(&c, 4, &t), 0);
    CHECK_STR(t, default_text);
    mem_free(t);
    /* -u empty means 1337 too (the builder's own default). */
    c.uids.n = 0;
    CHECK_INT(iptr_build_text(&c, 4, &t), 0);
    CHECK_STR(t, default_text);
    mem_free(t);
    CHECK_INT(iptr_config_wants_v6(&c), 0);
}

TEST(iptr_inbound_port_list_ignores_d)
{
    const char *args[] = {DEFAULT_ARGS, "-b", "8080,9090", NULL};
    char *t = build(4, args);
    char *in = chain(t, "ISTIO_INBOUND");

    CHECK_STR(in, "-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN\n"
                  "-A ISTIO_INBOUND -p tcp -m tcp --dport 8080 -j "
                  "ISTIO_IN_REDIRECT\n"
                  "-A ISTIO_INBOUND -p tcp -m tcp --dport 9090 -j "
                  "ISTIO_IN_REDIRECT\n");
    CHECK_CONTAINS(t, "-A PREROUTING -p tcp -j ISTIO_INBOUND\n");
    mem_free(in);
    mem_free(t);
}

TEST(iptr_inbound_empty_means_no_prerouting_jump)
{
    const char *args[] = {DEFAULT_ARGS, "-b", "", NULL};
    char *t = build(4, args);
    char *pre = chain(t, "PREROUTING");
    char *in = chain(t, "ISTIO_INBOUND");

    CHECK_STR(pre, "");
    CHECK_STR(in, "-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN\n");
    CHECK_CONTAINS(t, ":ISTIO_INBOUND - [0:0]\n");
    mem_free(pre);
    mem_free(in);
    mem_free(t);
}

/* ISTIO_OUTPUT tail after the gid rules, for the -x/-i/-q variants. */
static const char out_head[] =
    "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN\n" OWNER_RULES("uid",
                                                                    "1337")
        OWNER_RULES("gid",
                    "1337") "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n";

static void
check_output_chain(const char *const *args, const char *tail)
{
    char *t = build(4, args);
    char *out = chain(t, "ISTIO_OUTPUT");
    char want[4096];

    snprintf(want, sizeof(want), "%s%s", out_head, tail);
    CHECK_STR(out, want);
    mem_free(out);
    mem_free(t);
}

TEST(iptr_exclude_cidrs_after_loopback)
{
    const char *args[] = {DEFAULT_ARGS, "-x", "10.0.0.0/8, 192.168.1.7", NULL};
    check_output_chain(args, "-A ISTIO_OUTPUT -d 10.0.0.0/8 -j RETURN\n"
                             "-A ISTIO_OUTPUT -d 192.168.1.7/32 -j RETURN\n"
                             "-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n");
}

TEST(iptr_include_cidrs_replace_catch_all)
{
    /* Host bits are cleared the way iptables-save prints them. */
    const char *args[] = {DEFAULT_ARGS, "-i", "10.96.0.0/12,172.17.3.4/16",
                          NULL};
    check_output_chain(args,
                       "-A ISTIO_OUTPUT -d 10.96.0.0/12 -j ISTIO_REDIRECT\n"
                       "-A ISTIO_OUTPUT -d 172.17.0.0/16 -j ISTIO_REDIRECT\n");
}

TEST(iptr_include_empty_captures_only_q_ports)
{
    const char *args[] = {DEFAULT_ARGS, "-i", "", "-q", "3306,5432", NULL};
    check_output_chain(args, "-A ISTIO_OUTPUT -p tcp -m tcp --dport 3306 -j "
                             "ISTIO_REDIRECT\n"
                             "-A ISTIO_OUTPUT -p tcp -m tcp --dport 5432 -j "
                             "ISTIO_REDIRECT\n");
}

TEST(iptr_q_ports_before_catch_all)
{
    const char *args[] = {DEFAULT_ARGS, "-q", "3306", "-x", "10.0.0.0/8", NULL};
    check_output_chain(args, "-A ISTIO_OUTPUT -d 10.0.0.0/8 -j RETURN\n"
                             "-A ISTIO_OUTPUT -p tcp -m tcp --dport 3306 -j "
                             "ISTIO_REDIRECT\n"
                             "-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n");
}

TEST(iptr_outbound_exclude_ports_first_tcp_and_udp)
{
    const char *args[] = {DEFAULT_ARGS, "-o", "5432,53", NULL};
    char *t = build(4, args);
    char *out = chain(t, "ISTIO_OUTPUT");

    CHECK(strncmp(out,
                  "-A ISTIO_OUTPUT -p tcp -m tcp --dport 5432 -j RETURN\n"
                  "-A ISTIO_OUTPUT -p udp -m udp --dport 5432 -j RETURN\n"
                  "-A ISTIO_OUTPUT -p tcp -m tcp --dport 53 -j RETURN\n"
                  "-A ISTIO_OUTPUT -p udp -m udp --dport 53 -j RETURN\n"
                  "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN\n",
                  strlen("-A ISTIO_OUTPUT -p tcp -m tcp --dport 5432 -j "
                         "RETURN\n") *
                      4) == 0);
    CHECK_CONTAINS(out, "-A ISTIO_OUTPUT -p udp -m udp --dport 53 -j RETURN\n"
                        "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN\n");
    mem_free(out);
    mem_free(t);
}

TEST(iptr_uid_and_gid_lists)
{
    const char *args[] = {DEFAULT_ARGS, "-u", "1337,0", "-g", "2000", NULL};
    char *t = build(4, args);
    char *out = chain(t, "ISTIO_OUTPUT");
    char want[4096];

    snprintf(want, sizeof(want), "%s%s%s%s%s",
             "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN\n",
             OWNER_RULES("uid", "1337"), OWNER_RULES("uid", "0"),
             OWNER_RULES("gid", "2000"),
             "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
             "-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n");
    CHECK_STR(out, want);
    mem_free(out);
    mem_free(t);
}

TEST(iptr_loopback_include_drops_rule_11_2)
{
    const char *args[] = {DEFAULT_ARGS, "-i", "127.0.0.0/8,10.0.0.0/8", NULL};
    char *t = build(4, args);

    REQUIRE(t != NULL);
    CHECK(strstr(t, "! --uid-owner") == NULL);
    CHECK(strstr(t, "! --gid-owner") == NULL);
    CHECK_CONTAINS(t, "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN\n");
    CHECK_CONTAINS(t, "-A ISTIO_OUTPUT -d 127.0.0.0/8 -j ISTIO_REDIRECT\n");
    mem_free(t);
}

TEST(iptr_exclude_interfaces_and_kubevirt)
{
    const char *args[] = {DEFAULT_ARGS, "-c",        "eth1,eth2",
                          "-k",         "net1,net2", NULL};
    char *t = build(4, args);
    char *pre = chain(t, "PREROUTING");
    char *out = chain(t, "OUTPUT");

    /* -k inserts at the head (last one first): redirects, then RETURNs,
     * then -c's RETURNs, then the inbound jump. */
    CHECK_STR(pre, "-A PREROUTING -i net2 -j ISTIO_REDIRECT\n"
                   "-A PREROUTING -i net1 -j ISTIO_REDIRECT\n"
                   "-A PREROUTING -i net2 -j RETURN\n"
                   "-A PREROUTING -i net1 -j RETURN\n"
                   "-A PREROUTING -i eth1 -j RETURN\n"
                   "-A PREROUTING -i eth2 -j RETURN\n"
                   "-A PREROUTING -p tcp -j ISTIO_INBOUND\n");
    CHECK_STR(out, "-A OUTPUT -o eth1 -j RETURN\n"
                   "-A OUTPUT -o eth2 -j RETURN\n"
                   "-A OUTPUT -j ISTIO_OUTPUT\n");
    mem_free(pre);
    mem_free(out);
    mem_free(t);
}

TEST(iptr_kubevirt_with_cidrs)
{
    const char *args[] = {DEFAULT_ARGS, "-k", "net1", "-i", "10.0.0.0/8", NULL};
    char *t = build(4, args);
    char *pre = chain(t, "PREROUTING");

    CHECK_STR(pre, "-A PREROUTING -d 10.0.0.0/8 -i net1 -j ISTIO_REDIRECT\n"
                   "-A PREROUTING -i net1 -j RETURN\n"
                   "-A PREROUTING -p tcp -j ISTIO_INBOUND\n");
    mem_free(pre);
    mem_free(t);
}

TEST(iptr_ports_and_tunnel_flags)
{
    const char *args[] = {DEFAULT_ARGS, "-p", "16001", "-z",
                          "16006",      "-e", "16008", NULL};
    char *t = build(4, args);

    CHECK_CONTAINS(t, "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 16001");
    CHECK_CONTAINS(t,
                   "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 16006");
    CHECK_CONTAINS(t, "-A ISTIO_INBOUND -p tcp -m tcp --dport 16008 -j RETURN");
    CHECK_CONTAINS(t, "! --dport 16008 -m owner --uid-owner 1337");
    mem_free(t);
}

static const char tproxy_text[] =
    "*mangle\n"
    ":ISTIO_DIVERT - [0:0]\n"
    ":ISTIO_INBOUND - [0:0]\n"
    ":ISTIO_TPROXY - [0:0]\n"
    "-A PREROUTING -p tcp -j ISTIO_INBOUND\n"
    "-A PREROUTING -p tcp -m mark --mark 0x539 -j CONNMARK --save-mark "
    "--nfmask 0xffffffff --ctmask 0xffffffff\n"
    "-A OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner --uid-owner 1337 -j "
    "MARK --set-xmark 0x53a/0xffffffff\n"
    "-A OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner --gid-owner 1337 -j "
    "MARK --set-xmark 0x53a/0xffffffff\n"
    "-A OUTPUT -p tcp -m connmark --mark 0x539 -j CONNMARK --restore-mark "
    "--nfmask 0xffffffff --ctmask 0xffffffff\n"
    "-A ISTIO_DIVERT -j MARK --set-xmark 0x539/0xffffffff\n"
    "-A ISTIO_DIVERT -j ACCEPT\n"
    "-A ISTIO_INBOUND -p tcp -m mark --mark 0x539 -j RETURN\n"
    "-A ISTIO_INBOUND -s 127.0.0.6/32 -i lo -p tcp -j RETURN\n"
    "-A ISTIO_INBOUND -i lo -m mark ! --mark 0x53a -j RETURN\n"
    "-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN\n"
    "-A ISTIO_INBOUND -p tcp -m tcp --dport 15090 -j RETURN\n"
    "-A ISTIO_INBOUND -p tcp -m tcp --dport 15021 -j RETURN\n"
    "-A ISTIO_INBOUND -p tcp -m tcp --dport 15020 -j RETURN\n"
    "-A ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j "
    "ISTIO_DIVERT\n"
    "-A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY\n"
    "-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --on-port 15006 "
    "--on-ip 0.0.0.0 --tproxy-mark 0x539/0xffffffff\n"
    "COMMIT\n"
    "*nat\n"
    ":ISTIO_IN_REDIRECT - [0:0]\n"
    ":ISTIO_OUTPUT - [0:0]\n"
    ":ISTIO_REDIRECT - [0:0]\n"
    "-A OUTPUT -j ISTIO_OUTPUT\n"
    "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"
    "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN\n" OWNER_RULES("uid",
                                                                    "1337")
        OWNER_RULES(
            "gid",
            "1337") "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
                    "-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n"
                    "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"
                    "COMMIT\n";

TEST(iptr_tproxy_exact_text)
{
    const char *args[] = {DEFAULT_ARGS, "-m", "TPROXY", NULL};
    char *t = build(4, args);

    CHECK_STR(t, tproxy_text);
    mem_free(t);
}

TEST(iptr_tproxy_port_list_and_mark)
{
    const char *args[] = {DEFAULT_ARGS, "-m", "TPROXY", "-b",
                          "8080",       "-t", "0x100",  NULL};
    char *t = build(4, args);
    char *in = chain(t, "ISTIO_INBOUND");

    CHECK_STR(in, "-A ISTIO_INBOUND -p tcp -m mark --mark 0x100 -j RETURN\n"
                  "-A ISTIO_INBOUND -s 127.0.0.6/32 -i lo -p tcp -j RETURN\n"
                  "-A ISTIO_INBOUND -i lo -m mark ! --mark 0x53a -j RETURN\n"
                  "-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN\n"
                  "-A ISTIO_INBOUND -p tcp -m tcp --dport 8080 -m conntrack "
                  "--ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT\n"
                  "-A ISTIO_INBOUND -p tcp -m tcp --dport 8080 -j "
                  "ISTIO_TPROXY\n");
    CHECK_CONTAINS(t, "-A ISTIO_DIVERT -j MARK --set-xmark 0x100/0xffffffff");
    CHECK_CONTAINS(t, "--tproxy-mark 0x100/0xffffffff");
    mem_free(in);
    mem_free(t);
}

TEST(iptr_tproxy_exclude_interface_in_mangle_too)
{
    const char *args[] = {DEFAULT_ARGS, "-m", "TPROXY", "-c", "eth9", NULL};
    char *t = build(4, args);

    CHECK_CONTAINS(t, "*mangle\n");
    CHECK_CONTAINS(t, "-A PREROUTING -i eth9 -j RETURN\n"
                      "-A PREROUTING -p tcp -j ISTIO_INBOUND\n");
    CHECK_CONTAINS(t, "-A OUTPUT -o eth9 -j RETURN\n"
                      "-A OUTPUT ! -d 127.0.0.1/32");
    CHECK_CONTAINS(t, "-A OUTPUT -o eth9 -j RETURN\n"
                      "-A OUTPUT -j ISTIO_OUTPUT\n");
    mem_free(t);
}

TEST(iptr_drop_invalid)
{
    const char *args[] = {DEFAULT_ARGS, "--drop-invalid", NULL};
    char *t = build(4, args);

    CHECK_CONTAINS(t, "*mangle\n:ISTIO_DROP - [0:0]\n"
                      "-A PREROUTING -m conntrack --ctstate INVALID -j "
                      "ISTIO_DROP\n-A ISTIO_DROP -j DROP\nCOMMIT\n*nat\n");
    mem_free(t);
}

TEST(iptr_v6_split_and_addresses)
{
    const char *args[] = {DEFAULT_ARGS,
                          "-i",
                          "10.0.0.0/8,fd00::/8",
                          "-x",
                          "192.168.0.0/16,fd00:1::1/64",
                          NULL};
    char *t4 = build(4, args);
    char *t6 = build(6, args);
    char *o4 = chain(t4, "ISTIO_OUTPUT");
    char *o6 = chain(t6, "ISTIO_OUTPUT");

    CHECK_CONTAINS(o4, "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
                       "-A ISTIO_OUTPUT -d 192.168.0.0/16 -j RETURN\n"
                       "-A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT\n");
    CHECK(strstr(t4, "fd00") == NULL);
    CHECK(strstr(t6, "10.0.0.0") == NULL && strstr(t6, "127.0.0") == NULL);
    CHECK_CONTAINS(o6, "-A ISTIO_OUTPUT -s ::6/128 -o lo -j RETURN\n");
    CHECK_CONTAINS(o6, "-A ISTIO_OUTPUT ! -d ::1/128 -o lo -p tcp -m tcp ! "
                       "--dport 15008 -m owner --uid-owner 1337 -j "
                       "ISTIO_IN_REDIRECT\n");
    CHECK_CONTAINS(o6, "-A ISTIO_OUTPUT -d ::1/128 -j RETURN\n"
                       "-A ISTIO_OUTPUT -d fd00:1::/64 -j RETURN\n"
                       "-A ISTIO_OUTPUT -d fd00::/8 -j ISTIO_REDIRECT\n");
    /* inbound capture is the same in both families */
    CHECK_CONTAINS(t6, "-A PREROUTING -p tcp -j ISTIO_INBOUND\n");
    mem_free(o4);
    mem_free(o6);
    mem_free(t4);
    mem_free(t6);
}

TEST(iptr_wants_v6)
{
    struct iptf_opts o;
    char *a1[] = {"x", "-i", "*", NULL};
    char *a2[] = {"x", "-x", "::1/128", NULL};
    char *a3[] = {"x", "--dual-stack", NULL};

    iptf_opts_init(&o);
    REQUIRE(iptf_parse(&o, 3, a1, NULL) == 0);
    CHECK_INT(iptr_config_wants_v6(&o.cfg), 0);
    iptf_opts_cleanup(&o);
    REQUIRE(iptf_parse(&o, 3, a2, NULL) == 0);
    CHECK_INT(iptr_config_wants_v6(&o.cfg), 1);
    iptf_opts_cleanup(&o);
    REQUIRE(iptf_parse(&o, 2, a3, NULL) == 0);
    CHECK_INT(iptr_config_wants_v6(&o.cfg), 1);
    iptf_opts_cleanup(&o);
}

TEST(iptr_v6_dual_stack_catch_all)
{
    const char *args[] = {DEFAULT_ARGS, "--dual-stack", NULL};
    char *t6 = build(6, args);
    char *o6 = chain(t6, "ISTIO_OUTPUT");

    CHECK_STR(o6,
              "-A ISTIO_OUTPUT -s ::6/128 -o lo -j RETURN\n"
              "-A ISTIO_OUTPUT ! -d ::1/128 -o lo -p tcp -m tcp ! --dport "
              "15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT\n"
              "-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN\n"
              "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN\n"
              "-A ISTIO_OUTPUT ! -d ::1/128 -o lo -p tcp -m tcp ! --dport "
              "15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT\n"
              "-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN\n"
              "-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN\n"
              "-A ISTIO_OUTPUT -d ::1/128 -j RETURN\n"
              "-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n");
    mem_free(o6);
    mem_free(t6);
}

TEST(iptr_loopback_cidr_env)
{
    struct iptf_opts o;
    char *argv[] = {"x", "-i", "*", "-b", "*", NULL};
    char *envp[] = {"ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=127.0.0.0/8", NULL};
    char *t = NULL;

    iptf_opts_init(&o);
    REQUIRE(iptf_parse(&o, 5, argv, envp) == 0);
    REQUIRE(iptr_build_text(&o.cfg, 4, &t) == 0);
    CHECK_CONTAINS(t, "-A ISTIO_OUTPUT -d 127.0.0.0/8 -j RETURN\n");
    CHECK_CONTAINS(t, "! -d 127.0.0.0/8 -o lo -p tcp");
    mem_free(t);
    iptf_opts_cleanup(&o);
}

TEST(iptr_cidr_parse_and_format)
{
    struct iptr_cidr c;
    char s[64];

    CHECK_INT(iptr_cidr_parse(" 10.1.2.3/8 ", &c), 0);
    iptr_cidr_format(&c, s, sizeof(s));
    CHECK_STR(s, "10.0.0.0/8");
    CHECK_INT(iptr_cidr_parse("2001:DB8:0:0::1", &c), 0);
    iptr_cidr_format(&c, s, sizeof(s));
    CHECK_STR(s, "2001:db8::1/128");
    CHECK_INT(iptr_cidr_parse("0.0.0.0/0", &c), 0);
    iptr_cidr_format(&c, s, sizeof(s));
    CHECK_STR(s, "0.0.0.0/0");
    CHECK_INT(iptr_cidr_parse("10.0.0.0/33", &c), RC_INVAL);
    CHECK_INT(iptr_cidr_parse("10.0.0/8", &c), RC_INVAL);
    CHECK_INT(iptr_cidr_parse("10.0.0.0/", &c), RC_INVAL);
    CHECK_INT(iptr_cidr_parse("10.0.0.0/-1", &c), RC_INVAL);
    CHECK_INT(iptr_cidr_parse("fd00::/129", &c), RC_INVAL);
    CHECK_INT(iptr_cidr_parse("*", &c), RC_INVAL);
    CHECK_INT(iptr_cidr_parse("", &c), RC_INVAL);
    CHECK_INT(iptr_cidr_parse("1.2.3.4 5", &c), RC_INVAL);
}

TEST(iptr_build_is_deterministic_and_rejects_bad_family)
{
    const char *args[] = {DEFAULT_ARGS, "-x", "10.0.0.0/8", NULL};
    char *a = build(4, args), *b = build(4, args);
    struct iptr_config c;
    struct iptr_ruleset *rs = (void *)1;

    CHECK_STR(a, b);
    mem_free(a);
    mem_free(b);
    iptr_config_init(&c);
    CHECK_INT(iptr_build(&c, 5, &rs), RC_INVAL);
    CHECK(rs == NULL);
    c.proxy_port = 0;
    CHECK_INT(iptr_build(&c, 4, &rs), RC_INVAL);
}

TEST(iptr_build_out_of_memory_every_allocation)
{
    const char *args[] = {DEFAULT_ARGS, "-m", "TPROXY", "-x",
                          "10.0.0.0/8", "-k", "net1",   "-c",
                          "eth1",       "-o", "53",     NULL};
    struct iptf_opts o;
    char *argv[64];
    int argc = 0, failures = 0;
    char *t = NULL;

    argv[argc++] = "x";
    while (args[argc - 1]) {
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    iptf_opts_init(&o);
    REQUIRE(iptf_parse(&o, argc, argv, NULL) == 0);
    for (long n = 1; n < 400; n++) {
        int rc;
        mem_fail_set(n);
        rc = iptr_build_text(&o.cfg, 4, &t);
        mem_fail_set(0);
        if (rc == 0) {
            CHECK(t != NULL);
            mem_free(t);
            t = NULL;
            break;
        }
        CHECK_INT(rc, RC_NOMEM);
        CHECK(t == NULL);
        failures++;
    }
    CHECK(failures > 10); /* the loop really exercised failures */
    iptf_opts_cleanup(&o);
}
