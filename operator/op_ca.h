/* op_ca.h: the operator's certificate authority and root rotation.
 *
 * The CA comes from the user's Secret `cacerts` (an intermediate CA:
 * ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem) when it exists in
 * the control-plane namespace, else from `istio-ca-secret` (ca-cert.pem,
 * ca-key.pem; type istio.io/ca-root), which the leader creates once with a
 * self-signed root and never re-creates while it exists.
 *
 * Root rotation state lives in istio-ca-secret itself, so a restarted or
 * new leader continues it:
 *   annotation mizzen.io/root-rotation-phase: publish|reissue|overlap
 *   annotation mizzen.io/root-rotation-overlap-since: RFC 3339 (overlap)
 *   data next-ca-cert.pem, next-ca-key.pem: the new root (publish)
 *   data previous-ca-cert.pem: the old root (reissue, overlap)
 * The trust bundle is a pure function of the Secret: [ca-cert] when idle,
 * [ca-cert, next-ca-cert] in publish, [previous-ca-cert, ca-cert] in
 * reissue and overlap (old root first in both, so the bundle's bytes do not
 * change at the switch).
 *
 * A snapshot (struct op_ca_snap) is immutable and reference-counted:
 * reconcilers take one, issue from it, and drop it. */
#ifndef MZ_OP_CA_H
#define MZ_OP_CA_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct pki_ca;
struct op_ctx;
struct op_opts;

#define OP_PHASE_ANNOTATION "mizzen.io/root-rotation-phase"
#define OP_SINCE_ANNOTATION "mizzen.io/root-rotation-overlap-since"
#define OP_CA_TYPE "istio.io/ca-root"

struct op_ca_snap {
    struct pki_ca *ca; /* the signing CA */
    char *bundle;      /* the published trust bundle (PEM) */
    size_t bundle_len;
    char *signing_roots; /* the signing CA's roots (PEM) */
    size_t signing_roots_len;
    int plugged; /* from cacerts: no rotation by us */
    int phase;   /* enum op_root_phase */
    int requested;
    time_t overlap_since;
    time_t root_nb, root_na; /* the signing root's validity */
    char source_rv[64];      /* resourceVersion of the Secret it came from */
    unsigned long gen;       /* increases with every new snapshot */
    atomic_int refs;
};

/* op_ca_snap_from_secret builds a snapshot from a CA Secret object
 * (istio-ca-secret form if plugged == 0, cacerts form otherwise) at time
 * now. RC_INVAL / RC_PARSE / RC_TLS with "<key>: reason" in errmsg. Key
 * material is wiped after use. *out only on success. */
int op_ca_snap_from_secret(struct op_ca_snap **out, const json_t *secret,
                           int plugged, time_t now);
void op_ca_snap_ref(struct op_ca_snap *s);
void op_ca_snap_unref(struct op_ca_snap *s); /* NULL is a no-op */

/* op_ca_root_new makes a self-signed root (key type, ttl) and returns its
 * PEMs (cert: mem_free; key: pki_secret_free). */
int op_ca_root_new(char **cert_pem, size_t *cert_len, char **key_pem,
                   size_t *key_len, int key_type, int64_t ttl, const char *org,
                   time_t now);

/* op_ca_secret_build: a new istio-ca-secret object (for CREATE). */
int op_ca_secret_build(json_t **out, const char *ns, const char *cert_pem,
                       size_t cert_len, const char *key_pem, size_t key_len);

/* op_ca_secret_step applies a rotation step (enum op_root_step) to a copy of
 * the Secret as read (resourceVersion kept for the PUT). START needs the
 * new root's PEMs; SETTLE records now. *out only on success. */
int op_ca_secret_step(json_t **out, const json_t *secret, int step,
                      const char *new_cert, size_t new_cert_len,
                      const char *new_key, size_t new_key_len, time_t now);

/* The CA controller's state (one per process). */
struct op_ca;
int op_ca_new(struct op_ca **out);
void op_ca_free(struct op_ca *ca);
/* op_ca_snap_get: the current snapshot (new reference) or NULL if no CA
 * is loaded yet. */
struct op_ca_snap *op_ca_snap_get(struct op_ca *ca);

#endif
