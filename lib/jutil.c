/* jutil.c: bounded JSON parsing and small jansson helpers (see jutil.h). */
#include "lib/jutil.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <string.h>

int
jutil_depth(const char *p, size_t n, int stop)
{
    int depth = 0, max = 0, in_str = 0;

    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > stop)
                    return max;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

int
jutil_parse(json_t **out, const char *p, size_t n,
            const struct jutil_limits *lim)
{
    size_t max_bytes =
        lim && lim->max_bytes ? lim->max_bytes : JUTIL_DEFAULT_MAX_BYTES;
    int max_depth =
        lim && lim->max_depth ? lim->max_depth : JUTIL_DEFAULT_MAX_DEPTH;
    json_error_t err;
    json_t *v; /* owned */

    *out = NULL;
    if (n > max_bytes)
        return errmsg_set(RC_LIMIT,
                          "JSON document of %zu bytes is over "
                          "the limit of %zu",
                          n, max_bytes);
    if (jutil_depth(p, n, max_depth) > max_depth)
        return errmsg_set(RC_LIMIT, "JSON nesting deeper than %d", max_depth);
    mem_oom_reset();
    v = json_loadb(p, n, JSON_DECODE_ANY, &err);
    if (v == NULL) {
        if (mem_oom_seen() || json_error_code(&err) == json_error_out_of_memory)
            return errmsg_set(RC_NOMEM, "out of memory parsing JSON");
        return errmsg_set(RC_PARSE, "invalid JSON at line %d column %d: %s",
                          err.line, err.column, err.text);
    }
    *out = v;
    return 0;
}

const char *
jutil_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

json_t *
jutil_obj(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_object(v) ? v : NULL;
}

json_t *
jutil_arr(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_array(v) ? v : NULL;
}

json_t *
jutil_path(const json_t *root, const char *dotted)
{
    char key[256];
    const json_t *cur = root;

    while (cur && *dotted) {
        const char *dot = strchr(dotted, '.');
        size_t n = dot ? (size_t)(dot - dotted) : strlen(dotted);
        if (n >= sizeof(key) || !json_is_object(cur))
            return NULL;
        memcpy(key, dotted, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        dotted += n + (dot ? 1 : 0);
    }
    return (json_t *)cur;
}

const char *
jutil_path_str(const json_t *root, const char *dotted)
{
    return json_string_value(jutil_path(root, dotted));
}

json_t *
jutil_obj_ensure(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key); /* borrowed */

    if (json_is_object(v))
        return v;
    if (json_object_set_new(obj, key, json_object()) != 0)
        return NULL;
    return json_object_get(obj, key);
}

int
jutil_set_str(json_t *obj, const char *key, const char *s)
{
    if (json_object_set_new(obj, key, json_string(s)) != 0)
        return errmsg_set(RC_NOMEM, "out of memory setting '%s'", key);
    return 0;
}

static int
dump_cb(const char *p, size_t n, void *data)
{
    return buf_add(data, p, n) == 0 ? 0 : -1;
}

int
jutil_dump(const json_t *v, size_t flags, struct buf *out)
{
    size_t before = out->len;

    if (json_dump_callback(v, dump_cb, out,
                           flags | JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        out->len = before;
        if (out->ptr)
            out->ptr[before] = '\0';
        return errmsg_set(RC_NOMEM, "cannot serialize JSON (memory or "
                                    "buffer limit)");
    }
    return 0;
}

char *
jutil_dumps(const json_t *v, size_t flags)
{
    struct buf b;

    buf_init(&b, 0);
    if (jutil_dump(v, flags, &b) != 0) {
        buf_cleanup(&b);
        return NULL;
    }
    return buf_take(&b, NULL);
}
