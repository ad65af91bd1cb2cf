/* test_text.c: the printf-free text helpers of the hot path write what printf and cJSON
 * would: util/jsonw.c against cJSON_PrintUnformatted (the oracle for JSON strings and for a
 * whole reply), util/fmt.c (fmt_hex, fmt_cat) and arena_cat against snprintf, and
 * ajson_field cuts long paths at a character boundary. */
#include "testutil.h"

#include "adapters/json_util.h"
#include "util/arena.h"
#include "util/fmt.h"
#include "util/jsonw.h"
#include "util/utf8.h"

#include <cJSON.h>
#include <inttypes.h>

static char *cjson_string(const char *s)
{
    cJSON *o = cJSON_CreateString(s);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return t;
}

static void test_strings_are_escaped_as_cjson_prints_them(void **state)
{
    (void)state;
    char every_byte[256];   /* 1..255: every control character, quote, backslash, high bytes */
    for (int i = 1; i < 256; i++) every_byte[i - 1] = (char)i;
    every_byte[255] = '\0';
    const char *cases[] = {"", "plain", "quote\" and backslash\\", "\b\f\n\r\t\x01\x1f\x7f",
                           "ünïcødé ✓ 𝄞", "</script>", every_byte};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        arena a;
        arena_init(&a);
        jsonw w;
        jw_init(&w, &a, 1);   /* smallest buffer: every case grows it */
        jw_str(&w, cases[i]);
        char *want = cjson_string(cases[i]);
        assert_string_equal(w.buf, want);
        assert_int_equal(w.len, strlen(want));
        cJSON_free(want);
        arena_free(&a);
    }
}

/* The writer skips plain bytes sixteen at a time: a byte that needs an escape at any offset of
 * a long string (both sides of a 16-byte edge, the tail after the last full word) is escaped. */
static void test_a_special_byte_is_escaped_at_every_offset(void **state)
{
    (void)state;
    static const char specials[] = {'"', '\\', '\n', '\x01', '\x1f'};
    for (size_t len = 1; len <= 50; len++)
        for (size_t at = 0; at < len; at++)
            for (size_t k = 0; k < sizeof specials; k++) {
                char value[51];
                memset(value, 'v', len);
                value[len] = '\0';
                value[at] = specials[k];
                if (k == 0 && at + 1 < len) value[len - 1] = '\x7f';   /* DEL is not escaped */
                arena a;
                arena_init(&a);
                jsonw w;
                jw_init(&w, &a, 1);
                jw_str(&w, value);
                char *want = cjson_string(value);
                if (strcmp(w.buf, want) != 0) fail_msg("len %zu at %zu: %s, want %s", len, at, w.buf, want);
                cJSON_free(want);
                arena_free(&a);
            }
}

static void test_a_written_reply_parses_back_to_the_same_values(void **state)
{
    (void)state;
    arena a;
    arena_init(&a);
    jsonw w;
    jw_init(&w, &a, 8);
    jw_lit(&w, "{");
    jw_kstr(&w, false, "status", "dup\"licate");
    jw_lit(&w, ",\"results\":[");
    for (int i = 0; i < 200; i++) {   /* grows the buffer many times */
        if (i) jw_lit(&w, ",");
        jw_lit(&w, "{");
        jw_kstr(&w, false, "name", "a\nb");
        jw_lit(&w, ",\"count\":");
        jw_i64(&w, i == 199 ? INT64_MIN : (int64_t)i * 1000003);
        jw_lit(&w, ",\"isStorm\":");
        jw_bool(&w, i % 2);
        jw_lit(&w, "}");
    }
    jw_lit(&w, "]}");
    assert_int_equal(strlen(w.buf), w.len);
    cJSON *doc = cJSON_ParseWithLength(w.buf, w.len);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(doc, "status")->valuestring, "dup\"licate");
    cJSON *res = cJSON_GetObjectItem(doc, "results");
    assert_int_equal(cJSON_GetArraySize(res), 200);
    cJSON *e = cJSON_GetArrayItem(res, 7);
    assert_string_equal(cJSON_GetObjectItem(e, "name")->valuestring, "a\nb");
    assert_int_equal((int64_t)cJSON_GetObjectItem(e, "count")->valuedouble, 7 * 1000003);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "isStorm")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(res, 8), "isStorm")));
    assert_non_null(strstr(w.buf, "\"count\":-9223372036854775808,"));
    cJSON_Delete(doc);
    arena_free(&a);
}

