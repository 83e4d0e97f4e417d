/* The SQLite driver: connections, statements, error mapping, dialect. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"
#include "driver/sqlite/sqlite_int.h"

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

static int sq_connect(dbc_target *t, dbc_conn **out) {
    *out = NULL;
    dbc_conn *c = dbc_calloc(1, sizeof *c);
    if (!c)
        return dbc_nomem();
    c->target = t;
    int rc = dbc_sqlite_open(t, &c->db);
    if (!rc) {
        sqlite3_busy_handler(c->db, busy_handler, c);
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

static void sq_disconnect(dbc_conn *c) {
    if (!c)
        return;
    for (int i = 0; i < DBC_CTL_COUNT; i++)
        sqlite3_finalize(c->ctl[i]);
    sqlite3_close_v2(c->db);
    dbc_free(c);
}

static int sq_ping(dbc_conn *c) {
    int rc = sqlite3_exec(c->db, "SELECT 1", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : dbc_sqlite_fail(c->db, rc, "SELECT 1");
}

static void sq_interrupt(dbc_conn *c) { sqlite3_interrupt(c->db); }

static void sq_set_nonblocking(dbc_conn *c, bool on) { c->nonblocking = on; }

/* Busy because another connection holds a lock: worth trying again later.
 * (A stale snapshot is not: the transaction must start over.) */
static bool sq_retryable(int native) {
    return native != SQLITE_BUSY_SNAPSHOT &&
           ((native & 0xff) == SQLITE_BUSY || (native & 0xff) == SQLITE_LOCKED);
}

static int sq_exec_script(dbc_conn *c, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &err);
    sqlite3_free(err); /* sqlite3_errmsg(db) still has it */
    return rc == SQLITE_OK ? 0 : dbc_sqlite_fail(c->db, rc, sql);
}

static bool sq_in_transaction(dbc_conn *c) {
    return !sqlite3_get_autocommit(c->db);
}

static int64_t sq_changes(dbc_conn *c) { return sqlite3_changes64(c->db); }

static int64_t sq_total_changes(dbc_conn *c) {
    return sqlite3_total_changes64(c->db);
}

static int64_t sq_last_insert_id(dbc_conn *c) {
    return sqlite3_last_insert_rowid(c->db);
}

static const char *sq_begin_sql(int mode) {
    switch (mode) {
    case DBCONN_BEGIN_IMMEDIATE:
        return "BEGIN IMMEDIATE";
    case DBCONN_BEGIN_EXCLUSIVE:
        return "BEGIN EXCLUSIVE";
    default:
        return "BEGIN";
    }
}

static int sq_control(dbc_conn *c, int what) {
    const char *sql = what == DBC_CTL_COMMIT     ? "COMMIT"
                      : what == DBC_CTL_ROLLBACK ? "ROLLBACK"
                                                 : sq_begin_sql(what);
    if (what < 0 || what >= DBC_CTL_COUNT)
        return dbc_fail(DBCONN_EINVAL, "unknown transaction control %d", what);
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

static uint64_t sq_busy_calls(const dbc_target *t) {
    return atomic_load(&((dbc_target *)t)->busy_calls);
}

/* ---- statements -------------------------------------------------------- */

/* A dbc_stmt is the sqlite3_stmt itself: no wrapper, no allocation. */
#define ST(s) ((sqlite3_stmt *)(void *)(s))

/* True when `p` holds only whitespace, ';' and comments. */
static bool only_trivia(const char *p, const char *end) {
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
            *p == '\f' || *p == '\v' || *p == ';') {
            p++;
        } else if (p + 1 < end && p[0] == '-' && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
            const char *e = p + 2;
            while (e + 1 < end && !(e[0] == '*' && e[1] == '/'))
                e++;
            if (e + 1 >= end)
                return true; /* an unterminated comment runs to the end */
            p = e + 2;
        } else {
            return false;
        }
    }
    return true;
}

static int sq_prepare(dbc_conn *c, const char *sql, size_t len,
                      dbc_stmt **out) {
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    *out = NULL;
    if (len > INT_MAX)
        return dbc_fail(DBCONN_EINVAL, "SQL text is too long (%zu bytes)", len);
    int rc = sqlite3_prepare_v3(c->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT,
                                &st, &tail);
    if (rc != SQLITE_OK)
        return dbc_sqlite_fail(c->db, rc, sql);
    if (!st)
        return dbc_fail(DBCONN_EINVAL, "empty SQL statement: \"%.200s\"", sql);
    if (tail && !only_trivia(tail, sql + len)) {
        sqlite3_finalize(st);
        return dbc_fail(DBCONN_EINVAL,
                        "more than one SQL statement in \"%.200s\": "
                        "dbconn_exec runs one; use dbconn_exec_script",
                        sql);
    }
    *out = (dbc_stmt *)(void *)st;
    return 0;
}

