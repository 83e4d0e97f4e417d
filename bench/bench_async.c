/*
 * bench_async — libdbconn's async API against raw synchronous SQLite and a
 * hand-written libuv + sqlite3 floor (bench/uv_floor.c), in one run.
 *
 * (a) tasks: T tasks (default 1000), each INSERT + SELECT (its own row, every
 *     column read) + COMMIT on its scoped session, all started at once, ids
 *     1..T into users(id, name, email, age).  Through the async API two ways:
 *       awaited    each operation submitted from the previous one's callback
 *                  (3 submissions, so at least 3 hops per task);
 *       pipelined  all three submitted back to back (1 hop per task);
 *     with the threadpool and the inline execution policy.  The task enters
 *     itself, gets dbconn_scoped_session, and its COMMIT callback removes the
 *     session (dbconn_scoped_remove_key), as a real task would.
 * (b) select stream: N point selects (default 20000) of random ids over M
 *     preloaded rows (default 10000):
 *       queued     all N submitted at once, round-robin on 4 sessions, then a
 *                  commit on each (one hop per session drains its queue);
 *       4 chains   4 sessions, each submitting its next select from the
 *                  previous one's callback (one hop per select).
 * (c) raw synchronous SQLite doing the same work on one connection
 *     (prepared statements reused, the same transactions).
 * (d) the floor: one uv_queue_work per statement, prepared statements reused,
 *     thread-local connections for the selects (see uv_floor.c for why the
 *     tasks use one connection, one transaction at a time).
 * Media: a WAL file with synchronous=NORMAL, and memory (libdbconn: its memdb
 * engine; raw: ":memory:"; floor: ":memory:" for the one-connection tasks,
 * memdb for the multi-connection selects; journal_mode=memory everywhere).
 * libdbconn: pool_size 4, no overflow.  Every figure is the median of R
 * interleaved runs (default 5: run 1 of every configuration, then run 2,
 * ...), same seed every run; each configuration warms up untimed first
 * (connections, statements, pages).  The "hops" column is thread-pool jobs
 * (libdbconn: dbconn_stats.async_jobs; inline: inline runs) per operation
 * of the workload (per task, per select); a parked writer's queue that the
 * worker releasing the gate ran itself (dbconn_stats.async_chained) is not
 * a hop, so pipelined writers show fewer than one.
 *
 * Targets (printed next to the figures; informative only -- CI never gates
 * on timing):
 *   1. WAL file: awaited tasks no slower than the floor's awaited tasks;
 *   2. WAL file: pipelined tasks within 2x of raw synchronous SQLite;
 *   3. inline policy, memory: pipelined tasks within 1.5x of raw.
 *
 * usage: bench_async [--runs R] [--tasks T] [--selects N] [--rows M]
 *                    [--seed S] [--pool P] [--raw-memdb] [--only NAME]
 *   --pool P: libdbconn's pool_size (default 4; with fewer, the select
 *   stream's 4 sessions take turns);
 *   --raw-memdb: raw SQLite and the floor's tasks use a memdb database in
 *   memory (libdbconn's VFS) instead of ":memory:", to tell the library's
 *   cost from the VFS's;
 *   --only NAME runs one configuration once (for perf / callgrind:
 *   --toggle-collect=lib_run_tasks or raw_run_tasks); the names are the
 *   first column of the table.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <dbconn.h>

#include "uv_floor.h"

static int RUNS = 5, NTASKS = 1000, NSELECTS = 20000, NROWS = 10000;
static int POOL = 4; /* libdbconn's pool_size (no overflow) */
static uint64_t SEED = 88172645463325252ull;
static char dir[512];

enum { NSESS = 4, WARM_TASKS = 16, WARM_SELECTS = 64, MAXRUNS = 64 };

#define CHECK(x)                                                                \
    do {                                                                        \
        if (!(x)) {                                                             \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #x,   \
                    dbconn_errmsg(NULL));                                       \
            exit(1);                                                            \
        }                                                                       \
    } while (0)

static double now(void) { return (double)uv_hrtime() / 1e9; }

/* ---- a libdbconn engine on its own loop ---------------------------------- */

typedef struct lib {
    uv_loop_t loop;
    dbconn *db;
    char path[600];
    int file;
} lib;

