/* dir.c: the directory sink; see dir.h.
 * Writes run on libuv's thread pool (uv_queue_work), never on a loop thread. Create is
 * atomic and exclusive: write a temp file, fsync, then link(2) it to the final name —
 * link fails with EEXIST if the RR exists, which is this sink's AlreadyExists. A storm
 * update rewrites the file with temp + fsync + rename(2). Readers never see half a file.
 * Readiness (the directory is writable) is probed on the sink's loop every second and
 * published through util/health.h, which /readyz reads from any worker. */
#include "sink/dir.h"
#include "config.h"
#include "util/err.h"
#include "util/health.h"
#include "util/log.h"
#include "util/strmap.h"
#include "util/timeutil.h"
#include "util/trace.h"
#include "util/xalloc.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct dir_sink {
    sink       base;
    uv_loop_t *loop;
    char      *dir;
    strmap     dd;            /* ref → dd_pending: one status rewrite in flight per RR */
    uv_timer_t probe;
    health     health;
} dir_sink;

#define DIR_PROBE_MS 1000

typedef struct dir_job {
    uv_work_t  work;
    dir_sink  *s;
    sink_cb    cb;
    void      *ctx;
    char       ns[254];
    char       name[64];
    char      *text;          /* create: the manifest */
    sink_storm_update upd;    /* update: deep copy */
    bool       is_update;
    struct dd_pending *dd;    /* a status.deduplication rewrite (kubernaut.ai) */
    sink_dedup_update  ddv;   /* its values, taken when the job starts */
    int        status;
    char       err[200];
    trace_ctx  trace;         /* create: the request's (util/trace.h), for its line and callback */
    bool       traced;
} dir_job;

/* 0 once path exists (made now or before); SGW_E_IO with errno otherwise */
static int ensure_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    return SGW_E_IO;
}

/* Writes text to a new temporary file in dirpath (its path into tmp) and syncs it: 0, or
 * SGW_E_IO and no file left behind. */
static int write_temp(const char *dirpath, const char *name, const char *text, char *tmp, size_t cap)
{
    snprintf(tmp, cap, "%s/.%s.%ld.tmp", dirpath, name, (long)gettid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return SGW_E_IO;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            close(fd);
            unlink(tmp);
            return SGW_E_IO;
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        unlink(tmp);
        return SGW_E_IO;
    }
    return 0;
}

static void fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Defence in depth: a namespace or name here is one path component, never "." or ".." or
 * anything with a '/' (the pipeline only sends RFC 1123 namespaces; see rr_namespace). */
static bool safe_component(const char *c)
{
    return c[0] && strcmp(c, ".") && strcmp(c, "..") && !strchr(c, '/');
}

static void do_create(dir_job *j)
{
    char nsdir[4096], final[4400], tmp[4400];
    if (!safe_component(j->ns) || !safe_component(j->name)) {
        snprintf(j->err, sizeof j->err, "refusing unsafe path component in %s/%s", j->ns, j->name);
        j->status = SINK_E_INVALID;
        return;
    }
    snprintf(nsdir, sizeof nsdir, "%s/%s", j->s->dir, j->ns);
    if (ensure_dir(nsdir) < 0) {
        snprintf(j->err, sizeof j->err, "mkdir %s: %s", nsdir, strerror(errno));
        j->status = SINK_E_UNAVAILABLE;
        return;
    }
    if (write_temp(nsdir, j->name, j->text, tmp, sizeof tmp) < 0) {
        snprintf(j->err, sizeof j->err, "write %s: %s", tmp, strerror(errno));
        j->status = SINK_E_UNAVAILABLE;
        return;
    }
    snprintf(final, sizeof final, "%s/%s.json", nsdir, j->name);
    if (link(tmp, final) < 0) {
        int e = errno;
        unlink(tmp);
        if (e == EEXIST) {
            j->status = SINK_EXISTS;
            return;
        }
        snprintf(j->err, sizeof j->err, "link %s: %s", final, strerror(e));
        j->status = SINK_E_UNAVAILABLE;
        return;
    }
    unlink(tmp);
    fsync_dir(nsdir);
    j->status = SINK_CREATED;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (64 << 20)) {
        fclose(f);
        return NULL;
    }
    char *buf = xmalloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    return buf;
}

