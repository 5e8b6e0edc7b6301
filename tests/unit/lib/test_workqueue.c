/* test_workqueue.c: de-duplication, per-key serialization, delays, backoff,
 * token bucket and shutdown of the work queue, on a fake clock. */
#include "tests/unit/harness.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "lib/workqueue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static int64_t fake_now;

static int64_t
fake_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

static struct wq *
new_fake(double qps, int burst)
{
    struct wq_opts o = {0};
    struct wq *q = NULL;

    fake_now = 1000;
    o.now_ms = fake_clock;
    o.qps = qps;
    o.burst = burst;
    if (wq_new(&q, &o) != 0)
        return NULL;
    return q;
}

/* get_str returns the next key without waiting, "" when none. */
static char got[256];
static const char *
get_now(struct wq *q)
{
    char *k = NULL;
    int rc = wq_get(q, &k, 0);

    got[0] = 0;
    if (rc == 0) {
        snprintf(got, sizeof(got), "%s", k);
        mem_free(k);
        return got;
    }
    return rc == RC_AGAIN ? "<shutdown>" : "";
}

TEST(wq_dedupes_and_keeps_fifo_order)
{
    struct wq *q = new_fake(-1, 0);

    REQUIRE(q != NULL);
    CHECK_INT(wq_add(q, "ns/a"), 0);
    CHECK_INT(wq_add(q, "ns/b"), 0);
    CHECK_INT(wq_add(q, "ns/a"), 0);
    CHECK_INT(wq_len(q), 2);
    CHECK_STR(get_now(q), "ns/a");
    CHECK_STR(get_now(q), "ns/b");
    CHECK_STR(get_now(q), "");
    wq_done(q, "ns/a");
    wq_done(q, "ns/b");
    wq_free(q);
}

TEST(wq_key_added_while_processing_runs_again_after_done)
{
    struct wq *q = new_fake(-1, 0);

    REQUIRE(q != NULL);
    wq_add(q, "k");
    CHECK_STR(get_now(q), "k");
    /* re-added while processing: not handed to a second worker */
    wq_add(q, "k");
    wq_add(q, "k");
    CHECK_INT(wq_len(q), 0);
    CHECK_STR(get_now(q), "");
    wq_done(q, "k");
    CHECK_INT(wq_len(q), 1);
    CHECK_STR(get_now(q), "k");
    wq_done(q, "k");
    CHECK_STR(get_now(q), "");
    wq_free(q);
}

TEST(wq_add_after_waits_for_clock_and_earliest_wins)
{
    struct wq *q = new_fake(-1, 0);

    REQUIRE(q != NULL);
    CHECK_INT(wq_add_after(q, "late", 500), 0);
    CHECK_INT(wq_add_after(q, "x", 300), 0);
    CHECK_INT(wq_add_after(q, "x", 100), 0); /* earlier: wins */
    CHECK_INT(wq_add_after(q, "x", 900), 0); /* later: ignored */
    CHECK_INT(wq_next_delay_ms(q), 100);
    CHECK_STR(get_now(q), "");
    fake_now += 99;
    CHECK_STR(get_now(q), "");
    fake_now += 1;
    CHECK_STR(get_now(q), "x");
    wq_done(q, "x");
    fake_now += 1000;
    CHECK_STR(get_now(q), "late");
    wq_done(q, "late");
    CHECK_STR(get_now(q), "");
    CHECK_INT(wq_next_delay_ms(q), -1);
    wq_free(q);
}

TEST(wq_rate_limited_backoff_doubles_and_forget_resets)
{
    struct wq *q = new_fake(-1, 0);
    int64_t want[] = {5, 10, 20, 40, 80};

    REQUIRE(q != NULL);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(wq_add_rate_limited(q, "k"), 0);
        CHECK_INT(wq_next_delay_ms(q), want[i]);
        CHECK_INT(wq_num_requeues(q, "k"), i + 1);
        fake_now += want[i];
        CHECK_STR(get_now(q), "k");
        wq_done(q, "k");
    }
    wq_forget(q, "k");
    CHECK_INT(wq_num_requeues(q, "k"), 0);
    wq_add_rate_limited(q, "k");
    CHECK_INT(wq_next_delay_ms(q), 5);
    wq_free(q);
}

