/* ag_http.h: the agent's outgoing HTTP requests (libcurl easy handles),
 * always with a deadline and a cap on the body kept.
 *
 * Used for Envoy's admin API, app probes (HTTP/1.1 and gRPC over h2c),
 * scrapes and `mizzen-agent wait`. Thread-safe: one handle per call (the
 * status server calls it from its connection threads). libcurl must have
 * been initialised (ag_http_global_init) before any thread starts. */
#ifndef MZ_AG_HTTP_H
#define MZ_AG_HTTP_H

#include "lib/buf.h"

#include <stddef.h>

struct ag_http_req {
    const char *method; /* NULL: GET */
    const char *url;
    long timeout_ms;            /* whole request; <= 0: 1000 */
    size_t max_body;            /* body kept in resp->body; 0: discard */
    const char *source;         /* local IPv4 to bind, NULL: any */
    const char *const *headers; /* "Name: value", NULL-terminated */
    const void *body;           /* request body (POST), may be NULL */
    size_t body_len;
    int insecure;      /* HTTPS without certificate checks (probes) */
    int h2c;           /* HTTP/2 with prior knowledge (gRPC) */
    int fail_over_max; /* 1: a body over max_body is RC_LIMIT; 0: cut */
};

struct ag_http_resp {
    long status;     /* HTTP status */
    struct buf body; /* capped at max_body */
    int grpc_status; /* grpc-status header or trailer, -1 when absent */
    int truncated;   /* the body went over max_body and was cut */
    char content_type[128];
};

/* ag_http_global_init: curl_global_init; 0 or RC_INTERNAL. */
int ag_http_global_init(void);
void ag_http_global_cleanup(void);

/* ag_http_do performs rq. resp must be caller storage; it is initialised
 * here and must be released with ag_http_resp_cleanup whatever the result.
 * 0: a response arrived (any status); RC_TIMEOUT; RC_LIMIT (body over the
 * cap with fail_over_max); RC_IO (connect/transfer failure, message says
 * why); RC_NOMEM. */
int ag_http_do(const struct ag_http_req *rq, struct ag_http_resp *resp);
void ag_http_resp_cleanup(struct ag_http_resp *resp);

/* ag_http_url_host writes host into dst as it goes into an URL: IPv6
 * literals in brackets. */
void ag_http_url_host(const char *host, char *dst, size_t dstn);

#endif