/* Rewrites the manifest j->ns/j->name with edit applied (temp + fsync + rename). */
static void rewrite(dir_job *j, int (*edit)(cJSON *root, const dir_job *j))
{
    char nsdir[4096], final[4400], tmp[4400];
    if (!safe_component(j->ns) || !safe_component(j->name)) {
        snprintf(j->err, sizeof j->err, "refusing unsafe path component in %s/%s", j->ns, j->name);
        j->status = SINK_E_INVALID;
        return;
    }
    snprintf(nsdir, sizeof nsdir, "%s/%s", j->s->dir, j->ns);
    snprintf(final, sizeof final, "%s/%s.json", nsdir, j->name);
    char *text = read_file(final);
    if (!text) {
        snprintf(j->err, sizeof j->err, "read %s: %s", final, strerror(errno));
        j->status = errno == ENOENT ? SINK_E_NOTFOUND : SINK_E_UNAVAILABLE;
        return;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "spec")) || edit(root, j) < 0) {
        cJSON_Delete(root);
        snprintf(j->err, sizeof j->err, "%s: not a RemediationRequest", final);
        j->status = SINK_E_INVALID;
        return;
    }
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    size_t ol = strlen(out);
    char *withnl = xmalloc(ol + 2);
    memcpy(withnl, out, ol);
    withnl[ol] = '\n';
    withnl[ol + 1] = '\0';
    cJSON_free(out);
    int rc = write_temp(nsdir, j->name, withnl, tmp, sizeof tmp);
    free(withnl);
    if (rc < 0 || rename(tmp, final) < 0) {
        snprintf(j->err, sizeof j->err, "rewrite %s: %s", final, strerror(errno));
        unlink(tmp);
        j->status = SINK_E_UNAVAILABLE;
        return;
    }
    fsync_dir(nsdir);
    j->status = SINK_UPDATED;
}

static int edit_storm(cJSON *root, const dir_job *j)
{
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
    cJSON_ReplaceItemInObjectCaseSensitive(spec, "stormAlertCount", cJSON_CreateNumber((double)j->upd.count));
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < j->upd.n_resources; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(j->upd.resources[i]));
    if (cJSON_GetObjectItemCaseSensitive(spec, "affectedResources"))
        cJSON_ReplaceItemInObjectCaseSensitive(spec, "affectedResources", arr);
    else
        cJSON_AddItemToObject(spec, "affectedResources", arr);
    cJSON *dd = cJSON_GetObjectItemCaseSensitive(spec, "deduplication");
    if (cJSON_IsObject(dd)) {
        char ts[32];
        time_format_rfc3339(j->upd.last_seen_ms, ts);
        cJSON_ReplaceItemInObjectCaseSensitive(dd, "lastSeen", cJSON_CreateString(ts));
        cJSON_ReplaceItemInObjectCaseSensitive(dd, "occurrenceCount", cJSON_CreateNumber((double)j->upd.count));
    }
    return 0;
}

static int64_t time_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    int64_t ms;
    if (!cJSON_IsString(v) || time_parse_rfc3339(v->valuestring, strlen(v->valuestring), &ms) != 0 || ms < 0) return 0;
    return ms;
}

/* kubernaut.ai: status.deduplication as the Gateway writes it through /status. Each
 * worker has its own sink, so two rewrites of one file can race: they are serialised
 * (one of dd_file_mu's stripes, chosen by the file's name, around the whole
 * read-modify-write: rewrites of different RRs mostly go in parallel) and merged (the highest count, the
 * earliest first and the latest last sighting win). */
#define DD_STRIPES 16
static pthread_mutex_t dd_file_mu[DD_STRIPES] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
};

static pthread_mutex_t *dd_stripe(const dir_job *j)
{
    uint32_t h = 2166136261u;   /* FNV-1a over namespace and name */
    for (const char *p = j->ns; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    for (const char *p = j->name; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    return &dd_file_mu[h % DD_STRIPES];
}

static int edit_dedup(cJSON *root, const dir_job *j)
{
    cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
    if (!cJSON_IsObject(st)) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "status");
        st = cJSON_AddObjectToObject(root, "status");
    }
    sink_dedup_update v = j->ddv;
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(st, "deduplication");
    const cJSON *oc = cJSON_GetObjectItemCaseSensitive(old, "occurrenceCount");
    if (cJSON_IsNumber(oc) && (int64_t)oc->valuedouble > v.count) v.count = (int64_t)oc->valuedouble;
    int64_t of = time_field(old, "firstSeenAt"), ol = time_field(old, "lastSeenAt");
    if (of && (!v.first_seen_ms || of < v.first_seen_ms)) v.first_seen_ms = of;
    if (ol > v.last_seen_ms) v.last_seen_ms = ol;
    cJSON_DeleteItemFromObjectCaseSensitive(st, "deduplication");
    cJSON *dd = cJSON_AddObjectToObject(st, "deduplication");
    char ts[32];
    time_format_rfc3339(v.first_seen_ms, ts);
    cJSON_AddStringToObject(dd, "firstSeenAt", ts);
    time_format_rfc3339(v.last_seen_ms, ts);
    cJSON_AddStringToObject(dd, "lastSeenAt", ts);
    cJSON_AddNumberToObject(dd, "occurrenceCount", (double)v.count);
    return 0;
}

