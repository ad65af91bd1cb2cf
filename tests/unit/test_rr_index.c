/* test_rr_index.c: the process's RR index (state/rr_index.h): what is active, the next
 * sequence, creation claims, and a relist's mark-and-sweep against RRs this process
 * created or wrote while the list was on its way. */
#include "testutil.h"

#include "state/rr_index.h"
#include "sink/rr.h"

#include <cJSON.h>

#define FP "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define NOW 1700000000000LL

/* an RR of FP as the API server answers it */
static void put(rr_index *x, const char *name, const char *rv, int seq, const char *phase)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"metadata\":{\"name\":\"%s\",\"resourceVersion\":\"%s\",\"creationTimestamp\":\"2023-11-14T22:13:20Z\","
             "\"annotations\":{\"signal-gateway.io/sequence\":\"%d\"}},"
             "\"spec\":{\"signalFingerprint\":\"" FP "\"},\"status\":{\"overallPhase\":\"%s\"}}",
             name, rv, seq, phase);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    rr_index_put(x, j);
    cJSON_Delete(j);
}

static void test_active_and_next_sequence(void **state)
{
    (void)state;
    rr_index *x = rr_index_new();
    rr_lookup l;
    rr_index_lookup(x, FP, NOW, 0, &l);
    assert_false(l.active);
    assert_int_equal(l.next_seq, 1);
    put(x, "rr-1", "10", 1, "Executing");
    rr_index_lookup(x, FP, NOW, 0, &l);
    assert_true(l.active);
    assert_string_equal(l.name, "rr-1");
    put(x, "rr-1", "11", 1, "Completed");
    rr_index_lookup(x, FP, NOW, 0, &l);
    assert_false(l.active);
    assert_int_equal(l.next_seq, 2);
    rr_index_del(x, FP, "rr-1");   /* the sequence outlives the RR */
    rr_index_lookup(x, FP, NOW, 0, &l);
    assert_int_equal(l.next_seq, 2);
    rr_index_free(x);
}

/* Our create answered (placeholder) after the list's snapshot was taken but before the
 * list was handed over: the list cannot hold it, and the watch from the list's
 * resourceVersion brings its ADDED only later. Dropping it meanwhile makes a second RR. */
static void test_relist_keeps_a_placeholder_created_during_the_list(void **state)
{
    (void)state;
    rr_index *x = rr_index_new();
    rr_index_relist_begin(x);   /* the first list */
    rr_index_relist_end(x, "100");
    rr_lookup l;
    rr_index_lookup(x, FP, NOW, 10000, &l);
    assert_int_equal(l.next_seq, 1);
    char name[64];
    rr_kai_name(FP, 1, name);
    rr_index_note_exists(x, FP, name, 1);   /* created; the relist's snapshot is older */
    rr_index_release(x, FP);
    rr_index_relist_begin(x);
    rr_index_relist_end(x, "150");            /* a list without it */
    rr_index_lookup(x, FP, NOW, 10000, &l);
    assert_true(l.active);
    assert_string_equal(l.name, name);
    rr_index_free(x);
}

/* Likewise an RR whose newest version we know is later than the list's. */
static void test_relist_keeps_an_rr_newer_than_the_list(void **state)
{
    (void)state;
    rr_index *x = rr_index_new();
    rr_index_relist_begin(x);
    rr_index_relist_end(x, "100");
    put(x, "rr-1", "160", 1, "Pending");   /* our write's answer */
    rr_index_relist_begin(x);
    rr_index_relist_end(x, "150");
    rr_lookup l;
    rr_index_lookup(x, FP, NOW, 0, &l);
    assert_true(l.active);
    assert_string_equal(l.name, "rr-1");
    rr_index_free(x);
}

/* An RR the list does not hold and that we knew at a version before the list's was
 * deleted meanwhile: dropped. */
static void test_relist_drops_what_was_deleted_before_the_list(void **state)
{
    (void)state;
    rr_index *x = rr_index_new();
    rr_index_relist_begin(x);
    put(x, "rr-1", "90", 1, "Pending");
    rr_index_relist_end(x, "100");
    rr_index_relist_begin(x);
    rr_index_relist_end(x, "150");
    rr_lookup l;
    rr_index_lookup(x, FP, NOW, 0, &l);
    assert_false(l.active);
    assert_int_equal(l.next_seq, 2);
    assert_int_equal(rr_index_size(x), 0);
    rr_index_free(x);
}

/* The sequence annotation is anyone's to edit: the next one never overflows. */
static void test_sequence_annotation_out_of_range(void **state)
{
    (void)state;
    rr_index *x = rr_index_new();
    char text[512];
    snprintf(text, sizeof text,
             "{\"metadata\":{\"name\":\"rr-x\",\"resourceVersion\":\"5\",\"annotations\":"
             "{\"signal-gateway.io/sequence\":\"9223372036854775807\"}},"
             "\"spec\":{\"signalFingerprint\":\"" FP "\"},\"status\":{\"overallPhase\":\"Completed\"}}");
    cJSON *j = cJSON_Parse(text);
    rr_index_put(x, j);
    cJSON_Delete(j);
    rr_lookup l;
    rr_index_lookup(x, FP, NOW, 0, &l);
    assert_false(l.active);
    assert_true(l.next_seq >= 1);
    rr_index_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_and_next_sequence),
        cmocka_unit_test(test_relist_keeps_a_placeholder_created_during_the_list),
        cmocka_unit_test(test_relist_keeps_an_rr_newer_than_the_list),
        cmocka_unit_test(test_relist_drops_what_was_deleted_before_the_list),
        cmocka_unit_test(test_sequence_annotation_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
