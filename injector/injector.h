/* injector.h: sidecar injection, the pure part (no I/O, clock or env).
 *
 * Input: a pod (or a workload's pod template wrapped as a pod), its
 * namespace, the injector configuration (ConfigMap istio-sidecar-injector:
 * keys `config` and `values`) and the mesh configuration (ConfigMap istio,
 * key `mesh`). Output: the decision and why, the mutated pod and the RFC 6902
 * patch from the original to it. Behaviour follows Istio's sidecar template
 * in classic mode (istio-proxy is a regular container); see
 * docs/injector.md for the rules and where mizzen differs from Istio.
 *
 * The webhook, `mizzenctl kube-inject` and the tests run this same code. */
#ifndef MZ_INJECTOR_H
#define MZ_INJECTOR_H

#include <jansson.h>
#include <stddef.h>

/* An immutable, reference-counted configuration: safe to share between
 * threads; the webhook swaps it on reload. */
struct inj_config;

/* inj_config_load builds a configuration from documents (YAML or JSON text):
 *  - injector_doc: the ConfigMap istio-sidecar-injector object, or its data
 *    (a map with keys `config` and/or `values`, each a string holding YAML
 *    or JSON, or already structured); NULL: the built-in defaults, which
 *    equal the shipped manifests/ ConfigMap;
 *  - mesh_doc: the ConfigMap istio object, or its data (key `mesh`), or the
 *    mesh config itself; NULL: the built-in default mesh config.
 * Missing fields take the defaults. *out (refcount 1) is set only on
 * success; RC_PARSE / RC_INVAL / RC_LIMIT with errmsg naming the field. */
int inj_config_load(struct inj_config **out, const char *injector_doc,
                    size_t injector_len, const char *mesh_doc, size_t mesh_len);

/* inj_config_load_parts: the same from the three ConfigMap values as
 * mounted files hold them (each may be NULL for the default). */
int inj_config_load_parts(struct inj_config **out, const char *config_text,
                          const char *values_text, const char *mesh_text);

/* inj_config_ref adds a reference and returns cfg; inj_config_free drops
 * one (freeing at zero). Both are thread-safe; free(NULL) is a no-op. */
struct inj_config *inj_config_ref(struct inj_config *cfg);
void inj_config_free(struct inj_config *cfg);

/* inj_config_shared calls fn(v, arg) for every JSON object and array of
 * cfg's template cache, the parts inside them included: the immutable
 * nodes that injection results share by reference (a result's patch
 * values may be these very pointers). Stops at, and returns, the first
 * non-zero fn result. */
int inj_config_shared(const struct inj_config *cfg,
                      int (*fn)(const json_t *v, void *arg), void *arg);

/* inj_config_attach hangs a consumer's data on cfg, released with
 * free_fn (may be NULL) when cfg is freed (a previous attachment is
 * released at once). Call it before cfg is shared between threads;
 * inj_config_attached reads it (NULL when none). */
void inj_config_attach(struct inj_config *cfg, void *data,
                       void (*free_fn)(void *));
void *inj_config_attached(const struct inj_config *cfg);

/* inj_config_dump: the effective configuration as JSON (for `/debug` and
 * tests); a new reference or NULL on RC_NOMEM. */
json_t *inj_config_dump(const struct inj_config *cfg);

struct inj_input {
    const json_t *pod; /* borrowed; required: a v1 Pod (kind optional) */
    const char *ns;    /* used when metadata.namespace is absent/empty */
    /* The workload that owns a pod template (kube-inject of a Deployment,
     * ...); NULL: derived from the pod's controller ownerReference as Istio
     * does (ReplicaSet "x-<hash>" -> Deployment "x", Job "c-<digits>" ->
     * CronJob "c"), else the pod itself. */
    const char *owner_kind, *owner_name, *owner_api_version;
    /* Extra proxy env from the webhook path (/inject/cluster/X/net/Y gives
     * ISTIO_META_CLUSTER_ID and ISTIO_META_NETWORK); an object name->string
     * or NULL. Borrowed. */
    const json_t *env_overrides;
    /* 1: leave res->patch NULL; the caller diffs pod against res->pod
     * itself (the webhook streams it with jpatch_diff_each) */
    int no_patch;
};

struct inj_result {
    int injected;     /* 1: pod and patch are set; 0: skipped */
    char reason[256]; /* why injected or skipped, for logs and tests */
    json_t *pod;      /* owned: the mutated pod (NULL when skipped) */
    json_t *patch;    /* owned: RFC 6902 ops original -> pod (NULL when
                         skipped, or when in->no_patch) */
};
/* Sharing: res->pod holds references to the unchanged subtrees of
 * in->pod (copy on write: the injector never edits in->pod) and to
 * immutable parts of cfg; res->patch holds references into res->pod
 * (jpatch.h). jansson's reference counts are atomic, so each may outlive
 * the others and cross threads, but none may be edited in place while the
 * others are in use: deep-copy a result (json_deep_copy) before editing
 * it, or edit only by replacing members of objects you created. */

/* inj_pod_inject decides and, if required, injects.
 * Returns 0 (see res->injected), RC_INVAL when the pod must be refused
 * (invalid annotation: errmsg names it, e.g. "invalid value 'bad' for
 * annotation 'traffic.sidecar.istio.io/includeInboundPorts': ..."; all
 * invalid annotations are named, joined by "; "), RC_NOMEM or RC_LIMIT.
 * Injecting an already injected pod gives the same pod as injecting the
 * original: injection is idempotent. On failure res holds nothing. */
int inj_pod_inject(const struct inj_config *cfg, const struct inj_input *in,
                   struct inj_result *res);

/* inj_result_cleanup frees what res owns and zeroes it. */
void inj_result_cleanup(struct inj_result *res);

#endif
