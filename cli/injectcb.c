/* injectcb.c: the callback that plugs the injector into the document walker
 * (kinj_inject_cb, see kubeinject.h), and the --emit-patch lines.
 *
 * The owner handed to the injector is the workload holding the template
 * (Deployment web, CronJob nightly, ...); a bare Pod gets none, so the
 * injector derives it from the pod's controller ownerReference as Istio
 * does. */
#include "cli/kubeinject.h"
#include "injector/injector.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/rc.h"

#include <string.h>

/* add_jstr appends s as a JSON string. */
static int
add_jstr(struct buf *b, const char *s)
{
    json_t *v = json_string(s ? s : ""); /* owned */
    int rc;

    if (v == NULL)
        return RC_NOMEM;
    rc = jutil_dump(v, 0, b);
    json_decref(v);
    return rc;
}

/* patch_line appends one --emit-patch line; on failure b is cut back. */
static int
patch_line(struct buf *b, const struct kinj_site *site,
           const struct inj_result *res)
{
    size_t before = b->len;
    int rc;

    if ((rc = buf_addf(b, "{\"doc\":%d,", site->doc)) != 0 ||
        (site->item > 0 &&
         (rc = buf_addf(b, "\"item\":%d,", site->item)) != 0) ||
        (rc = buf_addstr(b, "\"kind\":")) != 0 ||
        (rc = add_jstr(b, site->kind)) != 0 ||
        (rc = buf_addstr(b, ",\"namespace\":")) != 0 ||
        (rc = add_jstr(b, site->ns)) != 0 ||
        (rc = buf_addstr(b, ",\"name\":")) != 0 ||
        (rc = add_jstr(b, site->name)) != 0 ||
        (rc = buf_addstr(b, ",\"original\":")) != 0 ||
        (rc = jutil_dump(site->pod, 0, b)) != 0 ||
        (rc = buf_addstr(b, ",\"patch\":")) != 0 ||
        (rc = jutil_dump(res->patch, 0, b)) != 0 ||
        (rc = buf_addstr(b, ",\"injected\":")) != 0 ||
        (rc = jutil_dump(res->pod, 0, b)) != 0 ||
        (rc = buf_addstr(b, "}\n")) != 0) {
        b->len = before;
        if (b->ptr)
            b->ptr[before] = '\0';
        return errmsg_set(rc, "cannot write the patch line (memory or "
                              "size limit)");
    }
    return 0;
}

int
kinj_inject_cb(void *ctx, const struct kinj_site *site, json_t **out)
{
    const struct kinj_inject_ctx *c = ctx;
    struct inj_input in = {.pod = site->pod, .ns = site->ns};
    struct inj_result res = {0};
    int rc;

    *out = NULL;
    if (site->is_template) {
        in.owner_kind = site->kind;
        in.owner_name = site->name;
        in.owner_api_version = site->api_version;
    }
    rc = inj_pod_inject(c->cfg, &in, &res);
    if (rc != 0)
        return rc;
    if (res.injected && c->patches != NULL)
        rc = patch_line(c->patches, site, &res);
    if (rc == 0 && res.injected) {
        *out = res.pod;
        res.pod = NULL;
    }
    inj_result_cleanup(&res);
    return rc;
}
