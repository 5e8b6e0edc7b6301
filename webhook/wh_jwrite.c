/* wh_jwrite.c: the webhook's JSON writer (see wh_json.h): tokens are
 * written into a window on the stack; a full window is appended to the
 * output raw, or base64-encoded (in multiples of three bytes) straight
 * into the output, so the patch text never exists whole. */
#include "webhook/wh_json.h"
#include "lib/b64.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jpatch.h"
#include "lib/rc.h"
#include "webhook/wh_frag.h"
#include "webhook/wh_jscan.h"

#include <stdint.h>
#include <string.h>

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
    char num[BUF_LL_TEXT], *p = buf_ll_text(num, (long long)v);

    put(w, p, (size_t)(num + BUF_LL_TEXT - p));
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
