/* wh_metrics.c: counters, histogram and their Prometheus rendering.
 *
 * Names follow Prometheus conventions under the mizzen_webhook_ prefix; the
 * sidecar_injection_* counters carry the names istiod exports, so existing
 * dashboards keep working. */
#include "webhook/wh_metrics.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_sockopt.h"

#include <stdatomic.h>
#include <string.h>

/* HTTP statuses the webhook answers with; anything else lands in "other". */
static const unsigned codes[] = {200, 400, 404, 405, 413, 415, 500, 503};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

/* Upper bounds of the latency buckets, in microseconds. */
static const uint64_t bounds_us[] = {100,   250,    500,    1000,
                                     2500,  5000,   10000,  25000,
                                     50000, 100000, 250000, 1000000};
#define NBOUNDS (sizeof(bounds_us) / sizeof(bounds_us[0]))

static struct {
    atomic_uint_fast64_t req[NCODES + 1];
    atomic_uint_fast64_t adm[WH_DECISION_COUNT];
    atomic_uint_fast64_t bucket[NBOUNDS + 1]; /* non-cumulative */
    atomic_uint_fast64_t sum_ns;
    atomic_uint_fast64_t reload[2][2]; /* [kind][ok] */
    atomic_int inflight;
    atomic_int config_ok, cert_ok;
} M;

static const char *const decision_names[WH_DECISION_COUNT] = {
    "injected", "skipped", "refused", "ignored", "bad_request", "error"};

const char *
wh_decision_name(enum wh_decision d)
{
    return (unsigned)d < WH_DECISION_COUNT ? decision_names[d] : "unknown";
}

static unsigned
code_index(unsigned code)
{
    for (unsigned i = 0; i < NCODES; i++)
        if (codes[i] == code)
            return i;
    return NCODES;
}

void
wh_metrics_request(unsigned http_code)
{
    atomic_fetch_add_explicit(&M.req[code_index(http_code)], 1,
                              memory_order_relaxed);
}

void
wh_metrics_admission(enum wh_decision d, uint64_t dur_ns)
{
    unsigned i = 0;
    uint64_t us = dur_ns / 1000;

    if ((unsigned)d < WH_DECISION_COUNT)
        atomic_fetch_add_explicit(&M.adm[d], 1, memory_order_relaxed);
    while (i < NBOUNDS && us > bounds_us[i])
        i++;
    atomic_fetch_add_explicit(&M.bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&M.sum_ns, dur_ns, memory_order_relaxed);
}

void
wh_metrics_reload(enum wh_reload_kind kind, int ok)
{
    atomic_fetch_add_explicit(&M.reload[kind != 0][ok != 0], 1,
                              memory_order_relaxed);
}

void
wh_metrics_set_ready(int config_ok, int cert_ok)
{
    atomic_store(&M.config_ok, config_ok);
    atomic_store(&M.cert_ok, cert_ok);
}

void
wh_metrics_inflight(int delta)
{
    atomic_fetch_add_explicit(&M.inflight, delta, memory_order_relaxed);
}

uint64_t
wh_metrics_get_requests(unsigned http_code)
{
    return atomic_load(&M.req[code_index(http_code)]);
}

uint64_t
wh_metrics_get_admissions(enum wh_decision d)
{
    return (unsigned)d < WH_DECISION_COUNT ? atomic_load(&M.adm[d]) : 0;
}

uint64_t
wh_metrics_get_reloads(enum wh_reload_kind kind, int ok)
{
    return atomic_load(&M.reload[kind != 0][ok != 0]);
}

void
wh_metrics_reset(void)
{
    for (unsigned i = 0; i <= NCODES; i++)
        atomic_store(&M.req[i], 0);
    for (unsigned i = 0; i < WH_DECISION_COUNT; i++)
        atomic_store(&M.adm[i], 0);
    for (unsigned i = 0; i <= NBOUNDS; i++)
        atomic_store(&M.bucket[i], 0);
    atomic_store(&M.sum_ns, 0);
    for (unsigned k = 0; k < 2; k++)
        for (unsigned o = 0; o < 2; o++)
            atomic_store(&M.reload[k][o], 0);
    atomic_store(&M.inflight, 0);
}

#define LD(x)                                                                  \
    ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

