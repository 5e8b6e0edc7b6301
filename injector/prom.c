/* prom.c: Prometheus metrics merge (Istio's applyPrometheusMerge), pure.
 *
 * Annotation keys are matched the way Prometheus sees them: Istio's
 * sanitizeLabelName turns every character outside [a-zA-Z0-9_] into '_'
 * (case is kept), so "prometheus.io/scrape", "prometheus.io.scrape" and
 * "prometheus-io/scrape" are one key. On RC_INVAL nothing is changed; all
 * checks run before the first edit. */
#include "injector/prom.h"

#include "injector/probes.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
#include <string.h>

#define ANN_MERGE "prometheus.istio.io/merge-metrics"
#define ANN_TARGETS "prometheus.istio.io/scrape-targets"
#define MERGED_PATH "/stats/prometheus"

static const struct {
    int port;
    const char *what;
} reserved[] = {
    {15000, "Envoy admin"},
    {15001, "outbound traffic capture"},
    {15004, "pilot-agent debug"},
    {15006, "inbound traffic capture"},
    {15008, "HBONE tunnel"},
    {15009, "HBONE tunnel (plaintext)"},
    {15020, "merged Prometheus / status"},
    {15021, "Envoy health"},
    {15053, "DNS proxy"},
    {15090, "Envoy Prometheus"},
};

enum field { F_SCRAPE, F_PATH, F_PORT, F_COUNT };

static const char *const sanitized[F_COUNT] = {
    "prometheus_io_scrape", "prometheus_io_path", "prometheus_io_port"};
static const char *const standard[F_COUNT] = {
    "prometheus.io/scrape", "prometheus.io/path", "prometheus.io/port"};

static int
is_label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* label_eq: does key, sanitised like a Prometheus label name, equal want?
 * A multi-byte UTF-8 character counts as one replaced character, as Go's
 * regexp works on runes. */
static int
label_eq(const char *key, const char *want)
{
    const unsigned char *k = (const unsigned char *)key;

    while (*k != '\0') {
        char c;
        if (is_label_char(*k)) {
            c = (char)*k++;
        } else {
            c = '_';
            if (*k++ >= 0xc0) {
                while (*k >= 0x80 && *k < 0xc0)
                    k++;
            }
        }
        if (*want++ != c)
            return 0;
    }
    return *want == '\0';
}

static int
field_of(const char *key)
{
    for (int f = 0; f < F_COUNT; f++) {
        if (label_eq(key, sanitized[f]))
            return f;
    }
    return -1;
}

/* go_bool: Go's strconv.ParseBool. 1/0, or -1 when s is not a bool. */
static int
go_bool(const char *s)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};

    if (s == NULL)
        return -1;
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(s, t[i]) == 0)
            return 1;
        if (strcmp(s, f[i]) == 0)
            return 0;
    }
    return -1;
}

/* num_port reads s[0..n) as decimal digits (leading zeros allowed, as the
 * agent dials "015020" as 15020); -1 when it is not a number 0..65535. */
static long
num_port(const char *s, size_t n)
{
    long v = 0;

    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > 65535)
            return -1;
    }
    return v;
}

/* check_port refuses a port that would make the agent scrape itself or an
 * Istio data-plane listener. */
static int
check_port(const char *ann, const char *s, size_t n, int status_port)
{
    long p = num_port(s, n);

    if (p < 0)
        return 0; /* not a number: the agent reports it */
    if (p == status_port)
        return errmsg_set(RC_INVAL,
                          "annotation %s: port %ld is the proxy status port "
                          "(the merged metrics endpoint itself)",
                          ann, p);
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (reserved[i].port == p)
            return errmsg_set(RC_INVAL,
                              "annotation %s: port %ld is reserved by Istio "
                              "(%s)",
                              ann, p, reserved[i].what);
    }
    return 0;
}

/* check_targets checks every "port[:path]" entry of scrape-targets. */
static int
check_targets(const char *s, int status_port)
{
    for (const char *p = s;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        int rc = check_port(ANN_TARGETS, p, colon ? (size_t)(colon - p) : len,
                            status_port);
        if (rc != 0)
            return rc;
        if (e == NULL)
            return 0;
        p = e + 1;
    }
}

