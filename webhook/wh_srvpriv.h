/* wh_srvpriv.h: the server's shared state, between wh_server.c (sockets,
 * daemons, certificates, shutdown) and wh_handler.c (what a request gets).
 * Private to webhook/: nothing outside includes it. */
#ifndef MZ_WH_SRVPRIV_H
#define MZ_WH_SRVPRIV_H

#include "lib/buf.h"
#include "lib/errmsg.h"
#include "webhook/wh_opts.h"
#include "webhook/wh_tls.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct inj_config;

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

/* libmicrohttpd callbacks (wh_handler.c); cls is the slot for wh_handle and
 * wh_conn_notify, the server for wh_completed */
enum MHD_Result wh_handle(void *cls, struct MHD_Connection *c, const char *url,
                          const char *method, const char *version,
                          const char *upload, size_t *upload_size,
                          void **con_cls);
void wh_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                  enum MHD_RequestTerminationCode toe);
void wh_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                    enum MHD_ConnectionNotificationCode toe);

#endif
