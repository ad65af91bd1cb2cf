/* redis.c: the Redis state store (store.h) for N gateway replicas sharing one Redis.
 *
 * One hiredis async connection per worker loop (hiredis' libuv adapter), so commands of
 * concurrent requests pipeline on it. A connection goes
 *   resolve (uv_getaddrinfo: no blocking DNS on the loop) → connect → AUTH → SELECT →
 *   [sentinel: ROLE must be master] → SCRIPT LOAD ×4 → FUNCTION LOAD (decide) → READY
 * and, when anything fails, back to the start after a capped, jittered exponential backoff.
 * With redis-sentinel://, the primary's address is first asked of the sentinels in turn
 * (SENTINEL get-master-addr-by-name), and asked again after every disconnect or READONLY
 * reply, which is how a failover is followed.
 * hiredis 0.14 has no command timeouts: each command carries its own uv timer; a timeout
 * fails that command (503 upstream) and drops the connection, which fails the others too.
 * Every decision is one FCALL of decide.lua loaded as a Redis function (its helpers are
 * made once per load, not once per call), or one EVALSHA of it where FUNCTION LOAD is
 * refused (Redis < 7.0, an ACL). NOSCRIPT or "Function not found" (e.g. after a Redis
 * restart or FUNCTION FLUSH) reloads it and retries once. */
#include "state/redis.h"
#include "state/resp.h"
#include "metrics.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include "state/decide_plan.h"
#include "state/decide_reply.h"
#include "state/redis_uv.h"
#include "state/storm_id.h"
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum { SCRIPT_DECIDE, SCRIPT_COMMIT, SCRIPT_CLAIM, SCRIPT_FLUSHED, N_SCRIPTS };
static const char *script_names[N_SCRIPTS] = {"decide", "commit", "claim", "flushed"};

/* The script sources, generated from src/state/scripts at build time. */
extern const char *const sgw_lua_decide, *const sgw_lua_commit, *const sgw_lua_claim, *const sgw_lua_flushed;
static const char *const *const script_src[N_SCRIPTS] = {&sgw_lua_decide, &sgw_lua_commit, &sgw_lua_claim,
                                                         &sgw_lua_flushed};

typedef enum { R_IDLE, R_SENTINEL, R_RESOLVING, R_CONNECTING, R_HANDSHAKE, R_READY } rstate;

typedef struct rstore {
    store              base;
    uv_loop_t         *loop;
    redis_target       t;
    redisAsyncContext *ac;          /* the primary connection */
    redisAsyncContext *sac;         /* a sentinel connection during discovery */
    _Atomic(rstate)    state;         /* read by /readyz from other workers */
    char               sha[N_SCRIPTS][41];
    char               fn_name[32];  /* "sgw_decide_<16 hex of decide.lua's SHA>" */
    char              *fn_code;      /* FUNCTION LOAD's library: two lines, then decide.lua */
    bool               fn_ok;        /* decide is called with FCALL fn_name, else EVALSHA */
    int                handshake_step;
    uv_timer_t         backoff_timer;
    uv_timer_t         connect_timer;
    uv_getaddrinfo_t   gai;
    bool               gai_busy;
    int                backoff_ms;
    int                sentinel_idx;
    char               host[256];    /* address being connected to */
    int                port;
    char               last_error[256];
    int64_t            down_since_ms;
    bool               closing;
    int                pending_handles;
    uint64_t           seed;
    /* decide calls of this loop iteration, sent as ONE EVALSHA at its end (dq_check) */
    struct dentry     *dq;
    size_t             ndq, capdq, dq_items;
    store_params       dq_params;
    int64_t            dq_now;
    uv_check_t         dq_check;
    uv_idle_t          dq_idle;       /* while calls are queued: the poll must not block */
    int                dq_inflight;   /* decide batches sent, not yet answered */
} rstore;

static void connect_start(rstore *s);
static void connection_lost(rstore *s, const char *why);
static void connection_kill(rstore *s, const char *why);
static void maybe_free(rstore *s);

/* ---- URL ------------------------------------------------------------------------------- */

static void target_clear(redis_target *t)
{
    for (int i = 0; i < t->n_hosts; i++) free(t->hosts[i]);
    free(t->hosts);
    free(t->ports);
    free(t->password);
    free(t->master);
    memset(t, 0, sizeof *t);
}

static int add_hostport(redis_target *t, const char *hp, size_t len, char *err, size_t errlen)
{
    char buf[300];
    if (len == 0 || len >= sizeof buf) {
        snprintf(err, errlen, "bad host:port '%.*s'", (int)len, hp);
        return SGW_E_INVALID;
    }
    memcpy(buf, hp, len);
    buf[len] = '\0';
    char *colon = strrchr(buf, ':');
    int port = 6379;
    if (colon && (buf[0] != '[' || colon > strchr(buf, ']'))) {
        *colon = '\0';
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p < 1 || p > 65535) {
            snprintf(err, errlen, "bad port in '%.*s'", (int)len, hp);
            return SGW_E_INVALID;
        }
        port = (int)p;
    }
    char *host = buf;
    if (host[0] == '[') {
        host++;
        char *rb = strchr(host, ']');
        if (rb) *rb = '\0';
    }
    if (!*host) {
        snprintf(err, errlen, "empty host in '%.*s'", (int)len, hp);
        return SGW_E_INVALID;
    }
    t->hosts = xrealloc(t->hosts, (size_t)(t->n_hosts + 1) * sizeof *t->hosts);
    t->ports = xrealloc(t->ports, (size_t)(t->n_hosts + 1) * sizeof *t->ports);
    t->hosts[t->n_hosts] = xstrdup(host);
    t->ports[t->n_hosts] = port;
    t->n_hosts++;
    return 0;
}

