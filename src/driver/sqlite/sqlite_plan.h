/* Does a compiled SQLite statement return at most one row?  (sqlite_plan.c
 * reads its program; see dbc_driver.one_row.) */
#ifndef DBCONN_SQLITE_PLAN_H
#define DBCONN_SQLITE_PLAN_H

#include <sqlite3.h>
#include <stdbool.h>

bool dbc_sqlite_proves_one_row(sqlite3_stmt *st);

#endif
