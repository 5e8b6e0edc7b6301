/* test_pki.c: keys (pkikey.c), the strict PEM reader/writer (pkipem.c),
 * certificates and bundles (pki.c) of lib/pki. Keys in other encodings are made
 * with OpenSSL here, so that our decoder meets what users' tools write. */
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"
#include "tests/unit/harness.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <time.h>

#define NOW ((time_t)1790000000) /* 2026-09-21 */

/* Writes a key with OpenSSL into a string (mem_alloc'd): PKCS#8 unless
 * traditional; encrypted with a password if enc. */
static char *
ossl_key_pem(EVP_PKEY *pk, int traditional, int enc)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const EVP_CIPHER *c = enc ? EVP_aes_128_cbc() : NULL;
    char *data, *out;
    long n;
    int ok;

    if (traditional)
        ok = PEM_write_bio_PrivateKey_traditional(
            bio, pk, c, enc ? (unsigned char *)"pw" : NULL, enc ? 2 : 0, NULL,
            NULL);
    else if (enc)
        ok = PEM_write_bio_PKCS8PrivateKey(bio, pk, c, "pw", 2, NULL, NULL);
    else
        ok = PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(bio, &data);
    out = ok ? mem_strndup(data, (size_t)n) : NULL;
    BIO_free(bio);
    return out;
}

static char *
ossl_gen_pem(const char *alg, const char *param, size_t bits, int trad)
{
    EVP_PKEY *pk = param ? EVP_PKEY_Q_keygen(NULL, NULL, alg, param)
                         : EVP_PKEY_Q_keygen(NULL, NULL, alg, bits);
    char *s = pk ? ossl_key_pem(pk, trad, 0) : NULL;

    EVP_PKEY_free(pk);
    return s;
}

struct fx {
    struct pki_key *cakey, *leafkey;
    struct pki_cert *root, *leaf;
    struct pki_ca *ca;
    char *root_pem, *leaf_pem, *key_pem;
};

static int
fx_init(struct fx *f)
{
    static const char *const uris[] = {"spiffe://cluster.local/ns/ns1/sa/sa1"};
    static const char *const dns[] = {"svc.ns1.svc", "svc.ns1"};
    struct pki_issue_req req = {.uris = uris,
                                .n_uris = 1,
                                .dns = dns,
                                .n_dns = 2,
                                .ttl = PKI_DEFAULT_WORKLOAD_TTL};

    memset(f, 0, sizeof(*f));
    if (pki_key_generate(&f->cakey, PKI_EC_P256) ||
        pki_key_generate(&f->leafkey, PKI_EC_P256) ||
        pki_ca_self_signed(&f->root, f->cakey, "Test Root", "Test Org",
                           PKI_DEFAULT_ROOT_TTL, NOW) ||
        pki_ca_new(&f->ca, f->root, f->cakey, NULL, NULL, NOW))
        return -1;
    req.key = f->leafkey;
    if (pki_issue(&f->leaf, &req, f->ca, NOW) ||
        pki_cert_encode(&f->root_pem, NULL, f->root) ||
        pki_cert_encode(&f->leaf_pem, NULL, f->leaf) ||
        pki_key_encode(&f->key_pem, NULL, f->leafkey))
        return -1;
    return 0;
}

static void
fx_cleanup(struct fx *f)
{
    mem_free(f->root_pem);
    mem_free(f->leaf_pem);
    pki_secret_free(f->key_pem, f->key_pem ? strlen(f->key_pem) : 0);
    pki_ca_free(f->ca);
    pki_cert_free(f->leaf);
    pki_cert_free(f->root);
    pki_key_free(f->leafkey);
    pki_key_free(f->cakey);
}

static int
key_dec(struct pki_key **k, const char *pem)
{
    return pki_key_decode(k, pem, strlen(pem));
}

static int
bundle_dec(struct pki_bundle **b, const char *pem)
{
    return pki_bundle_decode(b, pem, strlen(pem));
}

/* ---- keys --------------------------------------------------------------- */

