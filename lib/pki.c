/* pki.c: private keys, our strict PEM reader/writer, certificates and
 * bundles (see pki.h). The CA and verification are in pkica.c, issuing in
 * pkiissue.c, rotation math in pkirot.c.
 *
 * Invariants: a struct pki_cert always holds a parsed X509 whose validity
 * times were readable (cached as time_t); a struct pki_key always holds a
 * key of a supported type. Buffers that held key material (base64 text,
 * DER) are wiped before they are freed, and no message quotes input bytes
 * of a key block: only labels, block numbers and line numbers. */
#include "lib/pkipriv.h"

#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <strings.h>

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

#define LABEL_MAX 40

struct pem_reader {
    const char *p, *end;
    int line;   /* 1-based line of p */
    int blocks; /* blocks read so far */
};

struct pem_block {
    char label[LABEL_MAX];
    unsigned char *der; /* mem_alloc'd; wipe before freeing if secret */
    size_t len, cap;
    int index; /* 1-based */
};

static void
block_release(struct pem_block *b)
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
next_line(struct pem_reader *r, const char **s, const char **e, int *nul)
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
armor(const char *s, const char *e, const char *kw, char label[LABEL_MAX])
{
    size_t kl = strlen(kw), n = (size_t)(e - s), ll;

    if (n < 10 + kl + 1 || memcmp(s, "-----", 5) != 0 ||
        memcmp(s + 5, kw, kl) != 0 || s[5 + kl] != ' ' ||
        memcmp(e - 5, "-----", 5) != 0)
        return -1;
    ll = n - 10 - kl - 1;
    if (ll == 0 || ll >= LABEL_MAX)
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

static int
b64val(char c)
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

/* pem_next reads the next block into *b (1 = got one, 0 = clean end of
 * input, < 0 = error with errmsg set). */
static int
pem_next(struct pem_reader *r, struct pem_block *b)
{
    const char *s, *e, *endmark;
    int nul, begin_line;
    unsigned quad = 0, nq = 0, pad = 0;
    char label[LABEL_MAX];

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
            int v = b64val(*c);
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

static int
pem_reader_init(struct pem_reader *r, const char *pem, size_t len)
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
static int
pem_write(struct buf *out, const char *label, const unsigned char *der,
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

/* ---- keys --------------------------------------------------------------- */

void
pki_key_free(struct pki_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pkey);
    mem_free(key->spki);
    mem_free(key);
}

static int
classify(EVP_PKEY *pkey, int *type)
{
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
        char group[64];
        size_t gl = 0;
        if (!EVP_PKEY_get_group_name(pkey, group, sizeof(group), &gl)) {
            ERR_clear_error();
            return errmsg_set(RC_UNSUPPORTED, "EC key without a named curve");
        }
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            *type = PKI_EC_P256;
        else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            *type = PKI_EC_P384;
        else
            return errmsg_set(RC_UNSUPPORTED,
                              "EC curve %.40s is not supported (P-256, "
                              "P-384)",
                              group);
        return 0;
    }
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < 2048 || bits > 8192)
            return errmsg_set(RC_UNSUPPORTED,
                              "RSA key of %d bits is not supported "
                              "(2048..8192)",
                              bits);
        *type = bits >= 4096   ? PKI_RSA_4096
                : bits >= 3072 ? PKI_RSA_3072
                               : PKI_RSA_2048;
        return 0;
    }
    return errmsg_set(RC_UNSUPPORTED,
                      "key type %.40s is not supported (EC or RSA)",
                      OBJ_nid2sn(EVP_PKEY_get_base_id(pkey)));
}

/* The SubjectPublicKeyInfo of a key. For EC it is assembled from the
 * encoded point: i2d_PUBKEY goes through OpenSSL 3's encoder machinery,
 * which costs more than generating the key. */
