/* jpatchapply.c: RFC 6902 JSON Patch apply (jpatch_apply, see jpatch.h and
 * docs/jpatch.md), with RFC 6901 pointer parsing and unescaping.
 *
 * Invariants a reader must know:
 * - jpatch_apply works on a deep copy of the document and hands it out only
 *   on success; the input document is never modified.
 * - Values taken from the patch ("add", "replace") and from the document
 *   ("copy") are deep copies: the result never shares nodes with `patch`,
 *   and a copied subtree never with its source.
 * - Operations apply in order, each to the result of the previous one; the
 *   first failure stops the patch and its message names the operation's
 *   index, op and path (and "from" when that is what failed).
 * - Pointer tokens are unescaped left to right, each "~0" or "~1" once (so
 *   "~01" is "~1"), into one struct buf, and used with their lengths
 *   (jansson allows "\u0000" in member names). */
#include "lib/jpatch.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

/* nomem_or tells a jansson NULL caused by memory from one caused by input. */
static int
nomem_or(int rc)
{
    return mem_oom_seen() ? RC_NOMEM : rc;
}

static int
is_container(const json_t *v)
{
    return json_is_object(v) || json_is_array(v);
}

/* Helpers return 0 or an RC_*; for RC_INVAL they point *why at a static
 * reason, which jpatch_apply turns into one message naming the operation. */

struct actx {
    json_t *root;   /* owned: the document being patched */
    struct buf tok; /* the last reference token, unescaped */
    const char *why;
    int in_from; /* the failure concerns "from", not "path" */
};

static int
bad(struct actx *x, const char *why)
{
    x->why = why;
    return RC_INVAL;
}

/* next_token unescapes the token starting at *p (just after a '/') into
 * x->tok and leaves *p on the next '/' or at end. */
static int
next_token(struct actx *x, const char **p, const char *end)
{
    const char *s = *p;

    buf_reset(&x->tok);
    while (s < end && *s != '/') {
        const char *run = s;
        while (s < end && *s != '/' && *s != '~')
            s++;
        if (buf_add(&x->tok, run, (size_t)(s - run)) != 0)
            return RC_NOMEM;
        if (s < end && *s == '~') {
            if (s + 1 >= end || (s[1] != '0' && s[1] != '1'))
                return bad(x, "bad '~' escape (only ~0 and ~1 exist)");
            if (buf_addc(&x->tok, s[1] == '0' ? '~' : '/') != 0)
                return RC_NOMEM;
            s += 2;
        }
    }
    if (x->tok.ptr == NULL && buf_add(&x->tok, "", 0) != 0)
        return RC_NOMEM;
    *p = s;
    return 0;
}

/* array_index parses x->tok as an index into an array of size n. With
 * `append` the index may equal n and "-" means n (add); otherwise it must be
 * below n. */
static int
array_index(struct actx *x, size_t n, int append, size_t *out)
{
    const char *t = x->tok.ptr;
    size_t len = x->tok.len, v = 0;

    if (len == 1 && t[0] == '-') {
        if (!append)
            return bad(x, "'-' (past the end) names no element");
        *out = n;
        return 0;
    }
    if (len == 0)
        return bad(x, "empty array index");
    if (len > 1 && t[0] == '0')
        return bad(x, "array index with a leading zero");
    for (size_t i = 0; i < len; i++) {
        if (t[i] < '0' || t[i] > '9')
            return bad(x, "array index is not a number");
        if (v > (SIZE_MAX - 9) / 10)
            return bad(x, "array index out of range");
        v = v * 10 + (size_t)(t[i] - '0');
    }
    if (v > n || (v == n && !append))
        return bad(x, "array index out of range");
    *out = v;
    return 0;
}

/* child looks up x->tok in container v (borrowed result); *idx gets the
 * array position when v is an array. */
static int
child(struct actx *x, json_t *v, json_t **out, size_t *idx)
{
    int rc;

    if (json_is_object(v)) {
        *out = json_object_getn(v, x->tok.ptr, x->tok.len);
        return *out != NULL ? 0 : bad(x, "no such member");
    }
    if (json_is_array(v)) {
        if ((rc = array_index(x, json_array_size(v), 0, idx)) != 0)
            return rc;
        *out = json_array_get(v, *idx);
        return 0;
    }
    return bad(x, "path goes through a value that is not a container");
}

