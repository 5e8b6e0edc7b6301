/* test_mem.c: request arenas (jansson allocations from a thread-local bump
 * arena between mem_arena_begin and mem_arena_end) and fault injection
 * inside them. */
#include "tests/unit/harness.h"
#include "lib/mem.h"

#include <jansson.h>
#include <pthread.h>
#include <string.h>

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

TEST(mem_arena_nested_begin_is_ignored)
{
    mem_arena_begin();
    json_t *a = json_string("a");
    size_t used = mem_arena_used();
    mem_arena_begin(); /* ignored: still the same request */
    CHECK(mem_arena_used() == used);
    json_decref(a);
    mem_arena_end();
    mem_arena_end(); /* harmless */
    /* outside an arena jansson uses malloc: nothing is counted */
    json_t *b = json_string("b");
    CHECK(b != NULL);
    json_decref(b);
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
