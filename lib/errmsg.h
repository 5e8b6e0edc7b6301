/* errmsg.h: thread-local detail for the last failure.
 *
 * The function that detects a failure calls errmsg_set once and returns the
 * code; callers pass the code up without rewriting the message, or add
 * context in front with errmsg_prefix. Messages are truncated at
 * ERRMSG_MAX - 1 bytes; nothing here allocates or fails. */
#ifndef MZ_ERRMSG_H
#define MZ_ERRMSG_H

#define ERRMSG_MAX 2048

/* errmsg_set stores a printf-formatted message and returns rc unchanged,
 * so `return errmsg_set(RC_PARSE, "bad port '%s'", p);` reads naturally. */
int errmsg_set(int rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* errmsg_prefix puts "<formatted>: " in front of the current message. */
int errmsg_prefix(int rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* errmsg_get returns the current message ("" when none); borrowed, valid
 * until the next errmsg call on this thread. */
const char *errmsg_get(void);

void errmsg_clear(void);

#endif
