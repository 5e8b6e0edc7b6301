/* pkirot.c: when to renew a certificate, and the quiet-hours window (see
 * pki.h). Pure functions: the time is always passed in; local time comes
 * from localtime_r/mktime, i.e. the TZ environment variable as of the last
 * tzset(). */
#include "lib/pki.h"

#include "lib/errmsg.h"
#include "lib/rc.h"

#include <string.h>

time_t
pki_renew_at(time_t not_before, time_t not_after, double grace_ratio,
             int64_t min_grace)
{
    double life = difftime(not_after, not_before);
    time_t by_ratio, by_min;

    if (grace_ratio != grace_ratio) /* NaN */
        grace_ratio = PKI_DEFAULT_GRACE_RATIO;
    if (grace_ratio < 0)
        grace_ratio = 0;
    if (grace_ratio > 1)
        grace_ratio = 1;
    if (min_grace < 0)
        min_grace = 0;
    if (life < 0)
        life = 0;
    by_ratio =
        not_after - (time_t)(life * grace_ratio) /* >= 0: truncation floors */;
    by_min = not_after - (time_t)min_grace;
    return by_ratio < by_min ? by_ratio : by_min;
}

static int
two_digits(const char *s, int max, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return *out > max ? -1 : 0;
}

int
pki_window_parse(struct pki_window *out, const char *s)
{
    int h1, m1, h2, m2;

    if (s == NULL || *s == '\0') {
        memset(out, 0, sizeof(*out));
        return 0;
    }
    if (strlen(s) != 11 || s[2] != ':' || s[5] != '-' || s[8] != ':' ||
        two_digits(s, 23, &h1) || two_digits(s + 3, 59, &m1) ||
        two_digits(s + 6, 23, &h2) || two_digits(s + 9, 59, &m2))
        return errmsg_set(RC_INVAL,
                          "rotation window '%.32s' is not HH:MM-HH:MM", s);
    if (h1 * 60 + m1 == h2 * 60 + m2)
        return errmsg_set(RC_INVAL,
                          "rotation window '%.32s' is empty (start == end)", s);
    out->set = 1;
    out->start_min = h1 * 60 + m1;
    out->end_min = h2 * 60 + m2;
    return 0;
}

static int
minute_inside(const struct pki_window *w, int m)
{
    if (w->start_min < w->end_min)
        return m >= w->start_min && m < w->end_min;
    return m >= w->start_min || m < w->end_min; /* across midnight */
}

int
pki_window_contains(const struct pki_window *w, time_t t)
{
    struct tm tm;

    if (w == NULL || !w->set)
        return 1;
    if (localtime_r(&t, &tm) == NULL)
        return 1;
    return minute_inside(w, tm.tm_hour * 60 + tm.tm_min);
}

time_t
pki_window_next(const struct pki_window *w, time_t t)
{
    struct tm tm;

    if (w == NULL || !w->set || pki_window_contains(w, t))
        return t;
    if (localtime_r(&t, &tm) == NULL)
        return t;
    /* the window opens at start_min today or on one of the next days; a
     * DST jump can move mktime's answer, so take the first candidate that
     * is after t and really inside (a few days suffice) */
    for (int day = 0; day < 4; day++) {
        struct tm c = tm;
        time_t r;

        c.tm_mday += day;
        c.tm_hour = w->start_min / 60;
        c.tm_min = w->start_min % 60;
        c.tm_sec = 0;
        c.tm_isdst = -1;
        r = mktime(&c);
        if (r == (time_t)-1 || r <= t)
            continue;
        if (pki_window_contains(w, r)) {
            /* mktime may have moved a start that DST skipped (02:30 on a
             * spring-forward day) past the real opening: step back */
            for (int i = 0;
                 i < 120 && r - 60 > t && pki_window_contains(w, r - 60); i++)
                r -= 60;
            return r;
        }
        /* start time skipped by DST (e.g. 02:30 on a spring-forward day):
         * mktime moved it; the window begins at the first minute inside */
        for (time_t k = r; k < r + 2 * 3600; k += 60)
            if (pki_window_contains(w, k))
                return k;
    }
    return t; /* unreachable with a sane TZ: renew now */
}

time_t
pki_renew_decide(const struct pki_window *w, time_t now, time_t renew_at,
                 time_t deadline)
{
    time_t from = now > renew_at ? now : renew_at;
    time_t t = pki_window_next(w, from);

    return t > deadline ? from : t;
}