int redis_target_parse(const char *url, redis_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    const char *rest;
    if (!strncmp(url, "redis://", 8)) rest = url + 8;
    else if (!strncmp(url, "redis-sentinel://", 17)) {
        rest = url + 17;
        t->sentinel = true;
    } else {
        snprintf(err, errlen, "not a redis:// or redis-sentinel:// URL");
        return SGW_E_INVALID;
    }
    /* [user][:password]@ */
    const char *at = strchr(rest, '@');
    const char *slash = strchr(rest, '/');
    if (at && (!slash || at < slash)) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        const char *pw = colon ? colon + 1 : rest;
        t->password = xstrndup(pw, (size_t)(at - pw));
        rest = at + 1;
        slash = strchr(rest, '/');
    }
    const char *hosts_end = slash ? slash : rest + strlen(rest);
    const char *p = rest;
    while (p < hosts_end) {
        const char *comma = memchr(p, ',', (size_t)(hosts_end - p));
        const char *e = comma ? comma : hosts_end;
        if (add_hostport(t, p, (size_t)(e - p), err, errlen) < 0) goto fail;
        p = comma ? comma + 1 : hosts_end;
    }
    if (t->n_hosts == 0) {
        snprintf(err, errlen, "no host");
        goto fail;
    }
    if (t->sentinel) {
        if (!slash || !slash[1]) {
            snprintf(err, errlen, "redis-sentinel:// needs /MASTERNAME");
            goto fail;
        }
        const char *m = slash + 1;
        const char *m_end = strchr(m, '/');
        t->master = xstrndup(m, m_end ? (size_t)(m_end - m) : strlen(m));
        if (m_end && m_end[1]) t->db = atoi(m_end + 1);
    } else {
        if (t->n_hosts != 1) {
            snprintf(err, errlen, "redis:// takes one host (use redis-sentinel:// for several)");
            goto fail;
        }
        if (slash && slash[1]) {
            char *end;
            long db = strtol(slash + 1, &end, 10);
            if (*end || db < 0 || db > 1000) {
                snprintf(err, errlen, "bad database number '%s'", slash + 1);
                goto fail;
            }
            t->db = (int)db;
        }
    }
    return 0;
fail:
    target_clear(t);
    return SGW_E_INVALID;
}

void redis_target_free(redis_target *t) { target_clear(t); }

/* ---- commands with timeouts ------------------------------------------------------------ */

typedef struct rcall rcall;
typedef void (*rcall_fn)(rstore *s, redisReply *r, const char *err, void *ctx);

struct rcall {
    rstore     *s;
    uv_timer_t  timer;
    int         refs;          /* hiredis callback + timer close */
    bool        done;
    rcall_fn     fn;
    void       *ctx;
    int         script;        /* >= 0: an EVALSHA that may be retried after NOSCRIPT */
    bool        fcall;         /* an FCALL of s->fn_name, retried after "Function not found" */
    bool        retried;
    char       *frame;         /* the RESP command, written once (resp.h) */
    size_t      frame_len;
    size_t      sha_off;       /* script: where the 40-hex SHA sits in frame, patched on NOSCRIPT */
    double      t0;
    const char *op;
};

static void rcall_unref(rcall *c)
{
    if (--c->refs > 0) return;
    free(c->frame);
    free(c);
}

static void rcall_timer_closed(uv_handle_t *h) { rcall_unref(h->data); }

static void rcall_finish(rcall *c, redisReply *r, const char *err)
{
    if (c->done) return;
    c->done = true;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, rcall_timer_closed);
    if (c->op) {
        char labels[48];
        snprintf(labels, sizeof labels, "op=\"%s\"", c->op);
        metrics_observe("gateway_store_duration_seconds", labels, time_mono_s() - c->t0);
        if (err) metrics_add("gateway_store_errors_total", labels, 1);
    }
    c->fn(c->s, r, err, c->ctx);
}

static int rcall_send(rcall *c);

/* Sends orig again once its script or function is back; err: the reload failed. */
static void retry_reloaded(rcall *orig, const char *err)
{
    if (err) {
        rcall_finish(orig, NULL, err);
        rcall_unref(orig);   /* the hiredis ref of the first send, already answered */
        return;
    }
    orig->retried = true;
    if (rcall_send(orig) < 0) {
        rcall_finish(orig, NULL, "connection lost");
        rcall_unref(orig);
    } else {
        rcall_unref(orig);   /* the first send's hiredis ref; the new send holds its own */
    }
}

static void script_reloaded(rstore *s, redisReply *r, const char *err, void *ctx)
{
    rcall *orig = ctx;
    if (err || !r || r->type != REDIS_REPLY_STRING || r->len != 40) {
        retry_reloaded(orig, err ? err : "script reload failed");
        return;
    }
    memcpy(s->sha[orig->script], r->str, 40);
    s->sha[orig->script][40] = '\0';
    memcpy(orig->frame + orig->sha_off, r->str, 40);
    retry_reloaded(orig, NULL);
}

static void function_reloaded(rstore *s, redisReply *r, const char *err, void *ctx)
{
    if (r && r->type == REDIS_REPLY_ERROR) {
        /* refused now (an ACL or the server changed under us): this call fails (503, retried
         * by the sender) and the next ones run decide as a script */
        s->fn_ok = false;
        log_msg(LOG_WARN, "redis: FUNCTION LOAD refused, decide runs as a script (EVALSHA)", "error", r->str);
    }
    retry_reloaded(ctx, err ? err : !r || r->type != REDIS_REPLY_STRING ? "function reload failed" : NULL);
}

static rcall *rcall_new(rstore *s, rcall_fn fn, void *ctx, int argc, const char **argv, const size_t *lens, int script);
static rcall *rcall_frame(rstore *s, rcall_fn fn, void *ctx, resp_cmd *cmd, size_t sha_off, int script);

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    rcall *c = priv;
    redisReply *r = reply;
    rstore *s = c->s;
    if (c->done) {
        rcall_unref(c);
        return;
    }
    if (!r) {
        rcall_finish(c, NULL, ac && ac->errstr[0] ? ac->errstr : "connection lost");
        rcall_unref(c);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        if (c->fcall && !c->retried && !strncmp(r->str, "ERR Function not found", 22)) {
            /* Redis lost its functions (restart without persistence, FUNCTION FLUSH): load
             * the library again, then retry */
            const char *argv[4] = {"FUNCTION", "LOAD", "REPLACE", s->fn_code};
            size_t lens[4] = {8, 4, 7, strlen(s->fn_code)};
            log_msg(LOG_WARN, "redis: the decide function is gone, reloading it", "function", s->fn_name);
            if (!rcall_new(s, function_reloaded, c, 4, argv, lens, -1)) {
                rcall_finish(c, NULL, "connection lost");
                rcall_unref(c);
            }
            return;   /* c's hiredis ref is released by function_reloaded */
        }
        if (c->script >= 0 && !c->retried && !strncmp(r->str, "NOSCRIPT", 8)) {
            /* Redis lost its script cache (restart, SCRIPT FLUSH): load it, then retry */
            const char *argv[3] = {"SCRIPT", "LOAD", *script_src[c->script]};
            size_t lens[3] = {6, 4, strlen(*script_src[c->script])};
            log_msg(LOG_WARN, "redis: NOSCRIPT, reloading the script", "script", script_names[c->script]);
            rcall *load = rcall_new(s, script_reloaded, c, 3, argv, lens, -1);
            if (!load) {
                rcall_finish(c, NULL, "connection lost");
                rcall_unref(c);
            }
            return;   /* c's hiredis ref is released by script_reloaded */
        }
        if (!strncmp(r->str, "READONLY", 8) || !strncmp(r->str, "LOADING", 7) || !strncmp(r->str, "MASTERDOWN", 10)) {
            rcall_finish(c, NULL, r->str);
            rcall_unref(c);
            connection_lost(s, r->str);
            return;
        }
        rcall_finish(c, r, r->str);
        rcall_unref(c);
        return;
    }
    rcall_finish(c, r, NULL);
    rcall_unref(c);
}

