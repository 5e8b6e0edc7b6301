/* test_jpatch.c: RFC 6901 escaping, RFC 6902 apply, and the minimal diff
 * (checked op by op, and by round trip apply(from, diff(from, to)) == to on
 * hand-made and generated documents). */
#include "tests/unit/harness.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jpatch.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdint.h>
#include <stdlib.h>

/* jp parses a test literal (owned result; NULL and a failure if bad). */
static json_t *
jp(const char *s)
{
    json_error_t err;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &err); /* owned */

    if (v == NULL)
        harness_fail(__FILE__, __LINE__, "bad literal %s: %s", s, err.text);
    return v;
}

/* dump: compact text of v in a static buffer (tests compare strings). */
static const char *
dump(const json_t *v)
{
    static char out[8192];
    char *s = jutil_dumps(v, JSON_ENCODE_ANY);

    snprintf(out, sizeof(out), "%s", s ? s : "(null)");
    mem_free(s);
    return out;
}

static const char *
escaped(const char *token)
{
    static char out[256];
    struct buf b;

    buf_init(&b, 0);
    if (jpatch_escape(&b, token) != 0)
        snprintf(out, sizeof(out), "(error)");
    else
        snprintf(out, sizeof(out), "%s", b.ptr ? b.ptr : "");
    buf_cleanup(&b);
    return out;
}

/* diff_str: the patch from -> to as compact text ("ERR <rc>" on failure). */
static const char *
diff_str(const char *from, const char *to)
{
    static char out[8192];
    json_t *a = jp(from), *b = jp(to), *p = NULL; /* owned */
    int rc = a && b ? jpatch_diff(&p, a, b) : RC_PARSE;

    if (rc != 0)
        snprintf(out, sizeof(out), "ERR %s", rc_str(rc));
    else
        snprintf(out, sizeof(out), "%s", dump(p));
    json_decref(p);
    json_decref(b);
    json_decref(a);
    return out;
}

/* apply_str: doc patched with patch, as text, or "ERR <rc>". */
static const char *
apply_str(const char *doc, const char *patch)
{
    static char out[8192];
    json_t *d = jp(doc), *p = jp(patch), *r = NULL; /* owned */
    int rc = d && p ? jpatch_apply(&r, d, p) : RC_PARSE;

    if (rc != 0)
        snprintf(out, sizeof(out), "ERR %s", rc_str(rc));
    else
        snprintf(out, sizeof(out), "%s", dump(r));
    CHECK(rc == 0 || r == NULL);
    json_decref(r);
    json_decref(p);
    json_decref(d);
    return out;
}

/* roundtrip: diff then apply gives `to`; no whole-document replace unless
 * the root types differ. Returns the number of operations (-1 on error). */
static int
roundtrip(const json_t *from, const json_t *to)
{
    json_t *p = NULL, *r = NULL; /* owned */
    int n = -1, rc;

    if ((rc = jpatch_diff(&p, from, to)) != 0) {
        harness_fail(__FILE__, __LINE__, "diff: %s %s", rc_str(rc),
                     errmsg_get());
        return -1;
    }
    if ((rc = jpatch_apply(&r, from, p)) != 0) {
        harness_fail(__FILE__, __LINE__, "apply: %s %s", rc_str(rc),
                     errmsg_get());
    } else if (!json_equal(r, to)) {
        harness_fail(__FILE__, __LINE__, "roundtrip mismatch, patch %s",
                     dump(p));
    } else {
        n = (int)json_array_size(p);
    }
    for (size_t i = 0; i < json_array_size(p); i++) {
        const char *path = jutil_str(json_array_get(p, i), "path");
        if (path != NULL && path[0] == '\0' &&
            json_typeof(from) == json_typeof(to) &&
            (json_is_object(from) || json_is_array(from)))
            harness_fail(__FILE__, __LINE__, "whole-document op in %s",
                         dump(p));
    }
    json_decref(r);
    json_decref(p);
    return n;
}

static int
roundtrip_str(const char *from, const char *to)
{
    json_t *a = jp(from), *b = jp(to); /* owned */
    int n = a && b ? roundtrip(a, b) : -1;

    json_decref(b);
    json_decref(a);
    return n;
}

/* ---- escaping and building ------------------------------------------ */

TEST(jpatch_escape_tokens)
{
    struct buf b;

    CHECK_STR(escaped("sidecar.istio.io/status"), "sidecar.istio.io~1status");
    CHECK_STR(escaped("a~b"), "a~0b");
    /* "~" is escaped first: "~1" must become "~01", not "~1" or "/" */
    CHECK_STR(escaped("~1"), "~01");
    CHECK_STR(escaped("/~"), "~1~0");
    CHECK_STR(escaped("~~//"), "~0~0~1~1");
    CHECK_STR(escaped(""), "");
    CHECK_STR(escaped("plain"), "plain");
    /* appends to what is there */
    buf_init(&b, 0);
    CHECK_INT(buf_addstr(&b, "/metadata/annotations/"), 0);
    CHECK_INT(jpatch_escape(&b, "a/b"), 0);
    CHECK_STR(b.ptr, "/metadata/annotations/a~1b");
    buf_cleanup(&b);
    /* over the buffer's cap: RC_LIMIT and the buffer is unchanged */
    buf_init(&b, 8);
    CHECK_INT(buf_addstr(&b, "/x/"), 0);
    CHECK_INT(jpatch_escape(&b, "a/b/c/d"), RC_LIMIT);
    CHECK_STR(b.ptr, "/x/");
    buf_cleanup(&b);
}

TEST(jpatch_op_builds_operations)
{
    json_t *p = json_array(); /* owned */

    CHECK_INT(jpatch_op(p, "add", "/a~1b", json_integer(1)), 0);
    CHECK_INT(jpatch_op(p, "remove", "/c", NULL), 0);
    CHECK_STR(dump(p), "[{\"op\":\"add\",\"path\":\"/a~1b\",\"value\":1},"
                       "{\"op\":\"remove\",\"path\":\"/c\"}]");
    json_decref(p);
}

/* ---- apply ------------------------------------------------------------ */

