/* The async API on PostgreSQL under both of its policies -- loop (the
 * default: statements sent and their results read on the loop thread,
 * a session's queue pipelined) and threadpool -- with the same contract:
 * FIFO per session, exactly one callback per accepted op on the loop, a
 * failure aborts the rest until a rollback, close cancels what was not
 * sent and settles what was.  Each test runs once per policy (the group
 * state); the loop policy must not use the thread pool past a
 * connection's first use. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "pgutil.h"

static int policies[] = {DBCONN_EXEC_LOOP, DBCONN_EXEC_THREADPOOL};

static bool loop_policy(void **state) {
    return *(int *)*state == DBCONN_EXEC_LOOP;
}

typedef struct env {
    uv_loop_t loop;
    dbconn *db;
    dbconn_session *s;
} env;

static void env_open(env *e, void **state, const char *iso) {
    assert_int_equal(uv_loop_init(&e->loop), 0);
    dbconn_options o = {.loop = &e->loop, .pool_size = 2,
                        .execution_policy = *(int *)*state,
                        .isolation_level = iso};
    tu_ok(dbconn_open(&e->db, tu_pg_url(), &o));
    dbconn_session *s;
    tu_ok(dbconn_session_open(e->db, &s));
    tu_ok(dbconn_exec(s, "DROP TABLE IF EXISTS al_t", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "CREATE TABLE al_t (id bigint PRIMARY KEY, v text)",
                      NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_session_open(e->db, &e->s));
}

static void env_close(env *e) {
    if (e->s)
        dbconn_session_close(e->s);
    tu_ok(dbconn_close(e->db, NULL));
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

static uint64_t jobs(dbconn *db) {
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    return st.async_jobs;
}

/* ---- outcomes in order ----------------------------------------------- */

enum { MAXOPS = 4096 };

typedef struct rec {
    int n;
    int status[MAXOPS];
    int64_t value[MAXOPS]; /* first column of the first row, or -1 */
    char msg[8][256]; /* messages of the first 8 */
} rec;

typedef struct slot {
    rec *r;
    int index; /* the order it was submitted in */
} slot;

static slot slots[MAXOPS];
static int nslots;

static slot *next_slot(rec *r) {
    assert_true(nslots < MAXOPS);
    slots[nslots] = (slot){.r = r, .index = nslots};
    return &slots[nslots++];
}

static void note(slot *sl, int status, int64_t value) {
    rec *r = sl->r;
    /* FIFO: outcomes arrive in submission order, each exactly once. */
    assert_int_equal(sl->index, r->n);
    r->status[r->n] = status;
    r->value[r->n] = value;
    if (r->n < 8)
        snprintf(r->msg[r->n], sizeof r->msg[0], "%s",
                 status ? dbconn_errmsg(NULL) : "");
    r->n++;
}

static void on_exec(int status, dbconn_result *res, void *data) {
    int64_t v = -1;
    if (status == 0 && res && dbconn_result_nrows(res) > 0)
        v = dbconn_result_int(res, 0, 0);
    dbconn_result_free(res);
    note(data, status, v);
}

static void on_done(int status, void *data) { note(data, status, -1); }

static void exec_async(env *e, rec *r, const char *sql, int64_t a,
                       const char *b) {
    dbconn_value p[2] = {DBCONN_INT(a), DBCONN_TEXT(b)};
    size_t n = strchr(sql, '?') ? (strchr(strchr(sql, '?') + 1, '?') ? 2 : 1)
                                : 0;
    tu_ok(dbconn_exec_async(e->s, sql, p, n, on_exec, next_slot(r)));
}

static void setup_slots(void) { nslots = 0; }

/* ---- tests ------------------------------------------------------------ */

/* Queued back to back in one transaction: every insert, in order, one
 * pipeline (no thread-pool hop beyond the connection's first use). */
static void test_pipelined_inserts(void **state) {
    env e;
    static rec r;
    memset(&r, 0, sizeof r);
    setup_slots();
    env_open(&e, state, NULL);
    enum { N = 2000 };
    for (int i = 0; i < N; i++)
        exec_async(&e, &r, "INSERT INTO al_t VALUES (?, ?)", i, "x");
    exec_async(&e, &r, "SELECT count(*) FROM al_t", 0, NULL);
    tu_ok(dbconn_commit_async(e.s, on_done, next_slot(&r)));
    uint64_t before = jobs(e.db);
    assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.n, N + 2);
    for (int i = 0; i < N + 2; i++)
        if (r.status[i] != 0)
            fail_msg("op %d: %s", i, dbconn_err_name(r.status[i]));
    assert_int_equal(r.value[N], N); /* the select saw every insert */
    if (loop_policy(state)) /* one job: the fresh connection's first use */
        assert_true(jobs(e.db) - before <= 1);
    assert_int_equal(tu_count_rows(e.db, "al_t", NULL), N);
    env_close(&e);
}

