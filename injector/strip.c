/* strip.c: undo a previous injection before injecting again.
 *
 * A pod whose sidecar.istio.io/status annotation parses is taken back to
 * what the injector saw the first time: the containers, init containers,
 * volumes and imagePullSecrets the status names are removed; the probes
 * the injector rewrote are restored from the old proxy's
 * ISTIO_KUBE_APP_PROBERS (whose entries also seed the new prober map, as
 * Istio merges old over new); the app's Prometheus annotations are restored
 * from ISTIO_PROMETHEUS_ANNOTATIONS; containers the user had declared under
 * an injected name are put back from proxy.istio.io/overrides; the status
 * and overrides annotations are removed. Labels and annotations the
 * template adds are left: the template computes them to the same values
 * again. Together this makes inject(inject(p)) == inject(p). */
#include "injector/inj_internal.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/rc.h"

#include <stdio.h>
#include <string.h>

static int
nomem(void)
{
    return errmsg_set(RC_NOMEM, "out of memory stripping an old injection");
}

static int
list_ok(const json_t *v)
{
    size_t i;
    json_t *e;

    if (v == NULL || json_is_null(v))
        return 1;
    if (!json_is_array(v))
        return 0;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return 0;
    }
    return 1;
}

/* parse_obj: s as a JSON object into *out, or *out NULL when s is absent
 * or not a JSON object (ignored, as Istio ignores a bad status). Only
 * RC_NOMEM is an error. */
static int
parse_obj(const char *s, json_t **out)
{
    int rc;

    *out = NULL;
    if (s == NULL)
        return 0;
    rc = jutil_parse(out, s, strlen(s), NULL);
    if (rc == RC_NOMEM)
        return rc;
    if (rc != 0 || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
    }
    return 0;
}

/* parse_status: the status annotation as an object with string lists. */
static int
parse_status(const char *s, json_t **out)
{
    int rc = parse_obj(s, out);
    json_t *st = *out;

    if (rc != 0 || st == NULL)
        return rc;
    if (!list_ok(json_object_get(st, "containers")) ||
        !list_ok(json_object_get(st, "initContainers")) ||
        !list_ok(json_object_get(st, "volumes")) ||
        !list_ok(json_object_get(st, "imagePullSecrets"))) {
        json_decref(st);
        *out = NULL;
    }
    return 0;
}

static int
parse_env_obj(const json_t *proxy, const char *name, json_t **out)
{
    return parse_obj(proxy ? inj_container_env(proxy, name) : NULL, out);
}

/* restore_handler puts the stored handler back into `h` (a probe or a
 * lifecycle handler) if its httpGet path is `path` and it was recorded. */
static int
restore_handler(json_t *h, const char *path, const json_t *probers)
{
    const json_t *stored = json_object_get(probers, path);
    const char *hp = jutil_path_str(h, "httpGet.path");
    static const char *const kinds[] = {"httpGet", "tcpSocket", "grpc"};
    int found = 0;

    if (!json_is_object(stored) || hp == NULL || strcmp(hp, path) != 0)
        return 0;
    /* a record without a port (never written by an injector; a damaged
     * env) would put back a handler Kubernetes refuses and that the
     * rewrite then leaves alone: the rewritten probe stays instead */
    for (size_t i = 0; i < 3; i++)
        found |=
            json_object_get(json_object_get(stored, kinds[i]), "port") != NULL;
    if (!found)
        return 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *k = json_object_get(stored, kinds[i]);
        json_t *cur = json_object_get(h, "httpGet"); /* borrowed */
        json_t *act;                                 /* owned */
        const char *key;
        json_t *v;
        if (!json_is_object(k))
            continue;
        act = json_deep_copy(k);
        if (act == NULL)
            return RC_NOMEM;
        /* the rewritten httpGet kept the original's other fields
         * verbatim (host, httpHeaders, unknown ones); the record holds
         * only Kubernetes' fields, normalised: the verbatim ones win */
        if (i == 0)
            json_object_foreach(cur, key, v)
            {
                if (strcmp(key, "path") != 0 && strcmp(key, "port") != 0 &&
                    strcmp(key, "scheme") != 0 &&
                    json_object_set(act, key, v) != 0) {
                    json_decref(act);
                    return RC_NOMEM;
                }
            }
        json_object_del(h, "httpGet");
        if (inj_set_new(h, kinds[i], act) != 0)
            return RC_NOMEM;
    }
    return 0;
}