static void sq_finalize(dbc_stmt *s) { sqlite3_finalize(ST(s)); }

static int sq_bind(dbc_stmt *s, const dbconn_value *p, size_t n) {
    sqlite3_stmt *st = ST(s);
    int want = sqlite3_bind_parameter_count(st);
    if ((size_t)want != n)
        return dbc_fail(DBCONN_EINVAL,
                        "statement expects %d parameter%s, %zu given: "
                        "\"%.200s\"",
                        want, want == 1 ? "" : "s", n, sqlite3_sql(st));
    for (size_t i = 0; i < n; i++) {
        int idx = (int)i + 1, rc;
        switch (p[i].type) {
        case DBCONN_TYPE_NULL:
            rc = sqlite3_bind_null(st, idx);
            break;
        case DBCONN_TYPE_INTEGER:
        case DBCONN_TYPE_BOOLEAN:
            rc = sqlite3_bind_int64(st, idx, p[i].u.i);
            break;
        case DBCONN_TYPE_REAL:
            rc = sqlite3_bind_double(st, idx, p[i].u.r);
            break;
        case DBCONN_TYPE_TEXT:
        case DBCONN_TYPE_TIMESTAMP:
            if (!p[i].u.b.ptr)
                rc = sqlite3_bind_null(st, idx);
            else
                rc = sqlite3_bind_text64(
                    st, idx, p[i].u.b.ptr,
                    p[i].u.b.len == DBCONN_NTS ? strlen(p[i].u.b.ptr)
                                               : p[i].u.b.len,
                    SQLITE_STATIC, SQLITE_UTF8);
            break;
        case DBCONN_TYPE_BLOB:
            if (!p[i].u.b.ptr && p[i].u.b.len == 0)
                rc = sqlite3_bind_zeroblob(st, idx, 0);
            else if (!p[i].u.b.ptr)
                return dbc_fail(DBCONN_EINVAL,
                                "parameter %zu: blob pointer is NULL", i + 1);
            else
                rc = sqlite3_bind_blob64(st, idx, p[i].u.b.ptr, p[i].u.b.len,
                                         SQLITE_STATIC);
            break;
        default:
            return dbc_fail(DBCONN_EINVAL, "parameter %zu: unknown type %d",
                            i + 1, p[i].type);
        }
        if (rc != SQLITE_OK)
            return dbc_sqlite_fail(sqlite3_db_handle(st), rc, sqlite3_sql(st));
    }
    return 0;
}

static int sq_step(dbc_stmt *s) {
    sqlite3_stmt *st = ST(s);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return DBC_STEP_ROW;
    if (rc == SQLITE_DONE)
        return DBC_STEP_DONE;
    return dbc_sqlite_fail(sqlite3_db_handle(st), rc, sqlite3_sql(st));
}

/* No sqlite3_clear_bindings(): see dbc_driver.reset. */
static void sq_reset(dbc_stmt *s) { (void)sqlite3_reset(ST(s)); }

/* After SQLITE_ROW, sqlite3_reset() reports only what halting the program
 * met. */
static int sq_finish(dbc_stmt *s) {
    sqlite3_stmt *st = ST(s);
    int rc = sqlite3_reset(st);
    return rc == SQLITE_OK ? 0
                           : dbc_sqlite_fail(sqlite3_db_handle(st), rc,
                                             sqlite3_sql(st));
}

static bool sq_readonly(dbc_stmt *s) { return sqlite3_stmt_readonly(ST(s)); }
static const char *sq_sql(dbc_stmt *s) { return sqlite3_sql(ST(s)); }
static int sq_ncols(dbc_stmt *s) { return sqlite3_column_count(ST(s)); }

static unsigned sq_generation(dbc_stmt *s) {
    return (unsigned)sqlite3_stmt_status(ST(s), SQLITE_STMTSTATUS_REPREPARE, 0);
}

static const char *sq_colname(dbc_stmt *s, int i) {
    return sqlite3_column_name(ST(s), i);
}

static bool sq_one_row(dbc_stmt *s) { return dbc_sqlite_one_row(ST(s)); }

/* The bytes the rest of a row takes in an arena, from column i on (when
 * the arena turned out too small). */
