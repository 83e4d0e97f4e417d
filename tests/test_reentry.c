/* User code that runs while the library holds a connection, a statement or
 * a lock: dbconn_exec_each's row callback (which may run statements on its
 * session, but may not end the transaction, and whose closes take effect
 * when the iteration returns), and the callouts that must not call back in
 * at all (log callback, scope function, allocator hooks). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* An engine with t(x) holding 1..200, and a second table u(k UNIQUE). */
static dbconn *open_200(int pool_size, int max_overflow) {
    dbconn_options o = {0};
    char v[16];
    snprintf(v, sizeof v, "%d", pool_size);
    tu_ok(dbconn_options_set(&o, "pool_size", v));
    snprintf(v, sizeof v, "%d", max_overflow);
    tu_ok(dbconn_options_set(&o, "max_overflow", v));
    tu_ok(dbconn_options_set(&o, "pool_timeout_ms", "10000"));
    dbconn *db = NULL;
    tu_ok(dbconn_open(&db, tu_url(), &o));
    dbconn_session *s = NULL;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec_script(
        s, "CREATE TABLE t (x INTEGER); CREATE TABLE u (k INTEGER UNIQUE);"
           "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
           "WHERE i < 200) INSERT INTO t SELECT i FROM c"));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    return db;
}

static dbconn_stats stats(dbconn *db) {
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    return st;
}

/* ---- ending the transaction from the callback is refused ---------------- */

typedef struct end_ctx {
    dbconn_session *s;
    int rows;
    int codes[7];
} end_ctx;

static int try_to_end(void *data, const dbconn_result *row) {
    end_ctx *c = data;
    (void)row;
    if (++c->rows != 2)
        return 0;
    c->codes[0] = dbconn_commit(c->s);
    c->codes[1] = dbconn_rollback(c->s);
    c->codes[2] = dbconn_exec(c->s, "COMMIT", NULL, 0, NULL);
    c->codes[3] = dbconn_exec(c->s, "rollback", NULL, 0, NULL);
    c->codes[4] = dbconn_exec_first(c->s, " END TRANSACTION", NULL, 0, NULL);
    c->codes[5] = dbconn_begin(c->s, DBCONN_BEGIN_IMMEDIATE);
    c->codes[6] = dbconn_exec(c->s, "SAVEPOINT a", NULL, 0, NULL);
    return 0;
}

/* The reproduction: A holds the pooled connection, B runs on the
 * overflow one and its callback commits at row 2.  Before the fix the
 * commit closed B's connection (overflow) under the iteration: a
 * use-after-free in run(). */
static void test_each_cannot_end_the_transaction(void **state) {
    (void)state;
    dbconn *db = open_200(1, 1);
    dbconn_session *a = NULL, *b = NULL;
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_exec(b, "INSERT INTO u VALUES (1)", NULL, 0, NULL));
    end_ctx c = {.s = b};
    tu_ok(dbconn_exec_each(b, "SELECT x FROM t", NULL, 0, try_to_end, &c));
    assert_int_equal(c.rows, 200);
    for (int i = 0; i < 7; i++)
        assert_int_equal(c.codes[i], DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_session_errmsg(b), "row callback"));
    /* Still the same open transaction, on its connection: B's insert is
     * there to roll back. */
    assert_true(dbconn_in_transaction(b));
    assert_int_equal(stats(db).checked_out, 2);
    tu_ok(dbconn_rollback(b));
    assert_int_equal(tu_count_rows(db, "u", NULL), 0);
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
}

/* Statements other than transaction control run inside the callback, on
 * the same session and transaction, nested iterations too. */
typedef struct nest_ctx {
    dbconn_session *s;
    int rows, inner;
} nest_ctx;

static int count_inner(void *data, const dbconn_result *row) {
    (void)row;
    ((nest_ctx *)data)->inner++;
    return 0;
}

