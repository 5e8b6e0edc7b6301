/* iptrules.c: typed config -> iptables-restore ruleset (see iptrules.h).
 *
 * The builder follows istio-iptables' construction order (capture/run.go,
 * reference section 4.2) step by step; each step says which. Rules are kept
 * per chain, so "insert at position 1" is a prepend, and the rendered text
 * lists every chain's rules in their final order, as iptables-save does.
 * Errors are sticky in the build context: the first failure stops
 * everything and is returned once at the end. */
#include "agent/iptrules.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULE_MAX 512 /* one rule's text; ours are far shorter */

static const char *const builtin_order[] = {"PREROUTING", "INPUT", "FORWARD",
                                            "OUTPUT", "POSTROUTING"};
static const char *const table_order[] = {"raw", "mangle", "nat", "filter"};

/* --- config ------------------------------------------------------------ */

void
iptr_config_init(struct iptr_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mode = IPTR_MODE_REDIRECT;
    cfg->proxy_port = 15001;
    cfg->inbound_port = 15006;
    cfg->tunnel_port = 15008;
    cfg->tproxy_mark = 1337;
    cfg->tproxy_table = 133;
    cfg->outbound_mark = 1338;
    cfg->loopback_v4.family = 4;
    cfg->loopback_v4.addr[0] = 127;
    cfg->loopback_v4.addr[3] = 1;
    cfg->loopback_v4.prefix = 32;
}

static void
names_free(struct iptr_names *l)
{
    for (size_t i = 0; i < l->n; i++)
        mem_free(l->v[i]);
    mem_free(l->v);
}

void
iptr_config_cleanup(struct iptr_config *cfg)
{
    mem_free(cfg->uids.v);
    mem_free(cfg->gids.v);
    mem_free(cfg->inbound_ports.v);
    mem_free(cfg->inbound_exclude_ports.v);
    mem_free(cfg->outbound_cidrs.v);
    mem_free(cfg->exclude_cidrs.v);
    mem_free(cfg->outbound_ports.v);
    mem_free(cfg->outbound_exclude_ports.v);
    names_free(&cfg->kubevirt_ifaces);
    names_free(&cfg->exclude_ifaces);
    iptr_config_init(cfg);
}

static int
has_family(const struct iptr_cidrs *l, int family)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].family == family)
            return 1;
    return 0;
}

int
iptr_config_wants_v6(const struct iptr_config *cfg)
{
    return cfg->dual_stack || has_family(&cfg->outbound_cidrs, 6) ||
           has_family(&cfg->exclude_cidrs, 6);
}

/* --- CIDRs ------------------------------------------------------------- */

void
iptr_cidr_format(const struct iptr_cidr *c, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN];

    if (!inet_ntop(c->family == 6 ? AF_INET6 : AF_INET, c->addr, ip,
                   sizeof(ip)))
        ip[0] = '\0';
    snprintf(out, outlen, "%s/%u", ip, c->prefix);
}

int
iptr_cidr_parse(const char *s, struct iptr_cidr *out)
{
    char tmp[INET6_ADDRSTRLEN + 8];
    const char *b = s, *e;
    char *slash, *end;
    size_t n;
    unsigned max;
    long pfx;

    memset(out, 0, sizeof(*out));
    while (isspace((unsigned char)*b))
        b++;
    e = b + strlen(b);
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    n = (size_t)(e - b);
    if (n == 0)
        return errmsg_set(RC_INVAL, "empty address range");
    if (n >= sizeof(tmp))
        return errmsg_set(RC_INVAL, "'%.*s...' is too long for a CIDR", 20, b);
    memcpy(tmp, b, n);
    tmp[n] = '\0';
    out->family = strchr(tmp, ':') ? 6 : 4;
    max = out->family == 6 ? 128 : 32;
    out->prefix = max;
    slash = strchr(tmp, '/');
    if (slash) {
        *slash = '\0';
        if (!isdigit((unsigned char)slash[1]))
            return errmsg_set(RC_INVAL, "'%s' has a bad prefix length", s);
        pfx = strtol(slash + 1, &end, 10);
        if (*end != '\0' || pfx < 0 || pfx > (long)max)
            return errmsg_set(RC_INVAL, "'%s' has a bad prefix length", s);
        out->prefix = (unsigned)pfx;
    }
    if (inet_pton(out->family == 6 ? AF_INET6 : AF_INET, tmp, out->addr) != 1)
        return errmsg_set(RC_INVAL, "'%s' is not an IPv%d address or CIDR", s,
                          out->family);
    for (unsigned bit = out->prefix; bit < max; bit++)
        out->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    return 0;
}

