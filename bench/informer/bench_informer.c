/* bench_informer.c: the informer's event path in-process, against the
 * baseline of plain JSON parsing of the same watch lines, in the same run.
 *
 * 10k realistic pod watch events (~4.5 KB of JSON each, managedFields
 * included) are generated in memory: one ADDED per pod, then rounds of
 * MODIFIED. Measured on the calling thread's CPU clock (the host is shared):
 *   baseline  jutil_parse + json_decref of every line (what any consumer
 *             that builds the whole document pays first);
 *   informer  kube_watch_event_parse with the informer's selection ->
 *             projection -> store + indexes (namespace, service account) ->
 *             handlers (a counter), i.e. the live watch path minus curl;
 * and memory per pod (malloc in-use bytes from mallinfo2, plus RSS):
 *   informer  slim store after all events (objects, hash, index buckets);
 *   baseline  the 10k full json_t documents held in memory.
 * Goals from issue 4: >= 50k events/s on one core, <= 1.5 KB per pod
 * (controller-runtime keeps ~36 KiB per pod). */
#include "lib/buf.h"
#include "lib/informer.h"
#include "lib/jsel.h"
#include "lib/jutil.h"
#include "lib/kubeclient.h"
#include "lib/kubewatch.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NPODS 10000
#define ROUNDS 3

static char **added, **modified;
static size_t *added_len, *modified_len;
static size_t total_bytes;

