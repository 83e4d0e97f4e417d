/* The SQLite driver as a user meets it through URLs and options: file forms,
 * URI parameters, pragmas, error mapping, drivers of this build. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char *pragma_text(dbconn_session *s, const char *sql) {
    dbconn_result *r;
    tu_ok(dbconn_exec(s, sql, NULL, 0, &r));
    const char *t = dbconn_result_text(r, 0, 0);
    char *copy = strdup(t ? t : "");
    if (!t) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)dbconn_result_int(r, 0, 0));
        free(copy);
        copy = strdup(num);
    }
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(s));
    return copy;
}

static void expect_pragma(dbconn_session *s, const char *sql, const char *want) {
    char *got = pragma_text(s, sql);
    assert_string_equal(got, want);
    free(got);
}

static void test_file_defaults_wal_fk_on(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, tu_file_url(dir, "a.db"), NULL));
    tu_ok(dbconn_session_open(db, &s));
    expect_pragma(s, "PRAGMA journal_mode", "wal");
    expect_pragma(s, "PRAGMA foreign_keys", "1");
    expect_pragma(s, "PRAGMA synchronous", "2"); /* FULL */
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

static void test_pragmas_from_url_and_options(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char url[4300];
    snprintf(url, sizeof url, "%s?journal_mode=delete&synchronous=normal&"
                              "foreign_keys=off&isolation_level=READ%%20UNCOMMITTED",
             tu_file_url(dir, "b.db"));
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, url, NULL));
    tu_ok(dbconn_session_open(db, &s));
    expect_pragma(s, "PRAGMA journal_mode", "delete");
    expect_pragma(s, "PRAGMA synchronous", "1");
    expect_pragma(s, "PRAGMA foreign_keys", "0");
    expect_pragma(s, "PRAGMA read_uncommitted", "1");
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

static void test_relative_path_resolved_at_open(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, "sqlite:///rel.db", NULL));
    assert_int_equal(chdir(cwd), 0); /* later cwd changes do not matter */
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE t (x)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/rel.db", dir);
    assert_int_equal(access(path, F_OK), 0);
    tu_rmdir(dir);
}

static void test_read_only_uri(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, tu_file_url(dir, "ro.db"), NULL));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE t (x)", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));

    char url[4300];
    snprintf(url, sizeof url, "%s?mode=ro", tu_file_url(dir, "ro.db"));
    tu_ok(dbconn_open(&db, url, NULL));
    tu_ok(dbconn_session_open(db, &s));
    dbconn_result *r;
    tu_ok(dbconn_exec(s, "SELECT x FROM t", NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_rollback(s));
    assert_int_equal(dbconn_exec(s, "INSERT INTO t VALUES (2)", NULL, 0, NULL),
                     DBCONN_EDB);
    assert_non_null(strstr(dbconn_errmsg(db), "readonly"));
    tu_ok(dbconn_rollback(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));

    /* uri=true: the database part is a SQLite URI filename */
    snprintf(url, sizeof url, "sqlite:///file:%s/ro.db?mode=ro&uri=true", dir);
    tu_ok(dbconn_open(&db, url, NULL));
    tu_ok(dbconn_session_open(db, &s));
    assert_int_equal(dbconn_exec(s, "DELETE FROM t", NULL, 0, NULL), DBCONN_EDB);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

static void test_open_failures_name_the_problem(void **state) {
    (void)state;
    dbconn *db = (dbconn *)state;
    assert_int_equal(dbconn_open(&db, "sqlite:////nonexistent-dir/x/y.db", NULL),
                     DBCONN_EDB);
    assert_null(db);
    assert_non_null(strstr(dbconn_errmsg(NULL), "/nonexistent-dir/x/y.db"));
    assert_int_equal(dbconn_open(&db, "sqlite:///x.db?frobnicate=1", NULL),
                     DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "frobnicate"));
    assert_int_equal(dbconn_open(&db, "sqlite:///x.db?mode=rx", NULL),
                     DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "mode"));
    assert_int_equal(dbconn_open(&db, "sqlite://?journal_mode=wal", NULL),
                     DBCONN_EOPTION);
    assert_int_equal(
        dbconn_open(&db, "sqlite://?isolation_level=REPEATABLE_READ", NULL),
        DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "isolation_level"));
    assert_int_equal(dbconn_open(&db, "sqlite+nope://", NULL),
                     DBCONN_ENODRIVER);
    assert_non_null(strstr(dbconn_errmsg(NULL), "aiosqlite"));
    assert_int_equal(dbconn_open(&db, "mysql://u:secret@h/db", NULL),
                     DBCONN_ENODRIVER);
    assert_null(strstr(dbconn_errmsg(NULL), "secret"));
    assert_int_equal(dbconn_open(&db, "mssql+pyodbc://h/db", NULL),
                     DBCONN_ENODRIVER);
    assert_int_equal(dbconn_open(NULL, "sqlite://", NULL), DBCONN_EINVAL);
    assert_int_equal(dbconn_open(&db, NULL, NULL), DBCONN_EINVAL);
    assert_int_equal(dbconn_close(NULL, NULL), 0);
}

