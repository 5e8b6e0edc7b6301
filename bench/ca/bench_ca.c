/* bench_ca.c: certificates issued per second by lib/pki, as the operator
 * issues them for service accounts: per certificate a fresh ECDSA P-256
 * key, a SPIFFE id, pki_issue from a cached CA, the cert-chain PEM and the
 * PKCS#8 key PEM. Measured on 1 thread and on N threads (default 2), beside
 * `openssl speed -seconds S ecdsap256` run in the same invocation: the
 * baseline is this machine's ECDSA P-256 sign/s, and the figure printed is
 * the ratio certs/s : openssl sign/s (one certificate costs at least one
 * key generation and one signature, so about 0.5 is the ceiling). openssl
 * speed divides by CPU time, so the ratio uses our certificates per
 * CPU-second; wall-clock rates are printed too (they depend on the load of
 * the shared machine, which is printed beside them).
 *
 *   bench_ca [--seconds S] [--threads N] [--no-openssl] [--rsa]
 *
 * Also prints the parts (key generation, issue, PEM) on one thread, so a
 * regression can be located. Exit 0 unless the setup fails. */
#include "lib/clock.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ALL, KEYGEN, ISSUE, PEM };

struct job {
    const struct pki_ca *ca;
    const struct pki_key *fixed; /* for ISSUE/PEM: a key reused */
    int what;
    int key_type;
    int64_t until_ms;
    long count;
    int failed;
};

static void *
worker(void *arg)
{
    struct job *j = arg;
    char sa[32];

    while (clock_mono_ms() < j->until_ms) {
        for (int k = 0; k < 16; k++) { /* check the time every 16 */
            struct pki_key *key = NULL;
            struct pki_cert *leaf = NULL;
            char *id = NULL, *chain = NULL, *kpem = NULL;
            size_t clen = 0, klen = 0;
            const char *uris[1];
            struct pki_issue_req req = {0};
            int rc = 0;

            snprintf(sa, sizeof(sa), "sa-%ld", j->count);
            if (j->what == ALL || j->what == KEYGEN)
                rc = pki_key_generate(&key, j->key_type);
            if (rc == 0 && j->what != KEYGEN) {
                req.key = key ? key : j->fixed;
                rc = pki_spiffe_id(&id, "cluster.local", "default", sa);
                uris[0] = id;
                req.uris = uris;
                req.n_uris = 1;
                req.ttl = PKI_DEFAULT_WORKLOAD_TTL;
                if (rc == 0)
                    rc = pki_issue(&leaf, &req, j->ca, clock_now());
            }
            if (rc == 0 && (j->what == ALL || j->what == PEM)) {
                rc = pki_ca_chain_encode(&chain, &clen, leaf, j->ca);
                if (rc == 0)
                    rc = pki_key_encode(&kpem, &klen, req.key);
            }
            pki_secret_free(kpem, klen);
            mem_free(chain);
            mem_free(id);
            pki_cert_free(leaf);
            pki_key_free(key);
            if (rc != 0) {
                j->failed = 1;
                return NULL;
            }
            j->count++;
        }
    }
    return NULL;
}

static double
cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Operations per CPU-second of the last run: the machine is shared, so the
 * wall-clock rate depends on what else runs; this one does not as much. */
static double last_per_cpu_s;

/* Runs nthreads workers for ms milliseconds; returns operations/s. */
static double
run(const struct pki_ca *ca, const struct pki_key *fixed, int what,
    int key_type, int nthreads, int64_t ms)
{
    double c0 = cpu_seconds();
    pthread_t th[16];
    struct job jobs[16];
    int64_t t0 = clock_mono_ms(), t1;
    long total = 0;

    for (int i = 0; i < nthreads; i++) {
        jobs[i] = (struct job){.ca = ca,
                               .fixed = fixed,
                               .what = what,
                               .key_type = key_type,
                               .until_ms = t0 + ms};
        pthread_create(&th[i], NULL, worker, &jobs[i]);
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].failed) {
            fprintf(stderr, "bench_ca: a worker failed: %s\n", errmsg_get());
            exit(1);
        }
        total += jobs[i].count;
    }
    t1 = clock_mono_ms();
    last_per_cpu_s = (double)total / (cpu_seconds() - c0);
    return (double)total * 1000.0 / (double)(t1 - t0);
}

/* Runs `openssl speed -seconds S ecdsap256` and reads sign/s and verify/s
 * from its "256 bits ecdsa (nistp256)" line. 0 on success. */
