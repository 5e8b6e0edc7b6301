/* fuzz_b64.c: lib/b64 never crashes or leaks, and what it decodes
 * re-encodes to text that decodes to the same bytes. */
#include "lib/b64.h"
#include "lib/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    char *a = NULL, *e = NULL, *b = NULL;
    size_t na = 0, nb = 0;

    if (b64_decode(&a, &na, (const char *)d, n, 1 << 16) != 0)
        return 0;
    if (b64_encode(&e, a, na) != 0)
        abort();
    if (b64_decode(&b, &nb, e, strlen(e), 1 << 16) != 0 || nb != na ||
        memcmp(a, b, na) != 0)
        abort();
    mem_free(b);
    mem_free(e);
    mem_free(a);
    return 0;
}
