/* test_lease.c: MicroTime, the Lease record, and the acquire/renew decision
 * on a fake clock (expiry measured from the local observation time). */
#include "tests/unit/harness.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/lease.h"
#include "lib/mem.h"
#include "lib/rc.h"

TEST(lease_microtime_format_and_parse)
{
    char s[40];
    int64_t us = 0;

    CHECK_INT(lease_format_microtime(1714557792345678LL, s, sizeof(s)), 0);
    CHECK_STR(s, "2024-05-01T10:03:12.345678Z");
    CHECK_INT(lease_format_microtime(1714557792000000LL, s, sizeof(s)), 0);
    CHECK_STR(s, "2024-05-01T10:03:12.000000Z");
    CHECK_INT(lease_parse_microtime("2024-05-01T10:03:12.345678Z", &us), 0);
    CHECK_INT(us, 1714557792345678LL);
    CHECK_INT(lease_parse_microtime("2024-05-01T10:03:12Z", &us), 0);
    CHECK_INT(us, 1714557792000000LL);
    CHECK_INT(lease_parse_microtime("2024-05-01T12:03:12.5+02:00", &us), 0);
    CHECK_INT(us, 1714557792500000LL);
    CHECK_INT(lease_parse_microtime("2024-05-01T10:03:12.123456789Z", &us), 0);
    CHECK_INT(us, 1714557792123456LL);
    CHECK_INT(lease_parse_microtime("2024-05-01 10:03:12Z", &us), RC_PARSE);
    CHECK_INT(lease_parse_microtime("2024-13-01T10:03:12Z", &us), RC_PARSE);
    CHECK_INT(lease_parse_microtime("2024-05-01T10:03:12.Z", &us), RC_PARSE);
    CHECK_INT(lease_parse_microtime("2024-05-01T10:03:12", &us), RC_PARSE);
    CHECK_INT(lease_parse_microtime("2024-05-01T10:03:12Zjunk", &us), RC_PARSE);
    CHECK_INT(lease_parse_microtime(NULL, &us), RC_PARSE);
    CHECK_INT(lease_format_microtime(1, s, 10), RC_LIMIT);
}

TEST(lease_record_round_trip)
{
    struct lease_record r = {0}, back;
    json_t *j;

    r.exists = 1;
    snprintf(r.holder, sizeof(r.holder), "pod-a_0123");
    r.duration_s = 15;
    r.acquire_us = 1714557600000000LL;
    r.renew_us = 1714557792345678LL;
    r.transitions = 3;
    snprintf(r.rv, sizeof(r.rv), "8812");
    j = lease_record_to_json(&r, "ns", "my-lease");
    REQUIRE(j != NULL);
    CHECK_STR(jutil_path_str(j, "spec.renewTime"),
              "2024-05-01T10:03:12.345678Z");
    CHECK_STR(jutil_path_str(j, "metadata.resourceVersion"), "8812");
    CHECK_STR(jutil_path_str(j, "apiVersion"), "coordination.k8s.io/v1");
    CHECK_INT(lease_record_from_json(&back, j), 0);
    CHECK(memcmp(&r, &back, sizeof(r)) == 0);
    json_decref(j);
    /* released: no holderIdentity field at all */
    r.holder[0] = 0;
    r.rv[0] = 0;
    j = lease_record_to_json(&r, "ns", "my-lease");
    REQUIRE(j != NULL);
    CHECK(jutil_path(j, "spec.holderIdentity") == NULL);
    CHECK(jutil_path(j, "metadata.resourceVersion") == NULL);
    json_decref(j);
    CHECK_INT(lease_record_from_json(&back, NULL), 0);
    CHECK(!back.exists);
    j = json_pack("{s:{s:s}}", "spec", "renewTime", "yesterday");
    CHECK_INT(lease_record_from_json(&back, j), RC_PARSE);
    json_decref(j);
}

static struct lease_record
held_by(const char *who, int64_t renew_us, int transitions)
{
    struct lease_record r = {0};

    r.exists = 1;
    snprintf(r.holder, sizeof(r.holder), "%s", who);
    r.duration_s = 15;
    r.acquire_us = 1000;
    r.renew_us = renew_us;
    r.transitions = transitions;
    snprintf(r.rv, sizeof(r.rv), "100");
    return r;
}

TEST(lease_decide_create_when_absent)
{
    struct lease_observed obs = {0};
    struct lease_record next, absent = {0};

    CHECK_INT(lease_decide(&obs, &absent, "me", 15, 0, 5000000, &next),
              LEASE_CREATE);
    CHECK_STR(next.holder, "me");
    CHECK_INT(next.transitions, 0);
    CHECK_INT(next.duration_s, 15);
    CHECK_INT(next.acquire_us, 5000000);
    CHECK_INT(next.renew_us, 5000000);
    CHECK_INT(lease_decide(&obs, NULL, "me", 15, 0, 1, &next), LEASE_CREATE);
}

