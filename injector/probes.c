/* probes.c: app probe rewriting (Istio's app_probe.go), pure.
 *
 * For each container and init container the probes and lifecycle handlers
 * are looked at one by one; a handler is either rewritten AND recorded, or
 * left exactly as it was (exec, unknown, malformed, unresolvable named port,
 * port equal to the status port). The recorded value is rebuilt from the
 * handler's known fields only, in the field order of Go's structs
 * (HTTPGetAction: path, port, host, scheme, httpHeaders; TCPSocketAction:
 * port, host; GRPCAction: port, service), so inj_probes_env() can print the
 * same bytes as Istio's json.Marshal. */
#include "injector/probes.h"

#include "injector/inj_internal.h"

#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Result of building one prober entry: LEAVE means "do not touch". */
enum { LEAVE = 1 };

enum handler_kind { H_HTTP, H_TCP, H_GRPC };

#define NAME_MAX_BYTES 253 /* longer container names are skipped */

static int
nomem(void)
{
    return errmsg_set(RC_NOMEM, "out of memory rewriting probes");
}

/* port_ok: an int port must be 1..65535 as Kubernetes requires. */
static int
port_ok(json_int_t v)
{
    return v >= 1 && v <= 65535;
}

/* all_digits_port parses a string holding only decimal digits as a port;
 * returns the port or 0. */
static long
all_digits_port(const char *s)
{
    long v = 0;

    if (*s == '\0')
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (*p - '0');
        if (v > 65535)
            return 0;
    }
    return v;
}

/* resolve_port turns a handler's port (int, or name when named_ok) into a
 * number. Names are looked up in the container's ports[].name (the last
 * match wins, like Istio's map); a name that is all digits and matches no
 * port is read as that number (as newer Istio does). 0 = unresolvable. */
static long
resolve_port(const json_t *port, const json_t *container, int named_ok)
{
    if (json_is_integer(port))
        return port_ok(json_integer_value(port))
                   ? (long)json_integer_value(port)
                   : 0;
    if (!named_ok || !json_is_string(port))
        return 0;
    const char *name = json_string_value(port);
    long found = 0;
    size_t i;
    json_t *p; /* borrowed */
    json_array_foreach(jutil_arr(container, "ports"), i, p)
    {
        const char *pn = jutil_str(p, "name");
        json_t *cp = json_object_get(p, "containerPort"); /* borrowed */
        if (pn != NULL && *pn != '\0' && strcmp(pn, name) == 0 &&
            json_is_integer(cp) && port_ok(json_integer_value(cp)))
            found = (long)json_integer_value(cp);
    }
    if (found == 0)
        found = all_digits_port(name);
    return found;
}

/* opt_str reads an optional string field: 0 with *out (NULL when absent,
 * null or ""), or LEAVE when it has another type. */
static int
opt_str(const json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key); /* borrowed */

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return LEAVE;
    if (json_string_length(v) > 0)
        *out = json_string_value(v);
    return 0;
}

/* set_str_new adds key: copy of s; 0 or RC_NOMEM. */
static int
set_str(json_t *obj, const char *key, const char *s)
{
    return inj_set_str(obj, key, s);
}

/* copy_headers rebuilds httpHeaders as [{"name":..,"value":..}] (Go's
 * HTTPHeader has no omitempty). *out stays NULL for absent or empty. */
static int
copy_headers(const json_t *http, json_t **out)
{
    json_t *src = json_object_get(http, "httpHeaders"); /* borrowed */
    json_t *arr = NULL;                                 /* owned */
    json_t *h;                                          /* borrowed */
    size_t i;

    *out = NULL;
    if (src == NULL || json_is_null(src))
        return 0;
    if (!json_is_array(src))
        return LEAVE;
    if (json_array_size(src) == 0)
        return 0;
    json_array_foreach(src, i, h)
    {
        if (!json_is_object(h))
            return LEAVE;
        const char *n, *v;
        if (opt_str(h, "name", &n) != 0 || opt_str(h, "value", &v) != 0)
            return LEAVE;
    }
    arr = json_array();
    if (arr == NULL)
        return nomem();
    json_array_foreach(src, i, h)
    {
        const char *n, *v;
        json_t *o = json_object(); /* owned */
        opt_str(h, "name", &n);
        opt_str(h, "value", &v);
        if (o == NULL || json_array_append_new(arr, o) != 0 ||
            set_str(o, "name", n ? n : "") != 0 ||
            set_str(o, "value", v ? v : "") != 0) {
            json_decref(arr);
            return nomem();
        }
    }
    *out = arr;
    return 0;
}

