/* wh_tls.c: one TLS record per admission answer (see wh_tls.h). */
#include "webhook/wh_tls.h"
#include "lib/clock.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_sockopt.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* pull: GnuTLS's read of up to len bytes (see wh_tls.h, read-ahead) */
static ssize_t
pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
    struct wh_tls *t = p;
    ssize_t n;

    if (t->rpos == t->rlen) {
        if (len >= WH_TLS_RBUF)
            return recv(t->fd, data, len, 0);
        n = recv(t->fd, t->rbuf, WH_TLS_RBUF, 0);
        if (n <= 0)
            return n; /* errno (EAGAIN ...) is GnuTLS's to read */
        t->rpos = 0;
        t->rlen = (size_t)n;
    }
    if (len > t->rlen - t->rpos)
        len = t->rlen - t->rpos;
    memcpy(data, t->rbuf + t->rpos, len);
    t->rpos += len;
    return (ssize_t)len;
}

/* pull_timeout: > 0 when a read would find data within ms milliseconds */
static int
pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
    struct wh_tls *t = p;
    struct pollfd pf = {.fd = t->fd, .events = POLLIN};

    if (t->rpos < t->rlen)
        return 1;
    return poll(&pf, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

int
wh_tls_attach(struct wh_tls *t, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *si, *fi;

    si = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (si == NULL || si->tls_session == NULL || fi == NULL)
        return 0; /* not TLS: nothing to cork or read ahead of */
    t->session = si->tls_session;
    t->fd = fi->connect_fd;
    t->rpos = t->rlen = 0;
    if ((t->rbuf = mem_alloc(WH_TLS_RBUF)) == NULL)
        return RC_NOMEM;
    /* the receive side reads through us; sending stays on the fd */
    gnutls_transport_set_ptr2(t->session, t,
                              (gnutls_transport_ptr_t)(intptr_t)t->fd);
    gnutls_transport_set_pull_function(t->session, pull);
    gnutls_transport_set_pull_timeout_function(t->session, pull_timeout);
    return 0;
}

void
wh_tls_detach(struct wh_tls *t)
{
    mem_free(t->rbuf);
    t->rbuf = NULL;
    t->rpos = t->rlen = 0;
}

int
wh_tls_cork(struct wh_tls *t, size_t body_len)
{
    if (body_len < WH_TLS_SMALL)
        t->small = 1; /* libmicrohttpd sets TCP_CORK for this one */
    if (t->session == NULL || t->corked || body_len > WH_TLS_CORK_MAX)
        return 0;
    gnutls_record_cork(t->session);
    t->corked = 1;
    wh_sockopt_hold(t->fd, 1);
    return 1;
}

int
wh_tls_flush(struct wh_tls *t)
{
    gnutls_session_t s = t->session;
    int64_t deadline;
    int ret;

    if (!t->corked)
        return 0;
    t->corked = 0;
    wh_sockopt_hold(t->fd, 0); /* the bytes go to the kernel now */
    ret = gnutls_record_uncork(s, 0);
    if (ret >= 0 && gnutls_record_check_corked(s) == 0)
        return 0;
    deadline = clock_mono_ms() + WH_TLS_FLUSH_MS;
    while (ret >= 0 || ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        struct pollfd p = {.fd = t->fd, .events = POLLOUT};
        int64_t left;

        if (ret >= 0 && gnutls_record_check_corked(s) == 0)
            return 0;
        left = deadline - clock_mono_ms();
        if (left <= 0)
            break;
        if (ret < 0 && poll(&p, 1, (int)left) < 0 && errno != EINTR)
            break;
        ret = gnutls_record_uncork(s, 0);
    }
    /* the peer is gone or not reading: libmicrohttpd sees the shut-down
     * socket on its next read and closes the connection */
    shutdown(t->fd, SHUT_RDWR);
    return -1;
}

void
wh_tls_completed(struct wh_tls *t)
{
    const int off = 0;

    /* TCP_CORK first (libmicrohttpd set it for a small answer and never
     * clears it): the record written next must leave at once */
    if (t->small && !t->tcp_clear && t->session != NULL &&
        setsockopt(t->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off)) == 0)
        t->tcp_clear = 1;
    t->small = 0;
    wh_tls_flush(t);
}
