/* override.c: containers the user declared under an injected name
 * (istio-proxy, istio-init), Istio's reapplyOverwrittenContainers.
 *
 * The user's container is taken out of the pod before the template is
 * built, then merged over the template's container: user fields win,
 * `image: auto` keeps the template's image, objects (resources,
 * securityContext, ...) merge key by key, env/volumeMounts/ports merge by
 * their key (name, mountPath, containerPort), other lists replace. The
 * user's original containers are recorded in proxy.istio.io/overrides so
 * that re-injection (strip.c) can put them back. A non-zero
 * securityContext.runAsUser of the user's istio-proxy becomes istio-init's
 * -u (not with TPROXY), as in Istio. The env variables the injector reads
 * back on re-injection (ISTIO_KUBE_APP_PROBERS, ISTIO_PROMETHEUS_ANNOTATIONS)
 * cannot be overridden. */
#include "injector/inj_internal.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <string.h>

static int
nomem(void)
{
    return errmsg_set(RC_NOMEM, "out of memory applying container overrides");
}

static int
take(struct inj_ctx *ctx, const char *list, const char *name)
{
    json_t *arr = jutil_arr(ctx->spec, list); /* borrowed */
    json_t *dst;
    size_t idx;
    json_t *c = inj_arr_find(arr, name, &idx); /* borrowed */

    if (c == NULL)
        return 0;
    if (ctx->overrides == NULL && (ctx->overrides = json_object()) == NULL)
        return nomem();
    dst = json_object_get(ctx->overrides, list);
    if (dst == NULL) {
        dst = json_array();
        if (dst == NULL || json_object_set_new(ctx->overrides, list, dst) != 0)
            return nomem();
    }
    if (json_array_append(dst, c) != 0)
        return nomem();
    json_array_remove(arr, idx);
    return 0;
}

int
inj_take_overrides(struct inj_ctx *ctx)
{
    int rc = take(ctx, "containers", INJ_PROXY_NAME);
    const json_t *c;

    rc = rc ? rc : take(ctx, "initContainers", INJ_INIT_NAME);
    if (rc != 0)
        return rc;
    c = json_array_get(jutil_arr(ctx->overrides, "containers"), 0);
    if (c != NULL) {
        json_t *u = jutil_path(c, "securityContext.runAsUser");
        if (json_is_integer(u) && json_integer_value(u) > 0 &&
            json_integer_value(u) <= 0x7fffffff)
            ctx->user_run_as = (int)json_integer_value(u);
    }
    return 0;
}

static const char *
list_key(const char *field)
{
    if (strcmp(field, "env") == 0)
        return "name";
    if (strcmp(field, "volumeMounts") == 0)
        return "mountPath";
    if (strcmp(field, "ports") == 0)
        return "containerPort";
    return NULL;
}

static int
same_key(const json_t *a, const json_t *b, const char *key)
{
    const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);

    return x != NULL && y != NULL && json_equal((json_t *)x, (json_t *)y);
}

static int merge_obj(json_t *dst, const json_t *src, int top);

static int
merge_list(json_t *dst, const json_t *src, const char *key)
{
    size_t i, j;
    json_t *s, *d;

    json_array_foreach(src, i, s)
    {
        int done = 0;
        const char *n = jutil_str(s, "name");
        /* the injector reads these back on re-injection: its own */
        if (strcmp(key, "name") == 0 && n != NULL &&
            (strcmp(n, INJ_PROBERS_ENV) == 0 || strcmp(n, INJ_PROM_ENV) == 0))
            continue;
        json_array_foreach(dst, j, d)
        {
            if (json_is_object(s) && json_is_object(d) && same_key(d, s, key)) {
                if (json_array_set_new(dst, j, json_deep_copy(s)) != 0)
                    return nomem();
                done = 1;
                break;
            }
        }
        if (!done && json_array_append_new(dst, json_deep_copy(s)) != 0)
            return nomem();
    }
    return 0;
}

static int
merge_obj(json_t *dst, const json_t *src, int top)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)src, k, v)
    {
        json_t *d = json_object_get(dst, k);
        const char *lk = top ? list_key(k) : NULL;
        int rc;

        if (top && strcmp(k, "name") == 0)
            continue;
        if (top && strcmp(k, "image") == 0 && json_is_string(v) &&
            strcmp(json_string_value(v), "auto") == 0)
            continue;
        /* the template's values may be shared (with the configuration):
         * merge into private copies */
        if (json_is_object(d) && json_is_object(v))
            rc = inj_cow(dst, k, &d) ? RC_NOMEM : merge_obj(d, v, 0);
        else if (lk && json_is_array(d) && json_is_array(v))
            rc = inj_cow(dst, k, &d) ? RC_NOMEM : merge_list(d, v, lk);
        else
            rc = inj_set_new(dst, k, json_deep_copy(v));
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
inj_apply_override(json_t *tmpl, const json_t *user)
{
    return merge_obj(tmpl, user, 1);
}

int
inj_overrides_annotate(struct inj_ctx *ctx)
{
    char *s;
    int rc;

    if (ctx->overrides == NULL)
        return 0;
    s = jutil_dumps(ctx->overrides, 0);
    if (s == NULL)
        return nomem();
    rc = inj_set_str(ctx->annots, INJ_OVERRIDES_ANNOT, s);
    mem_free(s);
    return rc;
}
