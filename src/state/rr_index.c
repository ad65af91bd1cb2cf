/* rr_index.c: the process's view of kubernaut.ai RRs by fingerprint; see rr_index.h. */
#include "state/rr_index.h"
#include "util/strmap.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rr_rec {
    char    name[64];
    char    rv[32];
    int64_t seq;              /* -1: not ours or not known */
    bool    terminal;
    bool    manual_review;
    int64_t next_allowed_ms;  /* 0 = none */
    int64_t count;            /* 0 = no status.deduplication yet */
    int64_t first_ms;
    int64_t created_ms;
    unsigned gen;             /* relist generation that last saw it */
    bool    writing;          /* a worker of this process is writing its status */
    int64_t last_write_ms;    /* time_mono_ms of this process's last status write */
} rr_rec;

typedef struct fp_entry {
    int64_t max_seq;          /* highest sequence ever seen: kept after deletions, so a
                               * deleted newest RR's name is not taken again */
    int64_t claim_until;      /* a creation in progress in this process */
    rr_rec *recs;
    size_t  n, cap;
} fp_entry;

struct rr_index {
    pthread_mutex_t mu;
    strmap          by_fp;
    unsigned        gen;
    bool            relisting;
    long            size;
};

rr_index *rr_index_new(void)
{
    rr_index *x = xcalloc(1, sizeof *x);
    pthread_mutex_init(&x->mu, NULL);
    strmap_init(&x->by_fp);
    return x;
}

static void free_entry(void *v)
{
    fp_entry *e = v;
    free(e->recs);
    free(e);
}

void rr_index_free(rr_index *x)
{
    if (!x) return;
    strmap_free(&x->by_fp, free_entry);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

static bool is_fp(const char *s)
{
    if (!s || strlen(s) != 64) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

/* resourceVersions are opaque by the API conventions; etcd's are increasing integers, and
 * a watch can deliver an older one after our own write's answer: keep the newer */
static bool rv_older(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (!la || !lb || strspn(a, "0123456789") != la || strspn(b, "0123456789") != lb) return false;
    return la != lb ? la < lb : strcmp(a, b) < 0;
}

static const char *str_at(const cJSON *o, const char *const *path)
{
    for (; *path && o; path++) o = cJSON_GetObjectItemCaseSensitive(o, *path);
    return cJSON_IsString(o) ? o->valuestring : NULL;
}

static int64_t time_at(const cJSON *o, const char *const *path)
{
    const char *s = str_at(o, path);
    int64_t ms;
    if (!s || time_parse_rfc3339(s, strlen(s), &ms) != 0 || ms < 0) return 0;
    return ms;
}

static bool terminal_phase(const char *p)
{
    static const char *const t[] = {"Completed", "Failed", "TimedOut", "Skipped", "Cancelled"};
    for (size_t i = 0; p && i < sizeof t / sizeof t[0]; i++)
        if (strcmp(p, t[i]) == 0) return true;
    return false;
}

static fp_entry *entry_for(rr_index *x, const char *fp, bool create)
{
    fp_entry *e = strmap_get(&x->by_fp, fp);
    if (!e && create) {
        e = xcalloc(1, sizeof *e);
        strmap_put(&x->by_fp, fp, e);
    }
    return e;
}

static rr_rec *rec_for(rr_index *x, fp_entry *e, const char *name, bool create)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->recs[i].name, name) == 0) return &e->recs[i];
    if (!create) return NULL;
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 2;
        e->recs = xrealloc(e->recs, e->cap * sizeof *e->recs);
    }
    rr_rec *r = &e->recs[e->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->seq = -1;
    x->size++;
    return r;
}

