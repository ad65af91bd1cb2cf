/* memref.c: a flat C API over the in-memory store (src/state/memory.c), so the
 * differential test (test_differential.py) can drive the reference implementation with
 * ctypes and compare it, call by call, with the Redis scripts. Built by the test into a
 * temporary directory together with memory.c and the util sources it needs. */
#include "state/memory.h"
#include "util/defer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct memref {
    store_memory_shared *sh;
    store               *st;
    uv_loop_t            loop;       /* the store answers from its check phase */
    defer_queue          dq;
    store_params         p;
    arena                da, ca;     /* decide / claim outputs live until the next call */
    store_item          *items;
    size_t               n;
    store_flush         *fl;
    size_t               nfl;
} memref;

static void cb(int status, void *ctx) { *(int *)ctx = status; }

memref *memref_new(void)
{
    memref *m = calloc(1, sizeof *m);
    m->sh = store_memory_shared_new();
    uv_loop_init(&m->loop);
    defer_init(&m->dq, &m->loop);
    m->st = store_memory_open(m->sh, &m->dq);
    arena_init(&m->da);
    arena_init(&m->ca);
    return m;
}

void memref_free(memref *m)
{
    m->st->ops->close(m->st);
    defer_close(&m->dq);
    uv_run(&m->loop, UV_RUN_NOWAIT);
    uv_loop_close(&m->loop);
    store_memory_shared_free(m->sh);
    arena_free(&m->da);
    arena_free(&m->ca);
    free(m->items);
    free(m);
}

void memref_params(memref *m, int64_t dedup, int64_t lease, int storm, int rthr, int64_t rwin, int pthr,
                   int64_t pwin, int64_t swin, int64_t fttl, int64_t upd, int maxres)
{
    m->p = (store_params){
        .dedup_ttl_ms = dedup, .lease_ms = lease, .storm_enabled = storm != 0,
        .rate_threshold = rthr, .rate_window_ms = rwin, .pattern_threshold = pthr,
        .pattern_window_ms = pwin, .storm_window_ms = swin, .storm_flag_ttl_ms = fttl,
        .storm_update_interval_ms = upd, .storm_max_resources = maxres,
    };
}

int memref_decide(memref *m, int n, const char **fp, const char **name, const char **ns, const char **res,
                  const int *resolved, const int64_t *firing, const char **ref, int64_t now)
{
    arena_free(&m->da);
    arena_init(&m->da);
    free(m->items);
    m->items = calloc((size_t)(n ? n : 1), sizeof *m->items);
    m->n = (size_t)n;
    for (int i = 0; i < n; i++) {
        store_item *it = &m->items[i];
        it->fingerprint = fp[i];
        it->name = name[i];
        it->namespace = ns[i];
        it->resource_id = res[i];
        it->resolved = resolved[i] != 0;
        it->firing_ms = firing[i];
        it->ref = ref[i];
    }
    int status = 99;
    m->st->ops->decide(m->st, &m->p, m->items, (size_t)n, now, &m->da, cb, &status);
    uv_run(&m->loop, UV_RUN_NOWAIT);
    return status;
}

/* 0 verdict, 1 count, 2 first seen, 3 last seen, 4 lease, 5 storm start, 6 n resources */
int64_t memref_item_int(memref *m, int i, int field)
{
    store_item *it = &m->items[i];
    switch (field) {
    case 0: return it->verdict;
    case 1: return it->count;
    case 2: return it->first_seen_ms;
    case 3: return it->last_seen_ms;
    case 4: return (int64_t)it->lease;
    case 5: return it->storm_start_ms;
    case 6: return (int64_t)it->n_storm_resources;
    }
    return -1;
}

/* 0 ref, 1 storm type, 2 storm hash; NULL as "" */
const char *memref_item_str(memref *m, int i, int field)
{
    store_item *it = &m->items[i];
    const char *s = field == 0 ? it->ref : field == 1 ? it->storm_type : it->storm_type ? it->storm_hash : NULL;
    return s ? s : "";
}

const char *memref_item_res(memref *m, int i, int k) { return m->items[i].storm_resources[k]; }

int memref_commit(memref *m, const char *fp, const char *name, const char *ns, int verdict, uint64_t lease,
                  int ok, const char *ref, int64_t now)
{
    store_commit c = {.fingerprint = fp, .name = name, .namespace = ns, .verdict = (store_verdict)verdict, .lease = lease,
                      .ok = ok != 0, .ref = ref && *ref ? ref : NULL};
    int status = 99;
    m->st->ops->commit(m->st, &m->p, &c, 1, now, cb, &status);
    uv_run(&m->loop, UV_RUN_NOWAIT);
    return status;
}

int memref_claim(memref *m, int64_t now, int max)
{
    arena_free(&m->ca);
    arena_init(&m->ca);
    int status = 99;
    m->st->ops->claim_flush(m->st, &m->p, now, (size_t)max, &m->ca, &m->fl, &m->nfl, cb, &status);
    uv_run(&m->loop, UV_RUN_NOWAIT);
    return status == 0 ? (int)m->nfl : -1;
}

/* 0 count, 1 last seen, 2 lease, 3 n resources */
int64_t memref_flush_int(memref *m, int i, int field)
{
    store_flush *f = &m->fl[i];
    switch (field) {
    case 0: return f->count;
    case 1: return f->last_seen_ms;
    case 2: return (int64_t)f->lease;
    case 3: return (int64_t)f->n_resources;
    }
    return -1;
}

/* 0 name, 1 namespace, 2 ref, 3 storm type, 4 storm hash */
const char *memref_flush_str(memref *m, int i, int field)
{
    store_flush *f = &m->fl[i];
    const char *s = field == 0 ? f->name : field == 1 ? f->namespace : field == 2 ? f->ref
                  : field == 3 ? f->storm_type : f->storm_hash;
    return s ? s : "";
}

const char *memref_flush_res(memref *m, int i, int k) { return m->fl[i].resources[k]; }

int memref_flushed(memref *m, const char *name, const char *ns, uint64_t lease, int64_t count, int ok, int64_t now)
{
    store_flush f = {0};
    f.name = name;
    f.namespace = ns;
    f.lease = lease;
    f.count = count;
    int status = 99;
    m->st->ops->flushed(m->st, &m->p, &f, ok != 0, now, cb, &status);
    uv_run(&m->loop, UV_RUN_NOWAIT);
    return status;
}
