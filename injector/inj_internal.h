/* inj_internal.h: what the injector's files share (not a public API).
 *
 * The injection of one pod runs as a pipeline over a struct inj_ctx:
 * decide (decide.c) -> validate and resolve annotations (annot.c) -> strip a
 * previous injection (strip.c) -> deployment meta (owner.c) -> build the
 * containers (sidecar.c) and volumes/metadata (podmeta.c) -> user overrides
 * (override.c) -> probes, Prometheus, status -> patch (injector.c).
 *
 * Invariants: the caller's pod is never modified; everything is built in
 * ctx->pod, a deep copy. Strings in struct inj_params are borrowed from the
 * configuration or from ctx->pod and live as long as they do. */
#ifndef MZ_INJ_INTERNAL_H
#define MZ_INJ_INTERNAL_H

#include "injector/injector.h"
#include "lib/buf.h"
#include "lib/jutil.h"

#include <stdatomic.h>

#define INJ_PROXY_NAME "istio-proxy"
#define INJ_INIT_NAME "istio-init"
#define INJ_STATUS_ANNOT "sidecar.istio.io/status"
#define INJ_OVERRIDES_ANNOT "proxy.istio.io/overrides"
#define INJ_PROXY_CONFIG_ANNOT "proxy.istio.io/config"
#define INJ_PROBERS_ENV "ISTIO_KUBE_APP_PROBERS"
#define INJ_PROM_ENV "ISTIO_PROMETHEUS_ANNOTATIONS"

enum inj_policy { INJ_POLICY_ENABLED, INJ_POLICY_DISABLED, INJ_POLICY_OTHER };

/* Typed view of the configuration, filled by config.c once at load. Every
 * string is borrowed from cfg->values / cfg->mesh (never NULL: "" when
 * unset) unless said otherwise. */
struct inj_vals {
    const char *hub, *tag, *proxy_image_name, *variant, *pull_policy;
    char *proxy_image; /* owned: hub/image:tag[-variant] or image */
    const char *cluster_domain, *cluster_name, *network, *mesh_id;
    const char *ca_address, *cert_provider, *revision, *log_level;
    const char *proxy_log_level, *component_log_level, *token_aud;
    const char *include_ip_ranges, *exclude_ip_ranges;
    const char *include_inbound_ports, *exclude_inbound_ports;
    const char *include_outbound_ports, *exclude_outbound_ports;
    int status_port, privileged, cap_net_bind, log_as_json;
    int readiness_delay, readiness_period, readiness_threshold;
    int startup_enabled, startup_threshold;
    int hold; /* values.global.proxy.holdApplicationUntilProxyStarts */
    int rewrite_probes;
    const json_t *resources;    /* borrowed or NULL */
    const json_t *lifecycle;    /* borrowed or NULL (non-empty object) */
    const json_t *pull_secrets; /* borrowed array of names, or NULL */
    /* mesh */
    const char *trust_domain;
    int prom_merge, listen_port, inbound_listen_port, inbound_localhost;
    const json_t *default_proxy_config; /* borrowed object (maybe empty) */
};

struct inj_cache;

struct inj_config {
    atomic_int refs;
    json_t *config; /* owned: effective `config` (defaults merged) */
    json_t *values; /* owned: effective `values` */
    json_t *mesh;   /* owned: effective mesh config */
    enum inj_policy policy;
    const json_t *never_sel, *always_sel, *injected_annotations; /* borr. */
    struct inj_vals v;
    struct inj_cache *cache; /* owned; NULL while it is being built */
    void *attached;          /* a consumer's data (inj_config_attach) */
    void (*attached_free)(void *);
};

/* Per-pod parameters resolved from annotations, values and proxy config. */
struct inj_params {
    const char *interception; /* REDIRECT | TPROXY | NONE */
    int status_port;
    int readiness_delay, readiness_period, readiness_threshold;
    const char *include_ip_ranges, *exclude_ip_ranges;
    const char *include_inbound_ports, *exclude_inbound_ports;
    const char *include_outbound_ports, *exclude_outbound_ports; /* NULL:
                                                                    omit */
    const char *reroute_ifaces, *exclude_ifaces; /* NULL: omit */
    const char *proxy_log_level, *component_log_level, *agent_log_level;
    const char *proxy_image;        /* annotation, image_owned or cfg */
    char *image_owned;              /* owned: image with proxyImageType */
    const char *bootstrap_override; /* NULL: none */
    int cap_net_bind, hold, rewrite_probes, prom_merge;
    int has_concurrency;
    long long concurrency;
    json_t *proxy_config; /* owned: effective ProxyConfig (mesh + annot.) */
    json_t *user_volumes, *user_mounts; /* owned objects or NULL */
    /* resources from annotations: any set -> only those */
    const char *cpu, *mem, *cpu_limit, *mem_limit;
};

