/* redis_conn.c: one worker loop's connection to the Redis primary; redis_conn.h describes
 * its life. hiredis 0.14 has no command timeouts: each command carries its own uv timer, whose
 * expiry fails it and drops the connection (which fails the others: 503, retried upstream). */
#include "state/redis_conn.h"
#include "metrics.h"
#include "state/redis_uv.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char *script_names[REDIS_N_SCRIPTS] = {"decide", "commit", "claim", "flushed"};

/* The script sources, generated from src/state/scripts at build time. */
extern const char *const sgw_lua_decide, *const sgw_lua_commit, *const sgw_lua_claim, *const sgw_lua_flushed;
static const char *const *const script_src[REDIS_N_SCRIPTS] = {&sgw_lua_decide, &sgw_lua_commit, &sgw_lua_claim,
                                                               &sgw_lua_flushed};

_Static_assert(REDIS_HS_LOAD_FLUSHED - REDIS_HS_LOAD_DECIDE + 1 == REDIS_N_SCRIPTS,
               "one SCRIPT LOAD step per script, in redis_script order");

static void connect_start(redis_conn *c);
static void connection_lost(redis_conn *c, const char *why);
static void connection_kill(redis_conn *c, const char *why);
static void maybe_closed(redis_conn *c);

/* ---- commands with timeouts ------------------------------------------------------------ */

typedef struct rcall rcall;

