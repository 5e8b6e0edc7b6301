/* wh_sockopt.h: drop libmicrohttpd's redundant TCP_NODELAY calls.
 *
 * libmicrohttpd 0.9.75 on Linux, for a TLS connection, calls
 * setsockopt(TCP_NODELAY, 1) after every push of response data, whatever
 * the socket's state: two system calls per answer (header, body), each as
 * expensive as a small recv. While the answer is still in GnuTLS's corked
 * buffer (wh_tls.h), on a socket that already has TCP_NODELAY on and
 * TCP_CORK off, the call changes nothing: its one effect besides the flag
 * is to push frames the kernel holds for the socket, and this answer has
 * not reached the kernel yet; the previous one was written whole before
 * the client could send this request.
 *
 * So this file defines setsockopt() itself. The executable's definition
 * comes first in symbol lookup, so libmicrohttpd's calls land here (the
 * one place where mizzen defines a libc name; the library offers no switch
 * for it). Every call is passed on to the next definition (libc's) except
 * a TCP_NODELAY=1 on a socket whose state is known to be "TCP_NODELAY on,
 * TCP_CORK off" while its answer is held by GnuTLS (wh_sockopt_hold).
 *
 * A state is made known only by wh_sockopt_accept, which the acceptor
 * calls on every new socket: it sets TCP_NODELAY with libc's call (never
 * skipped) and overwrites whatever an earlier socket with the same fd
 * number left (libmicrohttpd closes some sockets without the closed
 * notification). While known, the state follows every TCP_NODELAY/TCP_CORK
 * change made through setsockopt(); a failed call forgets it, and so does
 * wh_sockopt_closed. Every TCP socket of the webhook comes from the
 * acceptor (it makes no outgoing connections), so no other socket can
 * meet a stale state. One relaxed atomic byte per fd (fds below
 * WH_SOCKOPT_FDS; higher ones are always passed on): a socket is used by
 * one thread at a time, and the hand-over from the acceptor to a worker
 * goes through libmicrohttpd's locks. */
#ifndef MZ_WH_SOCKOPT_H
#define MZ_WH_SOCKOPT_H

#include <stdint.h>

#define WH_SOCKOPT_FDS 65536

/* wh_sockopt_accept sets TCP_NODELAY on fd, a TCP socket just accepted
 * (TCP_CORK never set): 0, or -1 with errno (the state is then unknown). */
int wh_sockopt_accept(int fd);

/* wh_sockopt_hold: the connection's answer is (held 1) or is no longer
 * (0) in GnuTLS's corked buffer. */
void wh_sockopt_hold(int fd, int held);

/* wh_sockopt_closed: fd is about to be closed; forget its state. */
void wh_sockopt_closed(int fd);

/* wh_sockopt_skipped: how many setsockopt calls were not passed on. */
uint64_t wh_sockopt_skipped(void);

#endif
