/*
 * uv_floor — the hand-written baselines bench_async compares libdbconn's
 * async API with: raw synchronous SQLite (the same work on one connection,
 * no hops), and the floor: libuv and sqlite3 only, the same work and the
 * same hops, and nothing slower than it needs to be.
 *
 *   - Every statement is one uv_queue_work (BEGIN rides with the first
 *     statement of a transaction, as libdbconn's autobegin does), and the
 *     next hop of a chain is queued from the previous one's after-work
 *     callback on the loop thread -- exactly what an awaiting program does.
 *   - Prepared statements are made once per connection and reused.
 *   - Point selects (no transaction spans two hops) run on a connection per
 *     worker thread (thread-local), opened before the clock starts.
 *   - A task's transaction spans hops, and hops land on any worker, so it
 *     cannot live on a thread-local connection; and SQLite runs one write
 *     transaction at a time anyway.  So the task workload uses one
 *     connection and runs the transactions one after another: awaited, the
 *     next task's first hop is queued when the previous COMMIT's hop is
 *     back; pipelined, every task is queued at once and the workers take the
 *     connection in turn under a mutex (nobody ever sleeps in SQLite's busy
 *     handler).  More connections would only add cache invalidation and
 *     lock waits.
 *
 * See bench_async.c for the workloads.
 */
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "uv_floor.h"

_Atomic int64_t bench_sink;

#define FCHECK(x)                                                               \
    do {                                                                        \
        if (!(x)) {                                                             \
            fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #x);      \
            exit(1);                                                            \
        }                                                                       \
    } while (0)

#define CONTAINER(ptr, type, field)                                             \
    ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

static double now(void) { return (double)uv_hrtime() / 1e9; }

/* ---- one connection and its statements ---------------------------------- */

typedef struct fconn {
    sqlite3 *db;
    sqlite3_stmt *ins, *sel, *begin, *commit;
} fconn;

/* What the one-connection sides use in memory: ":memory:", or with
 * bench_raw_memdb a private memdb database (libdbconn's in-memory VFS), to
 * tell the library's cost from the VFS's. */
int bench_raw_memdb;

static const char *memory_uri(char *buf, size_t n) {
    static atomic_uint seq;
    if (!bench_raw_memdb)
        return ":memory:";
    snprintf(buf, n, "file:/bench-raw-%u?vfs=memdb", atomic_fetch_add(&seq, 1));
    return buf;
}

