/* injector.c: inj_pod_inject, the pipeline of one injection.
 *
 *   decide -> shape check -> working copy -> strip an old injection -> resolve
 *   annotations -> owner -> take user overrides -> istio-init, istio-proxy,
 *   volumes, pull secrets -> Prometheus merge -> probe rewriting -> late
 *   env -> overrides -> placement -> labels/annotations -> status -> patch.
 *
 * The caller's pod is never touched: the working copy shares its values
 * and copies on write (inj_cow); on any failure everything built is
 * released and *res stays zeroed. */
#include "injector/inj_internal.h"
#include "injector/probes.h"
#include "injector/prom.h"
#include "lib/errmsg.h"
#include "lib/jpatch.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
#include <string.h>

static int
str_map(const json_t *v, const char *what)
{
    const char *k;
    json_t *e;

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return errmsg_set(RC_INVAL, "%s: expected an object", what);
    json_object_foreach((json_t *)v, k, e)
    {
        if (!json_is_string(e))
            return errmsg_set(RC_INVAL, "%s.%s: expected a string", what, k);
    }
    return 0;
}

/* named_list: an optional list of objects with unique non-empty names;
 * `seen` collects names across lists (containers and init containers
 * share one name space). */
static int
named_list(const json_t *spec, const char *key, json_t *seen)
{
    const json_t *a = json_object_get(spec, key);
    size_t i;
    json_t *e;

    if (a == NULL || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return errmsg_set(RC_INVAL, "spec.%s: expected a list", key);
    json_array_foreach(a, i, e)
    {
        const char *n = jutil_str(e, "name");
        if (n == NULL || *n == '\0')
            return errmsg_set(RC_INVAL, "spec.%s[%zu]: a name is required", key,
                              i);
        if (json_object_get(seen, n) != NULL)
            return errmsg_set(RC_INVAL, "spec.%s[%zu]: duplicate name '%s'",
                              key, i, n);
        if (json_object_set_new(seen, n, json_true()) != 0)
            return errmsg_set(RC_NOMEM, "out of memory");
    }
    return 0;
}

/* check_shape refuses what the API server would never send and what the
 * injector could not treat consistently. */
static int
check_shape(const json_t *pod)
{
    const json_t *meta = json_object_get(pod, "metadata");
    const json_t *spec = json_object_get(pod, "spec");
    json_t *seen = NULL; /* owned */
    int rc;

    if (meta != NULL && !json_is_object(meta))
        return errmsg_set(RC_INVAL, "metadata: expected an object");
    rc = str_map(json_object_get(meta, "labels"), "metadata.labels");
    rc = rc ? rc
            : str_map(json_object_get(meta, "annotations"),
                      "metadata.annotations");
    if (rc != 0)
        return rc;
    if (!json_is_object(spec))
        return errmsg_set(RC_INVAL, "spec: a pod spec object is required");
    if (!json_is_array(json_object_get(spec, "containers")))
        return errmsg_set(RC_INVAL, "spec.containers: a list is required");
    seen = json_object();
    if (seen == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    rc = named_list(spec, "containers", seen);
    rc = rc ? rc : named_list(spec, "initContainers", seen);
    json_object_clear(seen);
    rc = rc ? rc : named_list(spec, "volumes", seen);
    json_object_clear(seen);
    rc = rc ? rc : named_list(spec, "imagePullSecrets", seen);
    json_decref(seen);
    return rc;
}

static json_t *
ensure_obj(json_t *parent, const char *key)
{
    json_t *o = jutil_obj_ensure(parent, key);

    if (o == NULL)
        errmsg_set(RC_NOMEM, "out of memory");
    return o;
}

static json_t *
ensure_list(json_t *spec, const char *key)
{
    json_t *a = json_object_get(spec, key);

    if (json_is_array(a))
        return a;
    if (json_object_set_new(spec, key, json_array()) != 0) {
        errmsg_set(RC_NOMEM, "out of memory");
        return NULL;
    }
    return json_object_get(spec, key);
}

/* working_copy: the pod the pipeline edits. It shares every value with the
 * caller's pod except the objects and lists the pipeline edits, which are
 * shallow copies: the root, metadata with its labels and annotations, spec
 * with its four named lists. Containers are made private where they are
 * edited (probes.c, strip.c). Far cheaper than a deep copy, and the patch
 * skips every shared subtree by pointer. */
static int
working_copy(const json_t *pod, json_t **out)
{
    static const char *const lists[] = {"containers", "initContainers",
                                        "volumes", "imagePullSecrets"};
    json_t *w = inj_shallow_copy(pod); /* owned */
    json_t *meta = NULL, *spec = NULL, *x;
    int rc = w ? 0 : errmsg_set(RC_NOMEM, "out of memory copying the pod");

    rc = rc ? rc : inj_cow(w, "metadata", &meta);
    if (rc == 0 && json_is_object(meta)) {
        rc = inj_cow(meta, "labels", &x);
        rc = rc ? rc : inj_cow(meta, "annotations", &x);
    }
    rc = rc ? rc : inj_cow(w, "spec", &spec);
    for (size_t i = 0; rc == 0 && json_is_object(spec) && i < 4; i++)
        rc = inj_cow(spec, lists[i], &x);
    if (rc != 0) {
        json_decref(w);
        return rc;
    }
    *out = w;
    return 0;
}

static void
ctx_cleanup(struct inj_ctx *ctx)
{
    inj_params_cleanup(&ctx->p);
    json_decref(ctx->overrides);
    json_decref(ctx->probers);
    json_decref(ctx->pod);
    memset(ctx, 0, sizeof(*ctx));
}

static const char *
pod_namespace(const struct inj_input *in)
{
    const char *ns = jutil_path_str(in->pod, "metadata.namespace");

    if (ns != NULL && *ns != '\0')
        return ns;
    return in->ns ? in->ns : "";
}

struct names {
    json_t *init, *cont, *vols, *secrets; /* owned arrays */
};

static int
add_containers(struct inj_ctx *ctx, struct names *nm)
{
    json_t *init = NULL, *proxy = NULL; /* owned */
    json_t *arr, *user;
    char *prom_env = NULL;
    int rc = 0;

    if (strcmp(ctx->p.interception, "NONE") != 0) {
        rc = inj_build_init(ctx, &init);
        user = json_array_get(jutil_arr(ctx->overrides, "initContainers"), 0);
        if (rc == 0 && user != NULL) {
            /* the built container may be the cached one: merge into a
             * private copy */
            json_t *own = inj_shallow_copy(init); /* owned */
            json_decref(init);
            init = own;
            rc = init ? inj_apply_override(init, user)
                      : errmsg_set(RC_NOMEM, "out of memory");
        }
        arr = rc ? NULL : ensure_list(ctx->spec, "initContainers");
        if (rc == 0 && (arr == NULL || json_array_append(arr, init) != 0 ||
                        inj_arr_append_str(nm->init, INJ_INIT_NAME) != 0))
            rc = errmsg_set(RC_NOMEM, "out of memory");
    }
    rc = rc ? rc : inj_build_proxy(ctx, &proxy);
    rc = rc ? rc : inj_add_volumes(ctx, nm->vols);
    rc = rc ? rc : inj_add_pull_secrets(ctx, nm->secrets);
    /* The merged metrics port is the mesh-wide status port (values), not
     * the pod's status.sidecar.istio.io/port, as in Istio. */
    rc = rc ? rc
            : inj_prom_merge(ctx->annots, ctx->p.prom_merge,
                             ctx->cfg->v.status_port, &prom_env);
    if (rc == 0 && ctx->p.rewrite_probes && ctx->p.status_port != 0) {
        static const char *const skip[] = {INJ_PROXY_NAME, INJ_INIT_NAME, NULL};
        rc = inj_probes_rewrite(ctx->spec, skip, ctx->p.status_port,
                                ctx->probers);
        if (rc != 0)
            rc = errmsg_set(rc, "out of memory rewriting probes");
    } else if (rc == 0) {
        json_object_clear(ctx->probers);
    }
    rc = rc ? rc : inj_proxy_add_late_env(ctx, proxy, prom_env);
    user = json_array_get(jutil_arr(ctx->overrides, "containers"), 0);
    if (rc == 0 && user != NULL)
        rc = inj_apply_override(proxy, user);
    arr = rc ? NULL : jutil_arr(ctx->spec, "containers");
    if (rc == 0 && ((ctx->p.hold ? json_array_insert(arr, 0, proxy)
                                 : json_array_append(arr, proxy)) != 0 ||
                    inj_arr_append_str(nm->cont, INJ_PROXY_NAME) != 0))
        rc = errmsg_set(RC_NOMEM, "out of memory");
    mem_free(prom_env);
    json_decref(proxy);
    json_decref(init);
    return rc;
}

static int
add_annotations(struct inj_ctx *ctx, struct names *nm)
{
    char *status = NULL;
    const char *k;
    json_t *v;
    int rc;

    const struct inj_cache *kc = ctx->cfg->cache;

    rc = inj_add_metadata(ctx);
    rc = rc ? rc : inj_overrides_annotate(ctx);
    if (rc == 0 && kc != NULL && json_equal(nm->init, kc->names[0]) &&
        json_equal(nm->cont, kc->names[1]) &&
        json_equal(nm->vols, kc->names[2]) &&
        json_equal(nm->secrets, kc->names[3]))
        rc = inj_set_str(ctx->annots, INJ_STATUS_ANNOT, kc->status);
    else if (rc == 0)
        rc = inj_status_string(nm->init, nm->cont, nm->vols, nm->secrets,
                               ctx->cfg->v.revision, &status);
    if (rc == 0 && status != NULL)
        rc = inj_set_str(ctx->annots, INJ_STATUS_ANNOT, status);
    mem_free(status);
    json_object_foreach((json_t *)ctx->cfg->injected_annotations, k, v)
    {
        if (rc == 0)
            rc = inj_set_str(ctx->annots, k, json_string_value(v));
    }
    return rc;
}

/* check_reserved_names: after the user's overrides are taken out, an
 * injected name left in the other list would clash with the template's
 * container (a native istio-proxy among init containers: classic mode
 * only). */
static int
check_reserved_names(const struct inj_ctx *ctx)
{
    if (inj_arr_find(jutil_arr(ctx->spec, "initContainers"), INJ_PROXY_NAME,
                     NULL))
        return errmsg_set(RC_INVAL,
                          "spec.initContainers: '%s' is the injected "
                          "sidecar's name (native sidecars are not "
                          "supported)",
                          INJ_PROXY_NAME);
    if (inj_arr_find(jutil_arr(ctx->spec, "containers"), INJ_INIT_NAME, NULL))
        return errmsg_set(RC_INVAL,
                          "spec.containers: '%s' is the injected init "
                          "container's name",
                          INJ_INIT_NAME);
    return 0;
}

static int
run(struct inj_ctx *ctx)
{
    struct names nm = {json_array(), json_array(), json_array(), json_array()};
    json_t *meta;
    int rc = 0;

    if (!nm.init || !nm.cont || !nm.vols || !nm.secrets)
        rc = errmsg_set(RC_NOMEM, "out of memory");
    meta = rc ? NULL : ensure_obj(ctx->pod, "metadata");
    ctx->meta = meta;
    ctx->labels = meta ? ensure_obj(meta, "labels") : NULL;
    ctx->annots = ctx->labels ? ensure_obj(meta, "annotations") : NULL;
    ctx->spec = json_object_get(ctx->pod, "spec");
    ctx->probers = json_object();
    if (rc == 0 && (!ctx->annots || !ctx->probers))
        rc = errmsg_set(RC_NOMEM, "out of memory");
    rc = rc ? rc : inj_strip(ctx);
    /* the injector owns proxy.istio.io/overrides: rewritten below when the
     * pod declares overrides, else a stale one is dropped */
    if (rc == 0)
        json_object_del(ctx->annots, INJ_OVERRIDES_ANNOT);
    rc = rc ? rc : inj_params_resolve(ctx);
    if (rc == 0)
        inj_owner_resolve(ctx);
    rc = rc ? rc : inj_take_overrides(ctx);
    rc = rc ? rc : check_reserved_names(ctx);
    rc = rc ? rc : add_containers(ctx, &nm);
    rc = rc ? rc : add_annotations(ctx, &nm);
    json_decref(nm.secrets);
    json_decref(nm.vols);
    json_decref(nm.cont);
    json_decref(nm.init);
    return rc;
}

int
inj_pod_inject(const struct inj_config *cfg, const struct inj_input *in,
               struct inj_result *res)
{
    struct inj_ctx ctx;
    json_t *patch = NULL; /* owned */
    char reason[sizeof(res->reason)];
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&ctx, 0, sizeof(ctx));
    if (cfg == NULL || in == NULL || !json_is_object(in->pod))
        return errmsg_set(RC_INVAL, "pod: expected a JSON object");
    if (in->env_overrides != NULL && !json_is_object(in->env_overrides))
        return errmsg_set(RC_INVAL, "env overrides: expected an object");
    ctx.cfg = cfg;
    ctx.in = in;
    ctx.ns = pod_namespace(in);
    if (!inj_decide(cfg, in->pod, ctx.ns, reason, sizeof(reason))) {
        memcpy(res->reason, reason, sizeof(reason));
        return 0;
    }
    rc = check_shape(in->pod);
    if (rc != 0)
        return rc;
    rc = working_copy(in->pod, &ctx.pod);
    if (rc != 0)
        return rc;
    rc = run(&ctx);
    if (rc == 0 && !in->no_patch) {
        rc = jpatch_diff(&patch, in->pod, ctx.pod);
        if (rc != 0)
            errmsg_prefix(rc, "building the patch");
    }
    if (rc != 0) {
        ctx_cleanup(&ctx);
        return rc;
    }
    res->injected = 1;
    memcpy(res->reason, reason, sizeof(reason));
    res->pod = ctx.pod;
    res->patch = patch;
    ctx.pod = NULL;
    ctx_cleanup(&ctx);
    return 0;
}

void
inj_result_cleanup(struct inj_result *res)
{
    if (res == NULL)
        return;
    json_decref(res->pod);
    json_decref(res->patch);
    memset(res, 0, sizeof(*res));
}
