/* test_wh_sockopt.c: the setsockopt() filter on real loopback sockets. The
 * kernel's state (getsockopt) must always be what the caller asked for;
 * only calls that would not change it are skipped. */
#include "tests/unit/harness.h"
#include "webhook/wh_sockopt.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

/* pair: a connected loopback TCP socket (the accepted end) in *acc, the
 * client end in *cli, the listener closed */
static int
pair(int *acc, int *cli)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0);

    *acc = *cli = -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(l, 1) != 0 || getsockname(l, (struct sockaddr *)&a, &al) != 0)
        goto fail;
    if ((*cli = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
        connect(*cli, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        (*acc = accept(l, NULL, NULL)) < 0)
        goto fail;
    close(l);
    return 0;
fail:
    if (l >= 0)
        close(l);
    if (*cli >= 0)
        close(*cli);
    return -1;
}

static int
get_opt(int fd, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    if (getsockopt(fd, IPPROTO_TCP, name, &v, &len) != 0)
        return -1;
    return v != 0;
}

static int
set_opt(int fd, int name, int v)
{
    return setsockopt(fd, IPPROTO_TCP, name, &v, sizeof(v));
}

TEST(sockopt_unknown_socket_passes_everything)
{
    int acc, cli;
    uint64_t before;

    CHECK_INT(pair(&acc, &cli), 0);
    before = wh_sockopt_skipped();
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), 0);
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), 0);
    CHECK_INT(wh_sockopt_skipped(), before);
    CHECK_INT(get_opt(acc, TCP_NODELAY), 1);
    close(acc);
    close(cli);
}

TEST(sockopt_skips_only_what_changes_nothing)
{
    int acc, cli;
    uint64_t n;

    CHECK_INT(pair(&acc, &cli), 0);
    CHECK_INT(wh_sockopt_accept(acc), 0);
    CHECK_INT(get_opt(acc, TCP_NODELAY), 1);
    n = wh_sockopt_skipped();

    /* no answer held by GnuTLS: everything goes through */
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), 0);
    CHECK_INT(wh_sockopt_skipped(), n);

    /* held, nodelay on, cork off: "on" again is skipped */
    wh_sockopt_hold(acc, 1);
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), 0);
    CHECK_INT(wh_sockopt_skipped(), n + 1);
    CHECK_INT(get_opt(acc, TCP_NODELAY), 1);

    /* corked: "nodelay on" pushes held frames, so it goes through */
    CHECK_INT(set_opt(acc, TCP_CORK, 1), 0);
    CHECK_INT(get_opt(acc, TCP_CORK), 1);
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), 0);
    CHECK_INT(wh_sockopt_skipped(), n + 1);
    CHECK_INT(set_opt(acc, TCP_CORK, 0), 0);
    CHECK_INT(get_opt(acc, TCP_CORK), 0);
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), 0);
    CHECK_INT(wh_sockopt_skipped(), n + 2);

    /* nodelay turned off: turning it on again is a real change */
    CHECK_INT(set_opt(acc, TCP_NODELAY, 0), 0);
    CHECK_INT(get_opt(acc, TCP_NODELAY), 0);
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), 0);
    CHECK_INT(wh_sockopt_skipped(), n + 2);
    CHECK_INT(get_opt(acc, TCP_NODELAY), 1);
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), 0);
    CHECK_INT(wh_sockopt_skipped(), n + 3);

    /* "off" is never skipped */
    CHECK_INT(set_opt(acc, TCP_NODELAY, 0), 0);
    CHECK_INT(set_opt(acc, TCP_NODELAY, 0), 0);
    CHECK_INT(get_opt(acc, TCP_NODELAY), 0);
    CHECK_INT(wh_sockopt_skipped(), n + 3);
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), 0);

    /* the answer reached the kernel: nothing is skipped any more */
    wh_sockopt_hold(acc, 0);
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), 0);
    CHECK_INT(wh_sockopt_skipped(), n + 3);
    wh_sockopt_closed(acc);
    close(acc);
    close(cli);
}

TEST(sockopt_accept_overrides_a_stale_state)
{
    int acc, cli, acc2, cli2;
    uint64_t n;

    /* a socket closed without wh_sockopt_closed (libmicrohttpd does that on
     * some paths) leaves "known, held" behind its fd number */
    CHECK_INT(pair(&acc, &cli), 0);
    CHECK_INT(wh_sockopt_accept(acc), 0);
    wh_sockopt_hold(acc, 1);
    close(acc);
    close(cli);
    /* the next accepted socket with that number: the acceptor's own
     * TCP_NODELAY really reaches the kernel, and the old state is gone */
    CHECK_INT(pair(&acc2, &cli2), 0);
    if (acc2 != acc) { /* make it take the number */
        CHECK_INT(dup2(acc2, acc), acc);
        close(acc2);
        acc2 = acc;
    }
    CHECK_INT(get_opt(acc2, TCP_NODELAY), 0);
    n = wh_sockopt_skipped();
    CHECK_INT(wh_sockopt_accept(acc2), 0);
    CHECK_INT(get_opt(acc2, TCP_NODELAY), 1);
    CHECK_INT(set_opt(acc2, TCP_NODELAY, 1), 0); /* not held: passed on */
    CHECK_INT(wh_sockopt_skipped(), n);
    wh_sockopt_closed(acc2);
    close(acc2);
    close(cli2);
}

TEST(sockopt_forgets_on_close_and_on_failure)
{
    int acc, cli, v = 1, p[2];
    uint64_t n;

    CHECK_INT(pair(&acc, &cli), 0);
    CHECK_INT(wh_sockopt_accept(acc), 0);
    wh_sockopt_hold(acc, 1);
    n = wh_sockopt_skipped();
    /* a closed fd reports its error, not a skipped success */
    wh_sockopt_closed(acc);
    close(acc);
    errno = 0;
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), -1);
    CHECK_INT(errno, EBADF);
    CHECK_INT(wh_sockopt_skipped(), n);
    close(cli);

    /* a call the kernel refuses leaves the state unknown: here the fd
     * number has come to name a pipe behind the filter's back */
    CHECK_INT(pair(&acc, &cli), 0);
    CHECK_INT(wh_sockopt_accept(acc), 0);
    wh_sockopt_hold(acc, 1);
    CHECK_INT(pipe(p), 0);
    CHECK_INT(dup2(p[0], acc), acc);
    errno = 0;
    CHECK_INT(set_opt(acc, TCP_CORK, 1), -1);
    CHECK_INT(errno, ENOTSOCK);
    errno = 0;
    CHECK_INT(set_opt(acc, TCP_NODELAY, 1), -1);
    CHECK_INT(errno, ENOTSOCK);
    CHECK_INT(wh_sockopt_skipped(), n);
    /* a value too short to read is passed on untouched */
    CHECK(setsockopt(acc, IPPROTO_TCP, TCP_CORK, &v, 1) != 0);
    CHECK_INT(wh_sockopt_skipped(), n);
    wh_sockopt_closed(acc);
    close(p[0]);
    close(p[1]);
    close(acc);
    close(cli);
}
