/* client.c: Kubernetes REST over libcurl multi on a libuv loop; see client.h.
 *
 * libcurl tells us which sockets to watch (socket callback → uv_poll) and when to wake it
 * (timer callback → uv_timer); completed transfers are collected with curl_multi_info_read.
 * A request waits in a FIFO for the token bucket, runs, and on a retryable outcome is
 * re-queued after a jittered backoff (or Retry-After), all bounded by its deadline.
 * A watch is a request of its own kind (struct k8s_watch, its kreq first): it goes through
 * the same queue, rate limiter and curl code once, and its body goes to a line splitter
 * instead of the response buffer; the one uv_timer of a request is its idle timer while it
 * runs, and carries its end to the loop when the end must not run inside a call.
 * The service-account token file is re-read at most once a minute (a tiny tmpfs read: the
 * one file access on the loop, accepted for rotation to be followed). */
#include "k8s/client.h"
#include "metrics.h"
#include "util/err.h"
#include "util/health.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/trace.h"
#include "util/xalloc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

typedef struct kreq kreq;

struct k8s_client {
    uv_loop_t      *loop;
    CURLM          *multi;
    uv_timer_t      curl_timer;
    uv_timer_t      pump_timer;
    k8s_config      cfg;
    k8s_client_opts o;
    double          tokens;
    int64_t         refill_ms;
    kreq           *q_head, *q_tail;       /* waiting for the rate limiter */
    kreq           *running;               /* in curl or backing off (for free) */
    char           *token;                 /* current bearer token */
    int64_t         token_read_ms;
    time_t          token_mtime;
    long            token_mtime_ns;
    off_t           token_size;
    health          reach;                 /* the last request reached the server (k8s_client_reachable) */
    uint64_t        seed;
    int             closing_handles;
    bool            closing;
};

struct kreq {
    k8s_client        *c;
    char              *method, *path, *ctype, *body;
    size_t             len;
    int64_t            deadline;
    k8s_cb             cb;
    void              *ctx;
    CURL              *easy;
    struct curl_slist *hdrs;
    char              *resp;
    size_t             rlen, rcap;
    int                attempts;
    long               retry_after_s;
    uv_timer_t         timer;
    bool               timer_init;
    char               errbuf[CURL_ERROR_SIZE];
    kreq              *next;               /* queue */
    double             t0;                 /* time_mono_s() at k8s_request */
    kreq              *rprev, *rnext;      /* running list */
    k8s_watch         *w;                  /* this request is that watch's, or NULL */
    char               traceparent[TRACE_HEADER_LEN + 1];   /* "" = none (util/trace.h) */
};

/* A body cut into lines: complete lines inside a chunk are handed over in place, without a
 * copy; only the incomplete tail of a chunk is kept, at most max bytes. */
typedef struct linesplit {
    char  *buf;
    size_t len, cap, max;
} linesplit;

/* Called for each line; false stops the split. */
typedef bool (*linesplit_emit)(const char *line, size_t len, void *ctx);

#define WATCH_MAX_LINE   ((size_t)4 << 20)
#define WATCH_ERRBODY_MAX ((size_t)64 << 10)

struct k8s_watch {
    kreq              r;                   /* first: the allocation is freed as a kreq */
    k8s_watch_line_cb on_line;
    k8s_watch_end_cb  on_end;
    linesplit         ls;
    int               idle_ms;
    int64_t           last_byte_ms;        /* time_mono_ms of the last header or body byte */
    int               status;              /* HTTP status once the body began, else 0 */
    bool              in_line;             /* inside curl's write callback, splitting lines */
    bool              cancelled;           /* k8s_watch_cancel was called */
    bool              too_long;            /* a line outgrew ls.max */
    bool              ending;              /* on_end is queued on the loop */
    int               end_result, end_status;
    char              end_error[CURL_ERROR_SIZE];
};

typedef struct sock_ctx {
    uv_poll_t     poll;
    curl_socket_t fd;
    k8s_client   *c;
} sock_ctx;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void pump(k8s_client *c);
static void attempt(kreq *r);

