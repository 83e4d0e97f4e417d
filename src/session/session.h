/* Sessions: the unit of work (autobegin, exec, commit, rollback, release). */
#ifndef DBCONN_SESSION_H
#define DBCONN_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>

#include "dbconn.h"
#include "util/error.h"
#include "util/list.h"
#include "engine/pool.h"
#include "session/stop.h"

typedef enum dbc_txstate {
    DBC_TX_IDLE = 0,  /* no connection held */
    DBC_TX_ACTIVE,    /* connection held, transaction open */
    DBC_TX_ABORTED    /* a statement failed: only rollback is accepted */
} dbc_txstate;

/* What the async layer installs on a session it gives async state (the
 * session layer calls these, never names the async layer). */
typedef struct dbc_session_hooks {
    /* True while work is queued or running for s. */
    bool (*busy)(const dbconn_session *s);
    /* s is being freed: 0 = free it now; 1 = the async layer frees it
     * itself once its running work has ended. */
    int (*closing)(dbconn_session *s);
    /* s is being detached by dbconn_close: its (idle) state goes. */
    void (*detach)(dbconn_session *s);
    /* s gave its connection back to the pool (NULL: nothing to do); on
     * the thread that did, which is a worker when s->nonblocking. */
    void (*released)(dbconn_session *s);
} dbc_session_hooks;

struct dbconn_session {
    dbconn *db;         /* NULL once dbconn_close made the session closed */
    dbc_pconn *pc;      /* held from the first statement to the end of the tx */
    dbc_txstate tx;
    bool holds_gate;
    bool wrote;         /* the transaction ran a statement that writes */
    bool auto_tx;       /* isolation_level AUTOCOMMIT: no BEGIN was sent,
                           the statement running is the transaction */
    bool nonblocking;   /* async worker: the gate is tried, never waited for */
    /* Autobegun without BEGIN (dbc_driver.lazy_begin): the transaction's
     * first statement, a read, runs in the connection's own autocommit
     * mode; BEGIN follows (dbc_session_settle) before anything else runs,
     * while that read still holds its snapshot -- or never, when the
     * transaction ends after it. */
    bool lazy;
    /* While lazy: that first read, stopped at its row and not reset (so
     * its snapshot is still held), and its cache entry. */
    dbc_stmt *held;
    dbc_centry *held_entry;
    /* Loop-driven statements (session_io.c): a COMMIT or ROLLBACK was
     * received, the connection goes back (discarded when io_discard) once
     * nothing is in flight. */
    bool io_end, io_discard;
    /* The abort came at a sending: what was sent before it completes on
     * its own outcome, not as aborted (until the batch settles). */
    bool io_abort_sent;
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
    /* dbconn_exec_each calls running on s (they nest): the connection and
     * a statement are in use, so nothing may end the transaction or give
     * the connection back until the outermost one returns.  Atomic: a
     * close from another thread reads it. */
    atomic_int iterating;
    atomic_bool close_pending; /* closed while iterating: freed when the
                                  outermost iteration returns */
    dbc_list link;             /* db's list of live sessions */
    /* What dbconn_session_close does instead of freeing: set by the
     * session's owner (the scoped registry removes its entry). */
    void (*close_hook)(dbconn_session *s);
    dbc_stop stop;      /* dbconn_cancel's reach and the timeout (stop.h) */
    /* The async layer's state and hooks; NULL until its first call. */
    struct dbc_async_session *async;
    const dbc_session_hooks *hooks;
};

/* Makes a session of db; scope_key NULL = factory-made (dbconn_session_open),
 * otherwise owned by the registry under that key. */
int dbc_session_new(dbconn *db, void *scope_key, dbconn_session **out);
/* Rolls back, returns the connection, unlinks from db and frees.  (Freed
 * later, by whoever holds it, when it iterates or has async work.) */
void dbc_session_free(dbconn_session *s);
/* Rolls back and releases the connection; the session becomes closed
 * (s->db = NULL) but is not freed. */
int dbc_session_detach(dbconn_session *s);
/* dbconn_close's part: detaches every session of db still linked (those
 * the registry held are gone by then); the first rollback error or 0. */
int dbc_session_detach_all(dbconn *db);

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
/* Opens the transaction on the connection the session already holds.
 * mode 0 (autobegin): the session's or the engine's begin mode -- and when
 * that is deferred and `first_sql` (the statement the transaction is for;
 * NULL: unknown) writes, IMMEDIATE; with isolation_level AUTOCOMMIT no
 * BEGIN at all (the statement is its own transaction). */
int dbc_session_begin_held(dbconn_session *s, int mode, const char *first_sql);
/* A lazily begun transaction (s->lazy) sends its BEGIN now, while the
 * read it began with still holds its snapshot, and that read's statement
 * goes back to the cache: 0, or a failure (recorded on the thread only).
 * Call it before anything but a read that stops at its row runs on the
 * connection. */
int dbc_session_settle(dbconn_session *s);
/* Usable for a synchronous call (open, not closing, no async work queued)?
 * Records the failure on the thread and the session. */
