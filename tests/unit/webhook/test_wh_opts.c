/* test_wh_opts.c: flags, environment, precedence and value parsing. */
#include "tests/unit/harness.h"
#include "lib/errmsg.h"
#include "lib/rc.h"
#include "webhook/wh_opts.h"

#include <string.h>

static const char *
fake_env(const char *name)
{
    if (strcmp(name, "MIZZEN_WEBHOOK_PORT") == 0)
        return "9443";
    if (strcmp(name, "MIZZEN_WEBHOOK_TLS_CERT") == 0)
        return "/env/cert.pem";
    if (strcmp(name, "MIZZEN_WEBHOOK_LOG_LEVEL") == 0)
        return "debug";
    if (strcmp(name, "MIZZEN_WEBHOOK_MAX_BODY") == 0)
        return "1Mi";
    return NULL;
}

static const char *
bad_env(const char *name)
{
    return strcmp(name, "MIZZEN_WEBHOOK_PORT") == 0 ? "70000" : NULL;
}

TEST(opts_defaults)
{
    struct wh_opts o;
    char *argv[] = {"mizzen-webhook"};

    wh_opts_defaults(&o);
    CHECK_INT(wh_opts_parse(&o, 1, argv, NULL), 0);
    CHECK_INT(o.port, 15017);
    CHECK_STR(o.addr, "0.0.0.0");
    CHECK_INT(o.max_body, 8 << 20);
    CHECK(o.injector_config == NULL && o.mesh_config == NULL);
    CHECK_INT(o.log_level, LOG_INFO);
    CHECK_CONTAINS(o.tls_priorities, "-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
}

TEST(opts_env_then_flags)
{
    struct wh_opts o;
    char *argv[] = {"w",
                    "--port",
                    "8443",
                    "--tls-key=/k.pem",
                    "--log-format",
                    "json",
                    "--reload-interval",
                    "500ms",
                    "--idle-timeout",
                    "1500ms"};

    wh_opts_defaults(&o);
    CHECK_INT(wh_opts_parse(&o, 10, argv, fake_env), 0);
    CHECK_INT(o.port, 8443);                /* flag beats env */
    CHECK_STR(o.tls_cert, "/env/cert.pem"); /* env beats default */
    CHECK_STR(o.tls_key, "/k.pem");
    CHECK_INT(o.log_level, LOG_DEBUG);
    CHECK_INT(o.log_format, LOG_FMT_JSON);
    CHECK_INT(o.max_body, 1 << 20);
    CHECK_INT(o.reload_ms, 500);
    CHECK_INT(o.idle_timeout_s, 2); /* rounded up to seconds */
}

TEST(opts_errors_name_the_flag)
{
    struct wh_opts o;
    char *a1[] = {"w", "--port", "x"};
    char *a2[] = {"w", "--nope"};
    char *a3[] = {"w", "--tls-cert"};
    char *a4[] = {"w", "--max-body", "0"};
    char *a5[] = {"w", "--injector-config", "a", "--injector-config-dir", "b"};
    char *a6[] = {"w", "stray"};
    char *a7[] = {"w", "--log-level", "loud"};

    wh_opts_defaults(&o);
    CHECK_INT(wh_opts_parse(&o, 3, a1, NULL), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "--port");
    CHECK_INT(wh_opts_parse(&o, 2, a2, NULL), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "--nope");
    CHECK_INT(wh_opts_parse(&o, 2, a3, NULL), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "--tls-cert needs a value");
    CHECK_INT(wh_opts_parse(&o, 3, a4, NULL), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "--max-body");
    wh_opts_defaults(&o);
    CHECK_INT(wh_opts_parse(&o, 5, a5, NULL), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "exclusive");
    CHECK_INT(wh_opts_parse(&o, 2, a6, NULL), RC_INVAL);
    CHECK_INT(wh_opts_parse(&o, 3, a7, NULL), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "loud");
    wh_opts_defaults(&o);
    CHECK_INT(wh_opts_parse(&o, 1, a6, bad_env), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "MIZZEN_WEBHOOK_PORT");
}

TEST(opts_help_and_usage)
{
    struct wh_opts o;
    char *argv[] = {"w", "--help"};
    char text[8192];
    FILE *f = fmemopen(text, sizeof(text), "w");

    wh_opts_defaults(&o);
    CHECK_INT(wh_opts_parse(&o, 2, argv, NULL), 0);
    CHECK(o.help);
    REQUIRE(f != NULL);
    wh_opts_usage(f);
    fclose(f);
    text[sizeof(text) - 1] = '\0';
    CHECK_CONTAINS(text, "--injector-config-dir");
    CHECK_CONTAINS(text, "MIZZEN_WEBHOOK_MESH_CONFIG");
    CHECK_CONTAINS(text, "--max-body");
}

TEST(parse_size_and_duration)
{
    size_t n = 0;
    unsigned ms = 0;

    CHECK_INT(wh_parse_size("123", &n), 0);
    CHECK_INT(n, 123);
    CHECK_INT(wh_parse_size("4K", &n), 0);
    CHECK_INT(n, 4096);
    CHECK_INT(wh_parse_size("8Mi", &n), 0);
    CHECK_INT(n, 8 << 20);
    CHECK_INT(wh_parse_size("1G", &n), 0);
    CHECK_INT(n, 1 << 30);
    CHECK_INT(wh_parse_size("-1", &n), RC_INVAL);
    CHECK_INT(wh_parse_size("1X", &n), RC_INVAL);
    CHECK_INT(wh_parse_size("99999999999999999999", &n), RC_INVAL);
    CHECK_INT(wh_parse_duration_ms("250ms", &ms), 0);
    CHECK_INT(ms, 250);
    CHECK_INT(wh_parse_duration_ms("3", &ms), 0);
    CHECK_INT(ms, 3000);
    CHECK_INT(wh_parse_duration_ms("2m", &ms), 0);
    CHECK_INT(ms, 120000);
    CHECK_INT(wh_parse_duration_ms("2h", &ms), RC_INVAL);
    CHECK_INT(wh_parse_duration_ms("", &ms), RC_INVAL);
    CHECK_INT(wh_parse_duration_ms("99999999m", &ms), RC_INVAL);
}
