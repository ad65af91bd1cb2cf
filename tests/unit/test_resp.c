/* test_resp.c: the RESP frames the Redis store sends (state/resp.c) are byte for byte what
 * hiredis itself formats for the same argv (redisFormatCommandArgv is the oracle), and the
 * integer formatting matches printf at the edges; the cJSON arena window (util/cjson_arena.c)
 * allocates from the arena inside and from malloc outside. */
#include "testutil.h"

#include "state/resp.h"
#include "util/arena.h"
#include "util/cjson_arena.h"

#include <cJSON.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>

static void assert_same_as_hiredis(const resp_cmd *c, int argc, const char **argv, const size_t *lens)
{
    char *want = NULL;
    long long n = redisFormatCommandArgv(&want, argc, argv, lens);
    assert_true(n > 0);
    assert_int_equal((size_t)n, c->len);
    assert_memory_equal(want, c->buf, c->len);
    free(want);
}

static void test_frames_equal_hiredis_formatting(void **state)
{
    (void)state;
    /* empty, binary (NUL, CR LF), long and UTF-8 arguments, and numbers */
    char big[5000];
    memset(big, 'x', sizeof big);
    const char *argv[] = {"EVALSHA", "0123456789abcdef0123456789abcdef01234567", "0", "", "a\0b\r\nc", big,
                          "ünïcødé", "-9223372036854775808", "18446744073709551615", "1764201600000"};
    size_t lens[] = {7, 40, 1, 0, 7, sizeof big, strlen("ünïcødé"), 20, 20, 13};
    int argc = (int)(sizeof argv / sizeof argv[0]);

    resp_cmd c;
    resp_begin(&c, argc, 16);   /* a small hint: the buffer must grow */
    size_t at[16];
    for (int i = 0; i < 7; i++) at[i] = resp_arg(&c, argv[i], lens[i]);
    resp_i64(&c, INT64_MIN);
    resp_u64(&c, UINT64_MAX);
    resp_i64(&c, 1764201600000);
    assert_same_as_hiredis(&c, argc, argv, lens);
    /* resp_arg reports where the bytes are: the SHA can be patched in place */
    assert_memory_equal(c.buf + at[1], argv[1], 40);
    assert_memory_equal(c.buf + at[4], "a\0b\r\nc", 7);
    free(c.buf);

    /* resp_str: NULL is the empty string */
    resp_begin(&c, 2, 0);
    resp_str(&c, NULL);
    resp_str(&c, "prefix:");
    const char *argv2[] = {"", "prefix:"};
    size_t lens2[] = {0, 7};
    assert_same_as_hiredis(&c, 2, argv2, lens2);
    free(c.buf);
}

/* hiredis' redisAsyncFormattedCommand reads the byte after the command name to see if an
 * argument follows: for a one-word command that is the byte after the frame, which must
 * exist and be a NUL (valgrind found it uninitialised for the Sentinel handshake's ROLE). */
static void test_frames_end_with_a_nul_past_their_length(void **state)
{
    (void)state;
    for (size_t hint = 0; hint < 64; hint++) {   /* whatever the buffer's size, even when full */
        resp_cmd c;
        resp_begin(&c, 1, hint);
        resp_arg(&c, "ROLE", 4);
        assert_true(c.cap > c.len);
        assert_int_equal(c.buf[c.len], '\0');
        assert_int_equal(c.len, 14);   /* "*1\r\n$4\r\nROLE\r\n" */
        free(c.buf);
    }
    resp_cmd c;
    resp_begin(&c, 2, 0);
    resp_str(&c, "GET");
    for (int i = 0; i < 100; i++) resp_i64(&c, i);   /* growth keeps the NUL too */
    assert_int_equal(c.buf[c.len], '\0');
    free(c.buf);
}

static void test_integer_formatting_matches_printf(void **state)
{
    (void)state;
    const int64_t vals[] = {0, 1, -1, 9, 10, -10, 99, 100, 1764201600000, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char got[24], want[32];
        size_t n = fmt_i64(got, vals[i]);
        snprintf(want, sizeof want, "%" PRId64, vals[i]);
        assert_string_equal(got, want);
        assert_int_equal(n, strlen(want));
    }
    char got[24];
    assert_int_equal(fmt_u64(got, UINT64_MAX), 20);
    assert_string_equal(got, "18446744073709551615");
}

static void test_cjson_allocates_from_the_arena_only_inside_the_window(void **state)
{
    (void)state;
    arena a;
    arena_init(&a);
    cjson_arena_enter(&a);
    size_t before = a.used;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "k", "a value that is copied");
    char *text = cJSON_PrintUnformatted(o);
    assert_string_equal(text, "{\"k\":\"a value that is copied\"}");
    assert_true(a.used > before);   /* nodes, strings and the print buffer: all in the arena */
    cJSON_Delete(o);                 /* a no-op inside the window */
    cJSON_free(text);
    cjson_arena_leave();
    size_t inside = a.used;

    /* outside: malloc (ASan/LSan would report a free of arena memory or a leak) */
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "n", 1);
    char *mt = cJSON_PrintUnformatted(m);
    assert_string_equal(mt, "{\"n\":1}");
    cJSON_free(mt);
    cJSON_Delete(m);
    assert_int_equal(a.used, inside);
    arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_equal_hiredis_formatting),
        cmocka_unit_test(test_frames_end_with_a_nul_past_their_length),
        cmocka_unit_test(test_integer_formatting_matches_printf),
        cmocka_unit_test(test_cjson_allocates_from_the_arena_only_inside_the_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