/* ---- status.deduplication (kubernaut.ai, embedded) ----------------------------------------- */

typedef struct dd_waiter {
    sink_cb cb;
    void   *ctx;
} dd_waiter;

/* One RR's rewrites: the newest values, who waits for them, and who waits for the one in
 * flight. A burst of duplicates of one RR is one or two rewrites, not one each. */
typedef struct dd_pending {
    dir_sink         *s;
    char              ref[330];
    sink_dedup_update v;
    dd_waiter        *queued, *flight;
    size_t            nq, capq, nf, capf;
    bool              inflight;
} dd_pending;

static void work_cb(uv_work_t *w);
static void after_cb(uv_work_t *w, int status);

static void dd_start(dd_pending *d)
{
    dd_waiter *t = d->flight;
    size_t tc = d->capf;
    d->flight = d->queued;
    d->capf = d->capq;
    d->nf = d->nq;
    d->queued = t;
    d->capq = tc;
    d->nq = 0;
    d->inflight = true;
    dir_job *j = xcalloc(1, sizeof *j);
    j->s = d->s;
    j->dd = d;
    j->ddv = d->v;
    const char *slash = strchr(d->ref, '/');
    snprintf(j->ns, sizeof j->ns, "%.*s", (int)(slash - d->ref), d->ref);
    snprintf(j->name, sizeof j->name, "%s", slash + 1);
    j->work.data = j;
    uv_queue_work(d->s->loop, &j->work, work_cb, after_cb);
}

static void dd_done(dd_pending *d, int status, const char *ref)
{
    for (size_t i = 0; i < d->nf; i++) d->flight[i].cb(status, ref, d->flight[i].ctx);
    d->nf = 0;
    d->inflight = false;
    if (d->nq) {
        dd_start(d);
        return;
    }
    strmap_del(&d->s->dd, d->ref);
    free(d->queued);
    free(d->flight);
    free(d);
}

static void dir_update_dedup(sink *sk, const sink_dedup_update *u, sink_cb cb, void *ctx)
{
    dir_sink *s = (dir_sink *)sk;
    if (!strchr(u->ref, '/') || strlen(u->ref) >= sizeof ((dd_pending *)0)->ref) {
        char msg[64];
        snprintf(msg, sizeof msg, "%.60s", u->ref);
        dir_job *j = xcalloc(1, sizeof *j);   /* answered through the pool, never at once */
        j->s = s;
        j->cb = cb;
        j->ctx = ctx;
        j->status = SINK_E_INVALID;
        snprintf(j->err, sizeof j->err, "bad RemediationRequest reference %s", msg);
        j->is_update = true;
        snprintf(j->ns, sizeof j->ns, "%s", "/");
        j->work.data = j;
        uv_queue_work(s->loop, &j->work, work_cb, after_cb);
        return;
    }
    dd_pending *d = strmap_get(&s->dd, u->ref);
    if (!d) {
        d = xcalloc(1, sizeof *d);
        d->s = s;
        snprintf(d->ref, sizeof d->ref, "%s", u->ref);
        d->v.ref = d->ref;
        strmap_put(&s->dd, u->ref, d);
    }
    if (u->count > d->v.count) d->v.count = u->count;
    if (u->first_seen_ms && (!d->v.first_seen_ms || u->first_seen_ms < d->v.first_seen_ms)) d->v.first_seen_ms = u->first_seen_ms;
    if (u->last_seen_ms > d->v.last_seen_ms) d->v.last_seen_ms = u->last_seen_ms;
    if (d->nq == d->capq) {
        d->capq = d->capq ? 2 * d->capq : 4;
        d->queued = xrealloc(d->queued, d->capq * sizeof *d->queued);
    }
    d->queued[d->nq++] = (dd_waiter){cb, ctx};
    if (!d->inflight) dd_start(d);
}

static void work_cb(uv_work_t *w)
{
    dir_job *j = w->data;
    if (j->dd) {
        pthread_mutex_t *mu = dd_stripe(j);
        pthread_mutex_lock(mu);
        rewrite(j, edit_dedup);
        pthread_mutex_unlock(mu);
    } else if (j->is_update) {
        rewrite(j, edit_storm);
    } else {
        do_create(j);
    }
}

