/* wh_admission.c: AdmissionReview decode, decision, response encode and
 * path parameters (see wh_admission.h).
 *
 * The review is parsed once (wh_json_parse, jansson as the fallback) and
 * the pod is handed to the injector borrowed from it. The response is
 * written directly as text (the shape is fixed and small); the patch is
 * serialized straight into base64 (wh_json.c). */
#include "webhook/wh_admission.h"
#include "webhook/wh_frag.h"
#include "webhook/wh_json.h"
#include "injector/injector.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <string.h>

/* ---- decode ------------------------------------------------------------ */

static const char *
str_or_empty(const json_t *obj, const char *key)
{
    const char *s = jutil_str(obj, key);
    return s ? s : "";
}

int
wh_review_decode(struct wh_review *rv, const char *body, size_t len,
                 size_t max_bytes)
{
    struct jutil_limits lim = {max_bytes, WH_MAX_DEPTH};
    json_t *doc = NULL;                    /* owned until moved into rv */
    json_t *req, *kind, *res, *obj, *meta; /* borrowed */
    const char *s;
    int rc;

    memset(rv, 0, sizeof(*rv));
    /* the fast parser takes well-formed reviews; whatever it declines goes
     * to jansson, whose verdict and message stay authoritative */
    rc = len <= (max_bytes ? max_bytes : JUTIL_DEFAULT_MAX_BYTES)
             ? wh_json_parse(&doc, body, len, WH_MAX_DEPTH)
             : RC_AGAIN;
    if (rc == RC_AGAIN)
        rc = jutil_parse(&doc, body, len, &lim);
    if (rc != 0)
        return rc;
    if (!json_is_object(doc)) {
        rc = errmsg_set(RC_INVAL, "the body is not a JSON object");
        goto fail;
    }
    s = jutil_str(doc, "kind");
    if (s == NULL || strcmp(s, "AdmissionReview") != 0) {
        rc = errmsg_set(RC_INVAL, "kind must be AdmissionReview");
        goto fail;
    }
    s = jutil_str(doc, "apiVersion");
    if (s != NULL && strcmp(s, WH_API_V1) == 0)
        rv->api_version = WH_API_V1;
    else if (s != NULL && strcmp(s, WH_API_V1BETA1) == 0)
        rv->api_version = WH_API_V1BETA1;
    else {
        rc = errmsg_set(RC_INVAL,
                        "unsupported apiVersion '%.64s' (want " WH_API_V1
                        " or " WH_API_V1BETA1 ")",
                        s ? s : "");
        goto fail;
    }
    req = jutil_obj(doc, "request");
    if (req == NULL) {
        rc = errmsg_set(RC_INVAL, "AdmissionReview has no request");
        goto fail;
    }
    rv->uid = jutil_str(req, "uid");
    if (rv->uid == NULL || rv->uid[0] == '\0') {
        rc = errmsg_set(RC_INVAL, "request.uid is missing");
        goto fail;
    }
    rv->operation = str_or_empty(req, "operation");
    rv->ns = str_or_empty(req, "namespace");
    kind = jutil_obj(req, "kind");
    rv->kind_group = str_or_empty(kind, "group");
    rv->kind = str_or_empty(kind, "kind");
    res = jutil_obj(req, "resource");
    rv->resource = str_or_empty(res, "resource");
    rv->sub_resource = str_or_empty(req, "subResource");
    obj = jutil_obj(req, "object");
    rv->object = obj;
    meta = jutil_obj(obj, "metadata");
    rv->name = str_or_empty(req, "name");
    if (rv->name[0] == '\0')
        rv->name = str_or_empty(meta, "name");
    rv->generate_name = str_or_empty(meta, "generateName");
    rv->doc = doc;
    return 0;
fail:
    json_decref(doc);
    memset(rv, 0, sizeof(*rv));
    return rc;
}

void
wh_review_cleanup(struct wh_review *rv)
{
    json_decref(rv->doc);
    memset(rv, 0, sizeof(*rv));
}

/* ---- decide ------------------------------------------------------------ */

static int
is_pod(const struct wh_review *rv)
{
    if (rv->sub_resource[0] != '\0')
        return 0;
    if (rv->kind[0] != '\0')
        return rv->kind_group[0] == '\0' && strcmp(rv->kind, "Pod") == 0;
    if (rv->resource[0] != '\0')
        return strcmp(rv->resource, "pods") == 0;
    return rv->object != NULL &&
           strcmp(str_or_empty(rv->object, "kind"), "Pod") == 0;
}

