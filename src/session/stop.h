/* Stopping a session's statement (stop.c): the part of a session that
 * dbconn_cancel reaches from any thread, and its statement timeout.
 *
 * A run: a statement (with what a row callback runs on the session), or a
 * batch of loop-driven statements in flight.  dbc_stop_start before it,
 * on the thread that runs it, on the connection c the session holds
 * (nested runs only count); dbc_stop_end after it.  Between the two a
 * cancel reaches c, never outside them. */
#ifndef DBCONN_STOP_H
#define DBCONN_STOP_H

#include <stdatomic.h>

#include "driver/driver.h"

typedef struct dbc_stop {
    /* The connection a statement of the session runs on, NULL between
     * runs: published for a cancel on any thread. */
    _Atomic(dbc_conn *) conn;
    atomic_int cancelling; /* cancels under way (a run's end waits) */
    int depth;             /* the owner's nesting of runs */
    atomic_int timeout;    /* ms; -1: the engine's */
    const dbc_driver *drv; /* immutable: a cancel reads nothing else */
} dbc_stop;

void dbc_stop_init(dbc_stop *st, const dbc_driver *drv);
/* engine_ms: the engine's statement_timeout.  0 or the failure of arming
 * (recorded). */
int dbc_stop_start(dbc_stop *st, dbc_conn *c, int engine_ms);
/* Before each further statement of a loop-driven batch: its timeout (or,
 * when no run is open, dbc_stop_start). */
int dbc_stop_next(dbc_stop *st, dbc_conn *c, int engine_ms);
/* rc of a statement of the run (< 0): the code that says it was stopped
 * by the timeout or a cancel, when it was. */
int dbc_stop_code(dbc_stop *st, dbc_conn *c, int rc);
/* Closes the run (the outermost: waits for a cancel under way, then the
 * driver forgets both).  No-op without an open run. */
void dbc_stop_end(dbc_stop *st, dbc_conn *c);
/* Closes every run still open (the connection is leaving the session). */
void dbc_stop_end_all(dbc_stop *st, dbc_conn *c);
/* Thread-safe: stops the statement of the open run, if any. */
void dbc_stop_cancel(dbc_stop *st);
/* The session's own timeout: ms as dbconn_session_set_statement_timeout
 * takes it; DBCONN_EINVAL (recorded) for other values. */
int dbc_stop_set_timeout(dbc_stop *st, int ms);

#endif
