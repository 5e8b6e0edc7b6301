/* config.c: the injector configuration: load, defaults, typing, refcount.
 *
 * A configuration is three JSON documents (`config` and `values` of
 * ConfigMap istio-sidecar-injector, `mesh` of ConfigMap istio), each the
 * built-in default (the shipped manifests/, embedded at build time) with the
 * user's document deep-merged over it: objects merge key by key, anything
 * else (arrays, scalars, null) replaces. Unknown fields are kept and ignored;
 * known fields are type-checked once here and copied into struct inj_vals so
 * that injection never re-validates them. Immutable once built. */
#include "injector/inj_internal.h"
#include "injector/validate.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "lib/yamljson.h"

#include <stdio.h>
#include <string.h>

/* A user document is untrusted text: bounded like every other input. */
static const struct yj_limits doc_limits = {
    .max_bytes = (size_t)4 << 20,
    .max_depth = 32,
    .max_nodes = 200000,
    .max_alias_nodes = 10000,
    .max_docs = 4,
};

static int
only_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return 0;
    return 1;
}

/* parse_text: one YAML/JSON document, or {} for an empty text. */
static int
parse_text(json_t **out, const char *p, size_t n, const char *what)
{
    json_t *all = NULL; /* owned */
    int rc;

    *out = NULL;
    if (only_space(p, n)) {
        *out = json_object();
        return *out ? 0 : errmsg_set(RC_NOMEM, "out of memory");
    }
    rc = yj_load_all(&all, p, n, &doc_limits);
    if (rc != 0)
        return errmsg_prefix(rc, "%s", what);
    if (json_array_size(all) > 1) {
        json_decref(all);
        return errmsg_set(RC_PARSE, "%s: expected one document, got several",
                          what);
    }
    *out = json_array_size(all) ? json_incref(json_array_get(all, 0))
                                : json_object();
    json_decref(all);
    return *out ? 0 : errmsg_set(RC_NOMEM, "out of memory");
}

/* as_doc: a field that holds a document either as text or structured. */
static int
as_doc(json_t **out, const json_t *v, const char *what)
{
    *out = NULL;
    if (json_is_string(v))
        return parse_text(out, json_string_value(v), json_string_length(v),
                          what);
    if (json_is_object(v)) {
        *out = json_incref((json_t *)v);
        return 0;
    }
    if (v == NULL || json_is_null(v)) {
        *out = json_object();
        return *out ? 0 : errmsg_set(RC_NOMEM, "out of memory");
    }
    return errmsg_set(RC_INVAL, "%s: expected a string or an object", what);
}

/* merge_into deep-merges src over dst (dst is owned by the caller). */
static int
merge_into(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v; /* borrowed */

    json_object_foreach((json_t *)src, k, v)
    {
        json_t *d = json_object_get(dst, k); /* borrowed */
        if (json_is_object(d) && json_is_object(v)) {
            if (merge_into(d, v) != 0)
                return RC_NOMEM;
            continue;
        }
        if (json_object_set_new(dst, k, json_deep_copy(v)) != 0)
            return errmsg_set(RC_NOMEM, "out of memory merging '%s'", k);
    }
    return 0;
}

static int
is_configmap(const json_t *v)
{
    return json_is_object(jutil_obj(v, "data")) &&
           (json_object_get(v, "kind") || json_object_get(v, "apiVersion") ||
            json_object_get(v, "metadata"));
}

/* split_injector: injector document -> its `config` and `values`. */
static int
split_injector(const json_t *doc, json_t **config, json_t **values)
{
    const json_t *data = doc; /* borrowed */
    int rc;

    *config = *values = NULL;
    if (!json_is_object(doc))
        return errmsg_set(RC_INVAL, "injector config: expected an object "
                                    "(a ConfigMap or its data)");
    if (is_configmap(doc))
        data = jutil_obj(doc, "data");
    rc = as_doc(config, json_object_get(data, "config"), "config");
    if (rc == 0)
        rc = as_doc(values, json_object_get(data, "values"), "values");
    if (rc != 0) {
        json_decref(*config);
        *config = NULL;
    }
    return rc;
}

