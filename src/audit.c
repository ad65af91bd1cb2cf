/* audit.c: see audit.h.
 * Hand-over: a bounded ring of lines behind one mutex and a condition variable, not a pipe.
 * A pipe would cost a write(2) per line on the loop and cap a line at PIPE_BUF to stay
 * atomic; the ring costs a lock and a memcpy, the writer takes every queued line at once and
 * writes them with one writev(2), and "the queue is full" is a count, checked without a
 * system call. The condition variable is signalled only when the writer sleeps, so a busy
 * writer costs the loops no futex call. Confirmations go back through a per-worker uv_async
 * (audit_port): libuv's one thread-safe way into a loop. */
#include "audit.h"
#include "metrics.h"
#include "util/err.h"
#include "util/jsonw.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define AUDIT_BATCH 1024              /* lines per writev(2); IOV_MAX is 1024 on Linux */
#define AUDIT_LOG_EVERY_MS 10000      /* at most one failure log line per interval */

/* ---- the line ------------------------------------------------------------------------- */

const char *audit_format(const audit_record *r, arena *a, size_t *len)
{
    jsonw w;
    jw_init(&w, a, 320 + r->n * 150);
    char ts[32];
    time_format_rfc3339(r->time_ms, ts);
    if (r->time_ms >= 0 && ts[19] == 'Z') {   /* milliseconds, as the log's "ts" */
        ts[19] = '.';
        int ms = (int)(r->time_ms % 1000);
        ts[20] = (char)('0' + ms / 100);
        ts[21] = (char)('0' + ms / 10 % 10);
        ts[22] = (char)('0' + ms % 10);
        ts[23] = 'Z';
        ts[24] = '\0';
    }
    jw_lit(&w, "{");
    jw_kstr(&w, false, "time", ts);
    jw_kstr(&w, true, "request_id", r->request_id);
    jw_kstr(&w, true, "trace_id", r->trace_id);
    jw_lit(&w, ",\"caller\":{");
    auth_id_kind k = r->caller ? r->caller->kind : AUTH_ID_NONE;
    jw_kstr(&w, false, "kind", auth_id_kind_str(k));
    if (r->caller && r->caller->name[0]) jw_kstr(&w, true, "name", r->caller->name);
    jw_lit(&w, "}");
    jw_kstr(&w, true, "peer", r->peer ? r->peer : "");
    jw_kstr(&w, true, "source", r->source);
    jw_kstr(&w, true, "route", r->route);
    jw_lit(&w, ",\"status\":");
    jw_i64(&w, r->status);
    if (r->error) jw_kstr(&w, true, "error", r->error);
    jw_lit(&w, ",\"signals\":[");
    for (size_t i = 0; i < r->n; i++) {
        const audit_signal *s = &r->signals[i];
        if (i) jw_lit(&w, ",");
        jw_lit(&w, "{");
        jw_kstr(&w, false, "fingerprint", s->fingerprint);
        jw_kstr(&w, true, "outcome", s->outcome);
        if (s->rr) jw_kstr(&w, true, "rr", s->rr);
        jw_lit(&w, "}");
    }
    jw_lit(&w, "]}\n");
    *len = w.len;
    return w.buf;
}

/* ---- the writer ----------------------------------------------------------------------- */

typedef struct entry {
    char       *line;
    size_t      len;
    audit_port *port;
    audit_cb    cb;
    void       *ctx;
} entry;

typedef struct audit_done {
    audit_cb cb;
    void    *ctx;
    int      status;
} audit_done;

struct audit {
    char           *path;         /* NULL: standard output */
    int             fd;           /* the writer's; reopened by it only */
    pthread_t       thread;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    entry          *ring;         /* cap entries; n queued from head */
    size_t          cap, head, n;
    bool            stop;
    bool            sleeping;     /* the writer waits on cv */
    atomic_bool     reopen;
    atomic_llong    dropped;      /* lines refused with the queue full, not yet logged */
    int64_t         last_log_ms;  /* the writer's: when it last logged a failure */
    long long       failed;       /* the writer's: failures not yet logged */
};

static int open_path(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) snprintf(err, errlen, "audit.file %s: %s", path, strerror(errno));
    return fd;
}

/* Failures in the log at most once per AUDIT_LOG_EVERY_MS, with how many since the last
 * line: a full disk must not turn every request into a log line too. */
static void note_failures(audit *a, long long write_failures, const char *why)
{
    a->failed += write_failures + atomic_exchange(&a->dropped, 0);
    int64_t now = time_mono_ms();
    if (!a->failed || (a->last_log_ms && now - a->last_log_ms < AUDIT_LOG_EVERY_MS)) return;
    a->last_log_ms = now;
    log_line l;
    if (log_begin(&l, LOG_ERROR, "audit lines lost")) {
        log_str(&l, "file", a->path ? a->path : "-");
        log_int(&l, "lines", a->failed);
        log_str(&l, "error", why ? why : "the audit queue was full");
        log_end(&l);
    }
    a->failed = 0;
}

static void reopen_now(audit *a)
{
    if (!a->path) return;
    char err[256];
    int fd = open_path(a->path, err, sizeof err);
    if (fd < 0) {   /* keep writing to the old file: a line in the rotated file beats none */
        log_msg(LOG_ERROR, "audit log not reopened; still writing to the previous file", "error", err);
        return;
    }
    close(a->fd);
    a->fd = fd;
    log_msg(LOG_INFO, "audit log reopened", "file", a->path);
}

