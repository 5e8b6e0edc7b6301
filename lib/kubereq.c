/* kubereq.c: one REST call with the client's retry policy (see
 * kubeclient.h): an attempt on a pooled easy handle, the translation of
 * libcurl codes and HTTP Status answers into RC_* (done here and nowhere
 * else), exponential backoff with jitter honouring Retry-After, and a
 * single token re-read + retry after a 401. The status of the last failure
 * of a thread is kept in a thread-local kube_status. */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/jutil.h"
#include "lib/kubeclient.h"
#include "lib/kubepriv.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define KUBE_RETRY_AFTER_MAX_S 60
#define KUBE_STATUS_MAX_BYTES ((size_t)1 << 20)

static _Thread_local struct kube_status last_status = {0, "", -1};

const struct kube_status *
kube_last_status(void)
{
    return &last_status;
}

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- one request, with retries ---- */

struct resp {
    struct buf body;
    int retry_after; /* seconds, -1 when absent */
    int too_big;
};

static size_t
on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct resp *r = ud;
    size_t n = size * nmemb;

    if (buf_add(&r->body, p, n) != 0) {
        r->too_big = 1;
        return 0; /* abort the transfer */
    }
    return n;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct resp *r = ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";

    if (n > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        long v = 0;
        size_t i = sizeof(name) - 1;
        int digits = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (i < n && p[i] >= '0' && p[i] <= '9' && v < 1000000) {
            v = v * 10 + (p[i++] - '0');
            digits++;
        }
        /* an HTTP date is not honoured: the backoff applies */
        r->retry_after = digits ? (int)v : -1;
    }
    return n;
}

static int
map_http(int code)
{
    switch (code) {
    case 404:
        return RC_NOTFOUND;
    case 409:
        return RC_CONFLICT;
    case 410:
        return RC_GONE;
    case 401:
    case 403:
        return RC_DENIED;
    case 413:
        return RC_LIMIT;
    case 429:
        return RC_AGAIN;
    default:
        if (code >= 500)
            return RC_AGAIN;
        if (code >= 400)
            return RC_INVAL;
        return RC_IO; /* 1xx/3xx: unexpected */
    }
}

/* Sets last_status and errmsg from a failed HTTP answer; returns the RC. */
static int
http_failure(int code, struct resp *r, const char *method, const char *path)
{
    json_t *st = NULL; /* owned */
    struct jutil_limits lim = {KUBE_STATUS_MAX_BYTES, 32};
    const char *msg = NULL, *reason = NULL;
    int rc = map_http(code);

    last_status.http_code = code;
    last_status.reason[0] = '\0';
    last_status.retry_after_s = r->retry_after;
    if (r->body.len > 0 &&
        jutil_parse(&st, r->body.ptr, r->body.len, &lim) == 0 &&
        json_is_object(st)) {
        msg = jutil_str(st, "message");
        reason = jutil_str(st, "reason");
        if (last_status.retry_after_s < 0) {
            json_t *ra = jutil_path(st, "details.retryAfterSeconds");
            if (json_is_integer(ra) && json_integer_value(ra) >= 0 &&
                json_integer_value(ra) < 1000000)
                last_status.retry_after_s = (int)json_integer_value(ra);
        }
    }
    if (reason != NULL)
        snprintf(last_status.reason, sizeof(last_status.reason), "%s", reason);
    if (msg != NULL && msg[0] != '\0')
        errmsg_set(rc, "%s", msg);
    else
        errmsg_set(rc, "HTTP %d from %s %.300s", code, method, path);
    json_decref(st);
    return rc;
}

