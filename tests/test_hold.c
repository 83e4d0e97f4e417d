/* Who holds it, and tasks that clean up after themselves (issue 17):
 * holders named in pool and write-gate timeouts, dbconn_pool_holders,
 * hold_warn_ms, the idle reaper (pool_idle_timeout_s, at pool events and
 * on the loop's timer), pool_use_lifo, and dbconn_task_end over every open
 * dbconn -- also tied to a libuv handle's close.  Runs on both engines. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "session/session.h"

static dbconn_stats stats(dbconn *db) {
    dbconn_stats st;
    assert_int_equal(dbconn_pool_stats(db, &st), 0);
    return st;
}

/* tu_url() with `query` (k=v&...) added. */
static const char *url_with(const char *query) {
    static char buf[4][1024];
    static int slot;
    char *b = buf[slot++ % 4];
    const char *u = tu_url();
    (void)snprintf(b, sizeof buf[0], "%s%c%s", u, strchr(u, '?') ? '&' : '?',
                   query);
    return b;
}

/* A fresh, empty table `name` (x INTEGER), committed. */
static void make_table(dbconn *db, const char *name) {
    dbconn_session *s;
    char sql[128];
    tu_ok(dbconn_session_open(db, &s));
    (void)snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", name);
    tu_ok(dbconn_exec(s, sql, NULL, 0, NULL));
    (void)snprintf(sql, sizeof sql, "CREATE TABLE %s (x INTEGER)", name);
    tu_ok(dbconn_exec(s, sql, NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
}

static void drop_table(dbconn *db, const char *name) {
    dbconn_session *s;
    char sql[128];
    tu_ok(dbconn_session_open(db, &s));
    (void)snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", name);
    tu_ok(dbconn_exec(s, sql, NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
}

static void sleep_ms(unsigned ms) { usleep(ms * 1000u); }

/* ---- a log sink that keeps WARN lines ------------------------------------ */

typedef struct warn_log {
    pthread_mutex_t lock;
    int n;
    char last[1024];
} warn_log;

static void on_log(void *data, int level, const char *line) {
    warn_log *w = data;
    if (level < DBCONN_LOG_WARN)
        return;
    pthread_mutex_lock(&w->lock);
    w->n++;
    (void)snprintf(w->last, sizeof w->last, "%s", line);
    pthread_mutex_unlock(&w->lock);
}

static int warns(warn_log *w) {
    pthread_mutex_lock(&w->lock);
    int n = w->n;
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* ---- holders -------------------------------------------------------------- */

static void test_holders_listed(void **state) {
    (void)state;
    dbconn *db;
    tu_ok(dbconn_open(&db, tu_url(), NULL));
    make_table(db, "hold_t1");
    static int task_a;
    void *prev = dbconn_task_enter(&task_a);
    dbconn_session *a, *b;
    tu_ok(dbconn_scoped_session(db, &a));
    dbconn_task_leave(prev);
    tu_ok(dbconn_session_open(db, &b));

    size_t n = 99;
    tu_ok(dbconn_pool_holders(db, NULL, 0, &n));
    assert_int_equal(n, 0);

    tu_ok(dbconn_exec(a, "INSERT INTO hold_t1 (x)\n\t  VALUES (?)",
                      DBCONN_PARAMS(DBCONN_INT(424242)), NULL));
    sleep_ms(20);
    tu_ok(dbconn_exec(b, "SELECT ? AS secret", DBCONN_PARAMS(DBCONN_TEXT("hunter2")),
                      NULL));
    dbconn_holder h[4];
    tu_ok(dbconn_pool_holders(db, h, 4, &n));
    assert_int_equal(n, 2);
    /* Longest held first: a, then b. */
    assert_ptr_equal(h[0].session, a);
    assert_ptr_equal(h[0].task, &task_a);
    assert_true(h[0].held_ms >= 15);
    assert_string_equal(h[0].sql, "INSERT INTO hold_t1 (x) VALUES (?)");
    assert_ptr_equal(h[1].session, b);
    assert_null(h[1].task); /* factory-made */
    assert_string_equal(h[1].sql, "SELECT ? AS secret");
    assert_null(strstr(h[1].sql, "hunter2"));
    if (tu_is_sqlite()) { /* the engine's own write gate */
        assert_true(h[0].holds_gate);
        assert_false(h[1].holds_gate);
    }
    /* cap smaller than the count: the longest held, and the count. */
    tu_ok(dbconn_pool_holders(db, h, 1, &n));
    assert_int_equal(n, 2);
    assert_ptr_equal(h[0].session, a);

    /* A long statement is cut, and a later statement replaces the note. */
    char longsql[400];
    int len = snprintf(longsql, sizeof longsql, "SELECT 1 AS c");
    for (int i = 0; len < 300; i++)
        len += snprintf(longsql + len, sizeof longsql - (size_t)len,
                        ", %d AS c%d", i, i);
    tu_ok(dbconn_exec(b, longsql, NULL, 0, NULL));
    tu_ok(dbconn_pool_holders(db, h, 4, &n));
    assert_int_equal(strlen(h[1].sql), 127);
    assert_string_equal(h[1].sql + 124, "...");
    assert_memory_equal(h[1].sql, longsql, 120);

    /* The reader first: on an in-memory database the writer's commit
     * would wait for it. */
    tu_ok(dbconn_commit(b));
    tu_ok(dbconn_commit(a));
    tu_ok(dbconn_pool_holders(db, h, 4, &n));
    assert_int_equal(n, 0);

    /* A new checkout starts with no statement, though its connection ran
     * one for the previous holder; the same cached statement run again is
     * shown (only the checkout's number is stored then). */
    tu_ok(dbconn_begin(b, DBCONN_BEGIN_DEFERRED));
    tu_ok(dbconn_pool_holders(db, h, 4, &n));
    assert_int_equal(n, 1);
    assert_ptr_equal(h[0].session, b);
    assert_string_equal(h[0].sql, "");
    tu_ok(dbconn_exec(b, "SELECT ? AS secret", DBCONN_PARAMS(DBCONN_INT(1)),
                      NULL));
    tu_ok(dbconn_exec(b, "SELECT ? AS secret", DBCONN_PARAMS(DBCONN_INT(2)),
                      NULL));
    tu_ok(dbconn_pool_holders(db, h, 4, &n));
    assert_string_equal(h[0].sql, "SELECT ? AS secret");
    tu_ok(dbconn_commit(b));
    tu_ok(dbconn_begin(b, DBCONN_BEGIN_DEFERRED));
    tu_ok(dbconn_exec(b, "SELECT ? AS secret", DBCONN_PARAMS(DBCONN_INT(3)),
                      NULL));
    tu_ok(dbconn_pool_holders(db, h, 4, &n));
    assert_string_equal(h[0].sql, "SELECT ? AS secret");
    tu_ok(dbconn_commit(b));

    assert_int_equal(dbconn_pool_holders(NULL, h, 4, &n), DBCONN_EINVAL);
    assert_int_equal(dbconn_pool_holders(db, NULL, 4, &n), DBCONN_EINVAL);
    assert_int_equal(dbconn_pool_holders(db, h, 4, NULL), DBCONN_EINVAL);
    dbconn_session_close(a);
    dbconn_session_close(b);
    drop_table(db, "hold_t1");
    tu_ok(dbconn_close(db, NULL));
}

static void test_pool_timeout_names_holder(void **state) {
    (void)state;
    dbconn *db;
    dbconn_options o = {.pool_size = 1, .max_overflow = DBCONN_NONE,
                        .pool_timeout_ms = 50};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    static int task_a;
    void *prev = dbconn_task_enter(&task_a);
    dbconn_session *a, *b;
    tu_ok(dbconn_scoped_session(db, &a));
    dbconn_task_leave(prev);
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "SELECT ? AS v", DBCONN_PARAMS(DBCONN_TEXT("hunter2")),
                      NULL));
    assert_int_equal(dbconn_exec(b, "SELECT 1", NULL, 0, NULL),
                     DBCONN_ETIMEOUT);
    char want[64];
    (void)snprintf(want, sizeof want, "held by: task %p for ", (void *)&task_a);
    const char *msg = dbconn_session_errmsg(b);
    assert_non_null(strstr(msg, "pool_timeout_ms"));
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "last statement \"SELECT ? AS v\""));
    assert_null(strstr(msg, "hunter2"));
    tu_ok(dbconn_rollback(b));

    /* pool_timeout_ms "0": no wait, the same naming. */
    dbconn *db0;
    dbconn_options o0 = {.pool_size = 1, .max_overflow = DBCONN_NONE,
                         .pool_timeout_ms = DBCONN_NONE};
    tu_ok(dbconn_open(&db0, tu_url(), &o0));
    dbconn_session *c, *d;
    tu_ok(dbconn_session_open(db0, &c));
    tu_ok(dbconn_session_open(db0, &d));
    tu_ok(dbconn_exec(c, "SELECT 7", NULL, 0, NULL));
    assert_int_equal(dbconn_exec(d, "SELECT 1", NULL, 0, NULL),
                     DBCONN_ETIMEOUT);
    (void)snprintf(want, sizeof want, "held by: session %p for ", (void *)c);
    assert_non_null(strstr(dbconn_session_errmsg(d), want));
    assert_non_null(strstr(dbconn_session_errmsg(d), "\"SELECT 7\""));
    dbconn_session_close(c);
    dbconn_session_close(d);
    tu_ok(dbconn_close(db0, NULL));

    tu_ok(dbconn_commit(a));

    /* A thread's own key is named as the thread. */
    dbconn_session *t;
    tu_ok(dbconn_scoped_session(db, &t)); /* no task entered: this thread */
    tu_ok(dbconn_exec(t, "SELECT 3", NULL, 0, NULL));
    assert_int_equal(dbconn_exec(b, "SELECT 1", NULL, 0, NULL),
                     DBCONN_ETIMEOUT);
    (void)snprintf(want, sizeof want, "held by: thread #");
    assert_non_null(strstr(dbconn_session_errmsg(b), want));
    (void)snprintf(want, sizeof want, "(key %p) for ", dbconn_current_task());
    assert_non_null(strstr(dbconn_session_errmsg(b), want));
    tu_ok(dbconn_rollback(b));
    dbconn_session_close(t);

    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
}

static void test_gate_timeout_names_holder(void **state) {
    (void)state;
    if (!tu_is_sqlite()) /* the write gate is the SQLite driver's */
        return;
    dbconn *db;
    dbconn_options o = {.busy_timeout_ms = 50};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    make_table(db, "hold_t2");
    static int task_a;
    void *prev = dbconn_task_enter(&task_a);
    dbconn_session *a, *b;
    tu_ok(dbconn_scoped_session(db, &a));
    dbconn_task_leave(prev);
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "UPDATE hold_t2 SET x = ? WHERE x = 1",
                      DBCONN_PARAMS(DBCONN_INT(987654)), NULL));
    assert_int_equal(dbconn_exec(b, "INSERT INTO hold_t2 VALUES (2)", NULL, 0,
                                 NULL),
                     DBCONN_EBUSY);
    const char *msg = dbconn_session_errmsg(b);
    char want[64];
    (void)snprintf(want, sizeof want, "held by task %p for ", (void *)&task_a);
    assert_non_null(strstr(msg, "busy_timeout_ms"));
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "(the write gate for "));
    assert_non_null(
        strstr(msg, "last statement \"UPDATE hold_t2 SET x = ? WHERE x = 1\""));
    assert_null(strstr(msg, "987654"));
    tu_ok(dbconn_rollback(b));
    tu_ok(dbconn_commit(a));
    dbconn_session_close(a);
    dbconn_session_close(b);
    drop_table(db, "hold_t2");
    tu_ok(dbconn_close(db, NULL));
}

