/* The async contract, point by point, with a real loop and a real file
 * database: errors never call back, every callback runs once on the loop
 * thread in the submitting task, parameters are copied, results are owned by
 * the callback, failures abort the pipeline until rollback, FIFO per
 * session, one hop for back-to-back work, parallel sessions, parking instead
 * of blocking, close cancels queued work, freeing inside callbacks. */
#include <string.h>

#include "testutil.h"

typedef struct fx {
    uv_loop_t loop;
    const char *dir;
    dbconn *db;
} fx;

static int open_fx(fx *f, const char *query) {
    char url[4400];
    tu_fresh(NULL);
    if (uv_loop_init(&f->loop))
        return -1;
    f->dir = tu_tmpdir();
    snprintf(url, sizeof url, "%s", tu_db_url(f->dir, "a.db", query));
    dbconn_options o = {.loop = &f->loop};
    if (dbconn_open(&f->db, url, &o))
        return -1;
    dbconn_session *s;
    if (dbconn_session_open(f->db, &s) ||
        dbconn_exec(s, tu_ddl("CREATE TABLE t (id INTEGER PRIMARY KEY, v "
                              "TEXT, n INTEGER UNIQUE)"),
                    NULL, 0, NULL) ||
        dbconn_commit(s))
        return -1;
    dbconn_session_close(s);
    return 0;
}

static int setup(void **state) {
    static fx f;
    memset(&f, 0, sizeof f);
    *state = &f;
    return open_fx(&f, NULL);
}

/* Closes the dbconn (if still open), runs the loop dry, and proves nothing
 * was left behind. */
static void close_fx(fx *f) {
    if (f->db)
        assert_int_equal(dbconn_close(f->db, NULL), 0);
    f->db = NULL;
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    tu_rmdir(f->dir);
}

static int teardown(void **state) {
    close_fx(*state);
    return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_errors_never_call_back(void **state) {
    fx *f = *state;
    tu_rec r = {0};
    dbconn_session *s;
    tu_ok(dbconn_session_open(f->db, &s));
    assert_int_equal(dbconn_exec_async(NULL, "SELECT 1", NULL, 0, tu_on_exec, &r),
                     DBCONN_EINVAL);
    assert_int_equal(dbconn_exec_async(s, NULL, NULL, 0, tu_on_exec, &r),
                     DBCONN_EINVAL);
    assert_int_equal(dbconn_exec_async(s, "SELECT ?", NULL, 1, tu_on_exec, &r),
                     DBCONN_EINVAL);
    dbconn_value bad = {.type = 99};
    assert_int_equal(dbconn_exec_async(s, "SELECT ?", &bad, 1, tu_on_exec, &r),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "unknown type"));
    assert_int_equal(dbconn_commit_async(NULL, tu_on_done, &r), DBCONN_EINVAL);
    assert_int_equal(dbconn_init_db_async(NULL, NULL, tu_on_done, &r),
                     DBCONN_EINVAL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 0);
    dbconn_session_close(s);
}

static void test_callback_once_on_loop_thread_never_inline(void **state) {
    fx *f = *state;
    tu_rec r = {0}, c = {0};
    dbconn_session *s;
    tu_ok(dbconn_session_open(f->db, &s));
    tu_ok(dbconn_exec_async(s, "SELECT 42", NULL, 0, tu_on_exec, &r));
    tu_ok(dbconn_commit_async(s, tu_on_done, &c));
    /* never from inside the submitting call */
    assert_int_equal(r.calls, 0);
    assert_int_equal(c.calls, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.value, 42);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, 0);
    uv_thread_t me = uv_thread_self();
    assert_true(uv_thread_equal(&r.thread, &me));
    assert_true(uv_thread_equal(&c.thread, &me));
    /* a commit with nothing open still calls back, in a later turn */
    tu_rec idle = {0};
    tu_ok(dbconn_commit_async(s, tu_on_done, &idle));
    assert_int_equal(idle.calls, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(idle.calls, 1);
    dbconn_session_close(s);
}

static void test_params_copied_at_submission(void **state) {
    fx *f = *state;
    dbconn_session *s;
    tu_rec ins = {0}, sel = {0}, c = {0};
    char text[16] = "original";
    unsigned char blob[4] = {1, 2, 3, 4};
    dbconn_value params[3] = {DBCONN_TEXT(text), DBCONN_INT(7),
                              DBCONN_BLOB(blob, sizeof blob)};
    tu_ok(dbconn_session_open(f->db, &s));
    tu_ok(dbconn_exec_async(s, "INSERT INTO t (v, n) VALUES (?, ?)", params, 2,
                            tu_on_exec, &ins));
    tu_ok(dbconn_exec_async(s, "SELECT v FROM t WHERE n = 7 AND ? IS NOT NULL",
                            &params[2], 1, tu_on_exec, &sel));
    tu_ok(dbconn_commit_async(s, tu_on_done, &c));
    /* the caller reuses everything at once */
    strcpy(text, "CHANGED");
    params[1] = DBCONN_INT(8);
    memset(blob, 0, sizeof blob);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(ins.status, 0);
    assert_int_equal(sel.status, 0);
    assert_string_equal(sel.text, "original");
    assert_int_equal(c.status, 0);
    assert_int_equal(tu_count_rows(f->db, "t", "n = 7 AND v = 'original'"), 1);
    dbconn_session_close(s);
}

