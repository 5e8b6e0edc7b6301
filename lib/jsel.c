/* jsel.c: selective JSON parsing (see jsel.h).
 *
 * A selection is a tree of nodes; a leaf node selects its whole subtree.
 * The scanner is a recursive descent over the raw bytes: skip_* functions
 * validate and step over values; sel_object walks an object whose node has
 * children, building values only for matching keys. Leaf values are handed
 * to jansson (json_loadb on their byte span; a plain string is built
 * directly), so what is kept is exactly what jansson would produce. */
#include "lib/jsel.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <string.h>

struct jsel {
    char *name;
    size_t nlen;
    int leaf;
    struct jsel **kids;
    int nkids;
};

int
jsel_new(struct jsel **out)
{
    *out = mem_calloc(1, sizeof(**out));
    return *out ? 0 : RC_NOMEM;
}

static void
free_kids(struct jsel *s)
{
    for (int i = 0; i < s->nkids; i++)
        jsel_free(s->kids[i]);
    mem_free(s->kids);
    s->kids = NULL;
    s->nkids = 0;
}

void
jsel_free(struct jsel *s)
{
    if (s == NULL)
        return;
    free_kids(s);
    mem_free(s->name);
    mem_free(s);
}

static struct jsel *
kid(const struct jsel *s, const char *name, size_t nlen)
{
    for (int i = 0; i < s->nkids; i++)
        if (s->kids[i]->nlen == nlen &&
            memcmp(s->kids[i]->name, name, nlen) == 0)
            return s->kids[i];
    return NULL;
}

int
jsel_add(struct jsel *s, const char *dotted)
{
    const char *p = dotted;

    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        struct jsel *k, **kids;

        if (len == 0)
            return errmsg_set(RC_INVAL, "empty component in path '%s'", dotted);
        if (s->leaf)
            return 0; /* already selected as a whole */
        k = kid(s, p, len);
        if (k == NULL) {
            kids = mem_realloc(s->kids, (size_t)(s->nkids + 1) * sizeof(*kids));
            if (kids == NULL)
                return RC_NOMEM;
            s->kids = kids;
            k = mem_calloc(1, sizeof(*k));
            if (k == NULL)
                return RC_NOMEM;
            k->name = mem_strndup(p, len);
            if (k->name == NULL) {
                mem_free(k);
                return RC_NOMEM;
            }
            k->nlen = len;
            s->kids[s->nkids++] = k;
        }
        s = k;
        if (dot == NULL) {
            s->leaf = 1;
            free_kids(s);
            return 0;
        }
        p = dot + 1;
    }
}

/* ---- scanner ---- */

struct scan {
    const unsigned char *p, *start, *end;
    int depth, max_depth;
    int rc;
};

/* str_stop[c]: bytes that end the fast loop inside a string: control
 * characters, '"' and '\\'. */
static const unsigned char str_stop[256] = {
    [0 ... 0x1f] = 1, [0x22] = 1, [0x5c] = 1};

static int
fail(struct scan *s, const char *what)
{
    if (s->rc == 0)
        s->rc = errmsg_set(RC_PARSE, "invalid JSON at byte %zu: %s",
                           (size_t)(s->p - s->start), what);
    return s->rc;
}

static inline void
ws(struct scan *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int
hexd(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* skip_string: s->p at the opening quote; leaves it after the closing one.
 * *esc (may be NULL) is set when the string has escapes. */
static int
skip_string(struct scan *s, int *esc)
{
    const unsigned char *p = s->p + 1, *end = s->end;

    for (;;) {
        while (p < end && !str_stop[*p])
            p++;
        if (p >= end) {
            s->p = p;
            return fail(s, "unterminated string");
        }
        if (*p == '"') {
            s->p = p + 1;
            return 0;
        }
        if (*p < 0x20) {
            s->p = p;
            return fail(s, "control character in string");
        }
        if (esc)
            *esc = 1;
        p++;
        if (p >= end) {
            s->p = p;
            return fail(s, "unterminated escape");
        }
        switch (*p) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p++;
            break;
        case 'u':
            if (end - p < 5 || !hexd(p[1]) || !hexd(p[2]) || !hexd(p[3]) ||
                !hexd(p[4])) {
                s->p = p;
                return fail(s, "bad \\u escape");
            }
            p += 5;
            break;
        default:
            s->p = p;
            return fail(s, "bad escape");
        }
    }
}

static int
skip_number(struct scan *s)
{
    const unsigned char *p = s->p, *end = s->end;

    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return fail(s, "bad number");
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return fail(s, "bad number");
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') {
            s->p = p;
            return fail(s, "bad fraction");
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9') {
            s->p = p;
            return fail(s, "bad exponent");
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    s->p = p;
    return 0;
}

static int
skip_lit(struct scan *s, const char *lit, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return fail(s, "unexpected character");
    s->p += n;
    return 0;
}

static int skip_value(struct scan *s);

static int
enter(struct scan *s)
{
    if (++s->depth > s->max_depth) {
        if (s->rc == 0)
            s->rc = errmsg_set(RC_LIMIT, "JSON nesting deeper than %d",
                               s->max_depth);
        return s->rc;
    }
    return 0;
}

static int
skip_container(struct scan *s, unsigned char close)
{
    if (enter(s))
        return s->rc;
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            ws(s);
            if (s->p >= s->end || *s->p != '"')
                return fail(s, "expected a key");
            if (skip_string(s, NULL))
                return s->rc;
            ws(s);
            if (s->p >= s->end || *s->p != ':')
                return fail(s, "expected ':'");
            s->p++;
        }
        if (skip_value(s))
            return s->rc;
        ws(s);
        if (s->p >= s->end)
            return fail(s, "unterminated container");
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == close) {
            s->p++;
            s->depth--;
            return 0;
        }
        return fail(s, "expected ',' or a closing bracket");
    }
}

