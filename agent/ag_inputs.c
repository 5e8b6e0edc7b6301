/* ag_inputs.c: ISTIO_KUBE_APP_PROBERS, ISTIO_PROMETHEUS_ANNOTATIONS and
 * downward API parsing (ag_inputs.h).
 *
 * Every string that later lands in a URL or an HTTP header is checked
 * here, once: no control characters, no spaces, no CR/LF, bounded length.
 * The probe table is sorted so look-ups are a binary search. */
#include "agent/ag_inputs.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct jutil_limits input_limits = {AG_INPUT_MAX_BYTES, 16};

int
ag_prober_path_valid(const char *p)
{
    static const char *const kinds[] = {"livez", "readyz", "startupz",
                                        "prestopz", "poststartz"};
    const char *name, *slash;
    size_t n;

    if (strncmp(p, "/app-health/", 12) == 0)
        name = p + 12;
    else if (strncmp(p, "/app-lifecycle/", 15) == 0)
        name = p + 15;
    else
        return 0;
    slash = strchr(name, '/');
    if (slash == NULL || slash == name)
        return 0;
    n = strlen(slash + 1);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i]) == n && strcmp(slash + 1, kinds[i]) == 0)
            return 1;
    return 0;
}

/* url_safe: printable ASCII without space (what may go into an URL path
 * or a Host), at most max bytes. */