/* build_action builds the recorded action object ({path,port,...}) for
 * handler h of kind k; 0 with *out, LEAVE or RC_NOMEM. */
static int
build_action(enum handler_kind k, const json_t *act, const json_t *container,
             int status_port, json_t **out)
{
    json_t *o = NULL, *hdrs = NULL; /* owned */
    const char *path = NULL, *host = NULL, *scheme = NULL, *service = NULL;
    json_t *svc = json_object_get(act, "service"); /* borrowed */
    long port;
    int rc;

    *out = NULL;
    port = resolve_port(json_object_get(act, "port"), container, k != H_GRPC);
    if (port == 0 || port == status_port)
        return LEAVE;
    if (k == H_HTTP && (opt_str(act, "path", &path) != 0 ||
                        opt_str(act, "scheme", &scheme) != 0))
        return LEAVE;
    if (k != H_GRPC && opt_str(act, "host", &host) != 0)
        return LEAVE;
    if (k == H_GRPC) {
        if (svc != NULL && !json_is_null(svc) && !json_is_string(svc))
            return LEAVE;
        service = json_string_value(svc); /* "" stays "" */
    }
    if (k == H_HTTP) {
        rc = copy_headers(act, &hdrs);
        if (rc != 0)
            return rc;
    }
    o = json_object();
    if (o == NULL)
        goto oom;
    if (path != NULL && set_str(o, "path", path) != 0)
        goto oom;
    if (json_object_set_new(o, "port", json_integer(port)) != 0)
        goto oom;
    if (host != NULL && set_str(o, "host", host) != 0)
        goto oom;
    if (scheme != NULL && set_str(o, "scheme", scheme) != 0)
        goto oom;
    if (hdrs != NULL) {
        if (json_object_set_new(o, "httpHeaders", hdrs) != 0) {
            hdrs = NULL;
            goto oom;
        }
        hdrs = NULL;
    }
    if (k == H_GRPC &&
        json_object_set_new(o, "service",
                            service ? inj_str(service) : json_null()) != 0)
        goto oom;
    *out = o;
    return 0;
oom:
    json_decref(hdrs);
    json_decref(o);
    return nomem();
}

static const char *const handler_keys[] = {"httpGet", "tcpSocket", "grpc",
                                           "exec", "sleep"};

static int
is_handler_key(const char *k)
{
    for (size_t i = 0; i < sizeof(handler_keys) / sizeof(handler_keys[0]);
         i++) {
        if (strcmp(k, handler_keys[i]) == 0)
            return 1;
    }
    return 0;
}

/* rewritten builds the replacement probe/handler: httpGet {path, port,
 * then the original httpGet's other fields with HTTPS -> HTTP} first, then
 * the original's non-handler fields in their order. */
static int
rewritten(const json_t *orig, enum handler_kind k, const json_t *act,
          const char *url, int status_port, json_t **out)
{
    json_t *o = NULL, *http = NULL; /* owned */
    const char *key;
    json_t *v; /* borrowed */

    *out = NULL;
    o = json_object();
    http = json_object();
    if (o == NULL || http == NULL)
        goto oom;
    if (set_str(http, "path", url) != 0 ||
        json_object_set_new(http, "port", json_integer(status_port)) != 0)
        goto oom;
    if (k == H_HTTP) {
        json_object_foreach((json_t *)act, key, v)
        {
            int r;
            if (strcmp(key, "path") == 0 || strcmp(key, "port") == 0)
                continue;
            if (strcmp(key, "scheme") == 0 && json_is_string(v) &&
                strcmp(json_string_value(v), "HTTPS") == 0)
                r = set_str(http, key, "HTTP");
            else
                r = json_object_set(http, key, v);
            if (r != 0)
                goto oom;
        }
    }
    if (json_object_set_new(o, "httpGet", http) != 0) {
        http = NULL;
        goto oom;
    }
    http = NULL;
    json_object_foreach((json_t *)orig, key, v)
    {
        if (!is_handler_key(key) && json_object_set(o, key, v) != 0)
            goto oom;
    }
    *out = o;
    return 0;
oom:
    json_decref(http);
    json_decref(o);
    return nomem();
}

