/* yamlemit.c: the YAML writer, JSON -> YAML (yj_dump, see yamljson.h).
 *
 * Written by hand on lib/buf.h, no libyaml emitter, so the layout is ours and
 * stable: block style, kubectl layout (2-space indent, sequences inside
 * mappings not indented), object keys in their order.
 *
 * Invariants a reader must know:
 * - A string is written plain only when it reads back as the same string
 *   under YAML 1.2 core (yj_plain_is_str, the loader's own resolution) and
 *   under the YAML 1.1 rules other tools (kubectl, PyYAML) use; otherwise it
 *   is a "|" block scalar when that carries it exactly, else double-quoted.
 *   So yj_load_one(yj_dump(v)) is json_equal to v.
 * - Reals always carry a '.' and the fewest digits that read back exactly.
 * - Nesting is capped at YJ_DUMP_MAX_DEPTH (the writer recurses).
 * - On failure the output buffer is cut back to its previous length. */
#include "lib/yamljson.h"
#include "lib/yamlpriv.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/rc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIMPLE_KEY_MAX 1000 /* libyaml refuses implicit keys over 1024 */

/* cp_printable: characters libyaml reads back as themselves anywhere,
 * without an escape. Line breaks, tabs and the BOM are left out on purpose:
 * callers treat them specially. */
static int
cp_printable(uint32_t c)
{
    if (c == 0x2028 || c == 0x2029) /* line breaks to libyaml (YAML 1.1) */
        return 0;
    return (c >= 0x20 && c <= 0x7E) || (c >= 0xA0 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD && c != 0xFEFF) ||
           (c >= 0x10000 && c <= 0x10FFFF);
}

