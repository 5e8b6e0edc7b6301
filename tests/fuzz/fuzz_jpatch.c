/* fuzz_jpatch.c: jpatch_diff/jpatch_apply on two JSON documents A and B
 * (the input split at its first NUL byte):
 * - diff(A, B) succeeds, applying it to A gives B, and it never replaces the
 *   whole document when A and B are containers of the same type;
 * - diff(A, A) is empty;
 * - B used as a patch on A never crashes: it succeeds or fails cleanly
 *   (RC_INVAL / RC_CONFLICT, no output). */
#include "lib/jpatch.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_diff(const json_t *a, const json_t *b)
{
    json_t *p = NULL, *r = NULL; /* owned */
    int rc = jpatch_diff(&p, a, b);

    /* parsed documents are at most 64 deep: under the diff's cap */
    assert(rc == 0);
    for (size_t i = 0; i < json_array_size(p); i++) {
        const char *path = jutil_str(json_array_get(p, i), "path");
        assert(path != NULL);
        assert(path[0] != '\0' || json_typeof(a) != json_typeof(b) ||
               !(json_is_object(a) || json_is_array(a)));
    }
    rc = jpatch_apply(&r, a, p);
    assert(rc == 0);
    assert(json_equal(r, b));
    json_decref(r);
    json_decref(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    json_t *a = NULL, *b = NULL, *r = NULL, *p = NULL; /* owned */
    int rc;

    if (nul == NULL)
        return 0;
    if (jutil_parse(&a, s, (size_t)(nul - s), NULL) != 0 ||
        jutil_parse(&b, nul + 1, size - (size_t)(nul - s) - 1, NULL) != 0)
        goto done;
    check_diff(a, b);
    check_diff(b, a);
    assert(jpatch_diff(&p, a, a) == 0 && json_array_size(p) == 0);
    rc = jpatch_apply(&r, a, b);
    assert(rc == 0 || rc == RC_INVAL || rc == RC_CONFLICT);
    assert(rc == 0 ? r != NULL : r == NULL);
done:
    json_decref(p);
    json_decref(r);
    json_decref(b);
    json_decref(a);
    return 0;
}
