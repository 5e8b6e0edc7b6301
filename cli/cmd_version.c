/* cmd_version.c: `mizzenctl version`. */
#include "cli/commands.h"
#include "cli/version.h"

#include <string.h>

static const char usage[] =
    "Usage: mizzenctl version [--short]\n"
    "\n"
    "Prints the version of mizzenctl (\"mizzenctl version X.Y.Z\"); with\n"
    "--short only the number.\n";

int
cli_version(int argc, char **argv, FILE *out)
{
    int shrt = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, out);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--short") == 0 || strcmp(argv[i], "-s") == 0) {
            shrt = 1;
            continue;
        }
        cli_error("version: unknown %s '%s' (see 'mizzenctl version --help')",
                  argv[i][0] == '-' ? "flag" : "argument", argv[i]);
        return CLI_EXIT_USAGE;
    }
    if (shrt)
        fprintf(out, "%s\n", MZ_VERSION);
    else
        fprintf(out, "mizzenctl version %s\n", MZ_VERSION);
    return fflush(out) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
