/* client.c: Kubernetes REST over libcurl multi on a libuv loop; see client.h.
 *
 * libcurl tells us which sockets to watch (socket callback → uv_poll) and when to wake it
 * (timer callback → uv_timer); completed transfers are collected with curl_multi_info_read.
 * A request waits in a FIFO for the token bucket, runs, and on a retryable outcome is
 * re-queued after a jittered backoff (or Retry-After), all bounded by its deadline.
 * The service-account token file is re-read at most once a minute (a tiny tmpfs read: the
 * one file access on the loop, accepted for rotation to be followed). */
#include "k8s/client.h"
#include "metrics.h"
#include "util/health.h"
#include "util/log.h"
#include "util/timeutil.h"
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
    if (n > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
        long v = strtol(buf + 12, NULL, 10);
        if (v > 0 && v < 3600) r->retry_after_s = v;
    }
    return n;
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
    k8s_client *c = r->c;
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(c->multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
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
    finish(r, 0, r->errbuf[0] ? r->errbuf : "request failed");
}

static void attempt(kreq *r)
{
    k8s_client *c = r->c;
    r->attempts++;
    r->errbuf[0] = '\0';
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(r->errbuf, sizeof r->errbuf, "curl_easy_init failed");
        ensure_timer(r);
        uv_timer_start(&r->timer, fail_later_cb, 0, 0);
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
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->o.timeout_ms);
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
        ensure_timer(r);
        uv_timer_start(&r->timer, fail_later_cb, 0, 0);
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
            ensure_timer(r);
            uv_timer_start(&r->timer, fail_later_cb, 0, 0);
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
    r->cb = cb;
    r->ctx = ctx;
    running_add(r);
    if (c->closing) {
        snprintf(r->errbuf, sizeof r->errbuf, "client closing");
        ensure_timer(r);
        uv_timer_start(&r->timer, fail_later_cb, 0, 0);
        return;
    }
    if (c->q_tail) c->q_tail->next = r;
    else c->q_head = r;
    c->q_tail = r;
    /* start from a timer so the callback never runs inside k8s_request */
    uv_timer_start(&c->pump_timer, on_pump, 0, 0);
}

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
        finish(r, 0, "client closed");
    }
    c->q_head = c->q_tail = NULL;
    curl_multi_cleanup(c->multi);
    c->closing_handles = 2;
    uv_close((uv_handle_t *)&c->curl_timer, client_timer_closed);
    uv_close((uv_handle_t *)&c->pump_timer, client_timer_closed);
    /* the memory goes in client_timer_closed, when the loop has run the closes */
}
