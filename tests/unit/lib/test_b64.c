/* test_b64.c: lib/b64 against the RFC 4648 vectors, the whitespace and
 * padding the PEM / kubeconfig / Secret readers need, limits and failing
 * allocations. */
#include "tests/unit/harness.h"
#include "lib/b64.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <string.h>

static const char *const plain[] = {"",     "f",     "fo",    "foo",
                                    "foob", "fooba", "foobar"};
static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                    "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

/* dec decodes s with no limit; returns the rc, *out the result or NULL */
static int
dec(char **out, size_t *n, const char *s)
{
    return b64_decode(out, n, s, strlen(s), (size_t)1 << 20);
}

TEST(b64_rfc4648_vectors)
{
    for (int i = 0; i < 7; i++) {
        char *e = NULL, *d = NULL;
        size_t n = 99;
        struct buf b;

        CHECK_INT(b64_encode(&e, plain[i], strlen(plain[i])), 0);
        CHECK_STR(e, coded[i]);
        CHECK_INT(dec(&d, &n, coded[i]), 0);
        CHECK_STR(d, plain[i]);
        CHECK_INT(n, strlen(plain[i]));
        buf_init(&b, 0);
        CHECK_INT(buf_addstr(&b, "x:"), 0);
        CHECK_INT(b64_encode_buf(&b, plain[i], strlen(plain[i])), 0);
        CHECK(strncmp(b.ptr, "x:", 2) == 0);
        CHECK_STR(b.ptr + 2, coded[i]);
        buf_cleanup(&b);
        mem_free(e);
        mem_free(d);
    }
}

TEST(b64_padding_optional_and_whitespace_ignored)
{
    char *d = NULL;
    size_t n = 0;

    CHECK_INT(dec(&d, &n, "Zm9vYg"), 0); /* kubeconfig / Secret: unpadded */
    CHECK_STR(d, "foob");
    mem_free(d);
    /* PEM body: 64-column lines, CRLF; kubeconfig: folded YAML */
    CHECK_INT(dec(&d, &n, "Zm9v\r\nYmFy\n"), 0);
    CHECK_STR(d, "foobar");
    mem_free(d);
    CHECK_INT(dec(&d, &n, " Zm 9v\tYg =\n= \n"), 0);
    CHECK_STR(d, "foob");
    mem_free(d);
    CHECK_INT(dec(&d, &n, " \n"), 0);
    CHECK_STR(d, "");
    CHECK_INT(n, 0);
    mem_free(d);
}

TEST(b64_binary_roundtrip_keeps_nul_bytes)
{
    unsigned char in[256];
    char *e = NULL, *d = NULL;
    size_t n = 0;

    for (int i = 0; i < 256; i++)
        in[i] = (unsigned char)(255 - i);
    REQUIRE(b64_encode(&e, in, sizeof(in)) == 0);
    CHECK_INT(strlen(e), 344);
    REQUIRE(dec(&d, &n, e) == 0);
    CHECK_INT(n, 256);
    CHECK(memcmp(d, in, 256) == 0);
    mem_free(e);
    mem_free(d);
}

/* ref_encode: the RFC's bit-by-bit definition, one 6-bit group at a time */
static void
ref_encode(char *w, const unsigned char *s, size_t n)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789+/";
    size_t bits = n * 8, g;

    for (g = 0; g * 6 < bits; g++) {
        unsigned v = 0;
        for (size_t b = g * 6; b < g * 6 + 6; b++) {
            unsigned bit = b < bits ? (s[b / 8] >> (7 - b % 8)) & 1 : 0;
            v = v << 1 | bit;
        }
        *w++ = a[v];
    }
    while (g++ % 4 != 0)
        *w++ = '=';
    *w = '\0';
}

TEST(b64_encode_every_length_and_offset_matches_the_definition)
{
    unsigned char in[80];
    char want[128], got[128];

    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 167 + 13); /* every bit pattern moves */
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; off + n <= sizeof(in); n++) {
            size_t len;

            ref_encode(want, in + off, n);
            len = b64_encode_raw(got, in + off, n);
            got[len] = '\0';
            CHECK_INT(len, strlen(want));
            CHECK_STR(got, want);
        }
    }
}

