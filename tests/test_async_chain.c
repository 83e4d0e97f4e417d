/* Chaining: a worker whose commit releases the write gate to a parked
 * writer runs that writer's queue itself (src/async_run.c).  These tests
 * prove that it happens, that the chained session keeps every contract of
 * a job of its own (order, loop-thread callbacks in the submitting task,
 * one callback per op), and that the loop's other ways of touching a parked
 * session -- closing it, closing the dbconn, its wait timing out -- are safe
 * while a worker runs it.
 *
 * A chain is made deterministic like this: session a takes the write gate
 * (an awaited INSERT), session b queues its writes and parks for the gate,
 * then a commits.  a's job releases the gate quietly (no wake-up of the
 * loop), so nobody but that worker can pick b's grant up.  A slow read in
 * b's queue keeps the chained run going while the loop delivers a's
 * callbacks, which is where the tests interfere.
 *
 * SQLite only (not in DBCONN_BOTH_ENGINES): chaining exists only for a
 * session parked on the write gate, which a server has not (its writers
 * take row locks), so every case but the last has nothing to set up there;
 * the last one's many writers on a small pool run on both engines in
 * test_async's test_stress_1000_tasks. */
#include <string.h>

#include "testutil.h"

typedef struct fx {
    uv_loop_t loop;
    const char *dir;
    dbconn *db;
    dbconn_session *a, *b;
} fx;

static void open_fx(fx *f, const char *query) {
    char url[4400];
    memset(f, 0, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->dir = tu_tmpdir();
    snprintf(url, sizeof url, "%s%s", tu_file_url(f->dir, "c.db"),
             query ? query : "");
    tu_open_on_loop_with_t(&f->loop, url, &f->db);
    tu_ok(dbconn_session_open(f->db, &f->a));
    tu_ok(dbconn_session_open(f->db, &f->b));
}

static void close_fx(fx *f) {
    if (f->a)
        dbconn_session_close(f->a);
    if (f->b)
        dbconn_session_close(f->b);
    if (f->db)
        assert_int_equal(dbconn_close(f->db, NULL), 0);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    tu_rmdir(f->dir);
}

/* Each of n recorders was called once, with status 0. */
static void all_once_ok(const tu_rec *r, int n) {
    for (int i = 0; i < n; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, 0);
    }
}

static dbconn_stats stats(dbconn *db) {
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    return st;
}

/* a takes the gate with an awaited INSERT; b's queue (submitted from inside
 * task b_task) parks for the gate.  Returns when b is parked. */
static void a_holds_gate_b_parks(fx *f, void *b_task, bool slow, tu_rec *ra,
                                 tu_rec rb[3]) {
    tu_ok(dbconn_exec_async(f->a, "INSERT INTO t (v) VALUES ('a')", NULL, 0,
                            tu_on_exec, ra));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(ra->status, 0);
    void *prev = dbconn_task_enter(b_task);
    tu_ok(dbconn_exec_async(f->b, "INSERT INTO t (v) VALUES ('b')", NULL, 0,
                            tu_on_exec, &rb[0]));
    tu_ok(dbconn_exec_async(f->b, slow ? TU_SLOW_SQL : "SELECT count(*) FROM t",
                            NULL, 0, tu_on_exec, &rb[1]));
    tu_ok(dbconn_commit_async(f->b, tu_on_done, &rb[2]));
    dbconn_task_leave(prev);
    assert_int_equal(tu_run_until_gate_waits(&f->loop, f->db, 1).gate_waits,
                     1);
    assert_int_equal(rb[0].calls, 0);
}

/* ---- the chain happens, and keeps the contract --------------------------- */

