/* ag_opts.c: the option table of mizzen-agent and its parser (ag_opts.h).
 *
 * One row per option: flag, environment variable, PROXY_CONFIG field, kind,
 * the struct field it fills, Istio's default (as text, parsed by the same
 * code as user input) and the help line. Parsing runs in three passes
 * (command line, environment, PROXY_CONFIG); `set[i]` records which rows an
 * earlier pass filled so a later one leaves them alone. */
#include "agent/ag_opts.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_PORT, K_DUR, K_INT, K_BOOL, K_LOGLVL, K_AUTH, K_CONC };
enum scope { S_PROXY, S_WAIT };

struct def {
    const char *flag; /* without the dashes */
    const char *env;  /* NULL: none */
    const char *pcfg; /* PROXY_CONFIG field, NULL: none */
    enum kind kind;
    enum scope scope;
    size_t off;
    const char *dflt;
    const char *help;
};

#define F(field) offsetof(struct ag_opts, field)

static const struct def defs[] = {
    {"envoy-binary", "ENVOY_BINARY", "binaryPath", K_STR, S_PROXY,
     F(envoy_binary), "/usr/local/bin/envoy", "Envoy executable"},
    {"config-dir", "MIZZEN_AGENT_CONFIG_DIR", "configPath", K_STR, S_PROXY,
     F(config_dir), "/etc/istio/proxy", "where envoy-rev<epoch>.json go"},
    {"certs-dir", "MIZZEN_AGENT_CERTS_DIR", NULL, K_STR, S_PROXY, F(certs_dir),
     "/etc/certs", "cert-chain.pem, key.pem, root-cert.pem (watched)"},
    {"pod-info-dir", "MIZZEN_AGENT_POD_INFO_DIR", NULL, K_STR, S_PROXY,
     F(pod_info_dir), "/etc/istio/pod", "downward API labels/annotations"},
    {"bootstrap-override", "ISTIO_BOOTSTRAP_OVERRIDE", NULL, K_STR, S_PROXY,
     F(bootstrap_override), "", "file passed to Envoy as --config-yaml"},
    {"discovery-address", "MIZZEN_AGENT_DISCOVERY_ADDRESS", "discoveryAddress",
     K_STR, S_PROXY, F(discovery_address),
     "mizzen-operator.istio-system.svc:15012", "xDS server host:port"},
    {"xds-san", "MIZZEN_AGENT_XDS_SAN", NULL, K_STR, S_PROXY, F(xds_san), "",
     "SAN of the xDS server (default spiffe://<TRUST_DOMAIN>/ns/"
     "istio-system/sa/mizzen-operator)"},
    {"control-plane-auth", "MIZZEN_AGENT_CONTROL_PLANE_AUTH",
     "controlPlaneAuthPolicy", K_AUTH, S_PROXY, F(xds_mtls), "MUTUAL_TLS",
     "MUTUAL_TLS or NONE (plaintext xDS)"},
    {"domain", "MIZZEN_AGENT_DOMAIN", NULL, K_STR, S_PROXY, F(domain), "",
     "DNS domain (default <ns>.svc.cluster.local)"},
    {"serviceCluster", "MIZZEN_AGENT_SERVICE_CLUSTER", "serviceCluster", K_STR,
     S_PROXY, F(service_cluster), "istio-proxy",
     "node.cluster (istio-proxy: derived from the app label)"},
    {"proxyLogLevel", "MIZZEN_AGENT_PROXY_LOG_LEVEL", NULL, K_STR, S_PROXY,
     F(proxy_log_level), "warning", "Envoy -l"},
    {"proxyComponentLogLevel", "MIZZEN_AGENT_PROXY_COMPONENT_LOG_LEVEL", NULL,
     K_STR, S_PROXY, F(component_log_level), "misc:error",
     "Envoy --component-log-level"},
    {"log_output_level", "MIZZEN_AGENT_LOG_LEVEL", NULL, K_LOGLVL, S_PROXY,
     F(log_level), "default:info", "agent log level (scope:level,...)"},
    {"log_as_json", "MIZZEN_AGENT_LOG_AS_JSON", NULL, K_BOOL, S_PROXY,
     F(log_json), "false", "agent logs as JSON"},
    {"concurrency", "MIZZEN_AGENT_CONCURRENCY", "concurrency", K_CONC, S_PROXY,
     F(concurrency), "", "Envoy worker threads (--concurrency)"},
    {"status-port", "MIZZEN_AGENT_STATUS_PORT", "statusPort", K_PORT, S_PROXY,
     F(status_port), "15020", "agent status server"},
    {"admin-port", "MIZZEN_AGENT_ADMIN_PORT", "proxyAdminPort", K_PORT, S_PROXY,
     F(admin_port), "15000", "Envoy admin (127.0.0.1)"},
    {"envoy-prometheus-port", "MIZZEN_AGENT_ENVOY_PROMETHEUS_PORT", NULL,
     K_PORT, S_PROXY, F(envoy_prom_port), "15090",
     "Envoy stats listener (scraped for the merge)"},
    {"envoy-status-port", "MIZZEN_AGENT_ENVOY_STATUS_PORT", NULL, K_PORT,
     S_PROXY, F(envoy_ready_port), "15021", "Envoy /healthz/ready listener"},
    {"drain-duration", "MIZZEN_AGENT_DRAIN_DURATION",
     "terminationDrainDuration", K_DUR, S_PROXY, F(drain_ms), "5s",
     "SIGTERM: drain inbound this long, then stop Envoy"},
    {"envoy-drain-time", "MIZZEN_AGENT_ENVOY_DRAIN_TIME", "drainDuration",
     K_DUR, S_PROXY, F(envoy_drain_ms), "45s", "Envoy --drain-time-s"},
    {"parent-shutdown-duration", "MIZZEN_AGENT_PARENT_SHUTDOWN_DURATION",
     "parentShutdownDuration", K_DUR, S_PROXY, F(parent_shutdown_ms), "60s",
     "Envoy --parent-shutdown-time-s"},
    {"parent-shutdown-grace", "MIZZEN_AGENT_PARENT_SHUTDOWN_GRACE", NULL, K_DUR,
     S_PROXY, F(parent_grace_ms), "5s",
     "then the agent stops a parent epoch still running"},
    {"stop-grace", "MIZZEN_AGENT_STOP_GRACE", NULL, K_DUR, S_PROXY,
     F(stop_grace_ms), "5s", "SIGTERM to SIGKILL"},
    {"backoff-initial", "MIZZEN_AGENT_BACKOFF_INITIAL", NULL, K_DUR, S_PROXY,
     F(backoff_initial_ms), "1s", "first restart delay after a crash"},
    {"backoff-max", "MIZZEN_AGENT_BACKOFF_MAX", NULL, K_DUR, S_PROXY,
     F(backoff_max_ms), "30s", "restart delay cap (doubling)"},
    {"backoff-reset", "MIZZEN_AGENT_BACKOFF_RESET", NULL, K_DUR, S_PROXY,
     F(backoff_reset_ms), "60s", "uptime after which the delay starts over"},
    {"cert-debounce", "MIZZEN_AGENT_CERT_DEBOUNCE", NULL, K_DUR, S_PROXY,
     F(cert_debounce_ms), "200ms", "quiet time before a cert change counts"},
    {"scrape-timeout", "MIZZEN_AGENT_SCRAPE_TIMEOUT", NULL, K_DUR, S_PROXY,
     F(scrape_timeout_ms), "5s", "per source of /stats/prometheus"},
    {"scrape-max-bytes", "MIZZEN_AGENT_SCRAPE_MAX_BYTES", NULL, K_INT, S_PROXY,
     F(scrape_max_bytes), "8388608", "cap per scraped source"},
    {"ready-timeout", "MIZZEN_AGENT_READY_TIMEOUT", NULL, K_DUR, S_PROXY,
     F(ready_timeout_ms), "1s", "Envoy admin query of /healthz/ready"},
    {"probe-source-address", "MIZZEN_AGENT_PROBE_SOURCE_ADDRESS", NULL, K_STR,
     S_PROXY, F(probe_source), "127.0.0.6",
     "source IPv4 of app probes (\"\": any)"},
    {"url", "MIZZEN_AGENT_WAIT_URL", NULL, K_STR, S_WAIT, F(wait_url),
     "http://127.0.0.1:15021/healthz/ready", "wait: readiness URL"},
    {"timeoutSeconds", "MIZZEN_AGENT_WAIT_TIMEOUT_SECONDS", NULL, K_INT, S_WAIT,
     F(wait_timeout_s), "60", "wait: give up after"},
    {"periodMillis", "MIZZEN_AGENT_WAIT_PERIOD_MILLIS", NULL, K_INT, S_WAIT,
     F(wait_period_ms), "500", "wait: poll period"},
    {"requestTimeoutMillis", "MIZZEN_AGENT_WAIT_REQUEST_TIMEOUT_MILLIS", NULL,
     K_INT, S_WAIT, F(wait_request_timeout_ms), "500", "wait: per request"},
};