static int
make_spki(struct pki_key *k)
{
    unsigned char pt[160], *der = NULL, *w;
    size_t ptlen = 0, alen, bit, total;
    const unsigned char *alg = pki_ec_alg(k->type, &alen);
    int n;

    if (alg != NULL) {
        if (!EVP_PKEY_get_octet_string_param(k->pkey,
                                             OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                             pt, sizeof(pt), &ptlen))
            return pki_ossl_err(RC_TLS, "cannot read the public key");
        bit = 1 + ptlen;
        total = alen + pki_der_hdr(NULL, 0x03, bit) + bit;
        k->spki_len = pki_der_hdr(NULL, 0x30, total) + total;
        if ((k->spki = mem_alloc(k->spki_len)) == NULL)
            return errmsg_set(RC_NOMEM, "out of memory");
        w = k->spki;
        w += pki_der_hdr(w, 0x30, total);
        memcpy(w, alg, alen);
        w += alen;
        w += pki_der_hdr(w, 0x03, bit);
        *w++ = 0;
        memcpy(w, pt, ptlen);
        return 0;
    }
    n = i2d_PUBKEY(k->pkey, &der);
    if (n <= 0)
        return pki_ossl_err(RC_TLS, "cannot encode the public key");
    k->spki = mem_alloc((size_t)n);
    if (k->spki != NULL) {
        memcpy(k->spki, der, (size_t)n);
        k->spki_len = (size_t)n;
    }
    OPENSSL_free(der);
    return k->spki ? 0 : errmsg_set(RC_NOMEM, "out of memory");
}

int
pki_key_wrap(struct pki_key **out, EVP_PKEY *pkey)
{
    struct pki_key *k = NULL;
    int type = 0, rc;

    *out = NULL;
    if ((rc = classify(pkey, &type)) != 0)
        goto done;
    k = mem_calloc(1, sizeof(*k));
    if (k == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory");
        goto done;
    }
    k->pkey = pkey;
    k->type = type;
    pkey = NULL;
    if ((rc = make_spki(k)) != 0)
        goto done;
    *out = k;
    k = NULL;
done:
    pki_key_free(k);
    EVP_PKEY_free(pkey);
    return rc;
}

/* EC key generation contexts, kept between calls: EVP_PKEY_Q_keygen builds
 * a new context and a new EC_GROUP (Montgomery setup included) for every
 * key, a third of the cost of a P-256 key. A context keeps its group, so
 * reusing one makes generation about twice as fast. A small pool shared by
 * all threads (a context is used by one thread at a time); contexts left
 * in it at exit are reachable from here and freed by pki_global_cleanup. */
#define KEYGEN_POOL 8

static pthread_mutex_t keygen_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_PKEY_CTX *keygen_pool[2][KEYGEN_POOL]; /* [0] P-256, [1] P-384 */
static int keygen_n[2];

static EVP_PKEY_CTX *
keygen_ctx_get(int curve)
{
    EVP_PKEY_CTX *ctx = NULL;

    pthread_mutex_lock(&keygen_lock);
    if (keygen_n[curve] > 0)
        ctx = keygen_pool[curve][--keygen_n[curve]];
    pthread_mutex_unlock(&keygen_lock);
    if (ctx != NULL)
        return ctx;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_group_name(ctx, curve ? "P-384" : "P-256") != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void
keygen_ctx_put(int curve, EVP_PKEY_CTX *ctx)
{
    pthread_mutex_lock(&keygen_lock);
    if (keygen_n[curve] < KEYGEN_POOL) {
        keygen_pool[curve][keygen_n[curve]++] = ctx;
        ctx = NULL;
    }
    pthread_mutex_unlock(&keygen_lock);
    EVP_PKEY_CTX_free(ctx);
}

void
pki_global_cleanup(void)
{
    pthread_mutex_lock(&keygen_lock);
    for (int c = 0; c < 2; c++) {
        while (keygen_n[c] > 0)
            EVP_PKEY_CTX_free(keygen_pool[c][--keygen_n[c]]);
    }
    pthread_mutex_unlock(&keygen_lock);
}

static EVP_PKEY *
ec_generate(int curve)
{
    EVP_PKEY_CTX *ctx = keygen_ctx_get(curve);
    EVP_PKEY *pkey = NULL;

    if (ctx == NULL)
        return NULL;
    if (EVP_PKEY_generate(ctx, &pkey) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    keygen_ctx_put(curve, ctx);
    return pkey;
}

int
pki_key_generate(struct pki_key **out, int type)
{
    EVP_PKEY *pkey = NULL;

    *out = NULL;
    switch (type) {
    case PKI_EC_P256:
        pkey = ec_generate(0);
        break;
    case PKI_EC_P384:
        pkey = ec_generate(1);
        break;
    case PKI_RSA_2048:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        break;
    case PKI_RSA_3072:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
        break;
    case PKI_RSA_4096:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
        break;
    default:
        return errmsg_set(RC_INVAL, "unknown key type %d", type);
    }
    if (pkey == NULL)
        return pki_ossl_err(RC_TLS, "key generation failed");
    return pki_key_wrap(out, pkey);
}

static EVP_PKEY *
der_to_key(const struct pem_block *b)
{
    const unsigned char *p = b->der;
    EVP_PKEY *pkey = NULL;

    if (strcmp(b->label, "PRIVATE KEY") == 0) {
        PKCS8_PRIV_KEY_INFO *p8 =
            d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)b->len);
        if (p8 != NULL && p == b->der + b->len)
            pkey = EVP_PKCS82PKEY(p8);
        PKCS8_PRIV_KEY_INFO_free(p8);
    } else {
        int id = strcmp(b->label, "EC PRIVATE KEY") == 0 ? EVP_PKEY_EC
                                                         : EVP_PKEY_RSA;
        pkey = d2i_PrivateKey(id, NULL, &p, (long)b->len);
        if (pkey != NULL && p != b->der + b->len) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    }
    return pkey;
}

