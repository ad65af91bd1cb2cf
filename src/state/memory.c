/* memory.c: the embedded state store: the contract of store.h in one process.
 * All workers share one table behind one mutex; a decide() holds it for the whole batch,
 * which is what makes a batch atomic (the Redis store gets the same from one script).
 * Expired records are dropped when touched and by a sweep every few seconds, so memory
 * follows the number of live fingerprints. The answer is known at once; the callback is
 * deferred to the loop's check phase (util/defer.h), as store.h requires. */
#include "state/memory.h"
#include "state/storm_id.h"
#include "util/defer.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { REC_PENDING, REC_CREATED, REC_RESOLVED } rec_state;

typedef struct dedup_rec {
    rec_state state;
    char     *ref;
    int64_t   count, first_seen, last_seen;
    int64_t   expires;
    uint64_t  lease;
    int64_t   lease_expires;
    int64_t   resolved_firing;   /* REC_RESOLVED: startsAt of the resolved occurrence */
} dedup_rec;

typedef struct storm_window {
    bool      open;
    rec_state state;             /* PENDING until the aggregated RR exists */
    char      hash[65];
    int64_t   start;
    char     *ref;
    uint64_t  lease;
    int64_t   lease_expires;
    int64_t   count;
    int64_t   last_seen;
    char    **resources;
    size_t    n_resources;
    const char *type;
    bool      dirty;
    int64_t   last_flush;
    uint64_t  flush_lease;
    int64_t   flush_lease_expires;
    int64_t   flushing_count;
} storm_window;

typedef struct storm_state {
    char        *name, *namespace;
    int64_t     *rate;           /* ring of the last rate_threshold+1 arrival times */
    size_t       rate_cap, rate_n, rate_head;
    struct { char *id; int64_t ts; } *pat;   /* most recent distinct resources */
    size_t       pat_cap, pat_n;
    int64_t      flag_until;
    const char  *flag_type;
    storm_window w;
} storm_state;

struct store_memory_shared {
    pthread_mutex_t mu;
    strmap          dedup;
    strmap          storms;
    uint64_t        next_lease;
    int64_t         last_gc;
};

typedef struct mem_store {
    store                 base;
    store_memory_shared  *sh;
    defer_queue          *dq;     /* the worker loop's: runs the callbacks */
} mem_store;

/* ---- records ------------------------------------------------------------------------ */

static void rec_free(void *p)
{
    dedup_rec *r = p;
    if (!r) return;
    free(r->ref);
    free(r);
}

static void window_clear(storm_window *w)
{
    free(w->ref);
    for (size_t i = 0; i < w->n_resources; i++) free(w->resources[i]);
    free(w->resources);
    memset(w, 0, sizeof *w);
}

static void storm_free(void *p)
{
    storm_state *s = p;
    if (!s) return;
    window_clear(&s->w);
    for (size_t i = 0; i < s->pat_n; i++) free(s->pat[i].id);
    free(s->pat);
    free(s->rate);
    free(s->name);
    free(s->namespace);
    free(s);
}

static bool rec_expired(const dedup_rec *r, int64_t now)
{
    if (r->state == REC_PENDING) return r->lease_expires + 1 <= now && r->expires <= now;
    return r->expires <= now;
}

static void set_ref(char **slot, const char *ref)
{
    free(*slot);
    *slot = ref ? xstrdup(ref) : NULL;
}

static char *storm_key(const char *name, const char *ns, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s\x1f%s", name, ns);
    return buf;
}

static storm_state *storm_get(store_memory_shared *sh, const char *name, const char *ns, bool create)
{
    char key[1024];
    storm_key(name, ns, key, sizeof key);
    storm_state *s = strmap_get(&sh->storms, key);
    if (!s && create) {
        s = xcalloc(1, sizeof *s);
        s->name = xstrdup(name);
        s->namespace = xstrdup(ns);
        strmap_put(&sh->storms, key, s);
    }
    return s;
}

/* Sliding rate window: a ring of the last threshold+1 arrival times. More than threshold
 * arrivals within the window ⇔ the ring is full and its oldest entry is inside it. */