static void on_cmd_timeout(uv_timer_t *t)
{
    rcall *c = t->data;
    rstore *s = c->s;
    rcall_finish(c, NULL, "command timed out");
    connection_kill(s, "command timed out");
}

static int rcall_send(rcall *c)
{
    rstore *s = c->s;
    if (!s->ac) return SGW_E_UNAVAILABLE;
    c->refs++;
    if (redisAsyncFormattedCommand(s->ac, on_reply, c, c->frame, c->frame_len) != REDIS_OK) {
        c->refs--;
        return SGW_E_UNAVAILABLE;
    }
    return 0;
}

/* Sends argv on the primary connection; fn runs exactly once (reply, error or timeout). */
/* Sends cmd (taken over: its buffer is the rcall's now) on the primary connection; fn runs
 * exactly once (reply, error or timeout). script >= 0: an EVALSHA whose SHA is at sha_off. */
static rcall *rcall_frame(rstore *s, rcall_fn fn, void *ctx, resp_cmd *cmd, size_t sha_off, int script)
{
    rcall *c = xcalloc(1, sizeof *c);
    c->s = s;
    c->fn = fn;
    c->ctx = ctx;
    c->script = script;
    c->frame = cmd->buf;
    c->frame_len = cmd->len;
    c->sha_off = sha_off;
    cmd->buf = NULL;
    c->t0 = time_mono_s();
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->refs = 1;   /* the timer */
    if (rcall_send(c) < 0) {
        uv_close((uv_handle_t *)&c->timer, rcall_timer_closed);
        return NULL;
    }
    uv_timer_start(&c->timer, on_cmd_timeout, (uint64_t)s->t.command_timeout_ms, 0);
    return c;
}

/* The same from an argv (lens NULL: strlen); for an EVALSHA argv[1] is the SHA. */
static rcall *rcall_new(rstore *s, rcall_fn fn, void *ctx, int argc, const char **argv, const size_t *lens, int script)
{
    resp_cmd cmd;
    size_t sha_off = 0;
    resp_begin(&cmd, argc, 256);
    for (int i = 0; i < argc; i++) {
        size_t at = resp_arg(&cmd, argv[i], lens ? lens[i] : strlen(argv[i]));
        if (i == 1) sha_off = at;
    }
    return rcall_frame(s, fn, ctx, &cmd, sha_off, script);
}

/* ---- connection lifecycle --------------------------------------------------------------- */

static uint64_t next_rand(rstore *s)
{
    s->seed ^= s->seed << 13;
    s->seed ^= s->seed >> 7;
    s->seed ^= s->seed << 17;
    return s->seed;
}

static void on_backoff(uv_timer_t *t) { connect_start(t->data); }

static void schedule_reconnect(rstore *s)
{
    if (s->closing) return;
    s->state = R_IDLE;
    int base = s->backoff_ms ? s->backoff_ms : 100;
    int delay = base / 2 + (int)(next_rand(s) % (uint64_t)(base / 2 + 1));   /* jitter: [base/2, base] */
    s->backoff_ms = base * 2 > 5000 ? 5000 : base * 2;
    uv_timer_start(&s->backoff_timer, on_backoff, (uint64_t)delay, 0);
}

static void set_down(rstore *s, const char *why)
{
    snprintf(s->last_error, sizeof s->last_error, "%s", why);
    if (s->closing) return;
    if (!s->down_since_ms) {
        s->down_since_ms = time_now_ms();
        log_msg(LOG_ERROR, "redis unavailable", "error", why);
        metrics_add("gateway_redis_disconnects_total", "", 1);
    }
}

static void connection_lost(rstore *s, const char *why)
{
    set_down(s, why);
    uv_timer_stop(&s->connect_timer);
    if (s->ac && s->state == R_CONNECTING) {
        /* hiredis 0.14 calls neither the connect nor the disconnect callback for a
         * context freed before it connected: free it here and start over */
        redisAsyncContext *ac = s->ac;
        s->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
        schedule_reconnect(s);
        return;
    }
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        s->state = R_IDLE;   /* not ready from this instant */
        /* inside a hiredis callback only a deferred disconnect is allowed; the server is
         * answering (it just said no), so its pending replies will come */
        redisAsyncDisconnect(ac);
    } else if (s->state != R_IDLE && s->state != R_SENTINEL && s->state != R_RESOLVING) {
        schedule_reconnect(s);
    }
}

/* From outside hiredis callbacks (timers): the server may be hung, so waiting for its
 * pending replies (what redisAsyncDisconnect does) could wait forever. Free the context:
 * pending commands fail at once, on_disconnect schedules the reconnect. */
