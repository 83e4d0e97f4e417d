/* The SQLite driver's connections: opening and per-connection settings,
 * error mapping, the counting busy handler, and the connection-level hooks
 * of the driver table (transaction control, counts, interrupt). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "driver/sqlite/sqlite_conn.h"
#include "util/alloc.h"

/* ---- errors ------------------------------------------------------------ */

static int map_code(int rc) {
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return DBCONN_ECONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DBCONN_EBUSY;
    case SQLITE_NOMEM:
        return DBCONN_ENOMEM;
    case SQLITE_INTERRUPT:
        return DBCONN_ECANCELED;
    default:
        return DBCONN_EDB;
    }
}

int dbc_sqlite_fail(sqlite3 *db, int rc, const char *sql) {
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int code = map_code(rc);
    const char *hint = "";
    if (rc == SQLITE_BUSY_SNAPSHOT)
        hint = "; a read transaction cannot become a write transaction after "
               "another connection wrote: begin it with "
               "DBCONN_BEGIN_IMMEDIATE";
    else if (code == DBCONN_EBUSY)
        hint = " (locked past busy_timeout_ms)";
    if (sql) {
        int n = (int)strlen(sql);
        return dbc_fail_native(code, rc, "sqlite: %s [%s]%s in \"%.*s%s\"",
                               msg, sqlite3_errstr(rc), hint,
                               n > 200 ? 200 : n, sql, n > 200 ? "..." : "");
    }
    return dbc_fail_native(code, rc, "sqlite: %s [%s]%s", msg,
                           sqlite3_errstr(rc), hint);
}

/* ---- connections ------------------------------------------------------- */

/* Sleeps with SQLite's own back-off schedule until busy_timeout_ms; counts
 * every call so tests can prove in-process writers never get here. */
static int busy_handler(void *arg, int count) {
    static const int delays[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    static const int ndelays = (int)(sizeof delays / sizeof *delays);
    dbc_conn *c = arg;
    dbc_target *t = c->target;
    atomic_fetch_add(&t->busy_calls, 1);
    if (c->nonblocking)
        return 0; /* the async layer waits on its timer, not in a thread */
    int slept = 0;
    for (int i = 0; i < count; i++)
        slept += delays[i < ndelays ? i : ndelays - 1];
    int delay = delays[count < ndelays ? count : ndelays - 1];
    if (slept >= t->busy_timeout_ms)
        return 0;
    if (slept + delay > t->busy_timeout_ms)
        delay = t->busy_timeout_ms - slept;
    struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL); /* an early wake-up just retries sooner */
    return 1;
}

static int pragma(sqlite3 *db, const char *name, const char *value) {
    char sql[96];
    (void)snprintf(sql, sizeof sql, "PRAGMA %s=%s", name, value); /* fixed
                                                                   sets */
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : dbc_sqlite_fail(db, rc, sql);
}

int dbc_sqlite_setup(dbc_target *t, sqlite3 *db) {
    sqlite3_extended_result_codes(db, 1);
    /* A connection that believes it is the last one takes an EXCLUSIVE lock
     * to checkpoint and delete the WAL, and a connection opening meanwhile
     * meets the busy handler.  The target's anchor stays open, so no pooled
     * connection is the last; only the anchor's close, at the engine's,
     * checkpoints (dbc_sqlite_target_close). */
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    /* Values below come from fixed sets validated by options.c; nothing from
     * the user reaches SQL unvalidated. */
    int rc = pragma(db, "foreign_keys", t->foreign_keys ? "ON" : "OFF");
    bool wal = t->journal_mode && strcmp(t->journal_mode, "wal") == 0;
    if (!rc && t->journal_mode && !(wal && atomic_load(&t->wal_done))) {
        /* Switching to WAL takes a lock, so a connection opened while
         * another writes would meet the busy handler; WAL is a property of
         * the file, so the first connection (opened by dbconn_open) sets it
         * for all. */
        rc = pragma(db, "journal_mode", t->journal_mode);
        if (!rc && wal)
            atomic_store(&t->wal_done, true);
    }
    if (!rc && t->synchronous)
        rc = pragma(db, "synchronous", t->synchronous);
    if (!rc && t->read_uncommitted)
        rc = pragma(db, "read_uncommitted", "1");
    if (!rc && t->pragmas) { /* pragma.NAME: rendered by sqlite_pragma.c */
        int src = sqlite3_exec(db, t->pragmas, NULL, NULL, NULL);
        if (src != SQLITE_OK)
            rc = dbc_sqlite_fail(db, src, t->pragmas);
    }
    return rc;
}

