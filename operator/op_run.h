/* op_run.h: the operator's shared context: clients, informers (the slim
 * cache), the work queue, leader election, and the controllers' entry
 * points.
 *
 * Work items are string keys in one de-duplicating queue:
 *   "ca"              the CA Secret and the root rotation state machine
 *   "ns/<ns>"         the trust bundle ConfigMap of a namespace
 *   "sa/<ns>/<name>"  the Secret istio.<name> of a ServiceAccount
 *   "wh"              the webhook's serving certificate Secret
 *   "mwc"             the caBundle of the MutatingWebhookConfiguration
 * Informer handlers only enqueue keys; workers reconcile them from the
 * cache. Every replica keeps its caches and its CA snapshot warm; only the
 * leader writes (op_may_write right before each write). */
#ifndef MZ_OP_RUN_H
#define MZ_OP_RUN_H

#include "operator/op_opts.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

struct buf;
struct inf_obj;
struct informer;
struct kube_client;
struct kube_config;
struct kube_watch_loop;
struct lease;
struct op_ca;
struct op_metrics;
struct wq;

/* Names and keys of the Citadel model (kept exactly). */
#define OP_CA_SECRET "istio-ca-secret"
#define OP_CACERTS "cacerts"
#define OP_BUNDLE_CM "istio-ca-root-cert"
#define OP_BUNDLE_KEY "root-cert.pem"
#define OP_WL_TYPE "istio.io/key-and-cert"
#define OP_WL_PREFIX "istio."
#define OP_SA_ANNOTATION "istio.io/service-account.name"
#define OP_ROTATE_ANNOTATION "mizzen.io/rotate-root"

struct op_ctx {
    struct op_opts *opts; /* borrowed */
    struct kube_config *cfg;
    struct kube_client *rc; /* reads and informers (retries) */
    struct kube_client *wc; /* writes and reconcile-time reads (short
                             * timeout, no retries: a worker never waits
                             * long; failures are retried by the queue) */
    struct kube_watch_loop *loop;
    struct informer *ns_inf;  /* Namespaces (labels) */
    struct informer *sa_inf;  /* ServiceAccounts */
    struct informer *sec_inf; /* Secrets of type istio.io/key-and-cert */
    struct informer *cp_inf;  /* Secrets in the control-plane namespace */
    struct informer *cm_inf;  /* ConfigMaps istio-ca-root-cert */
    struct informer *mwc_inf; /* the MutatingWebhookConfiguration */
    struct wq *q;
    struct lease *lease;  /* NULL: leader election off (always leader) */
    int write_timeout_ms; /* the write client's per-request timeout */
    struct op_ca *ca;
    struct op_metrics *metrics; /* NULL: no --metrics-addr */
    atomic_ulong writes, conflicts, skipped_not_leader, errors;
    /* certificate Secrets written, by action; renewals deferred */
    atomic_ulong issued, renewed, repaired, rotated, deferred;
    atomic_ulong bundles_written, cabundles_written;
    atomic_int synced; /* every informer listed */
};

/* op_run: the whole operator until SIGTERM/SIGINT (blocked by the caller
 * before any thread starts). Returns the exit status. */
int op_run(struct op_opts *o);

/* op_may_write: 1 if this replica may write now: no election, or leader
 * with more lease left than one write can take (lease_remaining_ms), so a
 * write can never land after another replica could lead. Counts refusals.
 * Call right before each write. */
int op_may_write(struct op_ctx *c);

/* op_ns_enabled: 1 if the namespace (cached) has injection enabled:
 * istio-injection=enabled, or an istio.io/rev label without
 * istio-injection=disabled; 0 if not, deleting, or unknown. */
int op_ns_enabled(struct op_ctx *c, const char *ns);
int op_ns_obj_enabled(const struct inf_obj *ns);

/* op_enqueue_all: every key (after the CA changed or leadership began). */
void op_enqueue_all(struct op_ctx *c);
/* op_enqueue_ns: the namespace's bundle and every ServiceAccount in it. */
void op_enqueue_ns(struct op_ctx *c, const char *ns);

/* op_delay_ms: milliseconds from clock_now() until t (>= 0, capped at
 * 24 h so that a far-away renewal is still re-checked daily). */
int64_t op_delay_ms(time_t t);

/* Projections of the slim cache: the bundle a ConfigMap carries
 * ("root"); the caBundle of each matching webhook entry ("c<i>", "n"). */
int op_cm_project(void *ud, const json_t *obj, struct buf *blob);
int op_mwc_project(void *ud, const json_t *obj, struct buf *blob);

/* Controllers: 0 (done; *requeue_ms > 0 asks for a timed revisit) or a
 * negative RC_* (rate-limited retry). */
int op_ca_reconcile(struct op_ctx *c, int64_t *requeue_ms);
int op_bundle_reconcile(struct op_ctx *c, const char *ns, int64_t *requeue_ms);
int op_wl_reconcile(struct op_ctx *c, const char *ns, const char *sa,
                    int64_t *requeue_ms);
int op_wh_reconcile(struct op_ctx *c, int64_t *requeue_ms);
int op_mwc_reconcile(struct op_ctx *c, int64_t *requeue_ms);

/* Cache-wide checks for the root rotation (op_ca.c asks them):
 * published: every enabled namespace's ConfigMap, every workload Secret,
 * the webhook Secret and the MWC carry exactly bundle. */
int op_bundle_all_published(struct op_ctx *c, const char *bundle);
int op_wl_all_published(struct op_ctx *c, const char *bundle);
int op_wh_published(struct op_ctx *c, const char *bundle);
/* reissued: every workload Secret / the webhook Secret verifies against
 * the signing roots only (issued by the current CA). */
int op_wl_all_reissued(struct op_ctx *c, const char *signing_roots);
int op_wh_reissued(struct op_ctx *c, const char *signing_roots);

#endif
