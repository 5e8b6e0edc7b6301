/* wh_json.c: the webhook's JSON parser (see wh_json.h).
 *
 * Parser: one pass over the bytes, recursive descent bounded by max_depth,
 * values built with the same jansson calls json_loadb uses
 * (json_object_setn_new_nocheck, json_stringn_nocheck, json_integer,
 * json_real), so the result is the same document. jansson reads through a
 * per-byte callback and copies every token into a growing buffer; this
 * reads the bytes in place, which is most of the gain. Anything that is
 * not plainly valid declines (RC_AGAIN) rather than guess at jansson's
 * verdict.
 *
 * The writer is wh_jwrite.c. */
#include "webhook/wh_json.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "lib/rc.h"
#include "webhook/wh_jscan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- parser ------------------------------------------------------------ */

struct rd {
    const char *p, *end;
    int max_depth;
    int oom;     /* an allocation failed (not a decline) */
    char *tmp;   /* scratch for strings with escapes, or NULL */
    size_t tcap; /* its size */
};

static json_t *read_value(struct rd *r, int depth);

static void
skip_ws(struct rd *r)
{
    while (r->p < r->end &&
           (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

static int
hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;
        *v = (*v << 4) | d;
    }
    return 0;
}

/* scan_string reads the string whose opening quote is at r->p. Without
 * escapes *s points into the input; with escapes the decoded text is in
 * r->tmp. 0, or -1 (declined, or r->oom). */
static int
scan_string(struct rd *r, const char **s, size_t *len)
{
    const unsigned char *q = (const unsigned char *)r->p + 1;
    const unsigned char *end = (const unsigned char *)r->end;
    const unsigned char *start = q;
    size_t o;

    for (;;) {
        /* whole words of plain ASCII first (a high bit: UTF-8 to check) */
        while (end - q >= 8) {
            uint64_t x;
            memcpy(&x, q, 8);
            if ((special8(x) | (x & 0x8080808080808080ull)) != 0)
                break;
            q += 8;
        }
        while (q < end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
            q++;
        if (q >= end)
            return -1;
        if (*q == '"') {
            *s = (const char *)start;
            *len = (size_t)(q - start);
            r->p = (const char *)q + 1;
            return 0;
        }
        if (*q == '\\')
            break;
        if (*q < 0x20)
            return -1; /* control character */
        {
            size_t k = utf8_seq_len(q, (size_t)(end - q));
            if (k == 0)
                return -1;
            q += k;
        }
    }
    /* escapes: the decoded text is never longer than the source */
    {
        const unsigned char *close = q;
        size_t need;

        while (close < end && *close != '"') {
            if (*close == '\\')
                close++;
            close++;
        }
        if (close >= end)
            return -1;
        need = (size_t)(close - start) + 1;
        if (need > r->tcap) {
            size_t ncap = r->tcap ? r->tcap : 256;
            char *t;
            while (ncap < need)
                ncap *= 2;
            t = mem_realloc(r->tmp, ncap);
            if (t == NULL) {
                r->oom = 1;
                return -1;
            }
            r->tmp = t;
            r->tcap = ncap;
        }
    }
    o = (size_t)(q - start);
    memcpy(r->tmp, start, o);
    while (q < end && *q != '"') {
        unsigned c = *q;
        if (c < 0x20)
            return -1;
        if (c >= 0x80) {
            size_t k = utf8_seq_len(q, (size_t)(end - q));
            if (k == 0)
                return -1;
            memcpy(r->tmp + o, q, k);
            o += k;
            q += k;
            continue;
        }
        if (c != '\\') {
            r->tmp[o++] = (char)c;
            q++;
            continue;
        }
        if (end - q < 2)
            return -1;
        switch (q[1]) {
        case '"':
        case '\\':
        case '/':
            r->tmp[o++] = (char)q[1];
            break;
        case 'b':
            r->tmp[o++] = '\b';
            break;
        case 'f':
            r->tmp[o++] = '\f';
            break;
        case 'n':
            r->tmp[o++] = '\n';
            break;
        case 'r':
            r->tmp[o++] = '\r';
            break;
        case 't':
            r->tmp[o++] = '\t';
            break;
        case 'u': {
            unsigned v, v2;
            if (end - q < 6 || hex4((const char *)q + 2, &v) != 0)
                return -1;
            q += 6;
            if (v == 0 || (v >= 0xdc00 && v <= 0xdfff))
                return -1; /* \u0000 or a lone low surrogate */
            if (v >= 0xd800 && v <= 0xdbff) {
                if (end - q < 6 || q[0] != '\\' || q[1] != 'u' ||
                    hex4((const char *)q + 2, &v2) != 0 || v2 < 0xdc00 ||
                    v2 > 0xdfff)
                    return -1;
                q += 6;
                v = ((v - 0xd800) << 10) + (v2 - 0xdc00) + 0x10000;
            }
            if (v < 0x80) {
                r->tmp[o++] = (char)v;
            } else if (v < 0x800) {
                r->tmp[o++] = (char)(0xc0 | (v >> 6));
                r->tmp[o++] = (char)(0x80 | (v & 0x3f));
            } else if (v < 0x10000) {
                r->tmp[o++] = (char)(0xe0 | (v >> 12));
                r->tmp[o++] = (char)(0x80 | ((v >> 6) & 0x3f));
                r->tmp[o++] = (char)(0x80 | (v & 0x3f));
            } else {
                r->tmp[o++] = (char)(0xf0 | (v >> 18));
                r->tmp[o++] = (char)(0x80 | ((v >> 12) & 0x3f));
                r->tmp[o++] = (char)(0x80 | ((v >> 6) & 0x3f));
                r->tmp[o++] = (char)(0x80 | (v & 0x3f));
            }
            continue;
        }
        default:
            return -1;
        }
        q += 2;
    }
    if (q >= end)
        return -1;
    *s = r->tmp;
    *len = o;
    r->p = (const char *)q + 1;
    return 0;
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* read_number: JSON's number grammar; an integer (no fraction, no
 * exponent) of at most 18 digits becomes json_integer, a real goes
 * through strtod as jansson does. */
static json_t *
read_number(struct rd *r)
{
    const char *s = r->p, *q = r->p;
    int neg = 0, is_real = 0;
    json_t *v;

    if (*q == '-') {
        neg = 1;
        q++;
    }
    if (q >= r->end || !is_digit(*q))
        return NULL;
    if (*q == '0') {
        q++;
        if (q < r->end && is_digit(*q))
            return NULL; /* leading zero */
    } else {
        while (q < r->end && is_digit(*q))
            q++;
    }
    if (q < r->end && *q == '.') {
        is_real = 1;
        q++;
        if (q >= r->end || !is_digit(*q))
            return NULL;
        while (q < r->end && is_digit(*q))
            q++;
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        is_real = 1;
        q++;
        if (q < r->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= r->end || !is_digit(*q))
            return NULL;
        while (q < r->end && is_digit(*q))
            q++;
    }
    if (!is_real) {
        const char *d = s + neg;
        long long x = 0;
        if (q - d > 18)
            return NULL; /* near the range limits: jansson decides */
        for (; d < q; d++)
            x = x * 10 + (*d - '0');
        v = json_integer(neg ? -x : x);
    } else {
        char num[64];
        double x;
        char *e;
        if ((size_t)(q - s) >= sizeof(num))
            return NULL;
        memcpy(num, s, (size_t)(q - s));
        num[q - s] = '\0';
        errno = 0;
        x = strtod(num, &e);
        if (errno != 0 || *e != '\0' || !isfinite(x))
            return NULL; /* over/underflow: jansson decides */
        v = json_real(x);
    }
    if (v == NULL)
        r->oom = 1;
    r->p = q;
    return v;
}

static json_t *
read_literal(struct rd *r, const char *word, size_t n, json_t *v)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return NULL;
    r->p += n;
    return v;
}

static json_t *
read_object(struct rd *r, int depth)
{
    json_t *obj; /* owned */

    if (depth > r->max_depth)
        return NULL;
    if ((obj = json_object()) == NULL) {
        r->oom = 1;
        return NULL;
    }
    r->p++; /* '{' */
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return obj;
    }
    for (;;) {
        const char *k;
        char kbuf[128];
        char *kheap = NULL;
        size_t klen;
        json_t *val; /* owned until stolen */

        if (r->p >= r->end || *r->p != '"' || scan_string(r, &k, &klen) != 0)
            goto fail;
        if (k == r->tmp) {
            /* the scratch is reused by the value: keep the key apart */
            if (klen < sizeof(kbuf)) {
                memcpy(kbuf, k, klen);
                k = kbuf;
            } else {
                if ((kheap = mem_alloc(klen)) == NULL) {
                    r->oom = 1;
                    goto fail;
                }
                memcpy(kheap, k, klen);
                k = kheap;
            }
        }
        skip_ws(r);
        if (r->p >= r->end || *r->p != ':') {
            mem_free(kheap);
            goto fail;
        }
        r->p++;
        skip_ws(r);
        val = read_value(r, depth);
        if (val == NULL) {
            mem_free(kheap);
            goto fail;
        }
        if (json_object_setn_new_nocheck(obj, k, klen, val) != 0) {
            mem_free(kheap);
            r->oom = 1;
            goto fail;
        }
        mem_free(kheap);
        skip_ws(r);
        if (r->p >= r->end)
            goto fail;
        if (*r->p == '}') {
            r->p++;
            return obj;
        }
        if (*r->p != ',')
            goto fail;
        r->p++;
        skip_ws(r);
    }
fail:
    json_decref(obj);
    return NULL;
}

