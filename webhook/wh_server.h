/* wh_server.h: the HTTPS server of mizzen-webhook (libmicrohttpd).
 *
 * The server owns one listening socket for its whole life; an acceptor
 * thread accepts on it and hands each connection to the daemon of the
 * current serving certificate (MHD_add_connection). A new certificate
 * starts a new daemon first (a bad certificate or key fails here, and the
 * running daemon is untouched), then becomes current; the old daemon keeps
 * its connections until they are gone or a drain deadline passes. New
 * handshakes therefore see the new certificate while open keep-alive
 * connections finish on the old one, and no connection is ever refused
 * during a swap.
 *
 * The injector configuration is a reference-counted pointer behind a mutex:
 * each request takes its own reference, so a reload never frees a
 * configuration in use. */
#ifndef MZ_WH_SERVER_H
#define MZ_WH_SERVER_H

#include <stddef.h>

struct wh_opts;
struct wh_server;
struct inj_config;

/* wh_server_new binds and listens on opts' address and port (no TLS yet:
 * connections wait in the backlog until the first certificate arrives).
 * RC_IO with errmsg on bind/listen failure; RC_NOMEM. opts is copied. */
int wh_server_new(struct wh_server **out, const struct wh_opts *opts);

/* wh_server_port: the bound port (useful with --port 0). */
int wh_server_port(const struct wh_server *s);

/* wh_server_set_cert starts serving with this PEM chain and key (copied).
 * 0, or RC_TLS (MHD refused them: unparsable, mismatched) leaving the
 * current daemon serving, RC_NOMEM, RC_IO. */
int wh_server_set_cert(struct wh_server *s, const char *cert_pem,
                       size_t cert_len, const char *key_pem, size_t key_len);

/* wh_server_set_config installs cfg (the reference is stolen; NULL keeps
 * the current one). Requests in flight keep the configuration they took. */
void wh_server_set_config(struct wh_server *s, struct inj_config *cfg);

/* wh_server_config_take returns a new reference to the current
 * configuration (NULL before the first one); release with
 * inj_config_free. */
struct inj_config *wh_server_config_take(struct wh_server *s);

/* wh_server_ready: 1 once a configuration and a certificate are loaded and
 * shutdown has not begun. */
int wh_server_ready(const struct wh_server *s);

/* wh_server_tick stops old daemons whose connections are gone or whose
 * drain deadline passed. Call it from the control loop (~every second). */
void wh_server_tick(struct wh_server *s);

/* wh_server_shutdown stops accepting (the listening socket is closed),
 * answers with "Connection: close" from then on, waits up to timeout_ms for
 * requests in flight, then stops every daemon. */
void wh_server_shutdown(struct wh_server *s, unsigned timeout_ms);

/* wh_server_free shuts down (if not done) and frees; NULL is a no-op. */
void wh_server_free(struct wh_server *s);

#endif
