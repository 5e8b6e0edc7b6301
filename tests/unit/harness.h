/* harness.h: the unit-test harness. No framework: TEST(name) defines a case
 * and registers it at load time; the CHECK macros record a failure and go on,
 * the REQUIRE macros stop the case. tests/unit/runner.c runs every case (or
 * the ones named on its command line) and prints "N passed, N failed". */
#ifndef MZ_HARNESS_H
#define MZ_HARNESS_H

#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void harness_register(const char *name, const char *file, test_fn fn);
void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int harness_case_failed(void);
/* A scratch directory unique to this run (created on first use). */
const char *harness_tmpdir(void);

#define TEST(name)                                                             \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void reg_##name(void)                  \
    {                                                                          \
        harness_register(#name, __FILE__, test_##name);                        \
    }                                                                          \
    static void test_##name(void)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            harness_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);              \
    } while (0)

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            harness_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);            \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_INT(a, b)                                                        \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_)                                                          \
            harness_fail(__FILE__, __LINE__, "%s == %lld, expected %lld", #a,  \
                         a_, b_);                                              \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                   \
            harness_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"",  \
                         #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");          \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                            \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        if (h_ == NULL || strstr(h_, n_) == NULL)                              \
            harness_fail(__FILE__, __LINE__, "%s = \"%s\" lacks \"%s\"", #hay, \
                         h_ ? h_ : "(null)", n_);                              \
    } while (0)

#endif
