/* op_util.c: base64 and RFC 3339 helpers (see op_util.h). */
#include "operator/op_util.h"

#include "lib/b64.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int
op_b64_encode(char **out, const void *p, size_t n)
{
    return b64_encode(out, p, n);
}

/* Secret data is exact: unlike kubeconfig or PEM text, no whitespace. */
int
op_b64_decode(char **out, size_t *len, const char *s, size_t max)
{
    size_t n = strlen(s), ws;

    *out = NULL;
    if (n > max / 3 * 4 + 4)
        return errmsg_set(RC_LIMIT, "base64: value over %zu bytes", max);
    ws = strcspn(s, " \t\r\n");
    if (ws < n)
        return errmsg_set(RC_PARSE, "base64: bad character at %zu", ws);
    return b64_decode(out, len, s, n, SIZE_MAX);
}

void
op_time_format(char out[32], time_t t)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
digits(const char *s, int n, int *v)
{
    int r = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        r = r * 10 + (s[i] - '0');
    }
    *v = r;
    return 0;
}

/* days_from_civil: days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int
op_time_parse(time_t *out, const char *s)
{
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    const char *p;

    if (s == NULL || strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' ||
        digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &se))
        return errmsg_set(RC_PARSE, "bad RFC 3339 time");
    p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return errmsg_set(RC_PARSE, "bad RFC 3339 fraction");
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
            return errmsg_set(RC_PARSE, "bad RFC 3339 offset");
        p += 6;
    } else {
        return errmsg_set(RC_PARSE, "RFC 3339 time without zone");
    }
    if (*p != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        se > 60 || oh > 23 || om > 59)
        return errmsg_set(RC_PARSE, "bad RFC 3339 time");
    *out = (time_t)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
                    se - sign * (oh * 3600 + om * 60));
    return 0;
}

int
op_data_get(char **out, size_t *len, const json_t *secret, const char *key,
            size_t max)
{
    const json_t *data = json_object_get(secret, "data"); /* borrowed */
    const char *v = jutil_str(data, key);
    int rc;

    *out = NULL;
    if (v == NULL)
        return errmsg_set(RC_NOTFOUND, "%s: missing", key);
    if ((rc = op_b64_decode(out, len, v, max)) != 0)
        return errmsg_prefix(rc, "%s", key);
    return 0;
}

int
op_data_set(json_t *secret, const char *key, const void *p, size_t n)
{
    json_t *data = jutil_obj_ensure(secret, "data"); /* borrowed */
    char *b = NULL;
    int rc;

    if (data == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    if ((rc = op_b64_encode(&b, p, n)) != 0)
        return rc;
    if (json_object_set_new(data, key, json_string(b)) != 0)
        rc = errmsg_set(RC_NOMEM, "out of memory");
    mem_free(b);
    return rc;
}