/* The SQL text is copied too, and a reused SQL buffer runs its new text
 * (the statement cache keys its fast path on the caller's pointer, but
 * always compares the text). */
static void test_sql_copied_and_buffer_reuse_runs_new_text(void **state) {
    fx *f = *state;
    dbconn_session *s;
    static const int want[] = {10, 10, 11, 10};
    tu_rec r[4] = {{0}};
    char sql[64];
    tu_ok(dbconn_session_open(f->db, &s));
    dbconn_stats st0, st;
    tu_ok(dbconn_pool_stats(f->db, &st0));
    for (int i = 0; i < 4; i++) {
        /* the same buffer each time: a cache hit remembers its address */
        snprintf(sql, sizeof sql, "SELECT %d", want[i]);
        tu_ok(dbconn_exec_async(s, sql, NULL, 0, tu_on_exec, &r[i]));
        strcpy(sql, "garbage that is not SQL");
        uv_run(&f->loop, UV_RUN_DEFAULT);
        assert_int_equal(r[i].status, 0);
        assert_int_equal(r[i].value, want[i]);
    }
    tu_ok(dbconn_pool_stats(f->db, &st));
    assert_int_equal(st.cache_misses - st0.cache_misses, 2); /* two texts */
    assert_int_equal(st.cache_hits - st0.cache_hits, 2);
    tu_ok(dbconn_rollback(s));
    dbconn_session_close(s);
}

static void test_result_owned_null_on_failure(void **state) {
    fx *f = *state;
    dbconn_session *s;
    tu_rec bad = {0}, rb = {0};
    tu_ok(dbconn_session_open(f->db, &s));
    tu_ok(dbconn_exec_async(s, "SELECT * FROM nope", NULL, 0, tu_on_exec, &bad));
    tu_ok(dbconn_rollback_async(s, tu_on_done, &rb));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(bad.status, DBCONN_EDB);
    assert_false(bad.had_result);
    assert_int_equal(rb.status, 0);
    assert_non_null(strstr(dbconn_session_errmsg(s),
                           tu_is_sqlite() ? "no such table: nope"
                                          : "relation \"nope\" does not exist"));
    dbconn_session_close(s);
}

typedef struct errmsg_probe {
    int status;
    char msg[256];
} errmsg_probe;

static void on_exec_msg(int status, dbconn_result *res, void *data) {
    errmsg_probe *p = data;
    p->status = status;
    snprintf(p->msg, sizeof p->msg, "%s", dbconn_errmsg(NULL));
    dbconn_result_free(res);
}

static void test_failure_aborts_pipeline_until_rollback(void **state) {
    fx *f = *state;
    dbconn_session *s;
    tu_rec a = {0}, b = {0}, c = {0}, rb = {0}, d = {0}, e = {0};
    errmsg_probe p = {0};
    tu_ok(dbconn_session_open(f->db, &s));
    tu_ok(dbconn_exec_async(s, "INSERT INTO t (v, n) VALUES ('a', 1)", NULL, 0,
                            tu_on_exec, &a));
    tu_ok(dbconn_exec_async(s, "INSERT INTO t (v, n) VALUES ('dup', 1)", NULL, 0,
                            on_exec_msg, &p));
    tu_ok(dbconn_exec_async(s, "INSERT INTO t (v, n) VALUES ('b', 2)", NULL, 0,
                            tu_on_exec, &b));
    tu_ok(dbconn_commit_async(s, tu_on_done, &c));
    tu_ok(dbconn_rollback_async(s, tu_on_done, &rb));
    tu_ok(dbconn_exec_async(s, "INSERT INTO t (v, n) VALUES ('d', 4)", NULL, 0,
                            tu_on_exec, &d));
    tu_ok(dbconn_commit_async(s, tu_on_done, &e));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(a.status, 0);
    assert_int_equal(p.status, DBCONN_ECONSTRAINT);
    /* dbconn_errmsg in callback */
    assert_non_null(strstr(p.msg, tu_is_sqlite() ? "UNIQUE"
                                                 : "unique constraint"));
    assert_int_equal(b.status, DBCONN_EABORTED);
    assert_int_equal(c.status, DBCONN_EABORTED);
    assert_int_equal(rb.status, 0);
    assert_int_equal(d.status, 0);
    assert_int_equal(e.status, 0);
    assert_int_equal(tu_count_rows(f->db, "t", NULL), 1); /* only 'd' */
    assert_int_equal(tu_count_rows(f->db, "t", "v = 'd'"), 1);
    dbconn_session_close(s);
}