/* ---- helpers ------------------------------------------------------------------------- */

static uint64_t rnd(k8s_client *c)
{
    c->seed ^= c->seed << 13;
    c->seed ^= c->seed >> 7;
    c->seed ^= c->seed << 17;
    return c->seed;
}

static void running_add(kreq *r)
{
    k8s_client *c = r->c;
    r->rnext = c->running;
    r->rprev = NULL;
    if (c->running) c->running->rprev = r;
    c->running = r;
}

static void running_del(kreq *r)
{
    k8s_client *c = r->c;
    if (r->rprev) r->rprev->rnext = r->rnext;
    else if (c->running == r) c->running = r->rnext;
    if (r->rnext) r->rnext->rprev = r->rprev;
    r->rprev = r->rnext = NULL;
}

static void kreq_free_cb(uv_handle_t *h)
{
    kreq *r = h->data;
    free(r);
}

static void kreq_free(kreq *r)
{
    if (r->w) free(r->w->ls.buf);
    free(r->method);
    free(r->path);
    free(r->ctype);
    free(r->body);
    free(r->resp);
    if (r->hdrs) curl_slist_free_all(r->hdrs);
    if (r->timer_init) uv_close((uv_handle_t *)&r->timer, kreq_free_cb);
    else free(r);
}

/* Calls the user's callback once and frees the request. */
static void finish(kreq *r, int status, const char *error)
{
    running_del(r);
    char labels[64];
    snprintf(labels, sizeof labels, "verb=\"%s\",code=\"%d\"", r->method, status);
    metrics_add("gateway_kubernetes_requests_total", labels, 1);
    snprintf(labels, sizeof labels, "verb=\"%s\"", r->method);
    metrics_observe("gateway_kubernetes_request_duration_seconds", labels, time_mono_s() - r->t0);
    k8s_response resp = {
        .status = status,
        .body = r->resp ? r->resp : "",
        .len = r->rlen,
        .attempts = r->attempts,
        .error = error,
    };
    r->cb(&resp, r->ctx);
    kreq_free(r);
}

static void ensure_timer(kreq *r)
{
    if (!r->timer_init) {
        uv_timer_init(r->c->loop, &r->timer);
        r->timer.data = r;
        r->timer_init = true;
    }
}

static void fail_later_cb(uv_timer_t *t);

/* Ends r from the loop with the message in r->errbuf: never inside the call that found it. */
static void fail_later(kreq *r)
{
    if (r->w) r->w->ending = true;
    ensure_timer(r);
    uv_timer_start(&r->timer, fail_later_cb, 0, 0);
}

static void queue_remove(k8s_client *c, kreq *r)
{
    kreq *prev = NULL;
    for (kreq **pp = &c->q_head; *pp; prev = *pp, pp = &(*pp)->next) {
        if (*pp != r) continue;
        *pp = r->next;
        if (c->q_tail == r) c->q_tail = prev;
        r->next = NULL;
        return;
    }
}

/* ---- lines --------------------------------------------------------------------------------- */

/* Hands every complete line of p[0, n) to emit (without "\n", a "\r" before it dropped,
 * empty lines skipped) and keeps the incomplete tail for the next call. Returns 0, 1 when
 * emit stopped it (the rest of p is dropped), or SGW_E_PROTOCOL when a line is longer than
 * s->max (nothing more is emitted). */
static int linesplit_feed(linesplit *s, const char *p, size_t n, linesplit_emit emit, void *ctx)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) : n;
        if (seg > s->max - s->len) return SGW_E_PROTOCOL;
        if (s->len + seg > 0 && (s->len > 0 || !nl)) {
            /* the line began in an earlier chunk, or goes on in a later one: keep it */
            if (s->len + seg + 1 > s->cap) {
                size_t cap = s->cap ? s->cap : 4096;
                while (cap < s->len + seg + 1) cap *= 2;
                s->buf = xrealloc(s->buf, cap);
                s->cap = cap;
            }
            memcpy(s->buf + s->len, p, seg);
            s->len += seg;
        }
        if (!nl) return 0;
        const char *line = s->len ? s->buf : p;
        size_t len = s->len ? s->len : seg;
        s->len = 0;
        p += seg + 1;
        n -= seg + 1;
        if (len && line[len - 1] == '\r') len--;
        if (len && !emit(line, len, ctx)) return 1;
    }
    return 0;
}

