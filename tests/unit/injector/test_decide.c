/* test_decide.c: the injection decision (Istio's injectRequired) and
 * LabelSelector semantics, each rule with its reason. */
#include "tests/unit/harness.h"
#include "tests/unit/injector/injtest.h"

/* decide: injects a small pod; returns injected (1/0) or -1 on error and
 * copies the reason. */
static int
decide(const struct inj_config *cfg, const char *ns, const char *labels,
       const char *annots, const char *spec_extra, char *reason)
{
    char text[2048];
    struct inj_result r;
    int rc, inj;

    snprintf(text, sizeof(text),
             "{\"metadata\":{\"name\":\"p\",\"namespace\":\"%s\","
             "\"labels\":%s,\"annotations\":%s},"
             "\"spec\":{%s\"containers\":[{\"name\":\"app\"}]}}",
             ns, labels, annots, spec_extra);
    rc = it_inject_json(cfg, text, &r);
    if (rc != 0)
        return -1;
    inj = r.injected;
    snprintf(reason, 256, "%s", r.reason);
    if (inj != (r.pod != NULL))
        inj = -2;
    inj_result_cleanup(&r);
    return inj;
}

TEST(decide_host_network_skipped)
{
    char why[256];

    CHECK_INT(decide(NULL, "default", "{}", "{}", "\"hostNetwork\":true,", why),
              0);
    CHECK_STR(why, "hostNetwork pods are not injected");
    /* even when asked for */
    CHECK_INT(decide(NULL, "default", "{\"sidecar.istio.io/inject\":\"true\"}",
                     "{}", "\"hostNetwork\":true,", why),
              0);
}

TEST(decide_ignored_namespaces)
{
    static const char *const ns[] = {"kube-system", "kube-public",
                                     "kube-node-lease", "local-path-storage"};
    char why[256], want[128];

    for (size_t i = 0; i < 4; i++) {
        CHECK_INT(decide(NULL, ns[i], "{\"sidecar.istio.io/inject\":\"true\"}",
                         "{}", "", why),
                  0);
        snprintf(want, sizeof(want), "namespace %s is ignored", ns[i]);
        CHECK_STR(why, want);
    }
    CHECK_INT(decide(NULL, "kube-systemx", "{}", "{}", "", why), 1);
}

TEST(decide_namespace_from_input_when_pod_has_none)
{
    struct inj_config *cfg = it_config();
    json_t *pod = json_loads("{\"metadata\":{\"name\":\"p\"},\"spec\":{"
                             "\"containers\":[{\"name\":\"a\"}]}}",
                             0, NULL);
    struct inj_input in = {.pod = pod, .ns = "kube-system"};
    struct inj_result r;

    REQUIRE(cfg && pod);
    CHECK_INT(inj_pod_inject(cfg, &in, &r), 0);
    CHECK_INT(r.injected, 0);
    CHECK_STR(r.reason, "namespace kube-system is ignored");
    json_decref(pod);
    inj_config_free(cfg);
}

TEST(decide_label_and_annotation)
{
    char why[256];

    CHECK_INT(decide(NULL, "d", "{\"sidecar.istio.io/inject\":\"false\"}", "{}",
                     "", why),
              0);
    CHECK_STR(why, "label sidecar.istio.io/inject is false");
    CHECK_INT(decide(NULL, "d", "{}", "{\"sidecar.istio.io/inject\":\"false\"}",
                     "", why),
              0);
    CHECK_STR(why, "annotation sidecar.istio.io/inject is false");
    /* the label wins over the annotation */
    CHECK_INT(decide(NULL, "d", "{\"sidecar.istio.io/inject\":\"false\"}",
                     "{\"sidecar.istio.io/inject\":\"true\"}", "", why),
              0);
    CHECK_INT(decide(NULL, "d", "{\"sidecar.istio.io/inject\":\"true\"}",
                     "{\"sidecar.istio.io/inject\":\"false\"}", "", why),
              1);
    CHECK_STR(why, "label sidecar.istio.io/inject is true");
    /* other values fall back to the policy (enabled) */
    static const char *const other[] = {"yes", "True", "enabled", "", "1"};
    for (size_t i = 0; i < 5; i++) {
        char a[128];
        snprintf(a, sizeof(a), "{\"sidecar.istio.io/inject\":\"%s\"}",
                 other[i]);
        CHECK_INT(decide(NULL, "d", "{}", a, "", why), 1);
        CHECK_STR(why, "policy enabled");
    }
}