/* split_mesh: mesh document -> the mesh config itself. */
static int
split_mesh(const json_t *doc, json_t **mesh)
{
    const json_t *m; /* borrowed */

    *mesh = NULL;
    if (!json_is_object(doc))
        return errmsg_set(RC_INVAL, "mesh config: expected an object");
    if (is_configmap(doc))
        doc = jutil_obj(doc, "data");
    m = json_object_get(doc, "mesh");
    if (m != NULL && !json_object_get(doc, "defaultConfig"))
        return as_doc(mesh, m, "mesh");
    *mesh = json_incref((json_t *)doc);
    return 0;
}

/* defaults: the shipped ConfigMaps, parsed. */
static int
load_defaults(json_t **config, json_t **values, json_t **mesh)
{
    json_t *inj = NULL, *m = NULL; /* owned */
    int rc;

    *config = *values = *mesh = NULL;
    rc = parse_text(&inj, inj_default_injector_yaml,
                    inj_default_injector_yaml_len, "built-in injector config");
    if (rc == 0)
        rc = split_injector(inj, config, values);
    if (rc == 0)
        rc = parse_text(&m, inj_default_mesh_yaml, inj_default_mesh_yaml_len,
                        "built-in mesh config");
    if (rc == 0)
        rc = split_mesh(m, mesh);
    json_decref(m);
    json_decref(inj);
    if (rc != 0) {
        json_decref(*config);
        json_decref(*values);
        *config = *values = NULL;
    }
    return rc;
}

/* ---- typed access ---------------------------------------------------- */

enum ftype { F_STR, F_INT, F_BOOL, F_OBJ, F_ARR, F_PORT, F_STRMAP };

int
inj_int_from(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        long long n = 0;
        if (*s == '\0' || strlen(s) > 12)
            return RC_INVAL;
        for (; *s; s++) {
            if (*s < '0' || *s > '9')
                return RC_INVAL;
            n = n * 10 + (*s - '0');
        }
        *out = n;
        return 0;
    }
    return RC_INVAL;
}

static int
bool_from(const json_t *v, int *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v))
        return inj_parse_bool(json_string_value(v), out);
    return RC_INVAL;
}

/* lookup walks a dotted path; intermediate non-objects are an error. The
 * value is NULL when absent or null. */
static int
lookup(const json_t *root, const char *doc, const char *path, json_t **out)
{
    char seg[128];
    const char *p = path;
    const json_t *cur = root; /* borrowed */

    *out = NULL;
    while (cur != NULL) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof(seg))
            return RC_INVAL;
        memcpy(seg, p, n);
        seg[n] = '\0';
        cur = json_object_get(cur, seg);
        if (cur == NULL || json_is_null(cur))
            return 0;
        if (dot == NULL) {
            *out = (json_t *)cur;
            return 0;
        }
        if (!json_is_object(cur))
            return errmsg_set(RC_INVAL, "%s: %.*s: expected an object", doc,
                              (int)(dot - path), path);
        p = dot + 1;
    }
    return 0;
}

static int
typed(const json_t *root, const char *doc, const char *path, enum ftype t,
      json_t **out)
{
    json_t *v;
    long long n;
    int b;
    int rc = lookup(root, doc, path, &v);

    *out = NULL;
    if (rc != 0 || v == NULL)
        return rc;
    switch (t) {
    case F_STR:
        if (!json_is_string(v))
            return errmsg_set(RC_INVAL, "%s: %s: expected a string", doc, path);
        break;
    case F_INT:
        if (inj_int_from(v, &n) != 0 || n < 0 || n > 0x7fffffff)
            return errmsg_set(
                RC_INVAL, "%s: %s: expected a non-negative integer", doc, path);
        break;
    case F_PORT:
        if (inj_int_from(v, &n) != 0 || n < 0 || n > 65535)
            return errmsg_set(RC_INVAL, "%s: %s: expected a port 0..65535", doc,
                              path);
        break;
    case F_BOOL:
        if (bool_from(v, &b) != 0)
            return errmsg_set(RC_INVAL, "%s: %s: expected a boolean", doc,
                              path);
        break;
    case F_OBJ:
        if (!json_is_object(v))
            return errmsg_set(RC_INVAL, "%s: %s: expected an object", doc,
                              path);
        break;
    case F_STRMAP: {
        const char *k;
        json_t *e;
        if (!json_is_object(v))
            return errmsg_set(RC_INVAL, "%s: %s: expected an object", doc,
                              path);
        json_object_foreach(v, k, e)
        {
            if (!json_is_string(e))
                return errmsg_set(RC_INVAL, "%s: %s.%s: expected a string", doc,
                                  path, k);
        }
        break;
    }
    case F_ARR:
        if (!json_is_array(v))
            return errmsg_set(RC_INVAL, "%s: %s: expected a list", doc, path);
        break;
    }
    *out = v;
    return 0;
}

