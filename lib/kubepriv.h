/* kubepriv.h: internals shared by kubehttp.c (client, TLS, token, easy
 * handles) and kubereq.c (one REST call with retries). Not for other
 * modules: they use kubeclient.h. */
#ifndef MZ_KUBEPRIV_H
#define MZ_KUBEPRIV_H

#include "lib/kubeclient.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>

struct buf;

#define KUBE_POOL_MAX 16

struct kube_client {
    char *base;                    /* URL prefix of every request */
    struct curl_slist *connect_to; /* for tls-server-name, or NULL */
    char *cert_pem, *key_pem;
    int insecure;
    char *namespace;
    char *user_agent;
    struct kube_client_opts opts; /* defaults filled in; user_agent unused */

    pthread_mutex_t tok_mu; /* token and CA: both can rotate */
    char *ca_pem;           /* current CA or NULL */
    char *ca_file;          /* where it came from, or NULL */
    char *token;            /* current bearer token (secret) or NULL */
    char *token_file;       /* or NULL */
    int64_t token_read;     /* monotonic ms of the last file read */

    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

    struct kube_client_stats st; /* updated with __atomic builtins */

    pthread_mutex_t pool_mu;
    CURL *pool[KUBE_POOL_MAX];
    int npool;
};

/* An easy handle for one call: a pooled one (reset, its live connection
 * kept) or a new one; NULL when out of memory. kube_pool_put gives it back
 * (or frees it when the pool is full). */
CURL *kube_pool_get(struct kube_client *c);
void kube_pool_put(struct kube_client *c, CURL *h);

/* kube_setup_common sets the URL, TLS, timeouts, keepalive and the share on
 * h: 0, RC_NOMEM or RC_INTERNAL. */
int kube_setup_common(struct kube_client *c, CURL *h, const char *url);

/* kube_build_url appends base + path to url: 0, RC_INVAL, RC_LIMIT. */
int kube_build_url(struct kube_client *c, struct buf *url, const char *path);

/* kube_ca_reload re-reads ca_file after a verification failure: 1 when the
 * CA changed (worth a retry), 0 when it did not or there is no file, or the
 * read error. */
int kube_ca_reload(struct kube_client *c);

/* Header list helpers: 0 or RC_NOMEM (the list is unchanged on failure).
 * kube_add_auth_header re-reads a stale token file first. */
int kube_add_header(struct curl_slist **h, const char *line);
int kube_add_auth_header(struct kube_client *c, struct curl_slist **h);

#endif
