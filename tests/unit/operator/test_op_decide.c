/* test_op_decide.c: the operator's pure decisions on a fake clock:
 * certificate renewal (grace ratio, minimum grace, quiet-hours window),
 * repair of invalid content, and the root rotation state machine. */
#include "tests/unit/harness.h"

#include "operator/op_decide.h"

#include <stdlib.h>
#include <time.h>

#define H 3600
#define T0 ((time_t)1767225600) /* 2026-01-01T00:00:00Z */

static struct op_cert_view
healthy(time_t nb, time_t na)
{
    struct op_cert_view v = {0};

    v.present = 1;
    v.not_before = nb;
    v.not_after = na;
    v.san_ok = v.chain_ok = v.current_ca = v.root_ok = v.meta_ok = 1;
    return v;
}

static struct op_cert_policy
policy(const char *window)
{
    struct op_cert_policy p = {0.5, 600, {0}};

    setenv("TZ", "UTC", 1);
    tzset();
    if (window != NULL && pki_window_parse(&p.window, window) != 0)
        abort();
    return p;
}

TEST(cert_missing_is_issued)
{
    struct op_cert_view v = {0};
    struct op_cert_policy p = policy(NULL);
    struct op_cert_decision d;

    op_cert_decide(&d, &v, &p, T0);
    CHECK_INT(d.action, OP_CERT_ISSUE);
    CHECK_STR(d.verb, "issued");
}

TEST(cert_valid_waits_until_half_life)
{
    /* 90 days from T0: half-life at T0 + 45 d */
    struct op_cert_view v = healthy(T0, T0 + 2160 * H);
    struct op_cert_policy p = policy(NULL);
    struct op_cert_decision d;

    op_cert_decide(&d, &v, &p, T0 + 10 * H);
    CHECK_INT(d.action, OP_CERT_NONE);
    CHECK_STR(d.verb, "ok");
    CHECK_INT(d.next, T0 + 1080 * H);
    op_cert_decide(&d, &v, &p, T0 + 1080 * H - 1);
    CHECK_INT(d.action, OP_CERT_NONE);
    op_cert_decide(&d, &v, &p, T0 + 1080 * H);
    CHECK_INT(d.action, OP_CERT_ISSUE);
    CHECK_STR(d.verb, "renewed");
    CHECK_STR(d.why, "due");
}

TEST(cert_min_grace_bounds_a_small_ratio)
{
    /* ratio 0: renew only at na - min_grace */
    struct op_cert_view v = healthy(T0, T0 + 2 * H);
    struct op_cert_policy p = policy(NULL);
    struct op_cert_decision d;

    p.grace_ratio = 0;
    op_cert_decide(&d, &v, &p, T0 + H);
    CHECK_INT(d.action, OP_CERT_NONE);
    CHECK_INT(d.next, T0 + 2 * H - 600);
    op_cert_decide(&d, &v, &p, T0 + 2 * H - 600);
    CHECK_INT(d.action, OP_CERT_ISSUE);
}

TEST(cert_window_defers_then_renews_inside)
{
    /* due at T0 + 1080 h = 00:00 UTC; window 02:00-05:00 */
    struct op_cert_view v = healthy(T0, T0 + 2160 * H);
    struct op_cert_policy p = policy("02:00-05:00");
    struct op_cert_decision d;
    time_t due = T0 + 1080 * H;

    op_cert_decide(&d, &v, &p, due + 60);
    CHECK_INT(d.action, OP_CERT_NONE);
    CHECK_STR(d.verb, "deferred");
    CHECK_INT(d.next, due + 2 * H); /* the window's start */
    op_cert_decide(&d, &v, &p, due + 2 * H);
    CHECK_INT(d.action, OP_CERT_ISSUE);
    CHECK_STR(d.verb, "renewed");
    CHECK_STR(d.why, "due");
    /* after the window closed: deferred to the next day's window */
    op_cert_decide(&d, &v, &p, due + 6 * H);
    CHECK_STR(d.verb, "deferred");
    CHECK_INT(d.next, due + 26 * H);
}

TEST(cert_window_never_past_min_grace)
{
    /* a 1 h cert: due at 30 min, deadline at 50 min, window far away */
    struct op_cert_view v = healthy(T0, T0 + H);
    struct op_cert_policy p = policy("12:00-13:00");
    struct op_cert_decision d;

    op_cert_decide(&d, &v, &p, T0 + 1800);
    CHECK_INT(d.action, OP_CERT_ISSUE); /* the window would come too late */
    CHECK_STR(d.verb, "renewed");
    /* a long cert due now, window tomorrow, deadline far: deferred */
    v = healthy(T0, T0 + 2160 * H);
    op_cert_decide(&d, &v, &p, T0 + 1080 * H + 13 * H);
    CHECK_STR(d.verb, "deferred");
    /* inside the minimum grace: urgent, the window is skipped */
    op_cert_decide(&d, &v, &p, T0 + 2160 * H - 300);
    CHECK_INT(d.action, OP_CERT_ISSUE);
    CHECK_CONTAINS(d.why, "urgent");
}

