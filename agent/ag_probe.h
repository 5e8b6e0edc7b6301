/* ag_probe.h: running one of the app's original probes (httpGet,
 * tcpSocket, gRPC health) on behalf of the kubelet.
 *
 * The target is the probe's host, else the pod IP, else (legacy localhost
 * mode, REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION=true) 127.0.0.1/::1.
 * Connections to an IPv4 target leave from the configured source address
 * (127.0.0.6 by default) so the iptables rules let them through, as in
 * Istio. Each probe is bounded by its timeoutSeconds. Thread-safe. */
#ifndef MZ_AG_PROBE_H
#define MZ_AG_PROBE_H

#include "agent/ag_inputs.h"

#include <stddef.h>

struct ag_probe_ctx {
    const char *pod_ip; /* INSTANCE_IP (first) */
    int localhost;      /* probe 127.0.0.1/::1 instead of the pod IP */
    const char *source; /* IPv4 source address, "" or NULL: any */
};

/* ag_probe_run runs p and returns the HTTP status for the kubelet in *code:
 * httpGet relays the app's status; tcpSocket and gRPC give 200 on success;
 * any failure (refused, timeout, NOT_SERVING) gives 500, as Istio. msg
 * gets a short reason (never the app's body). Never fails otherwise. */
void ag_probe_run(const struct ag_prober *p, const struct ag_probe_ctx *c,
                  int *code, char *msg, size_t msgn);

/* ag_grpc_health_request encodes grpc.health.v1.HealthCheckRequest with
 * its gRPC frame into dst; returns the length, or 0 if dst is too small. */
size_t ag_grpc_health_request(const char *service, unsigned char *dst,
                              size_t dstn);

/* ag_grpc_health_status decodes a gRPC-framed HealthCheckResponse and
 * returns its status (0 UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3
 * SERVICE_UNKNOWN), or -1 when the bytes are not one. */
int ag_grpc_health_status(const unsigned char *p, size_t n);

#endif
