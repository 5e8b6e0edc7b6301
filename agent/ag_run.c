/* ag_run.c: mizzen-agent's supervisor loop and `wait` (ag_run.h).
 *
 * States of the proxy loop:
 *   RUN     Envoy runs (or waits for certificates / a crash restart)
 *   DRAIN   SIGTERM seen: inbound listeners drained, waiting
 *           terminationDrainDuration (no restarts any more)
 *   STOP    Envoy was sent SIGTERM (SIGKILL after stop-grace); the loop
 *           ends once every child is reaped
 * Every child is reaped with waitpid(-1, WNOHANG) after each wake-up, so
 * orphans reparented to the agent (PID 1, or a subreaper) never linger and
 * Envoy's status is never lost. */
#include "agent/ag_run.h"
#include "lib/clock.h"
#include "agent/ag_bootstrap.h"
#include "agent/ag_certwatch.h"
#include "agent/ag_envoy.h"
#include "agent/ag_http.h"
#include "agent/ag_inputs.h"
#include "agent/ag_metrics.h"
#include "agent/ag_status.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum phase { PH_RUN, PH_DRAIN, PH_STOP };

struct run {
    const struct ag_opts *o;
    char **envp;
    struct ag_node node;
    struct ag_probers probers;
    struct ag_prom prom;
    json_t *labels;      /* owned, may be NULL */
    json_t *annotations; /* owned, may be NULL */
    json_t *bootstrap;   /* owned */
    char *override_yaml;
    struct ag_stats stats;
    struct ag_envoy envoy;
    struct ag_certwatch cw;
    struct ag_status *status;
    int sfd, efd;
    atomic_int shutting_down;
    atomic_int want_quit, want_drain;
    enum phase phase;
    int drained;          /* drain_listeners was called */
    int waiting_certs;    /* Envoy not started yet: no certificates */
    uint64_t drain_until; /* PH_DRAIN ends */
};

static void
blocked_set(sigset_t *s)
{
    sigemptyset(s);
    sigaddset(s, SIGTERM);
    sigaddset(s, SIGINT);
    sigaddset(s, SIGCHLD);
    sigaddset(s, SIGHUP);
    sigaddset(s, SIGQUIT);
}

int
ag_run_block_signals(void)
{
    sigset_t s;
    struct sigaction sa;

    blocked_set(&s);
    if (sigprocmask(SIG_BLOCK, &s, NULL) != 0)
        return errmsg_set(RC_INTERNAL, "sigprocmask: %s", strerror(errno));
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return errmsg_set(RC_INTERNAL, "sigaction: %s", strerror(errno));
    return 0;
}

/* read_file reads at most max bytes of path into *out (NUL-terminated,
 * caller frees). RC_NOTFOUND when absent, RC_LIMIT over max, RC_IO. */
static int
read_file(const char *path, size_t max, char **out, size_t *len)
{
    struct buf b;
    char chunk[8192];
    int fd, rc = 0;

    *out = NULL;
    buf_init(&b, max);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT
                   ? errmsg_set(RC_NOTFOUND, "%s does not exist", path)
                   : errmsg_set(RC_IO, "open %s: %s", path, strerror(errno));
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = errmsg_set(RC_IO, "read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        rc = buf_add(&b, chunk, (size_t)n);
        if (rc != 0) {
            rc = errmsg_prefix(rc, "%s", path);
            break;
        }
    }
    close(fd);
    if (rc == 0)
        *out = buf_take(&b, len);
    buf_cleanup(&b);
    if (rc == 0 && *out == NULL)
        rc = errmsg_set(RC_NOMEM, "out of memory");
    return rc;
}

static json_t *
read_podinfo(const char *dir, const char *name)
{
    char path[4200];
    char *text = NULL;
    size_t len = 0;
    json_t *obj = NULL;
    int rc;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    rc = read_file(path, AG_INPUT_MAX_BYTES, &text, &len);
    if (rc == RC_NOTFOUND)
        return NULL;
    if (rc == 0)
        rc = ag_podinfo_parse(&obj, text, len);
    if (rc != 0)
        log_kv(LOG_WARN, "agent", "pod info ignored", "file", path, "err",
               errmsg_get(), NULL);
    mem_free(text);
    return obj;
}

