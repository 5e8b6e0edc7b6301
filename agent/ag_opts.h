/* ag_opts.h: mizzen-agent's command line, environment and PROXY_CONFIG ->
 * typed options.
 *
 * Every path, port and duration has a flag, an environment variable and
 * Istio's default (one table in ag_opts.c; `mizzen-agent --help` prints it).
 * Precedence: flag, then environment variable, then the field of the
 * PROXY_CONFIG JSON (the effective ProxyConfig the injector writes), then
 * the default. Flags are Go style: "-flag", "--flag", "--flag=value" and
 * "--flag value".
 *
 * Pure: the environment comes in as an envp array. Any invalid value makes
 * parsing fail with RC_INVAL and a message naming the flag, variable or
 * PROXY_CONFIG field. */
#ifndef MZ_AG_OPTS_H
#define MZ_AG_OPTS_H

#include "lib/log.h"

#include <stddef.h>

enum ag_cmd { AG_CMD_NONE = 0, AG_CMD_PROXY, AG_CMD_WAIT, AG_CMD_VERSION };

struct ag_opts {
    enum ag_cmd cmd;
    int help;

    /* paths */
    char *envoy_binary; /* --envoy-binary ENVOY_BINARY binaryPath */
    char *config_dir;   /* --config-dir: where envoy-rev<N>.json go */
    char *certs_dir;    /* --certs-dir: cert-chain.pem key.pem root-cert.pem */
    char *pod_info_dir; /* --pod-info-dir: downward API labels/annotations */
    char *bootstrap_override; /* ISTIO_BOOTSTRAP_OVERRIDE: --config-yaml */

    /* control plane */
    char *discovery_address; /* host:port of the operator's xDS */
    char *xds_san;           /* SAN the xDS server must present ("" auto) */
    int xds_mtls;            /* controlPlaneAuthPolicy MUTUAL_TLS (1), NONE */

    /* identity and logging (the args the injector writes) */
    char *domain;              /* --domain; "" = <ns>.svc.cluster.local */
    char *service_cluster;     /* --serviceCluster serviceCluster */
    char *proxy_log_level;     /* --proxyLogLevel -> envoy -l */
    char *component_log_level; /* --proxyComponentLogLevel */
    enum log_level log_level;  /* --log_output_level (default scope) */
    int log_json;              /* --log_as_json */
    long concurrency;          /* --concurrency; -1 = not given */

    /* ports */
    int status_port;      /* 15020 */
    int admin_port;       /* 15000 */
    int envoy_prom_port;  /* 15090 */
    int envoy_ready_port; /* 15021 */

    /* durations, milliseconds */
    long drain_ms;           /* terminationDrainDuration, 5s */
    long envoy_drain_ms;     /* drainDuration -> --drain-time-s, 45s */
    long parent_shutdown_ms; /* -> --parent-shutdown-time-s, 60s */
    long parent_grace_ms;    /* then the agent stops the parent itself */
    long stop_grace_ms;      /* SIGTERM -> SIGKILL */
    long backoff_initial_ms;
    long backoff_max_ms;
    long backoff_reset_ms; /* Envoy up this long: backoff starts over */
    long cert_debounce_ms;
    long scrape_timeout_ms;
    long scrape_max_bytes;
    long ready_timeout_ms; /* Envoy admin /stats request for readiness */
    char *probe_source;    /* source address of app probes (127.0.0.6) */

    /* `mizzen-agent wait` (pilot-agent wait) */
    char *wait_url;
    long wait_timeout_s;
    long wait_period_ms;
    long wait_request_timeout_ms;
};

/* ag_opts_init: every field at its built-in default; 0 or RC_NOMEM (the
 * string defaults are copies). ag_opts_cleanup frees the strings. */
int ag_opts_init(struct ag_opts *o);
void ag_opts_cleanup(struct ag_opts *o);

/* ag_opts_parse reads argv[1..argc-1] (the subcommand first: "proxy
 * sidecar", "wait", "version"; "--help" anywhere), then fills whatever the
 * command line did not set from envp (may be NULL) and PROXY_CONFIG. o must
 * have been initialised. 0, RC_INVAL (message names the culprit),
 * RC_UNSUPPORTED ("proxy router"), RC_NOMEM. On failure o holds partial
 * values: clean it up. */
int ag_opts_parse(struct ag_opts *o, int argc, char **argv, char **envp);

/* ag_opts_apply_proxy_config applies the PROXY_CONFIG JSON text to the
 * fields not set by flag or environment (`set` marks those; NULL = none
 * set). Exposed for the fuzz target. 0, RC_PARSE, RC_INVAL, RC_LIMIT,
 * RC_NOMEM. */
int ag_opts_apply_proxy_config(struct ag_opts *o, const char *json, size_t len,
                               const unsigned char *set);

/* ag_duration_ms parses a Go/proto3 duration ("5s", "1m30s", "250ms",
 * "1.5s"; a bare number means seconds) into milliseconds (rounded up to
 * whole ms, >= 0, at most 30 days). 0 or RC_INVAL. */
int ag_duration_ms(const char *s, long *out);

/* ag_env_get returns the value of name in envp, or NULL (borrowed). */
const char *ag_env_get(char **envp, const char *name);

/* ag_opts_usage writes the help text (flags, variables, defaults) into a
 * static-free string the caller frees with mem_free; NULL on RC_NOMEM. */
char *ag_opts_usage(void);

#endif
