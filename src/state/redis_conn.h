/* redis_conn.h: one worker loop's connection to the Redis primary, for the Redis store
 * (redis.c): DNS off the loop, Sentinel discovery, the handshake that loads the scripts,
 * commands with timeouts, and reconnection after a capped, jittered back-off.
 *
 * A connection goes
 *   [sentinel: ask each sentinel in turn for the primary] → resolve → connect →
 *   handshake (AUTH, SELECT, ROLE, SCRIPT LOAD ×4, FUNCTION LOAD) → READY
 * and, when anything fails, back to the start after the back-off (100 ms doubling to 5 s,
 * each delay drawn from [half, whole]). With Sentinel the primary is asked for again after
 * every disconnect or READONLY reply, which is how a failover is followed.
 *
 * Like a libuv handle, the struct is the caller's (embedded in the store), initialised by
 * redis_conn_init and closed by redis_conn_close; its fields are private to redis_conn.c,
 * except that the owner may read state. Everything runs on the loop's thread, except
 * redis_conn_health, which any thread may call. */
#ifndef SGW_STATE_REDIS_CONN_H
#define SGW_STATE_REDIS_CONN_H
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "state/redis_target.h"
#include "state/resp.h"
#include "util/health.h"

/* The scripts of src/state/scripts, loaded by the handshake; decide.lua is also loaded as a
 * Redis function (FCALL), where the server allows it. */
typedef enum {
    REDIS_SCRIPT_DECIDE,
    REDIS_SCRIPT_COMMIT,
    REDIS_SCRIPT_CLAIM,
    REDIS_SCRIPT_FLUSHED,
    REDIS_N_SCRIPTS,
} redis_script;

typedef enum {
    REDIS_CONN_IDLE,        /* waiting for the back-off timer */
    REDIS_CONN_SENTINEL,    /* asking a sentinel for the primary's address */
    REDIS_CONN_RESOLVING,   /* uv_getaddrinfo of the primary's host */
    REDIS_CONN_CONNECTING,  /* TCP connect */
    REDIS_CONN_HANDSHAKE,   /* the steps of redis_handshake */
    REDIS_CONN_READY,       /* commands may be sent */
} redis_conn_state;

/* The handshake's steps, in order; a step that does not apply is skipped. */
typedef enum {
    REDIS_HS_AUTH,           /* AUTH <password>: only with a password in the URL */
    REDIS_HS_SELECT,         /* SELECT <db>: only for a database other than 0 */
    REDIS_HS_ROLE,           /* ROLE must say "master": only with Sentinel (its answer may be stale) */
    REDIS_HS_LOAD_DECIDE,    /* SCRIPT LOAD of each script, in redis_script order */
    REDIS_HS_LOAD_COMMIT,
    REDIS_HS_LOAD_CLAIM,
    REDIS_HS_LOAD_FLUSHED,
    REDIS_HS_LOAD_FUNCTION,  /* FUNCTION LOAD REPLACE of decide; refused → decide runs by EVALSHA */
    REDIS_HS_DONE,
} redis_handshake;

typedef struct redis_conn redis_conn;
typedef void (*redis_conn_closed_cb)(redis_conn *c);

struct redis_conn {
    uv_loop_t           *loop;
    redis_target         t;
    redisAsyncContext   *ac;          /* the primary connection */
    redisAsyncContext   *sac;         /* a sentinel connection during discovery */
    redis_conn_state     state;       /* the owner's thread only; other threads ask health */
    health               health;      /* ready iff READY, with the last error as the reason */
    redis_handshake      step;
    char                 sha[REDIS_N_SCRIPTS][41];
    char                 fn_name[32]; /* "sgw_decide_<16 hex of decide.lua's SHA>" */
    char                *fn_code;     /* FUNCTION LOAD's library: two lines, then decide.lua */
    bool                 fn_ok;       /* decide is called with FCALL fn_name, else EVALSHA */
    uv_timer_t           backoff_timer;
    uv_timer_t           connect_timer;
    uv_getaddrinfo_t     gai;
    bool                 gai_busy;
    int                  backoff_ms;
    int                  sentinel_idx;
    char                 host[256];   /* address being connected to */
    int                  port;
    int64_t              down_since_ms;
    bool                 closing;
    int                  pending;     /* handles and requests still to come back after close */
    uint64_t             seed;        /* xorshift state for the back-off's jitter */
    redis_conn_closed_cb closed;
};

/* Parses url and starts connecting at once. prefix (the keys' prefix) is borrowed for the
 * connection's life. 0, or SGW_E_INVALID for a malformed URL (with the reason in err; c then
 * needs no close). */
int redis_conn_init(uv_loop_t *loop, redis_conn *c, const char *url, const char *prefix, int command_timeout_ms,
                    char *err, size_t errlen);

/* Starts closing: commands in flight fail now (their callbacks run, from inside this call
 * or later). closed(c) runs once every handle is closed; c's memory is the caller's again. */
void redis_conn_close(redis_conn *c, redis_conn_closed_cb closed);

/* The owner's thread: whether commands may be sent. */
static inline bool redis_conn_ready(const redis_conn *c) { return c->state == REDIS_CONN_READY; }

/* Any thread: 1 if ready; 0 with the reason ("redis: <last error>") copied into why. */
int redis_conn_health(redis_conn *c, char *why, size_t cap);

/* How a script call was framed, for its retry after NOSCRIPT or "Function not found". */
typedef struct redis_call {
    size_t       name_off;   /* where the SHA (EVALSHA) or the function's name (FCALL) sits in the frame */
    redis_script script;
    bool         fcall;
} redis_call;

/* Starts cmd as "EVALSHA <sha> 0 <prefix>", or for decide, where the function loaded,
 * "FCALL <function> 0 <prefix>"; exactly nargs more arguments must follow. cap_hint: the
 * frame's expected size. */
redis_call redis_conn_begin(redis_conn *c, resp_cmd *cmd, redis_script script, int nargs, size_t cap_hint);

/* A reply r (borrowed: valid during the call) and err: NULL on success; an error reply
 * gives both r and its text as err; no reply (timeout, connection lost) gives r NULL. */
typedef void (*redis_reply_cb)(redisReply *r, const char *err, void *ctx);

/* Sends cmd (framed by redis_conn_begin; its buffer is taken in every case). 0: cb runs
 * exactly once, never before this call returns; a timeout fails the command and drops the
 * connection; NOSCRIPT or "Function not found" reloads the script or function and sends
 * the command once more. SGW_E_UNAVAILABLE: not connected, cb never runs. op, when not
 * NULL, labels the command's duration and error metrics (a static string). */
int redis_conn_send(redis_conn *c, resp_cmd *cmd, const redis_call *call, const char *op, redis_reply_cb cb,
                    void *ctx);

/* Writes what is queued on the socket now rather than before the loop next blocks (when
 * ready and not inside a hiredis callback, where a failed write would free the context). */
void redis_conn_write_now(redis_conn *c);

#endif
