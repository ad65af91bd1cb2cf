/* test_k8s_informer_api.c: the informer against the project's Kubernetes API test server
 * (tests/k8s-api-server/server.py, started here on a loopback port 0 and stopped by PID).
 * The test is the informer's owner: it keeps a cache from the callbacks and makes its
 * changes through the API on the same loop, so that the informer runs while it waits.
 * Faults come from the server's /_test/faults (a `drop`, a `latency` longer than the idle
 * timeout, a 410 status on the next watch); the server is killed and started again on the
 * same port for the outage. Each test has a namespace of its own; the outage test is last.
 * The server is stopped by PID, and dies with the test if the test dies first.
 * Needs /usr/bin/python3 and openssl (what the server needs). */
#include "testutil.h"

#include "k8s/client.h"
#include "k8s/informer.h"
#include "k8s/kubeconfig.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <cJSON.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#define RR_GV   "/apis/remediation.kubernaut.io/v1alpha1"
#define SERVER  "tests/k8s-api-server/server.py"   /* from the repository's root, where scripts/unit-tests runs */

/* ---- the API test server ------------------------------------------------------------------ */

static struct {
    char  dir[256];
    char  listen[64];      /* "127.0.0.1:PORT" once started */
    pid_t pid;
} srv;

static uv_loop_t   loop;
static uv_timer_t  tick;
static bool        loop_ready;
static k8s_client *kc;

static bool server_start(const char *listen)
{
    char ready[300], tls[300], kcfg[300], logf[300];
    snprintf(ready, sizeof ready, "%s/url", srv.dir);
    snprintf(tls, sizeof tls, "%s/tls", srv.dir);
    snprintf(kcfg, sizeof kcfg, "%s/kubeconfig", srv.dir);
    snprintf(logf, sizeof logf, "%s/server.log", srv.dir);
    unlink(ready);
    char *argv[] = {"/usr/bin/python3", SERVER, "--listen", (char *)listen, "--tls-dir", tls, "--ready-file", ready,
                    "--kubeconfig-out", kcfg, NULL};
    pid_t parent = getpid();
    srv.pid = fork();
    if (srv.pid < 0) return false;
    if (srv.pid == 0) {
        /* the server goes with the test, even one that a sanitizer aborted */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(1);
        int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < 400; i++) {   /* 20 s at most */
        FILE *f = fopen(ready, "r");
        if (f) {
            char url[128] = "";
            bool ok = fgets(url, sizeof url, f) != NULL;
            fclose(f);
            char *p = strstr(url, "://");
            if (ok && p) {
                snprintf(srv.listen, sizeof srv.listen, "%s", p + 3);
                srv.listen[strcspn(srv.listen, "\r\n/")] = '\0';
                return true;
            }
        }
        if (waitpid(srv.pid, NULL, WNOHANG) == srv.pid) return false;
        usleep(50000);
    }
    return false;
}

