/* test_clock.c: the offset clock, monotonic time and Go-style durations. */
#include "lib/clock.h"
#include "lib/errmsg.h"
#include "lib/rc.h"
#include "tests/unit/harness.h"

#include <pthread.h>
#include <time.h>

static int64_t
dur(const char *s)
{
    int64_t v = -999999;
    int rc = clock_parse_duration(&v, s);

    return rc == 0 ? v : -999999;
}

TEST(clock_duration_units_and_compounds)
{
    CHECK_INT(dur("2160h"), 2160LL * 3600);
    CHECK_INT(dur("90m"), 5400);
    CHECK_INT(dur("10s"), 10);
    CHECK_INT(dur("1h30m"), 5400);
    CHECK_INT(dur("1h0m0s"), 3600);
    CHECK_INT(dur("1200h"), 1200LL * 3600);
    CHECK_INT(dur("10m"), 600);
    CHECK_INT(dur("1.5h"), 5400);
    CHECK_INT(dur(".5m"), 30);
    CHECK_INT(dur("1.m"), 60); /* Go accepts digits on either side */
    CHECK_INT(dur("0"), 0);
    CHECK_INT(dur("-0"), 0);
    CHECK_INT(dur("0s"), 0);
    CHECK_INT(dur("-10m"), -600);
    CHECK_INT(dur("+5s"), 5);
    CHECK_INT(dur("2000ms"), 2);
    CHECK_INT(dur("1m1s1000ms"), 62);
    CHECK_INT(dur("8760h"), 8760LL * 3600);
}

TEST(clock_duration_rejects_garbage)
{
    static const char *const bad[] = {"",
                                      "h",
                                      "10",
                                      "10x",
                                      "1d",
                                      "1h 30m",
                                      " 1h",
                                      "1h ",
                                      "--1h",
                                      "-",
                                      "+",
                                      ".",
                                      ".h",
                                      "1..5h",
                                      "1hm",
                                      "m10",
                                      "1H",
                                      "1e3s",
                                      "0x1h",
                                      "1h-30m",
                                      "10us",
                                      "1.5.5h",
                                      "99999999999999999999h",
                                      "9223372037h"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = 42;
        int rc = clock_parse_duration(&v, bad[i]);
        if (rc != RC_INVAL || v != 42)
            harness_fail(__FILE__, __LINE__, "'%s' gave rc %d v %lld", bad[i],
                         rc, (long long)v);
    }
    CHECK_INT(clock_parse_duration_ms(&(int64_t){0}, NULL), RC_INVAL);
}

TEST(clock_duration_messages)
{
    int64_t v;

    CHECK_INT(clock_parse_duration(&v, "10"), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "missing unit");
    CHECK_INT(clock_parse_duration(&v, "3d"), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "unknown unit 'd'");
    CHECK_INT(clock_parse_duration(&v, "1500ms"), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "whole number of seconds");
    CHECK_INT(clock_parse_duration(&v, "99999999999999999999h"), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "out of range");
}

TEST(clock_duration_ms)
{
    int64_t v = 0;

    CHECK_INT(clock_parse_duration_ms(&v, "1500ms"), 0);
    CHECK_INT(v, 1500);
    CHECK_INT(clock_parse_duration_ms(&v, "1.5s"), 0);
    CHECK_INT(v, 1500);
    CHECK_INT(clock_parse_duration_ms(&v, "0.0015s"), 0);
    CHECK_INT(v, 1); /* truncated to whole ms */
    CHECK_INT(clock_parse_duration_ms(&v, "-1m"), 0);
    CHECK_INT(v, -60000);
    /* the largest accepted value, about 292 years as in Go */
    CHECK_INT(clock_parse_duration_ms(&v, "2562047h"), 0);
    CHECK_INT(v, 2562047LL * 3600000);
    CHECK_INT(clock_parse_duration_ms(&v, "2562048h"), RC_INVAL);
}

TEST(clock_format_duration_round_trips)
{
    static const int64_t vals[] = {0,   1,     59,     60,     61,
                                   600, 3599,  3600,   5400,   7776000,
                                   -1,  -5400, 864000, 4320000};
    char buf[64];

    CHECK_STR(clock_format_duration(buf, sizeof(buf), 7776000), "2160h0m0s");
    CHECK_STR(clock_format_duration(buf, sizeof(buf), 600), "10m0s");
    CHECK_STR(clock_format_duration(buf, sizeof(buf), 0), "0s");
    CHECK_STR(clock_format_duration(buf, sizeof(buf), 5), "5s");
    CHECK_STR(clock_format_duration(buf, sizeof(buf), -5400), "-1h30m0s");
    CHECK_STR(clock_format_duration(buf, 4, 7776000), "216"); /* truncated */
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        int64_t back = 12345;
        clock_format_duration(buf, sizeof(buf), vals[i]);
        CHECK_INT(clock_parse_duration(&back, buf), 0);
        CHECK_INT(back, vals[i]);
    }
}

TEST(clock_offset_moves_now_not_monotonic)
{
    time_t real = time(NULL);
    int64_t m0 = clock_mono_ms(), n0;

    CHECK_INT(clock_get_offset(), 0);
    CHECK(clock_now() - real >= 0 && clock_now() - real <= 1);
    clock_set_offset(1200 * 3600);
    CHECK_INT(clock_get_offset(), 1200 * 3600);
    CHECK(clock_now() - real >= 1200 * 3600 &&
          clock_now() - real <= 1200 * 3600 + 1);
    n0 = clock_now_ms();
    CHECK(n0 / 1000 - real >= 1200 * 3600 &&
          n0 / 1000 - real <= 1200 * 3600 + 1);
    clock_set_offset(-86400);
    CHECK(real - clock_now() >= 86399 && real - clock_now() <= 86400);
    CHECK(clock_mono_ms() - m0 < 5000); /* the offset did not move it */
    CHECK(clock_mono_ms() >= m0);
    clock_set_offset(0);
    CHECK(clock_now() - time(NULL) >= -1 && clock_now() - time(NULL) <= 1);
}

static void *
flip(void *arg)
{
    for (int i = 0; i < 20000; i++)
        clock_set_offset((i & 1) ? 100 : 200);
    return arg;
}

TEST(clock_offset_is_thread_safe)
{
    pthread_t t;
    int bad = 0;
    time_t real = time(NULL);

    pthread_create(&t, NULL, flip, NULL);
    for (int i = 0; i < 20000; i++) {
        int64_t off = clock_get_offset();
        if (off != 0 && off != 100 && off != 200)
            bad++;
        if (clock_now() - real > 202)
            bad++;
    }
    pthread_join(t, NULL);
    CHECK_INT(bad, 0);
    clock_set_offset(0);
}
