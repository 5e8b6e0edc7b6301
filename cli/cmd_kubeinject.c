/* cmd_kubeinject.c: `mizzenctl kube-inject`: argument parsing, reading the
 * manifests and configuration, running the walker with the injector, and
 * writing the result. Nothing is written to `out` unless the whole input
 * was processed: an error leaves stdout empty. */
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/kubeinject.h"
#include "injector/injector.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/rc.h"

#include <string.h>

static const char usage[] =
    "Usage: mizzenctl kube-inject -f FILE|- [options]\n"
    "\n"
    "Injects the sidecar (istio-init and istio-proxy) into the pods of\n"
    "Kubernetes manifests, offline, and prints the manifests.\n"
    "\n"
    "Pods, and the pod templates of Deployments, StatefulSets, DaemonSets,\n"
    "ReplicaSets, ReplicationControllers, Jobs and CronJobs, also inside a\n"
    "v1 List, are injected as the webhook would inject them (the namespace\n"
    "is metadata.namespace or \"default\"). Other documents, and pods that\n"
    "are not to be injected (policy, hostNetwork, inject=false), are printed\n"
    "unchanged, in the input order.\n"
    "\n"
    "Options:\n"
    "  -f, --filename FILE        manifests: a YAML stream of one or more\n"
    "                             documents, or a JSON document; '-' reads\n"
    "                             standard input\n"
    "      --injector-config FILE the ConfigMap istio-sidecar-injector, or\n"
    "                             its data (keys config, values); default:\n"
    "                             the built-in (shipped) configuration\n"
    "      --mesh-config FILE     the ConfigMap istio, or its data (key\n"
    "                             mesh), or the mesh config itself\n"
    "  -o, --output yaml|json     output format (default yaml, documents\n"
    "                             separated by '---'); json prints a single\n"
    "                             document as itself and several as a v1\n"
    "                             List, as kubectl does\n"
    "      --emit-patch           instead of manifests, print one JSON line\n"
    "                             per injected pod: {\"doc\",\"kind\",\n"
    "                             "
    "\"namespace\",\"name\",\"original\",\"patch\",\n"
    "                             \"injected\"} (for tests)\n"
    "  -h, --help                 this help\n"
    "\n"
    "istioctl's --injectConfigFile and --meshConfigFile are accepted as\n"
    "aliases of --injector-config and --mesh-config.\n"
    "\n"
    "Exit status: 0 success, 1 error (the message names the document and\n"
    "the field), 2 usage error.\n";

struct opts {
    const char *file, *inj_file, *mesh_file;
    enum kinj_format fmt;
    int emit_patch;
};

static const char *const opt_file[] = {"-f", "--filename", NULL};
static const char *const opt_inj[] = {"--injector-config", "--injectConfigFile",
                                      NULL};
static const char *const opt_mesh[] = {"--mesh-config", "--meshConfigFile",
                                       NULL};
static const char *const opt_out[] = {"-o", "--output", NULL};

/* parse_args fills o; returns -1 after --help, CLI_EXIT_USAGE on a usage
 * error (already reported), 0 otherwise. */
