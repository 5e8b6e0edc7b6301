/* ag_http.c: bounded HTTP requests with libcurl (ag_http.h).
 *
 * CURLcode is translated here and nowhere else. No signals (CURLOPT_NOSIGNAL,
 * the agent blocks them and reads a signalfd), no redirects followed, no
 * proxies from the environment (http_proxy must never divert a probe). */
#include "agent/ag_http.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sink {
    const struct ag_http_req *rq;
    struct ag_http_resp *resp;
    int over;
};

int
ag_http_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return errmsg_set(RC_INTERNAL, "curl_global_init failed");
    return 0;
}

void
ag_http_global_cleanup(void)
{
    curl_global_cleanup();
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;
    size_t room;

    if (s->rq->max_body == 0)
        return n;
    room = s->resp->body.len < s->rq->max_body
               ? s->rq->max_body - s->resp->body.len
               : 0;
    if (n > room) {
        s->over = 1;
        s->resp->truncated = 1;
        if (s->rq->fail_over_max)
            return 0; /* aborts the transfer */
        if (room > 0 && buf_add(&s->resp->body, p, room) != 0)
            return 0;
        return n;
    }
    if (buf_add(&s->resp->body, p, n) != 0)
        return 0;
    return n;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;

    if (n > 12 && strncasecmp(p, "grpc-status:", 12) == 0) {
        char tmp[16];
        size_t k = n - 12 < sizeof tmp - 1 ? n - 12 : sizeof tmp - 1;

        memcpy(tmp, p + 12, k);
        tmp[k] = '\0';
        s->resp->grpc_status = (int)strtol(tmp, NULL, 10);
    } else if (n > 13 && strncasecmp(p, "content-type:", 13) == 0) {
        size_t off = 13, k;

        while (off < n && (p[off] == ' ' || p[off] == '\t'))
            off++;
        k = n - off;
        while (k > 0 && (p[off + k - 1] == '\r' || p[off + k - 1] == '\n'))
            k--;
        if (k >= sizeof s->resp->content_type)
            k = sizeof s->resp->content_type - 1;
        memcpy(s->resp->content_type, p + off, k);
        s->resp->content_type[k] = '\0';
    }
    return n;
}

void
ag_http_url_host(const char *host, char *dst, size_t dstn)
{
    if (strchr(host, ':') != NULL)
        snprintf(dst, dstn, "[%s]", host);
    else
        snprintf(dst, dstn, "%s", host);
}

int
ag_http_do(const struct ag_http_req *rq, struct ag_http_resp *resp)
{
    CURL *c = NULL;
    struct curl_slist *hl = NULL;
    struct sink s = {rq, resp, 0};
    char errbuf[CURL_ERROR_SIZE];
    char iface[80];
    CURLcode cc;
    int rc = 0;

    memset(resp, 0, sizeof *resp);
    buf_init(&resp->body, rq->max_body ? rq->max_body + 1 : 1);
    resp->grpc_status = -1;
    errbuf[0] = '\0';
    c = curl_easy_init();
    if (c == NULL)
        return errmsg_set(RC_NOMEM, "curl_easy_init failed");
    for (const char *const *h = rq->headers; h && *h; h++) {
        struct curl_slist *t = curl_slist_append(hl, *h);

        if (t == NULL) {
            rc = errmsg_set(RC_NOMEM, "out of memory");
            goto out;
        }
        hl = t;
    }
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     rq->timeout_ms > 0 ? rq->timeout_ms : 1000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (hl)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (rq->source && *rq->source) {
        snprintf(iface, sizeof iface, "host!%s", rq->source);
        curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
    }
    if (rq->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (rq->h2c)
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
                         (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    if (rq->body || (rq->method && strcmp(rq->method, "POST") == 0)) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)rq->body_len);
    }
    if (rq->method && strcmp(rq->method, "GET") != 0 &&
        strcmp(rq->method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);

    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    if (cc == CURLE_OK) {
        rc = 0;
    } else if (cc == CURLE_WRITE_ERROR && s.over) {
        rc = errmsg_set(RC_LIMIT, "%s: body over %zu bytes", rq->url,
                        rq->max_body);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = errmsg_set(RC_TIMEOUT, "%s: timed out after %ld ms", rq->url,
                        rq->timeout_ms);
    } else if (cc == CURLE_OUT_OF_MEMORY ||
               (cc == CURLE_WRITE_ERROR && !s.over)) {
        rc = errmsg_set(RC_NOMEM, "%s: out of memory", rq->url);
    } else {
        rc = errmsg_set(RC_IO, "%s: %s", rq->url,
                        errbuf[0] ? errbuf : curl_easy_strerror(cc));
    }
out:
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return rc;
}

void
ag_http_resp_cleanup(struct ag_http_resp *resp)
{
    buf_cleanup(&resp->body);
}