/* The body ended: hands over a last line that had no "\n". Returns 0, or 1 if emit stopped. */
static int linesplit_finish(linesplit *s, linesplit_emit emit, void *ctx)
{
    size_t len = s->len;
    s->len = 0;
    if (len && s->buf[len - 1] == '\r') len--;
    if (len && !emit(s->buf, len, ctx)) return 1;
    return 0;
}

/* Calls on_end once and frees the watch. */
static void watch_end(k8s_watch *w, int result, int status, const char *error)
{
    kreq *r = &w->r;
    running_del(r);
    char labels[64];
    snprintf(labels, sizeof labels, "verb=\"WATCH\",code=\"%d\"", status);
    metrics_add("gateway_kubernetes_requests_total", labels, 1);
    k8s_watch_end e = {
        .result = result,
        .status = status,
        .body = r->resp ? r->resp : "",
        .len = r->rlen,
        .error = result == K8S_WATCH_EOF ? NULL : error,
    };
    w->on_end(&e, r->ctx);
    kreq_free(r);
}

static void watch_end_cb(uv_timer_t *t)
{
    kreq *r = t->data;
    k8s_watch *w = r->w;
    if (r->easy) {   /* here, not in k8s_watch_cancel: that may run inside a curl callback */
        curl_multi_remove_handle(r->c->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    watch_end(w, w->end_result, w->end_status, w->end_error);
}

/* Ends w from the loop: for ends found inside a call (k8s_watch_cancel). If curl finishes
 * the transfer first, watch_done ends it and the timer goes with the request. */
static void watch_end_later(k8s_watch *w, int result, int status, const char *error)
{
    w->ending = true;
    w->end_result = result;
    w->end_status = status;
    snprintf(w->end_error, sizeof w->end_error, "%s", error);
    ensure_timer(&w->r);
    uv_timer_start(&w->r.timer, watch_end_cb, 0, 0);
}

/* The service-account token rotates (kubelet swaps a projected file): stat it at most once
 * a second (a tmpfs stat, microseconds) and re-read it only when it changed. */
static const char *current_token(k8s_client *c)
{
    if (!c->cfg.token_file) return c->cfg.token;
    int64_t now = time_mono_ms();
    if (c->token && now - c->token_read_ms < 1000) return c->token;
    c->token_read_ms = now;
    struct stat st;
    /* a regular file only: this runs on the loop thread, where a FIFO would block it */
    if (stat(c->cfg.token_file, &st) != 0 || !S_ISREG(st.st_mode)) return c->token ? c->token : c->cfg.token;
    if (c->token && st.st_mtim.tv_sec == c->token_mtime && st.st_mtim.tv_nsec == c->token_mtime_ns &&
        st.st_size == c->token_size)
        return c->token;
    FILE *f = fopen(c->cfg.token_file, "r");
    if (!f) return c->token ? c->token : c->cfg.token;   /* keep the last good one */
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) n--;
    buf[n] = '\0';
    if (n > 0) {
        bool rotated = c->token != NULL;
        free(c->token);
        c->token = xstrdup(buf);
        c->token_mtime = st.st_mtim.tv_sec;
        c->token_mtime_ns = st.st_mtim.tv_nsec;
        c->token_size = st.st_size;
        if (rotated) log_msg(LOG_INFO, "kubernetes token file changed: using the new token", "file", c->cfg.token_file);
    }
    memset(buf, 0, sizeof buf);
    return c->token;
}

/* ---- curl ↔ libuv ------------------------------------------------------------------------ */

static void check_multi_info(k8s_client *c);

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_ctx *s = p->data;
    int flags = 0, running;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(s->c->multi, s->fd, flags, &running);
    check_multi_info(s->c);
}

