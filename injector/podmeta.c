/* podmeta.c: what injection adds to the pod besides the two containers:
 * volumes, imagePullSecrets, labels and annotations, and the
 * sidecar.istio.io/status annotation in Istio's exact format.
 *
 * Volumes and pull secrets the template adds replace same-named entries of
 * the pod (removed, then appended): so a pod that already carries one of
 * them is injected the same way as one that does not, and re-injection is
 * idempotent. */
#include "injector/inj_internal.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdlib.h>
#include <string.h>

static int
nomem(void)
{
    return errmsg_set(RC_NOMEM, "out of memory injecting pod metadata");
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *
service_account(const struct inj_ctx *ctx)
{
    const char *sa = jutil_str(ctx->spec, "serviceAccountName");

    if (sa == NULL || *sa == '\0')
        sa = jutil_str(ctx->spec, "serviceAccount");
    return sa && *sa ? sa : "default";
}

/* fixed_volumes: the template volumes that depend only on the
 * configuration, in order (cached). */
static json_t *
fixed_volumes(const struct inj_ctx *ctx)
{
    if (ctx->cfg->cache != NULL)
        return json_incref(ctx->cfg->cache->volumes);
    return json_pack(
        "[{s:s, s:{s:s}}, {s:s, s:{}}, "
        " {s:s, s:{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}]}},"
        " {s:s, s:{s:[{s:{s:s, s:i, s:s}}]}},"
        " {s:s, s:{s:s}}]",
        "name", "istio-envoy", "emptyDir", "medium", "Memory", "name",
        "istio-data", "emptyDir", "name", "istio-podinfo", "downwardAPI",
        "items", "path", "labels", "fieldRef", "fieldPath", "metadata.labels",
        "path", "annotations", "fieldRef", "fieldPath", "metadata.annotations",
        "name", "istio-token", "projected", "sources", "serviceAccountToken",
        "audience",
        ctx->cfg->v.token_aud[0] ? ctx->cfg->v.token_aud : "istio-ca",
        "expirationSeconds", 43200, "path", "istio-token", "name",
        "istiod-ca-cert", "configMap", "name", "istio-ca-root-cert");
}

int
inj_podmeta_cache(struct inj_ctx *ctx, struct inj_cache *c)
{
    c->volumes = fixed_volumes(ctx);
    return c->volumes ? 0 : nomem();
}

/* template_volumes: the volumes of the template, in order: the fixed ones
 * (shared), istio-certs for the service account, then the bootstrap
 * override and the user volumes. */
static json_t *
template_volumes(const struct inj_ctx *ctx)
{
    struct buf secret;
    json_t *v = NULL, *fixed; /* owned */
    const char **keys = NULL;
    size_t n = 0;
    const char *k;
    json_t *e;

    buf_init(&secret, 4096);
    if (buf_addstrs(&secret, "istio.", service_account(ctx), NULL) != 0)
        goto fail;
    fixed = fixed_volumes(ctx);
    v = json_array();
    if (fixed == NULL || v == NULL || json_array_extend(v, fixed) != 0) {
        json_decref(fixed);
        goto fail;
    }
    json_decref(fixed);
    if (inj_append_new(v, json_pack("{s:s, s:{s:b, s:s}}", "name",
                                    "istio-certs", "secret", "optional", 1,
                                    "secretName", secret.ptr)) != 0)
        goto fail;
    if (ctx->p.bootstrap_override &&
        inj_append_new(v, json_pack("{s:s, s:{s:s}}", "name",
                                    "custom-bootstrap-volume", "configMap",
                                    "name", ctx->p.bootstrap_override)) != 0)
        goto fail;
    if (json_object_size(ctx->p.user_volumes) > 0) {
        keys = mem_calloc(json_object_size(ctx->p.user_volumes), sizeof(*keys));
        if (keys == NULL)
            goto fail;
        json_object_foreach(ctx->p.user_volumes, k, e) keys[n++] = k;
        qsort(keys, n, sizeof(*keys), cmp_str);
        for (size_t i = 0; i < n; i++) {
            json_t *vol = json_object(); /* owned */
            if (vol == NULL ||
                json_object_set_new(vol, "name", inj_str(keys[i])) != 0 ||
                json_object_update(
                    vol, json_object_get(ctx->p.user_volumes, keys[i])) != 0 ||
                json_object_set_new(vol, "name", inj_str(keys[i])) != 0 ||
                json_array_append_new(v, vol) != 0) {
                json_decref(vol);
                goto fail;
            }
        }
    }
    mem_free(keys);
    buf_cleanup(&secret);
    return v;
fail:
    mem_free(keys);
    buf_cleanup(&secret);
    json_decref(v);
    return NULL;
}

/* ensure_arr: spec[key] as an array, created when absent (a non-array
 * value was refused by the shape check before). */
static json_t *
ensure_arr(json_t *spec, const char *key)
{
    json_t *a = json_object_get(spec, key); /* borrowed */

    if (json_is_array(a))
        return a;
    if (json_object_set_new(spec, key, json_array()) != 0)
        return NULL;
    return json_object_get(spec, key);
}

int
inj_add_volumes(struct inj_ctx *ctx, json_t *status_volumes)
{
    json_t *tv = template_volumes(ctx); /* owned */
    json_t *vols, *e;
    size_t i;
    int rc = 0;

    if (tv == NULL)
        return nomem();
    json_array_foreach(tv, i, e)
    {
        if (inj_arr_append_str(status_volumes, jutil_str(e, "name")) != 0) {
            json_decref(tv);
            return RC_NOMEM;
        }
    }
    vols = ensure_arr(ctx->spec, "volumes");
    if (vols == NULL) {
        json_decref(tv);
        return nomem();
    }
    inj_arr_remove_names(vols, status_volumes);
    if (json_array_extend(vols, tv) != 0)
        rc = nomem();
    json_decref(tv);
    return rc;
}

int
inj_add_pull_secrets(struct inj_ctx *ctx, json_t *status_secrets)
{
    const json_t *src = ctx->cfg->v.pull_secrets;
    json_t *arr, *e;
    size_t i;

    if (json_array_size(src) == 0)
        return 0;
    json_array_foreach(src, i, e)
    {
        const char *n =
            json_is_string(e) ? json_string_value(e) : jutil_str(e, "name");
        if (inj_arr_append_str(status_secrets, n) != 0)
            return RC_NOMEM;
    }
    arr = ensure_arr(ctx->spec, "imagePullSecrets");
    if (arr == NULL)
        return nomem();
    inj_arr_remove_names(arr, status_secrets);
    json_array_foreach(status_secrets, i, e)
    {
        if (inj_append_new(arr, json_pack("{s:O}", "name", e)) != 0)
            return RC_NOMEM;
    }
    return 0;
}

static const char *
first_label(const json_t *labels, const char *const *keys, const char *def)
{
    for (size_t i = 0; keys[i]; i++) {
        const char *v = jutil_str(labels, keys[i]);
        if (v != NULL && *v != '\0')
            return v;
    }
    return def;
}

static int
set_canonical_name(struct inj_ctx *ctx)
{
    static const char *const keys[] = {"service.istio.io/canonical-name",
                                       "app.kubernetes.io/name", "app", NULL};
    const char *s = first_label(ctx->labels, keys, ctx->owner.name);
    size_t n = strlen(s);
    char *t;
    int rc;

    /* sprig: trunc 63 | trimAll "-_." (on bytes; never split UTF-8) */
    if (n > 63) {
        n = 63;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    while (n > 0 && strchr("-_.", *s) != NULL) {
        s++;
        n--;
    }
    while (n > 0 && strchr("-_.", s[n - 1]) != NULL)
        n--;
    t = mem_strndup(s, n);
    if (t == NULL)
        return nomem();
    rc =
        inj_set_new(ctx->labels, "service.istio.io/canonical-name", inj_str(t));
    mem_free(t);
    return rc;
}

static const char *
default_container(const struct inj_ctx *ctx)
{
    size_t i;
    json_t *c;

    json_array_foreach(jutil_arr(ctx->spec, "containers"), i, c)
    {
        const char *n = jutil_str(c, "name");
        if (n && strcmp(n, INJ_PROXY_NAME) != 0)
            return n;
    }
    return NULL;
}

/* inj_add_metadata: labels and annotations of the template (not the
 * status, which injector.c sets last). */
int
inj_add_metadata(struct inj_ctx *ctx)
{
    static const char *const rev_keys[] = {
        "service.istio.io/canonical-revision", "app.kubernetes.io/version",
        "version", NULL};
    const char *rev = ctx->cfg->v.revision;
    const char *dc = default_container(ctx);
    int rc = 0;

    if (jutil_str(ctx->labels, "security.istio.io/tlsMode") == NULL)
        rc = inj_set_str(ctx->labels, "security.istio.io/tlsMode", "istio");
    rc = rc ? rc : set_canonical_name(ctx);
    rc = rc ? rc
            : inj_set_str(ctx->labels, "service.istio.io/canonical-revision",
                          first_label(ctx->labels, rev_keys, "latest"));
    rc =
        rc ? rc
           : inj_set_str(ctx->annots, "istio.io/rev", rev[0] ? rev : "default");
    if (rc == 0 && dc != NULL &&
        !inj_annot(ctx, "kubectl.kubernetes.io/default-logs-container"))
        rc = inj_set_str(ctx->annots,
                         "kubectl.kubernetes.io/default-logs-container", dc);
    if (rc == 0 && dc != NULL &&
        !inj_annot(ctx, "kubectl.kubernetes.io/default-container"))
        rc = inj_set_str(ctx->annots, "kubectl.kubernetes.io/default-container",
                         dc);
    return rc;
}

static int
add_list(struct buf *b, const char *key, const json_t *names)
{
    int rc = buf_addstrs(b, "\"", key, "\":", NULL);

    if (rc == 0 && json_array_size(names) == 0)
        return buf_addstr(b, "null");
    return rc ? rc : jutil_dump(names, 0, b);
}

/* inj_status_string: {"initContainers":[..],"containers":[..],
 * "volumes":[..],"imagePullSecrets":[..],"revision":".."}, empty lists as
 * null, no spaces. *out is freed with mem_free. */
int
inj_status_string(json_t *init_names, json_t *cont_names, json_t *vol_names,
                  json_t *secret_names, const char *revision, char **out)
{
    json_t *rev = inj_str(revision && *revision ? revision : "default");
    struct buf b;
    int rc = rev ? 0 : RC_NOMEM;

    *out = NULL;
    buf_init(&b, 1 << 20);
    rc = rc ? rc : buf_addc(&b, '{');
    rc = rc ? rc : add_list(&b, "initContainers", init_names);
    rc = rc ? rc : buf_addc(&b, ',');
    rc = rc ? rc : add_list(&b, "containers", cont_names);
    rc = rc ? rc : buf_addc(&b, ',');
    rc = rc ? rc : add_list(&b, "volumes", vol_names);
    rc = rc ? rc : buf_addc(&b, ',');
    rc = rc ? rc : add_list(&b, "imagePullSecrets", secret_names);
    rc = rc ? rc : buf_addstr(&b, ",\"revision\":");
    rc = rc ? rc : jutil_dump(rev, JSON_ENCODE_ANY, &b);
    rc = rc ? rc : buf_addc(&b, '}');
    json_decref(rev);
    if (rc == 0)
        *out = buf_take(&b, NULL);
    buf_cleanup(&b);
    if (rc == 0 && *out == NULL)
        rc = RC_NOMEM;
    return rc ? errmsg_set(rc, "building the status annotation") : 0;
}
