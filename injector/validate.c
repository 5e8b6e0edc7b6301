/* validate.c: validators for injection annotation values (Istio's
 * pkg/kube/inject/validate.go rules).
 *
 * Every validator is pure and allocation-free: it returns 0 or RC_INVAL and
 * sets one short errmsg naming the offending element, never the annotation
 * (the caller prefixes that). Offending text is quoted through quote(),
 * which truncates and masks non-printable bytes so a hostile value cannot
 * forge log lines or blow up a message. */
#include "injector/validate.h"

#include "lib/errmsg.h"
#include "lib/rc.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>

#define QUOTE_MAX 48 /* bytes of an offending value shown in a message */

/* quote copies s[0..n) into out (QUOTE_MAX + 4 bytes) for a message:
 * non-printable bytes become '?', and a long value ends in "...". */
static const char *
quote(char *out, const char *s, size_t n)
{
    size_t i, k = 0;

    for (i = 0; i < n && k < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (i < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/* trim narrows [*p, *p + *n) to exclude ASCII whitespace at both ends. */
static void
trim(const char **p, size_t *n)
{
    while (*n > 0 && is_space(**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*p)[*n - 1]))
        (*n)--;
}

/* parse_dec parses s[0..n) as unsigned decimal digits only (Go's
 * strconv.ParseUint base 10: no sign, no spaces, leading zeros allowed).
 * Returns 0 with *v, -1 for a non-digit or empty input, -2 when above max. */
static int
parse_dec(const char *s, size_t n, unsigned long long max,
          unsigned long long *v)
{
    unsigned long long acc = 0;

    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
    }
    for (size_t i = 0; i < n; i++) {
        acc = acc * 10 + (unsigned long long)(s[i] - '0');
        if (acc > max)
            return -2;
    }
    *v = acc;
    return 0;
}

/* one_port checks one (already trimmed) element of a port list. */
static int
one_port(const char *p, size_t n, int *out)
{
    char q[QUOTE_MAX + 4];
    unsigned long long v = 0;

    if (n == 0)
        return errmsg_set(RC_INVAL, "empty element in port list");
    int r = parse_dec(p, n, 65535, &v);
    if (r == -2)
        return errmsg_set(RC_INVAL, "port '%s' out of range 0..65535",
                          quote(q, p, n));
    if (r != 0)
        return errmsg_set(RC_INVAL, "'%s' is not a valid port", quote(q, p, n));
    if (out != NULL)
        *out = (int)v;
    return 0;
}

/* star_check handles "*" for both list kinds. Returns 1 when s is an
 * accepted lone "*", 0 when the list has no "*" element to worry about, or
 * RC_INVAL. An element is "*" when it trims to "*". */
static int
star_check(const char *s, int allow_star)
{
    if (strcmp(s, "*") == 0) {
        if (allow_star)
            return 1;
        return errmsg_set(RC_INVAL, "'*' is not allowed in an exclude list");
    }
    for (const char *p = s;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *t = p;
        trim(&t, &n);
        if (n == 1 && *t == '*') {
            if (allow_star)
                return errmsg_set(RC_INVAL, "'*' must be the whole value");
            return errmsg_set(RC_INVAL,
                              "'*' is not allowed in an exclude list");
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

int
inj_val_ports(const char *s, int allow_star)
{
    const char *p;
    size_t n;
    int r;

    if (s == NULL)
        return 0;
    r = star_check(s, allow_star);
    if (r != 0)
        return r > 0 ? 0 : r;
    /* Like Istio's parsePorts: the whole value is trimmed first, so a
     * blank value means "no ports". */
    p = s;
    n = strlen(s);
    trim(&p, &n);
    if (n == 0)
        return 0;
    const char *end = p + n;
    while (p <= end) {
        const char *e = memchr(p, ',', (size_t)(end - p));
        size_t len = e ? (size_t)(e - p) : (size_t)(end - p);
        const char *t = p;
        trim(&t, &len);
        r = one_port(t, len, NULL);
        if (r != 0)
            return r;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

/* one_cidr checks s[0..n) like Go's netip.ParsePrefix: "<addr>/<bits>",
 * the address in canonical dotted-quad or RFC 4291 text (no zone), bits in
 * decimal without sign or leading zeros, 0..32 or 0..128. Host bits may be
 * set ("127.0.0.1/24"). */
static int
one_cidr(const char *s, size_t n)
{
    char q[QUOTE_MAX + 4];
    char addr[64];
    unsigned char bin[16];
    const char *slash = memchr(s, '/', n);
    unsigned long long bits = 0;
    int v6, maxbits;

    if (n == 0)
        return errmsg_set(RC_INVAL, "empty element in CIDR list");
    if (slash == NULL) {
        /* Say "bare IP" only when it really is one. */
        size_t an = n < sizeof(addr) - 1 ? n : sizeof(addr) - 1;
        memcpy(addr, s, an);
        addr[an] = '\0';
        if (n < sizeof(addr) && (inet_pton(AF_INET, addr, bin) == 1 ||
                                 inet_pton(AF_INET6, addr, bin) == 1))
            return errmsg_set(RC_INVAL,
                              "'%s' is not a CIDR (missing /prefix length)",
                              quote(q, s, n));
        return errmsg_set(RC_INVAL, "'%s' is not a valid CIDR", quote(q, s, n));
    }
    size_t alen = (size_t)(slash - s);
    const char *b = slash + 1;
    size_t blen = n - alen - 1;
    if (alen == 0 || alen >= sizeof(addr))
        return errmsg_set(RC_INVAL, "'%s' is not a valid CIDR", quote(q, s, n));
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (memchr(addr, '%', alen) != NULL)
        return errmsg_set(RC_INVAL,
                          "'%s': an IPv6 zone is not allowed in a CIDR",
                          quote(q, s, n));
    v6 = memchr(addr, ':', alen) != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1)
        return errmsg_set(RC_INVAL, "'%s' has an invalid IP%s address",
                          quote(q, s, n), v6 ? "v6" : "v4");
    maxbits = v6 ? 128 : 32;
    if (parse_dec(b, blen, 1000, &bits) != 0 || (blen > 1 && b[0] == '0') ||
        bits > (unsigned long long)maxbits)
        return errmsg_set(RC_INVAL,
                          "'%s' has a bad prefix length (IPv%d allows 0..%d)",
                          quote(q, s, n), v6 ? 6 : 4, maxbits);
    return 0;
}

int
inj_val_cidrs(const char *s, int allow_star)
{
    int r;

    if (s == NULL || *s == '\0')
        return 0;
    r = star_check(s, allow_star);
    if (r != 0)
        return r > 0 ? 0 : r;
    /* Istio splits on ',' and parses each element untrimmed, so
     * "10.0.0.0/8, 10.1.0.0/16" is refused; so is a trailing comma. */
    for (const char *p = s;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        r = one_cidr(p, len);
        if (r != 0)
            return r;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

int
inj_val_port(const char *s, int *out)
{
    const char *p = s;
    size_t n;
    int port = 0, r;

    if (s == NULL)
        return errmsg_set(RC_INVAL, "missing port");
    n = strlen(s);
    trim(&p, &n);
    if (n == 0)
        return errmsg_set(RC_INVAL, "empty port");
    r = one_port(p, n, &port);
    if (r != 0)
        return r;
    if (out != NULL)
        *out = port;
    return 0;
}

int
inj_val_uint32(const char *s, uint32_t *out)
{
    char q[QUOTE_MAX + 4];
    unsigned long long v = 0;
    size_t n;
    int r;

    if (s == NULL)
        return errmsg_set(RC_INVAL, "missing number");
    n = strlen(s);
    r = parse_dec(s, n, 0xffffffffULL, &v);
    if (r == -2)
        return errmsg_set(RC_INVAL, "'%s' out of range 0..4294967295",
                          quote(q, s, n));
    if (r != 0)
        return errmsg_set(RC_INVAL, "'%s' is not an unsigned 32-bit integer",
                          quote(q, s, n));
    if (out != NULL)
        *out = (uint32_t)v;
    return 0;
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* digits returns how many decimal digits start at p. */
static size_t
digits(const char *p)
{
    size_t i = 0;
    while (is_digit(p[i]))
        i++;
    return i;
}

int
inj_val_quantity(const char *s)
{
    static const char *const suffixes[] = {
        "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u",
        "m",  "k",  "M",  "G",  "T",  "P",  "E", "",
    };
    char q[QUOTE_MAX + 4], q2[QUOTE_MAX + 4];
    const char *p;
    size_t n, intd, fracd = 0;

    if (s == NULL || *s == '\0')
        return errmsg_set(RC_INVAL, "empty quantity");
    n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return errmsg_set(RC_INVAL,
                              "quantity '%s' contains a control character",
                              quote(q, s, n));
        if (c == ' ')
            return errmsg_set(RC_INVAL, "quantity '%s' contains a space",
                              quote(q, s, n));
    }
    /* <signedNumber> ::= [+-] ( digits | digits.digits | digits. | .digits ) */
    p = s;
    if (*p == '+' || *p == '-')
        p++;
    intd = digits(p);
    p += intd;
    if (*p == '.') {
        p++;
        fracd = digits(p);
        p += fracd;
    }
    if (intd + fracd == 0)
        return errmsg_set(RC_INVAL, "'%s' is not a quantity (no digits)",
                          quote(q, s, n));
    /* <suffix> ::= binarySI | decimalSI | (e|E) [+-] digits */
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcmp(p, suffixes[i]) == 0)
            return 0;
    }
    if (*p == 'e' || *p == 'E') {
        const char *x = p + 1;
        if (*x == '+' || *x == '-')
            x++;
        size_t xd = digits(x);
        if (xd > 0 && x[xd] == '\0') {
            if (xd > 18)
                return errmsg_set(RC_INVAL,
                                  "quantity '%s' has an exponent out of range",
                                  quote(q, s, n));
            return 0;
        }
        return errmsg_set(RC_INVAL, "quantity '%s' has a bad exponent",
                          quote(q, s, n));
    }
    return errmsg_set(RC_INVAL,
                      "quantity '%s' has an unknown suffix '%s' (want one of "
                      "Ki Mi Gi Ti Pi Ei n u m k M G T P E or an exponent)",
                      quote(q, s, n), quote(q2, p, strlen(p)));
}

int
inj_val_interception_mode(const char *s)
{
    char q[QUOTE_MAX + 4];

    if (s != NULL && (strcmp(s, "REDIRECT") == 0 || strcmp(s, "TPROXY") == 0 ||
                      strcmp(s, "NONE") == 0))
        return 0;
    if (s == NULL)
        s = "";
    return errmsg_set(RC_INVAL,
                      "'%s' is not an interception mode (REDIRECT, TPROXY "
                      "or NONE)",
                      quote(q, s, strlen(s)));
}

/* one_iface checks a Linux interface name: 1..15 bytes (IFNAMSIZ - 1), not
 * "." or "..", without '/', ':' or whitespace (the kernel's dev_valid_name
 * rules; ':' would be read as an alias). */
static int
one_iface(const char *p, size_t n)
{
    char q[QUOTE_MAX + 4];

    if (n == 0)
        return errmsg_set(RC_INVAL, "empty element in interface list");
    if (n > 15)
        return errmsg_set(RC_INVAL,
                          "interface name '%s' is longer than 15 characters",
                          quote(q, p, n));
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return errmsg_set(RC_INVAL, "'%s' is not a valid interface name",
                          quote(q, p, n));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '/' || c == ':' || c <= 0x20 || c == 0x7f)
            return errmsg_set(RC_INVAL,
                              "interface name '%s' contains a '/', ':', "
                              "whitespace or control character",
                              quote(q, p, n));
    }
    return 0;
}

int
inj_val_interfaces(const char *s)
{
    int r;

    if (s == NULL || *s == '\0')
        return 0;
    for (const char *p = s;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        r = one_iface(p, len);
        if (r != 0)
            return r;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}
