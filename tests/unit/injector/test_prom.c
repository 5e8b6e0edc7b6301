/* test_prom.c: Prometheus metrics merge (ISTIO_PROMETHEUS_ANNOTATIONS). */
#include "tests/unit/harness.h"
#include "injector/prom.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdlib.h>

static json_t *
J(const char *s)
{
    size_t n = strlen(s);
    char *t = malloc(n + 1);
    json_t *v = NULL; /* owned */

    if (t == NULL)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        t[i] = s[i] == '\'' ? '"' : s[i];
    if (jutil_parse(&v, t, n, NULL) != 0)
        v = NULL;
    free(t);
    return v;
}

/* D: the annotations with keys sorted (their order is not the contract). */
static const char *
D(const json_t *v)
{
    static char b[2][2048];
    static int k;
    char *s = jutil_dumps(v, JSON_SORT_KEYS);
    char *o = b[k++ % 2];

    snprintf(o, sizeof(b[0]), "%s", s ? s : "(null)");
    mem_free(s);
    return o;
}

#define MERGED                                                                 \
    "\"prometheus.io/path\":\"/stats/prometheus\",\"prometheus.io/port\":"     \
    "\"15020\",\"prometheus.io/scrape\":\"true\""

TEST(prom_reference_example)
{
    json_t *a = J("{'prometheus.io/scrape':'true','prometheus.io/path':"
                  "'/metrics','prometheus.io/port':'8080','app':'x'}");
    char *env = NULL;
    REQUIRE(a != NULL);

    CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
    CHECK_STR(env, "{\"scrape\":\"true\",\"path\":\"/metrics\",\"port\":"
                   "\"8080\"}");
    CHECK_STR(D(a), "{\"app\":\"x\"," MERGED "}");
    mem_free(env);
    json_decref(a);
}

/* Istio adds no env when the scrape configuration is empty (scrape ==
 * emptyScrape) but still merges the annotations. */
TEST(prom_no_app_annotations)
{
    static const char *const cases[] = {
        "{}",
        "{'app':'x'}",
        "{'prometheus.io/scrape':'','prometheus.io/path':'','x':''}",
        "{'prometheus.io/path':'','prometheus.io/port':''}",
        "{'prometheus.io/port':''}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *a = J(cases[i]);
        char *env = (char *)"x";
        REQUIRE(a != NULL);
        CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
        CHECK(env == NULL);
        CHECK_STR(json_string_value(json_object_get(a, "prometheus.io/port")),
                  "15020");
        CHECK_STR(json_string_value(json_object_get(a, "prometheus.io/path")),
                  "/stats/prometheus");
        CHECK_STR(json_string_value(json_object_get(a, "prometheus.io/scrape")),
                  "true");
        json_decref(a);
    }
}

/* Go's json.Marshal of PrometheusScrapeConfiguration: no omitempty, all
 * three keys in struct order, "" when absent. */
TEST(prom_env_has_go_bytes)
{
    json_t *a = J("{'prometheus.io/port':'9090',"
                  "'prometheus.istio.io/scrape-targets':'9090:/m,9100',"
                  "'prometheus.io/scrape':'true'}");
    char *env = NULL;
    REQUIRE(a != NULL);

    CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
    CHECK_STR(env, "{\"scrape\":\"true\",\"path\":\"\",\"port\":\"9090\","
                   "\"scrape-targets\":\"9090:/m,9100\"}");
    /* scrape-targets stays; only the three keys are replaced */
    CHECK_STR(D(a), "{" MERGED ",\"prometheus.istio.io/scrape-targets\":"
                    "\"9090:/m,9100\"}");
    mem_free(env);
    json_decref(a);
}

TEST(prom_scrape_false_any_spelling)
{
    static const char *const cases[] = {
        "{'prometheus.io/scrape':'false'}",
        "{'prometheus.io.scrape':'0'}",
        "{'prometheus-io/scrape':'F'}",
        "{'prometheus/io/scrape':'FALSE','prometheus.io/port':'8080'}",
        "{'prometheus.io/scrape':'true','prometheus.io.scrape':'False'}",
        "{'prometheus\\u00e9io/scrape':'f'}", /* one rune, one '_' */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *a = J(cases[i]), *b = J(cases[i]);
        char *env = (char *)"x";
        REQUIRE(a != NULL && b != NULL);
        CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
        CHECK(env == NULL);
        CHECK(json_equal(a, b));
        json_decref(a);
        json_decref(b);
    }
}

