/* bench_inject.c: how long inj_pod_inject takes, in-process, for (a) a
 * typical Deployment-made pod and (b) a pod with 2000 env vars, each against
 * the floor of any JSON-in/JSON-out work measured in the same run: a deep
 * copy plus a serialization of the same pod.
 *
 * Each case runs until BENCH_SECONDS have passed or BENCH_MAX_ITERS
 * iterations are done (whichever first), after a short warm-up, and prints
 * mean, p50 and p99 per operation in microseconds and the ratio to the
 * baseline. Goals (issue 2): typical < 50 us, 2000-env < 5 ms.
 *
 *   bench_inject [seconds]     default 2 s per measurement */
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
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
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
    double mean, p50, p99;
};

enum op { OP_INJECT, OP_BASELINE };

struct job {
    const struct inj_config *cfg;
    const json_t *pod;
};

/* once runs one operation; 0 or an RC_* code. */
static int
once(enum op op, const struct job *j)
{
    if (op == OP_INJECT) {
        struct inj_input in = {.pod = j->pod, .ns = "bookinfo"};
        struct inj_result res = {0};
        int rc = inj_pod_inject(j->cfg, &in, &res);

        if (rc == 0 && !res.injected)
            rc = errmsg_set(RC_INTERNAL, "pod not injected: %s", res.reason);
        inj_result_cleanup(&res);
        return rc;
    }
    json_t *copy = json_deep_copy(j->pod); /* owned */
    char *s = copy ? json_dumps(copy, JSON_COMPACT) : NULL;
    int rc = s ? 0 : RC_NOMEM;

    mem_free(s);
    json_decref(copy);
    return rc;
}

static int
measure(enum op op, const struct job *j, double seconds, double *samples,
        struct stats *st)
{
    double start, end, sum = 0;
    long n = 0;
    int rc;

    for (int i = 0; i < BENCH_WARMUP; i++)
        if ((rc = once(op, j)) != 0)
            return rc;
    start = now_us();
    end = start + seconds * 1e6;
    while (n < BENCH_MAX_ITERS) {
        double t0 = now_us(), t1;

        if ((rc = once(op, j)) != 0)
            return rc;
        t1 = now_us();
        samples[n++] = t1 - t0;
        sum += t1 - t0;
        if (t1 >= end)
            break;
    }
    qsort(samples, (size_t)n, sizeof(double), cmp_double);
    st->n = n;
    st->mean = sum / (double)n;
    st->p50 = samples[n / 2];
    st->p99 = samples[(long)((double)(n - 1) * 0.99)];
    return 0;
}

static int
run_case(const char *title, const struct inj_config *cfg, const json_t *pod,
         double goal_us, double seconds, double *samples)
{
    struct job j = {.cfg = cfg, .pod = pod};
    struct stats inj, base;
    char *text = json_dumps(pod, JSON_COMPACT);
    size_t bytes = text ? strlen(text) : 0;
    int rc;

    mem_free(text);
    if ((rc = measure(OP_INJECT, &j, seconds, samples, &inj)) != 0 ||
        (rc = measure(OP_BASELINE, &j, seconds, samples, &base)) != 0) {
        fprintf(stderr, "bench_inject: %s: %s (%s)\n", title, errmsg_get(),
                rc_str(rc));
        return rc;
    }
    printf("%s (%zu bytes of JSON)\n", title, bytes);
    printf("  inj_pod_inject         n=%-7ld mean %9.2f us  p50 %9.2f us  "
           "p99 %9.2f us\n",
           inj.n, inj.mean, inj.p50, inj.p99);
    printf("  baseline copy+dumps    n=%-7ld mean %9.2f us  p50 %9.2f us  "
           "p99 %9.2f us\n",
           base.n, base.mean, base.p50, base.p99);
    printf("  ratio inject/baseline  %.1fx (mean)\n", inj.mean / base.mean);
    printf("  goal mean < %.0f us     %s\n", goal_us,
           inj.mean < goal_us ? "met" : "NOT MET");
    return 0;
}

int
main(int argc, char **argv)
{
    struct inj_config *cfg = NULL;
    json_t *typical = NULL, *big = NULL; /* owned */
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    double *samples = NULL;
    int rc = 1;

    /* as in the webhook and mizzenctl: jansson allocates through mem.h */
    mem_init_jansson();
    if (!(seconds > 0 && seconds < 3600))
        seconds = 2.0;
    samples = mem_calloc(BENCH_MAX_ITERS, sizeof(double));
    typical = json_loads(typical_pod, 0, NULL);
    big = big_env_pod(2000);
    if (samples == NULL || typical == NULL || big == NULL) {
        fprintf(stderr, "bench_inject: out of memory\n");
        goto out;
    }
    if (inj_config_load(&cfg, NULL, 0, NULL, 0) != 0) {
        fprintf(stderr, "bench_inject: default config: %s\n", errmsg_get());
        goto out;
    }
    printf("bench inject: in-process sidecar injection, %.1f s or %d "
           "iterations per measurement\n",
           seconds, BENCH_MAX_ITERS);
    if (run_case("typical pod (1 container, 2 ports, 3 env, 2 probes)", cfg,
                 typical, 50, seconds, samples) != 0 ||
        run_case("pod with 2000 env vars", cfg, big, 5000, seconds, samples) !=
            0)
        goto out;
    rc = 0;
out:
    inj_config_free(cfg);
    json_decref(big);
    json_decref(typical);
    mem_free(samples);
    return rc;
}