/* The template's parts that do not depend on the pod, and those a pod
 * without annotations gets, built once per configuration by the same code
 * that builds them per pod (tmpl.c, sidecar.c, podmeta.c). Every json_t is
 * immutable once built: injections share it (json_incref) into their
 * results, and whoever would edit it makes a private copy first
 * (inj_cow). A builder uses a cached part only when every parameter it
 * depends on equals the cached parameters `p`. */
struct inj_cache {
    struct inj_params p; /* parameters of a pod without annotations */
    json_t *init;        /* istio-init for p, or NULL (interception NONE) */
    json_t *proxy_args, *ready, *startup, *security, *mounts;
    json_t *resources;      /* for p; NULL: none */
    json_t *lifecycle;      /* values.global.proxy.lifecycle, or NULL */
    json_t *hold_lifecycle; /* postStart pilot-agent wait */
    json_t *ports;          /* the proxy's ports */
    json_t *env;            /* name -> env entry of the proxy for p */
    json_t *volumes;        /* the fixed template volumes, in order */
    json_t *names[4];       /* status lists for p: init, cont, vols, secrets */
    char *status;           /* the status annotation for those names */
};

/* Deployment meta (owner.c). Strings point into `storage` or the pod. */
struct inj_owner {
    char kind[128], name[256], api_version[128];
};

struct inj_ctx {
    const struct inj_config *cfg;
    const struct inj_input *in;
    json_t *pod;             /* owned: the working copy */
    json_t *meta, *spec;     /* borrowed from pod */
    json_t *annots, *labels; /* borrowed from pod (objects) */
    const char *ns;          /* never NULL */
    struct inj_params p;
    struct inj_owner owner;
    json_t *probers;   /* owned object: ISTIO_KUBE_APP_PROBERS */
    json_t *overrides; /* owned: user containers or NULL */
    int user_run_as;   /* user istio-proxy runAsUser (0: none) */
};

/* The shipped manifests, embedded at build time (build/gen/injector/). */
extern const char inj_default_injector_yaml[];
extern const size_t inj_default_injector_yaml_len;
extern const char inj_default_mesh_yaml[];
extern const size_t inj_default_mesh_yaml_len;

/* config.c */
int inj_int_from(const json_t *v, long long *out); /* int or digit string */

/* gojson.c: appends v as compact JSON in key order, strings escaped as
 * jansson does (go = 0) or as Go's encoding/json does (go = 1). 0,
 * RC_NOMEM or RC_LIMIT (out unchanged on failure). */
int inj_json_write(struct buf *out, const json_t *v, int go);

/* tmpl.c: the cache of a configuration (called last by config.c). */
int inj_cache_build(struct inj_config *cfg);
void inj_cache_free(struct inj_cache *c);
int inj_same_str(const char *a, const char *b); /* both NULL, or equal */

/* proxycfg.c: ProxyConfig typing and merging. */
int inj_proxycfg_check(const json_t *pc, const char *where);
int inj_proxycfg_merge(json_t **out, const json_t *base, const json_t *overlay);
int inj_duration_check(const char *s);

/* decide.c */
int inj_decide(const struct inj_config *cfg, const json_t *pod, const char *ns,
               char *reason, size_t reason_len);
int inj_selector_check(const json_t *sel, const char *where);

/* annot.c: validates every annotation (RC_INVAL, all errors joined) and
 * fills ctx->p. */
int inj_params_resolve(struct inj_ctx *ctx);
void inj_params_cleanup(struct inj_params *p);
int inj_parse_bool(const char *s, int *out); /* Go strconv.ParseBool */

/* owner.c */
void inj_owner_resolve(struct inj_ctx *ctx);
int inj_owner_uri(const struct inj_ctx *ctx, struct buf *out);

/* strip.c: undoes a previous injection in ctx->pod (status annotation
 * present), seeding ctx->probers. */
int inj_strip(struct inj_ctx *ctx);

