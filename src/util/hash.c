/* hash.c: see hash.h. EVP_MD_fetch once: implicit fetch per call costs ~2x (notes/libraries.md). */
#include "util/hash.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;   /* frees a thread's context when the thread ends */

static __thread EVP_MD_CTX *tctx;   /* this thread's context (thread_ctx) */

static void ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
    tctx = NULL;   /* the destructor runs on the exiting thread: a later hash makes a new one */
}

static void sha256_init(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!sha256_md || pthread_key_create(&ctx_key, ctx_free) != 0) abort();
}

/* One digest context per thread, re-initialised per hash: EVP_Digest allocates and frees a
 * context on every call (a fingerprint on every signal). */
static EVP_MD_CTX *thread_ctx(void)
{
    if (!tctx) {
        tctx = EVP_MD_CTX_new();
        if (!tctx || pthread_setspecific(ctx_key, tctx) != 0) abort();
    }
    return tctx;
}

void hash_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    pthread_once(&sha256_once, sha256_init);
    EVP_MD_CTX *ctx = thread_ctx();
    if (!EVP_DigestInit_ex2(ctx, sha256_md, NULL) || !EVP_DigestUpdate(ctx, data, len) ||
        !EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32)
        abort();
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

uint64_t hash_fnv64a_add(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t hash_fnv64a_byte(uint64_t h, unsigned char b)
{
    h ^= b;
    h *= 1099511628211ULL;
    return h;
}

uint64_t hash_table64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;
    for (; len >= 8; p += 8, len -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, p, len);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}
