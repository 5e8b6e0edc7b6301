/* pkica.c: self-signed roots, the checked and cached struct pki_ca, and
 * chain verification (see pki.h); issuing is in pkiissue.c.
 *
 * Invariants: a struct pki_ca was checked once (key matches cert, cert is a
 * CA, cert chains to a root) and holds everything issuing needs already
 * encoded: the issuer Name DER, the constant extensions (basicConstraints,
 * keyUsage, EKU, AKI) as DER, the signature algorithm, fetched digests.
 * After pki_ca_new only its pool of signing contexts changes (under its
 * lock), so threads may issue from one CA at the same time. */
#include "lib/pkipriv.h"

#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <string.h>

/* ---- building blocks */

/* A random positive serial of 16 bytes (the top bit cleared keeps it
 * positive without a leading zero byte). */
static int
set_serial(X509 *x)
{
    unsigned char r[16];
    BIGNUM *bn = NULL;
    int rc = 0;

    if (RAND_bytes(r, sizeof(r)) != 1)
        return pki_ossl_err(RC_TLS, "no randomness for a serial number");
    r[0] &= 0x7f;
    if (r[0] == 0)
        r[0] = 0x01;
    bn = BN_bin2bn(r, sizeof(r), NULL);
    if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
        rc = pki_ossl_err(RC_TLS, "cannot set the serial number");
    BN_free(bn);
    return rc;
}

/* keyIdentifier per RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey
 * BIT STRING. */
static int
key_id(unsigned char out[20], X509 *x)
{
    const unsigned char *pk = NULL;
    int pklen = 0;
    unsigned n = 0;

    if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL,
                                X509_get_X509_PUBKEY(x)) ||
        !EVP_Digest(pk, (size_t)pklen, out, &n, EVP_sha1(), NULL) || n != 20)
        return pki_ossl_err(RC_TLS, "cannot compute the key identifier");
    return 0;
}

static X509_EXTENSION *
make_ext(int nid, int crit, void *value)
{
    X509_EXTENSION *e = X509V3_EXT_i2d(nid, crit, value);

    if (e == NULL)
        pki_ossl_err(RC_TLS, "cannot build a certificate extension");
    return e;
}

static X509_EXTENSION *
ext_basic_constraints(int ca)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    X509_EXTENSION *e = NULL;

    if (bc == NULL)
        return NULL;
    bc->ca = ca ? 0xff : 0;
    e = make_ext(NID_basic_constraints, 1, bc);
    BASIC_CONSTRAINTS_free(bc);
    return e;
}

static X509_EXTENSION *
ext_key_usage(const int *bits, int n)
{
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    X509_EXTENSION *e = NULL;
    int ok = ku != NULL;

    for (int i = 0; ok && i < n; i++)
        ok = ASN1_BIT_STRING_set_bit(ku, bits[i], 1);
    if (ok)
        e = make_ext(NID_key_usage, 1, ku);
    ASN1_BIT_STRING_free(ku);
    return e;
}

static X509_EXTENSION *
ext_eku(void)
{
    EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
    X509_EXTENSION *e = NULL;

    if (eku != NULL &&
        sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) > 0 &&
        sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth)) > 0)
        e = make_ext(NID_ext_key_usage, 0, eku);
    sk_ASN1_OBJECT_free(eku); /* the objects are static */
    return e;
}

static X509_EXTENSION *
ext_key_id(int nid, const unsigned char id[20])
{
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    AUTHORITY_KEYID *akid = NULL;
    X509_EXTENSION *e = NULL;

    if (os == NULL || !ASN1_OCTET_STRING_set(os, id, 20))
        goto done;
    if (nid == NID_subject_key_identifier) {
        e = make_ext(nid, 0, os);
        goto done;
    }
    if ((akid = AUTHORITY_KEYID_new()) == NULL)
        goto done;
    akid->keyid = os;
    os = NULL;
    e = make_ext(nid, 0, akid);
done:
    AUTHORITY_KEYID_free(akid);
    ASN1_OCTET_STRING_free(os);
    return e;
}

