/* The pool: exhaustion and timeout, overflow, recycle, pre-ping, threads
 * hammering one file database, the WAL index surviving the pool's churn,
 * and the in-memory (memdb) semantics.  Runs on both engines; the memdb
 * and WAL tests are SQLite's own and skip on a server. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* SQLite's log: how many times a connection rebuilt a WAL index from its
 * WAL (SQLITE_NOTICE_RECOVER_WAL). */
static atomic_int wal_recoveries;

static void sqlite_log(void *arg, int code, const char *msg) {
    (void)arg;
    (void)msg;
    if (code == SQLITE_NOTICE_RECOVER_WAL)
        atomic_fetch_add(&wal_recoveries, 1);
}

static dbconn_stats stats(dbconn *db) {
    dbconn_stats st;
    assert_int_equal(dbconn_pool_stats(db, &st), 0);
    return st;
}

static void test_exhaustion_times_out_then_recovers(void **state) {
    (void)state;
    dbconn *db;
    dbconn_options o = {.pool_size = 1, .max_overflow = DBCONN_NONE,
                        .pool_timeout_ms = 50};
    dbconn_session *a, *b;
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "SELECT 1", NULL, 0, NULL));
    uint64_t t0 = uv_hrtime();
    assert_int_equal(dbconn_exec(b, "SELECT 1", NULL, 0, NULL), DBCONN_ETIMEOUT);
    assert_true(uv_hrtime() - t0 >= 45 * 1000000ull);
    assert_non_null(strstr(dbconn_errmsg(db), "pool_timeout_ms"));
    assert_false(dbconn_in_transaction(b)); /* nothing was begun */
    dbconn_stats st = stats(db);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.checked_out, 1);
    assert_int_equal(st.size, 1);
    tu_ok(dbconn_commit(a));
    tu_ok(dbconn_exec(b, "SELECT 1", NULL, 0, NULL)); /* works again */
    tu_ok(dbconn_commit(b));
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
}

static void test_no_wait_timeout(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *a, *b;
    dbconn_options o = {0};
    tu_ok(dbconn_options_set(&o, "pool_size", "1"));
    tu_ok(dbconn_options_set(&o, "max_overflow", "0"));
    tu_ok(dbconn_options_set(&o, "pool_timeout", "0"));
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "SELECT 1", NULL, 0, NULL));
    assert_int_equal(dbconn_exec(b, "SELECT 1", NULL, 0, NULL), DBCONN_ETIMEOUT);
    dbconn_session_close(a); /* rolls back, returns the connection */
    tu_ok(dbconn_exec(b, "SELECT 1", NULL, 0, NULL));
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
}

static void test_overflow_closes_on_checkin(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s[4];
    dbconn_options o = {.pool_size = 2, .max_overflow = 2};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    for (int i = 0; i < 4; i++) {
        tu_ok(dbconn_session_open(db, &s[i]));
        tu_ok(dbconn_exec(s[i], "SELECT 1", NULL, 0, NULL));
    }
    dbconn_stats st = stats(db);
    assert_int_equal(st.size, 4);
    assert_int_equal(st.overflow, 2);
    assert_int_equal(st.checked_out, 4);
    for (int i = 0; i < 4; i++)
        dbconn_session_close(s[i]);
    st = stats(db);
    assert_int_equal(st.size, 2);
    assert_int_equal(st.overflow, 0);
    assert_int_equal(st.checked_out, 0);
    tu_ok(dbconn_close(db, NULL));
}

