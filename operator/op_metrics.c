/* op_metrics.c: /metrics, /healthz, /readyz of the operator
 * (op_metrics.h), on libmicrohttpd with its own polling thread. */
#include "operator/op_metrics.h"

#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/informer.h"
#include "lib/lease.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "lib/workqueue.h"
#include "operator/op_ca.h"
#include "operator/op_run.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct op_metrics {
    struct op_ctx *c;
    struct MHD_Daemon *d;
    int port;
};

static int
counter(struct buf *b, const char *name, const char *help, unsigned long v)
{
    return buf_addf(b, "# HELP %s %s\n# TYPE %s counter\n%s %lu\n", name, help,
                    name, name, v);
}

static int
gauge(struct buf *b, const char *name, const char *help, double v)
{
    return buf_addf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help,
                    name, name, v);
}

int
op_metrics_render(struct op_ctx *c, struct buf *b)
{
    static const char *const P = "mizzen_operator_";
    struct op_ca_snap *s = c->ca ? op_ca_snap_get(c->ca) : NULL;
    char n[128];
    int rc = 0;
    struct {
        const char *name;
        struct informer *inf;
    } infs[] = {{"namespaces", c->ns_inf},
                {"serviceaccounts", c->sa_inf},
                {"workload_secrets", c->sec_inf},
                {"control_plane_secrets", c->cp_inf},
                {"bundle_configmaps", c->cm_inf},
                {"webhook_configurations", c->mwc_inf}};

#define N(x) (snprintf(n, sizeof(n), "%s%s", P, x), n)
    rc = rc ? rc
            : gauge(b, N("leader"), "1 if this replica holds the Lease",
                    c->lease == NULL || lease_is_leader(c->lease));
    rc = rc ? rc
            : gauge(b, N("synced"), "1 once every informer has listed",
                    atomic_load(&c->synced));
    rc = rc ? rc
            : counter(b, N("writes_total"), "write requests sent",
                      atomic_load(&c->writes));
    rc = rc ? rc
            : counter(b, N("conflicts_total"),
                      "writes refused as stale (409 or failed test)",
                      atomic_load(&c->conflicts));
    rc = rc ? rc
            : counter(b, N("standby_skips_total"),
                      "writes skipped because this replica is not leader",
                      atomic_load(&c->skipped_not_leader));
    rc = rc ? rc
            : counter(b, N("reconcile_errors_total"),
                      "reconciles that failed and were retried",
                      atomic_load(&c->errors));
    if (rc == 0)
        rc = buf_addf(
            b,
            "# HELP %scerts_written_total certificate Secrets written, by "
            "action\n# TYPE %scerts_written_total counter\n"
            "%scerts_written_total{action=\"issued\"} %lu\n"
            "%scerts_written_total{action=\"renewed\"} %lu\n"
            "%scerts_written_total{action=\"repaired\"} %lu\n"
            "%scerts_written_total{action=\"rotated\"} %lu\n",
            P, P, P, atomic_load(&c->issued), P, atomic_load(&c->renewed), P,
            atomic_load(&c->repaired), P, atomic_load(&c->rotated));
    rc = rc ? rc
            : counter(b, N("renewals_deferred_total"),
                      "due renewals waiting for the rotation window",
                      atomic_load(&c->deferred));
    rc = rc ? rc
            : counter(b, N("bundles_written_total"),
                      "trust bundle ConfigMaps written",
                      atomic_load(&c->bundles_written));
    rc = rc ? rc
            : counter(b, N("cabundle_writes_total"),
                      "MutatingWebhookConfiguration caBundle updates",
                      atomic_load(&c->cabundles_written));
    rc = rc ? rc
            : gauge(b, N("queue_depth"), "work items ready",
                    c->q ? wq_len(c->q) : 0);
    if (rc == 0)
        rc = buf_addf(b,
                      "# HELP %scache_objects objects in each informer\n"
                      "# TYPE %scache_objects gauge\n",
                      P, P);
    for (size_t i = 0; rc == 0 && i < sizeof(infs) / sizeof(infs[0]); i++)
        if (infs[i].inf != NULL)
            rc = buf_addf(b, "%scache_objects{informer=\"%s\"} %zu\n", P,
                          infs[i].name, inf_count(infs[i].inf));
    if (rc == 0)
        rc = buf_addf(b,
                      "# HELP %scache_bytes bytes of the slim objects in "
                      "each informer\n# TYPE %scache_bytes gauge\n",
                      P, P);
    for (size_t i = 0; rc == 0 && i < sizeof(infs) / sizeof(infs[0]); i++)
        if (infs[i].inf != NULL) {
            struct inf_stats st;
            inf_get_stats(infs[i].inf, &st);
            rc = buf_addf(b, "%scache_bytes{informer=\"%s\"} %zu\n", P,
                          infs[i].name, st.bytes);
        }
    rc = rc ? rc : gauge(b, N("ca_loaded"), "1 once a CA is loaded", s != NULL);
    if (s != NULL) {
        rc = rc ? rc
                : gauge(b, N("root_rotation_phase"),
                        "0 idle, 1 publish, 2 reissue, 3 overlap", s->phase);
        rc = rc ? rc
                : gauge(b, N("root_not_after_seconds"),
                        "notAfter of the signing root (Unix time)",
                        (double)s->root_na);
        rc = rc ? rc
                : gauge(b, N("ca_plugged"), "1 if the CA comes from cacerts",
                        s->plugged);
    }
    rc = rc ? rc
            : counter(b, N("log_lines_dropped_total"),
                      "log lines dropped because the queue was full",
                      (unsigned long)log_dropped());
#undef N
    op_ca_snap_unref(s);
    return rc;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned code, const char *ctype,
      const char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload,
       size_t *upload_len, void **con_cls)
{
    struct op_metrics *m = cls;
    struct op_ctx *c = m->c;
    struct op_ca_snap *s;
    enum MHD_Result ret;
    struct buf b;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, 405, "text/plain", "method not allowed\n", 19);
    if (strcmp(url, "/healthz") == 0) {
        if (atomic_load(&c->synced))
            return reply(conn, 200, "text/plain", "ok\n", 3);
        return reply(conn, 503, "text/plain", "caches not synced\n", 18);
    }
    if (strcmp(url, "/readyz") == 0) {
        s = c->ca ? op_ca_snap_get(c->ca) : NULL;
        op_ca_snap_unref(s);
        if (s != NULL)
            return reply(conn, 200, "text/plain", "ok\n", 3);
        return reply(conn, 503, "text/plain", "no CA loaded\n", 13);
    }
    if (strcmp(url, "/metrics") != 0)
        return reply(conn, 404, "text/plain", "not found\n", 10);
    buf_init(&b, (size_t)1 << 20);
    if (op_metrics_render(c, &b) != 0) {
        buf_cleanup(&b);
        return reply(conn, 500, "text/plain", "metrics too large\n", 18);
    }
    ret = reply(conn, 200, "text/plain; version=0.0.4", b.ptr ? b.ptr : "",
                b.len);
    buf_cleanup(&b);
    return ret;
}