static void after_cb(uv_work_t *w, int status)
{
    dir_job *j = w->data;
    const trace_ctx *outer = trace_swap(j->traced ? &j->trace : NULL);
    if (status == UV_ECANCELED) j->status = SINK_E_UNAVAILABLE;
    if (j->status < 0) {
        log_line l;
        if (log_begin(&l, LOG_ERROR, "directory sink write failed")) {
            log_str(&l, "error", j->err);
            log_end(&l);
        }
    }
    char ref[320];
    snprintf(ref, sizeof ref, "%s/%s", j->ns, j->name);
    if (j->dd) dd_done(j->dd, j->status, ref);
    else j->cb(j->status, ref, j->ctx);
    trace_set_current(outer);
    free(j->text);
    for (size_t i = 0; i < j->upd.n_resources; i++) free((char *)j->upd.resources[i]);
    free((void *)j->upd.resources);
    free(j);
}

static void dir_create(sink *sk, rr_spec *spec, sink_cb cb, void *ctx)
{
    dir_sink *s = (dir_sink *)sk;
    dir_job *j = xcalloc(1, sizeof *j);
    j->s = s;
    j->cb = cb;
    j->ctx = ctx;
    const trace_ctx *tc = trace_current();
    if (tc) {
        j->trace = *tc;
        j->traced = true;
    }
    char *json = spec->contract == RR_CONTRACT_KUBERNAUT_AI ? rr_kai_build_json(spec, true, j->ns, j->name)
                                                             : rr_build_json(spec, false, true, j->ns, j->name);
    size_t jl = strlen(json);
    j->text = xrealloc(json, jl + 2);
    j->text[jl] = '\n';
    j->text[jl + 1] = '\0';
    j->work.data = j;
    uv_queue_work(s->loop, &j->work, work_cb, after_cb);
}

static void dir_update_storm(sink *sk, const sink_storm_update *u, sink_cb cb, void *ctx)
{
    dir_sink *s = (dir_sink *)sk;
    dir_job *j = xcalloc(1, sizeof *j);
    j->s = s;
    j->cb = cb;
    j->ctx = ctx;
    j->is_update = true;
    const char *slash = strchr(u->ref, '/');
    size_t nl = slash ? (size_t)(slash - u->ref) : 0;
    snprintf(j->ns, sizeof j->ns, "%.*s", (int)nl, u->ref);
    snprintf(j->name, sizeof j->name, "%s", slash ? slash + 1 : u->ref);
    j->upd = *u;
    j->upd.ref = NULL;
    j->upd.resources = xcalloc(u->n_resources ? u->n_resources : 1, sizeof(char *));
    for (size_t i = 0; i < u->n_resources; i++) j->upd.resources[i] = xstrdup(u->resources[i]);
    j->work.data = j;
    uv_queue_work(s->loop, &j->work, work_cb, after_cb);
}

static void probe(dir_sink *s)
{
    if (access(s->dir, W_OK) == 0) {
        health_set(&s->health, true, NULL);
        return;
    }
    char why[256];
    snprintf(why, sizeof why, "directory %s is not writable: %s", s->dir, strerror(errno));
    health_set(&s->health, false, why);
}

static void on_probe(uv_timer_t *t) { probe(t->data); }

static int dir_ready(sink *sk, char *why, size_t cap) { return health_get(&((dir_sink *)sk)->health, why, cap); }

static void probe_closed(uv_handle_t *h)
{
    dir_sink *s = h->data;
    health_destroy(&s->health);
    strmap_free(&s->dd, NULL);   /* empty: every rewrite answered before the loop stops */
    free(s->dir);
    free(s);
}

static void dir_close(sink *sk)
{
    dir_sink *s = (dir_sink *)sk;
    uv_timer_stop(&s->probe);
    uv_close((uv_handle_t *)&s->probe, probe_closed);   /* frees s once closed */
}

static const sink_ops dir_ops = {
    .name = "dir",
    .create = dir_create,
    .update_dedup = dir_update_dedup,
    .update_storm = dir_update_storm,
    .ready = dir_ready,
    .close = dir_close,
};

sink *sink_dir_open(uv_loop_t *loop, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    /* mkdir -p */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "sink directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode) || access(path, W_OK) < 0) {
        snprintf(err, errlen, "sink directory %s is not a writable directory", dir);
        return NULL;
    }
    dir_sink *s = xcalloc(1, sizeof *s);
    s->base.ops = &dir_ops;
    s->loop = loop;
    s->dir = xstrdup(path);
    strmap_init(&s->dd);
    health_init(&s->health, NULL);
    probe(s);
    uv_timer_init(loop, &s->probe);
    s->probe.data = s;
    uv_timer_start(&s->probe, on_probe, DIR_PROBE_MS, DIR_PROBE_MS);
    uv_unref((uv_handle_t *)&s->probe);   /* a probe never keeps the loop running */
    return &s->base;
}
