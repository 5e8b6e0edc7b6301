/* kubeinject.c: the document walker of `mizzenctl kube-inject` (see
 * kubeinject.h): reading documents, finding their pods, writing them back.
 *
 * Invariant: a document is only ever modified through the callback's
 * result; everything the callback leaves alone keeps its value and key
 * order, so untouched documents read back equal (json_equal). */
#include "cli/kubeinject.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "lib/yamljson.h"

#include <string.h>

/* group_is compares the API group of apiVersion ("apps/v1" -> "apps",
 * "v1" -> "") with want. */
static int
group_is(const char *api_version, const char *want)
{
    const char *slash = strchr(api_version, '/');
    size_t n = slash ? (size_t)(slash - api_version) : 0;

    return strlen(want) == n && strncmp(api_version, want, n) == 0;
}

int
kinj_kind_class(const char *api_version, const char *kind)
{
    int any = api_version == NULL || api_version[0] == '\0';
    size_t klen;

    if (kind == NULL)
        return KINJ_OTHER;
    if (strcmp(kind, "Pod") == 0)
        return any || group_is(api_version, "") ? KINJ_POD : KINJ_OTHER;
    if (strcmp(kind, "ReplicationController") == 0)
        return any || group_is(api_version, "") ? KINJ_TEMPLATE : KINJ_OTHER;
    if (strcmp(kind, "Deployment") == 0 || strcmp(kind, "StatefulSet") == 0 ||
        strcmp(kind, "DaemonSet") == 0 || strcmp(kind, "ReplicaSet") == 0)
        return any || group_is(api_version, "apps") ||
                       group_is(api_version, "extensions")
                   ? KINJ_TEMPLATE
                   : KINJ_OTHER;
    if (strcmp(kind, "Job") == 0)
        return any || group_is(api_version, "batch") ? KINJ_TEMPLATE
                                                     : KINJ_OTHER;
    if (strcmp(kind, "CronJob") == 0)
        return any || group_is(api_version, "batch") ? KINJ_CRONJOB
                                                     : KINJ_OTHER;
    /* kubectl writes "kind: List"; typed lists (DeploymentList) hold the
     * same items */
    klen = strlen(kind);
    if (klen >= 4 && strcmp(kind + klen - 4, "List") == 0)
        return KINJ_LIST;
    return KINJ_OTHER;
}

/* name_doc prefixes the current error with the document's name. */
static int
name_doc(int rc, const struct kinj_site *s)
{
    if (s->item > 0)
        return errmsg_prefix(rc, "document %d (List item %d: %s %s/%s)", s->doc,
                             s->item, s->kind, s->ns, s->name);
    return errmsg_prefix(rc, "document %d (%s %s/%s)", s->doc, s->kind, s->ns,
                         s->name);
}

/* wrap_template builds the pod {apiVersion: v1, kind: Pod, metadata, spec}
 * of a template; metadata and spec are shared with the template, not
 * copied. NULL on RC_NOMEM. */
static json_t *
wrap_template(json_t *tmpl)
{
    json_t *pod = json_object();                      /* owned */
    json_t *meta = json_object_get(tmpl, "metadata"); /* borrowed */
    json_t *spec = json_object_get(tmpl, "spec");     /* borrowed */

    if (pod == NULL)
        return NULL;
    if (json_object_set_new(pod, "apiVersion", json_string("v1")) != 0 ||
        json_object_set_new(pod, "kind", json_string("Pod")) != 0 ||
        (meta && json_object_set(pod, "metadata", meta) != 0) ||
        (spec && json_object_set(pod, "spec", spec) != 0)) {
        json_decref(pod);
        return NULL;
    }
    return pod;
}

/* unwrap_into writes the injected pod's metadata and spec into the
 * template. A template without metadata gets it first, where kubectl puts
 * it. 0 or RC_NOMEM (the template may then be partly rewritten: the
 * caller drops the documents). */
