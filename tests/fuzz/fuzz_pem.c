/* fuzz_pem.c: bytes -> lib/pki's PEM reader and everything behind it never
 * crash or leak: the certificate bundle decode and every info getter of
 * each certificate, the private key decode (and a re-encode that must read
 * back to the same key), the key/cert match, and pki_verify with the input
 * as both chain and trust bundle. Failures must carry a documented code and
 * a message. The input is also split at its first form feed into two parts
 * (chain | roots) so that real chains and bundles combine. An input that
 * starts with 0x30 (a DER SEQUENCE) is also wrapped in base64 as a
 * CERTIFICATE and as a PRIVATE KEY block, so mutations reach the DER
 * parsers and getters directly instead of mostly breaking the base64. */
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_rc(int rc)
{
    if (rc != 0 && rc != RC_PARSE && rc != RC_LIMIT && rc != RC_UNSUPPORTED &&
        rc != RC_NOMEM && rc != RC_NOTFOUND && rc != RC_TLS && rc != RC_INVAL)
        abort();
    if (rc != 0 && errmsg_get()[0] == '\0')
        abort();
}

static void
getters(const struct pki_cert *c, const struct pki_key *k)
{
    char *s = NULL, **v = NULL;
    char fp[65];
    size_t n = 0;

    (void)pki_cert_not_before(c);
    (void)pki_cert_not_after(c);
    (void)pki_cert_is_ca(c);
    (void)pki_cert_is_self_signed(c);
    pki_cert_fingerprint(fp, c);
    check_rc(pki_cert_serial(&s, c));
    mem_free(s);
    s = NULL;
    check_rc(pki_cert_subject_cn(&s, c));
    mem_free(s);
    s = NULL;
    check_rc(pki_cert_issuer_cn(&s, c));
    mem_free(s);
    check_rc(pki_cert_uri_sans(&v, &n, c));
    for (size_t i = 0; v && i < n; i++)
        if (v[i] == NULL)
            abort();
    pki_strv_free(v);
    v = NULL;
    check_rc(pki_cert_dns_sans(&v, &n, c));
    pki_strv_free(v);
    if (k != NULL)
        (void)pki_cert_key_matches(c, k);
}

static void
key_round_trip(const struct pki_key *k)
{
    struct pki_key *k2 = NULL;
    char *pem = NULL, *pem2 = NULL;
    size_t len = 0, len2 = 0;

    if (pki_key_encode(&pem, &len, k) != 0)
        return;
    if (pki_key_decode(&k2, pem, len) != 0)
        abort(); /* what we write we must read */
    if (pki_key_type_get(k2) != pki_key_type_get(k) ||
        pki_key_encode(&pem2, &len2, k2) != 0 || len2 != len ||
        memcmp(pem, pem2, len) != 0)
        abort();
    pki_secret_free(pem, len);
    pki_secret_free(pem2, len2);
    pki_key_free(k2);
}

static void run(const uint8_t *data, size_t size);

/* Wraps der into one PEM block with the given label and runs it. */
static void
wrap_der(const uint8_t *der, size_t n, const char *label)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t cap = n / 3 * 4 + n / 48 + 128, o = 0;
    char *pem = malloc(cap);

    if (pem == NULL)
        return;
    o += (size_t)snprintf(pem, cap, "-----BEGIN %s-----\n", label);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)der[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)der[i + 1] << 8;
        if (i + 2 < n)
            v |= der[i + 2];
        pem[o++] = tab[v >> 18 & 63];
        pem[o++] = tab[v >> 12 & 63];
        pem[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        pem[o++] = i + 2 < n ? tab[v & 63] : '=';
        if (i % 48 == 45)
            pem[o++] = '\n';
    }
    o += (size_t)snprintf(pem + o, cap - o, "\n-----END %s-----\n", label);
    run((const uint8_t *)pem, o);
    free(pem);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size);
    if (size > 0 && size < 16384 && data[0] == 0x30) {
        wrap_der(data, size, "CERTIFICATE");
        wrap_der(data, size, "PRIVATE KEY");
    }
    return 0;
}

static void
run(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *ff = memchr(text, '\f', size);
    struct pki_bundle *b = NULL;
    struct pki_key *k = NULL;
    int rc, reason = -1;

    rc = pki_key_decode(&k, text, size);
    check_rc(rc);
    if ((rc == 0) != (k != NULL))
        abort();
    if (k != NULL)
        key_round_trip(k);
    rc = pki_bundle_decode(&b, text, size);
    check_rc(rc);
    if (rc == 0) {
        char *pem = NULL;
        size_t len = 0;
        struct pki_bundle *b2 = NULL;
        if (pki_bundle_count(b) < 1 || pki_bundle_count(b) > PKI_BUNDLE_MAX)
            abort();
        for (size_t i = 0; i < pki_bundle_count(b); i++)
            getters(pki_bundle_get(b, i), k);
        /* re-encoding reads back to equal certificates */
        if (pki_bundle_encode(&pem, &len, b) == 0) {
            if (pki_bundle_decode(&b2, pem, len) != 0 ||
                pki_bundle_count(b2) != pki_bundle_count(b))
                abort();
            for (size_t i = 0; i < pki_bundle_count(b); i++)
                if (!pki_cert_equal(pki_bundle_get(b, i),
                                    pki_bundle_get(b2, i)))
                    abort();
        }
        pki_bundle_free(b2);
        mem_free(pem);
        rc = pki_verify_bundle(b, b, 1790000000, &reason);
        check_rc(rc);
        if (reason < PKI_VERIFY_OK || reason > PKI_VERIFY_OTHER)
            abort();
    }
    if (ff != NULL) {
        size_t n1 = (size_t)(ff - text);
        rc = pki_verify(text, n1, ff + 1, size - n1 - 1, 1790000000, &reason);
        check_rc(rc);
    }
    pki_bundle_free(b);
    pki_key_free(k);
}
