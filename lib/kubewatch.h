/* kubewatch.h: Kubernetes watches, many multiplexed on one thread.
 *
 * Pure parts (no I/O; fuzzed by tests/fuzz/fuzz_watchline.c):
 * - kube_watch_lines_*: splits a chunked HTTP body into JSON lines across
 *   arbitrary chunk boundaries, skipping blank lines, with a hard cap on the
 *   length of one line (RC_LIMIT).
 * - kube_watch_event_parse: one line -> type, object, resourceVersion, and
 *   for ERROR the Status code/reason/message. With a selection (jsel) only
 *   the selected paths of the object are built (see jsel.h), which is what
 *   makes an informer cheap; without one the whole object is parsed.
 *
 * The loop (kube_watch_loop_*): one thread runs every watch of a process
 * with curl multi. Each watch is
 *   GET <collection>?watch=1&resourceVersion=RV&allowWatchBookmarks=true
 *       &timeoutSeconds=rand(min..max)[&labelSelector=..&fieldSelector=..]
 * and the loop keeps it alive: a clean end (timeout) or a dropped
 * connection re-watches from the last resourceVersion seen (bookmarks
 * included); no bytes for idle_timeout_ms (a stalled stream) aborts and
 * re-watches; repeated failures back off exponentially with jitter. What the
 * loop cannot repair ends the watch and calls on_stop(ud, rc) once: RC_GONE
 * (HTTP 410, or an in-stream ERROR with code 410 / reason Expired or Gone:
 * the caller must relist), RC_LIMIT (a line over the cap), RC_PARSE (a
 * line that is not a watch event), or the non-zero code returned by
 * on_event. Callbacks run on the loop thread. */
#ifndef MZ_KUBEWATCH_H
#define MZ_KUBEWATCH_H

#include "lib/buf.h"

#include <jansson.h>
#include <stdint.h>

struct jsel;
struct kube_client;
struct kube_res;

#define KUBE_WATCH_MAX_LINE ((size_t)16 << 20)

/* ---- line splitter ---- */

struct kube_watch_lines {
    struct buf pend; /* the partial line carried between chunks */
    size_t max_line;
};

typedef int (*kube_watch_line_fn)(void *ud, const char *line, size_t n);

/* max_line 0: KUBE_WATCH_MAX_LINE. Cannot fail. */
void kube_watch_lines_init(struct kube_watch_lines *l, size_t max_line);
/* kube_watch_lines_reset drops a partial line (a cut stream). */
void kube_watch_lines_reset(struct kube_watch_lines *l);
void kube_watch_lines_cleanup(struct kube_watch_lines *l);

/* kube_watch_lines_feed calls fn for each complete, non-blank line in
 * p[0..n) (without its "\n" or "\r\n"; the line pointer is valid only
 * during the call). Returns 0, the first non-zero rc of fn (the rest of the
 * chunk is not consumed), RC_LIMIT (a line longer than max_line) or
 * RC_NOMEM. After a non-zero return the splitter must be reset. */
int kube_watch_lines_feed(struct kube_watch_lines *l, const char *p, size_t n,
                          kube_watch_line_fn fn, void *ud);

/* ---- one event ---- */

enum kube_watch_type {
    KUBE_WATCH_ADDED = 1,
    KUBE_WATCH_MODIFIED,
    KUBE_WATCH_DELETED,
    KUBE_WATCH_BOOKMARK,
    KUBE_WATCH_ERROR
};

/* kube_watch_type_str: "ADDED", ...; "?" for anything else. */
const char *kube_watch_type_str(int type);

struct kube_watch_event {
    int type;       /* enum kube_watch_type */
    json_t *object; /* owned; a consumer may take it and set it NULL */
    const char *rv; /* borrowed from object: metadata.resourceVersion */
    int code;       /* ERROR: Status.code (0 when absent) */
    const char *reason, *message; /* ERROR: borrowed, may be NULL */
    int gone; /* ERROR meaning "relist": 410, Expired or Gone */
};

/* kube_watch_select_new compiles the object paths a consumer needs (NULL
 * terminated, relative to the object: "metadata.labels") into a selection
 * for kube_watch_event_parse; metadata.resourceVersion is always added.
 * *out (free with jsel_free) only on success: RC_NOMEM, RC_INVAL. */
