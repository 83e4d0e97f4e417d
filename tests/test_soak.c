/* Soak: everything at once on one WAL file, for a bounded time.
 *
 *   - WORKERS threads, each with its thread-scoped session, run
 *     transactions: INSERT a row, sometimes a slow SELECT under a random
 *     statement timeout, then COMMIT (or, one time in eight, a deliberate
 *     ROLLBACK);
 *   - on the main thread a libuv loop runs ASYNC sessions that pipeline the
 *     same transaction (INSERT, slow SELECT, COMMIT) round after round;
 *   - a canceller thread calls dbconn_cancel on a random worker's session
 *     every 4-20 ms, and a loop timer cancels a random async session
 *     every 5 ms;
 *   - a checkpointer thread runs PRAGMA wal_checkpoint(TRUNCATE) in a
 *     loop, on top of wal_autocheckpoint=16 on every connection.
 *
 * A transaction fails only in the ways this load provokes (statement
 * timeout, cancel, the rest aborted, a lock or the pool busy); anything
 * else fails the test.  At the end every acknowledged commit's row is in
 * the table and nothing else is, PRAGMA integrity_check says ok, the
 * dbconn closes with 0 and the loop closes with 0 (and, under the
 * sanitizers, nothing is reported).
 *
 * DBCONN_SOAK_SECONDS sets the duration (default 3; .ci/run's soak stage
 * runs it for 60 s under ASan and TSan at once). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

enum { WORKERS = 3, ASYNC = 6, MAXACK = 1 << 18 };

static const char SLOW_SQL[] =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < ?) SELECT count(*) FROM c";
static const char INSERT_SQL[] =
    "INSERT INTO soak (id, origin, pad) VALUES (?, ?, 'soak')";

static dbconn *db;
static double deadline;
static atomic_bool stop_all;
static atomic_int bad; /* unexpected outcomes */

/* Acknowledged commits: the ids whose COMMIT returned 0. */
static pthread_mutex_t ack_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t *acked;
static size_t nacked;
static atomic_long commits, failures, timeouts, cancels_hit;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned next_rand(unsigned *r) {
    *r = *r * 1103515245u + 12345u;
    return (*r >> 16) & 0x7fff;
}

static void ack(int64_t id) {
    pthread_mutex_lock(&ack_lock);
    if (nacked < MAXACK)
        acked[nacked++] = id;
    else
        atomic_fetch_add(&bad, 1);
    pthread_mutex_unlock(&ack_lock);
    atomic_fetch_add(&commits, 1);
}

/* What the load may cause; anything else is a defect. */
static void expect_provoked(int rc, const char *what, const char *msg) {
    switch (rc) {
    case DBCONN_ESTMTTIMEOUT:
        atomic_fetch_add(&timeouts, 1);
        break;
    case DBCONN_EINTERRUPTED:
        atomic_fetch_add(&cancels_hit, 1);
        break;
    case DBCONN_EABORTED:
    case DBCONN_EBUSY:
    case DBCONN_ETIMEOUT:
        break;
    default:
        fprintf(stderr, "soak: %s: %s: %s\n", what, dbconn_err_name(rc), msg);
        atomic_fetch_add(&bad, 1);
        return;
    }
    atomic_fetch_add(&failures, 1);
}

/* ---- worker threads ------------------------------------------------------ */

typedef struct worker {
    int index;
    pthread_t thread;
    pthread_mutex_t lock;     /* guards `live` against the canceller */
    dbconn_session *live;     /* the session while it may be cancelled */
} worker;

static worker workers[WORKERS];

