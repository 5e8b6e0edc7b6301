/* iptapply.c: backend detection, the idempotent restore plan, and running
 * iptables-restore / ip through fork+exec (see iptapply.h).
 *
 * Invariant: nothing is changed before every restore payload of the call
 * has passed "<restore> --noflush --test". */
#include "agent/iptapply.h"
#include "lib/clock.h"
#include "lib/errmsg.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const builtin_chains[] = {"PREROUTING", "INPUT", "FORWARD",
                                             "OUTPUT", "POSTROUTING"};
static const char *const tables[] = {"raw", "mangle", "nat", "filter",
                                     "security"};
#define NTABLES (sizeof(tables) / sizeof(*tables))

/* --- running children -------------------------------------------------- */

int
iptapply_find(const char *name, char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    char *save = NULL, *dir;
    struct stat st;

    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0)
            return errmsg_set(RC_NOTFOUND, "%s: not executable", name);
        snprintf(out, outlen, "%s", name);
        return 0;
    }
    snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin:/usr/bin:/bin",
             path ? path : "");
    for (dir = strtok_r(dirs, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        int n = snprintf(out, outlen, "%s/%s", dir, name);
        if (n < 0 || (size_t)n >= outlen)
            continue;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
            access(out, X_OK) == 0)
            return 0;
    }
    out[0] = '\0';
    return errmsg_set(RC_NOTFOUND, "%s not found in PATH or sbin", name);
}

static void
ignore_sigpipe(void)
{
    struct sigaction sa, old;

    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }
}

/* drain reads what is available on fd into b (or discards it when b is
 * NULL or full). Returns 1 at EOF/error, else 0. */
static int
drain(int fd, struct buf *b)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof(chunk));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        return 1;
    if (b)
        buf_add(b, chunk, (size_t)n); /* over the cap: dropped */
    return 0;
}

int
iptapply_run(char *const argv[], const char *in, size_t inlen, struct buf *out,
             struct buf *err, int *status)
{
    char path[IPTAPPLY_PATH_MAX];
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
    pid_t pid = -1;
    size_t off = 0;
    long deadline;
    int rc, wst = 0;

    *status = -1;
    rc = iptapply_find(argv[0], path, sizeof(path));
    if (rc)
        return rc;
    ignore_sigpipe();
    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) ||
        pipe2(perr, O_CLOEXEC)) {
        rc = errmsg_set(RC_IO, "pipe: %s", strerror(errno));
        goto done;
    }
    pid = fork();
    if (pid < 0) {
        rc = errmsg_set(RC_IO, "fork: %s", strerror(errno));
        goto done;
    }
    if (pid == 0) {
        if (dup2(pin[0], 0) < 0 || dup2(pout[1], 1) < 0 || dup2(perr[1], 2) < 0)
            _exit(126);
        /* dup2 onto the same fd keeps O_CLOEXEC (possible when the parent
         * runs with 0-2 closed): clear it on the three we hand over. */
        for (int fd = 0; fd <= 2; fd++)
            fcntl(fd, F_SETFD, 0);
        execv(path, argv);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    pin[0] = pout[1] = perr[1] = -1;
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
    if (inlen == 0) {
        close(pin[1]);
        pin[1] = -1;
    }
    deadline = clock_mono_ms() + IPTAPPLY_TIMEOUT_MS;
    while (pout[0] >= 0 || perr[0] >= 0 || pin[1] >= 0) {
        struct pollfd pf[3];
        int np = 0, wait = (int)(deadline - clock_mono_ms());
        if (wait <= 0) {
            kill(pid, SIGKILL);
            rc = errmsg_set(RC_TIMEOUT, "%s did not finish within %d ms",
                            argv[0], IPTAPPLY_TIMEOUT_MS);
            break;
        }
        if (pin[1] >= 0)
            pf[np++] = (struct pollfd){.fd = pin[1], .events = POLLOUT};
        if (pout[0] >= 0)
            pf[np++] = (struct pollfd){.fd = pout[0], .events = POLLIN};
        if (perr[0] >= 0)
            pf[np++] = (struct pollfd){.fd = perr[0], .events = POLLIN};
        if (poll(pf, (nfds_t)np, wait) < 0) {
            if (errno == EINTR)
                continue;
            kill(pid, SIGKILL);
            rc = errmsg_set(RC_IO, "poll: %s", strerror(errno));
            break;
        }
        for (int k = 0; k < np; k++) {
            if (!pf[k].revents)
                continue;
            if (pf[k].fd == pin[1]) {
                ssize_t n = write(pin[1], in + off, inlen - off);
                if (n > 0)
                    off += (size_t)n;
                if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
                    off == inlen) {
                    close(pin[1]); /* EPIPE: the child stopped reading */
                    pin[1] = -1;
                }
            } else if (pf[k].fd == pout[0]) {
                if (drain(pout[0], out)) {
                    close(pout[0]);
                    pout[0] = -1;
                }
            } else if (pf[k].fd == perr[0]) {
                if (drain(perr[0], err)) {
                    close(perr[0]);
                    perr[0] = -1;
                }
            }
        }
    }
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (rc == 0) {
        if (WIFEXITED(wst))
            *status = WEXITSTATUS(wst);
        else if (WIFSIGNALED(wst))
            *status = 128 + WTERMSIG(wst);
    }