#define NDEFS (sizeof defs / sizeof defs[0])

const char *
ag_env_get(char **envp, const char *name)
{
    size_t n = strlen(name);

    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

int
ag_duration_ms(const char *s, long *out)
{
    const char *p = s;
    double total_ms = 0;
    int parts = 0;

    if (s == NULL || *s == '\0')
        return errmsg_set(RC_INVAL, "empty duration");
    while (*p) {
        char *end = NULL;
        double v, mul;

        if (!(*p >= '0' && *p <= '9') && *p != '.')
            return errmsg_set(RC_INVAL, "bad duration '%.64s'", s);
        errno = 0;
        v = strtod(p, &end);
        if (end == p || errno != 0 || v < 0 || v > 1e12)
            return errmsg_set(RC_INVAL, "bad duration '%.64s'", s);
        p = end;
        if (strncmp(p, "ns", 2) == 0) {
            mul = 1e-6;
            p += 2;
        } else if (strncmp(p, "us", 2) == 0) {
            mul = 1e-3;
            p += 2;
        } else if (strncmp(p, "ms", 2) == 0) {
            mul = 1;
            p += 2;
        } else if (*p == 's') {
            mul = 1e3;
            p++;
        } else if (*p == 'm') {
            mul = 60e3;
            p++;
        } else if (*p == 'h') {
            mul = 3600e3;
            p++;
        } else if (*p == '\0' && parts == 0) {
            mul = 1e3; /* a bare number: seconds */
        } else {
            return errmsg_set(RC_INVAL, "bad duration unit in '%.64s'", s);
        }
        total_ms += v * mul;
        parts++;
        if (total_ms > 30.0 * 24 * 3600e3)
            return errmsg_set(RC_INVAL, "duration '%.64s' over 30 days", s);
    }
    *out = (long)total_ms;
    if ((double)*out < total_ms)
        (*out)++;
    return 0;
}

/* level_of maps Istio's --log_output_level ("info", "default:debug",
 * "ads:warn,default:error") to the level of the default scope. */
static int
level_of(const char *s, enum log_level *out)
{
    char tmp[64];
    const char *p = s;
    enum log_level lvl = LOG_INFO;
    int found = 0;

    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        const char *lv = colon ? colon + 1 : p;
        size_t lvn = n - (size_t)(lv - p);
        int scope_default = !colon || ((size_t)(colon - p) == 7 &&
                                       strncmp(p, "default", 7) == 0);
        enum log_level l;

        if (lvn == 0 || lvn >= sizeof tmp)
            return errmsg_set(RC_INVAL, "bad log level '%.64s'", s);
        memcpy(tmp, lv, lvn);
        tmp[lvn] = '\0';
        if (strcmp(tmp, "warning") == 0)
            l = LOG_WARN;
        else if (strcmp(tmp, "none") == 0 || strcmp(tmp, "fatal") == 0)
            l = LOG_OFF;
        else if (log_parse_level(tmp, &l) != 0)
            return errmsg_set(RC_INVAL, "bad log level '%.64s'", s);
        if (scope_default) {
            lvl = l;
            found = 1;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    *out = found ? lvl : LOG_INFO;
    return 0;
}

static int
parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
        return errmsg_set(RC_INVAL, "'%.64s' is not an integer in [%ld, %ld]",
                          s, lo, hi);
    *out = v;
    return 0;
}

static int
parse_bool(const char *s, int *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcmp(s, "t") == 0 ||
        strcmp(s, "TRUE") == 0 || strcmp(s, "True") == 0)
        *out = 1;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 ||
             strcmp(s, "f") == 0 || strcmp(s, "FALSE") == 0 ||
             strcmp(s, "False") == 0)
        *out = 0;
    else
        return errmsg_set(RC_INVAL, "'%.64s' is not a boolean", s);
    return 0;
}

