/* fuzz_iptables.c: mizzen-iptables' flag parser, rule builder and restore
 * planner never crash, and the ruleset text stays well-formed whatever the
 * flags say (a value can never inject a line into the restore input).
 *
 * Input: first byte even -> the rest is argv, one argument per line (the
 * pod's annotations end up there); every parsed config is built for both
 * families and rendered, and each line must be "*table", ":CHAIN - [0:0]",
 * "-A CHAIN ..." or "COMMIT", printable ASCII only. First byte odd -> the
 * rest is iptables-save output, planned against the default ruleset and
 * against nothing. */
#include "agent/iptapply.h"
#include "agent/iptflags.h"
#include "agent/iptrules.h"
#include "lib/buf.h"
#include "lib/mem.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

static void
check_text(const char *s)
{
    const char *p = s;

    while (*p) {
        const char *eol = strchr(p, '\n');
        assert(eol != NULL); /* every line is terminated */
        assert(p[0] == '*' || p[0] == ':' || strncmp(p, "-A ", 3) == 0 ||
               strncmp(p, "COMMIT\n", 7) == 0);
        for (const char *c = p; c < eol; c++)
            assert(*c >= 0x20 && *c < 0x7f);
        p = eol + 1;
    }
}

static void
fuzz_args(char *text)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    struct iptf_opts o;
    char *save = NULL;

    argv[argc++] = "mizzen-iptables";
    for (char *a = strtok_r(text, "\n", &save); a && argc <= MAX_ARGS;
         a = strtok_r(NULL, "\n", &save))
        argv[argc++] = a;
    argv[argc] = NULL;
    iptf_opts_init(&o);
    if (iptf_parse(&o, argc, argv, NULL) == 0) {
        for (int fam = 4; fam <= 6; fam += 2) {
            char *t = NULL;
            if (iptr_build_text(&o.cfg, fam, &t) == 0) {
                check_text(t);
                mem_free(t);
            }
        }
    }
    iptf_opts_cleanup(&o);
}

static void
fuzz_plan(const char *saved)
{
    struct iptr_config cfg;
    struct iptr_ruleset *rs = NULL;
    struct buf b;

    iptr_config_init(&cfg);
    cfg.inbound_all = 1;
    cfg.outbound_all = 1;
    buf_init(&b, 0);
    if (iptr_build(&cfg, 4, &rs) == 0)
        (void)iptapply_plan(rs, saved, &b);
    buf_reset(&b);
    (void)iptapply_plan(NULL, saved, &b);
    (void)iptapply_count_rules(saved);
    buf_cleanup(&b);
    iptr_ruleset_free(rs);
    iptr_config_cleanup(&cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;

    if (size < 1 || size > 65536)
        return 0;
    text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] % 2 == 0)
        fuzz_args(text);
    else
        fuzz_plan(text);
    free(text);
    return 0;
}
