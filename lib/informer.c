/* informer.c: the informer's store - slim objects, indexes, the write path
 * (apply, replace) and reads (see informer.h). The list/watch/resync thread
 * is in infrun.c.
 *
 * Invariants:
 * - every stored object is in `objs` (by key) and linked into each index
 *   bucket its index function emitted, through idx_links it owns;
 * - rw guards objs, indexes and each object's links/gen; `mu` serializes
 *   writers and handler calls (taken before rw, never inside a handler);
 * - a bucket exists only while it has links. */
#include "lib/informer.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/infpriv.h"
#include "lib/jsel.h"
#include "lib/jutil.h"
#include "lib/kubewatch.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <string.h>

/* ---- slim objects ---- */

const char *
inf_obj_key(const struct inf_obj *o)
{
    return o->data;
}

const char *
inf_obj_ns(const struct inf_obj *o)
{
    return o->data + o->ns_off;
}

const char *
inf_obj_name(const struct inf_obj *o)
{
    return o->data + o->name_off;
}

const char *
inf_obj_uid(const struct inf_obj *o)
{
    return o->data + o->uid_off;
}

const char *
inf_obj_rv(const struct inf_obj *o)
{
    return o->data + o->rv_off;
}

int
inf_obj_deleting(const struct inf_obj *o)
{
    return o->deleting;
}

int
inf_obj_nlabels(const struct inf_obj *o)
{
    return o->nlabels;
}

int
inf_obj_label_at(const struct inf_obj *o, int i, const char **k, const char **v)
{
    const char *p = o->data + o->labels_off;

    if (i < 0 || i >= o->nlabels)
        return RC_NOTFOUND;
    for (int j = 0; j < i; j++) {
        p += strlen(p) + 1;
        p += strlen(p) + 1;
    }
    *k = p;
    *v = p + strlen(p) + 1;
    return 0;
}

