/* kubeconfig.c: where the Kubernetes API is and how to authenticate, from a kubeconfig
 * (clientcmd v1, YAML or JSON, parsed with libfyaml) or from the pod's service account;
 * see kubeconfig.h. Validation follows client-go's clientcmd (ConfirmUsable) so that a
 * kubeconfig kubectl refuses is refused here too, with a message naming the problem.
 * Secrets (tokens, keys) never reach an error message. */
#include "k8s/kubeconfig.h"
#include "util/err.h"
#include "util/yamlguard.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
/* A CA bundle or client certificate chain is kilobytes; this only stops a path to
 * /dev/zero or a misplaced disk image from eating memory. */
#define MAX_PEM_FILE (8u << 20)

/* ---- small helpers ---------------------------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return *envp + n + 1;
    return NULL;
}

/* Frees a buffer that held a secret, wiping it first. */
static void free_secret(char *p, size_t n)
{
    if (!p) return;
    explicit_bzero(p, n);
    free(p);
}

/* Reads a whole file (at most max bytes) into a malloc'd, NUL-terminated buffer.
 * Returns 0, or SGW_E_IO with errno set (EFBIG if larger than max). */
static int read_file(const char *path, size_t max, char **out, size_t *outlen)
{
    /* Only regular files: a FIFO or a terminal named by mistake would block the start (or
     * a reload) forever; O_NONBLOCK keeps the open itself from waiting for a FIFO writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return SGW_E_IO;
    struct stat st;
    int ferr = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (ferr) {
        close(fd);
        errno = ferr;
        return SGW_E_IO;
    }
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap >= max) {
                free_secret(buf, len);
                close(fd);
                errno = EFBIG;
                return SGW_E_IO;
            }
            cap = cap * 2 > max ? max : cap * 2;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free_secret(buf, len);
            close(fd);
            errno = e;
            return SGW_E_IO;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

/* The words for read_file's errno: EINVAL is its "not a regular file". */
static const char *read_err(int e)
{
    return e == EINVAL ? "not a regular file" : strerror(e);
}

/* 0 if path is a regular file that can be opened for reading (the file is not read),
 * SGW_E_IO with errno otherwise (EINVAL: not a regular file; a FIFO would block a later read). */
static int check_readable(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);   /* a FIFO must not block here */
    if (fd < 0) return SGW_E_IO;
    struct stat st;
    int e = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : !S_ISREG(st.st_mode) ? EINVAL : 0;
    close(fd);
    if (e) {
        errno = e;
        return SGW_E_IO;
    }
    return 0;
}

/* A relative path in a kubeconfig is relative to the kubeconfig's directory (dir, absolute). */
static char *resolve_path(const char *dir, const char *p)
{
    if (p[0] == '/') return xstrdup(p);
    size_t n = strlen(dir) + 1 + strlen(p) + 1;
    char *s = xmalloc(n);
    snprintf(s, n, "%s/%s", dir, p);
    return s;
}

/* The absolute directory holding path (not resolving symlinks, as client-go's filepath.Abs). */
static char *abs_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
    if (dir[0] == '/') return dir;
    char *cwd = getcwd(NULL, 0);
    if (!cwd) return dir;   /* the relative directory still works while the cwd does not change */
    size_t n = strlen(cwd) + 1 + strlen(dir) + 1;
    char *s = xmalloc(n);
    if (strcmp(dir, ".") == 0) snprintf(s, n, "%s", cwd);
    else snprintf(s, n, "%s/%s", cwd, dir);
    free(cwd);
    free(dir);
    return s;
}

/* Strict standard base64 (RFC 4648 section 4, the alphabet and padding Go's
 * base64.StdEncoding wants); ASCII whitespace between characters is skipped, as a
 * folded YAML scalar or a wrapped `base64` output may contain it. Returns a malloc'd,
 * NUL-terminated buffer, or NULL if the input is not base64. */