static int
openssl_speed(int seconds, double *sign, double *verify)
{
    int fd[2], status, found = 0;
    char secs[16], line[512];
    pid_t pid;
    FILE *f;

    snprintf(secs, sizeof(secs), "%d", seconds);
    if (pipe(fd) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char *argv[] = {"openssl", "speed",     "-seconds",
                        secs,      "ecdsap256", NULL};
        int null = open("/dev/null", O_WRONLY);
        dup2(fd[1], 1);
        if (null >= 0)
            dup2(null, 2);
        close(fd[0]);
        close(fd[1]);
        execvp("openssl", argv);
        _exit(127);
    }
    close(fd[1]);
    f = fdopen(fd[0], "r");
    while (f && fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "ecdsa (nistp256)");
        double a, b, c, d;
        if (p && sscanf(p + strlen("ecdsa (nistp256)"), " %lfs %lfs %lf %lf",
                        &a, &b, &c, &d) == 4) {
            *sign = c;
            *verify = d;
            found = 1;
        }
    }
    if (f)
        fclose(f);
    waitpid(pid, &status, 0);
    return found ? 0 : -1;
}

static const char *
loadavg(char *buf, size_t n)
{
    FILE *f = fopen("/proc/loadavg", "r");

    snprintf(buf, n, "?");
    if (f != NULL) {
        if (fgets(buf, (int)n, f) != NULL)
            buf[strcspn(buf, " ")] = '\0';
        fclose(f);
    }
    return buf;
}

int
main(int argc, char **argv)
{
    int seconds = 3, threads = 2, with_openssl = 1, key_type = PKI_EC_P256;
    struct pki_key *cakey = NULL, *fixed = NULL;
    struct pki_cert *root = NULL;
    struct pki_ca *ca = NULL;
    double one, many, kg, is, pem, sign = 0, verify = 0, percpu;
    char lbuf[64];
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--no-openssl") == 0)
            with_openssl = 0;
        else if (strcmp(argv[i], "--rsa") == 0)
            key_type = PKI_RSA_2048;
        else {
            fprintf(stderr, "usage: bench_ca [--seconds S] [--threads N] "
                            "[--no-openssl] [--rsa]\n");
            return 2;
        }
    }
    if (seconds < 1)
        seconds = 1;
    if (threads < 1 || threads > 16)
        threads = 2;
    if ((rc = pki_key_generate(&cakey, key_type)) != 0 ||
        (rc = pki_key_generate(&fixed, key_type)) != 0 ||
        (rc = pki_ca_self_signed(&root, cakey, "bench root", "cluster.local",
                                 PKI_DEFAULT_ROOT_TTL, clock_now())) != 0 ||
        (rc = pki_ca_new(&ca, root, cakey, NULL, NULL, clock_now())) != 0) {
        fprintf(stderr, "bench_ca: setup: %s: %s\n", rc_str(rc), errmsg_get());
        return 1;
    }
    printf("bench/ca: %s keys and CA, %d s per figure\n",
           pki_key_type_name(key_type), seconds);
    kg = run(ca, fixed, KEYGEN, key_type, 1, seconds * 1000 / 3);
    is = run(ca, fixed, ISSUE, key_type, 1, seconds * 1000 / 3);
    pem = run(ca, fixed, PEM, key_type, 1, seconds * 1000 / 3);
    printf("  parts, 1 thread: keygen %.0f/s, issue %.0f/s, issue+PEM "
           "%.0f/s\n",
           kg, is, pem);
    one = run(ca, fixed, ALL, key_type, 1, seconds * 1000);
    percpu = last_per_cpu_s;
    many = run(ca, fixed, ALL, key_type, threads, seconds * 1000);
    printf("  certs/s (keygen + issue + chain PEM + key PEM): 1 thread "
           "%.0f, %d threads %.0f\n",
           one, threads, many);
    printf("  certs per CPU-second: %.0f (1 thread), %.0f (%d threads); "
           "load average now %s\n",
           percpu, last_per_cpu_s, threads, loadavg(lbuf, sizeof(lbuf)));
    if (with_openssl && openssl_speed(seconds, &sign, &verify) == 0) {
        /* openssl speed divides by its CPU (user) time, so the comparable
         * figure of ours is per CPU-second */
        printf("  baseline openssl speed -seconds %d ecdsap256 (per "
               "CPU-second): sign %.0f/s, verify %.0f/s\n",
               seconds, sign, verify);
        printf("  ratio certs per CPU-s : openssl signs per CPU-s = %.3f (1 "
               "thread), %.3f (%d threads); ceiling ~0.5 (keygen + sign)\n",
               percpu / sign, last_per_cpu_s / sign, threads);
    } else if (with_openssl) {
        printf("  baseline: openssl speed did not run\n");
    }
    printf("  goal >= 5000 certs/s on 2 cores: wall-clock %.0f/s with %d "
           "threads on this shared machine (%s); CPU capacity of 2 cores "
           "2 x %.0f = %.0f/s (%s)\n",
           many, threads, many >= 5000 ? "met" : "not met", last_per_cpu_s,
           2 * last_per_cpu_s, 2 * last_per_cpu_s >= 5000 ? "met" : "NOT met");
    pki_ca_free(ca);
    pki_cert_free(root);
    pki_key_free(fixed);
    pki_key_free(cakey);
    return 0;
}
