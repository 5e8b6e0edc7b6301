/* test_informer.c: the informer's store - slim objects, projection,
 * indexes, handlers, relist diff, resync and allocation failures - driven
 * through inf_apply / inf_replace_* without any server. */
#include "tests/unit/harness.h"
#include "lib/buf.h"
#include "lib/informer.h"
#include "lib/jutil.h"
#include "lib/kubeclient.h"
#include "lib/kubewatch.h"
#include "lib/mem.h"
#include "lib/rc.h"

struct rec {
    struct buf log; /* "add ns/a 1;upd ns/a 1>2;del ns/a 2 u;" */
};

static void
on_add(void *ud, const struct inf_obj *o)
{
    struct rec *r = ud;
    buf_addf(&r->log, "add %s %s;", inf_obj_key(o), inf_obj_rv(o));
}

static void
on_update(void *ud, const struct inf_obj *old, const struct inf_obj *cur)
{
    struct rec *r = ud;
    buf_addf(&r->log, "upd %s %s>%s;", inf_obj_key(cur), inf_obj_rv(old),
             inf_obj_rv(cur));
}

static void
on_delete(void *ud, const struct inf_obj *o, int unknown)
{
    struct rec *r = ud;
    buf_addf(&r->log, "del %s %s%s;", inf_obj_key(o), inf_obj_rv(o),
             unknown ? " u" : "");
}

static int
project(void *ud, const json_t *obj, struct buf *blob)
{
    const char *sa = jutil_path_str(obj, "spec.serviceAccountName");
    const char *ip = jutil_path_str(obj, "status.podIP");
    int rc;

    (void)ud;
    if ((rc = inf_blob_field(blob, "sa", sa ? sa : "default")) != 0)
        return rc;
    if (ip)
        rc = inf_blob_field(blob, "ip", ip);
    return rc;
}

static int
sa_index(void *ud, const struct inf_obj *o, inf_emit_fn emit, void *ctx)
{
    char v[256];

    (void)ud;
    snprintf(v, sizeof(v), "%s/%s", inf_obj_ns(o), inf_obj_field(o, "sa"));
    return emit(ctx, v);
}

/* app_index: one value per label value of "app" and "tier" (0..2). */
static int
label_index(void *ud, const struct inf_obj *o, inf_emit_fn emit, void *ctx)
{
    const char *keys[] = {"app", "tier"};
    int rc = 0;

    (void)ud;
    for (int i = 0; i < 2 && rc == 0; i++) {
        const char *v = inf_obj_label(o, keys[i]);
        if (v)
            rc = emit(ctx, v);
    }
    return rc;
}

static const char *const paths[] = {"spec.serviceAccountName", "status.podIP",
                                    NULL};

static struct informer *
mk(struct rec *r)
{
    struct inf_opts o = {0};
    struct inf_handlers h = {on_add, on_update, on_delete, r};
    struct informer *inf = NULL;

    o.res = &KUBE_PODS;
    o.paths = paths;
    o.project = project;
    if (inf_new(&inf, &o) != 0)
        return NULL;
    inf_set_handlers(inf, &h);
    if (inf_add_index(inf, "sa", sa_index, NULL) != 0 ||
        inf_add_index(inf, "label", label_index, NULL) != 0) {
        inf_free(inf);
        return NULL;
    }
    buf_init(&r->log, 0);
    return inf;
}

static json_t *
pod(const char *ns, const char *name, const char *rv, const char *sa,
    const char *app)
{
    json_t *p = json_pack("{s:{s:s,s:s,s:s,s:s,s:{s:s,s:s}},s:{s:s,s:[]},"
                          "s:{s:s}}",
                          "metadata", "name", name, "namespace", ns, "uid",
                          "uid-1", "resourceVersion", rv, "labels", "app", app,
                          "tier", "web", "spec", "serviceAccountName", sa,
                          "containers", "status", "podIP", "10.0.0.1");
    return p;
}

static int
apply(struct informer *inf, int type, json_t *p)
{
    int rc = inf_apply(inf, type, p);
    json_decref(p);
    return rc;
}

