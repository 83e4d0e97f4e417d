/* Closing a session in the middle of its async work, and waits that end
 * while a job is still running -- the points a randomized stress run and a
 * review found broken:
 *   - while it waits for the write gate holding a pooled slot that its job
 *     has not connected yet (the close must not roll back a connection
 *     that does not exist);
 *   - while its job runs, when that job then stops to wait (for the gate)
 *     with operations left that it had taken on: they can never run now,
 *     and each still gets its callback (DBCONN_ECANCELED) -- else the loop
 *     never ends and the operations leak;
 *   - a wait whose grant is on its way (handed over quietly by a job that
 *     goes on running) passing its deadline: the timer must not re-fire at
 *     once forever (libuv re-runs a timer re-armed at 0 ms in the same
 *     pass: the loop hung);
 *   - a job that cannot connect its slot after the loop gave it the write
 *     gate: the gate must be given up, not kept by nobody.
 * SQLite only (not in DBCONN_BOTH_ENGINES): each case is made by a writer
 * parked on the write gate, which a server has not, or by moving the
 * database file's directory away.  Closing with work in flight on a server
 * is test_async's (both engines) and test_async_loop's. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

typedef struct fx {
    uv_loop_t loop;
    const char *dir;
    dbconn *db;
} fx;

static void open_fx_q(fx *f, const char *query) {
    memset(f, 0, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->dir = tu_tmpdir();
    char url[4400];
    snprintf(url, sizeof url, "%s?%s", tu_file_url(f->dir, "c.db"), query);
    tu_open_on_loop_with_t(&f->loop, url, &f->db);
}

static void open_fx(fx *f) { open_fx_q(f, "pool_size=2&max_overflow=0"); }

static void close_fx(fx *f) {
    assert_int_equal(dbconn_close(f->db, NULL), 0);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    tu_rmdir(f->dir);
}

/* a takes the write gate (its transaction stays open). */
static dbconn_session *gate_holder(fx *f) {
    dbconn_session *a;
    tu_rec r = {0};
    tu_ok(dbconn_session_open(f->db, &a));
    tu_ok(dbconn_exec_async(a, "INSERT INTO t (v) VALUES ('a')", NULL, 0,
                            tu_on_exec, &r));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.status, 0);
    return a;
}

static void test_close_while_parked_on_unconnected_slot(void **state) {
    (void)state;
    fx f;
    open_fx(&f);
    dbconn_session *a = gate_holder(&f), *b;
    tu_rec rb = {0};
    tu_ok(dbconn_session_open(f.db, &b));
    /* b gets the pool's second slot, never connected yet (the job would
     * connect it), and parks for the gate a holds */
    tu_ok(dbconn_exec_async(b, "INSERT INTO t (v) VALUES ('b')", NULL, 0,
                            tu_on_exec, &rb));
    dbconn_stats st = tu_run_until_gate_waits(&f.loop, f.db, 1);
    assert_int_equal(st.gate_waits, 1);
    assert_int_equal(st.checked_out, 2);
    dbconn_session_close(b);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(rb.calls, 1);
    assert_int_equal(rb.status, DBCONN_ECANCELED);
    tu_ok(dbconn_pool_stats(f.db, &st));
    assert_int_equal(st.checked_out, 1); /* b's slot went back */
    tu_ok(dbconn_commit(a));
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 1);
    dbconn_session_close(a);
    close_fx(&f);
}

typedef struct closer {
    uv_timer_t t; /* first: the timer callback gets the closer */
    dbconn_session *s;
} closer;

static void close_on_timer(uv_timer_t *t) {
    closer *c = (closer *)(void *)t;
    dbconn_session_close(c->s); /* its job is running: deferred */
    uv_close((uv_handle_t *)t, NULL);
}

