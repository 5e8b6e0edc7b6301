/* pkipriv.h: the insides of lib/pki's opaque types and the helpers its
 * files share: pkipem.c (PEM, DER helpers, errors), pkikey.c (keys), pki.c
 * (certificates, bundles), pkica.c (CA, verification), pkiissue.c
 * (issuing), pkirot.c (rotation). Nothing outside lib/pki*.c includes it. */
#ifndef MZ_PKIPRIV_H
#define MZ_PKIPRIV_H

#include "lib/buf.h"
#include "lib/pki.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>

struct pki_key {
    EVP_PKEY *pkey;
    int type;            /* PKI_EC_P256, ... */
    unsigned char *spki; /* SubjectPublicKeyInfo DER (mem_alloc'd) */
    size_t spki_len;
};

/* A certificate is reference-counted and immutable. It holds the parsed
 * X509, or (issued by pkiissue.c, which builds the DER itself because
 * OpenSSL 3 re-decodes the public key of every X509 it parses) only the
 * DER, parsed on first use by pki_cert_x509. */
struct pki_cert {
    atomic_int refs;
    _Atomic(X509 *) x509;
    unsigned char *der; /* mem_alloc'd, or NULL when x509 came first */
    size_t der_len;
    time_t not_before, not_after; /* checked when the cert was made */
};

struct pki_bundle {
    struct pki_cert **v;
    size_t n, cap;
};

#define PKI_SIGN_POOL 8

struct pki_ca {
    struct pki_cert *cert;
    struct pki_key *key;
    struct pki_bundle *roots; /* trust anchors (the cert itself for a root) */
    struct pki_bundle *out;   /* certs after the leaf in cert-chain.pem */
    int intermediate;
    /* prebuilt DER pieces of every leaf's TBSCertificate */
    unsigned char *issuer; /* the CA's subject Name */
    size_t issuer_len;
    unsigned char *exts; /* basicConstraints, keyUsage, EKU, AKI */
    size_t exts_len;
    const unsigned char *sigalg; /* AlgorithmIdentifier (static) */
    size_t sigalg_len;
    EVP_MD *md, *sha1; /* fetched once */
    int rsa;
    /* signing contexts ready for EVP_PKEY_sign, reused across calls; the
     * only mutable part of a CA, behind its own lock */
    pthread_mutex_t lock;
    EVP_PKEY_CTX *pool[PKI_SIGN_POOL];
    int npool;
};

/* ---- PEM (pkipem.c) ---- */

#define PKI_PEM_LABEL_MAX 40

struct pki_pem_reader {
    const char *p, *end;
    int line;   /* 1-based line of p */
    int blocks; /* blocks read so far */
};

struct pki_pem_block {
    char label[PKI_PEM_LABEL_MAX];
    unsigned char *der; /* mem_alloc'd; wipe before freeing if secret */
    size_t len, cap;
    int index; /* 1-based */
};

/* pki_pem_reader_init: RC_INVAL for NULL with a length, RC_LIMIT over
 * PKI_PEM_MAX. */
int pki_pem_reader_init(struct pki_pem_reader *r, const char *pem, size_t len);
/* pki_pem_next reads the next block into *b (1 = got one, 0 = clean end of
 * input, < 0 = error with errmsg set). Release b with pki_pem_block_release
 * in every case (it wipes the decoded bytes). */
int pki_pem_next(struct pki_pem_reader *r, struct pki_pem_block *b);
void pki_pem_block_release(struct pki_pem_block *b);
/* pki_pem_write appends one block of der (64-column base64) to out without
 * leaving unwiped copies behind. */
int pki_pem_write(struct buf *out, const char *label, const unsigned char *der,
                  size_t n);

/* pki_cert_wrap takes ownership of x (on success and on failure) and reads
 * its validity; RC_PARSE if a time cannot be read. */
int pki_cert_wrap(struct pki_cert **out, X509 *x);
/* pki_cert_from_der takes ownership of der (a mem_alloc'd certificate we
 * built, with the given validity), always. */
int pki_cert_from_der(struct pki_cert **out, unsigned char *der, size_t len,
                      time_t not_before, time_t not_after);
/* pki_cert_x509: the parsed certificate (parsed now if needed; NULL only if
 * that fails: out of memory). Borrowed. */
X509 *pki_cert_x509(const struct pki_cert *cert);
/* pki_key_wrap takes ownership of pkey (always); RC_UNSUPPORTED for a key
 * type we do not handle. */
int pki_key_wrap(struct pki_key **out, EVP_PKEY *pkey);
/* pki_ossl_err: errmsg_set(rc, "<what>: <OpenSSL's first error>") and
 * clears OpenSSL's thread error queue. Never include key bytes in what. */
int pki_ossl_err(int rc, const char *what);
/* pki_der_hdr writes a DER tag and length for len content bytes at w
 * (w NULL: only counts) and returns the bytes of the header (2..5). */
size_t pki_der_hdr(unsigned char *w, unsigned tag, size_t len);
/* pki_ec_alg: the AlgorithmIdentifier DER of an EC key type (NULL if not
 * EC). */
const unsigned char *pki_ec_alg(int type, size_t *len);
/* pki_check_text: 1..max bytes without control characters, else RC_INVAL
 * naming what. pki_check_ttl: 1..PKI_TTL_MAX seconds, else RC_INVAL. */
int pki_check_text(const char *what, const char *s, size_t max);
int pki_check_ttl(int64_t ttl);
/* pki_md_for: the digest to sign with for a key (SHA-256, SHA-384 for
 * P-384). */
const EVP_MD *pki_md_for(const struct pki_key *key);

#endif
