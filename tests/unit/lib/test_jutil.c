/* test_jutil.c: bounded JSON parsing and look-ups. */
#include "tests/unit/harness.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

TEST(jutil_parse_ok_and_lookups)
{
    const char *s = "{\"a\":{\"b\":{\"c\":\"d\"}},\"n\":[1,2]}";
    json_t *v = NULL; /* owned */

    REQUIRE(jutil_parse(&v, s, strlen(s), NULL) == 0);
    CHECK_STR(jutil_path_str(v, "a.b.c"), "d");
    CHECK(jutil_path(v, "a.x.c") == NULL);
    CHECK(jutil_arr(v, "n") != NULL);
    CHECK(jutil_obj(v, "n") == NULL);
    json_decref(v);
}

TEST(jutil_parse_rejects_depth_size_and_garbage)
{
    struct jutil_limits lim = {.max_bytes = 100, .max_depth = 3};
    json_t *v = NULL;

    CHECK_INT(jutil_parse(&v, "[[[1]]]", 7, &lim), 0);
    json_decref(v);
    CHECK_INT(jutil_parse(&v, "[[[[1]]]]", 9, &lim), RC_LIMIT);
    CHECK(v == NULL);
    CHECK_CONTAINS(errmsg_get(), "deeper than 3");
    /* brackets inside strings do not count */
    CHECK_INT(jutil_parse(&v, "[\"[[[[[\"]", 9, &lim), 0);
    json_decref(v);
    char big[200];
    memset(big, ' ', sizeof(big));
    big[0] = '1';
    CHECK_INT(jutil_parse(&v, big, sizeof(big), &lim), RC_LIMIT);
    CHECK_INT(jutil_parse(&v, "{\"a\":", 5, NULL), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "invalid JSON");
    CHECK_INT(jutil_parse(&v, "\"a\\u0000b\"", 10, NULL), RC_PARSE);
}

TEST(jutil_parse_nomem_is_clean)
{
    const char *s = "{\"a\":[1,2,3,{\"b\":\"c\"}]}";
    json_t *v = NULL;

    for (long i = 1; i < 20; i++) {
        mem_fail_set(i);
        int rc = jutil_parse(&v, s, strlen(s), NULL);
        mem_fail_set(0);
        if (rc == 0) {
            json_decref(v);
            break;
        }
        CHECK_INT(rc, RC_NOMEM);
        CHECK(v == NULL);
    }
}

TEST(jutil_dump_keeps_order_and_ensure_creates)
{
    json_t *o = json_object(); /* owned */
    struct buf b;

    json_object_set_new(o, "z", json_integer(1));
    json_object_set_new(o, "a", json_integer(2));
    json_t *m = jutil_obj_ensure(o, "meta"); /* borrowed */
    REQUIRE(m != NULL);
    CHECK_INT(jutil_set_str(m, "k", "v"), 0);
    buf_init(&b, 0);
    CHECK_INT(jutil_dump(o, 0, &b), 0);
    CHECK_STR(b.ptr, "{\"z\":1,\"a\":2,\"meta\":{\"k\":\"v\"}}");
    buf_reset(&b);
    CHECK_INT(jutil_dump(o, JSON_SORT_KEYS, &b), 0);
    CHECK_STR(b.ptr, "{\"a\":2,\"meta\":{\"k\":\"v\"},\"z\":1}");
    buf_cleanup(&b);
    json_decref(o);
}
