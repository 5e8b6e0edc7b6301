/* test_log.c: logfmt/JSON lines, redaction, async drops. */
#include "tests/unit/harness.h"
#include "lib/log.h"
#include "lib/jutil.h"

#include <fcntl.h>
#include <unistd.h>

static char *
read_pipe(int fd, char *out, size_t cap)
{
    size_t n = 0;
    ssize_t r;

    fcntl(fd, F_SETFL, O_NONBLOCK);
    while (n + 1 < cap && (r = read(fd, out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    return out;
}

TEST(log_logfmt_quotes_and_redacts)
{
    int p[2];
    char out[4096];
    struct log_opts o = {0};

    REQUIRE(pipe(p) == 0);
    o.fd = p[1];
    o.level = LOG_DEBUG;
    log_init(&o);
    log_kv(LOG_INFO, "test", "hello world", "ns", "default", "pod", "a b\"c",
           "token", "s3cr3t", "empty", "", "DB_Password", "hunter2",
           "x-Private-Key", "k", "svcSecretName", "n", "passwd", "p",
           "tokenizer_long_key_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
           "xxxxxxxxxxxxxxxxxxxx",
           "t", "passive", "ok", NULL);
    log_kv(LOG_DEBUG, "test", "dbg", NULL);
    log_shutdown();
    read_pipe(p[0], out, sizeof(out));
    CHECK_CONTAINS(out, "level=info comp=test msg=\"hello world\" ns=default "
                        "pod=\"a b\\\"c\" token=[redacted] empty=\"\" "
                        "DB_Password=[redacted] x-Private-Key=[redacted] "
                        "svcSecretName=[redacted] passwd=[redacted] "
                        "tokenizer_long_key_");
    CHECK_CONTAINS(out, "xxxx=[redacted] passive=ok\n");
    CHECK(strstr(out, "s3cr3t") == NULL);
    CHECK_CONTAINS(out, "msg=dbg");
    close(p[0]);
    close(p[1]);
    log_init(NULL);
}

TEST(log_json_lines_parse)
{
    int p[2];
    char out[4096];
    struct log_opts o = {0};
    json_t *v = NULL;

    REQUIRE(pipe(p) == 0);
    o.fd = p[1];
    o.format = LOG_FMT_JSON;
    o.level = LOG_INFO;
    o.async = 1;
    REQUIRE(log_init(&o) == 0);
    log_kv(LOG_WARN, "test", "multi\nline", "k", "tab\there\x01", NULL);
    log_kv(LOG_DEBUG, "test", "below level", NULL);
    log_shutdown();
    read_pipe(p[0], out, sizeof(out));
    REQUIRE(jutil_parse(&v, out, strlen(out), NULL) == 0);
    CHECK_STR(jutil_str(v, "level"), "warn");
    CHECK_STR(jutil_str(v, "msg"), "multi\nline");
    CHECK_STR(jutil_str(v, "k"), "tab\there\x01");
    json_decref(v);
    close(p[0]);
    close(p[1]);
    log_init(NULL);
}

TEST(log_full_queue_drops_and_counts)
{
    int p[2];
    struct log_opts o = {0};
    char big[700];

    REQUIRE(pipe(p) == 0);
    /* a pipe nobody reads: the writer blocks after 64 KiB, the queue of 4
     * fills, and further lines must be dropped without blocking us */
    o.fd = p[1];
    o.async = 1;
    o.queue_len = 4;
    REQUIRE(log_init(&o) == 0);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    uint64_t before = log_dropped();
    for (int i = 0; i < 2000; i++)
        log_kv(LOG_INFO, "test", big, NULL);
    CHECK(log_dropped() > before);
    close(p[0]); /* writer's write fails with EPIPE now, so it can finish */
    log_shutdown();
    close(p[1]);
    log_init(NULL);
}

TEST(log_long_lines_are_truncated_and_marked)
{
    int p[2];
    char out[4096];
    char big[3000];
    struct log_opts o = {0};

    REQUIRE(pipe(p) == 0);
    o.fd = p[1];
    log_init(&o);
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_kv(LOG_ERROR, "test", "long", "v", big, NULL);
    read_pipe(p[0], out, sizeof(out));
    CHECK(strlen(out) <= LOG_LINE_MAX);
    CHECK_CONTAINS(out, "truncated=true\n");
    close(p[0]);
    close(p[1]);
    log_init(NULL);
}
