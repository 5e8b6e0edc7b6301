/* fuzz_yaml.c: YAML loading (yj_load_all, small limits) never crashes,
 * fails only with RC_PARSE or RC_LIMIT and a located message, and every
 * document it accepts dumps (yj_dump) to YAML that loads back equal. */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/rc.h"
#include "lib/yamljson.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct yj_limits lim = {.max_bytes = 64 << 10,
                            .max_depth = 24,
                            .max_nodes = 20000,
                            .max_alias_nodes = 2000,
                            .max_docs = 64};
    json_t *all = NULL, *doc, *again; /* owned, borrowed, owned */
    struct buf b;
    size_t i;
    int rc;

    rc = yj_load_all(&all, (const char *)data, size, &lim);
    if (rc != 0) {
        assert(all == NULL);
        assert(rc == RC_PARSE || rc == RC_LIMIT);
        assert(rc != RC_PARSE || strncmp(errmsg_get(), "line ", 5) == 0);
        return 0;
    }
    buf_init(&b, 0);
    json_array_foreach(all, i, doc)
    {
        again = NULL;
        buf_reset(&b);
        rc = yj_dump(doc, &b);
        assert(rc == 0);
        rc = yj_load_one(&again, b.ptr, b.len, NULL);
        assert(rc == 0);
        assert(json_equal(doc, again));
        json_decref(again);
    }
    buf_cleanup(&b);
    json_decref(all);
    return 0;
}
