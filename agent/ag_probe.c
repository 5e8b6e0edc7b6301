/* ag_probe.c: app probes (ag_probe.h).
 *
 * gRPC health is a unary call of /grpc.health.v1.Health/Check over HTTP/2
 * with prior knowledge (h2c, what the kubelet's gRPC probe speaks): a
 * 5-byte gRPC frame around a protobuf HealthCheckRequest {string service =
 * 1}, answered by HealthCheckResponse {ServingStatus status = 1} and the
 * grpc-status trailer. The two messages are small enough to encode by
 * hand. */
#include "agent/ag_probe.h"
#include "lib/clock.h"
#include "agent/ag_http.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/rc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

size_t
ag_grpc_health_request(const char *service, unsigned char *dst, size_t dstn)
{
    size_t sl = strlen(service), ml = 0, k = 5;

    if (sl > 0) {
        size_t v = sl;

        ml = 1; /* tag */
        do {
            ml++;
            v >>= 7;
        } while (v);
        ml += sl;
    }
    if (dstn < 5 + ml)
        return 0;
    dst[0] = 0; /* not compressed */
    dst[1] = (unsigned char)(ml >> 24);
    dst[2] = (unsigned char)(ml >> 16);
    dst[3] = (unsigned char)(ml >> 8);
    dst[4] = (unsigned char)ml;
    if (sl > 0) {
        size_t v = sl;

        dst[k++] = 0x0a; /* field 1, length-delimited */
        while (v >= 0x80) {
            dst[k++] = (unsigned char)(v | 0x80);
            v >>= 7;
        }
        dst[k++] = (unsigned char)v;
        memcpy(dst + k, service, sl);
        k += sl;
    }
    return k;
}

static int
varint(const unsigned char *p, size_t n, size_t *i, unsigned long long *out)
{
    unsigned long long v = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        if (*i >= n)
            return -1;
        v |= (unsigned long long)(p[*i] & 0x7f) << shift;
        if ((p[(*i)++] & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int
ag_grpc_health_status(const unsigned char *p, size_t n)
{
    size_t len, i = 5, end;
    int status = 0;

    if (n < 5 || p[0] != 0)
        return -1;
    len = ((size_t)p[1] << 24) | ((size_t)p[2] << 16) | ((size_t)p[3] << 8) |
          p[4];
    if (len > n - 5)
        return -1;
    end = 5 + len;
    while (i < end) {
        unsigned long long key, v;

        if (varint(p, end, &i, &key) != 0)
            return -1;
        switch (key & 7) {
        case 0:
            if (varint(p, end, &i, &v) != 0)
                return -1;
            if ((key >> 3) == 1)
                status = v > 3 ? -1 : (int)v;
            break;
        case 1:
            if (end - i < 8)
                return -1;
            i += 8;
            break;
        case 2:
            if (varint(p, end, &i, &v) != 0 || v > end - i)
                return -1;
            i += (size_t)v;
            break;
        case 5:
            if (end - i < 4)
                return -1;
            i += 4;
            break;
        default:
            return -1;
        }
    }
    return status;
}

/* tcp_check: 0 when a TCP connection to host:port opens within
 * timeout_ms. */
static int
tcp_check(const char *host, int port, const char *source, long timeout_ms,
          char *msg, size_t msgn)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd = -1, rc = -1, err = 0;
    long deadline = clock_mono_ms() + timeout_ms;

    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, host,
                         &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in6);
    } else {
        snprintf(msg, msgn, "host %s is not an IP address", host);
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(msg, msgn, "socket: %s", strerror(errno));
        return -1;
    }
    if (source && *source && ss.ss_family == AF_INET) {
        struct sockaddr_in src;

        memset(&src, 0, sizeof src);
        src.sin_family = AF_INET;
        if (inet_pton(AF_INET, source, &src.sin_addr) == 1)
            (void)bind(fd, (struct sockaddr *)&src, sizeof src);
    }
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
        rc = 0;
        goto out;
    }
    if (errno != EINPROGRESS) {
        snprintf(msg, msgn, "connect: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        long left = deadline - clock_mono_ms();
        int pr;
        socklen_t el = sizeof err;

        if (left <= 0) {
            snprintf(msg, msgn, "connect: timed out");
            goto out;
        }
        pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            err = errno;
        if (err == 0) {
            rc = 0;
        } else {
            snprintf(msg, msgn, "connect: %s", strerror(err));
        }
        goto out;
    }
out:
    close(fd);
    return rc;
}

