/*
 * coroutines — asyncio's shape in C: coroutines that "await" the async API,
 * each one its own task scope.
 *
 * A tiny scheduler on ucontext (makecontext / swapcontext, no extra
 * dependency) runs 50 coroutines on the loop's thread.  When it resumes a
 * coroutine it calls dbconn_task_enter(coro), and when the coroutine
 * suspends it calls dbconn_task_leave: the C counterpart of
 * asyncio.current_task(), so dbconn_scoped_session() inside a coroutine is
 * that coroutine's session, exactly like async_scoped_session with
 * scopefunc=current_task.
 *
 * A coroutine awaits a call by submitting it with a callback that stores the
 * result and marks the coroutine runnable, then yielding to the scheduler.
 * The scheduler resumes runnable coroutines and, when none is, runs one turn
 * of the libuv loop (UV_RUN_ONCE), where the callbacks arrive.
 *
 * Each coroutine runs a few transactions of INSERT, SELECT, COMMIT through
 * its scoped session, checking after every await that it still has its own
 * session and that no other live coroutine has the same one.  Exit status 0
 * only if every check passed.
 *
 * Sanitizers: switching stacks behind a sanitizer's back confuses it, so
 * under AddressSanitizer every switch is announced with
 * __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber, and under
 * ThreadSanitizer each coroutine is a TSan fiber (__tsan_create_fiber,
 * __tsan_switch_to_fiber, __tsan_destroy_fiber).  It runs clean under both.
 *
 * Build: part of the examples (cmake); run: ./coroutines
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, and what <uv.h> needs */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <uv.h>

#include <dbconn.h>

/* ---- which sanitizer is watching (clang: __has_feature; gcc: macros) ---- */

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define CORO_TSAN 1
#endif
#ifdef __has_feature
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define CORO_TSAN 1
#endif
#endif

#ifdef CORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

enum {
    NCOROS = 50,
    ROUNDS = 3,                 /* transactions per coroutine */
    STACK_SIZE = 256 * 1024     /* generous: sanitizers grow frames */
};

/* ---- the scheduler ------------------------------------------------------- */

typedef struct coro {
    ucontext_t ctx;
    void *stack;
    int id;
    bool runnable, finished;
    struct coro *next;          /* run queue */
    /* what the awaited call produced */
    int status;
    dbconn_result *res;
#ifdef CORO_ASAN
    void *fake_stack;           /* ASan's fake stack while suspended */
#endif
#ifdef CORO_TSAN
    void *fiber;
#endif
} coro;

typedef struct sched {
    ucontext_t main_ctx;        /* the scheduler's own context */
    coro *current;              /* running coroutine, NULL in the scheduler */
    coro *head, *tail;          /* runnable coroutines, FIFO */
    uv_loop_t *loop;
#ifdef CORO_ASAN
    const void *main_bottom;    /* the scheduler's stack, learned from ASan */
    size_t main_size;
#endif
#ifdef CORO_TSAN
    void *main_fiber;
#endif
} sched;

static sched S;

static void make_runnable(coro *c) {
    if (c->runnable || c->finished)
        return;
    c->runnable = true;
    c->next = NULL;
    if (S.tail)
        S.tail->next = c;
    else
        S.head = c;
    S.tail = c;
}

static coro *next_runnable(void) {
    coro *c = S.head;
    if (c) {
        S.head = c->next;
        if (!S.head)
            S.tail = NULL;
        c->runnable = false;
    }
    return c;
}

