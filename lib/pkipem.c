/* pkipem.c: our strict PEM reader and writer, the DER helpers and the
 * OpenSSL error translation shared by lib/pki*.c (see pkipriv.h).
 *
 * The reader accepts "-----BEGIN X-----" .. "-----END X-----" blocks of
 * padded base64 (lines trimmed, CRLF fine) with only whitespace between
 * them, and names the block or line of anything else. Buffers that held
 * decoded bytes are wiped before they are freed (they may be keys), and no
 * message quotes input bytes: only labels, block and line numbers. */
#include "lib/pkipriv.h"

#include "lib/b64.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

int
pki_ossl_err(int rc, const char *what)
{
    unsigned long e = ERR_get_error();
    char detail[256];

    if (e != 0)
        ERR_error_string_n(e, detail, sizeof(detail));
    else
        snprintf(detail, sizeof(detail), "no detail");
    ERR_clear_error();
    return errmsg_set(rc, "%s: %s", what, detail);
}

void
pki_secret_free(char *s, size_t len)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, len);
    mem_free(s);
}

/* ---- PEM ---------------------------------------------------------------- */

void
pki_pem_block_release(struct pki_pem_block *b)
{
    if (b->der != NULL) {
        OPENSSL_cleanse(b->der, b->cap);
        mem_free(b->der);
    }
    b->der = NULL;
    b->len = b->cap = 0;
}

static int
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
           c == '\v';
}

/* Takes the next line: [*s, *e) trimmed of surrounding whitespace. Returns
 * 0 at the end of input. A NUL byte is reported through *nul. */
static int
next_line(struct pki_pem_reader *r, const char **s, const char **e, int *nul)
{
    const char *nl, *a, *b;

    if (r->p >= r->end)
        return 0;
    nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    b = nl ? nl : r->end;
    a = r->p;
    *nul = memchr(a, '\0', (size_t)(b - a)) != NULL;
    r->p = nl ? nl + 1 : r->end;
    r->line++;
    while (a < b && is_ws(*a))
        a++;
    while (b > a && is_ws(b[-1]))
        b--;
    *s = a;
    *e = b;
    return 1;
}

/* "-----<kw> LABEL-----" -> label; 0 on match. */
static int
armor(const char *s, const char *e, const char *kw,
      char label[PKI_PEM_LABEL_MAX])
{
    size_t kl = strlen(kw), n = (size_t)(e - s), ll;

    if (n < 10 + kl + 1 || memcmp(s, "-----", 5) != 0 ||
        memcmp(s + 5, kw, kl) != 0 || s[5 + kl] != ' ' ||
        memcmp(e - 5, "-----", 5) != 0)
        return -1;
    ll = n - 10 - kl - 1;
    if (ll == 0 || ll >= PKI_PEM_LABEL_MAX)
        return -1;
    for (size_t i = 0; i < ll; i++) {
        char c = s[6 + kl + i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
              c == '-'))
            return -1;
    }
    memcpy(label, s + 6 + kl, ll);
    label[ll] = '\0';
    return 0;
}

/* pem_next reads the next block into *b (1 = got one, 0 = clean end of
 * input, < 0 = error with errmsg set). */
int
pki_pem_next(struct pki_pem_reader *r, struct pki_pem_block *b)
{
    const char *s, *e, *endmark;
    int nul, begin_line;
    unsigned quad = 0, nq = 0, pad = 0;
    char label[PKI_PEM_LABEL_MAX];

    memset(b, 0, sizeof(*b));
    for (;;) { /* outside a block: blank lines and one BEGIN */
        if (!next_line(r, &s, &e, &nul))
            return 0;
        if (nul)
            return errmsg_set(RC_PARSE, "line %d: NUL byte", r->line);
        if (s == e)
            continue;
        if (armor(s, e, "BEGIN", b->label) == 0)
            break;
        if (r->blocks == 0)
            return errmsg_set(RC_PARSE,
                              "line %d: text before the first PEM block "
                              "(expected \"-----BEGIN ...-----\")",
                              r->line);
        return errmsg_set(RC_PARSE, "line %d: junk after PEM block %d", r->line,
                          r->blocks);
    }
    b->index = ++r->blocks;
    begin_line = r->line;
    endmark = memmem(r->p, (size_t)(r->end - r->p), "-----END ", 9);
    if (endmark == NULL)
        return errmsg_set(RC_PARSE, "block %d (%s): no END line", b->index,
                          b->label);
    b->cap = (size_t)(endmark - r->p) / 4 * 3 + 3;
    b->der = mem_alloc(b->cap);
    if (b->der == NULL)
        return errmsg_set(RC_NOMEM, "out of memory reading PEM");
    for (;;) {
        if (!next_line(r, &s, &e, &nul)) /* cannot happen: endmark */
            return errmsg_set(RC_PARSE, "block %d (%s): no END line", b->index,
                              b->label);
        if (nul)
            return errmsg_set(RC_PARSE, "block %d (%s): NUL byte at line %d",
                              b->index, b->label, r->line);
        if (e - s >= 5 && memcmp(s, "-----", 5) == 0) {
            if (armor(s, e, "END", label) != 0 || strcmp(label, b->label) != 0)
                return errmsg_set(RC_PARSE,
                                  "block %d (%s): line %d: expected "
                                  "\"-----END %s-----\"",
                                  b->index, b->label, r->line, b->label);
            break;
        }
        if (memchr(s, ':', (size_t)(e - s)) != NULL)
            return errmsg_set(RC_UNSUPPORTED,
                              "block %d (%s): PEM headers (encryption) are "
                              "not supported",
                              b->index, b->label);
        for (const char *c = s; c < e; c++) {
            int v = b64_digit((unsigned char)*c);
            if (*c == '=' && nq >= 2) {
                pad++;
                v = 0;
            } else if (v < 0 || pad) {
                return errmsg_set(RC_PARSE,
                                  "block %d (%s): bad base64 at line %d",
                                  b->index, b->label, r->line);
            }
            quad = quad << 6 | (unsigned)v;
            if (++nq == 4) {
                if (b->len + 3 > b->cap)
                    return errmsg_set(RC_INTERNAL, "PEM buffer overrun");
                b->der[b->len++] = (unsigned char)(quad >> 16);
                if (pad < 2)
                    b->der[b->len++] = (unsigned char)(quad >> 8);
                if (pad < 1)
                    b->der[b->len++] = (unsigned char)quad;
                quad = nq = 0;
                if (pad)
                    pad = 4; /* nothing may follow padding */
            }
        }
    }
    if (nq != 0 || (pad != 0 && pad != 4))
        return errmsg_set(RC_PARSE,
                          "block %d (%s): base64 length is not a multiple "
                          "of 4",
                          b->index, b->label);
    if (b->len == 0)
        return errmsg_set(RC_PARSE, "block %d (%s): empty (BEGIN at line %d)",
                          b->index, b->label, begin_line);
    return 1;
}