TEST(wq_backoff_is_capped)
{
    struct wq_opts o = {0};
    struct wq *q = NULL;

    fake_now = 0;
    o.now_ms = fake_clock;
    o.qps = -1;
    o.base_delay_ms = 5;
    o.max_delay_ms = 1000 * 1000;
    REQUIRE(wq_new(&q, &o) == 0);
    for (int i = 0; i < 40; i++) {
        wq_add_rate_limited(q, "k");
        fake_now += 2000 * 1000;
        CHECK_STR(get_now(q), "k");
        wq_done(q, "k");
    }
    wq_add_rate_limited(q, "k");
    CHECK_INT(wq_next_delay_ms(q), 1000 * 1000);
    wq_free(q);
}

TEST(wq_token_bucket_spreads_bursts)
{
    struct wq *q = new_fake(10, 3); /* 10/s, burst 3 */
    char key[16];

    REQUIRE(q != NULL);
    /* 3 keys within the burst go after the per-key 5 ms; the 4th waits
     * for a token: 100 ms at 10/s; the 5th 200 ms. */
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        wq_add_rate_limited(q, key);
    }
    fake_now += 5;
    CHECK_INT(wq_len(q), 3);
    fake_now += 94;
    CHECK_INT(wq_len(q), 3);
    fake_now += 1;
    CHECK_INT(wq_len(q), 4);
    fake_now += 100;
    CHECK_INT(wq_len(q), 5);
    wq_free(q);
}

TEST(wq_shutdown_drains_then_says_again)
{
    struct wq *q = new_fake(-1, 0);

    REQUIRE(q != NULL);
    wq_add(q, "a");
    wq_add_after(q, "delayed", 10);
    wq_shutdown(q);
    CHECK_INT(wq_add(q, "b"), RC_AGAIN);
    CHECK_STR(get_now(q), "a");
    wq_done(q, "a");
    fake_now += 100;
    CHECK_STR(get_now(q), "<shutdown>");
    CHECK(wq_shutting_down(q));
    wq_free(q);
}

TEST(wq_add_nomem_leaves_queue_unchanged)
{
    struct wq *q = new_fake(-1, 0);

    REQUIRE(q != NULL);
    wq_add(q, "a");
    mem_fail_set(1);
    CHECK_INT(wq_add(q, "b"), RC_NOMEM);
    CHECK_INT(wq_add_after(q, "c", 10), RC_NOMEM);
    mem_fail_set(0);
    CHECK_INT(wq_len(q), 1);
    CHECK_STR(get_now(q), "a");
    wq_done(q, "a");
    wq_free(q);
}

/* Real clock, several workers: every key processed, never concurrently. */
struct mt {
    struct wq *q;
    atomic_int busy[8];
    atomic_int runs[8];
    atomic_int overlap;
};

static void *
worker(void *arg)
{
    struct mt *m = arg;
    char *k;

    while (wq_get(m->q, &k, -1) == 0) {
        int i = k[1] - '0';
        if (atomic_fetch_add(&m->busy[i], 1) != 0)
            atomic_fetch_add(&m->overlap, 1);
        usleep(200);
        atomic_fetch_sub(&m->busy[i], 1);
        atomic_fetch_add(&m->runs[i], 1);
        wq_done(m->q, k);
        mem_free(k);
    }
    return NULL;
}

TEST(wq_workers_never_process_a_key_concurrently)
{
    struct mt m;
    pthread_t th[4];
    char key[4];

    memset(&m, 0, sizeof(m));
    REQUIRE(wq_new(&m.q, NULL) == 0);
    for (int t = 0; t < 4; t++)
        pthread_create(&th[t], NULL, worker, &m);
    for (int r = 0; r < 300; r++) {
        snprintf(key, sizeof(key), "k%d", r % 8);
        wq_add(m.q, key);
        if (r % 7 == 0)
            usleep(100);
    }
    usleep(50000);
    wq_shutdown(m.q);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    CHECK_INT(atomic_load(&m.overlap), 0);
    for (int i = 0; i < 8; i++)
        CHECK(atomic_load(&m.runs[i]) >= 1);
    wq_free(m.q);
}

TEST(wq_get_times_out_and_wakes_for_delayed)
{
    struct wq *q = NULL;
    char *k = NULL;

    REQUIRE(wq_new(&q, NULL) == 0);
    CHECK_INT(wq_get(q, &k, 20), RC_TIMEOUT);
    CHECK(k == NULL);
    wq_add_after(q, "soon", 30);
    CHECK_INT(wq_get(q, &k, 2000), 0);
    CHECK_STR(k, "soon");
    mem_free(k);
    wq_done(q, "soon");
    wq_free(q);
}