static void port_push(audit_port *p, audit_cb cb, void *ctx, int status)
{
    pthread_mutex_lock(&p->mu);
    if (!p->closed) {
        if (p->n == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 64;
            p->done = xrealloc(p->done, p->cap * sizeof *p->done);
        }
        p->done[p->n++] = (audit_done){cb, ctx, status};
        uv_async_send(&p->async);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Writes k lines with as few writev(2) as they take; each line's confirmation says whether
 * all of its bytes were written. */
static void write_batch(audit *a, entry *e, size_t k)
{
    struct iovec iov[AUDIT_BATCH];
    size_t done = 0;              /* lines fully written */
    size_t off = 0;               /* bytes of e[done] already written */
    int err = 0;
    while (done < k && !err) {
        size_t ni = 0;
        for (size_t i = done; i < k && ni < AUDIT_BATCH; i++, ni++) {
            size_t skip = i == done ? off : 0;
            iov[ni] = (struct iovec){e[i].line + skip, e[i].len - skip};
        }
        ssize_t w = writev(a->fd, iov, (int)ni);
        if (w < 0) {
            if (errno == EINTR) continue;
            err = errno;
            break;
        }
        if (w == 0) {
            err = EIO;
            break;
        }
        size_t left = (size_t)w;
        while (left && done < k) {
            size_t rest = e[done].len - off;
            if (left >= rest) {
                left -= rest;
                off = 0;
                done++;
            } else {
                off += left;
                left = 0;
            }
        }
    }
    if (done) metrics_add("gateway_audit_lines_total", "", (double)done);
    if (done < k) metrics_add("gateway_audit_write_failures_total", "reason=\"write\"", (double)(k - done));
    for (size_t i = 0; i < k; i++) {
        if (e[i].cb) port_push(e[i].port, e[i].cb, e[i].ctx, i < done ? 0 : SGW_E_IO);
        free(e[i].line);
    }
    note_failures(a, (long long)(k - done), err ? strerror(err) : NULL);
}

static void *writer_main(void *arg)
{
    audit *a = arg;
    entry *batch = xmalloc(AUDIT_BATCH * sizeof *batch);
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (a->n == 0 && !a->stop && !atomic_load(&a->reopen)) {
            a->sleeping = true;
            pthread_cond_wait(&a->cv, &a->mu);
            a->sleeping = false;
        }
        if (a->n == 0 && a->stop) break;
        size_t k = 0;
        while (a->n && k < AUDIT_BATCH) {
            batch[k++] = a->ring[a->head];
            a->head = (a->head + 1) % a->cap;
            a->n--;
        }
        pthread_mutex_unlock(&a->mu);
        if (atomic_exchange(&a->reopen, false)) reopen_now(a);
        if (k) write_batch(a, batch, k);
        else note_failures(a, 0, NULL);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    note_failures(a, 0, NULL);
    free(batch);
    return NULL;
}

audit *audit_open(const char *path, size_t queue_max, char *err, size_t errlen)
{
    bool out = strcmp(path, "-") == 0;
    int fd = out ? STDOUT_FILENO : open_path(path, err, errlen);
    if (fd < 0) return NULL;
    audit *a = xcalloc(1, sizeof *a);
    a->path = out ? NULL : xstrdup(path);
    a->fd = fd;
    a->cap = queue_max ? queue_max : 1;
    a->ring = xcalloc(a->cap, sizeof *a->ring);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    int rc = pthread_create(&a->thread, NULL, writer_main, a);
    if (rc != 0) {
        snprintf(err, errlen, "audit writer thread: %s", strerror(rc));
        if (a->path) close(fd);
        free(a->ring);
        free(a->path);
        free(a);
        return NULL;
    }
    return a;
}

void audit_free(audit *a)
{
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    if (a->path) close(a->fd);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->ring);
    free(a->path);
    free(a);
}

void audit_reopen(audit *a)
{
    atomic_store(&a->reopen, true);
    pthread_mutex_lock(&a->mu);
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

int audit_submit(audit *a, audit_port *port, const char *line, size_t len, audit_cb cb, void *ctx)
{
    char *copy = xmalloc(len);
    memcpy(copy, line, len);
    pthread_mutex_lock(&a->mu);
    if (a->n == a->cap) {
        pthread_mutex_unlock(&a->mu);
        free(copy);
        atomic_fetch_add(&a->dropped, 1);
        metrics_add("gateway_audit_write_failures_total", "reason=\"queue_full\"", 1);
        return SGW_E_UNAVAILABLE;
    }
    a->ring[(a->head + a->n) % a->cap] = (entry){copy, len, port, cb, ctx};
    a->n++;
    if (a->sleeping) pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/* ---- ports ---------------------------------------------------------------------------- */

/* Runs the confirmations that arrived, outside the port's lock (a callback may submit). */
static void on_port_async(uv_async_t *h)
{
    audit_port *p = h->data;
    pthread_mutex_lock(&p->mu);
    audit_done *d = p->done;
    size_t n = p->n;
    p->done = NULL;
    p->n = p->cap = 0;
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < n; i++) d[i].cb(d[i].status, d[i].ctx);
    free(d);
}

void audit_port_init(audit_port *p, uv_loop_t *loop)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    uv_async_init(loop, &p->async, on_port_async);
    p->async.data = p;
    uv_unref((uv_handle_t *)&p->async);
}

static void on_port_closed(uv_handle_t *h)
{
    audit_port *p = h->data;
    pthread_mutex_destroy(&p->mu);
}

void audit_port_close(audit_port *p)
{
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    free(p->done);
    p->done = NULL;
    p->n = p->cap = 0;
    pthread_mutex_unlock(&p->mu);
    uv_close((uv_handle_t *)&p->async, on_port_closed);
}
