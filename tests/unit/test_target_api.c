/* test_target_api.c: k8s/target.c against the Kubernetes API test server
 * (tests/k8s-api-server, started here on port 0 with its kubeconfig): a real k8s_client on a
 * uv loop resolves every owner chain (Pod → ReplicaSet → Deployment, → StatefulSet, →
 * DaemonSet, → Job → CronJob; a Service; a Node; kinds that are their own owner), a missing
 * resource and a missing owner, the scope label on the namespace and on the owner, injected
 * server faults, and the cache of answers and of what each read taught per object, counting
 * the API requests in the server's /_test/requests log. $SGW_K8S_API_SERVER names server.py (default: tests/k8s-api-server/server.py);
 * SGW_TEST_LOG=1 shows the module's and the client's log lines. About 1.5 s. */
#include "testutil.h"

#include "k8s/client.h"
#include "k8s/kubeconfig.h"
#include "k8s/target.h"
#include "util/defer.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <cJSON.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

static pid_t            server_pid;
static char             workdir[] = "/tmp/sgw-target-api-XXXXXX";
static uv_loop_t        loop;
static defer_queue      dq;
static k8s_config       cfg;
static k8s_client      *kc;
static k8s_target_cache *tc, *main_tc;   /* tc: the one in use; main_tc: the group's */

/* ---- the API test server ---------------------------------------------------------------------- */

static int start_server(void)
{
    if (!mkdtemp(workdir)) return -1;
    const char *server = getenv("SGW_K8S_API_SERVER");
    if (!server) server = "tests/k8s-api-server/server.py";
    char ready[300], kubeconfig[300], tls[300], logpath[300];
    snprintf(ready, sizeof ready, "%s/url", workdir);
    snprintf(kubeconfig, sizeof kubeconfig, "%s/kubeconfig", workdir);
    snprintf(tls, sizeof tls, "%s/tls", workdir);
    snprintf(logpath, sizeof logpath, "%s/server.out", workdir);
    server_pid = fork();
    if (server_pid < 0) return -1;
    if (server_pid == 0) {
        FILE *out = freopen(logpath, "w", stdout);
        (void)out;
        dup2(1, 2);
        execl("/usr/bin/python3", "python3", server, "--listen", "127.0.0.1:0", "--ready-file", ready,
              "--kubeconfig-out", kubeconfig, "--tls-dir", tls, (char *)NULL);
        _exit(127);
    }
    struct stat st;
    for (int i = 0; i < 300 && stat(ready, &st) != 0; i++) {
        if (waitpid(server_pid, NULL, WNOHANG) == server_pid) {
            server_pid = 0;
            break;
        }
        usleep(50 * 1000);
    }
    if (stat(ready, &st) != 0) {
        fprintf(stderr, "the API test server (%s) did not start: see %s\n", server, logpath);
        return -1;
    }
    char err[256];
    if (k8s_config_from_kubeconfig(kubeconfig, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "kubeconfig: %s\n", err);
        return -1;
    }
    return 0;
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", workdir);
}

/* ---- synchronous helpers over the loop -------------------------------------------------------------- */

typedef struct reply {
    bool  done;
    int   status;
    char *body;
} reply;

static void on_reply(const k8s_response *r, void *ctx)
{
    reply *rp = ctx;
    rp->done = true;
    rp->status = r->status;
    rp->body = strndup(r->body ? r->body : "", r->len);
}

/* One API call; the body (malloc'd) in *body if body is not NULL. */
static int api_ct(const char *method, const char *path, const char *ctype, const char *json, char **body)
{
    reply rp = {0};
    k8s_request(kc, method, path, json ? ctype : NULL, json, json ? strlen(json) : 0, time_mono_ms() + 10000,
                on_reply, &rp);
    while (!rp.done) uv_run(&loop, UV_RUN_ONCE);
    if (body) *body = rp.body;
    else free(rp.body);
    return rp.status;
}

static int api(const char *method, const char *path, const char *json, char **body)
{
    return api_ct(method, path, "application/json", json, body);
}

static void api_ok(const char *method, const char *path, const char *json, int want)
{
    char *body;
    int st = api(method, path, json, &body);
    if (st != want) fail_msg("%s %s: %d, want %d: %s", method, path, st, want, body);
    free(body);
}

typedef struct answer {
    bool       done;
    int        status;
    k8s_target t;
    bool       has_t;
} answer;

static void on_target(int status, const k8s_target *t, void *ctx)
{
    answer *a = ctx;
    if (a->done) fail_msg("a second callback");
    a->done = true;
    a->status = status;
    a->has_t = t != NULL;
    if (t) a->t = *t;
}

static char *requests(void);

static answer resolve_with(k8s_client *c, const char *ns, const char *kind, const char *name)
{
    answer a = {0};
    k8s_target_resolve(tc, c, &dq, ns, kind, name, on_target, &a);
    assert_false(a.done);                          /* never inside the call */
    while (!a.done) uv_run(&loop, UV_RUN_ONCE);
    return a;
}

static answer resolve(const char *ns, const char *kind, const char *name)
{
    return resolve_with(kc, ns, kind, name);
}

static void expect(answer a, int status, const char *kind, const char *name, int hops, k8s_scope_source scope)
{
    if (a.status != status) {
        static char log[8192];
        char *got = requests();
        snprintf(log, sizeof log, "%s", got);
        free(got);
        fail_msg("status %s (%s/%s), want %s; requests:\n%s", sgw_strerror(a.status), a.t.kind, a.t.name,
                 sgw_strerror(status), log);
    }
    if (status < 0) {
        assert_false(a.has_t);
        return;
    }
    assert_true(a.has_t);
    assert_string_equal(a.t.kind, kind);
    assert_string_equal(a.t.name, name);
    assert_int_equal(a.t.hops, hops);
    assert_int_equal(a.t.scope, scope);
}

