/* iptapply.h: applying a ruleset with iptables-restore, atomically and
 * idempotently, through the nft or the legacy backend.
 *
 * Backend: the one already holding rules in this network namespace (the
 * one whose *-save prints more "-A" lines) wins; with none, iptables-nft
 * if installed, else iptables-legacy, else plain iptables-restore.
 *
 * Idempotency: before restoring, the current rules are read with *-save
 * and iptapply_plan writes one --noflush restore per family that
 *   - declares our chains (":ISTIO_X - [0:0]" flushes an existing chain),
 *   - flushes and deletes ISTIO_* chains this ruleset no longer has,
 *   - deletes every rule of a built-in chain that jumps to an ISTIO_*
 *     chain or is identical to a built-in rule we are about to add,
 *   - then appends our rules.
 * So running twice leaves one copy, and a changed config replaces the old
 * one. The restore is first run with --test, then for real; both families
 * are tested before either is applied.
 *
 * Children are started with fork+exec (never a shell), their output is
 * captured with a cap, and each has a deadline. */
#ifndef MZ_IPTAPPLY_H
#define MZ_IPTAPPLY_H

#include "agent/iptflags.h"
#include "agent/iptrules.h"
#include "lib/buf.h"

#include <stddef.h>

#define IPTAPPLY_PATH_MAX 256
#define IPTAPPLY_OUT_MAX ((size_t)16 << 20) /* cap on a child's output */
#define IPTAPPLY_TIMEOUT_MS 30000           /* per child */

struct iptapply_tools {
    const char *backend; /* "nft", "legacy" or "default" (static) */
    char save4[IPTAPPLY_PATH_MAX], restore4[IPTAPPLY_PATH_MAX];
    char save6[IPTAPPLY_PATH_MAX], restore6[IPTAPPLY_PATH_MAX]; /* "" if
                                                                   absent */
};

/* iptapply_run runs argv[0] (a path, or a name looked up in PATH and the
 * sbin directories) with argv, feeding it in[0..inlen) on stdin and
 * collecting stdout into out and stderr into err (either may be NULL; each
 * capped at IPTAPPLY_OUT_MAX). *status is the exit code, or 128+signal.
 * Returns 0 when the child ran (whatever its status), RC_NOTFOUND when the
 * program does not exist, RC_TIMEOUT (child killed), RC_IO or RC_NOMEM.
 * Ignores SIGPIPE process-wide (a child that exits early must not kill
 * us). */
int iptapply_run(char *const argv[], const char *in, size_t inlen,
                 struct buf *out, struct buf *err, int *status);

/* iptapply_find looks name up in $PATH, then /usr/sbin, /sbin, /usr/bin,
 * /bin. 0 with the path in out, or RC_NOTFOUND. */
int iptapply_find(const char *name, char *out, size_t outlen);

/* iptapply_count_rules: the number of "-A " lines in save output. */
size_t iptapply_count_rules(const char *saved);

/* iptapply_detect picks the backend (pref AUTO: see above) and fills t.
 * RC_NOTFOUND when the chosen backend's restore/save tools are missing. */
int iptapply_detect(enum iptf_backend pref, struct iptapply_tools *t);

/* iptapply_plan appends to payload the --noflush restore text that turns
 * the rules described by saved (iptables-save output of one family) into
 * rs (NULL: only remove ours). Appends nothing when there is nothing to do.
 * Pure. 0, RC_NOMEM or RC_LIMIT. */
int iptapply_plan(const struct iptr_ruleset *rs, const char *saved,
                  struct buf *payload);

/* iptapply_apply applies v4 and v6 (either may be NULL: our rules of that
 * family are removed, if any) with tools t. On failure nothing of that
 * call is left applied when the failure came from the --test pass; a
 * failure of the second family's real restore rolls the first back to its
 * previous rules. 0, RC_IO (a restore failed: message has its stderr),
 * RC_NOTFOUND, RC_TIMEOUT, RC_NOMEM. */
int iptapply_apply(const struct iptapply_tools *t,
                   const struct iptr_ruleset *v4,
                   const struct iptr_ruleset *v6);

/* iptapply_save appends the *-save output of family 4 or 6 to out.
 * 0, RC_NOTFOUND (no tool for that family), RC_IO, RC_TIMEOUT. */
int iptapply_save(const struct iptapply_tools *t, int family, struct buf *out);

/* iptapply_tproxy_routes makes sure "ip rule fwmark MARK lookup TABLE" and
 * "ip route local default dev lo table TABLE" exist once for family 4 or
 * 6 (remove = 1: deletes them). 0, RC_IO or RC_NOTFOUND. */
int iptapply_tproxy_routes(int family, unsigned long mark, unsigned long table,
                           int remove);

#endif