/* recorded: does holder[key] carry a rewritten handler for path? */
static int
recorded(const json_t *holder, const char *key, const char *path)
{
    const char *hp = jutil_path_str(jutil_obj(holder, key), "httpGet.path");

    return hp != NULL && strcmp(hp, path) == 0;
}

/* restore_one restores holder[key] when it was rewritten for path; the
 * container, its lifecycle and the handler may be shared with the caller's
 * pod, so each is made private (copy on write) before it changes. */
static int
restore_one(json_t *arr, size_t i, int hook, const char *key, const char *path,
            const json_t *probers)
{
    json_t *c = json_array_get(arr, i), *holder, *h; /* borrowed */

    holder = hook ? jutil_obj(c, "lifecycle") : c;
    if (!recorded(holder, key, path) ||
        !json_is_object(json_object_get(probers, path)))
        return 0;
    if (inj_cow_at(arr, i, &c) != 0)
        return RC_NOMEM;
    holder = c;
    if (hook && inj_cow(c, "lifecycle", &holder) != 0)
        return RC_NOMEM;
    if (inj_cow(holder, key, &h) != 0)
        return RC_NOMEM;
    return restore_handler(h, path, probers);
}

static int
restore_probes(json_t *containers, const json_t *probers)
{
    static const char *const probes[][2] = {{"readinessProbe", "readyz"},
                                            {"livenessProbe", "livez"},
                                            {"startupProbe", "startupz"}};
    static const char *const hooks[][2] = {{"postStart", "poststartz"},
                                           {"preStop", "prestopz"}};
    char path[600];
    size_t i;
    json_t *c;

    json_array_foreach(containers, i, c)
    {
        const char *n = jutil_str(c, "name");
        if (n == NULL || strlen(n) > 256)
            continue;
        for (size_t k = 0; k < 3; k++) {
            snprintf(path, sizeof(path), "/app-health/%s/%s", n, probes[k][1]);
            if (restore_one(containers, i, 0, probes[k][0], path, probers) != 0)
                return RC_NOMEM;
        }
        for (size_t k = 0; k < 2; k++) {
            snprintf(path, sizeof(path), "/app-lifecycle/%s/%s", n,
                     hooks[k][1]);
            if (restore_one(containers, i, 1, hooks[k][0], path, probers) != 0)
                return RC_NOMEM;
        }
    }
    return 0;
}

/* restore_prometheus puts the app's annotations back from the old env.
 * Istio writes an absent value as "" (no omitempty), and the merge treats
 * "" and absent alike, so "" is not restored. Without the env (Istio's and
 * mizzen's output when the app had no values) the merged annotations stay:
 * the merge sees its own port and leaves them, as on the first run. */
static int
restore_prometheus(json_t *annots, const json_t *old)
{
    static const char *const map[][2] = {
        {"scrape", "prometheus.io/scrape"},
        {"path", "prometheus.io/path"},
        {"port", "prometheus.io/port"},
        {"scrape-targets", "prometheus.istio.io/scrape-targets"}};

    for (size_t i = 0; i < 4; i++)
        json_object_del(annots, map[i][1]);
    for (size_t i = 0; i < 4; i++) {
        const char *v = jutil_str(old, map[i][0]);
        if (v != NULL && *v != '\0' && inj_set_str(annots, map[i][1], v) != 0)
            return RC_NOMEM;
    }
    return 0;
}