/* The server's request log since the last call, one "METHOD path[?query] status" a line. */
static char *requests(void)
{
    char *body;
    assert_int_equal(api("GET", "/_test/requests", NULL, &body), 200);
    api_ok("DELETE", "/_test/requests", NULL, 200);
    cJSON *j = cJSON_Parse(body);
    free(body);
    const cJSON *it;
    size_t cap = 8192, off = 0;
    char *out = calloc(1, cap);
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "items"))
    {
        const char *q = cJSON_GetObjectItemCaseSensitive(it, "query")->valuestring;
        off += (size_t)snprintf(out + off, cap - off, "%s %s%s%s %d\n",
                                cJSON_GetObjectItemCaseSensitive(it, "method")->valuestring,
                                cJSON_GetObjectItemCaseSensitive(it, "path")->valuestring, *q ? "?" : "", q,
                                cJSON_GetObjectItemCaseSensitive(it, "status")->valueint);
        assert_true(off < cap);
    }
    cJSON_Delete(j);
    return out;
}

static void expect_requests(const char *want)
{
    char *got = requests();
    assert_string_equal(got, want);
    free(got);
}

/* ---- objects ----------------------------------------------------------------------------------------- */

static const struct {
    const char *kind, *api_version, *prefix, *plural, *spec;
} kinds[] = {
    {"Pod", "v1", "/api/v1", "pods", "{\"containers\":[{\"name\":\"app\",\"image\":\"app:1\"}]}"},
    {"Service", "v1", "/api/v1", "services", NULL},
    {"ReplicaSet", "apps/v1", "/apis/apps/v1", "replicasets", "{\"selector\":{\"matchLabels\":{\"app\":\"x\"}}}"},
    {"Deployment", "apps/v1", "/apis/apps/v1", "deployments", "{\"selector\":{\"matchLabels\":{\"app\":\"x\"}}}"},
    {"StatefulSet", "apps/v1", "/apis/apps/v1", "statefulsets", "{\"selector\":{\"matchLabels\":{\"app\":\"x\"}}}"},
    {"DaemonSet", "apps/v1", "/apis/apps/v1", "daemonsets", "{\"selector\":{\"matchLabels\":{\"app\":\"x\"}}}"},
    {"Job", "batch/v1", "/apis/batch/v1", "jobs", "{}"},
    {"CronJob", "batch/v1", "/apis/batch/v1", "cronjobs", "{\"schedule\":\"*/5 * * * *\"}"},
};

static const char *api_version_of(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0) return kinds[i].api_version;
    return "example.com/v1";
}

/* Creates kind ns/name with labels (a JSON object, or NULL) and, when owner_kind is set, a
 * controller reference to owner_kind/owner_name; spec overrides the kind's default spec. */
static void make(const char *kind, const char *ns, const char *name, const char *labels, const char *owner_kind,
                 const char *owner_name, const char *spec)
{
    size_t k = 0;
    while (strcmp(kinds[k].kind, kind) != 0) k++;
    char refs[512] = "";
    if (owner_kind)
        snprintf(refs, sizeof refs,
                 ",\"ownerReferences\":[{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"name\":\"%s\",\"uid\":\"uid-%s\","
                 "\"controller\":true,\"blockOwnerDeletion\":true}]",
                 api_version_of(owner_kind), owner_kind, owner_name, owner_name);
    char body[2048], path[256];
    snprintf(body, sizeof body, "{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"metadata\":{\"name\":\"%s\"%s%s%s},\"spec\":%s}",
             kinds[k].api_version, kind, name, labels ? ",\"labels\":" : "", labels ? labels : "", refs,
             spec ? spec : kinds[k].spec ? kinds[k].spec : "{}");
    snprintf(path, sizeof path, "%s/namespaces/%s/%s", kinds[k].prefix, ns, kinds[k].plural);
    api_ok("POST", path, body, 201);
}

static void make_ns(const char *name, const char *labels)
{
    char body[512];
    snprintf(body, sizeof body, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"%s%s}}",
             name, labels ? ",\"labels\":" : "", labels ? labels : "");
    api_ok("POST", "/api/v1/namespaces", body, 201);
}

static void fault(const char *json)
{
    api_ok("POST", "/_test/faults", json, 201);
}

#define MANAGED "{\"kubernaut.ai/managed\":\"true\"}"
#define UNMANAGED "{\"kubernaut.ai/managed\":\"false\"}"

/* ---- fixtures ------------------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    log_set_level(getenv("SGW_TEST_LOG") ? LOG_DEBUG : LOG_ERROR + 1);         /* the failures below are expected: keep the output readable */
    if (start_server() < 0) return -1;
    uv_loop_init(&loop);
    defer_init(&dq, &loop);
    k8s_client_opts o = {.qps = 1000, .burst = 1000, .timeout_ms = 5000, .max_retries = 2, .backoff_ms = 10,
                         .user_agent = "test_target_api"};
    char err[256];
    kc = k8s_client_new(&loop, &cfg, &o, err, sizeof err);
    if (!kc) {
        fprintf(stderr, "k8s_client_new: %s\n", err);
        return -1;
    }
    tc = main_tc = k8s_target_cache_new(NULL);
    return 0;
}

/* A cache of its own for one test, with opts; setup() puts the group's back. */
static void use_cache(const k8s_target_opts *o)
{
    tc = k8s_target_cache_new(o);
}

static int group_teardown(void **state)
{
    (void)state;
    if (tc != main_tc) k8s_target_cache_free(tc);
    k8s_target_cache_free(main_tc);
    if (kc) k8s_client_free(kc);
    defer_close(&dq);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    k8s_config_free(&cfg);
    stop_server();
    return 0;
}

