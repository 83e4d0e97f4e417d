/* Stopping a statement: the statement_timeout option (engine, URL key,
 * per session) and dbconn_cancel from another thread or a libuv handle,
 * sync and async under every execution policy of the engine.  After
 * either the transaction is aborted, a rollback makes the session usable,
 * committed data stays, and a cancel when nothing runs changes nothing.
 * Runs on tu_url(): sqlite:// and, as test_cancel_postgres, on the
 * PostgreSQL test server (tests/CMakeLists.txt, DBCONN_BOTH_ENGINES). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "testutil.h"

/* Runs for seconds unless stopped: SQLite counts to 1e8, PostgreSQL
 * sleeps 5 s. */
static const char *slow_sql(void) {
    return tu_is_sqlite()
               ? "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                 "FROM c WHERE x < 100000000) SELECT count(*) FROM c"
               : "SELECT pg_sleep(5)";
}

/* Runs 0.2-0.4 s natively: longer than a 100 ms limit, far below 5 s. */
static const char *medium_sql(void) {
    return tu_is_sqlite()
               ? "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                 "FROM c WHERE x < 1500000) SELECT count(*) FROM c"
               : "SELECT pg_sleep(0.3)";
}

/* A stopped statement must come back well before it would have ended:
 * SQLite's count takes several seconds natively (far more under the
 * sanitizers), pg_sleep(5) five. */
enum { STOP_BOUND_MS = 4000 };

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* tu_url() with "key=value" added to its query. */
static const char *url_with(const char *kv) {
    static char buf[1024];
    const char *u = tu_url();
    snprintf(buf, sizeof buf, "%s%s%s", u, strchr(u, '?') ? "&" : "?", kv);
    return buf;
}

/* cn_t(x) holding one committed row, x = 1. */
static void make_table(dbconn *db) {
    dbconn_session *s;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "DROP TABLE IF EXISTS cn_t", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "CREATE TABLE cn_t (x INTEGER)", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "INSERT INTO cn_t VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
}

static int64_t count_t(dbconn_session *s) {
    dbconn_result *r;
    tu_ok(dbconn_exec(s, "SELECT count(*) FROM cn_t", NULL, 0, &r));
    int64_t n = dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(s));
    return n;
}

/* After a stopped statement: aborted until the rollback, then usable, and
 * what was committed is there. */
static void check_recovers(dbconn_session *s, int64_t rows) {
    assert_int_equal(dbconn_exec(s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_EABORTED);
    assert_int_equal(dbconn_commit(s), DBCONN_EABORTED);
    tu_ok(dbconn_rollback(s));
    dbconn_result *r;
    tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    dbconn_result_free(r);
    assert_int_equal(count_t(s), rows);
}

/* ---- statement_timeout ------------------------------------------------ */

static void test_timeout_from_url(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, url_with("statement_timeout=200"), NULL));
    make_table(db);
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO cn_t VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    tu_ok(dbconn_exec(s, "INSERT INTO cn_t VALUES (3)", NULL, 0, NULL));
    double t0 = now_ms();
    dbconn_result *r = (dbconn_result *)1;
    int rc = dbconn_exec(s, slow_sql(), NULL, 0, &r);
    double took = now_ms() - t0;
    assert_int_equal(rc, DBCONN_ESTMTTIMEOUT);
    assert_null(r);
    assert_true(took >= 150 && took < STOP_BOUND_MS);
    assert_non_null(strstr(dbconn_session_errmsg(s), "statement_timeout"));
    if (!tu_is_sqlite())
        assert_string_equal(dbconn_session_sqlstate(s), "57014");
    /* the uncommitted row 3 goes with the transaction, 1 and 2 stay */
    check_recovers(s, 2);
    /* quick statements are not affected */
    tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

