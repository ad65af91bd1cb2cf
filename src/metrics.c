/* metrics.c: see metrics.h. Families are a fixed table (name, type, help, buckets), so the
 * exposition always carries HELP and TYPE and never a typo'd family. */
#include "metrics.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BUCKETS 16

typedef struct family {
    const char  *name;
    metric_type  type;
    const char  *help;
    const double *buckets;
    size_t       nbuckets;
} family;

static const double dur_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const double batch_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define NB(a) (sizeof(a) / sizeof((a)[0]))

static const family families[] = {
    {"gateway_build_info", M_GAUGE, "Build information (always 1).", NULL, 0},
    {"gateway_http_requests_total", M_COUNTER, "HTTP requests answered, by endpoint (route pattern), method and status code.", NULL, 0},
    {"gateway_http_request_duration_seconds", M_HISTOGRAM, "HTTP request duration from first byte to response, by endpoint, method and status.", dur_buckets, NB(dur_buckets)},
    {"gateway_http_requests_in_flight", M_GAUGE, "Requests being processed now.", NULL, 0},
    {"gateway_signals_in_flight", M_GAUGE, "Signals (alerts, events) of the requests being processed now.", NULL, 0},
    {"gateway_http_connections", M_GAUGE, "Open HTTP connections.", NULL, 0},
    {"gateway_signals_received_total", M_COUNTER, "Signals (alerts, events) received, by source type and severity.", NULL, 0},
    {"gateway_signals_total", M_COUNTER, "Signals by source and outcome (created, duplicate, aggregated, ignored, resolved, stale, rejected, suppressed, failed).", NULL, 0},
    {"gateway_requests_rejected_total", M_COUNTER, "Requests rejected before processing, by reason.", NULL, 0},
    {"gateway_grafana_truncated_alerts_total", M_COUNTER, "Alerts Grafana left out of its webhooks (truncatedAlerts: the contact point's maxAlerts).", NULL, 0},
    {"gateway_signals_rejected_total", M_COUNTER, "kubernaut.ai: signals rejected, by reason (unmanaged_resource, target_not_found).", NULL, 0},
    {"gateway_storms_detected_total", M_COUNTER, "Storm windows opened, by storm type.", NULL, 0},
    {"gateway_status_writes_total", M_COUNTER, "state kubernetes: status.deduplication writes, by result (ok, redecide, failed).", NULL, 0},
    {"gateway_status_conflicts_total", M_COUNTER, "state kubernetes: status writes answered 409 and re-read.", NULL, 0},
    {"gateway_rr_cache_objects", M_GAUGE, "state kubernetes: RemediationRequests in the process's list+watch cache.", NULL, 0},
    {"gateway_crds_created_total", M_COUNTER, "RemediationRequests created, by source type, status, environment and priority.", NULL, 0},
    {"gateway_crd_creation_errors_total", M_COUNTER, "RemediationRequest creations that failed, by error type.", NULL, 0},
    {"gateway_storm_updates_total", M_COUNTER, "Storm RemediationRequest updates, by result.", NULL, 0},
    {"gateway_store_duration_seconds", M_HISTOGRAM, "State store call duration, by operation.", dur_buckets, NB(dur_buckets)},
    {"gateway_store_errors_total", M_COUNTER, "State store errors, by operation.", NULL, 0},
    {"gateway_sink_duration_seconds", M_HISTOGRAM, "Sink (RemediationRequest write) duration, by operation.", dur_buckets, NB(dur_buckets)},
    {"gateway_kubernetes_requests_total", M_COUNTER, "Kubernetes API calls (after retries), by verb and status code (0 = no answer).", NULL, 0},
    {"gateway_kubernetes_request_duration_seconds", M_HISTOGRAM, "Kubernetes API call duration including retries, by verb.", dur_buckets, NB(dur_buckets)},
    {"gateway_kubernetes_retries_total", M_COUNTER, "Kubernetes API call attempts retried, by verb.", NULL, 0},
    {"gateway_redis_decide_batch_requests", M_HISTOGRAM, "Decide calls (requests or retry rounds) sent together in one EVALSHA.", batch_buckets, NB(batch_buckets)},
    {"gateway_redis_disconnects_total", M_COUNTER, "Redis connections lost (per worker connection).", NULL, 0},
    {"gateway_auth_total", M_COUNTER, "Authentication decisions, by result.", NULL, 0},
    {"gateway_auth_cache_hits_total", M_COUNTER, "Authentication decisions served from the cache.", NULL, 0},
    {"gateway_config_reloads_total", M_COUNTER, "Configuration reloads (SIGHUP), by result.", NULL, 0},
    {"gateway_suppressed_signals_total", M_COUNTER, "Signals suppressed by a suppress: rule (maintenance window, silence), by rule.", NULL, 0},
    {"gateway_tls_reloads_total", M_COUNTER, "TLS certificate and key reloads (a rotation of the files, or SIGHUP), by result (ok, error: the previous pair is kept).", NULL, 0},
    {"gateway_tls_handshake_errors_total", M_COUNTER, "TLS handshakes refused or failed, by reason.", NULL, 0},
    {"gateway_tls_certificate_expiry_timestamp_seconds", M_GAUGE, "notAfter of the certificate served to new TLS connections, in seconds since the epoch.", NULL, 0},
    {"gateway_audit_lines_total", M_COUNTER, "Audit lines written (audit.file).", NULL, 0},
    {"gateway_audit_write_failures_total", M_COUNTER, "Audit lines lost, by reason (write: the write failed; queue_full: the writer fell behind).", NULL, 0},
    {"gateway_cloudevents_ignored_total", M_COUNTER, "CloudEvents answered without a signal, by reason (unknown_type, invalid_event).", NULL, 0},
    {"gateway_cloudevents_extensions_dropped_total", M_COUNTER, "CloudEvents extension attributes not kept as labels (over the count, name or size limit).", NULL, 0},
};
#define NFAM NB(families)

