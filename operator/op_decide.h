/* op_decide.h: the operator's pure decisions (no I/O, time passed in).
 *
 * op_cert_decide: what to do with one certificate Secret (a workload's
 * istio.<sa> or the webhook's), from what the cache knows about it.
 * op_root_decide: the next step of the root rotation state machine.
 * Unit tests drive both on a fake clock. */
#ifndef MZ_OP_DECIDE_H
#define MZ_OP_DECIDE_H

#include "lib/pki.h"

#include <stdint.h>
#include <time.h>

/* What the controller knows about a certificate Secret. */
struct op_cert_view {
    int present;                  /* the Secret exists */
    const char *problem;          /* NULL, or why its content is unusable
                                   * ("key does not match certificate", ...) */
    time_t not_before, not_after; /* of the leaf (when problem == NULL) */
    int san_ok;                   /* the SANs are the expected identity */
    int chain_ok;   /* the chain verifies against the published bundle */
    int current_ca; /* issued by the current signing CA */
    int root_ok;    /* its root-cert.pem / ca.crt is the published bundle */
    int meta_ok;    /* owner, annotation and type are as expected */
};

struct op_cert_policy {
    double grace_ratio;
    int64_t min_grace;
    struct pki_window window;
};

enum op_cert_action {
    OP_CERT_NONE = 0,    /* nothing to write now */
    OP_CERT_ISSUE,       /* create or replace with a fresh key + cert */
    OP_CERT_UPDATE_ROOT, /* keep key + cert, rewrite the root bundle */
};

struct op_cert_decision {
    int action; /* enum op_cert_action */
    /* the log action: "issued" (new Secret), "renewed" (due), "repaired"
     * (tampered/invalid), "rotated" (new root), "deferred" (due, waiting
     * for the window), "ok" */
    const char *verb;
    const char *why; /* a short reason ("expired", "bad san", ...) */
    /* when to look again (0: no timed revisit needed): the renewal time,
     * the window's start for a deferred renewal */
    time_t next;
};

/* op_cert_decide: cannot fail. A renewal is due at pki_renew_at(nb, na,
 * grace_ratio, min_grace); a due renewal waits for the window unless the
 * hard deadline (na - min_grace) comes first (pki_renew_decide). Invalid
 * content, a wrong identity, a chain that no longer verifies, or an old
 * signing CA are re-issued at once (urgent: the window never applies). */
void op_cert_decide(struct op_cert_decision *d, const struct op_cert_view *v,
                    const struct op_cert_policy *p, time_t now);

/* ---- root rotation ---- */

enum op_root_phase {
    OP_ROOT_IDLE = 0, /* one root */
    OP_ROOT_PUBLISH,  /* new root made; bundle old+new being published;
                       * still signing with the old root */
    OP_ROOT_REISSUE,  /* signing with the new root; re-issuing every cert */
    OP_ROOT_OVERLAP   /* all re-issued; old root kept until overlap ends */
};

/* op_root_phase_name: "idle", "publish", "reissue", "overlap". */
const char *op_root_phase_name(int phase);
/* op_root_phase_parse: the inverse ("" and NULL are idle); RC_INVAL. */
int op_root_phase_parse(int *out, const char *s);

struct op_root_view {
    int phase;
    int requested;           /* mizzen.io/rotate-root: "true" */
    time_t root_nb, root_na; /* the signing root's validity */
    int published;           /* the bundle is everywhere (PUBLISH) */
    int reissued;            /* every cert is from the new root */
    time_t overlap_since;    /* OVERLAP: when all were re-issued */
};

struct op_root_policy {
    double grace_ratio; /* rotate when less than this share is left */
    int64_t grace;      /* or when less than this many seconds are left */
    int64_t overlap;    /* seconds */
};

enum op_root_step {
    OP_ROOT_WAIT = 0, /* nothing to do now (see *next) */
    OP_ROOT_START,    /* IDLE -> PUBLISH: make the new root */
    OP_ROOT_SWITCH,   /* PUBLISH -> REISSUE: sign with the new root */
    OP_ROOT_SETTLE,   /* REISSUE -> OVERLAP: record the time */
    OP_ROOT_FINISH    /* OVERLAP -> IDLE: drop the old root */
};

/* op_root_decide: the step to take now; *next (may be NULL) gets when to
 * look again for a time-driven step (0: only events matter; WAIT in
 * PUBLISH/REISSUE is event- and poll-driven). Cannot fail. */
int op_root_decide(const struct op_root_view *v, const struct op_root_policy *p,
                   time_t now, time_t *next);

/* op_root_due: when a root valid [nb, na] should be rotated. */
time_t op_root_due(time_t nb, time_t na, const struct op_root_policy *p);

#endif
