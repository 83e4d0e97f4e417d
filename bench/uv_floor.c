/*
 * uv_floor -- raw synchronous SQLite and the floor for bench_async.
 *
 * Raw: one connection, statements prepared once and reset, columns read
 * in place, the same transactions as the workload; nothing asynchronous.
 *
 * The floor: what a careful hand-written libuv + sqlite3 program costs for
 * the same work, built the way the library is built:
 *   - a pool of `pool` connections (the library's pool_size), opened and
 *     prepared before the clock starts; a client (a task, or the one
 *     stream of an awaited workload) takes one at its first statement and
 *     gives it back after its COMMIT, waiting in FIFO order when none is
 *     free -- on the loop thread, so no worker ever blocks;
 *   - writers take turns through a write lock kept on the loop thread (a
 *     FIFO of clients), taken before the BEGIN IMMEDIATE that rides with a
 *     transaction's first write, given up after its COMMIT;
 *   - every statement is one uv_queue_work; the next statement of a client
 *     is queued from the previous one's after-work callback (awaited);
 *   - a select copies its row into the client's buffers on the worker,
 *     which the loop thread then reads (what a program does to hand a row
 *     over);
 *   - in memory, the connections share one memdb database (as the
 *     library's do); a file is in WAL mode with synchronous=NORMAL.
 * The pipelined tasks' floor is one hop per task: each work runs the whole
 * transaction on a connection from the pool, under a mutex that is the
 * write lock.
 */
#include <pthread.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "uv_floor.h"

volatile int64_t bench_sink;

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

void bench_row(int64_t id, char *name, size_t nn, char *email, size_t ne) {
    snprintf(name, nn, "user%lld", (long long)id);
    snprintf(email, ne, "user%lld@example.org", (long long)id);
}

/* xorshift: the same ids on every side */
static uint64_t next_id(uint64_t *rng, int rows) {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    return *rng % (uint64_t)rows + 1;
}

/* ---- one connection ------------------------------------------------------ */

typedef struct fconn {
    sqlite3 *db;
    sqlite3_stmt *ins, *sel, *begin, *begin_imm, *commit;
    struct fconn *next; /* free list */
} fconn;

static void step_done(sqlite3_stmt *st) {
    FCHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_reset(st);
}