TEST(pki_key_generate_encode_decode_round_trip)
{
    static const int types[] = {PKI_EC_P256, PKI_EC_P384, PKI_RSA_2048};

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct pki_key *k = NULL, *k2 = NULL;
        char *pem = NULL, *pem2 = NULL;
        size_t len = 0, len2 = 0;
        REQUIRE(pki_key_generate(&k, types[i]) == 0);
        CHECK_INT(pki_key_type_get(k), types[i]);
        REQUIRE(pki_key_encode(&pem, &len, k) == 0);
        CHECK_INT(len, strlen(pem));
        CHECK(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
        CHECK_CONTAINS(pem, "-----END PRIVATE KEY-----\n");
        REQUIRE(pki_key_decode(&k2, pem, len) == 0);
        CHECK_INT(pki_key_type_get(k2), types[i]);
        REQUIRE(pki_key_encode(&pem2, &len2, k2) == 0);
        CHECK_STR(pem2, pem); /* same key, same PKCS#8 */
        pki_secret_free(pem, len);
        pki_secret_free(pem2, len2);
        pki_key_free(k);
        pki_key_free(k2);
    }
}

TEST(pki_key_encode_matches_openssl_pkcs8)
{
    /* our hand-written EC PKCS#8 must be what OpenSSL writes itself */
    static const char *const curves[] = {"P-256", "P-384"};

    for (int i = 0; i < 2; i++) {
        EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
        char *theirs = ossl_key_pem(pk, 0, 0), *ours = NULL;
        struct pki_key *k = NULL;
        REQUIRE(theirs != NULL);
        REQUIRE(key_dec(&k, theirs) == 0);
        REQUIRE(pki_key_encode(&ours, NULL, k) == 0);
        CHECK_STR(ours, theirs);
        pki_secret_free(ours, strlen(ours));
        mem_free(theirs);
        pki_key_free(k);
        EVP_PKEY_free(pk);
    }
}

TEST(pki_key_generate_after_global_cleanup)
{
    struct pki_key *a = NULL, *b = NULL;

    REQUIRE(pki_key_generate(&a, PKI_EC_P256) == 0);
    pki_global_cleanup();
    pki_global_cleanup(); /* idempotent */
    REQUIRE(pki_key_generate(&b, PKI_EC_P256) == 0);
    CHECK_INT(pki_key_type_get(b), PKI_EC_P256);
    pki_key_free(a);
    pki_key_free(b);
}

TEST(pki_key_generate_unknown_type)
{
    struct pki_key *k = (struct pki_key *)1;

    CHECK_INT(pki_key_generate(&k, 99), RC_INVAL);
    CHECK(k == NULL);
    CHECK_INT(pki_key_generate(&k, PKI_KEY_NONE), RC_INVAL);
}

TEST(pki_key_decode_traditional_forms)
{
    char *sec1 = ossl_gen_pem("EC", "P-256", 0, 1);
    char *pkcs1 = ossl_gen_pem("RSA", NULL, 2048, 1);
    char *withparams = NULL;
    struct pki_key *k = NULL;

    REQUIRE(sec1 != NULL && pkcs1 != NULL);
    CHECK_CONTAINS(sec1, "BEGIN EC PRIVATE KEY");
    CHECK_CONTAINS(pkcs1, "BEGIN RSA PRIVATE KEY");
    CHECK_INT(key_dec(&k, sec1), 0);
    CHECK_INT(pki_key_type_get(k), PKI_EC_P256);
    pki_key_free(k);
    k = NULL;
    CHECK_INT(key_dec(&k, pkcs1), 0);
    CHECK_INT(pki_key_type_get(k), PKI_RSA_2048);
    pki_key_free(k);
    k = NULL;
    /* `openssl ecparam -genkey` puts an EC PARAMETERS block first */
    withparams = mem_alloc(strlen(sec1) + 100);
    snprintf(withparams, strlen(sec1) + 100,
             "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
             "-----END EC PARAMETERS-----\n%s",
             sec1);
    CHECK_INT(key_dec(&k, withparams), 0);
    pki_key_free(k);
    mem_free(withparams);
    mem_free(sec1);
    mem_free(pkcs1);
}

