/* wh_server.c: HTTPS endpoints on libmicrohttpd (see wh_server.h).
 *
 * Threads: each daemon runs MHD's epoll loop in a pool of `threads` worker
 * threads; the handler runs on them and never blocks on anything but CPU
 * (no I/O besides the async logger's queue).
 *
 * Memory: each connection has a struct conn (MHD's socket context, from
 * MHD_CONNECTION_NOTIFY_STARTED to _CLOSED) holding the state of its
 * current request and two buffers reused from request to request: the
 * body (sized once from Content-Length) and the response (handed to MHD
 * without a copy, MHD_RESPMEM_PERSISTENT: MHD reads it until the request
 * completes, and a connection serves one request at a time). Buffers over
 * CONN_KEEP_MAX are released after the request, so an idle connection
 * keeps little. A request therefore allocates nothing in this file; the
 * remaining allocations are jansson's (the review, the injector's work).
 *
 * Locking: s->mu guards s->cfg, s->cur and the draining list. The handler
 * only takes it to grab a configuration reference. */
#include "webhook/wh_server.h"
#include "injector/injector.h"
#include "lib/buf.h"
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

struct slot {
    struct MHD_Daemon *d;
    int fd;               /* our dup of the listening socket, handed to MHD */
    char *cert, *key;     /* PEM copies, alive as long as the daemon */
    atomic_int conns;     /* open connections (MHD_OPTION_NOTIFY_CONNECTION) */
    atomic_int handed;    /* sockets given to the daemon, not yet closed:
                           * the acceptor's --max-connections count */
    uint64_t deadline_ms; /* draining: stopped at this time at the latest */
    struct wh_server *srv;
    struct slot *next;
};

struct wh_server {
    struct wh_opts o;
    int listen_fd;
    int wake_fd; /* eventfd: the acceptor re-reads its state */
    int port;
    unsigned threads;
    pthread_mutex_t mu;
    struct inj_config *cfg; /* guarded by mu */
    struct slot *cur;       /* guarded by mu */
    struct slot *old;       /* guarded by mu: draining */
    pthread_t acceptor;
    int acceptor_up;
    atomic_int inflight;
    atomic_int stopping;
    atomic_int cert_ok;
    int shut; /* wh_server_shutdown done */
};

struct req {
    struct buf body;
    uint64_t t0_ns;
    json_t *env;   /* owned: path env overrides */
    int over;      /* body went over the cap: 413 at the end */
    unsigned code; /* != 0: answer this error once the body is read */
    char msg[ERRMSG_MAX + 32];
};

/* struct conn: one per connection (see the top of the file). */
struct conn {
    struct req rq;     /* the /inject request being served */
    int busy;          /* rq is in use: from inject_begin to completed */
    struct buf out;    /* the response body MHD is sending */
    struct wh_tls tls; /* corked for the response (wh_tls.h) */
    struct wh_server *srv;
};

#define CONN_KEEP_MAX ((size_t)64 << 10) /* larger buffers are released */
#define WH_CONN_MEMORY (16 << 10)        /* MHD's per-connection pool */

/* Marker for requests answered without per-request state: libmicrohttpd
 * 0.9.75 closes the connection after a response queued on the first call
 * (it cannot tell whether a body follows), so even bodiless answers are
 * queued on the final call to keep the connection alive. */
static char deferred;

static _Thread_local char mhd_last[256];

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

/* ---- responses --------------------------------------------------------- */