static int
get_str(const json_t *root, const char *doc, const char *path, const char **out)
{
    json_t *v;
    int rc = typed(root, doc, path, F_STR, &v);

    *out = v ? json_string_value(v) : "";
    return rc;
}

static int
get_int(const json_t *root, const char *doc, const char *path, enum ftype t,
        int def, int *out)
{
    json_t *v;
    long long n = def;
    int rc = typed(root, doc, path, t, &v);

    if (v != NULL)
        inj_int_from(v, &n);
    *out = (int)n;
    return rc;
}

static int
get_bool(const json_t *root, const char *doc, const char *path, int def,
         int *out)
{
    json_t *v;
    int rc = typed(root, doc, path, F_BOOL, &v);

    *out = def;
    if (v != NULL)
        bool_from(v, out);
    return rc;
}

/* A value checked by a validate.h function, named like an annotation
 * error would be. */
static int
check_list(const char *s, const char *path, int (*fn)(const char *, int),
           int star)
{
    int rc = fn(s, star);

    if (rc != 0)
        return errmsg_prefix(rc, "values: %s: invalid value '%s'", path, s);
    return 0;
}

static int
ports_fn(const char *s, int star)
{
    return inj_val_ports(s, star);
}

static int
cidrs_fn(const char *s, int star)
{
    return inj_val_cidrs(s, star);
}

/* image_of: values.global.proxy.image as is when it holds a '/' (the
 * template's `contains "/"`), else Istio's ProxyImage with the variant. */
static int
image_of(struct inj_vals *v)
{
    if (strchr(v->proxy_image_name, '/') != NULL) {
        v->proxy_image = mem_strdup(v->proxy_image_name);
        return v->proxy_image ? 0 : errmsg_set(RC_NOMEM, "out of memory");
    }
    return inj_image_url(&v->proxy_image, v->hub, v->proxy_image_name, v->tag,
                         v->variant);
}

