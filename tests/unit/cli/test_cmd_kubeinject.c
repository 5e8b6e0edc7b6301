/* test_cmd_kubeinject.c: `mizzenctl kube-inject` and `version` as
 * commands, with the real injector: options, exit statuses, outputs,
 * error messages (captured from the logger), --emit-patch lines checked
 * with lib/jpatch, and every allocation failure of a whole run. */
#include "tests/unit/harness.h"
#include "cli/commands.h"
#include "cli/kubeinject.h"
#include "cli/version.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jpatch.h"
#include "lib/jutil.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static const char two_docs[] =
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n"
    "  ports:\n  - port: 80\n"
    "---\n"
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
    "  namespace: shop\nspec:\n  replicas: 2\n  template:\n    metadata:\n"
    "      labels:\n        app: web\n    spec:\n      containers:\n"
    "      - name: web\n        image: example.com/web:1\n"
    "        ports:\n        - containerPort: 8080\n";

static const char bad_doc[] =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    "---\n"
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
    "spec:\n  template:\n    metadata:\n      annotations:\n"
    "        traffic.sidecar.istio.io/includeInboundPorts: bad\n"
    "    spec:\n      containers:\n      - name: web\n        image: x\n";

/* write_tmp writes text into a file of the scratch dir; the path is
 * static storage (one per name). */
static const char *
write_tmp(const char *name, const char *text)
{
    static char paths[8][256];
    static int next;
    char *p = paths[next++ % 8];
    FILE *f;

    snprintf(p, 256, "%s/%s", harness_tmpdir(), name);
    f = fopen(p, "w");
    if (f == NULL)
        return "/nonexistent";
    fputs(text, f);
    fclose(f);
    return p;
}

struct run {
    int status;
    char *out; /* stdout of the command (mem_free) */
    char *err; /* what the logger wrote (mem_free) */
};

static char *
slurp(FILE *f)
{
    struct buf b;
    char chunk[4096];
    size_t n;

    buf_init(&b, 0);
    rewind(f);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(&b, chunk, n);
    return buf_take(&b, NULL);
}

/* run_cmd runs a command with argv (NULL-terminated), capturing its output
 * and the log lines. */
static void
run_cmd_failing(struct run *r, int (*cmd)(int, char **, FILE *), char **argv,
                long fail_at)
{
    FILE *out = tmpfile(), *err = tmpfile();
    struct log_opts lo = {.fd = err ? fileno(err) : 2, .level = LOG_INFO};
    struct log_opts back = {.fd = 2, .level = LOG_INFO};
    int argc = 0;

    while (argv[argc])
        argc++;
    log_init(&lo);
    mem_fail_set(fail_at);
    r->status = cmd(argc, argv, out);
    mem_fail_set(0);
    log_init(&back);
    r->out = out ? slurp(out) : NULL;
    r->err = err ? slurp(err) : NULL;
    if (out)
        fclose(out);
    if (err)
        fclose(err);
}

static void
run_cmd(struct run *r, int (*cmd)(int, char **, FILE *), char **argv)
{
    run_cmd_failing(r, cmd, argv, 0);
}

static void
run_free(struct run *r)
{
    mem_free(r->out);
    mem_free(r->err);
}