static void test_commit_chains_the_parked_writer(void **state) {
    (void)state;
    fx f;
    open_fx(&f, NULL);
    int b_task;
    tu_rec ra = {0}, ca = {0}, rb[3] = {{0}};
    a_holds_gate_b_parks(&f, &b_task, false, &ra, rb);
    dbconn_stats before = stats(f.db);
    tu_ok(dbconn_commit_async(f.a, tu_on_done, &ca));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    dbconn_stats after = stats(f.db);
    /* b ran in a's job: one more hop (a's commit), one chained queue */
    assert_int_equal(after.async_jobs - before.async_jobs, 1);
    assert_int_equal(after.async_chained - before.async_chained, 1);
    assert_int_equal(after.busy_handler_calls, 0);
    assert_int_equal(ca.status, 0);
    uv_thread_t self = uv_thread_self();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rb[i].calls, 1);
        assert_int_equal(rb[i].status, 0);
        assert_true(uv_thread_equal(&rb[i].thread, &self));
        assert_ptr_equal(rb[i].task, &b_task);
        assert_true(rb[i].order > ca.order); /* after a's, in b's order */
        if (i)
            assert_true(rb[i].order > rb[i - 1].order);
    }
    assert_int_equal(rb[1].value, 2); /* b saw a's committed row and its own */
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 2);
    assert_false(dbconn_in_transaction(f.b));
    /* a settled session's reads do not queue for the gate: while a writes
     * again, b's read runs at once */
    tu_rec ra2 = {0}, read = {0};
    tu_ok(dbconn_exec_async(f.a, "INSERT INTO t (v) VALUES ('a2')", NULL, 0,
                            tu_on_exec, &ra2));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(ra2.status, 0);
    uint64_t waits = stats(f.db).gate_waits;
    tu_ok(dbconn_exec_async(f.b, "SELECT count(*) FROM t", NULL, 0,
                            tu_on_exec, &read));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(read.status, 0);
    assert_int_equal(read.value, 2); /* a's new row is not committed */
    assert_int_equal(stats(f.db).gate_waits, waits);
    tu_ok(dbconn_rollback(f.b));
    tu_ok(dbconn_rollback(f.a));
    /* settled: b takes new work, async and sync */
    tu_rec more = {0};
    tu_ok(dbconn_exec_async(f.b, "INSERT INTO t (v) VALUES ('b2')", NULL, 0,
                            tu_on_exec, &more));
    tu_ok(dbconn_commit_async(f.b, NULL, NULL));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(more.status, 0);
    tu_ok(dbconn_exec(f.b, "INSERT INTO t (v) VALUES ('b3')", NULL, 0, NULL));
    tu_ok(dbconn_commit(f.b));
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 4);
    close_fx(&f);
}

/* A failure inside a chained queue aborts that session's pipeline only;
 * its rollback gives the gate back, and the chain goes on to the next parked
 * writer. */
static void test_failure_in_chain_stays_in_its_session(void **state) {
    (void)state;
    fx f;
    open_fx(&f, NULL);
    dbconn_session *c;
    tu_ok(dbconn_session_open(f.db, &c));
    tu_rec ra = {0}, ca = {0}, rb[3] = {{0}}, rc[2] = {{0}};
    tu_ok(dbconn_exec_async(f.a, "INSERT INTO t (v) VALUES ('a')", NULL, 0,
                            tu_on_exec, &ra));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    tu_ok(dbconn_exec_async(f.b, "INSERT INTO t (id, v) VALUES (1, 'dup')",
                            NULL, 0, tu_on_exec, &rb[0]));
    tu_ok(dbconn_exec_async(f.b, "INSERT INTO t (v) VALUES ('b')", NULL, 0,
                            tu_on_exec, &rb[1]));
    tu_ok(dbconn_rollback_async(f.b, tu_on_done, &rb[2]));
    tu_ok(dbconn_exec_async(c, "INSERT INTO t (v) VALUES ('c')", NULL, 0,
                            tu_on_exec, &rc[0]));
    tu_ok(dbconn_commit_async(c, tu_on_done, &rc[1]));
    assert_int_equal(tu_run_until_gate_waits(&f.loop, f.db, 2).gate_waits,
                     2);
    tu_ok(dbconn_commit_async(f.a, tu_on_done, &ca));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(stats(f.db).async_chained, 2);
    assert_int_equal(rb[0].status, DBCONN_ECONSTRAINT);
    assert_int_equal(rb[1].status, DBCONN_EABORTED);
    assert_int_equal(rb[2].status, 0);
    assert_true(rc[0].order > rb[2].order);
    assert_int_equal(rc[0].status, 0);
    assert_int_equal(rc[1].status, 0);
    assert_false(dbconn_in_transaction(f.b));
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 2); /* a and c */
    dbconn_session_close(c);
    close_fx(&f);
}