/* locate walks every token of the pointer but the last; *parent is the
 * container that the last token (left in x->tok) refers into, or NULL for the
 * root pointer "". */
static int
locate(struct actx *x, const json_t *ptr, json_t **parent)
{
    const char *p = json_string_value(ptr);
    const char *end = p + json_string_length(ptr);
    json_t *cur = x->root; /* borrowed */
    size_t idx;
    int rc;

    *parent = NULL;
    if (p == end)
        return 0;
    if (*p != '/')
        return bad(x, "pointer does not start with '/'");
    for (p++;; p++) {
        if ((rc = next_token(x, &p, end)) != 0)
            return rc;
        if (p == end)
            break;
        if ((rc = child(x, cur, &cur, &idx)) != 0)
            return rc;
    }
    if (!is_container(cur))
        return bad(x, "parent is not an object or array");
    *parent = cur;
    return 0;
}

static int
get_value(struct actx *x, const json_t *ptr, json_t **out)
{
    json_t *parent; /* borrowed */
    size_t idx;
    int rc = locate(x, ptr, &parent);

    if (rc != 0)
        return rc;
    if (parent == NULL) {
        *out = x->root;
        return 0;
    }
    return child(x, parent, out, &idx);
}

/* put stores v (stolen) under x->tok in parent: replacing a member, or
 * inserting into / overwriting an array slot. */
static int
put(struct actx *x, json_t *parent, size_t i, int insert, json_t *v)
{
    int rc;

    mem_oom_reset();
    if (json_is_object(parent))
        rc = json_object_setn_new(parent, x->tok.ptr, x->tok.len, v);
    else if (insert)
        rc = json_array_insert_new(parent, i, v);
    else
        rc = json_array_set_new(parent, i, v);
    return rc == 0 ? 0 : nomem_or(bad(x, "member name is not UTF-8"));
}

/* do_add inserts v (stolen) at ptr; an existing member is replaced. */
static int
do_add(struct actx *x, const json_t *ptr, json_t *v)
{
    json_t *parent; /* borrowed */
    size_t i = 0;
    int rc = locate(x, ptr, &parent);

    if (rc == 0 && parent == NULL) {
        json_decref(x->root);
        x->root = v;
        return 0;
    }
    if (rc == 0 && json_is_array(parent))
        rc = array_index(x, json_array_size(parent), 1, &i);
    if (rc != 0) {
        json_decref(v);
        return rc;
    }
    return put(x, parent, i, 1, v);
}

/* do_replace overwrites the existing value at ptr with v (stolen). */
static int
do_replace(struct actx *x, const json_t *ptr, json_t *v)
{
    json_t *parent, *old; /* borrowed */
    size_t i = 0;
    int rc = locate(x, ptr, &parent);

    if (rc == 0 && parent == NULL) {
        json_decref(x->root);
        x->root = v;
        return 0;
    }
    if (rc == 0)
        rc = child(x, parent, &old, &i);
    if (rc != 0) {
        json_decref(v);
        return rc;
    }
    return put(x, parent, i, 0, v);
}

/* do_remove detaches the value at ptr; *taken (optional) gets a reference. */
static int
do_remove(struct actx *x, const json_t *ptr, json_t **taken)
{
    json_t *parent, *v; /* borrowed */
    size_t i = 0;
    int rc = locate(x, ptr, &parent);

    if (rc == 0 && parent == NULL)
        return bad(x, "cannot remove the whole document");
    if (rc == 0)
        rc = child(x, parent, &v, &i);
    if (rc != 0)
        return rc;
    if (taken != NULL)
        *taken = json_incref(v);
    if (json_is_object(parent))
        json_object_deln(parent, x->tok.ptr, x->tok.len);
    else
        json_array_remove(parent, i);
    return 0;
}

/* same_value is RFC 6902 "test" equality: like json_equal, except that
 * numbers compare by value (1 equals 1.0). */