static void rate_add(storm_state *s, const store_params *p, int64_t now)
{
    size_t cap = (size_t)p->rate_threshold + 1;
    if (s->rate_cap != cap) {
        free(s->rate);
        s->rate = xcalloc(cap, sizeof *s->rate);
        s->rate_cap = cap;
        s->rate_n = s->rate_head = 0;
    }
    s->rate[s->rate_head] = now;
    s->rate_head = (s->rate_head + 1) % cap;
    if (s->rate_n < cap) s->rate_n++;
}

static bool rate_exceeded(const storm_state *s, const store_params *p, int64_t now)
{
    if (s->rate_n < s->rate_cap || s->rate_cap == 0) return false;
    int64_t oldest = s->rate[s->rate_head];   /* head = next slot to overwrite = oldest */
    return oldest > now - p->rate_window_ms;
}

/* Pattern window: the threshold+1 most recently seen distinct resources. */
static void pattern_add(storm_state *s, const store_params *p, const char *res, int64_t now)
{
    size_t cap = (size_t)p->pattern_threshold + 1;
    for (size_t i = 0; i < s->pat_n; i++)
        if (strcmp(s->pat[i].id, res) == 0) {
            s->pat[i].ts = now;
            return;
        }
    if (s->pat_cap < cap) {
        s->pat = xrealloc(s->pat, cap * sizeof *s->pat);
        s->pat_cap = cap;
    }
    if (s->pat_n < cap) {
        s->pat[s->pat_n].id = xstrdup(res);
        s->pat[s->pat_n].ts = now;
        s->pat_n++;
        return;
    }
    size_t oldest = 0;   /* replace the least recently seen */
    for (size_t i = 1; i < s->pat_n; i++)
        if (s->pat[i].ts < s->pat[oldest].ts) oldest = i;
    free(s->pat[oldest].id);
    s->pat[oldest].id = xstrdup(res);
    s->pat[oldest].ts = now;
}

static size_t pattern_count(const storm_state *s, const store_params *p, int64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < s->pat_n; i++)
        if (s->pat[i].ts > now - p->pattern_window_ms) n++;
    return n;
}

static void window_add_resource(storm_window *w, const store_params *p, const char *res)
{
    for (size_t i = 0; i < w->n_resources; i++)
        if (strcmp(w->resources[i], res) == 0) return;
    if (w->n_resources >= (size_t)p->storm_max_resources) return;
    w->resources = xrealloc(w->resources, (w->n_resources + 1) * sizeof *w->resources);
    w->resources[w->n_resources++] = xstrdup(res);
}

static void copy_resources(const storm_window *w, arena *a, const char ***out, size_t *n)
{
    *out = arena_alloc(a, (w->n_resources ? w->n_resources : 1) * sizeof **out);
    for (size_t i = 0; i < w->n_resources; i++) (*out)[i] = arena_strdup(a, w->resources[i]);
    *n = w->n_resources;
}

/* ---- garbage collection ------------------------------------------------------------- */

static int gc_dedup(const char *key, void *v, void *ctx)
{
    int64_t now = *(int64_t *)ctx;
    if (rec_expired(v, now)) {
        rec_free(v);
        return 1;
    }
    return 0;
}

static int gc_storm(const char *key, void *v, void *ctx)
{
    int64_t now = *(int64_t *)ctx;
    storm_state *s = v;
    /* a window still being created by a live request stays; anything else idle for 15
     * minutes (longer than any window, flag or dedup TTL) is dead, including a pending
     * window whose creator died and a dirty one whose RR writes keep failing */
    if (s->w.open && s->w.state == REC_PENDING && s->w.lease_expires > now) return 0;
    int64_t newest = s->w.open ? (s->w.last_seen > s->w.start ? s->w.last_seen : s->w.start) : 0;
    for (size_t i = 0; i < s->rate_n; i++)
        if (s->rate[i] > newest) newest = s->rate[i];
    for (size_t i = 0; i < s->pat_n; i++)
        if (s->pat[i].ts > newest) newest = s->pat[i].ts;
    if (s->flag_until <= now && newest + 15 * 60000 <= now) {
        storm_free(s);
        return 1;
    }
    return 0;
}

