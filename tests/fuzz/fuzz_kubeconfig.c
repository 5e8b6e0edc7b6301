/* fuzz_kubeconfig.c: kubeconfig bytes -> kube_config_parse never crashes or
 * leaks, fails only with the documented codes and a message, succeeds only
 * with an http(s) server and a namespace, and never echoes a secret: a
 * token or client-key-data value that occurs once in the input must not
 * appear in the error message. File references are refused
 * (KUBE_CONFIG_NO_FILES), so the target reads no files. */
#include "lib/errmsg.h"
#include "lib/kubecfg.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "lib/yamljson.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
count(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle), c = 0;

    for (size_t i = 0; k && i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            c++;
    return c;
}

/* Aborts when a secret of the document shows up in the current errmsg. */
static void
check_no_secret(const char *text, size_t n)
{
    static const char *const keys[] = {"token", "client-key-data"};
    json_t *doc = NULL, *users, *u; /* owned, borrowed, borrowed */
    const char *msg = errmsg_get();
    size_t i;

    if (yj_load_one(&doc, text, n, NULL) != 0)
        return;
    users = json_object_get(doc, "users");
    json_array_foreach(users, i, u)
    {
        for (size_t k = 0; k < 2; k++) {
            const char *v = json_string_value(
                json_object_get(json_object_get(u, "user"), keys[k]));
            if (v && strlen(v) >= 8 && count(text, n, v) == 1 &&
                strstr(msg, v) != NULL)
                abort();
        }
    }
    json_decref(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    static const char *const ctxs[] = {NULL, "x"};

    if (size > (64 << 10))
        return 0;
    for (int i = 0; i < 2; i++) {
        struct kube_config *cfg = NULL;
        int rc = kube_config_parse(&cfg, text, size, "/nonexistent", ctxs[i],
                                   KUBE_CONFIG_NO_FILES);
        if (rc == 0) {
            assert(cfg != NULL && cfg->server != NULL);
            assert(strncmp(cfg->server, "http://", 7) == 0 ||
                   strncmp(cfg->server, "https://", 8) == 0);
            assert(cfg->namespace != NULL && cfg->namespace[0] != '\0');
            assert((cfg->client_cert_pem == NULL) ==
                   (cfg->client_key_pem == NULL));
            assert(!(cfg->insecure && cfg->ca_pem != NULL));
            kube_config_free(cfg);
            continue;
        }
        assert(cfg == NULL);
        assert(rc == RC_PARSE || rc == RC_LIMIT || rc == RC_INVAL ||
               rc == RC_NOTFOUND || rc == RC_UNSUPPORTED || rc == RC_NOMEM);
        assert(errmsg_get()[0] != '\0');
        check_no_secret(text, size);
    }
    return 0;
}