int
pki_key_decode(struct pki_key **out, const char *pem, size_t len)
{
    struct pem_reader r;
    struct pem_block b = {0};
    EVP_PKEY *pkey = NULL;
    int rc, got;

    *out = NULL;
    if ((rc = pem_reader_init(&r, pem, len)) != 0)
        return rc;
    while ((got = pem_next(&r, &b)) == 1) {
        if (strcmp(b.label, "EC PARAMETERS") == 0 && pkey == NULL) {
            block_release(&b);
            continue;
        }
        if (pkey != NULL) {
            rc =
                errmsg_set(RC_PARSE, "block %d (%s): more than one private key",
                           b.index, b.label);
            goto done;
        }
        if (strcmp(b.label, "ENCRYPTED PRIVATE KEY") == 0) {
            rc = errmsg_set(RC_UNSUPPORTED,
                            "block %d: encrypted private keys are not "
                            "supported",
                            b.index);
            goto done;
        }
        if (strcmp(b.label, "PRIVATE KEY") != 0 &&
            strcmp(b.label, "EC PRIVATE KEY") != 0 &&
            strcmp(b.label, "RSA PRIVATE KEY") != 0) {
            rc = errmsg_set(RC_PARSE,
                            "block %d (%s): not a private key (expected "
                            "PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE "
                            "KEY)",
                            b.index, b.label);
            goto done;
        }
        pkey = der_to_key(&b);
        if (pkey == NULL) {
            ERR_clear_error();
            rc = errmsg_set(RC_PARSE, "block %d (%s): invalid key encoding",
                            b.index, b.label);
            goto done;
        }
        block_release(&b);
    }
    if (got < 0) {
        rc = got;
        goto done;
    }
    if (pkey == NULL) {
        rc = errmsg_set(RC_PARSE, "no private key PEM block");
        goto done;
    }
    rc = pki_key_wrap(out, pkey);
    pkey = NULL;
done:
    block_release(&b);
    EVP_PKEY_free(pkey);
    return rc;
}

/* PKCS#8 PrivateKeyInfo of an EC key, written by hand into der (see
 * make_spki for why): SEQUENCE { 0, algorithm, OCTET STRING { ECPrivateKey
 * SEQUENCE { 1, OCTET STRING d, [1] BIT STRING Q } } } (RFC 5915, the
 * parameters [0] left out as OpenSSL does: they are in the algorithm). */
