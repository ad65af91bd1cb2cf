/* audit.c: see audit.h.
 * Hand-over: each worker gathers an iteration's lines in its port's buffer (a memcpy per
 * line, no lock) and hands the buffer over as one batch before its loop blocks, into a
 * bounded ring behind one mutex and a condition variable — not a pipe, which would cost a
 * write(2) per line on the loop and cap a line at PIPE_BUF to stay atomic. The writer takes
 * every queued batch at once and writes them with one writev(2). After a write it lingers
 * up to AUDIT_LINGER_MS for more before writing again, and a batch that arrives meanwhile
 * does not wake it: under load the trail costs a few writes a second, not one per request.
 * A line someone waits for (audit.required) always wakes it. "The queue is full" is a count
 * of lines, checked without a system call. Confirmations go back through the port's
 * uv_async: libuv's one thread-safe way into a loop. */
#include "audit.h"
#include "metrics.h"
#include "util/err.h"
#include "util/fmt.h"
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
#include <time.h>
#include <unistd.h>

#define AUDIT_BATCH 1024              /* batches per writev(2): IOV_MAX is 1024 on Linux */
#define AUDIT_LOG_EVERY_MS 10000      /* at most one failure log line per interval */

/* ---- the line ------------------------------------------------------------------------- */

/* RFC 3339 with milliseconds, as the log's "ts". The second's text is kept per thread: a
 * worker formats thousands of lines a second, and only the milliseconds change. */
