/* pkikey.c: private keys: generation (EC contexts pooled), decoding of
 * PKCS#8 / SEC1 / PKCS#1 PEM, PKCS#8 encoding (EC by hand), the cached
 * SubjectPublicKeyInfo (see pki.h, pkipriv.h).
 *
 * Invariant: a struct pki_key holds a key of a supported type (EC P-256 or
 * P-384, RSA 2048..8192) and its SPKI DER. No message ever contains key
 * material; buffers that held it are wiped before they are freed. */
#include "lib/pkipriv.h"

#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <string.h>
#include <strings.h>

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
der_to_key(const struct pki_pem_block *b)
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
    struct pki_pem_reader r;
    struct pki_pem_block b = {0};
    EVP_PKEY *pkey = NULL;
    int rc, got;

    *out = NULL;
    if ((rc = pki_pem_reader_init(&r, pem, len)) != 0)
        return rc;
    while ((got = pki_pem_next(&r, &b)) == 1) {
        if (strcmp(b.label, "EC PARAMETERS") == 0 && pkey == NULL) {
            pki_pem_block_release(&b);
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
        pki_pem_block_release(&b);
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
    pki_pem_block_release(&b);
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
            rc = pki_pem_write(&b, "PRIVATE KEY", ecder, n);
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
    rc = pki_pem_write(&b, "PRIVATE KEY", der, n);
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