TEST(jpatch_apply_add)
{
    CHECK_STR(apply_str("{\"foo\":\"bar\"}",
                        "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":"
                        "\"qux\"}]"),
              "{\"foo\":\"bar\",\"baz\":\"qux\"}");
    CHECK_STR(apply_str("{\"foo\":[\"bar\",\"baz\"]}",
                        "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":"
                        "\"qux\"}]"),
              "{\"foo\":[\"bar\",\"qux\",\"baz\"]}");
    /* nested object member; existing member is replaced by add */
    CHECK_STR(apply_str("{\"foo\":\"bar\"}",
                        "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{"
                        "\"grandchild\":{}}},{\"op\":\"add\",\"path\":"
                        "\"/foo\",\"value\":1}]"),
              "{\"foo\":1,\"child\":{\"grandchild\":{}}}");
    /* "-" appends; an array value is added as one element */
    CHECK_STR(apply_str("{\"foo\":[\"bar\"]}",
                        "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":["
                        "\"abc\",\"def\"]}]"),
              "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}");
    /* index == size appends too; index 0 of an empty array */
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"add\",\"path\":\"/2\","
                                 "\"value\":3}]"),
              "[1,2,3]");
    CHECK_STR(apply_str("[]", "[{\"op\":\"add\",\"path\":\"/0\","
                              "\"value\":3}]"),
              "[3]");
    /* the root: add "" replaces the document */
    CHECK_STR(apply_str("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\","
                                     "\"value\":[1]}]"),
              "[1]");
    /* the empty key: "/" names member "" */
    CHECK_STR(apply_str("{}", "[{\"op\":\"add\",\"path\":\"/\","
                              "\"value\":1}]"),
              "{\"\":1}");
    /* unrecognized members of an operation are ignored */
    CHECK_STR(apply_str("{}", "[{\"op\":\"add\",\"path\":\"/a\","
                              "\"value\":1,\"xyz\":2}]"),
              "{\"a\":1}");
    /* errors: missing parent, index past the end, a leading zero */
    CHECK_STR(apply_str("{\"foo\":\"bar\"}",
                        "[{\"op\":\"add\",\"path\":\"/baz/bat\","
                        "\"value\":\"qux\"}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"add\",\"path\":\"/3\","
                                 "\"value\":3}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"add\",\"path\":\"/01\","
                                 "\"value\":3}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("\"s\"", "[{\"op\":\"add\",\"path\":\"/a\","
                                 "\"value\":3}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("{}", "[{\"op\":\"add\",\"path\":\"/a\"}]"),
              "ERR RC_INVAL");
}

TEST(jpatch_apply_remove_and_replace)
{
    CHECK_STR(apply_str("{\"baz\":\"qux\",\"foo\":\"bar\"}",
                        "[{\"op\":\"remove\",\"path\":\"/baz\"}]"),
              "{\"foo\":\"bar\"}");
    CHECK_STR(apply_str("{\"foo\":[\"bar\",\"qux\",\"baz\"]}",
                        "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]"),
              "{\"foo\":[\"bar\",\"baz\"]}");
    CHECK_STR(apply_str("{\"baz\":\"qux\",\"foo\":\"bar\"}",
                        "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":"
                        "\"boo\"}]"),
              "{\"baz\":\"boo\",\"foo\":\"bar\"}");
    CHECK_STR(apply_str("[1,2,3]", "[{\"op\":\"replace\",\"path\":\"/1\","
                                   "\"value\":{\"x\":[]}}]"),
              "[1,{\"x\":[]},3]");
    CHECK_STR(apply_str("[1]", "[{\"op\":\"replace\",\"path\":\"\","
                               "\"value\":null}]"),
              "null");
    /* the target must exist */
    CHECK_STR(apply_str("{}", "[{\"op\":\"remove\",\"path\":\"/a\"}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("{}", "[{\"op\":\"replace\",\"path\":\"/a\","
                              "\"value\":1}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"remove\",\"path\":\"/2\"}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"remove\",\"path\":\"/-\"}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"replace\",\"path\":\"/2\","
                                 "\"value\":1}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"remove\",\"path\":\"/-1\"}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"remove\",\"path\":\"/1e0\"}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"remove\",\"path\":\"/\"}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"remove\",\"path\":"
                                 "\"/99999999999999999999999\"}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"\"}]"),
              "ERR RC_INVAL");
    /* "0" is fine, "00" is not */
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"remove\",\"path\":\"/0\"}]"),
              "[2]");
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"remove\",\"path\":\"/00\"}]"),
              "ERR RC_INVAL");
    /* digits are plain member names in objects */
    CHECK_STR(apply_str("{\"01\":1,\"-\":2}",
                        "[{\"op\":\"remove\",\"path\":\"/01\"},{\"op\":"
                        "\"remove\",\"path\":\"/-\"}]"),
              "{}");
}

TEST(jpatch_apply_move_and_copy)
{
    CHECK_STR(apply_str("{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},"
                        "\"qux\":{\"corge\":\"grault\"}}",
                        "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":"
                        "\"/qux/thud\"}]"),
              "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\","
              "\"thud\":\"fred\"}}");
    /* the target index counts after the removal */
    CHECK_STR(apply_str("{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
                        "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":"
                        "\"/foo/3\"}]"),
              "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}");
    CHECK_STR(apply_str("{\"a\":{\"b\":1}}",
                        "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]"),
              "{\"a\":{\"b\":1}}");
    /* into its own child: refused; a sibling sharing a prefix is fine */
    CHECK_STR(apply_str("{\"a\":{\"b\":1}}",
                        "[{\"op\":\"move\",\"from\":\"/a\",\"path\":"
                        "\"/a/c\"}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("{\"a\":{\"b\":1}}",
                        "[{\"op\":\"move\",\"from\":\"/a\",\"path\":"
                        "\"/ab\"}]"),
              "{\"ab\":{\"b\":1}}");
    CHECK_STR(apply_str("{}", "[{\"op\":\"move\",\"from\":\"/x\",\"path\":"
                              "\"/y\"}]"),
              "ERR RC_INVAL");
    CHECK_STR(apply_str("{}", "[{\"op\":\"move\",\"path\":\"/y\"}]"),
              "ERR RC_INVAL");
    /* copy is deep: changing the copy leaves the source alone */
    CHECK_STR(apply_str("{\"a\":{\"b\":[1]}}",
                        "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"},"
                        "{\"op\":\"add\",\"path\":\"/c/b/-\",\"value\":2}]"),
              "{\"a\":{\"b\":[1]},\"c\":{\"b\":[1,2]}}");
    /* copy into its own child is well defined */
    CHECK_STR(apply_str("{\"a\":{\"b\":1}}",
                        "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":"
                        "\"/a/c\"}]"),
              "{\"a\":{\"b\":1,\"c\":{\"b\":1}}}");
    CHECK_STR(apply_str("[1,2]", "[{\"op\":\"copy\",\"from\":\"/0\","
                                 "\"path\":\"/-\"}]"),
              "[1,2,1]");
}