done:
    for (int k = 0; k < 2; k++) {
        if (pin[k] >= 0)
            close(pin[k]);
        if (pout[k] >= 0)
            close(pout[k]);
        if (perr[k] >= 0)
            close(perr[k]);
    }
    return rc;
}

/* run_ok: run and require exit status 0; the failure message carries the
 * child's stderr (first line). */
static int
run_ok(char *const argv[], const char *in, size_t inlen, struct buf *out)
{
    struct buf err;
    int status, rc;

    buf_init(&err, 64 * 1024);
    rc = iptapply_run(argv, in, inlen, out, &err, &status);
    if (rc == 0 && status != 0) {
        const char *msg = err.ptr ? err.ptr : "";
        size_t n = strcspn(msg, "\n");
        rc = errmsg_set(RC_IO, "%s exited with status %d: %.*s", argv[0],
                        status, (int)(n > 300 ? 300 : n), msg);
    }
    buf_cleanup(&err);
    return rc;
}

/* --- backend detection ------------------------------------------------- */

size_t
iptapply_count_rules(const char *saved)
{
    size_t n = 0;
    const char *p = saved;

    while (p && *p) {
        if (strncmp(p, "-A ", 3) == 0)
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

/* rules_in runs a save tool and counts its rules; -1 if absent/failing. */
static long
rules_in(const char *save_name)
{
    char path[IPTAPPLY_PATH_MAX];
    char *argv[] = {path, NULL};
    struct buf out;
    long n = -1;

    if (iptapply_find(save_name, path, sizeof(path)))
        return -1;
    buf_init(&out, IPTAPPLY_OUT_MAX);
    if (run_ok(argv, NULL, 0, &out) == 0)
        n = (long)iptapply_count_rules(out.ptr);
    buf_cleanup(&out);
    return n;
}

static int
fill_tools(struct iptapply_tools *t, const char *backend, const char *infix)
{
    char name[64];
    int rc;

    t->backend = backend;
    snprintf(name, sizeof(name), "iptables%s-save", infix);
    rc = iptapply_find(name, t->save4, sizeof(t->save4));
    snprintf(name, sizeof(name), "iptables%s-restore", infix);
    if (rc == 0)
        rc = iptapply_find(name, t->restore4, sizeof(t->restore4));
    if (rc)
        return rc;
    /* IPv6 tools are optional until an IPv6 ruleset needs them. */
    snprintf(name, sizeof(name), "ip6tables%s-save", infix);
    if (iptapply_find(name, t->save6, sizeof(t->save6)))
        t->save6[0] = '\0';
    snprintf(name, sizeof(name), "ip6tables%s-restore", infix);
    if (iptapply_find(name, t->restore6, sizeof(t->restore6)))
        t->restore6[0] = '\0';
    if (!t->save6[0] || !t->restore6[0])
        t->save6[0] = t->restore6[0] = '\0';
    errmsg_clear();
    return 0;
}

int
iptapply_detect(enum iptf_backend pref, struct iptapply_tools *t)
{
    long nft, legacy;

    memset(t, 0, sizeof(*t));
    if (pref == IPTF_BACKEND_NFT)
        return fill_tools(t, "nft", "-nft");
    if (pref == IPTF_BACKEND_LEGACY)
        return fill_tools(t, "legacy", "-legacy");
    nft = rules_in("iptables-nft-save");
    legacy = rules_in("iptables-legacy-save");
    if (nft >= 0) {
        long n6 = rules_in("ip6tables-nft-save");
        nft += n6 > 0 ? n6 : 0;
    }
    if (legacy >= 0) {
        long n6 = rules_in("ip6tables-legacy-save");
        legacy += n6 > 0 ? n6 : 0;
    }
    if (legacy > 0 && legacy > nft)
        return fill_tools(t, "legacy", "-legacy");
    if (nft >= 0 && fill_tools(t, "nft", "-nft") == 0)
        return 0;
    if (legacy >= 0 && fill_tools(t, "legacy", "-legacy") == 0)
        return 0;
    return fill_tools(t, "default", "");
}

/* --- the plan ---------------------------------------------------------- */

struct seen {
    struct buf flush;  /* "-F ISTIO_X\n" for stale chains */
    struct buf del;    /* "-D CHAIN rule\n" */
    struct buf remove; /* "-X ISTIO_X\n" */
};

static int
is_builtin(const char *chain, size_t len)
{
    for (size_t i = 0; i < sizeof(builtin_chains) / sizeof(*builtin_chains);
         i++)
        if (strlen(builtin_chains[i]) == len &&
            strncmp(builtin_chains[i], chain, len) == 0)
            return 1;
    return 0;
}

/* jumps_to_istio: the rule's -j/-g target is an ISTIO_* chain. */
static int
jumps_to_istio(const char *rule, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++) {
        if ((i == 0 || rule[i - 1] == ' ') && rule[i] == '-' &&
            (rule[i + 1] == 'j' || rule[i + 1] == 'g') && rule[i + 2] == ' ')
            return len - (i + 3) >= 6 &&
                   strncmp(rule + i + 3, "ISTIO_", 6) == 0;
    }
    return 0;
}

static int
new_has_rule(const struct iptr_table *t, const char *chain, size_t clen,
             const char *rule, size_t rlen)
{
    for (size_t c = 0; t && c < t->n; c++) {
        const struct iptr_chain *ch = &t->chains[c];
        if (strlen(ch->name) != clen || strncmp(ch->name, chain, clen) != 0)
            continue;
        for (size_t r = 0; r < ch->n; r++)
            if (strlen(ch->rules[r]) == rlen &&
                strncmp(ch->rules[r], rule, rlen) == 0)
                return 1;
    }
    return 0;
}

static int
table_index(const char *name, size_t len)
{
    for (size_t i = 0; i < NTABLES; i++)
        if (strlen(tables[i]) == len && strncmp(tables[i], name, len) == 0)
            return (int)i;
    return -1;
}

/* scan reads saved and fills seen[] per table. */
static int
scan(const struct iptr_ruleset *rs, const char *saved, struct seen *seen)
{
    const struct iptr_table *nt = NULL;
    const char *p = saved;
    int ti = -1, rc = 0;

    while (rc == 0 && p && *p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len && p[len - 1] == '\r')
            len--;
        if (p[0] == '*') {
            ti = table_index(p + 1, len - 1);
            nt = ti >= 0 ? iptr_ruleset_table(rs, tables[ti]) : NULL;
        } else if (ti >= 0 && p[0] == ':' && len > 7 &&
                   strncmp(p + 1, "ISTIO_", 6) == 0) {
            size_t nlen = strcspn(p + 1, " \n");
            char name[64];
            if (nlen < sizeof(name)) {
                memcpy(name, p + 1, nlen);
                name[nlen] = '\0';
                if (!iptr_table_chain(nt, name)) {
                    rc = buf_addf(&seen[ti].flush, "-F %s\n", name);
                    if (rc == 0)
                        rc = buf_addf(&seen[ti].remove, "-X %s\n", name);
                }
            }
        } else if (ti >= 0 && strncmp(p, "-A ", 3) == 0) {
            const char *chain = p + 3;
            size_t clen = strcspn(chain, " \n");
            const char *rule = chain + clen + (chain[clen] == ' ');
            size_t rlen = len - (size_t)(rule - p);
            if (is_builtin(chain, clen) &&
                (jumps_to_istio(rule, rlen) ||
                 new_has_rule(nt, chain, clen, rule, rlen)))
                rc =
                    buf_addf(&seen[ti].del, "-D %.*s\n", (int)(len - 3), p + 3);
        }
        p = eol ? eol + 1 : NULL;
    }
    return rc;
}

