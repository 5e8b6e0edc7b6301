/* op_opts.c: the operator's settings table, flag/env/mesh parsing
 * (op_opts.h). Every setting is one row of OPTS; a setting's source is
 * remembered so that a lower-precedence source never overrides a higher
 * one. */
#include "operator/op_opts.h"

#include "lib/clock.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum otype {
    T_STR,       /* char * */
    T_DUR,       /* int64_t seconds, >= 0 */
    T_OFFSET,    /* int64_t seconds, any sign */
    T_DURMS,     /* int64_t milliseconds, > 0 */
    T_RATIO,     /* double 0..1 */
    T_WINDOW,    /* struct pki_window */
    T_KEY,       /* int key type */
    T_BOOL,      /* int */
    T_INT,       /* int 1..64 */
    T_LOGFMT,    /* enum log_format */
    T_LOGLVL,    /* enum log_level */
    T_ROOTGRACE, /* ratio ("0.2", "20%") or duration ("8760h") */
    T_TD         /* trust domain: char *, [A-Za-z0-9.-] */
};

struct opt {
    const char *flag; /* without "--" */
    const char *env;  /* NULL: none */
    const char *mesh; /* key in mizzenOperator (or top level, see below) */
    enum otype type;
    size_t off; /* offset in struct op_opts */
    const char *def;
    const char *help;
};

#define OFF(f) offsetof(struct op_opts, f)

/* The mesh key "trustDomain" is read at the top level of the mesh config
 * (Istio's MeshConfig field); the others inside "mizzenOperator". */
static const struct opt OPTS[] = {
    {"kubeconfig", "KUBECONFIG", NULL, T_STR, OFF(kubeconfig), NULL,
     "kubeconfig file (default: in-cluster, then KUBECONFIG, ~/.kube/config)"},
    {"namespace", "POD_NAMESPACE", NULL, T_STR, OFF(ns), "istio-system",
     "control-plane namespace (CA Secrets, webhook Secret, Lease)"},
    {"trust-domain", "MIZZEN_TRUST_DOMAIN", "trustDomain", T_TD,
     OFF(trust_domain), "cluster.local", "SPIFFE trust domain"},
    {"workload-cert-ttl", "MIZZEN_WORKLOAD_CERT_TTL", "workloadCertTTL", T_DUR,
     OFF(workload_ttl), "2160h", "lifetime of workload and webhook certs"},
    {"cert-grace-ratio", "MIZZEN_CERT_GRACE_RATIO", "certGraceRatio", T_RATIO,
     OFF(grace_ratio), "0.5", "renew when less than this share is left"},
    {"cert-min-grace", "MIZZEN_CERT_MIN_GRACE", "certMinGrace", T_DUR,
     OFF(min_grace), "10m", "renew at the latest this long before expiry"},
    {"cert-rotation-window", "MIZZEN_CERT_ROTATION_WINDOW",
     "certRotationWindow", T_WINDOW, OFF(window), "",
     "quiet hours HH:MM-HH:MM (local time per TZ) for non-urgent renewals"},
    {"clock-offset", "MIZZEN_CLOCK_OFFSET", "clockOffset", T_OFFSET,
     OFF(clock_offset), "0", "add this duration to the clock (tests)"},
    {"root-cert-ttl", "MIZZEN_ROOT_CERT_TTL", "rootCertTTL", T_DUR,
     OFF(root_ttl), "87600h", "lifetime of a self-signed root"},
    {"key-algorithm", "MIZZEN_KEY_ALGORITHM", "keyAlgorithm", T_KEY,
     OFF(key_type), "ec-p256", "ec-p256 | ec-p384 | rsa-2048 | rsa-3072"},
    {"root-rotation-grace", "MIZZEN_ROOT_ROTATION_GRACE", "rootRotationGrace",
     T_ROOTGRACE, OFF(root_grace_ratio), "20%",
     "rotate the root when less than this is left (ratio, % or duration)"},
    {"root-rotation-overlap", "MIZZEN_ROOT_ROTATION_OVERLAP",
     "rootRotationOverlap", T_DUR, OFF(root_overlap), "1h",
     "keep the old root published this long after every cert is re-issued"},
    {"leader-elect", "MIZZEN_LEADER_ELECT", NULL, T_BOOL, OFF(leader_elect),
     "true", "elect a leader through a Lease (only the leader writes)"},
    {"lease-name", "MIZZEN_LEASE_NAME", NULL, T_STR, OFF(lease_name),
     "mizzen-operator", "Lease name in the control-plane namespace"},
    {"lease-duration", "MIZZEN_LEASE_DURATION", NULL, T_DURMS,
     OFF(lease_duration_ms), "15s", "Lease duration"},
    {"lease-renew-deadline", "MIZZEN_LEASE_RENEW_DEADLINE", NULL, T_DURMS,
     OFF(renew_deadline_ms), "10s", "leader gives up after this"},
    {"lease-retry-period", "MIZZEN_LEASE_RETRY_PERIOD", NULL, T_DURMS,
     OFF(retry_period_ms), "2s", "renew / retry period"},
    {"log-format", "MIZZEN_LOG_FORMAT", NULL, T_LOGFMT, OFF(log_format),
     "logfmt", "logfmt | json"},
    {"log-level", "MIZZEN_LOG_LEVEL", NULL, T_LOGLVL, OFF(log_level), "info",
     "debug | info | warn | error"},
    {"workers", "MIZZEN_WORKERS", NULL, T_INT, OFF(workers), "2",
     "reconcile threads"},
    {"webhook-service", "MIZZEN_WEBHOOK_SERVICE", NULL, T_STR,
     OFF(webhook_service), "mizzen-webhook",
     "webhook Service (DNS SANs <svc>.<ns>.svc[.cluster.local])"},
    {"webhook-secret", "MIZZEN_WEBHOOK_SECRET", NULL, T_STR,
     OFF(webhook_secret), "mizzen-webhook-certs",
     "Secret for the webhook's serving certificate"},
    {"webhook-config", "MIZZEN_WEBHOOK_CONFIG", NULL, T_STR,
     OFF(webhook_config), "istio-sidecar-injector",
     "MutatingWebhookConfiguration whose caBundle is kept"},
    {"mesh-configmap", "MIZZEN_MESH_CONFIGMAP", NULL, T_STR,
     OFF(mesh_configmap), "istio", "ConfigMap (key mesh) with the mesh config"},
    {"metrics-addr", "MIZZEN_METRICS_ADDR", NULL, T_STR, OFF(metrics_addr),
     NULL, "serve /metrics, /healthz, /readyz on HOST:PORT (off if unset)"},
};