/* One transaction; its row's id is acknowledged only when COMMIT said 0. */
static void worker_tx(dbconn_session *s, int64_t id, unsigned *rnd) {
    int rc;
    (void)dbconn_session_set_statement_timeout(s, 1 + (int)(next_rand(rnd) %
                                                            40));
    rc = dbconn_exec(s, INSERT_SQL,
                     DBCONN_PARAMS(DBCONN_INT(id), DBCONN_INT(id >> 32)),
                     NULL);
    if (rc == 0 && next_rand(rnd) % 2)
        rc = dbconn_exec(s, SLOW_SQL,
                         DBCONN_PARAMS(DBCONN_INT(
                             1000 + (int64_t)(next_rand(rnd) % 200) * 1000)),
                         NULL);
    if (rc == 0 && next_rand(rnd) % 8 == 0) {
        rc = dbconn_rollback(s); /* deliberate: the row must be absent */
        if (rc)
            expect_provoked(rc, "ROLLBACK", dbconn_session_errmsg(s));
        return;
    }
    if (rc == 0)
        rc = dbconn_commit(s);
    if (rc == 0) {
        ack(id);
        return;
    }
    expect_provoked(rc, "worker transaction", dbconn_session_errmsg(s));
    rc = dbconn_rollback(s);
    if (rc)
        expect_provoked(rc, "ROLLBACK after a failure",
                        dbconn_session_errmsg(s));
}

static void *worker_main(void *arg) {
    worker *w = arg;
    unsigned rnd = 7919u * (unsigned)(w->index + 1);
    dbconn_session *s;
    if (dbconn_scoped_session(db, &s) != 0) {
        atomic_fetch_add(&bad, 1);
        return NULL;
    }
    pthread_mutex_lock(&w->lock);
    w->live = s;
    pthread_mutex_unlock(&w->lock);
    int64_t seq = 0;
    while (!atomic_load(&stop_all) && now_s() < deadline)
        worker_tx(s, ((int64_t)(w->index + 1) << 32) | ++seq, &rnd);
    pthread_mutex_lock(&w->lock);
    w->live = NULL;
    pthread_mutex_unlock(&w->lock);
    if (dbconn_scoped_remove(db) != 0)
        atomic_fetch_add(&bad, 1);
    return NULL;
}

