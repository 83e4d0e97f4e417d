/* Echo: SQLAlchemy's lines through the log callback; passwords and hidden
 * parameters never appear. */
#include <string.h>

#include "testutil.h"

typedef struct capture {
    char lines[64][512];
    int levels[64];
    int n;
} capture;

static void capture_log(void *data, int level, const char *line) {
    capture *c = data;
    if (c->n < 64) {
        snprintf(c->lines[c->n], sizeof c->lines[0], "%s", line);
        c->levels[c->n++] = level;
    }
}

static bool starts(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_echo_lines(void **state) {
    (void)state;
    capture c = {0};
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.echo = 1, .log = capture_log, .log_data = &c};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE t (id INTEGER, name TEXT)", NULL, 0,
                      NULL));
    for (int i = 0; i < 2; i++)
        tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (?, ?)",
                          DBCONN_PARAMS(DBCONN_INT(7), DBCONN_TEXT("alice")),
                          NULL));
    tu_ok(dbconn_exec(s, "SELECT ?", DBCONN_PARAMS(DBCONN_NULL), NULL));
    tu_ok(dbconn_commit(s));
    tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_rollback(s));
    const char *want[] = {
        "BEGIN (implicit)",
        "CREATE TABLE t (id INTEGER, name TEXT)",
        "[generated in ",
        "INSERT INTO t VALUES (?, ?)",
        "[generated in ",
        "INSERT INTO t VALUES (?, ?)",
        "[cached since ",
        "SELECT ?",
        "[generated in ",
        "COMMIT",
        "BEGIN (implicit)",
        "SELECT 1",
        "[generated in ",
        "ROLLBACK",
    };
    size_t n = sizeof want / sizeof *want;
    assert_int_equal(c.n, (int)n);
    for (size_t i = 0; i < n; i++) {
        if (!starts(c.lines[i], want[i]))
            fail_msg("line %zu: \"%s\" does not start with \"%s\"", i,
                     c.lines[i], want[i]);
        assert_int_equal(c.levels[i], DBCONN_LOG_INFO);
    }
    assert_non_null(strstr(c.lines[2], "s] ()"));
    assert_non_null(strstr(c.lines[4], "s] (7, 'alice')"));
    assert_non_null(strstr(c.lines[6], "s ago] (7, 'alice')"));
    assert_non_null(strstr(c.lines[8], "s] (None,)"));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

static void test_echo_debug_rows_and_hidden_params(void **state) {
    (void)state;
    capture c = {0};
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.log = capture_log, .log_data = &c};
    tu_ok(dbconn_options_set(&o, "echo", "debug"));
    tu_ok(dbconn_options_set(&o, "hide_parameters", "true"));
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    dbconn_result *r;
    tu_ok(dbconn_exec(s, "SELECT ? AS secret, 2 AS n",
                      DBCONN_PARAMS(DBCONN_TEXT("hunter2")), &r));
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(s));
    bool saw_cols = false, saw_row = false;
    for (int i = 0; i < c.n; i++) {
        assert_null(strstr(c.lines[i], "hunter2"));
        if (strcmp(c.lines[i], "Col ('secret', 'n')") == 0) {
            saw_cols = true;
            assert_int_equal(c.levels[i], DBCONN_LOG_DEBUG);
        }
        if (starts(c.lines[i], "Row ("))
            saw_row = true;
        if (starts(c.lines[i], "[generated in "))
            assert_non_null(strstr(c.lines[i], "] (?,)"));
    }
    assert_true(saw_cols);
    assert_true(saw_row);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

static void test_echo_off_logs_nothing(void **state) {
    (void)state;
    capture c = {0};
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.log = capture_log, .log_data = &c};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(c.n, 0);
}

static void test_close_warns_about_open_scoped_sessions(void **state) {
    (void)state;
    capture c = {0};
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.log = capture_log, .log_data = &c}; /* echo off */
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_scoped_session(db, &s));
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(c.n, 1);
    assert_int_equal(c.levels[0], DBCONN_LOG_WARN);
    assert_non_null(strstr(c.lines[0], "closed 1 scoped session"));
}

static void test_url_password_masked(void **state) {
    (void)state;
    dbconn *db = NULL;
    int rc = dbconn_open(&db, "mysql://scott:tiger@localhost/test", NULL);
    assert_int_equal(rc, DBCONN_ENODRIVER);
    assert_null(strstr(dbconn_errmsg(NULL), "tiger"));
    assert_null(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        tu_test(test_echo_lines),
        tu_test(test_echo_debug_rows_and_hidden_params),
        tu_test(test_echo_off_logs_nothing),
        tu_test(test_close_warns_about_open_scoped_sessions),
        tu_test(test_url_password_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