static int
cidr_is_loopback(const struct iptr_cidr *c)
{
    static const unsigned char v6lo[16] = {[15] = 1};

    if (c->family == 4)
        return c->addr[0] == 127;
    return memcmp(c->addr, v6lo, 16) == 0;
}

/* --- ruleset storage --------------------------------------------------- */

static int
is_builtin(const char *chain)
{
    for (size_t i = 0; i < sizeof(builtin_order) / sizeof(*builtin_order); i++)
        if (strcmp(chain, builtin_order[i]) == 0)
            return 1;
    return 0;
}

void
iptr_ruleset_free(struct iptr_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t t = 0; t < rs->n; t++) {
        struct iptr_table *tb = &rs->tables[t];
        for (size_t c = 0; c < tb->n; c++) {
            struct iptr_chain *ch = &tb->chains[c];
            for (size_t r = 0; r < ch->n; r++)
                mem_free(ch->rules[r]);
            mem_free(ch->rules);
            mem_free(ch->name);
        }
        mem_free(tb->chains);
        mem_free(tb->name);
    }
    mem_free(rs->tables);
    mem_free(rs);
}

const struct iptr_table *
iptr_ruleset_table(const struct iptr_ruleset *rs, const char *table)
{
    for (size_t i = 0; rs && i < rs->n; i++)
        if (strcmp(rs->tables[i].name, table) == 0)
            return &rs->tables[i];
    return NULL;
}

const struct iptr_chain *
iptr_table_chain(const struct iptr_table *t, const char *chain)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (strcmp(t->chains[i].name, chain) == 0)
            return &t->chains[i];
    return NULL;
}

/* grow_array makes room for one more element of size sz in *v. */
static int
grow_array(void **v, size_t *cap, size_t n, size_t sz)
{
    size_t ncap;
    void *p;

    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 8;
    p = mem_realloc(*v, ncap * sz);
    if (!p)
        return errmsg_set(RC_NOMEM, "out of memory building rules");
    *v = p;
    *cap = ncap;
    return 0;
}

static struct iptr_table *
table_get(struct iptr_ruleset *rs, const char *name, int *rc)
{
    struct iptr_table *t;

    for (size_t i = 0; i < rs->n; i++)
        if (strcmp(rs->tables[i].name, name) == 0)
            return &rs->tables[i];
    *rc = grow_array((void **)&rs->tables, &rs->cap, rs->n, sizeof(*t));
    if (*rc)
        return NULL;
    t = &rs->tables[rs->n];
    memset(t, 0, sizeof(*t));
    t->name = mem_strdup(name);
    if (!t->name) {
        *rc = errmsg_set(RC_NOMEM, "out of memory building rules");
        return NULL;
    }
    rs->n++;
    return t;
}

static struct iptr_chain *
chain_get(struct iptr_table *t, const char *name, int *rc)
{
    struct iptr_chain *c;

    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->chains[i].name, name) == 0)
            return &t->chains[i];
    *rc = grow_array((void **)&t->chains, &t->cap, t->n, sizeof(*c));
    if (*rc)
        return NULL;
    c = &t->chains[t->n];
    memset(c, 0, sizeof(*c));
    c->name = mem_strdup(name);
    if (!c->name) {
        *rc = errmsg_set(RC_NOMEM, "out of memory building rules");
        return NULL;
    }
    c->builtin = is_builtin(name);
    t->n++;
    return c;
}