static int
ci_equal(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* yaml11_special: plain text that YAML 1.1 readers (kubectl's
 * sigs.k8s.io/yaml, PyYAML) or merge-key aware readers would not take as a
 * string, even though the 1.2 core schema would. Quoting it costs nothing
 * and keeps our output portable. */
static int
yaml11_special(const char *s, size_t n)
{
    static const char *const words[] = {
        "y",    "yes", "n", "no",   "on",    "off",   "true", "false",
        "null", "<<",  "=", ".inf", "+.inf", "-.inf", ".nan", NULL};
    size_t i = 0;

    for (const char *const *w = words; *w; w++)
        if (ci_equal(s, n, *w))
            return 1;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    if (i < n && s[i] == '.')
        i++;
    if (i == n || s[i] < '0' || s[i] > '9')
        return 0;
    /* numbers, sexagesimals, timestamps, 0b..., 1_000 */
    for (i = 0; i < n; i++)
        if (!strchr("0123456789abcdefABCDEFxXoObB_.:+-tTzZ", s[i]))
            return 0;
    return 1;
}

/* plain_ok: s can be written as a plain scalar and read back as the same
 * string, in block context, as a key or as a value. */
static int
plain_ok(const char *s, size_t n)
{
    size_t i = 0;
    uint32_t cp;

    if (n == 0 || strchr("?:,[]{}#&*!|>'\"%@`", s[0]))
        return 0;
    if (s[0] == '-' && (n == 1 || s[1] == ' '))
        return 0;
    if (n >= 3 && (memcmp(s, "---", 3) == 0 || memcmp(s, "...", 3) == 0))
        return 0;
    if (s[0] == ' ' || s[n - 1] == ' ' || s[n - 1] == ':')
        return 0;
    while (i < n) {
        if (yj_u8_next((const unsigned char *)s, n, &i, &cp) != 0 ||
            !cp_printable(cp))
            return 0;
        if (cp == ':' && i < n && s[i] == ' ')
            return 0;
        if (cp == ' ' && i < n && s[i] == '#')
            return 0;
    }
    return yj_plain_is_str(s, n) && !yaml11_special(s, n);
}

/* literal_ok: a multi-line string that a "|" block scalar carries exactly:
 * no leading blank (that would need an indentation indicator), only
 * printable characters, tabs and '\n' line breaks. */
static int
literal_ok(const char *s, size_t n)
{
    size_t i = 0;
    uint32_t cp;

    if (n == 0 || memchr(s, '\n', n) == NULL || s[0] == ' ' || s[0] == '\t' ||
        s[0] == '\n')
        return 0;
    while (i < n) {
        if (yj_u8_next((const unsigned char *)s, n, &i, &cp) != 0)
            return 0;
        if (cp != '\n' && cp != '\t' && !cp_printable(cp))
            return 0;
    }
    return 1;
}

static int
add_spaces(struct buf *b, int n)
{
    static const char sp[] = "                                ";
    int rc = 0;

    while (n > 0 && rc == 0) {
        int k = n > 32 ? 32 : n;
        rc = buf_add(b, sp, (size_t)k);
        n -= k;
    }
    return rc;
}

static int
emit_quoted(struct buf *b, const char *s, size_t n)
{
    size_t i = 0, run = 0;
    uint32_t cp;
    int rc = buf_addc(b, '"');

    while (rc == 0 && i < n) {
        size_t at = i;
        const char *esc = NULL;
        char tmp[12];

        if (yj_u8_next((const unsigned char *)s, n, &i, &cp) != 0) {
            cp = (unsigned char)s[at]; /* not from our loader: best effort */
            i = at + 1;
            snprintf(tmp, sizeof(tmp), "\\x%02X", (unsigned)cp);
            esc = tmp;
        } else {
            switch (cp) {
            case '"':
                esc = "\\\"";
                break;
            case '\\':
                esc = "\\\\";
                break;
            case 0:
                esc = "\\0";
                break;
            case 7:
                esc = "\\a";
                break;
            case 8:
                esc = "\\b";
                break;
            case 9:
                esc = "\\t";
                break;
            case 10:
                esc = "\\n";
                break;
            case 11:
                esc = "\\v";
                break;
            case 12:
                esc = "\\f";
                break;
            case 13:
                esc = "\\r";
                break;
            case 27:
                esc = "\\e";
                break;
            case 0x85:
                esc = "\\N";
                break;
            case 0x2028:
                esc = "\\L";
                break;
            case 0x2029:
                esc = "\\P";
                break;
            default:
                if (cp_printable(cp))
                    break;
                snprintf(tmp, sizeof(tmp), cp <= 0xFF ? "\\x%02X" : "\\u%04X",
                         (unsigned)cp);
                esc = tmp;
            }
        }
        if (esc == NULL) {
            run += i - at;
            continue;
        }
        rc = buf_add(b, s + at - run, run);
        run = 0;
        if (rc == 0)
            rc = buf_addstr(b, esc);
    }
    if (rc == 0)
        rc = buf_add(b, s + n - run, run);
    return rc ? rc : buf_addc(b, '"');
}

/* emit_literal writes a "|" block scalar whose lines sit at `indent`. */
static int
emit_literal(struct buf *b, const char *s, size_t n, int indent)
{
    size_t t = 0, body, i = 0;
    int rc;

    while (t < n && s[n - 1 - t] == '\n')
        t++;
    body = n - t;
    rc = buf_addstr(b, t == 0 ? "|-\n" : t == 1 ? "|\n" : "|+\n");
    while (rc == 0 && i < body) {
        const char *nl = memchr(s + i, '\n', body - i);
        size_t end = nl ? (size_t)(nl - s) : body;
        if (end > i && (rc = add_spaces(b, indent)) == 0)
            rc = buf_add(b, s + i, end - i);
        if (rc == 0)
            rc = buf_addc(b, '\n');
        i = end + 1;
    }
    for (size_t k = 1; rc == 0 && k < t; k++)
        rc = buf_addc(b, '\n');
    return rc;
}

/* fmt_real: the shortest of %.15g..%.17g that reads back as d, always
 * with a '.' so that YAML readers see a float ("1.0", "1.0e+300"). */
static void
fmt_real(double d, char *out, size_t sz)
{
    char tmp[40], *e;

    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (strchr(tmp, '.') == NULL) {
        e = strpbrk(tmp, "eE");
        if (e)
            snprintf(out, sz, "%.*s.0%s", (int)(e - tmp), tmp, e);
        else
            snprintf(out, sz, "%s.0", tmp);
    } else {
        snprintf(out, sz, "%s", tmp);
    }
}

/* emit_scalar writes a scalar or an empty collection and ends the line;
 * `indent` is where the lines of a block scalar go. */
static int
emit_scalar(struct buf *b, const json_t *v, int indent)
{
    char num[48];
    const char *s;
    size_t n;
    int rc;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return buf_addstr(b, "{}\n");
    case JSON_ARRAY:
        return buf_addstr(b, "[]\n");
    case JSON_INTEGER:
        return buf_addf(b, "%" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
    case JSON_REAL:
        fmt_real(json_real_value(v), num, sizeof(num));
        return buf_addf(b, "%s\n", num);
    case JSON_TRUE:
        return buf_addstr(b, "true\n");
    case JSON_FALSE:
        return buf_addstr(b, "false\n");
    case JSON_NULL:
        return buf_addstr(b, "null\n");
    case JSON_STRING:
        break;
    }
    s = json_string_value(v);
    n = json_string_length(v);
    if (literal_ok(s, n))
        return emit_literal(b, s, n, indent);
    if (plain_ok(s, n))
        rc = buf_add(b, s, n);
    else
        rc = emit_quoted(b, s, n);
    return rc ? rc : buf_addc(b, '\n');
}

/* emit_key writes `key:`; a key too long for libyaml's implicit keys is
 * written in the explicit form "? key\n<indent>:". */
static int
emit_key(struct buf *b, const char *k, size_t n, int indent)
{
    size_t start = b->len;
    int rc = plain_ok(k, n) ? buf_add(b, k, n) : emit_quoted(b, k, n);

    if (rc != 0 || b->len - start <= SIMPLE_KEY_MAX)
        return rc ? rc : buf_addc(b, ':');
    if ((rc = buf_add(b, "? ", 2)) != 0)
        return rc;
    memmove(b->ptr + start + 2, b->ptr + start, b->len - 2 - start);
    memcpy(b->ptr + start, "? ", 2);
    if ((rc = buf_addc(b, '\n')) == 0 && (rc = add_spaces(b, indent)) == 0)
        rc = buf_addc(b, ':');
    return rc;
}

static int emit_map(struct buf *b, const json_t *o, int indent, int inline1,
                    int depth);
static int emit_seq(struct buf *b, const json_t *a, int indent, int inline1,
                    int depth);

static int
is_block(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) > 0) ||
           (json_is_array(v) && json_array_size(v) > 0);
}

