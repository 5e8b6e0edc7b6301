/* test_probes.c: app probe rewriting and ISTIO_KUBE_APP_PROBERS. */
#include "tests/unit/harness.h"
#include "injector/probes.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdlib.h>

/* J parses JSON written with ' for " (test readability); NULL on error. */
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

/* D: compact dump in insertion order (so key order is checked too), into a
 * static rotating buffer. */
static const char *
D(const json_t *v)
{
    static char bufs[4][4096];
    static int k;
    char *s = jutil_dumps(v, 0);
    char *b = bufs[k++ % 4];

    snprintf(b, sizeof(bufs[0]), "%s", s ? s : "(null)");
    mem_free(s);
    return b;
}

static const char *
env_of(const json_t *probers)
{
    static char b[4096];
    char *s = NULL;

    if (inj_probes_env(probers, &s) != 0)
        return "(error)";
    snprintf(b, sizeof(b), "%s", s);
    mem_free(s);
    return b;
}

static const char *const proxy_skip[] = {"istio-proxy", "istio-init", NULL};

/* Istio's hello-probes.yaml shape: a named and a numeric HTTP port, an exec
 * probe, lifecycle preStop httpGet and postStart tcpSocket. */
static const char *hello_probes =
    "{'containers':["
    "{'name':'hello','image':'fake.docker.io/hello:1.0',"
    " 'ports':[{'name':'http','containerPort':80}],"
    " 'livenessProbe':{'httpGet':{'port':'http'}},"
    " 'readinessProbe':{'httpGet':{'port':3333}},"
    " 'lifecycle':{'preStop':{'httpGet':{'port':91}},"
    "              'postStart':{'tcpSocket':{'port':93}}}},"
    "{'name':'world','image':'fake.docker.io/world:1.0',"
    " 'ports':[{'name':'http','containerPort':90}],"
    " 'livenessProbe':{'httpGet':{'port':'http'}},"
    " 'readinessProbe':{'exec':{'command':['cat','/tmp/healthy']}}},"
    "{'name':'istio-proxy','image':'proxyv2',"
    " 'readinessProbe':{'httpGet':{'path':'/healthz/ready','port':15021}}}"
    "]}";

TEST(probes_hello_reference_env)
{
    json_t *spec = J(hello_probes), *probers = json_object(); /* owned */
    REQUIRE(spec != NULL && probers != NULL);

    CHECK_INT(inj_probes_rewrite(spec, proxy_skip, 15020, probers), 0);
    /* section 3.2 of the reference, byte for byte */
    CHECK_STR(env_of(probers),
              "{\"/app-health/hello/livez\":{\"httpGet\":{\"port\":80}},"
              "\"/app-health/hello/readyz\":{\"httpGet\":{\"port\":3333}},"
              "\"/app-health/world/livez\":{\"httpGet\":{\"port\":90}},"
              "\"/app-lifecycle/hello/poststartz\":{\"tcpSocket\":{\"port\":"
              "93}},"
              "\"/app-lifecycle/hello/prestopz\":{\"httpGet\":{\"port\":91}}}");

    json_t *hello = json_array_get(json_object_get(spec, "containers"), 0);
    json_t *world = json_array_get(json_object_get(spec, "containers"), 1);
    json_t *proxy = json_array_get(json_object_get(spec, "containers"), 2);
    CHECK_STR(D(json_object_get(hello, "livenessProbe")),
              "{\"httpGet\":{\"path\":\"/app-health/hello/livez\",\"port\":"
              "15020}}");
    CHECK_STR(D(json_object_get(hello, "readinessProbe")),
              "{\"httpGet\":{\"path\":\"/app-health/hello/readyz\",\"port\":"
              "15020}}");
    CHECK_STR(D(jutil_path(hello, "lifecycle.preStop")),
              "{\"httpGet\":{\"path\":\"/app-lifecycle/hello/prestopz\","
              "\"port\":15020}}");
    CHECK_STR(D(jutil_path(hello, "lifecycle.postStart")),
              "{\"httpGet\":{\"path\":\"/app-lifecycle/hello/poststartz\","
              "\"port\":15020}}");
    CHECK_STR(D(json_object_get(world, "readinessProbe")),
              "{\"exec\":{\"command\":[\"cat\",\"/tmp/healthy\"]}}");
    CHECK_STR(D(json_object_get(proxy, "readinessProbe")),
              "{\"httpGet\":{\"path\":\"/healthz/ready\",\"port\":15021}}");
    /* the container keeps its key order */
    const char *keys[6];
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(hello, k, v)
    {
        if (i < 6)
            keys[i++] = k;
    }
    REQUIRE(i == 6);
    CHECK_STR(keys[3], "livenessProbe");
    CHECK_STR(keys[4], "readinessProbe");
    CHECK_STR(keys[5], "lifecycle");
    json_decref(probers);
    json_decref(spec);
}

