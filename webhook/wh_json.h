/* wh_json.h: the webhook's JSON fast paths: a parser for well-formed
 * documents and a compact writer (raw or straight into base64).
 *
 * The parser is an accelerator, not a second definition of JSON: it builds
 * exactly the jansson value json_loadb(JSON_DECODE_ANY) builds (same types,
 * same key order, last duplicate key wins) for the documents it accepts,
 * and declines everything else (malformed or unusual input) so that the
 * caller runs jansson, whose verdict and error message stay authoritative.
 * The fuzz target checks the equivalence on every input. */
#ifndef MZ_WH_JSON_H
#define MZ_WH_JSON_H

#include <jansson.h>
#include <stddef.h>

struct buf;

/* wh_json_parse parses p[0..n) when it is an object nested at most
 * max_depth levels (the outer object is level 1, as jutil_depth counts)
 * that jansson accepts. 0: *out is a new reference. RC_NOMEM: out of
 * memory (errmsg set). RC_AGAIN: declined, nothing is set (errmsg is left
 * alone): not an object, malformed, too deep, or a case left to jansson
 * (an integer of more than 18 digits, a real that over- or underflows,
 * \u0000, an unpaired surrogate escape). *out is NULL on failure. */
int wh_json_parse(json_t **out, const char *p, size_t n, int max_depth);

/* wh_json_write appends v as compact JSON (what json_dumps(JSON_COMPACT)
 * gives: keys in order, reals with a '.' or exponent; "/" and non-ASCII
 * are not escaped). wh_json_write_base64 appends the standard base64
 * (RFC 4648, padded) of that same text without building it first. Both:
 * 0, RC_NOMEM, RC_LIMIT (out's cap, or nesting deeper than WH_JSON_MAX_DEPTH);
 * on failure out keeps its length. */
#define WH_JSON_MAX_DEPTH 104 /* WH_MAX_DEPTH + the patch's own levels */
struct wh_frags;
int wh_json_write(struct buf *out, const json_t *v);
/* frags (may be NULL): nodes whose text was written before (wh_frag.h)
 * are copied from there; the output is the same either way. */
int wh_json_write_base64(struct buf *out, const json_t *v,
                         const struct wh_frags *frags);

/* wh_json_write_patch_base64 appends the base64 of the RFC 6902 patch from
 * -> to as jpatch_diff would build it and wh_json_write would write it
 * (same operations, order and text), diffing straight into the encoder
 * (jpatch_diff_each). *nops gets the number of operations (0: the text
 * "[]" was written). 0, RC_NOMEM, RC_LIMIT; on failure out keeps its
 * length. */
int wh_json_write_patch_base64(struct buf *out, const json_t *from,
                               const json_t *to, const struct wh_frags *frags,
                               size_t *nops);

/* wh_json_escape appends s as a JSON string literal (with quotes). */
int wh_json_escape(struct buf *out, const char *s);

/* wh_base64_encode appends standard base64 (RFC 4648, padded) of p[0..n).
 * 0, RC_NOMEM or RC_LIMIT; on failure out is unchanged. */
int wh_base64_encode(struct buf *out, const void *p, size_t n);

#endif