/* Every test starts from the default namespaces, no faults, an empty log and cache. */
static int setup(void **state)
{
    (void)state;
    api_ok("POST", "/_test/reset", "{}", 200);
    if (tc != main_tc) k8s_target_cache_free(tc);
    tc = main_tc;
    k8s_target_cache_clear(tc);
    return 0;
}

/* ---- owner chains ------------------------------------------------------------------------------------------ */

static void test_pod_replicaset_deployment_then_the_cache(void **state)
{
    (void)state;
    make_ns("shop", MANAGED);
    make("Deployment", "shop", "web", NULL, NULL, NULL, NULL);
    make("ReplicaSet", "shop", "web-7d9f8", NULL, "Deployment", "web", NULL);
    make("Pod", "shop", "web-7d9f8-x2x4k", NULL, "ReplicaSet", "web-7d9f8", NULL);
    free(requests());
    expect(resolve("shop", "Pod", "web-7d9f8-x2x4k"), K8S_TARGET_MANAGED, "Deployment", "web", 2, K8S_SCOPE_NAMESPACE);
    expect_requests("GET /api/v1/namespaces/shop/pods/web-7d9f8-x2x4k 200\n"
                    "GET /apis/apps/v1/namespaces/shop/replicasets/web-7d9f8 200\n"
                    "GET /apis/apps/v1/namespaces/shop/deployments/web 200\n"
                    "GET /api/v1/namespaces/shop 200\n");
    /* the second time: from the cache, no request, and at once through the try-call */
    expect(resolve("shop", "Pod", "web-7d9f8-x2x4k"), K8S_TARGET_MANAGED, "Deployment", "web", 2, K8S_SCOPE_NAMESPACE);
    k8s_target t;
    assert_int_equal(k8s_target_try(tc, kc, "shop", "Pod", "web-7d9f8-x2x4k", &t), K8S_TARGET_MANAGED);
    assert_string_equal(t.kind, "Deployment");
    assert_int_equal(k8s_target_try(tc, kc, "shop", "Pod", "web-7d9f8-other", &t), SGW_E_AGAIN);
    expect_requests("");
    /* the ReplicaSet itself: every object of its chain was read for the pod */
    expect(resolve("shop", "ReplicaSet", "web-7d9f8"), K8S_TARGET_MANAGED, "Deployment", "web", 1, K8S_SCOPE_NAMESPACE);
    expect_requests("");
}

static void test_statefulset_and_daemonset_pods(void **state)
{
    (void)state;
    make_ns("data", MANAGED);
    make("StatefulSet", "data", "db", NULL, NULL, NULL, NULL);
    make("Pod", "data", "db-0", NULL, "StatefulSet", "db", NULL);
    make("DaemonSet", "data", "agent", NULL, NULL, NULL, NULL);
    make("Pod", "data", "agent-7xk2p", NULL, "DaemonSet", "agent", NULL);
    free(requests());
    expect(resolve("data", "Pod", "db-0"), K8S_TARGET_MANAGED, "StatefulSet", "db", 1, K8S_SCOPE_NAMESPACE);
    expect(resolve("data", "Pod", "agent-7xk2p"), K8S_TARGET_MANAGED, "DaemonSet", "agent", 1, K8S_SCOPE_NAMESPACE);
    expect_requests("GET /api/v1/namespaces/data/pods/db-0 200\n"
                    "GET /apis/apps/v1/namespaces/data/statefulsets/db 200\n"
                    "GET /api/v1/namespaces/data 200\n"
                    "GET /api/v1/namespaces/data/pods/agent-7xk2p 200\n"
                    "GET /apis/apps/v1/namespaces/data/daemonsets/agent 200\n");
    expect(resolve("data", "StatefulSet", "db"), K8S_TARGET_MANAGED, "StatefulSet", "db", 0, K8S_SCOPE_NAMESPACE);
}

static void test_pod_job_cronjob(void **state)
{
    (void)state;
    make_ns("batch", MANAGED);
    make("CronJob", "batch", "nightly", NULL, NULL, NULL, NULL);
    make("Job", "batch", "nightly-29001", NULL, "CronJob", "nightly", NULL);
    make("Pod", "batch", "nightly-29001-q7x9z", NULL, "Job", "nightly-29001", NULL);
    make("Job", "batch", "once", NULL, NULL, NULL, NULL);
    make("Pod", "batch", "once-h2k4d", NULL, "Job", "once", NULL);
    free(requests());
    expect(resolve("batch", "Pod", "nightly-29001-q7x9z"), K8S_TARGET_MANAGED, "CronJob", "nightly", 2,
           K8S_SCOPE_NAMESPACE);
    expect_requests("GET /api/v1/namespaces/batch/pods/nightly-29001-q7x9z 200\n"
                    "GET /apis/batch/v1/namespaces/batch/jobs/nightly-29001 200\n"
                    "GET /apis/batch/v1/namespaces/batch/cronjobs/nightly 200\n"
                    "GET /api/v1/namespaces/batch 200\n");
    expect(resolve("batch", "Job", "nightly-29001"), K8S_TARGET_MANAGED, "CronJob", "nightly", 1, K8S_SCOPE_NAMESPACE);
    expect(resolve("batch", "Pod", "once-h2k4d"), K8S_TARGET_MANAGED, "Job", "once", 1, K8S_SCOPE_NAMESPACE);
}