static void test_timeout_option_and_script(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {0};
    tu_ok(dbconn_options_set(&o, "statement_timeout", "150"));
    assert_int_equal(o.statement_timeout, 150);
    tu_ok(dbconn_open(&db, tu_url(), &o));
    make_table(db);
    tu_ok(dbconn_session_open(db, &s));
    char script[512];
    snprintf(script, sizeof script, "INSERT INTO cn_t VALUES (5); %s;",
             slow_sql());
    double t0 = now_ms();
    assert_int_equal(dbconn_exec_script(s, script), DBCONN_ESTMTTIMEOUT);
    assert_true(now_ms() - t0 < STOP_BOUND_MS);
    check_recovers(s, 1);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

static void test_session_override(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *a, *b;
    /* one pooled connection: a's and b's settings take turns on it */
    dbconn_options o = {.pool_size = 1, .max_overflow = DBCONN_NONE};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    make_table(db);
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_session_set_statement_timeout(a, 100));
    assert_int_equal(dbconn_exec(a, medium_sql(), NULL, 0, NULL),
                     DBCONN_ESTMTTIMEOUT);
    tu_ok(dbconn_rollback(a));
    /* still a's after the rollback (which undoes a SET made inside a
     * transaction on postgresql) */
    assert_int_equal(dbconn_exec(a, medium_sql(), NULL, 0, NULL),
                     DBCONN_ESTMTTIMEOUT);
    tu_ok(dbconn_rollback(a));
    /* b has the engine's (none) on the same connection */
    tu_ok(dbconn_exec(b, medium_sql(), NULL, 0, NULL));
    tu_ok(dbconn_commit(b));
    /* a's limit again, also inside a transaction that began without it */
    tu_ok(dbconn_session_set_statement_timeout(a, -1));
    tu_ok(dbconn_exec(a, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_session_set_statement_timeout(a, 100));
    assert_int_equal(dbconn_exec(a, medium_sql(), NULL, 0, NULL),
                     DBCONN_ESTMTTIMEOUT);
    tu_ok(dbconn_rollback(a));
    tu_ok(dbconn_exec(b, medium_sql(), NULL, 0, NULL));
    tu_ok(dbconn_rollback(b));
    /* -1: the engine's again */
    tu_ok(dbconn_session_set_statement_timeout(a, -1));
    tu_ok(dbconn_exec(a, medium_sql(), NULL, 0, NULL));
    tu_ok(dbconn_commit(a));
    assert_int_equal(dbconn_session_set_statement_timeout(a, -2),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "-2 ms"));
    assert_int_equal(dbconn_session_set_statement_timeout(a, 86400001),
                     DBCONN_EINVAL);
    assert_int_equal(dbconn_session_set_statement_timeout(NULL, 5),
                     DBCONN_EINVAL);
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
}

/* An engine limit that a session lifts (0) and one that DBCONN_NONE
 * lifts too. */
static void test_session_lifts_engine_limit(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.statement_timeout = 100};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    assert_int_equal(dbconn_exec(s, medium_sql(), NULL, 0, NULL),
                     DBCONN_ESTMTTIMEOUT);
    tu_ok(dbconn_rollback(s));
    tu_ok(dbconn_session_set_statement_timeout(s, 0));
    tu_ok(dbconn_exec(s, medium_sql(), NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    tu_ok(dbconn_session_set_statement_timeout(s, DBCONN_NONE));
    tu_ok(dbconn_exec(s, medium_sql(), NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

static void test_option_errors(void **state) {
    (void)state;
    dbconn_options o = {0};
    assert_int_equal(dbconn_options_set(&o, "statement_timeout", "-5"),
                     DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "statement_timeout"));
    assert_non_null(strstr(dbconn_errmsg(NULL), "-5"));
    assert_int_equal(dbconn_options_set(&o, "statement_timeout", "soon"),
                     DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "statement_timeout"));
    assert_int_equal(dbconn_options_set(&o, "statement_timeout", "1.5"),
                     DBCONN_EOPTION);
    assert_int_equal(o.statement_timeout, 0);
    tu_ok(dbconn_options_set(&o, "statement_timeout", "0"));
    assert_int_equal(o.statement_timeout, DBCONN_NONE);
    dbconn *db = (dbconn *)1;
    assert_int_equal(dbconn_open(&db, url_with("statement_timeout=abc"),
                                 NULL),
                     DBCONN_EOPTION);
    assert_null(db);
    assert_non_null(strstr(dbconn_errmsg(NULL), "statement_timeout"));
    o = (dbconn_options){.statement_timeout = -3};
    assert_int_equal(dbconn_open(&db, tu_url(), &o), DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "statement_timeout"));
    /* "0" in the URL: no limit */
    tu_ok(dbconn_open(&db, url_with("statement_timeout=0"), NULL));
    dbconn_session *s;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, medium_sql(), NULL, 0, NULL));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* ---- dbconn_cancel from another thread ---------------------------------- */