/* ---- the loop touching a session a worker runs --------------------------- */

typedef struct interfere {
    fx *f;
    int calls;
    tu_rec late;        /* an op submitted to b while its chain runs */
    bool close_b, close_db;
} interfere;

/* a's commit callback: runs while b's slow chained read is on the worker. */
static void on_a_commit(int status, void *data) {
    interfere *in = data;
    in->calls++;
    assert_int_equal(status, 0);
    assert_int_equal(stats(in->f->db).async_chained, 1);
    tu_ok(dbconn_exec_async(in->f->b, "SELECT 42", NULL, 0, tu_on_exec,
                            &in->late));
    if (in->close_b) {
        dbconn_session_close(in->f->b); /* deferred until its chain ends */
        in->f->b = NULL;
    }
    if (in->close_db) {
        assert_int_equal(dbconn_close(in->f->db, NULL), 0);
        in->f->db = NULL;
    }
}

static void test_session_closed_while_chained(void **state) {
    (void)state;
    fx f;
    open_fx(&f, NULL);
    int b_task;
    tu_rec ra = {0}, rb[3] = {{0}};
    a_holds_gate_b_parks(&f, &b_task, true, &ra, rb);
    interfere in = {.f = &f, .close_b = true};
    tu_ok(dbconn_commit_async(f.a, on_a_commit, &in));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(in.calls, 1);
    /* what the chain had taken on completes; what came later is cancelled */
    all_once_ok(rb, 3);
    assert_int_equal(rb[1].value, 600000); /* TU_SLOW_SQL's count */
    assert_int_equal(in.late.calls, 1);
    assert_int_equal(in.late.status, DBCONN_ECANCELED);
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 2);
    close_fx(&f);
}

static void test_dbconn_closed_while_chained(void **state) {
    (void)state;
    fx f;
    open_fx(&f, NULL);
    int b_task;
    tu_rec ra = {0}, rb[3] = {{0}};
    a_holds_gate_b_parks(&f, &b_task, true, &ra, rb);
    interfere in = {.f = &f, .close_db = true};
    tu_ok(dbconn_commit_async(f.a, on_a_commit, &in));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    all_once_ok(rb, 3);
    assert_int_equal(in.late.calls, 1);
    assert_int_equal(in.late.status, DBCONN_ECANCELED);
    close_fx(&f);
}

/* b's wait for the gate times out while b is already running chained: the
 * timeout must not fail work that got the gate in time. */
static void test_wait_deadline_passes_while_chained(void **state) {
    (void)state;
    fx f;
    open_fx(&f, "?busy_timeout_ms=50");
    int b_task;
    tu_rec ra = {0}, rb[3] = {{0}};
    a_holds_gate_b_parks(&f, &b_task, true, &ra, rb);
    interfere in = {.f = &f};
    tu_ok(dbconn_commit_async(f.a, on_a_commit, &in));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    all_once_ok(rb, 3);
    assert_int_equal(in.late.status, 0); /* ran after the chain, settled */
    assert_int_equal(in.late.value, 42);
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 2);
    close_fx(&f);
}

/* A failure delivered on the loop while the session waits for the gate is
 * recorded on the session under the lock a chaining worker takes, so the
 * worker that then runs the session writes after it, never at the same
 * time (ThreadSanitizer's test; here: the statuses and the message). */
static void on_fail_then_dawdle(int status, dbconn_result *res, void *data) {
    tu_on_exec(status, res, data);
    uv_sleep(200); /* the loop is busy while a's commit chains b */
}

