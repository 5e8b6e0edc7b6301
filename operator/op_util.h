/* op_util.h: small helpers of the operator: base64 (Secret data, caBundle)
 * and RFC 3339 times (rotation state annotations).
 *
 * Pure functions; strings that come back through **out are owned by the
 * caller (mem_free, or pki_secret_free when they held key material). */
#ifndef MZ_OP_UTIL_H
#define MZ_OP_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

/* op_b64_encode: standard base64 with padding, NUL-terminated. 0 or
 * RC_NOMEM; *out only on success. */
int op_b64_encode(char **out, const void *p, size_t n);

/* op_b64_decode: standard base64 (padding optional, no whitespace, as
 * Kubernetes writes Secret data) into a NUL-terminated buffer of *len bytes.
 * Inputs longer than max bytes are RC_LIMIT; bad characters or length
 * RC_PARSE; RC_NOMEM. *out only on success. */
int op_b64_decode(char **out, size_t *len, const char *s, size_t max);

/* op_time_format: "2024-05-01T10:03:12Z" (UTC); out must hold 21 bytes. */
void op_time_format(char out[32], time_t t);
/* op_time_parse: RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm)";
 * RC_PARSE otherwise. */
int op_time_parse(time_t *out, const char *s);

/* op_data_get decodes data[key] of a Secret object (base64) into a
 * NUL-terminated buffer (*out; free with pki_secret_free(*out, *len) when
 * it may hold key material, else mem_free). RC_NOTFOUND when absent,
 * RC_PARSE/RC_LIMIT (capped at max bytes) with the key in errmsg. */
int op_data_get(char **out, size_t *len, const json_t *secret, const char *key,
                size_t max);
/* op_data_set sets data[key] (creating data) to base64 of p[0..n). */
int op_data_set(json_t *secret, const char *key, const void *p, size_t n);

#endif
