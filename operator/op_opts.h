/* op_opts.h: the operator's configuration: flags, environment, mesh config.
 *
 * One table describes every setting (flag name, environment variable, mesh
 * config key, type, default). Precedence, highest first:
 *   1. the command-line flag (--workload-cert-ttl 2160h)
 *   2. the environment (MIZZEN_WORKLOAD_CERT_TTL=2160h)
 *   3. the mesh config (ConfigMap `istio`, key `mesh`: `trustDomain` and
 *      the `mizzenOperator:` block, e.g. `workloadCertTTL: 2160h`)
 *   4. the built-in default.
 * Flags and environment are read at start (op_opts_parse); the mesh config
 * later, once the API client exists (op_opts_apply_mesh), and only fills
 * settings that neither a flag nor the environment gave.
 *
 * Pure: no I/O except reading the environment through the getenv callback
 * (tests pass their own). */
#ifndef MZ_OP_OPTS_H
#define MZ_OP_OPTS_H

#include "lib/log.h"
#include "lib/pki.h"

#include <jansson.h>
#include <stdint.h>

#define OP_OPT_MAX 40 /* settings in the table */

struct op_opts {
    char *kubeconfig;     /* NULL: in-cluster / KUBECONFIG (kube_config_auto) */
    char *ns;             /* control-plane namespace */
    char *trust_domain;   /* SPIFFE trust domain */
    int64_t workload_ttl; /* seconds */
    double grace_ratio;
    int64_t min_grace;         /* seconds */
    struct pki_window window;  /* quiet hours; window.set 0: any time */
    int64_t clock_offset;      /* seconds added to the clock (tests) */
    int64_t root_ttl;          /* seconds */
    int key_type;              /* PKI_EC_P256, PKI_RSA_2048, ... */
    double root_grace_ratio;   /* rotate when < this share of life left */
    int64_t root_grace;        /* or: when < this many seconds left */
    int64_t root_overlap;      /* seconds old+new roots stay published */
    int leader_elect;          /* 0/1 */
    char *lease_name;          /* Lease in ns */
    int64_t lease_duration_ms; /* lease timings */
    int64_t renew_deadline_ms;
    int64_t retry_period_ms;
    enum log_format log_format;
    enum log_level log_level;
    int workers;           /* reconcile threads */
    char *webhook_service; /* Service name of the webhook (SANs) */
    char *webhook_secret;  /* Secret with the webhook's serving cert */
    char *webhook_config;  /* MutatingWebhookConfiguration to patch */
    char *mesh_configmap;  /* ConfigMap with the mesh config */
    char *metrics_addr;    /* "host:port" of /metrics, /healthz; NULL: off */
    /* where each setting came from: OP_SRC_* per table row */
    unsigned char src[OP_OPT_MAX];
};

enum { OP_SRC_DEFAULT = 0, OP_SRC_MESH, OP_SRC_ENV, OP_SRC_FLAG };

typedef const char *(*op_getenv_fn)(const char *name);

/* op_opts_init: every default (cannot fail except RC_NOMEM). */
int op_opts_init(struct op_opts *o);
void op_opts_cleanup(struct op_opts *o);

/* op_opts_parse applies argv (flags: "--name value" or "--name=value";
 * booleans also bare "--leader-elect") then the environment (getenv NULL:
 * the process environment) to o (initialised with op_opts_init). RC_INVAL
 * with the flag and reason in errmsg; 1 for --help (usage printed by the
 * caller with op_opts_usage). On failure o is still valid (cleanup it). */
int op_opts_parse(struct op_opts *o, int argc, char **argv,
                  op_getenv_fn getenv_fn);

/* op_opts_apply_mesh applies the parsed mesh config document (the value of
 * data.mesh as JSON; NULL: nothing) to the settings that are still at
 * their default. RC_INVAL naming the key on a bad value (o unchanged for
 * that key). */
int op_opts_apply_mesh(struct op_opts *o, const json_t *mesh);

/* op_opts_usage: the help text (static). */
const char *op_opts_usage(void);

/* op_opts_describe appends "name=value(source)" pairs for the start-up log
 * line into out (cap bytes, truncated). */
void op_opts_describe(const struct op_opts *o, char *out, size_t cap);

#endif