static void server_stop(int sig)
{
    if (srv.pid <= 0) return;
    kill(srv.pid, sig);
    waitpid(srv.pid, NULL, 0);
    srv.pid = 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    log_set_level(getenv("SGW_TEST_LOG") ? LOG_DEBUG : LOG_ERROR);   /* the informer's log lines */
    if (access(SERVER, R_OK) != 0) {
        fprintf(stderr, "%s not found: run from the repository's root\n", SERVER);
        return -1;
    }
    snprintf(srv.dir, sizeof srv.dir, "/tmp/sgw-informer-XXXXXX");
    if (!mkdtemp(srv.dir)) return -1;
    if (!server_start("127.0.0.1:0")) {
        fprintf(stderr, "API test server did not start (log in %s)\n", srv.dir);
        return -1;
    }
    char path[300], err[256];
    snprintf(path, sizeof path, "%s/kubeconfig", srv.dir);
    k8s_config cfg;
    if (k8s_config_from_kubeconfig(path, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "kubeconfig: %s\n", err);
        return -1;
    }
    uv_loop_init(&loop);
    uv_timer_init(&loop, &tick);
    loop_ready = true;
    k8s_client_opts o = {.qps = 1000, .burst = 1000, .timeout_ms = 5000, .max_retries = 2, .backoff_ms = 50};
    kc = k8s_client_new(&loop, &cfg, &o, err, sizeof err);
    k8s_config_free(&cfg);
    return kc ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (loop_ready) {   /* cmocka runs this after a failed setup too */
        if (kc) k8s_client_free(kc);
        uv_close((uv_handle_t *)&tick, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    server_stop(SIGTERM);
    nftw(srv.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void on_tick(uv_timer_t *t) { (void)t; }

/* Runs the loop until pred(arg) or timeout_ms; returns pred(arg). */
static bool run_until(bool (*pred)(void *), void *arg, int timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;
    uv_timer_start(&tick, on_tick, 5, 5);   /* UV_RUN_ONCE returns at least every 5 ms */
    while (!pred(arg) && time_mono_ms() < end) uv_run(&loop, UV_RUN_ONCE);
    uv_timer_stop(&tick);
    return pred(arg);
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static void run_for(int ms) { run_until(never, NULL, ms); }

typedef struct call {
    bool   done;
    int    status;
    cJSON *json;
} call;

static void on_call(const k8s_response *r, void *ctx)
{
    call *c = ctx;
    c->done = true;
    c->status = r->status;
    c->json = cJSON_ParseWithLength(r->body, r->len);
}

static bool call_done(void *arg) { return ((call *)arg)->done; }

/* One API call, the loop running meanwhile; returns the status, the parsed body in *out
 * (or freed when out is NULL). */
static int api(const char *method, const char *path, const char *ctype, const char *body, cJSON **out)
{
    call c = {0};
    k8s_request(kc, method, path, ctype, body, body ? strlen(body) : 0, 0, on_call, &c);
    if (!run_until(call_done, &c, 10000)) fail_msg("%s %s: no answer in 10 s", method, path);
    if (out) *out = c.json;
    else cJSON_Delete(c.json);
    return c.status;
}

static void make_namespace(const char *ns)
{
    char body[256];
    snprintf(body, sizeof body, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}", ns);
    int st = api("POST", "/api/v1/namespaces", "application/json", body, NULL);
    if (st != 201 && st != 409) fail_msg("namespace %s: HTTP %d", ns, st);
}

static void rv_of(const cJSON *j, char *rv, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "metadata"), "resourceVersion");
    snprintf(rv, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* Creates RR ns/name (with an annotation of ann_len bytes when > 0); its resourceVersion in rv. */
static void rr_create(const char *ns, const char *name, size_t ann_len, char *rv, size_t cap)
{
    size_t n = ann_len + 512;
    char *body = malloc(n);
    int k = snprintf(body, n, "{\"apiVersion\":\"remediation.kubernaut.io/v1alpha1\",\"kind\":\"RemediationRequest\","
                              "\"metadata\":{\"name\":\"%s\",\"labels\":{\"step\":\"0\"}", name);
    if (ann_len) {
        k += snprintf(body + k, n - (size_t)k, ",\"annotations\":{\"big\":\"");
        memset(body + k, 'a', ann_len);
        k += (int)ann_len;
        k += snprintf(body + k, n - (size_t)k, "\"}");
    }
    snprintf(body + k, n - (size_t)k, "}}");
    char path[256];
    snprintf(path, sizeof path, RR_GV "/namespaces/%s/remediationrequests", ns);
    cJSON *j = NULL;
    int st = api("POST", path, "application/json", body, &j);
    free(body);
    if (st != 201) fail_msg("create %s/%s: HTTP %d", ns, name, st);
    rv_of(j, rv, cap);
    cJSON_Delete(j);
}

static void rr_patch(const char *ns, const char *name, const char *step, char *rv, size_t cap)
{
    char path[256], body[128];
    snprintf(path, sizeof path, RR_GV "/namespaces/%s/remediationrequests/%s", ns, name);
    snprintf(body, sizeof body, "{\"metadata\":{\"labels\":{\"step\":\"%s\"}}}", step);
    cJSON *j = NULL;
    int st = api("PATCH", path, "application/merge-patch+json", body, &j);
    if (st != 200) fail_msg("patch %s/%s: HTTP %d", ns, name, st);
    rv_of(j, rv, cap);
    cJSON_Delete(j);
}

static void rr_delete(const char *ns, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, RR_GV "/namespaces/%s/remediationrequests/%s", ns, name);
    int st = api("DELETE", path, NULL, NULL, NULL);
    if (st != 200) fail_msg("delete %s/%s: HTTP %d", ns, name, st);
}

/* Queues a fault for the GETs of ns's RR collection (the informer's lists and watches). */
static void fault(const char *ns, const char *action, const char *extra, int count)
{
    char body[512];
    snprintf(body, sizeof body, "{\"method\":\"GET\",\"path_regex\":\"/namespaces/%s/remediationrequests$\","
                                "\"action\":\"%s\",\"count\":%d%s}", ns, action, count, extra);
    int st = api("POST", "/_test/faults", "application/json", body, NULL);
    if (st != 201) fail_msg("fault: HTTP %d", st);
}

/* How many queued faults are not used up yet. */
static int faults_left(void)
{
    cJSON *j = NULL;
    assert_int_equal(api("GET", "/_test/faults", NULL, NULL, &j), 200);
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "items"));
    cJSON_Delete(j);
    return n;
}

/* How many logged requests have this path and a query containing `query`, and this fault
 * ("" = any, NULL = none). */
static int requests_logged(const char *path, const char *query, const char *fault_action)
{
    cJSON *j = NULL;
    assert_int_equal(api("GET", "/_test/requests", NULL, NULL, &j), 200);
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "items"))
    {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "path");
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(it, "query");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "fault");
        if (!cJSON_IsString(p) || strcmp(p->valuestring, path) != 0) continue;
        if (!cJSON_IsString(q) || !strstr(q->valuestring, query)) continue;
        if (fault_action && !fault_action[0] && !cJSON_IsString(f)) continue;
        if (fault_action && fault_action[0] && (!cJSON_IsString(f) || strcmp(f->valuestring, fault_action) != 0)) continue;
        if (!fault_action && cJSON_IsString(f)) continue;
        n++;
    }
    cJSON_Delete(j);
    return n;
}