static void test_kinds_that_are_their_own_owner(void **state)
{
    (void)state;
    make_ns("shop", MANAGED);
    make("Deployment", "shop", "web", NULL, NULL, NULL, NULL);
    make("Pod", "shop", "debug", NULL, NULL, NULL, NULL);
    api_ok("POST", "/api/v1/nodes",
           "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"worker-1\",\"labels\":" MANAGED "}}", 201);
    api_ok("POST", "/api/v1/nodes", "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"worker-2\"}}", 201);
    free(requests());
    expect(resolve("shop", "Deployment", "web"), K8S_TARGET_MANAGED, "Deployment", "web", 0, K8S_SCOPE_NAMESPACE);
    expect(resolve("shop", "Pod", "debug"), K8S_TARGET_MANAGED, "Pod", "debug", 0, K8S_SCOPE_NAMESPACE);
    expect_requests("GET /apis/apps/v1/namespaces/shop/deployments/web 200\n"
                    "GET /api/v1/namespaces/shop 200\n"
                    "GET /api/v1/namespaces/shop/pods/debug 200\n");
    /* a Node: its own label, or unmanaged; never a namespace's (cluster-scoped) */
    expect(resolve("", "Node", "worker-1"), K8S_TARGET_MANAGED, "Node", "worker-1", 0, K8S_SCOPE_RESOURCE);
    expect(resolve("shop", "Node", "worker-2"), K8S_TARGET_UNMANAGED, "Node", "worker-2", 0, K8S_SCOPE_NO_LABEL);
    expect(resolve("", "Node", "worker-9"), SGW_E_NOTFOUND, NULL, NULL, 0, 0);
    expect_requests("GET /api/v1/nodes/worker-1 200\n"
                    "GET /api/v1/nodes/worker-2 200\n"
                    "GET /api/v1/nodes/worker-9 404\n");
    /* a kind upstream does not read: itself, scoped by its namespace alone */
    expect(resolve("shop", "Rollout", "web"), K8S_TARGET_MANAGED, "Rollout", "web", 0, K8S_SCOPE_NAMESPACE);
    expect_requests("");
}

static void test_a_service_stands_for_its_first_pods_owner(void **state)
{
    (void)state;
    make_ns("shop", MANAGED);
    make("Deployment", "shop", "web", NULL, NULL, NULL, NULL);
    make("ReplicaSet", "shop", "web-7d9f8", NULL, "Deployment", "web", NULL);
    make("Pod", "shop", "web-7d9f8-zzzzz", "{\"app\":\"web\",\"tier\":\"front\"}", "ReplicaSet", "web-7d9f8", NULL);
    make("Pod", "shop", "web-7d9f8-aaaaa", "{\"app\":\"web\",\"tier\":\"front\"}", "ReplicaSet", "web-7d9f8", NULL);
    make("Pod", "shop", "other", "{\"app\":\"web\"}", NULL, NULL, NULL);
    make("Service", "shop", "web", NULL, NULL, NULL, "{\"selector\":{\"tier\":\"front\",\"app\":\"web\"}}");
    make("Service", "shop", "headless", "{\"kubernaut.ai/managed\":\"false\"}", NULL, NULL, "{}");
    make("Service", "shop", "nobody", NULL, NULL, NULL, "{\"selector\":{\"app\":\"none\"}}");
    free(requests());
    expect(resolve("shop", "Service", "web"), K8S_TARGET_MANAGED, "Deployment", "web", 2, K8S_SCOPE_NAMESPACE);
    expect_requests("GET /api/v1/namespaces/shop/services/web 200\n"
                    "GET /api/v1/namespaces/shop/pods?labelSelector=app%3Dweb%2Ctier%3Dfront 200\n"
                    "GET /api/v1/namespaces/shop/pods/web-7d9f8-aaaaa 200\n"
                    "GET /apis/apps/v1/namespaces/shop/replicasets/web-7d9f8 200\n"
                    "GET /apis/apps/v1/namespaces/shop/deployments/web 200\n"
                    "GET /api/v1/namespaces/shop 200\n");
    /* no selector, nothing selected, no Service: the Service itself, with its own label */
    expect(resolve("shop", "Service", "headless"), K8S_TARGET_UNMANAGED, "Service", "headless", 0, K8S_SCOPE_RESOURCE);
    expect(resolve("shop", "Service", "nobody"), K8S_TARGET_MANAGED, "Service", "nobody", 0, K8S_SCOPE_NAMESPACE);
    expect(resolve("shop", "Service", "gone"), K8S_TARGET_MANAGED, "Service", "gone", 0, K8S_SCOPE_NAMESPACE);
    expect_requests("GET /api/v1/namespaces/shop/services/headless 200\n"
                    "GET /api/v1/namespaces/shop/services/nobody 200\n"
                    "GET /api/v1/namespaces/shop/pods?labelSelector=app%3Dnone 200\n"
                    "GET /api/v1/namespaces/shop/services/gone 404\n");
}

static void test_the_chain_is_bounded_to_five_reads(void **state)
{
    (void)state;
    make_ns("loop", MANAGED);
    make("ReplicaSet", "loop", "a", NULL, "ReplicaSet", "b", NULL);   /* a cycle: a → b → a */
    make("ReplicaSet", "loop", "b", NULL, "ReplicaSet", "a", NULL);
    make("Pod", "loop", "p", NULL, "ReplicaSet", "a", NULL);
    free(requests());
    /* looks at p, a, b, a, b: the fifth names a, whose label is then looked at; a and b are
     * read once */
    expect(resolve("loop", "Pod", "p"), K8S_TARGET_MANAGED, "ReplicaSet", "a", 5, K8S_SCOPE_NAMESPACE);
    expect_requests("GET /api/v1/namespaces/loop/pods/p 200\n"
                    "GET /apis/apps/v1/namespaces/loop/replicasets/a 200\n"
                    "GET /apis/apps/v1/namespaces/loop/replicasets/b 200\n"
                    "GET /api/v1/namespaces/loop 200\n");
}

