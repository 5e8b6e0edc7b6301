/* pkipriv.h: the insides of lib/pki's opaque types, shared by pki.c (keys,
 * PEM, certificates), pkica.c (CA, issuing, verification) and pkirot.c.
 * Nothing outside lib/pki*.c includes this. */
#ifndef MZ_PKIPRIV_H
#define MZ_PKIPRIV_H

#include "lib/pki.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

struct pki_key {
    EVP_PKEY *pkey;
    int type; /* PKI_EC_P256, ... */
};

struct pki_cert {
    X509 *x509;
    time_t not_before, not_after; /* checked when the cert was made */
};

struct pki_bundle {
    struct pki_cert **v;
    size_t n, cap;
};

/* pki_cert_wrap takes ownership of x (on success and on failure) and reads
 * its validity; RC_PARSE if a time cannot be read. */
int pki_cert_wrap(struct pki_cert **out, X509 *x);
/* pki_key_wrap takes ownership of pkey (always); RC_UNSUPPORTED for a key
 * type we do not handle. */
int pki_key_wrap(struct pki_key **out, EVP_PKEY *pkey);
/* pki_ossl_err: errmsg_set(rc, "<what>: <OpenSSL's first error>") and
 * clears OpenSSL's thread error queue. Never include key bytes in what. */
int pki_ossl_err(int rc, const char *what);
/* pki_md_for: the digest to sign with for a key (SHA-256, SHA-384 for
 * P-384). */
const EVP_MD *pki_md_for(const struct pki_key *key);

#endif
