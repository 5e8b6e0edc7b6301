/* decide.c: whether a pod gets a sidecar (Istio's injectRequired) and
 * Kubernetes LabelSelector matching.
 *
 * Order: hostNetwork -> ignored namespaces -> sidecar.istio.io/inject label
 * (preferred) or annotation -> neverInjectSelector -> alwaysInjectSelector
 * -> policy. The reason string always says which rule decided. */
#include "injector/inj_internal.h"
#include "lib/errmsg.h"
#include "lib/rc.h"

#include <stdio.h>
#include <string.h>

static const char *const ignored_ns[] = {
    "kube-system", "kube-public", "kube-node-lease", "local-path-storage"};

static const char *const operators[] = {"In", "NotIn", "Exists",
                                        "DoesNotExist"};

int
inj_selector_check(const json_t *sel, const char *where)
{
    const char *k;
    json_t *v, *e, *vals;
    size_t i, j;

    if (json_is_null(sel))
        return 0;
    if (!json_is_object(sel))
        return errmsg_set(RC_INVAL, "%s: expected a label selector", where);
    v = json_object_get(sel, "matchLabels");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_object(v))
            return errmsg_set(RC_INVAL, "%s.matchLabels: expected an object",
                              where);
        json_object_foreach(v, k, e)
        {
            if (!json_is_string(e))
                return errmsg_set(
                    RC_INVAL, "%s.matchLabels.%s: expected a string", where, k);
        }
    }
    v = json_object_get(sel, "matchExpressions");
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return errmsg_set(RC_INVAL, "%s.matchExpressions: expected a list",
                          where);
    json_array_foreach(v, i, e)
    {
        const char *key = jutil_str(e, "key");
        const char *op = jutil_str(e, "operator");
        int known = 0;
        if (key == NULL || op == NULL)
            return errmsg_set(RC_INVAL,
                              "%s.matchExpressions[%zu]: key and operator "
                              "are required strings",
                              where, i);
        for (j = 0; j < sizeof(operators) / sizeof(operators[0]); j++)
            known |= strcmp(op, operators[j]) == 0;
        if (!known)
            return errmsg_set(RC_INVAL,
                              "%s.matchExpressions[%zu]: unknown operator "
                              "'%s' (In, NotIn, Exists, DoesNotExist)",
                              where, i, op);
        vals = json_object_get(e, "values");
        if (vals != NULL && !json_is_null(vals)) {
            json_t *s;
            size_t n;
            if (!json_is_array(vals))
                return errmsg_set(RC_INVAL,
                                  "%s.matchExpressions[%zu].values: "
                                  "expected a list",
                                  where, i);
            json_array_foreach(vals, n, s)
            {
                if (!json_is_string(s))
                    return errmsg_set(RC_INVAL,
                                      "%s.matchExpressions[%zu].values: "
                                      "expected strings",
                                      where, i);
            }
        }
        /* Kubernetes: In/NotIn need values, Exists/DoesNotExist none */
        if ((strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0) !=
            (json_array_size(vals) > 0))
            return errmsg_set(
                RC_INVAL, "%s.matchExpressions[%zu]: operator %s %s", where, i,
                op, json_array_size(vals) ? "takes no values" : "needs values");
    }
    return 0;
}

static int
in_values(const json_t *vals, const char *s)
{
    size_t i;
    json_t *e;

    json_array_foreach(vals, i, e)
    {
        if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
            return 1;
    }
    return 0;
}

static int
sel_empty(const json_t *sel)
{
    return json_object_size(jutil_obj(sel, "matchLabels")) == 0 &&
           json_array_size(jutil_arr(sel, "matchExpressions")) == 0;
}

/* sel_match: every matchLabels pair and every expression must hold. */
static int
sel_match(const json_t *sel, const json_t *labels)
{
    const char *k;
    json_t *v, *e;
    size_t i;

    json_object_foreach(jutil_obj(sel, "matchLabels"), k, v)
    {
        const char *l = jutil_str(labels, k);
        if (l == NULL || strcmp(l, json_string_value(v)) != 0)
            return 0;
    }
    json_array_foreach(jutil_arr(sel, "matchExpressions"), i, e)
    {
        const char *op = jutil_str(e, "operator");
        const char *l = jutil_str(labels, jutil_str(e, "key"));
        const json_t *vals = jutil_arr(e, "values");
        int ok;
        if (strcmp(op, "In") == 0)
            ok = l != NULL && in_values(vals, l);
        else if (strcmp(op, "NotIn") == 0)
            ok = l == NULL || !in_values(vals, l);
        else if (strcmp(op, "Exists") == 0)
            ok = l != NULL;
        else
            ok = l == NULL;
        if (!ok)
            return 0;
    }
    return 1;
}

/* first_match: index of the first non-empty matching selector, or -1. */
static int
first_match(const json_t *sels, const json_t *labels)
{
    size_t i;
    json_t *s;

    json_array_foreach(sels, i, s)
    {
        if (json_is_object(s) && !sel_empty(s) && sel_match(s, labels))
            return (int)i;
    }
    return -1;
}

/* inj_decide returns 1 (inject) or 0 and writes why into reason. */
int
inj_decide(const struct inj_config *cfg, const json_t *pod, const char *ns,
           char *reason, size_t reason_len)
{
    const json_t *labels = jutil_path(pod, "metadata.labels");
    const char *v, *src = "label";
    int use_default = 1, inject = 0, i;

    if (json_is_true(jutil_path(pod, "spec.hostNetwork"))) {
        snprintf(reason, reason_len, "hostNetwork pods are not injected");
        return 0;
    }
    for (size_t n = 0; n < sizeof(ignored_ns) / sizeof(ignored_ns[0]); n++) {
        if (strcmp(ns, ignored_ns[n]) == 0) {
            snprintf(reason, reason_len, "namespace %s is ignored", ns);
            return 0;
        }
    }
    v = jutil_str(labels, "sidecar.istio.io/inject");
    if (v == NULL) {
        v = jutil_str(jutil_path(pod, "metadata.annotations"),
                      "sidecar.istio.io/inject");
        src = "annotation";
    }
    if (v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)) {
        inject = v[0] == 't';
        use_default = 0;
        snprintf(reason, reason_len, "%s sidecar.istio.io/inject is %s", src,
                 v);
    }
    /* absent, "" or any other value: the selectors, then the policy */
    if (!use_default) {
        /* decided by the label or annotation */
    } else if ((i = first_match(cfg->never_sel, labels)) >= 0) {
        snprintf(reason, reason_len, "pod matches neverInjectSelector[%d]", i);
        use_default = 0;
        inject = 0;
    } else if ((i = first_match(cfg->always_sel, labels)) >= 0) {
        snprintf(reason, reason_len, "pod matches alwaysInjectSelector[%d]", i);
        use_default = 0;
        inject = 1;
    }
    switch (cfg->policy) {
    case INJ_POLICY_ENABLED:
        if (use_default) {
            snprintf(reason, reason_len, "policy enabled");
            return 1;
        }
        return inject;
    case INJ_POLICY_DISABLED:
        if (use_default) {
            snprintf(reason, reason_len, "policy disabled");
            return 0;
        }
        return inject;
    default:
        /* Istio: "Illegal value for autoInject ... Auto injection
         * disabled!" - required=false whatever the pod says */
        snprintf(
            reason, reason_len, "policy '%s' is neither enabled nor disabled",
            jutil_str(cfg->config, "policy") ? jutil_str(cfg->config, "policy")
                                             : "");
        return 0;
    }
}
