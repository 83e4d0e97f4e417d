/* The SQLite driver's table: its dialect and the hooks of
 * sqlite_conn.c, sqlite_stmt.c and sqlite_target.c. */
#include "driver/sqlite/sqlite_conn.h"
#include "driver/sqlite/sqlite_driver.h"
#include "driver/sqlite/sqlite_stmt.h"
#include "driver/sqlite/sqlite_target.h"

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
    /* Unqualified names are created in "main"; its names ignore ASCII
     * case, quoted or not. */
    .table_exists_sql = "SELECT 1 FROM main.sqlite_master WHERE type = "
                        "'table' AND name = ? COLLATE NOCASE",
    .index_exists_sql = "SELECT 1 FROM main.sqlite_master WHERE type = "
                        "'index' AND name = ? COLLATE NOCASE",
    .index_taken_sql = NULL, /* CREATE INDEX fails on a table of the name */
};

static const char *const sqlite_aliases[] = {"aiosqlite", "pysqlite", NULL};

const dbc_driver dbc_driver_sqlite = {
    .name = "sqlite",
    .aliases = sqlite_aliases,
    .other_names = NULL,
    .serialize_writers = true,
    .cheap_read_end = true,
    /* BEGIN (OP_AutoCommit) only clears the connection's autocommit flag,
     * also while a read is active; the read's snapshot then stays with the
     * transaction instead of ending when the read is reset. */
    .lazy_begin = true,
    .insert_id_from_returning = false, /* sqlite3_last_insert_rowid */
    .dialect = &sqlite_dialect,
    .target_open = dbc_sqlite_target_open,
    .target_close = dbc_sqlite_target_close,
    .busy_calls = dbc_sqlite_busy_calls,
    .connect = dbc_sqlite_connect,
    .disconnect = dbc_sqlite_disconnect,
    .ping = dbc_sqlite_ping,
    .interrupt = dbc_sqlite_interrupt,
    .arm = dbc_sqlite_arm,
    .cancel = dbc_sqlite_cancel,
    .stop_code = dbc_sqlite_stop_code,
    .disarm = dbc_sqlite_disarm,
    .set_nonblocking = dbc_sqlite_set_nonblocking,
    .retryable = dbc_sqlite_retryable,
    .exec_script = dbc_sqlite_exec_script,
    .in_transaction = dbc_sqlite_in_transaction,
    .changes = dbc_sqlite_changes,
    .total_changes = dbc_sqlite_total_changes,
    .last_insert_id = dbc_sqlite_last_insert_id,
    .begin_sql = dbc_sqlite_begin_sql,
    .control = dbc_sqlite_control,
    .prepare = dbc_sqlite_prepare,
    .finalize = dbc_sqlite_finalize,
    .bind = dbc_sqlite_bind,
    .stream = NULL, /* sqlite3_step yields rows one at a time anyway */
    .step = dbc_sqlite_step,
    .reset = dbc_sqlite_reset,
    .finish = dbc_sqlite_finish,
    .readonly = dbc_sqlite_readonly,
    .sql = dbc_sqlite_sql,
    .ncols = dbc_sqlite_ncols,
    .generation = dbc_sqlite_generation,
    .colname = dbc_sqlite_colname,
    .one_row = dbc_sqlite_one_row,
    .row = dbc_sqlite_row,
};
