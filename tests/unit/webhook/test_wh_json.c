/* test_wh_json.c: the fast JSON parser gives jansson's document or
 * declines (never a different answer), and the writer's base64 output is
 * the base64 of its text. */
#include "tests/unit/harness.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_admission.h"
#include "webhook/wh_json.h"

#include <stdlib.h>
#include <string.h>

/* same_as_jansson: parses s both ways; the fast parser must accept it and
 * give the same text (types, values, key order) as jansson */
static void
same_as_jansson(const char *s, size_t n)
{
    json_t *fast = NULL, *ref = NULL;
    char *a, *b;
    int rc = wh_json_parse(&fast, s, n, 96);

    CHECK_INT(rc, 0);
    REQUIRE(jutil_parse(&ref, s, n, NULL) == 0);
    if (fast == NULL) {
        json_decref(ref);
        return;
    }
    a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
    b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
    REQUIRE(a != NULL && b != NULL);
    CHECK_STR(a, b);
    CHECK(json_equal(fast, ref));
    free(a);
    free(b);
    json_decref(fast);
    json_decref(ref);
}

TEST(parse_matches_jansson)
{
    static const char *const docs[] = {
        "{}",
        " \t\r\n{ \"a\" : 1 , \"b\":[ ] ,\"c\":{ }}\n ",
        "{\"i\":[0,-0,7,-7,123456789012345678,-123456789012345678]}",
        "{\"r\":[0.5,-1.25e3,1E-7,2e+2,100000000000000000000.0,3.0]}",
        "{\"lit\":[true,false,null],\"s\":\"\",\"\":\"empty key\"}",
        "{\"esc\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9\\u20AC "
        "\\ud83d\\ude00 \\u0001\"}",
        "{\"k\\u00e9y\\n\":{\"nested\\\"\":[[[{\"x\":[1,[2,[3]]]}]]]}}",
        "{\"utf8\":\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf\"}",
        "{\"dup\":1,\"other\":2,\"dup\":3}",
        "{\"long\":\"0123456789012345678901234567890123456789012345678901234"
        "5678901234567890123456789012345678901234567890123456789\\n"
        "0123456789012345678901234567890123456789012345678901234567890123"
        "456789012345678901234567890123456789012345678901234567890123456\","
        "\"0123456789012345678901234567890123456789012345678901234567890123"
        "4567890123456789012345678901234567890123456789012345678901234567"
        "89\\t\":1}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        same_as_jansson(docs[i], strlen(docs[i]));
}

TEST(parse_declines_what_it_leaves_to_jansson)
{
    /* malformed for everyone, or valid but left to jansson: the answer
     * is RC_AGAIN and nothing is returned */
    static const char *const docs[] = {
        "",
        "   ",
        "[1,2]",
        "\"just a string\"",
        "{",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":01}",
        "{\"a\":-}",
        "{\"a\":1.}",
        "{\"a\":1e}",
        "{\"a\":.5}",
        "{\"a\":+1}",
        "{\"a\":tru}",
        "{\"a\":truex}",
        "{\"a\":nul}",
        "{\"a\":\"unterminated}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"\xc0\xaf\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xe2\x82\"}",
        "{\"a\":1234567890123456789}",
        "{\"a\":1e400}",
        "{\"a\":1e-400}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "\xef\xbb\xbf{}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *v = (json_t *)&v;
        CHECK_INT(wh_json_parse(&v, docs[i], strlen(docs[i]), 96), RC_AGAIN);
        CHECK(v == NULL);
    }
    /* a NUL byte inside the buffer */
    {
        json_t *v = NULL;
        CHECK_INT(wh_json_parse(&v, "{\"a\":\"x\0y\"}", 11, 96), RC_AGAIN);
        CHECK(v == NULL);
    }
}

/* at_every_offset: {"k":"aaa...<ins>aaa"} with ins at offsets 0..40 of a
 * 48-byte string, so it falls in every lane of the 8-byte scan and in the
 * tail; want 0: same text as jansson, RC_AGAIN: declined */
static void
at_every_offset(const char *ins, int want)
{
    for (size_t at = 0; at <= 40; at++) {
        char doc[128];
        size_t n = 0;

        memcpy(doc, "{\"k\":\"", 6);
        n = 6;
        memset(doc + n, 'a', at);
        n += at;
        memcpy(doc + n, ins, strlen(ins));
        n += strlen(ins);
        memset(doc + n, 'b', 48 - at);
        n += 48 - at;
        memcpy(doc + n, "\"}", 2);
        n += 2;
        if (want == 0) {
            same_as_jansson(doc, n);
        } else {
            json_t *v = NULL;
            CHECK_INT(wh_json_parse(&v, doc, n, 96), want);
            CHECK(v == NULL);
        }
    }
}

TEST(parse_strings_special_bytes_in_every_position)
{
    at_every_offset("", 0);
    at_every_offset("\\\"", 0); /* \" */
    at_every_offset("\\n", 0);  /* \n */
    at_every_offset("\\u00e9", 0);
    at_every_offset("\xc3\xa9", 0); /* UTF-8 */
    at_every_offset("\xf0\x9f\x98\x80", 0);
    at_every_offset("\x01", RC_AGAIN); /* raw control character */
    at_every_offset("\x1f", RC_AGAIN);
    at_every_offset("\xff", RC_AGAIN); /* not UTF-8 */
    at_every_offset("\xc3", RC_AGAIN); /* truncated sequence */
}

TEST(parse_depth_cap_counts_like_jutil_depth)
{
    struct buf b;
    json_t *v = NULL;

    buf_init(&b, 0);
    /* 96 levels: accepted; 97: declined (jutil_parse then says RC_LIMIT) */
    for (int i = 0; i < 96; i++)
        buf_addstr(&b, i % 2 ? "[" : "{\"k\":");
    buf_addstr(&b, "1");
    for (int i = 95; i >= 0; i--)
        buf_addstr(&b, i % 2 ? "]" : "}");
    CHECK_INT(jutil_depth(b.ptr, b.len, 200), 96);
    CHECK_INT(wh_json_parse(&v, b.ptr, b.len, 96), 0);
    json_decref(v);
    CHECK_INT(wh_json_parse(&v, b.ptr, b.len, 95), RC_AGAIN);
    CHECK(v == NULL);
    buf_cleanup(&b);
}

TEST(parse_out_of_memory_is_nomem)
{
    static const char doc[] =
        "{\"a\":[1,2.5,\"x\\n\"],\"b\":{\"c\\u00e9\":true},\"d\":\"e\"}";
    int done = 0;

    for (long n = 1; n < 1000 && !done; n++) {
        json_t *v = NULL;
        int rc;

        mem_fail_set(n);
        rc = wh_json_parse(&v, doc, strlen(doc), 96);
        mem_fail_set(0);
        if (rc == 0) {
            done = mem_fail_hits() == 0;
            json_decref(v);
        } else {
            CHECK_INT(rc, RC_NOMEM);
            CHECK(v == NULL);
        }
    }
    CHECK(done);
}

static int
b64val(char c)
{
    const char *t =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(t, c) : NULL;
    return p ? (int)(p - t) : -1;
}

/* test-side decoder, independent of the encoder */
static void
b64dec(struct buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i + 3 < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++)
            v[k] = s[i + k] == '=' ? 0 : b64val(s[i + k]);
        unsigned x = (unsigned)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        buf_addc(out, (char)(x >> 16));
        if (s[i + 2] != '=')
            buf_addc(out, (char)(x >> 8 & 255));
        if (s[i + 3] != '=')
            buf_addc(out, (char)(x & 255));
    }
}