static void format_time(int64_t ms, char out[32])
{
    static _Thread_local int64_t sec = -1;
    static _Thread_local char text[32];
    if (ms < 0) ms = 0;
    if (ms / 1000 != sec) {
        sec = ms / 1000;
        time_format_rfc3339(sec * 1000, text);   /* "YYYY-MM-DDTHH:MM:SSZ" */
    }
    memcpy(out, text, 19);
    int m = (int)(ms % 1000);
    out[19] = '.';
    out[20] = (char)('0' + m / 100);
    out[21] = (char)('0' + m / 10 % 10);
    out[22] = (char)('0' + m % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

/* The line is written straight into one arena block sized for its worst case (every string
 * that could need escaping at 6 bytes a byte), with memcpy: through jsonw's calls it cost
 * ~3,000 instructions a line, about 5 % of a duplicate request (bench/audit-overhead.sh). */
typedef struct lbuf {
    char *p;
} lbuf;

static inline void put(lbuf *b, const char *s, size_t n)
{
    memcpy(b->p, s, n);
    b->p += n;
}
#define PUTLIT(b, lit) put((b), "" lit, sizeof("" lit) - 1)

/* A value of a known alphabet, copied without a look: the time, hex ids (trace id,
 * fingerprints), the request id (hex, or X-Request-ID limited to [A-Za-z0-9._-] by the
 * server), the peer address we formatted, and the gateway's own words (source, route pattern,
 * outcome, caller kind, error code). */
static inline void put_plain(lbuf *b, const char *s, size_t n)
{
    *b->p++ = '"';
    put(b, s, n);
    *b->p++ = '"';
}

/* A value from outside (a caller's name, a store's RR reference): escaped as jw_str does. */
static inline void put_escaped(lbuf *b, const char *s, size_t n)
{
    *b->p++ = '"';
    b->p += json_escape_into(b->p, s, n);
    *b->p++ = '"';
}

const char *audit_format(const audit_record *r, arena *a, size_t *len)
{
    const char *name = r->caller && r->caller->name[0] ? r->caller->name : NULL;
    const char *kind = auth_id_kind_str(r->caller ? r->caller->kind : AUTH_ID_NONE);
    const char *peer = r->peer ? r->peer : "";
    size_t l_rid = strlen(r->request_id), l_tid = strlen(r->trace_id), l_kind = strlen(kind),
           l_name = name ? strlen(name) : 0, l_peer = strlen(peer), l_src = strlen(r->source),
           l_route = strlen(r->route), l_err = r->error ? strlen(r->error) : 0;
    size_t cap = 256 + l_rid + l_tid + l_kind + 6 * l_name + l_peer + l_src + l_route + l_err;
    for (size_t i = 0; i < r->n; i++)
        cap += 64 + strlen(r->signals[i].fingerprint) + strlen(r->signals[i].outcome) +
               (r->signals[i].rr ? 6 * strlen(r->signals[i].rr) : 0);
    char *start = arena_alloc(a, cap);
    lbuf b = {start};
    char ts[32];
    format_time(r->time_ms, ts);
    PUTLIT(&b, "{\"time\":");
    put_plain(&b, ts, 24);
    PUTLIT(&b, ",\"request_id\":");
    put_plain(&b, r->request_id, l_rid);
    PUTLIT(&b, ",\"trace_id\":");
    put_plain(&b, r->trace_id, l_tid);
    PUTLIT(&b, ",\"caller\":{\"kind\":");
    put_plain(&b, kind, l_kind);
    if (name) {
        PUTLIT(&b, ",\"name\":");
        put_escaped(&b, name, l_name);
    }
    PUTLIT(&b, "},\"peer\":");
    put_plain(&b, peer, l_peer);
    PUTLIT(&b, ",\"source\":");
    put_plain(&b, r->source, l_src);
    PUTLIT(&b, ",\"route\":");
    put_plain(&b, r->route, l_route);
    PUTLIT(&b, ",\"status\":");
    b.p += fmt_i64(b.p, r->status);
    if (r->error) {
        PUTLIT(&b, ",\"error\":");
        put_plain(&b, r->error, l_err);
    }
    PUTLIT(&b, ",\"signals\":[");
    for (size_t i = 0; i < r->n; i++) {
        const audit_signal *s = &r->signals[i];
        if (i) *b.p++ = ',';
        PUTLIT(&b, "{\"fingerprint\":");
        put_plain(&b, s->fingerprint, strlen(s->fingerprint));
        PUTLIT(&b, ",\"outcome\":");
        put_plain(&b, s->outcome, strlen(s->outcome));
        if (s->rr) {
            PUTLIT(&b, ",\"rr\":");
            put_escaped(&b, s->rr, strlen(s->rr));
        }
        *b.p++ = '}';
    }
    PUTLIT(&b, "]}\n");
    *b.p = '\0';
    *len = (size_t)(b.p - start);
    return start;
}

/* ---- the writer ----------------------------------------------------------------------- */

#define AUDIT_LINGER_MS 10

typedef struct audit_waiter {
    audit_cb cb;
    void    *ctx;
    int      status;
} audit_waiter;

/* One batch: whole lines, and those of them someone waits for. */
typedef struct entry {
    char         *buf;
    size_t        len, nlines;
    audit_port   *port;
    audit_waiter *waiters;
    size_t        nwait;
} entry;

enum { W_BUSY, W_LINGER, W_IDLE };

struct audit {
    char           *path;         /* NULL: standard output */
    int             fd;           /* the writer's; reopened by it only */
    pthread_t       thread;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    entry          *ring;         /* cap batches; n queued from head */
    size_t          cap, head, n;
    size_t          max_lines;
    atomic_size_t   lines;        /* lines queued in the ring (read without mu by submit) */
    bool            stop;
    int             state;        /* W_*: what a hand-over must do to have its batch written */
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

/* The batch's confirmations to its port's loop, with status. */
static void confirm(entry *e, int status)
{
    if (!e->nwait) return;
    audit_port *p = e->port;
    pthread_mutex_lock(&p->mu);
    if (!p->closed) {
        if (p->n + e->nwait > p->cap_done) {
            while (p->n + e->nwait > p->cap_done) p->cap_done = p->cap_done ? p->cap_done * 2 : 64;
            p->done = xrealloc(p->done, p->cap_done * sizeof *p->done);
        }
        for (size_t i = 0; i < e->nwait; i++) {
            e->waiters[i].status = status;
            p->done[p->n++] = e->waiters[i];
        }
        uv_async_send(&p->async);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Writes k batches with as few writev(2) as they take; a batch is confirmed written once all
 * of its bytes are (its lines were handed over together, so they succeed or fail together). */
static void write_batches(audit *a, entry *e, size_t k)
{
    struct iovec iov[AUDIT_BATCH];
    size_t done = 0;              /* batches fully written */
    size_t off = 0;               /* bytes of e[done] already written */
    int err = 0;
    while (done < k && !err) {
        size_t ni = 0;
        for (size_t i = done; i < k && ni < AUDIT_BATCH; i++, ni++) {
            size_t skip = i == done ? off : 0;
            iov[ni] = (struct iovec){e[i].buf + skip, e[i].len - skip};
        }
        ssize_t w = writev(a->fd, iov, (int)ni);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            break;
        }
        size_t left = (size_t)w;
        while (left && done < k) {
            size_t rest = e[done].len - off;
            if (left < rest) {
                off += left;
                break;
            }
            left -= rest;
            off = 0;
            done++;
        }
    }
    size_t ok_lines = 0, lost = 0;
    for (size_t i = 0; i < k; i++) {
        if (i < done) ok_lines += e[i].nlines;
        else lost += e[i].nlines;
        confirm(&e[i], i < done ? 0 : SGW_E_IO);
        free(e[i].buf);
        free(e[i].waiters);
    }
    if (ok_lines) metrics_add("gateway_audit_lines_total", "", (double)ok_lines);
    if (lost) metrics_add("gateway_audit_write_failures_total", "reason=\"write\"", (double)lost);
    note_failures(a, (long long)lost, err ? strerror(err) : NULL);
}

static void *writer_main(void *arg)
{
    audit *a = arg;
    entry *batch = xmalloc(AUDIT_BATCH * sizeof *batch);
    bool wrote = false;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        if (a->n == 0 && !a->stop && !atomic_load(&a->reopen)) {
            if (wrote) {   /* linger: let the next batches gather */
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += AUDIT_LINGER_MS * 1000000L;   /* < 1 s: one carry at most */
                if (until.tv_nsec >= 1000000000L) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000L;
                }
                a->state = W_LINGER;
                pthread_cond_timedwait(&a->cv, &a->mu, &until);
                wrote = false;
            } else {
                a->state = W_IDLE;
                pthread_cond_wait(&a->cv, &a->mu);
            }
            a->state = W_BUSY;
            continue;
        }
        if (a->n == 0 && a->stop) break;
        size_t k = 0, lines = 0;
        while (a->n && k < AUDIT_BATCH) {
            batch[k] = a->ring[a->head];
            lines += batch[k++].nlines;
            a->head = (a->head + 1) % a->cap;
            a->n--;
        }
        atomic_fetch_sub(&a->lines, lines);
        pthread_mutex_unlock(&a->mu);
        if (atomic_exchange(&a->reopen, false)) reopen_now(a);
        if (k) write_batches(a, batch, k);
        else note_failures(a, 0, NULL);
        wrote = k > 0;
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
    a->max_lines = queue_max ? queue_max : 1;
    a->cap = a->max_lines;   /* a batch holds at least one line */
    a->ring = xcalloc(a->cap, sizeof *a->ring);
    a->state = W_BUSY;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    int rc = pthread_create(&a->thread, NULL, writer_main, a);
    if (rc != 0) {
        snprintf(err, errlen, "audit writer thread: %s", strerror(rc));
        if (a->path) close(fd);
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
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

/* ---- ports ---------------------------------------------------------------------------- */

void audit_port_flush(audit_port *p)
{
    if (!p->len) return;
    audit *a = p->a;
    entry e = {p->buf, p->len, p->nlines, p, p->waiters, p->nwait};
    p->buf = NULL;
    p->len = p->cap = p->nlines = 0;
    p->waiters = NULL;
    p->nwait = p->capwait = 0;
    pthread_mutex_lock(&a->mu);
    if (a->n == a->cap) {   /* only when workers raced past max_lines together: refused as full */
        pthread_mutex_unlock(&a->mu);
        atomic_fetch_add(&a->dropped, (long long)e.nlines);
        metrics_add("gateway_audit_write_failures_total", "reason=\"queue_full\"", (double)e.nlines);
        confirm(&e, SGW_E_UNAVAILABLE);
        free(e.buf);
        free(e.waiters);
        return;
    }
    a->ring[(a->head + a->n) % a->cap] = e;
    a->n++;
    atomic_fetch_add(&a->lines, e.nlines);
    /* an idle writer must wake; a lingering one comes back by itself, unless someone waits */
    if (a->state == W_IDLE || (a->state == W_LINGER && e.nwait)) pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void on_port_prepare(uv_prepare_t *h) { audit_port_flush(h->data); }

int audit_submit(audit_port *p, const char *line, size_t len, audit_cb cb, void *ctx)
{
    audit *a = p->a;
    if (atomic_load(&a->lines) + p->nlines >= a->max_lines) {
        atomic_fetch_add(&a->dropped, 1);
        metrics_add("gateway_audit_write_failures_total", "reason=\"queue_full\"", 1);
        return SGW_E_UNAVAILABLE;
    }
    if (p->len + len > p->cap) {
        p->cap = p->cap ? p->cap : 4096;
        while (p->len + len > p->cap) p->cap *= 2;
        p->buf = xrealloc(p->buf, p->cap);
    }
    memcpy(p->buf + p->len, line, len);
    p->len += len;
    p->nlines++;
    if (cb) {
        if (p->nwait == p->capwait) {
            p->capwait = p->capwait ? p->capwait * 2 : 16;
            p->waiters = xrealloc(p->waiters, p->capwait * sizeof *p->waiters);
        }
        p->waiters[p->nwait++] = (audit_waiter){cb, ctx, 0};
    }
    return 0;
}

/* Runs the confirmations that arrived, outside the port's lock (a callback may submit). */
static void on_port_async(uv_async_t *h)
{
    audit_port *p = h->data;
    pthread_mutex_lock(&p->mu);
    audit_waiter *d = p->done;
    size_t n = p->n;
    p->done = NULL;
    p->n = p->cap_done = 0;
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < n; i++) d[i].cb(d[i].status, d[i].ctx);
    free(d);
}

void audit_port_init(audit_port *p, uv_loop_t *loop, audit *a)
{
    memset(p, 0, sizeof *p);
    p->a = a;
    pthread_mutex_init(&p->mu, NULL);
    uv_async_init(loop, &p->async, on_port_async);
    p->async.data = p;
    uv_unref((uv_handle_t *)&p->async);
    uv_prepare_init(loop, &p->prep);
    p->prep.data = p;
    if (a) uv_prepare_start(&p->prep, on_port_prepare);
    uv_unref((uv_handle_t *)&p->prep);
}

static void on_port_closed(uv_handle_t *h)
{
    audit_port *p = h->data;
    if (h == (uv_handle_t *)&p->async) pthread_mutex_destroy(&p->mu);
}

void audit_port_close(audit_port *p)
{
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    free(p->done);
    p->done = NULL;
    p->n = p->cap_done = 0;
    pthread_mutex_unlock(&p->mu);
    free(p->buf);
    free(p->waiters);
    p->buf = NULL;
    p->waiters = NULL;
    p->len = p->nlines = p->nwait = 0;
    uv_close((uv_handle_t *)&p->prep, NULL);
    uv_close((uv_handle_t *)&p->async, on_port_closed);
}