int dbc_sqlite_open(dbc_target *t, sqlite3 **out) {
    int rc = sqlite3_open_v2(t->filename, out, t->flags, NULL);
    if (rc == SQLITE_OK)
        return 0;
    int code = *out ? dbc_sqlite_fail(*out, rc, NULL) : dbc_nomem();
    if (code != DBCONN_ENOMEM)
        dbc_fail_native(code, dbc_last_native(),
                        "cannot open sqlite database \"%s\": %s",
                        t->filename, sqlite3_errmsg(*out));
    sqlite3_close_v2(*out);
    *out = NULL;
    return code;
}

/* ---- stopping a run ----------------------------------------------------
 * A cancel or a deadline stops a statement through the progress handler
 * (every PROGRESS_OPS virtual-machine steps), not sqlite3_interrupt(): the
 * handler reads flags of this connection that arm() and disarm() reset,
 * so a request can neither outlive its run nor reach the next statement
 * (sqlite3_interrupt's flag would stay set on the handle until a
 * statement starts, and a prepare meanwhile would fail). */
enum { PROGRESS_OPS = 1000 };

static int64_t now_ns(void) {
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int progress(void *arg) {
    dbc_conn *c = arg;
    if (atomic_load_explicit(&c->cancel, memory_order_relaxed)) {
        c->stopped = DBC_SQ_STOP_CANCEL;
        return 1;
    }
    if (c->deadline_ns && now_ns() >= c->deadline_ns) {
        c->stopped = DBC_SQ_STOP_TIMEOUT;
        return 1;
    }
    return 0;
}

int dbc_sqlite_arm(dbc_conn *c, int timeout_ms, bool first) {
    if (first) {
        atomic_store_explicit(&c->cancel, false, memory_order_relaxed);
        c->stopped = DBC_SQ_STOP_NONE;
    }
    c->timeout_ms = timeout_ms;
    c->deadline_ns = timeout_ms > 0 ? now_ns() + (int64_t)timeout_ms * 1000000
                                    : 0;
    return 0;
}

void dbc_sqlite_cancel(dbc_conn *c) {
    atomic_store_explicit(&c->cancel, true, memory_order_relaxed);
}

int dbc_sqlite_stop_code(dbc_conn *c, int rc) {
    char msg[DBC_ERRMSG_MAX];
    if (c->stopped == DBC_SQ_STOP_NONE || rc != DBCONN_ECANCELED ||
        (dbc_last_native() & 0xff) != SQLITE_INTERRUPT)
        return rc;
    (void)snprintf(msg, sizeof msg, "%s", dbc_last_msg());
    if (c->stopped == DBC_SQ_STOP_TIMEOUT)
        return dbc_fail_native(DBCONN_ESTMTTIMEOUT, dbc_last_native(),
                               "statement_timeout: stopped after %d ms (%s)",
                               c->timeout_ms, msg);
    return dbc_fail_native(DBCONN_EINTERRUPTED, dbc_last_native(),
                           "stopped by dbconn_cancel (%s)", msg);
}

void dbc_sqlite_disarm(dbc_conn *c) {
    atomic_store_explicit(&c->cancel, false, memory_order_relaxed);
    c->deadline_ns = 0;
    c->stopped = DBC_SQ_STOP_NONE;
}

int dbc_sqlite_connect(dbc_target *t, dbc_conn **out) {
    *out = NULL;
    dbc_conn *c = dbc_calloc(1, sizeof *c);
    if (!c)
        return dbc_nomem();
    c->target = t;
    atomic_init(&c->cancel, false);
    if (t->plain_memory) {
        /* The database is the anchor's; one connection uses it at a time
         * (the pool holds one).  A previous connection not yet given back
         * to the target is refused rather than shared. */
        if (atomic_exchange(&t->anchor_lent, true)) {
            dbc_free(c);
            return dbc_fail(DBCONN_EBUSY,
                            "the in-memory database (memdb=false) is still "
                            "used by its previous connection");
        }
        c->db = t->anchor;
        c->borrowed = true;
        sqlite3_busy_handler(c->db, busy_handler, c);
        *out = c;
        return 0;
    }
    int rc = dbc_sqlite_open(t, &c->db);
    if (!rc) {
        sqlite3_busy_handler(c->db, busy_handler, c);
        sqlite3_progress_handler(c->db, PROGRESS_OPS, progress, c);
        rc = dbc_sqlite_setup(t, c->db);
    }
    if (rc) {
        sqlite3_close_v2(c->db);
        dbc_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void dbc_sqlite_disconnect(dbc_conn *c) {
    if (!c)
        return;
    for (int i = 0; i < DBC_CTL_COUNT; i++)
        sqlite3_finalize(c->ctl[i]);
    if (c->borrowed) {
        sqlite3_busy_timeout(c->db, c->target->busy_timeout_ms);
        atomic_store(&c->target->anchor_lent, false);
    } else {
        sqlite3_close_v2(c->db);
    }
    dbc_free(c);
}

int dbc_sqlite_ping(dbc_conn *c) {
    int rc = sqlite3_exec(c->db, "SELECT 1", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : dbc_sqlite_fail(c->db, rc, "SELECT 1");
}

void dbc_sqlite_interrupt(dbc_conn *c) { sqlite3_interrupt(c->db); }

void dbc_sqlite_set_nonblocking(dbc_conn *c, bool on) { c->nonblocking = on; }

/* Busy because another connection holds a lock: worth trying again later.
 * (A stale snapshot is not: the transaction must start over.) */
bool dbc_sqlite_retryable(int native) {
    return native != SQLITE_BUSY_SNAPSHOT &&
           ((native & 0xff) == SQLITE_BUSY || (native & 0xff) == SQLITE_LOCKED);
}

int dbc_sqlite_exec_script(dbc_conn *c, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &err);
    sqlite3_free(err); /* sqlite3_errmsg(db) still has it */
    return rc == SQLITE_OK ? 0 : dbc_sqlite_fail(c->db, rc, sql);
}

bool dbc_sqlite_in_transaction(dbc_conn *c) {
    return !sqlite3_get_autocommit(c->db);
}

int64_t dbc_sqlite_changes(dbc_conn *c) { return sqlite3_changes64(c->db); }

int64_t dbc_sqlite_total_changes(dbc_conn *c) {
    return sqlite3_total_changes64(c->db);
}

int64_t dbc_sqlite_last_insert_id(dbc_conn *c) {
    return sqlite3_last_insert_rowid(c->db);
}

const char *dbc_sqlite_begin_sql(int mode) {
    switch (mode) {
    case DBCONN_BEGIN_IMMEDIATE:
        return "BEGIN IMMEDIATE";
    case DBCONN_BEGIN_EXCLUSIVE:
        return "BEGIN EXCLUSIVE";
    default:
        return "BEGIN";
    }
}

int dbc_sqlite_control(dbc_conn *c, int what) {
    const char *sql = what == DBC_CTL_COMMIT     ? "COMMIT"
                      : what == DBC_CTL_ROLLBACK ? "ROLLBACK"
                                                 : dbc_sqlite_begin_sql(what);
    if (what < 0 || what >= DBC_CTL_COUNT)
        return dbc_fail(DBCONN_EINVAL, "unknown transaction control %d", what);
    if (what == DBC_CTL_AUTOCOMMIT)
        return 0; /* SQLite's own mode outside BEGIN */
    if (!c->ctl[what]) {
        int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->ctl[what], NULL);
        if (rc != SQLITE_OK)
            return dbc_sqlite_fail(c->db, rc, sql);
    }
    int rc = sqlite3_step(c->ctl[what]);
    sqlite3_reset(c->ctl[what]);
    return rc == SQLITE_DONE ? 0 : dbc_sqlite_fail(c->db, rc, sql);
}

uint64_t dbc_sqlite_busy_calls(const dbc_target *t) {
    return atomic_load(&((dbc_target *)t)->busy_calls);
}

