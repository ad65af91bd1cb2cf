/* test_kubeconfig.c: kubeconfig loading (YAML fixtures in tests/fixtures/kubeconfig and a
 * JSON one written by tests/k8s-api-server), the in-cluster service account, the
 * resolution order, and the strict base64 decoder (kubeconfig.c is included for it). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "k8s/kubeconfig.c"

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *fixtures_dir(void)
{
    const char *d = getenv("SGW_FIXTURES");
    return d && *d ? d : "tests/fixtures";
}

/* tests/fixtures/kubeconfig/<name>; the returned buffer is reused by the next call */
static const char *kc_fixture(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/kubeconfig/%s", fixtures_dir(), name);
    return path;
}

/* dir/name as a malloc'd string */
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    snprintf(s, n, "%s/%s", dir, name);
    return s;
}

static char *make_tmpdir(void)
{
    char *d = strdup("/tmp/sgw-test-kubeconfig-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = join(dir, name);
    FILE *f = fopen(p, "w");
    if (!f) fail_msg("cannot write %s: %s", p, strerror(errno));
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    free(p);
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static void rm_tmpdir(char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* the whole file, as read_fixture does, for any path */
static char *slurp(const char *path, size_t *len)
{
    char *buf = NULL;
    if (read_file(path, 1 << 20, &buf, len) < 0) fail_msg("cannot read %s: %s", path, strerror(errno));
    return buf;
}

static void assert_mem_equal(const char *got, size_t got_len, const char *want, size_t want_len)
{
    if (got_len != want_len || memcmp(got, want, want_len) != 0)
        fail_msg("bytes differ: got %zu bytes, want %zu bytes", got_len, want_len);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle)) fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static void assert_not_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle)) fail_msg("\"%s\" must not contain \"%s\"", haystack, needle);
}

/* A minimal kubeconfig: one cluster (server), one token user, context ctx_name. */
static void write_simple_kubeconfig(const char *dir, const char *name, const char *ctx_name, const char *server)
{
    char text[2048];
    snprintf(text, sizeof text,
             "apiVersion: v1\nkind: Config\n"
             "clusters:\n- name: c\n  cluster:\n    server: %s\n"
             "users:\n- name: u\n  user:\n    token: tok-%s\n"
             "contexts:\n- name: %s\n  context:\n    cluster: c\n    user: u\n"
             "current-context: %s\n",
             server, ctx_name, ctx_name, ctx_name);
    write_file(dir, name, text);
}

/* loads text (written to a temporary kubeconfig) and expects failure with code want; the
 * message goes to err */
static void expect_kubeconfig_failure(const char *text, int want, char *err, size_t errlen)
{
    char *dir = make_tmpdir();
    write_file(dir, "config", text);
    char *p = join(dir, "config");
    k8s_config c;
    err[0] = '\0';
    int rc = k8s_config_from_kubeconfig(p, &c, err, errlen);
    if (rc == 0) k8s_config_free(&c);
    assert_int_equal(rc, want);
    assert_null(c.server);   /* nothing is handed out on failure */
    assert_true(err[0] != '\0');
    free(p);
    rm_tmpdir(dir);
}

/* the same for a kubeconfig whose content is refused */
static void expect_kubeconfig_error(const char *text, char *err, size_t errlen)
{
    expect_kubeconfig_failure(text, SGW_E_INVALID, err, errlen);
}

/* ---- kubeconfig files ------------------------------------------------------------------- */

