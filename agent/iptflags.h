/* iptflags.h: istio-iptables' command line and environment -> typed config.
 *
 * Accepts the flags istio-iptables accepts, with the same meaning (short
 * and long forms, "--flag=value", "--flag value", "-pVALUE"), and the
 * environment variables istio-iptables reads (the long name upper-cased
 * with '-' -> '_', plus the documented aliases such as INVALID_DROP).
 * A flag on the command line wins over its environment variable.
 *
 * Pure: the environment comes in as an envp array, nothing is looked up
 * (the default proxy uid from ENVOY_USER is resolved by the caller: see
 * uid_defaulted). Any invalid value makes iptf_parse fail with RC_INVAL and
 * a message that names the flag (or the variable). */
#ifndef MZ_IPTFLAGS_H
#define MZ_IPTFLAGS_H

#include "agent/iptrules.h"
#include "lib/log.h"

enum iptf_backend {
    IPTF_BACKEND_AUTO = 0, /* whichever holds rules, else nft, else legacy */
    IPTF_BACKEND_NFT,
    IPTF_BACKEND_LEGACY
};

struct iptf_opts {
    struct iptr_config cfg;
    int dry_run;      /* -n / --dry-run: print the ruleset, apply nothing */
    int skip_apply;   /* --skip-rule-apply: build and validate only */
    int cleanup_only; /* --cleanup-only: remove our rules, add none */
    int help;         /* -h / --help */
    enum iptf_backend backend;
    enum log_level log_level; /* from --log_output_level (default scope) */
    int log_json;             /* --log_as_json */
    int uid_defaulted;        /* neither -u nor PROXY_UID was given */
    int dns_requested;        /* DNS capture asked for (not supported) */
};

/* iptf_opts_init: defaults (istio-iptables' own); cannot fail.
 * iptf_opts_cleanup frees what parsing allocated. */
void iptf_opts_init(struct iptf_opts *o);
void iptf_opts_cleanup(struct iptf_opts *o);

/* iptf_parse reads envp (NULL-terminated "NAME=value" strings, may be
 * NULL) and then argv[1..argc-1] into o, which must have been initialised.
 * A leading positional "istio-iptables" (the injector's first arg) is
 * skipped. 0, RC_INVAL (message names the flag), RC_UNSUPPORTED (a mode
 * istio-iptables has and mizzen does not, e.g. --run-validation), or
 * RC_NOMEM/RC_LIMIT. On failure o holds partial values: clean it up. */
int iptf_parse(struct iptf_opts *o, int argc, char **argv, char **envp);

/* iptf_usage: the help text (static). */
const char *iptf_usage(void);

#endif