/* sock_conn: the connection's state (NULL when it could not be made) */
static struct conn *
sock_conn(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

/* send_resp queues r, whose body is len bytes. */
static enum MHD_Result
send_resp(struct wh_server *s, struct MHD_Connection *c, unsigned code,
          struct MHD_Response *r, size_t len, const char *ctype,
          const char *allow)
{
    enum MHD_Result ret;
    struct conn *cn;

    if (r == NULL)
        return MHD_NO; /* out of memory: MHD closes the connection */
    /* one TLS record per answer: uncorked when the request completes */
    if ((cn = sock_conn(c)) != NULL)
        wh_tls_cork(&cn->tls, c, len);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (atomic_load(&s->stopping))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    if (ret != MHD_YES && cn != NULL)
        wh_tls_flush(&cn->tls);
    wh_metrics_request(code);
    return ret;
}

/* send_text answers with a static text body. */
static enum MHD_Result
send_text(struct wh_server *s, struct MHD_Connection *c, unsigned code,
          const char *text, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    return send_resp(s, c, code, r, strlen(text), "text/plain; charset=utf-8",
                     allow);
}

/* send_msg answers with "<msg>\n" (copied). */
static enum MHD_Result
send_msg(struct wh_server *s, struct MHD_Connection *c, unsigned code,
         const char *msg)
{
    struct buf b;
    char *p;
    size_t n;

    buf_init(&b, 0);
    if (buf_addstr(&b, msg) != 0 || buf_addc(&b, '\n') != 0 ||
        (p = buf_take(&b, &n)) == NULL) {
        buf_cleanup(&b);
        return MHD_NO;
    }
    return send_resp(
        s, c, code,
        MHD_create_response_from_buffer_with_free_callback(n, p, mem_free), n,
        "text/plain; charset=utf-8", NULL);
}

/* send_persistent answers with p[0..n), which stays valid and unchanged
 * until the request completes (the connection's response buffer). */
static enum MHD_Result
send_persistent(struct wh_server *s, struct MHD_Connection *c, unsigned code,
                const char *p, size_t n, const char *ctype)
{
    return send_resp(
        s, c, code,
        MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_PERSISTENT),
        n, ctype, NULL);
}

/* send_buf answers with the content of b (taken). */
static enum MHD_Result
send_buf(struct wh_server *s, struct MHD_Connection *c, unsigned code,
         struct buf *b, const char *ctype)
{
    size_t n;
    char *p = buf_take(b, &n);

    if (p == NULL)
        return MHD_NO;
    return send_resp(
        s, c, code,
        MHD_create_response_from_buffer_with_free_callback(n, p, mem_free), n,
        ctype, NULL);
}

/* ---- /inject ----------------------------------------------------------- */

/* fmt_ms writes ns as milliseconds with three decimals ("0.390"). */
static void
fmt_ms(char *dst, size_t n, uint64_t ns)
{
    char tmp[32];
    uint64_t us = ns / 1000, ms = us / 1000;
    size_t i = sizeof(tmp), k;

    tmp[--i] = '\0';
    tmp[--i] = (char)('0' + us % 10);
    tmp[--i] = (char)('0' + us / 10 % 10);
    tmp[--i] = (char)('0' + us / 100 % 10);
    tmp[--i] = '.';
    do {
        tmp[--i] = (char)('0' + ms % 10);
        ms /= 10;
    } while (ms != 0);
    k = sizeof(tmp) - i;
    if (k > n) /* not for any real duration: dst is 32 bytes */
        k = n, tmp[i + k - 1] = '\0';
    memcpy(dst, tmp + i, k);
}

static enum MHD_Result
inject_fail(struct wh_server *s, struct MHD_Connection *c, struct req *rq,
            unsigned code, const char *msg)
{
    char ms[32], cs[16];

    fmt_ms(ms, sizeof(ms), now_ns() - rq->t0_ns);
    snprintf(cs, sizeof(cs), "%u", code);
    wh_metrics_admission(code >= 500 ? WH_ERROR : WH_BADREQ,
                         now_ns() - rq->t0_ns);
    log_kv(code >= 500 ? LOG_ERROR : LOG_INFO, "webhook", "admission rejected",
           "code", cs, "ms", ms, "error", msg, NULL);
    return send_msg(s, c, code, msg);
}

