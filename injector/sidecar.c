/* sidecar.c: the istio-proxy container of Istio's sidecar template
 * (classic mode), rendered as JSON; istio-init is in sidecar_init.c.
 *
 * Field values follow the template exactly (args order, env order, the
 * securityContext of each mode); mizzen differences: the proxy mounts the
 * Citadel-style Secret istio.<sa> at /etc/certs instead of the SDS sockets,
 * and GOMEMLIMIT is not set (the agent is not a Go program). Parts that
 * equal the cached pod's (tmpl.c) are shared from the cache. */
#include "injector/inj_internal.h"
#include "injector/probes.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
nomem(void)
{
    return errmsg_set(RC_NOMEM, "out of memory building the sidecar");
}

/* ---- helpers ---------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* add_metadata_env appends proxyMetadata as env, keys sorted (Go ranges
 * over a map in key order). */
int
inj_metadata_env(json_t *env, const json_t *md, int set)
{
    const char **keys;
    const char *k;
    json_t *v;
    size_t n = 0;
    int rc = 0;

    if (json_object_size(md) == 0)
        return 0;
    keys = mem_calloc(json_object_size(md), sizeof(*keys));
    if (keys == NULL)
        return nomem();
    json_object_foreach((json_t *)md, k, v)
    {
        if (json_is_string(v))
            keys[n++] = k;
    }
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *val = jutil_str(md, keys[i]);
        rc = set ? inj_env_set(env, keys[i], val)
                 : inj_env_add(env, keys[i], val);
    }
    mem_free(keys);
    return rc;
}

/* ---- istio-proxy ------------------------------------------------------ */

