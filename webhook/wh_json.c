/* wh_json.c: JSON fast paths for the webhook (see wh_json.h).
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
 * Writer: tokens are written into a window on the stack; a full window is
 * appended to the output raw, or base64-encoded (in multiples of three
 * bytes) straight into the output, so the patch text never exists whole. */
#include "webhook/wh_json.h"
#include "lib/b64.h"
#include "webhook/wh_frag.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jpatch.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "lib/rc.h"

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

/* special8: non-zero when the 8 bytes in x hold a byte below 0x20, a '"'
 * or a '\\' (the three classic "has a zero byte" tests; a byte above one
 * that fires may fire too, never one below it: callers look at the bytes
 * one by one from the first word that is not clean). */
static inline uint64_t
special8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = ones << 7;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');

    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) &
           high;
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

/* ---- writer ------------------------------------------------------------ */

#define WIN 3072 /* a multiple of 3: whole base64 quanta */

struct jw {
    struct buf *out;
    const struct wh_frags *frags; /* pre-written nodes, or NULL */
    int b64;                      /* 1: flush as base64 */
    int rc;                       /* sticky first failure */
    size_t len;                   /* bytes in win */
    char win[WIN];
};

/* b64_put encodes p[0..n) into b; final: pad the last quantum, else n is
 * a multiple of 3. */
static int
b64_put(struct buf *b, const unsigned char *s, size_t n)
{
    size_t olen = (n + 2) / 3 * 4;
    char *o;
    int rc;

    if ((rc = buf_reserve(b, olen)) != 0)
        return rc;
    o = b->ptr + b->len;
    o += b64_encode_raw(o, s, n);
    b->len = (size_t)(o - b->ptr);
    b->ptr[b->len] = '\0';
    return 0;
}

int
wh_base64_encode(struct buf *out, const void *p, size_t n)
{
    return n == 0 ? 0 : b64_put(out, p, n);
}

/* flush empties the window: all of it when final, else whole quanta
 * (the 0-2 bytes left over move to the front). */
static void
flush(struct jw *w, int final)
{
    size_t k;

    if (w->rc != 0)
        return;
    if (!w->b64) {
        w->rc = buf_add(w->out, w->win, w->len);
        w->len = 0;
        return;
    }
    k = final ? w->len : w->len - w->len % 3;
    if (k > 0 && (w->rc = b64_put(w->out, (unsigned char *)w->win, k)) != 0)
        return;
    memmove(w->win, w->win + k, w->len - k);
    w->len -= k;
}

static void
put(struct jw *w, const char *p, size_t n)
{
    while (n > 0) {
        size_t k;
        if (w->len == WIN) {
            flush(w, 0);
            if (w->rc != 0)
                return;
        }
        k = WIN - w->len < n ? WIN - w->len : n;
        memcpy(w->win + w->len, p, k);
        w->len += k;
        p += k;
        n -= k;
    }
}

static inline void
putc_(struct jw *w, char c)
{
    if (w->len == WIN) {
        flush(w, 0);
        if (w->rc != 0)
            return;
    }
    w->win[w->len++] = c;
}

/* esc[c]: 0 copied as is, 'u' as \u00XX, else the letter after '\' */
static const char esc[256] = {
    ['\0'] = 'u', [1] = 'u',  [2] = 'u',   [3] = 'u',     [4] = 'u',
    [5] = 'u',    [6] = 'u',  [7] = 'u',   [8] = 'u',     ['\t'] = 't',
    ['\n'] = 'n', [11] = 'u', [12] = 'u',  ['\r'] = 'r',  [14] = 'u',
    [15] = 'u',   [16] = 'u', [17] = 'u',  [18] = 'u',    [19] = 'u',
    [20] = 'u',   [21] = 'u', [22] = 'u',  [23] = 'u',    [24] = 'u',
    [25] = 'u',   [26] = 'u', [27] = 'u',  [28] = 'u',    [29] = 'u',
    [30] = 'u',   [31] = 'u', ['"'] = '"', ['\\'] = '\\',
};

/* clean_run: the length of the prefix of p[0..n) that needs no escape,
 * eight bytes at a time (special8). */
static size_t
clean_run(const char *p, size_t n)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        if (special8(x) != 0)
            break;
    }
    while (i < n && esc[(unsigned char)p[i]] == 0)
        i++;
    return i;
}

/* put_str writes p[0..n) as a string literal: '"', '\\' and control
 * characters escaped (\n \r \t by letter, others as \u00XX), everything
 * else (valid UTF-8 from jansson) copied in runs. */
static void
put_str(struct jw *w, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    /* fast path: room in the window for the worst case (every byte as
     * \u00XX): one pass, no bounds checks. Strings in a patch are short. */
    if (n <= (WIN - 8) / 6) {
        if (WIN - w->len < 6 * n + 2)
            flush(w, 0);
        if (w->rc == 0 && WIN - w->len >= 6 * n + 2) {
            char *o = w->win + w->len;
            *o++ = '"';
            for (size_t i = 0; i < n; i++) {
                size_t k = clean_run(p + i, n - i);
                memcpy(o, p + i, k);
                o += k;
                i += k;
                if (i == n)
                    break;
                unsigned char c = (unsigned char)p[i];
                char e = esc[c];
                if (e == 'u') {
                    memcpy(o, "\\u00", 4);
                    o[4] = hex[c >> 4];
                    o[5] = hex[c & 15];
                    o += 6;
                } else {
                    o[0] = '\\';
                    o[1] = e;
                    o += 2;
                }
            }
            *o++ = '"';
            w->len = (size_t)(o - w->win);
            return;
        }
    }

    putc_(w, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        char e = esc[c];
        if (e == 0)
            continue;
        put(w, p + run, i - run);
        if (e == 'u') {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(w, u, 6);
        } else {
            char s[2] = {'\\', e};
            put(w, s, 2);
        }
        run = i + 1;
    }
    put(w, p + run, n - run);
    putc_(w, '"');
}