static void test_fifo_and_one_hop_for_back_to_back(void **state) {
    fx *f = *state;
    dbconn_session *s;
    tu_rec r[20] = {{0}}, c = {0};
    dbconn_stats before, after;
    tu_ok(dbconn_session_open(f->db, &s));
    tu_ok(dbconn_pool_stats(f->db, &before));
    for (int i = 0; i < 20; i++)
        tu_ok(dbconn_exec_async(s, "INSERT INTO t (v, n) VALUES ('x', ?)",
                                DBCONN_PARAMS(DBCONN_INT(100 + i)), tu_on_exec,
                                &r[i]));
    tu_ok(dbconn_commit_async(s, tu_on_done, &c));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    tu_ok(dbconn_pool_stats(f->db, &after));
    for (int i = 0; i < 20; i++) {
        assert_int_equal(r[i].status, 0);
        if (i)
            assert_true(r[i].order == r[i - 1].order + 1);
    }
    assert_true(c.order == r[19].order + 1);
    /* 21 operations submitted back to back: one thread-pool hop (none on
     * PostgreSQL's loop policy: sent from the loop, pipelined) */
    assert_int_equal(after.async_jobs - before.async_jobs,
                     tu_is_sqlite() ? 1 : 0);
    assert_int_equal(tu_count_rows(f->db, "t", "n >= 100"), 20);
    dbconn_session_close(s);
}

/* Two sessions each run a slow statement: both are in flight at once, on
 * different pooled connections. */
static void test_sessions_run_in_parallel(void **state) {
    fx *f = *state;
    dbconn_session *a, *b;
    tu_rec ra = {0}, rb = {0};
    const char *slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                       "FROM n WHERE i < 300000) SELECT count(*) FROM n";
    tu_ok(dbconn_session_open(f->db, &a));
    tu_ok(dbconn_session_open(f->db, &b));
    tu_ok(dbconn_exec_async(a, slow, NULL, 0, tu_on_exec, &ra));
    tu_ok(dbconn_exec_async(b, slow, NULL, 0, tu_on_exec, &rb));
    dbconn_stats st;
    uv_run(&f->loop, UV_RUN_NOWAIT); /* the jobs start this turn */
    tu_ok(dbconn_pool_stats(f->db, &st));
    assert_int_equal(st.checked_out, 2); /* one connection each */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(ra.value, 300000);
    assert_int_equal(rb.value, 300000);
    tu_ok(dbconn_pool_stats(f->db, &st));
    /* two jobs on the thread pool at once; PostgreSQL's loop policy sends
     * both from the loop (in flight together: checked_out above) */
    if (tu_is_sqlite())
        assert_true(st.async_peak >= 2);
    dbconn_session_close(a);
    dbconn_session_close(b);
}

/* ---- parking ------------------------------------------------------------ */

typedef struct ticker {
    uv_timer_t t;
    int ticks;
} ticker;

static void on_tick(uv_timer_t *t) { ((ticker *)(void *)t)->ticks++; }

static void test_pool_wait_parks_not_blocks(void **state) {
    (void)state;
    fx f = {0};
    assert_int_equal(open_fx(&f, "?pool_size=1&max_overflow=0"), 0);
    dbconn_session *a, *b;
    tu_rec ra = {0}, rb = {0}, ca = {0}, cb = {0};
    tu_ok(dbconn_session_open(f.db, &a));
    tu_ok(dbconn_session_open(f.db, &b));
    /* a holds the only connection (open transaction) */
    tu_ok(dbconn_exec_async(a, "INSERT INTO t (v, n) VALUES ('a', 1)", NULL, 0,
                            tu_on_exec, &ra));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(ra.status, 0);
    assert_true(dbconn_in_transaction(a));
    /* b must wait: it parks; the loop keeps running timers meanwhile */
    tu_ok(dbconn_exec_async(b, "INSERT INTO t (v, n) VALUES ('b', 2)", NULL, 0,
                            tu_on_exec, &rb));
    tu_ok(dbconn_commit_async(b, tu_on_done, &cb));
    ticker tk = {.ticks = 0};
    uv_timer_init(&f.loop, &tk.t);
    uv_timer_start(&tk.t, on_tick, 5, 5);
    for (int i = 0; i < 10; i++)
        uv_run(&f.loop, UV_RUN_ONCE);
    assert_true(tk.ticks >= 5);
    assert_int_equal(rb.calls, 0);
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(f.db, &st));
    assert_int_equal(st.waiters, 1);
    uv_close((uv_handle_t *)&tk.t, NULL);
    /* a's commit hands the connection over */
    tu_ok(dbconn_commit_async(a, tu_on_done, &ca));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(ca.status, 0);
    assert_int_equal(rb.status, 0);
    assert_int_equal(cb.status, 0);
    assert_true(cb.order > ca.order);
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 2);
    dbconn_session_close(a);
    dbconn_session_close(b);
    close_fx(&f);
}

