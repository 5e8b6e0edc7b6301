/* kubehttp.c: the HTTP layer of the Kubernetes client (libcurl).
 *
 * One struct kube_client serves every thread of a process:
 * - a curl share handle holds the DNS cache and TLS sessions (thread-safe
 *   through one mutex per lock kind). Connections are NOT put in the share:
 *   libcurl does not support one connection cache used by concurrent
 *   threads. Instead, idle easy handles (each keeping its live connection)
 *   wait in a small pool, so a call usually reuses a warm connection;
 * - the bearer token lives under a mutex; a token file is re-read at most
 *   every KUBE_TOKEN_REREAD_S seconds, and at once after a 401;
 * - TLS material is handed to libcurl as blobs (no temporary files); a CA
 *   blob replaces the system trust store; TLS 1.2 is the minimum;
 * - tls-server-name is done by putting that name in the URL (SNI and
 *   certificate check use it) and CURLOPT_CONNECT_TO to reach the real host.
 *
 * The call itself (retries, error mapping) is in kubereq.c. */
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/errmsg.h"
#include "lib/kubecfg.h"
#include "lib/kubeclient.h"
#include "lib/mem.h"
#include "lib/kubepriv.h"
#include "lib/rc.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KUBE_TOKEN_REREAD_S 60

static void
free_secret(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        mem_free(s);
    }
}

/* ---- libcurl global state and the share handle ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void
global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    struct kube_client *c = ud;

    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&c->share_mu[data]);
}

static void
share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    struct kube_client *c = ud;

    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&c->share_mu[data]);
}

/* ---- token ---- */

/* Reads the token file into c->token; caller holds tok_mu. */
static int
token_read_locked(struct kube_client *c)
{
    char *t = NULL, *s, *e;
    size_t len = 0;
    int rc;

    rc = kube_read_file(&t, &len, c->token_file, KUBE_CONFIG_MAX_TOKEN,
                        "token file");
    c->token_read = clock_mono_ms();
    if (rc != 0)
        return rc;
    s = t;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    e = s + strlen(s);
    while (e > s &&
           (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
    for (const char *p = s; p < e; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            free_secret(t);
            return errmsg_set(RC_INVAL, "token file %s has a control byte",
                              c->token_file);
        }
    }
    if (e == s) {
        free_secret(t);
        return errmsg_set(RC_INVAL, "token file %s is empty", c->token_file);
    }
    *e = '\0';
    free_secret(c->token);
    c->token = mem_strdup(s);
    free_secret(t);
    if (c->token == NULL)
        return errmsg_set(RC_NOMEM, "out of memory reading the token");
    return 0;
}

int
kube_client_token_refresh(struct kube_client *c)
{
    int rc = 0;

    if (c->token_file == NULL)
        return 0;
    pthread_mutex_lock(&c->tok_mu);
    rc = token_read_locked(c);
    pthread_mutex_unlock(&c->tok_mu);
    return rc;
}

int
kube_ca_reload(struct kube_client *c)
{
    char *pem = NULL;
    int rc = 0;

    if (c->ca_file == NULL)
        return 0;
    rc = kube_read_file(&pem, NULL, c->ca_file, KUBE_CONFIG_MAX_PEM, "CA file");
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&c->tok_mu);
    if (strstr(pem, "-----BEGIN ") != NULL &&
        (c->ca_pem == NULL || strcmp(pem, c->ca_pem) != 0)) {
        mem_free(c->ca_pem);
        c->ca_pem = pem;
        pem = NULL;
        rc = 1;
    }
    pthread_mutex_unlock(&c->tok_mu);
    mem_free(pem);
    return rc;
}

/* Appends the Authorization header (if any) to *h; 0 or RC_NOMEM. A stale
 * token file is re-read first (a failed read keeps the old token). */
int
kube_add_auth_header(struct kube_client *c, struct curl_slist **h)
{
    struct buf b;
    struct curl_slist *n = NULL;
    int rc = 0;

    buf_init(&b, KUBE_CONFIG_MAX_TOKEN + 64);
    pthread_mutex_lock(&c->tok_mu);
    if (c->token_file != NULL &&
        clock_mono_ms() - c->token_read >= KUBE_TOKEN_REREAD_S * 1000)
        (void)token_read_locked(c);
    if (c->token != NULL)
        rc = buf_addf(&b, "Authorization: Bearer %s", c->token);
    pthread_mutex_unlock(&c->tok_mu);
    if (rc == 0 && b.ptr != NULL) {
        n = curl_slist_append(*h, b.ptr);
        if (n == NULL)
            rc = RC_NOMEM;
        else
            *h = n;
    }
    if (b.ptr)
        explicit_bzero(b.ptr, b.len);
    buf_cleanup(&b);
    return rc ? errmsg_set(RC_NOMEM, "out of memory building headers") : 0;
}