static char *b64_decode(const char *s, size_t n, size_t *outlen)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char *out = xmalloc(n / 4 * 3 + 4);
    size_t o = 0, data = 0, pad = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') continue;
        if (ch == '=') {
            pad++;
            continue;
        }
        const char *p = ch ? strchr(alphabet, ch) : NULL;
        if (!p || pad) goto bad;   /* a character outside the alphabet, or data after '=' */
        acc = (acc << 6) | (uint32_t)(p - alphabet);
        bits += 6;
        data++;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* a final group of 2 or 3 characters carries exactly 2 or 1 '=' */
    if (!((data % 4 == 0 && pad == 0) || (data % 4 == 2 && pad == 2) || (data % 4 == 3 && pad == 1))) goto bad;
    out[o] = '\0';
    *outlen = o;
    return (char *)out;
bad:
    free_secret((char *)out, n / 4 * 3 + 4);
    return NULL;
}

static bool dns1123_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && (ch != '-' || i == 0 || i == n - 1)) return false;
    }
    return true;
}

/* ---- YAML access ------------------------------------------------------------------------ */

/* true for a missing value, `key:`, or a plain null / ~ (YAML and JSON null) */
static bool node_is_null(struct fy_node *n)
{
    if (!n || fy_node_is_null(n)) return true;
    if (fy_node_get_type(n) != FYNT_SCALAR || fy_node_get_style(n) != FYNS_PLAIN) return false;
    size_t len;
    const char *s = fy_node_get_scalar(n, &len);
    return s && ((len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4))) ||
                 (len == 1 && s[0] == '~'));
}

static struct fy_node *map_get(struct fy_node *map, const char *key)
{
    if (!map || fy_node_get_type(map) != FYNT_MAPPING) return NULL;
    struct fy_node *v = fy_node_mapping_lookup_value_by_simple_key(map, key, (size_t)-1);
    return node_is_null(v) ? NULL : v;
}

/* The string at map[key]: *out is NULL when absent, null or empty (Go's zero value: unset).
 * SGW_E_INVALID with a message (what + key) when it is not a scalar. */
static int get_str(struct fy_node *map, const char *key, const char *what, char **out, char *err, size_t errlen)
{
    *out = NULL;
    struct fy_node *v = map_get(map, key);
    if (!v) return 0;
    if (fy_node_get_type(v) != FYNT_SCALAR) {
        seterr(err, errlen, "%s: %s must be a string", what, key);
        return SGW_E_INVALID;
    }
    size_t len = 0;
    const char *s = fy_node_get_scalar(v, &len);
    if (!s || len == 0) return 0;
    if (memchr(s, '\0', len)) {
        seterr(err, errlen, "%s: %s contains a NUL byte", what, key);
        return SGW_E_INVALID;
    }
    *out = xstrndup(s, len);
    return 0;
}

static int get_bool(struct fy_node *map, const char *key, const char *what, bool *out, char *err, size_t errlen)
{
    *out = false;
    struct fy_node *v = map_get(map, key);
    if (!v) return 0;
    size_t len = 0;
    const char *s = fy_node_get_type(v) == FYNT_SCALAR ? fy_node_get_scalar(v, &len) : NULL;
    char buf[8] = "";
    if (s && len < sizeof buf) {
        memcpy(buf, s, len);
        buf[len] = '\0';
    }
    /* YAML 1.1 spellings too: kubectl's YAML reader (go-yaml v2) accepts them */
    if (!strcasecmp(buf, "true") || !strcasecmp(buf, "yes") || !strcasecmp(buf, "on")) *out = true;
    else if (!strcasecmp(buf, "false") || !strcasecmp(buf, "no") || !strcasecmp(buf, "off")) *out = false;
    else {
        seterr(err, errlen, "%s: %s must be true or false", what, key);
        return SGW_E_INVALID;
    }
    return 0;
}

/* Finds the entry called name in the list root[list] (- name: N\n  <inner>: {...}) and
 * returns its <inner> mapping. kind names the entry in messages ("context", "cluster", "user"). */
