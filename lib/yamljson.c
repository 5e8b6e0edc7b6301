/* yamljson.c: the YAML loader, YAML -> JSON through libyaml's event parser
 * (see yamljson.h; the writer, yj_dump, is in yamlemit.c).
 *
 * Loading turns parser events into jansson values on an explicit stack of
 * open collections (no recursion, so depth costs no C stack). Anchors are
 * registered when their node is complete: an alias to a node that is still
 * open is "undefined", which also rules out recursive structures. An alias
 * is expanded by a deep copy whose size (nodes, string bytes, height) is
 * known in advance from the anchor's record, so every limit is checked
 * before any copying: a billion-laughs document fails on its first
 * oversized alias with almost nothing allocated.
 *
 * The scalar resolution here (classify) is also what yamlemit.c asks,
 * through yj_plain_is_str, before writing a string unquoted: the two files
 * must agree on it, so it lives in one place. */
#include "lib/yamljson.h"
#include "lib/yamlpriv.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define TAG_PREFIX "tag:yaml.org,2002:"
#define KEY_MSG_MAX 64 /* key bytes quoted in error messages */

/* ---- UTF-8 (the decoder, yj_u8_next, is in yamlpriv.h) ------------------ */

/* scalar_text_ok: valid UTF-8 without NUL (jansson and every C consumer of
 * our values would otherwise disagree about where a string ends). */
static int
scalar_text_ok(const char *s, size_t n, const char **why)
{
    size_t i = 0;
    uint32_t cp;

    while (i < n) {
        if (yj_u8_next((const unsigned char *)s, n, &i, &cp) != 0) {
            *why = "invalid UTF-8 in scalar";
            return 0;
        }
        if (cp == 0) {
            *why = "NUL character in scalar";
            return 0;
        }
    }
    return 1;
}

/* ---- scalar resolution (YAML 1.2 core schema) --------------------------- */

enum kind { K_STR, K_NULL, K_TRUE, K_FALSE, K_INT, K_FLOAT, K_INFNAN };

static int
is_one_of(const char *s, size_t n, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == n && memcmp(s, *words, n) == 0)
            return 1;
    return 0;
}

static const char *const null_words[] = {"~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};
static const char *const infnan_words[] = {
    ".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
    "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL};

/* int_form: 1 when s is an integer of the core schema ([-+]?[0-9]+,
 * 0o[0-7]+, 0x[0-9a-fA-F]+); *val gets the value and *ovf is set when it
 * does not fit in 64 bits.
 *
 * One deliberate exception to YAML 1.2: a decimal-looking integer with a
 * leading zero and only octal digits ("0644", "-010") is octal, as in YAML
 * 1.1 and kubectl. Manifests write file modes that way (defaultMode: 0400)
 * and reading 0400 as four hundred would silently give another mode. */
static int
int_form(const char *s, size_t n, json_int_t *val, int *ovf)
{
    unsigned base = 10;
    size_t i = 0;
    int neg = 0;
    uint64_t acc = 0, lim;

    *ovf = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
        base = s[1] == 'o' ? 8 : 16;
        i = 2;
    } else if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return 0;
    if (base == 10 && s[i] == '0' && n - i > 1 &&
        strspn(s + i, "01234567") == n - i)
        base = 8;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        unsigned d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return 0;
        if (d >= base)
            return 0;
        if (acc > (lim - d) / base)
            *ovf = 1;
        else
            acc = acc * base + d;
    }
    if (!*ovf)
        *val = neg ? (json_int_t)(0 - acc) : (json_int_t)acc;
    return 1;
}

/* float_form: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]?
 * [0-9]+ )? — the core schema's float (which also matches integers). */
static int
float_form(const char *s, size_t n)
{
    size_t i = 0, d0;

    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    d0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i < n && s[i] == '.') {
        size_t f0 = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (f0 - 1 == d0 && i == f0) /* "." alone, no digits */
            return 0;
    } else if (i == d0) {
        return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t e0;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        e0 = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e0)
            return 0;
    }
    return i == n;
}

