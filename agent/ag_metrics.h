/* ag_metrics.h: the agent's own counters and the merge of Prometheus text
 * scrapes (agent + Envoy + app) into one /stats/prometheus answer.
 *
 * The merge is pure text handling: sources are appended in order, each
 * ending in a newline; OpenMetrics "# EOF" lines are dropped; a metric
 * family that an earlier source already produced is dropped from later
 * sources (its # HELP, # TYPE and samples), because a scrape with one
 * family twice is rejected by Prometheus as a whole. */
#ifndef MZ_AG_METRICS_H
#define MZ_AG_METRICS_H

#include "lib/buf.h"

#include <stdatomic.h>
#include <stddef.h>

struct ag_stats {
    atomic_ulong envoy_starts;    /* every Envoy process started */
    atomic_ulong hot_restarts;    /* epoch+1 starts on a cert change */
    atomic_ulong envoy_crashes;   /* unexpected exits of the current Envoy */
    atomic_ulong cert_changes;    /* certificate content changes seen */
    atomic_ulong probes;          /* app probes run */
    atomic_ulong probe_failures;  /* of which answered >= 400 */
    atomic_ulong scrape_failures; /* Envoy or app scrapes that failed */
    atomic_long epoch;            /* current restart epoch, -1: none */
    atomic_int envoy_up;          /* the current Envoy is running */
};

struct ag_metrics_src {
    const char *name; /* "agent", "envoy", "app": for the counts */
    const char *text;
    size_t len;
};

/* ag_metrics_merge appends the merged text of src[0..n) to out. *dropped
 * (may be NULL) gets the number of lines dropped as duplicates. 0,
 * RC_LIMIT (out's cap), RC_NOMEM; on failure out holds a prefix. */
int ag_metrics_merge(struct buf *out, const struct ag_metrics_src *src,
                     size_t n, size_t *dropped);

/* ag_stats_render writes the agent's metrics in Prometheus text format. */
int ag_stats_render(struct buf *out, struct ag_stats *st,
                    unsigned long log_dropped);

#endif