static void lib_open(lib *l, int file, int policy, int run) {
    char url[700];
    l->file = file;
    CHECK(uv_loop_init(&l->loop) == 0);
    if (file) {
        snprintf(l->path, sizeof l->path, "%s/lib-%d.db", dir, run);
        snprintf(url, sizeof url, "sqlite:///%s", l->path);
    } else {
        snprintf(url, sizeof url, "sqlite://");
    }
    dbconn_options o = {.pool_size = POOL,
                        .max_overflow = DBCONN_NONE,
                        .loop = &l->loop,
                        .synchronous = file ? "normal" : NULL,
                        .execution_policy = policy};
    CHECK(dbconn_open(&l->db, url, &o) == 0);
    dbconn_session *s;
    CHECK(dbconn_session_open(l->db, &s) == 0);
    CHECK(dbconn_exec(s, BENCH_SCHEMA, NULL, 0, NULL) == 0);
    CHECK(dbconn_commit(s) == 0);
    dbconn_session_close(s);
    /* Open every pooled connection now and make it read the schema,
     * untimed and with nobody writing (the floor opens its connections
     * before its clock starts too).  In memory this also matters for
     * correctness: a connection that must (re)read the schema while another
     * session holds a write transaction waits in SQLite's busy handler --
     * with the inline policy on the loop thread, which freezes the loop for
     * busy_timeout_ms (docs/async.md, "In memory"). */
    dbconn_session *w[64];
    for (int k = 0; k < POOL; k++) {
        CHECK(dbconn_session_open(l->db, &w[k]) == 0);
        CHECK(dbconn_exec(w[k], "SELECT count(*) FROM users", NULL, 0, NULL) ==
              0);
    }
    for (int k = 0; k < POOL; k++) {
        CHECK(dbconn_commit(w[k]) == 0);
        dbconn_session_close(w[k]);
    }
}

