/* test_store.c: the store contract (store.h), run against BOTH stores with the same test
 * bodies: the in-memory store and the Redis store (a real redis-server this test starts
 * on a free loopback port and kills at the end). Dedup, TTL refresh, leases and takeover,
 * resolutions, storms (rate, pattern, batch), flush claims. Time is passed in explicitly,
 * so windows and TTLs are tested without sleeping. */
#include "testutil.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "state/memory.h"
#include "state/redis.h"
#include "state/redis_uv.h"
#include "util/defer.h"
#include "util/hash.h"
#include "util/timeutil.h"

typedef struct fixture_s {
    store_memory_shared *sh;
    store               *st;
    store_params         p;
    arena                a;
} fx;

static bool      use_redis;
static uv_loop_t loop;
static defer_queue loop_defer;  /* the loop's defer queue, as a worker's: both stores answer through it */
static pid_t     redis_pid;
static int       redis_port;
static int64_t   T0;
/* test_hiredis_hooks_write_past_a_full_socket's timer and context: static, so that when an
 * assertion ends it midway the group's teardown can still close them */
static uv_timer_t         uv_tick;
static bool               uv_tick_open;
static redisAsyncContext *uv_ac;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}


static int redis_group_setup(void **state)
{
    redis_port = free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    redis_pid = fork();
    if (redis_pid == 0) {
        /* dies with this test, and holds none of its output: a test that aborts must not
         * leave a server behind that keeps the runner's pipe open */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--logfile", "/dev/null", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {   /* up to 10 s */
        redisContext *c = redisConnect("127.0.0.1", redis_port);
        bool ok = c && !c->err;
        if (c) redisFree(c);
        if (ok) {
            use_redis = true;
            uv_loop_init(&loop);
            defer_init(&loop_defer, &loop);
            return 0;
        }
        usleep(50000);
    }
    fprintf(stderr, "redis-server did not start on port %d\n", redis_port);
    return -1;
}

static int redis_group_teardown(void **state)
{
    if (uv_ac) {   /* test_hiredis_hooks_write_past_a_full_socket failed midway */
        kill(redis_pid, SIGCONT);
        redisAsyncFree(uv_ac);
        uv_ac = NULL;
    }
    if (uv_tick_open) uv_close((uv_handle_t *)&uv_tick, NULL);
    uv_tick_open = false;
    uv_run(&loop, UV_RUN_NOWAIT);
    if (use_redis) defer_close(&loop_defer);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
    }
    use_redis = false;
    return 0;
}

/* The memory group runs on the same loop as the Redis group, so that a store whose
 * callbacks wait for the loop (store.h) is driven the same way in both. */
static int memory_group_setup(void **state)
{
    (void)state;
    uv_loop_init(&loop);
    defer_init(&loop_defer, &loop);
    return 0;
}

static int memory_group_teardown(void **state)
{
    (void)state;
    defer_close(&loop_defer);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    return 0;
}

/* The tests' only call of store_memory_open: its callbacks run from the group's loop, as in
 * a worker, never before the call returns. */
static store *memory_store_open(store_memory_shared *sh)
{
    return store_memory_open(sh, &loop_defer);
}

static void flushall(void)
{
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, "FLUSHALL");
    freeReplyObject(r);
    redisFree(c);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    T0 = time_now_ms() + 3600000;   /* an hour ahead: PEXPIREAT never lands in the past */
    if (use_redis) {
        flushall();
        char url[64], err[256];
        snprintf(url, sizeof url, "redis://127.0.0.1:%d", redis_port);
        f->st = store_redis_open(&loop, &loop_defer, url, "t:", 2000, err, sizeof err);
        assert_non_null(f->st);
        char why[256];
        for (int i = 0; i < 500 && !f->st->ops->ready(f->st, why, sizeof why); i++) uv_run(&loop, UV_RUN_ONCE);
        if (!f->st->ops->ready(f->st, why, sizeof why)) fail_msg("redis store not ready: %s", why);
    } else {
        f->sh = store_memory_shared_new();
        f->st = memory_store_open(f->sh);
    }
    f->p = (store_params){
        .dedup_ttl_ms = 300000, .lease_ms = 10000, .storm_enabled = true,
        .rate_threshold = 10, .rate_window_ms = 60000,
        .pattern_threshold = 5, .pattern_window_ms = 120000,
        .storm_window_ms = 60000, .storm_flag_ttl_ms = 300000,
        .storm_update_interval_ms = 1000, .storm_max_resources = 200,
    };
    arena_init(&f->a);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    f->st->ops->close(f->st);
    if (f->sh) store_memory_shared_free(f->sh);
    arena_free(&f->a);
    free(f);
    return 0;
}

static int cb_status;
static void cb(int status, void *ctx) { cb_status = status; (void)ctx; }

/* Runs the loop until the pending store callback has fired. */
static void wait_cb(void)
{
    for (int i = 0; i < 100000 && cb_status == 99; i++) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(cb_status, STORE_OK);
}

static store_item item(const char *fp, const char *name, const char *ns, const char *res)
{
    store_item it = {0};
    it.fingerprint = fp;
    it.name = name;
    it.namespace = ns;
    it.resource_id = res;
    it.ref = "ns/rr-x";
    return it;
}

static void decide(fx *f, store_item *items, size_t n, int64_t now)
{
    cb_status = 99;
    f->st->ops->decide(f->st, &f->p, items, n, now, &f->a, cb, NULL);
    wait_cb();
}

static void commit_one(fx *f, store_item *it, bool ok, const char *ref, int64_t now)
{
    store_commit c = {.fingerprint = it->fingerprint, .name = it->name, .namespace = it->namespace,
                      .verdict = it->verdict, .lease = it->lease, .ok = ok, .ref = ref};
    cb_status = 99;
    f->st->ops->commit(f->st, &f->p, &c, 1, now, cb, NULL);
    wait_cb();
}


static void commit_many(fx *f, store_commit *c, size_t n, int64_t now)
{
    cb_status = 99;
    f->st->ops->commit(f->st, &f->p, c, n, now, cb, NULL);
    wait_cb();
}

static void claim(fx *f, int64_t now, store_flush **out, size_t *n)
{
    cb_status = 99;
    f->st->ops->claim_flush(f->st, &f->p, now, 8, &f->a, out, n, cb, NULL);
    wait_cb();
}