/* one_handler rewrites holder[key] (a probe or lifecycle handler) for
 * prober path url and records it in probers unless an entry exists. */
static int
one_handler(json_t *holder, const char *key, const char *url,
            const json_t *container, int status_port, int is_probe,
            json_t *probers)
{
    json_t *h = json_object_get(holder, key);           /* borrowed */
    json_t *act, *to;                                   /* borrowed */
    json_t *action = NULL, *entry = NULL, *repl = NULL; /* owned */
    enum handler_kind k;
    const char *kname;
    int rc;

    if (!json_is_object(h))
        return 0;
    if (json_is_object(act = json_object_get(h, "httpGet"))) {
        k = H_HTTP;
        kname = "httpGet";
    } else if (json_is_object(act = json_object_get(h, "tcpSocket"))) {
        k = H_TCP;
        kname = "tcpSocket";
    } else if (is_probe && json_is_object(act = json_object_get(h, "grpc"))) {
        k = H_GRPC;
        kname = "grpc";
    } else {
        return 0; /* exec, sleep, nothing or malformed: left alone */
    }
    rc = build_action(k, act, container, status_port, &action);
    if (rc != 0)
        return rc == LEAVE ? 0 : rc;
    entry = json_object();
    if (entry == NULL || json_object_set_new(entry, kname, action) != 0) {
        if (entry == NULL)
            json_decref(action);
        goto oom;
    }
    to = json_object_get(h, "timeoutSeconds");
    if (is_probe && json_is_integer(to) && json_integer_value(to) != 0 &&
        json_integer_value(to) >= -2147483647 - 1 &&
        json_integer_value(to) <= 2147483647 &&
        json_object_set_new(entry, "timeoutSeconds",
                            json_integer(json_integer_value(to))) != 0)
        goto oom;
    rc = rewritten(h, k, act, url, status_port, &repl);
    if (rc != 0) {
        json_decref(entry);
        return rc;
    }
    /* Commit: the probe first (it is what the pod sees), then the entry
     * unless an older one (re-injection) is already there. */
    if (json_object_set_new(holder, key, repl) != 0) {
        json_decref(entry);
        return nomem();
    }
    if (json_object_get(probers, url) != NULL) {
        json_decref(entry);
        return 0;
    }
    if (json_object_set_new(probers, url, entry) != 0)
        return nomem();
    return 0;
oom:
    json_decref(entry);
    return nomem();
}

static int
skipped(const char *name, const char *const *skip)
{
    for (; skip != NULL && *skip != NULL; skip++) {
        if (strcmp(*skip, name) == 0)
            return 1;
    }
    return 0;
}

/* path3 writes prefix name "/" suffix into url, which has room for it (the
 * caller checked name's length; prefix and suffix are ours) */
static void
path3(char *url, const char *prefix, const char *name, const char *suffix)
{
    size_t a = strlen(prefix), b = strlen(name), c = strlen(suffix);

    memcpy(url, prefix, a);
    memcpy(url + a, name, b);
    url[a + b] = '/';
    memcpy(url + a + b + 1, suffix, c + 1);
}

