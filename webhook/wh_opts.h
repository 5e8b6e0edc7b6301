/* wh_opts.h: mizzen-webhook's settings from flags and environment.
 *
 * Every flag has an environment variable (MIZZEN_WEBHOOK_<FLAG>, dashes as
 * underscores); a flag wins over the variable, which wins over the default.
 * Strings in struct wh_opts point into argv or the environment (borrowed for
 * the life of the process); nothing here allocates. */
#ifndef MZ_WH_OPTS_H
#define MZ_WH_OPTS_H

#include "lib/log.h"

#include <stddef.h>
#include <stdio.h>

#define WH_DEFAULT_PORT 15017
#define WH_DEFAULT_MAX_BODY ((size_t)8 << 20)
#define WH_DEFAULT_CERT "/var/run/secrets/mizzen-webhook/tls.crt"
#define WH_DEFAULT_KEY "/var/run/secrets/mizzen-webhook/tls.key"
/* GnuTLS priority string: TLS 1.2 and 1.3 only, ECDHE key exchange, AEAD
 * ciphers only (no CBC, no RC4, no 3DES, no static RSA, no SHA-1 MACs). */
#define WH_DEFAULT_TLS_PRIORITIES                                              \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:"               \
    "+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:"             \
    "-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

struct wh_opts {
    const char *addr; /* listen address (numeric IPv4/IPv6) */
    int port;         /* 0: an ephemeral port (logged) */
    const char *tls_cert, *tls_key;
    const char *tls_priorities;
    const char *injector_config;     /* ConfigMap object or data file */
    const char *injector_config_dir; /* mounted volume: config, values */
    const char *mesh_config;         /* file, or a directory with `mesh` */
    size_t max_body;                 /* request body cap in bytes */
    int threads;                     /* 0: one per online CPU */
    int max_conns;
    unsigned idle_timeout_s; /* idle keep-alive connections close */
    unsigned reload_ms;      /* periodic file check */
    unsigned drain_ms;       /* old daemon kept after a cert swap */
    unsigned shutdown_ms;    /* in-flight wait on SIGTERM */
    enum log_format log_format;
    enum log_level log_level;
    int help;    /* --help given */
    int version; /* --version given */
};

typedef const char *(*wh_getenv_fn)(const char *name);

/* wh_opts_defaults fills o with the defaults; cannot fail. */
void wh_opts_defaults(struct wh_opts *o);

/* wh_opts_parse applies environment (through env, may be NULL for none)
 * then flags (argv[1..argc)) over the defaults. 0, or RC_INVAL with errmsg
 * naming the flag or variable; o may be partly filled on failure. */
int wh_opts_parse(struct wh_opts *o, int argc, char **argv, wh_getenv_fn env);

/* wh_opts_usage writes the --help text. */
void wh_opts_usage(FILE *f);

/* Value parsers, exported for tests: sizes accept a K/M/G (or Ki/Mi/Gi)
 * suffix, durations ms/s/m (a bare number is seconds). 0 or RC_INVAL. */
int wh_parse_size(const char *s, size_t *out);
int wh_parse_duration_ms(const char *s, unsigned *out);

#endif
