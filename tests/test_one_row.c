/* Stopping at a lookup's only row (src/sqlite_plan.c and its use in
 * src/session.c): which programs are proven to return at most one row, and
 * that a statement recompiled after a schema change is asked again (but
 * not forever), and that a proven lookup really stops at its row. */
#include <sqlite3.h>
#include <string.h>

#include "session/session.h"
#include "driver/sqlite/sqlite_plan.h"
#include "testutil.h"

static sqlite3 *raw_db(void) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, "
                     "email TEXT UNIQUE, age INTEGER);"
                     "CREATE TABLE tags (user_id INTEGER, tag TEXT);"
                     "CREATE VIRTUAL TABLE docs USING fts5(body);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    return db;
}

static bool one_row(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    bool one = dbc_sqlite_proves_one_row(st);
    sqlite3_finalize(st);
    return one;
}

static void test_lookups_by_key_are_one_row(void **state) {
    (void)state;
    if (!tu_is_sqlite())
        skip(); /* SQLite's query plans and VM */
    sqlite3 *db = raw_db();
    static const char *const yes[] = {
        "SELECT id, name, email, age FROM users WHERE id = ?",
        "SELECT * FROM users WHERE email = ?",
        "  -- a comment\n/* and another */ select name FROM users WHERE id=?1",
        "SELECT name FROM users WHERE id = ? LIMIT 1",
        "SELECT count(*) FROM users",
        "SELECT 1",
        "SELECT ? + 1, upper(?)", /* constants computed Once */
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        print_message("one row: %s\n", yes[i]);
        assert_true(one_row(db, yes[i]));
    }
    sqlite3_close(db);
}

static void test_anything_else_is_not(void **state) {
    (void)state;
    if (!tu_is_sqlite())
        skip(); /* SQLite's query plans and VM */
    sqlite3 *db = raw_db();
    static const char *const no[] = {
        "SELECT * FROM users",                          /* a scan */
        "SELECT * FROM users WHERE age = ?",            /* no index */
        "SELECT * FROM users WHERE id > ?",             /* a range */
        "SELECT * FROM users WHERE id IN (?, ?)",       /* a list */
        "SELECT * FROM users LIMIT 1",                  /* a loop, cut */
        ("SELECT u.name, t.tag FROM users u JOIN tags t "
         "ON t.user_id = u.id WHERE u.id = ?"),         /* a join */
        "SELECT age, count(*) FROM users GROUP BY age", /* groups */
        "VALUES (1), (2)",
        "WITH k(v) AS (SELECT 5) SELECT v FROM k", /* a coroutine: unsure */
        "SELECT 1 UNION ALL SELECT 2",
        ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
         "WHERE i < 3) SELECT i FROM n"),
        "SELECT * FROM docs WHERE docs MATCH ?",        /* virtual table */
        "PRAGMA table_info(users)",                      /* not a query */
        "PRAGMA user_version",
        "INSERT INTO users (name) VALUES (?) RETURNING id", /* a write */
        "UPDATE users SET age = 1 WHERE id = ?",
        "EXPLAIN SELECT 1",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        print_message("not one row: %s\n", no[i]);
        assert_false(one_row(db, no[i]));
    }
    sqlite3_close(db);
}

/* The program is read from a second compile of the statement's SQL; that
 * compile must not touch the connection's other state. */
