/* Task tracking (dbconn_current_task / task_enter / task_leave), the
 * per-thread fallback key, and the thread-exit cleanup of the sessions a
 * thread created under its own key.  Runs on both engines. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

/* Several tests close with scoped sessions open on purpose: keep the warning
 * dbconn_close logs about them out of the test output. */
static void quiet(void *data, int level, const char *line) {
    (void)data;
    (void)level;
    (void)line;
}

static const dbconn_options quiet_opts = {.log = quiet};

typedef void *(*thread_fn)(void *);

static void run_thread(thread_fn fn, void *arg) {
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void create_table(dbconn *db) {
    dbconn_session *s = NULL;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE t (v INTEGER)", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
}

/* ---- the current task ---------------------------------------------------- */

static void test_default_key_is_stable_and_reserved(void **state) {
    (void)state;
    void *k = dbconn_current_task();
    assert_non_null(k);
    assert_ptr_equal(dbconn_current_task(), k);
    /* Kernel half, bits 48..63 set: no user-space object has this address. */
    assert_true((uintptr_t)k >> 48 == 0xffffu);
    int local;
    void *heap = malloc(16);
    assert_ptr_not_equal(k, (void *)&local);
    assert_ptr_not_equal(k, heap);
    free(heap);
}

static void test_enter_leave_nesting(void **state) {
    (void)state;
    int a, b, c;
    void *own = dbconn_current_task();

    void *p0 = dbconn_task_enter(&a);
    assert_null(p0); /* nothing was entered: the stored value is NULL */
    assert_ptr_equal(dbconn_current_task(), &a);

    void *p1 = dbconn_task_enter(&b);
    assert_ptr_equal(p1, &a);
    assert_ptr_equal(dbconn_current_task(), &b);

    void *p2 = dbconn_task_enter(&c);
    assert_ptr_equal(p2, &b);
    assert_ptr_equal(dbconn_current_task(), &c);

    dbconn_task_leave(p2);
    assert_ptr_equal(dbconn_current_task(), &b);
    dbconn_task_leave(p1);
    assert_ptr_equal(dbconn_current_task(), &a);
    dbconn_task_leave(p0);
    assert_ptr_equal(dbconn_current_task(), own);
}

static void test_enter_null_means_thread_key(void **state) {
    (void)state;
    int a;
    void *own = dbconn_current_task();
    void *p0 = dbconn_task_enter(&a);
    void *p1 = dbconn_task_enter(NULL);
    assert_ptr_equal(p1, &a);
    assert_ptr_equal(dbconn_current_task(), own);
    dbconn_task_leave(p1);
    assert_ptr_equal(dbconn_current_task(), &a);
    dbconn_task_leave(p0);
    assert_ptr_equal(dbconn_current_task(), own);
}

/* A coroutine scheduler's pattern: enter on resume, leave on suspend. */
static void test_scheduler_pattern(void **state) {
    (void)state;
    int co[3];
    void *own = dbconn_current_task();
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 3; i++) {
            void *prev = dbconn_task_enter(&co[i]); /* resume */
            assert_ptr_equal(dbconn_current_task(), &co[i]);
            dbconn_task_leave(prev); /* suspend */
            assert_ptr_equal(dbconn_current_task(), own);
        }
    }
}

typedef struct task_probe {
    void *seen_before; /* current task before entering anything */
    void *seen_after;  /* after entering `enter` */
    void *enter;
} task_probe;

static void *probe_thread(void *arg) {
    task_probe *p = arg;
    p->seen_before = dbconn_current_task();
    void *prev = dbconn_task_enter(p->enter);
    p->seen_after = dbconn_current_task();
    dbconn_task_leave(prev);
    return NULL;
}

static void test_current_task_is_per_thread(void **state) {
    (void)state;
    int a, b;
    void *prev = dbconn_task_enter(&a);
    task_probe p = {.enter = &b};
    run_thread(probe_thread, &p);
    /* The other thread did not see main's task, and main still has it. */
    assert_ptr_not_equal(p.seen_before, &a);
    assert_non_null(p.seen_before);
    assert_ptr_equal(p.seen_after, &b);
    assert_ptr_equal(dbconn_current_task(), &a);
    dbconn_task_leave(prev);
    assert_ptr_not_equal(p.seen_before, dbconn_current_task());
}

static int cmp_ptr(const void *x, const void *y) {
    uintptr_t a = (uintptr_t)*(void *const *)x, b = (uintptr_t)*(void *const *)y;
    return a < b ? -1 : a > b;
}

/* Threads created one after the other usually reuse the same stack and
 * pthread_t; their keys must still all differ. */
