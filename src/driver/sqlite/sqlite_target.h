/* The SQLite driver's target (sqlite_target.c): URL and options -> the
 * filename and flags every connection opens, and the anchor connection. */
#ifndef DBCONN_SQLITE_TARGET_H
#define DBCONN_SQLITE_TARGET_H

#include "driver/sqlite/sqlite_int.h"

int dbc_sqlite_target_open(dbc_target **out, const dbconn_url *url,
                           const dbc_config *cfg, const dbc_qparam *q,
                           size_t nq);
void dbc_sqlite_target_close(dbc_target *t);

#endif