int
iptapply_plan(const struct iptr_ruleset *rs, const char *saved,
              struct buf *payload)
{
    struct seen seen[NTABLES];
    int rc = 0;

    for (size_t i = 0; i < NTABLES; i++) {
        buf_init(&seen[i].flush, 0);
        buf_init(&seen[i].del, 0);
        buf_init(&seen[i].remove, 0);
    }
    rc = scan(rs, saved, seen);
    for (size_t i = 0; rc == 0 && i < NTABLES; i++) {
        const struct iptr_table *t = iptr_ruleset_table(rs, tables[i]);
        int has_new = t && t->n > 0;
        if (!has_new && !seen[i].flush.len && !seen[i].del.len)
            continue;
        rc = buf_addf(payload, "*%s\n", tables[i]);
        if (rc == 0 && has_new)
            rc = iptr_table_render_decls(t, payload);
        if (rc == 0 && seen[i].flush.len)
            rc = buf_addstr(payload, seen[i].flush.ptr);
        if (rc == 0 && seen[i].del.len)
            rc = buf_addstr(payload, seen[i].del.ptr);
        if (rc == 0 && seen[i].remove.len)
            rc = buf_addstr(payload, seen[i].remove.ptr);
        if (rc == 0 && has_new)
            rc = iptr_table_render_rules(t, payload);
        if (rc == 0)
            rc = buf_addstr(payload, "COMMIT\n");
    }
    for (size_t i = 0; i < NTABLES; i++) {
        buf_cleanup(&seen[i].flush);
        buf_cleanup(&seen[i].del);
        buf_cleanup(&seen[i].remove);
    }
    return rc;
}