typedef struct series {
    const family *fam;
    double        value;          /* counter/gauge; histogram: sum */
    unsigned long long count;     /* histogram */
    unsigned long long bucket[MAX_BUCKETS];
} series;

/* Counters and histograms live in one shard per thread: an update takes the thread's own
 * mutex, which only a scrape ever contends for (one global mutex taken ~7 times per request
 * by every worker was a point of contention with many workers). Gauges are set, not added,
 * so they live in one shared shard. A scrape sums each series over the shards. */
typedef struct shard {
    pthread_mutex_t mu;
    strmap          table;         /* "name{labels}" -> series */
    struct shard   *next;
} shard;

/* every series key ever created, in creation order (a stable exposition) */
typedef struct okey {
    const family *fam;
    char         *labels;
    char         *key;
} okey;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;   /* shards, order, known, gen */
static shard *shards;
static shard gauges = {.mu = PTHREAD_MUTEX_INITIALIZER};
static bool inited;
static strmap known;
static okey *order;
static size_t norder;
static unsigned gen = 1;             /* bumped by metrics_free: thread shards are re-made */
static __thread shard *tls;
static __thread unsigned tls_gen;

static void init_locked(void)
{
    if (inited) return;
    strmap_init(&known);
    strmap_init(&gauges.table);
    inited = true;
}

void metrics_init(void)
{
    pthread_mutex_lock(&reg_mu);
    init_locked();
    pthread_mutex_unlock(&reg_mu);
}

static void series_free(void *p) { free(p); }