static int
ec_pkcs8(unsigned char *der, size_t cap, size_t *len, const struct pki_key *k)
{
    unsigned char d[66], q[160], *w = der;
    size_t dlen = k->type == PKI_EC_P256 ? 32 : 48, qlen = 0, alen;
    const unsigned char *alg = pki_ec_alg(k->type, &alen);
    size_t bit, a1, ecpk, oct, outer;
    BIGNUM *bn = NULL;
    int rc = 0;

    if (!EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn) ||
        BN_bn2binpad(bn, d, (int)dlen) != (int)dlen ||
        !EVP_PKEY_get_octet_string_param(
            k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, q, sizeof(q), &qlen)) {
        rc = pki_ossl_err(RC_TLS, "cannot encode private key");
        goto done;
    }
    bit = 1 + qlen;
    a1 = pki_der_hdr(NULL, 0x03, bit) + bit;
    ecpk = 3 + pki_der_hdr(NULL, 0x04, dlen) + dlen +
           pki_der_hdr(NULL, 0xa1, a1) + a1;
    oct = pki_der_hdr(NULL, 0x30, ecpk) + ecpk;
    outer = 3 + alen + pki_der_hdr(NULL, 0x04, oct) + oct;
    *len = pki_der_hdr(NULL, 0x30, outer) + outer;
    if (*len > cap) {
        rc = errmsg_set(RC_INTERNAL, "EC key encoding too large");
        goto done;
    }
    w += pki_der_hdr(w, 0x30, outer);
    memcpy(w, "\x02\x01\x00", 3);
    w += 3;
    memcpy(w, alg, alen);
    w += alen;
    w += pki_der_hdr(w, 0x04, oct);
    w += pki_der_hdr(w, 0x30, ecpk);
    memcpy(w, "\x02\x01\x01", 3);
    w += 3;
    w += pki_der_hdr(w, 0x04, dlen);
    memcpy(w, d, dlen);
    w += dlen;
    w += pki_der_hdr(w, 0xa1, a1);
    w += pki_der_hdr(w, 0x03, bit);
    *w++ = 0;
    memcpy(w, q, qlen);
done:
    OPENSSL_cleanse(d, sizeof(d));
    BN_clear_free(bn);
    return rc;
}

int
pki_key_encode(char **out, size_t *len, const struct pki_key *key)
{
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *der = NULL, ecder[512];
    struct buf b;
    size_t n = 0;
    int rc, dn;

    *out = NULL;
    buf_init(&b, 0);
    if (pki_ec_alg(key->type, &n) != NULL) {
        if ((rc = ec_pkcs8(ecder, sizeof(ecder), &n, key)) == 0)
            rc = pem_write(&b, "PRIVATE KEY", ecder, n);
        OPENSSL_cleanse(ecder, sizeof(ecder));
        goto done;
    }
    p8 = EVP_PKEY2PKCS8(key->pkey);
    if (p8 == NULL) {
        rc = pki_ossl_err(RC_TLS, "cannot encode private key");
        goto done;
    }
    dn = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    if (dn <= 0) {
        rc = pki_ossl_err(RC_TLS, "cannot encode private key");
        goto done;
    }
    n = (size_t)dn;
    rc = pem_write(&b, "PRIVATE KEY", der, n);
done:
    if (rc == 0) {
        if (len != NULL)
            *len = b.len;
        *out = b.ptr;
        b.ptr = NULL;
    }
    if (der != NULL)
        OPENSSL_clear_free(der, n);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (b.ptr != NULL)
        pki_secret_free(b.ptr, b.cap);
    return rc;
}

int
pki_key_type_get(const struct pki_key *key)
{
    return key->type;
}

static const struct {
    const char *name;
    int type;
} key_names[] = {
    {"ec-p256", PKI_EC_P256},   {"ec", PKI_EC_P256},
    {"ecdsa", PKI_EC_P256},     {"p256", PKI_EC_P256},
    {"p-256", PKI_EC_P256},     {"ec-p384", PKI_EC_P384},
    {"p384", PKI_EC_P384},      {"p-384", PKI_EC_P384},
    {"rsa-2048", PKI_RSA_2048}, {"rsa", PKI_RSA_2048},
    {"rsa2048", PKI_RSA_2048},  {"rsa-3072", PKI_RSA_3072},
    {"rsa3072", PKI_RSA_3072},  {"rsa-4096", PKI_RSA_4096},
    {"rsa4096", PKI_RSA_4096},
};