/* ---- the owner: a cache and a log of what the informer delivered ---------------------------- */

typedef struct entry {
    char   name[64];
    char   rv[32];
    char   step[16];
    size_t ann_len;
    bool   stale;
} entry;

typedef struct owner {
    entry         e[128];
    int           n;
    char          log[32768];    /* watch events: "A name rv\n", "M ...", "D ..."; lists: "LIST n\n" */
    size_t        loglen;
    int           list_items;
    int           lists_done;
    k8s_informer *inf;
} owner;

static void log_add(owner *o, const char *fmt, const char *a, const char *b)
{
    int k = snprintf(o->log + o->loglen, sizeof o->log - o->loglen, fmt, a, b);
    assert_true(k > 0 && (size_t)k < sizeof o->log - o->loglen);
    o->loglen += (size_t)k;
}

static entry *find(owner *o, const char *name)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->e[i].name, name) == 0) return &o->e[i];
    return NULL;
}

static void upsert(owner *o, const cJSON *obj)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(md, "labels"), "step");
    const cJSON *big = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(md, "annotations"), "big");
    assert_true(cJSON_IsString(name) && cJSON_IsString(rv));
    entry *e = find(o, name->valuestring);
    if (!e) {
        assert_true(o->n < 128);
        e = &o->e[o->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", name->valuestring);
    }
    snprintf(e->rv, sizeof e->rv, "%s", rv->valuestring);
    snprintf(e->step, sizeof e->step, "%s", cJSON_IsString(step) ? step->valuestring : "");
    e->ann_len = cJSON_IsString(big) ? strlen(big->valuestring) : 0;
    e->stale = false;
}

static void drop(owner *o, const char *name)
{
    entry *e = find(o, name);
    if (!e) return;
    *e = o->e[--o->n];
}

static void on_event(k8s_informer_event ev, const cJSON *obj, void *ctx)
{
    owner *o = ctx;
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
    const char *nm = cJSON_IsString(name) ? name->valuestring : "";
    const char *v = cJSON_IsString(rv) ? rv->valuestring : "";
    switch (ev) {
    case K8S_INFORMER_LIST_BEGIN:
        for (int i = 0; i < o->n; i++) o->e[i].stale = true;
        o->list_items = 0;
        break;
    case K8S_INFORMER_LIST_ITEM:
        upsert(o, obj);
        o->list_items++;
        break;
    case K8S_INFORMER_LIST_END:
        for (int i = 0; i < o->n;) {
            if (o->e[i].stale) o->e[i] = o->e[--o->n];
            else i++;
        }
        o->lists_done++;
        char n[16];
        snprintf(n, sizeof n, "%d", o->list_items);
        log_add(o, "LIST %s%s\n", n, "");
        break;
    case K8S_INFORMER_ADDED:
        upsert(o, obj);
        log_add(o, "A %s %s\n", nm, v);
        break;
    case K8S_INFORMER_MODIFIED:
        upsert(o, obj);
        log_add(o, "M %s %s\n", nm, v);
        break;
    case K8S_INFORMER_DELETED:
        drop(o, nm);
        log_add(o, "D %s %s\n", nm, v);
        break;
    }
}