/* --- apply ------------------------------------------------------------- */

struct fam {
    int family;
    const char *save, *restore;
    const struct iptr_ruleset *rs;
    struct buf saved;   /* state before */
    struct buf payload; /* what we restore */
};

static int
restore(const struct fam *f, int test, const char *text, size_t len)
{
    /* --wait: the legacy backend shares /run/xtables.lock with anything
     * else touching iptables; nft accepts and ignores it. */
    char *argv[] = {(char *)f->restore, "--noflush", "--wait=10",
                    test ? "--test" : NULL, NULL};
    int rc = run_ok(argv, text, len, NULL);

    if (rc)
        errmsg_prefix(rc, "IPv%d %s", f->family, test ? "check" : "apply");
    return rc;
}

int
iptapply_apply(const struct iptapply_tools *t, const struct iptr_ruleset *v4,
               const struct iptr_ruleset *v6)
{
    struct fam fams[2] = {{4, t->save4, t->restore4, v4, {0}, {0}},
                          {6, t->save6, t->restore6, v6, {0}, {0}}};
    int applied[2] = {0, 0};
    int rc = 0;

    for (int i = 0; i < 2; i++) {
        buf_init(&fams[i].saved, IPTAPPLY_OUT_MAX);
        buf_init(&fams[i].payload, 0);
    }
    if (v6 && !t->save6[0]) {
        rc = errmsg_set(RC_NOTFOUND,
                        "ip6tables-save/ip6tables-restore (%s) "
                        "not found but IPv6 rules are needed",
                        t->backend);
        goto done;
    }
    /* Read the current state and plan; an absent v6 toolset with nothing
     * to apply for v6 is simply skipped. */
    for (int i = 0; rc == 0 && i < 2; i++) {
        struct fam *f = &fams[i];
        char *argv[] = {(char *)f->save, NULL};
        if (!f->save[0])
            continue;
        rc = run_ok(argv, NULL, 0, &f->saved);
        if (rc && f->family == 6 && !f->rs) {
            /* No IPv6 wanted and ip6tables unusable (no IPv6 in this
             * kernel): nothing of ours can be there either. */
            errmsg_clear();
            buf_reset(&f->saved);
            rc = 0;
            continue;
        }
        if (rc)
            errmsg_prefix(rc, "reading IPv%d rules", f->family);
        if (rc == 0)
            rc = iptapply_plan(f->rs, f->saved.ptr ? f->saved.ptr : "",
                               &f->payload);
    }
    for (int i = 0; rc == 0 && i < 2; i++)
        if (fams[i].payload.len)
            rc = restore(&fams[i], 1, fams[i].payload.ptr, fams[i].payload.len);
    for (int i = 0; rc == 0 && i < 2; i++) {
        if (!fams[i].payload.len)
            continue;
        rc = restore(&fams[i], 0, fams[i].payload.ptr, fams[i].payload.len);
        if (rc == 0)
            applied[i] = 1;
    }
    if (rc && applied[0] && fams[0].saved.len) {
        /* v6 failed after v4 went in: put v4 back as it was (a full
         * restore of the saved tables replaces them exactly). */
        char *argv[] = {(char *)fams[0].restore, "--wait=10", NULL};
        char keep[ERRMSG_MAX];
        snprintf(keep, sizeof(keep), "%s", errmsg_get());
        if (run_ok(argv, fams[0].saved.ptr, fams[0].saved.len, NULL))
            log_kv(LOG_ERROR, "iptables", "rollback of IPv4 rules failed",
                   "error", errmsg_get(), NULL);
        errmsg_set(rc, "%s (IPv4 rules rolled back)", keep);
    }
done:
    for (int i = 0; i < 2; i++) {
        buf_cleanup(&fams[i].saved);
        buf_cleanup(&fams[i].payload);
    }
    return rc;
}