static void test_identical_questions_in_flight_share_one_chain_of_reads(void **state)
{
    (void)state;
    make_ns("shop", MANAGED);
    make("Deployment", "shop", "web", NULL, NULL, NULL, NULL);
    make("ReplicaSet", "shop", "web-7d9f8", NULL, "Deployment", "web", NULL);
    make("Pod", "shop", "web-7d9f8-x2x4k", NULL, "ReplicaSet", "web-7d9f8", NULL);
    make("Pod", "shop", "web-7d9f8-b5n2m", NULL, "ReplicaSet", "web-7d9f8", NULL);
    free(requests());
    answer a[6];
    memset(a, 0, sizeof a);
    for (int i = 0; i < 5; i++) k8s_target_resolve(tc, kc, &dq, "shop", "Pod", "web-7d9f8-x2x4k", on_target, &a[i]);
    k8s_target_resolve(tc, kc, &dq, "shop", "Pod", "web-7d9f8-b5n2m", on_target, &a[5]);
    for (int i = 0; i < 6; i++)
        while (!a[i].done) uv_run(&loop, UV_RUN_ONCE);
    for (int i = 0; i < 6; i++) expect(a[i], K8S_TARGET_MANAGED, "Deployment", "web", 2, K8S_SCOPE_NAMESPACE);
    char *got = requests();
    /* one walk for the five, one for the other pod (their reads interleave: the second may
     * find the ReplicaSet, the Deployment or the namespace already read) */
    size_t lines = 0;
    for (char *p = got; *p; p++) lines += *p == '\n';
    if (lines < 5 || lines > 8) fail_msg("%zu requests, want 5 to 8:\n%s", lines, got);
    assert_non_null(strstr(got, "GET /api/v1/namespaces/shop/pods/web-7d9f8-x2x4k 200\n"));
    assert_non_null(strstr(got, "GET /api/v1/namespaces/shop/pods/web-7d9f8-b5n2m 200\n"));
    free(got);
}

/* ---- missing objects ----------------------------------------------------------------------------------------- */

static void test_a_missing_pod_is_not_found_and_cached_briefly(void **state)
{
    (void)state;
    make_ns("shop", MANAGED);
    free(requests());
    expect(resolve("shop", "Pod", "web-7d9f8-gone1"), SGW_E_NOTFOUND, NULL, NULL, 0, 0);
    expect(resolve("shop", "Pod", "web-7d9f8-gone1"), SGW_E_NOTFOUND, NULL, NULL, 0, 0);
    expect(resolve("nowhere", "Pod", "web-7d9f8-gone1"), SGW_E_NOTFOUND, NULL, NULL, 0, 0);
    expect_requests("GET /api/v1/namespaces/shop/pods/web-7d9f8-gone1 404\n"
                    "GET /api/v1/namespaces/nowhere/pods/web-7d9f8-gone1 404\n");
    k8s_target t;
    assert_int_equal(k8s_target_try(tc, kc, "shop", "Pod", "web-7d9f8-gone1", &t), SGW_E_NOTFOUND);
}

static void test_a_missing_owner_ends_the_chain_at_its_reference(void **state)
{
    (void)state;
    make_ns("shop", MANAGED);
    make("Pod", "shop", "orphan-1", NULL, "ReplicaSet", "web-gone", NULL);
    make("ReplicaSet", "shop", "api-5c6d7", NULL, "Deployment", "api", NULL);   /* the Deployment is gone */
    make("Pod", "shop", "api-5c6d7-k8s9x", NULL, "ReplicaSet", "api-5c6d7", NULL);
    free(requests());
    expect(resolve("shop", "Pod", "orphan-1"), K8S_TARGET_MANAGED, "ReplicaSet", "web-gone", 1, K8S_SCOPE_NAMESPACE);
    expect(resolve("shop", "Pod", "api-5c6d7-k8s9x"), K8S_TARGET_MANAGED, "Deployment", "api", 2, K8S_SCOPE_NAMESPACE);
    expect_requests("GET /api/v1/namespaces/shop/pods/orphan-1 200\n"
                    "GET /apis/apps/v1/namespaces/shop/replicasets/web-gone 404\n"
                    "GET /api/v1/namespaces/shop 200\n"
                    "GET /api/v1/namespaces/shop/pods/api-5c6d7-k8s9x 200\n"
                    "GET /apis/apps/v1/namespaces/shop/replicasets/api-5c6d7 200\n"
                    "GET /apis/apps/v1/namespaces/shop/deployments/api 404\n");
}

/* ---- scope ------------------------------------------------------------------------------------------------------ */

static void test_scope_label_on_the_owner_then_the_namespace(void **state)
{
    (void)state;
    make_ns("on", MANAGED);
    make_ns("off", UNMANAGED);
    make_ns("plain", NULL);
    make_ns("odd", "{\"kubernaut.ai/managed\":\"yes\"}");
    /* the owner's label wins over the namespace's, both ways */
    make("Deployment", "on", "opted-out", UNMANAGED, NULL, NULL, NULL);
    make("Pod", "on", "opted-out-1", NULL, "Deployment", "opted-out", NULL);
    make("Deployment", "off", "opted-in", MANAGED, NULL, NULL, NULL);
    make("Pod", "off", "opted-in-1", NULL, "Deployment", "opted-in", NULL);
    /* the pod's own label does not count: the scope is the owner's */
    make("Deployment", "plain", "web", NULL, NULL, NULL, NULL);
    make("Pod", "plain", "web-1", MANAGED, "Deployment", "web", NULL);
    make("Deployment", "odd", "web", "{\"kubernaut.ai/managed\":\"TRUE\"}", NULL, NULL, NULL);
    make("Deployment", "off", "web", NULL, NULL, NULL, NULL);
    free(requests());
    expect(resolve("on", "Pod", "opted-out-1"), K8S_TARGET_UNMANAGED, "Deployment", "opted-out", 1, K8S_SCOPE_RESOURCE);
    expect(resolve("off", "Pod", "opted-in-1"), K8S_TARGET_MANAGED, "Deployment", "opted-in", 1, K8S_SCOPE_RESOURCE);
    expect_requests("GET /api/v1/namespaces/on/pods/opted-out-1 200\n"
                    "GET /apis/apps/v1/namespaces/on/deployments/opted-out 200\n"
                    "GET /api/v1/namespaces/off/pods/opted-in-1 200\n"
                    "GET /apis/apps/v1/namespaces/off/deployments/opted-in 200\n");
    expect(resolve("plain", "Pod", "web-1"), K8S_TARGET_UNMANAGED, "Deployment", "web", 1, K8S_SCOPE_NO_LABEL);
    expect(resolve("odd", "Deployment", "web"), K8S_TARGET_UNMANAGED, "Deployment", "web", 0, K8S_SCOPE_NO_LABEL);
    expect(resolve("off", "Deployment", "web"), K8S_TARGET_UNMANAGED, "Deployment", "web", 0, K8S_SCOPE_NAMESPACE);
    /* a namespace that does not exist: unmanaged, not an error (upstream) */
    expect(resolve("ghost", "Rollout", "web"), K8S_TARGET_UNMANAGED, "Rollout", "web", 0, K8S_SCOPE_NO_NAMESPACE);
}

