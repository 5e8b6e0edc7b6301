/* jutil.h: jansson helpers: bounded parsing and typed look-ups.
 *
 * Ownership follows STYLE.md: *_get return borrowed pointers into the
 * document; functions with `**out` give the caller a new reference, set only
 * on success (*out is NULL on failure). */
#ifndef MZ_JUTIL_H
#define MZ_JUTIL_H

#include <jansson.h>
#include <stddef.h>

struct buf;

struct jutil_limits {
    size_t max_bytes; /* 0: 8 MiB */
    int max_depth;    /* 0: 64 nesting levels of objects/arrays */
};

#define JUTIL_DEFAULT_MAX_BYTES ((size_t)8 << 20)
#define JUTIL_DEFAULT_MAX_DEPTH 64

/* jutil_parse parses exactly one JSON value from p[0..n). Over the caps:
 * RC_LIMIT; bad JSON: RC_PARSE with line/column in errmsg. lim may be NULL
 * for the defaults. */
int jutil_parse(json_t **out, const char *p, size_t n,
                const struct jutil_limits *lim);

/* jutil_depth returns the nesting depth of p[0..n), counted on the raw
 * bytes (strings skipped), stopping early once above `stop`. */
int jutil_depth(const char *p, size_t n, int stop);

/* Borrowed look-ups; NULL/def when absent or of another type. */
const char *jutil_str(const json_t *obj, const char *key);
json_t *jutil_obj(const json_t *obj, const char *key);
json_t *jutil_arr(const json_t *obj, const char *key);
/* jutil_path walks "a.b.c" through objects; borrowed or NULL. */
json_t *jutil_path(const json_t *root, const char *dotted);
const char *jutil_path_str(const json_t *root, const char *dotted);

/* jutil_obj_ensure returns the object at obj[key], creating an empty one
 * when absent (replacing a non-object value). Borrowed; NULL on RC_NOMEM. */
json_t *jutil_obj_ensure(json_t *obj, const char *key);

/* jutil_set_str sets obj[key] to a copy of s: 0 or RC_NOMEM. */
int jutil_set_str(json_t *obj, const char *key, const char *s);

/* jutil_dump serializes compactly (flags as json_dumps; JSON_COMPACT is
 * always added) into out; 0, RC_NOMEM or RC_LIMIT. */
int jutil_dump(const json_t *v, size_t flags, struct buf *out);

/* jutil_dumps: compact string, caller frees with mem_free; NULL on
 * RC_NOMEM. */
char *jutil_dumps(const json_t *v, size_t flags);

#endif