TEST(b64_rejects_bad_characters_and_says_where)
{
    char *d = (char *)"sentinel";
    size_t n = 7;

    CHECK_INT(dec(&d, &n, "Zm9v*mFy"), RC_PARSE);
    CHECK(d == NULL);
    CHECK_INT(n, 0);
    CHECK_CONTAINS(errmsg_get(), "bad character at 4");
    CHECK_INT(dec(&d, &n, "Zm9v-_"), RC_PARSE); /* base64url is not ours */
    CHECK_CONTAINS(errmsg_get(), "at 4");
    CHECK_INT(dec(&d, &n, "Zg==Zg=="), RC_PARSE); /* data after padding */
    CHECK_CONTAINS(errmsg_get(), "bad character at 4");
    CHECK_INT(dec(&d, &n, "Zm9v\0Yg"), 0); /* in_len stops at the NUL */
    CHECK_STR(d, "foo");
    mem_free(d);
    CHECK_INT(b64_decode(&d, &n, "Zm9v\0Yg", 7, 100), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "at 4");
}

TEST(b64_rejects_bad_padding_and_length)
{
    static const char *const bad[] = {
        "Z",     /* a lone 6-bit character */
        "Zm9vY", /* same after a full quantum */
        "Zg=",   /* padding that does not complete the quantum */
        "Zm8==", /* too much for the quantum */
        "Zg===", /* three '=' */
        "=",     /* padding alone */
        "Zh==",  /* non-zero unused bits */
        "Zm9=",  /* idem */
        "Zm9v=", /* padding after a complete quantum */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *d = NULL;
        size_t n;
        int rc = dec(&d, &n, bad[i]);

        CHECK_INT(rc, RC_PARSE);
        CHECK(d == NULL);
        mem_free(d);
    }
    char *d = NULL;
    CHECK_INT(dec(&d, NULL, "Zg="), RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "bad padding at 2");
}

TEST(b64_limit_on_decoded_size)
{
    char *d = NULL;
    size_t n = 0;

    CHECK_INT(b64_decode(&d, &n, "Zm9vYmFy", 8, 6), 0);
    CHECK_STR(d, "foobar");
    mem_free(d);
    CHECK_INT(b64_decode(&d, &n, "Zm9vYmFy", 8, 5), RC_LIMIT);
    CHECK(d == NULL);
    CHECK_CONTAINS(errmsg_get(), "over 5 bytes");
    CHECK_INT(b64_decode(&d, &n, "", 0, 0), 0);
    CHECK_STR(d, "");
    mem_free(d);
}

TEST(b64_encode_buf_cap_leaves_buffer_unchanged)
{
    struct buf b;
    char big[3000];

    memset(big, 'q', sizeof(big));
    buf_init(&b, 2000);
    CHECK_INT(buf_addstr(&b, "head"), 0);
    CHECK_INT(b64_encode_buf(&b, big, sizeof(big)), RC_LIMIT);
    CHECK_STR(b.ptr, "head");
    CHECK_INT(b.len, 4);
    buf_cleanup(&b);
    buf_init(&b, 0);
    CHECK_INT(b64_encode_buf(&b, big, sizeof(big)), 0); /* several windows */
    CHECK_INT(b.len, 4000);
    CHECK(strspn(b.ptr, "cXFx") == 4000);
    buf_cleanup(&b);
}

TEST(b64_failing_allocations)
{
    char *e = NULL, *d = NULL;
    size_t n = 0;
    struct buf b;

    mem_fail_set(1);
    CHECK_INT(b64_encode(&e, "foobar", 6), RC_NOMEM);
    CHECK(e == NULL);
    mem_fail_set(1);
    CHECK_INT(dec(&d, &n, "Zm9vYmFy"), RC_NOMEM);
    CHECK(d == NULL);
    mem_fail_set(0);
    buf_init(&b, 0);
    CHECK_INT(buf_addstr(&b, "head"), 0);
    mem_fail_set(1);
    CHECK_INT(b64_encode_buf(&b, "x", 1), 0); /* fits: no allocation */
    CHECK_STR(b.ptr, "headeA==");
    mem_fail_set(0);
    buf_cleanup(&b);
    buf_init(&b, 0);
    mem_fail_set(1);
    CHECK_INT(b64_encode_buf(&b, "foobar", 6), RC_NOMEM);
    CHECK(b.len == 0);
    mem_fail_set(0);
    buf_cleanup(&b);
}
