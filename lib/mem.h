/* mem.h: the project's allocator, with a fault-injection hook for tests.
 *
 * All project code allocates through mem_*; jansson is pointed at the same
 * functions by mem_init_jansson. Tests call mem_fail_set(n) to make the n-th
 * allocation from now on (1-based) and every later one fail, which drives the
 * error paths of parsers and builders. mem_fail_set(0) turns that off. */
#ifndef MZ_MEM_H
#define MZ_MEM_H

#include <stddef.h>

void *mem_alloc(size_t n); /* NULL on failure */
void *mem_calloc(size_t nmemb, size_t n);
void *mem_realloc(void *p, size_t n);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
void mem_free(void *p); /* mem_free(NULL) is a no-op */

/* mem_init_jansson routes jansson's allocations through mem_alloc/mem_free.
 * Call once at start-up, before any json_t exists. */
void mem_init_jansson(void);

/* mem_oom_reset/mem_oom_seen: a thread-local flag raised whenever an
 * allocation on this thread fails. Dependencies that do not report memory
 * exhaustion distinctly (jansson's parser) are checked through it. */
void mem_oom_reset(void);
int mem_oom_seen(void);

/* Request arenas. Between mem_arena_begin() and mem_arena_end() on one
 * thread, jansson's allocations on that thread come from a thread-local
 * bump arena and jansson's frees of them cost nothing; the outermost
 * mem_arena_end() releases all of it at once (and keeps the first block
 * for the next request). Calls nest: only the outermost pair counts. For
 * request paths whose JSON all dies with the request: no json_t allocated
 * inside may be referenced after mem_arena_end(), and no object made
 * outside may grow inside (its new memory would come from the arena).
 * Only jansson's allocations use the arena; mem_alloc and friends do not,
 * and mem_free (the jansson free function too) tells arena memory apart
 * by address. Past MEM_ARENA_MAX bytes in one request, allocations fall
 * back to malloc. Under AddressSanitizer every piece has a poisoned header
 * and red zone and is poisoned when freed. */
#define MEM_ARENA_FIRST ((size_t)256 << 10)
#define MEM_ARENA_MAX ((size_t)64 << 20)
void mem_arena_begin(void);
void mem_arena_end(void);
/* mem_arena_used: bytes handed out since mem_arena_begin (tests, bench). */
size_t mem_arena_used(void);
/* mem_arena_leaks: jansson allocations that were never freed before their
 * arena ended (what LeakSanitizer would report with malloc), all threads
 * since start. Under AddressSanitizer such a leak aborts at
 * mem_arena_end with a message instead. */
long mem_arena_leaks(void);

/* Fault injection (tests only). Thread-safe counters. */
void mem_fail_set(long nth);
long mem_fail_hits(void); /* allocations refused since the last set */

#endif
