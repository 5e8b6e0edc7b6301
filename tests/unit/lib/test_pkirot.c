/* test_pkirot.c: renewal math and quiet-hours windows of lib/pki
 * (pkirot.c), in UTC, in Asia/Tokyo and across a DST change. Expected
 * instants are written as epoch seconds (computed independently with
 * Python's calendar.timegm), not derived from the code under test. */
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define DAY ((time_t)86400)
#define T_0110_1200Z ((time_t)1768046400) /* 2026-01-10 12:00 UTC */
#define T_0110_1700Z ((time_t)1768064400) /* 2026-01-10 17:00 UTC */
#define T_0110_2200Z ((time_t)1768082400)
#define T_0110_2330Z ((time_t)1768087800)
#define T_0111_0200Z ((time_t)1768096800)
#define T_0111_2200Z ((time_t)1768168800)
#define T_0308_0500Z ((time_t)1772946000) /* 00:00 EST, DST day (US) */
#define T_0308_0700Z ((time_t)1772953200) /* 03:00 EDT */
#define T_0309_0610Z ((time_t)1773036600) /* 02:10 EDT the day after */

static char saved_tz[128];
static int had_tz;

static void
tz_set(const char *tz)
{
    if (!had_tz) {
        const char *cur = getenv("TZ");
        had_tz = cur ? 1 : -1;
        if (cur)
            snprintf(saved_tz, sizeof(saved_tz), "%s", cur);
    }
    setenv("TZ", tz, 1);
    tzset();
}

static void
tz_restore(void)
{
    if (had_tz == 1)
        setenv("TZ", saved_tz, 1);
    else if (had_tz == -1)
        unsetenv("TZ");
    had_tz = 0;
    tzset();
}

static struct pki_window
win(const char *s)
{
    struct pki_window w;

    memset(&w, 0xee, sizeof(w));
    if (pki_window_parse(&w, s) != 0)
        harness_fail(__FILE__, __LINE__, "window '%s': %s", s, errmsg_get());
    return w;
}

TEST(pki_renew_at_math)
{
    /* half of the lifetime left, min grace small */
    CHECK_INT(pki_renew_at(1000, 2000, 0.5, 10), 1500);
    /* the minimum grace wins when it is longer than the ratio's share */
    CHECK_INT(pki_renew_at(1000, 2000, 0.5, 600), 1400);
    CHECK_INT(pki_renew_at(1000, 2000, 0.25, 0), 1750);
    CHECK_INT(pki_renew_at(1000, 2000, 0.0, 100), 1900);
    CHECK_INT(pki_renew_at(1000, 2000, 1.0, 0), 1000);
    /* out-of-range inputs are clamped */
    CHECK_INT(pki_renew_at(1000, 2000, 2.0, 0), 1000);
    CHECK_INT(pki_renew_at(1000, 2000, -1.0, 0), 2000);
    CHECK_INT(pki_renew_at(1000, 2000, NAN, 0), 1500); /* NaN: 0.5 */
    CHECK_INT(pki_renew_at(1000, 2000, 0.5, -50), 1500);
    /* min grace longer than the lifetime: due before it began */
    CHECK_INT(pki_renew_at(1000, 2000, 0.5, 5000), -3000);
    /* inverted validity: lifetime 0 */
    CHECK_INT(pki_renew_at(2000, 1000, 0.5, 0), 1000);
}

TEST(pki_renew_at_istio_defaults)
{
    /* a 90-day workload cert issued at T (notBefore T - 5 min) */
    time_t nb = T_0110_1200Z - 300, na = T_0110_1200Z + 90 * DAY;
    time_t life = na - nb;

    CHECK_INT(
        pki_renew_at(nb, na, PKI_DEFAULT_GRACE_RATIO, PKI_DEFAULT_MIN_GRACE),
        na - life / 2);
    /* a 15-minute cert: 10 min min grace dominates half of 15 min */
    CHECK_INT(pki_renew_at(1000, 1900, 0.5, PKI_DEFAULT_MIN_GRACE), 1300);
}