static void connection_kill(rstore *s, const char *why)
{
    set_down(s, why);
    uv_timer_stop(&s->connect_timer);
    if (s->ac && s->state == R_CONNECTING) {
        connection_lost(s, why);
        return;
    }
    s->state = R_IDLE;   /* not ready from this instant */
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        redisAsyncFree(ac);   /* runs on_disconnect (it was connected) */
        if (s->ac == ac) {    /* not connected after all: no callback came */
            s->ac = NULL;
            schedule_reconnect(s);
        }
    } else {
        schedule_reconnect(s);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rstore *s = ac->data;
    if (!s) return;
    s->ac = NULL;
    if (s->closing) {
        s->pending_handles--;
        maybe_free(s);
        return;
    }
    set_down(s, ac->errstr[0] ? ac->errstr : "disconnected");
    schedule_reconnect(s);
}

static void handshake_next(rstore *s);

static void handshake_reply(rstore *s, redisReply *r, const char *err, void *ctx)
{
    if (s->handshake_step == 4 + N_SCRIPTS && r) {   /* FUNCTION LOAD: an answer either way */
        s->fn_ok = r->type == REDIS_REPLY_STRING;
        if (!s->fn_ok)
            log_msg(LOG_WARN, "redis: FUNCTION LOAD refused, decide runs as a script (EVALSHA)", "error",
                    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        s->handshake_step++;
        handshake_next(s);
        return;
    }
    if (err) {
        char why[300];
        snprintf(why, sizeof why, "handshake: %s", err);
        connection_lost(s, why);
        return;
    }
    int step = s->handshake_step;
    if (step == 3) {   /* ROLE */
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING ||
            strcmp(r->element[0]->str, "master") != 0) {
            connection_lost(s, "sentinel named a server that is not a master");
            return;
        }
    }
    if (step >= 4 && step < 4 + N_SCRIPTS) {
        if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
            connection_lost(s, "SCRIPT LOAD failed");
            return;
        }
        memcpy(s->sha[step - 4], r->str, 40);
        s->sha[step - 4][40] = '\0';
    }
    s->handshake_step++;
    handshake_next(s);
}

/* The library FUNCTION LOAD takes: a name per version of decide.lua (replicas of different
 * versions each call their own during a rolling upgrade), the function's name, the file. */
static void build_function(rstore *s)
{
    char hex[17];
    memcpy(hex, s->sha[SCRIPT_DECIDE], 16);
    hex[16] = '\0';
    snprintf(s->fn_name, sizeof s->fn_name, "sgw_decide_%s", hex);
    char head[128];
    int h = snprintf(head, sizeof head, "#!lua name=sgw_%s\nlocal SGW_FUNCTION = '%s'\n", hex, s->fn_name);
    size_t n = strlen(sgw_lua_decide);
    free(s->fn_code);
    s->fn_code = xmalloc((size_t)h + n + 1);
    memcpy(s->fn_code, head, (size_t)h);
    memcpy(s->fn_code + h, sgw_lua_decide, n + 1);
}

