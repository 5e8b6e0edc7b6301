/* fuzz_admission.c: bytes -> AdmissionReview decode -> injector (built-in
 * default configuration) -> response encode. Never crashes or leaks; the
 * response is valid JSON, an AdmissionReview in the request's apiVersion
 * with the request's uid, and a patch (when present) is base64 of a JSON
 * array. The first bytes up to a newline, when they start with "/inject",
 * are used as the request path (path parameters).
 *
 * The same bytes also go through wh_json_parse and jansson side by side:
 * whatever the fast parser accepts, jansson must accept too (within the
 * review's depth cap) and serialize to the same text (types, values and
 * key order). */
#include "injector/injector.h"
#include "lib/buf.h"
#include "lib/jpatch.h"
#include "lib/jutil.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "webhook/wh_admission.h"
#include "webhook/wh_frag.h"
#include "webhook/wh_json.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct inj_config *cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mem_init_jansson();
    /* prepared as the server prepares it: pre-written template parts */
    if (inj_config_load(&cfg, NULL, 0, NULL, 0) != 0 ||
        wh_frags_attach(cfg) != 0)
        abort();
    return 0;
}

static int
b64v(char c)
{
    const char *t =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(t, c) : NULL;
    return p ? (int)(p - t) : -1;
}

/* check_patch: s is the base64 of the patch jpatch_diff builds from the
 * outcome's pods (the answer streams it with jpatch_diff_each), written
 * exactly as wh_json_write writes that array, and applying it to the
 * review's pod gives the injected pod */
static void
check_patch(const char *s, const struct wh_outcome *oc)
{
    size_t n = strlen(s);
    struct buf b, text;
    json_t *v = NULL, *patch = NULL, *applied = NULL; /* owned */

    assert(n % 4 == 0);
    buf_init(&b, 0);
    for (size_t i = 0; i < n; i += 4) {
        int a = b64v(s[i]), c = b64v(s[i + 1]);
        int d = s[i + 2] == '=' ? 0 : b64v(s[i + 2]);
        int e = s[i + 3] == '=' ? 0 : b64v(s[i + 3]);
        assert(a >= 0 && c >= 0 && d >= 0 && e >= 0);
        unsigned x = (unsigned)(a << 18 | c << 12 | d << 6 | e);
        buf_addc(&b, (char)(x >> 16));
        if (s[i + 2] != '=')
            buf_addc(&b, (char)(x >> 8 & 255));
        if (s[i + 3] != '=')
            buf_addc(&b, (char)(x & 255));
    }
    assert(jutil_parse(&v, b.ptr, b.len, NULL) == 0);
    assert(json_is_array(v));
    assert(jpatch_diff(&patch, oc->from, oc->to) == 0);
    assert(json_equal(v, patch));
    buf_init(&text, 0);
    assert(wh_json_write(&text, patch) == 0);
    assert(text.len == b.len && memcmp(text.ptr, b.ptr, b.len) == 0);
    assert(jpatch_apply(&applied, oc->from, v) == 0);
    assert(json_equal(applied, oc->to));
    json_decref(applied);
    json_decref(patch);
    json_decref(v);
    buf_cleanup(&text);
    buf_cleanup(&b);
}

/* check_fast_parser: wh_json_parse accepts only what jansson accepts, and
 * builds the same document */
static void
check_fast_parser(const char *p, size_t n)
{
    struct jutil_limits lim = {0, WH_MAX_DEPTH};
    json_t *fast = NULL, *ref = NULL; /* owned */
    int rc = wh_json_parse(&fast, p, n, WH_MAX_DEPTH);
    int rrc = jutil_parse(&ref, p, n, &lim);

    assert(rc == 0 || rc == RC_AGAIN || rc == RC_NOMEM);
    if (rc == 0) {
        char *a, *b;
        assert(rrc == 0);
        assert(json_equal(fast, ref));
        a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
        b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
        assert(a != NULL && b != NULL && strcmp(a, b) == 0);
        free(a);
        free(b);
    }
    json_decref(fast);
    json_decref(ref);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    json_t *env = NULL;  /* owned */
    json_t *resp = NULL; /* owned */
    struct wh_review rv;
    struct wh_outcome oc;
    struct buf out;
    const uint8_t *nl;

    if (cfg == NULL)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size > 7 && memcmp(p, "/inject", 7) == 0 &&
        (nl = memchr(data, '\n', size)) != NULL) {
        char path[512];
        size_t n = (size_t)(nl - data);
        if (n < sizeof(path)) {
            memcpy(path, p, n);
            path[n] = '\0';
            if (strlen(path) == n)
                wh_path_parse(&env, path);
        }
        size -= n + 1;
        p = (const char *)nl + 1;
    }
    check_fast_parser(p, size);
    buf_init(&out, 0);
    /* as the server: the admission's JSON lives in a request arena */
    mem_arena_begin();
    if (wh_review_decode(&rv, p, size, 0) != 0)
        goto done;
    if (wh_admit(&oc, cfg, &rv, env) == 0) {
        if (wh_response_encode(&out, &rv, &oc) == 0) {
            assert(jutil_parse(&resp, out.ptr, out.len, NULL) == 0);
            assert(strcmp(jutil_str(resp, "apiVersion"), rv.api_version) == 0);
            assert(strcmp(jutil_str(resp, "kind"), "AdmissionReview") == 0);
            assert(strcmp(jutil_path_str(resp, "response.uid"), rv.uid) == 0);
            assert(json_is_boolean(jutil_path(resp, "response.allowed")));
            if (jutil_path_str(resp, "response.patch") != NULL)
                check_patch(jutil_path_str(resp, "response.patch"), &oc);
            json_decref(resp);
        }
        wh_outcome_cleanup(&oc);
    }
    wh_review_cleanup(&rv);
done:
    mem_arena_end();
    buf_cleanup(&out);
    json_decref(env);
    return 0;
}
