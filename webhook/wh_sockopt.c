/* wh_sockopt.c: drop libmicrohttpd's redundant TCP_NODELAY calls (see
 * wh_sockopt.h for why this is safe and when a state is known). */
#include "webhook/wh_sockopt.h"

#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
    KNOWN = 1,   /* NODELAY and CORK are the socket's real state */
    NODELAY = 2, /* TCP_NODELAY on */
    CORK = 4,    /* TCP_CORK on */
    HELD = 8,    /* the answer being written is in GnuTLS's corked buffer */
};

typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

static _Atomic unsigned char state[WH_SOCKOPT_FDS];
static _Atomic uint64_t skipped;
static _Atomic(setsockopt_fn) next_fn;

static int
next_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    setsockopt_fn f = atomic_load_explicit(&next_fn, memory_order_relaxed);

    if (f == NULL) {
        /* libc's (or a sanitizer's) definition: the one after ours */
        f = (setsockopt_fn)dlsym(RTLD_NEXT, "setsockopt");
        if (f == NULL)
            return (int)syscall(SYS_setsockopt, fd, level, name, val, len);
        atomic_store_explicit(&next_fn, f, memory_order_relaxed);
    }
    return f(fd, level, name, val, len);
}

static int
flag_value(const void *val, socklen_t len, int *on)
{
    int v;

    if (val == NULL || len < (socklen_t)sizeof(int))
        return -1;
    memcpy(&v, val, sizeof(v));
    *on = v != 0;
    return 0;
}

/* Defined here on purpose: see wh_sockopt.h. */
int
setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    unsigned char st, bit;
    int on, rc;

    if (fd < 0 || fd >= WH_SOCKOPT_FDS || level != IPPROTO_TCP ||
        (name != TCP_NODELAY && name != TCP_CORK) ||
        flag_value(val, len, &on) != 0)
        return next_setsockopt(fd, level, name, val, len);
    st = atomic_load_explicit(&state[fd], memory_order_relaxed);
    if (name == TCP_NODELAY && on && st == (KNOWN | NODELAY | HELD)) {
        atomic_fetch_add_explicit(&skipped, 1, memory_order_relaxed);
        return 0;
    }
    rc = next_setsockopt(fd, level, name, val, len);
    if (!(st & KNOWN))
        return rc;
    bit = name == TCP_NODELAY ? NODELAY : CORK;
    if (rc != 0)
        st &= HELD; /* the socket's state is not certain any more */
    else
        st = on ? (unsigned char)(st | bit) : (unsigned char)(st & ~bit);
    atomic_store_explicit(&state[fd], st, memory_order_relaxed);
    return rc;
}

int
wh_sockopt_accept(int fd)
{
    const int one = 1;
    /* libc's call, not ours: a state left by an fd number that was closed
     * without wh_sockopt_closed must not skip this one */
    int rc = next_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (fd >= 0 && fd < WH_SOCKOPT_FDS)
        atomic_store_explicit(&state[fd], rc == 0 ? KNOWN | NODELAY : 0,
                              memory_order_relaxed);
    return rc;
}

void
wh_sockopt_hold(int fd, int held)
{
    unsigned char st;

    if (fd < 0 || fd >= WH_SOCKOPT_FDS)
        return;
    st = atomic_load_explicit(&state[fd], memory_order_relaxed);
    st = held ? (unsigned char)(st | HELD) : (unsigned char)(st & ~HELD);
    atomic_store_explicit(&state[fd], st, memory_order_relaxed);
}

void
wh_sockopt_closed(int fd)
{
    if (fd >= 0 && fd < WH_SOCKOPT_FDS)
        atomic_store_explicit(&state[fd], 0, memory_order_relaxed);
}

uint64_t
wh_sockopt_skipped(void)
{
    return atomic_load_explicit(&skipped, memory_order_relaxed);
}
