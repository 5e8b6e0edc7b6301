/* operator.c: main() of mizzen-operator: the CA, workload certificate
 * Secrets, trust bundles and the webhook's certificate (docs/operator.md).
 *
 *   mizzen-operator --kubeconfig FILE [--namespace istio-system] [flags]
 *   mizzen-operator                      (in cluster)
 *
 * Signals are blocked before any thread exists, so SIGTERM/SIGINT reach
 * only op_run's sigtimedwait. */
#include "lib/errmsg.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/rc.h"
#include "operator/op_opts.h"
#include "operator/op_run.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    struct op_opts o;
    struct log_opts lo = {0};
    struct sigaction sa;
    sigset_t set;
    int rc, status = 2;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    mem_init_jansson();
    if ((rc = op_opts_init(&o)) != 0) {
        fprintf(stderr, "mizzen-operator: %s\n", errmsg_get());
        return 2;
    }
    rc = op_opts_parse(&o, argc, argv, NULL);
    if (rc == 1) {
        fputs(op_opts_usage(), stdout);
        op_opts_cleanup(&o);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "mizzen-operator: %s\n%s", errmsg_get(),
                "(--help lists the flags)\n");
        op_opts_cleanup(&o);
        return 2;
    }
    lo.fd = 2;
    lo.format = o.log_format;
    lo.level = o.log_level;
    lo.async = 1;
    log_init(&lo);
    status = op_run(&o);
    log_shutdown();
    op_opts_cleanup(&o);
    pki_global_cleanup();
    return status;
}
