/* test_op_metrics.c: the Prometheus text of a context without informers,
 * and with counters and a CA snapshot. */
#include "tests/unit/harness.h"

#include "lib/buf.h"
#include "lib/pki.h"
#include "lib/rc.h"
#include "operator/op_ca.h"
#include "operator/op_metrics.h"
#include "operator/op_run.h"

TEST(metrics_render)
{
    struct op_ctx c = {0};
    struct buf b;

    buf_init(&b, 1 << 16);
    atomic_store(&c.issued, 7);
    atomic_store(&c.deferred, 2);
    REQUIRE(op_metrics_render(&c, &b) == 0);
    CHECK_CONTAINS(b.ptr, "\nmizzen_operator_leader 1\n"); /* no election */
    CHECK_CONTAINS(
        b.ptr, "mizzen_operator_certs_written_total{action=\"issued\"} 7\n");
    CHECK_CONTAINS(b.ptr, "mizzen_operator_renewals_deferred_total 2\n");
    CHECK_CONTAINS(b.ptr, "mizzen_operator_ca_loaded 0\n");
    CHECK_CONTAINS(b.ptr, "# TYPE mizzen_operator_writes_total counter\n");
    CHECK(strstr(b.ptr, "root_rotation_phase") == NULL);
    buf_cleanup(&b);
}

TEST(metrics_bad_address)
{
    struct op_ctx c = {0};
    struct op_metrics *m = NULL;

    CHECK_INT(op_metrics_start(&m, &c, "localhost"), RC_INVAL);
    CHECK_INT(op_metrics_start(&m, &c, "example.org:80"), RC_INVAL);
    CHECK_INT(op_metrics_start(&m, &c, "127.0.0.1:99999"), RC_INVAL);
    CHECK(m == NULL);
    REQUIRE(op_metrics_start(&m, &c, "127.0.0.1:0") == 0);
    CHECK(op_metrics_port(m) > 0);
    op_metrics_stop(m);
}