static void test_aliases_and_dialect(void **state) {
    (void)state;
    const char *urls[] = {"sqlite://", "sqlite+aiosqlite://",
                          "sqlite+pysqlite:///:memory:", "sqlite:///"};
    for (size_t i = 0; i < 4; i++) {
        dbconn *db;
        tu_ok(dbconn_open(&db, urls[i], NULL));
        assert_string_equal(dbconn_dialect(db), "sqlite");
        assert_non_null(dbconn_url_string(db));
        tu_ok(dbconn_close(db, NULL));
    }
}

static void test_foreign_keys_enforced(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, "sqlite://", NULL));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec_script(s, "CREATE TABLE p (id INTEGER PRIMARY KEY);"
                                "CREATE TABLE c (pid INTEGER REFERENCES p(id));"));
    tu_ok(dbconn_commit(s));
    assert_int_equal(dbconn_exec(s, "INSERT INTO c VALUES (42)", NULL, 0, NULL),
                     DBCONN_ECONSTRAINT);
    assert_non_null(strstr(dbconn_session_errmsg(s), "FOREIGN KEY"));
    tu_ok(dbconn_rollback(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

static void test_statement_cache_hits(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    dbconn_stats st;
    tu_ok(dbconn_open(&db, "sqlite://?statement_cache_size=2", NULL));
    tu_ok(dbconn_session_open(db, &s));
    for (int i = 0; i < 3; i++)
        tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_pool_stats(db, &st));
    assert_int_equal(st.cache_misses, 1);
    assert_int_equal(st.cache_hits, 2);
    /* LRU of 2: a third statement evicts the least recently used */
    tu_ok(dbconn_exec(s, "SELECT 2", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "SELECT 3", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_pool_stats(db, &st));
    assert_int_equal(st.cache_misses, 4);
    /* every parameter is bound again on reuse */
    dbconn_result *r;
    tu_ok(dbconn_exec(s, "SELECT ?", DBCONN_PARAMS(DBCONN_INT(5)), &r));
    dbconn_result_free(r);
    tu_ok(dbconn_exec(s, "SELECT ?", DBCONN_PARAMS(DBCONN_NULL), &r));
    assert_int_equal(dbconn_result_type(r, 0, 0), DBCONN_TYPE_NULL);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));

    tu_ok(dbconn_open(&db, "sqlite://?statement_cache_size=0", NULL));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_pool_stats(db, &st));
    assert_int_equal(st.cache_hits, 0);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* A closed connection's statement-cache lookups stay in the stats. */
static void test_cache_stats_outlive_connections(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *a, *b;
    dbconn_stats st;
    tu_ok(dbconn_open(&db, "sqlite://?pool_size=1&max_overflow=1", NULL));
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    for (int i = 0; i < 3; i++) {
        tu_ok(dbconn_exec(a, "SELECT 1", NULL, 0, NULL));
        tu_ok(dbconn_exec(b, "SELECT 2", NULL, 0, NULL)); /* 2nd conn */
    }
    tu_ok(dbconn_pool_stats(db, &st));
    assert_int_equal(st.size, 2);
    assert_int_equal(st.cache_misses, 2);
    assert_int_equal(st.cache_hits, 4);
    tu_ok(dbconn_commit(a)); /* over pool_size: closed at checkin */
    tu_ok(dbconn_commit(b));
    tu_ok(dbconn_pool_stats(db, &st));
    assert_int_equal(st.size, 1);
    assert_int_equal(st.cache_misses, 2);
    assert_int_equal(st.cache_hits, 4);
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
}

/* Statements go back to the cache with their last bindings in place (the
 * next run binds every parameter again), and text and blob parameters are
 * not copied: a parameter's buffer freed after the call must never be read
 * again -- not by the next run, not when the cache is cleared at close.
 * AddressSanitizer and valgrind would see such a read. */