static int
valid_envoy_level(const char *s)
{
    static const char *const lv[] = {"trace",    "debug", "info",
                                     "warning",  "warn",  "error",
                                     "critical", "off",   NULL};

    for (int i = 0; lv[i]; i++)
        if (strcmp(s, lv[i]) == 0)
            return 1;
    return 0;
}

/* set_value parses text s for row d into o. */
static int
set_value(struct ag_opts *o, const struct def *d, const char *s)
{
    char *base = (char *)o;
    long v = 0;
    int rc = 0;

    switch (d->kind) {
    case K_STR: {
        char **slot = (char **)(base + d->off);
        char *copy = NULL;

        if (strlen(s) > 4096)
            return errmsg_set(RC_INVAL, "value longer than 4096 bytes");
        if (strcmp(d->flag, "proxyLogLevel") == 0 && !valid_envoy_level(s))
            return errmsg_set(RC_INVAL, "unknown Envoy log level '%.64s'", s);
        copy = mem_strdup(s);
        if (copy == NULL)
            return errmsg_set(RC_NOMEM, "out of memory");
        mem_free(*slot);
        *slot = copy;
        return 0;
    }
    case K_PORT:
        rc = parse_long(s, 0, 65535, &v);
        if (rc == 0)
            *(int *)(base + d->off) = (int)v;
        return rc;
    case K_DUR:
        rc = ag_duration_ms(s, &v);
        if (rc == 0)
            *(long *)(base + d->off) = v;
        return rc;
    case K_INT:
        rc = parse_long(s, 0, LONG_MAX / 2, &v);
        if (rc == 0)
            *(long *)(base + d->off) = v;
        return rc;
    case K_CONC:
        if (*s == '\0') {
            *(long *)(base + d->off) = -1;
            return 0;
        }
        rc = parse_long(s, 0, 1024, &v);
        if (rc == 0)
            *(long *)(base + d->off) = v;
        return rc;
    case K_BOOL:
        return parse_bool(s, (int *)(base + d->off));
    case K_LOGLVL:
        return level_of(s, (enum log_level *)(base + d->off));
    case K_AUTH:
        if (strcmp(s, "MUTUAL_TLS") == 0)
            *(int *)(base + d->off) = 1;
        else if (strcmp(s, "NONE") == 0)
            *(int *)(base + d->off) = 0;
        else
            return errmsg_set(RC_INVAL, "want MUTUAL_TLS or NONE, not '%.64s'",
                              s);
        return 0;
    }
    return errmsg_set(RC_INTERNAL, "unknown option kind");
}