int dbc_session_check(dbconn_session *s, const char *what);
/* Records and returns DBCONN_EABORTED, quoting the failure that aborted. */
int dbc_session_aborted_error(dbconn_session *s, const char *what);
/* Marks the session aborted (a failure outside a transaction, in a pipeline):
 * later work gets DBCONN_EABORTED until a rollback. */
void dbc_session_abort(dbconn_session *s);
/* key: what identifies sql in the statement cache's fast path (the
 * pointer the user passed, when sql is a copy of it); NULL = sql.  An
 * aborted session gets DBCONN_EABORTED (what = the call's name). */
int dbc_session_exec_held(dbconn_session *s, const void *key,
                          const char *sql, const dbconn_value *params,
                          size_t nparams, dbconn_result **out,
                          const char *what);
/* One statement between its two halves (session.c): the lookup and
 * binding, then -- after the first step, or after the driver received its
 * result (session_io.c) -- the rows. */
typedef struct dbc_run {
    dbc_stmt *st;
    struct dbc_centry *entry; /* its cache slot (NULL: not cached) */
    int hit;                  /* from the cache */
    bool writes, echo_rows;
    bool check_tx;            /* after the rows: the transaction may have
                                 ended (ask the connection) */
    int64_t total;            /* the connection's change count before */
} dbc_run;
/* The first half: statement, write gate, binding, echo.  0, or a failure
 * (not recorded; the statement is back in the cache). */
int dbc_session_run_bind(dbconn_session *s, const void *key, const char *sql,
                         const dbconn_value *params, size_t nparams,
                         dbc_run *rs);
/* The statement for sql again, as run_bind found it but neither bound nor
 * echoed (the loop-driven path, whose outcome arrived after the sending):
 * 0 or a failure (not recorded). */
int dbc_session_run_take(dbconn_session *s, const void *key, const char *sql,
                         dbc_run *rs);
/* The second half, from `first` (the first step's outcome): the rows into
 * *out (when out), the counts; the statement goes back to the cache.  0 or
 * a failure (not recorded). */
int dbc_session_run_rows(dbconn_session *s, dbc_run *rs, int first,
                         dbconn_result **out);

/* ---- loop-driven statements (session_io.c; the driver's io entries) ---
 * s holds a connection in the driver's io mode; outcomes are received in
 * the order things were sent.  Every failure is recorded on s. */
/* Sends an exec (opening the transaction first when none is: its BEGIN
 * goes out with it).  0 when sent; else the failure, nothing sent (an
 * aborted session: DBCONN_EABORTED; others abort s). */
int dbc_session_io_send(dbconn_session *s, const char *sql,
                        const dbconn_value *params, size_t nparams,
                        const char *what);
/* The outcome of the oldest exec sent, as dbconn_exec gives it: 0 with
 * *out (when out), or the failure (s is aborted; after an earlier failure
 * the outcome is discarded: DBCONN_EABORTED). */
int dbc_session_io_recv(dbconn_session *s, const char *sql,
                        dbconn_result **out, const char *what);
/* Sends COMMIT (commit) or ROLLBACK: *sent and 0; or, with nothing to
 * send, the outcome now (*sent false): the rules of
 * dbc_session_commit_tx / dbc_session_rollback_tx. */
int dbc_session_io_send_end(dbconn_session *s, bool commit, bool *sent,
                            const char *what);
/* The outcome of the COMMIT or ROLLBACK sent. */
int dbc_session_io_recv_end(dbconn_session *s, bool commit);
/* Nothing is in flight any more and the driver left its io mode: the
 * connection goes back when the transaction ended. */
/* `keep_idle`: a connection that would go back to the pool (nothing of a
 * transaction on it) stays the session's and true is returned: the caller
 * gives it back with dbc_session_io_release once no statement followed
 * (an awaited chain of autocommit statements keeps its connection). */
bool dbc_session_io_settle(dbconn_session *s, bool keep_idle);
/* Gives back a connection dbc_session_io_settle kept, unless a statement
 * since began a transaction on it (or it is gone already). */
void dbc_session_io_release(dbconn_session *s);

/* The transaction rules of every commit and rollback, sync and async:
 * commit: 0 without a transaction (nothing to do), DBCONN_EABORTED
 * (recorded) when aborted, else commits the transaction s holds (its
 * connection goes back) -- DBC_RETRY for a nonblocking session that met a
 * lock;  rollback: 0 without a transaction, resets an aborted session
 * that holds no connection, else rolls back and gives the connection
 * back.  Neither needs a connection unless s holds one. */
int dbc_session_commit_tx(dbconn_session *s, const char *what);
int dbc_session_rollback_tx(dbconn_session *s);
/* True when ending s's transaction cannot wait: it holds a connection, it
 * has not written, and the driver says ending a read never waits. */
bool dbc_session_cheap_end(const dbconn_session *s);
/* Gives the connection back (discarded if asked) and the write gate up;
 * the transaction is over (no rollback: see dbc_session_rollback_tx). */
void dbc_session_release(dbconn_session *s, bool discard);

#endif