/* Each statement submitted from the previous one's callback, autocommit:
 * every one its own transaction, no hop per statement on the loop. */
typedef struct chain {
    env *e;
    rec *r;
    int left;
} chain;

static chain ch;

static void chain_next(int status, dbconn_result *res, void *data) {
    on_exec(status, res, data);
    if (ch.left-- > 0) {
        dbconn_value p[2] = {DBCONN_INT(ch.left), DBCONN_TEXT("y")};
        tu_ok(dbconn_exec_async(ch.e->s, "INSERT INTO al_t VALUES (?, ?)", p,
                                2, chain_next, next_slot(ch.r)));
    }
}

static void test_awaited_autocommit(void **state) {
    env e;
    static rec r;
    memset(&r, 0, sizeof r);
    setup_slots();
    env_open(&e, state, "AUTOCOMMIT");
    ch = (chain){.e = &e, .r = &r, .left = 300};
    dbconn_value p[2] = {DBCONN_INT(-1), DBCONN_TEXT("y")};
    tu_ok(dbconn_exec_async(e.s, "INSERT INTO al_t VALUES (?, ?)", p, 2,
                            chain_next, next_slot(&r)));
    uint64_t before = jobs(e.db);
    assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.n, 301);
    for (int i = 0; i < r.n; i++)
        assert_int_equal(r.status[i], 0);
    if (loop_policy(state))
        assert_true(jobs(e.db) - before <= 2);
    /* autocommit: committed without any commit */
    assert_int_equal(tu_count_rows(e.db, "al_t", NULL), 301);
    env_close(&e);
}

/* A failure aborts the rest of the pipeline until a rollback, which ends
 * it; nothing of the transaction was committed; the session goes on. */
static void test_failure_aborts_rest(void **state) {
    env e;
    static rec r;
    memset(&r, 0, sizeof r);
    setup_slots();
    env_open(&e, state, NULL);
    exec_async(&e, &r, "INSERT INTO al_t VALUES (?, ?)", 1, "a");
    exec_async(&e, &r, "INSERT INTO al_t VALUES (?, ?)", 1, "dup");
    exec_async(&e, &r, "INSERT INTO al_t VALUES (?, ?)", 2, "b");
    exec_async(&e, &r, "SELECT count(*) FROM al_t", 0, NULL);
    tu_ok(dbconn_commit_async(e.s, on_done, next_slot(&r)));
    tu_ok(dbconn_rollback_async(e.s, on_done, next_slot(&r)));
    exec_async(&e, &r, "INSERT INTO al_t VALUES (?, ?)", 3, "c");
    tu_ok(dbconn_commit_async(e.s, on_done, next_slot(&r)));
    assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.n, 8);
    int want[] = {0, DBCONN_ECONSTRAINT, DBCONN_EABORTED, DBCONN_EABORTED,
                  DBCONN_EABORTED, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        if (r.status[i] != want[i])
            fail_msg("op %d: %s, want %s (%s)", i,
                     dbconn_err_name(r.status[i]), dbconn_err_name(want[i]),
                     i < 8 ? r.msg[i] : "");
    /* the aborted ones quote the failure that aborted them */
    assert_non_null(strstr(r.msg[2], "al_t_pkey"));
    assert_int_equal(tu_count_rows(e.db, "al_t", NULL), 1);
    assert_int_equal(tu_count_rows(e.db, "al_t", "id = 3"), 1);
    env_close(&e);
}

/* An op that fails before it can be sent (the SQL mixes placeholder
 * styles) in the middle of a pipeline completes in its turn, and aborts
 * what follows. */
static void test_unsendable_op_in_order(void **state) {
    env e;
    static rec r;
    memset(&r, 0, sizeof r);
    setup_slots();
    env_open(&e, state, NULL);
    exec_async(&e, &r, "INSERT INTO al_t VALUES (?, ?)", 1, "a");
    exec_async(&e, &r, "SELECT ?, $1", 1, NULL);
    exec_async(&e, &r, "INSERT INTO al_t VALUES (?, ?)", 2, "b");
    tu_ok(dbconn_rollback_async(e.s, on_done, next_slot(&r)));
    exec_async(&e, &r, "SELECT count(*) FROM al_t", 0, NULL);
    tu_ok(dbconn_commit_async(e.s, on_done, next_slot(&r)));
    assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.n, 6);
    assert_int_equal(r.status[0], 0);
    assert_int_equal(r.status[1], DBCONN_EINVAL);
    assert_int_equal(r.status[2], DBCONN_EABORTED);
    assert_int_equal(r.status[3], 0);
    assert_int_equal(r.status[4], 0);
    assert_int_equal(r.value[4], 0); /* rolled back */
    assert_int_equal(r.status[5], 0);
    env_close(&e);
}