/* --- build context ----------------------------------------------------- */

struct bctx {
    const struct iptr_config *cfg;
    struct iptr_ruleset *rs;
    int family;
    int rc;             /* first failure; later calls do nothing */
    char lo[64];        /* 127.0.0.1/32 or ::1/128 */
    char pass[64];      /* 127.0.0.6/32 or ::6/128 */
    const char *any_ip; /* TPROXY --on-ip: 0.0.0.0 or :: */
};

static struct iptr_chain *
ctx_chain(struct bctx *b, const char *table, const char *chain)
{
    struct iptr_table *t;

    if (b->rc)
        return NULL;
    t = table_get(b->rs, table, &b->rc);
    if (!t)
        return NULL;
    return chain_get(t, chain, &b->rc);
}

/* put inserts a formatted rule at 0-based index pos (SIZE_MAX: append). */
static void vput(struct bctx *b, const char *table, const char *chain,
                 size_t pos, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static void
vput(struct bctx *b, const char *table, const char *chain, size_t pos,
     const char *fmt, va_list ap)
{
    struct iptr_chain *c = ctx_chain(b, table, chain);
    char line[RULE_MAX];
    char *dup;
    int n;

    if (!c)
        return;
    n = vsnprintf(line, sizeof(line), fmt, ap);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        b->rc = errmsg_set(RC_LIMIT, "rule for %s too long", chain);
        return;
    }
    b->rc = grow_array((void **)&c->rules, &c->cap, c->n, sizeof(char *));
    if (b->rc)
        return;
    dup = mem_strdup(line);
    if (!dup) {
        b->rc = errmsg_set(RC_NOMEM, "out of memory building rules");
        return;
    }
    if (pos > c->n)
        pos = c->n;
    memmove(&c->rules[pos + 1], &c->rules[pos], (c->n - pos) * sizeof(char *));
    c->rules[pos] = dup;
    c->n++;
}

__attribute__((format(printf, 4, 5))) static void
add(struct bctx *b, const char *table, const char *chain, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vput(b, table, chain, (size_t)-1, fmt, ap);
    va_end(ap);
}

/* ins: like iptables -I CHAIN pos (1-based). */
__attribute__((format(printf, 5, 6))) static void
ins(struct bctx *b, const char *table, const char *chain, size_t pos,
    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vput(b, table, chain, pos - 1, fmt, ap);
    va_end(ap);
}

/* ids_or_default: the -u list, or 1337 when empty; -g falls back to -u. */
static const struct iptr_ids *
uids_of(const struct iptr_config *cfg, struct iptr_ids *dflt,
        unsigned long *one)
{
    if (cfg->uids.n)
        return &cfg->uids;
    *one = 1337;
    dflt->v = one;
    dflt->n = 1;
    return dflt;
}

/* Step 11/12: the three owner rules for one uid or gid. */
static void
owner_rules(struct bctx *b, const char *kind, unsigned long id,
            int include_has_loopback)
{
    add(b, "nat", "ISTIO_OUTPUT",
        "! -d %s -o lo -p tcp -m tcp ! --dport %u -m owner --%s-owner %lu "
        "-j ISTIO_IN_REDIRECT",
        b->lo, b->cfg->tunnel_port, kind, id);
    if (!include_has_loopback)
        add(b, "nat", "ISTIO_OUTPUT",
            "-o lo -m owner ! --%s-owner %lu -j RETURN", kind, id);
    add(b, "nat", "ISTIO_OUTPUT", "-m owner --%s-owner %lu -j RETURN", kind,
        id);
}

