/* ag_certwatch.c: inotify watch of the certificate directory
 * (ag_certwatch.h).
 *
 * The watch is on the directory itself, not on the files: the visible
 * files are symlinks that never change, their targets are replaced under
 * ..data. The hash is FNV-1a 64 over each file's length and bytes: change
 * detection, not security (the files are only compared with their previous
 * version). */
#include "agent/ag_certwatch.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define WATCH_MASK                                                             \
    (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE |    \
     IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_MODIFY)

static const char *const files[] = {"cert-chain.pem", "key.pem",
                                    "root-cert.pem"};

static uint64_t
fnv_add(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

void
ag_cert_hash(const char *dir, uint64_t *out, int *complete)
{
    uint64_t h = 1469598103934665603ULL;
    int all = 1;

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4200], chunk[8192];
        uint64_t total = 0;
        int fd;

        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        h = fnv_add(h, files[i], strlen(files[i]) + 1);
        if (fd < 0) {
            h = fnv_add(h, "-", 1);
            all = 0;
            continue;
        }
        while (total < AG_CERT_FILE_MAX) {
            ssize_t r = read(fd, chunk, sizeof chunk);

            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            h = fnv_add(h, chunk, (size_t)r);
            total += (uint64_t)r;
        }
        close(fd);
        h = fnv_add(h, &total, sizeof total);
        if (total == 0)
            all = 0;
    }
    *out = h;
    *complete = all;
}

static void
add_watch(struct ag_certwatch *w, uint64_t now_ms)
{
    if (w->fd < 0)
        return;
    w->wd = inotify_add_watch(w->fd, w->dir, WATCH_MASK);
    w->retry_ms = w->wd < 0 ? now_ms + 1000 : 0;
}

int
ag_certwatch_init(struct ag_certwatch *w, const char *dir, long debounce_ms,
                  uint64_t now_ms)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->wd = -1;
    w->debounce_ms = debounce_ms;
    w->dir = mem_strdup(dir);
    if (w->dir == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;

        ag_certwatch_cleanup(w);
        return errmsg_set(RC_IO, "inotify_init1: %s", strerror(e));
    }
    add_watch(w, now_ms);
    ag_cert_hash(w->dir, &w->hash, &w->complete);
    return 0;
}

void
ag_certwatch_cleanup(struct ag_certwatch *w)
{
    if (w->fd >= 0)
        close(w->fd);
    mem_free(w->dir);
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->wd = -1;
}

void
ag_certwatch_on_readable(struct ag_certwatch *w, uint64_t now_ms)
{
    char evbuf[4096]
        __attribute__((aligned(__alignof__(struct inotify_event))));
    int relevant = 0;

    for (;;) {
        ssize_t n = read(w->fd, evbuf, sizeof evbuf);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (char *p = evbuf; p < evbuf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;

            if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                /* the directory went away: watch again when it is back */
                if (ev->wd == w->wd) {
                    if (!(ev->mask & IN_IGNORED))
                        inotify_rm_watch(w->fd, w->wd);
                    w->wd = -1;
                    w->retry_ms = now_ms + 1000;
                }
            }
            relevant = 1;
            p += sizeof *ev + ev->len;
        }
    }
    if (relevant)
        w->due_ms = now_ms + (uint64_t)w->debounce_ms;
}

int
ag_certwatch_tick(struct ag_certwatch *w, uint64_t now_ms)
{
    uint64_t h;
    int complete;

    if (w->retry_ms && now_ms >= w->retry_ms) {
        add_watch(w, now_ms);
        if (w->wd >= 0) /* the dir (re)appeared: look at what is in it */
            w->due_ms = now_ms;
    }
    if (w->due_ms == 0 || now_ms < w->due_ms)
        return 0;
    w->due_ms = 0;
    ag_cert_hash(w->dir, &h, &complete);
    if (h == w->hash)
        return 0;
    w->hash = h;
    w->complete = complete;
    return 1;
}

uint64_t
ag_certwatch_deadline(const struct ag_certwatch *w)
{
    uint64_t d = w->due_ms;

    if (w->retry_ms && (d == 0 || w->retry_ms < d))
        d = w->retry_ms;
    return d;
}
