/* json-libs.c: the C JSON parsers Debian 12 packages, parsing the same webhook body in one
 * process, one after the other, round by round (bench/json-libs/run.sh). Each parser gets the
 * allocator the gateway would give it where it takes one: a bump arena reset per parse (the
 * gateway's cJSON hooks, util/cjson_arena.c). Every parse is checked: the DOM parsers must find
 * the body's "alerts" array with the expected length, the streaming ones must accept the body,
 * so a failing parser cannot look fast.
 *
 *   build/json-libs BODY N_ALERTS [ROUNDS] [PARSES]
 * Prints one line per round: "round R: <parser> <ns per parse> ..." (the caller takes ratios
 * to cJSON with the arena, measured in the same round). */
#include <cjson/cJSON.h>
#include <json-parser/json.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>
#define JSMN_STRICT
#include <jsmn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *pool;
static size_t used, pool_cap = (size_t)64 << 20;

static void *bump(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (used + n > pool_cap) abort();
    void *p = pool + used;
    used += n;
    return p;
}
static void *cj_alloc(size_t n) { return bump(n); }
static void cj_nofree(void *p) { (void)p; }
static void *jp_alloc(size_t n, int zero, void *u)
{
    (void)u;
    void *p = bump(n);
    if (zero) memset(p, 0, n);
    return p;
}
static void jp_free(void *p, void *u) { (void)p, (void)u; }
static void *y_malloc(void *c, size_t n) { (void)c; return bump(n); }
static void *y_realloc(void *c, void *p, size_t n)
{
    void *q = y_malloc(c, n);
    if (p) memcpy(q, p, n);   /* arena: the old block is at least as long as what it held */
    return q;
}
static void y_free(void *c, void *p) { (void)c, (void)p; }

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int y_null(void *c) { (void)c; return 1; }
static int y_bool(void *c, int b) { (void)c, (void)b; return 1; }
static int y_num(void *c, const char *s, size_t l) { (void)c, (void)s, (void)l; return 1; }
static int y_str(void *c, const unsigned char *s, size_t l) { (void)s; *(size_t *)c += l; return 1; }
static int y_start(void *c) { (void)c; return 1; }
static const yajl_callbacks y_cbs = {y_null, y_bool, NULL, NULL, y_num, y_str, y_start, y_str, y_start, y_start, y_start};
static yajl_alloc_funcs y_af = {y_malloc, y_realloc, y_free, NULL};

static const char *body;
static size_t len;
static int want;
static jsmntok_t *toks;
enum { MAX_TOKS = 1 << 20 };

static void fail(const char *who) { fprintf(stderr, "json-libs: %s did not parse the body as expected\n", who); exit(1); }

static void p_cjson(void)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (!j || cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "alerts")) != want) fail("cJSON");
    cJSON_Delete(j);   /* with the arena hooks: nothing */
}
static void p_jsonparser(void)
{
    json_settings s;
    memset(&s, 0, sizeof s);
    s.mem_alloc = jp_alloc;
    s.mem_free = jp_free;
    char err[json_error_max];
    json_value *v = json_parse_ex(&s, body, len, err);
    int found = -1;
    for (unsigned i = 0; v && v->type == json_object && i < v->u.object.length; i++)
        if (!strcmp(v->u.object.values[i].name, "alerts") && v->u.object.values[i].value->type == json_array)
            found = (int)v->u.object.values[i].value->u.array.length;
    if (found != want) fail("json-parser");
}
static void p_yajl_sax(void)
{
    size_t chars = 0;
    yajl_handle h = yajl_alloc(&y_cbs, &y_af, &chars);
    if (yajl_parse(h, (const unsigned char *)body, len) != yajl_status_ok ||
        yajl_complete_parse(h) != yajl_status_ok || chars == 0)
        fail("yajl (callbacks)");
    yajl_free(h);
}
static void p_yajl_tree(void)
{
    char err[128];
    yajl_val v = yajl_tree_parse(body, err, sizeof err);   /* NUL-terminated input; malloc only */
    const char *path[] = {"alerts", NULL};
    yajl_val a = v ? yajl_tree_get(v, path, yajl_t_array) : NULL;
    if (!a || (int)a->u.array.len != want) fail("yajl_tree");
    yajl_tree_free(v);
}
static void p_jsmn(void)
{
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, body, len, toks, MAX_TOKS);
    if (n <= 0 || toks[0].type != JSMN_OBJECT) fail("jsmn");
}

typedef struct { const char *name; void (*fn)(void); int arena; } parser;
static const parser parsers[] = {
    {"cjson-arena", p_cjson, 1}, {"cjson-malloc", p_cjson, 0}, {"yajl-callbacks", p_yajl_sax, 1},
    {"yajl-tree", p_yajl_tree, 0}, {"json-parser", p_jsonparser, 1}, {"jsmn-tokens", p_jsmn, 0},
};

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: json-libs BODY N_ALERTS [ROUNDS] [PARSES]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) return perror(argv[1]), 1;
    static char buf[1 << 22];
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    body = buf;
    want = atoi(argv[2]);
    int rounds = argc > 3 ? atoi(argv[3]) : 5, n = argc > 4 ? atoi(argv[4]) : 0;
    if (n <= 0) n = (int)(200000000 / (len + 1)) + 1;   /* ~0.2 GB of body per parser per round */
    pool = malloc(pool_cap);
    toks = malloc(sizeof *toks * MAX_TOKS);
    if (!pool || !toks) return 1;
    cJSON_Hooks arena_hooks = {cj_alloc, cj_nofree};
    for (int r = 1; r <= rounds; r++) {
        printf("round %d:", r);
        for (size_t k = 0; k < sizeof parsers / sizeof *parsers; k++) {
            const parser *p = &parsers[k];
            if (!strncmp(p->name, "cjson", 5)) cJSON_InitHooks(p->arena ? &arena_hooks : NULL);
            p->fn();   /* warm-up, and the check */
            double t0 = now_s();
            for (int i = 0; i < n; i++) {
                used = 0;
                p->fn();
            }
            printf(" %s %.0f", p->name, (now_s() - t0) / n * 1e9);
        }
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
