/* pkiissue.c: issuing leaf certificates from a struct pki_ca (see pki.h).
 *
 * Why by hand: with OpenSSL 3, building a certificate through the X509 API
 * re-encodes and re-decodes the subject's public key through the provider
 * encoder/decoder machinery (X509_set_pubkey), and every X509_sign fetches
 * algorithms behind global read locks; together that was 90% of the time
 * and made two threads slower than one. So the TBSCertificate is written
 * here as DER from pieces the CA prepared once (issuer name, constant
 * extensions, signature algorithm) plus the per-certificate parts (serial,
 * validity, subject, SPKI cached in the key, SKI, SANs), hashed with a
 * digest fetched once, and signed with an EVP_PKEY_CTX taken from the CA's
 * small pool. The result is a struct pki_cert holding the DER; OpenSSL
 * parses it only if a getter asks. Everything written here is checked by
 * the unit tests and by `openssl verify`/`openssl x509` in
 * e2e/t_pki_openssl.sh. */
#include "lib/pkipriv.h"

#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>

/* ---- checks ----------------------------------------------------------------
 */

static int
check_uri(const char *s)
{
    size_t n = s ? strlen(s) : 0, i = 0;

    if (n == 0 || n > PKI_URI_MAX)
        return errmsg_set(RC_INVAL, "URI SAN must be 1..%d bytes", PKI_URI_MAX);
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return errmsg_set(RC_INVAL,
                              "URI SAN '%.64s' has a space, control or "
                              "non-ASCII character",
                              s);
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return errmsg_set(RC_INVAL, "URI SAN '%.64s' lacks a scheme", s);
    for (i = 0; i < n && s[i] != ':'; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
            return errmsg_set(RC_INVAL, "URI SAN '%.64s' lacks a scheme", s);
    }
    if (i + 1 >= n)
        return errmsg_set(RC_INVAL, "URI SAN '%.64s' lacks a scheme", s);
    return 0;
}

static int
check_dns(const char *s)
{
    size_t n = s ? strlen(s) : 0, label = 0;
    const char *p = s;

    if (n == 0 || n > PKI_DNS_MAX)
        return errmsg_set(RC_INVAL, "DNS SAN must be 1..%d bytes", PKI_DNS_MAX);
    if (n > 2 && s[0] == '*' && s[1] == '.')
        p += 2;
    for (; *p; p++) {
        char c = *p;
        if (c == '.') {
            if (label == 0 || p[-1] == '-')
                goto bad;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-'))
            goto bad;
        if (c == '-' && label == 0)
            goto bad;
        if (++label > 63)
            goto bad;
    }
    if (label == 0 || p[-1] == '-')
        goto bad;
    return 0;
bad:
    return errmsg_set(RC_INVAL, "DNS SAN '%.64s' is not a valid host name", s);
}

static int
check_req(const struct pki_issue_req *req)
{
    int rc;

    if (req->key == NULL)
        return errmsg_set(RC_INVAL, "no key to certify");
    if ((rc = pki_check_ttl(req->ttl)) != 0 ||
        (req->cn && (rc = pki_check_text("subject CN", req->cn, PKI_CN_MAX))))
        return rc;
    if (req->n_uris + req->n_dns == 0)
        return errmsg_set(RC_INVAL, "a certificate needs at least one SAN");
    if (req->n_uris > PKI_SAN_MAX || req->n_dns > PKI_SAN_MAX ||
        req->n_uris + req->n_dns > PKI_SAN_MAX)
        return errmsg_set(RC_INVAL, "more than %d SANs", PKI_SAN_MAX);
    for (size_t i = 0; i < req->n_uris; i++)
        if ((rc = check_uri(req->uris[i])) != 0)
            return rc;
    for (size_t i = 0; i < req->n_dns; i++)
        if ((rc = check_dns(req->dns[i])) != 0)
            return rc;
    return 0;
}

/* ---- DER writing
 * ------------------------------------------------------------- */

struct der {
    unsigned char *p, *end;
};

static void
put(struct der *d, const void *s, size_t n)
{
    /* sizes are computed before writing; running past end is a bug */
    if (d->p + n > d->end)
        abort();
    memcpy(d->p, s, n);
    d->p += n;
}

static void
hdr(struct der *d, unsigned tag, size_t len)
{
    unsigned char h[6];

    put(d, h, pki_der_hdr(h, tag, len));
}

static size_t
tlv(size_t len)
{
    return pki_der_hdr(NULL, 0, len) + len;
}

/* Time: UTCTime for 1950..2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
static int
time_der(unsigned char out[17], size_t *len, time_t t)
{
    struct tm tm;
    char s[64];

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 1950 ||
        tm.tm_year + 1900 > 9999)
        return errmsg_set(RC_INVAL, "time %lld cannot be encoded",
                          (long long)t);
    if (tm.tm_year + 1900 < 2050) {
        snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ", tm.tm_year % 100,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        out[0] = 0x17;
    } else {
        snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        out[0] = 0x18;
    }
    out[1] = (unsigned char)strlen(s);
    memcpy(out + 2, s, out[1]); /* 13 or 15 */
    *len = 2 + (size_t)out[1];
    return 0;
}

