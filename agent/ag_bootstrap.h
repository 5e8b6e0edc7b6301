/* ag_bootstrap.h: what Envoy is started with: the node identity, the
 * bootstrap JSON (envoy-rev<epoch>.json) and the command line.
 *
 * Pure: options, an envp array and the parsed downward API objects in,
 * strings out. The JSON is Envoy's v3 Bootstrap in proto3 JSON (snake_case
 * field names, no "@type": Envoy rejects unknown top-level fields). */
#ifndef MZ_AG_BOOTSTRAP_H
#define MZ_AG_BOOTSTRAP_H

#include "agent/ag_opts.h"

#include <jansson.h>
#include <stddef.h>

struct ag_node {
    char *id;      /* sidecar~<ip>~<pod>.<ns>~<domain> */
    char *cluster; /* node.cluster */
    char *ip;      /* first instance IP */
    char *ips;     /* INSTANCE_IPS, comma separated */
    char *pod;
    char *ns;
    int ipv6;         /* every instance IP is IPv6 */
    int ip_defaulted; /* INSTANCE_IP unset: 127.0.0.1 used */
};

/* ag_node_init derives the node from the environment (POD_NAME,
 * POD_NAMESPACE, INSTANCE_IP, ISTIO_META_WORKLOAD_NAME), the options
 * (--domain, --serviceCluster) and the pod labels (may be NULL). 0 or
 * RC_NOMEM (n is then cleaned). ag_node_cleanup frees it. */
int ag_node_init(struct ag_node *n, const struct ag_opts *o, char **envp,
                 const json_t *labels);
void ag_node_cleanup(struct ag_node *n);

/* ag_bootstrap_build returns the bootstrap document (*out, a new
 * reference). labels/annotations may be NULL (no downward API files).
 * 0, RC_INVAL (discovery address not host:port), RC_NOMEM. */
int ag_bootstrap_build(json_t **out, const struct ag_opts *o,
                       const struct ag_node *n, char **envp,
                       const json_t *labels, const json_t *annotations);

/* ag_admin_host: the loopback address Envoy's admin (and the agent's
 * requests to it) use: "127.0.0.1", or "::1" for an IPv6 node. Static. */
const char *ag_admin_host(const struct ag_node *n);

/* ag_split_hostport splits "host:port" / "[v6]:port" into host (copied into
 * host[hostn]) and port. 0 or RC_INVAL. */
int ag_split_hostport(const char *s, char *host, size_t hostn, int *port);

/* ag_envoy_argv builds Envoy's NULL-terminated argv (argv[0] = the binary)
 * for an epoch. override_yaml (may be NULL) becomes --config-yaml. The
 * vector and its strings are one allocation per string: free with
 * ag_argv_free. NULL on RC_NOMEM. */
char **ag_envoy_argv(const struct ag_opts *o, const struct ag_node *n,
                     const char *bootstrap_path, int epoch,
                     const char *override_yaml);
void ag_argv_free(char **argv);

#endif
