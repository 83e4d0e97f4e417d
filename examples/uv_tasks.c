/*
 * uv_tasks — a thousand libuv tasks, each with its own scoped session.
 *
 * In asyncio every coroutine is a task and async_scoped_session hands each
 * one its own session.  In a libuv program a task is whatever identity you
 * pick; here it is a uv_timer_t handle.  1 000 timers start at once with
 * small timeouts; when one fires, its callback:
 *
 *   1. enters its task           dbconn_task_enter(handle)
 *   2. gets the task's session   dbconn_scoped_session(db, &s)
 *   3. submits INSERT, SELECT and COMMIT back to back (one thread-pool hop)
 *
 * The library runs every callback in the task that submitted it, so the
 * COMMIT callback finds dbconn_current_task() == handle and the same scoped
 * session.  It closes the handle (uv_close); the close callback ends the
 * task (dbconn_task_end: its session in every dbconn goes), like a request
 * handler that cleans up when its connection closes.
 *
 * A file database in a fresh temporary directory, pool_size = 4.  At the end
 * it prints the totals and exits non-zero if anything is off: every task
 * done, every row there, no scoped session left, at most UV_THREADPOOL_SIZE
 * jobs in flight, and uv_loop_close() == 0 after dbconn_close.
 *
 * Build: part of the examples (cmake); run: ./uv_tasks
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, and what <uv.h> needs */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <dbconn.h>

enum { NTASKS = 1000 };

typedef struct app {
    dbconn *db;
    int done;       /* commit callbacks with status 0 */
    int closed;     /* close callbacks */
    int failures;   /* anything unexpected, each one reported */
} app;

/* One task: its timer handle is its identity (the scope key). */
typedef struct task {
    uv_timer_t timer; /* first member: the handle is the task */
    app *app;
    int id;
    dbconn_session *s;
} task;

static void failed(app *a, int id, const char *what, int status) {
    a->failures++;
    fprintf(stderr, "task %d: %s: %s: %s\n", id, what,
            dbconn_err_name(status), dbconn_errmsg(NULL));
}

/* The close callback: the handle is gone, so is its task -- and the
 * task's session (1 here: the task used one dbconn; 0 if it never got as
 * far as making one). */
static void on_closed(uv_handle_t *h) {
    task *t = h->data;
    int rc = dbconn_task_end(h);
    if (rc < 0)
        failed(t->app, t->id, "dbconn_task_end", rc);
    t->app->closed++;
}

/* Every callback of a task runs in that task. */
static void check_task(task *t, const char *where) {
    if (dbconn_current_task() != &t->timer) {
        t->app->failures++;
        fprintf(stderr, "task %d: %s ran outside its task\n", t->id, where);
    }
}

static void on_insert(int status, dbconn_result *res, void *data) {
    task *t = data;
    check_task(t, "insert callback");
    if (status < 0)
        failed(t->app, t->id, "INSERT", status);
    else if (dbconn_result_changes(res) != 1)
        failed(t->app, t->id, "INSERT changed no row", DBCONN_EINVAL);
    dbconn_result_free(res); /* the callback owns it (NULL on failure) */
}

static void on_select(int status, dbconn_result *res, void *data) {
    task *t = data;
    check_task(t, "select callback");
    if (status < 0)
        failed(t->app, t->id, "SELECT", status);
    else if (dbconn_result_nrows(res) != 1 ||
             dbconn_result_int(res, 0, 0) != t->id)
        failed(t->app, t->id, "SELECT did not see the task's own row",
               DBCONN_EINVAL);
    dbconn_result_free(res);
}

static void on_commit(int status, void *data) {
    task *t = data;
    check_task(t, "commit callback");
    dbconn_session *again = NULL;
    if (status < 0)
        failed(t->app, t->id, "COMMIT", status);
    else
        t->app->done++;
    /* Still the task's own session: the scope followed the work. */
    if (dbconn_scoped_session(t->app->db, &again) != 0 || again != t->s)
        failed(t->app, t->id, "a different scoped session in the callback",
               DBCONN_EINVAL);
    uv_close((uv_handle_t *)&t->timer, on_closed);
}

static void on_timer(uv_timer_t *h) {
    task *t = h->data;
    app *a = t->app;
    void *prev = dbconn_task_enter(h);
    int rc = dbconn_scoped_session(a->db, &t->s);
    if (rc == 0) {
        char name[32];
        snprintf(name, sizeof name, "task-%d", t->id);
        /* Three submissions back to back: they run in one job, in order. */
        rc = dbconn_exec_async(t->s,
                               "INSERT INTO jobs (id, name) VALUES (?, ?)",
                               DBCONN_PARAMS(DBCONN_INT(t->id),
                                             DBCONN_TEXT(name)),
                               on_insert, t);
        /* name is a local: the call copied it, so it may go now. */
        if (rc == 0)
            rc = dbconn_exec_async(t->s, "SELECT id FROM jobs WHERE id = ?",
                                   DBCONN_PARAMS(DBCONN_INT(t->id)),
                                   on_select, t);
        if (rc == 0)
            rc = dbconn_commit_async(t->s, on_commit, t);
    }
    dbconn_task_leave(prev);
    if (rc != 0) {
        /* A refused call never calls back, so no commit callback will
         * close the handle: close it here (what was accepted still calls
         * back, cancelled when the close callback removes the session). */
        failed(a, t->id, "submit", rc);
        uv_close((uv_handle_t *)h, on_closed);
    }
}

