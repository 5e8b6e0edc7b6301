/* kubeclient_tool.c: a test-only front end of lib/kubecfg and
 * lib/kubeclient for e2e scripts (e2e/t_kubeclient.sh).
 *
 *   kubeclient_tool [-k KUBECONFIG] [-c CONTEXT] [-i ROOT] [-r RETRIES]
 *                   COMMAND ARGS...
 *     -k  kubeconfig path (colon list allowed); default: kube_config_auto
 *     -c  context (with -k); -i in-cluster config with ROOT prepended
 *     -r  max retries (-1: none)
 *   config                         resolved config, secrets as "set"/"-"
 *   get RES NS NAME                the object (compact JSON)
 *   list RES NS [LIMIT [LABELSEL]] "items=N unique=M rv=RV"
 *   create RES NS JSON             the created object
 *   bulk RES NS PREFIX N           creates N ConfigMaps PREFIX-<i>
 *   patch RES NS NAME TYPE JSON    TYPE merge|json|strategic|apply
 *   delete RES NS NAME [RV]
 *   incr NS NAME N                 N read-modify-write increments of
 *                                  data.count of a ConfigMap; prints
 *                                  "conflicts=K"
 *   request METHOD PATH [JSON]     raw call, prints the answer
 *
 * NS "-" means none (cluster scope / all namespaces). On failure prints
 * "error: RC_X http=N reason=R: message" on stderr and exits 1; 2 for bad
 * usage. */
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/kubecfg.h"
#include "lib/kubeclient.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
fail(int rc)
{
    const struct kube_status *st = kube_last_status();

    fprintf(stderr, "error: %s http=%d reason=%s: %s\n", rc_str(rc),
            st->http_code, st->reason[0] ? st->reason : "-", errmsg_get());
    return 1;
}

static int
usage(void)
{
    fprintf(stderr, "usage: kubeclient_tool [-k KUBECONFIG] [-c CONTEXT] "
                    "[-i ROOT] [-r RETRIES] COMMAND ARGS...\n");
    return 2;
}

static const char *
ns_arg(const char *s)
{
    return strcmp(s, "-") == 0 ? NULL : s;
}

static int
print_json(json_t *v)
{
    char *s = jutil_dumps(v, 0);

    if (s == NULL)
        return 1;
    printf("%s\n", s);
    mem_free(s);
    return 0;
}

static int
parse_arg(json_t **out, const char *text)
{
    int rc = jutil_parse(out, text, strlen(text), NULL);

    if (rc != 0)
        fprintf(stderr, "bad JSON argument: %s\n", errmsg_get());
    return rc;
}

struct counter {
    long items;
    json_t *names; /* owned: a set of ns/name */
};

static int
count_item(void *ud, json_t *item)
{
    struct counter *ct = ud;
    char key[600];

    ct->items++;
    snprintf(key, sizeof(key), "%s/%s",
             jutil_path_str(item, "metadata.namespace")
                 ? jutil_path_str(item, "metadata.namespace")
                 : "",
             jutil_path_str(item, "metadata.name")
                 ? jutil_path_str(item, "metadata.name")
                 : "");
    return json_object_set_new(ct->names, key, json_true()) ? RC_NOMEM : 0;
}

static int
cmd_incr(struct kube_client *c, const char *ns, const char *name, long n)
{
    long conflicts = 0;

    for (long i = 0; i < n; i++) {
        for (;;) {
            json_t *obj = NULL, *data; /* owned, borrowed */
            const char *v;
            char num[32];
            int rc = kube_get(c, &KUBE_CONFIGMAPS, ns, name, &obj);
            if (rc != 0)
                return fail(rc);
            data = jutil_obj_ensure(obj, "data");
            v = data ? jutil_str(data, "count") : NULL;
            snprintf(num, sizeof(num), "%ld",
                     (v ? strtol(v, NULL, 10) : 0) + 1);
            if (data == NULL || jutil_set_str(data, "count", num) != 0) {
                json_decref(obj);
                return fail(RC_NOMEM);
            }
            rc = kube_update(c, &KUBE_CONFIGMAPS, ns, name, NULL, obj, NULL);
            json_decref(obj);
            if (rc == RC_CONFLICT) {
                conflicts++;
                continue;
            }
            if (rc != 0)
                return fail(rc);
            break;
        }
    }
    printf("conflicts=%ld\n", conflicts);
    return 0;
}