/* parse_addr: "host:port" | ":port" | "[v6]:port" -> sockaddr. */
static int
parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[128];
    const char *colon = strrchr(addr, ':');
    char *end = NULL;
    long port;
    size_t hl;

    if (colon == NULL)
        return errmsg_set(RC_INVAL, "metrics address '%s': want host:port",
                          addr);
    port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != 0 || port < 0 || port > 65535)
        return errmsg_set(RC_INVAL, "metrics address '%s': bad port", addr);
    hl = (size_t)(colon - addr);
    if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
        addr++;
        hl -= 2;
    }
    if (hl >= sizeof(host))
        return errmsg_set(RC_INVAL, "metrics address '%s': host too long",
                          addr);
    memcpy(host, addr, hl);
    host[hl] = 0;
    memset(ss, 0, sizeof(*ss));
    if (hl == 0 ||
        inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        if (hl == 0)
            in->sin_addr.s_addr = htonl(INADDR_ANY);
        *len = sizeof(*in);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) ==
        1) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*in6);
        return 0;
    }
    return errmsg_set(RC_INVAL, "metrics address '%s': host must be an IP",
                      addr);
}

int
op_metrics_start(struct op_metrics **out, struct op_ctx *c, const char *addr)
{
    struct op_metrics *m;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    const union MHD_DaemonInfo *di;
    int rc;

    *out = NULL;
    if ((rc = parse_addr(addr, &ss, &sl)) != 0)
        return rc;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if ((m = mem_calloc(1, sizeof(*m))) == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    m->c = c;
    m->d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (m->d == NULL) {
        mem_free(m);
        return errmsg_set(RC_IO, "metrics: cannot listen on %s", addr);
    }
    di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    m->port = di ? di->port : 0;
    *out = m;
    return 0;
}

int
op_metrics_port(const struct op_metrics *m)
{
    return m->port;
}

void
op_metrics_stop(struct op_metrics *m)
{
    if (m == NULL)
        return;
    MHD_stop_daemon(m->d);
    mem_free(m);
}