/* Closing the dbconn from a callback while a long pipeline is under way:
 * what was sent completes (its outcome), the rest is cancelled, every op
 * gets exactly one callback, the close's own callback comes last. */
static env close_env;
static rec close_rec;
static int close_status = 99;
static int closes;

static void on_closed(int status, void *data) {
    (void)data;
    close_status = status;
    closes++;
    assert_int_equal(close_rec.n, 3001);
}

static void close_from_callback(int status, dbconn_result *res, void *data) {
    on_exec(status, res, data);
    /* the session is closed with its dbconn; the test still frees it */
    tu_ok(dbconn_close_async(close_env.db, NULL, on_closed, NULL));
}

static void test_close_settles_sent_cancels_rest(void **state) {
    env *e = &close_env;
    memset(&close_rec, 0, sizeof close_rec);
    closes = 0;
    setup_slots();
    env_open(e, state, NULL);
    dbconn_value p[2] = {DBCONN_INT(0), DBCONN_TEXT("first")};
    tu_ok(dbconn_exec_async(e->s, "INSERT INTO al_t VALUES (?, ?)", p, 2,
                            close_from_callback, next_slot(&close_rec)));
    for (int i = 1; i <= 3000; i++)
        exec_async(e, &close_rec, "INSERT INTO al_t VALUES (?, ?)", i, "x");
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(closes, 1);
    assert_int_equal(close_status, 0);
    assert_int_equal(close_rec.n, 3001);
    int ok = 0, cancelled = 0;
    for (int i = 0; i < close_rec.n; i++) {
        if (close_rec.status[i] == 0) {
            assert_int_equal(cancelled, 0); /* a prefix ran */
            ok++;
        } else {
            assert_int_equal(close_rec.status[i], DBCONN_ECANCELED);
            cancelled++;
        }
    }
    assert_true(ok >= 1);
    assert_true(cancelled >= 1); /* 3000 cannot all be in flight */
    dbconn_session_close(e->s);
    e->s = NULL;
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

/* The server ends the session's backend while a statement runs: that one
 * fails with the connection-loss code, the rest is aborted until the
 * rollback, and the next transaction runs on a new connection. */
static env lost_env;
static rec lost_rec;

static void kill_backend(uv_timer_t *t) {
    (void)t;
    tu_pg_admin(tu_pg_url(), "SELECT pg_terminate_backend(pid) FROM "
                             "pg_stat_activity WHERE query LIKE "
                             "'SELECT pg_sleep(3)%'");
}

static void test_connection_lost_mid_pipeline(void **state) {
    env *e = &lost_env;
    memset(&lost_rec, 0, sizeof lost_rec);
    setup_slots();
    env_open(e, state, NULL);
    exec_async(e, &lost_rec, "SELECT pg_sleep(3)", 0, NULL);
    exec_async(e, &lost_rec, "INSERT INTO al_t VALUES (?, ?)", 1, "a");
    tu_ok(dbconn_commit_async(e->s, on_done, next_slot(&lost_rec)));
    tu_ok(dbconn_rollback_async(e->s, on_done, next_slot(&lost_rec)));
    exec_async(e, &lost_rec, "SELECT count(*) FROM al_t", 0, NULL);
    tu_ok(dbconn_commit_async(e->s, on_done, next_slot(&lost_rec)));
    uv_timer_t t;
    uv_timer_init(&e->loop, &t);
    uv_timer_start(&t, kill_backend, 300, 0);
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    uv_close((uv_handle_t *)&t, NULL);
    assert_int_equal(lost_rec.n, 6);
    assert_int_equal(lost_rec.status[0], DBCONN_ECONNLOST);
    assert_int_equal(lost_rec.status[1], DBCONN_EABORTED);
    assert_int_equal(lost_rec.status[2], DBCONN_EABORTED);
    assert_int_equal(lost_rec.status[3], 0);
    assert_int_equal(lost_rec.status[4], 0);
    assert_int_equal(lost_rec.value[4], 0);
    assert_int_equal(lost_rec.status[5], 0);
    env_close(e);
}

/* Echo shows the same lines under both policies, in order. */
static char echo_buf[8192];
static void echo_sink(void *data, int level, const char *line) {
    (void)data;
    (void)level;
    size_t n = strlen(echo_buf);
    snprintf(echo_buf + n, sizeof echo_buf - n, "%s\n", line);
}

static void test_echo(void **state) {
    env e;
    static rec r;
    memset(&r, 0, sizeof r);
    setup_slots();
    env_open(&e, state, NULL);
    dbconn_session_close(e.s);
    tu_ok(dbconn_close(e.db, NULL));
    dbconn_options o = {.loop = &e.loop, .execution_policy = *(int *)*state,
                        .echo = 1, .log = echo_sink};
    tu_ok(dbconn_open(&e.db, tu_pg_url(), &o));
    tu_ok(dbconn_session_open(e.db, &e.s));
    echo_buf[0] = '\0';
    exec_async(&e, &r, "INSERT INTO al_t VALUES (?, ?)", 7, "e");
    tu_ok(dbconn_commit_async(e.s, on_done, next_slot(&r)));
    assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.n, 2);
    const char *b = strstr(echo_buf, "BEGIN (implicit)");
    const char *i = strstr(echo_buf, "INSERT INTO al_t VALUES (?, ?)");
    const char *c = strstr(echo_buf, "COMMIT");
    if (!b || !i || !c || !(b < i && i < c))
        fail_msg("echo:\n%s", echo_buf);
    assert_non_null(strstr(echo_buf, "(7, 'e')"));
    env_close(&e);
}