/* emit_map writes the entries of o at `indent`; with inline1 the first one
 * continues the current line (after "- "). */
static int
emit_map(struct buf *b, const json_t *o, int indent, int inline1, int depth)
{
    const char *k;
    size_t klen;
    json_t *v; /* borrowed */
    int rc = 0;

    if (depth > YJ_DUMP_MAX_DEPTH)
        return errmsg_set(RC_LIMIT, "value nested deeper than %d",
                          YJ_DUMP_MAX_DEPTH);
    json_object_keylen_foreach((json_t *)o, k, klen, v)
    {
        if (!inline1 && (rc = add_spaces(b, indent)) != 0)
            break;
        inline1 = 0;
        if ((rc = emit_key(b, k, klen, indent)) != 0)
            break;
        if ((rc = buf_addc(b, is_block(v) ? '\n' : ' ')) != 0)
            break;
        if (json_is_object(v) && is_block(v))
            rc = emit_map(b, v, indent + 2, 0, depth + 1);
        else if (is_block(v)) /* kubectl layout: "key:\n- item" */
            rc = emit_seq(b, v, indent, 0, depth + 1);
        else
            rc = emit_scalar(b, v, indent + 2);
        if (rc != 0)
            break;
    }
    return rc;
}

static int
emit_seq(struct buf *b, const json_t *a, int indent, int inline1, int depth)
{
    size_t i;
    json_t *v; /* borrowed */
    int rc = 0;

    if (depth > YJ_DUMP_MAX_DEPTH)
        return errmsg_set(RC_LIMIT, "value nested deeper than %d",
                          YJ_DUMP_MAX_DEPTH);
    json_array_foreach(a, i, v)
    {
        if (!inline1 && (rc = add_spaces(b, indent)) != 0)
            break;
        inline1 = 0;
        if ((rc = buf_add(b, "- ", 2)) != 0)
            break;
        if (json_is_object(v) && is_block(v))
            rc = emit_map(b, v, indent + 2, 1, depth + 1);
        else if (is_block(v))
            rc = emit_seq(b, v, indent + 2, 1, depth + 1);
        else
            rc = emit_scalar(b, v, indent + 2);
        if (rc != 0)
            break;
    }
    return rc;
}

int
yj_dump(const json_t *v, struct buf *out)
{
    size_t start = out->len;
    int rc;

    if (json_is_object(v) && is_block(v))
        rc = emit_map(out, v, 0, 1, 1);
    else if (is_block(v))
        rc = emit_seq(out, v, 0, 1, 1);
    else
        rc = emit_scalar(out, v, 2);
    if (rc != 0) {
        out->len = start;
        if (out->ptr)
            out->ptr[start] = '\0';
        if (rc == RC_LIMIT)
            return errmsg_prefix(rc, "YAML output");
        return errmsg_set(rc, "out of memory writing YAML");
    }
    return 0;
}
