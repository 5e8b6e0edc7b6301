/* owner.c: the workload a pod belongs to (Istio's GetDeployMetaFromPod),
 * for ISTIO_META_WORKLOAD_NAME, ISTIO_META_OWNER and the canonical name.
 *
 * Given owner_* in the input (kube-inject of a Deployment, ...) they win.
 * Otherwise a pod with generateName and a controller ownerReference belongs
 * to that controller, with Istio's heuristics: ReplicaSet "<d>-<hash>"
 * (label pod-template-hash) -> Deployment "<d>"; Job "<c>-<8..11 digits>" ->
 * CronJob "<c>" (batch/v1); ReplicationController with label
 * deploymentconfig -> DeploymentConfig. Else the pod itself (Kind Pod, v1);
 * a pod with only generateName is named after it without the trailing '-'
 * (Istio leaves the name empty there; a name is more useful in telemetry). */
#include "injector/inj_internal.h"

#include <stdio.h>
#include <string.h>

static void
set(char *dst, size_t n, const char *s, size_t len)
{
    if (len >= n) {
        len = n - 1;
        /* never cut a UTF-8 sequence in two */
        while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
}

static const char *
default_api_version(const char *kind)
{
    static const char *const apps[] = {"Deployment", "ReplicaSet",
                                       "StatefulSet", "DaemonSet"};

    for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
        if (strcmp(kind, apps[i]) == 0)
            return "apps/v1";
    if (strcmp(kind, "Job") == 0 || strcmp(kind, "CronJob") == 0)
        return "batch/v1";
    if (strcmp(kind, "DeploymentConfig") == 0)
        return "apps.openshift.io/v1";
    return "v1";
}

/* cronjob_prefix: length of <c> when name is "<c>-<8..11 digits>", else 0 */
static size_t
cronjob_prefix(const char *name)
{
    size_t n = strlen(name), d = 0;

    while (d < n && name[n - 1 - d] >= '0' && name[n - 1 - d] <= '9')
        d++;
    if (d < 8 || d > 11 || d + 2 > n || name[n - 1 - d] != '-')
        return 0;
    return n - d - 1;
}

static const json_t *
controller_ref(const json_t *meta)
{
    size_t i;
    json_t *r;

    json_array_foreach(jutil_arr(meta, "ownerReferences"), i, r)
    {
        if (json_is_true(json_object_get(r, "controller")) &&
            jutil_str(r, "kind") && jutil_str(r, "name"))
            return r;
    }
    return NULL;
}

void
inj_owner_resolve(struct inj_ctx *ctx)
{
    struct inj_owner *o = &ctx->owner;
    const struct inj_input *in = ctx->in;
    const char *pod_name = jutil_str(ctx->meta, "name");
    const char *gen = jutil_str(ctx->meta, "generateName");
    const json_t *ref;
    const char *kind, *name, *api;

    if (in->owner_kind && in->owner_name && *in->owner_kind &&
        *in->owner_name) {
        set(o->kind, sizeof(o->kind), in->owner_kind, strlen(in->owner_kind));
        set(o->name, sizeof(o->name), in->owner_name, strlen(in->owner_name));
        api = in->owner_api_version && *in->owner_api_version
                  ? in->owner_api_version
                  : default_api_version(in->owner_kind);
        set(o->api_version, sizeof(o->api_version), api, strlen(api));
        return;
    }
    set(o->kind, sizeof(o->kind), "Pod", 3);
    set(o->api_version, sizeof(o->api_version), "v1", 2);
    name = pod_name ? pod_name : "";
    set(o->name, sizeof(o->name), name, strlen(name));
    if (gen == NULL || *gen == '\0')
        return;
    ref = controller_ref(ctx->meta);
    if (ref == NULL) {
        if (o->name[0] == '\0') {
            size_t n = strlen(gen);
            while (n > 0 && gen[n - 1] == '-')
                n--;
            set(o->name, sizeof(o->name), gen, n);
        }
        return;
    }
    kind = jutil_str(ref, "kind");
    name = jutil_str(ref, "name");
    api = jutil_str(ref, "apiVersion");
    set(o->kind, sizeof(o->kind), kind, strlen(kind));
    set(o->name, sizeof(o->name), name, strlen(name));
    set(o->api_version, sizeof(o->api_version), api ? api : "",
        api ? strlen(api) : 0);
    if (strcmp(kind, "ReplicaSet") == 0) {
        const char *hash = jutil_str(ctx->labels, "pod-template-hash");
        size_t nl = strlen(name), hl = hash ? strlen(hash) : 0;
        if (hl > 0 && nl > hl && strcmp(name + nl - hl, hash) == 0) {
            /* TrimSuffix("-" + hash): only when the dash is there */
            if (nl > hl + 1 && name[nl - hl - 1] == '-')
                set(o->name, sizeof(o->name), name, nl - hl - 1);
            set(o->kind, sizeof(o->kind), "Deployment", 10);
        }
    } else if (strcmp(kind, "ReplicationController") == 0) {
        const char *dc = jutil_str(ctx->labels, "deploymentconfig");
        if (dc && *dc) {
            set(o->name, sizeof(o->name), dc, strlen(dc));
            set(o->kind, sizeof(o->kind), "DeploymentConfig", 16);
        }
    } else if (strcmp(kind, "Job") == 0) {
        size_t n = cronjob_prefix(name);
        if (n > 0) {
            set(o->name, sizeof(o->name), name, n);
            set(o->kind, sizeof(o->kind), "CronJob", 7);
            set(o->api_version, sizeof(o->api_version), "batch/v1", 8);
        }
    }
    if (o->name[0] == '\0' && pod_name)
        set(o->name, sizeof(o->name), pod_name, strlen(pod_name));
}

/* inj_owner_uri: kubernetes://apis/<apiVersion>/namespaces/<ns>/<kind>s/<n>
 * with the kind lower-cased; nothing when the name or apiVersion is empty
 * (Istio's template omits the variable then). 0, RC_NOMEM or RC_LIMIT. */
int
inj_owner_uri(const struct inj_ctx *ctx, struct buf *out)
{
    const struct inj_owner *o = &ctx->owner;
    char kind[sizeof(o->kind)];
    size_t i;

    if (o->name[0] == '\0' || o->api_version[0] == '\0')
        return 0;
    for (i = 0; o->kind[i]; i++)
        kind[i] = (o->kind[i] >= 'A' && o->kind[i] <= 'Z')
                      ? (char)(o->kind[i] - 'A' + 'a')
                      : o->kind[i];
    kind[i] = '\0';
    return buf_addstrs(out, "kubernetes://apis/", o->api_version,
                       "/namespaces/", *ctx->ns ? ctx->ns : "default", "/",
                       kind, "s/", o->name, NULL);
}
