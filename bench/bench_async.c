/*
 * bench_async -- libdbconn's async API against raw synchronous SQLite and
 * the hand-written floor (bench/uv_floor.c), in the same run.
 *
 * Workloads, in memory and on a WAL file (synchronous=NORMAL), on
 * users(id, name, email, age) with `rows` preloaded rows:
 *   insert-awaited      N inserts in one transaction, each submitted from
 *                       the previous one's callback, then a commit
 *   select-autocommit   N point selects, each its own unit of work: the
 *                       library runs exec, then commit from its callback;
 *                       raw and the floor step the select with no BEGIN
 *   select-tx           N point selects awaited in one transaction
 *   tasks-awaited       T tasks at once, each on its scoped session:
 *                       insert, select of its row, commit -- each submitted
 *                       from the previous one's callback
 *   insert-pipelined    N inserts on one session submitted back to back,
 *                       then a commit
 *   tasks-pipelined     T tasks at once, each submitting its three
 *                       operations back to back
 * Sides: raw (synchronous SQLite, one connection: the time every other
 * side is divided by), floor (libuv + sqlite3, one hop per statement,
 * built as the library is: see uv_floor.c), lib (the threadpool policy),
 * inline (the inline policy).  libdbconn: pool_size P (default 4) and no
 * overflow; the floor has the same P connections.  Every figure is the
 * median of R runs (default 7) taken round-robin over the configurations
 * (run 1 of each, then run 2, ...), each after an untimed warm-up.
 * Columns: statements (or tasks) per second; time / raw's time; time /
 * the floor's time; thread-pool hops per statement (or task), from
 * dbconn_stats.async_jobs.
 *
 * Then two single figures (median of R):
 *   rss    peak resident memory while N point selects are queued on one
 *          session at once (each measured in a fresh child process): the
 *          library, the floor queueing N requests, and the bytes per
 *          queued operation beyond its SQL text and parameters;
 *   close  dbconn_close of a used in-memory engine (its pool's connections
 *          open) against closing the same number of raw memdb connections.
 *
 * usage: bench_async [--runs R] [--n N] [--tasks T] [--rows M] [--pool P]
 *                    [--raw-memdb] [--only CONFIG] [--rss-child SIDE]
 *   --only CONFIG runs one configuration once (for callgrind / perf), e.g.
 *   --only memory/insert-awaited/lib; --selects is --n.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <dbconn.h>

#include "uv_floor.h"

static int RUNS = 7;
static bench_cfg CFG = {.n = 20000, .tasks = 1000, .rows = 10000, .pool = 4,
                        .seed = 88172645463325252ull};
static char dir[512];

enum { SIDE_RAW, SIDE_FLOOR, SIDE_LIB, SIDE_INLINE, NSIDES };
static const char *const side_name[] = {"raw", "floor", "lib", "inline"};
static const char *const work_name[] = {
    "insert-awaited", "select-autocommit", "select-tx", "tasks-awaited",
    "insert-pipelined", "tasks-pipelined"};
static const char *const medium_name[] = {"memory", "file"};

#define CHECK(x)                                                                \
    do {                                                                        \
        if (!(x)) {                                                             \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #x,   \
                    dbconn_errmsg(NULL));                                       \
            exit(1);                                                            \
        }                                                                       \
    } while (0)

static double now(void) { return (double)uv_hrtime() / 1e9; }

static uint64_t next_id(uint64_t *rng) {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    return *rng % (uint64_t)CFG.rows + 1;
}

/* ---- a libdbconn engine on its own loop ---------------------------------- */

typedef struct lib {
    uv_loop_t loop;
    dbconn *db;
    int w;
    uint64_t rng;
    int left, done, failed;
    int64_t next_id;
    uint64_t jobs0;
} lib;

