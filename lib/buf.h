/* buf.h: a growable byte buffer with a hard cap.
 *
 * Every buffer that fills from outside has a cap (`max`): appends past it
 * fail with RC_LIMIT and leave the buffer as it was. The content is always
 * NUL-terminated (when ptr is non-NULL) so it can be used as a C string. */
#ifndef MZ_BUF_H
#define MZ_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *ptr;  /* NULL until the first append */
    size_t len; /* bytes used, excluding the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* cap on len; 0 means BUF_DEFAULT_MAX */
};

#define BUF_DEFAULT_MAX ((size_t)64 << 20)

/* buf_init prepares caller storage; cannot fail. */
void buf_init(struct buf *b, size_t max);
/* buf_cleanup frees the content and re-inits with the same max. */
void buf_cleanup(struct buf *b);
/* buf_reset keeps the memory and empties the content. */
void buf_reset(struct buf *b);

/* Appends: 0, RC_NOMEM or RC_LIMIT; on failure the buffer is unchanged. */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_addstr(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
/* buf_addstrs appends the strings up to the NULL that ends the list, all or
 * none (a format-free concatenation for request paths). */
int buf_addstrs(struct buf *b, ...) __attribute__((sentinel));
/* buf_addll appends v in decimal (what "%lld" writes). */
int buf_addll(struct buf *b, long long v);
/* buf_ll_text writes v in decimal (no NUL) at the end of d and returns
 * where it starts: the text is [result, d + BUF_LL_TEXT), at most 20
 * bytes, so at least 4 bytes before it are free for a prefix. Cannot
 * fail; for writers that keep their own output. */
#define BUF_LL_TEXT 24
char *buf_ll_text(char d[BUF_LL_TEXT], long long v);
int buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* buf_reserve makes room for extra more bytes after len (plus the NUL),
 * for a caller that writes into ptr + len itself and then advances len:
 * 0, RC_NOMEM or RC_LIMIT (len + extra over max); the content is kept. */
int buf_reserve(struct buf *b, size_t extra);

/* buf_take moves the content to the caller (free with mem_free) and
 * empties the buffer. Returns "" (allocated) for an empty buffer; NULL only
 * on allocation failure. */
char *buf_take(struct buf *b, size_t *len_out);

#endif