#define NOPTS (sizeof(OPTS) / sizeof(OPTS[0]))

_Static_assert(sizeof(OPTS) / sizeof(OPTS[0]) <= OP_OPT_MAX, "OP_OPT_MAX");

static int
parse_bool(const char *v, int *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
        strcmp(v, "yes") == 0) {
        *out = 1;
        return 0;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
        strcmp(v, "no") == 0) {
        *out = 0;
        return 0;
    }
    return errmsg_set(RC_INVAL, "want true or false, got '%s'", v);
}

static int
parse_ratio(const char *v, double *out)
{
    char *end = NULL;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (end == v || errno != 0 || isnan(d))
        return errmsg_set(RC_INVAL, "want a number, got '%s'", v);
    if (*end == '%') {
        d /= 100.0;
        end++;
    }
    if (*end != 0 || d < 0 || d > 1)
        return errmsg_set(RC_INVAL,
                          "want a ratio in 0..1 or 0%%..100%%, "
                          "got '%s'",
                          v);
    *out = d;
    return 0;
}

static int
check_td(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > 253)
        return errmsg_set(RC_INVAL, "trust domain must be 1..253 bytes");
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '.' && v[i] != '-' &&
            v[i] != '_')
            return errmsg_set(RC_INVAL, "trust domain '%s': bad character", v);
    return 0;
}

