/* ag_envoy.c: Envoy's processes (ag_envoy.h).
 *
 * Children are started with posix_spawn: the agent is multi-threaded (log
 * writer, status server), so nothing may run between fork and exec. The
 * child gets an empty signal mask and default dispositions for the signals
 * the agent blocks or ignores, and the agent's environment. */
#include "agent/ag_envoy.h"
#include "agent/ag_http.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void
ag_backoff_init(struct ag_backoff *b, long initial_ms, long max_ms,
                long reset_ms)
{
    b->initial_ms = initial_ms > 0 ? initial_ms : 1;
    b->max_ms = max_ms >= b->initial_ms ? max_ms : b->initial_ms;
    b->reset_ms = reset_ms;
    b->cur_ms = b->initial_ms;
}

long
ag_backoff_next(struct ag_backoff *b, long uptime_ms)
{
    long d;

    if (b->reset_ms > 0 && uptime_ms >= b->reset_ms)
        b->cur_ms = b->initial_ms; /* it ran long enough: a fresh failure */
    d = b->cur_ms;
    b->cur_ms = b->cur_ms > b->max_ms / 2 ? b->max_ms : b->cur_ms * 2;
    return d;
}

int
ag_wstatus_code(int ws)
{
    if (WIFEXITED(ws))
        return WEXITSTATUS(ws);
    if (WIFSIGNALED(ws))
        return 128 + WTERMSIG(ws);
    return 1;
}

void
ag_envoy_init(struct ag_envoy *e, const struct ag_opts *o,
              const struct ag_node *node, const json_t *bootstrap,
              const char *override_yaml, char **envp, struct ag_stats *stats)
{
    memset(e, 0, sizeof *e);
    e->o = o;
    e->node = node;
    e->bootstrap = bootstrap;
    e->override_yaml = override_yaml;
    e->envp = envp;
    e->stats = stats;
    e->epoch = -1;
    ag_backoff_init(&e->bo, o->backoff_initial_ms, o->backoff_max_ms,
                    o->backoff_reset_ms);
    atomic_store(&stats->epoch, -1);
}

static int
write_bootstrap(const struct ag_envoy *e, int epoch, char *path, size_t pathn)
{
    struct buf b, tmp;
    int fd = -1, rc;
    size_t off = 0;

    buf_init(&b, 16 << 20);
    buf_init(&tmp, 8192);
    snprintf(path, pathn, "%s/envoy-rev%d.json", e->o->config_dir, epoch);
    (void)mkdir(e->o->config_dir, 0755);
    rc = jutil_dump(e->bootstrap, JSON_INDENT(2) | JSON_SORT_KEYS, &b);
    rc = rc ? rc : buf_addf(&tmp, "%s.tmp", path);
    rc = rc ? rc : buf_addc(&b, '\n');
    if (rc != 0)
        goto out;
    fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = errmsg_set(RC_IO, "open %s: %s", tmp.ptr, strerror(errno));
        goto out;
    }
    while (off < b.len) {
        ssize_t w = write(fd, b.ptr + off, b.len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = errmsg_set(RC_IO, "write %s: %s", tmp.ptr, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = errmsg_set(RC_IO, "close %s: %s", tmp.ptr, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp.ptr, path) != 0)
        rc = errmsg_set(RC_IO, "rename %s: %s", path, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp.ptr)
        (void)unlink(tmp.ptr);
    buf_cleanup(&b);
    buf_cleanup(&tmp);
    return rc;
}

static struct ag_proc *
proc_of(struct ag_envoy *e, pid_t pid)
{
    for (int i = 0; i < AG_PROCS_MAX; i++)
        if (e->procs[i].pid == pid && pid > 0)
            return &e->procs[i];
    return NULL;
}

static void
term_proc(struct ag_envoy *e, struct ag_proc *p, uint64_t now_ms,
          const char *why)
{
    char pid_s[16], ep_s[16];

    if (p->pid <= 0 || p->term_sent)
        return;
    snprintf(pid_s, sizeof pid_s, "%d", (int)p->pid);
    snprintf(ep_s, sizeof ep_s, "%d", p->epoch);
    log_kv(LOG_INFO, "agent", "stopping envoy", "pid", pid_s, "epoch", ep_s,
           "reason", why, NULL);
    kill(p->pid, SIGTERM);
    p->term_sent = 1;
    p->stop_at_ms = 0;
    p->kill_at_ms = now_ms + (uint64_t)e->o->stop_grace_ms;
}

static void
schedule_restart(struct ag_envoy *e, long uptime_ms, uint64_t now_ms)
{
    long d = ag_backoff_next(&e->bo, uptime_ms);
    char d_s[24];

    e->restart_at_ms = now_ms + (uint64_t)d;
    snprintf(d_s, sizeof d_s, "%ld", d);
    log_kv(LOG_WARN, "agent", "envoy restart scheduled", "delay_ms", d_s, NULL);
}

int
ag_envoy_start(struct ag_envoy *e, int epoch, uint64_t now_ms)
{
    char path[4200], pid_s[16], ep_s[16];
    char **argv = NULL;
    posix_spawnattr_t attr;
    sigset_t none, deflt;
    struct ag_proc *slot = NULL;
    pid_t pid = 0;
    int rc, err;

    if (e->stopping)
        return errmsg_set(RC_INVAL, "stopping");
    for (int i = 0; i < AG_PROCS_MAX; i++)
        if (e->procs[i].pid == 0) {
            slot = &e->procs[i];
            break;
        }
    if (slot == NULL) {
        rc = errmsg_set(RC_LIMIT, "%d Envoy processes still running",
                        AG_PROCS_MAX);
        goto fail;
    }
    rc = write_bootstrap(e, epoch, path, sizeof path);
    if (rc != 0)
        goto fail;
    argv = ag_envoy_argv(e->o, e->node, path, epoch, e->override_yaml);
    if (argv == NULL) {
        rc = RC_NOMEM;
        goto fail;
    }
    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGPIPE);
    sigaddset(&deflt, SIGTERM);
    sigaddset(&deflt, SIGINT);
    sigaddset(&deflt, SIGCHLD);
    sigaddset(&deflt, SIGHUP);
    sigaddset(&deflt, SIGQUIT);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &deflt);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (strchr(argv[0], '/'))
        err = posix_spawn(&pid, argv[0], NULL, &attr, argv, e->envp);
    else
        err = posix_spawnp(&pid, argv[0], NULL, &attr, argv, e->envp);
    posix_spawnattr_destroy(&attr);
    ag_argv_free(argv);
    if (err != 0) {
        rc = errmsg_set(RC_IO, "spawn %s: %s", e->o->envoy_binary,
                        strerror(err));
        goto fail;
    }
    memset(slot, 0, sizeof *slot);
    slot->pid = pid;
    slot->epoch = epoch;
    slot->started_ms = now_ms;
    e->current = pid;
    e->epoch = epoch;
    atomic_fetch_add(&e->stats->envoy_starts, 1);
    atomic_store(&e->stats->epoch, epoch);
    atomic_store(&e->stats->envoy_up, 1);
    snprintf(pid_s, sizeof pid_s, "%d", (int)pid);
    snprintf(ep_s, sizeof ep_s, "%d", epoch);
    log_kv(LOG_INFO, "agent", "envoy started", "pid", pid_s, "epoch", ep_s,
           "bootstrap", path, NULL);
    return 0;
