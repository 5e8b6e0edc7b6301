/* op_metrics.h: the operator's monitoring endpoint (--metrics-addr):
 *   GET /metrics  Prometheus text: leadership, writes by kind, conflicts,
 *                 errors, deferred renewals, cache sizes, queue depth, the
 *                 root rotation phase and the signing root's notAfter
 *   GET /healthz  200 once every informer has synced
 *   GET /readyz   200 once a CA is loaded (this replica can issue)
 * Reads only counters and caches: it never calls the API server. */
#ifndef MZ_OP_METRICS_H
#define MZ_OP_METRICS_H

#include <stddef.h>

struct buf;
struct op_ctx;
struct op_metrics;

/* op_metrics_start listens on addr ("host:port", "[v6]:port" or ":port"
 * for all IPv4 addresses). RC_INVAL (bad address), RC_IO (cannot listen).
 * *out only on success. */
int op_metrics_start(struct op_metrics **out, struct op_ctx *c,
                     const char *addr);
/* op_metrics_port: the port listened on (useful with port 0). */
int op_metrics_port(const struct op_metrics *m);
void op_metrics_stop(struct op_metrics *m); /* NULL is a no-op */

/* op_metrics_render appends the Prometheus text of c to out. */
int op_metrics_render(struct op_ctx *c, struct buf *out);

#endif