static owner *live;   /* the test's owner, freed by test_teardown when the test failed */

static k8s_informer *informer(owner *o, const char *ns, k8s_informer_opts *opts)
{
    char path[256], err[256];
    snprintf(path, sizeof path, RR_GV "/namespaces/%s/remediationrequests", ns);
    opts->path = path;
    opts->name = "RR cache";
    memset(o, 0, sizeof *o);
    o->inf = k8s_informer_new(kc, opts, on_event, o, err, sizeof err);
    assert_non_null(o->inf);
    live = o;
    k8s_informer_start(o->inf);
    return o->inf;
}

static void informer_done(owner *o)
{
    k8s_informer_free(o->inf);
    o->inf = NULL;
    live = NULL;
    run_for(20);   /* its watch's end and its timer's close */
}

static int test_teardown(void **state)
{
    (void)state;
    if (live && live->inf) informer_done(live);
    return 0;
}

static bool is_synced(void *arg)
{
    char why[256];
    return k8s_informer_synced(((owner *)arg)->inf, why, sizeof why) == 1;
}

static k8s_informer_stats stats(owner *o)
{
    k8s_informer_stats s;
    k8s_informer_stats_get(o->inf, &s);
    return s;
}

/* The cache holds exactly what the server lists for ns (names and resourceVersions). */
typedef struct same_arg {
    owner      *o;
    const char *ns;
    char        diff[256];
} same_arg;

static bool cache_is_server(void *arg)
{
    same_arg *a = arg;
    char path[256];
    snprintf(path, sizeof path, RR_GV "/remediationrequests?fieldSelector=metadata.namespace%%3D%s", a->ns);
    cJSON *j = NULL;
    if (api("GET", path, NULL, NULL, &j) != 200) {
        cJSON_Delete(j);
        snprintf(a->diff, sizeof a->diff, "list failed");
        return false;
    }
    int n = 0;
    bool same = true;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "items"))
    {
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(it, "metadata");
        const char *name = cJSON_GetObjectItemCaseSensitive(md, "name")->valuestring;
        const char *rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion")->valuestring;
        entry *e = find(a->o, name);
        n++;
        if (!e || strcmp(e->rv, rv) != 0) {
            snprintf(a->diff, sizeof a->diff, "%s@%s: cache has %s", name, rv, e ? e->rv : "nothing");
            same = false;
        }
    }
    cJSON_Delete(j);
    if (same && n != a->o->n) {
        snprintf(a->diff, sizeof a->diff, "server has %d, cache %d", n, a->o->n);
        same = false;
    }
    return same;
}

static void assert_cache_is_server(owner *o, const char *ns, int timeout_ms)
{
    same_arg a = {o, ns, ""};
    int64_t end = time_mono_ms() + timeout_ms;
    while (!cache_is_server(&a) && time_mono_ms() < end) run_for(50);
    if (!cache_is_server(&a)) fail_msg("cache of %s differs from the server: %s\nlog:\n%s", ns, a.diff, o->log);
}

/* ---- the tests ----------------------------------------------------------------------------- */

