/* test_pkica.c: the CA (self-signed roots, the `cacerts` intermediate
 * case), issuing (pkiissue.c) and verification of lib/pki. What we issue is
 * read back with OpenSSL's own parser here; intermediates and odd CAs are
 * made with OpenSSL, as a user's tools would. */
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"
#include "tests/unit/harness.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>

#define NOW ((time_t)1790000000) /* 2026-09-21 */
#define DAY ((int64_t)86400)

static const char *const spiffe1[] = {"spiffe://cluster.local/ns/ns1/sa/sa1"};

struct root {
    struct pki_key *key;
    struct pki_cert *cert;
    struct pki_ca *ca;
    char *cert_pem, *key_pem;
};

static int
root_make(struct root *r, int type, const char *cn, int64_t ttl, time_t now)
{
    memset(r, 0, sizeof(*r));
    if (pki_key_generate(&r->key, type) ||
        pki_ca_self_signed(&r->cert, r->key, cn, "Org", ttl, now) ||
        pki_ca_new(&r->ca, r->cert, r->key, NULL, NULL, now) ||
        pki_cert_encode(&r->cert_pem, NULL, r->cert) ||
        pki_key_encode(&r->key_pem, NULL, r->key))
        return -1;
    return 0;
}

static void
root_free(struct root *r)
{
    mem_free(r->cert_pem);
    pki_secret_free(r->key_pem, r->key_pem ? strlen(r->key_pem) : 0);
    pki_ca_free(r->ca);
    pki_cert_free(r->cert);
    pki_key_free(r->key);
}

static int
issue(struct pki_cert **out, const struct pki_ca *ca, const char *cn,
      int64_t ttl, time_t now)
{
    struct pki_key *k = NULL;
    struct pki_issue_req req = {
        .cn = cn, .uris = spiffe1, .n_uris = 1, .ttl = ttl};
    int rc = pki_key_generate(&k, PKI_EC_P256);

    req.key = k;
    if (rc == 0)
        rc = pki_issue(out, &req, ca, now);
    pki_key_free(k);
    return rc;
}

static char *
pem_of(const struct pki_cert *c)
{
    char *s = NULL;

    pki_cert_encode(&s, NULL, c);
    return s;
}

static X509 *
ossl_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

    BIO_free(b);
    return x;
}

static EVP_PKEY *
ossl_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);

    BIO_free(b);
    return k;
}

static char *
ossl_pem(X509 *x, EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    if (x)
        PEM_write_bio_X509(b, x);
    else
        PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &data);
    out = mem_strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* A CA certificate made with OpenSSL, signed by issuer (PEM cert + key), or
 * self-signed when issuer_pem is NULL. *key_pem gets its new key. */
static char *
ossl_ca(const char *issuer_pem, const char *issuer_key_pem, const char *cn,
        const char *ku, time_t nb, time_t na, char **key_pem)
{
    X509 *x = X509_new(), *iss = issuer_pem ? ossl_cert(issuer_pem) : NULL;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *ik = issuer_key_pem ? ossl_key(issuer_key_pem) : k;
    X509_NAME *name = X509_NAME_new();
    char *pem;

    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, iss ? X509_get_subject_name(iss) : name);
    ASN1_TIME_set(X509_getm_notBefore(x), nb);
    ASN1_TIME_set(X509_getm_notAfter(x), na);
    X509_set_pubkey(x, k);
    add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, iss, NID_key_usage, ku);
    add_ext(x, iss, NID_subject_key_identifier, "hash");
    add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
    X509_sign(x, ik, EVP_sha256());
    pem = ossl_pem(x, NULL);
    *key_pem = ossl_pem(NULL, k);
    if (ik != k)
        EVP_PKEY_free(ik);
    EVP_PKEY_free(k);
    X509_NAME_free(name);
    X509_free(iss);
    X509_free(x);
    return pem;
}

static int
verify_pem(const char *chain, const char *roots, time_t now, int *reason)
{
    return pki_verify(chain, strlen(chain), roots, strlen(roots), now, reason);
}

/* ---- roots -----------------------------------------------------------------
 */

TEST(pki_self_signed_validation)
{
    struct pki_key *k = NULL;
    struct pki_cert *c = NULL;
    char longcn[80];

    REQUIRE(pki_key_generate(&k, PKI_EC_P256) == 0);
    memset(longcn, 'a', sizeof(longcn) - 1);
    longcn[sizeof(longcn) - 1] = '\0';
    CHECK_INT(pki_ca_self_signed(&c, k, "", NULL, DAY, NOW), RC_INVAL);
    CHECK_INT(pki_ca_self_signed(&c, k, NULL, NULL, DAY, NOW), RC_INVAL);
    CHECK_INT(pki_ca_self_signed(&c, k, longcn, NULL, DAY, NOW), RC_INVAL);
    CHECK_INT(pki_ca_self_signed(&c, k, "x\ny", NULL, DAY, NOW), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "control character");
    CHECK_INT(pki_ca_self_signed(&c, k, "ok", "", DAY, NOW), RC_INVAL);
    CHECK_INT(pki_ca_self_signed(&c, k, "ok", NULL, 0, NOW), RC_INVAL);
    CHECK_INT(pki_ca_self_signed(&c, k, "ok", NULL, PKI_TTL_MAX + 1, NOW),
              RC_INVAL);
    CHECK(c == NULL);
    /* no organization: subject is CN only */
    CHECK_INT(pki_ca_self_signed(&c, k, "ok", NULL, DAY, NOW), 0);
    CHECK_INT(pki_cert_is_ca(c), 1);
    pki_cert_free(c);
    pki_key_free(k);
}