/* sidecar.c */
int inj_sidecar_cache(struct inj_ctx *ctx, struct inj_cache *c);
int inj_build_init(struct inj_ctx *ctx, json_t **out);
int inj_build_proxy(struct inj_ctx *ctx, json_t **out);
int inj_proxy_add_late_env(struct inj_ctx *ctx, json_t *proxy,
                           const char *prom_env);
int inj_resources(const struct inj_ctx *ctx, json_t **out);
/* proxyMetadata as env entries, keys sorted (set: replace same-named). */
int inj_metadata_env(json_t *env, const json_t *md, int set);

/* podmeta.c */
int inj_podmeta_cache(struct inj_ctx *ctx, struct inj_cache *c);
int inj_add_volumes(struct inj_ctx *ctx, json_t *status_volumes);
int inj_add_pull_secrets(struct inj_ctx *ctx, json_t *status_secrets);
int inj_add_metadata(struct inj_ctx *ctx);
int inj_status_string(json_t *init_names, json_t *cont_names, json_t *vol_names,
                      json_t *secret_names, const char *revision, char **out);

/* override.c */
int inj_take_overrides(struct inj_ctx *ctx);
int inj_apply_override(json_t *tmpl, const json_t *user);
int inj_overrides_annotate(struct inj_ctx *ctx);

/* util (inj_util.c) */
/* inj_str: a new JSON string of s (NULL on NOMEM) without jansson's UTF-8
 * check. Every string the injector makes is a jansson string (checked when
 * it was made), an ASCII literal or number, or a concatenation of these:
 * valid UTF-8. ASan and fuzzing builds check anyway and abort. s may be
 * NULL (then NULL, as json_string). */
json_t *inj_str(const char *s);
/* inj_set_str sets key to inj_str(s): 0 or RC_NOMEM. */
int inj_set_str(json_t *obj, const char *key, const char *s);
/* inj_annot: the string value of the pod's annotation key, or NULL (what
 * jutil_str(ctx->annots, key) gives). A pod has few annotations and the
 * injector asks for ~50 keys: up to INJ_ANNOT_SCAN of them are compared
 * by length and bytes instead of hashing key each time. */
#define INJ_ANNOT_SCAN 4
const char *inj_annot(const struct inj_ctx *ctx, const char *key);
json_t *inj_arr_find(const json_t *arr, const char *name, size_t *idx);
int inj_arr_remove_names(json_t *arr, const json_t *names);
int inj_env_set(json_t *env, const char *name, const char *value);
int inj_env_add(json_t *env, const char *name, const char *value);
int inj_env_field(json_t *env, const char *name, const char *field_path);
json_t *inj_str_array(const char *const *items); /* NULL on NOMEM */
int inj_arr_append_str(json_t *arr, const char *s);
/* inj_arr_append_pair appends a flag and its value (0 or RC_NOMEM). */
int inj_arr_append_pair(json_t *arr, const char *flag, const char *v);
int inj_set_int(json_t *obj, const char *key, long long v);
int inj_set_bool(json_t *obj, const char *key, int v);
int inj_set_new(json_t *obj, const char *key, json_t *v); /* steals v */
int inj_append_new(json_t *arr, json_t *v);               /* steals v */
const char *inj_container_env(const json_t *c, const char *name);
/* Copy-on-write. The working pod shares every subtree it does not change
 * with the caller's pod (and, through the caller, with earlier results);
 * a value is made private before it is edited: inj_shallow_copy makes a
 * new object or array holding the same members (a scalar is increfed;
 * NULL on RC_NOMEM); inj_cow replaces parent[key] (an object or array)
 * by such a copy and sets *out to it (NULL when absent or a scalar);
 * inj_cow_at does the same for arr[i]. 0 or RC_NOMEM (errmsg set). Never
 * modify a value reached from ctx->pod without one of these first, unless
 * the injector created it. */
json_t *inj_shallow_copy(const json_t *v);
int inj_cow(json_t *parent, const char *key, json_t **out);
int inj_cow_at(json_t *arr, size_t i, json_t **out);
/* inj_image_url: Istio's imageURL, "<hub>/<name>:<tag>[-<type>]": a
 * non-empty type first drops a "-distroless"/"-debug" ending of the tag;
 * type "default" (or NULL/"") adds no suffix. *out is new (mem_free); 0 or
 * RC_NOMEM (*out NULL). */
int inj_image_url(char **out, const char *hub, const char *name,
                  const char *tag, const char *type);

#endif