static void test_yaml_token_and_relative_ca_file(void **state)
{
    k8s_config c;
    char err[512] = "";
    if (k8s_config_from_kubeconfig(kc_fixture("token-ca-file.yaml"), &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(c.server, "https://api.test.example:6443");   /* trailing slash dropped */
    assert_string_equal(c.token, "fixture-token-abc123");
    assert_null(c.token_file);
    size_t ca_len;
    char *ca = read_fixture("kubeconfig/ca.crt", &ca_len);
    assert_non_null(c.ca_pem);
    assert_mem_equal(c.ca_pem, c.ca_len, ca, ca_len);
    assert_false(c.insecure);
    assert_null(c.cert_pem);
    assert_null(c.key_pem);
    assert_string_equal(c.namespace, "default");
    assert_string_equal(c.context, "test");
    free(ca);
    k8s_config_free(&c);
    assert_null(c.server);   /* free leaves an empty struct: a second free is harmless */
    k8s_config_free(&c);
}

static void test_ca_data_and_client_cert_key_data_are_decoded(void **state)
{
    k8s_config c;
    char err[512] = "";
    if (k8s_config_from_kubeconfig(kc_fixture("cert-data.yaml"), &c, err, sizeof err) != 0) fail_msg("%s", err);
    size_t ca_len, crt_len, key_len;
    char *ca = read_fixture("kubeconfig/ca.crt", &ca_len);
    char *crt = read_fixture("kubeconfig/client.crt", &crt_len);
    char *key = read_fixture("kubeconfig/client.key", &key_len);
    assert_string_equal(c.server, "https://127.0.0.1:41234");
    assert_mem_equal(c.ca_pem, c.ca_len, ca, ca_len);
    assert_mem_equal(c.cert_pem, c.cert_len, crt, crt_len);
    assert_mem_equal(c.key_pem, c.key_len, key, key_len);
    assert_int_equal(c.key_pem[c.key_len], '\0');   /* PEM buffers are also NUL-terminated */
    assert_null(c.token);
    assert_null(c.token_file);
    assert_string_equal(c.context, "kind-sgw");
    free(ca), free(crt), free(key);
    k8s_config_free(&c);
}

static void test_client_cert_and_key_files_resolve_against_the_kubeconfig_dir(void **state)
{
    k8s_config c;
    char err[512] = "";
    if (k8s_config_from_kubeconfig(kc_fixture("cert-files.yaml"), &c, err, sizeof err) != 0) fail_msg("%s", err);
    size_t crt_len, key_len;
    char *crt = read_fixture("kubeconfig/client.crt", &crt_len);
    char *key = read_fixture("kubeconfig/client.key", &key_len);
    assert_mem_equal(c.cert_pem, c.cert_len, crt, crt_len);
    assert_mem_equal(c.key_pem, c.key_len, key, key_len);
    assert_non_null(c.ca_pem);
    free(crt), free(key);
    k8s_config_free(&c);
}

static void test_insecure_skip_tls_verify_is_reported(void **state)
{
    k8s_config c;
    char err[512] = "";
    if (k8s_config_from_kubeconfig(kc_fixture("insecure.yaml"), &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_true(c.insecure);
    assert_null(c.ca_pem);
    assert_string_equal(c.server, "https://dev.test.example");
    k8s_config_free(&c);
    /* insecure-skip-tls-verify: false, written out, stays false */
    if (k8s_config_from_kubeconfig(kc_fixture("two-contexts-production.yaml"), &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_false(c.insecure);
    k8s_config_free(&c);
}

static void test_insecure_with_a_ca_is_refused(void **state)
{
    char err[512];
    expect_kubeconfig_error("clusters:\n- name: c\n  cluster:\n    server: https://x\n"
                            "    insecure-skip-tls-verify: true\n"
                            "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
                            "users:\n- name: u\n  user: {token: t}\n"
                            "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
                            err, sizeof err);
    assert_contains(err, "insecure-skip-tls-verify");
    expect_kubeconfig_error("clusters:\n- name: c\n  cluster:\n    server: https://x\n"
                            "    insecure-skip-tls-verify: sometimes\n"
                            "users:\n- name: u\n  user: {token: t}\n"
                            "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
                            err, sizeof err);
    assert_contains(err, "insecure-skip-tls-verify must be true or false");
}

static void test_token_file_is_referenced_not_read(void **state)
{
    k8s_config c;
    char err[512] = "";
    if (k8s_config_from_kubeconfig(kc_fixture("token-file.yaml"), &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_null(c.token);
    assert_non_null(c.token_file);
    assert_int_equal(c.token_file[0], '/');   /* absolute: survives a chdir */
    size_t n = strlen(c.token_file);
    assert_true(n > strlen("/kubeconfig/token.txt"));
    assert_string_equal(c.token_file + n - strlen("/kubeconfig/token.txt"), "/kubeconfig/token.txt");
    size_t len;
    char *tok = slurp(c.token_file, &len);
    assert_string_equal(tok, "fixture-token-from-file\n");
    assert_string_equal(c.server, "http://127.0.0.1:8001");
    assert_string_equal(c.namespace, "kube-system");
    free(tok);
    k8s_config_free(&c);
}

static void test_missing_token_file_is_an_error(void **state)
{
    char err[512];
    expect_kubeconfig_failure("clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
                              "users:\n- name: u\n  user: {tokenFile: /nonexistent/sgw/token}\n"
                              "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
                              SGW_E_IO, err, sizeof err);
    assert_contains(err, "tokenFile /nonexistent/sgw/token");
    assert_contains(err, "No such file");
}

static void test_context_namespace_is_used(void **state)
{
    k8s_config c;
    char err[512] = "";
    if (k8s_config_from_kubeconfig(kc_fixture("two-contexts.yaml"), &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(c.namespace, "payments-staging");
    k8s_config_free(&c);
    expect_kubeconfig_error("clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
                            "users:\n- name: u\n  user: {token: t}\n"
                            "contexts:\n- name: x\n  context: {cluster: c, user: u, namespace: Not_A/Namespace}\n"
                            "current-context: x\n",
                            err, sizeof err);
    assert_contains(err, "namespace \"Not_A/Namespace\" is not a valid namespace name");
}

static void test_current_context_selects_cluster_user_and_namespace(void **state)
{
    k8s_config c;
    char err[512] = "";
    if (k8s_config_from_kubeconfig(kc_fixture("two-contexts.yaml"), &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(c.context, "staging");
    assert_string_equal(c.server, "https://staging.test.example:6443");
    assert_string_equal(c.token, "fixture-token-staging");
    assert_non_null(c.ca_pem);
    assert_null(c.cert_pem);
    k8s_config_free(&c);

    if (k8s_config_from_kubeconfig(kc_fixture("two-contexts-production.yaml"), &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.context, "production");
    assert_string_equal(c.server, "https://prod.test.example:443");
    assert_null(c.token);
    assert_non_null(c.cert_pem);
    assert_non_null(c.key_pem);
    assert_null(c.ca_pem);   /* system CAs */
    assert_string_equal(c.namespace, "payments");
    k8s_config_free(&c);
}

static void test_missing_current_context_is_an_error(void **state)
{
    k8s_config c;
    char err[512] = "";
    assert_int_equal(k8s_config_from_kubeconfig(kc_fixture("no-current-context.yaml"), &c, err, sizeof err), SGW_E_INVALID);
    assert_contains(err, "no current-context");
    assert_contains(err, "no-current-context.yaml");
    assert_null(c.server);

    expect_kubeconfig_error("clusters: []\nusers: []\ncontexts: []\ncurrent-context: elsewhere\n", err, sizeof err);
    assert_contains(err, "context \"elsewhere\" not found");
}

static void test_unknown_user_is_an_error_without_the_token(void **state)
{
    k8s_config c;
    char err[512] = "";
    assert_int_equal(k8s_config_from_kubeconfig(kc_fixture("unknown-user.yaml"), &c, err, sizeof err), SGW_E_INVALID);
    assert_contains(err, "user \"ghost\" not found");
    assert_not_contains(err, "fixture-token");

    expect_kubeconfig_error("clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
                            "users:\n- name: u\n  user: {token: t}\n"
                            "contexts:\n- name: x\n  context: {cluster: nowhere, user: u}\ncurrent-context: x\n",
                            err, sizeof err);
    assert_contains(err, "cluster \"nowhere\" not found");
}

static void test_exec_and_auth_provider_users_are_refused(void **state)
{
    k8s_config c;
    char err[512] = "";
    assert_int_equal(k8s_config_from_kubeconfig(kc_fixture("exec-user.yaml"), &c, err, sizeof err), SGW_E_INVALID);
    assert_contains(err, "exec");
    assert_contains(err, "not supported: use a token or client certificate");
    assert_null(c.server);
    assert_int_equal(k8s_config_from_kubeconfig(kc_fixture("auth-provider-user.yaml"), &c, err, sizeof err), SGW_E_INVALID);
    assert_contains(err, "auth-provider");
    assert_contains(err, "not supported: use a token or client certificate");
    assert_not_contains(err, "fixture-token");
}

static void test_basic_auth_and_impersonation_are_refused(void **state)
{
    char err[512];
    expect_kubeconfig_error("clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
                            "users:\n- name: u\n  user: {username: admin, password: hunter2-secret}\n"
                            "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
                            err, sizeof err);
    assert_contains(err, "username/password");
    assert_not_contains(err, "hunter2");
    expect_kubeconfig_error("clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
                            "users:\n- name: u\n  user: {token: t, as: someone}\n"
                            "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
                            err, sizeof err);
    assert_contains(err, "impersonation");
}

static void test_bad_base64_is_refused_naming_the_field(void **state)
{
    k8s_config c;
    char err[512] = "";
    assert_int_equal(k8s_config_from_kubeconfig(kc_fixture("bad-base64.yaml"), &c, err, sizeof err), SGW_E_INVALID);
    assert_contains(err, "client-key-data is not valid base64");
    assert_contains(err, "user \"u\"");
    assert_not_contains(err, "bm90LWEta2V5");   /* key material stays out of the message */
    assert_null(c.server);
    assert_null(c.ca_pem);   /* the CA decoded before the failure was freed, not handed out */
}

static void test_base64_decoder_is_strict(void **state)
{
    struct { const char *in, *want; } ok[] = {
        {"aGVsbG8=", "hello"}, {"aGVsbG8h", "hello!"}, {"aGk=", "hi"}, {"aA==", "h"},
        {"aGVs\nbG8=\n", "hello"}, {"  aGVs bG8=", "hello"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t n = 0;
        char *got = b64_decode(ok[i].in, strlen(ok[i].in), &n);
        if (!got) fail_msg("case %zu: \"%s\" refused", i, ok[i].in);
        assert_int_equal(n, strlen(ok[i].want));
        assert_string_equal(got, ok[i].want);
        free(got);
    }
    const char *bad[] = {"aGVsbG8", "aA=", "aA", "a", "aGk==", "aA==aA==", "aG!k", "aGVs-G8=", "aGVs_G8=", "=aGk"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = 0;
        char *got = b64_decode(bad[i], strlen(bad[i]), &n);
        if (got) {
            free(got);
            fail_msg("case %zu: \"%s\" accepted", i, bad[i]);
        }
    }
    size_t n = 1;
    char *empty = b64_decode("", 0, &n);   /* "" decodes to nothing; the loader treats it as unset */
    assert_non_null(empty);
    assert_int_equal(n, 0);
    free(empty);
}

static void test_server_missing_or_not_http_is_refused(void **state)
{
    char err[512];
    expect_kubeconfig_error("clusters:\n- name: c\n  cluster: {certificate-authority-data: ''}\n"
                            "users:\n- name: u\n  user: {token: t}\n"
                            "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
                            err, sizeof err);
    assert_contains(err, "cluster \"c\": no server");
    expect_kubeconfig_error("clusters:\n- name: c\n  cluster: {server: 'api.example:6443'}\n"
                            "users:\n- name: u\n  user: {token: t}\n"
                            "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
                            err, sizeof err);
    assert_contains(err, "not an http(s):// URL");
    expect_kubeconfig_error("clusters:\n- name: c\n  cluster: {server: 'https://x', tls-server-name: y}\n"
                            "users:\n- name: u\n  user: {token: t}\n"
                            "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
                            err, sizeof err);
    assert_contains(err, "tls-server-name is not supported");
}

static void test_unreadable_or_unpaired_credentials_are_errors(void **state)
{
    char err[512];
    expect_kubeconfig_failure("clusters:\n- name: c\n  cluster: {server: 'https://x', certificate-authority: nope.crt}\n"
                              "users:\n- name: u\n  user: {token: t}\n"
                              "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
                              SGW_E_IO, err, sizeof err);
    assert_contains(err, "certificate-authority /");   /* the resolved, absolute path */
    assert_contains(err, "/nope.crt: No such file");
    expect_kubeconfig_error("clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
                            "users:\n- name: u\n  user: {client-certificate-data: aGk=}\n"
                            "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
                            err, sizeof err);
    assert_contains(err, "client-certificate without client-key");
    expect_kubeconfig_error("clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
                            "users:\n- name: u\n  user: {client-key-data: aGk=, client-key: k.pem, "
                            "client-certificate-data: aGk=}\n"
                            "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
                            err, sizeof err);
    assert_contains(err, "client-key-data and client-key are both set");

    k8s_config c;
    assert_int_equal(k8s_config_from_kubeconfig("/nonexistent/sgw/kubeconfig", &c, err, sizeof err), SGW_E_IO);
    assert_contains(err, "kubeconfig /nonexistent/sgw/kubeconfig: No such file");
}

static void test_invalid_yaml_reports_the_position_not_the_line(void **state)
{
    char err[512];
    expect_kubeconfig_error("users:\n- name: u\n  user: {token: \"s3cr3t-unterminated\n", err, sizeof err);
    assert_contains(err, "not valid YAML or JSON");
    assert_contains(err, "3:");
    assert_not_contains(err, "s3cr3t");
    expect_kubeconfig_error("[1, 2, 3]\n", err, sizeof err);
    assert_contains(err, "top level must be a mapping");
    expect_kubeconfig_error("", err, sizeof err);
    assert_contains(err, "the file is empty");
}

/* ---- the API test server's JSON kubeconfig ---------------------------------------------- */

static void test_json_kubeconfig_written_by_the_api_test_server(void **state)
{
    const char *py = "/usr/bin/python3";
    char server_py[1024];
    snprintf(server_py, sizeof server_py, "%s/../k8s-api-server/server.py", fixtures_dir());
    if (access(py, X_OK) != 0 || access(server_py, R_OK) != 0) fail_msg("need %s and %s", py, server_py);
    char *dir = make_tmpdir();
    char *kc = join(dir, "kubeconfig"), *ready = join(dir, "url"), *tls = join(dir, "tls");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, STDOUT_FILENO);   /* it prints its URL; keep stderr */
        execl(py, py, server_py, "--listen", "127.0.0.1:0", "--kubeconfig-out", kc, "--ready-file", ready,
              "--tls-dir", tls, (char *)NULL);
        _exit(127);
    }
    /* wait (bounded) for the ready file; the kubeconfig is written before it */
    bool up = false, exited = false;
    int status = 0;
    for (int i = 0; i < 600 && !up && !exited; i++) {
        up = access(ready, R_OK) == 0;
        if (!up) {
            exited = waitpid(pid, &status, WNOHANG) == pid;
            nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
        }
    }
    if (!exited) {
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
    }
    if (!up) fail_msg("the API test server did not become ready (exited: %d, status %d)", exited, status);

    size_t url_len, ca_len;
    char *url = slurp(ready, &url_len);
    while (url_len > 0 && (url[url_len - 1] == '\n' || url[url_len - 1] == '\r')) url[--url_len] = '\0';
    char *ca_path = join(tls, "ca.crt");
    char *ca = slurp(ca_path, &ca_len);

    k8s_config c;
    char err[512] = "";
    if (k8s_config_from_kubeconfig(kc, &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_true(strncmp(c.server, "https://127.0.0.1:", 18) == 0);
    assert_string_equal(c.server, url);
    assert_mem_equal(c.ca_pem, c.ca_len, ca, ca_len);
    assert_string_equal(c.token, "admin-token");
    assert_null(c.token_file);
    assert_false(c.insecure);
    assert_string_equal(c.namespace, "default");
    assert_string_equal(c.context, "k8s-api-test-server");
    k8s_config_free(&c);

    free(url), free(ca), free(ca_path);
    free(kc), free(ready), free(tls);
    rm_tmpdir(dir);
}

/* ---- in-cluster ------------------------------------------------------------------------- */

/* a service-account directory; namespace NULL = no namespace file */
static char *make_sa_dir(const char *namespace)
{
    char *d = make_tmpdir();
    write_file(d, "token", "sa-token-not-read\n");
    write_file(d, "ca.crt", "-----BEGIN CERTIFICATE-----\nc2E=\n-----END CERTIFICATE-----\n");
    if (namespace) write_file(d, "namespace", namespace);
    return d;
}

static void test_in_cluster_ipv4(void **state)
{
    char *sa = make_sa_dir("  payments\n");
    char *envp[] = {"PATH=/usr/bin", "KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443", NULL};
    k8s_config c;
    char err[512] = "";
    if (k8s_config_in_cluster(sa, envp, &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(c.server, "https://10.96.0.1:443");
    char *tok = join(sa, "token");
    assert_string_equal(c.token_file, tok);
    assert_null(c.token);   /* referenced, so rotation is followed */
    const char *ca = "-----BEGIN CERTIFICATE-----\nc2E=\n-----END CERTIFICATE-----\n";
    assert_mem_equal(c.ca_pem, c.ca_len, ca, strlen(ca));
    assert_string_equal(c.namespace, "payments");
    assert_string_equal(c.context, "in-cluster");
    assert_false(c.insecure);
    k8s_config_free(&c);
    free(tok);
    rm_tmpdir(sa);
}

static void test_in_cluster_ipv6_is_bracketed_and_namespace_defaults(void **state)
{
    char *sa = make_sa_dir(NULL);
    char *envp[] = {"KUBERNETES_SERVICE_HOST=fd00:10:96::1", "KUBERNETES_SERVICE_PORT=6443", NULL};
    k8s_config c;
    char err[512] = "";
    if (k8s_config_in_cluster(sa, envp, &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(c.server, "https://[fd00:10:96::1]:6443");
    assert_string_equal(c.namespace, "default");
    k8s_config_free(&c);
    rm_tmpdir(sa);
}

static void test_in_cluster_without_env_is_not_in_a_cluster(void **state)
{
    char *sa = make_sa_dir("x");
    k8s_config c;
    char err[512] = "";
    char *none[] = {"HOME=/root", NULL};
    assert_int_equal(k8s_config_in_cluster(sa, none, &c, err, sizeof err), SGW_E_INVALID);
    assert_contains(err, "not running in a cluster");
    char *no_port[] = {"KUBERNETES_SERVICE_HOST=10.0.0.1", NULL};
    assert_int_equal(k8s_config_in_cluster(sa, no_port, &c, err, sizeof err), SGW_E_INVALID);
    assert_contains(err, "not running in a cluster");
    char *bad_port[] = {"KUBERNETES_SERVICE_HOST=10.0.0.1", "KUBERNETES_SERVICE_PORT=https", NULL};
    assert_int_equal(k8s_config_in_cluster(sa, bad_port, &c, err, sizeof err), SGW_E_INVALID);
    assert_contains(err, "KUBERNETES_SERVICE_PORT");
    char *bad_host[] = {"KUBERNETES_SERVICE_HOST=evil/path?", "KUBERNETES_SERVICE_PORT=443", NULL};
    assert_int_equal(k8s_config_in_cluster(sa, bad_host, &c, err, sizeof err), SGW_E_INVALID);
    assert_contains(err, "KUBERNETES_SERVICE_HOST");
    assert_null(c.server);
    rm_tmpdir(sa);
}

static void test_in_cluster_without_token_or_ca_is_an_error(void **state)
{
    char *envp[] = {"KUBERNETES_SERVICE_HOST=10.0.0.1", "KUBERNETES_SERVICE_PORT=443", NULL};
    k8s_config c;
    char err[512] = "";
    char *sa = make_sa_dir("ns");
    char *tok = join(sa, "token");
    unlink(tok);
    assert_int_equal(k8s_config_in_cluster(sa, envp, &c, err, sizeof err), SGW_E_IO);
    assert_contains(err, "service account token");
    assert_contains(err, tok);
    assert_null(c.server);
    free(tok);
    rm_tmpdir(sa);

    sa = make_sa_dir("ns");
    char *ca = join(sa, "ca.crt");
    unlink(ca);
    assert_int_equal(k8s_config_in_cluster(sa, envp, &c, err, sizeof err), SGW_E_IO);
    assert_contains(err, "ca.crt");
    free(ca);
    rm_tmpdir(sa);
}

/* A FIFO (or a directory) named where a PEM file belongs is refused at once: a blocking
 * read there would hang the start or a reload (found by fuzz_kubeconfig's self-test). */
static void test_ca_that_is_a_fifo_or_directory_is_refused_without_blocking(void **state)
{
    char *sa = make_sa_dir("ns");
    char *fifo = join(sa, "ca.crt");
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);   /* no writer: a blocking open would wait forever */
    char *envp[] = {"KUBERNETES_SERVICE_HOST=10.0.0.1", "KUBERNETES_SERVICE_PORT=443", NULL};
    k8s_config c;
    char err[512] = "";
    assert_int_equal(k8s_config_in_cluster(sa, envp, &c, err, sizeof err), SGW_E_IO);
    assert_contains(err, "ca.crt: not a regular file");
    assert_null(c.server);

    char *kc = join(sa, "kubeconfig");
    write_file(sa, "kubeconfig",
               "clusters:\n- name: c\n  cluster: {server: 'https://x', certificate-authority: ca.crt}\n"
               "users:\n- name: u\n  user: {client-certificate: ., client-key: ca.crt}\n"
               "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n");
    assert_int_equal(k8s_config_from_kubeconfig(kc, &c, err, sizeof err), SGW_E_IO);
    assert_contains(err, "certificate-authority");
    assert_contains(err, "not a regular file");
    write_file(sa, "kubeconfig",
               "clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
               "users:\n- name: u\n  user: {client-certificate: ., client-key: ca.crt}\n"
               "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n");
    assert_int_equal(k8s_config_from_kubeconfig(kc, &c, err, sizeof err), SGW_E_IO);
    assert_contains(err, "client-certificate");
    assert_contains(err, "Is a directory");
    /* a FIFO as the token file, or as the kubeconfig itself: refused, not accepted and then
     * skipped (the token) or waited on (the kubeconfig) */
    write_file(sa, "kubeconfig",
               "clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
               "users:\n- name: u\n  user: {tokenFile: ca.crt}\n"
               "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n");
    assert_int_equal(k8s_config_from_kubeconfig(kc, &c, err, sizeof err), SGW_E_IO);
    assert_contains(err, "tokenFile");
    assert_contains(err, "not a regular file");
    assert_int_equal(k8s_config_from_kubeconfig(fifo, &c, err, sizeof err), SGW_E_IO);
    assert_contains(err, "not a regular file");
    free(kc);
    free(fifo);
    rm_tmpdir(sa);
    (void)state;
}

/* ---- resolution order ------------------------------------------------------------------- */

static void test_resolve_order_explicit_then_kubeconfig_env_then_in_cluster_then_home(void **state)
{
    char *d = make_tmpdir();
    write_simple_kubeconfig(d, "explicit.yaml", "explicit", "https://explicit.test");
    write_simple_kubeconfig(d, "from-env.yaml", "from-env", "https://env.test");
    char *home = join(d, "home");
    char *kube = join(home, ".kube");
    assert_int_equal(mkdir(home, 0700), 0);
    assert_int_equal(mkdir(kube, 0700), 0);
    write_simple_kubeconfig(kube, "config", "from-home", "https://home.test");
    char *sa = make_sa_dir("ns");
    char *explicit_path = join(d, "explicit.yaml");
    char kc_env[1024], home_env[1024], empty_home_env[1024];
    /* a list: the missing first entry is skipped, the first existing one is used */
    snprintf(kc_env, sizeof kc_env, "KUBECONFIG=%s/missing.yaml::%s/from-env.yaml:%s", d, d, explicit_path);
    snprintf(home_env, sizeof home_env, "HOME=%s", home);
    snprintf(empty_home_env, sizeof empty_home_env, "HOME=%s", d);
    char *in_host = "KUBERNETES_SERVICE_HOST=10.96.0.1", *in_port = "KUBERNETES_SERVICE_PORT=443";

    k8s_config c;
    char err[512] = "";
    char *all[] = {kc_env, home_env, in_host, in_port, NULL};
    if (k8s_config_resolve(explicit_path, sa, all, &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(c.context, "explicit");
    k8s_config_free(&c);

    if (k8s_config_resolve("", sa, all, &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(c.context, "from-env");
    assert_string_equal(c.server, "https://env.test");
    k8s_config_free(&c);

    char *no_kc[] = {home_env, in_host, in_port, NULL};
    if (k8s_config_resolve(NULL, sa, no_kc, &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(c.context, "in-cluster");
    assert_string_equal(c.server, "https://10.96.0.1:443");
    k8s_config_free(&c);

    char *home_only[] = {home_env, NULL};
    if (k8s_config_resolve("", sa, home_only, &c, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(c.context, "from-home");
    k8s_config_free(&c);

    char *nothing[] = {empty_home_env, NULL};
    assert_int_equal(k8s_config_resolve("", sa, nothing, &c, err, sizeof err), SGW_E_NOTFOUND);
    assert_contains(err, "not running in a cluster");
    assert_contains(err, "/.kube/config does not exist");

    char *kc_missing[] = {"KUBECONFIG=/nonexistent/a:/nonexistent/b", in_host, in_port, NULL};
    assert_int_equal(k8s_config_resolve("", sa, kc_missing, &c, err, sizeof err), SGW_E_NOTFOUND);
    assert_contains(err, "$KUBECONFIG");
    assert_contains(err, "/nonexistent/a:/nonexistent/b");

    /* an explicit path that does not exist is an error, not a fallback */
    assert_int_equal(k8s_config_resolve("/nonexistent/kc", sa, all, &c, err, sizeof err), SGW_E_IO);
    assert_contains(err, "/nonexistent/kc");

    free(explicit_path), free(kube), free(home);
    rm_tmpdir(sa);
    rm_tmpdir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_token_and_relative_ca_file),
        cmocka_unit_test(test_ca_data_and_client_cert_key_data_are_decoded),
        cmocka_unit_test(test_client_cert_and_key_files_resolve_against_the_kubeconfig_dir),
        cmocka_unit_test(test_insecure_skip_tls_verify_is_reported),
        cmocka_unit_test(test_insecure_with_a_ca_is_refused),
        cmocka_unit_test(test_token_file_is_referenced_not_read),
        cmocka_unit_test(test_missing_token_file_is_an_error),
        cmocka_unit_test(test_context_namespace_is_used),
        cmocka_unit_test(test_current_context_selects_cluster_user_and_namespace),
        cmocka_unit_test(test_missing_current_context_is_an_error),
        cmocka_unit_test(test_unknown_user_is_an_error_without_the_token),
        cmocka_unit_test(test_exec_and_auth_provider_users_are_refused),
        cmocka_unit_test(test_basic_auth_and_impersonation_are_refused),
        cmocka_unit_test(test_bad_base64_is_refused_naming_the_field),
        cmocka_unit_test(test_base64_decoder_is_strict),
        cmocka_unit_test(test_server_missing_or_not_http_is_refused),
        cmocka_unit_test(test_unreadable_or_unpaired_credentials_are_errors),
        cmocka_unit_test(test_invalid_yaml_reports_the_position_not_the_line),
        cmocka_unit_test(test_json_kubeconfig_written_by_the_api_test_server),
        cmocka_unit_test(test_in_cluster_ipv4),
        cmocka_unit_test(test_in_cluster_ipv6_is_bracketed_and_namespace_defaults),
        cmocka_unit_test(test_in_cluster_without_env_is_not_in_a_cluster),
        cmocka_unit_test(test_in_cluster_without_token_or_ca_is_an_error),
        cmocka_unit_test(test_ca_that_is_a_fifo_or_directory_is_refused_without_blocking),
        cmocka_unit_test(test_resolve_order_explicit_then_kubeconfig_env_then_in_cluster_then_home),
    };
    return cmocka_run_group_tests_name("kubeconfig", tests, NULL, NULL);
}