static void test_sync_then_create_update_delete(void **state)
{
    (void)state;
    const char *ns = "inf-events";
    make_namespace(ns);
    char rv[32], rv_add[32], rv_mod[32];
    for (int i = 1; i <= 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "rr-%d", i);
        rr_create(ns, name, i == 4 ? 120000 : 0, rv, sizeof rv);   /* rr-4: a ~120 KB object */
    }
    static owner o;   /* static: test_teardown reaches it after a failed assertion */
    informer(&o, ns, &(k8s_informer_opts){.page_size = 2, .watch_timeout_s = 30});
    assert_true(run_until(is_synced, &o, 5000));
    assert_int_equal(o.n, 5);
    assert_int_equal(find(&o, "rr-4")->ann_len, 120000);
    assert_string_equal(o.log, "LIST 5\n");
    /* 5 items in pages of 2: three list requests, the 2nd and 3rd with a continue token */
    char path[256];
    snprintf(path, sizeof path, RR_GV "/namespaces/%s/remediationrequests", ns);
    assert_int_equal(requests_logged(path, "limit=2", NULL), 3);
    assert_int_equal(requests_logged(path, "continue=", NULL), 2);

    rr_create(ns, "rr-6", 0, rv_add, sizeof rv_add);
    rr_patch(ns, "rr-2", "2", rv_mod, sizeof rv_mod);
    rr_delete(ns, "rr-3");
    rr_patch(ns, "rr-4", "9", rv, sizeof rv);   /* the big one again, through the watch */
    assert_cache_is_server(&o, ns, 3000);
    char want[512];
    snprintf(want, sizeof want, "LIST 5\nA rr-6 %s\nM rr-2 %s\nD rr-3 ", rv_add, rv_mod);
    if (strncmp(o.log, want, strlen(want)) != 0) fail_msg("log:\n%s\nwanted it to begin:\n%s", o.log, want);
    assert_string_equal(find(&o, "rr-2")->step, "2");
    assert_null(find(&o, "rr-3"));
    assert_int_equal(find(&o, "rr-4")->ann_len, 120000);
    assert_string_equal(find(&o, "rr-4")->step, "9");
    assert_string_equal(k8s_informer_resource_version(o.inf), rv);
    k8s_informer_stats s = stats(&o);
    assert_int_equal(s.lists, 1);
    assert_int_equal(s.events, 4);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.watches, 1);
    informer_done(&o);
}

typedef struct events_arg {
    owner *o;
    size_t want_lines;
} events_arg;

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static bool has_lines(void *arg)
{
    events_arg *a = arg;
    return count_lines(a->o->log) >= a->want_lines;
}

static void test_dropped_and_hung_watches_resume_without_loss_or_repeat(void **state)
{
    (void)state;
    const char *ns = "inf-drop";
    make_namespace(ns);
    static owner o;   /* static: test_teardown reaches it after a failed assertion */
    informer(&o, ns, &(k8s_informer_opts){.watch_timeout_s = 1, .idle_timeout_ms = 500, .backoff_ms = 100});
    assert_true(run_until(is_synced, &o, 5000));
    /* the next watch is dropped (no answer, the connection closed), twice; then one hangs
     * (no byte for 2.5 s, more than the idle timeout). curl sends a request again by itself
     * when a connection it reused closes before any answer, so a drop ends the watch
     * (K8S_WATCH_E_TRANSPORT) only on a new connection: either way nothing may be lost */
    fault(ns, "drop", "", 2);
    fault(ns, "latency", ",\"latency_ms\":2500", 1);
    /* writes every 100 ms for 3.5 s, across both, each an event the informer must deliver once */
    static char want[32768];
    size_t wl = (size_t)snprintf(want, sizeof want, "LIST 0\n");
    int64_t end = time_mono_ms() + 3500;
    int k = 0;
    for (; time_mono_ms() < end; k++) {
        char name[16], prev[16], rv[32];
        snprintf(name, sizeof name, "x-%d", k);
        rr_create(ns, name, 0, rv, sizeof rv);
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "A %s %s\n", name, rv);
        rr_patch(ns, name, "1", rv, sizeof rv);
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "M %s %s\n", name, rv);
        if (k > 0) {
            snprintf(prev, sizeof prev, "x-%d", k - 1);
            rr_delete(ns, prev);
            wl += (size_t)snprintf(want + wl, sizeof want - wl, "D %s ?\n", prev);
        }
        run_for(100);
    }
    events_arg ea = {&o, count_lines(want)};
    run_until(has_lines, &ea, 6000);
    /* the same events in the same order, each once: the deletes' versions are not known
     * here, so they are checked to lie between their neighbours' */
    const char *g = o.log, *w = want;
    long last_rv = 0;
    while (*w) {
        const char *ge = strchr(g, '\n'), *we = strchr(w, '\n');
        if (!ge) fail_msg("event missing: %.*s\nlog:\n%s", (int)(we - w), w, o.log);
        const char *q = memchr(w, '?', (size_t)(we - w));
        size_t cmp = q ? (size_t)(q - w) : (size_t)(we - w + 1);
        if (strncmp(g, w, cmp) != 0) fail_msg("got %.*s, wanted %.*s\nlog:\n%s", (int)(ge - g), g, (int)(we - w), w, o.log);
        const char *sp = memrchr(g, ' ', (size_t)(ge - g));
        if (sp && g[0] != 'L') {
            long rv = strtol(sp + 1, NULL, 10);
            if (rv <= last_rv) fail_msg("resourceVersion %ld after %ld\nlog:\n%s", rv, last_rv, o.log);
            last_rv = rv;
        }
        g = ge + 1;
        w = we + 1;
    }
    if (*g) fail_msg("events beyond the writes: %s", g);
    char path[256];
    snprintf(path, sizeof path, RR_GV "/namespaces/%s/remediationrequests", ns);
    assert_int_equal(faults_left(), 0);   /* all three were used (a latency fault is logged once served) */
    assert_int_equal(requests_logged(path, "watch=true", "drop"), 2);
    k8s_informer_stats s = stats(&o);
    assert_int_equal(s.lists, 1);       /* resumed from the resourceVersion, never relisted */
    assert_int_equal(s.relists, 0);
    assert_true(s.errors >= 1);         /* the hung watch at least */
    assert_true(s.watches >= 4);
    assert_true(k >= 8);                /* the writes spanned the faults (fewer on a loaded machine) */
    assert_cache_is_server(&o, ns, 1000);
    informer_done(&o);
}

