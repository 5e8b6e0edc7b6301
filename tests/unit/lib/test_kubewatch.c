/* test_kubewatch.c: watch stream framing (any chunking, blank lines, line
 * cap) and event parsing (types, resourceVersion, ERROR 410, selection). */
#include "tests/unit/harness.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jsel.h"
#include "lib/jutil.h"
#include "lib/kubewatch.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdlib.h>

struct collect {
    struct buf out; /* lines joined with '|' */
    int n;
    int stop_at; /* return RC_INTERNAL on this line (1-based), 0: never */
};

static int
collect_line(void *ud, const char *line, size_t n)
{
    struct collect *c = ud;

    c->n++;
    if (c->out.len)
        buf_addc(&c->out, '|');
    buf_add(&c->out, line, n);
    return c->n == c->stop_at ? RC_INTERNAL : 0;
}

static const char stream[] = "{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n"
                             "\n"
                             "   \r\n"
                             "{\"type\":\"MODIFIED\",\"object\":{}}\r\n"
                             "\n\n"
                             "{\"x\":\"with \\n escaped newline\"}\n"
                             "tail-without-newline";

TEST(watch_lines_any_chunking_gives_same_lines)
{
    size_t n = strlen(stream);
    const char *want = "{\"type\":\"ADDED\",\"object\":{\"a\":1}}|"
                       "{\"type\":\"MODIFIED\",\"object\":{}}|"
                       "{\"x\":\"with \\n escaped newline\"}";

    /* every chunk size, and every single split point */
    for (size_t cs = 1; cs <= n; cs++) {
        struct kube_watch_lines l;
        struct collect c = {0};
        buf_init(&c.out, 0);
        kube_watch_lines_init(&l, 0);
        for (size_t off = 0; off < n; off += cs) {
            size_t k = n - off < cs ? n - off : cs;
            CHECK_INT(
                kube_watch_lines_feed(&l, stream + off, k, collect_line, &c),
                0);
        }
        CHECK_STR(c.out.ptr, want);
        /* the partial tail is kept, not delivered */
        CHECK_INT(l.pend.len, strlen("tail-without-newline"));
        kube_watch_lines_cleanup(&l);
        buf_cleanup(&c.out);
    }
    for (size_t cut = 0; cut <= n; cut++) {
        struct kube_watch_lines l;
        struct collect c = {0};
        buf_init(&c.out, 0);
        kube_watch_lines_init(&l, 0);
        kube_watch_lines_feed(&l, stream, cut, collect_line, &c);
        kube_watch_lines_feed(&l, stream + cut, n - cut, collect_line, &c);
        CHECK_STR(c.out.ptr, want);
        kube_watch_lines_cleanup(&l);
        buf_cleanup(&c.out);
    }
}

TEST(watch_lines_cap_on_one_line)
{
    struct kube_watch_lines l;
    struct collect c = {0};
    char big[100];

    memset(big, 'x', sizeof(big));
    buf_init(&c.out, 0);
    kube_watch_lines_init(&l, 64);
    /* exactly 64 bytes is fine, across chunks */
    CHECK_INT(kube_watch_lines_feed(&l, big, 40, collect_line, &c), 0);
    CHECK_INT(kube_watch_lines_feed(&l, big, 24, collect_line, &c), 0);
    CHECK_INT(kube_watch_lines_feed(&l, "\n", 1, collect_line, &c), 0);
    CHECK_INT(c.n, 1);
    /* 65 in one chunk with its newline */
    char line[70];
    memset(line, 'y', 65);
    line[65] = '\n';
    CHECK_INT(kube_watch_lines_feed(&l, line, 66, collect_line, &c), RC_LIMIT);
    kube_watch_lines_reset(&l);
    /* 65 without a newline yet (growing partial line) */
    CHECK_INT(kube_watch_lines_feed(&l, big, 60, collect_line, &c), 0);
    CHECK_INT(kube_watch_lines_feed(&l, big, 5, collect_line, &c), RC_LIMIT);
    CHECK_CONTAINS(errmsg_get(), "over the limit");
    kube_watch_lines_reset(&l);
    CHECK_INT(l.pend.len, 0);
    CHECK_INT(kube_watch_lines_feed(&l, "ok\n", 3, collect_line, &c), 0);
    CHECK_INT(c.n, 2);
    kube_watch_lines_cleanup(&l);
    buf_cleanup(&c.out);
}

TEST(watch_lines_callback_error_stops)
{
    struct kube_watch_lines l;
    struct collect c = {0};

    c.stop_at = 2;
    buf_init(&c.out, 0);
    kube_watch_lines_init(&l, 0);
    CHECK_INT(kube_watch_lines_feed(&l, "a\nb\nc\n", 6, collect_line, &c),
              RC_INTERNAL);
    CHECK_STR(c.out.ptr, "a|b");
    kube_watch_lines_cleanup(&l);
    buf_cleanup(&c.out);
}

static int
parse(struct kube_watch_event *ev, const char *line, const struct jsel *sel)
{
    return kube_watch_event_parse(ev, line, strlen(line), sel, 0);
}