static void flushed(fx *f, store_flush *fl, int64_t now)
{
    cb_status = 99;
    f->st->ops->flushed(f->st, &f->p, fl, true, now, cb, NULL);
    wait_cb();
}

static void test_first_sight_creates_then_duplicates_count(void **state)
{
    fx *f = *state;
    store_item a = item("fp1", "A", "ns", "ns:Pod:p");
    decide(f, &a, 1, T0);
    assert_int_equal(a.verdict, STORE_CREATE);
    commit_one(f, &a, true, "ns/rr-fp1", T0);
    for (int i = 2; i <= 4; i++) {
        store_item d = item("fp1", "A", "ns", "ns:Pod:p");
        decide(f, &d, 1, T0 + i);
        assert_int_equal(d.verdict, STORE_DUPLICATE);
        assert_int_equal(d.count, i);
        assert_string_equal(d.ref, "ns/rr-fp1");
        assert_int_equal(d.first_seen_ms, T0);
        assert_int_equal(d.last_seen_ms, T0 + i);
    }
}

static void test_duplicate_refreshes_ttl(void **state)
{
    fx *f = *state;
    store_item a = item("fp1", "A", "ns", "r");
    decide(f, &a, 1, T0);
    commit_one(f, &a, true, "ns/rr", T0);
    int64_t t = T0;
    for (int i = 0; i < 5; i++) {   /* each sighting just inside the TTL keeps it alive */
        t += f->p.dedup_ttl_ms - 1;
        store_item d = item("fp1", "A", "ns", "r");
        decide(f, &d, 1, t);
        assert_int_equal(d.verdict, STORE_DUPLICATE);
    }
    store_item late = item("fp1", "A", "ns", "r");
    decide(f, &late, 1, t + f->p.dedup_ttl_ms);
    assert_int_equal(late.verdict, STORE_CREATE);
}

/* The dedup window with a 2 s TTL, time stepped by the test: duplicates 1.2 s apart keep
 * one window (its count goes on) past the first sighting's TTL; it ends a TTL after the
 * last sighting, not before; the next sighting opens a new window, counted from 1. */
static void test_duplicates_keep_the_window_past_its_ttl_and_it_ends_a_ttl_after_the_last(void **state)
{
    fx *f = *state;
    f->p.dedup_ttl_ms = 2000;
    store_item a = item("fpt", "DupAlert", "ns", "ns:Pod:api-1");
    decide(f, &a, 1, T0);
    assert_int_equal(a.verdict, STORE_CREATE);
    commit_one(f, &a, true, "ns/rr-fpt", T0);
    static const int64_t at[] = {1, 1200, 2400};   /* the last is past T0 + TTL */
    for (int i = 0; i < 3; i++) {
        store_item d = item("fpt", "DupAlert", "ns", "ns:Pod:api-1");
        decide(f, &d, 1, T0 + at[i]);
        assert_int_equal(d.verdict, STORE_DUPLICATE);
        assert_int_equal(d.count, i + 2);   /* 4 at T0 + 2400: the TTL was refreshed */
        assert_string_equal(d.ref, "ns/rr-fpt");
        assert_int_equal(d.first_seen_ms, T0);
        assert_int_equal(d.last_seen_ms, T0 + at[i]);
    }
    int64_t last = T0 + 2400;
    store_item in = item("fpt", "DupAlert", "ns", "ns:Pod:api-1");
    decide(f, &in, 1, last + 1999);   /* the last ms of the window: still the same one */
    assert_int_equal(in.verdict, STORE_DUPLICATE);
    assert_int_equal(in.count, 5);
    last += 1999;
    store_item after = item("fpt", "DupAlert", "ns", "ns:Pod:api-1");
    decide(f, &after, 1, last + 2000);   /* a TTL after the last sighting: a new window */
    assert_int_equal(after.verdict, STORE_CREATE);
    assert_int_equal(after.count, 1);
    assert_int_equal(after.first_seen_ms, last + 2000);
    /* the RR of that name exists (the sink answers AlreadyExists: ok); the window goes on */
    commit_one(f, &after, true, "ns/rr-fpt", last + 2000);
    store_item next = item("fpt", "DupAlert", "ns", "ns:Pod:api-1");
    decide(f, &next, 1, last + 2001);
    assert_int_equal(next.verdict, STORE_DUPLICATE);
    assert_int_equal(next.count, 2);
    assert_int_equal(next.first_seen_ms, last + 2000);
    assert_string_equal(next.ref, "ns/rr-fpt");
}

static void test_concurrent_sighting_waits_for_the_lease(void **state)
{
    fx *f = *state;
    store_item a = item("fp1", "A", "ns", "r"), b = item("fp1", "A", "ns", "r");
    decide(f, &a, 1, T0);
    decide(f, &b, 1, T0 + 1);
    assert_int_equal(a.verdict, STORE_CREATE);
    assert_int_equal(b.verdict, STORE_IN_PROGRESS);
    commit_one(f, &a, true, "ns/rr", T0 + 2);
    store_item c = item("fp1", "A", "ns", "r");
    decide(f, &c, 1, T0 + 3);
    assert_int_equal(c.verdict, STORE_DUPLICATE);
    assert_int_equal(c.count, 2);
}

static void test_expired_lease_is_taken_over(void **state)
{
    fx *f = *state;
    store_item a = item("fp1", "A", "ns", "r");
    decide(f, &a, 1, T0);
    store_item b = item("fp1", "A", "ns", "r");
    decide(f, &b, 1, T0 + f->p.lease_ms - 1);
    assert_int_equal(b.verdict, STORE_IN_PROGRESS);
    decide(f, &b, 1, T0 + f->p.lease_ms + 1);
    assert_int_equal(b.verdict, STORE_CREATE);
    assert_true(b.lease != a.lease);
    /* the dead creator's late commit must not overwrite the new owner */
    commit_one(f, &a, true, "ns/old", T0 + f->p.lease_ms + 2);
    commit_one(f, &b, true, "ns/new", T0 + f->p.lease_ms + 3);
    store_item c = item("fp1", "A", "ns", "r");
    decide(f, &c, 1, T0 + f->p.lease_ms + 4);
    assert_int_equal(c.verdict, STORE_DUPLICATE);
    assert_string_equal(c.ref, "ns/new");
}

