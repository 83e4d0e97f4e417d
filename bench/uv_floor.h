/* The hand-written baselines of bench_async (uv_floor.c): raw synchronous
 * SQLite, and the floor -- libuv and sqlite3 only, built the way the
 * library is built (a pool of connections of the same size, tasks running
 * concurrently, writers taking turns on the loop), doing the same work with
 * one hop per statement and nothing slower than it needs to be.
 * Shared with bench_async.c: the schema, the statements, the rows. */
#ifndef BENCH_UV_FLOOR_H
#define BENCH_UV_FLOOR_H

#include <stdint.h>
#include <stdio.h>

#define BENCH_SCHEMA                                                           \
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "          \
    "email TEXT, age INTEGER)"
#define BENCH_INSERT                                                           \
    "INSERT INTO users (id, name, email, age) VALUES (?, ?, ?, ?)"
#define BENCH_SELECT "SELECT id, name, email, age FROM users WHERE id = ?"

/* The workloads (see bench_async.c). */
enum {
    W_INSERT_AWAITED,     /* N inserts in one transaction, one at a time */
    W_SELECT_AUTOCOMMIT,  /* N point selects, each its own unit of work */
    W_SELECT_TX,          /* N point selects in one transaction */
    W_TASKS_AWAITED,      /* T tasks: insert, select, commit, one at a time */
    W_INSERT_PIPELINED,   /* N inserts queued at once, then commit */
    W_TASKS_PIPELINED,    /* T tasks, each queued whole at once */
    NWORKLOADS
};

typedef struct bench_cfg {
    int file;           /* 0: in memory, 1: a WAL file */
    const char *path;   /* the file (file = 1) */
    int n;              /* statements (N) */
    int tasks;          /* tasks (T) */
    int rows;           /* preloaded rows for the selects */
    int pool;           /* connections: the library's pool_size */
    uint64_t seed;
    int raw_memdb;      /* raw SQLite in memory on memdb, not ":memory:" */
} bench_cfg;

/* Fills users with rows 1..n (the select workloads read them). */
void bench_row(int64_t id, char *name, size_t nn, char *email, size_t ne);

/* Seconds for workload w, raw synchronous SQLite on one connection. */
double raw_run(const bench_cfg *c, int w);
/* Seconds for workload w on the floor; < 0 when it has no floor. */
double floor_run(const bench_cfg *c, int w);
/* The floor's peak memory side: queues n point selects at once (one
 * request each, holding its parameter and row) and runs them. */
void floor_queue_selects(const bench_cfg *c);

/* What a reader uses of a row, so no read is optimised away. */
extern volatile int64_t bench_sink;

#endif