static int
read_values(struct inj_config *c)
{
    const json_t *V = c->values;
    struct inj_vals *v = &c->v;
    const char *d = "values";
    json_t *j;
    int rc = 0;

    rc = rc ? rc : get_str(V, d, "revision", &v->revision);
    rc = rc ? rc : get_str(V, d, "global.hub", &v->hub);
    if (rc == 0) {
        /* Helm renders a numeric tag as a number: accept integers. */
        rc = lookup(V, d, "global.tag", &j);
        if (rc == 0 && j != NULL && !json_is_string(j))
            rc = errmsg_set(RC_INVAL, "values: global.tag: expected a string");
        v->tag = j ? json_string_value(j) : "";
    }
    rc = rc ? rc : get_str(V, d, "global.variant", &v->variant);
    rc = rc ? rc : get_str(V, d, "global.imagePullPolicy", &v->pull_policy);
    rc = rc ? rc : get_str(V, d, "global.meshID", &v->mesh_id);
    rc = rc ? rc : get_str(V, d, "global.network", &v->network);
    rc = rc ? rc : get_str(V, d, "global.caAddress", &v->ca_address);
    rc = rc ? rc : get_str(V, d, "global.pilotCertProvider", &v->cert_provider);
    rc = rc ? rc : get_bool(V, d, "global.logAsJson", 0, &v->log_as_json);
    rc = rc ? rc : get_str(V, d, "global.logging.level", &v->log_level);
    rc =
        rc ? rc
           : get_str(V, d, "global.multiCluster.clusterName", &v->cluster_name);
    rc = rc ? rc : get_str(V, d, "global.sds.token.aud", &v->token_aud);
    rc = rc ? rc : get_str(V, d, "global.proxy.image", &v->proxy_image_name);
    rc = rc ? rc
            : get_str(V, d, "global.proxy.clusterDomain", &v->cluster_domain);
    rc = rc ? rc
            : get_int(V, d, "global.proxy.statusPort", F_PORT, 0,
                      &v->status_port);
    rc = rc ? rc
            : get_str(V, d, "global.proxy.includeIPRanges",
                      &v->include_ip_ranges);
    rc = rc ? rc
            : get_str(V, d, "global.proxy.excludeIPRanges",
                      &v->exclude_ip_ranges);
    rc = rc ? rc
            : get_str(V, d, "global.proxy.includeInboundPorts",
                      &v->include_inbound_ports);
    rc = rc ? rc
            : get_str(V, d, "global.proxy.excludeInboundPorts",
                      &v->exclude_inbound_ports);
    rc = rc ? rc
            : get_str(V, d, "global.proxy.includeOutboundPorts",
                      &v->include_outbound_ports);
    rc = rc ? rc
            : get_str(V, d, "global.proxy.excludeOutboundPorts",
                      &v->exclude_outbound_ports);
    rc = rc ? rc : get_str(V, d, "global.proxy.logLevel", &v->proxy_log_level);
    rc = rc ? rc
            : get_str(V, d, "global.proxy.componentLogLevel",
                      &v->component_log_level);
    rc = rc ? rc : get_bool(V, d, "global.proxy.privileged", 0, &v->privileged);
    rc = rc ? rc
            : get_bool(V, d, "global.proxy.capNetBindService", 0,
                       &v->cap_net_bind);
    rc = rc ? rc
            : get_bool(V, d, "global.proxy.holdApplicationUntilProxyStarts", 0,
                       &v->hold);
    rc = rc ? rc
            : get_int(V, d, "global.proxy.readinessInitialDelaySeconds", F_INT,
                      0, &v->readiness_delay);
    rc = rc ? rc
            : get_int(V, d, "global.proxy.readinessPeriodSeconds", F_INT, 15,
                      &v->readiness_period);
    rc = rc ? rc
            : get_int(V, d, "global.proxy.readinessFailureThreshold", F_INT, 4,
                      &v->readiness_threshold);
    rc = rc ? rc
            : get_bool(V, d, "global.proxy.startupProbe.enabled", 0,
                       &v->startup_enabled);
    rc = rc ? rc
            : get_int(V, d, "global.proxy.startupProbe.failureThreshold", F_INT,
                      600, &v->startup_threshold);
    rc = rc ? rc
            : get_bool(V, d, "sidecarInjectorWebhook.rewriteAppHTTPProbe", 1,
                       &v->rewrite_probes);
    if (rc == 0)
        rc = typed(V, d, "global.proxy.resources", F_OBJ, &j);
    if (rc == 0)
        v->resources = j;
    if (rc == 0)
        rc = typed(V, d, "global.proxy.lifecycle", F_OBJ, &j);
    if (rc == 0)
        v->lifecycle = json_object_size(j) ? j : NULL;
    if (rc == 0)
        rc = typed(V, d, "global.imagePullSecrets", F_ARR, &j);
    if (rc == 0) {
        size_t i;
        json_t *e;
        v->pull_secrets = json_array_size(j) ? j : NULL;
        json_array_foreach(j, i, e)
        {
            if (!json_is_string(e) && !json_is_string(jutil_path(e, "name")))
                return errmsg_set(RC_INVAL,
                                  "values: global.imagePullSecrets[%zu]: "
                                  "expected a name or {name: ...}",
                                  i);
        }
    }
    if (rc != 0)
        return rc;
    rc = check_list(v->include_ip_ranges, "global.proxy.includeIPRanges",
                    cidrs_fn, 1);
    rc = rc ? rc
            : check_list(v->exclude_ip_ranges, "global.proxy.excludeIPRanges",
                         cidrs_fn, 0);
    rc = rc ? rc
            : check_list(v->include_inbound_ports,
                         "global.proxy.includeInboundPorts", ports_fn, 1);
    rc = rc ? rc
            : check_list(v->exclude_inbound_ports,
                         "global.proxy.excludeInboundPorts", ports_fn, 0);
    rc = rc ? rc
            : check_list(v->include_outbound_ports,
                         "global.proxy.includeOutboundPorts", ports_fn, 0);
    rc = rc ? rc
            : check_list(v->exclude_outbound_ports,
                         "global.proxy.excludeOutboundPorts", ports_fn, 0);
    return rc ? rc : image_of(v);
}

