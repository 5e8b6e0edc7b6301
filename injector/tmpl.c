/* tmpl.c: the per-configuration cache of template parts (struct
 * inj_cache in inj_internal.h).
 *
 * Built once at load, by running the per-pod builders of sidecar.c and
 * podmeta.c on a pod without annotations: so a cached part is byte for
 * byte what the builder would make, and the builders use it only when the
 * parameters it depends on equal those of that pod. Every cached json_t is
 * immutable from then on and shared into results (json_incref; jansson's
 * reference counts are atomic, so results may outlive the configuration
 * and cross threads). */
#include "injector/inj_internal.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <assert.h>
#include <string.h>

int
inj_same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

void
inj_cache_free(struct inj_cache *c)
{
    if (c == NULL)
        return;
    inj_params_cleanup(&c->p);
    json_decref(c->init);
    json_decref(c->proxy_args);
    json_decref(c->ready);
    json_decref(c->startup);
    json_decref(c->security);
    json_decref(c->mounts);
    json_decref(c->resources);
    json_decref(c->lifecycle);
    json_decref(c->hold_lifecycle);
    json_decref(c->ports);
    json_decref(c->env);
    json_decref(c->volumes);
    for (size_t i = 0; i < 4; i++)
        json_decref(c->names[i]);
    mem_free(c->status);
    mem_free(c);
}

/* status: the status annotation of a pod without annotations, from the
 * names the builders record. */
static int
cache_status(struct inj_config *cfg, struct inj_cache *c)
{
    const json_t *ps = cfg->v.pull_secrets;
    size_t i;
    json_t *e;
    int rc = 0;

    for (i = 0; i < 4; i++) {
        c->names[i] = json_array();
        if (c->names[i] == NULL)
            return RC_NOMEM;
    }
    if (c->init != NULL)
        rc = inj_arr_append_str(c->names[0], INJ_INIT_NAME);
    rc = rc ? rc : inj_arr_append_str(c->names[1], INJ_PROXY_NAME);
    json_array_foreach(c->volumes, i, e)
    {
        if (rc == 0)
            rc = inj_arr_append_str(c->names[2], jutil_str(e, "name"));
    }
    /* istio-certs follows the fixed volumes (see podmeta.c) */
    rc = rc ? rc : inj_arr_append_str(c->names[2], "istio-certs");
    json_array_foreach(ps, i, e)
    {
        const char *n =
            json_is_string(e) ? json_string_value(e) : jutil_str(e, "name");
        if (rc == 0)
            rc = inj_arr_append_str(c->names[3], n);
    }
    return rc ? rc
              : inj_status_string(c->names[0], c->names[1], c->names[2],
                                  c->names[3], cfg->v.revision, &c->status);
}

int
inj_cache_build(struct inj_config *cfg)
{
    struct inj_cache *c = NULL;
    struct inj_ctx ctx;
    int rc;

    assert(cfg->cache == NULL);
    memset(&ctx, 0, sizeof(ctx));
    c = mem_calloc(1, sizeof(*c));
    ctx.cfg = cfg;
    ctx.ns = "";
    ctx.annots = json_object();
    ctx.labels = json_object();
    if (c == NULL || ctx.annots == NULL || ctx.labels == NULL) {
        rc = RC_NOMEM;
        goto out;
    }
    /* a pod without annotations: every parameter at its default */
    rc = inj_params_resolve(&ctx);
    rc = rc ? rc : inj_sidecar_cache(&ctx, c);
    rc = rc ? rc : inj_podmeta_cache(&ctx, c);
    rc = rc ? rc : cache_status(cfg, c);
    if (rc == 0) {
        c->p = ctx.p; /* moved: the cache owns the parameters */
        memset(&ctx.p, 0, sizeof(ctx.p));
        cfg->cache = c;
        c = NULL;
    }
out:
    inj_params_cleanup(&ctx.p);
    json_decref(ctx.labels);
    json_decref(ctx.annots);
    inj_cache_free(c);
    if (rc == RC_NOMEM)
        return errmsg_set(RC_NOMEM, "out of memory preparing the template");
    return rc ? errmsg_prefix(rc, "preparing the template") : 0;
}

/* walk calls fn for v when it is an object or array, then for the objects
 * and arrays inside it. */
static int
walk(const json_t *v, int (*fn)(const json_t *, void *), void *arg, int depth)
{
    int rc;

    if (v == NULL || !(json_is_object(v) || json_is_array(v)) || depth > 64)
        return 0;
    if ((rc = fn(v, arg)) != 0)
        return rc;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((rc = walk(json_array_get(v, i), fn, arg, depth + 1)) != 0)
                return rc;
        return 0;
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if ((rc = walk(x, fn, arg, depth + 1)) != 0)
            return rc;
    }
    return 0;
}

int
inj_config_shared(const struct inj_config *cfg,
                  int (*fn)(const json_t *v, void *arg), void *arg)
{
    const struct inj_cache *c = cfg->cache;
    const json_t *parts[16];
    size_t n = 0;
    int rc;

    if (c == NULL)
        return 0;
    parts[n++] = c->init;
    parts[n++] = c->proxy_args;
    parts[n++] = c->ready;
    parts[n++] = c->startup;
    parts[n++] = c->security;
    parts[n++] = c->mounts;
    parts[n++] = c->resources;
    parts[n++] = c->lifecycle;
    parts[n++] = c->hold_lifecycle;
    parts[n++] = c->ports;
    parts[n++] = c->volumes;
    for (size_t i = 0; i < 4; i++)
        parts[n++] = c->names[i];
    for (size_t i = 0; i < n; i++)
        if ((rc = walk(parts[i], fn, arg, 0)) != 0)
            return rc;
    /* the env map itself is never in a result, its entries are */
    if (c->env != NULL) {
        const char *k;
        json_t *x;
        json_object_foreach(c->env, k, x)
        {
            if ((rc = walk(x, fn, arg, 0)) != 0)
                return rc;
        }
    }
    return 0;
}
