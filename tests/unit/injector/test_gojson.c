/* test_gojson.c: the injector's JSON writer (injector/gojson.c) against
 * jansson's compact dump (go = 0) and against jansson's dump re-escaped
 * the Go way (go = 1), on every byte and on tricky documents. */
#include "tests/unit/harness.h"
#include "tests/unit/injector/injtest.h"
#include "injector/inj_internal.h"
#include "injector/probes.h"

/* go_ref: jansson's compact text with strings re-escaped as Go does: the
 * independent oracle (the injector's former two-pass method). */
static char *
go_ref(const json_t *v)
{
    char *raw = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    struct buf out;
    int in_str = 0;

    buf_init(&out, 0);
    for (size_t i = 0; raw && raw[i]; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (!in_str) {
            in_str = c == '"';
            buf_addc(&out, (char)c);
        } else if (c == '\\') {
            size_t n = raw[i + 1] == 'u' ? 6 : 2;
            for (size_t j = 0; j < n; j++) {
                char h = raw[i + j];
                buf_addc(&out, j >= 2 && h >= 'A' && h <= 'F' ? h + 32 : h);
            }
            i += n - 1;
        } else if (c == '"') {
            in_str = 0;
            buf_addc(&out, '"');
        } else if (c == '<' || c == '>' || c == '&') {
            buf_addf(&out, "\\u00%02x", c);
        } else if (c == 0xe2 && (unsigned char)raw[i + 1] == 0x80 &&
                   ((unsigned char)raw[i + 2] == 0xa8 ||
                    (unsigned char)raw[i + 2] == 0xa9)) {
            buf_addstr(&out, raw[i + 2] == (char)0xa8 ? "\\u2028" : "\\u2029");
            i += 2;
        } else {
            buf_addc(&out, (char)c);
        }
    }
    free(raw);
    return buf_take(&out, NULL);
}

static void
check_doc(const json_t *v, int line)
{
    struct buf b;
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *go_want = go_ref(v), *go_got = NULL;

    buf_init(&b, 0);
    if (inj_json_write(&b, v, 0) != 0 || strcmp(b.ptr, want) != 0)
        harness_fail(__FILE__, line, "jansson form: got %s want %s",
                     b.ptr ? b.ptr : "(err)", want);
    if (inj_json_go_dumps(v, &go_got) != 0 || strcmp(go_got, go_want) != 0)
        harness_fail(__FILE__, line, "go form: got %s want %s",
                     go_got ? go_got : "(err)", go_want);
    mem_free(go_got);
    mem_free(go_want);
    free(want);
    buf_cleanup(&b);
}

TEST(gojson_every_byte_and_rune)
{
    char s[2] = {0, 0};
    static const char *const runes[] = {"\xc3\xa9",
                                        "\xe2\x82\xac",
                                        "\xe2\x80\xa8",
                                        "\xe2\x80\xa9",
                                        "\xe2\x80\xa7",
                                        "\xf0\x9f\x98\x80",
                                        "a\xe2\x80\xa8<b>&\"\\/\x7f"};

    for (int c = 1; c < 0x80; c++) {
        json_t *v;
        s[0] = (char)c;
        v = json_pack("{s:s}", s, s);
        REQUIRE(v != NULL);
        check_doc(v, __LINE__);
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof(runes) / sizeof(runes[0]); i++) {
        json_t *v = json_pack("[s,{s:s}]", runes[i], runes[i], runes[i]);
        REQUIRE(v != NULL);
        check_doc(v, __LINE__);
        json_decref(v);
    }
}

TEST(gojson_documents)
{
    static const char *const docs[] = {
        "{}",
        "[]",
        "{\"a\":[],\"b\":{},\"c\":[[],[{}]],\"d\":null,\"e\":true,\"f\":0}",
        "[0,-1,9223372036854775807,-9223372036854775808,1.5,-0.25,1e300]",
        "{\"z\":1,\"a\":2,\"m\":{\"y\":\"x\",\"b\":[\"<&>\"]}}",
        "\"just a string\"",
        "42",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *v = json_loads(docs[i], JSON_DECODE_ANY, NULL);
        REQUIRE(v != NULL);
        check_doc(v, __LINE__);
        json_decref(v);
    }
}

TEST(gojson_nomem_leaves_buffer)
{
    char big[600];
    json_t *v;
    struct buf b;
    long fails = 0;

    /* longer than the buffer's first 256 bytes: appending must grow it */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    v = json_pack("{s:[s,s,s]}", "key", "a<b", "c", big);
    REQUIRE(v != NULL);
    buf_init(&b, 0);
    buf_addstr(&b, "prefix");
    for (long n = 1; n < 50; n++) {
        mem_fail_set(n);
        int rc = inj_json_write(&b, v, 1);
        mem_fail_set(0);
        if (rc == 0)
            break;
        CHECK_INT(rc, RC_NOMEM);
        CHECK_STR(b.ptr, "prefix");
        fails++;
    }
    CHECK(strncmp(b.ptr, "prefix{\"key\":[\"a\\u003cb\",\"c\",\"xxx", 30) == 0);
    CHECK_INT((long)b.len, 6 + 24 + 599 + 3);
    CHECK(fails > 0);
    buf_cleanup(&b);
    json_decref(v);
}