static void test_pool_wait_times_out(void **state) {
    (void)state;
    fx f = {0};
    assert_int_equal(open_fx(&f, "?pool_size=1&max_overflow=0&"
                                 "pool_timeout_ms=60"),
                     0);
    dbconn_session *a, *b;
    tu_rec ra = {0}, rb = {0}, cb2 = {0}, rbb = {0};
    tu_ok(dbconn_session_open(f.db, &a));
    tu_ok(dbconn_session_open(f.db, &b));
    tu_ok(dbconn_exec_async(a, "SELECT 1", NULL, 0, tu_on_exec, &ra));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    uint64_t t0 = uv_hrtime();
    tu_ok(dbconn_exec_async(b, "SELECT 2", NULL, 0, tu_on_exec, &rb));
    tu_ok(dbconn_commit_async(b, tu_on_done, &cb2));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(rb.status, DBCONN_ETIMEOUT);
    assert_true(uv_hrtime() - t0 >= 55 * 1000000ull);
    assert_int_equal(cb2.status, DBCONN_EABORTED);
    tu_ok(dbconn_rollback_async(b, tu_on_done, &rbb));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(rbb.status, 0);
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(f.db, &st));
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.waiters, 0);
    tu_ok(dbconn_rollback(a));
    dbconn_session_close(a);
    dbconn_session_close(b);
    close_fx(&f);
}

static void test_gate_wait_parks_then_runs(void **state) {
    fx *f = *state;
    dbconn_session *a, *b;
    tu_rec ra = {0}, rb = {0}, ca = {0}, cb = {0};
    tu_ok(dbconn_session_open(f->db, &a));
    tu_ok(dbconn_session_open(f->db, &b));
    tu_ok(dbconn_exec_async(a, "INSERT INTO t (v, n) VALUES ('a', 1)", NULL, 0,
                            tu_on_exec, &ra));
    uv_run(&f->loop, UV_RUN_DEFAULT); /* a holds the write gate */
    tu_ok(dbconn_exec_async(b, "INSERT INTO t (v, n) VALUES ('b', 2)", NULL, 0,
                            tu_on_exec, &rb));
    tu_ok(dbconn_commit_async(b, tu_on_done, &cb));
    if (!tu_is_sqlite()) {
        /* PostgreSQL has no write gate: b's write and commit go through
         * while a's transaction is open */
        uv_run(&f->loop, UV_RUN_DEFAULT);
        assert_int_equal(rb.status, 0);
        assert_int_equal(cb.status, 0);
        dbconn_stats st;
        tu_ok(dbconn_pool_stats(f->db, &st));
        assert_int_equal(st.gate_waits, 0);
        tu_ok(dbconn_commit_async(a, tu_on_done, &ca));
        uv_run(&f->loop, UV_RUN_DEFAULT);
        assert_int_equal(ca.status, 0);
        assert_true(rb.order < ca.order);
        assert_int_equal(tu_count_rows(f->db, "t", NULL), 2);
        dbconn_session_close(a);
        dbconn_session_close(b);
        return;
    }
    /* b's job finds the gate taken and parks (the loop is never blocked) */
    dbconn_stats st = tu_run_until_gate_waits(&f->loop, f->db, 1);
    assert_int_equal(st.gate_waits, 1);
    assert_int_equal(rb.calls, 0);
    tu_ok(dbconn_commit_async(a, tu_on_done, &ca));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(rb.status, 0);
    assert_int_equal(cb.status, 0);
    assert_true(rb.order > ca.order);
    tu_ok(dbconn_pool_stats(f->db, &st));
    assert_int_equal(st.busy_handler_calls, 0);
    dbconn_session_close(a);
    dbconn_session_close(b);
}

static void test_gate_wait_times_out_ebusy(void **state) {
    (void)state;
    fx f = {0};
    assert_int_equal(open_fx(&f, "?busy_timeout_ms=50"), 0);
    dbconn_session *a, *b;
    tu_rec ra = {0}, rb = {0}, rbb = {0};
    tu_ok(dbconn_session_open(f.db, &a));
    tu_ok(dbconn_session_open(f.db, &b));
    tu_ok(dbconn_exec_async(a, "INSERT INTO t (v, n) VALUES ('a', 1)", NULL, 0,
                            tu_on_exec, &ra));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    /* SQLite: b waits for the write gate a holds.  PostgreSQL has none: b
     * waits for a's row lock instead (the same key), for lock_timeout --
     * which busy_timeout_ms sets -- and fails with SQLSTATE 55P03. */
    tu_ok(dbconn_exec_async(b,
                            tu_is_sqlite()
                                ? "INSERT INTO t (v, n) VALUES ('b', 2)"
                                : "INSERT INTO t (v, n) VALUES ('b', 1)",
                            NULL, 0, tu_on_exec, &rb));
    tu_ok(dbconn_rollback_async(b, tu_on_done, &rbb));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(rb.status, DBCONN_EBUSY);
    assert_non_null(strstr(dbconn_session_errmsg(b), "busy_timeout_ms"));
    assert_int_equal(rbb.status, 0);
    tu_ok(dbconn_rollback(a));
    dbconn_session_close(a);
    dbconn_session_close(b);
    close_fx(&f);
}

/* In memory (no WAL) an open read transaction makes a commit wait: the
 * async layer waits on its timer, never in SQLite's busy handler inside a
 * worker or the loop thread, and the commit goes through once the reader
 * is done -- or fails with EBUSY after busy_timeout_ms. */
