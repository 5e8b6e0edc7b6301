/* fuzz_yaml.c: YAML loading (yj_load_all, small limits) never crashes,
 * fails only with RC_PARSE or RC_LIMIT and a located message, and every
 * document it accepts dumps (yj_dump) to YAML that loads back equal. The
 * input is also tried as JSON (jansson) and, when it is, round-tripped the
 * same way: that feeds the writer strings and keys of any shape. */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/rc.h"
#include "lib/yamljson.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(const json_t *doc, struct buf *b)
{
    json_t *again = NULL; /* owned */
    int rc;

    buf_reset(b);
    rc = yj_dump(doc, b);
    assert(rc == 0);
    rc = yj_load_one(&again, b->ptr, b->len, NULL);
    assert(rc == 0);
    assert(json_equal(doc, again));
    json_decref(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct yj_limits lim = {.max_bytes = 64 << 10,
                            .max_depth = 24,
                            .max_nodes = 20000,
                            .max_alias_nodes = 2000,
                            .max_docs = 64};
    json_t *all, *doc; /* owned, borrowed */
    struct buf b;
    size_t i;
    int rc;

    buf_init(&b, 0);
    all = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (all && size < 4096 &&
        jutil_depth((const char *)data, size, YJ_DEFAULT_MAX_DEPTH) <=
            YJ_DEFAULT_MAX_DEPTH)
        round_trip(all, &b);
    json_decref(all);
    all = NULL;
    rc = yj_load_all(&all, (const char *)data, size, &lim);
    if (rc != 0) {
        assert(all == NULL);
        assert(rc == RC_PARSE || rc == RC_LIMIT);
        assert(rc != RC_PARSE || strncmp(errmsg_get(), "line ", 5) == 0);
    } else {
        json_array_foreach(all, i, doc) round_trip(doc, &b);
        json_decref(all);
    }
    buf_cleanup(&b);
    return 0;
}