static int
url_safe(const char *s, size_t max)
{
    size_t n = 0;

    for (; *s; s++, n++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return n <= max;
}

/* header_safe: no CR, LF or NUL-like control bytes other than tab. */
static int
header_safe(const char *s, size_t max)
{
    size_t n = 0;

    for (; *s; s++, n++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return 0;
    return n <= max;
}

static int
token_safe(const char *s)
{
    if (*s == '\0' || strlen(s) > 256)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
            return 0;
    return 1;
}

/* port_of: a JSON integer or numeric string in 1..65535. */
static int
port_of(const json_t *v, int *out)
{
    long long p = -1;

    if (json_is_integer(v)) {
        p = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;

        if (*s == '\0' || strlen(s) > 5)
            return -1;
        p = strtoll(s, &end, 10);
        if (*end != '\0')
            return -1;
    }
    if (p < 1 || p > 65535)
        return -1;
    *out = (int)p;
    return 0;
}

static int
dup_into(char **slot, const char *s)
{
    *slot = mem_strdup(s);
    return *slot ? 0 : errmsg_set(RC_NOMEM, "out of memory");
}

static void
prober_cleanup(struct ag_prober *p)
{
    mem_free(p->url_path);
    mem_free(p->host);
    mem_free(p->http_path);
    mem_free(p->grpc_service);
    for (size_t i = 0; i < p->nheaders; i++) {
        mem_free(p->headers[i].name);
        mem_free(p->headers[i].value);
    }
    mem_free(p->headers);
    memset(p, 0, sizeof *p);
}

static int
parse_headers(struct ag_prober *p, const json_t *hs)
{
    size_t i;
    const json_t *h; /* borrowed */

    if (hs == NULL || json_is_null(hs))
        return 0;
    if (!json_is_array(hs))
        return errmsg_set(RC_INVAL, "httpHeaders is not a list");
    if (json_array_size(hs) > AG_PROBER_HEADERS_MAX)
        return errmsg_set(RC_LIMIT, "more than %d httpHeaders",
                          AG_PROBER_HEADERS_MAX);
    if (json_array_size(hs) == 0)
        return 0;
    p->headers = mem_calloc(json_array_size(hs), sizeof *p->headers);
    if (p->headers == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    json_array_foreach(hs, i, h)
    {
        const char *name = jutil_str(h, "name");
        const char *value = jutil_str(h, "value");
        struct ag_header *dst = &p->headers[p->nheaders];

        if (name == NULL || value == NULL)
            return errmsg_set(RC_INVAL,
                              "httpHeaders[%zu] needs a name and "
                              "a value",
                              i);
        if (!token_safe(name) || !header_safe(value, 4096))
            return errmsg_set(RC_INVAL,
                              "httpHeaders[%zu] has a bad name or "
                              "value",
                              i);
        if (dup_into(&dst->name, name) != 0)
            return RC_NOMEM;
        p->nheaders++;
        if (dup_into(&dst->value, value) != 0)
            return RC_NOMEM;
    }
    return 0;
}

static int
parse_host(struct ag_prober *p, const json_t *spec)
{
    const json_t *h = json_object_get(spec, "host"); /* borrowed */
    const char *s = "";

    if (h != NULL && !json_is_null(h)) {
        if (!json_is_string(h))
            return errmsg_set(RC_INVAL, "host is not a string");
        s = json_string_value(h);
        for (const char *c = s; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' ||
                  *c == ':'))
                return errmsg_set(RC_INVAL, "bad host");
        if (strlen(s) > 253)
            return errmsg_set(RC_INVAL, "host too long");
    }
    return dup_into(&p->host, s);
}

static int
parse_one(struct ag_prober *p, const char *key, const json_t *v)
{
    const json_t *http, *tcp, *grpc, *spec, *t; /* borrowed */
    int kinds, rc;

    if (!ag_prober_path_valid(key) || !url_safe(key, 512))
        return errmsg_set(RC_INVAL, "invalid prober path");
    if (!json_is_object(v))
        return errmsg_set(RC_INVAL, "prober is not an object");
    rc = dup_into(&p->url_path, key);
    if (rc != 0)
        return rc;
    http = json_object_get(v, "httpGet");
    tcp = json_object_get(v, "tcpSocket");
    grpc = json_object_get(v, "grpc");
    kinds = (http != NULL) + (tcp != NULL) + (grpc != NULL);
    if (kinds != 1)
        return errmsg_set(RC_INVAL, "need exactly one of httpGet, tcpSocket, "
                                    "grpc");
    spec = http ? http : tcp ? tcp : grpc;
    p->kind = http ? AG_PROBE_HTTP : tcp ? AG_PROBE_TCP : AG_PROBE_GRPC;
    if (!json_is_object(spec))
        return errmsg_set(RC_INVAL, "probe is not an object");
    if (port_of(json_object_get(spec, "port"), &p->port) != 0)
        return errmsg_set(RC_INVAL, "port is missing or not a port number");
    t = json_object_get(v, "timeoutSeconds");
    p->timeout_s = 1;
    if (t != NULL && !json_is_null(t)) {
        if (!json_is_integer(t) || json_integer_value(t) < 0 ||
            json_integer_value(t) > 3600)
            return errmsg_set(RC_INVAL, "bad timeoutSeconds");
        if (json_integer_value(t) > 0)
            p->timeout_s = (long)json_integer_value(t);
    }
    rc = parse_host(p, spec);
    if (rc != 0)
        return rc;
    if (p->kind == AG_PROBE_HTTP) {
        const char *path = jutil_str(spec, "path");
        const char *scheme = jutil_str(spec, "scheme");

        if (path == NULL || *path == '\0')
            path = "/";
        if (!url_safe(path, 2048) || strchr(path, '#'))
            return errmsg_set(RC_INVAL, "bad httpGet path");
        if (path[0] != '/') {
            size_t n = strlen(path);

            p->http_path = mem_alloc(n + 2);
            if (p->http_path == NULL)
                return errmsg_set(RC_NOMEM, "out of memory");
            p->http_path[0] = '/';
            memcpy(p->http_path + 1, path, n + 1);
        } else if (dup_into(&p->http_path, path) != 0) {
            return RC_NOMEM;
        }
        if (scheme == NULL || strcmp(scheme, "HTTP") == 0 ||
            strcmp(scheme, "http") == 0)
            p->https = 0;
        else if (strcmp(scheme, "HTTPS") == 0 || strcmp(scheme, "https") == 0)
            p->https = 1;
        else
            return errmsg_set(RC_INVAL, "bad scheme");
        return parse_headers(p, json_object_get(spec, "httpHeaders"));
    }
    if (p->kind == AG_PROBE_GRPC) {
        const json_t *svc = json_object_get(spec, "service"); /* borrowed */
        const char *s = "";

        if (svc != NULL && !json_is_null(svc)) {
            if (!json_is_string(svc) ||
                !header_safe(json_string_value(svc), 1024))
                return errmsg_set(RC_INVAL, "bad grpc service");
            s = json_string_value(svc);
        }
        return dup_into(&p->grpc_service, s);
    }
    return 0;
}

static int
cmp_prober(const void *a, const void *b)
{
    return strcmp(((const struct ag_prober *)a)->url_path,
                  ((const struct ag_prober *)b)->url_path);
}

int
ag_probers_parse(struct ag_probers *out, const char *json, size_t len)
{
    json_t *doc = NULL; /* owned */
    const char *key;
    json_t *v; /* borrowed */
    struct ag_probers t = {NULL, 0};
    int rc = 0;

    memset(out, 0, sizeof *out);
    if (len == 0)
        return 0;
    rc = jutil_parse(&doc, json, len, &input_limits);
    if (rc != 0)
        return errmsg_prefix(rc, "ISTIO_KUBE_APP_PROBERS");
    if (!json_is_object(doc)) {
        rc = errmsg_set(RC_INVAL, "ISTIO_KUBE_APP_PROBERS: not an object");
        goto out;
    }
    if (json_object_size(doc) > AG_PROBERS_MAX) {
        rc = errmsg_set(RC_LIMIT,
                        "ISTIO_KUBE_APP_PROBERS: more than %d "
                        "probers",
                        AG_PROBERS_MAX);
        goto out;
    }
    if (json_object_size(doc) > 0) {
        t.v = mem_calloc(json_object_size(doc), sizeof *t.v);
        if (t.v == NULL) {
            rc = errmsg_set(RC_NOMEM, "out of memory");
            goto out;
        }
    }
    json_object_foreach(doc, key, v)
    {
        rc = parse_one(&t.v[t.n], key, v);
        t.n++;
        if (rc != 0) {
            rc = errmsg_prefix(rc, "ISTIO_KUBE_APP_PROBERS[%.128s]", key);
            goto out;
        }
    }
    if (t.n > 1)
        qsort(t.v, t.n, sizeof *t.v, cmp_prober);
    *out = t;
    t.v = NULL;
    t.n = 0;
out:
    ag_probers_cleanup(&t);
    json_decref(doc);
    return rc;
}

void
ag_probers_cleanup(struct ag_probers *p)
{
    for (size_t i = 0; i < p->n; i++)
        prober_cleanup(&p->v[i]);
    mem_free(p->v);
    p->v = NULL;
    p->n = 0;
}

const struct ag_prober *
ag_probers_find(const struct ag_probers *p, const char *url_path)
{
    size_t lo = 0, hi = p->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(url_path, p->v[mid].url_path);

        if (c == 0)
            return &p->v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int
ag_prom_parse(struct ag_prom *out, const char *json, size_t len)
{
    json_t *doc = NULL; /* owned */
    const json_t *port; /* borrowed */
    const char *scrape, *path;
    struct ag_prom r = {0, 0, NULL};
    int rc = 0;

    memset(out, 0, sizeof *out);
    if (len == 0)
        return 0;
    rc = jutil_parse(&doc, json, len, &input_limits);
    if (rc != 0)
        return errmsg_prefix(rc, "ISTIO_PROMETHEUS_ANNOTATIONS");
    if (!json_is_object(doc)) {
        rc = errmsg_set(RC_INVAL, "ISTIO_PROMETHEUS_ANNOTATIONS: not an "
                                  "object");
        goto out;
    }
    scrape = jutil_str(doc, "scrape");
    path = jutil_str(doc, "path");
    port = json_object_get(doc, "port");
    if (path == NULL || *path == '\0')
        path = "/metrics";
    if (!url_safe(path, 2048) || path[0] != '/' || strchr(path, '#')) {
        rc = errmsg_set(RC_INVAL, "ISTIO_PROMETHEUS_ANNOTATIONS: bad path");
        goto out;
    }
    if (port != NULL &&
        !(json_is_string(port) && *json_string_value(port) == '\0')) {
        if (port_of(port, &r.port) != 0) {
            rc = errmsg_set(RC_INVAL, "ISTIO_PROMETHEUS_ANNOTATIONS: bad "
                                      "port");
            goto out;
        }
    }
    r.scrape = scrape && strcasecmp(scrape, "true") == 0 && r.port > 0;
    r.path = mem_strdup(path);
    if (r.path == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory");
        goto out;
    }
    *out = r;
out:
    json_decref(doc);
    return rc;
}

void
ag_prom_cleanup(struct ag_prom *p)
{
    mem_free(p->path);
    memset(p, 0, sizeof *p);
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* put_utf8 appends code point cp; 0 or -1 (invalid code point). */
static int
put_utf8(char *dst, size_t *n, unsigned long cp)
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    if (cp < 0x80) {
        dst[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        dst[(*n)++] = (char)(0xC0 | (cp >> 6));
        dst[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        dst[(*n)++] = (char)(0xE0 | (cp >> 12));
        dst[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        dst[(*n)++] = (char)(0xF0 | (cp >> 18));
        dst[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        dst[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
    return 0;
}

/* unquote decodes a Go-quoted string body q[0..n) (without the quotes) into
 * dst (room for 4*n+1 bytes). 0 or -1. */
static int
unquote(const char *q, size_t n, char *dst, size_t *dn)
{
    size_t i = 0;

    *dn = 0;
    while (i < n) {
        char c = q[i++];
        unsigned long cp = 0;
        int digits = 0;

        if (c == '"')
            return -1;
        if (c != '\\') {
            dst[(*dn)++] = c;
            continue;
        }
        if (i >= n)
            return -1;
        c = q[i++];
        switch (c) {
        case 'a':
            dst[(*dn)++] = '\a';
            continue;
        case 'b':
            dst[(*dn)++] = '\b';
            continue;
        case 'f':
            dst[(*dn)++] = '\f';
            continue;
        case 'n':
            dst[(*dn)++] = '\n';
            continue;
        case 'r':
            dst[(*dn)++] = '\r';
            continue;
        case 't':
            dst[(*dn)++] = '\t';
            continue;
        case 'v':
            dst[(*dn)++] = '\v';
            continue;
        case '\\':
            dst[(*dn)++] = '\\';
            continue;
        case '"':
            dst[(*dn)++] = '"';
            continue;
        case '\'':
            dst[(*dn)++] = '\'';
            continue;
        case 'x':
            digits = 2;
            break;
        case 'u':
            digits = 4;
            break;
        case 'U':
            digits = 8;
            break;
        default:
            if (c >= '0' && c <= '7' && i + 1 < n && q[i] >= '0' &&
                q[i] <= '7' && q[i + 1] >= '0' && q[i + 1] <= '7') {
                unsigned v = (unsigned)(c - '0') * 64 +
                             (unsigned)(q[i] - '0') * 8 +
                             (unsigned)(q[i + 1] - '0');
                if (v > 255)
                    return -1;
                dst[(*dn)++] = (char)v;
                i += 2;
                continue;
            }
            return -1;
        }
        if (i + (size_t)digits > n)
            return -1;
        for (int k = 0; k < digits; k++) {
            int h = hexval(q[i++]);

            if (h < 0)
                return -1;
            cp = cp * 16 + (unsigned long)h;
        }
        if (digits == 2)
            dst[(*dn)++] = (char)cp; /* a raw byte, as Go's \x */
        else if (put_utf8(dst, dn, cp) != 0)
            return -1;
    }
    return 0;
}

int
ag_podinfo_parse(json_t **out, const char *text, size_t len)
{
    json_t *obj = NULL; /* owned */
    char *val = NULL;
    const char *p = text, *end = text + len;
    int lines = 0, rc = 0;

    *out = NULL;
    if (len > AG_INPUT_MAX_BYTES)
        return errmsg_set(RC_LIMIT, "downward API file over %d bytes",
                          AG_INPUT_MAX_BYTES);
    obj = json_object();
    val = mem_alloc(len * 4 + 1);
    if (obj == NULL || val == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory");
        goto out;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *eq;
        char key[320];
        size_t kn, vn = 0;
        json_t *s; /* owned until set */

        lines++;
        if (lines > 4096) {
            rc = errmsg_set(RC_LIMIT, "downward API file over 4096 lines");
            goto out;
        }
        if (le > p && le[-1] == '\r')
            le--;
        if (le == p) {
            p = nl ? nl + 1 : end;
            continue;
        }
        eq = memchr(p, '=', (size_t)(le - p));
        kn = eq ? (size_t)(eq - p) : 0;
        if (eq == NULL || kn == 0 || kn >= sizeof key || le - eq < 3 ||
            eq[1] != '"' || le[-1] != '"' ||
            unquote(eq + 2, (size_t)(le - eq - 3), val, &vn) != 0) {
            rc = errmsg_set(RC_PARSE, "downward API line %d is malformed",
                            lines);
            goto out;
        }
        memcpy(key, p, kn);
        key[kn] = '\0';
        if (memchr(key, '\0', kn) != NULL) {
            rc = errmsg_set(RC_PARSE, "downward API line %d is malformed",
                            lines);
            goto out;
        }
        mem_oom_reset();
        s = json_stringn(val, vn); /* NULL: not UTF-8 (or no memory) */
        if (s == NULL || json_object_set_new(obj, key, s) != 0) {
            rc = mem_oom_seen()
                     ? errmsg_set(RC_NOMEM, "out of memory")
                     : errmsg_set(RC_PARSE, "downward API line %d is not UTF-8",
                                  lines);
            goto out;
        }
        p = nl ? nl + 1 : end;
    }
    *out = obj;
    obj = NULL;
out:
    mem_free(val);
    json_decref(obj);
    return rc;
}
