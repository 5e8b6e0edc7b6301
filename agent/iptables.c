/* iptables.c: main() of mizzen-iptables, the istio-init program.
 *
 * flags/env -> config (iptflags) -> rulesets (iptrules) -> --dry-run print
 * or apply (iptapply). Exit status: 0 done, 2 invalid arguments (nothing
 * applied), 1 the apply failed (see iptapply.h for what is left). */
#include "agent/iptapply.h"
#include "agent/iptflags.h"
#include "agent/iptrules.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define COMP "iptables"

/* default_uid: istio-iptables' default for -u: the uid of $ENVOY_USER
 * (default "istio-proxy") when that user exists, else 1337. */
static int
default_uid(struct iptr_config *cfg)
{
    const char *user = getenv("ENVOY_USER");
    struct passwd pw, *res = NULL;
    char pwbuf[4096];
    unsigned long uid = 1337;

    if (!user || !*user)
        user = "istio-proxy";
    if (getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
        uid = (unsigned long)res->pw_uid;
    cfg->uids.v = mem_alloc(sizeof(unsigned long));
    if (!cfg->uids.v)
        return errmsg_set(RC_NOMEM, "out of memory");
    cfg->uids.v[0] = uid;
    cfg->uids.n = 1;
    return 0;
}

static int
print_rulesets(const struct iptr_ruleset *v4, const struct iptr_ruleset *v6)
{
    struct buf out;
    int rc;

    buf_init(&out, 0);
    rc = iptr_render(v4, &out);
    if (rc == 0 && v6) {
        rc = buf_addstr(&out, "# ip6tables-restore\n");
        if (rc == 0)
            rc = iptr_render(v6, &out);
    }
    if (rc == 0 && out.len &&
        (fwrite(out.ptr, 1, out.len, stdout) != out.len || fflush(stdout)))
        rc = errmsg_set(RC_IO, "writing the ruleset to stdout failed");
    buf_cleanup(&out);
    return rc;
}

/* log_state logs our rules as the backend now holds them, one line each,
 * as istio-iptables logs its final iptables-save. Failure is only logged:
 * the rules are in place. */
static void
log_state(const struct iptapply_tools *t, int family)
{
    struct buf out;
    const char *p;
    char fam[8];

    buf_init(&out, IPTAPPLY_OUT_MAX);
    snprintf(fam, sizeof(fam), "ipv%d", family);
    if (iptapply_save(t, family, &out)) {
        log_kv(LOG_WARN, COMP, "could not read back the rules", "family", fam,
               "error", errmsg_get(), NULL);
        buf_cleanup(&out);
        return;
    }
    for (p = out.ptr; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[512];
        if (len && p[0] != '#' && memmem(p, len, "ISTIO", 5)) {
            snprintf(line, sizeof(line), "%.*s", (int)len, p);
            log_kv(LOG_INFO, COMP, "rule", "family", fam, "rule", line, NULL);
        }
        p = eol ? eol + 1 : NULL;
    }
    buf_cleanup(&out);
}

int
main(int argc, char **argv)
{
    struct iptf_opts o;
    struct iptr_ruleset *v4 = NULL, *v6 = NULL;
    struct iptapply_tools tools;
    struct log_opts lo = {.fd = 2, .level = LOG_INFO};
    char n4[32], n6[32];
    int rc, status = 1;

    iptf_opts_init(&o);
    rc = iptf_parse(&o, argc, argv, environ);
    lo.level = o.log_level;
    lo.format = o.log_json ? LOG_FMT_JSON : LOG_FMT_LOGFMT;
    log_init(&lo);
    if (rc) {
        log_kv(LOG_ERROR, COMP, "invalid arguments, nothing applied", "error",
               errmsg_get(), NULL);
        status = 2;
        goto done;
    }
    if (o.help) {
        fputs(iptf_usage(), stdout);
        status = 0;
        goto done;
    }
    if (o.uid_defaulted && default_uid(&o.cfg))
        goto fail;
    if (o.dns_requested)
        log_kv(LOG_WARN, COMP,
               "DNS capture (ISTIO_META_DNS_CAPTURE / --redirect-dns) is not "
               "supported; DNS is not redirected",
               NULL);
    rc = iptr_build(&o.cfg, 4, &v4);
    if (rc == 0 && iptr_config_wants_v6(&o.cfg))
        rc = iptr_build(&o.cfg, 6, &v6);
    if (rc)
        goto fail;
    if (o.dry_run) {
        if (print_rulesets(v4, v6))
            goto fail;
        status = 0;
        goto done;
    }
    if (o.skip_apply) {
        log_kv(LOG_INFO, COMP, "rules built, --skip-rule-apply: not applied",
               NULL);
        status = 0;
        goto done;
    }
    rc = iptapply_detect(o.backend, &tools);
    if (rc)
        goto fail;
    log_kv(LOG_INFO, COMP, o.cleanup_only ? "removing rules" : "applying rules",
           "backend", tools.backend, "restore", tools.restore4, "ipv6",
           v6 ? "true" : "false", NULL);
    /* TPROXY routing first: alone it is harmless (nothing is marked yet),
     * so a failure here leaves no rules half-applied. */
    if (o.cfg.mode == IPTR_MODE_TPROXY && !o.cleanup_only) {
        rc =
            iptapply_tproxy_routes(4, o.cfg.tproxy_mark, o.cfg.tproxy_table, 0);
        if (rc == 0 && v6)
            rc = iptapply_tproxy_routes(6, o.cfg.tproxy_mark,
                                        o.cfg.tproxy_table, 0);
        if (rc) {
            errmsg_prefix(rc, "TPROXY routing");
            goto fail;
        }
    }
    if (o.cleanup_only)
        rc = iptapply_apply(&tools, NULL, NULL);
    else
        rc = iptapply_apply(&tools, v4, v6);
    if (rc)
        goto fail;
    if (o.cfg.mode == IPTR_MODE_TPROXY && o.cleanup_only) {
        iptapply_tproxy_routes(4, o.cfg.tproxy_mark, o.cfg.tproxy_table, 1);
        iptapply_tproxy_routes(6, o.cfg.tproxy_mark, o.cfg.tproxy_table, 1);
    }
    log_state(&tools, 4);
    if (v6)
        log_state(&tools, 6);
    snprintf(n4, sizeof(n4), "%zu", v4 ? v4->n : (size_t)0);
    snprintf(n6, sizeof(n6), "%zu", v6 ? v6->n : (size_t)0);
    log_kv(LOG_INFO, COMP, o.cleanup_only ? "rules removed" : "rules applied",
           "backend", tools.backend, "tables_v4", n4, "tables_v6", n6, NULL);
    status = 0;
    goto done;
fail:
    log_kv(LOG_ERROR, COMP, "failed", "error", errmsg_get(), NULL);
    status = 1;
done:
    iptr_ruleset_free(v4);
    iptr_ruleset_free(v6);
    iptf_opts_cleanup(&o);
    log_shutdown();
    return status;
}