/* The async form: a parked writer whose wait runs out names the holder. */
static void test_async_gate_timeout_names_holder(void **state) {
    (void)state;
    if (!tu_is_sqlite())
        return;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    dbconn *db;
    dbconn_options o = {.busy_timeout_ms = 50, .loop = &loop};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    make_table(db, "hold_t3");
    dbconn_session *a, *b;
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "INSERT INTO hold_t3 VALUES (1)", NULL, 0, NULL));
    tu_rec r = {0};
    tu_ok(dbconn_exec_async(b, "INSERT INTO hold_t3 VALUES (2)", NULL, 0,
                            tu_on_exec, &r));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DBCONN_EBUSY);
    char want[64];
    (void)snprintf(want, sizeof want, "held by session %p for ", (void *)a);
    assert_non_null(strstr(dbconn_session_errmsg(b), want));
    assert_non_null(strstr(dbconn_session_errmsg(b),
                           "\"INSERT INTO hold_t3 VALUES (1)\""));
    tu_ok(dbconn_commit(a));
    dbconn_session_close(a);
    dbconn_session_close(b);
    drop_table(db, "hold_t3");
    tu_ok(dbconn_close(db, NULL));
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* The async form of a pool timeout (a parked checkout) names them too. */
static void test_async_pool_timeout_names_holder(void **state) {
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    dbconn *db;
    dbconn_options o = {.pool_size = 1, .max_overflow = DBCONN_NONE,
                        .pool_timeout_ms = 50, .loop = &loop};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    dbconn_session *a, *b;
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "SELECT ? + 5", DBCONN_PARAMS(DBCONN_INT(31337)),
                      NULL));
    tu_rec r = {0};
    tu_ok(dbconn_exec_async(b, "SELECT 1", NULL, 0, tu_on_exec, &r));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DBCONN_ETIMEOUT);
    char want[64];
    (void)snprintf(want, sizeof want, "held by: session %p for ", (void *)a);
    const char *msg = dbconn_session_errmsg(b);
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "last statement \"SELECT ? + 5\""));
    assert_null(strstr(msg, "31337"));
    tu_ok(dbconn_commit(a));
    tu_rec rb = {0};
    tu_ok(dbconn_rollback_async(b, tu_on_done, &rb));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- hold_warn_ms ------------------------------------------------------------ */