static void test_failed_creation_releases_the_lease(void **state)
{
    fx *f = *state;
    store_item a = item("fp1", "A", "ns", "r");
    decide(f, &a, 1, T0);
    commit_one(f, &a, false, NULL, T0 + 1);
    store_item b = item("fp1", "A", "ns", "r");
    decide(f, &b, 1, T0 + 2);
    assert_int_equal(b.verdict, STORE_CREATE);
}

static void test_resolution_closes_window_and_stale_firing_is_ignored(void **state)
{
    fx *f = *state;
    store_item a = item("fp1", "A", "ns", "r");
    a.firing_ms = T0 - 1000;
    decide(f, &a, 1, T0);
    commit_one(f, &a, true, "ns/rr", T0);
    store_item r = item("fp1", "A", "ns", "r");
    r.resolved = true;
    r.firing_ms = T0 - 1000;
    decide(f, &r, 1, T0 + 10);
    assert_int_equal(r.verdict, STORE_RESOLVED);
    assert_string_equal(r.ref, "ns/rr");
    store_item stale = item("fp1", "A", "ns", "r");
    stale.firing_ms = T0 - 1000;
    decide(f, &stale, 1, T0 + 20);
    assert_int_equal(stale.verdict, STORE_STALE);
    store_item fresh = item("fp1", "A", "ns", "r");
    fresh.firing_ms = T0 + 15;
    decide(f, &fresh, 1, T0 + 30);
    assert_int_equal(fresh.verdict, STORE_CREATE);
}

static void test_resolved_only_records_nothing_to_create(void **state)
{
    fx *f = *state;
    store_item r = item("fp9", "A", "ns", "r");
    r.resolved = true;
    r.firing_ms = T0 - 5;
    decide(f, &r, 1, T0);
    assert_int_equal(r.verdict, STORE_RESOLVED);
    assert_null(r.ref);
}

static void test_same_alert_twice_in_one_batch_is_created_once(void **state)
{
    fx *f = *state;
    store_item b[2] = {item("fp1", "A", "ns", "r"), item("fp1", "A", "ns", "r")};
    decide(f, b, 2, T0);
    assert_int_equal(b[0].verdict, STORE_CREATE);
    assert_int_equal(b[1].verdict, STORE_IN_PROGRESS);
}

static void test_pattern_storm_opens_on_the_sixth_distinct_resource(void **state)
{
    fx *f = *state;
    char fp[16][8], res[16][16];
    store_item it[16];
    for (int i = 0; i < 8; i++) {
        snprintf(fp[i], sizeof fp[i], "fp%d", i);
        snprintf(res[i], sizeof res[i], "ns:Pod:p%d", i);
        it[i] = item(fp[i], "Crash", "ns", res[i]);
        decide(f, &it[i], 1, T0 + i);
        if (i < 5) {
            assert_int_equal(it[i].verdict, STORE_CREATE);
            commit_one(f, &it[i], true, "ns/rr", T0 + i);
        }
    }
    assert_int_equal(it[5].verdict, STORE_STORM_CREATE);
    assert_string_equal(it[5].storm_type, "pattern");
    assert_int_equal(it[5].count, 1);
    assert_int_equal(it[5].n_storm_resources, 1);
    /* while the storm RR is being created, later storm alerts wait */
    assert_int_equal(it[6].verdict, STORE_IN_PROGRESS);
    assert_int_equal(it[7].verdict, STORE_IN_PROGRESS);
    commit_one(f, &it[5], true, "ns/rr-storm-x", T0 + 9);
    decide(f, &it[6], 1, T0 + 10);
    assert_int_equal(it[6].verdict, STORE_AGGREGATED);
    assert_int_equal(it[6].count, 2);
    assert_string_equal(it[6].ref, "ns/rr-storm-x");
    assert_memory_equal(it[6].storm_hash, it[5].storm_hash, 64);
    /* a folded alert repeating is a duplicate of the storm RR, not a second fold */
    store_item again = item(fp[6], "Crash", "ns", res[6]);
    decide(f, &again, 1, T0 + 11);
    assert_int_equal(again.verdict, STORE_DUPLICATE);
    assert_string_equal(again.ref, "ns/rr-storm-x");
}

static void test_storm_is_per_name_and_namespace(void **state)
{
    fx *f = *state;
    /* 5 distinct pods in each of two namespaces: counted together they would be a pattern
     * storm from the 6th alert on; per namespace neither is one */
    char fp[11][8], res[11][24];
    for (int i = 0; i < 11; i++) {
        snprintf(fp[i], sizeof fp[i], "fp%d", i);
        snprintf(res[i], sizeof res[i], "ns%d:Pod:p%d", i % 2, i);
        store_item it = item(fp[i], "Crash", i % 2 ? "b" : "a", res[i]);
        decide(f, &it, 1, T0 + i);
        assert_int_equal(it.verdict, i < 10 ? STORE_CREATE : STORE_STORM_CREATE);
        commit_one(f, &it, true, "x/rr", T0 + i);
    }
}

/* Two storms in one batch, their alerts interleaved (A, B, A, B, ...), then new alerts of
 * both folded into them in runs (A, A, ..., B, B, ...): every alert carries the hash of its
 * own window, sha256("name:namespace:start"), whichever alert came before it. */
static void check_window_hashes(const store_item *it, int n)
{
    for (int i = 0; i < n; i++) {
        assert_non_null(it[i].storm_type);
        char key[64], want[65];
        snprintf(key, sizeof key, "%s:ns:%lld", it[i].name, (long long)it[i].storm_start_ms);
        hash_sha256_hex(key, strlen(key), want);
        assert_memory_equal(it[i].storm_hash, want, 64);
    }
}

