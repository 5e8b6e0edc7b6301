/* errmsg.c: thread-local failure detail (see errmsg.h) and rc_str. */
#include "lib/errmsg.h"
#include "lib/rc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char msg[ERRMSG_MAX];

int
errmsg_set(int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rc;
}

int
errmsg_prefix(int rc, const char *fmt, ...)
{
    char old[ERRMSG_MAX];
    size_t n;
    va_list ap;

    memcpy(old, msg, sizeof(old));
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    n = strlen(msg);
    if (old[0] != '\0' && n + 2 < sizeof(msg)) {
        size_t room = sizeof(msg) - n - 3, olen = strlen(old);
        msg[n] = ':';
        msg[n + 1] = ' ';
        if (olen > room)
            olen = room;
        memcpy(msg + n + 2, old, olen);
        msg[n + 2 + olen] = '\0';
    }
    return rc;
}

const char *
errmsg_get(void)
{
    return msg;
}

void
errmsg_clear(void)
{
    msg[0] = '\0';
}

const char *
rc_str(int rc)
{
    switch (rc) {
    case RC_OK:
        return "RC_OK";
    case RC_NOMEM:
        return "RC_NOMEM";
    case RC_INVAL:
        return "RC_INVAL";
    case RC_PARSE:
        return "RC_PARSE";
    case RC_LIMIT:
        return "RC_LIMIT";
    case RC_NOTFOUND:
        return "RC_NOTFOUND";
    case RC_CONFLICT:
        return "RC_CONFLICT";
    case RC_AGAIN:
        return "RC_AGAIN";
    case RC_IO:
        return "RC_IO";
    case RC_TLS:
        return "RC_TLS";
    case RC_TIMEOUT:
        return "RC_TIMEOUT";
    case RC_DENIED:
        return "RC_DENIED";
    case RC_UNSUPPORTED:
        return "RC_UNSUPPORTED";
    case RC_INTERNAL:
        return "RC_INTERNAL";
    case RC_GONE:
        return "RC_GONE";
    default:
        return "RC_UNKNOWN";
    }
}