static void
put_int(struct jw *w, json_int_t v)
{
    char num[24];
    size_t i = sizeof(num);
    unsigned long long u =
        v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

    do {
        num[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        num[--i] = '-';
    put(w, num + i, sizeof(num) - i);
}

static void
write_value(struct jw *w, const json_t *v, int depth)
{
    if (w->rc != 0)
        return;
    if (depth > WH_JSON_MAX_DEPTH) {
        w->rc = errmsg_set(RC_LIMIT, "patch nested too deeply");
        return;
    }
    if (w->frags != NULL && (json_is_object(v) || json_is_array(v))) {
        size_t fl;
        const char *ft = wh_frags_find(w->frags, v, &fl);
        if (ft != NULL) {
            put(w, ft, fl);
            return;
        }
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        void *it = json_object_iter((json_t *)v);
        int first = 1;
        putc_(w, '{');
        for (; it != NULL && w->rc == 0;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first)
                putc_(w, ',');
            put_str(w, json_object_iter_key(it), json_object_iter_key_len(it));
            putc_(w, ':');
            write_value(w, json_object_iter_value(it), depth + 1);
            first = 0;
        }
        putc_(w, '}');
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        putc_(w, '[');
        for (size_t i = 0; i < n && w->rc == 0; i++) {
            if (i > 0)
                putc_(w, ',');
            write_value(w, json_array_get(v, i), depth + 1);
        }
        putc_(w, ']');
        return;
    }
    case JSON_STRING:
        put_str(w, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        put_int(w, json_integer_value(v));
        return;
    case JSON_REAL: {
        char num[64];
        int n = snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        if (strpbrk(num, ".eE") == NULL && n + 2 < (int)sizeof(num)) {
            memcpy(num + n, ".0", 3); /* stays a real when read back */
            n += 2;
        }
        put(w, num, (size_t)n);
        return;
    }
    case JSON_TRUE:
        put(w, "true", 4);
        return;
    case JSON_FALSE:
        put(w, "false", 5);
        return;
    case JSON_NULL:
        put(w, "null", 4);
        return;
    }
    w->rc = errmsg_set(RC_INTERNAL, "unknown JSON type");
}

static int
write_to(struct buf *out, const json_t *v, int b64,
         const struct wh_frags *frags)
{
    struct jw w;
    size_t old = out->len;

    w.out = out;
    w.frags = frags;
    w.b64 = b64;
    w.rc = 0;
    w.len = 0;
    write_value(&w, v, 0);
    flush(&w, 1);
    if (w.rc != 0 && out->ptr != NULL) {
        out->len = old;
        out->ptr[old] = '\0';
    }
    return w.rc;
}

struct patch_writer {
    struct jw *w;
    size_t n; /* operations written */
};

/* put_op writes one operation as jpatch builds it: {"op","path","value"} */
static int
put_op(void *arg, const char *op, const char *path, size_t path_len,
       const json_t *value)
{
    struct patch_writer *pw = arg;
    struct jw *w = pw->w;

    if (pw->n++ > 0)
        putc_(w, ',');
    put(w, "{\"op\":\"", 7);
    put(w, op, strlen(op));
    put(w, "\",\"path\":", 9);
    put_str(w, path, path_len);
    if (value != NULL) {
        put(w, ",\"value\":", 9);
        write_value(w, value, 2); /* array, operation, value */
    }
    putc_(w, '}');
    return w->rc;
}

int
wh_json_write_patch_base64(struct buf *out, const json_t *from,
                           const json_t *to, const struct wh_frags *frags,
                           size_t *nops)
{
    struct jw w;
    struct patch_writer pw = {&w, 0};
    size_t old = out->len;
    int rc;

    w.out = out;
    w.frags = frags;
    w.b64 = 1;
    w.rc = 0;
    w.len = 0;
    putc_(&w, '[');
    rc = jpatch_diff_each(from, to, put_op, &pw);
    if (rc == 0) {
        putc_(&w, ']');
        flush(&w, 1);
        rc = w.rc;
    }
    *nops = pw.n;
    if (rc != 0 && out->ptr != NULL) {
        out->len = old;
        out->ptr[old] = '\0';
    }
    return rc;
}

int
wh_json_write(struct buf *out, const json_t *v)
{
    return write_to(out, v, 0, NULL);
}

int
wh_json_write_base64(struct buf *out, const json_t *v,
                     const struct wh_frags *frags)
{
    return write_to(out, v, 1, frags);
}

int
wh_json_escape(struct buf *out, const char *s)
{
    struct jw w;
    size_t old = out->len;

    w.out = out;
    w.frags = NULL;
    w.b64 = 0;
    w.rc = 0;
    w.len = 0;
    put_str(&w, s, strlen(s));
    flush(&w, 1);
    if (w.rc != 0 && out->ptr != NULL) {
        out->len = old;
        out->ptr[old] = '\0';
    }
    return w.rc;
}