static void lib_open(lib *l, const bench_cfg *c, int policy) {
    memset(l, 0, sizeof *l);
    CHECK(uv_loop_init(&l->loop) == 0);
    char url[700];
    if (c->file)
        snprintf(url, sizeof url, "sqlite:///%s", c->path);
    else
        snprintf(url, sizeof url, "sqlite://");
    dbconn_options o = {.pool_size = c->pool, .max_overflow = DBCONN_NONE,
                        .loop = &l->loop,
                        .synchronous = c->file ? "normal" : NULL,
                        .execution_policy = policy};
    CHECK(dbconn_open(&l->db, url, &o) == 0);
    dbconn_session *s;
    CHECK(dbconn_session_open(l->db, &s) == 0);
    CHECK(dbconn_exec(s, BENCH_SCHEMA, NULL, 0, NULL) == 0);
    for (int64_t i = 1; i <= c->rows; i++) {
        char name[32], email[48];
        bench_row(i, name, sizeof name, email, sizeof email);
        CHECK(dbconn_exec(s, BENCH_INSERT,
                          DBCONN_PARAMS(DBCONN_INT(i), DBCONN_TEXT(name),
                                        DBCONN_TEXT(email), DBCONN_INT(i % 90)),
                          NULL) == 0);
    }
    CHECK(dbconn_commit(s) == 0);
    dbconn_session_close(s);
    /* Every pooled connection open and its statements prepared before the
     * clock starts, as the floor's are: one select per connection, held
     * open together. */
    dbconn_session *w[64];
    for (int k = 0; k < c->pool && k < 64; k++) {
        CHECK(dbconn_session_open(l->db, &w[k]) == 0);
        CHECK(dbconn_exec(w[k], BENCH_SELECT, DBCONN_PARAMS(DBCONN_INT(1)),
                          NULL) == 0);
        CHECK(dbconn_exec(w[k], "SELECT 1", NULL, 0, NULL) == 0);
    }
    for (int k = 0; k < c->pool && k < 64; k++) {
        CHECK(dbconn_commit(w[k]) == 0);
        dbconn_session_close(w[k]);
    }
    l->rng = c->seed;
    l->next_id = c->rows + 1;
    dbconn_stats st;
    CHECK(dbconn_pool_stats(l->db, &st) == 0);
    l->jobs0 = st.async_jobs;
}

static uint64_t lib_jobs(lib *l) {
    dbconn_stats st;
    CHECK(dbconn_pool_stats(l->db, &st) == 0);
    return st.async_jobs - l->jobs0;
}

static void lib_close(lib *l) {
    CHECK(dbconn_close(l->db, NULL) == 0);
    CHECK(uv_run(&l->loop, UV_RUN_DEFAULT) == 0);
    CHECK(uv_loop_close(&l->loop) == 0);
}

static void on_fail(lib *l, int status) {
    if (status) {
        fprintf(stderr, "bench_async: %s: %s\n", dbconn_err_name(status),
                dbconn_errmsg(NULL));
        l->failed++;
    }
}

/* ---- one stream (insert-awaited, selects, insert-pipelined) --------------- */

typedef struct stream {
    lib *l;
    dbconn_session *s;
} stream;

static void stream_next(stream *st);

static void on_commit(int status, void *data) {
    stream *st = data;
    on_fail(st->l, status);
    if (st->l->w == W_SELECT_AUTOCOMMIT)
        stream_next(st);
    else
        st->l->done++;
}

static void on_row(int status, dbconn_result *res, void *data) {
    stream *st = data;
    on_fail(st->l, status);
    if (res)
        bench_sink += dbconn_result_int(res, 0, 0) +
                      dbconn_result_text(res, 0, 1)[0] +
                      dbconn_result_int(res, 0, 3);
    dbconn_result_free(res);
    if (st->l->w == W_SELECT_AUTOCOMMIT)
        CHECK(dbconn_commit_async(st->s, on_commit, st) == 0);
    else
        stream_next(st);
}

static void on_insert(int status, dbconn_result *res, void *data) {
    stream *st = data;
    on_fail(st->l, status);
    dbconn_result_free(res);
    if (st->l->w == W_INSERT_AWAITED)
        stream_next(st);
}