static void handshake_next(rstore *s)
{
    for (;;) {
        int step = s->handshake_step;
        const char *argv[4];
        size_t lens[4];
        int argc = 0;
        char db[16];
        if (step == 1) {
            if (!s->t.password) { s->handshake_step++; continue; }
            argv[0] = "AUTH";
            argv[1] = s->t.password;
            argc = 2;
        } else if (step == 2) {
            if (!s->t.db) { s->handshake_step++; continue; }
            snprintf(db, sizeof db, "%d", s->t.db);
            argv[0] = "SELECT";
            argv[1] = db;
            argc = 2;
        } else if (step == 3) {
            if (!s->t.sentinel) { s->handshake_step++; continue; }
            argv[0] = "ROLE";
            argc = 1;
        } else if (step >= 4 && step < 4 + N_SCRIPTS) {
            argv[0] = "SCRIPT";
            argv[1] = "LOAD";
            argv[2] = *script_src[step - 4];
            argc = 3;
        } else if (step == 4 + N_SCRIPTS) {
            build_function(s);
            argv[0] = "FUNCTION";
            argv[1] = "LOAD";
            argv[2] = "REPLACE";
            argv[3] = s->fn_code;
            argc = 4;
        } else {
            s->state = R_READY;
            s->backoff_ms = 0;
            uv_timer_stop(&s->connect_timer);
            log_line l;
            if (log_begin(&l, LOG_INFO, s->down_since_ms ? "redis connection restored" : "redis connected")) {
                log_str(&l, "host", s->host);
                log_int(&l, "port", s->port);
                if (s->down_since_ms) log_int(&l, "down_ms", (long long)(time_now_ms() - s->down_since_ms));
                log_end(&l);
            }
            s->down_since_ms = 0;
            s->last_error[0] = '\0';
            return;
        }
        for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
        if (!rcall_new(s, handshake_reply, NULL, argc, argv, lens, -1)) connection_lost(s, "send failed");
        return;
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rstore *s = ac->data;
    if (!s) return;
    if (status != REDIS_OK) {
        s->ac = NULL;   /* hiredis frees it after this callback */
        char why[300];
        snprintf(why, sizeof why, "connect %s:%d: %s", s->host, s->port, ac->errstr);
        set_down(s, why);
        uv_timer_stop(&s->connect_timer);
        schedule_reconnect(s);
        return;
    }
    s->state = R_HANDSHAKE;
    s->handshake_step = 1;
    handshake_next(s);
}

static void on_connect_timeout(uv_timer_t *t)
{
    rstore *s = t->data;
    connection_kill(s, "connect timed out");
}

static void connect_ip(rstore *s, const char *ip)
{
    s->state = R_CONNECTING;
    redisAsyncContext *ac = redisAsyncConnect(ip, s->port);
    if (!ac || ac->err) {
        char why[300];
        snprintf(why, sizeof why, "connect %s:%d: %s", ip, s->port, ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        set_down(s, why);
        schedule_reconnect(s);
        return;
    }
    ac->data = s;
    if (redis_uv_attach(ac, s->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        set_down(s, "libuv attach failed");
        schedule_reconnect(s);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    s->ac = ac;
    uv_timer_start(&s->connect_timer, on_connect_timeout, (uint64_t)s->t.connect_timeout_ms, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    rstore *s = req->data;
    s->gai_busy = false;
    if (s->closing) {
        if (res) uv_freeaddrinfo(res);
        s->pending_handles--;
        maybe_free(s);
        return;
    }
    if (status < 0 || !res) {
        char why[300];
        snprintf(why, sizeof why, "resolve %s: %s", s->host, uv_strerror(status));
        set_down(s, why);
        schedule_reconnect(s);
        return;
    }
    char ip[64] = "";
    if (res->ai_family == AF_INET) uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof ip);
    else uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);
    connect_ip(s, ip);
}

static void resolve_and_connect(rstore *s, const char *host, int port)
{
    snprintf(s->host, sizeof s->host, "%s", host);
    s->port = port;
    s->state = R_RESOLVING;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    s->gai.data = s;
    s->gai_busy = true;
    if (uv_getaddrinfo(s->loop, &s->gai, on_resolved, host, NULL, &hints) < 0) {
        s->gai_busy = false;
        set_down(s, "resolve failed");
        schedule_reconnect(s);
    }
}

/* ---- sentinel discovery -------------------------------------------------------------------- */

static void sentinel_try(rstore *s);

static void sentinel_disconnected(const redisAsyncContext *ac, int status)
{
    rstore *s = ac->data;
    if (s && s->sac == ac) s->sac = NULL;
}

static void sentinel_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    rstore *s = priv;
    redisReply *r = reply;
    if (s->sac != ac) return;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        char host[256];
        snprintf(host, sizeof host, "%s", r->element[0]->str);
        int port = atoi(r->element[1]->str);
        redisAsyncDisconnect(ac);
        s->sac = NULL;
        resolve_and_connect(s, host, port);
        return;
    }
    redisAsyncDisconnect(ac);
    s->sac = NULL;
    s->sentinel_idx++;
    sentinel_try(s);
}

static void sentinel_connected(const redisAsyncContext *ac, int status)
{
    rstore *s = ac->data;
    if (!s || s->sac != ac) return;
    if (status != REDIS_OK) {
        s->sac = NULL;
        s->sentinel_idx++;
        sentinel_try(s);
        return;
    }
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", s->t.master};
    redisAsyncCommandArgv(s->sac, sentinel_reply, s, 3, argv, NULL);
}

static void sentinel_try(rstore *s)
{
    if (s->sentinel_idx >= s->t.n_hosts) {
        s->sentinel_idx = 0;
        set_down(s, "no sentinel could name the primary");
        schedule_reconnect(s);
        return;
    }
    s->state = R_SENTINEL;
    /* sentinels are configured by address; hostnames are resolved by hiredis here (once
     * per discovery), which is acceptable for the few sentinel addresses of a cluster */
    redisAsyncContext *ac = redisAsyncConnect(s->t.hosts[s->sentinel_idx], s->t.ports[s->sentinel_idx]);
    if (!ac || ac->err) {
        if (ac) redisAsyncFree(ac);
        s->sentinel_idx++;
        sentinel_try(s);
        return;
    }
    ac->data = s;
    redis_uv_attach(ac, s->loop);
    redisAsyncSetConnectCallback(ac, sentinel_connected);
    redisAsyncSetDisconnectCallback(ac, sentinel_disconnected);
    s->sac = ac;
}

static void connect_start(rstore *s)
{
    if (s->closing) return;
    if (s->t.sentinel) {
        sentinel_try(s);
        return;
    }
    resolve_and_connect(s, s->t.hosts[0], s->t.ports[0]);
}

/* ---- store operations ----------------------------------------------------------------------- */

static const char *arena_i64(arena *a, int64_t v)
{
    char num[24];
    return arena_strndup(a, num, fmt_i64(num, v));
}

typedef struct op_ctx {
    store_cb    cb;
    void       *ctx;
    arena      *a;            /* claim: where the claimed windows go */
    store_flush **fout;
    size_t      *fn;
} op_ctx;

/* An integer reply, or a string that starts with one: 0, or STORE_E_PROTOCOL. */
static int reply_int(const redisReply *r, long long *out)
{
    if (!r) return STORE_E_PROTOCOL;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    if (r->type == REDIS_REPLY_STRING) {
        char *end;
        *out = strtoll(r->str, &end, 10);
        return end != r->str ? 0 : STORE_E_PROTOCOL;
    }
    return STORE_E_PROTOCOL;
}

static const char *reply_str(const redisReply *r, arena *a)
{
    if (!r || r->type != REDIS_REPLY_STRING) return NULL;
    return arena_strndup(a, r->str, r->len);
}

/* Starts "<verb> <name> 0 <prefix>" (EVALSHA <sha> or FCALL <function>) followed by nargs
 * more arguments; returns where the name sits in the frame (an EVALSHA's SHA is patched if
 * Redis answers NOSCRIPT). */
static size_t call_begin(rstore *s, resp_cmd *cmd, const char *verb, const char *name, int nargs, size_t cap_hint)
{
    resp_begin(cmd, 4 + nargs, cap_hint);
    resp_str(cmd, verb);
    size_t name_off = resp_str(cmd, name);
    resp_arg(cmd, "0", 1);
    resp_str(cmd, s->t.prefix);
    return name_off;
}

static size_t evalsha_begin(rstore *s, resp_cmd *cmd, int script, int nargs, size_t cap_hint)
{
    return call_begin(s, cmd, "EVALSHA", s->sha[script], nargs, cap_hint);
}

/* ---- decide, batched -------------------------------------------------------------------
 * Every decide() of one loop iteration (the requests whose bodies arrived together, the
 * rounds whose retry timers fired) goes to Redis as ONE EVALSHA at the end of the
 * iteration (a uv_check handle; an idle handle keeps the poll phase from blocking while
 * calls wait, so a call queued from a timer is not held until the next I/O), up to
 * DECIDE_BATCH_MAX items; the first DECIDE_EAGER_ITEMS may go ahead (the eager flush
 * below). The script's fixed cost (the call, its 13 parameters, its set-up, the reply) is
 * paid once per batch, not once per request. decide.lua is atomic over its whole batch,
 * so the batch decides as if its requests had come as one webhook (the same fingerprint
 * twice: the later one waits, IN_PROGRESS, as it would behind another request's lease). Calls with different
 * parameters (a SIGHUP reload between them) go in different batches. */

#define DECIDE_BATCH_MAX 1000
#define DECIDE_EAGER_ITEMS 16

typedef struct dentry {
    store_item *items;
    size_t      n;
    arena      *a;
    store_cb    cb;
    void       *ctx;
} dentry;

typedef struct dbatch {
    dentry     *e;
    size_t      ne, n_items;
    size_t      n_sent;    /* items sent: n_items, or fewer when an alert repeats */
    bool        planned;   /* plan holds how the sent items stand for the batch's */
    decide_plan plan;
} dbatch;

static void decide_reply(rstore *s, redisReply *r, const char *err, void *ctx)
{
    dbatch *b = ctx;
    s->dq_inflight--;   /* counted in decide_flush, answered or failed here exactly once */
    bool shape_ok = !err && decide_reply_shape_ok(r, b->n_sent);
    if (!err && !shape_ok) log_msg(LOG_ERROR, "redis: unexpected reply to decide", NULL, NULL);
    /* each caller's items are filled before its callback, which may free its request */
    size_t off = 0, win = b->n_sent;
    const decide_plan *pl = &b->plan;
    for (size_t k = 0; k < b->ne; k++) {
        dentry *e = &b->e[k];
        int status = err ? STORE_E_UNAVAILABLE
                   : !shape_ok ? STORE_E_PROTOCOL
                   : b->planned ? decide_reply_part_sent_once(r, pl->sent + off, pl->rank + off, pl->mult, e->n, &win,
                                                              e->items, e->a)
                   : decide_reply_part(r, off, e->n, &win, e->items, e->a);
        if (status == STORE_E_PROTOCOL && shape_ok) log_msg(LOG_ERROR, "redis: unexpected reply to decide", NULL, NULL);
        off += e->n;
        e->cb(status, e->ctx);
    }
    decide_plan_free(&b->plan);
    free(b->e);
    free(b);
}

/* An item's second argument (decide.lua item_at()): "resolved|firing_ms|len(name)|
 * len(namespace)|len(resource_id)|" then the three and the ref, back to back. One argument
 * instead of six: Redis makes an object and a Lua string for each, about 1 k instructions
 * apiece, and a duplicate needs none of them (docs/benchmarks.md, session 5). */
static void decide_item_meta(resp_cmd *cmd, const store_item *it)
{
    char head[1 + 1 + 21 + 3 * 21 + 1];
    size_t h = 0;
    head[h++] = it->resolved ? '1' : '0';
    head[h++] = '|';
    h += fmt_i64(head + h, it->firing_ms);
    head[h++] = '|';
    const char *parts[5] = {head, it->name ? it->name : "", it->namespace ? it->namespace : "",
                            it->resource_id ? it->resource_id : "", it->ref ? it->ref : ""};
    size_t lens[5];
    for (int k = 1; k < 5; k++) lens[k] = strlen(parts[k]);
    for (int k = 1; k < 4; k++) {
        h += fmt_u64(head + h, lens[k]);
        head[h++] = '|';
    }
    lens[0] = h;
    resp_parts(cmd, parts, lens, 5);
}

/* Sends the queued decide calls as one EVALSHA. */
static void decide_flush(rstore *s)
{
    if (!s->ndq) return;
    dbatch *b = xcalloc(1, sizeof *b);
    b->e = s->dq;
    b->ne = s->ndq;
    b->n_items = s->dq_items;
    s->dq = NULL;
    s->ndq = s->capdq = s->dq_items = 0;
    uv_check_stop(&s->dq_check);
    uv_idle_stop(&s->dq_idle);
    s->dq_inflight++;
    if (s->state != R_READY) {   /* lost since the calls were queued */
        decide_reply(s, NULL, "connection lost", b);
        return;
    }
    const store_params *p = &s->dq_params;
    /* an alert several requests carry goes once (decide_plan.h); the batch's items in order */
    const store_item **all = xmalloc(b->n_items * sizeof *all);
    for (size_t k = 0, g = 0; k < b->ne; k++)
        for (size_t i = 0; i < b->e[k].n; i++) all[g++] = &b->e[k].items[i];
    b->planned = decide_plan_make(&b->plan, all, b->n_items);
    const decide_plan *pl = &b->plan;
    size_t n = b->n_sent = b->planned ? b->plan.n_sent : b->n_items;
    resp_cmd cmd;
    /* FCALL of the function, or the script's EVALSHA where functions are refused */
    bool fcall = s->fn_ok;
    size_t sha_off = fcall ? call_begin(s, &cmd, "FCALL", s->fn_name, 14 + (int)n * 2, 512 + n * 256)
                           : evalsha_begin(s, &cmd, SCRIPT_DECIDE, 14 + (int)n * 2, 512 + n * 256);
    resp_i64(&cmd, s->dq_now);
    resp_i64(&cmd, p->dedup_ttl_ms);
    resp_i64(&cmd, p->lease_ms);
    resp_arg(&cmd, p->storm_enabled ? "1" : "0", 1);
    resp_i64(&cmd, p->rate_threshold);
    resp_i64(&cmd, p->rate_window_ms);
    resp_i64(&cmd, p->pattern_threshold);
    resp_i64(&cmd, p->pattern_window_ms);
    resp_i64(&cmd, p->storm_window_ms);
    resp_i64(&cmd, p->storm_flag_ttl_ms);
    resp_i64(&cmd, p->storm_max_resources);
    resp_i64(&cmd, (int64_t)n);
    /* the callers' sizes (of what is sent for each): decide.lua keeps each caller's storm
     * groups apart; an alert sent once belongs to the caller of its first occurrence */
    char *buf = xmalloc((b->ne > n ? b->ne : n) * 22 + 1);
    size_t sl = 0;
    for (size_t k = 0, g = 0; k < b->ne; k++) {
        size_t part = 0;
        for (size_t i = 0; i < b->e[k].n; i++, g++) part += !b->planned || pl->rank[g] == 1;
        if (k) buf[sl++] = ',';
        sl += fmt_u64(buf + sl, part);
    }
    resp_arg(&cmd, buf, sl);
    /* the repeats: "i:m,..." (1-based) for every item sent for m > 1 occurrences */
    sl = 0;
    for (size_t u = 0; b->planned && u < n; u++) {
        if (pl->mult[u] < 2) continue;
        if (sl) buf[sl++] = ',';
        sl += fmt_u64(buf + sl, u + 1);
        buf[sl++] = ':';
        sl += fmt_u64(buf + sl, pl->mult[u]);
    }
    resp_arg(&cmd, buf, sl);
    free(buf);
    for (size_t u = 0; u < n; u++) {
        const store_item *it = all[b->planned ? pl->first[u] : u];
        resp_str(&cmd, it->fingerprint);
        decide_item_meta(&cmd, it);
    }
    free(all);
    metrics_observe("gateway_redis_decide_batch_requests", "", (double)b->ne);
    rcall *c = rcall_frame(s, decide_reply, b, &cmd, sha_off, fcall ? -1 : SCRIPT_DECIDE);
    if (!c) decide_reply(s, NULL, "connection lost", b);
    else c->fcall = fcall;
    /* decide is timed by the pipeline, for every store */
}

/* The eager flush: once DECIDE_EAGER_ITEMS alerts wait and Redis has no decide batch of
 * ours in hand, the batch goes out now and its bytes are written at once, so Redis works on
 * it while this iteration goes on reading requests (otherwise everything read in one
 * iteration waits for one write at the next poll, and gateway and Redis take turns instead
 * of overlapping). With a batch already in flight the rest waits for the iteration's end
 * as before, so under heavy load batches stay large and Redis' cost per alert does not grow
 * (docs/benchmarks.md, session 3). Never from inside a hiredis callback: a failed write
 * frees the context there. */
static void decide_flush_now(rstore *s)
{
    decide_flush(s);
    redisAsyncContext *ac = s->ac;
    if (ac && s->state == R_READY && !(ac->c.flags & (REDIS_IN_CALLBACK | REDIS_DISCONNECTING | REDIS_FREEING)))
        redisAsyncHandleWrite(ac);
}

static void on_dq_check(uv_check_t *h) { decide_flush(h->data); }
static void on_dq_idle(uv_idle_t *h) { (void)h; }

static bool params_equal(const store_params *a, const store_params *b)
{
    return a->dedup_ttl_ms == b->dedup_ttl_ms && a->lease_ms == b->lease_ms && a->storm_enabled == b->storm_enabled &&
           a->rate_threshold == b->rate_threshold && a->rate_window_ms == b->rate_window_ms &&
           a->pattern_threshold == b->pattern_threshold && a->pattern_window_ms == b->pattern_window_ms &&
           a->storm_window_ms == b->storm_window_ms && a->storm_flag_ttl_ms == b->storm_flag_ttl_ms &&
           a->storm_max_resources == b->storm_max_resources;
}

static void r_decide(store *st, const store_params *p, store_item *items, size_t n, int64_t now, arena *a,
                     store_cb cb, void *ctx)
{
    rstore *s = (rstore *)st;
    if (s->state != R_READY || s->closing) {
        cb(STORE_E_UNAVAILABLE, ctx);
        return;
    }
    if (s->ndq && (!params_equal(&s->dq_params, p) || s->dq_items + n > DECIDE_BATCH_MAX)) decide_flush(s);
    if (!s->ndq) {
        s->dq_params = *p;
        s->dq_now = now;
        uv_check_start(&s->dq_check, on_dq_check);
        uv_idle_start(&s->dq_idle, on_dq_idle);
    }
    if (now > s->dq_now) s->dq_now = now;
    if (s->ndq == s->capdq) {
        s->capdq = s->capdq ? s->capdq * 2 : 8;
        s->dq = xrealloc(s->dq, s->capdq * sizeof *s->dq);
    }
    s->dq[s->ndq++] = (dentry){items, n, a, cb, ctx};
    s->dq_items += n;
    if (s->dq_items >= DECIDE_EAGER_ITEMS && s->dq_inflight == 0) decide_flush_now(s);
}

static void simple_reply(rstore *s, redisReply *r, const char *err, void *ctx)
{
    op_ctx *o = ctx;
    store_cb cb = o->cb;
    void *uctx = o->ctx;
    free(o);
    cb(err ? STORE_E_UNAVAILABLE : STORE_OK, uctx);
}

static void r_commit(store *st, const store_params *p, const store_commit *items, size_t n, int64_t now, store_cb cb,
                     void *ctx)
{
    rstore *s = (rstore *)st;
    if (s->state != R_READY) {
        cb(STORE_E_UNAVAILABLE, ctx);
        return;
    }
    resp_cmd cmd;
    size_t sha_off = evalsha_begin(s, &cmd, SCRIPT_COMMIT, 3 + (int)n * 7, 256 + n * 192);
    resp_i64(&cmd, now);
    resp_i64(&cmd, p->dedup_ttl_ms);
    resp_i64(&cmd, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        resp_str(&cmd, items[i].fingerprint);
        resp_str(&cmd, items[i].name);
        resp_str(&cmd, items[i].namespace);
        resp_i64(&cmd, items[i].verdict);
        resp_u64(&cmd, items[i].lease);
        resp_arg(&cmd, items[i].ok ? "1" : "0", 1);
        resp_str(&cmd, items[i].ref);
    }
    op_ctx *o = xcalloc(1, sizeof *o);
    o->cb = cb;
    o->ctx = ctx;
    rcall *c = rcall_frame(s, simple_reply, o, &cmd, sha_off, SCRIPT_COMMIT);
    if (!c) {
        free(o);
        cb(STORE_E_UNAVAILABLE, ctx);
        return;
    }
    (void)c;   /* commit is timed by the pipeline, for every store */
}

static void claim_reply(rstore *s, redisReply *r, const char *err, void *ctx)
{
    op_ctx *o = ctx;
    int status = STORE_OK;
    *o->fout = NULL;
    *o->fn = 0;
    if (err || !r || r->type != REDIS_REPLY_ARRAY) {
        status = err ? STORE_E_UNAVAILABLE : STORE_E_PROTOCOL;
        goto out;
    }
    store_flush *out = arena_calloc(o->a, (r->elements ? r->elements : 1) * sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        long long cnt, ls, start, lease;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 9 || reply_int(e->element[3], &cnt) < 0 ||
            reply_int(e->element[4], &ls) < 0 || reply_int(e->element[6], &start) < 0 ||
            reply_int(e->element[7], &lease) < 0)
            continue;
        store_flush *f = &out[n++];
        f->name = reply_str(e->element[0], o->a);
        f->namespace = reply_str(e->element[1], o->a);
        f->ref = reply_str(e->element[2], o->a);
        f->count = cnt;
        f->last_seen_ms = ls;
        f->storm_type = reply_str(e->element[5], o->a);
        f->lease = (uint64_t)lease;
        store_storm_id(f->name ? f->name : "", f->namespace ? f->namespace : "", start, f->storm_hash);
        redisReply *res = e->element[8];
        f->resources = arena_alloc(o->a, (res->elements ? res->elements : 1) * sizeof(char *));
        for (size_t k = 0; k < res->elements; k++) {
            const char *rs = reply_str(res->element[k], o->a);
            if (rs) f->resources[f->n_resources++] = rs;
        }
        if (!f->name || !f->namespace || !f->ref) n--;
    }
    *o->fout = out;
    *o->fn = n;
out:
    {
        store_cb cb = o->cb;
        void *uctx = o->ctx;
        free(o);
        cb(status, uctx);
    }
}