static json_t *
proxy_args(const struct inj_ctx *ctx)
{
    const struct inj_params *p = &ctx->p;
    const struct inj_vals *v = &ctx->cfg->v;
    const struct inj_cache *k = ctx->cfg->cache;
    json_t *a; /* owned */
    struct buf b;
    int rc;

    if (k != NULL && inj_same_str(p->proxy_log_level, k->p.proxy_log_level) &&
        inj_same_str(p->component_log_level, k->p.component_log_level) &&
        inj_same_str(p->agent_log_level, k->p.agent_log_level) &&
        p->has_concurrency == k->p.has_concurrency &&
        p->concurrency == k->p.concurrency)
        return json_incref(k->proxy_args);
    a = json_array();
    rc = a ? 0 : RC_NOMEM;

    buf_init(&b, 1 << 20);
    rc = rc ? rc : inj_arr_append_str(a, "proxy");
    rc = rc ? rc : inj_arr_append_str(a, "sidecar");
    rc = rc ? rc : inj_arr_append_str(a, "--domain");
    rc = rc ? rc : buf_addf(&b, "$(POD_NAMESPACE).svc.%s", v->cluster_domain);
    rc = rc ? rc : inj_arr_append_str(a, b.ptr);
    buf_reset(&b);
    rc = rc ? rc : buf_addf(&b, "--proxyLogLevel=%s", p->proxy_log_level);
    rc = rc ? rc : inj_arr_append_str(a, b.ptr);
    buf_reset(&b);
    rc = rc ? rc
            : buf_addf(&b, "--proxyComponentLogLevel=%s",
                       p->component_log_level);
    rc = rc ? rc : inj_arr_append_str(a, b.ptr);
    buf_reset(&b);
    rc = rc ? rc : buf_addf(&b, "--log_output_level=%s", p->agent_log_level);
    rc = rc ? rc : inj_arr_append_str(a, b.ptr);
    if (rc == 0 && v->log_as_json)
        rc = inj_arr_append_str(a, "--log_as_json");
    if (rc == 0 && p->has_concurrency) {
        buf_reset(&b);
        rc = buf_addf(&b, "%lld", p->concurrency);
        rc = rc ? rc : inj_arr_append_pair(a, "--concurrency", b.ptr);
    }
    buf_cleanup(&b);
    if (rc != 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* pod_ports: ISTIO_META_POD_PORTS as Istio's template writes it: "[",
 * then each port as compact JSON in ContainerPort field order on its own
 * line, separated by ",", then "]". */
static int
pod_ports(const struct inj_ctx *ctx, struct buf *out)
{
    static const char *const order[] = {"name", "hostPort", "containerPort",
                                        "protocol", "hostIP"};
    size_t i, j;
    json_t *c, *port;
    int first = 1, rc = buf_addstr(out, "[");

    json_array_foreach(jutil_arr(ctx->spec, "containers"), i, c)
    {
        const char *n = jutil_str(c, "name");
        if (n && strcmp(n, INJ_PROXY_NAME) == 0)
            continue;
        json_array_foreach(jutil_arr(c, "ports"), j, port)
        {
            int none = 1;
            rc = rc ? rc : buf_addstr(out, first ? "\n{" : "\n,{");
            for (size_t k = 0; rc == 0 && k < 5; k++) {
                json_t *f = json_object_get(port, order[k]); /* borrowed */
                if (f == NULL)
                    continue;
                rc = buf_addstrs(out, none ? "\"" : ",\"", order[k],
                                 "\":", NULL);
                rc = rc ? rc : inj_json_write(out, f, 0);
                none = 0;
            }
            rc = rc ? rc : buf_addc(out, '}');
            first = 0;
            if (rc != 0)
                return rc;
        }
    }
    return rc ? rc : buf_addstr(out, "\n]");
}

static int
app_containers(const struct inj_ctx *ctx, struct buf *out)
{
    size_t i;
    json_t *c;
    int first = 1;

    json_array_foreach(jutil_arr(ctx->spec, "containers"), i, c)
    {
        const char *n = jutil_str(c, "name");
        if (n == NULL || strcmp(n, INJ_PROXY_NAME) == 0)
            continue;
        if ((!first && buf_addc(out, ',')) || buf_addstr(out, n))
            return RC_NOMEM;
        first = 0;
    }
    return 0;
}

/* env_put appends {name, value}: the cached entry when it has the same
 * value, else a new one. */
static int
env_put(const struct inj_ctx *ctx, json_t *env, const char *name,
        const char *value)
{
    const struct inj_cache *k = ctx->cfg->cache;
    json_t *e = k ? json_object_get(k->env, name) : NULL; /* borrowed */

    if (e != NULL && inj_same_str(jutil_str(e, "value"), value))
        return inj_append_new(env, json_incref(e));
    return inj_env_add(env, name, value);
}

/* env_ref appends a fieldRef entry (cached when the same). */
static int
env_ref(const struct inj_ctx *ctx, json_t *env, const char *name,
        const char *path)
{
    const struct inj_cache *k = ctx->cfg->cache;
    json_t *e = k ? json_object_get(k->env, name) : NULL; /* borrowed */

    if (e != NULL &&
        inj_same_str(jutil_path_str(e, "valueFrom.fieldRef.fieldPath"), path))
        return inj_append_new(env, json_incref(e));
    return inj_env_field(env, name, path);
}

static const char *
ca_addr(const struct inj_ctx *ctx)
{
    const struct inj_vals *v = &ctx->cfg->v;
    const char *ca = v->ca_address[0]
                         ? v->ca_address
                         : jutil_str(ctx->p.proxy_config, "discoveryAddress");

    return ca ? ca : "";
}

static const char *
cluster_id(const struct inj_ctx *ctx)
{
    const struct inj_vals *v = &ctx->cfg->v;

    return v->cluster_name[0] ? v->cluster_name : "Kubernetes";
}

static int
proxy_env(struct inj_ctx *ctx, json_t *env)
{
    const struct inj_vals *v = &ctx->cfg->v;
    const struct inj_params *p = &ctx->p;
    const struct inj_cache *k = ctx->cfg->cache;
    const char *network = jutil_str(ctx->labels, "topology.istio.io/network");
    const char *wl = jutil_str(ctx->labels, "service.istio.io/workload-name");
    const char *mesh_id = v->mesh_id[0] ? v->mesh_id : v->trust_domain;
    struct buf b;
    char *s = NULL;
    int rc;

    buf_init(&b, 16 << 20);
    rc = v->cert_provider[0]
             ? env_put(ctx, env, "PILOT_CERT_PROVIDER", v->cert_provider)
             : 0;
    rc = rc ? rc : env_put(ctx, env, "CA_ADDR", ca_addr(ctx));
    rc = rc ? rc : env_ref(ctx, env, "POD_NAME", "metadata.name");
    rc = rc ? rc : env_ref(ctx, env, "POD_NAMESPACE", "metadata.namespace");
    rc = rc ? rc : env_ref(ctx, env, "INSTANCE_IP", "status.podIP");
    rc = rc ? rc
            : env_ref(ctx, env, "SERVICE_ACCOUNT", "spec.serviceAccountName");
    rc = rc ? rc : env_ref(ctx, env, "HOST_IP", "status.hostIP");
    if (rc == 0 && k != NULL)
        rc = inj_append_new(
            env, json_incref(json_object_get(k->env, "ISTIO_CPU_LIMIT")));
    else if (rc == 0)
        rc = inj_append_new(env, json_pack("{s:s, s:{s:{s:s, s:s}}}", "name",
                                           "ISTIO_CPU_LIMIT", "valueFrom",
                                           "resourceFieldRef", "resource",
                                           "limits.cpu", "divisor", "1"));
    if (rc == 0 && k != NULL && p->proxy_config == k->p.proxy_config) {
        rc = inj_append_new(
            env, json_incref(json_object_get(k->env, "PROXY_CONFIG")));
    } else if (rc == 0) {
        s = jutil_dumps(p->proxy_config, 0);
        rc = s ? inj_env_add(env, "PROXY_CONFIG", s) : nomem();
        mem_free(s);
    }
    rc = rc ? rc : pod_ports(ctx, &b);
    rc = rc ? rc : inj_env_add(env, "ISTIO_META_POD_PORTS", b.ptr);
    buf_reset(&b);
    rc = rc ? rc : app_containers(ctx, &b);
    rc = rc ? rc
            : inj_env_add(env, "ISTIO_META_APP_CONTAINERS", b.ptr ? b.ptr : "");
    rc = rc ? rc : env_put(ctx, env, "ISTIO_META_CLUSTER_ID", cluster_id(ctx));
    rc = rc ? rc : env_ref(ctx, env, "ISTIO_META_NODE_NAME", "spec.nodeName");
    rc =
        rc ? rc
           : env_put(ctx, env, "ISTIO_META_INTERCEPTION_MODE", p->interception);
    if (rc == 0 && (network ? *network : v->network[0]))
        rc = inj_env_add(env, "ISTIO_META_NETWORK",
                         network ? network : v->network);
    if (rc == 0 && (wl ? *wl : ctx->owner.name[0]))
        rc = inj_env_add(env, "ISTIO_META_WORKLOAD_NAME",
                         wl ? wl : ctx->owner.name);
    buf_reset(&b);
    rc = rc ? rc : inj_owner_uri(ctx, &b);
    if (rc == 0 && b.len > 0)
        rc = inj_env_add(env, "ISTIO_META_OWNER", b.ptr);
    if (rc == 0 && p->bootstrap_override)
        rc = inj_env_add(env, "ISTIO_BOOTSTRAP_OVERRIDE",
                         "/etc/istio/custom-bootstrap/custom_bootstrap.json");
    if (rc == 0 && mesh_id[0])
        rc = env_put(ctx, env, "ISTIO_META_MESH_ID", mesh_id);
    if (rc == 0 && v->trust_domain[0])
        rc = env_put(ctx, env, "TRUST_DOMAIN", v->trust_domain);
    rc = rc ? rc
            : inj_metadata_env(env, jutil_obj(p->proxy_config, "proxyMetadata"),
                               1);
    if (rc == 0 && v->inbound_localhost)
        rc = inj_env_set(env, "REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION",
                         "true");
    if (rc == 0 && ctx->in->env_overrides) {
        const char *key;
        json_t *e;
        json_object_foreach((json_t *)ctx->in->env_overrides, key, e)
        {
            if (rc == 0 && json_is_string(e))
                rc = inj_env_set(env, key, json_string_value(e));
        }
    }
    buf_cleanup(&b);
    return rc == RC_NOMEM || rc == RC_LIMIT
               ? errmsg_set(rc, "%s", "building proxy env")
               : rc;
}

static json_t *
ready_probe(const struct inj_ctx *ctx, int startup)
{
    const struct inj_params *p = &ctx->p;
    const struct inj_cache *k = ctx->cfg->cache;

    if (k != NULL && startup)
        return json_incref(k->startup);
    if (k != NULL && p->readiness_delay == k->p.readiness_delay &&
        p->readiness_period == k->p.readiness_period &&
        p->readiness_threshold == k->p.readiness_threshold)
        return json_incref(k->ready);

    if (startup)
        return json_pack("{s:{s:s, s:i}, s:i, s:i, s:i, s:i}", "httpGet",
                         "path", "/healthz/ready", "port", 15021,
                         "initialDelaySeconds", 0, "periodSeconds", 1,
                         "timeoutSeconds", 3, "failureThreshold",
                         ctx->cfg->v.startup_threshold);
    return json_pack("{s:{s:s, s:i}, s:i, s:i, s:i, s:i}", "httpGet", "path",
                     "/healthz/ready", "port", 15021, "initialDelaySeconds",
                     p->readiness_delay, "periodSeconds", p->readiness_period,
                     "timeoutSeconds", 3, "failureThreshold",
                     p->readiness_threshold);
}

static json_t *
proxy_security(const struct inj_ctx *ctx)
{
    const struct inj_params *p = &ctx->p;
    const struct inj_cache *k = ctx->cfg->cache;
    int priv = ctx->cfg->v.privileged;
    int tproxy = strcmp(p->interception, "TPROXY") == 0;
    json_t *caps, *add = NULL; /* owned */

    if (k != NULL && tproxy == (strcmp(k->p.interception, "TPROXY") == 0) &&
        p->cap_net_bind == k->p.cap_net_bind)
        return json_incref(k->security);

    caps = json_pack("{s:[s]}", "drop", "ALL");
    if (caps && (tproxy || p->cap_net_bind)) {
        add = json_array();
        if (add == NULL || (tproxy && inj_arr_append_str(add, "NET_ADMIN")) ||
            (p->cap_net_bind && inj_arr_append_str(add, "NET_BIND_SERVICE"))) {
            json_decref(add);
            json_decref(caps);
            return NULL;
        }
        /* "add" before "drop", as the template renders it */
        json_t *c2 = json_pack("{s:o, s:O}", "add", add, "drop",
                               json_object_get(caps, "drop"));
        json_decref(caps);
        caps = c2;
    }
    if (caps == NULL)
        return NULL;
    if (tproxy || p->cap_net_bind)
        return json_pack("{s:b, s:o, s:b, s:b, s:i, s:b, s:i}",
                         "allowPrivilegeEscalation", priv, "capabilities", caps,
                         "privileged", priv, "readOnlyRootFilesystem", 1,
                         "runAsGroup", 1337, "runAsNonRoot", 0, "runAsUser", 0);
    return json_pack("{s:b, s:o, s:b, s:b, s:i, s:b, s:i}",
                     "allowPrivilegeEscalation", priv, "capabilities", caps,
                     "privileged", priv, "readOnlyRootFilesystem", 1,
                     "runAsGroup", 1337, "runAsNonRoot", 1, "runAsUser", 1337);
}

static json_t *
proxy_mounts(const struct inj_ctx *ctx)
{
    const struct inj_cache *k = ctx->cfg->cache;
    json_t *m;

    if (k != NULL && !ctx->p.bootstrap_override && !k->p.bootstrap_override &&
        json_object_size(ctx->p.user_mounts) == 0 &&
        json_object_size(k->p.user_mounts) == 0)
        return json_incref(k->mounts);
    m = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s},"
                  " {s:s, s:s, s:b}]",
                  "name", "istiod-ca-cert", "mountPath",
                  "/var/run/secrets/istio", "name", "istio-data", "mountPath",
                  "/var/lib/istio/data", "name", "istio-envoy", "mountPath",
                  "/etc/istio/proxy", "name", "istio-token", "mountPath",
                  "/var/run/secrets/tokens", "name", "istio-podinfo",
                  "mountPath", "/etc/istio/pod", "name", "istio-certs",
                  "mountPath", "/etc/certs", "readOnly", 1); /* owned */
    const char *key;
    json_t *v;

    if (m && ctx->p.bootstrap_override &&
        inj_append_new(m, json_pack("{s:s, s:s}", "name",
                                    "custom-bootstrap-volume", "mountPath",
                                    "/etc/istio/custom-bootstrap")) != 0) {
        json_decref(m);
        return NULL;
    }
    json_object_foreach(ctx->p.user_mounts, key, v)
    {
        json_t *e = json_deep_copy(v); /* owned */
        if (m == NULL || e == NULL ||
            json_object_set_new(e, "name", json_string(key)) != 0 ||
            json_array_append_new(m, e) != 0) {
            json_decref(e);
            json_decref(m);
            return NULL;
        }
    }
    return m;
}