static void
gen_pod(struct buf *b, int i, const char *type, int rv, const char *phase)
{
    int ns = i % 50, node = i % 100;

    buf_reset(b);
    buf_addf(
        b,
        "{\"type\":\"%s\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
        "\"metadata\":{\"name\":\"web-%d-7d9f8c6b5-x%05d\",\"generateName\":"
        "\"web-%d-7d9f8c6b5-\",\"namespace\":\"team-%02d\",\"uid\":"
        "\"4b1e0c9a-%04x-4cde-8f00-%012x\",\"resourceVersion\":\"%d\","
        "\"creationTimestamp\":\"2024-05-01T10:00:00Z\",\"labels\":{\"app\":"
        "\"web-%d\",\"pod-template-hash\":\"7d9f8c6b5\",\"version\":\"v1\","
        "\"security.istio.io/tlsMode\":\"istio\","
        "\"service.istio.io/canonical-name\":\"web-%d\"},\"annotations\":{"
        "\"sidecar.istio.io/status\":\"{\\\"initContainers\\\":[\\\"istio-"
        "init\\\"],\\\"containers\\\":[\\\"istio-proxy\\\"],\\\"volumes\\\":["
        "\\\"istio-envoy\\\",\\\"istio-data\\\",\\\"istio-podinfo\\\",\\\""
        "istio-token\\\",\\\"istiod-ca-cert\\\"],\\\"revision\\\":\\\"default"
        "\\\"}\",\"prometheus.io/scrape\":\"true\",\"prometheus.io/port\":"
        "\"15020\"},\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":"
        "\"ReplicaSet\",\"name\":\"web-%d-7d9f8c6b5\",\"uid\":\"aaaa-bbbb-%d\","
        "\"controller\":true,\"blockOwnerDeletion\":true}],\"managedFields\":"
        "[{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\","
        "\"apiVersion\":\"v1\",\"time\":\"2024-05-01T10:00:00Z\","
        "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{"
        "\"f:generateName\":{},\"f:labels\":{\".\":{},\"f:app\":{},"
        "\"f:pod-template-hash\":{}},\"f:ownerReferences\":{\".\":{},"
        "\"k:{\\\"uid\\\":\\\"aaaa\\\"}\":{}}},\"f:spec\":{\"f:containers\":{"
        "\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":"
        "{},\"f:ports\":{}}}}}},{\"manager\":\"kubelet\",\"operation\":"
        "\"Update\",\"apiVersion\":\"v1\",\"time\":\"2024-05-01T10:00:05Z\","
        "\"fieldsType\":\"FieldsV1\",\"subresource\":\"status\",\"fieldsV1\":{"
        "\"f:status\":{\"f:conditions\":{},\"f:containerStatuses\":{},"
        "\"f:hostIP\":{},\"f:phase\":{},\"f:podIP\":{},\"f:podIPs\":{},"
        "\"f:startTime\":{}}}}]},",
        type, ns, i, ns, ns, i & 0xffff, i, rv, ns, ns, ns, ns);
    buf_addf(
        b,
        "\"spec\":{\"serviceAccountName\":\"web-%d\",\"nodeName\":\"node-%d\","
        "\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.25\",\"ports\":"
        "[{\"containerPort\":8080,\"name\":\"http\",\"protocol\":\"TCP\"}],"
        "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}},"
        "\"env\":[{\"name\":\"E0\",\"value\":\"v0\"},{\"name\":\"E1\","
        "\"value\":\"v1\"}],\"volumeMounts\":[{\"name\":\"kube-api-access\","
        "\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\","
        "\"readOnly\":true}]},{\"name\":\"istio-proxy\",\"image\":"
        "\"docker.io/istio/proxyv2:1.22.0\",\"args\":[\"proxy\",\"sidecar\","
        "\"--domain\",\"$(POD_NAMESPACE).svc.cluster.local\","
        "\"--proxyLogLevel=warning\"],\"ports\":[{\"containerPort\":15090,"
        "\"name\":\"http-envoy-prom\",\"protocol\":\"TCP\"}],\"env\":[{"
        "\"name\":\"JWT_POLICY\",\"value\":\"third-party-jwt\"},{\"name\":"
        "\"CA_ADDR\",\"value\":\"istiod.istio-system.svc:15012\"},{\"name\":"
        "\"POD_NAME\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\","
        "\"fieldPath\":\"metadata.name\"}}},{\"name\":\"INSTANCE_IP\","
        "\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":"
        "\"status.podIP\"}}}],\"readinessProbe\":{\"httpGet\":{\"path\":"
        "\"/healthz/ready\",\"port\":15021},\"initialDelaySeconds\":1,"
        "\"periodSeconds\":2},\"securityContext\":{\"runAsUser\":1337,"
        "\"runAsGroup\":1337,\"runAsNonRoot\":true,\"readOnlyRootFilesystem\":"
        "true},\"volumeMounts\":[{\"name\":\"istio-envoy\",\"mountPath\":"
        "\"/etc/istio/proxy\"},{\"name\":\"istio-token\",\"mountPath\":"
        "\"/var/run/secrets/tokens\"}]}],\"volumes\":[{\"name\":"
        "\"istio-envoy\",\"emptyDir\":{\"medium\":\"Memory\"}},{\"name\":"
        "\"istio-token\",\"projected\":{\"sources\":[{\"serviceAccountToken\":"
        "{\"audience\":\"istio-ca\",\"expirationSeconds\":43200,\"path\":"
        "\"istio-token\"}}]}}],\"restartPolicy\":\"Always\",\"dnsPolicy\":"
        "\"ClusterFirst\",\"terminationGracePeriodSeconds\":30},",
        ns, node);
    buf_addf(
        b,
        "\"status\":{\"phase\":\"%s\",\"podIP\":\"10.%d.%d.%d\",\"podIPs\":[{"
        "\"ip\":\"10.%d.%d.%d\"}],\"hostIP\":\"192.168.1.%d\",\"startTime\":"
        "\"2024-05-01T10:00:01Z\",\"qosClass\":\"Burstable\",\"conditions\":["
        "{\"type\":\"Initialized\",\"status\":\"True\","
        "\"lastTransitionTime\":\"2024-05-01T10:00:05Z\"},{\"type\":"
        "\"Ready\",\"status\":\"True\",\"lastTransitionTime\":"
        "\"2024-05-01T10:00:05Z\"},{\"type\":\"ContainersReady\",\"status\":"
        "\"True\",\"lastTransitionTime\":\"2024-05-01T10:00:05Z\"},{\"type\":"
        "\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":"
        "\"2024-05-01T10:00:00Z\"}],\"containerStatuses\":[{\"name\":\"web\","
        "\"ready\":true,\"restartCount\":0,\"image\":\"nginx:1.25\","
        "\"imageID\":\"docker-pullable://nginx@sha256:"
        "0000000000000000000000000000000000000000000000000000000000000000\","
        "\"containerID\":\"containerd://"
        "1111111111111111111111111111111111111111111111111111111111111111\","
        "\"started\":true,\"state\":{\"running\":{\"startedAt\":"
        "\"2024-05-01T10:00:03Z\"}}},{\"name\":\"istio-proxy\",\"ready\":true,"
        "\"restartCount\":0,\"image\":\"proxyv2\",\"imageID\":\"x\","
        "\"containerID\":\"containerd://2222\",\"started\":true,\"state\":{"
        "\"running\":{\"startedAt\":\"2024-05-01T10:00:03Z\"}}}]}}}",
        phase, (i >> 16) & 255, (i >> 8) & 255, i & 255, (i >> 16) & 255,
        (i >> 8) & 255, i & 255, node);
}