static void test_asking_leaves_the_connection_alone(void **state) {
    (void)state;
    if (!tu_is_sqlite())
        skip(); /* SQLite's query plans and VM */
    sqlite3 *db = raw_db();
    assert_int_equal(sqlite3_exec(db, "INSERT INTO users (id, name) "
                                      "VALUES (7, 'x')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_int64 changes = sqlite3_total_changes64(db);
    sqlite3_int64 last = sqlite3_last_insert_rowid(db);
    assert_true(one_row(db, "SELECT name FROM users WHERE id = 7"));
    assert_int_equal(sqlite3_total_changes64(db), changes);
    assert_int_equal(sqlite3_last_insert_rowid(db), last);
    assert_int_equal(sqlite3_get_autocommit(db), 1);
    sqlite3_close(db);
}

/* An in-memory engine and a session that ran `script` (committed). */
static void open_with(const char *script, dbconn **db, dbconn_session **s) {
    tu_ok(dbconn_open(db, tu_url(), NULL));
    tu_ok(dbconn_session_open(*db, s));
    tu_ok(dbconn_exec_script(*s, script));
    tu_ok(dbconn_commit(*s));
}

static void close_with(dbconn *db, dbconn_session *s) {
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

#define BY_KEY "SELECT k, v FROM kv WHERE k = ?"

static size_t rows_for(dbconn_session *s, const char *k) {
    dbconn_result *r;
    tu_ok(dbconn_exec(s, BY_KEY, DBCONN_PARAMS(DBCONN_TEXT(k)), &r));
    size_t n = dbconn_result_nrows(r);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(dbconn_result_text(r, i, 0), k);
    dbconn_result_free(r);
    return n;
}

/* The cached lookup by a unique key stops at its row; after the index is
 * dropped the statement recompiles into a scan, and every matching row
 * comes back. */
static void test_schema_change_asks_again(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    open_with("CREATE TABLE kv (k TEXT, v INTEGER);"
              "CREATE UNIQUE INDEX kv_k ON kv (k);"
              "INSERT INTO kv VALUES ('a', 1), ('b', 2);", &db, &s);

    assert_int_equal(rows_for(s, "a"), 1); /* prepared */
    assert_int_equal(rows_for(s, "b"), 1); /* reused: asked */
    assert_int_equal(rows_for(s, "zz"), 0);
    dbc_centry *e = dbc_stmtcache_newest(&s->pc->cache);
    assert_non_null(e);
    assert_string_equal(e->sql, BY_KEY);
    /* Only SQLite's plans are read: on a server every row is sent anyway,
     * and the statement is never marked as a one-row lookup. */
    assert_int_equal(e->plan,
                     tu_is_sqlite() ? DBC_PLAN_ONE_ROW : DBC_PLAN_ROWS);

    tu_ok(dbconn_exec_script(s, "DROP INDEX kv_k;"
                                "INSERT INTO kv VALUES ('a', 3), ('a', 4);"));
    assert_int_equal(rows_for(s, "a"), 3);
    assert_int_equal(rows_for(s, "a"), 3); /* asked again: a scan now */
    e = dbc_stmtcache_newest(&s->pc->cache);
    assert_string_equal(e->sql, BY_KEY);
    assert_int_equal(e->plan, DBC_PLAN_ROWS);
    close_with(db, s);
}

typedef struct seen {
    int rows;
} seen;

static int count_row(void *data, const dbconn_result *r) {
    (void)r;
    ((seen *)data)->rows++;
    return 0;
}

/* VM instructions the cached statement of `sql` ran since last asked. */
static int vm_steps(dbconn_session *s, const char *sql) {
    dbc_centry *e = dbc_stmtcache_newest(&s->pc->cache);
    assert_string_equal(e->sql, sql);
    return sqlite3_stmt_status((sqlite3_stmt *)(void *)e->stmt,
                               SQLITE_STMTSTATUS_VM_STEP, 1);
}

#define BY_ID "SELECT x FROM t WHERE id = ?"

/* The proven lookup really stops at its row: fewer VM instructions than
 * the same run stepped to its end. */
static void test_lookup_stops_at_its_row(void **state) {
    (void)state;
    if (!tu_is_sqlite())
        skip(); /* SQLite's query plans and VM */
    dbconn *db;
    dbconn_session *s;
    dbconn_result *r;
    open_with("CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT);"
              "INSERT INTO t VALUES (1, 'one');", &db, &s);
    for (int i = 0; i < 2; i++) { /* prepared, then asked */
        tu_ok(dbconn_exec(s, BY_ID, DBCONN_PARAMS(DBCONN_INT(1)), &r));
        dbconn_result_free(r);
    }
    assert_int_equal(dbc_stmtcache_newest(&s->pc->cache)->plan, DBC_PLAN_ONE_ROW);
    (void)vm_steps(s, BY_ID);
    tu_ok(dbconn_exec(s, BY_ID, DBCONN_PARAMS(DBCONN_INT(1)), &r));
    assert_string_equal(dbconn_result_text(r, 0, 0), "one");
    dbconn_result_free(r);
    int stopped = vm_steps(s, BY_ID);
    dbc_stmtcache_newest(&s->pc->cache)->plan = DBC_PLAN_ROWS; /* as if unproven */
    tu_ok(dbconn_exec(s, BY_ID, DBCONN_PARAMS(DBCONN_INT(1)), &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    dbconn_result_free(r);
    int to_the_end = vm_steps(s, BY_ID);
    print_message("VM instructions: %d stopped, %d to the end\n", stopped,
                  to_the_end);
    assert_true(stopped < to_the_end);
    close_with(db, s);
}

#define LIKE "SELECT x FROM t WHERE id = ? AND x LIKE ?"

/* A plan that depends on a bound value (LIKE ?) recompiles the statement
 * at every run: it is asked at most DBC_PLAN_ASKS times, then steps to its
 * end for good -- and its rows are right all along. */
static void test_recompiled_every_run_stops_asking(void **state) {
    (void)state;
    if (!tu_is_sqlite())
        skip(); /* SQLite's query plans and VM */
    dbconn *db;
    dbconn_session *s;
    open_with("CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT);"
              "INSERT INTO t VALUES (1, 'one'), (2, 'two');", &db, &s);
    for (int i = 0; i < 8; i++) {
        dbconn_result *r;
        tu_ok(dbconn_exec(s, LIKE,
                          DBCONN_PARAMS(DBCONN_INT(1 + i % 2),
                                        DBCONN_TEXT(i % 2 ? "t%" : "o%")),
                          &r));
        assert_int_equal(dbconn_result_nrows(r), 1);
        assert_string_equal(dbconn_result_text(r, 0, 0), i % 2 ? "two" : "one");
        dbconn_result_free(r);
    }
    dbc_centry *e = dbc_stmtcache_newest(&s->pc->cache);
    assert_string_equal(e->sql, LIKE);
    assert_int_equal(e->plan_asks, DBC_PLAN_ASKS);
    assert_int_equal(e->plan, DBC_PLAN_ROWS);
    close_with(db, s);
}

/* Streaming and dbconn_exec_first stop at the same place. */
static void test_each_and_first_agree(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    open_with("CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT);"
              "INSERT INTO t VALUES (1, 'one'), (2, 'two');", &db, &s);
    for (int round = 0; round < 3; round++) {
        seen n = {0};
        tu_ok(dbconn_exec_each(s, "SELECT x FROM t WHERE id = ?",
                               DBCONN_PARAMS(DBCONN_INT(2)), count_row, &n));
        assert_int_equal(n.rows, 1);
        dbconn_result *r;
        tu_ok(dbconn_exec_first(s, "SELECT x FROM t WHERE id = ?",
                                DBCONN_PARAMS(DBCONN_INT(1)), &r));
        assert_string_equal(dbconn_result_text(r, 0, 0), "one");
        dbconn_result_free(r);
        tu_ok(dbconn_exec(s, "SELECT x FROM t WHERE id = ?",
                          DBCONN_PARAMS(DBCONN_INT(3)), &r));
        assert_int_equal(dbconn_result_nrows(r), 0);
        dbconn_result_free(r);
    }
    close_with(db, s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        tu_test(test_lookups_by_key_are_one_row),
        tu_test(test_anything_else_is_not),
        tu_test(test_asking_leaves_the_connection_alone),
        tu_test(test_schema_change_asks_again),
        tu_test(test_lookup_stops_at_its_row),
        tu_test(test_recompiled_every_run_stops_asking),
        tu_test(test_each_and_first_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
