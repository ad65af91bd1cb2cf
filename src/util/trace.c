/* trace.c: see trace.h. Ids come from a per-thread xoshiro256** generator seeded once from
 * getrandom(2): a trace id must be unpredictable enough not to collide, not secret, and one
 * system call per request for 24 random bytes would cost more than the rest of the parse. */
#include "util/trace.h"
#include "util/err.h"
#include "util/fmt.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static _Thread_local const trace_ctx *current;

void trace_set_current(const trace_ctx *t) { current = t; }

const trace_ctx *trace_current(void) { return current; }

const trace_ctx *trace_swap(const trace_ctx *t)
{
    const trace_ctx *outer = current;
    current = t;
    return outer;
}

/* ---- ids ------------------------------------------------------------------------------ */

static _Thread_local uint64_t rng[4];
static _Thread_local bool rng_seeded;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_next(void)
{
    if (!rng_seeded) {
        uint64_t seed[4] = {0};
        if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
            /* no entropy source: time and thread make ids unique enough for tracing */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)&rng;
            for (int i = 0; i < 4; i++) seed[i] = splitmix(&x);
        }
        memcpy(rng, seed, sizeof rng);
        if (!(rng[0] | rng[1] | rng[2] | rng[3])) rng[0] = 1;
        rng_seeded = true;
    }
    uint64_t r = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl(rng[3], 45);
    return r;
}

/* n 64-bit words of random hex, never all zero */
static void random_hex(char *out, int words)
{
    uint64_t v[2];
    do {
        for (int i = 0; i < words; i++) v[i] = rng_next();
    } while (words == 1 ? !v[0] : !(v[0] | v[1]));
    for (int i = 0; i < words; i++) fmt_hex(out + 16 * i, v[i], 16);
    out[16 * words] = '\0';
}

/* ---- the header ------------------------------------------------------------------------- */

static bool lower_hex(const char *s, size_t n, bool *all_zero)
{
    bool zero = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        if (c != '0') zero = false;
    }
    if (all_zero) *all_zero = zero;
    return true;
}

static int hexval(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

int trace_parse(const char *h, trace_ctx *t)
{
    if (!h) return SGW_E_INVALID;
    while (*h == ' ' || *h == '\t') h++;
    size_t n = strlen(h);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t')) n--;
    if (n < TRACE_HEADER_LEN) return SGW_E_INVALID;
    bool zero;
    if (!lower_hex(h, 2, NULL) || (h[0] == 'f' && h[1] == 'f')) return SGW_E_INVALID;
    bool v00 = h[0] == '0' && h[1] == '0';
    if (v00 ? n != TRACE_HEADER_LEN : n > TRACE_HEADER_LEN && h[TRACE_HEADER_LEN] != '-') return SGW_E_INVALID;
    if (h[2] != '-' || h[35] != '-' || h[52] != '-') return SGW_E_INVALID;
    if (!lower_hex(h + 3, 32, &zero) || zero) return SGW_E_INVALID;
    if (!lower_hex(h + 36, 16, &zero) || zero) return SGW_E_INVALID;
    if (!lower_hex(h + 53, 2, NULL)) return SGW_E_INVALID;
    memcpy(t->trace_id, h + 3, 32);
    t->trace_id[32] = '\0';
    memcpy(t->parent_id, h + 36, 16);
    t->parent_id[16] = '\0';
    t->span_id[0] = '\0';
    t->flags = (uint8_t)(hexval(h[53]) << 4 | hexval(h[54]));
    return 0;
}

void trace_begin(const char *header, trace_ctx *t)
{
    if (!header || trace_parse(header, t) < 0) {
        random_hex(t->trace_id, 2);
        t->parent_id[0] = '\0';
        t->flags = 0;
    }
    random_hex(t->span_id, 1);
}

void trace_format(const trace_ctx *t, char out[TRACE_HEADER_LEN + 1])
{
    /* we speak version 00: of a later version's flags only the ones 00 defines (sampled) */
    memcpy(out, "00-", 3);
    memcpy(out + 3, t->trace_id, 32);
    out[35] = '-';
    memcpy(out + 36, t->span_id, 16);
    out[52] = '-';
    fmt_hex(out + 53, t->flags & 0x01, 2);
    out[55] = '\0';
}
