/* jpatch.c: RFC 6902 JSON Patch: builder, minimal diff and apply (see
 * jpatch.h and docs/jpatch.md).
 *
 * Invariants a reader must know:
 * - Paths are built in one struct buf while the diff walks down and are cut
 *   back on the way up; a key is RFC 6901-escaped as it is pushed. Keys and
 *   strings are handled with their lengths (jansson allows "\u0000").
 * - Every emitted operation applies to the result of the previous ones; array
 *   indices are computed for that sequential application, and adds use
 *   numeric indices (never "-") so strict implementations accept them.
 * - Values put into a patch or into an applied document are deep copies:
 *   the patch never shares nodes with `to`, the result never with `patch`.
 * - jpatch_apply works on a deep copy and hands it out only on success. */
#include "lib/jpatch.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- escaping and the builder ---------------------------------------- */

static int
escape_n(struct buf *out, const char *s, size_t n)
{
    size_t saved = out->len, run = 0;
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++) {
        if (s[i] != '~' && s[i] != '/')
            continue;
        /* "~" first becomes "~0", so a "/" turned into "~1" is never
         * re-escaped: the order RFC 6901 section 4 asks for */
        rc = buf_add(out, s + run, i - run);
        if (rc == 0)
            rc = buf_add(out, s[i] == '~' ? "~0" : "~1", 2);
        run = i + 1;
    }
    if (rc == 0)
        rc = buf_add(out, s + run, n - run);
    if (rc != 0) {
        out->len = saved; /* leave the buffer as it was */
        if (out->ptr != NULL)
            out->ptr[saved] = '\0';
    }
    return rc;
}

int
jpatch_escape(struct buf *out, const char *token)
{
    return escape_n(out, token, strlen(token));
}

/* nomem_or tells a jansson NULL caused by memory from one caused by input. */
static int
nomem_or(int rc)
{
    return mem_oom_seen() ? RC_NOMEM : rc;
}

static int
op_new(json_t *patch, const char *op, const char *path, size_t path_len,
       json_t *value)
{
    json_t *o = NULL; /* owned */
    json_t *s = NULL; /* owned */

    mem_oom_reset();
    o = json_object();
    if (o == NULL)
        goto nomem;
    if (json_object_set_new(o, "op", json_string(op)) != 0)
        goto nomem;
    s = json_stringn(path, path_len);
    if (s == NULL) {
        json_decref(o);
        json_decref(value);
        return errmsg_set(nomem_or(RC_INVAL), "jpatch: bad path for %s", op);
    }
    if (json_object_set_new(o, "path", s) != 0)
        goto nomem;
    if (value != NULL) {
        json_t *v = value; /* owned, stolen below */
        value = NULL;
        if (json_object_set_new(o, "value", v) != 0)
            goto nomem;
    }
    if (json_array_append_new(patch, o) != 0) {
        o = NULL; /* append_new released it */
        goto nomem;
    }
    return 0;
nomem:
    json_decref(o);
    json_decref(value);
    return errmsg_set(RC_NOMEM, "jpatch: out of memory building %s", op);
}

int
jpatch_op(json_t *patch, const char *op, const char *path, json_t *value)
{
    return op_new(patch, op, path, strlen(path), value);
}

/* ---- diff ---------------------------------------------------------------- */

struct dctx {
    json_t *patch;   /* borrowed: the array being built */
    struct buf path; /* the pointer of the value being compared */
};

static int diff_value(struct dctx *c, const json_t *a, const json_t *b,
                      int depth);

static const char *
cur_path(const struct dctx *c)
{
    return c->path.ptr != NULL ? c->path.ptr : "";
}

static void
path_cut(struct dctx *c, size_t len)
{
    c->path.len = len;
    if (c->path.ptr != NULL)
        c->path.ptr[len] = '\0';
}

static int
push_key(struct dctx *c, const char *k, size_t kl)
{
    int rc = buf_addc(&c->path, '/');

    return rc != 0 ? rc : escape_n(&c->path, k, kl);
}