static int
add_ext(X509 *x, X509_EXTENSION *e)
{
    if (e == NULL || !X509_add_ext(x, e, -1))
        return pki_ossl_err(RC_TLS, "cannot add a certificate extension");
    return 0;
}

/* add_ext_owned: add_ext, then frees e. */
static int
add_ext_owned(X509 *x, X509_EXTENSION *e)
{
    int rc = add_ext(x, e);

    X509_EXTENSION_free(e);
    return rc;
}

static int
set_validity(X509 *x, time_t nb, time_t na)
{
    if (ASN1_TIME_set(X509_getm_notBefore(x), nb) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x), na) == NULL)
        return pki_ossl_err(RC_TLS, "cannot set the validity");
    return 0;
}

static int
sign(X509 *x, const struct pki_key *key)
{
    if (X509_sign(x, key->pkey, pki_md_for(key)) <= 0)
        return pki_ossl_err(RC_TLS, "signing failed");
    return 0;
}

int
pki_check_text(const char *what, const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > max)
        return errmsg_set(RC_INVAL, "%s must be 1..%zu bytes", what, max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return errmsg_set(RC_INVAL, "%s contains a control character",
                              what);
    return 0;
}

int
pki_check_ttl(int64_t ttl)
{
    if (ttl < 1 || ttl > PKI_TTL_MAX)
        return errmsg_set(RC_INVAL, "TTL of %lld s is outside 1..%lld",
                          (long long)ttl, (long long)PKI_TTL_MAX);
    return 0;
}

/* ---- self-signed root ------------------------------------------------------
 */

int
pki_ca_self_signed(struct pki_cert **out, const struct pki_key *key,
                   const char *cn, const char *org, int64_t ttl, time_t now)
{
    static const int ku_bits[] = {5, 6}; /* keyCertSign, cRLSign */
    X509 *x = NULL;
    X509_NAME *name;
    unsigned char kid[20];
    int rc;

    *out = NULL;
    if ((rc = pki_check_text("CA common name", cn, PKI_CN_MAX)) != 0 ||
        (org &&
         (rc = pki_check_text("CA organization", org, PKI_CN_MAX)) != 0) ||
        (rc = pki_check_ttl(ttl)) != 0)
        return rc;
    if ((x = X509_new()) == NULL) {
        rc = pki_ossl_err(RC_NOMEM, "cannot allocate a certificate");
        goto done;
    }
    name = X509_get_subject_name(x);
    if (!X509_set_version(x, X509_VERSION_3) ||
        (org &&
         !X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
                                     (const unsigned char *)org, -1, -1, 0)) ||
        !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                    (const unsigned char *)cn, -1, -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, key->pkey)) {
        rc = pki_ossl_err(RC_TLS, "cannot build the CA certificate");
        goto done;
    }
    if ((rc = set_serial(x)) != 0 ||
        (rc = set_validity(x, now - PKI_CLOCK_SKEW, now + ttl)) != 0 ||
        (rc = key_id(kid, x)) != 0 ||
        (rc = add_ext_owned(x, ext_basic_constraints(1))) != 0 ||
        (rc = add_ext_owned(x, ext_key_usage(ku_bits, 2))) != 0 ||
        (rc = add_ext_owned(x, ext_key_id(NID_subject_key_identifier, kid))) !=
            0 ||
        (rc = add_ext_owned(
             x, ext_key_id(NID_authority_key_identifier, kid))) != 0 ||
        (rc = sign(x, key)) != 0)
        goto done;
    rc = pki_cert_wrap(out, x);
    x = NULL;
done:
    X509_free(x);
    return rc;
}

/* ---- the CA */

void
pki_ca_free(struct pki_ca *ca)
{
    if (ca == NULL)
        return;
    for (int i = 0; i < ca->npool; i++)
        EVP_PKEY_CTX_free(ca->pool[i]);
    pthread_mutex_destroy(&ca->lock);
    EVP_MD_free(ca->sha1);
    EVP_MD_free(ca->md);
    mem_free(ca->exts);
    mem_free(ca->issuer);
    pki_bundle_free(ca->out);
    pki_bundle_free(ca->roots);
    pki_key_free(ca->key);
    pki_cert_free(ca->cert);
    mem_free(ca);
}