void rr_index_put(rr_index *x, const cJSON *obj)
{
    static const char *const p_fp[] = {"spec", "signalFingerprint", NULL};
    static const char *const p_name[] = {"metadata", "name", NULL};
    static const char *const p_rv[] = {"metadata", "resourceVersion", NULL};
    static const char *const p_seq[] = {"metadata", "annotations", "signal-gateway.io/sequence", NULL};
    static const char *const p_created[] = {"metadata", "creationTimestamp", NULL};
    static const char *const p_phase[] = {"status", "overallPhase", NULL};
    static const char *const p_outcome[] = {"status", "completionStatus", "outcome", NULL};
    static const char *const p_next[] = {"status", "routingStatus", "nextAllowedExecution", NULL};
    static const char *const p_first[] = {"status", "deduplication", "firstSeenAt", NULL};
    const char *fp = str_at(obj, p_fp), *name = str_at(obj, p_name);
    if (!is_fp(fp) || !name || strlen(name) >= 64) return;
    const char *rv = str_at(obj, p_rv);
    const char *seq = str_at(obj, p_seq);
    const cJSON *dd = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "status"), "deduplication");
    const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(dd, "occurrenceCount");

    pthread_mutex_lock(&x->mu);
    fp_entry *e = entry_for(x, fp, true);
    rr_rec *r = rec_for(x, e, name, true);
    r->gen = x->gen;
    if (!(rv && r->rv[0] && rv_older(rv, r->rv))) {
        snprintf(r->rv, sizeof r->rv, "%s", rv ? rv : "");
        if (seq) {   /* anyone may edit it: out of range is unknown, and max_seq + 1 never overflows */
            char *end;
            errno = 0;
            long long v = strtoll(seq, &end, 10);
            r->seq = errno || end == seq || *end || v < 0 || v >= INT32_MAX ? -1 : v;
        }
        const char *phase = str_at(obj, p_phase), *outcome = str_at(obj, p_outcome);
        r->terminal = terminal_phase(phase);
        r->manual_review = outcome && strcmp(outcome, "ManualReviewRequired") == 0;
        r->next_allowed_ms = time_at(obj, p_next);
        r->count = cJSON_IsNumber(cnt) ? (int64_t)cnt->valuedouble : 0;
        r->first_ms = time_at(obj, p_first);
        r->created_ms = time_at(obj, p_created);
    }
    if (r->seq > e->max_seq) e->max_seq = r->seq;
    pthread_mutex_unlock(&x->mu);
}

static void drop_rec(rr_index *x, fp_entry *e, size_t i)
{
    e->recs[i] = e->recs[--e->n];
    x->size--;
}

void rr_index_del(rr_index *x, const char *fingerprint, const char *name)
{
    pthread_mutex_lock(&x->mu);
    fp_entry *e = entry_for(x, fingerprint, false);
    for (size_t i = 0; e && i < e->n; i++)
        if (strcmp(e->recs[i].name, name) == 0) {
            drop_rec(x, e, i);
            break;
        }
    pthread_mutex_unlock(&x->mu);
}

void rr_index_relist_begin(rr_index *x)
{
    pthread_mutex_lock(&x->mu);
    x->gen++;
    x->relisting = true;
    pthread_mutex_unlock(&x->mu);
}

typedef struct sweep_ctx {
    rr_index   *x;
    const char *list_rv;
} sweep_ctx;

/* An RR the list did not bring was deleted before the list's snapshot, unless we learnt of
 * it after that snapshot: a create of ours (a placeholder, no version yet) or a version
 * later than the list's. Those the watch, which starts from the list's version, confirms
 * or deletes; a placeholder of an RR that is gone meets a 404 at its first status write. */
static int sweep_unseen(const char *key, void *value, void *ctx)
{
    sweep_ctx *c = ctx;
    rr_index *x = c->x;
    fp_entry *e = value;
    for (size_t i = 0; i < e->n;) {
        const rr_rec *r = &e->recs[i];
        bool keep = r->gen == x->gen || !r->rv[0] || (*c->list_rv && rv_older(c->list_rv, r->rv));
        if (keep) i++;
        else drop_rec(x, e, i);
    }
    /* an entry with RRs seen stays: its max_seq outlives them; one only looked up (its
     * creation rejected or failed) goes, unless a creation holds it now */
    if (e->n == 0 && e->max_seq <= 0 && e->claim_until == 0) {
        free_entry(e);
        return 1;
    }
    return 0;
}

