/* wh_tls.c: one TLS record per admission answer (see wh_tls.h). */
#include "webhook/wh_tls.h"
#include "lib/clock.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

int
wh_tls_cork(struct wh_tls *t, struct MHD_Connection *c, size_t body_len)
{
    const union MHD_ConnectionInfo *si, *fi;

    if (body_len < WH_TLS_SMALL)
        t->small = 1; /* libmicrohttpd sets TCP_CORK for this one */
    if (t->session != NULL || body_len > WH_TLS_CORK_MAX)
        return 0;
    si = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (si == NULL || si->tls_session == NULL || fi == NULL)
        return 0;
    t->session = si->tls_session;
    t->fd = fi->connect_fd;
    gnutls_record_cork(t->session);
    return 1;
}

int
wh_tls_flush(struct wh_tls *t)
{
    gnutls_session_t s = t->session;
    int64_t deadline;
    int ret;

    if (s == NULL)
        return 0;
    t->session = NULL;
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
wh_tls_completed(struct wh_tls *t, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *fi;
    const int off = 0;

    /* TCP_CORK first (libmicrohttpd set it for a small answer and never
     * clears it): the record written next must leave at once */
    if (t->small && !t->tcp_clear) {
        fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (fi != NULL && setsockopt(fi->connect_fd, IPPROTO_TCP, TCP_CORK,
                                     &off, sizeof(off)) == 0)
            t->tcp_clear = 1;
    }
    t->small = 0;
    wh_tls_flush(t);
}