static void maybe_gc(store_memory_shared *sh, int64_t now)
{
    if (now - sh->last_gc < 5000) return;
    sh->last_gc = now;
    strmap_sweep(&sh->dedup, gc_dedup, &now);
    strmap_sweep(&sh->storms, gc_storm, &now);
}

/* ---- decide ------------------------------------------------------------------------- */

static void new_lease_pending(store_memory_shared *sh, const store_params *p, store_item *it,
                              dedup_rec *r, uint64_t lease, int64_t now)
{
    r->state = REC_PENDING;
    r->lease = lease;
    r->lease_expires = now + p->lease_ms;
    r->expires = now + p->lease_ms + p->dedup_ttl_ms;
    r->count = 1;
    r->first_seen = r->last_seen = now;
    set_ref(&r->ref, it->ref);
    it->lease = lease;
    it->count = 1;
    it->first_seen_ms = it->last_seen_ms = now;
}

/* An earlier item of this batch is new and will be created (pass 2): what comes later waits
 * (IN_PROGRESS), as it would behind that item's pending record had it come on its own. */
static bool fresh_before(const store_item *items, const bool *fresh, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (fresh[j] && strcmp(items[j].fingerprint, items[i].fingerprint) == 0) return true;
    return false;
}

/* Pass 1 for item i: what its fingerprint's own record decides. True when the alert is new
 * (absent, or a pending creation whose lease ran out: its creator died) and no earlier item of
 * the batch is creating it: pass 2 creates it or folds it into a storm. */
static bool decide_by_record(store_memory_shared *sh, const store_params *p, store_item *items, const bool *fresh,
                             size_t i, int64_t now, arena *a)
{
    store_item *it = &items[i];
    dedup_rec *r = strmap_get(&sh->dedup, it->fingerprint);
    if (r && rec_expired(r, now)) {
        rec_free(strmap_del(&sh->dedup, it->fingerprint));
        r = NULL;
    }
    if (it->resolved) {
        /* a creation in progress: another request's, or an earlier item's of this batch */
        if ((r && r->state == REC_PENDING && r->lease_expires > now) || fresh_before(items, fresh, i)) {
            it->verdict = STORE_IN_PROGRESS;
            return false;
        }
        if (!r) {
            r = xcalloc(1, sizeof *r);
            strmap_put(&sh->dedup, it->fingerprint, r);
        }
        it->verdict = STORE_RESOLVED;
        it->ref = r->ref ? arena_strdup(a, r->ref) : NULL;
        it->count = r->count;
        it->first_seen_ms = r->first_seen;
        it->last_seen_ms = r->last_seen;
        r->state = REC_RESOLVED;
        if (it->firing_ms > r->resolved_firing) r->resolved_firing = it->firing_ms;
        r->expires = now + p->dedup_ttl_ms;
        return false;
    }
    if (r && r->state == REC_RESOLVED) {
        if (it->firing_ms == 0 || it->firing_ms <= r->resolved_firing) {
            it->verdict = STORE_STALE;
            it->ref = r->ref ? arena_strdup(a, r->ref) : NULL;
            return false;
        }
        rec_free(strmap_del(&sh->dedup, it->fingerprint));   /* a new occurrence */
        r = NULL;
    }
    if (r && r->state == REC_CREATED) {
        r->count++;
        r->last_seen = now;
        r->expires = now + p->dedup_ttl_ms;
        it->verdict = STORE_DUPLICATE;
        it->ref = arena_strdup(a, r->ref);
        it->count = r->count;
        it->first_seen_ms = r->first_seen;
        it->last_seen_ms = r->last_seen;
        return false;
    }
    if (r && r->state == REC_PENDING && r->lease_expires > now) {
        it->verdict = STORE_IN_PROGRESS;
        return false;
    }
    /* absent, or a pending creation whose lease ran out (creator died): take over */
    if (fresh_before(items, fresh, i)) {   /* same alert twice in one webhook: wait for the first */
        it->verdict = STORE_IN_PROGRESS;
        return false;
    }
    return true;
}

