/* pki.h: keys, X.509 certificates, a certificate authority and rotation
 * math for the mesh's workload identities (the Citadel model), on OpenSSL 3.
 *
 * Objects are opaque: struct pki_key (a private key; never printable, and no
 * error message ever carries key bytes), struct pki_cert (one certificate),
 * struct pki_bundle (an ordered list of certificates), struct pki_ca (a
 * loaded, checked CA ready to issue: its X509 and key are parsed once and
 * cached, so issuing does no re-parsing).
 *
 * Conventions (STYLE.md): out-parameters first, *out is NULL on entry to a
 * constructor and set only on success; 0 or a negative RC_* with the detail
 * in errmsg; the caller frees what comes back through **out (strings with
 * mem_free, secrets with pki_secret_free, objects with their _free);
 * plain return values are borrowed. Nothing here reads the clock: every
 * time-dependent function takes `now` (use clock_now()).
 *
 * Thread safety: decoded or created objects are immutable; any number of
 * threads may issue from one struct pki_ca, verify, and read getters
 * concurrently. Only _free needs exclusive access.
 *
 * PEM is parsed strictly by our own reader: blocks "-----BEGIN X-----" ..
 * "-----END X-----" with base64 lines (CRLF ok), only whitespace between
 * blocks; any other text is RC_PARSE naming the block (1-based) or line.
 * (Go's pem.Decode skips text around blocks; we do not, so a corrupted
 * Secret is noticed.) */
#ifndef MZ_PKI_H
#define MZ_PKI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Limits on input from outside (Secrets, files, flags). */
#define PKI_PEM_MAX ((size_t)1 << 20) /* bytes of one PEM input */
#define PKI_BUNDLE_MAX 64             /* certificates in one bundle */
#define PKI_SAN_MAX 64                /* URI + DNS SANs in one request */
#define PKI_URI_MAX 2048              /* bytes of one URI SAN */
#define PKI_DNS_MAX 253               /* bytes of one DNS SAN */
#define PKI_CN_MAX 64                 /* bytes of a subject CN (X.520) */
#define PKI_TTL_MAX ((int64_t)100 * 366 * 86400) /* any certificate */

/* Defaults (the Citadel model, see docs/pki.md). */
#define PKI_DEFAULT_ROOT_TTL ((int64_t)3650 * 86400)   /* 10 years */
#define PKI_DEFAULT_WORKLOAD_TTL ((int64_t)90 * 86400) /* 2160h */
#define PKI_DEFAULT_GRACE_RATIO 0.5
#define PKI_DEFAULT_MIN_GRACE ((int64_t)600) /* 10m */
#define PKI_CLOCK_SKEW ((int64_t)300)        /* notBefore = now - 5 min */

/* ---- keys ------------------------------------------------------------ */

enum pki_key_type {
    PKI_KEY_NONE = 0,
    PKI_EC_P256 = 1, /* the default */
    PKI_EC_P384,
    PKI_RSA_2048,
    PKI_RSA_3072,
    PKI_RSA_4096
};

struct pki_key;

/* pki_key_generate makes a fresh key of the given type. RC_INVAL for an
 * unknown type, RC_TLS if OpenSSL fails. */
int pki_key_generate(struct pki_key **out, int type);

/* pki_key_decode reads exactly one private key from PEM: PKCS#8
 * ("PRIVATE KEY"), SEC1 ("EC PRIVATE KEY", an "EC PARAMETERS" block before
 * it is skipped) or PKCS#1 ("RSA PRIVATE KEY"). Encrypted keys are
 * RC_UNSUPPORTED; EC curves other than P-256/P-384 and RSA outside
 * 2048..8192 bits are RC_UNSUPPORTED; bad PEM/DER RC_PARSE; over
 * PKI_PEM_MAX RC_LIMIT. Messages never contain key material. */
int pki_key_decode(struct pki_key **out, const char *pem, size_t len);

/* pki_key_encode writes the key as PKCS#8 PEM ("-----BEGIN PRIVATE
 * KEY-----"); free *out with pki_secret_free. */
int pki_key_encode(char **out, size_t *len, const struct pki_key *key);

/* pki_key_type_get: the PKI_* type of a key (never PKI_KEY_NONE). */
int pki_key_type_get(const struct pki_key *key);
/* pki_key_type_parse accepts "ec", "ecdsa", "ec-p256", "p256", "ec-p384",
 * "p384", "rsa" (= 2048), "rsa-2048", "rsa2048", "rsa-3072", "rsa-4096"
 * (case-insensitive); RC_INVAL otherwise. */