static void test_cache_ttls_with_a_real_clock(void **state)
{
    (void)state;
    k8s_target_opts o = {.ttl_ms = 5000, .negative_ttl_ms = 200};
    use_cache(&o);
    make_ns("plain", NULL);
    make_ns("on", MANAGED);
    make("Deployment", "plain", "web", NULL, NULL, NULL, NULL);
    make("Deployment", "on", "web", NULL, NULL, NULL, NULL);
    expect(resolve("plain", "Deployment", "web"), K8S_TARGET_UNMANAGED, "Deployment", "web", 0, K8S_SCOPE_NO_LABEL);
    expect(resolve("on", "Deployment", "web"), K8S_TARGET_MANAGED, "Deployment", "web", 0, K8S_SCOPE_NAMESPACE);
    /* the operator opts the namespace in, as the rejection tells: seen after the short TTL */
    free(requests());
    assert_int_equal(api_ct("PATCH", "/api/v1/namespaces/plain", "application/merge-patch+json",
                            "{\"metadata\":{\"labels\":" MANAGED "}}", NULL), 200);
    expect(resolve("plain", "Deployment", "web"), K8S_TARGET_UNMANAGED, "Deployment", "web", 0, K8S_SCOPE_NO_LABEL);
    usleep(250 * 1000);
    expect(resolve("plain", "Deployment", "web"), K8S_TARGET_MANAGED, "Deployment", "web", 0, K8S_SCOPE_NAMESPACE);
    expect(resolve("on", "Deployment", "web"), K8S_TARGET_MANAGED, "Deployment", "web", 0, K8S_SCOPE_NAMESPACE);
    char *got = requests();
    /* the patch, then only the expired answer read again */
    assert_string_equal(got, "PATCH /api/v1/namespaces/plain 200\n"
                             "GET /apis/apps/v1/namespaces/plain/deployments/web 200\n"
                             "GET /api/v1/namespaces/plain 200\n");
    free(got);
}

/* ---- what each read taught, per object ------------------------------------------------------------------- */

static void test_a_second_pod_of_a_known_deployment_costs_one_read(void **state)
{
    (void)state;
    make_ns("shop", MANAGED);
    make("Deployment", "shop", "web", NULL, NULL, NULL, NULL);
    make("ReplicaSet", "shop", "web-7d9f8", NULL, "Deployment", "web", NULL);
    make("Pod", "shop", "web-7d9f8-x2x4k", NULL, "ReplicaSet", "web-7d9f8", NULL);
    make("Pod", "shop", "web-7d9f8-b5n2m", NULL, "ReplicaSet", "web-7d9f8", NULL);
    free(requests());
    expect(resolve("shop", "Pod", "web-7d9f8-x2x4k"), K8S_TARGET_MANAGED, "Deployment", "web", 2, K8S_SCOPE_NAMESPACE);
    expect_requests("GET /api/v1/namespaces/shop/pods/web-7d9f8-x2x4k 200\n"
                    "GET /apis/apps/v1/namespaces/shop/replicasets/web-7d9f8 200\n"
                    "GET /apis/apps/v1/namespaces/shop/deployments/web 200\n"
                    "GET /api/v1/namespaces/shop 200\n");
    /* the new pod is the one object not yet read */
    k8s_target t;
    assert_int_equal(k8s_target_try(tc, kc, "shop", "Pod", "web-7d9f8-b5n2m", &t), SGW_E_AGAIN);
    expect(resolve("shop", "Pod", "web-7d9f8-b5n2m"), K8S_TARGET_MANAGED, "Deployment", "web", 2, K8S_SCOPE_NAMESPACE);
    expect_requests("GET /api/v1/namespaces/shop/pods/web-7d9f8-b5n2m 200\n");
    /* questions about objects already read are answered at once */
    assert_int_equal(k8s_target_try(tc, kc, "shop", "ReplicaSet", "web-7d9f8", &t), K8S_TARGET_MANAGED);
    assert_string_equal(t.kind, "Deployment");
    assert_int_equal(t.hops, 1);
    assert_int_equal(k8s_target_try(tc, NULL, "shop", "Deployment", "web", &t), K8S_TARGET_MANAGED);
    assert_int_equal(t.hops, 0);
    assert_int_equal(t.scope, K8S_SCOPE_NAMESPACE);
    expect_requests("");
}