/* The storm key of item j is lead's (the same signal name and namespace). */
static bool same_storm_key(const store_item *it, const store_item *lead)
{
    return strcmp(it->name, lead->name) == 0 && strcmp(it->namespace, lead->namespace) == 0;
}

/* Feeds the new alerts of lead's group (items[i..n) with lead's storm key) to the rate and
 * pattern detectors, and raises the storm flag when either trips. */
static void storm_detect(storm_state *st, const store_params *p, const store_item *items, size_t n, const bool *fresh,
                         size_t i, int64_t now)
{
    const store_item *lead = &items[i];
    for (size_t j = i; j < n; j++) {
        if (!fresh[j] || !same_storm_key(&items[j], lead)) continue;
        rate_add(st, p, now);
        pattern_add(st, p, items[j].resource_id, now);
    }
    const char *type = NULL;
    if (rate_exceeded(st, p, now)) type = "rate";
    else if (pattern_count(st, p, now) > (size_t)p->pattern_threshold) type = "pattern";
    if (type && st->flag_until <= now) {
        st->flag_until = now + p->storm_flag_ttl_ms;
        st->flag_type = type;
    }
}

/* Pass 2 for the group of new alerts with items[i]'s storm key, in batch order: each is
 * created on its own, or, while the key's storm flag is up, opens the storm window
 * (STORM_CREATE), joins the window this batch opens (MEMBER) or folds into the open one
 * (AGGREGATED), or waits for another request's window (IN_PROGRESS). */
static void decide_group(store_memory_shared *sh, const store_params *p, store_item *items, size_t n,
                         const bool *fresh, bool *done, size_t i, uint64_t batch_lease, int64_t now, arena *a)
{
    store_item *lead = &items[i];
    storm_state *st = p->storm_enabled ? storm_get(sh, lead->name, lead->namespace, true) : NULL;
    storm_window *w = st ? &st->w : NULL;
    if (w && w->open && (w->start + p->storm_window_ms <= now || st->flag_until <= now) && w->state == REC_CREATED &&
        !w->dirty)
        window_clear(w);   /* window over: the next storm alert opens a new one */
    bool pending_other = w && w->open && w->state == REC_PENDING && w->lease_expires > now;

    /* count this group's arrivals and evaluate the detectors */
    if (st && !pending_other) storm_detect(st, p, items, n, fresh, i, now);
    bool storm_on = st && st->flag_until > now;

    for (size_t j = i; j < n; j++) {
        store_item *it = &items[j];
        if (!fresh[j] || done[j] || !same_storm_key(it, lead)) continue;
        done[j] = true;
        if (!storm_on) {
            dedup_rec *r = strmap_get(&sh->dedup, it->fingerprint);
            if (!r) {
                r = xcalloc(1, sizeof *r);
                strmap_put(&sh->dedup, it->fingerprint, r);
            }
            new_lease_pending(sh, p, it, r, batch_lease, now);
            it->verdict = STORE_CREATE;
            continue;
        }
        if (pending_other) {   /* another request is creating this window's RR */
            it->verdict = STORE_IN_PROGRESS;
            continue;
        }
        if (w->open && w->state == REC_PENDING && w->lease_expires <= now) {
            /* its creator died: take the window over */
            w->lease = batch_lease;
            w->lease_expires = now + p->lease_ms;
            it->verdict = STORE_STORM_CREATE;
        } else if (!w->open) {
            window_clear(w);
            w->open = true;
            w->state = REC_PENDING;
            w->start = now;
            w->type = st->flag_type;
            store_storm_id(st->name, st->namespace, now, w->hash);
            w->lease = batch_lease;
            w->lease_expires = now + p->lease_ms;
            w->last_flush = now;
            it->verdict = STORE_STORM_CREATE;
        } else {
            it->verdict = w->state == REC_PENDING ? STORE_MEMBER : STORE_AGGREGATED;
        }
        w->count++;
        w->last_seen = now;
        window_add_resource(w, p, it->resource_id);
        dedup_rec *r = strmap_get(&sh->dedup, it->fingerprint);
        if (!r) {
            r = xcalloc(1, sizeof *r);
            strmap_put(&sh->dedup, it->fingerprint, r);
        }
        if (it->verdict == STORE_AGGREGATED) {
            w->dirty = true;
            r->state = REC_CREATED;
            r->count = 1;
            r->first_seen = r->last_seen = now;
            r->expires = now + p->dedup_ttl_ms;
            set_ref(&r->ref, w->ref);
            it->ref = arena_strdup(a, w->ref);
            it->first_seen_ms = it->last_seen_ms = now;
        } else {
            new_lease_pending(sh, p, it, r, batch_lease, now);
        }
        it->count = w->count;
        it->storm_type = w->type;
        memcpy(it->storm_hash, w->hash, 65);
        it->storm_start_ms = w->start;
    }
    /* STORM_CREATE carries the window as it stands after the whole batch */
    for (size_t j = i; j < n && w && w->open; j++) {
        store_item *it = &items[j];
        if (it->verdict != STORE_STORM_CREATE || !same_storm_key(it, lead)) continue;
        it->count = w->count;
        copy_resources(w, a, &it->storm_resources, &it->n_storm_resources);
    }
    for (size_t j = i; j < n && w; j++)
        if (items[j].verdict == STORE_MEMBER && same_storm_key(&items[j], lead)) items[j].count = w->count;
}

