/* hash.c: see hash.h. SHA-256 from nettle: its context lives on the stack (no per-thread
 * context to manage) and it uses the CPU's SHA instructions; the measurement that chose it
 * over OpenSSL's EVP is in docs/decisions/011-gateway-cpu-per-request.md. */
#include "util/hash.h"

#include <nettle/sha2.h>
#include <string.h>

void hash_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t md[SHA256_DIGEST_SIZE];
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len, data);
    sha256_digest(&ctx, sizeof md, md);
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