TEST(jpatch_apply_test_op)
{
    CHECK_STR(apply_str("{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
                        "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":"
                        "\"qux\"},{\"op\":\"test\",\"path\":\"/foo/1\","
                        "\"value\":2}]"),
              "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}");
    CHECK_STR(apply_str("{\"baz\":\"qux\"}",
                        "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":"
                        "\"bar\"}]"),
              "ERR RC_CONFLICT");
    /* escapes decode "~01" to "~1", not to "/" */
    CHECK_STR(apply_str("{\"/\":9,\"~1\":10}",
                        "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10},"
                        "{\"op\":\"test\",\"path\":\"/~1\",\"value\":9}]"),
              "{\"/\":9,\"~1\":10}");
    /* strings and numbers differ; numbers compare by value */
    CHECK_STR(apply_str("{\"/\":9,\"~1\":10}",
                        "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":"
                        "\"10\"}]"),
              "ERR RC_CONFLICT");
    CHECK_STR(apply_str("{\"a\":[1,{\"b\":2}]}",
                        "[{\"op\":\"test\",\"path\":\"/a\",\"value\":"
                        "[1.0,{\"b\":2.0}]}]"),
              "{\"a\":[1,{\"b\":2}]}");
    CHECK_STR(apply_str("{\"a\":{\"b\":2}}",
                        "[{\"op\":\"test\",\"path\":\"/a\",\"value\":"
                        "{\"b\":2,\"c\":3}}]"),
              "ERR RC_CONFLICT");
    CHECK_STR(apply_str("[true]", "[{\"op\":\"test\",\"path\":\"/0\","
                                  "\"value\":1}]"),
              "ERR RC_CONFLICT");
    CHECK_STR(apply_str("{\"a\":null}", "[{\"op\":\"test\",\"path\":\"\","
                                        "\"value\":{\"a\":null}}]"),
              "{\"a\":null}");
}

TEST(jpatch_apply_errors_name_the_op)
{
    json_t *doc = jp("{\"a\":{\"b\":[1,2]}}"), *r = NULL; /* owned */
    json_t *p;                                            /* owned */
    REQUIRE(doc != NULL);

    p = jp("[{\"op\":\"add\",\"path\":\"/x\",\"value\":1},"
           "{\"op\":\"remove\",\"path\":\"/a/b/01\"}]");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_INVAL);
    CHECK(r == NULL);
    CHECK_CONTAINS(errmsg_get(), "op 1 (remove /a/b/01)");
    CHECK_CONTAINS(errmsg_get(), "leading zero");
    /* the input is untouched by the first, successful op */
    CHECK_STR(dump(doc), "{\"a\":{\"b\":[1,2]}}");
    json_decref(p);

    p = jp("[{\"op\":\"remove\",\"path\":\"/a~2b\"}]");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "op 0 (remove /a~2b)");
    CHECK_CONTAINS(errmsg_get(), "escape");
    json_decref(p);

    p = jp("[{\"op\":\"remove\",\"path\":\"/a~\"}]");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "escape");
    json_decref(p);

    p = jp("[{\"op\":\"replace\",\"path\":\"/a/b/2\",\"value\":0}]");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "out of range");
    json_decref(p);

    p = jp("[{\"op\":\"remove\",\"path\":\"a\"}]");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "start with '/'");
    json_decref(p);

    p = jp("[{\"op\":\"frob\",\"path\":\"/a\",\"value\":1}]");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "unknown operation");
    json_decref(p);

    p = jp("[{\"op\":\"test\",\"path\":\"/a/b/0\",\"value\":2}]");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_CONFLICT);
    CHECK_CONTAINS(errmsg_get(), "op 0 (test /a/b/0)");
    json_decref(p);

    p = jp("[{\"op\":\"copy\",\"from\":\"/a/c\",\"path\":\"/d\"}]");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "op 0 (copy /d): from /a/c: no such member");
    json_decref(p);

    p = jp("[{\"path\":\"/a\"}]");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_INVAL);
    json_decref(p);
    p = jp("[{\"op\":\"remove\",\"path\":7}]");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_INVAL);
    json_decref(p);
    p = jp("[{\"op\":\"remove\",\"path\":\"/a/b/0/c\"}]");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "not");
    json_decref(p);
    p = jp("{\"op\":\"remove\",\"path\":\"/a\"}");
    CHECK_INT(jpatch_apply(&r, doc, p), RC_INVAL);
    CHECK(r == NULL);
    json_decref(p);

    /* an empty patch gives an equal copy */
    p = jp("[]");
    CHECK_INT(jpatch_apply(&r, doc, p), 0);
    CHECK(r != doc && json_equal(r, doc));
    json_decref(r);
    json_decref(p);
    json_decref(doc);
}

/* ---- diff ------------------------------------------------------------- */