static void decide_locked(store_memory_shared *sh, const store_params *p, store_item *items, size_t n,
                          int64_t now, arena *a)
{
    /* Pass 1: everything decided by the fingerprint's own record. */
    bool *fresh = arena_calloc(a, n * sizeof *fresh);
    for (size_t i = 0; i < n; i++) fresh[i] = decide_by_record(sh, p, items, fresh, i, now, a);

    /* Pass 2: new signals, grouped by storm key (signal name + namespace), in order. */
    uint64_t batch_lease = ++sh->next_lease;
    bool *done = arena_calloc(a, n * sizeof *done);
    for (size_t i = 0; i < n; i++)
        if (fresh[i] && !done[i]) decide_group(sh, p, items, n, fresh, done, i, batch_lease, now, a);
}

static void mem_decide(store *s, const store_params *p, store_item *items, size_t n, int64_t now,
                       arena *a, store_cb cb, void *ctx)
{
    store_memory_shared *sh = ((mem_store *)s)->sh;
    pthread_mutex_lock(&sh->mu);
    maybe_gc(sh, now);
    decide_locked(sh, p, items, n, now, a);
    pthread_mutex_unlock(&sh->mu);
    defer_call(((mem_store *)s)->dq, cb, STORE_OK, ctx);
}

static void mem_commit(store *s, const store_params *p, const store_commit *items, size_t n, int64_t now,
                       store_cb cb, void *ctx)
{
    store_memory_shared *sh = ((mem_store *)s)->sh;
    pthread_mutex_lock(&sh->mu);
    for (size_t i = 0; i < n; i++) {
        const store_commit *c = &items[i];
        dedup_rec *r = strmap_get(&sh->dedup, c->fingerprint);
        if (r && r->state == REC_PENDING && r->lease == c->lease) {
            if (c->ok) {
                r->state = REC_CREATED;
                set_ref(&r->ref, c->ref);
                r->expires = now + p->dedup_ttl_ms;
            } else {
                rec_free(strmap_del(&sh->dedup, c->fingerprint));
            }
        }
        if (c->verdict == STORE_STORM_CREATE) {
            storm_state *st = storm_get(sh, c->name, c->namespace, false);
            if (st && st->w.open && st->w.state == REC_PENDING && st->w.lease == c->lease) {
                if (c->ok) {
                    st->w.state = REC_CREATED;
                    set_ref(&st->w.ref, c->ref);
                    st->w.last_flush = now;
                    st->w.flushing_count = st->w.count;
                } else {
                    window_clear(&st->w);
                }
            }
        }
    }
    pthread_mutex_unlock(&sh->mu);
    defer_call(((mem_store *)s)->dq, cb, STORE_OK, ctx);
}

/* A window is due when its count moved since the last write and the last write is at
 * least update_interval old; a claim is a short lease so one writer updates it. */
