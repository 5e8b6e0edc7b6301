/* ag_metrics.c: Prometheus text merge and the agent's own metrics
 * (ag_metrics.h).
 *
 * Families are tracked in a small open-addressing set mapping a family
 * name to the index of the source that produced it first. A sample line
 * belongs to the family of the last # HELP/# TYPE line when its name is
 * that family or the family plus a histogram/summary/counter suffix;
 * otherwise it is a family of its own (untyped). */
#include "agent/ag_metrics.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <string.h>

struct fam {
    char *name; /* NULL: empty slot */
    size_t src;
};

struct famset {
    struct fam *v;
    size_t cap, n;
};

static unsigned long
fnv(const char *p, size_t n)
{
    unsigned long h = 1469598103934665603UL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211UL;
    return h;
}

static struct fam *
fam_slot(struct famset *s, const char *name, size_t n)
{
    size_t i = fnv(name, n) & (s->cap - 1);

    while (s->v[i].name &&
           !(strlen(s->v[i].name) == n && memcmp(s->v[i].name, name, n) == 0))
        i = (i + 1) & (s->cap - 1);
    return &s->v[i];
}

static int
fam_grow(struct famset *s)
{
    struct famset t = {NULL, s->cap ? s->cap * 2 : 64, 0};

    t.v = mem_calloc(t.cap, sizeof *t.v);
    if (t.v == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    for (size_t i = 0; i < s->cap; i++)
        if (s->v[i].name) {
            *fam_slot(&t, s->v[i].name, strlen(s->v[i].name)) = s->v[i];
            t.n++;
        }
    mem_free(s->v);
    *s = t;
    return 0;
}

/* fam_claim: the source that owns family name[0..n): src if new. */
static int
fam_claim(struct famset *s, const char *name, size_t n, size_t src,
          size_t *owner)
{
    struct fam *f;

    if ((s->n + 1) * 2 > s->cap && fam_grow(s) != 0)
        return RC_NOMEM;
    f = fam_slot(s, name, n);
    if (f->name == NULL) {
        f->name = mem_strndup(name, n);
        if (f->name == NULL)
            return errmsg_set(RC_NOMEM, "out of memory");
        f->src = src;
        s->n++;
    }
    *owner = f->src;
    return 0;
}

static void
fam_free(struct famset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        mem_free(s->v[i].name);
    mem_free(s->v);
}

static size_t
name_len(const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && p[i] != '{' && p[i] != ' ' && p[i] != '\t')
        i++;
    return i;
}

static int
in_family(const char *name, size_t n, const char *fam, size_t fn)
{
    static const char *const sfx[] = {"_bucket", "_sum",     "_count",
                                      "_total",  "_created", "_info",
                                      "_gcount", "_gsum",    NULL};

    if (fn == 0 || n < fn || memcmp(name, fam, fn) != 0)
        return 0;
    if (n == fn)
        return 1;
    for (int i = 0; sfx[i]; i++)
        if (n - fn == strlen(sfx[i]) && memcmp(name + fn, sfx[i], n - fn) == 0)
            return 1;
    return 0;
}

int
ag_metrics_merge(struct buf *out, const struct ag_metrics_src *src, size_t n,
                 size_t *dropped)
{
    struct famset set = {NULL, 0, 0};
    size_t drop = 0;
    int rc = 0;

    for (size_t s = 0; s < n && rc == 0; s++) {
        const char *p = src[s].text, *end = src[s].text + src[s].len;
        const char *fam = NULL; /* current family: a slice of the text */
        size_t fn = 0;
        int skip = 0; /* the current family belongs to an earlier source */

        while (p < end && rc == 0) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
            int keep = 1;

            if (ll > 0 && p[ll - 1] == '\r')
                ll--;
            if (ll == 5 && memcmp(p, "# EOF", 5) == 0) {
                keep = 0;
            } else if (ll > 7 && (memcmp(p, "# HELP ", 7) == 0 ||
                                  memcmp(p, "# TYPE ", 7) == 0)) {
                const char *nm = p + 7;
                size_t nml = name_len(nm, ll - 7), owner = s;

                if (!(fam && nml == fn && memcmp(nm, fam, fn) == 0)) {
                    fam = nm;
                    fn = nml;
                    rc = fam_claim(&set, fam, fn, s, &owner);
                    skip = owner != s;
                }
                keep = !skip;
            } else if (ll > 0 && p[0] != '#') {
                size_t nml = name_len(p, ll), owner = s;

                if (in_family(p, nml, fam, fn)) {
                    keep = !skip;
                } else {
                    fam = NULL;
                    fn = 0;
                    rc = fam_claim(&set, p, nml, s, &owner);
                    keep = owner == s;
                }
            }
            if (rc == 0 && keep && ll > 0) {
                rc = buf_add(out, p, ll);
                rc = rc ? rc : buf_addc(out, '\n');
            } else if (!keep) {
                drop++;
            }
            p = nl ? nl + 1 : end;
        }
    }
    fam_free(&set);
    if (dropped)
        *dropped = drop;
    return rc;
}

int
ag_stats_render(struct buf *out, struct ag_stats *st, unsigned long log_dropped)
{
    struct {
        const char *name, *type, *help;
        unsigned long v;
    } m[] = {
        {"mizzen_agent_envoy_starts_total", "counter",
         "Envoy processes started", atomic_load(&st->envoy_starts)},
        {"mizzen_agent_envoy_hot_restarts_total", "counter",
         "Hot restarts (epoch+1) after a certificate change",
         atomic_load(&st->hot_restarts)},
        {"mizzen_agent_envoy_crashes_total", "counter",
         "Unexpected exits of the current Envoy",
         atomic_load(&st->envoy_crashes)},
        {"mizzen_agent_cert_changes_total", "counter",
         "Certificate content changes seen in the certs dir",
         atomic_load(&st->cert_changes)},
        {"mizzen_agent_app_probes_total", "counter",
         "App probes run for the kubelet", atomic_load(&st->probes)},
        {"mizzen_agent_app_probe_failures_total", "counter",
         "App probes answered with a failure status",
         atomic_load(&st->probe_failures)},
        {"mizzen_agent_scrape_failures_total", "counter",
         "Envoy or app metric scrapes that failed",
         atomic_load(&st->scrape_failures)},
        {"mizzen_agent_log_dropped_total", "counter",
         "Log lines dropped because the log queue was full", log_dropped},
        {"mizzen_agent_envoy_up", "gauge", "1 while the current Envoy runs",
         (unsigned long)atomic_load(&st->envoy_up)},
    };
    long epoch = atomic_load(&st->epoch);
    int rc = 0;

    for (size_t i = 0; i < sizeof m / sizeof m[0] && rc == 0; i++)
        rc = buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n%s %lu\n", m[i].name,
                      m[i].help, m[i].name, m[i].type, m[i].name, m[i].v);
    if (rc == 0)
        rc = buf_addf(out,
                      "# HELP mizzen_agent_envoy_restart_epoch Restart "
                      "epoch of the current Envoy (-1: none)\n"
                      "# TYPE mizzen_agent_envoy_restart_epoch gauge\n"
                      "mizzen_agent_envoy_restart_epoch %ld\n",
                      epoch);
    return rc;
}
