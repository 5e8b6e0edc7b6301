/* bench_inject.c: how long inj_pod_inject takes, in-process, for (a) a
 * typical Deployment-made pod and (b) a pod with 2000 env vars, each against
 * the floor of any JSON-in/JSON-out work measured in the same run: a deep
 * copy plus a serialization of the same pod.
 *
 * Each case runs for the given seconds or BENCH_MAX_ITERS iterations
 * (whichever comes first), after a short warm-up, with the injection and
 * the baseline interleaved, and prints mean, p50 and p99 of the thread CPU
 * time per operation in microseconds (the build machine is shared: CPU time
 * leaves out the time other processes ran), the wall-clock mean, and the
 * ratio to the baseline. Goals (issue 2): typical < 50 us, 2000-env < 5 ms.
 *
 *   bench_inject [seconds]     default 2 s per measurement
 *   bench_inject -n N [typical|big]
 *                              N injections then N baselines of each case
 *                              (or one), untimed: for instruction counts
 *                              under callgrind, see icount.sh, which
 *                              collects run_inject and run_baseline. */
#include "injector/injector.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_ITERS 200000
#define BENCH_WARMUP 50

static const char typical_pod[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
    "\"name\":\"reviews-v1-7d9f8c6b5-x2x4k\","
    "\"generateName\":\"reviews-v1-7d9f8c6b5-\",\"namespace\":\"bookinfo\","
    "\"labels\":{\"app\":\"reviews\",\"version\":\"v1\","
    "\"pod-template-hash\":\"7d9f8c6b5\",\"team\":\"books\"},"
    "\"annotations\":{\"prometheus.io/scrape\":\"true\","
    "\"prometheus.io/port\":\"9080\",\"kubectl.kubernetes.io/restartedAt\":"
    "\"2024-05-01T10:00:00Z\"},"
    "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":"
    "\"ReplicaSet\",\"name\":\"reviews-v1-7d9f8c6b5\",\"uid\":"
    "\"0b1c2d3e-0000-4000-8000-000000000001\",\"controller\":true,"
    "\"blockOwnerDeletion\":true}]},"
    "\"spec\":{\"serviceAccountName\":\"bookinfo-reviews\","
    "\"containers\":[{\"name\":\"reviews\",\"image\":"
    "\"docker.io/istio/examples-bookinfo-reviews-v1:1.18.0\","
    "\"imagePullPolicy\":\"IfNotPresent\","
    "\"ports\":[{\"name\":\"http\",\"containerPort\":9080,\"protocol\":"
    "\"TCP\"},{\"name\":\"admin\",\"containerPort\":9081,\"protocol\":"
    "\"TCP\"}],"
    "\"env\":[{\"name\":\"LOG_DIR\",\"value\":\"/tmp/logs\"},{\"name\":"
    "\"ENABLE_RATINGS\",\"value\":\"true\"},{\"name\":\"STAR_COLOR\","
    "\"value\":\"black\"}],"
    "\"readinessProbe\":{\"httpGet\":{\"path\":\"/health\",\"port\":"
    "\"http\",\"scheme\":\"HTTP\"},\"periodSeconds\":10,"
    "\"timeoutSeconds\":1},"
    "\"livenessProbe\":{\"tcpSocket\":{\"port\":9080},"
    "\"periodSeconds\":20,\"timeoutSeconds\":1},"
    "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}},"
    "\"volumeMounts\":[{\"name\":\"tmp\",\"mountPath\":\"/tmp\"}],"
    "\"terminationMessagePath\":\"/dev/termination-log\","
    "\"terminationMessagePolicy\":\"File\"}],"
    "\"volumes\":[{\"name\":\"tmp\",\"emptyDir\":{}}],"
    "\"restartPolicy\":\"Always\",\"dnsPolicy\":\"ClusterFirst\","
    "\"schedulerName\":\"default-scheduler\","
    "\"terminationGracePeriodSeconds\":30}}";

/* big_env_pod: the typical pod with n env vars on its container. */
static json_t *
big_env_pod(int n)
{
    json_t *pod = json_loads(typical_pod, 0, NULL); /* owned */
    json_t *env = json_array();                     /* owned */

    if (pod == NULL || env == NULL)
        goto fail;
    for (int i = 0; i < n; i++) {
        char name[32], val[64];

        snprintf(name, sizeof(name), "APP_SETTING_%04d", i);
        snprintf(val, sizeof(val), "value-%d-of-the-application-setting", i);
        if (json_array_append_new(
                env, json_pack("{s:s,s:s}", "name", name, "value", val)) != 0)
            goto fail;
    }
    json_t *ctr = json_array_get(
        json_object_get(json_object_get(pod, "spec"), "containers"), 0);
    if (json_object_set_new(ctr, "env", env) != 0) {
        env = NULL;
        goto fail;
    }
    return pod;
fail:
    json_decref(env);
    json_decref(pod);
    return NULL;
}

static double
clock_us(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

struct stats {
    long n;
    double mean, p50, p99; /* thread CPU time per operation, us */
    double wall_mean;      /* wall-clock time per operation, us */
};

enum op { OP_INJECT, OP_BASELINE };

struct job {
    const struct inj_config *cfg;
    const json_t *pod;
};

/* run_inject and run_baseline are the two operations; never inlined, so
 * that callgrind can collect exactly them (icount.sh). */
__attribute__((noinline)) static int
run_inject(const struct job *j)
{
    struct inj_input in = {.pod = j->pod, .ns = "bookinfo"};
    struct inj_result res = {0};
    int rc = inj_pod_inject(j->cfg, &in, &res);

    if (rc == 0 && !res.injected)
        rc = errmsg_set(RC_INTERNAL, "pod not injected: %s", res.reason);
    inj_result_cleanup(&res);
    return rc;
}

__attribute__((noinline)) static int
run_baseline(const struct job *j)
{
    json_t *copy = json_deep_copy(j->pod); /* owned */
    char *s = copy ? json_dumps(copy, JSON_COMPACT) : NULL;
    int rc = s ? 0 : RC_NOMEM;

    mem_free(s);
    json_decref(copy);
    return rc;
}

/* once runs one operation; 0 or an RC_* code. */
static int
once(enum op op, const struct job *j)
{
    return op == OP_INJECT ? run_inject(j) : run_baseline(j);
}

/* untimed: n injections, then n baselines (instruction counting). */
static int
untimed(const struct inj_config *cfg, const json_t *pod, long n)
{
    struct job j = {.cfg = cfg, .pod = pod};
    int rc = 0;

    for (long i = 0; i < n && rc == 0; i++)
        rc = run_inject(&j);
    for (long i = 0; i < n && rc == 0; i++)
        rc = run_baseline(&j);
    if (rc != 0)
        fprintf(stderr, "bench_inject: %s\n", errmsg_get());
    return rc;
}

/* timed runs one operation and adds its times to the sample arrays. */
static int
timed(enum op op, const struct job *j, double *cpu, double *wall_sum, long n)
{
    double w0 = clock_us(CLOCK_MONOTONIC);
    double c0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
    int rc = once(op, j);

    cpu[n] = clock_us(CLOCK_THREAD_CPUTIME_ID) - c0;
    *wall_sum += clock_us(CLOCK_MONOTONIC) - w0;
    return rc;
}

static void
summarize(double *samples, long n, double wall_sum, struct stats *st)
{
    double sum = 0;

    for (long i = 0; i < n; i++)
        sum += samples[i];
    qsort(samples, (size_t)n, sizeof(double), cmp_double);
    st->n = n;
    st->mean = sum / (double)n;
    st->p50 = samples[n / 2];
    st->p99 = samples[(long)((double)(n - 1) * 0.99)];
    st->wall_mean = wall_sum / (double)n;
}

/* measure interleaves the injection and the baseline (alternating which
 * goes first) so that both see the same machine: this host is shared, and
 * thread CPU time leaves out the time the benchmark was not running. */
static int
measure(const struct job *j, double seconds, double *sa, double *sb,
        struct stats *inj, struct stats *base)
{
    double end, wa = 0, wb = 0;
    long n = 0;
    int rc;

    for (int i = 0; i < BENCH_WARMUP; i++)
        if ((rc = once(OP_INJECT, j)) != 0 || (rc = once(OP_BASELINE, j)) != 0)
            return rc;
    end = clock_us(CLOCK_MONOTONIC) + seconds * 1e6;
    while (n < BENCH_MAX_ITERS && clock_us(CLOCK_MONOTONIC) < end) {
        if (n % 2 == 0)
            rc = timed(OP_INJECT, j, sa, &wa, n) ||
                 timed(OP_BASELINE, j, sb, &wb, n);
        else
            rc = timed(OP_BASELINE, j, sb, &wb, n) ||
                 timed(OP_INJECT, j, sa, &wa, n);
        if (rc != 0)
            return RC_INTERNAL;
        n++;
    }
    summarize(sa, n, wa, inj);
    summarize(sb, n, wb, base);
    return 0;
}

static int
run_case(const char *title, const struct inj_config *cfg, const json_t *pod,
         double goal_us, double seconds, double *sa, double *sb)
{
    struct job j = {.cfg = cfg, .pod = pod};
    struct stats inj, base;
    char *text = json_dumps(pod, JSON_COMPACT);
    size_t bytes = text ? strlen(text) : 0;

    mem_free(text);
    if (measure(&j, seconds, sa, sb, &inj, &base) != 0) {
        fprintf(stderr, "bench_inject: %s: %s\n", title, errmsg_get());
        return -1;
    }
    printf("%s (%zu bytes of JSON), n=%ld each, CPU time per operation:\n",
           title, bytes, inj.n);
    printf("  inj_pod_inject       mean %9.2f us  p50 %9.2f us  p99 %9.2f "
           "us  (wall mean %9.2f us)\n",
           inj.mean, inj.p50, inj.p99, inj.wall_mean);
    printf("  baseline copy+dumps  mean %9.2f us  p50 %9.2f us  p99 %9.2f "
           "us  (wall mean %9.2f us)\n",
           base.mean, base.p50, base.p99, base.wall_mean);
    printf("  ratio inject/baseline  %.2fx (mean), %.2fx (p50)\n",
           inj.mean / base.mean, inj.p50 / base.p50);
    printf("  goal < %.0f us: %s (mean), %s (p50)\n", goal_us,
           inj.mean < goal_us ? "met" : "NOT MET",
           inj.p50 < goal_us ? "met" : "NOT MET");
    return 0;
}

int
main(int argc, char **argv)
{
    struct inj_config *cfg = NULL;
    json_t *typical = NULL, *big = NULL; /* owned */
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    double *sa = NULL, *sb = NULL;
    long count = 0;
    const char *only = NULL;
    int rc = 1;

    /* as in the webhook and mizzenctl: jansson allocates through mem.h */
    mem_init_jansson();
    if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        count = strtol(argv[2], NULL, 10);
        only = argc > 3 ? argv[3] : NULL;
        if (count <= 0 || count > 1000000 ||
            (only && strcmp(only, "typical") != 0 && strcmp(only, "big"))) {
            fprintf(stderr, "usage: bench_inject [seconds] | "
                            "-n N [typical|big]\n");
            return 2;
        }
    }
    if (!(seconds > 0 && seconds < 3600))
        seconds = 2.0;
    sa = mem_calloc(BENCH_MAX_ITERS, sizeof(double));
    sb = mem_calloc(BENCH_MAX_ITERS, sizeof(double));
    typical = json_loads(typical_pod, 0, NULL);
    big = big_env_pod(2000);
    if (sa == NULL || sb == NULL || typical == NULL || big == NULL) {
        fprintf(stderr, "bench_inject: out of memory\n");
        goto out;
    }
    if (inj_config_load(&cfg, NULL, 0, NULL, 0) != 0) {
        fprintf(stderr, "bench_inject: default config: %s\n", errmsg_get());
        goto out;
    }
    if (count > 0) {
        if ((only == NULL || strcmp(only, "typical") == 0) &&
            untimed(cfg, typical, count) != 0)
            goto out;
        if ((only == NULL || strcmp(only, "big") == 0) &&
            untimed(cfg, big, count) != 0)
            goto out;
        rc = 0;
        goto out;
    }
    printf("bench inject: in-process sidecar injection, %.1f s or %d "
           "iterations per measurement\n",
           seconds, BENCH_MAX_ITERS);
    if (run_case("typical pod (1 container, 2 ports, 3 env, 2 probes)", cfg,
                 typical, 50, seconds, sa, sb) != 0 ||
        run_case("pod with 2000 env vars", cfg, big, 5000, seconds, sa, sb) !=
            0)
        goto out;
    rc = 0;
out:
    inj_config_free(cfg);
    json_decref(big);
    json_decref(typical);
    mem_free(sb);
    mem_free(sa);
    return rc;
}