static int
read_mesh(struct inj_config *c)
{
    const json_t *M = c->mesh;
    struct inj_vals *v = &c->v;
    const char *d = "mesh";
    const char *mode = "";
    json_t *j;
    int rc;

    rc = typed(M, d, "defaultConfig", F_OBJ, &j);
    if (rc == 0 && j != NULL)
        rc = inj_proxycfg_check(j, "mesh: defaultConfig");
    if (rc != 0)
        return rc;
    v->default_proxy_config = j;
    rc = get_str(M, d, "trustDomain", &v->trust_domain);
    rc = rc ? rc : get_bool(M, d, "enablePrometheusMerge", 1, &v->prom_merge);
    rc = rc ? rc
            : get_int(M, d, "proxyListenPort", F_PORT, 15001, &v->listen_port);
    rc = rc ? rc
            : get_int(M, d, "proxyInboundListenPort", F_PORT, 15006,
                      &v->inbound_listen_port);
    rc = rc ? rc : get_str(M, d, "inboundTrafficPolicy.mode", &mode);
    v->inbound_localhost = strcmp(mode, "LOCALHOST") == 0;
    if (v->listen_port == 0)
        v->listen_port = 15001;
    if (v->inbound_listen_port == 0)
        v->inbound_listen_port = 15006;
    return rc;
}

/* reserved_annotation: keys injectedAnnotations may not set, because
 * injection reads or writes them (re-injection would then not give the
 * same pod). */
