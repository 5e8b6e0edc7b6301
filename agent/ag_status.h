/* ag_status.h: the agent's status server (port 15020) on libmicrohttpd.
 *
 *   GET  /healthz/ready       200 when Envoy is ready (see ag_ready_eval),
 *                              503 otherwise and while shutting down
 *   *    /app-health/<c>/{readyz,livez,startupz}
 *   *    /app-lifecycle/<c>/{prestopz,poststartz}
 *                              the original probe from
 *                              ISTIO_KUBE_APP_PROBERS; unknown: 400
 *   GET  /stats/prometheus, /metrics
 *                              agent + Envoy + app metrics merged
 *   POST /quitquitquit         (loopback peers only) stop at once
 *   POST /drain                (loopback peers only) drain inbound
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION) with a
 * connection cap, so a slow app probe or scrape only holds its own
 * connection; every outgoing request has a deadline. */
#ifndef MZ_AG_STATUS_H
#define MZ_AG_STATUS_H

#include "agent/ag_bootstrap.h"
#include "agent/ag_inputs.h"
#include "agent/ag_metrics.h"
#include "agent/ag_opts.h"
#include "agent/ag_probe.h"

#include <stdatomic.h>
#include <stddef.h>

typedef void (*ag_status_notify_fn)(void *arg);

struct ag_status_cfg {
    const struct ag_opts *o;
    const struct ag_node *node;
    const struct ag_probers *probers;
    const struct ag_prom *prom;
    struct ag_probe_ctx probe;
    struct ag_stats *stats;
    atomic_int *shutting_down; /* readiness fails while set */
    ag_status_notify_fn on_quit;
    ag_status_notify_fn on_drain;
    void *arg;
};

struct ag_status;

/* ag_status_start listens on cfg->o->status_port (all interfaces) and
 * serves until ag_status_stop. cfg and what it points to must outlive the
 * server. 0, RC_IO (bind failed), RC_NOMEM. */
int ag_status_start(struct ag_status **out, const struct ag_status_cfg *cfg);
void ag_status_stop(struct ag_status *s); /* NULL: no-op */

/* ag_ready_eval decides readiness from Envoy's admin /stats text
 * ("name: value" lines): server.state 0 (LIVE), listener_manager.
 * workers_started 1, and cluster_manager.cds.update_success and
 * listener_manager.lds.update_success above 0. Returns 1 when ready; else
 * 0 with the first unmet condition in why. Pure. */
int ag_ready_eval(const char *text, size_t len, char *why, size_t whyn);

#endif