static void r_claim_flush(store *st, const store_params *p, int64_t now, size_t max, arena *a, store_flush **out,
                          size_t *n, store_cb cb, void *ctx)
{
    rstore *s = (rstore *)st;
    *out = NULL;
    *n = 0;
    if (s->state != R_READY) {
        cb(STORE_E_UNAVAILABLE, ctx);
        return;
    }
    const char *argv[8] = {"EVALSHA", s->sha[SCRIPT_CLAIM], "0", s->t.prefix, arena_i64(a, now),
                           arena_i64(a, p->storm_update_interval_ms), arena_i64(a, p->lease_ms), arena_i64(a, (int64_t)max)};
    op_ctx *o = xcalloc(1, sizeof *o);
    *o = (op_ctx){.cb = cb, .ctx = ctx, .a = a, .fout = out, .fn = n};
    rcall *c = rcall_new(s, claim_reply, o, 8, argv, NULL, SCRIPT_CLAIM);
    if (!c) {
        free(o);
        cb(STORE_E_UNAVAILABLE, ctx);
        return;
    }
    c->op = "claim";
}

static void r_flushed(store *st, const store_params *p, const store_flush *f, bool ok, int64_t now, store_cb cb,
                      void *ctx)
{
    rstore *s = (rstore *)st;
    if (s->state != R_READY) {
        cb(STORE_E_UNAVAILABLE, ctx);
        return;
    }
    char nowb[24], lease[24], cnt[24];
    snprintf(nowb, sizeof nowb, "%lld", (long long)now);
    snprintf(lease, sizeof lease, "%llu", (unsigned long long)f->lease);
    snprintf(cnt, sizeof cnt, "%lld", (long long)f->count);
    const char *argv[10] = {"EVALSHA", s->sha[SCRIPT_FLUSHED], "0", s->t.prefix, nowb, f->name, f->namespace,
                            lease, ok ? "1" : "0", cnt};
    op_ctx *o = xcalloc(1, sizeof *o);
    o->cb = cb;
    o->ctx = ctx;
    rcall *c = rcall_new(s, simple_reply, o, 10, argv, NULL, SCRIPT_FLUSHED);
    if (!c) {
        free(o);
        cb(STORE_E_UNAVAILABLE, ctx);
        return;
    }
    c->op = "flushed";
}