int
pki_key_type_parse(int *out, const char *s)
{
    for (size_t i = 0; s && i < sizeof(key_names) / sizeof(key_names[0]); i++) {
        if (strcasecmp(s, key_names[i].name) == 0) {
            *out = key_names[i].type;
            return 0;
        }
    }
    return errmsg_set(RC_INVAL,
                      "unknown key type '%.32s' (ec-p256, ec-p384, "
                      "rsa-2048, rsa-3072, rsa-4096)",
                      s ? s : "");
}

const char *
pki_key_type_name(int type)
{
    /* the first entry of each type is its canonical name */
    for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
        if (key_names[i].type == type)
            return key_names[i].name;
    return "none";
}

const EVP_MD *
pki_md_for(const struct pki_key *key)
{
    return key->type == PKI_EC_P384 ? EVP_sha384() : EVP_sha256();
}

/* ---- certificates -------------------------------------------------------- */
/* A cert is shared by reference count (pki_cert_dup): bundles and CAs hold
 * the same immutable object. */

static int
asn1_time(time_t *out, const ASN1_TIME *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm)) {
        ERR_clear_error();
        return -1;
    }
    *out = timegm(&tm);
    return 0;
}

static struct pki_cert *
cert_new(void)
{
    struct pki_cert *c = mem_calloc(1, sizeof(*c));

    if (c != NULL)
        atomic_init(&c->refs, 1);
    return c;
}

int
pki_cert_wrap(struct pki_cert **out, X509 *x)
{
    struct pki_cert *c = NULL;
    time_t nb, na;

    *out = NULL;
    if (asn1_time(&nb, X509_get0_notBefore(x)) != 0 ||
        asn1_time(&na, X509_get0_notAfter(x)) != 0) {
        X509_free(x);
        return errmsg_set(RC_PARSE, "certificate validity time is invalid");
    }
    if ((c = cert_new()) == NULL) {
        X509_free(x);
        return errmsg_set(RC_NOMEM, "out of memory");
    }
    atomic_init(&c->x509, x);
    c->not_before = nb;
    c->not_after = na;
    *out = c;
    return 0;
}

int
pki_cert_from_der(struct pki_cert **out, unsigned char *der, size_t len,
                  time_t not_before, time_t not_after)
{
    struct pki_cert *c = cert_new();

    *out = NULL;
    if (c == NULL) {
        mem_free(der);
        return errmsg_set(RC_NOMEM, "out of memory");
    }
    atomic_init(&c->x509, NULL);
    c->der = der;
    c->der_len = len;
    c->not_before = not_before;
    c->not_after = not_after;
    *out = c;
    return 0;
}

X509 *
pki_cert_x509(const struct pki_cert *cert)
{
    struct pki_cert *c = (struct pki_cert *)cert; /* a cache, not a change */
    X509 *x = atomic_load(&c->x509), *expected = NULL;
    const unsigned char *p = c->der;

    if (x != NULL || c->der == NULL)
        return x;
    x = d2i_X509(NULL, &p, (long)c->der_len);
    if (x == NULL) {
        ERR_clear_error();
        return NULL;
    }
    if (!atomic_compare_exchange_strong(&c->x509, &expected, x)) {
        X509_free(x); /* another thread was first */
        x = expected;
    }
    return x;
}

static int
der_to_cert(struct pki_cert **out, const struct pem_block *b)
{
    const unsigned char *p = b->der;
    X509 *x;
    int rc;

    if (strcmp(b->label, "CERTIFICATE") != 0)
        return errmsg_set(RC_PARSE,
                          "block %d: %s where a CERTIFICATE was expected",
                          b->index, b->label);
    x = d2i_X509(NULL, &p, (long)b->len);
    if (x == NULL) {
        ERR_clear_error();
        return errmsg_set(RC_PARSE, "block %d: invalid certificate DER",
                          b->index);
    }
    if (p != b->der + b->len) {
        X509_free(x);
        return errmsg_set(RC_PARSE,
                          "block %d: %zu trailing bytes after the "
                          "certificate",
                          b->index, (size_t)(b->der + b->len - p));
    }
    if ((rc = pki_cert_wrap(out, x)) == RC_PARSE)
        errmsg_prefix(rc, "block %d", b->index);
    return rc;
}

