/* fuzz_kubeconfig.c: libFuzzer target for the kubeconfig loader (src/k8s/kubeconfig.c):
 * k8s_config_from_kubeconfig + k8s_config_free, and k8s_config_in_cluster.
 *
 * Input: a kubeconfig (YAML or JSON) up to the first NUL; what follows is NUL-separated
 * environment entries ("KUBERNETES_SERVICE_HOST=..."), and when there is such a tail the
 * in-cluster loader runs with it as its environment. The kubeconfig is written to
 * DIR/config, in a scratch directory that also holds what relative paths may name:
 * ca.crt, token, client.crt, client.key, a FIFO ("pipe", which must be refused, not
 * waited on) and a service-account directory sa/ (token, ca.crt, namespace).
 *
 * Invariants: a loaded config has a server that is an http(s) URL without a trailing
 * slash or control characters, a valid namespace and a context; insecure and a CA never
 * together; a certificate never without its key. A failure always says why, and no
 * message ever carries a secret (the token or key file contents). Leaks are caught by
 * libFuzzer's leak check. */
#include "k8s/kubeconfig.h"
#include "fuzz_util.h"
#include "fuzz_yaml.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_SECRET "fuzz-secret-token-6a1f0c"
#define KEY_SECRET   "fuzz-secret-key-93bd77"

static char dir[64], path[96], sa_dir[96];
static int cfg_fd = -1;

static void put(const char *name, const char *text)
{
    char p[160];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) fuzz_fail("cannot write %s", p);
}

static void write_config(const char *data, size_t n)
{
    if (ftruncate(cfg_fd, 0) < 0 || (n && pwrite(cfg_fd, data, n, 0) != (ssize_t)n))
        fuzz_fail("cannot write %s", path);
}

static bool dns1123(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || (s[i] == '-' && i && i + 1 < n)))
            return false;
    return true;
}

static void check_loaded(const k8s_config *c, const char *what)
{
    if (!c->server || !*c->server) fuzz_fail("%s: loaded without a server", what);
    const char *s = c->server;
    size_t skip = !strncmp(s, "https://", 8) ? 8 : !strncmp(s, "http://", 7) ? 7 : 0;
    if (!skip || !s[skip]) fuzz_fail("%s: server \"%s\" is not an http(s) URL", what, s);
    size_t n = strlen(s);
    if (s[n - 1] == '/') fuzz_fail("%s: server \"%s\" ends with a slash", what, s);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) fuzz_fail("%s: control character in the server URL", what);
    if (!c->namespace || !dns1123(c->namespace)) fuzz_fail("%s: namespace missing or invalid", what);
    if (!c->context) fuzz_fail("%s: no context name", what);
    if (c->insecure && c->ca_pem) fuzz_fail("%s: insecure together with a CA", what);
    if (!c->cert_pem != !c->key_pem) fuzz_fail("%s: a client certificate without its key (or the reverse)", what);
    if ((c->ca_pem && memchr(c->ca_pem, '\0', c->ca_len + 1) == NULL) ||
        (c->cert_pem && memchr(c->cert_pem, '\0', c->cert_len + 1) == NULL))
        fuzz_fail("%s: a PEM buffer is not NUL-terminated", what);
}

/* secrets_in_input: the input itself names a secret (then a message may quote it as a
 * path or a name: that is not a leak of the file's contents) */
