/* gojson.c: the compact JSON writer of the injector's env values
 * (ISTIO_KUBE_APP_PROBERS, ISTIO_PROMETHEUS_ANNOTATIONS,
 * ISTIO_META_POD_PORTS).
 *
 * Objects are written in their key order, compactly, integers as %lld;
 * strings are escaped either exactly as jansson's compact dump does
 * (`go` = 0) or as Go's encoding/json does (`go` = 1: also '<' '>' '&'
 * and U+2028/U+2029 as \u003c \u003e \u0026 \u2028 \u2029, hex in lower
 * case), which is Istio's byte format. It writes straight into the buffer
 * (runs of plain bytes in one append), without jansson's dump and a second
 * escaping pass; reals, which the injector never writes, go through
 * jansson. */
#include "injector/inj_internal.h"
#include "injector/probes.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
#include <string.h>

#define WRITE_MAX_DEPTH 256

static int
put_str(struct buf *out, const char *s, size_t n, int go)
{
    static const char hex[2][17] = {"0123456789ABCDEF", "0123456789abcdef"};
    size_t run = 0;
    int rc = buf_addc(out, '"');

    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[7];
        size_t en = 2;

        if (c >= 0x20 && c != '"' && c != '\\' &&
            !(go &&
              (c == '<' || c == '>' || c == '&' ||
               (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                ((unsigned char)s[i + 2] & 0xfe) == 0xa8))))
            continue;
        rc = buf_add(out, s + run, i - run);
        e[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            e[1] = (char)c;
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        case 0xe2: /* U+2028 / U+2029 (go only) */
            memcpy(e + 1, (unsigned char)s[i + 2] == 0xa8 ? "u2028" : "u2029",
                   5);
            en = 6;
            i += 2;
            break;
        default: /* control bytes, and < > & (go only) */
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[go][c >> 4];
            e[5] = hex[go][c & 15];
            en = 6;
            break;
        }
        rc = rc ? rc : buf_add(out, e, en);
        run = i + 1;
    }
    rc = rc ? rc : buf_add(out, s + run, n - run);
    return rc ? rc : buf_addc(out, '"');
}

static int
put_value(struct buf *out, const json_t *v, int go, int depth)
{
    const char *k;
    size_t kl, i;
    json_t *e; /* borrowed */
    int rc = 0, first = 1;

    if (depth > WRITE_MAX_DEPTH)
        return errmsg_set(RC_LIMIT, "JSON nested deeper than %d",
                          WRITE_MAX_DEPTH);
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        rc = buf_addc(out, '{');
        json_object_keylen_foreach((json_t *)v, k, kl, e)
        {
            if (rc == 0 && !first)
                rc = buf_addc(out, ',');
            rc = rc ? rc : put_str(out, k, kl, go);
            rc = rc ? rc : buf_addc(out, ':');
            rc = rc ? rc : put_value(out, e, go, depth + 1);
            first = 0;
        }
        return rc ? rc : buf_addc(out, '}');
    case JSON_ARRAY:
        rc = buf_addc(out, '[');
        json_array_foreach(v, i, e)
        {
            if (rc == 0 && !first)
                rc = buf_addc(out, ',');
            rc = rc ? rc : put_value(out, e, go, depth + 1);
            first = 0;
        }
        return rc ? rc : buf_addc(out, ']');
    case JSON_STRING:
        return put_str(out, json_string_value(v), json_string_length(v), go);
    case JSON_INTEGER:
        return buf_addll(out, (long long)json_integer_value(v));
    case JSON_TRUE:
        return buf_addstr(out, "true");
    case JSON_FALSE:
        return buf_addstr(out, "false");
    case JSON_NULL:
        return buf_addstr(out, "null");
    default: /* JSON_REAL: jansson's own format */
        return jutil_dump(v, 0, out);
    }
}

int
inj_json_write(struct buf *out, const json_t *v, int go)
{
    size_t before = out->len;
    int rc = v ? put_value(out, v, go, 0) : RC_INVAL;

    if (rc != 0 && out->ptr != NULL) {
        out->len = before;
        out->ptr[before] = '\0';
    }
    if (rc == RC_NOMEM)
        return errmsg_set(RC_NOMEM, "out of memory serializing JSON");
    return rc;
}

int
inj_json_go_dumps(const json_t *v, char **out)
{
    struct buf b;
    int rc;

    *out = NULL;
    buf_init(&b, 0);
    rc = inj_json_write(&b, v, 1);
    if (rc == 0) {
        *out = buf_take(&b, NULL);
        if (*out == NULL)
            rc = errmsg_set(RC_NOMEM, "out of memory serializing JSON");
    }
    buf_cleanup(&b);
    return rc;
}