static void test_memdb_shared_data_own_transactions(void **state) {
    (void)state;
    dbconn *db, *other;
    dbconn_session *a, *b, *c;
    dbconn_result *r;
    if (!tu_is_sqlite())
        skip(); /* SQLite's in-memory database: a server has no memdb */
    tu_ok(dbconn_open(&db, "sqlite+aiosqlite://", NULL));
    tu_ok(dbconn_open(&other, "sqlite:///:memory:", NULL));
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_session_open(other, &c));
    tu_ok(dbconn_exec(a, "CREATE TABLE t (x)", NULL, 0, NULL));
    tu_ok(dbconn_exec(a, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(a));
    /* b sees a's committed data: one database per engine */
    tu_ok(dbconn_exec(b, "SELECT count(*) FROM t", NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(b));
    /* another engine has its own database */
    assert_int_equal(dbconn_exec(c, "SELECT count(*) FROM t", NULL, 0, NULL),
                     DBCONN_EDB);
    tu_ok(dbconn_rollback(c));
    /* b's rollback does not discard a's committed work (unlike StaticPool) */
    tu_ok(dbconn_exec(a, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_commit(a));
    tu_ok(dbconn_exec(b, "INSERT INTO t VALUES (3)", NULL, 0, NULL));
    tu_ok(dbconn_rollback(b));
    tu_ok(dbconn_exec(a, "SELECT group_concat(x) FROM t", NULL, 0, &r));
    assert_string_equal(dbconn_result_text(r, 0, 0), "1,2");
    dbconn_result_free(r);
    tu_ok(dbconn_commit(a));
    dbconn_session_close(a);
    dbconn_session_close(b);
    dbconn_session_close(c);
    tu_ok(dbconn_close(db, NULL));
    tu_ok(dbconn_close(other, NULL));
}

/* memdb has no WAL: an open read transaction makes another session's commit
 * wait busy_timeout_ms and then fail with DBCONN_EBUSY (documented). */
static void test_memdb_reader_blocks_commit(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *reader, *writer;
    dbconn_options o = {.busy_timeout_ms = 100};
    if (!tu_is_sqlite())
        skip(); /* memdb's database lock: a server's readers block no one */
    tu_ok(dbconn_open(&db, "sqlite://", &o));
    tu_ok(dbconn_session_open(db, &reader));
    tu_ok(dbconn_session_open(db, &writer));
    tu_ok(dbconn_exec(writer, "CREATE TABLE t (x)", NULL, 0, NULL));
    tu_ok(dbconn_commit(writer));
    tu_ok(dbconn_exec(reader, "SELECT count(*) FROM t", NULL, 0, NULL));
    tu_ok(dbconn_exec(writer, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
    uint64_t t0 = uv_hrtime();
    assert_int_equal(dbconn_commit(writer), DBCONN_EBUSY);
    assert_true(uv_hrtime() - t0 >= 90 * 1000000ull);
    assert_non_null(strstr(dbconn_errmsg(db), "locked"));
    tu_ok(dbconn_rollback(writer));
    tu_ok(dbconn_commit(reader));
    /* once the reader is done, the same work commits */
    tu_ok(dbconn_exec(writer, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(writer));
    dbconn_session_close(reader);
    dbconn_session_close(writer);
    tu_ok(dbconn_close(db, NULL));
}

static void test_recycle_and_pre_ping(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    char url[4200];
    snprintf(url, sizeof url, "%s%spool_recycle_s=1&pool_pre_ping=true",
             tu_url(), strchr(tu_url(), '?') ? "&" : "?");
    tu_ok(dbconn_open(&db, url, NULL));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TEMP TABLE marker (x INTEGER)", NULL, 0,
                      NULL));
    tu_ok(dbconn_commit(s));
    tu_ok(dbconn_exec(s, "SELECT count(*) FROM marker", NULL, 0, NULL));
    tu_ok(dbconn_commit(s)); /* same connection: the temp table is there */
    uv_sleep(1100);
    /* recycled: a new connection has no temp table */
    assert_int_equal(dbconn_exec(s, "SELECT count(*) FROM marker", NULL, 0,
                                 NULL),
                     DBCONN_EDB);
    tu_ok(dbconn_rollback(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

typedef struct hammer {
    dbconn *db;
    int id;
    int rows;
    int failures;
} hammer;

static void *hammer_main(void *arg) {
    hammer *h = arg;
    dbconn_session *s;
    if (dbconn_session_open(h->db, &s))
        return NULL;
    for (int i = 0; i < h->rows; i++) {
        int rc = dbconn_exec(s, "INSERT INTO t (thread, seq) VALUES (?, ?)",
                             DBCONN_PARAMS(DBCONN_INT(h->id), DBCONN_INT(i)),
                             NULL);
        if (!rc && (i % 3 == 0))
            rc = dbconn_exec(s, "SELECT count(*) FROM t WHERE thread = ?",
                             DBCONN_PARAMS(DBCONN_INT(h->id)), NULL);
        if (!rc)
            rc = dbconn_commit(s);
        if (rc) {
            h->failures++;
            dbconn_rollback(s);
        }
    }
    dbconn_session_close(s);
    return NULL;
}

static void hammer_file(int nthreads) {
    const char *dir = tu_tmpdir();
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.pool_size = 4};
    tu_ok(dbconn_open(&db, tu_db_url(dir, "h.db", NULL), &o));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE t (thread INTEGER, seq INTEGER, "
                         "UNIQUE (thread, seq))",
                      NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    pthread_t th[8];
    hammer h[8];
    for (int i = 0; i < nthreads; i++) {
        h[i] = (hammer){db, i, 200, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(h[i].failures, 0);
    }
    dbconn_result *r;
    tu_ok(dbconn_exec(s, "SELECT count(*), count(DISTINCT thread) FROM t", NULL,
                      0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), nthreads * 200);
    assert_int_equal(dbconn_result_int(r, 0, 1), nthreads);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(s));
    dbconn_stats st = stats(db);
    /* on SQLite the writers of this process queue at the write gate, never
     * in SQLite's busy handler; a server has no busy handler (always 0) */
    assert_int_equal(st.busy_handler_calls, 0);
    if (st.size > 4 + 10)
        fail_msg("pool size %d", st.size);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

/* Every pooled connection of a WAL file closes (recycled) while the engine
 * lives: the engine's anchor keeps the WAL and its index open, so the next
 * connection does not rebuild the index from the WAL -- a recovery during
 * which every other reader meets SQLite's busy handler. */
static void test_wal_index_survives_recycling(void **state) {
    (void)state;
    if (!tu_is_sqlite())
        skip(); /* SQLite's WAL file and its index: a server keeps its own */
    const char *dir = tu_tmpdir();
    char url[4200];
    snprintf(url, sizeof url, "%s?pool_recycle_s=1",
             tu_file_url(dir, "r.db"));
    dbconn_options o = {.pool_size = 1, .max_overflow = DBCONN_NONE};
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, url, &o));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec_script(s, "CREATE TABLE t (x);"
                                "INSERT INTO t VALUES (1), (2), (3);"));
    tu_ok(dbconn_commit(s));
    int before = atomic_load(&wal_recoveries);
    uv_sleep(1100); /* past pool_recycle_s: the only connection is replaced */
    assert_int_equal(tu_count_rows(db, "t", NULL), 3);
    assert_int_equal(atomic_load(&wal_recoveries), before);
    assert_int_equal(stats(db).busy_handler_calls, 0);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    /* the last close checkpointed the WAL away */
    char wal[4300];
    snprintf(wal, sizeof wal, "%s/r.db-wal", dir);
    assert_int_equal(access(wal, F_OK), -1);
    tu_rmdir(dir);
}

static void test_threads_hammer_file_2(void **state) {
    (void)state;
    hammer_file(2);
}

static void test_threads_hammer_file_8(void **state) {
    (void)state;
    hammer_file(8);
}

int main(void) {
    sqlite3_config(SQLITE_CONFIG_LOG, sqlite_log, NULL);
    const struct CMUnitTest tests[] = {
        tu_test(test_exhaustion_times_out_then_recovers),
        tu_test(test_no_wait_timeout),
        tu_test(test_overflow_closes_on_checkin),
        tu_test(test_memdb_shared_data_own_transactions),
        tu_test(test_memdb_reader_blocks_commit),
        tu_test(test_recycle_and_pre_ping),
        tu_test(test_wal_index_survives_recycling),
        tu_test(test_threads_hammer_file_2),
        tu_test(test_threads_hammer_file_8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
