/* kubeclient.c: the REST verbs of the Kubernetes client (see kubeclient.h).
 *
 * Each verb builds a path with kube_path, a body with jansson and hands both
 * to kube_request (kubehttp.c), which owns transport, auth and retries. A
 * missing namespace or name is taken from the object's metadata where that
 * is unambiguous. List pages are parsed one at a time: memory is bounded by
 * the page size, not the collection. */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/kubeclient.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <string.h>

#define KUBE_PATH_MAX ((size_t)8192)

static const char *
obj_ns(const struct kube_res *r, const char *ns, const json_t *obj)
{
    if (ns != NULL || !r->namespaced)
        return ns;
    return jutil_path_str(obj, "metadata.namespace");
}

int
kube_get(struct kube_client *c, const struct kube_res *r, const char *ns,
         const char *name, json_t **out)
{
    struct buf path;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (name == NULL)
        return errmsg_set(RC_INVAL, "kube_get: no name");
    buf_init(&path, KUBE_PATH_MAX);
    rc = kube_path(&path, r, ns, name, NULL);
    if (rc == 0)
        rc = kube_request(c, "GET", path.ptr, NULL, NULL, 0, out);
    buf_cleanup(&path);
    return rc;
}

/* Serializes obj and sends it with method to path. */
static int
send_obj(struct kube_client *c, const char *method, const char *path,
         const char *ctype, const json_t *obj, json_t **out)
{
    struct buf body;
    int rc;

    buf_init(&body, 0);
    rc = jutil_dump(obj, 0, &body);
    if (rc != 0)
        rc = errmsg_set(rc, "cannot serialize the request body");
    else
        rc = kube_request(c, method, path, ctype, body.ptr, body.len, out);
    buf_cleanup(&body);
    return rc;
}

int
kube_create(struct kube_client *c, const struct kube_res *r, const char *ns,
            const json_t *obj, json_t **out)
{
    struct buf path;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (!json_is_object(obj))
        return errmsg_set(RC_INVAL, "kube_create: the object is not a JSON "
                                    "object");
    ns = obj_ns(r, ns, obj);
    if (r->namespaced && ns == NULL)
        return errmsg_set(RC_INVAL, "kube_create: %s need a namespace",
                          r->resource);
    buf_init(&path, KUBE_PATH_MAX);
    rc = kube_path(&path, r, ns, NULL, NULL);
    if (rc == 0)
        rc = send_obj(c, "POST", path.ptr, "application/json", obj, out);
    buf_cleanup(&path);
    return rc;
}

int
kube_update(struct kube_client *c, const struct kube_res *r, const char *ns,
            const char *name, const char *sub, const json_t *obj, json_t **out)
{
    struct buf path;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (!json_is_object(obj))
        return errmsg_set(RC_INVAL, "kube_update: the object is not a JSON "
                                    "object");
    ns = obj_ns(r, ns, obj);
    if (name == NULL)
        name = jutil_path_str(obj, "metadata.name");
    if (name == NULL || (r->namespaced && ns == NULL))
        return errmsg_set(RC_INVAL, "kube_update: no %s",
                          name == NULL ? "name" : "namespace");
    buf_init(&path, KUBE_PATH_MAX);
    rc = kube_path(&path, r, ns, name, sub);
    if (rc == 0)
        rc = send_obj(c, "PUT", path.ptr, "application/json", obj, out);
    buf_cleanup(&path);
    return rc;
}

int
kube_patch(struct kube_client *c, const struct kube_res *r, const char *ns,
           const char *name, const char *sub, enum kube_patch_type type,
           const json_t *patch, const char *field_manager, int force,
           json_t **out)
{
    static const char *const ctypes[] = {
        "application/merge-patch+json", "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml"};
    struct buf path;
    int rc;

    if (out != NULL)
        *out = NULL;
    if ((unsigned)type > KUBE_PATCH_APPLY)
        return errmsg_set(RC_INVAL, "kube_patch: unknown patch type %d",
                          (int)type);
    if (name == NULL)
        return errmsg_set(RC_INVAL, "kube_patch: no name");
    if (type == KUBE_PATCH_JSON ? !json_is_array(patch)
                                : !json_is_object(patch))
        return errmsg_set(RC_INVAL, "kube_patch: a %s patch must be a JSON %s",
                          type == KUBE_PATCH_JSON ? "JSON" : "merge or apply",
                          type == KUBE_PATCH_JSON ? "array" : "object");
    if (type == KUBE_PATCH_APPLY &&
        (field_manager == NULL || field_manager[0] == '\0'))
        return errmsg_set(RC_INVAL,
                          "kube_patch: server-side apply needs a field "
                          "manager");
    if (type != KUBE_PATCH_APPLY && force)
        return errmsg_set(RC_INVAL, "kube_patch: force is for server-side "
                                    "apply only");
    buf_init(&path, KUBE_PATH_MAX);
    rc = kube_path(&path, r, ns, name, sub);
    if (rc == 0 && field_manager != NULL && field_manager[0] != '\0')
        rc = kube_query_add(&path, "fieldManager", field_manager);
    if (rc == 0 && force)
        rc = kube_query_add(&path, "force", "true");
    /* JSON is YAML: an apply body is sent as JSON text */
    if (rc == 0)
        rc = send_obj(c, "PATCH", path.ptr, ctypes[type], patch, out);
    buf_cleanup(&path);
    return rc;
}

