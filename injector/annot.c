/* annot.c: validation of the injection annotations and resolution of the
 * per-pod parameters (annotation, else proxy config, else values).
 *
 * Validation follows Istio's validate.go through injector/validate.h; every
 * invalid annotation is reported, in a fixed order, each as
 *   invalid value '<v>' for annotation '<key>': <detail>
 * joined with "; ", and the pod is refused with RC_INVAL. */
#include "injector/inj_internal.h"
#include "injector/validate.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "lib/yamljson.h"

#include <stdio.h>
#include <string.h>

#define A_INTERCEPTION "sidecar.istio.io/interceptionMode"
#define A_INC_IPS "traffic.sidecar.istio.io/includeOutboundIPRanges"
#define A_EXC_IPS "traffic.sidecar.istio.io/excludeOutboundIPRanges"
#define A_INC_IN "traffic.sidecar.istio.io/includeInboundPorts"
#define A_EXC_IN "traffic.sidecar.istio.io/excludeInboundPorts"
#define A_INC_OUT "traffic.sidecar.istio.io/includeOutboundPorts"
#define A_EXC_OUT "traffic.sidecar.istio.io/excludeOutboundPorts"
#define A_EXC_IF "traffic.sidecar.istio.io/excludeInterfaces"
#define A_KUBEVIRT "traffic.sidecar.istio.io/kubevirtInterfaces"
#define A_REROUTE "istio.io/reroute-virtual-interfaces"
#define A_STATUS_PORT "status.sidecar.istio.io/port"
#define A_R_DELAY "readiness.status.sidecar.istio.io/initialDelaySeconds"
#define A_R_PERIOD "readiness.status.sidecar.istio.io/periodSeconds"
#define A_R_THRESH "readiness.status.sidecar.istio.io/failureThreshold"
#define A_R_APPPORTS "readiness.status.sidecar.istio.io/applicationPorts"
#define A_CPU "sidecar.istio.io/proxyCPU"
#define A_MEM "sidecar.istio.io/proxyMemory"
#define A_CPU_LIMIT "sidecar.istio.io/proxyCPULimit"
#define A_MEM_LIMIT "sidecar.istio.io/proxyMemoryLimit"
#define A_USER_VOL "sidecar.istio.io/userVolume"
#define A_USER_MOUNT "sidecar.istio.io/userVolumeMount"
#define A_TEMPLATES "inject.istio.io/templates"

/* Istio's reserved ports; the status port may only be 15020 of them. */
static const int reserved_ports[] = {15000, 15001, 15004, 15006, 15008,
                                     15009, 15021, 15053, 15090};

int
inj_parse_bool(const char *s, int *out)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(s, t[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, f[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return RC_INVAL;
}

struct errs {
    struct buf b;
    int n;
};

/* add_err records the current errmsg as the detail of an invalid value. */
static int
add_err(struct errs *e, const char *key, const char *val)
{
    int rc;

    if (e->n++ > 0 && buf_addstr(&e->b, "; ") != 0)
        return RC_NOMEM;
    rc = buf_addf(&e->b, "invalid value '%.64s%s' for annotation '%s': %s", val,
                  strlen(val) > 64 ? "..." : "", key, errmsg_get());
    return rc ? RC_NOMEM : 0;
}

static int
star_ports(const char *s)
{
    return inj_val_ports(s, 1);
}
static int
plain_ports(const char *s)
{
    return inj_val_ports(s, 0);
}
static int
star_cidrs(const char *s)
{
    return inj_val_cidrs(s, 1);
}
static int
plain_cidrs(const char *s)
{
    return inj_val_cidrs(s, 0);
}
static int
uint32_val(const char *s)
{
    uint32_t u;
    return inj_val_uint32(s, &u);
}

static int
status_port_val(const char *s)
{
    int port = 0;
    int rc = inj_val_port(s, &port);

    if (rc != 0)
        return rc;
    for (size_t i = 0; i < sizeof(reserved_ports) / sizeof(reserved_ports[0]);
         i++)
        if (port == reserved_ports[i])
            return errmsg_set(RC_INVAL, "port %d is reserved by Istio", port);
    return 0;
}

static int
templates_val(const char *s)
{
    const char *p = s;

    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > 0 && !(n == 7 && memcmp(p, "sidecar", 7) == 0))
            return errmsg_set(RC_INVAL,
                              "only the built-in template 'sidecar' is "
                              "supported");
        if (end == NULL)
            break;
        p = end + 1;
    }
    return 0;
}

