/* wh_metrics.h: the webhook's Prometheus counters and latency histogram.
 *
 * Process-wide lock-free counters (relaxed atomics): recording never
 * allocates or blocks, so it is safe on every request path. Rendering
 * writes the Prometheus text exposition format (version 0.0.4). */
#ifndef MZ_WH_METRICS_H
#define MZ_WH_METRICS_H

#include <stdint.h>

struct buf;

/* What an admission request came to. */
enum wh_decision {
    WH_INJECTED = 0, /* allowed, with a patch */
    WH_SKIPPED,      /* a pod that the policy leaves alone: allowed */
    WH_REFUSED,      /* invalid annotations: allowed false */
    WH_IGNORED,      /* not a pod, not CREATE: allowed, no patch */
    WH_BADREQ,       /* the HTTP request itself was rejected (4xx) */
    WH_ERROR,        /* the webhook failed (5xx) */
    WH_DECISION_COUNT
};

const char *wh_decision_name(enum wh_decision d);

enum wh_reload_kind { WH_RELOAD_CONFIG = 0, WH_RELOAD_CERT };

/* wh_metrics_request counts one HTTP request to any endpoint by status. */
void wh_metrics_request(unsigned http_code);
/* wh_metrics_admission counts an /inject request: its decision and its
 * duration (nanoseconds, from the first byte of the request to the queued
 * response) into the histogram. */
void wh_metrics_admission(enum wh_decision d, uint64_t dur_ns);
void wh_metrics_reload(enum wh_reload_kind kind, int ok);
void wh_metrics_set_ready(int config_ok, int cert_ok);
void wh_metrics_inflight(int delta);

/* wh_metrics_get_* read single values (tests and /readyz). */
uint64_t wh_metrics_get_requests(unsigned http_code);
uint64_t wh_metrics_get_admissions(enum wh_decision d);
uint64_t wh_metrics_get_reloads(enum wh_reload_kind kind, int ok);

/* wh_metrics_render appends the exposition text: 0, RC_NOMEM, RC_LIMIT. */
int wh_metrics_render(struct buf *out);

/* wh_metrics_reset zeroes everything (tests). */
void wh_metrics_reset(void);

#endif