static int
check_config(const struct iptr_config *cfg)
{
    if (cfg->proxy_port < 1 || cfg->proxy_port > 65535 ||
        cfg->inbound_port < 1 || cfg->inbound_port > 65535 ||
        cfg->tunnel_port < 1 || cfg->tunnel_port > 65535)
        return errmsg_set(RC_INVAL, "capture port out of range");
    if (cfg->mode == IPTR_MODE_TPROXY &&
        (cfg->tproxy_mark == 0 || cfg->tproxy_mark > 0xffffffffUL ||
         cfg->outbound_mark == 0 || cfg->outbound_mark > 0xffffffffUL))
        return errmsg_set(RC_INVAL, "TPROXY mark out of range");
    return 0;
}

static void
build(struct bctx *b)
{
    const struct iptr_config *cfg = b->cfg;
    int tproxy = cfg->mode == IPTR_MODE_TPROXY;
    const char *in_table = tproxy ? "mangle" : "nat";
    struct iptr_ids dflt_ids;
    unsigned long one_id;
    const struct iptr_ids *uids = uids_of(cfg, &dflt_ids, &one_id);
    const struct iptr_ids *gids = cfg->gids.n ? &cfg->gids : uids;
    int inc_lo = 0;
    char cidr[64];
    size_t i, j;

    for (i = 0; i < cfg->outbound_cidrs.n; i++)
        if (cfg->outbound_cidrs.v[i].family == b->family &&
            cidr_is_loopback(&cfg->outbound_cidrs.v[i]))
            inc_lo = 1;

    /* The four nat chains exist in every mode, declared even when empty
     * (istio-iptables creates them up front). TPROXY keeps ISTIO_INBOUND
     * in mangle only. */
    if (!tproxy)
        ctx_chain(b, "nat", "ISTIO_INBOUND");
    ctx_chain(b, "nat", "ISTIO_REDIRECT");
    ctx_chain(b, "nat", "ISTIO_IN_REDIRECT");
    ctx_chain(b, "nat", "ISTIO_OUTPUT");

    /* 1. excluded interfaces (TPROXY: the mangle hooks too). */
    for (i = 0; i < cfg->exclude_ifaces.n; i++) {
        add(b, "nat", "PREROUTING", "-i %s -j RETURN",
            cfg->exclude_ifaces.v[i]);
        add(b, "nat", "OUTPUT", "-o %s -j RETURN", cfg->exclude_ifaces.v[i]);
        if (tproxy) {
            add(b, "mangle", "PREROUTING", "-i %s -j RETURN",
                cfg->exclude_ifaces.v[i]);
            add(b, "mangle", "OUTPUT", "-o %s -j RETURN",
                cfg->exclude_ifaces.v[i]);
        }
    }
    /* 2. KubeVirt interfaces: RETURN at the head of PREROUTING. */
    for (i = 0; i < cfg->kubevirt_ifaces.n; i++)
        ins(b, "nat", "PREROUTING", 1, "-i %s -j RETURN",
            cfg->kubevirt_ifaces.v[i]);
    /* 3. --drop-invalid */
    if (cfg->drop_invalid) {
        add(b, "mangle", "PREROUTING",
            "-m conntrack --ctstate INVALID -j ISTIO_DROP");
        add(b, "mangle", "ISTIO_DROP", "-j DROP");
    }
    /* 4. the HBONE tunnel port is never captured inbound. */
    add(b, in_table, "ISTIO_INBOUND", "-p tcp -m tcp --dport %u -j RETURN",
        cfg->tunnel_port);
    /* 5, 6. redirect targets */
    add(b, "nat", "ISTIO_REDIRECT", "-p tcp -j REDIRECT --to-ports %u",
        cfg->proxy_port);
    add(b, "nat", "ISTIO_IN_REDIRECT", "-p tcp -j REDIRECT --to-ports %u",
        cfg->inbound_port);
    /* 7. inbound capture per -b / -d */
    if (cfg->inbound_all || cfg->inbound_ports.n) {
        if (tproxy) {
            add(b, "mangle", "ISTIO_DIVERT",
                "-j MARK --set-xmark 0x%lx/0xffffffff", cfg->tproxy_mark);
            add(b, "mangle", "ISTIO_DIVERT", "-j ACCEPT");
            add(b, "mangle", "ISTIO_TPROXY",
                "! -d %s -p tcp -j TPROXY --on-port %u --on-ip %s "
                "--tproxy-mark 0x%lx/0xffffffff",
                b->lo, cfg->inbound_port, b->any_ip, cfg->tproxy_mark);
        }
        add(b, in_table, "PREROUTING", "-p tcp -j ISTIO_INBOUND");
        if (cfg->inbound_all) {
            for (i = 0; i < cfg->inbound_exclude_ports.n; i++)
                add(b, in_table, "ISTIO_INBOUND",
                    "-p tcp -m tcp --dport %u -j RETURN",
                    cfg->inbound_exclude_ports.v[i]);
            if (tproxy) {
                add(b, "mangle", "ISTIO_INBOUND",
                    "-p tcp -m conntrack --ctstate RELATED,ESTABLISHED "
                    "-j ISTIO_DIVERT");
                add(b, "mangle", "ISTIO_INBOUND", "-p tcp -j ISTIO_TPROXY");
            } else {
                add(b, "nat", "ISTIO_INBOUND", "-p tcp -j ISTIO_IN_REDIRECT");
            }
        } else {
            for (i = 0; i < cfg->inbound_ports.n; i++) {
                unsigned p = cfg->inbound_ports.v[i];
                if (tproxy) {
                    add(b, "mangle", "ISTIO_INBOUND",
                        "-p tcp -m tcp --dport %u -m conntrack --ctstate "
                        "RELATED,ESTABLISHED -j ISTIO_DIVERT",
                        p);
                    add(b, "mangle", "ISTIO_INBOUND",
                        "-p tcp -m tcp --dport %u -j ISTIO_TPROXY", p);
                } else {
                    add(b, "nat", "ISTIO_INBOUND",
                        "-p tcp -m tcp --dport %u -j ISTIO_IN_REDIRECT", p);
                }
            }
        }
    }
    /* 8. */
    add(b, "nat", "OUTPUT", "-j ISTIO_OUTPUT");
    /* 9. excluded outbound ports, tcp and udp */
    for (i = 0; i < cfg->outbound_exclude_ports.n; i++) {
        unsigned p = cfg->outbound_exclude_ports.v[i];
        add(b, "nat", "ISTIO_OUTPUT", "-p tcp -m tcp --dport %u -j RETURN", p);
        add(b, "nat", "ISTIO_OUTPUT", "-p udp -m udp --dport %u -j RETURN", p);
    }
    /* 10. Envoy's inbound passthrough source */
    add(b, "nat", "ISTIO_OUTPUT", "-s %s -o lo -j RETURN", b->pass);
    /* 11, 12. proxy uids, then gids */
    for (i = 0; i < uids->n; i++)
        owner_rules(b, "uid", uids->v[i], inc_lo);
    for (i = 0; i < gids->n; i++)
        owner_rules(b, "gid", gids->v[i], inc_lo);
    /* 14. app to localhost */
    add(b, "nat", "ISTIO_OUTPUT", "-d %s -j RETURN", b->lo);
    /* 15. excluded CIDRs */
    for (i = 0; i < cfg->exclude_cidrs.n; i++) {
        if (cfg->exclude_cidrs.v[i].family != b->family)
            continue;
        iptr_cidr_format(&cfg->exclude_cidrs.v[i], cidr, sizeof(cidr));
        add(b, "nat", "ISTIO_OUTPUT", "-d %s -j RETURN", cidr);
    }
    /* 16. always-captured outbound ports */
    for (i = 0; i < cfg->outbound_ports.n; i++)
        add(b, "nat", "ISTIO_OUTPUT",
            "-p tcp -m tcp --dport %u -j ISTIO_REDIRECT",
            cfg->outbound_ports.v[i]);
    /* 17. outbound capture: everything, or per CIDR */
    if (cfg->outbound_all) {
        add(b, "nat", "ISTIO_OUTPUT", "-j ISTIO_REDIRECT");
        for (i = 0; i < cfg->kubevirt_ifaces.n; i++)
            ins(b, "nat", "PREROUTING", 1, "-i %s -j ISTIO_REDIRECT",
                cfg->kubevirt_ifaces.v[i]);
    } else {
        for (i = 0; i < cfg->outbound_cidrs.n; i++) {
            if (cfg->outbound_cidrs.v[i].family != b->family)
                continue;
            iptr_cidr_format(&cfg->outbound_cidrs.v[i], cidr, sizeof(cidr));
            add(b, "nat", "ISTIO_OUTPUT", "-d %s -j ISTIO_REDIRECT", cidr);
            for (j = 0; j < cfg->kubevirt_ifaces.n; j++)
                ins(b, "nat", "PREROUTING", 1, "-d %s -i %s -j ISTIO_REDIRECT",
                    cidr, cfg->kubevirt_ifaces.v[j]);
        }
    }
    /* 18. TPROXY: connection marks and the loops Envoy must not re-enter */
    if (tproxy) {
        add(b, "mangle", "PREROUTING",
            "-p tcp -m mark --mark 0x%lx -j CONNMARK --save-mark "
            "--nfmask 0xffffffff --ctmask 0xffffffff",
            cfg->tproxy_mark);
        ins(b, "mangle", "ISTIO_INBOUND", 1,
            "-p tcp -m mark --mark 0x%lx -j RETURN", cfg->tproxy_mark);
        for (i = 0; i < uids->n; i++)
            add(b, "mangle", "OUTPUT",
                "! -d %s -o lo -p tcp -m owner --uid-owner %lu "
                "-j MARK --set-xmark 0x%lx/0xffffffff",
                b->lo, uids->v[i], cfg->outbound_mark);
        for (i = 0; i < gids->n; i++)
            add(b, "mangle", "OUTPUT",
                "! -d %s -o lo -p tcp -m owner --gid-owner %lu "
                "-j MARK --set-xmark 0x%lx/0xffffffff",
                b->lo, gids->v[i], cfg->outbound_mark);
        add(b, "mangle", "OUTPUT",
            "-p tcp -m connmark --mark 0x%lx -j CONNMARK --restore-mark "
            "--nfmask 0xffffffff --ctmask 0xffffffff",
            cfg->tproxy_mark);
        ins(b, "mangle", "ISTIO_INBOUND", 2, "-s %s -i lo -p tcp -j RETURN",
            b->pass);
        ins(b, "mangle", "ISTIO_INBOUND", 3,
            "-i lo -m mark ! --mark 0x%lx -j RETURN", cfg->outbound_mark);
    }
}

