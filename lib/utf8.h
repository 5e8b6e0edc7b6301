/* utf8.h: UTF-8 validity by jansson's rules (no overlong forms, no
 * surrogates, nothing above U+10FFFF, no sequence cut short). Pure
 * functions; they never read past the length given. */
#ifndef MZ_UTF8_H
#define MZ_UTF8_H

#include <stddef.h>

/* utf8_seq_len: the length (2-4) of the valid sequence at s, whose first
 * byte is >= 0x80, reading at most avail bytes; 0 when it is invalid. */
size_t utf8_seq_len(const unsigned char *s, size_t avail);

/* utf8_valid: 1 when s[0..n) is valid UTF-8 (NUL bytes included), else 0. */
int utf8_valid(const char *s, size_t n);

#endif
