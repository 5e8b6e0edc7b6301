/* iptrules.h: the pure rule builder of mizzen-iptables.
 *
 * A typed configuration (what istio-iptables' flags mean, see iptflags.h)
 * becomes a ruleset per address family: tables, the ISTIO_* chains they
 * declare and the rules of every chain, in Istio's construction order.
 * Nothing here does I/O; the same config always yields the same text.
 *
 * Every rule is written in the canonical form iptables-save prints
 * (-s/-d before -i/-o before -p, "-m tcp" after "-p tcp", marks in hex,
 * "--set-xmark V/0xffffffff" for MARK --set-mark), so that the --dry-run
 * output equals what iptables-save shows after the apply, and so that the
 * apply step can recognise its own rules in iptables-save output. */
#ifndef MZ_IPTRULES_H
#define MZ_IPTRULES_H

#include "lib/buf.h"

#include <stddef.h>

#define IPTR_LIST_MAX 1024 /* entries in one list flag (-b, -x, ...) */
#define IPTR_IFNAME_MAX 15 /* IFNAMSIZ - 1 */

enum iptr_mode { IPTR_MODE_REDIRECT = 0, IPTR_MODE_TPROXY = 1 };

/* A CIDR, normalised: host bits cleared. family is 4 or 6. */
struct iptr_cidr {
    int family;
    unsigned char addr[16]; /* 4 bytes used for IPv4 */
    unsigned prefix;
};

struct iptr_ports {
    unsigned *v;
    size_t n;
};

struct iptr_ids {
    unsigned long *v;
    size_t n;
};

struct iptr_cidrs {
    struct iptr_cidr *v;
    size_t n;
};

struct iptr_names {
    char **v;
    size_t n;
};

struct iptr_config {
    enum iptr_mode mode;                      /* -m */
    unsigned proxy_port;                      /* -p, 15001 */
    unsigned inbound_port;                    /* -z, 15006 */
    unsigned tunnel_port;                     /* -e, 15008 */
    struct iptr_ids uids;                     /* -u; empty means 1337 */
    struct iptr_ids gids;                     /* -g; empty means the uids */
    int inbound_all;                          /* -b '*' */
    struct iptr_ports inbound_ports;          /* -b list (when not '*') */
    struct iptr_ports inbound_exclude_ports;  /* -d, only with -b '*' */
    int outbound_all;                         /* -i '*' */
    struct iptr_cidrs outbound_cidrs;         /* -i list (when not '*') */
    struct iptr_cidrs exclude_cidrs;          /* -x */
    struct iptr_ports outbound_ports;         /* -q */
    struct iptr_ports outbound_exclude_ports; /* -o */
    struct iptr_names kubevirt_ifaces;        /* -k */
    struct iptr_names exclude_ifaces;         /* -c */
    unsigned long tproxy_mark;                /* -t, 1337 */
    unsigned long tproxy_table;               /* -r, 133 (used by apply) */
    unsigned long outbound_mark;              /* 1338 (TPROXY) */
    int dual_stack;                           /* --dual-stack */
    int drop_invalid;                         /* --drop-invalid */
    struct iptr_cidr loopback_v4; /* ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR */
};

/* iptr_config_init fills caller storage with istio-iptables' defaults
 * (REDIRECT, 15001/15006/15008, no capture lists, mark 1337, table 133);
 * cannot fail. iptr_config_cleanup frees the lists and re-inits. */
void iptr_config_init(struct iptr_config *cfg);
void iptr_config_cleanup(struct iptr_config *cfg);

/* iptr_config_wants_v6: 1 when an IPv6 ruleset is to be built (--dual-stack
 * or an IPv6 range in -i or -x), else 0. */
int iptr_config_wants_v6(const struct iptr_config *cfg);

/* iptr_cidr_format writes "a.b.c.d/n" or "x::/n" (canonical, as iptables
 * prints it) into out; out must hold at least 64 bytes. */
void iptr_cidr_format(const struct iptr_cidr *c, char *out, size_t outlen);

/* Parses "a.b.c.d", "a.b.c.d/n", "x::y" or "x::y/n" (surrounding blanks
 * allowed) into *out with host bits cleared. 0 or RC_INVAL (message says
 * what is wrong, without naming a flag). */
int iptr_cidr_parse(const char *s, struct iptr_cidr *out);

/* --- rulesets ---------------------------------------------------------- */

struct iptr_chain {
    char *name;
    int builtin;  /* PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING */
    char **rules; /* rule text after "-A <chain> " */
    size_t n, cap;
};

struct iptr_table {
    char *name; /* "mangle", "nat" */
    struct iptr_chain *chains;
    size_t n, cap;
};

struct iptr_ruleset {
    int family; /* 4 or 6 */
    struct iptr_table *tables;
    size_t n, cap;
};

/* iptr_build builds the ruleset of one family (4 or 6) from cfg. On success
 * *out is the caller's (free with iptr_ruleset_free); on failure *out is
 * NULL and the code is RC_NOMEM or RC_INVAL (config values out of range). */
int iptr_build(const struct iptr_config *cfg, int family,
               struct iptr_ruleset **out);

void iptr_ruleset_free(struct iptr_ruleset *rs);

/* Lookups on a built ruleset (borrowed; NULL when absent). */
const struct iptr_table *iptr_ruleset_table(const struct iptr_ruleset *rs,
                                            const char *table);
const struct iptr_chain *iptr_table_chain(const struct iptr_table *t,
                                          const char *chain);

/* iptr_table_render_decls appends ":<chain> - [0:0]" for each user chain of
 * t, sorted by name; iptr_table_render_rules appends "-A <chain> <rule>"
 * for every rule, built-in chains first (PREROUTING, INPUT, FORWARD,
 * OUTPUT, POSTROUTING), then user chains sorted by name - the order
 * iptables-save lists them. 0, RC_NOMEM or RC_LIMIT (buffer partly
 * written on failure). */
int iptr_table_render_decls(const struct iptr_table *t, struct buf *out);
int iptr_table_render_rules(const struct iptr_table *t, struct buf *out);

/* iptr_render appends the whole ruleset in iptables-restore format: per
 * table "*<table>", the declarations, the rules, "COMMIT". Built-in chains
 * are not declared (so a --noflush restore keeps their policy). Tables
 * without chains are left out. */
int iptr_render(const struct iptr_ruleset *rs, struct buf *out);

/* iptr_build_text: iptr_build + iptr_render into a new string (caller
 * frees with mem_free). *out is NULL on failure. */
int iptr_build_text(const struct iptr_config *cfg, int family, char **out);

#endif