static int insert_each(void *data, const dbconn_result *row) {
    nest_ctx *c = data;
    c->rows++;
    tu_ok(dbconn_exec(c->s, "INSERT INTO u VALUES (?)",
                      DBCONN_PARAMS(DBCONN_INT(dbconn_result_int(row, 0, 0))),
                      NULL));
    if (c->rows == 10)
        tu_ok(dbconn_exec_each(c->s, "SELECT k FROM u", NULL, 0, count_inner,
                               c));
    return c->rows == 50; /* stop early: the rest is discarded */
}

static void test_each_runs_statements_in_the_transaction(void **state) {
    (void)state;
    dbconn *db = open_200(5, 10);
    dbconn_session *s = NULL;
    tu_ok(dbconn_session_open(db, &s));
    nest_ctx c = {.s = s};
    tu_ok(dbconn_exec_each(s, "SELECT x FROM t ORDER BY x", NULL, 0,
                           insert_each, &c));
    assert_int_equal(c.rows, 50);
    assert_int_equal(c.inner, 10);
    assert_true(dbconn_in_transaction(s));
    dbconn_result *r = NULL;
    tu_ok(dbconn_exec(s, "SELECT count(*) FROM u", NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 50);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(s));
    assert_int_equal(tu_count_rows(db, "u", NULL), 50);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* ---- a statement that ends the transaction by failing ------------------- */

typedef struct wait_ctx {
    dbconn *db;
    atomic_int ran; /* statements the other thread has run */
} wait_ctx;

static void *other_thread(void *arg) {
    wait_ctx *w = arg;
    dbconn_session *s = NULL;
    tu_ok(dbconn_session_open(w->db, &s));
    for (int i = 0; i < 100; i++) {
        if (dbconn_exec(s, "SELECT count(*) FROM t", NULL, 0, NULL) == 0)
            atomic_fetch_add(&w->ran, 1);
    }
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    return NULL;
}

typedef struct fail_ctx {
    dbconn_session *s;
    wait_ctx *w;
    int rows, insert_rc, ran_meanwhile;
} fail_ctx;

static int fail_and_roll_back(void *data, const dbconn_result *row) {
    fail_ctx *c = data;
    (void)row;
    if (++c->rows == 3) {
        /* OR ROLLBACK: the constraint failure rolls the whole transaction
         * back inside SQLite, behind the session's back.  PostgreSQL has no
         * such clause: any failure aborts the server's transaction. */
        c->insert_rc = dbconn_exec(c->s,
                                   tu_is_sqlite()
                                       ? "INSERT OR ROLLBACK INTO u VALUES (7)"
                                       : "INSERT INTO u VALUES (7)",
                                   NULL, 0, NULL);
        /* The connection is still the iteration's: give the waiting thread
         * every chance to be handed it. */
        for (int i = 0; i < 50; i++)
            sched_yield();
        c->ran_meanwhile = atomic_load(&c->w->ran);
    }
    return 0;
}

/* With one connection and another thread waiting for it, a failure that
 * rolls back inside the callback must not hand the connection over while
 * the iteration still steps on it: the iteration stops with the failure
 * (DBCONN_EABORTED), the other thread runs only once the session rolled
 * back. */
static void test_each_failure_that_rolls_back_keeps_the_connection(
    void **state) {
    (void)state;
    dbconn *db = open_200(1, 0);
    dbconn_session *s = NULL;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO u VALUES (7)", NULL, 0, NULL));
    wait_ctx w = {.db = db};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, other_thread, &w), 0);
    while (stats(db).waiters == 0)
        sched_yield();
    fail_ctx c = {.s = s, .w = &w};
    int rc = dbconn_exec_each(s, "SELECT x FROM t", NULL, 0,
                              fail_and_roll_back, &c);
    assert_int_equal(c.insert_rc, DBCONN_ECONSTRAINT);
    assert_int_equal(rc, DBCONN_EABORTED);
    assert_int_equal(c.rows, 3);
    assert_int_equal(c.ran_meanwhile, 0);
    assert_int_equal(atomic_load(&w.ran), 0);
    assert_int_equal(dbconn_commit(s), DBCONN_EABORTED);
    tu_ok(dbconn_rollback(s));
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(atomic_load(&w.ran), 100);
    assert_int_equal(tu_count_rows(db, "u", NULL), 0);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* A failure the callback recovers from with a savepoint lets the iteration
 * go on. */