struct names {
    struct buf b;
};

static int
collect(void *ud, const struct inf_obj *o)
{
    struct buf *b = ud;
    buf_addf(b, "%s,", inf_obj_key(o));
    return 0;
}

/* sorted-insensitive check: each expected key present, count matches */
static int
index_has(struct informer *inf, const char *ix, const char *v, const char *key,
          int *count)
{
    struct buf b;
    int found;

    buf_init(&b, 0);
    if (inf_by_index(inf, ix, v, collect, &b) != 0) {
        buf_cleanup(&b);
        return -1;
    }
    found = key ? (b.ptr && strstr(b.ptr, key) != NULL) : 0;
    *count = 0;
    for (size_t i = 0; i < b.len; i++)
        if (b.ptr[i] == ',')
            (*count)++;
    buf_cleanup(&b);
    return found;
}

TEST(inf_add_update_delete_and_handlers)
{
    struct rec r;
    struct informer *inf = mk(&r);
    struct inf_obj *o = NULL;

    REQUIRE(inf != NULL);
    CHECK_INT(apply(inf, KUBE_WATCH_ADDED, pod("ns", "a", "1", "sa1", "x")), 0);
    CHECK_INT(apply(inf, KUBE_WATCH_MODIFIED, pod("ns", "a", "2", "sa1", "x")),
              0);
    CHECK_INT(apply(inf, KUBE_WATCH_MODIFIED, pod("ns", "b", "3", "sa2", "y")),
              0); /* unknown: an add */
    CHECK_INT(apply(inf, KUBE_WATCH_DELETED, pod("ns", "a", "4", "sa1", "x")),
              0);
    CHECK_INT(apply(inf, KUBE_WATCH_DELETED, pod("ns", "zz", "5", "s", "x")),
              0); /* unknown: nothing */
    CHECK_STR(r.log.ptr, "add ns/a 1;upd ns/a 1>2;add ns/b 3;del ns/a 4;");
    CHECK_INT(inf_count(inf), 1);
    CHECK_INT(inf_get(inf, "ns", "a", &o), RC_NOTFOUND);
    REQUIRE(inf_get(inf, "ns", "b", &o) == 0);
    CHECK_STR(inf_obj_name(o), "b");
    CHECK_STR(inf_obj_ns(o), "ns");
    CHECK_STR(inf_obj_uid(o), "uid-1");
    CHECK_STR(inf_obj_field(o, "sa"), "sa2");
    CHECK_STR(inf_obj_field(o, "ip"), "10.0.0.1");
    CHECK(inf_obj_field(o, "nope") == NULL);
    CHECK_STR(inf_obj_label(o, "app"), "y");
    CHECK_INT(inf_obj_nlabels(o), 2);
    CHECK(!inf_obj_deleting(o));
    /* the reference outlives a delete */
    CHECK_INT(apply(inf, KUBE_WATCH_DELETED, pod("ns", "b", "6", "sa2", "y")),
              0);
    CHECK_INT(inf_count(inf), 0);
    CHECK_STR(inf_obj_name(o), "b");
    inf_obj_unref(o);
    CHECK_INT(apply(inf, KUBE_WATCH_BOOKMARK, pod("ns", "b", "7", "s", "y")),
              RC_INVAL);
    inf_free(inf);
    buf_cleanup(&r.log);
}