static struct fy_node *find_named(struct fy_node *root, const char *list, const char *inner, const char *kind,
                                  const char *name, const char *file, char *err, size_t errlen)
{
    struct fy_node *seq = map_get(root, list);
    if (seq && fy_node_get_type(seq) != FYNT_SEQUENCE) {
        seterr(err, errlen, "kubeconfig %s: %s must be a list", file, list);
        return NULL;
    }
    struct fy_node *found = NULL, *item;
    bool matched = false;
    void *it = NULL;
    while (seq && (item = fy_node_sequence_iterate(seq, &it))) {
        struct fy_node *nn = map_get(item, "name");
        size_t len = 0;
        const char *s = nn && fy_node_get_type(nn) == FYNT_SCALAR ? fy_node_get_scalar(nn, &len) : NULL;
        if (!s || len != strlen(name) || memcmp(s, name, len) != 0) continue;
        if (matched) {   /* client-go keys these by name; two with one name is a broken file */
            seterr(err, errlen, "kubeconfig %s: %s \"%s\" is defined more than once", file, kind, name);
            return NULL;
        }
        matched = true;
        found = map_get(item, inner);
        if (!found || fy_node_get_type(found) != FYNT_MAPPING) {
            seterr(err, errlen, "kubeconfig %s: %s \"%s\" has no '%s' mapping", file, kind, name, inner);
            return NULL;
        }
    }
    if (!matched) seterr(err, errlen, "kubeconfig %s: %s \"%s\" not found in %s", file, kind, name, list);
    return found;
}

/* Loads a PEM credential: key-data (base64, wins in client-go) or key (a file). Exactly
 * one may be set. *out stays NULL when neither is. */
static int load_pem(struct fy_node *map, const char *file_key, const char *data_key, const char *what,
                    const char *dir, char **out, size_t *outlen, char *err, size_t errlen)
{
    char *fpath = NULL, *data = NULL;
    int rc = SGW_E_INVALID;
    if (get_str(map, file_key, what, &fpath, err, errlen) < 0) goto out;
    if (get_str(map, data_key, what, &data, err, errlen) < 0) goto out;
    if (fpath && data) {
        seterr(err, errlen, "%s: %s and %s are both set; keep one", what, data_key, file_key);
        goto out;
    }
    if (data) {
        *out = b64_decode(data, strlen(data), outlen);
        if (!*out) {
            seterr(err, errlen, "%s: %s is not valid base64", what, data_key);
            goto out;
        }
    } else if (fpath) {
        char *full = resolve_path(dir, fpath);
        if (read_file(full, MAX_PEM_FILE, out, outlen) < 0) {
            seterr(err, errlen, "%s: %s %s: %s", what, file_key, full, read_err(errno));
            free(full);
            rc = SGW_E_IO;
            goto out;
        }
        free(full);
    }
    rc = 0;
out:
    free(fpath);
    if (data) free_secret(data, strlen(data));
    return rc;
}

/* ---- kubeconfig ------------------------------------------------------------------------- */

static int load_cluster(struct fy_node *cl, const char *name, const char *file, const char *dir, k8s_config *c,
                        char *err, size_t errlen)
{
    char what[512];
    snprintf(what, sizeof what, "kubeconfig %s: cluster \"%s\"", file, name);
    static const char *const unsupported[] = {"tls-server-name", "proxy-url"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (map_get(cl, unsupported[i])) {
            seterr(err, errlen, "%s: %s is not supported", what, unsupported[i]);
            return SGW_E_INVALID;
        }
    if (get_str(cl, "server", what, &c->server, err, errlen) < 0) return SGW_E_INVALID;
    if (!c->server) {
        seterr(err, errlen, "%s: no server", what);
        return SGW_E_INVALID;
    }
    const char *s = c->server;
    size_t skip = !strncmp(s, "https://", 8) ? 8 : !strncmp(s, "http://", 7) ? 7 : 0;
    if (!skip || !s[skip] || s[skip] == '/') {
        seterr(err, errlen, "%s: server \"%s\" is not an http(s):// URL", what, s);
        return SGW_E_INVALID;
    }
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            seterr(err, errlen, "%s: server URL contains a space or control character", what);
            return SGW_E_INVALID;
        }
    size_t n = strlen(c->server);
    while (n > skip && c->server[n - 1] == '/') c->server[--n] = '\0';
    if (get_bool(cl, "insecure-skip-tls-verify", what, &c->insecure, err, errlen) < 0) return SGW_E_INVALID;
    int rc = load_pem(cl, "certificate-authority", "certificate-authority-data", what, dir, &c->ca_pem, &c->ca_len,
                      err, errlen);
    if (rc < 0) return rc;
    if (c->insecure && c->ca_pem) {   /* client-go's transport refuses this pair as well */
        seterr(err, errlen, "%s: insecure-skip-tls-verify together with a certificate authority; keep one", what);
        return SGW_E_INVALID;
    }
    return 0;
}

