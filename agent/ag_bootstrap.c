/* ag_bootstrap.c: node identity, envoy-rev<epoch>.json and Envoy's command
 * line (ag_bootstrap.h).
 *
 * The document follows the 2019 pilot-agent template with direct mTLS to
 * the control plane: the xds-grpc cluster dials --discovery-address itself
 * with the files of --certs-dir (there is no local xDS proxy and no SDS in
 * mizzen: certificates come from the Secret istio.<sa> mounted at
 * /etc/certs, the Citadel model). Objects are built with jansson's
 * json_pack, which steals every "o" reference and fails as a whole. */
#include "agent/ag_bootstrap.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const char *
env_or(char **envp, const char *name, const char *def)
{
    const char *v = ag_env_get(envp, name);

    return v && *v ? v : def;
}

static int
is_ipv6(const char *s)
{
    struct in6_addr a;

    return inet_pton(AF_INET6, s, &a) == 1;
}

static int
is_ip(const char *s)
{
    struct in_addr a;

    return inet_pton(AF_INET, s, &a) == 1 || is_ipv6(s);
}

/* label_str: a string label or NULL. */
static const char *
label_str(const json_t *labels, const char *key)
{
    const json_t *v = labels ? json_object_get(labels, key) : NULL;

    return json_is_string(v) && *json_string_value(v) ? json_string_value(v)
                                                      : NULL;
}

int
ag_node_init(struct ag_node *n, const struct ag_opts *o, char **envp,
             const json_t *labels)
{
    const char *ips = env_or(envp, "INSTANCE_IP", NULL);
    const char *app = NULL;
    struct buf b;
    char first[64];
    int rc = 0, all6 = 1, count = 0;

    memset(n, 0, sizeof *n);
    buf_init(&b, 1 << 16);
    if (ips == NULL) {
        ips = "127.0.0.1";
        n->ip_defaulted = 1;
    }
    first[0] = '\0';
    for (const char *p = ips; *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        char one[64];

        if (len > 0 && len < sizeof one) {
            memcpy(one, p, len);
            one[len] = '\0';
            if (count++ == 0)
                memcpy(first, one, len + 1);
            all6 = all6 && is_ipv6(one);
        }
        p += len + (c != NULL);
    }
    if (first[0] == '\0') {
        snprintf(first, sizeof first, "127.0.0.1");
        all6 = 0;
    }
    n->ipv6 = all6 && count > 0;
    n->ip = mem_strdup(first);
    n->ips = mem_strdup(ips);
    n->pod = mem_strdup(env_or(envp, "POD_NAME", "unknown"));
    n->ns = mem_strdup(env_or(envp, "POD_NAMESPACE", "default"));
    if (!n->ip || !n->ips || !n->pod || !n->ns)
        goto nomem;

    if (*o->domain)
        rc = buf_addf(&b, "sidecar~%s~%s.%s~%s", n->ip, n->pod, n->ns,
                      o->domain);
    else
        rc = buf_addf(&b, "sidecar~%s~%s.%s~%s.svc.cluster.local", n->ip,
                      n->pod, n->ns, n->ns);
    if (rc != 0 || (n->id = buf_take(&b, NULL)) == NULL)
        goto nomem;

    /* node.cluster: an explicit --serviceCluster wins; the default
     * "istio-proxy" is replaced by <app>.<ns> as Istio's injector did. */
    if (strcmp(o->service_cluster, "istio-proxy") != 0) {
        n->cluster = mem_strdup(o->service_cluster);
    } else {
        app = label_str(labels, "service.istio.io/canonical-name");
        app = app ? app : label_str(labels, "app.kubernetes.io/name");
        app = app ? app : label_str(labels, "app");
        app = app ? app : env_or(envp, "ISTIO_META_WORKLOAD_NAME", NULL);
        if (app) {
            rc = buf_addf(&b, "%s.%s", app, n->ns);
            n->cluster = rc == 0 ? buf_take(&b, NULL) : NULL;
        } else {
            n->cluster = mem_strdup("istio-proxy");
        }
    }
    if (n->cluster == NULL)
        goto nomem;
    buf_cleanup(&b);
    return 0;
nomem:
    buf_cleanup(&b);
    ag_node_cleanup(n);
    return errmsg_set(RC_NOMEM, "out of memory building the node");
}

void
ag_node_cleanup(struct ag_node *n)
{
    mem_free(n->id);
    mem_free(n->cluster);
    mem_free(n->ip);
    mem_free(n->ips);
    mem_free(n->pod);
    mem_free(n->ns);
    memset(n, 0, sizeof *n);
}