struct rcall {
    redis_conn     *conn;
    uv_timer_t      timer;
    int             refs;          /* hiredis callback + timer close */
    bool            done;
    redis_reply_cb  fn;
    void           *ctx;
    int             script;        /* >= 0: an EVALSHA that may be retried after NOSCRIPT */
    bool            fcall;         /* an FCALL of conn->fn_name, retried after "Function not found" */
    bool            retried;
    char           *frame;         /* the RESP command, written once (resp.h) */
    size_t          frame_len;
    size_t          sha_off;       /* script: where the 40-hex SHA sits in frame, patched on NOSCRIPT */
    double          t0;
    const char     *op;
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
    c->fn(r, err, c->ctx);
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

static void script_reloaded(redisReply *r, const char *err, void *ctx)
{
    rcall *orig = ctx;
    redis_conn *c = orig->conn;
    if (err || !r || r->type != REDIS_REPLY_STRING || r->len != 40) {
        retry_reloaded(orig, err ? err : "script reload failed");
        return;
    }
    memcpy(c->sha[orig->script], r->str, 40);
    c->sha[orig->script][40] = '\0';
    memcpy(orig->frame + orig->sha_off, r->str, 40);
    retry_reloaded(orig, NULL);
}

static void function_reloaded(redisReply *r, const char *err, void *ctx)
{
    rcall *orig = ctx;
    if (r && r->type == REDIS_REPLY_ERROR) {
        /* refused now (an ACL or the server changed under us): this call fails (503, retried
         * by the sender) and the next ones run decide as a script */
        orig->conn->fn_ok = false;
        log_msg(LOG_WARN, "redis: FUNCTION LOAD refused, decide runs as a script (EVALSHA)", "error", r->str);
    }
    retry_reloaded(orig, err ? err : !r || r->type != REDIS_REPLY_STRING ? "function reload failed" : NULL);
}

static rcall *rcall_new(redis_conn *conn, redis_reply_cb fn, void *ctx, int argc, const char **argv,
                        const size_t *lens, int script);

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    rcall *c = priv;
    redisReply *r = reply;
    redis_conn *conn = c->conn;
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
            const char *argv[4] = {"FUNCTION", "LOAD", "REPLACE", conn->fn_code};
            size_t lens[4] = {8, 4, 7, strlen(conn->fn_code)};
            log_msg(LOG_WARN, "redis: the decide function is gone, reloading it", "function", conn->fn_name);
            if (!rcall_new(conn, function_reloaded, c, 4, argv, lens, -1)) {
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
            rcall *load = rcall_new(conn, script_reloaded, c, 3, argv, lens, -1);
            if (!load) {
                rcall_finish(c, NULL, "connection lost");
                rcall_unref(c);
            }
            return;   /* c's hiredis ref is released by script_reloaded */
        }
        if (!strncmp(r->str, "READONLY", 8) || !strncmp(r->str, "LOADING", 7) || !strncmp(r->str, "MASTERDOWN", 10)) {
            rcall_finish(c, NULL, r->str);
            rcall_unref(c);
            connection_lost(conn, r->str);
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
    redis_conn *conn = c->conn;
    rcall_finish(c, NULL, "command timed out");
    connection_kill(conn, "command timed out");
}

static int rcall_send(rcall *c)
{
    redis_conn *conn = c->conn;
    if (!conn->ac) return SGW_E_UNAVAILABLE;
    c->refs++;
    if (redisAsyncFormattedCommand(conn->ac, on_reply, c, c->frame, c->frame_len) != REDIS_OK) {
        c->refs--;
        return SGW_E_UNAVAILABLE;
    }
    return 0;
}

/* Sends cmd (taken over: its buffer is the rcall's now) on the primary connection; fn runs
 * exactly once (reply, error or timeout). script >= 0: an EVALSHA whose SHA is at sha_off.
 * NULL if it could not be sent (fn will not run). */
static rcall *rcall_frame(redis_conn *conn, redis_reply_cb fn, void *ctx, resp_cmd *cmd, size_t sha_off, int script)
{
    rcall *c = xcalloc(1, sizeof *c);
    c->conn = conn;
    c->fn = fn;
    c->ctx = ctx;
    c->script = script;
    c->frame = cmd->buf;
    c->frame_len = cmd->len;
    c->sha_off = sha_off;
    cmd->buf = NULL;
    c->t0 = time_mono_s();
    uv_timer_init(conn->loop, &c->timer);
    c->timer.data = c;
    c->refs = 1;   /* the timer */
    if (rcall_send(c) < 0) {
        uv_close((uv_handle_t *)&c->timer, rcall_timer_closed);
        return NULL;
    }
    uv_timer_start(&c->timer, on_cmd_timeout, (uint64_t)conn->t.command_timeout_ms, 0);
    return c;
}

/* The same from an argv (lens NULL: strlen); for an EVALSHA argv[1] is the SHA. */
static rcall *rcall_new(redis_conn *conn, redis_reply_cb fn, void *ctx, int argc, const char **argv,
                        const size_t *lens, int script)
{
    resp_cmd cmd;
    size_t sha_off = 0;
    resp_begin(&cmd, argc, 256);
    for (int i = 0; i < argc; i++) {
        size_t at = resp_arg(&cmd, argv[i], lens ? lens[i] : strlen(argv[i]));
        if (i == 1) sha_off = at;
    }
    return rcall_frame(conn, fn, ctx, &cmd, sha_off, script);
}

redis_call redis_conn_begin(redis_conn *c, resp_cmd *cmd, redis_script script, int nargs, size_t cap_hint)
{
    redis_call call = {.script = script, .fcall = script == REDIS_SCRIPT_DECIDE && c->fn_ok};
    resp_begin(cmd, 4 + nargs, cap_hint);
    resp_str(cmd, call.fcall ? "FCALL" : "EVALSHA");
    call.name_off = resp_str(cmd, call.fcall ? c->fn_name : c->sha[script]);
    resp_arg(cmd, "0", 1);
    resp_str(cmd, c->t.prefix);
    return call;
}

int redis_conn_send(redis_conn *c, resp_cmd *cmd, const redis_call *call, const char *op, redis_reply_cb cb,
                    void *ctx)
{
    rcall *rc = rcall_frame(c, cb, ctx, cmd, call->name_off, call->fcall ? -1 : (int)call->script);
    if (!rc) return SGW_E_UNAVAILABLE;
    rc->fcall = call->fcall;
    rc->op = op;
    return 0;
}

void redis_conn_write_now(redis_conn *c)
{
    redisAsyncContext *ac = c->ac;
    if (ac && c->state == REDIS_CONN_READY && !(ac->c.flags & (REDIS_IN_CALLBACK | REDIS_DISCONNECTING | REDIS_FREEING)))
        redisAsyncHandleWrite(ac);
}

/* ---- connection lifecycle --------------------------------------------------------------- */

static uint64_t next_rand(redis_conn *c)
{
    c->seed ^= c->seed << 13;
    c->seed ^= c->seed >> 7;
    c->seed ^= c->seed << 17;
    return c->seed;
}

static void on_backoff(uv_timer_t *t) { connect_start(t->data); }

static void schedule_reconnect(redis_conn *c)
{
    if (c->closing) return;
    c->state = REDIS_CONN_IDLE;
    int base = c->backoff_ms ? c->backoff_ms : 100;
    int delay = base / 2 + (int)(next_rand(c) % (uint64_t)(base / 2 + 1));   /* jitter: [base/2, base] */
    c->backoff_ms = base * 2 > 5000 ? 5000 : base * 2;
    uv_timer_start(&c->backoff_timer, on_backoff, (uint64_t)delay, 0);
}

/* Not ready from now on, for the reason why (what /readyz shows, after "redis: "). Every
 * way out of READY passes here first. */
static void set_down(redis_conn *c, const char *why)
{
    char reason[256];
    snprintf(reason, sizeof reason, "redis: %s", why[0] ? why : "connecting");
    health_set(&c->health, false, reason);
    if (c->closing) return;
    if (!c->down_since_ms) {
        c->down_since_ms = time_now_ms();
        log_msg(LOG_ERROR, "redis unavailable", "error", why);
        metrics_add("gateway_redis_disconnects_total", "", 1);
    }
}

static void connection_lost(redis_conn *c, const char *why)
{
    set_down(c, why);
    uv_timer_stop(&c->connect_timer);
    if (c->ac && c->state == REDIS_CONN_CONNECTING) {
        /* hiredis 0.14 calls neither the connect nor the disconnect callback for a
         * context freed before it connected: free it here and start over */
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->state = REDIS_CONN_IDLE;   /* not ready from this instant */
        /* inside a hiredis callback only a deferred disconnect is allowed; the server is
         * answering (it just said no), so its pending replies will come */
        redisAsyncDisconnect(ac);
    } else if (c->state != REDIS_CONN_IDLE && c->state != REDIS_CONN_SENTINEL && c->state != REDIS_CONN_RESOLVING) {
        schedule_reconnect(c);
    }
}

/* From outside hiredis callbacks (timers): the server may be hung, so waiting for its
 * pending replies (what redisAsyncDisconnect does) could wait forever. Free the context:
 * pending commands fail at once, on_disconnect schedules the reconnect. */
static void connection_kill(redis_conn *c, const char *why)
{
    set_down(c, why);
    uv_timer_stop(&c->connect_timer);
    if (c->ac && c->state == REDIS_CONN_CONNECTING) {
        connection_lost(c, why);
        return;
    }
    c->state = REDIS_CONN_IDLE;   /* not ready from this instant */
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        redisAsyncFree(ac);   /* runs on_disconnect (it was connected) */
        if (c->ac == ac) {    /* not connected after all: no callback came */
            c->ac = NULL;
            schedule_reconnect(c);
        }
    } else {
        schedule_reconnect(c);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    redis_conn *c = ac->data;
    if (!c) return;
    c->ac = NULL;
    if (c->closing) {
        c->pending--;
        maybe_closed(c);
        return;
    }
    set_down(c, ac->errstr[0] ? ac->errstr : "disconnected");
    schedule_reconnect(c);
}

/* ---- the handshake ---------------------------------------------------------------------- */

static void handshake_next(redis_conn *c);

/* The library FUNCTION LOAD takes: a name per version of decide.lua (replicas of different
 * versions each call their own during a rolling upgrade), the function's name, the file. */
static void build_function(redis_conn *c)
{
    char hex[17];
    memcpy(hex, c->sha[REDIS_SCRIPT_DECIDE], 16);
    hex[16] = '\0';
    snprintf(c->fn_name, sizeof c->fn_name, "sgw_decide_%s", hex);
    char head[128];
    int h = snprintf(head, sizeof head, "#!lua name=sgw_%s\nlocal SGW_FUNCTION = '%s'\n", hex, c->fn_name);
    size_t n = strlen(sgw_lua_decide);
    free(c->fn_code);
    c->fn_code = xmalloc((size_t)h + n + 1);
    memcpy(c->fn_code, head, (size_t)h);
    memcpy(c->fn_code + h, sgw_lua_decide, n + 1);
}

static void handshake_reply(redisReply *r, const char *err, void *ctx)
{
    redis_conn *c = ctx;
    if (c->step == REDIS_HS_LOAD_FUNCTION && r) {   /* an answer either way */
        c->fn_ok = r->type == REDIS_REPLY_STRING;
        if (!c->fn_ok)
            log_msg(LOG_WARN, "redis: FUNCTION LOAD refused, decide runs as a script (EVALSHA)", "error",
                    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        c->step = REDIS_HS_DONE;
        handshake_next(c);
        return;
    }
    if (err) {
        char why[300];
        snprintf(why, sizeof why, "handshake: %s", err);
        connection_lost(c, why);
        return;
    }
    switch (c->step) {
    case REDIS_HS_ROLE:
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING ||
            strcmp(r->element[0]->str, "master") != 0) {
            connection_lost(c, "sentinel named a server that is not a master");
            return;
        }
        break;
    case REDIS_HS_LOAD_DECIDE:
    case REDIS_HS_LOAD_COMMIT:
    case REDIS_HS_LOAD_CLAIM:
    case REDIS_HS_LOAD_FLUSHED:
        if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
            connection_lost(c, "SCRIPT LOAD failed");
            return;
        }
        memcpy(c->sha[c->step - REDIS_HS_LOAD_DECIDE], r->str, 40);
        c->sha[c->step - REDIS_HS_LOAD_DECIDE][40] = '\0';
        break;
    default:
        break;
    }
    c->step++;
    handshake_next(c);
}

