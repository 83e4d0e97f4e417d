/* Sessions: autobegin, exec, results, commit / rollback, aborted state,
 * misuse errors, savepoints, streaming, scripts. */
#include <string.h>

#include "testutil.h"

typedef struct fx {
    dbconn *db;
    dbconn_session *s;
} fx;

static int setup(void **state) {
    static fx f;
    memset(&f, 0, sizeof f);
    if (dbconn_open(&f.db, "sqlite://", NULL) ||
        dbconn_session_open(f.db, &f.s) ||
        dbconn_exec(f.s,
                    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT "
                    "NULL, email TEXT UNIQUE, age INTEGER, score REAL, pic BLOB)",
                    NULL, 0, NULL) ||
        dbconn_commit(f.s))
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    dbconn_session_close(f->s);
    return dbconn_close(f->db, NULL);
}

static int checked_out(dbconn *db) {
    dbconn_stats st;
    assert_int_equal(dbconn_pool_stats(db, &st), 0);
    return st.checked_out;
}

static void test_types_round_trip(void **state) {
    fx *f = *state;
    dbconn_result *r = NULL;
    static const unsigned char pic[] = {0, 1, 2, 0xff, 0};
    tu_ok(dbconn_exec(f->s,
                      "INSERT INTO users (name, email, age, score, pic) "
                      "VALUES (?, ?, ?, ?, ?)",
                      DBCONN_PARAMS(DBCONN_TEXT("alice"), DBCONN_NULL,
                                    DBCONN_INT(INT64_MAX), DBCONN_REAL(2.5),
                                    DBCONN_BLOB(pic, sizeof pic)),
                      &r));
    assert_int_equal(dbconn_result_changes(r), 1);
    assert_int_equal(dbconn_result_last_insert_id(r), 1);
    assert_int_equal(dbconn_result_ncols(r), 0);
    dbconn_result_free(r);
    /* Statements that change no rows report no counts (not the
     * connection's numbers from the INSERT before them). */
    tu_ok(dbconn_exec(f->s, "CREATE TABLE counts_ddl (x)", NULL, 0, &r));
    assert_int_equal(dbconn_result_changes(r), 0);
    assert_int_equal(dbconn_result_last_insert_id(r), 0);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "SELECT count(*) FROM users", NULL, 0, &r));
    assert_int_equal(dbconn_result_changes(r), 0);
    assert_int_equal(dbconn_result_last_insert_id(r), 0);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "UPDATE users SET score = score", NULL, 0, &r));
    assert_int_equal(dbconn_result_changes(r), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "SELECT id, name, email, age, score, pic FROM users",
                      NULL, 0, &r));
    tu_ok(dbconn_commit(f->s));
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_int_equal(dbconn_result_ncols(r), 6);
    assert_string_equal(dbconn_result_colname(r, 1), "name");
    assert_int_equal(dbconn_result_colindex(r, "score"), 4);
    assert_int_equal(dbconn_result_colindex(r, "nope"), DBCONN_EINVAL);
    assert_int_equal(dbconn_result_type(r, 0, 0), DBCONN_TYPE_INTEGER);
    assert_int_equal(dbconn_result_type(r, 0, 1), DBCONN_TYPE_TEXT);
    assert_int_equal(dbconn_result_type(r, 0, 2), DBCONN_TYPE_NULL);
    assert_int_equal(dbconn_result_type(r, 0, 4), DBCONN_TYPE_REAL);
    assert_int_equal(dbconn_result_type(r, 0, 5), DBCONN_TYPE_BLOB);
    assert_string_equal(dbconn_result_text(r, 0, 1), "alice");
    assert_int_equal(dbconn_result_text_len(r, 0, 1), 5);
    assert_null(dbconn_result_text(r, 0, 2));
    assert_true(dbconn_result_int(r, 0, 3) == INT64_MAX);
    assert_true(dbconn_result_real(r, 0, 4) == 2.5);
    /* integer <-> real is the only conversion */
    assert_int_equal(dbconn_result_int(r, 0, 4), 2);
    assert_true(dbconn_result_real(r, 0, 0) == 1.0);
    size_t len = 0;
    const unsigned char *p = dbconn_result_blob(r, 0, 5, &len);
    assert_int_equal(len, sizeof pic);
    assert_memory_equal(p, pic, sizeof pic);
    /* out of range reads */
    assert_int_equal(dbconn_result_type(r, 1, 0), DBCONN_EINVAL);
    assert_int_equal(dbconn_result_type(r, 0, 6), DBCONN_EINVAL);
    assert_int_equal(dbconn_result_int(r, 9, 9), 0);
    assert_true(dbconn_result_real(r, 9, 0) == 0.0);
    assert_null(dbconn_result_text(r, 0, 99));
    assert_null(dbconn_result_blob(r, 5, 5, &len));
    assert_int_equal(len, 0);
    assert_null(dbconn_result_colname(r, 6));
    assert_int_equal(dbconn_result_nrows(NULL), 0);
    dbconn_result_free(r);
    dbconn_result_free(NULL);
}