static void test_interleaved_storms_in_a_batch_carry_their_own_window_hash(void **state)
{
    fx *f = *state;
    enum { N = 14 };
    store_item it[N], more[N];
    char fp[2 * N][8], res[2 * N][24];
    for (int i = 0; i < 2 * N; i++) {
        snprintf(fp[i], sizeof fp[i], "il%d", i);
        snprintf(res[i], sizeof res[i], "ns:Pod:il%d", i);
    }
    for (int i = 0; i < N; i++) it[i] = item(fp[i], i % 2 ? "B" : "A", "ns", res[i]);
    decide(f, it, N, T0);
    assert_int_equal(it[0].verdict, STORE_STORM_CREATE);
    assert_int_equal(it[1].verdict, STORE_STORM_CREATE);
    check_window_hashes(it, N);
    assert_memory_not_equal(it[0].storm_hash, it[1].storm_hash, 64);
    store_commit c[2] = {{.fingerprint = it[0].fingerprint, .name = "A", .namespace = "ns", .verdict = STORE_STORM_CREATE,
                          .lease = it[0].lease, .ok = true, .ref = "ns/rr-storm-a"},
                         {.fingerprint = it[1].fingerprint, .name = "B", .namespace = "ns", .verdict = STORE_STORM_CREATE,
                          .lease = it[1].lease, .ok = true, .ref = "ns/rr-storm-b"}};
    commit_many(f, c, 2, T0 + 1);
    for (int i = 0; i < N; i++) more[i] = item(fp[N + i], i < N / 2 ? "A" : "B", "ns", res[N + i]);
    decide(f, more, N, T0 + 2);
    for (int i = 0; i < N; i++) assert_int_equal(more[i].verdict, STORE_AGGREGATED);
    check_window_hashes(more, N);
    assert_memory_equal(more[0].storm_hash, it[0].storm_hash, 64);
    assert_memory_equal(more[N - 1].storm_hash, it[1].storm_hash, 64);
}

static void test_batch_of_fifty_is_one_storm_with_count_fifty(void **state)
{
    fx *f = *state;
    store_item it[50];
    char fp[50][8], res[50][24];
    for (int i = 0; i < 50; i++) {
        snprintf(fp[i], sizeof fp[i], "f%d", i);
        snprintf(res[i], sizeof res[i], "checkout:Pod:w%02d", i);
        it[i] = item(fp[i], "OOM", "checkout", res[i]);
    }
    decide(f, it, 50, T0);
    int creators = 0, members = 0;
    for (int i = 0; i < 50; i++) {
        if (it[i].verdict == STORE_STORM_CREATE) {
            creators++;
            assert_int_equal(it[i].count, 50);
            assert_int_equal(it[i].n_storm_resources, 50);
        } else {
            assert_int_equal(it[i].verdict, STORE_MEMBER);
            members++;
        }
    }
    assert_int_equal(creators, 1);
    assert_int_equal(members, 49);
    store_commit c[50];
    for (int i = 0; i < 50; i++)
        c[i] = (store_commit){.fingerprint = it[i].fingerprint, .name = "OOM", .namespace = "checkout",
                              .verdict = it[i].verdict, .lease = it[i].lease, .ok = true,
                              .ref = "checkout/rr-storm-1"};
    commit_many(f, c, 50, T0 + 1);
    store_item d = item(fp[7], "OOM", "checkout", res[7]);
    decide(f, &d, 1, T0 + 2);
    assert_int_equal(d.verdict, STORE_DUPLICATE);
    assert_string_equal(d.ref, "checkout/rr-storm-1");
}

static void test_rate_storm_uses_a_sliding_window(void **state)
{
    fx *f = *state;
    f->p.pattern_threshold = 1000;
    char fp[40][8], res[40][16];
    int64_t t = T0;
    /* 10 new alerts, then one more 61 s after the first: the window slid, no storm */
    for (int i = 0; i < 10; i++) {
        snprintf(fp[i], 8, "r%d", i);
        snprintf(res[i], 16, "n:Pod:%d", i);
        store_item it = item(fp[i], "Rate", "n", res[i]);
        decide(f, &it, 1, t + i * 100);
        assert_int_equal(it.verdict, STORE_CREATE);
        commit_one(f, &it, true, "n/rr", t);
    }
    snprintf(fp[10], 8, "r10");
    store_item late = item(fp[10], "Rate", "n", "n:Pod:10");
    decide(f, &late, 1, t + 61000);
    assert_int_equal(late.verdict, STORE_CREATE);
    commit_one(f, &late, true, "n/rr", t + 61000);
    /* now 10 more within a second: 11 arrivals inside 60 s → rate storm */
    store_item last = {0};
    for (int i = 11; i < 21; i++) {
        snprintf(fp[i], 8, "r%d", i);
        snprintf(res[i], 16, "n:Pod:%d", i);
        last = item(fp[i], "Rate", "n", res[i]);
        decide(f, &last, 1, t + 61000 + i);
        if (last.verdict == STORE_CREATE) commit_one(f, &last, true, "n/rr", t + 61000 + i);
        else break;
    }
    assert_int_equal(last.verdict, STORE_STORM_CREATE);
    assert_string_equal(last.storm_type, "rate");
}

static void test_storm_window_ends_and_a_new_one_opens(void **state)
{
    fx *f = *state;
    store_item it[8];
    char fp[8][8], res[8][16];
    for (int i = 0; i < 8; i++) {
        snprintf(fp[i], 8, "w%d", i);
        snprintf(res[i], 16, "n:Pod:%d", i);
        it[i] = item(fp[i], "W", "n", res[i]);
    }
    decide(f, it, 7, T0);   /* 7 distinct > 5 → storm at once */
    assert_int_equal(it[0].verdict, STORE_STORM_CREATE);
    store_commit c = {.fingerprint = it[0].fingerprint, .name = "W", .namespace = "n", .verdict = STORE_STORM_CREATE,
                      .lease = it[0].lease, .ok = true, .ref = "n/rr-storm-a"};
    commit_many(f, &c, 1, T0 + 1);
    decide(f, &it[7], 1, T0 + f->p.storm_window_ms + 1);
    assert_int_equal(it[7].verdict, STORE_STORM_CREATE);   /* flag still on, window over */
    assert_memory_not_equal(it[7].storm_hash, it[0].storm_hash, 64);
}