/* build_env serialises the app's values exactly as Go's json.Marshal writes
 * Istio's PrometheusScrapeConfiguration: no omitempty, so all three keys in
 * struct order, "" for an absent one; then mizzen's raw "scrape-targets"
 * when present. *out stays NULL when every value is empty (Istio adds no
 * env when scrape == emptyScrape). */
static int
build_env(const char *const val[F_COUNT], const char *targets, char **out)
{
    static const char *const names[F_COUNT] = {"scrape", "path", "port"};
    json_t *o; /* owned */
    int empty = targets == NULL || *targets == '\0';
    int rc = 0;

    *out = NULL;
    for (int f = 0; f < F_COUNT; f++)
        empty &= val[f] == NULL || *val[f] == '\0';
    if (empty)
        return 0;
    o = json_object();
    if (o == NULL)
        return errmsg_set(RC_NOMEM, "out of memory merging prometheus");
    for (int f = 0; f < F_COUNT && rc == 0; f++) {
        if (json_object_set_new(o, names[f],
                                json_string(val[f] ? val[f] : "")) != 0)
            rc = RC_NOMEM;
    }
    if (rc == 0 && targets != NULL &&
        json_object_set_new(o, "scrape-targets", json_string(targets)) != 0)
        rc = RC_NOMEM;
    if (rc == 0)
        rc = inj_json_go_dumps(o, out);
    else
        errmsg_set(RC_NOMEM, "out of memory merging prometheus");
    json_decref(o);
    return rc;
}

int
inj_prom_merge(json_t *annotations, int mesh_default, int status_port,
               char **env_json)
{
    const char *val[F_COUNT] = {NULL, NULL, NULL};
    const char *valkey[F_COUNT] = {NULL, NULL, NULL};
    const char *targets, *key;
    json_t *v; /* borrowed */
    void *tmp;
    char portstr[16];
    char *env = NULL;
    int merge, rc;

    *env_json = NULL;
    if (!json_is_object(annotations))
        return errmsg_set(RC_INVAL, "annotations is not an object");
    /* Scraping explicitly off under any spelling: nothing to merge. */
    json_object_foreach(annotations, key, v)
    {
        if (label_eq(key, sanitized[F_SCRAPE]) &&
            go_bool(json_string_value(v)) == 0)
            return 0;
    }
    merge = go_bool(json_string_value(json_object_get(annotations, ANN_MERGE)));
    if (merge < 0)
        merge = mesh_default != 0;
    if (!merge)
        return 0;

    /* The app's values: the standard spelling wins, else the first
     * variant in the object's order. */
    json_object_foreach(annotations, key, v)
    {
        int f = field_of(key);
        if (f < 0 || !json_is_string(v))
            continue;
        if (val[f] == NULL || strcmp(key, standard[f]) == 0) {
            val[f] = json_string_value(v);
            valkey[f] = key;
        }
    }
    targets = json_string_value(json_object_get(annotations, ANN_TARGETS));

    /* The port already is the merged endpoint (a re-injected pod, or one
     * whose owner set it): Istio leaves the pod alone ("assume user is
     * controlling this"), so the status port as the exact string is not
     * refused. Any other spelling of it ("015020") is, below. */
    snprintf(portstr, sizeof(portstr), "%d", status_port);
    if (val[F_PORT] != NULL && strcmp(val[F_PORT], portstr) == 0)
        return 0;

    if (val[F_PORT] != NULL) {
        rc = check_port(valkey[F_PORT], val[F_PORT], strlen(val[F_PORT]),
                        status_port);
        if (rc != 0)
            return rc;
    }
    if (targets != NULL) {
        rc = check_targets(targets, status_port);
        if (rc != 0)
            return rc;
    }
    rc = build_env(val, targets, &env);
    if (rc != 0)
        return rc;

    /* Clear every spelling of the three keys, then set ours. val[] points
     * into values being deleted: not used past this point. */
    json_object_foreach_safe(annotations, tmp, key, v)
    {
        if (field_of(key) >= 0)
            json_object_del(annotations, key);
    }
    if (json_object_set_new(annotations, standard[F_PORT],
                            json_string(portstr)) != 0 ||
        json_object_set_new(annotations, standard[F_PATH],
                            json_string(MERGED_PATH)) != 0 ||
        json_object_set_new(annotations, standard[F_SCRAPE],
                            json_string("true")) != 0) {
        mem_free(env);
        return errmsg_set(RC_NOMEM, "out of memory merging prometheus");
    }
    *env_json = env;
    return 0;
}