static void test_freed_parameter_buffers_are_not_read(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    dbconn_result *r;
    tu_ok(dbconn_open(&db, "sqlite://", NULL));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE fp (t TEXT, b BLOB)", NULL, 0, NULL));
    for (int i = 0; i < 3; i++) {
        char *text = malloc(32);
        unsigned char *blob = malloc(8);
        assert_non_null(text);
        assert_non_null(blob);
        snprintf(text, 32, "value %d", i);
        memset(blob, i, 8);
        tu_ok(dbconn_exec(s, "INSERT INTO fp VALUES (?, ?)",
                          DBCONN_PARAMS(DBCONN_TEXT(text), DBCONN_BLOB(blob, 8)),
                          NULL));
        tu_ok(dbconn_exec_first(s, "SELECT count(*) FROM fp WHERE t = ?",
                                DBCONN_PARAMS(DBCONN_TEXT(text)), &r));
        assert_int_equal(dbconn_result_int(r, 0, 0), 1);
        dbconn_result_free(r);
        free(text);
        free(blob);
    }
    tu_ok(dbconn_exec(s, "SELECT t FROM fp WHERE b = ?",
                      DBCONN_PARAMS(DBCONN_BLOB("\2\2\2\2\2\2\2\2", 8)), &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_string_equal(dbconn_result_text(r, 0, 0), "value 2");
    dbconn_result_free(r);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL)); /* finalizes the cached statements */
}

/* memdb=false: a plain :memory: database for an engine whose pool holds
 * one connection; refused (naming the problem) anywhere else. */
static void test_plain_memory_one_connection(void **state) {
    (void)state;
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"sqlite://?memdb=false", "pool_size=1 and max_overflow=0"},
        {"sqlite://?memdb=false&pool_size=1", "max_overflow 10"},
        {"sqlite://?memdb=false&pool_size=2&max_overflow=0", "pool_size 2"},
        {"sqlite://?memdb=false&pool_size=0&max_overflow=0&pool_size=1&"
         "max_overflow=-1",
         "any number"},
        {"sqlite://?memdb=maybe&pool_size=1&max_overflow=0", "\"memdb\""},
        {"sqlite:///x.db?memdb=false&pool_size=1&max_overflow=0",
         "names a file"},
        {"sqlite://?memdb=false&pool_size=1&max_overflow=0&cache=shared",
         "with memdb=false"},
    };
    dbconn *db;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(dbconn_open(&db, bad[i].url, NULL), DBCONN_EOPTION);
        assert_null(db);
        if (!strstr(dbconn_errmsg(NULL), bad[i].says))
            fail_msg("%s: %s", bad[i].url, dbconn_errmsg(NULL));
    }
    tu_ok(dbconn_open(&db, "sqlite://?memdb=false&pool_size=1&max_overflow=0"
                           "&pool_timeout_ms=0",
                      NULL));
    dbconn *other;
    tu_ok(dbconn_open(&other, "sqlite://?memdb=no&pool_size=1&max_overflow=0",
                      NULL));
    dbconn_session *a, *b, *c;
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_session_open(other, &c));
    /* Not the memdb VFS: the main database has no file name. */
    expect_pragma(a, "SELECT file FROM pragma_database_list WHERE name = "
                     "'main'", "");
    tu_ok(dbconn_exec(a, "CREATE TABLE t (x)", NULL, 0, NULL));
    tu_ok(dbconn_exec(a, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
    /* Sessions take turns: b cannot have the connection while a's
     * transaction holds it (pool_timeout_ms=0: at once). */
    assert_int_equal(dbconn_exec(b, "SELECT count(*) FROM t", NULL, 0, NULL),
                     DBCONN_ETIMEOUT);
    tu_ok(dbconn_rollback(b));
    tu_ok(dbconn_commit(a));
    tu_ok(dbconn_exec(b, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_rollback(b));
    expect_pragma(b, "SELECT count(*) FROM t", "1"); /* kept across turns */
    /* Another engine's is another database. */
    assert_int_equal(dbconn_exec(c, "SELECT count(*) FROM t", NULL, 0, NULL),
                     DBCONN_EDB);
    tu_ok(dbconn_rollback(c));
    dbconn_stats st;
    dbconn_pool_stats(db, &st);
    assert_int_equal(st.size, 1);
    dbconn_session_close(a);
    dbconn_session_close(b);
    dbconn_session_close(c);
    tu_ok(dbconn_close(other, NULL));
    tu_ok(dbconn_close(db, NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_defaults_wal_fk_on),
        cmocka_unit_test(test_pragmas_from_url_and_options),
        cmocka_unit_test(test_relative_path_resolved_at_open),
        cmocka_unit_test(test_read_only_uri),
        cmocka_unit_test(test_open_failures_name_the_problem),
        cmocka_unit_test(test_aliases_and_dialect),
        cmocka_unit_test(test_foreign_keys_enforced),
        cmocka_unit_test(test_statement_cache_hits),
        cmocka_unit_test(test_cache_stats_outlive_connections),
        cmocka_unit_test(test_freed_parameter_buffers_are_not_read),
        cmocka_unit_test(test_plain_memory_one_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