typedef struct sp_ctx {
    dbconn_session *s;
    int rows, insert_rc;
} sp_ctx;

static int fail_and_recover(void *data, const dbconn_result *row) {
    sp_ctx *c = data;
    (void)row;
    if (++c->rows == 3) {
        tu_ok(dbconn_savepoint(c->s, "before"));
        c->insert_rc = dbconn_exec(c->s, "INSERT INTO u VALUES (7)", NULL, 0,
                                   NULL);
        tu_ok(dbconn_savepoint_rollback(c->s, "before"));
        tu_ok(dbconn_savepoint_release(c->s, "before"));
    }
    return 0;
}

static void test_each_recovers_with_a_savepoint(void **state) {
    (void)state;
    dbconn *db = open_200(5, 10);
    dbconn_session *s = NULL;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO u VALUES (7)", NULL, 0, NULL));
    sp_ctx c = {.s = s};
    tu_ok(dbconn_exec_each(s, "SELECT x FROM t", NULL, 0, fail_and_recover,
                           &c));
    assert_int_equal(c.insert_rc, DBCONN_ECONSTRAINT);
    assert_int_equal(c.rows, 200);
    tu_ok(dbconn_commit(s));
    assert_int_equal(tu_count_rows(db, "u", NULL), 1);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* ---- closing from the callback ----------------------------------------- */

typedef struct close_ctx {
    dbconn *db;
    dbconn_session *s;
    int rows, after_rc, remove_rc;
    int what; /* 0 session_close, 1 scoped remove, 2 dbconn_close */
    dbconn_session *fresh;
} close_ctx;

static int close_it(void *data, const dbconn_result *row) {
    close_ctx *c = data;
    (void)row;
    if (++c->rows != 5)
        return 0;
    if (c->what == 0) {
        dbconn_session_close(c->s);
    } else if (c->what == 1) {
        c->remove_rc = dbconn_scoped_remove(c->db);
        /* The scope may have a new session at once. */
        tu_ok(dbconn_scoped_session(c->db, &c->fresh));
        assert_ptr_not_equal(c->fresh, c->s);
    } else {
        c->remove_rc = dbconn_close(c->db, NULL);
    }
    c->after_rc = dbconn_exec(c->s, "SELECT 1", NULL, 0, NULL);
    return 0;
}

static void test_each_closing_the_session(void **state) {
    (void)state;
    dbconn *db = open_200(5, 10);
    dbconn_session *s = NULL;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO u VALUES (1)", NULL, 0, NULL));
    close_ctx c = {.db = db, .s = s, .what = 0};
    assert_int_equal(dbconn_exec_each(s, "SELECT x FROM t", NULL, 0, close_it,
                                      &c),
                     DBCONN_ECLOSED);
    assert_int_equal(c.rows, 5);
    assert_int_equal(c.after_rc, DBCONN_ECLOSED);
    assert_non_null(strstr(dbconn_errmsg(NULL), "session"));
    /* Freed and rolled back: nothing held, nothing kept. */
    assert_int_equal(stats(db).checked_out, 0);
    assert_int_equal(tu_count_rows(db, "u", NULL), 0);
    tu_ok(dbconn_close(db, NULL));
}

static void test_each_removing_the_scoped_session(void **state) {
    (void)state;
    dbconn *db = open_200(5, 10);
    dbconn_session *s = NULL;
    tu_ok(dbconn_scoped_session(db, &s));
    close_ctx c = {.db = db, .s = s, .what = 1};
    assert_int_equal(dbconn_exec_each(s, "SELECT x FROM t", NULL, 0, close_it,
                                      &c),
                     DBCONN_ECLOSED);
    tu_ok(c.remove_rc);
    assert_int_equal(c.after_rc, DBCONN_ECLOSED);
    assert_int_equal(dbconn_scoped_count(db), 1); /* the fresh one */
    dbconn_session *again = NULL;
    tu_ok(dbconn_scoped_session(db, &again));
    assert_ptr_equal(again, c.fresh);
    tu_ok(dbconn_exec(again, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_scoped_remove(db));
    assert_int_equal(stats(db).checked_out, 0);
    tu_ok(dbconn_close(db, NULL));
}

/* dbconn_close from the callback: the dbconn is closing at once (later
 * calls: DBCONN_ECLOSED), and is disposed of when dbconn_exec_each returns
 * (ASan and valgrind see it freed, with the scoped session it iterated). */
static void test_each_closing_the_dbconn(void **state) {
    (void)state;
    dbconn *db = open_200(5, 10);
    dbconn_session *s = NULL;
    tu_ok(dbconn_scoped_session(db, &s));
    close_ctx c = {.db = db, .s = s, .what = 2};
    assert_int_equal(dbconn_exec_each(s, "SELECT x FROM t", NULL, 0, close_it,
                                      &c),
                     DBCONN_ECLOSED);
    tu_ok(c.remove_rc);
    assert_int_equal(c.after_rc, DBCONN_ECLOSED);
    assert_non_null(strstr(dbconn_errmsg(NULL), "dbconn"));
}

/* A factory session survives its dbconn's close from a callback as a
 * closed session that its owner still frees. */
static void test_each_closing_the_dbconn_of_a_factory_session(void **state) {
    (void)state;
    dbconn *db = open_200(5, 10);
    dbconn_session *s = NULL;
    tu_ok(dbconn_session_open(db, &s));
    close_ctx c = {.db = db, .s = s, .what = 2};
    assert_int_equal(dbconn_exec_each(s, "SELECT x FROM t", NULL, 0, close_it,
                                      &c),
                     DBCONN_ECLOSED);
    assert_int_equal(dbconn_exec(s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_ECLOSED);
    dbconn_session_close(s);
}

/* The async API would run a job on the connection the iteration steps on. */
typedef struct async_ctx {
    dbconn_session *s;
    int rc;
} async_ctx;

static int submit_async(void *data, const dbconn_result *row) {
    async_ctx *c = data;
    (void)row;
    c->rc = dbconn_exec_async(c->s, "SELECT 1", NULL, 0, tu_on_exec, NULL);
    return 1;
}

static void test_each_refuses_async_work_on_its_session(void **state) {
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    dbconn_options o = {.loop = &loop};
    dbconn *db = NULL;
    tu_ok(dbconn_open(&db, tu_url(), &o));
    dbconn_session *s = NULL;
    tu_ok(dbconn_session_open(db, &s));
    async_ctx c = {.s = s};
    tu_ok(dbconn_exec_each(s, "SELECT 1 UNION ALL SELECT 2", NULL, 0,
                           submit_async, &c));
    assert_int_equal(c.rc, DBCONN_EINVAL);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- callouts: no calling back in -------------------------------------- */

typedef struct sink_ctx {
    dbconn *db;
    dbconn_session *s;
    int lines, codes[6];
    size_t count;
    char msg[256];
} sink_ctx;

static void reentering_sink(void *data, int level, const char *line) {
    sink_ctx *c = data;
    (void)level;
    (void)line;
    if (c->lines++ != 2 || !c->s)
        return;
    dbconn_stats st;
    c->codes[0] = dbconn_exec(c->s, "SELECT 1", NULL, 0, NULL);
    c->codes[1] = dbconn_commit(c->s);
    c->codes[2] = dbconn_pool_stats(c->db, &st);
    c->codes[3] = dbconn_close(c->db, NULL);
    dbconn_session *other = NULL;
    c->codes[4] = dbconn_session_open(c->db, &other);
    c->codes[5] = dbconn_scoped_session(c->db, &other);
    c->count = dbconn_scoped_count(c->db);
    snprintf(c->msg, sizeof c->msg, "%s", dbconn_errmsg(NULL));
}

/* A log callback that calls back in would deadlock on the log's lock or
 * free what the logging statement uses: every such call is refused. */
static void test_log_callback_cannot_call_back_in(void **state) {
    (void)state;
    sink_ctx c = {0};
    dbconn_options o = {.echo = 1, .log = reentering_sink, .log_data = &c};
    tu_ok(dbconn_open(&c.db, tu_url(), &o));
    tu_ok(dbconn_session_open(c.db, &c.s));
    tu_ok(dbconn_exec(c.s, "SELECT 1", NULL, 0, NULL)); /* lines 0 and 1 */
    tu_ok(dbconn_exec(c.s, "SELECT 2", NULL, 0, NULL)); /* line 2 calls in */
    for (int i = 0; i < 6; i++)
        assert_int_equal(c.codes[i], DBCONN_EINVAL);
    assert_int_equal(c.count, 0);
    assert_non_null(strstr(c.msg, "log callback"));
    tu_ok(dbconn_commit(c.s));
    dbconn_session_close(c.s);
    c.s = NULL;
    tu_ok(dbconn_close(c.db, NULL));
}

typedef struct scope_ctx {
    dbconn *db;
    int rc;
} scope_ctx;

static void *reentering_scopefunc(void *data) {
    scope_ctx *c = data;
    dbconn_session *s = NULL;
    if (c->db)
        c->rc = dbconn_scoped_session(c->db, &s);
    return &c->rc; /* any stable key */
}

static void test_scopefunc_cannot_call_back_in(void **state) {
    (void)state;
    scope_ctx c = {0};
    dbconn_options o = {.scopefunc = reentering_scopefunc, .scope_data = &c};
    tu_ok(dbconn_open(&c.db, tu_url(), &o));
    dbconn_session *s = NULL;
    tu_ok(dbconn_scoped_session(c.db, &s));
    assert_int_equal(c.rc, DBCONN_EINVAL);
    assert_int_equal(dbconn_scoped_count(c.db), 1);
    tu_ok(dbconn_scoped_remove(c.db));
    tu_ok(dbconn_close(c.db, NULL));
}

static dbconn *alloc_db;
static int alloc_rc = 1;

static void *reentering_malloc(size_t n) {
    dbconn_stats st;
    if (alloc_db && alloc_rc == 1)
        alloc_rc = dbconn_pool_stats(alloc_db, &st); /* the pool's lock */
    return malloc(n);
}

/* An allocator hook runs under the library's locks (the pool's, when a
 * checkout makes a connection slot): calling back in is refused rather
 * than deadlocking. */
static void test_allocator_hook_cannot_call_back_in(void **state) {
    (void)state;
    dbconn_options o = {0};
    tu_ok(dbconn_options_set(&o, "pool_size", "1"));
    tu_ok(dbconn_open(&alloc_db, tu_url(), &o));
    dbconn_session *s = NULL, *t = NULL;
    tu_ok(dbconn_session_open(alloc_db, &s));
    tu_ok(dbconn_session_open(alloc_db, &t));
    tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, NULL));
    dbconn_allocator hooks = {reentering_malloc, calloc, realloc, free}, prev;
    dbconn_set_allocator(&hooks, &prev);
    /* An overflow slot is made under the pool's lock. */
    int rc = dbconn_exec(t, "SELECT 1", NULL, 0, NULL);
    dbconn_set_allocator(&prev, NULL);
    tu_ok(rc);
    assert_int_equal(alloc_rc, DBCONN_EINVAL);
    tu_ok(dbconn_commit(s));
    tu_ok(dbconn_commit(t));
    dbconn_session_close(s);
    dbconn_session_close(t);
    tu_ok(dbconn_close(alloc_db, NULL));
    alloc_db = NULL;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        tu_test(test_each_cannot_end_the_transaction),
        tu_test(test_each_runs_statements_in_the_transaction),
        tu_test(
            test_each_failure_that_rolls_back_keeps_the_connection),
        tu_test(test_each_recovers_with_a_savepoint),
        tu_test(test_each_closing_the_session),
        tu_test(test_each_removing_the_scoped_session),
        tu_test(test_each_closing_the_dbconn),
        tu_test(test_each_closing_the_dbconn_of_a_factory_session),
        tu_test(test_each_refuses_async_work_on_its_session),
        tu_test(test_log_callback_cannot_call_back_in),
        tu_test(test_scopefunc_cannot_call_back_in),
        tu_test(test_allocator_hook_cannot_call_back_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