static void handshake_done(redis_conn *c)
{
    c->state = REDIS_CONN_READY;
    c->backoff_ms = 0;
    uv_timer_stop(&c->connect_timer);
    log_line l;
    if (log_begin(&l, LOG_INFO, c->down_since_ms ? "redis connection restored" : "redis connected")) {
        log_str(&l, "host", c->host);
        log_int(&l, "port", c->port);
        if (c->down_since_ms) log_int(&l, "down_ms", (long long)(time_now_ms() - c->down_since_ms));
        log_end(&l);
    }
    c->down_since_ms = 0;
    health_set(&c->health, true, NULL);
}

/* Whether the step has nothing to do for this target. */
static bool handshake_skips(const redis_conn *c, redis_handshake step)
{
    switch (step) {
    case REDIS_HS_AUTH: return !c->t.password;
    case REDIS_HS_SELECT: return !c->t.db;
    case REDIS_HS_ROLE: return !c->t.sentinel;
    default: return false;
    }
}

/* Sends the command of the current step (or of the next one that applies). */
static void handshake_next(redis_conn *c)
{
    while (c->step < REDIS_HS_DONE && handshake_skips(c, c->step)) c->step++;
    const char *argv[4];
    int argc = 0;
    char db[16];
    switch (c->step) {
    case REDIS_HS_AUTH:
        argv[0] = "AUTH";
        argv[1] = c->t.password;
        argc = 2;
        break;
    case REDIS_HS_SELECT:
        snprintf(db, sizeof db, "%d", c->t.db);
        argv[0] = "SELECT";
        argv[1] = db;
        argc = 2;
        break;
    case REDIS_HS_ROLE:
        argv[0] = "ROLE";
        argc = 1;
        break;
    case REDIS_HS_LOAD_DECIDE:
    case REDIS_HS_LOAD_COMMIT:
    case REDIS_HS_LOAD_CLAIM:
    case REDIS_HS_LOAD_FLUSHED:
        argv[0] = "SCRIPT";
        argv[1] = "LOAD";
        argv[2] = *script_src[c->step - REDIS_HS_LOAD_DECIDE];
        argc = 3;
        break;
    case REDIS_HS_LOAD_FUNCTION:
        build_function(c);
        argv[0] = "FUNCTION";
        argv[1] = "LOAD";
        argv[2] = "REPLACE";
        argv[3] = c->fn_code;
        argc = 4;
        break;
    case REDIS_HS_DONE:
        handshake_done(c);
        return;
    }
    if (!rcall_new(c, handshake_reply, c, argc, argv, NULL, -1)) connection_lost(c, "send failed");
}