fail:
    log_kv(LOG_ERROR, "agent", "envoy start failed", "err", errmsg_get(), NULL);
    e->have_status = 1;
    e->last_status = 127;
    atomic_fetch_add(&e->stats->envoy_crashes, 1);
    schedule_restart(e, 0, now_ms);
    return rc;
}

int
ag_envoy_hot_restart(struct ag_envoy *e, uint64_t now_ms)
{
    struct ag_proc *cur = proc_of(e, e->current);
    int rc;

    if (e->stopping)
        return 0;
    if (cur == NULL) {
        if (e->restart_at_ms != 0)
            return 0; /* the pending restart reads the new files */
        return ag_envoy_start(e, 0, now_ms);
    }
    /* Envoy hands over from one parent only: an older epoch still around
     * is past its drain and is stopped now. */
    for (int i = 0; i < AG_PROCS_MAX; i++)
        if (e->procs[i].pid > 0 && &e->procs[i] != cur)
            term_proc(e, &e->procs[i], now_ms, "superseded");
    cur->stop_at_ms = now_ms + (uint64_t)e->o->parent_shutdown_ms +
                      (uint64_t)e->o->parent_grace_ms;
    rc = ag_envoy_start(e, e->epoch + 1, now_ms);
    if (rc == 0) {
        atomic_fetch_add(&e->stats->hot_restarts, 1);
    } else {
        /* the running epoch stays in charge; the next change retries */
        cur->stop_at_ms = 0;
        e->restart_at_ms = 0;
    }
    return rc;
}

