/* test_kubeinject.c: the document walker of kube-inject with a stub
 * injection callback: which objects hold pods, what the callback sees, how
 * results are written back, order, untouched documents, error naming,
 * reading and writing documents. */
#include "tests/unit/harness.h"
#include "cli/kubeinject.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdlib.h>

/* What the stub saw, one line per call: "doc.item kind ns/name tmpl". */
struct stub {
    char seen[16][160];
    int n;
    int skip_all; /* leave every pod unchanged */
};

/* stub_cb marks the pod: annotation stub/seen and a container "sidecar".
 * A pod annotated bad=... is refused the way the injector refuses it. */
static int
stub_cb(void *ctx, const struct kinj_site *s, json_t **out)
{
    struct stub *st = ctx;
    json_t *pod = NULL;        /* owned */
    json_t *ann, *spec, *ctrs; /* borrowed */
    const char *bad = jutil_path_str(s->pod, "metadata.annotations.bad");

    *out = NULL;
    if (st->n < 16)
        snprintf(st->seen[st->n++], sizeof(st->seen[0]), "%d.%d %s %s/%s %s %d",
                 s->doc, s->item, s->kind, s->ns, s->name, s->api_version,
                 s->is_template);
    if (bad)
        return errmsg_set(RC_INVAL, "invalid value '%s' for annotation 'bad'",
                          bad);
    if (st->skip_all)
        return 0;
    if ((pod = json_deep_copy(s->pod)) == NULL)
        return RC_NOMEM;
    ann = jutil_obj_ensure(jutil_obj_ensure(pod, "metadata"), "annotations");
    spec = jutil_obj_ensure(pod, "spec");
    if (ann == NULL || spec == NULL ||
        jutil_set_str(ann, "stub/seen", s->kind) != 0)
        goto nomem;
    ctrs = json_object_get(spec, "containers");
    if (!json_is_array(ctrs)) {
        if (json_object_set_new(spec, "containers", json_array()) != 0)
            goto nomem;
        ctrs = json_object_get(spec, "containers");
    }
    if (json_array_append_new(ctrs, json_pack("{s:s}", "name", "sidecar")) != 0)
        goto nomem;
    *out = pod;
    return 0;
nomem:
    json_decref(pod);
    return errmsg_set(RC_NOMEM, "out of memory");
}

static json_t *
load(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);

    if (v == NULL)
        fprintf(stdout, "bad test JSON: %s at %d\n", e.text, e.line);
    return v;
}

#define TMPL_SPEC "{\"containers\":[{\"name\":\"app\",\"image\":\"a\"}]}"
#define TMPL                                                                   \
    "{\"metadata\":{\"labels\":{\"app\":\"w\"}},\"spec\":" TMPL_SPEC "}"

static const char *
last_container(const json_t *spec)
{
    json_t *c = jutil_arr(spec, "containers");

    return jutil_str(json_array_get(c, json_array_size(c) - 1), "name");
}

TEST(kinj_kind_class_table)
{
    CHECK_INT(kinj_kind_class("v1", "Pod"), KINJ_POD);
    CHECK_INT(kinj_kind_class("", "Pod"), KINJ_POD);
    CHECK_INT(kinj_kind_class(NULL, "Pod"), KINJ_POD);
    CHECK_INT(kinj_kind_class("apps/v1", "Pod"), KINJ_OTHER);
    CHECK_INT(kinj_kind_class("apps/v1", "Deployment"), KINJ_TEMPLATE);
    CHECK_INT(kinj_kind_class("extensions/v1beta1", "Deployment"),
              KINJ_TEMPLATE);
    CHECK_INT(kinj_kind_class("apps/v1", "StatefulSet"), KINJ_TEMPLATE);
    CHECK_INT(kinj_kind_class("apps/v1", "DaemonSet"), KINJ_TEMPLATE);
    CHECK_INT(kinj_kind_class("apps/v1", "ReplicaSet"), KINJ_TEMPLATE);
    CHECK_INT(kinj_kind_class("v1", "ReplicationController"), KINJ_TEMPLATE);
    CHECK_INT(kinj_kind_class("batch/v1", "Job"), KINJ_TEMPLATE);
    CHECK_INT(kinj_kind_class("batch/v1", "CronJob"), KINJ_CRONJOB);
    CHECK_INT(kinj_kind_class("batch/v1beta1", "CronJob"), KINJ_CRONJOB);
    CHECK_INT(kinj_kind_class("v1", "List"), KINJ_LIST);
    CHECK_INT(kinj_kind_class("apps/v1", "DeploymentList"), KINJ_LIST);
    /* same kind name, another API group: a custom resource, untouched */
    CHECK_INT(kinj_kind_class("example.com/v1", "Job"), KINJ_OTHER);
    CHECK_INT(kinj_kind_class("argoproj.io/v1", "Deployment"), KINJ_OTHER);
    CHECK_INT(kinj_kind_class("v1", "Service"), KINJ_OTHER);
    CHECK_INT(kinj_kind_class("v1", "ConfigMap"), KINJ_OTHER);
    CHECK_INT(kinj_kind_class("v1", NULL), KINJ_OTHER);
}