static enum kind
classify(const char *s, size_t n)
{
    json_int_t iv;
    int ovf;

    if (n == 0 || is_one_of(s, n, null_words))
        return K_NULL;
    if (is_one_of(s, n, true_words))
        return K_TRUE;
    if (is_one_of(s, n, false_words))
        return K_FALSE;
    if (int_form(s, n, &iv, &ovf))
        return K_INT;
    if (float_form(s, n))
        return K_FLOAT;
    if (is_one_of(s, n, infnan_words))
        return K_INFNAN;
    return K_STR;
}

int
yj_plain_is_str(const char *s, size_t n)
{
    return classify(s, n) == K_STR;
}

static json_t *
new_string(const char *s, size_t n)
{
    return json_stringn_nocheck(s, n); /* checked by scalar_text_ok */
}

/* make_value builds the JSON value of a scalar of kind k; integers that do
 * not fit in 64 bits and floats that overflow to infinity stay strings,
 * since JSON (and jansson) cannot carry them exactly. NULL: no memory. */
static json_t *
make_value(enum kind k, const char *s, size_t n)
{
    json_int_t iv = 0;
    int ovf;
    double d;

    switch (k) {
    case K_NULL:
        return json_null();
    case K_TRUE:
        return json_true();
    case K_FALSE:
        return json_false();
    case K_INT:
        int_form(s, n, &iv, &ovf);
        return ovf ? new_string(s, n) : json_integer(iv);
    case K_FLOAT:
        d = strtod(s, NULL); /* s is NUL-terminated (libyaml) */
        return isfinite(d) ? json_real(d) : new_string(s, n);
    default:
        return new_string(s, n);
    }
}

/* ---- loader state -------------------------------------------------------- */

/* What a complete node weighs: used to check limits before an alias copy. */
struct weight {
    size_t nodes;
    size_t bytes;
    int height; /* 0 for a scalar, 1 + tallest child for a collection */
};

struct anchor {
    char *name; /* owned; NULL: free slot */
    json_t *v;  /* owned reference, shared with the tree (never mutated) */
    char *raw;  /* owned scalar text (usable as a key); NULL: collection */
    size_t rawlen;
    struct weight w;
};

struct frame {
    json_t *v; /* owned: the open object or array */
    int is_map;
    char *key; /* owned pending key; NULL when a key is expected next */
    size_t keylen;
    int key_is_merge;
    char *anchor;     /* owned anchor name of this collection or NULL */
    struct weight w;  /* of the subtree so far, this node included */
    yaml_mark_t mark; /* where the collection started */
    json_t *merge;    /* owned value of "<<", or NULL */
    size_t merge_pos; /* explicit keys seen before "<<" */
    yaml_mark_t merge_mark;
};

struct loader {
    size_t max_bytes, max_nodes, max_alias, max_docs;
    int max_depth;
    struct frame *stack; /* owned */
    int depth, cap;
    struct anchor *anchors; /* owned hash table, size nslots (power of 2) */
    size_t nslots, nanchors;
    size_t ndocs, doc_nodes, alias_nodes, alias_bytes;
    json_t *root; /* owned value of the current document */
    int root_empty;
    json_t *docs; /* owned result array */
};

static int
fail_at(int rc, yaml_mark_t m, const char *what)
{
    return errmsg_set(rc, "line %zu column %zu: %s", m.line + 1, m.column + 1,
                      what);
}

/* key_for_msg copies at most KEY_MSG_MAX bytes of a key, control bytes and
 * quotes replaced, so that a message never carries raw input bytes. */
static void
key_for_msg(char *dst, size_t dstsz, const char *k, size_t n)
{
    size_t j = 0;

    for (size_t i = 0; i < n && i < KEY_MSG_MAX && j + 4 < dstsz; i++) {
        unsigned char c = (unsigned char)k[i];
        dst[j++] = (c < 0x20 || c == 0x7F || c == '"') ? '?' : (char)c;
    }
    if (n > KEY_MSG_MAX && j + 4 < dstsz) {
        memcpy(dst + j, "...", 3);
        j += 3;
    }
    dst[j] = '\0';
}

