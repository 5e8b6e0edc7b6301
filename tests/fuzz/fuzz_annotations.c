/* fuzz_annotations.c: annotation validators, the Prometheus merge and the
 * probe rewrite never crash, and what they leave behind is valid JSON.
 *
 * Input: the first byte picks knobs (mesh merge default, status port), the
 * rest is lines "key=value". Every value goes through every validator and
 * inj_probes_load; the lines form an annotation object for inj_prom_merge;
 * and a pod is built from the same lines (one container per line, its
 * probes shaped by the line number) for inj_probes_rewrite. If the rest is
 * a JSON object instead, it is used as the pod spec as is. */
#include "injector/probes.h"
#include "injector/prom.h"
#include "injector/validate.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 64

static const int status_ports[] = {15020, 123, 80, 0, 8080, 65535, 3333, 1};

static void
check_valid_json(const char *s)
{
    json_t *v = NULL; /* owned */

    assert(s != NULL);
    assert(jutil_parse(&v, s, strlen(s), NULL) == 0);
    assert(json_is_object(v));
    json_decref(v);
}

static void
run_validators(const char *v)
{
    uint32_t u = 0;
    int p = 0;
    json_t *probers = json_object(); /* owned */

    (void)inj_val_ports(v, 0);
    (void)inj_val_ports(v, 1);
    (void)inj_val_cidrs(v, 0);
    (void)inj_val_cidrs(v, 1);
    if (inj_val_port(v, &p) == 0)
        assert(p >= 0 && p <= 65535);
    (void)inj_val_uint32(v, &u);
    (void)inj_val_quantity(v);
    (void)inj_val_interception_mode(v);
    (void)inj_val_interfaces(v);
    if (probers != NULL && inj_probes_load(probers, v) == 0) {
        char *env = NULL;
        if (inj_probes_env(probers, &env) == 0)
            check_valid_json(env);
        mem_free(env);
    }
    json_decref(probers);
}

/* json_str: a JSON string of s[0..n), or NULL when it is not UTF-8. */
static json_t *
json_str(const char *s, size_t n)
{
    return json_stringn(s, n);
}

/* add_container builds container i from one line. */
static void
add_container(json_t *list, size_t i, const char *key, const char *val,
              size_t vlen)
{
    json_t *c =
        json_pack("{s:s, s:[{s:s, s:i}]}", "name", key, "ports", "name", "p",
                  "containerPort", (int)(vlen * 97 % 70000)); /* owned */
    json_t *sv = json_str(val, vlen);                         /* owned */
    json_t *port = (i & 1) ? json_integer((json_int_t)vlen * 1000)
                           : (sv ? json_incref(sv) : json_null());
    json_t *h = NULL;

    if (c == NULL || port == NULL) {
        json_decref(c);
        json_decref(sv);
        json_decref(port);
        return;
    }
    switch (i % 4) {
    case 0:
        h = json_pack("{s:{s:O, s:O?, s:s, s:[{s:O?, s:s}]}, s:i}", "httpGet",
                      "port", port, "path", sv, "scheme",
                      (i & 8) ? "HTTPS" : "HTTP", "httpHeaders", "name", sv,
                      "value", "v", "timeoutSeconds", (int)vlen);
        json_object_set_new(c, "livenessProbe", h);
        break;
    case 1:
        h = json_pack("{s:{s:O, s:O?}}", "tcpSocket", "port", port, "host", sv);
        json_object_set_new(c, "readinessProbe", h);
        break;
    case 2:
        h = json_pack("{s:{s:O, s:O?}, s:i}", "grpc", "port", port, "service",
                      sv, "periodSeconds", 3);
        json_object_set_new(c, "startupProbe", h);
        break;
    default:
        h = json_pack("{s:{s:{s:O}}, s:{s:{s:O}}}", "preStop", "httpGet",
                      "port", port, "postStart", "tcpSocket", "port", port);
        json_object_set_new(c, "lifecycle", h);
        break;
    }
    json_array_append_new(list, c);
    json_decref(sv);
    json_decref(port);
}

/* check_entry: what inj_probes_rewrite records is always usable by the
 * agent: a path its pattern accepts and one handler with a real port. */