TEST(kinj_walk_each_workload_kind)
{
    static const char *const kinds[][2] = {
        {"apps/v1", "Deployment"},       {"apps/v1", "StatefulSet"},
        {"apps/v1", "DaemonSet"},        {"apps/v1", "ReplicaSet"},
        {"v1", "ReplicationController"}, {"batch/v1", "Job"},
    };
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        struct stub st = {0};
        struct kinj_stats stats;
        char text[512], want[160];
        json_t *docs;

        snprintf(text, sizeof(text),
                 "[{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"metadata\":"
                 "{\"name\":\"w\",\"namespace\":\"prod\"},\"spec\":"
                 "{\"replicas\":2,\"template\":" TMPL "}}]",
                 kinds[k][0], kinds[k][1]);
        docs = load(text);
        REQUIRE(docs != NULL);
        CHECK_INT(kinj_walk(docs, stub_cb, &st, &stats), 0);
        CHECK_INT(stats.docs, 1);
        CHECK_INT(stats.pods, 1);
        CHECK_INT(stats.injected, 1);
        CHECK_INT(st.n, 1);
        snprintf(want, sizeof(want), "1.0 %s prod/w %s 1", kinds[k][1],
                 kinds[k][0]);
        CHECK_STR(st.seen[0], want);
        json_t *tmpl = jutil_path(json_array_get(docs, 0), "spec.template");
        CHECK_STR(jutil_path_str(tmpl, "metadata.annotations.stub/seen"),
                  kinds[k][1]);
        CHECK_STR(jutil_path_str(tmpl, "metadata.labels.app"), "w");
        CHECK_STR(last_container(json_object_get(tmpl, "spec")), "sidecar");
        /* the wrapper's apiVersion/kind do not leak into the template */
        CHECK(json_object_get(tmpl, "kind") == NULL);
        CHECK(json_object_get(tmpl, "apiVersion") == NULL);
        CHECK_INT(json_integer_value(
                      jutil_path(json_array_get(docs, 0), "spec.replicas")),
                  2);
        json_decref(docs);
    }
}

TEST(kinj_walk_pod_document_replaced_default_namespace)
{
    struct stub st = {0};
    json_t *docs = load("[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
                        "{\"name\":\"p\"},\"spec\":" TMPL_SPEC "}]");

    REQUIRE(docs != NULL);
    CHECK_INT(kinj_walk(docs, stub_cb, &st, NULL), 0);
    CHECK_STR(st.seen[0], "1.0 Pod default/p v1 0");
    json_t *pod = json_array_get(docs, 0);
    CHECK_STR(jutil_str(pod, "kind"), "Pod");
    CHECK_STR(jutil_path_str(pod, "metadata.annotations.stub/seen"), "Pod");
    CHECK_STR(last_container(json_object_get(pod, "spec")), "sidecar");
    /* namespace is given to the injector, not written into the pod */
    CHECK(jutil_path(pod, "metadata.namespace") == NULL);
    json_decref(docs);
}

TEST(kinj_walk_cronjob_nesting)
{
    struct stub st = {0};
    json_t *docs = load(
        "[{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":"
        "{\"name\":\"nightly\",\"namespace\":\"ops\"},\"spec\":{\"schedule\":"
        "\"0 1 * * *\",\"jobTemplate\":{\"spec\":{\"backoffLimit\":1,"
        "\"template\":" TMPL "}}}}]");

    REQUIRE(docs != NULL);
    CHECK_INT(kinj_walk(docs, stub_cb, &st, NULL), 0);
    CHECK_STR(st.seen[0], "1.0 CronJob ops/nightly batch/v1 1");
    json_t *cj = json_array_get(docs, 0);
    CHECK_STR(jutil_path_str(cj, "spec.jobTemplate.spec.template.metadata."
                                 "annotations.stub/seen"),
              "CronJob");
    CHECK_STR(last_container(jutil_path(cj, "spec.jobTemplate.spec.template."
                                            "spec")),
              "sidecar");
    CHECK_STR(jutil_path_str(cj, "spec.schedule"), "0 1 * * *");
    CHECK_INT(json_integer_value(
                  jutil_path(cj, "spec.jobTemplate.spec.backoffLimit")),
              1);
    json_decref(docs);
}