TEST(watch_event_types_and_rv)
{
    struct kube_watch_event ev;
    const char *types[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"};
    char line[256];

    for (int i = 0; i < 4; i++) {
        snprintf(line, sizeof(line),
                 "{\"type\":\"%s\",\"object\":{\"kind\":\"Pod\",\"metadata\":"
                 "{\"name\":\"p\",\"resourceVersion\":\"%d\"}}}",
                 types[i], 100 + i);
        REQUIRE(parse(&ev, line, NULL) == 0);
        CHECK_INT(ev.type, KUBE_WATCH_ADDED + i);
        CHECK_STR(kube_watch_type_str(ev.type), types[i]);
        CHECK_INT(strtol(ev.rv, NULL, 10), 100 + i);
        CHECK_STR(jutil_path_str(ev.object, "metadata.name"), "p");
        CHECK(!ev.gone);
        kube_watch_event_cleanup(&ev);
        CHECK(ev.object == NULL);
    }
}

TEST(watch_event_error_410_means_relist)
{
    struct kube_watch_event ev;
    struct jsel *sel = NULL;
    const char *gone =
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
        "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old "
        "resource version: 1234 (1290)\",\"reason\":\"Expired\",\"code\":410}}";
    const char *gone_reason_only =
        "{\"type\":\"ERROR\",\"object\":{\"reason\":\"Gone\"}}";
    const char *other = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
                        "\"reason\":\"InternalError\",\"code\":500}}";
    const char *paths[] = {"metadata.name", NULL};

    REQUIRE(kube_watch_select_new(&sel, paths) == 0);
    /* with and without a selection: ERROR is always parsed whole */
    for (int s = 0; s < 2; s++) {
        const struct jsel *use = s ? sel : NULL;
        REQUIRE(parse(&ev, gone, use) == 0);
        CHECK_INT(ev.type, KUBE_WATCH_ERROR);
        CHECK_INT(ev.code, 410);
        CHECK_STR(ev.reason, "Expired");
        CHECK_CONTAINS(ev.message, "too old resource version");
        CHECK(ev.gone);
        kube_watch_event_cleanup(&ev);
        REQUIRE(parse(&ev, gone_reason_only, use) == 0);
        CHECK(ev.gone);
        CHECK_INT(ev.code, 0);
        kube_watch_event_cleanup(&ev);
        REQUIRE(parse(&ev, other, use) == 0);
        CHECK(!ev.gone);
        CHECK_INT(ev.code, 500);
        kube_watch_event_cleanup(&ev);
    }
    jsel_free(sel);
}

TEST(watch_event_selection_prunes_object)
{
    struct kube_watch_event ev;
    struct jsel *sel = NULL;
    const char *paths[] = {"metadata.name", "metadata.labels", "status.podIP",
                           NULL};
    const char *line =
        "{\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"uid\":"
        "\"u\",\"resourceVersion\":\"77\",\"labels\":{\"app\":\"a\"},"
        "\"managedFields\":[{\"manager\":\"kubectl\"}]},\"spec\":{"
        "\"containers\":[]},\"status\":{\"podIP\":\"10.1.1.1\"}},"
        "\"type\":\"MODIFIED\"}";
    char *s;

    REQUIRE(kube_watch_select_new(&sel, paths) == 0);
    REQUIRE(parse(&ev, line, sel) == 0);
    CHECK_INT(ev.type, KUBE_WATCH_MODIFIED);
    CHECK_STR(ev.rv, "77");
    s = jutil_dumps(ev.object, JSON_SORT_KEYS);
    CHECK_STR(s, "{\"metadata\":{\"labels\":{\"app\":\"a\"},\"name\":\"p\","
                 "\"resourceVersion\":\"77\"},\"status\":{\"podIP\":"
                 "\"10.1.1.1\"}}");
    mem_free(s);
    kube_watch_event_cleanup(&ev);
    jsel_free(sel);
}

TEST(watch_event_rejects_non_events)
{
    struct kube_watch_event ev;
    const char *bad[] = {"[]",
                         "{}",
                         "{\"type\":\"ADDED\"}",
                         "{\"type\":\"ADDED\",\"object\":[]}",
                         "{\"type\":\"SOMETHING\",\"object\":{}}",
                         "{\"type\":1,\"object\":{}}",
                         "{\"type\":\"ADDED\",\"object\":{}",
                         "not json",
                         NULL};
    struct jsel *sel = NULL;

    REQUIRE(kube_watch_select_new(&sel, NULL) == 0);
    for (int i = 0; bad[i]; i++) {
        for (int s = 0; s < 2; s++) {
            int rc = parse(&ev, bad[i], s ? sel : NULL);
            if (rc != RC_PARSE)
                harness_fail(__FILE__, __LINE__, "'%s' sel=%d -> %d", bad[i], s,
                             rc);
            CHECK(ev.object == NULL);
        }
    }
    jsel_free(sel);
}

TEST(watch_event_nomem)
{
    struct kube_watch_event ev;
    const char *line = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{"
                       "\"name\":\"p\",\"resourceVersion\":\"1\"}}}";
    int seen = 0;

    for (long n = 1; n < 60; n++) {
        mem_fail_set(n);
        int rc = parse(&ev, line, NULL);
        mem_fail_set(0);
        if (rc == 0) {
            kube_watch_event_cleanup(&ev);
            break;
        }
        CHECK_INT(rc, RC_NOMEM);
        seen = 1;
    }
    CHECK(seen);
}