static void *canceller_main(void *arg) {
    (void)arg;
    unsigned rnd = 104729u;
    while (!atomic_load(&stop_all) && now_s() < deadline) {
        worker *w = &workers[next_rand(&rnd) % WORKERS];
        pthread_mutex_lock(&w->lock);
        if (w->live && dbconn_cancel(w->live) != 0)
            atomic_fetch_add(&bad, 1);
        pthread_mutex_unlock(&w->lock);
        struct timespec ts = {0, (long)(4 + next_rand(&rnd) % 16) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static atomic_long checkpoints;

static void *checkpointer_main(void *arg) {
    (void)arg;
    dbconn_session *s;
    if (dbconn_session_open(db, &s) != 0) {
        atomic_fetch_add(&bad, 1);
        return NULL;
    }
    while (!atomic_load(&stop_all) && now_s() < deadline) {
        int rc = dbconn_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, 0,
                             NULL);
        if (rc == 0)
            rc = dbconn_commit(s);
        if (rc == 0)
            atomic_fetch_add(&checkpoints, 1);
        else if (rc != DBCONN_EBUSY && rc != DBCONN_ETIMEOUT) {
            fprintf(stderr, "soak: checkpoint: %s: %s\n", dbconn_err_name(rc),
                    dbconn_session_errmsg(s));
            atomic_fetch_add(&bad, 1);
        }
        if (rc)
            (void)dbconn_rollback(s);
        struct timespec ts = {0, 3000000L};
        nanosleep(&ts, NULL);
    }
    dbconn_session_close(s);
    return NULL;
}

/* ---- async sessions on the loop ------------------------------------------ */

typedef struct atask {
    dbconn_session *s;
    int index;
    int64_t seq, id;
    int insert_rc, slow_rc;
    bool running; /* a round (or its rollback) is in flight */
    unsigned rnd;
} atask;

static atask tasks[ASYNC];
static uv_loop_t loop;
static uv_timer_t cancel_timer;
static unsigned loop_rnd = 15485863u;

static void round_start(atask *t);

static void on_insert(int status, dbconn_result *res, void *data) {
    dbconn_result_free(res);
    ((atask *)data)->insert_rc = status;
}

static void on_slow(int status, dbconn_result *res, void *data) {
    dbconn_result_free(res);
    ((atask *)data)->slow_rc = status;
}

static void on_rolled_back(int status, void *data) {
    atask *t = data;
    if (status)
        expect_provoked(status, "async ROLLBACK", dbconn_session_errmsg(t->s));
    t->running = false;
    round_start(t);
}

static void on_commit(int status, void *data) {
    atask *t = data;
    if (status == 0 && t->insert_rc == 0 && t->slow_rc == 0) {
        ack(t->id);
        t->running = false;
        round_start(t);
        return;
    }
    if (status == 0) { /* a commit cannot succeed after a failed statement */
        fprintf(stderr, "soak: async COMMIT succeeded after %s / %s\n",
                dbconn_err_name(t->insert_rc), dbconn_err_name(t->slow_rc));
        atomic_fetch_add(&bad, 1);
    } else {
        int first = t->insert_rc ? t->insert_rc
                    : t->slow_rc ? t->slow_rc
                                 : status;
        expect_provoked(first, "async transaction",
                        dbconn_session_errmsg(t->s));
    }
    if (dbconn_rollback_async(t->s, on_rolled_back, t) != 0) {
        atomic_fetch_add(&bad, 1);
        t->running = false;
    }
}

static void round_start(atask *t) {
    if (atomic_load(&stop_all) || now_s() >= deadline)
        return;
    t->running = true;
    t->id = ((int64_t)(WORKERS + 1 + t->index) << 32) | ++t->seq;
    t->insert_rc = t->slow_rc = -999;
    (void)dbconn_session_set_statement_timeout(t->s, 1 + (int)(next_rand(
                                                         &t->rnd) % 40));
    int64_t n = 1000 + (int64_t)(next_rand(&t->rnd) % 200) * 1000;
    if (dbconn_exec_async(t->s, INSERT_SQL,
                          DBCONN_PARAMS(DBCONN_INT(t->id),
                                        DBCONN_INT(t->id >> 32)),
                          on_insert, t) != 0 ||
        dbconn_exec_async(t->s, SLOW_SQL, DBCONN_PARAMS(DBCONN_INT(n)),
                          on_slow, t) != 0 ||
        dbconn_commit_async(t->s, on_commit, t) != 0) {
        fprintf(stderr, "soak: submitting: %s\n", dbconn_errmsg(NULL));
        atomic_fetch_add(&bad, 1);
        t->running = false;
    }
}

static void on_cancel_timer(uv_timer_t *h) {
    if (now_s() >= deadline) {
        uv_timer_stop(h);
        return;
    }
    atask *t = &tasks[next_rand(&loop_rnd) % ASYNC];
    if (dbconn_cancel(t->s) != 0)
        atomic_fetch_add(&bad, 1);
}

/* ---- the checks ---------------------------------------------------------- */

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The table holds exactly the acknowledged ids. */
static void check_rows(void) {
    dbconn_session *s;
    dbconn_result *res = NULL;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "SELECT id FROM soak ORDER BY id", NULL, 0, &res));
    size_t n = dbconn_result_nrows(res);
    qsort(acked, nacked, sizeof *acked, cmp64);
    size_t missing = 0, extra = 0, i = 0, j = 0;
    while (i < nacked || j < n) {
        int64_t want = i < nacked ? acked[i] : INT64_MAX;
        int64_t have = j < n ? dbconn_result_int(res, j, 0) : INT64_MAX;
        if (want == have) {
            i++, j++;
        } else if (want < have) {
            if (missing++ < 5)
                fprintf(stderr, "soak: acknowledged id %lld is missing\n",
                        (long long)want);
            i++;
        } else {
            if (extra++ < 5)
                fprintf(stderr, "soak: id %lld is there, never acknowledged\n",
                        (long long)have);
            j++;
        }
    }
    dbconn_result_free(res);
    assert_int_equal(missing, 0);
    assert_int_equal(extra, 0);
    tu_ok(dbconn_exec(s, "PRAGMA integrity_check", NULL, 0, &res));
    assert_string_equal(dbconn_result_text(res, 0, 0), "ok");
    dbconn_result_free(res);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
}