static int r_ready(store *st, char *why, size_t cap)
{
    rstore *s = (rstore *)st;
    if (s->state == R_READY) return 1;
    snprintf(why, cap, "redis: %s", s->last_error[0] ? s->last_error : "connecting");
    return 0;
}

static void maybe_free(rstore *s)
{
    if (!s->closing || s->pending_handles > 0) return;
    target_clear(&s->t);
    free(s->fn_code);
    free(s);
}

static void handle_closed(uv_handle_t *h)
{
    rstore *s = h->data;
    s->pending_handles--;
    maybe_free(s);
}

/* Starts closing; the memory goes once libuv has closed every handle (the caller runs the
 * loop until it is empty, then closes it). */
static void r_close(store *st)
{
    rstore *s = (rstore *)st;
    s->closing = true;
    s->pending_handles = 4;
    decide_flush(s);   /* queued decides fail now (state is no longer READY, or they are sent and fail below) */
    uv_timer_stop(&s->backoff_timer);
    uv_timer_stop(&s->connect_timer);
    if (s->sac) {
        s->sac->data = NULL;
        redisAsyncFree(s->sac);
        s->sac = NULL;
    }
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        s->pending_handles++;
        redisAsyncFree(ac);   /* pending commands fail now; on_disconnect if it was connected */
        if (s->ac == ac) {    /* it never connected: no callback */
            s->ac = NULL;
            s->pending_handles--;
        }
    }
    if (s->gai_busy) {
        s->pending_handles++;
        uv_cancel((uv_req_t *)&s->gai);
    }
    uv_close((uv_handle_t *)&s->backoff_timer, handle_closed);
    uv_close((uv_handle_t *)&s->connect_timer, handle_closed);
    uv_close((uv_handle_t *)&s->dq_check, handle_closed);
    uv_close((uv_handle_t *)&s->dq_idle, handle_closed);
}