static void test_flush_claims_a_changed_window_once(void **state)
{
    fx *f = *state;
    store_item it[8];
    char fp[8][8], res[8][16];
    for (int i = 0; i < 8; i++) {
        snprintf(fp[i], 8, "s%d", i);
        snprintf(res[i], 16, "n:Pod:%d", i);
        it[i] = item(fp[i], "S", "n", res[i]);
    }
    decide(f, it, 6, T0);
    store_commit c = {.fingerprint = it[0].fingerprint, .name = "S", .namespace = "n", .verdict = STORE_STORM_CREATE,
                      .lease = it[0].lease, .ok = true, .ref = "n/rr-storm-s"};
    commit_many(f, &c, 1, T0);
    store_flush *out;
    size_t n;
    claim(f, T0 + 5000, &out, &n);
    assert_int_equal(n, 0);   /* nothing changed since the RR was written */
    decide(f, &it[6], 1, T0 + 10);
    decide(f, &it[7], 1, T0 + 20);
    assert_int_equal(it[7].verdict, STORE_AGGREGATED);
    claim(f, T0 + 500, &out, &n);
    assert_int_equal(n, 0);   /* last write under update_interval ago */
    claim(f, T0 + 1500, &out, &n);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].count, 8);
    assert_int_equal(out[0].n_resources, 8);
    assert_string_equal(out[0].ref, "n/rr-storm-s");
    store_flush *again;
    size_t n2;
    claim(f, T0 + 1600, &again, &n2);
    assert_int_equal(n2, 0);   /* claimed: one writer */
    flushed(f, &out[0], T0 + 1700);
    claim(f, T0 + 5000, &again, &n2);
    assert_int_equal(n2, 0);   /* clean now */
}

static void test_storm_disabled_creates_individually(void **state)
{
    fx *f = *state;
    f->p.storm_enabled = false;
    store_item it[20];
    char fp[20][8], res[20][16];
    for (int i = 0; i < 20; i++) {
        snprintf(fp[i], 8, "d%d", i);
        snprintf(res[i], 16, "n:Pod:%d", i);
        it[i] = item(fp[i], "D", "n", res[i]);
    }
    decide(f, it, 20, T0);
    for (int i = 0; i < 20; i++) assert_int_equal(it[i].verdict, STORE_CREATE);
}

/* Redis only: decide calls made in one loop iteration go to Redis as one call (FCALL of the
 * decide function; EVALSHA where functions are refused), and each caller gets its own
 * verdicts; calls with different parameters are sent separately. */
static int n_cb, cb_seen[8];
static void cb_n(int status, void *ctx)
{
    assert_int_equal(status, STORE_OK);
    cb_seen[n_cb++] = (int)(intptr_t)ctx;
}