/* Proves that key is the private half of the cert: a test signature made
 * with the key verifies with the cert's public key (EVP_PKEY_eq alone would
 * accept a key file whose private part was corrupted). */
static int
prove_key(const struct pki_cert *cert, const struct pki_key *key)
{
    static const unsigned char msg[] = "mizzen ca key check";
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *ctx = NULL;
    X509 *x = pki_cert_x509(cert);
    EVP_PKEY *pub = x ? X509_get0_pubkey(x) : NULL;
    int ok;

    if (pub == NULL || !pki_cert_key_matches(cert, key))
        return errmsg_set(RC_INVAL,
                          "the CA key does not match the CA certificate");
    ok = (ctx = EVP_MD_CTX_new()) != NULL &&
         EVP_DigestSignInit(ctx, NULL, pki_md_for(key), NULL, key->pkey) == 1 &&
         EVP_DigestSign(ctx, sig, &siglen, msg, sizeof(msg)) == 1 &&
         EVP_MD_CTX_reset(ctx) == 1 &&
         EVP_DigestVerifyInit(ctx, NULL, pki_md_for(key), NULL, pub) == 1 &&
         EVP_DigestVerify(ctx, sig, siglen, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    if (!ok)
        return errmsg_set(RC_INVAL, "the CA key does not sign for the CA "
                                    "certificate (corrupted key?)");
    return 0;
}

/* The CA's key identifier for AKI: its SKI, or one computed from its key
 * when the cert has none. */
static int
ca_key_id(unsigned char out[20], X509 *x)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);

    ERR_clear_error();
    if (ski != NULL && ASN1_STRING_length(ski) == 20) {
        memcpy(out, ASN1_STRING_get0_data(ski), 20);
        return 0;
    }
    return key_id(out, x);
}

/* DER of the extensions every leaf of this CA carries. */
static int
leaf_exts(struct pki_ca *ca, X509 *x)
{
    static const int ku_bits[] = {0, 2}; /* digitalSignature, keyEnciph. */
    X509_EXTENSION *e[4] = {NULL};
    unsigned char kid[20], *w;
    int n[4], rc = 0;
    size_t total = 0;

    if ((rc = ca_key_id(kid, x)) != 0)
        return rc;
    e[0] = ext_basic_constraints(0);
    e[1] = ext_key_usage(ku_bits, 2);
    e[2] = ext_eku();
    e[3] = ext_key_id(NID_authority_key_identifier, kid);
    for (int i = 0; i < 4 && rc == 0; i++) {
        if (e[i] == NULL || (n[i] = i2d_X509_EXTENSION(e[i], NULL)) <= 0)
            rc = pki_ossl_err(RC_TLS, "cannot build the leaf extensions");
        else
            total += (size_t)n[i];
    }
    if (rc == 0 && (ca->exts = mem_alloc(total)) == NULL)
        rc = errmsg_set(RC_NOMEM, "out of memory");
    for (int i = 0, w_ok = 1; i < 4 && rc == 0 && w_ok; i++) {
        w = ca->exts + ca->exts_len;
        w_ok = i2d_X509_EXTENSION(e[i], &w) == n[i];
        ca->exts_len += (size_t)n[i];
        if (!w_ok)
            rc = pki_ossl_err(RC_TLS, "cannot encode the leaf extensions");
    }
    for (int i = 0; i < 4; i++)
        X509_EXTENSION_free(e[i]);
    return rc;
}

/* Everything pki_issue takes from the CA, prepared once: the issuer Name
 * DER, the constant extensions, the signature algorithm and digests. */
