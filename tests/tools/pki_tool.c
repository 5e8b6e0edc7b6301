/* pki_tool.c: a test-only command-line front end of lib/pki, so that
 * e2e scripts can check our certificates with the openssl CLI.
 *
 *   pki_tool root DIR [--key-type T] [--ttl D] [--cn CN] [--org O]
 *       a self-signed root: DIR/ca-cert.pem, ca-key.pem, root-cert.pem
 *       (output folders are created, one level)
 *   pki_tool issue CADIR OUTDIR [--uri U]... [--dns D]... [--cn CN]
 *                  [--ttl D] [--key-type T]
 *       loads the CA from CADIR (ca-cert.pem, ca-key.pem and, when present,
 *       root-cert.pem and cert-chain.pem: the `cacerts` Secret) and writes
 *       OUTDIR/cert-chain.pem, cert.pem (leaf only), key.pem, root-cert.pem
 *   pki_tool verify CHAIN ROOTS      "ok" or "FAIL <reason>: <message>"
 *   pki_tool info CERT               key=value lines of the first cert
 *   pki_tool keymatch CERT KEY       exit 0 if KEY is CERT's key
 *
 * Every command takes --now EPOCH (default: clock_now()) and
 * --clock-offset D (Go duration). Exit 0 on success, 1 when the operation
 * fails (RC and message on stderr), 2 on bad usage or unreadable input.
 * Durations: "2160h", "10m", ...; key types: ec-p256, rsa-2048, ... */
#include "lib/clock.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SANS 16

struct opts {
    const char *pos[3];
    int npos;
    int key_type;
    int64_t ttl;
    const char *cn, *org;
    const char *uris[MAX_SANS], *dns[MAX_SANS];
    size_t n_uris, n_dns;
    time_t now;
};

static int
usage(void)
{
    fprintf(stderr, "usage: pki_tool root DIR | issue CADIR OUTDIR | "
                    "verify CHAIN ROOTS | info CERT | keymatch CERT KEY "
                    "[options]\n");
    return 2;
}

/* Reads a whole file (at most PKI_PEM_MAX + 1 bytes, so that the library
 * reports the limit). Missing file: *out NULL, returns 0 when optional. */
static int
slurp(char **out, size_t *len, const char *dir, const char *name, int optional)
{
    char path[4096];
    FILE *f;
    char *b;
    size_t n;

    *out = NULL;
    *len = 0;
    if (dir)
        snprintf(path, sizeof(path), "%s/%s", dir, name);
    else
        snprintf(path, sizeof(path), "%s", name);
    if ((f = fopen(path, "rb")) == NULL) {
        if (optional)
            return 0;
        fprintf(stderr, "pki_tool: cannot open %s\n", path);
        return 2;
    }
    b = mem_alloc(PKI_PEM_MAX + 2);
    if (b == NULL) {
        fclose(f);
        return 2;
    }
    n = fread(b, 1, PKI_PEM_MAX + 1, f);
    fclose(f);
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

static int
put(const char *dir, const char *name, const char *data, size_t n, int mode)
{
    char path[4096];
    int fd;
    ssize_t w;

    mkdir(dir, 0755); /* the output folder, if it is not there yet */
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) {
        fprintf(stderr, "pki_tool: cannot write %s\n", path);
        return 2;
    }
    w = write(fd, data, n);
    close(fd);
    return w == (ssize_t)n ? 0 : 2;
}

static int
fail(int rc)
{
    fprintf(stderr, "pki_tool: %s: %s\n", rc_str(rc), errmsg_get());
    return 1;
}

static int
parse_opts(struct opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    o->key_type = PKI_EC_P256;
    o->ttl = 0;
    o->now = clock_now();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t d;
        if (a[0] != '-' || a[1] != '-') {
            if (o->npos == 3)
                return -1;
            o->pos[o->npos++] = a;
            continue;
        }
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(a, "--key-type") == 0) {
            if (pki_key_type_parse(&o->key_type, v) != 0)
                return -1;
        } else if (strcmp(a, "--ttl") == 0) {
            if (clock_parse_duration(&o->ttl, v) != 0)
                return -1;
        } else if (strcmp(a, "--cn") == 0) {
            o->cn = v;
        } else if (strcmp(a, "--org") == 0) {
            o->org = v;
        } else if (strcmp(a, "--uri") == 0 && o->n_uris < MAX_SANS) {
            o->uris[o->n_uris++] = v;
        } else if (strcmp(a, "--dns") == 0 && o->n_dns < MAX_SANS) {
            o->dns[o->n_dns++] = v;
        } else if (strcmp(a, "--now") == 0) {
            char *end;
            o->now = (time_t)strtoll(v, &end, 10);
            if (*end != '\0')
                return -1;
        } else if (strcmp(a, "--clock-offset") == 0) {
            if (clock_parse_duration(&d, v) != 0)
                return -1;
            clock_set_offset(d);
            o->now = clock_now();
        } else {
            return -1;
        }
    }
    return 0;
}

