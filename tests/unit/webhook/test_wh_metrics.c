/* test_wh_metrics.c: counters and the Prometheus text. */
#include "tests/unit/harness.h"
#include "lib/buf.h"
#include "webhook/wh_metrics.h"

static void
render(struct buf *b)
{
    buf_init(b, 0);
    CHECK_INT(wh_metrics_render(b), 0);
}

TEST(metrics_count_and_render)
{
    struct buf b;

    wh_metrics_reset();
    wh_metrics_request(200);
    wh_metrics_request(200);
    wh_metrics_request(415);
    wh_metrics_request(418);
    wh_metrics_admission(WH_INJECTED, 300000);    /* 0.3 ms */
    wh_metrics_admission(WH_INJECTED, 4000000);   /* 4 ms */
    wh_metrics_admission(WH_REFUSED, 2000000000); /* 2 s: +Inf only */
    wh_metrics_reload(WH_RELOAD_CERT, 1);
    wh_metrics_reload(WH_RELOAD_CONFIG, 0);
    wh_metrics_set_ready(1, 0);
    CHECK_INT(wh_metrics_get_requests(200), 2);
    CHECK_INT(wh_metrics_get_requests(999), 1); /* "other" */
    CHECK_INT(wh_metrics_get_admissions(WH_INJECTED), 2);
    CHECK_INT(wh_metrics_get_reloads(WH_RELOAD_CONFIG, 0), 1);
    render(&b);
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_requests_total{code=\"200\"} 2\n");
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_requests_total{code=\"415\"} 1\n");
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_requests_total{code=\"other\"} 1\n");
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_admissions_total{decision="
                          "\"injected\"} 2\n");
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_admissions_total{decision="
                          "\"refused\"} 1\n");
    /* cumulative buckets */
    CHECK_CONTAINS(b.ptr, "_bucket{le=\"0.00025\"} 0\n");
    CHECK_CONTAINS(b.ptr, "_bucket{le=\"0.0005\"} 1\n");
    CHECK_CONTAINS(b.ptr, "_bucket{le=\"0.005\"} 2\n");
    CHECK_CONTAINS(b.ptr, "_bucket{le=\"1\"} 2\n");
    CHECK_CONTAINS(b.ptr, "_bucket{le=\"+Inf\"} 3\n");
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_request_duration_seconds_count 3\n");
    CHECK_CONTAINS(b.ptr,
                   "mizzen_webhook_request_duration_seconds_sum 2.004300000");
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_reloads_total{kind=\"cert\","
                          "result=\"ok\"} 1\n");
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_reloads_total{kind=\"config\","
                          "result=\"failed\"} 1\n");
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_ready{part=\"config\"} 1\n");
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_ready{part=\"cert\"} 0\n");
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_log_dropped_total ");
    CHECK_CONTAINS(b.ptr, "sidecar_injection_success_total 2\n");
    CHECK_CONTAINS(b.ptr, "sidecar_injection_requests_total 3\n");
    CHECK_CONTAINS(b.ptr, "sidecar_injection_failure_total 1\n");
    buf_cleanup(&b);
    wh_metrics_reset();
    render(&b);
    CHECK_CONTAINS(b.ptr, "mizzen_webhook_requests_total{code=\"200\"} 0\n");
    buf_cleanup(&b);
}

TEST(metrics_render_respects_buffer_cap)
{
    struct buf b;

    buf_init(&b, 64);
    CHECK_INT(wh_metrics_render(&b), -4);
    buf_cleanup(&b);
}