static int
reserved_annotation(const char *k)
{
    static const char *const prefixes[] = {
        "sidecar.istio.io/",
        "traffic.sidecar.istio.io/",
        "status.sidecar.istio.io/",
        "readiness.status.sidecar.istio.io/",
        "proxy.istio.io/",
        "inject.istio.io/",
        "prometheus",
        "istio.io/rev",
        "istio.io/reroute-virtual-interfaces",
        "kubectl.kubernetes.io/default-container",
        "kubectl.kubernetes.io/default-logs-container"};

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(k, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

static int
read_config(struct inj_config *c)
{
    const json_t *C = c->config;
    const char *d = "config";
    const char *policy = "";
    json_t *j, *e;
    size_t i;
    int rc;

    rc = get_str(C, d, "policy", &policy);
    if (rc != 0)
        return rc;
    c->policy = strcmp(policy, "enabled") == 0    ? INJ_POLICY_ENABLED
                : strcmp(policy, "disabled") == 0 ? INJ_POLICY_DISABLED
                                                  : INJ_POLICY_OTHER;
    rc = typed(C, d, "neverInjectSelector", F_ARR, &j);
    json_array_foreach(j, i, e)
    {
        char where[64];
        snprintf(where, sizeof(where), "config: neverInjectSelector[%zu]", i);
        if (rc == 0)
            rc = inj_selector_check(e, where);
    }
    c->never_sel = j;
    rc = rc ? rc : typed(C, d, "alwaysInjectSelector", F_ARR, &j);
    json_array_foreach(j, i, e)
    {
        char where[64];
        snprintf(where, sizeof(where), "config: alwaysInjectSelector[%zu]", i);
        if (rc == 0)
            rc = inj_selector_check(e, where);
    }
    c->always_sel = j;
    rc = rc ? rc : typed(C, d, "injectedAnnotations", F_STRMAP, &j);
    c->injected_annotations = j;
    if (rc == 0) {
        const char *k;
        json_object_foreach(j, k, e)
        {
            if (rc == 0 && reserved_annotation(k))
                rc = errmsg_set(RC_INVAL,
                                "config: injectedAnnotations: '%s' is an "
                                "annotation the injector itself reads or "
                                "writes",
                                k);
        }
    }
    rc = rc ? rc : typed(C, d, "defaultTemplates", F_ARR, &j);
    json_array_foreach(j, i, e)
    {
        if (rc == 0 && (!json_is_string(e) ||
                        strcmp(json_string_value(e), "sidecar") != 0))
            rc = errmsg_set(RC_INVAL,
                            "config: defaultTemplates[%zu]: only the "
                            "built-in template 'sidecar' is supported",
                            i);
    }
    return rc;
}

/* build: takes the three user documents (any may be NULL) and makes the
 * configuration. */
static int
build(struct inj_config **out, const json_t *ucfg, const json_t *uvals,
      const json_t *umesh)
{
    struct inj_config *c = NULL;
    int rc;

    *out = NULL;
    c = mem_calloc(1, sizeof(*c));
    if (c == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    atomic_init(&c->refs, 1);
    rc = load_defaults(&c->config, &c->values, &c->mesh);
    if (rc == 0 && ucfg && merge_into(c->config, ucfg) != 0)
        rc = RC_NOMEM;
    if (rc == 0 && uvals && merge_into(c->values, uvals) != 0)
        rc = RC_NOMEM;
    if (rc == 0 && umesh && merge_into(c->mesh, umesh) != 0)
        rc = RC_NOMEM;
    rc = rc ? rc : read_config(c);
    rc = rc ? rc : read_values(c);
    rc = rc ? rc : read_mesh(c);
    rc = rc ? rc : inj_cache_build(c);
    if (rc != 0) {
        inj_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int
inj_config_load(struct inj_config **out, const char *injector_doc,
                size_t injector_len, const char *mesh_doc, size_t mesh_len)
{
    json_t *idoc = NULL, *mdoc = NULL;             /* owned */
    json_t *ucfg = NULL, *uvals = NULL, *m = NULL; /* owned */
    int rc = 0;

    *out = NULL;
    if (injector_doc != NULL) {
        rc = parse_text(&idoc, injector_doc, injector_len, "injector config");
        if (rc == 0)
            rc = split_injector(idoc, &ucfg, &uvals);
    }
    if (rc == 0 && mesh_doc != NULL) {
        rc = parse_text(&mdoc, mesh_doc, mesh_len, "mesh config");
        if (rc == 0)
            rc = split_mesh(mdoc, &m);
    }
    if (rc == 0)
        rc = build(out, ucfg, uvals, m);
    json_decref(m);
    json_decref(uvals);
    json_decref(ucfg);
    json_decref(mdoc);
    json_decref(idoc);
    return rc;
}

int
inj_config_load_parts(struct inj_config **out, const char *config_text,
                      const char *values_text, const char *mesh_text)
{
    json_t *c = NULL, *v = NULL, *m = NULL, *mdoc = NULL; /* owned */
    int rc = 0;

    *out = NULL;
    if (config_text)
        rc = parse_text(&c, config_text, strlen(config_text), "config");
    if (rc == 0 && c && !json_is_object(c))
        rc = errmsg_set(RC_INVAL, "config: expected an object");
    if (rc == 0 && values_text)
        rc = parse_text(&v, values_text, strlen(values_text), "values");
    if (rc == 0 && v && !json_is_object(v))
        rc = errmsg_set(RC_INVAL, "values: expected an object");
    if (rc == 0 && mesh_text)
        rc = parse_text(&mdoc, mesh_text, strlen(mesh_text), "mesh");
    if (rc == 0 && mdoc)
        rc = split_mesh(mdoc, &m);
    if (rc == 0)
        rc = build(out, c, v, m);
    json_decref(mdoc);
    json_decref(m);
    json_decref(v);
    json_decref(c);
    return rc;
}

struct inj_config *
inj_config_ref(struct inj_config *cfg)
{
    if (cfg != NULL)
        atomic_fetch_add(&cfg->refs, 1);
    return cfg;
}

void
inj_config_free(struct inj_config *cfg)
{
    if (cfg == NULL || atomic_fetch_sub(&cfg->refs, 1) != 1)
        return;
    if (cfg->attached_free != NULL)
        cfg->attached_free(cfg->attached);
    inj_cache_free(cfg->cache);
    mem_free(cfg->v.proxy_image);
    json_decref(cfg->mesh);
    json_decref(cfg->values);
    json_decref(cfg->config);
    mem_free(cfg);
}

void
inj_config_attach(struct inj_config *cfg, void *data, void (*free_fn)(void *))
{
    if (cfg->attached_free != NULL)
        cfg->attached_free(cfg->attached);
    cfg->attached = data;
    cfg->attached_free = free_fn;
}

void *
inj_config_attached(const struct inj_config *cfg)
{
    return cfg != NULL ? cfg->attached : NULL;
}

json_t *
inj_config_dump(const struct inj_config *cfg)
{
    /* deep copies: the configuration itself stays immutable */
    return json_pack("{s:o, s:o, s:o}", "config", json_deep_copy(cfg->config),
                     "values", json_deep_copy(cfg->values), "mesh",
                     json_deep_copy(cfg->mesh));
}
