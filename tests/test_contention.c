/* Write contention: this process's writers queue at the write gate (SQLite's
 * busy handler is never invoked); another process holding the write lock
 * gives DBCONN_EBUSY after busy_timeout_ms, and nothing is lost; a
 * transaction that starts with a write begins IMMEDIATE. */
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static void test_other_process_lock_is_ebusy(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/c.db", dir);
    dbconn *db;
    dbconn_session *s;
    tu_open_with_t(tu_file_url(dir, "c.db"), 150, &db, &s);

    int release_fd;
    long long seen;
    pid_t pid = tu_hold_in_child(path, "INSERT INTO t VALUES (100) RETURNING x",
                                 &release_fd, &seen);
    assert_int_equal(seen, 100);
    uint64_t t0 = uv_hrtime();
    int rc = dbconn_exec(s, "INSERT INTO t VALUES (2)", NULL, 0, NULL);
    assert_int_equal(rc, DBCONN_EBUSY);
    assert_true(uv_hrtime() - t0 >= 140 * 1000000ull);
    assert_non_null(strstr(dbconn_errmsg(db), "busy_timeout_ms"));
    assert_int_equal(dbconn_db_errcode(db) & 0xff, SQLITE_BUSY);
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    assert_true(st.busy_handler_calls > 0); /* the other process: waited */
    tu_ok(dbconn_rollback(s));

    tu_release_child(pid, release_fd);

    tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_result *r;
    tu_ok(dbconn_exec(s, "SELECT group_concat(x) FROM (SELECT x FROM t ORDER "
                         "BY x)",
                      NULL, 0, &r));
    assert_string_equal(dbconn_result_text(r, 0, 0), "1,2,100");
    dbconn_result_free(r);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

/* An engine on dir/file (busy_timeout_ms 50) with t(x) and two sessions,
 * of which *a is in the middle of writing (it holds the write gate). */
static void a_writing(const char *dir, const char *file, dbconn **db,
                      dbconn_session **a, dbconn_session **b) {
    dbconn_options o = {.busy_timeout_ms = 50};
    tu_ok(dbconn_open(db, tu_file_url(dir, file), &o));
    tu_ok(dbconn_session_open(*db, a));
    tu_ok(dbconn_session_open(*db, b));
    tu_ok(dbconn_exec(*a, "CREATE TABLE t (x)", NULL, 0, NULL));
    tu_ok(dbconn_commit(*a));
    tu_ok(dbconn_exec(*a, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
}

/* Two sessions of one engine writing at once on one thread: the second
 * waits at the gate (not in SQLite), then gives up with EBUSY. */
static void test_in_process_writers_use_the_gate(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    dbconn *db;
    dbconn_session *a, *b;
    a_writing(dir, "g.db", &db, &a, &b);
    /* reads never wait for the writer (WAL) */
    tu_ok(dbconn_exec(b, "SELECT count(*) FROM t", NULL, 0, NULL));
    tu_ok(dbconn_commit(b));
    assert_int_equal(dbconn_exec(b, "INSERT INTO t VALUES (2)", NULL, 0, NULL),
                     DBCONN_EBUSY);
    tu_ok(dbconn_rollback(b));
    tu_ok(dbconn_commit(a));
    tu_ok(dbconn_exec(b, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_commit(b));
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    assert_int_equal(st.busy_handler_calls, 0);
    assert_int_equal(st.gate_waits, 1);
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

/* A read-then-write transaction that saw an older snapshot cannot upgrade
 * (SQLITE_BUSY_SNAPSHOT); BEGIN IMMEDIATE avoids it. */
static void test_busy_snapshot_and_begin_immediate(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    dbconn *db;
    dbconn_session *a, *b;
    tu_ok(dbconn_open(&db, tu_file_url(dir, "s.db"), NULL));
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "CREATE TABLE t (x)", NULL, 0, NULL));
    tu_ok(dbconn_commit(a));
    tu_ok(dbconn_exec(a, "SELECT count(*) FROM t", NULL, 0, NULL)); /* snapshot */
    tu_ok(dbconn_exec(b, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(b));
    assert_int_equal(dbconn_exec(a, "INSERT INTO t VALUES (2)", NULL, 0, NULL),
                     DBCONN_EBUSY);
    assert_non_null(strstr(dbconn_errmsg(db), "DBCONN_BEGIN_IMMEDIATE"));
    tu_ok(dbconn_rollback(a));
    tu_ok(dbconn_begin(a, DBCONN_BEGIN_IMMEDIATE));
    tu_ok(dbconn_exec(a, "SELECT count(*) FROM t", NULL, 0, NULL));
    tu_ok(dbconn_exec(a, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_commit(a));
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

/* v of row id as session s reads it with dbconn_exec_first (as a
 * transaction's first statement: it runs before BEGIN) or dbconn_exec;
 * "" when there is no such row. */
static const char *read_v(dbconn_session *s, int first, int64_t id,
                          char *buf, size_t n) {
    dbconn_result *r = NULL;
    tu_ok((first ? dbconn_exec_first : dbconn_exec)(
        s, "SELECT v FROM t WHERE id = ?", DBCONN_PARAMS(DBCONN_INT(id)),
        &r));
    snprintf(buf, n, "%s",
             dbconn_result_nrows(r) ? dbconn_result_text(r, 0, 0) : "");
    dbconn_result_free(r);
    return buf;
}

/* A deferred transaction that begins with a read sends its BEGIN after
 * that read (or never, when it ends there): the transaction still reads
 * from the snapshot of its first read, and a write after it is still in
 * the same transaction (SQLITE_BUSY_SNAPSHOT after another commit). */
static void test_lazy_begin_keeps_the_first_snapshot(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    dbconn *db;
    dbconn_session *a, *b;
    char v[32];
    tu_ok(dbconn_open(&db, tu_file_url(dir, "lazy.db"), NULL));
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec_script(a, "CREATE TABLE t (id INTEGER PRIMARY KEY, v);"
                                "INSERT INTO t VALUES (1, 'old')"));
    tu_ok(dbconn_commit(a));
    /* Warm: cached, and known to be a lookup by key (dbconn_exec stops at
     * its row too, so it runs before BEGIN as well). */
    for (int i = 0; i < 3; i++) {
        assert_string_equal(read_v(a, 0, 1, v, sizeof v), "old");
        tu_ok(dbconn_commit(a));
    }
    for (int first = 0; first < 2; first++) {
        tu_ok(dbconn_exec(b, "UPDATE t SET v = 'old' WHERE id = 1", NULL, 0,
                          NULL));
        tu_ok(dbconn_exec(b, "DELETE FROM t WHERE id > 1", NULL, 0, NULL));
        tu_ok(dbconn_commit(b));
        /* The snapshot of the first read holds for the whole transaction. */
        assert_string_equal(read_v(a, first, 1, v, sizeof v), "old");
        assert_true(dbconn_in_transaction(a));
        tu_ok(dbconn_exec(b, "UPDATE t SET v = 'new' WHERE id = 1", NULL, 0,
                          NULL));
        tu_ok(dbconn_exec(b, "INSERT INTO t VALUES (2, 'two')", NULL, 0,
                          NULL));
        tu_ok(dbconn_commit(b));
        assert_string_equal(read_v(a, first, 1, v, sizeof v), "old");
        assert_string_equal(read_v(a, 1, 2, v, sizeof v), "");
        tu_ok(dbconn_commit(a));
        assert_string_equal(read_v(a, first, 1, v, sizeof v), "new");
        assert_string_equal(read_v(a, first, 2, v, sizeof v), "two");
        tu_ok(dbconn_rollback(a));
    }
    /* A first read that finds no row: still the transaction's snapshot. */
    assert_string_equal(read_v(a, 1, 3, v, sizeof v), "");
    tu_ok(dbconn_exec(b, "INSERT INTO t VALUES (3, 'three')", NULL, 0, NULL));
    tu_ok(dbconn_commit(b));
    assert_string_equal(read_v(a, 1, 3, v, sizeof v), "");
    tu_ok(dbconn_commit(a));
    assert_string_equal(read_v(a, 1, 3, v, sizeof v), "three");
    tu_ok(dbconn_commit(a));
    /* Read, someone commits, write: one transaction, so it cannot write on
     * its old snapshot. */
    assert_string_equal(read_v(a, 1, 1, v, sizeof v), "new");
    tu_ok(dbconn_exec(b, "UPDATE t SET v = 'b' WHERE id = 1", NULL, 0, NULL));
    tu_ok(dbconn_commit(b));
    assert_int_equal(dbconn_exec(a, "UPDATE t SET v = 'a' WHERE id = 1", NULL,
                                 0, NULL),
                     DBCONN_EBUSY);
    assert_int_equal(dbconn_session_db_errcode(a), SQLITE_BUSY_SNAPSHOT);
    tu_ok(dbconn_rollback(a));
    /* Read, then write with nobody in between: both in one transaction,
     * undone together by a rollback. */
    assert_string_equal(read_v(a, 0, 1, v, sizeof v), "b");
    tu_ok(dbconn_exec(a, "UPDATE t SET v = 'a' WHERE id = 1", NULL, 0, NULL));
    tu_ok(dbconn_savepoint(a, "sp"));
    tu_ok(dbconn_rollback(a));
    assert_string_equal(read_v(b, 0, 1, v, sizeof v), "b");
    tu_ok(dbconn_commit(b));
    /* A session closed (and its dbconn) while its first read is held. */
    assert_string_equal(read_v(a, 1, 1, v, sizeof v), "b");
    dbconn_session_close(a);
    assert_string_equal(read_v(b, 1, 1, v, sizeof v), "b");
    dbconn_stats st;
    dbconn_pool_stats(db, &st);
    assert_int_equal(st.busy_handler_calls, 0);
    tu_ok(dbconn_close(db, NULL));
    dbconn_session_close(b);
    tu_rmdir(dir);
}

typedef struct begins {
    char first[64]; /* the first BEGIN line echo wrote */
} begins;

static void note_begin(void *data, int level, const char *line) {
    (void)level;
    begins *b = data;
    if (!b->first[0] && strncmp(line, "BEGIN", 5) == 0)
        snprintf(b->first, sizeof b->first, "%s", line);
}

/* Runs sql as a transaction's first statement, then rolls back; b holds
 * the BEGIN line echo wrote for it. */
static void first_begin(dbconn_session *s, const char *sql, begins *b) {
    memset(b, 0, sizeof *b);
    tu_ok(dbconn_exec(s, sql, NULL, 0, NULL));
    tu_ok(dbconn_rollback(s));
}

/* A transaction whose first statement writes begins IMMEDIATE (the gate,
 * then BEGIN); one that reads first stays deferred. */
static void test_write_first_begins_immediate(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    begins b = {{0}};
    dbconn_options o = {.echo = 1, .log = note_begin, .log_data = &b};
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, tu_file_url(dir, "w.db"), &o));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE t (x)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    first_begin(s, "INSERT INTO t VALUES (1)", &b);
    assert_string_equal(b.first, "BEGIN IMMEDIATE");
    first_begin(s, "  -- a comment\n update t SET x = 2", &b);
    assert_string_equal(b.first, "BEGIN IMMEDIATE");
    first_begin(s, "DELETE FROM t", &b);
    assert_string_equal(b.first, "BEGIN IMMEDIATE");
    first_begin(s, "SELECT count(*) FROM t", &b);
    assert_string_equal(b.first, "BEGIN (implicit)");
    first_begin(s, "CREATE TABLE u (y)", &b);
    assert_string_equal(b.first, "BEGIN (implicit)");
    /* only the first keyword counts: a CTE before the write is deferred */
    first_begin(s, "WITH v(y) AS (SELECT 3) INSERT INTO t SELECT y FROM v", &b);
    assert_string_equal(b.first, "BEGIN (implicit)");
    first_begin(s, "REPLACE INTO t VALUES (4)", &b);
    assert_string_equal(b.first, "BEGIN IMMEDIATE");
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

/* The same rule through the async API, with both execution policies: the
 * first op of a transaction that writes begins IMMEDIATE (it echoed BEGIN
 * (implicit) before a first INSERT), a read-first one stays deferred. */
static void first_begin_async(uv_loop_t *loop, dbconn_session *s,
                              const char *sql, begins *b) {
    memset(b, 0, sizeof *b);
    tu_rec e = {0}, r = {0};
    tu_ok(dbconn_exec_async(s, sql, NULL, 0, tu_on_exec, &e));
    tu_ok(dbconn_rollback_async(s, tu_on_done, &r));
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(e.calls, 1);
    assert_int_equal(e.status, 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
}

static void async_write_first(const char *policy) {
    const char *dir = tu_tmpdir();
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    begins b = {{0}};
    dbconn_options o = {.echo = 1, .log = note_begin, .log_data = &b,
                        .loop = &loop};
    tu_ok(dbconn_options_set(&o, "execution_policy", policy));
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, tu_file_url(dir, "a.db"), &o));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE t (x)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    first_begin_async(&loop, s, "INSERT INTO t VALUES (1)", &b);
    assert_string_equal(b.first, "BEGIN IMMEDIATE");
    first_begin_async(&loop, s, " /* c */ DELETE FROM t", &b);
    assert_string_equal(b.first, "BEGIN IMMEDIATE");
    first_begin_async(&loop, s, "SELECT count(*) FROM t", &b);
    assert_string_equal(b.first, "BEGIN (implicit)");
    first_begin_async(&loop, s, "CREATE TABLE u (y)", &b);
    assert_string_equal(b.first, "BEGIN (implicit)");
    first_begin_async(&loop, s,
                      "WITH v(y) AS (SELECT 3) INSERT INTO t SELECT y FROM v",
                      &b);
    assert_string_equal(b.first, "BEGIN (implicit)");
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    tu_rmdir(dir);
}

static void test_async_write_first_begins_immediate(void **state) {
    (void)state;
    async_write_first("threadpool");
    async_write_first("inline");
}

/* Another session of the engine writes: a write-first transaction waits
 * at BEGIN, and when the gate times out nothing was begun -- the session
 * is idle, with nothing to roll back. */
static void test_write_first_timeout_leaves_session_idle(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    dbconn *db;
    dbconn_session *a, *b;
    a_writing(dir, "i.db", &db, &a, &b);
    assert_int_equal(dbconn_exec(b, "INSERT INTO t VALUES (2)", NULL, 0, NULL),
                     DBCONN_EBUSY);
    assert_false(dbconn_in_transaction(b));
    tu_ok(dbconn_commit(a));
    tu_ok(dbconn_exec(b, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_commit(b));
    assert_int_equal(tu_count_rows(db, "t", NULL), 2);
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_other_process_lock_is_ebusy),
        cmocka_unit_test(test_in_process_writers_use_the_gate),
        cmocka_unit_test(test_busy_snapshot_and_begin_immediate),
        cmocka_unit_test(test_lazy_begin_keeps_the_first_snapshot),
        cmocka_unit_test(test_write_first_begins_immediate),
        cmocka_unit_test(test_async_write_first_begins_immediate),
        cmocka_unit_test(test_write_first_timeout_leaves_session_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