static int
one_container(json_t *c, const char *const *skip, int status_port,
              json_t *probers)
{
    static const struct {
        const char *key, *suffix;
    } probes[] = {{"readinessProbe", "readyz"},
                  {"livenessProbe", "livez"},
                  {"startupProbe", "startupz"}},
      hooks[] = {{"preStop", "prestopz"}, {"postStart", "poststartz"}};
    const char *name = jutil_str(c, "name");
    char url[NAME_MAX_BYTES + 40];
    json_t *lc; /* borrowed */
    int rc;

    /* Unnamed containers and names the agent's path pattern cannot carry
     * are not touched; the API server refuses such pods anyway. */
    if (name == NULL || *name == '\0' || strchr(name, '/') != NULL ||
        strlen(name) > NAME_MAX_BYTES || skipped(name, skip))
        return 0;
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        path3(url, "/app-health/", name, probes[i].suffix);
        rc = one_handler(c, probes[i].key, url, c, status_port, 1, probers);
        if (rc != 0)
            return rc;
    }
    lc = jutil_obj(c, "lifecycle");
    if (lc == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
        path3(url, "/app-lifecycle/", name, hooks[i].suffix);
        rc = one_handler(lc, hooks[i].key, url, c, status_port, 0, probers);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
has_handlers(const json_t *c)
{
    return json_object_get(c, "readinessProbe") ||
           json_object_get(c, "livenessProbe") ||
           json_object_get(c, "startupProbe") ||
           json_object_get(c, "lifecycle");
}

int
inj_probes_rewrite(json_t *pod_spec, const char *const *skip, int status_port,
                   json_t *probers)
{
    static const char *const lists[] = {"initContainers", "containers"};
    json_t *c; /* borrowed */
    size_t i;
    int rc;

    if (!json_is_object(pod_spec) || !json_is_object(probers) ||
        status_port < 1 || status_port > 65535)
        return 0;
    for (size_t l = 0; l < 2; l++) {
        json_t *arr = jutil_arr(pod_spec, lists[l]); /* borrowed */
        json_array_foreach(arr, i, c)
        {
            json_t *lc; /* borrowed */
            if (!json_is_object(c) || !has_handlers(c))
                continue;
            /* the container (and its lifecycle) may be shared with the
             * caller's pod: edit private copies */
            if (inj_cow_at(arr, i, &c) != 0 || inj_cow(c, "lifecycle", &lc))
                return nomem();
            rc = one_container(c, skip, status_port, probers);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int
inj_probes_load(json_t *probers, const char *env)
{
    struct jutil_limits lim = {.max_bytes = INJ_PROBES_ENV_MAX, .max_depth = 8};
    json_t *old = NULL; /* owned */
    const char *key;
    json_t *v; /* borrowed */
    int rc;

    if (env == NULL || *env == '\0')
        return 0;
    rc = jutil_parse(&old, env, strlen(env), &lim);
    if (rc != 0)
        return errmsg_prefix(rc, "ISTIO_KUBE_APP_PROBERS");
    if (!json_is_object(old)) {
        json_decref(old);
        return errmsg_set(RC_PARSE, "ISTIO_KUBE_APP_PROBERS is not an object");
    }
    json_object_foreach(old, key, v)
    {
        if (json_is_object(v) && json_object_set(probers, key, v) != 0) {
            json_decref(old);
            return nomem();
        }
    }
    json_decref(old);
    return 0;
}

static int
cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
inj_probes_env(const json_t *probers, char **out)
{
    json_t *sorted = NULL; /* owned */
    const char **keys = NULL;
    size_t n = json_object_size(probers), i = 0;
    const char *key;
    json_t *v; /* borrowed */
    int rc;

    *out = NULL;
    if (!json_is_object(probers))
        return errmsg_set(RC_INVAL, "probers is not an object");
    keys = mem_calloc(n ? n : 1, sizeof(*keys));
    sorted = json_object();
    if (keys == NULL || sorted == NULL)
        goto oom;
    json_object_foreach((json_t *)probers, key, v)
    {
        keys[i++] = key;
    }
    /* Go's json.Marshal writes map keys in byte order. */
    qsort(keys, n, sizeof(*keys), cmp_keys);
    for (i = 0; i < n; i++) {
        if (json_object_set(sorted, keys[i],
                            json_object_get(probers, keys[i])) != 0)
            goto oom;
    }
    rc = inj_json_go_dumps(sorted, out);
    goto done;
oom:
    rc = errmsg_set(RC_NOMEM, "out of memory serializing probers");
done:
    json_decref(sorted);
    mem_free(keys);
    return rc;
}
