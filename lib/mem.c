/* mem.c: allocator wrappers with fault injection (see mem.h). */
#include "lib/mem.h"
#include "lib/asan.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown; /* 0 = off; 1 = fail next and after */
static atomic_long fail_hits;
static _Thread_local int oom_seen;

static int
should_fail(void)
{
    long v = atomic_load(&fail_countdown);

    if (v == 0)
        return 0;
    if (v == 1) {
        atomic_fetch_add(&fail_hits, 1);
        oom_seen = 1;
        return 1;
    }
    atomic_fetch_sub(&fail_countdown, 1);
    return 0;
}

static void *
seen(void *p)
{
    if (p == NULL)
        oom_seen = 1;
    return p;
}

void *
mem_alloc(size_t n)
{
    if (should_fail())
        return NULL;
    return seen(malloc(n ? n : 1));
}

void *
mem_calloc(size_t nmemb, size_t n)
{
    if (should_fail())
        return NULL;
    return seen(calloc(nmemb ? nmemb : 1, n ? n : 1));
}

void *
mem_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return seen(realloc(p, n ? n : 1));
}

void
mem_oom_reset(void)
{
    oom_seen = 0;
}

int
mem_oom_seen(void)
{
    return oom_seen;
}

char *
mem_strndup(const char *s, size_t n)
{
    char *d = mem_alloc(n + 1);

    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
mem_strdup(const char *s)
{
    return mem_strndup(s, strlen(s));
}

/* ---- request arenas (see mem.h) ---------------------------------------
 *
 * A thread's arena is a list of blocks, newest first; each hands out
 * 16-byte aligned pieces from its start. Blocks double in size. At the
 * outermost mem_arena_end every block but the oldest (MEM_ARENA_FIRST
 * bytes) is freed and the oldest is rewound. A thread's blocks are freed
 * when it exits (a pthread key destructor).
 *
 * Under AddressSanitizer (MZ_ASAN, lib/asan.h) every piece gets a 16-byte
 * header holding its size and a 16-byte red zone after it, both poisoned,
 * and a free poisons the piece:
 * overflows and uses after free inside a request are reported as they are
 * with malloc, and the whole arena is poisoned when it is rewound. */

#ifdef MZ_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define ARENA_HDR ((size_t)16) /* size header before each piece */
#define ARENA_RED ((size_t)16) /* red zone after each piece */
#else
#define ARENA_POISON(p, n) ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#define ARENA_HDR ((size_t)0)
#define ARENA_RED ((size_t)0)
#endif

struct ablock {
    struct ablock *next; /* older */
    size_t size, used;   /* of data[] */
    _Alignas(16) unsigned char data[];
};

struct arena {
    struct ablock *head;
    size_t total; /* bytes of blocks */
    size_t used;  /* handed out since begin */
    long live;    /* pieces handed out and not freed since begin */
    int depth;    /* mem_arena_begin nesting; on while > 0 */
};

static atomic_long arena_leaks; /* pieces never freed, all threads */

static _Thread_local struct arena A;
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void
arena_release(void *unused)
{
    struct ablock *b = A.head, *n;

    (void)unused;
    for (; b != NULL; b = n) {
        n = b->next;
        free(b);
    }
    memset(&A, 0, sizeof(A));
}

static void
arena_key_init(void)
{
    (void)pthread_key_create(&arena_key, arena_release);
}

static int
in_arena(const void *p)
{
    uintptr_t u = (uintptr_t)p;

    for (const struct ablock *b = A.head; b != NULL; b = b->next)
        if (u >= (uintptr_t)b->data && u < (uintptr_t)b->data + b->size)
            return 1;
    return 0;
}

/* bump takes r bytes (a multiple of 16, room checked) from block b */
static inline unsigned char *
bump(struct ablock *b, size_t r)
{
    unsigned char *p = b->data + b->used;

    b->used += r;
    A.used += r;
    A.live++;
    return p;
}

/* arena_alloc: n (at most MEM_ARENA_MAX) bytes from the arena, or NULL
 * (the arena is full or a block could not be had: the caller uses
 * malloc). */
static void *
arena_alloc(size_t n)
{
    struct ablock *b = A.head;
    size_t r = ARENA_HDR + ((n + 15) & ~(size_t)15) + ARENA_RED;
    unsigned char *p;

    if (b == NULL || b->size - b->used < r) {
        size_t sz = b != NULL ? b->size * 2 : MEM_ARENA_FIRST;
        while (sz < r)
            sz *= 2;
        if (A.total + sz > MEM_ARENA_MAX)
            return NULL;
        b = malloc(sizeof(*b) + sz);
        if (b == NULL)
            return NULL;
        if (A.head == NULL) /* the thread's first block: free it at exit */
            (void)pthread_setspecific(arena_key, &A);
        b->next = A.head;
        b->size = sz;
        b->used = 0;
        ARENA_POISON(b->data, sz);
        A.head = b;
        A.total += sz;
    }
    p = bump(b, r);
#ifdef MZ_ASAN
    /* the size goes in the (poisoned) header for mem_free */
    ARENA_UNPOISON(p, sizeof(n));
    memcpy(p, &n, sizeof(n));
    ARENA_POISON(p, sizeof(n));
#endif
    ARENA_UNPOISON(p + ARENA_HDR, n);
    return p + ARENA_HDR;
}

void
mem_arena_begin(void)
{
    pthread_once(&arena_once, arena_key_init);
    if (A.depth++ == 0) {
        A.used = 0;
        A.live = 0;
    }
}

void
mem_arena_end(void)
{
    struct ablock *b, *n;

    if (A.depth == 0 || --A.depth > 0)
        return;
    /* what LeakSanitizer would have reported with malloc */
    if (A.live != 0) {
        atomic_fetch_add(&arena_leaks, A.live);
#ifdef MZ_ASAN
        fprintf(stderr,
                "mem: %ld jansson allocation(s) of a request arena "
                "were never freed\n",
                A.live);
        abort();
#endif
    }
    /* keep the oldest block (the smallest), free the others */
    for (b = A.head; b != NULL && b->next != NULL; b = n) {
        n = b->next;
        A.total -= b->size;
        free(b);
    }
    A.head = b;
    if (b != NULL) {
        b->used = 0;
        ARENA_POISON(b->data, b->size);
    }
}

size_t
mem_arena_used(void)
{
    return A.used;
}

long
mem_arena_leaks(void)
{
    return atomic_load(&arena_leaks);
}

void
mem_free(void *p)
{
    if (p != NULL && A.head != NULL && in_arena(p)) {
        A.live--;
#ifdef MZ_ASAN
        /* released with the arena; poisoned now so a later use shows */
        size_t n;
        unsigned char *h = (unsigned char *)p - ARENA_HDR;
        ARENA_UNPOISON(h, sizeof(n));
        memcpy(&n, h, sizeof(n));
        ARENA_POISON(h, sizeof(n));
        ARENA_POISON(p, n);
#endif
        return;
    }
    free(p);
}

/* jansson_slow: everything but a bump in the current block (kept out of
 * line so that the common case below saves no registers) */
static __attribute__((noinline)) void *
jansson_slow(size_t n)
{
    if (A.depth > 0 && n <= MEM_ARENA_MAX) {
        void *p;
        if (atomic_load_explicit(&fail_countdown, memory_order_relaxed) != 0 &&
            should_fail())
            return NULL;
        if ((p = arena_alloc(n ? n : 1)) != NULL)
            return p;
        return seen(malloc(n ? n : 1)); /* should_fail was asked above */
    }
    return mem_alloc(n);
}

static void *
jansson_alloc(size_t n)
{
#ifndef MZ_ASAN
    /* the common case inline: in an arena, room in the current block, no
     * fault injection armed */
    struct ablock *b = A.head;
    size_t r = (n + 15) & ~(size_t)15;

    if (A.depth > 0 && b != NULL && r != 0 && b->size - b->used >= r &&
        atomic_load_explicit(&fail_countdown, memory_order_relaxed) == 0)
        return bump(b, r);
#endif
    return jansson_slow(n);
}

void
mem_init_jansson(void)
{
    json_set_alloc_funcs(jansson_alloc, mem_free);
}

void
mem_fail_set(long nth)
{
    atomic_store(&fail_hits, 0);
    atomic_store(&fail_countdown, nth);
}

long
mem_fail_hits(void)
{
    return atomic_load(&fail_hits);
}