TEST(pki_window_parse_forms)
{
    struct pki_window w = win("02:00-05:00");

    CHECK_INT(w.set, 1);
    CHECK_INT(w.start_min, 120);
    CHECK_INT(w.end_min, 300);
    w = win("22:30-01:15");
    CHECK_INT(w.start_min, 1350);
    CHECK_INT(w.end_min, 75);
    w = win("");
    CHECK_INT(w.set, 0);
    w = win(NULL);
    CHECK_INT(w.set, 0);
    w = win("00:00-23:59");
    CHECK_INT(w.end_min, 1439);
    static const char *const bad[] = {
        "2:00-05:00",       "02:00-5:00",   "24:00-01:00",
        "02:60-03:00",      "02:00-02:00",  "02:00_05:00",
        "02:00-05:00 ",     " 02:00-05:00", "02-05",
        "aa:bb-cc:dd",      "02:00-05:0x",  "02:00--5:00",
        "02:00-05:00-06:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pki_window keep = {.set = 7};
        if (pki_window_parse(&keep, bad[i]) != RC_INVAL || keep.set != 7)
            harness_fail(__FILE__, __LINE__, "'%s' accepted", bad[i]);
    }
    pki_window_parse(&w, "02:00-02:00");
    CHECK_CONTAINS(errmsg_get(), "empty");
}

TEST(pki_window_utc_and_across_midnight)
{
    struct pki_window night = win("02:00-05:00"), late = win("22:00-02:00");
    struct pki_window none = win("");

    tz_set("UTC");
    CHECK_INT(pki_window_contains(&night, T_0110_1200Z), 0);
    CHECK_INT(pki_window_next(&night, T_0110_1200Z), T_0111_0200Z);
    CHECK_INT(pki_window_contains(&night, T_0111_0200Z), 1);
    CHECK_INT(pki_window_contains(&night, T_0111_0200Z + 3 * 3600 - 1), 1);
    CHECK_INT(pki_window_contains(&night, T_0111_0200Z + 3 * 3600), 0);
    CHECK_INT(pki_window_next(&night, T_0111_0200Z + 60), T_0111_0200Z + 60);
    /* across midnight */
    CHECK_INT(pki_window_contains(&late, T_0110_2330Z), 1);
    CHECK_INT(pki_window_contains(&late, T_0111_0200Z - 60), 1);
    CHECK_INT(pki_window_contains(&late, T_0111_0200Z), 0);
    CHECK_INT(pki_window_next(&late, T_0111_0200Z), T_0111_2200Z);
    CHECK_INT(pki_window_next(&late, T_0110_1200Z), T_0110_2200Z);
    /* no window: always inside */
    CHECK_INT(pki_window_contains(&none, T_0110_1200Z), 1);
    CHECK_INT(pki_window_next(&none, T_0110_1200Z), T_0110_1200Z);
    CHECK_INT(pki_window_next(NULL, T_0110_1200Z), T_0110_1200Z);
    tz_restore();
}

TEST(pki_window_in_another_zone)
{
    struct pki_window night = win("02:00-05:00");

    /* 12:00 UTC is 21:00 in Tokyo (UTC+9, no DST): the next 02:00 JST is
     * 17:00 UTC the same day, not 02:00 UTC the next day */
    if (access("/usr/share/zoneinfo/Asia/Tokyo", R_OK) != 0)
        harness_fail(__FILE__, __LINE__, "tzdata missing (scripts/deps.sh)");
    tz_set("Asia/Tokyo");
    CHECK_INT(pki_window_next(&night, T_0110_1200Z), T_0110_1700Z);
    CHECK_INT(pki_window_contains(&night, T_0110_1700Z), 1);
    CHECK_INT(pki_window_contains(&night, T_0111_0200Z), 0); /* 11:00 JST */
    /* a POSIX TZ string works without the tz database */
    tz_set("JST-9");
    CHECK_INT(pki_window_next(&night, T_0110_1200Z), T_0110_1700Z);
    tz_set("UTC");
    CHECK_INT(pki_window_next(&night, T_0110_1200Z), T_0111_0200Z);
    tz_restore();
}

TEST(pki_window_dst_gap)
{
    struct pki_window w = win("02:30-04:00"), gap = win("02:10-02:50");

    /* 2026-03-08 in New York: 02:00 EST jumps to 03:00 EDT. A window
     * opening at 02:30 opens when local time resumes, at 03:00 EDT */
    tz_set("America/New_York");
    CHECK_INT(pki_window_next(&w, T_0308_0500Z), T_0308_0700Z);
    /* a window entirely inside the gap waits for the next day */
    CHECK_INT(pki_window_next(&gap, T_0308_0500Z), T_0309_0610Z);
    /* the same rule as a POSIX TZ string (no tz database needed) */
    tz_set("EST5EDT,M3.2.0,M11.1.0");
    CHECK_INT(pki_window_next(&w, T_0308_0500Z), T_0308_0700Z);
    CHECK_INT(pki_window_next(&gap, T_0308_0500Z), T_0309_0610Z);
    tz_restore();
}