TEST(pki_key_decode_unsupported)
{
    char *k1 = ossl_gen_pem("EC", "secp256k1", 0, 0);
    char *rsa1k = ossl_gen_pem("RSA", NULL, 1024, 0);
    char *ed = ossl_gen_pem("ED25519", NULL, 0, 0);
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char *enc8 = ossl_key_pem(pk, 0, 1), *enctrad = ossl_key_pem(pk, 1, 1);
    struct pki_key *k = NULL;

    REQUIRE(k1 && rsa1k && enc8 && enctrad);
    CHECK_INT(key_dec(&k, k1), RC_UNSUPPORTED);
    CHECK_CONTAINS(errmsg_get(), "secp256k1");
    CHECK_INT(key_dec(&k, rsa1k), RC_UNSUPPORTED);
    CHECK_CONTAINS(errmsg_get(), "1024 bits");
    if (ed != NULL) {
        CHECK_INT(key_dec(&k, ed), RC_UNSUPPORTED);
        CHECK_CONTAINS(errmsg_get(), "not supported");
    }
    CHECK_CONTAINS(enc8, "ENCRYPTED PRIVATE KEY");
    CHECK_INT(key_dec(&k, enc8), RC_UNSUPPORTED);
    CHECK_CONTAINS(errmsg_get(), "encrypted");
    CHECK_CONTAINS(enctrad, "Proc-Type");
    CHECK_INT(key_dec(&k, enctrad), RC_UNSUPPORTED);
    CHECK_CONTAINS(errmsg_get(), "headers");
    CHECK(k == NULL);
    mem_free(k1);
    mem_free(rsa1k);
    mem_free(ed);
    mem_free(enc8);
    mem_free(enctrad);
    EVP_PKEY_free(pk);
}