static void test_text_with_nul_and_lengths(void **state) {
    fx *f = *state;
    dbconn_result *r = NULL;
    tu_ok(dbconn_exec(f->s, "SELECT ?",
                      DBCONN_PARAMS(DBCONN_TEXTN("a\0b", 3)), &r));
    assert_int_equal(dbconn_result_text_len(r, 0, 0), 3);
    assert_memory_equal(dbconn_result_text(r, 0, 0), "a\0b", 4);
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(f->s));
}

static void test_autobegin_holds_connection_only_in_tx(void **state) {
    fx *f = *state;
    assert_false(dbconn_in_transaction(f->s));
    assert_int_equal(checked_out(f->db), 0);
    tu_ok(dbconn_exec(f->s, "SELECT 1", NULL, 0, NULL));
    assert_true(dbconn_in_transaction(f->s));
    assert_int_equal(checked_out(f->db), 1);
    tu_ok(dbconn_commit(f->s));
    assert_false(dbconn_in_transaction(f->s));
    assert_int_equal(checked_out(f->db), 0);
    /* commit / rollback with nothing open are no-ops */
    tu_ok(dbconn_commit(f->s));
    tu_ok(dbconn_rollback(f->s));
}

static int64_t count_users(dbconn_session *s) {
    dbconn_result *r = NULL;
    tu_ok(dbconn_exec(s, "SELECT count(*) FROM users", NULL, 0, &r));
    int64_t n = dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(s));
    return n;
}

static void test_rollback_discards(void **state) {
    fx *f = *state;
    int64_t before = count_users(f->s);
    tu_ok(dbconn_exec(f->s, "INSERT INTO users (name) VALUES ('x')", NULL, 0,
                      NULL));
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(count_users(f->s), before);
    tu_ok(dbconn_exec(f->s, "INSERT INTO users (name) VALUES ('y')", NULL, 0,
                      NULL));
    tu_ok(dbconn_commit(f->s));
    assert_int_equal(count_users(f->s), before + 1);
}

