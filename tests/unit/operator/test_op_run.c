/* test_op_run.c: which namespaces count as injection-enabled (labels as the
 * informer stores them), and the revisit delay cap. */
#include "tests/unit/harness.h"

#include "lib/clock.h"
#include "lib/informer.h"
#include "lib/kubeclient.h"
#include "lib/kubewatch.h"
#include "operator/op_run.h"

static int
enabled(const char *labels_json)
{
    struct informer *inf = NULL;
    struct inf_opts io = {0};
    struct inf_obj *o = NULL;
    json_t *ns;
    int on = -1;

    io.res = &KUBE_NAMESPACES;
    if (inf_new(&inf, &io) != 0)
        return -1;
    ns = json_pack("{s:{s:s,s:s,s:o}}", "metadata", "name", "n",
                   "resourceVersion", "1", "labels",
                   json_loads(labels_json, 0, NULL));
    if (ns != NULL && inf_apply(inf, KUBE_WATCH_ADDED, ns) == 0 &&
        inf_get(inf, NULL, "n", &o) == 0)
        on = op_ns_obj_enabled(o);
    inf_obj_unref(o);
    json_decref(ns);
    inf_free(inf);
    return on;
}

TEST(ns_enabled_labels)
{
    CHECK_INT(enabled("{\"istio-injection\":\"enabled\"}"), 1);
    CHECK_INT(enabled("{\"istio-injection\":\"disabled\"}"), 0);
    CHECK_INT(enabled("{\"istio-injection\":\"Enabled\"}"), 0);
    CHECK_INT(enabled("{}"), 0);
    CHECK_INT(enabled("{\"istio.io/rev\":\"canary\"}"), 1);
    CHECK_INT(enabled("{\"istio.io/rev\":\"canary\","
                      "\"istio-injection\":\"disabled\"}"),
              0);
}

TEST(delay_capped)
{
    time_t now = clock_now();

    CHECK_INT(op_delay_ms(now - 100), 0);
    CHECK(op_delay_ms(now + 10) >= 8000 && op_delay_ms(now + 10) <= 10000);
    CHECK_INT(op_delay_ms(now + 86400 * 30), 86400000);
}