static int
refuse(struct wh_outcome *out, const char *msg)
{
    out->decision = WH_REFUSED;
    snprintf(out->reason, sizeof(out->reason), "%s", msg);
    out->message = mem_strdup(msg);
    if (out->message == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    return 0;
}

int
wh_admit(struct wh_outcome *out, const struct inj_config *cfg,
         const struct wh_review *rv, const json_t *env)
{
    struct inj_input in;
    struct inj_result res;
    int rc;

    memset(out, 0, sizeof(*out));
    out->frags = wh_frags_of(cfg);
    if (!is_pod(rv)) {
        out->decision = WH_IGNORED;
        snprintf(out->reason, sizeof(out->reason),
                 "not a pod (kind '%.40s%s%.40s', resource '%.40s%s%.40s')",
                 rv->kind_group, rv->kind_group[0] ? "/" : "", rv->kind,
                 rv->resource, rv->sub_resource[0] ? "/" : "",
                 rv->sub_resource);
        return 0;
    }
    if (strcmp(rv->operation, "CREATE") != 0) {
        out->decision = WH_IGNORED;
        snprintf(out->reason, sizeof(out->reason),
                 "operation '%.40s' is not CREATE", rv->operation);
        return 0;
    }
    if (rv->object == NULL)
        return refuse(out, "request.object is missing or is not a Pod object");

    memset(&in, 0, sizeof(in));
    in.pod = rv->object;
    in.ns = rv->ns;
    in.env_overrides = env;
    in.no_patch = 1; /* streamed by wh_response_encode */
    memset(&res, 0, sizeof(res));
    errmsg_clear();
    rc = inj_pod_inject(cfg, &in, &res);
    switch (rc) {
    case 0:
        break;
    case RC_NOMEM:
        return rc;
    case RC_INVAL:
    case RC_LIMIT:
    case RC_PARSE:
        return refuse(out, errmsg_get()[0] ? errmsg_get()
                                           : "the pod cannot be injected");
    default:
        return errmsg_prefix(rc, "injection failed");
    }
    snprintf(out->reason, sizeof(out->reason), "%s", res.reason);
    if (res.injected) {
        out->decision = WH_INJECTED;
        out->from = rv->object;
        out->to = res.pod; /* moved */
        res.pod = NULL;
    } else {
        out->decision = WH_SKIPPED;
    }
    inj_result_cleanup(&res);
    return 0;
}

void
wh_outcome_cleanup(struct wh_outcome *out)
{
    json_decref(out->to);
    mem_free(out->message);
    memset(out, 0, sizeof(*out));
}

/* ---- encode ------------------------------------------------------------ */

int
wh_response_encode(struct buf *out, const struct wh_review *rv,
                   const struct wh_outcome *oc)
{
    size_t old = out->len;
    int rc;

    if ((rc = buf_addstr(out, "{\"apiVersion\":\"")) != 0 ||
        (rc = buf_addstr(out, rv->api_version)) != 0 ||
        (rc = buf_addstr(out, "\",\"kind\":\"AdmissionReview\","
                              "\"response\":{\"uid\":")) != 0 ||
        (rc = wh_json_escape(out, rv->uid)) != 0)
        goto fail;
    if (oc->decision == WH_REFUSED) {
        if ((rc = buf_addstr(out, ",\"allowed\":false,\"status\":{"
                                  "\"metadata\":{},\"status\":\"Failure\","
                                  "\"message\":")) != 0 ||
            (rc = wh_json_escape(out, oc->message ? oc->message
                                                  : oc->reason)) != 0 ||
            (rc = buf_addstr(out, ",\"reason\":\"BadRequest\","
                                  "\"code\":400}}}")) != 0)
            goto fail;
    } else if (oc->decision == WH_INJECTED && oc->to != NULL) {
        /* the patch is diffed straight into base64: neither its operation
         * objects nor its text are ever built whole */
        size_t mark = out->len, nops = 0;
        if ((rc = buf_addstr(out, ",\"allowed\":true,\"patchType\":"
                                  "\"JSONPatch\",\"patch\":\"")) != 0 ||
            (rc = wh_json_write_patch_base64(out, oc->from, oc->to, oc->frags,
                                             &nops)) != 0)
            goto fail;
        if (nops == 0) { /* nothing changed: no patch fields */
            out->len = mark;
            out->ptr[mark] = '\0';
            rc = buf_addstr(out, ",\"allowed\":true}}");
        } else {
            rc = buf_addstr(out, "\"}}");
        }
        if (rc != 0)
            goto fail;
    } else {
        if ((rc = buf_addstr(out, ",\"allowed\":true}}")) != 0)
            goto fail;
    }
    return 0;
fail:
    if (out->ptr != NULL) {
        out->len = old;
        out->ptr[old] = '\0';
    }
    return rc;
}

/* ---- path parameters --------------------------------------------------- */

static int
valid_env_name(const char *s)
{
    if (*s == '\0' || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* add_pair maps key k (length klen) and value v (length vlen) as istiod's
 * parseInjectEnvs does and stores it in env. */
static int
add_pair(json_t *env, const char *k, size_t klen, const char *v, size_t vlen,
         int unslash)
{
    char name[128];
    struct buf val;
    int rc;

    if (klen == 0)
        return 0; /* istiod would set an env var named "": skip it */
    if (json_object_size(env) >= WH_MAX_PATH_ENV)
        return errmsg_set(RC_LIMIT, "more than %d path parameters",
                          WH_MAX_PATH_ENV);
    if (klen == 7 && memcmp(k, "cluster", 7) == 0)
        snprintf(name, sizeof(name), "ISTIO_META_CLUSTER_ID");
    else if (klen == 3 && memcmp(k, "net", 3) == 0)
        snprintf(name, sizeof(name), "ISTIO_META_NETWORK");
    else {
        if (klen >= sizeof(name))
            return errmsg_set(RC_INVAL, "path parameter name too long");
        for (size_t i = 0; i < klen; i++) {
            char c = k[i];
            name[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
        }
        name[klen] = '\0';
        if (!valid_env_name(name))
            return errmsg_set(RC_INVAL,
                              "path parameter '%.64s' is not a valid "
                              "environment variable name",
                              name);
    }
    buf_init(&val, 4096);
    for (size_t i = 0; i < vlen;) {
        if (unslash && vlen - i >= 9 && memcmp(v + i, "--slash--", 9) == 0) {
            rc = buf_addc(&val, '/');
            i += 9;
        } else {
            rc = buf_addc(&val, v[i]);
            i++;
        }
        if (rc != 0) {
            buf_cleanup(&val);
            return rc == RC_LIMIT
                       ? errmsg_set(RC_LIMIT, "path parameter too long")
                       : errmsg_set(RC_NOMEM, "out of memory");
        }
    }
    rc = json_object_set_new(env, name,
                             json_stringn(val.ptr ? val.ptr : "", val.len));
    buf_cleanup(&val);
    if (rc != 0)
        return errmsg_set(RC_INVAL, "path parameter '%s' is not valid UTF-8",
                          name);
    return 0;
}

int
wh_path_parse(json_t **env_out, const char *path)
{
    json_t *env = NULL; /* owned */
    const char *rest, *end;
    size_t n;
    int rc = 0;

    *env_out = NULL;
    if (strncmp(path, "/inject", 7) != 0 || (path[7] != '\0' && path[7] != '/'))
        return errmsg_set(RC_NOTFOUND, "no handler for path");
    if (path[7] == '\0')
        return 0;
    rest = path + 8;
    n = strlen(rest);
    if (n > 0 && rest[n - 1] == '/')
        n--; /* istiod trims one trailing slash */
    if (n == 0)
        return 0;
    end = rest + n;
    env = json_object();
    if (env == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    if (n >= 5 && memcmp(rest, ":ENV:", 5) == 0) {
        /* deprecated form: ":ENV:k=v:ENV:k2=v2"; pairs without '=' or with
         * an empty name are ignored, as istiod does */
        const char *p = rest + 5;
        while (p < end && rc == 0) {
            const char *next = p, *eq;
            while (next < end &&
                   !(end - next >= 5 && memcmp(next, ":ENV:", 5) == 0))
                next++;
            eq = memchr(p, '=', (size_t)(next - p));
            if (eq != NULL && eq > p)
                rc = add_pair(env, p, (size_t)(eq - p), eq + 1,
                              (size_t)(next - eq - 1), 0);
            p = next + 5;
        }
    } else {
        const char *p = rest;
        while (p <= end && rc == 0) {
            const char *ke = memchr(p, '/', (size_t)(end - p));
            const char *v, *ve;
            if (ke == NULL)
                break; /* a last key without a value is ignored */
            v = ke + 1;
            ve = memchr(v, '/', (size_t)(end - v));
            if (ve == NULL)
                ve = end;
            rc = add_pair(env, p, (size_t)(ke - p), v, (size_t)(ve - v), 1);
            p = ve + 1;
        }
    }
    if (rc != 0) {
        json_decref(env);
        return rc;
    }
    if (json_object_size(env) == 0) {
        json_decref(env);
        return 0;
    }
    *env_out = env;
    return 0;
}