static void fconn_open(fconn *c, const char *uri, int file, int schema) {
    memset(c, 0, sizeof *c);
    FCHECK(sqlite3_open_v2(uri, &c->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                           NULL) == SQLITE_OK);
    if (file) {
        FCHECK(sqlite3_exec(c->db, "PRAGMA journal_mode=wal", 0, 0, 0) == 0);
        FCHECK(sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL", 0, 0, 0) == 0);
    } else { /* a memdb journal would go to disk otherwise */
        FCHECK(sqlite3_exec(c->db, "PRAGMA journal_mode=memory", 0, 0, 0) ==
               0);
    }
    FCHECK(sqlite3_exec(c->db, "PRAGMA foreign_keys=ON", 0, 0, 0) == 0);
    sqlite3_busy_timeout(c->db, 5000);
    if (schema)
        FCHECK(sqlite3_exec(c->db, BENCH_SCHEMA, 0, 0, 0) == 0);
    FCHECK(sqlite3_prepare_v2(c->db, BENCH_INSERT, -1, &c->ins, 0) == 0);
    FCHECK(sqlite3_prepare_v2(c->db, BENCH_SELECT, -1, &c->sel, 0) == 0);
    FCHECK(sqlite3_prepare_v2(c->db, "BEGIN", -1, &c->begin, 0) == 0);
    FCHECK(sqlite3_prepare_v2(c->db, "COMMIT", -1, &c->commit, 0) == 0);
}

static void fconn_close(fconn *c) {
    sqlite3_finalize(c->ins);
    sqlite3_finalize(c->sel);
    sqlite3_finalize(c->begin);
    sqlite3_finalize(c->commit);
    FCHECK(sqlite3_close(c->db) == SQLITE_OK);
}

static int step_done(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int do_insert(fconn *c, int64_t id) {
    char name[32], email[48];
    bench_row(id, name, email);
    sqlite3_bind_int64(c->ins, 1, id);
    sqlite3_bind_text(c->ins, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(c->ins, 3, email, -1, SQLITE_STATIC);
    sqlite3_bind_int64(c->ins, 4, id % 90);
    return step_done(c->ins);
}

/* Reads every column and copies the text, as a caller keeping it would. */
static int do_select(fconn *c, int64_t id) {
    sqlite3_bind_int64(c->sel, 1, id);
    if (sqlite3_step(c->sel) != SQLITE_ROW) {
        sqlite3_reset(c->sel);
        return -1;
    }
    int64_t a = sqlite3_column_int64(c->sel, 0);
    char *name = strdup((const char *)sqlite3_column_text(c->sel, 1));
    char *email = strdup((const char *)sqlite3_column_text(c->sel, 2));
    int64_t age = sqlite3_column_int64(c->sel, 3);
    bench_keep(a + age + name[0] + email[0]);
    free(name);
    free(email);
    sqlite3_reset(c->sel);
    return a == id ? 0 : -1;
}

static void remove_db(const char *path) {
    char p[4200];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* ---- raw synchronous SQLite: the same work, no hops ----------------------- */

/* The timed loop, kept out of line so that callgrind can count it alone
 * (--toggle-collect=raw_run_tasks). */
__attribute__((noinline)) static void raw_run_tasks(fconn *c, int64_t first,
                                                    int64_t n) {
    for (int64_t id = first; id < first + n; id++) {
        FCHECK(step_done(c->begin) == 0);
        FCHECK(do_insert(c, id) == 0);
        FCHECK(do_select(c, id) == 0);
        FCHECK(step_done(c->commit) == 0);
    }
}

double raw_tasks(const char *path, int ntasks) {
    fconn c;
    char mem[64];
    fconn_open(&c, path ? path : memory_uri(mem, sizeof mem), path != NULL, 1);
    raw_run_tasks(&c, 1000001, 16); /* warm-up */
    double t0 = now();
    raw_run_tasks(&c, 1, ntasks);
    double t = now() - t0;
    fconn_close(&c);
    if (path)
        remove_db(path);
    return t;
}

double raw_selects(const char *path, int nrows, int n, uint64_t seed) {
    fconn c;
    char mem[64];
    fconn_open(&c, path ? path : memory_uri(mem, sizeof mem), path != NULL, 1);
    FCHECK(step_done(c.begin) == 0);
    for (int64_t id = 1; id <= nrows; id++)
        FCHECK(do_insert(&c, id) == 0);
    FCHECK(step_done(c.commit) == 0);
    double t0 = 0;
    for (int pass = 0; pass < 2; pass++) { /* warm-up, then timed */
        uint64_t rng = seed;
        int count = pass ? n : (64 < n ? 64 : n);
        t0 = now();
        FCHECK(step_done(c.begin) == 0);
        for (int i = 0; i < count; i++)
            FCHECK(do_select(&c, (int64_t)(bench_rand(&rng) %
                                           (uint64_t)nrows) + 1) == 0);
        FCHECK(step_done(c.commit) == 0);
    }
    double t = now() - t0;
    fconn_close(&c);
    if (path)
        remove_db(path);
    return t;
}

/* ---- tasks ---------------------------------------------------------------- */

typedef struct ftask_run {
    uv_loop_t loop;
    fconn c;
    uv_mutex_t lock;     /* pipelined: one transaction at a time */
    int64_t next, last;  /* awaited: the running task, the last one */
    int step;            /* awaited: 0 BEGIN+INSERT, 1 SELECT, 2 COMMIT */
    uv_work_t chain;
    uv_work_t *reqs;     /* pipelined: one per task */
    int64_t first;
    atomic_int failed;
    int done;
} ftask_run;

static void awaited_work(uv_work_t *w) {
    ftask_run *r = CONTAINER(w, ftask_run, chain);
    int rc = 0;
    switch (r->step) {
    case 0:
        rc = step_done(r->c.begin);
        if (rc == 0)
            rc = do_insert(&r->c, r->next);
        break;
    case 1:
        rc = do_select(&r->c, r->next);
        break;
    default:
        rc = step_done(r->c.commit);
        break;
    }
    if (rc)
        atomic_store(&r->failed, 1);
}

static void awaited_after(uv_work_t *w, int status) {
    ftask_run *r = CONTAINER(w, ftask_run, chain);
    FCHECK(status == 0);
    if (++r->step == 3) {
        r->step = 0;
        r->done++;
        if (++r->next > r->last)
            return;
    }
    FCHECK(uv_queue_work(&r->loop, &r->chain, awaited_work, awaited_after) ==
           0);
}

static void pipelined_work(uv_work_t *w) {
    ftask_run *r = w->data;
    int64_t id = r->first + (w - r->reqs);
    uv_mutex_lock(&r->lock);
    int rc = step_done(r->c.begin);
    if (rc == 0)
        rc = do_insert(&r->c, id);
    if (rc == 0)
        rc = do_select(&r->c, id);
    if (rc == 0)
        rc = step_done(r->c.commit);
    uv_mutex_unlock(&r->lock);
    if (rc)
        atomic_store(&r->failed, 1);
}

static void pipelined_after(uv_work_t *w, int status) {
    ftask_run *r = w->data;
    FCHECK(status == 0);
    r->done++;
}

/* Runs ntasks tasks from id `first`; returns the seconds taken. */
static double run_tasks(ftask_run *r, int64_t first, int ntasks,
                        int pipelined) {
    r->done = 0;
    double t0 = now();
    if (pipelined) {
        r->first = first;
        for (int i = 0; i < ntasks; i++) {
            r->reqs[i].data = r;
            FCHECK(uv_queue_work(&r->loop, &r->reqs[i], pipelined_work,
                                 pipelined_after) == 0);
        }
    } else {
        r->next = first;
        r->last = first + ntasks - 1;
        r->step = 0;
        FCHECK(uv_queue_work(&r->loop, &r->chain, awaited_work,
                             awaited_after) == 0);
    }
    FCHECK(uv_run(&r->loop, UV_RUN_DEFAULT) == 0);
    double t = now() - t0;
    FCHECK(r->done == ntasks && !atomic_load(&r->failed));
    return t;
}

double floor_tasks(const char *path, int ntasks, int pipelined) {
    ftask_run *r = calloc(1, sizeof *r);
    FCHECK(r != NULL);
    r->reqs = calloc((size_t)ntasks + 16, sizeof *r->reqs);
    FCHECK(r->reqs != NULL);
    FCHECK(uv_loop_init(&r->loop) == 0);
    FCHECK(uv_mutex_init(&r->lock) == 0);
    char mem[64];
    fconn_open(&r->c, path ? path : memory_uri(mem, sizeof mem), path != NULL,
               1);
    run_tasks(r, 1000001, 16, pipelined); /* warm-up: pages, statements */
    double t = run_tasks(r, 1, ntasks, pipelined);
    fconn_close(&r->c);
    uv_mutex_destroy(&r->lock);
    FCHECK(uv_loop_close(&r->loop) == 0);
    free(r->reqs);
    free(r);
    if (path)
        remove_db(path);
    return t;
}

/* ---- point selects --------------------------------------------------------- */

enum { MAX_CONNS = 128 };

typedef struct fsel_run {
    uv_loop_t loop;
    fconn conns[MAX_CONNS]; /* one per worker thread */
    int nconns;
    atomic_int next_conn;
    unsigned gen;           /* tells this run's thread-locals from older */
    struct fsel_req *reqs;  /* one per select (all at once) or per chain */
    int64_t *ids;
    int n, chains, issued, done;
    atomic_int failed;
} fsel_run;

typedef struct fsel_req {
    uv_work_t w;
    fsel_run *r;
    int64_t id;
} fsel_req;

/* A worker's connection for the current run.  The thread pool outlives the
 * runs, so the generation tells a stale thread-local from a fresh one. */
static _Thread_local fconn *tl_conn;
static _Thread_local unsigned tl_gen;
static atomic_uint run_gen;

static fconn *my_conn(fsel_run *r) {
    if (tl_gen != r->gen || !tl_conn) {
        int i = atomic_fetch_add(&r->next_conn, 1);
        FCHECK(i < r->nconns);
        tl_conn = &r->conns[i];
        tl_gen = r->gen;
    }
    return tl_conn;
}

static void sel_work(uv_work_t *w) {
    fsel_req *q = CONTAINER(w, fsel_req, w);
    if (do_select(my_conn(q->r), q->id) != 0)
        atomic_store(&q->r->failed, 1);
}

static void sel_after(uv_work_t *w, int status);

static void sel_queue(fsel_run *r, fsel_req *q) {
    q->r = r;
    q->id = r->ids[r->issued++];
    FCHECK(uv_queue_work(&r->loop, &q->w, sel_work, sel_after) == 0);
}

static void sel_after(uv_work_t *w, int status) {
    fsel_req *q = CONTAINER(w, fsel_req, w);
    fsel_run *r = q->r;
    FCHECK(status == 0);
    r->done++;
    if (r->chains && r->issued < r->n)
        sel_queue(r, q); /* this chain's next select */
}

static double run_selects(fsel_run *r, int n) {
    r->n = n;
    r->issued = r->done = 0;
    double t0 = now();
    int first = r->chains ? r->chains : n;
    for (int i = 0; i < first && i < n; i++)
        sel_queue(r, &r->reqs[i]);
    FCHECK(uv_run(&r->loop, UV_RUN_DEFAULT) == 0);
    double t = now() - t0;
    FCHECK(r->done == n && !atomic_load(&r->failed));
    return t;
}

static int pool_threads(void) {
    const char *v = getenv("UV_THREADPOOL_SIZE");
    int n = v ? atoi(v) : 4;
    return n < 1 ? 4 : n > MAX_CONNS ? MAX_CONNS : n;
}

double floor_selects(const char *path, int nrows, int n, int chains,
                     uint64_t seed) {
    static atomic_uint memdb_seq;
    char uri[4200];
    fsel_run *r = calloc(1, sizeof *r);
    FCHECK(r != NULL);
    r->chains = chains;
    r->reqs = calloc((size_t)(chains ? chains : n), sizeof *r->reqs);
    r->ids = calloc((size_t)n, sizeof *r->ids);
    FCHECK(r->reqs && r->ids);
    FCHECK(uv_loop_init(&r->loop) == 0);
    r->gen = atomic_fetch_add(&run_gen, 1) + 1;
    /* In memory, several connections need one shared database: the memdb
     * VFS (what libdbconn uses too); `anchor` keeps it alive. */
    if (path)
        snprintf(uri, sizeof uri, "%s", path);
    else
        snprintf(uri, sizeof uri, "file:/floor-%u?vfs=memdb",
                 atomic_fetch_add(&memdb_seq, 1));
    fconn anchor;
    fconn_open(&anchor, uri, path != NULL, 1);
    FCHECK(step_done(anchor.begin) == 0);
    for (int64_t id = 1; id <= nrows; id++)
        FCHECK(do_insert(&anchor, id) == 0);
    FCHECK(step_done(anchor.commit) == 0);
    r->nconns = pool_threads();
    for (int i = 0; i < r->nconns; i++)
        fconn_open(&r->conns[i], uri, path != NULL, 0);

    /* Warm-up (every worker's connection, pages, statements), then the
     * timed stream. */
    uint64_t rng = seed;
    int warm = 64 < n ? 64 : n;
    for (int i = 0; i < warm; i++)
        r->ids[i] = (int64_t)(bench_rand(&rng) % (uint64_t)nrows) + 1;
    run_selects(r, warm);
    rng = seed;
    for (int i = 0; i < n; i++)
        r->ids[i] = (int64_t)(bench_rand(&rng) % (uint64_t)nrows) + 1;
    double t = run_selects(r, n);

    for (int i = 0; i < r->nconns; i++)
        fconn_close(&r->conns[i]);
    fconn_close(&anchor);
    FCHECK(uv_loop_close(&r->loop) == 0);
    free(r->reqs);
    free(r->ids);
    free(r);
    if (path)
        remove_db(path);
    return t;
}
