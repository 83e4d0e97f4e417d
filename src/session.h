/* Sessions: the unit of work (autobegin, exec, commit, rollback, release). */
#ifndef DBCONN_SESSION_H
#define DBCONN_SESSION_H

#include <stdbool.h>

#include "dbconn.h"
#include "error.h"
#include "pool.h"

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
    bool scoped;        /* owned by the registry */
    void *scope_key;    /* registry key when scoped */
    int begin_mode;     /* mode for the next autobegin (0 = engine's) */
    int native;         /* last failure's native code */
    char errmsg[DBC_ERRMSG_MAX];
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

/* The pieces the async layer drives directly (the caller holds s->pc or
 * wants it): each records a failure in s->errmsg. */
int dbc_session_fail(dbconn_session *s, int code); /* copies the thread msg */
int dbc_session_exec_held(dbconn_session *s, const char *sql,
                          const dbconn_value *params, size_t nparams,
                          dbconn_result **out);
int dbc_session_commit_held(dbconn_session *s);
int dbc_session_rollback_held(dbconn_session *s);

#endif
