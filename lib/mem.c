/* mem.c: allocator wrappers with fault injection (see mem.h). */
#include "lib/mem.h"

#include <jansson.h>
#include <stdatomic.h>
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

void
mem_free(void *p)
{
    free(p);
}

static void *
jansson_alloc(size_t n)
{
    return mem_alloc(n);
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