static double
cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
wall_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

static long
rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- the informer's user: projection, index, handlers ---- */

static const char *const paths[] = {"spec.serviceAccountName", "spec.nodeName",
                                    "status.podIP", "status.phase", NULL};
static unsigned long handled, key_hash;

static int
project(void *ud, const json_t *obj, struct buf *blob)
{
    const char *v[4] = {jutil_path_str(obj, "spec.serviceAccountName"),
                        jutil_path_str(obj, "spec.nodeName"),
                        jutil_path_str(obj, "status.podIP"),
                        jutil_path_str(obj, "status.phase")};
    const char *n[4] = {"sa", "node", "ip", "phase"};
    int rc = 0;

    for (int i = 0; i < 4 && rc == 0; i++)
        if (v[i])
            rc = inf_blob_field(blob, n[i], v[i]);
    return rc;
}

static int
sa_index(void *ud, const struct inf_obj *o, inf_emit_fn emit, void *ctx)
{
    const char *sa = inf_obj_field(o, "sa");

    return sa ? emit(ctx, sa) : 0;
}

static void
touch(const struct inf_obj *o)
{
    handled++;
    key_hash = key_hash * 31 + (unsigned char)inf_obj_key(o)[0];
}

static void
on_add(void *ud, const struct inf_obj *o)
{
    touch(o);
}

static void
on_update(void *ud, const struct inf_obj *old, const struct inf_obj *cur)
{
    touch(cur);
}

static void
on_delete(void *ud, const struct inf_obj *o, int unknown)
{
    touch(o);
}