static void submit_insert(stream *st) {
    char name[32], email[48];
    int64_t id = st->l->next_id++;
    bench_row(id, name, sizeof name, email, sizeof email);
    CHECK(dbconn_exec_async(st->s, BENCH_INSERT,
                            DBCONN_PARAMS(DBCONN_INT(id), DBCONN_TEXT(name),
                                          DBCONN_TEXT(email),
                                          DBCONN_INT(id % 90)),
                            on_insert, st) == 0);
}

static void submit_select(stream *st) {
    int64_t id = (int64_t)next_id(&st->l->rng);
    CHECK(dbconn_exec_async(st->s, BENCH_SELECT, DBCONN_PARAMS(DBCONN_INT(id)),
                            on_row, st) == 0);
}

static void stream_next(stream *st) {
    lib *l = st->l;
    if (l->left == 0) {
        if (l->w == W_SELECT_AUTOCOMMIT)
            l->done++;
        else
            CHECK(dbconn_commit_async(st->s, on_commit, st) == 0);
        return;
    }
    l->left--;
    if (l->w == W_INSERT_AWAITED)
        submit_insert(st);
    else
        submit_select(st);
}

/* ---- tasks ----------------------------------------------------------------- */

typedef struct task {
    lib *l;
    dbconn_session *s;
    int64_t id;
    int step;
} task;

static void task_cb(int status, dbconn_result *res, void *data);

static void task_done(int status, void *data) {
    task *t = data;
    on_fail(t->l, status);
    CHECK(dbconn_scoped_remove_key(t->l->db, t) == 0);
    t->l->done++;
}

static void task_insert(task *t) {
    char name[32], email[48];
    bench_row(t->id, name, sizeof name, email, sizeof email);
    CHECK(dbconn_exec_async(t->s, BENCH_INSERT,
                            DBCONN_PARAMS(DBCONN_INT(t->id), DBCONN_TEXT(name),
                                          DBCONN_TEXT(email),
                                          DBCONN_INT(t->id % 90)),
                            task_cb, t) == 0);
}

static void task_select(task *t) {
    CHECK(dbconn_exec_async(t->s, BENCH_SELECT,
                            DBCONN_PARAMS(DBCONN_INT(t->id)), task_cb, t) == 0);
}

/* Awaited: each step from the previous one's callback (the library entered
 * the task before calling it). */
static void task_cb(int status, dbconn_result *res, void *data) {
    task *t = data;
    on_fail(t->l, status);
    if (res && dbconn_result_nrows(res))
        bench_sink += dbconn_result_int(res, 0, 0) +
                      dbconn_result_text(res, 0, 1)[0];
    dbconn_result_free(res);
    if (t->l->w != W_TASKS_AWAITED)
        return;
    if (++t->step == 1)
        task_select(t);
    else
        CHECK(dbconn_commit_async(t->s, task_done, t) == 0);
}

static void task_start(task *t) {
    void *prev = dbconn_task_enter(t);
    CHECK(dbconn_scoped_session(t->l->db, &t->s) == 0);
    task_insert(t);
    if (t->l->w == W_TASKS_PIPELINED) {
        task_select(t);
        CHECK(dbconn_commit_async(t->s, task_done, t) == 0);
    }
    dbconn_task_leave(prev);
}

/* ---- running one configuration ------------------------------------------------ */

__attribute__((noinline)) void lib_timed(lib *l, int w, int n, task *tasks,
                                         stream *st);
__attribute__((noinline)) void lib_timed(lib *l, int w, int n, task *tasks,
                                         stream *st) {
    if (w == W_TASKS_AWAITED || w == W_TASKS_PIPELINED) {
        for (int i = 0; i < n; i++) {
            tasks[i] = (task){.l = l, .id = l->next_id++};
            task_start(&tasks[i]);
        }
    } else if (w == W_INSERT_PIPELINED) {
        for (int i = 0; i < n; i++)
            submit_insert(st);
        CHECK(dbconn_commit_async(st->s, on_commit, st) == 0);
    } else {
        l->left = n;
        stream_next(st);
    }
    uv_run(&l->loop, UV_RUN_DEFAULT);
}

