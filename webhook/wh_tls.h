/* wh_tls.h: one TLS record per admission answer, and the TCP state that
 * libmicrohttpd leaves behind.
 *
 * libmicrohttpd 0.9.75 sends a TLS response's header and body with two
 * gnutls_record_send calls: two records, two sendmsg() and (it pushes
 * the header alone when header + body >= 1400 bytes) two packets that
 * each wake the client. wh_tls_cork corks the connection's GnuTLS session
 * before an answer is queued, so both sends only fill GnuTLS's buffer;
 * wh_tls_completed, called from the request-completed notification (which
 * libmicrohttpd runs right after the last byte was handed to GnuTLS and
 * before it reads the next request or closes), writes it as one record.
 *
 * TCP_CORK: for an answer under 1400 bytes libmicrohttpd sets TCP_CORK
 * before the header and, on Linux with TLS, pushes the body with
 * TCP_NODELAY and never clears TCP_CORK again (it believes the socket
 * stays corked, and so never sets it again either). Our record, written
 * after that push, would be held by the kernel for up to 200 ms. So after
 * the first small answer on a connection wh_tls_completed clears TCP_CORK
 * once, for good, before it writes the record.
 *
 * A flush that cannot finish at once (the peer is not reading: its window
 * and our send buffer are full) waits for the socket with poll() for at
 * most WH_TLS_FLUSH_MS, then shuts the connection down, which
 * libmicrohttpd then closes. That wait holds the worker thread (and so
 * every connection on it) for at most WH_TLS_FLUSH_MS. Only answers of at
 * most WH_TLS_CORK_MAX bytes are corked: they fit an empty send buffer,
 * so only a peer that sends requests without reading the answers
 * (pipelining into a full window) ever waits; the API server does not
 * pipeline.
 *
 * Read-ahead: GnuTLS reads a record as two recv() calls, the 5-byte
 * header and then the rest. wh_tls_attach installs a pull function that
 * reads up to WH_TLS_RBUF bytes at once into the connection's buffer and
 * serves GnuTLS from it: one recv() per request record instead of two
 * (reads of WH_TLS_RBUF bytes or more go straight into GnuTLS's buffer).
 * It returns EAGAIN only when its buffer is empty and the socket has
 * nothing, so whenever libmicrohttpd sees EAGAIN (and waits for epoll)
 * no byte is held back in the buffer: the edge-triggered wake-up it
 * waits for is still to come. */
#ifndef MZ_WH_TLS_H
#define MZ_WH_TLS_H

#include <stddef.h>

struct MHD_Connection;

#define WH_TLS_CORK_MAX ((size_t)12 << 10)
#define WH_TLS_SMALL ((size_t)1400) /* libmicrohttpd's threshold */
#define WH_TLS_FLUSH_MS 100
#define WH_TLS_RBUF 4096 /* read-ahead buffer: a typical review's record */

/* The state of one connection (in the connection's state, zeroed before
 * wh_tls_attach). */
struct wh_tls {
    void *session; /* gnutls_session_t of the connection, NULL: not TLS */
    int fd;        /* the connection's socket (with session) */
    int corked;    /* an answer is held in GnuTLS's buffer */
    int small;     /* an answer under WH_TLS_SMALL since the last completion */
    int tcp_clear; /* TCP_CORK cleared after libmicrohttpd set it */
    unsigned char *rbuf; /* WH_TLS_RBUF bytes, or NULL: no read-ahead */
    size_t rpos, rlen;   /* unread bytes: rbuf[rpos, rlen) */
};

/* wh_tls_attach records c's TLS session and socket and installs the
 * read-ahead (call it once, when the connection starts; t must stay put
 * until wh_tls_detach): 0, or RC_NOMEM without the read-ahead (GnuTLS
 * keeps reading the socket itself; corking still works). */
int wh_tls_attach(struct wh_tls *t, struct MHD_Connection *c);

/* wh_tls_detach frees the buffer (the connection is closing). */
void wh_tls_detach(struct wh_tls *t);

/* wh_tls_cork corks the connection's TLS session for an answer body of
 * body_len bytes when body_len <= WH_TLS_CORK_MAX (1 if corked, else 0),
 * and notes a small answer. Call it for every answer queued on the
 * connection. */
int wh_tls_cork(struct wh_tls *t, size_t body_len);

/* wh_tls_flush uncorks (no-op when not corked): 0 when everything was
 * written, -1 when the connection was shut down instead (peer gone, or
 * not reading for WH_TLS_FLUSH_MS). */
int wh_tls_flush(struct wh_tls *t);

/* wh_tls_completed: at every request completion: flushes, then clears
 * TCP_CORK once if a small answer was sent. */
void wh_tls_completed(struct wh_tls *t);

#endif
