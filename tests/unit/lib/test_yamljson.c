/* test_yamljson.c: YAML <-> JSON: schema, streams, limits, errors, dump
 * layout and quoting, round trips, allocation failures. */
#include "tests/unit/harness.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "lib/yamljson.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

/* load_str: yj_load_one of a C string with default limits. */
static int
load_str(json_t **out, const char *s)
{
    return yj_load_one(out, s, strlen(s), NULL);
}

/* value_of parses "v: <text>" and returns a new reference to v. */
static json_t *
value_of(const char *text)
{
    char doc[256];
    json_t *o = NULL, *v; /* owned, borrowed */

    snprintf(doc, sizeof(doc), "v: %s\n", text);
    if (load_str(&o, doc) != 0)
        return NULL;
    v = json_incref(json_object_get(o, "v"));
    json_decref(o);
    return v;
}

/* same_json: v equals the JSON text `want` (compared with json_equal, so
 * 1 and 1.0 differ as they should). */
static int
same_json(const json_t *v, const char *want)
{
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL); /* owned */
    int eq = v && w && json_equal(v, w);

    json_decref(w);
    return eq;
}

static char *
dump_str(const json_t *v)
{
    struct buf b;
    char *s;

    buf_init(&b, 0);
    if (yj_dump(v, &b) != 0) {
        buf_cleanup(&b);
        return NULL;
    }
    s = buf_take(&b, NULL);
    buf_cleanup(&b);
    return s;
}

