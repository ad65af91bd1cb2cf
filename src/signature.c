/* signature.c: HMAC-SHA256 webhook signatures; see signature.h. */
#include "signature.h"
#include "util/err.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct signature_key {
    size_t  len;
    uint8_t secret[];
};

signature_key *signature_key_new(const void *secret, size_t len)
{
    signature_key *k = xmalloc(sizeof *k + len + 1);
    k->len = len;
    memcpy(k->secret, secret, len);
    return k;
}

void signature_key_free(signature_key *k)
{
    if (!k) return;
    explicit_bzero(k->secret, k->len);
    free(k);
}

signature_key *signature_key_load(const char *path, const char *key_name, char *err, size_t errlen)
{
    struct stat st;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s %s: %s", key_name, path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0077)) {
        snprintf(err, errlen, "%s %s is readable by group or others (mode %o): chmod 600 it", key_name, path,
                 (unsigned)(st.st_mode & 0777));
        fclose(f);
        return NULL;
    }
    char line[4096];
    size_t l = fread(line, 1, sizeof line, f);
    bool more = l == sizeof line && fgetc(f) != EOF;
    fclose(f);
    while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t')) l--;
    signature_key *k = NULL;
    if (more) snprintf(err, errlen, "%s %s: a secret longer than %zu bytes", key_name, path, sizeof line);
    else if (l == 0) snprintf(err, errlen, "%s %s holds no secret", key_name, path);
    else k = signature_key_new(line, l);
    explicit_bzero(line, sizeof line);
    return k;
}

static void mac(const signature_key *k, const char *timestamp, const char *body, size_t len,
                uint8_t digest[SHA256_DIGEST_SIZE])
{
    struct hmac_sha256_ctx ctx;
    hmac_sha256_set_key(&ctx, k->len, k->secret);
    if (timestamp) {
        hmac_sha256_update(&ctx, strlen(timestamp), (const uint8_t *)timestamp);
        hmac_sha256_update(&ctx, 1, (const uint8_t *)":");
    }
    hmac_sha256_update(&ctx, len, (const uint8_t *)body);
    hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
}

void signature_compute(const signature_key *k, const char *timestamp, const char *body, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t d[SHA256_DIGEST_SIZE];
    mac(k, timestamp, body, len, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int signature_verify(const signature_key *k, const char *timestamp, const char *body, size_t len,
                     const char *sig_hex)
{
    if (!sig_hex || strlen(sig_hex) != 2 * SHA256_DIGEST_SIZE) return SGW_E_INVALID;
    uint8_t given[SHA256_DIGEST_SIZE], want[SHA256_DIGEST_SIZE];
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
        int hi = hexval(sig_hex[2 * i]), lo = hexval(sig_hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return SGW_E_INVALID;
        given[i] = (uint8_t)(hi << 4 | lo);
    }
    mac(k, timestamp, body, len, want);
    return memeql_sec(given, want, SHA256_DIGEST_SIZE) ? 0 : SGW_E_INVALID;
}