static int
same_value(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_object(a)) {
        const char *k;
        size_t kl;
        json_t *va; /* borrowed */
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_keylen_foreach((json_t *)a, k, kl, va)
        {
            json_t *vb = json_object_getn(b, k, kl); /* borrowed */
            if (vb == NULL || !same_value(va, vb))
                return 0;
        }
        return 1;
    }
    if (json_is_array(a)) {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!same_value(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    return json_equal(a, b);
}

/* is_proper_prefix: pointer `from` names an ancestor of `path`. */
static int
is_proper_prefix(const json_t *from, const json_t *path)
{
    size_t fl = json_string_length(from), pl = json_string_length(path);

    return fl < pl &&
           memcmp(json_string_value(from), json_string_value(path), fl) == 0 &&
           json_string_value(path)[fl] == '/';
}

static int
apply_one(struct actx *x, const json_t *op)
{
    const char *name = json_string_value(json_object_get(op, "op"));
    const json_t *path = json_object_get(op, "path");   /* borrowed */
    const json_t *from = json_object_get(op, "from");   /* borrowed */
    const json_t *value = json_object_get(op, "value"); /* borrowed */
    json_t *v = NULL;                                   /* owned */
    json_t *found;                                      /* borrowed */
    int rc;

    if (!json_is_string(path))
        return bad(x, "missing or non-string \"path\"");
    if (strcmp(name, "remove") == 0)
        return do_remove(x, path, NULL);
    if (strcmp(name, "move") == 0 || strcmp(name, "copy") == 0) {
        if (!json_is_string(from))
            return bad(x, "missing or non-string \"from\"");
        x->in_from = 1;
        if ((rc = get_value(x, from, &found)) != 0)
            return rc;
        x->in_from = 0;
        if (name[0] == 'c') {
            if ((v = json_deep_copy(found)) == NULL)
                return RC_NOMEM;
            return do_add(x, path, v);
        }
        if (json_equal(from, path))
            return 0; /* moving onto itself: nothing changes */
        if (is_proper_prefix(from, path))
            return bad(x, "cannot move a value into one of its children");
        if ((rc = do_remove(x, from, &v)) != 0)
            return rc; /* not RC_INVAL: from was found just above */
        return do_add(x, path, v);
    }
    if (value == NULL)
        return bad(x, "missing \"value\"");
    if (strcmp(name, "test") == 0) {
        if ((rc = get_value(x, path, &found)) != 0)
            return rc;
        if (!same_value(found, value)) {
            x->why = "value differs";
            return RC_CONFLICT;
        }
        return 0;
    }
    if (strcmp(name, "add") != 0 && strcmp(name, "replace") != 0)
        return bad(x, "unknown operation");
    if ((v = json_deep_copy(value)) == NULL)
        return RC_NOMEM;
    return name[0] == 'a' ? do_add(x, path, v) : do_replace(x, path, v);
}

int
jpatch_apply(json_t **out, const json_t *doc, const json_t *patch)
{
    struct actx x = {NULL, {NULL, 0, 0, 0}, NULL, 0};
    size_t i, n;
    int rc = 0;

    assert(doc != NULL && patch != NULL);
    *out = NULL;
    if (!json_is_array(patch))
        return errmsg_set(RC_INVAL, "jpatch: the patch is not an array");
    x.root = json_deep_copy(doc);
    if (x.root == NULL)
        return errmsg_set(RC_NOMEM, "jpatch: out of memory copying");
    buf_init(&x.tok, 0);
    n = json_array_size(patch);
    for (i = 0; i < n && rc == 0; i++) {
        const json_t *op = json_array_get(patch, i); /* borrowed */
        const char *name = json_string_value(json_object_get(op, "op"));
        x.why = NULL;
        x.in_from = 0;
        if (name == NULL)
            rc = bad(&x, "not an object with a string \"op\"");
        else
            rc = apply_one(&x, op);
    }
    if (rc != 0) {
        const json_t *op = json_array_get(patch, i - 1); /* borrowed */
        const char *name = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        if (rc == RC_NOMEM || x.why == NULL)
            x.why = "out of memory";
        const char *from = json_string_value(json_object_get(op, "from"));
        if (!x.in_from || from == NULL)
            from = "";
        errmsg_set(rc, "jpatch: op %zu (%s %s): %s%s%s%s", i - 1,
                   name ? name : "?", path ? path : "?",
                   x.in_from ? "from " : "", from, x.in_from ? ": " : "",
                   x.why);
        json_decref(x.root);
        x.root = NULL;
    }
    buf_cleanup(&x.tok);
    *out = x.root;
    return rc;
}
