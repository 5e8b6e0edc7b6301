/* clock.c: realtime + an atomic test offset, monotonic time, and a parser
 * for Go-style durations (see clock.h). */
#include "lib/clock.h"

#include "lib/errmsg.h"
#include "lib/rc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int64_t offset_s;

time_t
clock_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (time_t)((int64_t)ts.tv_sec + atomic_load(&offset_s));
}

int64_t
clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ((int64_t)ts.tv_sec + atomic_load(&offset_s)) * 1000 +
           ts.tv_nsec / 1000000;
}

int64_t
clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
clock_mono_deadline(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    if (ms < 0)
        ms = 0;
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

void
clock_set_offset(int64_t seconds)
{
    atomic_store(&offset_s, seconds);
}

int64_t
clock_get_offset(void)
{
    return atomic_load(&offset_s);
}

/* Largest magnitude accepted: about 292 years, as Go's int64 nanoseconds. */
#define MAX_MS ((int64_t)9223372036854LL)

static int
unit_ms(const char *u, size_t n, int64_t *ms)
{
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0) {
            *ms = units[i].ms;
            return 0;
        }
    }
    return -1;
}

int
clock_parse_duration_ms(int64_t *out, const char *s)
{
    const char *p = s;
    int neg = 0;
    int64_t total = 0;

    if (s == NULL || *s == '\0')
        return errmsg_set(RC_INVAL, "empty duration");
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (strcmp(p, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (*p == '\0')
        return errmsg_set(RC_INVAL, "invalid duration '%.64s'", s);
    while (*p != '\0') {
        int64_t whole = 0, frac = 0, scale = 1, mult;
        int digits = 0;
        const char *u;

        while (*p >= '0' && *p <= '9') {
            if (whole > MAX_MS)
                return errmsg_set(RC_INVAL, "duration '%.64s' out of range", s);
            whole = whole * 10 + (*p++ - '0');
            digits++;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                if (scale < 1000000000000LL) { /* keep 12 digits */
                    frac = frac * 10 + (*p - '0');
                    scale *= 10;
                }
                p++;
                digits++;
            }
        }
        if (digits == 0)
            return errmsg_set(RC_INVAL, "invalid duration '%.64s'", s);
        u = p;
        while (*p != '\0' && *p != '.' && (*p < '0' || *p > '9'))
            p++;
        if (p == u)
            return errmsg_set(RC_INVAL, "missing unit in duration '%.64s'", s);
        if (unit_ms(u, (size_t)(p - u), &mult) != 0)
            return errmsg_set(RC_INVAL,
                              "unknown unit '%.*s' in duration '%.64s' "
                              "(use h, m, s or ms)",
                              (int)(p - u > 8 ? 8 : p - u), u, s);
        if (whole > MAX_MS / mult)
            return errmsg_set(RC_INVAL, "duration '%.64s' out of range", s);
        whole *= mult;
        /* frac/scale * mult, truncated: frac < 1e12 and mult <= 3.6e6, so
         * the product stays below 3.6e18 and fits in int64_t. */
        whole += frac * mult / scale;
        if (whole > MAX_MS - total)
            return errmsg_set(RC_INVAL, "duration '%.64s' out of range", s);
        total += whole;
    }
    *out = neg ? -total : total;
    return 0;
}

int
clock_parse_duration(int64_t *out, const char *s)
{
    int64_t ms;
    int rc = clock_parse_duration_ms(&ms, s);

    if (rc != 0)
        return rc;
    if (ms % 1000 != 0)
        return errmsg_set(
            RC_INVAL, "duration '%.64s' is not a whole number of seconds", s);
    *out = ms / 1000;
    return 0;
}

char *
clock_format_duration(char *buf, size_t n, int64_t seconds)
{
    /* uint64_t so that INT64_MIN negates cleanly */
    uint64_t v = seconds < 0 ? 0 - (uint64_t)seconds : (uint64_t)seconds;
    const char *sign = seconds < 0 ? "-" : "";

    if (n == 0)
        return buf;
    if (v == 0)
        snprintf(buf, n, "0s");
    else if (v < 60)
        snprintf(buf, n, "%s%llus", sign, (unsigned long long)v);
    else if (v < 3600)
        snprintf(buf, n, "%s%llum%llus", sign, (unsigned long long)(v / 60),
                 (unsigned long long)(v % 60));
    else
        snprintf(
            buf, n, "%s%lluh%llum%llus", sign, (unsigned long long)(v / 3600),
            (unsigned long long)(v / 60 % 60), (unsigned long long)(v % 60));
    return buf;
}
