/* test_utf8.c: lib/utf8 accepts what jansson accepts and nothing else. */
#include "tests/unit/harness.h"
#include "lib/utf8.h"

#include <jansson.h>
#include <string.h>

TEST(utf8_valid_and_invalid_sequences)
{
    static const struct {
        const char *s;
        size_t n;
        int ok;
    } cases[] = {
        {"", 0, 1},
        {"plain ascii", 11, 1},
        {"nul\0inside", 10, 1},
        {"h\xc3\xa9", 3, 1},        /* U+00E9 */
        {"\xe2\x82\xac", 3, 1},     /* U+20AC */
        {"\xf0\x9f\x98\x80", 4, 1}, /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
        {"\xef\xbf\xbf", 3, 1},     /* U+FFFF */
        {"\xc0\xaf", 2, 0},         /* overlong '/' */
        {"\xe0\x80\xaf", 3, 0},     /* overlong, 3 bytes */
        {"\xf0\x80\x80\xaf", 4, 0}, /* overlong, 4 bytes */
        {"\xed\xa0\x80", 3, 0},     /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, 0}, /* above U+10FFFF */
        {"\xe2\x82", 2, 0},         /* cut short */
        {"a\xc3", 2, 0},            /* cut short at the end */
        {"\x80", 1, 0},             /* lone continuation */
        {"\xc3\x28", 2, 0},         /* bad continuation */
        {"\xff", 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = json_stringn(cases[i].s, cases[i].n);

        CHECK_INT(utf8_valid(cases[i].s, cases[i].n), cases[i].ok);
        /* jansson's own check agrees */
        CHECK_INT(j != NULL, cases[i].ok);
        json_decref(j);
    }
}