static int load_user(struct fy_node *u, const char *name, const char *file, const char *dir, k8s_config *c,
                     char *err, size_t errlen)
{
    char what[512];
    snprintf(what, sizeof what, "kubeconfig %s: user \"%s\"", file, name);
    if (map_get(u, "exec")) {
        seterr(err, errlen, "%s: exec credential plugins are not supported: use a token or client certificate", what);
        return SGW_E_INVALID;
    }
    if (map_get(u, "auth-provider")) {
        seterr(err, errlen, "%s: auth-provider is not supported: use a token or client certificate", what);
        return SGW_E_INVALID;
    }
    if (map_get(u, "username") || map_get(u, "password")) {
        seterr(err, errlen, "%s: basic authentication (username/password) is not supported: use a token or client "
                            "certificate", what);
        return SGW_E_INVALID;
    }
    static const char *const impersonation[] = {"as", "as-uid", "as-groups", "as-user-extra"};
    for (size_t i = 0; i < sizeof impersonation / sizeof impersonation[0]; i++)
        if (map_get(u, impersonation[i])) {
            seterr(err, errlen, "%s: impersonation (%s) is not supported", what, impersonation[i]);
            return SGW_E_INVALID;
        }
    if (get_str(u, "token", what, &c->token, err, errlen) < 0) return SGW_E_INVALID;
    char *tf = NULL;
    if (get_str(u, "tokenFile", what, &tf, err, errlen) < 0) return SGW_E_INVALID;
    if (tf) {
        /* Both set: the client follows the file (client-go re-reads it too) */
        c->token_file = resolve_path(dir, tf);
        free(tf);
        if (check_readable(c->token_file) < 0) {
            seterr(err, errlen, "%s: tokenFile %s: %s", what, c->token_file, read_err(errno));
            return SGW_E_IO;
        }
    }
    int rc = load_pem(u, "client-certificate", "client-certificate-data", what, dir, &c->cert_pem, &c->cert_len,
                      err, errlen);
    if (rc < 0) return rc;
    rc = load_pem(u, "client-key", "client-key-data", what, dir, &c->key_pem, &c->key_len, err, errlen);
    if (rc < 0) return rc;
    if (!c->cert_pem != !c->key_pem) {
        seterr(err, errlen, "%s: %s without %s", what, c->cert_pem ? "client-certificate" : "client-key",
               c->cert_pem ? "client-key" : "client-certificate");
        return SGW_E_INVALID;
    }
    return 0;
}

/* libfyaml reports a syntax error through its diagnostic output: the first line is
 * "FILE:LINE:COL: error: MESSAGE", then the offending source line, which may hold a
 * token; only the first line is kept, and only if it has that shape. */
typedef struct diag_capture {
    char first[256];
    bool done;
} diag_capture;

static void diag_output(struct fy_diag *d, void *user, const char *buf, size_t len)
{
    (void)d;
    diag_capture *dc = user;
    if (dc->done) return;
    dc->done = true;
    const char *nl = memchr(buf, '\n', len);
    if (nl) len = (size_t)(nl - buf);
    if (len >= sizeof dc->first) len = sizeof dc->first - 1;
    memcpy(dc->first, buf, len);
    dc->first[len] = '\0';
    if (!strstr(dc->first, ": error: ")) dc->first[0] = '\0';
}

