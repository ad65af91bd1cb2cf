/* storm_id.c: a storm window's id; see storm_id.h. */
#include "state/storm_id.h"
#include "util/hash.h"

#include <stdio.h>

void store_storm_id(const char *name, const char *ns, int64_t start_ms, char out[65])
{
    char buf[1200];
    int n = snprintf(buf, sizeof buf, "%s:%s:%lld", name, ns, (long long)start_ms);
    hash_sha256_hex(buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1), out);
}