enum ag_exit_kind
ag_envoy_reaped(struct ag_envoy *e, pid_t pid, int wstatus, uint64_t now_ms)
{
    struct ag_proc *p = proc_of(e, pid);
    char pid_s[16], ep_s[16], st_s[16];
    long uptime;
    int epoch;

    if (p == NULL)
        return AG_EXIT_UNKNOWN;
    epoch = p->epoch;
    uptime = (long)(now_ms - p->started_ms);
    snprintf(pid_s, sizeof pid_s, "%d", (int)pid);
    snprintf(ep_s, sizeof ep_s, "%d", epoch);
    snprintf(st_s, sizeof st_s, "%d", ag_wstatus_code(wstatus));
    memset(p, 0, sizeof *p);
    if (pid != e->current) {
        log_kv(LOG_INFO, "agent", "envoy parent exited", "pid", pid_s, "epoch",
               ep_s, "status", st_s, NULL);
        return AG_EXIT_PARENT;
    }
    e->current = 0;
    e->have_status = 1;
    e->last_status = ag_wstatus_code(wstatus);
    atomic_store(&e->stats->envoy_up, 0);
    if (e->stopping) {
        log_kv(LOG_INFO, "agent", "envoy exited", "pid", pid_s, "epoch", ep_s,
               "status", st_s, NULL);
        return AG_EXIT_CURRENT;
    }
    log_kv(LOG_ERROR, "agent", "envoy exited unexpectedly", "pid", pid_s,
           "epoch", ep_s, "status", st_s, NULL);
    atomic_fetch_add(&e->stats->envoy_crashes, 1);
    for (int i = 0; i < AG_PROCS_MAX; i++)
        if (e->procs[i].pid > 0)
            term_proc(e, &e->procs[i], now_ms, "current epoch crashed");
    schedule_restart(e, uptime, now_ms);
    return AG_EXIT_CURRENT;
}

void
ag_envoy_tick(struct ag_envoy *e, uint64_t now_ms)
{
    for (int i = 0; i < AG_PROCS_MAX; i++) {
        struct ag_proc *p = &e->procs[i];

        if (p->pid <= 0)
            continue;
        if (p->stop_at_ms && now_ms >= p->stop_at_ms && !p->term_sent)
            term_proc(e, p, now_ms,
                      "parent still running after "
                      "parent-shutdown-duration");
        if (p->kill_at_ms && now_ms >= p->kill_at_ms) {
            char pid_s[16];

            snprintf(pid_s, sizeof pid_s, "%d", (int)p->pid);
            log_kv(LOG_WARN, "agent", "killing envoy (SIGKILL)", "pid", pid_s,
                   NULL);
            kill(p->pid, SIGKILL);
            p->kill_at_ms = 0;
        }
    }
    if (e->restart_at_ms && now_ms >= e->restart_at_ms && !e->stopping &&
        ag_envoy_running(e) == 0) {
        e->restart_at_ms = 0;
        (void)ag_envoy_start(e, 0, now_ms);
    }
}

uint64_t
ag_envoy_deadline(const struct ag_envoy *e)
{
    uint64_t d = 0;

#define EARLIER(t)                                                             \
    do {                                                                       \
        if ((t) != 0 && (d == 0 || (t) < d))                                   \
            d = (t);                                                           \
    } while (0)
    for (int i = 0; i < AG_PROCS_MAX; i++) {
        const struct ag_proc *p = &e->procs[i];

        if (p->pid <= 0)
            continue;
        if (!p->term_sent)
            EARLIER(p->stop_at_ms);
        EARLIER(p->kill_at_ms);
    }
    if (!e->stopping)
        EARLIER(e->restart_at_ms);
#undef EARLIER
    return d;
}

void
ag_envoy_stop(struct ag_envoy *e, uint64_t now_ms, int immediate)
{
    e->stopping = 1;
    e->restart_at_ms = 0;
    for (int i = 0; i < AG_PROCS_MAX; i++) {
        struct ag_proc *p = &e->procs[i];

        if (p->pid <= 0)
            continue;
        term_proc(e, p, now_ms, immediate ? "quit" : "agent shutdown");
        if (immediate)
            p->kill_at_ms = now_ms; /* the next tick kills */
    }
}

int
ag_envoy_running(const struct ag_envoy *e)
{
    int n = 0;

    for (int i = 0; i < AG_PROCS_MAX; i++)
        n += e->procs[i].pid > 0;
    return n;
}

int
ag_envoy_exit_code(const struct ag_envoy *e)
{
    return e->have_status ? e->last_status : 0;
}

int
ag_envoy_drain(const struct ag_envoy *e)
{
    char url[128], host[64];
    struct ag_http_req rq;
    struct ag_http_resp rs;
    int rc;

    ag_http_url_host(ag_admin_host(e->node), host, sizeof host);
    snprintf(url, sizeof url,
             "http://%s:%d/drain_listeners?inboundonly&graceful", host,
             e->o->admin_port);
    memset(&rq, 0, sizeof rq);
    rq.method = "POST";
    rq.url = url;
    rq.timeout_ms = 2000;
    rc = ag_http_do(&rq, &rs);
    if (rc == 0 && rs.status != 200)
        rc = errmsg_set(RC_IO, "drain_listeners answered %ld", rs.status);
    ag_http_resp_cleanup(&rs);
    return rc;
}
