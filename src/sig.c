/* sig.c: the adapter-independent half of sig.h: severity/status names, the gateway and
 * Alertmanager fingerprints, resource ids and the sorted string map. Validation lives in
 * adapters/common.c; the table from adapter errors to HTTP answers in pipeline.c. */
#include "sig.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/xalloc.h"

const char *sig_severity_str(sig_severity s)
{
    switch (s) {
    case SEV_CRITICAL: return "critical";
    case SEV_WARNING: return "warning";
    case SEV_INFO: return "info";
    }
    return "unknown";
}

const char *sig_status_str(sig_status s)
{
    switch (s) {
    case SIG_FIRING: return "firing";
    case SIG_RESOLVED: return "resolved";
    }
    return "unknown";
}

/* Exact, case-sensitive match as upstream: "Critical" or "error" are warnings. */
sig_severity sig_severity_parse(const char *s)
{
    if (!s) return SEV_WARNING;
    if (strcmp(s, "critical") == 0) return SEV_CRITICAL;
    if (strcmp(s, "info") == 0) return SEV_INFO;
    return SEV_WARNING;
}

/* SHA-256 hex of parts[first..3] joined by ':'. A resource name can be a label value of
 * any length, so the key goes on the heap when it does not fit the stack buffer. */
static void hash_joined(const char *const parts[4], int first, char out[65])
{
    size_t lens[4], total = 3;
    for (int i = first; i < 4; i++) {
        lens[i] = strlen(parts[i]);
        total += lens[i];
    }
    char stackbuf[1024];
    char *key = total <= sizeof stackbuf ? stackbuf : xmalloc(total);
    key[0] = '\0';   /* gcc cannot see that a ':' is always written when first < 3 */
    size_t off = 0;
    for (int i = first; i < 4; i++) {
        if (i > first) key[off++] = ':';
        memcpy(key + off, parts[i], lens[i]);
        off += lens[i];
    }
    hash_sha256_hex(key, off, out);
    if (key != stackbuf) free(key);
}

static const char *or_empty(const char *s) { return s ? s : ""; }

/* The key is "name:namespace:kind:res_name". */
void sig_fingerprint(sig_signal *s)
{
    const char *parts[4] = {or_empty(s->name), or_empty(s->namespace), or_empty(s->kind), or_empty(s->res_name)};
    hash_joined(parts, 0, s->fingerprint);
}

void sig_fingerprint_target(sig_signal *s, const char *cluster)
{
    const char *parts[4] = {or_empty(cluster), or_empty(s->res_namespace), or_empty(s->kind), or_empty(s->res_name)};
    bool local = !cluster || !*cluster;
    hash_joined(parts, local ? 1 : 0, s->fingerprint);
}

/* Prometheus common/model labelSetToFingerprint: label names in byte order (the map is
 * sorted by strcmp, which compares as unsigned char like Go's string <), each name and
 * value followed by the 0xff separator. The empty set hashes to the FNV offset basis. */
void sig_am_fingerprint(const sig_map *labels, char out[17])
{
    uint64_t h = HASH_FNV64_OFFSET;
    for (size_t i = 0; labels && i < labels->n; i++) {
        const sig_kv *kv = &labels->items[i];
        h = hash_fnv64a_add(h, kv->key, strlen(kv->key));
        h = hash_fnv64a_byte(h, 0xff);
        h = hash_fnv64a_add(h, kv->value, strlen(kv->value));
        h = hash_fnv64a_byte(h, 0xff);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

const char *sig_resource_id(const sig_signal *s, arena *a)
{
    const char *ns = s->res_namespace ? s->res_namespace : s->namespace;
    const char *kind = s->kind ? s->kind : "";
    const char *name = s->res_name ? s->res_name : "";
    if (ns && *ns) return arena_cat(a, ns, ":", kind, ":", name, (char *)NULL);
    return arena_cat(a, kind, ":", name, (char *)NULL);
}

const char *sig_map_get(const sig_map *m, const char *key)
{
    if (!m || !key) return NULL;
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->items[mid].key, key);
        if (c == 0) return m->items[mid].value;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* Stable merge sort (qsort is not stable, and "last occurrence wins" needs the input order
 * of equal keys), then one pass keeping the last item of every run of equal keys. */
static void merge_sort(sig_kv *v, sig_kv *tmp, size_t n)
{
    if (n < 2) return;
    if (n <= 8) {                                   /* insertion sort: stable, cheap when small */
        for (size_t i = 1; i < n; i++) {
            sig_kv x = v[i];
            size_t j = i;
            while (j > 0 && strcmp(v[j - 1].key, x.key) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    merge_sort(v, tmp, h);
    merge_sort(v + h, tmp, n - h);
    if (strcmp(v[h - 1].key, v[h].key) <= 0) return;   /* already in order */
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = strcmp(v[j].key, v[i].key) < 0 ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

void sig_map_sort_dedup(sig_map *m)
{
    if (!m || m->n < 2) return;
    /* Alertmanager sends label sets sorted (Go encodes a map's keys in order): one pass
     * proves the usual input strictly increasing, so already sorted and free of repeats. */
    size_t k = 1;
    while (k < m->n && strcmp(m->items[k - 1].key, m->items[k].key) < 0) k++;
    if (k == m->n) return;
    sig_kv small[32];
    sig_kv *tmp = m->n <= 32 ? small : xmalloc(m->n * sizeof *tmp);
    merge_sort(m->items, tmp, m->n);
    if (tmp != small) free(tmp);
    size_t w = 0;
    for (size_t r = 0; r < m->n; r++) {
        if (r + 1 < m->n && strcmp(m->items[r].key, m->items[r + 1].key) == 0) continue;
        m->items[w++] = m->items[r];
    }
    m->n = w;
}

bool sig_namespace_valid(const char *ns)
{
    size_t n = ns ? strlen(ns) : 0;
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char c = ns[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && i > 0 && i < n - 1)) return false;
    }
    return true;
}

char *sig_payload_dup(const sig_signal *s, size_t max, size_t *len)
{
    *len = 0;
    if (s->payload) {
        if (s->payload_len > max) return NULL;
        *len = s->payload_len;
        return xstrndup(s->payload, s->payload_len);
    }
    if (!s->payload_json) return NULL;
    char *t = cJSON_PrintUnformatted(s->payload_json);   /* malloc (or the arena window's) */
    if (!t) return NULL;
    size_t n = strlen(t);
    char *out = n <= max ? xstrndup(t, n) : NULL;
    cJSON_free(t);
    if (out) *len = n;
    return out;
}