static enum MHD_Result
inject_finish(struct wh_server *s, struct MHD_Connection *c, struct conn *cn)
{
    struct req *rq = &cn->rq;
    struct inj_config *cfg = NULL;
    struct wh_review rv;
    struct wh_outcome oc;
    struct buf *out = &cn->out;
    enum MHD_Result ret;
    char ms[32], msg[ERRMSG_MAX + 32];
    int rc;

    memset(&rv, 0, sizeof(rv));
    memset(&oc, 0, sizeof(oc));
    buf_reset(out);
    if (rq->code != 0)
        return inject_fail(s, c, rq, rq->code, rq->msg);
    if (rq->over) {
        snprintf(msg, sizeof(msg),
                 "request body is over the limit of %zu bytes", s->o.max_body);
        return inject_fail(s, c, rq, 413, msg);
    }
    if (rq->body.len == 0)
        return inject_fail(s, c, rq, 400, "no body found");
    cfg = wh_server_config_take(s);
    if (cfg == NULL)
        return inject_fail(s, c, rq, 503,
                           "no valid injector configuration is loaded");
    /* every json_t of this admission dies with it: jansson allocates
     * from this thread's request arena (lib/mem.h) until the end */
    mem_arena_begin();
    rc = wh_review_decode(&rv, rq->body.ptr, rq->body.len, s->o.max_body);
    buf_reset(&rq->body);
    if (rc != 0) {
        snprintf(msg, sizeof(msg), "could not decode AdmissionReview: %s",
                 errmsg_get());
        ret = inject_fail(s, c, rq, rc == RC_NOMEM ? 500 : 400, msg);
        goto out;
    }
    rc = wh_admit(&oc, cfg, &rv, rq->env);
    if (rc == 0)
        rc = wh_response_encode(out, &rv, &oc);
    if (rc != 0) {
        snprintf(msg, sizeof(msg), "admission failed: %s", errmsg_get());
        ret = inject_fail(s, c, rq, 500, msg);
        goto out;
    }
    {
        uint64_t dur = now_ns() - rq->t0_ns;
        const char *ns = rv.ns;
        const char *pod = rv.name[0] ? rv.name : rv.generate_name;

        if (ns[0] == '\0' && rv.object != NULL) {
            const char *mns = json_string_value(json_object_get(
                json_object_get(rv.object, "metadata"), "namespace"));
            ns = mns ? mns : "";
        }
        wh_metrics_admission(oc.decision, dur);
        fmt_ms(ms, sizeof(ms), dur);
        log_kv(LOG_INFO, "webhook", "admission", "uid", rv.uid, "ns", ns, "pod",
               pod, "op", rv.operation, "decision",
               wh_decision_name(oc.decision), "reason", oc.reason, "ms", ms,
               NULL);
    }
    ret = send_persistent(s, c, 200, out->ptr, out->len, "application/json");
out:
    wh_outcome_cleanup(&oc);
    wh_review_cleanup(&rv);
    inj_config_free(cfg);
    mem_arena_end();
    return ret;
}

/* inject_begin checks what can be checked from the headers, then sets up
 * the request state. Only a body announced over the cap is answered at
 * once (413 and the connection closes: the body is never read); other
 * errors are answered after the body, keeping the connection. */
