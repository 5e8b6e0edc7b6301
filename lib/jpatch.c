/* jpatch.c: RFC 6902 JSON Patch: RFC 6901 escaping, the builder and the
 * minimal diff (see jpatch.h and docs/jpatch.md; jpatch_apply is in
 * jpatchapply.c).
 *
 * Invariants a reader must know:
 * - Paths are built in one struct buf while the diff walks down and are cut
 *   back on the way up; a key is RFC 6901-escaped as it is pushed. Keys and
 *   strings are handled with their lengths (jansson allows "\u0000").
 * - Every emitted operation applies to the result of the previous ones; array
 *   indices are computed for that sequential application, and adds use
 *   numeric indices (never "-") so strict implementations accept them.
 * - Values put into a patch by jpatch_diff are new references to `to`'s own
 *   subtrees, not copies: the patch shares nodes with `to` (see jpatch.h). */
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
is_ascii(const char *p, size_t n)
{
    unsigned char any = 0;

    for (size_t i = 0; i < n; i++)
        any |= (unsigned char)p[i];
    return any < 0x80;
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
    /* op is one of our literals and the keys are ASCII: no UTF-8 checks */
    if (json_object_set_new_nocheck(o, "op", json_string_nocheck(op)) != 0)
        goto nomem;
    /* paths are almost always ASCII: skip jansson's UTF-8 check then */
    s = is_ascii(path, path_len) ? json_stringn_nocheck(path, path_len)
                                 : json_stringn(path, path_len);
    if (s == NULL) {
        json_decref(o);
        json_decref(value);
        return errmsg_set(nomem_or(RC_INVAL), "jpatch: bad path for %s", op);
    }
    if (json_object_set_new_nocheck(o, "path", s) != 0)
        goto nomem;
    if (value != NULL) {
        json_t *v = value; /* owned, stolen below */
        value = NULL;
        if (json_object_set_new_nocheck(o, "value", v) != 0)
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
    json_t *patch;   /* borrowed: the array being built (or NULL) */
    jpatch_op_fn fn; /* else: each operation goes here */
    void *arg;
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
    char num[BUF_LL_TEXT], *p = buf_ll_text(num, (long long)i);

    *--p = '/';
    return buf_add(&c->path, p, (size_t)(num + BUF_LL_TEXT - p));
}

/* emit: one operation at the current path; `copy_of` (borrowed, may be NULL)
 * goes into the patch as a new reference, not a copy. */
static int
emit(struct dctx *c, const char *op, const json_t *copy_of)
{
    /* The patch shares the value with `to` (a new reference, no copy):
     * copying dominated the cost of injection (see jpatch.h). */
    json_t *v; /* owned */

    if (c->fn != NULL)
        return c->fn(c->arg, op, cur_path(c), c->path.len, copy_of);
    v = copy_of ? json_incref((json_t *)copy_of) : NULL;
    return op_new(c->patch, op, cur_path(c), c->path.len, v);
}

static int
is_container(const json_t *v)
{
    return json_is_object(v) || json_is_array(v);
}

/* keys_prefix: a's keys are, in order, the first keys of b (jansson keeps
 * insertion order). The usual case for an injected pod: the injector copies
 * an object and appends to it. */
static int
keys_prefix(json_t *a, json_t *b)
{
    void *ia = json_object_iter(a), *ib = json_object_iter(b);

    for (; ia != NULL;
         ia = json_object_iter_next(a, ia), ib = json_object_iter_next(b, ib)) {
        size_t la;
        if (ib == NULL)
            return 0;
        la = json_object_iter_key_len(ia);
        if (la != json_object_iter_key_len(ib) ||
            memcmp(json_object_iter_key(ia), json_object_iter_key(ib), la) != 0)
            return 0;
    }
    return 1;
}

/* diff_prefixed: diff_object when keys_prefix(a, b) holds, without a
 * single lookup: the same operations in the same order (nothing to remove;
 * changed keys in order; then b's extra keys added in order). */
static int
diff_prefixed(struct dctx *c, json_t *a, json_t *b, int depth)
{
    size_t saved = c->path.len;
    void *ia = json_object_iter(a), *ib = json_object_iter(b);
    int rc = 0;

    for (; ia != NULL;
         ia = json_object_iter_next(a, ia), ib = json_object_iter_next(b, ib)) {
        json_t *va = json_object_iter_value(ia),
               *vb = json_object_iter_value(ib);
        if (va == vb)
            continue;
        if ((rc = push_key(c, json_object_iter_key(ib),
                           json_object_iter_key_len(ib))) != 0 ||
            (rc = diff_value(c, va, vb, depth + 1)) != 0)
            goto done;
        path_cut(c, saved);
    }
    for (; ib != NULL; ib = json_object_iter_next(b, ib)) {
        if ((rc = push_key(c, json_object_iter_key(ib),
                           json_object_iter_key_len(ib))) != 0 ||
            (rc = emit(c, "add", json_object_iter_value(ib))) != 0)
            goto done;
        path_cut(c, saved);
    }
done:
    path_cut(c, saved);
    return rc;
}

static int
diff_object(struct dctx *c, const json_t *a, const json_t *b, int depth)
{
    size_t saved = c->path.len, kl;
    const char *k;
    json_t *va, *vb; /* borrowed */
    int rc = 0;

    if (keys_prefix((json_t *)a, (json_t *)b))
        return diff_prefixed(c, (json_t *)a, (json_t *)b, depth);

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
    c.fn = NULL;
    c.arg = NULL;
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

int
jpatch_diff_each(const json_t *from, const json_t *to, jpatch_op_fn fn,
                 void *arg)
{
    struct dctx c;
    int rc;

    assert(from != NULL && to != NULL && fn != NULL);
    c.patch = NULL;
    c.fn = fn;
    c.arg = arg;
    buf_init(&c.path, 0);
    rc = diff_value(&c, from, to, 0);
    buf_cleanup(&c.path);
    return rc;
}