static void
notify(struct run *r)
{
    uint64_t one = 1;

    if (write(r->efd, &one, sizeof one) < 0) {
        /* the counter is saturated: a wake-up is pending anyway */
    }
}

static void
on_quit(void *arg)
{
    struct run *r = arg;

    atomic_store(&r->want_quit, 1);
    notify(r);
}

static void
on_drain(void *arg)
{
    struct run *r = arg;

    atomic_store(&r->want_drain, 1);
    notify(r);
}

static int
load_inputs(struct run *r)
{
    const char *v;
    int rc;

    v = ag_env_get(r->envp, "ISTIO_KUBE_APP_PROBERS");
    rc = ag_probers_parse(&r->probers, v ? v : "", v ? strlen(v) : 0);
    if (rc != 0)
        return rc;
    v = ag_env_get(r->envp, "ISTIO_PROMETHEUS_ANNOTATIONS");
    if (ag_prom_parse(&r->prom, v ? v : "", v ? strlen(v) : 0) != 0)
        log_kv(LOG_WARN, "agent", "app metrics will not be merged", "err",
               errmsg_get(), NULL);
    r->labels = read_podinfo(r->o->pod_info_dir, "labels");
    r->annotations = read_podinfo(r->o->pod_info_dir, "annotations");
    if (*r->o->bootstrap_override) {
        size_t len = 0;

        /* it becomes one argv string: the kernel caps those at 128 KiB */
        rc = read_file(r->o->bootstrap_override, 100 << 10, &r->override_yaml,
                       &len);
        if (rc != 0)
            log_kv(LOG_WARN, "agent", "bootstrap override ignored", "err",
                   errmsg_get(), NULL);
    }
    rc = ag_node_init(&r->node, r->o, r->envp, r->labels);
    rc = rc ? rc
            : ag_bootstrap_build(&r->bootstrap, r->o, &r->node, r->envp,
                                 r->labels, r->annotations);
    return rc;
}

static void
reap(struct run *r)
{
    for (;;) {
        int ws = 0;
        pid_t pid = waitpid(-1, &ws, WNOHANG);

        if (pid <= 0)
            break;
        if (ag_envoy_reaped(&r->envoy, pid, ws, clock_mono_ms()) ==
            AG_EXIT_UNKNOWN) {
            char pid_s[16];

            snprintf(pid_s, sizeof pid_s, "%d", (int)pid);
            log_kv(LOG_DEBUG, "agent", "reaped an orphan", "pid", pid_s, NULL);
        }
    }
}

static void
start_stop(struct run *r, int immediate)
{
    r->phase = PH_STOP;
    ag_envoy_stop(&r->envoy, clock_mono_ms(), immediate);
}

static void
start_drain(struct run *r)
{
    char d_s[24];

    atomic_store(&r->shutting_down, 1);
    r->envoy.stopping = 1; /* no restarts from now on */
    if (ag_envoy_running(&r->envoy) == 0) {
        start_stop(r, 0);
        return;
    }
    if (r->drained) { /* POST /drain did it already: stop at once */
        start_stop(r, 0);
        return;
    }
    if (ag_envoy_drain(&r->envoy) != 0)
        log_kv(LOG_WARN, "agent", "drain_listeners failed", "err", errmsg_get(),
               NULL);
    r->drained = 1;
    r->phase = PH_DRAIN;
    r->drain_until = clock_mono_ms() + (uint64_t)r->o->drain_ms;
    snprintf(d_s, sizeof d_s, "%ld", r->o->drain_ms);
    log_kv(LOG_INFO, "agent", "draining inbound listeners", "duration_ms", d_s,
           NULL);
}