static void memdb_commit_waits_for_reader(int policy, bool reader_finishes) {
    uv_loop_t loop;
    dbconn *db;
    dbconn_session *reader, *writer;
    tu_rec ins = {0}, com = {0}, rb = {0};
    assert_int_equal(uv_loop_init(&loop), 0);
    dbconn_options o = {.loop = &loop, .busy_timeout_ms = 300,
                        .execution_policy = policy};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_session_open(db, &reader));
    tu_ok(dbconn_session_open(db, &writer));
    tu_ok(dbconn_exec(writer, "CREATE TABLE m (x)", NULL, 0, NULL));
    tu_ok(dbconn_commit(writer));
    tu_ok(dbconn_exec(reader, "SELECT count(*) FROM m", NULL, 0, NULL));
    tu_ok(dbconn_exec_async(writer, "INSERT INTO m VALUES (1)", NULL, 0,
                            tu_on_exec, &ins));
    tu_ok(dbconn_commit_async(writer, tu_on_done, &com));
    ticker tk = {.ticks = 0};
    uv_timer_init(&loop, &tk.t);
    uv_timer_start(&tk.t, on_tick, 5, 5);
    uint64_t t0 = uv_hrtime();
    while (uv_hrtime() - t0 < 100 * 1000000ull && !com.calls)
        uv_run(&loop, UV_RUN_ONCE);
    /* 100 ms in: the commit is still waiting and the loop kept running */
    assert_int_equal(ins.status, 0);
    assert_int_equal(com.calls, 0);
    assert_true(tk.ticks >= 10);
    /* the commit was tried, given up and tried again in new jobs: no job
     * sat in SQLite's busy handler */
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    assert_true(st.async_jobs >= 3);
    assert_true(st.busy_handler_calls >= 2);
    if (reader_finishes)
        tu_ok(dbconn_commit(reader));
    while (!com.calls)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tk.t, NULL);
    if (reader_finishes) {
        assert_int_equal(com.status, 0);
    } else {
        assert_int_equal(com.status, DBCONN_EBUSY);
        assert_true(uv_hrtime() - t0 >= 290 * 1000000ull);
        assert_non_null(strstr(dbconn_session_errmsg(writer), "locked"));
        tu_ok(dbconn_rollback_async(writer, tu_on_done, &rb));
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(rb.status, 0);
        tu_ok(dbconn_commit(reader));
    }
    dbconn_session_close(reader);
    dbconn_session_close(writer);
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_memdb_lock_waits_on_timer_threadpool(void **state) {
    (void)state;
    if (!tu_is_sqlite())
        skip(); /* SQLite's in-memory database locks */
    memdb_commit_waits_for_reader(DBCONN_EXEC_THREADPOOL, true);
    memdb_commit_waits_for_reader(DBCONN_EXEC_THREADPOOL, false);
}

static void test_memdb_lock_waits_on_timer_inline(void **state) {
    (void)state;
    if (!tu_is_sqlite())
        skip(); /* SQLite's in-memory database locks */
    memdb_commit_waits_for_reader(DBCONN_EXEC_INLINE, true);
    memdb_commit_waits_for_reader(DBCONN_EXEC_INLINE, false);
}

/* ---- tasks -------------------------------------------------------------- */

typedef struct task_probe {
    dbconn *db;
    dbconn_session *expect;
    void *task_seen;
    dbconn_session *scoped_seen;
} task_probe;

static void on_task_exec(int status, dbconn_result *res, void *data) {
    task_probe *p = data;
    (void)status;
    dbconn_result_free(res);
    p->task_seen = dbconn_current_task();
    dbconn_scoped_session(p->db, &p->scoped_seen);
}

static void test_callback_runs_in_submitting_task(void **state) {
    fx *f = *state;
    static char task_a, task_b;
    task_probe pa = {.db = f->db}, pb = {.db = f->db};
    void *prev = dbconn_task_enter(&task_a);
    tu_ok(dbconn_scoped_session(f->db, &pa.expect));
    tu_ok(dbconn_exec_async(pa.expect, "SELECT 1", NULL, 0, on_task_exec, &pa));
    dbconn_task_leave(prev);
    prev = dbconn_task_enter(&task_b);
    tu_ok(dbconn_scoped_session(f->db, &pb.expect));
    tu_ok(dbconn_exec_async(pb.expect, "SELECT 1", NULL, 0, on_task_exec, &pb));
    dbconn_task_leave(prev);
    void *loop_task = dbconn_current_task();
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_ptr_equal(pa.task_seen, &task_a);
    assert_ptr_equal(pb.task_seen, &task_b);
    assert_ptr_equal(pa.scoped_seen, pa.expect);
    assert_ptr_equal(pb.scoped_seen, pb.expect);
    assert_ptr_not_equal(pa.expect, pb.expect);
    assert_ptr_equal(dbconn_current_task(), loop_task); /* restored */
    tu_ok(dbconn_scoped_remove_key(f->db, &task_a));
    tu_ok(dbconn_scoped_remove_key(f->db, &task_b));
}

/* ---- close and freeing -------------------------------------------------- */