static void test_an_expired_replicaset_is_read_again(void **state)
{
    (void)state;
    k8s_target_opts o = {.ttl_ms = 600, .negative_ttl_ms = 100};
    use_cache(&o);
    make_ns("shop", MANAGED);
    make("Deployment", "shop", "web", NULL, NULL, NULL, NULL);
    /* a ReplicaSet in scope by its own label and, at first, of no Deployment */
    make("ReplicaSet", "shop", "web-7d9f8", MANAGED, NULL, NULL, NULL);
    make("Pod", "shop", "web-7d9f8-x2x4k", NULL, "ReplicaSet", "web-7d9f8", NULL);
    make("Pod", "shop", "web-7d9f8-b5n2m", NULL, "ReplicaSet", "web-7d9f8", NULL);
    free(requests());
    expect(resolve("shop", "Pod", "web-7d9f8-x2x4k"), K8S_TARGET_MANAGED, "ReplicaSet", "web-7d9f8", 1,
           K8S_SCOPE_RESOURCE);
    expect_requests("GET /api/v1/namespaces/shop/pods/web-7d9f8-x2x4k 200\n"
                    "GET /apis/apps/v1/namespaces/shop/replicasets/web-7d9f8 200\n");
    /* the Deployment adopts it; the Deployment and the namespace are read after the ReplicaSet */
    assert_int_equal(api_ct("PATCH", "/apis/apps/v1/namespaces/shop/replicasets/web-7d9f8",
                            "application/merge-patch+json",
                            "{\"metadata\":{\"labels\":null,\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
                            "\"kind\":\"Deployment\",\"name\":\"web\",\"uid\":\"uid-web\",\"controller\":true}]}}",
                            NULL),
                     200);
    usleep(300 * 1000);
    expect(resolve("shop", "Deployment", "web"), K8S_TARGET_MANAGED, "Deployment", "web", 0, K8S_SCOPE_NAMESPACE);
    /* the ReplicaSet's fact is past its TTL, the others not: the new pod, the ReplicaSet read
     * again, and the adoption seen */
    usleep(350 * 1000);
    expect(resolve("shop", "Pod", "web-7d9f8-b5n2m"), K8S_TARGET_MANAGED, "Deployment", "web", 2, K8S_SCOPE_NAMESPACE);
    expect_requests("PATCH /apis/apps/v1/namespaces/shop/replicasets/web-7d9f8 200\n"
                    "GET /apis/apps/v1/namespaces/shop/deployments/web 200\n"
                    "GET /api/v1/namespaces/shop 200\n"
                    "GET /api/v1/namespaces/shop/pods/web-7d9f8-b5n2m 200\n"
                    "GET /apis/apps/v1/namespaces/shop/replicasets/web-7d9f8 200\n");
}

static void test_a_namespace_label_change_shows_after_the_negative_ttl(void **state)
{
    (void)state;
    k8s_target_opts o = {.ttl_ms = 5000, .negative_ttl_ms = 200};
    use_cache(&o);
    make_ns("plain", NULL);
    make("Deployment", "plain", "web", NULL, NULL, NULL, NULL);
    make("ReplicaSet", "plain", "web-7d9f8", NULL, "Deployment", "web", NULL);
    make("Pod", "plain", "web-7d9f8-x2x4k", NULL, "ReplicaSet", "web-7d9f8", NULL);
    make("Pod", "plain", "web-7d9f8-b5n2m", NULL, "ReplicaSet", "web-7d9f8", NULL);
    expect(resolve("plain", "Pod", "web-7d9f8-x2x4k"), K8S_TARGET_UNMANAGED, "Deployment", "web", 2,
           K8S_SCOPE_NO_LABEL);
    /* the operator opts the namespace in: within the negative TTL the old label still holds,
     * for the same pod and for a new one (only the new pod read) */
    free(requests());
    assert_int_equal(api_ct("PATCH", "/api/v1/namespaces/plain", "application/merge-patch+json",
                            "{\"metadata\":{\"labels\":" MANAGED "}}", NULL), 200);
    expect(resolve("plain", "Pod", "web-7d9f8-x2x4k"), K8S_TARGET_UNMANAGED, "Deployment", "web", 2,
           K8S_SCOPE_NO_LABEL);
    expect(resolve("plain", "Pod", "web-7d9f8-b5n2m"), K8S_TARGET_UNMANAGED, "Deployment", "web", 2,
           K8S_SCOPE_NO_LABEL);
    expect_requests("PATCH /api/v1/namespaces/plain 200\n"
                    "GET /api/v1/namespaces/plain/pods/web-7d9f8-b5n2m 200\n");
    /* after it, the unmanaged answer's objects are read again and the label seen */
    usleep(250 * 1000);
    expect(resolve("plain", "Pod", "web-7d9f8-x2x4k"), K8S_TARGET_MANAGED, "Deployment", "web", 2,
           K8S_SCOPE_NAMESPACE);
    expect_requests("GET /api/v1/namespaces/plain/pods/web-7d9f8-x2x4k 200\n"
                    "GET /apis/apps/v1/namespaces/plain/replicasets/web-7d9f8 200\n"
                    "GET /apis/apps/v1/namespaces/plain/deployments/web 200\n"
                    "GET /api/v1/namespaces/plain 200\n");
    /* and the other pod, its own fact still young enough for a managed answer, needs none */
    k8s_target t;
    assert_int_equal(k8s_target_try(tc, kc, "plain", "Pod", "web-7d9f8-b5n2m", &t), K8S_TARGET_MANAGED);
    assert_int_equal(t.scope, K8S_SCOPE_NAMESPACE);
    expect_requests("");
}

/* ---- faults ---------------------------------------------------------------------------------------------------- */

