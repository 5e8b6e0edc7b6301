/* runner.c: runs the registered unit tests.
 *
 *   unit_tests            every case
 *   unit_tests NAME...    only cases whose name or file contains NAME
 *   unit_tests -l         list cases
 *
 * Prints one line per failed check, then "N passed, N failed"; exits 1 when
 * any case failed. */
#include "tests/unit/harness.h"
#include "lib/mem.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct tcase {
    const char *name, *file;
    test_fn fn;
};

static struct tcase cases[4096];
static int ncases;
static int cur_failed;
static const char *cur_name;

void
harness_register(const char *name, const char *file, test_fn fn)
{
    if (ncases < (int)(sizeof(cases) / sizeof(cases[0])))
        cases[ncases++] = (struct tcase){name, file, fn};
}

void
harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stdout, "FAIL %s (%s:%d): ", cur_name, file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    cur_failed = 1;
}

int
harness_case_failed(void)
{
    return cur_failed;
}

static char dir[256];

const char *
harness_tmpdir(void)
{
    if (dir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/mizzen-unit-XXXXXX",
                 base ? base : "/tmp");
        if (mkdtemp(dir) == NULL)
            snprintf(dir, sizeof(dir), "/tmp");
    }
    return dir;
}

static int
selected(const struct tcase *c, int argc, char **argv)
{
    if (argc <= 1)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(c->name, argv[i]) || strstr(c->file, argv[i]))
            return 1;
    return 0;
}

int
main(int argc, char **argv)
{
    int passed = 0, failed = 0;

    mem_init_jansson();
    /* tests write to pipes whose readers go away: get EPIPE, not a signal */
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &sa, NULL);
    if (argc == 2 && strcmp(argv[1], "-l") == 0) {
        for (int i = 0; i < ncases; i++)
            printf("%s\t%s\n", cases[i].name, cases[i].file);
        return 0;
    }
    for (int i = 0; i < ncases; i++) {
        if (!selected(&cases[i], argc, argv))
            continue;
        cur_name = cases[i].name;
        cur_failed = 0;
        mem_fail_set(0);
        cases[i].fn();
        mem_fail_set(0);
        if (cur_failed)
            failed++;
        else
            passed++;
        fflush(stdout);
    }
    if (dir[0] && strcmp(dir, "/tmp") != 0) {
        /* remove the scratch dir and what the cases left in it */
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (fork() == 0) {
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        wait(NULL);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