const char *
ag_admin_host(const struct ag_node *n)
{
    return n->ipv6 ? "::1" : "127.0.0.1";
}

int
ag_split_hostport(const char *s, char *host, size_t hostn, int *port)
{
    const char *colon, *h = s;
    size_t hl;
    char *end = NULL;
    long p;

    if (*s == '[') {
        const char *rb = strchr(s, ']');

        if (rb == NULL || rb[1] != ':')
            return errmsg_set(RC_INVAL, "bad address '%.128s'", s);
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return errmsg_set(RC_INVAL, "address '%.128s' has no port", s);
        hl = (size_t)(colon - s);
        if (memchr(s, ':', hl) != NULL)
            return errmsg_set(RC_INVAL, "IPv6 address '%.128s' needs []", s);
    }
    if (hl == 0 || hl >= hostn)
        return errmsg_set(RC_INVAL, "bad host in '%.128s'", s);
    for (size_t i = 0; i < hl; i++) {
        char c = h[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
              c == '_'))
            return errmsg_set(RC_INVAL, "bad host in '%.128s'", s);
    }
    p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p < 1 || p > 65535)
        return errmsg_set(RC_INVAL, "bad port in '%.128s'", s);
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

static json_t *
sock_addr(const char *host, int port)
{
    return json_pack("{s:{s:s,s:i}}", "socket_address", "address", host,
                     "port_value", port);
}

static json_t *
static_cluster(const char *name, const char *host, int port)
{
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:[{s:[{s:{s:o}}]}]}}", "name", name,
                     "type", "STATIC", "connect_timeout", "0.250s",
                     "load_assignment", "cluster_name", name, "endpoints",
                     "lb_endpoints", "endpoint", "address",
                     sock_addr(host, port));
}

/* http_listener: an HCM listener routing one prefix to one cluster. */
static json_t *
http_listener(const char *any, int port, const char *prefix,
              const char *cluster, const char *stat_prefix)
{
    char name[80];

    snprintf(name, sizeof name, "%s_%d", any, port);
    return json_pack(
        "{s:s,s:o,s:[{s:[{s:s,s:{s:s,s:s,s:s,s:{s:[{s:s,s:[s],s:[{s:{s:s},"
        "s:{s:s}}]}]},s:[{s:s,s:{s:s}}]}}]}]}",
        "name", name, "address", sock_addr(any, port), "filter_chains",
        "filters", "name", "envoy.filters.network.http_connection_manager",
        "typed_config", "@type",
        "type.googleapis.com/envoy.extensions.filters.network."
        "http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix", stat_prefix, "codec_type", "AUTO", "route_config",
        "virtual_hosts", "name", "backend", "domains", "*", "routes", "match",
        "prefix", prefix, "route", "cluster", cluster, "http_filters", "name",
        "envoy.filters.http.router", "typed_config", "@type",
        "type.googleapis.com/envoy.extensions.filters.http.router.v3."
        "Router");
}

static json_t *
tls_socket(const struct ag_opts *o, const char *sni, const char *san)
{
    struct buf chain, key, root;
    json_t *t = NULL;

    buf_init(&chain, 8192);
    buf_init(&key, 8192);
    buf_init(&root, 8192);
    if (buf_addf(&chain, "%s/cert-chain.pem", o->certs_dir) == 0 &&
        buf_addf(&key, "%s/key.pem", o->certs_dir) == 0 &&
        buf_addf(&root, "%s/root-cert.pem", o->certs_dir) == 0)
        t = json_pack(
            "{s:s,s:{s:s,s:s,s:{s:[s],s:[{s:{s:s},s:{s:s}}],s:{s:{s:s},"
            "s:[{s:s,s:{s:s}}]}}}}",
            "name", "envoy.transport_sockets.tls", "typed_config", "@type",
            "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
            "UpstreamTlsContext",
            "sni", sni, "common_tls_context", "alpn_protocols", "h2",
            "tls_certificates", "certificate_chain", "filename", chain.ptr,
            "private_key", "filename", key.ptr, "validation_context",
            "trusted_ca", "filename", root.ptr, "match_typed_subject_alt_names",
            "san_type", "URI", "matcher", "exact", san);
    buf_cleanup(&chain);
    buf_cleanup(&key);
    buf_cleanup(&root);
    return t;
}