static void test_server_faults_are_unavailable_and_not_cached(void **state)
{
    (void)state;
    make_ns("shop", MANAGED);
    make("Deployment", "shop", "web", NULL, NULL, NULL, NULL);
    make("ReplicaSet", "shop", "web-7d9f8", NULL, "Deployment", "web", NULL);
    make("Pod", "shop", "web-7d9f8-x2x4k", NULL, "ReplicaSet", "web-7d9f8", NULL);
    /* 503 for the ReplicaSet, more often than the client retries (2) */
    fault("{\"method\":\"GET\",\"path_regex\":\"/replicasets/\",\"count\":3,\"action\":\"status\",\"status\":503}");
    free(requests());
    expect(resolve("shop", "Pod", "web-7d9f8-x2x4k"), SGW_E_UNAVAILABLE, NULL, NULL, 0, 0);
    expect_requests("GET /api/v1/namespaces/shop/pods/web-7d9f8-x2x4k 200\n"
                    "GET /apis/apps/v1/namespaces/shop/replicasets/web-7d9f8 503\n"
                    "GET /apis/apps/v1/namespaces/shop/replicasets/web-7d9f8 503\n"
                    "GET /apis/apps/v1/namespaces/shop/replicasets/web-7d9f8 503\n");
    k8s_target t;
    assert_int_equal(k8s_target_try(tc, kc, "shop", "Pod", "web-7d9f8-x2x4k", &t), SGW_E_AGAIN);   /* not cached */
    /* a retried fault is invisible */
    fault("{\"method\":\"GET\",\"path_regex\":\"/deployments/\",\"count\":1,\"action\":\"status\",\"status\":500}");
    expect(resolve("shop", "Pod", "web-7d9f8-x2x4k"), K8S_TARGET_MANAGED, "Deployment", "web", 2, K8S_SCOPE_NAMESPACE);
    k8s_target_cache_clear(tc);
    /* the namespace read failing, a dropped connection, a refused read */
    fault("{\"method\":\"GET\",\"path_regex\":\"^/api/v1/namespaces/shop$\",\"count\":3,\"action\":\"status\","
          "\"status\":500}");
    expect(resolve("shop", "Deployment", "web"), SGW_E_UNAVAILABLE, NULL, NULL, 0, 0);
    /* (curl itself tries a reused connection that died once more: more drops than attempts) */
    fault("{\"method\":\"GET\",\"path_regex\":\"/pods/\",\"count\":20,\"action\":\"drop\"}");
    expect(resolve("shop", "Pod", "web-7d9f8-x2x4k"), SGW_E_UNAVAILABLE, NULL, NULL, 0, 0);
    api_ok("DELETE", "/_test/faults", NULL, 200);
    fault("{\"method\":\"GET\",\"path_regex\":\"/replicasets/\",\"count\":1,\"action\":\"status\",\"status\":403}");
    expect(resolve("shop", "ReplicaSet", "web-7d9f8"), SGW_E_UNAVAILABLE, NULL, NULL, 0, 0);
    free(requests());
    expect(resolve("shop", "ReplicaSet", "web-7d9f8"), K8S_TARGET_MANAGED, "Deployment", "web", 1, K8S_SCOPE_NAMESPACE);
    expect_requests("GET /apis/apps/v1/namespaces/shop/replicasets/web-7d9f8 200\n"
                    "GET /api/v1/namespaces/shop 200\n");
}

/* One attempt is bounded by the client's timeout (k8s.timeout); a client that gives up on a
 * slow answer makes the resolution unavailable. */
static void test_a_slow_server_is_unavailable(void **state)
{
    (void)state;
    make_ns("shop", MANAGED);
    make("Deployment", "shop", "web", NULL, NULL, NULL, NULL);
    k8s_client_opts o = {.qps = 100, .burst = 100, .timeout_ms = 300, .max_retries = 0, .backoff_ms = 10,
                         .user_agent = "test_target_api"};
    char err[256];
    k8s_client *slow = k8s_client_new(&loop, &cfg, &o, err, sizeof err);
    assert_non_null(slow);
    fault("{\"method\":\"GET\",\"path_regex\":\"/deployments/\",\"count\":1,\"action\":\"latency\",\"latency_ms\":1500}");
    int64_t t0 = time_mono_ms();
    answer a = resolve_with(slow, "shop", "Deployment", "web");
    int64_t took = time_mono_ms() - t0;
    k8s_client_free(slow);
    expect(a, SGW_E_UNAVAILABLE, NULL, NULL, 0, 0);
    if (took > 1200) fail_msg("took %lld ms", (long long)took);
    expect(resolve("shop", "Deployment", "web"), K8S_TARGET_MANAGED, "Deployment", "web", 0, K8S_SCOPE_NAMESPACE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_pod_replicaset_deployment_then_the_cache, setup),
        cmocka_unit_test_setup(test_statefulset_and_daemonset_pods, setup),
        cmocka_unit_test_setup(test_pod_job_cronjob, setup),
        cmocka_unit_test_setup(test_kinds_that_are_their_own_owner, setup),
        cmocka_unit_test_setup(test_a_service_stands_for_its_first_pods_owner, setup),
        cmocka_unit_test_setup(test_the_chain_is_bounded_to_five_reads, setup),
        cmocka_unit_test_setup(test_identical_questions_in_flight_share_one_chain_of_reads, setup),
        cmocka_unit_test_setup(test_a_missing_pod_is_not_found_and_cached_briefly, setup),
        cmocka_unit_test_setup(test_a_missing_owner_ends_the_chain_at_its_reference, setup),
        cmocka_unit_test_setup(test_scope_label_on_the_owner_then_the_namespace, setup),
        cmocka_unit_test_setup(test_cache_ttls_with_a_real_clock, setup),
        cmocka_unit_test_setup(test_a_second_pod_of_a_known_deployment_costs_one_read, setup),
        cmocka_unit_test_setup(test_an_expired_replicaset_is_read_again, setup),
        cmocka_unit_test_setup(test_a_namespace_label_change_shows_after_the_negative_ttl, setup),
        cmocka_unit_test_setup(test_server_faults_are_unavailable_and_not_cached, setup),
        cmocka_unit_test_setup(test_a_slow_server_is_unavailable, setup),
    };
    return cmocka_run_group_tests_name("k8s_target_api", tests, group_setup, group_teardown);
}
