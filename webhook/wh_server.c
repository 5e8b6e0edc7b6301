/* wh_server.c: the HTTPS server's sockets and daemons (see wh_server.h):
 * the listening socket, the acceptor, one libmicrohttpd daemon per
 * certificate (old ones drain), configuration hand-over and shutdown.
 * What a request gets is wh_handler.c's.
 *
 * Threads: each daemon runs MHD's epoll loop in a pool of `threads` worker
 * threads; the handler runs on them (wh_handler.c).
 *
 * Locking: s->mu guards s->cfg, s->cur and the draining list. The handler
 * only takes it to grab a configuration reference. */
#include "webhook/wh_server.h"
#include "webhook/wh_srvpriv.h"
#include "injector/injector.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/errmsg.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_admission.h"
#include "webhook/wh_metrics.h"
#include "webhook/wh_opts.h"
#include "webhook/wh_sockopt.h"
#include "webhook/wh_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char mhd_last[256];

static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    size_t n;

    (void)cls;
    vsnprintf(mhd_last, sizeof(mhd_last), fmt, ap);
    n = strlen(mhd_last);
    while (n > 0 && (mhd_last[n - 1] == '\n' || mhd_last[n - 1] == ' '))
        mhd_last[--n] = '\0';
    log_kv(LOG_DEBUG, "webhook", "libmicrohttpd", "detail", mhd_last, NULL);
}

/* ---- lifecycle --------------------------------------------------------- */

static int
listen_on(const char *addr, int port, int *fd_out, int *port_out)
{
    struct addrinfo hints, *ai = NULL;
    char portstr[16];
    int fd = -1, one = 1, rc;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);
    if ((rc = getaddrinfo(addr, portstr, &hints, &ai)) != 0)
        return errmsg_set(RC_INVAL, "invalid listen address '%s': %s", addr,
                          gai_strerror(rc));
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        rc = errmsg_set(RC_IO, "socket: %s", strerror(errno));
        goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        rc = errmsg_set(RC_IO, "bind %s:%d: %s", addr, port, strerror(errno));
        goto fail;
    }
    if (listen(fd, 1024) != 0) {
        rc = errmsg_set(RC_IO, "listen: %s", strerror(errno));
        goto fail;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *port_out = ss.ss_family == AF_INET6
                        ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(ai);
    *fd_out = fd;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc;
}

/* acceptor_main: accepts on the listening socket and hands each connection
 * to the current daemon. libmicrohttpd spreads added connections over its
 * worker threads (by descriptor number), which its own accept loop does
 * not: it takes connections in bursts on whichever worker wakes first, so
 * a client opening 16 connections at once got one busy worker and one idle
 * one. Without a daemon (no certificate yet) connections wait in the
 * backlog. */
static void *
acceptor_main(void *arg)
{
    struct wh_server *s = arg;

    for (;;) {
        struct pollfd pf[2] = {{s->wake_fd, POLLIN, 0},
                               {s->listen_fd, POLLIN, 0}};
        int have;

        pthread_mutex_lock(&s->mu);
        have = s->cur != NULL;
        pthread_mutex_unlock(&s->mu);
        if (atomic_load(&s->stopping))
            return NULL;
        if (poll(pf, have ? 2 : 1, -1) < 0 && errno != EINTR)
            return NULL;
        if (pf[0].revents) {
            uint64_t v;
            if (read(s->wake_fd, &v, sizeof(v)) < 0) {
                /* nothing to do: the counter was read by nobody else */
            }
            continue;
        }
        for (int burst = 0; burst < 64 && have; burst++) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl,
                             SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                    errno == ENOMEM) {
                    struct timespec ts = {0, 50 * 1000 * 1000};
                    log_kv(LOG_WARN, "webhook", "accept failed", "error",
                           strerror(errno), NULL);
                    nanosleep(&ts, NULL); /* let connections close */
                }
                break; /* EAGAIN: done for now */
            }
            /* answers are written whole: no Nagle delay on their tail */
            (void)wh_sockopt_accept(fd);
            pthread_mutex_lock(&s->mu);
            if (s->cur != NULL &&
                atomic_load(&s->cur->handed) >= s->o.max_conns) {
                /* full: refused here, never by libmicrohttpd (whose own
                 * limit is set out of reach, see slot_start) */
                wh_sockopt_closed(fd);
                close(fd);
            } else if (s->cur != NULL) {
                atomic_fetch_add(&s->cur->handed, 1);
                /* on failure MHD has closed fd (the next accept of the
                 * number resets its state) */
                if (MHD_add_connection(s->cur->d, fd, (struct sockaddr *)&ss,
                                       sl) != MHD_YES)
                    atomic_fetch_sub(&s->cur->handed, 1);
            } else {
                wh_sockopt_closed(fd);
                close(fd);
                have = 0;
            }
            pthread_mutex_unlock(&s->mu);
        }
    }
}

