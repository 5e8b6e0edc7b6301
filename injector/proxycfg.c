/* proxycfg.c: Istio ProxyConfig (mesh defaultConfig and the
 * proxy.istio.io/config annotation): field typing and the overlay merge.
 *
 * Every ProxyConfig field Istio defines is known here with its JSON type;
 * an unknown field or a wrong type is an error (as Istio's strict proto
 * unmarshalling refuses it). Nested messages (tracing, sds, ...) are only
 * checked to be objects: the agent owns their meaning. */
#include "injector/inj_internal.h"
#include "injector/validate.h"
#include "lib/errmsg.h"
#include "lib/rc.h"

#include <string.h>

enum pctype {
    P_STR,
    P_INT,
    P_OPTINT,
    P_PORT,
    P_BOOL,
    P_DUR,
    P_OBJ,
    P_MAP,
    P_STRARR,
    P_MODE,
    P_ANY
};

static const struct pcfield {
    const char *name;
    enum pctype type;
} fields[] = {
    {"configPath", P_STR},
    {"binaryPath", P_STR},
    {"serviceCluster", P_STR},
    {"drainDuration", P_DUR},
    {"parentShutdownDuration", P_DUR},
    {"discoveryAddress", P_STR},
    {"discoveryRefreshDelay", P_DUR},
    {"zipkinAddress", P_STR},
    {"statsdUdpAddress", P_STR},
    {"envoyMetricsServiceAddress", P_STR},
    {"proxyAdminPort", P_PORT},
    {"availabilityZone", P_STR},
    {"controlPlaneAuthPolicy", P_STR},
    {"customConfigFile", P_STR},
    {"statNameLength", P_INT},
    {"concurrency", P_OPTINT},
    {"proxyBootstrapTemplatePath", P_STR},
    {"interceptionMode", P_MODE},
    {"tracing", P_OBJ},
    {"sds", P_OBJ},
    {"envoyAccessLogService", P_OBJ},
    {"envoyMetricsService", P_OBJ},
    {"proxyMetadata", P_MAP},
    {"runtimeValues", P_MAP},
    {"statusPort", P_PORT},
    {"extraStatTags", P_STRARR},
    {"gatewayTopology", P_OBJ},
    {"terminationDrainDuration", P_DUR},
    {"meshId", P_STR},
    {"readinessProbe", P_OBJ},
    {"proxyStatsMatcher", P_OBJ},
    {"holdApplicationUntilProxyStarts", P_BOOL},
    {"caCertificatesPem", P_STRARR},
    {"image", P_OBJ},
    {"privateKeyProvider", P_OBJ},
    {"proxyHeaders", P_OBJ},
    {"fileFlushInterval", P_DUR},
    {"fileFlushMinSizeKb", P_INT},
    {"tracingServiceName", P_STR},
    {"statsCompression", P_ANY},
};

/* inj_duration_check accepts Go durations ("5s", "1m30s", "1.5s", "500ms",
 * "0"), which includes the protobuf JSON form ("5s", "0.5s"). */
int
inj_duration_check(const char *s)
{
    static const char *const units[] = {"ns", "us", "\xc2\xb5s", "ms",
                                        "s",  "m",  "h"};

    if (strcmp(s, "0") == 0)
        return 0;
    if (*s == '\0')
        return RC_INVAL;
    while (*s) {
        int digits = 0, best = 0;
        while (*s >= '0' && *s <= '9') {
            s++;
            digits++;
        }
        if (*s == '.') {
            s++;
            while (*s >= '0' && *s <= '9') {
                s++;
                digits++;
            }
        }
        if (digits == 0)
            return RC_INVAL;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            int n = (int)strlen(units[i]);
            if (strncmp(s, units[i], (size_t)n) == 0 && n > best)
                best = n;
        }
        if (best == 0)
            return RC_INVAL;
        s += best;
    }
    return 0;
}