TEST(pki_root_extensions_read_by_openssl)
{
    struct root r;
    X509 *x;
    char *s;

    REQUIRE(root_make(&r, PKI_EC_P256, "Root A", PKI_DEFAULT_ROOT_TTL, NOW) ==
            0);
    x = ossl_cert(r.cert_pem);
    REQUIRE(x != NULL);
    CHECK_INT(X509_get_version(x), X509_VERSION_3);
    CHECK(X509_get_extension_flags(x) & EXFLAG_CA);
    CHECK_INT(X509_get_ext_by_critical(x, 1, -1) >= 0, 1);
    CHECK_INT(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    CHECK(X509_get0_subject_key_id(x) != NULL);
    CHECK_INT(ASN1_STRING_cmp(X509_get0_subject_key_id(x),
                              X509_get0_authority_key_id(x)),
              0);
    CHECK_INT(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    CHECK_INT(X509_verify(x, X509_get0_pubkey(x)), 1);
    /* each basicConstraints and keyUsage is critical */
    CHECK_INT(X509_EXTENSION_get_critical(
                  X509_get_ext(x, X509_get_ext_by_NID(x, NID_key_usage, -1))),
              1);
    CHECK_INT(X509_EXTENSION_get_critical(X509_get_ext(
                  x, X509_get_ext_by_NID(x, NID_basic_constraints, -1))),
              1);
    s = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
    CHECK_STR(s, "/O=Org/CN=Root A");
    OPENSSL_free(s);
    CHECK_INT(pki_ca_is_intermediate(r.ca), 0);
    CHECK_INT(pki_bundle_count(pki_ca_roots_get(r.ca)), 1);
    CHECK(pki_ca_cert_get(r.ca) != NULL &&
          pki_cert_equal(pki_ca_cert_get(r.ca), r.cert));
    CHECK(pki_cert_key_matches(r.cert, pki_ca_key_get(r.ca)));
    X509_free(x);
    root_free(&r);
}

/* ---- pki_ca_new / pki_ca_load checks
 * ------------------------------------------- */

TEST(pki_ca_new_refuses_bad_cas)
{
    struct root a, b;
    struct pki_cert *leaf = NULL, *exp = NULL;
    struct pki_key *lk = NULL;
    struct pki_ca *ca = NULL;
    struct pki_bundle *roots = NULL;
    struct pki_issue_req req = {.uris = spiffe1, .n_uris = 1, .ttl = DAY};

    REQUIRE(root_make(&a, PKI_EC_P256, "A", 10 * DAY, NOW) == 0);
    REQUIRE(root_make(&b, PKI_EC_P256, "B", 10 * DAY, NOW) == 0);
    /* the key of another CA */
    CHECK_INT(pki_ca_new(&ca, a.cert, b.key, NULL, NULL, NOW), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "does not match");
    /* a leaf (CA:FALSE) with its own key */
    REQUIRE(pki_key_generate(&lk, PKI_EC_P256) == 0);
    req.key = lk;
    REQUIRE(pki_issue(&leaf, &req, a.ca, NOW) == 0);
    CHECK_INT(pki_ca_new(&ca, leaf, lk, NULL, NULL, NOW), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "not a CA");
    /* expired / not yet valid at `now` */
    CHECK_INT(pki_ca_new(&ca, a.cert, a.key, NULL, NULL, NOW + 11 * DAY),
              RC_TLS);
    CHECK_CONTAINS(errmsg_get(), "expired");
    CHECK_INT(pki_ca_new(&ca, a.cert, a.key, NULL, NULL, NOW - DAY), RC_TLS);
    CHECK_CONTAINS(errmsg_get(), "not yet valid");
    /* trust anchors that are not its root */
    REQUIRE(pki_bundle_new(&roots) == 0);
    REQUIRE(pki_bundle_add(roots, b.cert) == 0);
    CHECK_INT(pki_ca_new(&ca, a.cert, a.key, NULL, roots, NOW), RC_TLS);
    CHECK_CONTAINS(errmsg_get(), "does not verify against the root");
    /* an expired self-signed root made long ago */
    REQUIRE(pki_ca_self_signed(&exp, a.key, "old", NULL, DAY, NOW - 5 * DAY) ==
            0);
    CHECK_INT(pki_ca_new(&ca, exp, a.key, NULL, NULL, NOW), RC_TLS);
    CHECK(ca == NULL);
    pki_cert_free(exp);
    pki_bundle_free(roots);
    pki_cert_free(leaf);
    pki_key_free(lk);
    root_free(&a);
    root_free(&b);
}

TEST(pki_ca_new_refuses_ca_without_keycertsign)
{
    struct root r;
    struct pki_ca *ca = NULL;
    char *key_pem = NULL, *cert_pem;
    struct pki_ca_pem in = {0};

    REQUIRE(root_make(&r, PKI_EC_P256, "R", 10 * DAY, NOW) == 0);
    cert_pem = ossl_ca(r.cert_pem, r.key_pem, "no-sign", "digitalSignature",
                       NOW - DAY, NOW + DAY, &key_pem);
    in.ca_cert = cert_pem;
    in.ca_cert_len = strlen(cert_pem);
    in.ca_key = key_pem;
    in.ca_key_len = strlen(key_pem);
    in.root_cert = r.cert_pem;
    in.root_cert_len = strlen(r.cert_pem);
    CHECK_INT(pki_ca_load(&ca, &in, NOW), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "keyCertSign");
    mem_free(cert_pem);
    mem_free(key_pem);
    root_free(&r);
}

TEST(pki_ca_load_istio_ca_secret)
{
    struct root r;
    struct pki_ca *ca = NULL;
    struct pki_cert *leaf = NULL;
    struct pki_bundle *b = NULL;
    char *chain = NULL;
    size_t len = 0;
    struct pki_ca_pem in = {0};

    REQUIRE(root_make(&r, PKI_EC_P256, "R", 10 * DAY, NOW) == 0);
    in.ca_cert = r.cert_pem;
    in.ca_cert_len = strlen(r.cert_pem);
    in.ca_key = r.key_pem;
    in.ca_key_len = strlen(r.key_pem);
    in.root_cert = "\n";
    in.root_cert_len = 1; /* blank counts as absent */
    REQUIRE(pki_ca_load(&ca, &in, NOW) == 0);
    CHECK_INT(pki_ca_is_intermediate(ca), 0);
    REQUIRE(issue(&leaf, ca, NULL, DAY, NOW) == 0);
    REQUIRE(pki_ca_chain_encode(&chain, &len, leaf, ca) == 0);
    REQUIRE(pki_bundle_decode(&b, chain, len) == 0);
    CHECK_INT(pki_bundle_count(b), 1); /* leaf only: the root is the anchor */
    CHECK_INT(verify_pem(chain, r.cert_pem, NOW, NULL), 0);
    pki_bundle_free(b);
    mem_free(chain);
    pki_cert_free(leaf);
    pki_ca_free(ca);
    root_free(&r);
}

TEST(pki_ca_load_errors_name_the_file)
{
    struct root r;
    struct pki_ca *ca = NULL;
    struct pki_ca_pem in = {0};

    REQUIRE(root_make(&r, PKI_EC_P256, "R", 10 * DAY, NOW) == 0);
    in.ca_cert = r.cert_pem;
    in.ca_cert_len = strlen(r.cert_pem);
    in.ca_key = "garbage";
    in.ca_key_len = 7;
    CHECK_INT(pki_ca_load(&ca, &in, NOW), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "ca-key.pem: line 1");
    in.ca_key = r.key_pem;
    in.ca_key_len = strlen(r.key_pem);
    in.ca_cert = r.key_pem;
    in.ca_cert_len = strlen(r.key_pem);
    CHECK_INT(pki_ca_load(&ca, &in, NOW), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "ca-cert.pem: block 1: PRIVATE KEY");
    in.ca_cert = r.cert_pem;
    in.ca_cert_len = strlen(r.cert_pem);
    in.cert_chain = "x";
    in.cert_chain_len = 1;
    CHECK_INT(pki_ca_load(&ca, &in, NOW), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "cert-chain.pem:");
    in.cert_chain = NULL;
    in.root_cert = "-----BEGIN CERTIFICATE-----\n";
    in.root_cert_len = strlen(in.root_cert);
    CHECK_INT(pki_ca_load(&ca, &in, NOW), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "root-cert.pem:");
    CHECK(ca == NULL);
    root_free(&r);
}

/* A key whose public half matches the certificate but whose private scalar
 * was corrupted (a bit flipped in the Secret) must be refused. */
TEST(pki_ca_load_refuses_corrupted_private_key)
{
    struct root r;
    struct pki_ca *ca = NULL;
    struct pki_ca_pem in = {0};
    unsigned char der[512];
    char b64[800], pem[1000];
    int n;
    EVP_PKEY *k;
    unsigned char *w = der;

    REQUIRE(root_make(&r, PKI_EC_P256, "R", 10 * DAY, NOW) == 0);
    k = ossl_key(r.key_pem);
    REQUIRE(k != NULL);
    {
        PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
        n = i2d_PKCS8_PRIV_KEY_INFO(p8, &w);
        PKCS8_PRIV_KEY_INFO_free(p8);
    }
    REQUIRE(n == 138);
    der[36 + 5] ^= 0x01; /* inside the 32-byte private scalar at 36 */
    EVP_EncodeBlock((unsigned char *)b64, der, n);
    snprintf(pem, sizeof(pem),
             "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n",
             b64);
    in.ca_cert = r.cert_pem;
    in.ca_cert_len = strlen(r.cert_pem);
    in.ca_key = pem;
    in.ca_key_len = strlen(pem);
    CHECK_INT(pki_ca_load(&ca, &in, NOW), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "does not sign for the CA certificate");
    CHECK(ca == NULL);
    OPENSSL_cleanse(der, sizeof(der));
    EVP_PKEY_free(k);
    root_free(&r);
}

/* The user's `cacerts`: an intermediate made by OpenSSL under our root. */
TEST(pki_ca_load_cacerts_intermediate)
{
    struct root r;
    struct pki_ca *ca = NULL;
    struct pki_cert *leaf = NULL;
    struct pki_bundle *b = NULL;
    char *ikey = NULL, *icert, *chainfile, *chain = NULL, *leafpem;
    struct pki_ca_pem in = {0};
    size_t len = 0, cl;
    int reason = -1;

    REQUIRE(root_make(&r, PKI_EC_P256, "Root", 3650 * DAY, NOW) == 0);
    icert = ossl_ca(r.cert_pem, r.key_pem, "Intermediate",
                    "critical,keyCertSign,cRLSign", NOW - DAY, NOW + 365 * DAY,
                    &ikey);
    cl = strlen(icert) + strlen(r.cert_pem) + 1;
    chainfile = mem_alloc(cl);
    snprintf(chainfile, cl, "%s%s", icert, r.cert_pem);
    in.ca_cert = icert;
    in.ca_cert_len = strlen(icert);
    in.ca_key = ikey;
    in.ca_key_len = strlen(ikey);
    in.root_cert = r.cert_pem;
    in.root_cert_len = strlen(r.cert_pem);
    in.cert_chain = chainfile;
    in.cert_chain_len = strlen(chainfile);
    REQUIRE(pki_ca_load(&ca, &in, NOW) == 0);
    CHECK_INT(pki_ca_is_intermediate(ca), 1);
    REQUIRE(issue(&leaf, ca, NULL, 90 * DAY, NOW) == 0);
    /* capped at the intermediate's notAfter? no: 90 days fit */
    CHECK_INT(pki_cert_not_after(leaf), NOW + 90 * DAY);
    REQUIRE(pki_ca_chain_encode(&chain, &len, leaf, ca) == 0);
    REQUIRE(pki_bundle_decode(&b, chain, len) == 0);
    CHECK_INT(pki_bundle_count(b), 2); /* leaf + intermediate, no root */
    leafpem = pem_of(leaf);
    CHECK(strncmp(chain, leafpem, strlen(leafpem)) == 0);
    CHECK_CONTAINS(chain, icert);
    CHECK_INT(verify_pem(chain, r.cert_pem, NOW, &reason), 0);
    CHECK_INT(reason, PKI_VERIFY_OK);
    /* without the intermediate the leaf does not reach the root */
    CHECK_INT(verify_pem(leafpem, r.cert_pem, NOW, &reason), RC_TLS);
    CHECK_INT(reason, PKI_VERIFY_UNKNOWN_ISSUER);
    /* the same without cert-chain.pem: a direct child of the root */
    pki_ca_free(ca);
    ca = NULL;
    in.cert_chain = NULL;
    in.cert_chain_len = 0;
    CHECK_INT(pki_ca_load(&ca, &in, NOW), 0);
    /* and with a root-cert.pem that is not its root */
    pki_ca_free(ca);
    ca = NULL;
    in.root_cert = icert;
    in.root_cert_len = strlen(icert);
    CHECK_INT(pki_ca_load(&ca, &in, NOW), RC_TLS);
    CHECK_CONTAINS(errmsg_get(), "unknown issuer");
    mem_free(leafpem);
    pki_bundle_free(b);
    mem_free(chain);
    pki_cert_free(leaf);
    pki_ca_free(ca);
    mem_free(chainfile);
    mem_free(icert);
    mem_free(ikey);
    root_free(&r);
}

/* ---- issuing
 * ------------------------------------------------------------------- */

static X509_EXTENSION *
ext_of(X509 *x, int nid)
{
    int i = X509_get_ext_by_NID(x, nid, -1);

    return i < 0 ? NULL : X509_get_ext(x, i);
}

TEST(pki_issue_leaf_read_by_openssl)
{
    static const char *const dns[] = {"mizzen-webhook.istio-system.svc",
                                      "mizzen-webhook.istio-system.svc."
                                      "cluster.local"};
    struct root r;
    struct pki_cert *leaf = NULL, *wh = NULL;
    struct pki_key *k = NULL;
    char *pem, *pem2;
    X509 *x, *x2, *rx;
    EXTENDED_KEY_USAGE *eku;
    struct pki_issue_req req = {.dns = dns, .n_dns = 2, .ttl = 30 * DAY};

    REQUIRE(root_make(&r, PKI_EC_P256, "Root", 3650 * DAY, NOW) == 0);
    REQUIRE(issue(&leaf, r.ca, NULL, 90 * DAY, NOW) == 0);
    pem = pem_of(leaf);
    x = ossl_cert(pem);
    rx = ossl_cert(r.cert_pem);
    REQUIRE(x != NULL && rx != NULL);
    CHECK_INT(X509_get_version(x), X509_VERSION_3);
    CHECK_INT(X509_verify(x, X509_get0_pubkey(rx)), 1);
    CHECK_INT(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    CHECK(!(X509_get_extension_flags(x) & EXFLAG_CA));
    CHECK(ext_of(x, NID_basic_constraints) &&
          X509_EXTENSION_get_critical(ext_of(x, NID_basic_constraints)));
    CHECK_INT(X509_get_key_usage(x),
              KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    CHECK(X509_EXTENSION_get_critical(ext_of(x, NID_key_usage)));
    CHECK_INT(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
    eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    CHECK_INT(sk_ASN1_OBJECT_num(eku), 2);
    EXTENDED_KEY_USAGE_free(eku);
    CHECK(X509_get0_subject_key_id(x) != NULL);
    CHECK_INT(ASN1_STRING_cmp(X509_get0_authority_key_id(x),
                              X509_get0_subject_key_id(rx)),
              0);
    CHECK_INT(X509_check_issued(rx, x), X509_V_OK);
    /* empty subject -> critical SAN */
    CHECK_INT(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
    CHECK(X509_EXTENSION_get_critical(ext_of(x, NID_subject_alt_name)));
    CHECK_INT(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
    CHECK_INT(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0), 1);
    /* the webhook's serving cert: CN and DNS SANs, SAN not critical */
    REQUIRE(pki_key_generate(&k, PKI_EC_P256) == 0);
    req.key = k;
    req.cn = dns[0];
    REQUIRE(pki_issue(&wh, &req, r.ca, NOW) == 0);
    pem2 = pem_of(wh);
    x2 = ossl_cert(pem2);
    REQUIRE(x2 != NULL);
    CHECK(!X509_EXTENSION_get_critical(ext_of(x2, NID_subject_alt_name)));
    CHECK_INT(X509_check_host(x2, dns[1], 0, 0, NULL), 1);
    CHECK_INT(X509_check_host(x2, "other.svc", 0, 0, NULL), 0);
    CHECK_INT(X509_verify(x2, X509_get0_pubkey(rx)), 1);
    X509_free(x2);
    mem_free(pem2);
    pki_cert_free(wh);
    pki_key_free(k);
    X509_free(rx);
    X509_free(x);
    mem_free(pem);
    pki_cert_free(leaf);
    root_free(&r);
}

TEST(pki_issue_validity_capped_by_ca)
{
    struct root r;
    struct pki_cert *leaf = NULL;

    REQUIRE(root_make(&r, PKI_EC_P256, "Short", 3600, NOW) == 0);
    REQUIRE(issue(&leaf, r.ca, NULL, 90 * DAY, NOW) == 0);
    CHECK_INT(pki_cert_not_after(leaf), NOW + 3600);
    CHECK_INT(pki_cert_not_before(leaf), NOW - PKI_CLOCK_SKEW);
    pki_cert_free(leaf);
    leaf = NULL;
    /* at the CA's first second, notBefore is not moved before the CA's */
    REQUIRE(issue(&leaf, r.ca, NULL, 60, NOW - PKI_CLOCK_SKEW) == 0);
    CHECK_INT(pki_cert_not_before(leaf), NOW - PKI_CLOCK_SKEW);
    CHECK_INT(pki_cert_not_after(leaf), NOW - PKI_CLOCK_SKEW + 60);
    pki_cert_free(leaf);
    leaf = NULL;
    CHECK_INT(issue(&leaf, r.ca, NULL, 60, NOW + 3600), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "expired");
    CHECK_INT(issue(&leaf, r.ca, NULL, 60, NOW - 3600), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "not yet valid");
    CHECK(leaf == NULL);
    root_free(&r);
}

TEST(pki_issue_far_future_uses_generalized_time)
{
    struct root r;
    struct pki_cert *leaf = NULL;
    time_t t2051 = (time_t)2556144000; /* 2051-01-01 */
    char *pem;
    X509 *x;

    REQUIRE(root_make(&r, PKI_EC_P256, "Long", 50 * 366 * DAY, NOW) == 0);
    REQUIRE(issue(&leaf, r.ca, NULL, 90 * DAY, t2051) == 0);
    pem = pem_of(leaf);
    x = ossl_cert(pem);
    REQUIRE(x != NULL);
    CHECK_INT(ASN1_STRING_type(X509_get0_notAfter(x)), V_ASN1_GENERALIZEDTIME);
    CHECK_INT(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), t2051 + 90 * DAY), 0);
    CHECK_INT(verify_pem(pem, r.cert_pem, t2051 + DAY, NULL), 0);
    X509_free(x);
    mem_free(pem);
    pki_cert_free(leaf);
    root_free(&r);
}

TEST(pki_issue_rejects_bad_requests)
{
    struct root r;
    struct pki_key *k = NULL;
    struct pki_cert *c = NULL;
    char longdns[300], longlabel[80];
    const char *many[PKI_SAN_MAX + 1];

    REQUIRE(root_make(&r, PKI_EC_P256, "R", 10 * DAY, NOW) == 0);
    REQUIRE(pki_key_generate(&k, PKI_EC_P256) == 0);
    memset(longdns, 'a', sizeof(longdns) - 1);
    longdns[sizeof(longdns) - 1] = '\0';
    memset(longlabel, 'b', sizeof(longlabel));
    snprintf(longlabel + 64, 16, ".example");
    for (int i = 0; i <= PKI_SAN_MAX; i++)
        many[i] = "a.example";
    struct {
        const char *uri, *dns, *cn;
        int64_t ttl;
        const char *msg;
    } bad[] = {
        {NULL, NULL, NULL, DAY, "at least one SAN"},
        {"spiffe", NULL, NULL, DAY, "lacks a scheme"},
        {"1x://a", NULL, NULL, DAY, "lacks a scheme"},
        {"spiffe:", NULL, NULL, DAY, "lacks a scheme"},
        {"spiffe://a b", NULL, NULL, DAY, "space"},
        {"spiffe://a\x01", NULL, NULL, DAY, "control"},
        {"spiffe://\xc3\xa9", NULL, NULL, DAY, "non-ASCII"},
        {"", NULL, NULL, DAY, "1..2048"},
        {NULL, "under_score.svc", NULL, DAY, "not a valid host name"},
        {NULL, "trailing.dot.", NULL, DAY, "not a valid host name"},
        {NULL, "-lead.svc", NULL, DAY, "not a valid host name"},
        {NULL, "trail-.svc", NULL, DAY, "not a valid host name"},
        {NULL, "a..b", NULL, DAY, "not a valid host name"},
        {NULL, "*", NULL, DAY, "not a valid host name"},
        {NULL, "a.*.b", NULL, DAY, "not a valid host name"},
        {NULL, longdns, NULL, DAY, "1..253"},
        {NULL, longlabel, NULL, DAY, "not a valid host name"},
        {NULL, "ok.svc", NULL, 0, "TTL"},
        {NULL, "ok.svc", NULL, -5, "TTL"},
        {NULL, "ok.svc", "", DAY, "subject CN"},
        {NULL, "ok.svc", longdns, DAY, "subject CN"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pki_issue_req req = {.key = k,
                                    .cn = bad[i].cn,
                                    .uris = &bad[i].uri,
                                    .n_uris = bad[i].uri ? 1 : 0,
                                    .dns = &bad[i].dns,
                                    .n_dns = bad[i].dns ? 1 : 0,
                                    .ttl = bad[i].ttl};
        int rc = pki_issue(&c, &req, r.ca, NOW);
        if (rc != RC_INVAL || !strstr(errmsg_get(), bad[i].msg))
            harness_fail(__FILE__, __LINE__, "case %zu: rc %d '%s'", i, rc,
                         errmsg_get());
    }
    {
        struct pki_issue_req req = {
            .key = k, .dns = many, .n_dns = PKI_SAN_MAX + 1, .ttl = DAY};
        CHECK_INT(pki_issue(&c, &req, r.ca, NOW), RC_INVAL);
        req.n_dns = PKI_SAN_MAX;
        CHECK_INT(pki_issue(&c, &req, r.ca, NOW), 0); /* the cap itself */
        pki_cert_free(c);
        c = NULL;
        req.key = NULL;
        CHECK_INT(pki_issue(&c, &req, r.ca, NOW), RC_INVAL);
        /* a wildcard is a valid DNS SAN */
        req.key = k;
        req.dns = (const char *const[]){"*.ns1.svc.cluster.local"};
        req.n_dns = 1;
        CHECK_INT(pki_issue(&c, &req, r.ca, NOW), 0);
    }
    pki_cert_free(c);
    pki_key_free(k);
    root_free(&r);
}

TEST(pki_issue_serials_are_unique)
{
    struct root r;
    char *serials[300];
    int dup = 0;

    REQUIRE(root_make(&r, PKI_EC_P256, "R", 10 * DAY, NOW) == 0);
    for (int i = 0; i < 300; i++) {
        struct pki_cert *c = NULL;
        serials[i] = NULL;
        REQUIRE(issue(&c, r.ca, NULL, DAY, NOW) == 0);
        REQUIRE(pki_cert_serial(&serials[i], c) == 0);
        CHECK_INT(strlen(serials[i]), 32);
        CHECK(serials[i][0] <= '7'); /* positive */
        for (int j = 0; j < i; j++)
            dup += strcmp(serials[i], serials[j]) == 0;
        pki_cert_free(c);
    }
    CHECK_INT(dup, 0);
    for (int i = 0; i < 300; i++)
        mem_free(serials[i]);
    root_free(&r);
}

TEST(pki_issue_rsa_and_p384_cas)
{
    static const struct {
        int type, sig;
    } cas[] = {{PKI_RSA_2048, NID_sha256WithRSAEncryption},
               {PKI_EC_P384, NID_ecdsa_with_SHA384}};

    for (int i = 0; i < 2; i++) {
        struct root r;
        struct pki_cert *leaf = NULL;
        struct pki_key *rk = NULL;
        struct pki_issue_req req = {.uris = spiffe1, .n_uris = 1, .ttl = DAY};
        char *pem;
        X509 *x;
        REQUIRE(root_make(&r, cas[i].type, "R", 10 * DAY, NOW) == 0);
        /* an RSA leaf key under each */
        REQUIRE(pki_key_generate(&rk, PKI_RSA_2048) == 0);
        req.key = rk;
        REQUIRE(pki_issue(&leaf, &req, r.ca, NOW) == 0);
        CHECK(pki_cert_key_matches(leaf, rk));
        pem = pem_of(leaf);
        x = ossl_cert(pem);
        REQUIRE(x != NULL);
        CHECK_INT(X509_get_signature_nid(x), cas[i].sig);
        CHECK_INT(verify_pem(pem, r.cert_pem, NOW, NULL), 0);
        X509_free(x);
        mem_free(pem);
        pki_cert_free(leaf);
        pki_key_free(rk);
        root_free(&r);
    }
}

/* ---- verification
 * ------------------------------------------------------------ */

/* Flips one byte of the DER inside a PEM certificate (offset from the end
 * when negative) and returns the new PEM. */
static char *
tamper(const char *pem, int offset)
{
    X509 *x = ossl_cert(pem);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    char *b64 = mem_alloc((size_t)n * 2 + 8), *out;
    size_t ol = (size_t)n * 2 + 80;

    der[offset < 0 ? n + offset : offset] ^= 0x5a;
    EVP_EncodeBlock((unsigned char *)b64, der, n);
    out = mem_alloc(ol);
    snprintf(out, ol,
             "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n",
             b64);
    mem_free(b64);
    OPENSSL_free(der);
    X509_free(x);
    return out;
}

/* The offset of needle in the DER of a PEM certificate, -1 if absent. */
static int
der_find(const char *pem, const char *needle)
{
    X509 *x = ossl_cert(pem);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der), at = -1;
    size_t k = strlen(needle);

    for (int i = 0; i + (int)k <= n && at < 0; i++)
        if (memcmp(der + i, needle, k) == 0)
            at = i;
    OPENSSL_free(der);
    X509_free(x);
    return at;
}

TEST(pki_verify_reasons)
{
    struct root a, b;
    struct pki_cert *leaf = NULL;
    char *pem, *bad;
    int reason = -1;

    REQUIRE(root_make(&a, PKI_EC_P256, "A", 3650 * DAY, NOW) == 0);
    REQUIRE(root_make(&b, PKI_EC_P256, "B", 3650 * DAY, NOW) == 0);
    REQUIRE(issue(&leaf, a.ca, NULL, 90 * DAY, NOW) == 0);
    pem = pem_of(leaf);
    CHECK_INT(verify_pem(pem, a.cert_pem, NOW, &reason), 0);
    CHECK_INT(reason, PKI_VERIFY_OK);
    CHECK_INT(verify_pem(pem, a.cert_pem, NOW + 91 * DAY, &reason), RC_TLS);
    CHECK_INT(reason, PKI_VERIFY_EXPIRED);
    CHECK_CONTAINS(errmsg_get(), "expired");
    CHECK_INT(verify_pem(pem, a.cert_pem, NOW - DAY, &reason), RC_TLS);
    CHECK_INT(reason, PKI_VERIFY_NOT_YET_VALID);
    CHECK_INT(verify_pem(pem, b.cert_pem, NOW, &reason), RC_TLS);
    CHECK_INT(reason, PKI_VERIFY_UNKNOWN_ISSUER);
    CHECK_CONTAINS(errmsg_get(), "unknown issuer");
    /* a changed signature byte */
    bad = tamper(pem, -3);
    CHECK_INT(verify_pem(bad, a.cert_pem, NOW, &reason), RC_TLS);
    CHECK_INT(reason, PKI_VERIFY_BAD_SIGNATURE);
    CHECK_CONTAINS(errmsg_get(), "bad signature");
    mem_free(bad);
    /* a changed identity: sa1 -> another name inside the signed part */
    bad = tamper(pem, der_find(pem, "sa/sa1") + 5);
    CHECK_INT(verify_pem(bad, a.cert_pem, NOW, &reason), RC_TLS);
    CHECK_INT(reason, PKI_VERIFY_BAD_SIGNATURE);
    mem_free(bad);
    /* unreadable input */
    CHECK_INT(verify_pem("nope", a.cert_pem, NOW, &reason), RC_PARSE);
    CHECK_INT(reason, PKI_VERIFY_MALFORMED);
    CHECK_CONTAINS(errmsg_get(), "chain: ");
    CHECK_INT(verify_pem(pem, "", NOW, &reason), RC_PARSE);
    CHECK_INT(reason, PKI_VERIFY_MALFORMED);
    CHECK_CONTAINS(errmsg_get(), "roots: ");
    CHECK_INT(verify_pem(pem, a.cert_pem, NOW, NULL), 0); /* reason NULL */
    CHECK_STR(pki_verify_reason_str(PKI_VERIFY_EXPIRED), "expired");
    CHECK_STR(pki_verify_reason_str(-4), "other");
    CHECK_STR(pki_verify_reason_str(PKI_VERIFY_OK), "ok");
    mem_free(pem);
    pki_cert_free(leaf);
    root_free(&a);
    root_free(&b);
}

/* Root rotation: a trust bundle with the old and the new root accepts
 * workload certificates of both while they are re-issued. */
TEST(pki_verify_root_rotation_bundle)
{
    struct root oldr, newr;
    struct pki_cert *l1 = NULL, *l2 = NULL;
    struct pki_bundle *trust = NULL, *chain = NULL;
    char *bundle = NULL, *p1, *p2;
    int reason;

    REQUIRE(root_make(&oldr, PKI_EC_P256, "Root 1", 365 * DAY, NOW) == 0);
    REQUIRE(root_make(&newr, PKI_EC_P256, "Root 2", 3650 * DAY,
                      NOW + 300 * DAY) == 0);
    REQUIRE(issue(&l1, oldr.ca, NULL, 90 * DAY, NOW + 290 * DAY) == 0);
    REQUIRE(issue(&l2, newr.ca, NULL, 90 * DAY, NOW + 300 * DAY) == 0);
    REQUIRE(pki_bundle_new(&trust) == 0);
    REQUIRE(pki_bundle_add_unique(trust, oldr.cert) == 0);
    REQUIRE(pki_bundle_add_unique(trust, newr.cert) == 0);
    REQUIRE(pki_bundle_encode(&bundle, NULL, trust) == 0);
    p1 = pem_of(l1);
    p2 = pem_of(l2);
    CHECK_INT(verify_pem(p1, bundle, NOW + 301 * DAY, &reason), 0);
    CHECK_INT(verify_pem(p2, bundle, NOW + 301 * DAY, &reason), 0);
    CHECK_INT(verify_pem(p1, newr.cert_pem, NOW + 301 * DAY, &reason), RC_TLS);
    CHECK_INT(reason, PKI_VERIFY_UNKNOWN_ISSUER);
    /* once the old root expired its leaf is refused, the new one lives */
    CHECK_INT(verify_pem(p1, bundle, NOW + 366 * DAY, &reason), RC_TLS);
    CHECK_INT(verify_pem(p2, bundle, NOW + 366 * DAY, &reason), 0);
    /* the decoded form */
    REQUIRE(pki_bundle_new(&chain) == 0);
    REQUIRE(pki_bundle_add(chain, l2) == 0);
    CHECK_INT(pki_verify_bundle(chain, trust, NOW + 301 * DAY, &reason), 0);
    CHECK_INT(pki_verify_bundle(trust, NULL, NOW, &reason), RC_INVAL);
    CHECK_INT(reason, PKI_VERIFY_MALFORMED);
    mem_free(p1);
    mem_free(p2);
    mem_free(bundle);
    pki_bundle_free(chain);
    pki_bundle_free(trust);
    pki_cert_free(l1);
    pki_cert_free(l2);
    root_free(&oldr);
    root_free(&newr);
}

TEST(pki_spiffe_id)
{
    char *s = NULL;

    CHECK_INT(pki_spiffe_id(&s, "cluster.local", "default", "bookinfo-rev"), 0);
    CHECK_STR(s, "spiffe://cluster.local/ns/default/sa/bookinfo-rev");
    mem_free(s);
    CHECK_INT(pki_spiffe_id(&s, "", "a", "b"), RC_INVAL);
    CHECK_INT(pki_spiffe_id(&s, "td", "a/b", "c"), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "namespace");
    CHECK_INT(pki_spiffe_id(&s, "td", "a", NULL), RC_INVAL);
    CHECK_INT(pki_spiffe_id(&s, "td", "a", "b c"), RC_INVAL);
    CHECK(s == NULL);
}

struct worker {
    const struct pki_ca *ca;
    const char *root_pem;
    int ok;
};

static void *
issue_many(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < 60; i++) {
        struct pki_cert *c = NULL;
        char *chain = NULL;
        if (issue(&c, w->ca, NULL, DAY, NOW) == 0 &&
            pki_ca_chain_encode(&chain, NULL, c, w->ca) == 0 &&
            verify_pem(chain, w->root_pem, NOW, NULL) == 0)
            w->ok++;
        mem_free(chain);
        pki_cert_free(c);
    }
    return NULL;
}

TEST(pki_issue_from_many_threads)
{
    struct root r;
    pthread_t t[4];
    struct worker w[4];

    REQUIRE(root_make(&r, PKI_EC_P256, "R", 10 * DAY, NOW) == 0);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.ca = r.ca, .root_pem = r.cert_pem};
        pthread_create(&t[i], NULL, issue_many, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(w[i].ok, 60);
    }
    root_free(&r);
}

TEST(pki_ca_allocation_failures)
{
    struct root r;
    struct pki_key *lk = NULL;
    struct pki_issue_req req = {.uris = spiffe1, .n_uris = 1, .ttl = DAY};
    struct pki_ca_pem in = {0};
    int rounds = 0;

    REQUIRE(root_make(&r, PKI_EC_P256, "R", 10 * DAY, NOW) == 0);
    REQUIRE(pki_key_generate(&lk, PKI_EC_P256) == 0);
    req.key = lk;
    in.ca_cert = r.cert_pem;
    in.ca_cert_len = strlen(r.cert_pem);
    in.ca_key = r.key_pem;
    in.ca_key_len = strlen(r.key_pem);
    in.root_cert = r.cert_pem;
    in.root_cert_len = strlen(r.cert_pem);
    for (long nth = 1; nth < 500; nth++) {
        struct pki_ca *ca = NULL;
        struct pki_cert *c = NULL;
        char *chain = NULL, *id = NULL;
        int rc1, rc2 = RC_NOMEM, rc3 = RC_NOMEM, rc4, rc5 = RC_NOMEM;
        mem_fail_set(nth);
        rc1 = pki_ca_load(&ca, &in, NOW);
        if (rc1 == 0)
            rc2 = pki_issue(&c, &req, ca, NOW);
        if (rc2 == 0)
            rc3 = pki_ca_chain_encode(&chain, NULL, c, ca);
        rc4 = pki_spiffe_id(&id, "td", "ns", "sa");
        if (rc3 == 0)
            rc5 = verify_pem(chain, r.cert_pem, NOW, NULL);
        mem_fail_set(0);
        CHECK(rc1 == 0 || rc1 == RC_NOMEM);
        CHECK(rc2 == 0 || rc2 == RC_NOMEM);
        CHECK(rc3 == 0 || rc3 == RC_NOMEM);
        CHECK(rc4 == 0 || rc4 == RC_NOMEM);
        CHECK(rc5 == 0 || rc5 == RC_NOMEM);
        mem_free(id);
        mem_free(chain);
        pki_cert_free(c);
        pki_ca_free(ca);
        rounds++;
        if (rc1 == 0 && rc2 == 0 && rc3 == 0 && rc4 == 0 && rc5 == 0)
            break;
    }
    CHECK(rounds > 5);
    pki_key_free(lk);
    root_free(&r);
}