/* What the webhook sees: the API server has defaulted the probe. */
TEST(probes_defaulted_http_keeps_fields)
{
    json_t *spec = J("{'containers':[{'name':'app','livenessProbe':"
                     "{'failureThreshold':3,'httpGet':{'path':'/','port':8080,"
                     "'scheme':'HTTP'},'periodSeconds':10,'successThreshold':1,"
                     "'timeoutSeconds':1}}]}");
    json_t *probers = json_object();
    REQUIRE(spec != NULL && probers != NULL);

    CHECK_INT(inj_probes_rewrite(spec, NULL, 15020, probers), 0);
    CHECK_STR(env_of(probers),
              "{\"/app-health/app/livez\":{\"httpGet\":{\"path\":\"/\","
              "\"port\":8080,\"scheme\":\"HTTP\"},\"timeoutSeconds\":1}}");
    CHECK_STR(D(jutil_path(spec, "containers")),
              "[{\"name\":\"app\",\"livenessProbe\":{\"httpGet\":{\"path\":"
              "\"/app-health/app/livez\",\"port\":15020,\"scheme\":\"HTTP\"},"
              "\"failureThreshold\":3,\"periodSeconds\":10,"
              "\"successThreshold\":1,\"timeoutSeconds\":1}}]");
    json_decref(probers);
    json_decref(spec);
}

TEST(probes_https_host_headers)
{
    json_t *spec =
        J("{'containers':[{'name':'web','ports':[{'name':'https',"
          "'containerPort':8443}],'readinessProbe':{'httpGet':{"
          "'httpHeaders':[{'name':'X-A','value':'1'}],'scheme':'HTTPS',"
          "'host':'localhost','port':'https','path':'/ready?a=1&b=<2>'},"
          "'initialDelaySeconds':5,'timeoutSeconds':0}}]}");
    json_t *probers = json_object();
    REQUIRE(spec != NULL && probers != NULL);

    CHECK_INT(inj_probes_rewrite(spec, NULL, 15020, probers), 0);
    /* Go's field order and Go's HTML escaping; timeout 0 omitted */
    CHECK_STR(env_of(probers),
              "{\"/app-health/web/readyz\":{\"httpGet\":{\"path\":"
              "\"/ready?a=1\\u0026b=\\u003c2\\u003e\",\"port\":8443,\"host\":"
              "\"localhost\",\"scheme\":\"HTTPS\",\"httpHeaders\":[{\"name\":"
              "\"X-A\",\"value\":\"1\"}]}}}");
    /* rewritten: HTTPS -> HTTP, host and headers kept */
    CHECK_STR(D(jutil_path(json_array_get(jutil_arr(spec, "containers"), 0),
                           "readinessProbe")),
              "{\"httpGet\":{\"path\":\"/app-health/web/readyz\",\"port\":"
              "15020,\"httpHeaders\":[{\"name\":\"X-A\",\"value\":\"1\"}],"
              "\"scheme\":\"HTTP\",\"host\":\"localhost\"},"
              "\"initialDelaySeconds\":5,\"timeoutSeconds\":0}");
    json_decref(probers);
    json_decref(spec);
}