static int
feed(struct informer *inf, char **lines, size_t *lens)
{
    const struct jsel *sel = inf_selection(inf);

    for (int i = 0; i < NPODS; i++) {
        struct kube_watch_event ev;
        int rc = kube_watch_event_parse(&ev, lines[i], lens[i], sel, 0);
        if (rc == 0)
            rc = inf_apply(inf, ev.type, ev.object);
        kube_watch_event_cleanup(&ev);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
main(void)
{
    struct buf b;
    struct inf_opts io = {0};
    struct inf_handlers h = {on_add, on_update, on_delete, NULL};
    struct informer *inf = NULL;
    struct inf_stats st;
    json_t **docs;
    double c0, c1, w0, w1, base_rate, inf_rate, add_rate;
    size_t h0, h_inf, h_full;
    long r0, r_inf, r_full;
    int rc;

    mem_init_jansson();
    buf_init(&b, 0);
    added = calloc(NPODS, sizeof(*added));
    modified = calloc(NPODS, sizeof(*modified));
    added_len = calloc(NPODS, sizeof(size_t));
    modified_len = calloc(NPODS, sizeof(size_t));
    docs = calloc(NPODS, sizeof(*docs));
    if (!added || !modified || !added_len || !modified_len || !docs)
        return 1;
    for (int i = 0; i < NPODS; i++) {
        gen_pod(&b, i, "ADDED", 1000 + i, "Pending");
        added[i] = strdup(b.ptr);
        added_len[i] = b.len;
        gen_pod(&b, i, "MODIFIED", 20000 + i, "Running");
        modified[i] = strdup(b.ptr);
        modified_len[i] = b.len;
        total_bytes += added_len[i] + modified_len[i];
    }
    buf_cleanup(&b);
    printf("bench-informer: %d pods, %.0f bytes of JSON per event on "
           "average, %d rounds of MODIFIED\n",
           NPODS, (double)total_bytes / (2.0 * NPODS), ROUNDS);

    /* warm-up: one pass of each, so both sides start from warm caches */
    for (int i = 0; i < 1000; i++) {
        json_t *v = NULL;
        jutil_parse(&v, modified[i], modified_len[i], NULL);
        json_decref(v);
    }

    /* baseline: parse + free every MODIFIED line, ROUNDS times */
    c0 = cpu_s();
    w0 = wall_s();
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < NPODS; i++) {
            json_t *v = NULL;
            if (jutil_parse(&v, modified[i], modified_len[i], NULL) != 0)
                return 1;
            json_decref(v);
        }
    c1 = cpu_s();
    w1 = wall_s();
    base_rate = ROUNDS * NPODS / (c1 - c0);
    printf("  baseline json parse+free : %9.0f events/s (cpu), %9.0f "
           "events/s (wall)\n",
           base_rate, ROUNDS * NPODS / (w1 - w0));

    /* the informer */
    malloc_trim(0);
    h0 = heap_used();
    r0 = rss_kb();
    io.res = &KUBE_PODS;
    io.paths = paths;
    io.project = project;
    if ((rc = inf_new(&inf, &io)) != 0 ||
        (rc = inf_add_index(inf, "sa", sa_index, NULL)) != 0)
        return 1;
    inf_set_handlers(inf, &h);
    c0 = cpu_s();
    if ((rc = feed(inf, added, added_len)) != 0) {
        fprintf(stderr, "feed: %s\n", rc_str(rc));
        return 1;
    }
    c1 = cpu_s();
    add_rate = NPODS / (c1 - c0);
    c0 = cpu_s();
    w0 = wall_s();
    for (int r = 0; r < ROUNDS; r++)
        if (feed(inf, modified, modified_len) != 0)
            return 1;
    c1 = cpu_s();
    w1 = wall_s();
    inf_rate = ROUNDS * NPODS / (c1 - c0);
    malloc_trim(0);
    h_inf = heap_used() - h0;
    r_inf = rss_kb() - r0;
    inf_get_stats(inf, &st);
    printf("  informer ADDED           : %9.0f events/s (cpu)\n", add_rate);
    printf("  informer MODIFIED        : %9.0f events/s (cpu), %9.0f "
           "events/s (wall)  = %.1fx the parse-only baseline\n",
           inf_rate, ROUNDS * NPODS / (w1 - w0), inf_rate / base_rate);
    printf("  handler calls %lu (check %lu), objects %zu\n", handled,
           key_hash % 10, st.objects);
    printf("  informer memory per pod  : %7.0f bytes heap (objects alone "
           "%.0f), RSS delta %.0f bytes\n",
           (double)h_inf / NPODS, (double)st.bytes / NPODS,
           (double)r_inf * 1024 / NPODS);
    inf_free(inf);
    malloc_trim(0);

    /* baseline memory: the full documents held */
    h0 = heap_used();
    r0 = rss_kb();
    for (int i = 0; i < NPODS; i++)
        if (jutil_parse(&docs[i], modified[i], modified_len[i], NULL) != 0)
            return 1;
    h_full = heap_used() - h0;
    r_full = rss_kb() - r0;
    printf("  full json_t per pod      : %7.0f bytes heap, RSS delta %.0f "
           "bytes  = %.0fx the informer\n",
           (double)h_full / NPODS, (double)r_full * 1024 / NPODS,
           (double)h_full / (double)h_inf);
    for (int i = 0; i < NPODS; i++)
        json_decref(docs[i]);
    printf("  goals: >= 50000 events/s on one core: %s; <= 1536 bytes per "
           "pod: %s\n",
           inf_rate >= 50000 ? "met" : "NOT met",
           (double)h_inf / NPODS <= 1536 ? "met" : "NOT met");
    for (int i = 0; i < NPODS; i++) {
        free(added[i]);
        free(modified[i]);
    }
    free(added);
    free(modified);
    free(added_len);
    free(modified_len);
    free(docs);
    return 0;
}
