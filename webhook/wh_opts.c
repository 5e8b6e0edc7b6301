/* wh_opts.c: flags and environment of mizzen-webhook (see wh_opts.h).
 *
 * One table describes every option: its flag, its variable, its kind and
 * where it lands in struct wh_opts, so --help, the parser and the docs list
 * the same things. */
#include "webhook/wh_opts.h"
#include "lib/errmsg.h"
#include "lib/rc.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind { K_STR, K_PORT, K_SIZE, K_INT, K_DUR, K_LOGFMT, K_LOGLVL };

struct opt {
    const char *flag; /* without the leading "--" */
    const char *env;
    enum kind kind;
    size_t off;
    const char *help;
};

#define OFF(f) offsetof(struct wh_opts, f)

static const struct opt table[] = {
    {"port", "MIZZEN_WEBHOOK_PORT", K_PORT, OFF(port),
     "HTTPS port (default 15017; 0 picks a free one)"},
    {"addr", "MIZZEN_WEBHOOK_ADDR", K_STR, OFF(addr),
     "listen address, numeric IPv4 or IPv6 (default 0.0.0.0)"},
    {"tls-cert", "MIZZEN_WEBHOOK_TLS_CERT", K_STR, OFF(tls_cert),
     "serving certificate chain, PEM (default " WH_DEFAULT_CERT ")"},
    {"tls-key", "MIZZEN_WEBHOOK_TLS_KEY", K_STR, OFF(tls_key),
     "private key of the certificate, PEM (default " WH_DEFAULT_KEY ")"},
    {"tls-priorities", "MIZZEN_WEBHOOK_TLS_PRIORITIES", K_STR,
     OFF(tls_priorities),
     "GnuTLS priority string (default: TLS 1.2+, ECDHE, AEAD only)"},
    {"injector-config", "MIZZEN_WEBHOOK_INJECTOR_CONFIG", K_STR,
     OFF(injector_config),
     "ConfigMap istio-sidecar-injector (object or data), YAML or JSON"},
    {"injector-config-dir", "MIZZEN_WEBHOOK_INJECTOR_CONFIG_DIR", K_STR,
     OFF(injector_config_dir),
     "mounted ConfigMap volume holding files `config` and `values`"},
    {"mesh-config", "MIZZEN_WEBHOOK_MESH_CONFIG", K_STR, OFF(mesh_config),
     "ConfigMap istio (object or data), the mesh config itself, or a "
     "directory holding a file `mesh`"},
    {"max-body", "MIZZEN_WEBHOOK_MAX_BODY", K_SIZE, OFF(max_body),
     "request body limit, e.g. 8Mi (default 8 MiB; over it: 413)"},
    {"threads", "MIZZEN_WEBHOOK_THREADS", K_INT, OFF(threads),
     "server threads (default: one per online CPU)"},
    {"max-connections", "MIZZEN_WEBHOOK_MAX_CONNECTIONS", K_INT, OFF(max_conns),
     "concurrent connections (default 1024)"},
    {"idle-timeout", "MIZZEN_WEBHOOK_IDLE_TIMEOUT", K_DUR, OFF(idle_timeout_s),
     "idle keep-alive connections are closed after this (default 60s)"},
    {"reload-interval", "MIZZEN_WEBHOOK_RELOAD_INTERVAL", K_DUR, OFF(reload_ms),
     "periodic check of config and certificate files besides inotify "
     "(default 2s)"},
    {"drain-timeout", "MIZZEN_WEBHOOK_DRAIN_TIMEOUT", K_DUR, OFF(drain_ms),
     "after a certificate swap, connections on the old certificate are "
     "served up to this long (default 60s)"},
    {"shutdown-timeout", "MIZZEN_WEBHOOK_SHUTDOWN_TIMEOUT", K_DUR,
     OFF(shutdown_ms),
     "on SIGTERM/SIGINT, wait this long for in-flight requests (default 10s)"},
    {"log-format", "MIZZEN_WEBHOOK_LOG_FORMAT", K_LOGFMT, OFF(log_format),
     "logfmt or json (default logfmt)"},
    {"log-level", "MIZZEN_WEBHOOK_LOG_LEVEL", K_LOGLVL, OFF(log_level),
     "debug, info, warn or error (default info)"},
};