/* The sync API refuses a session whose async work is under way. */
static void test_sync_call_refused_while_in_flight(void **state) {
    env e;
    static rec r;
    memset(&r, 0, sizeof r);
    setup_slots();
    env_open(&e, state, NULL);
    exec_async(&e, &r, "SELECT 1", 0, NULL);
    assert_int_equal(dbconn_exec(e.s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_EINVAL);
    assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.status[0], 0);
    tu_ok(dbconn_exec(e.s, "SELECT 1", NULL, 0, NULL)); /* free again */
    tu_ok(dbconn_commit(e.s));
    env_close(&e);
}

/* One connection goes from session a to session b; a is closed while b's
 * statement is in flight on it.  libuv takes a socket out of epoll for
 * every watcher of it when any watcher of it is closed: a watcher that
 * outlived a's hold on the connection would leave b waiting for ever
 * (the coroutines example hung so with 50 sessions over a pool of 4). */
static bool handover_hung;
static void handover_timeout(uv_timer_t *t) {
    handover_hung = true;
    uv_stop(t->loop);
}

static void test_connection_handed_on_then_closed(void **state) {
    env e;
    static rec r;
    memset(&r, 0, sizeof r);
    setup_slots();
    handover_hung = false;
    assert_int_equal(uv_loop_init(&e.loop), 0);
    dbconn_options o = {.loop = &e.loop, .pool_size = 1,
                        .max_overflow = DBCONN_NONE,
                        .execution_policy = *(int *)*state};
    tu_ok(dbconn_open(&e.db, tu_pg_url(), &o));
    dbconn_session *a, *b;
    tu_ok(dbconn_session_open(e.db, &a)); /* connects: a's batches run on */
    tu_ok(dbconn_exec(a, "SELECT 1", NULL, 0, NULL)); /* the loop from now */
    tu_ok(dbconn_commit(a));
    e.s = a;
    exec_async(&e, &r, "SELECT 1", 0, NULL);
    tu_ok(dbconn_commit_async(a, on_done, next_slot(&r)));
    assert_int_equal(uv_run(&e.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.n, 2); /* a gave the connection back */
    tu_ok(dbconn_session_open(e.db, &b));
    e.s = b;
    exec_async(&e, &r, "SELECT 7 FROM pg_sleep(0.05)", 0, NULL);
    uv_run(&e.loop, UV_RUN_NOWAIT); /* b's statement goes out */
    dbconn_session_close(a); /* while b's result is on its way */
    uv_timer_t t;
    assert_int_equal(uv_timer_init(&e.loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, handover_timeout, 5000, 0), 0);
    while (r.n < 3 && !handover_hung)
        uv_run(&e.loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    assert_false(handover_hung);
    assert_int_equal(r.status[2], 0);
    assert_int_equal(r.value[2], 7);
    tu_ok(dbconn_commit(b));
    env_close(&e);
}

#define BOTH(fn)                                                                \
    cmocka_unit_test_prestate(fn, &policies[0]),                              \
        cmocka_unit_test_prestate(fn, &policies[1])

int main(void) {
    (void)tu_pg_url(); /* skips (77) without a server */
    const struct CMUnitTest tests[] = {
        BOTH(test_pipelined_inserts),
        BOTH(test_awaited_autocommit),
        BOTH(test_failure_aborts_rest),
        BOTH(test_unsendable_op_in_order),
        BOTH(test_close_settles_sent_cancels_rest),
        BOTH(test_connection_lost_mid_pipeline),
        BOTH(test_echo),
        BOTH(test_sync_call_refused_while_in_flight),
        BOTH(test_connection_handed_on_then_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