TEST(kinj_walk_list_items_in_order)
{
    struct stub st = {0};
    struct kinj_stats stats;
    json_t *docs = load(
        "[{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
        "\"s\"},\"spec\":{\"ports\":[{\"port\":80}]}},"
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
        "{\"name\":\"d\",\"namespace\":\"n1\"},\"spec\":{\"template\":" TMPL
        "}},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
        "\"p\"},\"spec\":" TMPL_SPEC "}]}]");
    json_t *orig;

    REQUIRE(docs != NULL);
    orig = json_deep_copy(docs);
    CHECK_INT(kinj_walk(docs, stub_cb, &st, &stats), 0);
    CHECK_INT(stats.docs, 1);
    CHECK_INT(stats.pods, 2);
    CHECK_INT(stats.injected, 2);
    CHECK_INT(st.n, 2);
    CHECK_STR(st.seen[0], "1.2 Deployment n1/d apps/v1 1");
    CHECK_STR(st.seen[1], "1.3 Pod default/p v1 0");
    json_t *items = jutil_arr(json_array_get(docs, 0), "items");
    CHECK_INT(json_array_size(items), 3);
    CHECK(json_equal(
        json_array_get(items, 0),
        json_array_get(jutil_arr(json_array_get(orig, 0), "items"), 0)));
    CHECK_STR(jutil_path_str(json_array_get(items, 1), "metadata.name"), "d");
    CHECK_STR(jutil_path_str(json_array_get(items, 1),
                             "spec.template.metadata.annotations.stub/seen"),
              "Deployment");
    CHECK_STR(jutil_path_str(json_array_get(items, 2),
                             "metadata.annotations.stub/seen"),
              "Pod");
    json_decref(orig);
    json_decref(docs);
}

TEST(kinj_walk_untouched_kinds_and_order)
{
    struct stub st = {0};
    json_t *docs = load(
        "[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
        "\"a\"},\"spec\":{\"selector\":{\"app\":\"w\"}}},"
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
        "\"b\"},\"data\":{\"k\":\"v\"}},"
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Job\",\"metadata\":"
        "{\"name\":\"c\"},\"spec\":{\"template\":" TMPL "}},"
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
        "{\"name\":\"d\"},\"spec\":{\"template\":" TMPL "}},"
        "\"a scalar document\", null, [1,2],"
        "{\"no\":\"kind\"}]");
    json_t *orig;

    REQUIRE(docs != NULL);
    orig = json_deep_copy(docs);
    CHECK_INT(kinj_walk(docs, stub_cb, &st, NULL), 0);
    CHECK_INT(st.n, 1);
    CHECK_INT(json_array_size(docs), json_array_size(orig));
    for (size_t i = 0; i < json_array_size(docs); i++) {
        if (i == 3)
            CHECK(
                !json_equal(json_array_get(docs, i), json_array_get(orig, i)));
        else
            CHECK(json_equal(json_array_get(docs, i), json_array_get(orig, i)));
    }
    /* key order of the rewritten document is kept */
    const char *key;
    json_t *v;
    const char *want[] = {"apiVersion", "kind", "metadata", "spec"};
    int k = 0;
    json_object_foreach(json_array_get(docs, 3), key, v)
    {
        CHECK(k < 4);
        if (k < 4)
            CHECK_STR(key, want[k]);
        k++;
    }
    json_decref(orig);
    json_decref(docs);
}

TEST(kinj_walk_skipped_pods_unchanged)
{
    struct stub st = {.skip_all = 1};
    struct kinj_stats stats;
    json_t *docs = load(
        "[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
        "{\"name\":\"d\"},\"spec\":{\"template\":" TMPL "}},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
        "\"p\"},\"spec\":" TMPL_SPEC "}]");
    json_t *orig;

    REQUIRE(docs != NULL);
    orig = json_deep_copy(docs);
    CHECK_INT(kinj_walk(docs, stub_cb, &st, &stats), 0);
    CHECK_INT(stats.pods, 2);
    CHECK_INT(stats.injected, 0);
    CHECK(json_equal(docs, orig));
    json_decref(orig);
    json_decref(docs);
}