static void sock_closed(uv_handle_t *h) { free(h->data); }

static int on_socket(CURL *e, curl_socket_t fd, int action, void *userp, void *socketp)
{
    k8s_client *c = userp;
    sock_ctx *s = socketp;
    if (action == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, sock_closed);
            curl_multi_assign(c->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = xcalloc(1, sizeof *s);
        s->fd = fd;
        s->c = c;
        uv_poll_init_socket(c->loop, &s->poll, fd);
        s->poll.data = s;
        curl_multi_assign(c->multi, fd, s);
    }
    int ev = 0;
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT) ev |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT) ev |= UV_WRITABLE;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

static void on_curl_timer(uv_timer_t *t)
{
    k8s_client *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(c);
}

static int on_timer_fn(CURLM *m, long timeout_ms, void *userp)
{
    k8s_client *c = userp;
    if (timeout_ms < 0) uv_timer_stop(&c->curl_timer);
    else uv_timer_start(&c->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userp)
{
    kreq *r = userp;
    size_t n = size * nmemb;
    if (r->rlen + n + 1 > r->rcap) {
        if (r->rlen + n > (size_t)(64 << 20)) return 0;   /* a 64 MiB answer is not one of ours */
        r->rcap = (r->rlen + n + 1) * 2;
        r->resp = xrealloc(r->resp, r->rcap);
    }
    memcpy(r->resp + r->rlen, ptr, n);
    r->rlen += n;
    r->resp[r->rlen] = '\0';
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userp)
{
    kreq *r = userp;
    size_t n = size * nitems;
    if (r->w) r->w->last_byte_ms = time_mono_ms();
    if (n > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
        long v = strtol(buf + 12, NULL, 10);
        if (v > 0 && v < 3600) r->retry_after_s = v;
    }
    return n;
}

static bool watch_emit(const char *line, size_t len, void *ctx)
{
    k8s_watch *w = ctx;
    w->on_line(line, len, w->r.ctx);
    return !w->cancelled;
}

/* A watch's body: lines from a 2xx answer, else the Status object of the error. */
static size_t watch_on_data(char *ptr, size_t size, size_t nmemb, void *userp)
{
    k8s_watch *w = userp;
    kreq *r = &w->r;
    size_t n = size * nmemb;
    w->last_byte_ms = time_mono_ms();
    if (w->cancelled) return 0;
    if (!w->status) {
        long code = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        w->status = (int)code;
    }
    if (w->status < 200 || w->status > 299) {
        size_t keep = r->rlen < WATCH_ERRBODY_MAX ? WATCH_ERRBODY_MAX - r->rlen : 0;
        if (keep > n) keep = n;
        if (keep) on_data(ptr, 1, keep, r);
        return n;
    }
    w->in_line = true;
    int rc = linesplit_feed(&w->ls, ptr, n, watch_emit, w);
    w->in_line = false;
    if (rc < 0) w->too_long = true;
    return rc == 0 && !w->cancelled ? n : 0;   /* 0: curl stops the transfer, done() ends it */
}

static void watch_idle_check(uv_timer_t *t)
{
    kreq *r = t->data;
    k8s_watch *w = r->w;
    int64_t quiet = time_mono_ms() - w->last_byte_ms;
    if (quiet < w->idle_ms) {
        uv_timer_start(t, watch_idle_check, (uint64_t)(w->idle_ms - quiet), 0);
        return;
    }
    curl_multi_remove_handle(r->c->multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    char msg[96];
    snprintf(msg, sizeof msg, "no data from the API server for %d ms", w->idle_ms);
    watch_end(w, K8S_WATCH_E_IDLE, w->status, msg);
}

/* A transfer is over: its HTTP status (0 when none came), its handle gone. */
static long easy_finish(kreq *r)
{
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(r->c->multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    return code;
}

/* A watch's transfer is over (curl says so): never retried. */
static void watch_done(k8s_watch *w, CURLcode cc)
{
    kreq *r = &w->r;
    k8s_client *c = r->c;
    long code = easy_finish(r);
    if (r->timer_init) uv_timer_stop(&r->timer);
    char msg[CURL_ERROR_SIZE + 64];
    if (w->cancelled) {
        watch_end(w, K8S_WATCH_E_CANCELLED, (int)code, "watch cancelled");
    } else if (w->too_long) {
        snprintf(msg, sizeof msg, "a watch line is longer than %zu bytes", w->ls.max);
        watch_end(w, K8S_WATCH_E_TOO_LONG, (int)code, msg);
    } else if (cc != CURLE_OK) {
        const char *err = r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);
        health_set(&c->reach, false, *err ? err : "not reached yet");
        watch_end(w, K8S_WATCH_E_TRANSPORT, 0, err);
    } else {
        health_set(&c->reach, true, NULL);
        if (code >= 200 && code <= 299) {
            w->in_line = true;
            linesplit_finish(&w->ls, watch_emit, w);
            w->in_line = false;
            if (w->cancelled) watch_end(w, K8S_WATCH_E_CANCELLED, (int)code, "watch cancelled");
            else watch_end(w, K8S_WATCH_EOF, (int)code, NULL);
        } else {
            snprintf(msg, sizeof msg, "the API server answered HTTP %ld", code);
            watch_end(w, K8S_WATCH_E_STATUS, (int)code, msg);
        }
    }
}

static bool retryable_status(long code) { return code == 429 || code == 500 || code == 502 || code == 503 || code == 504; }

static void on_backoff(uv_timer_t *t)
{
    kreq *r = t->data;
    running_del(r);
    /* back into the rate-limit queue */
    r->next = NULL;
    if (r->c->q_tail) r->c->q_tail->next = r;
    else r->c->q_head = r;
    r->c->q_tail = r;
    running_add(r);   /* stays findable for k8s_client_free */
    pump(r->c);
}

static void done(kreq *r, CURLcode cc)
{
    if (r->w) {
        watch_done(r->w, cc);
        return;
    }
    k8s_client *c = r->c;
    long code = easy_finish(r);
    const char *err = NULL;
    if (cc != CURLE_OK) {
        err = r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);
        code = 0;
        health_set(&c->reach, false, *err ? err : "not reached yet");
    } else {
        health_set(&c->reach, true, NULL);
    }
    bool retry = (cc != CURLE_OK || retryable_status(code)) && r->attempts <= c->o.max_retries && !c->closing;
    if (retry) {
        int64_t base = (int64_t)c->o.backoff_ms << (r->attempts - 1 < 6 ? r->attempts - 1 : 6);
        if (base > 5000) base = 5000;
        int64_t delay = base / 2 + (int64_t)(rnd(c) % (uint64_t)(base / 2 + 1));
        if (code == 429 && r->retry_after_s > 0) delay = r->retry_after_s * 1000;
        if (r->deadline && time_mono_ms() + delay >= r->deadline) retry = false;
        if (retry) {
            log_line l;
            if (log_begin(&l, LOG_DEBUG, "kubernetes API call will be retried")) {
                log_str(&l, "method", r->method);
                log_str(&l, "path", r->path);
                log_int(&l, "status", code);
                if (err) log_str(&l, "error", err);
                log_int(&l, "delay_ms", (long long)delay);
                log_end(&l);
            }
            char vl[32];
            snprintf(vl, sizeof vl, "verb=\"%s\"", r->method);
            metrics_add("gateway_kubernetes_retries_total", vl, 1);
            r->rlen = 0;
            if (r->resp) r->resp[0] = '\0';
            r->retry_after_s = 0;
            ensure_timer(r);
            uv_timer_start(&r->timer, on_backoff, (uint64_t)delay, 0);
            return;
        }
    }
    finish(r, (int)code, err);
}

static void check_multi_info(k8s_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        kreq *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode cc = m->data.result;
        done(r, cc);
    }
}

