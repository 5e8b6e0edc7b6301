/* wh_admission.h: AdmissionReview in, decision, AdmissionReview out.
 *
 * Pure: no I/O, clock or environment, so the server, the unit tests and the
 * fuzz target run the same code. Decoding accepts admission.k8s.io/v1 and
 * v1beta1 (same shape) and the answer is written in the request's version
 * with the request's uid, as istiod does. */
#ifndef MZ_WH_ADMISSION_H
#define MZ_WH_ADMISSION_H

#include "webhook/wh_json.h" /* wh_json_write, wh_json_escape, base64 */
#include "webhook/wh_metrics.h"

#include <jansson.h>
#include <stddef.h>

struct buf;
struct inj_config;

#define WH_API_V1 "admission.k8s.io/v1"
#define WH_API_V1BETA1 "admission.k8s.io/v1beta1"
#define WH_MAX_DEPTH 96 /* JSON nesting allowed in a review */

/* A decoded review. Every pointer is borrowed from doc, which the review
 * owns; strings absent from the request are "" (never NULL). */
struct wh_review {
    json_t *doc;                   /* owned: the whole AdmissionReview */
    const char *api_version;       /* WH_API_V1 or WH_API_V1BETA1 */
    const char *uid;               /* non-empty */
    const char *operation;         /* CREATE, UPDATE, ... */
    const char *ns;                /* request.namespace */
    const char *name;              /* request.name, else object.metadata.name */
    const char *generate_name;     /* object.metadata.generateName */
    const char *kind_group, *kind; /* request.kind */
    const char *resource, *sub_resource;
    const json_t *object; /* request.object (NULL when absent or null) */
};

/* wh_review_decode parses body[0..len) (at most max_bytes; 0: no extra cap
 * beyond jutil's default). On success rv owns the document; release it with
 * wh_review_cleanup. Failures (rv left empty): RC_PARSE (not JSON), RC_LIMIT
 * (size or depth), RC_INVAL (not an AdmissionReview of a supported version,
 * no request, no uid), RC_NOMEM; errmsg says what is wrong. */
int wh_review_decode(struct wh_review *rv, const char *body, size_t len,
                     size_t max_bytes);
void wh_review_cleanup(struct wh_review *rv);

/* The result of admitting a review. */
struct wh_outcome {
    enum wh_decision decision; /* INJECTED, SKIPPED, REFUSED or IGNORED */
    char reason[256];          /* why, for the log line */
    char *message;             /* owned: the refusal (status.message) */
    /* INJECTED: the patch is the diff from -> to, written straight into
     * the answer by wh_response_encode (jpatch_diff_each) */
    const json_t *from; /* borrowed: the review's pod (valid with it) */
    json_t *to;         /* owned: the injected pod */
    /* borrowed: cfg's pre-written template nodes (wh_frag.h), valid while
     * the caller holds cfg; NULL when none */
    const struct wh_frags *frags;
};

/* wh_admit decides for a decoded review. env is the object of proxy env
 * overrides from the URL path (or NULL). Not a pod / not CREATE: IGNORED.
 * Pods go through inj_pod_inject; an invalid pod (bad annotation, no
 * object) is REFUSED with a message naming the problem. Returns 0, or
 * RC_NOMEM (out left empty). Release out with wh_outcome_cleanup. */
int wh_admit(struct wh_outcome *out, const struct inj_config *cfg,
             const struct wh_review *rv, const json_t *env);
void wh_outcome_cleanup(struct wh_outcome *out);

/* wh_response_encode appends the AdmissionReview response for rv and oc to
 * out: apiVersion of the request, kind AdmissionReview, response.uid,
 * allowed, and patchType JSONPatch + base64 patch when injected, or a
 * metav1.Status (code 400) when refused. 0, RC_NOMEM or RC_LIMIT (out's
 * cap); on failure out keeps its length. */
int wh_response_encode(struct buf *out, const struct wh_review *rv,
                       const struct wh_outcome *oc);

/* wh_path_parse maps a request path to injection env overrides as istiod
 * does: "/inject" and "/inject/" give none (*env_out NULL);
 * "/inject/cluster/c1/net/n1" gives ISTIO_META_CLUSTER_ID=c1 and
 * ISTIO_META_NETWORK=n1; any other key k gives upper(k); "--slash--" in a
 * value becomes "/"; a trailing key without a value is ignored; the
 * deprecated "/inject/:ENV:k=v:ENV:k2=v2" form is read too. *env_out is a
 * new object or NULL. RC_NOTFOUND when the path is not an inject path,
 * RC_LIMIT over WH_MAX_PATH_ENV pairs, RC_INVAL for a key that is not a
 * valid env name, RC_NOMEM. */
#define WH_MAX_PATH_ENV 32
int wh_path_parse(json_t **env_out, const char *path);

#endif