static struct fy_document *parse_file(const char *path, char *err, size_t errlen)
{
    char gerr[512];
    if (yaml_guard_file(path, gerr, sizeof gerr) < 0) {   /* libfyaml 0.7.12 hangs/crashes otherwise */
        seterr(err, errlen, "kubeconfig %s", gerr);
        return NULL;
    }
    diag_capture dc = {.first = "", .done = false};
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_output;
    dcfg.user = &dc;
    dcfg.colorize = false;
    dcfg.show_source = false;
    dcfg.show_position = true;
    dcfg.show_type = false;
    dcfg.show_module = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    /* without our diag, stay quiet: libfyaml's default one prints the source line to stderr */
    struct fy_parse_cfg pcfg = {.flags = diag ? FYPCF_DEFAULT_PARSE : FYPCF_QUIET, .diag = diag};
    struct fy_document *doc = fy_document_build_from_file(&pcfg, path);
    if (!doc) {
        /* the message starts with the path we passed: show only what follows it */
        size_t pl = strlen(path);
        const char *m = dc.first;
        if (!strncmp(m, path, pl) && m[pl] == ':') m += pl + 1;
        if (*m) seterr(err, errlen, "kubeconfig %s: not valid YAML or JSON: %s", path, m);
        else seterr(err, errlen, "kubeconfig %s: not valid YAML or JSON", path);
    }
    if (diag) fy_diag_destroy(diag);
    return doc;
}

int k8s_config_from_kubeconfig(const char *path, k8s_config *out, char *err, size_t errlen)
{
    k8s_config c = {0};
    struct fy_document *doc = NULL;
    char *dir = NULL, *ctx_name = NULL, *cluster_name = NULL, *user_name = NULL;
    int rc = SGW_E_INVALID;
    memset(out, 0, sizeof *out);
    if (!path || !*path) {
        seterr(err, errlen, "kubeconfig: no path given");
        return SGW_E_INVALID;
    }
    /* fail on a missing or unreadable file with errno's words, not a parser's */
    struct stat st;
    if (check_readable(path) < 0 || stat(path, &st) < 0) {
        seterr(err, errlen, "kubeconfig %s: %s", path, read_err(errno));
        return SGW_E_IO;
    }
    if (S_ISDIR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size == 0)) {
        seterr(err, errlen, "kubeconfig %s: %s", path, S_ISDIR(st.st_mode) ? strerror(EISDIR) : "the file is empty");
        return S_ISDIR(st.st_mode) ? SGW_E_IO : SGW_E_INVALID;
    }
    doc = parse_file(path, err, errlen);
    if (!doc) goto out;
    struct fy_node *root = fy_document_root(doc);
    if (!root || fy_node_get_type(root) != FYNT_MAPPING) {
        seterr(err, errlen, "kubeconfig %s: not a kubeconfig (the top level must be a mapping)", path);
        goto out;
    }
    char what[512];
    snprintf(what, sizeof what, "kubeconfig %s", path);
    if (get_str(root, "current-context", what, &ctx_name, err, errlen) < 0) goto out;
    if (!ctx_name) {
        seterr(err, errlen, "kubeconfig %s: no current-context set (kubectl config use-context NAME)", path);
        goto out;
    }
    struct fy_node *ctx = find_named(root, "contexts", "context", "context", ctx_name, path, err, errlen);
    if (!ctx) goto out;
    snprintf(what, sizeof what, "kubeconfig %s: context \"%s\"", path, ctx_name);
    if (get_str(ctx, "cluster", what, &cluster_name, err, errlen) < 0) goto out;
    if (get_str(ctx, "user", what, &user_name, err, errlen) < 0) goto out;
    if (get_str(ctx, "namespace", what, &c.namespace, err, errlen) < 0) goto out;
    if (!cluster_name || !user_name) {
        seterr(err, errlen, "%s: no %s", what, cluster_name ? "user" : "cluster");
        goto out;
    }
    if (c.namespace && !dns1123_label(c.namespace)) {
        seterr(err, errlen, "%s: namespace \"%s\" is not a valid namespace name", what, c.namespace);
        goto out;
    }
    if (!c.namespace) c.namespace = xstrdup("default");
    struct fy_node *cl = find_named(root, "clusters", "cluster", "cluster", cluster_name, path, err, errlen);
    if (!cl) goto out;
    struct fy_node *u = find_named(root, "users", "user", "user", user_name, path, err, errlen);
    if (!u) goto out;
    dir = abs_dir_of(path);
    if ((rc = load_cluster(cl, cluster_name, path, dir, &c, err, errlen)) < 0) goto out;
    if ((rc = load_user(u, user_name, path, dir, &c, err, errlen)) < 0) goto out;
    c.context = ctx_name;
    ctx_name = NULL;
    *out = c;
    rc = 0;