/* ---- attempts and the rate limiter --------------------------------------------------------- */

static void fail_later_cb(uv_timer_t *t)
{
    kreq *r = t->data;
    const char *err = r->errbuf[0] ? r->errbuf : "request failed";
    if (r->w) watch_end(r->w, r->c->closing ? K8S_WATCH_E_CANCELLED : K8S_WATCH_E_TRANSPORT, 0, err);
    else finish(r, 0, err);
}

static void attempt(kreq *r)
{
    k8s_client *c = r->c;
    r->attempts++;
    r->errbuf[0] = '\0';
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(r->errbuf, sizeof r->errbuf, "curl_easy_init failed");
        fail_later(r);
        return;
    }
    r->easy = e;
    char url[4096];
    snprintf(url, sizeof url, "%s%s", c->cfg.server, r->path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    if (r->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    } else if (strcmp(r->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    if (r->hdrs) curl_slist_free_all(r->hdrs);
    r->hdrs = curl_slist_append(NULL, "Accept: application/json");
    if (r->ctype) {
        char h[128];
        snprintf(h, sizeof h, "Content-Type: %s", r->ctype);
        r->hdrs = curl_slist_append(r->hdrs, h);
    }
    r->hdrs = curl_slist_append(r->hdrs, "Expect:");
    if (r->traceparent[0]) {
        char h[16 + TRACE_HEADER_LEN];
        snprintf(h, sizeof h, "traceparent: %s", r->traceparent);
        r->hdrs = curl_slist_append(r->hdrs, h);
    }
    const char *tok = current_token(c);
    if (tok) {
        size_t tl = strlen(tok) + 32;
        char *h = xmalloc(tl);
        snprintf(h, tl, "Authorization: Bearer %s", tok);
        r->hdrs = curl_slist_append(r->hdrs, h);
        memset(h, 0, tl);
        free(h);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->o.user_agent ? c->o.user_agent : "signal-gateway");
    if (r->w) {
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, watch_on_data);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, r->w);
    } else {
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    }
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->w ? 0L : (long)c->o.timeout_ms);   /* a watch: its idle timer */
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->o.timeout_ms < 5000 ? c->o.timeout_ms : 5000));
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->cfg.ca_pem) {
        struct curl_blob b = {c->cfg.ca_pem, c->cfg.ca_len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
    }
    if (c->cfg.cert_pem && c->cfg.key_pem) {
        struct curl_blob cb = {c->cfg.cert_pem, c->cfg.cert_len, CURL_BLOB_NOCOPY};
        struct curl_blob kb = {c->cfg.key_pem, c->cfg.key_len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (c->cfg.insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        r->easy = NULL;
        snprintf(r->errbuf, sizeof r->errbuf, "curl_multi_add_handle failed");
        fail_later(r);
        return;
    }
    if (r->w && r->w->idle_ms > 0) {
        r->w->last_byte_ms = time_mono_ms();
        ensure_timer(r);
        uv_timer_start(&r->timer, watch_idle_check, (uint64_t)r->w->idle_ms, 0);
    }
}

static void on_pump(uv_timer_t *t) { pump(t->data); }

static void pump(k8s_client *c)
{
    int64_t now = time_mono_ms();
    double elapsed = (double)(now - c->refill_ms) / 1000.0;
    c->refill_ms = now;
    c->tokens += elapsed * c->o.qps;
    if (c->tokens > c->o.burst) c->tokens = c->o.burst;
    while (c->q_head) {
        kreq *r = c->q_head;
        if (r->deadline && now >= r->deadline) {
            c->q_head = r->next;
            if (!c->q_head) c->q_tail = NULL;
            snprintf(r->errbuf, sizeof r->errbuf, "deadline passed while rate limited (client-side %.0f QPS)", c->o.qps);
            fail_later(r);
            continue;
        }
        if (c->tokens < 1.0) break;
        c->tokens -= 1.0;
        c->q_head = r->next;
        if (!c->q_head) c->q_tail = NULL;
        r->next = NULL;
        attempt(r);
    }
    if (c->q_head) {
        double wait_s = (1.0 - c->tokens) / c->o.qps;
        uint64_t ms = (uint64_t)(wait_s * 1000.0) + 1;
        uv_timer_start(&c->pump_timer, on_pump, ms, 0);
    }
}

void k8s_request(k8s_client *c, const char *method, const char *path, const char *ctype, const char *body,
                 size_t len, int64_t deadline, k8s_cb cb, void *ctx)
{
    kreq *r = xcalloc(1, sizeof *r);
    r->c = c;
    r->method = xstrdup(method);
    r->path = xstrdup(path);
    r->ctype = ctype ? xstrdup(ctype) : NULL;
    if (body) {
        r->body = xmalloc(len + 1);
        memcpy(r->body, body, len);
        r->body[len] = '\0';
        r->len = len;
    }
    r->deadline = deadline;
    r->t0 = time_mono_s();
    const trace_ctx *tc = trace_current();   /* the request this call is made for */
    if (tc) trace_format(tc, r->traceparent);
    r->cb = cb;
    r->ctx = ctx;
    running_add(r);
    if (c->closing) {
        snprintf(r->errbuf, sizeof r->errbuf, "client closing");
        fail_later(r);
        return;
    }
    if (c->q_tail) c->q_tail->next = r;
    else c->q_head = r;
    c->q_tail = r;
    /* start from a timer so the callback never runs inside k8s_request */
    uv_timer_start(&c->pump_timer, on_pump, 0, 0);
}

k8s_watch *k8s_watch_start(k8s_client *c, const char *path, const k8s_watch_opts *o, k8s_watch_line_cb on_line,
                           k8s_watch_end_cb on_end, void *ctx)
{
    k8s_watch *w = xcalloc(1, sizeof *w);
    kreq *r = &w->r;
    r->w = w;
    r->c = c;
    r->method = xstrdup("GET");
    r->path = xstrdup(path);
    r->t0 = time_mono_s();
    r->ctx = ctx;
    w->on_line = on_line;
    w->on_end = on_end;
    w->idle_ms = o && o->idle_timeout_ms > 0 ? o->idle_timeout_ms : 0;
    w->ls.max = o && o->max_line > 0 ? o->max_line : WATCH_MAX_LINE;
    running_add(r);
    if (c->closing) {
        snprintf(r->errbuf, sizeof r->errbuf, "client closing");
        fail_later(r);
        return w;
    }
    if (c->q_tail) c->q_tail->next = r;
    else c->q_head = r;
    c->q_tail = r;
    uv_timer_start(&c->pump_timer, on_pump, 0, 0);
    return w;
}

void k8s_watch_cancel(k8s_watch *w)
{
    if (w->cancelled || w->ending) return;
    w->cancelled = true;
    if (w->in_line) return;   /* from on_line: the write callback stops the transfer, done() ends it */
    if (!w->r.easy) queue_remove(w->r.c, &w->r);
    watch_end_later(w, K8S_WATCH_E_CANCELLED, w->status, "watch cancelled");
}

uv_loop_t *k8s_client_loop(k8s_client *c) { return c->loop; }

int k8s_client_reachable(k8s_client *c, char *why, size_t cap)
{
    char err[256];
    if (health_get(&c->reach, err, sizeof err)) return 1;
    snprintf(why, cap, "kubernetes API: %s", err);
    return 0;
}

/* ---- lifetime ----------------------------------------------------------------------------- */

static char *dup_mem(const char *p, size_t n)
{
    if (!p) return NULL;
    char *d = xmalloc(n + 1);
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

k8s_client *k8s_client_new(uv_loop_t *loop, const k8s_config *cfg, const k8s_client_opts *o, char *err, size_t errlen)
{
    pthread_once(&curl_once, curl_init_once);
    if (!cfg->server || (strncmp(cfg->server, "https://", 8) && strncmp(cfg->server, "http://", 7))) {
        snprintf(err, errlen, "kubernetes API server URL must be http(s)://");
        return NULL;
    }
    k8s_client *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    c->o = *o;
    if (c->o.qps <= 0) c->o.qps = 50;
    if (c->o.burst <= 0) c->o.burst = 100;
    if (c->o.timeout_ms <= 0) c->o.timeout_ms = 10000;
    if (c->o.max_retries < 0) c->o.max_retries = 0;
    if (c->o.backoff_ms <= 0) c->o.backoff_ms = 100;
    c->tokens = c->o.burst;
    c->refill_ms = time_mono_ms();
    c->cfg.server = xstrdup(cfg->server);
    size_t sl = strlen(c->cfg.server);
    while (sl > 0 && c->cfg.server[sl - 1] == '/') c->cfg.server[--sl] = '\0';
    c->cfg.ca_pem = dup_mem(cfg->ca_pem, cfg->ca_len);
    c->cfg.ca_len = cfg->ca_len;
    c->cfg.cert_pem = dup_mem(cfg->cert_pem, cfg->cert_len);
    c->cfg.cert_len = cfg->cert_len;
    c->cfg.key_pem = dup_mem(cfg->key_pem, cfg->key_len);
    c->cfg.key_len = cfg->key_len;
    c->cfg.insecure = cfg->insecure;
    c->cfg.token = cfg->token ? xstrdup(cfg->token) : NULL;
    c->cfg.token_file = cfg->token_file ? xstrdup(cfg->token_file) : NULL;
    c->cfg.namespace = cfg->namespace ? xstrdup(cfg->namespace) : NULL;
    c->cfg.context = cfg->context ? xstrdup(cfg->context) : NULL;
    if (getrandom(&c->seed, sizeof c->seed, 0) != sizeof c->seed || !c->seed) c->seed = 88172645463325252ULL;
    c->multi = curl_multi_init();
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer_fn);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32L);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 64L);
    uv_timer_init(loop, &c->curl_timer);
    uv_timer_init(loop, &c->pump_timer);
    c->curl_timer.data = c->pump_timer.data = c;
    health_init(&c->reach, "not reached yet");
    return c;
}