static int
cmd_root(const struct opts *o)
{
    struct pki_key *key = NULL;
    struct pki_cert *cert = NULL;
    char *kpem = NULL, *cpem = NULL;
    size_t klen = 0, clen = 0;
    int rc, st = 0;

    if ((rc = pki_key_generate(&key, o->key_type)) != 0 ||
        (rc = pki_ca_self_signed(&cert, key, o->cn ? o->cn : "mizzen root CA",
                                 o->org ? o->org : "cluster.local",
                                 o->ttl ? o->ttl : PKI_DEFAULT_ROOT_TTL,
                                 o->now)) != 0 ||
        (rc = pki_key_encode(&kpem, &klen, key)) != 0 ||
        (rc = pki_cert_encode(&cpem, &clen, cert)) != 0) {
        st = fail(rc);
        goto done;
    }
    st = put(o->pos[0], "ca-key.pem", kpem, klen, 0600);
    if (st == 0)
        st = put(o->pos[0], "ca-cert.pem", cpem, clen, 0644);
    if (st == 0)
        st = put(o->pos[0], "root-cert.pem", cpem, clen, 0644);
done:
    mem_free(cpem);
    pki_secret_free(kpem, klen);
    pki_cert_free(cert);
    pki_key_free(key);
    return st;
}

static int
cmd_issue(const struct opts *o)
{
    struct pki_ca_pem in = {0};
    char *cc = NULL, *ck = NULL, *rc_ = NULL, *ch = NULL;
    struct pki_ca *ca = NULL;
    struct pki_key *key = NULL;
    struct pki_cert *leaf = NULL;
    char *chain = NULL, *kpem = NULL, *lpem = NULL, *roots = NULL;
    size_t chlen = 0, klen = 0, llen = 0, rlen = 0;
    struct pki_issue_req req = {0};
    int rc, st;

    if ((st = slurp(&cc, &in.ca_cert_len, o->pos[0], "ca-cert.pem", 0)) ||
        (st = slurp(&ck, &in.ca_key_len, o->pos[0], "ca-key.pem", 0)) ||
        (st = slurp(&rc_, &in.root_cert_len, o->pos[0], "root-cert.pem", 1)) ||
        (st = slurp(&ch, &in.cert_chain_len, o->pos[0], "cert-chain.pem", 1)))
        goto done;
    in.ca_cert = cc;
    in.ca_key = ck;
    in.root_cert = rc_;
    in.cert_chain = ch;
    req.cn = o->cn;
    req.uris = o->uris;
    req.n_uris = o->n_uris;
    req.dns = o->dns;
    req.n_dns = o->n_dns;
    req.ttl = o->ttl ? o->ttl : PKI_DEFAULT_WORKLOAD_TTL;
    if ((rc = pki_ca_load(&ca, &in, o->now)) != 0 ||
        (rc = pki_key_generate(&key, o->key_type)) != 0 ||
        ((req.key = key), (rc = pki_issue(&leaf, &req, ca, o->now))) != 0 ||
        (rc = pki_ca_chain_encode(&chain, &chlen, leaf, ca)) != 0 ||
        (rc = pki_cert_encode(&lpem, &llen, leaf)) != 0 ||
        (rc = pki_key_encode(&kpem, &klen, key)) != 0 ||
        (rc = pki_bundle_encode(&roots, &rlen, pki_ca_roots_get(ca))) != 0) {
        st = fail(rc);
        goto done;
    }
    if ((st = put(o->pos[1], "key.pem", kpem, klen, 0600)) == 0 &&
        (st = put(o->pos[1], "cert-chain.pem", chain, chlen, 0644)) == 0 &&
        (st = put(o->pos[1], "cert.pem", lpem, llen, 0644)) == 0)
        st = put(o->pos[1], "root-cert.pem", roots, rlen, 0644);
done:
    mem_free(roots);
    pki_secret_free(kpem, klen);
    mem_free(lpem);
    mem_free(chain);
    pki_cert_free(leaf);
    pki_key_free(key);
    pki_ca_free(ca);
    mem_free(ch);
    mem_free(rc_);
    pki_secret_free(ck, in.ca_key_len);
    mem_free(cc);
    return st;
}