const char *
inf_obj_label(const struct inf_obj *o, const char *key)
{
    const char *p = o->data + o->labels_off;

    for (int j = 0; j < o->nlabels; j++) {
        const char *v = p + strlen(p) + 1;
        if (strcmp(p, key) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

const void *
inf_obj_blob(const struct inf_obj *o, size_t *len)
{
    if (len)
        *len = o->blob_len;
    return o->data + o->blob_off;
}

const char *
inf_obj_field(const struct inf_obj *o, const char *name)
{
    const char *p = o->data + o->blob_off, *end = p + o->blob_len;

    while (p < end) {
        const char *n = p, *v, *vend;
        const char *nend = memchr(n, 0, (size_t)(end - n));
        if (nend == NULL)
            return NULL;
        v = nend + 1;
        if (v >= end || (vend = memchr(v, 0, (size_t)(end - v))) == NULL)
            return NULL;
        if (strcmp(n, name) == 0)
            return v;
        p = vend + 1;
    }
    return NULL;
}

size_t
inf_obj_size(const struct inf_obj *o)
{
    return o->size;
}

void
inf_obj_ref(struct inf_obj *o)
{
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

void
inf_obj_unref(struct inf_obj *o)
{
    if (o && atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
        mem_free(o);
}

int
inf_blob_field(struct buf *blob, const char *name, const char *value)
{
    int rc;
    size_t len = blob->len;

    if ((rc = buf_add(blob, name, strlen(name) + 1)) != 0 ||
        (rc = buf_add(blob, value ? value : "",
                      strlen(value ? value : "") + 1)) != 0)
        blob->len = len; /* all or nothing */
    return rc;
}

/* build_obj makes a slim object from a (pruned) API object. Called under
 * inf->mu (uses the scratch blob). */
static int
build_obj(struct informer *inf, const json_t *obj, struct inf_obj **out)
{
    const json_t *md = json_object_get(obj, "metadata"); /* borrowed */
    const json_t *labels =
        inf->o.no_labels ? NULL : json_object_get(md, "labels");
    const char *name = jutil_str(md, "name"), *ns = jutil_str(md, "namespace");
    const char *uid = jutil_str(md, "uid"),
               *rv = jutil_str(md, "resourceVersion");
    const char *k;
    json_t *v; /* borrowed */
    size_t nl, nsl, ul, rl, ll = 0, size;
    int nlabels = 0, rc;
    struct inf_obj *o;
    char *p;

    *out = NULL;
    if (name == NULL || *name == 0)
        return errmsg_set(RC_INVAL, "object without metadata.name");
    ns = ns ? ns : "";
    uid = uid ? uid : "";
    rv = rv ? rv : "";
    nl = strlen(name);
    nsl = strlen(ns);
    ul = strlen(uid);
    rl = strlen(rv);
    if (2 * nsl + nl + ul + rl + 8 > 60000)
        return errmsg_set(RC_LIMIT, "object %.64s: metadata too long", name);
    json_object_foreach((json_t *)labels, k, v)
    {
        if (json_is_string(v) && nlabels < 65535) {
            ll += strlen(k) + 1 + json_string_length(v) + 1;
            nlabels++;
        }
    }
    buf_reset(&inf->blob);
    if (inf->o.project &&
        (rc = inf->o.project(inf->o.project_ud, obj, &inf->blob)) != 0)
        return rc;
    /* data: key\0 ns\0 uid\0 rv\0 labels blob; the name is the key's tail */
    size = sizeof(*o) + (nsl ? nsl + 1 : 0) + nl + 1 + nsl + 1 + ul + 1 + rl +
           1 + ll + inf->blob.len;
    if (size > UINT32_MAX)
        return errmsg_set(RC_LIMIT, "object %s too large", name);
    o = mem_alloc(size);
    if (o == NULL)
        return errmsg_set(RC_NOMEM, "out of memory storing %s", name);
    memset(o, 0, sizeof(*o));
    atomic_init(&o->refs, 1);
    o->size = (uint32_t)size;
    p = o->data;
    if (nsl) {
        memcpy(p, ns, nsl);
        p[nsl] = '/';
        p += nsl + 1;
    }
    o->name_off = (uint16_t)(p - o->data);
    memcpy(p, name, nl + 1);
    p += nl + 1;
    o->ns_off = (uint16_t)(p - o->data);
    memcpy(p, ns, nsl + 1);
    p += nsl + 1;
    o->uid_off = (uint16_t)(p - o->data);
    memcpy(p, uid, ul + 1);
    p += ul + 1;
    o->rv_off = (uint16_t)(p - o->data);
    memcpy(p, rv, rl + 1);
    p += rl + 1;
    o->labels_off = (uint16_t)(p - o->data);
    json_object_foreach((json_t *)labels, k, v)
    {
        if (json_is_string(v) && o->nlabels < nlabels) {
            size_t kl = strlen(k) + 1, vl = json_string_length(v);
            memcpy(p, k, kl);
            p += kl;
            memcpy(p, json_string_value(v), vl);
            p[vl] = 0;
            p += vl + 1;
            o->nlabels++;
        }
    }
    o->blob_off = (uint32_t)(p - o->data);
    o->blob_len = (uint32_t)inf->blob.len;
    if (inf->blob.len)
        memcpy(p, inf->blob.ptr, inf->blob.len);
    o->deleting = !json_is_null(json_object_get(md, "deletionTimestamp")) &&
                  json_object_get(md, "deletionTimestamp") != NULL;
    if (inf->blob.cap > 65536)
        buf_cleanup(&inf->blob);
    *out = o;
    return 0;
}

/* ---- indexes ---- */

static struct inf_index *
find_index(struct informer *inf, const char *name)
{
    for (int i = 0; i < inf->nindex; i++)
        if (strcmp(inf->index[i].name, name) == 0)
            return &inf->index[i];
    return NULL;
}

static void
unlink_one(struct inf_index *ix, struct inf_idx_link *l)
{
    struct inf_idx_bucket *b = l->b;

    if (l->prev)
        l->prev->next = l->next;
    else
        b->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    if (--b->n == 0) {
        kwhash_remove(&ix->buckets, &b->node);
        mem_free(b);
    }
    mem_free(l);
}

static void
unlink_obj(struct informer *inf, struct inf_obj *o)
{
    struct inf_idx_link *l = o->links, *next;

    for (; l; l = next) {
        next = l->onext;
        unlink_one(&inf->index[l->ix], l);
    }
    o->links = NULL;
}

struct emit_ctx {
    struct informer *inf;
    struct inf_index *ix;
    int ixn;
    struct inf_obj *o;
};

static int
emit(void *ctxp, const char *value)
{
    struct emit_ctx *c = ctxp;
    struct kwhash_node *n = kwhash_find(&c->ix->buckets, value);
    struct inf_idx_bucket *b;
    struct inf_idx_link *l;

    /* one link per (index, value): a repeated value is ignored */
    if (n != NULL) {
        b = KWHASH_ENTRY(n, struct inf_idx_bucket, node);
        for (l = c->o->links; l; l = l->onext)
            if (l->b == b)
                return 0;
    }
    l = mem_calloc(1, sizeof(*l));
    if (l == NULL)
        return RC_NOMEM;
    if (n == NULL) {
        size_t len = strlen(value);
        b = mem_calloc(1, sizeof(*b) + len + 1);
        if (b == NULL) {
            mem_free(l);
            return RC_NOMEM;
        }
        memcpy(b->value, value, len + 1);
        if (kwhash_insert(&c->ix->buckets, &b->node, b->value) != 0) {
            mem_free(b);
            mem_free(l);
            return RC_NOMEM;
        }
    } else {
        b = KWHASH_ENTRY(n, struct inf_idx_bucket, node);
    }
    l->b = b;
    l->obj = c->o;
    l->ix = c->ixn;
    l->next = b->head;
    if (b->head)
        b->head->prev = l;
    b->head = l;
    b->n++;
    l->onext = c->o->links;
    c->o->links = l;
    return 0;
}

static int
ns_index(void *ud, const struct inf_obj *o, inf_emit_fn fn, void *ctx)
{
    (void)ud;
    return fn(ctx, inf_obj_ns(o));
}

/* link_obj links o into every index; all or nothing. */
static int
link_obj(struct informer *inf, struct inf_obj *o)
{
    for (int i = 0; i < inf->nindex; i++) {
        struct emit_ctx c = {inf, &inf->index[i], i, o};
        int rc = inf->index[i].fn(inf->index[i].ud, o, emit, &c);
        if (rc != 0) {
            unlink_obj(inf, o);
            return rc;
        }
    }
    return 0;
}

int
inf_add_index(struct informer *inf, const char *name, inf_index_fn fn, void *ud)
{
    struct inf_index *ix;

    if (find_index(inf, name) != NULL)
        return errmsg_set(RC_INVAL, "index %s exists", name);
    ix = mem_realloc(inf->index, (size_t)(inf->nindex + 1) * sizeof(*ix));
    if (ix == NULL)
        return RC_NOMEM;
    inf->index = ix;
    ix = &inf->index[inf->nindex];
    memset(ix, 0, sizeof(*ix));
    ix->name = mem_strdup(name);
    if (ix->name == NULL)
        return RC_NOMEM;
    ix->fn = fn;
    ix->ud = ud;
    kwhash_init(&ix->buckets);
    inf->nindex++;
    return 0;
}

/* ---- life cycle ---- */

static const char *const base_paths[] = {"metadata.name", "metadata.namespace",
                                         "metadata.uid",
                                         "metadata.deletionTimestamp", NULL};

int
inf_new(struct informer **out, const struct inf_opts *o)
{
    struct informer *inf = NULL;
    const char **paths = NULL;
    size_t n = 0, np = 0;
    int rc = RC_NOMEM;

    *out = NULL;
    if (o == NULL || o->res == NULL)
        return errmsg_set(RC_INVAL, "informer without a resource");
    inf = mem_calloc(1, sizeof(*inf));
    if (inf == NULL)
        return RC_NOMEM;
    inf->o = *o;
    inf->o.ns = inf->o.label_selector = inf->o.field_selector = NULL;
    inf->o.paths = NULL;
    if ((o->ns && (inf->o.ns = mem_strdup(o->ns)) == NULL) ||
        (o->label_selector &&
         (inf->o.label_selector = mem_strdup(o->label_selector)) == NULL) ||
        (o->field_selector &&
         (inf->o.field_selector = mem_strdup(o->field_selector)) == NULL))
        goto fail;
    kwhash_init(&inf->objs);
    buf_init(&inf->blob, (size_t)1 << 20);
    pthread_mutex_init(&inf->mu, NULL);
    pthread_rwlock_init(&inf->rw, NULL);
    infrun_init(inf);
    while (o->paths && o->paths[np])
        np++;
    paths = mem_calloc(np + 6, sizeof(*paths));
    if (paths == NULL)
        goto fail;
    for (size_t i = 0; base_paths[i]; i++)
        paths[n++] = base_paths[i];
    if (!o->no_labels)
        paths[n++] = "metadata.labels";
    for (size_t i = 0; i < np; i++)
        paths[n++] = o->paths[i];
    if ((rc = kube_watch_select_new(&inf->sel, paths)) != 0)
        goto fail;
    mem_free(paths);
    paths = NULL;
    if ((rc = inf_add_index(inf, "namespace", ns_index, NULL)) != 0)
        goto fail;
    *out = inf;
    return 0;
fail:
    mem_free(paths);
    inf_free(inf);
    return rc;
}

void
inf_free(struct informer *inf)
{
    size_t pos = 0;
    struct kwhash_node *cur = NULL, *n;

    if (inf == NULL)
        return;
    inf_stop(inf);
    while ((n = kwhash_next(&inf->objs, &pos, &cur)) != NULL) {
        struct inf_obj *o = KWHASH_ENTRY(n, struct inf_obj, node);
        unlink_obj(inf, o);
        inf_obj_unref(o);
    }
    kwhash_cleanup(&inf->objs);
    for (int i = 0; i < inf->nindex; i++) {
        kwhash_cleanup(&inf->index[i].buckets);
        mem_free(inf->index[i].name);
    }
    mem_free(inf->index);
    jsel_free(inf->sel);
    buf_cleanup(&inf->blob);
    infrun_cleanup(inf);
    pthread_rwlock_destroy(&inf->rw);
    pthread_mutex_destroy(&inf->mu);
    mem_free((char *)inf->o.ns);
    mem_free((char *)inf->o.label_selector);
    mem_free((char *)inf->o.field_selector);
    mem_free(inf);
}

void
inf_set_handlers(struct informer *inf, const struct inf_handlers *h)
{
    pthread_mutex_lock(&inf->mu);
    if (h)
        inf->h = *h;
    else
        memset(&inf->h, 0, sizeof(inf->h));
    pthread_mutex_unlock(&inf->mu);
}

const struct jsel *
inf_selection(struct informer *inf)
{
    return inf->sel;
}

/* ---- write path (callers hold inf->mu) ---- */

static struct inf_obj *
lookup(struct informer *inf, const char *key)
{
    struct kwhash_node *n = kwhash_find(&inf->objs, key);

    return n ? KWHASH_ENTRY(n, struct inf_obj, node) : NULL;
}

/* put stores o (the store takes the reference) and returns the object it
 * replaced (the caller's reference now) or NULL. */
static int
put(struct informer *inf, struct inf_obj *o, struct inf_obj **old)
{
    struct inf_obj *prev;
    int rc;

    *old = NULL;
    pthread_rwlock_wrlock(&inf->rw);
    if ((rc = link_obj(inf, o)) != 0)
        goto out;
    prev = lookup(inf, inf_obj_key(o));
    if (prev) {
        kwhash_remove(&inf->objs, &prev->node);
        unlink_obj(inf, prev);
        inf->bytes -= prev->size;
    }
    if ((rc = kwhash_insert(&inf->objs, &o->node, inf_obj_key(o))) != 0) {
        /* only possible with an empty table, so prev is NULL */
        unlink_obj(inf, o);
        goto out;
    }
    o->gen = inf->gen;
    inf->bytes += o->size;
    *old = prev;
out:
    pthread_rwlock_unlock(&inf->rw);
    return rc;
}

static struct inf_obj *
take(struct informer *inf, const char *key)
{
    struct inf_obj *o;

    pthread_rwlock_wrlock(&inf->rw);
    o = lookup(inf, key);
    if (o) {
        kwhash_remove(&inf->objs, &o->node);
        unlink_obj(inf, o);
        inf->bytes -= o->size;
    }
    pthread_rwlock_unlock(&inf->rw);
    return o;
}

static int
apply_locked(struct informer *inf, int type, const json_t *obj)
{
    struct inf_obj *o = NULL, *old = NULL;
    int rc;

    if ((rc = build_obj(inf, obj, &o)) != 0)
        return rc;
    if (type == KUBE_WATCH_DELETED) {
        old = take(inf, inf_obj_key(o));
        if (old != NULL) {
            inf->st.deletes++;
            if (inf->h.on_delete)
                inf->h.on_delete(inf->h.ud, o, 0);
        }
        inf_obj_unref(old);
        inf_obj_unref(o);
        return 0;
    }
    if ((rc = put(inf, o, &old)) != 0) {
        inf_obj_unref(o);
        return rc;
    }
    if (old) {
        inf->st.updates++;
        if (inf->h.on_update)
            inf->h.on_update(inf->h.ud, old, o);
        inf_obj_unref(old);
    } else {
        inf->st.adds++;
        if (inf->h.on_add)
            inf->h.on_add(inf->h.ud, o);
    }
    return 0;
}

int
inf_apply(struct informer *inf, int type, const json_t *obj)
{
    int rc;

    if (type != KUBE_WATCH_ADDED && type != KUBE_WATCH_MODIFIED &&
        type != KUBE_WATCH_DELETED)
        return errmsg_set(RC_INVAL, "not an object event: %d", type);
    pthread_mutex_lock(&inf->mu);
    inf->st.events++;
    rc = apply_locked(inf, type, obj);
    pthread_mutex_unlock(&inf->mu);
    return rc;
}

void
inf_replace_begin(struct informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    pthread_rwlock_wrlock(&inf->rw);
    inf->gen++;
    pthread_rwlock_unlock(&inf->rw);
    pthread_mutex_unlock(&inf->mu);
}

static int
key_of(const json_t *obj, char *key, size_t cap)
{
    const json_t *md = json_object_get(obj, "metadata");
    const char *ns = jutil_str(md, "namespace"), *name = jutil_str(md, "name");
    int n;

    if (name == NULL)
        return -1;
    n = ns && *ns ? snprintf(key, cap, "%s/%s", ns, name)
                  : snprintf(key, cap, "%s", name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int
inf_replace_item(struct informer *inf, const json_t *obj)
{
    const char *rv = jutil_path_str(obj, "metadata.resourceVersion");
    char key[512];
    struct inf_obj *cur;
    int rc = 0;

    pthread_mutex_lock(&inf->mu);
    if (rv && key_of(obj, key, sizeof(key)) == 0) {
        pthread_rwlock_wrlock(&inf->rw);
        cur = lookup(inf, key);
        if (cur && strcmp(inf_obj_rv(cur), rv) == 0)
            cur->gen = inf->gen; /* unchanged: keep, do not re-deliver */
        else
            cur = NULL;
        pthread_rwlock_unlock(&inf->rw);
        if (cur)
            goto out;
    }
    rc = apply_locked(inf, KUBE_WATCH_MODIFIED, obj);
out:
    pthread_mutex_unlock(&inf->mu);
    return rc;
}

void
inf_replace_end(struct informer *inf)
{
    struct inf_obj *gone = NULL, *o;
    size_t pos = 0;
    struct kwhash_node *cur = NULL, *n;

    pthread_mutex_lock(&inf->mu);
    pthread_rwlock_wrlock(&inf->rw);
    while ((n = kwhash_next(&inf->objs, &pos, &cur)) != NULL) {
        o = KWHASH_ENTRY(n, struct inf_obj, node);
        if (o->gen == inf->gen)
            continue;
        kwhash_remove(&inf->objs, &o->node);
        unlink_obj(inf, o);
        inf->bytes -= o->size;
        o->node.next = (struct kwhash_node *)gone; /* reuse: a free list */
        gone = o;
    }
    pthread_rwlock_unlock(&inf->rw);
    while ((o = gone) != NULL) {
        gone = (struct inf_obj *)(void *)o->node.next;
        inf->st.deletes++;
        if (inf->h.on_delete)
            inf->h.on_delete(inf->h.ud, o, 1);
        inf_obj_unref(o);
    }
    infrun_mark_synced(inf);
    pthread_mutex_unlock(&inf->mu);
}

static int
resync_one(void *ud, const struct inf_obj *o)
{
    struct informer *inf = ud;

    inf->h.on_update(inf->h.ud, o, o);
    return 0;
}

void
inf_resync(struct informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    inf->st.resyncs++;
    /* handlers run under the read lock here: they must not write to this
     * informer (they never do: they only enqueue keys). */
    if (inf->h.on_update)
        inf_foreach(inf, resync_one, inf);
    pthread_mutex_unlock(&inf->mu);
}

/* ---- reads ---- */

int
inf_get(struct informer *inf, const char *ns, const char *name,
        struct inf_obj **out)
{
    char key[512];
    struct inf_obj *o;
    int n = ns && *ns ? snprintf(key, sizeof(key), "%s/%s", ns, name)
                      : snprintf(key, sizeof(key), "%s", name);

    *out = NULL;
    if (n < 0 || (size_t)n >= sizeof(key))
        return errmsg_set(RC_NOTFOUND, "no such object (name too long)");
    pthread_rwlock_rdlock(&inf->rw);
    o = lookup(inf, key);
    if (o)
        inf_obj_ref(o);
    pthread_rwlock_unlock(&inf->rw);
    if (o == NULL)
        return errmsg_set(RC_NOTFOUND, "%s not in the cache", key);
    *out = o;
    return 0;
}

size_t
inf_count(struct informer *inf)
{
    size_t n;

    pthread_rwlock_rdlock(&inf->rw);
    n = inf->objs.count;
    pthread_rwlock_unlock(&inf->rw);
    return n;
}

int
inf_foreach(struct informer *inf, inf_visit_fn fn, void *ud)
{
    size_t pos = 0;
    struct kwhash_node *cur = NULL, *n;
    int rc = 0;

    pthread_rwlock_rdlock(&inf->rw);
    while (rc == 0 && (n = kwhash_next(&inf->objs, &pos, &cur)) != NULL)
        rc = fn(ud, KWHASH_ENTRY(n, struct inf_obj, node));
    pthread_rwlock_unlock(&inf->rw);
    return rc;
}

int
inf_by_index(struct informer *inf, const char *index, const char *value,
             inf_visit_fn fn, void *ud)
{
    struct inf_index *ix;
    struct kwhash_node *n;
    int rc = 0;

    pthread_rwlock_rdlock(&inf->rw);
    ix = find_index(inf, index);
    if (ix == NULL) {
        pthread_rwlock_unlock(&inf->rw);
        return errmsg_set(RC_NOTFOUND, "no index %s", index);
    }
    n = kwhash_find(&ix->buckets, value);
    if (n != NULL) {
        struct inf_idx_bucket *b = KWHASH_ENTRY(n, struct inf_idx_bucket, node);
        for (struct inf_idx_link *l = b->head; l && rc == 0; l = l->next)
            rc = fn(ud, l->obj);
    }
    pthread_rwlock_unlock(&inf->rw);
    return rc;
}

void
inf_get_stats(struct informer *inf, struct inf_stats *out)
{
    pthread_mutex_lock(&inf->mu);
    *out = inf->st;
    pthread_mutex_unlock(&inf->mu);
    pthread_rwlock_rdlock(&inf->rw);
    out->objects = inf->objs.count;
    out->bytes = inf->bytes;
    pthread_rwlock_unlock(&inf->rw);
}