static int
push_index(struct dctx *c, size_t i)
{
    return buf_addf(&c->path, "/%zu", i);
}

/* emit: one operation at the current path; `copy_of` (borrowed, may be NULL)
 * is deep-copied into the patch. */
static int
emit(struct dctx *c, const char *op, const json_t *copy_of)
{
    /* The patch shares the value with `to` (a new reference, no copy):
     * copying dominated the cost of injection (see jpatch.h). */
    json_t *v = copy_of ? json_incref((json_t *)copy_of) : NULL; /* owned */

    return op_new(c->patch, op, cur_path(c), c->path.len, v);
}

static int
is_container(const json_t *v)
{
    return json_is_object(v) || json_is_array(v);
}

static int
diff_object(struct dctx *c, const json_t *a, const json_t *b, int depth)
{
    size_t saved = c->path.len, kl;
    const char *k;
    json_t *va, *vb; /* borrowed */
    int rc = 0;

    /* json_object_*foreach want non-const; nothing is modified */
    json_object_keylen_foreach((json_t *)a, k, kl, va)
    {
        if (json_object_getn(b, k, kl) != NULL)
            continue;
        if ((rc = push_key(c, k, kl)) != 0 || (rc = emit(c, "remove", NULL)))
            goto done;
        path_cut(c, saved);
    }
    json_object_keylen_foreach((json_t *)b, k, kl, vb)
    {
        va = json_object_getn(a, k, kl);
        if (va == NULL || va == vb)
            continue;
        if ((rc = push_key(c, k, kl)) != 0 ||
            (rc = diff_value(c, va, vb, depth + 1)) != 0)
            goto done;
        path_cut(c, saved);
    }
    json_object_keylen_foreach((json_t *)b, k, kl, vb)
    {
        if (json_object_getn(a, k, kl) != NULL)
            continue;
        if ((rc = push_key(c, k, kl)) != 0 || (rc = emit(c, "add", vb)))
            goto done;
        path_cut(c, saved);
    }
done:
    path_cut(c, saved);
    return rc;
}

/* diff_at diffs a[i] against b[j] at index `at` of the current array. */
static int
diff_at(struct dctx *c, const json_t *a, const json_t *b, size_t at, int depth)
{
    size_t saved = c->path.len;
    int rc = push_index(c, at);

    if (rc == 0)
        rc = diff_value(c, a, b, depth + 1);
    path_cut(c, saved);
    return rc;
}

static int
emit_at(struct dctx *c, const char *op, size_t at, const json_t *copy_of)
{
    size_t saved = c->path.len;
    int rc = push_index(c, at);

    if (rc == 0)
        rc = emit(c, op, copy_of);
    path_cut(c, saved);
    return rc;
}

/* Positional: keep the equal prefix and suffix, pair the middle element by
 * element, then drop the extra old ones (highest first, so each index is
 * still the original one) or insert the extra new ones in order. */
static int
diff_positional(struct dctx *c, const json_t *a, const json_t *b, int depth)
{
    size_t n = json_array_size(a), m = json_array_size(b), p = 0, s = 0, k;
    int rc = 0;

    while (p < n && p < m &&
           json_equal(json_array_get(a, p), json_array_get(b, p)))
        p++;
    while (
        s < n - p && s < m - p &&
        json_equal(json_array_get(a, n - 1 - s), json_array_get(b, m - 1 - s)))
        s++;
    k = (n - p - s < m - p - s) ? n - p - s : m - p - s;
    for (size_t i = p; i < p + k && rc == 0; i++)
        rc = diff_at(c, json_array_get(a, i), json_array_get(b, i), i, depth);
    for (size_t i = n - s; i > p + k && rc == 0; i--)
        rc = emit_at(c, "remove", i - 1, NULL);
    for (size_t j = p + k; j < m - s && rc == 0; j++)
        rc = emit_at(c, "add", j, json_array_get(b, j));
    return rc;
}