static void
wake_acceptor(struct wh_server *s)
{
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is saturated: the acceptor wakes anyway */
    }
}

int
wh_server_new(struct wh_server **out, const struct wh_opts *opts)
{
    struct wh_server *s;
    long ncpu;
    int rc;

    *out = NULL;
    s = mem_calloc(1, sizeof(*s));
    if (s == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    s->o = *opts;
    s->listen_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    s->threads = opts->threads > 0 ? (unsigned)opts->threads
                 : ncpu > 0        ? (unsigned)ncpu
                                   : 1;
    if (s->threads > 64)
        s->threads = 64;
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0) {
        rc = errmsg_set(RC_IO, "eventfd: %s", strerror(errno));
        goto fail;
    }
    if ((rc = listen_on(opts->addr, opts->port, &s->listen_fd, &s->port)) != 0)
        goto fail;
    if (pthread_create(&s->acceptor, NULL, acceptor_main, s) != 0) {
        rc = errmsg_set(RC_INTERNAL, "cannot start the acceptor thread");
        goto fail;
    }
    s->acceptor_up = 1;
    *out = s;
    return 0;
fail:
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    pthread_mutex_destroy(&s->mu);
    mem_free(s);
    return rc;
}

int
wh_server_port(const struct wh_server *s)
{
    return s->port;
}

static void
slot_free(struct slot *sl)
{
    if (sl == NULL)
        return;
    if (sl->d != NULL)
        MHD_stop_daemon(sl->d);
    mem_free(sl->cert);
    if (sl->key != NULL) {
        /* wipe the private key before returning the memory */
        explicit_bzero(sl->key, strlen(sl->key));
        mem_free(sl->key);
    }
    mem_free(sl);
}

/* mhd_limit: libmicrohttpd's connection limit, out of the acceptor's reach
 * (see slot_start) */
static unsigned
mhd_limit(const struct wh_server *s)
{
    unsigned long long n =
        ((unsigned long long)s->o.max_conns + 1) * (unsigned)s->threads;

    return n > UINT_MAX / 2 ? UINT_MAX / 2 : (unsigned)n;
}

static int
slot_start(struct wh_server *s, struct slot *sl)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO |
                     MHD_USE_ITC | MHD_USE_TLS | MHD_USE_ERROR_LOG |
                     MHD_USE_NO_LISTEN_SOCKET;
    struct MHD_OptionItem ops[16];
    int n = 0;

#define OPT(o, v, p) (ops[n++] = (struct MHD_OptionItem){(o), (v), (p)})
    OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL);
    OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, sl->cert);
    OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, sl->key);
    OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)s->o.tls_priorities);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->o.idle_timeout_s, NULL);
    /* The acceptor enforces --max-connections (slot.handed). libmicrohttpd
     * 0.9.75 must never reach its own limit: when a connection added with
     * MHD_add_connection meets it, new_connection_process_ returns with
     * cleanup_connection_mutex still locked and the worker deadlocks on
     * its next lock (every connection then hangs, SIGTERM included). Each
     * pool worker gets limit/threads, and all sockets may land on one. */
    OPT(MHD_OPTION_CONNECTION_LIMIT, (intptr_t)mhd_limit(s), NULL);
    /* MHD zeroes a connection's whole memory pool after every request:
     * the 32 KiB default cost a 32 KiB memset (and the L1 cache) per
     * request; 16 KiB holds the headers of any real request and the read
     * buffer the body streams through */
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)WH_CONN_MEMORY, NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)wh_completed, s);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)wh_conn_notify, sl);
    if (s->threads > 1)
        OPT(MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->threads, NULL);
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    mhd_last[0] = '\0';
    sl->d = MHD_start_daemon(flags, 0, NULL, NULL, wh_handle, sl,
                             MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (sl->d == NULL)
        return errmsg_set(RC_TLS, "cannot serve with this certificate: %s",
                          mhd_last[0] ? mhd_last : "libmicrohttpd refused");
    return 0;
}

