/* wh_tls.h: one TLS record per small response.
 *
 * libmicrohttpd 0.9.75 sends a TLS response's header and body with two
 * gnutls_record_send calls: two records, two sendmsg() and (it pushes
 * the header alone when header + body >= 1400 bytes) two packets that
 * each wake the client. wh_tls_cork corks the connection's GnuTLS session
 * before the response is queued, so both sends only fill GnuTLS's buffer;
 * wh_tls_flush, called from the request-completed notification (which
 * libmicrohttpd runs right after the last byte was handed to GnuTLS and
 * before it reads the next request or closes), writes it as one record.
 *
 * A flush that cannot finish at once (the peer is not reading: its
 * window and our send buffer are full) waits for the socket with poll()
 * for at most WH_TLS_FLUSH_MS, then shuts the connection down, which
 * libmicrohttpd then closes. Only responses of at most WH_TLS_CORK_MAX
 * bytes are corked (one record, and they fit an empty send buffer), so
 * the wait happens only for a peer that sends requests without reading
 * the answers. */
#ifndef MZ_WH_TLS_H
#define MZ_WH_TLS_H

#include <stddef.h>

struct MHD_Connection;

#define WH_TLS_CORK_MAX ((size_t)12 << 10)
#define WH_TLS_FLUSH_MS 1000

/* The corked state of one connection (in the connection's state). */
struct wh_tls {
    void *session; /* gnutls_session_t while corked, else NULL */
    int fd;
};

/* wh_tls_cork corks c's TLS session when a body of body_len bytes is
 * small enough; 1 if corked, 0 if not (too large, not TLS). */
int wh_tls_cork(struct wh_tls *t, struct MHD_Connection *c, size_t body_len);

/* wh_tls_flush uncorks (no-op when not corked): 0 when everything was
 * written, -1 when the connection was shut down instead (peer gone, or
 * not reading for WH_TLS_FLUSH_MS). */
int wh_tls_flush(struct wh_tls *t);

#endif
