/* utf8.c: UTF-8 validity (see utf8.h). */
#include "lib/utf8.h"

size_t
utf8_seq_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0], v;
    size_t n;

    if (c >= 0xc2 && c <= 0xdf)
        n = 2, v = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, v = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, v = c & 0x07;
    else
        return 0;
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
        (n == 4 && (v < 0x10000 || v > 0x10ffff)))
        return 0;
    return n;
}

int
utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        size_t k;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if ((k = utf8_seq_len(p + i, n - i)) == 0)
            return 0;
        i += k;
    }
    return 1;
}
