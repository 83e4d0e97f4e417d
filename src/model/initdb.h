/* dbconn_init_db's steps (initdb.c), shared with dbconn_init_db_async
 * (initdb_async.c). */
#ifndef DBCONN_INITDB_H
#define DBCONN_INITDB_H

#include "engine/engine.h"
#include "model/ddl.h"

/* Checks the binding (bound to another dbconn: DBCONN_EINVAL naming both
 * URLs, before anything touches db), snapshots b's models and renders their
 * DDL for db's dialect.  On failure *out is empty. */
int dbc_initdb_plan(dbconn *db, dbconn_base *b, dbc_ddl *out);
/* Runs every statement of `ddl` in the transaction s holds and commits it:
 * 0; DBC_RETRY (rolled back: run it all again later) when a nonblocking
 * session met another connection's lock; or a failure, rolled back,
 * recorded on the thread and on s, naming the table and the SQL. */
int dbc_initdb_run_held(dbconn_session *s, const dbc_ddl *ddl);
/* Records the failure of statement st (its session's rc, native code and
 * message, copied before the rollback) as the thread's message, naming the
 * table (and index) and the SQL; returns rc.  Then bind with
 * dbc_base_bind() after a successful commit. */
int dbc_initdb_stmt_failed(const dbc_ddl_stmt *st, int rc, int native,
                           const char *msg);

#endif
