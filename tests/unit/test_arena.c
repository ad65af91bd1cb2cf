/* test_arena.c: util/arena.c, the per-request bump allocator (its fast path is inline in
 * arena.h): every block 16-byte aligned, distinct and intact until arena_free, whatever
 * the mix of small, zero-sized, chunk-filling and big blocks and arena_printf strings. */
#include "testutil.h"

#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>

static int by_address(const void *x, const void *y, void *blocks)
{
    unsigned char **p = blocks;
    unsigned char *a = p[*(const size_t *)x], *b = p[*(const size_t *)y];
    return a < b ? -1 : a > b;
}

static void test_blocks_are_aligned_distinct_and_intact(void **state)
{
    (void)state;
    enum { N = 3000 };
    static unsigned char *p[N];
    static size_t len[N];
    for (int round = 0; round < 3; round++) {   /* later rounds reuse the thread's cached chunks */
        arena a;
        arena_init(&a);
        size_t total = 0;
        for (int i = 0; i < N; i++) {
            /* 0..47 bytes mostly; now and then exactly a chunk's half, a big block, a 0 */
            size_t n = i % 97 == 0 ? 2049 + (size_t)i : i % 89 == 0 ? 2048 : i % 13 == 0 ? 0 : (size_t)(i * 7) % 48;
            p[i] = arena_alloc(&a, n);
            len[i] = n;
            assert_non_null(p[i]);
            assert_int_equal((uintptr_t)p[i] % 16, 0);
            memset(p[i], (int)(i & 0xff), n);
            total += ((n ? n : 1) + 15) & ~(size_t)15;
            if (i % 500 == 0) {
                char *s = arena_printf(&a, "block %d of %d", i, N), want[32];
                snprintf(want, sizeof want, "block %d of %d", i, N);
                assert_string_equal(s, want);
                assert_int_equal((uintptr_t)s % 16, 0);
                total += (strlen(s) + 1 + 15) & ~(size_t)15;
            }
        }
        for (int i = 0; i < N; i++)
            for (size_t k = 0; k < len[i]; k++)
                if (p[i][k] != (unsigned char)(i & 0xff)) fail_msg("block %d byte %zu overwritten", i, k);
        /* no two blocks overlap (zero-sized ones included: each takes 16 bytes) */
        static size_t order[N];
        for (int i = 0; i < N; i++) order[i] = (size_t)i;
        qsort_r(order, N, sizeof order[0], by_address, p);
        for (int k = 1; k < N; k++) {
            size_t a0 = order[k - 1], b0 = order[k];
            size_t span = ((len[a0] ? len[a0] : 1) + 15) & ~(size_t)15;
            assert_true(p[a0] + span <= p[b0]);
        }
        assert_int_equal(a.used, total);
        arena_free(&a);
        assert_int_equal(a.used, 0);
        assert_null(a.head);
    }
}

static void test_printf_of_a_long_string_takes_a_block_of_its_own(void **state)
{
    (void)state;
    arena a;
    arena_init(&a);
    char big[6000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *small = arena_printf(&a, "%s", "x");
    char *s = arena_printf(&a, "<%s>", big);
    assert_int_equal(strlen(s), sizeof big + 1);
    assert_int_equal(s[0], '<');
    assert_int_equal(s[sizeof big], '>');
    assert_string_equal(small, "x");
    arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_are_aligned_distinct_and_intact),
        cmocka_unit_test(test_printf_of_a_long_string_takes_a_block_of_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