static void test_hold_warn(void **state) {
    (void)state;
    warn_log w = {.lock = PTHREAD_MUTEX_INITIALIZER};
    dbconn *db;
    /* Long enough that b's brief transaction stays under it even under
     * valgrind. */
    dbconn_options o = {.hold_warn_ms = 200, .log = on_log, .log_data = &w};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    dbconn_session *a, *b;
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "SELECT 11", NULL, 0, NULL));
    sleep_ms(260);
    assert_int_equal(warns(&w), 0); /* nothing looked yet */
    /* The next pool event (b's checkout) sees a past the threshold. */
    tu_ok(dbconn_exec(b, "SELECT 22", NULL, 0, NULL));
    assert_int_equal(warns(&w), 1);
    char want[64];
    (void)snprintf(want, sizeof want, "held by session %p for ", (void *)a);
    assert_non_null(strstr(w.last, "hold_warn_ms (200 ms)"));
    assert_non_null(strstr(w.last, want));
    assert_non_null(strstr(w.last, "\"SELECT 11\""));
    tu_ok(dbconn_commit(b)); /* brief: no warning */
    tu_ok(dbconn_commit(a)); /* warned already in this checkout */
    assert_int_equal(warns(&w), 1);
    /* Otherwise at the checkin. */
    tu_ok(dbconn_exec(a, "SELECT 33", NULL, 0, NULL));
    sleep_ms(260);
    tu_ok(dbconn_commit(a));
    assert_int_equal(warns(&w), 2);
    assert_non_null(strstr(w.last, "\"SELECT 33\""));
    assert_int_equal(stats(db).hold_warnings, 2);
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(warns(&w), 2); /* no sessions were left open */
}