/* script and function calls so far (only decides in these tests) */
static long long decide_calls(void)
{
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    redisReply *r = redisCommand(c, "INFO commandstats");
    long long n = 0;
    static const char *const stats[] = {"cmdstat_evalsha:calls=", "cmdstat_fcall:calls="};
    for (int k = 0; k < 2; k++) {
        const char *p = r && r->str ? strstr(r->str, stats[k]) : NULL;
        if (p) n += atoll(p + strlen(stats[k]));
    }
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* A retry round decides from its timer, and in the same iteration a request read in the
 * poll phase decides from its deferred auth answer: both go out as ONE script call (the
 * batch's flush runs after every other deferred callback of the pass). */
static fx *it_f;
static store_item it_a, it_b;
static void it_auth_answer(int status, void *ctx)
{
    (void)status;
    (void)ctx;
    it_f->st->ops->decide(it_f->st, &it_f->p, &it_b, 1, T0, &it_f->a, cb_n, (void *)2);
}
static void it_timer(uv_timer_t *t)
{
    it_f->st->ops->decide(it_f->st, &it_f->p, &it_a, 1, T0, &it_f->a, cb_n, (void *)1);
    defer_call(&loop_defer, it_auth_answer, 0, NULL);   /* as auth_check defers its answer */
    uv_close((uv_handle_t *)t, NULL);
}
static void test_a_timer_decide_and_a_deferred_answer_of_one_iteration_are_one_call(void **state)
{
    fx *f = *state;
    if (!use_redis) skip();
    it_f = f;
    it_a = item("it1", "A", "ns", "ns:Pod:a");
    it_b = item("it2", "B", "ns", "ns:Pod:b");
    long long before = decide_calls();
    n_cb = 0;
    static uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, it_timer, 0, 0);
    for (int i = 0; i < 100000 && n_cb < 2; i++) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(n_cb, 2);
    assert_int_equal(decide_calls() - before, 1);
}

static int store_socket(void);

/* The eager flush writes inside decide(); when that write fails, hiredis fails every queued
 * command at once. The decide() that made the 16th item must still not see its callback
 * (nor its batch's) run before it returns. */
static int ew_in_call, ew_inside, ew_n;
static void ew_cb(int status, void *ctx)
{
    (void)status;
    (void)ctx;
    if (ew_in_call) ew_inside++;
    ew_n++;
}
static void test_a_failed_eager_write_answers_after_decide_returns(void **state)
{
    fx *f = *state;
    if (!use_redis) skip();
    signal(SIGPIPE, SIG_IGN);
    static store_item its[16];
    static char fps[16][8];
    for (int i = 0; i < 16; i++) {
        snprintf(fps[i], sizeof fps[i], "e%d", i);
        its[i] = item(fps[i], "E", "ns", "ns:Pod:e");
    }
    f->p.storm_enabled = false;
    int sock = store_socket();
    assert_int_equal(shutdown(sock, SHUT_WR), 0);   /* the next write on it fails (EPIPE) */
    ew_n = ew_inside = 0;
    for (int i = 0; i < 16; i++) {
        ew_in_call = 1;
        f->st->ops->decide(f->st, &f->p, &its[i], 1, T0, &f->a, ew_cb, (void *)(intptr_t)i);
        ew_in_call = 0;
    }
    for (int i = 0; i < 100000 && ew_n < 16; i++) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(ew_n, 16);
    assert_int_equal(ew_inside, 0);
}

static void test_decides_of_one_iteration_are_one_call(void **state)
{
    fx *f = *state;
    if (!use_redis) skip();
    store_item a = item("b1", "A", "ns", "ns:Pod:a"), b = item("b2", "B", "ns", "ns:Pod:b");
    store_item a2 = item("b1", "A", "ns", "ns:Pod:a"), c = item("b3", "C", "ns", "ns:Pod:c");
    long long before = decide_calls();
    n_cb = 0;
    f->st->ops->decide(f->st, &f->p, &a, 1, T0, &f->a, cb_n, (void *)1);
    f->st->ops->decide(f->st, &f->p, &b, 1, T0, &f->a, cb_n, (void *)2);
    f->st->ops->decide(f->st, &f->p, &a2, 1, T0, &f->a, cb_n, (void *)3);   /* a's fingerprint again */
    for (int i = 0; i < 100000 && n_cb < 3; i++) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(n_cb, 3);
    assert_int_equal(cb_seen[0], 1);   /* callbacks in call order */
    assert_int_equal(cb_seen[1], 2);
    assert_int_equal(cb_seen[2], 3);
    assert_int_equal(decide_calls() - before, 1);   /* one script call for the three */
    assert_int_equal(a.verdict, STORE_CREATE);
    assert_int_equal(b.verdict, STORE_CREATE);
    assert_int_equal(a2.verdict, STORE_IN_PROGRESS);   /* behind a's lease, as across requests */

    /* different parameters (a reload between the calls): two script calls */
    store_params p2 = f->p;
    p2.dedup_ttl_ms += 1000;
    before = decide_calls();
    n_cb = 0;
    f->st->ops->decide(f->st, &f->p, &c, 1, T0 + 1, &f->a, cb_n, (void *)4);
    f->st->ops->decide(f->st, &p2, &b, 1, T0 + 1, &f->a, cb_n, (void *)5);
    for (int i = 0; i < 100000 && n_cb < 2; i++) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(n_cb, 2);
    assert_int_equal(decide_calls() - before, 2);
    assert_int_equal(c.verdict, STORE_CREATE);
    assert_int_equal(b.verdict, STORE_IN_PROGRESS);   /* still pending under b's first lease */
}


/* Requests of one iteration carrying the same alerts (the Redis store sends such an alert
 * once, with the number of its occurrences: decide_plan.h): every occurrence gets what it
 * gets from the memory store, which decides them one by one. */
static void test_requests_of_one_iteration_carrying_the_same_alerts(void **state)
{
    fx *f = *state;
    store_item c[2] = {item("q1", "A", "ns", "ns:Pod:a"), item("q2", "B", "ns", "ns:Pod:b")};
    decide(f, c, 2, T0);
    commit_one(f, &c[0], true, "ns/rr-q1", T0);
    commit_one(f, &c[1], true, "ns/rr-q2", T0);
    store_item x0[2] = {item("q1", "A", "ns", "ns:Pod:a"), item("q2", "B", "ns", "ns:Pod:b")};
    store_item x1[3] = {item("q2", "B", "ns", "ns:Pod:b"), item("q1", "A", "ns", "ns:Pod:a"),
                        item("n1", "C", "ns", "ns:Pod:c")};
    store_item x2[3] = {item("n1", "C", "ns", "ns:Pod:c"), item("q1", "A", "ns", "ns:Pod:a"),
                        item("q2", "B", "ns", "ns:Pod:b")};
    x2[2].resolved = true;   /* q2 resolved in the last request: q2's occurrences go apart */
    long long before = use_redis ? decide_calls() : 0;
    n_cb = 0;
    f->st->ops->decide(f->st, &f->p, x0, 2, T0 + 5, &f->a, cb_n, (void *)1);
    f->st->ops->decide(f->st, &f->p, x1, 3, T0 + 5, &f->a, cb_n, (void *)2);
    f->st->ops->decide(f->st, &f->p, x2, 3, T0 + 5, &f->a, cb_n, (void *)3);
    for (int i = 0; i < 100000 && n_cb < 3; i++) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(n_cb, 3);
    if (use_redis) assert_int_equal(decide_calls() - before, 1);
    /* q1, three times the same: counted 2, 3, 4 in request order */
    assert_int_equal(x0[0].verdict, STORE_DUPLICATE);
    assert_int_equal(x0[0].count, 2);
    assert_int_equal(x1[1].count, 3);
    assert_int_equal(x2[1].verdict, STORE_DUPLICATE);
    assert_int_equal(x2[1].count, 4);
    assert_string_equal(x2[1].ref, "ns/rr-q1");
    assert_int_equal(x2[1].first_seen_ms, T0);
    assert_int_equal(x2[1].last_seen_ms, T0 + 5);
    /* q2: firing twice, then resolved */
    assert_int_equal(x0[1].count, 2);
    assert_int_equal(x1[0].verdict, STORE_DUPLICATE);
    assert_int_equal(x1[0].count, 3);
    assert_int_equal(x2[2].verdict, STORE_RESOLVED);
    assert_int_equal(x2[2].count, 3);
    /* n1, new: created by the first request that carries it; the other waits */
    assert_int_equal(x1[2].verdict, STORE_CREATE);
    assert_int_equal(x2[0].verdict, STORE_IN_PROGRESS);
    assert_string_equal(x2[0].ref, "ns/rr-x");
    commit_one(f, &x1[2], true, "ns/rr-n1", T0 + 6);
    store_item again = item("n1", "C", "ns", "ns:Pod:c");
    decide(f, &again, 1, T0 + 7);
    assert_int_equal(again.verdict, STORE_DUPLICATE);
    assert_int_equal(again.count, 2);   /* the waiting occurrence was not counted */
    store_item q1 = item("q1", "A", "ns", "ns:Pod:a");
    decide(f, &q1, 1, T0 + 8);
    assert_int_equal(q1.count, 5);
}

/* (found by review) A new alert and its resolution in two requests of one iteration: the
 * resolution waits behind the creation, as it would had it come later, and is then recorded
 * (it used to be answered RESOLVED at once and then overwritten by the creation: the next
 * occurrence would have counted as a duplicate of the old one). */
static void test_a_resolution_behind_a_creation_of_the_same_iteration_waits(void **state)
{
    fx *f = *state;
    store_item a = item("z1", "A", "ns", "ns:Pod:a"), b = item("z1", "A", "ns", "ns:Pod:a");
    a.firing_ms = b.firing_ms = T0 - 10;
    b.resolved = true;
    n_cb = 0;
    f->st->ops->decide(f->st, &f->p, &a, 1, T0, &f->a, cb_n, (void *)1);
    f->st->ops->decide(f->st, &f->p, &b, 1, T0, &f->a, cb_n, (void *)2);
    for (int i = 0; i < 100000 && n_cb < 2; i++) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(n_cb, 2);
    assert_int_equal(a.verdict, STORE_CREATE);
    assert_int_equal(b.verdict, STORE_IN_PROGRESS);
    commit_one(f, &a, true, "ns/rr-z1", T0 + 1);
    store_item b2 = item("z1", "A", "ns", "ns:Pod:a");
    b2.firing_ms = T0 - 10;
    b2.resolved = true;
    decide(f, &b2, 1, T0 + 2);
    assert_int_equal(b2.verdict, STORE_RESOLVED);
    assert_string_equal(b2.ref, "ns/rr-z1");
    store_item again = item("z1", "A", "ns", "ns:Pod:a");
    again.firing_ms = T0 + 100;   /* fires again later: a new occurrence */
    decide(f, &again, 1, T0 + 200);
    assert_int_equal(again.verdict, STORE_CREATE);
}

/* Redis only: the first 16 alerts of an iteration go out at once (written before the loop
 * runs again, so Redis works while the gateway reads more requests); while that batch is in
 * flight the rest waits for the iteration's end: 40 calls are 2 script calls, all verdicts
 * right, callbacks in call order. */
static int eager_seen[64], n_eager;
static void cb_eager(int status, void *ctx)
{
    assert_int_equal(status, STORE_OK);
    eager_seen[n_eager++] = (int)(intptr_t)ctx;
}

/* The store's connection to the test's redis-server: the one socket of this process
 * connected to redis_port (decide_calls() and flushall() close theirs). */
static int store_socket(void)
{
    int found = -1, n = 0;
    for (int fd = 0; fd < 1024; fd++) {
        struct sockaddr_in a;
        socklen_t l = sizeof a;
        if (getpeername(fd, (struct sockaddr *)&a, &l) == 0 && a.sin_family == AF_INET &&
            ntohs(a.sin_port) == redis_port) {
            found = fd;
            n++;
        }
    }
    assert_int_equal(n, 1);
    return found;
}

/* TCP_INFO as Linux (4.19 on) fills it: the libc's struct tcp_info, then the fields that
 * linux/tcp.h adds (that header cannot be included beside netinet/tcp.h, which uv.h
 * brings), up to the two used here; the offsets are those of linux/tcp.h. */
struct tcp_info_linux {
    struct tcp_info libc;   /* up to tcpi_total_retrans */
    uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
    uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in, data_segs_out;
    uint64_t delivery_rate, busy_time, rwnd_limited, sndbuf_limited;
    uint32_t delivered, delivered_ce;
    uint64_t bytes_sent, bytes_retrans;
};
_Static_assert(offsetof(struct tcp_info_linux, notsent_bytes) == 144, "linux/tcp.h: tcpi_notsent_bytes");
_Static_assert(offsetof(struct tcp_info_linux, bytes_sent) == 200, "linux/tcp.h: tcpi_bytes_sent");
_Static_assert(offsetof(struct tcp_info_linux, bytes_retrans) == 208, "linux/tcp.h: tcpi_bytes_retrans");

/* Bytes the process has written to a TCP socket so far, from one TCP_INFO snapshot: sent
 * (retransmissions taken off) or still waiting in the send queue. A write counts the
 * moment it returns, so "nothing was written" needs no waiting. */
static long long bytes_written(int fd)
{
    struct tcp_info_linux ti;
    socklen_t l = sizeof ti;
    memset(&ti, 0, sizeof ti);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l), 0);
    assert_int_equal(l, sizeof ti);   /* a kernel older than 4.19 would leave these out */
    return (long long)(ti.bytes_sent - ti.bytes_retrans) + (long long)ti.notsent_bytes;
}

