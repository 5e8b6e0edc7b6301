/* wh_sockopt.h: drop libmicrohttpd's redundant TCP_NODELAY calls.
 *
 * libmicrohttpd 0.9.75 on Linux, for a TLS connection, calls
 * setsockopt(TCP_NODELAY, 1) after every push of response data, whatever
 * the socket's state: two system calls per answer (header, body), each as
 * expensive as a small recv. On a socket that already has TCP_NODELAY on
 * and TCP_CORK off the call changes nothing: the kernel only pushes frames
 * that are pending, and with Nagle and the cork both off none are held
 * back by the socket's options (frames waiting for the congestion or the
 * peer's window keep waiting either way). In the webhook nothing is even
 * pending then: the answer is still in GnuTLS's corked buffer (wh_tls.h).
 *
 * So this file defines setsockopt() itself. The executable's definition
 * comes first in symbol lookup, so libmicrohttpd's calls land here (this
 * is the one place where a libc name is defined in mizzen: the library
 * offers no switch for it). Every call is passed on to the next definition
 * (libc's) except a TCP_NODELAY=1 on a socket whose state is known to be
 * "TCP_NODELAY on, TCP_CORK off". A state is known only between
 * wh_sockopt_accepted (the acceptor, which set TCP_NODELAY itself, before
 * it hands the socket to libmicrohttpd) and wh_sockopt_closed (the
 * connection-closed notification, before libmicrohttpd closes the fd).
 * While known it follows every TCP_NODELAY/TCP_CORK change made through
 * setsockopt(); a failed call forgets it. libmicrohttpd only ever sees
 * sockets from the acceptor, so a reused fd number starts unknown.
 * Thread-safe: one relaxed atomic byte per fd (fds below WH_SOCKOPT_FDS;
 * higher ones are always passed on). */
#ifndef MZ_WH_SOCKOPT_H
#define MZ_WH_SOCKOPT_H

#include <stdint.h>

#define WH_SOCKOPT_FDS 65536

/* wh_sockopt_accepted: fd is a new TCP socket on which TCP_NODELAY was just
 * set to 1 (successfully) and TCP_CORK was never set. */
void wh_sockopt_accepted(int fd);

/* wh_sockopt_closed: fd is about to be closed; forget its state. */
void wh_sockopt_closed(int fd);

/* wh_sockopt_skipped: how many setsockopt calls were not passed on. */
uint64_t wh_sockopt_skipped(void);

#endif