static int
leaf_pieces(struct pki_ca *ca)
{
    static const unsigned char ecdsa256[] = {
        0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
    static const unsigned char ecdsa384[] = {
        0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
    static const unsigned char rsa256[] = {
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
        0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00}; /* sha256WithRSA */
    X509 *x = pki_cert_x509(ca->cert);
    unsigned char *w;
    int n, rc;

    if (x == NULL)
        return errmsg_set(RC_NOMEM, "cannot parse the CA certificate");
    n = i2d_X509_NAME(X509_get_subject_name(x), NULL);
    if (n <= 0 || (ca->issuer = mem_alloc((size_t)n)) == NULL)
        return pki_ossl_err(RC_NOMEM, "cannot copy the CA name");
    w = ca->issuer;
    if (i2d_X509_NAME(X509_get_subject_name(x), &w) != n)
        return pki_ossl_err(RC_TLS, "cannot copy the CA name");
    ca->issuer_len = (size_t)n;
    if ((rc = leaf_exts(ca, x)) != 0)
        return rc;
    ca->rsa = EVP_PKEY_get_base_id(ca->key->pkey) == EVP_PKEY_RSA;
    if (ca->rsa) {
        ca->sigalg = rsa256;
        ca->sigalg_len = sizeof(rsa256);
    } else if (ca->key->type == PKI_EC_P384) {
        ca->sigalg = ecdsa384;
        ca->sigalg_len = sizeof(ecdsa384);
    } else {
        ca->sigalg = ecdsa256;
        ca->sigalg_len = sizeof(ecdsa256);
    }
    ca->md = EVP_MD_fetch(
        NULL, ca->key->type == PKI_EC_P384 ? "SHA384" : "SHA256", NULL);
    ca->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    if (ca->md == NULL || ca->sha1 == NULL)
        return pki_ossl_err(RC_TLS, "cannot fetch digests");
    return 0;
}

int
pki_ca_new(struct pki_ca **out, const struct pki_cert *cert,
           const struct pki_key *key, const struct pki_bundle *chain,
           const struct pki_bundle *roots, time_t now)
{
    struct pki_ca *ca = NULL;
    struct pki_bundle *path = NULL;
    struct pki_key *kcopy = NULL;
    int rc, reason;

    *out = NULL;
    if ((rc = prove_key(cert, key)) != 0)
        return rc;
    if (!pki_cert_is_ca(cert))
        return errmsg_set(RC_INVAL, "the CA certificate is not a CA "
                                    "(basicConstraints CA:TRUE missing)");
    if (!(X509_get_key_usage(pki_cert_x509(cert)) & KU_KEY_CERT_SIGN))
        return errmsg_set(RC_INVAL, "the CA certificate's keyUsage lacks "
                                    "keyCertSign");
    if ((ca = mem_calloc(1, sizeof(*ca))) == NULL ||
        (kcopy = mem_calloc(1, sizeof(*kcopy))) == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory");
        goto done;
    }
    pthread_mutex_init(&ca->lock, NULL);
    *kcopy = *key;
    kcopy->spki = mem_alloc(key->spki_len);
    if (kcopy->spki == NULL || !EVP_PKEY_up_ref(kcopy->pkey)) {
        mem_free(kcopy->spki);
        mem_free(kcopy);
        kcopy = NULL;
        rc = errmsg_set(RC_NOMEM, "cannot reference the CA key");
        goto done;
    }
    memcpy(kcopy->spki, key->spki, key->spki_len);
    ca->key = kcopy;
    kcopy = NULL;
    if ((rc = pki_cert_dup(&ca->cert, cert)) != 0 ||
        (rc = pki_bundle_new(&ca->roots)) != 0 ||
        (rc = pki_bundle_new(&ca->out)) != 0 ||
        (rc = pki_bundle_new(&path)) != 0 ||
        (rc = pki_bundle_add(path, cert)) != 0)
        goto done;
    if (pki_bundle_count(roots) == 0) {
        if (!pki_cert_is_self_signed(cert)) {
            rc = errmsg_set(RC_INVAL, "the CA certificate is not self-signed "
                                      "and no root certificate was given");
            goto done;
        }
        rc = pki_bundle_add(ca->roots, cert);
    } else {
        for (size_t i = 0; rc == 0 && i < roots->n; i++)
            rc = pki_bundle_add(ca->roots, roots->v[i]);
    }
    if (rc != 0)
        goto done;
    for (size_t i = 0; i < pki_bundle_count(chain); i++)
        if ((rc = pki_bundle_add(path, chain->v[i])) != 0)
            goto done;
    if ((rc = pki_verify_bundle(path, ca->roots, now, &reason)) != 0) {
        errmsg_prefix(rc, "the CA certificate does not verify against the "
                          "root certificate(s)");
        goto done;
    }
    ca->intermediate = 1;
    for (size_t i = 0; i < ca->roots->n; i++)
        if (pki_cert_equal(ca->roots->v[i], cert))
            ca->intermediate = 0;
    if (ca->intermediate) {
        for (size_t i = 0; i < path->n; i++)
            if (!pki_cert_is_self_signed(path->v[i]) &&
                (rc = pki_bundle_add_unique(ca->out, path->v[i])) != 0)
                goto done;
    }
    if ((rc = leaf_pieces(ca)) != 0)
        goto done;
    *out = ca;
    ca = NULL;
done:
    pki_bundle_free(path);
    pki_ca_free(ca);
    return rc;
}

static int
load_part(const char *name, int (*fn)(void *, const char *, size_t), void *out,
          const char *pem, size_t len)
{
    int rc = fn(out, pem, len);

    if (rc != 0)
        errmsg_prefix(rc, "%s", name);
    return rc;
}

static int
dec_cert(void *out, const char *p, size_t n)
{
    return pki_cert_decode(out, p, n);
}

static int
dec_key(void *out, const char *p, size_t n)
{
    return pki_key_decode(out, p, n);
}

static int
dec_bundle(void *out, const char *p, size_t n)
{
    return pki_bundle_decode(out, p, n);
}

static int
all_blank(const char *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return 0;
    return 1;
}

int
pki_ca_load(struct pki_ca **out, const struct pki_ca_pem *in, time_t now)
{
    struct pki_cert *cert = NULL;
    struct pki_key *key = NULL;
    struct pki_bundle *roots = NULL, *chain = NULL;
    int rc;

    *out = NULL;
    if ((rc = load_part("ca-cert.pem", dec_cert, &cert, in->ca_cert,
                        in->ca_cert_len)) != 0 ||
        (rc = load_part("ca-key.pem", dec_key, &key, in->ca_key,
                        in->ca_key_len)) != 0)
        goto done;
    if (!all_blank(in->root_cert, in->root_cert_len) &&
        (rc = load_part("root-cert.pem", dec_bundle, &roots, in->root_cert,
                        in->root_cert_len)) != 0)
        goto done;
    if (!all_blank(in->cert_chain, in->cert_chain_len) &&
        (rc = load_part("cert-chain.pem", dec_bundle, &chain, in->cert_chain,
                        in->cert_chain_len)) != 0)
        goto done;
    rc = pki_ca_new(out, cert, key, chain, roots, now);
done:
    pki_bundle_free(chain);
    pki_bundle_free(roots);
    pki_key_free(key);
    pki_cert_free(cert);
    return rc;
}

const struct pki_cert *
pki_ca_cert_get(const struct pki_ca *ca)
{
    return ca->cert;
}

const struct pki_key *
pki_ca_key_get(const struct pki_ca *ca)
{
    return ca->key;
}

const struct pki_bundle *
pki_ca_roots_get(const struct pki_ca *ca)
{
    return ca->roots;
}

int
pki_ca_is_intermediate(const struct pki_ca *ca)
{
    return ca->intermediate;
}

/* ---- verification */

const char *
pki_verify_reason_str(int reason)
{
    static const char *const names[] = {"ok",
                                        "malformed",
                                        "expired",
                                        "not yet valid",
                                        "unknown issuer",
                                        "bad signature",
                                        "invalid CA",
                                        "other"};

    if (reason < 0 || reason > PKI_VERIFY_OTHER)
        return "other";
    return names[reason];
}

static int
map_error(int err)
{
    switch (err) {
    case X509_V_OK:
        return PKI_VERIFY_OK;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return PKI_VERIFY_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return PKI_VERIFY_NOT_YET_VALID;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
        return PKI_VERIFY_UNKNOWN_ISSUER;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
        return PKI_VERIFY_BAD_SIGNATURE;
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
        return PKI_VERIFY_INVALID_CA;
    default:
        return PKI_VERIFY_OTHER;
    }
}

int
pki_verify_bundle(const struct pki_bundle *chain,
                  const struct pki_bundle *roots, time_t now, int *reason)
{
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) *untrusted = NULL;
    int rc = 0, r = PKI_VERIFY_OTHER, err, depth;

    if (pki_bundle_count(chain) == 0 || pki_bundle_count(roots) == 0) {
        r = PKI_VERIFY_MALFORMED;
        rc = errmsg_set(RC_INVAL, "verify: empty chain or trust bundle");
        goto done;
    }
    if ((store = X509_STORE_new()) == NULL ||
        (untrusted = sk_X509_new_null()) == NULL ||
        (ctx = X509_STORE_CTX_new()) == NULL) {
        rc = pki_ossl_err(RC_NOMEM, "verify: out of memory");
        goto done;
    }
    for (size_t i = 0; i < chain->n; i++) {
        if (pki_cert_x509(chain->v[i]) == NULL) {
            rc = errmsg_set(RC_NOMEM, "verify: cannot parse a certificate");
            goto done;
        }
    }
    for (size_t i = 0; i < roots->n; i++) {
        X509 *x = pki_cert_x509(roots->v[i]);
        if (x == NULL || !X509_STORE_add_cert(store, x)) {
            rc = pki_ossl_err(RC_TLS, "verify: cannot add a root");
            goto done;
        }
    }
    for (size_t i = 1; i < chain->n; i++) {
        if (!sk_X509_push(untrusted, pki_cert_x509(chain->v[i]))) {
            rc = pki_ossl_err(RC_NOMEM, "verify: out of memory");
            goto done;
        }
    }
    if (!X509_STORE_CTX_init(ctx, store, pki_cert_x509(chain->v[0]),
                             untrusted)) {
        rc = pki_ossl_err(RC_TLS, "verify: cannot set up");
        goto done;
    }
    X509_STORE_CTX_set_time(ctx, 0, now);
    if (X509_verify_cert(ctx) == 1) {
        r = PKI_VERIFY_OK;
        goto done;
    }
    err = X509_STORE_CTX_get_error(ctx);
    depth = X509_STORE_CTX_get_error_depth(ctx);
    r = map_error(err);
    if (r == PKI_VERIFY_OK)
        r = PKI_VERIFY_OTHER;
    ERR_clear_error();
    rc = errmsg_set(RC_TLS, "verify: %s: %s (depth %d)",
                    pki_verify_reason_str(r),
                    X509_verify_cert_error_string(err), depth);
done:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted); /* the certs belong to the bundle */
    X509_STORE_free(store);
    if (reason != NULL)
        *reason = r;
    return rc;
}

int
pki_verify(const char *chain_pem, size_t chain_len, const char *roots_pem,
           size_t roots_len, time_t now, int *reason)
{
    struct pki_bundle *chain = NULL, *roots = NULL;
    int rc;

    if ((rc = pki_bundle_decode(&chain, chain_pem, chain_len)) != 0) {
        errmsg_prefix(rc, "chain");
        goto malformed;
    }
    if ((rc = pki_bundle_decode(&roots, roots_pem, roots_len)) != 0) {
        errmsg_prefix(rc, "roots");
        goto malformed;
    }
    rc = pki_verify_bundle(chain, roots, now, reason);
    goto done;
malformed:
    if (reason != NULL)
        *reason = PKI_VERIFY_MALFORMED;
done:
    pki_bundle_free(roots);
    pki_bundle_free(chain);
    return rc;
}
