/* jpatch_tool.c: a test-only command-line front end of lib/jpatch, so that
 * scripts can check our patches against other implementations.
 *
 *   jpatch_tool diff FROM.json TO.json     prints the RFC 6902 patch
 *   jpatch_tool apply DOC.json PATCH.json  prints the patched document
 *
 * Output is compact JSON on one line on stdout; exit 0 on success, 1 when the
 * operation fails (the reason on stderr), 2 on bad usage or unreadable input.
 */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jpatch.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
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

int
main(int argc, char **argv)
{
    json_t *a = NULL, *b = NULL, *res = NULL; /* owned */
    char *s = NULL;
    int rc, status = 2;

    mem_init_jansson();
    if (argc != 4 ||
        (strcmp(argv[1], "diff") != 0 && strcmp(argv[1], "apply") != 0)) {
        fputs("usage: jpatch_tool diff FROM TO | apply DOC PATCH\n", stderr);
        return 2;
    }
    if ((rc = load(&a, argv[2])) != 0 || (rc = load(&b, argv[3])) != 0)
        goto done;
    status = 1;
    if (argv[1][0] == 'd')
        rc = jpatch_diff(&res, a, b);
    else
        rc = jpatch_apply(&res, a, b);
    if (rc != 0)
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
