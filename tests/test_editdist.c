/* Edit distance and the nearest name (src/util/editdist.c): what the
 * "did you mean" of option messages picks. */
#include <stdint.h>
#include <string.h>

#include "util/editdist.h"
#include "testutil.h"

static void test_distance(void **state) {
    (void)state;
    assert_int_equal(dbc_edit_distance("", ""), 0);
    assert_int_equal(dbc_edit_distance("abc", ""), 3);
    assert_int_equal(dbc_edit_distance("", "abc"), 3);
    assert_int_equal(dbc_edit_distance("pool_size", "pool_size"), 0);
    assert_int_equal(dbc_edit_distance("pool_sise", "pool_size"), 1);
    assert_int_equal(dbc_edit_distance("pool_siz", "pool_size"), 1);
    assert_int_equal(dbc_edit_distance("pool_sizee", "pool_size"), 1);
    /* a swap of two neighbours is one edit */
    assert_int_equal(dbc_edit_distance("pool_szie", "pool_size"), 1);
    assert_int_equal(dbc_edit_distance("ecoh", "echo"), 1);
    /* ASCII case does not count */
    assert_int_equal(dbc_edit_distance("POOL_SIZE", "pool_size"), 0);
    assert_int_equal(dbc_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(dbc_edit_distance("ca", "abc"), 3); /* OSA, not DL */
    char longer[DBC_EDITDIST_MAX + 2];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_true(dbc_edit_distance(longer, "a") == SIZE_MAX);
    assert_true(dbc_edit_distance("a", longer) == SIZE_MAX);
}

static void test_threshold(void **state) {
    (void)state;
    assert_int_equal(dbc_edit_threshold(3), 1);
    assert_int_equal(dbc_edit_threshold(4), 1);
    assert_int_equal(dbc_edit_threshold(5), 2);
    assert_int_equal(dbc_edit_threshold(8), 2);
    assert_int_equal(dbc_edit_threshold(9), 3);
}

static void test_nearest(void **state) {
    (void)state;
    static const char *const names[] = {"echo", "pool_size", "max_overflow",
                                        "pool_timeout_ms", "pool_timeout",
                                        NULL};
    assert_string_equal(dbc_nearest("pool_sise", names), "pool_size");
    assert_string_equal(dbc_nearest("POOL_SIZE", names), "pool_size");
    assert_string_equal(dbc_nearest("max_overflw", names), "max_overflow");
    assert_string_equal(dbc_nearest("pool_timeot", names), "pool_timeout");
    assert_string_equal(dbc_nearest("ehco", names), "echo");
    /* too far: no suggestion */
    assert_null(dbc_nearest("frobnicate", names));
    assert_null(dbc_nearest("x", names));
    assert_null(dbc_nearest("ab", (const char *const[]){"cd", NULL}));
    /* the name itself is no suggestion */
    assert_null(dbc_nearest("echo", (const char *const[]){"echo", NULL}));
    assert_null(dbc_nearest("echo", NULL));
    /* the nearest wins over the first; the first of equals wins */
    assert_string_equal(
        dbc_nearest("abcdef", (const char *const[]){"abxxef", "abcdxf",
                                                    NULL}),
        "abcdxf");
    assert_string_equal(
        dbc_nearest("abcdef", (const char *const[]){"abcdex", "abcdxf",
                                                    NULL}),
        "abcdex");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_nearest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
