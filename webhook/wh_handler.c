/* wh_handler.c: what a request gets: routing, the /inject path from body
 * to answer, the other endpoints, and the per-connection state (see
 * wh_srvpriv.h; the sockets and daemons are wh_server.c's).
 *
 * The handler runs on libmicrohttpd's worker threads and never blocks on
 * anything but CPU (no I/O besides the async logger's queue).
 *
 * Memory: each connection has a struct conn (MHD's socket context, from
 * MHD_CONNECTION_NOTIFY_STARTED to _CLOSED) holding the state of its
 * current request and two buffers reused from request to request: the
 * body (sized once from Content-Length) and the response (handed to MHD
 * without a copy, MHD_RESPMEM_PERSISTENT: MHD reads it until the request
 * completes, and a connection serves one request at a time). Buffers over
 * CONN_KEEP_MAX are released after the request, so an idle connection
 * keeps little. A request therefore allocates nothing in this file; the
 * remaining allocations are jansson's (the review, the injector's work). */
#include "webhook/wh_srvpriv.h"
#include "injector/injector.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_admission.h"
#include "webhook/wh_metrics.h"
#include "webhook/wh_server.h"
#include "webhook/wh_sockopt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Marker for requests answered without per-request state: libmicrohttpd
 * 0.9.75 closes the connection after a response queued on the first call
 * (it cannot tell whether a body follows), so even bodiless answers are
 * queued on the final call to keep the connection alive. */
static char deferred;

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
        wh_tls_cork(&cn->tls, len);
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

    fmt_ms(ms, sizeof(ms), (uint64_t)clock_mono_ns() - rq->t0_ns);
    snprintf(cs, sizeof(cs), "%u", code);
    wh_metrics_admission(code >= 500 ? WH_ERROR : WH_BADREQ,
                         (uint64_t)clock_mono_ns() - rq->t0_ns);
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
        uint64_t dur = (uint64_t)clock_mono_ns() - rq->t0_ns;
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
    cn = sock_conn(c);
    if (cn == NULL || cn->busy)
        return MHD_NO; /* no state (out of memory at connect): close */
    rq = &cn->rq;
    rq->body.max = s->o.max_body;
    buf_reset(&rq->body);
    rq->env = NULL;
    rq->over = 0;
    rq->code = 0;
    rq->msg[0] = '\0';
    rq->t0_ns = (uint64_t)clock_mono_ns();
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

void
wh_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct conn *cn = *con_cls, *sc;

    (void)cls;
    (void)toe;
    *con_cls = NULL;
    /* the answer's bytes leave now (wh_tls.h), before libmicrohttpd reads
     * the next request or closes */
    if ((sc = sock_conn(c)) != NULL)
        wh_tls_completed(&sc->tls);
    if (cn == NULL || (void *)cn == (void *)&deferred || !cn->busy)
        return;
    request_done(cn);
}

/* conn_notify creates and frees the connection's state. Without memory
 * for it the connection still serves everything but /inject (closed). */
void
wh_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
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

enum MHD_Result
wh_handle(void *cls, struct MHD_Connection *c, const char *url,
          const char *method, const char *version, const char *upload,
          size_t *upload_size, void **con_cls)
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
