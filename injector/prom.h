/* prom.h: Prometheus metrics merge (Istio's applyPrometheusMerge), pure.
 *
 * When scraping is not disabled (any annotation key that normalises to
 * prometheus_io_scrape - "prometheus.io/scrape", "prometheus.io.scrape",
 * ... - with a value that parses false disables it) and merging is enabled
 * (annotation prometheus.istio.io/merge-metrics parsed as a bool, else
 * mesh_default), the app's prometheus.io/{scrape,path,port} and
 * prometheus.istio.io/scrape-targets annotations are moved into a JSON
 * object string for env ISTIO_PROMETHEUS_ANNOTATIONS (Go's bytes: always
 * "scrape", "path", "port", "" when absent, then "scrape-targets" when
 * present; no env at all when every value is empty) and replaced by
 * prometheus.io/port: "<status_port>", prometheus.io/path:
 * /stats/prometheus, prometheus.io/scrape: "true". */
#ifndef MZ_INJ_PROM_H
#define MZ_INJ_PROM_H

#include <jansson.h>

/* inj_prom_merge edits `annotations` (an object, may be empty) in place.
 * *env_json is set to a new string (free with mem_free) holding the app's
 * annotations, or left NULL when the app had none (annotations merged, as
 * Istio adds no env for an empty scrape configuration) or when the merge
 * does not apply (annotations untouched). Returns 0, RC_INVAL (the app's
 * port is an Istio-reserved port or another spelling of the status port:
 * errmsg says which) or RC_NOMEM. */
int inj_prom_merge(json_t *annotations, int mesh_default, int status_port,
                   char **env_json);

/* Details of inj_prom_merge (see docs/injector-probes.md):
 * - Keys match after Prometheus label sanitising (every character outside
 *   [a-zA-Z0-9_] becomes '_', case kept, as Istio's sanitizeLabelName);
 *   booleans follow Go's strconv.ParseBool.
 * - When several spellings carry a value, the standard one
 *   (prometheus.io/port, ...) wins, else the first in object order.
 * - Already merged (re-injection, or set by the pod's owner): when the
 *   port annotation is exactly "<status_port>", nothing is done and
 *   *env_json stays NULL, whatever the path (Istio's applyPrometheusMerge
 *   skips on the port alone; refusing would break pods Istio admits).
 * - Refused ports: the status port (written differently, e.g. "015020")
 *   and 15000 15001 15004 15006 15008 15009 15020 15021 15053 15090, in
 *   prometheus.io/port (any spelling) and in
 *   every "port[:path]" entry of prometheus.istio.io/scrape-targets; a
 *   non-numeric port is passed through (the agent reports it).
 * - prometheus.istio.io/scrape-targets is copied into the env and kept as
 *   an annotation; only the scrape/path/port spellings are removed.
 * - On RC_INVAL annotations are untouched; on RC_NOMEM they may be partly
 *   edited (callers work on a copy). */

#endif
