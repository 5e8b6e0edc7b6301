/* sidecar_init.c: the istio-init container of Istio's sidecar template
 * (classic mode) and the resources both injected containers share.
 *
 * istio-init runs istio-iptables with the args exactly as the template
 * renders them (section 2.2 of the reference): uid 0, NET_ADMIN and
 * NET_RAW, the proxy's image, resources and proxyMetadata env. A pod whose
 * parameters equal the cached pod's gets the cached container (tmpl.c). */
#include "injector/inj_internal.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <stdio.h>
#include <string.h>

static int
nomem(void)
{
    return errmsg_set(RC_NOMEM, "out of memory building the sidecar");
}

/* strip_nulls: a deep copy without null members (helm null = unset);
 * NULL when nothing is left or on RC_NOMEM (*err set). */
static json_t *
strip_nulls(const json_t *v, int *err)
{
    const char *k;
    json_t *e, *r, *c;

    if (!json_is_object(v))
        return json_is_null(v) ? NULL : json_deep_copy(v);
    r = json_object();
    if (r == NULL) {
        *err = 1;
        return NULL;
    }
    json_object_foreach((json_t *)v, k, e)
    {
        c = strip_nulls(e, err);
        if (c != NULL && json_object_set_new(r, k, c) != 0)
            *err = 1;
    }
    if (*err || json_object_size(r) == 0) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* inj_resources: *out = the proxy's resources, or NULL for none. */
int
inj_resources(const struct inj_ctx *ctx, json_t **out)
{
    const struct inj_params *p = &ctx->p;
    json_t *r = NULL, *req = NULL, *lim = NULL; /* owned */
    int err = 0;

    *out = NULL;
    if (!p->cpu && !p->mem && !p->cpu_limit && !p->mem_limit) {
        if (ctx->cfg->cache != NULL) {
            *out = json_incref(ctx->cfg->cache->resources);
            return 0;
        }
        if (ctx->cfg->v.resources == NULL)
            return 0;
        *out = strip_nulls(ctx->cfg->v.resources, &err);
        return err ? nomem() : 0;
    }
    r = json_object();
    if (r == NULL)
        return nomem();
    if (p->cpu || p->mem) {
        req = json_object();
        if (req == NULL || (p->cpu && inj_set_str(req, "cpu", p->cpu)) ||
            (p->mem && inj_set_str(req, "memory", p->mem)) ||
            json_object_set(r, "requests", req) != 0)
            err = 1;
    }
    if (!err && (p->cpu_limit || p->mem_limit)) {
        lim = json_object();
        if (lim == NULL ||
            (p->cpu_limit && inj_set_str(lim, "cpu", p->cpu_limit)) ||
            (p->mem_limit && inj_set_str(lim, "memory", p->mem_limit)) ||
            json_object_set(r, "limits", lim) != 0)
            err = 1;
    }
    json_decref(req);
    json_decref(lim);
    if (err) {
        json_decref(r);
        return nomem();
    }
    *out = r;
    return 0;
}

/* excluded_inbound: Istio's excludeInboundPort(statusPort, list). */
static int
excluded_inbound(int port, const char *list, struct buf *out)
{
    char ps[16];
    const char *p = list;
    int first = 1;

    if (port == 0)
        return buf_addstr(out, list);
    snprintf(ps, sizeof(ps), "%d", port);
    for (p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == strlen(ps) && memcmp(p, ps, n) == 0)
            return buf_addstr(out, list);
        if (end == NULL)
            break;
        p = end + 1;
    }
    for (p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (n > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            n--;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n > 0) {
            if ((!first && buf_addc(out, ',')) || buf_add(out, s, n))
                return RC_NOMEM;
            first = 0;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    if (!first && buf_addc(out, ','))
        return RC_NOMEM;
    return buf_addstr(out, ps);
}

static json_t *
init_args(const struct inj_ctx *ctx)
{
    const struct inj_params *p = &ctx->p;
    const struct inj_vals *v = &ctx->cfg->v;
    json_t *a = json_array(); /* owned */
    char num[3][16];
    struct buf d;
    int uid = 1337, rc;

    if (a == NULL)
        return NULL;
    if (ctx->user_run_as > 0 && strcmp(p->interception, "TPROXY") != 0)
        uid = ctx->user_run_as;
    snprintf(num[0], sizeof(num[0]), "%d", v->listen_port);
    snprintf(num[1], sizeof(num[1]), "%d", v->inbound_listen_port);
    snprintf(num[2], sizeof(num[2]), "%d", uid);
    buf_init(&d, 1 << 20);
    rc = buf_addstr(&d, "15090,15021");
    if (rc == 0) {
        size_t before = d.len;
        rc = buf_addc(&d, ',');
        if (rc == 0)
            rc = excluded_inbound(p->status_port, p->exclude_inbound_ports, &d);
        if (rc == 0 && d.len == before + 1) {
            d.len = before; /* nothing excluded: drop the ',' */
            d.ptr[d.len] = '\0';
        }
    }
    rc = rc ? rc : inj_arr_append_str(a, "istio-iptables");
    rc = rc ? rc : inj_arr_append_pair(a, "-p", num[0]);
    rc = rc ? rc : inj_arr_append_pair(a, "-z", num[1]);
    rc = rc ? rc : inj_arr_append_pair(a, "-u", num[2]);
    rc = rc ? rc : inj_arr_append_pair(a, "-m", p->interception);
    rc = rc ? rc : inj_arr_append_pair(a, "-i", p->include_ip_ranges);
    rc = rc ? rc : inj_arr_append_pair(a, "-x", p->exclude_ip_ranges);
    rc = rc ? rc : inj_arr_append_pair(a, "-b", p->include_inbound_ports);
    rc = rc ? rc : inj_arr_append_pair(a, "-d", d.ptr);
    if (rc == 0 && p->include_outbound_ports)
        rc = inj_arr_append_pair(a, "-q", p->include_outbound_ports);
    if (rc == 0 && p->exclude_outbound_ports)
        rc = inj_arr_append_pair(a, "-o", p->exclude_outbound_ports);
    if (rc == 0 && p->reroute_ifaces)
        rc = inj_arr_append_pair(a, "-k", p->reroute_ifaces);
    if (rc == 0 && p->exclude_ifaces)
        rc = inj_arr_append_pair(a, "-c", p->exclude_ifaces);
    buf_reset(&d);
    if (rc == 0)
        rc = buf_addf(&d, "--log_output_level=%s", p->agent_log_level);
    rc = rc ? rc : inj_arr_append_str(a, d.ptr);
    if (rc == 0 && v->log_as_json)
        rc = inj_arr_append_str(a, "--log_as_json");
    buf_cleanup(&d);
    if (rc != 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* init_cached: does the cached istio-init apply (every parameter it
 * depends on equals the cached pod's)? */
static int
init_cached(const struct inj_ctx *ctx)
{
    const struct inj_cache *k = ctx->cfg->cache;
    const struct inj_params *p = &ctx->p, *d;

    if (k == NULL || k->init == NULL)
        return 0;
    d = &k->p;
    return ctx->user_run_as == 0 && p->status_port == d->status_port &&
           inj_same_str(p->interception, d->interception) &&
           inj_same_str(p->include_ip_ranges, d->include_ip_ranges) &&
           inj_same_str(p->exclude_ip_ranges, d->exclude_ip_ranges) &&
           inj_same_str(p->include_inbound_ports, d->include_inbound_ports) &&
           inj_same_str(p->exclude_inbound_ports, d->exclude_inbound_ports) &&
           inj_same_str(p->include_outbound_ports, d->include_outbound_ports) &&
           inj_same_str(p->exclude_outbound_ports, d->exclude_outbound_ports) &&
           inj_same_str(p->reroute_ifaces, d->reroute_ifaces) &&
           inj_same_str(p->exclude_ifaces, d->exclude_ifaces) &&
           inj_same_str(p->agent_log_level, d->agent_log_level) &&
           inj_same_str(p->proxy_image, d->proxy_image) &&
           p->proxy_config == d->proxy_config && !p->cpu && !p->mem &&
           !p->cpu_limit && !p->mem_limit;
}

int
inj_build_init(struct inj_ctx *ctx, json_t **out)
{
    const struct inj_vals *v = &ctx->cfg->v;
    json_t *c = NULL, *env = NULL, *res = NULL; /* owned */
    int rc;

    *out = NULL;
    if (init_cached(ctx)) {
        *out = json_incref(ctx->cfg->cache->init);
        return 0;
    }
    c = json_pack("{s:s, s:s, s:o}", "name", INJ_INIT_NAME, "image",
                  ctx->p.proxy_image, "args", init_args(ctx));
    if (c == NULL)
        return nomem();
    rc =
        (v->pull_policy[0] && inj_set_str(c, "imagePullPolicy", v->pull_policy))
            ? RC_NOMEM
            : 0;
    if (rc == 0 &&
        json_object_size(jutil_obj(ctx->p.proxy_config, "proxyMetadata")) > 0) {
        env = json_array();
        rc = env ? inj_metadata_env(
                       env, jutil_obj(ctx->p.proxy_config, "proxyMetadata"), 0)
                 : nomem();
        if (rc == 0)
            rc = inj_set_new(c, "env", json_incref(env));
    }
    rc = rc ? rc : inj_resources(ctx, &res);
    if (rc == 0 && res != NULL)
        rc = inj_set_new(c, "resources", json_incref(res));
    if (rc == 0)
        rc = inj_set_new(
            c, "securityContext",
            json_pack("{s:b, s:b, s:{s:[ss], s:[s]}, s:b, s:i, s:b, s:i}",
                      "allowPrivilegeEscalation", v->privileged, "privileged",
                      v->privileged, "capabilities", "add", "NET_ADMIN",
                      "NET_RAW", "drop", "ALL", "readOnlyRootFilesystem", 0,
                      "runAsGroup", 0, "runAsNonRoot", 0, "runAsUser", 0));
    json_decref(res);
    json_decref(env);
    if (rc != 0) {
        json_decref(c);
        return rc;
    }
    *out = c;
    return 0;
}