static int
unwrap_into(json_t *tmpl, json_t *pod)
{
    json_t *meta = json_object_get(pod, "metadata"); /* borrowed */
    json_t *spec = json_object_get(pod, "spec");     /* borrowed */
    json_t *fresh = NULL;                            /* owned */
    const char *key;
    json_t *val; /* borrowed */
    int rc = RC_NOMEM;

    if (meta && json_object_get(tmpl, "metadata") == NULL) {
        if ((fresh = json_object()) == NULL ||
            json_object_set(fresh, "metadata", meta) != 0)
            goto out;
        json_object_foreach(tmpl, key, val)
        {
            if (json_object_set(fresh, key, val) != 0)
                goto out;
        }
        if (spec && json_object_set(fresh, "spec", spec) != 0)
            goto out;
        /* fresh holds every value: clear tmpl and refill it in order */
        json_object_clear(tmpl);
        if (json_object_update(tmpl, fresh) != 0)
            goto out;
        rc = 0;
        goto out;
    }
    if (meta && json_object_set(tmpl, "metadata", meta) != 0)
        goto out;
    if (spec && json_object_set(tmpl, "spec", spec) != 0)
        goto out;
    rc = 0;
out:
    json_decref(fresh);
    return rc;
}

/* visit_template runs the callback on a pod template and writes the
 * result back. */
static int
visit_template(json_t *tmpl, struct kinj_site *site, kinj_fn fn, void *ctx,
               struct kinj_stats *st)
{
    json_t *pod = NULL; /* owned */
    json_t *out = NULL; /* owned */
    int rc;

    if ((pod = wrap_template(tmpl)) == NULL)
        return RC_NOMEM;
    site->pod = pod;
    site->is_template = 1;
    st->pods++;
    rc = fn(ctx, site, &out);
    if (rc == 0 && out != NULL) {
        rc = unwrap_into(tmpl, out);
        if (rc == 0)
            st->injected++;
    }
    site->pod = NULL;
    json_decref(out);
    json_decref(pod);
    return rc;
}

static const char *
str_or(const json_t *obj, const char *dotted, const char *def)
{
    const char *s = jutil_path_str(obj, dotted);

    return s && s[0] ? s : def;
}

/* visit_object handles one object (a document or a List item); *slot is
 * replaced when a Pod document is rewritten. */
static int
visit_object(json_t *arr, size_t idx, int doc, int item, kinj_fn fn, void *ctx,
             struct kinj_stats *st)
{
    json_t *obj = json_array_get(arr, idx); /* borrowed */
    json_t *tmpl;                           /* borrowed */
    json_t *out = NULL;                     /* owned */
    struct kinj_site site = {.doc = doc, .item = item};
    int cls, rc = 0;

    if (!json_is_object(obj))
        return 0;
    site.kind = jutil_str(obj, "kind");
    site.api_version = str_or(obj, "apiVersion", "");
    cls = kinj_kind_class(site.api_version, site.kind);
    if (cls == KINJ_OTHER)
        return 0;
    site.name = str_or(obj, "metadata.name", "");
    if (site.name[0] == '\0')
        site.name = str_or(obj, "metadata.generateName", "");
    site.ns = str_or(obj, "metadata.namespace", "default");