static void test_first_sixteen_alerts_go_out_at_once(void **state)
{
    fx *f = *state;
    if (!use_redis) skip();
    enum { N = 40 };
    store_item it[N];
    char fps[N][16], res[N][24];
    for (int i = 0; i < N; i++) {
        snprintf(fps[i], sizeof fps[i], "e%d", i);
        snprintf(res[i], sizeof res[i], "ns:Pod:p%d", i);
        it[i] = item(fps[i], i % 2 ? "A" : "B", i < 20 ? "ns1" : "ns2", res[i]);
    }
    f->p.storm_enabled = false;
    /* What the store wrote is read off its socket at once (bytes_written): Redis' own count
     * of calls alone would show a call the store wrote only once Redis has run it, so "no
     * call yet" would pass by default on a slow machine. */
    int sock = store_socket();
    long long before = decide_calls(), wrote = bytes_written(sock);
    n_eager = 0;
    for (int i = 0; i < 15; i++) f->st->ops->decide(f->st, &f->p, &it[i], 1, T0, &f->a, cb_eager, (void *)(intptr_t)i);
    assert_int_equal(bytes_written(sock) - wrote, 0);   /* 15 wait for the iteration's end */
    assert_int_equal(decide_calls() - before, 0);
    f->st->ops->decide(f->st, &f->p, &it[15], 1, T0, &f->a, cb_eager, (void *)15);
    /* the 16th sends the batch: written before decide returns, and Redis runs it although
     * this loop has not run since */
    long long first = bytes_written(sock) - wrote;
    assert_true(first > 0);
    long long sent = 0;
    for (int i = 0; i < 500 && (sent = decide_calls() - before) == 0; i++) usleep(10000);
    assert_int_equal(sent, 1);
    wrote += first;
    for (int i = 16; i < N; i++) f->st->ops->decide(f->st, &f->p, &it[i], 1, T0, &f->a, cb_eager, (void *)(intptr_t)i);
    assert_int_equal(bytes_written(sock) - wrote, 0);   /* the first is in flight: the rest waits */
    assert_int_equal(decide_calls() - before, 1);
    for (int i = 0; i < 100000 && n_eager < N; i++) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(n_eager, N);
    assert_int_equal(decide_calls() - before, 2);
    for (int i = 0; i < N; i++) {
        assert_int_equal(eager_seen[i], i);
        assert_int_equal(it[i].verdict, STORE_CREATE);
    }
    /* the same again, split the same way: every one waits behind its lease */
    n_eager = 0;
    for (int i = 0; i < N; i++) f->st->ops->decide(f->st, &f->p, &it[i], 1, T0 + 1, &f->a, cb_eager, (void *)(intptr_t)i);
    for (int i = 0; i < 100000 && n_eager < N; i++) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(n_eager, N);
    for (int i = 0; i < N; i++) assert_int_equal(it[i].verdict, STORE_IN_PROGRESS);
}