/* The subjectPublicKey BIT STRING contents of an SPKI (after the unused-bits
 * byte), for the key identifier. */
static int
spki_bits(const unsigned char *spki, size_t n, const unsigned char **bits,
          size_t *blen)
{
    const unsigned char *p = spki, *end = spki + n;
    size_t len;

    /* SEQUENCE header, then skip the AlgorithmIdentifier SEQUENCE */
    for (int step = 0; step < 3; step++) {
        if (end - p < 2)
            return -1;
        unsigned tag = p[0];
        len = p[1];
        p += 2;
        if (len & 0x80) {
            size_t k = len & 0x7f;
            if (k == 0 || k > 3 || (size_t)(end - p) < k)
                return -1;
            len = 0;
            while (k--)
                len = len << 8 | *p++;
        }
        if ((size_t)(end - p) < len)
            return -1;
        if (step == 1)
            p += len; /* the algorithm */
        if (step == 2) {
            if (tag != 0x03 || len < 2 || p[0] != 0)
                return -1;
            *bits = p + 1;
            *blen = len - 1;
        }
    }
    return 0;
}

/* ---- signing contexts ------------------------------------------------------
 */

static EVP_PKEY_CTX *
ctx_get(struct pki_ca *ca)
{
    EVP_PKEY_CTX *ctx = NULL;

    pthread_mutex_lock(&ca->lock);
    if (ca->npool > 0)
        ctx = ca->pool[--ca->npool];
    pthread_mutex_unlock(&ca->lock);
    if (ctx != NULL)
        return ctx;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ca->key->pkey, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
        (ca->rsa &&
         (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
          EVP_PKEY_CTX_set_signature_md(ctx, ca->md) != 1))) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void
ctx_put(struct pki_ca *ca, EVP_PKEY_CTX *ctx)
{
    pthread_mutex_lock(&ca->lock);
    if (ca->npool < PKI_SIGN_POOL) {
        ca->pool[ca->npool++] = ctx;
        ctx = NULL;
    }
    pthread_mutex_unlock(&ca->lock);
    EVP_PKEY_CTX_free(ctx);
}

/* ---- issuing
 * ------------------------------------------------------------------- */

