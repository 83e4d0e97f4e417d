/* Contention cases tests/test_contention.c and tests/test_pool.c leave out:
 *
 *   - with a rollback journal, another process's open read transaction
 *     makes COMMIT wait busy_timeout_ms and fail with DBCONN_EBUSY; the
 *     session is aborted until rollback, the connection goes back to the
 *     pool, earlier commits survive, and the same work commits once the
 *     reader is done;
 *   - another process holding the write lock makes an explicit
 *     BEGIN IMMEDIATE fail with DBCONN_EBUSY after busy_timeout_ms, with
 *     the session left idle and usable;
 *   - many threads against an exhausted pool: every waiter gets
 *     DBCONN_ETIMEOUT after pool_timeout_ms, the statistics add up, and the
 *     pool serves every thread afterwards with nothing lost.
 *
 * The child processes are forked before this process starts any thread.
 * */
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static dbconn_stats stats(dbconn *db) {
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    return st;
}

static char *group(dbconn_session *s) {
    static char buf[256];
    dbconn_result *r;
    tu_ok(dbconn_exec(s, "SELECT coalesce(group_concat(x), '') FROM (SELECT x "
                         "FROM t ORDER BY x)",
                      NULL, 0, &r));
    snprintf(buf, sizeof buf, "%s", dbconn_result_text(r, 0, 0));
    dbconn_result_free(r);
    tu_ok(dbconn_commit(s));
    return buf;
}

static void test_other_process_reader_blocks_commit(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char path[4200], url[4300];
    snprintf(path, sizeof path, "%s/r.db", dir);
    snprintf(url, sizeof url, "%s?journal_mode=delete",
             tu_file_url(dir, "r.db"));
    dbconn *db;
    dbconn_session *s;
    tu_open_with_t(url, 150, &db, &s);

    int fd;
    long long seen;
    pid_t pid = tu_hold_in_child(path, "SELECT count(*) FROM t", &fd, &seen);
    assert_int_equal(seen, 1);
    /* The write itself proceeds (RESERVED next to a SHARED lock)... */
    tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    /* ...the commit needs the reader gone: it waits, then EBUSY. */
    uint64_t t0 = uv_hrtime();
    assert_int_equal(dbconn_commit(s), DBCONN_EBUSY);
    assert_true(uv_hrtime() - t0 >= 140 * 1000000ull);
    assert_non_null(strstr(dbconn_errmsg(db), "busy_timeout_ms"));
    assert_int_equal(dbconn_db_errcode(db) & 0xff, SQLITE_BUSY);
    /* Aborted until rolled back; the rollback returns the connection. */
    assert_int_equal(dbconn_commit(s), DBCONN_EABORTED);
    assert_int_equal(dbconn_exec(s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_EABORTED);
    tu_ok(dbconn_rollback(s));
    assert_false(dbconn_in_transaction(s));
    assert_int_equal(stats(db).checked_out, 0);
    tu_release_child(pid, fd);

    /* The first commit survived, the failed one left nothing; it can be
     * done again now. */
    assert_string_equal(group(s), "1");
    tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    assert_string_equal(group(s), "1,2");
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));

    /* And another process sees exactly that. */
    pid = tu_hold_in_child(path, "SELECT sum(x) FROM t", &fd, &seen);
    assert_int_equal(seen, 3);
    tu_release_child(pid, fd);
    tu_rmdir(dir);
}

