/* commands.h: the subcommands of mizzenctl. Each takes the arguments after
 * the command name (argv[0] is the command), writes its result to `out`
 * (stdout in mizzenctl), reports errors through the logger (stderr), and
 * returns the process exit status: 0 success, 1 failure (bad input,
 * injection refused, I/O), 2 usage error (unknown flag, missing -f). */
#ifndef MZ_COMMANDS_H
#define MZ_COMMANDS_H

#include <stdio.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

int cli_kube_inject(int argc, char **argv, FILE *out);
int cli_version(int argc, char **argv, FILE *out);

/* cli_error logs "msg" at level error for component mizzenctl. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