TEST(probes_grpc_and_tcp)
{
    json_t *spec =
        J("{'containers':[{'name':'g',"
          "'livenessProbe':{'grpc':{'port':1234}},"
          "'readinessProbe':{'grpc':{'port':1235,'service':'foo'},"
          "'timeoutSeconds':10},"
          "'startupProbe':{'tcpSocket':{'port':7070,'host':'10.0.0.1'},"
          "'periodSeconds':2},"
          "'lifecycle':{'preStop':{'grpc':{'port':1}}}}]}");
    json_t *probers = json_object();
    REQUIRE(spec != NULL && probers != NULL);

    CHECK_INT(inj_probes_rewrite(spec, NULL, 15020, probers), 0);
    CHECK_STR(env_of(probers),
              "{\"/app-health/g/livez\":{\"grpc\":{\"port\":1234,\"service\":"
              "null}},\"/app-health/g/readyz\":{\"grpc\":{\"port\":1235,"
              "\"service\":\"foo\"},\"timeoutSeconds\":10},"
              "\"/app-health/g/startupz\":{\"tcpSocket\":{\"port\":7070,"
              "\"host\":\"10.0.0.1\"}}}");
    json_t *g = json_array_get(jutil_arr(spec, "containers"), 0);
    CHECK_STR(D(json_object_get(g, "readinessProbe")),
              "{\"httpGet\":{\"path\":\"/app-health/g/readyz\",\"port\":"
              "15020},\"timeoutSeconds\":10}");
    CHECK_STR(D(json_object_get(g, "startupProbe")),
              "{\"httpGet\":{\"path\":\"/app-health/g/startupz\",\"port\":"
              "15020},\"periodSeconds\":2}");
    /* gRPC is not a lifecycle handler: left alone */
    CHECK_STR(D(jutil_path(g, "lifecycle.preStop")), "{\"grpc\":{\"port\":1}}");
    json_decref(probers);
    json_decref(spec);
}

TEST(probes_left_alone_cases)
{
    const char *orig =
        "{'initContainers':[{'name':'i','ports':[{'containerPort':81}],"
        "'livenessProbe':{'httpGet':{'port':'nope'}},"
        "'readinessProbe':{'httpGet':{'port':15020,'path':'/x'}},"
        "'startupProbe':{'httpGet':{'port':0}}}],"
        "'containers':[{'name':'c','livenessProbe':{'httpGet':{'port':70000}},"
        "'readinessProbe':{'httpGet':{'port':80,'path':5}},"
        "'startupProbe':{'tcpSocket':{'port':8.5}},"
        "'lifecycle':{'preStop':{'exec':{'command':['x']}},"
        "'postStart':{'sleep':{'seconds':1}}}},"
        "{'livenessProbe':{'httpGet':{'port':80}}},"
        "{'name':'a/b','livenessProbe':{'httpGet':{'port':80}}},"
        "{'name':'h','livenessProbe':{'httpGet':{'port':80,"
        "'httpHeaders':[{'name':1}]}},'readinessProbe':'x',"
        "'startupProbe':{'grpc':{'port':'named'}}},"
        "'notacontainer']}";
    json_t *spec = J(orig), *want = J(orig), *probers = json_object();
    REQUIRE(spec != NULL && want != NULL && probers != NULL);

    CHECK_INT(inj_probes_rewrite(spec, NULL, 15020, probers), 0);
    CHECK(json_equal(spec, want));
    CHECK_STR(env_of(probers), "{}");
    /* no status server: nothing at all */
    json_t *hello = J(hello_probes), *hello2 = J(hello_probes);
    CHECK_INT(inj_probes_rewrite(hello, NULL, 0, probers), 0);
    CHECK(json_equal(hello, hello2));
    CHECK_INT(json_object_size(probers), 0);
    /* not objects: nothing */
    CHECK_INT(inj_probes_rewrite(NULL, NULL, 15020, probers), 0);
    json_t *arr = json_array();
    CHECK_INT(inj_probes_rewrite(arr, NULL, 15020, probers), 0);
    json_decref(arr);
    json_decref(hello);
    json_decref(hello2);
    json_decref(probers);
    json_decref(want);
    json_decref(spec);
}

TEST(probes_numeric_string_port_and_last_name_wins)
{
    json_t *spec = J("{'containers':[{'name':'s','ports':["
                     "{'name':'web','containerPort':1},"
                     "{'name':'web','containerPort':8081}],"
                     "'livenessProbe':{'httpGet':{'port':'8080'}},"
                     "'readinessProbe':{'httpGet':{'port':'web'}}}]}");
    json_t *probers = json_object();
    REQUIRE(spec != NULL && probers != NULL);

    CHECK_INT(inj_probes_rewrite(spec, NULL, 15020, probers), 0);
    CHECK_STR(env_of(probers),
              "{\"/app-health/s/livez\":{\"httpGet\":{\"port\":8080}},"
              "\"/app-health/s/readyz\":{\"httpGet\":{\"port\":8081}}}");
    json_decref(probers);
    json_decref(spec);
}

