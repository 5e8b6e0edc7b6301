/* ag_status.c: the status server (ag_status.h).
 *
 * Every request is answered on the last handler call (after any body was
 * read and discarded): libmicrohttpd 0.9.75 closes a connection whose
 * response was queued before it knew whether a body follows. The handler
 * runs on the connection's own thread and may block for a probe's or a
 * scrape's deadline; the rest of the agent is never touched except through
 * atomics and the notify callbacks. */
#include "agent/ag_status.h"
#include "agent/ag_http.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct ag_status {
    struct ag_status_cfg cfg;
    struct MHD_Daemon *d;
};

static char marker; /* per-connection state of a request being read */

int
ag_ready_eval(const char *text, size_t len, char *why, size_t whyn)
{
    static const char *const keys[] = {"server.state",
                                       "listener_manager.workers_started",
                                       "cluster_manager.cds.update_success",
                                       "listener_manager.lds.update_success"};
    long v[4] = {-1, -1, -1, -1};
    const char *p = text, *end = text + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);

        for (int i = 0; i < 4; i++) {
            size_t kl = strlen(keys[i]);

            if (ll > kl + 1 && memcmp(p, keys[i], kl) == 0 && p[kl] == ':') {
                char num[24];
                size_t nl2 = ll - kl - 1;
                char *e = NULL;
                long x;

                if (nl2 >= sizeof num)
                    nl2 = sizeof num - 1;
                memcpy(num, p + kl + 1, nl2);
                num[nl2] = '\0';
                x = strtol(num, &e, 10);
                if (e != num && (*e == '\0' || *e == '\r' || *e == ' '))
                    v[i] = x;
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (v[0] != 0)
        snprintf(why, whyn, "server.state is %ld, not LIVE (0)", v[0]);
    else if (v[1] != 1)
        snprintf(why, whyn, "workers not started");
    else if (v[2] <= 0)
        snprintf(why, whyn,
                 "config not received from XDS server (no CDS "
                 "update yet)");
    else if (v[3] <= 0)
        snprintf(why, whyn,
                 "config not received from XDS server (no LDS "
                 "update yet)");
    else
        return 1;
    return 0;
}

static enum MHD_Result
respond(struct MHD_Connection *c, unsigned code, const char *ctype,
        const char *body, size_t len)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, (void *)body,
                                        MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned code,
                                    const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result
respond_text(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof msg - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof msg - 2)
        n = (int)sizeof msg - 2;
    msg[n++] = '\n';
    msg[n] = '\0';
    return respond(c, code, "text/plain; charset=utf-8", msg, (size_t)n);
}

static int
peer_is_loopback(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const unsigned char *b = in6->sin6_addr.s6_addr;
        static const unsigned char v4map[12] = {0, 0, 0, 0, 0,    0,
                                                0, 0, 0, 0, 0xff, 0xff};

        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        return memcmp(b, v4map, 12) == 0 && b[12] == 127;
    }
    return 0;
}

static enum MHD_Result
handle_ready(struct ag_status *s, struct MHD_Connection *c)
{
    static const char filter[] =
        "%5E%28server%5C.state%7Clistener_manager%5C.workers_started%7C"
        "cluster_manager%5C.cds%5C.update_success%7Clistener_manager%5C."
        "lds%5C.update_success%29%24";
    char url[512], host[64], why[160];
    struct ag_http_req rq;
    struct ag_http_resp rs;
    enum MHD_Result ret;
    int rc;

    if (atomic_load(s->cfg.shutting_down))
        return respond_text(c, 503, "shutting down");
    if (!atomic_load(&s->cfg.stats->envoy_up))
        return respond_text(c, 503, "envoy is not running");
    ag_http_url_host(ag_admin_host(s->cfg.node), host, sizeof host);
    snprintf(url, sizeof url, "http://%s:%d/stats?usedonly&filter=%s", host,
             s->cfg.o->admin_port, filter);
    memset(&rq, 0, sizeof rq);
    rq.url = url;
    rq.timeout_ms = s->cfg.o->ready_timeout_ms;
    rq.max_body = 64 << 10;
    rc = ag_http_do(&rq, &rs);
    if (rc != 0)
        ret = respond_text(c, 503, "envoy admin: %s", errmsg_get());
    else if (rs.status != 200)
        ret =
            respond_text(c, 503, "envoy admin /stats answered %ld", rs.status);
    else if (!ag_ready_eval(rs.body.ptr ? rs.body.ptr : "", rs.body.len, why,
                            sizeof why))
        ret = respond_text(c, 503, "not ready: %s", why);
    else
        ret = respond(c, 200, "text/plain; charset=utf-8", "", 0);
    ag_http_resp_cleanup(&rs);
    return ret;
}

static enum MHD_Result
handle_probe(struct ag_status *s, struct MHD_Connection *c, const char *url)
{
    const struct ag_prober *p = ag_probers_find(s->cfg.probers, url);
    char msg[512];
    int code = 500;

    if (p == NULL)
        return respond_text(c, 400, "no prober for %.200s", url);
    ag_probe_run(p, &s->cfg.probe, &code, msg, sizeof msg);
    atomic_fetch_add(&s->cfg.stats->probes, 1);
    if (code >= 400 || code < 200) {
        atomic_fetch_add(&s->cfg.stats->probe_failures, 1);
        log_kv(LOG_DEBUG, "status", "app probe failed", "path", url, "reason",
               msg, NULL);
    }
    if (code < 100 || code > 599)
        code = 500;
    return respond_text(c, (unsigned)code, "%s", msg);
}

