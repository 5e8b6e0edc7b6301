/* test_ag_metrics.c: Prometheus text merge, the agent's own metrics, the
 * readiness decision on Envoy's /stats text. */
#include "tests/unit/harness.h"
#include "agent/ag_metrics.h"
#include "agent/ag_status.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/rc.h"

static int
merge(struct buf *out, const char *a, const char *b, const char *c,
      size_t *dropped)
{
    struct ag_metrics_src s[3] = {{"agent", a, strlen(a)},
                                  {"envoy", b, strlen(b)},
                                  {"app", c, strlen(c)}};

    buf_init(out, 1 << 20);
    return ag_metrics_merge(out, s, 3, dropped);
}

TEST(ag_metrics_merge_concatenates_in_order)
{
    struct buf out;
    size_t dropped = 9;

    REQUIRE(merge(&out, "# TYPE a counter\na 1\n", "b{x=\"1\"} 2",
                  "# HELP c C.\n# TYPE c gauge\nc 3\r\n", &dropped) == 0);
    CHECK_STR(out.ptr, "# TYPE a counter\na 1\nb{x=\"1\"} 2\n"
                       "# HELP c C.\n# TYPE c gauge\nc 3\n");
    CHECK_INT(dropped, 0);
    buf_cleanup(&out);
}

TEST(ag_metrics_merge_drops_duplicate_families)
{
    struct buf out;
    size_t dropped = 0;
    const char *envoy = "# TYPE h histogram\n"
                        "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                        "h_sum 3\nh_count 2\n"
                        "# TYPE up gauge\nup 1\n";
    const char *app = "# HELP h dup\n# TYPE h histogram\n"
                      "h_bucket{le=\"1\"} 9\nh_sum 9\nh_count 9\n"
                      "up 0\n"
                      "# TYPE mine counter\nmine_total 4\n"
                      "# EOF\n";

    REQUIRE(merge(&out, "", envoy, app, &dropped) == 0);
    CHECK_STR(out.ptr, "# TYPE h histogram\n"
                       "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                       "h_sum 3\nh_count 2\n"
                       "# TYPE up gauge\nup 1\n"
                       "# TYPE mine counter\nmine_total 4\n");
    CHECK_INT(dropped, 7); /* HELP, TYPE, 3 samples of h, up, # EOF */
    buf_cleanup(&out);
}

TEST(ag_metrics_merge_same_source_repeats_are_kept)
{
    struct buf out;

    REQUIRE(merge(&out, "", "x 1\n# TYPE y gauge\ny 2\nx 3\n", "", NULL) == 0);
    CHECK_STR(out.ptr, "x 1\n# TYPE y gauge\ny 2\nx 3\n");
    buf_cleanup(&out);
}

TEST(ag_metrics_merge_cap_and_oom)
{
    struct buf out;
    struct ag_metrics_src s = {"envoy", "abc 1\nabd 2\n", 12};
    int done = 0;

    buf_init(&out, 8);
    CHECK_INT(ag_metrics_merge(&out, &s, 1, NULL), RC_LIMIT);
    buf_cleanup(&out);
    for (long n = 1; n < 100 && !done; n++) {
        int rc;

        buf_init(&out, 0);
        mem_fail_set(n);
        rc = ag_metrics_merge(&out, &s, 1, NULL);
        mem_fail_set(0);
        if (rc == 0) {
            CHECK_STR(out.ptr, "abc 1\nabd 2\n");
            done = 1;
        } else {
            CHECK_INT(rc, RC_NOMEM);
        }
        buf_cleanup(&out);
    }
    CHECK(done);
}

TEST(ag_stats_render_text)
{
    struct ag_stats st;
    struct buf out;

    memset(&st, 0, sizeof st);
    atomic_store(&st.hot_restarts, 2);
    atomic_store(&st.epoch, 2);
    atomic_store(&st.envoy_up, 1);
    buf_init(&out, 0);
    REQUIRE(ag_stats_render(&out, &st, 5) == 0);
    CHECK_CONTAINS(out.ptr, "# TYPE mizzen_agent_envoy_hot_restarts_total "
                            "counter\nmizzen_agent_envoy_hot_restarts_total "
                            "2\n");
    CHECK_CONTAINS(out.ptr, "\nmizzen_agent_log_dropped_total 5\n");
    CHECK_CONTAINS(out.ptr, "\nmizzen_agent_envoy_up 1\n");
    CHECK_CONTAINS(out.ptr, "\nmizzen_agent_envoy_restart_epoch 2\n");
    buf_cleanup(&out);
}

TEST(ag_ready_eval_conditions)
{
    char why[160];
    const char *ready = "cluster_manager.cds.update_success: 3\n"
                        "listener_manager.lds.update_success: 1\n"
                        "listener_manager.workers_started: 1\n"
                        "server.state: 0\n";

    CHECK_INT(ag_ready_eval(ready, strlen(ready), why, sizeof why), 1);
    {
        const char *t = "server.state: 2\nlistener_manager.workers_started: "
                        "1\n";

        CHECK_INT(ag_ready_eval(t, strlen(t), why, sizeof why), 0);
        CHECK_CONTAINS(why, "not LIVE");
    }
    {
        const char *t = "server.state: 0\nlistener_manager.workers_started: "
                        "1\ncluster_manager.cds.update_success: 1\n"
                        "listener_manager.lds.update_success: 0\n";

        CHECK_INT(ag_ready_eval(t, strlen(t), why, sizeof why), 0);
        CHECK_CONTAINS(why, "LDS");
    }
    {
        const char *t = "server.state: 0\nlistener_manager.workers_started: "
                        "0\n";

        CHECK_INT(ag_ready_eval(t, strlen(t), why, sizeof why), 0);
        CHECK_CONTAINS(why, "workers");
    }
    CHECK_INT(ag_ready_eval("", 0, why, sizeof why), 0);
    /* a longer stat name that shares a prefix does not count */
    {
        const char *t = "server.state_x: 0\n";

        CHECK_INT(ag_ready_eval(t, strlen(t), why, sizeof why), 0);
    }
}
