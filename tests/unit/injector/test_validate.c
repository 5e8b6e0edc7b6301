/* test_validate.c: annotation value validators (Istio validate.go rules). */
#include "tests/unit/harness.h"
#include "injector/validate.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

/* bad_msg: the validator's rc must be RC_INVAL and its message contain
 * want. */
#define BAD(call, want)                                                        \
    do {                                                                       \
        errmsg_clear();                                                        \
        CHECK_INT((call), RC_INVAL);                                           \
        CHECK_CONTAINS(errmsg_get(), (want));                                  \
    } while (0)

TEST(val_ports_good)
{
    CHECK_INT(inj_val_ports("", 0), 0);
    CHECK_INT(inj_val_ports("   ", 0), 0);
    CHECK_INT(inj_val_ports("80", 0), 0);
    CHECK_INT(inj_val_ports("0", 0), 0);
    CHECK_INT(inj_val_ports("65535", 0), 0);
    CHECK_INT(inj_val_ports("1,2,3", 0), 0);
    CHECK_INT(inj_val_ports(" 4 , 5,6 ", 0), 0); /* elements trimmed */
    CHECK_INT(inj_val_ports("0080", 0), 0);      /* ParseUint allows 0s */
    CHECK_INT(inj_val_ports("*", 1), 0);
    CHECK_INT(inj_val_ports("15090,15021", 1), 0);
    CHECK_INT(inj_val_ports(NULL, 0), 0);
}

TEST(val_ports_bad)
{
    BAD(inj_val_ports("70000", 0), "port '70000' out of range 0..65535");
    BAD(inj_val_ports("1,65536", 1), "port '65536' out of range 0..65535");
    BAD(inj_val_ports("99999999999999999999999", 0), "out of range");
    BAD(inj_val_ports("bad", 0), "'bad' is not a valid port");
    BAD(inj_val_ports("-1", 0), "'-1' is not a valid port");
    BAD(inj_val_ports("+1", 0), "'+1' is not a valid port");
    BAD(inj_val_ports("0x50", 0), "'0x50' is not a valid port");
    BAD(inj_val_ports("8 0", 0), "'8 0' is not a valid port");
    BAD(inj_val_ports("1,,2", 0), "empty element in port list");
    BAD(inj_val_ports("1,2,", 0), "empty element in port list");
    BAD(inj_val_ports(",", 1), "empty element in port list");
    BAD(inj_val_ports("*", 0), "'*' is not allowed in an exclude list");
    BAD(inj_val_ports("80,*", 0), "'*' is not allowed in an exclude list");
    BAD(inj_val_ports("80,*", 1), "'*' must be the whole value");
    BAD(inj_val_ports(" *", 1), "'*' must be the whole value");
    /* Istio's golden negative cases */
    BAD(inj_val_ports("bad", 1), "'bad' is not a valid port");
}

