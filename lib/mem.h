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

/* Fault injection (tests only). Thread-safe counters. */
void mem_fail_set(long nth);
long mem_fail_hits(void); /* allocations refused since the last set */

#endif