static const struct validator {
    const char *key;
    int (*fn)(const char *);
} validators[] = {
    {A_INTERCEPTION, inj_val_interception_mode},
    {A_INC_IPS, star_cidrs},
    {A_EXC_IPS, plain_cidrs},
    {A_INC_IN, star_ports},
    {A_EXC_IN, plain_ports},
    {A_INC_OUT, plain_ports},
    {A_EXC_OUT, plain_ports},
    {A_EXC_IF, inj_val_interfaces},
    {A_KUBEVIRT, inj_val_interfaces},
    {A_REROUTE, inj_val_interfaces},
    {A_STATUS_PORT, status_port_val},
    {A_R_DELAY, uint32_val},
    {A_R_PERIOD, uint32_val},
    {A_R_THRESH, uint32_val},
    {A_R_APPPORTS, star_ports},
    {A_CPU, inj_val_quantity},
    {A_MEM, inj_val_quantity},
    {A_CPU_LIMIT, inj_val_quantity},
    {A_MEM_LIMIT, inj_val_quantity},
    {A_TEMPLATES, templates_val},
};

static const struct yj_limits annot_limits = {
    .max_bytes = 256 << 10,
    .max_depth = 16,
    .max_nodes = 20000,
    .max_alias_nodes = 1000,
    .max_docs = 2,
};

/* parse_obj: an annotation holding a YAML/JSON object ("" is {}). On
 * RC_INVAL/RC_PARSE/RC_LIMIT errmsg has the detail. */
static int
parse_obj(json_t **out, const char *s)
{
    json_t *all = NULL; /* owned */
    int rc;

    *out = NULL;
    rc = yj_load_all(&all, s, strlen(s), &annot_limits);
    if (rc != 0)
        return rc;
    if (json_array_size(all) > 1) {
        json_decref(all);
        return errmsg_set(RC_INVAL, "expected one document");
    }
    *out = json_array_size(all) ? json_incref(json_array_get(all, 0))
                                : json_object();
    json_decref(all);
    if (*out == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return errmsg_set(RC_INVAL, "expected an object");
    }
    return 0;
}

static int
reserved_volume(const char *name)
{
    static const char *const own[] = {"istio-envoy",
                                      "istio-data",
                                      "istio-podinfo",
                                      "istio-token",
                                      "istiod-ca-cert",
                                      "istio-certs",
                                      "custom-bootstrap-volume"};

    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (strcmp(name, own[i]) == 0)
            return 1;
    return 0;
}

