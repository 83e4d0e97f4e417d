/* The scoped session registry: same key -> same session, tasks, threads,
 * custom scopefunc, removal, close, 100 000 live scopes, concurrency; and
 * the hash map underneath. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "engine/engine.h"
#include "scope/scope.h"
#include "util/hashmap.h"

/* Most tests close with scoped sessions open on purpose: keep the warning
 * dbconn_close logs about them out of the test output. */
static void quiet(void *data, int level, const char *line) {
    (void)data;
    (void)level;
    (void)line;
}

static dbconn *open_mem(void) {
    dbconn *db = NULL;
    tu_ok(dbconn_open(&db, tu_url(), &(dbconn_options){.log = quiet}));
    return db;
}

/* A scopefunc whose key the test sets: scope_data points to the key. */
static void *key_from_data(void *data) { return *(void **)data; }

static dbconn *open_keyed(void **slot) {
    dbconn *db = NULL;
    dbconn_options o = {.scopefunc = key_from_data, .scope_data = slot,
                        .log = quiet};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    return db;
}

static void create_table(dbconn *db) {
    dbconn_session *s = NULL;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "CREATE TABLE t (v INTEGER)", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
}

static int64_t count_rows(dbconn *db) {
    dbconn_session *s = NULL;
    dbconn_result *r = NULL;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "SELECT count(*) FROM t", NULL, 0, &r));
    int64_t n = dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    dbconn_session_close(s);
    return n;
}

/* ---- arguments ----------------------------------------------------------- */

static void test_null_arguments(void **state) {
    (void)state;
    dbconn *db = open_mem();
    dbconn_session *s = (dbconn_session *)&s;
    assert_int_equal(dbconn_scoped_session(NULL, &s), DBCONN_EINVAL);
    assert_null(s);
    assert_non_null(strstr(dbconn_errmsg(NULL), "db is NULL"));
    assert_int_equal(dbconn_scoped_session(db, NULL), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "out is NULL"));
    assert_int_equal(dbconn_scoped_remove(NULL), DBCONN_EINVAL);
    assert_int_equal(dbconn_scoped_remove_key(NULL, &s), DBCONN_EINVAL);
    assert_int_equal(dbconn_scoped_remove_key(db, NULL), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "key is NULL"));
    assert_int_equal(dbconn_scoped_count(NULL), 0);
    assert_int_equal(dbconn_scoped_count(db), 0);
    tu_ok(dbconn_close(db, NULL));
}

/* ---- identity ------------------------------------------------------------ */

static void test_same_scope_same_session(void **state) {
    (void)state;
    dbconn *db = open_mem();
    dbconn_session *a = NULL, *b = NULL;
    tu_ok(dbconn_scoped_session(db, &a));
    tu_ok(dbconn_scoped_session(db, &b));
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_int_equal(dbconn_scoped_count(db), 1);
    assert_ptr_equal(dbconn_session_db(a), db);
    tu_ok(dbconn_close(db, NULL));
}

