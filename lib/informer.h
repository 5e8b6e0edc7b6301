/* informer.h: list + watch into an in-memory, indexed store of SLIM objects.
 *
 * An informer keeps one Kubernetes collection in memory the way client-go's
 * shared informer does (LIST, then WATCH from the list's resourceVersion,
 * relist on 410, handlers for add/update/delete, optional resync), but it
 * never keeps whole objects. Each object is one immutable allocation:
 *   key "ns/name" (or "name"), namespace, uid, resourceVersion, the labels
 *   (packed strings) and a user blob written by a projection callback
 * (e.g. a pod's IP, service account and ports: tens of bytes instead of the
 * ~4-10 KB of JSON, and instead of the ~36 KiB a Go client keeps per pod).
 * The watch parses only the paths the informer declares (jsel), so the
 * whole object is never built either.
 *
 * Threads: events are applied on the watch loop thread, lists and resyncs
 * on the informer's own thread; one mutex serializes all changes and
 * handler calls (handlers never run concurrently for one informer). Reads
 * (inf_get, inf_foreach, inf_by_index, inf_count) take a read lock and may
 * come from any thread. Objects are reference-counted: a reader may keep
 * one past the lock with inf_obj_ref/inf_obj_unref.
 *
 * Relist: the store is replaced by the list; objects the list no longer has
 * are removed and delivered to on_delete with final_state_unknown = 1 (the
 * delete happened while the watch was down). Objects whose resourceVersion
 * did not change are not re-delivered. */
#ifndef MZ_INFORMER_H
#define MZ_INFORMER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct kube_client;
struct kube_res;
struct kube_watch_loop;
struct informer;
struct inf_obj;

/* ---- slim objects (immutable once stored) ---- */
const char *inf_obj_key(const struct inf_obj *o); /* "ns/name" or "name" */
const char *inf_obj_ns(const struct inf_obj *o);  /* "" cluster-scoped */
const char *inf_obj_name(const struct inf_obj *o);
const char *inf_obj_uid(const struct inf_obj *o);
const char *inf_obj_rv(const struct inf_obj *o);
int inf_obj_deleting(const struct inf_obj *o); /* deletionTimestamp set */
/* inf_obj_label: the value or NULL. inf_obj_label_at: i-th pair, 0 or
 * RC_NOTFOUND past the end. */
const char *inf_obj_label(const struct inf_obj *o, const char *key);
int inf_obj_label_at(const struct inf_obj *o, int i, const char **k,
                     const char **v);
int inf_obj_nlabels(const struct inf_obj *o);
/* The projection's blob (borrowed; len may be NULL). */
const void *inf_obj_blob(const struct inf_obj *o, size_t *len);
/* inf_obj_field: a value the projection stored with inf_blob_field. */
const char *inf_obj_field(const struct inf_obj *o, const char *name);
/* inf_obj_size: bytes of the object's allocation (for memory figures). */
size_t inf_obj_size(const struct inf_obj *o);
void inf_obj_ref(struct inf_obj *o);
void inf_obj_unref(struct inf_obj *o); /* NULL is a no-op */

/* A projection appends whatever it needs to blob (a packed struct, or
 * name/value strings with inf_blob_field). It sees the object as parsed:
 * only the declared paths are present. Non-zero fails the event (the
 * object is then not stored; the informer relists). */
typedef int (*inf_project_fn)(void *ud, const json_t *obj, struct buf *blob);
/* inf_blob_field appends "name\0value\0": 0, RC_NOMEM, RC_LIMIT. */
int inf_blob_field(struct buf *blob, const char *name, const char *value);

/* An index function emits 0..n index values for an object. */
typedef int (*inf_emit_fn)(void *ctx, const char *value);
typedef int (*inf_index_fn)(void *ud, const struct inf_obj *o, inf_emit_fn emit,
                            void *ctx);

struct inf_handlers {
    void (*on_add)(void *ud, const struct inf_obj *o);
    /* old == cur on a resync */
    void (*on_update)(void *ud, const struct inf_obj *old,
                      const struct inf_obj *cur);
    void (*on_delete)(void *ud, const struct inf_obj *o,
                      int final_state_unknown);
    void *ud;
};

