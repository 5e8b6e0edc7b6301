/* buf.c: capped growable buffer (see buf.h). */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
#include <string.h>

static size_t
limit_of(const struct buf *b)
{
    return b->max ? b->max : BUF_DEFAULT_MAX;
}

void
buf_init(struct buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
buf_cleanup(struct buf *b)
{
    mem_free(b->ptr);
    buf_init(b, b->max);
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

int
buf_reserve(struct buf *b, size_t extra)
{
    size_t need, ncap;
    char *p;

    if (extra > limit_of(b) || b->len > limit_of(b) - extra)
        return errmsg_set(RC_LIMIT, "buffer over its limit of %zu bytes",
                          limit_of(b));
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap *= 2;
    p = mem_realloc(b->ptr, ncap);
    if (p == NULL)
        return errmsg_set(RC_NOMEM, "out of memory growing a buffer");
    b->ptr = p;
    b->cap = ncap;
    return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);

    if (rc)
        return rc;
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return 0;
}

int
buf_addstr(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int
buf_addstrs(struct buf *b, ...)
{
    size_t len0 = b->len;
    const char *s;
    va_list ap;
    int rc = 0;

    va_start(ap, b);
    while (rc == 0 && (s = va_arg(ap, const char *)) != NULL)
        rc = buf_add(b, s, strlen(s));
    va_end(ap);
    if (rc != 0 && b->ptr != NULL) { /* none: put b back as it was */
        b->len = len0;
        b->ptr[len0] = '\0';
    }
    return rc;
}

char *
buf_ll_text(char d[BUF_LL_TEXT], long long v)
{
    char *p = d + BUF_LL_TEXT;
    /* the magnitude as unsigned: -LLONG_MIN does not fit a long long */
    unsigned long long u =
        v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    return p;
}

int
buf_addll(struct buf *b, long long v)
{
    char d[BUF_LL_TEXT], *p = buf_ll_text(d, v);

    return buf_add(b, p, (size_t)(d + BUF_LL_TEXT - p));
}

int
buf_addc(struct buf *b, char c)
{
    return buf_add(b, &c, 1);
}

int
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return errmsg_set(RC_INVAL, "bad format string");
    rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int
buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *
buf_take(struct buf *b, size_t *len_out)
{
    char *p;

    if (b->ptr == NULL && buf_add(b, "", 0))
        return NULL;
    p = b->ptr;
    if (len_out)
        *len_out = b->len;
    buf_init(b, b->max);
    return p;
}
