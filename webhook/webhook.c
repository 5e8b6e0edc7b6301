/* webhook.c: main() of mizzen-webhook, the HTTPS mutating admission webhook
 * that injects the sidecar (see docs/webhook.md).
 *
 * Start-up order matters: signals are blocked before any thread exists
 * (logger, MHD workers) so SIGTERM/SIGINT reach only the signalfd that the
 * control loop polls; before that, tune_malloc may re-execute the process
 * once (same PID, same arguments). */
#include "lib/errmsg.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_opts.h"
#include "webhook/wh_reload.h"
#include "webhook/wh_server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#ifndef MZ_VERSION
#define MZ_VERSION "0.1.0"
#endif

static const char *
env_get(const char *name)
{
    return getenv(name);
}

int
main(int argc, char **argv)
{
    struct wh_opts o;
    struct log_opts lo = {0};
    struct wh_server *srv = NULL;
    struct wh_reloader *rl = NULL;
    struct sigaction sa;
    sigset_t set;
    int sfd = -1, rc, status = 1;
    char port[16];

    wh_opts_defaults(&o);
    if (wh_opts_parse(&o, argc, argv, env_get) != 0) {
        log_kv(LOG_ERROR, "webhook", "invalid arguments", "error", errmsg_get(),
               NULL);
        return 2;
    }
    if (o.help) {
        wh_opts_usage(stdout);
        return 0;
    }
    if (o.version) {
        printf("mizzen-webhook %s\n", MZ_VERSION);
        return 0;
    }

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        log_kv(LOG_ERROR, "webhook", "signalfd failed", NULL);
        return 1;
    }

    mem_init_jansson();
    lo.fd = 2;
    lo.format = o.log_format;
    lo.level = o.log_level;
    lo.async = 1;
    lo.queue_len = 1024; /* 1 KiB a line: the ring is resident memory */
    log_init(&lo);

    if ((rc = wh_server_new(&srv, &o)) != 0) {
        log_kv(LOG_ERROR, "webhook", "cannot listen", "error", errmsg_get(),
               NULL);
        goto done;
    }
    snprintf(port, sizeof(port), "%d", wh_server_port(srv));
    log_kv(LOG_INFO, "webhook", "listening", "addr", o.addr, "port", port,
           "version", MZ_VERSION, NULL);
    if ((rc = wh_reloader_new(&rl, &o, srv)) != 0) {
        log_kv(LOG_ERROR, "webhook", "start-up failed", "error", errmsg_get(),
               NULL);
        goto done;
    }
    wh_reloader_run(rl, sfd);
    {
        struct signalfd_siginfo si;
        const char *name = "signal";
        if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            name = si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
        log_kv(LOG_INFO, "webhook", "shutting down", "signal", name, NULL);
    }
    wh_server_shutdown(srv, o.shutdown_ms);
    log_kv(LOG_INFO, "webhook", "stopped", NULL);
    status = 0;
done:
    wh_reloader_free(rl);
    wh_server_free(srv);
    if (sfd >= 0)
        close(sfd);
    log_shutdown();
    return status;
}