static void test_other_process_writer_blocks_begin_immediate(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/w.db", dir);
    dbconn *db;
    dbconn_session *s;
    tu_open_with_t(tu_file_url(dir, "w.db"), 120, &db, &s);

    int fd;
    long long seen;
    /* INSERT ... RETURNING: the child holds the write lock. */
    pid_t pid = tu_hold_in_child(path, "INSERT INTO t VALUES (100) RETURNING x", &fd,
                     &seen);
    assert_int_equal(seen, 100);
    uint64_t t0 = uv_hrtime();
    assert_int_equal(dbconn_begin(s, DBCONN_BEGIN_IMMEDIATE), DBCONN_EBUSY);
    assert_true(uv_hrtime() - t0 >= 110 * 1000000ull);
    assert_non_null(strstr(dbconn_errmsg(db), "busy_timeout_ms"));
    /* Nothing was begun; the session and the pool are as before. */
    assert_false(dbconn_in_transaction(s));
    assert_int_equal(stats(db).checked_out, 0);
    /* Readers are not blocked by the other writer (WAL). */
    assert_string_equal(group(s), "1");
    tu_release_child(pid, fd);
    tu_ok(dbconn_begin(s, DBCONN_BEGIN_IMMEDIATE));
    tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    assert_string_equal(group(s), "1,2,100");
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

/* ---- pool exhaustion under threads ---------------------------------------- */

#define NTHREADS 6
#define PER_THREAD 30

typedef struct worker {
    dbconn *db;
    int id;
    int phase;          /* 1: one attempt against a full pool; 2: work */
    int rc1;            /* phase 1 result */
    uint64_t waited_ns; /* phase 1 */
    int timeouts;       /* phase 2 retries after DBCONN_ETIMEOUT */
    int other_errors;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    dbconn_session *s;
    if (dbconn_session_open(w->db, &s) != 0) {
        w->other_errors++;
        return NULL;
    }
    if (w->phase == 1) {
        uint64_t t0 = uv_hrtime();
        w->rc1 = dbconn_exec(s, "SELECT 1", NULL, 0, NULL);
        w->waited_ns = uv_hrtime() - t0;
        dbconn_session_close(s);
        return NULL;
    }
    for (int i = 0; i < PER_THREAD;) {
        int rc = dbconn_exec(s, "INSERT INTO t (thread, seq) VALUES (?, ?)",
                             DBCONN_PARAMS(DBCONN_INT(w->id), DBCONN_INT(i)),
                             NULL);
        if (rc == 0)
            rc = dbconn_commit(s);
        if (rc == 0) {
            i++;
            continue;
        }
        /* Only the pool may say "not now" (the session was never begun). */
        if (rc == DBCONN_ETIMEOUT && !dbconn_in_transaction(s))
            w->timeouts++;
        else
            w->other_errors++;
        dbconn_rollback(s);
        if (w->other_errors > 5)
            break;
    }
    dbconn_session_close(s);
    return NULL;
}

static void run_workers(worker *w, int phase) {
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i].phase = phase;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
}

static void test_pool_exhaustion_under_threads_recovers(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    dbconn *db;
    dbconn_session *a, *b;
    dbconn_options o = {.pool_size = 2, .max_overflow = DBCONN_NONE,
                        .pool_timeout_ms = 100};
    tu_ok(dbconn_open(&db, tu_file_url(dir, "p.db"), &o));
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "CREATE TABLE t (thread INTEGER, seq INTEGER, "
                         "UNIQUE (thread, seq))",
                      NULL, 0, NULL));
    tu_ok(dbconn_commit(a));

    /* Phase 1: both connections held here; every thread waits, times out. */
    tu_ok(dbconn_exec(a, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_exec(b, "SELECT 1", NULL, 0, NULL));
    worker w[NTHREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < NTHREADS; i++) {
        w[i].db = db;
        w[i].id = i;
    }
    run_workers(w, 1);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(w[i].rc1, DBCONN_ETIMEOUT);
        assert_true(w[i].waited_ns >= 95 * 1000000ull);
    }
    dbconn_stats st = stats(db);
    assert_int_equal(st.timeouts, NTHREADS);
    assert_int_equal(st.waiters, 0);
    assert_int_equal(st.checked_out, 2);
    assert_int_equal(st.size, 2);
    tu_ok(dbconn_commit(a));
    tu_ok(dbconn_commit(b));

    /* Phase 2: the same pool serves every thread; a timeout (possible on a
     * slow machine) is retried, and nothing is lost or doubled. */
    run_workers(w, 2);
    int retried = 0;
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(w[i].other_errors, 0);
        retried += w[i].timeouts;
    }
    dbconn_result *r;
    tu_ok(dbconn_exec(a, "SELECT count(*), count(DISTINCT thread) FROM t", NULL,
                      0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), NTHREADS * PER_THREAD);
    assert_int_equal(dbconn_result_int(r, 0, 1), NTHREADS);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(a));
    st = stats(db);
    assert_int_equal(st.timeouts, (uint64_t)(NTHREADS + retried));
    assert_int_equal(st.waiters, 0);
    assert_int_equal(st.checked_out, 0);
    assert_true(st.size <= 2);
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        /* the forking tests first: no thread has started yet */
        cmocka_unit_test(test_other_process_reader_blocks_commit),
        cmocka_unit_test(test_other_process_writer_blocks_begin_immediate),
        cmocka_unit_test(test_pool_exhaustion_under_threads_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