int
iptr_build(const struct iptr_config *cfg, int family, struct iptr_ruleset **out)
{
    struct bctx b;
    int rc;

    *out = NULL;
    if (family != 4 && family != 6)
        return errmsg_set(RC_INVAL, "address family must be 4 or 6");
    rc = check_config(cfg);
    if (rc)
        return rc;
    memset(&b, 0, sizeof(b));
    b.cfg = cfg;
    b.family = family;
    b.rs = mem_calloc(1, sizeof(*b.rs));
    if (!b.rs)
        return errmsg_set(RC_NOMEM, "out of memory building rules");
    b.rs->family = family;
    if (family == 4) {
        iptr_cidr_format(&cfg->loopback_v4, b.lo, sizeof(b.lo));
        snprintf(b.pass, sizeof(b.pass), "127.0.0.6/32");
        b.any_ip = "0.0.0.0";
    } else {
        snprintf(b.lo, sizeof(b.lo), "::1/128");
        snprintf(b.pass, sizeof(b.pass), "::6/128");
        b.any_ip = "::";
    }
    build(&b);
    if (b.rc) {
        iptr_ruleset_free(b.rs);
        return b.rc;
    }
    *out = b.rs;
    return 0;
}

/* --- rendering --------------------------------------------------------- */

static int
cmp_chain_name(const void *a, const void *b)
{
    const struct iptr_chain *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* sorted_user_chains: pointers to t's user chains sorted by name; caller
 * frees the array. NULL with *n = 0 when there are none. */
static int
sorted_user_chains(const struct iptr_table *t, const struct iptr_chain ***out,
                   size_t *n)
{
    const struct iptr_chain **v;
    size_t k = 0;

    *out = NULL;
    *n = 0;
    if (t->n == 0)
        return 0;
    v = mem_calloc(t->n, sizeof(*v));
    if (!v)
        return errmsg_set(RC_NOMEM, "out of memory rendering rules");
    for (size_t i = 0; i < t->n; i++)
        if (!t->chains[i].builtin)
            v[k++] = &t->chains[i];
    qsort(v, k, sizeof(*v), cmp_chain_name);
    *out = v;
    *n = k;
    return 0;
}

int
iptr_table_render_decls(const struct iptr_table *t, struct buf *out)
{
    const struct iptr_chain **v = NULL;
    size_t n = 0;
    int rc = sorted_user_chains(t, &v, &n);

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_addf(out, ":%s - [0:0]\n", v[i]->name);
    mem_free(v);
    return rc;
}

static int
render_chain(const struct iptr_chain *c, struct buf *out)
{
    int rc = 0;

    for (size_t r = 0; rc == 0 && r < c->n; r++)
        rc = buf_addf(out, "-A %s %s\n", c->name, c->rules[r]);
    return rc;
}

int
iptr_table_render_rules(const struct iptr_table *t, struct buf *out)
{
    const struct iptr_chain **v = NULL;
    size_t n = 0;
    int rc = 0;

    for (size_t i = 0;
         rc == 0 && i < sizeof(builtin_order) / sizeof(*builtin_order); i++) {
        const struct iptr_chain *c = iptr_table_chain(t, builtin_order[i]);
        if (c)
            rc = render_chain(c, out);
    }
    if (rc == 0)
        rc = sorted_user_chains(t, &v, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = render_chain(v[i], out);
    mem_free(v);
    return rc;
}

int
iptr_render(const struct iptr_ruleset *rs, struct buf *out)
{
    int rc = 0;

    for (size_t i = 0;
         rc == 0 && i < sizeof(table_order) / sizeof(*table_order); i++) {
        const struct iptr_table *t = iptr_ruleset_table(rs, table_order[i]);
        if (!t || t->n == 0)
            continue;
        rc = buf_addf(out, "*%s\n", t->name);
        if (rc == 0)
            rc = iptr_table_render_decls(t, out);
        if (rc == 0)
            rc = iptr_table_render_rules(t, out);
        if (rc == 0)
            rc = buf_addstr(out, "COMMIT\n");
    }
    return rc;
}

int
iptr_build_text(const struct iptr_config *cfg, int family, char **out)
{
    struct iptr_ruleset *rs = NULL;
    struct buf b;
    int rc;

    *out = NULL;
    buf_init(&b, 0);
    rc = iptr_build(cfg, family, &rs);
    if (rc)
        goto done;
    rc = iptr_render(rs, &b);
    if (rc)
        goto done;
    *out = buf_take(&b, NULL);
    if (!*out)
        rc = errmsg_set(RC_NOMEM, "out of memory rendering rules");
done:
    buf_cleanup(&b);
    iptr_ruleset_free(rs);
    return rc;
}
