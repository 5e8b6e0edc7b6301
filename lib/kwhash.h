/* kwhash.h: an intrusive string-keyed hash table (chained, power-of-two).
 *
 * The caller embeds a struct kwhash_node in its own struct and owns the key
 * string, which must stay valid and unchanged while the node is in a table.
 * The table never allocates per element (memory matters in the informer's
 * store); it only grows its bucket array, and a failed grow is harmless (the
 * table keeps working with longer chains). Not thread-safe: the owner locks. */
#ifndef MZ_KWHASH_H
#define MZ_KWHASH_H

#include <stddef.h>
#include <stdint.h>

struct kwhash_node {
    struct kwhash_node *next;
    const char *key;
    uint32_t hash;
};

struct kwhash {
    struct kwhash_node **tab; /* NULL until the first insert */
    size_t mask;              /* buckets - 1 */
    size_t count;
};

#define KWHASH_ENTRY(ptr, type, member)                                        \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

uint32_t kwhash_str(const char *s);

/* kwhash_init prepares caller storage; cannot fail. */
void kwhash_init(struct kwhash *h);
/* kwhash_cleanup frees the bucket array (not the nodes). */
void kwhash_cleanup(struct kwhash *h);

/* kwhash_find returns the node with this key or NULL. */
struct kwhash_node *kwhash_find(const struct kwhash *h, const char *key);

/* kwhash_insert links n under key (which must not be present yet).
 * 0 or RC_NOMEM (only when the very first bucket array cannot be
 * allocated; the table is then unchanged). */
int kwhash_insert(struct kwhash *h, struct kwhash_node *n, const char *key);

/* kwhash_remove unlinks n (which must be in h); cannot fail. */
void kwhash_remove(struct kwhash *h, struct kwhash_node *n);

/* Iteration: *pos starts at 0; returns NULL at the end. The current node
 * may be removed during iteration; other changes invalidate it. */
struct kwhash_node *kwhash_next(const struct kwhash *h, size_t *pos,
                                struct kwhash_node **cur);

#endif
