/* yamljson.h: YAML <-> JSON (jansson) through libyaml, with hard limits.
 *
 * Reading: every document of a YAML stream (YAML 1.2 core schema: null,
 * true/false, integers, floats; quoted scalars are strings; explicit tags
 * !!str !!int !!float !!bool !!null honoured) becomes one JSON value. Anchors
 * and aliases are supported, but every alias expansion is counted against
 * max_alias_nodes, so a "billion laughs" input fails with RC_LIMIT instead of
 * exploding. Mapping keys must be scalars (they become strings); duplicate
 * keys are an error (RC_PARSE), as in kubectl. Empty documents are skipped.
 * Errors carry "line L column C" of the input in errmsg. Plain .inf/.nan,
 * integers beyond 64 bits and floats that overflow stay strings (as
 * written), since JSON cannot hold them; unknown tags keep the text as a
 * string; merge keys (<<) are supported. docs/yaml.md has the details.
 *
 * Writing: block-style YAML of one JSON value, object keys in their order,
 * strings quoted when a plain scalar would read back as something else.
 * Reading what was written gives back an equal value (json_equal). */
#ifndef MZ_YAMLJSON_H
#define MZ_YAMLJSON_H

#include <jansson.h>
#include <stddef.h>

struct buf;

#define YJ_DEFAULT_MAX_BYTES ((size_t)8 << 20)
#define YJ_DEFAULT_MAX_DEPTH 64
#define YJ_DEFAULT_MAX_NODES ((size_t)1000000)
#define YJ_DEFAULT_MAX_ALIAS_NODES ((size_t)10000)
#define YJ_DEFAULT_MAX_DOCS ((size_t)10000)
/* yj_dump refuses values nested deeper than this (RC_LIMIT). */
#define YJ_DUMP_MAX_DEPTH 1000

struct yj_limits {
    size_t max_bytes;       /* input size; 0: 8 MiB */
    int max_depth;          /* nesting of mappings/sequences; 0: 64 */
    size_t max_nodes;       /* nodes per document incl. expansions; 0: 1M */
    size_t max_alias_nodes; /* nodes produced through aliases; 0: 10000 */
    size_t max_docs;        /* documents per stream; 0: 10000 */
};

/* yj_load_all parses a stream into a new JSON array holding one value per
 * non-empty document (*out set only on success). RC_PARSE, RC_LIMIT,
 * RC_NOMEM. lim may be NULL for the defaults. */
int yj_load_all(json_t **out, const char *p, size_t n,
                const struct yj_limits *lim);

/* yj_load_one: exactly one document (RC_PARSE if none or several). JSON
 * text is YAML too, so this also reads JSON files. */
int yj_load_one(json_t **out, const char *p, size_t n,
                const struct yj_limits *lim);

/* yj_dump appends `v` as YAML (no leading "---") to out: 0, RC_NOMEM,
 * RC_LIMIT (out's cap). On failure out keeps its previous length. */
int yj_dump(const json_t *v, struct buf *out);

#endif