static int
skip_value(struct scan *s)
{
    ws(s);
    if (s->p >= s->end)
        return fail(s, "expected a value");
    switch (*s->p) {
    case '"':
        return skip_string(s, NULL);
    case '{':
        return skip_container(s, '}');
    case '[':
        return skip_container(s, ']');
    case 't':
        return skip_lit(s, "true", 4);
    case 'f':
        return skip_lit(s, "false", 5);
    case 'n':
        return skip_lit(s, "null", 4);
    default:
        return skip_number(s);
    }
}

/* build: the value at [a, b) (already validated) as a jansson value. */
static int
build(struct scan *s, const unsigned char *a, const unsigned char *b, int esc,
      json_t **out)
{
    json_error_t err;

    mem_oom_reset();
    if (*a == '"' && !esc)
        *out = json_stringn((const char *)a + 1, (size_t)(b - a - 2));
    else
        *out =
            json_loadb((const char *)a, (size_t)(b - a), JSON_DECODE_ANY, &err);
    if (*out != NULL)
        return 0;
    if (mem_oom_seen()) {
        s->rc = errmsg_set(RC_NOMEM, "out of memory building JSON");
        return s->rc;
    }
    s->p = a;
    return fail(s, *a == '"' ? "invalid UTF-8 or escape in string"
                             : "value rejected by the JSON parser");
}

static int
sel_object(struct scan *s, const struct jsel *node, json_t *dst)
{
    if (enter(s))
        return s->rc;
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        s->depth--;
        return 0;
    }
    for (;;) {
        const unsigned char *ka, *kb, *va;
        json_t *keyv = NULL; /* owned: decoded key when escaped */
        const char *key;
        size_t klen;
        int esc = 0;
        struct jsel *k;

        ws(s);
        if (s->p >= s->end || *s->p != '"')
            return fail(s, "expected a key");
        ka = s->p;
        if (skip_string(s, &esc))
            return s->rc;
        kb = s->p;
        key = (const char *)ka + 1;
        klen = (size_t)(kb - ka - 2);
        if (esc) {
            if (build(s, ka, kb, 1, &keyv))
                return s->rc;
            key = json_string_value(keyv);
            klen = json_string_length(keyv);
        }
        k = kid(node, key, klen);
        ws(s);
        if (s->p >= s->end || *s->p != ':') {
            json_decref(keyv);
            return fail(s, "expected ':'");
        }
        s->p++;
        ws(s);
        va = s->p;
        if (k != NULL && k->leaf) {
            json_t *v = NULL; /* owned */
            int vesc = 0;
            if (s->p < s->end && *s->p == '"') {
                if (skip_string(s, &vesc) == 0)
                    build(s, va, s->p, vesc, &v);
            } else if (skip_value(s) == 0) {
                build(s, va, s->p, 1, &v);
            }
            if (s->rc == 0 && json_object_setn_new(dst, key, klen, v) != 0)
                s->rc = errmsg_set(RC_NOMEM, "out of memory building JSON");
        } else if (k != NULL && s->p < s->end && *s->p == '{') {
            json_t *child = json_object(); /* owned until set */
            if (child == NULL ||
                json_object_setn_new(dst, key, klen, child) != 0)
                s->rc = errmsg_set(RC_NOMEM, "out of memory building JSON");
            else
                sel_object(s, k, child);
        } else {
            if (k != NULL) /* a later non-object replaces an earlier one */
                json_object_deln(dst, key, klen);
            skip_value(s);
        }
        json_decref(keyv);
        if (s->rc)
            return s->rc;
        ws(s);
        if (s->p >= s->end)
            return fail(s, "unterminated object");
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == '}') {
            s->p++;
            s->depth--;
            return 0;
        }
        return fail(s, "expected ',' or '}'");
    }
}

int
jsel_parse(json_t **out, const char *p, size_t n, const struct jsel *sel,
           int max_depth)
{
    static const struct jsel none;
    struct scan s = {0};
    json_t *root = NULL; /* owned */

    *out = NULL;
    s.p = s.start = (const unsigned char *)p;
    s.end = s.p + n;
    s.max_depth = max_depth > 0 ? max_depth : 64;
    if (sel == NULL)
        sel = &none;
    ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return fail(&s, "expected an object");
    root = json_object();
    if (root == NULL)
        return errmsg_set(RC_NOMEM, "out of memory building JSON");
    if (sel->leaf) {
        const unsigned char *a = s.p;
        json_decref(root);
        root = NULL;
        if (skip_value(&s) == 0)
            build(&s, a, s.p, 1, &root);
    } else {
        sel_object(&s, sel, root);
    }
    if (s.rc == 0) {
        ws(&s);
        if (s.p != s.end)
            fail(&s, "trailing bytes after the document");
    }
    if (s.rc) {
        json_decref(root);
        return s.rc;
    }
    *out = root;
    return 0;
}