/* ---- connect ---------------------------------------------------------------------------- */

static void on_connect(const redisAsyncContext *ac, int status)
{
    redis_conn *c = ac->data;
    if (!c) return;
    if (status != REDIS_OK) {
        c->ac = NULL;   /* hiredis frees it after this callback */
        char why[300];
        snprintf(why, sizeof why, "connect %s:%d: %s", c->host, c->port, ac->errstr);
        set_down(c, why);
        uv_timer_stop(&c->connect_timer);
        schedule_reconnect(c);
        return;
    }
    c->state = REDIS_CONN_HANDSHAKE;
    c->step = REDIS_HS_AUTH;
    handshake_next(c);
}

static void on_connect_timeout(uv_timer_t *t)
{
    redis_conn *c = t->data;
    connection_kill(c, "connect timed out");
}

static void connect_ip(redis_conn *c, const char *ip)
{
    c->state = REDIS_CONN_CONNECTING;
    redisAsyncContext *ac = redisAsyncConnect(ip, c->port);
    if (!ac || ac->err) {
        char why[300];
        snprintf(why, sizeof why, "connect %s:%d: %s", ip, c->port, ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        set_down(c, why);
        schedule_reconnect(c);
        return;
    }
    ac->data = c;
    if (redis_uv_attach(ac, c->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        set_down(c, "libuv attach failed");
        schedule_reconnect(c);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    uv_timer_start(&c->connect_timer, on_connect_timeout, (uint64_t)c->t.connect_timeout_ms, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    redis_conn *c = req->data;
    c->gai_busy = false;
    if (c->closing) {
        if (res) uv_freeaddrinfo(res);
        c->pending--;
        maybe_closed(c);
        return;
    }
    if (status < 0 || !res) {
        char why[300];
        snprintf(why, sizeof why, "resolve %s: %s", c->host, uv_strerror(status));
        set_down(c, why);
        schedule_reconnect(c);
        return;
    }
    char ip[64] = "";
    if (res->ai_family == AF_INET) uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof ip);
    else uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);
    connect_ip(c, ip);
}

/* DNS by uv_getaddrinfo (the thread pool): a slow resolver never blocks the loop. */
static void resolve_and_connect(redis_conn *c, const char *host, int port)
{
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->state = REDIS_CONN_RESOLVING;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->gai.data = c;
    c->gai_busy = true;
    if (uv_getaddrinfo(c->loop, &c->gai, on_resolved, host, NULL, &hints) < 0) {
        c->gai_busy = false;
        set_down(c, "resolve failed");
        schedule_reconnect(c);
    }
}

/* ---- sentinel discovery -------------------------------------------------------------------- */

static void sentinel_try(redis_conn *c);

static void sentinel_disconnected(const redisAsyncContext *ac, int status)
{
    redis_conn *c = ac->data;
    if (c && c->sac == ac) c->sac = NULL;
}

static void sentinel_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    redis_conn *c = priv;
    redisReply *r = reply;
    if (c->sac != ac) return;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        char host[256];
        snprintf(host, sizeof host, "%s", r->element[0]->str);
        int port = atoi(r->element[1]->str);
        redisAsyncDisconnect(ac);
        c->sac = NULL;
        resolve_and_connect(c, host, port);
        return;
    }
    redisAsyncDisconnect(ac);
    c->sac = NULL;
    c->sentinel_idx++;
    sentinel_try(c);
}