/* ---- client ---- */

/* Splits "scheme://host[:port][/prefix]" into its parts (new strings). */
static int
split_server(const char *server, char **scheme, char **host, long *port,
             char **prefix)
{
    const char *p = strstr(server, "://"), *h, *hend, *rest;
    char *end = NULL;

    *scheme = *host = *prefix = NULL;
    if (p == NULL)
        return errmsg_set(RC_INVAL, "server \"%.200s\" is not a URL", server);
    h = p + 3;
    rest = h + strcspn(h, "/");
    if (h[0] == '[') {
        hend = memchr(h, ']', (size_t)(rest - h));
        if (hend == NULL)
            return errmsg_set(RC_INVAL, "server \"%.200s\": bad IPv6 host",
                              server);
        hend++;
    } else {
        hend = memchr(h, ':', (size_t)(rest - h));
        if (hend == NULL)
            hend = rest;
    }
    if (hend == h)
        return errmsg_set(RC_INVAL, "server \"%.200s\" has no host", server);
    if (*hend == ':') {
        errno = 0;
        *port = strtol(hend + 1, &end, 10);
        if (errno != 0 || end != rest || *port < 1 || *port > 65535)
            return errmsg_set(RC_INVAL, "server \"%.200s\": bad port", server);
    } else if (hend != rest) {
        return errmsg_set(RC_INVAL, "server \"%.200s\": bad host", server);
    } else {
        *port = strncmp(server, "https", 5) == 0 ? 443 : 80;
    }
    *scheme = mem_strndup(server, (size_t)(p - server));
    *host = mem_strndup(h, (size_t)(hend - h));
    *prefix = mem_strdup(rest);
    if (*scheme == NULL || *host == NULL || *prefix == NULL) {
        mem_free(*scheme);
        mem_free(*host);
        mem_free(*prefix);
        *scheme = *host = *prefix = NULL;
        return errmsg_set(RC_NOMEM, "out of memory");
    }
    return 0;
}

static int
dup_opt(char **dst, const char *s)
{
    if (s == NULL)
        return 0;
    *dst = mem_strdup(s);
    return *dst ? 0 : errmsg_set(RC_NOMEM, "out of memory creating client");
}

static int
setup_target(struct kube_client *c, const struct kube_config *cfg)
{
    char *scheme = NULL, *host = NULL, *prefix = NULL;
    struct buf b;
    struct curl_slist *ct;
    long port = 0;
    int rc;

    buf_init(&b, 4096);
    rc = split_server(cfg->server, &scheme, &host, &port, &prefix);
    if (rc != 0)
        goto done;
    if (cfg->tls_server_name == NULL) {
        rc = dup_opt(&c->base, cfg->server);
        goto done;
    }
    if ((rc = buf_addf(&b, "%s:%ld:%s:%ld", cfg->tls_server_name, port, host,
                       port)) != 0) {
        rc = errmsg_set(rc, "tls-server-name too long");
        goto done;
    }
    ct = curl_slist_append(NULL, b.ptr);
    if (ct == NULL) {
        rc = errmsg_set(RC_NOMEM, "out of memory creating client");
        goto done;
    }
    c->connect_to = ct;
    buf_reset(&b);
    if ((rc = buf_addf(&b, "%s://%s:%ld%s", scheme, cfg->tls_server_name, port,
                       prefix)) != 0 ||
        (c->base = buf_take(&b, NULL)) == NULL)
        rc = errmsg_set(rc ? rc : RC_NOMEM, "out of memory creating client");
done:
    buf_cleanup(&b);
    mem_free(scheme);
    mem_free(host);
    mem_free(prefix);
    return rc;
}