static void test_close_cancels_queued_inflight_completes(void **state) {
    fx *f = *state;
    dbconn_session *a, *b;
    tu_rec ra = {0}, ra2 = {0}, rb = {0}, rb2 = {0};
    tu_ok(dbconn_session_open(f->db, &a));
    tu_ok(dbconn_session_open(f->db, &b));
    /* a's job is in flight; b waits at the gate (queued) */
    tu_ok(dbconn_exec_async(a, "INSERT INTO t (v, n) VALUES ('a', 1)", NULL, 0,
                            tu_on_exec, &ra));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    tu_ok(dbconn_exec_async(b, "INSERT INTO t (v, n) VALUES ('b', 2)", NULL, 0,
                            tu_on_exec, &rb));
    tu_ok(dbconn_exec_async(b, "SELECT 1", NULL, 0, tu_on_exec, &rb2));
    tu_ok(dbconn_exec_async(a, "INSERT INTO t (v, n) VALUES ('a2', 3)", NULL, 0,
                            tu_on_exec, &ra2));
    assert_int_equal(dbconn_close(f->db, NULL), 0);
    f->db = NULL;
    /* nothing is called from inside dbconn_close */
    assert_int_equal(rb.calls + rb2.calls, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(rb.status, DBCONN_ECANCELED);
    assert_int_equal(rb2.status, DBCONN_ECANCELED);
    assert_int_equal(rb.calls + rb2.calls + ra2.calls, 3);
    /* the sessions are closed now; their owner frees them */
    assert_int_equal(dbconn_exec_async(a, "SELECT 1", NULL, 0, tu_on_exec, &ra),
                     DBCONN_ECLOSED);
    dbconn_session_close(a);
    dbconn_session_close(b);
}

/* Closing with jobs in flight on open sessions: they complete, their
 * callbacks run, then everything is released. */
static void test_close_with_jobs_in_flight(void **state) {
    fx *f = *state;
    dbconn_session *a, *b;
    tu_rec ra = {0}, rb = {0};
    const char *slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                       "FROM n WHERE i < 200000) SELECT count(*) FROM n";
    tu_ok(dbconn_session_open(f->db, &a));
    tu_ok(dbconn_session_open(f->db, &b));
    tu_ok(dbconn_exec_async(a, slow, NULL, 0, tu_on_exec, &ra));
    tu_ok(dbconn_exec_async(b, slow, NULL, 0, tu_on_exec, &rb));
    uv_run(&f->loop, UV_RUN_NOWAIT); /* both in flight */
    assert_int_equal(dbconn_close(f->db, NULL), 0);
    f->db = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(ra.calls, 1);
    assert_int_equal(rb.calls, 1);
    assert_int_equal(ra.value, 200000); /* in-flight work completed */
    dbconn_session_close(a);
    dbconn_session_close(b);
}

typedef struct closer {
    dbconn_session *s;
    dbconn *db;
    int calls;
} closer;

static void close_session_in_cb(int status, dbconn_result *res, void *data) {
    closer *c = data;
    (void)status;
    dbconn_result_free(res);
    c->calls++;
    dbconn_session_close(c->s); /* safe inside its own callback */
}

static void close_db_in_cb(int status, void *data) {
    closer *c = data;
    (void)status;
    c->calls++;
    assert_int_equal(dbconn_close(c->db, NULL), 0);
}

static void test_free_and_close_inside_callbacks(void **state) {
    fx *f = *state;
    dbconn_session *s, *t;
    closer c1 = {0}, c2 = {0};
    tu_rec after = {0};
    tu_ok(dbconn_session_open(f->db, &s));
    c1.s = s;
    tu_ok(dbconn_exec_async(s, "SELECT 1", NULL, 0, close_session_in_cb, &c1));
    tu_ok(dbconn_exec_async(s, "SELECT 2", NULL, 0, tu_on_exec, &after));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(c1.calls, 1);
    assert_int_equal(after.calls, 1); /* ran in the same hop, before the close */
    tu_ok(dbconn_session_open(f->db, &t));
    c2.db = f->db;
    tu_ok(dbconn_commit_async(t, close_db_in_cb, &c2));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(c2.calls, 1);
    f->db = NULL;
    dbconn_session_close(t);
}

typedef struct close_probe {
    int calls;
    int status;
} close_probe;

static void on_closed(int status, void *data) {
    close_probe *p = data;
    p->calls++;
    p->status = status;
}

static void test_init_db_async_and_close_async(void **state) {
    fx *f = *state;
    static const dbconn_column cols[] = {
        {.name = "id", .type = DBCONN_TYPE_INTEGER,
         .flags = DBCONN_PRIMARY_KEY},
        {.name = "name", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
         .offset = 8},
    };
    static const dbconn_model m = {.table = "people", .columns = cols,
                                   .ncolumns = 2, .struct_size = 16};
    dbconn_base *base;
    tu_ok(dbconn_base_new(&base));
    tu_ok(dbconn_base_add(base, &m));
    tu_rec r = {0};
    tu_ok(dbconn_init_db_async(f->db, base, tu_on_done, &r));
    assert_null(dbconn_base_bound(base)); /* bound just before the callback */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.status, 0);
    assert_ptr_equal(dbconn_base_bound(base), f->db);
    dbconn_session *s;
    tu_ok(dbconn_base_session(base, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO people (name) VALUES ('ann')", NULL, 0,
                      NULL));
    tu_ok(dbconn_commit(s));
    close_probe cp = {0};
    tu_ok(dbconn_close_async(f->db, base, on_closed, &cp));
    assert_int_equal(cp.calls, 0);
    f->db = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(cp.calls, 1);
    assert_int_equal(cp.status, 0);
    assert_null(dbconn_base_bound(base));
    assert_int_equal(dbconn_base_free(base), 0);
}

