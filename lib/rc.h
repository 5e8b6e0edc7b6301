/* rc.h: the one error enum of mizzen.
 *
 * Fallible functions return int: 0 on success, a negative RC_* on failure.
 * The human detail of a failure lives in the thread-local message of
 * errmsg.h, set once where the failure happened. */
#ifndef MZ_RC_H
#define MZ_RC_H

enum {
    RC_OK = 0,
    RC_NOMEM = -1,        /* allocation failed */
    RC_INVAL = -2,        /* invalid argument or value (input is wrong) */
    RC_PARSE = -3,        /* bytes could not be parsed */
    RC_LIMIT = -4,        /* a size, depth or count cap was exceeded */
    RC_NOTFOUND = -5,     /* the thing asked for does not exist */
    RC_CONFLICT = -6,     /* stale version, already exists */
    RC_AGAIN = -7,        /* try again later (busy, rate limited) */
    RC_IO = -8,           /* file or socket I/O failed */
    RC_TLS = -9,          /* TLS or crypto failure */
    RC_TIMEOUT = -10,     /* deadline passed */
    RC_DENIED = -11,      /* unauthorized or forbidden */
    RC_UNSUPPORTED = -12, /* valid but not implemented */
    RC_INTERNAL = -13,    /* a bug or an unexpected dependency failure */
    RC_GONE = -14         /* expired resourceVersion/continue (HTTP 410) */
};

/* rc_str returns a static name for an RC_* code ("RC_PARSE"); cannot fail. */
const char *rc_str(int rc);

#endif