static void test_sequential_thread_keys_unique(void **state) {
    (void)state;
    enum { N = 500 };
    void **keys = calloc(N + 1, sizeof *keys);
    assert_non_null(keys);
    for (int i = 0; i < N; i++) {
        task_probe p = {.enter = NULL};
        run_thread(probe_thread, &p);
        keys[i] = p.seen_before;
        assert_ptr_equal(p.seen_after, p.seen_before); /* enter(NULL) */
        assert_true((uintptr_t)keys[i] >> 48 == 0xffffu);
    }
    keys[N] = dbconn_current_task();
    qsort(keys, N + 1, sizeof *keys, cmp_ptr);
    for (int i = 0; i < N; i++)
        assert_ptr_not_equal(keys[i], keys[i + 1]);
    free(keys);
}

/* ---- thread exit closes the thread's sessions ---------------------------- */

typedef struct worker {
    dbconn *db[2];
    int ndb;
    dbconn_session *s[2];
    const char *sql;      /* run in the scoped session, never committed */
    void *task;           /* entered before the session is made, if set */
    pthread_barrier_t *made;    /* if set: waited on once sessions exist */
    pthread_barrier_t *release; /* if set: waited on before exiting */
    int rc;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    void *prev = w->task ? dbconn_task_enter(w->task) : NULL;
    for (int i = 0; i < w->ndb && w->rc == 0; i++) {
        w->rc = dbconn_scoped_session(w->db[i], &w->s[i]);
        if (w->rc == 0 && w->sql)
            w->rc = dbconn_exec(w->s[i], w->sql, NULL, 0, NULL);
    }
    if (w->task)
        dbconn_task_leave(prev);
    if (w->made)
        pthread_barrier_wait(w->made);
    if (w->release)
        pthread_barrier_wait(w->release);
    return NULL;
}

static void test_thread_exit_closes_sessions(void **state) {
    (void)state;
    dbconn *db = NULL;
    tu_ok(dbconn_open(&db, tu_url(), &quiet_opts));
    worker w = {.db = {db}, .ndb = 1};
    run_thread(worker_main, &w);
    tu_ok(w.rc);
    assert_int_equal(dbconn_scoped_count(db), 0);
    /* Main's own scope is unaffected by other threads. */
    dbconn_session *s = NULL;
    tu_ok(dbconn_scoped_session(db, &s));
    assert_int_equal(dbconn_scoped_count(db), 1);
    run_thread(worker_main, &w);
    assert_int_equal(dbconn_scoped_count(db), 1);
    tu_ok(dbconn_close(db, NULL));
}

static void test_thread_exit_rolls_back_file_db(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    dbconn *db = NULL;
    tu_ok(dbconn_open(&db, tu_db_url(dir, "exit.db", NULL), NULL));
    create_table(db);
    pthread_barrier_t hold;
    pthread_barrier_init(&hold, NULL, 2);
    worker w = {.db = {db}, .ndb = 1, .sql = "INSERT INTO t VALUES (2)",
                .made = &hold, .release = &hold};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, worker_main, &w), 0);
    pthread_barrier_wait(&hold);
    tu_ok(w.rc);
    assert_int_equal(dbconn_scoped_count(db), 1);
    assert_true(dbconn_in_transaction(w.s[0]));
    pthread_barrier_wait(&hold);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&hold);
    assert_int_equal(dbconn_scoped_count(db), 0);
    assert_int_equal(tu_count_rows(db, "t", NULL), 1); /* the insert was rolled back */
    tu_ok(dbconn_close(db, NULL));
    /* And in the database too: a fresh engine sees the same. */
    tu_ok(dbconn_open(&db, tu_db_url(dir, "exit.db", NULL), NULL));
    assert_int_equal(tu_count_rows(db, "t", NULL), 1);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

static void test_thread_exit_closes_in_every_dbconn(void **state) {
    (void)state;
    worker w = {.ndb = 2};
    tu_ok(dbconn_open(&w.db[0], tu_url(), NULL));
    tu_ok(dbconn_open(&w.db[1], tu_url(), NULL));
    run_thread(worker_main, &w);
    tu_ok(w.rc);
    assert_ptr_not_equal(w.s[0], w.s[1]);
    assert_int_equal(dbconn_scoped_count(w.db[0]), 0);
    assert_int_equal(dbconn_scoped_count(w.db[1]), 0);
    tu_ok(dbconn_close(w.db[0], NULL));
    tu_ok(dbconn_close(w.db[1], NULL));
}

/* A session under an entered task belongs to the task, not the thread: it
 * survives the thread (a task may move between threads). */