/* set_value parses v for row r into o. On failure o is unchanged. */
static int
set_value(struct op_opts *o, const struct opt *r, const char *v)
{
    char *base = (char *)o;
    void *field = base + r->off;
    int64_t s = 0;
    int rc = 0, iv;
    double d;
    struct pki_window w;

    switch (r->type) {
    case T_TD:
        if ((rc = check_td(v)) != 0)
            return rc;
        /* fall through */
    case T_STR: {
        char *copy = mem_strdup(v);
        if (copy == NULL)
            return errmsg_set(RC_NOMEM, "out of memory");
        mem_free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case T_DUR:
    case T_OFFSET:
        if ((rc = clock_parse_duration(&s, v)) != 0)
            return rc;
        if (r->type == T_DUR && s < 0)
            return errmsg_set(RC_INVAL, "negative duration '%s'", v);
        *(int64_t *)field = s;
        return 0;
    case T_DURMS:
        if ((rc = clock_parse_duration_ms(&s, v)) != 0)
            return rc;
        if (s <= 0)
            return errmsg_set(RC_INVAL, "duration must be > 0");
        *(int64_t *)field = s;
        return 0;
    case T_RATIO:
        if ((rc = parse_ratio(v, &d)) != 0)
            return rc;
        *(double *)field = d;
        return 0;
    case T_WINDOW:
        if ((rc = pki_window_parse(&w, v)) != 0)
            return rc;
        *(struct pki_window *)field = w;
        return 0;
    case T_KEY:
        if ((rc = pki_key_type_parse(&iv, v)) != 0)
            return rc;
        *(int *)field = iv;
        return 0;
    case T_BOOL:
        if ((rc = parse_bool(v, &iv)) != 0)
            return rc;
        *(int *)field = iv;
        return 0;
    case T_INT: {
        char *end = NULL;
        long l;
        errno = 0;
        l = strtol(v, &end, 10);
        if (end == v || *end != 0 || errno != 0 || l < 1 || l > 64)
            return errmsg_set(RC_INVAL, "want an integer 1..64, got '%s'", v);
        *(int *)field = (int)l;
        return 0;
    }
    case T_LOGFMT: {
        enum log_format f;
        if ((rc = log_parse_format(v, &f)) != 0)
            return rc;
        *(enum log_format *)field = f;
        return 0;
    }
    case T_LOGLVL: {
        enum log_level l;
        if ((rc = log_parse_level(v, &l)) != 0)
            return rc;
        *(enum log_level *)field = l;
        return 0;
    }
    case T_ROOTGRACE:
        /* a duration has a unit letter; a ratio does not */
        if (strpbrk(v, "hms") != NULL) {
            if ((rc = clock_parse_duration(&s, v)) != 0)
                return rc;
            if (s < 0)
                return errmsg_set(RC_INVAL, "negative duration '%s'", v);
            o->root_grace = s;
            o->root_grace_ratio = 0;
            return 0;
        }
        if ((rc = parse_ratio(v, &d)) != 0)
            return rc;
        o->root_grace_ratio = d;
        o->root_grace = 0;
        return 0;
    }
    return errmsg_set(RC_INTERNAL, "unknown option type");
}

int
op_opts_init(struct op_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i < NOPTS; i++) {
        if (OPTS[i].def == NULL)
            continue;
        int rc = set_value(o, &OPTS[i], OPTS[i].def);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void
op_opts_cleanup(struct op_opts *o)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (OPTS[i].type == T_STR || OPTS[i].type == T_TD) {
            char **p = (char **)((char *)o + OPTS[i].off);
            mem_free(*p);
            *p = NULL;
        }
}

static const struct opt *
find_flag(const char *name, size_t n)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(OPTS[i].flag) == n && strncmp(OPTS[i].flag, name, n) == 0)
            return &OPTS[i];
    return NULL;
}

int
op_opts_parse(struct op_opts *o, int argc, char **argv, op_getenv_fn getenv_fn)
{
    int rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq, *v;
        const struct opt *r;
        size_t n;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strncmp(a, "--", 2) != 0)
            return errmsg_set(RC_INVAL, "unexpected argument '%s'", a);
        a += 2;
        eq = strchr(a, '=');
        n = eq ? (size_t)(eq - a) : strlen(a);
        r = find_flag(a, n);
        if (r == NULL)
            return errmsg_set(RC_INVAL, "unknown flag --%.*s", (int)n, a);
        if (eq != NULL) {
            v = eq + 1;
        } else if (r->type == T_BOOL &&
                   (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0 ||
                    parse_bool(argv[i + 1], &(int){0}) != 0)) {
            v = "true"; /* bare boolean flag */
        } else {
            if (i + 1 >= argc)
                return errmsg_set(RC_INVAL, "flag --%s needs a value", r->flag);
            v = argv[++i];
        }
        if ((rc = set_value(o, r, v)) != 0)
            return errmsg_prefix(rc, "--%s", r->flag);
        o->src[r - OPTS] = OP_SRC_FLAG;
    }
    for (size_t i = 0; i < NOPTS; i++) {
        const char *v;
        if (OPTS[i].env == NULL || o->src[i] == OP_SRC_FLAG)
            continue;
        v = getenv_fn ? getenv_fn(OPTS[i].env) : getenv(OPTS[i].env);
        if (v == NULL || *v == 0)
            continue;
        if ((rc = set_value(o, &OPTS[i], v)) != 0)
            return errmsg_prefix(rc, "%s", OPTS[i].env);
        o->src[i] = OP_SRC_ENV;
    }
    return 0;
}