TEST(cli_kube_inject_usage_errors)
{
    char *none[] = {"kube-inject", NULL};
    char *bogus[] = {"kube-inject", "-f", "x", "--bogus", NULL};
    char *noval[] = {"kube-inject", "-f", NULL};
    char *badfmt[] = {"kube-inject", "-f", "x", "-o", "xml", NULL};
    char *twice[] = {"kube-inject", "-f", "x", "--filename=y", NULL};
    char *stray[] = {"kube-inject", "-f", "x", "extra", NULL};
    struct run r;

    run_cmd(&r, cli_kube_inject, none);
    CHECK_INT(r.status, CLI_EXIT_USAGE);
    CHECK_CONTAINS(r.err, "missing -f");
    CHECK_STR(r.out, "");
    run_free(&r);
    run_cmd(&r, cli_kube_inject, bogus);
    CHECK_INT(r.status, CLI_EXIT_USAGE);
    CHECK_CONTAINS(r.err, "unknown flag '--bogus'");
    run_free(&r);
    run_cmd(&r, cli_kube_inject, noval);
    CHECK_INT(r.status, CLI_EXIT_USAGE);
    CHECK_CONTAINS(r.err, "-f needs a value");
    run_free(&r);
    run_cmd(&r, cli_kube_inject, badfmt);
    CHECK_INT(r.status, CLI_EXIT_USAGE);
    CHECK_CONTAINS(r.err, "invalid output format 'xml'");
    run_free(&r);
    run_cmd(&r, cli_kube_inject, twice);
    CHECK_INT(r.status, CLI_EXIT_USAGE);
    CHECK_CONTAINS(r.err, "more than once");
    run_free(&r);
    run_cmd(&r, cli_kube_inject, stray);
    CHECK_INT(r.status, CLI_EXIT_USAGE);
    CHECK_CONTAINS(r.err, "unknown argument 'extra'");
    run_free(&r);
}

TEST(cli_kube_inject_help)
{
    char *help[] = {"kube-inject", "--help", NULL};
    struct run r;

    run_cmd(&r, cli_kube_inject, help);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "Usage: mizzenctl kube-inject");
    CHECK_CONTAINS(r.out, "--mesh-config");
    CHECK_STR(r.err, "");
    run_free(&r);
}

TEST(cli_kube_inject_missing_file)
{
    char path[300];
    struct run r;

    snprintf(path, sizeof(path), "%s/does-not-exist.yaml", harness_tmpdir());
    char *argv[] = {"kube-inject", "-f", path, NULL};
    run_cmd(&r, cli_kube_inject, argv);
    CHECK_INT(r.status, CLI_EXIT_FAIL);
    CHECK_CONTAINS(r.err, "does-not-exist.yaml");
    CHECK_CONTAINS(r.err, "No such file");
    CHECK_STR(r.out, "");
    run_free(&r);
}

/* container_names joins the names of spec.containers with ",". */
static void
container_names(const json_t *spec, const char *key, char *out, size_t n)
{
    json_t *arr = jutil_arr(spec, key);
    size_t i, len = 0;
    json_t *c;

    out[0] = '\0';
    json_array_foreach(arr, i, c)
    {
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? "," : "",
                                jutil_str(c, "name"));
        if (len >= n)
            break;
    }
}

TEST(cli_kube_inject_yaml_output)
{
    const char *f = write_tmp("two.yaml", two_docs);
    char *argv[] = {"kube-inject", "-f", (char *)f, NULL};
    json_t *in = NULL, *out = NULL;
    char names[256];
    struct run r;

    run_cmd(&r, cli_kube_inject, argv);
    CHECK_INT(r.status, 0);
    CHECK_STR(r.err, "");
    REQUIRE(r.out != NULL);
    CHECK_INT(kinj_read_docs(&in, two_docs, sizeof(two_docs) - 1), 0);
    CHECK_INT(kinj_read_docs(&out, r.out, strlen(r.out)), 0);
    if (in && out && json_array_size(out) == 2) {
        CHECK(json_equal(json_array_get(in, 0), json_array_get(out, 0)));
        json_t *tmpl = jutil_path(json_array_get(out, 1), "spec.template");
        container_names(json_object_get(tmpl, "spec"), "containers", names,
                        sizeof(names));
        CHECK_STR(names, "web,istio-proxy");
        container_names(json_object_get(tmpl, "spec"), "initContainers", names,
                        sizeof(names));
        CHECK_STR(names, "istio-init");
        json_t *ann = jutil_path(tmpl, "metadata.annotations");
        CHECK(jutil_str(ann, "sidecar.istio.io/status") != NULL);
        CHECK_INT(json_integer_value(
                      jutil_path(json_array_get(out, 1), "spec.replicas")),
                  2);
    } else {
        CHECK(0);
    }
    json_decref(out);
    json_decref(in);
    run_free(&r);
}

