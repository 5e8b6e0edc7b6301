/* jsel.h: selective JSON parsing - validate a whole document, build only
 * the parts a caller asked for.
 *
 * A watch event for a pod is ~4-10 KB of JSON of which a controller needs a
 * few hundred bytes. Building the full jansson tree costs ~10x more than
 * scanning the bytes, so jsel scans the document once (checking its syntax
 * and nesting depth) and builds json_t values only for the selected paths.
 * A selection is a set of dotted paths from the top object ("metadata.name",
 * "status.podIP", "metadata.labels"); a path selects its whole subtree.
 * Path components cannot contain '.'. Duplicate keys behave as in jansson
 * (the last one wins).
 *
 * Differences from a full jansson parse (documented, fuzzed): bytes inside
 * skipped strings are not checked for UTF-8 validity and skipped integers
 * are not range-checked; everything jansson accepts, jsel accepts with the
 * same values at the selected paths. */
#ifndef MZ_JSEL_H
#define MZ_JSEL_H

#include <jansson.h>
#include <stddef.h>

struct jsel;

/* jsel_new: an empty selection. *out only on success; RC_NOMEM. */
int jsel_new(struct jsel **out);
void jsel_free(struct jsel *s);

/* jsel_add selects a dotted path (e.g. "metadata.labels"). Selecting a
 * path below an already selected one changes nothing; selecting a prefix of
 * selected paths widens them to the prefix's whole subtree. 0, RC_INVAL
 * (empty component) or RC_NOMEM (the selection may then hold a prefix of the
 * path: free it). */
int jsel_add(struct jsel *s, const char *dotted);

/* jsel_parse validates p[0..n) as one JSON object (surrounding whitespace
 * allowed) no deeper than max_depth (0: 64) and sets *out (owned) to an
 * object holding only the selected paths that are present; intermediate
 * objects are created only where the document has objects. *out only on
 * success: RC_PARSE (with the byte offset in errmsg), RC_LIMIT (depth) or
 * RC_NOMEM. s NULL: nothing selected (validation only, *out = {}). */
int jsel_parse(json_t **out, const char *p, size_t n, const struct jsel *s,
               int max_depth);

#endif
