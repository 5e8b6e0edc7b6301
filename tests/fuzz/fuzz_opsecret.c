/* fuzz_opsecret.c: the operator's parsers of what it reads from the API
 * server never crash or leak. The first byte picks the parser, the rest is
 * its input: base64 decode (Secret data) + re-encode, RFC 3339 time parse
 * (annotations), the slim projection of a Secret object (PEM inside), and
 * the mesh-config settings block. */
#include "lib/buf.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/yamljson.h"
#include "operator/op_cert.h"
#include "operator/op_opts.h"
#include "operator/op_util.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
b64(const char *s)
{
    char *o = NULL, *e = NULL;
    size_t l;

    if (op_b64_decode(&o, &l, s, 4096) == 0)
        op_b64_encode(&e, o, l);
    mem_free(e);
    mem_free(o);
}

static void
project(const char *s)
{
    json_t *obj = NULL; /* owned */
    struct buf b;

    if (jutil_parse(&obj, s, strlen(s), NULL) != 0)
        return;
    buf_init(&b, 1 << 20);
    op_secret_project((void *)"mizzen-webhook-certs", obj, &b);
    buf_cleanup(&b);
    json_decref(obj);
}

static void
mesh(const char *s)
{
    json_t *obj = NULL; /* owned */
    struct op_opts o;

    if (op_opts_init(&o) == 0 && yj_load_one(&obj, s, strlen(s), NULL) == 0)
        op_opts_apply_mesh(&o, obj);
    op_opts_cleanup(&o);
    json_decref(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static int init;
    time_t t;
    char *s;

    if (!init) {
        mem_init_jansson();
        init = 1;
    }
    if (n == 0)
        return 0;
    s = mem_strndup((const char *)d + 1, n - 1);
    if (s == NULL)
        return 0;
    switch (d[0] % 4) {
    case 0:
        b64(s);
        break;
    case 1:
        op_time_parse(&t, s);
        break;
    case 2:
        project(s);
        break;
    default:
        mesh(s);
        break;
    }
    mem_free(s);
    return 0;
}
