/* informer_tool.c: a test-only front end of lib/informer + lib/kubewatch:
 * runs one informer and prints what its handlers see, as JSON lines on
 * stdout, so e2e scripts can compare it with the server.
 *
 *   informer_tool --kubeconfig FILE --resource configmaps|pods|leases
 *                 [--namespace NS] [--selector LABELS]
 *                 [--field NAME=PATH]...   (kept in the slim object)
 *                 [--idle-ms N] [--watch-timeout S] [--resync-ms N]
 *
 * Lines: {"ev":"add"|"update"|"delete","key":..,"rv":..,"f":{NAME:..}}
 * ("unknown":true on a relist's synthetic delete; "old_rv" on updates),
 * {"ev":"synced","count":N} once, and on SIGUSR1 a dump
 * {"ev":"store","objects":{KEY:RV,...},"stats":{...}}. SIGTERM/SIGINT stop
 * it cleanly (exit 0). Logs go to stderr. */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/informer.h"
#include "lib/jutil.h"
#include "lib/kubecfg.h"
#include "lib/kubeclient.h"
#include "lib/kubewatch.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 16

static const char *fname[MAX_FIELDS], *fpath[MAX_FIELDS];
static const char *paths[MAX_FIELDS + 1];
static int nfields;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void
emit_line(json_t *j) /* steals j */
{
    char *s = jutil_dumps(j, JSON_SORT_KEYS);

    json_decref(j);
    if (s == NULL)
        return;
    pthread_mutex_lock(&out_mu);
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
    mem_free(s);
}

static json_t *
describe(const char *ev, const struct inf_obj *o)
{
    json_t *j = json_pack("{s:s,s:s,s:s}", "ev", ev, "key", inf_obj_key(o),
                          "rv", inf_obj_rv(o));
    json_t *f = json_object();

    for (int i = 0; i < nfields && f; i++) {
        const char *v = inf_obj_field(o, fname[i]);
        if (v)
            json_object_set_new(f, fname[i], json_string(v));
    }
    if (j && f)
        json_object_set_new(j, "f", f);
    else
        json_decref(f);
    return j;
}

static void
on_add(void *ud, const struct inf_obj *o)
{
    emit_line(describe("add", o));
}

static void
on_update(void *ud, const struct inf_obj *old, const struct inf_obj *cur)
{
    json_t *j = describe(old == cur ? "resync" : "update", cur);

    if (j)
        json_object_set_new(j, "old_rv", json_string(inf_obj_rv(old)));
    emit_line(j);
}

static void
on_delete(void *ud, const struct inf_obj *o, int unknown)
{
    json_t *j = describe("delete", o);

    if (j && unknown)
        json_object_set_new(j, "unknown", json_true());
    emit_line(j);
}

static int
project(void *ud, const json_t *obj, struct buf *blob)
{
    for (int i = 0; i < nfields; i++) {
        json_t *v = jutil_path(obj, fpath[i]); /* borrowed */
        char num[32];
        const char *s = json_string_value(v);
        int rc;
        if (v == NULL)
            continue;
        if (s == NULL && json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld",
                     (long long)json_integer_value(v));
            s = num;
        }
        if (s && (rc = inf_blob_field(blob, fname[i], s)) != 0)
            return rc;
    }
    return 0;
}

static int
dump_one(void *ud, const struct inf_obj *o)
{
    json_object_set_new(ud, inf_obj_key(o), json_string(inf_obj_rv(o)));
    return 0;
}

static void
dump(struct informer *inf, struct kube_watch_loop *loop)
{
    json_t *objs = json_object(), *j;
    struct inf_stats st;
    struct kube_watch_stats ws;

    inf_foreach(inf, dump_one, objs);
    inf_get_stats(inf, &st);
    kube_watch_loop_stats(loop, &ws);
    j = json_pack(
        "{s:s,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}}", "ev", "store",
        "objects", objs, "stats", "lists", (json_int_t)st.lists, "relists",
        (json_int_t)st.relists, "objects", (json_int_t)st.objects, "bytes",
        (json_int_t)st.bytes, "events", (json_int_t)ws.events, "bookmarks",
        (json_int_t)ws.bookmarks, "starts", (json_int_t)ws.starts, "stalls",
        (json_int_t)ws.stalls, "gone", (json_int_t)ws.gone, "failures",
        (json_int_t)ws.failures);
    if (j)
        emit_line(j);
}