static void
on_signal(struct run *r)
{
    struct signalfd_siginfo si;

    while (read(r->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;

        if (sig == SIGCHLD)
            continue; /* reaped after every wake-up */
        if (sig == SIGHUP) {
            log_kv(LOG_INFO, "agent", "SIGHUP ignored", NULL);
            continue;
        }
        log_kv(LOG_INFO, "agent", "signal received", "signal", strsignal(sig),
               NULL);
        if (r->phase == PH_RUN)
            start_drain(r);
        else if (r->phase == PH_DRAIN)
            start_stop(r, 0); /* a second signal ends the drain */
        else
            start_stop(r, 1); /* a third: SIGKILL */
    }
}

static void
on_certs(struct run *r, uint64_t now)
{
    char h_s[24];

    if (!ag_certwatch_tick(&r->cw, now))
        return;
    atomic_fetch_add(&r->stats.cert_changes, 1);
    snprintf(h_s, sizeof h_s, "%016llx", (unsigned long long)r->cw.hash);
    log_kv(LOG_INFO, "agent", "certificates changed", "dir", r->o->certs_dir,
           "hash", h_s, "complete", r->cw.complete ? "true" : "false", NULL);
    if (r->phase != PH_RUN)
        return;
    if (r->waiting_certs) {
        if (!r->cw.complete)
            return;
        r->waiting_certs = 0;
        (void)ag_envoy_start(&r->envoy, 0, now);
        return;
    }
    (void)ag_envoy_hot_restart(&r->envoy, now);
}

static int
poll_timeout(struct run *r, uint64_t now)
{
    uint64_t d = ag_envoy_deadline(&r->envoy);
    uint64_t c = ag_certwatch_deadline(&r->cw);

    if (c && (d == 0 || c < d))
        d = c;
    if (r->phase == PH_DRAIN && (d == 0 || r->drain_until < d))
        d = r->drain_until;
    if (d == 0)
        return 1000;
    if (d <= now)
        return 0;
    return d - now > 1000 ? 1000 : (int)(d - now);
}

static int
loop(struct run *r)
{
    for (;;) {
        struct pollfd pf[3] = {
            {r->sfd, POLLIN, 0}, {r->efd, POLLIN, 0}, {r->cw.fd, POLLIN, 0}};
        uint64_t now = clock_mono_ms();
        int n = poll(pf, r->cw.fd >= 0 ? 3 : 2, poll_timeout(r, now));

        if (n < 0 && errno != EINTR) {
            log_kv(LOG_ERROR, "agent", "poll failed", "err", strerror(errno),
                   NULL);
            start_stop(r, 1);
        }
        now = clock_mono_ms();
        if (n > 0 && (pf[0].revents & POLLIN))
            on_signal(r);
        if (n > 0 && (pf[1].revents & POLLIN)) {
            uint64_t v;

            if (read(r->efd, &v, sizeof v) < 0) {
                /* nothing pending after all */
            }
        }
        if (atomic_exchange(&r->want_drain, 0) && r->phase == PH_RUN &&
            !r->drained && ag_envoy_running(&r->envoy)) {
            if (ag_envoy_drain(&r->envoy) != 0)
                log_kv(LOG_WARN, "agent", "drain_listeners failed", "err",
                       errmsg_get(), NULL);
            r->drained = 1;
        }
        if (atomic_exchange(&r->want_quit, 0) && r->phase != PH_STOP) {
            atomic_store(&r->shutting_down, 1);
            start_stop(r, 0);
        }
        if (n > 0 && r->cw.fd >= 0 && (pf[2].revents & POLLIN))
            ag_certwatch_on_readable(&r->cw, now);
        reap(r);
        on_certs(r, now);
        ag_envoy_tick(&r->envoy, now);
        if (r->phase == PH_DRAIN &&
            (now >= r->drain_until || ag_envoy_running(&r->envoy) == 0))
            start_stop(r, 0);
        if (r->phase == PH_STOP && ag_envoy_running(&r->envoy) == 0)
            return ag_envoy_exit_code(&r->envoy);
    }
}

int
ag_run_proxy(const struct ag_opts *o, char **envp)
{
    struct run *r = NULL;
    struct ag_status_cfg sc;
    sigset_t s;
    int code = 1, rc;

    r = mem_calloc(1, sizeof *r);
    if (r == NULL) {
        log_kv(LOG_ERROR, "agent", "out of memory", NULL);
        return 1;
    }
    r->o = o;
    r->envp = envp;
    r->sfd = r->efd = -1;
    r->cw.fd = -1;
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    blocked_set(&s);
    r->sfd = signalfd(-1, &s, SFD_NONBLOCK | SFD_CLOEXEC);
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->sfd < 0 || r->efd < 0) {
        log_kv(LOG_ERROR, "agent", "signalfd/eventfd failed", "err",
               strerror(errno), NULL);
        goto out;
    }
    rc = load_inputs(r);
    if (rc != 0) {
        log_kv(LOG_ERROR, "agent", "cannot start", "err", errmsg_get(), NULL);
        goto out;
    }
    if (r->node.ip_defaulted)
        log_kv(LOG_WARN, "agent", "INSTANCE_IP is not set: using 127.0.0.1",
               NULL);
    ag_envoy_init(&r->envoy, o, &r->node, r->bootstrap, r->override_yaml, envp,
                  &r->stats);
    memset(&sc, 0, sizeof sc);
    sc.o = o;
    sc.node = &r->node;
    sc.probers = &r->probers;
    sc.prom = &r->prom;
    sc.probe.pod_ip = r->node.ip;
    sc.probe.source = o->probe_source;
    {
        const char *lh =
            ag_env_get(envp, "REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION");

        sc.probe.localhost = lh && strcmp(lh, "true") == 0;
    }
    sc.stats = &r->stats;
    sc.shutting_down = &r->shutting_down;
    sc.on_quit = on_quit;
    sc.on_drain = on_drain;
    sc.arg = r;
    rc = ag_status_start(&r->status, &sc);
    if (rc != 0) {
        log_kv(LOG_ERROR, "agent", "cannot start", "err", errmsg_get(), NULL);
        goto out;
    }
    rc = ag_certwatch_init(&r->cw, o->certs_dir, o->cert_debounce_ms,
                           clock_mono_ms());
    if (rc != 0) {
        log_kv(LOG_WARN, "agent", "certificate watch unavailable", "err",
               errmsg_get(), NULL);
        ag_cert_hash(o->certs_dir, &r->cw.hash, &r->cw.complete);
    }
    {
        char port_s[16], probers_s[16];

        snprintf(port_s, sizeof port_s, "%d", o->status_port);
        snprintf(probers_s, sizeof probers_s, "%zu", r->probers.n);
        log_kv(LOG_INFO, "agent", "mizzen-agent started", "node", r->node.id,
               "cluster", r->node.cluster, "status_port", port_s, "app_probers",
               probers_s, "xds", o->discovery_address, NULL);
    }
    if (o->xds_mtls && !r->cw.complete) {
        r->waiting_certs = 1;
        log_kv(LOG_WARN, "agent",
               "waiting for cert-chain.pem, key.pem and root-cert.pem", "dir",
               o->certs_dir, NULL);
    } else {
        (void)ag_envoy_start(&r->envoy, 0, clock_mono_ms());
    }
    code = loop(r);
    {
        char c_s[16];

        snprintf(c_s, sizeof c_s, "%d", code);
        log_kv(LOG_INFO, "agent", "mizzen-agent exiting", "status", c_s, NULL);
    }
out:
    ag_status_stop(r->status);
    ag_certwatch_cleanup(&r->cw);
    if (r->sfd >= 0)
        close(r->sfd);
    if (r->efd >= 0)
        close(r->efd);
    json_decref(r->bootstrap);
    json_decref(r->labels);
    json_decref(r->annotations);
    mem_free(r->override_yaml);
    ag_node_cleanup(&r->node);
    ag_probers_cleanup(&r->probers);
    ag_prom_cleanup(&r->prom);
    mem_free(r);
    return code;
}