TEST(prom_scrape_not_false)
{
    /* not a Go bool, other case (Prometheus keeps case), or "true": merge */
    static const char *const cases[] = {
        "{'prometheus.io/scrape':'no'}",     "{'Prometheus.io/Scrape':'false'}",
        "{'prometheus.io/scrape':'fAlse'}",  "{'prometheus.io/scrape':'1'}",
        "{'xprometheus.io/scrape':'false'}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *a = J(cases[i]);
        char *env = NULL;
        REQUIRE(a != NULL);
        CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
        CHECK_STR(json_string_value(json_object_get(a, "prometheus.io/port")),
                  "15020");
        mem_free(env);
        json_decref(a);
    }
}

TEST(prom_merge_flag)
{
    static const struct {
        const char *v;
        int mesh, merged;
    } cases[] = {
        {NULL, 1, 1},   {NULL, 0, 0},   {"false", 1, 0}, {"0", 1, 0},
        {"true", 0, 1}, {"T", 0, 1},    {"yes", 0, 0},   {"yes", 1, 1},
        {"TRUE", 0, 1}, {"tRUE", 1, 1}, {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *a = J("{'prometheus.io/port':'8080'}");
        char *env = NULL;
        REQUIRE(a != NULL);
        if (cases[i].v != NULL)
            json_object_set_new(a, "prometheus.istio.io/merge-metrics",
                                json_string(cases[i].v));
        CHECK_INT(inj_prom_merge(a, cases[i].mesh, 15020, &env), 0);
        if ((env != NULL) != cases[i].merged)
            harness_fail(__FILE__, __LINE__, "merge-metrics=%s mesh=%d",
                         cases[i].v ? cases[i].v : "(unset)", cases[i].mesh);
        CHECK_STR(json_string_value(json_object_get(a, "prometheus.io/port")),
                  cases[i].merged ? "15020" : "8080");
        mem_free(env);
        json_decref(a);
    }
}

TEST(prom_variants_cleared_standard_wins)
{
    json_t *a = J("{'prometheus.io.port':'1111','prometheus.io/port':'2222',"
                  "'prometheus-io/path':'/p','prometheus.io.scrape':'true',"
                  "'prometheus_io_port':'3333','prometheus.io/portx':'9'}");
    char *env = NULL;
    REQUIRE(a != NULL);

    CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
    CHECK_STR(env, "{\"scrape\":\"true\",\"path\":\"/p\",\"port\":\"2222\"}");
    CHECK_STR(D(a), "{\"prometheus.io/path\":\"/stats/prometheus\","
                    "\"prometheus.io/port\":\"15020\","
                    "\"prometheus.io/portx\":\"9\","
                    "\"prometheus.io/scrape\":\"true\"}");
    mem_free(env);
    json_decref(a);
    /* without the standard spelling the first variant is used */
    a = J("{'prometheus.io.port':'1111','prometheus_io_port':'3333'}");
    REQUIRE(a != NULL);
    CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
    CHECK_STR(env, "{\"scrape\":\"\",\"path\":\"\",\"port\":\"1111\"}");
    mem_free(env);
    json_decref(a);
}

TEST(prom_reserved_and_status_ports_refused)
{
    static const struct {
        const char *ann;
        int status;
        const char *want;
    } cases[] = {
        /* the status port spelled otherwise is not our merged port */
        {"{'prometheus.io/port':'015020'}", 15020,
         "annotation prometheus.io/port: port 15020 is the proxy status port"},
        {"{'prometheus.io/port':' 123'}", 123,
         "annotation prometheus.io/port: port 123 is the proxy status port"},
        {"{'prometheus.io/port':'15090'}", 15020,
         "annotation prometheus.io/port: port 15090 is reserved by Istio"},
        {"{'prometheus.io/port':'015000'}", 15020,
         "port 15000 is reserved by Istio (Envoy admin)"},
        {"{'prometheus.io.port':'15001'}", 15020,
         "annotation prometheus.io.port: port 15001 is reserved"},
        {"{'prometheus.io/port':'15020'}", 123, "port 15020 is reserved"},
        {"{'prometheus.io/port':'15009'}", 15020, "port 15009 is reserved"},
        {"{'prometheus.io/port':'15053'}", 15020, "port 15053 is reserved"},
        {"{'prometheus.istio.io/scrape-targets':'8080:/m, 15021:/x'}", 15020,
         "annotation prometheus.istio.io/scrape-targets: port 15021 is "
         "reserved"},
        {"{'prometheus.istio.io/scrape-targets':'15006'}", 15020,
         "port 15006 is reserved"},
        {"{'prometheus.istio.io/scrape-targets':'15020:/m'}", 15020,
         "port 15020 is the proxy status port"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *a = J(cases[i].ann), *b = J(cases[i].ann);
        char *env = (char *)"x";
        REQUIRE(a != NULL && b != NULL);
        errmsg_clear();
        CHECK_INT(inj_prom_merge(a, 1, cases[i].status, &env), RC_INVAL);
        CHECK_CONTAINS(errmsg_get(), cases[i].want);
        CHECK(env == NULL);
        CHECK(json_equal(a, b)); /* untouched */
        json_decref(a);
        json_decref(b);
    }
    /* allowed: 15002, 15091, a name, 8080 */
    static const char *const ok[] = {"15002", "15091", "http", "8080", ""};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_t *a = json_object();
        char *env = NULL;
        json_object_set_new(a, "prometheus.io/port", json_string(ok[i]));
        CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
        CHECK((env != NULL) == (ok[i][0] != '\0'));
        CHECK_STR(json_string_value(json_object_get(a, "prometheus.io/port")),
                  "15020");
        mem_free(env);
        json_decref(a);
    }
}

/* A pod whose port already is the status port is left alone, as Istio's
 * applyPrometheusMerge does ("assume user is controlling this"), whatever
 * its path: neither refused nor merged. */
TEST(prom_status_port_left_alone)
{
    static const char *const cases[] = {
        "{'prometheus.io/port':'15020'}",
        "{'prometheus.io/port':'15020','prometheus.io/path':'/metrics'}",
        "{'prometheus.io.port':'15020','prometheus.io/scrape':'true'}",
        "{'prometheus.io/port':'15020','prometheus.io/path':'/stats/p'}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *a = J(cases[i]), *b = J(cases[i]);
        char *env = (char *)"x";
        REQUIRE(a != NULL && b != NULL);
        CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
        CHECK(env == NULL);
        CHECK(json_equal(a, b));
        json_decref(a);
        json_decref(b);
    }
}

TEST(prom_already_merged_is_noop)
{
    json_t *a = J("{'prometheus.io/port':'15020','prometheus.io/path':"
                  "'/stats/prometheus','prometheus.io/scrape':'true'}");
    json_t *b = json_deep_copy(a);
    char *env = (char *)"x";
    REQUIRE(a != NULL && b != NULL);

    CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
    CHECK(env == NULL);
    CHECK(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    /* merging twice gives the first result */
    a = J("{'prometheus.io/port':'8080'}");
    REQUIRE(a != NULL);
    CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
    mem_free(env);
    b = json_deep_copy(a);
    CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
    CHECK(env == NULL);
    CHECK(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

TEST(prom_custom_status_port_and_escaping)
{
    json_t *a = J("{'prometheus.io/path':'/m?a=1&b=<2>'}");
    char *env = NULL;
    REQUIRE(a != NULL);

    CHECK_INT(inj_prom_merge(a, 1, 123, &env), 0);
    /* Go's json.Marshal escapes & < > */
    CHECK_STR(env,
              "{\"scrape\":\"\",\"path\":\"/m?a=1\\u0026b=\\u003c2\\u003e\","
              "\"port\":\"\"}");
    CHECK_STR(json_string_value(json_object_get(a, "prometheus.io/port")),
              "123");
    mem_free(env);
    json_decref(a);
}

TEST(prom_bad_input)
{
    char *env = (char *)"x";
    json_t *arr = json_array();
    CHECK_INT(inj_prom_merge(arr, 1, 15020, &env), RC_INVAL);
    CHECK(env == NULL);
    CHECK_INT(inj_prom_merge(NULL, 1, 15020, &env), RC_INVAL);
    json_decref(arr);
    /* non-string values are not annotations: ignored, then cleared */
    json_t *a = J("{'prometheus.io/port':5,'prometheus.io/scrape':false}");
    REQUIRE(a != NULL);
    CHECK_INT(inj_prom_merge(a, 1, 15020, &env), 0);
    CHECK(env == NULL);
    CHECK_STR(D(a), "{" MERGED "}");
    mem_free(env);
    json_decref(a);
}

TEST(prom_nomem)
{
    const char *src = "{'prometheus.io/scrape':'true','prometheus.io/path':"
                      "'/metrics','prometheus.io.port':'8080','x':'y'}";
    int ok = 0;
    long fails = 0;

    for (long i = 1; i < 200 && !ok; i++) {
        json_t *a = J(src);
        char *env = NULL;
        REQUIRE(a != NULL);
        mem_fail_set(i);
        int rc = inj_prom_merge(a, 1, 15020, &env);
        mem_fail_set(0);
        if (rc == 0) {
            ok = 1;
            CHECK_STR(env, "{\"scrape\":\"true\",\"path\":\"/metrics\","
                           "\"port\":\"8080\"}");
            CHECK_STR(D(a), "{" MERGED ",\"x\":\"y\"}");
        } else {
            CHECK_INT(rc, RC_NOMEM);
            CHECK(env == NULL);
            fails++;
        }
        mem_free(env);
        json_decref(a);
    }
    CHECK(ok);
    CHECK(fails > 5); /* the error paths were really reached */
}