static json_t *
xds_cluster(const struct ag_opts *o, const struct ag_node *n, const char *host,
            int port, const char *san)
{
    json_t *c = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:[{s:[{s:{s:o}}]}]},s:{s:{s:s,s:{s:{}}}},"
        "s:{s:{s:i,s:i}},s:{s:[{s:i,s:i,s:i,s:i}]}}",
        "name", "xds-grpc", "type", is_ip(host) ? "STATIC" : "STRICT_DNS",
        "connect_timeout", "1s", "lb_policy", "ROUND_ROBIN",
        "dns_lookup_family", n->ipv6 ? "V6_ONLY" : "V4_ONLY", "load_assignment",
        "cluster_name", "xds-grpc", "endpoints", "lb_endpoints", "endpoint",
        "address", sock_addr(host, port), "typed_extension_protocol_options",
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions", "@type",
        "type.googleapis.com/envoy.extensions.upstreams.http.v3."
        "HttpProtocolOptions",
        "explicit_http_config", "http2_protocol_options",
        "upstream_connection_options", "tcp_keepalive", "keepalive_time", 300,
        "keepalive_interval", 30, "circuit_breakers", "thresholds",
        "max_connections", 100000, "max_pending_requests", 100000,
        "max_requests", 100000, "max_retries", 3);
    json_t *tls; /* owned */

    if (c == NULL || !o->xds_mtls)
        return c;
    tls = tls_socket(o, host, san);
    if (tls == NULL || json_object_set_new(c, "transport_socket", tls) != 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* metadata: ISTIO_META_* (prefix stripped, strings) and ISTIO_METAJSON_*
 * (JSON values) first, then what the agent knows, each only when the
 * environment did not already set it. */
static json_t *
node_metadata(const struct ag_opts *o, const struct ag_node *n, char **envp,
              const json_t *labels, const json_t *annotations)
{
    json_t *md = json_object(); /* owned */
    const char *td = env_or(envp, "TRUST_DOMAIN", "cluster.local");
    const char *pc = ag_env_get(envp, "PROXY_CONFIG");
    struct {
        const char *key, *val;
    } known[] = {
        {"NAMESPACE", n->ns},
        {"NAME", n->pod},
        {"INSTANCE_IPS", n->ips},
        {"SERVICE_ACCOUNT", env_or(envp, "SERVICE_ACCOUNT", NULL)},
        {"MESH_ID", td},
        {"CLUSTER_ID", "Kubernetes"},
        {"INTERCEPTION_MODE", "REDIRECT"},
        {"ISTIO_VERSION", env_or(envp, "ISTIO_VERSION", NULL)},
        {"HOST_IP", env_or(envp, "HOST_IP", NULL)},
        {"MIZZEN_AGENT", "1"},
    };

    if (md == NULL)
        return NULL;
    mem_oom_reset();
    for (char **e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char key[256];
        size_t kl;

        if (strncmp(*e, "ISTIO_META_", 11) != 0 || eq == NULL)
            continue;
        kl = (size_t)(eq - *e) - 11;
        if (kl == 0 || kl >= sizeof key)
            continue;
        memcpy(key, *e + 11, kl);
        key[kl] = '\0';
        /* a value that is not UTF-8 cannot go into JSON: left out */
        json_object_set_new(md, key, json_string(eq + 1));
    }
    /* ISTIO_METAJSON_<X>: a JSON value (Istio's form for maps such as
     * LABELS); one that does not parse is left out */
    for (char **e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char key[256];
        size_t kl;
        json_t *v; /* owned until set */

        if (strncmp(*e, "ISTIO_METAJSON_", 15) != 0 || eq == NULL)
            continue;
        kl = (size_t)(eq - *e) - 15;
        if (kl == 0 || kl >= sizeof key || strlen(eq + 1) > (1 << 20))
            continue;
        memcpy(key, *e + 15, kl);
        key[kl] = '\0';
        v = json_loads(eq + 1, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
        if (v && json_object_set_new(md, key, v) != 0)
            goto fail;
    }
    if (mem_oom_seen())
        goto fail;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].val && json_object_get(md, known[i].key) == NULL &&
            json_object_set_new(md, known[i].key, json_string(known[i].val)))
            goto fail;
    if (labels && json_object_set_new(md, "LABELS", json_deep_copy(labels)))
        goto fail;
    if (annotations &&
        json_object_set_new(md, "ANNOTATIONS", json_deep_copy(annotations)))
        goto fail;
    if (pc && *pc) {
        json_t *pcj = json_loads(pc, JSON_REJECT_DUPLICATES, NULL);

        if (json_is_object(pcj))
            json_object_set_new(md, "PROXY_CONFIG", pcj);
        else
            json_decref(pcj);
    }
    if (mem_oom_seen()) /* a value silently lost to a failed allocation */
        goto fail;
    (void)o;
    return md;
fail:
    json_decref(md);
    return NULL;
}

