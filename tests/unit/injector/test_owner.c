/* test_owner.c: the workload of a pod (Istio's GetDeployMetaFromPod) as
 * seen in ISTIO_META_WORKLOAD_NAME, ISTIO_META_OWNER and the canonical
 * name. */
#include "tests/unit/harness.h"
#include "tests/unit/injector/injtest.h"
#include "lib/yamljson.h"

struct meta {
    char workload[256], owner[512], canonical[128];
};

static int
meta_of_json(const char *pod, const struct inj_input *tmpl, struct meta *m)
{
    struct inj_config *cfg = it_config();
    json_t *p = json_loads(pod, 0, NULL);
    struct inj_input in;
    struct inj_result r;
    const char *s;
    int rc = -1;

    memset(m, 0, sizeof(*m));
    if (tmpl)
        in = *tmpl;
    else
        memset(&in, 0, sizeof(in));
    in.pod = p;
    if (cfg && p && inj_pod_inject(cfg, &in, &r) == 0 && r.injected) {
        s = it_env(it_proxy(r.pod), "ISTIO_META_WORKLOAD_NAME");
        snprintf(m->workload, sizeof(m->workload), "%s", s ? s : "(none)");
        s = it_env(it_proxy(r.pod), "ISTIO_META_OWNER");
        snprintf(m->owner, sizeof(m->owner), "%s", s ? s : "(none)");
        s = it_label(r.pod, "service.istio.io/canonical-name");
        snprintf(m->canonical, sizeof(m->canonical), "%s", s ? s : "(none)");
        inj_result_cleanup(&r);
        rc = 0;
    }
    json_decref(p);
    inj_config_free(cfg);
    return rc;
}

static int
meta_of_fixture(const char *name, struct meta *m)
{
    json_t *p = it_fixture(name);
    char *s = p ? json_dumps(p, 0) : NULL;
    int rc = s ? meta_of_json(s, NULL, m) : -1;

    free(s);
    json_decref(p);
    return rc;
}

TEST(owner_replicaset_becomes_deployment)
{
    struct meta m;

    REQUIRE(meta_of_fixture("hello", &m) == 0);
    CHECK_STR(m.workload, "hello");
    CHECK_STR(m.owner,
              "kubernetes://apis/apps/v1/namespaces/default/deployments/hello");
    /* app label wins for the canonical name */
    CHECK_STR(m.canonical, "hello");
}

