/* test_wh_reload.c: reading configuration files (ConfigMap object, mounted
 * directory, mesh file or directory) and their failures. */
#include "tests/unit/harness.h"
#include "injector/injector.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_opts.h"
#include "webhook/wh_reload.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *
path(const char *name)
{
    static char p[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", harness_tmpdir(), name);
    return p[i];
}

static void
put(const char *name, const char *text)
{
    FILE *f = fopen(path(name), "w");
    if (f == NULL)
        return;
    fputs(text, f);
    fclose(f);
}

/* hub_of: values.global.hub of the effective configuration */
static char *
dump_of(struct inj_config *c)
{
    json_t *d = inj_config_dump(c);
    char *s = d ? jutil_dumps(d, 0) : NULL;
    json_decref(d);
    return s;
}

TEST(file_read_caps_and_missing)
{
    char *p = NULL;
    size_t n = 0;

    put("small", "hello");
    CHECK_INT(wh_file_read(&p, &n, path("small"), 100), 0);
    CHECK_STR(p, "hello");
    CHECK_INT(n, 5);
    mem_free(p);
    CHECK_INT(wh_file_read(&p, &n, path("small"), 3), RC_LIMIT);
    CHECK(p == NULL);
    CHECK_INT(wh_file_read(&p, &n, path("absent"), 100), RC_NOTFOUND);
    CHECK_CONTAINS(errmsg_get(), "absent");
}

TEST(config_from_directory_and_mesh)
{
    struct wh_opts o;
    struct inj_config *c = NULL;
    unsigned long long h1 = 0, h2 = 0, h3 = 0;
    char *d;

    mkdir(path("inj"), 0755);
    mkdir(path("meshdir"), 0755);
    put("inj/values", "{\"global\":{\"hub\":\"hub.one/x\",\"tag\":\"t1\"}}");
    put("meshdir/mesh", "defaultConfig:\n  discoveryAddress: xds.one:15012\n");
    wh_opts_defaults(&o);
    o.injector_config_dir = path("inj");
    o.mesh_config = path("meshdir");
    REQUIRE(wh_config_read(&c, &o, &h1) == 0);
    d = dump_of(c);
    CHECK_CONTAINS(d, "hub.one/x");
    CHECK_CONTAINS(d, "xds.one:15012");
    mem_free(d);
    inj_config_free(c);
    c = NULL;
    REQUIRE(wh_config_read(&c, &o, &h2) == 0);
    CHECK(h1 == h2); /* same content, same hash */
    inj_config_free(c);
    c = NULL;
    put("inj/values", "{\"global\":{\"hub\":\"hub.two/x\"}}");
    REQUIRE(wh_config_read(&c, &o, &h3) == 0);
    CHECK(h3 != h1);
    d = dump_of(c);
    CHECK_CONTAINS(d, "hub.two/x");
    mem_free(d);
    inj_config_free(c);
}

TEST(config_object_file_and_errors)
{
    struct wh_opts o;
    struct inj_config *c = NULL;
    char *d;

    put("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "
                   "istio-sidecar-injector\ndata:\n  values: |\n    "
                   "{\"global\": {\"hub\": \"hub.cm/y\"}}\n");
    wh_opts_defaults(&o);
    o.injector_config = path("cm.yaml");
    REQUIRE(wh_config_read(&c, &o, NULL) == 0);
    d = dump_of(c);
    CHECK_CONTAINS(d, "hub.cm/y");
    mem_free(d);
    inj_config_free(c);
    c = NULL;

    put("bad.yaml", "kind: ConfigMap\napiVersion: v1\ndata:\n  values: "
                    "\"{\\\"global\\\": [1\"\n");
    o.injector_config = path("bad.yaml");
    CHECK(wh_config_read(&c, &o, NULL) != 0);
    CHECK(c == NULL);
    CHECK_CONTAINS(errmsg_get(), "bad.yaml");

    o.injector_config = path("missing.yaml");
    CHECK_INT(wh_config_read(&c, &o, NULL), RC_NOTFOUND);
    CHECK(c == NULL);

    wh_opts_defaults(&o);
    o.injector_config_dir = path("no-such-dir");
    CHECK_INT(wh_config_read(&c, &o, NULL), RC_NOTFOUND);

    /* no files at all: the built-in defaults */
    wh_opts_defaults(&o);
    REQUIRE(wh_config_read(&c, &o, NULL) == 0);
    inj_config_free(c);
}

TEST(empty_files)
{
    struct wh_opts o;
    struct inj_config *c = NULL;

    /* an empty single file is "not readable yet", not the defaults */
    put("empty.yaml", "");
    wh_opts_defaults(&o);
    o.injector_config = path("empty.yaml");
    CHECK_INT(wh_config_read(&c, &o, NULL), RC_IO);
    CHECK_CONTAINS(errmsg_get(), "is empty");
    CHECK(c == NULL);
    /* an empty key of a mounted ConfigMap is as if absent */
    mkdir(path("inj2"), 0755);
    put("inj2/config", "");
    put("inj2/values", "{\"global\":{\"hub\":\"hub.e/z\"}}");
    wh_opts_defaults(&o);
    o.injector_config_dir = path("inj2");
    REQUIRE(wh_config_read(&c, &o, NULL) == 0);
    inj_config_free(c);
}
