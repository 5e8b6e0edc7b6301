/* infpriv.h: the informer's private structures, shared by informer.c (the
 * store) and infrun.c (the list/watch thread). Not for other modules. */
#ifndef MZ_INFPRIV_H
#define MZ_INFPRIV_H

#include "lib/buf.h"
#include "lib/informer.h"
#include "lib/kwhash.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct inf_idx_bucket;

/* One object's membership in one index bucket. */
struct inf_idx_link {
    struct inf_idx_link *prev, *next; /* in the bucket */
    struct inf_idx_link *onext;       /* the object's other links */
    struct inf_idx_bucket *b;
    struct inf_obj *obj;
    int ix; /* index number */
};

struct inf_idx_bucket {
    struct kwhash_node node; /* key = value */
    struct inf_idx_link *head;
    size_t n;
    char value[];
};

struct inf_index {
    char *name;
    inf_index_fn fn;
    void *ud;
    struct kwhash buckets;
};

/* A slim object: one allocation. data = "ns/name\0" (the key; the name is
 * its tail) "ns\0" "uid\0" "rv\0" labels ("k\0v\0" x nlabels) then the
 * projection's blob. Offsets are from data. Only node, gen and links
 * change after creation (under the write lock). */
struct inf_obj {
    struct kwhash_node node;
    struct inf_idx_link *links;
    atomic_int refs;
    uint32_t gen;
    uint32_t size;
    uint32_t blob_len;
    uint16_t name_off, ns_off, uid_off, rv_off, labels_off, nlabels;
    uint32_t blob_off;
    uint8_t deleting;
    char data[];
};

struct informer {
    struct inf_opts o; /* strings owned (ns, selectors); paths unused */
    struct inf_handlers h;
    struct jsel *sel;
    pthread_mutex_t mu;  /* writers and handler calls */
    pthread_rwlock_t rw; /* the store */
    struct kwhash objs;
    struct inf_index *index;
    int nindex;
    uint32_t gen; /* relist generation */
    size_t bytes;
    struct buf blob; /* projection scratch, under mu */
    struct inf_stats st;

    /* infrun.c: under run_mu */
    pthread_mutex_t run_mu;
    pthread_cond_t run_cond;
    pthread_t thread;
    int running, stopping, need_list, synced, relisting;
    uint64_t watch_id;
    char *list_rv;
    struct kube_client *client;
    struct kube_watch_loop *loop;
    uint64_t rng;
};

void infrun_init(struct informer *inf);
void infrun_cleanup(struct informer *inf);
void infrun_mark_synced(struct informer *inf);

#endif