void
ag_probe_run(const struct ag_prober *p, const struct ag_probe_ctx *c, int *code,
             char *msg, size_t msgn)
{
    const char *host = p->host && *p->host ? p->host : c->pod_ip;
    const char *source = c->source;
    char uhost[300], url[2600];
    long timeout_ms = p->timeout_s * 1000;
    struct ag_http_req rq;
    struct ag_http_resp rs;
    int rc;

    if (!(p->host && *p->host) && c->localhost)
        host = strchr(c->pod_ip, ':') ? "::1" : "127.0.0.1";
    if (strchr(host, ':') != NULL)
        source = NULL; /* an IPv4 source cannot reach an IPv6 target */
    *code = 500;
    snprintf(msg, msgn, "ok");
    if (p->kind == AG_PROBE_TCP) {
        if (tcp_check(host, p->port, source, timeout_ms, msg, msgn) == 0)
            *code = 200;
        return;
    }
    ag_http_url_host(host, uhost, sizeof uhost);
    memset(&rq, 0, sizeof rq);
    rq.timeout_ms = timeout_ms;
    rq.source = source;
    rq.url = url;
    if (p->kind == AG_PROBE_HTTP) {
        const char *hv[AG_PROBER_HEADERS_MAX + 2];
        char hbuf[AG_PROBER_HEADERS_MAX][600];
        size_t k = 0;

        snprintf(url, sizeof url, "%s://%s:%d%s", p->https ? "https" : "http",
                 uhost, p->port, p->http_path);
        for (size_t i = 0; i < p->nheaders && k < AG_PROBER_HEADERS_MAX; i++) {
            snprintf(hbuf[k], sizeof hbuf[k], "%s: %s", p->headers[i].name,
                     p->headers[i].value);
            hv[k] = hbuf[k];
            k++;
        }
        hv[k++] = "User-Agent: kube-probe/mizzen";
        hv[k] = NULL;
        rq.headers = hv;
        rq.insecure = p->https;
        rc = ag_http_do(&rq, &rs);
        if (rc == 0) {
            *code = (int)rs.status;
            snprintf(msg, msgn, "app returned %ld", rs.status);
        } else {
            snprintf(msg, msgn, "%s", errmsg_get());
        }
        ag_http_resp_cleanup(&rs);
        return;
    }
    {
        static const char *const gh[] = {"Content-Type: application/grpc",
                                         "TE: trailers",
                                         "User-Agent: kube-probe/mizzen", NULL};
        unsigned char body[1100];
        size_t bl = ag_grpc_health_request(p->grpc_service, body, sizeof body);
        int st;

        snprintf(url, sizeof url, "http://%s:%d/grpc.health.v1.Health/Check",
                 uhost, p->port);
        rq.method = "POST";
        rq.headers = gh;
        rq.body = body;
        rq.body_len = bl;
        rq.h2c = 1;
        rq.max_body = 4096;
        rq.fail_over_max = 1;
        rc = ag_http_do(&rq, &rs);
        if (rc != 0) {
            snprintf(msg, msgn, "%s", errmsg_get());
        } else if (rs.grpc_status != 0) {
            snprintf(msg, msgn, "grpc-status %d", rs.grpc_status);
        } else {
            st = ag_grpc_health_status((const unsigned char *)rs.body.ptr,
                                       rs.body.len);
            if (st == 1)
                *code = 200;
            snprintf(msg, msgn, "health status %d", st);
        }
        ag_http_resp_cleanup(&rs);
    }
}