/* Seconds for one run of (w, side); *hops per statement / task. */
static double lib_run(const bench_cfg *c, int w, int policy, double *hops) {
    lib l;
    lib_open(&l, c, policy);
    l.w = w;
    int tasks_w = w == W_TASKS_AWAITED || w == W_TASKS_PIPELINED;
    int n = tasks_w ? c->tasks : c->n;
    task *tasks = tasks_w ? calloc((size_t)n, sizeof *tasks) : NULL;
    stream st = {.l = &l};
    if (!tasks_w)
        CHECK(dbconn_session_open(l.db, &st.s) == 0);
    /* untimed warm-up: a few of the same operations */
    {
        int save = l.done;
        task warm[16];
        if (tasks_w) {
            for (int i = 0; i < 16; i++) {
                warm[i] = (task){.l = &l, .id = l.next_id++};
                task_start(&warm[i]);
            }
            uv_run(&l.loop, UV_RUN_DEFAULT);
        } else {
            /* the pipelined inserts warm up as awaited ones */
            l.w = w == W_INSERT_PIPELINED ? W_INSERT_AWAITED : w;
            l.left = 16;
            stream_next(&st);
            uv_run(&l.loop, UV_RUN_DEFAULT);
            l.w = w;
        }
        l.done = save;
        l.jobs0 += lib_jobs(&l);
    }
    double t0 = now();
    lib_timed(&l, w, n, tasks, &st);
    double t = now() - t0;
    CHECK(l.failed == 0);
    CHECK(l.done == (tasks_w ? n : 1));
    *hops = (double)lib_jobs(&l) / n;
    if (st.s)
        dbconn_session_close(st.s);
    free(tasks);
    lib_close(&l);
    return t;
}

/* ---- peak memory with N queued selects (in a child) ------------------------- */

static long vm_hwm_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static long vm_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* The child: prints "<rss before> <peak>" in KiB. */
static int rss_child(const char *side) {
    bench_cfg c = CFG;
    c.file = 0;
    if (strcmp(side, "floor") == 0) {
        long before = vm_rss_kib();
        floor_queue_selects(&c);
        printf("%ld %ld\n", before, vm_hwm_kib());
        return 0;
    }
    lib l;
    lib_open(&l, &c, DBCONN_EXEC_THREADPOOL);
    l.w = W_SELECT_TX;
    stream st = {.l = &l};
    CHECK(dbconn_session_open(l.db, &st.s) == 0);
    long before = vm_rss_kib();
    for (int i = 0; i < c.n; i++)
        submit_select(&st);
    CHECK(dbconn_commit_async(st.s, on_commit, &st) == 0);
    uv_run(&l.loop, UV_RUN_DEFAULT);
    long peak = vm_hwm_kib();
    dbconn_session_close(st.s);
    lib_close(&l);
    printf("%ld %ld\n", before, peak);
    return 0;
}

static void rss_of(const char *self, const char *side, long *before,
                   long *peak) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s --n %d --rows %d --pool %d --rss-child %s", self, CFG.n,
             CFG.rows, CFG.pool, side);
    FILE *p = popen(cmd, "r");
    CHECK(p && fscanf(p, "%ld %ld", before, peak) == 2);
    CHECK(pclose(p) == 0);
}

/* ---- close of an in-memory engine ---------------------------------------- */

static double close_lib(void) {
    lib l;
    bench_cfg c = CFG;
    c.file = 0;
    c.rows = 100;
    lib_open(&l, &c, DBCONN_EXEC_THREADPOOL);
    double t0 = now();
    CHECK(dbconn_close(l.db, NULL) == 0);
    double t = now() - t0;
    CHECK(uv_run(&l.loop, UV_RUN_DEFAULT) == 0);
    CHECK(uv_loop_close(&l.loop) == 0);
    return t;
}