int pki_key_type_parse(int *out, const char *s);
/* pki_key_type_name: "ec-p256", "rsa-2048", ...; "none" if unknown. */
const char *pki_key_type_name(int type);

void pki_key_free(struct pki_key *key);

/* pki_global_cleanup frees the key generation contexts lib/pki keeps for
 * reuse (optional, at exit; pki_key_generate still works afterwards). */
void pki_global_cleanup(void);

/* pki_secret_free wipes and frees a string that held key material
 * (len bytes; NULL is a no-op). */
void pki_secret_free(char *s, size_t len);

/* ---- certificates ------------------------------------------------------ */

struct pki_cert;
struct pki_bundle;

/* pki_cert_decode reads exactly one certificate ("CERTIFICATE" block).
 * Errors: RC_LIMIT over PKI_PEM_MAX; RC_PARSE for anything else wrong,
 * naming the block: no block, bad base64, a DER that does not parse or has
 * trailing bytes, a bad validity time, a second block. */
int pki_cert_decode(struct pki_cert **out, const char *pem, size_t len);

/* pki_cert_encode writes one "CERTIFICATE" block (64-column base64). */
int pki_cert_encode(char **out, size_t *len, const struct pki_cert *cert);

/* pki_cert_dup returns a second handle on the same (immutable) cert. */
int pki_cert_dup(struct pki_cert **out, const struct pki_cert *cert);
void pki_cert_free(struct pki_cert *cert);

/* Getters that cannot fail (checked at decode/creation). */
time_t pki_cert_not_before(const struct pki_cert *cert);
time_t pki_cert_not_after(const struct pki_cert *cert);
/* 1 if basicConstraints says CA:TRUE, else 0. */
int pki_cert_is_ca(const struct pki_cert *cert);
/* 1 if the subject equals the issuer and the signature verifies with the
 * cert's own key, else 0. */
int pki_cert_is_self_signed(const struct pki_cert *cert);
/* 1 if the cert's public key is the public half of key, else 0. */
int pki_cert_key_matches(const struct pki_cert *cert,
                         const struct pki_key *key);
/* 1 if a and b are the same certificate (DER-equal), else 0. */
int pki_cert_equal(const struct pki_cert *a, const struct pki_cert *b);
/* pki_cert_fingerprint: SHA-256 of the DER as 64 lowercase hex digits. */
void pki_cert_fingerprint(char out[65], const struct pki_cert *cert);

/* Getters that allocate (free with mem_free / pki_strv_free).
 * pki_cert_serial: uppercase hex of whole bytes as `openssl x509 -serial`
 * prints it ("0A1B..."; "-" in front if negative). */
int pki_cert_serial(char **out, const struct pki_cert *cert);
/* Subject/issuer commonName (the first one) as UTF-8; RC_NOTFOUND if the
 * name has none, RC_PARSE if it holds a NUL or is not valid. */
int pki_cert_subject_cn(char **out, const struct pki_cert *cert);
int pki_cert_issuer_cn(char **out, const struct pki_cert *cert);
/* URI / DNS subjectAltNames as a NULL-terminated array (empty array, not
 * RC_NOTFOUND, when there are none); *n (may be NULL) is the count.
 * RC_PARSE for a malformed or duplicated SAN extension or a NUL inside a
 * name. */
int pki_cert_uri_sans(char ***out, size_t *n, const struct pki_cert *cert);
int pki_cert_dns_sans(char ***out, size_t *n, const struct pki_cert *cert);
void pki_strv_free(char **v);

/* ---- bundles ----------------------------------------------------------- */

/* pki_bundle_new: an empty bundle. */
int pki_bundle_new(struct pki_bundle **out);
/* pki_bundle_decode reads 1..PKI_BUNDLE_MAX "CERTIFICATE" blocks (a
 * trust bundle, a cert-chain.pem). Zero blocks is RC_PARSE, more than the
 * cap RC_LIMIT; other errors as pki_cert_decode, naming the block. */
int pki_bundle_decode(struct pki_bundle **out, const char *pem, size_t len);
/* pki_bundle_add appends a handle on cert (the caller keeps its own).
 * RC_LIMIT past PKI_BUNDLE_MAX; on failure the bundle is unchanged. */
int pki_bundle_add(struct pki_bundle *b, const struct pki_cert *cert);
/* pki_bundle_add_unique adds cert unless an equal one is present. */
int pki_bundle_add_unique(struct pki_bundle *b, const struct pki_cert *cert);
size_t pki_bundle_count(const struct pki_bundle *b);
/* pki_bundle_get: borrowed, valid while b lives; i < count. */
const struct pki_cert *pki_bundle_get(const struct pki_bundle *b, size_t i);
/* pki_bundle_encode: every cert in order, one PEM block each. */
int pki_bundle_encode(char **out, size_t *len, const struct pki_bundle *b);
void pki_bundle_free(struct pki_bundle *b);