TEST(cli_kube_inject_json_output_is_list)
{
    const char *f = write_tmp("two-json.yaml", two_docs);
    char *argv[] = {"kube-inject", "-o", "json", "-f", (char *)f, NULL};
    char *argv2[] = {"kube-inject", "--output=yaml", "-f", (char *)f, NULL};
    json_t *v = NULL, *docs = NULL;
    struct run r, r2;

    run_cmd(&r, cli_kube_inject, argv);
    run_cmd(&r2, cli_kube_inject, argv2);
    CHECK_INT(r.status, 0);
    CHECK_INT(r2.status, 0);
    REQUIRE(r.out && r2.out);
    CHECK_INT(jutil_parse(&v, r.out, strlen(r.out), NULL), 0);
    CHECK_STR(jutil_str(v, "kind"), "List");
    /* the same documents as the YAML output */
    CHECK_INT(kinj_read_docs(&docs, r2.out, strlen(r2.out)), 0);
    CHECK(v && docs && json_equal(json_object_get(v, "items"), docs));
    json_decref(docs);
    json_decref(v);
    run_free(&r2);
    run_free(&r);
}

TEST(cli_kube_inject_bad_annotation_names_document)
{
    const char *f = write_tmp("bad.yaml", bad_doc);
    char *argv[] = {"kube-inject", "-f", (char *)f, NULL};
    struct run r;

    run_cmd(&r, cli_kube_inject, argv);
    CHECK_INT(r.status, CLI_EXIT_FAIL);
    CHECK_STR(r.out, "");
    CHECK_CONTAINS(r.err, "level=error");
    CHECK_CONTAINS(r.err, "bad.yaml: document 2 (Deployment default/web): ");
    CHECK_CONTAINS(r.err, "'traffic.sidecar.istio.io/includeInboundPorts'");
    CHECK_CONTAINS(r.err, "'bad'");
    run_free(&r);
}

TEST(cli_kube_inject_yaml_error_has_line)
{
    const char *f =
        write_tmp("syntax.yaml", "kind: Pod\nmetadata:\n  name: [x\n");
    char *argv[] = {"kube-inject", "-f", (char *)f, NULL};
    struct run r;

    run_cmd(&r, cli_kube_inject, argv);
    CHECK_INT(r.status, CLI_EXIT_FAIL);
    CHECK_CONTAINS(r.err, "syntax.yaml: ");
    CHECK_CONTAINS(r.err, "line ");
    CHECK_STR(r.out, "");
    run_free(&r);
}

TEST(cli_kube_inject_configs)
{
    const char *f = write_tmp("cfg.yaml", two_docs);
    const char *inj = write_tmp(
        "inj.yaml", "config: |\n  policy: disabled\nvalues: |\n  {}\n");
    const char *mesh =
        write_tmp("mesh.yaml",
                  "defaultConfig:\n  holdApplicationUntilProxyStarts: true\n");
    const char *badmesh = write_tmp("badmesh.yaml", "a: [\n");
    char *a1[] = {"kube-inject",       "-f",        (char *)f,
                  "--injector-config", (char *)inj, NULL};
    char *a2[] = {"kube-inject",      "-f",         (char *)f,
                  "--meshConfigFile", (char *)mesh, NULL};
    char *a3[] = {"kube-inject",   "-f", (char *)f, "--mesh-config",
                  (char *)badmesh, NULL};
    json_t *in = NULL, *out = NULL;
    char names[256];
    struct run r;

    CHECK_INT(kinj_read_docs(&in, two_docs, sizeof(two_docs) - 1), 0);
    /* policy disabled: nothing injected, output equals input */
    run_cmd(&r, cli_kube_inject, a1);
    CHECK_INT(r.status, 0);
    CHECK_INT(
        kinj_read_docs(&out, r.out ? r.out : "", r.out ? strlen(r.out) : 0), 0);
    CHECK(in && out && json_equal(in, out));
    json_decref(out);
    out = NULL;
    run_free(&r);
    /* hold: istio-proxy first */
    run_cmd(&r, cli_kube_inject, a2);
    CHECK_INT(r.status, 0);
    CHECK_INT(
        kinj_read_docs(&out, r.out ? r.out : "", r.out ? strlen(r.out) : 0), 0);
    container_names(jutil_path(json_array_get(out, 1), "spec.template.spec"),
                    "containers", names, sizeof(names));
    CHECK_STR(names, "istio-proxy,web");
    json_decref(out);
    run_free(&r);
    /* an unreadable mesh config is an error */
    run_cmd(&r, cli_kube_inject, a3);
    CHECK_INT(r.status, CLI_EXIT_FAIL);
    CHECK_CONTAINS(r.err, "configuration");
    CHECK_STR(r.out, "");
    run_free(&r);
    json_decref(in);
}