/* The same connections by hand: an anchor and the pool's, on memdb. */
static double close_raw(void) {
    static unsigned seq;
    char uri[128];
    snprintf(uri, sizeof uri, "file:/bench-close-%u?vfs=memdb", seq++);
    sqlite3 *db[65];
    int n = CFG.pool + 1 < 65 ? CFG.pool + 1 : 65;
    for (int i = 0; i < n; i++) {
        CHECK(sqlite3_open_v2(uri, &db[i],
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                  SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                              NULL) == SQLITE_OK);
        if (i == 0)
            CHECK(sqlite3_exec(db[0], BENCH_SCHEMA, 0, 0, 0) == 0);
        CHECK(sqlite3_exec(db[i], "SELECT count(*) FROM users", 0, 0, 0) ==
              0);
    }
    double t0 = now();
    for (int i = n - 1; i >= 0; i--)
        sqlite3_close(db[i]);
    return now() - t0;
}

/* ---- main ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    double c[64];
    memcpy(c, v, (size_t)n * sizeof *v);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    return n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}

/* Which sides a workload has. */
static bool has_side(int w, int side) {
    if (side == SIDE_FLOOR)
        return w != W_INSERT_PIPELINED;
    return true;
}

static double run_one(int medium, int w, int side, int run, double *hops) {
    bench_cfg c = CFG;
    char path[600];
    c.file = medium;
    snprintf(path, sizeof path, "%s/%s-%d.db", dir, side_name[side], run);
    c.path = path;
    *hops = 0;
    switch (side) {
    case SIDE_RAW:
        return raw_run(&c, w);
    case SIDE_FLOOR:
        return floor_run(&c, w);
    default: {
        double t = lib_run(&c, w,
                           side == SIDE_LIB ? DBCONN_EXEC_THREADPOOL
                                            : DBCONN_EXEC_INLINE,
                           hops);
        char p[700];
        unlink(path);
        snprintf(p, sizeof p, "%s-wal", path);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", path);
        unlink(p);
        return t;
    }
    }
}

