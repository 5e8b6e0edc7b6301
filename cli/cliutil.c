/* cliutil.c: file reading, option matching and error output for
 * mizzenctl (see cliutil.h, commands.h). Errors go through the logger, the
 * only writer to stderr. */
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/log.h"
#include "lib/rc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

void
cli_error(const char *fmt, ...)
{
    char msg[ERRMSG_MAX + 256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_kv(LOG_ERROR, "mizzenctl", msg, NULL);
}

int
cli_read_file(const char *path, struct buf *out)
{
    int stdin_ = strcmp(path, "-") == 0;
    int fd = stdin_ ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    const char *name = stdin_ ? "standard input" : path;
    char chunk[65536];
    int rc = 0;

    if (fd < 0)
        return errmsg_set(RC_IO, "cannot open %s: %s", name, strerror(errno));
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = errmsg_set(RC_IO, "cannot read %s: %s", name, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (out->len + (size_t)n > CLI_MAX_INPUT) {
            rc = errmsg_set(RC_LIMIT, "%s is larger than %zu bytes", name,
                            CLI_MAX_INPUT);
            break;
        }
        if ((rc = buf_add(out, chunk, (size_t)n)) != 0) {
            errmsg_set(rc, "cannot hold %s in memory", name);
            break;
        }
    }
    if (!stdin_)
        close(fd);
    return rc;
}

int
cli_opt(int argc, char **argv, int *i, const char *const *names,
        const char **val)
{
    const char *arg = argv[*i];

    for (; *names; names++) {
        size_t n = strlen(*names);

        if (strncmp(arg, *names, n) != 0)
            continue;
        if (arg[n] == '=') {
            *val = arg + n + 1;
            return 1;
        }
        if (arg[n] != '\0')
            continue;
        if (*i + 1 >= argc)
            return -1;
        *val = argv[++*i];
        return 1;
    }
    return 0;
}
