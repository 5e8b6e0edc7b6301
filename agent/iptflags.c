/* iptflags.c: istio-iptables flags and environment -> iptf_opts.
 *
 * One table lists every flag: its short letter, long name, environment
 * names and kind. Parsing runs twice over the same setters: first every
 * environment variable that is set, then the command line, so a flag
 * replaces what its variable said. List setters free the old list first.
 * Every error message starts with the flag ("-p/--envoy-port") or the
 * variable ("env ENVOY_PORT") it is about. */
#include "agent/iptflags.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind {
    K_PORT,     /* one port 1-65535 */
    K_IDS,      /* uid/gid list */
    K_MODE,     /* REDIRECT | TPROXY */
    K_IN_PORTS, /* -b: '*', "" or port list */
    K_PORTS,    /* port list, no '*' */
    K_IN_CIDRS, /* -i: '*', "" or CIDR list */
    K_CIDRS,    /* CIDR list, no '*' */
    K_IFACES,   /* interface list */
    K_MARK,     /* 32-bit non-zero mark */
    K_TABLE,    /* route table number */
    K_BOOL,     /* --flag, --flag=true|false */
    K_LOGLEVEL, /* --log_output_level=scope:level,... */
    K_BACKEND,  /* auto | nft | legacy */
    K_FORCEBIN, /* --force-iptables-binary iptables-nft|iptables-legacy */
    K_LOOPBACK, /* one IPv4 CIDR */
    K_OWNERGRP, /* owner-group filter: only the default is supported */
    K_IGNORED,  /* a value accepted for compatibility, not used */
    K_IGNOREDB, /* a bool accepted for compatibility, not used */
    K_UNSUPPB,  /* a bool whose "true" mizzen cannot honour */
    K_HELP
};

enum id {
    F_PROXY_PORT,
    F_INBOUND_PORT,
    F_TUNNEL_PORT,
    F_UID,
    F_GID,
    F_MODE,
    F_TMARK,
    F_TTABLE,
    F_IN_PORTS,
    F_IN_EXCL,
    F_EXCL_IF,
    F_CIDR,
    F_XCIDR,
    F_OUT_EXCL,
    F_OUT_PORTS,
    F_KUBEVIRT,
    F_DRY,
    F_DUAL,
    F_DROPINV,
    F_DNS,
    F_SKIP,
    F_CLEANUP,
    F_BACKEND,
    F_FORCEBIN,
    F_LOGLEVEL,
    F_LOGJSON,
    F_LOOPBACK,
    F_OWNERS,
    F_OWNERS_EXCL,
    F_OTHER,
    F_HELP
};

struct fdef {
    char sh;          /* short letter or 0 */
    const char *name; /* long name (NULL: environment only) */
    const char *env;  /* environment names, ','-separated, or NULL */
    enum kind kind;
    enum id id;
};