TEST(inf_indexes_follow_updates)
{
    struct rec r;
    struct informer *inf = mk(&r);
    int n;

    REQUIRE(inf != NULL);
    apply(inf, KUBE_WATCH_ADDED, pod("ns1", "a", "1", "sa1", "web"));
    apply(inf, KUBE_WATCH_ADDED, pod("ns1", "b", "1", "sa1", "db"));
    apply(inf, KUBE_WATCH_ADDED, pod("ns2", "c", "1", "sa1", "web"));
    CHECK_INT(index_has(inf, "namespace", "ns1", "ns1/a", &n), 1);
    CHECK_INT(n, 2);
    CHECK_INT(index_has(inf, "sa", "ns1/sa1", "ns1/b", &n), 1);
    CHECK_INT(n, 2);
    CHECK_INT(index_has(inf, "sa", "ns2/sa1", "ns2/c", &n), 1);
    CHECK_INT(n, 1);
    /* tier=web and app=web emit the same value once */
    CHECK_INT(index_has(inf, "label", "web", "ns2/c", &n), 1);
    CHECK_INT(n, 3);
    CHECK_INT(index_has(inf, "label", "db", "ns1/b", &n), 1);
    CHECK_INT(n, 1);
    /* b changes service account and app: moves buckets */
    apply(inf, KUBE_WATCH_MODIFIED, pod("ns1", "b", "2", "sa9", "web"));
    CHECK_INT(index_has(inf, "sa", "ns1/sa1", "ns1/b", &n), 0);
    CHECK_INT(n, 1);
    CHECK_INT(index_has(inf, "sa", "ns1/sa9", "ns1/b", &n), 1);
    CHECK_INT(index_has(inf, "label", "db", NULL, &n), 0);
    CHECK_INT(n, 0);
    apply(inf, KUBE_WATCH_DELETED, pod("ns1", "a", "3", "sa1", "web"));
    CHECK_INT(index_has(inf, "sa", "ns1/sa1", NULL, &n), 0);
    CHECK_INT(n, 0);
    CHECK_INT(index_has(inf, "nosuch", "x", NULL, &n), -1);
    inf_free(inf);
    buf_cleanup(&r.log);
}

TEST(inf_relist_diff_and_synced)
{
    struct rec r;
    struct informer *inf = mk(&r);
    json_t *p;

    REQUIRE(inf != NULL);
    CHECK(!inf_has_synced(inf));
    inf_replace_begin(inf);
    inf_replace_item(inf, p = pod("ns", "a", "1", "s", "x"));
    json_decref(p);
    inf_replace_item(inf, p = pod("ns", "b", "1", "s", "x"));
    json_decref(p);
    inf_replace_item(inf, p = pod("ns", "c", "1", "s", "x"));
    json_decref(p);
    inf_replace_end(inf);
    CHECK(inf_has_synced(inf));
    CHECK_INT(inf_wait_synced(inf, 0), 0);
    buf_reset(&r.log);
    /* relist: a unchanged, b changed, c gone, d new */
    inf_replace_begin(inf);
    inf_replace_item(inf, p = pod("ns", "a", "1", "s", "x"));
    json_decref(p);
    inf_replace_item(inf, p = pod("ns", "b", "5", "s", "x"));
    json_decref(p);
    inf_replace_item(inf, p = pod("ns", "d", "6", "s", "x"));
    json_decref(p);
    inf_replace_end(inf);
    CHECK_STR(r.log.ptr, "upd ns/b 1>5;add ns/d 6;del ns/c 1 u;");
    CHECK_INT(inf_count(inf), 3);
    /* resync re-delivers every object as an update to itself */
    buf_reset(&r.log);
    inf_resync(inf);
    CHECK_CONTAINS(r.log.ptr, "upd ns/a 1>1;");
    CHECK_CONTAINS(r.log.ptr, "upd ns/d 6>6;");
    /* an empty relist deletes everything */
    buf_reset(&r.log);
    inf_replace_begin(inf);
    inf_replace_end(inf);
    CHECK_INT(inf_count(inf), 0);
    CHECK_CONTAINS(r.log.ptr, "del ns/b 5 u;");
    struct inf_stats st;
    inf_get_stats(inf, &st);
    CHECK_INT(st.objects, 0);
    CHECK_INT(st.bytes, 0);
    CHECK_INT(st.deletes, 4);
    inf_free(inf);
    buf_cleanup(&r.log);
}