static int
cmd_verify(const struct opts *o)
{
    char *chain = NULL, *roots = NULL;
    size_t cl = 0, rl = 0;
    int reason = 0, rc, st;

    if ((st = slurp(&chain, &cl, NULL, o->pos[0], 0)) == 0 &&
        (st = slurp(&roots, &rl, NULL, o->pos[1], 0)) == 0) {
        rc = pki_verify(chain, cl, roots, rl, o->now, &reason);
        if (rc == 0) {
            printf("ok\n");
        } else {
            printf("FAIL %s: %s: %s\n", pki_verify_reason_str(reason),
                   rc_str(rc), errmsg_get());
            st = 1;
        }
    }
    mem_free(roots);
    mem_free(chain);
    return st;
}

static void
print_strv(const char *key, char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        printf("%s=%s\n", key, v[i]);
}

static int
cmd_info(const struct opts *o)
{
    struct pki_bundle *b = NULL;
    const struct pki_cert *c;
    char *text = NULL, *serial = NULL, *scn = NULL, *icn = NULL;
    char **uris = NULL, **dns = NULL;
    char fp[65];
    size_t n = 0;
    int rc, st;

    if ((st = slurp(&text, &n, NULL, o->pos[0], 0)) != 0)
        return st;
    if ((rc = pki_bundle_decode(&b, text, n)) != 0) {
        st = fail(rc);
        goto done;
    }
    c = pki_bundle_get(b, 0);
    if ((rc = pki_cert_serial(&serial, c)) != 0 ||
        (rc = pki_cert_uri_sans(&uris, NULL, c)) != 0 ||
        (rc = pki_cert_dns_sans(&dns, NULL, c)) != 0) {
        st = fail(rc);
        goto done;
    }
    pki_cert_subject_cn(&scn, c);
    pki_cert_issuer_cn(&icn, c);
    pki_cert_fingerprint(fp, c);
    printf("certs=%zu\nserial=%s\nsubject_cn=%s\nissuer_cn=%s\n"
           "not_before=%lld\nnot_after=%lld\nis_ca=%d\nself_signed=%d\n"
           "sha256=%s\n",
           pki_bundle_count(b), serial, scn ? scn : "", icn ? icn : "",
           (long long)pki_cert_not_before(c), (long long)pki_cert_not_after(c),
           pki_cert_is_ca(c), pki_cert_is_self_signed(c), fp);
    print_strv("uri", uris);
    print_strv("dns", dns);
done:
    pki_strv_free(dns);
    pki_strv_free(uris);
    mem_free(icn);
    mem_free(scn);
    mem_free(serial);
    pki_bundle_free(b);
    mem_free(text);
    return st;
}

static int
cmd_keymatch(const struct opts *o)
{
    char *ct = NULL, *kt = NULL;
    size_t cl = 0, kl = 0;
    struct pki_bundle *b = NULL;
    struct pki_key *k = NULL;
    int rc, st;

    if ((st = slurp(&ct, &cl, NULL, o->pos[0], 0)) != 0 ||
        (st = slurp(&kt, &kl, NULL, o->pos[1], 0)) != 0)
        goto done;
    if ((rc = pki_bundle_decode(&b, ct, cl)) != 0 ||
        (rc = pki_key_decode(&k, kt, kl)) != 0) {
        st = fail(rc);
        goto done;
    }
    st = pki_cert_key_matches(pki_bundle_get(b, 0), k) ? 0 : 1;
    printf("%s\n", st == 0 ? "match" : "mismatch");
done:
    pki_key_free(k);
    pki_bundle_free(b);
    pki_secret_free(kt, kl);
    mem_free(ct);
    return st;
}

int
main(int argc, char **argv)
{
    struct opts o;

    if (argc < 2 || parse_opts(&o, argc, argv) != 0)
        return usage();
    if (strcmp(argv[1], "root") == 0 && o.npos == 1)
        return cmd_root(&o);
    if (strcmp(argv[1], "issue") == 0 && o.npos == 2)
        return cmd_issue(&o);
    if (strcmp(argv[1], "verify") == 0 && o.npos == 2)
        return cmd_verify(&o);
    if (strcmp(argv[1], "info") == 0 && o.npos == 1)
        return cmd_info(&o);
    if (strcmp(argv[1], "keymatch") == 0 && o.npos == 2)
        return cmd_keymatch(&o);
    return usage();
}