/* ---- certificate authority ---------------------------------------------- */

struct pki_ca;

/* pki_ca_self_signed makes a root: X.509 v3, random positive 128-bit
 * serial, subject = issuer = O=org (if not NULL), CN=cn; basicConstraints
 * CA:TRUE critical, keyUsage keyCertSign+cRLSign critical, SKI, AKI;
 * notBefore = now - PKI_CLOCK_SKEW, notAfter = now + ttl (seconds, 1 ..
 * PKI_TTL_MAX). Signed with SHA-256 (SHA-384 for a P-384 key). */
int pki_ca_self_signed(struct pki_cert **out, const struct pki_key *key,
                       const char *cn, const char *org, int64_t ttl,
                       time_t now);

/* pki_ca_new checks and caches a CA. cert/key: the signing CA; chain: the
 * certificates between cert and a root (NULL or empty for none; a root in
 * it is allowed and ignored for output); roots: the trust anchors (NULL:
 * cert must be a self-signed root and is its own anchor). Checks, each an
 * error with a clear message: the key matches the cert (RC_INVAL, proven by
 * a test signature), the cert is a CA (CA:TRUE; keyUsage, if present, has
 * keyCertSign) (RC_INVAL), the cert chains to one of roots through chain at
 * time now (RC_TLS, with the verification reason). The CA takes its own
 * handles; the caller keeps and frees its arguments. */
int pki_ca_new(struct pki_ca **out, const struct pki_cert *cert,
               const struct pki_key *key, const struct pki_bundle *chain,
               const struct pki_bundle *roots, time_t now);

/* The Secret forms: `istio-ca-secret` (ca-cert.pem, ca-key.pem: a
 * self-signed root; root_cert and cert_chain NULL) and the user's `cacerts`
 * (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem). A NULL or
 * empty root_cert means "ca_cert is the root"; a NULL or empty cert_chain
 * means none. Errors are prefixed with the file name ("ca-key.pem: ..."). */
struct pki_ca_pem {
    const char *ca_cert;
    size_t ca_cert_len;
    const char *ca_key;
    size_t ca_key_len;
    const char *root_cert;
    size_t root_cert_len;
    const char *cert_chain;
    size_t cert_chain_len;
};
int pki_ca_load(struct pki_ca **out, const struct pki_ca_pem *in, time_t now);

/* Borrowed views of a CA. */
const struct pki_cert *pki_ca_cert_get(const struct pki_ca *ca);
const struct pki_key *pki_ca_key_get(const struct pki_ca *ca);
const struct pki_bundle *pki_ca_roots_get(const struct pki_ca *ca);
/* 1 when the CA is an intermediate (its cert is not its own root). */
int pki_ca_is_intermediate(const struct pki_ca *ca);
void pki_ca_free(struct pki_ca *ca);

/* ---- issuing ---------------------------------------------------------- */

struct pki_issue_req {
    const struct pki_key *key; /* the leaf's key: its public half is signed */
    const char *cn;            /* subject CN, or NULL: empty subject and a
                                * critical SAN extension (RFC 5280 4.2.1.6) */
    const char *const *uris;   /* URI SANs (e.g. a SPIFFE id), n_uris */
    size_t n_uris;
    const char *const *dns; /* DNS SANs, n_dns */
    size_t n_dns;
    int64_t ttl; /* seconds, 1..PKI_TTL_MAX */
};

/* pki_issue signs a leaf: v3, random 128-bit serial, issuer = the CA's
 * subject, notBefore = now - PKI_CLOCK_SKEW (never before the CA's),
 * notAfter = min(now + ttl, CA notAfter); basicConstraints CA:FALSE
 * critical, keyUsage digitalSignature+keyEncipherment critical, EKU
 * serverAuth+clientAuth, SKI, AKI = the CA's key id; SANs as asked (at
 * least one, at most PKI_SAN_MAX; URIs need a scheme and no spaces/control
 * chars, DNS names are LDH labels with an optional leading "*."), else
 * RC_INVAL. Signs with ECDSA-SHA256 (SHA-384 for a P-384 CA) or
 * RSA-SHA256 (PKCS#1 v1.5). RC_INVAL if now is outside the CA's validity. */
int pki_issue(struct pki_cert **out, const struct pki_issue_req *req,
              const struct pki_ca *ca, time_t now);