static int
transport_failure(CURLcode e, const char *errbuf, const char *method,
                  const char *path, int *retry)
{
    int rc;

    last_status.http_code = 0;
    last_status.reason[0] = '\0';
    last_status.retry_after_s = -1;
    *retry = 0;
    switch (e) {
    case CURLE_OPERATION_TIMEDOUT:
        rc = RC_TIMEOUT;
        *retry = 1;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        rc = RC_IO;
        *retry = 1;
        break;
    case CURLE_SSL_CONNECT_ERROR:
        /* also what a reset during the handshake gives: transient */
        rc = RC_TLS;
        *retry = 1;
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_USE_SSL_FAILED:
        rc = RC_TLS;
        break;
    case CURLE_OUT_OF_MEMORY:
        rc = RC_NOMEM;
        break;
    default:
        rc = RC_IO;
        break;
    }
    return errmsg_set(rc, "%s %.300s: %s", method, path,
                      errbuf[0] ? errbuf : curl_easy_strerror(e));
}

enum outcome { DONE, RETRY, REAUTH, RELOAD_CA };

/* One attempt. DONE with rc (0: body in r), RETRY with rc (transient), or
 * REAUTH (401 and a token file to re-read). */
static enum outcome
attempt(struct kube_client *c, const char *method, const char *url,
        const char *path, const char *ctype, const char *body, size_t body_len,
        struct resp *r, int *rc_out)
{
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE];
    char ctbuf[128];
    CURLcode e = CURLE_OK;
    enum outcome oc = DONE;
    long code = 0;
    int rc = 0, retry = 0;

    errbuf[0] = '\0';
    buf_reset(&r->body);
    r->retry_after = -1;
    r->too_big = 0;
    h = kube_pool_get(c);
    if (h == NULL) {
        rc = errmsg_set(RC_NOMEM, "curl_easy_init failed");
        goto done;
    }
    if ((rc = kube_setup_common(c, h, url)) != 0)
        goto done;
    if (body != NULL)
        snprintf(ctbuf, sizeof(ctbuf), "Content-Type: %s",
                 ctype ? ctype : "application/json");
    /* "Expect:" stops libcurl from waiting for 100-continue on bodies */
    if ((rc = kube_add_header(&hdrs, "Accept: application/json")) != 0 ||
        (rc = kube_add_header(&hdrs, "Expect:")) != 0 ||
        (body != NULL && (rc = kube_add_header(&hdrs, ctbuf)) != 0))
        goto done;
    if ((rc = kube_add_auth_header(c, &hdrs)) != 0)
        goto done;
#define SET(opt, val)                                                          \
    do {                                                                       \
        if (e == CURLE_OK)                                                     \
            e = curl_easy_setopt(h, opt, val);                                 \
    } while (0)
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_TIMEOUT_MS, (long)c->opts.timeout_ms);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, r);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, r);
    if (strcmp(method, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else {
        SET(CURLOPT_CUSTOMREQUEST, method);
        if (body != NULL) {
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
            SET(CURLOPT_POSTFIELDS, body);
        }
    }
#undef SET
    if (e != CURLE_OK) {
        rc = errmsg_set(e == CURLE_OUT_OF_MEMORY ? RC_NOMEM : RC_INTERNAL,
                        "libcurl option refused: %s", curl_easy_strerror(e));
        goto done;
    }
    e = curl_easy_perform(h);
    __atomic_add_fetch(&c->st.attempts, 1, __ATOMIC_RELAXED);
    {
        long nc = 0;
        if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nc) == CURLE_OK &&
            nc > 0)
            __atomic_add_fetch(&c->st.connects, (unsigned long)nc,
                               __ATOMIC_RELAXED);
    }
    if (e == CURLE_WRITE_ERROR && r->too_big) {
        last_status.http_code = 0;
        last_status.reason[0] = '\0';
        last_status.retry_after_s = -1;
        rc = errmsg_set(RC_LIMIT, "%s %.300s: response larger than %zu bytes",
                        method, path, c->opts.max_body);
        goto done;
    }
    if (e != CURLE_OK) {
        rc = transport_failure(e, errbuf, method, path, &retry);
        oc = retry ? RETRY : DONE;
        if ((e == CURLE_PEER_FAILED_VERIFICATION ||
             e == CURLE_SSL_CACERT_BADFILE) &&
            c->ca_file != NULL)
            oc = RELOAD_CA;
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300)
        goto done;
    rc = http_failure((int)code, r, method, path);
    if (code == 401 && c->token_file != NULL)
        oc = REAUTH;
    else if (code == 429 || code >= 500)
        oc = RETRY;