    switch (cls) {
    case KINJ_POD:
        site.pod = obj;
        st->pods++;
        rc = fn(ctx, &site, &out);
        if (rc == 0 && out != NULL) {
            if (json_array_set(arr, idx, out) != 0)
                rc = errmsg_set(RC_NOMEM, "out of memory");
            else
                st->injected++;
        }
        json_decref(out);
        break;
    case KINJ_TEMPLATE:
        tmpl = jutil_path(obj, "spec.template");
        if (!json_is_object(tmpl))
            rc =
                errmsg_set(RC_INVAL, "field spec.template is missing or not an "
                                     "object");
        else
            rc = visit_template(tmpl, &site, fn, ctx, st);
        break;
    case KINJ_CRONJOB:
        tmpl = jutil_path(obj, "spec.jobTemplate.spec.template");
        if (!json_is_object(tmpl))
            rc = errmsg_set(RC_INVAL, "field spec.jobTemplate.spec.template "
                                      "is missing or not an object");
        else
            rc = visit_template(tmpl, &site, fn, ctx, st);
        break;
    case KINJ_LIST: {
        json_t *items = json_object_get(obj, "items"); /* borrowed */

        if (item > 0 || items == NULL || json_is_null(items))
            return 0; /* nested lists are left alone, as kubectl does */
        if (!json_is_array(items)) {
            rc = errmsg_set(RC_INVAL, "field items is not a list");
            break;
        }
        for (size_t i = 0; i < json_array_size(items); i++) {
            rc = visit_object(items, i, doc, (int)i + 1, fn, ctx, st);
            if (rc != 0)
                return rc; /* already named by the item */
        }
        return 0;
    }
    }
    if (rc == RC_NOMEM && errmsg_get()[0] == '\0')
        errmsg_set(rc, "out of memory");
    return rc ? name_doc(rc, &site) : 0;
}

int
kinj_walk(json_t *docs, kinj_fn fn, void *ctx, struct kinj_stats *stats)
{
    struct kinj_stats local = {0};
    struct kinj_stats *st = stats ? stats : &local;
    int rc;

    *st = (struct kinj_stats){0};
    if (!json_is_array(docs))
        return errmsg_set(RC_INVAL, "documents must be an array");
    for (size_t i = 0; i < json_array_size(docs); i++) {
        st->docs++;
        errmsg_clear();
        rc = visit_object(docs, i, (int)i + 1, 0, fn, ctx, st);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* looks_like_json: the first significant byte opens a JSON object. */
static int
looks_like_json(const char *p, size_t n)
{
    size_t i = 0;

    if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < n &&
           (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i < n && p[i] == '{';
}

int
kinj_read_docs(json_t **out, const char *text, size_t len)
{
    json_t *doc = NULL;  /* owned */
    json_t *docs = NULL; /* owned */
    int rc;

    *out = NULL;
    /* JSON is YAML, but a JSON file may use tabs or other things libyaml
     * reads differently: try it as JSON first, fall back to YAML (whose
     * errors carry line numbers) */
    if (looks_like_json(text, len) && jutil_parse(&doc, text, len, NULL) == 0) {
        if ((docs = json_array()) == NULL ||
            json_array_append_new(docs, doc) != 0) {
            json_decref(docs);
            return errmsg_set(RC_NOMEM, "out of memory");
        }
        *out = docs;
        return 0;
    }
    rc = yj_load_all(&docs, text, len, NULL);
    if (rc != 0)
        return rc;
    *out = docs;
    return 0;
}

static int
dump_cb(const char *p, size_t n, void *data)
{
    return buf_add(data, p, n) == 0 ? 0 : -1;
}

int
kinj_write_docs(const json_t *docs, enum kinj_format fmt, struct buf *out)
{
    json_t *list = NULL; /* owned */
    int rc;

    if (fmt == KINJ_JSON) {
        const json_t *v = docs;

        if (json_array_size(docs) == 1) {
            v = json_array_get(docs, 0);
        } else {
            /* json_pack's "O" only takes a reference: docs is not changed */
            list = json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind",
                             "List", "items", (json_t *)docs);
            if (list == NULL)
                return errmsg_set(RC_NOMEM, "out of memory");
            v = list;
        }
        rc = json_dump_callback(v, dump_cb, out, JSON_INDENT(4)) != 0
                 ? RC_NOMEM
                 : buf_addc(out, '\n');
        json_decref(list);
        return rc ? errmsg_set(rc, "cannot write the output (memory or "
                                   "size limit)")
                  : 0;
    }
    for (size_t i = 0; i < json_array_size(docs); i++) {
        if (i > 0 && (rc = buf_addstr(out, "---\n")) != 0)
            return errmsg_set(rc, "output too large");
        if ((rc = yj_dump(json_array_get(docs, i), out)) != 0)
            return rc;
    }
    return 0;
}