static json_t *
find_proxy(const json_t *spec, const json_t *st)
{
    static const char *const lists[][2] = {
        {"containers", "containers"}, {"initContainers", "initContainers"}};

    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *n;
        json_array_foreach(jutil_arr(st, lists[l][1]), i, n)
        {
            if (strcmp(json_string_value(n), INJ_PROXY_NAME) == 0) {
                json_t *c = inj_arr_find(jutil_arr(spec, lists[l][0]),
                                         INJ_PROXY_NAME, NULL);
                if (c != NULL)
                    return c;
            }
        }
    }
    return NULL;
}

/* reinsert the user's own containers recorded at the first injection */
static int
reinsert_overrides(struct inj_ctx *ctx)
{
    static const char *const lists[] = {"containers", "initContainers"};
    const char *s = inj_annot(ctx, INJ_OVERRIDES_ANNOT);
    json_t *ov = NULL; /* owned */
    int rc = 0;

    if (s == NULL)
        return 0;
    if (parse_obj(s, &ov) != 0)
        return nomem();
    if (ov != NULL) {
        for (size_t l = 0; rc == 0 && l < 2; l++) {
            size_t i;
            json_t *c;
            json_array_foreach(jutil_arr(ov, lists[l]), i, c)
            {
                json_t *arr = json_object_get(ctx->spec, lists[l]);
                const char *n = jutil_str(c, "name");
                /* only what the injector records: the injected names */
                if (rc != 0 || n == NULL || !json_is_object(c) ||
                    strcmp(n, l == 0 ? INJ_PROXY_NAME : INJ_INIT_NAME) != 0)
                    continue;
                if (arr == NULL) {
                    arr = json_array();
                    if (arr == NULL ||
                        json_object_set_new(ctx->spec, lists[l], arr) != 0)
                        rc = RC_NOMEM;
                }
                if (rc == 0 && inj_arr_find(arr, n, NULL) == NULL &&
                    json_array_append(arr, c) != 0)
                    rc = RC_NOMEM;
            }
        }
    }
    json_decref(ov);
    json_object_del(ctx->annots, INJ_OVERRIDES_ANNOT);
    return rc ? nomem() : 0;
}

int
inj_strip(struct inj_ctx *ctx)
{
    json_t *st, *proxy;                   /* st owned, proxy borrowed */
    json_t *probers = NULL, *prom = NULL; /* owned */
    int rc = 0;

    if (parse_status(inj_annot(ctx, INJ_STATUS_ANNOT), &st) != 0)
        return nomem();
    if (st == NULL)
        return 0;
    proxy = find_proxy(ctx->spec, st);
    if (parse_env_obj(proxy, INJ_PROBERS_ENV, &probers) != 0 ||
        parse_env_obj(proxy, INJ_PROM_ENV, &prom) != 0) {
        json_decref(probers);
        json_decref(st);
        return nomem();
    }
    inj_arr_remove_names(jutil_arr(ctx->spec, "containers"),
                         json_object_get(st, "containers"));
    inj_arr_remove_names(jutil_arr(ctx->spec, "initContainers"),
                         json_object_get(st, "initContainers"));
    inj_arr_remove_names(jutil_arr(ctx->spec, "volumes"),
                         json_object_get(st, "volumes"));
    inj_arr_remove_names(jutil_arr(ctx->spec, "imagePullSecrets"),
                         json_object_get(st, "imagePullSecrets"));
    if (probers != NULL) {
        rc = restore_probes(jutil_arr(ctx->spec, "containers"), probers);
        if (rc == 0)
            rc =
                restore_probes(jutil_arr(ctx->spec, "initContainers"), probers);
        if (rc == 0 && json_object_update(ctx->probers, probers) != 0)
            rc = RC_NOMEM;
    }
    if (rc == 0 && prom != NULL)
        rc = restore_prometheus(ctx->annots, prom);
    json_object_del(ctx->annots, INJ_STATUS_ANNOT);
    if (rc == 0)
        rc = reinsert_overrides(ctx);
    json_decref(prom);
    json_decref(probers);
    json_decref(st);
    return rc == RC_NOMEM ? nomem() : rc;
}
