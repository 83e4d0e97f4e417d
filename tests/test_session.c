/* Sessions: autobegin, exec, results, commit / rollback, aborted state,
 * misuse errors, savepoints, streaming, scripts, dbconn_exec_first. */
#include <string.h>

#include "testutil.h"

typedef struct fx {
    dbconn *db;
    dbconn_session *s;
} fx;

static int setup(void **state) {
    tu_fresh(NULL);
    static fx f;
    memset(&f, 0, sizeof f);
    if (dbconn_open(&f.db, tu_url(), NULL) ||
        dbconn_session_open(f.db, &f.s) ||
        dbconn_exec(f.s,
                    tu_ddl("CREATE TABLE users (id INTEGER PRIMARY KEY, name "
                           "TEXT NOT NULL, email TEXT UNIQUE, age INTEGER, "
                           "score REAL, pic BLOB)"),
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

/* Transaction control run as a statement (a cached one, the second and
 * third time) ends the session's transaction as dbconn_commit would: the
 * connection goes back and the writes are committed or gone.  Cached
 * queries and writes are known not to end it (no question to the
 * connection after them); this proves the others are still asked. */
static void test_exec_commit_ends_the_transaction(void **state) {
    fx *f = *state;
    static const char *const end[] = {"COMMIT", "END", "COMMIT", "ROLLBACK"};
    for (int i = 0; i < 4; i++) {
        tu_ok(dbconn_exec(f->s, "INSERT INTO users (name) VALUES (?)",
                          DBCONN_PARAMS(DBCONN_TEXT("tx")), NULL));
        tu_ok(dbconn_exec(f->s, "SELECT count(*) FROM users", NULL, 0, NULL));
        assert_int_equal(dbconn_in_transaction(f->s), 1);
        assert_int_equal(checked_out(f->db), 1);
        tu_ok(dbconn_exec(f->s, end[i], NULL, 0, NULL));
        assert_int_equal(dbconn_in_transaction(f->s), 0);
        assert_int_equal(checked_out(f->db), 0);
    }
    dbconn_result *r = NULL;
    tu_ok(dbconn_exec(f->s, "SELECT count(*) FROM users WHERE name = 'tx'",
                      NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 3); /* the ROLLBACK's is gone */
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(f->s));
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
    /* SQLite: the connection's rowid; PostgreSQL has none, and an INSERT
     * without RETURNING gives 0 (docs/postgresql.md) */
    assert_int_equal(dbconn_result_last_insert_id(r), tu_is_sqlite() ? 1 : 0);
    assert_int_equal(dbconn_result_ncols(r), 0);
    dbconn_result_free(r);
    /* Statements that change no rows report no counts (not the
     * connection's numbers from the INSERT before them). */
    tu_ok(dbconn_exec(f->s, "CREATE TABLE counts_ddl (x INTEGER)", NULL, 0,
                      &r));
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
    if (!tu_is_sqlite()) {
        /* PostgreSQL text cannot hold NUL: refused, naming the parameter */
        assert_int_equal(dbconn_exec(f->s, "SELECT ?",
                                     DBCONN_PARAMS(DBCONN_TEXTN("a\0b", 3)),
                                     &r),
                         DBCONN_EINVAL);
        assert_non_null(strstr(dbconn_errmsg(NULL), "parameter 1"));
        assert_non_null(strstr(dbconn_errmsg(NULL), "NUL"));
        /* a failed statement, as any: the transaction is aborted */
        assert_int_equal(dbconn_exec(f->s, "SELECT 1", NULL, 0, NULL),
                         DBCONN_EABORTED);
        tu_ok(dbconn_rollback(f->s));
        /* the length is honoured: "ab" of "abc" */
        tu_ok(dbconn_exec(f->s, "SELECT ?",
                          DBCONN_PARAMS(DBCONN_TEXTN("abc", 2)), &r));
        assert_int_equal(dbconn_result_text_len(r, 0, 0), 2);
        assert_string_equal(dbconn_result_text(r, 0, 0), "ab");
        dbconn_result_free(r);
        tu_ok(dbconn_rollback(f->s));
        return;
    }
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
    /* SQLite: SQLITE_CONSTRAINT_UNIQUE; PostgreSQL: SQLSTATE 23505 */
    const char *unique = tu_is_sqlite() ? "UNIQUE" : "unique constraint";
    assert_int_equal(rc, DBCONN_ECONSTRAINT);
    assert_int_equal(dbconn_session_db_errcode(f->s),
                     tu_is_sqlite() ? 2067
                                    : DBCONN_SQLSTATE('2', '3', '5', '0', '5'));
    assert_non_null(strstr(dbconn_session_errmsg(f->s), unique));
    assert_non_null(strstr(dbconn_errmsg(NULL), "INSERT INTO users"));
    assert_int_equal(dbconn_exec(f->s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_EABORTED);
    assert_non_null(strstr(dbconn_session_errmsg(f->s), unique));
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
    tu_ok(dbconn_open(&db, tu_url(), NULL));
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
    const char *url = tu_db_url(dir, "c.db", NULL);
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
    tu_ok(dbconn_exec(a, tu_is_sqlite() ? "SELECT group_concat(x) FROM t"
                                      : "SELECT string_agg(CAST(x AS TEXT), "
                                        "',') FROM t", NULL, 0, &r));
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
    /* zeroblob is SQLite's; PostgreSQL makes the same bytes with decode */
    tu_ok(dbconn_exec(f->s,
                      tu_is_sqlite()
                          ? "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT "
                            "i + 1 FROM n WHERE i < 5000) SELECT i, 'row ' || "
                            "i, zeroblob(i % 7) FROM n"
                          : "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT "
                            "i + 1 FROM n WHERE i < 5000) SELECT i, 'row ' || "
                            "i, decode(repeat('00', i % 7), 'hex') FROM n",
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
    tu_ok(dbconn_exec_script(f->s, "CREATE TABLE s1 (x INTEGER); INSERT INTO s1 "
                                   "VALUES "
                                   "(1); INSERT INTO s1 VALUES (2);"));
    tu_ok(dbconn_commit(f->s));
    dbconn_result *r;
    tu_ok(dbconn_exec(f->s, "SELECT sum(x) FROM s1", NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 3);
    dbconn_result_free(r);
    assert_int_equal(dbconn_exec_script(f->s, "INSERT INTO s1 VALUES (3); "
                                              "INSERT INTO nope VALUES (1);"),
                     DBCONN_EDB);
    assert_non_null(strstr(dbconn_errmsg(NULL),
                           tu_is_sqlite() ? "no such table: nope"
                                          : "relation \"nope\" does not exist"));
    assert_int_equal(dbconn_commit(f->s), DBCONN_EABORTED);
    tu_ok(dbconn_rollback(f->s));
    tu_ok(dbconn_exec(f->s, "SELECT count(*) FROM s1", NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 2);
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(f->s));
}

/* A script may not end or open the session's transaction: before the fix,
 * "INSERT; COMMIT; INSERT" returned 0, committed the earlier work behind
 * the session's back and ran the rest in autocommit, so a later rollback
 * kept every row.  Every form of transaction control is refused before
 * anything of the script runs. */
static void test_exec_script_refuses_transaction_control(void **state) {
    fx *f = *state;
    static const char *const scripts[] = {
        ("INSERT INTO users (name) VALUES ('b'); COMMIT; "
         "INSERT INTO users (name) VALUES ('c')"),
        "INSERT INTO users (name) VALUES ('b');\n  end transaction ;",
        "ROLLBACK; INSERT INTO users (name) VALUES ('b')",
        "SAVEPOINT x; INSERT INTO users (name) VALUES ('b'); RELEASE x",
        "INSERT INTO users (name) VALUES ('b'); /* c */ -- d\n BEGIN",
        "INSERT INTO users (name) VALUES ('b'); ROLLBACK TO x",
    };
    static const char *const named[] = {"statement 2", "statement 2",
                                        "statement 1", "statement 1",
                                        "statement 2", "statement 2"};
    tu_ok(dbconn_exec(f->s, "INSERT INTO users (name) VALUES ('a')", NULL, 0,
                      NULL));
    for (size_t i = 0; i < sizeof scripts / sizeof *scripts; i++) {
        assert_int_equal(dbconn_exec_script(f->s, scripts[i]), DBCONN_EINVAL);
        assert_non_null(strstr(dbconn_errmsg(NULL), named[i]));
        assert_non_null(strstr(dbconn_errmsg(NULL), "transaction control"));
        assert_non_null(strstr(dbconn_session_errmsg(f->s), "Nothing"));
        /* Not aborted, still the same transaction, nothing of it ran. */
        assert_true(dbconn_in_transaction(f->s));
        dbconn_result *r = NULL;
        tu_ok(dbconn_exec(f->s, "SELECT count(*) FROM users", NULL, 0, &r));
        assert_int_equal(dbconn_result_int(r, 0, 0), 1);
        dbconn_result_free(r);
    }
    tu_ok(dbconn_rollback(f->s));
    dbconn_result *r = NULL;
    tu_ok(dbconn_exec(f->s, "SELECT count(*) FROM users", NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 0); /* 'a' rolled back */
    dbconn_result_free(r);
    /* A trigger's BEGIN ... END and keywords inside literals are fine (on
     * PostgreSQL the trigger's body is a dollar-quoted function). */
    tu_ok(dbconn_exec_script(
        f->s,
        tu_is_sqlite()
            ? "CREATE TABLE log (m TEXT); CREATE TRIGGER tr AFTER INSERT ON "
              "users BEGIN INSERT INTO log VALUES ('commit; ' || CASE WHEN "
              "new.age > 1 THEN 'old' ELSE 'new' END); END; "
              "INSERT INTO users (name, age) VALUES ('COMMIT;', 3)"
            : "CREATE TABLE log (m TEXT); CREATE FUNCTION tr_f() RETURNS "
              "trigger LANGUAGE plpgsql AS $b$ BEGIN INSERT INTO log VALUES "
              "('commit; ' || CASE WHEN new.age > 1 THEN 'old' ELSE 'new' "
              "END); RETURN new; END $b$; CREATE TRIGGER tr AFTER "
              "INSERT ON users FOR EACH ROW EXECUTE FUNCTION tr_f(); "
              "INSERT INTO users (name, age) VALUES ('COMMIT;', 3)"));
    tu_ok(dbconn_exec(f->s, "SELECT m FROM log", NULL, 0, &r));
    assert_string_equal(dbconn_result_text(r, 0, 0), "commit; old");
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

/* ---- dbconn_exec_first ------------------------------------------------- */

static void add_users(dbconn_session *s, int n) {
    for (int i = 1; i <= n; i++) {
        char name[16];
        snprintf(name, sizeof name, "u%d", i);
        tu_ok(dbconn_exec(s, "INSERT INTO users (id, name, age) VALUES (?, ?, ?)",
                          DBCONN_PARAMS(DBCONN_INT(i), DBCONN_TEXT(name),
                                        DBCONN_INT(20 + i)),
                          NULL));
    }
}

static void test_exec_first_keeps_the_first_row(void **state) {
    fx *f = *state;
    add_users(f->s, 3);
    dbconn_result *r = (dbconn_result *)f; /* must be replaced */
    tu_ok(dbconn_exec_first(f->s, "SELECT id, name, age FROM users ORDER BY id",
                            NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_int_equal(dbconn_result_ncols(r), 3);
    assert_string_equal(dbconn_result_colname(r, 1), "name");
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    assert_string_equal(dbconn_result_text(r, 0, 1), "u1");
    assert_int_equal(dbconn_result_int(r, 0, 2), 21);
    assert_int_equal(dbconn_result_type(r, 1, 0), DBCONN_EINVAL);
    assert_int_equal(dbconn_result_changes(r), 0);
    dbconn_result_free(r);
    /* A point lookup, with parameters. */
    tu_ok(dbconn_exec_first(f->s, "SELECT name FROM users WHERE id = ?",
                            DBCONN_PARAMS(DBCONN_INT(3)), &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_string_equal(dbconn_result_text(r, 0, 0), "u3");
    dbconn_result_free(r);
    /* Still in the session's transaction, which stays usable. */
    assert_true(dbconn_in_transaction(f->s));
    tu_ok(dbconn_commit(f->s));
}

static void test_exec_first_no_row_and_null_out(void **state) {
    fx *f = *state;
    dbconn_result *r = NULL;
    tu_ok(dbconn_exec_first(f->s, "SELECT id, name FROM users WHERE id = ?",
                            DBCONN_PARAMS(DBCONN_INT(-1)), &r));
    assert_non_null(r);
    assert_int_equal(dbconn_result_nrows(r), 0);
    assert_int_equal(dbconn_result_ncols(r), 2);
    assert_string_equal(dbconn_result_colname(r, 0), "id");
    assert_null(dbconn_result_text(r, 0, 1));
    dbconn_result_free(r);
    /* out may be NULL: the statement still runs (here: a write). */
    tu_ok(dbconn_exec_first(f->s, "INSERT INTO users (name) VALUES ('x')",
                            NULL, 0, NULL));
    tu_ok(dbconn_exec_first(f->s, "SELECT name FROM users", NULL, 0, NULL));
    tu_ok(dbconn_commit(f->s));
    assert_int_equal(count_users(f->s), 1);
}

static void test_exec_first_errors(void **state) {
    fx *f = *state;
    dbconn_result *r = (dbconn_result *)f;
    assert_int_equal(dbconn_exec_first(NULL, "SELECT 1", NULL, 0, &r),
                     DBCONN_EINVAL);
    assert_null(r);
    assert_non_null(strstr(dbconn_errmsg(NULL), "dbconn_exec_first"));
    assert_int_equal(dbconn_exec_first(f->s, NULL, NULL, 0, &r), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "sql is NULL"));
    assert_int_equal(dbconn_exec_first(f->s, "SELECT ?", NULL, 1, &r),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "params is NULL"));
    assert_null(r);
    /* Statement failures abort the transaction, as with dbconn_exec. */
    assert_int_equal(dbconn_exec_first(f->s, "SELECT ?, ?",
                                       DBCONN_PARAMS(DBCONN_INT(1)), &r),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "expects 2 parameters"));
    assert_null(r);
    assert_int_equal(dbconn_exec_first(f->s, "SELECT 1", NULL, 0, &r),
                     DBCONN_EABORTED);
    assert_non_null(strstr(dbconn_errmsg(NULL), "dbconn_exec_first"));
    assert_non_null(strstr(dbconn_session_errmsg(f->s), "expects 2"));
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(dbconn_exec_first(f->s, "SELEC 1", NULL, 0, &r),
                     DBCONN_EDB);
    assert_non_null(strstr(dbconn_errmsg(NULL), "SELEC 1"));
    tu_ok(dbconn_rollback(f->s));
    /* An error at the first row is seen. */
    assert_int_equal(dbconn_exec_first(f->s,
                                       "INSERT INTO users (name) VALUES (NULL) "
                                       "RETURNING id",
                                       NULL, 0, &r),
                     DBCONN_ECONSTRAINT);
    assert_null(r);
    tu_ok(dbconn_rollback(f->s));
    tu_ok(dbconn_exec_first(f->s, "SELECT 1", NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(f->s));
}

static void test_exec_first_closed_session(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    dbconn_result *r = (dbconn_result *)&r;
    tu_ok(dbconn_open(&db, tu_url(), NULL));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec_first(s, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(dbconn_exec_first(s, "SELECT 1", NULL, 0, &r),
                     DBCONN_ECLOSED);
    assert_null(r);
    assert_non_null(strstr(dbconn_session_errmsg(s), "closed"));
    dbconn_session_close(s);
}

/* SQLite applies a RETURNING statement's every change before its first row:
 * keeping only that row loses no change, and the counts cover them all. */
static void test_exec_first_write_returning(void **state) {
    fx *f = *state;
    dbconn_result *r = NULL;
    tu_ok(dbconn_exec_first(f->s,
                            "INSERT INTO users (name) VALUES ('a'), ('b'), "
                            "('c') RETURNING id, name",
                            NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_int_equal(dbconn_result_ncols(r), 2);
    assert_int_equal(dbconn_result_changes(r), 3);
    assert_int_equal(dbconn_result_last_insert_id(r), 3);
    dbconn_result_free(r);
    tu_ok(dbconn_exec_first(f->s,
                            "UPDATE users SET age = 7 WHERE name <> 'b' "
                            "RETURNING name",
                            NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_int_equal(dbconn_result_changes(r), 2);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(f->s));
    assert_int_equal(count_users(f->s), 3);
    tu_ok(dbconn_exec(f->s, "SELECT count(*) FROM users WHERE age = 7", NULL, 0,
                      &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 2);
    dbconn_result_free(r);
    /* Every RETURNING value is computed with the changes, before the first
     * row: a failure in the second row's fails the statement (and undoes
     * it), as with dbconn_exec. */
    assert_int_equal(dbconn_exec_first(f->s,
                                       "INSERT INTO users (name, age) VALUES "
                                       "('d', 1), ('e', -9223372036854775807 "
                                       "- 1) RETURNING abs(age)",
                                       NULL, 0, &r),
                     DBCONN_EDB);
    assert_null(r);
    assert_non_null(strstr(dbconn_errmsg(NULL), tu_is_sqlite()
                                                    ? "integer overflow"
                                                    : "bigint out of range"));
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(count_users(f->s), 3);
    /* So is a constraint checked at the statement's end (an immediate
     * foreign key). */
    tu_ok(dbconn_exec(f->s, tu_ddl("CREATE TABLE kids (id INTEGER PRIMARY KEY, "
                                   "uid INTEGER REFERENCES users(id))"),
                      NULL, 0, NULL));
    tu_ok(dbconn_exec(f->s, "INSERT INTO kids (uid) VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(f->s));
    int rc = dbconn_exec_first(f->s, "DELETE FROM users RETURNING id", NULL, 0,
                               &r);
    assert_int_equal(rc, DBCONN_ECONSTRAINT);
    assert_null(r);
    assert_non_null(strstr(dbconn_session_errmsg(f->s),
                           tu_is_sqlite() ? "FOREIGN KEY"
                                          : "violates foreign key constraint"));
    assert_int_equal(dbconn_commit(f->s), DBCONN_EABORTED);
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(count_users(f->s), 3);
}

/* The statement goes back to the cache reset: the next run of the same SQL
 * starts from its first row, and is a cache hit. */
static void test_exec_first_statement_reused(void **state) {
    fx *f = *state;
    add_users(f->s, 4);
    static const char *const sql = "SELECT id FROM users ORDER BY id";
    dbconn_stats before, after;
    tu_ok(dbconn_pool_stats(f->db, &before));
    dbconn_result *r;
    for (int i = 0; i < 3; i++) {
        tu_ok(dbconn_exec_first(f->s, sql, NULL, 0, &r));
        assert_int_equal(dbconn_result_nrows(r), 1);
        assert_int_equal(dbconn_result_int(r, 0, 0), 1);
        dbconn_result_free(r);
    }
    tu_ok(dbconn_exec(f->s, sql, NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 4);
    assert_int_equal(dbconn_result_int(r, 3, 0), 4);
    dbconn_result_free(r);
    tu_ok(dbconn_exec_first(f->s, sql, NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_pool_stats(f->db, &after));
    assert_int_equal(after.cache_misses - before.cache_misses, 1);
    assert_int_equal(after.cache_hits - before.cache_hits, 4);
    /* The same statement text in another buffer is the same statement. */
    char copy[64];
    snprintf(copy, sizeof copy, "%s", sql);
    tu_ok(dbconn_exec_first(f->s, copy, NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_pool_stats(f->db, &after));
    assert_int_equal(after.cache_misses - before.cache_misses, 1);
    tu_ok(dbconn_rollback(f->s));
}

typedef struct lines {
    char text[16][256];
    int n;
} lines;

static void keep_line(void *data, int level, const char *line) {
    lines *l = data;
    (void)level;
    if (l->n < 16)
        snprintf(l->text[l->n++], sizeof l->text[0], "%s", line);
}

static void test_exec_first_echo(void **state) {
    (void)state;
    lines l = {0};
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.log = keep_line, .log_data = &l};
    tu_ok(dbconn_options_set(&o, "echo", "debug"));
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    dbconn_result *r;
    tu_ok(dbconn_exec_first(s,
                            "SELECT v FROM (SELECT 1 AS v UNION ALL SELECT 2) "
                            "AS q WHERE v >= ? ORDER BY v",
                            DBCONN_PARAMS(DBCONN_INT(0)), &r));
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(s));
    const char *want[] = {"BEGIN (implicit)", "SELECT v FROM",
                          "[generated in ", "Col ('v',)", "Row (1,)",
                          "ROLLBACK"};
    size_t n = sizeof want / sizeof *want;
    assert_int_equal(l.n, (int)n); /* the kept row only: no "Row (2,)" */
    for (size_t i = 0; i < n; i++)
        if (strncmp(l.text[i], want[i], strlen(want[i])) != 0)
            fail_msg("line %zu: \"%s\" does not start with \"%s\"", i,
                     l.text[i], want[i]);
    assert_non_null(strstr(l.text[2], "s] (0,)"));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* ---- results: shapes, sizes, schema changes ----------------------------- */

/* Values larger than a result's inline room, in the first row and later. */
static void test_big_values_grow_the_arena(void **state) {
    fx *f = *state;
    static char big[5000];
    memset(big, 'x', sizeof big - 1);
    unsigned char blob[3000];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (unsigned char)i;
    for (int first = 0; first < 2; first++) {
        dbconn_result *r;
        int rc = (first ? dbconn_exec_first : dbconn_exec)(
            f->s,
            tu_is_sqlite() ? "SELECT 'a' AS a, ? AS t, 7 AS n, ? AS b UNION "
                             "ALL SELECT 'b', 'short', 8, x'00'"
                           : "SELECT 'a' AS a, ? AS t, 7 AS n, ? AS b UNION "
                             "ALL SELECT 'b', 'short', 8, '\\x00'::bytea",
            DBCONN_PARAMS(DBCONN_TEXT(big), DBCONN_BLOB(blob, sizeof blob)),
            &r);
        tu_ok(rc);
        assert_int_equal(dbconn_result_nrows(r), first ? 1 : 2);
        assert_string_equal(dbconn_result_text(r, 0, 0), "a");
        assert_int_equal(dbconn_result_text_len(r, 0, 1), sizeof big - 1);
        assert_string_equal(dbconn_result_text(r, 0, 1), big);
        assert_int_equal(dbconn_result_int(r, 0, 2), 7);
        size_t len = 0;
        const void *p = dbconn_result_blob(r, 0, 3, &len);
        assert_int_equal(len, sizeof blob);
        assert_memory_equal(p, blob, sizeof blob);
        assert_string_equal(dbconn_result_colname(r, 3), "b");
        if (!first)
            assert_string_equal(dbconn_result_text(r, 1, 1), "short");
        dbconn_result_free(r);
    }
    tu_ok(dbconn_rollback(f->s));
}

/* Results of different shapes one after another (a freed result's memory
 * may serve the next one): each has its own names and values. */
static void test_results_of_alternating_shapes(void **state) {
    fx *f = *state;
    add_users(f->s, 2);
    char longname[200];
    memset(longname, 'c', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    char wide[400];
    snprintf(wide, sizeof wide, "SELECT 1 AS %s, 2 AS k", longname);
    for (int i = 0; i < 6; i++) {
        dbconn_result *r;
        switch (i % 3) {
        case 0:
            tu_ok(dbconn_exec_first(f->s, "SELECT id, name FROM users "
                                          "WHERE id = ?",
                                    DBCONN_PARAMS(DBCONN_INT(2)), &r));
            assert_string_equal(dbconn_result_colname(r, 1), "name");
            assert_string_equal(dbconn_result_text(r, 0, 1), "u2");
            break;
        case 1: /* names too long for the inline room */
            tu_ok(dbconn_exec(f->s, wide, NULL, 0, &r));
            if (tu_is_sqlite()) {
                assert_string_equal(dbconn_result_colname(r, 0), longname);
            } else { /* the server cuts names to NAMEDATALEN - 1 bytes */
                assert_int_equal(strlen(dbconn_result_colname(r, 0)), 63);
                assert_memory_equal(dbconn_result_colname(r, 0), longname, 63);
            }
            assert_string_equal(dbconn_result_colname(r, 1), "k");
            assert_int_equal(dbconn_result_int(r, 0, 1), 2);
            break;
        default: /* no columns */
            tu_ok(dbconn_exec(f->s, "UPDATE users SET age = age", NULL, 0,
                              &r));
            assert_int_equal(dbconn_result_ncols(r), 0);
            assert_int_equal(dbconn_result_changes(r), 2);
            break;
        }
        dbconn_result_free(r);
    }
    tu_ok(dbconn_rollback(f->s));
}

typedef struct thread_job {
    dbconn *db;
    dbconn_result *given; /* made by the main thread, freed here */
    int ok;
} thread_job;

static void thread_main(void *arg) {
    thread_job *j = arg;
    dbconn_session *s;
    dbconn_result *r;
    dbconn_result_free(j->given); /* kept as this thread's spare */
    if (dbconn_session_open(j->db, &s) != 0)
        return;
    for (int i = 0; i < 3; i++) {
        if (dbconn_exec_first(s, "SELECT ? AS v", DBCONN_PARAMS(DBCONN_INT(i)),
                              &r) != 0)
            break;
        j->ok += dbconn_result_int(r, 0, 0) == i;
        dbconn_result_free(r);
    }
    dbconn_session_close(s);
    /* Exits holding a spare result: the thread-exit destructor frees it
     * (LeakSanitizer and valgrind report it otherwise). */
}

/* Results made on one thread and freed on another; every thread's spare
 * result is given back when the thread ends. */
static void test_results_across_threads(void **state) {
    fx *f = *state;
    thread_job jobs[2] = {{f->db, NULL, 0}, {f->db, NULL, 0}};
    uv_thread_t th[2];
    for (int i = 0; i < 2; i++) {
        tu_ok(dbconn_exec(f->s, "SELECT 'made here' AS w", NULL, 0,
                          &jobs[i].given));
        assert_int_equal(uv_thread_create(&th[i], thread_main, &jobs[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(uv_thread_join(&th[i]), 0);
        assert_int_equal(jobs[i].ok, 3);
    }
    tu_ok(dbconn_rollback(f->s));
}

/* A schema change recompiles a cached statement at its next step: the
 * result is named after the new columns at once. */
static void test_cached_select_after_schema_change(void **state) {
    fx *f = *state;
    dbconn_result *r;
    tu_ok(dbconn_exec(f->s, "CREATE TABLE sc (a INTEGER, b INTEGER)", NULL, 0, NULL));
    tu_ok(dbconn_exec(f->s, "INSERT INTO sc VALUES (1, 2)", NULL, 0, NULL));
    tu_ok(dbconn_exec(f->s, "SELECT * FROM sc", NULL, 0, &r));
    assert_int_equal(dbconn_result_ncols(r), 2);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "ALTER TABLE sc ADD COLUMN c INTEGER DEFAULT 3", NULL, 0,
                      NULL));
    for (int first = 0; first < 2; first++) {
        tu_ok((first ? dbconn_exec_first : dbconn_exec)(f->s, "SELECT * FROM sc",
                                                        NULL, 0, &r));
        assert_int_equal(dbconn_result_ncols(r), 3);
        assert_string_equal(dbconn_result_colname(r, 2), "c");
        assert_int_equal(dbconn_result_int(r, 0, 2), 3);
        dbconn_result_free(r);
    }
    tu_ok(dbconn_rollback(f->s));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_types_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_commit_ends_the_transaction,
                                        setup, teardown),
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
        tu_test(test_result_outlives_session_and_db),
        tu_test(test_closed_session_after_dbconn_close),
        cmocka_unit_test_setup_teardown(test_exec_each_streams, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_large_result_grows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exec_script, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_exec_script_refuses_transaction_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_savepoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_first_keeps_the_first_row,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_first_no_row_and_null_out,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_first_errors, setup,
                                        teardown),
        tu_test(test_exec_first_closed_session),
        cmocka_unit_test_setup_teardown(test_exec_first_write_returning, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exec_first_statement_reused,
                                        setup, teardown),
        tu_test(test_exec_first_echo),
        cmocka_unit_test_setup_teardown(test_big_values_grow_the_arena, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_results_of_alternating_shapes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached_select_after_schema_change,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_results_across_threads, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