static const struct kube_res *
resource(const char *name)
{
    if (strcmp(name, "configmaps") == 0)
        return &KUBE_CONFIGMAPS;
    if (strcmp(name, "pods") == 0)
        return &KUBE_PODS;
    if (strcmp(name, "leases") == 0)
        return &KUBE_LEASES;
    if (strcmp(name, "services") == 0)
        return &KUBE_SERVICES;
    return NULL;
}

static int
usage(void)
{
    fputs("usage: informer_tool --kubeconfig FILE --resource R [--namespace "
          "NS] [--selector S] [--field NAME=PATH]... [--idle-ms N] "
          "[--watch-timeout S] [--resync-ms N]\n",
          stderr);
    return 2;
}

int
main(int argc, char **argv)
{
    const char *kc = NULL, *res = NULL, *ns = NULL, *sel = NULL;
    struct kube_watch_opts wo = {0};
    struct inf_opts io = {0};
    struct inf_handlers h = {on_add, on_update, on_delete, NULL};
    struct kube_config *cfg = NULL;
    struct kube_client *c = NULL;
    struct kube_watch_loop *loop = NULL;
    struct informer *inf = NULL;
    struct log_opts lo = {0};
    sigset_t set;
    int rc, status = 1, synced_said = 0;

    mem_init_jansson();
    lo.fd = 2;
    lo.level = LOG_INFO;
    log_init(&lo);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            return usage();
        i++;
        if (strcmp(a, "--kubeconfig") == 0) {
            kc = v;
        } else if (strcmp(a, "--resource") == 0) {
            res = v;
        } else if (strcmp(a, "--namespace") == 0) {
            ns = v;
        } else if (strcmp(a, "--selector") == 0) {
            sel = v;
        } else if (strcmp(a, "--field") == 0 && nfields < MAX_FIELDS) {
            char *eq = strchr(v, '=');
            if (eq == NULL)
                return usage();
            *eq = 0;
            fname[nfields] = v;
            fpath[nfields] = eq + 1;
            paths[nfields] = eq + 1;
            nfields++;
        } else if (strcmp(a, "--idle-ms") == 0) {
            wo.idle_timeout_ms = (int)strtol(v, NULL, 10);
        } else if (strcmp(a, "--watch-timeout") == 0) {
            wo.min_timeout_s = wo.max_timeout_s = (int)strtol(v, NULL, 10);
        } else if (strcmp(a, "--resync-ms") == 0) {
            io.resync_ms = (int)strtol(v, NULL, 10);
        } else {
            return usage();
        }
    }
    if (kc == NULL || res == NULL || resource(res) == NULL)
        return usage();
    /* signals are taken by sigtimedwait in main only */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    io.res = resource(res);
    io.ns = ns;
    io.label_selector = sel;
    io.paths = paths;
    io.project = project;
    if ((rc = kube_config_from_file(&cfg, kc, NULL)) != 0 ||
        (rc = kube_client_new(&c, cfg, NULL)) != 0 ||
        (rc = kube_watch_loop_new(&loop, c, &wo)) != 0 ||
        (rc = inf_new(&inf, &io)) != 0)
        goto done;
    inf_set_handlers(inf, &h);
    if ((rc = kube_watch_loop_start(loop)) != 0 ||
        (rc = inf_start(inf, c, loop)) != 0)
        goto done;
    for (;;) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (!synced_said && inf_has_synced(inf)) {
            synced_said = 1;
            emit_line(json_pack("{s:s,s:I}", "ev", "synced", "count",
                                (json_int_t)inf_count(inf)));
        }
        if (sig == SIGUSR1)
            dump(inf, loop);
        else if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    status = 0;
done:
    if (rc != 0)
        fprintf(stderr, "informer_tool: %s: %s\n", rc_str(rc), errmsg_get());
    inf_stop(inf);
    kube_watch_loop_stop(loop);
    inf_free(inf);
    kube_watch_loop_free(loop);
    kube_client_free(c);
    kube_config_free(cfg);
    log_shutdown();
    return status;
}