static void
check_entry(const char *path, const json_t *e, int status_port)
{
    static const char *const pre[] = {"/app-health/", "/app-lifecycle/"};
    static const char *const suf[] = {"/livez", "/readyz", "/startupz",
                                      "/prestopz", "/poststartz"};
    const char *rest = NULL, *slash;
    json_t *h = NULL; /* borrowed */
    int kinds = 0;

    for (size_t i = 0; i < 2 && rest == NULL; i++) {
        if (strncmp(path, pre[i], strlen(pre[i])) == 0)
            rest = path + strlen(pre[i]);
    }
    assert(rest != NULL && *rest != '\0' && *rest != '/');
    slash = strchr(rest, '/');
    assert(slash != NULL);
    int ok = 0;
    for (size_t i = 0; i < 5; i++)
        ok |= strcmp(slash, suf[i]) == 0;
    assert(ok);
    if ((h = json_object_get(e, "httpGet")) != NULL)
        kinds++;
    if (json_object_get(e, "tcpSocket") != NULL) {
        h = json_object_get(e, "tcpSocket");
        kinds++;
    }
    if (json_object_get(e, "grpc") != NULL) {
        h = json_object_get(e, "grpc");
        kinds++;
    }
    assert(kinds == 1);
    json_int_t port = json_integer_value(json_object_get(h, "port"));
    assert(port >= 1 && port <= 65535 && port != status_port);
}

static void
run_probes(json_t *spec, int status_port)
{
    const char *const skip[] = {"istio-proxy", "skipme", NULL};
    json_t *probers = json_object(); /* owned */
    json_t *first = NULL;            /* owned */
    char *env = NULL, *dump = NULL;

    if (probers == NULL)
        return;
    if (inj_probes_rewrite(spec, skip, status_port, probers) == 0) {
        dump = jutil_dumps(spec, 0);
        if (dump != NULL)
            check_valid_json(dump);
        if (inj_probes_env(probers, &env) == 0)
            check_valid_json(env);
        const char *k;
        json_t *e; /* borrowed */
        json_object_foreach(probers, k, e)
        {
            check_entry(k, e, status_port);
        }
        /* a second pass changes nothing in the pod */
        first = json_deep_copy(spec);
        if (first != NULL &&
            inj_probes_rewrite(spec, skip, status_port, probers) == 0)
            assert(json_equal(first, spec));
    }
    mem_free(env);
    mem_free(dump);
    json_decref(first);
    json_decref(probers);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p, *end;
    json_t *ann = NULL, *spec = NULL, *list = NULL, *before = NULL; /* own */
    char *buf = NULL, *env = NULL;
    int mesh, status;
    size_t line = 0;

    if (size < 1 || size > 65536)
        return 0;
    mesh = data[0] & 1;
    status = status_ports[(data[0] >> 1) & 7];
    buf = malloc(size);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    p = buf;
    end = buf + size - 1;

    /* A JSON object: a pod spec as is. */
    if (jutil_parse(&spec, p, (size_t)(end - p), NULL) == 0 &&
        json_is_object(spec)) {
        run_probes(spec, status ? status : 15020);
        goto done;
    }
    json_decref(spec);
    spec = json_object();
    list = json_array();
    ann = json_object();
    if (spec == NULL || list == NULL || ann == NULL)
        goto done;
    json_object_set(spec, (data[0] & 0x10) ? "initContainers" : "containers",
                    list);

    while (p < end && line < MAX_LINES) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *l = (char *)p;
        l[n] = '\0';
        char *eq = strchr(l, '=');
        const char *key = l, *val = "";
        if (eq != NULL) {
            *eq = '\0';
            val = eq + 1;
        }
        run_validators(val);
        run_validators(key);
        size_t vlen = strlen(val);
        json_t *sv = json_str(val, vlen); /* owned */
        if (sv != NULL) {
            json_t *k = json_stringn(key, strlen(key)); /* owned */
            if (k != NULL)
                json_object_set(ann, key, sv);
            json_decref(k);
            add_container(list, line, key, val, vlen);
        }
        json_decref(sv);
        line++;
        p += n + 1;
    }

    before = json_deep_copy(ann);
    int rc = inj_prom_merge(ann, mesh, status, &env);
    if (rc == 0 && env != NULL) {
        char want[16];
        check_valid_json(env);
        snprintf(want, sizeof(want), "%d", status);
        assert(strcmp(json_string_value(
                          json_object_get(ann, "prometheus.io/port")),
                      want) == 0);
    } else if (rc == RC_INVAL && before != NULL) {
        assert(json_equal(before, ann));
    }
    run_probes(spec, status);

done:
    mem_free(env);
    json_decref(before);
    json_decref(ann);
    json_decref(list);
    json_decref(spec);
    free(buf);
    return 0;
}