static int
parse_args(int argc, char **argv, struct opts *o, FILE *out)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        const char *const *which = NULL;
        const char **dst = NULL;
        int m;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, out);
            return -1;
        }
        if (strcmp(a, "--emit-patch") == 0) {
            o->emit_patch = 1;
            continue;
        }
        if ((m = cli_opt(argc, argv, &i, opt_file, &v)) != 0)
            which = opt_file, dst = &o->file;
        else if ((m = cli_opt(argc, argv, &i, opt_inj, &v)) != 0)
            which = opt_inj, dst = &o->inj_file;
        else if ((m = cli_opt(argc, argv, &i, opt_mesh, &v)) != 0)
            which = opt_mesh, dst = &o->mesh_file;
        else if ((m = cli_opt(argc, argv, &i, opt_out, &v)) != 0)
            which = opt_out;
        if (m < 0) {
            cli_error("kube-inject: option %s needs a value (see "
                      "'mizzenctl kube-inject --help')",
                      a);
            return CLI_EXIT_USAGE;
        }
        if (which == NULL) {
            cli_error("kube-inject: unknown %s '%s' (see 'mizzenctl "
                      "kube-inject --help')",
                      a[0] == '-' ? "flag" : "argument", a);
            return CLI_EXIT_USAGE;
        }
        if (which == opt_out) {
            if (strcmp(v, "yaml") == 0) {
                o->fmt = KINJ_YAML;
            } else if (strcmp(v, "json") == 0) {
                o->fmt = KINJ_JSON;
            } else {
                cli_error("kube-inject: invalid output format '%s' "
                          "(yaml or json)",
                          v);
                return CLI_EXIT_USAGE;
            }
            continue;
        }
        if (*dst != NULL) {
            cli_error("kube-inject: %s given more than once", which[0]);
            return CLI_EXIT_USAGE;
        }
        if (v[0] == '\0') {
            cli_error("kube-inject: %s needs a non-empty value", which[0]);
            return CLI_EXIT_USAGE;
        }
        *dst = v;
    }
    if (o->file == NULL) {
        cli_error("kube-inject: missing -f FILE (use '-f -' for standard "
                  "input; see 'mizzenctl kube-inject --help')");
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* load_config builds the injector configuration from the optional files;
 * reports its own errors. */
static int
load_config(struct inj_config **cfg, const struct opts *o)
{
    struct buf inj, mesh;
    int rc;

    buf_init(&inj, 0);
    buf_init(&mesh, 0);
    if (o->inj_file && (rc = cli_read_file(o->inj_file, &inj)) != 0) {
        cli_error("kube-inject: --injector-config: %s", errmsg_get());
        goto out;
    }
    if (o->mesh_file && (rc = cli_read_file(o->mesh_file, &mesh)) != 0) {
        cli_error("kube-inject: --mesh-config: %s", errmsg_get());
        goto out;
    }
    rc = inj_config_load(
        cfg, o->inj_file ? (inj.ptr ? inj.ptr : "") : NULL, inj.len,
        o->mesh_file ? (mesh.ptr ? mesh.ptr : "") : NULL, mesh.len);
    if (rc != 0)
        cli_error("kube-inject: configuration: %s", errmsg_get());
out:
    buf_cleanup(&mesh);
    buf_cleanup(&inj);
    return rc;
}

int
cli_kube_inject(int argc, char **argv, FILE *out)
{
    struct opts o = {0};
    struct inj_config *cfg = NULL;
    json_t *docs = NULL; /* owned */
    struct buf in, res, patches;
    struct kinj_inject_ctx ctx = {0};
    const char *name;
    int rc, status = CLI_EXIT_FAIL;

    buf_init(&in, 0);
    buf_init(&res, 0);
    buf_init(&patches, 0);
    if ((rc = parse_args(argc, argv, &o, out)) != 0) {
        status = rc < 0 ? CLI_EXIT_OK : rc;
        goto out;
    }
    name = strcmp(o.file, "-") == 0 ? "<stdin>" : o.file;
    if (load_config(&cfg, &o) != 0)
        goto out;
    if (cli_read_file(o.file, &in) != 0) {
        cli_error("kube-inject: %s", errmsg_get());
        goto out;
    }
    if (kinj_read_docs(&docs, in.ptr ? in.ptr : "", in.len) != 0) {
        cli_error("kube-inject: %s: %s", name, errmsg_get());
        goto out;
    }
    ctx.cfg = cfg;
    ctx.patches = o.emit_patch ? &patches : NULL;
    if (kinj_walk(docs, kinj_inject_cb, &ctx, NULL) != 0) {
        cli_error("kube-inject: %s: %s", name, errmsg_get());
        goto out;
    }
    if (!o.emit_patch && kinj_write_docs(docs, o.fmt, &res) != 0) {
        cli_error("kube-inject: %s", errmsg_get());
        goto out;
    }
    {
        const struct buf *b = o.emit_patch ? &patches : &res;

        if ((b->len > 0 && fwrite(b->ptr, 1, b->len, out) != b->len) ||
            fflush(out) != 0) {
            cli_error("kube-inject: cannot write the output");
            goto out;
        }
    }
    status = CLI_EXIT_OK;
out:
    json_decref(docs);
    inj_config_free(cfg);
    buf_cleanup(&patches);
    buf_cleanup(&res);
    buf_cleanup(&in);
    return status;
}
