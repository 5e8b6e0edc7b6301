/* probes.h: app probe rewriting (Istio's app_probe.go), pure.
 *
 * Every readinessProbe/livenessProbe/startupProbe with httpGet, tcpSocket or
 * grpc, and every lifecycle postStart/preStop httpGet or tcpSocket handler,
 * of every container and init container not named in `skip`, becomes
 *   httpGet: {path: /app-health/<c>/{readyz,livez,startupz}
 *                   | /app-lifecycle/<c>/{poststartz,prestopz},
 *             port: <status_port>}
 * keeping the probe's other fields (periods, thresholds, host, headers),
 * with scheme HTTPS turned into HTTP. The original handler goes into
 * `probers` under that path as {"httpGet":{...}} / {"tcpSocket":{...}} /
 * {"grpc":{...}} plus "timeoutSeconds" when non-zero; a named port is
 * resolved against the same container's ports (unresolvable: the probe is
 * left alone and not recorded); a port equal to status_port is left alone.
 * exec probes are left alone. Entries already in `probers` win (re-injection
 * merges the old ISTIO_KUBE_APP_PROBERS over the new). */
#ifndef MZ_INJ_PROBES_H
#define MZ_INJ_PROBES_H

#include <jansson.h>

/* inj_probes_rewrite edits pod_spec (the pod's "spec" object) in place and
 * adds to probers (an object). skip: NULL-terminated container names.
 * Copy-on-write: a container with probes or lifecycle handlers is replaced
 * in its list by a shallow copy (and so is its lifecycle object) before
 * anything is changed, so containers and handlers may be shared with
 * another document; the lists themselves must be the caller's own.
 * 0 or RC_NOMEM (pod_spec may then be partly rewritten: callers work on a
 * copy). */
int inj_probes_rewrite(json_t *pod_spec, const char *const *skip,
                       int status_port, json_t *probers);

/* Details of inj_probes_rewrite (see docs/injector-probes.md):
 * - status_port outside 1..65535 means "no status server": nothing is done.
 * - A handler is either rewritten AND recorded (unless an entry exists),
 *   or left byte-for-byte alone: exec/sleep handlers, a port that is not a
 *   number 1..65535 nor a resolvable name, fields of the wrong JSON type.
 * - Priority when several handlers are set: httpGet, tcpSocket, grpc; the
 *   rewritten object has only httpGet (other handler keys are dropped).
 * - Recorded values hold only the fields Istio's Go structs know, in their
 *   order: httpGet {path, port, host, scheme, httpHeaders[{name,value}]},
 *   tcpSocket {port, host}, grpc {port, service (null when unset)}; empty
 *   strings and empty header lists are omitted as Go's omitempty does.
 * - Containers without a name, with '/' in the name, or named longer than
 *   253 bytes are not touched. */

/* Cap on an ISTIO_KUBE_APP_PROBERS value read back by inj_probes_load. */
#define INJ_PROBES_ENV_MAX ((size_t)1 << 20)

/* inj_probes_load adds the entries of an existing ISTIO_KUBE_APP_PROBERS
 * value (re-injection) to probers, replacing same-named ones, so that a
 * following inj_probes_rewrite keeps them. NULL or "" is a no-op. 0,
 * RC_PARSE (not a JSON object), RC_LIMIT (over INJ_PROBES_ENV_MAX or too
 * deep) or RC_NOMEM; on failure probers may hold some of the entries. */
int inj_probes_load(json_t *probers, const char *env);

/* inj_probes_env serialises probers exactly as Istio writes the env value:
 * compact, top-level keys in byte order, inner keys in insertion order,
 * strings escaped like Go (see inj_json_go_dumps). *out is a new string
 * (mem_free), "{}" for an empty map (Istio then omits the env). 0, RC_INVAL
 * (not an object) or RC_NOMEM; *out is NULL on failure. */
int inj_probes_env(const json_t *probers, char **out);

/* inj_json_go_dumps serialises v compactly in its key order and escapes
 * strings like Go's encoding/json: '<' '>' '&' as \u003c \u003e \u0026,
 * U+2028/U+2029 as \u2028/\u2029, lower-case hex. *out is a new string
 * (mem_free); 0 or RC_NOMEM (*out NULL). */
int inj_json_go_dumps(const json_t *v, char **out);

#endif