/* pki_ca_chain_encode: the cert-chain.pem of a leaf: the leaf, then for an
 * intermediate CA its cert and the non-self-signed certs of its chain. */
int pki_ca_chain_encode(char **out, size_t *len, const struct pki_cert *leaf,
                        const struct pki_ca *ca);

/* pki_spiffe_id builds "spiffe://<td>/ns/<ns>/sa/<sa>"; each part must be
 * 1..253 bytes of [A-Za-z0-9._-] (RC_INVAL otherwise). */
int pki_spiffe_id(char **out, const char *trust_domain, const char *ns,
                  const char *sa);

/* ---- verification ------------------------------------------------------ */

enum pki_verify_reason {
    PKI_VERIFY_OK = 0,
    PKI_VERIFY_MALFORMED,      /* the PEM/DER could not be read */
    PKI_VERIFY_EXPIRED,        /* a cert of the chain is past notAfter */
    PKI_VERIFY_NOT_YET_VALID,  /* a cert of the chain is before notBefore */
    PKI_VERIFY_UNKNOWN_ISSUER, /* no path to any of the roots */
    PKI_VERIFY_BAD_SIGNATURE,  /* a signature does not verify (tampering) */
    PKI_VERIFY_INVALID_CA,     /* an issuer is not a CA / path too long */
    PKI_VERIFY_OTHER
};
/* pki_verify_reason_str: "ok", "malformed", "expired", ... (static). */
const char *pki_verify_reason_str(int reason);

/* pki_verify checks that the first cert of chain_pem chains, through the
 * other certs of chain_pem, to one of the roots of roots_pem (several roots
 * are fine: a trust bundle during root rotation) at time now. Roots are
 * anchors only if self-signed: an intermediate placed among the roots does
 * not end a chain (no partial chains, as `openssl verify` by default). 0 on
 * success; RC_PARSE/RC_LIMIT if a PEM cannot be read (reason MALFORMED), RC_TLS
 * with the reason and OpenSSL's explanation in errmsg otherwise. *reason (may
 * be NULL) is set in every case. */
int pki_verify(const char *chain_pem, size_t chain_len, const char *roots_pem,
               size_t roots_len, time_t now, int *reason);
/* pki_verify_bundle: the same on decoded bundles (chain non-empty). */
int pki_verify_bundle(const struct pki_bundle *chain,
                      const struct pki_bundle *roots, time_t now, int *reason);

/* ---- rotation (pure: time is passed in) -------------------------------- */

/* pki_renew_at: when a cert valid [not_before, not_after] is due: when less
 * than grace_ratio of its lifetime is left, and never later than
 * not_after - min_grace:
 *   min(not_after - grace_ratio * (not_after - not_before),
 *       not_after - min_grace)
 * grace_ratio is clamped to [0, 1] (NaN counts as the default 0.5),
 * min_grace below 0 counts as 0. The result may lie before not_before
 * (a min_grace longer than the lifetime): renew at once. */
time_t pki_renew_at(time_t not_before, time_t not_after, double grace_ratio,
                    int64_t min_grace);

/* A daily quiet-hours window in local time ("02:00-05:00"; crossing
 * midnight "22:30-01:15" is fine). Local time is what localtime_r gives
 * for the TZ environment variable; a process that changes TZ must call
 * tzset() afterwards. */
struct pki_window {
    int set;       /* 0: no window, renew any time */
    int start_min; /* minutes after local midnight, 0..1439 */
    int end_min;   /* exclusive; != start_min */
};

/* pki_window_parse: "HH:MM-HH:MM" (HH 00..23, MM 00..59, start != end),
 * or NULL/"" for no window. RC_INVAL otherwise; *out untouched then. */
int pki_window_parse(struct pki_window *out, const char *s);
/* pki_window_contains: 1 if local time t is inside w (always 1 if unset). */
int pki_window_contains(const struct pki_window *w, time_t t);
/* pki_window_next: the earliest time >= t inside w (t itself if inside or
 * w unset). Correct across midnight and DST changes (a window start that
 * does not exist on a DST day begins when local time resumes). */
time_t pki_window_next(const struct pki_window *w, time_t t);

/* pki_renew_decide: when to renew, given renew_at (pki_renew_at) and the
 * hard deadline (not_after - min_grace): the first moment >= max(now,
 * renew_at) inside the window, unless that is after the deadline: then
 * max(now, renew_at) (the renewal is urgent and the window is skipped).
 * The caller renews when the result is <= now, else waits until it. */
time_t pki_renew_decide(const struct pki_window *w, time_t now, time_t renew_at,
                        time_t deadline);

#endif