static void client_release(k8s_client *c)
{
    health_destroy(&c->reach);
    free(c->token);
    k8s_config cfg = c->cfg;
    free(cfg.server);
    free(cfg.ca_pem);
    free(cfg.cert_pem);
    if (cfg.key_pem) {
        memset(cfg.key_pem, 0, cfg.key_len);
        free(cfg.key_pem);
    }
    free(cfg.token);
    free(cfg.token_file);
    free(cfg.namespace);
    free(cfg.context);
    free(c);
}

static void client_timer_closed(uv_handle_t *h)
{
    k8s_client *c = h->data;
    if (--c->closing_handles == 0) client_release(c);
}

void k8s_client_free(k8s_client *c)
{
    if (!c) return;
    c->closing = true;
    /* fail what is still queued or running; their callbacks run now */
    while (c->running) {
        kreq *r = c->running;
        if (r->easy) {
            curl_multi_remove_handle(c->multi, r->easy);
            curl_easy_cleanup(r->easy);
            r->easy = NULL;
        }
        if (r->timer_init) uv_timer_stop(&r->timer);
        if (r->w) watch_end(r->w, K8S_WATCH_E_CANCELLED, 0, "client closed");
        else finish(r, 0, "client closed");
    }
    c->q_head = c->q_tail = NULL;
    curl_multi_cleanup(c->multi);
    c->closing_handles = 2;
    uv_close((uv_handle_t *)&c->curl_timer, client_timer_closed);
    uv_close((uv_handle_t *)&c->pump_timer, client_timer_closed);
    /* the memory goes in client_timer_closed, when the loop has run the closes */
}