done:
    /* the handle must not keep pointers to our stack or the headers */
    if (h != NULL) {
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, (char *)NULL);
        kube_pool_put(c, h);
    }
    curl_slist_free_all(hdrs);
    *rc_out = rc;
    return oc;
}

static _Thread_local uint64_t rng_state;

static uint64_t
rng_next(void)
{
    if (rng_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rng_state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
                    (uint64_t)(uintptr_t)&rng_state;
        if (rng_state == 0)
            rng_state = 0x9e3779b97f4a7c15ULL;
    }
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Delay before retry number n (0-based): exponential, capped, with "equal
 * jitter" (half fixed, half random); at least Retry-After when given. */
static int64_t
backoff_ms(const struct kube_client *c, int n, int retry_after_s)
{
    int64_t d = c->opts.backoff_base_ms;

    for (int i = 0; i < n && d < c->opts.backoff_max_ms; i++)
        d *= 2;
    if (d > c->opts.backoff_max_ms)
        d = c->opts.backoff_max_ms;
    d = d / 2 + (int64_t)(rng_next() % (uint64_t)(d / 2 + 1));
    if (retry_after_s >= 0) {
        int64_t ra = (int64_t)(retry_after_s < KUBE_RETRY_AFTER_MAX_S
                                   ? retry_after_s
                                   : KUBE_RETRY_AFTER_MAX_S) *
                     1000;
        if (ra > d)
            d = ra;
    }
    return d;
}

int
kube_request(struct kube_client *c, const char *method,
             const char *path_and_query, const char *content_type,
             const char *body, size_t body_len, json_t **out)
{
    struct resp r;
    struct buf url;
    struct jutil_limits lim;
    int rc = 0, reauthed = 0, reloaded = 0;

    if (out != NULL)
        *out = NULL;
    buf_init(&r.body, c->opts.max_body);
    buf_init(&url, (size_t)1 << 16);
    if ((rc = kube_build_url(c, &url, path_and_query)) != 0)
        goto done;
    for (int n = 0;;) {
        enum outcome oc = attempt(c, method, url.ptr, path_and_query,
                                  content_type, body, body_len, &r, &rc);
        if (oc == REAUTH && !reauthed) {
            reauthed = 1;
            if (kube_client_token_refresh(c) == 0) {
                __atomic_add_fetch(&c->st.retries, 1, __ATOMIC_RELAXED);
                continue; /* once, at once */
            }
            rc = http_failure(401, &r, method, path_and_query);
        }
        if (oc == RELOAD_CA && !reloaded) {
            /* the CA file may have rotated: re-read it and retry once */
            char saved[ERRMSG_MAX];
            reloaded = 1;
            snprintf(saved, sizeof(saved), "%s", errmsg_get());
            if (kube_ca_reload(c) == 1) {
                __atomic_add_fetch(&c->st.retries, 1, __ATOMIC_RELAXED);
                continue;
            }
            errmsg_set(rc, "%s", saved); /* keep the TLS error */
        }
        if (oc != RETRY || n >= c->opts.max_retries)
            break;
        sleep_ms(backoff_ms(c, n, last_status.retry_after_s));
        __atomic_add_fetch(&c->st.retries, 1, __ATOMIC_RELAXED);
        n++;
    }
    if (rc != 0 || out == NULL)
        goto done;
    if (r.body.len == 0) {
        *out = json_null();
        goto done;
    }
    lim.max_bytes = c->opts.max_body;
    lim.max_depth = 100;
    rc = jutil_parse(out, r.body.ptr, r.body.len, &lim);
    if (rc != 0)
        errmsg_prefix(rc, "%s %.300s: response", method, path_and_query);
done:
    buf_cleanup(&url);
    buf_cleanup(&r.body);
    if (rc != 0)
        __atomic_add_fetch(&c->st.failures, 1, __ATOMIC_RELAXED);
    return rc;
}