TEST(jpatch_diff_objects)
{
    CHECK_STR(diff_str("{\"a\":1}", "{\"a\":1}"), "[]");
    CHECK_STR(diff_str("{}", "{}"), "[]");
    CHECK_STR(
        diff_str("{\"a\":1,\"b\":2,\"c\":3}", "{\"a\":1,\"c\":4,\"d\":5}"),
        "[{\"op\":\"remove\",\"path\":\"/b\"},"
        "{\"op\":\"replace\",\"path\":\"/c\",\"value\":4},"
        "{\"op\":\"add\",\"path\":\"/d\",\"value\":5}]");
    /* new keys come in `to`'s order */
    CHECK_STR(diff_str("{}", "{\"z\":1,\"a\":2}"),
              "[{\"op\":\"add\",\"path\":\"/z\",\"value\":1},"
              "{\"op\":\"add\",\"path\":\"/a\",\"value\":2}]");
    CHECK_STR(diff_str("{\"a\":1,\"b\":2}", "{}"),
              "[{\"op\":\"remove\",\"path\":\"/a\"},"
              "{\"op\":\"remove\",\"path\":\"/b\"}]");
    /* key order alone is no change */
    CHECK_STR(diff_str("{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}"), "[]");
    /* nested: only the changed leaf */
    CHECK_STR(diff_str("{\"m\":{\"l\":{\"app\":\"x\",\"v\":\"1\"}},\"s\":{}}",
                       "{\"m\":{\"l\":{\"app\":\"x\",\"v\":\"2\"}},\"s\":{}}"),
              "[{\"op\":\"replace\",\"path\":\"/m/l/v\",\"value\":\"2\"}]");
    /* keys are escaped */
    CHECK_STR(diff_str("{\"metadata\":{\"annotations\":{}}}",
                       "{\"metadata\":{\"annotations\":{"
                       "\"sidecar.istio.io/status\":\"{}\",\"a~b\":\"\"}}}"),
              "[{\"op\":\"add\",\"path\":"
              "\"/metadata/annotations/sidecar.istio.io~1status\","
              "\"value\":\"{}\"},{\"op\":\"add\",\"path\":"
              "\"/metadata/annotations/a~0b\",\"value\":\"\"}]");
    CHECK_INT(roundtrip_str("{\"\":{\"/\":1}}", "{\"\":{\"/\":2,\"~\":3}}"), 2);
    /* `from`'s keys a prefix of `to`'s (the zipped path, no lookups) or in
     * another order (the lookup path): the same operations, same order */
    const char *want = "[{\"op\":\"replace\",\"path\":\"/y\",\"value\":3},"
                       "{\"op\":\"add\",\"path\":\"/z\",\"value\":4},"
                       "{\"op\":\"add\",\"path\":\"/w\",\"value\":5}]";
    CHECK_STR(
        diff_str("{\"x\":1,\"y\":2}", "{\"x\":1,\"y\":3,\"z\":4,\"w\":5}"),
        want);
    CHECK_STR(
        diff_str("{\"y\":2,\"x\":1}", "{\"x\":1,\"y\":3,\"z\":4,\"w\":5}"),
        want);
    /* same length but a different key, and a longer `from`: lookups */
    CHECK_STR(diff_str("{\"x\":1,\"q\":2}", "{\"x\":1,\"y\":2}"),
              "[{\"op\":\"remove\",\"path\":\"/q\"},"
              "{\"op\":\"add\",\"path\":\"/y\",\"value\":2}]");
    CHECK_STR(diff_str("{\"x\":1,\"y\":2}", "{\"x\":1}"),
              "[{\"op\":\"remove\",\"path\":\"/y\"}]");
    /* a non-ASCII key: its path goes through jansson's UTF-8 check, which
     * refuses a key that is not UTF-8 (only _nocheck calls can make one) */
    {
        json_t *from = json_object(), *to = json_object(), *p = NULL;
        json_object_set_new_nocheck(to, "bad\xff", json_integer(1));
        CHECK_INT(jpatch_diff(&p, from, to), RC_INVAL);
        CHECK(p == NULL);
        json_decref(from);
        json_decref(to);
    }
    CHECK_STR(diff_str("{}", "{\"caf\u00e9\":1}"),
              "[{\"op\":\"add\",\"path\":\"/caf\u00e9\",\"value\":1}]");
    /* keys that differ only in length ("a" vs "ab") */
    CHECK_STR(diff_str("{\"a\":1}", "{\"ab\":1}"),
              "[{\"op\":\"remove\",\"path\":\"/a\"},"
              "{\"op\":\"add\",\"path\":\"/ab\",\"value\":1}]");
}

TEST(jpatch_diff_types_and_roots)
{
    CHECK_STR(diff_str("{\"a\":1}", "{\"a\":\"1\"}"),
              "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":\"1\"}]");
    CHECK_STR(diff_str("{\"a\":[1]}", "{\"a\":{\"0\":1}}"),
              "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":{\"0\":1}}]");
    CHECK_STR(diff_str("{\"a\":true}", "{\"a\":false}"),
              "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":false}]");
    CHECK_STR(diff_str("{\"a\":null}", "{\"a\":{}}"),
              "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":{}}]");
    CHECK_STR(diff_str("{\"a\":1}", "{\"a\":1.5}"),
              "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1.5}]");
    /* only differing root types replace the whole document */
    CHECK_STR(diff_str("[]", "{}"),
              "[{\"op\":\"replace\",\"path\":\"\",\"value\":{}}]");
    CHECK_STR(diff_str("{\"a\":1}", "[1]"),
              "[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]}]");
    CHECK_STR(diff_str("3", "\"x\""),
              "[{\"op\":\"replace\",\"path\":\"\",\"value\":\"x\"}]");
    CHECK_STR(diff_str("3", "3"), "[]");
    CHECK_STR(diff_str("{\"a\":{\"b\":1}}", "{}"),
              "[{\"op\":\"remove\",\"path\":\"/a\"}]");
}

