/* cliutil.h: small helpers shared by mizzenctl's commands. */
#ifndef MZ_CLIUTIL_H
#define MZ_CLIUTIL_H

#include <stddef.h>

struct buf;

#define CLI_MAX_INPUT ((size_t)8 << 20) /* bytes read from one file */

/* cli_read_file appends the whole content of path ("-": standard input)
 * to out, at most CLI_MAX_INPUT bytes. 0, RC_IO (errmsg names the file
 * and the reason), RC_LIMIT (too large) or RC_NOMEM; on failure out may
 * hold part of the file. */
int cli_read_file(const char *path, struct buf *out);

/* cli_opt matches argv[*i] against an option taking a value, written
 * "NAME VALUE" or "NAME=VALUE", for each NAME in the NULL-terminated
 * names. Returns 1 and sets *val (borrowed from argv; *i advanced past the
 * value) on a match, 0 when argv[*i] is another argument, -1 when the
 * option lacks its value. */
int cli_opt(int argc, char **argv, int *i, const char *const *names,
            const char **val);

#endif
