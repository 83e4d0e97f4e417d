/* The async layer: per-session FIFOs of operations run on libuv's thread pool
 * (or inline on the loop thread), callbacks delivered on the loop thread in
 * the task that submitted them.  Waiting for a pooled connection or for the
 * write gate never blocks a thread: the session is parked and resumed when
 * the resource is handed over. */
#ifndef DBCONN_ASYNC_H
#define DBCONN_ASYNC_H

#include <uv.h>

#include "model/ddl.h"
#include "engine/engine.h"
#include "session/session.h"

enum { DBC_OP_EXEC, DBC_OP_COMMIT, DBC_OP_ROLLBACK, DBC_OP_INITDB };

typedef struct dbc_op dbc_op;
struct dbc_op {
    dbc_op *next;
    int type;
    dbconn_exec_cb exec_cb; /* DBC_OP_EXEC */
    dbconn_done_cb done_cb; /* the others */
    void *data;
    void *task;             /* current task at submission */
    dbconn_session *s;      /* submitter; NULL once that session is freed */
    /* DBC_OP_EXEC: copies made at submission, in the op's allocation */
    const char *sql;
    const void *sql_key;    /* the caller's SQL pointer, never dereferenced:
                               the statement cache's fast-path key */
    dbconn_value *params;
    size_t nparams;
    /* DBC_OP_INITDB */
    dbc_ddl ddl;
    dbconn_base *base;
    dbconn *db;
    dbconn_session *own;    /* internal session, freed after the callback */
    /* outcome */
    int status;
    int native;
    dbconn_result *res;
    char *errmsg;           /* owned, on failure */
};

/* Submits op on s (the loop thread only); the op is owned by the layer from
 * here on and its callback runs exactly once.  Errors (no callback):
 * DBCONN_EINVAL wrong thread, DBCONN_ECLOSED, DBCONN_ENOMEM. */
int dbc_async_submit(dbconn_session *s, dbc_op *op);
void dbc_op_free(dbc_op *op);

/* dbc_session_free calls this first when s has async state: cancels s's
 * queued operations (DBCONN_ECANCELED) and returns 0 when s may be freed
 * now, or 1 when the layer frees it itself once its running work ends. */
int dbc_async_session_close(dbconn_session *s);
/* Frees the (idle) async state of a session being detached by close. */
void dbc_async_session_drop(dbconn_session *s);

/* dbconn_close when the dbconn has async state: cancels queued work and
 * finishes the teardown in later loop turns (cb, if any, when done). */
int dbc_async_close(dbconn *db, int first, dbconn_done_cb cb, void *data);
/* Async counters of dbconn_pool_stats (any thread). */
void dbc_async_stats(dbconn *db, dbconn_stats *st);
/* The dbconn's async state, made on first use (the loop thread only). */
int dbc_async_get(dbconn *db, struct dbc_async **out);

#endif