static void test_tasks_get_their_own_sessions(void **state) {
    (void)state;
    dbconn *db = open_mem();
    create_table(db);
    int ta, tb;
    dbconn_session *own = NULL, *sa = NULL, *sb = NULL, *s = NULL;
    tu_ok(dbconn_scoped_session(db, &own));

    void *p0 = dbconn_task_enter(&ta);
    tu_ok(dbconn_scoped_session(db, &sa));
    tu_ok(dbconn_exec(sa, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    void *p1 = dbconn_task_enter(&tb); /* nested */
    tu_ok(dbconn_scoped_session(db, &sb));
    assert_ptr_not_equal(sa, sb);
    assert_false(dbconn_in_transaction(sb)); /* state is per task */
    dbconn_task_leave(p1);
    tu_ok(dbconn_scoped_session(db, &s));
    assert_ptr_equal(s, sa);
    assert_true(dbconn_in_transaction(s));
    dbconn_task_leave(p0);

    tu_ok(dbconn_scoped_session(db, &s));
    assert_ptr_equal(s, own);
    assert_ptr_not_equal(own, sa);
    assert_ptr_not_equal(own, sb);
    assert_int_equal(dbconn_scoped_count(db), 3);
    /* Re-entering a task later finds its session again. */
    p0 = dbconn_task_enter(&tb);
    tu_ok(dbconn_scoped_session(db, &s));
    assert_ptr_equal(s, sb);
    dbconn_task_leave(p0);
    tu_ok(dbconn_close(db, NULL));
}

typedef struct thread_arg {
    dbconn *db;
    dbconn_session *first, *second;
    pthread_barrier_t *both; /* keeps both threads alive at once */
    int rc;
} thread_arg;

static void *two_lookups(void *arg) {
    thread_arg *a = arg;
    a->rc = dbconn_scoped_session(a->db, &a->first);
    if (a->rc == 0)
        a->rc = dbconn_scoped_session(a->db, &a->second);
    pthread_barrier_wait(a->both); /* main counts the sessions */
    pthread_barrier_wait(a->both); /* then lets us exit */
    return NULL;
}

static void test_threads_get_their_own_sessions(void **state) {
    (void)state;
    dbconn *db = open_mem();
    pthread_barrier_t both;
    pthread_barrier_init(&both, NULL, 3);
    thread_arg a = {.db = db, .both = &both}, b = {.db = db, .both = &both};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, two_lookups, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, two_lookups, &b), 0);
    pthread_barrier_wait(&both);
    size_t alive = dbconn_scoped_count(db);
    pthread_barrier_wait(&both);
    assert_int_equal(alive, 2);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(pthread_join(tb, NULL), 0);
    pthread_barrier_destroy(&both);
    tu_ok(a.rc);
    tu_ok(b.rc);
    assert_ptr_equal(a.first, a.second);
    assert_ptr_equal(b.first, b.second);
    assert_ptr_not_equal(a.first, b.first);
    assert_int_equal(dbconn_scoped_count(db), 0); /* both exited */
    tu_ok(dbconn_close(db, NULL));
}

/* ---- removal ------------------------------------------------------------- */