/* Scheduler -> coroutine, and back when it suspends. */
static void switch_to(coro *c) {
#ifdef CORO_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, c->stack, STACK_SIZE);
#endif
#ifdef CORO_TSAN
    __tsan_switch_to_fiber(c->fiber, 0);
#endif
    swapcontext(&S.main_ctx, &c->ctx);
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

/* Coroutine -> scheduler.  A finished coroutine never comes back: ASan is
 * told so (NULL), which lets it drop the coroutine's fake stack. */
static void switch_back(coro *c) {
#ifdef CORO_ASAN
    __sanitizer_start_switch_fiber(c->finished ? NULL : &c->fake_stack,
                                   S.main_bottom, S.main_size);
#endif
#ifdef CORO_TSAN
    __tsan_switch_to_fiber(S.main_fiber, 0);
#endif
    swapcontext(&c->ctx, &S.main_ctx);
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(c->fake_stack, NULL, NULL);
#endif
}

/* Resumes c in its own task scope until it suspends: this pair of calls is
 * what makes dbconn_current_task() the coroutine while it runs. */
static void resume(coro *c) {
    void *prev = dbconn_task_enter(c);
    S.current = c;
    switch_to(c);
    S.current = NULL;
    dbconn_task_leave(prev);
}

/* Suspends the running coroutine; returns when the scheduler resumes it. */
static void yield(void) { switch_back(S.current); }

/* ---- awaiting the async API ---------------------------------------------- */

static int task_mismatches; /* callbacks that ran outside their task */

static void resume_with_result(int status, dbconn_result *res, void *data) {
    coro *c = data;
    /* The library entered the submitting task before calling us. */
    if (dbconn_current_task() != c)
        task_mismatches++;
    c->status = status;
    c->res = res;
    make_runnable(c);
}

static void resume_with_status(int status, void *data) {
    resume_with_result(status, NULL, data);
}

/* `await session.execute(sql, params)`: *out receives the owned result. */
static int await_exec(dbconn_session *s, const char *sql,
                      const dbconn_value *params, size_t n,
                      dbconn_result **out) {
    coro *c = S.current;
    int rc = dbconn_exec_async(s, sql, params, n, resume_with_result, c);
    if (rc)
        return rc; /* refused: no callback will come */
    yield();
    *out = c->res;
    c->res = NULL;
    return c->status;
}

/* `await session.commit()` */
static int await_commit(dbconn_session *s) {
    coro *c = S.current;
    int rc = dbconn_commit_async(s, resume_with_status, c);
    if (rc)
        return rc;
    yield();
    return c->status;
}

/* ---- the coroutines ------------------------------------------------------ */

static dbconn *db;
static dbconn_session *owner[NCOROS]; /* each live coroutine's session */
static int failures, transactions;

static void fail(coro *c, const char *what, int rc) {
    failures++;
    fprintf(stderr, "coroutine %d: %s: %s: %s\n", c->id, what,
            dbconn_err_name(rc), dbconn_errmsg(NULL));
}

/* The session the scope gives now must be mine, and nobody else's. */
static bool still_mine(coro *c, dbconn_session *mine) {
    dbconn_session *s = NULL;
    if (dbconn_scoped_session(db, &s) != 0 || s != mine)
        return false;
    for (int i = 0; i < NCOROS; i++)
        if (i != c->id && owner[i] == s)
            return false;
    return true;
}

static void body(coro *c) {
    dbconn_session *s;
    int rc = dbconn_scoped_session(db, &s);
    if (rc) {
        fail(c, "dbconn_scoped_session", rc);
        return;
    }
    owner[c->id] = s;
    for (int round = 0; round < ROUNDS; round++) {
        int64_t key = (int64_t)c->id * 100 + round;
        dbconn_result *res = NULL;
        if ((rc = await_exec(s, "INSERT INTO notes (id, author) VALUES (?, ?)",
                             DBCONN_PARAMS(DBCONN_INT(key),
                                           DBCONN_INT(c->id)),
                             &res)) != 0) {
            fail(c, "INSERT", rc);
            break;
        }
        dbconn_result_free(res);
        if (!still_mine(c, s))
            fail(c, "another session after INSERT", DBCONN_EINVAL);
        if ((rc = await_exec(s, "SELECT count(*) FROM notes WHERE author = ?",
                             DBCONN_PARAMS(DBCONN_INT(c->id)), &res)) != 0) {
            fail(c, "SELECT", rc);
            break;
        }
        /* My transaction sees my rows: the earlier rounds' and this one. */
        if (dbconn_result_int(res, 0, 0) != round + 1)
            fail(c, "SELECT saw a wrong count", DBCONN_EINVAL);
        dbconn_result_free(res);
        if (!still_mine(c, s))
            fail(c, "another session after SELECT", DBCONN_EINVAL);
        if ((rc = await_commit(s)) != 0) {
            fail(c, "COMMIT", rc);
            break;
        }
        if (!still_mine(c, s))
            fail(c, "another session after COMMIT", DBCONN_EINVAL);
        transactions++;
    }
    owner[c->id] = NULL;
    /* The coroutine is done: forget its session (rolls back on failure). */
    if ((rc = dbconn_scoped_remove(db)) != 0)
        fail(c, "dbconn_scoped_remove", rc);
}

/* makecontext's entry point takes no pointer: the scheduler has just set
 * S.current to this coroutine. */
static void coro_main(void) {
    coro *c = S.current;
#ifdef CORO_ASAN
    /* First entry: learn the scheduler's stack, to switch back to it. */
    __sanitizer_finish_switch_fiber(NULL, &S.main_bottom, &S.main_size);
#endif
    body(c);
    c->finished = true;
    switch_back(c); /* never resumed again */
}

static int coro_init(coro *c, int id) {
    memset(c, 0, sizeof *c);
    c->id = id;
    c->stack = malloc(STACK_SIZE);
    if (!c->stack || getcontext(&c->ctx) != 0)
        return -1;
    c->ctx.uc_stack.ss_sp = c->stack;
    c->ctx.uc_stack.ss_size = STACK_SIZE;
    c->ctx.uc_link = NULL; /* coro_main never returns */
    makecontext(&c->ctx, coro_main, 0);
#ifdef CORO_TSAN
    c->fiber = __tsan_create_fiber(0);
#endif
    return 0;
}

static void coro_destroy(coro *c) {
#ifdef CORO_TSAN
    if (c->fiber)
        __tsan_destroy_fiber(c->fiber);
#endif
    free(c->stack);
}

/* Runs every coroutine to completion; -1 if they all wait for nothing. */
static int run_all(coro *cs, int n) {
    int alive = n;
    for (int i = 0; i < n; i++)
        make_runnable(&cs[i]);
    while (alive > 0) {
        coro *c;
        while ((c = next_runnable()) != NULL) {
            resume(c);
            if (c->finished)
                alive--;
        }
        /* Nobody can run: one loop turn delivers callbacks (it waits for
         * them if needed).  0 with nothing runnable means a lost wakeup. */
        if (alive > 0 && uv_run(S.loop, UV_RUN_ONCE) == 0 && !S.head) {
            fprintf(stderr, "deadlock: %d coroutines wait, the loop is "
                            "empty\n",
                    alive);
            return -1;
        }
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void remove_dir(const char *dir) {
    static const char *const files[] = {"notes.db", "notes.db-wal",
                                        "notes.db-shm"};
    char path[4200];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    if (rmdir(dir) != 0)
        perror("rmdir");
}

static int64_t count_rows(void) {
    dbconn_session *s;
    dbconn_result *res = NULL;
    int64_t n = -1;
    if (dbconn_session_open(db, &s) == 0 &&
        dbconn_exec(s, "SELECT count(*) FROM notes", NULL, 0, &res) == 0)
        n = dbconn_result_int(res, 0, 0);
    dbconn_result_free(res);
    dbconn_session_close(s);
    return n;
}

/* The database: argv[1], else $DATABASE_URL, else the example's own. */
static const char *database_url(int argc, char **argv, const char *own) {
    const char *env = getenv("DATABASE_URL");
    if (argc > 1 && argv[1][0])
        return argv[1];
    return env && *env ? env : own;
}

/* ./coroutines [URL]: a new SQLite file in a temporary directory unless a
 * URL is given. */
int main(int argc, char **argv) {
    const char *given = database_url(argc, argv, NULL);
    const char *tmp = getenv("TMPDIR");
    char dir[4096], url[4200];
    uv_loop_t loop;
    static coro cs[NCOROS];
    int rc, bad = 0, made = 0;

    snprintf(dir, sizeof dir, "%s/dbconn-coroutines-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(url, sizeof url, "sqlite:///%s/notes.db?synchronous=normal", dir);
    if (given)
        snprintf(url, sizeof url, "%s", given);
    if (uv_loop_init(&loop) != 0) {
        remove_dir(dir);
        return 1;
    }
    S.loop = &loop;
#ifdef CORO_TSAN
    S.main_fiber = __tsan_get_current_fiber();
#endif

    if ((rc = dbconn_open(&db, url,
                          &(dbconn_options){.pool_size = 4, .loop = &loop})) !=
        0) {
        fprintf(stderr, "dbconn_open: %s\n", dbconn_errmsg(NULL));
        uv_loop_close(&loop);
        remove_dir(dir);
        return 1;
    }
    dbconn_session *setup;
    if (dbconn_session_open(db, &setup) != 0 ||
        /* a server keeps its tables between runs */
        dbconn_exec(setup, "DROP TABLE IF EXISTS notes", NULL, 0, NULL) != 0 ||
        dbconn_exec(setup, "CREATE TABLE notes (id INTEGER PRIMARY KEY, "
                           "author INTEGER NOT NULL)",
                    NULL, 0, NULL) != 0 ||
        dbconn_commit(setup) != 0) {
        fprintf(stderr, "schema: %s\n", dbconn_errmsg(NULL));
        bad = 1;
    }
    dbconn_session_close(setup);

    for (; made < NCOROS && !bad; made++)
        if (coro_init(&cs[made], made) != 0) {
            fprintf(stderr, "cannot make coroutine %d\n", made);
            bad = 1;
        }
    if (!bad && run_all(cs, NCOROS) != 0)
        bad = 1;

    int64_t rows = count_rows();
    size_t left = dbconn_scoped_count(db);
    dbconn_stats st = {0};
    dbconn_pool_stats(db, &st);
    printf("coroutines     %d, %d transactions committed\n", NCOROS,
           transactions);
    printf("rows found     %lld\n", (long long)rows);
    printf("scoped left    %zu\n", left);
    printf("callbacks outside their task: %d\n", task_mismatches);
    printf("async          %llu jobs, at most %llu in flight\n",
           (unsigned long long)st.async_jobs, (unsigned long long)st.async_peak);
    if (failures || task_mismatches || left ||
        transactions != NCOROS * ROUNDS || rows != NCOROS * ROUNDS) {
        fprintf(stderr, "FAIL: %d failure(s)\n", failures);
        bad = 1;
    }

    if ((rc = dbconn_close(db, NULL)) != 0) {
        fprintf(stderr, "FAIL: dbconn_close: %s\n", dbconn_err_name(rc));
        bad = 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if ((rc = uv_loop_close(&loop)) != 0) {
        fprintf(stderr, "FAIL: uv_loop_close: %s\n", uv_strerror(rc));
        bad = 1;
    }
    for (int i = 0; i < made; i++)
        coro_destroy(&cs[i]);
    remove_dir(dir);
    if (!bad)
        printf("ok\n");
    return bad;
}