static json_t *
ports(const struct inj_ctx *ctx)
{
    if (ctx->cfg->cache != NULL)
        return json_incref(ctx->cfg->cache->ports);
    return json_pack("[{s:i, s:s, s:s}]", "containerPort", 15090, "protocol",
                     "TCP", "name", "http-envoy-prom");
}

static json_t *
hold_lifecycle(const struct inj_ctx *ctx)
{
    if (ctx->cfg->cache != NULL)
        return json_incref(ctx->cfg->cache->hold_lifecycle);
    return json_pack("{s:{s:{s:[ss]}}}", "postStart", "exec", "command",
                     "pilot-agent", "wait");
}

int
inj_build_proxy(struct inj_ctx *ctx, json_t **out)
{
    const struct inj_vals *v = &ctx->cfg->v;
    const struct inj_params *p = &ctx->p;
    const struct inj_cache *k = ctx->cfg->cache;
    json_t *c = NULL, *env = NULL, *res = NULL; /* owned */
    int rc;

    *out = NULL;
    c = json_pack("{s:s, s:s, s:o}", "name", INJ_PROXY_NAME, "image",
                  p->proxy_image, "args", proxy_args(ctx));
    env = json_array();
    if (c == NULL || env == NULL || json_object_set(c, "env", env) != 0) {
        rc = nomem();
        goto out;
    }
    rc = proxy_env(ctx, env);
    if (rc == 0 && v->pull_policy[0])
        rc = inj_set_str(c, "imagePullPolicy", v->pull_policy);
    rc = rc ? rc : inj_set_new(c, "ports", ports(ctx));
    if (rc == 0 && v->lifecycle)
        rc = inj_set_new(c, "lifecycle",
                         k ? json_incref(k->lifecycle)
                           : json_deep_copy(v->lifecycle));
    else if (rc == 0 && p->hold)
        rc = inj_set_new(c, "lifecycle", hold_lifecycle(ctx));
    if (rc == 0 && p->status_port != 0) {
        rc = inj_set_new(c, "readinessProbe", ready_probe(ctx, 0));
        if (rc == 0 && v->startup_enabled)
            rc = inj_set_new(c, "startupProbe", ready_probe(ctx, 1));
    }
    rc = rc ? rc : inj_resources(ctx, &res);
    if (rc == 0 && res != NULL)
        rc = inj_set_new(c, "resources", json_incref(res));
    rc = rc ? rc : inj_set_new(c, "securityContext", proxy_security(ctx));
    rc = rc ? rc : inj_set_new(c, "volumeMounts", proxy_mounts(ctx));
out:
    json_decref(res);
    json_decref(env);
    if (rc != 0) {
        json_decref(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* cache_env: the proxy env entries of the cached pod that do not depend
 * on the pod itself, by name. */
static int
cache_env(struct inj_ctx *ctx, struct inj_cache *c)
{
    const struct inj_vals *v = &ctx->cfg->v;
    const char *mesh_id = v->mesh_id[0] ? v->mesh_id : v->trust_domain;
    json_t *env = json_array(); /* owned */
    size_t i;
    json_t *e;
    char *s = jutil_dumps(ctx->p.proxy_config, 0);
    int rc = env && s ? 0 : RC_NOMEM;

    c->env = json_object();
    rc = rc || c->env == NULL ? RC_NOMEM : 0;
    rc = rc ? rc : inj_env_add(env, "PILOT_CERT_PROVIDER", v->cert_provider);
    rc = rc ? rc : inj_env_add(env, "CA_ADDR", ca_addr(ctx));
    rc = rc ? rc : inj_env_field(env, "POD_NAME", "metadata.name");
    rc = rc ? rc : inj_env_field(env, "POD_NAMESPACE", "metadata.namespace");
    rc = rc ? rc : inj_env_field(env, "INSTANCE_IP", "status.podIP");
    rc = rc ? rc
            : inj_env_field(env, "SERVICE_ACCOUNT", "spec.serviceAccountName");
    rc = rc ? rc : inj_env_field(env, "HOST_IP", "status.hostIP");
    rc = rc ? rc
            : inj_append_new(env, json_pack("{s:s, s:{s:{s:s, s:s}}}", "name",
                                            "ISTIO_CPU_LIMIT", "valueFrom",
                                            "resourceFieldRef", "resource",
                                            "limits.cpu", "divisor", "1"));
    rc = rc ? rc : inj_env_add(env, "PROXY_CONFIG", s);
    rc = rc ? rc : inj_env_add(env, "ISTIO_META_CLUSTER_ID", cluster_id(ctx));
    rc = rc ? rc : inj_env_field(env, "ISTIO_META_NODE_NAME", "spec.nodeName");
    rc = rc ? rc
            : inj_env_add(env, "ISTIO_META_INTERCEPTION_MODE",
                          ctx->p.interception);
    rc = rc ? rc : inj_env_add(env, "ISTIO_META_MESH_ID", mesh_id);
    rc = rc ? rc : inj_env_add(env, "TRUST_DOMAIN", v->trust_domain);
    json_array_foreach(env, i, e)
    {
        if (rc == 0 && json_object_set(c->env, jutil_str(e, "name"), e) != 0)
            rc = RC_NOMEM;
    }
    mem_free(s);
    json_decref(env);
    return rc ? nomem() : 0;
}

/* inj_sidecar_cache fills the container parts of the cache for ctx (a pod
 * without annotations, ctx->cfg->cache still NULL). */
int
inj_sidecar_cache(struct inj_ctx *ctx, struct inj_cache *c)
{
    const struct inj_vals *v = &ctx->cfg->v;
    int rc = 0;

    if (strcmp(ctx->p.interception, "NONE") != 0)
        rc = inj_build_init(ctx, &c->init);
    rc = rc ? rc : inj_resources(ctx, &c->resources);
    rc = rc ? rc : cache_env(ctx, c);
    if (rc != 0)
        return rc;
    c->proxy_args = proxy_args(ctx);
    c->ready = ready_probe(ctx, 0);
    c->startup = ready_probe(ctx, 1);
    c->security = proxy_security(ctx);
    c->mounts = proxy_mounts(ctx);
    c->ports = ports(ctx);
    c->hold_lifecycle = hold_lifecycle(ctx);
    if (v->lifecycle != NULL &&
        (c->lifecycle = json_deep_copy(v->lifecycle)) == NULL)
        return nomem();
    if (!c->proxy_args || !c->ready || !c->startup || !c->security ||
        !c->mounts || !c->ports || !c->hold_lifecycle)
        return nomem();
    return 0;
}

/* inj_proxy_add_late_env: what Istio adds after rendering: the app probers
 * (keys sorted) and the app's Prometheus annotations. */
int
inj_proxy_add_late_env(struct inj_ctx *ctx, json_t *proxy, const char *prom_env)
{
    json_t *env = jutil_arr(proxy, "env"); /* borrowed */
    char *s;
    int rc = 0;

    if (env == NULL) {
        env = json_array();
        if (env == NULL || json_object_set_new(proxy, "env", env) != 0)
            return nomem();
    }
    if (json_object_size(ctx->probers) > 0) {
        s = NULL;
        if (inj_probes_env(ctx->probers, &s) != 0)
            s = NULL;
        rc = s ? inj_env_set(env, INJ_PROBERS_ENV, s) : nomem();
        mem_free(s);
    }
    if (rc == 0 && prom_env != NULL)
        rc = inj_env_set(env, INJ_PROM_ENV, prom_env);
    return rc;
}