static void sentinel_connected(const redisAsyncContext *ac, int status)
{
    redis_conn *c = ac->data;
    if (!c || c->sac != ac) return;
    if (status != REDIS_OK) {
        c->sac = NULL;
        c->sentinel_idx++;
        sentinel_try(c);
        return;
    }
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", c->t.master};
    redisAsyncCommandArgv(c->sac, sentinel_reply, c, 3, argv, NULL);
}

static void sentinel_try(redis_conn *c)
{
    if (c->sentinel_idx >= c->t.n_hosts) {
        c->sentinel_idx = 0;
        set_down(c, "no sentinel could name the primary");
        schedule_reconnect(c);
        return;
    }
    c->state = REDIS_CONN_SENTINEL;
    /* sentinels are configured by address; hostnames are resolved by hiredis here (once
     * per discovery), which is acceptable for the few sentinel addresses of a cluster */
    redisAsyncContext *ac = redisAsyncConnect(c->t.hosts[c->sentinel_idx], c->t.ports[c->sentinel_idx]);
    if (!ac || ac->err) {
        if (ac) redisAsyncFree(ac);
        c->sentinel_idx++;
        sentinel_try(c);
        return;
    }
    ac->data = c;
    redis_uv_attach(ac, c->loop);
    redisAsyncSetConnectCallback(ac, sentinel_connected);
    redisAsyncSetDisconnectCallback(ac, sentinel_disconnected);
    c->sac = ac;
}