int
kube_client_new(struct kube_client **out, const struct kube_config *cfg,
                const struct kube_client_opts *opts)
{
    struct kube_client *c = NULL;
    int rc = 0, i;

    *out = NULL;
    if (cfg == NULL || cfg->server == NULL)
        return errmsg_set(RC_INVAL, "kube_client_new: no server");
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return errmsg_set(RC_INTERNAL, "curl_global_init failed: %s",
                          curl_easy_strerror(global_rc));
    c = mem_calloc(1, sizeof(*c));
    if (c == NULL)
        return errmsg_set(RC_NOMEM, "out of memory creating client");
    pthread_mutex_init(&c->tok_mu, NULL);
    pthread_mutex_init(&c->pool_mu, NULL);
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_mu[i], NULL);
    if (opts != NULL)
        c->opts = *opts;
    c->opts.user_agent = NULL;
    if (c->opts.timeout_ms <= 0)
        c->opts.timeout_ms = 30000;
    if (c->opts.max_retries == 0)
        c->opts.max_retries = 5;
    else if (c->opts.max_retries < 0)
        c->opts.max_retries = 0;
    if (c->opts.backoff_base_ms <= 0)
        c->opts.backoff_base_ms = 200;
    if (c->opts.backoff_max_ms <= 0)
        c->opts.backoff_max_ms = 10000;
    if (c->opts.backoff_max_ms < c->opts.backoff_base_ms)
        c->opts.backoff_max_ms = c->opts.backoff_base_ms;
    if (c->opts.max_body == 0)
        c->opts.max_body = (size_t)64 << 20;
    c->insecure = cfg->insecure;
    if ((rc = setup_target(c, cfg)) != 0 ||
        (rc = dup_opt(&c->ca_pem, cfg->ca_pem)) != 0 ||
        (rc = dup_opt(&c->ca_file, cfg->ca_file)) != 0 ||
        (rc = dup_opt(&c->cert_pem, cfg->client_cert_pem)) != 0 ||
        (rc = dup_opt(&c->key_pem, cfg->client_key_pem)) != 0 ||
        (rc = dup_opt(&c->token, cfg->token)) != 0 ||
        (rc = dup_opt(&c->token_file, cfg->token_file)) != 0 ||
        (rc = dup_opt(&c->namespace,
                      cfg->namespace ? cfg->namespace : "default")) != 0 ||
        (rc = dup_opt(&c->user_agent, opts && opts->user_agent
                                          ? opts->user_agent
                                          : "mizzen/0.1")) != 0)
        goto fail;
    if (c->token_file != NULL && (rc = kube_client_token_refresh(c)) != 0)
        goto fail;
    c->share = curl_share_init();
    if (c->share == NULL) {
        rc = errmsg_set(RC_NOMEM, "curl_share_init failed");
        goto fail;
    }
    if (curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock) ||
        curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
        curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE,
                          CURL_LOCK_DATA_SSL_SESSION)) {
        rc = errmsg_set(RC_INTERNAL, "curl share setup failed");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    kube_client_free(c);
    return rc;
}

void
kube_client_free(struct kube_client *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < c->npool; i++)
        curl_easy_cleanup(c->pool[i]);
    if (c->share)
        curl_share_cleanup(c->share);
    curl_slist_free_all(c->connect_to);
    mem_free(c->base);
    mem_free(c->ca_pem);
    mem_free(c->ca_file);
    mem_free(c->cert_pem);
    free_secret(c->key_pem);
    free_secret(c->token);
    mem_free(c->token_file);
    mem_free(c->namespace);
    mem_free(c->user_agent);
    pthread_mutex_destroy(&c->tok_mu);
    pthread_mutex_destroy(&c->pool_mu);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_mu[i]);
    mem_free(c);
}

void
kube_client_stats(const struct kube_client *c, struct kube_client_stats *out)
{
    out->attempts = __atomic_load_n(&c->st.attempts, __ATOMIC_RELAXED);
    out->retries = __atomic_load_n(&c->st.retries, __ATOMIC_RELAXED);
    out->connects = __atomic_load_n(&c->st.connects, __ATOMIC_RELAXED);
    out->failures = __atomic_load_n(&c->st.failures, __ATOMIC_RELAXED);
}

const char *
kube_client_namespace(const struct kube_client *c)
{
    return c->namespace;
}

/* ---- easy handles ---- */

int
kube_add_header(struct curl_slist **h, const char *line)
{
    struct curl_slist *n = curl_slist_append(*h, line);

    if (n == NULL)
        return errmsg_set(RC_NOMEM, "out of memory building headers");
    *h = n;
    return 0;
}

CURL *
kube_pool_get(struct kube_client *c)
{
    CURL *h = NULL;

    pthread_mutex_lock(&c->pool_mu);
    if (c->npool > 0)
        h = c->pool[--c->npool];
    pthread_mutex_unlock(&c->pool_mu);
    if (h != NULL)
        curl_easy_reset(h); /* keeps the live connection */
    else
        h = curl_easy_init();
    return h;
}