static void test_init_db_async_failure_creates_nothing(void **state) {
    fx *f = *state;
    static const dbconn_column ok_cols[] = {
        {.name = "id", .type = DBCONN_TYPE_INTEGER,
         .flags = DBCONN_PRIMARY_KEY},
    };
    static const dbconn_column bad_cols[] = {
        {.name = "id", .type = DBCONN_TYPE_INTEGER,
         .flags = DBCONN_PRIMARY_KEY},
        {.name = "x", .type = DBCONN_TYPE_INTEGER, .default_sql = "nonsense(",
         .offset = 8},
    };
    static const dbconn_model m1 = {.table = "first", .columns = ok_cols,
                                    .ncolumns = 1, .struct_size = 8};
    static const dbconn_model m2 = {.table = "second", .columns = bad_cols,
                                    .ncolumns = 2, .struct_size = 16};
    dbconn_base *base;
    tu_ok(dbconn_base_new(&base));
    tu_ok(dbconn_base_add(base, &m1));
    tu_ok(dbconn_base_add(base, &m2));
    errmsg_probe p = {0};
    tu_rec r = {0};
    tu_ok(dbconn_init_db_async(f->db, base, tu_on_done, &r));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.status, DBCONN_EDB);
    (void)p;
    assert_null(dbconn_base_bound(base));
    dbconn_session *s;
    dbconn_result *res;
    tu_ok(dbconn_session_open(f->db, &s));
    tu_ok(dbconn_exec(s,
                      tu_is_sqlite()
                          ? "SELECT count(*) FROM sqlite_master WHERE name IN "
                            "('first', 'second')"
                          : "SELECT count(*) FROM information_schema.tables "
                            "WHERE table_schema = current_schema() AND "
                            "table_name IN ('first', 'second')",
                      NULL, 0, &res));
    assert_int_equal(dbconn_result_int(res, 0, 0), 0);
    dbconn_result_free(res);
    dbconn_session_close(s);
    assert_int_equal(dbconn_base_free(base), 0);
}

static void test_sync_call_on_busy_session_is_einval(void **state) {
    fx *f = *state;
    dbconn_session *s;
    tu_rec r = {0};
    tu_ok(dbconn_session_open(f->db, &s));
    tu_ok(dbconn_exec_async(s, "SELECT 1", NULL, 0, tu_on_exec, &r));
    assert_int_equal(dbconn_exec(s, "SELECT 1", NULL, 0, NULL), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "async"));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.status, 0);
    tu_ok(dbconn_commit(s)); /* idle again: sync use is fine */
    dbconn_session_close(s);
}

static void test_inline_policy_defers_callbacks(void **state) {
    (void)state;
    fx f = {0};
    assert_int_equal(open_fx(&f, "?execution_policy=inline"), 0);
    dbconn_session *s;
    tu_rec r = {0}, c = {0};
    tu_ok(dbconn_session_open(f.db, &s));
    tu_ok(dbconn_exec_async(s, "INSERT INTO t (v, n) VALUES ('i', 1)", NULL, 0,
                            tu_on_exec, &r));
    tu_ok(dbconn_commit_async(s, tu_on_done, &c));
    assert_int_equal(r.calls + c.calls, 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(r.status, 0);
    assert_int_equal(c.status, 0);
    uv_thread_t me = uv_thread_self();
    assert_true(uv_thread_equal(&r.thread, &me));
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 1);
    dbconn_session_close(s);
    close_fx(&f);
}

/* Inline policy, one pooled connection, two awaiting sessions: the first
 * session's commit (run inline, on the loop thread) hands the connection
 * over quietly to the parked second one, and the loop must start it.  It
 * used to stop its idle phase with the grant unseen: the program hung
 * until pool_timeout_ms failed the second session. */
typedef struct chain2 {
    dbconn_session *s;
    int step, fails, done;
    int n;
} chain2;

static void chain2_next(chain2 *c);

static void chain2_exec(int status, dbconn_result *res, void *data) {
    chain2 *c = data;
    if (status)
        c->fails++;
    dbconn_result_free(res);
    chain2_next(c);
}

static void chain2_commit(int status, void *data) {
    chain2 *c = data;
    if (status)
        c->fails++;
    c->done = 1;
}

