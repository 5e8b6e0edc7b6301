/* pki.c: certificates and bundles (see pki.h). Keys are in pkikey.c, the
 * PEM reader/writer in pkipem.c, the CA and verification in pkica.c,
 * issuing in pkiissue.c, rotation math in pkirot.c.
 *
 * Invariant: a struct pki_cert has readable validity times (cached as
 * time_t) and either a parsed X509 or DER we built that parses. */
#include "lib/pkipriv.h"

#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

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
der_to_cert(struct pki_cert **out, const struct pki_pem_block *b)
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
        return pki_pem_write(b, "CERTIFICATE", cert->der, cert->der_len);
    x = atomic_load(&((struct pki_cert *)cert)->x509);
    if ((n = i2d_X509(x, &der)) <= 0)
        return pki_ossl_err(RC_TLS, "cannot encode certificate");
    rc = pki_pem_write(b, "CERTIFICATE", der, (size_t)n);
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
    struct pki_pem_reader r;
    struct pki_pem_block blk = {0};
    struct pki_bundle *b = NULL;
    struct pki_cert *c = NULL;
    int rc, got;

    *out = NULL;
    if ((rc = pki_pem_reader_init(&r, pem, len)) != 0)
        return rc;
    if ((rc = pki_bundle_new(&b)) != 0)
        return rc;
    while ((got = pki_pem_next(&r, &blk)) == 1) {
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
        pki_pem_block_release(&blk);
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
    pki_pem_block_release(&blk);
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