TEST(jpatch_diff_plain_arrays)
{
    CHECK_STR(diff_str("[1,2,3]", "[1,2,3]"), "[]");
    CHECK_STR(diff_str("[1,2,3]", "[1,3]"),
              "[{\"op\":\"remove\",\"path\":\"/1\"}]");
    CHECK_STR(diff_str("[1,2,3]", "[1,4,3]"),
              "[{\"op\":\"replace\",\"path\":\"/1\",\"value\":4}]");
    CHECK_STR(diff_str("[1,2,3]", "[0,1,2,3]"),
              "[{\"op\":\"add\",\"path\":\"/0\",\"value\":0}]");
    /* numeric indices also at the end, never "-" */
    CHECK_STR(diff_str("[1]", "[1,2,3]"),
              "[{\"op\":\"add\",\"path\":\"/1\",\"value\":2},"
              "{\"op\":\"add\",\"path\":\"/2\",\"value\":3}]");
    CHECK_STR(diff_str("[]", "[1]"),
              "[{\"op\":\"add\",\"path\":\"/0\",\"value\":1}]");
    /* extra old elements go highest index first */
    CHECK_STR(diff_str("[1,2,3]", "[]"),
              "[{\"op\":\"remove\",\"path\":\"/2\"},"
              "{\"op\":\"remove\",\"path\":\"/1\"},"
              "{\"op\":\"remove\",\"path\":\"/0\"}]");
    /* the middle is paired position by position, recursively */
    CHECK_STR(diff_str("[0,{\"a\":1,\"b\":1},9]", "[0,{\"a\":2,\"b\":1},7,9]"),
              "[{\"op\":\"replace\",\"path\":\"/1/a\",\"value\":2},"
              "{\"op\":\"add\",\"path\":\"/2\",\"value\":7}]");
    CHECK_STR(diff_str("{\"args\":[\"a\",\"b\",\"c\",\"d\"]}",
                       "{\"args\":[\"a\",\"x\",\"d\"]}"),
              "[{\"op\":\"replace\",\"path\":\"/args/1\",\"value\":\"x\"},"
              "{\"op\":\"remove\",\"path\":\"/args/2\"}]");
    CHECK_INT(roundtrip_str("[[1,[2]],3]", "[[1,[2,5]],3,[4]]"), 2);
}

/* containers named by `names` ("a b c"), each {"name":x,"image":x}; with
 * `edit` set, the one called edit gets image "new". */
static const char *
named(const char *names, const char *edit)
{
    static char out[2][1024];
    static int which;
    char *o = out[which ^= 1];
    size_t len = 0;
    const char *p = names;

    len += (size_t)snprintf(o + len, 1024 - len, "{\"c\":[");
    while (*p) {
        size_t n = strcspn(p, " ");
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)n, p);
        len += (size_t)snprintf(o + len, 1024 - len,
                                "%s{\"name\":\"%s\",\"image\":\"%s\"}",
                                p == names ? "" : ",", name,
                                edit && strcmp(edit, name) == 0 ? "new" : name);
        p += n;
        p += *p == ' ';
    }
    snprintf(o + len, 1024 - len, "]}");
    return o;
}

TEST(jpatch_diff_name_keyed_arrays)
{
    char from[1024];

    snprintf(from, sizeof(from), "%s", named("a b c", NULL));

    /* [app] -> [istio-proxy, app]: a single add at 0 */
    CHECK_STR(diff_str(named("app", NULL), named("istio-proxy app", NULL)),
              "[{\"op\":\"add\",\"path\":\"/c/0\",\"value\":{\"name\":"
              "\"istio-proxy\",\"image\":\"istio-proxy\"}}]");
    /* insert first / middle / last: one add each */
    CHECK_STR(diff_str(from, named("x a b c", NULL)),
              "[{\"op\":\"add\",\"path\":\"/c/0\",\"value\":{\"name\":\"x\","
              "\"image\":\"x\"}}]");
    CHECK_STR(diff_str(from, named("a b x c", NULL)),
              "[{\"op\":\"add\",\"path\":\"/c/2\",\"value\":{\"name\":\"x\","
              "\"image\":\"x\"}}]");
    CHECK_STR(diff_str(from, named("a b c x", NULL)),
              "[{\"op\":\"add\",\"path\":\"/c/3\",\"value\":{\"name\":\"x\","
              "\"image\":\"x\"}}]");
    /* delete: one remove */
    CHECK_STR(diff_str(from, named("a c", NULL)),
              "[{\"op\":\"remove\",\"path\":\"/c/1\"}]");
    /* edit in place, also next to an insert */
    CHECK_STR(diff_str(from, named("a b c", "b")),
              "[{\"op\":\"replace\",\"path\":\"/c/1/image\",\"value\":"
              "\"new\"}]");
    CHECK_STR(diff_str(from, named("x a b c", "c")),
              "[{\"op\":\"add\",\"path\":\"/c/0\",\"value\":{\"name\":\"x\","
              "\"image\":\"x\"}},{\"op\":\"replace\",\"path\":"
              "\"/c/3/image\",\"value\":\"new\"}]");
    /* reorder: the longest kept run stays, the other element moves
     * (remove + add) */
    CHECK_STR(diff_str(from, named("c a b", NULL)),
              "[{\"op\":\"remove\",\"path\":\"/c/2\"},{\"op\":\"add\","
              "\"path\":\"/c/0\",\"value\":{\"name\":\"c\",\"image\":"
              "\"c\"}}]");
    /* delete and insert together; indices hold for sequential apply */
    CHECK_INT(roundtrip_str(named("a b c d e", "c"), named("e x c y a", "a")),
              9); /* one kept (LCS 1): 4 removes, 4 adds, 1 edit */
    CHECK_INT(
        roundtrip_str(named("a b c d e f", NULL), named("a f c d b e", "d")),
        5);
    /* duplicate names: aligned positionally instead (equal suffix kept) */
    CHECK_STR(diff_str("[{\"name\":\"a\"},{\"name\":\"a\",\"v\":1}]",
                       "[{\"name\":\"a\",\"v\":1}]"),
              "[{\"op\":\"remove\",\"path\":\"/0\"}]");
    CHECK_STR(diff_str("[{\"name\":\"a\",\"v\":1},{\"name\":\"a\"}]",
                       "[{\"name\":\"a\",\"v\":2},{\"name\":\"a\"}]"),
              "[{\"op\":\"replace\",\"path\":\"/0/v\",\"value\":2}]");
    /* a non-string name: positional too */
    CHECK_INT(roundtrip_str("[{\"name\":1},{\"name\":\"b\"}]",
                            "[{\"name\":\"b\"},{\"name\":1}]"),
              2);
}