void rr_index_relist_end(rr_index *x, const char *list_rv)
{
    sweep_ctx c = {x, list_rv ? list_rv : ""};
    pthread_mutex_lock(&x->mu);
    strmap_sweep(&x->by_fp, sweep_unseen, &c);
    x->relisting = false;
    pthread_mutex_unlock(&x->mu);
}

void rr_index_note_exists(rr_index *x, const char *fingerprint, const char *name, int64_t seq)
{
    pthread_mutex_lock(&x->mu);
    fp_entry *e = entry_for(x, fingerprint, true);
    rr_rec *r = rec_for(x, e, name, true);
    if (!r->rv[0]) r->gen = x->gen;   /* a placeholder outlives relists: the watch or a read confirms it, a 404 drops it */
    if (seq > r->seq) r->seq = seq;
    if (r->seq > e->max_seq) e->max_seq = r->seq;
    pthread_mutex_unlock(&x->mu);
}

void rr_index_lookup(rr_index *x, const char *fingerprint, int64_t now_ms, int64_t claim_ms, rr_lookup *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&x->mu);
    fp_entry *e = entry_for(x, fingerprint, claim_ms > 0);
    const rr_rec *hit = NULL, *backoff = NULL;
    for (size_t i = 0; e && i < e->n && !hit; i++) {
        const rr_rec *r = &e->recs[i];
        if (!r->terminal || r->manual_review) hit = r;
        else if (r->next_allowed_ms > now_ms && (!backoff || r->next_allowed_ms > backoff->next_allowed_ms))
            backoff = r;
    }
    if (!hit) hit = backoff;
    if (hit) {
        out->active = true;
        snprintf(out->name, sizeof out->name, "%s", hit->name);
        snprintf(out->rv, sizeof out->rv, "%s", hit->rv);
        out->count = hit->count > 0 ? hit->count : 1;
        out->first_seen_ms = hit->first_ms ? hit->first_ms : hit->created_ms;
    } else if (claim_ms > 0 && e->claim_until > now_ms) {
        out->in_progress = true;
    } else {
        if (claim_ms > 0) e->claim_until = now_ms + claim_ms;
        out->next_seq = (e ? e->max_seq : 0) + 1;
    }
    pthread_mutex_unlock(&x->mu);
}

void rr_index_release(rr_index *x, const char *fingerprint)
{
    pthread_mutex_lock(&x->mu);
    fp_entry *e = entry_for(x, fingerprint, false);
    if (e) e->claim_until = 0;
    pthread_mutex_unlock(&x->mu);
}

bool rr_index_write_begin(rr_index *x, const char *fingerprint, const char *name, int64_t now_mono_ms,
                          int64_t interval_ms, int64_t *wait_ms)
{
    pthread_mutex_lock(&x->mu);
    fp_entry *e = entry_for(x, fingerprint, false);
    rr_rec *r = e ? rec_for(x, e, name, false) : NULL;
    bool ok = true;   /* gone from the index: the write finds out (404) */
    *wait_ms = 0;
    if (r && r->writing) {
        ok = false;
        *wait_ms = interval_ms > 10 ? interval_ms / 2 : 5;
    } else if (r && r->last_write_ms && now_mono_ms < r->last_write_ms + interval_ms) {
        ok = false;
        *wait_ms = r->last_write_ms + interval_ms - now_mono_ms;
    }
    if (r && ok) r->writing = true;
    pthread_mutex_unlock(&x->mu);
    return ok;
}

void rr_index_write_end(rr_index *x, const char *fingerprint, const char *name, int64_t now_mono_ms)
{
    pthread_mutex_lock(&x->mu);
    fp_entry *e = entry_for(x, fingerprint, false);
    rr_rec *r = e ? rec_for(x, e, name, false) : NULL;
    if (r) {
        r->writing = false;
        r->last_write_ms = now_mono_ms;
    }
    pthread_mutex_unlock(&x->mu);
}

long rr_index_size(rr_index *x)
{
    pthread_mutex_lock(&x->mu);
    long n = x->size;
    pthread_mutex_unlock(&x->mu);
    return n;
}