void
kube_pool_put(struct kube_client *c, CURL *h)
{
    pthread_mutex_lock(&c->pool_mu);
    if (c->npool < KUBE_POOL_MAX) {
        c->pool[c->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->pool_mu);
    if (h != NULL)
        curl_easy_cleanup(h);
}

/* TLS, timeouts, keepalive and the URL: everything but headers/body. */
int
kube_setup_common(struct kube_client *c, CURL *h, const char *url)
{
    CURLcode e = CURLE_OK;

#define SET(opt, val)                                                          \
    do {                                                                       \
        if (e == CURLE_OK)                                                     \
            e = curl_easy_setopt(h, opt, val);                                 \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_SHARE, c->share);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_CONNECTTIMEOUT_MS,
        (long)(c->opts.timeout_ms < 10000 ? c->opts.timeout_ms : 10000));
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_KEEPIDLE, 30L);
    SET(CURLOPT_TCP_KEEPINTVL, 10L);
    SET(CURLOPT_USERAGENT, c->user_agent);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (c->connect_to != NULL)
        SET(CURLOPT_CONNECT_TO, c->connect_to);
    if (c->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        /* the CA may be swapped by kube_ca_reload: copy it under the lock */
        pthread_mutex_lock(&c->tok_mu);
        if (c->ca_pem != NULL) {
            struct curl_blob ca = {c->ca_pem, strlen(c->ca_pem),
                                   CURL_BLOB_COPY};
            SET(CURLOPT_CAINFO_BLOB, &ca);
            /* only this CA: drop the compiled-in bundle and folder */
            SET(CURLOPT_CAINFO, (char *)NULL);
            SET(CURLOPT_CAPATH, (char *)NULL);
        }
        pthread_mutex_unlock(&c->tok_mu);
    }
    if (c->cert_pem != NULL && c->key_pem != NULL) {
        struct curl_blob cert = {c->cert_pem, strlen(c->cert_pem),
                                 CURL_BLOB_COPY};
        struct curl_blob key = {c->key_pem, strlen(c->key_pem), CURL_BLOB_COPY};
        SET(CURLOPT_SSLCERT_BLOB, &cert);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
        SET(CURLOPT_SSLKEY_BLOB, &key);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (c->opts.gzip)
        SET(CURLOPT_ACCEPT_ENCODING, "gzip");
#undef SET
    if (e == CURLE_OUT_OF_MEMORY)
        return errmsg_set(RC_NOMEM, "out of memory setting up a request");
    if (e != CURLE_OK)
        return errmsg_set(RC_INTERNAL, "libcurl option refused: %s",
                          curl_easy_strerror(e));
    return 0;
}

int
kube_build_url(struct kube_client *c, struct buf *url, const char *path)
{
    if (path[0] != '/')
        return errmsg_set(RC_INVAL, "API path \"%.100s\" must start with '/'",
                          path);
    if (buf_addstr(url, c->base) != 0 || buf_addstr(url, path) != 0)
        return errmsg_set(RC_LIMIT, "request URL too long");
    return 0;
}

int
kube_client_setup_easy(struct kube_client *c, void *curl_easy,
                       const char *path_and_query, void **headers_out)
{
    struct curl_slist *h = NULL;
    struct buf url;
    int rc;

    *headers_out = NULL;
    buf_init(&url, (size_t)1 << 16);
    if ((rc = kube_build_url(c, &url, path_and_query)) != 0 ||
        (rc = kube_setup_common(c, curl_easy, url.ptr)) != 0)
        goto fail;
    /* a watch runs as long as its caller wants: no total timeout */
    curl_easy_setopt(curl_easy, CURLOPT_TIMEOUT_MS, 0L);
    if ((rc = kube_add_header(&h, "Accept: application/json")) != 0 ||
        (rc = kube_add_auth_header(c, &h)) != 0)
        goto fail;
    if (curl_easy_setopt(curl_easy, CURLOPT_HTTPHEADER, h) != CURLE_OK) {
        rc = errmsg_set(RC_INTERNAL, "libcurl refused the headers");
        goto fail;
    }
    buf_cleanup(&url);
    *headers_out = h;
    return 0;
fail:
    curl_slist_free_all(h);
    buf_cleanup(&url);
    return rc;
}
