/* What a unit of work costs in thread-pool hops, and isolation_level
 * AUTOCOMMIT: an awaited read and its commit take one hop (the end of a
 * transaction that only read runs on the loop); a write's commit takes its
 * own; with AUTOCOMMIT every statement is its own transaction -- no BEGIN,
 * the connection given back after each statement, commit and rollback
 * no-ops -- unless dbconn_begin opens one. */
#include <string.h>

#include "testutil.h"

typedef struct fx {
    uv_loop_t loop;
    const char *dir;
    dbconn *db;
    char log[16][160];
    int nlog;
} fx;

static void capture(void *data, int level, const char *line) {
    fx *f = data;
    (void)level;
    if (f->nlog < 16)
        snprintf(f->log[f->nlog++], sizeof f->log[0], "%s", line);
}

/* The hops counted here are the thread pool's: on a server the suite runs
 * with execution_policy=threadpool too (the loop policy makes none). */
static void open_fx(fx *f, const char *query) {
    tu_fresh(NULL);
    memset(f, 0, sizeof *f);
    char url[4400], q[256];
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->dir = tu_tmpdir();
    snprintf(q, sizeof q, "%s%s%s", query ? query : "",
             tu_is_sqlite() ? "" : query ? "&" : "?",
             tu_is_sqlite() ? "" : "execution_policy=threadpool");
    snprintf(url, sizeof url, "%s", tu_db_url(f->dir, "h.db", q));
    dbconn_options o = {.loop = &f->loop, .echo = 1, .log = capture,
                        .log_data = f};
    tu_ok(dbconn_open(&f->db, url, &o));
    dbconn_session *s;
    tu_ok(dbconn_session_open(f->db, &s));
    tu_ok(dbconn_exec(s, tu_ddl("CREATE TABLE t (id INTEGER PRIMARY KEY, v "
                                "INTEGER)"),
                      NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "INSERT INTO t (v) VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    f->nlog = 0;
}

static void close_fx(fx *f) {
    tu_ok(dbconn_close(f->db, NULL));
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    tu_rmdir(f->dir);
}

static uint64_t jobs(dbconn *db) {
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    return st.async_jobs;
}

static int checked_out(dbconn *db) {
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    return st.checked_out;
}

/* An awaiting program: exec, then commit from the exec's callback. */
typedef struct unit {
    dbconn_session *s;
    int exec_status, commit_status, commits;
    int64_t seen;
    int out_at_commit;
    fx *f;
} unit;

static void unit_committed(int status, void *data) {
    unit *u = data;
    u->commit_status = status;
    u->commits++;
}

static void unit_ran(int status, dbconn_result *res, void *data) {
    unit *u = data;
    u->exec_status = status;
    if (res && dbconn_result_nrows(res))
        u->seen = dbconn_result_int(res, 0, 0);
    dbconn_result_free(res);
    u->out_at_commit = checked_out(u->f->db);
    tu_ok(dbconn_commit_async(u->s, unit_committed, u));
}

static void run_unit(fx *f, const char *sql, unit *u) {
    memset(u, 0, sizeof *u);
    u->f = f;
    tu_ok(dbconn_session_open(f->db, &u->s));
    tu_ok(dbconn_exec_async(u->s, sql, NULL, 0, unit_ran, u));
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(u->commits, 1);
    tu_ok(u->exec_status);
    tu_ok(u->commit_status);
    assert_false(dbconn_in_transaction(u->s));
    assert_int_equal(checked_out(f->db), 0);
    dbconn_session_close(u->s);
}

static void test_read_and_its_commit_take_one_hop(void **state) {
    (void)state;
    fx f;
    open_fx(&f, NULL);
    unit u;
    uint64_t j0 = jobs(f.db);
    run_unit(&f, "SELECT v FROM t WHERE id = 1", &u);
    /* PostgreSQL: the read's COMMIT is a round trip to the server, which
     * the loop thread does not wait for: a hop of its own */
    assert_int_equal(jobs(f.db) - j0, tu_is_sqlite() ? 1 : 2);
    assert_int_equal(u.seen, 1);
    /* the read's transaction was open (and its connection held) until the
     * commit ended it on the loop */
    assert_int_equal(u.out_at_commit, 1);
    /* A write's commit needs its own hop (it may wait for the disk). */
    j0 = jobs(f.db);
    run_unit(&f, "UPDATE t SET v = 2 WHERE id = 1", &u);
    assert_int_equal(jobs(f.db) - j0, 2);
    assert_int_equal(tu_count_rows(f.db, "t", "v = 2"), 1);
    close_fx(&f);
}

/* A rollback of a read is as cheap; one of a write still hops. */
static void rolled_back(int status, void *data) { *(int *)data = status + 1; }

static void test_read_rollback_on_the_loop(void **state) {
    (void)state;
    fx f;
    open_fx(&f, NULL);
    dbconn_session *s;
    tu_ok(dbconn_session_open(f.db, &s));
    tu_rec r = {0};
    int rb = 0;
    uint64_t j0 = jobs(f.db);
    tu_ok(dbconn_exec_async(s, "SELECT v FROM t", NULL, 0, tu_on_exec, &r));
    assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
    assert_true(dbconn_in_transaction(s));
    tu_ok(dbconn_rollback_async(s, rolled_back, &rb)); /* on its own */
    assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(rb, 1);
    /* the read's job only (PostgreSQL: and the ROLLBACK's, a round trip) */
    assert_int_equal(jobs(f.db) - j0, tu_is_sqlite() ? 1 : 2);
    assert_int_equal(checked_out(f.db), 0);
    dbconn_session_close(s);
    close_fx(&f);
}

/* ---- isolation_level AUTOCOMMIT ------------------------------------------- */

static void test_autocommit_sync(void **state) {
    (void)state;
    fx f;
    open_fx(&f, "?isolation_level=AUTOCOMMIT");
    dbconn_session *a, *b;
    tu_ok(dbconn_session_open(f.db, &a));
    tu_ok(dbconn_session_open(f.db, &b));
    tu_ok(dbconn_exec(a, "INSERT INTO t (v) VALUES (7)", NULL, 0, NULL));
    /* committed already: the connection is back, another session sees it,
     * a rollback changes nothing */
    assert_false(dbconn_in_transaction(a));
    assert_int_equal(checked_out(f.db), 0);
    assert_int_equal(tu_count_rows(f.db, "t", "v = 7"), 1);
    tu_ok(dbconn_rollback(a));
    assert_int_equal(tu_count_rows(f.db, "t", "v = 7"), 1);
    tu_ok(dbconn_commit(a));
    /* no BEGIN was sent; echo says so, as SQLAlchemy does */
    assert_string_equal(
        f.log[0],
        "BEGIN (implicit; DBAPI should not BEGIN due to autocommit mode)");
    for (int i = 0; i < f.nlog; i++) {
        assert_null(strstr(f.log[i], "COMMIT"));
        assert_true(strcmp(f.log[i], "BEGIN") != 0);
    }
    /* dbconn_begin still opens a real transaction */
    tu_ok(dbconn_begin(a, DBCONN_BEGIN_DEFAULT));
    tu_ok(dbconn_exec(a, "INSERT INTO t (v) VALUES (8)", NULL, 0, NULL));
    assert_true(dbconn_in_transaction(a));
    assert_int_equal(checked_out(f.db), 1);
    tu_ok(dbconn_rollback(a));
    assert_int_equal(tu_count_rows(f.db, "t", "v = 8"), 0);
    /* a failure ends nothing but its statement: no transaction to abort */
    assert_int_equal(dbconn_exec(a, "INSERT INTO t (id) VALUES (1)", NULL, 0,
                                 NULL),
                     DBCONN_ECONSTRAINT);
    tu_ok(dbconn_rollback(a));
    tu_ok(dbconn_exec(a, "SELECT 1", NULL, 0, NULL));
    dbconn_session_close(a);
    dbconn_session_close(b);
    close_fx(&f);
}

static void test_autocommit_async_one_hop_per_statement(void **state) {
    (void)state;
    fx f;
    open_fx(&f, "?isolation_level=autocommit");
    dbconn_session *s;
    tu_ok(dbconn_session_open(f.db, &s));
    tu_rec r = {0};
    uint64_t j0 = jobs(f.db);
    tu_ok(dbconn_exec_async(s, "INSERT INTO t (v) VALUES (9)", NULL, 0,
                            tu_on_exec, &r));
    assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.calls, 1);
    tu_ok(r.status);
    assert_int_equal(checked_out(f.db), 0);
    assert_int_equal(tu_count_rows(f.db, "t", "v = 9"), 1);
    tu_rec c = {0};
    tu_ok(dbconn_commit_async(s, tu_on_done, &c));
    assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c.calls, 1);
    tu_ok(c.status);
    assert_int_equal(jobs(f.db) - j0, 1); /* the commit had nothing to do */
    unit u;
    j0 = jobs(f.db);
    run_unit(&f, "SELECT v FROM t WHERE v = 9", &u);
    assert_int_equal(jobs(f.db) - j0, 1);
    assert_int_equal(u.out_at_commit, 0); /* given back after the read */
    dbconn_session_close(s);
    close_fx(&f);
}