/* ---- the idle reaper and LIFO ------------------------------------------------ */

static void test_idle_reaper_at_pool_events(void **state) {
    (void)state;
    dbconn *db;
    tu_ok(dbconn_open(&db, url_with("pool_idle_timeout=1"), NULL));
    dbconn_session *a, *b;
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_exec(b, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_commit(a));
    tu_ok(dbconn_commit(b));
    dbconn_stats st = stats(db);
    assert_int_equal(st.size, 2);
    assert_int_equal(st.checked_out, 0);
    sleep_ms(1100);
    /* The next checkout closes both, then opens a fresh one. */
    tu_ok(dbconn_exec(a, "SELECT 1", NULL, 0, NULL));
    st = stats(db);
    assert_int_equal(st.reaped, 2);
    assert_int_equal(st.size, 1);
    tu_ok(dbconn_commit(a));
    /* Recently used connections stay. */
    tu_ok(dbconn_exec(b, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_commit(b));
    assert_int_equal(stats(db).reaped, 2);
    assert_int_equal(stats(db).size, 1);
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
}

static void keepalive_cb(uv_timer_t *t) { (void)t; }

static void test_idle_reaper_on_loop_timer(void **state) {
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    dbconn *db;
    dbconn_options o = {.loop = &loop, .pool_idle_timeout_s = 1};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    dbconn_session *s;
    tu_ok(dbconn_session_open(db, &s));
    tu_rec r = {0}, c = {0};
    tu_ok(dbconn_exec_async(s, "SELECT 1", NULL, 0, tu_on_exec, &r));
    tu_ok(dbconn_commit_async(s, tu_on_done, &c));
    /* The upkeep timer never keeps the loop alive. */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, 0);
    assert_true(stats(db).size >= 1);
    /* No pool event from here on: the loop's timer reaps. */
    uv_timer_t keep;
    assert_int_equal(uv_timer_init(&loop, &keep), 0);
    assert_int_equal(uv_timer_start(&keep, keepalive_cb, 1600, 0), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    dbconn_stats st = stats(db);
    assert_int_equal(st.size, 0);
    assert_true(st.reaped >= 1);
    uv_close((uv_handle_t *)&keep, NULL);
    /* Still works: a new connection is made. */
    tu_rec r2 = {0};
    tu_ok(dbconn_exec_async(s, "SELECT 2", NULL, 0, tu_on_exec, &r2));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r2.status, 0);
    assert_int_equal(r2.value, 2);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Which connection the next checkout gets: the most recently checked in
 * (pool_use_lifo, the default) or the longest idle (off, FIFO). */
static void lifo_case(const char *query, bool lifo) {
    dbconn *db;
    tu_ok(dbconn_open(&db, query ? url_with(query) : tu_url(), NULL));
    dbconn_session *a, *b, *c;
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_session_open(db, &c));
    tu_ok(dbconn_exec(a, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_exec(b, "SELECT 1", NULL, 0, NULL));
    const dbc_pconn *pa = a->pc, *pb = b->pc;
    assert_ptr_not_equal(pa, pb);
    tu_ok(dbconn_commit(a)); /* idle: pa */
    tu_ok(dbconn_commit(b)); /* idle: pb (newest), pa */
    tu_ok(dbconn_exec(c, "SELECT 1", NULL, 0, NULL));
    assert_ptr_equal(c->pc, lifo ? pb : pa);
    tu_ok(dbconn_commit(c));
    dbconn_session_close(a);
    dbconn_session_close(b);
    dbconn_session_close(c);
    tu_ok(dbconn_close(db, NULL));
}

static void test_pool_use_lifo(void **state) {
    (void)state;
    lifo_case(NULL, true);
    lifo_case("pool_use_lifo=true", true);
    lifo_case("pool_use_lifo=false", false);
}

static void test_options_by_name(void **state) {
    (void)state;
    dbconn_options o = {0};
    tu_ok(dbconn_options_set(&o, "pool_idle_timeout", "30"));
    assert_int_equal(o.pool_idle_timeout_s, 30);
    tu_ok(dbconn_options_set(&o, "pool_idle_timeout_s", "0"));
    assert_int_equal(o.pool_idle_timeout_s, DBCONN_NONE);
    tu_ok(dbconn_options_set(&o, "pool_use_lifo", "off"));
    assert_int_equal(o.pool_use_lifo, DBCONN_NONE);
    tu_ok(dbconn_options_set(&o, "hold_warn_ms", "250"));
    assert_int_equal(o.hold_warn_ms, 250);
    assert_int_equal(dbconn_options_set(&o, "hold_warn_ms", "-5"),
                     DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "hold_warn_ms"));
    assert_int_equal(dbconn_options_set(&o, "pool_use_lifo", "sometimes"),
                     DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "pool_use_lifo"));
    assert_int_equal(dbconn_options_set(&o, "pool_idle_timeout", "x"),
                     DBCONN_EOPTION);
    dbconn *db;
    dbconn_options bad = {.hold_warn_ms = -3};
    assert_int_equal(dbconn_open(&db, tu_url(), &bad), DBCONN_EOPTION);
    assert_null(db);
    assert_non_null(strstr(dbconn_errmsg(NULL), "hold_warn_ms"));
}