int
ag_opts_init(struct ag_opts *o)
{
    memset(o, 0, sizeof *o);
    o->concurrency = -1;
    for (size_t i = 0; i < NDEFS; i++) {
        int rc = set_value(o, &defs[i], defs[i].dflt);

        if (rc != 0)
            return errmsg_prefix(rc, "default of --%s", defs[i].flag);
    }
    return 0;
}

void
ag_opts_cleanup(struct ag_opts *o)
{
    char *base = (char *)o;

    for (size_t i = 0; i < NDEFS; i++)
        if (defs[i].kind == K_STR) {
            char **slot = (char **)(base + defs[i].off);

            mem_free(*slot);
            *slot = NULL;
        }
}

static const struct def *
find_flag(const char *name, size_t n, size_t *idx)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (strlen(defs[i].flag) == n && strncmp(defs[i].flag, name, n) == 0) {
            *idx = i;
            return &defs[i];
        }
    return NULL;
}

/* pcfg_text renders a PROXY_CONFIG JSON value as the text set_value
 * parses, into tmp. */
static int
pcfg_text(const struct def *d, const json_t *v, char *tmp, size_t tmpn,
          const char **out)
{
    switch (d->kind) {
    case K_PORT:
    case K_INT:
    case K_CONC:
        if (json_is_object(v)) /* a wrapper written as {"value": N} */
            v = json_object_get(v, "value");
        if (json_is_integer(v)) {
            snprintf(tmp, tmpn, "%lld", (long long)json_integer_value(v));
            *out = tmp;
            return 0;
        }
        if (json_is_string(v)) {
            *out = json_string_value(v);
            return 0;
        }
        return errmsg_set(RC_INVAL, "want an integer");
    default:
        if (json_is_string(v)) {
            *out = json_string_value(v);
            return 0;
        }
        return errmsg_set(RC_INVAL, "want a string");
    }
}