TEST(probes_custom_status_port_and_init_containers)
{
    json_t *spec = J("{'initContainers':[{'name':'side',"
                     "'startupProbe':{'httpGet':{'port':15020}}}],"
                     "'containers':[{'name':'app',"
                     "'livenessProbe':{'tcpSocket':{'port':123}},"
                     "'readinessProbe':{'tcpSocket':{'port':9000}}}]}");
    json_t *probers = json_object();
    REQUIRE(spec != NULL && probers != NULL);

    CHECK_INT(inj_probes_rewrite(spec, proxy_skip, 123, probers), 0);
    /* 15020 is an app port now; 123 is the status port and stays */
    CHECK_STR(env_of(probers),
              "{\"/app-health/app/readyz\":{\"tcpSocket\":{\"port\":9000}},"
              "\"/app-health/side/startupz\":{\"httpGet\":{\"port\":"
              "15020}}}");
    CHECK_STR(D(jutil_path(json_array_get(jutil_arr(spec, "initContainers"), 0),
                           "startupProbe")),
              "{\"httpGet\":{\"path\":\"/app-health/side/startupz\","
              "\"port\":123}}");
    CHECK_STR(D(jutil_path(json_array_get(jutil_arr(spec, "containers"), 0),
                           "livenessProbe")),
              "{\"tcpSocket\":{\"port\":123}}");
    json_decref(probers);
    json_decref(spec);
}

TEST(probes_skip_list)
{
    json_t *spec = J(hello_probes), *probers = json_object();
    const char *const skip[] = {"hello", "istio-proxy", NULL};
    REQUIRE(spec != NULL && probers != NULL);

    CHECK_INT(inj_probes_rewrite(spec, skip, 15020, probers), 0);
    CHECK_STR(env_of(probers),
              "{\"/app-health/world/livez\":{\"httpGet\":{\"port\":90}}}");
    CHECK_STR(D(jutil_path(json_array_get(jutil_arr(spec, "containers"), 0),
                           "readinessProbe")),
              "{\"httpGet\":{\"port\":3333}}");
    json_decref(probers);
    json_decref(spec);
}

/* Istio's merge-probers case: a re-injected pod keeps its old entries (its
 * probes already point at the status port) and a new container is added. */
TEST(probes_reinjection_merge)
{
    json_t *spec = J(hello_probes), *probers = json_object();
    char *first = NULL;
    REQUIRE(spec != NULL && probers != NULL);

    CHECK_INT(inj_probes_rewrite(spec, proxy_skip, 15020, probers), 0);
    CHECK_INT(inj_probes_env(probers, &first), 0);
    json_t *snapshot = json_deep_copy(spec);
    json_decref(probers);

    /* second pass over the rewritten pod: idempotent */
    probers = json_object();
    CHECK_INT(inj_probes_load(probers, first), 0);
    CHECK_INT(inj_probes_rewrite(spec, proxy_skip, 15020, probers), 0);
    CHECK(json_equal(spec, snapshot));
    CHECK_STR(env_of(probers), first);

    /* a new container joins; an old entry differs from what the pod shows
     * now and must win */
    json_decref(probers);
    probers = json_object();
    CHECK_INT(inj_probes_load(probers,
                              "{\"/app-health/new/livez\":{\"httpGet\":{"
                              "\"port\":1}},\"bogus\":5}"),
              0);
    json_t *nc = J("{'name':'new','livenessProbe':{'httpGet':{'port':2}},"
                   "'readinessProbe':{'httpGet':{'port':3}}}");
    json_array_append_new(jutil_arr(spec, "containers"), nc);
    CHECK_INT(inj_probes_rewrite(spec, proxy_skip, 15020, probers), 0);
    CHECK_STR(env_of(probers),
              "{\"/app-health/new/livez\":{\"httpGet\":{\"port\":1}},"
              "\"/app-health/new/readyz\":{\"httpGet\":{\"port\":3}}}");
    /* copy on write: the container was replaced by its rewritten copy */
    nc = json_array_get(jutil_arr(spec, "containers"),
                        json_array_size(jutil_arr(spec, "containers")) - 1);
    CHECK_STR(D(json_object_get(nc, "livenessProbe")),
              "{\"httpGet\":{\"path\":\"/app-health/new/livez\",\"port\":"
              "15020}}");
    mem_free(first);
    json_decref(snapshot);
    json_decref(probers);
    json_decref(spec);
}

/* Containers and handlers shared with another document are not edited:
 * the rewrite replaces them by private copies in the spec's own lists. */
