/* log.h: the one logger. One line per event: logfmt or JSON.
 *
 * log_kv formats into a stack buffer (no allocation), then hands the line to
 * a bounded queue drained by a writer thread; when the queue is full the line
 * is dropped and counted (log_dropped), so a slow stderr never stalls a
 * caller. Before log_init, or with opts.async = 0 (command-line tools), lines
 * are written synchronously. This is the only code that writes to stderr.
 *
 * Values are strings; keys whose name suggests a secret (token, secret,
 * password, private) are written as "[redacted]". Never pass whole objects. */
#ifndef MZ_LOG_H
#define MZ_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };
enum log_format { LOG_FMT_LOGFMT = 0, LOG_FMT_JSON };

#define LOG_LINE_MAX 1024 /* longer lines are truncated (and say so) */

struct log_opts {
    int fd;                 /* default 2 (stderr) */
    enum log_format format; /* default logfmt */
    enum log_level level;   /* minimum level written; default info */
    int async;              /* 1: writer thread + bounded queue */
    unsigned queue_len;     /* lines the queue holds; default 1024 */
};

/* log_init (re)configures the logger; with async it starts the writer
 * thread. Returns 0, RC_NOMEM or RC_INTERNAL (thread start failed; the logger
 * then stays synchronous). */
int log_init(const struct log_opts *opts);

/* log_shutdown writes what is queued, stops the thread, and returns to
 * synchronous stderr logging. Safe to call more than once. */
void log_shutdown(void);

/* log_kv: key/value pairs of strings, terminated by NULL. A NULL value is
 * written as an empty string. */
void log_kv(enum log_level level, const char *comp, const char *msg, ...)
    __attribute__((sentinel));

/* log_parse_level/format map "debug|info|warn|error" and "logfmt|json";
 * 0 or RC_INVAL. */
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);

uint64_t log_dropped(void); /* lines dropped because the queue was full */
uint64_t log_written(void); /* lines handed to write(2) */

#endif