static void test_thread_exit_keeps_task_sessions(void **state) {
    (void)state;
    int task;
    dbconn *db = NULL;
    tu_ok(dbconn_open(&db, tu_url(), &quiet_opts));
    worker w = {.db = {db}, .ndb = 1, .task = &task};
    run_thread(worker_main, &w);
    tu_ok(w.rc);
    assert_int_equal(dbconn_scoped_count(db), 1);
    void *prev = dbconn_task_enter(&task);
    dbconn_session *s = NULL;
    tu_ok(dbconn_scoped_session(db, &s));
    assert_ptr_equal(s, w.s[0]);
    tu_ok(dbconn_scoped_remove(db));
    dbconn_task_leave(prev);
    assert_int_equal(dbconn_scoped_count(db), 0);
    tu_ok(dbconn_close(db, NULL));
}

static void *make_and_remove(void *arg) {
    worker *w = arg;
    w->rc = dbconn_scoped_session(w->db[0], &w->s[0]);
    if (w->rc == 0)
        w->rc = dbconn_scoped_remove(w->db[0]);
    if (w->rc == 0 && dbconn_scoped_count(w->db[0]) != 0)
        w->rc = -100;
    /* And again, closing through the session this time. */
    if (w->rc == 0)
        w->rc = dbconn_scoped_session(w->db[0], &w->s[0]);
    if (w->rc == 0)
        dbconn_session_close(w->s[0]);
    return NULL;
}

static void test_thread_exit_after_explicit_remove(void **state) {
    (void)state;
    dbconn *db = NULL;
    tu_ok(dbconn_open(&db, tu_url(), &quiet_opts));
    worker w = {.db = {db}};
    run_thread(make_and_remove, &w);
    tu_ok(w.rc);
    assert_int_equal(dbconn_scoped_count(db), 0);
    tu_ok(dbconn_close(db, NULL));
}

/* dbconn_close while the thread is alive closes its session; the thread's
 * exit afterwards must not touch the freed registry (ASan checks). */
static void test_close_before_thread_exit(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    dbconn *db = NULL;
    tu_ok(dbconn_open(&db, tu_db_url(dir, "close.db", NULL), &quiet_opts));
    create_table(db);
    pthread_barrier_t hold;
    pthread_barrier_init(&hold, NULL, 2);
    worker w = {.db = {db}, .ndb = 1, .sql = "INSERT INTO t VALUES (2)",
                .made = &hold, .release = &hold};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, worker_main, &w), 0);
    pthread_barrier_wait(&hold);
    tu_ok(w.rc);
    tu_ok(dbconn_close(db, NULL));
    pthread_barrier_wait(&hold);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&hold);
    tu_ok(dbconn_open(&db, tu_db_url(dir, "close.db", NULL), NULL));
    assert_int_equal(tu_count_rows(db, "t", NULL), 1);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

/* Threads exiting while dbconn_close runs: whichever side closes a session,
 * it is closed once, and nothing is used after it is freed. */
static void test_thread_exit_races_close(void **state) {
    (void)state;
    enum { THREADS = 8, ROUNDS = 20 };
    for (int round = 0; round < ROUNDS; round++) {
        dbconn *db = NULL;
        tu_ok(dbconn_open(&db, tu_url(), &quiet_opts));
        pthread_barrier_t made;
        pthread_barrier_init(&made, NULL, THREADS + 1);
        worker w[THREADS];
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++) {
            w[i] = (worker){.db = {db}, .ndb = 1, .made = &made};
            assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]),
                             0);
        }
        pthread_barrier_wait(&made); /* every thread has its session */
        tu_ok(dbconn_close(db, NULL)); /* races the threads' exits */
        for (int i = 0; i < THREADS; i++) {
            assert_int_equal(pthread_join(t[i], NULL), 0);
            tu_ok(w[i].rc);
        }
        pthread_barrier_destroy(&made);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        tu_test(test_default_key_is_stable_and_reserved),
        tu_test(test_enter_leave_nesting),
        tu_test(test_enter_null_means_thread_key),
        tu_test(test_scheduler_pattern),
        tu_test(test_current_task_is_per_thread),
        tu_test(test_sequential_thread_keys_unique),
        tu_test(test_thread_exit_closes_sessions),
        tu_test(test_thread_exit_rolls_back_file_db),
        tu_test(test_thread_exit_closes_in_every_dbconn),
        tu_test(test_thread_exit_keeps_task_sessions),
        tu_test(test_thread_exit_after_explicit_remove),
        tu_test(test_close_before_thread_exit),
        tu_test(test_thread_exit_races_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
