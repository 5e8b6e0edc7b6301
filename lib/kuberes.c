/* kuberes.c: the KUBE_* resource table, API paths and query strings.
 *
 * Paths follow the API server's layout: /api/v1/... for the core group,
 * /apis/<group>/<version>/... otherwise; namespaced resources get
 * /namespaces/<ns> in front of the resource when a namespace is given.
 * Path segments (namespace, name, subresource) are checked here: empty, "."
 * and "..", '/' and control bytes are refused with RC_INVAL, anything
 * outside the URL-safe set is percent-encoded. */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/kubeclient.h"
#include "lib/rc.h"

#include <string.h>

const struct kube_res KUBE_NAMESPACES = {"", "v1", "namespaces", "Namespace",
                                         0};
const struct kube_res KUBE_PODS = {"", "v1", "pods", "Pod", 1};
const struct kube_res KUBE_SERVICES = {"", "v1", "services", "Service", 1};
const struct kube_res KUBE_ENDPOINTS = {"", "v1", "endpoints", "Endpoints", 1};
const struct kube_res KUBE_ENDPOINTSLICES = {
    "discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", 1};
const struct kube_res KUBE_SERVICEACCOUNTS = {"", "v1", "serviceaccounts",
                                              "ServiceAccount", 1};
const struct kube_res KUBE_SECRETS = {"", "v1", "secrets", "Secret", 1};
const struct kube_res KUBE_CONFIGMAPS = {"", "v1", "configmaps", "ConfigMap",
                                         1};
const struct kube_res KUBE_LEASES = {"coordination.k8s.io", "v1", "leases",
                                     "Lease", 1};
const struct kube_res KUBE_CRDS = {"apiextensions.k8s.io", "v1",
                                   "customresourcedefinitions",
                                   "CustomResourceDefinition", 0};
const struct kube_res KUBE_MWCS = {"admissionregistration.k8s.io", "v1",
                                   "mutatingwebhookconfigurations",
                                   "MutatingWebhookConfiguration", 0};
const struct kube_res KUBE_DEPLOYMENTS = {"apps", "v1", "deployments",
                                          "Deployment", 1};
const struct kube_res KUBE_REPLICASETS = {"apps", "v1", "replicasets",
                                          "ReplicaSet", 1};

static int
unreserved(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
           ch == '~';
}

/* Appends s percent-encoded; `keep` lists extra bytes left as they are. */
static int
add_escaped(struct buf *out, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0;
         p++) {
        if (unreserved(*p) || (keep && strchr(keep, *p)))
            rc = buf_addc(out, (char)*p);
        else
            rc = buf_addf(out, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
    return rc;
}

static int
add_segment(struct buf *out, const char *what, const char *s)
{
    if (s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return errmsg_set(RC_INVAL, "invalid %s \"%s\" in an API path", what,
                          s);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return errmsg_set(RC_INVAL, "invalid byte in %s for an API path",
                              what);
    if (buf_addc(out, '/') != 0)
        return errmsg_set(RC_NOMEM, "out of memory building an API path");
    if (add_escaped(out, s, ":@") != 0)
        return errmsg_set(RC_NOMEM, "out of memory building an API path");
    return 0;
}

int
kube_path(struct buf *out, const struct kube_res *r, const char *ns,
          const char *name, const char *sub)
{
    size_t len0 = out->len;
    int rc;

    if (r == NULL || r->version == NULL || r->resource == NULL)
        return errmsg_set(RC_INVAL, "kube_path: no resource type");
    if (r->group && r->group[0])
        rc = buf_addf(out, "/apis/%s/%s", r->group, r->version);
    else
        rc = buf_addf(out, "/api/%s", r->version);
    if (rc != 0) {
        rc = errmsg_set(rc, "API path too long");
        goto fail;
    }
    if (r->namespaced && ns != NULL) {
        if ((rc = buf_addstr(out, "/namespaces")) != 0 ||
            (rc = add_segment(out, "namespace", ns)) != 0)
            goto fail;
    }
    if ((rc = add_segment(out, "resource", r->resource)) != 0)
        goto fail;
    if (name != NULL && (rc = add_segment(out, "name", name)) != 0)
        goto fail;
    if (sub != NULL) {
        if (name == NULL) {
            rc = errmsg_set(RC_INVAL, "subresource \"%s\" without a name", sub);
            goto fail;
        }
        if ((rc = add_segment(out, "subresource", sub)) != 0)
            goto fail;
    }
    return 0;
fail:
    /* leave the buffer as it was */
    out->len = len0;
    if (out->ptr)
        out->ptr[len0] = '\0';
    return rc;
}

int
kube_query_add(struct buf *out, const char *key, const char *value)
{
    size_t len0 = out->len;
    int rc;

    rc = buf_addc(out, strchr(out->ptr ? out->ptr : "", '?') ? '&' : '?');
    if (rc == 0)
        rc = add_escaped(out, key, NULL);
    if (rc == 0)
        rc = buf_addc(out, '=');
    if (rc == 0)
        rc = add_escaped(out, value, NULL);
    if (rc != 0) {
        out->len = len0;
        if (out->ptr)
            out->ptr[len0] = '\0';
        return errmsg_set(rc, "out of memory building a query string");
    }
    return 0;
}

const struct kube_res *
kube_res_find(const char *name)
{
    static const struct kube_res *const all[] = {
        &KUBE_NAMESPACES, &KUBE_PODS,           &KUBE_SERVICES,
        &KUBE_ENDPOINTS,  &KUBE_ENDPOINTSLICES, &KUBE_SERVICEACCOUNTS,
        &KUBE_SECRETS,    &KUBE_CONFIGMAPS,     &KUBE_LEASES,
        &KUBE_CRDS,       &KUBE_MWCS,           &KUBE_DEPLOYMENTS,
        &KUBE_REPLICASETS};

    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(all[i]->resource, name) == 0 ||
            strcmp(all[i]->kind, name) == 0)
            return all[i];
    return NULL;
}