static size_t
hash_name(const char *s)
{
    size_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void
anchor_clear(struct anchor *a)
{
    mem_free(a->name);
    json_decref(a->v);
    mem_free(a->raw);
    memset(a, 0, sizeof(*a));
}

/* anchors_reset forgets every anchor and the table itself, so that a big
 * table of one document costs nothing to the next ones. */
static void
anchors_reset(struct loader *L)
{
    for (size_t i = 0; i < L->nslots && L->nanchors > 0; i++)
        if (L->anchors[i].name) {
            anchor_clear(&L->anchors[i]);
            L->nanchors--;
        }
    mem_free(L->anchors);
    L->anchors = NULL;
    L->nslots = 0;
    L->nanchors = 0;
}

static struct anchor *
anchor_slot(struct anchor *tab, size_t nslots, const char *name)
{
    size_t i = hash_name(name) & (nslots - 1);

    while (tab[i].name && strcmp(tab[i].name, name) != 0)
        i = (i + 1) & (nslots - 1);
    return &tab[i];
}

static struct anchor *
anchor_find(struct loader *L, const char *name)
{
    struct anchor *a;

    if (L->nslots == 0)
        return NULL;
    a = anchor_slot(L->anchors, L->nslots, name);
    return a->name ? a : NULL;
}

/* anchor_set records (or redefines) an anchor: 0, RC_NOMEM or RC_LIMIT.
 * v is borrowed (a reference is taken). The number of anchors per document
 * is capped by max_alias_nodes (an anchor is only useful to an alias, and
 * each alias costs at least one alias node), which also bounds the cost of
 * hash collisions in the table. */
static int
anchor_set(struct loader *L, const char *name, json_t *v, const char *raw,
           size_t rawlen, struct weight w, yaml_mark_t m)
{
    struct anchor *a, tmp = {0};

    if (L->nanchors >= L->max_alias && anchor_find(L, name) == NULL)
        return errmsg_set(RC_LIMIT,
                          "line %zu column %zu: more than %zu anchors in a "
                          "document (max_alias_nodes)",
                          m.line + 1, m.column + 1, L->max_alias);
    if ((L->nanchors + 1) * 2 > L->nslots) {
        size_t ns = L->nslots ? L->nslots * 2 : 16;
        struct anchor *t = mem_calloc(ns, sizeof(*t));
        if (t == NULL)
            return errmsg_set(RC_NOMEM, "out of memory recording an anchor");
        for (size_t i = 0; i < L->nslots; i++)
            if (L->anchors[i].name)
                *anchor_slot(t, ns, L->anchors[i].name) = L->anchors[i];
        mem_free(L->anchors);
        L->anchors = t;
        L->nslots = ns;
    }
    tmp.name = mem_strdup(name);
    if (raw)
        tmp.raw = mem_strndup(raw, rawlen);
    if (tmp.name == NULL || (raw && tmp.raw == NULL)) {
        mem_free(tmp.name);
        mem_free(tmp.raw);
        return errmsg_set(RC_NOMEM, "out of memory recording an anchor");
    }
    tmp.v = json_incref(v);
    tmp.rawlen = rawlen;
    tmp.w = w;
    a = anchor_slot(L->anchors, L->nslots, name);
    if (a->name)
        anchor_clear(a);
    else
        L->nanchors++;
    *a = tmp;
    return 0;
}

static int
count_node(struct loader *L, yaml_mark_t m, size_t nodes)
{
    if (L->doc_nodes + nodes > L->max_nodes || L->doc_nodes + nodes < nodes)
        return errmsg_set(RC_LIMIT,
                          "line %zu column %zu: document has more than %zu "
                          "nodes (max_nodes)",
                          m.line + 1, m.column + 1, L->max_nodes);
    L->doc_nodes += nodes;
    return 0;
}

static void
frame_cleanup(struct frame *f)
{
    json_decref(f->v);
    mem_free(f->key);
    mem_free(f->anchor);
    json_decref(f->merge);
    memset(f, 0, sizeof(*f));
}

/* ---- building ------------------------------------------------------------ */

static int
merge_value_ok(const json_t *v)
{
    size_t i;

    if (json_is_object(v))
        return 1;
    if (!json_is_array(v))
        return 0;
    for (i = 0; i < json_array_size(v); i++)
        if (!json_is_object(json_array_get(v, i)))
            return 0;
    return 1;
}

/* put_value hands a complete node to its parent (or makes it the document
 * root) and records its anchor. v is stolen, also on failure. */
static int
put_value(struct loader *L, json_t *v, struct weight w, const char *anchor,
          const char *raw, size_t rawlen, yaml_mark_t mark)
{
    struct frame *f;
    int rc;

    if (anchor && (rc = anchor_set(L, anchor, v, raw, rawlen, w, mark)) != 0) {
        json_decref(v);
        return rc;
    }
    if (L->depth == 0) {
        L->root = v;
        return 0;
    }
    f = &L->stack[L->depth - 1];
    f->w.nodes += w.nodes;
    f->w.bytes += w.bytes;
    if (w.height + 1 > f->w.height)
        f->w.height = w.height + 1;
    if (!f->is_map) {
        if (json_array_append_new(f->v, v) != 0)
            return errmsg_set(RC_NOMEM, "out of memory building a sequence");
        return 0;
    }
    if (f->key_is_merge) {
        mem_free(f->key);
        f->key = NULL;
        f->key_is_merge = 0;
        if (!merge_value_ok(v)) {
            json_decref(v);
            return fail_at(RC_PARSE, f->merge_mark,
                           "the value of a merge key \"<<\" must be a "
                           "mapping or a sequence of mappings");
        }
        f->merge = v;
        f->merge_pos = json_object_size(f->v);
        return 0;
    }
    rc = json_object_setn_new_nocheck(f->v, f->key, f->keylen, v);
    mem_free(f->key);
    f->key = NULL;
    if (rc != 0)
        return errmsg_set(RC_NOMEM, "out of memory building a mapping");
    return 0;
}

/* take_key accepts the text of a scalar (or scalar alias) as the next key of
 * the mapping on top: duplicates are RC_PARSE. */
static int
take_key(struct loader *L, const char *s, size_t n, int is_merge, yaml_mark_t m)
{
    struct frame *f = &L->stack[L->depth - 1];
    const char *why;
    char shown[KEY_MSG_MAX + 8];
    int rc;

    if (!scalar_text_ok(s, n, &why))
        return fail_at(RC_PARSE, m, why);
    if ((rc = count_node(L, m, 1)) != 0)
        return rc;
    f->w.nodes++;
    f->w.bytes += n;
    if (is_merge ? f->merge != NULL : json_object_getn(f->v, s, n) != NULL) {
        key_for_msg(shown, sizeof(shown), s, n);
        return errmsg_set(RC_PARSE,
                          "line %zu column %zu: duplicate mapping key \"%s\"",
                          m.line + 1, m.column + 1, shown);
    }
    f->key = mem_strndup(s, n);
    if (f->key == NULL)
        return errmsg_set(RC_NOMEM, "out of memory reading a key");
    f->keylen = n;
    f->key_is_merge = is_merge;
    if (is_merge)
        f->merge_mark = m;
    return 0;
}

static int
expecting_key(const struct loader *L)
{
    return L->depth > 0 && L->stack[L->depth - 1].is_map &&
           L->stack[L->depth - 1].key == NULL;
}

/* tagged_kind: the kind of a scalar with the core tag `t` ("int", ...), -1
 * when the text does not fit it. Tags other than null, bool, int and float
 * (str, binary, timestamp, map, ...) keep the text as a string. */
static int
tagged_kind(const char *t, const char *s, size_t n, enum kind *k)
{
    enum kind c = classify(s, n);
    json_int_t iv;
    int ovf;

    if (strcmp(t, "null") == 0) {
        *k = K_NULL;
        return c == K_NULL ? 0 : -1;
    }
    if (strcmp(t, "bool") == 0) {
        *k = c;
        return c == K_TRUE || c == K_FALSE ? 0 : -1;
    }
    if (strcmp(t, "int") == 0) {
        *k = K_INT;
        return c == K_INT && int_form(s, n, &iv, &ovf) && !ovf ? 0 : -1;
    }
    if (strcmp(t, "float") == 0) {
        /* decimal integers are floats too; hex and octal are not */
        *k = c == K_INFNAN ? K_STR : K_FLOAT;
        return c == K_FLOAT || c == K_INFNAN || (c == K_INT && float_form(s, n))
                   ? 0
                   : -1;
    }
    *k = K_STR;
    return 0;
}

/* scalar_value resolves a scalar event to a new JSON value: untagged plain
 * scalars by the core schema, other untagged ones are strings; the core
 * tags are honoured and any other tag keeps the text as a string. */
static int
scalar_value(json_t **out, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *why;
    enum kind k = K_STR;

    *out = NULL;
    if (!scalar_text_ok(s, n, &why))
        return fail_at(RC_PARSE, ev->start_mark, why);
    if (tag == NULL) {
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            k = classify(s, n);
    } else if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0 &&
               tagged_kind(tag + strlen(TAG_PREFIX), s, n, &k) != 0) {
        char m[64];
        snprintf(m, sizeof(m), "invalid !!%s value", tag + strlen(TAG_PREFIX));
        return fail_at(RC_PARSE, ev->start_mark, m);
    }
    *out = make_value(k, s, n);
    if (*out == NULL)
        return errmsg_set(RC_NOMEM, "out of memory reading a scalar");
    return 0;
}