TEST(cert_invalid_content_is_repaired_at_once)
{
    struct op_cert_policy p = policy("02:00-03:00");
    struct op_cert_decision d;
    struct op_cert_view v = healthy(T0, T0 + 2160 * H);

    v.problem = "key does not match certificate";
    op_cert_decide(&d, &v, &p, T0 + 12 * H); /* outside the window */
    CHECK_INT(d.action, OP_CERT_ISSUE);
    CHECK_STR(d.verb, "repaired");
    CHECK_STR(d.why, "key does not match certificate");

    v = healthy(T0, T0 + 2160 * H);
    v.san_ok = 0;
    op_cert_decide(&d, &v, &p, T0 + 12 * H);
    CHECK_INT(d.action, OP_CERT_ISSUE);
    CHECK_CONTAINS(d.why, "SAN");

    v = healthy(T0, T0 + 2160 * H);
    v.chain_ok = 0;
    op_cert_decide(&d, &v, &p, T0 + 12 * H);
    CHECK_INT(d.action, OP_CERT_ISSUE);
    CHECK_CONTAINS(d.why, "verify");

    v = healthy(T0, T0 + 2160 * H);
    op_cert_decide(&d, &v, &p, T0 + 2160 * H);
    CHECK_INT(d.action, OP_CERT_ISSUE);
    CHECK_STR(d.why, "expired");

    v = healthy(T0 + H, T0 + 2160 * H);
    op_cert_decide(&d, &v, &p, T0);
    CHECK_STR(d.why, "not yet valid");

    v = healthy(T0, T0 + 2160 * H);
    v.meta_ok = 0;
    op_cert_decide(&d, &v, &p, T0 + 12 * H);
    CHECK_INT(d.action, OP_CERT_ISSUE);
    CHECK_STR(d.why, "metadata differs");
}

TEST(cert_old_root_is_rotated_and_bundle_patched)
{
    struct op_cert_policy p = policy(NULL);
    struct op_cert_decision d;
    struct op_cert_view v = healthy(T0, T0 + 2160 * H);

    v.current_ca = 0;
    op_cert_decide(&d, &v, &p, T0 + H);
    CHECK_INT(d.action, OP_CERT_ISSUE);
    CHECK_STR(d.verb, "rotated");

    v = healthy(T0, T0 + 2160 * H);
    v.root_ok = 0;
    op_cert_decide(&d, &v, &p, T0 + H);
    CHECK_INT(d.action, OP_CERT_UPDATE_ROOT);
    CHECK_INT(d.next, T0 + 1080 * H);
    /* due AND old bundle: one re-issue fixes both */
    op_cert_decide(&d, &v, &p, T0 + 1100 * H);
    CHECK_INT(d.action, OP_CERT_ISSUE);
}

TEST(root_phases)
{
    struct op_root_policy p = {0.2, 0, 3600};
    struct op_root_view v = {0};
    time_t next = 0;
    time_t life = (time_t)3650 * 86400;

    v.root_nb = T0;
    v.root_na = T0 + life;
    CHECK_INT(op_root_decide(&v, &p, T0 + 86400, &next), OP_ROOT_WAIT);
    CHECK_INT(next, T0 + life - life / 5);
    CHECK_INT(op_root_decide(&v, &p, next, NULL), OP_ROOT_START);
    v.requested = 1;
    CHECK_INT(op_root_decide(&v, &p, T0 + 86400, NULL), OP_ROOT_START);

    v.phase = OP_ROOT_PUBLISH;
    CHECK_INT(op_root_decide(&v, &p, T0, &next), OP_ROOT_WAIT);
    v.published = 1;
    CHECK_INT(op_root_decide(&v, &p, T0, &next), OP_ROOT_SWITCH);

    v.phase = OP_ROOT_REISSUE;
    CHECK_INT(op_root_decide(&v, &p, T0, &next), OP_ROOT_WAIT);
    v.reissued = 1;
    CHECK_INT(op_root_decide(&v, &p, T0, &next), OP_ROOT_SETTLE);

    v.phase = OP_ROOT_OVERLAP;
    v.overlap_since = T0;
    CHECK_INT(op_root_decide(&v, &p, T0 + 3599, &next), OP_ROOT_WAIT);
    CHECK_INT(next, T0 + 3600);
    CHECK_INT(op_root_decide(&v, &p, T0 + 3600, &next), OP_ROOT_FINISH);
    v.reissued = 0; /* never drop a root still in use */
    CHECK_INT(op_root_decide(&v, &p, T0 + 7200, &next), OP_ROOT_WAIT);
}

TEST(root_grace_as_duration)
{
    struct op_root_policy p = {0, 30 * 86400, 60};

    CHECK_INT(op_root_due(T0, T0 + 365 * 86400, &p), T0 + 335 * 86400);
}

TEST(root_phase_names)
{
    int ph = -1;

    CHECK_STR(op_root_phase_name(OP_ROOT_OVERLAP), "overlap");
    CHECK_INT(op_root_phase_parse(&ph, "reissue"), 0);
    CHECK_INT(ph, OP_ROOT_REISSUE);
    CHECK_INT(op_root_phase_parse(&ph, ""), 0);
    CHECK_INT(ph, OP_ROOT_IDLE);
    CHECK(op_root_phase_parse(&ph, "bogus") != 0);
}