int
pki_cert_decode(struct pki_cert **out, const char *pem, size_t len)
{
    struct pki_bundle *b = NULL;
    int rc;

    *out = NULL;
    if ((rc = pki_bundle_decode(&b, pem, len)) != 0)
        return rc;
    if (b->n != 1) {
        rc = errmsg_set(RC_PARSE,
                        "expected one certificate, found %zu (block 2 is "
                        "extra)",
                        b->n);
    } else {
        *out = b->v[0];
        b->n = 0;
    }
    pki_bundle_free(b);
    return rc;
}

static int
encode_cert(struct buf *b, const struct pki_cert *cert)
{
    unsigned char *der = NULL;
    X509 *x;
    int n, rc;

    if (cert->der != NULL)
        return pem_write(b, "CERTIFICATE", cert->der, cert->der_len);
    x = atomic_load(&((struct pki_cert *)cert)->x509);
    if ((n = i2d_X509(x, &der)) <= 0)
        return pki_ossl_err(RC_TLS, "cannot encode certificate");
    rc = pem_write(b, "CERTIFICATE", der, (size_t)n);
    OPENSSL_free(der);
    return rc;
}

int
pki_cert_encode(char **out, size_t *len, const struct pki_cert *cert)
{
    struct buf b;
    int rc;

    *out = NULL;
    buf_init(&b, 0);
    if ((rc = encode_cert(&b, cert)) != 0) {
        buf_cleanup(&b);
        return rc;
    }
    if (len != NULL)
        *len = b.len;
    *out = b.ptr;
    return 0;
}

int
pki_cert_dup(struct pki_cert **out, const struct pki_cert *cert)
{
    struct pki_cert *c = (struct pki_cert *)cert; /* refcount only */

    atomic_fetch_add(&c->refs, 1);
    *out = c;
    return 0;
}

void
pki_cert_free(struct pki_cert *cert)
{
    if (cert == NULL || atomic_fetch_sub(&cert->refs, 1) != 1)
        return;
    X509_free(atomic_load(&cert->x509));
    mem_free(cert->der);
    mem_free(cert);
}

time_t
pki_cert_not_before(const struct pki_cert *cert)
{
    return cert->not_before;
}

time_t
pki_cert_not_after(const struct pki_cert *cert)
{
    return cert->not_after;
}