static int
on_scalar(struct loader *L, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *anchor = (const char *)ev->data.scalar.anchor;
    struct weight w = {1, n, 0};
    json_t *v = NULL; /* owned */
    int rc;

    if (expecting_key(L)) {
        int merge = n == 2 && memcmp(s, "<<", 2) == 0 &&
                    ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                    ev->data.scalar.tag == NULL;
        if ((rc = take_key(L, s, n, merge, ev->start_mark)) != 0)
            return rc;
        if (anchor == NULL)
            return 0;
        /* an anchored key may later be used as a value: record it */
        if ((rc = scalar_value(&v, ev)) != 0)
            return rc;
        rc = anchor_set(L, anchor, v, s, n, w, ev->start_mark);
        json_decref(v);
        return rc;
    }
    if ((rc = count_node(L, ev->start_mark, 1)) != 0)
        return rc;
    if ((rc = scalar_value(&v, ev)) != 0)
        return rc;
    if (L->depth == 0)
        L->root_empty = n == 0 && anchor == NULL &&
                        ev->data.scalar.tag == NULL &&
                        ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return put_value(L, v, w, anchor, s, n, ev->start_mark);
}

static int
on_alias(struct loader *L, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    yaml_mark_t m = ev->start_mark;
    struct anchor *a = anchor_find(L, name);
    json_t *v; /* owned */
    char shown[KEY_MSG_MAX + 8];
    int rc;

    if (a == NULL) {
        key_for_msg(shown, sizeof(shown), name, strlen(name));
        return errmsg_set(RC_PARSE,
                          "line %zu column %zu: undefined (or recursive) "
                          "alias \"*%s\"",
                          m.line + 1, m.column + 1, shown);
    }
    if (a->w.nodes > L->max_alias - L->alias_nodes)
        return errmsg_set(RC_LIMIT,
                          "line %zu column %zu: aliases expand to more than "
                          "%zu nodes (max_alias_nodes)",
                          m.line + 1, m.column + 1, L->max_alias);
    if (a->w.bytes > L->max_bytes - L->alias_bytes)
        return errmsg_set(RC_LIMIT,
                          "line %zu column %zu: aliases expand to more than "
                          "%zu bytes of text (max_bytes)",
                          m.line + 1, m.column + 1, L->max_bytes);
    L->alias_nodes += a->w.nodes;
    L->alias_bytes += a->w.bytes;
    if (expecting_key(L)) {
        if (a->raw == NULL)
            return fail_at(RC_PARSE, m, "mapping keys must be scalars");
        return take_key(L, a->raw, a->rawlen, 0, m);
    }
    if (L->depth + a->w.height > L->max_depth)
        return errmsg_set(RC_LIMIT,
                          "line %zu column %zu: nesting deeper than %d "
                          "(max_depth)",
                          m.line + 1, m.column + 1, L->max_depth);
    if ((rc = count_node(L, m, a->w.nodes)) != 0)
        return rc;
    v = json_deep_copy(a->v);
    if (v == NULL)
        return errmsg_set(RC_NOMEM, "out of memory expanding an alias");
    return put_value(L, v, a->w, NULL, NULL, 0, m);
}