/* user volumes/mounts: an object name -> object */
static int
parse_user(json_t **out, const char *s, int mounts)
{
    const char *k;
    json_t *v;
    int rc = parse_obj(out, s);

    if (rc != 0)
        return rc;
    json_object_foreach(*out, k, v)
    {
        if (!json_is_object(v) || *k == '\0') {
            rc = errmsg_set(RC_INVAL, "'%s': expected an object", k);
            break;
        }
        if (!mounts && reserved_volume(k)) {
            rc = errmsg_set(RC_INVAL, "'%s': the injector owns that volume", k);
            break;
        }
        if (mounts && !json_is_string(json_object_get(v, "mountPath"))) {
            rc = errmsg_set(RC_INVAL, "'%s': mountPath is required", k);
            break;
        }
    }
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static int
validate_all(struct inj_ctx *ctx, json_t **pc_overlay)
{
    const json_t *a = ctx->annots;
    struct errs e;
    const char *v;
    int rc = 0, prc;

    *pc_overlay = NULL;
    buf_init(&e.b, 64 << 10);
    e.n = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(validators) / sizeof(*validators);
         i++) {
        v = jutil_str(a, validators[i].key);
        if (v == NULL)
            continue;
        errmsg_clear();
        prc = validators[i].fn(v);
        if (prc == RC_NOMEM)
            rc = RC_NOMEM;
        else if (prc != 0)
            rc = add_err(&e, validators[i].key, v);
    }
    v = jutil_str(a, INJ_PROXY_CONFIG_ANNOT);
    if (rc == 0 && v != NULL) {
        prc = parse_obj(pc_overlay, v);
        if (prc == 0)
            prc = inj_proxycfg_check(*pc_overlay, NULL);
        if (prc == RC_NOMEM)
            rc = RC_NOMEM;
        else if (prc != 0)
            rc = add_err(&e, INJ_PROXY_CONFIG_ANNOT, v);
    }
    v = jutil_str(a, A_USER_VOL);
    if (rc == 0 && v != NULL) {
        prc = parse_user(&ctx->p.user_volumes, v, 0);
        if (prc == RC_NOMEM)
            rc = RC_NOMEM;
        else if (prc != 0)
            rc = add_err(&e, A_USER_VOL, v);
    }
    v = jutil_str(a, A_USER_MOUNT);
    if (rc == 0 && v != NULL) {
        prc = parse_user(&ctx->p.user_mounts, v, 1);
        if (prc == RC_NOMEM)
            rc = RC_NOMEM;
        else if (prc != 0)
            rc = add_err(&e, A_USER_MOUNT, v);
    }
    if (rc == 0 && e.n > 0)
        rc = errmsg_set(RC_INVAL, "%s", e.b.ptr);
    else if (rc == RC_NOMEM)
        errmsg_set(RC_NOMEM, "out of memory validating annotations");
    buf_cleanup(&e.b);
    if (rc != 0) {
        json_decref(*pc_overlay);
        *pc_overlay = NULL;
    }
    return rc;
}

static const char *
annot_or(const struct inj_ctx *ctx, const char *key, const char *def)
{
    const char *v = inj_annot(ctx, key);
    return v ? v : def;
}

static int
num_or(const struct inj_ctx *ctx, const char *key, int def)
{
    const char *v = inj_annot(ctx, key);
    uint32_t u;

    if (v != NULL && inj_val_uint32(v, &u) == 0 && u <= 0x7fffffff)
        return (int)u;
    return def;
}

/* resolve_image follows the template: sidecar.istio.io/proxyImage only
 * when it contains '/' (else it is ignored), otherwise Istio's ProxyImage:
 * hub/image:tag with sidecar.istio.io/proxyImageType (else global.variant)
 * as the tag suffix; a global.proxy.image with '/' is used as is. */
static int
resolve_image(struct inj_ctx *ctx)
{
    const struct inj_vals *cv = &ctx->cfg->v;
    const char *img = inj_annot(ctx, "sidecar.istio.io/proxyImage");
    const char *type = inj_annot(ctx, "sidecar.istio.io/proxyImageType");

    if (img != NULL && strchr(img, '/') != NULL) {
        ctx->p.proxy_image = img;
        return 0;
    }
    if (type == NULL || strchr(cv->proxy_image_name, '/') != NULL) {
        ctx->p.proxy_image = cv->proxy_image;
        return 0;
    }
    if (inj_image_url(&ctx->p.image_owned, cv->hub, cv->proxy_image_name,
                      cv->tag, type) != 0)
        return RC_NOMEM;
    ctx->p.proxy_image = ctx->p.image_owned;
    return 0;
}

