/* b64.h: standard base64 (RFC 4648 section 4, "+/" alphabet) encode and
 * decode, shared by the PEM reader, kubeconfig *-data fields and the
 * operator's Secret data.
 *
 * Decoding accepts exactly the union of what those callers read: space,
 * tab, CR and LF are ignored anywhere; padding is optional, but when present
 * it completes the last quantum ("QQ==", "QUI=") and only whitespace may
 * follow it; a lone trailing character ("QUJDR") and non-zero unused bits
 * in the last quantum ("QR==") are rejected. */
#ifndef MZ_LIB_B64_H
#define MZ_LIB_B64_H

#include <stddef.h>

struct buf;

/* b64_digit: the 6-bit value of an alphabet character, or -1. Cannot fail. */
int b64_digit(unsigned char c);

/* b64_decode: decodes in[0..in_len) into a new NUL-terminated *out (caller
 * frees with mem_free; it may contain NUL bytes, see *out_len, which may be
 * NULL). Returns 0; RC_PARSE (bad character / padding / length, with its
 * offset in errmsg, never the data); RC_LIMIT when the result would exceed
 * max_out bytes; RC_NOMEM. On failure *out is NULL and nothing is left. */
int b64_decode(char **out, size_t *out_len, const char *in, size_t in_len,
               size_t max_out);

/* b64_encode: encodes in[0..n) with padding into a new NUL-terminated *out
 * (caller frees). 0, RC_LIMIT (n over 1 GiB) or RC_NOMEM; *out is NULL on
 * failure. */
int b64_encode(char **out, const void *in, size_t n);

/* b64_encode_buf: appends the padded encoding of in[0..n) to b. 0,
 * RC_LIMIT (b's cap) or RC_NOMEM; on failure b is unchanged. */
int b64_encode_buf(struct buf *b, const void *in, size_t n);

/* b64_encode_raw: writes the padded encoding of in[0..n) to w, which has
 * room for (n + 2) / 3 * 4 bytes (no NUL); returns that length. For
 * callers that manage their own output buffer (the webhook's streamed
 * patch). Cannot fail. */
size_t b64_encode_raw(char *w, const void *in, size_t n);

#endif