int
wh_metrics_render(struct buf *out)
{
    int rc = 0;
    unsigned long long cum = 0, total = 0;
    static const char *const kinds[2] = {"config", "cert"};

    rc |= buf_addstr(out, "# HELP mizzen_webhook_requests_total HTTP "
                          "requests by status code.\n"
                          "# TYPE mizzen_webhook_requests_total counter\n");
    for (unsigned i = 0; i < NCODES; i++)
        rc |= buf_addf(out, "mizzen_webhook_requests_total{code=\"%u\"} %llu\n",
                       codes[i], LD(M.req[i]));
    rc |= buf_addf(out, "mizzen_webhook_requests_total{code=\"other\"} %llu\n",
                   LD(M.req[NCODES]));

    rc |= buf_addstr(out, "# HELP mizzen_webhook_admissions_total /inject "
                          "requests by decision.\n"
                          "# TYPE mizzen_webhook_admissions_total counter\n");
    for (unsigned d = 0; d < WH_DECISION_COUNT; d++) {
        rc |= buf_addf(out,
                       "mizzen_webhook_admissions_total{decision=\"%s\"} "
                       "%llu\n",
                       decision_names[d], LD(M.adm[d]));
        total += LD(M.adm[d]);
    }

    rc |= buf_addstr(out, "# HELP mizzen_webhook_request_duration_seconds "
                          "/inject latency, request to queued response.\n"
                          "# TYPE mizzen_webhook_request_duration_seconds "
                          "histogram\n");
    for (unsigned i = 0; i < NBOUNDS; i++) {
        cum += LD(M.bucket[i]);
        rc |= buf_addf(out,
                       "mizzen_webhook_request_duration_seconds_bucket{le=\""
                       "%g\"} %llu\n",
                       (double)bounds_us[i] / 1e6, cum);
    }
    cum += LD(M.bucket[NBOUNDS]);
    rc |= buf_addf(out,
                   "mizzen_webhook_request_duration_seconds_bucket{le=\"+Inf\"}"
                   " %llu\n"
                   "mizzen_webhook_request_duration_seconds_sum %.9f\n"
                   "mizzen_webhook_request_duration_seconds_count %llu\n",
                   cum, (double)LD(M.sum_ns) / 1e9, cum);

    rc |= buf_addstr(out, "# HELP mizzen_webhook_reloads_total Reloads of "
                          "configuration and certificate files.\n"
                          "# TYPE mizzen_webhook_reloads_total counter\n");
    for (unsigned k = 0; k < 2; k++) {
        rc |= buf_addf(out,
                       "mizzen_webhook_reloads_total{kind=\"%s\",result=\"ok\"}"
                       " %llu\n",
                       kinds[k], LD(M.reload[k][1]));
        rc |= buf_addf(out,
                       "mizzen_webhook_reloads_total{kind=\"%s\",result="
                       "\"failed\"} %llu\n",
                       kinds[k], LD(M.reload[k][0]));
    }
    rc |= buf_addf(out,
                   "# HELP mizzen_webhook_ready Whether a valid injector "
                   "configuration and serving certificate are loaded.\n"
                   "# TYPE mizzen_webhook_ready gauge\n"
                   "mizzen_webhook_ready{part=\"config\"} %d\n"
                   "mizzen_webhook_ready{part=\"cert\"} %d\n"
                   "# HELP mizzen_webhook_inflight Requests being served.\n"
                   "# TYPE mizzen_webhook_inflight gauge\n"
                   "mizzen_webhook_inflight %d\n",
                   atomic_load(&M.config_ok), atomic_load(&M.cert_ok),
                   atomic_load(&M.inflight));
    rc |= buf_addf(out,
                   "# HELP mizzen_webhook_log_dropped_total Log lines dropped "
                   "because the log queue was full.\n"
                   "# TYPE mizzen_webhook_log_dropped_total counter\n"
                   "mizzen_webhook_log_dropped_total %llu\n"
                   "# HELP mizzen_webhook_arena_leaks_total JSON allocations "
                   "of a request never freed (a bug; 0 expected).\n"
                   "# TYPE mizzen_webhook_arena_leaks_total counter\n"
                   "mizzen_webhook_arena_leaks_total %ld\n"
                   "# HELP mizzen_webhook_tcp_setsockopt_skipped_total "
                   "Redundant TCP_NODELAY calls of libmicrohttpd not made.\n"
                   "# TYPE mizzen_webhook_tcp_setsockopt_skipped_total "
                   "counter\n"
                   "mizzen_webhook_tcp_setsockopt_skipped_total %llu\n",
                   (unsigned long long)log_dropped(), mem_arena_leaks(),
                   (unsigned long long)wh_sockopt_skipped());
    /* istiod's names (pilot/pkg/..., sidecar injection metrics) */
    rc |= buf_addf(
        out,
        "# HELP sidecar_injection_requests_total Total number of sidecar "
        "injection requests.\n"
        "# TYPE sidecar_injection_requests_total counter\n"
        "sidecar_injection_requests_total %llu\n"
        "# HELP sidecar_injection_success_total Total number of successful "
        "sidecar injection requests.\n"
        "# TYPE sidecar_injection_success_total counter\n"
        "sidecar_injection_success_total %llu\n"
        "# HELP sidecar_injection_skip_total Total number of skipped sidecar "
        "injection requests.\n"
        "# TYPE sidecar_injection_skip_total counter\n"
        "sidecar_injection_skip_total %llu\n"
        "# HELP sidecar_injection_failure_total Total number of failed "
        "sidecar injection requests.\n"
        "# TYPE sidecar_injection_failure_total counter\n"
        "sidecar_injection_failure_total %llu\n",
        total, LD(M.adm[WH_INJECTED]),
        LD(M.adm[WH_SKIPPED]) + LD(M.adm[WH_IGNORED]),
        LD(M.adm[WH_REFUSED]) + LD(M.adm[WH_BADREQ]) + LD(M.adm[WH_ERROR]));
    /* buf ops return 0 or a negative RC; OR-ing negatives stays negative */
    return rc < 0 ? (rc == RC_LIMIT ? RC_LIMIT : RC_NOMEM) : 0;
}
