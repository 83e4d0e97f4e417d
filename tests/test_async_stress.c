/* Randomized async stress with the loop interfering, on a file database:
 * 120 sessions pipeline INSERT, SELECT (some slow), INSERT and COMMIT or
 * ROLLBACK at once, on 6 pooled connections with short gate timeouts; every
 * callback then may close its session, queue more work on a random other
 * session, or (in the closing runs) close every session and the dbconn.
 * Whatever the interleaving -- chains, parked waits timing out, closes in
 * the middle of jobs -- every accepted operation's callback runs exactly
 * once, the loop ends by itself and closes cleanly, and (under the
 * sanitizers and valgrind) nothing leaks.  Seeds are fixed: a failure is
 * reproducible by its seed, printed on failure. */
#include <string.h>
#include <unistd.h>

#include "testutil.h"

enum { N = 120, OPS = 4 };

typedef struct run {
    dbconn *db;
    dbconn_session *ss[N];
    int calls[N][OPS];
    int extra_submitted; /* ops without callbacks, queued by interfere() */
    unsigned rnd;
    bool may_close, closed;
} run;

typedef struct ref {
    run *r;
    int *slot; /* a calls[][] cell, or NULL for extra work */
    int session;
} ref;

static ref refs[N][OPS];

static unsigned next_rnd(run *r) {
    r->rnd = r->rnd * 1103515245u + 12345u;
    return r->rnd >> 8;
}

static void interfere(run *r, int i) {
    unsigned x = next_rnd(r) % 100;
    if (x < 10 && r->ss[i]) {
        dbconn_session_close(r->ss[i]);
        r->ss[i] = NULL;
    } else if (x < 25 && !r->closed) {
        int j = (int)(next_rnd(r) % N);
        if (r->ss[j] && dbconn_exec_async(r->ss[j], "INSERT INTO t (v) "
                                                    "VALUES ('x')",
                                          NULL, 0, NULL, NULL) == 0) {
            r->extra_submitted++;
            if (dbconn_commit_async(r->ss[j], NULL, NULL) == 0)
                r->extra_submitted++;
        }
    } else if (x < 27 && r->may_close && !r->closed) {
        r->closed = true;
        for (int k = 0; k < N; k++)
            if (r->ss[k]) {
                dbconn_session_close(r->ss[k]);
                r->ss[k] = NULL;
            }
        assert_int_equal(dbconn_close(r->db, NULL), 0);
    }
}

static void on_exec(int status, dbconn_result *res, void *data) {
    ref *f = data;
    (void)status;
    dbconn_result_free(res);
    (*f->slot)++;
    interfere(f->r, f->session);
}

static void on_done(int status, void *data) { on_exec(status, NULL, data); }

static void one_run(unsigned seed, bool may_close) {
    static run r;
    memset(&r, 0, sizeof r);
    r.rnd = seed;
    r.may_close = may_close;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    const char *dir = tu_tmpdir();
    char url[4400];
    snprintf(url, sizeof url,
             "%s?pool_size=6&max_overflow=0&pool_timeout_ms=2000&"
             "busy_timeout_ms=%u",
             tu_file_url(dir, "s.db"), 3 + next_rnd(&r) % 20);
    dbconn_options o = {.loop = &loop};
    tu_ok(dbconn_open(&r.db, url, &o));
    dbconn_session *s;
    tu_ok(dbconn_session_open(r.db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", NULL,
                      0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < OPS; k++)
            refs[i][k] = (ref){&r, &r.calls[i][k], i};
        tu_ok(dbconn_session_open(r.db, &r.ss[i]));
        tu_ok(dbconn_exec_async(r.ss[i], "INSERT INTO t (v) VALUES ('a')",
                                NULL, 0, on_exec, &refs[i][0]));
        tu_ok(dbconn_exec_async(
            r.ss[i],
            i % 7 ? "SELECT count(*) FROM t"
                  : "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                    "FROM c WHERE x < 20000) SELECT count(*) FROM c",
            NULL, 0, on_exec, &refs[i][1]));
        tu_ok(dbconn_exec_async(r.ss[i], "INSERT INTO t (v) VALUES ('b')",
                                NULL, 0, on_exec, &refs[i][2]));
        if (i % 5 == 0)
            tu_ok(dbconn_rollback_async(r.ss[i], on_done, &refs[i][3]));
        else
            tu_ok(dbconn_commit_async(r.ss[i], on_done, &refs[i][3]));
    }
    alarm(120); /* a hang fails the run instead of stalling the suite */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    alarm(0);
    int bad = 0;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < OPS; k++)
            if (r.calls[i][k] != 1 && bad++ < 5)
                print_error("seed %u: session %d op %d: %d callbacks\n", seed,
                            i, k, r.calls[i][k]);
    for (int i = 0; i < N; i++)
        if (r.ss[i])
            dbconn_session_close(r.ss[i]);
    if (!r.closed)
        assert_int_equal(dbconn_close(r.db, NULL), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    tu_rmdir(dir);
    assert_int_equal(bad, 0);
}

static void test_interfering_callbacks(void **state) {
    (void)state;
    for (unsigned seed = 1; seed <= 4; seed++)
        one_run(seed, false);
}

static void test_interfering_callbacks_and_close(void **state) {
    (void)state;
    for (unsigned seed = 11; seed <= 18; seed++)
        one_run(seed, true);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interfering_callbacks),
        cmocka_unit_test(test_interfering_callbacks_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