/* /readyz's reason for a Redis store that is not connected: "redis: connecting" until the
 * first attempt fails, then "redis: " and the failure (published for other threads by
 * util/health.h). Port 1 on loopback refuses connections. */
static void test_redis_not_ready_names_its_reason(void **state)
{
    (void)state;
    if (!use_redis) skip();
    char err[256], why[256] = "";
    store *st = store_redis_open(&loop, &loop_defer, "redis://127.0.0.1:1", "t:", 2000, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(st->ops->ready(st, why, sizeof why), 0);
    assert_string_equal(why, "redis: connecting");
    uint64_t t0 = uv_hrtime();
    while (!strcmp(why, "redis: connecting") && uv_hrtime() - t0 < 5ull * 1000000000ull) {
        uv_run(&loop, UV_RUN_ONCE);
        assert_int_equal(st->ops->ready(st, why, sizeof why), 0);
    }
    assert_string_equal(why, "redis: connect 127.0.0.1:1: Connection refused");
    st->ops->close(st);
    for (int i = 0; i < 10; i++) uv_run(&loop, UV_RUN_NOWAIT);   /* closes its handles */
}

/* state/redis_uv.c, hiredis' hooks on our loop: a write larger than the socket takes at
 * once (a 16 MiB SET while redis-server is stopped) goes out in pieces as the socket
 * drains, which needs the poll handle to watch for writable exactly while bytes wait; and a
 * small command is written by the deferred write before the loop blocks (with only a 2 s
 * timer besides, its reply comes long before the timer). */
static int uv_replies, uv_connect_status = -99;
static long long uv_strlen;
static void on_uv_reply(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *rep = r;
    if (rep && rep->type == REDIS_REPLY_INTEGER) uv_strlen = rep->integer;
    uv_replies++;
}
static void on_tick(uv_timer_t *t) { (void)t; }
static void on_uv_connect(const redisAsyncContext *ac, int status) { uv_connect_status = status; }

static void test_hiredis_hooks_write_past_a_full_socket(void **state)
{
    (void)state;
    if (!use_redis) skip();
    uv_ac = redisAsyncConnect("127.0.0.1", redis_port);
    assert_true(uv_ac && !uv_ac->err);
    assert_int_equal(redis_uv_attach(uv_ac, &loop), REDIS_OK);
    assert_int_equal(redis_uv_attach(uv_ac, &loop), REDIS_ERR);   /* once only */
    redisAsyncSetConnectCallback(uv_ac, on_uv_connect);
    enum { BIG = 16 << 20 };
    char *v = malloc(BIG);
    memset(v, 'v', BIG);
    uv_replies = 0;
    uv_strlen = -1;
    uv_timer_init(&loop, &uv_tick);   /* so that a loop waiting for an event that never comes still returns */
    uv_tick_open = true;
    uv_timer_start(&uv_tick, on_tick, 100, 100);
    /* connected first, then Redis stopped: nothing reads the socket, so the write stops short */
    uint64_t t0 = uv_hrtime();
    redisAsyncCommand(uv_ac, on_uv_reply, NULL, "PING");
    while (uv_replies < 1 && uv_hrtime() - t0 < 10ull * 1000000000ull) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(uv_connect_status, REDIS_OK);
    assert_int_equal(uv_replies, 1);
    assert_int_equal(kill(redis_pid, SIGSTOP), 0);
    redisAsyncCommand(uv_ac, on_uv_reply, NULL, "SET uvbig %b", v, (size_t)BIG);
    redisAsyncCommand(uv_ac, on_uv_reply, NULL, "STRLEN uvbig");
    free(v);
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    bool waiting = sdslen(uv_ac->c.obuf) > 0;   /* bytes still wait */
    assert_int_equal(kill(redis_pid, SIGCONT), 0);
    assert_true(waiting);
    t0 = uv_hrtime();
    while (uv_replies < 3 && uv_hrtime() - t0 < 20ull * 1000000000ull) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(uv_replies, 3);
    assert_int_equal(uv_strlen, BIG);
    /* a small command with nothing else to wake the loop for 2 s */
    uv_timer_start(&uv_tick, on_tick, 2000, 2000);
    uv_strlen = -1;
    redisAsyncCommand(uv_ac, on_uv_reply, NULL, "STRLEN uvbig");
    t0 = uv_hrtime();
    while (uv_replies < 4 && uv_hrtime() - t0 < 10ull * 1000000000ull) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(uv_strlen, BIG);
    assert_true(uv_hrtime() - t0 < 1000000000ull);   /* not at the 2 s timer */
    redisAsyncDisconnect(uv_ac);
    uv_ac = NULL;
    uv_close((uv_handle_t *)&uv_tick, NULL);
    uv_tick_open = false;
    for (int i = 0; i < 10; i++) uv_run(&loop, UV_RUN_NOWAIT);   /* closes both handles */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_sight_creates_then_duplicates_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_refreshes_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_keep_the_window_past_its_ttl_and_it_ends_a_ttl_after_the_last, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_sighting_waits_for_the_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_lease_is_taken_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_creation_releases_the_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolution_closes_window_and_stale_firing_is_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolved_only_records_nothing_to_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_alert_twice_in_one_batch_is_created_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern_storm_opens_on_the_sixth_distinct_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storm_is_per_name_and_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interleaved_storms_in_a_batch_carry_their_own_window_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_of_fifty_is_one_storm_with_count_fifty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_storm_uses_a_sliding_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storm_window_ends_and_a_new_one_opens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_claims_a_changed_window_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storm_disabled_creates_individually, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decides_of_one_iteration_are_one_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_timer_decide_and_a_deferred_answer_of_one_iteration_are_one_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_eager_write_answers_after_decide_returns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests_of_one_iteration_carrying_the_same_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_resolution_behind_a_creation_of_the_same_iteration_waits, setup, teardown),
        cmocka_unit_test(test_hiredis_hooks_write_past_a_full_socket),
        cmocka_unit_test(test_redis_not_ready_names_its_reason),
        cmocka_unit_test_setup_teardown(test_first_sixteen_alerts_go_out_at_once, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("store_memory", tests, memory_group_setup, memory_group_teardown);
    failed += cmocka_run_group_tests_name("store_redis", tests, redis_group_setup, redis_group_teardown);
    return failed;
}