static int
on_start(struct loader *L, const yaml_event_t *ev, int is_map)
{
    const char *anchor = is_map ? (const char *)ev->data.mapping_start.anchor
                                : (const char *)ev->data.sequence_start.anchor;
    yaml_mark_t m = ev->start_mark;
    struct frame *f;
    int rc;

    if (expecting_key(L))
        return fail_at(RC_PARSE, m, "mapping keys must be scalars");
    if (L->depth + 1 > L->max_depth)
        return errmsg_set(RC_LIMIT,
                          "line %zu column %zu: nesting deeper than %d "
                          "(max_depth)",
                          m.line + 1, m.column + 1, L->max_depth);
    if ((rc = count_node(L, m, 1)) != 0)
        return rc;
    if (L->depth == L->cap) {
        int nc = L->cap ? L->cap * 2 : 16;
        struct frame *ns = mem_realloc(L->stack, (size_t)nc * sizeof(*ns));
        if (ns == NULL)
            return errmsg_set(RC_NOMEM, "out of memory");
        L->stack = ns;
        L->cap = nc;
    }
    f = &L->stack[L->depth];
    memset(f, 0, sizeof(*f));
    f->is_map = is_map;
    f->mark = m;
    f->w = (struct weight){1, 0, 1};
    f->v = is_map ? json_object() : json_array();
    if (anchor)
        f->anchor = mem_strdup(anchor);
    if (f->v == NULL || (anchor && f->anchor == NULL)) {
        frame_cleanup(f);
        return errmsg_set(RC_NOMEM, "out of memory");
    }
    L->depth++;
    return 0;
}