TEST(inf_watch_line_through_selection)
{
    struct rec r;
    struct informer *inf = mk(&r);
    struct kube_watch_event ev;
    struct inf_obj *o = NULL;
    const char *line =
        "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{"
        "\"name\":\"p\",\"namespace\":\"n\",\"uid\":\"u\",\"resourceVersion\":"
        "\"9\",\"labels\":{\"app\":\"a\",\"num\":3},\"annotations\":{\"big\":"
        "\"x\"},\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"},\"spec\":{"
        "\"serviceAccountName\":\"sa\",\"containers\":[{\"name\":\"c\"}]},"
        "\"status\":{\"podIP\":\"10.9.9.9\",\"phase\":\"Running\"}}}";

    REQUIRE(inf != NULL);
    REQUIRE(kube_watch_event_parse(&ev, line, strlen(line), inf_selection(inf),
                                   0) == 0);
    /* only the declared paths were built */
    CHECK(jutil_path(ev.object, "metadata.annotations") == NULL);
    CHECK(jutil_path(ev.object, "spec.containers") == NULL);
    CHECK_STR(jutil_path_str(ev.object, "status.podIP"), "10.9.9.9");
    CHECK_INT(inf_apply(inf, ev.type, ev.object), 0);
    kube_watch_event_cleanup(&ev);
    REQUIRE(inf_get(inf, "n", "p", &o) == 0);
    CHECK_STR(inf_obj_field(o, "ip"), "10.9.9.9");
    CHECK_STR(inf_obj_rv(o), "9");
    CHECK(inf_obj_deleting(o));
    CHECK_INT(inf_obj_nlabels(o), 1); /* non-string label values skipped */
    CHECK(inf_obj_size(o) < 200);
    inf_obj_unref(o);
    inf_free(inf);
    buf_cleanup(&r.log);
}

TEST(inf_apply_nomem_leaves_store_unchanged)
{
    struct rec r;
    struct informer *inf = mk(&r);
    int saw = 0;

    REQUIRE(inf != NULL);
    apply(inf, KUBE_WATCH_ADDED, pod("ns", "a", "1", "sa1", "web"));
    for (long n = 1; n < 30; n++) {
        json_t *p = pod("ns", "a", "2", "sa2", "db");
        json_t *q = pod("ns", "new", "2", "sa2", "db");
        int k, rc;
        mem_fail_set(n);
        rc = inf_apply(inf, KUBE_WATCH_MODIFIED, p);
        int rc2 = inf_apply(inf, KUBE_WATCH_ADDED, q);
        mem_fail_set(0);
        json_decref(p);
        json_decref(q);
        if (rc == RC_NOMEM) {
            struct inf_obj *o = NULL;
            saw = 1;
            REQUIRE(inf_get(inf, "ns", "a", &o) == 0);
            CHECK_STR(inf_obj_rv(o), "1");
            CHECK_STR(inf_obj_field(o, "sa"), "sa1");
            inf_obj_unref(o);
            CHECK_INT(index_has(inf, "sa", "ns/sa1", "ns/a", &k), 1);
            CHECK_INT(index_has(inf, "label", "db", NULL, &k), 0);
            CHECK_INT(k, 0);
        } else {
            CHECK_INT(rc, 0);
        }
        if (rc2 == RC_NOMEM)
            CHECK_INT(inf_count(inf), 1);
        if (rc == 0 && rc2 == 0)
            break;
        /* back to the initial state */
        apply(inf, KUBE_WATCH_DELETED, pod("ns", "new", "3", "s", "x"));
        apply(inf, KUBE_WATCH_MODIFIED, pod("ns", "a", "1", "sa1", "web"));
    }
    CHECK(saw);
    inf_free(inf);
    buf_cleanup(&r.log);
}

TEST(inf_rejects_objects_without_name)
{
    struct rec r;
    struct informer *inf = mk(&r);
    json_t *p = json_pack("{s:{s:s}}", "metadata", "namespace", "x");

    REQUIRE(inf != NULL);
    CHECK_INT(inf_apply(inf, KUBE_WATCH_ADDED, p), RC_INVAL);
    CHECK_INT(inf_count(inf), 0);
    json_decref(p);
    inf_free(inf);
    buf_cleanup(&r.log);
}
