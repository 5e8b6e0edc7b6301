/* kubeincl.c: the in-cluster config (service-account files and
 * KUBERNETES_SERVICE_HOST/PORT) and kube_config_auto's choice of a source
 * (see kubecfg.h). The token itself is not kept here: the config names the
 * file and the client reads it (and re-reads it as it rotates). */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/kubecfg.h"
#include "lib/mem.h"
#include "lib/rc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static void
free_secret(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        mem_free(s);
    }
}

static int
dup_to(char **dst, const char *s)
{
    if (s == NULL)
        return 0;
    *dst = mem_strdup(s);
    return *dst ? 0 : errmsg_set(RC_NOMEM, "out of memory copying config");
}

/* ---- in-cluster ---- */

static int
valid_port(const char *s)
{
    char *end = NULL;
    long v;

    if (s[0] < '0' || s[0] > '9')
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && v >= 1 && v <= 65535;
}

int
kube_config_in_cluster(struct kube_config **out, const char *root)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    struct kube_config *cfg = NULL;
    struct buf b;
    char *probe = NULL, *ns = NULL;
    int rc = 0, err = 0;
    size_t len;

    *out = NULL;
    if (root == NULL)
        root = "";
    buf_init(&b, 4096);
    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0')
        return errmsg_set(RC_NOTFOUND,
                          "not in a cluster: KUBERNETES_SERVICE_HOST and "
                          "KUBERNETES_SERVICE_PORT must be set");
    if (!valid_port(port))
        return errmsg_set(RC_INVAL,
                          "KUBERNETES_SERVICE_PORT \"%.40s\" is not "
                          "a port",
                          port);
    for (const char *p = host; *p; p++)
        if ((unsigned char)*p <= ' ' || strchr("/?#@", *p))
            return errmsg_set(RC_INVAL,
                              "KUBERNETES_SERVICE_HOST \"%.100s\" is not a "
                              "host",
                              host);
    cfg = mem_calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    if (strchr(host, ':') != NULL && host[0] != '[')
        rc = buf_addf(&b, "https://[%s]:%s", host, port);
    else
        rc = buf_addf(&b, "https://%s:%s", host, port);
    if (rc != 0 || (cfg->server = buf_take(&b, NULL)) == NULL) {
        rc = errmsg_set(rc ? rc : RC_NOMEM, "bad KUBERNETES_SERVICE_HOST");
        goto fail;
    }
    if ((rc = buf_addf(&b, "%s%s/token", root, SA_DIR)) != 0 ||
        (cfg->token_file = buf_take(&b, NULL)) == NULL) {
        rc = errmsg_set(rc ? rc : RC_NOMEM, "service-account path too long");
        goto fail;
    }
    /* the token must be readable now; the client re-reads it later */
    rc = kube_read_file_ex(&probe, &len, cfg->token_file, KUBE_CONFIG_MAX_TOKEN,
                           "service-account token", &err);
    free_secret(probe);
    if (rc == RC_IO && err == ENOENT)
        rc = errmsg_set(RC_NOTFOUND,
                        "not in a cluster: no service-account token at %s",
                        cfg->token_file);
    if (rc != 0)
        goto fail;
    if ((rc = buf_addf(&b, "%s%s/ca.crt", root, SA_DIR)) != 0 ||
        (probe = buf_take(&b, NULL)) == NULL) {
        rc = errmsg_set(rc ? rc : RC_NOMEM, "service-account path too long");
        goto fail;
    }
    rc = kube_read_file_ex(&cfg->ca_pem, NULL, probe, KUBE_CONFIG_MAX_PEM,
                           "service-account CA", &err);
    if (rc == 0) {
        cfg->ca_file = probe; /* re-read by the client if it rotates */
        probe = NULL;
    }
    mem_free(probe);
    probe = NULL;
    if (rc == RC_IO && err == ENOENT)
        rc = 0; /* as client-go: fall back to the system trust store */
    if (rc != 0)
        goto fail;
    if ((rc = buf_addf(&b, "%s%s/namespace", root, SA_DIR)) != 0 ||
        (probe = buf_take(&b, NULL)) == NULL) {
        rc = errmsg_set(rc ? rc : RC_NOMEM, "service-account path too long");
        goto fail;
    }
    rc = kube_read_file_ex(&ns, NULL, probe, 4096, "service-account namespace",
                           &err);
    mem_free(probe);
    probe = NULL;
    if (rc == RC_IO && err == ENOENT)
        rc = 0;
    if (rc != 0)
        goto fail;
    if (ns != NULL) {
        char *s = ns, *e;
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
                         e[-1] == '\r'))
            *--e = '\0';
        if (*s != '\0' && (rc = dup_to(&cfg->namespace, s)) != 0)
            goto fail;
    }
    if (cfg->namespace == NULL && (rc = dup_to(&cfg->namespace, "default")))
        goto fail;
    mem_free(ns);
    buf_cleanup(&b);
    *out = cfg;
    return 0;
fail:
    mem_free(ns);
    buf_cleanup(&b);
    kube_config_free(cfg);
    return rc;
}

int
kube_config_auto(struct kube_config **out, const char *kubeconfig)
{
    const char *env, *home;
    struct buf b;
    int rc;

    *out = NULL;
    if (kubeconfig != NULL && kubeconfig[0] != '\0')
        return kube_config_from_file(out, kubeconfig, NULL);
    env = getenv("KUBERNETES_SERVICE_HOST");
    if (env != NULL && env[0] != '\0') {
        rc = kube_config_in_cluster(out, NULL);
        if (rc != RC_NOTFOUND)
            return rc;
    }
    env = getenv("KUBECONFIG");
    if (env != NULL && env[0] != '\0')
        return kube_config_from_file(out, env, NULL);
    home = getenv("HOME");
    if (home == NULL || home[0] == '\0')
        return errmsg_set(RC_NOTFOUND,
                          "no API server configuration: not in a cluster, "
                          "KUBECONFIG and HOME unset");
    buf_init(&b, PATH_MAX);
    if ((rc = buf_addf(&b, "%s/.kube/config", home)) != 0) {
        buf_cleanup(&b);
        return errmsg_set(rc, "HOME is too long");
    }
    if (access(b.ptr, F_OK) != 0) {
        rc = errmsg_set(RC_NOTFOUND,
                        "no API server configuration: not in a cluster, "
                        "KUBECONFIG unset and %s missing",
                        b.ptr);
        buf_cleanup(&b);
        return rc;
    }
    rc = kube_config_from_file(out, b.ptr, NULL);
    buf_cleanup(&b);
    return rc;
}
