/* Sessions: the unit of work (autobegin, exec, commit, rollback, release). */
#ifndef DBCONN_SESSION_H
#define DBCONN_SESSION_H

#include <stdbool.h>

#include "dbconn.h"
#include "util/error.h"
#include "engine/pool.h"

typedef enum dbc_txstate {
    DBC_TX_IDLE = 0,  /* no connection held */
    DBC_TX_ACTIVE,    /* connection held, transaction open */
    DBC_TX_ABORTED    /* a statement failed: only rollback is accepted */
} dbc_txstate;

struct dbc_async_session; /* async.c */

struct dbconn_session {
    dbconn *db;         /* NULL once dbconn_close made the session closed */
    dbc_pconn *pc;      /* held from the first statement to the end of the tx */
    dbc_txstate tx;
    bool holds_gate;
    bool nonblocking;   /* async worker: the gate is tried, never waited for */
    bool scoped;        /* owned by the registry */
    void *scope_key;    /* registry key when scoped */
    int begin_mode;     /* mode for the next autobegin (0 = engine's) */
    int native;         /* last failure's native code */
    const char *errmsg; /* last failure's message: "" until the first one */
    char sqlstate[6];   /* last failure's SQLSTATE ("" = none) */
    int abort_native;   /* the failure that aborted the transaction */
    char abort_sqlstate[6];
    const char *abort_msg;
    char *msgs;         /* owned: both messages' buffers (DBC_ERRMSG_MAX
                           each), made at the first failure, so a session
                           that never fails stays small */
    dbconn_session *prev, *next;     /* db's list of live sessions */
    struct dbc_async_session *async; /* lazily made by the async layer */
};

/* Makes a session of db; scope_key NULL = factory-made (dbconn_session_open),
 * otherwise owned by the registry under that key. */
int dbc_session_new(dbconn *db, void *scope_key, dbconn_session **out);
/* Rolls back, returns the connection, unlinks from db and frees. */
void dbc_session_free(dbconn_session *s);
/* Rolls back and releases the connection; the session becomes closed
 * (s->db = NULL) but is not freed.  Used by dbconn_close. */
int dbc_session_detach(dbconn_session *s);

/* Returned (never to users) when a nonblocking session would have to wait
 * for the write gate: nothing was done, run it again once the gate is ours. */
#define DBC_WOULD_BLOCK 1
/* Returned (never to users) when a nonblocking session met a lock another
 * connection holds: nothing was done; run it again later (the async layer
 * retries on its timer until busy_timeout_ms). */
#define DBC_RETRY 2

/* The pieces the async layer drives directly (the caller holds s->pc or
 * wants it): each records a failure in s->errmsg. */
int dbc_session_fail(dbconn_session *s, int code); /* copies the thread msg */
/* Opens the transaction on the connection the session already holds. */
int dbc_session_begin_held(dbconn_session *s, int mode);
/* Usable for a synchronous call (open, not closing, no async work queued)?
 * Records the failure on the thread and the session. */
int dbc_session_check(dbconn_session *s, const char *what);
/* Records and returns DBCONN_EABORTED, quoting the failure that aborted. */
int dbc_session_aborted_error(dbconn_session *s, const char *what);
/* Marks the session aborted (a failure outside a transaction, in a pipeline):
 * later work gets DBCONN_EABORTED until a rollback. */
void dbc_session_abort(dbconn_session *s);
/* True while the async layer has work queued or running for s. */
bool dbc_async_session_busy(const dbconn_session *s);
/* key: what identifies sql in the statement cache's fast path (the
 * pointer the user passed, when sql is a copy of it); NULL = sql. */
int dbc_session_exec_held(dbconn_session *s, const void *key,
                          const char *sql, const dbconn_value *params,
                          size_t nparams, dbconn_result **out);
int dbc_session_commit_held(dbconn_session *s);
int dbc_session_rollback_held(dbconn_session *s);
/* Gives the connection back (discarded if asked) and the write gate up;
 * the transaction is over (no rollback: see dbc_session_rollback_held). */
void dbc_session_release(dbconn_session *s, bool discard);

#endif
