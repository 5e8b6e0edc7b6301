/* test_op_util.c: base64 (RFC 4648 vectors, bad input, caps, allocation
 * failure) and RFC 3339 times. */
#include "tests/unit/harness.h"

#include "lib/mem.h"
#include "lib/rc.h"
#include "operator/op_util.h"

#include <string.h>

TEST(b64_vectors)
{
    static const char *const v[][2] = {{"", ""},
                                       {"f", "Zg=="},
                                       {"fo", "Zm8="},
                                       {"foo", "Zm9v"},
                                       {"foob", "Zm9vYg=="},
                                       {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *e = NULL, *d = NULL;
        size_t n = 99;
        REQUIRE(op_b64_encode(&e, v[i][0], strlen(v[i][0])) == 0);
        CHECK_STR(e, v[i][1]);
        REQUIRE(op_b64_decode(&d, &n, v[i][1], 1024) == 0);
        CHECK_STR(d, v[i][0]);
        CHECK_INT(n, strlen(v[i][0]));
        mem_free(e);
        mem_free(d);
    }
}

TEST(b64_binary_roundtrip)
{
    unsigned char in[256];
    char *e = NULL, *d = NULL;
    size_t n = 0;

    for (int i = 0; i < 256; i++)
        in[i] = (unsigned char)(255 - i);
    REQUIRE(op_b64_encode(&e, in, sizeof(in)) == 0);
    REQUIRE(op_b64_decode(&d, &n, e, 1024) == 0);
    CHECK_INT(n, 256);
    CHECK(memcmp(d, in, 256) == 0);
    mem_free(e);
    mem_free(d);
}

TEST(b64_bad_input)
{
    static const char *const bad[] = {"Zg=",  "Z",    "Zm9v!",   "Zm 9v",
                                      "Zh==", "====", "Zm9vY==="};
    char *d = NULL;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (op_b64_decode(&d, NULL, bad[i], 1024) != RC_PARSE)
            harness_fail(__FILE__, __LINE__, "accepted '%s'", bad[i]);
        CHECK(d == NULL);
    }
    CHECK_INT(op_b64_decode(&d, NULL, "Zm9v", 1024), 0); /* no padding ok */
    mem_free(d);
    CHECK_INT(op_b64_decode(&d, NULL, "Zm9vYmE", 1024), 0);
    CHECK_STR(d, "fooba");
    mem_free(d);
    CHECK_INT(op_b64_decode(&d, NULL, "Zm9vYmFyZm9vYmFy", 6), RC_LIMIT);
}

TEST(b64_out_of_memory)
{
    char *d = NULL, *e = NULL;

    mem_fail_set(1);
    CHECK_INT(op_b64_decode(&d, NULL, "Zm9v", 1024), RC_NOMEM);
    mem_fail_set(1);
    CHECK_INT(op_b64_encode(&e, "foo", 3), RC_NOMEM);
    mem_fail_set(0);
    CHECK(d == NULL && e == NULL);
}

TEST(time_roundtrip)
{
    char s[32];
    time_t t = 0;

    op_time_format(s, 1767225600);
    CHECK_STR(s, "2026-01-01T00:00:00Z");
    CHECK_INT(op_time_parse(&t, s), 0);
    CHECK_INT(t, 1767225600);
    CHECK_INT(op_time_parse(&t, "2026-01-01T05:30:00.123+05:30"), 0);
    CHECK_INT(t, 1767225600);
    CHECK_INT(op_time_parse(&t, "2024-02-29T23:59:59Z"), 0);
    CHECK_INT(t, 1709251199);
    CHECK_INT(op_time_parse(&t, "2026-01-01 00:00:00Z"), RC_PARSE);
    CHECK_INT(op_time_parse(&t, "2026-01-01T00:00:00"), RC_PARSE);
    CHECK_INT(op_time_parse(&t, "2026-13-01T00:00:00Z"), RC_PARSE);
    CHECK_INT(op_time_parse(&t, NULL), RC_PARSE);
}

TEST(secret_data)
{
    json_t *s = json_object();
    char *v = NULL;
    size_t n = 0;

    CHECK_INT(op_data_get(&v, &n, s, "k", 100), RC_NOTFOUND);
    REQUIRE(op_data_set(s, "k", "hello", 5) == 0);
    CHECK_STR(
        json_string_value(json_object_get(json_object_get(s, "data"), "k")),
        "aGVsbG8=");
    CHECK_INT(op_data_get(&v, &n, s, "k", 100), 0);
    CHECK_STR(v, "hello");
    mem_free(v);
    json_object_set_new(json_object_get(s, "data"), "bad", json_string("%%"));
    CHECK_INT(op_data_get(&v, &n, s, "bad", 100), RC_PARSE);
    json_decref(s);
}