static void test_failure_delivered_while_chain_takes_the_session(void **state) {
    (void)state;
    fx f;
    /* b waits for a's slow read to end: seconds under valgrind */
    open_fx(&f, "?busy_timeout_ms=120000");
    tu_rec ra = {0}, slow = {0}, ca = {0}, fail = {0}, rb1 = {0}, ins = {0},
           dup = {0}, rb2 = {0};
    tu_ok(dbconn_exec_async(f.a, "INSERT INTO t (v) VALUES ('a')", NULL, 0,
                            tu_on_exec, &ra));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    /* a: a slow read, then the commit that hands the gate over */
    tu_ok(dbconn_exec_async(f.a, TU_SLOW_SQL, NULL, 0, tu_on_exec, &slow));
    tu_ok(dbconn_commit_async(f.a, tu_on_done, &ca));
    /* b: a failure (delivered while b waits for the gate), its rollback,
     * then a write that parks for the gate and a duplicate that fails on
     * the worker that chains b */
    tu_ok(dbconn_exec_async(f.b, "SELECT * FROM nope", NULL, 0,
                            on_fail_then_dawdle, &fail));
    tu_ok(dbconn_rollback_async(f.b, tu_on_done, &rb1));
    tu_ok(dbconn_exec_async(f.b, "INSERT INTO t (id, v) VALUES (100, 'b')",
                            NULL, 0, tu_on_exec, &ins));
    tu_ok(dbconn_exec_async(f.b, "INSERT INTO t (id, v) VALUES (100, 'x')",
                            NULL, 0, tu_on_exec, &dup));
    tu_ok(dbconn_rollback_async(f.b, tu_on_done, &rb2));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(fail.status, DBCONN_EDB);
    assert_int_equal(rb1.status, 0);
    assert_int_equal(ins.status, 0);
    assert_int_equal(dup.status, DBCONN_ECONSTRAINT);
    assert_int_equal(rb2.status, 0);
    assert_int_equal(ca.status, 0);
    assert_non_null(strstr(dbconn_session_errmsg(f.b), "UNIQUE"));
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 1);
    close_fx(&f);
}

/* ---- many writers: chains under load --------------------------------------- */

enum { WRITERS = 300 };

typedef struct writer {
    dbconn_session *s;
    tu_rec ins, sel, commit;
} writer;

static void test_many_pipelined_writers_every_row(void **state) {
    (void)state;
    fx f;
    open_fx(&f, "?pool_size=3&max_overflow=0");
    static writer w[WRITERS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < WRITERS; i++) {
        char v[16];
        snprintf(v, sizeof v, "w%d", i);
        tu_ok(dbconn_session_open(f.db, &w[i].s));
        dbconn_value p[] = {DBCONN_INT(1000 + i), DBCONN_TEXT(v)};
        tu_ok(dbconn_exec_async(w[i].s, "INSERT INTO t (id, v) VALUES (?, ?)",
                                p, 2, tu_on_exec, &w[i].ins));
        tu_ok(dbconn_exec_async(w[i].s, "SELECT id FROM t WHERE v = ?",
                                &p[1], 1, tu_on_exec, &w[i].sel));
        tu_ok(dbconn_commit_async(w[i].s, tu_on_done, &w[i].commit));
    }
    uv_run(&f.loop, UV_RUN_DEFAULT);
    for (int i = 0; i < WRITERS; i++) {
        assert_int_equal(w[i].ins.calls, 1);
        assert_int_equal(w[i].ins.status, 0);
        assert_int_equal(w[i].sel.value, 1000 + i);
        assert_int_equal(w[i].commit.status, 0);
        assert_true(w[i].commit.order > w[i].sel.order);
        dbconn_session_close(w[i].s);
    }
    dbconn_stats st = stats(f.db);
    assert_int_equal(tu_count_rows(f.db, "t", NULL), WRITERS);
    assert_int_equal(st.busy_handler_calls, 0);
    assert_true(st.async_chained > 0);
    assert_true(st.async_jobs + st.async_chained >= WRITERS);
    assert_true(st.async_peak <= 4); /* chains add no job in flight */
    close_fx(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_chains_the_parked_writer),
        cmocka_unit_test(test_failure_in_chain_stays_in_its_session),
        cmocka_unit_test(test_session_closed_while_chained),
        cmocka_unit_test(test_dbconn_closed_while_chained),
        cmocka_unit_test(test_wait_deadline_passes_while_chained),
        cmocka_unit_test(test_failure_delivered_while_chain_takes_the_session),
        cmocka_unit_test(test_many_pipelined_writers_every_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