/* scrape fetches url into rs; 0 or RC_* (counted as a scrape failure). */
static int
scrape(struct ag_status *s, const char *url, struct ag_http_resp *rs)
{
    static const char *const hdr[] = {"Accept: text/plain;version=0.0.4", NULL};
    struct ag_http_req rq;
    int rc;

    memset(&rq, 0, sizeof rq);
    rq.url = url;
    rq.headers = hdr;
    rq.timeout_ms = s->cfg.o->scrape_timeout_ms;
    rq.max_body = (size_t)s->cfg.o->scrape_max_bytes;
    rq.fail_over_max = 1;
    rc = ag_http_do(&rq, rs);
    if (rc == 0 && rs->status != 200)
        rc = errmsg_set(RC_IO, "%s answered %ld", url, rs->status);
    if (rc != 0) {
        atomic_fetch_add(&s->cfg.stats->scrape_failures, 1);
        log_kv(LOG_WARN, "status", "scrape failed", "url", url, "err",
               errmsg_get(), NULL);
    }
    return rc;
}

static enum MHD_Result
handle_metrics(struct ag_status *s, struct MHD_Connection *c)
{
    struct buf own, out;
    struct ag_http_resp envoy, app;
    struct ag_metrics_src src[3];
    struct MHD_Response *r;
    char url[2600], host[64];
    size_t n = 0, len = 0;
    char *body;
    enum MHD_Result ret;
    int envoy_ok, app_ok = 0, rc;

    buf_init(&own, 1 << 20);
    buf_init(&out, (size_t)s->cfg.o->scrape_max_bytes * 2 + (1 << 20));
    memset(&app, 0, sizeof app);
    buf_init(&app.body, 1);
    ag_stats_render(&own, s->cfg.stats, (unsigned long)log_dropped());
    src[n++] =
        (struct ag_metrics_src){"agent", own.ptr ? own.ptr : "", own.len};
    ag_http_url_host(ag_admin_host(s->cfg.node), host, sizeof host);
    snprintf(url, sizeof url, "http://%s:%d/stats/prometheus", host,
             s->cfg.o->envoy_prom_port);
    envoy_ok = scrape(s, url, &envoy) == 0;
    if (envoy_ok)
        src[n++] =
            (struct ag_metrics_src){"envoy", envoy.body.ptr, envoy.body.len};
    if (s->cfg.prom->scrape) {
        snprintf(url, sizeof url, "http://%s:%d%s", host, s->cfg.prom->port,
                 s->cfg.prom->path);
        ag_http_resp_cleanup(&app);
        app_ok = scrape(s, url, &app) == 0;
        if (app_ok)
            src[n++] =
                (struct ag_metrics_src){"app", app.body.ptr, app.body.len};
    }
    for (size_t i = 0; i < n; i++)
        if (src[i].text == NULL)
            src[i].text = "";
    rc = ag_metrics_merge(&out, src, n, NULL);
    ag_http_resp_cleanup(&envoy);
    ag_http_resp_cleanup(&app);
    buf_cleanup(&own);
    if (rc != 0) {
        buf_cleanup(&out);
        return respond_text(c, 500, "merge: %s", errmsg_get());
    }
    body = buf_take(&out, &len);
    if (body == NULL)
        return respond_text(c, 500, "out of memory");
    r = MHD_create_response_from_buffer_with_free_callback(len, body, mem_free);
    if (r == NULL) {
        mem_free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type",
                            "text/plain; version=0.0.4; charset=utf-8");
    ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
handle_admin(struct ag_status *s, struct MHD_Connection *c, const char *method,
             ag_status_notify_fn fn, const char *what)
{
    if (strcmp(method, "POST") != 0)
        return respond_text(c, 405, "%s needs POST", what);
    if (!peer_is_loopback(c))
        return respond_text(c, 403, "%s is only accepted from localhost", what);
    log_kv(LOG_INFO, "status", "request", "path", what, NULL);
    if (fn)
        fn(s->cfg.arg);
    return respond_text(c, 200, "OK");
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
        const char *method, const char *version, const char *upload_data,
        size_t *upload_data_size, void **con_cls)
{
    struct ag_status *s = cls;

    if (*con_cls == NULL) {
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size > 0) { /* bodies are not used: discard */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/healthz/ready") == 0)
        return handle_ready(s, c);
    if (strncmp(url, "/app-health/", 12) == 0 ||
        strncmp(url, "/app-lifecycle/", 15) == 0) {
        if (!ag_prober_path_valid(url))
            return respond_text(c, 404, "not found");
        return handle_probe(s, c, url);
    }
    if (strcmp(url, "/stats/prometheus") == 0 || strcmp(url, "/metrics") == 0)
        return handle_metrics(s, c);
    if (strcmp(url, "/quitquitquit") == 0)
        return handle_admin(s, c, method, s->cfg.on_quit, "/quitquitquit");
    if (strcmp(url, "/drain") == 0)
        return handle_admin(s, c, method, s->cfg.on_drain, "/drain");
    return respond_text(c, 404, "not found");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];

    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_kv(LOG_DEBUG, "status", "libmicrohttpd", "detail", msg, NULL);
}

int
ag_status_start(struct ag_status **out, const struct ag_status_cfg *cfg)
{
    struct ag_status *s;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

    *out = NULL;
    s = mem_calloc(1, sizeof *s);
    if (s == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    s->cfg = *cfg;
    if (cfg->node->ipv6)
        flags |= MHD_USE_DUAL_STACK;
    s->d = MHD_start_daemon(flags, (uint16_t)cfg->o->status_port, NULL, NULL,
                            handler, s, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)128, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)60, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                            NULL, MHD_OPTION_END);
    if (s->d == NULL) {
        mem_free(s);
        return errmsg_set(RC_IO, "status server: cannot listen on port %d",
                          cfg->o->status_port);
    }
    *out = s;
    return 0;
}

void
ag_status_stop(struct ag_status *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->d);
    mem_free(s);
}