TEST(decide_policy_disabled_and_other)
{
    struct inj_config *dis = it_config_parts("policy: disabled", NULL, NULL);
    struct inj_config *odd = it_config_parts("policy: sometimes", NULL, NULL);
    char why[256];

    REQUIRE(dis && odd);
    CHECK_INT(decide(dis, "d", "{}", "{}", "", why), 0);
    CHECK_STR(why, "policy disabled");
    CHECK_INT(decide(dis, "d", "{}", "{\"sidecar.istio.io/inject\":\"true\"}",
                     "", why),
              1);
    CHECK_INT(decide(dis, "d", "{}", "{\"sidecar.istio.io/inject\":\"yes\"}",
                     "", why),
              0);
    /* an unknown policy never injects (Istio: required=false), not even
     * a pod that asks for it by label, annotation or alwaysInjectSelector */
    CHECK_INT(decide(odd, "d", "{}", "{\"sidecar.istio.io/inject\":\"true\"}",
                     "", why),
              0);
    CHECK_CONTAINS(why, "policy 'sometimes' is neither enabled nor disabled");
    CHECK_INT(decide(odd, "d", "{\"sidecar.istio.io/inject\":\"true\"}", "{}",
                     "", why),
              0);
    CHECK_CONTAINS(why, "policy 'sometimes'");
    CHECK_INT(decide(odd, "d", "{}", "{}", "", why), 0);
    CHECK_CONTAINS(why, "policy 'sometimes'");
    inj_config_free(odd);
    odd = it_config_parts("policy: sometimes\nalwaysInjectSelector:\n"
                          "- matchLabels: {app: web}\n",
                          NULL, NULL);
    REQUIRE(odd != NULL);
    CHECK_INT(decide(odd, "d", "{\"app\":\"web\"}", "{}", "", why), 0);
    CHECK_CONTAINS(why, "policy 'sometimes'");
    inj_config_free(odd);
    inj_config_free(dis);
}

TEST(decide_never_then_always_selectors)
{
    struct inj_config *cfg = it_config_parts(
        "policy: disabled\n"
        "neverInjectSelector:\n"
        "- {}\n"
        "- matchExpressions:\n"
        "  - {key: openshift.io/build.name, operator: Exists}\n"
        "- matchLabels: {tier: db}\n"
        "alwaysInjectSelector:\n"
        "- matchLabels: {app: web}\n"
        "  matchExpressions:\n"
        "  - {key: track, operator: In, values: [stable, canary]}\n"
        "- matchExpressions:\n"
        "  - {key: env, operator: NotIn, values: [dev]}\n"
        "  - {key: legacy, operator: DoesNotExist}\n",
        NULL, NULL);
    char why[256];

    REQUIRE(cfg != NULL);
    /* empty selector skipped: nothing matches -> policy */
    CHECK_INT(decide(cfg, "d", "{\"env\":\"dev\"}", "{}", "", why), 0);
    CHECK_STR(why, "policy disabled");
    CHECK_INT(
        decide(cfg, "d", "{\"openshift.io/build.name\":\"b\"}", "{}", "", why),
        0);
    CHECK_STR(why, "pod matches neverInjectSelector[1]");
    /* never wins over always */
    CHECK_INT(
        decide(cfg, "d", "{\"tier\":\"db\",\"app\":\"web\"}", "{}", "", why),
        0);
    CHECK_STR(why, "pod matches neverInjectSelector[2]");
    CHECK_INT(decide(cfg, "d",
                     "{\"app\":\"web\",\"track\":\"canary\",\"env\":"
                     "\"dev\"}",
                     "{}", "", why),
              1);
    CHECK_STR(why, "pod matches alwaysInjectSelector[0]");
    CHECK_INT(decide(cfg, "d",
                     "{\"app\":\"web\",\"track\":\"beta\",\"env\":\"dev\"}",
                     "{}", "", why),
              0);
    /* NotIn matches when the label is absent; DoesNotExist */
    CHECK_INT(decide(cfg, "d", "{}", "{}", "", why), 1);
    CHECK_STR(why, "pod matches alwaysInjectSelector[1]");
    CHECK_INT(decide(cfg, "d", "{\"legacy\":\"x\"}", "{}", "", why), 0);
    /* selectors only apply when the label/annotation does not decide */
    CHECK_INT(decide(cfg, "d", "{\"tier\":\"db\"}",
                     "{\"sidecar.istio.io/inject\":\"true\"}", "", why),
              1);
    inj_config_free(cfg);
}

TEST(decide_selector_config_errors)
{
    static const char *const bad[] = {
        "neverInjectSelector: [{matchExpressions: [{key: a, operator: "
        "Maybe}]}]",
        "neverInjectSelector: [{matchExpressions: [{key: a, operator: In}]}]",
        "alwaysInjectSelector: [{matchExpressions: [{key: a, operator: "
        "Exists, values: [x]}]}]",
        "alwaysInjectSelector: [{matchLabels: {a: [1]}}]",
        "alwaysInjectSelector: {matchLabels: {a: b}}",
        "neverInjectSelector: [[]]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct inj_config *cfg = NULL;
        int rc = inj_config_load_parts(&cfg, bad[i], NULL, NULL);
        if (rc != RC_INVAL)
            harness_fail(__FILE__, __LINE__, "accepted: %s (rc %d)", bad[i],
                         rc);
        CHECK(cfg == NULL);
        CHECK_CONTAINS(errmsg_get(), "InjectSelector");
    }
}
