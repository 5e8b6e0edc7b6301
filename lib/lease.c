/* lease.c: the pure half of leader election - the Lease record, MicroTime,
 * and the acquire/renew decision (see lease.h). The threads are in
 * leaserun.c. */
#include "lib/lease.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/rc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
lease_format_microtime(int64_t unix_us, char *out, size_t cap)
{
    time_t s = (time_t)(unix_us / 1000000);
    long us = (long)(unix_us % 1000000);
    struct tm tm;
    char base[32];

    if (us < 0) {
        us += 1000000;
        s--;
    }
    if (gmtime_r(&s, &tm) == NULL ||
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return errmsg_set(RC_INVAL, "time out of range");
    if ((size_t)snprintf(out, cap, "%s.%06ldZ", base, us) >= cap)
        return errmsg_set(RC_LIMIT, "buffer too small for a MicroTime");
    return 0;
}

static int
digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int
lease_parse_microtime(const char *s, int64_t *unix_us)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, us = 0, off = 0;
    const char *p;
    time_t t;

    *unix_us = 0;
    if (s == NULL || strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' ||
        digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        goto bad;
    p = s + 19;
    if (*p == '.') {
        int n = 0;
        p++;
        while (p[n] >= '0' && p[n] <= '9')
            n++;
        if (n == 0 || n > 9)
            goto bad;
        for (int i = 0; i < 6; i++)
            us = us * 10 + (i < n ? p[i] - '0' : 0);
        p += n;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) ||
            oh > 23 || om > 59)
            goto bad;
        off = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        goto bad;
    }
    if (*p != 0)
        goto bad;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    *unix_us = ((int64_t)t - off) * 1000000 + us;
    return 0;
bad:
    return errmsg_set(RC_PARSE, "bad MicroTime '%.40s'", s ? s : "");
}

int
lease_record_from_json(struct lease_record *r, const json_t *lease)
{
    const json_t *spec = json_object_get(lease, "spec"); /* borrowed */
    const char *h, *at, *rt, *rv;
    json_t *v;

    memset(r, 0, sizeof(*r));
    if (lease == NULL)
        return 0;
    r->exists = 1;
    h = jutil_str(spec, "holderIdentity");
    rv = jutil_path_str(lease, "metadata.resourceVersion");
    if ((h && strlen(h) >= sizeof(r->holder)) ||
        (rv && strlen(rv) >= sizeof(r->rv)))
        return errmsg_set(RC_PARSE, "lease holder or version too long");
    snprintf(r->holder, sizeof(r->holder), "%s", h ? h : "");
    snprintf(r->rv, sizeof(r->rv), "%s", rv ? rv : "");
    v = json_object_get(spec, "leaseDurationSeconds");
    if (json_is_integer(v) && json_integer_value(v) > 0 &&
        json_integer_value(v) < 86400 * 365)
        r->duration_s = (int)json_integer_value(v);
    v = json_object_get(spec, "leaseTransitions");
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) < 1000000000)
        r->transitions = (int)json_integer_value(v);
    at = jutil_str(spec, "acquireTime");
    rt = jutil_str(spec, "renewTime");
    if ((at && lease_parse_microtime(at, &r->acquire_us) != 0) ||
        (rt && lease_parse_microtime(rt, &r->renew_us) != 0))
        return RC_PARSE;
    return 0;
}

json_t *
lease_record_to_json(const struct lease_record *r, const char *ns,
                     const char *name)
{
    char at[40], rt[40];
    json_t *o, *md, *spec; /* o owned; md/spec borrowed from o */

    if (lease_format_microtime(r->acquire_us, at, sizeof(at)) != 0 ||
        lease_format_microtime(r->renew_us, rt, sizeof(rt)) != 0)
        return NULL;
    o = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:i,s:s,s:s,s:i}}", "apiVersion",
                  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
                  name, "namespace", ns, "spec", "leaseDurationSeconds",
                  r->duration_s, "acquireTime", at, "renewTime", rt,
                  "leaseTransitions", r->transitions);
    if (o == NULL)
        return NULL;
    md = json_object_get(o, "metadata");
    spec = json_object_get(o, "spec");
    if ((r->rv[0] && jutil_set_str(md, "resourceVersion", r->rv) != 0) ||
        (r->holder[0] && jutil_set_str(spec, "holderIdentity", r->holder))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int
same_record(const struct lease_record *a, const struct lease_record *b)
{
    return a->exists == b->exists && strcmp(a->holder, b->holder) == 0 &&
           a->duration_s == b->duration_s && a->acquire_us == b->acquire_us &&
           a->renew_us == b->renew_us && a->transitions == b->transitions;
}

enum lease_decision
lease_decide(struct lease_observed *obs, const struct lease_record *cur,
             const char *self, int duration_s, int64_t mono_ms, int64_t wall_us,
             struct lease_record *next)
{
    int held_s;

    memset(next, 0, sizeof(*next));
    if (cur == NULL || !cur->exists) {
        obs->valid = 0;
        next->exists = 1;
        snprintf(next->holder, sizeof(next->holder), "%s", self);
        next->duration_s = duration_s;
        next->acquire_us = next->renew_us = wall_us;
        next->transitions = 0;
        return LEASE_CREATE;
    }
    if (!obs->valid || !same_record(&obs->rec, cur)) {
        obs->rec = *cur;
        obs->at_ms = mono_ms;
        obs->valid = 1;
    }
    held_s = cur->duration_s > 0 ? cur->duration_s : duration_s;
    if (cur->holder[0] && strcmp(cur->holder, self) != 0 &&
        obs->at_ms + (int64_t)held_s * 1000 > mono_ms)
        return LEASE_WAIT;
    *next = *cur;
    snprintf(next->holder, sizeof(next->holder), "%s", self);
    next->duration_s = duration_s;
    next->renew_us = wall_us;
    if (strcmp(cur->holder, self) == 0)
        return LEASE_RENEW;
    next->acquire_us = wall_us;
    next->transitions = cur->transitions + 1;
    return LEASE_TAKE;
}

int64_t
lease_window_left_ms(int64_t renew_start_ms, int64_t now_ms, int lease_ms,
                     int deadline_ms, int margin_ms)
{
    int64_t left = renew_start_ms + lease_ms - margin_ms - now_ms;

    if (now_ms - renew_start_ms >= deadline_ms || left <= 0)
        return 0;
    return left;
}