/* The sidecar-injection shape: an in-place probe rewrite in app, the proxy
 * added after it, new arrays whole, one new annotation. */
TEST(jpatch_diff_injection_case)
{
    const char *from =
        "{\"metadata\":{\"name\":\"p\",\"annotations\":{\"a\":\"1\"}},"
        "\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"app:1\","
        "\"ports\":[{\"name\":\"http\",\"containerPort\":8080}],"
        "\"readinessProbe\":{\"httpGet\":{\"path\":\"/ready\",\"port\":8080},"
        "\"periodSeconds\":5}}]}}";
    const char *to =
        "{\"metadata\":{\"name\":\"p\",\"annotations\":{\"a\":\"1\","
        "\"sidecar.istio.io/status\":\"{}\"}},"
        "\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"app:1\","
        "\"ports\":[{\"name\":\"http\",\"containerPort\":8080}],"
        "\"readinessProbe\":{\"httpGet\":{\"path\":\"/app-health/app/readyz\","
        "\"port\":15020},\"periodSeconds\":5}},"
        "{\"name\":\"istio-proxy\",\"image\":\"proxyv2\"}],"
        "\"initContainers\":[{\"name\":\"istio-init\"}],"
        "\"volumes\":[{\"name\":\"istio-envoy\",\"emptyDir\":{}}]}}";

    CHECK_STR(diff_str(from, to),
              "[{\"op\":\"add\",\"path\":"
              "\"/metadata/annotations/sidecar.istio.io~1status\","
              "\"value\":\"{}\"},"
              "{\"op\":\"replace\",\"path\":"
              "\"/spec/containers/0/readinessProbe/httpGet/path\","
              "\"value\":\"/app-health/app/readyz\"},"
              "{\"op\":\"replace\",\"path\":"
              "\"/spec/containers/0/readinessProbe/httpGet/port\","
              "\"value\":15020},"
              "{\"op\":\"add\",\"path\":\"/spec/containers/1\",\"value\":"
              "{\"name\":\"istio-proxy\",\"image\":\"proxyv2\"}},"
              "{\"op\":\"add\",\"path\":\"/spec/initContainers\",\"value\":"
              "[{\"name\":\"istio-init\"}]},"
              "{\"op\":\"add\",\"path\":\"/spec/volumes\",\"value\":"
              "[{\"name\":\"istio-envoy\",\"emptyDir\":{}}]}]");
    CHECK_INT(roundtrip_str(from, to), 6);
    /* and back: the removal of what injection added */
    CHECK_INT(roundtrip_str(to, from), 6);
}

/* nest: `levels` arrays around leaf */
static json_t *
nest(int levels, json_t *leaf)
{
    json_t *v = leaf; /* owned */

    for (int i = 0; i < levels && v != NULL; i++) {
        json_t *a = json_array(); /* owned */
        if (a == NULL || json_array_append_new(a, v) != 0) {
            json_decref(a);
            return NULL;
        }
        v = a;
    }
    return v;
}

TEST(jpatch_diff_depth_cap)
{
    json_t *a = nest(200, json_integer(1)), *b = nest(200, json_integer(2));
    json_t *p = NULL; /* owned */

    REQUIRE(a != NULL && b != NULL);
    CHECK_INT(jpatch_diff(&p, a, b), RC_LIMIT);
    CHECK(p == NULL);
    CHECK_CONTAINS(errmsg_get(), "deeper than 128");
    /* equal deep documents need no descent */
    CHECK_INT(jpatch_diff(&p, a, a), 0);
    CHECK_INT(json_array_size(p), 0);
    json_decref(p);
    json_decref(b);
    json_decref(a);
    a = nest(JPATCH_MAX_DEPTH, json_integer(1));
    b = nest(JPATCH_MAX_DEPTH, json_integer(2));
    REQUIRE(a != NULL && b != NULL);
    CHECK_INT(roundtrip(a, b), 1);
    json_decref(b);
    json_decref(a);
}

/* pod: one container with `nenv` env vars; env[mark] gets value "changed"
 * when mark >= 0; `extra` adds one env var "EXTRA" at index nenv/2. */
static json_t *
big_pod(int nenv, int mark, int extra)
{
    json_t *env = json_array(); /* owned */
    char name[32], val[32];

    for (int i = 0; i < nenv && env; i++) {
        if (extra && i == nenv / 2)
            json_array_append_new(
                env, json_pack("{s:s,s:s}", "name", "EXTRA", "value", "x"));
        snprintf(name, sizeof(name), "VAR_%d", i);
        snprintf(val, sizeof(val), "value-%d", i);
        json_array_append_new(env, json_pack("{s:s,s:s}", "name", name, "value",
                                             i == mark ? "changed" : val));
    }
    return json_pack("{s:{s:s},s:{s:[{s:s,s:s,s:o}]}}", "metadata", "name",
                     "big", "spec", "containers", "name", "app", "image",
                     "app:1", "env", env);
}

TEST(jpatch_diff_big_env_is_linear)
{
    json_t *a = big_pod(2000, -1, 0), *b = big_pod(2000, -1, 0); /* owned */
    json_t *p = NULL;                                            /* owned */

    REQUIRE(a != NULL && b != NULL);
    /* distinct but equal documents: nothing, found by comparison */
    CHECK_INT(jpatch_diff(&p, a, b), 0);
    CHECK_INT(json_array_size(p), 0);
    json_decref(p);
    /* the env list unchanged next to another change */
    json_object_set_new(json_object_get(b, "metadata"), "labels",
                        json_pack("{s:s}", "app", "big"));
    CHECK_INT(roundtrip(a, b), 1);
    json_decref(b);
    /* one var edited, one inserted in the middle of 2000 */
    b = big_pod(2000, 1500, 0);
    REQUIRE(jpatch_diff(&p, a, b) == 0);
    CHECK_STR(dump(p),
              "[{\"op\":\"replace\",\"path\":"
              "\"/spec/containers/0/env/1500/value\",\"value\":\"changed\"}]");
    json_decref(p);
    json_decref(b);
    b = big_pod(2000, -1, 1);
    REQUIRE(jpatch_diff(&p, a, b) == 0);
    CHECK_STR(dump(p), "[{\"op\":\"add\",\"path\":"
                       "\"/spec/containers/0/env/1000\",\"value\":{\"name\":"
                       "\"EXTRA\",\"value\":\"x\"}}]");
    json_decref(p);
    CHECK_INT(roundtrip(b, a), 1);
    json_decref(b);
    json_decref(a);
}