struct inf_opts {
    const struct kube_res *res;                  /* borrowed */
    const char *ns;                              /* NULL: all namespaces */
    const char *label_selector, *field_selector; /* may be NULL */
    /* paths (relative to the object) the projection and index functions
     * read; metadata name/namespace/uid/resourceVersion/labels/
     * deletionTimestamp are always kept. NULL-terminated, may be NULL. */
    const char *const *paths;
    inf_project_fn project; /* may be NULL: no blob */
    void *project_ud;
    int no_labels;      /* do not keep labels */
    int resync_ms;      /* 0: no resync; else jittered by +-10% */
    int list_limit;     /* page size; 0: 500 */
    int backoff_max_ms; /* list retry cap; 0: 30000 */
};

/* inf_new copies what it needs from o. *out only on success: RC_NOMEM,
 * RC_INVAL. */
int inf_new(struct informer **out, const struct inf_opts *o);
/* inf_free stops the informer if running and frees the store. */
void inf_free(struct informer *inf);

/* Before start: handlers and extra indexes ("namespace" always exists). */
void inf_set_handlers(struct informer *inf, const struct inf_handlers *h);
int inf_add_index(struct informer *inf, const char *name, inf_index_fn fn,
                  void *ud);

/* inf_start lists (RV "0", paged) and watches through loop (both borrowed,
 * must outlive the informer's run). 0, RC_INTERNAL (thread). */
int inf_start(struct informer *inf, struct kube_client *c,
              struct kube_watch_loop *loop);
/* inf_stop removes the watch and joins the thread; no handler runs after
 * it returns. Idempotent. */
void inf_stop(struct informer *inf);

int inf_has_synced(struct informer *inf);
/* inf_wait_synced: 0 or RC_TIMEOUT. */
int inf_wait_synced(struct informer *inf, int timeout_ms);

/* ---- reads (any thread) ---- */
/* inf_get: *out is a new reference (inf_obj_unref); RC_NOTFOUND. ns may be
 * NULL for cluster-scoped objects. */
int inf_get(struct informer *inf, const char *ns, const char *name,
            struct inf_obj **out);
size_t inf_count(struct informer *inf);
/* fn is called under the read lock (keep it short; no informer writes);
 * non-zero stops the walk and is returned. */
typedef int (*inf_visit_fn)(void *ud, const struct inf_obj *o);
int inf_foreach(struct informer *inf, inf_visit_fn fn, void *ud);
/* inf_by_index visits the objects with this index value; RC_NOTFOUND for an
 * unknown index name. */
int inf_by_index(struct informer *inf, const char *index, const char *value,
                 inf_visit_fn fn, void *ud);

struct inf_stats {
    uint64_t lists, relists, list_errors, events, adds, updates, deletes,
        resyncs, bad_events;
    size_t objects, bytes; /* objects and their allocation bytes */
};
void inf_get_stats(struct informer *inf, struct inf_stats *out);

/* ---- the store's write path (used by the watch and the list; public for
 * tests and the benchmark) ---- */
/* inf_apply applies one watch event type (KUBE_WATCH_ADDED/MODIFIED/
 * DELETED) with its (possibly pruned) object and calls the handlers.
 * 0, RC_NOMEM, RC_INVAL (no metadata.name), or the projection's code; on
 * failure the store is unchanged. */
int inf_apply(struct informer *inf, int type, const json_t *obj);
/* A relist: begin, one replace_item per listed object, end (which removes
 * and delivers what was not listed). end also marks the store synced. */
void inf_replace_begin(struct informer *inf);
int inf_replace_item(struct informer *inf, const json_t *obj);
void inf_replace_end(struct informer *inf);
/* inf_resync re-delivers every object to on_update (old == cur). */
void inf_resync(struct informer *inf);
/* The compiled selection of the watch (borrowed; for the benchmark). */
const struct jsel *inf_selection(struct informer *inf);

#endif