static void test_close_while_job_runs_then_waits(void **state) {
    (void)state;
    fx f;
    open_fx(&f);
    dbconn_session *a = gate_holder(&f), *b;
    tu_rec slow = {0}, ins = {0}, commit = {0};
    tu_ok(dbconn_session_open(f.db, &b));
    /* one job takes all three on; it reads first (no gate needed), then
     * meets the gate a holds at the INSERT and stops there to wait */
    tu_ok(dbconn_exec_async(b, TU_SLOW_SQL, NULL, 0, tu_on_exec, &slow));
    tu_ok(dbconn_exec_async(b, "INSERT INTO t (v) VALUES ('b')", NULL, 0,
                            tu_on_exec, &ins));
    tu_ok(dbconn_commit_async(b, tu_on_done, &commit));
    closer c = {.s = b};
    assert_int_equal(uv_timer_init(&f.loop, &c.t), 0);
    assert_int_equal(uv_timer_start(&c.t, close_on_timer, 10, 0), 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(slow.calls, 1);
    assert_int_equal(slow.status, 0);
    assert_int_equal(slow.value, 600000); /* TU_SLOW_SQL's count */
    assert_int_equal(ins.calls, 1);
    assert_int_equal(ins.status, DBCONN_ECANCELED);
    assert_int_equal(commit.calls, 1);
    assert_int_equal(commit.status, DBCONN_ECANCELED);
    assert_true(ins.order < commit.order);
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(f.db, &st));
    assert_int_equal(st.checked_out, 1); /* only a's */
    tu_ok(dbconn_commit(a));
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 1);
    dbconn_session_close(a);
    close_fx(&f);
}

/* a's job commits (handing the gate quietly to parked b) and goes on with a
 * slow read; b's busy_timeout_ms passes meanwhile.  b got the gate in time:
 * it runs when a's job ends.  Before the fix the loop never got there. */
static void test_deadline_passes_while_grant_on_its_way(void **state) {
    (void)state;
    fx f;
    /* the deadline must pass during a's two slow reads (~0.2 s natively),
     * not before a's commit hands b the gate (one hop, slow under valgrind) */
    open_fx_q(&f, "busy_timeout_ms=80");
    alarm(60); /* a hang fails the test instead of stalling the run */
    dbconn_session *a = gate_holder(&f), *b;
    tu_rec ins = {0}, commit = {0}, ca = {0}, slow = {0}, slow2 = {0};
    tu_ok(dbconn_session_open(f.db, &b));
    tu_ok(dbconn_exec_async(b, "INSERT INTO t (v) VALUES ('b')", NULL, 0,
                            tu_on_exec, &ins));
    tu_ok(dbconn_commit_async(b, tu_on_done, &commit));
    dbconn_stats st = tu_run_until_gate_waits(&f.loop, f.db, 1);
    assert_int_equal(st.gate_waits, 1);
    tu_ok(dbconn_commit_async(a, tu_on_done, &ca));
    tu_ok(dbconn_exec_async(a, TU_SLOW_SQL, NULL, 0, tu_on_exec, &slow));
    tu_ok(dbconn_exec_async(a, TU_SLOW_SQL, NULL, 0, tu_on_exec, &slow2));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    alarm(0);
    assert_int_equal(ca.status, 0);
    assert_int_equal(slow.status, 0);
    assert_int_equal(slow2.status, 0);
    assert_int_equal(ins.status, 0);
    assert_int_equal(commit.status, 0);
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 2);
    tu_ok(dbconn_rollback(a));
    dbconn_session_close(a);
    dbconn_session_close(b);
    close_fx(&f);
}

/* The pool's one slot is due for recycling and cannot reconnect (its
 * directory moved away): the async writer that the loop gave the gate
 * fails with the connect error, and the gate is free for the next writer
 * once the directory is back. */
static void test_connect_failure_gives_the_gate_up(void **state) {
    (void)state;
    fx f;
    open_fx_q(&f, "pool_size=1&max_overflow=0&pool_recycle=1&"
                  "busy_timeout_ms=300");
    char moved[600];
    snprintf(moved, sizeof moved, "%s.moved", f.dir);
    sleep(2); /* the idle connection is now due for recycling */
    assert_int_equal(rename(f.dir, moved), 0);
    dbconn_session *a, *s;
    tu_rec ins = {0};
    tu_ok(dbconn_session_open(f.db, &a));
    tu_ok(dbconn_exec_async(a, "INSERT INTO t (v) VALUES ('a')", NULL, 0,
                            tu_on_exec, &ins));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(rename(moved, f.dir), 0);
    assert_int_equal(ins.calls, 1);
    assert_true(ins.status < 0);
    assert_false(dbconn_in_transaction(a));
    tu_ok(dbconn_rollback(a)); /* clears the aborted pipeline */
    dbconn_session_close(a);
    /* the gate is free: a synchronous writer gets it at once */
    tu_ok(dbconn_session_open(f.db, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO t (v) VALUES ('s')", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    assert_int_equal(tu_count_rows(f.db, "t", NULL), 1);
    close_fx(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_while_parked_on_unconnected_slot),
        cmocka_unit_test(test_close_while_job_runs_then_waits),
        cmocka_unit_test(test_deadline_passes_while_grant_on_its_way),
        cmocka_unit_test(test_connect_failure_gives_the_gate_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