int
kube_delete(struct kube_client *c, const struct kube_res *r, const char *ns,
            const char *name, const char *precondition_rv)
{
    json_t *opts = NULL; /* owned */
    struct buf path;
    int rc;

    if (name == NULL)
        return errmsg_set(RC_INVAL, "kube_delete: no name");
    buf_init(&path, KUBE_PATH_MAX);
    rc = kube_path(&path, r, ns, name, NULL);
    if (rc != 0)
        goto done;
    if (precondition_rv == NULL) {
        rc = kube_request(c, "DELETE", path.ptr, NULL, NULL, 0, NULL);
        goto done;
    }
    opts =
        json_pack("{s:s, s:s, s:{s:s}}", "kind", "DeleteOptions", "apiVersion",
                  "v1", "preconditions", "resourceVersion", precondition_rv);
    if (opts == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory building DeleteOptions");
        goto done;
    }
    rc = send_obj(c, "DELETE", path.ptr, "application/json", opts, NULL);
done:
    json_decref(opts);
    buf_cleanup(&path);
    return rc;
}

/* Builds the path of one list page. */
static int
list_path(struct buf *path, const struct kube_res *r, const char *ns,
          const struct kube_list_opts *o, const char *cont)
{
    char lim[24];
    int rc;

    buf_reset(path);
    if ((rc = kube_path(path, r, ns, NULL, NULL)) != 0)
        return rc;
    snprintf(lim, sizeof(lim), "%d", o->limit > 0 ? o->limit : 500);
    if ((rc = kube_query_add(path, "limit", lim)) != 0)
        return rc;
    if (o->label_selector && o->label_selector[0] &&
        (rc = kube_query_add(path, "labelSelector", o->label_selector)) != 0)
        return rc;
    if (o->field_selector && o->field_selector[0] &&
        (rc = kube_query_add(path, "fieldSelector", o->field_selector)) != 0)
        return rc;
    if (cont != NULL)
        return kube_query_add(path, "continue", cont);
    /* the server refuses resourceVersion together with continue */
    if (o->resource_version != NULL &&
        (rc = kube_query_add(path, "resourceVersion", o->resource_version)))
        return rc;
    return 0;
}

int
kube_list(struct kube_client *c, const struct kube_res *r, const char *ns,
          const struct kube_list_opts *opts, int (*fn)(void *ud, json_t *item),
          void *ud, char **rv_out)
{
    static const struct kube_list_opts none;
    const struct kube_list_opts *o = opts ? opts : &none;
    struct buf path;
    json_t *page = NULL; /* owned */
    char *cont = NULL, *rv = NULL;
    int rc = 0, restarted = 0;

    if (rv_out != NULL)
        *rv_out = NULL;
    buf_init(&path, KUBE_PATH_MAX);
    for (;;) {
        json_t *items, *item; /* borrowed */
        const char *s;
        size_t i;

        if ((rc = list_path(&path, r, ns, o, cont)) != 0)
            break;
        rc = kube_request(c, "GET", path.ptr, NULL, NULL, 0, &page);
        if (rc == RC_GONE && cont != NULL && !restarted) {
            /* the continue token expired: start over, once */
            restarted = 1;
            mem_free(cont);
            cont = NULL;
            continue;
        }
        if (rc != 0)
            break;
        items = jutil_arr(page, "items");
        if (!json_is_object(page) ||
            (items == NULL && !json_is_null(json_object_get(page, "items")) &&
             json_object_get(page, "items") != NULL)) {
            rc = errmsg_set(RC_PARSE, "list %s: the answer is not a list",
                            r->resource);
            break;
        }
        s = jutil_path_str(page, "metadata.resourceVersion");
        if (s != NULL && (rv == NULL || strcmp(rv, s) != 0)) {
            mem_free(rv);
            if ((rv = mem_strdup(s)) == NULL) {
                rc = errmsg_set(RC_NOMEM, "out of memory");
                break;
            }
        }
        json_array_foreach(items, i, item)
        {
            if ((rc = fn(ud, item)) != 0)
                break;
        }
        if (rc != 0)
            break;
        s = jutil_path_str(page, "metadata.continue");
        mem_free(cont);
        cont = NULL;
        if (s == NULL || s[0] == '\0')
            break;
        if ((cont = mem_strdup(s)) == NULL) {
            rc = errmsg_set(RC_NOMEM, "out of memory");
            break;
        }
        json_decref(page);
        page = NULL;
    }
    if (rc == 0 && rv_out != NULL) {
        *rv_out = rv;
        rv = NULL;
    }
    json_decref(page);
    mem_free(cont);
    mem_free(rv);
    buf_cleanup(&path);
    return rc;
}