static void test_remove_current(void **state) {
    (void)state;
    dbconn *db = open_mem();
    create_table(db);
    int task;
    dbconn_session *s = NULL, *own = NULL;
    tu_ok(dbconn_scoped_session(db, &own));
    void *prev = dbconn_task_enter(&task);
    tu_ok(dbconn_scoped_session(db, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    assert_int_equal(dbconn_scoped_count(db), 2);
    tu_ok(dbconn_scoped_remove(db)); /* rolls the insert back */
    assert_int_equal(dbconn_scoped_count(db), 1);
    tu_ok(dbconn_scoped_remove(db)); /* none now: still 0 */
    assert_int_equal(dbconn_scoped_count(db), 1);
    tu_ok(dbconn_scoped_session(db, &s)); /* a fresh one */
    assert_false(dbconn_in_transaction(s));
    assert_int_equal(dbconn_scoped_count(db), 2);
    dbconn_task_leave(prev);
    assert_int_equal(count_rows(db), 1);
    tu_ok(dbconn_close(db, NULL));
}

static void test_remove_by_key(void **state) {
    (void)state;
    dbconn *db = open_mem();
    int ta, tb, never;
    dbconn_session *s = NULL;
    void *prev = dbconn_task_enter(&ta);
    tu_ok(dbconn_scoped_session(db, &s));
    dbconn_task_enter(&tb);
    tu_ok(dbconn_scoped_session(db, &s));
    dbconn_task_leave(prev);
    assert_int_equal(dbconn_scoped_count(db), 2);
    tu_ok(dbconn_scoped_remove_key(db, &never)); /* no session: fine */
    assert_int_equal(dbconn_scoped_count(db), 2);
    tu_ok(dbconn_scoped_remove_key(db, &ta));
    assert_int_equal(dbconn_scoped_count(db), 1);
    tu_ok(dbconn_scoped_remove_key(db, &ta));
    assert_int_equal(dbconn_scoped_count(db), 1);
    /* The thread's own key works as a key too. */
    tu_ok(dbconn_scoped_session(db, &s));
    assert_int_equal(dbconn_scoped_count(db), 2);
    tu_ok(dbconn_scoped_remove_key(db, dbconn_current_task()));
    tu_ok(dbconn_scoped_remove_key(db, &tb));
    assert_int_equal(dbconn_scoped_count(db), 0);
    tu_ok(dbconn_close(db, NULL));
}

static void test_session_close_removes_from_registry(void **state) {
    (void)state;
    dbconn *db = open_mem();
    create_table(db);
    int task;
    dbconn_session *s = NULL, *own = NULL;
    tu_ok(dbconn_scoped_session(db, &own));
    void *prev = dbconn_task_enter(&task);
    tu_ok(dbconn_scoped_session(db, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    dbconn_session_close(s); /* = dbconn_scoped_remove_key(db, &task) */
    assert_int_equal(dbconn_scoped_count(db), 1);
    tu_ok(dbconn_scoped_session(db, &s));
    assert_false(dbconn_in_transaction(s));
    assert_int_equal(dbconn_scoped_count(db), 2);
    dbconn_task_leave(prev);
    dbconn_session_close(own); /* the thread-keyed one */
    assert_int_equal(dbconn_scoped_count(db), 1);
    assert_int_equal(count_rows(db), 1);
    tu_ok(dbconn_close(db, NULL));
}

/* ---- custom scopefunc ---------------------------------------------------- */

static void test_custom_scopefunc(void **state) {
    (void)state;
    int k1, k2;
    void *current = &k1;
    dbconn *db = open_keyed(&current);
    dbconn_session *a = NULL, *b = NULL, *s = NULL;
    tu_ok(dbconn_scoped_session(db, &a));
    current = &k2;
    tu_ok(dbconn_scoped_session(db, &b));
    assert_ptr_not_equal(a, b);
    /* Entering a task means nothing to a custom scopefunc. */
    int other;
    void *prev = dbconn_task_enter(&other);
    tu_ok(dbconn_scoped_session(db, &s));
    dbconn_task_leave(prev);
    assert_ptr_equal(s, b);
    current = &k1;
    tu_ok(dbconn_scoped_session(db, &s));
    assert_ptr_equal(s, a);
    tu_ok(dbconn_scoped_remove(db)); /* removes k1's */
    assert_int_equal(dbconn_scoped_count(db), 1);
    current = &k2;
    tu_ok(dbconn_scoped_session(db, &s));
    assert_ptr_equal(s, b);
    tu_ok(dbconn_close(db, NULL));
}

static void test_scopefunc_null_key(void **state) {
    (void)state;
    void *current = NULL;
    dbconn *db = open_keyed(&current);
    dbconn_session *s = (dbconn_session *)&s;
    assert_int_equal(dbconn_scoped_session(db, &s), DBCONN_EINVAL);
    assert_null(s);
    assert_non_null(strstr(dbconn_errmsg(db), "scopefunc returned NULL"));
    assert_int_equal(dbconn_scoped_remove(db), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(db), "scopefunc returned NULL"));
    assert_int_equal(dbconn_scoped_count(db), 0);
    tu_ok(dbconn_close(db, NULL));
}

/* ---- close --------------------------------------------------------------- */

typedef struct log_capture {
    int warns;
    char last[512];
} log_capture;

static void capture(void *data, int level, const char *line) {
    log_capture *c = data;
    if (level == DBCONN_LOG_WARN) {
        c->warns++;
        snprintf(c->last, sizeof c->last, "%s", line);
    }
}

static void test_close_closes_scoped_sessions(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    log_capture cap = {0};
    dbconn_options o = {.log = capture, .log_data = &cap};
    dbconn *db = NULL;
    tu_ok(dbconn_open(&db, tu_db_url(dir, "close.db", NULL), &o));
    create_table(db);
    int t1, t2;
    dbconn_session *s = NULL;
    tu_ok(dbconn_scoped_session(db, &s));
    void *prev = dbconn_task_enter(&t1);
    tu_ok(dbconn_scoped_session(db, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    dbconn_task_enter(&t2);
    tu_ok(dbconn_scoped_session(db, &s));
    dbconn_task_leave(prev);
    assert_int_equal(dbconn_scoped_count(db), 3);
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(cap.warns, 1);
    assert_non_null(strstr(cap.last, "closed 3 scoped sessions"));
    tu_ok(dbconn_open(&db, tu_db_url(dir, "close.db", NULL), NULL));
    assert_int_equal(count_rows(db), 1); /* the uncommitted row is gone */
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

static void test_close_all_then_closed(void **state) {
    (void)state;
    dbconn *db = open_mem();
    int task;
    dbconn_session *s = NULL;
    tu_ok(dbconn_scoped_session(db, &s));
    void *prev = dbconn_task_enter(&task);
    tu_ok(dbconn_scoped_session(db, &s));
    dbconn_task_leave(prev);
    assert_int_equal(dbc_scope_close_all(db->scope), 2);
    assert_int_equal(dbconn_scoped_count(db), 0);
    s = (dbconn_session *)&s;
    assert_int_equal(dbconn_scoped_session(db, &s), DBCONN_ECLOSED);
    assert_null(s);
    tu_ok(dbconn_scoped_remove(db)); /* nothing to remove */
    assert_int_equal(dbc_scope_close_all(db->scope), 0);
    tu_ok(dbconn_close(db, NULL));
}

/* ---- scale --------------------------------------------------------------- */

static void test_100000_live_scopes(void **state) {
    (void)state;
    enum { N = 100000 };
    char *tasks = malloc(N);
    dbconn_session **seen = malloc(N * sizeof *seen);
    assert_non_null(tasks);
    assert_non_null(seen);
    void *current = NULL;
    dbconn *db = open_keyed(&current);
    for (size_t i = 0; i < N; i++) {
        current = &tasks[i];
        tu_ok(dbconn_scoped_session(db, &seen[i]));
    }
    assert_int_equal(dbconn_scoped_count(db), N);
    for (size_t i = 0; i < N; i++) {
        dbconn_session *s = NULL;
        current = &tasks[(i * 7919) % N]; /* another order */
        tu_ok(dbconn_scoped_session(db, &s));
        assert_ptr_equal(s, seen[(i * 7919) % N]);
    }
    assert_int_equal(dbconn_scoped_count(db), N);
    for (size_t i = 0; i < N; i++)
        tu_ok(dbconn_scoped_remove_key(db, &tasks[(i * 104729) % N]));
    assert_int_equal(dbconn_scoped_count(db), 0);
    tu_ok(dbconn_close(db, NULL));
    free(seen);
    free(tasks);
}

/* ---- concurrency (run under ThreadSanitizer too) ------------------------- */

enum { WORKERS = 8, KEYS = 64, ITERS = 2000 };

typedef struct conc {
    dbconn *db;
    char *keys;               /* KEYS shared task identities */
    pthread_barrier_t *start;
    int id;
    dbconn_session *got[KEYS];
    int rc;
} conc;

/* Each worker enters its own tasks (distinct keys) and looks them up, removes
 * and recreates some; nobody else touches them.  It also uses its thread key
 * now and then, and exits with that session open (thread-exit cleanup). */
static void *distinct_worker(void *arg) {
    conc *c = arg;
    char mine[KEYS];
    dbconn_session *have[KEYS] = {0};
    pthread_barrier_wait(c->start);
    for (int i = 0; i < ITERS && c->rc == 0; i++) {
        int k = (i * 31 + c->id) % KEYS;
        void *prev = dbconn_task_enter(&mine[k]);
        dbconn_session *s = NULL;
        c->rc = dbconn_scoped_session(c->db, &s);
        if (c->rc == 0 && have[k] && s != have[k])
            c->rc = -100; /* same key, other session */
        have[k] = s;
        if (c->rc == 0 && i % 5 == 0) {
            c->rc = dbconn_scoped_remove(c->db);
            have[k] = NULL;
        }
        dbconn_task_leave(prev);
        if (c->rc == 0 && i % 7 == 0)
            c->rc = dbconn_scoped_session(c->db, &s);
        if (c->rc == 0 && i % 11 == 0)
            c->rc = dbconn_scoped_remove(c->db);
    }
    for (int k = 0; k < KEYS && c->rc == 0; k++)
        c->rc = dbconn_scoped_remove_key(c->db, &mine[k]);
    return NULL;
}

/* Every worker asks for the same keys at the same time. */
static void *shared_worker(void *arg) {
    conc *c = arg;
    pthread_barrier_wait(c->start);
    for (int k = 0; k < KEYS && c->rc == 0; k++) {
        void *prev = dbconn_task_enter(&c->keys[k]);
        c->rc = dbconn_scoped_session(c->db, &c->got[k]);
        dbconn_task_leave(prev);
    }
    return NULL;
}

static void run_workers(conc *c, void *(*fn)(void *)) {
    pthread_t t[WORKERS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, WORKERS);
    for (int i = 0; i < WORKERS; i++) {
        c[i].start = &start;
        c[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, fn, &c[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < WORKERS; i++)
        tu_ok(c[i].rc);
}

static void test_concurrent_distinct_keys(void **state) {
    (void)state;
    dbconn *db = open_mem();
    static conc c[WORKERS];
    memset(c, 0, sizeof c);
    for (int i = 0; i < WORKERS; i++)
        c[i].db = db;
    run_workers(c, distinct_worker);
    assert_int_equal(dbconn_scoped_count(db), 0);
    tu_ok(dbconn_close(db, NULL));
}

static void test_concurrent_shared_keys(void **state) {
    (void)state;
    dbconn *db = open_mem();
    static conc c[WORKERS];
    char keys[KEYS];
    for (int round = 0; round < 10; round++) {
        memset(c, 0, sizeof c);
        for (int i = 0; i < WORKERS; i++) {
            c[i].db = db;
            c[i].keys = keys;
        }
        run_workers(c, shared_worker);
        assert_int_equal(dbconn_scoped_count(db), KEYS);
        for (int k = 0; k < KEYS; k++) {
            for (int i = 1; i < WORKERS; i++)
                assert_ptr_equal(c[i].got[k], c[0].got[k]);
            for (int j = 0; j < k; j++)
                assert_ptr_not_equal(c[0].got[j], c[0].got[k]);
        }
        for (int k = 0; k < KEYS; k++)
            tu_ok(dbconn_scoped_remove_key(db, &keys[k]));
        assert_int_equal(dbconn_scoped_count(db), 0);
    }
    tu_ok(dbconn_close(db, NULL));
}

/* ---- out of memory ------------------------------------------------------- */

/* An allocator that fails the allocation numbered fail_at (1-based) after
 * arming, and delegates everything else to the C library (so memory from
 * before or after the test can be freed through it). */
static int alloc_countdown;

static bool should_fail(void) { return alloc_countdown > 0 && --alloc_countdown == 0; }
static void *fail_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
static void *fail_calloc(size_t c, size_t n) {
    return should_fail() ? NULL : calloc(c, n);
}
static void *fail_realloc(void *p, size_t n) {
    return should_fail() ? NULL : realloc(p, n);
}

/* Every allocation made while creating a scoped session fails in turn: each
 * failure is a clean DBCONN_ENOMEM with nothing registered and nothing
 * leaked (LeakSanitizer checks), and the registry keeps working.  Covers the
 * thread record and link (thread key), the session, and the table growth
 * (8 live entries: the 9th insert doubles the table). */
static void check_oom(dbconn *db, void *task, int min_failures, bool grows) {
    static const dbconn_allocator failing = {fail_malloc, fail_calloc,
                                             fail_realloc, free};
    size_t before = dbconn_scoped_count(db);
    void *prev = task ? dbconn_task_enter(task) : NULL;
    int failures = 0;
    bool growth_failed = false;
    for (int fail_at = 1;; fail_at++) {
        dbconn_session *s = (dbconn_session *)&s;
        alloc_countdown = fail_at;
        dbconn_set_allocator(&failing, NULL);
        int rc = dbconn_scoped_session(db, &s);
        dbconn_set_allocator(NULL, NULL);
        alloc_countdown = 0;
        if (rc == 0) {
            assert_non_null(s);
            break;
        }
        failures++;
        assert_int_equal(rc, DBCONN_ENOMEM);
        assert_non_null(strstr(dbconn_errmsg(db), "out of memory"));
        if (strstr(dbconn_errmsg(db), "growing the scoped session registry"))
            growth_failed = true;
        assert_null(s);
        assert_int_equal(dbconn_scoped_count(db), before);
    }
    if (task)
        dbconn_task_leave(prev);
    assert_true(failures >= min_failures);
    assert_int_equal(growth_failed, grows);
    assert_int_equal(dbconn_scoped_count(db), before + 1);
}

static void test_scoped_session_out_of_memory(void **state) {
    (void)state;
    dbconn *db = open_mem();
    char tasks[9];
    for (int i = 0; i < 8; i++) {
        dbconn_session *s = NULL;
        void *prev = dbconn_task_enter(&tasks[i]);
        tu_ok(dbconn_scoped_session(db, &s));
        dbconn_task_leave(prev);
    }
    check_oom(db, NULL, 4, true);      /* thread key: record, link, session,
                                          growth */
    check_oom(db, &tasks[8], 1, false); /* task key: the session */
    tu_ok(dbconn_close(db, NULL));
}

/* ---- the hash map -------------------------------------------------------- */

/* Random inserts and removals checked against a plain array; keys chosen to
 * collide (a small set of aligned addresses) so probe runs wrap and shift. */
static void test_hashmap_matches_reference(void **state) {
    (void)state;
    enum { SPACE = 4096, STEPS = 200000 };
    static char obj[SPACE];
    static int present[SPACE];
    memset(present, 0, sizeof present);
    dbc_hmap m;
    dbc_hmap_init(&m);
    assert_null(dbc_hmap_find(&m, &obj[0]));
    unsigned seed = 12345;
    size_t count = 0;
    for (int step = 0; step < STEPS; step++) {
        seed = seed * 1103515245u + 12345u;
        size_t k = (seed >> 8) % SPACE;
        /* Grow and shrink in waves. */
        bool add = ((step / 20000) % 2 == 0) ? (seed & 3) != 0 : (seed & 3) == 0;
        dbc_hslot *slot = dbc_hmap_find(&m, &obj[k]);
        assert_int_equal(slot != NULL, present[k] != 0);
        if (slot)
            assert_ptr_equal(slot->val, (void *)&present[k]);
        if (add && !slot) {
            assert_int_equal(dbc_hmap_insert(&m, &obj[k], &present[k], NULL), 0);
            present[k] = 1;
            count++;
        } else if (!add && slot) {
            dbc_hmap_remove(&m, slot);
            present[k] = 0;
            count--;
        }
        assert_int_equal(m.count, count);
        /* Load stays within (1/8, 1/2] once past the minimum size. */
        size_t cap = dbc_hmap_capacity(&m);
        assert_true(count * 2 <= cap);
        if (cap > 16)
            assert_true(count * 8 >= cap);
    }
    for (size_t k = 0; k < SPACE; k++)
        assert_int_equal(dbc_hmap_find(&m, &obj[k]) != NULL, present[k] != 0);
    dbc_hmap_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        tu_test(test_null_arguments),
        tu_test(test_same_scope_same_session),
        tu_test(test_tasks_get_their_own_sessions),
        tu_test(test_threads_get_their_own_sessions),
        tu_test(test_remove_current),
        tu_test(test_remove_by_key),
        tu_test(test_session_close_removes_from_registry),
        tu_test(test_custom_scopefunc),
        tu_test(test_scopefunc_null_key),
        tu_test(test_close_closes_scoped_sessions),
        tu_test(test_close_all_then_closed),
        tu_test(test_100000_live_scopes),
        tu_test(test_concurrent_distinct_keys),
        tu_test(test_concurrent_shared_keys),
        tu_test(test_scoped_session_out_of_memory),
        tu_test(test_hashmap_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
