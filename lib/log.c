/* log.c: non-blocking line logger (see log.h).
 *
 * Queue: a ring of fixed-size slots guarded by one mutex held only for a
 * memcpy; the writer thread swaps out a batch and writes it with no lock
 * held. Formatting happens on the caller's stack. */
#include "lib/log.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct slot {
    unsigned short len;
    char line[LOG_LINE_MAX];
};

static struct {
    int fd;
    enum log_format format;
    enum log_level level;
    int async;
    unsigned qlen;
    struct slot *ring;
    unsigned head, count; /* guarded by mu */
    int stop;             /* guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int running;
} L = {
    .fd = 2,
    .format = LOG_FMT_LOGFMT,
    .level = LOG_INFO,
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
};

static atomic_uint_fast64_t dropped, written;
static _Thread_local time_t ts_sec = -1;
static _Thread_local char ts_date[64];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static void
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* writer_main drains the ring in batches: the lines are packed into one
 * buffer and written with a single write(2), then the writer naps briefly so
 * that the next lines gather (fewer wake-ups and syscalls under load). */
static void *
writer_main(void *arg)
{
    (void)arg;
    size_t cap = (size_t)L.qlen * LOG_LINE_MAX;
    char *batch = mem_alloc(cap);
    const struct timespec nap = {0, 2 * 1000 * 1000}; /* 2 ms */

    pthread_mutex_lock(&L.mu);
    for (;;) {
        while (L.count == 0 && !L.stop)
            pthread_cond_wait(&L.cv, &L.mu);
        if (L.count == 0 && L.stop)
            break;
        size_t len = 0;
        unsigned n = 0;
        while (L.count > 0) {
            struct slot *s = &L.ring[L.head];
            if (batch) {
                memcpy(batch + len, s->line, s->len);
                len += s->len;
            } else {
                write_all(L.fd, s->line, s->len);
            }
            L.head = (L.head + 1) % L.qlen;
            L.count--;
            n++;
        }
        int stopping = L.stop;
        pthread_mutex_unlock(&L.mu);
        if (batch && len)
            write_all(L.fd, batch, len);
        atomic_fetch_add(&written, n);
        if (!stopping)
            nanosleep(&nap, NULL);
        pthread_mutex_lock(&L.mu);
    }
    pthread_mutex_unlock(&L.mu);
    mem_free(batch);
    return NULL;
}

int
log_init(const struct log_opts *opts)
{
    log_shutdown();
    L.fd = opts && opts->fd > 0 ? opts->fd : 2;
    L.format = opts ? opts->format : LOG_FMT_LOGFMT;
    L.level = opts ? opts->level : LOG_INFO;
    L.qlen = opts && opts->queue_len ? opts->queue_len : 1024;
    if (!opts || !opts->async)
        return 0;
    L.ring = mem_calloc(L.qlen, sizeof(*L.ring));
    if (L.ring == NULL)
        return errmsg_set(RC_NOMEM, "out of memory for the log queue");
    L.head = L.count = 0;
    L.stop = 0;
    if (pthread_create(&L.thread, NULL, writer_main, NULL) != 0) {
        mem_free(L.ring);
        L.ring = NULL;
        return errmsg_set(RC_INTERNAL, "cannot start the log writer");
    }
    L.running = 1;
    L.async = 1;
    return 0;
}

void
log_shutdown(void)
{
    if (!L.running)
        return;
    pthread_mutex_lock(&L.mu);
    L.stop = 1;
    pthread_cond_signal(&L.cv);
    pthread_mutex_unlock(&L.mu);
    pthread_join(L.thread, NULL);
    L.running = 0;
    L.async = 0;
    mem_free(L.ring);
    L.ring = NULL;
}

struct line {
    char *p;
    size_t len, cap;
    int truncated;
};

static void
put(struct line *l, const char *s, size_t n)
{
    if (l->len + n > l->cap) {
        n = l->cap - l->len;
        l->truncated = 1;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void
puts_(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

static int
needs_quotes(const char *v)
{
    if (*v == '\0')
        return 1;
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
            return 1;
    }
    return 0;
}

static void
put_escaped(struct line *l, const char *v, int json)
{
    char tmp[8];

    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            put(l, tmp, 2);
        } else if (c == '\n') {
            put(l, "\\n", 2);
        } else if (c == '\t') {
            put(l, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(tmp, sizeof(tmp), json ? "\\u%04x" : "\\x%02x", c);
            puts_(l, tmp);
        } else {
            put(l, v, 1);
        }
    }
}

/* is_secret_key: the key names a secret (case-insensitive "token",
 * "secret", "password", "private", "passwd"): its value is redacted. The
 * key is lower-cased once and searched with strstr (five strcasestr per
 * key were most of a line's cost): this runs for every key of every
 * line. */
static int
is_secret_key(const char *k)
{
    static const char *const words[] = {"token", "secret", "passw", "private"};
    char low[128];
    const char *hay = low;
    char *(*find)(const char *, const char *) = strstr;
    size_t n = 0;

    for (; k[n] != '\0' && n < sizeof(low) - 1; n++) {
        unsigned char c = (unsigned char)k[n];
        low[n] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    low[n] = '\0';
    if (k[n] != '\0') { /* longer than low: search the key itself */
        hay = k;
        find = strcasestr;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (find(hay, words[i]) != NULL)
            return 1;
    return 0;
}

static void
put_pair(struct line *l, const char *k, const char *v, int first)
{
    if (v == NULL)
        v = "";
    if (is_secret_key(k))
        v = "[redacted]";
    if (L.format == LOG_FMT_JSON) {
        puts_(l, first ? "{\"" : ",\"");
        put_escaped(l, k, 1);
        puts_(l, "\":\"");
        put_escaped(l, v, 1);
        puts_(l, "\"");
        return;
    }
    if (!first)
        puts_(l, " ");
    puts_(l, k);
    puts_(l, "=");
    if (needs_quotes(v)) {
        puts_(l, "\"");
        put_escaped(l, v, 0);
        puts_(l, "\"");
    } else {
        puts_(l, v);
    }
}

static void
enqueue(const char *p, size_t n)
{
    if (!L.async) {
        write_all(L.fd, p, n);
        atomic_fetch_add(&written, 1);
        return;
    }
    pthread_mutex_lock(&L.mu);
    if (L.count == L.qlen) {
        pthread_mutex_unlock(&L.mu);
        atomic_fetch_add(&dropped, 1);
        return;
    }
    struct slot *s = &L.ring[(L.head + L.count) % L.qlen];
    memcpy(s->line, p, n);
    s->len = (unsigned short)n;
    /* the writer sleeps only on an empty queue: wake it on the first line */
    if (L.count++ == 0)
        pthread_cond_signal(&L.cv);
    pthread_mutex_unlock(&L.mu);
}

void
log_kv(enum log_level level, const char *comp, const char *msg, ...)
{
    char raw[LOG_LINE_MAX];
    char ts[96];
    struct line l = {raw, 0, sizeof(raw) - 2, 0};
    struct timespec now;
    struct tm tm;
    va_list ap;

    if (level < L.level || level >= LOG_OFF)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    /* the date part changes once a second: format it once per second and
     * thread, then only the milliseconds */
    if (now.tv_sec != ts_sec) {
        gmtime_r(&now.tv_sec, &tm);
        snprintf(ts_date, sizeof(ts_date), "%04d-%02d-%02dT%02d:%02d:%02d",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
        ts_sec = now.tv_sec;
    }
    long ms = now.tv_nsec / 1000000;
    size_t dl = strlen(ts_date);
    memcpy(ts, ts_date, dl);
    ts[dl] = '.';
    ts[dl + 1] = (char)('0' + ms / 100);
    ts[dl + 2] = (char)('0' + ms / 10 % 10);
    ts[dl + 3] = (char)('0' + ms % 10);
    ts[dl + 4] = 'Z';
    ts[dl + 5] = '\0';
    put_pair(&l, "ts", ts, 1);
    put_pair(&l, "level", level_names[level], 0);
    put_pair(&l, "comp", comp, 0);
    put_pair(&l, "msg", msg, 0);
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        put_pair(&l, k, va_arg(ap, const char *), 0);
    }
    va_end(ap);
    if (l.truncated) {
        /* keep the line parseable: drop the tail, mark it */
        static const char mark[] = " truncated=true";
        size_t keep = sizeof(raw) - 2 - 40;
        if (l.len > keep)
            l.len = keep;
        l.truncated = 0;
        if (L.format == LOG_FMT_JSON)
            puts_(&l, "\",\"truncated\":\"true\"");
        else
            puts_(&l, mark);
    }
    if (L.format == LOG_FMT_JSON)
        puts_(&l, "}");
    raw[l.len++] = '\n';
    enqueue(raw, l.len);
}

int
log_parse_level(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    if (strcmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return errmsg_set(RC_INVAL, "unknown log level '%s'", s);
}

int
log_parse_format(const char *s, enum log_format *out)
{
    if (strcmp(s, "logfmt") == 0 || strcmp(s, "text") == 0) {
        *out = LOG_FMT_LOGFMT;
        return 0;
    }
    if (strcmp(s, "json") == 0) {
        *out = LOG_FMT_JSON;
        return 0;
    }
    return errmsg_set(RC_INVAL, "unknown log format '%s'", s);
}

uint64_t
log_dropped(void)
{
    return atomic_load(&dropped);
}

uint64_t
log_written(void)
{
    return atomic_load(&written);
}