#define NOPTS (sizeof(table) / sizeof(table[0]))

void
wh_opts_defaults(struct wh_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->addr = "0.0.0.0";
    o->port = WH_DEFAULT_PORT;
    o->tls_cert = WH_DEFAULT_CERT;
    o->tls_key = WH_DEFAULT_KEY;
    o->tls_priorities = WH_DEFAULT_TLS_PRIORITIES;
    o->max_body = WH_DEFAULT_MAX_BODY;
    o->threads = 0;
    o->max_conns = 1024;
    o->idle_timeout_s = 60;
    o->reload_ms = 2000;
    o->drain_ms = 60000;
    o->shutdown_ms = 10000;
    o->log_format = LOG_FMT_LOGFMT;
    o->log_level = LOG_INFO;
}

int
wh_parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v, mul = 1;

    errno = 0;
    if (s == NULL || *s < '0' || *s > '9')
        return errmsg_set(RC_INVAL, "invalid size '%s'", s ? s : "");
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return errmsg_set(RC_INVAL, "invalid size '%s'", s);
    if (strcmp(end, "") == 0 || strcmp(end, "B") == 0)
        mul = 1;
    else if (strcasecmp(end, "K") == 0 || strcmp(end, "Ki") == 0 ||
             strcasecmp(end, "KB") == 0)
        mul = 1ULL << 10;
    else if (strcasecmp(end, "M") == 0 || strcmp(end, "Mi") == 0 ||
             strcasecmp(end, "MB") == 0)
        mul = 1ULL << 20;
    else if (strcasecmp(end, "G") == 0 || strcmp(end, "Gi") == 0 ||
             strcasecmp(end, "GB") == 0)
        mul = 1ULL << 30;
    else
        return errmsg_set(RC_INVAL, "invalid size '%s'", s);
    if (v > (unsigned long long)SIZE_MAX / mul)
        return errmsg_set(RC_INVAL, "size '%s' is too large", s);
    *out = (size_t)(v * mul);
    return 0;
}

int
wh_parse_duration_ms(const char *s, unsigned *out)
{
    char *end;
    unsigned long long v, mul;

    errno = 0;
    if (s == NULL || *s < '0' || *s > '9')
        return errmsg_set(RC_INVAL, "invalid duration '%s'", s ? s : "");
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return errmsg_set(RC_INVAL, "invalid duration '%s'", s);
    if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "m") == 0)
        mul = 60000;
    else
        return errmsg_set(RC_INVAL, "invalid duration '%s' (use ms, s or m)",
                          s);
    if (v > UINT_MAX / mul)
        return errmsg_set(RC_INVAL, "duration '%s' is too long", s);
    *out = (unsigned)(v * mul);
    return 0;
}

static int
parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    if (s == NULL || *s == '\0')
        return RC_INVAL;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return RC_INVAL;
    *out = v;
    return 0;
}