static void test_aborted_until_rollback(void **state) {
    fx *f = *state;
    tu_ok(dbconn_exec(f->s, "INSERT INTO users (name, email) VALUES ('a', 'dup')",
                      NULL, 0, NULL));
    int rc = dbconn_exec(f->s,
                         "INSERT INTO users (name, email) VALUES ('b', 'dup')",
                         NULL, 0, NULL);
    assert_int_equal(rc, DBCONN_ECONSTRAINT);
    assert_int_equal(dbconn_session_db_errcode(f->s), 2067); /* UNIQUE */
    assert_non_null(strstr(dbconn_session_errmsg(f->s), "UNIQUE"));
    assert_non_null(strstr(dbconn_errmsg(NULL), "INSERT INTO users"));
    assert_int_equal(dbconn_exec(f->s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_EABORTED);
    assert_non_null(strstr(dbconn_session_errmsg(f->s), "UNIQUE"));
    assert_int_equal(dbconn_commit(f->s), DBCONN_EABORTED);
    assert_true(dbconn_in_transaction(f->s));
    tu_ok(dbconn_rollback(f->s));
    assert_false(dbconn_in_transaction(f->s));
    tu_ok(dbconn_exec(f->s, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_rollback(f->s));
    /* the first row was rolled back with the transaction */
    dbconn_result *r = NULL;
    tu_ok(dbconn_exec(f->s, "SELECT count(*) FROM users WHERE email = 'dup'",
                      NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 0);
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(f->s));
}

static void test_misuse_is_an_error(void **state) {
    fx *f = *state;
    dbconn_result *r = (dbconn_result *)f; /* must be set to NULL */
    assert_int_equal(dbconn_exec(NULL, "SELECT 1", NULL, 0, &r), DBCONN_EINVAL);
    assert_null(r);
    assert_int_equal(dbconn_exec(f->s, NULL, NULL, 0, NULL), DBCONN_EINVAL);
    assert_int_equal(dbconn_exec(f->s, "SELECT 1", NULL, 2, NULL),
                     DBCONN_EINVAL);
    /* parameter count mismatch names expected vs given */
    assert_int_equal(dbconn_exec(f->s, "SELECT ?, ?",
                                 DBCONN_PARAMS(DBCONN_INT(1)), NULL),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "expects 2 parameters, 1 given"));
    tu_ok(dbconn_rollback(f->s));
    /* one statement per exec; trailing whitespace and comments are fine */
    assert_int_equal(dbconn_exec(f->s, "SELECT 1; SELECT 2", NULL, 0, NULL),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "more than one"));
    tu_ok(dbconn_rollback(f->s));
    tu_ok(dbconn_exec(f->s, "SELECT 1;  -- done\n /* c */ ;", NULL, 0, NULL));
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(dbconn_exec(f->s, "   ", NULL, 0, NULL), DBCONN_EINVAL);
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(dbconn_exec(f->s, "SELEC 1", NULL, 0, NULL), DBCONN_EDB);
    assert_non_null(strstr(dbconn_errmsg(NULL), "SELEC 1"));
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(dbconn_begin(f->s, 42), DBCONN_EINVAL);
    tu_ok(dbconn_begin(f->s, DBCONN_BEGIN_IMMEDIATE));
    assert_int_equal(dbconn_begin(f->s, DBCONN_BEGIN_DEFERRED), DBCONN_EINVAL);
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(dbconn_session_open(NULL, NULL), DBCONN_EINVAL);
    assert_int_equal(dbconn_exec_each(f->s, "SELECT 1", NULL, 0, NULL, NULL),
                     DBCONN_EINVAL);
}

static void test_result_outlives_session_and_db(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    dbconn_result *r;
    tu_ok(dbconn_open(&db, "sqlite://", NULL));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "SELECT 'kept' AS v, x'00ff' AS b", NULL, 0, &r));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    assert_string_equal(dbconn_result_text(r, 0, 0), "kept");
    assert_string_equal(dbconn_result_colname(r, 1), "b");
    dbconn_result_free(r);
}