out:
    if (rc < 0) k8s_config_free(&c);
    free(ctx_name);
    free(cluster_name);
    free(user_name);
    free(dir);
    if (doc) fy_document_destroy(doc);
    return rc;
}

/* ---- in-cluster ------------------------------------------------------------------------- */

int k8s_config_in_cluster(const char *sa_dir, char *const *envp, k8s_config *out, char *err, size_t errlen)
{
    k8s_config c = {0};
    char *path = NULL, *ns = NULL;
    size_t nslen = 0;
    int rc = SGW_E_INVALID;
    memset(out, 0, sizeof *out);
    if (!sa_dir || !*sa_dir) sa_dir = SA_DIR_DEFAULT;
    if (!envp) envp = environ;
    const char *host = env_get(envp, "KUBERNETES_SERVICE_HOST");
    const char *port = env_get(envp, "KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port) {
        seterr(err, errlen, "in-cluster: not running in a cluster (KUBERNETES_SERVICE_HOST and "
                            "KUBERNETES_SERVICE_PORT must be set); give a kubeconfig instead");
        return SGW_E_INVALID;
    }
    /* a host name, an IPv4 or an IPv6 address (no zone: it would need %25 in a URL) */
    bool v6 = strchr(host, ':') != NULL;
    for (const char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '-' || *p == ':')) {
            seterr(err, errlen, "in-cluster: KUBERNETES_SERVICE_HOST \"%.100s\" is not a host name or address", host);
            return SGW_E_INVALID;
        }
    char *end;
    errno = 0;
    long pn = strtol(port, &end, 10);
    if (*end || errno || pn < 1 || pn > 65535 || port[0] < '0' || port[0] > '9') {
        seterr(err, errlen, "in-cluster: KUBERNETES_SERVICE_PORT \"%.20s\" is not a port number", port);
        return SGW_E_INVALID;
    }
    size_t n = strlen(host) + 32;
    c.server = xmalloc(n);
    snprintf(c.server, n, v6 ? "https://[%s]:%ld" : "https://%s:%ld", host, pn);

    size_t dl = strlen(sa_dir) + sizeof "/namespace";
    c.token_file = xmalloc(dl);
    snprintf(c.token_file, dl, "%s/token", sa_dir);
    if (check_readable(c.token_file) < 0) {
        seterr(err, errlen, "in-cluster: service account token %s: %s", c.token_file, read_err(errno));
        rc = SGW_E_IO;
        goto out;
    }
    path = xmalloc(dl);
    snprintf(path, dl, "%s/ca.crt", sa_dir);
    if (read_file(path, MAX_PEM_FILE, &c.ca_pem, &c.ca_len) < 0) {
        seterr(err, errlen, "in-cluster: service account CA %s: %s", path, read_err(errno));
        rc = SGW_E_IO;
        goto out;
    }
    snprintf(path, dl, "%s/namespace", sa_dir);
    if (read_file(path, 4096, &ns, &nslen) < 0) {
        if (errno != ENOENT) {
            seterr(err, errlen, "in-cluster: %s: %s", path, read_err(errno));
            rc = SGW_E_IO;
            goto out;
        }
    } else {
        size_t a = 0, b = nslen;
        while (a < b && (ns[a] == ' ' || ns[a] == '\t' || ns[a] == '\r' || ns[a] == '\n')) a++;
        while (b > a && (ns[b - 1] == ' ' || ns[b - 1] == '\t' || ns[b - 1] == '\r' || ns[b - 1] == '\n')) b--;
        if (b > a) {
            c.namespace = xstrndup(ns + a, b - a);
            if (strlen(c.namespace) != b - a || !dns1123_label(c.namespace)) {
                seterr(err, errlen, "in-cluster: %s does not hold a valid namespace name", path);
                goto out;
            }
        }
    }
    if (!c.namespace) c.namespace = xstrdup("default");
    c.context = xstrdup("in-cluster");
    *out = c;
    rc = 0;