/* ---- name-keyed arrays -------------------------------------------------- */

struct nref {
    const char *s;
    size_t len;
    size_t idx; /* position in its array */
};

static int
name_cmp(const struct nref *a, const struct nref *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->s, b->s, n);

    if (r != 0)
        return r;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* qsort order: by name, then by position (so duplicates sit together). */
static int
nref_cmp(const void *x, const void *y)
{
    const struct nref *a = x, *b = y;
    int r = name_cmp(a, b);

    if (r != 0)
        return r;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int
nref_eq(const struct nref *a, const struct nref *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* names_of fills out[0..n) with the "name" of every element; 0 when every
 * element is an object with a string name and the names are unique, 1
 * otherwise (the array is then diffed positionally). `sorted` receives the
 * same refs in name order. */
static int
names_of(const json_t *arr, struct nref *out, struct nref *sorted)
{
    size_t n = json_array_size(arr);

    for (size_t i = 0; i < n; i++) {
        json_t *name = json_object_get(json_array_get(arr, i), "name");
        if (!json_is_string(name))
            return 1;
        out[i] =
            (struct nref){json_string_value(name), json_string_length(name), i};
    }
    memcpy(sorted, out, n * sizeof(*out));
    qsort(sorted, n, sizeof(*sorted), nref_cmp);
    for (size_t i = 1; i < n; i++)
        if (nref_eq(&sorted[i - 1], &sorted[i]))
            return 1;
    return 0;
}

/* lis_match: names are unique, so the longest common subsequence of the two
 * middles is the longest increasing run of old positions taken in new order
 * (O(k log k), no quadratic table). match[j] gets the old index kept for
 * new index j, or SIZE_MAX. pos/tail/prev are scratch of size >= m. */
static void
lis_match(const struct nref *sa, size_t na, const struct nref *nb, size_t m,
          size_t *match, size_t *pos, size_t *tail, size_t *prev)
{
    size_t len = 0, cnt = 0;

    for (size_t j = 0; j < m; j++) {
        size_t lo = 0, hi = na;
        match[j] = SIZE_MAX;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int r = name_cmp(&sa[mid], &nb[j]);
            if (r == 0) {
                match[j] = sa[mid].idx;
                pos[cnt++] = j;
                break;
            }
            if (r < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    /* pos[0..cnt) are new indices with a counterpart; find the longest
     * subsequence whose old indices increase. tail[l] = pos-slot ending the
     * best run of length l+1. */
    for (size_t t = 0; t < cnt; t++) {
        size_t v = match[pos[t]], lo = 0, hi = len;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (match[pos[tail[mid]]] < v)
                lo = mid + 1;
            else
                hi = mid;
        }
        prev[t] = lo > 0 ? tail[lo - 1] : SIZE_MAX;
        tail[lo] = t;
        if (lo == len)
            len++;
    }
    /* keep the chosen run, unmatch the rest */
    size_t keep = len > 0 ? tail[len - 1] : SIZE_MAX;
    for (size_t t = cnt; t-- > 0;) {
        if (t == keep)
            keep = prev[t];
        else
            match[pos[t]] = SIZE_MAX;
    }
}

/* diff_named aligns two arrays whose elements carry unique names. Returns 1
 * (nothing emitted) when they do not qualify. Emission: removes of the old
 * elements without a partner (highest index first), then, walking the new
 * array in order, a recursive diff of each kept element at its new index or
 * an add of a new one: after the removes the array holds exactly the kept
 * elements in order, so index j is right for both. */
static int
diff_named(struct dctx *c, const json_t *a, const json_t *b, int depth)
{
    size_t n = json_array_size(a), m = json_array_size(b), p = 0, s = 0;
    size_t total = 2 * (n + m);
    struct nref *na = NULL, *sa = NULL, *nb = NULL, *sb = NULL; /* owned */
    size_t *match = NULL, *scratch = NULL;                      /* owned */
    unsigned char *kept = NULL;                                 /* owned */
    int rc = 1;

    if (n == 0 || m == 0)
        return 1;
    na = mem_calloc(total, sizeof(*na));
    scratch = mem_calloc(3 * m + 1, sizeof(*scratch));
    match = mem_calloc(m, sizeof(*match));
    kept = mem_calloc(n, 1);
    if (na == NULL || scratch == NULL || match == NULL || kept == NULL) {
        rc = errmsg_set(RC_NOMEM, "jpatch: out of memory aligning arrays");
        goto done;
    }
    sa = na + n;
    nb = sa + n;
    sb = nb + m;
    if (names_of(a, na, sa) != 0 || names_of(b, nb, sb) != 0)
        goto done; /* rc == 1: positional */
    while (p < n && p < m && nref_eq(&na[p], &nb[p]))
        p++;
    while (s < n - p && s < m - p && nref_eq(&na[n - 1 - s], &nb[m - 1 - s]))
        s++;
    for (size_t j = 0; j < p; j++)
        match[j] = j;
    for (size_t t = 0; t < s; t++)
        match[m - 1 - t] = n - 1 - t;
    if (n - p - s > 0 && m - p - s > 0) {
        /* sorted refs of the old middle only */
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++)
            if (sa[i].idx >= p && sa[i].idx < n - s)
                sa[cnt++] = sa[i];
        lis_match(sa, cnt, nb + p, m - p - s, match + p, scratch, scratch + m,
                  scratch + 2 * m);
    } else {
        for (size_t j = p; j < m - s; j++)
            match[j] = SIZE_MAX;
    }
    for (size_t j = 0; j < m; j++)
        if (match[j] != SIZE_MAX)
            kept[match[j]] = 1;
    rc = 0;
    for (size_t i = n; i-- > 0 && rc == 0;)
        if (!kept[i])
            rc = emit_at(c, "remove", i, NULL);
    for (size_t j = 0; j < m && rc == 0; j++) {
        const json_t *vb = json_array_get(b, j); /* borrowed */
        if (match[j] == SIZE_MAX)
            rc = emit_at(c, "add", j, vb);
        else
            rc = diff_at(c, json_array_get(a, match[j]), vb, j, depth);
    }
done:
    mem_free(kept);
    mem_free(match);
    mem_free(scratch);
    mem_free(na);
    return rc;
}

static int
diff_value(struct dctx *c, const json_t *a, const json_t *b, int depth)
{
    int rc;

    if (a == b)
        return 0;
    if (json_typeof(a) != json_typeof(b) || !is_container(a)) {
        if (json_equal(a, b))
            return 0;
        return emit(c, "replace", b);
    }
    if (depth >= JPATCH_MAX_DEPTH)
        return errmsg_set(RC_LIMIT, "jpatch: diff deeper than %d at '%s'",
                          JPATCH_MAX_DEPTH, cur_path(c));
    if (json_is_object(a))
        return diff_object(c, a, b, depth);
    /* equal arrays (a 2000-entry env list) cost one linear compare */
    if (json_equal(a, b))
        return 0;
    rc = diff_named(c, a, b, depth);
    if (rc == 1)
        rc = diff_positional(c, a, b, depth);
    return rc;
}

int
jpatch_diff(json_t **out, const json_t *from, const json_t *to)
{
    struct dctx c;
    int rc;

    assert(from != NULL && to != NULL);
    *out = NULL;
    c.patch = json_array();
    if (c.patch == NULL)
        return errmsg_set(RC_NOMEM, "jpatch: out of memory");
    buf_init(&c.path, 0);
    rc = diff_value(&c, from, to, 0);
    buf_cleanup(&c.path);
    if (rc != 0) {
        json_decref(c.patch);
        return rc;
    }
    *out = c.patch;
    return 0;
}

/* ---- apply ----------------------------------------------------------------
 * Helpers return 0 or an RC_*; for RC_INVAL they point *why at a static
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
