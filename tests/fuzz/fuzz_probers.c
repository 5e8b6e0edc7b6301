/* fuzz_probers.c: the agent's parsers of pod-controlled input never crash,
 * never leak, and what they accept is safe to put into URLs and headers.
 *
 * Input: the first byte picks the parser, the rest is its text:
 *   0 ISTIO_KUBE_APP_PROBERS      every accepted entry has a valid prober
 *                                 path, a port in 1..65535, a path starting
 *                                 with '/', no CR/LF/space in what goes into
 *                                 the URL, no CR/LF in headers; look-ups
 *                                 find every entry
 *   1 ISTIO_PROMETHEUS_ANNOTATIONS
 *   2 downward API file (labels / annotations)
 *   3 PROXY_CONFIG (ag_opts_apply_proxy_config over the defaults)
 *   4 Envoy /stats text for readiness
 *   5 Prometheus texts to merge (sources separated by NUL bytes)
 *   6 a gRPC health response frame
 *   7 a duration */
#include "agent/ag_inputs.h"
#include "agent/ag_metrics.h"
#include "agent/ag_opts.h"
#include "agent/ag_probe.h"
#include "agent/ag_status.h"
#include "lib/buf.h"
#include "lib/mem.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
url_clean(const char *s)
{
    for (; *s; s++)
        assert((unsigned char)*s > 0x20 && (unsigned char)*s < 0x7f);
}

static void
check_probers(const struct ag_probers *p)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct ag_prober *x = &p->v[i];

        assert(ag_prober_path_valid(x->url_path));
        assert(ag_probers_find(p, x->url_path) == x);
        assert(x->port >= 1 && x->port <= 65535);
        assert(x->timeout_s >= 1 && x->timeout_s <= 3600);
        assert(x->host != NULL);
        url_clean(x->url_path);
        if (*x->host)
            url_clean(x->host);
        if (x->kind == AG_PROBE_HTTP) {
            assert(x->http_path && x->http_path[0] == '/');
            url_clean(x->http_path);
            for (size_t h = 0; h < x->nheaders; h++) {
                assert(!strpbrk(x->headers[h].name, "\r\n: "));
                assert(!strpbrk(x->headers[h].value, "\r\n"));
            }
        } else if (x->kind == AG_PROBE_GRPC) {
            assert(x->grpc_service && !strpbrk(x->grpc_service, "\r\n"));
        } else {
            assert(x->kind == AG_PROBE_TCP);
        }
    }
    for (size_t i = 1; i < p->n; i++)
        assert(strcmp(p->v[i - 1].url_path, p->v[i].url_path) < 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data + 1;
    size_t n = size ? size - 1 : 0;
    char *z;

    if (size == 0)
        return 0;
    mem_init_jansson();
    z = malloc(n + 1); /* a NUL-terminated copy for the string parsers */
    if (z == NULL)
        return 0;
    memcpy(z, text, n);
    z[n] = '\0';
    switch (data[0] % 8) {
    case 0: {
        struct ag_probers p;

        if (ag_probers_parse(&p, text, n) == 0) {
            check_probers(&p);
            ag_probers_cleanup(&p);
        } else {
            assert(p.n == 0 && p.v == NULL);
        }
        break;
    }
    case 1: {
        struct ag_prom p;

        if (ag_prom_parse(&p, text, n) == 0) {
            /* empty input: nothing to scrape, no path */
            assert(p.path != NULL || (n == 0 && !p.scrape));
            if (p.path) {
                assert(p.path[0] == '/');
                url_clean(p.path);
            }
            assert(!p.scrape || (p.port >= 1 && p.port <= 65535));
            ag_prom_cleanup(&p);
        }
        break;
    }
    case 2: {
        json_t *o = NULL;

        if (ag_podinfo_parse(&o, text, n) == 0) {
            char *dump = json_dumps(o, JSON_COMPACT);

            assert(json_is_object(o));
            assert(dump != NULL); /* valid UTF-8 all through */
            free(dump);
            json_decref(o);
        } else {
            assert(o == NULL);
        }
        break;
    }
    case 3: {
        struct ag_opts o;

        if (ag_opts_init(&o) == 0 &&
            ag_opts_apply_proxy_config(&o, text, n, NULL) == 0) {
            assert(o.status_port >= 0 && o.status_port <= 65535);
            assert(o.admin_port >= 0 && o.admin_port <= 65535);
            assert(o.drain_ms >= 0 && o.envoy_drain_ms >= 0);
            assert(o.envoy_binary && o.config_dir && o.discovery_address);
        }
        ag_opts_cleanup(&o);
        break;
    }
    case 4: {
        char why[160];

        (void)ag_ready_eval(text, n, why, sizeof why);
        break;
    }
    case 5: {
        struct ag_metrics_src src[4];
        struct buf out;
        size_t k = 0, start = 0, dropped = 0;

        for (size_t i = 0; i <= n && k < 4; i++)
            if (i == n || text[i] == '\0') {
                src[k].name = "src";
                src[k].text = text + start;
                src[k].len = i - start;
                k++;
                start = i + 1;
            }
        buf_init(&out, 1 << 20);
        if (ag_metrics_merge(&out, src, k, &dropped) == 0 && out.len > 0)
            assert(out.ptr[out.len - 1] == '\n');
        buf_cleanup(&out);
        break;
    }
    case 6: {
        int st = ag_grpc_health_status((const unsigned char *)text, n);

        assert(st >= -1 && st <= 3);
        break;
    }
    default: {
        long ms = -1;

        if (ag_duration_ms(z, &ms) == 0)
            assert(ms >= 0 && ms <= 30L * 24 * 3600 * 1000);
        break;
    }
    }
    free(z);
    return 0;
}