static const unsigned char ver3[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
static const unsigned char oid_cn[] = {0x06, 0x03, 0x55, 0x04, 0x03};
static const unsigned char ski_head[] = {0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d,
                                         0x0e, 0x04, 0x16, 0x04, 0x14};
static const unsigned char oid_san[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
static const unsigned char crit_true[] = {0x01, 0x01, 0xff};

int
pki_issue(struct pki_cert **out, const struct pki_issue_req *req,
          const struct pki_ca *cca, time_t now)
{
    struct pki_ca *ca = (struct pki_ca *)cca; /* only the pool changes */
    time_t nb = now - PKI_CLOCK_SKEW, na;
    time_t ca_nb = ca->cert->not_before, ca_na = ca->cert->not_after;
    unsigned char serial[16], tnb[17], tna[17], kid[20], dg[EVP_MAX_MD_SIZE];
    unsigned char sig[1024];
    const unsigned char *bits;
    size_t tnb_len, tna_len, blen, siglen = sizeof(sig), cnlen = 0;
    size_t names = 0, san_seq, san_oct, san_ext, exts, subj, subj_c = 0;
    size_t tbs_c, tbs, cert_c, bit, total;

    unsigned dglen = 0;
    unsigned char *buf = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    struct der d;
    int rc;

    *out = NULL;
    if ((rc = check_req(req)) != 0)
        return rc;
    if (now < ca_nb || now >= ca_na)
        return errmsg_set(RC_INVAL, "the CA certificate is not valid now (%s)",
                          now < ca_nb ? "not yet valid" : "expired");
    na = req->ttl > ca_na - now ? ca_na : now + (time_t)req->ttl;
    if (nb < ca_nb)
        nb = ca_nb;
    if ((rc = time_der(tnb, &tnb_len, nb)) != 0 ||
        (rc = time_der(tna, &tna_len, na)) != 0)
        return rc;
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        return pki_ossl_err(RC_TLS, "no randomness for a serial number");
    serial[0] &= 0x7f; /* positive, and 16 bytes long */
    if (serial[0] == 0)
        serial[0] = 0x01;
    if (spki_bits(req->key->spki, req->key->spki_len, &bits, &blen) != 0 ||
        !EVP_Digest(bits, blen, kid, NULL, ca->sha1, NULL))
        return pki_ossl_err(RC_TLS, "cannot compute the key identifier");

    /* sizes, inside out */
    for (size_t i = 0; i < req->n_uris; i++)
        names += tlv(strlen(req->uris[i]));
    for (size_t i = 0; i < req->n_dns; i++)
        names += tlv(strlen(req->dns[i]));
    san_seq = tlv(names);
    san_oct = tlv(san_seq);
    san_ext =
        tlv(sizeof(oid_san) + (req->cn ? 0 : sizeof(crit_true)) + san_oct);
    exts = ca->exts_len + sizeof(ski_head) + 20 + san_ext;
    if (req->cn != NULL) {
        cnlen = strlen(req->cn);
        subj_c = tlv(tlv(sizeof(oid_cn) + tlv(cnlen)));
    }
    subj = tlv(subj_c);
    tbs_c = sizeof(ver3) + tlv(sizeof(serial)) + ca->sigalg_len +
            ca->issuer_len + tlv(tnb_len + tna_len) + subj +
            req->key->spki_len + tlv(tlv(exts));
    tbs = tlv(tbs_c);
    bit = 1 + (size_t)EVP_PKEY_get_size(ca->key->pkey);
    cert_c = tbs + ca->sigalg_len + tlv(bit);
    if ((buf = mem_alloc(5 + cert_c)) == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");

    /* the TBSCertificate, written after room for the outer header */
    d.p = buf + 5;
    d.end = buf + 5 + cert_c;
    hdr(&d, 0x30, tbs_c);
    put(&d, ver3, sizeof(ver3));
    hdr(&d, 0x02, sizeof(serial));
    put(&d, serial, sizeof(serial));
    put(&d, ca->sigalg, ca->sigalg_len);
    put(&d, ca->issuer, ca->issuer_len);
    hdr(&d, 0x30, tnb_len + tna_len);
    put(&d, tnb, tnb_len);
    put(&d, tna, tna_len);
    hdr(&d, 0x30, subj_c);
    if (req->cn != NULL) {
        hdr(&d, 0x31, tlv(sizeof(oid_cn) + tlv(cnlen)));
        hdr(&d, 0x30, sizeof(oid_cn) + tlv(cnlen));
        put(&d, oid_cn, sizeof(oid_cn));
        hdr(&d, 0x0c, cnlen); /* UTF8String */
        put(&d, req->cn, cnlen);
    }
    put(&d, req->key->spki, req->key->spki_len);
    hdr(&d, 0xa3, tlv(exts));
    hdr(&d, 0x30, exts);
    put(&d, ca->exts, ca->exts_len);
    put(&d, ski_head, sizeof(ski_head));
    put(&d, kid, 20);
    hdr(&d, 0x30,
        sizeof(oid_san) + (req->cn ? 0 : sizeof(crit_true)) + san_oct);
    put(&d, oid_san, sizeof(oid_san));
    if (req->cn == NULL) /* empty subject: SAN critical (RFC 5280) */
        put(&d, crit_true, sizeof(crit_true));
    hdr(&d, 0x04, san_seq);
    hdr(&d, 0x30, names);
    for (size_t i = 0; i < req->n_uris; i++) {
        hdr(&d, 0x86, strlen(req->uris[i]));
        put(&d, req->uris[i], strlen(req->uris[i]));
    }
    for (size_t i = 0; i < req->n_dns; i++) {
        hdr(&d, 0x82, strlen(req->dns[i]));
        put(&d, req->dns[i], strlen(req->dns[i]));
    }

    /* hash and sign it */
    if (!EVP_Digest(buf + 5, tbs, dg, &dglen, ca->md, NULL)) {
        rc = pki_ossl_err(RC_TLS, "cannot hash the certificate");
        goto done;
    }
    if ((ctx = ctx_get(ca)) == NULL) {
        rc = pki_ossl_err(RC_TLS, "cannot set up signing");
        goto done;
    }
    if (EVP_PKEY_sign(ctx, sig, &siglen, dg, dglen) != 1 || siglen + 1 > bit) {
        rc = pki_ossl_err(RC_TLS, "signing failed");
        goto done;
    }
    put(&d, ca->sigalg, ca->sigalg_len);
    hdr(&d, 0x03, siglen + 1);
    put(&d, "", 1); /* no unused bits */
    put(&d, sig, siglen);

    /* the outer header, then close the gap left for it (an ECDSA
     * signature's length varies, so the final size is known only now) */
    cert_c = (size_t)(d.p - (buf + 5));
    {
        size_t h = pki_der_hdr(NULL, 0x30, cert_c);
        pki_der_hdr(buf, 0x30, cert_c);
        memmove(buf + h, buf + 5, cert_c);
        total = h + cert_c;
    }
    rc = pki_cert_from_der(out, buf, total, nb, na);
    buf = NULL;
done:
    if (ctx != NULL) {
        if (rc == 0)
            ctx_put(ca, ctx);
        else
            EVP_PKEY_CTX_free(ctx);
    }
    mem_free(buf);
    return rc;
}

int
pki_ca_chain_encode(char **out, size_t *len, const struct pki_cert *leaf,
                    const struct pki_ca *ca)
{
    struct pki_bundle b = {0};
    struct pki_cert *v[PKI_BUNDLE_MAX + 1];
    size_t n = ca->out->n < PKI_BUNDLE_MAX ? ca->out->n : PKI_BUNDLE_MAX;

    /* a borrowed view: leaf + ca->out, nothing copied */
    v[0] = (struct pki_cert *)leaf;
    for (size_t i = 0; i < n; i++)
        v[i + 1] = ca->out->v[i];
    b.v = v;
    b.n = 1 + n;
    return pki_bundle_encode(out, len, &b);
}

static int
check_id_part(const char *what, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > 253)
        return errmsg_set(RC_INVAL, "SPIFFE %s must be 1..253 bytes", what);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return errmsg_set(RC_INVAL,
                              "SPIFFE %s '%.64s' has a character outside "
                              "[A-Za-z0-9._-]",
                              what, s);
    }
    return 0;
}

int
pki_spiffe_id(char **out, const char *trust_domain, const char *ns,
              const char *sa)
{
    struct buf b;
    int rc;

    *out = NULL;
    if ((rc = check_id_part("trust domain", trust_domain)) != 0 ||
        (rc = check_id_part("namespace", ns)) != 0 ||
        (rc = check_id_part("service account", sa)) != 0)
        return rc;
    buf_init(&b, 0);
    if ((rc = buf_addf(&b, "spiffe://%s/ns/%s/sa/%s", trust_domain, ns, sa)) !=
        0) {
        buf_cleanup(&b);
        return rc;
    }
    *out = b.ptr;
    return 0;
}
