/* wh_frag.c: pre-serialized template fragments (see wh_frag.h).
 *
 * An open-addressing table keyed by node address (a power-of-two size at
 * least twice the node count, linear probing), pointing into one text
 * buffer. Built on the loading thread, read-only afterwards. */
#include "webhook/wh_frag.h"
#include "injector/injector.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_json.h"

#include <stdint.h>
#include <string.h>

#define FRAG_MAX_NODES 65536
#define FRAG_MAX_TEXT ((size_t)16 << 20)

struct slot {
    const json_t *key; /* NULL: empty */
    size_t off, len;
};

struct wh_frags {
    size_t mask; /* slots - 1 */
    size_t count;
    struct slot *slots;
    struct buf text;
};

static size_t
hash_ptr(const json_t *v, size_t mask)
{
    uint64_t x = (uint64_t)(uintptr_t)v >> 4;

    x *= 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 32) & mask;
}

static struct slot *
lookup(const struct wh_frags *f, const json_t *v)
{
    size_t i = hash_ptr(v, f->mask);

    for (;; i = (i + 1) & f->mask) {
        struct slot *s = &f->slots[i];
        if (s->key == v || s->key == NULL)
            return s;
    }
}

static int
count_node(const json_t *v, void *arg)
{
    (void)v;
    size_t *n = arg;
    return ++*n > FRAG_MAX_NODES
               ? errmsg_set(RC_LIMIT, "template: over %d shared nodes",
                            FRAG_MAX_NODES)
               : 0;
}

static int
add_node(const json_t *v, void *arg)
{
    struct wh_frags *f = arg;
    struct slot *s = lookup(f, v);
    size_t off = f->text.len;
    int rc;

    if (s->key != NULL)
        return 0; /* reached twice */
    if ((rc = wh_json_write(&f->text, v)) != 0)
        return rc;
    s->key = v;
    s->off = off;
    s->len = f->text.len - off;
    f->count++;
    return 0;
}

static void
frags_free(void *p)
{
    struct wh_frags *f = p;

    if (f == NULL)
        return;
    buf_cleanup(&f->text);
    mem_free(f->slots);
    mem_free(f);
}

int
wh_frags_attach(struct inj_config *cfg)
{
    struct wh_frags *f;
    size_t n = 0, cap = 16;
    int rc;

    if ((rc = inj_config_shared(cfg, count_node, &n)) != 0)
        return rc;
    while (cap < 2 * n)
        cap *= 2;
    f = mem_calloc(1, sizeof(*f));
    if (f == NULL || (f->slots = mem_calloc(cap, sizeof(*f->slots))) == NULL) {
        mem_free(f);
        return errmsg_set(RC_NOMEM, "out of memory for template fragments");
    }
    f->mask = cap - 1;
    buf_init(&f->text, FRAG_MAX_TEXT);
    if ((rc = inj_config_shared(cfg, add_node, f)) != 0) {
        frags_free(f);
        return rc;
    }
    inj_config_attach(cfg, f, frags_free);
    return 0;
}

const struct wh_frags *
wh_frags_of(const struct inj_config *cfg)
{
    return inj_config_attached(cfg);
}

const char *
wh_frags_find(const struct wh_frags *f, const json_t *v, size_t *len)
{
    const struct slot *s;

    if (f == NULL || f->count == 0)
        return NULL;
    s = lookup(f, v);
    if (s->key == NULL)
        return NULL;
    *len = s->len;
    return f->text.ptr + s->off;
}

size_t
wh_frags_count(const struct wh_frags *f)
{
    return f != NULL ? f->count : 0;
}