/* ---- dbconn_task_end -------------------------------------------------------- */

static void test_task_end_every_dbconn(void **state) {
    (void)state;
    dbconn *d1, *d2;
    tu_ok(dbconn_open(&d1, tu_url(), NULL));
    tu_ok(dbconn_open(&d2, tu_url(), NULL));
    make_table(d1, "hold_t4");
    make_table(d2, "hold_t5");
    static int task, other;
    void *prev = dbconn_task_enter(&task);
    dbconn_session *s1, *s2, *s3;
    tu_ok(dbconn_scoped_session(d1, &s1));
    tu_ok(dbconn_scoped_session(d2, &s2));
    dbconn_task_enter(&other);
    tu_ok(dbconn_scoped_session(d1, &s3));
    dbconn_task_leave(prev);
    tu_ok(dbconn_exec(s1, "INSERT INTO hold_t4 VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_exec(s2, "INSERT INTO hold_t5 VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s3)); /* nothing held by the other task */
    assert_int_equal(dbconn_scoped_count(d1), 2);
    assert_int_equal(dbconn_scoped_count(d2), 1);

    assert_int_equal(dbconn_task_end(&task), 2);
    assert_int_equal(dbconn_scoped_count(d1), 1); /* the other task's */
    assert_int_equal(dbconn_scoped_count(d2), 0);
    assert_int_equal(tu_count_rows(d1, "hold_t4", NULL), 0); /* rolled back */
    assert_int_equal(tu_count_rows(d2, "hold_t5", NULL), 0);
    assert_int_equal(stats(d1).checked_out, 0);
    assert_int_equal(dbconn_task_end(&task), 0); /* nothing left */
    /* The task may start again: a new session. */
    prev = dbconn_task_enter(&task);
    dbconn_session *again;
    tu_ok(dbconn_scoped_session(d1, &again));
    dbconn_task_leave(prev);
    assert_int_equal(dbconn_scoped_count(d1), 2);
    assert_int_equal(dbconn_task_end(&task), 1);

    assert_int_equal(dbconn_task_end(NULL), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "dbconn_task_end"));

    drop_table(d1, "hold_t4");
    drop_table(d2, "hold_t5");
    tu_ok(dbconn_close(d2, NULL));
    /* A closed dbconn is no longer reached. */
    prev = dbconn_task_enter(&other);
    assert_int_equal(dbconn_task_end(&other), 1);
    dbconn_task_leave(prev);
    tu_ok(dbconn_close(d1, NULL));
    assert_int_equal(dbconn_task_end(&other), 0);
}