int
ag_run_wait(const struct ag_opts *o)
{
    uint64_t deadline = clock_mono_ms() + (uint64_t)o->wait_timeout_s * 1000;
    char t_s[24];

    snprintf(t_s, sizeof t_s, "%ld", o->wait_timeout_s);
    log_kv(LOG_INFO, "agent", "waiting for the proxy to be ready", "url",
           o->wait_url, "timeout_s", t_s, NULL);
    for (;;) {
        struct ag_http_req rq;
        struct ag_http_resp rs;
        struct timespec ts;
        int rc;

        memset(&rq, 0, sizeof rq);
        rq.url = o->wait_url;
        rq.timeout_ms = o->wait_request_timeout_ms;
        rc = ag_http_do(&rq, &rs);
        ag_http_resp_cleanup(&rs);
        if (rc == 0 && rs.status == 200) {
            log_kv(LOG_INFO, "agent", "proxy is ready", NULL);
            return 0;
        }
        if (clock_mono_ms() + (uint64_t)o->wait_period_ms > deadline) {
            log_kv(LOG_ERROR, "agent", "timed out waiting for the proxy", "url",
                   o->wait_url, NULL);
            return 1;
        }
        ts.tv_sec = o->wait_period_ms / 1000;
        ts.tv_nsec = (o->wait_period_ms % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
}