static int
apply(struct wh_opts *o, const struct opt *t, const char *v, const char *who)
{
    char *base = (char *)o + t->off;
    long n;
    unsigned ms;
    int rc;

    switch (t->kind) {
    case K_STR:
        if (v == NULL)
            return errmsg_set(RC_INVAL, "%s needs a value", who);
        *(const char **)(void *)base = v;
        return 0;
    case K_PORT:
        if (parse_int(v, 0, 65535, &n) != 0)
            return errmsg_set(RC_INVAL, "%s: invalid port '%s'", who,
                              v ? v : "");
        *(int *)(void *)base = (int)n;
        return 0;
    case K_INT:
        if (parse_int(v, 0, 1000000, &n) != 0)
            return errmsg_set(RC_INVAL, "%s: invalid number '%s'", who,
                              v ? v : "");
        *(int *)(void *)base = (int)n;
        return 0;
    case K_SIZE:
        rc = wh_parse_size(v, (size_t *)(void *)base);
        if (rc == 0 && *(size_t *)(void *)base == 0)
            rc = errmsg_set(RC_INVAL, "size must be positive");
        return rc ? errmsg_prefix(rc, "%s", who) : 0;
    case K_DUR:
        rc = wh_parse_duration_ms(v, &ms);
        if (rc != 0)
            return errmsg_prefix(rc, "%s", who);
        /* idle-timeout is held in seconds (what MHD takes) */
        if (t->off == OFF(idle_timeout_s))
            ms = (ms + 999) / 1000;
        *(unsigned *)(void *)base = ms;
        return 0;
    case K_LOGFMT:
        if (v == NULL ||
            log_parse_format(v, (enum log_format *)(void *)base) != 0)
            return errmsg_set(RC_INVAL, "%s: invalid log format '%s'", who,
                              v ? v : "");
        return 0;
    case K_LOGLVL:
        if (v == NULL ||
            log_parse_level(v, (enum log_level *)(void *)base) != 0)
            return errmsg_set(RC_INVAL, "%s: invalid log level '%s'", who,
                              v ? v : "");
        return 0;
    }
    return errmsg_set(RC_INVAL, "%s: unknown option kind", who);
}

int
wh_opts_parse(struct wh_opts *o, int argc, char **argv, wh_getenv_fn env)
{
    int rc;

    for (size_t i = 0; env != NULL && i < NOPTS; i++) {
        const char *v = env(table[i].env);
        if (v == NULL || *v == '\0')
            continue;
        if ((rc = apply(o, &table[i], v, table[i].env)) != 0)
            return rc;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a], *name, *val = NULL, *eq;
        char who[64];
        size_t nlen;
        const struct opt *t = NULL;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            o->help = 1;
            continue;
        }
        if (strcmp(arg, "--version") == 0) {
            o->version = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            return errmsg_set(RC_INVAL, "unexpected argument '%s'", arg);
        name = arg + 2;
        eq = strchr(name, '=');
        nlen = eq ? (size_t)(eq - name) : strlen(name);
        for (size_t i = 0; i < NOPTS; i++) {
            if (strlen(table[i].flag) == nlen &&
                strncmp(table[i].flag, name, nlen) == 0) {
                t = &table[i];
                break;
            }
        }
        if (t == NULL)
            return errmsg_set(RC_INVAL, "unknown flag '%.*s' (see --help)",
                              (int)(nlen + 2), arg);
        if (eq != NULL)
            val = eq + 1;
        else if (a + 1 < argc)
            val = argv[++a];
        else
            return errmsg_set(RC_INVAL, "--%s needs a value", t->flag);
        snprintf(who, sizeof(who), "--%s", t->flag);
        if ((rc = apply(o, t, val, who)) != 0)
            return rc;
    }
    if (o->injector_config != NULL && o->injector_config_dir != NULL)
        return errmsg_set(RC_INVAL, "--injector-config and "
                                    "--injector-config-dir are exclusive");
    return 0;
}

void
wh_opts_usage(FILE *f)
{
    fputs("usage: mizzen-webhook [flags]\n"
          "\n"
          "HTTPS mutating admission webhook: sidecar injection for pods\n"
          "(POST /inject, /inject/cluster/<id>/net/<network>, /healthz,\n"
          "/readyz, /metrics). Files are reloaded when they change.\n"
          "\n"
          "flags (each also read from the environment variable shown):\n",
          f);
    for (size_t i = 0; i < NOPTS; i++)
        fprintf(f, "  --%-21s %s\n  %-23s [%s]\n", table[i].flag, table[i].help,
                "", table[i].env);
    fputs("  --help                  this text\n"
          "  --version               print the version\n",
          f);
}