/* dbconn_close still reports what a task left behind. */
static void test_close_reports_what_task_left(void **state) {
    (void)state;
    warn_log w = {.lock = PTHREAD_MUTEX_INITIALIZER};
    dbconn *db;
    dbconn_options o = {.log = on_log, .log_data = &w};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    static int t1, t2;
    void *prev = dbconn_task_enter(&t1);
    dbconn_session *s;
    tu_ok(dbconn_scoped_session(db, &s));
    dbconn_task_enter(&t2);
    tu_ok(dbconn_scoped_session(db, &s));
    dbconn_task_leave(prev);
    assert_int_equal(dbconn_task_end(&t1), 1);
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(warns(&w), 1);
    assert_non_null(strstr(w.last, "1 "));
}

/* The libuv way: the task is a handle; its close callback ends it. */
typedef struct uv_task {
    dbconn *db;
    uv_timer_t timer;
    tu_rec rec;
    int closed;
} uv_task;

static void on_task_closed(uv_handle_t *h) {
    uv_task *t = h->data;
    t->closed++;
    dbconn_task_close_cb(h); /* the task is the handle */
}

static void on_insert(int status, dbconn_result *res, void *data) {
    uv_task *t = data;
    t->rec.calls++;
    t->rec.status = status;
    t->rec.task = dbconn_current_task();
    dbconn_result_free(res);
    /* Done with the handle, transaction left open: closing it ends the
     * task, which rolls the transaction back. */
    uv_close((uv_handle_t *)&t->timer, on_task_closed);
}

