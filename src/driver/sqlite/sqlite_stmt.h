/* The SQLite driver's statements (sqlite_stmt.c): the statement-level
 * hooks of the driver table (see driver/driver.h).  A dbc_stmt is the
 * sqlite3_stmt itself. */
#ifndef DBCONN_SQLITE_STMT_H
#define DBCONN_SQLITE_STMT_H

#include "driver/sqlite/sqlite_int.h"

int dbc_sqlite_prepare(dbc_conn *c, const char *sql, size_t len,
                       dbc_stmt **out);
void dbc_sqlite_finalize(dbc_stmt *s);
int dbc_sqlite_bind(dbc_stmt *s, const dbconn_value *p, size_t n);
int dbc_sqlite_step(dbc_stmt *s);
void dbc_sqlite_reset(dbc_stmt *s);
int dbc_sqlite_finish(dbc_stmt *s);
bool dbc_sqlite_readonly(dbc_stmt *s);
const char *dbc_sqlite_sql(dbc_stmt *s);
int dbc_sqlite_ncols(dbc_stmt *s);
unsigned dbc_sqlite_generation(dbc_stmt *s);
const char *dbc_sqlite_colname(dbc_stmt *s, int i);
bool dbc_sqlite_one_row(dbc_stmt *s);
int dbc_sqlite_row(dbc_stmt *s, size_t n, dbc_colval *out, dbc_arena *a,
                   size_t *need);

#endif
