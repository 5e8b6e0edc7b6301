/* fuzz_json.c: bounded JSON parsing (jutil_parse) never crashes, and what it
 * accepts serializes and parses back to an equal value. */
#include "lib/jutil.h"
#include "lib/mem.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL, *w = NULL; /* owned */
    char *s;

    if (jutil_parse(&v, (const char *)data, size, NULL) != 0)
        return 0;
    s = jutil_dumps(v, 0);
    assert(s != NULL);
    assert(jutil_parse(&w, s, strlen(s), NULL) == 0);
    assert(json_equal(v, w));
    mem_free(s);
    json_decref(w);
    json_decref(v);
    return 0;
}