TEST(kinj_walk_template_without_metadata)
{
    struct stub st = {0};
    json_t *docs = load("[{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\","
                        "\"metadata\":{\"name\":\"j\"},\"spec\":{\"template\":"
                        "{\"spec\":" TMPL_SPEC "}}}]");

    REQUIRE(docs != NULL);
    CHECK_INT(kinj_walk(docs, stub_cb, &st, NULL), 0);
    json_t *tmpl = jutil_path(json_array_get(docs, 0), "spec.template");
    CHECK_STR(jutil_path_str(tmpl, "metadata.annotations.stub/seen"), "Job");
    /* metadata comes first, as kubectl writes it */
    void *it = json_object_iter(tmpl);
    REQUIRE(it != NULL);
    CHECK_STR(json_object_iter_key(it), "metadata");
    CHECK_INT(json_object_size(tmpl), 2);
    json_decref(docs);
}

TEST(kinj_walk_error_names_document)
{
    struct stub st = {0};
    json_t *docs = load(
        "[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
        "\"s\"}},"
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
        "{\"name\":\"web\"},\"spec\":{\"template\":{\"metadata\":"
        "{\"annotations\":{\"bad\":\"x\"}},\"spec\":" TMPL_SPEC "}}}]");

    REQUIRE(docs != NULL);
    CHECK_INT(kinj_walk(docs, stub_cb, &st, NULL), RC_INVAL);
    CHECK_STR(errmsg_get(), "document 2 (Deployment default/web): invalid "
                            "value 'x' for annotation 'bad'");
    json_decref(docs);
}

TEST(kinj_walk_error_names_list_item)
{
    struct stub st = {0};
    json_t *docs = load(
        "[{\"kind\":\"ConfigMap\"},{\"apiVersion\":\"v1\",\"kind\":\"List\","
        "\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
        "{\"name\":\"ok\",\"namespace\":\"n\"},\"spec\":" TMPL_SPEC "},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
        "\"p\",\"namespace\":\"n\",\"annotations\":{\"bad\":\"y\"}},"
        "\"spec\":" TMPL_SPEC "}]}]");

    REQUIRE(docs != NULL);
    CHECK_INT(kinj_walk(docs, stub_cb, &st, NULL), RC_INVAL);
    CHECK_STR(errmsg_get(), "document 2 (List item 2: Pod n/p): invalid "
                            "value 'y' for annotation 'bad'");
    json_decref(docs);
}

TEST(kinj_walk_missing_template_is_an_error)
{
    struct stub st = {0};
    json_t *docs =
        load("[{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\","
             "\"metadata\":{\"name\":\"db\",\"namespace\":\"x\"},\"spec\":"
             "{\"replicas\":1}},"
             "{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":"
             "{\"name\":\"c\"},\"spec\":{\"jobTemplate\":{\"spec\":{}}}},"
             "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":5}]");

    REQUIRE(docs != NULL);
    CHECK_INT(kinj_walk(docs, stub_cb, &st, NULL), RC_INVAL);
    CHECK_STR(errmsg_get(), "document 1 (StatefulSet x/db): field "
                            "spec.template is missing or not an object");
    /* the others, each alone */
    json_t *one = json_array();
    json_array_append(one, json_array_get(docs, 1));
    CHECK_INT(kinj_walk(one, stub_cb, &st, NULL), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "document 1 (CronJob default/c): field "
                                 "spec.jobTemplate.spec.template");
    json_array_set(one, 0, json_array_get(docs, 2));
    CHECK_INT(kinj_walk(one, stub_cb, &st, NULL), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "document 1 (List default/): field items");
    json_decref(one);
    json_decref(docs);
}

TEST(kinj_walk_alloc_failures)
{
    /* every allocation failure gives RC_NOMEM and leaks nothing */
    json_t *base = load(
        "[{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
        "{\"name\":\"d\"},\"spec\":{\"template\":{\"spec\":" TMPL_SPEC "}}},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
        "\"p\"},\"spec\":" TMPL_SPEC "}]},"
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":"
        "{\"name\":\"c\"},\"spec\":{\"jobTemplate\":{\"spec\":{"
        "\"template\":" TMPL "}}}}]");
    int ok = 0, failed = 0;

    REQUIRE(base != NULL);
    for (long n = 1; n < 400 && !ok; n++) {
        struct stub st = {0};
        json_t *docs = json_deep_copy(base);
        int rc;

        REQUIRE(docs != NULL);
        mem_fail_set(n);
        rc = kinj_walk(docs, stub_cb, &st, NULL);
        mem_fail_set(0);
        if (rc == 0)
            ok = 1;
        else if (rc == RC_NOMEM)
            failed++;
        else
            CHECK_INT(rc, RC_NOMEM);
        json_decref(docs);
    }
    CHECK(ok);
    CHECK(failed > 5);
    json_decref(base);
}

