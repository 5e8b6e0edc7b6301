/* agent.c: main() of mizzen-agent, the pilot-agent of the istio-proxy
 * container: `mizzen-agent proxy sidecar [flags]` supervises Envoy,
 * `mizzen-agent wait` is the postStart hold, `version` prints the
 * version. Everything else lives in agent/ag_*.c (see docs/agent.md). */
#include "agent/ag_http.h"
#include "agent/ag_opts.h"
#include "agent/ag_run.h"
#include "lib/errmsg.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <stdio.h>
#include <stdlib.h>

#define MIZZEN_AGENT_VERSION "0.1.0"

extern char **environ;

int
main(int argc, char **argv)
{
    struct ag_opts o;
    struct log_opts lo = {2, LOG_FMT_LOGFMT, LOG_INFO, 0, 0};
    int code = 1, rc;

    /* before any thread exists: every thread inherits the blocked mask */
    if (ag_run_block_signals() != 0) {
        log_kv(LOG_ERROR, "agent", "cannot set up signals", "err", errmsg_get(),
               NULL);
        return 1;
    }
    mem_init_jansson();
    rc = ag_opts_init(&o);
    rc = rc ? rc : ag_opts_parse(&o, argc, argv, environ);
    if (rc != 0 || o.help) {
        char *usage = ag_opts_usage();

        if (rc != 0)
            log_kv(LOG_ERROR, "agent", "bad command line", "err", errmsg_get(),
                   NULL);
        if (usage && rc == 0)
            fputs(usage, stdout);
        mem_free(usage);
        ag_opts_cleanup(&o);
        return rc != 0 ? 2 : 0;
    }
    if (o.cmd == AG_CMD_VERSION) {
        puts("mizzen-agent " MIZZEN_AGENT_VERSION);
        ag_opts_cleanup(&o);
        return 0;
    }
    lo.level = o.log_level;
    lo.format = o.log_json ? LOG_FMT_JSON : LOG_FMT_LOGFMT;
    lo.async = o.cmd == AG_CMD_PROXY;
    if (log_init(&lo) != 0)
        log_kv(LOG_WARN, "agent", "logger stays synchronous", "err",
               errmsg_get(), NULL);
    if (ag_http_global_init() != 0) {
        log_kv(LOG_ERROR, "agent", "cannot initialise libcurl", NULL);
        goto out;
    }
    if (o.cmd == AG_CMD_WAIT)
        code = ag_run_wait(&o);
    else
        code = ag_run_proxy(&o, environ);
    ag_http_global_cleanup();
out:
    log_shutdown();
    ag_opts_cleanup(&o);
    return code;
}