int
op_opts_apply_mesh(struct op_opts *o, const json_t *mesh)
{
    const json_t *block; /* borrowed */
    char num[64];
    int rc;

    if (mesh == NULL || !json_is_object(mesh))
        return 0;
    block = json_object_get(mesh, "mizzenOperator");
    for (size_t i = 0; i < NOPTS; i++) {
        const json_t *v; /* borrowed */
        const char *s;
        if (OPTS[i].mesh == NULL || o->src[i] > OP_SRC_MESH)
            continue;
        if (strcmp(OPTS[i].mesh, "trustDomain") == 0)
            v = json_object_get(mesh, "trustDomain");
        else
            v = json_is_object(block) ? json_object_get(block, OPTS[i].mesh)
                                      : NULL;
        if (v == NULL || json_is_null(v))
            continue;
        if (json_is_string(v)) {
            s = json_string_value(v);
        } else if (json_is_number(v)) {
            snprintf(num, sizeof(num), "%.17g", json_number_value(v));
            s = num;
        } else if (json_is_boolean(v)) {
            s = json_is_true(v) ? "true" : "false";
        } else {
            return errmsg_set(RC_INVAL, "mesh config %s: not a scalar",
                              OPTS[i].mesh);
        }
        if (*s == 0)
            continue;
        if ((rc = set_value(o, &OPTS[i], s)) != 0)
            return errmsg_prefix(rc, "mesh config %s", OPTS[i].mesh);
        o->src[i] = OP_SRC_MESH;
    }
    return 0;
}

const char *
op_opts_usage(void)
{
    static char text[6144];

    if (text[0] == 0) {
        size_t n = 0;
        n += (size_t)snprintf(
            text + n, sizeof(text) - n,
            "usage: mizzen-operator [--kubeconfig FILE] [--namespace NS] "
            "[flags]\n"
            "Each flag may also come from the environment (VAR), or from the "
            "mesh config\n(key; inside `mizzenOperator:`). Precedence: flag > "
            "environment > mesh config > default.\n\n");
        for (size_t i = 0; i < NOPTS && n < sizeof(text); i++)
            n += (size_t)snprintf(
                text + n, sizeof(text) - n,
                "  --%-22s %s\n  %24s default %s; env %s%s%s\n", OPTS[i].flag,
                OPTS[i].help, "",
                OPTS[i].def && *OPTS[i].def ? OPTS[i].def : "(none)",
                OPTS[i].env ? OPTS[i].env : "-", OPTS[i].mesh ? "; mesh " : "",
                OPTS[i].mesh ? OPTS[i].mesh : "");
    }
    return text;
}

void
op_opts_describe(const struct op_opts *o, char *out, size_t cap)
{
    static const char *const srcs[] = {"default", "mesh", "env", "flag"};
    char a[32], b[32], c[32], d[32], e[32], win[32] = "any";

    if (o->window.set)
        snprintf(win, sizeof(win), "%02d:%02d-%02d:%02d",
                 o->window.start_min / 60, o->window.start_min % 60,
                 o->window.end_min / 60, o->window.end_min % 60);
    snprintf(out, cap,
             "ns=%s trust_domain=%s(%s) ttl=%s(%s) grace_ratio=%.3g(%s) "
             "min_grace=%s window=%s(%s) clock_offset=%s root_ttl=%s key=%s "
             "root_grace=%.3g/%llds overlap=%s leader_elect=%d workers=%d",
             o->ns, o->trust_domain, srcs[o->src[2]],
             clock_format_duration(a, sizeof(a), o->workload_ttl),
             srcs[o->src[3]], o->grace_ratio, srcs[o->src[4]],
             clock_format_duration(b, sizeof(b), o->min_grace), win,
             srcs[o->src[6]],
             clock_format_duration(c, sizeof(c), o->clock_offset),
             clock_format_duration(d, sizeof(d), o->root_ttl),
             pki_key_type_name(o->key_type), o->root_grace_ratio,
             (long long)o->root_grace,
             clock_format_duration(e, sizeof(e), o->root_overlap),
             o->leader_elect, o->workers);
}
