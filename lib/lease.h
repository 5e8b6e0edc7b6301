/* lease.h: leader election with coordination.k8s.io/v1 Leases (client-go's
 * algorithm, reference kubernetes-api.md section 6).
 *
 * A candidate GETs the Lease (CREATE when absent) and takes it only when the
 * holder is empty or the record has not changed for leaseDurationSeconds as
 * measured on the LOCAL monotonic clock since this process first saw that
 * record (observedTime), so clock skew between pods does not matter. Taking
 * or renewing is an optimistic PUT with the resourceVersion read (409: lost
 * the race). The leader renews every retry period (a PUT with the record it
 * last wrote; GET + PUT on conflict).
 *
 * Safety: the leader counts its deadline from the START of its last
 * successful renew. lease_is_leader() turns false exactly when no renew has
 * succeeded within renew_deadline (a time check, not a flag the thread must
 * remember to clear), and a watchdog thread calls stopped_leading at that
 * moment even while a renew request hangs. Every request has a timeout
 * below the renew deadline. A standby waits lease_duration (> renew
 * deadline) from its own observation, which comes after our renew reached
 * the server, so no one else can lead before renew start + lease_duration.
 * Writers fence themselves in time against that instant: right before each
 * write, lease_remaining_ms() (0 when not leader) must exceed the write's
 * request timeout, so a write is never started, and never waited for,
 * past the moment another leader could exist. stopped_leading is NOT a
 * barrier: a write started just before it may still complete just after
 * it (it still completes inside the lease). After losing, the
 * elector goes on as a candidate and may lead again (started_leading
 * again). lease_stop releases the lease (holder "", leaseDurationSeconds 1)
 * so a standby takes over at once.
 *
 * Callbacks run on the elector's threads, never concurrently with each
 * other, and must return quickly. */
#ifndef MZ_LEASE_H
#define MZ_LEASE_H

#include <jansson.h>
#include <stdint.h>

struct kube_config;

/* ---- the record and the pure decision (tests use a fake clock) ---- */

struct lease_record {
    int exists;                   /* the Lease object exists */
    char holder[256];             /* spec.holderIdentity ("" when none) */
    int duration_s;               /* spec.leaseDurationSeconds */
    int64_t acquire_us, renew_us; /* MicroTime as Unix microseconds */
    int transitions;              /* spec.leaseTransitions */
    char rv[64];                  /* metadata.resourceVersion */
};

/* MicroTime: "2024-05-01T10:03:12.345678Z" (exactly 6 digits). */
int lease_format_microtime(int64_t unix_us, char *out, size_t cap);
/* Accepts RFC 3339 with 0-9 fraction digits and Z or +hh:mm; RC_PARSE. */
int lease_parse_microtime(const char *s, int64_t *unix_us);

/* lease_record_from_json reads a Lease object (NULL: absent). Missing
 * fields are zero; bad times are RC_PARSE. */
int lease_record_from_json(struct lease_record *r, const json_t *lease);
/* lease_record_to_json builds the Lease to CREATE/PUT; NULL on RC_NOMEM. */
json_t *lease_record_to_json(const struct lease_record *r, const char *ns,
                             const char *name);

enum lease_decision {
    LEASE_WAIT = 0, /* someone else holds a live lease */
    LEASE_CREATE,   /* no Lease: create it */
    LEASE_TAKE,     /* acquire (empty or expired holder): PUT */
    LEASE_RENEW     /* we hold it: PUT */
};

/* What a candidate remembers of the record it saw last. */
struct lease_observed {
    struct lease_record rec;
    int64_t at_ms; /* local monotonic time it first saw rec */
    int valid;
};

/* lease_decide: cur is the Lease as read now. Updates obs, and fills *next
 * with the record to write for CREATE/TAKE/RENEW (holder self, renew now,
 * acquire now and transitions+1 on a take). Pure: the caller passes the
 * monotonic and wall clocks. */
enum lease_decision lease_decide(struct lease_observed *obs,
                                 const struct lease_record *cur,
                                 const char *self, int duration_s,
                                 int64_t mono_ms, int64_t wall_us,
                                 struct lease_record *next);

/* lease_window_left_ms: how long a leader whose last successful renew
 * STARTED at renew_start_ms may still have a write in flight at now_ms
 * (same monotonic clock): renew_start + lease_ms - margin_ms - now while
 * it is leader (now - renew_start < deadline_ms), else 0. Pure. */
int64_t lease_window_left_ms(int64_t renew_start_ms, int64_t now_ms,
                             int lease_ms, int deadline_ms, int margin_ms);

/* ---- the elector ---- */

struct lease_opts {
    const char *ns, *name;  /* the Lease */
    const char *identity;   /* NULL: "<hostname>_<16 random hex>" */
    int lease_duration_ms;  /* 0: 15000 */
    int renew_deadline_ms;  /* 0: 10000 */
    int retry_period_ms;    /* 0: 2000 */
    int request_timeout_ms; /* 0: renew_deadline / 4 */
    int no_release;         /* do not release on lease_stop */
    void (*started_leading)(void *ud);
    void (*stopped_leading)(void *ud);
    void (*new_leader)(void *ud, const char *identity); /* may be NULL */
    void *ud;
    /* subtracted from the lease for lease_remaining_ms (clock-rate drift
     * between nodes, scheduling); 0: min(lease / 10, (lease - renew
     * deadline) / 2); must be < lease - renew deadline */
    int safety_margin_ms;
};

struct lease;

/* lease_new builds its own API client from cfg (so its requests carry the
 * short timeout and no retries). Checks lease_duration > renew_deadline >
 * 1.2 x retry_period: RC_INVAL. *out only on success. */
int lease_new(struct lease **out, const struct kube_config *cfg,
              const struct lease_opts *o);
int lease_start(struct lease *l); /* 0, RC_INTERNAL */
/* lease_stop: stop campaigning; a leader stops leading (callback) and then
 * releases the Lease. Idempotent. */
void lease_stop(struct lease *l);
void lease_free(struct lease *l);

int lease_is_leader(struct lease *l);
/* lease_remaining_ms: 0 when not leader (as lease_is_leader), else the
 * milliseconds until another candidate could possibly hold the Lease, less
 * the safety margin: lease_window_left_ms() of the last successful renew.
 * While leader it is always > lease - renew deadline - margin. Call it
 * right before each leader-only write and start the write only if its
 * request timeout is below the value (or use the value as the timeout):
 * the write then cannot be answered after another leader could exist.
 * *term (may be NULL) gets lease_term() read atomically with it. */
int64_t lease_remaining_ms(struct lease *l, int *term);
/* lease_term: leaseTransitions of the current term while leader, else -1:
 * a fencing number for writes. */
int lease_term(struct lease *l);
const char *lease_identity(const struct lease *l);

#endif