void metrics_free(void)
{
    pthread_mutex_lock(&reg_mu);
    if (inited) {
        for (shard *sh = shards, *next; sh; sh = next) {
            next = sh->next;
            strmap_free(&sh->table, series_free);
            pthread_mutex_destroy(&sh->mu);
            free(sh);
        }
        shards = NULL;
        strmap_free(&gauges.table, series_free);
        strmap_free(&known, NULL);
        for (size_t i = 0; i < norder; i++) {
            free(order[i].labels);
            free(order[i].key);
        }
        free(order);
        order = NULL;
        norder = 0;
        inited = false;
        __atomic_add_fetch(&gen, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&reg_mu);
}

/* This thread's shard (made and registered on its first update). */
static shard *my_shard(void)
{
    pthread_mutex_lock(&reg_mu);   /* only when the thread has none yet: see the callers */
    init_locked();
    shard *sh = xcalloc(1, sizeof *sh);
    pthread_mutex_init(&sh->mu, NULL);
    strmap_init(&sh->table);
    sh->next = shards;
    shards = sh;
    tls = sh;
    tls_gen = gen;
    pthread_mutex_unlock(&reg_mu);
    return sh;
}

static shard *thread_shard(void)
{
    if (tls && tls_gen == __atomic_load_n(&gen, __ATOMIC_ACQUIRE)) return tls;
    return my_shard();
}

static const family *find_family(const char *name)
{
    for (size_t i = 0; i < NFAM; i++)
        if (strcmp(families[i].name, name) == 0) return &families[i];
    return NULL;
}

/* The series `name{labels}` of shard sh (whose mutex the caller holds), made on first use. */
static series *get_series(shard *sh, const char *name, const char *labels)
{
    char key[512];   /* "name{labels}", cut to fit as snprintf would (not on the hot path's cost) */
    size_t nl = strlen(name), ll = strlen(labels);
    if (nl + ll + 3 <= sizeof key) {
        memcpy(key, name, nl);
        key[nl] = '{';
        memcpy(key + nl + 1, labels, ll);
        key[nl + 1 + ll] = '}';
        key[nl + 2 + ll] = '\0';
    } else {
        snprintf(key, sizeof key, "%s{%s}", name, labels);
    }
    series *s = strmap_get(&sh->table, key);
    if (s) return s;
    const family *f = find_family(name);
    if (!f) abort();   /* a programming error: every family is in the table */
    s = xcalloc(1, sizeof *s);
    s->fam = f;
    strmap_put(&sh->table, key, s);
    pthread_mutex_lock(&reg_mu);   /* shard mutex, then reg_mu: the scrape never nests them */
    init_locked();
    if (!strmap_get(&known, key)) {
        strmap_put(&known, key, (void *)f);
        order = xrealloc(order, (norder + 1) * sizeof *order);
        order[norder++] = (okey){f, xstrdup(labels), xstrdup(key)};
    }
    pthread_mutex_unlock(&reg_mu);
    return s;
}

/* A thread's recently used series: a request updates ~7 series, and a hit costs two short
 * strcmps instead of building "name{labels}", hashing it and comparing it in the shard's map.
 * Two-way set associative, the set chosen by the name's address and the labels' length,
 * middle and last byte: a direct-mapped cache made the hit rate depend on where the linker
 * put the name literals (two hot series in one slot evict each other on every request).
 * Valid while the shard is (same generation); the series never move or go while it lives. */
#define MCACHE 32                /* slots: MCACHE / 2 sets of two */
#define MCACHE_LABELS 120
static __thread struct mcache {
    const shard *sh;
    unsigned     gen;
    series      *s;
    const char  *name;            /* as passed (literals); compared by content as well */
    char         labels[MCACHE_LABELS];
} mcache[MCACHE];
static __thread unsigned char mcache_recent[MCACHE / 2];   /* per set: the way hit or filled last */

static inline bool mcache_hit(const struct mcache *m, const shard *sh, const char *name, const char *labels)
{
    return m->s && m->sh == sh && m->gen == tls_gen && strcmp(m->labels, labels) == 0 &&
           (m->name == name || strcmp(m->name, name) == 0);
}

static series *thread_series(shard *sh, const char *name, const char *labels)
{
    size_t ll = strlen(labels);
    uintptr_t h = ((uintptr_t)name >> 3) ^ ll;
    if (ll) h ^= (uintptr_t)(unsigned char)labels[ll - 1] << 2 ^ (uintptr_t)(unsigned char)labels[ll / 2] << 1;
    unsigned set = (unsigned)(h % (MCACHE / 2));
    struct mcache *ways = &mcache[set * 2];
    for (unsigned w = 0; w < 2; w++) {
        if (mcache_hit(&ways[w], sh, name, labels)) {
            mcache_recent[set] = (unsigned char)w;
            return ways[w].s;
        }
    }
    series *s = get_series(sh, name, labels);
    if (ll < MCACHE_LABELS) {
        unsigned w = mcache_recent[set] ^ 1u;   /* replace the way not used last */
        struct mcache *m = &ways[w];
        m->sh = sh;
        m->gen = tls_gen;
        m->s = s;
        m->name = s->fam->name;   /* the family table's own copy: never a caller's buffer */
        memcpy(m->labels, labels, ll + 1);
        mcache_recent[set] = (unsigned char)w;
    }
    return s;
}

void metrics_add(const char *name, const char *labels, double v)
{
    shard *sh = thread_shard();
    pthread_mutex_lock(&sh->mu);
    thread_series(sh, name, labels)->value += v;
    pthread_mutex_unlock(&sh->mu);
}

void metrics_set(const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&reg_mu);
    init_locked();
    pthread_mutex_unlock(&reg_mu);
    pthread_mutex_lock(&gauges.mu);
    get_series(&gauges, name, labels)->value = v;
    pthread_mutex_unlock(&gauges.mu);
}

