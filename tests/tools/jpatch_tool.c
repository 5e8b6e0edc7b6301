/* jpatch_tool.c: a test-only command-line front end of lib/jpatch, so that
 * scripts can check our patches against other implementations.
 *
 *   jpatch_tool diff FROM.json TO.json     prints the RFC 6902 patch
 *   jpatch_tool apply DOC.json PATCH.json  prints the patched document
 *   jpatch_tool diff-lines FILE            each line [FROM, TO] -> a patch
 *   jpatch_tool apply-lines FILE           each line [DOC, PATCH] -> result
 *
 * Output is compact JSON on one line on stdout; exit 0 on success, 1 when the
 * operation fails (the reason on stderr), 2 on bad usage or unreadable input.
 * The -lines forms (one process for many cases, so that checks under ASan
 * stay fast) print one line per input line: the result, or
 * {"error":"RC_...: message"} when that case fails; exit 0 unless the file
 * cannot be read or a line is not a two-element array (2).
 */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jpatch.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
load(json_t **out, const char *path)
{
    struct jutil_limits lim = {.max_bytes = 0, .max_depth = 120};
    struct buf b;
    char chunk[65536];
    FILE *f = fopen(path, "rb");
    size_t n;
    int rc = 0;

    *out = NULL;
    if (f == NULL)
        return errmsg_set(RC_IO, "cannot open %s", path);
    buf_init(&b, JUTIL_DEFAULT_MAX_BYTES + 1);
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_add(&b, chunk, n);
    if (rc == 0 && ferror(f))
        rc = errmsg_set(RC_IO, "cannot read %s", path);
    fclose(f);
    if (rc == 0)
        rc = jutil_parse(out, b.ptr ? b.ptr : "", b.len, &lim);
    buf_cleanup(&b);
    return rc;
}

static int
run(const char *cmd, const json_t *a, const json_t *b, json_t **out)
{
    return cmd[0] == 'd' ? jpatch_diff(out, a, b) : jpatch_apply(out, a, b);
}

static int
lines(const char *cmd, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;

    if (f == NULL) {
        fprintf(stderr, "jpatch_tool: cannot open %s\n", path);
        return 2;
    }
    while (status == 0 && (n = getline(&line, &cap, f)) > 0) {
        json_t *pair = NULL, *res = NULL; /* owned */
        char *s = NULL;
        int rc = jutil_parse(&pair, line, (size_t)n, NULL);
        if (rc != 0 || json_array_size(pair) != 2) {
            fprintf(stderr, "jpatch_tool: bad line: %s\n", errmsg_get());
            status = 2;
        } else if ((rc = run(cmd, json_array_get(pair, 0),
                             json_array_get(pair, 1), &res)) != 0) {
            res = json_pack("{s:s+++}", "error", rc_str(rc), ": ", "",
                            errmsg_get());
        }
        if (status == 0 && (s = jutil_dumps(res, JSON_ENCODE_ANY)) == NULL)
            status = 2;
        if (status == 0)
            puts(s);
        mem_free(s);
        json_decref(res);
        json_decref(pair);
    }
    free(line);
    fclose(f);
    return status;
}

int
main(int argc, char **argv)
{
    json_t *a = NULL, *b = NULL, *res = NULL; /* owned */
    char *s = NULL;
    int rc, status = 2;

    mem_init_jansson();
    if (argc == 3 && (strcmp(argv[1], "diff-lines") == 0 ||
                      strcmp(argv[1], "apply-lines") == 0))
        return lines(argv[1], argv[2]);
    if (argc != 4 ||
        (strcmp(argv[1], "diff") != 0 && strcmp(argv[1], "apply") != 0)) {
        fputs("usage: jpatch_tool diff FROM TO | apply DOC PATCH | "
              "diff-lines FILE | apply-lines FILE\n",
              stderr);
        return 2;
    }
    if ((rc = load(&a, argv[2])) != 0 || (rc = load(&b, argv[3])) != 0)
        goto done;
    status = 1;
    if ((rc = run(argv[1], a, b, &res)) != 0)
        goto done;
    s = jutil_dumps(res, JSON_ENCODE_ANY);
    if (s == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory");
        goto done;
    }
    puts(s);
    status = 0;
done:
    if (status != 0)
        fprintf(stderr, "jpatch_tool: %s: %s\n", rc_str(rc), errmsg_get());
    mem_free(s);
    json_decref(res);
    json_decref(b);
    json_decref(a);
    return status;
}
