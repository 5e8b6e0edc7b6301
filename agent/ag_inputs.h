/* ag_inputs.h: parsers for what the pod hands the agent: the original app
 * probes (ISTIO_KUBE_APP_PROBERS), the app's Prometheus scrape settings
 * (ISTIO_PROMETHEUS_ANNOTATIONS) and the downward API files
 * (/etc/istio/pod/labels, annotations).
 *
 * All three come from the pod spec, which the pod's author controls, so the
 * parsers cap sizes and counts, refuse header injection (CR/LF) and
 * anything that would not make a well-formed URL. Pure: text in, typed
 * values out. On failure the output is left empty (nothing to free). */
#ifndef MZ_AG_INPUTS_H
#define MZ_AG_INPUTS_H

#include <jansson.h>
#include <stddef.h>

#define AG_PROBERS_MAX 256           /* entries in ISTIO_KUBE_APP_PROBERS */
#define AG_PROBER_HEADERS_MAX 32     /* httpHeaders per probe */
#define AG_INPUT_MAX_BYTES (1 << 20) /* any of the three inputs */

enum ag_probe_kind { AG_PROBE_HTTP = 1, AG_PROBE_TCP, AG_PROBE_GRPC };

struct ag_header {
    char *name;
    char *value;
};

struct ag_prober {
    char *url_path; /* "/app-health/<c>/readyz", the key */
    enum ag_probe_kind kind;
    int port;        /* 1..65535 */
    char *host;      /* "" : the pod IP (or localhost) */
    char *http_path; /* httpGet: starts with '/', never empty */
    int https;       /* httpGet scheme HTTPS (certificate not checked) */
    struct ag_header *headers;
    size_t nheaders;
    char *grpc_service; /* grpc: "" = the server's overall health */
    long timeout_s;     /* timeoutSeconds, 1 when absent or 0 */
};

struct ag_probers {
    struct ag_prober *v; /* sorted by url_path */
    size_t n;
};

/* ag_probers_parse parses the ISTIO_KUBE_APP_PROBERS JSON object
 * {"<url path>": {"httpGet"|"tcpSocket"|"grpc": {...}, "timeoutSeconds":
 * N}}. Keys must match Istio's pattern
 * ^/(app-health|app-lifecycle)/[^/]+/(livez|readyz|startupz|prestopz|
 * poststartz)$ and each entry must hold exactly one probe kind. 0, RC_PARSE,
 * RC_INVAL (message names the key), RC_LIMIT, RC_NOMEM. An empty input is
 * an empty table. */
int ag_probers_parse(struct ag_probers *out, const char *json, size_t len);
void ag_probers_cleanup(struct ag_probers *p);

/* ag_probers_find returns the prober for an URL path, or NULL (borrowed). */
const struct ag_prober *ag_probers_find(const struct ag_probers *p,
                                        const char *url_path);

/* ag_prober_path_valid: 1 when url_path matches Istio's prober pattern. */
int ag_prober_path_valid(const char *url_path);

struct ag_prom {
    int scrape; /* 1: scrape the app */
    int port;
    char *path; /* default "/metrics" */
};

/* ag_prom_parse parses ISTIO_PROMETHEUS_ANNOTATIONS
 * {"scrape":"true","path":"/metrics","port":"8080"} (port as string or
 * number). scrape is 1 only for "true" with a valid port. An empty input
 * is scrape 0 with path NULL. 0, RC_PARSE, RC_INVAL, RC_LIMIT, RC_NOMEM. */
int ag_prom_parse(struct ag_prom *out, const char *json, size_t len);
void ag_prom_cleanup(struct ag_prom *p);

/* ag_podinfo_parse parses a downward API file (lines `key="go-quoted
 * value"`) into a new JSON object of strings (*out, caller decrefs). A
 * malformed line is RC_PARSE naming the line; more than 4096 lines
 * RC_LIMIT. */
int ag_podinfo_parse(json_t **out, const char *text, size_t len);

#endif