static void test_soak(void **state) {
    (void)state;
    const char *env = getenv("DBCONN_SOAK_SECONDS");
    double seconds = env && atof(env) > 0 ? atof(env) : 3.0;
    acked = malloc(sizeof *acked * MAXACK);
    assert_non_null(acked);
    const char *dir = tu_tmpdir();
    char url[4200];
    snprintf(url, sizeof url, "%s?journal_mode=wal&synchronous=normal"
                              "&pragma.wal_autocheckpoint=16",
             tu_file_url(dir, "soak.db"));
    assert_int_equal(uv_loop_init(&loop), 0);
    dbconn_options o = {.loop = &loop, .pool_size = 8, .max_overflow = 4,
                        .busy_timeout_ms = 2000, .pool_timeout_ms = 5000};
    tu_ok(dbconn_open(&db, url, &o));
    dbconn_session *s;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE soak (id INTEGER PRIMARY KEY, "
                         "origin INTEGER NOT NULL, pad TEXT)",
                      NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);

    deadline = now_s() + seconds;
    for (int i = 0; i < WORKERS; i++) {
        workers[i].index = i;
        pthread_mutex_init(&workers[i].lock, NULL);
        assert_int_equal(pthread_create(&workers[i].thread, NULL, worker_main,
                                        &workers[i]),
                         0);
    }
    pthread_t canceller, checkpointer;
    assert_int_equal(pthread_create(&canceller, NULL, canceller_main, NULL),
                     0);
    assert_int_equal(
        pthread_create(&checkpointer, NULL, checkpointer_main, NULL), 0);
    for (int i = 0; i < ASYNC; i++) {
        tasks[i].index = i;
        tasks[i].rnd = 31u * (unsigned)(i + 1);
        tu_ok(dbconn_session_open(db, &tasks[i].s));
    }
    for (int i = 0; i < ASYNC; i++)
        round_start(&tasks[i]);
    assert_int_equal(uv_timer_init(&loop, &cancel_timer), 0);
    assert_int_equal(uv_timer_start(&cancel_timer, on_cancel_timer, 5, 5), 0);
    /* The rounds stop starting at the deadline; the loop then runs out of
     * work by itself (the cancel timer stops there too). */
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < ASYNC; i++)
        assert_false(tasks[i].running);
    atomic_store(&stop_all, true);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(workers[i].thread, NULL), 0);
    assert_int_equal(pthread_join(canceller, NULL), 0);
    assert_int_equal(pthread_join(checkpointer, NULL), 0);
    for (int i = 0; i < ASYNC; i++)
        dbconn_session_close(tasks[i].s);
    uv_close((uv_handle_t *)&cancel_timer, NULL);

    fprintf(stderr,
            "soak: %.0f s: %ld commits, %ld failed transactions (%ld "
            "statement timeouts, %ld cancels), %ld checkpoints\n",
            seconds, atomic_load(&commits), atomic_load(&failures),
            atomic_load(&timeouts), atomic_load(&cancels_hit),
            atomic_load(&checkpoints));
    assert_int_equal(atomic_load(&bad), 0);
    /* The load did what it is there for. */
    assert_true(atomic_load(&commits) > 0);
    assert_true(atomic_load(&timeouts) + atomic_load(&cancels_hit) > 0);
    check_rows();
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    for (int i = 0; i < WORKERS; i++)
        pthread_mutex_destroy(&workers[i].lock);
    free(acked);
    tu_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_soak)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
