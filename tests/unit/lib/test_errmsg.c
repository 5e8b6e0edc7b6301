/* test_errmsg.c: thread-local failure detail. */
#include "tests/unit/harness.h"
#include "lib/errmsg.h"
#include "lib/rc.h"

TEST(errmsg_set_returns_code_and_keeps_text)
{
    CHECK_INT(errmsg_set(RC_PARSE, "bad %s at %d", "port", 7), RC_PARSE);
    CHECK_STR(errmsg_get(), "bad port at 7");
    CHECK_INT(errmsg_prefix(RC_PARSE, "annotation '%s'", "a/b"), RC_PARSE);
    CHECK_STR(errmsg_get(), "annotation 'a/b': bad port at 7");
    errmsg_clear();
    CHECK_STR(errmsg_get(), "");
    CHECK_STR(rc_str(RC_LIMIT), "RC_LIMIT");
}

TEST(errmsg_truncates_long_messages)
{
    char big[ERRMSG_MAX * 2];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    errmsg_set(RC_INVAL, "%s", big);
    CHECK_INT(strlen(errmsg_get()), ERRMSG_MAX - 1);
}