static int
run(struct kube_client *c, int argc, char **argv)
{
    const char *cmd = argv[0];
    const struct kube_res *r = argc > 1 ? kube_res_find(argv[1]) : NULL;
    json_t *obj = NULL, *arg = NULL; /* owned */
    int rc = 0, ret = 0;

    if (strcmp(cmd, "request") == 0 && argc >= 3) {
        const char *body = argc > 3 ? argv[3] : NULL;
        rc = kube_request(c, argv[1], argv[2], "application/json", body,
                          body ? strlen(body) : 0, &obj);
        if (rc != 0)
            return fail(rc);
        ret = print_json(obj);
        json_decref(obj);
        return ret;
    }
    if (strcmp(cmd, "incr") == 0 && argc == 4)
        return cmd_incr(c, argv[1], argv[2], strtol(argv[3], NULL, 10));
    if (r == NULL || argc < 3) {
        fprintf(stderr, "unknown command or resource\n");
        return 2;
    }
    if (strcmp(cmd, "get") == 0 && argc == 4) {
        rc = kube_get(c, r, ns_arg(argv[2]), argv[3], &obj);
    } else if (strcmp(cmd, "list") == 0 && argc >= 3) {
        struct kube_list_opts lo = {0};
        struct counter ct = {0, json_object()};
        char *rv = NULL;
        lo.limit = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 0;
        lo.label_selector = argc > 4 ? argv[4] : NULL;
        if (ct.names == NULL)
            return fail(RC_NOMEM);
        rc = kube_list(c, r, ns_arg(argv[2]), &lo, count_item, &ct, &rv);
        if (rc == 0)
            printf("items=%ld unique=%zu rv=%s\n", ct.items,
                   json_object_size(ct.names), rv ? rv : "");
        mem_free(rv);
        json_decref(ct.names);
        return rc ? fail(rc) : 0;
    } else if (strcmp(cmd, "create") == 0 && argc == 4) {
        if (parse_arg(&arg, argv[3]) != 0)
            return 2;
        rc = kube_create(c, r, ns_arg(argv[2]), arg, &obj);
    } else if (strcmp(cmd, "bulk") == 0 && argc == 5) {
        long n = strtol(argv[4], NULL, 10);
        char name[256];
        for (long i = 0; i < n && rc == 0; i++) {
            snprintf(name, sizeof(name), "%s-%ld", argv[3], i);
            arg = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1",
                            "kind", "ConfigMap", "metadata", "name", name,
                            "data", "i", name);
            rc = arg ? kube_create(c, r, ns_arg(argv[2]), arg, NULL) : RC_NOMEM;
            json_decref(arg);
            arg = NULL;
        }
        if (rc == 0)
            printf("created=%ld\n", n);
    } else if (strcmp(cmd, "patch") == 0 && argc == 6) {
        static const char *const types[] = {"merge", "json", "strategic",
                                            "apply"};
        int t = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(argv[4], types[i]) == 0)
                t = i;
        if (t < 0 || parse_arg(&arg, argv[5]) != 0)
            return 2;
        rc = kube_patch(
            c, r, ns_arg(argv[2]), argv[3], NULL, (enum kube_patch_type)t, arg,
            t == KUBE_PATCH_APPLY ? "kubeclient-tool" : NULL, 0, &obj);
    } else if (strcmp(cmd, "delete") == 0 && (argc == 4 || argc == 5)) {
        rc = kube_delete(c, r, ns_arg(argv[2]), argv[3],
                         argc == 5 ? argv[4] : NULL);
        if (rc == 0)
            printf("deleted\n");
    } else {
        return usage();
    }
    if (rc != 0)
        ret = fail(rc);
    else if (obj != NULL)
        ret = print_json(obj);
    json_decref(obj);
    json_decref(arg);
    return ret;
}

static int
cmd_config(const struct kube_config *cfg)
{
    printf("server=%s\nnamespace=%s\ntoken=%s\ntoken_file=%s\nca=%s\n"
           "client_cert=%s\nclient_key=%s\ninsecure=%d\ntls_server_name=%s\n",
           cfg->server, cfg->namespace, cfg->token ? "set" : "-",
           cfg->token_file ? cfg->token_file : "-", cfg->ca_pem ? "set" : "-",
           cfg->client_cert_pem ? "set" : "-",
           cfg->client_key_pem ? "set" : "-", cfg->insecure,
           cfg->tls_server_name ? cfg->tls_server_name : "-");
    return 0;
}

int
main(int argc, char **argv)
{
    const char *kc = NULL, *ctx = NULL, *root = NULL;
    struct kube_client_opts opts = {0};
    struct kube_config *cfg = NULL;
    struct kube_client *c = NULL;
    int i = 1, rc, ret;

    mem_init_jansson();
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-k") == 0)
            kc = argv[i + 1];
        else if (strcmp(argv[i], "-c") == 0)
            ctx = argv[i + 1];
        else if (strcmp(argv[i], "-i") == 0)
            root = argv[i + 1];
        else if (strcmp(argv[i], "-r") == 0)
            opts.max_retries = (int)strtol(argv[i + 1], NULL, 10);
        else
            return usage();
    }
    if (i >= argc)
        return usage();
    if (root != NULL)
        rc = kube_config_in_cluster(&cfg, root);
    else if (kc != NULL)
        rc = kube_config_from_file(&cfg, kc, ctx);
    else
        rc = kube_config_auto(&cfg, NULL);
    if (rc != 0)
        return fail(rc);
    if (strcmp(argv[i], "config") == 0) {
        ret = cmd_config(cfg);
        kube_config_free(cfg);
        return ret;
    }
    opts.backoff_base_ms = 50;
    opts.backoff_max_ms = 2000;
    opts.user_agent = "kubeclient_tool";
    rc = kube_client_new(&c, cfg, &opts);
    kube_config_free(cfg);
    if (rc != 0)
        return fail(rc);
    ret = run(c, argc - i, argv + i);
    kube_client_free(c);
    return ret;
}