/* round_trip: dump v, load it back, compare. Reports the text on failure. */
static int
round_trip(const json_t *v)
{
    char *s = dump_str(v);
    json_t *w = NULL; /* owned */
    int ok;

    if (s == NULL) {
        harness_fail(__FILE__, __LINE__, "dump failed: %s", errmsg_get());
        return 0;
    }
    errmsg_clear();
    ok = load_str(&w, s) == 0 && json_equal(v, w);
    if (!ok) {
        /* show both sides as ASCII JSON: no invisible characters */
        json_t *t = json_string(s); /* owned */
        char *j = json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        char *y = json_dumps(t, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        harness_fail(__FILE__, __LINE__, "round trip of %s via %s: %s", j, y,
                     errmsg_get());
        free(j);
        free(y);
        json_decref(t);
    }
    json_decref(w);
    mem_free(s);
    return ok;
}

TEST(yj_plain_scalars_follow_core_schema)
{
    static const struct {
        const char *yaml, *json;
    } cases[] = {
        {"~", "null"},
        {"null", "null"},
        {"Null", "null"},
        {"NULL", "null"},
        {"", "null"},
        {"nUll", "\"nUll\""},
        {"true", "true"},
        {"True", "true"},
        {"TRUE", "true"},
        {"false", "false"},
        {"False", "false"},
        {"FALSE", "false"},
        {"tRue", "\"tRue\""},
        {"yes", "\"yes\""},
        {"no", "\"no\""},
        {"on", "\"on\""},
        {"off", "\"off\""},
        {"y", "\"y\""},
        {"8080", "8080"},
        {"-5", "-5"},
        {"+7", "7"},
        {"007", "7"},
        {"0644", "420"}, /* YAML 1.1 / kubectl octal, see yamljson.c */
        {"-010", "-8"},
        {"00", "0"},
        {"0", "0"},
        {"08", "8"},
        {"0019", "19"},
        {"0777777777777777777777", "9223372036854775807"},
        {"01000000000000000000000", "\"01000000000000000000000\""},
        {"0o17", "15"},
        {"0x1F", "31"},
        {"0xff", "255"},
        {"0o8", "\"0o8\""},
        {"0xg", "\"0xg\""},
        {"-0x1", "\"-0x1\""},
        {"9223372036854775807", "9223372036854775807"},
        {"-9223372036854775808", "-9223372036854775808"},
        {"9223372036854775808", "\"9223372036854775808\""},
        {"0xFFFFFFFFFFFFFFFF", "\"0xFFFFFFFFFFFFFFFF\""},
        {"1.0", "1.0"},
        {"1.", "1.0"},
        {".5", "0.5"},
        {"-1.5e3", "-1500.0"},
        {"1e3", "1000.0"},
        {"2E-2", "0.02"},
        {"1e400", "\"1e400\""},
        {".inf", "\".inf\""},
        {"-.Inf", "\"-.Inf\""},
        {".NaN", "\".NaN\""},
        {".", "\".\""},
        {"1.2.3", "\"1.2.3\""},
        {"1_000", "\"1_000\""},
        {"0b101", "\"0b101\""},
        {"12:30", "\"12:30\""},
        {"100m", "\"100m\""},
        {"2001-12-14", "\"2001-12-14\""},
        {"nginx:1.25", "\"nginx:1.25\""},
        {"'true'", "\"true\""},
        {"\"123\"", "\"123\""},
        {"\"\"", "\"\""},
        {"''", "\"\""},
        {"\"*\"", "\"*\""},
        {"\"a\\tb\\u00e9\\x41\\/\"", "\"a\\tb\\u00e9A/\""},
        {"'it''s'", "\"it's\""},
        {"hello world", "\"hello world\""},
        {"a # comment", "\"a\""},
        {"|\n  x\n  y\n", "\"x\\ny\\n\""},
        {">-\n  x\n  y\n", "\"x y\""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = value_of(cases[i].yaml); /* owned */
        if (!same_json(v, cases[i].json)) {
            char *got = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
            harness_fail(__FILE__, __LINE__, "v: %s -> %s, expected %s (%s)",
                         cases[i].yaml, got ? got : "(error)", cases[i].json,
                         v ? "" : errmsg_get());
            free(got);
        }
        json_decref(v);
    }
}

TEST(yj_tags_are_honoured)
{
    static const struct {
        const char *yaml, *json;
    } cases[] = {
        {"!!str 123", "\"123\""},
        {"!!str true", "\"true\""},
        {"!!str", "\"\""},
        {"!!int \"42\"", "42"},
        {"!!int 0x10", "16"},
        {"!!float 1", "1.0"},
        {"!!float '2.5'", "2.5"},
        {"!!float .inf", "\".inf\""},
        {"!!bool 'false'", "false"},
        {"!!null ''", "null"},
        {"!!null ~", "null"},
        {"! 12", "\"12\""},
        {"!custom 12", "\"12\""},
        {"!!binary aGk=", "\"aGk=\""},
        {"!!timestamp 2001-12-14", "\"2001-12-14\""},
    };
    static const char *const bad[] = {
        "!!int abc",    "!!int 1.5",  "!!int 99999999999999999999",
        "!!float 0x10", "!!bool yes", "!!null 0"};
    json_t *v; /* owned */

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        v = value_of(cases[i].yaml);
        if (!same_json(v, cases[i].json))
            harness_fail(__FILE__, __LINE__, "%s: not %s (%s)", cases[i].yaml,
                         cases[i].json, errmsg_get());
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char doc[64];
        snprintf(doc, sizeof(doc), "a: 1\nv: %s\n", bad[i]);
        v = NULL;
        CHECK_INT(load_str(&v, doc), RC_PARSE);
        CHECK(v == NULL);
        CHECK_CONTAINS(errmsg_get(), "line 2 column 4: invalid !!");
    }
    /* tags on collections do not change them */
    CHECK_INT(load_str(&v, "!!map {a: !!seq [1]}"), 0);
    CHECK(same_json(v, "{\"a\":[1]}"));
    json_decref(v);
}

TEST(yj_streams_skip_empty_documents)
{
    const char *s = "# leading comment\n"
                    "---\n"
                    "a: 1\n"
                    "---\n"
                    "# a document holding only a comment\n"
                    "---\n"
                    "...\n"
                    "---\n"
                    "- x # trailing comment\n"
                    "---\n"
                    "null\n"
                    "--- ''\n";
    json_t *all = NULL, *one = NULL; /* owned */

    REQUIRE(yj_load_all(&all, s, strlen(s), NULL) == 0);
    CHECK(same_json(all, "[{\"a\":1},[\"x\"],null,\"\"]"));
    json_decref(all);
    CHECK_INT(yj_load_one(&one, s, strlen(s), NULL), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "found 4");
    CHECK(one == NULL);
    CHECK_INT(yj_load_all(&all, "", 0, NULL), 0);
    CHECK_INT(json_array_size(all), 0);
    json_decref(all);
    CHECK_INT(load_str(&one, "# nothing\n---\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "found 0");
    /* JSON text is YAML */
    CHECK_INT(load_str(&one, "{\"a\": [1, 2.5, \"x\\u00e9\", null, true],"
                             "\"b\":{\"c\":\"\\/\"},\t\"e\": {}}"),
              0);
    CHECK(same_json(one, "{\"a\":[1,2.5,\"x\\u00e9\",null,true],"
                         "\"b\":{\"c\":\"/\"},\"e\":{}}"));
    json_decref(one);
}

static const char deployment[] =
    "# a typical manifest\n"
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata:\n"
    "  name: web\n"
    "  namespace: default\n"
    "  labels:\n"
    "    app: web\n"
    "    version: 1.0\n"
    "  annotations:\n"
    "    sidecar.istio.io/inject: \"true\"\n"
    "spec:\n"
    "  replicas: 3\n"
    "  selector:\n"
    "    matchLabels: {app: web}\n"
    "  template:\n"
    "    metadata:\n"
    "      labels:\n"
    "        app: web\n"
    "    spec:\n"
    "      containers:\n"
    "      - name: app\n"
    "        image: nginx:1.25\n"
    "        args: [\"--port=8080\", \"-v\"]\n"
    "        ports:\n"
    "        - containerPort: 8080\n"
    "          protocol: TCP\n"
    "        env:\n"
    "        - name: DEBUG\n"
    "          value: \"true\"\n"
    "        - name: HOSTS\n"
    "          value: \"*\"\n"
    "        resources:\n"
    "          requests: {cpu: 100m, memory: 64Mi}\n"
    "        command:\n"
    "          - sh\n"
    "          - -c\n"
    "          - |\n"
    "            echo start\n"
    "            exec nginx -g 'daemon off;'\n";

TEST(yj_deployment_manifest)
{
    json_t *d = NULL, *c; /* owned, borrowed */

    REQUIRE(load_str(&d, deployment) == 0);
    CHECK_STR(json_string_value(json_object_get(d, "kind")), "Deployment");
    CHECK(json_is_real(json_object_get(
        json_object_get(json_object_get(d, "metadata"), "labels"), "version")));
    CHECK_INT(json_integer_value(
                  json_object_get(json_object_get(d, "spec"), "replicas")),
              3);
    c = json_array_get(
        json_object_get(
            json_object_get(
                json_object_get(json_object_get(d, "spec"), "template"),
                "spec"),
            "containers"),
        0);
    REQUIRE(c != NULL);
    CHECK(same_json(json_object_get(c, "ports"),
                    "[{\"containerPort\":8080,\"protocol\":\"TCP\"}]"));
    CHECK(same_json(json_object_get(c, "env"),
                    "[{\"name\":\"DEBUG\",\"value\":\"true\"},"
                    "{\"name\":\"HOSTS\",\"value\":\"*\"}]"));
    CHECK(same_json(json_object_get(c, "command"),
                    "[\"sh\",\"-c\",\"echo start\\nexec nginx -g "
                    "'daemon off;'\\n\"]"));
    CHECK(same_json(json_object_get(c, "resources"),
                    "{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}}"));
    /* keys keep their order through a dump */
    char *s = dump_str(d);
    REQUIRE(s != NULL);
    CHECK(strncmp(s, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n",
                  47) == 0);
    CHECK_CONTAINS(s, "    version: 1.0\n");
    CHECK_CONTAINS(s, "    sidecar.istio.io/inject: \"true\"\n");
    CHECK_CONTAINS(s, "      containers:\n"
                      "      - name: app\n"
                      "        image: nginx:1.25\n"
                      "        args:\n"
                      "        - --port=8080\n"
                      "        - -v\n"
                      "        ports:\n"
                      "        - containerPort: 8080\n"
                      "          protocol: TCP\n");
    CHECK_CONTAINS(s, "          value: \"*\"\n");
    CHECK_CONTAINS(s, "        - |\n"
                      "          echo start\n"
                      "          exec nginx -g 'daemon off;'\n");
    mem_free(s);
    round_trip(d);
    json_decref(d);
}

TEST(yj_v1_list)
{
    const char *s = "apiVersion: v1\n"
                    "kind: List\n"
                    "items:\n"
                    "- apiVersion: v1\n"
                    "  kind: Service\n"
                    "  metadata: {name: a}\n"
                    "  spec:\n"
                    "    ports:\n"
                    "    - port: 80\n"
                    "      targetPort: http\n"
                    "- apiVersion: v1\n"
                    "  kind: ConfigMap\n"
                    "  metadata: {name: b}\n"
                    "  data:\n"
                    "    mesh: |-\n"
                    "      defaultConfig:\n"
                    "        discoveryAddress: istiod:15012\n"
                    "metadata:\n"
                    "  resourceVersion: \"\"\n";
    json_t *l = NULL; /* owned */

    REQUIRE(load_str(&l, s) == 0);
    CHECK_INT(json_array_size(json_object_get(l, "items")), 2);
    CHECK(same_json(json_object_get(l, "metadata"),
                    "{\"resourceVersion\":\"\"}"));
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(
                      json_array_get(json_object_get(l, "items"), 1), "data"),
                  "mesh")),
              "defaultConfig:\n  discoveryAddress: istiod:15012");
    round_trip(l);
    json_decref(l);
}