TEST(lease_decide_waits_a_full_duration_from_local_observation)
{
    struct lease_observed obs = {0};
    struct lease_record next;
    /* the remote renewTime is far in the past: skew must not matter */
    struct lease_record cur = held_by("other", 1, 4);

    CHECK_INT(lease_decide(&obs, &cur, "me", 15, 100000, 9e15, &next),
              LEASE_WAIT);
    CHECK_INT(lease_decide(&obs, &cur, "me", 15, 114999, 9e15, &next),
              LEASE_WAIT);
    CHECK_INT(lease_decide(&obs, &cur, "me", 15, 115000, 777, &next),
              LEASE_TAKE);
    CHECK_STR(next.holder, "me");
    CHECK_INT(next.transitions, 5);
    CHECK_INT(next.acquire_us, 777);
    CHECK_INT(next.renew_us, 777);
    CHECK_STR(next.rv, "100"); /* optimistic PUT on what was read */
}

TEST(lease_decide_renewal_resets_observation)
{
    struct lease_observed obs = {0};
    struct lease_record next;
    struct lease_record cur = held_by("other", 1000, 0);

    CHECK_INT(lease_decide(&obs, &cur, "me", 15, 0, 1, &next), LEASE_WAIT);
    /* the holder renews at t=10 s: a new record, the clock restarts */
    cur.renew_us = 2000;
    CHECK_INT(lease_decide(&obs, &cur, "me", 15, 10000, 1, &next), LEASE_WAIT);
    CHECK_INT(lease_decide(&obs, &cur, "me", 15, 24999, 1, &next), LEASE_WAIT);
    CHECK_INT(lease_decide(&obs, &cur, "me", 15, 25000, 1, &next), LEASE_TAKE);
}

TEST(lease_decide_uses_the_records_duration)
{
    struct lease_observed obs = {0};
    struct lease_record next;
    struct lease_record cur = held_by("other", 1000, 0);

    cur.duration_s = 5;
    CHECK_INT(lease_decide(&obs, &cur, "me", 15, 0, 1, &next), LEASE_WAIT);
    CHECK_INT(lease_decide(&obs, &cur, "me", 15, 5000, 1, &next), LEASE_TAKE);
    CHECK_INT(next.duration_s, 15);
}

TEST(lease_decide_released_lease_is_taken_at_once)
{
    struct lease_observed obs = {0};
    struct lease_record next;
    struct lease_record cur = held_by("", 1000, 7);

    cur.duration_s = 1;
    CHECK_INT(lease_decide(&obs, &cur, "me", 15, 0, 42, &next), LEASE_TAKE);
    CHECK_INT(next.transitions, 8);
}

TEST(lease_decide_self_renews_keeping_term)
{
    struct lease_observed obs = {0};
    struct lease_record next;
    struct lease_record cur = held_by("me", 1000, 2);

    CHECK_INT(lease_decide(&obs, &cur, "me", 15, 0, 9999, &next), LEASE_RENEW);
    CHECK_INT(next.transitions, 2);
    CHECK_INT(next.acquire_us, 1000);
    CHECK_INT(next.renew_us, 9999);
}

TEST(lease_window_left_counts_from_renew_start)
{
    /* lease 15 s, renew deadline 10 s, margin 1.5 s; renew started at 1000 */
    CHECK_INT(lease_window_left_ms(1000, 1000, 15000, 10000, 1500), 13500);
    CHECK_INT(lease_window_left_ms(1000, 6000, 15000, 10000, 1500), 8500);
    /* the last instant as leader still leaves lease - deadline - margin */
    CHECK_INT(lease_window_left_ms(1000, 10999, 15000, 10000, 1500), 3501);
    /* at the renew deadline it is over, though the lease itself is not */
    CHECK_INT(lease_window_left_ms(1000, 11000, 15000, 10000, 1500), 0);
    CHECK_INT(lease_window_left_ms(1000, 14000, 15000, 10000, 1500), 0);
    CHECK_INT(lease_window_left_ms(1000, 99000, 15000, 10000, 1500), 0);
    /* a margin that eats the whole window never yields a negative */
    CHECK_INT(lease_window_left_ms(1000, 5000, 15000, 10000, 12000), 0);
}

TEST(lease_new_checks_timings)
{
    struct lease_opts o = {0};
    struct lease *l = NULL;

    o.ns = "ns";
    o.name = "x";
    o.lease_duration_ms = 10000;
    o.renew_deadline_ms = 10000;
    CHECK_INT(lease_new(&l, NULL, &o), RC_INVAL);
    o.lease_duration_ms = 15000;
    o.renew_deadline_ms = 2000;
    o.retry_period_ms = 2000;
    CHECK_INT(lease_new(&l, NULL, &o), RC_INVAL);
    o.retry_period_ms = 1000;
    o.request_timeout_ms = 2000;
    CHECK_INT(lease_new(&l, NULL, &o), RC_INVAL);
    CHECK(l == NULL);
    /* a safety margin must leave a write window after the renew deadline */
    o.renew_deadline_ms = 10000;
    o.retry_period_ms = 2000;
    o.request_timeout_ms = 0;
    o.safety_margin_ms = 5000;
    CHECK_INT(lease_new(&l, NULL, &o), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "safety margin");
    CHECK(l == NULL);
}