static void test_a_410_relists_and_the_cache_forgets_what_was_deleted_meanwhile(void **state)
{
    (void)state;
    const char *ns = "inf-gone";
    make_namespace(ns);
    char rv[32];
    rr_create(ns, "rr-1", 0, rv, sizeof rv);
    rr_create(ns, "rr-2", 0, rv, sizeof rv);
    rr_create(ns, "rr-3", 0, rv, sizeof rv);
    static owner o;   /* static: test_teardown reaches it after a failed assertion */
    /* backoff 0.5 to 1 s: the changes below are made while the informer waits after a 503 */
    informer(&o, ns, &(k8s_informer_opts){.watch_timeout_s = 1, .backoff_ms = 1000, .backoff_max_ms = 1000,
                                          .page_size = 2});
    assert_true(run_until(is_synced, &o, 5000));
    char path[256];
    snprintf(path, sizeof path, RR_GV "/namespaces/%s/remediationrequests", ns);
    int64_t until = time_mono_ms() + 3000;
    while (requests_logged(path, "watch=true", NULL) == 0 && time_mono_ms() < until) run_for(10);
    /* the first watch runs: the next one gets 503, the one after 410 */
    fault(ns, "status", ",\"status\":503", 1);
    fault(ns, "status", ",\"status\":410", 1);
    k8s_informer_stats s0 = stats(&o);
    int64_t end = time_mono_ms() + 4000;
    while (stats(&o).errors == s0.errors && time_mono_ms() < end) run_for(5);
    assert_true(stats(&o).errors > s0.errors);   /* the 503: now waiting 0.5 to 1 s */
    rr_delete(ns, "rr-1");
    rr_patch(ns, "rr-2", "7", rv, sizeof rv);
    rr_create(ns, "rr-4", 0, rv, sizeof rv);
    assert_int_equal(o.lists_done, 1);            /* nothing seen yet */
    assert_cache_is_server(&o, ns, 5000);
    k8s_informer_stats s = stats(&o);
    assert_int_equal(s.relists, 1);
    assert_int_equal(s.lists, 2);
    assert_int_equal(o.lists_done, 2);
    assert_null(strstr(o.log, "D rr-1"));         /* gone through the relist, not an event */
    assert_string_equal(o.log, "LIST 3\nLIST 3\n");
    assert_string_equal(find(&o, "rr-2")->step, "7");
    /* and the watch after the relist goes on */
    rr_create(ns, "rr-5", 0, rv, sizeof rv);
    assert_cache_is_server(&o, ns, 3000);
    char want[64];
    snprintf(want, sizeof want, "A rr-5 %s\n", rv);
    assert_non_null(strstr(o.log, want));
    informer_done(&o);
}

