/* bench_admission.c: the webhook's pure path per admission, in-process:
 * wh_review_decode -> wh_admit (inj_pod_inject) -> wh_response_encode, plus
 * the per-admission log line, on an AdmissionReview read from a file.
 *
 * Made to be run under `valgrind --tool=callgrind` (instruction counts are
 * repeatable on a loaded machine: run it with N and 2N iterations and
 * divide the difference by N to get the cost of one admission without the
 * start-up), and under perf. Without valgrind it also prints the thread
 * CPU time per phase.
 *
 *   bench_admission FILE [iterations [malloc]]
 *
 * iterations: default 1000, at most 1000000. Like the server, every
 * admission runs inside a request arena (lib/mem.h: jansson allocates from
 * a thread-local bump arena released at the end); "malloc" runs without
 * it, for comparison. The time to free the admission's JSON (the review,
 * the injector's results) is its own phase.
 *
 * The default configuration is used, prepared as the server prepares it
 * (pre-written template fragments, webhook/wh_frag.h); the log
 * line goes through lib/log's synchronous path to /dev/null, which formats
 * it exactly as the server does. */
#include "injector/injector.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_admission.h"
#include "webhook/wh_frag.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITERS 1000000L
#define MAX_FILE ((size_t)16 << 20)

static uint64_t
cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
read_file(struct buf *b, const char *path)
{
    char tmp[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return errmsg_set(RC_IO, "cannot open %s", path);
    while ((n = read(fd, tmp, sizeof(tmp))) > 0)
        if (buf_add(b, tmp, (size_t)n) != 0) {
            close(fd);
            return errmsg_set(RC_LIMIT, "%s is too big", path);
        }
    close(fd);
    return n < 0 ? errmsg_set(RC_IO, "cannot read %s", path) : 0;
}

int
main(int argc, char **argv)
{
    struct inj_config *cfg = NULL;
    struct buf body, out;
    struct log_opts lo;
    uint64_t t_dec = 0, t_adm = 0, t_enc = 0, t_log = 0, t_free = 0, t0, t1;
    size_t arena_used = 0;
    int arena = 1;
    long iters = 1000;
    int rc = 1, nullfd = -1;
    size_t out_len = 0;
    const char *decision = "";

    if (argc < 2 || argc > 4 || (argc == 4 && strcmp(argv[3], "malloc") != 0)) {
        fprintf(stderr, "usage: bench_admission FILE [iterations [malloc]]\n");
        return 2;
    }
    arena = argc < 4;
    if (argc >= 3) {
        char *end;
        iters = strtol(argv[2], &end, 10);
        if (*end != '\0' || iters < 1 || iters > MAX_ITERS) {
            fprintf(stderr, "iterations: 1..%ld\n", MAX_ITERS);
            return 2;
        }
    }
    mem_init_jansson(); /* as mizzen-webhook's main */
    buf_init(&body, MAX_FILE);
    buf_init(&out, 0);
    if (read_file(&body, argv[1]) != 0 ||
        inj_config_load(&cfg, NULL, 0, NULL, 0) != 0 ||
        wh_frags_attach(cfg) != 0) {
        fprintf(stderr, "bench_admission: %s\n", errmsg_get());
        goto done;
    }
    nullfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    memset(&lo, 0, sizeof(lo));
    lo.fd = nullfd;
    lo.level = LOG_INFO;
    log_init(&lo);
    for (long i = 0; i < iters; i++) {
        struct wh_review rv;
        struct wh_outcome oc;
        char ms[32];

        memset(&oc, 0, sizeof(oc));
        t0 = cpu_ns();
        if (arena)
            mem_arena_begin();
        if (wh_review_decode(&rv, body.ptr, body.len, 0) != 0) {
            fprintf(stderr, "decode: %s\n", errmsg_get());
            goto done;
        }
        t1 = cpu_ns();
        t_dec += t1 - t0;
        t0 = t1;
        if (wh_admit(&oc, cfg, &rv, NULL) != 0) {
            fprintf(stderr, "admit: %s\n", errmsg_get());
            wh_review_cleanup(&rv);
            goto done;
        }
        t1 = cpu_ns();
        t_adm += t1 - t0;
        t0 = t1;
        buf_reset(&out);
        if (wh_response_encode(&out, &rv, &oc) != 0) {
            fprintf(stderr, "encode: %s\n", errmsg_get());
            wh_outcome_cleanup(&oc);
            wh_review_cleanup(&rv);
            goto done;
        }
        t1 = cpu_ns();
        t_enc += t1 - t0;
        t0 = t1;
        snprintf(ms, sizeof(ms), "%.3f", (double)(t1 - t0) / 1e6);
        log_kv(LOG_INFO, "webhook", "admission", "uid", rv.uid, "ns", rv.ns,
               "pod", rv.name[0] ? rv.name : rv.generate_name, "op",
               rv.operation, "decision", wh_decision_name(oc.decision),
               "reason", oc.reason, "ms", ms, NULL);
        t1 = cpu_ns();
        t_log += t1 - t0;
        t0 = t1;
        decision = wh_decision_name(oc.decision);
        out_len = out.len;
        wh_outcome_cleanup(&oc);
        wh_review_cleanup(&rv);
        arena_used = mem_arena_used();
        mem_arena_end();
        t_free += cpu_ns() - t0;
    }
    printf("bench_admission: %s (%zu B) x %ld: decision %s, response %zu B\n",
           argv[1], body.len, iters, decision, out_len);
    printf("cpu us/admission (%s): decode %.1f, admit %.1f, encode %.1f, "
           "log %.1f, free %.1f, total %.1f\n",
           arena ? "arena" : "malloc", (double)t_dec / 1e3 / (double)iters,
           (double)t_adm / 1e3 / (double)iters,
           (double)t_enc / 1e3 / (double)iters,
           (double)t_log / 1e3 / (double)iters,
           (double)t_free / 1e3 / (double)iters,
           (double)(t_dec + t_adm + t_enc + t_log + t_free) / 1e3 /
               (double)iters);
    if (arena)
        printf("arena: %zu bytes per admission\n", arena_used);
    rc = 0;
done:
    if (nullfd >= 0)
        close(nullfd);
    buf_cleanup(&out);
    buf_cleanup(&body);
    inj_config_free(cfg);
    return rc;
}