static int
add_merged(json_t *out, const struct frame *f)
{
    size_t nsrc = json_is_array(f->merge) ? json_array_size(f->merge) : 1;
    json_t *val; /* borrowed */
    const char *k;
    size_t klen;

    for (size_t i = 0; i < nsrc; i++) {
        json_t *src = json_is_array(f->merge) /* borrowed */
                          ? json_array_get(f->merge, i)
                          : f->merge;
        json_object_keylen_foreach(src, k, klen, val)
        {
            if (json_object_getn(f->v, k, klen) ||
                json_object_getn(out, k, klen))
                continue;
            if (json_object_setn_nocheck(out, k, klen, val) != 0)
                return RC_NOMEM;
        }
    }
    return 0;
}

/* apply_merge rebuilds f->v with the keys of the "<<" sources inserted
 * where "<<" stood: explicit keys win, then earlier sources. */
static int
apply_merge(struct frame *f)
{
    json_t *out = json_object(); /* owned */
    json_t *val;                 /* borrowed */
    const char *k;
    size_t klen, idx = 0;
    int rc = out ? 0 : RC_NOMEM;

    if (rc == 0 && f->merge_pos == 0)
        rc = add_merged(out, f);
    if (rc == 0) {
        json_object_keylen_foreach(f->v, k, klen, val)
        {
            if (json_object_setn_nocheck(out, k, klen, val) != 0 ||
                (++idx == f->merge_pos && add_merged(out, f) != 0)) {
                rc = RC_NOMEM;
                break;
            }
        }
    }
    if (rc != 0) {
        json_decref(out);
        return errmsg_set(RC_NOMEM, "out of memory merging keys");
    }
    json_decref(f->v);
    f->v = out;
    return 0;
}

static int
on_end(struct loader *L)
{
    struct frame f;
    int rc;

    if (L->depth == 0)
        return errmsg_set(RC_INTERNAL, "unbalanced YAML events");
    f = L->stack[--L->depth];
    if (f.merge && (rc = apply_merge(&f)) != 0) {
        frame_cleanup(&f);
        return rc;
    }
    rc = put_value(L, f.v, f.w, f.anchor, NULL, 0, f.mark);
    f.v = NULL; /* stolen */
    frame_cleanup(&f);
    return rc;
}

/* ---- the event loop ------------------------------------------------------ */

/* parser_error translates libyaml's error state once (STYLE.md). */
static int
parser_error(const yaml_parser_t *p, const char *in, size_t n)
{
    size_t line = 1, col = 1;

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return errmsg_set(RC_NOMEM, "out of memory parsing YAML");
    case YAML_READER_ERROR:
        /* reader errors carry a byte offset, not a mark */
        for (size_t i = 0; i < p->problem_offset && i < n; i++) {
            if (in[i] == '\n')
                line++, col = 1;
            else if (((unsigned char)in[i] & 0xC0) != 0x80)
                col++;
        }
        return errmsg_set(RC_PARSE, "line %zu column %zu: %s", line, col,
                          p->problem ? p->problem : "unreadable input");
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
        if (p->context)
            return errmsg_set(RC_PARSE,
                              "line %zu column %zu: %s (%s at line %zu "
                              "column %zu)",
                              p->problem_mark.line + 1,
                              p->problem_mark.column + 1, p->problem,
                              p->context, p->context_mark.line + 1,
                              p->context_mark.column + 1);
        return errmsg_set(RC_PARSE, "line %zu column %zu: %s",
                          p->problem_mark.line + 1, p->problem_mark.column + 1,
                          p->problem);
    default:
        return errmsg_set(RC_PARSE, "invalid YAML");
    }
}

