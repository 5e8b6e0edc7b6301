/* kubeinject.h: the document walker of `mizzenctl kube-inject`.
 *
 * The walker finds the pods of a list of Kubernetes documents - a Pod
 * itself, the pod template of a Deployment, StatefulSet, DaemonSet,
 * ReplicaSet, ReplicationController or Job, the job template's pod template
 * of a CronJob, and the same inside the items of a List - wraps each
 * template as a pod (apiVersion v1, kind Pod, metadata, spec), hands it to a
 * callback and writes what the callback returns back in place. Every other
 * document, and every pod the callback leaves alone, is untouched; the
 * order of documents and of their keys is kept.
 *
 * The walker itself does no injection: the callback does (kinj_inject_cb
 * runs the real injector; tests pass stubs). Errors are prefixed with the
 * document that caused them, e.g. "document 2 (Deployment default/web): ".
 * Document numbers are 1-based in input order; a List item is named
 * "document 2 (List item 3: Deployment default/web)". */
#ifndef MZ_KUBEINJECT_H
#define MZ_KUBEINJECT_H

#include <jansson.h>

struct inj_config;
struct buf;

/* One pod handed to the callback. Everything is borrowed and valid only
 * during the call. */
struct kinj_site {
    int doc;                 /* 1-based index of the top-level document */
    int item;                /* 1-based index in a List's items; 0: none */
    const char *kind;        /* kind of the object holding the pod */
    const char *name;        /* its metadata.name ("" when absent) */
    const char *ns;          /* metadata.namespace, or "default" */
    const char *api_version; /* its apiVersion ("" when absent) */
    int is_template;         /* 1: a workload's pod template; 0: a Pod */
    const json_t *pod;       /* the pod (a template wrapped as a pod) */
};

/* kinj_fn decides about one pod. On success it sets *out to a new pod to
 * write back (its metadata and spec replace the template's; for a Pod
 * document it replaces the document), or leaves *out NULL to keep the pod
 * unchanged. A negative RC_* (with errmsg set) stops the walk. */
typedef int (*kinj_fn)(void *ctx, const struct kinj_site *site, json_t **out);

struct kinj_stats {
    int docs;     /* top-level documents seen */
    int pods;     /* pods and templates handed to the callback */
    int injected; /* of them, replaced by the callback's result */
};

/* kinj_walk walks every element of the array `docs` (the documents, in
 * order) and rewrites the pods in place. Returns 0 or the callback's error
 * / RC_INVAL (a known kind whose pod template is missing or not an object)
 * / RC_NOMEM, with errmsg prefixed by the document's name. On failure docs
 * may be partly rewritten: the caller drops them. stats may be NULL. */
int kinj_walk(json_t *docs, kinj_fn fn, void *ctx, struct kinj_stats *stats);

/* What an object is to the walker. */
enum kinj_class {
    KINJ_OTHER = 0,    /* untouched */
    KINJ_POD = 1,      /* v1 Pod: the document is the pod */
    KINJ_TEMPLATE = 2, /* spec.template: Deployment, StatefulSet, ... */
    KINJ_CRONJOB = 3,  /* spec.jobTemplate.spec.template */
    KINJ_LIST = 4      /* items: List, DeploymentList, ... */
};

/* kinj_kind_class classifies (apiVersion, kind); the API group must match
 * (apps or extensions for Deployment..., batch for Job/CronJob, core for
 * Pod/ReplicationController), an empty or NULL apiVersion matches on kind
 * alone. Returns an enum kinj_class. */
int kinj_kind_class(const char *api_version, const char *kind);

/* kinj_read_docs parses text (a JSON document, or a YAML stream of one or
 * more documents) into a new array of documents in *out (set only on
 * success). Empty YAML documents are skipped. RC_PARSE (errmsg has the line
 * and column), RC_LIMIT, RC_NOMEM. */
int kinj_read_docs(json_t **out, const char *text, size_t len);

enum kinj_format { KINJ_YAML = 0, KINJ_JSON };

/* kinj_write_docs appends the documents to out: YAML documents separated
 * by "---" lines, or JSON - a single document as itself, several (or none)
 * as a v1 List of them - like kubectl. 0, RC_NOMEM or RC_LIMIT; on failure
 * out holds a partial text that the caller drops. */
int kinj_write_docs(const json_t *docs, enum kinj_format fmt, struct buf *out);

/* The real injection callback: ctx is a struct kinj_inject_ctx. For each
 * pod it runs inj_pod_inject with the workload as owner; with `patches`
 * set it also appends one JSON line per injected pod:
 * {"doc":N,"kind":K,"name":N,"original":pod,"patch":[...],"injected":pod}. */
struct kinj_inject_ctx {
    const struct inj_config *cfg; /* borrowed */
    struct buf *patches;          /* borrowed; NULL: no patch lines */
};

int kinj_inject_cb(void *ctx, const struct kinj_site *site, json_t **out);

#endif