static void chain2_next(chain2 *c) {
    int step = c->step++;
    int rc;
    if (step == 0)
        rc = dbconn_exec_async(c->s, "INSERT INTO t (v, n) VALUES ('c', ?)",
                               DBCONN_PARAMS(DBCONN_INT(c->n)), chain2_exec,
                               c);
    else if (step == 1)
        rc = dbconn_exec_async(c->s, "SELECT v FROM t WHERE n = ?",
                               DBCONN_PARAMS(DBCONN_INT(c->n)), chain2_exec,
                               c);
    else
        rc = dbconn_commit_async(c->s, chain2_commit, c);
    if (rc)
        c->fails++;
}

static void test_inline_policy_hands_connection_to_waiter(void **state) {
    (void)state;
    fx f = {0};
    assert_int_equal(
        open_fx(&f, "?execution_policy=inline&pool_size=1&max_overflow=0"
                    "&pool_timeout=2"),
        0);
    chain2 c[2] = {{.n = 1}, {.n = 2}};
    for (int i = 0; i < 2; i++) {
        tu_ok(dbconn_session_open(f.db, &c[i].s));
        chain2_next(&c[i]);
    }
    uint64_t t0 = uv_hrtime();
    uv_run(&f.loop, UV_RUN_DEFAULT);
    /* well under pool_timeout: the wait ended by the hand-over */
    assert_true(uv_hrtime() - t0 < 1000000000u);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(c[i].fails, 0);
        assert_int_equal(c[i].done, 1);
        dbconn_session_close(c[i].s);
    }
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 2);
    close_fx(&f);
}

/* ---- stress: 1000 tasks, 4 pooled connections ----------------------------- */

typedef struct task {
    dbconn *db;
    dbconn_session *s;
    int id;
    int step;
    int failures;
    int *done;
} task;

static void task_next(task *t);

static void task_exec_cb(int status, dbconn_result *res, void *data) {
    task *t = data;
    if (status != 0)
        t->failures++;
    if (t->step == 1 && res &&
        (dbconn_result_nrows(res) != 1 || dbconn_result_int(res, 0, 0) != t->id))
        t->failures++;
    dbconn_result_free(res);
    t->step++;
}

static void task_commit_cb(int status, void *data) {
    task *t = data;
    if (status != 0)
        t->failures++;
    /* this callback runs in the task: its scoped session is found again */
    dbconn_session *again;
    if (dbconn_scoped_session(t->db, &again) || again != t->s)
        t->failures++;
    dbconn_scoped_remove_key(t->db, t);
    (*t->done)++;
}

static void task_next(task *t) {
    void *prev = dbconn_task_enter(t);
    if (dbconn_scoped_session(t->db, &t->s) ||
        dbconn_exec_async(t->s, "INSERT INTO t (v, n) VALUES ('task', ?)",
                          DBCONN_PARAMS(DBCONN_INT(t->id)), task_exec_cb, t) ||
        dbconn_exec_async(t->s, "SELECT n FROM t WHERE n = ?",
                          DBCONN_PARAMS(DBCONN_INT(t->id)), task_exec_cb, t) ||
        dbconn_commit_async(t->s, task_commit_cb, t))
        t->failures++;
    dbconn_task_leave(prev);
}

static void test_stress_1000_tasks(void **state) {
    (void)state;
    fx f = {0};
    assert_int_equal(open_fx(&f, "?pool_size=4&max_overflow=0"), 0);
    enum { N = 1000 };
    static task tasks[N];
    int done = 0;
    for (int i = 0; i < N; i++) {
        tasks[i] = (task){.db = f.db, .id = 10000 + i, .done = &done};
        task_next(&tasks[i]);
    }
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(done, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(tasks[i].failures, 0);
        assert_int_equal(tasks[i].step, 2);
    }
    assert_int_equal(dbconn_scoped_count(f.db), 0);
    assert_int_equal(tu_count_rows(f.db, "t", "v = 'task'"), N);
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(f.db, &st));
    assert_true(st.async_peak <= 4); /* jobs in flight <= thread-pool size */
    assert_true(st.size <= 4);
    assert_int_equal(st.busy_handler_calls, 0);
    close_fx(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_errors_never_call_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_callback_once_on_loop_thread_never_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_copied_at_submission, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_sql_copied_and_buffer_reuse_runs_new_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_owned_null_on_failure,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_failure_aborts_pipeline_until_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_and_one_hop_for_back_to_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions_run_in_parallel, setup,
                                        teardown),
        tu_test(test_pool_wait_parks_not_blocks),
        tu_test(test_pool_wait_times_out),
        cmocka_unit_test_setup_teardown(test_gate_wait_parks_then_runs, setup,
                                        teardown),
        tu_test(test_gate_wait_times_out_ebusy),
        tu_test(test_memdb_lock_waits_on_timer_threadpool),
        tu_test(test_memdb_lock_waits_on_timer_inline),
        cmocka_unit_test_setup_teardown(test_callback_runs_in_submitting_task,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_close_cancels_queued_inflight_completes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_jobs_in_flight, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_and_close_inside_callbacks,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_db_async_and_close_async,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_init_db_async_failure_creates_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_call_on_busy_session_is_einval,
                                        setup, teardown),
        tu_test(test_inline_policy_defers_callbacks),
        tu_test(test_inline_policy_hands_connection_to_waiter),
        tu_test(test_stress_1000_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