static const struct fdef flags[] = {
    {'p', "envoy-port", "ENVOY_PORT", K_PORT, F_PROXY_PORT},
    {'z', "inbound-capture-port", "INBOUND_CAPTURE_PORT", K_PORT,
     F_INBOUND_PORT},
    {'e', "inbound-tunnel-port", "INBOUND_TUNNEL_PORT", K_PORT, F_TUNNEL_PORT},
    {'u', "proxy-uid", "PROXY_UID", K_IDS, F_UID},
    {'g', "proxy-gid", "PROXY_GID", K_IDS, F_GID},
    {'m', "istio-inbound-interception-mode",
     "ISTIO_INBOUND_INTERCEPTION_MODE,INBOUND_INTERCEPTION_MODE", K_MODE,
     F_MODE},
    {'t', "istio-inbound-tproxy-mark",
     "ISTIO_INBOUND_TPROXY_MARK,INBOUND_TPROXY_MARK", K_MARK, F_TMARK},
    {'r', "istio-inbound-tproxy-route-table",
     "ISTIO_INBOUND_TPROXY_ROUTE_TABLE,INBOUND_TPROXY_ROUTE_TABLE", K_TABLE,
     F_TTABLE},
    {'b', "istio-inbound-ports", "ISTIO_INBOUND_PORTS", K_IN_PORTS, F_IN_PORTS},
    {'d', "istio-local-exclude-ports", "ISTIO_LOCAL_EXCLUDE_PORTS", K_PORTS,
     F_IN_EXCL},
    {'c', "istio-exclude-interfaces", "ISTIO_EXCLUDE_INTERFACES", K_IFACES,
     F_EXCL_IF},
    {'i', "istio-service-cidr", "ISTIO_SERVICE_CIDR", K_IN_CIDRS, F_CIDR},
    {'x', "istio-service-exclude-cidr", "ISTIO_SERVICE_EXCLUDE_CIDR", K_CIDRS,
     F_XCIDR},
    {'o', "istio-local-outbound-ports-exclude",
     "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE", K_PORTS, F_OUT_EXCL},
    {'q', "istio-outbound-ports", "ISTIO_OUTBOUND_PORTS", K_PORTS, F_OUT_PORTS},
    {'k', "kube-virt-interfaces", "KUBE_VIRT_INTERFACES", K_IFACES, F_KUBEVIRT},
    {0, "reroute-virtual-interfaces", "REROUTE_VIRTUAL_INTERFACES", K_IFACES,
     F_KUBEVIRT},
    {'n', "dry-run", "DRY_RUN", K_BOOL, F_DRY},
    {0, "dual-stack", "ISTIO_DUAL_STACK", K_BOOL, F_DUAL},
    {0, "drop-invalid", "INVALID_DROP", K_BOOL, F_DROPINV},
    {0, "redirect-dns", "ISTIO_META_DNS_CAPTURE,REDIRECT_DNS", K_BOOL, F_DNS},
    {0, "capture-all-dns", "CAPTURE_ALL_DNS", K_IGNOREDB, F_OTHER},
    {0, "skip-rule-apply", "SKIP_RULE_APPLY", K_BOOL, F_SKIP},
    {0, "cleanup-only", "CLEANUP_ONLY", K_BOOL, F_CLEANUP},
    {0, "reconcile", NULL, K_IGNOREDB, F_OTHER},
    {0, "force-apply", NULL, K_IGNOREDB, F_OTHER},
    {0, "restore-format", NULL, K_IGNOREDB, F_OTHER},
    {0, "run-validation", NULL, K_UNSUPPB, F_OTHER},
    {0, "native-nftables", NULL, K_UNSUPPB, F_OTHER},
    {0, "iptables-probe-port", NULL, K_PORT, F_OTHER},
    {0, "probe-timeout", NULL, K_IGNORED, F_OTHER},
    {0, "force-iptables-binary", NULL, K_FORCEBIN, F_FORCEBIN},
    {0, "iptables-backend", "MIZZEN_IPTABLES_BACKEND", K_BACKEND, F_BACKEND},
    {0, "log_output_level", NULL, K_LOGLEVEL, F_LOGLEVEL},
    {0, "log_as_json", NULL, K_BOOL, F_LOGJSON},
    {0, "log_caller", NULL, K_IGNORED, F_OTHER},
    {0, "log_stacktrace_level", NULL, K_IGNORED, F_OTHER},
    {0, "log_target", NULL, K_IGNORED, F_OTHER},
    {0, NULL, "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR", K_LOOPBACK, F_LOOPBACK},
    {0, NULL, "ISTIO_OUTBOUND_OWNER_GROUPS", K_OWNERGRP, F_OWNERS},
    {0, NULL, "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE", K_OWNERGRP, F_OWNERS_EXCL},
    {'h', "help", NULL, K_HELP, F_HELP},
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

/* who: "-p/--envoy-port" or "env ENVOY_PORT", for messages. */
struct who {
    char s[96];
};

static void
who_flag(struct who *w, const struct fdef *f)
{
    if (f->sh)
        snprintf(w->s, sizeof(w->s), "-%c/--%s", f->sh, f->name);
    else
        snprintf(w->s, sizeof(w->s), "--%s", f->name);
}

/* --- element parsers --------------------------------------------------- */

/* trimmed copy of [b, e) into out; 0 or RC_INVAL when too long. */
static int
trim_into(const char *b, const char *e, char *out, size_t outlen)
{
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    if ((size_t)(e - b) >= outlen)
        return RC_INVAL;
    memcpy(out, b, (size_t)(e - b));
    out[e - b] = '\0';
    return 0;
}

static int
parse_ulong(const char *s, int base, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (!isdigit((unsigned char)s[0]))
        return RC_INVAL;
    errno = 0;
    v = strtoul(s, &end, base);
    if (errno || *end != '\0' || v > max)
        return RC_INVAL;
    *out = v;
    return 0;
}

static int
parse_port(const struct who *w, const char *s, unsigned *out)
{
    char tmp[32];
    unsigned long v;

    if (trim_into(s, s + strlen(s), tmp, sizeof(tmp)) ||
        parse_ulong(tmp, 10, 65535, &v) || v == 0)
        return errmsg_set(RC_INVAL, "%s: '%s' is not a port (1-65535)", w->s,
                          s);
    *out = (unsigned)v;
    return 0;
}

/* Splits a ','-separated list, trimming blanks and skipping empty
 * elements, and calls fn for each element. */
typedef int (*elem_fn)(const struct who *w, const char *elem, void *ctx);

static int
each_elem(const struct who *w, const char *s, elem_fn fn, void *ctx)
{
    char elem[128];
    const char *p = s;
    int rc;

    while (*p) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        if (trim_into(p, e, elem, sizeof(elem)))
            return errmsg_set(RC_INVAL, "%s: element '%.*s...' is too long",
                              w->s, 16, p);
        if (elem[0]) {
            rc = fn(w, elem, ctx);
            if (rc)
                return rc;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* grow one-by-one with doubling; every list is capped at IPTR_LIST_MAX. */
static int
grow(const struct who *w, void **v, size_t *cap, size_t n, size_t sz)
{
    size_t ncap;
    void *p;

    if (n >= IPTR_LIST_MAX)
        return errmsg_set(RC_LIMIT, "%s: more than %d entries", w->s,
                          IPTR_LIST_MAX);
    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 8;
    p = mem_realloc(*v, ncap * sz);
    if (!p)
        return errmsg_set(RC_NOMEM, "%s: out of memory", w->s);
    *v = p;
    *cap = ncap;
    return 0;
}

struct ports_acc {
    struct iptr_ports l;
    size_t cap;
};

static int
add_port(const struct who *w, const char *elem, void *ctx)
{
    struct ports_acc *a = ctx;
    unsigned port;
    int rc;

    if (strcmp(elem, "*") == 0)
        return errmsg_set(RC_INVAL, "%s: '*' is not allowed in a list", w->s);
    rc = parse_port(w, elem, &port);
    if (rc == 0)
        rc = grow(w, (void **)&a->l.v, &a->cap, a->l.n, sizeof(unsigned));
    if (rc)
        return rc;
    a->l.v[a->l.n++] = port;
    return 0;
}

struct ids_acc {
    struct iptr_ids l;
    size_t cap;
};

static int
add_id(const struct who *w, const char *elem, void *ctx)
{
    struct ids_acc *a = ctx;
    unsigned long id;
    int rc;

    if (parse_ulong(elem, 10, 4294967294UL, &id))
        return errmsg_set(RC_INVAL, "%s: '%s' is not a numeric id", w->s, elem);
    rc = grow(w, (void **)&a->l.v, &a->cap, a->l.n, sizeof(unsigned long));
    if (rc)
        return rc;
    a->l.v[a->l.n++] = id;
    return 0;
}

struct cidrs_acc {
    struct iptr_cidrs l;
    size_t cap;
};

static int
add_cidr(const struct who *w, const char *elem, void *ctx)
{
    struct cidrs_acc *a = ctx;
    struct iptr_cidr c;
    int rc;

    if (strcmp(elem, "*") == 0)
        return errmsg_set(RC_INVAL, "%s: '*' is not allowed here", w->s);
    rc = iptr_cidr_parse(elem, &c);
    if (rc)
        return errmsg_prefix(rc, "%s", w->s);
    rc = grow(w, (void **)&a->l.v, &a->cap, a->l.n, sizeof(c));
    if (rc)
        return rc;
    a->l.v[a->l.n++] = c;
    return 0;
}

struct names_acc {
    struct iptr_names l;
    size_t cap;
};

static int
add_iface(const struct who *w, const char *elem, void *ctx)
{
    struct names_acc *a = ctx;
    size_t n = strlen(elem);
    char *dup;
    int rc;

    /* The name goes verbatim into the restore text: allow only what Linux
     * and iptables accept in an interface name, never blanks or quotes. */
    if (n > IPTR_IFNAME_MAX)
        return errmsg_set(RC_INVAL, "%s: interface '%s' is longer than %d",
                          w->s, elem, IPTR_IFNAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)elem[i];
        if (!isalnum(ch) && !strchr("-_.@+:", ch))
            return errmsg_set(RC_INVAL, "%s: '%s' is not an interface name",
                              w->s, elem);
    }
    if (elem[0] == '-' || strcmp(elem, ".") == 0 || strcmp(elem, "..") == 0)
        return errmsg_set(RC_INVAL, "%s: '%s' is not an interface name", w->s,
                          elem);
    rc = grow(w, (void **)&a->l.v, &a->cap, a->l.n, sizeof(char *));
    if (rc)
        return rc;
    dup = mem_strdup(elem);
    if (!dup)
        return errmsg_set(RC_NOMEM, "%s: out of memory", w->s);
    a->l.v[a->l.n++] = dup;
    return 0;
}

static int
is_star(const char *s)
{
    char tmp[8];
    return trim_into(s, s + strlen(s), tmp, sizeof(tmp)) == 0 &&
           strcmp(tmp, "*") == 0;
}

static int
parse_bool(const struct who *w, const char *s, int *out)
{
    static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const f[] = {"0", "f", "F", "false", "FALSE", "False"};

    for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
        if (strcmp(s, t[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, f[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return errmsg_set(RC_INVAL, "%s: '%s' is not a boolean", w->s, s);
}

/* --log_output_level: "level" or "scope:level[,scope:level...]"; the level
 * of scope "default" (or "all", or no scope) is ours. */
static int
parse_loglevel(const struct who *w, const char *s, enum log_level *out)
{
    char elem[64];
    const char *p = s;

    while (*p) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        const char *lvl;
        char *colon;
        if (trim_into(p, e, elem, sizeof(elem)))
            return errmsg_set(RC_INVAL, "%s: bad element in '%s'", w->s, s);
        colon = strchr(elem, ':');
        lvl = colon ? colon + 1 : elem;
        if (colon)
            *colon = '\0';
        if (elem[0] && strcmp(lvl, "none") != 0 && strcmp(lvl, "fatal") != 0)
            if (strcmp(lvl, "debug") && strcmp(lvl, "info") &&
                strcmp(lvl, "warn") && strcmp(lvl, "warning") &&
                strcmp(lvl, "error"))
                return errmsg_set(RC_INVAL, "%s: unknown level '%s'", w->s,
                                  lvl);
        if (elem[0] && (!colon || strcmp(elem, "default") == 0 ||
                        strcmp(elem, "all") == 0)) {
            if (strcmp(lvl, "none") == 0)
                *out = LOG_OFF;
            else if (strcmp(lvl, "fatal") == 0)
                *out = LOG_ERROR;
            else
                log_parse_level(lvl, out);
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* --- setters ----------------------------------------------------------- */

static void
ports_set(struct iptr_ports *dst, struct ports_acc *a)
{
    mem_free(dst->v);
    *dst = a->l;
}

static int
set_value(struct iptf_opts *o, const struct fdef *f, const struct who *w,
          const char *v)
{
    struct iptr_config *c = &o->cfg;
    unsigned long ul;
    int rc = 0, b;

    switch (f->kind) {
    case K_PORT: {
        unsigned port;
        rc = parse_port(w, v, &port);
        if (rc)
            return rc;
        if (f->id == F_PROXY_PORT)
            c->proxy_port = port;
        else if (f->id == F_INBOUND_PORT)
            c->inbound_port = port;
        else if (f->id == F_TUNNEL_PORT)
            c->tunnel_port = port;
        return 0;
    }
    case K_IDS: {
        struct ids_acc a = {{NULL, 0}, 0};
        rc = each_elem(w, v, add_id, &a);
        if (rc == 0 && a.l.n == 0)
            rc = errmsg_set(RC_INVAL, "%s: needs at least one id", w->s);
        if (rc) {
            mem_free(a.l.v);
            return rc;
        }
        struct iptr_ids *dst = f->id == F_UID ? &c->uids : &c->gids;
        mem_free(dst->v);
        *dst = a.l;
        if (f->id == F_UID)
            o->uid_defaulted = 0;
        return 0;
    }
    case K_MODE:
        if (strcmp(v, "REDIRECT") == 0)
            c->mode = IPTR_MODE_REDIRECT;
        else if (strcmp(v, "TPROXY") == 0)
            c->mode = IPTR_MODE_TPROXY;
        else
            return errmsg_set(
                RC_INVAL, "%s: mode '%s' is not REDIRECT or TPROXY", w->s, v);
        return 0;
    case K_IN_PORTS:
    case K_PORTS: {
        struct ports_acc a = {{NULL, 0}, 0};
        int star = f->kind == K_IN_PORTS && is_star(v);
        if (!star)
            rc = each_elem(w, v, add_port, &a);
        if (rc) {
            mem_free(a.l.v);
            return rc;
        }
        if (f->id == F_IN_PORTS) {
            c->inbound_all = star;
            ports_set(&c->inbound_ports, &a);
        } else if (f->id == F_IN_EXCL) {
            ports_set(&c->inbound_exclude_ports, &a);
        } else if (f->id == F_OUT_EXCL) {
            ports_set(&c->outbound_exclude_ports, &a);
        } else {
            ports_set(&c->outbound_ports, &a);
        }
        return 0;
    }
    case K_IN_CIDRS:
    case K_CIDRS: {
        struct cidrs_acc a = {{NULL, 0}, 0};
        int star = f->kind == K_IN_CIDRS && is_star(v);
        if (!star)
            rc = each_elem(w, v, add_cidr, &a);
        if (rc) {
            mem_free(a.l.v);
            return rc;
        }
        struct iptr_cidrs *dst =
            f->id == F_CIDR ? &c->outbound_cidrs : &c->exclude_cidrs;
        if (f->id == F_CIDR)
            c->outbound_all = star;
        mem_free(dst->v);
        *dst = a.l;
        return 0;
    }
    case K_IFACES: {
        struct names_acc a = {{NULL, 0}, 0};
        rc = each_elem(w, v, add_iface, &a);
        struct iptr_names *dst =
            f->id == F_EXCL_IF ? &c->exclude_ifaces : &c->kubevirt_ifaces;
        if (rc) {
            for (size_t i = 0; i < a.l.n; i++)
                mem_free(a.l.v[i]);
            mem_free(a.l.v);
            return rc;
        }
        for (size_t i = 0; i < dst->n; i++)
            mem_free(dst->v[i]);
        mem_free(dst->v);
        *dst = a.l;
        return 0;
    }
    case K_MARK:
        if (parse_ulong(v, 0, 0xffffffffUL, &ul) || ul == 0)
            return errmsg_set(RC_INVAL, "%s: '%s' is not a mark (1-0xffffffff)",
                              w->s, v);
        c->tproxy_mark = ul;
        return 0;
    case K_TABLE:
        if (parse_ulong(v, 10, 0xffffffffUL, &ul) || ul == 0 ||
            (ul >= 253 && ul <= 255))
            return errmsg_set(RC_INVAL, "%s: '%s' is not a usable route table",
                              w->s, v);
        c->tproxy_table = ul;
        return 0;
    case K_BOOL:
        rc = parse_bool(w, v, &b);
        if (rc)
            return rc;
        if (f->id == F_DRY)
            o->dry_run = b;
        else if (f->id == F_DUAL)
            c->dual_stack = b;
        else if (f->id == F_DROPINV)
            c->drop_invalid = b;
        else if (f->id == F_DNS)
            o->dns_requested = b;
        else if (f->id == F_SKIP)
            o->skip_apply = b;
        else if (f->id == F_CLEANUP)
            o->cleanup_only = b;
        else if (f->id == F_LOGJSON)
            o->log_json = b;
        return 0;
    case K_IGNOREDB:
        return parse_bool(w, v, &b);
    case K_UNSUPPB:
        rc = parse_bool(w, v, &b);
        if (rc == 0 && b)
            rc = errmsg_set(RC_UNSUPPORTED, "%s is not supported by mizzen",
                            w->s);
        return rc;
    case K_LOGLEVEL:
        return parse_loglevel(w, v, &o->log_level);
    case K_BACKEND:
        if (strcmp(v, "auto") == 0)
            o->backend = IPTF_BACKEND_AUTO;
        else if (strcmp(v, "nft") == 0)
            o->backend = IPTF_BACKEND_NFT;
        else if (strcmp(v, "legacy") == 0)
            o->backend = IPTF_BACKEND_LEGACY;
        else
            return errmsg_set(RC_INVAL, "%s: '%s' is not auto, nft or legacy",
                              w->s, v);
        return 0;
    case K_FORCEBIN:
        if (strcmp(v, "iptables-nft") == 0)
            o->backend = IPTF_BACKEND_NFT;
        else if (strcmp(v, "iptables-legacy") == 0)
            o->backend = IPTF_BACKEND_LEGACY;
        else if (v[0] != '\0')
            return errmsg_set(RC_INVAL,
                              "%s: '%s' is not iptables-nft or "
                              "iptables-legacy",
                              w->s, v);
        return 0;
    case K_LOOPBACK: {
        struct iptr_cidr cidr;
        rc = iptr_cidr_parse(v, &cidr);
        if (rc)
            return errmsg_prefix(rc, "%s", w->s);
        if (cidr.family != 4)
            return errmsg_set(RC_INVAL, "%s: '%s' is not an IPv4 CIDR", w->s,
                              v);
        c->loopback_v4 = cidr;
        return 0;
    }
    case K_OWNERGRP:
        if ((f->id == F_OWNERS && v[0] && !is_star(v)) ||
            (f->id == F_OWNERS_EXCL && v[0]))
            return errmsg_set(RC_UNSUPPORTED,
                              "%s: owner-group capture filters are not "
                              "supported by mizzen",
                              w->s);
        return 0;
    case K_IGNORED:
        return 0;
    case K_HELP:
        o->help = 1;
        return 0;
    }
    return errmsg_set(RC_INTERNAL, "%s: unhandled kind", w->s);
}

static int
takes_value(const struct fdef *f)
{
    return f->kind != K_BOOL && f->kind != K_IGNOREDB && f->kind != K_UNSUPPB &&
           f->kind != K_HELP;
}

/* --- environment ------------------------------------------------------- */

static const char *
env_get(char **envp, const char *name, size_t len)
{
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
            return envp[i] + len + 1;
    return NULL;
}

static int
parse_env(struct iptf_opts *o, char **envp)
{
    for (size_t i = 0; i < NFLAGS; i++) {
        const struct fdef *f = &flags[i];
        const char *p = f->env;
        while (p && *p) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            const char *v = env_get(envp, p, len);
            if (v) {
                struct who w;
                int rc;
                snprintf(w.s, sizeof(w.s), "env %.*s", (int)len, p);
                rc = set_value(o, f, &w, v);
                if (rc)
                    return rc;
                break; /* the first name that is set wins */
            }
            p = comma ? comma + 1 : NULL;
        }
    }
    return 0;
}

/* --- command line ------------------------------------------------------ */

static const struct fdef *
find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (flags[i].name && strlen(flags[i].name) == len &&
            strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    return NULL;
}

static const struct fdef *
find_short(char c)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (flags[i].sh == c)
            return &flags[i];
    return NULL;
}

int
iptf_parse(struct iptf_opts *o, int argc, char **argv, char **envp)
{
    int rc = parse_env(o, envp);
    int positional = 0;

    for (int i = 1; rc == 0 && i < argc; i++) {
        const char *a = argv[i];
        const struct fdef *f = NULL;
        const char *val = NULL;
        struct who w;

        if (strcmp(a, "--") == 0 || a[0] != '-' || a[1] == '\0') {
            /* The injector's args start with the program name Istio's
             * image dispatches on; anything else is a mistake. */
            if (strcmp(a, "--") == 0 && i + 1 < argc)
                a = argv[++i];
            if (positional == 0 && i == 1 && strcmp(a, "istio-iptables") == 0) {
                positional++;
                continue;
            }
            return errmsg_set(RC_INVAL, "unexpected argument '%s'", a);
        }
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            f = find_long(a + 2, len);
            if (!f)
                return errmsg_set(RC_INVAL, "unknown flag '--%.*s'", (int)len,
                                  a + 2);
            if (eq)
                val = eq + 1;
        } else {
            f = find_short(a[1]);
            if (!f)
                return errmsg_set(RC_INVAL, "unknown flag '-%c'", a[1]);
            if (a[2] != '\0')
                val = a[2] == '=' ? a + 3 : a + 2;
        }
        who_flag(&w, f);
        if (!takes_value(f)) {
            rc = set_value(o, f, &w, val ? val : "true");
            continue;
        }
        if (!val) {
            if (i + 1 >= argc)
                return errmsg_set(RC_INVAL, "%s needs a value", w.s);
            val = argv[++i];
        }
        rc = set_value(o, f, &w, val);
    }
    return rc;
}

void
iptf_opts_init(struct iptf_opts *o)
{
    memset(o, 0, sizeof(*o));
    iptr_config_init(&o->cfg);
    o->backend = IPTF_BACKEND_AUTO;
    o->log_level = LOG_INFO;
    o->uid_defaulted = 1;
}

void
iptf_opts_cleanup(struct iptf_opts *o)
{
    iptr_config_cleanup(&o->cfg);
    iptf_opts_init(o);
}

const char *
iptf_usage(void)
{
    return "usage: mizzen-iptables [flags]  (istio-iptables' flags)\n"
           "  -p, --envoy-port PORT                outbound capture port "
           "(15001)\n"
           "  -z, --inbound-capture-port PORT      inbound capture port "
           "(15006)\n"
           "  -e, --inbound-tunnel-port PORT       HBONE port, never "
           "captured (15008)\n"
           "  -u, --proxy-uid UID[,UID]            uids not captured "
           "(1337)\n"
           "  -g, --proxy-gid GID[,GID]            gids not captured (= -u)\n"
           "  -m, --istio-inbound-interception-mode REDIRECT|TPROXY\n"
           "  -b, --istio-inbound-ports '*'|PORTS  inbound ports to capture\n"
           "  -d, --istio-local-exclude-ports PORTS  excluded with -b '*'\n"
           "  -i, --istio-service-cidr '*'|CIDRS   outbound ranges to "
           "capture\n"
           "  -x, --istio-service-exclude-cidr CIDRS  outbound ranges "
           "excluded\n"
           "  -q, --istio-outbound-ports PORTS     outbound ports always "
           "captured\n"
           "  -o, --istio-local-outbound-ports-exclude PORTS  outbound "
           "ports excluded\n"
           "  -k, --kube-virt-interfaces IFS       inbound treated as "
           "outbound\n"
           "  -c, --istio-exclude-interfaces IFS   interfaces not captured\n"
           "  -t, --istio-inbound-tproxy-mark N    TPROXY mark (1337)\n"
           "  -r, --istio-inbound-tproxy-route-table N  TPROXY table (133)\n"
           "  -n, --dry-run                        print the ruleset, apply "
           "nothing\n"
           "      --dual-stack, --drop-invalid, --skip-rule-apply, "
           "--cleanup-only\n"
           "      --iptables-backend auto|nft|legacy\n"
           "      --log_output_level=default:LEVEL, --log_as_json\n"
           "Environment variables: ENVOY_PORT, INBOUND_CAPTURE_PORT, "
           "PROXY_UID,\n"
           "PROXY_GID, ISTIO_INBOUND_PORTS, ISTIO_SERVICE_CIDR, ... (see "
           "docs/iptables.md)\n";
}