static const store_ops redis_ops = {
    .name = "redis",
    .decide = r_decide,
    .commit = r_commit,
    .claim_flush = r_claim_flush,
    .flushed = r_flushed,
    .ready = r_ready,
    .close = r_close,
};

store *store_redis_open(uv_loop_t *loop, const char *url, const char *prefix, int command_timeout_ms,
                        char *err, size_t errlen)
{
    rstore *s = xcalloc(1, sizeof *s);
    if (redis_target_parse(url, &s->t, err, errlen) < 0) {
        free(s);
        return NULL;
    }
    s->t.prefix = prefix;
    s->t.command_timeout_ms = command_timeout_ms > 0 ? command_timeout_ms : 2000;
    s->t.connect_timeout_ms = 2000;
    s->base.ops = &redis_ops;
    s->loop = loop;
    if (getrandom(&s->seed, sizeof s->seed, 0) != sizeof s->seed || !s->seed) s->seed = 0x9e3779b97f4a7c15ULL;
    uv_timer_init(loop, &s->backoff_timer);
    uv_timer_init(loop, &s->connect_timer);
    uv_check_init(loop, &s->dq_check);
    uv_idle_init(loop, &s->dq_idle);
    s->backoff_timer.data = s->connect_timer.data = s;
    s->dq_check.data = s->dq_idle.data = s;
    snprintf(s->last_error, sizeof s->last_error, "connecting");
    connect_start(s);
    return &s->base;
}