int
pki_cert_is_ca(const struct pki_cert *cert)
{
    X509 *x = pki_cert_x509(cert);

    /* EXFLAG_CA: basicConstraints present with cA TRUE */
    return x != NULL && (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
}

int
pki_cert_is_self_signed(const struct pki_cert *cert)
{
    X509 *x = pki_cert_x509(cert);
    int r = x != NULL && X509_self_signed(x, 1) == 1;

    ERR_clear_error();
    return r;
}

int
pki_cert_key_matches(const struct pki_cert *cert, const struct pki_key *key)
{
    X509 *x = pki_cert_x509(cert);
    unsigned char *der = NULL;
    int n, r;

    /* compare SubjectPublicKeyInfo encodings: no public-key decoding */
    if (x == NULL)
        return 0;
    n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    r = n > 0 && (size_t)n == key->spki_len &&
        memcmp(der, key->spki, key->spki_len) == 0;
    OPENSSL_free(der);
    ERR_clear_error();
    return r;
}

int
pki_cert_equal(const struct pki_cert *a, const struct pki_cert *b)
{
    X509 *xa, *xb;

    if (a == b)
        return 1;
    if (a->der != NULL && b->der != NULL)
        return a->der_len == b->der_len &&
               memcmp(a->der, b->der, a->der_len) == 0;
    xa = pki_cert_x509(a);
    xb = pki_cert_x509(b);
    return xa != NULL && xb != NULL && X509_cmp(xa, xb) == 0;
}

void
pki_cert_fingerprint(char out[65], const struct pki_cert *cert)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    X509 *x = pki_cert_x509(cert);

    memset(out, 0, 65);
    if (x == NULL || !X509_digest(x, EVP_sha256(), md, &n) || n != 32) {
        ERR_clear_error();
        return;
    }
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The parsed cert for a getter that can report failure. */
static int
need_x509(X509 **x, const struct pki_cert *cert)
{
    if ((*x = pki_cert_x509(cert)) == NULL)
        return errmsg_set(RC_NOMEM, "cannot parse the certificate");
    return 0;
}

int
pki_cert_serial(char **out, const struct pki_cert *cert)
{
    BIGNUM *bn = NULL;
    char *hex = NULL;
    int rc = 0;

    X509 *x;

    *out = NULL;
    if ((rc = need_x509(&x, cert)) != 0)
        return rc;
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    if (bn == NULL || (hex = BN_bn2hex(bn)) == NULL) {
        rc = pki_ossl_err(RC_PARSE, "cannot read the serial number");
        goto done;
    }
    if ((*out = mem_strdup(hex)) == NULL)
        rc = errmsg_set(RC_NOMEM, "out of memory");
done:
    OPENSSL_free(hex);
    BN_free(bn);
    return rc;
}

static int
name_cn(char **out, const X509_NAME *name, const char *which)
{
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1), n;
    unsigned char *utf8 = NULL;
    const X509_NAME_ENTRY *ent;

    *out = NULL;
    if (i < 0)
        return errmsg_set(RC_NOTFOUND, "%s has no CN", which);
    ent = X509_NAME_get_entry(name, i);
    n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ent));
    if (n < 0) {
        ERR_clear_error();
        return errmsg_set(RC_PARSE, "%s CN is not a valid string", which);
    }
    if (memchr(utf8, '\0', (size_t)n) != NULL) {
        OPENSSL_free(utf8);
        return errmsg_set(RC_PARSE, "%s CN contains a NUL byte", which);
    }
    *out = mem_strndup((const char *)utf8, (size_t)n);
    OPENSSL_free(utf8);
    return *out ? 0 : errmsg_set(RC_NOMEM, "out of memory");
}

int
pki_cert_subject_cn(char **out, const struct pki_cert *cert)
{
    X509 *x;
    int rc;

    *out = NULL;
    if ((rc = need_x509(&x, cert)) != 0)
        return rc;
    return name_cn(out, X509_get_subject_name(x), "subject");
}

int
pki_cert_issuer_cn(char **out, const struct pki_cert *cert)
{
    X509 *x;
    int rc;

    *out = NULL;
    if ((rc = need_x509(&x, cert)) != 0)
        return rc;
    return name_cn(out, X509_get_issuer_name(x), "issuer");
}

void
pki_strv_free(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p; p++)
        mem_free(*p);
    mem_free(v);
}

static int
sans(char ***out, size_t *nout, const struct pki_cert *cert, int gtype)
{
    GENERAL_NAMES *gens = NULL;
    char **v = NULL;
    size_t n = 0;
    int crit = -1, rc = 0, count;

    X509 *x;

    *out = NULL;
    if ((rc = need_x509(&x, cert)) != 0)
        return rc;
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL && crit != -1) {
        ERR_clear_error();
        return errmsg_set(RC_PARSE, crit == -2
                                        ? "more than one subjectAltName "
                                          "extension"
                                        : "invalid subjectAltName extension");
    }
    count = gens ? sk_GENERAL_NAME_num(gens) : 0;
    v = mem_calloc((size_t)count + 1, sizeof(*v));
    if (v == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < count; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const ASN1_IA5STRING *s;
        if (g->type != gtype)
            continue;
        s = gtype == GEN_URI ? g->d.uniformResourceIdentifier : g->d.dNSName;
        if (s->length < 0 || memchr(s->data, '\0', (size_t)s->length) != NULL) {
            rc =
                errmsg_set(RC_PARSE, "subjectAltName %d contains a NUL", i + 1);
            goto done;
        }
        v[n] = mem_strndup((const char *)s->data, (size_t)s->length);
        if (v[n] == NULL) {
            rc = errmsg_set(RC_NOMEM, "out of memory");
            goto done;
        }
        n++;
    }
    *out = v;
    v = NULL;
    if (nout != NULL)
        *nout = n;
done:
    pki_strv_free(v);
    GENERAL_NAMES_free(gens);
    return rc;
}

