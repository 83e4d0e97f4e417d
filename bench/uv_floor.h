/* The baselines of bench_async (bench/uv_floor.c): raw synchronous SQLite,
 * and the floor -- what a careful hand-written libuv + sqlite3 program costs
 * for the same work and the same hops.
 * Shared with bench_async.c: the schema, the statements, the rows. */
#ifndef DBCONN_BENCH_UV_FLOOR_H
#define DBCONN_BENCH_UV_FLOOR_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_SCHEMA                                                            \
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "          \
    "email TEXT UNIQUE, age INTEGER)"
#define BENCH_INSERT                                                            \
    "INSERT INTO users (id, name, email, age) VALUES (?, ?, ?, ?)"
#define BENCH_SELECT "SELECT id, name, email, age FROM users WHERE id = ?"

/* Row `id`'s values, the same on every side. */
static inline void bench_row(int64_t id, char name[32], char email[48]) {
    snprintf(name, 32, "user%lld", (long long)id);
    snprintf(email, 48, "user%lld@example.org", (long long)id);
}

/* xorshift64: the same id sequence on every side for a given seed. */
static inline uint64_t bench_rand(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

/* Non-zero: raw SQLite and the one-connection floor use a memdb database
 * in memory instead of ":memory:" (bench_async --raw-memdb). */
extern int bench_raw_memdb;

/* What a reader keeps of a row (every side copies the text it reads), so
 * the compiler cannot drop the reads; atomic because floor workers store
 * it concurrently. */
extern _Atomic int64_t bench_sink;
static inline void bench_keep(int64_t v) {
    atomic_store_explicit(&bench_sink, v, memory_order_relaxed);
}

/* `path`: a file to create (WAL, synchronous=NORMAL), or NULL for memory.
 * Each call builds its database, warms up (untimed), times the work and
 * removes what it made; returns seconds, or a negative value on failure. */

/* Raw synchronous SQLite on one connection, no loop: ntasks tasks of
 * BEGIN + INSERT + SELECT + COMMIT (ids 1...), or n point selects of random
 * ids over nrows preloaded rows in one transaction. */
double raw_tasks(const char *path, int ntasks);
double raw_selects(const char *path, int nrows, int n, uint64_t seed);

/* The floor.  ntasks tasks of BEGIN + INSERT + SELECT + COMMIT, ids first_id... .
 * pipelined 0: one uv_queue_work per statement (BEGIN rides with the
 * INSERT), the next one queued from the previous one's after-work callback;
 * pipelined 1: one uv_queue_work per task, all queued at once. */
double floor_tasks(const char *path, int ntasks, int pipelined);

/* n point selects of random ids (seed) over nrows preloaded rows, one
 * uv_queue_work each, on thread-local connections: chains 0 = all queued at
 * once; chains k > 0 = k chains, each queuing its next select from the
 * previous one's after-work callback. */
double floor_selects(const char *path, int nrows, int n, int chains,
                     uint64_t seed);

#endif