static int
check_field(const struct pcfield *f, const json_t *v)
{
    const char *k;
    json_t *e;
    size_t i;
    long long n;

    if (json_is_null(v))
        return 0;
    switch (f->type) {
    case P_STR:
        if (!json_is_string(v))
            return errmsg_set(RC_INVAL, "%s: expected a string", f->name);
        return 0;
    case P_INT:
    case P_OPTINT:
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 0x7fffffff)
            return errmsg_set(RC_INVAL, "%s: expected a non-negative integer",
                              f->name);
        return 0;
    case P_PORT:
        if (inj_int_from(v, &n) != 0 || n < 0 || n > 65535)
            return errmsg_set(RC_INVAL, "%s: expected a port 0..65535",
                              f->name);
        return 0;
    case P_BOOL:
        if (!json_is_boolean(v))
            return errmsg_set(RC_INVAL, "%s: expected a boolean", f->name);
        return 0;
    case P_DUR:
        if (!json_is_string(v) || inj_duration_check(json_string_value(v)))
            return errmsg_set(
                RC_INVAL, "%s: expected a duration such as \"5s\"", f->name);
        return 0;
    case P_OBJ:
        if (!json_is_object(v))
            return errmsg_set(RC_INVAL, "%s: expected an object", f->name);
        return 0;
    case P_MAP:
        if (!json_is_object(v))
            return errmsg_set(RC_INVAL, "%s: expected a map of strings",
                              f->name);
        json_object_foreach((json_t *)v, k, e)
        {
            if (!json_is_string(e))
                return errmsg_set(RC_INVAL, "%s.%s: expected a string", f->name,
                                  k);
        }
        return 0;
    case P_STRARR:
        if (!json_is_array(v))
            return errmsg_set(RC_INVAL, "%s: expected a list of strings",
                              f->name);
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e))
                return errmsg_set(RC_INVAL, "%s[%zu]: expected a string",
                                  f->name, i);
        }
        return 0;
    case P_ANY:
        return 0;
    case P_MODE:
        if (!json_is_string(v) ||
            inj_val_interception_mode(json_string_value(v)) != 0)
            return errmsg_set(RC_INVAL, "%s: expected REDIRECT, TPROXY or NONE",
                              f->name);
        return 0;
    }
    return 0;
}

int
inj_proxycfg_check(const json_t *pc, const char *where)
{
    const char *k;
    json_t *v;
    int rc = 0;

    if (!json_is_object(pc))
        rc = errmsg_set(RC_INVAL, "expected an object (ProxyConfig)");
    else
        json_object_foreach((json_t *)pc, k, v)
        {
            const struct pcfield *f = NULL;
            for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
                if (strcmp(fields[i].name, k) == 0)
                    f = &fields[i];
            if (f == NULL) {
                rc = errmsg_set(RC_INVAL, "unknown field \"%s\"", k);
                break;
            }
            rc = check_field(f, v);
            if (rc != 0)
                break;
        }
    if (rc != 0 && where != NULL)
        errmsg_prefix(rc, "%s", where);
    return rc;
}

static int
overlay(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)src, k, v)
    {
        json_t *d = json_object_get(dst, k);
        if (json_is_null(v)) {
            json_object_del(dst, k);
            continue;
        }
        if (json_is_object(d) && json_is_object(v)) {
            if (overlay(d, v) != 0)
                return RC_NOMEM;
            continue;
        }
        if (inj_set_new(dst, k, json_deep_copy(v)) != 0)
            return RC_NOMEM;
    }
    return 0;
}

/* inj_proxycfg_merge: *out = base with overlay merged over it (objects and
 * maps merge key by key, a null removes, anything else replaces). */
int
inj_proxycfg_merge(json_t **out, const json_t *base, const json_t *over)
{
    json_t *r = base ? json_deep_copy(base) : json_object(); /* owned */

    *out = NULL;
    if (r == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    if (over != NULL && overlay(r, over) != 0) {
        json_decref(r);
        return RC_NOMEM;
    }
    *out = r;
    return 0;
}