static size_t row_need(sqlite3_stmt *st, size_t i, size_t n) {
    size_t need = 0;
    for (; i < n; i++) {
        sqlite3_value *v = sqlite3_column_value(st, (int)i);
        int t = sqlite3_value_type(v);
        if (t == SQLITE_TEXT || t == SQLITE_BLOB)
            need += (size_t)sqlite3_value_bytes(v) + 1;
    }
    return need;
}

/* One sqlite3_column_value() and the value accessors per column: fewer
 * calls (and no per-call connection mutex checks) than column_type +
 * column_xxx; the bytes go straight into the arena. */
static int sq_row(dbc_stmt *s, size_t n, dbc_colval *out, dbc_arena *a,
                  size_t *need) {
    sqlite3_stmt *st = ST(s);
    size_t start = a->len;
    for (size_t i = 0; i < n; i++) {
        sqlite3_value *v = sqlite3_column_value(st, (int)i);
        dbc_colval *c = &out[i];
        const void *p;
        switch (sqlite3_value_type(v)) {
        case SQLITE_INTEGER:
            c->type = DBCONN_TYPE_INTEGER;
            c->u.i = sqlite3_value_int64(v);
            continue;
        case SQLITE_FLOAT:
            c->type = DBCONN_TYPE_REAL;
            c->u.r = sqlite3_value_double(v);
            continue;
        case SQLITE_TEXT:
            c->type = DBCONN_TYPE_TEXT;
            p = sqlite3_value_text(v);
            break;
        case SQLITE_BLOB:
            c->type = DBCONN_TYPE_BLOB;
            p = sqlite3_value_blob(v);
            break;
        default:
            c->type = DBCONN_TYPE_NULL;
            continue;
        }
        size_t len = (size_t)sqlite3_value_bytes(v);
        if (!p && len) {
            a->len = start;
            return dbc_nomem();
        }
        if (len >= a->cap - a->len) {
            *need = a->len - start + row_need(st, i, n);
            a->len = start;
            return DBC_ROW_FULL;
        }
        char *dst = a->bytes + a->len;
        if (len)
            memcpy(dst, p, len);
        dst[len] = '\0';
        c->u.o.off = a->len;
        c->u.o.len = len;
        a->len += len + 1;
    }
    return 0;
}

/* ---- dialect ----------------------------------------------------------- */

static const char *sq_type_name(int type) {
    switch (type) {
    case DBCONN_TYPE_INTEGER:
        return "INTEGER";
    case DBCONN_TYPE_REAL:
        return "REAL";
    case DBCONN_TYPE_TEXT:
        return "TEXT";
    case DBCONN_TYPE_BLOB:
        return "BLOB";
    case DBCONN_TYPE_BOOLEAN:
        return "BOOLEAN";
    case DBCONN_TYPE_TIMESTAMP:
        return "TIMESTAMP";
    default:
        return NULL;
    }
}

static const dbc_dialect sqlite_dialect = {
    .type_name = sq_type_name,
    .autoincrement_pk = "INTEGER PRIMARY KEY AUTOINCREMENT",
    .inline_integer_pk = true,
    .integer_pk = NULL,  /* INTEGER PRIMARY KEY: the rowid alias assigns */
    .default_sql = NULL, /* defaults are sqlite's own spelling */
};

static const char *const sqlite_aliases[] = {"aiosqlite", "pysqlite", NULL};

const dbc_driver dbc_driver_sqlite = {
    .name = "sqlite",
    .aliases = sqlite_aliases,
    .other_names = NULL,
    .serialize_writers = true,
    .insert_id_from_returning = false, /* sqlite3_last_insert_rowid */
    .dialect = &sqlite_dialect,
    .target_open = dbc_sqlite_target_open,
    .target_close = dbc_sqlite_target_close,
    .busy_calls = sq_busy_calls,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .ping = sq_ping,
    .interrupt = sq_interrupt,
    .set_nonblocking = sq_set_nonblocking,
    .retryable = sq_retryable,
    .exec_script = sq_exec_script,
    .in_transaction = sq_in_transaction,
    .changes = sq_changes,
    .total_changes = sq_total_changes,
    .last_insert_id = sq_last_insert_id,
    .begin_sql = sq_begin_sql,
    .control = sq_control,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .bind = sq_bind,
    .stream = NULL, /* sqlite3_step yields rows one at a time anyway */
    .step = sq_step,
    .reset = sq_reset,
    .finish = sq_finish,
    .readonly = sq_readonly,
    .sql = sq_sql,
    .ncols = sq_ncols,
    .generation = sq_generation,
    .colname = sq_colname,
    .one_row = sq_one_row,
    .row = sq_row,
};
