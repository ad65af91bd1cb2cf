/* test_audit.c: the audit trail (src/audit.h): a record's line read back field by field
 * (escaping, optional fields, one line); the writer: lines in order, a confirmation on the
 * loop never inside the submit and only once write(2) took the line, a failed write
 * (/dev/full), a full queue refused at once, reopening after a rename. */
#include "testutil.h"

#include "audit.h"
#include "util/err.h"

#include <cJSON.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp_path(const char *name)
{
    static char dir[64];
    if (!dir[0]) {
        strcpy(dir, "/tmp/sgw-audit-XXXXXX");
        assert_non_null(mkdtemp(dir));
    }
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* ---- the line ------------------------------------------------------------------------- */

static void test_line_has_every_field_and_reads_back(void **state)
{
    (void)state;
    auth_identity who = {AUTH_ID_KUBERNETES_USER, "system:serviceaccount:mon:\"am\"\n"};
    audit_signal sigs[] = {
        {"b87291382f60ef79a54e16ff543ffaef11d1952c0472ba0fd8498c597d15f4bc", "created", "production/rr-b87291382f60ef79"},
        {"0000111122223333444455556666777788889999aaaabbbbccccddddeeeeffff", "pending", NULL},
    };
    audit_record r = {.time_ms = 86400123, .request_id = "req-1", .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                      .caller = &who, .peer = "127.0.0.1:5555", .source = "prometheus",
                      .route = "/api/v1/signals/prometheus", .status = 503, .error = "in_progress", .signals = sigs, .n = 2};
    arena a;
    arena_init(&a);
    size_t len;
    const char *line = audit_format(&r, &a, &len);
    assert_int_equal(strlen(line), len);
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1));   /* one line, whatever the strings hold */
    cJSON *j = cJSON_ParseWithLength(line, len);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "time")->valuestring, "1970-01-02T00:00:00.123Z");
    assert_string_equal(cJSON_GetObjectItem(j, "request_id")->valuestring, "req-1");
    assert_string_equal(cJSON_GetObjectItem(j, "trace_id")->valuestring, "4bf92f3577b34da6a3ce929d0e0e4736");
    cJSON *caller = cJSON_GetObjectItem(j, "caller");
    assert_string_equal(cJSON_GetObjectItem(caller, "kind")->valuestring, "kubernetes_user");
    assert_string_equal(cJSON_GetObjectItem(caller, "name")->valuestring, who.name);
    assert_string_equal(cJSON_GetObjectItem(j, "peer")->valuestring, "127.0.0.1:5555");
    assert_string_equal(cJSON_GetObjectItem(j, "source")->valuestring, "prometheus");
    assert_string_equal(cJSON_GetObjectItem(j, "route")->valuestring, "/api/v1/signals/prometheus");
    assert_int_equal(cJSON_GetObjectItem(j, "status")->valueint, 503);
    assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring, "in_progress");
    cJSON *s = cJSON_GetObjectItem(j, "signals");
    assert_int_equal(cJSON_GetArraySize(s), 2);
    cJSON *s0 = cJSON_GetArrayItem(s, 0), *s1 = cJSON_GetArrayItem(s, 1);
    assert_string_equal(cJSON_GetObjectItem(s0, "fingerprint")->valuestring, sigs[0].fingerprint);
    assert_string_equal(cJSON_GetObjectItem(s0, "outcome")->valuestring, "created");
    assert_string_equal(cJSON_GetObjectItem(s0, "rr")->valuestring, "production/rr-b87291382f60ef79");
    assert_string_equal(cJSON_GetObjectItem(s1, "outcome")->valuestring, "pending");
    assert_null(cJSON_GetObjectItem(s1, "rr"));
    cJSON_Delete(j);
    arena_free(&a);
}

static void test_anonymous_and_refused_lines(void **state)
{
    (void)state;
    auth_identity anon = {AUTH_ID_ANONYMOUS, ""};
    audit_record r = {.time_ms = 0, .request_id = "r", .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736", .caller = &anon,
                      .peer = "", .source = "grafana", .route = "/api/v1/signals/grafana", .status = 415};
    arena a;
    arena_init(&a);
    size_t len;
    const char *line = audit_format(&r, &a, &len);
    assert_non_null(strstr(line, "\"caller\":{\"kind\":\"anonymous\"}"));
    assert_non_null(strstr(line, "\"signals\":[]}\n"));
    assert_null(strstr(line, "\"error\""));
    r.caller = NULL;
    line = audit_format(&r, &a, &len);
    assert_non_null(strstr(line, "\"caller\":{\"kind\":\"none\"}"));
    arena_free(&a);
}

