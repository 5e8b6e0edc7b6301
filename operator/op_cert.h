/* op_cert.h: certificate Secrets (a workload's istio.<sa>, the webhook's
 * serving certificate): what the cache keeps of them, and the one
 * reconcile both controllers share.
 *
 * The informer projection (op_secret_project) keeps no private key: it
 * checks the Secret when the event arrives (PEM readable, key matches the
 * leaf) and keeps the verdict, the leaf's validity and SANs, the public
 * chain (to verify against the current bundle later) and the root bundle
 * it carries. Secrets of other kinds project to an empty blob. */
#ifndef MZ_OP_CERT_H
#define MZ_OP_CERT_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

struct buf;
struct inf_obj;
struct op_cert_view;
struct op_ca_snap;
struct op_ctx;

/* The data keys of one Secret form. */
struct op_cert_keys {
    const char *chain, *key, *root;
};
extern const struct op_cert_keys OP_WL_KEYS;  /* cert-chain.pem, key.pem,
                                                 root-cert.pem */
extern const struct op_cert_keys OP_TLS_KEYS; /* tls.crt, tls.key, ca.crt */

/* Informer paths the projection reads (NULL-terminated). */
extern const char *const OP_SECRET_PATHS[];

/* op_secret_project: inf_project_fn; ud is the webhook Secret's name (or
 * NULL). Fails only for RC_NOMEM/RC_LIMIT; bad content is recorded. */
int op_secret_project(void *ud, const json_t *obj, struct buf *blob);

/* What a certificate Secret must be. */
struct op_cert_want {
    const char *ns, *name; /* the Secret */
    const char *type;      /* its type when created */
    const struct op_cert_keys *keys;
    const char *uri;        /* URI SAN (SPIFFE id) or NULL */
    const char *const *dns; /* DNS SANs */
    size_t ndns;
    const char *cn;          /* subject CN or NULL */
    const char *sa, *sa_uid; /* owner ServiceAccount (workload) or NULL */
    const char *comp;        /* log component ("wlsecret", "whcert") */
};

/* op_cert_view_build: the decision's input from the cached object (NULL:
 * absent), against snapshot s at now. Borrowed strings point into o. */
void op_cert_view_build(struct op_cert_view *v, const struct inf_obj *o,
                        const struct op_ca_snap *s,
                        const struct op_cert_want *w, time_t now);

/* op_cert_build: a complete Secret object with a fresh key and a cert
 * issued from s (metadata from w and, if present, the cached object's
 * resourceVersion and labels). *serial_out (mem_free) and *na_out get the
 * new cert's serial and notAfter. Key material is wiped from our buffers
 * (the JSON still holds its base64 until freed). */
int op_cert_build(json_t **out, char **serial_out, time_t *na_out,
                  const struct inf_obj *cur, const struct op_ca_snap *s,
                  const struct op_cert_want *w, int key_type, int64_t ttl,
                  time_t now);

/* op_cert_reconcile: decide and act for one certificate Secret (cached
 * object o, may be NULL) and log the action. 0 or RC_* (retry). */
int op_cert_reconcile(struct op_ctx *c, const struct inf_obj *o,
                      const struct op_cert_want *w, int64_t *requeue_ms);

/* op_cert_obj_published / _reissued: for the rotation checks. */
int op_cert_obj_published(const struct inf_obj *o, const char *bundle);
int op_cert_obj_reissued(const struct inf_obj *o, const char *roots);

#endif
