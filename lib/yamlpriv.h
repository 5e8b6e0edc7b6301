/* yamlpriv.h: what the YAML loader (yamljson.c) and writer (yamlemit.c)
 * share. Nothing outside lib/yaml*.c includes it.
 *
 * Invariant: yj_dump writes a string as a plain scalar only when
 * yj_plain_is_str says the loader reads that text back as a string, so the
 * writer never needs its own copy of the schema. */
#ifndef MZ_YAMLPRIV_H
#define MZ_YAMLPRIV_H

#include <stddef.h>
#include <stdint.h>

/* yj_u8_next decodes the code point at s[*i] (strict: no overlongs, no
 * surrogates, nothing above U+10FFFF) and advances *i; -1 if invalid. */
static inline int
yj_u8_next(const unsigned char *s, size_t n, size_t *i, uint32_t *cp)
{
    unsigned char c = s[*i];
    uint32_t v, min;
    size_t len;

    if (c < 0x80) {
        *cp = c;
        (*i)++;
        return 0;
    }
    if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (n - *i < len)
        return -1;
    for (size_t k = 1; k < len; k++) {
        if ((s[*i + k] & 0xC0) != 0x80)
            return -1;
        v = (v << 6) | (s[*i + k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return -1;
    *cp = v;
    *i += len;
    return 0;
}

/* yj_plain_is_str: 1 when the plain (unquoted, untagged) scalar s[0..n)
 * resolves to a string under the YAML 1.2 core schema as yj_load_* reads
 * it (not null, a bool, an integer, a float, .inf or .nan); 0 otherwise. */
int yj_plain_is_str(const char *s, size_t n);

#endif