/* AUTOCOMMIT under each engine's default policy (PostgreSQL: the loop's):
 * each statement commits, and dbconn_begin still opens a transaction that
 * a rollback undoes. */
static void test_autocommit_async_default_policy(void **state) {
    (void)state;
    tu_fresh(NULL);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    const char *dir = tu_tmpdir();
    dbconn *db;
    dbconn_options o = {.loop = &loop};
    tu_ok(dbconn_open(&db, tu_db_url(dir, "d.db", "?isolation_level=AUTOCOMMIT"),
                      &o));
    dbconn_session *s;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE t (v INTEGER)", NULL, 0, NULL));
    tu_rec a = {0}, b = {0}, rb = {0};
    tu_ok(dbconn_exec_async(s, "INSERT INTO t (v) VALUES (1)", NULL, 0,
                            tu_on_exec, &a));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    tu_ok(a.status);
    assert_false(dbconn_in_transaction(s));
    assert_int_equal(checked_out(db), 0);
    assert_int_equal(tu_count_rows(db, "t", "v = 1"), 1);
    tu_ok(dbconn_begin(s, DBCONN_BEGIN_DEFAULT));
    tu_ok(dbconn_exec_async(s, "INSERT INTO t (v) VALUES (2)", NULL, 0,
                            tu_on_exec, &b));
    tu_ok(dbconn_rollback_async(s, tu_on_done, &rb));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    tu_ok(b.status);
    tu_ok(rb.status);
    assert_int_equal(tu_count_rows(db, "t", "v = 2"), 0); /* rolled back */
    assert_int_equal(tu_count_rows(db, "t", NULL), 1);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    tu_rmdir(dir);
}

static void test_autocommit_option_spellings(void **state) {
    (void)state;
    dbconn_options o = {0};
    tu_ok(dbconn_options_set(&o, "isolation_level", "AUTOCOMMIT"));
    dbconn *db;
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(dbconn_open(&db, "sqlite://?isolation_level=autocommits",
                                 NULL),
                     DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "AUTOCOMMIT"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        tu_test(test_read_and_its_commit_take_one_hop),
        tu_test(test_read_rollback_on_the_loop),
        tu_test(test_autocommit_sync),
        tu_test(test_autocommit_async_one_hop_per_statement),
        tu_test(test_autocommit_async_default_policy),
        tu_test(test_autocommit_option_spellings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