/* Cancels `s` every 20 ms until told to stop: the statement may not have
 * started when the first request goes. */
typedef struct canceller {
    dbconn_session *s;
    atomic_bool stop;
    atomic_int sent;
    uv_thread_t thread;
} canceller;

static void cancel_loop(void *arg) {
    canceller *c = arg;
    while (!atomic_load(&c->stop)) {
        uv_sleep(20);
        if (atomic_load(&c->stop))
            break;
        assert_int_equal(dbconn_cancel(c->s), 0);
        atomic_fetch_add(&c->sent, 1);
    }
}

static void canceller_start(canceller *c, dbconn_session *s) {
    c->s = s;
    atomic_init(&c->stop, false);
    atomic_init(&c->sent, 0);
    assert_int_equal(uv_thread_create(&c->thread, cancel_loop, c), 0);
}

static void canceller_stop(canceller *c) {
    atomic_store(&c->stop, true);
    assert_int_equal(uv_thread_join(&c->thread), 0);
}

static void test_cancel_sync(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, tu_url(), NULL));
    make_table(db);
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO cn_t VALUES (7)", NULL, 0, NULL));
    canceller c;
    canceller_start(&c, s);
    double t0 = now_ms();
    int rc = dbconn_exec(s, slow_sql(), NULL, 0, NULL);
    double took = now_ms() - t0;
    canceller_stop(&c);
    assert_int_equal(rc, DBCONN_EINTERRUPTED);
    assert_true(took < STOP_BOUND_MS);
    assert_non_null(strstr(dbconn_session_errmsg(s), "cancel"));
    check_recovers(s, 1); /* row 7 was never committed */
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* A row callback's statements are the iteration's: a cancel stops it. */
static int each_row(void *data, const dbconn_result *row) {
    dbconn_session *s = data;
    (void)row;
    return dbconn_exec(s, slow_sql(), NULL, 0, NULL) == DBCONN_EINTERRUPTED
               ? 0
               : 1;
}

static void test_cancel_each(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, tu_url(), NULL));
    make_table(db);
    tu_ok(dbconn_session_open(db, &s));
    canceller c;
    canceller_start(&c, s);
    int rc = dbconn_exec_each(s, "SELECT x FROM cn_t", NULL, 0, each_row, s);
    canceller_stop(&c);
    /* the inner statement was stopped; the iteration stops aborted */
    assert_int_equal(rc, DBCONN_EABORTED);
    check_recovers(s, 1);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* Nothing runs: nothing happens, now or at the next statement. */
