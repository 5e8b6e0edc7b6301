/* kubeclient.h: REST calls to the Kubernetes API server (libcurl, jansson).
 *
 * One client is shared by the threads of a process (a curl share handle
 * keeps connections and TLS sessions; each call uses its own easy handle or
 * a pooled one). Every call has a timeout. Transient failures (connection
 * errors, 5xx, 429) are retried with exponential backoff and jitter,
 * honouring Retry-After; 4xx other than 409/429 are not retried, and 409 is
 * returned to the caller (optimistic concurrency is the caller's loop).
 * A 401 makes the client re-read its token file once and retry.
 *
 * Status errors map to RC_*: 404 RC_NOTFOUND, 409 RC_CONFLICT (AlreadyExists
 * or Conflict: see kube_last_status), 410 RC_GONE, 401/403 RC_DENIED,
 * 400/415/422 RC_INVAL, 429 and 5xx after retries RC_AGAIN, timeouts
 * RC_TIMEOUT, transport RC_IO, TLS RC_TLS. errmsg carries the server's
 * Status message ("secrets \"x\" not found"). Response bodies are capped
 * (opts.max_body) and parsed with depth limits. */
#ifndef MZ_KUBECLIENT_H
#define MZ_KUBECLIENT_H

#include <jansson.h>

struct buf;
struct kube_config;
struct kube_client;

struct kube_client_opts {
    int timeout_ms;      /* per attempt; 0: 30000 */
    int max_retries;     /* 0: 5; -1: none */
    int backoff_base_ms; /* 0: 200 */
    int backoff_max_ms;  /* 0: 10000 */
    size_t max_body;     /* response cap; 0: 64 MiB */
    const char *user_agent;
    int gzip; /* ask for gzip-compressed responses (Accept-Encoding) */
};

/* A resource type: group "" is the core group. */
struct kube_res {
    const char *group, *version, *resource, *kind;
    int namespaced;
};

extern const struct kube_res KUBE_NAMESPACES, KUBE_PODS, KUBE_SERVICES,
    KUBE_ENDPOINTS, KUBE_ENDPOINTSLICES, KUBE_SERVICEACCOUNTS, KUBE_SECRETS,
    KUBE_CONFIGMAPS, KUBE_LEASES, KUBE_CRDS, KUBE_MWCS, KUBE_DEPLOYMENTS,
    KUBE_REPLICASETS;

/* kube_client_new copies what it needs from cfg. *out only on success. */
int kube_client_new(struct kube_client **out, const struct kube_config *cfg,
                    const struct kube_client_opts *opts);
void kube_client_free(struct kube_client *c);

/* kube_path appends "/api/v1/namespaces/ns/pods/name/status" style paths
 * (ns NULL for cluster scope or all namespaces; name/sub may be NULL). */
int kube_path(struct buf *out, const struct kube_res *r, const char *ns,
              const char *name, const char *sub);

struct kube_status {
    int http_code;     /* 0 when no HTTP answer */
    char reason[64];   /* Status.reason ("AlreadyExists", "Conflict") */
    int retry_after_s; /* from Retry-After, else -1 */
};
/* The Status of the last failed call on this thread (borrowed). */
const struct kube_status *kube_last_status(void);

/* Item calls: *out (may be NULL if unwanted) gets the server's object. */
int kube_get(struct kube_client *c, const struct kube_res *r, const char *ns,
             const char *name, json_t **out);
int kube_create(struct kube_client *c, const struct kube_res *r, const char *ns,
                const json_t *obj, json_t **out);
/* PUT; obj must carry metadata.resourceVersion for optimistic locking.
 * sub: NULL or "status". */
int kube_update(struct kube_client *c, const struct kube_res *r, const char *ns,
                const char *name, const char *sub, const json_t *obj,
                json_t **out);

enum kube_patch_type {
    KUBE_PATCH_MERGE,     /* application/merge-patch+json */
    KUBE_PATCH_JSON,      /* application/json-patch+json */
    KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
    KUBE_PATCH_APPLY      /* application/apply-patch+yaml (SSA) */
};
/* field_manager is required for KUBE_PATCH_APPLY; force applies to SSA. */
int kube_patch(struct kube_client *c, const struct kube_res *r, const char *ns,
               const char *name, const char *sub, enum kube_patch_type type,
               const json_t *patch, const char *field_manager, int force,
               json_t **out);

/* DELETE; precondition_rv may be NULL. RC_NOTFOUND when already gone. */
int kube_delete(struct kube_client *c, const struct kube_res *r, const char *ns,
                const char *name, const char *precondition_rv);

struct kube_list_opts {
    const char *label_selector, *field_selector;
    const char *resource_version; /* NULL: consistent read */
    int limit;                    /* page size; 0: 500 */
};
/* kube_list pages through a collection calling fn(ud, item) for each item
 * (item borrowed for the call); fn returning non-zero stops with that code.
 * *rv_out (may be NULL) gets the list's resourceVersion (caller frees with
 * mem_free). An expired continue token restarts the list from scratch once
 * (items already delivered may be delivered again); RC_GONE if it recurs. */
int kube_list(struct kube_client *c, const struct kube_res *r, const char *ns,
              const struct kube_list_opts *opts,
              int (*fn)(void *ud, json_t *item), void *ud, char **rv_out);

/* For the watch module: prepare a curl easy handle (CURL *) with the
 * client's TLS, auth header and timeouts for GET <path_and_query>. The
 * handle and header list are owned by the caller. 0 or RC_NOMEM. */
int kube_client_setup_easy(struct kube_client *c, void *curl_easy,
                           const char *path_and_query, void **headers_out);

/* ---- additions (not in the first version of this header) ---- */

/* kube_query_add appends "?key=value" or "&key=value" (both escaped) to a
 * path: 0, RC_NOMEM or RC_LIMIT; on failure out is unchanged. */
int kube_query_add(struct buf *out, const char *key, const char *value);

/* kube_request: one REST call with the client's retry policy. path_and_query
 * starts with '/'; body may be NULL (content_type is then ignored). A 2xx
 * JSON answer goes to *out when out is non-NULL (JSON null if the body is
 * empty). Errors as the calls above. */
int kube_request(struct kube_client *c, const char *method,
                 const char *path_and_query, const char *content_type,
                 const char *body, size_t body_len, json_t **out);

/* kube_client_token_refresh re-reads the token file now (for the watch
 * module after a 401). 0 when a token was read, else the read error (the
 * previous token stays in use). A client without a token file: 0. */
int kube_client_token_refresh(struct kube_client *c);

/* kube_res_find: the KUBE_* entry whose resource ("configmaps") or Kind
 * ("ConfigMap") is name, else NULL. */
const struct kube_res *kube_res_find(const char *name);

/* Counters since kube_client_new (for metrics and tests). */
struct kube_client_stats {
    unsigned long attempts; /* HTTP attempts, retries included */
    unsigned long retries;  /* attempts that were retries (incl. 401) */
    unsigned long connects; /* new TCP connections opened */
    unsigned long failures; /* calls that returned an error */
};
void kube_client_stats(const struct kube_client *c,
                       struct kube_client_stats *out);

/* kube_client_namespace: the config's namespace ("default"); borrowed. */
const char *kube_client_namespace(const struct kube_client *c);

#endif