int
pki_pem_reader_init(struct pki_pem_reader *r, const char *pem, size_t len)
{
    if (pem == NULL && len != 0)
        return errmsg_set(RC_INVAL, "PEM: NULL input");
    if (len > PKI_PEM_MAX)
        return errmsg_set(RC_LIMIT, "PEM input of %zu bytes exceeds %zu", len,
                          PKI_PEM_MAX);
    r->p = pem;
    r->end = pem + len;
    r->line = 0;
    r->blocks = 0;
    return 0;
}

static char *
put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

/* Appends one PEM block of der to out (64-column base64). The space is
 * reserved in one step and written in place, so the buffer is never
 * reallocated half-way (which would leave an unwiped copy of key material);
 * a replaced buffer is wiped before it is freed. */
int
pki_pem_write(struct buf *out, const char *label, const unsigned char *der,
              size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t ll = strlen(label);
    size_t need = 2 * (ll + 16) + (n + 2) / 3 * 4 + (n + 47) / 48 + 1;
    size_t max = out->max ? out->max : BUF_DEFAULT_MAX;
    size_t col = 0;
    char *w;

    if (out->len + need > max)
        return errmsg_set(RC_LIMIT, "PEM output too large");
    if (out->ptr == NULL || out->len + need + 1 > out->cap) {
        char *np = mem_alloc(out->len + need + 1);
        if (np == NULL)
            return errmsg_set(RC_NOMEM, "out of memory writing PEM");
        if (out->ptr != NULL) {
            memcpy(np, out->ptr, out->len);
            OPENSSL_cleanse(out->ptr, out->cap);
            mem_free(out->ptr);
        }
        out->ptr = np;
        out->cap = out->len + need + 1;
    }
    w = out->ptr + out->len;
    w = put(w, "-----BEGIN ", 11);
    w = put(w, label, ll);
    w = put(w, "-----\n", 6);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)der[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)der[i + 1] << 8;
        if (i + 2 < n)
            v |= der[i + 2];
        *w++ = tab[v >> 18 & 63];
        *w++ = tab[v >> 12 & 63];
        *w++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *w++ = i + 2 < n ? tab[v & 63] : '=';
        if ((col += 4) == 64 && i + 3 < n) {
            *w++ = '\n';
            col = 0;
        }
    }
    *w++ = '\n';
    w = put(w, "-----END ", 9);
    w = put(w, label, ll);
    w = put(w, "-----\n", 6);
    *w = '\0';
    out->len = (size_t)(w - out->ptr);
    return 0;
}

/* ---- DER helpers ------------------------------------------------------------
 */

size_t
pki_der_hdr(unsigned char *w, unsigned tag, size_t len)
{
    size_t n = len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : 5;

    if (w != NULL) {
        w[0] = (unsigned char)tag;
        if (n == 2) {
            w[1] = (unsigned char)len;
        } else {
            w[1] = (unsigned char)(0x80 | (n - 2));
            for (size_t i = 0; i < n - 2; i++)
                w[n - 1 - i] = (unsigned char)(len >> (8 * i));
        }
    }
    return n;
}

/* SEQUENCE { id-ecPublicKey, namedCurve } */
static const unsigned char alg_p256[] = {
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char alg_p384[] = {0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
                                         0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                                         0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

const unsigned char *
pki_ec_alg(int type, size_t *len)
{
    if (type == PKI_EC_P256) {
        *len = sizeof(alg_p256);
        return alg_p256;
    }
    if (type == PKI_EC_P384) {
        *len = sizeof(alg_p384);
        return alg_p384;
    }
    *len = 0;
    return NULL;
}