/* ---- the writer ----------------------------------------------------------------------- */

/* A port on a loop of the test's own: the loop is only run for confirmations. */
typedef struct port_env {
    uv_loop_t  loop;
    audit_port port;
} port_env;

static void env_open(port_env *e, audit *a)
{
    uv_loop_init(&e->loop);
    audit_port_init(&e->port, &e->loop, a);
}

static void env_close(port_env *e)
{
    audit_port_close(&e->port);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

static void test_lines_are_written_in_order(void **state)
{
    (void)state;
    char *path = tmp_path("order.log");
    char err[256];
    audit *au = audit_open(path, 64, err, sizeof err);
    assert_non_null(au);
    port_env e;
    env_open(&e, au);
    for (int i = 0; i < 1000; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "{\"n\":%d}\n", i);
        while (audit_submit(&e.port, line, (size_t)n, NULL, NULL) == SGW_E_UNAVAILABLE) {
            audit_port_flush(&e.port);   /* 64 lines of room: hand over, let the writer catch up */
            usleep(1000);
        }
        if (i % 10 == 9) audit_port_flush(&e.port);   /* batches of ten, as loop iterations */
    }
    audit_port_flush(&e.port);
    audit_free(au);
    env_close(&e);
    char *text = slurp(path);
    assert_int_equal(count_lines(text), 1000);
    const char *p = text;
    for (int i = 0; i < 1000; i++) {
        char want[32];
        int n = snprintf(want, sizeof want, "{\"n\":%d}\n", i);
        if (strncmp(p, want, (size_t)n) != 0) fail_msg("line %d: %.20s", i, p);
        p += n;
    }
    free(text);
    free(path);
}

typedef struct confirm {
    int         calls;
    int         status;
    bool        submitting;     /* set while audit_submit runs */
    bool        inside;         /* a callback ran inside audit_submit */
    const char *path;
    size_t      lines_seen;     /* lines in the file when the confirmation ran */
} confirm;

static void on_confirm(int status, void *ctx)
{
    confirm *c = ctx;
    c->calls++;
    c->status = status;
    if (c->submitting) c->inside = true;
    if (c->path) {
        char *t = slurp(c->path);
        c->lines_seen = count_lines(t);
        free(t);
    }
}

static void on_tick(uv_timer_t *t) { (void)t; }

/* The port's handle does not keep a loop alive (a worker's has its server's): a timer does. */
static void run_until(uv_loop_t *loop, const int *calls, int want)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 1, 1);
    for (int i = 0; i < 5000 && *calls < want; i++) uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void submit_confirmed(audit_port *port, confirm *c, const char *line)
{
    c->submitting = true;
    assert_int_equal(audit_submit(port, line, strlen(line), on_confirm, c), 0);
    c->submitting = false;
}

static void test_confirmation_runs_on_the_loop_after_the_write(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char *path = tmp_path("confirm.log");
    char err[256];
    audit *au = audit_open(path, 16, err, sizeof err);
    assert_non_null(au);
    audit_port port;
    audit_port_init(&port, &loop, au);
    confirm c = {.path = path};
    submit_confirmed(&port, &c, "{\"a\":1}\n");
    assert_int_equal(c.calls, 0);
    run_until(&loop, &c.calls, 1);
    assert_int_equal(c.calls, 1);
    assert_false(c.inside);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.lines_seen, 1);   /* written before it was confirmed */
    audit_free(au);
    audit_port_close(&port);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(path);
}

static void test_a_failed_write_is_confirmed_as_a_failure(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256];
    audit *au = audit_open("/dev/full", 16, err, sizeof err);
    assert_non_null(au);
    audit_port port;
    audit_port_init(&port, &loop, au);
    confirm c = {0};
    submit_confirmed(&port, &c, "{\"a\":1}\n");
    run_until(&loop, &c.calls, 1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, SGW_E_IO);
    audit_free(au);
    audit_port_close(&port);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void *drain_fifo(void *arg)
{
    int fd = *(int *)arg;
    char buf[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0)
        if (n > 0) total += (size_t)n;
    return (void *)total;
}