static void do_insert(fconn *c, int64_t id) {
    char name[32], email[48];
    bench_row(id, name, sizeof name, email, sizeof email);
    sqlite3_bind_int64(c->ins, 1, id);
    sqlite3_bind_text(c->ins, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(c->ins, 3, email, -1, SQLITE_STATIC);
    sqlite3_bind_int64(c->ins, 4, id % 90);
    step_done(c->ins);
}

/* A row handed to the loop: what the reader keeps of it. */
typedef struct frow {
    int64_t id, age;
    char name[32], email[48];
} frow;

static void do_select(fconn *c, int64_t id, frow *out) {
    sqlite3_bind_int64(c->sel, 1, id);
    FCHECK(sqlite3_step(c->sel) == SQLITE_ROW);
    out->id = sqlite3_column_int64(c->sel, 0);
    snprintf(out->name, sizeof out->name, "%s", sqlite3_column_text(c->sel, 1));
    snprintf(out->email, sizeof out->email, "%s",
             sqlite3_column_text(c->sel, 2));
    out->age = sqlite3_column_int64(c->sel, 3);
    sqlite3_reset(c->sel);
}

/* Raw reads in place: no hand-over. */
static void raw_select(fconn *c, int64_t id) {
    sqlite3_bind_int64(c->sel, 1, id);
    FCHECK(sqlite3_step(c->sel) == SQLITE_ROW);
    const unsigned char *name = sqlite3_column_text(c->sel, 1);
    bench_sink += sqlite3_column_int64(c->sel, 0) + name[0] +
                  sqlite3_column_int64(c->sel, 3);
    sqlite3_reset(c->sel);
}

static void fconn_open(fconn *c, const char *uri, int file, int schema) {
    memset(c, 0, sizeof *c);
    FCHECK(sqlite3_open_v2(uri, &c->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                           NULL) == SQLITE_OK);
    sqlite3_busy_timeout(c->db, 5000);
    if (file) {
        FCHECK(sqlite3_exec(c->db, "PRAGMA journal_mode=wal", 0, 0, 0) == 0);
        FCHECK(sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL", 0, 0, 0) == 0);
    }
    if (schema)
        FCHECK(sqlite3_exec(c->db, BENCH_SCHEMA, 0, 0, 0) == 0);
    FCHECK(sqlite3_prepare_v2(c->db, BENCH_INSERT, -1, &c->ins, 0) == 0);
    FCHECK(sqlite3_prepare_v2(c->db, BENCH_SELECT, -1, &c->sel, 0) == 0);
    FCHECK(sqlite3_prepare_v2(c->db, "BEGIN", -1, &c->begin, 0) == 0);
    FCHECK(sqlite3_prepare_v2(c->db, "BEGIN IMMEDIATE", -1, &c->begin_imm, 0) ==
           0);
    FCHECK(sqlite3_prepare_v2(c->db, "COMMIT", -1, &c->commit, 0) == 0);
}

static void fconn_close(fconn *c) {
    sqlite3_finalize(c->ins);
    sqlite3_finalize(c->sel);
    sqlite3_finalize(c->begin);
    sqlite3_finalize(c->begin_imm);
    sqlite3_finalize(c->commit);
    sqlite3_close(c->db);
}

static void preload(fconn *c, int rows) {
    step_done(c->begin);
    for (int64_t i = 1; i <= rows; i++)
        do_insert(c, i);
    step_done(c->commit);
}

static void remove_db(const char *path) {
    char p[700];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* ---- raw ----------------------------------------------------------------- */

__attribute__((noinline)) void raw_timed(fconn *c, const bench_cfg *cfg,
                                         int w);
__attribute__((noinline)) void raw_timed(fconn *c, const bench_cfg *cfg,
                                         int w) {
    uint64_t rng = cfg->seed;
    int64_t base = cfg->rows + 1;
    switch (w) {
    case W_INSERT_AWAITED:
    case W_INSERT_PIPELINED:
        step_done(c->begin);
        for (int i = 0; i < cfg->n; i++)
            do_insert(c, base + i);
        step_done(c->commit);
        break;
    case W_SELECT_AUTOCOMMIT:
        for (int i = 0; i < cfg->n; i++)
            raw_select(c, (int64_t)next_id(&rng, cfg->rows));
        break;
    case W_SELECT_TX:
        step_done(c->begin);
        for (int i = 0; i < cfg->n; i++)
            raw_select(c, (int64_t)next_id(&rng, cfg->rows));
        step_done(c->commit);
        break;
    default: /* tasks */
        for (int i = 0; i < cfg->tasks; i++) {
            step_done(c->begin_imm);
            do_insert(c, base + i);
            raw_select(c, base + i);
            step_done(c->commit);
        }
        break;
    }
}

double raw_run(const bench_cfg *cfg, int w) {
    fconn c;
    const char *uri = cfg->file ? cfg->path
                      : cfg->raw_memdb ? "file:/bench-raw?vfs=memdb"
                                       : ":memory:";
    fconn_open(&c, uri, cfg->file, 1);
    preload(&c, cfg->rows);
    double t0 = now();
    raw_timed(&c, cfg, w);
    double t = now() - t0;
    fconn_close(&c);
    if (cfg->file)
        remove_db(cfg->path);
    return t;
}

/* ---- the floor ----------------------------------------------------------- */

enum { OP_NONE, OP_INSERT, OP_SELECT, OP_SELECT_AUTO, OP_COMMIT };

typedef struct floor_state floor_state;

typedef struct client {
    floor_state *f;
    uv_work_t req;
    fconn *conn;
    int op;
    bool begin, immediate; /* the op starts the transaction */
    bool in_tx, writer;
    int64_t id;
    int left;               /* statements still to run (streams) */
    frow row;
    struct client *wnext;   /* a wait queue (connection or write lock) */
} client;

struct floor_state {
    const bench_cfg *cfg;
    uv_loop_t loop;
    int w;
    fconn *conns, *free;
    client *conn_wait, *conn_wait_tail;
    client *lock_owner, *lock_wait, *lock_wait_tail;
    uint64_t rng;
    int done;
    pthread_mutex_t mutex; /* the one-hop floor's pool and write lock */
};

static void queue_push(client **head, client **tail, client *c) {
    c->wnext = NULL;
    if (*tail)
        (*tail)->wnext = c;
    else
        *head = c;
    *tail = c;
}

static client *queue_pop(client **head, client **tail) {
    client *c = *head;
    if (c && !(*head = c->wnext))
        *tail = NULL;
    return c;
}

static void work(uv_work_t *req) {
    client *c = CONTAINER(req, client, req);
    if (c->begin)
        step_done(c->immediate ? c->conn->begin_imm : c->conn->begin);
    switch (c->op) {
    case OP_INSERT:
        do_insert(c->conn, c->id);
        break;
    case OP_SELECT:
    case OP_SELECT_AUTO:
        do_select(c->conn, c->id, &c->row);
        break;
    case OP_COMMIT:
        step_done(c->conn->commit);
        break;
    default:
        break;
    }
}

static void after(uv_work_t *req, int status);
static void advance(client *c);

static void submit(client *c, int op) {
    c->op = op;
    c->begin = !c->in_tx && op != OP_SELECT_AUTO && op != OP_COMMIT;
    c->immediate = c->begin && op == OP_INSERT;
    if (c->begin)
        c->in_tx = true;
    FCHECK(uv_queue_work(&c->f->loop, &c->req, work, after) == 0);
}

/* A connection for c (false: it waits in line and is resumed later). */
static bool get_conn(client *c) {
    floor_state *f = c->f;
    if (c->conn)
        return true;
    if (!f->free) {
        queue_push(&f->conn_wait, &f->conn_wait_tail, c);
        return false;
    }
    c->conn = f->free;
    f->free = f->free->next;
    return true;
}

static void put_conn(client *c) {
    floor_state *f = c->f;
    c->conn->next = f->free;
    f->free = c->conn;
    c->conn = NULL;
    client *next = queue_pop(&f->conn_wait, &f->conn_wait_tail);
    if (next)
        advance(next);
}

/* The write lock for c (false: it waits in line). */
static bool get_lock(client *c) {
    floor_state *f = c->f;
    if (c->writer)
        return true;
    if (f->lock_owner) {
        queue_push(&f->lock_wait, &f->lock_wait_tail, c);
        return false;
    }
    f->lock_owner = c;
    c->writer = true;
    return true;
}

static void put_lock(client *c) {
    floor_state *f = c->f;
    c->writer = false;
    f->lock_owner = NULL;
    client *next = queue_pop(&f->lock_wait, &f->lock_wait_tail);
    if (next) {
        f->lock_owner = next;
        next->writer = true;
        advance(next);
    }
}

/* What client c does next (the loop thread). */
static void advance(client *c) {
    floor_state *f = c->f;
    if (!get_conn(c))
        return;
    switch (f->w) {
    case W_INSERT_AWAITED:
        if (!get_lock(c))
            return;
        if (c->left > 0) {
            c->left--;
            c->id++;
            submit(c, OP_INSERT);
        } else if (c->in_tx) {
            submit(c, OP_COMMIT);
            c->in_tx = false;
        } else {
            f->done++;
        }
        return;
    case W_SELECT_AUTOCOMMIT:
    case W_SELECT_TX:
        if (c->op == OP_SELECT || c->op == OP_SELECT_AUTO)
            bench_sink += c->row.id + c->row.age + c->row.name[0];
        if (c->left > 0) {
            c->left--;
            c->id = (int64_t)next_id(&f->rng, f->cfg->rows);
            submit(c, f->w == W_SELECT_TX ? OP_SELECT : OP_SELECT_AUTO);
        } else if (c->in_tx) {
            submit(c, OP_COMMIT);
            c->in_tx = false;
        } else {
            f->done++;
        }
        return;
    default: /* W_TASKS_AWAITED: insert, select, commit */
        if (c->op == OP_NONE) {
            if (!get_lock(c))
                return;
            submit(c, OP_INSERT);
        } else if (c->op == OP_INSERT) {
            submit(c, OP_SELECT);
        } else if (c->op == OP_SELECT) {
            bench_sink += c->row.id + c->row.age + c->row.name[0];
            c->in_tx = false;
            submit(c, OP_COMMIT);
        } else {
            c->op = -1;
            put_lock(c);
            put_conn(c);
            f->done++;
        }
        return;
    }
}

static void after(uv_work_t *req, int status) {
    (void)status;
    client *c = CONTAINER(req, client, req);
    if (c->f->w != W_TASKS_AWAITED && c->op == OP_COMMIT) {
        if (c->writer)
            put_lock(c);
        c->op = OP_NONE;
    }
    advance(c);
}

/* One-hop pipelined tasks: the whole transaction in one work. */
typedef struct onehop {
    uv_work_t req;
    floor_state *f;
    int64_t id;
    frow row;
} onehop;

static void onehop_work(uv_work_t *req) {
    onehop *t = CONTAINER(req, onehop, req);
    floor_state *f = t->f;
    pthread_mutex_lock(&f->mutex);
    fconn *c = f->free; /* the write lock: one transaction at a time */
    step_done(c->begin_imm);
    do_insert(c, t->id);
    do_select(c, t->id, &t->row);
    step_done(c->commit);
    pthread_mutex_unlock(&f->mutex);
}

static void onehop_after(uv_work_t *req, int status) {
    (void)status;
    onehop *t = CONTAINER(req, onehop, req);
    bench_sink += t->row.id + t->row.name[0];
    t->f->done++;
}

static void floor_open(floor_state *f, const bench_cfg *cfg) {
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->rng = cfg->seed;
    FCHECK(uv_loop_init(&f->loop) == 0);
    FCHECK(pthread_mutex_init(&f->mutex, NULL) == 0);
    static atomic_uint seq;
    char uri[700];
    if (cfg->file)
        snprintf(uri, sizeof uri, "%s", cfg->path);
    else
        snprintf(uri, sizeof uri, "file:/bench-floor-%u?vfs=memdb",
                 atomic_fetch_add(&seq, 1));
    f->conns = calloc((size_t)cfg->pool, sizeof *f->conns);
    FCHECK(f->conns);
    for (int i = 0; i < cfg->pool; i++) {
        fconn_open(&f->conns[i], uri, cfg->file, i == 0);
        if (i == 0)
            preload(&f->conns[0], cfg->rows);
        else /* reads the schema now, untimed */
            sqlite3_exec(f->conns[i].db, "SELECT count(*) FROM users", 0, 0,
                         0);
        f->conns[i].next = f->free;
        f->free = &f->conns[i];
    }
}

static void floor_close(floor_state *f) {
    for (int i = f->cfg->pool - 1; i >= 0; i--)
        fconn_close(&f->conns[i]);
    free(f->conns);
    FCHECK(uv_loop_close(&f->loop) == 0);
    pthread_mutex_destroy(&f->mutex);
    if (f->cfg->file)
        remove_db(f->cfg->path);
}

double floor_run(const bench_cfg *cfg, int w) {
    if (w == W_INSERT_PIPELINED)
        return -1; /* one session's queue: no floor, raw is the measure */
    floor_state f;
    floor_open(&f, cfg);
    f.w = w;
    int nclients = w == W_TASKS_AWAITED || w == W_TASKS_PIPELINED
                       ? cfg->tasks
                       : 1;
    client *cs = calloc((size_t)nclients, sizeof *cs);
    onehop *hs = calloc((size_t)nclients, sizeof *hs);
    FCHECK(cs && hs);
    double t0 = now();
    for (int i = 0; i < nclients; i++) {
        if (w == W_TASKS_PIPELINED) {
            hs[i].f = &f;
            hs[i].id = cfg->rows + 1 + i;
            FCHECK(uv_queue_work(&f.loop, &hs[i].req, onehop_work,
                                 onehop_after) == 0);
            continue;
        }
        cs[i].f = &f;
        cs[i].id = w == W_TASKS_AWAITED ? cfg->rows + 1 + i : cfg->rows;
        cs[i].left = nclients == 1 ? cfg->n : 0;
        advance(&cs[i]);
    }
    uv_run(&f.loop, UV_RUN_DEFAULT);
    double t = now() - t0;
    FCHECK(f.done == nclients);
    free(cs);
    free(hs);
    floor_close(&f);
    return t;
}

/* ---- the floor's memory for queued selects -------------------------------- */

typedef struct qsel {
    uv_work_t req;
    floor_state *f;
    int64_t id;
    frow row;
} qsel;

static void qsel_work(uv_work_t *req) {
    qsel *q = CONTAINER(req, qsel, req);
    pthread_mutex_lock(&q->f->mutex); /* one connection for the stream */
    do_select(q->f->free, q->id, &q->row);
    pthread_mutex_unlock(&q->f->mutex);
}

static void qsel_after(uv_work_t *req, int status) {
    (void)status;
    qsel *q = CONTAINER(req, qsel, req);
    bench_sink += q->row.id;
    free(q);
}

void floor_queue_selects(const bench_cfg *cfg) {
    floor_state f;
    floor_open(&f, cfg);
    for (int i = 0; i < cfg->n; i++) {
        qsel *q = calloc(1, sizeof *q);
        FCHECK(q);
        q->f = &f;
        q->id = (int64_t)next_id(&f.rng, cfg->rows);
        FCHECK(uv_queue_work(&f.loop, &q->req, qsel_work, qsel_after) == 0);
    }
    uv_run(&f.loop, UV_RUN_DEFAULT);
    floor_close(&f);
}
