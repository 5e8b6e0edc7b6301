/* kubecfg.h: how to reach the Kubernetes API server.
 *
 * Three sources: a kubeconfig file (--kubeconfig / KUBECONFIG, a
 * colon-separated list merged first-wins, else ~/.kube/config), the
 * in-cluster service account (KUBERNETES_SERVICE_HOST/PORT and the files in
 * /var/run/secrets/kubernetes.io/serviceaccount/), or kube_config_auto which
 * picks one as client-go does. Secrets (token, client key) are held in memory
 * only as long as the config lives and never appear in errmsg or logs.
 * Exec credential plugins are refused with RC_UNSUPPORTED and a clear
 * message. */
#ifndef MZ_KUBECFG_H
#define MZ_KUBECFG_H

#include <stddef.h>

struct kube_config {
    char *server;          /* "https://host:port" (no trailing '/') */
    char *ca_pem;          /* CA bundle PEM, NULL: system trust store */
    char *client_cert_pem; /* client certificate PEM or NULL */
    char *client_key_pem;  /* client key PEM or NULL (secret) */
    char *token;           /* static bearer token or NULL (secret) */
    char *token_file;      /* re-read by the client (<= 60 s, and on 401) */
    char *tls_server_name; /* verify the server as this name, or NULL */
    char *namespace;       /* context / in-cluster namespace ("default") */
    int insecure;          /* insecure-skip-tls-verify */
    /* added: the file ca_pem came from (in-cluster ca.crt, kubeconfig
     * certificate-authority), re-read by the client when verification
     * fails, or NULL */
    char *ca_file;
};

/* kube_config_from_file reads a kubeconfig (path may be a colon list);
 * context NULL = current-context. Relative paths resolve against the file's
 * folder. *out set only on success; RC_IO, RC_PARSE, RC_INVAL,
 * RC_NOTFOUND (context/cluster/user missing), RC_UNSUPPORTED (exec,
 * auth-provider). */
int kube_config_from_file(struct kube_config **out, const char *path,
                          const char *context);

/* kube_config_in_cluster: root is prepended to the service-account folder
 * (NULL or "" in production; a temp folder in tests). RC_NOTFOUND when not
 * in a cluster. */
int kube_config_in_cluster(struct kube_config **out, const char *root);

/* kube_config_auto: explicit path if given, else in-cluster if
 * KUBERNETES_SERVICE_HOST is set, else KUBECONFIG, else ~/.kube/config. */
int kube_config_auto(struct kube_config **out, const char *kubeconfig);

void kube_config_free(struct kube_config *cfg);

/* Caps on what the config code reads (over them: RC_LIMIT). */
#define KUBE_CONFIG_MAX_FILE ((size_t)4 << 20) /* one kubeconfig file */
#define KUBE_CONFIG_MAX_FILES 16               /* entries of a colon list */
#define KUBE_CONFIG_MAX_PEM ((size_t)1 << 20)  /* CA, cert or key file */
#define KUBE_CONFIG_MAX_TOKEN ((size_t)64 << 10)

/* kube_config_parse: one kubeconfig document from memory; relative paths
 * resolve against dir (NULL: the current folder). With
 * KUBE_CONFIG_NO_FILES, any reference to a file (certificate-authority,
 * client-certificate/key, tokenFile) is refused with RC_UNSUPPORTED instead
 * of being read (fuzzing). Codes as kube_config_from_file. */
#define KUBE_CONFIG_NO_FILES 1u
int kube_config_parse(struct kube_config **out, const char *text, size_t len,
                      const char *dir, const char *context, unsigned flags);

/* kube_read_file reads a whole regular file of at most max bytes into a new
 * NUL-terminated string (*out, free with mem_free; *len_out may be NULL).
 * RC_IO (missing, unreadable, not a regular file), RC_LIMIT, RC_NOMEM. `what`
 * names the file in errmsg ("token file"). */
int kube_read_file(char **out, size_t *len_out, const char *path, size_t max,
                   const char *what);
/* kube_read_file_ex: the same, and *err_out gets the errno of a failed
 * open or read (0 otherwise), e.g. to tell ENOENT from other failures. */
int kube_read_file_ex(char **out, size_t *len_out, const char *path, size_t max,
                      const char *what, int *err_out);

#endif