int
inj_params_resolve(struct inj_ctx *ctx)
{
    const struct inj_vals *cv = &ctx->cfg->v;
    struct inj_params *p = &ctx->p;
    json_t *overlay = NULL; /* owned */
    const json_t *pc, *j;
    const char *v;
    int b, rc;

    rc = validate_all(ctx, &overlay);
    if (rc != 0)
        return rc;
    /* without an overlay the mesh default itself (immutable, shared): the
     * template cache recognises it by pointer */
    if (overlay == NULL)
        p->proxy_config = json_incref((json_t *)cv->default_proxy_config);
    else
        rc = inj_proxycfg_merge(&p->proxy_config, cv->default_proxy_config,
                                overlay);
    json_decref(overlay);
    if (rc != 0)
        return rc;
    if (p->proxy_config == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    pc = p->proxy_config;

    p->interception = jutil_str(pc, "interceptionMode");
    if (p->interception == NULL)
        p->interception = "REDIRECT";
    p->interception = annot_or(ctx, A_INTERCEPTION, p->interception);
    p->status_port = cv->status_port;
    v = inj_annot(ctx, A_STATUS_PORT);
    if (v != NULL)
        inj_val_port(v, &p->status_port);
    p->readiness_delay = num_or(ctx, A_R_DELAY, cv->readiness_delay);
    p->readiness_period = num_or(ctx, A_R_PERIOD, cv->readiness_period);
    p->readiness_threshold = num_or(ctx, A_R_THRESH, cv->readiness_threshold);
    p->include_ip_ranges = annot_or(ctx, A_INC_IPS, cv->include_ip_ranges);
    p->exclude_ip_ranges = annot_or(ctx, A_EXC_IPS, cv->exclude_ip_ranges);
    p->include_inbound_ports =
        annot_or(ctx, A_INC_IN, cv->include_inbound_ports);
    p->exclude_inbound_ports =
        annot_or(ctx, A_EXC_IN, cv->exclude_inbound_ports);
    p->include_outbound_ports = annot_or(
        ctx, A_INC_OUT,
        cv->include_outbound_ports[0] ? cv->include_outbound_ports : NULL);
    p->exclude_outbound_ports = annot_or(
        ctx, A_EXC_OUT,
        cv->exclude_outbound_ports[0] ? cv->exclude_outbound_ports : NULL);
    p->reroute_ifaces =
        annot_or(ctx, A_REROUTE, annot_or(ctx, A_KUBEVIRT, NULL));
    p->exclude_ifaces = annot_or(ctx, A_EXC_IF, NULL);
    p->proxy_log_level =
        annot_or(ctx, "sidecar.istio.io/logLevel", cv->proxy_log_level);
    p->component_log_level = annot_or(ctx, "sidecar.istio.io/componentLogLevel",
                                      cv->component_log_level);
    p->agent_log_level =
        annot_or(ctx, "sidecar.istio.io/agentLogLevel", cv->log_level);
    v = annot_or(ctx, "sidecar.istio.io/bootstrapOverride", NULL);
    p->bootstrap_override = v && *v ? v : NULL;
    v = inj_annot(ctx, "sidecar.istio.io/capNetBindService");
    p->cap_net_bind = v ? strcmp(v, "true") == 0 : cv->cap_net_bind;
    j = json_object_get(pc, "holdApplicationUntilProxyStarts");
    p->hold = json_is_boolean(j) ? json_is_true(j) : cv->hold;
    p->rewrite_probes = cv->rewrite_probes;
    v = inj_annot(ctx, "sidecar.istio.io/rewriteAppHTTPProbers");
    if (v != NULL && inj_parse_bool(v, &b) == 0)
        p->rewrite_probes = b;
    p->prom_merge = cv->prom_merge;
    j = json_object_get(pc, "concurrency");
    p->has_concurrency = json_is_integer(j);
    p->concurrency = json_is_integer(j) ? json_integer_value(j) : 0;
    p->cpu = inj_annot(ctx, A_CPU);
    p->mem = inj_annot(ctx, A_MEM);
    p->cpu_limit = inj_annot(ctx, A_CPU_LIMIT);
    p->mem_limit = inj_annot(ctx, A_MEM_LIMIT);
    return resolve_image(ctx);
}

void
inj_params_cleanup(struct inj_params *p)
{
    json_decref(p->proxy_config);
    json_decref(p->user_volumes);
    json_decref(p->user_mounts);
    mem_free(p->image_owned);
    memset(p, 0, sizeof(*p));
}
