/* mizzenctl.c: main() of mizzenctl, the user's command-line tool: sets up
 * the allocator and a synchronous logger, then dispatches to a command
 * (cli/commands.h). */
#include "cli/commands.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <string.h>

static const char usage[] =
    "Usage: mizzenctl COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  kube-inject   inject the sidecar into Kubernetes manifests, offline\n"
    "  version       print the version\n"
    "\n"
    "Run 'mizzenctl COMMAND --help' for a command's options.\n";

int
main(int argc, char **argv)
{
    struct log_opts lo = {.fd = 2, .level = LOG_INFO, .async = 0};
    const char *cmd = argc > 1 ? argv[1] : NULL;

    mem_init_jansson();
    log_init(&lo);
    if (cmd == NULL) {
        fputs(usage, stdout);
        cli_error("missing command");
        return CLI_EXIT_USAGE;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "kube-inject") == 0)
        return cli_kube_inject(argc - 1, argv + 1, stdout);
    if (strcmp(cmd, "version") == 0)
        return cli_version(argc - 1, argv + 1, stdout);
    cli_error("unknown command '%s' (see 'mizzenctl --help')", cmd);
    return CLI_EXIT_USAGE;
}
