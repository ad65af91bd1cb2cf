/* hash.h: SHA-256 (nettle), FNV-1a 64, a table hash. */
#ifndef SGW_HASH_H
#define SGW_HASH_H
#include <stddef.h>
#include <stdint.h>

/* Writes the lowercase hex SHA-256 of data (64 chars + NUL). Thread-safe. */
void hash_sha256_hex(const void *data, size_t len, char out[65]);

/* FNV-1a 64-bit, as Prometheus' model package (hashNew/hashAdd/hashAddByte). */
#define HASH_FNV64_OFFSET 14695981039346656037ULL
uint64_t hash_fnv64a_add(uint64_t h, const void *data, size_t len);
uint64_t hash_fnv64a_byte(uint64_t h, unsigned char b);

/* A fast 64-bit hash for in-memory tables (eight bytes per step); not FNV, and not stable
 * across versions: never store it or send it anywhere. */
uint64_t hash_table64(const void *data, size_t len);

#endif
