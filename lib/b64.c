/* b64.c: standard base64 encode/decode (see b64.h). The decoder makes one
 * pass and writes into one allocation sized from the input; the encoder
 * writes in place, so a buffer is never reallocated half-way. */
#include "lib/b64.h"

#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

static const char tab[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
b64_decode(char **out, size_t *out_len, const char *in, size_t in_len,
           size_t max_out)
{
    size_t o = 0, nd = 0, pad = 0, pad_at = 0;
    uint32_t acc = 0;
    int bits = 0;
    char *d = NULL;
    int rc;

    *out = NULL;
    if (out_len)
        *out_len = 0;
    /* an upper bound of the output: whitespace only makes it smaller */
    d = mem_alloc(in_len / 4 * 3 + 4);
    if (d == NULL)
        return errmsg_set(RC_NOMEM, "base64: out of memory");
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = (unsigned char)in[i];
        int v;

        if (is_space(c))
            continue;
        if (c == '=') {
            if (pad == 0)
                pad_at = i;
            if (++pad > 2) {
                rc = errmsg_set(RC_PARSE, "base64: too much padding at %zu", i);
                goto fail;
            }
            continue;
        }
        v = b64_digit(c);
        if (v < 0 || pad > 0) {
            rc = errmsg_set(RC_PARSE, "base64: bad character at %zu", i);
            goto fail;
        }
        nd++;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= max_out) {
                rc = errmsg_set(RC_LIMIT, "base64: value over %zu bytes",
                                max_out);
                goto fail;
            }
            d[o++] = (char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (nd % 4 == 1) {
        rc = errmsg_set(RC_PARSE, "base64: truncated (%zu characters)", nd);
        goto fail;
    }
    if (pad != 0 && (nd + pad) % 4 != 0) {
        rc = errmsg_set(RC_PARSE, "base64: bad padding at %zu", pad_at);
        goto fail;
    }
    if (acc != 0) { /* non-canonical: unused bits of the last quantum */
        rc = errmsg_set(RC_PARSE, "base64: bad trailing bits");
        goto fail;
    }
    d[o] = '\0';
    *out = d;
    if (out_len)
        *out_len = o;
    return 0;
fail:
    explicit_bzero(d, o);
    mem_free(d);
    return rc;
}

/* pairs[v] for a 12-bit v: the two alphabet characters of its two 6-bit
 * halves. A quantum (3 bytes, 24 bits) is then two table loads and two
 * 2-byte stores. Filled once (pthread_once), 8 KiB. */
static char pairs[4096][2];
static pthread_once_t pairs_once = PTHREAD_ONCE_INIT;

static void
pairs_init(void)
{
    for (unsigned v = 0; v < 4096; v++) {
        pairs[v][0] = tab[v >> 6];
        pairs[v][1] = tab[v & 63];
    }
}

size_t
b64_encode_raw(char *w, const void *in, size_t n)
{
    const unsigned char *s = in;
    char *w0 = w;
    size_t i;

    pthread_once(&pairs_once, pairs_init);
    i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* two quanta per step: one 8-byte load (its top 6 bytes are the
     * input, so 8 must be readable), four table loads and 2-byte stores */
    for (; i + 8 <= n; i += 6) {
        uint64_t v;

        memcpy(&v, s + i, 8);
        v = __builtin_bswap64(v);
        memcpy(w, pairs[v >> 52], 2);
        memcpy(w + 2, pairs[(v >> 40) & 4095], 2);
        memcpy(w + 4, pairs[(v >> 28) & 4095], 2);
        memcpy(w + 6, pairs[(v >> 16) & 4095], 2);
        w += 8;
    }
#endif
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        memcpy(w, pairs[v >> 12], 2);
        memcpy(w + 2, pairs[v & 4095], 2);
        w += 4;
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        *w++ = tab[v >> 18];
        *w++ = tab[(v >> 12) & 63];
        *w++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *w++ = '=';
    }
    return (size_t)(w - w0);
}

#define ENC_MAX ((size_t)1 << 30)

int
b64_encode(char **out, const void *in, size_t n)
{
    size_t olen = (n + 2) / 3 * 4;
    char *r;

    *out = NULL;
    if (n > ENC_MAX)
        return errmsg_set(RC_LIMIT, "base64: input too large");
    r = mem_alloc(olen + 1);
    if (r == NULL)
        return errmsg_set(RC_NOMEM, "base64: out of memory");
    (void)b64_encode_raw(r, in, n);
    r[olen] = '\0';
    *out = r;
    return 0;
}

int
b64_encode_buf(struct buf *b, const void *in, size_t n)
{
    const unsigned char *s = in;
    size_t len0 = b->len;
    char win[1024]; /* 768 input bytes per step: whole quanta */

    if (n > ENC_MAX)
        return errmsg_set(RC_LIMIT, "base64: input too large");
    while (n > 0) {
        size_t k = n < 768 ? n : 768;
        int rc;

        (void)b64_encode_raw(win, s, k);
        rc = buf_add(b, win, (k + 2) / 3 * 4);
        if (rc != 0) { /* put b back as it was */
            b->len = len0;
            if (b->ptr)
                b->ptr[len0] = '\0';
            return rc;
        }
        s += k;
        n -= k;
    }
    return 0;
}