int
pki_cert_uri_sans(char ***out, size_t *n, const struct pki_cert *cert)
{
    return sans(out, n, cert, GEN_URI);
}

int
pki_cert_dns_sans(char ***out, size_t *n, const struct pki_cert *cert)
{
    return sans(out, n, cert, GEN_DNS);
}

/* ---- bundles ------------------------------------------------------------- */

int
pki_bundle_new(struct pki_bundle **out)
{
    *out = mem_calloc(1, sizeof(**out));
    return *out ? 0 : errmsg_set(RC_NOMEM, "out of memory");
}

void
pki_bundle_free(struct pki_bundle *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        pki_cert_free(b->v[i]);
    mem_free(b->v);
    mem_free(b);
}

/* Appends c (ownership moves in on success only). */
static int
bundle_push(struct pki_bundle *b, struct pki_cert *c)
{
    if (b->n >= PKI_BUNDLE_MAX)
        return errmsg_set(RC_LIMIT, "more than %d certificates in a bundle",
                          PKI_BUNDLE_MAX);
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4;
        struct pki_cert **v = mem_realloc(b->v, cap * sizeof(*v));
        if (v == NULL)
            return errmsg_set(RC_NOMEM, "out of memory");
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = c;
    return 0;
}

int
pki_bundle_add(struct pki_bundle *b, const struct pki_cert *cert)
{
    struct pki_cert *c = NULL;
    int rc;

    if (b->n >= PKI_BUNDLE_MAX)
        return errmsg_set(RC_LIMIT, "more than %d certificates in a bundle",
                          PKI_BUNDLE_MAX);
    if ((rc = pki_cert_dup(&c, cert)) != 0)
        return rc;
    if ((rc = bundle_push(b, c)) != 0)
        pki_cert_free(c);
    return rc;
}

int
pki_bundle_add_unique(struct pki_bundle *b, const struct pki_cert *cert)
{
    for (size_t i = 0; i < b->n; i++)
        if (pki_cert_equal(b->v[i], cert))
            return 0;
    return pki_bundle_add(b, cert);
}

size_t
pki_bundle_count(const struct pki_bundle *b)
{
    return b ? b->n : 0;
}

const struct pki_cert *
pki_bundle_get(const struct pki_bundle *b, size_t i)
{
    return b->v[i];
}

int
pki_bundle_decode(struct pki_bundle **out, const char *pem, size_t len)
{
    struct pem_reader r;
    struct pem_block blk = {0};
    struct pki_bundle *b = NULL;
    struct pki_cert *c = NULL;
    int rc, got;

    *out = NULL;
    if ((rc = pem_reader_init(&r, pem, len)) != 0)
        return rc;
    if ((rc = pki_bundle_new(&b)) != 0)
        return rc;
    while ((got = pem_next(&r, &blk)) == 1) {
        if (b->n >= PKI_BUNDLE_MAX) {
            rc = errmsg_set(RC_LIMIT,
                            "block %d: more than %d certificates in a "
                            "bundle",
                            blk.index, PKI_BUNDLE_MAX);
            goto done;
        }
        if ((rc = der_to_cert(&c, &blk)) != 0)
            goto done;
        if ((rc = bundle_push(b, c)) != 0)
            goto done;
        c = NULL;
        block_release(&blk);
    }
    if (got < 0) {
        rc = got;
        goto done;
    }
    if (b->n == 0) {
        rc = errmsg_set(RC_PARSE, "no PEM certificate block");
        goto done;
    }
    *out = b;
    b = NULL;
done:
    pki_cert_free(c);
    block_release(&blk);
    pki_bundle_free(b);
    return rc;
}

int
pki_bundle_encode(char **out, size_t *len, const struct pki_bundle *b)
{
    struct buf o;
    int rc = 0;

    *out = NULL;
    buf_init(&o, 0);
    for (size_t i = 0; i < b->n && rc == 0; i++)
        rc = encode_cert(&o, b->v[i]);
    if (rc == 0 && o.ptr == NULL)
        rc = buf_addstr(&o, "");
    if (rc != 0) {
        buf_cleanup(&o);
        return rc;
    }
    if (len != NULL)
        *len = o.len;
    *out = o.ptr;
    return 0;
}
