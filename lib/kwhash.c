/* kwhash.c: intrusive string hash table (see kwhash.h). FNV-1a hashing;
 * the bucket array doubles when the load passes 1. */
#include "lib/kwhash.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <string.h>

uint32_t
kwhash_str(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

void
kwhash_init(struct kwhash *h)
{
    h->tab = NULL;
    h->mask = 0;
    h->count = 0;
}

void
kwhash_cleanup(struct kwhash *h)
{
    mem_free(h->tab);
    kwhash_init(h);
}

struct kwhash_node *
kwhash_find(const struct kwhash *h, const char *key)
{
    uint32_t hv;

    if (h->tab == NULL)
        return NULL;
    hv = kwhash_str(key);
    for (struct kwhash_node *n = h->tab[hv & h->mask]; n; n = n->next)
        if (n->hash == hv && strcmp(n->key, key) == 0)
            return n;
    return NULL;
}

static void
grow(struct kwhash *h)
{
    size_t nb = (h->mask + 1) * 2;
    struct kwhash_node **t = mem_calloc(nb, sizeof(*t));

    if (t == NULL)
        return; /* keep the old array: longer chains, still correct */
    for (size_t i = 0; i <= h->mask; i++) {
        struct kwhash_node *n = h->tab[i], *next;
        for (; n; n = next) {
            next = n->next;
            n->next = t[n->hash & (nb - 1)];
            t[n->hash & (nb - 1)] = n;
        }
    }
    mem_free(h->tab);
    h->tab = t;
    h->mask = nb - 1;
}

int
kwhash_insert(struct kwhash *h, struct kwhash_node *n, const char *key)
{
    if (h->tab == NULL) {
        h->tab = mem_calloc(16, sizeof(*h->tab));
        if (h->tab == NULL)
            return RC_NOMEM;
        h->mask = 15;
    }
    if (h->count > h->mask)
        grow(h);
    n->key = key;
    n->hash = kwhash_str(key);
    n->next = h->tab[n->hash & h->mask];
    h->tab[n->hash & h->mask] = n;
    h->count++;
    return 0;
}

void
kwhash_remove(struct kwhash *h, struct kwhash_node *n)
{
    struct kwhash_node **pp = &h->tab[n->hash & h->mask];

    while (*pp && *pp != n)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = n->next;
        n->next = NULL;
        h->count--;
    }
}

struct kwhash_node *
kwhash_next(const struct kwhash *h, size_t *pos, struct kwhash_node **cur)
{
    /* *cur holds the node to return next within bucket *pos - 1, so that
     * removing the returned node does not break the walk. */
    if (h->tab == NULL)
        return NULL;
    while (*cur == NULL) {
        if (*pos > h->mask)
            return NULL;
        *cur = h->tab[(*pos)++];
    }
    struct kwhash_node *n = *cur;
    *cur = n->next;
    return n;
}
