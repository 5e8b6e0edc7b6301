/* test_kubecfg.c: kubeconfig parsing, merging and the in-cluster config. */
#include "lib/buf.h"
#include "lib/errmsg.h"
#include "lib/kubecfg.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "tests/unit/harness.h"

#include <stdlib.h>
#include <sys/stat.h>

#define CA_PEM "-----BEGIN CERTIFICATE-----\nQ0EK\n-----END CERTIFICATE-----\n"
#define CERT_PEM                                                               \
    "-----BEGIN CERTIFICATE-----\nQ0VSVAo=\n-----END CERTIFICATE-----\n"
#define KEY_PEM                                                                \
    "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"

static void
b64(char *out, size_t cap, const char *s)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;

    for (size_t i = 0; i < n && o + 5 < cap; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Writes text to <tmp>/<name> (folders created); returns the path. */
static const char *
put(const char *name, const char *text)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    FILE *f;

    snprintf(p, 512, "%s/%s", harness_tmpdir(), name);
    for (char *s = p + strlen(harness_tmpdir()) + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0700);
            *s = '/';
        }
    }
    f = fopen(p, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

static int
parse(struct kube_config **cfg, const char *text, const char *ctx)
{
    return kube_config_parse(cfg, text, strlen(text), "/base", ctx, 0);
}

#define SIMPLE                                                                 \
    "apiVersion: v1\nkind: Config\ncurrent-context: ctx\n"                     \
    "clusters:\n- name: c\n  cluster:\n    server: https://10.1.2.3:6443//\n"  \
    "users:\n- name: u\n  user:\n    token: abc.def\n"                         \
    "contexts:\n- name: ctx\n  context: {cluster: c, user: u, namespace: "     \
    "team-a}\n"

TEST(kubecfg_token_and_namespace)
{
    struct kube_config *cfg = NULL;

    REQUIRE(parse(&cfg, SIMPLE, NULL) == 0);
    CHECK_STR(cfg->server, "https://10.1.2.3:6443");
    CHECK_STR(cfg->token, "abc.def");
    CHECK_STR(cfg->namespace, "team-a");
    CHECK(cfg->ca_pem == NULL);
    CHECK(cfg->token_file == NULL);
    CHECK(cfg->insecure == 0);
    CHECK(cfg->tls_server_name == NULL);
    kube_config_free(cfg);
    kube_config_free(NULL);
}

TEST(kubecfg_json_is_accepted)
{
    const char *j = "{\"current-context\":\"x\",\"clusters\":[{\"name\":\"c\","
                    "\"cluster\":{\"server\":\"http://127.0.0.1:8080\"}}],"
                    "\"contexts\":[{\"name\":\"x\",\"context\":{\"cluster\":"
                    "\"c\"}}]}";
    struct kube_config *cfg = NULL;

    REQUIRE(parse(&cfg, j, NULL) == 0);
    CHECK_STR(cfg->server, "http://127.0.0.1:8080");
    CHECK_STR(cfg->namespace, "default");
    CHECK(cfg->token == NULL);
    kube_config_free(cfg);
}

TEST(kubecfg_context_selection_and_errors)
{
    const char *two =
        "clusters:\n- name: c1\n  cluster: {server: https://one}\n"
        "- name: c2\n  cluster: {server: https://two}\n"
        "contexts:\n- name: a\n  context: {cluster: c1}\n"
        "- name: b\n  context: {cluster: c2, namespace: nb}\n"
        "- name: broken\n  context: {cluster: c9}\n"
        "- name: nouser\n  context: {cluster: c1, user: ghost}\n";
    struct kube_config *cfg = NULL;
    int rc;

    rc = parse(&cfg, two, NULL);
    CHECK_INT(rc, RC_NOTFOUND);
    CHECK_CONTAINS(errmsg_get(), "no current-context");
    CHECK(cfg == NULL);
    REQUIRE(parse(&cfg, two, "b") == 0);
    CHECK_STR(cfg->server, "https://two");
    CHECK_STR(cfg->namespace, "nb");
    kube_config_free(cfg);
    cfg = NULL;
    CHECK_INT(parse(&cfg, two, "missing"), RC_NOTFOUND);
    CHECK_CONTAINS(errmsg_get(), "context \"missing\" not found");
    CHECK_INT(parse(&cfg, two, "broken"), RC_NOTFOUND);
    CHECK_CONTAINS(errmsg_get(), "cluster \"c9\"");
    CHECK_INT(parse(&cfg, two, "nouser"), RC_NOTFOUND);
    CHECK_CONTAINS(errmsg_get(), "user \"ghost\"");
    CHECK(cfg == NULL);
}

TEST(kubecfg_ca_data_and_file)
{
    char enc[512], text[2048];
    struct kube_config *cfg = NULL;
    const char *kc;

    b64(enc, sizeof(enc), CA_PEM);
    snprintf(text, sizeof(text),
             "current-context: x\nclusters:\n- name: c\n  cluster:\n"
             "    server: https://h\n    certificate-authority-data: %s\n"
             "    certificate-authority: nosuchfile\n"
             "contexts:\n- name: x\n  context: {cluster: c}\n",
             enc);
    /* -data wins: the file is not even read */
    REQUIRE(parse(&cfg, text, NULL) == 0);
    CHECK_STR(cfg->ca_pem, CA_PEM);
    CHECK(cfg->ca_file == NULL);
    kube_config_free(cfg);
    cfg = NULL;

    /* a relative file resolves against the kubeconfig's folder */
    put("cfgA/pki/ca.pem", CA_PEM);
    kc = put("cfgA/config",
             "current-context: x\nclusters:\n- name: c\n  cluster:\n"
             "    server: https://h\n    certificate-authority: pki/ca.pem\n"
             "contexts:\n- name: x\n  context: {cluster: c}\n");
    REQUIRE(kube_config_from_file(&cfg, kc, NULL) == 0);
    CHECK_STR(cfg->ca_pem, CA_PEM);
    CHECK(cfg->ca_file != NULL && cfg->ca_file[0] == '/' &&
          strstr(cfg->ca_file, "/cfgA/pki/ca.pem") != NULL);
    kube_config_free(cfg);
    cfg = NULL;

    /* a missing CA file is an error naming the file */
    kc = put("cfgA/config2",
             "current-context: x\nclusters:\n- name: c\n  cluster:\n"
             "    server: https://h\n    certificate-authority: gone.pem\n"
             "contexts:\n- name: x\n  context: {cluster: c}\n");
    CHECK_INT(kube_config_from_file(&cfg, kc, NULL), RC_IO);
    CHECK_CONTAINS(errmsg_get(), "gone.pem");
    /* not PEM */
    b64(enc, sizeof(enc), "hello");
    snprintf(text, sizeof(text),
             "current-context: x\nclusters:\n- name: c\n  cluster:\n"
             "    server: https://h\n    certificate-authority-data: %s\n"
             "contexts:\n- name: x\n  context: {cluster: c}\n",
             enc);
    CHECK_INT(parse(&cfg, text, NULL), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "not PEM");
    CHECK_INT(parse(&cfg,
                    "current-context: x\nclusters:\n- name: c\n  cluster:\n"
                    "    server: https://h\n"
                    "    certificate-authority-data: '!!!'\n"
                    "contexts:\n- name: x\n  context: {cluster: c}\n",
                    NULL),
              RC_PARSE);
    CHECK_CONTAINS(errmsg_get(), "not valid base64");
}

TEST(kubecfg_client_cert_data_and_file)
{
    char ecert[512], ekey[512], text[2048];
    struct kube_config *cfg = NULL;
    const char *kc;

    b64(ecert, sizeof(ecert), CERT_PEM);
    b64(ekey, sizeof(ekey), KEY_PEM);
    snprintf(text, sizeof(text),
             "current-context: x\nclusters:\n- name: c\n  cluster: {server: "
             "https://h}\nusers:\n- name: u\n  user:\n"
             "    client-certificate-data: %s\n    client-key-data: %s\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
             ecert, ekey);
    REQUIRE(parse(&cfg, text, NULL) == 0);
    CHECK_STR(cfg->client_cert_pem, CERT_PEM);
    CHECK_STR(cfg->client_key_pem, KEY_PEM);
    CHECK(cfg->token == NULL);
    kube_config_free(cfg);
    cfg = NULL;

    put("cfgB/u.crt", CERT_PEM);
    put("cfgB/keys/u.key", KEY_PEM);
    kc = put("cfgB/config",
             "current-context: x\nclusters:\n- name: c\n  cluster: {server: "
             "https://h}\nusers:\n- name: u\n  user:\n"
             "    client-certificate: u.crt\n    client-key: keys/u.key\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n");
    REQUIRE(kube_config_from_file(&cfg, kc, NULL) == 0);
    CHECK_STR(cfg->client_cert_pem, CERT_PEM);
    CHECK_STR(cfg->client_key_pem, KEY_PEM);
    kube_config_free(cfg);
    cfg = NULL;

    snprintf(text, sizeof(text),
             "current-context: x\nclusters:\n- name: c\n  cluster: {server: "
             "https://h}\nusers:\n- name: u\n  user:\n"
             "    client-certificate-data: %s\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
             ecert);
    CHECK_INT(parse(&cfg, text, NULL), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "without a client key");
}

TEST(kubecfg_token_file_resolved)
{
    struct kube_config *cfg = NULL;
    const char *kc;
    char want[600];

    kc = put("cfgC/config",
             "current-context: x\nclusters:\n- name: c\n  cluster: {server: "
             "https://h}\nusers:\n- name: u\n  user: {tokenFile: sa/token}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n");
    REQUIRE(kube_config_from_file(&cfg, kc, NULL) == 0);
    REQUIRE(cfg->token_file != NULL);
    CHECK(cfg->token_file[0] == '/');
    snprintf(want, sizeof(want), "/cfgC/sa/token");
    CHECK(strlen(cfg->token_file) > strlen(want) &&
          strcmp(cfg->token_file + strlen(cfg->token_file) - strlen(want),
                 want) == 0);
    CHECK(cfg->token == NULL);
    kube_config_free(cfg);
    cfg = NULL;
    /* absolute paths stay as they are */
    REQUIRE(parse(&cfg,
                  "current-context: x\nclusters:\n- name: c\n  cluster: "
                  "{server: https://h}\nusers:\n- name: u\n  user: "
                  "{tokenFile: /run/tok}\ncontexts:\n- name: x\n  context: "
                  "{cluster: c, user: u}\n",
                  NULL) == 0);
    CHECK_STR(cfg->token_file, "/run/tok");
    kube_config_free(cfg);
}

TEST(kubecfg_insecure_and_server_name)
{
    char enc[512], text[2048];
    struct kube_config *cfg = NULL;

    REQUIRE(parse(&cfg,
                  "current-context: x\nclusters:\n- name: c\n  cluster:\n"
                  "    server: https://h\n    insecure-skip-tls-verify: true\n"
                  "    tls-server-name: kubernetes.default.svc\n"
                  "contexts:\n- name: x\n  context: {cluster: c}\n",
                  NULL) == 0);
    CHECK_INT(cfg->insecure, 1);
    CHECK_STR(cfg->tls_server_name, "kubernetes.default.svc");
    kube_config_free(cfg);
    cfg = NULL;
    b64(enc, sizeof(enc), CA_PEM);
    snprintf(text, sizeof(text),
             "current-context: x\nclusters:\n- name: c\n  cluster:\n"
             "    server: https://h\n    insecure-skip-tls-verify: true\n"
             "    certificate-authority-data: %s\n"
             "contexts:\n- name: x\n  context: {cluster: c}\n",
             enc);
    CHECK_INT(parse(&cfg, text, NULL), RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "insecure-skip-tls-verify");
    CHECK_INT(parse(&cfg,
                    "current-context: x\nclusters:\n- name: c\n  cluster:\n"
                    "    server: https://h\n    insecure-skip-tls-verify: "
                    "'yes'\ncontexts:\n- name: x\n  context: {cluster: c}\n",
                    NULL),
              RC_PARSE);
    CHECK_INT(parse(&cfg,
                    "current-context: x\nclusters:\n- name: c\n  cluster:\n"
                    "    server: https://h\n    tls-server-name: 'a/b'\n"
                    "contexts:\n- name: x\n  context: {cluster: c}\n",
                    NULL),
              RC_INVAL);
}

TEST(kubecfg_unsupported_auth_is_refused)
{
    struct kube_config *cfg = NULL;
    const char *base =
        "current-context: x\nclusters:\n- name: c\n  cluster: {server: "
        "https://h}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
        "users:\n- name: u\n  user:\n";
    char text[2048];

    snprintf(text, sizeof(text),
             "%s    exec:\n      apiVersion: "
             "client.authentication.k8s.io/v1\n      command: aws\n",
             base);
    CHECK_INT(parse(&cfg, text, NULL), RC_UNSUPPORTED);
    CHECK_CONTAINS(errmsg_get(), "exec credential plugin");
    snprintf(text, sizeof(text), "%s    auth-provider: {name: gcp}\n", base);
    CHECK_INT(parse(&cfg, text, NULL), RC_UNSUPPORTED);
    CHECK_CONTAINS(errmsg_get(), "auth-provider");
    snprintf(text, sizeof(text), "%s    username: a\n    password: b\n", base);
    CHECK_INT(parse(&cfg, text, NULL), RC_UNSUPPORTED);
    CHECK_INT(parse(&cfg,
                    "current-context: x\nclusters:\n- name: c\n  cluster:\n"
                    "    server: https://h\n    proxy-url: http://p:3128\n"
                    "contexts:\n- name: x\n  context: {cluster: c}\n",
                    NULL),
              RC_UNSUPPORTED);
    CHECK_CONTAINS(errmsg_get(), "proxy-url");
    CHECK(cfg == NULL);
}

TEST(kubecfg_secrets_stay_out_of_messages)
{
    struct kube_config *cfg = NULL;
    char enc[256], text[2048];

    /* bad base64 key data, a key that is not PEM: no bytes in errmsg */
    snprintf(text, sizeof(text),
             "current-context: x\nclusters:\n- name: c\n  cluster: {server: "
             "https://h}\nusers:\n- name: u\n  user:\n    token: "
             "TOPSECRETTOKEN\n    client-certificate-data: '%s'\n"
             "    client-key-data: 'TOPSECRETKEY*'\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
             "LS0tLS1CRUdJTiBYCg==");
    CHECK_INT(parse(&cfg, text, NULL), RC_PARSE);
    CHECK(strstr(errmsg_get(), "TOPSECRET") == NULL);
    CHECK_CONTAINS(errmsg_get(), "client-key-data");
    b64(enc, sizeof(enc), "TOPSECRETKEYBYTES");
    snprintf(text, sizeof(text),
             "current-context: x\nclusters:\n- name: c\n  cluster: {server: "
             "https://h}\nusers:\n- name: u\n  user:\n    token: "
             "TOPSECRETTOKEN\n    client-certificate-data: '%s'\n"
             "    client-key-data: '%s'\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
             "LS0tLS1CRUdJTiBYCg==", enc);
    CHECK_INT(parse(&cfg, text, NULL), RC_INVAL);
    CHECK(strstr(errmsg_get(), "TOPSECRET") == NULL);
    CHECK_CONTAINS(errmsg_get(), "not PEM");
}

TEST(kubecfg_shape_errors)
{
    struct kube_config *cfg = NULL;
    static const char *const bad[] = {
        "clusters: 3\n",
        "- a\n- b\n",
        "current-context: [x]\n",
        "clusters:\n- cluster: {server: https://h}\n",
        "clusters:\n- name: c\n  cluster: [1]\n",
        "current-context: x\ncontexts:\n- name: x\n  context: {cluster: 7}\n",
        "a: [\n",
        "---\na: 1\n---\nb: 2\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(&cfg, bad[i], NULL);
        if (rc != RC_PARSE)
            harness_fail(__FILE__, __LINE__, "case %zu: rc %s (%s)", i,
                         rc_str(rc), errmsg_get());
        CHECK(cfg == NULL);
    }
    /* a server that is not an http(s) URL, a context without a cluster */
    CHECK_INT(parse(&cfg,
                    "current-context: x\nclusters:\n- name: c\n  cluster: "
                    "{server: 'ftp://h'}\ncontexts:\n- name: x\n  context: "
                    "{cluster: c}\n",
                    NULL),
              RC_INVAL);
    CHECK_INT(parse(&cfg,
                    "current-context: x\nclusters:\n- name: c\n  cluster: "
                    "{}\ncontexts:\n- name: x\n  context: {cluster: c}\n",
                    NULL),
              RC_INVAL);
    CHECK_CONTAINS(errmsg_get(), "has no server");
    CHECK_INT(parse(&cfg, "current-context: x\ncontexts:\n- name: x\n", NULL),
              RC_INVAL);
    CHECK_INT(kube_config_parse(&cfg,
                                "current-context: x\nclusters:\n- name: c\n"
                                "  cluster: {server: https://h, "
                                "certificate-authority: /etc/passwd}\n"
                                "contexts:\n- name: x\n  context: {cluster: "
                                "c}\n",
                                150, NULL, NULL, KUBE_CONFIG_NO_FILES),
              RC_UNSUPPORTED);
}

TEST(kubecfg_colon_list_first_wins)
{
    struct kube_config *cfg = NULL;
    const char *f1, *f2;
    char list[2048];

    f1 = put("multi/one",
             "current-context: a\n"
             "clusters:\n- name: c1\n  cluster: {server: https://first}\n"
             "contexts:\n- name: a\n  context: {cluster: c1, namespace: n1}\n"
             "users:\n- name: u\n  user: {token: t1}\n");
    f2 = put("multi/two",
             "current-context: b\n"
             "clusters:\n- name: c1\n  cluster: {server: https://second}\n"
             "- name: c2\n  cluster: {server: https://only-two}\n"
             "contexts:\n- name: a\n  context: {cluster: c2}\n"
             "- name: b\n  context: {cluster: c1, user: u}\n");
    snprintf(list, sizeof(list), "%s/multi/missing:%s::%s", harness_tmpdir(),
             f1, f2);
    REQUIRE(kube_config_from_file(&cfg, list, NULL) == 0);
    /* current-context and context "a" come from the first file */
    CHECK_STR(cfg->server, "https://first");
    CHECK_STR(cfg->namespace, "n1");
    kube_config_free(cfg);
    cfg = NULL;
    /* context b (second file) -> cluster c1 of the first file, user u of
     * the first file */
    REQUIRE(kube_config_from_file(&cfg, list, "b") == 0);
    CHECK_STR(cfg->server, "https://first");
    CHECK_STR(cfg->token, "t1");
    kube_config_free(cfg);
    cfg = NULL;
    /* order reversed */
    snprintf(list, sizeof(list), "%s:%s", f2, f1);
    REQUIRE(kube_config_from_file(&cfg, list, NULL) == 0);
    CHECK_STR(cfg->server, "https://second");
    kube_config_free(cfg);
    cfg = NULL;
    /* nothing exists; a single missing file */
    snprintf(list, sizeof(list), "%s/nope1:%s/nope2", harness_tmpdir(),
             harness_tmpdir());
    CHECK_INT(kube_config_from_file(&cfg, list, NULL), RC_IO);
    snprintf(list, sizeof(list), "%s/nope1", harness_tmpdir());
    CHECK_INT(kube_config_from_file(&cfg, list, NULL), RC_IO);
    CHECK_CONTAINS(errmsg_get(), "nope1");
    /* an empty file in a list contributes nothing */
    snprintf(list, sizeof(list), "%s:%s", put("multi/empty", ""), f1);
    REQUIRE(kube_config_from_file(&cfg, list, NULL) == 0);
    CHECK_STR(cfg->server, "https://first");
    kube_config_free(cfg);
}

TEST(kubecfg_limits)
{
    struct kube_config *cfg = NULL;
    char path[512];
    struct buf b;
    FILE *f;

    snprintf(path, sizeof(path), "%s/big.yaml", harness_tmpdir());
    f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs("a: '", f);
    for (size_t i = 0; i < KUBE_CONFIG_MAX_FILE / 32 + 1; i++)
        fputs("0123456789abcdef0123456789abcdef", f);
    fputs("'\n", f);
    fclose(f);
    CHECK_INT(kube_config_from_file(&cfg, path, NULL), RC_LIMIT);
    CHECK_CONTAINS(errmsg_get(), "larger than");
    /* a directory or a device is not a kubeconfig */
    CHECK_INT(kube_config_from_file(&cfg, harness_tmpdir(), NULL), RC_IO);
    CHECK_INT(kube_config_from_file(&cfg, "/dev/zero", NULL), RC_IO);
    /* a token over the cap */
    buf_init(&b, 0);
    buf_addstr(&b, "current-context: x\nclusters:\n- name: c\n  cluster: "
                   "{server: https://h}\nusers:\n- name: u\n  user: {token: ");
    for (size_t i = 0; i <= KUBE_CONFIG_MAX_TOKEN; i++)
        buf_addc(&b, 'a');
    buf_addstr(&b, "}\ncontexts:\n- name: x\n  context: {cluster: c, user: "
                   "u}\n");
    CHECK_INT(parse(&cfg, b.ptr, NULL), RC_LIMIT);
    buf_cleanup(&b);
    /* too many files in a list */
    buf_init(&b, 0);
    for (int i = 0; i <= KUBE_CONFIG_MAX_FILES; i++)
        buf_addf(&b, "%s/f%d:", harness_tmpdir(), i);
    CHECK_INT(kube_config_from_file(&cfg, b.ptr, NULL), RC_LIMIT);
    buf_cleanup(&b);
    CHECK(cfg == NULL);
}

/* ---- in-cluster ---- */

struct envsave {
    char *host, *port, *kc, *home;
};

static char *
dup_env(const char *n)
{
    const char *v = getenv(n);
    return v ? mem_strdup(v) : NULL;
}

static void
env_save(struct envsave *e)
{
    e->host = dup_env("KUBERNETES_SERVICE_HOST");
    e->port = dup_env("KUBERNETES_SERVICE_PORT");
    e->kc = dup_env("KUBECONFIG");
    e->home = dup_env("HOME");
}

static void
restore1(const char *n, char *v)
{
    if (v)
        setenv(n, v, 1);
    else
        unsetenv(n);
    mem_free(v);
}

static void
env_restore(struct envsave *e)
{
    restore1("KUBERNETES_SERVICE_HOST", e->host);
    restore1("KUBERNETES_SERVICE_PORT", e->port);
    restore1("KUBECONFIG", e->kc);
    restore1("HOME", e->home);
}

#define SA "/var/run/secrets/kubernetes.io/serviceaccount/"

TEST(kubecfg_in_cluster)
{
    struct kube_config *cfg = NULL;
    struct envsave e;
    char root[512];

    env_save(&e);
    snprintf(root, sizeof(root), "%s/ic1", harness_tmpdir());
    put("ic1" SA "token", "tok-123\n");
    put("ic1" SA "ca.crt", CA_PEM);
    put("ic1" SA "namespace", "  team-b \n");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    REQUIRE(kube_config_in_cluster(&cfg, root) == 0);
    CHECK_STR(cfg->server, "https://10.96.0.1:443");
    CHECK_STR(cfg->namespace, "team-b");
    CHECK_STR(cfg->ca_pem, CA_PEM);
    CHECK(cfg->ca_file != NULL && strstr(cfg->ca_file, "/ic1" SA "ca.crt"));
    CHECK(cfg->token == NULL); /* the client reads the file */
    CHECK(cfg->token_file != NULL &&
          strstr(cfg->token_file, "/ic1" SA "token") != NULL);
    kube_config_free(cfg);
    cfg = NULL;

    /* IPv6 gets brackets; a bracketed one is kept */
    setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
    REQUIRE(kube_config_in_cluster(&cfg, root) == 0);
    CHECK_STR(cfg->server, "https://[fd00:10:96::1]:443");
    kube_config_free(cfg);
    cfg = NULL;
    setenv("KUBERNETES_SERVICE_HOST", "[fd00::1]", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    REQUIRE(kube_config_in_cluster(&cfg, root) == 0);
    CHECK_STR(cfg->server, "https://[fd00::1]:6443");
    kube_config_free(cfg);
    cfg = NULL;

    /* bad port; not in a cluster; no token */
    setenv("KUBERNETES_SERVICE_PORT", "https", 1);
    CHECK_INT(kube_config_in_cluster(&cfg, root), RC_INVAL);
    setenv("KUBERNETES_SERVICE_PORT", "70000", 1);
    CHECK_INT(kube_config_in_cluster(&cfg, root), RC_INVAL);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    unsetenv("KUBERNETES_SERVICE_HOST");
    CHECK_INT(kube_config_in_cluster(&cfg, root), RC_NOTFOUND);
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    snprintf(root, sizeof(root), "%s/ic-none", harness_tmpdir());
    CHECK_INT(kube_config_in_cluster(&cfg, root), RC_NOTFOUND);
    CHECK_CONTAINS(errmsg_get(), "token");

    /* no namespace file, no CA: "default" and the system trust store */
    snprintf(root, sizeof(root), "%s/ic2", harness_tmpdir());
    put("ic2" SA "token", "t");
    REQUIRE(kube_config_in_cluster(&cfg, root) == 0);
    CHECK_STR(cfg->namespace, "default");
    CHECK(cfg->ca_pem == NULL);
    kube_config_free(cfg);
    env_restore(&e);
}

TEST(kubecfg_auto_order)
{
    struct kube_config *cfg = NULL;
    struct envsave e;
    char root[512];
    const char *kc;

    env_save(&e);
    kc = put("auto/explicit", SIMPLE);
    put("auto/home/.kube/config",
        "current-context: h\nclusters:\n- name: c\n  cluster: {server: "
        "https://home}\ncontexts:\n- name: h\n  context: {cluster: c}\n");
    put("auto/env",
        "current-context: h\nclusters:\n- name: c\n  cluster: {server: "
        "https://env}\ncontexts:\n- name: h\n  context: {cluster: c}\n");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBECONFIG");
    snprintf(root, sizeof(root), "%s/auto/home", harness_tmpdir());
    setenv("HOME", root, 1);
    REQUIRE(kube_config_auto(&cfg, NULL) == 0);
    CHECK_STR(cfg->server, "https://home");
    kube_config_free(cfg);
    cfg = NULL;
    snprintf(root, sizeof(root), "%s/auto/env", harness_tmpdir());
    setenv("KUBECONFIG", root, 1);
    REQUIRE(kube_config_auto(&cfg, NULL) == 0);
    CHECK_STR(cfg->server, "https://env");
    kube_config_free(cfg);
    cfg = NULL;
    REQUIRE(kube_config_auto(&cfg, kc) == 0);
    CHECK_STR(cfg->server, "https://10.1.2.3:6443");
    kube_config_free(cfg);
    cfg = NULL;
    /* in-cluster env set, but no service account here: falls through */
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    REQUIRE(kube_config_auto(&cfg, NULL) == 0);
    CHECK_STR(cfg->server, "https://env");
    kube_config_free(cfg);
    cfg = NULL;
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    snprintf(root, sizeof(root), "%s/auto/nohome", harness_tmpdir());
    setenv("HOME", root, 1);
    CHECK_INT(kube_config_auto(&cfg, NULL), RC_NOTFOUND);
    CHECK_CONTAINS(errmsg_get(), ".kube/config");
    env_restore(&e);
}

/* Every allocation failure is reported as RC_NOMEM and leaks nothing. */
TEST(kubecfg_allocation_failures)
{
    char ecert[512], ekey[512], text[4096], list[1200];
    const char *f1, *f2;
    struct kube_config *cfg = NULL;
    int rc = -1;
    long n;

    b64(ecert, sizeof(ecert), CERT_PEM);
    b64(ekey, sizeof(ekey), KEY_PEM);
    put("oom/ca.pem", CA_PEM);
    snprintf(text, sizeof(text),
             "current-context: x\nclusters:\n- name: c\n  cluster:\n"
             "    server: https://h:1/\n    certificate-authority: ca.pem\n"
             "    tls-server-name: kubernetes\n"
             "users:\n- name: u\n  user:\n    token: abc\n"
             "    tokenFile: tok\n"
             "    client-certificate-data: %s\n    client-key-data: %s\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u, "
             "namespace: ns}\n",
             ecert, ekey);
    f1 = put("oom/one", text);
    f2 = put("oom/two", SIMPLE);
    snprintf(list, sizeof(list), "%s:%s", f1, f2);
    for (n = 1; n < 2000; n++) {
        mem_fail_set(n);
        rc = kube_config_from_file(&cfg, list, NULL);
        mem_fail_set(0);
        if (rc == 0)
            break;
        if (rc != RC_NOMEM) {
            harness_fail(__FILE__, __LINE__, "allocation %ld: %s (%s)", n,
                         rc_str(rc), errmsg_get());
            break;
        }
        CHECK(cfg == NULL);
    }
    REQUIRE(rc == 0);
    CHECK(n > 10);
    CHECK_STR(cfg->namespace, "ns");
    CHECK_STR(cfg->ca_pem, CA_PEM);
    kube_config_free(cfg);
}
