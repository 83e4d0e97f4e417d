/* The SQLite driver's connections (sqlite_conn.c): opening, settings, error
 * mapping and the connection-level hooks of the driver table (see
 * driver/driver.h for what each hook does). */
#ifndef DBCONN_SQLITE_CONN_H
#define DBCONN_SQLITE_CONN_H

#include "driver/sqlite/sqlite_int.h"

/* Maps a SQLite result code (with db's message) onto a DBCONN_E* code and
 * records the failure; `sql` (may be NULL) is named in the message. */
int dbc_sqlite_fail(sqlite3 *db, int rc, const char *sql);
/* Opens t's database (the SQLite handle only, no settings): 0 or a
 * failure naming the file; *out is NULL on failure. */
int dbc_sqlite_open(dbc_target *t, sqlite3 **out);
/* Applies the per-connection settings (pragmas; the busy handler is the
 * pooled connections' own, set by dbc_sqlite_connect). */
int dbc_sqlite_setup(dbc_target *t, sqlite3 *db);

int dbc_sqlite_connect(dbc_target *t, dbc_conn **out);
void dbc_sqlite_disconnect(dbc_conn *c);
int dbc_sqlite_ping(dbc_conn *c);
void dbc_sqlite_interrupt(dbc_conn *c);
int dbc_sqlite_arm(dbc_conn *c, int timeout_ms, bool first);
void dbc_sqlite_cancel(dbc_conn *c);
int dbc_sqlite_stop_code(dbc_conn *c, int rc);
void dbc_sqlite_disarm(dbc_conn *c);
void dbc_sqlite_set_nonblocking(dbc_conn *c, bool on);
bool dbc_sqlite_retryable(int native);
int dbc_sqlite_exec_script(dbc_conn *c, const char *sql);
bool dbc_sqlite_in_transaction(dbc_conn *c);
int64_t dbc_sqlite_changes(dbc_conn *c);
int64_t dbc_sqlite_total_changes(dbc_conn *c);
int64_t dbc_sqlite_last_insert_id(dbc_conn *c);
const char *dbc_sqlite_begin_sql(int mode);
int dbc_sqlite_control(dbc_conn *c, int what);
uint64_t dbc_sqlite_busy_calls(const dbc_target *t);

#endif