static void test_a_missing_crd_is_not_synced_with_its_reason(void **state)
{
    (void)state;
    /* a group no version of the test server serves before its CRD is created (kubernaut.ai
     * is served from the start once the server loads deploy/crd) */
    const char *path = "/apis/widgets.example.com/v1/namespaces/default/widgets";
    char err[256], why[256];
    static owner o;   /* static: test_teardown reaches it after a failed assertion */
    memset(&o, 0, sizeof o);
    o.inf = k8s_informer_new(kc, &(k8s_informer_opts){.path = path, .notfound_retry_ms = 600}, on_event, &o, err,
                             sizeof err);
    assert_non_null(o.inf);
    live = &o;
    k8s_informer_start(o.inf);
    run_for(1500);
    assert_int_equal(k8s_informer_synced(o.inf, why, sizeof why), 0);
    assert_string_equal(why, "the API server does not serve /apis/widgets.example.com/v1/namespaces/default/widgets: "
                             "is the CRD installed?");
    int tries = requests_logged(path, "limit=", NULL);
    if (tries < 2 || tries > 4) fail_msg("%d lists in 1.5 s, wanted one every 600 ms", tries);
    /* the CRD installed: the next try lists */
    const char *crd = "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
                      "\"metadata\":{\"name\":\"widgets.widgets.example.com\"},\"spec\":{\"group\":\"widgets.example.com\","
                      "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
                      "\"kind\":\"Widget\"},\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
                      "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\"}}}]}}";
    assert_int_equal(api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", crd, NULL), 201);
    assert_true(run_until(is_synced, &o, 3000));
    assert_string_equal(o.log, "LIST 0\n");
    informer_done(&o);
}

static void test_server_down_backs_off_then_recovers(void **state)
{
    (void)state;
    const char *ns = "inf-down";
    make_namespace(ns);
    char rv[32];
    rr_create(ns, "rr-1", 0, rv, sizeof rv);
    rr_create(ns, "rr-2", 0, rv, sizeof rv);
    static owner o;   /* static: test_teardown reaches it after a failed assertion */
    informer(&o, ns, &(k8s_informer_opts){.watch_timeout_s = 1, .backoff_ms = 200, .backoff_max_ms = 1600});
    assert_true(run_until(is_synced, &o, 5000));
    k8s_informer_stats s0 = stats(&o);
    server_stop(SIGKILL);
    run_for(2500);
    k8s_informer_stats s1 = stats(&o);
    /* 100-200, 200-400, 400-800, 800-1600 ms: at most 5 tries in 2.5 s, not a tight loop */
    if (s1.errors - s0.errors < 2 || s1.watches - s0.watches > 6)
        fail_msg("while down: %llu errors, %llu watches", (unsigned long long)(s1.errors - s0.errors),
                 (unsigned long long)(s1.watches - s0.watches));
    char why[256];
    assert_int_equal(k8s_informer_synced(o.inf, why, sizeof why), 1);   /* stale, not empty */
    assert_int_equal(o.n, 2);
    /* the same port again. The restarted test server has no data and counts its
     * resourceVersions from 0 again (a real one keeps them in etcd); it is told to answer
     * the next watch with 410, as a real server does for a version it no longer has */
    assert_true(server_start(srv.listen));
    fault(ns, "status", ",\"status\":410", 1);
    make_namespace(ns);
    rr_create(ns, "rr-9", 0, rv, sizeof rv);
    assert_cache_is_server(&o, ns, 8000);
    assert_int_equal(o.n, 1);
    assert_non_null(find(&o, "rr-9"));
    k8s_informer_stats s2 = stats(&o);
    assert_true(s2.relists >= 1);
    /* and it watches on */
    rr_create(ns, "rr-10", 0, rv, sizeof rv);
    assert_cache_is_server(&o, ns, 4000);
    informer_done(&o);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sync_then_create_update_delete, test_teardown),
        cmocka_unit_test_teardown(test_dropped_and_hung_watches_resume_without_loss_or_repeat, test_teardown),
        cmocka_unit_test_teardown(test_a_410_relists_and_the_cache_forgets_what_was_deleted_meanwhile, test_teardown),
        cmocka_unit_test_teardown(test_a_missing_crd_is_not_synced_with_its_reason, test_teardown),
        cmocka_unit_test_teardown(test_server_down_backs_off_then_recovers, test_teardown),   /* last: it restarts the server */
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