out:
    if (rc < 0) k8s_config_free(&c);
    free(path);
    free(ns);
    return rc;
}

/* ---- resolution ------------------------------------------------------------------------- */

int k8s_config_resolve(const char *kubeconfig, const char *sa_dir, char *const *envp, k8s_config *out,
                       char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!envp) envp = environ;
    if (kubeconfig && *kubeconfig) return k8s_config_from_kubeconfig(kubeconfig, out, err, errlen);

    /* Simplification: kubectl merges every file of a colon-separated $KUBECONFIG (first
     * one wins per key); we load only the first file of the list that exists. Enough for
     * the usual single file, and explicit where it is not: a missing list is an error. */
    const char *kc = env_get(envp, "KUBECONFIG");
    if (kc && *kc) {
        const char *p = kc;
        while (*p) {
            const char *colon = strchr(p, ':');
            size_t len = colon ? (size_t)(colon - p) : strlen(p);
            if (len > 0) {
                char *f = xstrndup(p, len);
                struct stat st;
                if (stat(f, &st) == 0) {
                    int rc = k8s_config_from_kubeconfig(f, out, err, errlen);
                    free(f);
                    return rc;
                }
                free(f);
            }
            p += len;
            if (*p == ':') p++;
        }
        seterr(err, errlen, "$KUBECONFIG is set but none of its files exists: %s", kc);
        return SGW_E_NOTFOUND;
    }

    const char *host = env_get(envp, "KUBERNETES_SERVICE_HOST");
    if (host && *host) return k8s_config_in_cluster(sa_dir, envp, out, err, errlen);

    const char *home = env_get(envp, "HOME");
    if (!home || !*home) {
        seterr(err, errlen, "no kubeconfig: not running in a cluster (KUBERNETES_SERVICE_HOST unset), no "
                            "--kubeconfig, $KUBECONFIG and $HOME unset");
        return SGW_E_NOTFOUND;
    }
    size_t n = strlen(home) + sizeof "/.kube/config";
    char *path = xmalloc(n);
    snprintf(path, n, "%s/.kube/config", home);
    struct stat st;
    int rc;
    if (stat(path, &st) < 0 && errno == ENOENT) {
        seterr(err, errlen, "no kubeconfig: not running in a cluster (KUBERNETES_SERVICE_HOST unset), no "
                            "--kubeconfig, $KUBECONFIG unset, and %s does not exist", path);
        rc = SGW_E_NOTFOUND;
    } else {
        rc = k8s_config_from_kubeconfig(path, out, err, errlen);
    }
    free(path);
    return rc;
}

void k8s_config_free(k8s_config *c)
{
    if (!c) return;
    free(c->server);
    free(c->ca_pem);
    if (c->token) free_secret(c->token, strlen(c->token));
    free(c->token_file);
    free(c->cert_pem);
    free_secret(c->key_pem, c->key_len);
    free(c->namespace);
    free(c->context);
    memset(c, 0, sizeof *c);
}
