/* kubecfg.c: kubeconfig files: reading, merging a colon list, resolving
 * a context (see kubecfg.h).
 *
 * A kubeconfig list is never merged into a new document: a name (context,
 * cluster, user) is looked up in the files in order and the first file that
 * defines it wins, which is what client-go's merge gives. Every entry
 * remembers the folder of its file so relative paths resolve there.
 * The in-cluster config and kube_config_auto live in kubeincl.c.
 * Secrets (token, key) are wiped before their memory is freed and never
 * appear in errmsg: messages name fields and files, not values. */
#include "lib/kubecfg.h"
#include "lib/b64.h"
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "lib/yamljson.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- small helpers ---- */

static void
free_secret(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        mem_free(s);
    }
}

void
kube_config_free(struct kube_config *cfg)
{
    if (cfg == NULL)
        return;
    mem_free(cfg->server);
    mem_free(cfg->ca_pem);
    mem_free(cfg->ca_file);
    mem_free(cfg->client_cert_pem);
    free_secret(cfg->client_key_pem);
    free_secret(cfg->token);
    mem_free(cfg->token_file);
    mem_free(cfg->tls_server_name);
    mem_free(cfg->namespace);
    mem_free(cfg);
}

int
kube_read_file_ex(char **out, size_t *len_out, const char *path, size_t max,
                  const char *what, int *err_out)
{
    struct buf b;
    struct stat st;
    char chunk[8192];
    int fd = -1, rc = 0;
    ssize_t n;

    *out = NULL;
    *err_out = 0;
    buf_init(&b, max);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        *err_out = errno;
        rc = errmsg_set(RC_IO, "cannot open %s %s: %s", what, path,
                        strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = errmsg_set(RC_IO, "%s %s is not a regular file", what, path);
        goto done;
    }
    if ((size_t)st.st_size > max) {
        rc = errmsg_set(RC_LIMIT, "%s %s is larger than %zu bytes", what, path,
                        max);
        goto done;
    }
    for (;;) {
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *err_out = errno;
            rc = errmsg_set(RC_IO, "cannot read %s %s: %s", what, path,
                            strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        rc = buf_add(&b, chunk, (size_t)n);
        if (rc == RC_LIMIT) {
            rc = errmsg_set(RC_LIMIT, "%s %s is larger than %zu bytes", what,
                            path, max);
            goto done;
        }
        if (rc != 0) {
            rc = errmsg_set(rc, "out of memory reading %s", what);
            goto done;
        }
    }
    *out = buf_take(&b, len_out);
    if (*out == NULL)
        rc = errmsg_set(RC_NOMEM, "out of memory reading %s", what);
done:
    explicit_bzero(chunk, sizeof(chunk));
    if (b.ptr)
        explicit_bzero(b.ptr, b.len);
    buf_cleanup(&b);
    if (fd >= 0)
        close(fd);
    return rc;
}

int
kube_read_file(char **out, size_t *len_out, const char *path, size_t max,
               const char *what)
{
    int err;

    return kube_read_file_ex(out, len_out, path, max, what, &err);
}

/* Standard base64 (whitespace ignored, padding optional) into a new
 * NUL-terminated string. The field name, never the value, goes to errmsg. */
static int
data_decode(char **out, const char *s, const char *field)
{
    size_t n = 0;
    char *d = NULL;
    int rc;

    *out = NULL;
    rc = b64_decode(&d, &n, s, strlen(s), SIZE_MAX);
    if (rc == RC_NOMEM)
        return errmsg_set(RC_NOMEM, "out of memory decoding %s", field);
    if (rc != 0)
        return errmsg_prefix(RC_PARSE, "%s is not valid base64", field);
    if (strlen(d) != n) {
        explicit_bzero(d, n);
        mem_free(d);
        return errmsg_set(RC_INVAL, "%s decodes to bytes with a NUL", field);
    }
    *out = d;
    return 0;
}

/* ---- the merged view of one or more kubeconfig documents ---- */

struct kc_docs {
    json_t *doc[KUBE_CONFIG_MAX_FILES]; /* owned */
    char *dir[KUBE_CONFIG_MAX_FILES];   /* owned; NULL: current folder */
    char *path[KUBE_CONFIG_MAX_FILES];  /* owned; for messages, or NULL */
    int n;
    unsigned flags;
};

static void
docs_cleanup(struct kc_docs *d)
{
    for (int i = 0; i < d->n; i++) {
        json_decref(d->doc[i]);
        mem_free(d->dir[i]);
        mem_free(d->path[i]);
    }
    d->n = 0;
}

static const char *
doc_name(const struct kc_docs *d, int i)
{
    return d->path[i] ? d->path[i] : "kubeconfig";
}

/* Checks the shape of a list section ("clusters") of document i. */
static int
check_section(const struct kc_docs *d, int i, const char *section,
              const char *inner)
{
    json_t *list = json_object_get(d->doc[i], section); /* borrowed */
    size_t k;
    json_t *e; /* borrowed */

    if (list == NULL || json_is_null(list))
        return 0;
    if (!json_is_array(list))
        return errmsg_set(RC_PARSE, "%s: %s is not a list", doc_name(d, i),
                          section);
    json_array_foreach(list, k, e)
    {
        json_t *body = json_object_get(e, inner); /* borrowed */
        if (!json_is_object(e) || !json_is_string(json_object_get(e, "name")))
            return errmsg_set(RC_PARSE, "%s: %s[%zu] has no name",
                              doc_name(d, i), section, k);
        if (body != NULL && !json_is_null(body) && !json_is_object(body))
            return errmsg_set(RC_PARSE, "%s: %s[%zu].%s is not a mapping",
                              doc_name(d, i), section, k, inner);
    }
    return 0;
}

static int
check_doc(const struct kc_docs *d, int i)
{
    json_t *cur = json_object_get(d->doc[i], "current-context"); /* borrowed */
    int rc;

    if (!json_is_object(d->doc[i]))
        return errmsg_set(RC_PARSE, "%s: not a mapping", doc_name(d, i));
    if (cur != NULL && !json_is_null(cur) && !json_is_string(cur))
        return errmsg_set(RC_PARSE, "%s: current-context is not a string",
                          doc_name(d, i));
    if ((rc = check_section(d, i, "clusters", "cluster")) != 0 ||
        (rc = check_section(d, i, "users", "user")) != 0 ||
        (rc = check_section(d, i, "contexts", "context")) != 0)
        return rc;
    return 0;
}

/* Finds section[name].inner in the first document defining it: 1 when
 * found (*body borrowed, NULL for an empty entry; *doc_out its document),
 * else 0. */
static int
find_entry(const struct kc_docs *d, const char *section, const char *inner,
           const char *name, json_t **body, int *doc_out)
{
    *body = NULL;
    for (int i = 0; i < d->n; i++) {
        json_t *list = json_object_get(d->doc[i], section); /* borrowed */
        size_t k;
        json_t *e; /* borrowed */
        json_array_foreach(list, k, e)
        {
            if (strcmp(json_string_value(json_object_get(e, "name")), name) !=
                0)
                continue;
            *doc_out = i;
            *body = json_object_get(e, inner);
            if (!json_is_object(*body))
                *body = NULL;
            return 1;
        }
    }
    return 0;
}

/* A string field: *s borrowed or NULL when absent/null/"". */
static int
get_str(const struct kc_docs *d, int i, const json_t *body, const char *key,
        const char **s)
{
    json_t *v = json_object_get(body, key); /* borrowed */

    *s = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return errmsg_set(RC_PARSE, "%s: %s is not a string", doc_name(d, i),
                          key);
    if (json_string_length(v) != strlen(json_string_value(v)))
        return errmsg_set(RC_PARSE, "%s: %s contains a NUL byte",
                          doc_name(d, i), key);
    if (json_string_value(v)[0] != '\0')
        *s = json_string_value(v);
    return 0;
}

/* Resolves a path from document i into a new string. */
static int
resolve_path(char **out, const struct kc_docs *d, int i, const char *path)
{
    struct buf b;
    int rc = 0;

    *out = NULL;
    if (d->flags & KUBE_CONFIG_NO_FILES)
        return errmsg_set(RC_UNSUPPORTED, "%s: file references are disabled",
                          doc_name(d, i));
    buf_init(&b, PATH_MAX);
    if (path[0] != '/' && d->dir[i] != NULL)
        rc = buf_addf(&b, "%s/", d->dir[i]);
    if (rc == 0)
        rc = buf_addstr(&b, path);
    if (rc == 0)
        *out = buf_take(&b, NULL);
    buf_cleanup(&b);
    if (rc == RC_LIMIT)
        return errmsg_set(RC_LIMIT, "%s: a file path is too long",
                          doc_name(d, i));
    if (rc != 0 || *out == NULL)
        return errmsg_set(RC_NOMEM, "out of memory resolving a path");
    return 0;
}

static int
read_ref(char **out, const struct kc_docs *d, int i, const char *path,
         size_t max, const char *what)
{
    char *full = NULL;
    int rc;

    *out = NULL;
    if ((rc = resolve_path(&full, d, i, path)) != 0)
        return rc;
    rc = kube_read_file(out, NULL, full, max, what);
    mem_free(full);
    return rc;
}

/* "-data" (base64) wins over the file, as in client-go. */
static int
load_pem(char **out, const struct kc_docs *d, int i, const json_t *body,
         const char *key, const char *what)
{
    char data_key[64];
    const char *data = NULL, *file = NULL;
    int rc;

    *out = NULL;
    snprintf(data_key, sizeof(data_key), "%s-data", key);
    if ((rc = get_str(d, i, body, data_key, &data)) != 0 ||
        (rc = get_str(d, i, body, key, &file)) != 0)
        return rc;
    if (data != NULL) {
        if (strlen(data) > KUBE_CONFIG_MAX_PEM * 4 / 3 + 4)
            return errmsg_set(RC_LIMIT, "%s: %s is over %zu bytes",
                              doc_name(d, i), data_key, KUBE_CONFIG_MAX_PEM);
        rc = data_decode(out, data, data_key);
        if (rc != 0)
            return errmsg_prefix(rc, "%s", doc_name(d, i));
    } else if (file != NULL) {
        if ((rc = read_ref(out, d, i, file, KUBE_CONFIG_MAX_PEM, what)) != 0)
            return rc;
    } else {
        return 0;
    }
    if (strstr(*out, "-----BEGIN ") == NULL) {
        if (strcmp(key, "client-key") == 0)
            free_secret(*out);
        else
            mem_free(*out);
        *out = NULL;
        return errmsg_set(RC_INVAL, "%s: %s is not PEM", doc_name(d, i),
                          data ? data_key : key);
    }
    return 0;
}

static int
dup_to(char **dst, const char *s)
{
    if (s == NULL)
        return 0;
    *dst = mem_strdup(s);
    return *dst ? 0 : errmsg_set(RC_NOMEM, "out of memory copying config");
}

static int
check_server(const char *server, const char *where)
{
    const char *host;

    if (strncmp(server, "https://", 8) == 0)
        host = server + 8;
    else if (strncmp(server, "http://", 7) == 0)
        host = server + 7;
    else
        return errmsg_set(RC_INVAL,
                          "%s: server \"%.200s\" is not an http(s) URL", where,
                          server);
    if (host[0] == '\0' || host[0] == '/' || host[0] == ':')
        return errmsg_set(RC_INVAL, "%s: server \"%.200s\" has no host", where,
                          server);
    for (const char *p = server; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
            return errmsg_set(RC_INVAL,
                              "%s: server URL has a space, control byte, "
                              "query or fragment",
                              where);
    return 0;
}

static int
refuse_unsupported(const struct kc_docs *d, int i, const json_t *user,
                   const char *uname)
{
    static const char *const keys[] = {
        "exec", "auth-provider", "username",  "password",
        "as",   "as-uid",        "as-groups", "as-user-extra"};

    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        json_t *v = json_object_get(user, keys[k]); /* borrowed */
        if (v == NULL || json_is_null(v))
            continue;
        if (k == 0)
            return errmsg_set(RC_UNSUPPORTED,
                              "%s: user \"%s\" uses an exec credential "
                              "plugin, which mizzen does not run; use a "
                              "token, tokenFile or client certificate",
                              doc_name(d, i), uname);
        if (k == 1)
            return errmsg_set(RC_UNSUPPORTED,
                              "%s: user \"%s\" uses an auth-provider, which "
                              "mizzen does not support; use a token, "
                              "tokenFile or client certificate",
                              doc_name(d, i), uname);
        return errmsg_set(RC_UNSUPPORTED,
                          "%s: user \"%s\": %s is not supported (basic auth "
                          "and impersonation are not implemented)",
                          doc_name(d, i), uname, keys[k]);
    }
    return 0;
}

static int
fill_cluster(struct kube_config *cfg, const struct kc_docs *d,
             const char *cname, const char *ctxname)
{
    const char *server = NULL, *sni = NULL, *s = NULL;
    json_t *cl, *v; /* borrowed */
    int i = 0, rc;
    size_t len;

    if (!find_entry(d, "clusters", "cluster", cname, &cl, &i))
        return errmsg_set(RC_NOTFOUND,
                          "cluster \"%s\" of context \"%s\" not found in "
                          "kubeconfig",
                          cname, ctxname);
    if ((rc = get_str(d, i, cl, "server", &server)) != 0 ||
        (rc = get_str(d, i, cl, "tls-server-name", &sni)) != 0 ||
        (rc = get_str(d, i, cl, "proxy-url", &s)) != 0)
        return rc;
    if (server == NULL)
        return errmsg_set(RC_INVAL, "%s: cluster \"%s\" has no server",
                          doc_name(d, i), cname);
    if ((rc = check_server(server, doc_name(d, i))) != 0)
        return rc;
    if (s != NULL)
        return errmsg_set(RC_UNSUPPORTED,
                          "%s: cluster \"%s\": proxy-url is not supported",
                          doc_name(d, i), cname);
    v = json_object_get(cl, "insecure-skip-tls-verify");
    if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
        return errmsg_set(RC_PARSE,
                          "%s: insecure-skip-tls-verify is not a boolean",
                          doc_name(d, i));
    cfg->insecure = json_is_true(v);
    if (sni != NULL) {
        for (const char *p = sni; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
                return errmsg_set(RC_INVAL,
                                  "%s: tls-server-name \"%.200s\" is not a "
                                  "host name",
                                  doc_name(d, i), sni);
    }
    if ((rc = dup_to(&cfg->server, server)) != 0 ||
        (rc = dup_to(&cfg->tls_server_name, sni)) != 0)
        return rc;
    len = strlen(cfg->server);
    while (len > 0 && cfg->server[len - 1] == '/')
        cfg->server[--len] = '\0';
    if ((rc = load_pem(&cfg->ca_pem, d, i, cl, "certificate-authority",
                       "certificate-authority")) != 0)
        return rc;
    if (cfg->ca_pem != NULL) {
        const char *data = NULL, *file = NULL;
        if ((rc = get_str(d, i, cl, "certificate-authority-data", &data)) ||
            (rc = get_str(d, i, cl, "certificate-authority", &file)))
            return rc;
        if (data == NULL && file != NULL &&
            (rc = resolve_path(&cfg->ca_file, d, i, file)) != 0)
            return rc;
    }
    if (cfg->insecure && cfg->ca_pem != NULL)
        return errmsg_set(RC_INVAL,
                          "%s: cluster \"%s\": specifying a root certificate "
                          "authority with insecure-skip-tls-verify is not "
                          "allowed",
                          doc_name(d, i), cname);
    return 0;
}

static int
fill_user(struct kube_config *cfg, const struct kc_docs *d, const char *uname,
          const char *ctxname)
{
    const char *token = NULL, *token_file = NULL;
    json_t *u; /* borrowed */
    int i = 0, rc;

    if (!find_entry(d, "users", "user", uname, &u, &i))
        return errmsg_set(RC_NOTFOUND,
                          "user \"%s\" of context \"%s\" not found in "
                          "kubeconfig",
                          uname, ctxname);
    if ((rc = refuse_unsupported(d, i, u, uname)) != 0)
        return rc;
    if ((rc = get_str(d, i, u, "token", &token)) != 0 ||
        (rc = get_str(d, i, u, "tokenFile", &token_file)) != 0)
        return rc;
    if (token != NULL && strlen(token) > KUBE_CONFIG_MAX_TOKEN)
        return errmsg_set(RC_LIMIT, "%s: token is over %zu bytes",
                          doc_name(d, i), KUBE_CONFIG_MAX_TOKEN);
    if ((rc = dup_to(&cfg->token, token)) != 0)
        return rc;
    if (token_file != NULL &&
        (rc = resolve_path(&cfg->token_file, d, i, token_file)) != 0)
        return rc;
    if ((rc = load_pem(&cfg->client_cert_pem, d, i, u, "client-certificate",
                       "client-certificate")) != 0 ||
        (rc = load_pem(&cfg->client_key_pem, d, i, u, "client-key",
                       "client-key")) != 0)
        return rc;
    if ((cfg->client_cert_pem == NULL) != (cfg->client_key_pem == NULL))
        return errmsg_set(RC_INVAL,
                          "%s: user \"%s\" has a client %s without a client "
                          "%s",
                          doc_name(d, i), uname,
                          cfg->client_cert_pem ? "certificate" : "key",
                          cfg->client_cert_pem ? "key" : "certificate");
    return 0;
}

/* Builds the config of `context` (NULL: current-context) from d. */
static int
build(struct kube_config **out, const struct kc_docs *d, const char *context)
{
    struct kube_config *cfg = NULL;
    const char *ctxname = context, *cname = NULL, *uname = NULL, *ns = NULL;
    json_t *ctx; /* borrowed */
    int i = 0, rc;

    for (int k = 0; k < d->n; k++)
        if ((rc = check_doc(d, k)) != 0)
            return rc;
    for (int k = 0; ctxname == NULL && k < d->n; k++) {
        const char *s = NULL;
        if ((rc = get_str(d, k, d->doc[k], "current-context", &s)) != 0)
            return rc;
        ctxname = s;
    }
    if (ctxname == NULL || ctxname[0] == '\0')
        return errmsg_set(RC_NOTFOUND,
                          "kubeconfig has no current-context and no context "
                          "was given");
    if (!find_entry(d, "contexts", "context", ctxname, &ctx, &i))
        return errmsg_set(RC_NOTFOUND,
                          "context \"%.200s\" not found in "
                          "kubeconfig",
                          ctxname);
    if ((rc = get_str(d, i, ctx, "cluster", &cname)) != 0 ||
        (rc = get_str(d, i, ctx, "user", &uname)) != 0 ||
        (rc = get_str(d, i, ctx, "namespace", &ns)) != 0)
        return rc;
    if (cname == NULL)
        return errmsg_set(RC_INVAL, "%s: context \"%s\" names no cluster",
                          doc_name(d, i), ctxname);
    cfg = mem_calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return errmsg_set(RC_NOMEM, "out of memory building config");
    if ((rc = dup_to(&cfg->namespace, ns ? ns : "default")) != 0 ||
        (rc = fill_cluster(cfg, d, cname, ctxname)) != 0)
        goto fail;
    if (uname != NULL && (rc = fill_user(cfg, d, uname, ctxname)) != 0)
        goto fail;
    *out = cfg;
    return 0;
fail:
    kube_config_free(cfg);
    return rc;
}

/* Parses text as document d->n (an empty text is an empty config). */
static int
add_doc(struct kc_docs *d, const char *text, size_t len, const char *dir,
        const char *path)
{
    json_t *all = NULL; /* owned */
    struct yj_limits lim = {.max_bytes = KUBE_CONFIG_MAX_FILE,
                            .max_depth = 32,
                            .max_nodes = 100000,
                            .max_alias_nodes = 1000,
                            .max_docs = 2};
    int rc;

    if (d->n >= KUBE_CONFIG_MAX_FILES)
        return errmsg_set(RC_LIMIT, "more than %d kubeconfig files",
                          KUBE_CONFIG_MAX_FILES);
    if (len > KUBE_CONFIG_MAX_FILE)
        return errmsg_set(RC_LIMIT, "%s is larger than %zu bytes",
                          path ? path : "kubeconfig", KUBE_CONFIG_MAX_FILE);
    rc = yj_load_all(&all, text, len, &lim);
    if (rc != 0)
        return errmsg_prefix(rc, "%s", path ? path : "kubeconfig");
    if (json_array_size(all) > 1) {
        json_decref(all);
        return errmsg_set(RC_PARSE, "%s: more than one YAML document",
                          path ? path : "kubeconfig");
    }
    d->doc[d->n] = json_array_size(all) ? json_incref(json_array_get(all, 0))
                                        : json_object();
    json_decref(all);
    if (d->doc[d->n] == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    d->dir[d->n] = dir ? mem_strdup(dir) : NULL;
    d->path[d->n] = path ? mem_strdup(path) : NULL;
    d->n++;
    if ((dir && d->dir[d->n - 1] == NULL) ||
        (path && d->path[d->n - 1] == NULL))
        return errmsg_set(RC_NOMEM, "out of memory");
    return 0;
}

int
kube_config_parse(struct kube_config **out, const char *text, size_t len,
                  const char *dir, const char *context, unsigned flags)
{
    struct kc_docs d = {.flags = flags};
    int rc;

    *out = NULL;
    rc = add_doc(&d, text, len, dir, NULL);
    if (rc == 0)
        rc = build(out, &d, context);
    docs_cleanup(&d);
    return rc;
}

/* The absolute folder of a file path, new string. */
static char *
dir_of(const char *path)
{
    char *copy = mem_strdup(path), *slash, *real;
    char *res = NULL;

    if (copy == NULL)
        return NULL;
    slash = strrchr(copy, '/');
    if (slash == NULL) {
        mem_free(copy);
        copy = mem_strdup(".");
        if (copy == NULL)
            return NULL;
    } else if (slash == copy) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    real = realpath(copy, NULL);
    res = mem_strdup(real ? real : copy);
    free(real); /* from libc's realpath */
    mem_free(copy);
    return res;
}

int
kube_config_from_file(struct kube_config **out, const char *path,
                      const char *context)
{
    struct kc_docs d = {0};
    char *list = NULL, *save = NULL, *text = NULL, *dir = NULL;
    int rc = 0, entries = 0, err = 0;
    size_t len = 0;

    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return errmsg_set(RC_INVAL, "no kubeconfig path");
    list = mem_strdup(path);
    if (list == NULL)
        return errmsg_set(RC_NOMEM, "out of memory");
    for (char *p = list; *p; p++)
        if (*p != ':' && (p == list || p[-1] == ':'))
            entries++;
    if (entries > KUBE_CONFIG_MAX_FILES) {
        rc = errmsg_set(RC_LIMIT, "more than %d kubeconfig files",
                        KUBE_CONFIG_MAX_FILES);
        goto done;
    }
    for (char *f = strtok_r(list, ":", &save); f != NULL;
         f = strtok_r(NULL, ":", &save)) {
        rc = kube_read_file_ex(&text, &len, f, KUBE_CONFIG_MAX_FILE,
                               "kubeconfig", &err);
        if (rc == RC_IO && err == ENOENT && entries > 1) {
            rc = 0; /* as client-go: missing files of a list are skipped */
            continue;
        }
        if (rc != 0)
            goto done;
        dir = dir_of(f);
        if (dir == NULL) {
            rc = errmsg_set(RC_NOMEM, "out of memory");
            goto done;
        }
        rc = add_doc(&d, text, len, dir, f);
        explicit_bzero(text, len);
        mem_free(text);
        text = NULL;
        mem_free(dir);
        dir = NULL;
        if (rc != 0)
            goto done;
    }
    if (d.n == 0) {
        rc = errmsg_set(RC_IO, "none of the kubeconfig files exists: %.300s",
                        path);
        goto done;
    }
    rc = build(out, &d, context);
done:
    mem_free(text);
    mem_free(dir);
    mem_free(list);
    docs_cleanup(&d);
    return rc;
}
