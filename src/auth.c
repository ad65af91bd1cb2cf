/* auth.c: see auth.h. Static tokens are kept only as SHA-256 digests and compared in
 * constant time, so neither memory dumps nor timing give a token away. The Kubernetes mode
 * (TokenReview/SAR) is not built yet: config validation refuses it with a clear message. */
#include "auth.h"
#include "util/hash.h"
#include "util/xalloc.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct auth {
    cfg_auth_mode mode;
    char        (*digests)[65];
    size_t        n;
};

static int load_tokens(auth *a, const char *path, char *err, size_t errlen)
{
    struct stat st;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "auth.static_file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0077) & 0007) {
        snprintf(err, errlen, "auth.static_file %s is readable by others (mode %o): chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        fclose(f);
        return -1;
    }
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = '\0';
        char *t = line;
        while (*t == ' ' || *t == '\t') t++;
        if (!*t || *t == '#') continue;
        a->digests = xrealloc(a->digests, (a->n + 1) * sizeof *a->digests);
        hash_sha256_hex(t, strlen(t), a->digests[a->n++]);
    }
    fclose(f);
    if (a->n == 0) {
        snprintf(err, errlen, "auth.static_file %s holds no token", path);
        return -1;
    }
    return 0;
}

auth *auth_new(const config *c, char *err, size_t errlen)
{
    auth *a = xcalloc(1, sizeof *a);
    a->mode = c->auth_mode;
    if (a->mode == AUTH_STATIC && load_tokens(a, c->auth_static_file, err, errlen) < 0) {
        auth_free(a);
        return NULL;
    }
    if (a->mode == AUTH_KUBERNETES) {
        snprintf(err, errlen, "auth mode 'kubernetes' (TokenReview/SubjectAccessReview) is not available in this build yet");
        auth_free(a);
        return NULL;
    }
    return a;
}

void auth_free(auth *a)
{
    if (!a) return;
    free(a->digests);
    free(a);
}

size_t auth_token_count(const auth *a) { return a->n; }

void auth_check(auth *a, const char *h, auth_cb cb, void *ctx)
{
    if (a->mode == AUTH_OFF) {
        cb(AUTH_ALLOW, ctx);
        return;
    }
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        cb(AUTH_UNAUTHENTICATED, ctx);
        return;
    }
    const char *tok = h + 7;
    while (*tok == ' ') tok++;
    if (!*tok) {
        cb(AUTH_UNAUTHENTICATED, ctx);
        return;
    }
    char d[65];
    hash_sha256_hex(tok, strlen(tok), d);
    int found = 0;
    for (size_t i = 0; i < a->n; i++) found |= CRYPTO_memcmp(d, a->digests[i], 64) == 0;
    cb(found ? AUTH_ALLOW : AUTH_UNAUTHENTICATED, ctx);
}