int
ag_opts_apply_proxy_config(struct ag_opts *o, const char *json, size_t len,
                           const unsigned char *set)
{
    struct jutil_limits lim = {1 << 20, 32};
    json_t *doc = NULL; /* owned */
    int rc;

    rc = jutil_parse(&doc, json, len, &lim);
    if (rc != 0)
        return errmsg_prefix(rc, "PROXY_CONFIG");
    if (!json_is_object(doc)) {
        rc = errmsg_set(RC_INVAL, "PROXY_CONFIG: not a JSON object");
        goto out;
    }
    for (size_t i = 0; i < NDEFS; i++) {
        const json_t *v; /* borrowed */
        const char *text = NULL;
        char tmp[32];

        if (defs[i].pcfg == NULL || (set && set[i]))
            continue;
        v = json_object_get(doc, defs[i].pcfg);
        if (v == NULL || json_is_null(v))
            continue;
        rc = pcfg_text(&defs[i], v, tmp, sizeof tmp, &text);
        rc = rc ? rc : set_value(o, &defs[i], text);
        if (rc != 0) {
            rc = errmsg_prefix(rc, "PROXY_CONFIG field %s", defs[i].pcfg);
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

static int
parse_args(struct ag_opts *o, int argc, char **argv, unsigned char *set)
{
    int i = 1;

    if (i < argc && (strcmp(argv[i], "proxy") == 0)) {
        o->cmd = AG_CMD_PROXY;
        i++;
        if (i < argc && strcmp(argv[i], "sidecar") == 0)
            i++;
        else if (i < argc && (strcmp(argv[i], "router") == 0 ||
                              strcmp(argv[i], "waypoint") == 0))
            return errmsg_set(RC_UNSUPPORTED,
                              "proxy type '%.32s' is not supported (only "
                              "sidecar)",
                              argv[i]);
        else
            return errmsg_set(RC_INVAL, "usage: mizzen-agent proxy sidecar "
                                        "[flags]");
    } else if (i < argc && strcmp(argv[i], "wait") == 0) {
        o->cmd = AG_CMD_WAIT;
        i++;
    } else if (i < argc && strcmp(argv[i], "version") == 0) {
        o->cmd = AG_CMD_VERSION;
        i++;
    }
    for (; i < argc; i++) {
        const char *a = argv[i], *name, *eq, *val = NULL;
        const struct def *d;
        size_t idx = 0, n;
        int rc;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 ||
            strcmp(a, "-help") == 0 || strcmp(a, "help") == 0) {
            o->help = 1;
            continue;
        }
        if (a[0] != '-' || a[1] == '\0')
            return errmsg_set(RC_INVAL, "unexpected argument '%.64s'", a);
        name = a + 1 + (a[1] == '-');
        eq = strchr(name, '=');
        n = eq ? (size_t)(eq - name) : strlen(name);
        d = find_flag(name, n, &idx);
        if (d == NULL)
            return errmsg_set(RC_INVAL, "unknown flag '%.64s'", a);
        if ((d->scope == S_WAIT) != (o->cmd == AG_CMD_WAIT))
            return errmsg_set(RC_INVAL,
                              "flag --%s is not valid for this "
                              "command",
                              d->flag);
        if (eq)
            val = eq + 1;
        else if (d->kind == K_BOOL)
            val = "true";
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return errmsg_set(RC_INVAL, "flag --%s needs a value", d->flag);
        rc = set_value(o, d, val);
        if (rc != 0)
            return errmsg_prefix(rc, "flag --%s", d->flag);
        set[idx] = 1;
    }
    return 0;
}

int
ag_opts_parse(struct ag_opts *o, int argc, char **argv, char **envp)
{
    unsigned char set[NDEFS];
    const char *pc;
    int rc;

    memset(set, 0, sizeof set);
    rc = parse_args(o, argc, argv, set);
    if (rc != 0)
        return rc;
    if (o->cmd == AG_CMD_NONE && !o->help)
        return errmsg_set(RC_INVAL, "usage: mizzen-agent proxy sidecar "
                                    "[flags] | wait [flags] | version");
    for (size_t i = 0; i < NDEFS; i++) {
        const char *v;

        if (set[i] || defs[i].env == NULL)
            continue;
        v = ag_env_get(envp, defs[i].env);
        if (v == NULL || (*v == '\0' && defs[i].kind != K_STR))
            continue;
        rc = set_value(o, &defs[i], v);
        if (rc != 0)
            return errmsg_prefix(rc, "environment variable %s", defs[i].env);
        set[i] = 1;
    }
    pc = ag_env_get(envp, "PROXY_CONFIG");
    if (pc != NULL && *pc != '\0' && o->cmd == AG_CMD_PROXY) {
        rc = ag_opts_apply_proxy_config(o, pc, strlen(pc), set);
        if (rc != 0)
            return rc;
    }
    if (o->backoff_initial_ms <= 0)
        o->backoff_initial_ms = 1;
    if (o->backoff_max_ms < o->backoff_initial_ms)
        o->backoff_max_ms = o->backoff_initial_ms;
    if (o->cmd == AG_CMD_PROXY && *o->discovery_address == '\0')
        return errmsg_set(RC_INVAL, "empty discovery address");
    return 0;
}

char *
ag_opts_usage(void)
{
    struct buf b;

    buf_init(&b, 1 << 16);
    buf_addstr(&b, "usage: mizzen-agent proxy sidecar [flags]   run Envoy "
                   "(pilot-agent compatible)\n"
                   "       mizzen-agent wait [flags]            hold until the "
                   "proxy is ready\n"
                   "       mizzen-agent version\n\n"
                   "flags (flag, environment variable, PROXY_CONFIG field, "
                   "default):\n");
    for (size_t i = 0; i < NDEFS; i++) {
        const struct def *d = &defs[i];

        buf_addf(&b, "  --%-26s %s%s\n      env %s%s%s, default \"%s\"\n",
                 d->flag, d->scope == S_WAIT ? "[wait] " : "", d->help,
                 d->env ? d->env : "-", d->pcfg ? ", PROXY_CONFIG." : "",
                 d->pcfg ? d->pcfg : "", d->dflt);
    }
    return buf_take(&b, NULL);
}
