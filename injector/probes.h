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
 * 0 or RC_NOMEM (pod_spec may then be partly rewritten: callers work on a
 * copy). */
int inj_probes_rewrite(json_t *pod_spec, const char *const *skip,
                       int status_port, json_t *probers);

#endif