int
ag_bootstrap_build(json_t **out, const struct ag_opts *o,
                   const struct ag_node *n, char **envp, const json_t *labels,
                   const json_t *annotations)
{
    char host[256];
    char san[512];
    int port = 0, rc;
    const char *any = n->ipv6 ? "::" : "0.0.0.0";
    const char *lo = ag_admin_host(n);
    json_t *doc;

    *out = NULL;
    rc = ag_split_hostport(o->discovery_address, host, sizeof host, &port);
    if (rc != 0)
        return errmsg_prefix(rc, "discovery address");
    if (*o->xds_san)
        snprintf(san, sizeof san, "%s", o->xds_san);
    else
        snprintf(san, sizeof san,
                 "spiffe://%s/ns/istio-system/sa/mizzen-operator",
                 env_or(envp, "TRUST_DOMAIN", "cluster.local"));

    doc = json_pack(
        "{s:{s:s,s:s,s:o},s:{s:o},s:{s:{s:{},s:s,s:s},s:{s:{},s:s,s:s},"
        "s:{s:s,s:b,s:s,s:[{s:{s:s}}]}},s:{s:[o,o,o],s:[o,o]}}",
        "node", "id", n->id, "cluster", n->cluster, "metadata",
        node_metadata(o, n, envp, labels, annotations), "admin", "address",
        sock_addr(lo, o->admin_port), "dynamic_resources", "lds_config", "ads",
        "initial_fetch_timeout", "0s", "resource_api_version", "V3",
        "cds_config", "ads", "initial_fetch_timeout", "0s",
        "resource_api_version", "V3", "ads_config", "api_type", "GRPC",
        "set_node_on_first_message_only", 1, "transport_api_version", "V3",
        "grpc_services", "envoy_grpc", "cluster_name", "xds-grpc",
        "static_resources", "clusters",
        static_cluster("prometheus_stats", lo, o->admin_port),
        static_cluster("agent", lo, o->status_port),
        xds_cluster(o, n, host, port, san), "listeners",
        http_listener(any, o->envoy_prom_port, "/stats/prometheus",
                      "prometheus_stats", "stats"),
        http_listener(any, o->envoy_ready_port, "/healthz/ready", "agent",
                      "agent"));
    if (doc == NULL)
        return errmsg_set(RC_NOMEM, "out of memory building the bootstrap");
    *out = doc;
    return 0;
}

void
ag_argv_free(char **argv)
{
    for (char **a = argv; a && *a; a++)
        mem_free(*a);
    mem_free(argv);
}

static long
secs_up(long ms)
{
    return ms <= 0 ? 0 : (ms + 999) / 1000;
}

char **
ag_envoy_argv(const struct ag_opts *o, const struct ag_node *n,
              const char *bootstrap_path, int epoch, const char *override_yaml)
{
    char epoch_s[24], drain_s[24], parent_s[24], conc_s[24];
    const char *v[24];
    char **argv = NULL;
    int k = 0;

    snprintf(epoch_s, sizeof epoch_s, "%d", epoch);
    snprintf(drain_s, sizeof drain_s, "%ld", secs_up(o->envoy_drain_ms));
    snprintf(parent_s, sizeof parent_s, "%ld", secs_up(o->parent_shutdown_ms));
    snprintf(conc_s, sizeof conc_s, "%ld", o->concurrency);
    v[k++] = o->envoy_binary;
    v[k++] = "-c";
    v[k++] = bootstrap_path;
    v[k++] = "--restart-epoch";
    v[k++] = epoch_s;
    v[k++] = "--drain-time-s";
    v[k++] = drain_s;
    v[k++] = "--parent-shutdown-time-s";
    v[k++] = parent_s;
    v[k++] = "--local-address-ip-version";
    v[k++] = n->ipv6 ? "v6" : "v4";
    v[k++] = "-l";
    v[k++] = o->proxy_log_level;
    v[k++] = "--component-log-level";
    v[k++] = o->component_log_level;
    if (o->concurrency >= 0) {
        v[k++] = "--concurrency";
        v[k++] = conc_s;
    }
    if (override_yaml) {
        v[k++] = "--config-yaml";
        v[k++] = override_yaml;
    }
    argv = mem_calloc((size_t)k + 1, sizeof *argv);
    if (argv == NULL)
        goto nomem;
    for (int i = 0; i < k; i++)
        if ((argv[i] = mem_strdup(v[i])) == NULL)
            goto nomem;
    return argv;
nomem:
    ag_argv_free(argv);
    errmsg_set(RC_NOMEM, "out of memory building Envoy's command line");
    return NULL;
}
