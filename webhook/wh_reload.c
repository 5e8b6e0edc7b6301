/* wh_reload.c: file loading, change detection and the control loop (see
 * wh_reload.h). Runs on the main thread only; the server is told about a
 * new configuration or certificate through wh_server_set_*. */
#include "webhook/wh_reload.h"
#include "lib/clock.h"
#include "injector/injector.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_frag.h"
#include "webhook/wh_metrics.h"
#include "webhook/wh_opts.h"
#include "webhook/wh_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_WATCH 8
#define DEBOUNCE_MS 100

struct watch {
    char dir[PATH_MAX];
    int wd; /* -1: not watched (yet, or the directory went away) */
};

struct wh_reloader {
    const struct wh_opts *o;
    struct wh_server *srv;
    int ifd; /* inotify, -1 if unavailable */
    struct watch w[MAX_WATCH];
    int nw;
    /* content hashes: last applied and last refused (0: none) */
    unsigned long long cfg_hash, cfg_bad, cert_hash, cert_bad;
    int cfg_ok, cert_ok;
    char last_err[2][256]; /* last logged read error per kind */
};

/* FNV-1a, 64 bit: enough to tell "changed" from "same". */
static unsigned long long
fnv(unsigned long long h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#define FNV_INIT 14695981039346656037ULL

int
wh_file_read(char **out, size_t *len_out, const char *path, size_t max)
{
    struct buf b;
    char chunk[16384];
    int fd, rc = 0;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(errno == ENOENT ? RC_NOTFOUND : RC_IO,
                          "cannot open %s: %s", path, strerror(errno));
    buf_init(&b, max);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = errmsg_set(RC_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if ((rc = buf_add(&b, chunk, (size_t)n)) != 0) {
            rc = rc == RC_LIMIT
                     ? errmsg_set(RC_LIMIT, "%s is larger than %zu bytes", path,
                                  max)
                     : errmsg_set(RC_NOMEM, "out of memory");
            break;
        }
    }
    close(fd);
    if (rc == 0) {
        *out = buf_take(&b, len_out);
        if (*out == NULL)
            rc = errmsg_set(RC_NOMEM, "out of memory");
    }
    buf_cleanup(&b);
    return rc;
}

/* read_opt reads path into *out, hashing it; a missing file is "absent"
 * (NULL) when optional. */
static int
read_opt(char **out, size_t *len, const char *path, int optional,
         unsigned long long *h)
{
    int rc;

    *h = fnv(*h, path, strlen(path) + 1);
    rc = wh_file_read(out, len, path, WH_MAX_FILE);
    if (rc == RC_NOTFOUND && optional) {
        *h = fnv(*h, "-", 1);
        return 0;
    }
    if (rc != 0)
        return rc;
    if (*len == 0 && !optional) {
        /* a file being rewritten in place is empty for a moment: not a
         * content (it would silently mean "defaults"); retry later */
        mem_free(*out);
        *out = NULL;
        return errmsg_set(RC_IO, "%s is empty", path);
    }
    if (*len == 0) {
        mem_free(*out); /* an empty ConfigMap key: as if absent */
        *out = NULL;
        *h = fnv(*h, "-", 1);
        return 0;
    }
    *h = fnv(*h, *out, *len);
    *h = fnv(*h, "+", 1);
    return 0;
}

static int
is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The files of a configuration, read and hashed but not loaded. */
struct cfg_files {
    char *inj, *cfg, *vals, *mesh;
    size_t inj_len, cfg_len, vals_len, mesh_len;
    char mesh_path[PATH_MAX];
    unsigned long long hash;
};

static void
cfg_files_cleanup(struct cfg_files *f)
{
    mem_free(f->inj);
    mem_free(f->cfg);
    mem_free(f->vals);
    mem_free(f->mesh);
    memset(f, 0, sizeof(*f));
}

static int
cfg_files_read(struct cfg_files *f, const struct wh_opts *o)
{
    char path[PATH_MAX];
    int rc;

    memset(f, 0, sizeof(*f));
    f->hash = FNV_INIT;
    if (o->injector_config != NULL &&
        (rc = read_opt(&f->inj, &f->inj_len, o->injector_config, 0,
                       &f->hash)) != 0)
        return rc;
    if (o->injector_config_dir != NULL) {
        snprintf(path, sizeof(path), "%s/config", o->injector_config_dir);
        if ((rc = read_opt(&f->cfg, &f->cfg_len, path, 1, &f->hash)) != 0)
            return rc;
        snprintf(path, sizeof(path), "%s/values", o->injector_config_dir);
        if ((rc = read_opt(&f->vals, &f->vals_len, path, 1, &f->hash)) != 0)
            return rc;
        if (f->cfg == NULL && f->vals == NULL &&
            !is_dir(o->injector_config_dir))
            return errmsg_set(RC_NOTFOUND, "%s is not a directory",
                              o->injector_config_dir);
    }
    if (o->mesh_config != NULL) {
        if (is_dir(o->mesh_config))
            snprintf(f->mesh_path, sizeof(f->mesh_path), "%s/mesh",
                     o->mesh_config);
        else
            snprintf(f->mesh_path, sizeof(f->mesh_path), "%s", o->mesh_config);
        if ((rc = read_opt(&f->mesh, &f->mesh_len, f->mesh_path, 0,
                           &f->hash)) != 0)
            return rc;
    }
    return 0;
}

static int
cfg_files_parse(struct inj_config **out, const struct cfg_files *f,
                const struct wh_opts *o)
{
    json_t *data = NULL; /* owned */
    char *doc = NULL;
    int rc;

    if (f->cfg == NULL && f->vals == NULL) {
        rc = inj_config_load(out, f->inj, f->inj_len, f->mesh, f->mesh_len);
        if (rc != 0 && (f->inj != NULL || f->mesh != NULL))
            errmsg_prefix(rc, "%s%s%s", f->inj ? o->injector_config : "",
                          f->inj && f->mesh ? " + " : "",
                          f->mesh ? f->mesh_path : "");
        return rc;
    }
    /* the directory's files become the ConfigMap's data map */
    data = json_object();
    if (data == NULL ||
        (f->cfg && json_object_set_new(data, "config",
                                       json_stringn(f->cfg, f->cfg_len))) ||
        (f->vals && json_object_set_new(data, "values",
                                        json_stringn(f->vals, f->vals_len)))) {
        rc = errmsg_set(RC_INVAL, "%s: files must be UTF-8 text",
                        o->injector_config_dir);
        goto done;
    }
    doc = jutil_dumps(data, 0);
    if (doc == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory");
        goto done;
    }
    rc = inj_config_load(out, doc, strlen(doc), f->mesh, f->mesh_len);
    if (rc != 0)
        errmsg_prefix(rc, "%s%s%s", o->injector_config_dir,
                      f->mesh ? " + " : "", f->mesh ? f->mesh_path : "");
done:
    json_decref(data);
    mem_free(doc);
    return rc;
}

/* cfg_files_load parses the files and prepares the configuration for the
 * patch writer (wh_frag.h: pre-written template parts; without them, after
 * an allocation failure, the writer just walks every node). */
static int
cfg_files_load(struct inj_config **out, const struct cfg_files *f,
               const struct wh_opts *o)
{
    int rc = cfg_files_parse(out, f, o);

    if (rc == 0)
        (void)wh_frags_attach(*out);
    return rc;
}

int
wh_config_read(struct inj_config **out, const struct wh_opts *o,
               unsigned long long *hash_out)
{
    struct cfg_files f;
    int rc;

    *out = NULL;
    rc = cfg_files_read(&f, o);
    if (hash_out != NULL)
        *hash_out = f.hash;
    if (rc == 0)
        rc = cfg_files_load(out, &f, o);
    cfg_files_cleanup(&f);
    return rc;
}

/* ---- applying ---------------------------------------------------------- */

static void
log_once(struct wh_reloader *r, int kind, enum log_level lvl, const char *msg,
         const char *err)
{
    if (strncmp(r->last_err[kind], err, sizeof(r->last_err[kind]) - 1) == 0)
        return;
    snprintf(r->last_err[kind], sizeof(r->last_err[kind]), "%s", err);
    log_kv(lvl, "webhook", msg, "error", err, NULL);
}

static void
check_config(struct wh_reloader *r)
{
    struct inj_config *cfg = NULL;
    struct cfg_files f;
    int rc = cfg_files_read(&f, r->o);

    if (rc != 0) {
        /* unreadable (missing, mid-swap): not a content; retry later */
        log_once(r, 0, LOG_WARN,
                 r->cfg_ok ? "injector configuration unreadable; the "
                             "previous one stays in force"
                           : "injector configuration unreadable; not ready",
                 errmsg_get());
        goto out;
    }
    if ((f.hash == r->cfg_hash && r->cfg_ok) || f.hash == r->cfg_bad)
        goto out; /* unchanged, or this content was refused already */
    r->last_err[0][0] = '\0';
    if ((rc = cfg_files_load(&cfg, &f, r->o)) != 0) {
        r->cfg_bad = f.hash;
        wh_metrics_reload(WH_RELOAD_CONFIG, 0);
        log_kv(LOG_ERROR, "webhook",
               r->cfg_ok ? "new injector configuration refused; the previous "
                           "one stays in force"
                         : "injector configuration refused; not ready",
               "error", errmsg_get(), NULL);
        goto out;
    }
    wh_server_set_config(r->srv, cfg);
    wh_metrics_reload(WH_RELOAD_CONFIG, 1);
    log_kv(LOG_INFO, "webhook",
           r->cfg_ok ? "injector configuration reloaded"
                     : "injector configuration loaded",
           NULL);
    r->cfg_ok = 1;
    r->cfg_hash = f.hash;
out:
    cfg_files_cleanup(&f);
}

static void
check_cert(struct wh_reloader *r)
{
    char *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;
    unsigned long long h = FNV_INIT;
    int rc;

    if ((rc = read_opt(&cert, &cl, r->o->tls_cert, 0, &h)) != 0 ||
        (rc = read_opt(&key, &kl, r->o->tls_key, 0, &h)) != 0) {
        log_once(r, 1, LOG_WARN,
                 r->cert_ok ? "certificate files unreadable; serving the "
                              "previous certificate"
                            : "waiting for the serving certificate",
                 errmsg_get());
        goto out;
    }
    if ((h == r->cert_hash && r->cert_ok) || h == r->cert_bad)
        goto out;
    if ((rc = wh_server_set_cert(r->srv, cert, cl, key, kl)) != 0) {
        r->cert_bad = h;
        wh_metrics_reload(WH_RELOAD_CERT, 0);
        log_kv(LOG_ERROR, "webhook",
               r->cert_ok ? "new certificate refused; the previous one stays "
                            "in force"
                          : "certificate refused; not serving",
               "cert", r->o->tls_cert, "error", errmsg_get(), NULL);
        goto out;
    }
    r->last_err[1][0] = '\0';
    wh_metrics_reload(WH_RELOAD_CERT, 1);
    {
        char port[16];
        snprintf(port, sizeof(port), "%d", wh_server_port(r->srv));
        log_kv(LOG_INFO, "webhook",
               r->cert_ok ? "certificate reloaded" : "serving HTTPS", "addr",
               r->o->addr, "port", port, "cert", r->o->tls_cert, NULL);
    }
    r->cert_ok = 1;
    r->cert_hash = h;
out:
    mem_free(cert);
    if (key != NULL) {
        explicit_bzero(key, kl);
        mem_free(key);
    }
}

static void
check_all(struct wh_reloader *r)
{
    check_config(r);
    check_cert(r);
    wh_metrics_set_ready(r->cfg_ok, r->cert_ok);
}

/* ---- watching ---------------------------------------------------------- */

static void
add_dir(struct wh_reloader *r, const char *path, int is_directory)
{
    char d[PATH_MAX];
    char *slash;

    if (path == NULL)
        return;
    snprintf(d, sizeof(d), "%s", path);
    if (!is_directory) {
        slash = strrchr(d, '/');
        if (slash == NULL)
            snprintf(d, sizeof(d), ".");
        else if (slash == d)
            d[1] = '\0';
        else
            *slash = '\0';
    }
    for (int i = 0; i < r->nw; i++)
        if (strcmp(r->w[i].dir, d) == 0)
            return;
    if (r->nw == MAX_WATCH)
        return;
    snprintf(r->w[r->nw].dir, sizeof(r->w[r->nw].dir), "%s", d);
    r->w[r->nw].wd = -1;
    r->nw++;
}

static void
rewatch(struct wh_reloader *r)
{
    const uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
                          IN_CLOSE_WRITE | IN_DELETE | IN_ATTRIB |
                          IN_DELETE_SELF | IN_MOVE_SELF;

    if (r->ifd < 0)
        return;
    for (int i = 0; i < r->nw; i++) {
        if (r->w[i].wd >= 0)
            continue;
        r->w[i].wd = inotify_add_watch(r->ifd, r->w[i].dir, mask);
    }
}

/* drain reads pending events; returns 1 if any may matter. */
static int
drain(struct wh_reloader *r)
{
    char ev[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int any = 0;

    for (;;) {
        ssize_t n = read(r->ifd, ev, sizeof(ev));
        if (n <= 0)
            break;
        for (char *p = ev; p < ev + n;) {
            struct inotify_event *e = (struct inotify_event *)(void *)p;
            if (e->mask & IN_IGNORED) {
                for (int i = 0; i < r->nw; i++)
                    if (r->w[i].wd == e->wd)
                        r->w[i].wd = -1; /* gone: re-added periodically */
            }
            any = 1;
            p += sizeof(*e) + e->len;
        }
    }
    return any;
}

int
wh_reloader_new(struct wh_reloader **out, const struct wh_opts *o,
                struct wh_server *srv)
{
    struct wh_reloader *r;

    *out = NULL;
    r = mem_calloc(1, sizeof(*r));
    if (r == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    r->o = o;
    r->srv = srv;
    r->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (r->ifd < 0)
        log_kv(LOG_WARN, "webhook", "inotify unavailable; polling files",
               "error", strerror(errno), NULL);
    add_dir(r, o->tls_cert, 0);
    add_dir(r, o->tls_key, 0);
    add_dir(r, o->injector_config, 0);
    add_dir(r, o->injector_config_dir, 1);
    if (o->mesh_config != NULL)
        add_dir(r, o->mesh_config, is_dir(o->mesh_config));
    rewatch(r);
    check_all(r);
    *out = r;
    return 0;
}

int
wh_reloader_run(struct wh_reloader *r, int stop_fd)
{
    uint64_t next_check = clock_mono_ms() + r->o->reload_ms, pending = 0;

    for (;;) {
        struct pollfd pf[2] = {{stop_fd, POLLIN, 0}, {r->ifd, POLLIN, 0}};
        uint64_t now = clock_mono_ms(), until = next_check;
        int timeout;

        if (pending != 0 && pending < until)
            until = pending;
        if (until > now + 1000)
            until = now + 1000; /* the server's tick */
        timeout = until > now ? (int)(until - now) : 0;
        if (poll(pf, r->ifd >= 0 ? 2 : 1, timeout) < 0 && errno != EINTR)
            return errmsg_set(RC_IO, "poll: %s", strerror(errno));
        if (pf[0].revents != 0)
            return 0;
        if (r->ifd >= 0 && (pf[1].revents & POLLIN) && drain(r) && pending == 0)
            pending = clock_mono_ms() + DEBOUNCE_MS;
        now = clock_mono_ms();
        if ((pending != 0 && now >= pending) || now >= next_check) {
            rewatch(r);
            check_all(r);
            pending = 0;
            next_check = now + r->o->reload_ms;
        }
        wh_server_tick(r->srv);
    }
}

void
wh_reloader_free(struct wh_reloader *r)
{
    if (r == NULL)
        return;
    if (r->ifd >= 0)
        close(r->ifd);
    mem_free(r);
}
