/* op_decide.c: pure decisions of the operator (op_decide.h). */
#include "operator/op_decide.h"

#include "lib/errmsg.h"
#include "lib/rc.h"

#include <string.h>

static void
set(struct op_cert_decision *d, int action, const char *verb, const char *why,
    time_t next)
{
    d->action = action;
    d->verb = verb;
    d->why = why;
    d->next = next;
}

void
op_cert_decide(struct op_cert_decision *d, const struct op_cert_view *v,
               const struct op_cert_policy *p, time_t now)
{
    time_t renew_at, deadline, when;

    if (!v->present) {
        set(d, OP_CERT_ISSUE, "issued", "missing", 0);
        return;
    }
    if (v->problem != NULL) {
        set(d, OP_CERT_ISSUE, "repaired", v->problem, 0);
        return;
    }
    if (now >= v->not_after) {
        set(d, OP_CERT_ISSUE, "repaired", "expired", 0);
        return;
    }
    if (now < v->not_before) {
        set(d, OP_CERT_ISSUE, "repaired", "not yet valid", 0);
        return;
    }
    if (!v->san_ok) {
        set(d, OP_CERT_ISSUE, "repaired", "wrong identity (SAN)", 0);
        return;
    }
    if (!v->chain_ok) {
        set(d, OP_CERT_ISSUE, "repaired", "chain does not verify", 0);
        return;
    }
    if (!v->current_ca) {
        set(d, OP_CERT_ISSUE, "rotated", "issued by a previous root", 0);
        return;
    }
    if (!v->meta_ok) { /* owner, annotation: rewrite the whole Secret */
        set(d, OP_CERT_ISSUE, "repaired", "metadata differs", 0);
        return;
    }
    renew_at =
        pki_renew_at(v->not_before, v->not_after, p->grace_ratio, p->min_grace);
    deadline = v->not_after - (p->min_grace > 0 ? p->min_grace : 0);
    when = pki_renew_decide(&p->window, now, renew_at, deadline);
    if (when <= now) {
        set(d, OP_CERT_ISSUE, "renewed",
            now >= deadline && p->window.set &&
                    !pki_window_contains(&p->window, now)
                ? "urgent: past the minimum grace, window skipped"
                : "due",
            0);
        return;
    }
    if (!v->root_ok) {
        set(d, OP_CERT_UPDATE_ROOT, "repaired", "trust bundle differs", when);
        return;
    }
    if (renew_at <= now)
        set(d, OP_CERT_NONE, "deferred", "outside the rotation window", when);
    else
        set(d, OP_CERT_NONE, "ok", "valid", when);
}

static const char *const PHASES[] = {"idle", "publish", "reissue", "overlap"};

const char *
op_root_phase_name(int phase)
{
    if (phase < 0 || phase > OP_ROOT_OVERLAP)
        return "?";
    return PHASES[phase];
}

int
op_root_phase_parse(int *out, const char *s)
{
    if (s == NULL || *s == 0) {
        *out = OP_ROOT_IDLE;
        return 0;
    }
    for (int i = 0; i <= OP_ROOT_OVERLAP; i++)
        if (strcmp(s, PHASES[i]) == 0) {
            *out = i;
            return 0;
        }
    return errmsg_set(RC_INVAL, "unknown root rotation phase '%s'", s);
}

time_t
op_root_due(time_t nb, time_t na, const struct op_root_policy *p)
{
    return pki_renew_at(nb, na, p->grace_ratio, p->grace);
}

int
op_root_decide(const struct op_root_view *v, const struct op_root_policy *p,
               time_t now, time_t *next)
{
    time_t due, end;

    if (next)
        *next = 0;
    switch (v->phase) {
    case OP_ROOT_IDLE:
        due = op_root_due(v->root_nb, v->root_na, p);
        if (v->requested || now >= due)
            return OP_ROOT_START;
        if (next)
            *next = due;
        return OP_ROOT_WAIT;
    case OP_ROOT_PUBLISH:
        return v->published ? OP_ROOT_SWITCH : OP_ROOT_WAIT;
    case OP_ROOT_REISSUE:
        return v->reissued ? OP_ROOT_SETTLE : OP_ROOT_WAIT;
    case OP_ROOT_OVERLAP:
        end = v->overlap_since + (p->overlap > 0 ? p->overlap : 0);
        /* a cert issued meanwhile by the old root cannot exist (we sign
         * with the new one), but re-check: never drop a root in use */
        if (now >= end && v->reissued)
            return OP_ROOT_FINISH;
        if (next)
            *next = end > now ? end : now + 1;
        return OP_ROOT_WAIT;
    }
    return OP_ROOT_WAIT;
}