TEST(val_ports_message_is_bounded_and_printable)
{
    char big[400];
    memset(big, '9', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    BAD(inj_val_ports(big, 0), "...' out of range");
    CHECK(strlen(errmsg_get()) < 100);
    BAD(inj_val_ports("1\n2", 0), "'1?2' is not a valid port");
    CHECK(strchr(errmsg_get(), '\n') == NULL);
}

TEST(val_cidrs_good)
{
    CHECK_INT(inj_val_cidrs("", 0), 0);
    CHECK_INT(inj_val_cidrs(NULL, 0), 0);
    CHECK_INT(inj_val_cidrs("10.0.0.0/8", 0), 0);
    CHECK_INT(inj_val_cidrs("127.0.0.1/24,10.96.0.1/24", 0), 0);
    CHECK_INT(inj_val_cidrs("0.0.0.0/0", 0), 0);
    CHECK_INT(inj_val_cidrs("1.2.3.4/32", 0), 0);
    CHECK_INT(inj_val_cidrs("fd00::/8", 0), 0);
    CHECK_INT(inj_val_cidrs("::/0,::1/128", 0), 0);
    CHECK_INT(inj_val_cidrs("::ffff:10.0.0.0/104", 0), 0);
    CHECK_INT(inj_val_cidrs("10.96.0.2/24,fd00:1::/64", 0), 0);
    CHECK_INT(inj_val_cidrs("*", 1), 0);
}

TEST(val_cidrs_bad)
{
    BAD(inj_val_cidrs("10.0.0.1", 0),
        "'10.0.0.1' is not a CIDR (missing /prefix length)");
    BAD(inj_val_cidrs("fd00::1", 0),
        "'fd00::1' is not a CIDR (missing /prefix length)");
    BAD(inj_val_cidrs("bad", 1), "'bad' is not a valid CIDR");
    BAD(inj_val_cidrs("10.0.0.0/33", 0),
        "'10.0.0.0/33' has a bad prefix length (IPv4 allows 0..32)");
    BAD(inj_val_cidrs("fd00::/129", 0),
        "'fd00::/129' has a bad prefix length (IPv6 allows 0..128)");
    BAD(inj_val_cidrs("10.0.0.0/", 0), "bad prefix length");
    BAD(inj_val_cidrs("10.0.0.0/-1", 0), "bad prefix length");
    BAD(inj_val_cidrs("10.0.0.0/+8", 0), "bad prefix length");
    BAD(inj_val_cidrs("10.0.0.0/08", 0), "bad prefix length");
    BAD(inj_val_cidrs("10.0.0.0/8/8", 0), "bad prefix length");
    BAD(inj_val_cidrs("256.0.0.0/8", 0), "invalid IPv4 address");
    BAD(inj_val_cidrs("010.0.0.0/8", 0), "invalid IPv4 address");
    BAD(inj_val_cidrs("10.0.0/8", 0), "invalid IPv4 address");
    BAD(inj_val_cidrs("fd00:::1/64", 0), "invalid IPv6 address");
    BAD(inj_val_cidrs("fe80::1%eth0/64", 0), "zone is not allowed");
    BAD(inj_val_cidrs("/8", 0), "'/8' is not a valid CIDR");
    BAD(inj_val_cidrs("10.0.0.0/8,", 0), "empty element in CIDR list");
    BAD(inj_val_cidrs("10.0.0.0/8, 10.1.0.0/16", 0),
        "' 10.1.0.0/16' has an invalid IPv4 address");
    BAD(inj_val_cidrs("*", 0), "'*' is not allowed in an exclude list");
    BAD(inj_val_cidrs("10.0.0.0/8,*", 1), "'*' must be the whole value");
}

TEST(val_port_single)
{
    int p = -1;
    CHECK_INT(inj_val_port("15020", &p), 0);
    CHECK_INT(p, 15020);
    CHECK_INT(inj_val_port(" 123 ", &p), 0);
    CHECK_INT(p, 123);
    CHECK_INT(inj_val_port("0", &p), 0);
    CHECK_INT(p, 0);
    CHECK_INT(inj_val_port("65535", NULL), 0);
    p = 7;
    BAD(inj_val_port("65536", &p), "port '65536' out of range 0..65535");
    CHECK_INT(p, 7); /* untouched on failure */
    BAD(inj_val_port("", &p), "empty port");
    BAD(inj_val_port("1,2", &p), "'1,2' is not a valid port");
    BAD(inj_val_port("abc", &p), "'abc' is not a valid port");
}

TEST(val_uint32)
{
    uint32_t v = 0;
    CHECK_INT(inj_val_uint32("0", &v), 0);
    CHECK_INT(v, 0);
    CHECK_INT(inj_val_uint32("4294967295", &v), 0);
    CHECK(v == 4294967295u);
    CHECK_INT(inj_val_uint32("100", &v), 0);
    CHECK_INT(v, 100);
    BAD(inj_val_uint32("4294967296", &v), "'4294967296' out of range");
    CHECK_INT(v, 100);
    BAD(inj_val_uint32("-1", &v), "'-1' is not an unsigned 32-bit integer");
    BAD(inj_val_uint32("", &v), "is not an unsigned 32-bit integer");
    BAD(inj_val_uint32(" 1", &v), "is not an unsigned 32-bit integer");
    BAD(inj_val_uint32("1.5", &v), "is not an unsigned 32-bit integer");
}

TEST(val_quantity_good)
{
    static const char *const good[] = {
        "100m", "1Gi", "0.5", "1e3", "4000m", "1",   "0",  "2Gi",
        "+1",   "-1",  ".5",  "5.",  "1.5Ki", "1Ei", "3E", "1E-3",
        "1e+9", "7n",  "7u",  "1k",  "1M",    "1G",  "1T", "1P",
        "1Mi",  "1Ti", "1Pi", "001", "1.0e3",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        errmsg_clear();
        if (inj_val_quantity(good[i]) != 0)
            harness_fail(__FILE__, __LINE__, "'%s' refused: %s", good[i],
                         errmsg_get());
    }
}

TEST(val_quantity_bad)
{
    BAD(inj_val_quantity(""), "empty quantity");
    BAD(inj_val_quantity(NULL), "empty quantity");
    BAD(inj_val_quantity("1 Gi"), "contains a space");
    BAD(inj_val_quantity(" 1"), "contains a space");
    BAD(inj_val_quantity("1Gi\n"), "contains a control character");
    BAD(inj_val_quantity("1\x7f"), "contains a control character");
    BAD(inj_val_quantity("Gi"), "'Gi' is not a quantity (no digits)");
    BAD(inj_val_quantity("-"), "no digits");
    BAD(inj_val_quantity("."), "no digits");
    BAD(inj_val_quantity("1gi"), "unknown suffix 'gi'");
    BAD(inj_val_quantity("1K"), "unknown suffix 'K'");
    BAD(inj_val_quantity("1KiB"), "unknown suffix 'KiB'");
    BAD(inj_val_quantity("1.2.3"), "unknown suffix '.3'");
    BAD(inj_val_quantity("1e"), "quantity '1e' has a bad exponent");
    BAD(inj_val_quantity("1e3.5"), "bad exponent");
    BAD(inj_val_quantity("1Ex"), "bad exponent");
    BAD(inj_val_quantity("1e-"), "bad exponent");
    BAD(inj_val_quantity("1e9999999999999999999"), "exponent out of range");
    BAD(inj_val_quantity("++1"), "no digits");
}

TEST(val_interception_mode)
{
    CHECK_INT(inj_val_interception_mode("REDIRECT"), 0);
    CHECK_INT(inj_val_interception_mode("TPROXY"), 0);
    CHECK_INT(inj_val_interception_mode("NONE"), 0);
    BAD(inj_val_interception_mode("redirect"),
        "'redirect' is not an interception mode (REDIRECT, TPROXY or NONE)");
    BAD(inj_val_interception_mode(""), "'' is not an interception mode");
    BAD(inj_val_interception_mode("REDIRECT "), "not an interception mode");
    BAD(inj_val_interception_mode(NULL), "not an interception mode");
}

TEST(val_interfaces)
{
    CHECK_INT(inj_val_interfaces(""), 0);
    CHECK_INT(inj_val_interfaces(NULL), 0);
    CHECK_INT(inj_val_interfaces("net1"), 0);
    CHECK_INT(inj_val_interfaces("net1,eth0,veth-abc.10"), 0);
    CHECK_INT(inj_val_interfaces("abcdefghijklmno"), 0); /* 15 chars */
    BAD(inj_val_interfaces("abcdefghijklmnop"),
        "interface name 'abcdefghijklmnop' is longer than 15 characters");
    BAD(inj_val_interfaces("net1,"), "empty element in interface list");
    BAD(inj_val_interfaces("a/b"), "interface name 'a/b' contains a '/'");
    BAD(inj_val_interfaces("eth0:1"), "contains a '/', ':'");
    BAD(inj_val_interfaces("net1, net2"), "interface name ' net2'");
    BAD(inj_val_interfaces("."), "'.' is not a valid interface name");
    BAD(inj_val_interfaces("net1,.."), "'..' is not a valid interface name");
}

/* The validators never allocate, so fault injection cannot change them. */
TEST(val_no_allocation)
{
    mem_fail_set(1);
    CHECK_INT(inj_val_ports("1,2,3", 0), 0);
    CHECK_INT(inj_val_cidrs("10.0.0.0/8,fd00::/8", 0), 0);
    CHECK_INT(inj_val_quantity("1Gi"), 0);
    CHECK_INT(inj_val_interfaces("net1"), 0);
    CHECK_INT(mem_fail_hits(), 0);
    mem_fail_set(0);
}