TEST(write_base64_is_base64_of_write)
{
    /* sizes around the writer's 3 KiB window and its 3-byte quanta */
    static const size_t lens[] = {0, 1, 2, 3, 3060, 3066, 3067, 3068, 10000};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        json_t *v = json_array();
        struct buf raw, b64, back;
        char *s = mem_alloc(lens[i] + 1);

        REQUIRE(v != NULL && s != NULL);
        for (size_t k = 0; k < lens[i]; k++)
            s[k] = k % 97 == 0 ? '\n' : (char)('a' + k % 26);
        json_array_append_new(v, json_stringn(s, lens[i]));
        json_array_append_new(v, json_integer(-42));
        buf_init(&raw, 0);
        buf_init(&b64, 0);
        buf_init(&back, 0);
        CHECK_INT(buf_addstr(&b64, "pre:"), 0);
        CHECK_INT(wh_json_write(&raw, v), 0);
        CHECK_INT(wh_json_write_base64(&b64, v, NULL), 0);
        CHECK_INT((int)(b64.len - 4), (int)((raw.len + 2) / 3 * 4));
        CHECK(memcmp(b64.ptr, "pre:", 4) == 0);
        b64dec(&back, b64.ptr + 4, b64.len - 4);
        CHECK_INT((int)back.len, (int)raw.len);
        CHECK(back.len == raw.len && memcmp(back.ptr, raw.ptr, raw.len) == 0);
        buf_cleanup(&raw);
        buf_cleanup(&b64);
        buf_cleanup(&back);
        mem_free(s);
        json_decref(v);
    }
}

TEST(write_base64_limit_leaves_buffer_unchanged)
{
    json_t *v = json_pack("[s,s]", "0123456789", "abcdefghij");
    struct buf b;

    REQUIRE(v != NULL);
    buf_init(&b, 24);
    CHECK_INT(buf_addstr(&b, "pre"), 0);
    CHECK_INT(wh_json_write_base64(&b, v, NULL), RC_LIMIT);
    CHECK_STR(b.ptr, "pre");
    buf_cleanup(&b);
    json_decref(v);
}

/* what the fast parser declines still decodes through jansson, with
 * jansson's values and, for bad JSON, jansson's message */
TEST(review_decode_falls_back_to_jansson)
{
    static const char ok[] =
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
        "\"request\":{\"uid\":\"u1\",\"operation\":\"CREATE\",\"object\":{"
        "\"n\":1234567890123456789,\"r\":1e-400}}}";
    static const char bad[] = "{\"apiVersion\":\"admission.k8s.io/v1\",}";
    struct wh_review rv;
    json_t *v = NULL;

    CHECK_INT(wh_json_parse(&v, ok, strlen(ok), 96), RC_AGAIN);
    REQUIRE(wh_review_decode(&rv, ok, strlen(ok), 0) == 0);
    CHECK_STR(rv.uid, "u1");
    CHECK(json_integer_value(json_object_get(rv.object, "n")) ==
          1234567890123456789LL);
    CHECK(json_is_real(json_object_get(rv.object, "r")));
    wh_review_cleanup(&rv);
    CHECK_INT(wh_review_decode(&rv, bad, strlen(bad), 0), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "line 1 column");
}
