/* test_ag_certwatch.c: the certificate watch against real inotify events
 * in a scratch directory, with the clock passed in by hand (so the
 * debounce is deterministic): the kubelet's ..data swap is one change, the
 * same bytes again are none, a burst is one. */
#include "tests/unit/harness.h"
#include "agent/ag_certwatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* publish: what the kubelet's atomic writer does for a Secret volume */
static void
publish(const char *dir, int gen, const char *content)
{
    static const char *const names[] = {"cert-chain.pem", "key.pem",
                                        "root-cert.pem"};
    char d[512], p[600], tmp[600], data[600], link[600];

    snprintf(d, sizeof d, "%s/..gen%d", dir, gen);
    mkdir(d, 0755);
    for (int i = 0; i < 3; i++) {
        char text[256];

        snprintf(p, sizeof p, "%s/%s", d, names[i]);
        snprintf(text, sizeof text, "%s %s\n", names[i], content);
        write_file(p, text);
    }
    snprintf(tmp, sizeof tmp, "%s/..data_tmp", dir);
    snprintf(data, sizeof data, "%s/..data", dir);
    snprintf(p, sizeof p, "..gen%d", gen);
    unlink(tmp);
    if (symlink(p, tmp) != 0 || rename(tmp, data) != 0)
        harness_fail(__FILE__, __LINE__, "cannot publish");
    for (int i = 0; i < 3; i++) {
        char target[300];

        snprintf(link, sizeof link, "%s/%s", dir, names[i]);
        snprintf(target, sizeof target, "..data/%s", names[i]);
        if (access(link, F_OK) != 0 && symlink(target, link) != 0)
            harness_fail(__FILE__, __LINE__, "cannot link");
    }
}

TEST(ag_certwatch_kubelet_swap)
{
    char dir[512];
    struct ag_certwatch w;
    uint64_t h0;

    snprintf(dir, sizeof dir, "%s/certs", harness_tmpdir());
    mkdir(dir, 0755);
    publish(dir, 1, "one");
    REQUIRE(ag_certwatch_init(&w, dir, 200, 1000) == 0);
    CHECK_INT(w.complete, 1);
    CHECK(w.wd >= 0);
    h0 = w.hash;
    CHECK(ag_certwatch_deadline(&w) == 0);

    /* a real change: one report, only after the debounce */
    publish(dir, 2, "two");
    ag_certwatch_on_readable(&w, 1000);
    CHECK(ag_certwatch_deadline(&w) == 1200);
    CHECK_INT(ag_certwatch_tick(&w, 1199), 0);
    CHECK_INT(ag_certwatch_tick(&w, 1200), 1);
    CHECK(w.hash != h0);
    CHECK_INT(ag_certwatch_tick(&w, 5000), 0); /* reported once */

    /* the same bytes in a new generation: no change */
    publish(dir, 3, "two");
    ag_certwatch_on_readable(&w, 6000);
    CHECK(ag_certwatch_deadline(&w) == 6200);
    CHECK_INT(ag_certwatch_tick(&w, 6300), 0);

    /* a burst: events keep pushing the deadline; one report */
    publish(dir, 4, "three");
    ag_certwatch_on_readable(&w, 7000);
    publish(dir, 5, "four");
    ag_certwatch_on_readable(&w, 7150);
    CHECK_INT(ag_certwatch_tick(&w, 7250), 0);
    CHECK_INT(ag_certwatch_tick(&w, 7350), 1);
    CHECK_INT(ag_certwatch_tick(&w, 9000), 0);

    /* nothing happened: reading yields no deadline */
    ag_certwatch_on_readable(&w, 10000);
    CHECK(ag_certwatch_deadline(&w) == 0);
    ag_certwatch_cleanup(&w);
}

TEST(ag_certwatch_missing_dir_then_created)
{
    char dir[512], p[600];
    struct ag_certwatch w;

    snprintf(dir, sizeof dir, "%s/later", harness_tmpdir());
    REQUIRE(ag_certwatch_init(&w, dir, 100, 1000) == 0);
    CHECK_INT(w.complete, 0);
    CHECK(w.wd < 0);
    CHECK(ag_certwatch_deadline(&w) == 2000); /* retry in a second */
    mkdir(dir, 0755);
    publish(dir, 1, "x");
    CHECK_INT(ag_certwatch_tick(&w, 2000), 1); /* watch added, hashed */
    CHECK_INT(w.complete, 1);
    /* a file goes empty: a change, and incomplete */
    snprintf(p, sizeof p, "%s/..gen1/key.pem", dir);
    write_file(p, "");
    ag_certwatch_on_readable(&w, 3000); /* the watch is on dir only */
    CHECK_INT(ag_certwatch_tick(&w, 3200), 0);
    publish(dir, 2, "y");
    write_file(p, "");
    ag_certwatch_on_readable(&w, 4000);
    CHECK_INT(ag_certwatch_tick(&w, 4100), 1);
    CHECK_INT(w.complete, 1);
    ag_certwatch_cleanup(&w);
}

TEST(ag_cert_hash_content_not_names)
{
    char a[512], b[512];
    uint64_t ha, hb;
    int ca, cb;

    snprintf(a, sizeof a, "%s/ha", harness_tmpdir());
    snprintf(b, sizeof b, "%s/hb", harness_tmpdir());
    mkdir(a, 0755);
    mkdir(b, 0755);
    publish(a, 1, "same");
    publish(b, 7, "same");
    ag_cert_hash(a, &ha, &ca);
    ag_cert_hash(b, &hb, &cb);
    CHECK(ha == hb);
    CHECK_INT(ca, 1);
    publish(b, 8, "other");
    ag_cert_hash(b, &hb, &cb);
    CHECK(ha != hb);
}