TEST(owner_replicaset_without_hash_label)
{
    struct meta m;

    REQUIRE(
        meta_of_json("{\"metadata\":{\"generateName\":\"rs-x-\",\"namespace\":"
                     "\"ns1\",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
                     "\"kind\":\"ReplicaSet\",\"name\":\"rs-x\",\"controller\":"
                     "true}]},\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                     NULL, &m) == 0);
    CHECK_STR(m.workload, "rs-x");
    CHECK_STR(m.owner,
              "kubernetes://apis/apps/v1/namespaces/ns1/replicasets/rs-x");
    CHECK_STR(m.canonical, "rs-x");
}

TEST(owner_job_of_cronjob)
{
    struct meta m;

    REQUIRE(meta_of_fixture("job-pod", &m) == 0);
    CHECK_STR(m.workload, "hello-cron");
    CHECK_STR(m.owner, "kubernetes://apis/batch/v1/namespaces/default/cronjobs/"
                       "hello-cron");
    /* 5 digits: a plain Job */
    REQUIRE(
        meta_of_json("{\"metadata\":{\"generateName\":\"j-12345-\","
                     "\"ownerReferences\":[{\"apiVersion\":\"batch/v1\","
                     "\"kind\":\"Job\",\"name\":\"j-12345\",\"controller\":"
                     "true}]},\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                     NULL, &m) == 0);
    CHECK_STR(m.owner,
              "kubernetes://apis/batch/v1/namespaces/default/jobs/j-12345");
}

TEST(owner_deploymentconfig_statefulset_pod)
{
    struct meta m;

    REQUIRE(
        meta_of_json("{\"metadata\":{\"generateName\":\"dc-1-\",\"labels\":{"
                     "\"deploymentconfig\":\"frontend\"},\"ownerReferences\":[{"
                     "\"apiVersion\":\"v1\",\"kind\":\"ReplicationController\","
                     "\"name\":\"frontend-1\",\"controller\":true}]},"
                     "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                     NULL, &m) == 0);
    CHECK_STR(m.workload, "frontend");
    CHECK_STR(m.owner, "kubernetes://apis/v1/namespaces/default/"
                       "deploymentconfigs/frontend");

    REQUIRE(meta_of_fixture("statefulset-pod", &m) == 0);
    CHECK_STR(m.workload, "web");
    CHECK_STR(m.owner,
              "kubernetes://apis/apps/v1/namespaces/default/statefulsets/web");
    CHECK_STR(m.canonical, "nginx");

    REQUIRE(meta_of_fixture("pod", &m) == 0);
    CHECK_STR(m.workload, "hellopod");
    CHECK_STR(m.owner, "kubernetes://apis/v1/namespaces/default/pods/hellopod");
}

TEST(owner_needs_generate_name_and_controller)
{
    struct meta m;

    /* ownerReference but no generateName: the pod itself (Istio) */
    REQUIRE(
        meta_of_json("{\"metadata\":{\"name\":\"fixed\",\"ownerReferences\":[{"
                     "\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
                     "\"name\":\"x-1\",\"controller\":true}]},"
                     "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                     NULL, &m) == 0);
    CHECK_STR(m.owner, "kubernetes://apis/v1/namespaces/default/pods/fixed");
    /* non-controller references are ignored */
    REQUIRE(
        meta_of_json("{\"metadata\":{\"name\":\"n\",\"generateName\":\"n-\","
                     "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":"
                     "\"Thing\",\"name\":\"t\"}]},"
                     "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                     NULL, &m) == 0);
    CHECK_STR(m.workload, "n");
}

TEST(owner_generate_name_only)
{
    struct meta m;

    REQUIRE(meta_of_fixture("generate-name-only", &m) == 0);
    CHECK_STR(m.workload, "solo");
    CHECK_STR(m.owner, "kubernetes://apis/v1/namespaces/default/pods/solo");
}

TEST(owner_from_input_wins)
{
    struct inj_input in = {.owner_kind = "Deployment",
                           .owner_name = "reviews-v1",
                           .ns = "bookinfo"};
    struct meta m;

    REQUIRE(meta_of_fixture("hello", &m) == 0); /* sanity */
    REQUIRE(meta_of_json("{\"metadata\":{\"labels\":{}},"
                         "\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
                         &in, &m) == 0);
    CHECK_STR(m.workload, "reviews-v1");
    CHECK_STR(m.owner, "kubernetes://apis/apps/v1/namespaces/bookinfo/"
                       "deployments/reviews-v1");
    CHECK_STR(m.canonical, "reviews-v1");
    in.owner_kind = "CronJob";
    in.owner_name = "nightly";
    in.owner_api_version = "batch/v1beta1";
    REQUIRE(meta_of_json("{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}", &in,
                         &m) == 0);
    CHECK_STR(m.owner, "kubernetes://apis/batch/v1beta1/namespaces/bookinfo/"
                       "cronjobs/nightly");
}

/* Workload fixtures (YAML, as `mizzenctl kube-inject` reads them): the pod
 * template is injected with the owner taken from the workload. */
static json_t *
workload(const char *file)
{
    char path[256];
    size_t n = 0;
    char *text;
    json_t *v = NULL;

    snprintf(path, sizeof(path), INJ_FIXTURES "/workloads/%s", file);
    text = it_read_file(path, &n);
    if (text == NULL || yj_load_one(&v, text, n, NULL) != 0)
        v = NULL;
    free(text);
    return v;
}

TEST(owner_workload_templates_from_yaml)
{
    struct inj_config *cfg = it_config();
    json_t *dep = workload("hello-deployment.yaml");
    json_t *cron = workload("cronjob.yaml");
    struct inj_input in;
    struct inj_result r;

    REQUIRE(cfg && dep && cron);
    memset(&in, 0, sizeof(in));
    in.pod = jutil_path(dep, "spec.template");
    in.ns = "default";
    in.owner_kind = jutil_str(dep, "kind");
    in.owner_name = jutil_path_str(dep, "metadata.name");
    in.owner_api_version = jutil_str(dep, "apiVersion");
    REQUIRE(inj_pod_inject(cfg, &in, &r) == 0 && r.injected);
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_META_OWNER"),
              "kubernetes://apis/apps/v1/namespaces/default/deployments/hello");
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_META_WORKLOAD_NAME"), "hello");
    CHECK_STR(it_label(r.pod, "service.istio.io/canonical-name"), "hello");
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_META_POD_PORTS"),
              "[\n{\"name\":\"http\",\"containerPort\":80}\n]");
    inj_result_cleanup(&r);

    in.pod = jutil_path(cron, "spec.jobTemplate.spec.template");
    in.ns = jutil_path_str(cron, "metadata.namespace");
    in.owner_kind = jutil_str(cron, "kind");
    in.owner_name = jutil_path_str(cron, "metadata.name");
    in.owner_api_version = jutil_str(cron, "apiVersion");
    REQUIRE(inj_pod_inject(cfg, &in, &r) == 0 && r.injected);
    CHECK_STR(it_env(it_proxy(r.pod), "ISTIO_META_OWNER"),
              "kubernetes://apis/batch/v1/namespaces/batch-ns/cronjobs/"
              "hellocron");
    CHECK_CONTAINS(it_env(it_proxy(r.pod), "ISTIO_KUBE_APP_PROBERS"),
                   "{\"/app-health/hello/readyz\":{\"tcpSocket\":"
                   "{\"port\":8080}}}");
    inj_result_cleanup(&r);
    json_decref(cron);
    json_decref(dep);
    inj_config_free(cfg);
}