/* ---- property: apply(from, diff(from, to)) == to ---------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL; /* fixed seed */
static int fresh;                            /* next unique name */

static uint32_t
rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *const keys[] = {"a",   "b",    "name", "x/y", "~0", "",
                                   "env", "spec", "-",    "0",   "~1/"};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static json_t *gen(int depth);

static json_t *
gen_named(int depth)
{
    json_t *a = json_array(); /* owned */
    int n = (int)rnd(6);

    for (int i = 0; i < n; i++) {
        char name[32];
        json_t *o = rnd(2) ? gen(depth + 1) : json_object(); /* owned */
        if (!json_is_object(o)) {
            json_decref(o);
            o = json_object();
        }
        snprintf(name, sizeof(name), "n%d", fresh++);
        json_object_set_new(o, "name", json_string(name));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *
gen(int depth)
{
    uint32_t kind = depth >= 5 ? rnd(6) : rnd(9);

    switch (kind) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rnd(2));
    case 2:
        return json_integer((json_int_t)rnd(5) - 2);
    case 3:
        return json_real(rnd(4) / 2.0);
    case 4:
    case 5:
        return json_string(keys[rnd(NKEYS)]);
    case 6: {
        json_t *o = json_object(); /* owned */
        for (uint32_t i = rnd(5); i > 0; i--)
            json_object_set_new(o, keys[rnd(NKEYS)], gen(depth + 1));
        return o;
    }
    case 7: {
        json_t *a = json_array(); /* owned */
        for (uint32_t i = rnd(6); i > 0; i--)
            json_array_append_new(a, gen(depth + 1));
        return a;
    }
    default:
        return gen_named(depth);
    }
}

/* mutate edits v (stolen) in place at random and returns the result. */
static json_t *
mutate(json_t *v, int depth)
{
    if (rnd(10) == 0) {
        json_decref(v);
        return gen(depth);
    }
    if (json_is_object(v)) {
        const char *names[64];
        size_t n = 0;
        const char *k;
        json_t *c; /* borrowed */
        json_object_foreach(v, k, c)
        {
            if (n < 64)
                names[n++] = k;
        }
        for (size_t i = n; i-- > 0;) {
            uint32_t r = rnd(6);
            c = json_object_get(v, names[i]);
            if (r == 0)
                json_object_del(v, names[i]);
            else if (r <= 2)
                json_object_set_new(v, names[i],
                                    mutate(json_incref(c), depth + 1));
        }
        if (rnd(3) == 0)
            json_object_set_new(v, keys[rnd(NKEYS)], gen(depth + 1));
        return v;
    }
    if (json_is_array(v)) {
        for (size_t i = json_array_size(v); i-- > 0;) {
            uint32_t r = rnd(6);
            if (r == 0)
                json_array_remove(v, i);
            else if (r <= 2)
                json_array_set_new(
                    v, i, mutate(json_incref(json_array_get(v, i)), depth + 1));
        }
        if (rnd(3) == 0) {
            json_t *e = gen_named(depth); /* owned: a one-off named element */
            json_t *add = json_array_size(e) ? json_array_get(e, 0)
                                             : json_object(); /* owned */
            if (json_array_size(e))
                json_incref(add);
            json_array_insert_new(v, rnd((uint32_t)json_array_size(v) + 1),
                                  add);
            json_decref(e);
        }
        if (rnd(4) == 0 && json_array_size(v) > 1) {
            size_t i = rnd((uint32_t)json_array_size(v));
            size_t j = rnd((uint32_t)json_array_size(v));
            json_t *t = json_incref(json_array_get(v, i)); /* owned */
            json_array_set(v, i, json_array_get(v, j));
            json_array_set_new(v, j, t);
        }
        return v;
    }
    if (rnd(3) == 0) {
        json_decref(v);
        return gen(5);
    }
    return v;
}

TEST(jpatch_diff_roundtrip_property)
{
    static const char *const pairs[][2] = {
        {"{}", "{\"a\":[1,2,{\"b\":null}]}"},
        {"[1,2,3,4,5]", "[5,4,3,2,1]"},
        {"[1,1,1]", "[1,1]"},
        {"[[],[]]", "[[1],[],[]]"},
        {"{\"a\":{\"b\":{\"c\":[1,2]}}}",
         "{\"a\":{\"b\":{\"c\":[2]}},\"d\":1}"},
        {"[{\"name\":\"a\"},{\"name\":\"b\"}]", "[{\"name\":\"b\"},"
                                                "{\"name\":\"a\"}]"},
        {"[{\"name\":\"a\"},{\"name\":\"b\"}]", "[{\"name\":\"c\"}]"},
        {"[{\"name\":\"a\"},2]", "[2,{\"name\":\"a\"}]"},
        {"{\"~\":{\"/\":[0]}}", "{\"~\":{\"/\":[0,{\"~1\":1}]}}"},
        {"null", "{\"a\":1}"},
    };
    int ok = 0;

    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
        ok += roundtrip_str(pairs[i][0], pairs[i][1]) >= 0;
    CHECK_INT(ok, sizeof(pairs) / sizeof(pairs[0]));
    for (int i = 0; i < 1500; i++) {
        json_t *from = gen(0), *to; /* owned */
        if (i % 5 == 4) {
            to = gen(0); /* unrelated documents */
        } else {
            to = json_deep_copy(from);
            to = mutate(to, 0);
            if (i % 3 == 0)
                to = mutate(to, 0);
        }
        REQUIRE(from != NULL && to != NULL);
        if (roundtrip(from, to) < 0) {
            harness_fail(__FILE__, __LINE__, "pair %d: from %s", i, dump(from));
            harness_fail(__FILE__, __LINE__, "pair %d: to %s", i, dump(to));
        }
        /* a document against itself: nothing */
        CHECK_INT(roundtrip(from, from), 0);
        json_decref(to);
        json_decref(from);
        if (harness_case_failed())
            break;
    }
}

