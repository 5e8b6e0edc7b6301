/* test_jsel.c: selective parsing keeps exactly the selected paths, agrees
 * with jansson on them, and rejects what is not JSON. */
#include "tests/unit/harness.h"
#include "lib/jsel.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

static struct jsel *
mk(const char *const *paths)
{
    struct jsel *s = NULL;

    if (jsel_new(&s) != 0)
        return NULL;
    for (int i = 0; paths[i]; i++)
        if (jsel_add(s, paths[i]) != 0) {
            jsel_free(s);
            return NULL;
        }
    return s;
}

static char *
sel_dump(const char *doc, const struct jsel *s, int *rc)
{
    json_t *v = NULL;
    char *out;

    *rc = jsel_parse(&v, doc, strlen(doc), s, 0);
    if (*rc != 0)
        return NULL;
    out = jutil_dumps(v, JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(v);
    return out;
}

TEST(jsel_keeps_selected_paths_only)
{
    const char *paths[] = {"metadata.name", "metadata.labels", "status.podIP",
                           "spec.missing.deep", NULL};
    struct jsel *s = mk(paths);
    const char *doc =
        "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"uid\":\"u\","
        "\"labels\":{\"app\":\"x\",\"n\":[1,2,{\"z\":null}]}},"
        "\"spec\":{\"containers\":[{\"name\":\"c\"}],\"missing\":7},"
        "\"status\":{\"podIP\":\"10.0.0.1\",\"phase\":\"Running\"}}";
    int rc;
    char *out;

    REQUIRE(s != NULL);
    out = sel_dump(doc, s, &rc);
    CHECK_INT(rc, 0);
    /* spec.missing is not an object: spec is created empty, nothing below */
    CHECK_STR(out, "{\"metadata\":{\"labels\":{\"app\":\"x\",\"n\":[1,2,{"
                   "\"z\":null}]},\"name\":\"a\"},\"spec\":{},\"status\":{"
                   "\"podIP\":\"10.0.0.1\"}}");
    mem_free(out);
    jsel_free(s);
}

TEST(jsel_escapes_in_keys_and_values)
{
    const char *paths[] = {"a\"b", "name", NULL};
    const char *paths2[] = {"ab", "name", NULL};
    struct jsel *s = mk(paths), *s2 = mk(paths2);
    int rc;
    char *out;

    REQUIRE(s && s2);
    /* "a\u0062" is the key "ab"; the value keeps its escapes decoded */
    out = sel_dump("{\"a\\u0062\":\"x\\ty\\u00e9\",\"name\":\"n\\\"q\"}", s2,
                   &rc);
    CHECK_INT(rc, 0);
    CHECK_STR(out, "{\"ab\":\"x\\ty\\u00E9\",\"name\":\"n\\\"q\"}");
    mem_free(out);
    /* a path component with a quote matches an escaped key */
    out = sel_dump("{\"a\\\"b\":1}", s, &rc);
    CHECK_INT(rc, 0);
    CHECK_STR(out, "{\"a\\\"b\":1}");
    mem_free(out);
    jsel_free(s);
    jsel_free(s2);
}

TEST(jsel_duplicate_keys_last_wins_like_jansson)
{
    const char *paths[] = {"m.x", NULL};
    struct jsel *s = mk(paths);
    int rc;
    char *out;

    REQUIRE(s != NULL);
    out = sel_dump("{\"m\":{\"x\":1},\"m\":{\"y\":2}}", s, &rc);
    CHECK_STR(out, "{\"m\":{}}");
    mem_free(out);
    out = sel_dump("{\"m\":{\"x\":1},\"m\":3}", s, &rc);
    CHECK_STR(out, "{}");
    mem_free(out);
    jsel_free(s);
}

TEST(jsel_prefix_widens_selection)
{
    const char *paths[] = {"a.b", "a", "a.c", NULL};
    struct jsel *s = mk(paths);
    int rc;
    char *out;

    REQUIRE(s != NULL);
    out = sel_dump("{\"a\":{\"b\":1,\"d\":2},\"e\":3}", s, &rc);
    CHECK_STR(out, "{\"a\":{\"b\":1,\"d\":2}}");
    mem_free(out);
    CHECK_INT(jsel_add(s, "x..y"), RC_INVAL);
    CHECK_INT(jsel_add(s, ""), RC_INVAL);
    jsel_free(s);
}

TEST(jsel_rejects_bad_json_anywhere)
{
    const char *paths[] = {"keep", NULL};
    struct jsel *s = mk(paths);
    const char *bad[] = {
        "",
        "[1]",
        "{",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"skip\":[1,2,]}",
        "{\"skip\":tru}",
        "{\"skip\":01}",
        "{\"skip\":1.}",
        "{\"skip\":1e}",
        "{\"skip\":-}",
        "{\"skip\":\"a\\x\"}",
        "{\"skip\":\"a\\u12g4\"}",
        "{\"skip\":\"tab\there\"}",
        "{\"skip\":\"unterminated}",
        "{\"skip\":{\"a\":1}}x",
        "{\"skip\":{\"a\":1]}",
        "{\"keep\":\"\\ud800\"}", /* lone surrogate: jansson refuses */
        "{\"keep\":\"\xff\"}",    /* invalid UTF-8 in a kept string */
        "{\"keep\":123456789012345678901234567890}",
        NULL};
    json_t *v = NULL;

    REQUIRE(s != NULL);
    for (int i = 0; bad[i]; i++) {
        int rc = jsel_parse(&v, bad[i], strlen(bad[i]), s, 0);
        if (rc != RC_PARSE)
            harness_fail(__FILE__, __LINE__, "'%s' -> %d", bad[i], rc);
        CHECK(v == NULL);
    }
    jsel_free(s);
}

TEST(jsel_depth_limit)
{
    char doc[300];
    int n = 0;
    json_t *v = NULL;

    n += snprintf(doc + n, sizeof(doc) - (size_t)n, "{\"a\":");
    for (int i = 0; i < 70; i++)
        doc[n++] = '[';
    for (int i = 0; i < 70; i++)
        doc[n++] = ']';
    doc[n++] = '}';
    doc[n] = 0;
    CHECK_INT(jsel_parse(&v, doc, (size_t)n, NULL, 64), RC_LIMIT);
    CHECK_INT(jsel_parse(&v, doc, (size_t)n, NULL, 80), 0);
    json_decref(v);
}

TEST(jsel_agrees_with_jansson_on_kept_values)
{
    const char *paths[] = {"metadata", "spec.x", NULL};
    struct jsel *s = mk(paths);
    const char *doc = "  {\"metadata\":{\"name\":\"a\\u00e9\\n\",\"n\":-1.5e3,"
                      "\"t\":true,\"f\":false,\"z\":null,\"arr\":[]},"
                      "\"spec\":{\"x\":{\"y\":[{}]},\"q\":\"\\/\"}}  ";
    json_t *full = NULL, *part = NULL;

    REQUIRE(s != NULL);
    REQUIRE(jutil_parse(&full, doc, strlen(doc), NULL) == 0);
    REQUIRE(jsel_parse(&part, doc, strlen(doc), s, 0) == 0);
    CHECK(json_equal(json_object_get(full, "metadata"),
                     json_object_get(part, "metadata")));
    CHECK(json_equal(jutil_path(full, "spec.x"), jutil_path(part, "spec.x")));
    CHECK(jutil_path(part, "spec.q") == NULL);
    json_decref(full);
    json_decref(part);
    jsel_free(s);
}

TEST(jsel_nomem_paths)
{
    const char *paths[] = {"metadata.labels", "metadata.name", NULL};
    struct jsel *s = mk(paths);
    const char *doc = "{\"metadata\":{\"name\":\"a\",\"labels\":{\"k\":\"v\","
                      "\"k2\":\"v2\"},\"x\":1}}";
    json_t *v = NULL;
    int saw_nomem = 0;

    REQUIRE(s != NULL);
    for (long n = 1; n < 40; n++) {
        mem_fail_set(n);
        int rc = jsel_parse(&v, doc, strlen(doc), s, 0);
        mem_fail_set(0);
        if (rc == 0) {
            json_decref(v);
            v = NULL;
            break;
        }
        CHECK_INT(rc, RC_NOMEM);
        CHECK(v == NULL);
        saw_nomem = 1;
    }
    CHECK(saw_nomem);
    jsel_free(s);
}