void metrics_observe(const char *name, const char *labels, double v)
{
    shard *sh = thread_shard();
    pthread_mutex_lock(&sh->mu);
    series *s = thread_series(sh, name, labels);
    s->value += v;
    s->count++;
    for (size_t i = 0; i < s->fam->nbuckets; i++)
        if (v <= s->fam->buckets[i]) s->bucket[i]++;
    pthread_mutex_unlock(&sh->mu);
}

void metrics_label_escape(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 3 < cap; in++) {
        if (*in == '\\' || *in == '"') {
            out[n++] = '\\';
            out[n++] = *in;
        } else if (*in == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *in;
        }
    }
    out[n] = '\0';
}

typedef struct outbuf {
    char  *p;
    size_t n, cap;
} outbuf;

static void outf(outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(outbuf *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
        va_end(ap);
        if (w >= 0 && (size_t)w < o->cap - o->n) {
            o->n += (size_t)w;
            return;
        }
        o->cap = o->cap * 2 + (size_t)(w > 0 ? w : 0);
        o->p = xrealloc(o->p, o->cap);
    }
}

static void fmt_value(char *buf, size_t cap, double v)
{
    if (v == (double)(long long)v && v < 9e15 && v > -9e15) snprintf(buf, cap, "%lld", (long long)v);
    else snprintf(buf, cap, "%.9g", v);
}

/* The sum of series `key` over the gauge shard and every thread shard. */
static void sum_series(shard *const *sh, size_t nsh, const char *key, series *out)
{
    for (size_t i = 0; i < nsh; i++) {
        pthread_mutex_lock(&sh[i]->mu);
        const series *s = strmap_get(&sh[i]->table, key);
        if (s) {
            out->value += s->value;
            out->count += s->count;
            for (size_t b = 0; b < MAX_BUCKETS; b++) out->bucket[b] += s->bucket[b];
        }
        pthread_mutex_unlock(&sh[i]->mu);
    }
}

char *metrics_render(size_t *len)
{
    outbuf o = {xmalloc(8192), 0, 8192};
    /* a snapshot of the keys and shards (reg_mu is never held while a shard is locked) */
    pthread_mutex_lock(&reg_mu);
    size_t nk = norder, nsh = 1;
    okey *keys = xmalloc((nk ? nk : 1) * sizeof *keys);
    for (size_t i = 0; i < nk; i++)
        keys[i] = (okey){order[i].fam, xstrdup(order[i].labels), xstrdup(order[i].key)};
    for (shard *sh = shards; sh; sh = sh->next) nsh++;
    shard **shs = xmalloc(nsh * sizeof *shs);
    shs[0] = &gauges;
    nsh = 1;
    for (shard *sh = shards; sh; sh = sh->next) shs[nsh++] = sh;
    pthread_mutex_unlock(&reg_mu);
    for (size_t fi = 0; fi < NFAM; fi++) {
        const family *f = &families[fi];
        bool any = false;
        for (size_t i = 0; i < nk; i++) {
            if (keys[i].fam != f) continue;
            series sum = {.fam = f};
            sum_series(shs, nsh, keys[i].key, &sum);
            const series *s = &sum;
            const char *labels = keys[i].labels;
            if (!any) {
                static const char *tn[] = {"counter", "gauge", "histogram"};
                outf(&o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, tn[f->type]);
                any = true;
            }
            char v[64];
            const char *sep = *labels ? "," : "";
            if (f->type != M_HISTOGRAM) {
                fmt_value(v, sizeof v, s->value);
                if (*labels) outf(&o, "%s{%s} %s\n", f->name, labels, v);
                else outf(&o, "%s %s\n", f->name, v);
                continue;
            }
            for (size_t b = 0; b < f->nbuckets; b++) {
                char le[32];
                fmt_value(le, sizeof le, f->buckets[b]);
                if (strchr(le, '.') == NULL && strchr(le, 'e') == NULL) strcat(le, ".0");
                outf(&o, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, labels, sep, le, s->bucket[b]);
            }
            outf(&o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, labels, sep, s->count);
            fmt_value(v, sizeof v, s->value);
            if (*labels) {
                outf(&o, "%s_sum{%s} %s\n", f->name, labels, v);
                outf(&o, "%s_count{%s} %llu\n", f->name, labels, s->count);
            } else {
                outf(&o, "%s_sum %s\n%s_count %llu\n", f->name, v, f->name, s->count);
            }
        }
    }
    for (size_t i = 0; i < nk; i++) {
        free(keys[i].labels);
        free(keys[i].key);
    }
    free(keys);
    free(shs);
    *len = o.n;
    return o.p;
}
