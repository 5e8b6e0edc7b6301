/* test_mem.c: request arenas (jansson allocations from a thread-local bump
 * arena between mem_arena_begin and mem_arena_end) and fault injection
 * inside them. */
#include "tests/unit/harness.h"
#include "lib/mem.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(mem_arena_serves_jansson_and_rewinds)
{
    json_t *outside = json_pack("{s:s}", "kept", "value");
    json_t *o;

    REQUIRE(outside != NULL);
    mem_arena_begin();
    CHECK(mem_arena_used() == 0);
    o = json_pack("{s:[i,i,s]}", "a", 1, 2, "three");
    REQUIRE(o != NULL);
    CHECK(mem_arena_used() > 0);
    /* objects made before the arena live on and can be shared in */
    CHECK(json_object_set(o, "outside", outside) == 0);
    CHECK(json_integer_value(json_array_get(json_object_get(o, "a"), 1)) == 2);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    REQUIRE(s != NULL);
    CHECK_STR(s, "{\"a\":[1,2,\"three\"],\"outside\":{\"kept\":\"value\"}}");
    mem_free(s); /* arena memory: a no-op */
    json_decref(o);
    CHECK(outside->refcount == 1); /* the shared object was released */
    mem_arena_end();
    /* the object made outside is intact and freed by free() */
    CHECK_STR(json_string_value(json_object_get(outside, "kept")), "value");
    json_decref(outside);
    /* the next request starts again at 0 */
    mem_arena_begin();
    CHECK(mem_arena_used() == 0);
    o = json_string("x");
    CHECK(mem_arena_used() > 0);
    json_decref(o);
    mem_arena_end();
}

TEST(mem_arena_grows_past_the_first_block)
{
    json_t *a;
    size_t i;

    mem_arena_begin();
    a = json_array();
    REQUIRE(a != NULL);
    /* well over MEM_ARENA_FIRST: new, larger blocks */
    for (i = 0; i < 20000; i++)
        REQUIRE(json_array_append_new(a, json_string("some string value")) ==
                0);
    CHECK(mem_arena_used() > MEM_ARENA_FIRST);
    CHECK_STR(json_string_value(json_array_get(a, 19999)), "some string value");
    json_decref(a);
    mem_arena_end();
    /* one allocation larger than a doubled block also fits */
    size_t n = MEM_ARENA_FIRST * 3;
    char *p = mem_alloc(n); /* mem_alloc never uses the arena */
    REQUIRE(p != NULL);
    memset(p, 'x', n);
    mem_arena_begin();
    json_t *big = json_stringn_nocheck(p, n);
    REQUIRE(big != NULL);
    CHECK(mem_arena_used() >= n);
    CHECK(json_string_length(big) == n && json_string_value(big)[n - 1] == 'x');
    json_decref(big);
    mem_arena_end();
    mem_free(p);
}

TEST(mem_arena_keeps_fault_injection)
{
    mem_arena_begin();
    mem_fail_set(1);
    CHECK(json_object() == NULL);
    CHECK(mem_fail_hits() == 1);
    mem_fail_set(0);
    json_t *o = json_object();
    CHECK(o != NULL);
    json_decref(o);
    mem_arena_end();
}

TEST(mem_arena_nests)
{
    mem_arena_begin();
    json_t *a = json_string("a");
    size_t used = mem_arena_used();
    mem_arena_begin(); /* an inner pair: the same arena */
    json_t *b = json_string("b");
    CHECK(mem_arena_used() > used);
    json_decref(b);
    mem_arena_end(); /* inner end: nothing is released */
    CHECK(mem_arena_used() > used);
    CHECK_STR(json_string_value(a), "a"); /* still usable */
    json_decref(a);
    mem_arena_end();
    mem_arena_end(); /* an extra end is harmless */
    /* outside an arena jansson uses malloc */
    mem_arena_begin();
    mem_arena_end();
    json_t *c = json_string("c");
    CHECK(c != NULL && mem_arena_used() == 0);
    json_decref(c);
}

static void *
thread_main(void *arg)
{
    (void)arg;
    mem_arena_begin();
    json_t *o = json_pack("{s:i}", "n", 7);
    int ok = o != NULL && json_integer_value(json_object_get(o, "n")) == 7;
    json_decref(o);
    mem_arena_end();
    /* the thread's block is freed at exit (LeakSanitizer checks) */
    return ok ? arg : NULL;
}

TEST(mem_arena_per_thread)
{
    pthread_t t[2];
    void *r[2];
    int one = 1;

    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&t[i], NULL, thread_main, &one) == 0);
    for (int i = 0; i < 2; i++) {
        REQUIRE(pthread_join(t[i], &r[i]) == 0);
        CHECK(r[i] == &one);
    }
}

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

#ifdef TEST_ASAN
/* in_child runs a bad access in a child (stderr to /dev/null): 1 when
 * AddressSanitizer stopped it, 0 when it ran through */
static int
in_child(int what)
{
    pid_t pid = fork();
    int st = 0;

    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        mem_arena_begin();
        json_t *s = json_string("hello world");
        volatile char *v = (volatile char *)json_string_value(s);
        if (what == 0)
            v[30] = 'x'; /* past the piece: its red zone */
        json_decref(s);
        if (what == 1)
            (void)v[0]; /* freed inside the request */
        mem_arena_end();
        if (what == 2)
            (void)v[0]; /* after the request */
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* the arena keeps what AddressSanitizer sees with malloc */
TEST(mem_arena_asan_reports_overflow_and_use_after_free)
{
    CHECK(in_child(0) == 1);
    CHECK(in_child(1) == 1);
    CHECK(in_child(2) == 1);
    CHECK(in_child(3) == 0); /* no bad access: runs through */
}
#endif

/* a json_t never freed before its arena ends is counted (and under ASan
 * stops the process, as LeakSanitizer would have reported it) */
TEST(mem_arena_counts_leaks)
{
    pid_t pid = fork();
    int st = 0;

    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        long before = mem_arena_leaks();
        dup2(fd, 2);
        mem_arena_begin();
        json_t *kept = json_pack("{s:i}", "a", 1); /* 3 pieces, never freed */
        json_t *freed = json_string("b");
        json_decref(freed);
        (void)kept;
        mem_arena_end();
        _exit(mem_arena_leaks() - before >= 1 ? 3 : 4);
    }
    REQUIRE(pid > 0 && waitpid(pid, &st, 0) == pid);
#ifdef TEST_ASAN
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
#else
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
#endif
    /* a request that frees everything counts nothing */
    long before = mem_arena_leaks();
    mem_arena_begin();
    json_t *o = json_pack("{s:[i,s]}", "x", 1, "y");
    json_decref(o);
    mem_arena_end();
    CHECK(mem_arena_leaks() == before);
}