int
iptapply_save(const struct iptapply_tools *t, int family, struct buf *out)
{
    char *argv[] = {(char *)(family == 6 ? t->save6 : t->save4), NULL};

    if (!argv[0][0])
        return errmsg_set(RC_NOTFOUND, "no ip6tables-save for %s", t->backend);
    return run_ok(argv, NULL, 0, out);
}

/* --- TPROXY policy routing --------------------------------------------- */

int
iptapply_tproxy_routes(int family, unsigned long mark, unsigned long table,
                       int remove)
{
    char fam[4], m[16], tb[16];
    const char *dflt = family == 6 ? "::/0" : "default";
    char *del_rule[] = {"ip", fam,      "rule", "del", "fwmark",
                        m,    "lookup", tb,     NULL};
    char *add_rule[] = {"ip", fam,      "rule", "add", "fwmark",
                        m,    "lookup", tb,     NULL};
    char *del_route[] = {"ip",  fam,  "route", "del", "local", (char *)dflt,
                         "dev", "lo", "table", tb,    NULL};
    char *add_route[] = {"ip",  fam,  "route", "replace", "local", (char *)dflt,
                         "dev", "lo", "table", tb,        NULL};
    int status, rc;

    snprintf(fam, sizeof(fam), "-%d", family);
    snprintf(m, sizeof(m), "%lu", mark);
    snprintf(tb, sizeof(tb), "%lu", table);
    /* "ip rule add" appends duplicates: delete every copy first (bounded),
     * then add one. */
    for (int i = 0; i < 16; i++) {
        rc = iptapply_run(del_rule, NULL, 0, NULL, NULL, &status);
        if (rc)
            return rc;
        if (status != 0)
            break;
    }
    if (remove) {
        iptapply_run(del_route, NULL, 0, NULL, NULL, &status);
        return 0;
    }
    rc = run_ok(add_rule, NULL, 0, NULL);
    if (rc == 0)
        rc = run_ok(add_route, NULL, 0, NULL);
    return rc;
}