static void test_a_full_queue_is_refused_at_once(void **state)
{
    (void)state;
    /* a FIFO nobody reads yet: the writer blocks once the pipe is full, the queue fills */
    char *path = tmp_path("fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    int rfd = open(path, O_RDONLY | O_NONBLOCK);
    assert_true(rfd >= 0);
    char err[256];
    audit *au = audit_open(path, 4, err, sizeof err);
    assert_non_null(au);
    fcntl(rfd, F_SETFL, 0);   /* blocking reads for the drain below */
    port_env e;
    env_open(&e, au);
    char line[4096];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    int accepted = 0, refused = 0;
    for (int i = 0; i < 10000 && !refused; i++) {
        if (audit_submit(&e.port, line, sizeof line, NULL, NULL) == 0) accepted++;
        else refused++;
        audit_port_flush(&e.port);   /* one line per batch */
    }
    assert_int_equal(refused, 1);
    assert_true(accepted >= 4);   /* the queue's 4, and what the pipe took */
    pthread_t th;
    pthread_create(&th, NULL, drain_fifo, &rfd);
    audit_free(au);   /* writes the rest: the drain reads it, then sees EOF */
    env_close(&e);
    void *total;
    pthread_join(th, &total);
    assert_int_equal((size_t)total, (size_t)accepted * sizeof line);
    close(rfd);
    unlink(path);
    free(path);
}

static void test_reopen_follows_a_rename(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char *path = tmp_path("rot.log"), *old = tmp_path("rot.log.1");
    char err[256];
    audit *au = audit_open(path, 16, err, sizeof err);
    assert_non_null(au);
    audit_port port;
    audit_port_init(&port, &loop, au);
    confirm c = {0};
    submit_confirmed(&port, &c, "{\"first\":1}\n");
    run_until(&loop, &c.calls, 1);
    assert_int_equal(rename(path, old), 0);
    audit_reopen(au);
    submit_confirmed(&port, &c, "{\"second\":2}\n");
    run_until(&loop, &c.calls, 2);
    assert_int_equal(c.calls, 2);
    audit_free(au);
    char *a = slurp(old), *b = slurp(path);
    assert_string_equal(a, "{\"first\":1}\n");
    assert_string_equal(b, "{\"second\":2}\n");
    free(a);
    free(b);
    audit_port_close(&port);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(path);
    free(old);
}

static void test_a_line_nobody_waits_for_is_written_too(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char *path = tmp_path("linger.log");
    char err[256];
    audit *au = audit_open(path, 16, err, sizeof err);
    assert_non_null(au);
    audit_port port;
    audit_port_init(&port, &loop, au);
    confirm c = {0};
    submit_confirmed(&port, &c, "{\"a\":1}\n");
    run_until(&loop, &c.calls, 1);   /* written: the writer lingers, then sleeps; either way B gets written */
    assert_int_equal(audit_submit(&port, "{\"b\":2}\n", 8, NULL, NULL), 0);
    audit_port_flush(&port);
    size_t lines = 0;
    for (int i = 0; i < 2000 && lines < 2; i++) {   /* bounded: 2 s, for a 2 ms linger */
        char *t = slurp(path);
        lines = count_lines(t);
        free(t);
        if (lines < 2) usleep(1000);
    }
    assert_int_equal(lines, 2);
    audit_free(au);
    audit_port_close(&port);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(path);
}

static void test_an_unwritable_path_is_an_error(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(audit_open("/nonexistent-dir/audit.log", 16, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-dir/audit.log"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_has_every_field_and_reads_back),
        cmocka_unit_test(test_anonymous_and_refused_lines),
        cmocka_unit_test(test_lines_are_written_in_order),
        cmocka_unit_test(test_confirmation_runs_on_the_loop_after_the_write),
        cmocka_unit_test(test_a_failed_write_is_confirmed_as_a_failure),
        cmocka_unit_test(test_a_full_queue_is_refused_at_once),
        cmocka_unit_test(test_reopen_follows_a_rename),
        cmocka_unit_test(test_a_line_nobody_waits_for_is_written_too),
        cmocka_unit_test(test_an_unwritable_path_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