static void on_tick(uv_timer_t *timer) {
    uv_task *t = timer->data;
    void *prev = dbconn_task_enter(timer);
    dbconn_session *s;
    tu_ok(dbconn_scoped_session(t->db, &s));
    tu_ok(dbconn_exec_async(s, "INSERT INTO hold_t6 VALUES (1)", NULL, 0,
                            on_insert, t));
    dbconn_task_leave(prev);
}

static void test_task_end_on_uv_close(void **state) {
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    dbconn *db;
    dbconn_options o = {.loop = &loop};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    make_table(db, "hold_t6");
    uv_task t = {.db = db};
    assert_int_equal(uv_timer_init(&loop, &t.timer), 0);
    t.timer.data = &t;
    assert_int_equal(uv_timer_start(&t.timer, on_tick, 1, 0), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(t.rec.calls, 1);
    assert_int_equal(t.rec.status, 0);
    assert_ptr_equal(t.rec.task, &t.timer); /* the task followed the work */
    assert_int_equal(t.closed, 1);
    assert_int_equal(dbconn_scoped_count(db), 0);
    assert_int_equal(stats(db).checked_out, 0);
    assert_int_equal(tu_count_rows(db, "hold_t6", NULL), 0);
    drop_table(db, "hold_t6");
    tu_ok(dbconn_close(db, NULL));
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* The handle closed while its task's statement is still queued or
 * running: the work completes or is cancelled, never lost, and nothing of
 * it stays. */
static void on_tick_close_now(uv_timer_t *timer) {
    uv_task *t = timer->data;
    void *prev = dbconn_task_enter(timer);
    dbconn_session *s;
    tu_ok(dbconn_scoped_session(t->db, &s));
    tu_ok(dbconn_exec_async(s, "INSERT INTO hold_t8 VALUES (1)", NULL, 0,
                            tu_on_exec, &t->rec));
    dbconn_task_leave(prev);
    uv_close((uv_handle_t *)timer, on_task_closed);
}

static void test_task_end_with_work_in_flight(void **state) {
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    dbconn *db;
    dbconn_options o = {.loop = &loop};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    make_table(db, "hold_t8");
    uv_task t = {.db = db};
    assert_int_equal(uv_timer_init(&loop, &t.timer), 0);
    t.timer.data = &t;
    assert_int_equal(uv_timer_start(&t.timer, on_tick_close_now, 1, 0), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(t.closed, 1);
    assert_int_equal(t.rec.calls, 1); /* exactly once */
    assert_true(t.rec.status == 0 || t.rec.status == DBCONN_ECANCELED);
    assert_int_equal(dbconn_scoped_count(db), 0);
    assert_int_equal(stats(db).checked_out, 0);
    assert_int_equal(tu_count_rows(db, "hold_t8", NULL), 0);
    drop_table(db, "hold_t8");
    tu_ok(dbconn_close(db, NULL));
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- threads (run under TSan): tasks ending while others work, holders
 * listed meanwhile --------------------------------------------------------- */

#define NTHREADS 4
#define ROUNDS 40

typedef struct thread_arg {
    dbconn *db[2];
    int id;
    atomic_int *done;
} thread_arg;

static void *worker(void *p) {
    thread_arg *a = p;
    char task[ROUNDS]; /* one key per round: a fresh task each time */
    for (int r = 0; r < ROUNDS; r++) {
        void *prev = dbconn_task_enter(&task[r]);
        for (int k = 0; k < 2; k++) {
            dbconn_session *s;
            tu_ok(dbconn_scoped_session(a->db[k], &s));
            /* d[0]: writers, one at a time through the write gate (on
             * SQLite), rolled back by the task's end; d[1]: readers. */
            if (k == 0)
                tu_ok(dbconn_exec(s, "INSERT INTO hold_t7 VALUES (?)",
                                  DBCONN_PARAMS(DBCONN_INT(r)), NULL));
            else
                tu_ok(dbconn_exec(s, "SELECT ? + 1",
                                  DBCONN_PARAMS(DBCONN_INT(r)), NULL));
            if (r % 2)
                tu_ok(dbconn_exec(s, "SELECT 2 + ?",
                                  DBCONN_PARAMS(DBCONN_INT(a->id)), NULL));
        }
        dbconn_task_leave(prev);
        if (r % 8 == 0)
            usleep(2000); /* past hold_warn_ms: warned at the checkin */
        assert_int_equal(dbconn_task_end(&task[r]), 2);
    }
    atomic_fetch_add(a->done, 1);
    return NULL;
}

static void test_task_end_threads(void **state) {
    (void)state;
    dbconn *d[2];
    dbconn_options o = {.pool_size = NTHREADS, .hold_warn_ms = 1,
                        .log = on_log};
    warn_log w = {.lock = PTHREAD_MUTEX_INITIALIZER};
    o.log_data = &w;
    tu_ok(dbconn_open(&d[0], tu_url(), &o));
    tu_ok(dbconn_open(&d[1], tu_url(), &o));
    make_table(d[0], "hold_t7");
    atomic_int done = 0;
    pthread_t th[NTHREADS];
    thread_arg args[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        args[i] = (thread_arg){{d[0], d[1]}, i, &done};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    size_t seen = 0;
    while (atomic_load(&done) < NTHREADS) {
        dbconn_holder h[NTHREADS];
        size_t n;
        for (int k = 0; k < 2; k++) {
            tu_ok(dbconn_pool_holders(d[k], h, NTHREADS, &n));
            for (size_t i = 0; i < n && i < NTHREADS; i++) {
                if (h[i].sql[0] && strncmp(h[i].sql, "SELECT ", 7) != 0 &&
                    (k || strncmp(h[i].sql, "INSERT ", 7) != 0))
                    fail_msg("dbconn %d: holder %zu ran \"%s\"", k, i,
                             h[i].sql);
                seen++;
            }
        }
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    (void)seen;
    assert_int_equal(dbconn_scoped_count(d[0]), 0);
    assert_int_equal(dbconn_scoped_count(d[1]), 0);
    assert_int_equal(tu_count_rows(d[0], "hold_t7", NULL), 0); /* rolled back */
    assert_true(warns(&w) > 0); /* hold_warn_ms 1: warnings from threads */
    drop_table(d[0], "hold_t7");
    tu_ok(dbconn_close(d[0], NULL));
    tu_ok(dbconn_close(d[1], NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holders_listed),
        cmocka_unit_test(test_pool_timeout_names_holder),
        cmocka_unit_test(test_gate_timeout_names_holder),
        cmocka_unit_test(test_async_gate_timeout_names_holder),
        cmocka_unit_test(test_async_pool_timeout_names_holder),
        cmocka_unit_test(test_hold_warn),
        cmocka_unit_test(test_idle_reaper_at_pool_events),
        cmocka_unit_test(test_idle_reaper_on_loop_timer),
        cmocka_unit_test(test_pool_use_lifo),
        cmocka_unit_test(test_options_by_name),
        cmocka_unit_test(test_task_end_every_dbconn),
        cmocka_unit_test(test_close_reports_what_task_left),
        cmocka_unit_test(test_task_end_on_uv_close),
        cmocka_unit_test(test_task_end_with_work_in_flight),
        cmocka_unit_test(test_task_end_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