static void check_failed(const char *err, size_t errlen, const char *what, bool secrets_in_input)
{
    if (!memchr(err, '\0', errlen)) fuzz_fail("%s: error message not terminated", what);
    if (!err[0]) fuzz_fail("%s: failed without a message", what);
    if (!secrets_in_input && (strstr(err, TOKEN_SECRET) || strstr(err, KEY_SECRET)))
        fuzz_fail("%s: a secret in the message: %s", what, err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(dir, sizeof dir, "/tmp/sgw-fuzz-kubeconfig-XXXXXX");
    if (!mkdtemp(dir)) fuzz_fail("mkdtemp failed");
    snprintf(path, sizeof path, "%s/config", dir);
    snprintf(sa_dir, sizeof sa_dir, "%s/sa", dir);
    put("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIBfuzz\n-----END CERTIFICATE-----\n");
    put("client.crt", "-----BEGIN CERTIFICATE-----\nMIIBclient\n-----END CERTIFICATE-----\n");
    put("client.key", "-----BEGIN PRIVATE KEY-----\n" KEY_SECRET "\n-----END PRIVATE KEY-----\n");
    put("token", TOKEN_SECRET "\n");
    char p[160];
    snprintf(p, sizeof p, "%s/pipe", dir);
    if (mkfifo(p, 0600) < 0) fuzz_fail("mkfifo failed");
    if (mkdir(sa_dir, 0700) < 0) fuzz_fail("mkdir failed");
    put("sa/token", TOKEN_SECRET "\n");
    put("sa/ca.crt", "-----BEGIN CERTIFICATE-----\nMIIBsa\n-----END CERTIFICATE-----\n");
    put("sa/namespace", "fuzz-ns\n");
    cfg_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (cfg_fd < 0) fuzz_fail("cannot create %s", path);

    /* Self-test: the file really reaches the loader and relative paths resolve in dir. */
    static const char probe[] = "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                                "contexts: [{name: c, context: {cluster: k, user: u, namespace: probe}}]\n"
                                "clusters: [{name: k, cluster: {server: 'https://k:6443/', certificate-authority: ca.crt}}]\n"
                                "users: [{name: u, user: {tokenFile: token}}]\n";
    write_config(probe, sizeof probe - 1);
    k8s_config c;
    char err[512] = "";
    if (k8s_config_from_kubeconfig(path, &c, err, sizeof err) != 0) fuzz_fail("harness self-test: %s", err);
    if (strcmp(c.server, "https://k:6443") || strcmp(c.namespace, "probe") || !c.ca_pem || !c.token_file)
        fuzz_fail("harness self-test: the probe kubeconfig was not read as written");
    k8s_config_free(&c);
    /* and a FIFO named as a file is refused at once, not waited on */
    static const char fifo[] = "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
                               "clusters: [{name: k, cluster: {server: 'https://k', certificate-authority: pipe}}]\n"
                               "users: [{name: u, user: {token: t}}]\n";
    write_config(fifo, sizeof fifo - 1);
    if (k8s_config_from_kubeconfig(path, &c, err, sizeof err) == 0 || !strstr(err, "not a regular file"))
        fuzz_fail("harness self-test: a FIFO CA was not refused (%s)", err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *end = memchr(data, '\0', size);
    size_t klen = end ? (size_t)(end - (const char *)data) : size;
    write_config((const char *)data, klen);
    bool secrets_in_input = memmem(data, size, TOKEN_SECRET, sizeof TOKEN_SECRET - 1) ||
                            memmem(data, size, KEY_SECRET, sizeof KEY_SECRET - 1);

    k8s_config c;
    char err[512];
    memset(err, 0x55, sizeof err);
    err[0] = '\0';
    if (k8s_config_from_kubeconfig(path, &c, err, sizeof err) == 0) {
        check_loaded(&c, "kubeconfig");
        k8s_config_free(&c);
    } else {
        check_failed(err, sizeof err, "kubeconfig", secrets_in_input);
        /* a failed load leaves nothing to free, and freeing it again is harmless */
        k8s_config_free(&c);
    }

    if (end) {
        size_t elen = size - klen - 1;
        char *envbuf = malloc(elen + 1);
        memcpy(envbuf, end + 1, elen);
        envbuf[elen] = '\0';
        char *envp[17];
        size_t ne = 0;
        for (char *p = envbuf; p < envbuf + elen && ne < 16; p += strlen(p) + 1) envp[ne++] = p;
        envp[ne] = NULL;
        err[0] = '\0';
        if (k8s_config_in_cluster(sa_dir, envp, &c, err, sizeof err) == 0) {
            check_loaded(&c, "in-cluster");
            if (strcmp(c.namespace, "fuzz-ns") || !c.token_file || !c.ca_pem)
                fuzz_fail("in-cluster: namespace, token file or CA not taken from the service account");
            k8s_config_free(&c);
        } else {
            check_failed(err, sizeof err, "in-cluster", secrets_in_input);
        }
        free(envbuf);
    }
    fuzz_yaml_check_balanced();
    return 0;
}