int kube_watch_select_new(struct jsel **out, const char *const *paths);

/* kube_watch_event_parse parses one line. sel NULL: the whole object;
 * ERROR events are always parsed whole. max_depth 0: 64. On success ev
 * owns its object (kube_watch_event_cleanup); on failure ev is empty:
 * RC_PARSE (bad JSON, unknown type, object missing or not an object),
 * RC_LIMIT (too deep), RC_NOMEM. */
int kube_watch_event_parse(struct kube_watch_event *ev, const char *line,
                           size_t n, const struct jsel *sel, int max_depth);
void kube_watch_event_cleanup(struct kube_watch_event *ev);

/* ---- the loop ---- */

struct kube_watch_opts {
    int idle_timeout_ms; /* stall: no bytes for this long; 0: 130000
                            (2 x a 60 s bookmark interval + slack) */
    int min_timeout_s;   /* timeoutSeconds is random in [min, max]; */
    int max_timeout_s;   /* 0: 300 and 600 */
    size_t max_line;     /* 0: KUBE_WATCH_MAX_LINE */
    int max_depth;       /* JSON nesting cap; 0: 64 */
    int backoff_base_ms; /* 0: 800 */
    int backoff_max_ms;  /* 0: 30000 */
};

struct kube_watch_spec {
    const struct kube_res *res; /* borrowed; must outlive the watch */
    const char *ns;             /* NULL: all namespaces / cluster scope */
    const char *label_selector, *field_selector; /* may be NULL */
    const char *rv;         /* watch changes after this version */
    const struct jsel *sel; /* borrowed, may be NULL (whole objects) */
    /* on_event gets every ADDED/MODIFIED/DELETED/BOOKMARK event; it may
     * take ev->object. Non-zero ends the watch: on_stop(ud, that code). The
     * watch's resourceVersion advances only after on_event returned 0. */
    int (*on_event)(void *ud, struct kube_watch_event *ev);
    void (*on_stop)(void *ud, int rc);
    void *ud;
};

struct kube_watch_stats {
    uint64_t events, bookmarks, bytes;
    uint64_t starts;   /* watch requests sent */
    uint64_t stalls;   /* aborted for silence */
    uint64_t gone;     /* ended with RC_GONE */
    uint64_t failures; /* failed requests (HTTP errors, transport) */
    int active;        /* watches in the loop */
};

struct kube_watch_loop;

/* kube_watch_loop_new: c is borrowed and must outlive the loop; opts may be
 * NULL. *out only on success: RC_NOMEM, RC_INTERNAL (curl multi). */
int kube_watch_loop_new(struct kube_watch_loop **out, struct kube_client *c,
                        const struct kube_watch_opts *opts);
/* kube_watch_loop_free stops the thread if running and drops every watch
 * (no on_stop calls). NULL is a no-op. */
void kube_watch_loop_free(struct kube_watch_loop *l);

/* kube_watch_loop_start runs the loop on its own thread: 0, RC_INTERNAL.
 * kube_watch_loop_run runs it on the caller's thread until
 * kube_watch_loop_stop (which may be called from any thread, or from a
 * callback; it wakes the loop with curl_multi_wakeup). stop joins the
 * thread started by start unless called from the loop thread. */
int kube_watch_loop_start(struct kube_watch_loop *l);
int kube_watch_loop_run(struct kube_watch_loop *l);
void kube_watch_loop_stop(struct kube_watch_loop *l);

/* kube_watch_add registers a watch (any thread; strings are copied).
 * *id_out (may be NULL) identifies it for kube_watch_remove. 0, RC_NOMEM,
 * RC_INVAL (no res, rv or on_event). */
int kube_watch_add(struct kube_watch_loop *l, const struct kube_watch_spec *s,
                   uint64_t *id_out);
/* kube_watch_remove ends a watch without on_stop. From another thread it
 * returns once no callback of that watch can run any more; from a
 * callback it takes effect after the callback. Unknown ids are ignored. */
void kube_watch_remove(struct kube_watch_loop *l, uint64_t id);

void kube_watch_loop_stats(struct kube_watch_loop *l,
                           struct kube_watch_stats *out);

#endif
