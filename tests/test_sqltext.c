/* The async layer's interned SQL texts (src/async/sqltext.c): one copy per
 * distinct text, found again by the caller's pointer or by the text, freed
 * with its last reference once the idle ones pass DBC_SQLTEXT_IDLE_MAX. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "async/sqltext.h"

static void test_same_text_one_copy(void **state) {
    (void)state;
    dbc_sqltexts t;
    dbc_sqltexts_init(&t);
    char a[] = "SELECT 1", b[] = "SELECT 1";
    const char *x = dbc_sqltext_get(&t, a);
    const char *y = dbc_sqltext_get(&t, b); /* another buffer, same text */
    const char *z = dbc_sqltext_get(&t, a); /* the recent-pointer path */
    assert_non_null(x);
    assert_ptr_equal(x, y);
    assert_ptr_equal(x, z);
    assert_true(x != a && x != b); /* a copy: the caller's may change */
    assert_int_equal(t.count, 1);
    dbc_sqltext_put(&t, x);
    dbc_sqltext_put(&t, y);
    dbc_sqltext_put(&t, z);
    assert_int_equal(t.count, 1); /* idle, kept */
    assert_int_equal(t.idle_bytes, sizeof "SELECT 1");
    assert_ptr_equal(dbc_sqltext_get(&t, "SELECT 1"), x);
    assert_int_equal(t.idle_bytes, 0);
    dbc_sqltext_put(&t, x);
    dbc_sqltexts_free(&t);
}

/* The caller reuses its buffer for another text: the pointer it passed
 * before must not find the old text. */
static void test_reused_buffer(void **state) {
    (void)state;
    dbc_sqltexts t;
    dbc_sqltexts_init(&t);
    char buf[32] = "SELECT 1";
    const char *x = dbc_sqltext_get(&t, buf);
    strcpy(buf, "SELECT 2");
    const char *y = dbc_sqltext_get(&t, buf);
    assert_true(x != y);
    assert_string_equal(x, "SELECT 1");
    assert_string_equal(y, "SELECT 2");
    strcpy(buf, "SELECT 1x"); /* a longer text with the same prefix */
    const char *z = dbc_sqltext_get(&t, buf);
    assert_string_equal(z, "SELECT 1x");
    assert_int_equal(t.count, 3);
    dbc_sqltext_put(&t, x);
    dbc_sqltext_put(&t, y);
    dbc_sqltext_put(&t, z);
    dbc_sqltexts_free(&t);
}

/* Many distinct texts: the table grows, every text is found again, and
 * once none is held the idle ones stay under the bound, least recently
 * idle freed first. */
static void test_many_and_idle_bound(void **state) {
    (void)state;
    enum { N = 5000 };
    dbc_sqltexts t;
    dbc_sqltexts_init(&t);
    static const char *held[N];
    char sql[64];
    for (int i = 0; i < N; i++) {
        snprintf(sql, sizeof sql, "SELECT %d FROM some_table_name", i);
        assert_non_null(held[i] = dbc_sqltext_get(&t, sql));
    }
    assert_int_equal(t.count, N);
    for (int i = 0; i < N; i++) {
        snprintf(sql, sizeof sql, "SELECT %d FROM some_table_name", i);
        const char *again = dbc_sqltext_get(&t, sql);
        assert_ptr_equal(again, held[i]);
        dbc_sqltext_put(&t, again);
    }
    for (int i = 0; i < N; i++)
        dbc_sqltext_put(&t, held[i]);
    assert_true(t.idle_bytes <= DBC_SQLTEXT_IDLE_MAX);
    assert_true(t.count < N);
    /* The most recently idle one is still there; the first is gone. */
    snprintf(sql, sizeof sql, "SELECT %d FROM some_table_name", N - 1);
    const char *last = dbc_sqltext_get(&t, sql);
    assert_ptr_equal(last, held[N - 1]);
    size_t before = t.count;
    dbc_sqltext_put(&t, last);
    const char *first = dbc_sqltext_get(&t, "SELECT 0 FROM some_table_name");
    assert_int_equal(t.count, before + 1); /* made anew */
    dbc_sqltext_put(&t, first);
    dbc_sqltexts_free(&t);
}

/* A text larger than the idle bound is freed with its last reference. */
static void test_huge_text_not_kept(void **state) {
    (void)state;
    dbc_sqltexts t;
    dbc_sqltexts_init(&t);
    size_t n = DBC_SQLTEXT_IDLE_MAX + 100;
    char *big = test_malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "SELECT 1", 8);
    big[n] = '\0';
    const char *x = dbc_sqltext_get(&t, big);
    assert_non_null(x);
    dbc_sqltext_put(&t, x);
    assert_int_equal(t.count, 0);
    assert_int_equal(t.idle_bytes, 0);
    test_free(big);
    dbc_sqltexts_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_text_one_copy),
        cmocka_unit_test(test_reused_buffer),
        cmocka_unit_test(test_many_and_idle_bound),
        cmocka_unit_test(test_huge_text_not_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