static enum MHD_Result
inject_begin(struct wh_server *s, struct MHD_Connection *c, const char *url,
             void **con_cls)
{
    const union MHD_ConnectionInfo *ci;
    const char *ctype, *clen;
    json_t *env = NULL; /* owned */
    struct conn *cn;
    struct req *rq;
    char msg[ERRMSG_MAX + 32];
    int rc;

    clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (clen != NULL && strtoull(clen, NULL, 10) > s->o.max_body) {
        wh_metrics_admission(WH_BADREQ, 0);
        snprintf(msg, sizeof(msg),
                 "request body is over the limit of %zu bytes", s->o.max_body);
        log_kv(LOG_INFO, "webhook", "admission rejected", "code", "413",
               "error", msg, NULL);
        return send_msg(s, c, 413, msg);
    }
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    cn = ci != NULL ? ci->socket_context : NULL;
    if (cn == NULL || cn->busy)
        return MHD_NO; /* no state (out of memory at connect): close */
    rq = &cn->rq;
    rq->body.max = s->o.max_body;
    buf_reset(&rq->body);
    rq->env = NULL;
    rq->over = 0;
    rq->code = 0;
    rq->msg[0] = '\0';
    rq->t0_ns = now_ns();
    ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                        MHD_HTTP_HEADER_CONTENT_TYPE);
    /* exactly application/json, as istiod requires */
    if (ctype == NULL || strcmp(ctype, "application/json") != 0) {
        rq->code = 415;
        snprintf(rq->msg, sizeof(rq->msg),
                 "invalid Content-Type, want `application/json`");
    } else if ((rc = wh_path_parse(&env, url)) != 0) {
        if (rc == RC_NOMEM)
            return MHD_NO;
        rq->code = 400;
        snprintf(rq->msg, sizeof(rq->msg), "invalid path: %s", errmsg_get());
    }
    rq->env = env;
    if (rq->code == 0 && clen != NULL) {
        /* room for the announced size at once instead of doubling (the
         * connection's buffer usually has it already) */
        size_t n = (size_t)strtoull(clen, NULL, 10);
        if (n + 1 > rq->body.cap) {
            char *p = mem_realloc(rq->body.ptr, n + 1);
            if (p != NULL) {
                p[0] = '\0';
                rq->body.ptr = p;
                rq->body.cap = n + 1;
            }
        }
    }
    cn->busy = 1;
    atomic_fetch_add(&s->inflight, 1);
    wh_metrics_inflight(1);
    *con_cls = cn;
    return MHD_YES;
}

/* trim releases a buffer grown past CONN_KEEP_MAX, else empties it. */
static void
trim(struct buf *b)
{
    if (b->cap > CONN_KEEP_MAX)
        buf_cleanup(b);
    else
        buf_reset(b);
}

/* request_done ends cn's request: drops what it owns, keeps the buffers. */
static void
request_done(struct conn *cn)
{
    json_decref(cn->rq.env);
    cn->rq.env = NULL;
    trim(&cn->rq.body);
    trim(&cn->out);
    cn->busy = 0;
    atomic_fetch_sub(&cn->srv->inflight, 1);
    wh_metrics_inflight(-1);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct conn *cn = *con_cls, *sc;

    (void)cls;
    (void)toe;
    *con_cls = NULL;
    /* the answer's bytes leave now (wh_tls.h), before libmicrohttpd reads
     * the next request or closes */
    if ((sc = sock_conn(c)) != NULL)
        wh_tls_completed(&sc->tls, c);
    if (cn == NULL || (void *)cn == (void *)&deferred || !cn->busy)
        return;
    request_done(cn);
}

/* conn_notify creates and frees the connection's state. Without memory
 * for it the connection still serves everything but /inject (closed). */
static void
conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
            enum MHD_ConnectionNotificationCode toe)
{
    struct slot *sl = cls;
    struct conn *cn;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&sl->conns, 1);
        cn = mem_calloc(1, sizeof(*cn));
        if (cn != NULL) {
            buf_init(&cn->rq.body, sl->srv->o.max_body);
            buf_init(&cn->out, 0);
            cn->srv = sl->srv;
            /* without its buffer GnuTLS reads the socket itself */
            (void)wh_tls_attach(&cn->tls, c);
        }
        *socket_context = cn;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

        /* libmicrohttpd closes the fd after this notification */
        if (fi != NULL)
            wh_sockopt_closed(fi->connect_fd);
        atomic_fetch_sub(&sl->handed, 1);
        cn = *socket_context;
        *socket_context = NULL;
        if (cn != NULL) {
            if (cn->busy) /* MHD reports completion first: defensive */
                request_done(cn);
            buf_cleanup(&cn->rq.body);
            buf_cleanup(&cn->out);
            /* libmicrohttpd has ended the TLS session: no read follows */
            wh_tls_detach(&cn->tls);
            mem_free(cn);
        }
        atomic_fetch_sub(&sl->conns, 1);
    }
}