/* ---- allocation failures -------------------------------------------- */

TEST(jpatch_nomem_is_clean)
{
    json_t *a = jp(named("a b c d", NULL)), *b = jp(named("x b d y", "d"));
    json_t *p = NULL, *r = NULL, *want = NULL; /* owned */
    int rc = -1, failures = 0;
    long i;

    REQUIRE(a != NULL && b != NULL);
    json_object_set_new(b, "meta",
                        json_pack("{s:{s:s}}", "annotations", "x/y", "z"));
    REQUIRE(jpatch_diff(&want, a, b) == 0);
    for (i = 1; i < 10000; i++) {
        mem_fail_set(i);
        rc = jpatch_diff(&p, a, b);
        mem_fail_set(0);
        if (rc == 0)
            break;
        failures++;
        CHECK_INT(rc, RC_NOMEM);
        CHECK(p == NULL);
    }
    REQUIRE(rc == 0);
    CHECK(failures > 10);
    CHECK(json_equal(p, want));
    failures = 0;
    for (i = 1; i < 10000; i++) {
        mem_fail_set(i);
        rc = jpatch_apply(&r, a, p);
        mem_fail_set(0);
        if (rc == 0)
            break;
        failures++;
        CHECK_INT(rc, RC_NOMEM);
        CHECK(r == NULL);
    }
    REQUIRE(rc == 0);
    CHECK(failures > 10);
    CHECK(json_equal(r, b));
    json_decref(r);
    /* a patch with every op kind */
    json_decref(p);
    p = jp("[{\"op\":\"copy\",\"from\":\"/c/0\",\"path\":\"/k\"},"
           "{\"op\":\"move\",\"from\":\"/k\",\"path\":\"/c/-\"},"
           "{\"op\":\"test\",\"path\":\"/c/4/name\",\"value\":\"a\"},"
           "{\"op\":\"replace\",\"path\":\"/c/0\",\"value\":{\"z\":[1]}},"
           "{\"op\":\"remove\",\"path\":\"/c/1\"},"
           "{\"op\":\"add\",\"path\":\"/n~1m\",\"value\":[{}]}]");
    REQUIRE(p != NULL);
    for (i = 1; i < 10000; i++) {
        mem_fail_set(i);
        rc = jpatch_apply(&r, a, p);
        mem_fail_set(0);
        if (rc == 0)
            break;
        CHECK_INT(rc, RC_NOMEM);
        CHECK(r == NULL);
    }
    REQUIRE(rc == 0);
    CHECK_STR(dump(r), "{\"c\":[{\"z\":[1]},{\"name\":\"c\",\"image\":\"c\"},"
                       "{\"name\":\"d\",\"image\":\"d\"},{\"name\":\"a\","
                       "\"image\":\"a\"}],\"n/m\":[{}]}");
    json_decref(r);
    /* the builder */
    json_decref(p);
    p = json_array();
    for (i = 1; i < 100; i++) {
        mem_fail_set(i);
        rc = jpatch_op(p, "add", "/a", json_pack("{s:i}", "x", 1));
        mem_fail_set(0);
        if (rc == 0)
            break;
        CHECK_INT(rc, RC_NOMEM);
        CHECK_INT(json_array_size(p), 0);
    }
    CHECK_INT(rc, 0);
    CHECK_STR(dump(p),
              "[{\"op\":\"add\",\"path\":\"/a\",\"value\":{\"x\":1}}]");
    json_decref(p);
    json_decref(want);
    json_decref(b);
    json_decref(a);
}

static int
collect(void *arg, const char *op, const char *path, size_t path_len,
        const json_t *value)
{
    CHECK(strlen(path) == path_len);
    return jpatch_op(arg, op, path,
                     value ? json_incref((json_t *)value) : NULL);
}

static int
stop_at_second(void *arg, const char *op, const char *path, size_t path_len,
               const json_t *value)
{
    (void)op, (void)path, (void)path_len, (void)value;
    return ++*(int *)arg == 2 ? 77 : 0;
}

/* jpatch_diff_each hands over exactly jpatch_diff's operations, in order */
TEST(jpatch_diff_each_matches_diff)
{
    const char *pairs[][2] = {
        {"{\"a\":1,\"b\":2,\"c\":3}", "{\"a\":1,\"c\":4,\"d\":5}"},
        {"{\"x\":1,\"y\":2}", "{\"x\":1,\"y\":3,\"z\":4}"},
        {"{\"c\":[{\"name\":\"a\",\"v\":1}]}",
         "{\"c\":[{\"name\":\"p\"},{\"name\":\"a\",\"v\":2}]}"},
        {"[1,2,3]", "[1,4,3,5]"},
        {"{\"m\":{\"a~b/c\":1}}", "{\"m\":{}}"},
        {"{}", "{}"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        json_t *from = json_loads(pairs[i][0], 0, NULL);
        json_t *to = json_loads(pairs[i][1], 0, NULL);
        json_t *want = NULL, *got = json_array();
        REQUIRE(from && to && got);
        CHECK_INT(jpatch_diff(&want, from, to), 0);
        CHECK_INT(jpatch_diff_each(from, to, collect, got), 0);
        CHECK(json_equal(want, got));
        json_decref(want);
        json_decref(got);
        json_decref(from);
        json_decref(to);
    }
    /* a non-zero answer stops the walk and is returned */
    json_t *from = json_loads("{}", 0, NULL);
    json_t *to = json_loads("{\"a\":1,\"b\":2,\"c\":3}", 0, NULL);
    int calls = 0;
    CHECK_INT(jpatch_diff_each(from, to, stop_at_second, &calls), 77);
    CHECK_INT(calls, 2);
    json_decref(from);
    json_decref(to);
}