static void remove_db(const char *path) {
    char p[700];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static void lib_count_busy(lib *l);

static void lib_close(lib *l) {
    lib_count_busy(l);
    CHECK(dbconn_close(l->db, NULL) == 0);
    CHECK(uv_run(&l->loop, UV_RUN_DEFAULT) == 0);
    CHECK(uv_loop_close(&l->loop) == 0);
    if (l->file)
        remove_db(l->path);
}

static uint64_t lib_jobs(lib *l) {
    dbconn_stats st;
    CHECK(dbconn_pool_stats(l->db, &st) == 0);
    return st.async_jobs;
}

/* Sleeps in SQLite's busy handler over the whole run, summed over every
 * configuration: in-process sessions should never get there (the write
 * gate queues writers), so anything but 0 is reported. */
static uint64_t busy_calls;

static void lib_count_busy(lib *l) {
    dbconn_stats st;
    CHECK(dbconn_pool_stats(l->db, &st) == 0);
    busy_calls += st.busy_handler_calls;
}

/* ---- (a) tasks through the async API ------------------------------------- */

typedef struct ltask ltask;
typedef struct ltask_run {
    dbconn *db;
    bool awaited;
    int done, failed;
} ltask_run;

struct ltask {
    ltask_run *r;
    int64_t id;
    int step; /* callbacks seen: 0 insert, 1 select */
    dbconn_session *s;
};

static void lt_exec_cb(int status, dbconn_result *res, void *data);
static void lt_commit_cb(int status, void *data);

static int lt_insert(ltask *t) {
    char name[32], email[48];
    bench_row(t->id, name, email);
    return dbconn_exec_async(t->s, BENCH_INSERT,
                             DBCONN_PARAMS(DBCONN_INT(t->id), DBCONN_TEXT(name),
                                           DBCONN_TEXT(email),
                                           DBCONN_INT(t->id % 90)),
                             lt_exec_cb, t);
}

static int lt_select(ltask *t) {
    return dbconn_exec_async(t->s, BENCH_SELECT,
                             DBCONN_PARAMS(DBCONN_INT(t->id)), lt_exec_cb, t);
}

static void lt_exec_cb(int status, dbconn_result *res, void *data) {
    ltask *t = data;
    if (status < 0)
        t->r->failed++;
    if (t->step == 1) { /* the select: read the row like the raw side */
        if (dbconn_result_nrows(res) != 1 ||
            dbconn_result_int(res, 0, 0) != t->id)
            t->r->failed++;
        else
            bench_keep(dbconn_result_int(res, 0, 0) +
                       dbconn_result_int(res, 0, 3) +
                       dbconn_result_text(res, 0, 1)[0] +
                       dbconn_result_text(res, 0, 2)[0]);
    }
    dbconn_result_free(res);
    t->step++;
    if (t->r->awaited) /* we run in the task: the next await */
        CHECK((t->step == 1 ? lt_select(t)
                            : dbconn_commit_async(t->s, lt_commit_cb, t)) ==
              0);
}

static void lt_commit_cb(int status, void *data) {
    ltask *t = data;
    if (status < 0)
        t->r->failed++;
    t->r->done++;
    CHECK(dbconn_scoped_remove_key(t->r->db, t) == 0); /* the task ends */
}

static void lt_start(ltask *t) {
    void *prev = dbconn_task_enter(t);
    CHECK(dbconn_scoped_session(t->r->db, &t->s) == 0);
    CHECK(lt_insert(t) == 0);
    if (!t->r->awaited) {
        CHECK(lt_select(t) == 0);
        CHECK(dbconn_commit_async(t->s, lt_commit_cb, t) == 0);
    }
    dbconn_task_leave(prev);
}

/* Out of line for callgrind (--toggle-collect=lib_run_tasks). */
__attribute__((noinline)) static double
lib_run_tasks(lib *l, ltask *tasks, int64_t first, int n, bool awaited) {
    ltask_run r = {.db = l->db, .awaited = awaited};
    double t0 = now();
    for (int i = 0; i < n; i++) {
        tasks[i] = (ltask){.r = &r, .id = first + i};
        lt_start(&tasks[i]);
    }
    uv_run(&l->loop, UV_RUN_DEFAULT);
    double t = now() - t0;
    CHECK(r.done == n && r.failed == 0);
    CHECK(dbconn_scoped_count(l->db) == 0);
    return t;
}

/* Returns seconds; *hops gets the jobs per task of the timed part. */
static double lib_tasks(int file, int policy, bool awaited, int run,
                        double *hops) {
    lib l;
    lib_open(&l, file, policy, run);
    ltask *tasks = calloc((size_t)NTASKS + WARM_TASKS, sizeof *tasks);
    CHECK(tasks != NULL);
    lib_run_tasks(&l, tasks, 1000001, WARM_TASKS, awaited);
    uint64_t j0 = lib_jobs(&l);
    double t = lib_run_tasks(&l, tasks, 1, NTASKS, awaited);
    *hops = (double)(lib_jobs(&l) - j0) / NTASKS;
    free(tasks);
    lib_close(&l);
    return t;
}

/* ---- (b) the select stream through the async API -------------------------- */

typedef struct lsel_run {
    dbconn_session *s[NSESS];
    int64_t *ids;
    int n, issued, done, failed;
    bool chained;
} lsel_run;

typedef struct lsel_chain {
    lsel_run *r;
    int k; /* its session */
} lsel_chain;

static void ls_exec_cb(int status, dbconn_result *res, void *data);

static void ls_check_row(lsel_run *r, int status, dbconn_result *res) {
    if (status < 0 || dbconn_result_nrows(res) != 1)
        r->failed++;
    else
        bench_keep(dbconn_result_int(res, 0, 0) +
                   dbconn_result_int(res, 0, 3) +
                   dbconn_result_text(res, 0, 1)[0] +
                   dbconn_result_text(res, 0, 2)[0]);
    dbconn_result_free(res);
    r->done++;
}

static void ls_commit_cb(int status, void *data) {
    lsel_run *r = data;
    if (status < 0)
        r->failed++;
}

static void ls_submit(lsel_run *r, int k, void *data) {
    CHECK(dbconn_exec_async(r->s[k], BENCH_SELECT,
                            DBCONN_PARAMS(DBCONN_INT(r->ids[r->issued++])),
                            ls_exec_cb, data) == 0);
}

/* Chained: the next select of this chain, or its commit. */
static void ls_exec_cb(int status, dbconn_result *res, void *data) {
    lsel_chain *c = data;
    lsel_run *r = c->r;
    ls_check_row(r, status, res);
    if (r->issued < r->n)
        ls_submit(r, c->k, c);
    else
        CHECK(dbconn_commit_async(r->s[c->k], ls_commit_cb, r) == 0);
}

/* Queued: nothing follows a select. */
static void ls_queued_cb(int status, dbconn_result *res, void *data) {
    ls_check_row(data, status, res);
}

static double lib_run_selects(lsel_run *r, uv_loop_t *loop, int n) {
    lsel_chain chains[NSESS];
    r->n = n;
    r->issued = r->done = r->failed = 0;
    double t0 = now();
    if (r->chained) {
        for (int k = 0; k < NSESS && k < n; k++) {
            chains[k] = (lsel_chain){r, k};
            ls_submit(r, k, &chains[k]);
        }
    } else {
        for (int i = 0; i < n; i++)
            CHECK(dbconn_exec_async(r->s[i % NSESS], BENCH_SELECT,
                                    DBCONN_PARAMS(DBCONN_INT(r->ids[i])),
                                    ls_queued_cb, r) == 0);
        r->issued = n;
        for (int k = 0; k < NSESS; k++)
            CHECK(dbconn_commit_async(r->s[k], ls_commit_cb, r) == 0);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    double t = now() - t0;
    CHECK(r->done == n && r->failed == 0);
    return t;
}

static double lib_selects(int file, int policy, bool chained, int run,
                          double *hops) {
    lib l;
    lib_open(&l, file, policy, run);
    dbconn_session *s;
    CHECK(dbconn_session_open(l.db, &s) == 0);
    for (int64_t id = 1; id <= NROWS; id++) {
        char name[32], email[48];
        bench_row(id, name, email);
        CHECK(dbconn_exec(s, BENCH_INSERT,
                          DBCONN_PARAMS(DBCONN_INT(id), DBCONN_TEXT(name),
                                        DBCONN_TEXT(email),
                                        DBCONN_INT(id % 90)),
                          NULL) == 0);
    }
    CHECK(dbconn_commit(s) == 0);
    dbconn_session_close(s);

    lsel_run r = {.chained = chained};
    r.ids = calloc((size_t)NSELECTS, sizeof *r.ids);
    CHECK(r.ids != NULL);
    for (int k = 0; k < NSESS; k++)
        CHECK(dbconn_session_open(l.db, &r.s[k]) == 0);
    uint64_t rng = SEED;
    int warm = WARM_SELECTS < NSELECTS ? WARM_SELECTS : NSELECTS;
    for (int i = 0; i < warm; i++)
        r.ids[i] = (int64_t)(bench_rand(&rng) % (uint64_t)NROWS) + 1;
    lib_run_selects(&r, &l.loop, warm);
    rng = SEED;
    for (int i = 0; i < NSELECTS; i++)
        r.ids[i] = (int64_t)(bench_rand(&rng) % (uint64_t)NROWS) + 1;
    uint64_t j0 = lib_jobs(&l);
    double t = lib_run_selects(&r, &l.loop, NSELECTS);
    *hops = (double)(lib_jobs(&l) - j0) / NSELECTS;
    for (int k = 0; k < NSESS; k++)
        dbconn_session_close(r.s[k]);
    free(r.ids);
    lib_close(&l);
    return t;
}

/* ---- the configurations ---------------------------------------------------- */

enum { SIDE_RAW, SIDE_FLOOR, SIDE_LIB };
enum { W_TASKS, W_SELECTS };

typedef struct cfg {
    const char *name;
    int work, side, file;
    int policy;     /* lib: DBCONN_EXEC_* */
    int mode;       /* tasks: 1 awaited / 0 pipelined; selects: 1 chained */
    double t[MAXRUNS], hops[MAXRUNS];
} cfg;

static cfg cfgs[] = {
    {"tasks/file/raw", W_TASKS, SIDE_RAW, 1, 0, 0, {0}, {0}},
    {"tasks/file/floor-awaited", W_TASKS, SIDE_FLOOR, 1, 0, 1, {0}, {0}},
    {"tasks/file/floor-pipelined", W_TASKS, SIDE_FLOOR, 1, 0, 0, {0}, {0}},
    {"tasks/file/threadpool-awaited", W_TASKS, SIDE_LIB, 1,
     DBCONN_EXEC_THREADPOOL, 1, {0}, {0}},
    {"tasks/file/threadpool-pipelined", W_TASKS, SIDE_LIB, 1,
     DBCONN_EXEC_THREADPOOL, 0, {0}, {0}},
    {"tasks/file/inline-awaited", W_TASKS, SIDE_LIB, 1, DBCONN_EXEC_INLINE, 1,
     {0}, {0}},
    {"tasks/file/inline-pipelined", W_TASKS, SIDE_LIB, 1, DBCONN_EXEC_INLINE,
     0, {0}, {0}},
    {"tasks/memory/raw", W_TASKS, SIDE_RAW, 0, 0, 0, {0}, {0}},
    {"tasks/memory/floor-awaited", W_TASKS, SIDE_FLOOR, 0, 0, 1, {0}, {0}},
    {"tasks/memory/floor-pipelined", W_TASKS, SIDE_FLOOR, 0, 0, 0, {0}, {0}},
    {"tasks/memory/threadpool-awaited", W_TASKS, SIDE_LIB, 0,
     DBCONN_EXEC_THREADPOOL, 1, {0}, {0}},
    {"tasks/memory/threadpool-pipelined", W_TASKS, SIDE_LIB, 0,
     DBCONN_EXEC_THREADPOOL, 0, {0}, {0}},
    {"tasks/memory/inline-awaited", W_TASKS, SIDE_LIB, 0, DBCONN_EXEC_INLINE,
     1, {0}, {0}},
    {"tasks/memory/inline-pipelined", W_TASKS, SIDE_LIB, 0,
     DBCONN_EXEC_INLINE, 0, {0}, {0}},
    {"selects/file/raw", W_SELECTS, SIDE_RAW, 1, 0, 0, {0}, {0}},
    {"selects/file/floor-queued", W_SELECTS, SIDE_FLOOR, 1, 0, 0, {0}, {0}},
    {"selects/file/floor-4chains", W_SELECTS, SIDE_FLOOR, 1, 0, 1, {0}, {0}},
    {"selects/file/threadpool-queued", W_SELECTS, SIDE_LIB, 1,
     DBCONN_EXEC_THREADPOOL, 0, {0}, {0}},
    {"selects/file/threadpool-4chains", W_SELECTS, SIDE_LIB, 1,
     DBCONN_EXEC_THREADPOOL, 1, {0}, {0}},
    {"selects/file/inline-queued", W_SELECTS, SIDE_LIB, 1, DBCONN_EXEC_INLINE,
     0, {0}, {0}},
    {"selects/file/inline-4chains", W_SELECTS, SIDE_LIB, 1,
     DBCONN_EXEC_INLINE, 1, {0}, {0}},
    {"selects/memory/raw", W_SELECTS, SIDE_RAW, 0, 0, 0, {0}, {0}},
    {"selects/memory/floor-queued", W_SELECTS, SIDE_FLOOR, 0, 0, 0, {0}, {0}},
    {"selects/memory/floor-4chains", W_SELECTS, SIDE_FLOOR, 0, 0, 1, {0},
     {0}},
    {"selects/memory/threadpool-queued", W_SELECTS, SIDE_LIB, 0,
     DBCONN_EXEC_THREADPOOL, 0, {0}, {0}},
    {"selects/memory/threadpool-4chains", W_SELECTS, SIDE_LIB, 0,
     DBCONN_EXEC_THREADPOOL, 1, {0}, {0}},
    {"selects/memory/inline-queued", W_SELECTS, SIDE_LIB, 0,
     DBCONN_EXEC_INLINE, 0, {0}, {0}},
    {"selects/memory/inline-4chains", W_SELECTS, SIDE_LIB, 0,
     DBCONN_EXEC_INLINE, 1, {0}, {0}},
};
enum { NCFG = sizeof cfgs / sizeof *cfgs };

static double run_cfg(cfg *c, int run, double *hops) {
    char path[600];
    snprintf(path, sizeof path, "%s/base-%d.db", dir, run);
    const char *p = c->file ? path : NULL;
    *hops = 0;
    if (c->side == SIDE_RAW)
        return c->work == W_TASKS ? raw_tasks(p, NTASKS)
                                  : raw_selects(p, NROWS, NSELECTS, SEED);
    if (c->side == SIDE_FLOOR) {
        *hops = c->work == W_TASKS ? (c->mode ? 3 : 1) : 1;
        return c->work == W_TASKS
                   ? floor_tasks(p, NTASKS, !c->mode)
                   : floor_selects(p, NROWS, NSELECTS, c->mode ? NSESS : 0,
                                   SEED);
    }
    return c->work == W_TASKS
               ? lib_tasks(c->file, c->policy, c->mode, run, hops)
               : lib_selects(c->file, c->policy, c->mode, run, hops);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) {
    double s[MAXRUNS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static cfg *find(const char *name) {
    for (int i = 0; i < NCFG; i++)
        if (strcmp(cfgs[i].name, name) == 0)
            return &cfgs[i];
    return NULL;
}

static double med(const char *name) { return median(find(name)->t, RUNS); }

static void target(const char *what, double ratio, double limit) {
    printf("  [%s] %s: %.2fx (limit %.2fx)\n",
           ratio <= limit ? "met   " : "MISSED", what, ratio, limit);
}

int main(int argc, char **argv) {
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            RUNS = atoi(argv[++i]);
        else if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc)
            NTASKS = atoi(argv[++i]);
        else if (strcmp(argv[i], "--selects") == 0 && i + 1 < argc)
            NSELECTS = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
            NROWS = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            SEED = strtoull(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc)
            POOL = atoi(argv[++i]);
        else if (strcmp(argv[i], "--raw-memdb") == 0)
            bench_raw_memdb = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else
            RUNS = 0; /* usage */
    }
    if (RUNS < 1 || RUNS > MAXRUNS || NTASKS < 1 || NSELECTS < 1 ||
        POOL < 1 || POOL > 64 ||
        NROWS < 1 || SEED == 0 || (only && !find(only))) {
        fprintf(stderr,
                "usage: bench_async [--runs 1..%d] [--tasks T] [--selects N] "
                "[--rows M] [--seed S (non-zero)] [--pool 1..64] "
                "[--raw-memdb] [--only NAME]\n",
                MAXRUNS);
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/dbconn-bench-async-XXXXXX",
             tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);

    if (only) {
        double hops, t = run_cfg(find(only), 0, &hops);
        printf("%s: %.4f s, %.3f hops/op, %llu busy-handler calls\n", only,
               t, hops, (unsigned long long)busy_calls);
        rmdir(dir);
        return 0;
    }

    const char *pool = getenv("UV_THREADPOOL_SIZE");
    printf("bench_async: libdbconn %s, SQLite %s, libuv %s, "
           "UV_THREADPOOL_SIZE=%s\n",
           dbconn_version_string(), sqlite3_libversion(),
           uv_version_string(), pool ? pool : "4 (default)");
    printf("(a) %d tasks of INSERT + SELECT + COMMIT; (b) %d point selects "
           "over %d rows; median of %d interleaved runs, seed %llu\n\n",
           NTASKS, NSELECTS, NROWS, RUNS, (unsigned long long)SEED);

    for (int run = 0; run < RUNS; run++)
        for (int i = 0; i < NCFG; i++)
            cfgs[i].t[run] = run_cfg(&cfgs[i], run, &cfgs[i].hops[run]);

    printf("%-36s %12s %10s %10s %6s\n", "configuration", "ops/s",
           "time/raw", "time/floor", "hops");
    for (int i = 0; i < NCFG; i++) {
        cfg *c = &cfgs[i];
        char base[64];
        const char *work = c->work == W_TASKS ? "tasks" : "selects";
        const char *medium = c->file ? "file" : "memory";
        if (i && c->work != cfgs[i - 1].work)
            printf("\n");
        double t = median(c->t, RUNS);
        int ops = c->work == W_TASKS ? NTASKS : NSELECTS;
        snprintf(base, sizeof base, "%s/%s/raw", work, medium);
        double raw = med(base);
        /* the floor of the same shape: awaited/chains vs pipelined/queued */
        snprintf(base, sizeof base, "%s/%s/floor-%s", work, medium,
                 c->work == W_TASKS ? (c->mode ? "awaited" : "pipelined")
                                    : (c->mode ? "4chains" : "queued"));
        double floor = med(base);
        printf("%-36s %12.0f %9.2fx", c->name, ops / t, t / raw);
        if (c->side == SIDE_LIB)
            printf(" %9.2fx %6.3f\n", t / floor, median(c->hops, RUNS));
        else if (c->side == SIDE_FLOOR)
            printf(" %10s %6.3f\n", "", median(c->hops, RUNS));
        else
            printf("\n");
    }

    printf("\nSQLite busy-handler calls in libdbconn's runs: %llu\n",
           (unsigned long long)busy_calls);
    printf("\ntargets (informative; never a CI gate):\n");
    target("WAL file, awaited tasks, time vs the hand-written floor",
           med("tasks/file/threadpool-awaited") /
               med("tasks/file/floor-awaited"),
           1.0);
    target("WAL file, pipelined tasks, time vs raw synchronous SQLite",
           med("tasks/file/threadpool-pipelined") / med("tasks/file/raw"),
           2.0);
    target("inline policy, memory, pipelined tasks, time vs raw",
           med("tasks/memory/inline-pipelined") / med("tasks/memory/raw"),
           1.5);
    rmdir(dir);
    return 0;
}