TEST(cli_kube_inject_emit_patch_applies)
{
    const char *f = write_tmp("patch.yaml", two_docs);
    char *argv[] = {"kube-inject", "--emit-patch", "-f", (char *)f, NULL};
    json_t *line = NULL, *got = NULL;
    struct run r;

    run_cmd(&r, cli_kube_inject, argv);
    CHECK_INT(r.status, 0);
    REQUIRE(r.out != NULL);
    /* one line: the Deployment's template */
    char *nl = strchr(r.out, '\n');
    REQUIRE(nl != NULL);
    CHECK_STR(nl + 1, "");
    CHECK_INT(jutil_parse(&line, r.out, (size_t)(nl - r.out), NULL), 0);
    REQUIRE(line != NULL);
    CHECK_INT(json_integer_value(json_object_get(line, "doc")), 2);
    CHECK_STR(jutil_str(line, "kind"), "Deployment");
    CHECK_STR(jutil_str(line, "name"), "web");
    CHECK_STR(jutil_str(line, "namespace"), "shop");
    CHECK_STR(jutil_path_str(line, "original.kind"), "Pod");
    CHECK(json_array_size(json_object_get(line, "patch")) > 0);
    CHECK_INT(jpatch_apply(&got, json_object_get(line, "original"),
                           json_object_get(line, "patch")),
              0);
    CHECK(got && json_equal(got, json_object_get(line, "injected")));
    json_decref(got);
    json_decref(line);
    run_free(&r);
}

TEST(cli_kube_inject_alloc_failures)
{
    /* a whole run under allocation failures: exit 1 (never a crash, a
     * leak or a partial stdout), until enough memory gives exit 0 */
    const char *f = write_tmp("oom.yaml", two_docs);
    char *argv[] = {"kube-inject", "-f", (char *)f, NULL};
    int done = 0, failures = 0;

    for (long n = 1; n < 200000 && !done; n += 1 + n / 16) {
        struct run r;

        run_cmd_failing(&r, cli_kube_inject, argv, n);
        if (r.status == 0) {
            done = 1;
        } else {
            failures++;
            CHECK_INT(r.status, CLI_EXIT_FAIL);
            CHECK(r.out == NULL || r.out[0] == '\0');
        }
        run_free(&r);
    }
    CHECK(done);
    CHECK(failures > 10);
}

TEST(cli_version_output)
{
    char *plain[] = {"version", NULL};
    char *shrt[] = {"version", "--short", NULL};
    char *bad[] = {"version", "-x", NULL};
    struct run r;

    run_cmd(&r, cli_version, plain);
    CHECK_INT(r.status, 0);
    CHECK_STR(r.out, "mizzenctl version " MZ_VERSION "\n");
    run_free(&r);
    run_cmd(&r, cli_version, shrt);
    CHECK_STR(r.out, MZ_VERSION "\n");
    run_free(&r);
    run_cmd(&r, cli_version, bad);
    CHECK_INT(r.status, CLI_EXIT_USAGE);
    CHECK_CONTAINS(r.err, "unknown flag '-x'");
    run_free(&r);
}