static void test_hex_and_concatenation_match_printf(void **state)
{
    (void)state;
    const uint64_t vals[] = {0, 1, 0xabcdef, 0x0123456789abcdefULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char got[40], want[40];
        fmt_hex(got, vals[i], 16);
        fmt_hex(got + 16, vals[i] & 0xffffffffULL, 8);
        snprintf(want, sizeof want, "%016" PRIx64 "%08" PRIx64, vals[i], (uint64_t)(vals[i] & 0xffffffffu));
        assert_string_equal(got, want);
    }
    /* decimal: every length, both sides of each power of ten, the extremes */
    for (uint64_t p = 1, k = 0; k < 20; k++, p *= 10) {
        const uint64_t around[] = {p - 1, p, p + 1, p * 3 + 7};
        for (size_t j = 0; j < 4; j++) {
            char got[24], want[24];
            assert_int_equal(fmt_u64(got, around[j]), (size_t)snprintf(want, sizeof want, "%" PRIu64, around[j]));
            assert_string_equal(got, want);
            int64_t sv = -(int64_t)(around[j] >> 1);
            assert_int_equal(fmt_i64(got, sv), (size_t)snprintf(want, sizeof want, "%" PRId64, sv));
            assert_string_equal(got, want);
        }
    }
    const int64_t ext[] = {INT64_MIN, INT64_MAX, 0, -1, -10, 99, 100};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        char got[24], want[24];
        snprintf(want, sizeof want, "%" PRId64, ext[i]);
        assert_int_equal(fmt_i64(got, ext[i]), strlen(want));
        assert_string_equal(got, want);
    }
    char u[24];
    fmt_u64(u, UINT64_MAX);
    assert_string_equal(u, "18446744073709551615");

    char out[16];
    assert_int_equal(fmt_cat(out, sizeof out, "source=\"", "prom", "\"", (char *)NULL), 13);
    assert_string_equal(out, "source=\"prom\"");
    /* cut to cap-1, as snprintf would */
    assert_int_equal(fmt_cat(out, sizeof out, "0123456789", "abcdefghij", (char *)NULL), 15);
    assert_string_equal(out, "0123456789abcde");
    assert_int_equal(fmt_cat(out, sizeof out, (char *)NULL), 0);
    assert_string_equal(out, "");

    arena a;
    arena_init(&a);
    assert_string_equal(arena_cat(&a, "ns", ":", "Pod", ":", "web-0", (char *)NULL), "ns:Pod:web-0");
    assert_string_equal(arena_cat(&a, (char *)NULL), "");
    arena_free(&a);
}

static void test_field_paths_are_cut_at_a_character_boundary(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(ajson_field(buf, sizeof buf, "alerts[3]", "labels"), "alerts[3].labels");
    assert_string_equal(ajson_field(buf, sizeof buf, "", "labels"), "labels");
    assert_string_equal(ajson_field(buf, sizeof buf, NULL, "labels"), "labels");
    /* a path of 2-byte characters cut in the middle of one: the partial character goes */
    char path[200] = "";
    for (int i = 0; i < 40; i++) strcat(path, "é");
    char small[12];
    const char *got = ajson_field(small, sizeof small, path, "k");
    assert_true(strlen(got) <= sizeof small - 1);
    assert_int_equal(strlen(got) % 2, 0);
    assert_true(utf8_valid(got, strlen(got), NULL));
    /* the same for the key */
    char key[100] = "";
    for (int i = 0; i < 30; i++) strcat(key, "€");   /* 3 bytes each */
    got = ajson_field(small, sizeof small, "a", key);
    assert_true(utf8_valid(got, strlen(got), NULL));
    assert_int_equal(strncmp(got, "a.", 2), 0);
    assert_int_equal((strlen(got) - 2) % 3, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_are_escaped_as_cjson_prints_them),
        cmocka_unit_test(test_a_special_byte_is_escaped_at_every_offset),
        cmocka_unit_test(test_a_written_reply_parses_back_to_the_same_values),
        cmocka_unit_test(test_hex_and_concatenation_match_printf),
        cmocka_unit_test(test_field_paths_are_cut_at_a_character_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