static json_t *
read_array(struct rd *r, int depth)
{
    json_t *arr; /* owned */

    if (depth > r->max_depth)
        return NULL;
    if ((arr = json_array()) == NULL) {
        r->oom = 1;
        return NULL;
    }
    r->p++; /* '[' */
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return arr;
    }
    for (;;) {
        json_t *val = read_value(r, depth); /* owned until stolen */
        if (val == NULL)
            goto fail;
        if (json_array_append_new(arr, val) != 0) {
            r->oom = 1;
            goto fail;
        }
        skip_ws(r);
        if (r->p >= r->end)
            goto fail;
        if (*r->p == ']') {
            r->p++;
            return arr;
        }
        if (*r->p != ',')
            goto fail;
        r->p++;
        skip_ws(r);
    }
fail:
    json_decref(arr);
    return NULL;
}

/* read_value reads the value at r->p (whitespace already skipped) inside
 * a container at level depth. NULL: declined or r->oom. */
static json_t *
read_value(struct rd *r, int depth)
{
    const char *s;
    size_t len;
    json_t *v;

    if (r->p >= r->end)
        return NULL;
    switch (*r->p) {
    case '{':
        return read_object(r, depth + 1);
    case '[':
        return read_array(r, depth + 1);
    case '"':
        if (scan_string(r, &s, &len) != 0)
            return NULL;
        if ((v = json_stringn_nocheck(s, len)) == NULL)
            r->oom = 1;
        return v;
    case 't':
        return read_literal(r, "true", 4, json_true());
    case 'f':
        return read_literal(r, "false", 5, json_false());
    case 'n':
        return read_literal(r, "null", 4, json_null());
    default:
        return read_number(r);
    }
}

int
wh_json_parse(json_t **out, const char *p, size_t n, int max_depth)
{
    struct rd r = {p, p + n, max_depth, 0, NULL, 0};
    json_t *v = NULL; /* owned */

    *out = NULL;
    skip_ws(&r);
    if (r.p < r.end && *r.p == '{')
        v = read_object(&r, 1);
    mem_free(r.tmp);
    if (v != NULL) {
        skip_ws(&r);
        if (r.p == r.end) {
            *out = v;
            return 0;
        }
        json_decref(v);
        return RC_AGAIN; /* trailing bytes */
    }
    if (r.oom)
        return errmsg_set(RC_NOMEM, "out of memory parsing JSON");
    return RC_AGAIN;
}
