/* lease_tool.c: a test-only leader-election client (lib/lease). It
 * campaigns for a Lease and, while leader, writes its identity, term
 * (leaseTransitions of its term) and a counter into a ConfigMap every
 * --write-ms. Each write is fenced in time: right before it,
 * lease_remaining_ms() must exceed the write client's request timeout
 * (--write-timeout-ms), so no write starts, or is waited for, past the
 * moment another candidate could take the Lease. e2e scripts run two of
 * them and check from the server's history that terms never interleave.
 *
 *   lease_tool --kubeconfig FILE --namespace NS --lease NAME --configmap CM
 *              [--identity ID] [--lease-ms 15000] [--renew-ms 10000]
 *              [--retry-ms 2000] [--request-ms N] [--write-ms 300]
 *              [--write-timeout-ms 2000]
 *
 * Lines on stdout: {"ev":"started"|"stopped","id":..,"t":unix_ms},
 * {"ev":"write","id":..,"t":end_ms,"start":ms,"until":ms,"term":..,
 * "counter":..,"ok":true|false} ("until": start + lease_remaining_ms, the
 * latest instant the write may be in flight), {"ev":"skip",..,"start":ms,
 * "left":ms} when leader but with too little time left for a write ("start"
 * is read just before lease_remaining_ms, as for writes).
 * SIGTERM/SIGINT: stop (the lease is released), exit 0. */
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/kubecfg.h"
#include "lib/kubeclient.h"
#include "lib/lease.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lease *the_lease;

static long long
unix_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
say_ev(const char *ev, const char *id, int term)
{
    pthread_mutex_lock(&out_mu);
    printf("{\"ev\":\"%s\",\"id\":\"%s\",\"t\":%lld,\"term\":%d}\n", ev, id,
           unix_ms(), term);
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

static void
say_write(const char *id, long long start, long long until, int term,
          long counter, int ok)
{
    pthread_mutex_lock(&out_mu);
    printf("{\"ev\":\"write\",\"id\":\"%s\",\"t\":%lld,\"start\":%lld,"
           "\"until\":%lld,\"term\":%d,\"counter\":%ld,\"ok\":%s}\n",
           id, unix_ms(), start, until, term, counter, ok ? "true" : "false");
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

static void
say_skip(const char *id, long long start, long long left)
{
    pthread_mutex_lock(&out_mu);
    printf("{\"ev\":\"skip\",\"id\":\"%s\",\"t\":%lld,\"start\":%lld,"
           "\"left\":%lld}\n",
           id, unix_ms(), start, left);
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

static void
started(void *ud)
{
    say_ev("started", lease_identity(the_lease), lease_term(the_lease));
}

static void
stopped(void *ud)
{
    say_ev("stopped", lease_identity(the_lease), -1);
}

static int
usage(void)
{
    fputs("usage: lease_tool --kubeconfig FILE --namespace NS --lease NAME "
          "--configmap CM [--identity ID] [--lease-ms N] [--renew-ms N] "
          "[--retry-ms N] [--request-ms N] [--write-ms N] "
          "[--write-timeout-ms N]\n",
          stderr);
    return 2;
}

/* write_cm: merge-patch (create on 404) the ConfigMap with our term. The
 * create is a second request: fenced again (RC_TIMEOUT if no time left). */
static int
write_cm(struct kube_client *c, const char *ns, const char *cm, const char *id,
         int term, long counter, int timeout_ms)
{
    char t[16], n[24];
    json_t *p;
    int rc;

    snprintf(t, sizeof(t), "%d", term);
    snprintf(n, sizeof(n), "%ld", counter);
    p = json_pack("{s:{s:s,s:s},s:{s:s,s:s,s:s}}", "metadata", "name", cm,
                  "namespace", ns, "data", "holder", id, "term", t, "counter",
                  n);
    if (p == NULL)
        return RC_NOMEM;
    rc = kube_patch(c, &KUBE_CONFIGMAPS, ns, cm, NULL, KUBE_PATCH_MERGE, p,
                    NULL, 0, NULL);
    if (rc == RC_NOTFOUND) {
        if (lease_remaining_ms(the_lease, NULL) > timeout_ms)
            rc = kube_create(c, &KUBE_CONFIGMAPS, ns, p, NULL);
        else
            rc = errmsg_set(RC_TIMEOUT, "no time left in the lease");
    }
    json_decref(p);
    return rc;
}

int
main(int argc, char **argv)
{
    const char *kc = NULL, *ns = NULL, *name = NULL, *cm = NULL;
    struct lease_opts o = {0};
    struct kube_client_opts co = {0};
    struct kube_config *cfg = NULL;
    struct kube_client *c = NULL;
    struct log_opts lo = {0};
    int write_ms = 300, write_timeout_ms = 2000, rc, status = 1;
    long counter = 0;
    sigset_t set;

    mem_init_jansson();
    lo.fd = 2;
    lo.level = LOG_INFO;
    log_init(&lo);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            return usage();
        i++;
        if (strcmp(a, "--kubeconfig") == 0)
            kc = v;
        else if (strcmp(a, "--namespace") == 0)
            ns = v;
        else if (strcmp(a, "--lease") == 0)
            name = v;
        else if (strcmp(a, "--configmap") == 0)
            cm = v;
        else if (strcmp(a, "--identity") == 0)
            o.identity = v;
        else if (strcmp(a, "--lease-ms") == 0)
            o.lease_duration_ms = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--renew-ms") == 0)
            o.renew_deadline_ms = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--retry-ms") == 0)
            o.retry_period_ms = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--request-ms") == 0)
            o.request_timeout_ms = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--write-ms") == 0)
            write_ms = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--write-timeout-ms") == 0)
            write_timeout_ms = (int)strtol(v, NULL, 10);
        else
            return usage();
    }
    if (kc == NULL || ns == NULL || name == NULL || cm == NULL ||
        write_ms <= 0 || write_timeout_ms <= 0)
        return usage();
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    o.ns = ns;
    o.name = name;
    o.started_leading = started;
    o.stopped_leading = stopped;
    /* every write's timeout is checked against lease_remaining_ms() */
    co.timeout_ms = write_timeout_ms;
    co.max_retries = -1;
    if ((rc = kube_config_from_file(&cfg, kc, NULL)) != 0 ||
        (rc = kube_client_new(&c, cfg, &co)) != 0 ||
        (rc = lease_new(&the_lease, cfg, &o)) != 0 ||
        (rc = lease_start(the_lease)) != 0)
        goto done;
    for (;;) {
        struct timespec ts = {write_ms / 1000, (write_ms % 1000) * 1000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        /* the fence, right before the write: leader now, and the write's
         * timeout ends before another candidate could take the Lease */
        int term;
        long long start = unix_ms(); /* before: start + left is not late */
        int64_t left = lease_remaining_ms(the_lease, &term);
        if (left <= 0)
            continue; /* not leader */
        if (left <= write_timeout_ms) {
            say_skip(lease_identity(the_lease), start, (long long)left);
            continue;
        }
        counter++;
        rc = write_cm(c, ns, cm, lease_identity(the_lease), term, counter,
                      write_timeout_ms);
        say_write(lease_identity(the_lease), start, start + left, term, counter,
                  rc == 0);
    }
    rc = 0;
    status = 0;
done:
    if (rc != 0)
        fprintf(stderr, "lease_tool: %s: %s\n", rc_str(rc), errmsg_get());
    lease_free(the_lease);
    kube_client_free(c);
    kube_config_free(cfg);
    log_shutdown();
    return status;
}
