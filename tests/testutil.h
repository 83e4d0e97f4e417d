/* Helpers shared by the tests. */
#ifndef DBCONN_TESTUTIL_H
#define DBCONN_TESTUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <cmocka.h>
#include <uv.h>

#include "dbconn.h"

/* The URL an engine-neutral test runs against: $DBCONN_TEST_URL when set,
 * else the first line of the file named by $DBCONN_TEST_URL_FILE (what
 * ctest sets for the PostgreSQL runs of a suite: the test server's URL),
 * else "sqlite://".  When that file names no URL (no server could be
 * started), the program ends with a message: exit status 77, which ctest
 * reports as skipped -- or 1 when the environment has CI=true. */
const char *tu_url(void);
/* True when tu_url() is a SQLite URL. */
bool tu_is_sqlite(void);

/* The database a test shares between several handles: on SQLite the file
 * <dir>/<name> (tu_file_url), on a server tu_url() itself; `query` (NULL,
 * or "?k=v&k2=v2" as on a SQLite URL) is appended with the right separator.
 * A static buffer slot, as tu_file_url. */
const char *tu_db_url(const char *dir, const char *name, const char *query);

/* `sql` (CREATE TABLE as SQLite spells it) for the engine of tu_url(): on a
 * server "INTEGER PRIMARY KEY" becomes a BIGINT identity key (as SQLite's
 * rowid alias, it numbers rows inserted without one), INTEGER BIGINT (64
 * bits, as SQLite's), REAL DOUBLE PRECISION and BLOB BYTEA.  A static
 * buffer slot, as tu_file_url. */
const char *tu_ddl(const char *sql);

/* A CMocka setup that gives the test an empty database, as sqlite:// does.
 * On SQLite it does nothing.  On a server (which keeps tables between tests
 * and is shared by suites running in parallel) the program works in a schema
 * of its own, "tu_<program name>": the first call points every connection
 * of the process at it (PGOPTIONS, -c search_path; PGAPPNAME, the same
 * name), and each call ends the program's other connections to the server
 * (those a failed test left behind), drops the schema and creates it
 * again, so the test starts with no tables.  state is unused. */
int tu_fresh(void **state);
/* A test with tu_fresh as its setup. */
#define tu_test(f) cmocka_unit_test_setup(f, tu_fresh)

/* A fresh private directory under $TMPDIR (or /tmp); removed with
 * tu_rmdir().  Returns a static buffer per call slot (8 slots). */
const char *tu_tmpdir(void);
void tu_rmdir(const char *dir);
/* "sqlite:///<dir>/<name>" in a static buffer slot. */
const char *tu_file_url(const char *dir, const char *name);

/* A child process (forked: call it before any thread starts) that opens the
 * SQLite file `path` directly, runs BEGIN and `sql` (holding the locks that
 * leaves: SHARED for a read, RESERVED for a write), reports the last first
 * column it saw in *seen (-1 for none) and waits; *release_fd is the pipe
 * end that tu_release_child() writes to make it COMMIT and exit. */
pid_t tu_hold_in_child(const char *path, const char *sql, int *release_fd,
                       long long *seen);
void tu_release_child(pid_t pid, int release_fd);

/* Records what an async callback saw: how often, the status, the first
 * cell (value, text), the thread, the current task and a sequence number
 * shared by every recorder (the order callbacks ran in).  data = a tu_rec. */
typedef struct tu_rec {
    int calls;
    int status;
    int64_t value;    /* first cell, when there is a row */
    char text[64];
    uv_thread_t thread;
    void *task;
    int order;
    bool had_result;
} tu_rec;
void tu_on_exec(int status, dbconn_result *res, void *data);
void tu_on_done(int status, void *data);

/* Runs the loop a turn at a time (at most 1000) until `n` writers of db
 * have parked for the write gate; returns the stats then. */
dbconn_stats tu_run_until_gate_waits(uv_loop_t *loop, dbconn *db, uint64_t n);

/* A read that keeps a job busy ~0.1 s natively (longer under the
 * sanitizers and valgrind, like the loop it races with): 600000 rows. */
#define TU_SLOW_SQL                                                            \
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "         \
    "WHERE x < 600000) SELECT count(*) FROM c"

/* Opens url with busy_timeout_ms = busy_ms and a session on it that has
 * created and committed t(x INTEGER) holding one row, x = 1. */
void tu_open_with_t(const char *url, int busy_ms, dbconn **db,
                    dbconn_session **s);

/* Opens url on `loop` (dbconn_options.loop) and creates and commits
 * t(id INTEGER PRIMARY KEY, v TEXT), empty. */
void tu_open_on_loop_with_t(uv_loop_t *loop, const char *url, dbconn **db);

/* SELECT count(*) FROM table [WHERE where], on a fresh session. */
int64_t tu_count_rows(dbconn *db, const char *table, const char *where);

/* assert_int_equal with the thread's dbconn_errmsg printed on mismatch. */
#define tu_ok(expr)                                                             \
    do {                                                                        \
        int tu_rc_ = (expr);                                                    \
        if (tu_rc_ != 0)                                                        \
            print_error("%s -> %s: %s\n", #expr, dbconn_err_name(tu_rc_),        \
                        dbconn_errmsg(NULL));                                   \
        assert_int_equal(tu_rc_, 0);                                            \
    } while (0)

#endif