TEST(pki_renew_decide_cases)
{
    struct pki_window night = win("02:00-05:00"), none = win("");
    time_t r = T_0110_1200Z;

    tz_set("UTC");
    /* no window: when due */
    CHECK_INT(pki_renew_decide(&none, r - 100, r, r + DAY), r);
    CHECK_INT(pki_renew_decide(&none, r + 100, r, r + DAY), r + 100);
    /* due at noon, deadline in two days: wait for 02:00 */
    CHECK_INT(pki_renew_decide(&night, r - 100, r, r + 2 * DAY), T_0111_0200Z);
    /* overdue and outside: the next window */
    CHECK_INT(pki_renew_decide(&night, r + 3600, r, r + 2 * DAY), T_0111_0200Z);
    /* inside the window and due: now */
    CHECK_INT(pki_renew_decide(&night, T_0111_0200Z + 60, r, r + 2 * DAY),
              T_0111_0200Z + 60);
    /* the window opens after the deadline: urgent, renew when due */
    CHECK_INT(pki_renew_decide(&night, r - 100, r, r + 10 * 3600), r);
    CHECK_INT(pki_renew_decide(&night, r + 50, r, r + 10 * 3600), r + 50);
    /* the deadline itself is still acceptable */
    CHECK_INT(pki_renew_decide(&night, r - 100, r, T_0111_0200Z), T_0111_0200Z);
    /* past the deadline: now */
    CHECK_INT(pki_renew_decide(&night, r + 3 * DAY, r, r + 2 * DAY),
              r + 3 * DAY);
    /* the same decision in Tokyo opens at 17:00 UTC */
    tz_set("Asia/Tokyo");
    CHECK_INT(pki_renew_decide(&night, r - 100, r, r + 2 * DAY), T_0110_1700Z);
    tz_restore();
}

/* The whole rotation decision for an issued certificate, with the clock
 * moved as the operator's tests move it (--clock-offset). */
TEST(pki_rotation_with_a_real_certificate)
{
    struct pki_key *k = NULL, *lk = NULL;
    struct pki_cert *root = NULL, *leaf = NULL;
    struct pki_ca *ca = NULL;
    static const char *const uri[] = {"spiffe://cluster.local/ns/a/sa/b"};
    struct pki_issue_req req = {
        .uris = uri, .n_uris = 1, .ttl = PKI_DEFAULT_WORKLOAD_TTL};
    struct pki_window night = win("02:00-05:00");
    time_t t0 = T_0110_1200Z, due, deadline;

    REQUIRE(pki_key_generate(&k, PKI_EC_P256) == 0);
    REQUIRE(pki_key_generate(&lk, PKI_EC_P256) == 0);
    REQUIRE(pki_ca_self_signed(&root, k, "R", NULL, PKI_DEFAULT_ROOT_TTL, t0) ==
            0);
    REQUIRE(pki_ca_new(&ca, root, k, NULL, NULL, t0) == 0);
    req.key = lk;
    REQUIRE(pki_issue(&leaf, &req, ca, t0) == 0);
    due = pki_renew_at(pki_cert_not_before(leaf), pki_cert_not_after(leaf),
                       PKI_DEFAULT_GRACE_RATIO, PKI_DEFAULT_MIN_GRACE);
    deadline = pki_cert_not_after(leaf) - PKI_DEFAULT_MIN_GRACE;
    /* 45 days and 2.5 minutes after t0 (half of 90 days + 5 min skew) */
    CHECK_INT(due, t0 + 45 * DAY - 150);
    tz_set("UTC");
    CHECK(pki_renew_decide(&night, t0 + DAY, due, deadline) > t0 + DAY);
    /* moved past half-life at 11:57:30 UTC: deferred to 02:00 */
    CHECK_INT(pki_renew_decide(&night, due, due, deadline),
              T_0111_0200Z + 45 * DAY);
    tz_restore();
    pki_cert_free(leaf);
    pki_ca_free(ca);
    pki_cert_free(root);
    pki_key_free(lk);
    pki_key_free(k);
}