/* ---- routing ----------------------------------------------------------- */

static enum MHD_Result
get_endpoint(struct wh_server *s, struct MHD_Connection *c, const char *url,
             const char *method)
{
    struct buf b;

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return send_text(s, c, 405, "method not allowed; use GET\n",
                         "GET, HEAD");
    if (strcmp(url, "/healthz") == 0)
        return send_text(s, c, 200, "ok\n", NULL);
    if (strcmp(url, "/readyz") == 0) {
        if (wh_server_ready(s))
            return send_text(s, c, 200, "ok\n", NULL);
        return send_text(s, c, 503,
                         atomic_load(&s->stopping)
                             ? "shutting down\n"
                             : "not ready: no valid injector configuration\n",
                         NULL);
    }
    buf_init(&b, 0);
    if (wh_metrics_render(&b) != 0) {
        buf_cleanup(&b);
        return MHD_NO;
    }
    return send_buf(s, c, 200, &b, "text/plain; version=0.0.4");
}

static int
is_inject_path(const char *url)
{
    return strncmp(url, "/inject", 7) == 0 && (url[7] == '\0' || url[7] == '/');
}

/* route answers a request that has no per-request state (everything but a
 * POST to /inject) once its body, if any, has been discarded. */
static enum MHD_Result
route(struct wh_server *s, struct MHD_Connection *c, const char *url,
      const char *method)
{
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
        strcmp(url, "/metrics") == 0)
        return get_endpoint(s, c, url, method);
    if (is_inject_path(url))
        return send_text(s, c, 405, "method not allowed; use POST\n", "POST");
    return send_text(s, c, 404, "404 page not found\n", NULL);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size,
       void **con_cls)
{
    struct slot *sl = cls;
    struct wh_server *s = sl->srv;
    struct conn *cn = *con_cls;
    struct req *rq;

    (void)version;
    if (cn == NULL) {
        if (is_inject_path(url) && strcmp(method, MHD_HTTP_METHOD_POST) == 0)
            return inject_begin(s, c, url, con_cls);
        *con_cls = &deferred;
        return MHD_YES;
    }
    if ((void *)cn == (void *)&deferred) {
        if (*upload_size > 0) {
            *upload_size = 0; /* a body nobody asked for: discarded */
            return MHD_YES;
        }
        return route(s, c, url, method);
    }
    rq = &cn->rq;
    if (*upload_size > 0) {
        if (!rq->over && rq->code == 0 &&
            buf_add(&rq->body, upload, *upload_size) != 0) {
            rq->over = 1; /* RC_LIMIT, or RC_NOMEM: both end the request */
            buf_cleanup(&rq->body);
        }
        *upload_size = 0; /* consumed (or discarded) */
        return MHD_YES;
    }
    return inject_finish(s, c, cn);
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
    OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, s);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)conn_notify, sl);
    if (s->threads > 1)
        OPT(MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->threads, NULL);
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    mhd_last[0] = '\0';
    sl->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, sl, MHD_OPTION_ARRAY,
                             ops, MHD_OPTION_END);
    if (sl->d == NULL)
        return errmsg_set(RC_TLS, "cannot serve with this certificate: %s",
                          mhd_last[0] ? mhd_last : "libmicrohttpd refused");
    return 0;
}

static uint64_t
now_ms(void)
{
    return now_ns() / 1000000u;
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
        old->deadline_ms = now_ms() + s->o.drain_ms;
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
    uint64_t now = now_ms();

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
    uint64_t deadline = now_ms() + timeout_ms;
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
    while (atomic_load(&s->inflight) > 0 && now_ms() < deadline)
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