static int
on_event(struct loader *L, const yaml_event_t *ev)
{
    int rc;

    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++L->ndocs > L->max_docs)
            return errmsg_set(RC_LIMIT,
                              "line %zu column %zu: more than %zu "
                              "documents (max_docs)",
                              ev->start_mark.line + 1,
                              ev->start_mark.column + 1, L->max_docs);
        L->doc_nodes = 0;
        L->root_empty = 0;
        anchors_reset(L); /* anchors are local to a document */
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        if (L->root && !L->root_empty) {
            rc = json_array_append_new(L->docs, L->root);
            L->root = NULL;
            if (rc != 0)
                return errmsg_set(RC_NOMEM, "out of memory");
        }
        json_decref(L->root);
        L->root = NULL;
        anchors_reset(L);
        return 0;
    case YAML_SCALAR_EVENT:
        return on_scalar(L, ev);
    case YAML_ALIAS_EVENT:
        return on_alias(L, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(L, ev, 0);
    case YAML_MAPPING_START_EVENT:
        return on_start(L, ev, 1);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(L);
    default:
        return 0;
    }
}

int
yj_load_all(json_t **out, const char *p, size_t n, const struct yj_limits *lim)
{
    struct loader L = {0};
    yaml_parser_t parser;
    yaml_event_t ev;
    int rc = 0, done = 0, have_parser = 0;

    *out = NULL;
    L.max_bytes = lim && lim->max_bytes ? lim->max_bytes : YJ_DEFAULT_MAX_BYTES;
    L.max_depth =
        lim && lim->max_depth > 0 ? lim->max_depth : YJ_DEFAULT_MAX_DEPTH;
    L.max_nodes = lim && lim->max_nodes ? lim->max_nodes : YJ_DEFAULT_MAX_NODES;
    L.max_alias = lim && lim->max_alias_nodes ? lim->max_alias_nodes
                                              : YJ_DEFAULT_MAX_ALIAS_NODES;
    L.max_docs = lim && lim->max_docs ? lim->max_docs : YJ_DEFAULT_MAX_DOCS;
    if (n > L.max_bytes)
        return errmsg_set(RC_LIMIT,
                          "YAML input of %zu bytes is over the limit of %zu "
                          "(max_bytes)",
                          n, L.max_bytes);
    L.docs = json_array();
    if (L.docs == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory");
        goto cleanup;
    }
    if (!yaml_parser_initialize(&parser)) {
        rc = errmsg_set(RC_NOMEM, "out of memory starting the YAML parser");
        goto cleanup;
    }
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)p, n);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser_error(&parser, p, n);
            goto cleanup;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&L, &ev);
        yaml_event_delete(&ev);
        if (rc != 0)
            goto cleanup;
    }
    *out = L.docs;
    L.docs = NULL;

cleanup:
    if (have_parser)
        yaml_parser_delete(&parser);
    while (L.depth > 0)
        frame_cleanup(&L.stack[--L.depth]);
    mem_free(L.stack);
    anchors_reset(&L);
    mem_free(L.anchors);
    json_decref(L.root);
    json_decref(L.docs);
    return rc;
}

int
yj_load_one(json_t **out, const char *p, size_t n, const struct yj_limits *lim)
{
    json_t *all = NULL; /* owned */
    int rc;

    *out = NULL;
    if ((rc = yj_load_all(&all, p, n, lim)) != 0)
        return rc;
    if (json_array_size(all) != 1) {
        rc = errmsg_set(RC_PARSE,
                        "expected exactly one YAML document, found %zu",
                        json_array_size(all));
        json_decref(all);
        return rc;
    }
    *out = json_incref(json_array_get(all, 0));
    json_decref(all);
    return 0;
}