/* Removes the database files and the directory mkdtemp made. */
static void remove_dir(const char *dir) {
    static const char *const files[] = {"tasks.db", "tasks.db-wal",
                                        "tasks.db-shm"};
    char path[4200];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    if (rmdir(dir) != 0)
        perror("rmdir");
}

static int64_t count_rows(dbconn *db) {
    dbconn_session *s;
    dbconn_result *res = NULL;
    int64_t n = -1;
    if (dbconn_session_open(db, &s) == 0 &&
        dbconn_exec(s, "SELECT count(*) FROM jobs", NULL, 0, &res) == 0)
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

/* ./uv_tasks [URL]: a new SQLite file in a temporary directory unless a
 * URL is given. */
int main(int argc, char **argv) {
    const char *given = database_url(argc, argv, NULL);
    const char *tmp = getenv("TMPDIR");
    char dir[4096], url[4200];
    uv_loop_t loop;
    app a = {0};
    int rc, bad = 0;

    snprintf(dir, sizeof dir, "%s/dbconn-uv-tasks-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    /* An absolute path: "sqlite:///" + "/tmp/..." */
    snprintf(url, sizeof url, "sqlite:///%s/tasks.db", dir);
    if (given)
        snprintf(url, sizeof url, "%s", given);
    if (uv_loop_init(&loop) != 0) {
        remove_dir(dir);
        return 1;
    }

    /* Four pooled connections and no overflow: 1 000 tasks share them. */
    dbconn_options o = {.pool_size = 4, .max_overflow = DBCONN_NONE,
                        .loop = &loop};
    if ((rc = dbconn_open(&a.db, url, &o)) != 0) {
        fprintf(stderr, "dbconn_open: %s\n", dbconn_errmsg(NULL));
        uv_loop_close(&loop);
        remove_dir(dir);
        return 1;
    }
    dbconn_session *setup;
    if ((rc = dbconn_session_open(a.db, &setup)) != 0 ||
        /* a server keeps its tables between runs */
        (rc = dbconn_exec(setup, "DROP TABLE IF EXISTS jobs", NULL, 0,
                          NULL)) != 0 ||
        (rc = dbconn_exec(setup, "CREATE TABLE jobs (id INTEGER PRIMARY KEY, "
                                 "name TEXT NOT NULL)",
                          NULL, 0, NULL)) != 0 ||
        (rc = dbconn_commit(setup)) != 0) {
        fprintf(stderr, "schema: %s\n", dbconn_errmsg(NULL));
        a.failures++;
    }
    dbconn_session_close(setup);

    /* 1 000 tasks, started at once: timeouts of 0-9 ms. */
    task *tasks = calloc(NTASKS, sizeof *tasks);
    if (!tasks) {
        a.failures++;
    } else if (a.failures == 0) {
        for (int i = 0; i < NTASKS; i++) {
            task *t = &tasks[i];
            t->app = &a;
            t->id = i + 1;
            uv_timer_init(&loop, &t->timer);
            t->timer.data = t;
            uv_timer_start(&t->timer, on_timer, (uint64_t)(i % 10), 0);
        }
        uv_run(&loop, UV_RUN_DEFAULT); /* returns when every handle closed */
    }

    int64_t rows = count_rows(a.db);
    size_t left = dbconn_scoped_count(a.db);
    dbconn_stats st = {0};
    dbconn_pool_stats(a.db, &st);
    const char *env = getenv("UV_THREADPOOL_SIZE");
    uint64_t threads = env && atoi(env) > 0 ? (uint64_t)atoi(env) : 4;

    printf("tasks done     %d / %d (handles closed: %d)\n", a.done, NTASKS,
           a.closed);
    printf("rows found     %lld\n", (long long)rows);
    printf("scoped left    %zu\n", left);
    printf("pool           %d connections, %llu checkouts, %llu gate waits\n",
           st.size, (unsigned long long)st.checkouts,
           (unsigned long long)st.gate_waits);
    printf("async          %llu jobs, at most %llu in flight (thread pool: "
           "%llu)\n",
           (unsigned long long)st.async_jobs, (unsigned long long)st.async_peak,
           (unsigned long long)threads);

    if (a.failures) {
        fprintf(stderr, "FAIL: %d failure(s)\n", a.failures);
        bad = 1;
    }
    if (a.done != NTASKS || a.closed != NTASKS || rows != NTASKS) {
        fprintf(stderr, "FAIL: expected %d tasks, handles and rows\n", NTASKS);
        bad = 1;
    }
    if (left != 0) {
        fprintf(stderr, "FAIL: %zu scoped session(s) left\n", left);
        bad = 1;
    }
    /* On SQLite the statements ran on the thread pool; PostgreSQL's
     * default (loop) policy sends them from the loop thread: no job needed
     * there, and never more in flight than the pool has threads. */
    bool threadpool = strncmp(url, "sqlite", 6) == 0;
    if ((threadpool && st.async_peak == 0) || st.async_peak > threads ||
        st.size > 4) {
        fprintf(stderr, "FAIL: %llu jobs in flight, %d connections\n",
                (unsigned long long)st.async_peak, st.size);
        bad = 1;
    }

    /* Close, then run the loop dry: the library's handles close there. */
    if ((rc = dbconn_close(a.db, NULL)) != 0) {
        fprintf(stderr, "FAIL: dbconn_close: %s\n", dbconn_err_name(rc));
        bad = 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if ((rc = uv_loop_close(&loop)) != 0) {
        fprintf(stderr, "FAIL: uv_loop_close: %s\n", uv_strerror(rc));
        bad = 1;
    }
    free(tasks);
    remove_dir(dir);
    if (!bad)
        printf("ok\n");
    return bad;
}
