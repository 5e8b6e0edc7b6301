/* fuzz_watchline.c: a watch stream, cut into chunks of fuzzer-chosen sizes,
 * through the line splitter (4 KiB cap) and the event parser, both whole
 * and with a selection. Oracle: whenever the whole parse succeeds, the
 * selective parse succeeds with the same type, resourceVersion and values
 * at every selected path; the lines seen do not depend on the chunking. */
#include "lib/buf.h"
#include "lib/jsel.h"
#include "lib/jutil.h"
#include "lib/kubewatch.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {
    "metadata.name", "metadata.labels", "spec.serviceAccountName",
    "status.podIP",  "a.b.c",           NULL};
static const char *const full_paths[] = {"metadata.name",
                                         "metadata.labels",
                                         "spec.serviceAccountName",
                                         "status.podIP",
                                         "a.b.c",
                                         "metadata.resourceVersion",
                                         NULL};

struct ctx {
    struct jsel *sel;
    struct buf seen; /* lengths and first bytes of delivered lines */
};

static int
on_line(void *ud, const char *line, size_t n)
{
    struct ctx *c = ud;
    struct kube_watch_event whole, part;
    int rw, rp;

    buf_addf(&c->seen, "%zu:%02x|", n, (unsigned)(unsigned char)line[0]);
    rw = kube_watch_event_parse(&whole, line, n, NULL, 32);
    rp = kube_watch_event_parse(&part, line, n, c->sel, 32);
    if (rw == 0) {
        assert(rp == 0);
        assert(whole.type == part.type);
        assert((whole.rv == NULL) == (part.rv == NULL));
        assert(whole.rv == NULL || strcmp(whole.rv, part.rv) == 0);
        assert(whole.gone == part.gone && whole.code == part.code);
        if (whole.type != KUBE_WATCH_ERROR)
            for (int i = 0; full_paths[i]; i++)
                assert(json_equal(jutil_path(whole.object, full_paths[i]),
                                  jutil_path(part.object, full_paths[i])) ||
                       (jutil_path(whole.object, full_paths[i]) == NULL &&
                        jutil_path(part.object, full_paths[i]) == NULL));
    }
    if (rw == 0)
        kube_watch_event_cleanup(&whole);
    if (rp == 0)
        kube_watch_event_cleanup(&part);
    return 0;
}

static void
run(struct ctx *c, const uint8_t *p, size_t n, const uint8_t *sizes,
    size_t nsizes)
{
    struct kube_watch_lines l;
    size_t off = 0, i = 0;

    kube_watch_lines_init(&l, 4096);
    while (off < n) {
        size_t k = nsizes ? (size_t)sizes[i++ % nsizes] + 1 : n;
        if (k > n - off)
            k = n - off;
        if (kube_watch_lines_feed(&l, (const char *)p + off, k, on_line, c) !=
            0)
            break;
        off += k;
    }
    kube_watch_lines_cleanup(&l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctx c;
    size_t nsizes;
    char *one;

    if (size < 1)
        return 0;
    nsizes = data[0] % 8; /* the next nsizes bytes are chunk sizes */
    if (size < 1 + nsizes)
        return 0;
    memset(&c, 0, sizeof(c));
    if (kube_watch_select_new(&c.sel, paths) != 0)
        return 0;
    buf_init(&c.seen, 0);
    run(&c, data + 1 + nsizes, size - 1 - nsizes, data + 1, nsizes);
    one = buf_take(&c.seen, NULL);
    /* the same bytes in one chunk see the same lines (unless the cap
     * stopped either run early, which depends only on the bytes) */
    run(&c, data + 1 + nsizes, size - 1 - nsizes, NULL, 0);
    assert(one != NULL && c.seen.ptr != NULL ? strcmp(one, c.seen.ptr) == 0
                                             : 1);
    mem_free(one);
    buf_cleanup(&c.seen);
    jsel_free(c.sel);
    return 0;
}