int main(int argc, char **argv) {
    const char *only = NULL, *rss_side = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            RUNS = atoi(argv[++i]);
        else if ((strcmp(argv[i], "--n") == 0 ||
                  strcmp(argv[i], "--selects") == 0) && i + 1 < argc)
            CFG.n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc)
            CFG.tasks = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
            CFG.rows = atoi(argv[++i]);
        else if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc)
            CFG.pool = atoi(argv[++i]);
        else if (strcmp(argv[i], "--raw-memdb") == 0)
            CFG.raw_memdb = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--rss-child") == 0 && i + 1 < argc)
            rss_side = argv[++i];
        else
            RUNS = 0;
    }
    if (RUNS < 1 || RUNS > 64 || CFG.n < 1 || CFG.tasks < 1 || CFG.rows < 1 ||
        CFG.pool < 1 || CFG.pool > 64) {
        fprintf(stderr, "usage: bench_async [--runs 1..64] [--n N] [--tasks T] "
                        "[--rows M] [--pool 1..64] [--raw-memdb] "
                        "[--only MEDIUM/WORKLOAD/SIDE]\n");
        return 2;
    }
    if (rss_side)
        return rss_child(rss_side);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/dbconn-bench-XXXXXX", tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);

    if (only) {
        for (int m = 0; m < 2; m++)
            for (int w = 0; w < NWORKLOADS; w++)
                for (int s = 0; s < NSIDES; s++) {
                    char name[128];
                    snprintf(name, sizeof name, "%s/%s/%s", medium_name[m],
                             work_name[w], side_name[s]);
                    double hops;
                    if (strcmp(name, only) == 0 && has_side(w, s))
                        printf("%s %.6f s\n", name, run_one(m, w, s, 0, &hops));
                }
        rmdir(dir);
        return 0;
    }

    static double t[2][NWORKLOADS][NSIDES][64], hop[2][NWORKLOADS][NSIDES][64];
    for (int r = 0; r < RUNS; r++)
        for (int m = 0; m < 2; m++)
            for (int w = 0; w < NWORKLOADS; w++)
                for (int s = 0; s < NSIDES; s++)
                    if (has_side(w, s))
                        t[m][w][s][r] = run_one(m, w, s, r, &hop[m][w][s][r]);

    printf("libdbconn %s, SQLite %s, libuv %s: N=%d, T=%d, %d rows, pool %d, "
           "median of %d runs\n\n",
           dbconn_version_string(), sqlite3_libversion(), uv_version_string(),
           CFG.n, CFG.tasks, CFG.rows, CFG.pool, RUNS);
    printf("%-34s %10s %8s %8s %6s\n", "configuration", "per s", "/raw",
           "/floor", "hops");
    for (int m = 0; m < 2; m++) {
        for (int w = 0; w < NWORKLOADS; w++) {
            int n = w == W_TASKS_AWAITED || w == W_TASKS_PIPELINED ? CFG.tasks
                                                                   : CFG.n;
            double raw = median(t[m][w][SIDE_RAW], RUNS);
            double flr = has_side(w, SIDE_FLOOR)
                             ? median(t[m][w][SIDE_FLOOR], RUNS)
                             : 0;
            for (int s = 0; s < NSIDES; s++) {
                if (!has_side(w, s))
                    continue;
                char name[128];
                snprintf(name, sizeof name, "%s/%s/%s", medium_name[m],
                         work_name[w], side_name[s]);
                double x = median(t[m][w][s], RUNS);
                printf("%-34s %10.0f %7.2fx", name, n / x, x / raw);
                if (flr > 0 && s != SIDE_FLOOR && s != SIDE_RAW)
                    printf(" %7.2fx", x / flr);
                else
                    printf(" %8s", "");
                if (s >= SIDE_LIB)
                    printf(" %6.3f", median(hop[m][w][s], RUNS));
                printf("\n");
            }
        }
        printf("\n");
    }

    double rb[64], rp[64], fb[64], fp[64], cl[64], cr[64];
    for (int r = 0; r < RUNS; r++) {
        long b, p;
        rss_of(argv[0], "lib", &b, &p);
        rb[r] = (double)b;
        rp[r] = (double)p;
        rss_of(argv[0], "floor", &b, &p);
        fb[r] = (double)b;
        fp[r] = (double)p;
        cl[r] = close_lib();
        cr[r] = close_raw();
    }
    /* beyond the SQL text and the parameter (its value and the 24-byte
     * dbconn_value that carries it) */
    double payload = (double)strlen(BENCH_SELECT) + 1 + sizeof(dbconn_value);
    double per_op = (median(rp, RUNS) - median(rb, RUNS)) * 1024.0 / CFG.n -
                    payload;
    printf("peak RSS, %d queued selects: libdbconn %.1f MiB (+%.1f MiB while "
           "queued: %.0f bytes per operation beyond its SQL and parameter); "
           "floor %.1f MiB (+%.1f MiB)\n",
           CFG.n, median(rp, RUNS) / 1024, (median(rp, RUNS) - median(rb, RUNS)) / 1024,
           per_op, median(fp, RUNS) / 1024,
           (median(fp, RUNS) - median(fb, RUNS)) / 1024);
    printf("close of an in-memory engine (pool %d): libdbconn %.3f ms, raw "
           "%.3f ms (%.2fx)\n",
           CFG.pool, median(cl, RUNS) * 1e3, median(cr, RUNS) * 1e3,
           median(cl, RUNS) / median(cr, RUNS));
    printf("\nSQLite busy-handler calls: see dbconn_stats; goals "
           "(docs/performance.md): awaited <= 1.00x the floor, pipelined "
           "<= 1.3x raw (file) / 2x (memory), <= 100 bytes per queued "
           "operation, close <= 2x raw\n");
    rmdir(dir);
    return 0;
}