TEST(pki_key_decode_errors_name_the_problem)
{
    struct fx f;
    struct pki_key *k = NULL;
    char buf[4096];

    REQUIRE(fx_init(&f) == 0);
    CHECK_INT(key_dec(&k, ""), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "no private key");
    CHECK_INT(key_dec(&k, "hello\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "text before the first PEM block");
    CHECK_INT(key_dec(&k, f.root_pem), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "block 1 (CERTIFICATE): not a private key");
    snprintf(buf, sizeof(buf), "%s%s", f.key_pem, f.key_pem);
    CHECK_INT(key_dec(&k, buf), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "block 2");
    CHECK_CONTAINS(errmsg_get(), "more than one private key");
    CHECK_INT(key_dec(&k, "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                          "-----END PRIVATE KEY-----\n"),
              RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "invalid key encoding");
    CHECK_INT(key_dec(&k, "-----BEGIN PRIVATE KEY-----\nAA$A\n"
                          "-----END PRIVATE KEY-----\n"),
              RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "bad base64 at line 2");
    snprintf(buf, sizeof(buf), "%sjunk\n", f.key_pem);
    CHECK_INT(key_dec(&k, buf), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "junk after PEM block 1");
    CHECK(k == NULL);
    fx_cleanup(&f);
}

/* A corrupted key must not show up in the message: change one base64
 * character in the middle of the body and look for any 12-character piece
 * of the body in the error. */
TEST(pki_key_errors_never_quote_key_material)
{
    struct fx f;
    struct pki_key *k = NULL;
    char *pem;
    size_t n;
    int failures = 0;

    REQUIRE(fx_init(&f) == 0);
    n = strlen(f.key_pem);
    pem = mem_strdup(f.key_pem);
    for (size_t pos = 30; pos < n - 30; pos += 7) {
        const char *msg;
        char saved = pem[pos];
        if (pem[pos] == '\n' || pem[pos] == '=')
            continue;
        pem[pos] = pem[pos] == '!' ? 'A' : '!';
        if (key_dec(&k, pem) == 0) {
            pki_key_free(k);
            k = NULL;
        } else {
            failures++;
            msg = errmsg_get();
            for (size_t j = 28; j + 12 < n - 26; j++) {
                char piece[13];
                memcpy(piece, f.key_pem + j, 12);
                piece[12] = '\0';
                if (strchr(piece, '\n') == NULL && strstr(msg, piece))
                    harness_fail(__FILE__, __LINE__, "message quotes key: %s",
                                 msg);
            }
        }
        pem[pos] = saved;
    }
    CHECK(failures > 5);
    mem_free(pem);
    fx_cleanup(&f);
}

TEST(pki_key_type_names)
{
    int t = 0;

    CHECK_INT(pki_key_type_parse(&t, "ec-p256"), 0);
    CHECK_INT(t, PKI_EC_P256);
    CHECK_INT(pki_key_type_parse(&t, "ECDSA"), 0);
    CHECK_INT(t, PKI_EC_P256);
    CHECK_INT(pki_key_type_parse(&t, "RSA"), 0);
    CHECK_INT(t, PKI_RSA_2048);
    CHECK_INT(pki_key_type_parse(&t, "rsa-4096"), 0);
    CHECK_INT(t, PKI_RSA_4096);
    CHECK_INT(pki_key_type_parse(&t, "p384"), 0);
    CHECK_INT(t, PKI_EC_P384);
    CHECK_INT(pki_key_type_parse(&t, "dsa"), RC_INVAL);
    CHECK_INT(pki_key_type_parse(&t, NULL), RC_INVAL);
    CHECK_STR(pki_key_type_name(PKI_EC_P256), "ec-p256");
    CHECK_STR(pki_key_type_name(PKI_RSA_3072), "rsa-3072");
    CHECK_STR(pki_key_type_name(77), "none");
}

/* ---- PEM ----------------------------------------------------------------- */

TEST(pki_pem_writer_shape_and_round_trip)
{
    struct fx f;
    struct pki_cert *c = NULL;
    char *again = NULL;
    const char *p;

    REQUIRE(fx_init(&f) == 0);
    CHECK(strncmp(f.root_pem, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
    for (p = f.root_pem; *p;) {
        const char *nl = strchr(p, '\n');
        REQUIRE(nl != NULL); /* every line ends with \n */
        CHECK(nl - p <= 64 || strncmp(p, "-----", 5) == 0);
        p = nl + 1;
    }
    REQUIRE(pki_cert_decode(&c, f.root_pem, strlen(f.root_pem)) == 0);
    REQUIRE(pki_cert_encode(&again, NULL, c) == 0);
    CHECK_STR(again, f.root_pem);
    CHECK(pki_cert_equal(c, f.root));
    CHECK(!pki_cert_equal(c, f.leaf));
    mem_free(again);
    pki_cert_free(c);
    fx_cleanup(&f);
}

TEST(pki_pem_tolerates_crlf_blank_lines_and_indent)
{
    struct fx f;
    struct pki_bundle *b = NULL;
    char *buf;
    size_t o = 0, n;

    REQUIRE(fx_init(&f) == 0);
    n = strlen(f.root_pem) * 3 + 64;
    buf = mem_alloc(n);
    buf[o++] = '\n';
    for (const char *p = f.root_pem; *p; p++) {
        if (*p == '\n') {
            buf[o++] = '\r';
            buf[o++] = '\n';
            buf[o++] = ' '; /* indentation, as in YAML block scalars */
        } else {
            buf[o++] = *p;
        }
    }
    o += (size_t)snprintf(buf + o, n - o, "\r\n\t\n%s\n\n", f.leaf_pem);
    CHECK_INT(pki_bundle_decode(&b, buf, o), 0);
    CHECK_INT(pki_bundle_count(b), 2);
    if (pki_bundle_count(b) == 2) {
        CHECK(pki_cert_equal(pki_bundle_get(b, 0), f.root));
        CHECK(pki_cert_equal(pki_bundle_get(b, 1), f.leaf));
    }
    pki_bundle_free(b);
    mem_free(buf);
    fx_cleanup(&f);
}

struct bad_case {
    const char *text;
    int rc;
    const char *msg;
};

TEST(pki_pem_rejects_garbage_clearly)
{
    struct fx f;
    struct pki_bundle *b = NULL;
    char buf[8192], body[4096];
    const char *s, *e;

    REQUIRE(fx_init(&f) == 0);
    /* the body of the root PEM without armor */
    s = strchr(f.root_pem, '\n') + 1;
    e = strstr(f.root_pem, "-----END");
    snprintf(body, sizeof(body), "%.*s", (int)(e - s), s);

    const struct bad_case cases[] = {
        {"", RC_PARSE, "no PEM certificate block"},
        {"  \n\n", RC_PARSE, "no PEM certificate block"},
        {"garbage", RC_PARSE, "line 1: text before the first PEM block"},
        {"-----BEGIN CERTIFICATE-----\nAAAA\n", RC_PARSE, "no END line"},
        {"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", RC_PARSE,
         "empty"},
        {"-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n",
         RC_PARSE, "multiple of 4"},
        {"-----BEGIN CERTIFICATE-----\nAA==AA==\n-----END CERTIFICATE-----\n",
         RC_PARSE, "bad base64"},
        {"-----BEGIN CERTIFICATE-----\nA===\n-----END CERTIFICATE-----\n",
         RC_PARSE, "bad base64"},
        {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n",
         RC_PARSE, "expected \"-----END CERTIFICATE-----\""},
        {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
         RC_PARSE, "block 1: invalid certificate DER"},
        {"-----BEGIN certificate-----\nAAAA\n-----END certificate-----\n",
         RC_PARSE, "text before the first PEM block"},
        {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
         RC_PARSE, "block 1: PRIVATE KEY where a CERTIFICATE was expected"},
        {"-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\nAAAA\n"
         "-----END CERTIFICATE-----\n",
         RC_UNSUPPORTED, "PEM headers"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = bundle_dec(&b, cases[i].text);
        if (rc != cases[i].rc || !strstr(errmsg_get(), cases[i].msg))
            harness_fail(__FILE__, __LINE__, "case %zu: rc %d msg '%s'", i, rc,
                         errmsg_get());
        CHECK(b == NULL);
    }
    /* junk after a good block, and a bad second block, are named */
    snprintf(buf, sizeof(buf), "%s# comment\n", f.root_pem);
    CHECK_INT(bundle_dec(&b, buf), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "junk after PEM block 1");
    snprintf(buf, sizeof(buf),
             "%s-----BEGIN CERTIFICATE-----\nAAAA\n"
             "-----END CERTIFICATE-----\n",
             f.root_pem);
    CHECK_INT(bundle_dec(&b, buf), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "block 2: invalid certificate DER");
    snprintf(buf, sizeof(buf), "%s%s-----END CERTIFICATE-----\n", f.root_pem,
             body);
    CHECK_INT(bundle_dec(&b, buf), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "junk after PEM block 1");
    /* a NUL byte anywhere */
    snprintf(buf, sizeof(buf), "%s", f.root_pem);
    buf[40] = '\0';
    CHECK_INT(pki_bundle_decode(&b, buf, strlen(f.root_pem)), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "NUL byte");
    CHECK(b == NULL);
    fx_cleanup(&f);
}

/* A certificate with bytes after its DER inside one PEM block. */
TEST(pki_pem_rejects_trailing_der_bytes)
{
    struct fx f;
    struct pki_cert *c = NULL;
    unsigned char der[4096], *w = der;
    char b64[6000], pem[6200];
    BIO *bio;
    X509 *x;
    int n;

    REQUIRE(fx_init(&f) == 0);
    bio = BIO_new_mem_buf(f.root_pem, -1);
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    REQUIRE(x != NULL);
    n = i2d_X509(x, &w);
    REQUIRE(n > 0 && n < 4000);
    der[n++] = 0x05; /* an ASN.1 NULL after the certificate */
    der[n++] = 0x00;
    EVP_EncodeBlock((unsigned char *)b64, der, n);
    snprintf(pem, sizeof(pem),
             "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n",
             b64);
    CHECK_INT(pki_cert_decode(&c, pem, strlen(pem)), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "2 trailing bytes after the certificate");
    X509_free(x);
    BIO_free(bio);
    fx_cleanup(&f);
}

TEST(pki_bundle_limits)
{
    struct fx f;
    struct pki_bundle *b = NULL;
    struct pki_cert *c = NULL;
    size_t one = 0, n;
    char *big;

    REQUIRE(fx_init(&f) == 0);
    one = strlen(f.root_pem);
    big = mem_alloc(PKI_PEM_MAX + 2);
    /* 64 certificates: fine; 65: RC_LIMIT naming block 65 */
    n = 0;
    for (int i = 0; i < PKI_BUNDLE_MAX; i++, n += one)
        memcpy(big + n, f.root_pem, one);
    CHECK_INT(pki_bundle_decode(&b, big, n), 0);
    CHECK_INT(pki_bundle_count(b), PKI_BUNDLE_MAX);
    CHECK_INT(pki_bundle_add(b, f.leaf), RC_LIMIT);
    CHECK_INT(pki_bundle_count(b), PKI_BUNDLE_MAX);
    pki_bundle_free(b);
    b = NULL;
    memcpy(big + n, f.root_pem, one);
    CHECK_INT(pki_bundle_decode(&b, big, n + one), RC_LIMIT);
    CHECK_CONTAINS(errmsg_get(), "block 65");
    /* more than PKI_PEM_MAX bytes, even if blank */
    memset(big, '\n', PKI_PEM_MAX + 1);
    CHECK_INT(pki_bundle_decode(&b, big, PKI_PEM_MAX + 1), RC_LIMIT);
    CHECK_INT(pki_cert_decode(&c, big, PKI_PEM_MAX + 1), RC_LIMIT);
    CHECK_INT(pki_bundle_decode(&b, big, PKI_PEM_MAX), RC_PARSE);
    CHECK(b == NULL && c == NULL);
    mem_free(big);
    fx_cleanup(&f);
}

TEST(pki_cert_decode_wants_exactly_one)
{
    struct fx f;
    struct pki_cert *c = NULL;
    char buf[8192];

    REQUIRE(fx_init(&f) == 0);
    snprintf(buf, sizeof(buf), "%s%s", f.leaf_pem, f.root_pem);
    CHECK_INT(pki_cert_decode(&c, buf, strlen(buf)), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "expected one certificate, found 2");
    CHECK(c == NULL);
    fx_cleanup(&f);
}

/* ---- certificate getters --------------------------------------------------
 */

TEST(pki_cert_getters_root)
{
    struct fx f;
    char *s = NULL, **v = NULL;
    char fp[65];
    size_t n = 9;

    REQUIRE(fx_init(&f) == 0);
    CHECK_INT(pki_cert_not_before(f.root), NOW - PKI_CLOCK_SKEW);
    CHECK_INT(pki_cert_not_after(f.root), NOW + PKI_DEFAULT_ROOT_TTL);
    CHECK_INT(pki_cert_is_ca(f.root), 1);
    CHECK_INT(pki_cert_is_self_signed(f.root), 1);
    CHECK_INT(pki_cert_key_matches(f.root, f.cakey), 1);
    CHECK_INT(pki_cert_key_matches(f.root, f.leafkey), 0);
    REQUIRE(pki_cert_subject_cn(&s, f.root) == 0);
    CHECK_STR(s, "Test Root");
    mem_free(s);
    REQUIRE(pki_cert_issuer_cn(&s, f.root) == 0);
    CHECK_STR(s, "Test Root");
    mem_free(s);
    REQUIRE(pki_cert_serial(&s, f.root) == 0);
    CHECK_INT(strlen(s), 32);
    CHECK(strspn(s, "0123456789ABCDEF") == 32);
    CHECK(s[0] >= '0' && s[0] <= '7'); /* positive: top bit clear */
    mem_free(s);
    REQUIRE(pki_cert_uri_sans(&v, &n, f.root) == 0);
    CHECK_INT(n, 0);
    CHECK(v != NULL && v[0] == NULL);
    pki_strv_free(v);
    pki_cert_fingerprint(fp, f.root);
    CHECK_INT(strlen(fp), 64);
    CHECK(strspn(fp, "0123456789abcdef") == 64);
    fx_cleanup(&f);
}

TEST(pki_cert_getters_leaf)
{
    struct fx f;
    struct pki_cert *parsed = NULL;
    char *s = (char *)1, **v = NULL;
    size_t n = 0;

    REQUIRE(fx_init(&f) == 0);
    /* the issued object and the same cert read back from PEM agree */
    REQUIRE(pki_cert_decode(&parsed, f.leaf_pem, strlen(f.leaf_pem)) == 0);
    const struct pki_cert *both[] = {f.leaf, parsed};
    for (int i = 0; i < 2; i++) {
        const struct pki_cert *c = both[i];
        CHECK_INT(pki_cert_is_ca(c), 0);
        CHECK_INT(pki_cert_is_self_signed(c), 0);
        CHECK_INT(pki_cert_key_matches(c, f.leafkey), 1);
        CHECK_INT(pki_cert_key_matches(c, f.cakey), 0);
        CHECK_INT(pki_cert_subject_cn(&s, c), RC_NOTFOUND);
        CHECK(s == NULL);
        REQUIRE(pki_cert_issuer_cn(&s, c) == 0);
        CHECK_STR(s, "Test Root");
        mem_free(s);
        REQUIRE(pki_cert_uri_sans(&v, &n, c) == 0);
        CHECK_INT(n, 1);
        CHECK_STR(v[0], "spiffe://cluster.local/ns/ns1/sa/sa1");
        CHECK(v[1] == NULL);
        pki_strv_free(v);
        REQUIRE(pki_cert_dns_sans(&v, NULL, c) == 0);
        CHECK_STR(v[0], "svc.ns1.svc");
        CHECK_STR(v[1], "svc.ns1");
        CHECK(v[2] == NULL);
        pki_strv_free(v);
        CHECK_INT(pki_cert_not_before(c), NOW - PKI_CLOCK_SKEW);
        CHECK_INT(pki_cert_not_after(c), NOW + PKI_DEFAULT_WORKLOAD_TTL);
    }
    CHECK(pki_cert_equal(parsed, f.leaf));
    pki_cert_free(parsed);
    fx_cleanup(&f);
}

TEST(pki_bundle_build_encode_unique)
{
    struct fx f;
    struct pki_bundle *b = NULL, *b2 = NULL;
    char *pem = NULL;
    size_t len = 0;

    REQUIRE(fx_init(&f) == 0);
    REQUIRE(pki_bundle_new(&b) == 0);
    CHECK_INT(pki_bundle_count(b), 0);
    CHECK_INT(pki_bundle_encode(&pem, &len, b), 0);
    CHECK_STR(pem, "");
    mem_free(pem);
    CHECK_INT(pki_bundle_add(b, f.leaf), 0);
    CHECK_INT(pki_bundle_add_unique(b, f.root), 0);
    CHECK_INT(pki_bundle_add_unique(b, f.root), 0);
    CHECK_INT(pki_bundle_count(b), 2);
    REQUIRE(pki_bundle_encode(&pem, &len, b) == 0);
    CHECK_INT(len, strlen(f.leaf_pem) + strlen(f.root_pem));
    CHECK(strncmp(pem, f.leaf_pem, strlen(f.leaf_pem)) == 0);
    REQUIRE(pki_bundle_decode(&b2, pem, len) == 0);
    CHECK(pki_cert_equal(pki_bundle_get(b2, 1), f.root));
    mem_free(pem);
    pki_bundle_free(b2);
    pki_bundle_free(b); /* the fixture's certs survive: reference counts */
    CHECK_INT(pki_cert_is_ca(f.root), 1);
    fx_cleanup(&f);
}

/* Every allocation of ours failing in turn: each call fails cleanly with
 * RC_NOMEM (ASan/LSan check that nothing leaks), then succeeds. */
TEST(pki_allocation_failures)
{
    struct fx f;
    char chain[8192];
    int rounds = 0;

    REQUIRE(fx_init(&f) == 0);
    snprintf(chain, sizeof(chain), "%s%s", f.leaf_pem, f.root_pem);
    for (long nth = 1; nth < 400; nth++) {
        struct pki_bundle *b = NULL;
        struct pki_key *k = NULL;
        char *s = NULL, **v = NULL;
        int rc1, rc2, rc3, rc4, rc5;
        mem_fail_set(nth);
        rc1 = bundle_dec(&b, chain);
        rc2 = key_dec(&k, f.key_pem);
        rc3 = pki_cert_encode(&s, NULL, f.leaf);
        mem_free(s);
        s = NULL;
        rc4 = pki_cert_uri_sans(&v, NULL, f.leaf);
        pki_strv_free(v);
        rc5 = k ? pki_key_encode(&s, NULL, k) : RC_NOMEM;
        mem_fail_set(0);
        pki_secret_free(s, s ? strlen(s) : 0);
        pki_key_free(k);
        pki_bundle_free(b);
        CHECK(rc1 == 0 || rc1 == RC_NOMEM);
        CHECK(rc2 == 0 || rc2 == RC_NOMEM);
        CHECK(rc3 == 0 || rc3 == RC_NOMEM);
        CHECK(rc4 == 0 || rc4 == RC_NOMEM);
        CHECK(rc5 == 0 || rc5 == RC_NOMEM);
        rounds++;
        if (rc1 == 0 && rc2 == 0 && rc3 == 0 && rc4 == 0 && rc5 == 0)
            break;
    }
    CHECK(rounds > 3);
    fx_cleanup(&f);
}