typedef struct claim_ctx {
    const store_params *p;
    int64_t      now;
    size_t       max, n;
    arena       *a;
    store_flush *out;
    uint64_t     lease;
} claim_ctx;

static int claim_one(const char *key, void *v, void *ctxp)
{
    claim_ctx *cc = ctxp;
    storm_state *st = v;
    storm_window *w = &st->w;
    if (cc->n >= cc->max || !w->open || w->state != REC_CREATED || !w->dirty) return 0;
    if (w->flush_lease && w->flush_lease_expires > cc->now) return 0;
    if (w->last_flush + cc->p->storm_update_interval_ms > cc->now) return 0;
    store_flush *f = &cc->out[cc->n++];
    f->name = arena_strdup(cc->a, st->name);
    f->namespace = arena_strdup(cc->a, st->namespace);
    f->ref = arena_strdup(cc->a, w->ref);
    memcpy(f->storm_hash, w->hash, 65);
    f->count = w->count;
    f->last_seen_ms = w->last_seen;
    f->storm_type = w->type;
    copy_resources(w, cc->a, &f->resources, &f->n_resources);
    f->lease = cc->lease;
    w->flush_lease = cc->lease;
    w->flush_lease_expires = cc->now + cc->p->lease_ms;
    w->flushing_count = w->count;
    return 0;
}

static void mem_claim_flush(store *s, const store_params *p, int64_t now, size_t max, arena *a,
                            store_flush **out, size_t *n, store_cb cb, void *ctx)
{
    store_memory_shared *sh = ((mem_store *)s)->sh;
    claim_ctx cc = {.p = p, .now = now, .max = max, .a = a};
    cc.out = arena_alloc(a, (max ? max : 1) * sizeof *cc.out);
    pthread_mutex_lock(&sh->mu);
    cc.lease = ++sh->next_lease;
    strmap_sweep(&sh->storms, claim_one, &cc);
    pthread_mutex_unlock(&sh->mu);
    *out = cc.out;
    *n = cc.n;
    defer_call(((mem_store *)s)->dq, cb, STORE_OK, ctx);
}

static void mem_flushed(store *s, const store_params *p, const store_flush *f, bool ok, int64_t now,
                        store_cb cb, void *ctx)
{
    store_memory_shared *sh = ((mem_store *)s)->sh;
    pthread_mutex_lock(&sh->mu);
    storm_state *st = storm_get(sh, f->name, f->namespace, false);
    if (st && st->w.open && st->w.flush_lease == f->lease) {
        st->w.flush_lease = 0;
        if (ok) {
            st->w.last_flush = now;
            if (st->w.count == f->count) st->w.dirty = false;
        }
    }
    pthread_mutex_unlock(&sh->mu);
    defer_call(((mem_store *)s)->dq, cb, STORE_OK, ctx);
}

static int mem_ready(store *s, char *why, size_t cap) { return 1; }

static void mem_close(store *s) { free(s); }

static const store_ops mem_ops = {
    .name = "memory",
    .decide = mem_decide,
    .commit = mem_commit,
    .claim_flush = mem_claim_flush,
    .flushed = mem_flushed,
    .ready = mem_ready,
    .close = mem_close,
};

store_memory_shared *store_memory_shared_new(void)
{
    store_memory_shared *sh = xcalloc(1, sizeof *sh);
    pthread_mutex_init(&sh->mu, NULL);
    strmap_init(&sh->dedup);
    strmap_init(&sh->storms);
    return sh;
}

void store_memory_shared_free(store_memory_shared *sh)
{
    if (!sh) return;
    strmap_free(&sh->dedup, rec_free);
    strmap_free(&sh->storms, storm_free);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

store *store_memory_open(store_memory_shared *sh, defer_queue *dq)
{
    mem_store *m = xcalloc(1, sizeof *m);
    m->base.ops = &mem_ops;
    m->sh = sh;
    m->dq = dq;
    return &m->base;
}

size_t store_memory_count(store_memory_shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    size_t n = sh->dedup.count;
    pthread_mutex_unlock(&sh->mu);
    return n;
}