static void connect_start(redis_conn *c)
{
    if (c->closing) return;
    if (c->t.sentinel) {
        sentinel_try(c);
        return;
    }
    resolve_and_connect(c, c->t.hosts[0], c->t.ports[0]);
}

/* ---- open, close, health ------------------------------------------------------------------ */

int redis_conn_health(redis_conn *c, char *why, size_t cap) { return health_get(&c->health, why, cap); }

static void maybe_closed(redis_conn *c)
{
    if (!c->closing || c->pending > 0) return;
    redis_target_free(&c->t);
    free(c->fn_code);
    c->fn_code = NULL;
    health_destroy(&c->health);
    c->closed(c);   /* c is the caller's again: touch nothing after this */
}

static void handle_closed(uv_handle_t *h)
{
    redis_conn *c = h->data;
    c->pending--;
    maybe_closed(c);
}

void redis_conn_close(redis_conn *c, redis_conn_closed_cb closed)
{
    c->closing = true;
    c->closed = closed;
    c->pending = 2;   /* the two timers */
    uv_timer_stop(&c->backoff_timer);
    uv_timer_stop(&c->connect_timer);
    if (c->sac) {
        c->sac->data = NULL;
        redisAsyncFree(c->sac);
        c->sac = NULL;
    }
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->pending++;
        redisAsyncFree(ac);   /* pending commands fail now; on_disconnect if it was connected */
        if (c->ac == ac) {    /* it never connected: no callback */
            c->ac = NULL;
            c->pending--;
        }
    }
    if (c->gai_busy) {
        c->pending++;
        uv_cancel((uv_req_t *)&c->gai);
    }
    uv_close((uv_handle_t *)&c->backoff_timer, handle_closed);
    uv_close((uv_handle_t *)&c->connect_timer, handle_closed);
}

int redis_conn_init(uv_loop_t *loop, redis_conn *c, const char *url, const char *prefix, int command_timeout_ms,
                    char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    int rc = redis_target_parse(url, &c->t, err, errlen);
    if (rc < 0) return rc;
    c->t.prefix = prefix;
    c->t.command_timeout_ms = command_timeout_ms > 0 ? command_timeout_ms : 2000;
    c->t.connect_timeout_ms = 2000;
    c->loop = loop;
    if (getrandom(&c->seed, sizeof c->seed, 0) != sizeof c->seed || !c->seed) c->seed = 0x9e3779b97f4a7c15ULL;
    health_init(&c->health, "redis: connecting");
    uv_timer_init(loop, &c->backoff_timer);
    uv_timer_init(loop, &c->connect_timer);
    c->backoff_timer.data = c->connect_timer.data = c;
    connect_start(c);
    return 0;
}