TEST(probes_copy_on_write)
{
    json_t *orig = J(hello_probes), *probers = json_object();
    json_t *before = json_deep_copy(orig);
    json_t *spec = json_object(), *list = json_array();
    size_t i;
    json_t *c;
    REQUIRE(orig && probers && before && spec && list);

    /* a spec sharing every container (and so every probe) with orig */
    json_array_foreach(jutil_arr(orig, "containers"), i, c)
        json_array_append(list, c);
    json_object_set_new(spec, "containers", list);
    CHECK_INT(inj_probes_rewrite(spec, proxy_skip, 15020, probers), 0);
    CHECK(json_equal(orig, before));
    CHECK(json_object_size(probers) == 5);
    CHECK_STR(
        jutil_path_str(json_array_get(list, 0), "livenessProbe.httpGet.path"),
        "/app-health/hello/livez");
    json_decref(spec);
    json_decref(before);
    json_decref(probers);
    json_decref(orig);
}

TEST(probes_load_errors)
{
    json_t *probers = json_object();
    REQUIRE(probers != NULL);
    CHECK_INT(inj_probes_load(probers, NULL), 0);
    CHECK_INT(inj_probes_load(probers, ""), 0);
    CHECK_INT(inj_probes_load(probers, "{"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "ISTIO_KUBE_APP_PROBERS");
    CHECK_INT(inj_probes_load(probers, "[1]"), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "not an object");
    CHECK_INT(inj_probes_load(probers, "{\"a\":[[[[[[[[[[1]]]]]]]]]]}"),
              RC_LIMIT);
    CHECK_INT(json_object_size(probers), 0);
    json_decref(probers);
}

TEST(probes_env_go_escaping)
{
    json_t *m = J("{'b':{'httpGet':{'path':'/\\u2028\\u001f\\u2029'}},"
                  "'a':{'tcpSocket':{'port':1}},'B':{'x':'<&>'}}");
    REQUIRE(m != NULL);
    CHECK_STR(env_of(m), "{\"B\":{\"x\":\"\\u003c\\u0026\\u003e\"},"
                         "\"a\":{\"tcpSocket\":{\"port\":1}},"
                         "\"b\":{\"httpGet\":{\"path\":"
                         "\"/\\u2028\\u001f\\u2029\"}}}");
    json_decref(m);
    json_t *e = json_object();
    CHECK_STR(env_of(e), "{}");
    json_decref(e);
    char *s = (char *)"x";
    json_t *arr = json_array();
    CHECK_INT(inj_probes_env(arr, &s), RC_INVAL);
    CHECK(s == NULL);
    json_decref(arr);
}

/* Fault injection: every allocation failure gives RC_NOMEM and no leak,
 * and once enough memory is there the result is the normal one. */
TEST(probes_nomem)
{
    json_t *want_spec = J(hello_probes), *want = json_object();
    char *want_env = NULL;
    int ok = 0;
    long fails = 0;
    REQUIRE(want_spec != NULL && want != NULL);
    REQUIRE(inj_probes_rewrite(want_spec, proxy_skip, 15020, want) == 0);
    REQUIRE(inj_probes_env(want, &want_env) == 0);

    for (long i = 1; i < 400 && !ok; i++) {
        json_t *spec = J(hello_probes), *probers = json_object();
        char *env = NULL;
        REQUIRE(spec != NULL && probers != NULL);
        mem_fail_set(i);
        int rc = inj_probes_rewrite(spec, proxy_skip, 15020, probers);
        if (rc == 0)
            rc = inj_probes_env(probers, &env);
        mem_fail_set(0);
        if (rc == 0) {
            ok = 1;
            CHECK(json_equal(spec, want_spec));
            CHECK_STR(env, want_env);
        } else {
            CHECK_INT(rc, RC_NOMEM);
            CHECK(env == NULL);
            fails++;
        }
        mem_free(env);
        json_decref(probers);
        json_decref(spec);
    }
    CHECK(ok);
    CHECK(fails > 20); /* the error paths were really reached */
    for (long i = 1; i < 50; i++) {
        json_t *p = json_object();
        mem_fail_set(i);
        int rc = inj_probes_load(p, want_env);
        mem_fail_set(0);
        CHECK(rc == 0 || rc == RC_NOMEM);
        json_decref(p);
        if (rc == 0)
            break;
    }
    mem_free(want_env);
    json_decref(want);
    json_decref(want_spec);
}