static void test_closed_session_after_dbconn_close(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    const char *url = tu_file_url(dir, "c.db");
    dbconn *db;
    dbconn_session *a, *b;
    tu_ok(dbconn_open(&db, url, NULL));
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "CREATE TABLE t (x INTEGER)", NULL, 0, NULL));
    tu_ok(dbconn_exec(a, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(a));
    tu_ok(dbconn_exec(b, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_close(db, NULL)); /* b's insert is rolled back */
    assert_int_equal(dbconn_exec(a, "SELECT 1", NULL, 0, NULL), DBCONN_ECLOSED);
    assert_int_equal(dbconn_commit(b), DBCONN_ECLOSED);
    assert_non_null(strstr(dbconn_session_errmsg(b), "closed"));
    assert_false(dbconn_in_transaction(b));
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_open(&db, url, NULL));
    tu_ok(dbconn_session_open(db, &a));
    dbconn_result *r;
    tu_ok(dbconn_exec(a, "SELECT group_concat(x) FROM t", NULL, 0, &r));
    assert_string_equal(dbconn_result_text(r, 0, 0), "1");
    dbconn_result_free(r);
    dbconn_session_close(a);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

typedef struct each_ctx {
    int rows;
    int64_t sum;
    int stop_at;
} each_ctx;

static int each_row(void *data, const dbconn_result *row) {
    each_ctx *c = data;
    assert_int_equal(dbconn_result_nrows(row), 1);
    c->sum += dbconn_result_int(row, 0, 0);
    return ++c->rows == c->stop_at;
}

static void test_exec_each_streams(void **state) {
    fx *f = *state;
    each_ctx c = {0, 0, -1};
    tu_ok(dbconn_exec_each(f->s,
                           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT "
                           "i + 1 FROM n WHERE i < 1000) SELECT i FROM n",
                           NULL, 0, each_row, &c));
    assert_int_equal(c.rows, 1000);
    assert_int_equal(c.sum, 500500);
    each_ctx d = {0, 0, 10};
    tu_ok(dbconn_exec_each(f->s,
                           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT "
                           "i + 1 FROM n WHERE i < 1000) SELECT i FROM n",
                           NULL, 0, each_row, &d));
    assert_int_equal(d.rows, 10);
    assert_int_equal(d.sum, 55);
    tu_ok(dbconn_rollback(f->s));
}

static void test_large_result_grows(void **state) {
    fx *f = *state;
    dbconn_result *r;
    tu_ok(dbconn_exec(f->s,
                      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                      "FROM n WHERE i < 5000) SELECT i, 'row ' || i, "
                      "zeroblob(i % 7) FROM n",
                      NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 5000);
    for (size_t i = 0; i < 5000; i += 499) {
        char want[32];
        snprintf(want, sizeof want, "row %zu", i + 1);
        assert_int_equal(dbconn_result_int(r, i, 0), (int64_t)i + 1);
        assert_string_equal(dbconn_result_text(r, i, 1), want);
        size_t len;
        dbconn_result_blob(r, i, 2, &len);
        assert_int_equal(len, (i + 1) % 7);
    }
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(f->s));
}

static void test_exec_script(void **state) {
    fx *f = *state;
    tu_ok(dbconn_exec_script(f->s, "CREATE TABLE s1 (x); INSERT INTO s1 VALUES "
                                   "(1); INSERT INTO s1 VALUES (2);"));
    tu_ok(dbconn_commit(f->s));
    dbconn_result *r;
    tu_ok(dbconn_exec(f->s, "SELECT sum(x) FROM s1", NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 3);
    dbconn_result_free(r);
    assert_int_equal(dbconn_exec_script(f->s, "INSERT INTO s1 VALUES (3); "
                                              "INSERT INTO nope VALUES (1);"),
                     DBCONN_EDB);
    assert_non_null(strstr(dbconn_errmsg(NULL), "no such table: nope"));
    assert_int_equal(dbconn_commit(f->s), DBCONN_EABORTED);
    tu_ok(dbconn_rollback(f->s));
    tu_ok(dbconn_exec(f->s, "SELECT count(*) FROM s1", NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 2);
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(f->s));
}

static void test_savepoints(void **state) {
    fx *f = *state;
    int64_t before = count_users(f->s);
    tu_ok(dbconn_exec(f->s, "INSERT INTO users (name) VALUES ('sp1')", NULL, 0,
                      NULL));
    tu_ok(dbconn_savepoint(f->s, "sp"));
    tu_ok(dbconn_exec(f->s, "INSERT INTO users (name) VALUES ('sp2')", NULL, 0,
                      NULL));
    tu_ok(dbconn_savepoint_rollback(f->s, "sp"));
    tu_ok(dbconn_savepoint_release(f->s, "sp"));
    /* a failure, then ROLLBACK TO recovers the transaction */
    tu_ok(dbconn_savepoint(f->s, "sp_b"));
    assert_int_equal(dbconn_exec(f->s, "INSERT INTO users (name) VALUES (NULL)",
                                 NULL, 0, NULL),
                     DBCONN_ECONSTRAINT);
    assert_int_equal(dbconn_savepoint(f->s, "other"), DBCONN_EABORTED);
    tu_ok(dbconn_savepoint_rollback(f->s, "sp_b"));
    tu_ok(dbconn_commit(f->s));
    assert_int_equal(count_users(f->s), before + 1);
    assert_int_equal(dbconn_savepoint(f->s, "bad name; DROP"), DBCONN_EINVAL);
    assert_int_equal(dbconn_savepoint(f->s, "1x"), DBCONN_EINVAL);
    assert_int_equal(dbconn_savepoint_release(f->s, "none"), DBCONN_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_types_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_with_nul_and_lengths, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_autobegin_holds_connection_only_in_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_discards, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_aborted_until_rollback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_misuse_is_an_error, setup,
                                        teardown),
        cmocka_unit_test(test_result_outlives_session_and_db),
        cmocka_unit_test(test_closed_session_after_dbconn_close),
        cmocka_unit_test_setup_teardown(test_exec_each_streams, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_large_result_grows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exec_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_savepoints, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