static void test_cancel_idle(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, tu_url(), NULL));
    make_table(db);
    tu_ok(dbconn_session_open(db, &s));
    assert_int_equal(dbconn_cancel(NULL), DBCONN_EINVAL);
    assert_int_equal(dbconn_cancel(s), 0); /* no transaction */
    tu_ok(dbconn_exec(s, medium_sql(), NULL, 0, NULL));
    assert_int_equal(dbconn_cancel(s), 0); /* idle inside a transaction */
    assert_int_equal(dbconn_cancel(s), 0);
    tu_ok(dbconn_exec(s, medium_sql(), NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "INSERT INTO cn_t VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    assert_int_equal(count_t(s), 2);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* Cancels of one session, sent all along, never reach the statements
 * another session runs on the same pooled connection. */
static void test_cancel_other_session(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *a, *b;
    dbconn_options o = {.pool_size = 1, .max_overflow = DBCONN_NONE};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    make_table(db);
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    canceller c;
    canceller_start(&c, a);
    for (int i = 0; i < 3; i++) {
        /* a had it (its own statement may be stopped, of course) */
        int rc = dbconn_exec(a, "SELECT 1", NULL, 0, NULL);
        assert_true(rc == 0 || rc == DBCONN_EINTERRUPTED);
        tu_ok(dbconn_rollback(a));
        tu_ok(dbconn_exec(b, medium_sql(), NULL, 0, NULL));
        tu_ok(dbconn_commit(b));
    }
    canceller_stop(&c);
    assert_true(atomic_load(&c.sent) > 0);
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
}

/* ---- async ------------------------------------------------------------ */

static int policies_sqlite[] = {DBCONN_EXEC_THREADPOOL, DBCONN_EXEC_INLINE};
static int policies_pg[] = {DBCONN_EXEC_LOOP, DBCONN_EXEC_THREADPOOL,
                            DBCONN_EXEC_INLINE};

typedef struct aenv {
    uv_loop_t loop;
    dbconn *db;
    dbconn_session *s;
    tu_rec slow, after, rb, again;
    uv_timer_t timer;
    int ticks;
} aenv;

static void aenv_open(aenv *e, int policy, int timeout) {
    memset(e, 0, sizeof *e);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    dbconn_options o = {.loop = &e->loop, .execution_policy = policy,
                        .statement_timeout = timeout};
    tu_ok(dbconn_open(&e->db, tu_url(), &o));
    make_table(e->db);
    tu_ok(dbconn_session_open(e->db, &e->s));
}

static void aenv_close(aenv *e) {
    dbconn_session_close(e->s);
    tu_ok(dbconn_close(e->db, NULL));
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

/* The slow statement and one queued behind it; both outcomes checked by
 * the caller after the loop ran. */
static void submit_slow(aenv *e) {
    tu_ok(dbconn_exec_async(e->s, slow_sql(), NULL, 0, tu_on_exec,
                            &e->slow));
    tu_ok(dbconn_exec_async(e->s, "SELECT 1", NULL, 0, tu_on_exec,
                            &e->after));
}

/* Rollback, then the session works again and the committed row is
 * there. */
static void recover_async(aenv *e) {
    tu_ok(dbconn_rollback_async(e->s, tu_on_done, &e->rb));
    tu_ok(dbconn_exec_async(e->s, "SELECT count(*) FROM cn_t", NULL, 0,
                            tu_on_exec, &e->again));
    tu_ok(dbconn_commit_async(e->s, tu_on_done, &e->rb));
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(e->rb.calls, 2);
    assert_int_equal(e->rb.status, 0);
    assert_int_equal(e->again.calls, 1);
    assert_int_equal(e->again.status, 0);
    assert_int_equal(e->again.value, 1);
}

static void each_policy(void (*fn)(int policy)) {
    const int *p = tu_is_sqlite() ? policies_sqlite : policies_pg;
    size_t n = tu_is_sqlite() ? sizeof policies_sqlite / sizeof *p
                              : sizeof policies_pg / sizeof *p;
    for (size_t i = 0; i < n; i++)
        fn(p[i]);
}

static void cancel_async_thread(int policy) {
    aenv e;
    aenv_open(&e, policy, 0);
    submit_slow(&e);
    canceller c;
    canceller_start(&c, e.s);
    double t0 = now_ms();
    /* until the slow op's callback: an inline statement blocks the loop,
     * the thread still reaches it */
    while (e.slow.calls == 0)
        uv_run(&e.loop, UV_RUN_ONCE);
    canceller_stop(&c);
    uv_run(&e.loop, UV_RUN_NOWAIT);
    assert_true(now_ms() - t0 < STOP_BOUND_MS);
    assert_int_equal(e.slow.status, DBCONN_EINTERRUPTED);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.after.calls, 1);
    assert_int_equal(e.after.status, DBCONN_EABORTED);
    recover_async(&e);
    aenv_close(&e);
}

static void test_cancel_async_thread(void **state) {
    (void)state;
    each_policy(cancel_async_thread);
}

/* Another libuv handle's callback cancels (the loop is free while the
 * statement runs: thread pool, or postgresql's loop policy). */
static void on_tick(uv_timer_t *t) {
    aenv *e = t->data;
    e->ticks++;
    assert_int_equal(dbconn_cancel(e->s), 0);
    if (e->slow.calls)
        uv_close((uv_handle_t *)t, NULL);
}

static void cancel_async_timer(int policy) {
    if (policy == DBCONN_EXEC_INLINE)
        return; /* the loop thread runs the statement itself */
    aenv e;
    aenv_open(&e, policy, 0);
    submit_slow(&e);
    assert_int_equal(uv_timer_init(&e.loop, &e.timer), 0);
    e.timer.data = &e;
    assert_int_equal(uv_timer_start(&e.timer, on_tick, 30, 30), 0);
    double t0 = now_ms();
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_true(now_ms() - t0 < STOP_BOUND_MS);
    assert_true(e.ticks >= 1);
    assert_int_equal(e.slow.status, DBCONN_EINTERRUPTED);
    assert_int_equal(e.after.status, DBCONN_EABORTED);
    recover_async(&e);
    aenv_close(&e);
}

static void test_cancel_async_timer(void **state) {
    (void)state;
    each_policy(cancel_async_timer);
}

static void timeout_async(int policy) {
    aenv e;
    aenv_open(&e, policy, 150);
    submit_slow(&e);
    double t0 = now_ms();
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_true(now_ms() - t0 < STOP_BOUND_MS);
    assert_int_equal(e.slow.calls, 1);
    assert_int_equal(e.slow.status, DBCONN_ESTMTTIMEOUT);
    assert_non_null(strstr(dbconn_session_errmsg(e.s), "statement_timeout"));
    assert_int_equal(e.after.status, DBCONN_EABORTED);
    recover_async(&e);
    aenv_close(&e);
}

static void test_timeout_async(void **state) {
    (void)state;
    each_policy(timeout_async);
}

/* A session's own limit, sent with its statements (on postgresql's loop
 * policy: in the pipeline), and lifted again. */
static void timeout_async_session(int policy) {
    aenv e;
    aenv_open(&e, policy, 0);
    tu_ok(dbconn_session_set_statement_timeout(e.s, 150));
    submit_slow(&e);
    double t0 = now_ms();
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_true(now_ms() - t0 < STOP_BOUND_MS);
    assert_int_equal(e.slow.status, DBCONN_ESTMTTIMEOUT);
    assert_int_equal(e.after.status, DBCONN_EABORTED);
    tu_ok(dbconn_session_set_statement_timeout(e.s, -1));
    recover_async(&e);
    tu_rec medium = {0}, done = {0};
    tu_ok(dbconn_exec_async(e.s, medium_sql(), NULL, 0, tu_on_exec,
                            &medium));
    tu_ok(dbconn_commit_async(e.s, tu_on_done, &done));
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(medium.status, 0);
    assert_int_equal(done.status, 0);
    aenv_close(&e);
}

static void test_timeout_async_session(void **state) {
    (void)state;
    each_policy(timeout_async_session);
}

/* An idle cancel between async ops changes nothing. */
static void cancel_async_idle(int policy) {
    aenv e;
    aenv_open(&e, policy, 0);
    assert_int_equal(dbconn_cancel(e.s), 0);
    tu_ok(dbconn_exec_async(e.s, medium_sql(), NULL, 0, tu_on_exec,
                            &e.slow));
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(dbconn_cancel(e.s), 0);
    tu_ok(dbconn_exec_async(e.s, medium_sql(), NULL, 0, tu_on_exec,
                            &e.after));
    tu_ok(dbconn_commit_async(e.s, tu_on_done, &e.rb));
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.slow.status, 0);
    assert_int_equal(e.after.status, 0);
    assert_int_equal(e.rb.status, 0);
    aenv_close(&e);
}

static void test_cancel_async_idle(void **state) {
    (void)state;
    each_policy(cancel_async_idle);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_from_url),
        cmocka_unit_test(test_timeout_option_and_script),
        cmocka_unit_test(test_session_override),
        cmocka_unit_test(test_session_lifts_engine_limit),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_cancel_sync),
        cmocka_unit_test(test_cancel_each),
        cmocka_unit_test(test_cancel_idle),
        cmocka_unit_test(test_cancel_other_session),
        cmocka_unit_test(test_cancel_async_thread),
        cmocka_unit_test(test_cancel_async_timer),
        cmocka_unit_test(test_timeout_async),
        cmocka_unit_test(test_timeout_async_session),
        cmocka_unit_test(test_cancel_async_idle),
    };
    tu_url(); /* exits 77 when the engine's server is missing */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