TEST(yj_anchors_and_aliases)
{
    json_t *v = NULL; /* owned */

    REQUIRE(load_str(&v, "base: &b {a: 1, b: [x, y]}\n"
                         "use: *b\n"
                         "s: &s hello\n"
                         "t: *s\n"
                         "list: [*s, *b]\n") == 0);
    CHECK(same_json(v, "{\"base\":{\"a\":1,\"b\":[\"x\",\"y\"]},"
                       "\"use\":{\"a\":1,\"b\":[\"x\",\"y\"]},"
                       "\"s\":\"hello\",\"t\":\"hello\","
                       "\"list\":[\"hello\",{\"a\":1,\"b\":[\"x\",\"y\"]}]}"));
    /* expansions are copies, not shared nodes */
    CHECK(json_object_get(v, "base") != json_object_get(v, "use"));
    json_decref(v);

    /* an anchored scalar may serve as a key; redefinition wins */
    REQUIRE(load_str(&v, "k: &k name\n*k : v\nn: &k 2\nm: *k\n") == 0);
    CHECK(same_json(v, "{\"k\":\"name\",\"name\":\"v\",\"n\":2,\"m\":2}"));
    json_decref(v);
    CHECK_INT(load_str(&v, "a: &m {x: 1}\n*m : 2\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "line 2 column 1: mapping keys must be");

    CHECK_INT(load_str(&v, "a: *nope\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "line 1 column 4: undefined");
    CHECK_INT(load_str(&v, "a: &r [1, *r]\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "\"*r\"");
    /* anchors belong to their document */
    CHECK_INT(load_str(&v, "a: &x 1\n---\nb: *x\n"), RC_PARSE);
    CHECK(v == NULL);
}

TEST(yj_merge_keys)
{
    json_t *v = NULL; /* owned */

    REQUIRE(load_str(&v, "base: &b {a: 1, b: 2}\n"
                         "other: &o {b: 20, c: 30}\n"
                         "m:\n"
                         "  first: 0\n"
                         "  <<: [*b, *o]\n"
                         "  b: 3\n") == 0);
    CHECK(same_json(json_object_get(v, "m"),
                    "{\"first\":0,\"a\":1,\"c\":30,\"b\":3}"));
    /* key order: the merged keys sit where "<<" stood */
    char *s = dump_str(json_object_get(v, "m"));
    CHECK_STR(s, "first: 0\na: 1\nc: 30\nb: 3\n");
    mem_free(s);
    json_decref(v);
    REQUIRE(load_str(&v, "m: {<<: {a: 1}}\n\"<<\": plain key\n") == 0);
    CHECK(same_json(v, "{\"m\":{\"a\":1},\"<<\":\"plain key\"}"));
    s = dump_str(v);
    CHECK_CONTAINS(s, "\"<<\": plain key\n");
    mem_free(s);
    json_decref(v);
    CHECK_INT(load_str(&v, "a: 1\n<<: 5\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "line 2 column 1: the value of a merge key");
    CHECK_INT(load_str(&v, "<<: {a: 1}\n<<: {b: 1}\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "duplicate mapping key \"<<\"");
}

/* laughs builds the classic exponential alias document with `levels`
 * levels of 9 aliases each. */
static void
laughs(struct buf *b, int levels)
{
    buf_addstr(b, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (int l = 1; l < levels; l++) {
        buf_addf(b, "a%d: &a%d [", l, l);
        for (int k = 0; k < 9; k++)
            buf_addf(b, "%s*a%d", k ? ", " : "", l - 1);
        buf_addstr(b, "]\n");
    }
}

TEST(yj_billion_laughs_fails_fast)
{
    struct buf b;
    json_t *v = NULL; /* owned */
    int rc;

    buf_init(&b, 0);
    laughs(&b, 9);
    /* Fully expanded this is ~5e8 nodes; stopping early means few
     * allocations: with 50000 allowed, running out of memory (RC_NOMEM)
     * would mean the expansion went far beyond the limit. */
    mem_fail_set(50000);
    rc = yj_load_one(&v, b.ptr, b.len, NULL);
    mem_fail_set(0);
    CHECK_INT(rc, RC_LIMIT);
    CHECK(v == NULL);
    CHECK_CONTAINS(errmsg_get(), "max_alias_nodes");
    /* three levels are fine, and a tighter limit is obeyed */
    buf_reset(&b);
    laughs(&b, 3);
    CHECK_INT(yj_load_one(&v, b.ptr, b.len, NULL), 0);
    CHECK_INT(json_array_size(json_array_get(json_object_get(v, "a2"), 8)), 9);
    json_decref(v);
    struct yj_limits lim = {.max_alias_nodes = 100};
    CHECK_INT(yj_load_one(&v, b.ptr, b.len, &lim), RC_LIMIT);

    /* one big scalar, aliased many times, is bounded by bytes */
    buf_reset(&b);
    buf_addstr(&b, "a: &big ");
    for (int i = 0; i < 100000; i++)
        buf_addc(&b, 'x');
    buf_addstr(&b, "\nb: [");
    for (int i = 0; i < 200; i++)
        buf_addstr(&b, "*big, ");
    buf_addstr(&b, "]\n");
    CHECK_INT(yj_load_one(&v, b.ptr, b.len, NULL), RC_LIMIT);
    CHECK_CONTAINS(errmsg_get(), "bytes of text (max_bytes)");

    /* anchors per document are capped too; redefining one is free */
    struct yj_limits few = {.max_alias_nodes = 3};
    const char *s = "[&a 1, &b 2, &c 3, &a 4]\n---\n[&d 1, &e 2, &f 3]\n";
    CHECK_INT(yj_load_all(&v, s, strlen(s), &few), 0);
    json_decref(v);
    s = "[&a 1, &b 2, &c 3, &d 4]\n";
    CHECK_INT(yj_load_all(&v, s, strlen(s), &few), RC_LIMIT);
    CHECK_CONTAINS(errmsg_get(), "line 1 column 20: more than 3 anchors");
    buf_cleanup(&b);
}

TEST(yj_depth_limit)
{
    struct yj_limits lim = {.max_depth = 4};
    struct buf b;
    json_t *v = NULL; /* owned */

    CHECK_INT(yj_load_one(&v, "[[[[1]]]]", 9, &lim), 0);
    json_decref(v);
    CHECK_INT(yj_load_one(&v, "[[[[[1]]]]]", 11, &lim), RC_LIMIT);
    CHECK_CONTAINS(errmsg_get(), "line 1 column 5: nesting deeper than 4");
    CHECK_INT(load_str(&v, "a:\n b:\n  c:\n   d:\n    e: 1\n"), 0);
    json_decref(v);
    const char *blk = "a:\n b:\n  c:\n   d:\n    e: {}\n";
    CHECK_INT(yj_load_one(&v, blk, strlen(blk), &lim), RC_LIMIT);
    /* an alias placed deep counts its own height */
    const char *al = "x: &x [[1]]\ny: [*x]\nz: *x\n";
    CHECK_INT(yj_load_one(&v, al, strlen(al), &lim), 0);
    json_decref(v);
    al = "x: &x [[1]]\ny: [[*x]]\n";
    CHECK_INT(yj_load_one(&v, al, strlen(al), &lim), RC_LIMIT);
    /* the default is 64 */
    buf_init(&b, 0);
    for (int i = 0; i < 64; i++)
        buf_addc(&b, '[');
    for (int i = 0; i < 64; i++)
        buf_addc(&b, ']');
    CHECK_INT(yj_load_one(&v, b.ptr, b.len, NULL), 0);
    json_decref(v);
    buf_reset(&b);
    for (int i = 0; i < 65; i++)
        buf_addc(&b, '[');
    for (int i = 0; i < 65; i++)
        buf_addc(&b, ']');
    CHECK_INT(yj_load_one(&v, b.ptr, b.len, NULL), RC_LIMIT);
    buf_cleanup(&b);
}

TEST(yj_size_nodes_and_docs_limits)
{
    struct yj_limits lim = {.max_bytes = 10};
    json_t *v = NULL; /* owned */

    CHECK_INT(yj_load_all(&v, "a: 123456\n", 10, &lim), 0);
    json_decref(v);
    CHECK_INT(yj_load_all(&v, "a: 1234567\n", 11, &lim), RC_LIMIT);
    CHECK_CONTAINS(errmsg_get(), "max_bytes");
    CHECK(v == NULL);
    lim = (struct yj_limits){.max_docs = 2, .max_nodes = 5};
    CHECK_INT(yj_load_all(&v, "1\n---\n2\n", 8, &lim), 0);
    json_decref(v);
    CHECK_INT(yj_load_all(&v, "1\n---\n2\n---", 11, &lim), RC_LIMIT);
    CHECK_CONTAINS(errmsg_get(), "line 4 column 1: more than 2 documents");
    CHECK_INT(yj_load_all(&v, "[1,2,3,4]", 9, &lim), 0);
    json_decref(v);
    CHECK_INT(yj_load_all(&v, "[1,2,3,4,5]", 11, &lim), RC_LIMIT);
    CHECK_CONTAINS(errmsg_get(), "more than 5 nodes (max_nodes)");
    /* node counts are per document */
    CHECK_INT(yj_load_all(&v, "[1,2,3,4]\n---\n[1,2,3,4]", 23,
                          &(struct yj_limits){.max_nodes = 5}),
              0);
    json_decref(v);
}

TEST(yj_duplicate_and_complex_keys)
{
    json_t *v = NULL; /* owned */

    CHECK_INT(load_str(&v, "a: 1\nb: 2\na: 3\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(),
                   "line 3 column 1: duplicate mapping key \"a\"");
    CHECK_INT(load_str(&v, "x:\n  - {name: n, name: m}\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "line 2 column 15: duplicate mapping key");
    /* keys are compared as text: 1 and "1" collide, 1 and 01 do not */
    CHECK_INT(load_str(&v, "1: a\n\"1\": b\n"), RC_PARSE);
    CHECK_INT(load_str(&v, "1: a\n01: b\ntrue: c\n~: d\n"), 0);
    CHECK(
        same_json(v, "{\"1\":\"a\",\"01\":\"b\",\"true\":\"c\",\"~\":\"d\"}"));
    json_decref(v);
    CHECK_INT(load_str(&v, "? [a]\n: b\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(),
                   "line 1 column 3: mapping keys must be scalars");
    CHECK_INT(load_str(&v, "{{a: 1}: b}"), RC_PARSE);
    CHECK(v == NULL);
    /* a long key in messages is cut and never carries control bytes */
    char doc[400];
    memset(doc, 'k', sizeof(doc));
    memcpy(doc + 150, ": 1\n", 4);
    memcpy(doc + 154, doc, 150);
    memcpy(doc + 304, ": 2\n", 5);
    CHECK_INT(load_str(&v, doc), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "kkk...\"");
    CHECK_INT(load_str(&v, "\"a\\x01b\": 1\n\"a\\x01b\": 2\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "key \"a?b\"");
}

TEST(yj_syntax_errors_have_positions)
{
    json_t *v = NULL; /* owned */

    CHECK_INT(load_str(&v, "a:\n\tb: 1\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "line 2 column 1: ");
    CHECK_INT(load_str(&v, "a:\n  b: 1\n c: 2\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "line 3 column 2: ");
    CHECK_INT(load_str(&v, "a: [1, 2\nb: 3\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "line ");
    CHECK_INT(load_str(&v, "a: b: c\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "line 1 column 5: mapping values are not");
    CHECK_INT(load_str(&v, "key: 'unterminated\n"), RC_PARSE);
    /* invalid UTF-8 and control characters, located */
    CHECK_INT(load_str(&v, "a: ok\nb: x\xff\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "line 2 column 5: ");
    CHECK_INT(load_str(&v, "a: \xc3\n"), RC_PARSE);
    CHECK_INT(load_str(&v, "a: \xed\xa0\x80\n"), RC_PARSE); /* surrogate */
    CHECK_INT(yj_load_one(&v, "a: x\0y", 6, NULL), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "line 1 column 5: ");
    /* escapes cannot smuggle NUL or surrogates into a value */
    CHECK_INT(load_str(&v, "a: \"x\\0y\"\n"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "NUL character");
    CHECK_INT(load_str(&v, "\"\\0\": 1\n"), RC_PARSE);
    CHECK_INT(load_str(&v, "a: \"\\ud800\"\n"), RC_PARSE);
    CHECK(v == NULL);
}

TEST(yj_dump_layout_and_quoting)
{
    static const struct {
        const char *s, *line;
    } q[] = {
        {"plain", "k: plain\n"},
        {"", "k: \"\"\n"},
        {"true", "k: \"true\"\n"},
        {"False", "k: \"False\"\n"},
        {"yes", "k: \"yes\"\n"},
        {"OFF", "k: \"OFF\"\n"},
        {"null", "k: \"null\"\n"},
        {"~", "k: \"~\"\n"},
        {"123", "k: \"123\"\n"},
        {"1.5", "k: \"1.5\"\n"},
        {"0x1F", "k: \"0x1F\"\n"},
        {"1e3", "k: \"1e3\"\n"},
        {".inf", "k: \".inf\"\n"},
        {"2001-12-14", "k: \"2001-12-14\"\n"},
        {"1:30", "k: \"1:30\"\n"},
        {" lead", "k: \" lead\"\n"},
        {"trail ", "k: \"trail \"\n"},
        {"a: b", "k: \"a: b\"\n"},
        {"end:", "k: \"end:\"\n"},
        {"a #b", "k: \"a #b\"\n"},
        {"#x", "k: \"#x\"\n"},
        {"-", "k: \"-\"\n"},
        {"- x", "k: \"- x\"\n"},
        {"--port=1", "k: --port=1\n"},
        {"*", "k: \"*\"\n"},
        {"&a", "k: \"&a\"\n"},
        {"!t", "k: \"!t\"\n"},
        {"|", "k: \"|\"\n"},
        {">", "k: \">\"\n"},
        {"%x", "k: \"%x\"\n"},
        {"@x", "k: \"@x\"\n"},
        {"`x", "k: \"`x\"\n"},
        {"'q'", "k: \"'q'\"\n"},
        {"\"q\"", "k: \"\\\"q\\\"\"\n"},
        {"<<", "k: \"<<\"\n"},
        {"---", "k: \"---\"\n"},
        {"a\\b", "k: a\\b\n"},
        {"it's", "k: it's\n"},
        {"http://x:80/p#f", "k: http://x:80/p#f\n"},
        {"nginx:1.25", "k: nginx:1.25\n"},
        {"100m", "k: 100m\n"},
        {"h\xc3\xa9llo \xe6\x97\xa5", "k: h\xc3\xa9llo \xe6\x97\xa5\n"},
        {"a\tb", "k: \"a\\tb\"\n"},
        {"a\rb", "k: \"a\\rb\"\n"},
        {"\x01\x7f", "k: \"\\x01\\x7F\"\n"},
        {"\xc2\x85|\xe2\x80\xa8|\xef\xbb\xbf", "k: \"\\N|\\L|\\uFEFF\"\n"},
        {"a\nb", "k: |-\n  a\n  b\n"},
        {"a\n", "k: |\n  a\n"},
        {"a\n\n", "k: |+\n  a\n\n"},
        {" a\nb", "k: \" a\\nb\"\n"},
        {"\na", "k: \"\\na\"\n"},
        {"a\r\nb", "k: \"a\\r\\nb\"\n"},
    };

    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        json_t *o = json_pack("{s:s}", "k", q[i].s); /* owned */
        char *s = dump_str(o);
        CHECK_STR(s, q[i].line);
        round_trip(o);
        mem_free(s);
        json_decref(o);
    }

    json_t *v = json_loads("{\"a\":{\"b\":[1,{\"c\":[]},[2,3],{}],\"d\":{}},"
                           "\"e\":[{\"f\":1,\"g\":2.0}],\"h\":null,"
                           "\"\":-0.5,\"i\":1e300,\"j\":0.1,\"k\":false}",
                           0, NULL); /* owned */
    char *s = dump_str(v);
    CHECK_STR(s, "a:\n"
                 "  b:\n"
                 "  - 1\n"
                 "  - c: []\n"
                 "  - - 2\n"
                 "    - 3\n"
                 "  - {}\n"
                 "  d: {}\n"
                 "e:\n"
                 "- f: 1\n"
                 "  g: 2.0\n"
                 "h: null\n"
                 "\"\": -0.5\n"
                 "i: 1.0e+300\n"
                 "j: 0.1\n"
                 "k: false\n");
    mem_free(s);
    json_decref(v);
    /* top-level scalars */
    v = json_string("two\nlines");
    s = dump_str(v);
    CHECK_STR(s, "|-\n  two\n  lines\n");
    mem_free(s);
    json_decref(v);
    v = json_integer(-7);
    s = dump_str(v);
    CHECK_STR(s, "-7\n");
    mem_free(s);
    json_decref(v);
}

TEST(yj_dump_long_keys_and_limits)
{
    char key[2001];
    json_t *o = json_object(); /* owned */
    struct buf b;

    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    json_object_set_new(o, key, json_pack("[i,i]", 1, 2));
    json_object_set_new(o, "short", json_string("x"));
    char *s = dump_str(o);
    REQUIRE(s != NULL);
    CHECK(strncmp(s, "? kkk", 5) == 0);
    CHECK_CONTAINS(s, "k\n:\n- 1\n- 2\nshort: x\n");
    mem_free(s);
    round_trip(o);
    json_object_set_new(o, key, json_string("v"));
    round_trip(o);

    /* a full buffer: RC_LIMIT, previous content kept */
    buf_init(&b, 64);
    buf_addstr(&b, "keep");
    CHECK_INT(yj_dump(o, &b), RC_LIMIT);
    CHECK_INT(b.len, 4);
    CHECK_STR(b.ptr, "keep");
    buf_cleanup(&b);
    json_decref(o);

    /* too deep to dump */
    json_t *deep = json_array(); /* owned */
    for (int i = 0; i < YJ_DUMP_MAX_DEPTH + 5; i++) {
        json_t *a = json_array(); /* owned */
        json_array_append_new(a, deep);
        deep = a;
    }
    buf_init(&b, 0);
    CHECK_INT(yj_dump(deep, &b), RC_LIMIT);
    CHECK_INT(b.len, 0);
    buf_cleanup(&b);
    json_decref(deep);
}

/* ---- round trips over many values ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t
rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *const pieces[] = {"a",
                                     "Z",
                                     " ",
                                     "\t",
                                     "\n",
                                     "\r",
                                     ":",
                                     "#",
                                     "-",
                                     "- ",
                                     "? ",
                                     "'",
                                     "\"",
                                     "\\",
                                     "*",
                                     "&",
                                     "!",
                                     "|",
                                     ">",
                                     "%",
                                     "@",
                                     "`",
                                     "{",
                                     "}",
                                     "[",
                                     "]",
                                     ",",
                                     "\xc3\xa9",
                                     "\xe6\x97\xa5",
                                     "\xf0\x9f\x98\x80",
                                     "\xc2\x85",
                                     "\xe2\x80\xa8",
                                     "\xef\xbb\xbf",
                                     "\x01",
                                     "\x7f",
                                     "true",
                                     "null",
                                     "~",
                                     "1",
                                     "0x1",
                                     ".5",
                                     "---",
                                     "...",
                                     "<<",
                                     "=",
                                     "yes",
                                     "1e3",
                                     " #",
                                     ": ",
                                     "\n\n",
                                     "  ",
                                     "\xc2\xa0"};

static json_t *
rand_string(void)
{
    char s[256];
    size_t n = 0;
    int parts = (int)rnd(7);

    for (int i = 0; i < parts; i++) {
        const char *p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
        size_t l = strlen(p);
        memcpy(s + n, p, l);
        n += l;
    }
    return json_stringn(s, n);
}

static json_t *
rand_value(int depth)
{
    static const double reals[] = {0.1,    -0.0,    1.0,     1e300,
                                   5e-324, DBL_MAX, 123.456, -2.5e-10,
                                   1e15,   1e16,    1e17,    3.0};
    json_t *v;                           /* owned */
    uint32_t r = rnd(depth > 6 ? 6 : 9); /* collections get rarer */

    switch (r) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rnd(2));
    case 2:
        return json_integer(rnd(3) == 0   ? INT64_MIN + (json_int_t)rnd(2)
                            : rnd(2) == 0 ? INT64_MAX - (json_int_t)rnd(2)
                                          : (json_int_t)rnd(20000) - 10000);
    case 3:
        return json_real(reals[rnd(sizeof(reals) / sizeof(reals[0]))] *
                         (rnd(2) ? 1 : -1));
    case 4:
    case 5:
        return rand_string();
    case 6:
    case 7:
        v = json_array();
        for (uint32_t i = rnd(4); i > 0; i--)
            json_array_append_new(v, rand_value(depth + 1));
        return v;
    default:
        v = json_object();
        for (uint32_t i = rnd(4); i > 0; i--) {
            json_t *k = rand_string(); /* owned */
            json_object_set_new(v, json_string_value(k), rand_value(depth + 1));
            json_decref(k);
        }
        return v;
    }
}

TEST(yj_round_trip_many_values)
{
    int failures = 0;

    for (int i = 0; i < 3000 && failures < 5; i++) {
        json_t *v = rand_value(0); /* owned */
        if (!round_trip(v))
            failures++;
        json_decref(v);
    }
    /* every single-piece string, as a key and as a value */
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        json_t *o = json_pack("{s:s,s:[s]}", pieces[i], pieces[i], "l",
                              pieces[i]); /* owned */
        round_trip(o);
        json_decref(o);
    }
    /* literal blocks with awkward lines */
    static const char *const lits[] = {
        "a\n  \nb", "a\n   ",       "a\n\tb\n",          "a\n---\n...\n",
        "a\n# c\n", "a\n\n\nb\n\n", "x: y\n- z\n",       "a \nb \n",
        "a\n \n",   "a\n\t",        "\xc3\xa9\n\xc3\xa9"};
    for (size_t i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
        json_t *o =
            json_pack("{s:[s],s:s}", "l", lits[i], "m", lits[i]); /* owned */
        round_trip(o);
        json_t *s = json_string(lits[i]); /* owned */
        round_trip(s);
        json_decref(s);
        json_decref(o);
    }
    /* deep nesting within the default depth */
    json_t *deep = json_string("bottom"); /* owned */
    for (int i = 0; i < 63; i++) {
        json_t *c = (i % 2) ? json_array() : json_object(); /* owned */
        if (i % 2)
            json_array_append_new(c, deep);
        else
            json_object_set_new(c, i % 4 ? "" : "k", deep);
        deep = c;
    }
    round_trip(deep);
    json_decref(deep);
}

TEST(yj_round_trip_every_short_string)
{
    static const char *const sym[] = {" ", "\t", "\n", ":", "#",       "-", "?",
                                      "'", "\"", "\\", "|", ">",       "!", "&",
                                      "*", "%",  "[",  "{", "a",       "0", ".",
                                      "~", "\r", "<",  "y", "\xc2\xa0"};
    const size_t ns = sizeof(sym) / sizeof(sym[0]);
    int failures = 0;

    /* every string of 1 to 3 symbols, as a key, a value and an item */
    for (size_t a = 0; a < ns; a++)
        for (size_t b = 0; b <= ns; b++)
            for (size_t c = 0; c <= ns && failures < 5; c++) {
                char str[16];
                if (b == ns && c < ns)
                    continue;
                snprintf(str, sizeof(str), "%s%s%s", sym[a],
                         b < ns ? sym[b] : "", c < ns ? sym[c] : "");
                json_t *o =
                    json_pack("{s:s,s:[s]}", str, str, "l", str); /* owned */
                if (!round_trip(o))
                    failures++;
                json_decref(o);
            }
    CHECK_INT(failures, 0);
}

/* ---- allocation failures ---- */

TEST(yj_load_survives_every_allocation_failure)
{
    const char *extra = "\n---\n"
                        "base: &b {a: 1, l: [x, \"y\", 2.5]}\n"
                        "m:\n  <<: *b\n  c: *b\n"
                        "k: &k key\n*k : v\n";
    struct buf in;
    json_t *v = NULL; /* owned */
    int rc = -1, nomem = 0;

    buf_init(&in, 0);
    buf_addstr(&in, deployment);
    buf_addstr(&in, extra);
    for (long i = 1; i < 100000; i++) {
        mem_fail_set(i);
        rc = yj_load_all(&v, in.ptr, in.len, NULL);
        mem_fail_set(0);
        if (rc == 0)
            break;
        nomem++;
        if (rc != RC_NOMEM || v != NULL) {
            harness_fail(__FILE__, __LINE__, "fail at %ld: rc %d (%s)", i, rc,
                         errmsg_get());
            break;
        }
    }
    CHECK_INT(rc, 0);
    CHECK(nomem > 50);
    CHECK_INT(json_array_size(v), 2);
    buf_cleanup(&in);

    /* and dumping */
    struct buf out;
    buf_init(&out, 0);
    buf_addstr(&out, "prefix\n");
    for (long i = 1; i < 100000; i++) {
        mem_fail_set(i);
        rc = yj_dump(v, &out);
        mem_fail_set(0);
        if (rc == 0)
            break;
        CHECK_INT(rc, RC_NOMEM);
        CHECK_INT(out.len, 7);
        if (rc != RC_NOMEM || out.len != 7)
            break;
    }
    CHECK_INT(rc, 0);
    CHECK_CONTAINS(out.ptr, "prefix\n- apiVersion: apps/v1\n");
    buf_cleanup(&out);
    json_decref(v);
}