int
wh_server_set_cert(struct wh_server *s, const char *cert_pem, size_t cert_len,
                   const char *key_pem, size_t key_len)
{
    struct slot *sl, *old;
    int rc;

    if (atomic_load(&s->stopping))
        return errmsg_set(RC_AGAIN, "shutting down");
    sl = mem_calloc(1, sizeof(*sl));
    if (sl == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    sl->srv = s;
    sl->cert = mem_strndup(cert_pem, cert_len);
    sl->key = mem_strndup(key_pem, key_len);
    if (sl->cert == NULL || sl->key == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory");
        goto fail;
    }
    if ((rc = slot_start(s, sl)) != 0)
        goto fail;
    pthread_mutex_lock(&s->mu);
    old = s->cur;
    s->cur = sl; /* new connections go to the new daemon from now on */
    if (old != NULL) {
        /* the old daemon keeps its connections until they are done */
        old->deadline_ms = (uint64_t)clock_mono_ms() + s->o.drain_ms;
        old->next = s->old;
        s->old = old;
    }
    pthread_mutex_unlock(&s->mu);
    atomic_store(&s->cert_ok, 1);
    wake_acceptor(s);
    return 0;
fail:
    slot_free(sl);
    return rc;
}

void
wh_server_set_config(struct wh_server *s, struct inj_config *cfg)
{
    struct inj_config *prev;

    if (cfg == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    prev = s->cfg;
    s->cfg = cfg;
    pthread_mutex_unlock(&s->mu);
    inj_config_free(prev); /* in-flight requests hold their own refs */
}

struct inj_config *
wh_server_config_take(struct wh_server *s)
{
    struct inj_config *c;

    pthread_mutex_lock(&s->mu);
    c = s->cfg ? inj_config_ref(s->cfg) : NULL;
    pthread_mutex_unlock(&s->mu);
    return c;
}

int
wh_server_ready(const struct wh_server *s)
{
    struct wh_server *m = (struct wh_server *)s;
    int cfg_ok;

    pthread_mutex_lock(&m->mu);
    cfg_ok = m->cfg != NULL;
    pthread_mutex_unlock(&m->mu);
    return cfg_ok && atomic_load(&m->cert_ok) && !atomic_load(&m->stopping);
}

/* reap detaches the draining daemons that are done (all when force). */
static struct slot *
reap(struct wh_server *s, int force)
{
    struct slot **pp, *done = NULL;
    uint64_t now = (uint64_t)clock_mono_ms();

    pthread_mutex_lock(&s->mu);
    pp = &s->old;
    while (*pp != NULL) {
        struct slot *sl = *pp;
        if (force || atomic_load(&sl->conns) <= 0 || now >= sl->deadline_ms) {
            *pp = sl->next;
            sl->next = done;
            done = sl;
        } else {
            pp = &sl->next;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return done;
}

void
wh_server_tick(struct wh_server *s)
{
    struct slot *done = reap(s, 0);

    while (done != NULL) {
        struct slot *next = done->next;
        char n[16];
        snprintf(n, sizeof(n), "%d", atomic_load(&done->conns));
        log_kv(LOG_INFO, "webhook", "old certificate's server stopped",
               "open_connections", n, NULL);
        slot_free(done);
        done = next;
    }
}

void
wh_server_shutdown(struct wh_server *s, unsigned timeout_ms)
{
    struct slot *cur, *done;
    uint64_t deadline = (uint64_t)clock_mono_ms() + timeout_ms;
    struct timespec ts = {0, 10 * 1000 * 1000};

    if (s->shut)
        return;
    s->shut = 1;
    atomic_store(&s->stopping, 1);
    /* stop accepting: the acceptor exits, the listening socket closes and
     * new connections are refused from here on */
    if (s->acceptor_up) {
        wake_acceptor(s);
        pthread_join(s->acceptor, NULL);
        s->acceptor_up = 0;
    }
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->listen_fd = -1;
    pthread_mutex_lock(&s->mu);
    cur = s->cur;
    s->cur = NULL;
    if (cur != NULL) {
        cur->deadline_ms = deadline;
        cur->next = s->old;
        s->old = cur;
    }
    pthread_mutex_unlock(&s->mu);
    while (atomic_load(&s->inflight) > 0 &&
           (uint64_t)clock_mono_ms() < deadline)
        nanosleep(&ts, NULL);
    done = reap(s, 1);
    while (done != NULL) {
        struct slot *next = done->next;
        slot_free(done);
        done = next;
    }
}

void
wh_server_free(struct wh_server *s)
{
    if (s == NULL)
        return;
    wh_server_shutdown(s, 0);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    inj_config_free(s->cfg);
    pthread_mutex_destroy(&s->mu);
    mem_free(s);
}