TEST(kinj_read_docs_json_with_tabs)
{
    const char text[] = "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Pod\","
                        "\n\t\"metadata\": {\"name\": \"p\"}\n}\n";
    json_t *docs = NULL;

    CHECK_INT(kinj_read_docs(&docs, text, sizeof(text) - 1), 0);
    REQUIRE(docs != NULL);
    CHECK_INT(json_array_size(docs), 1);
    CHECK_STR(jutil_path_str(json_array_get(docs, 0), "metadata.name"), "p");
    json_decref(docs);
}

TEST(kinj_read_docs_yaml_stream)
{
    const char text[] = "# leading comment\n"
                        "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n"
                        "---\n"
                        "---\n# an empty document is skipped\n"
                        "---\n"
                        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                        "  name: b\ndata:\n  port: \"80\"\n";
    json_t *docs = NULL;

    CHECK_INT(kinj_read_docs(&docs, text, sizeof(text) - 1), 0);
    REQUIRE(docs != NULL);
    CHECK_INT(json_array_size(docs), 2);
    CHECK_STR(jutil_str(json_array_get(docs, 0), "kind"), "Service");
    CHECK_STR(jutil_path_str(json_array_get(docs, 1), "data.port"), "80");
    json_decref(docs);
}

TEST(kinj_read_docs_yaml_error_has_line)
{
    const char text[] = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a\n";
    json_t *docs = NULL;

    CHECK_INT(kinj_read_docs(&docs, text, sizeof(text) - 1), RC_PARSE);
    CHECK(docs == NULL);
    CHECK_CONTAINS(errmsg_get(), "line");
}

TEST(kinj_read_docs_broken_json_reports_yaml_error)
{
    const char text[] =
        "{\"kind\": \"Pod\",\n \"metadata\": {\"name\": \"p\"\n";
    json_t *docs = NULL;

    CHECK_INT(kinj_read_docs(&docs, text, sizeof(text) - 1), RC_PARSE);
    CHECK(docs == NULL);
    CHECK_CONTAINS(errmsg_get(), "line");
    json_decref(docs);
}

TEST(kinj_write_docs_yaml_roundtrip)
{
    json_t *docs = load("[{\"kind\":\"Service\",\"metadata\":{\"name\":\"a\"}},"
                        "{\"kind\":\"ConfigMap\",\"data\":{\"x\":\"true\","
                        "\"y\":\"007\"}}]");
    json_t *back = NULL;
    struct buf b;

    REQUIRE(docs != NULL);
    buf_init(&b, 0);
    CHECK_INT(kinj_write_docs(docs, KINJ_YAML, &b), 0);
    REQUIRE(b.ptr != NULL);
    CHECK_CONTAINS(b.ptr, "\n---\n");
    CHECK(strncmp(b.ptr, "---", 3) != 0);
    CHECK_INT(kinj_read_docs(&back, b.ptr, b.len), 0);
    CHECK(back != NULL && json_equal(back, docs));
    json_decref(back);
    buf_cleanup(&b);
    json_decref(docs);
}

TEST(kinj_write_docs_json_single_and_list)
{
    json_t *one = load("[{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}]");
    json_t *two = load("[{\"kind\":\"Pod\"},{\"kind\":\"Service\"}]");
    json_t *v = NULL;
    struct buf b;

    REQUIRE(one != NULL && two != NULL);
    buf_init(&b, 0);
    CHECK_INT(kinj_write_docs(one, KINJ_JSON, &b), 0);
    CHECK_INT(jutil_parse(&v, b.ptr, b.len, NULL), 0);
    CHECK(v != NULL && json_equal(v, json_array_get(one, 0)));
    json_decref(v);
    v = NULL;
    buf_reset(&b);
    CHECK_INT(kinj_write_docs(two, KINJ_JSON, &b), 0);
    CHECK_INT(jutil_parse(&v, b.ptr, b.len, NULL), 0);
    CHECK_STR(jutil_str(v, "kind"), "List");
    CHECK_STR(jutil_str(v, "apiVersion"), "v1");
    CHECK(json_equal(json_object_get(v, "items"), two));
    json_decref(v);
    buf_cleanup(&b);
    json_decref(two);
    json_decref(one);
}
