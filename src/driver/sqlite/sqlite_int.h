/* The SQLite driver's private types: what sqlite_conn.c, sqlite_stmt.c and
 * sqlite_target.c share.  Nothing outside src/driver/sqlite/ includes it
 * (the tests aside). */
#ifndef DBCONN_SQLITE_INT_H
#define DBCONN_SQLITE_INT_H

#include <sqlite3.h>
#include <stdatomic.h>

#include "driver/driver.h"
#include "util/error.h"

struct dbc_target {
    char *filename;         /* path or URI for sqlite3_open_v2; owned */
    int flags;              /* SQLITE_OPEN_* */
    bool memory;            /* memdb: the anchor keeps the database alive */
    /* memdb=false: a plain ":memory:" database, which is the anchor's own;
     * the pool's one connection uses the anchor's handle (connect never
     * opens another: it would be another, empty database). */
    bool plain_memory;
    atomic_bool anchor_lent; /* a dbc_conn uses the anchor's handle now */
    /* Open for the engine's life, for memdb (the database lives as long as
     * a connection does) and WAL files (so the WAL and its shared-memory
     * index stay open: when the last connection holding them closes, the
     * next one must rebuild the index from the whole WAL -- a recovery
     * that makes every other reader meet the busy handler).  NULL for
     * other journal modes. */
    sqlite3 *anchor;
    int busy_timeout_ms;
    const char *journal_mode; /* NULL = leave as is */
    const char *synchronous;  /* NULL = leave as is */
    bool foreign_keys;
    bool read_uncommitted;
    char *pragmas;          /* the pragma.NAME script run on every new
                               connection (sqlite_pragma.c); owned, NULL
                               for none */
    atomic_uint_fast64_t busy_calls;
    atomic_bool wal_done;   /* WAL is persistent: set it once, not per
                               connection (it needs a lock) */
};

struct dbc_conn {
    sqlite3 *db;
    dbc_target *target;
    bool nonblocking; /* an async job: SQLITE_BUSY at once, never sleep */
    bool borrowed;    /* db is the target's anchor (plain_memory): not ours
                         to close */
    sqlite3_stmt *ctl[DBC_CTL_COUNT]; /* BEGIN / COMMIT / ROLLBACK, prepared
                                          at first use */
    /* Stopping a run (dbc_driver.arm .. disarm): the progress handler
     * checks both.  `cancel` is set from any thread; the rest belongs to
     * the thread running the statement. */
    atomic_bool cancel;
    int64_t deadline_ns;   /* CLOCK_MONOTONIC; 0: no limit */
    int timeout_ms;        /* the limit armed, for the message */
    int stopped;           /* why the handler stopped it: DBC_SQ_STOP_* */
};

enum { DBC_SQ_STOP_NONE = 0, DBC_SQ_STOP_TIMEOUT, DBC_SQ_STOP_CANCEL };

#endif
