/* injtest.h: helpers shared by the injector's unit tests (header-only).
 *
 * Fixtures live in tests/data/inject/<name>.json (pods as the API server
 * sends them); tests run from the repository root. */
#ifndef MZ_INJTEST_H
#define MZ_INJTEST_H

#include "injector/injector.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INJ_FIXTURES "tests/data/inject"

/* it_read_file: whole file, NUL-terminated, malloc'd (tests use libc). */
static inline char *
it_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) {
        p[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return p;
}

/* it_fixture: tests/data/inject/<name>.json parsed; NULL if missing. */
static inline json_t *
it_fixture(const char *name)
{
    char path[512];
    size_t n = 0;
    char *s;
    json_t *v = NULL;

    snprintf(path, sizeof(path), INJ_FIXTURES "/%s.json", name);
    s = it_read_file(path, &n);
    if (s == NULL)
        return NULL;
    if (jutil_parse(&v, s, n, NULL) != 0)
        v = NULL;
    free(s);
    return v;
}

/* it_config: the built-in defaults (must load). */
static inline struct inj_config *
it_config(void)
{
    struct inj_config *c = NULL;

    if (inj_config_load(&c, NULL, 0, NULL, 0) != 0)
        return NULL;
    return c;
}

/* it_config_values: defaults with a values and/or mesh overlay (text). */
static inline struct inj_config *
it_config_parts(const char *config, const char *values, const char *mesh)
{
    struct inj_config *c = NULL;

    if (inj_config_load_parts(&c, config, values, mesh) != 0) {
        fprintf(stdout, "config load failed: %s\n", errmsg_get());
        return NULL;
    }
    return c;
}

/* it_inject: injects pod with cfg; returns the rc, fills res. */
static inline int
it_inject(const struct inj_config *cfg, const json_t *pod,
          struct inj_result *res)
{
    struct inj_input in;

    memset(&in, 0, sizeof(in));
    in.pod = pod;
    in.ns = "default";
    return inj_pod_inject(cfg, &in, res);
}

/* it_inject_fixture: injects fixture `name` (default config when cfg is
 * NULL); returns the rc. */
static inline int
it_inject_fixture(const struct inj_config *cfg, const char *name,
                  struct inj_result *res)
{
    struct inj_config *own = cfg ? NULL : it_config();
    json_t *pod = it_fixture(name);
    int rc;

    memset(res, 0, sizeof(*res));
    if (pod == NULL || (cfg == NULL && own == NULL)) {
        json_decref(pod);
        inj_config_free(own);
        return -100;
    }
    rc = it_inject(cfg ? cfg : own, pod, res);
    json_decref(pod);
    inj_config_free(own);
    return rc;
}

/* it_inject_json: injects a pod given as JSON text. */
static inline int
it_inject_json(const struct inj_config *cfg, const char *text,
               struct inj_result *res)
{
    struct inj_config *own = cfg ? NULL : it_config();
    json_t *pod = json_loads(text, 0, NULL);
    int rc;

    memset(res, 0, sizeof(*res));
    if (pod == NULL || (cfg == NULL && own == NULL)) {
        json_decref(pod);
        inj_config_free(own);
        return -100;
    }
    rc = it_inject(cfg ? cfg : own, pod, res);
    json_decref(pod);
    inj_config_free(own);
    return rc;
}

/* CHECK_HTTP_GET: container c's probe (a literal key) is an httpGet on
 * want_path and want_port. */
#define CHECK_HTTP_GET(c, probe, want_path, want_port)                         \
    do {                                                                       \
        CHECK_STR(jutil_path_str((c), probe ".httpGet.path"), (want_path));    \
        CHECK_INT(json_integer_value(jutil_path((c), probe ".httpGet.port")),  \
                  (want_port));                                                \
    } while (0)

/* Borrowed look-ups into an injected pod. */
static inline json_t *
it_container(const json_t *pod, const char *list, const char *name)
{
    size_t i;
    json_t *c;

    json_array_foreach(jutil_path(pod, list), i, c)
    {
        const char *n = jutil_str(c, "name");
        if (n && strcmp(n, name) == 0)
            return c;
    }
    return NULL;
}

static inline json_t *
it_proxy(const json_t *pod)
{
    return it_container(pod, "spec.containers", "istio-proxy");
}

static inline json_t *
it_init(const json_t *pod)
{
    return it_container(pod, "spec.initContainers", "istio-init");
}

/* it_env: value of env var `name` of container c (NULL if absent or
 * valueFrom). */
static inline const char *
it_env(const json_t *c, const char *name)
{
    size_t i;
    json_t *e;

    json_array_foreach(jutil_arr(c, "env"), i, e)
    {
        const char *n = jutil_str(e, "name");
        if (n && strcmp(n, name) == 0)
            return jutil_str(e, "value");
    }
    return NULL;
}

static inline json_t *
it_env_entry(const json_t *c, const char *name)
{
    size_t i;
    json_t *e;

    json_array_foreach(jutil_arr(c, "env"), i, e)
    {
        const char *n = jutil_str(e, "name");
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

/* it_args: the container's args joined by ' ' into buf. */
static inline const char *
it_args(const json_t *c, char *buf, size_t n)
{
    size_t i, off = 0;
    json_t *a;

    buf[0] = '\0';
    json_array_foreach(jutil_arr(c, "args"), i, a)
    {
        int w = snprintf(buf + off, n - off, "%s%s", i ? " " : "",
                         json_is_string(a) ? json_string_value(a) : "?");
        if (w < 0 || (size_t)w >= n - off)
            break;
        off += (size_t)w;
    }
    return buf;
}

/* it_arg_after: the argument following flag (NULL if absent). */
static inline const char *
it_arg_after(const json_t *c, const char *flag)
{
    const json_t *args = jutil_arr(c, "args");

    for (size_t i = 0; i + 1 < json_array_size(args); i++) {
        const char *a = json_string_value(json_array_get(args, i));
        if (a && strcmp(a, flag) == 0)
            return json_string_value(json_array_get(args, i + 1));
    }
    return NULL;
}

static inline const char *
it_annot(const json_t *pod, const char *key)
{
    return jutil_str(jutil_path(pod, "metadata.annotations"), key);
}

static inline const char *
it_label(const json_t *pod, const char *key)
{
    return jutil_str(jutil_path(pod, "metadata.labels"), key);
}

/* it_count: how many entries of spec.<list> are named `name`. */
static inline int
it_count(const json_t *pod, const char *list, const char *name)
{
    size_t i;
    json_t *c;
    int n = 0;

    json_array_foreach(jutil_path(pod, list), i, c)
    {
        const char *cn = jutil_str(c, "name");
        n += cn && strcmp(cn, name) == 0;
    }
    return n;
}

/* it_fixture_names: every fixture base name (NULL-terminated, malloc'd
 * strings and array; free with it_names_free). */
static inline char **
it_fixture_names(void)
{
    DIR *d = opendir(INJ_FIXTURES);
    struct dirent *e;
    char **v = calloc(512, sizeof(*v));
    int n = 0;

    while (d && v && (e = readdir(d)) != NULL && n < 511) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
            v[n++] = strndup(e->d_name, l - 5);
    }
    if (d)
        closedir(d);
    return v;
}

static inline void
it_names_free(char **v)
{
    for (int i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

#endif
