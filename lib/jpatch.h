/* jpatch.h: RFC 6902 JSON Patch: build, diff and apply, with RFC 6901
 * JSON Pointer escaping ("~" -> "~0", "/" -> "~1").
 *
 * A patch is a jansson array of operation objects {"op","path"[,"value"]
 * [,"from"]}, in order. */
#ifndef MZ_JPATCH_H
#define MZ_JPATCH_H

#include <jansson.h>

struct buf;

/* Nesting depth up to which jpatch_diff descends (RC_LIMIT beyond). */
#define JPATCH_MAX_DEPTH 128

/* jpatch_escape appends the RFC 6901 escaped form of one reference token
 * ("~" -> "~0" first, then "/" -> "~1"). 0, RC_NOMEM or RC_LIMIT (out's
 * cap); on failure out is unchanged. */
int jpatch_escape(struct buf *out, const char *token);

/* jpatch_op appends {"op": op, "path": path, "value": value} to patch.
 * value is stolen (may be NULL for "remove"); on failure it is released and
 * patch is unchanged. 0, RC_NOMEM, or RC_INVAL when path is not UTF-8. */
int jpatch_op(json_t *patch, const char *op, const char *path, json_t *value);

/* jpatch_diff builds the patch that turns `from` into `to`: minimal and
 * ordered, never a whole-document replace. Objects are compared key by key;
 * arrays of objects that all carry a unique string "name" (containers, env,
 * volumes, ports...) are aligned by name, so inserting a container first or
 * last is one "add" and an edited container is edited in place; other arrays
 * keep their common prefix and suffix and patch the middle. Applying the
 * result to `from` with any RFC 6902 implementation gives `to`: operations
 * apply in sequence, array adds use numeric indices (never "-"), and values
 * are new references to `to`'s own subtrees (no copies: the patch shares
 * them, so do not modify `to` while the patch is in use; deep-copy the
 * patch first if you must). The whole document
 * is replaced only when the root types differ (or both roots are scalars).
 * Algorithm, cost and limits: docs/jpatch.md.
 * *out is a new array (possibly empty) on success; RC_NOMEM or RC_LIMIT
 * (depth over 128). */
int jpatch_diff(json_t **out, const json_t *from, const json_t *to);

/* jpatch_diff_each: the operations jpatch_diff would build, in the same
 * order, handed to fn one at a time instead of built into an array: op
 * ("add", "remove", "replace"), path (RFC 6901, NUL-terminated, path_len
 * bytes) and value (borrowed from `to`, NULL for "remove"); path is valid
 * only during the call. For a caller that writes the patch out at once
 * (the webhook). Returns 0, fn's first non-zero result (which stops the
 * walk), RC_NOMEM or RC_LIMIT. */
typedef int (*jpatch_op_fn)(void *arg, const char *op, const char *path,
                            size_t path_len, const json_t *value);
int jpatch_diff_each(const json_t *from, const json_t *to, jpatch_op_fn fn,
                     void *arg);

/* jpatch_apply applies patch to a deep copy of doc and returns it in *out.
 * Supports add, remove, replace, move, copy, test. A failing operation
 * gives RC_INVAL (or RC_CONFLICT for a failed "test") naming the operation
 * index and path; RC_NOMEM on allocation failure; *out stays NULL and doc
 * is never modified. */
int jpatch_apply(json_t **out, const json_t *doc, const json_t *patch);

#endif
